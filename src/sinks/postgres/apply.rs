//! The PostgreSQL dialect of the SQL engine: statements over array
//! parameters, binary or `text[]` (see `binary.rs`; prepared once per
//! connection), the type mapping with its
//! catalog look-ups, and the probe that names the column whose value did
//! not fit after a data error.

use super::binary::{self, PgCell, RowSql};
use super::error::{self, classify, excerpt};
use super::plan::TableWork;
use super::schema::{self, Resolved, TableInfo};
use super::sql::{self, quote_ident, Col};
use super::Postgres;
use crate::record::logical as dialects;
use crate::record::{ColumnSchema, LogicalKind, TableRef, TableSchema};
use crate::sinks::plan::RowOp;
use crate::sinks::schema_diff;
use crate::sinks::sql::{Common, Dialect, Failure, Forget, Mapped, ProgressRow, SqlTable, TableKey};
use crate::sinks::SinkError;
use std::collections::HashMap;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};

/// Prepared statements kept per connection; past this the cache is cleared
/// (a pipeline with many tables and row shapes should not grow it forever).
const MAX_CACHED_STATEMENTS: usize = 512;

/// One lane's connection.
pub struct PgConn {
    client: Client,
    /// Prepared statements by SQL text (they belong to `client`).
    statements: HashMap<String, Statement>,
    /// The batch's progress row (statement, row), sent with COMMIT in one
    /// round trip.
    progress: Option<(String, ProgressRow)>,
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
        Ok(PgConn { client: self.open_client().await?, statements: HashMap::new(), progress: None })
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
        let lost = error::connection_lost(&e);
        let mut error = classify(&self.common.name, &context, &e);
        let Some(db) = e.as_db_error() else { return Err(Failure { error, lost, diagnosis: None }) };
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
                .zip(&arrays)
                .map(|(&i, a)| (info.columns[i].name.clone(), info.columns[i].sql_type.clone(), binary::texts(a)))
                .collect();
            return Err(Failure { error, lost, diagnosis: Some(CastProbe { table: info.display().to_string(), columns }) });
        }
        Err(Failure { error, lost, diagnosis: None })
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
