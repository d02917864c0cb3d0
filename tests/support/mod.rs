//! Shared test support: scripted sources, recording sinks with injected
//! failures and delays, and helpers to run the real `logferry` binary.

#![allow(dead_code)]

use logferry::checkpoint::CheckpointStore;
use logferry::config::{ApplyConfig, OnError};
use logferry::pipeline::{self, PipelineError, PipelineRun, RunSummary};
use logferry::record::{Change, Op, Position, Row, TableRef, Value};
use logferry::sinks::{Batch, Sink, SinkError};
use logferry::sources::{Source, SourceContext, SourceError};
use logferry::BoxFuture;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

pub mod binary;
pub mod http_server;
pub mod mariadb;
pub mod mongodb;
pub mod online;
pub mod outage;
pub mod pg;
pub mod prom;
pub mod proxy;
pub mod records;
pub mod shop;
pub mod sql_target;

/// splitmix64, for seeded test randomness without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn position(n: u64) -> Position {
    Position { token: n.to_be_bytes().to_vec().into(), display: format!("#{n}") }
}

pub fn position_index(p: &Position) -> u64 {
    u64::from_be_bytes(p.token.as_ref().try_into().expect("8-byte test position"))
}

/// A row change on table `t.{table}` with integer key `id` and value `v`.
pub fn change(table: &str, op: Op, id: i64, v: i64) -> Change {
    let row = Row::from_pairs([("id", Value::int64(id)), ("v", Value::int64(v))]);
    let key = Row::from_pairs([("id", Value::int64(id))]);
    let (before, after) = match op {
        Op::Delete => (Some(key), None),
        _ => (None, Some(row)),
    };
    Change {
        op: op as i32,
        table: Some(TableRef { schema: "t".into(), name: table.into() }),
        key_columns: vec!["id".into()],
        before,
        after,
        ..Default::default()
    }
}

/// A workload of `n` changes over `keys` keys of two tables, with
/// transactions of `tx_size` changes; `v` is the change's index, so the
/// last write of each key is recognisable.
pub fn workload(n: u64, keys: i64, tx_size: u64, seed: u64) -> Vec<Change> {
    let mut rng = Rng(seed);
    let mut live: HashSet<(String, i64)> = HashSet::new();
    (0..n)
        .map(|i| {
            let table = if rng.below(2) == 0 { "a" } else { "b" };
            let id = rng.below(keys as u64) as i64;
            let k = (table.to_string(), id);
            let op = if !live.contains(&k) {
                live.insert(k);
                Op::Insert
            } else if rng.below(5) == 0 {
                live.remove(&k);
                Op::Delete
            } else {
                Op::Update
            };
            let mut c = change(table, op, id, i as i64);
            c.tx_end = (i + 1) % tx_size == 0 || i + 1 == n;
            c
        })
        .collect()
}

/// Final state (table, id) → v after applying `changes` in order.
pub fn final_state<'a>(changes: impl IntoIterator<Item = &'a Change>) -> BTreeMap<(String, i64), i64> {
    let mut state = BTreeMap::new();
    for c in changes {
        let table = c.table.as_ref().map(|t| t.name.clone()).unwrap_or_default();
        let int = |row: &Option<Row>, col: &str| match row.as_ref().and_then(|r| r.get(col)).and_then(|v| v.kind.clone()) {
            Some(logferry::record::value::Kind::Int64(i)) => i,
            other => panic!("expected int64 {col}, got {other:?}"),
        };
        match c.op() {
            Op::Insert | Op::Update | Op::SnapshotRead => {
                if c.changes_key() {
                    state.remove(&(table.clone(), int(&c.before, "id")));
                }
                state.insert((table, int(&c.after, "id")), int(&c.after, "v"));
            }
            Op::Delete => {
                state.remove(&(table, int(&c.before, "id")));
            }
            Op::Truncate => state.retain(|(t, _), _| *t != table),
            _ => {}
        }
    }
    state
}

/// Emits a fixed list of changes; positions are `index + 1`; resumes after
/// a checkpointed position. In once mode it returns at the end; otherwise it
/// waits for shutdown. Counts what it emitted.
pub struct ScriptSource {
    pub changes: Arc<Vec<Change>>,
    pub emitted: Arc<AtomicU64>,
}

impl ScriptSource {
    pub fn new(changes: Vec<Change>) -> Self {
        ScriptSource { changes: Arc::new(changes), emitted: Arc::new(AtomicU64::new(0)) }
    }
}

impl Source for ScriptSource {
    fn name(&self) -> &str {
        "script"
    }
    fn run(&mut self, ctx: SourceContext) -> BoxFuture<'_, Result<(), SourceError>> {
        Box::pin(async move {
            let start = ctx.resume.as_ref().map_or(0, position_index) as usize;
            let mut shutdown = ctx.shutdown.clone();
            for (i, c) in self.changes.iter().enumerate().skip(start) {
                if *shutdown.borrow() {
                    return Ok(());
                }
                let mut c = c.clone();
                c.pipeline = ctx.pipeline.clone();
                c.position = Some(position(i as u64 + 1));
                ctx.emitter.emit(c).await?;
                self.emitted.fetch_add(1, AtomicOrdering::SeqCst);
            }
            if !ctx.once {
                let _ = shutdown.wait_for(|s| *s).await;
            }
            Ok(())
        })
    }
}

/// One successful apply, as the sink saw it.
#[derive(Debug, Clone)]
pub struct Applied {
    pub run: u32,
    pub lane: usize,
    pub records: Vec<Change>,
}

/// What a `RecordingSink` does with the batches it is given.
#[derive(Default, Clone)]
pub struct Faults {
    /// Fail definitely any batch holding one of these seqs.
    pub definite_at: HashSet<u64>,
    /// Fail this percentage of apply calls transiently.
    pub transient_pct: u64,
    /// Sleep up to this long in each apply (random per call).
    pub max_delay: Duration,
    /// Seed for the above.
    pub seed: u64,
}

/// A sink that records every successful batch in a shared log (which
/// outlives the sink, like a real target outlives a process) and injects
/// the configured faults.
pub struct RecordingSink {
    pub run: u32,
    pub log: Arc<Mutex<Vec<Applied>>>,
    pub faults: Faults,
    rng: Mutex<Rng>,
    pub calls: AtomicU64,
    /// When set, apply waits until this turns true (to hold the pipeline back).
    pub gate: Option<watch::Receiver<bool>>,
    /// Calls of apply that pass before the gate applies.
    pub open_calls: u64,
}

impl RecordingSink {
    pub fn new(run: u32, log: Arc<Mutex<Vec<Applied>>>, faults: Faults) -> Self {
        let rng = Mutex::new(Rng(faults.seed ^ u64::from(run)));
        RecordingSink { run, log, faults, rng, calls: AtomicU64::new(0), gate: None, open_calls: 0 }
    }
}

impl Sink for RecordingSink {
    fn name(&self) -> &str {
        "recording"
    }
    fn apply<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let call = self.calls.fetch_add(1, AtomicOrdering::SeqCst) + 1;
            if let Some(gate) = self.gate.as_ref().filter(|_| call > self.open_calls) {
                let mut gate = gate.clone();
                let _ = gate.wait_for(|open| *open).await;
            }
            let (delay, transient) = {
                let mut rng = self.rng.lock().unwrap();
                let max = self.faults.max_delay.as_micros() as u64;
                let delay = if max == 0 { 0 } else { rng.below(max + 1) };
                (Duration::from_micros(delay), rng.below(100) < self.faults.transient_pct)
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if batch.records.iter().any(|c| self.faults.definite_at.contains(&c.seq)) {
                return Err(SinkError::definite("recording", "injected definite failure"));
            }
            if transient {
                return Err(SinkError::transient("recording", "injected transient failure"));
            }
            self.log.lock().unwrap().push(Applied { run: self.run, lane: batch.lane, records: batch.records.clone() });
            Ok(())
        })
    }
}

/// Apply settings for fast tests: short waits and backoffs.
pub fn fast_apply(lanes: usize) -> ApplyConfig {
    ApplyConfig {
        lanes,
        batch_max_rows: 37,
        batch_max_wait: Duration::from_millis(1),
        max_retries: Some(50),
        retry_backoff: Duration::from_millis(1),
        retry_max_backoff: Duration::from_millis(4),
        checkpoint_interval: Duration::from_millis(2),
        ..ApplyConfig::default()
    }
}

/// Runs one pipeline over `source` into `sinks` with the given store
/// (`on_error = "stop"`).
pub async fn run_pipeline(
    name: &str,
    apply: ApplyConfig,
    source: impl Source + 'static,
    sinks: Vec<Arc<dyn Sink>>,
    store: &CheckpointStore,
    once: bool,
    shutdown: watch::Receiver<bool>,
) -> Result<RunSummary, PipelineError> {
    run_pipeline_on_error(name, apply, OnError::Stop, source, sinks, store, once, shutdown).await
}

/// [`run_pipeline`] with an `on_error` policy.
#[allow(clippy::too_many_arguments)]
pub async fn run_pipeline_on_error(
    name: &str,
    apply: ApplyConfig,
    on_error: OnError,
    source: impl Source + 'static,
    sinks: Vec<Arc<dyn Sink>>,
    store: &CheckpointStore,
    once: bool,
    shutdown: watch::Receiver<bool>,
) -> Result<RunSummary, PipelineError> {
    pipeline::run(PipelineRun {
        name: name.into(),
        apply,
        source: Box::new(source),
        sinks,
        store: store.clone(),
        once,
        shutdown,
        on_error,
        spool: None,
        stats: Default::default(),
        stage: None,
        routes: Vec::new(),
    })
    .await
}

/// Polls `cond` every 20 ms until it holds; panics naming `what` after `within`.
pub async fn wait_until<F, Fut>(what: &str, within: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !cond().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out after {within:?} waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `counter` stops moving (equal at two looks `step` apart)
/// or `within` has passed; returns its last value. For "the source is
/// held back": progress stopping is the condition, not a fixed time.
pub async fn wait_until_still(counter: &AtomicU64, step: Duration, within: Duration) -> u64 {
    let deadline = tokio::time::Instant::now() + within;
    let mut last = u64::MAX;
    loop {
        tokio::time::sleep(step).await;
        let now = counter.load(AtomicOrdering::SeqCst);
        if now == last || tokio::time::Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// Never-firing shutdown for once-mode runs.
pub fn no_shutdown() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    std::mem::forget(tx);
    rx
}

/// One transaction of the SIGKILL tests' workload on table `items`
/// (`id`, `v`, `note`): 20 new rows from `next_id` (`new_rows` selects
/// them in the server's dialect), `v + 1` on the keys from `base` and on
/// recent new rows, two deletes. `begin` starts the transaction.
pub fn mixed_transaction(begin: &str, new_rows: &str, next_id: i64, base: i64) -> String {
    format!(
        "{begin};
         INSERT INTO items {new_rows};
         UPDATE items SET v = v + 1, note = 'upd' WHERE id BETWEEN {base} AND {} OR id BETWEEN {} AND {};
         DELETE FROM items WHERE id IN ({}, {});
         COMMIT;",
        base + 40,
        next_id - 200,
        next_id - 150,
        base + 50,
        next_id - 300,
    )
}
