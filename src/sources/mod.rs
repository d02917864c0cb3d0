//! Sources: where changes come from.
//!
//! # The `Source` contract
//!
//! A source runs as one task. [`Source::run`] reads the source log from the
//! resume position (or takes the initial snapshot first), turns every change
//! into a [`Change`](crate::record::Change) and hands it to the
//! [`Emitter`], which applies backpressure: `emit` waits while the
//! pipeline's queues are full, and the source must then stop reading (a
//! PostgreSQL slot keeps the WAL; nothing is lost).
//!
//! - **Positions.** A record whose `tx_end` is true carries in `position` a
//!   point the source can resume *after*: the pipeline checkpoints it once
//!   that record and all before it are durably applied, and gives it back in
//!   [`SourceContext::resume`] on the next start. The source must then emit
//!   exactly the records that follow it, in the same order, so replays get
//!   the same sequence numbers.
//! - **Feedback.** [`SourceContext::durable`] publishes the last durably
//!   checkpointed position. Only that position may be reported to the source
//!   server as flushed (PostgreSQL standby status); the server may discard
//!   log up to it.
//! - **Shutdown.** When [`SourceContext::shutdown`] turns true the source
//!   stops reading, returns `Ok(())` promptly, and the pipeline drains and
//!   checkpoints what was emitted.
//! - **Once mode.** With [`SourceContext::once`], the source notes the end of
//!   its log when it starts, emits everything up to there, and returns
//!   `Ok(())` (batch sync).
//! - Errors: [`SourceError`] says whether reconnecting may help.

pub mod catalog;
pub mod generate;
pub mod kafka;
pub mod mongodb;
pub mod mysql;
pub mod online;
pub mod postgres;
pub mod requests;
pub mod row_keys;

use crate::record::{Change, Position, Row, TableRef, TableSchema};
use crate::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Everything a source gets from the pipeline when it starts.
pub struct SourceContext {
    /// Pipeline name, copied into every record.
    pub pipeline: String,
    /// Resume after this position (the last durable checkpoint), or start
    /// from the beginning / initial snapshot when `None`.
    pub resume: Option<Position>,
    /// Catch up to the end of the log as of start, then return.
    pub once: bool,
    /// Hands records to the pipeline.
    pub emitter: Emitter,
    /// The last durably checkpointed position (for server feedback).
    pub durable: watch::Receiver<Option<Position>>,
    /// Becomes true when the pipeline must stop.
    pub shutdown: watch::Receiver<bool>,
    /// Tables or keys to copy again while streaming (`requests`).
    pub requests: Arc<requests::CopyRequests>,
    /// Early apply of streamed transactions, when the pipeline's targets
    /// can hold a transaction open (see `crate::pipeline::early`).
    pub early: Option<Arc<crate::pipeline::early::EarlyApply>>,
}

impl SnapshotProgress {
    /// Records that `table` is copied as the ranges ending at `uppers`
    /// (the last one `None`).
    pub fn split(&mut self, table: &str, uppers: Vec<Option<Vec<String>>>) {
        self.ranges.retain(|(n, _)| n != table);
        let ranges = uppers.into_iter().map(|upper| KeyRange { upper, last: None, done: false }).collect();
        self.ranges.push((table.to_string(), ranges));
    }

    /// The ranges `table` is copied as, if it is split.
    pub fn ranges_of(&self, table: &str) -> Option<&[KeyRange]> {
        self.ranges.iter().find(|(n, _)| n == table).map(|(_, r)| r.as_slice())
    }

    /// Records that a chunk of range `range` of `table` was emitted, up to
    /// `last_key` or to the range's end (`done`). Returns true when that
    /// made the whole table done (it then moves to `done`).
    pub fn range_chunk_emitted(&mut self, table: &str, range: usize, done: bool, last_key: Vec<String>) -> bool {
        let Some(at) = self.ranges.iter().position(|(n, _)| n == table) else { return false };
        let r = &mut self.ranges[at].1[range];
        r.done |= done;
        if !done {
            r.last = Some(last_key);
        }
        if !self.ranges[at].1.iter().all(|r| r.done) {
            return false;
        }
        self.ranges.remove(at);
        self.done.push(table.to_string());
        true
    }

    /// Tables begun and not done (one or more ranges, or a partial table).
    pub fn in_progress(&self) -> usize {
        self.partial.len() + self.ranges.len()
    }

    /// Records that a chunk of `table` was emitted: the table is done, or
    /// copied up to `last_key` (key values as the source prints them).
    pub fn chunk_emitted(&mut self, table: &str, done: bool, last_key: Vec<String>) {
        self.partial.retain(|(n, _)| n != table);
        if done {
            self.done.push(table.to_string());
        } else {
            self.partial.push((table.to_string(), last_key));
        }
    }
}

impl SourceContext {
    /// Emits one snapshot chunk of `table`: every row as SNAPSHOT_READ, the
    /// last one ending the "transaction" with `position` (the snapshot
    /// progress after this chunk), or a position marker for an empty chunk.
    /// `documents`: the rows are documents (`Change.documents`).
    pub async fn emit_chunk(
        &self,
        source: &str,
        table: &TableRef,
        key: &[String],
        documents: bool,
        rows: Vec<Row>,
        position: Position,
    ) -> Result<(), PipelineClosed> {
        let n = rows.len();
        if n == 0 {
            return self.emitter.emit(position_marker(&self.pipeline, source, position)).await;
        }
        for (i, row) in rows.into_iter().enumerate() {
            let last = i + 1 == n;
            self.emitter
                .emit(Change {
                    pipeline: self.pipeline.clone(),
                    source: source.to_string(),
                    op: crate::record::Op::SnapshotRead as i32,
                    table: Some(table.clone()),
                    key_columns: key.to_vec(),
                    after: Some(row),
                    tx_end: last,
                    position: last.then(|| position.clone()),
                    documents,
                    ..Default::default()
                })
                .await?;
        }
        Ok(())
    }

    /// Emits a TRUNCATE of `table`: before the copy of a keyless table,
    /// which is one unit (a copy that starts again empties the targets
    /// first; rows without a key cannot be upserted over).
    pub async fn emit_truncate(&self, source: &str, table: &TableRef) -> Result<(), PipelineClosed> {
        self.emitter
            .emit(Change {
                pipeline: self.pipeline.clone(),
                source: source.to_string(),
                op: crate::record::Op::Truncate as i32,
                table: Some(table.clone()),
                ..Default::default()
            })
            .await
    }

    /// Emits the schema of a table about to be copied or streamed (a
    /// table of documents marks the record too).
    pub async fn emit_schema(&self, source: &str, schema: TableSchema) -> Result<(), PipelineClosed> {
        self.emitter
            .emit(Change {
                pipeline: self.pipeline.clone(),
                source: source.to_string(),
                op: crate::record::Op::SchemaChange as i32,
                table: schema.table.clone(),
                key_columns: schema.key_columns.clone(),
                documents: schema.documents,
                schema_change: Some(crate::record::SchemaChange { schema: Some(schema), ddl: String::new() }),
                ..Default::default()
            })
            .await
    }

    /// Waits until the pipeline has durably checkpointed a position (the
    /// source emits a position marker first). Returns false on shutdown.
    ///
    /// A source whose starting point exists nowhere but in our checkpoint
    /// (a binlog position, unlike a PostgreSQL slot) calls this before it
    /// emits any row: otherwise a crash after rows reached a target but
    /// before the first checkpoint would make the next run start from a
    /// later point and never see what changed in between.
    pub async fn wait_until_durable(&self) -> bool {
        let mut durable = self.durable.clone();
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            r = durable.wait_for(|d| d.is_some()) => r.is_ok(),
            _ = stopped(&mut shutdown) => false,
        }
    }
}

/// What a source reports about itself: the pipeline creates one per
/// pipeline, hands it to the source inside its [`Emitter`], and the admin
/// endpoint and `logferry bench` read it. Updated with atomics, so reading
/// it never slows the source.
#[derive(Debug, Default)]
pub struct SourceStats {
    /// Nanoseconds the source waited for room in the pipeline's intake.
    blocked_ns: AtomicU64,
    /// The initial (or online) copy, per table, in the order started.
    copies: std::sync::Mutex<Vec<TableCopy>>,
    /// Bytes the source is behind the end of its log, plus one (0: it has
    /// not said; PostgreSQL: server WAL end − last received LSN).
    behind_bytes: AtomicU64,
}

/// How far the copy of one table got (`status`, progress bars, `/metrics`).
#[derive(Debug, Clone, PartialEq)]
pub struct TableCopy {
    /// The table, `schema.name` (or `database.name`, `db.collection`).
    pub table: String,
    /// Rows emitted so far.
    pub rows: u64,
    /// The source's estimate of the table's rows when the copy started
    /// (`pg_class.reltuples`, `information_schema.tables.table_rows`,
    /// `estimatedDocumentCount`); `None` when it has none.
    pub estimate: Option<u64>,
    /// Chunks emitted so far.
    pub chunks: u64,
    /// Every row is emitted.
    pub done: bool,
    /// When this process started copying it.
    pub started: std::time::Instant,
    /// When it finished (`done`).
    pub finished: Option<std::time::Instant>,
}

impl SourceStats {
    /// The source waited `d` for room in the pipeline (it was faster than
    /// the stages after it).
    pub fn blocked(&self, d: Duration) {
        self.blocked_ns.fetch_add(d.as_nanos() as u64, Relaxed);
    }

    /// Time spent waiting for room so far.
    pub fn blocked_time(&self) -> Duration {
        Duration::from_nanos(self.blocked_ns.load(Relaxed))
    }

    /// The copy of `table` starts (again, when resumed: `rows` counts this
    /// process's rows only); `estimate` is the source's guess of its rows.
    pub fn copy_started(&self, table: &str, estimate: Option<u64>) {
        let mut copies = self.copies.lock().expect("not poisoned");
        copies.retain(|c| c.table != table);
        copies.push(TableCopy {
            table: table.to_string(),
            rows: 0,
            estimate,
            chunks: 0,
            done: false,
            started: std::time::Instant::now(),
            finished: None,
        });
    }

    /// A chunk of `rows` rows of `table` was emitted; `done`: it was the last.
    pub fn copy_chunk(&self, table: &str, rows: u64, done: bool) {
        let mut copies = self.copies.lock().expect("not poisoned");
        if let Some(c) = copies.iter_mut().find(|c| c.table == table) {
            c.rows += rows;
            c.chunks += 1;
            if done && !c.done {
                c.done = true;
                c.finished = Some(std::time::Instant::now());
            }
        }
    }

    /// Every table copy this process started, in the order started.
    pub fn copies(&self) -> Vec<TableCopy> {
        self.copies.lock().expect("not poisoned").clone()
    }

    /// The source is `bytes` behind the end of its log (where it can say).
    pub fn set_behind_bytes(&self, bytes: u64) {
        self.behind_bytes.store(bytes.saturating_add(1), Relaxed);
    }

    /// Bytes behind the end of the log, when the source said.
    pub fn behind_bytes(&self) -> Option<u64> {
        self.behind_bytes.load(Relaxed).checked_sub(1)
    }
}

/// Sends records into the pipeline, waiting while its queues are full.
#[derive(Clone)]
pub struct Emitter {
    tx: mpsc::Sender<Change>,
    /// Counts the time spent waiting for room (the pipeline's stage figures).
    stats: Option<Arc<SourceStats>>,
}

/// The pipeline has stopped taking records (it failed or is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the pipeline stopped taking records")]
pub struct PipelineClosed;

impl Emitter {
    /// Wraps the sending half of the pipeline's intake channel.
    pub fn new(tx: mpsc::Sender<Change>) -> Self {
        Emitter { tx, stats: None }
    }

    /// Adds the time spent waiting for room to `stats`.
    pub fn timed(mut self, stats: Arc<SourceStats>) -> Self {
        self.stats = Some(stats);
        self
    }

    /// The stats handle the source reports its copy progress and lag to
    /// (a detached one when the pipeline gave none).
    pub fn stats(&self) -> Arc<SourceStats> {
        self.stats.clone().unwrap_or_default()
    }

    /// Emits one record; waits while the pipeline is full.
    pub async fn emit(&self, change: Change) -> Result<(), PipelineClosed> {
        let Some(stats) = &self.stats else {
            return self.tx.send(change).await.map_err(|_| PipelineClosed);
        };
        match self.tx.try_send(change) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(PipelineClosed),
            Err(mpsc::error::TrySendError::Full(change)) => {
                let began = std::time::Instant::now();
                let sent = self.tx.send(change).await.map_err(|_| PipelineClosed);
                stats.blocked(began.elapsed());
                sent
            }
        }
    }
}

/// Matches `*` (any run) and `?` (one character) globs.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// How far an initial snapshot got: kept inside a source's checkpoint
/// position until the copy is complete, so a crashed copy resumes at the
/// next chunk.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct SnapshotProgress {
    /// Tables (`schema.name`) whose every row is emitted.
    pub done: Vec<String>,
    /// Tables partly emitted: the key of the last row of the last complete
    /// chunk, in PostgreSQL text form, one entry per key column.
    pub partial: Vec<(String, Vec<String>)>,
    /// Tables split into primary-key ranges read in parallel (PostgreSQL):
    /// each table's ranges in key order, with how far each got. Absent in
    /// checkpoints written before ranges existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<(String, Vec<KeyRange>)>,
}

/// One primary-key range of a table copied in parallel: the keys after the
/// previous range's `upper` (from the first key for the first range) up to
/// and including its own `upper` (to the last key for the last range).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct KeyRange {
    /// The range's last key (text, one entry per key column); `None`: the
    /// table's end.
    pub upper: Option<Vec<String>>,
    /// The key of the last row of the last chunk emitted; `None`: not started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Vec<String>>,
    /// Every row of the range is emitted.
    #[serde(default)]
    pub done: bool,
}

/// Preflight checks collect every problem before failing, so an operator
/// fixes them in one go: a definite error's message joins `problems` (and
/// the default value stands in), anything else passes through.
pub fn note_problem<T: Default>(problems: &mut Vec<String>, r: Result<T, SourceError>) -> Result<T, SourceError> {
    match r {
        Ok(t) => Ok(t),
        Err(e @ SourceError::Definite { .. }) => {
            problems.push(e.detail());
            Ok(T::default())
        }
        Err(e) => Err(e),
    }
}

/// Fails with every collected preflight problem, one per line.
pub fn fail_on_problems(source: &str, problems: Vec<String>) -> Result<(), SourceError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SourceError::definite(source, problems.join("\n")))
    }
}

/// A heartbeat record: no data, only a checkpointable position (a
/// transaction with no rows for us, an idle heartbeat, a snapshot chunk of
/// an empty table).
pub fn position_marker(pipeline: &str, source: &str, position: Position) -> Change {
    Change {
        pipeline: pipeline.to_string(),
        source: source.to_string(),
        op: crate::record::Op::Heartbeat as i32,
        position: Some(position),
        tx_end: true,
        ..Default::default()
    }
}

/// Holds back the last record of an open source transaction: only when the
/// transaction's end arrives is it known to be the last, and then it goes
/// out with `tx_end` and the end's position. Sources with commit events
/// (pgoutput, the binlog) share this.
#[derive(Debug, Default)]
pub struct TxTail {
    held: Option<Change>,
}

impl TxTail {
    /// Holds `rec`; returns the record held before, which is not the
    /// transaction's last and can be emitted now.
    pub fn hold(&mut self, rec: Change) -> Option<Change> {
        self.held.replace(rec)
    }

    /// Forgets what is held (a new transaction begins).
    pub fn clear(&mut self) {
        self.held = None;
    }

    /// The transaction ended at `position`: the held record marked as its
    /// last, or — for a transaction with no records for us — a heartbeat
    /// carrying the position, so the checkpoint moves on.
    pub fn end(&mut self, pipeline: &str, source: &str, position: Position) -> Change {
        match self.held.take() {
            Some(mut last) => {
                last.tx_end = true;
                last.position = Some(position);
                last
            }
            None => position_marker(pipeline, source, position),
        }
    }

    /// Hands out the held record without ending anything (a source that
    /// must not keep a record with no transaction around it).
    pub fn take(&mut self) -> Option<Change> {
        self.held.take()
    }
}

/// Resolves once `shutdown` is true (or its sender is gone). Holds no
/// guard across awaits, so it can sit in a `select!` of a `Send` future.
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await.map(|_| ());
}

/// A change log reader. See the module docs for the contract.
pub trait Source: Send {
    /// Short name for logs, e.g. `postgres:127.0.0.1:5432/shop`.
    fn name(&self) -> &str;

    /// Reads and emits until the end (once mode), shutdown, or an error.
    fn run(&mut self, ctx: SourceContext) -> BoxFuture<'_, Result<(), SourceError>>;

    /// Whether the source serves [`SourceContext::requests`] (copies a
    /// table or keys again while it streams); the pipeline fails the
    /// requests of a source that does not.
    fn copies_online(&self) -> bool {
        false
    }

    /// Whether a replay from a checkpoint reads the same row changes in
    /// the same order (a database's log: yes). Only then do the log
    /// ordinals the SQL targets record for exactly-once mean the same
    /// records in every run; a source that cannot promise it (Kafka
    /// consumer groups: partitions interleave and move between members)
    /// gets at-least-once into them, made harmless by keyed upserts.
    fn replays_in_order(&self) -> bool {
        true
    }
}

/// Why a source stopped, classified by what the caller must do.
///
/// `message` says what failed in the source's words; `cause`, when there
/// is one, is the driver's error underneath, kept as the error's source
/// (print the whole chain with [`crate::ErrorChain`]).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Connection lost or server busy: reconnecting and resuming from the
    /// checkpoint may succeed.
    #[error("source {source_name}: {message}")]
    Transient {
        /// The source's name.
        source_name: String,
        /// What failed.
        message: String,
        /// The underlying error, if any.
        #[source]
        cause: Option<Cause>,
    },
    /// Misconfiguration, missing grants, lost log position, unsupported
    /// data: an operator must act; the message says how.
    #[error("source {source_name}: {message}")]
    Definite {
        /// The source's name.
        source_name: String,
        /// What failed and how to fix it.
        message: String,
        /// The underlying error, if any.
        #[source]
        cause: Option<Cause>,
    },
    /// The pipeline stopped taking records (its own error is reported).
    #[error(transparent)]
    Closed(#[from] PipelineClosed),
}

/// The error underneath a [`SourceError`].
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

impl SourceError {
    /// True when reconnecting may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, SourceError::Transient { .. })
    }

    /// A failure reconnecting may cure, with no underlying error.
    pub fn transient(source: &str, message: impl Into<String>) -> Self {
        SourceError::Transient { source_name: source.to_string(), message: message.into(), cause: None }
    }

    /// A failure an operator must fix, with no underlying error.
    pub fn definite(source: &str, message: impl Into<String>) -> Self {
        SourceError::Definite { source_name: source.to_string(), message: message.into(), cause: None }
    }

    /// Keeps `cause` as this error's source (`Closed` has its own).
    pub fn caused_by(mut self, e: impl Into<Cause>) -> Self {
        if let SourceError::Transient { cause, .. } | SourceError::Definite { cause, .. } = &mut self {
            *cause = Some(e.into());
        }
        self
    }

    /// `message`, then the texts of the causes (for lists of problems,
    /// where the source's name is said once for all).
    pub fn detail(&self) -> String {
        match self {
            SourceError::Transient { message, cause, .. } | SourceError::Definite { message, cause, .. } => match cause {
                Some(c) => format!("{message}: {}", crate::ErrorChain(&**c)),
                None => message.clone(),
            },
            SourceError::Closed(e) => e.to_string(),
        }
    }
}

pub use crate::CauseText;
