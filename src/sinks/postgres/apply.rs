//! The PostgreSQL dialect of the SQL engine: statements over array
//! parameters, binary or `text[]` (see `binary.rs`; prepared once per
//! connection), `COPY` for new rows, the type mapping with its
//! catalog look-ups, and the probe that names the column whose value did
//! not fit after a data error.
//!
//! # New rows by COPY
//!
//! An upsert group goes by `COPY … FROM STDIN (FORMAT binary)` (see
//! `copy.rs`) instead of the upsert when all of these hold:
//!
//! - its rows are fresh (each key first seen in the batch as an INSERT or
//!   SNAPSHOT_READ, never deleted in it; see [`crate::sinks::plan`]), none
//!   has UNCHANGED columns, and there are at least [`COPY_MIN_ROWS`];
//! - every value of every column has an exact binary form (`binary.rs`);
//! - the table has a unique index (or primary key) on exactly the key
//!   columns that is valid, immediate, not partial and without expressions,
//!   and no rules or `GENERATED ALWAYS` identity column
//!   ([`TableInfo::copy_keys`]): so a row that exists makes the COPY fail
//!   instead of adding a duplicate;
//! - the table is not in back-off (below).
//!
//! The COPY runs inside `SAVEPOINT lf_copy`. When it meets a row that
//! exists (SQLSTATE 23505: a replayed batch, a resumed snapshot range) it
//! is rolled back to the savepoint and the same group goes by the upsert,
//! so the result is what the upsert gives; the table then upserts its next
//! [`COPY_BACKOFF_BATCHES`] batches on this connection before COPY is tried
//! again. Any other error is handled as the upsert's is (the column named
//! after a data error, transient or definite by SQLSTATE).

use super::binary::{self, BinType, ColumnParam, PgCell, RowSql};
use super::copy::{self, CopyRows};
use super::error::{self, classify, excerpt};
use super::plan::TableWork;
use super::schema::{self, Resolved, TableInfo};
use super::sql::{self, quote_ident, Col};
use super::Postgres;
use crate::record::logical as dialects;
use crate::record::{ColumnSchema, LogicalKind, TableRef, TableSchema};
use crate::sinks::plan::{Group, RowOp};
use crate::sinks::schema_diff;
use crate::sinks::sql::{Common, Dialect, Failure, Forget, Mapped, ProgressRow, SqlTable, TableKey};
use crate::sinks::SinkError;
use bytes::Bytes;
use futures_sink::Sink;
use std::collections::HashMap;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};

/// Prepared statements kept per connection; past this the cache is cleared
/// (a pipeline with many tables and row shapes should not grow it forever).
const MAX_CACHED_STATEMENTS: usize = 512;

/// Fewest fresh rows in a group for `COPY` (see the module docs). A COPY
/// takes two round trips (SAVEPOINT pipelined with the COPY's start, then
/// the data with its end pipelined with RELEASE) where the upsert takes
/// one. Measured 2026-12-05 (release build, batches of new rows into a
/// 5-column table with a primary key on the test server, machine loaded;
/// best of 3 × 20 000 rows, two rounds): COPY against upsert per batch,
/// 1 row 500 / 367 µs against 239 / 215 µs, 16 rows 461 / 688 against
/// 421 / 386, 32 rows 490 / 533 against 461 / 679, 64 rows 738 / 678
/// against 831 / 828, 128 rows 1036 / 865 against 1155 / 1299: COPY wins
/// from 64 rows on.
pub const COPY_MIN_ROWS: usize = 64;

/// Batches a table upserts after a COPY met a row that exists, before
/// COPY is tried again.
pub const COPY_BACKOFF_BATCHES: u32 = 8;

/// Bytes of COPY data per message.
const COPY_CHUNK: usize = 64 * 1024;

/// A table in COPY back-off on one connection.
struct Backoff {
    /// Batches still to upsert.
    left: u32,
    /// The last batch counted.
    batch: u64,
}

/// One lane's connection.
pub struct PgConn {
    client: Client,
    /// Prepared statements by SQL text (they belong to `client`).
    statements: HashMap<String, Statement>,
    /// The batch's progress row (statement, row), sent with COMMIT in one
    /// round trip.
    progress: Option<(String, ProgressRow)>,
    /// Batches begun on this connection.
    batches: u64,
    /// Tables in COPY back-off, by SQL name.
    copy_backoff: HashMap<String, Backoff>,
}

impl PgConn {
    /// Whether `table` may use COPY in the current batch: not in back-off.
    /// The first call of a batch for a table in back-off counts the batch.
    fn copy_allowed(&mut self, table: &str) -> bool {
        let Some(b) = self.copy_backoff.get_mut(table) else { return true };
        if b.batch == self.batches {
            return false;
        }
        if b.left == 0 {
            self.copy_backoff.remove(table);
            return true;
        }
        b.left -= 1;
        b.batch = self.batches;
        false
    }
}

/// A data error (SQLSTATE class 22) in a row statement: after the rollback,
/// each column's values are cast alone to name the culprit.
pub struct CastProbe {
    table: String,
    /// (column, target type, the values sent).
    columns: Vec<(String, String, Vec<Option<String>>)>,
}

type PgFailure = Failure<Postgres>;

impl SqlTable for TableInfo {
    fn column_facts(&self, i: usize) -> (&str, bool) {
        (&self.columns[i].sql_type, self.columns[i].not_null)
    }
}

/// A column for the single-row statements (text parameters).
fn col(info: &TableInfo, i: usize) -> Col<'_> {
    Col { name: &info.columns[i].name, sql_type: &info.columns[i].sql_type, param: None }
}

/// The column type for a type found on the target (its array when
/// `array`), or the text fallback when there is none.
fn looked_up(found: Option<String>, array: bool) -> Mapped {
    match found {
        Some(t) => Mapped { sql_type: if array { t + "[]" } else { t }, fallback: false },
        None => Mapped { sql_type: schema::fallback(array), fallback: true },
    }
}

/// `schema.name`, `"Odd"."Name"` or `name` split into its unquoted parts;
/// `None` for anything else.
fn split_qualified(name: &str) -> Option<(Option<String>, String)> {
    let mut parts = Vec::new();
    let mut chars = name.chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            part = crate::sinks::sql::read_quoted(&mut chars, '"', false)?;
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                if !(c.is_alphanumeric() || c == '_' || c == '$') {
                    return None;
                }
                part.push(c);
                chars.next();
            }
        }
        if part.is_empty() {
            return None;
        }
        parts.push(part);
        match chars.next() {
            None => break,
            Some('.') => continue,
            Some(_) => return None,
        }
    }
    match parts.len() {
        1 => Some((None, parts.pop()?)),
        2 => {
            let name = parts.pop()?;
            Some((parts.pop(), name))
        }
        _ => None,
    }
}

impl Postgres {
    /// The enum type `schema.name` with `labels`, created (with its schema)
    /// when missing and tables are managed; else the text fallback.
    async fn enum_type(
        &self,
        conn: &mut PgConn,
        key: &TableKey,
        (schema, name): (&str, &str),
        labels: &[String],
        array: bool,
    ) -> Result<Mapped, PgFailure> {
        let qualified = sql::qualified(schema, name);
        let context = format!("table {}: enum type {qualified}", self.shown(key));
        let found = schema::lookup_type(&conn.client, &qualified).await.map_err(|e| self.db(&context, e))?;
        let found = match found {
            Some(t) => Some(t),
            None if self.common.create_tables => {
                self.exec(conn, &context, &sql::create_schema(schema)).await?;
                self.exec(conn, &context, &sql::create_enum(&qualified, labels)).await?;
                schema::lookup_type(&conn.client, &qualified).await.map_err(|e| self.db(&context, e))?
            }
            None => None,
        };
        Ok(looked_up(found, array))
    }

    pub(super) async fn open_conn(&self) -> Result<PgConn, SinkError> {
        Ok(PgConn {
            client: self.open_client().await?,
            statements: HashMap::new(),
            progress: None,
            batches: 0,
            copy_backoff: HashMap::new(),
        })
    }

    fn db(&self, context: &str, e: tokio_postgres::Error) -> PgFailure {
        let lost = error::connection_lost(&e);
        Failure { error: classify(&self.common.name, context, &e), lost, diagnosis: None }
    }

    async fn exec(&self, conn: &PgConn, context: &str, sql: &str) -> Result<(), PgFailure> {
        conn.client.batch_execute(sql).await.map_err(|e| self.db(context, e))
    }

    async fn prepare(&self, conn: &mut PgConn, context: &str, sql: &str, types: &[Type]) -> Result<Statement, PgFailure> {
        if let Some(st) = conn.statements.get(sql) {
            return Ok(st.clone());
        }
        if conn.statements.len() >= MAX_CACHED_STATEMENTS {
            conn.statements.clear();
        }
        let st = conn.client.prepare_typed(sql, types).await.map_err(|e| self.db(context, e))?;
        conn.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    /// Runs a prepared row statement over the columns' arrays (binary
    /// where they can be, see `binary.rs`).
    #[allow(clippy::too_many_arguments)]
    async fn run_arrays(
        &self,
        conn: &mut PgConn,
        info: &TableInfo,
        what: &str,
        shape: RowSql<'_>,
        cols: &[usize],
        arrays: Vec<Vec<PgCell>>,
        unchanged: &[usize],
    ) -> Result<(), PgFailure> {
        let context = format!("table {}: {what}", info.display());
        let columns: Vec<&super::schema::ColumnInfo> = cols.iter().map(|&i| &info.columns[i]).collect();
        let (sql, params) = binary::row_statement(&info.sql_name, &columns, &arrays, shape);
        let types: Vec<Type> = params.iter().map(|p| p.array_type()).collect();
        let st = self.prepare(conn, &context, &sql, &types).await?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let result = conn.client.execute(&st, &refs).await;
        drop(refs);
        drop(params);
        let Err(e) = result else { return Ok(()) };
        Err(self.row_failure(info, &context, &e, cols, &arrays, unchanged))
    }

    /// The failure of a row statement or COPY over `arrays` (the values of
    /// columns `cols`): a data error (class 22) carries the [`CastProbe`]
    /// that names the column.
    fn row_failure(
        &self,
        info: &TableInfo,
        context: &str,
        e: &tokio_postgres::Error,
        cols: &[usize],
        arrays: &[Vec<PgCell>],
        unchanged: &[usize],
    ) -> PgFailure {
        let lost = error::connection_lost(e);
        let mut error = classify(&self.common.name, context, e);
        let Some(db) = e.as_db_error() else { return Failure { error, lost, diagnosis: None } };
        let code = db.code().code();
        if code == "23502" {
            if let Some(col) = db.column().filter(|c| unchanged.iter().any(|&i| info.columns[i].name == *c)) {
                error = self.definite(format!(
                    "table {} column {}: the source did not send this column's value (an unchanged TOASTed value) for a row \
                     that does not exist on the target, and the column is NOT NULL, so there is no value to keep — the \
                     target is missing rows: re-snapshot the table (or make the column nullable on the target)",
                    info.display(),
                    quote_ident(col)
                ));
            }
        }
        if code.starts_with("22") {
            let columns = cols
                .iter()
                .zip(arrays)
                .map(|(&i, a)| (info.columns[i].name.clone(), info.columns[i].sql_type.clone(), binary::texts(a)))
                .collect();
            return Failure { error, lost, diagnosis: Some(CastProbe { table: info.display().to_string(), columns }) };
        }
        Failure { error, lost, diagnosis: None }
    }

    /// The binary type of each column of `g` when the group may go by COPY
    /// (see the module docs), else `None`.
    fn copy_types(conn: &mut PgConn, info: &TableInfo, key: &[usize], g: &Group<PgCell>) -> Option<Vec<BinType>> {
        if !g.fresh || !g.unchanged.is_empty() || g.len() < COPY_MIN_ROWS || !info.copy_key(key) {
            return None;
        }
        let types: Option<Vec<BinType>> =
            g.columns.iter().zip(&g.arrays).map(|(&i, a)| ColumnParam::new(info.columns[i].binary, a).binary()).collect();
        types.filter(|_| conn.copy_allowed(&info.sql_name))
    }

    /// Writes new rows with COPY inside a savepoint. `Ok(false)`: a row
    /// existed (23505); the COPY was rolled back and the table put in
    /// back-off, so the caller upserts the group instead.
    async fn copy_rows(
        &self,
        conn: &mut PgConn,
        info: &TableInfo,
        cols: &[usize],
        arrays: &[Vec<PgCell>],
        types: Vec<BinType>,
    ) -> Result<bool, PgFailure> {
        let context = format!("table {}: copy of new rows", info.display());
        let mut rows = CopyRows::new(types, arrays).map_err(|e| self.definite(format!("{context}: {e}")))?;
        let sql = copy::statement(&info.sql_name, cols.iter().map(|&i| info.columns[i].name.as_str()));
        let st = self.prepare(conn, &context, &sql, &[]).await?;
        // Pipelined: the savepoint, then the COPY, in one round trip.
        let (saved, sink) = tokio::join!(conn.client.batch_execute("SAVEPOINT lf_copy"), conn.client.copy_in::<_, Bytes>(&st));
        saved.map_err(|e| self.db(&context, e))?;
        let failed = |e: tokio_postgres::Error| self.row_failure(info, &context, &e, cols, arrays, &[]);
        let mut sink = std::pin::pin!(sink.map_err(failed)?);
        loop {
            // An encoding error drops the sink, which aborts the COPY.
            let chunk = rows.next_chunk(COPY_CHUNK).map_err(|e| self.definite(format!("{context}: {e}")))?;
            let Some(chunk) = chunk else { break };
            let sent = async {
                std::future::poll_fn(|cx| sink.as_mut().poll_ready(cx)).await?;
                sink.as_mut().start_send(chunk)
            };
            if let Err(e) = sent.await {
                // The server ended the COPY early: finish reads why.
                let e = sink.as_mut().finish().await.err().unwrap_or(e);
                return self.copy_failed(conn, info, e, cols, arrays).await;
            }
        }
        // Pipelined: the end of the data, then RELEASE (refused when the COPY failed).
        let (copied, released) = tokio::join!(sink.as_mut().finish(), conn.client.batch_execute("RELEASE SAVEPOINT lf_copy"));
        match copied {
            Ok(_) => released.map(|()| true).map_err(|e| self.db(&context, e)),
            Err(e) => self.copy_failed(conn, info, e, cols, arrays).await,
        }
    }

    /// A failed COPY: on a row that exists (23505), back to the savepoint
    /// and `Ok(false)`; else the failure, as an upsert's.
    async fn copy_failed(
        &self,
        conn: &mut PgConn,
        info: &TableInfo,
        e: tokio_postgres::Error,
        cols: &[usize],
        arrays: &[Vec<PgCell>],
    ) -> Result<bool, PgFailure> {
        let context = format!("table {}: copy of new rows", info.display());
        if e.code().map(|c| c.code()) != Some("23505") {
            return Err(self.row_failure(info, &context, &e, cols, arrays, &[]));
        }
        self.exec(conn, &context, "ROLLBACK TO SAVEPOINT lf_copy; RELEASE SAVEPOINT lf_copy").await?;
        if conn.copy_backoff.len() >= MAX_CACHED_STATEMENTS {
            conn.copy_backoff.clear();
        }
        conn.copy_backoff.insert(info.sql_name.clone(), Backoff { left: COPY_BACKOFF_BATCHES, batch: conn.batches });
        tracing::debug!(target_name = %self.common.name, table = %info.display(),
            "COPY of new rows met a row that exists (a replay or a resumed range): upserting them instead, and the \
             table's next {COPY_BACKOFF_BATCHES} batches");
        Ok(false)
    }
}

impl Dialect for Postgres {
    type Conn = PgConn;
    type Table = TableInfo;
    type Diagnosis = CastProbe;

    const QUOTE: char = '"';

    fn common(&self) -> &Common {
        &self.common
    }

    fn check_identifier(&self, name: &str) -> Result<(), String> {
        super::check_name_length(name)
    }

    /// The configured `schema`, else the source schema, else `public`.
    fn target_table(&self, t: &TableRef) -> Result<TableKey, String> {
        let schema = self.schema.clone().unwrap_or_else(|| if t.schema.is_empty() { "public".into() } else { t.schema.clone() });
        super::check_name_length(&schema)?;
        super::check_name_length(&t.name)?;
        Ok((schema, t.name.clone()))
    }

    async fn open(&self) -> Result<PgConn, SinkError> {
        self.open_conn().await
    }

    async fn usable(&self, conn: &mut PgConn) -> bool {
        !conn.client.is_closed()
    }

    async fn begin(&self, conn: &mut PgConn, _steps: usize) -> Result<(), PgFailure> {
        conn.progress = None;
        conn.batches += 1;
        self.exec(conn, "BEGIN", "BEGIN").await
    }

    /// COMMIT, with the progress row's upsert in front of it in the same
    /// round trip (pipelined: if the upsert fails, the server answers the
    /// COMMIT of the failed transaction with a rollback).
    async fn commit(&self, conn: &mut PgConn) -> Result<(), PgFailure> {
        let context = "COMMIT (the batch is not applied)";
        let Some((sql, row)) = conn.progress.take() else { return self.exec(conn, context, "COMMIT").await };
        let recording = "progress table: recording the batch (the batch is not applied)";
        let types = [Type::TEXT, Type::TEXT, Type::INT4, Type::INT4, Type::INT8, Type::INT8, Type::INT8, Type::TEXT];
        let st = self.prepare(conn, recording, &sql, &types).await?;
        let params: [&(dyn ToSql + Sync); 8] =
            [&row.pipeline, &row.target, &row.lanes, &row.lane, &row.epoch, &row.ordinal, &row.seq, &row.position];
        let (upsert, commit) = tokio::join!(conn.client.execute(&st, &params), conn.client.batch_execute("COMMIT"));
        upsert.map_err(|e| self.db(recording, e))?;
        commit.map_err(|e| self.db(context, e))
    }

    async fn rollback(&self, conn: &mut PgConn) -> bool {
        conn.progress = None;
        !conn.client.is_closed() && conn.client.batch_execute("ROLLBACK").await.is_ok()
    }

    /// Finds the column whose values the server refused by casting each
    /// column's values alone.
    async fn explain(&self, conn: &mut PgConn, error: SinkError, probe: CastProbe) -> SinkError {
        for (name, sql_type, values) in probe.columns {
            let Ok(st) = conn.client.prepare_typed(&sql::cast_probe(&sql_type), &[Type::TEXT_ARRAY]).await else { continue };
            if let Err(e) = conn.client.execute(&st, &[&values]).await {
                if let Some(db) = e.as_db_error() {
                    return self
                        .definite(format!(
                            "table {} column {} ({sql_type}): {} (SQLSTATE {}) — the value does not fit the target column type: \
                             change the column type on the target or keep the value from the target with a [[pipeline.table]] rule (exclude_columns, mask = \"null\", or a filter)",
                            probe.table,
                            quote_ident(&name),
                            excerpt(&crate::redact::pg_message(db.message()), 200),
                            db.code().code()
                        ))
                        .with_row_detail(format!("server: {}", excerpt(db.message(), 200)));
                }
            }
        }
        error
    }

    async fn close(&self, conn: PgConn) {
        drop(conn);
    }

    async fn load_table(&self, conn: &mut PgConn, key: &TableKey) -> Result<Option<TableInfo>, PgFailure> {
        let context = format!("table {}: reading the target catalog", self.shown(key));
        schema::load_table(&conn.client, &key.0, &key.1).await.map_err(|e| self.db(&context, e))
    }

    async fn table_work(&self, conn: &mut PgConn, info: &TableInfo, work: TableWork) -> Result<(), PgFailure> {
        if !work.deletes.is_empty() {
            self.run_arrays(conn, info, "delete", RowSql::Delete, &work.key, work.deletes, &[]).await?;
        }
        for g in work.groups {
            if let Some(types) = Self::copy_types(conn, info, &work.key, &g) {
                if self.copy_rows(conn, info, &g.columns, &g.arrays, types).await? {
                    continue;
                }
            }
            let key_pos: Vec<usize> =
                work.key.iter().map(|k| g.columns.iter().position(|c| c == k).expect("key columns are always present")).collect();
            let shape = if g.unchanged.is_empty() { RowSql::Upsert(&key_pos) } else { RowSql::UpdateThenInsert(&key_pos) };
            self.run_arrays(conn, info, "upsert", shape, &g.columns, g.arrays, &g.unchanged).await?;
        }
        Ok(())
    }

    async fn keyless_work(&self, conn: &mut PgConn, info: &TableInfo, ops: Vec<RowOp<PgCell>>) -> Result<(), PgFailure> {
        for op in ops {
            match op {
                RowOp::Append(g) => {
                    self.run_arrays(conn, info, "insert", RowSql::Insert, &g.columns, g.arrays, &[]).await?;
                }
                RowOp::Remove { columns, cells } => {
                    let cols: Vec<Col<'_>> = columns.iter().map(|&i| col(info, i)).collect();
                    let sql = sql::delete_one(&info.sql_name, &cols);
                    let context = format!("table {}: delete of one row (a table without a key)", info.display());
                    let st = self.prepare(conn, &context, &sql, &vec![Type::TEXT; cells.len()]).await?;
                    let cells = binary::texts(&cells);
                    let params: Vec<&(dyn ToSql + Sync)> = cells.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                    let deleted = conn.client.execute(&st, &params).await.map_err(|e| self.db(&context, e))?;
                    if deleted == 0 {
                        tracing::debug!(target_name = %self.common.name, table = %info.display(),
                            "no row equal to the old row of a delete or update (a table without a key): nothing to delete");
                    }
                }
            }
        }
        Ok(())
    }

    async fn move_key(
        &self,
        conn: &mut PgConn,
        info: &TableInfo,
        key: &[usize],
        old: &[PgCell],
        _new: &[PgCell],
        set: &[(usize, PgCell)],
    ) -> Result<(), PgFailure> {
        let set_cols: Vec<Col<'_>> = set.iter().map(|(i, _)| col(info, *i)).collect();
        let key_cols: Vec<Col<'_>> = key.iter().map(|&i| col(info, i)).collect();
        let new_key: Vec<usize> =
            key.iter().map(|k| set.iter().position(|(i, _)| i == k).expect("the engine checked the new key")).collect();
        let sql = sql::move_key(&info.sql_name, &key_cols, &set_cols, &new_key);
        let context = format!("table {}: key change", info.display());
        let st = self.prepare(conn, &context, &sql, &vec![Type::TEXT; old.len() + set.len()]).await?;
        let values = binary::texts(old.iter().chain(set.iter().map(|(_, v)| v)));
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let result = conn.client.execute(&st, &params).await;
        drop(params);
        result.map(|_| ()).map_err(|e| self.db(&context, e))
    }

    async fn truncate(&self, conn: &mut PgConn, info: &TableInfo, _alone: bool) -> Result<(), PgFailure> {
        self.exec(conn, &format!("table {}: truncate", info.display()), &sql::truncate(&info.sql_name)).await
    }

    /// The target type for a source column (see `schema.rs` and `logical.rs`).
    async fn column_type(&self, conn: &mut PgConn, key: &TableKey, column: &ColumnSchema) -> Result<Mapped, PgFailure> {
        let logical = column.logical.as_ref();
        let resolved = match logical {
            Some(l) if column.type_dialect != dialects::POSTGRESQL => super::logical::resolve(l, &key.1, &column.name),
            // PostgreSQL's own type text, or a record from before logical types.
            _ => schema::resolve(&column.source_type),
        };
        let (name, array) = match resolved {
            Resolved::Type(t) => return Ok(Mapped { sql_type: t, fallback: false }),
            Resolved::Enum { name, labels } => return self.enum_type(conn, key, (&key.0, &name), &labels, false).await,
            Resolved::Lookup { name, array } => (name, array),
            Resolved::Unknown { array } => return Ok(looked_up(None, array)),
        };
        let context = format!("table {}: looking up type {name}", self.shown(key));
        if let Some(t) = schema::lookup_type(&conn.client, &name).await.map_err(|e| self.db(&context, e))? {
            return Ok(looked_up(Some(t), array));
        }
        // A source enum missing here: made from its labels, under its own name.
        let labels = logical.map(|l| if array { l.element.as_deref().unwrap_or(l) } else { l });
        if let (Some(l), Some((schema, type_name))) = (labels.filter(|l| l.kind() == LogicalKind::LogicalEnum), split_qualified(&name)) {
            if !l.labels.is_empty() {
                return self.enum_type(conn, key, (schema.as_deref().unwrap_or(&key.0), &type_name), &l.labels, array).await;
            }
        }
        Ok(looked_up(None, array))
    }

    async fn create_table(&self, conn: &mut PgConn, key: &TableKey, schema: &TableSchema, types: &[String]) -> Result<(), PgFailure> {
        let context = format!("table {}: schema change", self.shown(key));
        let exists = schema::schema_exists(&conn.client, &key.0).await.map_err(|e| self.db(&context, e))?;
        if !exists {
            self.exec(conn, &context, &sql::create_schema(&key.0)).await?;
        }
        let defs = schema_diff::column_defs(schema, types);
        self.exec(conn, &context, &sql::create_table(&self.shown(key), &defs, &schema.key_columns)).await
    }

    async fn ddl(&self, conn: &mut PgConn, context: &str, sql: String) -> Result<(), PgFailure> {
        self.exec(conn, context, &sql).await
    }

    fn add_column_sql(&self, info: &TableInfo, name: &str, sql_type: &str) -> String {
        sql::add_column(&info.sql_name, name, sql_type)
    }

    fn same_type(&self, info: &TableInfo, i: usize, sql_type: &str) -> bool {
        info.columns[i].sql_type == sql_type
    }

    fn alter_type_sql(&self, info: &TableInfo, i: usize, sql_type: &str) -> String {
        format!("ALTER TABLE {} ALTER COLUMN {} TYPE {sql_type}", info.display(), quote_ident(&info.columns[i].name))
    }

    fn drop_not_null_sql(&self, info: &TableInfo, i: usize) -> Result<String, String> {
        Ok(sql::drop_not_null(&info.sql_name, &info.columns[i].name))
    }

    /// `public`, the schema every database has.
    fn progress_home(&self) -> String {
        "public".into()
    }

    async fn progress_create(&self, conn: &mut PgConn, table: &TableKey) -> Result<(), PgFailure> {
        let context = format!("progress table {}", self.shown(table));
        // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when
        // the schema exists: ask first.
        if !schema::schema_exists(&conn.client, &table.0).await.map_err(|e| self.db(&context, e))? {
            self.exec(conn, &context, &sql::create_schema(&table.0)).await?;
        }
        self.exec(conn, &context, &progress_table_ddl(&self.shown(table))).await
    }

    fn progress_ddl(&self, table: &TableKey) -> String {
        format!("{}; {}", sql::create_schema(&table.0), progress_table_ddl(&self.shown(table)))
    }

    fn progress_grant(&self, table: &TableKey) -> String {
        let role = quote_ident(self.config.get_user().unwrap_or("<role>"));
        format!("GRANT CREATE ON SCHEMA {} TO {role}, or GRANT CREATE ON DATABASE … TO {role} for a new schema", quote_ident(&table.0))
    }

    async fn progress_read(&self, conn: &mut PgConn, table: &TableKey, pipeline: &str, target: &str) -> Result<Vec<ProgressRow>, PgFailure> {
        let context = format!("progress table {}: reading", self.shown(table));
        let sql = format!(
            "SELECT lanes, lane, epoch, ordinal, seq, position FROM {} WHERE pipeline = $1 AND target = $2",
            self.shown(table)
        );
        let st = self.prepare(conn, &context, &sql, &[Type::TEXT, Type::TEXT]).await?;
        let rows = conn.client.query(&st, &[&pipeline, &target]).await.map_err(|e| self.db(&context, e))?;
        rows.iter()
            .map(|r| {
                Ok(ProgressRow {
                    pipeline: pipeline.to_string(),
                    target: target.to_string(),
                    lanes: r.try_get(0)?,
                    lane: r.try_get(1)?,
                    epoch: r.try_get(2)?,
                    ordinal: r.try_get(3)?,
                    seq: r.try_get(4)?,
                    position: r.try_get(5)?,
                })
            })
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(|e| self.db(&context, e))
    }

    async fn progress_delete(&self, conn: &mut PgConn, table: &TableKey, pipeline: &str, target: &str, which: Forget) -> Result<(), PgFailure> {
        let context = format!("progress table {}: deleting spent rows", self.shown(table));
        let base = format!("DELETE FROM {} WHERE pipeline = $1 AND target = $2", self.shown(table));
        let result = match which {
            Forget::OtherEpochs(epoch) => conn.client.execute(&format!("{base} AND epoch <> $3"), &[&pipeline, &target, &epoch]).await,
            Forget::Layout(lanes) => conn.client.execute(&format!("{base} AND lanes = $3"), &[&pipeline, &target, &lanes]).await,
        };
        result.map(|_| ()).map_err(|e| self.db(&context, e))
    }

    /// Keeps the row for [`Dialect::commit`], which sends it with COMMIT.
    async fn progress_write(&self, conn: &mut PgConn, table: &TableKey, row: &ProgressRow) -> Result<(), PgFailure> {
        let sql = format!(
            "INSERT INTO {} (pipeline, target, lanes, lane, epoch, ordinal, seq, position, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now()) ON CONFLICT (pipeline, target, lanes, lane) DO UPDATE SET \
             epoch = EXCLUDED.epoch, ordinal = EXCLUDED.ordinal, seq = EXCLUDED.seq, position = EXCLUDED.position, \
             updated_at = EXCLUDED.updated_at",
            self.shown(table)
        );
        conn.progress = Some((sql, row.clone()));
        Ok(())
    }

    async fn progress_write_now(&self, conn: &mut PgConn, table: &TableKey, row: &ProgressRow) -> Result<(), PgFailure> {
        self.progress_write(conn, table, row).await?;
        let Some((sql, row)) = conn.progress.take() else { return Ok(()) };
        let recording = "progress table: recording a transaction applied while it streamed";
        let types = [Type::TEXT, Type::TEXT, Type::INT4, Type::INT4, Type::INT8, Type::INT8, Type::INT8, Type::TEXT];
        let st = self.prepare(conn, recording, &sql, &types).await?;
        let params: [&(dyn ToSql + Sync); 8] =
            [&row.pipeline, &row.target, &row.lanes, &row.lane, &row.epoch, &row.ordinal, &row.seq, &row.position];
        conn.client.execute(&st, &params).await.map(|_| ()).map_err(|e| self.db(recording, e))
    }

    fn transactional_ddl(&self) -> bool {
        true
    }
}

/// The progress table (see `sinks::sql::progress`).
fn progress_table_ddl(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (pipeline text NOT NULL, target text NOT NULL, lanes integer NOT NULL, \
         lane integer NOT NULL, epoch bigint NOT NULL, ordinal bigint NOT NULL, seq bigint NOT NULL, position text, \
         updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (pipeline, target, lanes, lane))"
    )
}

#[cfg(test)]
mod tests {
    use super::split_qualified;

    #[test]
    fn qualified_type_names_split_into_their_parts() {
        assert_eq!(split_qualified("public.mood"), Some((Some("public".into()), "mood".into())));
        assert_eq!(split_qualified("mood"), Some((None, "mood".into())));
        assert_eq!(split_qualified("\"Odd\".\"Ki\"\"nd\""), Some((Some("Odd".into()), "Ki\"nd".into())));
        for bad in ["", "a.b.c", "x; drop", "\"open", "a."] {
            assert_eq!(split_qualified(bad), None, "{bad}");
        }
    }
}
