//! Online copies: tables (or some keys of a table) read again while the
//! stream goes on, ordered with it by watermarks in the log — the method
//! of Netflix's DBLog and Debezium's incremental snapshots. This module is
//! the part every source shares; how a chunk is read and where its
//! watermarks are is the source's [`Engine`] (PostgreSQL:
//! `sources::postgres::online`, logical messages; MySQL / MariaDB:
//! `sources::mysql::online`, binlog positions).
//!
//! One chunk at a time, a reader of the engine's own (its own connection,
//! in its own task) takes a **low watermark**, reads the chunk — the next
//! `snapshot_chunk_rows` rows after the last key copied, in key order, or
//! the rows of the requested keys — and takes a **high watermark**.
//!
//! The stream sees both watermarks in log order. Inside the window (from
//! the low watermark, or from the chunk's start when the engine cannot
//! see its low watermark in the stream, which only notes more keys) it
//! notes the key of every change to the table ([`Online::observe`]); at
//! the high watermark ([`Online::high`]) the chunk's rows are emitted
//! *except* those keys as `SNAPSHOT_READ` records (the stream already
//! carried a change of them at least as new as the read), and the chunk
//! ends with a position at the high watermark. A chunk row is therefore
//! never older than what the stream emitted before it, and a key the
//! stream changes later is applied after it: the target converges while
//! every other table keeps streaming. A TRUNCATE of the table inside the
//! window drops the chunk (it is read again).
//!
//! **Requests.** Whole-table copies (`logferry snapshot`, tables added to
//! `tables`) and key copies (`verify --repair`: a requested key the source
//! no longer has becomes a DELETE) come from [`CopyRequests`]; each
//! request's state goes back to it, and turns *applied* once the
//! checkpoint passes the chunk's position ([`Online::durable`]).
//!
//! **Progress.** Whole-table copies are kept in the position (the engine
//! writes [`Online::pending`]: table and last key copied), so a restarted
//! run resumes at the next chunk. Key copies are not kept: a run that dies
//! before they are applied leaves them to the next `verify`.
//!
//! **Keyless tables** (no key columns: replicated by whole rows) are not
//! copied online: their chunk rows cannot be told apart from rows the
//! stream changed; such a request fails with the way out (a new initial
//! snapshot), and a pending copy of one is dropped with a warning.
//!
//! [`CopyRequests`]: crate::sources::requests::CopyRequests

use crate::record::{Change, Column, Op, Position, Row, TableRef, TableSchema};
use crate::sources::requests::{CopyRequest, CopyState};
use crate::sources::{SourceContext, SourceError};
use std::collections::{HashMap, HashSet, VecDeque};
use tokio::task::JoinHandle;

/// A key as compared between chunk rows and stream changes: each key
/// column's canonical text (`None`: NULL or absent).
type KeyText = Vec<Option<String>>;

/// Whole-table copies not finished: the table and the key of the last row
/// copied (text, one per key column; `None`: not started).
pub type Pending = Vec<(String, Option<Vec<String>>)>;

/// What one chunk copies.
#[derive(Debug, Clone)]
pub enum Job {
    /// The next rows of a whole-table copy after `after` (text key).
    Table {
        /// Index in the engine's tables.
        table: usize,
        /// The last key copied (as the engine wrote it), `None` at the start.
        after: Option<Vec<String>>,
    },
    /// The rows of these keys (a request).
    Keys {
        /// Index in the engine's tables.
        table: usize,
        /// The request, with its keys.
        request: CopyRequest,
    },
}

impl Job {
    /// The index of the table the chunk reads.
    pub fn table(&self) -> usize {
        match self {
            Job::Table { table, .. } | Job::Keys { table, .. } => *table,
        }
    }
}

/// What a reader hands back.
pub struct ChunkRead<M> {
    /// The table's schema (with its key columns) as the reader saw it.
    pub schema: TableSchema,
    /// Rows the table holds, as the server guesses (progress figures).
    pub estimate: Option<u64>,
    /// The rows read, each with every column.
    pub rows: Vec<Row>,
    /// Text key of the last row read (whole-table copies).
    pub last_key: Option<Vec<String>>,
    /// Fewer rows than asked: the table is done.
    pub done: bool,
    /// The engine's own: its watermarks, the connection to reuse, …
    pub marks: M,
}

/// How a chunk's reader ended.
pub type ReaderOutcome<M> = Result<Result<ChunkRead<M>, SourceError>, tokio::task::JoinError>;

/// What differs between sources: how a chunk is read, what a position is.
pub trait Engine: Send {
    /// A point of the stream a chunk is emitted at (an LSN, a binlog position).
    type At: Clone + Send + 'static;
    /// The reader's own part of a [`ChunkRead`].
    type Marks: Send + 'static;
    /// The source kind in records (`postgres`, `mysql`).
    const KIND: &'static str;
    /// Whether a window notes the stream's changes from its start (the
    /// stream cannot tell where the low watermark is until the reader is
    /// done) rather than from [`Online::open`].
    const OPEN_AT_START: bool;

    /// Starts reading chunk `window` (watermarks included) in a task.
    fn read(&mut self, window: u64, job: &Job, chunk_rows: usize) -> JoinHandle<Result<ChunkRead<Self::Marks>, SourceError>>;
    /// A reader finished: keep what it lends back (connection, shapes).
    fn finished(&mut self, _table: usize, _read: &mut ChunkRead<Self::Marks>) {}
    /// A reader failed: forget its connection.
    fn failed(&mut self) {}
    /// The checkpointable position at `at`, recording the replicated
    /// `tables` and the unfinished whole-table copies.
    fn position(&self, at: &Self::At, tables: Vec<String>, online: Pending) -> Position;
    /// `at` is at or before `durable`.
    fn reached(at: &Self::At, durable: &Self::At) -> bool;
    /// Whether the chunk's read saw the transaction `tx_id` of the stream
    /// (a transaction it did not see had its changes streamed, but the
    /// chunk holds the rows as they were before it: its keys are left to
    /// the stream). Engines that cannot tell say it did.
    fn sees(_marks: &Self::Marks, _tx_id: &str) -> bool {
        true
    }
}

/// How long after a transient failure the next chunk is read.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);
/// Keys of recent transactions kept for [`Engine::sees`].
const RECENT_KEYS: usize = 100_000;

/// The chunk between its watermarks.
struct Window<M> {
    id: u64,
    job: Job,
    /// Changes of the table are being noted.
    open: bool,
    changed: HashSet<KeyText>,
    truncated: bool,
    /// The reader, until it finished; then its result.
    reader: Option<JoinHandle<Result<ChunkRead<M>, SourceError>>>,
    read: Option<ChunkRead<M>>,
}

/// The online copies of one streaming session.
pub struct Online<E: Engine> {
    /// The source's part.
    pub engine: E,
    source: String,
    tables: Vec<TableRef>,
    chunk_rows: usize,
    /// Whole-table copies not finished, in order (kept in positions).
    pending: Pending,
    /// Request ids waiting for each whole-table copy, and rows so far.
    table_requests: HashMap<String, Vec<u64>>,
    rows_copied: HashMap<String, u64>,
    /// Key requests not started.
    key_requests: VecDeque<(usize, CopyRequest)>,
    window: Option<Window<E::Marks>>,
    next_window: u64,
    schema_sent: HashSet<usize>,
    /// Requests emitted, waiting for the checkpoint to pass their chunk.
    unapplied: Vec<(u64, E::At, u64)>,
    /// (transaction, table, key) of the last changes streamed while copies
    /// are pending (at most `RECENT_KEYS`), for [`Engine::sees`].
    recent: VecDeque<(String, String, KeyText)>,
    /// A chunk failed transiently: no new chunk before this.
    retry_at: Option<std::time::Instant>,
}

fn qualified(t: &TableRef) -> String {
    format!("{}.{}", t.schema, t.name)
}

impl<E: Engine> Online<E> {
    /// Online copies for a session streaming `tables` (in the engine's
    /// order); `pending` are the whole-table copies to do (from the
    /// checkpoint, plus new tables).
    pub fn new(engine: E, source: &str, tables: Vec<TableRef>, chunk_rows: usize, pending: Pending) -> Self {
        let pending: Pending = pending.into_iter().filter(|(t, _)| tables.iter().any(|x| &qualified(x) == t)).collect();
        if !pending.is_empty() {
            tracing::info!(tables = %pending.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(", "),
                "copying table(s) online while the others stream");
        }
        Online {
            engine,
            source: source.to_string(),
            tables,
            chunk_rows: chunk_rows.max(1),
            pending,
            table_requests: HashMap::new(),
            rows_copied: HashMap::new(),
            key_requests: VecDeque::new(),
            window: None,
            next_window: 0,
            schema_sent: HashSet::new(),
            unapplied: Vec::new(),
            recent: VecDeque::new(),
            retry_at: None,
        }
    }

    /// The position at `at`, with the tables and the unfinished copies.
    pub fn position(&self, at: &E::At) -> Position {
        self.engine.position(at, self.tables.iter().map(qualified).collect(), self.pending.clone())
    }

    /// Nothing to copy and no chunk between its watermarks.
    pub fn idle(&self) -> bool {
        self.window.is_none() && self.pending.is_empty() && self.key_requests.is_empty()
    }

    /// Takes a request from the pipeline.
    pub fn accept(&mut self, request: CopyRequest, ctx: &SourceContext) {
        let wanted = &request.table;
        let found = self.tables.iter().position(|t| &qualified(t) == wanted).or_else(|| {
            let by_name: Vec<usize> = (0..self.tables.len()).filter(|&i| &self.tables[i].name == wanted).collect();
            (by_name.len() == 1).then(|| by_name[0])
        });
        let Some(i) = found else {
            let names: Vec<String> = self.tables.iter().map(qualified).collect();
            ctx.requests.set(
                request.id,
                CopyState::Failed(format!("table `{wanted}` is not replicated by this pipeline; its tables: {}", names.join(", "))),
            );
            return;
        };
        let name = qualified(&self.tables[i]);
        match request.keys {
            None => {
                tracing::info!(table = %name, request = request.id, "online copy requested");
                if !self.pending.iter().any(|(t, _)| *t == name) {
                    self.pending.push((name.clone(), None));
                    self.rows_copied.insert(name.clone(), 0);
                }
                self.table_requests.entry(name).or_default().push(request.id);
            }
            Some(_) => self.key_requests.push_back((i, request)),
        }
    }

    /// Starts the next chunk's reader when no chunk is between its watermarks.
    pub fn start_next(&mut self) {
        if self.window.is_some() || self.retry_at.is_some_and(|at| std::time::Instant::now() < at) {
            return;
        }
        self.retry_at = None;
        let job = if let Some((table, request)) = self.key_requests.pop_front() {
            Job::Keys { table, request }
        } else if let Some((name, after)) = self.pending.first() {
            let Some(table) = self.tables.iter().position(|t| &qualified(t) == name) else { return };
            Job::Table { table, after: after.clone() }
        } else {
            return;
        };
        self.next_window += 1;
        let reader = self.engine.read(self.next_window, &job, self.chunk_rows);
        self.window = Some(Window {
            id: self.next_window,
            job,
            open: E::OPEN_AT_START,
            changed: HashSet::new(),
            truncated: false,
            reader: Some(reader),
            read: None,
        });
    }

    /// The number of the chunk between its watermarks, if any.
    pub fn window(&self) -> Option<u64> {
        self.window.as_ref().map(|w| w.id)
    }

    /// The stream passed the current chunk's low watermark: its changes
    /// of the table are noted from here.
    pub fn open(&mut self) {
        if let Some(w) = self.window.as_mut() {
            w.open = true;
        }
    }

    /// The engine's part of the current chunk once its reader is done.
    pub fn read_marks(&self) -> Option<&E::Marks> {
        self.window.as_ref().and_then(|w| w.read.as_ref()).map(|r| &r.marks)
    }

    /// Resolves when the current chunk's reader finishes (never when
    /// there is none), with its outcome: cancel-safe, for the stream's
    /// `select!`; hand the outcome to [`Online::reader_done`].
    pub async fn reader_finished(&mut self) -> ReaderOutcome<E::Marks> {
        match self.window.as_mut().and_then(|w| w.reader.as_mut()) {
            Some(handle) => {
                let out = handle.await;
                if let Some(w) = self.window.as_mut() {
                    w.reader = None;
                }
                out
            }
            None => std::future::pending().await,
        }
    }

    /// Keeps a finished reader's rows for the high watermark; a failed
    /// reader gives its chunk up (retried when transient, the run's error
    /// otherwise).
    pub async fn reader_done(&mut self, outcome: ReaderOutcome<E::Marks>) -> Result<(), SourceError> {
        match outcome {
            Ok(Ok(mut read)) => {
                if let Some(w) = self.window.as_mut() {
                    self.engine.finished(w.job.table(), &mut read);
                    w.read = Some(read);
                }
                Ok(())
            }
            Ok(Err(e)) => {
                self.engine.failed();
                if let Some(Job::Keys { table, request }) = self.window.take().map(|w| w.job) {
                    self.key_requests.push_front((table, request));
                }
                if e.is_transient() {
                    tracing::warn!(error = %crate::ErrorChain(&e), "an online copy chunk failed; trying it again in a second");
                    // Not slept here: the stream goes on, and `start_next` waits.
                    self.retry_at = Some(std::time::Instant::now() + RETRY_AFTER);
                    Ok(())
                } else {
                    Err(e)
                }
            }
            Err(join) => {
                self.engine.failed();
                Err(SourceError::definite(&self.source, "an online copy reader failed").caused_by(join))
            }
        }
    }

    /// Notes a change of the stream (inside a window it keeps the chunk's
    /// row of that key from being emitted).
    pub fn observe(&mut self, rec: &Change) {
        if self.idle() {
            return;
        }
        if let Some(table) = rec.table.as_ref().filter(|_| !rec.tx_id.is_empty()) {
            for row in [&rec.after, &rec.before].into_iter().flatten() {
                if let Some(k) = key_of(row, &rec.key_columns) {
                    if self.recent.len() == RECENT_KEYS {
                        self.recent.pop_front();
                    }
                    self.recent.push_back((rec.tx_id.clone(), qualified(table), k));
                }
            }
        }
        let Some(w) = self.window.as_mut().filter(|w| w.open) else { return };
        let t = &self.tables[w.job.table()];
        let Some(table) = &rec.table else { return };
        if table.schema != t.schema || table.name != t.name {
            return;
        }
        if rec.op == Op::Truncate as i32 {
            w.truncated = true;
            return;
        }
        for row in [&rec.after, &rec.before].into_iter().flatten() {
            if let Some(k) = key_of(row, &rec.key_columns) {
                w.changed.insert(k);
            }
        }
    }

    /// The stream reached the current chunk's high watermark at `at` (a
    /// transaction boundary): the chunk is emitted, ending with a position
    /// at `at`. Returns false when nothing was emitted (no chunk, or it is
    /// read again); the caller then emits a position marker if it needs one.
    pub async fn high(&mut self, at: E::At, ctx: &SourceContext) -> Result<bool, SourceError> {
        let Some(w) = self.window.as_ref() else { return Ok(false) };
        if w.read.is_none() && w.reader.is_none() {
            self.window = None; // cannot happen: a failed reader's window is gone
            return Ok(false);
        }
        if w.read.is_none() {
            // The high watermark is the reader's last step: it is finishing.
            let outcome = self.reader_finished().await;
            self.reader_done(outcome).await?;
        }
        let Some(mut w) = self.window.take() else { return Ok(false) }; // the reader failed: retried
        let read = w.read.take().expect("the reader finished before its high watermark");
        if w.truncated {
            tracing::info!(table = %qualified(&self.tables[w.job.table()]), "the table was truncated during an online chunk; reading it again");
            if let Job::Keys { table, request } = w.job {
                self.key_requests.push_front((table, request));
            }
            return Ok(false);
        }
        // A transaction streamed before the window whose changes the read
        // did not see (see `Engine::sees`): the stream has the newer rows.
        let name = qualified(&self.tables[w.job.table()]);
        let mut changed = w.changed;
        for (tx, table, key) in &self.recent {
            if *table == name && !E::sees(&read.marks, tx) {
                changed.insert(key.clone());
            }
        }
        self.emit_chunk(w.job, changed, read, at, ctx).await?;
        Ok(true)
    }

    async fn emit_chunk(&mut self, job: Job, changed: HashSet<KeyText>, read: ChunkRead<E::Marks>, at: E::At, ctx: &SourceContext) -> Result<(), SourceError> {
        let ti = job.table();
        let t = self.tables[ti].clone();
        let key = read.schema.key_columns.clone();
        if key.is_empty() {
            return self.refuse_keyless(job, &t, at, ctx).await;
        }
        if self.schema_sent.insert(ti) {
            ctx.emit_schema(E::KIND, read.schema.clone()).await?;
        }
        let mut seen: HashSet<KeyText> = HashSet::new();
        let mut records: Vec<Change> = Vec::with_capacity(read.rows.len());
        for row in read.rows {
            let k = key_of(&row, &key).unwrap_or_default();
            seen.insert(k.clone());
            if changed.contains(&k) {
                continue;
            }
            records.push(record::<E>(ctx, &t, &key, Op::SnapshotRead, row));
        }
        let stats = ctx.emitter.stats();
        match &job {
            Job::Table { .. } => {
                let name = qualified(&t);
                if let Some(p) = self.pending.iter_mut().find(|(n, _)| *n == name) {
                    p.1 = read.last_key.clone().or(p.1.take());
                }
                if read.done {
                    self.pending.retain(|(n, _)| *n != name);
                }
                if !stats.copies().iter().any(|c| c.table == name && !c.done) {
                    stats.copy_started(&name, read.estimate);
                }
                let rows = self.rows_copied.entry(name.clone()).or_default();
                *rows += records.len() as u64;
                let rows = *rows;
                stats.copy_chunk(&name, records.len() as u64, read.done);
                for id in self.table_requests.get(&name).into_iter().flatten() {
                    ctx.requests.set(*id, if read.done { CopyState::Emitted { rows, applied: false } } else { CopyState::Copying { rows } });
                }
                if read.done {
                    tracing::info!(table = %name, rows, "online copy done");
                    for id in self.table_requests.remove(&name).unwrap_or_default() {
                        self.unapplied.push((id, at.clone(), rows));
                    }
                    self.rows_copied.remove(&name);
                }
            }
            Job::Keys { request, .. } => {
                // A requested key the source no longer has: delete it (unless
                // the stream changed it inside the window).
                for k in request.keys.iter().flatten() {
                    let text: KeyText = k.iter().map(crate::record::json::value_text).collect();
                    if seen.contains(&text) || changed.contains(&text) {
                        continue;
                    }
                    let columns = key.iter().zip(k).map(|(n, v)| Column { name: n.clone(), value: Some(v.clone()) }).collect();
                    let mut rec = record::<E>(ctx, &t, &key, Op::Delete, Row::default());
                    rec.after = None;
                    rec.before = Some(Row { columns });
                    records.push(rec);
                }
                let rows = records.len() as u64;
                ctx.requests.set(request.id, CopyState::Emitted { rows, applied: false });
                self.unapplied.push((request.id, at.clone(), rows));
            }
        }
        let position = self.position(&at);
        match records.last_mut() {
            Some(last) => {
                last.tx_end = true;
                last.position = Some(position);
            }
            None => records.push(crate::sources::position_marker(&ctx.pipeline, E::KIND, position)),
        }
        for r in records {
            ctx.emitter.emit(r).await?;
        }
        Ok(())
    }

    /// A table without key columns cannot be copied while it streams: a
    /// chunk's rows cannot be told apart from rows the stream changed
    /// inside the window. Its requests fail with the way out, and a
    /// pending whole-table copy is dropped.
    async fn refuse_keyless(&mut self, job: Job, t: &TableRef, at: E::At, ctx: &SourceContext) -> Result<(), SourceError> {
        let name = qualified(t);
        let why = format!(
            "table `{name}` has no key (it is replicated by whole rows): it cannot be copied online while it streams; \
             copy it with a new initial snapshot instead (`logferry reset` the pipeline, then run it), or give it a \
             primary key"
        );
        tracing::warn!(table = %name, "{why}");
        match job {
            Job::Table { .. } => {
                self.pending.retain(|(n, _)| *n != name);
                self.rows_copied.remove(&name);
                for id in self.table_requests.remove(&name).unwrap_or_default() {
                    ctx.requests.set(id, CopyState::Failed(why.clone()));
                }
            }
            Job::Keys { request, .. } => ctx.requests.set(request.id, CopyState::Failed(why)),
        }
        let position = self.position(&at);
        ctx.emitter.emit(crate::sources::position_marker(&ctx.pipeline, E::KIND, position)).await?;
        Ok(())
    }

    /// The checkpoint reached `durable`: requests emitted at or before it
    /// are applied.
    pub fn durable(&mut self, durable: &E::At, ctx: &SourceContext) {
        self.unapplied.retain(|(id, at, rows)| {
            if E::reached(at, durable) {
                ctx.requests.set(*id, CopyState::Emitted { rows: *rows, applied: true });
                false
            } else {
                true
            }
        });
    }
}

fn record<E: Engine>(ctx: &SourceContext, t: &TableRef, key: &[String], op: Op, row: Row) -> Change {
    Change {
        pipeline: ctx.pipeline.clone(),
        source: E::KIND.into(),
        op: op as i32,
        table: Some(t.clone()),
        key_columns: key.to_vec(),
        after: Some(row),
        copied: true,
        ..Default::default()
    }
}

/// The key of `row` as canonical text; `None` when a key column is absent.
fn key_of(row: &Row, key: &[String]) -> Option<KeyText> {
    key.iter()
        .map(|k| row.columns.iter().find(|c| &c.name == k).map(|c| c.value.as_ref().and_then(crate::record::json::value_text)))
        .collect()
}

/// The whole-table copies a session resuming from a checkpoint makes: the
/// checkpoint's unfinished ones (`online`), and — when `copy_new` (the
/// source's `snapshot = "initial"`) and the checkpoint recorded its tables
/// (`known`) — every table of `tables` configured since.
pub fn resume_pending(online: &Pending, known: Option<&Vec<String>>, copy_new: bool, tables: impl IntoIterator<Item = String>) -> Pending {
    let mut pending = online.clone();
    if let (Some(known), true) = (known, copy_new) {
        for name in tables {
            if !known.contains(&name) && !pending.iter().any(|(n, _)| *n == name) {
                tracing::info!(table = %name, "table added to `tables` since the last checkpoint: copying it online");
                pending.push((name, None));
            }
        }
    }
    pending
}
