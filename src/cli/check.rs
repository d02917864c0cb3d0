//! `logferry check`: validate the config, then ask each database source
//! whether it is ready (settings, grants, keys) and check the rules.

use super::{grants, open_source, rules, CliError};
use crate::config::{Config, SourceConfig, TargetConfig};
use std::path::PathBuf;

/// Validates the config, then asks each database source whether it is
/// ready (settings, grants, keys). Exit 1 when a source is not.
pub(super) async fn check(path: PathBuf) -> Result<(), CliError> {
    let cfg = Config::load(&path)?;
    println!("{}: OK", cfg.path.display());
    println!("state_dir: {}", cfg.state_dir.display());
    let mut not_ready = Vec::new();
    let mut rule_errors = Vec::new();
    for p in &cfg.pipelines {
        let targets: Vec<String> = p
            .targets
            .iter()
            .map(|t| match t {
                TargetConfig::File(f) => format!("file {} ({:?})", f.path.display(), f.format),
                TargetConfig::Stdout(_) => "stdout".to_string(),
                TargetConfig::Postgres(t) => format!("postgres {}", t.url),
                TargetConfig::Mysql(t) => format!("mysql {}", t.url),
                TargetConfig::Mongodb(t) => format!("mongodb {}", t.url),
                TargetConfig::Kafka(t) => format!("kafka {} ({})", t.brokers, t.topic),
                TargetConfig::Nats(t) => format!("nats {} ({}, stream {})", t.url, t.subject, t.stream),
                TargetConfig::Http(t) => format!("http {}", t.url),
            })
            .collect();
        println!(
            "pipeline {}: source {} -> {}; {} lane(s), batches of up to {} rows, {:?} ordering",
            p.name,
            p.source.kind(),
            targets.join(", "),
            p.apply.lanes,
            p.apply.batch_max_rows,
            p.apply.ordering
        );
        let source_grants = grants::source(&p.source);
        if !source_grants.is_empty() {
            println!("  least the source user needs:");
            for line in source_grants {
                println!("    {line}");
            }
        }
        for (i, t) in p.targets.iter().enumerate() {
            let target_grants = grants::target(t);
            if !target_grants.is_empty() {
                println!("  least target[{i}]'s user needs:");
                for line in target_grants {
                    println!("    {line}");
                }
            }
        }
        let verdict = match &p.source {
            SourceConfig::Postgres(pg) => Some(crate::sources::postgres::check(pg).await),
            SourceConfig::Mysql(my) => Some(crate::sources::mysql::check(my).await),
            SourceConfig::Mongodb(m) => Some(crate::sources::mongodb::check(m).await),
            other => {
                if let Err(e) = open_source(other) {
                    println!("  warning: {e}");
                }
                None
            }
        };
        match verdict {
            Some(Ok(summary)) => println!("  {summary}"),
            Some(Err(problems)) => {
                println!("  NOT READY:");
                for line in problems.lines() {
                    println!("    {line}");
                }
                not_ready.push(p.name.clone());
            }
            None => {}
        }
        let stage = match rules::stage(&cfg, p) {
            Ok(stage) => stage,
            Err(e) => {
                rule_errors.push(e.to_string());
                continue;
            }
        };
        if let Some(stage) = stage {
            match rules::check_source(&cfg, p, &stage).await {
                Ok(rules::Checked::Fits(n)) => println!(
                    "  rules: {} [[pipeline.table]] rule(s) checked against the source's {n} table(s): OK",
                    p.transform.tables.len()
                ),
                Ok(rules::Checked::NoCatalog) => println!(
                    "  rules: {} [[pipeline.table]] rule(s); not checked against the source (MongoDB collections and Kafka topics have no fixed columns)",
                    p.transform.tables.len()
                ),
                Ok(rules::Checked::Unreachable(_)) => {
                    println!("  rules: not checked against the source, which could not be read (see above)")
                }
                Err(e) => rule_errors.push(e.to_string()),
            }
            let hints = rules::identity_hints(p, &stage).await;
            if !hints.is_empty() {
                println!("  suggested for the filters:");
                for h in hints {
                    println!("    {h}");
                }
            }
        }
    }
    if !rule_errors.is_empty() {
        return Err(CliError::Rules(rule_errors.join("\n")));
    }
    if !not_ready.is_empty() {
        return Err(CliError::NotReady(format!(
            "pipeline(s) {} cannot start; fix what is listed above and run `logferry check` again",
            not_ready.join(", ")
        )));
    }
    Ok(())
}

