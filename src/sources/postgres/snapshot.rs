//! The initial snapshot: copy the selected tables as of the slot's
//! consistent point, in primary-key chunks, several tables at a time.
//!
//! Readers (`snapshot_parallel` of them) are separate sessions in
//! `REPEATABLE READ READ ONLY` transactions that import the snapshot
//! exported by `CREATE_REPLICATION_SLOT` (or, when resuming a crashed
//! snapshot, take a fresh one). Their work is a queue of tables and of
//! primary-key ranges of big tables (see `ranges.rs`, planned before the
//! readers start), so one big table is read by several readers at once.
//! Each reader walks its table or range with a cursor ordered by the key,
//! starting after the last key of the last checkpointed chunk (bound as
//! parameters, see `select_sql`), and hands
//! whole chunks to the emitting loop. The emitting loop emits a table's
//! schema record (once, before the table's first chunk from any reader),
//! then its rows as `SNAPSHOT_READ`, and ends every chunk
//! with a record carrying the snapshot progress as its position, so the
//! pipeline can checkpoint it. Ranges hold disjoint keys, so chunks of
//! different ranges may interleave without reordering any key. A table
//! with no rows gets a heartbeat record
//! carrying that progress. When every table is done, a heartbeat with the
//! plain streaming position ends the snapshot.
//!
//! A table without a primary key is walked by its rule's row key (see
//! `catalog::Table::key_from_rule`); as that key may repeat or hold NULLs,
//! a resumed snapshot copies such a table again from its start. A keyless
//! table without a rule (replicated by whole rows) is read in physical
//! order and is one unit: its schema record is followed by a TRUNCATE
//! record, so a copy that starts again (resumed after a crash, or copied
//! anew) first empties what an earlier attempt left on the targets, then
//! copies the whole table.
//!
//! Progress goes to the source's stats (`SourceStats::copy_started`,
//! `copy_chunk`) as each table's schema and chunks are emitted. The row
//! estimate is `pg_class.reltuples`; a table never analysed (or analysed
//! empty) has −1 or 0 there, which says nothing, so such a table is counted
//! exactly inside the snapshot when it is small (under
//! [`COUNT_BELOW_BYTES`] on disk) and has no estimate otherwise. A resumed
//! copy counts only the rows it copies now; the estimate stays the whole
//! table's.

use super::catalog::{self, quote_ident, quote_literal, CatalogColumn, Table, TypeResolver};
use super::position::{PgPosition, SnapshotProgress};
use super::ranges;
use super::types::{self, PgType};
use super::{sql_error, ConnInfo, SourceResult};
use crate::record::{Column, Row, TableSchema, Value};
use crate::sources::{position_marker, SourceContext, SourceError};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_postgres::{Client, SimpleQueryMessage};

/// Chunks buffered between readers and the emitting loop (per reader one
/// more in flight); bounds snapshot memory to a few chunks.
const CHUNK_QUEUE: usize = 2;

/// A table with no usable `reltuples` is counted (`count(*)`) when it
/// takes less than this on disk: a few tens of milliseconds at most.
pub const COUNT_BELOW_BYTES: i64 = 64 << 20;

/// What `copy` needs.
pub struct CopyJob<'a> {
    pub conn: &'a ConnInfo,
    pub source: &'a str,
    pub tables: &'a [Table],
    /// The exported snapshot of a just-created slot; `None` = take a fresh one.
    pub exported: Option<&'a str>,
    /// Progress of an earlier, interrupted snapshot.
    pub progress: SnapshotProgress,
    /// Where streaming starts afterwards (the slot's consistent point).
    pub stream_lsn: u64,
    pub chunk_rows: usize,
    pub parallel: usize,
    pub ctx: &'a SourceContext,
}

/// A piece of a table from a reader.
enum Piece {
    /// The table's schema, before the reader's first chunk of it, and its
    /// row estimate.
    Schema { schema: TableSchema, table: usize, estimate: Option<u64> },
    /// Rows, the key of the last one (text), and whether the table (or the
    /// range, when `range` is set) is done.
    Chunk { table: usize, range: Option<usize>, rows: Vec<Row>, last_key: Vec<String>, done: bool },
}

/// What a reader copies next: a whole table, or one key range of it.
#[derive(Debug, Clone, Copy)]
struct Work {
    table: usize,
    range: Option<usize>,
}

/// Where a reader starts and stops in a table (text keys).
struct Bounds {
    /// Read after this key (the last copied, or the range's lower bound).
    after: Option<Vec<String>>,
    /// Read up to and including this key (a range's upper bound).
    upto: Option<Vec<String>>,
}

/// Copies every table not yet done. Returns false if shut down mid-way.
pub async fn copy(job: CopyJob<'_>) -> SourceResult<bool> {
    let CopyJob { conn, source, tables, exported, mut progress, stream_lsn, chunk_rows, parallel, ctx } = job;
    let names: Vec<String> = tables.iter().map(Table::qualified).collect();
    let tables_todo: Vec<usize> = (0..tables.len()).filter(|&i| !progress.done.contains(&tables[i].qualified())).collect();
    tracing::info!(tables = tables_todo.len(), already_done = progress.done.len(), "initial snapshot");
    // Every reader opens its session and imports the snapshot before the
    // copy starts, while the exporting session is still idle.
    let mut clients = Vec::with_capacity(parallel.max(1));
    for _ in 0..parallel.max(1) {
        let client = conn.connect(source).await?;
        begin(&client, exported, source).await?;
        clients.push(client);
    }
    plan_ranges(&clients[0], source, tables, &tables_todo, &mut progress, clients.len()).await?;
    let mut todo = VecDeque::new();
    for &i in &tables_todo {
        match progress.ranges_of(&tables[i].qualified()) {
            Some(ranges) => {
                todo.extend(ranges.iter().enumerate().filter(|(_, r)| !r.done).map(|(r, _)| Work { table: i, range: Some(r) }))
            }
            None => todo.push_back(Work { table: i, range: None }),
        }
    }
    let todo = Arc::new(Mutex::new(todo));
    let (tx, mut rx) = mpsc::channel::<Result<Piece, SourceError>>(CHUNK_QUEUE);
    let mut readers = tokio::task::JoinSet::new();
    let shared = Arc::new(progress.clone());
    for client in clients {
        let reader = Reader {
            client,
            source: source.to_string(),
            tables: tables.to_vec(),
            progress: shared.clone(),
            chunk_rows,
            todo: todo.clone(),
            tx: tx.clone(),
        };
        readers.spawn(reader.run());
    }
    drop(tx);
    let mut schema_sent = std::collections::HashSet::new();

    let mut shutdown = ctx.shutdown.clone();
    let stats = ctx.emitter.stats();
    loop {
        let piece = tokio::select! {
            biased;
            _ = crate::sources::stopped(&mut shutdown) => {
                readers.abort_all();
                return Ok(false);
            }
            p = rx.recv() => p,
        };
        let Some(piece) = piece else { break };
        match piece? {
            Piece::Schema { schema, table, estimate } => {
                // Readers of several ranges each send it; emitted once.
                if !schema_sent.insert(table) {
                    continue;
                }
                ctx.emit_schema("postgres", schema).await?;
                if tables[table].key.is_empty() {
                    ctx.emit_truncate("postgres", &tables[table].table_ref()).await?;
                }
                stats.copy_started(&tables[table].qualified(), estimate);
            }
            Piece::Chunk { table, range, rows, last_key, done } => {
                let t = &tables[table];
                let table_done = match range {
                    Some(r) => progress.range_chunk_emitted(&t.qualified(), r, done, last_key),
                    None => {
                        progress.chunk_emitted(&t.qualified(), done, last_key);
                        done
                    }
                };
                let position = PgPosition { snapshot: Some(progress.clone()), tables: Some(names.clone()), ..PgPosition::at(stream_lsn) }.to_position();
                let n = rows.len() as u64;
                ctx.emit_chunk("postgres", &t.table_ref(), &t.key, false, rows, position).await?;
                stats.copy_chunk(&t.qualified(), n, table_done);
            }
        }
    }
    while let Some(r) = readers.join_next().await {
        if let Err(e) = r {
            return Err(super::definite(source, "a snapshot reader failed").caused_by(e));
        }
    }
    // Snapshot complete: from here on the position is the stream's.
    let position = PgPosition { tables: Some(names), ..PgPosition::at(stream_lsn) }.to_position();
    ctx.emitter.emit(position_marker(&ctx.pipeline, "postgres", position)).await?;
    tracing::info!("initial snapshot complete");
    Ok(true)
}

/// Splits the big tables of `todo` not split yet into key ranges (see
/// `ranges.rs`), recording the plan in `progress`.
async fn plan_ranges(
    client: &Client,
    source: &str,
    tables: &[Table],
    todo: &[usize],
    progress: &mut SnapshotProgress,
    readers: usize,
) -> SourceResult<()> {
    if readers < 2 {
        return Ok(());
    }
    for &i in todo {
        let t = &tables[i];
        let name = t.qualified();
        // A rule's row key may repeat or be NULL; a table begun unsplit goes on unsplit.
        if t.key.is_empty() || t.key_from_rule || progress.ranges_of(&name).is_some() || progress.partial.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let estimate = ranges::rough_rows(client, source, t).await?;
        let n = ranges::range_count(Some(estimate), readers);
        if n < 2 {
            continue;
        }
        let uppers = ranges::bounds(client, source, t, estimate, n).await?;
        if uppers.len() > 1 {
            tracing::info!(table = %name, ranges = uppers.len(), "copying in key ranges");
            progress.split(&name, uppers);
        }
    }
    Ok(())
}

/// The rows of `t` as the catalog guesses them (`reltuples`), or — when
/// it cannot say and the table is small — counted in the snapshot.
async fn estimate(client: &Client, source: &str, t: &Table) -> SourceResult<Option<u64>> {
    let what = format!("estimating the rows of {}", t.qualified());
    let row = client
        .query_one("SELECT reltuples::float8, pg_relation_size(oid) FROM pg_class WHERE oid = $1", &[&t.oid])
        .await
        .map_err(|e| sql_error(source, &what, &e))?;
    let (reltuples, bytes): (f64, i64) = (row.get(0), row.get(1));
    if reltuples >= 1.0 {
        return Ok(Some(reltuples.round() as u64));
    }
    if bytes >= COUNT_BELOW_BYTES {
        return Ok(None);
    }
    let count: i64 = client
        .query_one(&format!("SELECT count(*) FROM {}", t.quoted()), &[])
        .await
        .map_err(|e| sql_error(source, &what, &e))?
        .get(0);
    Ok(Some(count.max(0) as u64))
}

async fn begin(client: &Client, exported: Option<&str>, source: &str) -> SourceResult<()> {
    let mut sql = String::from("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;");
    if let Some(id) = exported {
        sql.push_str(&format!("SET TRANSACTION SNAPSHOT {};", quote_literal(id)));
    }
    client.batch_execute(&sql).await.map_err(|e| sql_error(source, "opening the snapshot transaction", &e))
}

struct Reader {
    client: Client,
    source: String,
    tables: Vec<Table>,
    /// The progress when the copy started (where each table and range resumes).
    progress: Arc<SnapshotProgress>,
    chunk_rows: usize,
    todo: Arc<Mutex<VecDeque<Work>>>,
    tx: mpsc::Sender<Result<Piece, SourceError>>,
}

impl Reader {
    async fn run(self) {
        let mut resolver = TypeResolver::default();
        loop {
            let next = self.todo.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
            let Some(work) = next else { return };
            if let Err(e) = self.copy_table(work, &mut resolver).await {
                let _ = self.tx.send(Err(e)).await;
                return;
            }
        }
    }

    /// Where `work` starts and ends: after the last key copied (or the
    /// range's lower bound), up to the range's upper bound.
    fn bounds(&self, work: Work) -> Bounds {
        let t = &self.tables[work.table];
        let name = t.qualified();
        if let (Some(r), Some(ranges)) = (work.range, self.progress.ranges_of(&name)) {
            let lower = r.checked_sub(1).and_then(|p| ranges[p].upper.clone());
            return Bounds { after: ranges[r].last.clone().or(lower), upto: ranges[r].upper.clone() };
        }
        // A rule's row key need not be unique or non-NULL, so "after the
        // last key" could skip rows: such a table is copied again whole.
        let after = match t.key_from_rule || t.key.is_empty() {
            true => None,
            false => self.progress.partial.iter().find(|(n, _)| *n == name).map(|(_, k)| k.clone()),
        };
        Bounds { after, upto: None }
    }

    async fn copy_table(&self, work: Work, resolver: &mut TypeResolver) -> SourceResult<()> {
        let index = work.table;
        let t = &self.tables[index];
        let source = self.source.as_str();
        let cols = catalog::columns(&self.client, t, source).await?;
        let mut types = Vec::with_capacity(cols.len());
        for c in &cols {
            types.push(resolver.resolve(&self.client, c.type_oid, source).await?);
        }
        let logical = resolver.logical.columns(&self.client, &cols, source).await?;
        let schema = catalog::table_schema(t, &cols, logical, &t.key);
        let estimate = estimate(&self.client, source, t).await?;
        if self.tx.send(Ok(Piece::Schema { schema, table: index, estimate })).await.is_err() {
            return Ok(());
        }
        let mut key_idx = Vec::with_capacity(t.key.len());
        for k in &t.key {
            let i = cols.iter().position(|c| &c.name == k).ok_or_else(|| {
                super::definite(source, format!("key column `{k}` of {} is gone (dropped since the start?)", t.qualified()))
            })?;
            key_idx.push(i);
        }
        let bounds = self.bounds(work);
        let (sql, params) = select_sql(t, &cols, &key_idx, bounds.after.as_deref(), bounds.upto.as_deref());
        let cursor = format!("lf_{index}_{}", work.range.map_or(0, |r| r + 1));
        // Declared with the resume key bound as parameters; fetched as text.
        self.client
            .execute(
                &format!("DECLARE {cursor} NO SCROLL CURSOR FOR {sql}"),
                &param_refs(&params),
            )
            .await
            .map_err(|e| sql_error(source, &format!("reading {}", t.qualified()), &e))?;
        loop {
            let msgs = self
                .client
                .simple_query(&format!("FETCH {} FROM {cursor}", self.chunk_rows))
                .await
                .map_err(|e| sql_error(source, &format!("reading {}", t.qualified()), &e))?;
            let mut rows = Vec::with_capacity(self.chunk_rows);
            let mut last_key = Vec::new();
            for m in msgs {
                if let SimpleQueryMessage::Row(r) = m {
                    let mut columns = Vec::with_capacity(cols.len());
                    for (ci, (c, ty)) in cols.iter().zip(&types).enumerate() {
                        let value = match r.get(ci) {
                            None => Value::null(),
                            Some(text) => convert(ty, text, t, c, source)?,
                        };
                        columns.push(Column { name: c.name.clone(), value: Some(value) });
                    }
                    last_key = key_idx.iter().map(|&k| r.get(k).unwrap_or_default().to_string()).collect();
                    rows.push(Row { columns });
                }
            }
            let done = rows.len() < self.chunk_rows;
            let piece = Piece::Chunk { table: index, range: work.range, rows, last_key, done };
            if self.tx.send(Ok(piece)).await.is_err() || done {
                break;
            }
        }
        self.client
            .batch_execute(&format!("CLOSE {cursor}"))
            .await
            .map_err(|e| sql_error(source, &format!("reading {}", t.qualified()), &e))
    }
}

/// Converts one text value; a value the decoder cannot read stops the run
/// with the table, column and type named (never a silent NULL).
pub(super) fn convert(ty: &PgType, text: &str, t: &Table, c: &CatalogColumn, source: &str) -> SourceResult<Value> {
    types::text_to_value(ty, text).map_err(|e| {
        super::definite(source, format!("{}.{} ({}): {e}", t.qualified(), quote_ident(&c.name), c.type_text))
    })
}

/// `SELECT cols FROM t [WHERE (keys) > (last) [AND (keys) <= (upto)]]
/// ORDER BY keys` (no order for a keyless table), and the
/// statement's parameters: the keys' values as text, bound as
/// `$n::text::type` (never spliced into the SQL, so no session setting —
/// `standard_conforming_strings` — changes what they mean).
pub(super) fn select_sql(
    t: &Table,
    cols: &[CatalogColumn],
    key_idx: &[usize],
    after: Option<&[String]>,
    upto: Option<&[String]>,
) -> (String, Vec<String>) {
    let list = cols.iter().map(|c| quote_ident(&c.name)).collect::<Vec<_>>().join(", ");
    let keys = key_idx.iter().map(|&k| quote_ident(&cols[k].name)).collect::<Vec<_>>().join(", ");
    let mut sql = format!("SELECT {list} FROM {}", t.quoted());
    let mut params = Vec::new();
    let mut conditions = Vec::new();
    for (op, bound) in [(">", after), ("<=", upto)] {
        let Some(bound) = bound else { continue };
        let mut placeholders = Vec::with_capacity(key_idx.len());
        for (&k, v) in key_idx.iter().zip(bound) {
            params.push(v.clone());
            placeholders.push(text_param(params.len(), &cols[k].type_text));
        }
        conditions.push(format!("({keys}) {op} ({})", placeholders.join(", ")));
    }
    if !conditions.is_empty() {
        sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
    }
    if !keys.is_empty() {
        sql.push_str(&format!(" ORDER BY {keys}"));
    }
    (sql, params)
}

/// Parameter `$n`, sent as text and cast to `type_text` by the server.
pub(super) fn text_param(n: usize, type_text: &str) -> String {
    format!("${n}::text::{type_text}")
}

/// `params` as the driver takes them.
pub(super) fn param_refs(params: &[String]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_query_resumes_after_the_last_key() {
        let t = Table {
            oid: 1,
            schema: "s".into(),
            name: "o\"x".into(),
            key: vec!["a".into(), "b".into()],
            replica_identity: 'd',
            key_from_rule: false,
        };
        let col = |n: &str, ty: &str| CatalogColumn { name: n.into(), type_oid: 0, type_modifier: -1, type_text: ty.into(), not_null: true };
        let cols = [col("a", "integer"), col("v", "text"), col("b", "text")];
        assert_eq!(
            select_sql(&t, &cols, &[0, 2], None, None),
            (
                r#"SELECT "a", "v", "b" FROM "s"."o""x" ORDER BY "a", "b""#.to_string(),
                vec![]
            )
        );
        let key = vec!["7".to_string(), r"it\'s".to_string()];
        assert_eq!(
            select_sql(&t, &cols, &[0, 2], Some(&key), None),
            (
                r#"SELECT "a", "v", "b" FROM "s"."o""x" WHERE ("a", "b") > ($1::text::integer, $2::text::text) ORDER BY "a", "b""#.to_string(),
                key.clone()
            ),
            "the resume key is bound, never spliced into the SQL"
        );
        let upto = vec!["9".to_string(), "z".to_string()];
        assert_eq!(
            select_sql(&t, &cols, &[0, 2], Some(&key), Some(&upto)),
            (
                r#"SELECT "a", "v", "b" FROM "s"."o""x" WHERE ("a", "b") > ($1::text::integer, $2::text::text) AND ("a", "b") <= ($3::text::integer, $4::text::text) ORDER BY "a", "b""#.to_string(),
                [key.clone(), upto.clone()].concat()
            ),
            "a key range is bounded on both sides"
        );
        assert_eq!(
            select_sql(&t, &cols, &[0, 2], None, Some(&upto)).0,
            r#"SELECT "a", "v", "b" FROM "s"."o""x" WHERE ("a", "b") <= ($1::text::integer, $2::text::text) ORDER BY "a", "b""#,
            "the first range has no lower bound"
        );
    }
}
