//! `logferry verify`: proves that each target table holds what its source
//! table holds — through the pipeline's `[[pipeline.table]]` rules — and
//! with `--repair` mends the keys that differ.
//!
//! # How a table pair is compared
//!
//! Both tables are read with logferry's own source readers and decoders
//! (a PostgreSQL target with the PostgreSQL reader, a MariaDB one with the
//! MySQL reader, a MongoDB collection with the MongoDB reader: see
//! [`side`]), so both arrive as canonical values. [`tables`] finds the
//! target table the way the targets name it and decides how to compare;
//! [`ranges`] walks the pair: by key ranges whose digests the databases
//! compute themselves (no row crosses the network unless its range
//! differs), or row by row. Every source row is shaped by the rules as
//! the targets get it (a row the filter drops is not expected in the
//! target) and paired with the target row of its key ([`compare`]): keys
//! missing in the target, extra in the target, and different.
//!
//! # Changes in flight
//!
//! While `logferry run` replicates, a difference may be a change not
//! applied yet. When a run holds the state dir, its control endpoint
//! ([`control`]) says up to which source time everything is applied.
//! Each differing key is then re-checked: the source row is read again, the
//! time after that read noted, and once the pipeline has applied past that
//! time the target row is read and compared again; a few rounds while keys
//! keep changing. Only what still differs is reported. When no process
//! runs, nothing is in flight; what differs is reported, with a note when
//! the pipeline's checkpoint may simply be behind the source.
//!
//! # Repair
//!
//! See [`repair`]: the differing rows are read again from the source and
//! sent through the pipeline as ordinary records, then re-checked.

pub mod compare;
pub mod control;
pub mod mongodb;
pub mod mysql;
pub mod postgres;
pub mod ranges;
pub mod repair;
pub mod report;
pub mod side;
pub mod tables;

use crate::config::PipelineConfig;
use crate::transform::{Route, Stage};
use compare::{Differences, Key, Matcher, RowRules};
use control::Control;
use report::{Compared, Status, TableReport};
use side::Side;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tables::Pair;

/// Rounds of re-checking keys that keep changing while the pipeline runs.
const RECHECK_ROUNDS: usize = 4;

/// How often the control endpoint is asked whether the pipeline has
/// applied past a time.
const STATUS_POLL: Duration = Duration::from_millis(100);

/// Why `verify` could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A source or target database could not be read (connection, grants).
    #[error(transparent)]
    Source(#[from] crate::sources::SourceError),
    /// Rows could not be read or decoded.
    #[error("{0}")]
    Read(String),
    /// The control endpoint of the running process failed.
    #[error("control endpoint: {0}")]
    Control(String),
    /// Bad usage (`--table` matches nothing).
    #[error("{0}")]
    Usage(String),
    /// A repair could not be done.
    #[error("repair: {0}")]
    Repair(String),
    /// The repair's pipeline run failed.
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::PipelineError),
    /// The state dir failed.
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    /// A bug.
    #[error("internal error: {0}; please report it")]
    Internal(String),
}

/// What to compare and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only source tables matching this glob (`schema.name` or `name`).
    pub table: Option<String>,
    /// How to cut tables into ranges.
    pub sizes: ranges::Sizes,
    /// Longest wait for a running pipeline to apply past a read (re-checks, repairs).
    pub max_wait: Duration,
    /// Compare row by row even where in-database digests could be used.
    pub by_rows: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { table: None, sizes: ranges::Sizes::default(), max_wait: Duration::from_secs(60), by_rows: false }
    }
}

/// Told how far the comparison got (a progress bar on a terminal).
pub trait Progress: Send + Sync {
    /// A table pair starts; `estimate`: the source's guess of its rows.
    fn start(&self, what: &str, estimate: Option<u64>);
    /// `rows` more source rows compared.
    fn advance(&self, rows: u64);
    /// The pair is done.
    fn finish(&self);
}

/// No progress shown.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// One pipeline to verify, with its compiled rules and routes.
pub struct Pipeline<'a> {
    /// Its config.
    pub config: &'a PipelineConfig,
    /// Its `[[pipeline.table]]` rules, compiled.
    pub stage: Option<Arc<Stage>>,
    /// Each target's `tables`.
    pub routes: Vec<Route>,
}

/// A compared pair, its open sides and what was found.
pub struct Checked {
    /// The pair.
    pub pair: Pair,
    /// The sides, open (`None` when the pair was not read).
    pub sides: Option<(Box<dyn Side>, Box<dyn Side>)>,
    /// How rows compare.
    pub rules: RowRules,
    /// The report line.
    pub report: TableReport,
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Compares every table pair of `p` (see the module docs); `control`: the
/// endpoint of the run holding the state dir, if one runs.
pub async fn check_pipeline(
    p: &Pipeline<'_>,
    opts: &Options,
    control: Option<&Control>,
    progress: &dyn Progress,
) -> Result<Vec<Checked>, VerifyError> {
    let cfg = p.config;
    let tables = tables::source_tables(cfg, opts.table.as_deref()).await?;
    let mut out = Vec::new();
    for pair in tables::pairs(cfg, p.stage.as_deref(), &p.routes, &tables) {
        let target = &cfg.targets[pair.target_index];
        let (place, name) = tables::target_place(target, &pair.renamed);
        let mut report = TableReport {
            pipeline: cfg.name.clone(),
            source: pair.source.table.qualified(),
            target: match tables::target_engine(target) {
                Ok(_) => format!("{} {place}.{name}", target_label(target)),
                Err(kind) => kind.to_string(),
            },
            status: Status::NotVerifiable(String::new()),
            notes: Vec::new(),
        };
        if let Some(why) = &pair.not_verifiable {
            report.status = Status::NotVerifiable(why.clone());
            out.push(Checked { pair, sides: None, rules: RowRules::default(), report });
            continue;
        }
        match compare_pair(p, &pair, opts, control, progress).await {
            Ok((src, tgt, rules, compared, notes)) => {
                report.target = tgt.describe();
                report.status = Status::Compared(compared);
                report.notes = notes;
                out.push(Checked { pair, sides: Some((src, tgt)), rules, report });
            }
            Err(e) => {
                progress.finish();
                report.status = Status::Failed(crate::ErrorChain(&e).to_string());
                out.push(Checked { pair, sides: None, rules: RowRules::default(), report });
            }
        }
    }
    Ok(out)
}

/// `postgres:host:port/db` and the like, for a database target.
fn target_label(t: &crate::config::TargetConfig) -> String {
    use crate::config::TargetConfig;
    match t {
        TargetConfig::Postgres(c) => postgres::server_label(c.url.expose()),
        TargetConfig::Mysql(c) => mysql::server_label(c.url.expose()).0,
        TargetConfig::Mongodb(c) => format!("mongodb:{}", c.url),
        _ => String::new(),
    }
}

type Sides = (Box<dyn Side>, Box<dyn Side>, RowRules, Compared, Vec<String>);

async fn compare_pair(
    p: &Pipeline<'_>,
    pair: &Pair,
    opts: &Options,
    control: Option<&Control>,
    progress: &dyn Progress,
) -> Result<Sides, VerifyError> {
    let started = Instant::now();
    let (mut src, mut tgt, digests_possible) = tables::open(p.config, pair).await?;
    let by_digests = digests_possible && !opts.by_rows;
    let rules = row_rules(pair, &*src, &*tgt);
    let estimate = src.estimate().await?;
    let (place, name) = tables::target_place(&p.config.targets[pair.target_index], &pair.renamed);
    progress.start(&format!("{} → {place}.{name}", pair.source.table), estimate);
    let expect = tables::shaper(p.stage.clone(), pair);
    let mut tick = |n: u64| progress.advance(n);
    let outcome = match by_digests {
        true => ranges::by_digests(&mut *src, &mut *tgt, opts.sizes, &expect, rules.clone(), &mut tick).await?,
        false => ranges::by_rows(&mut *src, &mut *tgt, opts.sizes.fetch, &expect, rules.clone(), &mut tick).await?,
    };
    progress.finish();
    let mut notes = Vec::new();
    let mut differences = outcome.differences;
    if !differences.is_empty() {
        if let Some(control) = control {
            let live = Live { control, pipeline: &p.config.name, max_wait: opts.max_wait };
            let (d, n) = recheck(&mut *src, &mut *tgt, differences, &expect, &rules, live).await?;
            differences = d;
            notes.extend(n);
        }
    }
    let compared = Compared {
        by_digests,
        rows: outcome.compared,
        differences,
        source_key: pair.source.schema.key_columns.clone(),
        target_key: pair.target_key.clone(),
        elapsed: started.elapsed(),
    };
    Ok((src, tgt, rules, compared, notes))
}

/// How rows of `pair` compare: `char(n)` columns of either side without
/// trailing spaces; documents field for field.
fn row_rules(pair: &Pair, src: &dyn Side, tgt: &dyn Side) -> RowRules {
    let mut padded: std::collections::HashSet<String> = tgt.padded_columns().into_iter().collect();
    for c in src.padded_columns() {
        let renamed = pair.mapping.as_ref().and_then(|m| m.iter().find(|(s, _)| *s == c).map(|(_, t)| t.clone()));
        padded.insert(renamed.unwrap_or(c));
    }
    RowRules { padded, documents: pair.source.schema.documents }
}

/// Every key of `d`, once (they serve both sides: key values keep their
/// order through the rules, only the names change).
pub fn all_keys(d: &Differences) -> Vec<Key> {
    let mut seen = std::collections::HashSet::new();
    d.missing
        .iter()
        .chain(&d.different)
        .chain(&d.extra)
        .filter(|k| seen.insert(compare::key_id(k)))
        .cloned()
        .collect()
}

/// A running pipeline whose progress a comparison waits for.
#[derive(Clone, Copy)]
pub struct Live<'a> {
    /// Its control endpoint.
    pub control: &'a Control,
    /// The pipeline's name.
    pub pipeline: &'a str,
    /// Longest wait for it to apply past a read.
    pub max_wait: Duration,
}

/// Reads `keys` on both sides and compares them; with `live`, the target
/// is read only once the pipeline has applied past the source read.
/// `Ok(Err(why))`: the pipeline did not get there in time.
pub async fn compare_keys(
    src: &mut dyn Side,
    tgt: &mut dyn Side,
    keys: &[Key],
    expect: ranges::Expect<'_>,
    rules: &RowRules,
    live: Option<Live<'_>>,
) -> Result<Result<Differences, String>, VerifyError> {
    let rows = src.by_keys(keys).await?;
    let read_at = now_ms();
    if let Some(l) = live {
        if let Err(why) = wait_applied(l.control, l.pipeline, read_at, l.max_wait).await? {
            return Ok(Err(why));
        }
    }
    let got = tgt.by_keys(keys).await?;
    let mut m = Matcher::new(rules.clone());
    for r in rows {
        let (key, e) = expect(&r.row, r.key);
        m.source(key, e);
    }
    for r in got {
        m.target(r.key, r.row);
    }
    Ok(Ok(m.finish()))
}

/// Re-checks the differing keys while the pipeline runs (see the module
/// docs): what still differs, and notes for the report.
async fn recheck(
    src: &mut dyn Side,
    tgt: &mut dyn Side,
    found: Differences,
    expect: ranges::Expect<'_>,
    rules: &RowRules,
    live: Live<'_>,
) -> Result<(Differences, Vec<String>), VerifyError> {
    let first = found.len();
    let mut current = found;
    for round in 1..=RECHECK_ROUNDS {
        let keys = all_keys(&current);
        match compare_keys(src, tgt, &keys, expect, rules, Some(live)).await? {
            Err(why) => return Ok((current, vec![why])),
            Ok(d) if d.is_empty() => {
                return Ok((d, vec![format!("{first} key(s) differed while the pipeline ran; all equal once it had applied past the read (round {round})")]));
            }
            Ok(d) => current = d,
        }
    }
    let note = format!(
        "{first} key(s) differed while the pipeline ran; {} still differ after {RECHECK_ROUNDS} re-checks, each after the pipeline had applied past the read",
        current.len()
    );
    Ok((current, vec![note]))
}

/// Waits until `pipeline` has applied everything up to `at` (Unix ms).
/// `Ok(Err(why))`: it did not within `max_wait`, or cannot say.
pub async fn wait_applied(control: &Control, pipeline: &str, at: u64, max_wait: Duration) -> Result<Result<(), String>, VerifyError> {
    let deadline = Instant::now() + max_wait;
    loop {
        let applied = control.applied_through(pipeline).await?;
        match applied {
            Some(t) if t >= at => return Ok(Ok(())),
            None => {
                return Ok(Err(format!(
                    "the running process does not report how far pipeline `{pipeline}` has applied, so these may be changes in flight"
                )))
            }
            Some(t) if Instant::now() >= deadline => {
                return Ok(Err(format!(
                    "pipeline `{pipeline}` is behind: after {}s it had applied the source only up to {} (the read was at {}); \
                     these may be changes it has not applied yet",
                    max_wait.as_secs(),
                    crate::record::format_utc(UNIX_EPOCH + Duration::from_millis(t)),
                    crate::record::format_utc(UNIX_EPOCH + Duration::from_millis(at)),
                )))
            }
            Some(_) => tokio::time::sleep(STATUS_POLL).await,
        }
    }
}
