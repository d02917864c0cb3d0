//! `logferry check`: validate the config, then ask each database source
//! whether it is ready (settings, grants, keys, its slot) and check the
//! rules. The findings are gathered into one [`Report`], printed as text or
//! (`--json`) as one JSON document on stdout; the exit code is the same
//! either way: 2 for a bad config or bad rules, 1 when a pipeline cannot
//! start, else 0.

use super::{grants, open_source, rules, CliError};
use crate::config::{Config, Ordering, PipelineConfig, SourceConfig, TargetConfig};
use serde::Serialize;
use std::path::PathBuf;

/// Everything `check` found.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The config file.
    pub config: String,
    /// The state dir it names.
    pub state_dir: String,
    /// No pipeline has a blocker and the rules are valid.
    pub ok: bool,
    /// One entry per pipeline, in file order.
    pub pipelines: Vec<PipelineReport>,
    /// `[[pipeline.table]]` rules that cannot work (exit 2).
    pub rule_errors: Vec<String>,
}

/// One pipeline's findings.
#[derive(Debug, Serialize)]
pub struct PipelineReport {
    /// Its name.
    pub name: String,
    /// The source's kind and the least its user needs.
    pub source: SourceReport,
    /// Each target: kind, description (passwords masked), least grants.
    pub targets: Vec<TargetReport>,
    /// How it applies.
    pub apply: ApplyReport,
    /// Whether the source is ready.
    pub readiness: Readiness,
    /// The `[[pipeline.table]]` rules' verdict (`None`: there are none).
    pub rules: Option<RulesVerdict>,
    /// Statements that make the filters see what they read (PostgreSQL).
    pub filter_suggestions: Vec<String>,
}

/// The source of a pipeline.
#[derive(Debug, Serialize)]
pub struct SourceReport {
    /// `postgres`, `mysql`, …
    pub kind: &'static str,
    /// The least its user needs, as statements.
    pub grants: Vec<String>,
}

/// A target of a pipeline.
#[derive(Debug, Serialize)]
pub struct TargetReport {
    /// `postgres`, `file`, …
    pub kind: &'static str,
    /// What the text output says of it (URLs with the password masked).
    pub summary: String,
    /// The least its user needs, as statements.
    pub grants: Vec<String>,
}

/// The apply settings.
#[derive(Debug, Serialize)]
pub struct ApplyReport {
    /// Parallel lanes.
    pub lanes: usize,
    /// Rows per batch at most.
    pub batch_max_rows: usize,
    /// `key` or `transaction`.
    pub ordering: &'static str,
}

/// Whether a source can start.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Readiness {
    /// It can; what it will replicate.
    Ready {
        /// The source's own summary (tables, slot).
        summary: String,
    },
    /// It cannot: a blocker (exit 1).
    NotReady {
        /// The source's name (`postgres:host:port/db`).
        source: String,
        /// Every problem, each with its fix.
        problems: Vec<Problem>,
        /// The problems as the text output prints them.
        #[serde(skip)]
        text: String,
    },
    /// Not a database source: nothing to ask.
    NotChecked {
        /// Why it could not even be built, if so.
        warning: Option<String>,
    },
}

/// One thing that stops a source, and what fixes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// What is wrong.
    pub problem: String,
    /// What to do (`None`: the message names no fix).
    pub fix: Option<String>,
}

/// The `[[pipeline.table]]` rules' verdict.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RulesVerdict {
    /// Checked against the source's tables: they fit.
    Ok {
        /// How many rules.
        rules: usize,
        /// How many source tables they were checked against.
        tables: usize,
    },
    /// Not checked: the source has no fixed columns (MongoDB, Kafka).
    NoCatalog {
        /// How many rules.
        rules: usize,
    },
    /// Not checked: the source could not be read (see readiness).
    Unreachable {
        /// How many rules.
        rules: usize,
    },
    /// The rules cannot work (also in [`Report::rule_errors`]).
    Invalid {
        /// One line each.
        errors: Vec<String>,
    },
}

/// Validates the config, then asks each database source whether it is
/// ready. Exit 1 when a source is not, 2 when the config or rules are bad.
pub(super) async fn check(path: PathBuf, json: bool) -> Result<(), CliError> {
    let cfg = match Config::load(&path) {
        Ok(cfg) => cfg,
        Err(e) => {
            if json {
                let doc = serde_json::json!({ "config": path.display().to_string(), "ok": false, "error": crate::ErrorChain(&e).to_string() });
                println!("{doc:#}");
            }
            return Err(e.into());
        }
    };
    let report = gather(&cfg).await;
    if json {
        println!("{}", serde_json::to_string_pretty(&report).expect("a report serializes"));
    } else {
        print_text(&report);
    }
    if !report.rule_errors.is_empty() {
        return Err(CliError::Rules(report.rule_errors.join("\n")));
    }
    let not_ready: Vec<&str> =
        report.pipelines.iter().filter(|p| matches!(p.readiness, Readiness::NotReady { .. })).map(|p| p.name.as_str()).collect();
    if !not_ready.is_empty() {
        return Err(CliError::NotReady(format!(
            "pipeline(s) {} cannot start; fix what is listed above and run `logferry check` again",
            not_ready.join(", ")
        )));
    }
    Ok(())
}

/// Asks every source and checks every pipeline's rules.
pub async fn gather(cfg: &Config) -> Report {
    let mut pipelines = Vec::new();
    let mut rule_errors = Vec::new();
    for p in &cfg.pipelines {
        pipelines.push(pipeline(cfg, p, &mut rule_errors).await);
    }
    let ok = rule_errors.is_empty() && !pipelines.iter().any(|p| matches!(p.readiness, Readiness::NotReady { .. }));
    Report { config: cfg.path.display().to_string(), state_dir: cfg.state_dir.display().to_string(), ok, pipelines, rule_errors }
}

async fn pipeline(cfg: &Config, p: &PipelineConfig, rule_errors: &mut Vec<String>) -> PipelineReport {
    let targets = p.targets.iter().map(|t| TargetReport { kind: target_kind(t), summary: describe(t), grants: grants::target(t) }).collect();
    let verdict = match &p.source {
        SourceConfig::Postgres(pg) => Some(crate::sources::postgres::check(pg).await),
        SourceConfig::Mysql(my) => Some(crate::sources::mysql::check(my).await),
        SourceConfig::Mongodb(m) => Some(crate::sources::mongodb::check(m).await),
        _ => None,
    };
    let readiness = match verdict {
        Some(Ok(summary)) => Readiness::Ready { summary },
        Some(Err(e)) => {
            let source = match &e {
                crate::sources::SourceError::Transient { source_name, .. } | crate::sources::SourceError::Definite { source_name, .. } => {
                    source_name.clone()
                }
                crate::sources::SourceError::Closed(_) => String::new(),
            };
            Readiness::NotReady { source, problems: e.detail().lines().map(split_fix).collect(), text: crate::ErrorChain(&e).to_string() }
        }
        None => Readiness::NotChecked { warning: open_source(&p.source).err().map(|e| e.to_string()) },
    };
    let mut report = PipelineReport {
        name: p.name.clone(),
        source: SourceReport { kind: p.source.kind(), grants: grants::source(&p.source) },
        targets,
        apply: ApplyReport {
            lanes: p.apply.lanes,
            batch_max_rows: p.apply.batch_max_rows,
            ordering: match p.apply.ordering {
                Ordering::Key => "key",
                Ordering::Transaction => "transaction",
            },
        },
        readiness,
        rules: None,
        filter_suggestions: Vec::new(),
    };
    let stage = match rules::stage(cfg, p) {
        Ok(stage) => stage,
        Err(e) => {
            let errors: Vec<String> = e.to_string().lines().map(str::to_string).collect();
            rule_errors.extend(errors.iter().cloned());
            report.rules = Some(RulesVerdict::Invalid { errors });
            return report;
        }
    };
    if let Some(stage) = stage {
        let n = p.transform.tables.len();
        report.rules = Some(match rules::check_source(cfg, p, &stage).await {
            Ok(rules::Checked::Fits(tables)) => RulesVerdict::Ok { rules: n, tables },
            Ok(rules::Checked::NoCatalog) => RulesVerdict::NoCatalog { rules: n },
            Ok(rules::Checked::Unreachable(_)) => RulesVerdict::Unreachable { rules: n },
            Err(e) => {
                let errors: Vec<String> = e.to_string().lines().map(str::to_string).collect();
                rule_errors.extend(errors.iter().cloned());
                RulesVerdict::Invalid { errors }
            }
        });
        report.filter_suggestions = rules::identity_hints(p, &stage).await;
    }
    report
}

fn target_kind(t: &TargetConfig) -> &'static str {
    match t {
        TargetConfig::File(_) => "file",
        TargetConfig::Stdout(_) => "stdout",
        TargetConfig::Discard => "discard",
        TargetConfig::Postgres(_) => "postgres",
        TargetConfig::Mysql(_) => "mysql",
        TargetConfig::Mongodb(_) => "mongodb",
        TargetConfig::Kafka(_) => "kafka",
        TargetConfig::Nats(_) => "nats",
        TargetConfig::Http(_) => "http",
    }
}

/// A target as the text output names it; URLs print with the password
/// masked (`SecretUrl`'s Display).
fn describe(t: &TargetConfig) -> String {
    match t {
        TargetConfig::File(f) => format!("file {} ({:?})", f.path.display(), f.format),
        TargetConfig::Stdout(_) => "stdout".to_string(),
        TargetConfig::Discard => "discard".to_string(),
        TargetConfig::Postgres(t) => format!("postgres {}", t.url),
        TargetConfig::Mysql(t) => format!("mysql {}", t.url),
        TargetConfig::Mongodb(t) => format!("mongodb {}", t.url),
        TargetConfig::Kafka(t) => format!("kafka {} ({})", t.brokers, t.topic),
        TargetConfig::Nats(t) => format!("nats {} ({}, stream {})", t.url, t.subject, t.stream),
        TargetConfig::Http(t) => format!("http {}", t.url),
    }
}

/// Words a fix starts with, after the `: ` or `; ` that ends the problem.
const FIX_VERBS: &[&str] = &[
    "run", "add", "start", "stop", "check", "write", "drop", "set", "grant", "use", "leave", "remove", "create", "alter", "give",
    "restart", "reset", "fix", "enable", "raise", "put", "chmod", "install", "turn", "let", "connect", "upgrade", "make", "rename",
];

/// Splits a preflight problem line into what is wrong and what fixes it.
/// The sources write each line as `<problem>: <fix>` or `<problem>; <fix>`
/// with the fix an imperative (`run ALTER …`, `SET GLOBAL …`, `add one …`);
/// the first such separator ends the problem.
pub fn split_fix(line: &str) -> Problem {
    let bytes = line.as_bytes();
    for i in 0..bytes.len().saturating_sub(1) {
        if (bytes[i] == b':' || bytes[i] == b';') && bytes[i + 1] == b' ' {
            let rest = &line[i + 2..];
            let word: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect::<String>().to_lowercase();
            if FIX_VERBS.contains(&word.as_str()) {
                return Problem { problem: line[..i].to_string(), fix: Some(rest.to_string()) };
            }
        }
    }
    Problem { problem: line.to_string(), fix: None }
}

/// The text output.
fn print_text(r: &Report) {
    println!("{}: OK", r.config);
    println!("state_dir: {}", r.state_dir);
    for p in &r.pipelines {
        println!(
            "pipeline {}: source {} -> {}; {} lane(s), batches of up to {} rows, {} ordering",
            p.name,
            p.source.kind,
            p.targets.iter().map(|t| t.summary.as_str()).collect::<Vec<_>>().join(", "),
            p.apply.lanes,
            p.apply.batch_max_rows,
            if p.apply.ordering == "key" { "Key" } else { "Transaction" }
        );
        if !p.source.grants.is_empty() {
            println!("  least the source user needs:");
            for line in &p.source.grants {
                println!("    {line}");
            }
        }
        for (i, t) in p.targets.iter().enumerate() {
            if !t.grants.is_empty() {
                println!("  least target[{i}]'s user needs:");
                for line in &t.grants {
                    println!("    {line}");
                }
            }
        }
        match &p.readiness {
            Readiness::Ready { summary } => println!("  {summary}"),
            Readiness::NotReady { text, .. } => {
                println!("  NOT READY:");
                for line in text.lines() {
                    println!("    {line}");
                }
            }
            Readiness::NotChecked { warning: Some(w) } => println!("  warning: {w}"),
            Readiness::NotChecked { warning: None } => {}
        }
        match &p.rules {
            None | Some(RulesVerdict::Invalid { .. }) => {}
            Some(RulesVerdict::Ok { rules, tables }) => {
                println!("  rules: {rules} [[pipeline.table]] rule(s) checked against the source's {tables} table(s): OK")
            }
            Some(RulesVerdict::NoCatalog { rules }) => println!(
                "  rules: {rules} [[pipeline.table]] rule(s); not checked against the source (MongoDB collections and Kafka topics have no fixed columns)"
            ),
            Some(RulesVerdict::Unreachable { .. }) => {
                println!("  rules: not checked against the source, which could not be read (see above)")
            }
        }
        if !p.filter_suggestions.is_empty() {
            println!("  suggested for the filters:");
            for h in &p.filter_suggestions {
                println!("    {h}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(line: &str) -> (String, Option<String>) {
        let p = split_fix(line);
        (p.problem, p.fix)
    }

    #[test]
    fn every_preflight_message_splits_into_problem_and_fix() {
        let cases = [
            (
                "wal_level is `replica`, logical replication needs `logical`: run ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL",
                "wal_level is `replica`, logical replication needs `logical`",
                "run ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL",
            ),
            (
                "binlog_format is MIXED, logferry needs ROW: SET GLOBAL binlog_format = 'ROW'; (and in my.cnf)",
                "binlog_format is MIXED, logferry needs ROW",
                "SET GLOBAL binlog_format = 'ROW'; (and in my.cnf)",
            ),
            (
                "the binary log is off: start the server with log_bin (e.g. log_bin = mysql-bin in my.cnf) and a server_id",
                "the binary log is off",
                "start the server with log_bin (e.g. log_bin = mysql-bin in my.cnf) and a server_id",
            ),
            (
                "table(s) without a primary key: `a`.`b`. logferry needs a key to apply changes idempotently and in order; add one (ALTER TABLE … ADD PRIMARY KEY (…))",
                "table(s) without a primary key: `a`.`b`. logferry needs a key to apply changes idempotently and in order",
                "add one (ALTER TABLE … ADD PRIMARY KEY (…))",
            ),
            (
                "no table matches `x`; check `tables` in [pipeline.source] (a selector without a schema means `public`)",
                "no table matches `x`",
                "check `tables` in [pipeline.source] (a selector without a schema means `public`)",
            ),
            (
                "the connecting role cannot read \"public\".\"t\"; run: GRANT SELECT ON \"public\".\"t\" TO \"r\";",
                "the connecting role cannot read \"public\".\"t\"",
                "run: GRANT SELECT ON \"public\".\"t\" TO \"r\";",
            ),
            (
                "replication slot `s` is in use by another session (pid 7; another `logferry run` of this pipeline?): stop that process, or end the session: SELECT pg_terminate_backend(7);",
                "replication slot `s` is in use by another session (pid 7; another `logferry run` of this pipeline?)",
                "stop that process, or end the session: SELECT pg_terminate_backend(7);",
            ),
        ];
        for (line, problem, fixed) in cases {
            assert_eq!(fix(line), (problem.to_string(), Some(fixed.to_string())), "{line}");
        }
        assert_eq!(fix("connecting: timed out"), ("connecting: timed out".to_string(), None));
    }
}
