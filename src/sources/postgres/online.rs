//! Online copies: tables (or some keys of a table) read again while the
//! stream goes on, ordered with it by watermarks in the log — the method
//! of Netflix's DBLog and Debezium's incremental snapshots.
//!
//! One chunk at a time, a reader session (autocommit, `READ COMMITTED`):
//!
//! 1. writes a **low watermark**: a non-transactional logical message
//!    (`pg_logical_emit_message(false, 'logferry.lw', '<slot>:<n>')`),
//! 2. reads the chunk: the next `snapshot_chunk_rows` rows after the last
//!    key copied, in key order (or the rows of the requested keys),
//! 3. writes a **high watermark** (`logferry.hw`).
//!
//! The stream sees both messages in log order. Between them it notes the
//! key of every change to the table; at the high watermark it emits the
//! chunk's rows *except* those keys as `SNAPSHOT_READ` records (the stream
//! already carried a change of them at least as new as the read), and ends
//! the chunk with a position at the high watermark. A chunk row is
//! therefore never older than what the stream emitted before it, and a key
//! the stream changes later is applied after it: the target converges
//! while every other table keeps streaming. A TRUNCATE of the table inside
//! the window drops the chunk (it is read again).
//!
//! **Progress.** Whole-table copies are kept in the position
//! ([`PgPosition::online`]: table and last key copied), so a restarted run
//! resumes at the next chunk. Tables configured since the last checkpoint
//! ([`PgPosition::tables`]) are copied this way without stopping the stream.
//! Key copies (`verify --repair`) are not kept: a run that dies before
//! they are applied leaves them to the next `verify`.
//!
//! **Commits in flight.** PostgreSQL writes a commit record before it
//! makes the transaction visible, so a transaction streamed just before
//! the low watermark can still be invisible to the chunk's read, which
//! then holds the row as it was before it. The chunk is read in one
//! `REPEATABLE READ` transaction together with `pg_current_snapshot()`,
//! and the keys of the recent transactions (the last `RECENT_KEYS`
//! changes streamed while copies are pending) that snapshot does not see
//! are left to the stream as well.

use super::catalog::{quote_ident, quote_literal, CatalogColumn, Table, TypeResolver};
use super::position::PgPosition;
use super::types::PgType;
use super::{sql_error, ConnInfo, SourceResult};
use crate::record::{Change, Column, Op, Row, TableSchema, Value};
use crate::sources::requests::{CopyRequest, CopyState};
use crate::sources::SourceContext;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, SimpleQueryMessage};

/// Prefix of the low watermark message.
pub const LOW_PREFIX: &str = "logferry.lw";
/// Prefix of the high watermark message.
pub const HIGH_PREFIX: &str = "logferry.hw";
/// Keys of recent transactions kept for the visibility check.
const RECENT_KEYS: usize = 100_000;

/// A key as compared between chunk rows and stream changes: each key
/// column's canonical text (`None`: NULL or absent).
type KeyText = Vec<Option<String>>;

/// How a chunk's reader ended.
pub type ReaderOutcome = Result<SourceResult<ChunkRead>, tokio::task::JoinError>;

/// What one chunk copies.
#[derive(Debug, Clone)]
enum Job {
    /// The next rows of a whole-table copy after `after` (text key).
    Table { table: usize, after: Option<Vec<String>> },
    /// The rows of these keys (a request).
    Keys { table: usize, request: CopyRequest },
}

impl Job {
    fn table(&self) -> usize {
        match self {
            Job::Table { table, .. } | Job::Keys { table, .. } => *table,
        }
    }
}

/// What the reader hands back once the high watermark is written.
pub struct ChunkRead {
    shape: Arc<Shape>,
    rows: Vec<Row>,
    /// Text key of the last row read (whole-table copies).
    last_key: Option<Vec<String>>,
    /// Fewer rows than asked: the table is done.
    done: bool,
    /// Which transactions the read saw.
    visibility: Visibility,
}

/// The chunk read's snapshot (`pg_current_snapshot()`), 32-bit xids as
/// the stream's Begin messages carry them.
#[derive(Debug, Default)]
struct Visibility {
    xmin: u32,
    xmax: u32,
    xip: HashSet<u32>,
}

impl Visibility {
    /// Parses `xmin:xmax:xip,…` (64-bit xids: the low 32 bits are kept).
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(':');
        let low = |s: &str| s.parse::<u64>().ok().map(|x| x as u32);
        let xmin = low(parts.next()?)?;
        let xmax = low(parts.next()?)?;
        let xip = parts.next().unwrap_or("").split(',').filter(|s| !s.is_empty()).map(low).collect::<Option<_>>()?;
        Some(Visibility { xmin, xmax, xip })
    }

    /// Whether a transaction committed before the snapshot (modulo-2^32
    /// xid order, as PostgreSQL compares them).
    fn sees(&self, xid: u32) -> bool {
        let before = |a: u32, b: u32| (a.wrapping_sub(b) as i32) < 0;
        before(xid, self.xmin) || (before(xid, self.xmax) && !self.xip.contains(&xid))
    }
}

/// A table's columns as the reader decodes them.
struct Shape {
    cols: Vec<CatalogColumn>,
    types: Vec<PgType>,
    key_idx: Vec<usize>,
    schema: TableSchema,
    /// `pg_class.reltuples` when the table was analysed.
    estimate: Option<u64>,
}

/// The chunk between its watermarks.
struct Window {
    tag: String,
    job: Job,
    /// The low watermark was seen: changes of the table are being noted.
    open: bool,
    changed: HashSet<KeyText>,
    truncated: bool,
    /// The reader, until it finished; then its result.
    reader: Option<JoinHandle<SourceResult<ChunkRead>>>,
    read: Option<ChunkRead>,
}

/// The online copies of one streaming session.
pub struct Online {
    conn: ConnInfo,
    source: String,
    slot: String,
    tables: Vec<Table>,
    chunk_rows: usize,
    /// Whole-table copies not finished, in order (kept in positions).
    pending: Vec<(String, Option<Vec<String>>)>,
    /// Request ids waiting for each whole-table copy, and rows so far.
    table_requests: HashMap<String, Vec<u64>>,
    rows_copied: HashMap<String, u64>,
    /// Key requests not started.
    key_requests: VecDeque<(usize, CopyRequest)>,
    window: Option<Window>,
    next_window: u64,
    shapes: HashMap<usize, Arc<Shape>>,
    schema_sent: HashSet<usize>,
    /// Requests emitted, waiting for the checkpoint to pass this LSN.
    unapplied: Vec<(u64, u64, u64)>,
    reader: Option<Arc<Client>>,
    /// (xid, table, key) of the last changes streamed while copies are
    /// pending (at most `RECENT_KEYS`), for [`Visibility`].
    recent: VecDeque<(u32, String, KeyText)>,
    /// Tells this session's watermarks from those of earlier sessions that
    /// a resumed stream reads again.
    session: String,
}

impl Online {
    /// Online copies for a session streaming `tables`; `pending` are the
    /// whole-table copies to do (from the checkpoint, plus new tables).
    pub fn new(conn: ConnInfo, source: &str, slot: &str, tables: &[Table], chunk_rows: usize, pending: Vec<(String, Option<Vec<String>>)>) -> Self {
        let pending: Vec<_> = pending.into_iter().filter(|(t, _)| tables.iter().any(|x| &x.qualified() == t)).collect();
        if !pending.is_empty() {
            tracing::info!(tables = %pending.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(", "),
                "copying table(s) online while the others stream");
        }
        Online {
            conn,
            source: source.to_string(),
            slot: slot.to_string(),
            tables: tables.to_vec(),
            chunk_rows: chunk_rows.max(1),
            pending,
            table_requests: HashMap::new(),
            rows_copied: HashMap::new(),
            key_requests: VecDeque::new(),
            window: None,
            next_window: 0,
            shapes: HashMap::new(),
            schema_sent: HashSet::new(),
            unapplied: Vec::new(),
            reader: None,
            recent: VecDeque::new(),
            session: format!(
                "{}.{}",
                std::process::id(),
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
            ),
        }
    }

    /// The position at `lsn`, with the tables and the unfinished copies.
    pub fn position(&self, lsn: u64) -> crate::record::Position {
        PgPosition {
            tables: Some(self.tables.iter().map(Table::qualified).collect()),
            online: self.pending.clone(),
            ..PgPosition::at(lsn)
        }
        .to_position()
    }

    /// Nothing to copy and no chunk between its watermarks.
    pub fn idle(&self) -> bool {
        self.window.is_none() && self.pending.is_empty() && self.key_requests.is_empty()
    }

    /// Takes a request from the pipeline.
    pub fn accept(&mut self, request: CopyRequest, ctx: &SourceContext) {
        let wanted = &request.table;
        let found = self
            .tables
            .iter()
            .position(|t| &t.qualified() == wanted)
            .or_else(|| {
                let by_name: Vec<usize> = (0..self.tables.len()).filter(|&i| &self.tables[i].name == wanted).collect();
                (by_name.len() == 1).then(|| by_name[0])
            });
        let Some(i) = found else {
            let names: Vec<String> = self.tables.iter().map(Table::qualified).collect();
            ctx.requests.set(
                request.id,
                CopyState::Failed(format!("table `{wanted}` is not replicated by this pipeline; its tables: {}", names.join(", "))),
            );
            return;
        };
        let name = self.tables[i].qualified();
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

    /// Starts the next chunk when none is between its watermarks.
    pub async fn start_next(&mut self) -> SourceResult<()> {
        if self.window.is_some() {
            return Ok(());
        }
        let job = if let Some((table, request)) = self.key_requests.pop_front() {
            Job::Keys { table, request }
        } else if let Some((name, after)) = self.pending.first() {
            let Some(table) = self.tables.iter().position(|t| &t.qualified() == name) else { return Ok(()) };
            Job::Table { table, after: after.clone() }
        } else {
            return Ok(());
        };
        let reader = match &self.reader {
            Some(c) if !c.is_closed() => c.clone(),
            _ => {
                let c = Arc::new(self.conn.connect(&self.source).await?);
                self.reader = Some(c.clone());
                c
            }
        };
        self.next_window += 1;
        let tag = format!("{}:{}:{}", self.slot, self.session, self.next_window);
        let read = Read {
            client: reader,
            source: self.source.clone(),
            table: self.tables[job.table()].clone(),
            shape: self.shapes.get(&job.table()).cloned(),
            job: job.clone(),
            tag: tag.clone(),
            chunk_rows: self.chunk_rows,
        };
        self.window = Some(Window {
            tag,
            job,
            open: false,
            changed: HashSet::new(),
            truncated: false,
            reader: Some(tokio::spawn(read.run())),
            read: None,
        });
        Ok(())
    }

    /// Resolves when the current chunk's reader finishes (never when
    /// there is none), with its outcome: cancel-safe, for the stream's
    /// `select!`; hand the outcome to [`Online::reader_done`].
    pub async fn reader_finished(&mut self) -> ReaderOutcome {
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
    pub async fn reader_done(&mut self, outcome: ReaderOutcome) -> SourceResult<()> {
        match outcome {
            Ok(Ok(read)) => {
                if let Some(w) = self.window.as_mut() {
                    w.read = Some(read);
                }
                Ok(())
            }
            Ok(Err(e)) => {
                if let Some(Job::Keys { table, request }) = self.window.take().map(|w| w.job) {
                    self.key_requests.push_front((table, request));
                }
                if e.is_transient() {
                    tracing::warn!(error = %crate::ErrorChain(&e), "an online copy chunk failed; trying it again");
                    self.reader = None;
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    Ok(())
                } else {
                    Err(e)
                }
            }
            Err(join) => Err(super::definite(&self.source, "an online copy reader failed").caused_by(join)),
        }
    }

    /// Notes a change of the stream (inside a window it keeps the chunk's
    /// row of that key from being emitted).
    pub fn observe(&mut self, rec: &Change) {
        if self.idle() {
            return;
        }
        // Keys of recent transactions, for the chunk's visibility check.
        if let (Some(table), Ok(xid)) = (&rec.table, rec.tx_id.parse::<u32>()) {
            for row in [&rec.after, &rec.before].into_iter().flatten() {
                if let Some(k) = key_of(row, &rec.key_columns) {
                    if self.recent.len() == RECENT_KEYS {
                        self.recent.pop_front();
                    }
                    self.recent.push_back((xid, table.qualified(), k));
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

    /// A watermark message (`prefix` is [`LOW_PREFIX`] or [`HIGH_PREFIX`]):
    /// at our chunk's high watermark the chunk is emitted, ending with a
    /// position. Returns false when nothing was emitted (the caller then
    /// emits a position marker): a low watermark, or another pipeline's.
    pub async fn watermark(&mut self, prefix: &str, content: &[u8], lsn: u64, ctx: &SourceContext) -> SourceResult<bool> {
        let tag = String::from_utf8_lossy(content);
        let Some(w) = self.window.as_mut().filter(|w| w.tag == tag) else { return Ok(false) };
        if prefix == LOW_PREFIX {
            w.open = true;
            return Ok(false);
        }
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
        let read = w.read.take().expect("the reader finished before writing the high watermark");
        let ti = w.job.table();
        self.shapes.insert(ti, read.shape.clone());
        if w.truncated {
            tracing::info!(table = %self.tables[ti].qualified(), "the table was truncated during an online chunk; reading it again");
            if let Job::Keys { table, request } = w.job {
                self.key_requests.push_front((table, request));
            }
            return Ok(false);
        }
        // A transaction streamed before the low watermark but not yet
        // visible to the chunk's snapshot (its commit record precedes the
        // watermark; PostgreSQL makes it visible a moment later): the chunk
        // holds the row as it was before it, so its keys go to the stream.
        let name = self.tables[ti].qualified();
        let mut changed = w.changed;
        for (xid, table, key) in &self.recent {
            if *table == name && !read.visibility.sees(*xid) {
                changed.insert(key.clone());
            }
        }
        self.emit_chunk(w.job, changed, read, lsn, ctx).await?;
        Ok(true)
    }

    async fn emit_chunk(&mut self, job: Job, changed: HashSet<KeyText>, read: ChunkRead, lsn: u64, ctx: &SourceContext) -> SourceResult<()> {
        let ti = job.table();
        let t = self.tables[ti].clone();
        let key = read.shape.schema.key_columns.clone();
        if self.schema_sent.insert(ti) {
            ctx.emit_schema("postgres", read.shape.schema.clone()).await?;
        }
        let mut seen: HashSet<KeyText> = HashSet::new();
        let mut records: Vec<Change> = Vec::with_capacity(read.rows.len());
        for row in read.rows {
            let k = key_of(&row, &key).unwrap_or_default();
            seen.insert(k.clone());
            if changed.contains(&k) {
                continue;
            }
            records.push(record(ctx, &t, &key, Op::SnapshotRead, row));
        }
        let stats = ctx.emitter.stats();
        match &job {
            Job::Table { .. } => {
                let name = t.qualified();
                if let Some(p) = self.pending.iter_mut().find(|(n, _)| *n == name) {
                    p.1 = read.last_key.clone().or(p.1.take());
                }
                if read.done {
                    self.pending.retain(|(n, _)| *n != name);
                }
                if !stats.copies().iter().any(|c| c.table == name && !c.done) {
                    stats.copy_started(&name, read.shape.estimate);
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
                        self.unapplied.push((id, lsn, rows));
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
                    let mut rec = record(ctx, &t, &key, Op::Delete, Row::default());
                    rec.after = None;
                    rec.before = Some(Row { columns });
                    records.push(rec);
                }
                let rows = records.len() as u64;
                ctx.requests.set(request.id, CopyState::Emitted { rows, applied: false });
                self.unapplied.push((request.id, lsn, rows));
            }
        }
        let position = self.position(lsn);
        match records.last_mut() {
            Some(last) => {
                last.tx_end = true;
                last.position = Some(position);
            }
            None => records.push(crate::sources::position_marker(&ctx.pipeline, "postgres", position)),
        }
        for r in records {
            ctx.emitter.emit(r).await?;
        }
        Ok(())
    }

    /// The checkpoint reached `lsn`: requests emitted at or before it are applied.
    pub fn durable(&mut self, lsn: u64, ctx: &SourceContext) {
        self.unapplied.retain(|&(id, at, rows)| {
            if at <= lsn {
                ctx.requests.set(id, CopyState::Emitted { rows, applied: true });
                false
            } else {
                true
            }
        });
    }
}

fn record(ctx: &SourceContext, t: &Table, key: &[String], op: Op, row: Row) -> Change {
    Change {
        pipeline: ctx.pipeline.clone(),
        source: "postgres".into(),
        op: op as i32,
        table: Some(t.table_ref()),
        key_columns: key.to_vec(),
        after: Some(row),
        ..Default::default()
    }
}

/// The key of `row` as canonical text; `None` when a key column is absent.
fn key_of(row: &Row, key: &[String]) -> Option<KeyText> {
    key.iter()
        .map(|k| row.columns.iter().find(|c| &c.name == k).map(|c| c.value.as_ref().and_then(crate::record::json::value_text)))
        .collect()
}

/// One chunk's reader: low watermark, read, high watermark.
struct Read {
    client: Arc<Client>,
    source: String,
    table: Table,
    shape: Option<Arc<Shape>>,
    job: Job,
    tag: String,
    chunk_rows: usize,
}

impl Read {
    async fn run(self) -> SourceResult<ChunkRead> {
        let source = self.source.as_str();
        let shape = match self.shape.clone() {
            Some(s) => s,
            None => Arc::new(shape(&self.client, &self.table, source).await?),
        };
        self.mark(LOW_PREFIX).await?;
        let sql = match &self.job {
            Job::Table { after, .. } => {
                let mut sql = super::snapshot::select_sql(&self.table, &shape.cols, &shape.key_idx, after.as_deref());
                sql.push_str(&format!(" LIMIT {}", self.chunk_rows));
                sql
            }
            Job::Keys { request, .. } => keys_sql(&self.table, &shape, request.keys.as_deref().unwrap_or_default()),
        };
        // One snapshot for both statements: the rows and which transactions they saw.
        let what = format!("reading {} online", self.table.qualified());
        let read = async {
            self.client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
            let snap: String = self.client.query_one("SELECT pg_current_snapshot()::text", &[]).await?.get(0);
            let msgs = self.client.simple_query(&sql).await?;
            self.client.batch_execute("COMMIT").await?;
            Ok::<_, tokio_postgres::Error>((snap, msgs))
        };
        let (snap, msgs) = match read.await {
            Ok(r) => r,
            Err(e) => {
                let _ = self.client.batch_execute("ROLLBACK").await;
                return Err(sql_error(source, &what, &e));
            }
        };
        let visibility = Visibility::parse(&snap)
            .ok_or_else(|| super::definite(source, format!("{what}: unreadable snapshot `{snap}`")))?;
        let mut rows = Vec::new();
        let mut last_key = None;
        for m in msgs {
            if let SimpleQueryMessage::Row(r) = m {
                let mut columns = Vec::with_capacity(shape.cols.len());
                for (ci, (c, ty)) in shape.cols.iter().zip(&shape.types).enumerate() {
                    let value = match r.get(ci) {
                        None => Value::null(),
                        Some(text) => super::snapshot::convert(ty, text, &self.table, c, source)?,
                    };
                    columns.push(Column { name: c.name.clone(), value: Some(value) });
                }
                last_key = Some(shape.key_idx.iter().map(|&k| r.get(k).unwrap_or_default().to_string()).collect());
                rows.push(Row { columns });
            }
        }
        let done = matches!(self.job, Job::Keys { .. }) || rows.len() < self.chunk_rows;
        self.mark(HIGH_PREFIX).await?;
        Ok(ChunkRead { shape, rows, last_key, done, visibility })
    }

    async fn mark(&self, prefix: &str) -> SourceResult<()> {
        self.client
            .query_one("SELECT pg_logical_emit_message(false, $1, $2::text)::text", &[&prefix, &self.tag])
            .await
            .map(|_| ())
            .map_err(|e| sql_error(&self.source, "writing an online copy watermark", &e))
    }
}

async fn shape(client: &Client, t: &Table, source: &str) -> SourceResult<Shape> {
    let cols = super::catalog::columns(client, t, source).await?;
    let mut resolver = TypeResolver::default();
    let mut types = Vec::with_capacity(cols.len());
    for c in &cols {
        types.push(resolver.resolve(client, c.type_oid, source).await?);
    }
    let logical = resolver.logical.columns(client, &cols, source).await?;
    let schema = super::catalog::table_schema(t, &cols, logical, &t.key);
    let key_idx = t
        .key
        .iter()
        .map(|k| {
            cols.iter().position(|c| &c.name == k).ok_or_else(|| {
                super::definite(source, format!("key column `{k}` of {} is gone (dropped since the start?)", t.qualified()))
            })
        })
        .collect::<SourceResult<Vec<_>>>()?;
    let estimate = client
        .query_opt("SELECT reltuples::float8 FROM pg_class WHERE oid = $1", &[&t.oid])
        .await
        .map_err(|e| sql_error(source, "reading the table's row estimate", &e))?
        .map(|r| r.get::<_, f64>(0))
        .filter(|n| *n >= 0.0)
        .map(|n| n as u64);
    Ok(Shape { cols, types, key_idx, schema, estimate })
}

/// `SELECT cols FROM t WHERE (keys) IN ((…), …)`: the key values as text
/// literals cast to their column's type.
fn keys_sql(t: &Table, shape: &Shape, keys: &[Vec<Value>]) -> String {
    let list = shape.cols.iter().map(|c| quote_ident(&c.name)).collect::<Vec<_>>().join(", ");
    let key_cols = shape.key_idx.iter().map(|&k| quote_ident(&shape.cols[k].name)).collect::<Vec<_>>().join(", ");
    let tuples: Vec<String> = keys
        .iter()
        .map(|k| {
            let lits: Vec<String> = shape
                .key_idx
                .iter()
                .zip(k)
                .map(|(&ci, v)| match crate::record::json::value_text(v) {
                    Some(text) => format!("{}::{}", quote_literal(&text), shape.cols[ci].type_text),
                    None => "NULL".to_string(),
                })
                .collect();
            format!("({})", lits.join(", "))
        })
        .collect();
    if tuples.is_empty() {
        return format!("SELECT {list} FROM {} WHERE false", t.quoted());
    }
    format!("SELECT {list} FROM {} WHERE ({key_cols}) IN ({})", t.quoted(), tuples.join(", "))
}

#[cfg(test)]
mod tests {
    use super::Visibility;

    #[test]
    fn a_snapshot_sees_what_committed_before_it() {
        let v = Visibility::parse("4294967396:4294967410:4294967400,4294967405").unwrap();
        // xids as the stream has them: the low 32 bits (epoch 1 here).
        assert!(v.sees(99) && v.sees(100) && v.sees(113), "committed before the snapshot");
        assert!(!v.sees(104) && !v.sees(109), "in progress at the snapshot");
        assert!(!v.sees(114) && !v.sees(500), "started after it");
        let w = Visibility::parse("4294967290:5:").unwrap();
        assert!(w.sees(4294967295) && w.sees(2) && !w.sees(5), "around the wrap");
        assert!(Visibility::parse("nope").is_none());
    }
}
