//! Online copies of the PostgreSQL source: the [`Engine`] of
//! `sources::online` (which describes the method) with logical messages
//! as watermarks.
//!
//! One chunk at a time, a reader session (autocommit, `READ COMMITTED`):
//!
//! 1. writes a **low watermark**: a non-transactional logical message
//!    (`pg_logical_emit_message(false, 'logferry.lw', '<slot>:<n>')`),
//! 2. reads the chunk: the next `snapshot_chunk_rows` rows after the last
//!    key copied, in key order (or the rows of the requested keys),
//! 3. writes a **high watermark** (`logferry.hw`).
//!
//! The stream sees both messages in log order ([`PgOnline::watermark`]):
//! at our low watermark the window opens (changes of the table are noted
//! from there), at our high watermark the chunk is emitted, with the
//! message's LSN as its position.
//!
//! **Progress.** Whole-table copies are kept in the position
//! ([`PgPosition::online`]), and tables configured since the last
//! checkpoint ([`PgPosition::tables`]) are copied this way without
//! stopping the stream.
//!
//! **Commits in flight.** PostgreSQL writes a commit record before it
//! makes the transaction visible, so a transaction streamed just before
//! the low watermark can still be invisible to the chunk's read, which
//! then holds the row as it was before it. The chunk is read in one
//! `REPEATABLE READ` transaction together with `pg_current_snapshot()`
//! ([`Visibility`]), and the keys of recent transactions that snapshot
//! does not see are left to the stream too ([`Engine::sees`]).
//!
//! **Sessions.** Watermark tags carry a session id: a resumed stream reads
//! an earlier session's watermarks again and must not take them for its
//! own.

use super::catalog::{quote_ident, CatalogColumn, Table, TypeResolver};
use super::position::PgPosition;
use super::types::PgType;
use super::{sql_error, ConnInfo, SourceResult};
use crate::record::{Column, Position, Row, TableSchema, Value};
use crate::sources::online::{ChunkRead, Engine, Job, Online, Pending};
use crate::sources::SourceContext;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, SimpleQueryMessage};

/// Prefix of the low watermark message.
pub const LOW_PREFIX: &str = "logferry.lw";
/// Prefix of the high watermark message.
pub const HIGH_PREFIX: &str = "logferry.hw";

/// The online copies of a PostgreSQL streaming session.
pub type PgOnline = Online<PgEngine>;

/// Online copies for a session streaming `tables` from slot `slot`;
/// `pending` are the whole-table copies to do.
pub fn new(conn: ConnInfo, source: &str, slot: &str, tables: &[Table], chunk_rows: usize, pending: Pending) -> PgOnline {
    let engine = PgEngine {
        conn,
        source: source.to_string(),
        slot: slot.to_string(),
        tables: tables.to_vec(),
        shapes: HashMap::new(),
        reader: None,
        session: format!(
            "{}.{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
        ),
    };
    Online::new(engine, source, tables.iter().map(Table::table_ref).collect(), chunk_rows, pending)
}

/// Reading chunks of a PostgreSQL table between logical-message watermarks.
pub struct PgEngine {
    conn: ConnInfo,
    source: String,
    slot: String,
    tables: Vec<Table>,
    shapes: HashMap<usize, Arc<Shape>>,
    /// The reader session, kept between chunks.
    reader: Option<Arc<Client>>,
    /// Tells this session's watermarks from an earlier session's.
    session: String,
}

/// What a PostgreSQL reader lends back: its session and the table's shape.
pub struct PgMarks {
    client: Arc<Client>,
    shape: Arc<Shape>,
    visibility: Visibility,
}

impl PgEngine {
    fn tag(&self, window: u64) -> String {
        format!("{}:{}:{window}", self.slot, self.session)
    }
}

impl Engine for PgEngine {
    type At = u64;
    type Marks = PgMarks;
    const KIND: &'static str = "postgres";
    const OPEN_AT_START: bool = false;

    fn read(&mut self, window: u64, job: &Job, chunk_rows: usize) -> JoinHandle<SourceResult<ChunkRead<PgMarks>>> {
        let read = Read {
            conn: self.conn.clone(),
            client: self.reader.clone().filter(|c| !c.is_closed()),
            source: self.source.clone(),
            table: self.tables[job.table()].clone(),
            shape: self.shapes.get(&job.table()).cloned(),
            job: job.clone(),
            tag: self.tag(window),
            chunk_rows,
        };
        tokio::spawn(read.run())
    }

    fn finished(&mut self, table: usize, read: &mut ChunkRead<PgMarks>) {
        self.reader = Some(read.marks.client.clone());
        self.shapes.insert(table, read.marks.shape.clone());
    }

    fn failed(&mut self) {
        self.reader = None;
    }

    fn position(&self, at: &u64, tables: Vec<String>, online: Pending) -> Position {
        PgPosition { tables: Some(tables), online, ..PgPosition::at(*at) }.to_position()
    }

    fn reached(at: &u64, durable: &u64) -> bool {
        at <= durable
    }

    fn sees(marks: &PgMarks, tx_id: &str) -> bool {
        tx_id.parse::<u32>().map_or(true, |xid| marks.visibility.sees(xid))
    }
}

impl Online<PgEngine> {
    /// A watermark message (`prefix` is [`LOW_PREFIX`] or [`HIGH_PREFIX`]):
    /// at our chunk's high watermark the chunk is emitted, ending with a
    /// position. Returns false when nothing was emitted (the caller then
    /// emits a position marker): a low watermark, or another pipeline's.
    pub async fn watermark(&mut self, prefix: &str, content: &[u8], lsn: u64, ctx: &SourceContext) -> SourceResult<bool> {
        let tag = String::from_utf8_lossy(content);
        if self.window().is_none_or(|w| self.engine.tag(w) != tag) {
            return Ok(false);
        }
        if prefix == LOW_PREFIX {
            self.open();
            return Ok(false);
        }
        self.high(lsn, ctx).await
    }
}

/// One chunk's reader: low watermark, read, high watermark.
struct Read {
    conn: ConnInfo,
    client: Option<Arc<Client>>,
    source: String,
    table: Table,
    shape: Option<Arc<Shape>>,
    job: Job,
    tag: String,
    chunk_rows: usize,
}

impl Read {
    async fn run(self) -> SourceResult<ChunkRead<PgMarks>> {
        let source = self.source.as_str();
        let client = match self.client.clone() {
            Some(c) => c,
            None => Arc::new(self.conn.connect(source).await?),
        };
        let shape = match self.shape.clone() {
            Some(s) => s,
            None => Arc::new(shape(&client, &self.table, source).await?),
        };
        self.mark(&client, LOW_PREFIX).await?;
        type Param = Box<dyn tokio_postgres::types::ToSql + Sync + Send>;
        let (sql, params): (String, Vec<Param>) = match &self.job {
            Job::Table { after, .. } => {
                let (mut sql, params) = super::snapshot::select_sql(&self.table, &shape.cols, &shape.key_idx, after.as_deref(), None);
                sql.push_str(&format!(" LIMIT {}", self.chunk_rows));
                (
                    sql,
                    params.into_iter().map(|p| Box::new(p) as Param).collect(),
                )
            }
            Job::Keys { request, .. } => {
                let (sql, params) = keys_sql(
                    &self.table,
                    &shape,
                    request.keys.as_deref().unwrap_or_default(),
                );
                (
                    sql,
                    params.into_iter().map(|p| Box::new(p) as Param).collect(),
                )
            }
        };
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            params.iter().map(|p| p.as_ref() as _).collect();
        // One snapshot for both statements: the rows and which transactions
        // they saw. The keys are bound as parameters of a cursor, whose rows
        // come back as text like the initial copy's.
        let what = format!("reading {} online", self.table.qualified());
        let read = async {
            client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
            let snap: String = client.query_one("SELECT pg_current_snapshot()::text", &[]).await?.get(0);
            let declare = format!("DECLARE lf_online NO SCROLL CURSOR FOR {sql}");
            client.execute(&declare, &params).await?;
            let msgs = client.simple_query("FETCH ALL FROM lf_online").await?;
            client.batch_execute("COMMIT").await?;
            Ok::<_, tokio_postgres::Error>((snap, msgs))
        };
        let (snap, msgs) = match read.await {
            Ok(r) => r,
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
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
        self.mark(&client, HIGH_PREFIX).await?;
        Ok(ChunkRead {
            schema: shape.schema.clone(),
            estimate: shape.estimate,
            rows,
            last_key,
            done,
            marks: PgMarks { client, shape, visibility },
        })
    }

    async fn mark(&self, client: &Client, prefix: &str) -> SourceResult<()> {
        client
            .query_one("SELECT pg_logical_emit_message(false, $1, $2::text)::text", &[&prefix, &self.tag])
            .await
            .map(|_| ())
            .map_err(|e| sql_error(&self.source, "writing an online copy watermark", &e))
    }
}

/// The chunk read's snapshot (`pg_current_snapshot()`), 32-bit xids as
/// the stream's Begin messages carry them.
#[derive(Debug, Default)]
struct Visibility {
    xmin: u32,
    xmax: u32,
    xip: std::collections::HashSet<u32>,
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

/// `SELECT cols FROM t WHERE (keys) IN (SELECT * FROM unnest($1, …))`:
/// one text array parameter per key column, cast by the server to an
/// array of the column's type (any number of keys; a NULL key part
/// matches nothing, as in the row itself).
fn keys_sql(t: &Table, shape: &Shape, keys: &[Vec<Value>]) -> (String, Vec<Vec<Option<String>>>) {
    let list = shape.cols.iter().map(|c| quote_ident(&c.name)).collect::<Vec<_>>().join(", ");
    if keys.is_empty() {
        return (format!("SELECT {list} FROM {} WHERE false", t.quoted()), Vec::new());
    }
    let key_cols = shape.key_idx.iter().map(|&k| quote_ident(&shape.cols[k].name)).collect::<Vec<_>>().join(", ");
    let mut params: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(keys.len()); shape.key_idx.len()];
    for k in keys {
        for (i, column) in params.iter_mut().enumerate() {
            column.push(k.get(i).and_then(crate::record::json::value_text));
        }
    }
    let arrays = shape
        .key_idx
        .iter()
        .enumerate()
        .map(|(i, &ci)| format!("${}::text[]::{}[]", i + 1, shape.cols[ci].type_text))
        .collect::<Vec<_>>()
        .join(", ");
    (format!("SELECT {list} FROM {} WHERE ({key_cols}) IN (SELECT * FROM unnest({arrays}))", t.quoted()), params)
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
