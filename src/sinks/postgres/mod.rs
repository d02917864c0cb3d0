//! `kind = "postgres"`: applies changes to PostgreSQL tables, idempotently,
//! one transaction per batch.
//!
//! # Where rows go
//!
//! A change to source table `schema.name` is applied to target table
//! `"<schema>"."<name>"`, where `<schema>` is the configured `schema`
//! override, else the source schema (the database for MySQL), else
//! `public`. Every identifier is double-quoted in SQL (quotes doubled), so
//! names with capitals, spaces, quotes, unicode or keywords are kept exactly
//! and cannot inject SQL. Values never appear in SQL text.
//!
//! A table of documents (records with `documents` set, e.g. a MongoDB collection) lands as one
//! table `"<schema>"."<collection>"` (`public` unless `schema` is set) with
//! `_id jsonb PRIMARY KEY, document jsonb`, both canonical Extended JSON;
//! see [`crate::sinks::document`].
//!
//! # Connections, transactions, errors
//!
//! Each lane has its own connection (lane 0's is opened by
//! [`PostgresSink::connect`] to check the URL and credentials; the others on
//! first use) and applies its batches one at a time. A batch is one
//! transaction: `BEGIN`, the statements below, `COMMIT`; `apply` returns `Ok`
//! only after `COMMIT` succeeded, with the server's default (durable)
//! `synchronous_commit`. A failure rolls back the whole batch, so nothing of
//! it is visible. Each session sets `TimeZone = UTC`, `DateStyle = ISO, YMD`
//! and `IntervalStyle = postgres`, which is what the value text assumes.
//!
//! Errors are classified by SQLSTATE (see `error.rs`): lost connections,
//! serialization failures, deadlocks, server shutdown and resource
//! shortages are *transient* (the pipeline retries the same batch, the next
//! apply reconnects); bad data, constraint violations, missing tables or
//! privileges are *definite*, with a message naming the table (and the
//! column, when a value does not fit its type) and the fix. Messages quote
//! at most a short excerpt of a value and never the URL or password.
//!
//! # Row changes
//!
//! Within a batch, records are grouped by table and reduced per key to the
//! key's final state (the batch is one transaction, so intermediate states
//! are invisible anyway; see [`crate::sinks::plan`]). Then, per table:
//!
//! 1. one `DELETE … WHERE (k1, k2) IN (SELECT … FROM unnest($1::text[], $2::text[]))`
//!    for the keys whose final operation is a delete;
//! 2. one statement per *shape* of the remaining rows (the set of columns
//!    they carry), normally exactly one:
//!    `INSERT INTO t (c1, …) SELECT u.c1::<type>, … FROM unnest($1::text[], …)
//!    ON CONFLICT (<key>) DO UPDATE SET c = EXCLUDED.c, …`.
//!    Each parameter is a `text[]` of values in PostgreSQL input syntax (see
//!    `value.rs`), cast on the server to the type the target column has.
//!
//! So a batch of N upserts to one table costs three round trips (BEGIN,
//! one INSERT, COMMIT) however large N is; statements are prepared once per
//! connection. Replaying a batch gives the same result (upsert and delete by
//! key), which is what makes at-least-once delivery safe.
//!
//! **UNCHANGED** (a PostgreSQL TOAST value the source did not send) never
//! overwrites a stored value. If an earlier record of the same key in the
//! batch carried the value, that value is used. Otherwise the column is left
//! out: rows that exist are updated without it, and a row that does not exist
//! is inserted without it, so it gets the column default (NULL unless one is
//! defined). If that column is NOT NULL the batch fails with a definite error
//! explaining that the value was never sent and the target is missing the
//! row (re-snapshot the table). These rows use an `UPDATE … FROM` plus
//! `INSERT … WHERE NOT EXISTS` statement instead of `ON CONFLICT`, because
//! PostgreSQL checks NOT NULL before it looks for a conflict.
//!
//! **Key-changing updates** (old key ≠ new key; the pipeline sends them alone
//! in a batch) move the row in place when no row has the new key yet
//! (`UPDATE … SET key = new … WHERE key = old`, so columns not sent keep their
//! values), then delete the old key and upsert the new image — the same
//! result when replayed.
//!
//! **Tables without a key** (no primary key and no replica identity on the
//! source, so records carry no key columns) are refused with a definite
//! error: without a key a change cannot be applied or replayed safely. Add a
//! primary key on the source (or `REPLICA IDENTITY USING INDEX`), or send the
//! table to a file target. Their schema changes still create the table.
//!
//! Upserts need a PRIMARY KEY or UNIQUE constraint on exactly the key
//! columns on the target; tables logferry creates have one. Foreign keys on
//! the target must be `DEFERRABLE INITIALLY DEFERRED` (with `ordering =
//! "transaction"`), since lanes apply different keys independently and a
//! batch is reduced per table.
//!
//! # Schema changes, truncates
//!
//! `OP_SCHEMA_CHANGE` carries the table's columns (name, source type name,
//! nullability) and key. Types map as `schema.rs` describes: PostgreSQL
//! built-in types keep their exact type (`numeric(12,2)`, `timestamp with
//! time zone`, `text[]`, …), MySQL types map to the nearest exact type, and
//! a user type (enum, domain, composite: a schema-qualified or unknown name
//! like `public.mood`) is used when it exists on the target and otherwise
//! becomes `text` (`text[]` for arrays) with a warning logged once — values
//! keep their text form, so nothing is lost.
//!
//! - With `create_tables = true`: a missing table is created (`CREATE SCHEMA
//!   IF NOT EXISTS`, then `CREATE TABLE IF NOT EXISTS` with the mapped types,
//!   NOT NULL where the source has it, and a PRIMARY KEY on the key columns);
//!   on an existing table, missing columns are added (`ADD COLUMN IF NOT
//!   EXISTS`, always nullable, since existing rows have no value) and a
//!   column that became nullable on the source drops its NOT NULL.
//! - With `create_tables = false` logferry runs no DDL: a missing table or
//!   column is a definite error naming it.
//! - A column whose type changed, or that was dropped on the source, is a
//!   definite error naming the table and column: logferry never converts or
//!   drops stored data. Change or drop the target column yourself and
//!   restart. The comparison is against the target column's type (the
//!   mapped type must match `format_type` exactly) and, for drops, against
//!   the last schema this process applied (columns that only ever existed on
//!   the target are left alone; after a restart a dropped source column looks
//!   like one, and new rows give it its default).
//!
//! Each table's columns and types are read from the target catalog
//! (`pg_attribute`, `format_type`) after every CREATE / ALTER, and lazily the
//! first time a data record names a table; the cache is shared by the lanes
//! and updated only after the batch that changed it commits.
//!
//! `OP_TRUNCATE` runs `TRUNCATE TABLE` (a table that does not exist is
//! skipped). `OP_MESSAGE` and `OP_HEARTBEAT` are ignored.

mod error;
mod plan;
#[doc(hidden)]
pub mod schema;
#[doc(hidden)]
pub mod sql;
#[doc(hidden)]
pub mod value;

pub use sql::quote_ident;

use self::error::{classify, excerpt};
use self::plan::{key_indices, key_of, render_for, TablePlan, TableWork};
use super::plan::{steps, Step};
use self::schema::{TableInfo, Resolved};
use self::sql::Col;
use super::{document, schema_diff, Batch, Sink, SinkError};
use crate::record::{Change, Op, TableRef, TableSchema};
use crate::BoxFuture;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};

/// Settings of a postgres target (the validated form of `[[pipeline.target]]
/// kind = "postgres"`).
#[derive(Clone)]
pub struct PostgresSinkConfig {
    /// Full connection URL, password included. Never logged.
    pub url: String,
    /// Target schema for every table; `None` keeps the source schema name
    /// (`public` when the record has none).
    pub schema: Option<String>,
    /// Create missing schemas, tables and columns from schema-change records.
    pub create_tables: bool,
    /// Number of lanes (one connection each).
    pub lanes: usize,
}

impl std::fmt::Debug for PostgresSinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSinkConfig")
            .field("url", &"***")
            .field("schema", &self.schema)
            .field("create_tables", &self.create_tables)
            .field("lanes", &self.lanes)
            .finish()
    }
}

/// A connection attempt that takes longer is reported as transient rather
/// than hanging a lane forever.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Prepared statements kept per connection; past this the cache is cleared
/// (a pipeline with many tables and row shapes should not grow it forever).
const MAX_CACHED_STATEMENTS: usize = 512;

/// Session settings the value text relies on (see `value.rs`).
const SESSION_SETUP: &str = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'";

/// (target schema, target table).
type TableKey = (String, String);

/// One lane's connection.
#[derive(Default)]
struct Lane {
    client: Option<Client>,
    /// Prepared statements by SQL text (they belong to `client`).
    statements: HashMap<String, Statement>,
    /// Set from BEGIN until COMMIT or ROLLBACK finished: still set at the
    /// start of an apply means a previous apply was cancelled mid-batch, and
    /// the connection (maybe inside a transaction) is dropped, not reused.
    in_txn: bool,
}

impl Lane {
    fn drop_connection(&mut self) {
        self.client = None;
        self.statements.clear();
        self.in_txn = false;
    }
}

/// Applies batches to PostgreSQL. See the module docs.
pub struct PostgresSink {
    name: String,
    config: tokio_postgres::Config,
    /// `sslmode` / `sslrootcert` from the URL.
    tls: crate::tls::postgres::PgTls,
    /// To scrub from any error text that might echo it.
    password: Option<String>,
    schema: Option<String>,
    create_tables: bool,
    lanes: Vec<tokio::sync::Mutex<Lane>>,
    /// Target tables by (schema, name), shared by the lanes. Only committed
    /// state goes in (a batch's own changes wait in its overlay).
    tables: std::sync::Mutex<HashMap<TableKey, Arc<TableInfo>>>,
    /// The last source schema applied per table (committed), kept apart
    /// from `tables` so that dropping the catalog cache after an error does
    /// not forget which columns the source had (drop detection).
    sources: std::sync::Mutex<HashMap<TableKey, TableSchema>>,
    /// (table, column, type) already warned about (text fallback, no key).
    warned: std::sync::Mutex<HashSet<String>>,
}

impl PostgresSink {
    /// Parses the URL and opens lane 0's connection (so bad credentials or an
    /// unreachable server show up at start).
    pub async fn connect(cfg: PostgresSinkConfig) -> Result<Self, SinkError> {
        let (url, tls) = crate::tls::postgres::from_url(&cfg.url)
            .map_err(|m| SinkError::Definite { target: "postgres".into(), message: format!("the target url: {m}") })?;
        let mut config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| {
            let password = password_in_url(&cfg.url);
            SinkError::Definite {
                target: "postgres".into(),
                message: scrub(
                    &format!("the target url is not a valid PostgreSQL URL (postgres://user:password@host:port/database): {e}{}",
                        std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default()),
                    password.as_deref(),
                ),
            }
        })?;
        config.ssl_mode(tls.ssl_mode());
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("logferry");
        }
        let name = sink_name(&config);
        let password = config.get_password().map(|p| String::from_utf8_lossy(p).into_owned());
        let lanes = (0..cfg.lanes.max(1)).map(|_| tokio::sync::Mutex::new(Lane::default())).collect();
        let sink = PostgresSink {
            name,
            config,
            tls,
            password,
            schema: cfg.schema.filter(|s| !s.is_empty()),
            create_tables: cfg.create_tables,
            lanes,
            tables: Default::default(),
            sources: Default::default(),
            warned: Default::default(),
        };
        let client = sink.open().await?;
        sink.lanes[0].lock().await.client = Some(client);
        Ok(sink)
    }

    async fn open(&self) -> Result<Client, SinkError> {
        let scrubbed = |e: SinkError| match e {
            SinkError::Transient { target, message } => SinkError::Transient { target, message: scrub(&message, self.password.as_deref()) },
            SinkError::Definite { target, message } => SinkError::Definite { target, message: scrub(&message, self.password.as_deref()) },
        };
        let (client, conn) = self
            .config
            .connect(self.tls.connector())
            .await
            .map_err(|e| match self.tls.connect_problem(&e) {
                Some(f) if f.definite => {
                    SinkError::Definite { target: self.name.clone(), message: scrub(&format!("cannot connect: {}", f.message), self.password.as_deref()) }
                }
                Some(f) => {
                    SinkError::Transient { target: self.name.clone(), message: scrub(&format!("cannot connect: {}", f.message), self.password.as_deref()) }
                }
                None => scrubbed(classify(&self.name, "cannot connect", &e)),
            })?;
        let name = self.name.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(target_name = %name, error = %e, "postgres target connection ended");
            }
        });
        client
            .batch_execute(SESSION_SETUP)
            .await
            .map_err(|e| scrubbed(classify(&self.name, "cannot set up the session", &e)))?;
        Ok(client)
    }

    /// The target table of a source table.
    fn target_table(&self, t: Option<&TableRef>) -> Result<TableKey, SinkError> {
        let t = t.filter(|t| !t.name.is_empty()).ok_or_else(|| self.definite("a record without a table name".into()))?;
        let schema = match &self.schema {
            Some(s) => s.clone(),
            None if t.schema.is_empty() => "public".into(),
            None => t.schema.clone(),
        };
        for name in [&schema, &t.name] {
            check_name_length(name).map_err(|m| self.definite(m))?;
        }
        Ok((schema, t.name.clone()))
    }

    fn definite(&self, message: String) -> SinkError {
        SinkError::Definite { target: self.name.clone(), message }
    }

    fn warn_once(&self, key: String, f: impl FnOnce()) {
        if self.warned.lock().unwrap_or_else(|p| p.into_inner()).insert(key) {
            f();
        }
    }

    async fn apply_batch(&self, batch: &Batch) -> Result<(), SinkError> {
        if !batch.records.iter().any(|c| !matches!(c.op(), Op::Heartbeat | Op::Message)) {
            return Ok(());
        }
        let mut lane = self.lanes[batch.lane % self.lanes.len()].lock().await;
        if lane.in_txn || lane.client.as_ref().is_some_and(Client::is_closed) {
            // Cancelled mid-batch earlier, or the server closed the
            // connection while the lane was idle: start afresh.
            lane.drop_connection();
        }
        if lane.client.is_none() {
            let client = self.open().await?;
            lane.statements.clear();
            lane.client = Some(client);
        }
        lane.in_txn = true;
        let lane = &mut *lane;
        let client = lane.client.as_ref().expect("connected above");
        let mut tx = Tx { sink: self, client, statements: &mut lane.statements, overlay: HashMap::new() };
        let result = tx.run(batch).await;
        let overlay = std::mem::take(&mut tx.overlay);
        match result {
            Ok(()) => {
                lane.in_txn = false;
                let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
                for (key, info) in &overlay {
                    if let Some(schema) = &info.source {
                        sources.insert(key.clone(), schema.clone());
                    }
                }
                drop(sources);
                self.tables.lock().unwrap_or_else(|p| p.into_inner()).extend(overlay);
                Ok(())
            }
            Err(failure) => {
                // The catalog may differ from what we cached (an ALTER by hand): reload next time.
                self.tables.lock().unwrap_or_else(|p| p.into_inner()).clear();
                let (error, lost) = match &failure {
                    Failure::Sink { error, lost } | Failure::Cast { error, lost, .. } => (error, *lost),
                };
                if lost || client.is_closed() {
                    lane.drop_connection();
                    return Err(clone_err(error));
                }
                match client.batch_execute("ROLLBACK").await {
                    Ok(()) => lane.in_txn = false,
                    Err(_) => {
                        lane.drop_connection();
                        return Err(clone_err(error));
                    }
                }
                match failure {
                    Failure::Sink { error, .. } => Err(error),
                    Failure::Cast { error, table, columns, .. } => Err(self.diagnose(client, error, &table, columns).await),
                }
            }
        }
    }

    /// After a data error (class 22) in a row statement, finds the column
    /// whose values the server refused by casting each one alone.
    async fn diagnose(&self, client: &Client, error: SinkError, table: &str, columns: Vec<(String, String, Vec<Option<String>>)>) -> SinkError {
        for (name, sql_type, values) in columns {
            let Ok(st) = client.prepare_typed(&sql::cast_probe(&sql_type), &[Type::TEXT_ARRAY]).await else { continue };
            if let Err(e) = client.execute(&st, &[&values]).await {
                if let Some(db) = e.as_db_error() {
                    return self.definite(format!(
                        "table {table} column {} ({sql_type}): {} (SQLSTATE {}) — the value does not fit the target column type: \
                         change the column type on the target or map the value with a transform",
                        quote_ident(&name),
                        excerpt(db.message(), 200),
                        db.code().code()
                    ));
                }
            }
        }
        error
    }
}

fn clone_err(e: &SinkError) -> SinkError {
    match e {
        SinkError::Transient { target, message } => SinkError::Transient { target: target.clone(), message: message.clone() },
        SinkError::Definite { target, message } => SinkError::Definite { target: target.clone(), message: message.clone() },
    }
}

/// PostgreSQL keeps only the first 63 bytes of an identifier (NAMEDATALEN
/// - 1); a longer name would silently become another name.
const MAX_IDENTIFIER_BYTES: usize = 63;

fn check_name_length(name: &str) -> Result<(), String> {
    if name.len() > MAX_IDENTIFIER_BYTES {
        return Err(format!(
            "the name {} is {} bytes long; PostgreSQL truncates identifiers to {MAX_IDENTIFIER_BYTES} bytes: rename it with a transform",
            quote_ident(&excerpt(name, 80)),
            name.len()
        ));
    }
    Ok(())
}

/// `postgres:host:port/database`: no user, no password.
fn sink_name(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("postgres:{host}:{port}/{}", config.get_dbname().or(config.get_user()).unwrap_or(""))
}

/// The password of a `postgres://user:password@…` URL, if any (for scrubbing
/// messages about a URL that did not parse).
fn password_in_url(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.rsplit_once('@')?.0;
    let pw = userinfo.split_once(':')?.1;
    (!pw.is_empty()).then(|| pw.to_string())
}

fn scrub(message: &str, password: Option<&str>) -> String {
    match password {
        Some(p) if !p.is_empty() => message.replace(p, "***"),
        _ => message.to_string(),
    }
}

/// Why a batch failed, with what the rollback step needs to know.
enum Failure {
    /// Any failure; `lost` when the connection must be dropped.
    Sink { error: SinkError, lost: bool },
    /// A data error (SQLSTATE class 22) in a row statement: after the
    /// rollback, each column's values are cast alone to name the culprit.
    Cast { error: SinkError, lost: bool, table: String, columns: Vec<(String, String, Vec<Option<String>>)> },
}

impl From<SinkError> for Failure {
    fn from(error: SinkError) -> Self {
        Failure::Sink { error, lost: false }
    }
}

/// One batch's transaction on one lane's connection.
struct Tx<'a> {
    sink: &'a PostgresSink,
    client: &'a Client,
    statements: &'a mut HashMap<String, Statement>,
    /// Tables created, altered or first read by this batch; they join the
    /// shared cache only when the batch commits.
    overlay: HashMap<TableKey, Arc<TableInfo>>,
}

impl Tx<'_> {
    fn db(&self, context: &str, e: tokio_postgres::Error) -> Failure {
        let lost = error::connection_lost(&e);
        Failure::Sink { error: classify(&self.sink.name, context, &e), lost }
    }

    async fn exec(&self, context: &str, sql: &str) -> Result<(), Failure> {
        self.client.batch_execute(sql).await.map_err(|e| self.db(context, e))
    }

    async fn run(&mut self, batch: &Batch) -> Result<(), Failure> {
        // MongoDB documents become (_id, document) rows first (see `sinks::document`).
        let records = document::to_table_records(&batch.records).map_err(|m| self.sink.definite(m))?;
        let steps = steps(&records).map_err(|m| self.sink.definite(m))?;
        self.exec("BEGIN", "BEGIN").await?;
        for step in steps {
            match step {
                Step::Rows(rows) => self.rows(&rows).await?,
                Step::Schema(c) => self.schema_change(c).await?,
                Step::Truncate(c) => self.truncate(c).await?,
                Step::KeyChange(c) => self.key_change(c).await?,
            }
        }
        self.exec("COMMIT (the batch is not applied)", "COMMIT").await
    }

    /// The target table: this batch's view, the shared cache, or the catalog.
    async fn table(&mut self, key: &TableKey) -> Result<Option<Arc<TableInfo>>, Failure> {
        if let Some(t) = self.overlay.get(key) {
            return Ok(Some(t.clone()));
        }
        if let Some(t) = self.sink.tables.lock().unwrap_or_else(|p| p.into_inner()).get(key) {
            return Ok(Some(t.clone()));
        }
        self.reload(key).await
    }

    async fn reload(&mut self, key: &TableKey) -> Result<Option<Arc<TableInfo>>, Failure> {
        let context = format!("table {}: reading the target catalog", sql::qualified(&key.0, &key.1));
        let info = schema::load_table(self.client, &key.0, &key.1).await.map_err(|e| self.db(&context, e))?;
        Ok(info.map(|mut info| {
            info.source = match self.overlay.get(key) {
                Some(t) => t.source.clone(),
                None => self.sink.sources.lock().unwrap_or_else(|p| p.into_inner()).get(key).cloned(),
            };
            let info = Arc::new(info);
            self.overlay.insert(key.clone(), info.clone());
            info
        }))
    }

    async fn existing_table(&mut self, key: &TableKey) -> Result<Arc<TableInfo>, Failure> {
        match self.table(key).await? {
            Some(t) => Ok(t),
            None => Err(self
                .sink
                .definite(format!(
                    "table {} does not exist on the target: create it, or set create_tables = true (tables are created \
                     from the source's schema-change records, so replay the table from its start or re-snapshot it)",
                    sql::qualified(&key.0, &key.1)
                ))
                .into()),
        }
    }

    async fn prepare(&mut self, context: &str, sql: &str, types: &[Type]) -> Result<Statement, Failure> {
        if let Some(st) = self.statements.get(sql) {
            return Ok(st.clone());
        }
        if self.statements.len() >= MAX_CACHED_STATEMENTS {
            self.statements.clear();
        }
        let st = self.client.prepare_typed(sql, types).await.map_err(|e| self.db(context, e))?;
        self.statements.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    /// Runs a prepared row statement over text arrays.
    async fn run_arrays(
        &mut self,
        info: &TableInfo,
        what: &str,
        sql: &str,
        cols: &[usize],
        arrays: Vec<Vec<Option<String>>>,
        unchanged: &[usize],
    ) -> Result<(), Failure> {
        let context = format!("table {}: {what}", info.display());
        let st = self.prepare(&context, sql, &vec![Type::TEXT_ARRAY; arrays.len()]).await?;
        let params: Vec<&(dyn ToSql + Sync)> = arrays.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
        let result = self.client.execute(&st, &params).await;
        drop(params);
        let Err(e) = result else { return Ok(()) };
        let lost = error::connection_lost(&e);
        let mut error = classify(&self.sink.name, &context, &e);
        let Some(db) = e.as_db_error() else { return Err(Failure::Sink { error, lost }) };
        let code = db.code().code();
        if code == "23502" {
            if let Some(col) = db.column().filter(|c| unchanged.iter().any(|&i| info.columns[i].name == *c)) {
                error = self.sink.definite(format!(
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
                .map(|(&i, a)| (info.columns[i].name.clone(), info.columns[i].sql_type.clone(), a))
                .collect();
            return Err(Failure::Cast { error, lost, table: info.display().to_string(), columns });
        }
        Err(Failure::Sink { error, lost })
    }

    async fn rows(&mut self, records: &[&Change]) -> Result<(), Failure> {
        let mut plans: Vec<TablePlan> = Vec::new();
        let mut by_table: HashMap<TableKey, usize> = HashMap::new();
        for c in records {
            let key = self.sink.target_table(c.table.as_ref())?;
            let i = match by_table.get(&key) {
                Some(&i) => i,
                None => {
                    let info = self.existing_table(&key).await?;
                    plans.push(TablePlan::new(info, &c.key_columns).map_err(|m| self.sink.definite(m))?);
                    by_table.insert(key, plans.len() - 1);
                    plans.len() - 1
                }
            };
            plans[i].add(c).map_err(|m| self.sink.definite(m))?;
        }
        for plan in plans {
            let info = plan.info().clone();
            let work = plan.finish();
            self.table_work(&info, work).await?;
        }
        Ok(())
    }

    async fn table_work(&mut self, info: &TableInfo, work: TableWork) -> Result<(), Failure> {
        if !work.deletes.is_empty() {
            let key: Vec<Col<'_>> = work.key.iter().map(|&i| col(info, i)).collect();
            let sql = sql::delete_by_keys(&info.sql_name, &key);
            self.run_arrays(info, "delete", &sql, &work.key, work.deletes, &[]).await?;
        }
        for g in work.groups {
            let cols: Vec<Col<'_>> = g.columns.iter().map(|&i| col(info, i)).collect();
            let key_pos: Vec<usize> =
                work.key.iter().map(|k| g.columns.iter().position(|c| c == k).expect("key columns are always present")).collect();
            let sql = if g.unchanged.is_empty() {
                sql::upsert(&info.sql_name, &cols, &key_pos)
            } else {
                sql::update_then_insert(&info.sql_name, &cols, &key_pos)
            };
            self.run_arrays(info, "upsert", &sql, &g.columns, g.arrays, &g.unchanged).await?;
        }
        Ok(())
    }

    async fn key_change(&mut self, c: &Change) -> Result<(), Failure> {
        let key = self.sink.target_table(c.table.as_ref())?;
        let info = self.existing_table(&key).await?;
        let definite = |m: String| Failure::from(self.sink.definite(m));
        let keyidx = key_indices(&*info, &c.key_columns).map_err(definite)?;
        let before = c.before.as_ref().ok_or_else(|| definite(format!("table {}: a key change without a before image", info.display())))?;
        let after = c.after.as_ref().ok_or_else(|| definite(format!("table {}: an update without an after image", info.display())))?;
        let old = key_of(&*info, &keyidx, before, "before").map_err(definite)?;
        // The new image's sent columns, in table order.
        let mut set: Vec<(usize, Option<String>)> = Vec::new();
        for colv in &after.columns {
            let Some(v) = colv.value.as_ref().filter(|v| !v.is_unchanged()) else { continue };
            let (i, ci) = info.column(&colv.name).ok_or_else(|| {
                definite(format!("table {}: column {} is not on the target table", info.display(), quote_ident(&colv.name)))
            })?;
            set.push((i, render_for(&info, ci, v).map_err(definite)?));
        }
        set.sort_by_key(|(i, _)| *i);
        let set_cols: Vec<Col<'_>> = set.iter().map(|(i, _)| col(&info, *i)).collect();
        let key_cols: Vec<Col<'_>> = keyidx.iter().map(|&i| col(&info, i)).collect();
        let new_key: Vec<usize> = keyidx
            .iter()
            .map(|k| set.iter().position(|(i, _)| i == k))
            .collect::<Option<_>>()
            .ok_or_else(|| definite(format!("table {}: the after image of a key change lacks a key column", info.display())))?;
        let sql = sql::move_key(&info.sql_name, &key_cols, &set_cols, &new_key);
        let context = format!("table {}: key change", info.display());
        let st = self.prepare(&context, &sql, &vec![Type::TEXT; old.len() + set.len()]).await?;
        let params: Vec<&(dyn ToSql + Sync)> =
            old.iter().chain(set.iter().map(|(_, v)| v)).map(|v| v as &(dyn ToSql + Sync)).collect();
        let result = self.client.execute(&st, &params).await;
        drop(params);
        result.map_err(|e| self.db(&context, e))?;
        // Then: delete the old key (a no-op when the row moved) and upsert the new image.
        let mut plan = TablePlan::new(info.clone(), &c.key_columns).map_err(definite)?;
        let mut delete = c.clone();
        delete.op = Op::Delete as i32;
        delete.after = None;
        let mut upsert = c.clone();
        upsert.before = None;
        plan.add(&delete).map_err(definite)?;
        plan.add(&upsert).map_err(definite)?;
        self.table_work(&info, plan.finish()).await
    }

    async fn truncate(&mut self, c: &Change) -> Result<(), Failure> {
        let key = self.sink.target_table(c.table.as_ref())?;
        match self.table(&key).await? {
            Some(info) => self.exec(&format!("table {}: truncate", info.display()), &sql::truncate(&info.sql_name)).await,
            None => {
                tracing::debug!(target_name = %self.sink.name, table = %sql::qualified(&key.0, &key.1),
                    "truncate of a table that does not exist on the target: nothing to do");
                Ok(())
            }
        }
    }

    /// The target type for a source column (see `schema.rs`), warning once
    /// when it falls back to text.
    async fn target_type(&mut self, table: &str, column: &str, source_type: &str) -> Result<String, Failure> {
        let (found, array) = match schema::resolve(source_type) {
            Resolved::Type(t) => return Ok(t),
            Resolved::Lookup { name, array } => {
                let context = format!("table {table}: looking up type {name}");
                let found = schema::lookup_type(self.client, &name).await.map_err(|e| self.db(&context, e))?;
                (found, array)
            }
            Resolved::Unknown { array } => (None, array),
        };
        if let Some(t) = found {
            return Ok(if array { t + "[]" } else { t });
        }
        let fallback = schema::fallback(array);
        self.sink.warn_once(format!("type {table}.{column} {source_type}"), || {
            tracing::warn!(target_name = %self.sink.name, table, column = %quote_ident(column), source_type,
                target_type = %fallback,
                "the source type does not exist on the target; the column is created as {fallback} and values keep their text form");
        });
        Ok(fallback)
    }

    async fn schema_change(&mut self, c: &Change) -> Result<(), Failure> {
        let schema = schema_diff::schema_of(c).map_err(|m| self.sink.definite(m))?;
        let key = self.sink.target_table(schema.table.as_ref().or(c.table.as_ref()))?;
        let shown = sql::qualified(&key.0, &key.1);
        if schema.columns.is_empty() {
            tracing::debug!(target_name = %self.sink.name, table = %shown, "schema change without columns: nothing to do");
            return Ok(());
        }
        let mut types = Vec::with_capacity(schema.columns.len());
        for col in &schema.columns {
            check_name_length(&col.name).map_err(|m| self.sink.definite(format!("table {shown}: {m}")))?;
            types.push(self.target_type(&shown, &col.name, &col.source_type).await?);
        }
        let context = format!("table {shown}: schema change");
        match self.table(&key).await? {
            None => {
                if !self.sink.create_tables {
                    return Err(self.sink.definite(schema_diff::no_table(&shown)).into());
                }
                let exists = schema::schema_exists(self.client, &key.0).await.map_err(|e| self.db(&context, e))?;
                if !exists {
                    self.exec(&context, &sql::create_schema(&key.0)).await?;
                }
                let defs = schema_diff::column_defs(schema, &types);
                self.exec(&context, &sql::create_table(&sql::qualified(&key.0, &key.1), &defs, &schema.key_columns)).await?;
                if schema.key_columns.is_empty() {
                    self.sink.warn_once(format!("nokey {shown}"), || {
                        tracing::warn!(target_name = %self.sink.name, table = %shown,
                            "the table has no key on the source: it is created, but its row changes will be refused \
                             (add a primary key on the source, or send the table to a file target)");
                    });
                }
            }
            Some(info) => self.evolve(&info, schema, &types, &context).await?,
        }
        match self.reload(&key).await? {
            Some(info) => {
                let mut info = (*info).clone();
                info.source = Some(schema.clone());
                self.overlay.insert(key, Arc::new(info));
                Ok(())
            }
            None => Err(self.sink.definite(schema_diff::vanished(&shown)).into()),
        }
    }

    /// Brings an existing table in line with a source schema: adds missing
    /// columns, refuses type changes and drops.
    async fn evolve(&mut self, info: &TableInfo, schema: &TableSchema, types: &[String], context: &str) -> Result<(), Failure> {
        let shown = info.display();
        if let Some(gone) = schema_diff::dropped(info.source.as_ref(), schema) {
            return Err(self.sink.definite(schema_diff::dropped_message(shown, &quote_ident(&gone.name))).into());
        }
        for (col, ty) in schema.columns.iter().zip(types) {
            let prev = schema_diff::previous(info.source.as_ref(), &col.name);
            match info.column(&col.name) {
                None if self.sink.create_tables => self.exec(context, &sql::add_column(&info.sql_name, &col.name, ty)).await?,
                None => {
                    return Err(self.sink.definite(schema_diff::missing_message(shown, &quote_ident(&col.name), ty)).into())
                }
                Some((_, target)) => {
                    if schema_diff::type_changed(prev, col, || target.sql_type != *ty) {
                        let column = quote_ident(&col.name);
                        let fix = format!("ALTER TABLE {shown} ALTER COLUMN {column} TYPE {ty}");
                        let m = schema_diff::changed_message(shown, &column, &col.source_type, ty, &target.sql_type, &fix);
                        return Err(self.sink.definite(m).into());
                    }
                    if schema_diff::relax_not_null(self.sink.create_tables, schema, col, target.not_null) {
                        self.exec(context, &sql::drop_not_null(&info.sql_name, &col.name)).await?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn col(info: &TableInfo, i: usize) -> Col<'_> {
    Col { name: &info.columns[i].name, sql_type: &info.columns[i].sql_type }
}

impl Sink for PostgresSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn apply<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(self.apply_batch(batch))
    }

    fn close(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            for lane in &self.lanes {
                lane.lock().await.drop_connection();
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_scrubbing() {
        let c: tokio_postgres::Config = "postgres://u:s3cret@db.example:6543/shop".parse().unwrap();
        assert_eq!(sink_name(&c), "postgres:db.example:6543/shop");
        assert_eq!(password_in_url("postgres://u:s3cret@h/db").as_deref(), Some("s3cret"));
        assert_eq!(password_in_url("postgres://u@h/db"), None);
        assert_eq!(scrub("bad s3cret here", Some("s3cret")), "bad *** here");
        let dbg = format!("{:?}", PostgresSinkConfig { url: "postgres://u:s3cret@h/db".into(), schema: None, create_tables: true, lanes: 1 });
        assert!(!dbg.contains("s3cret"), "{dbg}");
    }

    #[tokio::test]
    async fn bad_urls_are_definite_and_never_echo_the_password() {
        let e = PostgresSink::connect(PostgresSinkConfig {
            url: "postgres://u:s3cret@host:notaport/db".into(),
            schema: None,
            create_tables: false,
            lanes: 1,
        })
        .await
        .err()
        .unwrap();
        assert!(!e.is_transient());
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[tokio::test]
    async fn unreachable_servers_are_transient() {
        let e = PostgresSink::connect(PostgresSinkConfig {
            url: "postgres://u:s3cret@127.0.0.1:1/db".into(),
            schema: None,
            create_tables: false,
            lanes: 1,
        })
        .await
        .err()
        .unwrap();
        assert!(e.is_transient(), "{e}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}
