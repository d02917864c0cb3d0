//! Online copies of the MySQL / MariaDB source: the [`Engine`] of
//! `sources::online` (which describes the method) with binlog positions
//! as watermarks — nothing is written to the source.
//!
//! One chunk at a time, a reader with its own connection reads the chunk
//! in one autocommit statement (a fresh consistent read): the next
//! `snapshot_chunk_rows` rows after the last key copied, in key order
//! (`SELECT … WHERE (key) > (last) ORDER BY key LIMIT n`, the initial
//! copy's own query and decoding), or the rows of the requested keys;
//! then it takes the **high watermark**, the end of the binlog
//! (`SHOW MASTER STATUS`).
//!
//! The binlog carries no mark of where the read began, so the window
//! opens when the reader is started: the stream's position then is at or
//! before the end of the binlog when the read begins (the **low
//! watermark**), so the stream notes every change of the table from the
//! low watermark on, and possibly a few before it — those keys are left
//! to the stream too, which already carried their latest change. When
//! the stream is at or after the high watermark at a transaction boundary
//! ([`MyOnline::stream_at`]: after each event, when the reader finishes —
//! an idle stream is already there — and at a heartbeat, whose `log_pos`
//! says how far the server has sent), the chunk is emitted with the
//! stream's position.
//!
//! A transaction is written to the binlog before InnoDB commits it, so a
//! change after the high watermark is not in the chunk.
//!
//! **Progress.** Whole-table copies are kept in the position
//! ([`MyPosition::online`], keys in hex as the initial copy keeps them),
//! and tables configured since the last checkpoint
//! ([`MyPosition::tables`]) are copied this way without stopping the
//! stream.
//!
//! **Known limit.** A transaction binlogged before the read began but
//! committed in InnoDB only after it (the moment between the two inside
//! the server's commit) would be missing from the chunk while the stream
//! emitted it before; `logferry verify` finds such a row and `--repair`
//! mends it.

use super::catalog::{self, Table};
use super::stream::before;
use super::{definite, mysql_error, snapshot, Flavor, MyPosition, SourceResult};
use crate::record::Position;
use crate::sources::online::{ChunkRead, Engine, Job, Online, Pending};
use crate::sources::SourceContext;
use crate::tls::mysql::MysqlEndpoint;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use std::collections::HashMap;
use tokio::task::JoinHandle;

/// The online copies of a MySQL / MariaDB streaming session.
pub type MyOnline = Online<MyEngine>;

/// What the reader needs besides its tables.
pub struct Settings {
    pub opts: MysqlEndpoint,
    pub source: String,
    pub flavor: Flavor,
    /// `[[pipeline.table]]` row keys, for tables without a primary key.
    pub row_keys: Vec<(String, Vec<String>)>,
    pub chunk_rows: usize,
}

/// Online copies for a session streaming `tables`; `pending` are the
/// whole-table copies to do.
pub fn new(settings: Settings, tables: &[Table], pending: Pending) -> MyOnline {
    let (source, chunk_rows) = (settings.source.clone(), settings.chunk_rows);
    // Chunks are numbered from the session's start time in microseconds.
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let first_chunk = u64::try_from(since_epoch.as_micros()).unwrap_or_default();
    let engine = MyEngine { settings, tables: tables.to_vec(), estimates: HashMap::new(), conn: None, first_chunk };
    Online::new(engine, &source, tables.iter().map(Table::table_ref).collect(), chunk_rows, pending)
}

/// Reading chunks of a MySQL / MariaDB table up to a binlog position.
pub struct MyEngine {
    settings: Settings,
    tables: Vec<Table>,
    /// Row estimates of the tables copied so far.
    estimates: HashMap<usize, Option<u64>>,
    /// The reader connection, kept between chunks.
    conn: Option<Conn>,
    /// [`MyPosition::chunk`] of this session's chunk 0.
    first_chunk: u64,
}

/// What a reader hands back besides rows.
pub struct MyMarks {
    /// The end of the binlog after the read.
    pub high: MyPosition,
    conn: Option<Conn>,
    /// The chunk asked the table's row estimate.
    estimated: bool,
}

impl Engine for MyEngine {
    type At = MyPosition;
    type Marks = MyMarks;
    const KIND: &'static str = "mysql";
    const OPEN_AT_START: bool = true;

    fn read(&mut self, _window: u64, job: &Job, chunk_rows: usize) -> JoinHandle<SourceResult<ChunkRead<MyMarks>>> {
        let s = &self.settings;
        let read = Read {
            opts: s.opts.clone(),
            source: s.source.clone(),
            flavor: s.flavor,
            row_keys: s.row_keys.clone(),
            table: self.tables[job.table()].clone(),
            estimate: self.estimates.get(&job.table()).copied(),
            job: job.clone(),
            chunk_rows,
            conn: self.conn.take(),
        };
        tokio::spawn(read.run())
    }

    fn finished(&mut self, table: usize, read: &mut ChunkRead<MyMarks>) {
        self.conn = read.marks.conn.take();
        if read.marks.estimated {
            self.estimates.insert(table, read.estimate);
        }
    }

    fn failed(&mut self) {
        self.conn = None;
    }

    fn position(&self, at: &MyPosition, tables: Vec<String>, online: Pending) -> Position {
        MyPosition { tables: Some(tables), online, snapshot: None, ..at.clone() }.to_position()
    }

    fn reached(at: &MyPosition, durable: &MyPosition) -> bool {
        // At the same binlog position, only the chunk's own position (or a
        // later chunk's) says its rows are applied.
        before(at, durable) || (!before(durable, at) && durable.chunk >= at.chunk)
    }
}

impl Online<MyEngine> {
    /// The stream is at a transaction boundary: `seen` is how far the
    /// binlog has been delivered (its position, or a heartbeat's), `at`
    /// the position to resume after. At or after the current chunk's high
    /// watermark the chunk is emitted, ending with `at`; true when it was.
    pub async fn stream_at(&mut self, seen: &MyPosition, at: &MyPosition, ctx: &SourceContext) -> SourceResult<bool> {
        match (self.read_marks(), self.window()) {
            (Some(marks), Some(window)) if !before(seen, &marks.high) => {
                let at = MyPosition { chunk: Some(self.engine.first_chunk + window), ..at.clone() };
                self.high(at, ctx).await
            }
            _ => Ok(false),
        }
    }
}

/// One chunk's reader.
struct Read {
    opts: MysqlEndpoint,
    source: String,
    flavor: Flavor,
    row_keys: Vec<(String, Vec<String>)>,
    table: Table,
    /// The table's estimate when an earlier chunk asked it.
    estimate: Option<Option<u64>>,
    job: Job,
    chunk_rows: usize,
    conn: Option<Conn>,
}

impl Read {
    async fn run(self) -> SourceResult<ChunkRead<MyMarks>> {
        let source = self.source.as_str();
        let mut conn = match self.conn {
            Some(c) => c,
            None => super::connect(&self.opts, source).await?,
        };
        // The columns as they are now (an ALTER since the start shows).
        let t = catalog::load_table(&mut conn, &self.table.database, &self.table.name, source)
            .await?
            .with_row_key(&self.row_keys)
            .map_err(|p| definite(source, p))?;
        let key_idx = snapshot::key_indexes(&t, source)?;
        let whole = matches!(self.job, Job::Table { .. });
        let (estimate, estimated) = match self.estimate {
            None if whole => (snapshot::estimate(&mut conn, &t, source).await?, true),
            e => (e.flatten(), false),
        };
        let (rows, last_key, done) = match &self.job {
            Job::Table { after, .. } => {
                let after = after.as_deref().map(snapshot::key_from_text);
                let chunk = snapshot::read_chunk(&mut conn, &t, &key_idx, after.as_deref(), self.chunk_rows, source).await?;
                let last = (!chunk.rows.is_empty()).then(|| snapshot::key_text(&chunk.last_key));
                (chunk.rows, last, chunk.done)
            }
            Job::Keys { request, .. } => {
                let sql = snapshot::keys_sql(&t, &key_idx, request.keys.as_deref().unwrap_or_default());
                let rows: Vec<mysql_async::Row> =
                    conn.query(sql).await.map_err(|e| mysql_error(source, &format!("reading {} online", t.qualified()), &e))?;
                (snapshot::decode_rows(&t, &rows, source)?, None, true)
            }
        };
        let high = super::master_status(&mut conn, self.flavor, source).await?;
        Ok(ChunkRead {
            schema: t.schema(),
            estimate,
            rows,
            last_key,
            done,
            marks: MyMarks { high, conn: Some(conn), estimated },
        })
    }
}
