//! `logferry dead-letters list|replay|drop`: what `on_error = "dead_letter"`
//! and `[[pipeline.table]] on_invalid = "dead_letter"` set aside, and how an
//! operator re-drives or discards it. A replay goes through the rules as
//! they are now: a record that still fails a `validate` rule stays, one
//! that passes is filtered, masked, renamed and routed like a live one.
//!
//! These commands open the state dir's sled database, which one process at
//! a time may hold: they work while the pipeline's `logferry run` is
//! stopped, and say so when it is not.

use super::{open_sinks, selected, CliError};
use crate::checkpoint::{CheckpointError, CheckpointStore, DeadLetter, DeadLetters};
use crate::config::{Config, PipelineConfig};
use crate::pipeline::{dead_keys, touched_keys, KeyId};
use crate::record::{value::Kind, Change, Row};
use crate::sinks::{Batch, Sink, SinkError};
use crate::transform::{Route, Stage};
use clap::Subcommand;
use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Records applied per target call when a replay starts; a batch that a
/// target refuses is applied again record by record to find which ones.
const REPLAY_BATCH: usize = 500;
/// Tries of one replay apply when the target fails transiently (it is
/// busy or restarting); after that the replay stops and can be run again.
const REPLAY_TRIES: u32 = 5;
/// First pause between those tries; doubles each time.
const REPLAY_BACKOFF: Duration = Duration::from_millis(500);

/// `logferry dead-letters …`.
#[derive(Debug, Subcommand)]
pub enum DeadLettersCommand {
    /// List dead letters in seq order: seq, time, table, key, target, error.
    List {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
        /// Only this pipeline (default: every pipeline in the file).
        #[arg(long, short)]
        pipeline: Option<String>,
        /// One JSON object per line, with the whole record in canonical JSON.
        #[arg(long)]
        json: bool,
    },
    /// Apply dead letters again, in seq order, to the pipeline's targets;
    /// each is removed once every target applied it, and one that fails
    /// again stays with the new error.
    Replay {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
        /// Only this pipeline (needed with --seq when the file has several).
        #[arg(long, short)]
        pipeline: Option<String>,
        /// These seqs (as `list` shows them).
        #[arg(long = "seq", value_name = "N", num_args = 1.., required_unless_present = "all", conflicts_with = "all")]
        seqs: Vec<u64>,
        /// Every dead letter of the pipeline(s).
        #[arg(long)]
        all: bool,
    },
    /// Remove dead letters without applying them: their changes never
    /// reach the targets.
    Drop {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
        /// Only this pipeline (needed with --seq when the file has several).
        #[arg(long, short)]
        pipeline: Option<String>,
        /// These seqs (as `list` shows them).
        #[arg(long = "seq", value_name = "N", num_args = 1.., required_unless_present = "all", conflicts_with = "all")]
        seqs: Vec<u64>,
        /// Every dead letter of the pipeline(s).
        #[arg(long)]
        all: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs a `dead-letters` subcommand.
pub async fn execute(command: DeadLettersCommand) -> Result<(), CliError> {
    match command {
        DeadLettersCommand::List { config, pipeline, json } => list(config, pipeline, json),
        DeadLettersCommand::Replay { config, pipeline, seqs, all } => replay(config, pipeline, seqs, all).await,
        DeadLettersCommand::Drop { config, pipeline, seqs, all, yes } => drop_letters(config, pipeline, seqs, all, yes),
    }
}

/// The state dir, or a message that says a run holds it.
fn open_store(cfg: &Config) -> Result<CheckpointStore, CliError> {
    CheckpointStore::open(&cfg.state_dir).map_err(|e| match e {
        CheckpointError::Locked { dir } => CliError::DeadLetters(format!(
            "state dir {} is in use by another logferry process, most likely `logferry run` (sled lets one \
             process at a time open it): dead letters can be listed, replayed or dropped only while the \
             pipeline is stopped; stop it (SIGTERM finishes cleanly), run this again, then start it again",
            dir.display()
        )),
        other => other.into(),
    })
}

/// The pipelines to act on; `--seq` needs exactly one.
fn chosen<'a>(cfg: &'a Config, pipeline: Option<&str>, seqs: &[u64]) -> Result<Vec<&'a PipelineConfig>, CliError> {
    let pipelines = selected(cfg, pipeline)?;
    if !seqs.is_empty() && pipelines.len() > 1 {
        return Err(CliError::Usage(format!(
            "{}: seqs are numbered per pipeline and the file has {} pipelines; add --pipeline <name>",
            cfg.path.display(),
            pipelines.len()
        )));
    }
    Ok(pipelines)
}

/// The stored letters named by `seqs` (all with `--all`), in seq order,
/// and the seqs that are not stored.
fn pick(letters: &[DeadLetter], seqs: &[u64], all: bool) -> (Vec<DeadLetter>, Vec<u64>) {
    if all {
        return (letters.to_vec(), Vec::new());
    }
    let wanted: BTreeSet<u64> = seqs.iter().copied().collect();
    let picked: Vec<DeadLetter> = letters.iter().filter(|l| wanted.contains(&l.seq())).cloned().collect();
    let found: BTreeSet<u64> = picked.iter().map(DeadLetter::seq).collect();
    (picked, wanted.difference(&found).copied().collect())
}

fn list(path: PathBuf, pipeline: Option<String>, json: bool) -> Result<(), CliError> {
    let cfg = Config::load(&path)?;
    let pipelines = selected(&cfg, pipeline.as_deref())?;
    let store = open_store(&cfg)?;
    let mut out = std::io::stdout().lock();
    for p in pipelines {
        let letters = store.dead_letters(&p.name)?.list()?;
        if json {
            for l in &letters {
                let _ = writeln!(out, "{}", json_line(&p.name, l));
            }
            continue;
        }
        let _ = match letters.len() {
            0 => writeln!(out, "pipeline {}: no dead letters", p.name),
            1 => writeln!(out, "pipeline {}: 1 dead letter", p.name),
            n => writeln!(out, "pipeline {}: {n} dead letters", p.name),
        };
        if letters.is_empty() {
            continue;
        }
        let rows: Vec<[String; 6]> = letters
            .iter()
            .map(|l| {
                [
                    l.seq().to_string(),
                    crate::record::format_utc(l.at),
                    l.change.table.clone().unwrap_or_default().to_string(),
                    key_text(&l.change),
                    if l.target.is_empty() { "-".to_string() } else { l.target.clone() },
                    l.error.clone(),
                ]
            })
            .collect();
        let header = ["SEQ", "TIME (UTC)", "TABLE", "KEY", "TARGET", "ERROR"];
        let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0);
        let widths: Vec<usize> = (0..5).map(width).collect();
        let line = |cells: [&str; 6]| {
            let mut s = format!("{:>w$}", cells[0], w = widths[0]);
            for (i, cell) in cells.iter().enumerate().take(5).skip(1) {
                s.push_str(&format!("  {cell:<w$}", w = widths[i]));
            }
            format!("{s}  {}", cells[5])
        };
        let _ = writeln!(out, "{}", line(header));
        for r in &rows {
            let _ = writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]));
        }
    }
    Ok(())
}

/// `{"pipeline":…,"seq":…,"time":…,"table":…,"key":…,"target":…,"error":…,"record":{canonical JSON}}`.
fn json_line(pipeline: &str, l: &DeadLetter) -> String {
    let s = |v: &str| {
        let mut out = String::with_capacity(v.len() + 2);
        crate::record::json::push_json_string(&mut out, v);
        out
    };
    let mut record = Vec::new();
    crate::record::json::write_change(&l.change, &mut record);
    format!(
        "{{\"pipeline\":{},\"seq\":{},\"time\":{},\"table\":{},\"key\":{},\"target\":{},\"error\":{},\"record\":{}}}",
        s(pipeline),
        l.seq(),
        s(&crate::record::format_utc(l.at)),
        s(&l.change.table.clone().unwrap_or_default().to_string()),
        s(&key_text(&l.change)),
        s(&l.target),
        s(&l.error),
        String::from_utf8_lossy(&record)
    )
}

/// `id=7`, `order_id=1,line=2`, `sku="A-1"`: the key for people.
fn key_text(change: &Change) -> String {
    let row = match change.op() {
        crate::record::Op::Delete => change.before.as_ref(),
        _ => change.after.as_ref().or(change.before.as_ref()),
    };
    change
        .key_columns
        .iter()
        .map(|k| {
            let v = row.and_then(|r| r.get(k));
            let text = match v.and_then(|v| v.kind.as_ref()) {
                None => "?".to_string(),
                Some(Kind::Int64(i)) => i.to_string(),
                Some(Kind::Int32(i)) => i.to_string(),
                Some(Kind::Uint64(u)) => u.to_string(),
                Some(Kind::Bool(b)) => b.to_string(),
                Some(Kind::Decimal(d)) => d.clone(),
                Some(Kind::Text(t)) | Some(Kind::EnumLabel(t)) => format!("{t:?}"),
                Some(Kind::Uuid(b)) if b.len() == 16 => {
                    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
                    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
                }
                Some(_) => {
                    // Anything else as its canonical JSON value.
                    let mut buf = Vec::new();
                    let only = Change {
                        after: Some(Row { columns: row.into_iter().flat_map(|r| &r.columns).filter(|c| &c.name == k).cloned().collect() }),
                        ..Default::default()
                    };
                    crate::record::json::write_change(&only, &mut buf);
                    serde_json::from_slice::<serde_json::Value>(&buf)
                        .ok()
                        .and_then(|j| j.get("after").and_then(|a| a.get(k)).map(|v| v.to_string()))
                        .unwrap_or_else(|| "?".into())
                }
            };
            format!("{k}={text}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// What happened to the dead letters of one pipeline in a replay.
#[derive(Default)]
struct ReplayReport {
    applied: usize,
    failed: Vec<(u64, String)>,
    /// (seq, the earlier seq of its key it waits for)
    waiting: Vec<(u64, u64)>,
}

async fn replay(path: PathBuf, pipeline: Option<String>, seqs: Vec<u64>, all: bool) -> Result<(), CliError> {
    let cfg = Config::load(&path)?;
    let pipelines = chosen(&cfg, pipeline.as_deref(), &seqs)?;
    let store = open_store(&cfg)?;
    let mut left = 0;
    for p in pipelines {
        let dl = store.dead_letters(&p.name)?;
        let letters = dl.list()?;
        let (picked, missing) = pick(&letters, &seqs, all);
        if !missing.is_empty() {
            let missing: Vec<String> = missing.iter().map(u64::to_string).collect();
            eprintln!("pipeline {}: no dead letter with seq {}", p.name, missing.join(", "));
            left += missing.len();
        }
        if picked.is_empty() {
            println!("pipeline {}: nothing to replay", p.name);
            continue;
        }
        // Keys that keep dead letters which are not replayed now: a picked
        // record after one of those must wait for it.
        let picked_seqs: BTreeSet<u64> = picked.iter().map(DeadLetter::seq).collect();
        let kept: Vec<DeadLetter> = letters.into_iter().filter(|l| !picked_seqs.contains(&l.seq())).collect();
        let mut blocked = dead_keys(&kept);
        let targets = Targets { sinks: open_sinks(&p.targets, 1, false).await?, routes: super::rules::routes(p), stage: super::rules::stage(&cfg, p)? };
        let sinks = &targets.sinks;
        let mut report = ReplayReport::default();
        let result = replay_letters(&dl, &targets, picked, &mut blocked, &mut report).await;
        for sink in sinks {
            if let Err(e) = sink.close().await {
                tracing::warn!(target = sink.name(), error = %e, "closing the target after the replay failed");
            }
        }
        println!(
            "pipeline {}: replayed {} dead letter(s); {} failed again; {} wait for an earlier change of their key",
            p.name,
            report.applied,
            report.failed.len(),
            report.waiting.len()
        );
        for (seq, error) in &report.failed {
            println!("  seq {seq}: {error}");
        }
        for (seq, first) in &report.waiting {
            println!("  seq {seq}: waits for seq {first} of the same key (replay or drop that one first)");
        }
        left += report.failed.len() + report.waiting.len();
        result?;
    }
    if left > 0 {
        return Err(CliError::DeadLetters(format!(
            "{left} dead letter(s) were not replayed; they stay in the store (`logferry dead-letters list`)"
        )));
    }
    Ok(())
}

/// Replays `picked` (seq order) in batches; a refused batch is replayed
/// record by record, and a record that fails keeps the later records of
/// its key behind it.
async fn replay_letters(
    dl: &DeadLetters,
    targets: &Targets,
    picked: Vec<DeadLetter>,
    blocked: &mut HashMap<KeyId, u64>,
    report: &mut ReplayReport,
) -> Result<(), CliError> {
    let waits_for = |blocked: &HashMap<KeyId, u64>, l: &DeadLetter| {
        touched_keys(&l.change).iter().filter_map(|k| blocked.get(k).copied()).filter(|&f| f < l.seq()).min()
    };
    let block = |blocked: &mut HashMap<KeyId, u64>, l: &DeadLetter| {
        for k in touched_keys(&l.change) {
            let first = blocked.entry(k).or_insert(l.seq());
            *first = (*first).min(l.seq());
        }
    };
    let mut rest = picked.into_iter().peekable();
    while rest.peek().is_some() {
        // The next batch: records that wait for nothing and pass the rules.
        let mut chunk = Vec::new();
        while chunk.len() < REPLAY_BATCH {
            let Some(mut l) = rest.next() else { break };
            if let Some(first) = waits_for(blocked, &l) {
                block(blocked, &l);
                report.waiting.push((l.seq(), first));
                continue;
            }
            match targets.stage.as_ref().map(|s| s.validate(&l.change)) {
                Some(Err(v)) => {
                    block(blocked, &l);
                    report.failed.push((l.seq(), v.to_string()));
                    l.target = v.rule.clone();
                    l.error = v.to_string();
                    l.at = SystemTime::now();
                    dl.update(&l)?;
                }
                _ => chunk.push(l),
            }
        }
        if chunk.is_empty() {
            continue;
        }
        let batch = Batch { lane: 0, records: chunk.iter().map(|l| l.change.clone()).collect(), order: None };
        if apply_all(targets, &batch).await?.is_none() {
            let seqs: Vec<u64> = chunk.iter().map(DeadLetter::seq).collect();
            dl.remove(&seqs)?;
            report.applied += seqs.len();
            continue;
        }
        for mut l in chunk {
            if let Some(first) = waits_for(blocked, &l) {
                block(blocked, &l);
                report.waiting.push((l.seq(), first));
                continue;
            }
            let one = Batch { lane: 0, records: vec![l.change.clone()], order: None };
            match apply_all(targets, &one).await? {
                None => {
                    dl.remove(&[l.seq()])?;
                    report.applied += 1;
                }
                Some((target, message)) => {
                    block(blocked, &l);
                    report.failed.push((l.seq(), format!("target {target}: {message}")));
                    l.target = target;
                    l.error = message;
                    l.at = SystemTime::now();
                    dl.update(&l)?;
                }
            }
        }
    }
    Ok(())
}

/// The pipeline's targets as a replay uses them: the rules, then each
/// target's `tables`.
struct Targets {
    sinks: Vec<Arc<dyn Sink>>,
    routes: Vec<Route>,
    stage: Option<Arc<Stage>>,
}

/// Applies `batch` (transformed, and routed per target) to every target:
/// `None` when all applied it, or the definite refusal (target, message).
/// Transient failures are tried again a few times, then end the replay
/// with an error.
async fn apply_all(targets: &Targets, batch: &Batch) -> Result<Option<(String, String)>, CliError> {
    let records = match &targets.stage {
        Some(stage) => stage.transform_all(&batch.records),
        None => batch.records.clone(),
    };
    for (sink, route) in targets.sinks.iter().zip(&targets.routes) {
        let batch = Batch { lane: batch.lane, records: records.iter().filter(|c| route.admits(c)).cloned().collect(), order: None };
        if batch.records.is_empty() {
            continue;
        }
        let mut pause = REPLAY_BACKOFF;
        let mut tries = 0;
        loop {
            tries += 1;
            match sink.apply(&batch).await {
                Ok(()) => break,
                Err(SinkError::Definite { target, message, .. }) => return Ok(Some((target, message))),
                Err(e) if tries < REPLAY_TRIES => {
                    tracing::warn!(target = sink.name(), error = %e, retry_in_ms = pause.as_millis() as u64, "replay failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                Err(e) => {
                    return Err(CliError::DeadLetters(format!(
                        "replay stopped: {e} (after {REPLAY_TRIES} tries); what was applied so far is removed from the \
                         store, the rest is still there: run the replay again when the target is back"
                    )))
                }
            }
        }
    }
    Ok(None)
}

fn drop_letters(path: PathBuf, pipeline: Option<String>, seqs: Vec<u64>, all: bool, yes: bool) -> Result<(), CliError> {
    let cfg = Config::load(&path)?;
    let pipelines = chosen(&cfg, pipeline.as_deref(), &seqs)?;
    let store = open_store(&cfg)?;
    for p in pipelines {
        let dl = store.dead_letters(&p.name)?;
        let (picked, missing) = pick(&dl.list()?, &seqs, all);
        if !missing.is_empty() {
            let missing: Vec<String> = missing.iter().map(u64::to_string).collect();
            eprintln!("pipeline {}: no dead letter with seq {}", p.name, missing.join(", "));
        }
        if picked.is_empty() {
            println!("pipeline {}: nothing to drop", p.name);
            continue;
        }
        if !yes {
            if !std::io::stdin().is_terminal() {
                return Err(CliError::Usage(format!(
                    "dropping dead letters of pipeline `{}` needs confirmation: run it in a terminal, or add --yes",
                    p.name
                )));
            }
            eprint!(
                "Drop {} dead letter(s) of pipeline `{}`? Their changes will never reach the targets. Type the pipeline name to confirm: ",
                picked.len(),
                p.name
            );
            let mut answer = String::new();
            std::io::stdin().lock().read_line(&mut answer).map_err(CliError::Prompt)?;
            if answer.trim() != p.name {
                return Err(CliError::Usage("not confirmed; the dead letters are unchanged".into()));
            }
        }
        let seqs: Vec<u64> = picked.iter().map(DeadLetter::seq).collect();
        let n = dl.remove(&seqs)?;
        println!("pipeline {}: dropped {n} dead letter(s)", p.name);
    }
    Ok(())
}

/// Why `reset` must wait: dead letters are keyed by seq, and a reset
/// numbers records from 1 again.
pub(super) fn refuse_reset_with_dead_letters(store: &CheckpointStore, pipeline: &str) -> Result<(), CliError> {
    let n = store.dead_letters(pipeline)?.len();
    if n == 0 {
        return Ok(());
    }
    Err(CliError::DeadLetters(format!(
        "pipeline `{pipeline}` has {n} dead letter(s); a reset numbers records from 1 again, which would mix them \
         with new ones: replay or drop them first (`logferry dead-letters list --pipeline {pipeline}`), then reset"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Op, TableRef, Value};

    #[test]
    fn command_line_shapes() {
        use crate::cli::{Cli, Command};
        use clap::{CommandFactory, Parser};
        Cli::command().debug_assert();
        let parse = |args: &[&str]| Cli::try_parse_from([&["logferry", "dead-letters"], args].concat());
        let Command::DeadLetters(DeadLettersCommand::Replay { seqs, all, pipeline, .. }) =
            parse(&["replay", "--config", "f.toml", "--seq", "3", "5", "--seq", "9"]).unwrap().command
        else {
            panic!("not a replay")
        };
        assert_eq!((seqs, all, pipeline), (vec![3, 5, 9], false, None));
        assert!(parse(&["replay", "--config", "f.toml"]).is_err(), "--seq or --all is required");
        assert!(parse(&["drop", "--config", "f.toml", "--all", "--seq", "1"]).is_err(), "not both");
        assert!(parse(&["list", "--config", "f.toml", "--json", "-p", "shop"]).is_ok());
    }

    #[test]
    fn keys_read_like_the_source_would_write_them() {
        let mut c = Change {
            op: Op::Insert as i32,
            table: Some(TableRef { schema: "public".into(), name: "lines".into() }),
            key_columns: vec!["order_id".into(), "sku".into(), "at".into()],
            after: Some(Row::from_pairs([
                ("order_id", Value::int64(7)),
                ("sku", Value::text("A-\"1\"")),
                ("at", Value::of(Kind::Date(crate::record::Date { days: 0, special: 0 }))),
                ("note", Value::text("not a key")),
            ])),
            ..Default::default()
        };
        let text = key_text(&c);
        assert!(text.starts_with("order_id=7,sku=\"A-\\\"1\\\"\",at="), "{text}");
        assert!(text.contains("1970-01-01"), "{text}");
        c.op = Op::Delete as i32;
        c.before = c.after.take();
        assert!(key_text(&c).starts_with("order_id=7,"), "deletes name the removed row's key");
    }
}
