//! The MySQL / MariaDB dialect of the SQL engine: statements as text
//! literals, sent together in multi-statement round trips under the
//! server's `max_allowed_packet`, the checks of their results (warnings
//! fail a batch), and the type mapping.

use super::error::{classify, excerpt};
use super::schema::{self, Dialect as Spelling, Server, TableInfo};
use super::sql::{self, quote_ident, Chunks};
use super::value::{Cell, Class};
use super::{check_identifier, key_text, Mysql, CONNECT_TIMEOUT, HARMLESS_WARNINGS, IDLE_PING, MAX_ROUND_TRIP_BYTES, PACKET_MARGIN, SESSION_SETUP, SESSION_TIMESTAMPS};
use crate::record::logical as dialects;
use crate::record::{ColumnSchema, TableRef, TableSchema};
use crate::sinks::plan::{RowOp, TableWork};
use crate::sinks::schema_diff;
use crate::sinks::sql::{Common, Dialect, Failure, Forget, Mapped, ProgressRow, SqlTable, TableKey};
use crate::sinks::SinkError;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use std::time::Instant;

type MyFailure = Failure<Mysql>;

/// One lane's connection, and the statements of its batch not sent yet.
pub struct MyConn {
    pub(super) conn: Conn,
    /// Largest round trip for this connection (from `max_allowed_packet`).
    budget: usize,
    /// When the connection last answered; after [`IDLE_PING`] it is pinged
    /// before use (servers drop idle connections: `wait_timeout`, restarts).
    /// `None` while a batch runs.
    last_used: Option<Instant>,
    /// Statements not sent yet; they go in one multi-statement round trip.
    pending: Vec<Stmt>,
    pending_bytes: usize,
    /// A transaction is open (or its START TRANSACTION is pending); DDL
    /// commits implicitly and clears it.
    open_txn: bool,
}

/// What to check in a statement's result.
enum Check {
    /// Nothing beyond success and no warnings.
    None,
    /// An UPDATE of one row that must match it (the unchanged-NOT-NULL path).
    OneRow {
        /// The table, for the message.
        table: String,
        /// The unchanged NOT NULL columns, for the message.
        columns: Vec<String>,
    },
}

/// A statement waiting to be sent (also what a failure keeps to quote
/// the server's warnings after the rollback).
pub struct Stmt {
    sql: String,
    /// Where, for messages: ``table `db`.`t`: upsert``.
    context: String,
    check: Check,
    /// The key of each row of a multi-row statement, as SQL text, so a
    /// server message about `row N` can name the row's key.
    row_keys: Vec<String>,
}

impl Stmt {
    /// The key of the row `message` names (`… at row 3`), if known: row
    /// data, so it goes into an error's row detail, never its message.
    fn row_key(&self, message: &str) -> Option<&str> {
        let n = message
            .rfind(" at row ")
            .and_then(|i| message[i + 8..].split(|c: char| !c.is_ascii_digit()).next()?.parse::<usize>().ok());
        n.and_then(|n| self.row_keys.get(n.checked_sub(1)?)).map(String::as_str)
    }

    /// `error` with the key of the row its message names kept as row detail.
    fn with_row(&self, error: SinkError) -> SinkError {
        match self.row_key(error.message()) {
            Some(key) => {
                let detail = format!("the row with key {key}");
                error.with_row_detail(detail)
            }
            None => error,
        }
    }
}


impl SqlTable for TableInfo {
    fn column_facts(&self, i: usize) -> (&str, bool) {
        (&self.columns[i].column_type, self.columns[i].not_null)
    }
}

impl Mysql {
    fn session<'a>(&'a self, c: &'a mut MyConn) -> Session<'a> {
        Session { d: self, c }
    }

    pub(super) async fn open_conn(&self) -> Result<(MyConn, Server), SinkError> {
        let fail = |what: &str, e: &mysql_async::Error| self.scrubbed(classify(&self.common.name, what, e).error);
        let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, self.endpoint.connect()).await {
            Ok(Ok(c)) => c,
            Ok(Err(crate::tls::mysql::ConnectError::Driver(e))) => return Err(fail("cannot connect", &e)),
            Ok(Err(crate::tls::mysql::ConnectError::Network(m))) => {
                return Err(SinkError::transient(&self.common.name, format!("cannot connect: {m}")))
            }
            Ok(Err(crate::tls::mysql::ConnectError::Tls(m))) => {
                return Err(SinkError::definite(&self.common.name, format!("cannot connect: {m}")))
            }
            Err(_) => {
                return Err(SinkError::transient(&self.common.name, format!("cannot connect: no answer within {CONNECT_TIMEOUT:?}; retrying")))
            }
        };
        conn.query_drop(SESSION_SETUP).await.map_err(|e| fail("cannot set up the session", &e))?;
        if let Err(e) = conn.query_drop(SESSION_TIMESTAMPS).await {
            tracing::debug!(target_name = %self.common.name, error = %e, "explicit_defaults_for_timestamp not set");
        }
        let row: Option<(String, u64)> = conn
            .query_first("SELECT VERSION(), @@max_allowed_packet")
            .await
            .map_err(|e| fail("cannot read the server version", &e))?;
        let (version, packet) = row.unwrap_or_default();
        let budget = (packet as usize).clamp(64 << 10, MAX_ROUND_TRIP_BYTES + PACKET_MARGIN) - PACKET_MARGIN;
        let conn = MyConn { conn, budget, last_used: Some(Instant::now()), pending: Vec::new(), pending_bytes: 0, open_txn: false };
        Ok((conn, Server::parse(&version)))
    }
}

/// One batch's statements on one connection.
struct Session<'a> {
    d: &'a Mysql,
    c: &'a mut MyConn,
}

impl Session<'_> {
    fn fail(&self, context: &str, e: &mysql_async::Error) -> MyFailure {
        let c = classify(&self.d.common.name, context, e);
        Failure { error: c.error, lost: c.lost, diagnosis: None }
    }

    /// Queues a row statement (inside the batch's transaction).
    async fn push(&mut self, sql: String, context: String, check: Check) -> Result<(), MyFailure> {
        self.push_rows(sql, context, check, Vec::new()).await
    }

    /// [`Tx::push`] for a multi-row statement, with its rows' keys.
    async fn push_rows(&mut self, sql: String, context: String, check: Check, row_keys: Vec<String>) -> Result<(), MyFailure> {
        if self.c.pending_bytes + sql.len() + 2 > self.c.budget {
            self.flush().await?;
        }
        if !self.c.open_txn {
            self.c.pending_bytes += 20;
            self.c.pending.push(Stmt {
                sql: "START TRANSACTION".into(),
                context: "START TRANSACTION".into(),
                check: Check::None,
                row_keys: Vec::new(),
            });
            self.c.open_txn = true;
        }
        self.c.pending_bytes += sql.len() + 2;
        self.c.pending.push(Stmt { sql, context, check, row_keys });
        Ok(())
    }

    /// Sends the pending statements in one round trip and checks each result.
    async fn flush(&mut self) -> Result<(), MyFailure> {
        if self.c.pending.is_empty() {
            return Ok(());
        }
        let stmts = std::mem::take(&mut self.c.pending);
        self.c.pending_bytes = 0;
        let mut text = String::with_capacity(stmts.iter().map(|s| s.sql.len() + 2).sum());
        for (i, s) in stmts.iter().enumerate() {
            if i > 0 {
                text.push_str(";\n");
            }
            text.push_str(&s.sql);
        }
        let n = stmts.len();
        let mut result = match self.c.conn.query_iter(text).await {
            Ok(r) => r,
            Err(e) => return Err(self.stmt_failure(&stmts[0], &e)),
        };
        // A statement's error surfaces when moving past it (mysql_async keeps
        // it pending): read statement i's counts, then advance; an error on
        // advancing belongs to statement i.
        let mut counts: Vec<(u64, u16)> = Vec::with_capacity(n);
        for (i, stmt) in stmts.iter().enumerate() {
            counts.push((result.affected_rows(), result.warnings()));
            if i + 1 < n {
                if let Err(e) = result.collect::<mysql_async::Row>().await {
                    return Err(self.stmt_failure(stmt, &e));
                }
            }
        }
        if let Err(e) = result.drop_result().await {
            return Err(self.stmt_failure(&stmts[n - 1], &e));
        }
        for (stmt, (affected, warnings)) in stmts.into_iter().zip(counts) {
            if warnings > 0 {
                return Err(Failure {
                    lost: false,
                    error: self.d.definite(format!(
                        "{}: the server would change the data ({warnings} warning{}; nothing of the batch is applied) — \
                         the target column types do not hold these values exactly: change them on the target or keep \
                         such values from the target with a [[pipeline.table]] rule (exclude_columns, mask = \"null\", or a filter)",
                        stmt.context,
                        if warnings == 1 { "" } else { "s" }
                    )),
                    diagnosis: Some(stmt),
                });
            }
            if let Check::OneRow { table, columns } = &stmt.check {
                if affected == 0 {
                    return Err(self.missing_row(table, columns, stmt.row_keys.first().map_or("", String::as_str)).into());
                }
            }
        }
        Ok(())
    }

    fn stmt_failure(&self, stmt: &Stmt, e: &mysql_async::Error) -> MyFailure {
        let c = classify(&self.d.common.name, &stmt.context, e);
        let error = match c.error {
            definite @ SinkError::Definite { .. } => stmt.with_row(definite),
            transient => transient,
        };
        Failure { error, lost: c.lost, diagnosis: None }
    }

    fn missing_row(&self, table: &str, columns: &[String], key: &str) -> SinkError {
        self.d
            .definite(format!(
                "table {table} column {}: the source did not send this column's value (an unchanged TOASTed value) for a row \
                 that does not exist on the target, and the column is NOT NULL without a default, so there is no value to \
                 keep — the target is missing rows: re-snapshot the table (or make the column nullable on the target)",
                columns.join(", ")
            ))
            .with_row_detail(format!("the row with key {key}"))
    }

    /// Runs DDL now (it commits implicitly, so any pending statements go first).
    async fn ddl(&mut self, context: &str, sql: String) -> Result<(), MyFailure> {
        self.flush().await?;
        if self.c.open_txn {
            self.c.conn.query_drop("COMMIT").await.map_err(|e| self.fail(context, &e))?;
        }
        self.c.open_txn = false;
        self.c.conn.query_drop(sql).await.map_err(|e| self.fail(context, &e))
    }

    /// Queues the statements of `rows` rows written by `write`, split to fit
    /// the round-trip budget; `key` gives a row's key as text for messages.
    #[allow(clippy::too_many_arguments)]
    async fn chunked(
        &mut self,
        info: &TableInfo,
        what: &str,
        prefix: String,
        suffix: String,
        rows: usize,
        mut write: impl FnMut(usize, &mut String),
        key: impl Fn(usize) -> String,
    ) -> Result<(), MyFailure> {
        let mut chunks = Chunks::new(prefix, suffix, self.c.budget);
        for r in 0..rows {
            if let Err(size) = chunks.push(|out| write(r, out)) {
                return Err(self
                    .d
                    .definite(format!(
                        "table {}: a row is {size} bytes as SQL, more than the server's max_allowed_packet \
                         allows: raise max_allowed_packet on the target",
                        info.sql_name,
                    ))
                    .with_row_detail(format!("the row with key {}", key(r)))
                    .into());
            }
        }
        let context = format!("table {}: {what}", info.sql_name);
        let mut start = 0;
        for (stmt, n) in chunks.finish() {
            let keys = (start..start + n).map(&key).collect();
            start += n;
            self.push_rows(stmt, context.clone(), Check::None, keys).await?;
        }
        Ok(())
    }

    async fn table_work(&mut self, info: &TableInfo, work: TableWork<Cell>) -> Result<(), MyFailure> {
        let key_names: Vec<&str> = work.key.iter().map(|&i| info.columns[i].name.as_str()).collect();
        if !work.deletes.is_empty() {
            let (prefix, suffix) = sql::delete_parts(&info.sql_name, &key_names);
            let deletes = &work.deletes;
            let n = deletes[0].len();
            let write = |r: usize, out: &mut String| {
                let cells: Vec<&Cell> = deletes.iter().map(|col| &col[r]).collect();
                sql::push_key(out, &cells);
            };
            let key = |r: usize| key_text(&key_names, deletes.iter().map(|col| &col[r]));
            self.chunked(info, "delete", prefix, suffix, n, write, key).await?;
        }
        for g in &work.groups {
            let blocking: Vec<usize> =
                g.unchanged.iter().copied().filter(|&i| !info.columns[i].insertable_without).collect();
            if !blocking.is_empty() {
                self.update_rows(info, &work.key, g, &blocking).await?;
                continue;
            }
            let cols: Vec<&str> = g.columns.iter().map(|&i| info.columns[i].name.as_str()).collect();
            let key_pos: Vec<usize> =
                work.key.iter().map(|k| g.columns.iter().position(|c| c == k).expect("key columns are always present")).collect();
            let (prefix, suffix) = sql::upsert_parts(&info.sql_name, &cols, &key_pos, self.d.server.upsert_alias());
            let arrays = &g.arrays;
            let write = |r: usize, out: &mut String| sql::push_tuple(out, arrays.iter().map(|col| &col[r]));
            let key = |r: usize| key_text(&key_names, key_pos.iter().map(|&p| &arrays[p][r]));
            self.chunked(info, "upsert", prefix, suffix, g.len(), write, key).await?;
        }
        Ok(())
    }

    /// A keyless table's changes in order: multi-row plain inserts, and
    /// one `DELETE … LIMIT 1` per removed row.
    async fn keyless_work(&mut self, info: &TableInfo, ops: Vec<RowOp<Cell>>) -> Result<(), MyFailure> {
        let no_key = |_: usize| "(none: a table without a key)".to_string();
        for op in ops {
            match op {
                RowOp::Append(g) => {
                    let cols: Vec<&str> = g.columns.iter().map(|&i| info.columns[i].name.as_str()).collect();
                    let arrays = &g.arrays;
                    let write = |r: usize, out: &mut String| sql::push_tuple(out, arrays.iter().map(|col| &col[r]));
                    let prefix = sql::insert_prefix(&info.sql_name, &cols);
                    self.chunked(info, "insert", prefix, String::new(), g.len(), write, no_key).await?;
                }
                RowOp::Remove { columns, cells } => {
                    let conds: Vec<(&str, &Cell, bool)> = columns
                        .iter()
                        .zip(&cells)
                        .map(|(&i, c)| (info.columns[i].name.as_str(), c, info.columns[i].class == Class::Json))
                        .collect();
                    let stmt = sql::delete_one(&info.sql_name, &conds);
                    let context = format!("table {}: delete of one row (a table without a key)", info.sql_name);
                    if stmt.len() > self.c.budget {
                        return Err(self.d.definite(format!("{context}: one row is larger than max_allowed_packet: raise it on the target")).into());
                    }
                    self.push(stmt, context, Check::None).await?;
                }
            }
        }
        Ok(())
    }

    /// Rows whose unchanged columns include a NOT NULL one without a
    /// default: one UPDATE per row, each of which must find its row.
    async fn update_rows(&mut self, info: &TableInfo, key: &[usize], g: &crate::sinks::plan::Group<Cell>, blocking: &[usize]) -> Result<(), MyFailure> {
        let context = format!("table {}: update (unchanged columns kept)", info.sql_name);
        let blocking: Vec<String> = blocking.iter().map(|&i| quote_ident(&info.columns[i].name)).collect();
        for r in 0..g.len() {
            let mut set: Vec<(&str, &Cell)> = Vec::new();
            let mut keyv: Vec<(&str, &Cell)> = Vec::new();
            for (pos, &ci) in g.columns.iter().enumerate() {
                let pair = (info.columns[ci].name.as_str(), &g.arrays[pos][r]);
                if key.contains(&ci) {
                    keyv.push(pair);
                } else {
                    set.push(pair);
                }
            }
            if set.is_empty() {
                // Only the key was sent: the row must exist, nothing to change.
                set.push(keyv[0]);
            }
            let stmt = sql::update_row(&info.sql_name, &set, &keyv);
            if stmt.len() > self.c.budget {
                return Err(self.d.definite(format!("{context}: one row is larger than max_allowed_packet: raise it on the target")).into());
            }
            let key_names: Vec<&str> = keyv.iter().map(|(n, _)| *n).collect();
            let row_key = key_text(&key_names, keyv.iter().map(|(_, c)| *c));
            let check = Check::OneRow { table: info.sql_name.clone(), columns: blocking.clone() };
            self.push_rows(stmt, context.clone(), check, vec![row_key]).await?;
        }
        Ok(())
    }
}

impl Dialect for Mysql {
    /// A statement that raised warnings, run again after the rollback.
    type Diagnosis = Stmt;
    type Table = TableInfo;
    type Conn = MyConn;
    const QUOTE: char = '`';

    fn check_identifier(&self, name: &str) -> Result<(), String> {
        check_identifier(name)
    }

    fn common(&self) -> &Common {
        &self.common
    }

    /// Every table in the one database; two source tables of one name are refused.
    fn target_table(&self, t: &TableRef) -> Result<TableKey, String> {
        check_identifier(&t.name).map_err(|m| format!("table {}: {m}", t.qualified()))?;
        let origin = t.qualified();
        let mut origins = self.origins.lock().unwrap_or_else(|p| p.into_inner());
        match origins.get(&t.name) {
            Some(o) if *o != origin => Err(format!(
                "source tables {o} and {origin} both map to {} (the mysql target puts every table into one database): \
                 rename one of them with a [[pipeline.table]] rule (rename = \"…\")",
                sql::qualified(&self.database, &t.name)
            )),
            Some(_) => Ok((self.database.clone(), t.name.clone())),
            None => {
                origins.insert(t.name.clone(), origin);
                Ok((self.database.clone(), t.name.clone()))
            }
        }
    }

    async fn open(&self) -> Result<MyConn, SinkError> {
        Ok(self.open_conn().await?.0)
    }

    async fn usable(&self, c: &mut MyConn) -> bool {
        c.last_used.is_none_or(|t| t.elapsed() <= IDLE_PING) || c.conn.ping().await.is_ok()
    }

    async fn begin(&self, c: &mut MyConn, _steps: usize) -> Result<(), MyFailure> {
        // START TRANSACTION goes with the first statement (one round trip).
        c.pending.clear();
        c.pending_bytes = 0;
        c.open_txn = false;
        c.last_used = None;
        Ok(())
    }

    async fn commit(&self, c: &mut MyConn) -> Result<(), MyFailure> {
        let mut s = self.session(c);
        s.flush().await?;
        if s.c.open_txn {
            s.c.conn.query_drop("COMMIT").await.map_err(|e| s.fail("COMMIT (the batch is not applied)", &e))?;
            s.c.open_txn = false;
        }
        s.c.last_used = Some(Instant::now());
        Ok(())
    }

    async fn rollback(&self, c: &mut MyConn) -> bool {
        c.pending.clear();
        c.pending_bytes = 0;
        c.open_txn = false;
        let ok = c.conn.query_drop("ROLLBACK").await.is_ok();
        c.last_used = Some(Instant::now());
        ok
    }

    /// Runs a statement that raised warnings again, alone in a transaction
    /// that is rolled back, to quote the server's warnings.
    async fn explain(&self, c: &mut MyConn, error: SinkError, stmt: Stmt) -> SinkError {
        let conn = &mut c.conn;
        let SinkError::Definite { target, message, cause } = error else { return error };
        let probe = format!("START TRANSACTION; {}; SHOW WARNINGS", stmt.sql);
        let mut shown = Vec::new();
        let mut details = Vec::new();
        if let Ok(mut r) = conn.query_iter(probe).await {
            let _ = r.collect::<mysql_async::Row>().await;
            let _ = r.collect::<mysql_async::Row>().await;
            if let Ok(rows) = r.collect::<(String, u16, String)>().await {
                for (level, code, msg) in rows.into_iter().filter(|(_, code, _)| !HARMLESS_WARNINGS.contains(code)).take(3) {
                    let full = format!("{level} {code}: {}", excerpt(&msg, 160));
                    details.push(match stmt.row_key(&msg) {
                        Some(key) => format!("{full} [the row with key {key}]"),
                        None => full,
                    });
                    shown.push(format!("{level} {code}: {}", excerpt(&crate::redact::mysql_message(&msg), 160)));
                }
            }
            let _ = r.drop_result().await;
        }
        let _ = conn.query_drop("ROLLBACK").await;
        let message = if shown.is_empty() { message } else { format!("{message}: {}", shown.join("; ")) };
        let error = SinkError::Definite { target, message, cause };
        if details.is_empty() {
            error
        } else {
            error.with_row_detail(details.join("; "))
        }
    }

    async fn close(&self, c: MyConn) {
        let _ = c.conn.disconnect().await;
    }

    async fn load_table(&self, c: &mut MyConn, key: &TableKey) -> Result<Option<TableInfo>, MyFailure> {
        let mut s = self.session(c);
        s.flush().await?;
        let context = format!("table {}: reading the target catalog", self.shown(key));
        schema::load_table(&mut s.c.conn, &key.0, &key.1).await.map_err(|e| s.fail(&context, &e))
    }

    fn check_key(&self, table: &TableInfo, key: &[usize]) -> Result<(), String> {
        table.check_key(key)
    }

    async fn table_work(&self, c: &mut MyConn, info: &TableInfo, work: TableWork<Cell>) -> Result<(), MyFailure> {
        self.session(c).table_work(info, work).await
    }

    async fn keyless_work(&self, c: &mut MyConn, info: &TableInfo, ops: Vec<RowOp<Cell>>) -> Result<(), MyFailure> {
        self.session(c).keyless_work(info, ops).await
    }

    async fn move_key(&self, c: &mut MyConn, info: &TableInfo, key: &[usize], old: &[Cell], new: &[Cell], set: &[(usize, Cell)]) -> Result<(), MyFailure> {
        let name = |i: usize| info.columns[i].name.as_str();
        let set_pairs: Vec<(&str, &Cell)> = set.iter().map(|(i, v)| (name(*i), v)).collect();
        let old_pairs: Vec<(&str, &Cell)> = key.iter().zip(old).map(|(&i, v)| (name(i), v)).collect();
        let new_pairs: Vec<(&str, &Cell)> = key.iter().zip(new).map(|(&i, v)| (name(i), v)).collect();
        let stmt = sql::move_key(&info.sql_name, &set_pairs, &old_pairs, &new_pairs);
        self.session(c).push(stmt, format!("table {}: key change", info.sql_name), Check::None).await
    }

    async fn truncate(&self, c: &mut MyConn, info: &TableInfo, alone: bool) -> Result<(), MyFailure> {
        let context = format!("table {}: truncate", info.sql_name);
        let mut s = self.session(c);
        if alone {
            // TRUNCATE commits implicitly: only when the batch holds nothing else.
            s.ddl(&context, sql::truncate(&info.sql_name)).await
        } else {
            s.push(sql::delete_all(&info.sql_name), context, Check::None).await
        }
    }

    /// MySQL's own type text, else the logical type (see `logical.rs`); a
    /// record from before logical types is read by its type text.
    async fn column_type(&self, _c: &mut MyConn, key: &TableKey, col: &ColumnSchema) -> Result<Mapped, MyFailure> {
        let shown = self.shown(key);
        let mapped = match &col.logical {
            Some(l) if col.type_dialect != dialects::MYSQL => super::logical::resolve(l, &self.server),
            _ => schema::resolve(&col.source_type, Spelling::of(col), &self.server),
        };
        mapped.map_err(|e| {
            self.definite(format!("table {shown} column {} ({}): {e}", quote_ident(&col.name), col.source_type)).into()
        })
    }

    fn adjust_types(&self, types: &mut [String], key: &[usize]) {
        schema::narrow_keys(types, key);
    }

    async fn create_table(&self, c: &mut MyConn, key: &TableKey, schema: &TableSchema, types: &[String]) -> Result<(), MyFailure> {
        let shown = self.shown(key);
        let defs = schema_diff::column_defs(schema, types);
        let ddl = sql::create_table(&shown, &defs, &schema.key_columns, self.server.collation());
        self.session(c).ddl(&format!("table {shown}: schema change"), ddl).await
    }

    async fn ddl(&self, c: &mut MyConn, context: &str, sql: String) -> Result<(), MyFailure> {
        self.session(c).ddl(context, sql).await
    }

    fn add_column_sql(&self, info: &TableInfo, name: &str, sql_type: &str) -> String {
        sql::add_column(&info.sql_name, name, sql_type)
    }

    fn same_type(&self, info: &TableInfo, i: usize, sql_type: &str) -> bool {
        schema::same_type(sql_type, &info.columns[i].column_type, &self.server)
    }

    fn alter_type_sql(&self, info: &TableInfo, i: usize, sql_type: &str) -> String {
        format!("ALTER TABLE {} MODIFY COLUMN {} {sql_type}", info.sql_name, quote_ident(&info.columns[i].name))
    }

    /// `MODIFY COLUMN` keeping the type and collation; a column with a
    /// default is left NOT NULL (with a warning).
    fn drop_not_null_sql(&self, info: &TableInfo, i: usize) -> Result<String, String> {
        let target = &info.columns[i];
        if target.insertable_without {
            return Err("the column became nullable on the source but has a default on the target; \
                        left NOT NULL (make it nullable yourself)"
                .into());
        }
        let mut ty = target.column_type.clone();
        if let Some((cs, co)) = &target.charset {
            ty = format!("{ty} CHARACTER SET {cs} COLLATE {co}");
        }
        Ok(sql::make_nullable(&info.sql_name, &target.name, &ty))
    }

    /// The target's database (where its tables go).
    fn progress_home(&self) -> String {
        self.database.clone()
    }

    async fn progress_create(&self, c: &mut MyConn, table: &TableKey) -> Result<(), MyFailure> {
        let context = format!("progress table {}", self.shown(table));
        let mut s = self.session(c);
        s.flush().await?;
        // CREATE DATABASE IF NOT EXISTS needs the privilege even when the
        // database exists: ask first.
        if !schema::database_exists(&mut s.c.conn, &table.0).await.map_err(|e| s.fail(&context, &e))? {
            s.ddl(&context, sql::create_database(&table.0, self.server.collation())).await?;
        }
        s.ddl(&context, progress_table_ddl(&self.shown(table), self.server.collation())).await
    }

    fn progress_ddl(&self, table: &TableKey) -> String {
        format!(
            "{}; {}",
            sql::create_database(&table.0, self.server.collation()),
            progress_table_ddl(&self.shown(table), self.server.collation())
        )
    }

    fn progress_grant(&self, table: &TableKey) -> String {
        let user = self.endpoint.opts().user().unwrap_or("<user>");
        format!("GRANT CREATE, SELECT, INSERT, UPDATE, DELETE ON {}.* TO {}", quote_ident(&table.0), sql::string_literal(user))
    }

    async fn progress_read(&self, c: &mut MyConn, table: &TableKey, pipeline: &str, target: &str) -> Result<Vec<ProgressRow>, MyFailure> {
        let context = format!("progress table {}: reading", self.shown(table));
        let mut s = self.session(c);
        s.flush().await?;
        let query = format!(
            "SELECT lanes, lane, epoch, ordinal, seq, position FROM {} WHERE pipeline = {} AND target = {}",
            self.shown(table),
            sql::string_literal(pipeline),
            sql::string_literal(target)
        );
        let rows: Vec<(i32, i32, i64, i64, i64, Option<String>)> = s.c.conn.query(query).await.map_err(|e| s.fail(&context, &e))?;
        Ok(rows
            .into_iter()
            .map(|(lanes, lane, epoch, ordinal, seq, position)| ProgressRow {
                pipeline: pipeline.to_string(),
                target: target.to_string(),
                lanes,
                lane,
                epoch,
                ordinal,
                seq,
                position,
            })
            .collect())
    }

    async fn progress_delete(&self, c: &mut MyConn, table: &TableKey, pipeline: &str, target: &str, which: Forget) -> Result<(), MyFailure> {
        let context = format!("progress table {}: deleting spent rows", self.shown(table));
        let mut s = self.session(c);
        s.flush().await?;
        let which = match which {
            Forget::OtherEpochs(epoch) => format!("epoch <> {epoch}"),
            Forget::Layout(lanes) => format!("lanes = {lanes}"),
        };
        let query = format!(
            "DELETE FROM {} WHERE pipeline = {} AND target = {} AND {which}",
            self.shown(table),
            sql::string_literal(pipeline),
            sql::string_literal(target)
        );
        s.c.conn.query_drop(query).await.map_err(|e| s.fail(&context, &e))
    }

    async fn progress_write(&self, c: &mut MyConn, table: &TableKey, row: &ProgressRow) -> Result<(), MyFailure> {
        let cols = ["pipeline", "target", "lanes", "lane", "epoch", "ordinal", "seq", "position", "updated_at"];
        let (prefix, suffix) = sql::upsert_parts(&self.shown(table), &cols, &[0, 1, 2, 3], self.server.upsert_alias());
        let position = row.position.as_deref().map_or_else(|| "NULL".to_string(), sql::string_literal);
        let statement = format!(
            "{prefix}({}, {}, {}, {}, {}, {}, {}, {position}, CURRENT_TIMESTAMP(6)){suffix}",
            sql::string_literal(&row.pipeline),
            sql::string_literal(&row.target),
            row.lanes,
            row.lane,
            row.epoch,
            row.ordinal,
            row.seq
        );
        let context = format!("progress table {}: recording the batch", self.shown(table));
        self.session(c).push(statement, context, Check::None).await
    }
}

/// The progress table (see `sinks::sql::progress`). Text keys of at most
/// 191 characters fit InnoDB's index limit in utf8mb4.
fn progress_table_ddl(table: &str, collation: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (pipeline VARCHAR(191) NOT NULL, target VARCHAR(191) NOT NULL, \
         lanes INT NOT NULL, lane INT NOT NULL, epoch BIGINT NOT NULL, ordinal BIGINT NOT NULL, seq BIGINT NOT NULL, \
         position TEXT NULL, updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), \
         PRIMARY KEY (pipeline, target, lanes, lane)) ENGINE = InnoDB DEFAULT CHARACTER SET utf8mb4 COLLATE {collation}"
    )
}
