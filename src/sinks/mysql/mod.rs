//! `kind = "mysql"`: applies changes to MySQL or MariaDB tables,
//! idempotently, one transaction per batch.
//!
//! # Where rows go
//!
//! Every table lands in one database: the configured `database`, else the
//! database in the URL path (`mysql://user:pass@host:3306/<database>`).
//! MySQL has no schemas inside a database, so all source schemas are
//! flattened into it: source table `sales.orders` becomes
//! `` `<database>`.`orders` ``. Two source tables with the same name in
//! different schemas would write into one target table; the second one seen
//! is refused with a definite error (rename one with a transform). Every
//! identifier is backquoted in SQL (backquotes doubled), so names with
//! spaces, quotes, unicode or keywords are kept exactly and cannot inject
//! SQL. Column names are matched exactly, else case-insensitively (MySQL
//! column names are case-insensitive).
//!
//! A table of documents (records with `documents` set, e.g. a MongoDB collection) lands as one
//! table with `_id varchar(768)` (the primary key) and `document json`,
//! both canonical Extended JSON; see [`crate::sinks::document`].
//!
//! # Connections, transactions, errors
//!
//! Each lane has its own connection (lane 0's is opened by
//! [`MysqlSink::connect`] to check the URL and credentials, and creates the
//! database when `create_tables` is on; the others open on first use). Each
//! session sets `NAMES utf8mb4`, `time_zone = '+00:00'` and
//! `sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'`:
//!
//! - strict mode turns every value the server would truncate, round to a
//!   range limit or mangle into an error (definite, below) — nothing is
//!   silently changed. What strict mode lets through as a *note* (rounding
//!   of extra fraction digits) is refused before sending (see `value.rs`),
//!   and as a last guard any warning on a row statement fails the batch
//!   before COMMIT, quoting the server's warning;
//! - `NO_ZERO_DATE` and `NO_ZERO_IN_DATE` are deliberately *not* set, so
//!   the zero date `0000-00-00` (and `0000-00-00 00:00:00`) and the partial
//!   zero dates (`2024-00-15`, which the MySQL source passes on as text)
//!   that a MySQL source holds are written as the same values. Impossible
//!   dates (`2024-02-30`) are still errors (no `ALLOW_INVALID_DATES`), and a
//!   value is never changed into a zero date: strict mode refuses instead;
//! - `NO_AUTO_VALUE_ON_ZERO` keeps a key of 0 as 0 in AUTO_INCREMENT columns;
//! - `time_zone = '+00:00'`: timestamptz values are written in UTC, and a
//!   `TIMESTAMP` column stores exactly that instant.
//!
//! A batch is one transaction: `START TRANSACTION`, the statements below,
//! `COMMIT`; `apply` returns `Ok` only after `COMMIT` succeeded. How durable
//! that is depends on the server (`innodb_flush_log_at_trx_commit = 1` and
//! `sync_binlog = 1` for crash safety). A failure rolls the batch back, so
//! nothing of it is visible. DDL (CREATE, ALTER, TRUNCATE) commits
//! implicitly in MySQL, so a schema change or truncate — which the pipeline
//! sends alone in a batch — is applied statement by statement; each
//! statement is idempotent, so a retried batch converges.
//!
//! Errors are classified by MySQL error code (see `error.rs`): lost
//! connections (2006, 2013 and the other client errors), deadlocks (1213),
//! lock wait timeouts (1205), server shutdown (1053), too many connections
//! (1040) and the like are *transient* (the pipeline retries the same batch;
//! a lost connection is reopened on the next apply); bad data, constraint
//! violations, unknown tables or columns, syntax and privileges are
//! *definite*, with a message naming the table, the column when known, and
//! the fix. Messages quote at most a short excerpt of a value and never the
//! URL or password.
//!
//! # Row changes
//!
//! Within a batch, records are grouped by table and reduced per key to the
//! key's final state (the batch is one transaction, so intermediate states
//! are invisible anyway; see [`crate::sinks::plan`], shared with the
//! postgres target). Then, per table:
//!
//! 1. one `DELETE FROM t WHERE k IN (…)` (composite keys:
//!    `WHERE (k1, k2) IN ((…), …)`) for the keys whose final state is deleted;
//! 2. one multi-row `INSERT INTO t (c…) VALUES (…), (…) ON DUPLICATE KEY
//!    UPDATE c = VALUES(c), …` per *shape* of the remaining rows (the set of
//!    columns they carry), normally exactly one. `VALUES(c)` is what MariaDB
//!    supports (10.3.3+ also as `VALUE(c)`); MySQL 8.0.20+ still accepts it
//!    but with deprecation warning 1287 on every statement, and any warning
//!    fails a batch here (below), so on MySQL 8.0.19+ the target writes the
//!    row-alias form MySQL prefers instead, `INSERT … VALUES (…) AS lf_new
//!    ON DUPLICATE KEY UPDATE c = lf_new.c` (a syntax error on MariaDB).
//!    Only the MariaDB form is tested against a real server here.
//!
//! Statements are split to stay under the server's `max_allowed_packet`
//! (read on every connect); a single row larger than that is a definite
//! error. Values travel as SQL literals over the **text protocol**, and all
//! of a batch's statements go in one multi-statement round trip together
//! with `START TRANSACTION`, so a batch costs **two round trips** (that one
//! and `COMMIT`) however many rows and tables it has (more only when it is
//! larger than `max_allowed_packet`). Measured against prepared statements
//! (binary protocol, one `INSERT` with 3,000 placeholders per 1,000 rows) on
//! MariaDB 10.11: the same rows/s within noise when the statement is
//! already prepared, 30–50% slower when a statement has to be prepared
//! because the batch's size or shape changed, and prepared statements need
//! extra round trips for `START TRANSACTION` and each statement, plus a
//! 65,535-placeholder limit. Text literals are escaped in `sql.rs`.
//!
//! Replaying a batch gives the same result (upsert and delete by key), which
//! is what makes at-least-once delivery safe. Upserts need a PRIMARY KEY or
//! UNIQUE index on exactly the key columns and *no other unique index* on
//! the target (`ON DUPLICATE KEY UPDATE` would otherwise update the row that
//! owns a duplicate value instead of failing); tables logferry creates have
//! just the primary key, and other tables are checked and refused with a
//! definite error. Foreign keys on the target are not supported (MySQL
//! cannot defer them, and lanes apply keys independently).
//!
//! **UNCHANGED** (a PostgreSQL TOAST value the source did not send) never
//! overwrites a stored value. If an earlier record of the same key in the
//! batch carried the value, that value is used. Otherwise the column is left
//! out of the INSERT column list, so existing rows keep it and a row that
//! does not exist gets the column default. MySQL checks at statement start
//! that every NOT NULL column without a default has a value, even for rows
//! that will only be updated, so when such a column is unchanged the rows
//! are updated one `UPDATE … WHERE key` each instead (still in the same
//! round trip); a row that does not exist then fails the batch with a
//! definite error explaining that the value was never sent and the target
//! is missing the row (re-snapshot the table).
//!
//! **Key-changing updates** (old key ≠ new key; the pipeline sends them alone
//! in a batch) move the row in place when no row has the new key yet
//! (`UPDATE … SET key = new … WHERE key = old AND NOT EXISTS (…)`, so columns
//! not sent keep their values), then delete the old key and upsert the new
//! image — the same result when replayed.
//!
//! **Tables without a key** (no primary key and no replica identity on the
//! source) are refused with a definite error, as in the postgres target:
//! without a key a change cannot be applied or replayed safely. Their schema
//! changes still create the table (without a primary key).
//!
//! # Schema changes, truncates
//!
//! `OP_SCHEMA_CHANGE` carries the table's columns (name, source type name,
//! nullability) and key.
//!
//! - With `create_tables = true`: a missing table is created with
//!   `CREATE TABLE IF NOT EXISTS`, InnoDB, `utf8mb4` with a *binary*
//!   collation (`utf8mb4_nopad_bin` on MariaDB, `utf8mb4_0900_bin` on MySQL
//!   8), so keys compare byte for byte as on the source and two source keys
//!   that differ in case or trailing spaces stay two rows; NOT NULL where the
//!   source has it; a PRIMARY KEY on the key columns. On an existing table,
//!   missing columns are added (`ALTER TABLE … ADD COLUMN`, nullable, since
//!   existing rows have no value) and a column that became nullable on the
//!   source is made nullable (`MODIFY COLUMN`, keeping its type and
//!   collation; skipped with a warning when the column has a default).
//!   A missing database is created at connect.
//! - With `create_tables = false` logferry runs no DDL: a missing database,
//!   table or column is a definite error naming it.
//! - A column whose type changed, or that was dropped on the source, is a
//!   definite error naming the table and column: logferry never converts or
//!   drops stored data. Change or drop the target column yourself and
//!   restart. The comparison is against the previous source type when this
//!   process applied one, else against the target column's `COLUMN_TYPE`
//!   (display widths, `zerofill`, aliases and MariaDB's `json` = `longtext`
//!   do not count as differences). Adding a label to an ENUM or SET on a
//!   MySQL source is such a type change.
//!
//! `OP_TRUNCATE` runs `TRUNCATE TABLE` when it is alone in its batch (as the
//! pipeline sends it; needs the DROP privilege), else a transactional
//! `DELETE FROM`; a table that does not exist is skipped. `OP_MESSAGE` and
//! `OP_HEARTBEAT` are ignored.
//!
//! ## Type mapping
//!
//! Source type names are mapped as below (`schema.rs`). Names that mean
//! different things in the two engines (`text`, `point`, `polygon`,
//! `bit(n)`) follow the column's `type_dialect`: PostgreSQL's spelling when
//! it is `postgresql`, else MySQL's.
//!
//! | source type | target type | values |
//! |---|---|---|
//! | **MySQL / MariaDB** (lowercase `COLUMN_TYPE`) | the same type | |
//! | `tinyint(1)`, other integer types (`int(11)`, `bigint(20) unsigned`, `zerofill`) | the same, without display width (except `tinyint(1)`) and `zerofill` | integers, `BIGINT UNSIGNED` up to 2^64-1 |
//! | `decimal(p,s)`, `float`, `double` | the same | exact decimal text; floats exactly |
//! | `char(n)`, `varchar(n)`, `*text`, `binary(n)`, `varbinary(n)`, `*blob` | the same (utf8mb4) | |
//! | `date`, `datetime(p)`, `timestamp(p)`, `time(p)`, `year` | the same | zero dates kept; `timestamp` in UTC |
//! | `enum(…)`, `set(…)` | the same labels (re-quoted) | labels |
//! | `json` | `json` (MariaDB: `longtext` with a `json_valid` check) | text as is |
//! | `bit(n)` | `bit(n)` | bytes |
//! | `geometry`, `point`, `linestring`, `polygon`, `multi*`, `geometrycollection` | the same | MySQL's internal form (4-byte little-endian SRID + WKB), which MariaDB and MySQL accept directly as a binary value for a geometry column (checked on MariaDB 10.11; plain WKB without the SRID is refused by the server, error 1416) |
//! | `uuid`, `inet4`, `inet6` (MariaDB) | the same where the server has it, else `char(36)` / `longtext` | text |
//! | **PostgreSQL** (`format_type`) | | |
//! | `smallint`, `integer`, `bigint` | `SMALLINT`, `INT`, `BIGINT` | |
//! | `numeric(p,s)` | `DECIMAL(p,s)`; p > 65 or s > 30 is a definite error naming the column | exact; a value with more digits than the column keeps is refused, never rounded |
//! | `numeric` (unconstrained) | `DECIMAL(65,30)` | values with more than 35 integer or 30 fraction digits are refused (definite), never rounded |
//! | `real`, `double precision` | `FLOAT`, `DOUBLE` | exact |
//! | `boolean` | `TINYINT(1)` | 1 / 0 |
//! | `text`, `character varying` | `LONGTEXT` | |
//! | `character varying(n)`, `character(n)` | `VARCHAR(n)`, `CHAR(n)` (`VARCHAR(n)` above 255, `LONGTEXT` above 16,383) | MySQL strips the trailing spaces of `CHAR` when reading |
//! | `bytea` | `LONGBLOB` | |
//! | `date` | `DATE` | |
//! | `time(p)` | `TIME(p)`, p = 6 by default | |
//! | `time with time zone` | `VARCHAR(32)` | PostgreSQL's text form, `13:45:00.5+05:30` (MySQL has no zoned time) |
//! | `timestamp(p)` | `DATETIME(p)`, p = 6 by default | |
//! | `timestamp(p) with time zone` | `DATETIME(p)`, in UTC | the instant's UTC wall clock (`DATETIME`, not `TIMESTAMP`: its range ends in 2038) |
//! | `interval` | `VARCHAR(64)` | PostgreSQL's text form, `1 year 2 mons -3 days +04:05:06.5` (MySQL has no interval type; the most extreme intervals need 66 characters and are refused) |
//! | `uuid` | `UUID` (MariaDB ≥ 10.7), else `CHAR(36)` | `8-4-4-4-12` |
//! | `json`, `jsonb` | `JSON` | the text as is (MySQL's native JSON normalises it) |
//! | arrays (`text[]`, `integer[]`, …) | `JSON` | a JSON array of the elements (nested for more dimensions) |
//! | enums, domains, composites, ranges, geometric types, `money`, `xml`, `inet`, `bit`, any other | `LONGTEXT` | the value's text (user types with a warning logged once) |
//!
//! Key columns cannot be `TEXT`, `BLOB` or `JSON` in InnoDB without a prefix
//! length, and a prefix would let distinct keys collide, so such key columns
//! become `VARCHAR(n)` / `VARBINARY(n)` sharing InnoDB's 3,072-byte index
//! limit (`VARCHAR(768)` for a lone text key); a longer key value is a
//! definite error.
//!
//! Values MySQL cannot store at all — infinite dates and timestamps, NaN and
//! ±Infinity numbers, years before 1 or after 9999, times beyond ±838 hours,
//! sub-microsecond timestamps — are refused with a definite error naming the
//! table, column and value. That is the dead-letter path with a reason until
//! a dead-letter store exists: fix the source row, or map the value with a
//! transform, then restart.
//!
//! TLS: `ssl-mode` / `ssl-ca` in the URL (see `tls::mysql`).
//!
//! Not done here: `ordering =
//! "transaction"` specifics, foreign keys on the target, generated columns
//! on the target, and MySQL's `SRID` column attribute.

mod error;
#[doc(hidden)]
pub mod schema;
#[doc(hidden)]
pub mod sql;
#[doc(hidden)]
pub mod value;

pub use sql::quote_ident;

use self::error::{classify, excerpt};
use self::schema::{Dialect, Server, TableInfo};
use self::sql::Chunks;
use self::value::Cell;
use super::plan::{key_indices, key_of, steps, PlanTable, Step, TablePlan, TableWork};
use super::{document, schema_diff, Batch, Sink, SinkError};
use crate::record::{Change, Op, TableRef, TableSchema};
use crate::BoxFuture;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Settings of a mysql target (the validated form of `[[pipeline.target]]
/// kind = "mysql"`).
#[derive(Clone)]
pub struct MysqlSinkConfig {
    /// Full connection URL, password included. Never logged.
    pub url: String,
    /// Target database for every table; `None` uses the URL's database.
    pub database: Option<String>,
    /// Create the missing database, tables and columns from schema-change records.
    pub create_tables: bool,
    /// Number of lanes (one connection each).
    pub lanes: usize,
}

impl std::fmt::Debug for MysqlSinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlSinkConfig")
            .field("url", &"***")
            .field("database", &self.database)
            .field("create_tables", &self.create_tables)
            .field("lanes", &self.lanes)
            .finish()
    }
}

/// A connection attempt that takes longer is reported as transient rather
/// than hanging a lane forever.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Session settings the value rendering and strictness rely on (see the module docs).
const SESSION_SETUP: &str = "SET NAMES utf8mb4, time_zone = '+00:00', \
     sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'";

/// Without it, an old server gives the first `TIMESTAMP NOT NULL` column of a
/// created table an automatic `ON UPDATE CURRENT_TIMESTAMP`. Servers where
/// it cannot be set are fine too: column definitions say `NULL` explicitly.
const SESSION_TIMESTAMPS: &str = "SET SESSION explicit_defaults_for_timestamp = 1";

/// A connection idle for longer is pinged before a batch, so one the server
/// closed meanwhile (idle timeout, restart, KILL) is replaced instead of
/// failing the batch. Under load batches follow each other faster and no
/// ping is sent.
const IDLE_PING: Duration = Duration::from_secs(1);

/// Bytes kept free below `max_allowed_packet` for the statement separators
/// and `START TRANSACTION` of a multi-statement round trip.
const PACKET_MARGIN: usize = 4096;

/// Never build round trips larger than this, whatever the server allows:
/// a failed 1 GiB statement is expensive to resend.
const MAX_ROUND_TRIP_BYTES: usize = 16 << 20;

/// Warnings left out when quoting why a statement was refused: they do not
/// mean data was changed (1287 deprecated syntax, 1681 integer display
/// width deprecated).
const HARMLESS_WARNINGS: [u16; 2] = [1287, 1681];

/// One lane's connection.
#[derive(Default)]
struct Lane {
    conn: Option<Conn>,
    /// Largest round trip for this connection (from `max_allowed_packet`).
    budget: usize,
    /// Set from START TRANSACTION until COMMIT or ROLLBACK finished: still
    /// set at the start of an apply means a previous apply was cancelled
    /// mid-batch, and the connection is dropped, not reused.
    in_txn: bool,
    /// When the connection last answered; after [`IDLE_PING`] it is pinged
    /// before use (servers drop idle connections: `wait_timeout`, restarts).
    last_used: Option<std::time::Instant>,
}

/// Applies batches to MySQL or MariaDB. See the module docs.
pub struct MysqlSink {
    name: String,
    /// The driver's options and the TLS the URL asks for.
    endpoint: crate::tls::mysql::MysqlEndpoint,
    /// To scrub from any error text that might echo it.
    password: Option<String>,
    database: String,
    create_tables: bool,
    server: Server,
    lanes: Vec<tokio::sync::Mutex<Lane>>,
    /// Target tables by name, shared by the lanes. Only committed state goes
    /// in (a batch's own changes wait in its overlay).
    tables: std::sync::Mutex<HashMap<String, Arc<TableInfo>>>,
    /// The last source schema applied per table (committed), kept apart from
    /// `tables` so that dropping the catalog cache after an error does not
    /// forget which columns the source had (drop detection).
    sources: std::sync::Mutex<HashMap<String, TableSchema>>,
    /// Which source table (`schema.name`) writes each target table: two
    /// source schemas with one table name would mix their rows.
    origins: std::sync::Mutex<HashMap<String, String>>,
    /// Things already warned about (text fallback, no key).
    warned: std::sync::Mutex<HashSet<String>>,
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MysqlSink {
    /// Parses the URL, opens lane 0's connection (so bad credentials or an
    /// unreachable server show up at start) and makes sure the database
    /// exists (creating it when `create_tables` is on).
    pub async fn connect(cfg: MysqlSinkConfig) -> Result<Self, SinkError> {
        let url_password = password_in_url(&cfg.url);
        let (url, tls) = crate::tls::mysql::from_url(&cfg.url)
            .map_err(|m| SinkError::Definite { target: "mysql".into(), message: format!("the target url: {m}") })?;
        let opts = Opts::from_url(&url).map_err(|e| SinkError::Definite {
            target: "mysql".into(),
            message: scrub(
                &format!("the target url is not a valid MySQL URL (mysql://user:password@host:port/database): {e}"),
                url_password.as_deref(),
            ),
        })?;
        let database = cfg.database.clone().filter(|d| !d.is_empty()).or_else(|| opts.db_name().map(str::to_string));
        let Some(database) = database.filter(|d| !d.is_empty()) else {
            return Err(SinkError::Definite {
                target: "mysql".into(),
                message: "no target database: put it in the url (mysql://user:password@host:port/<database>) or set database"
                    .into(),
            });
        };
        let name = format!("mysql:{}:{}/{}", opts.ip_or_hostname(), opts.tcp_port(), database);
        check_identifier(&database).map_err(|m| SinkError::Definite { target: name.clone(), message: format!("database: {m}") })?;
        let password = opts.pass().map(str::to_string).or(url_password);
        // Statements always name the database, so the session needs none
        // (and connecting works before the database exists).
        let opts: Opts = OptsBuilder::from_opts(opts)
            .db_name(None::<String>)
            .client_found_rows(true)
            .stmt_cache_size(0)
            .tcp_keepalive(Some(Duration::from_secs(60)))
            .into();
        let mut sink = MysqlSink {
            name,
            endpoint: crate::tls::mysql::MysqlEndpoint::new(opts, tls),
            password,
            database,
            create_tables: cfg.create_tables,
            server: Server { mariadb: true, version: (0, 0, 0) },
            lanes: (0..cfg.lanes.max(1)).map(|_| tokio::sync::Mutex::new(Lane::default())).collect(),
            tables: Default::default(),
            sources: Default::default(),
            origins: Default::default(),
            warned: Default::default(),
        };
        let (mut conn, budget, server) = sink.open().await?;
        sink.server = server;
        let exists = schema::database_exists(&mut conn, &sink.database)
            .await
            .map_err(|e| sink.scrubbed(classify(&sink.name, "reading the target catalog", &e).error))?;
        if !exists {
            if !sink.create_tables {
                return Err(sink.definite(format!(
                    "the target database {} does not exist and create_tables = false: create it, or set create_tables = true",
                    quote_ident(&sink.database)
                )));
            }
            let ddl = sql::create_database(&sink.database, sink.server.collation());
            conn.query_drop(ddl).await.map_err(|e| {
                sink.scrubbed(classify(&sink.name, &format!("creating the database {}", quote_ident(&sink.database)), &e).error)
            })?;
        }
        *sink.lanes[0].get_mut() = Lane { conn: Some(conn), budget, in_txn: false, last_used: Some(std::time::Instant::now()) };
        Ok(sink)
    }

    fn scrubbed(&self, e: SinkError) -> SinkError {
        let p = self.password.as_deref();
        match e {
            SinkError::Transient { target, message } => SinkError::Transient { target, message: scrub(&message, p) },
            SinkError::Definite { target, message } => SinkError::Definite { target, message: scrub(&message, p) },
        }
    }

    /// Opens a connection and sets the session up; returns it with its
    /// round-trip budget and the server flavour.
    async fn open(&self) -> Result<(Conn, usize, Server), SinkError> {
        let fail = |what: &str, e: &mysql_async::Error| self.scrubbed(classify(&self.name, what, e).error);
        let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, self.endpoint.connect()).await {
            Ok(Ok(c)) => c,
            Ok(Err(crate::tls::mysql::ConnectError::Driver(e))) => return Err(fail("cannot connect", &e)),
            Ok(Err(crate::tls::mysql::ConnectError::Network(m))) => {
                return Err(SinkError::Transient { target: self.name.clone(), message: format!("cannot connect: {m}") })
            }
            Ok(Err(crate::tls::mysql::ConnectError::Tls(m))) => {
                return Err(SinkError::Definite { target: self.name.clone(), message: format!("cannot connect: {m}") })
            }
            Err(_) => {
                return Err(SinkError::Transient {
                    target: self.name.clone(),
                    message: format!("cannot connect: no answer within {CONNECT_TIMEOUT:?}; retrying"),
                })
            }
        };
        conn.query_drop(SESSION_SETUP).await.map_err(|e| fail("cannot set up the session", &e))?;
        if let Err(e) = conn.query_drop(SESSION_TIMESTAMPS).await {
            tracing::debug!(target_name = %self.name, error = %e, "explicit_defaults_for_timestamp not set");
        }
        let row: Option<(String, u64)> = conn
            .query_first("SELECT VERSION(), @@max_allowed_packet")
            .await
            .map_err(|e| fail("cannot read the server version", &e))?;
        let (version, packet) = row.unwrap_or_default();
        let budget = (packet as usize).clamp(64 << 10, MAX_ROUND_TRIP_BYTES + PACKET_MARGIN) - PACKET_MARGIN;
        Ok((conn, budget, Server::parse(&version)))
    }

    /// The target table name of a source table (see the module docs).
    fn target_table(&self, t: Option<&TableRef>) -> Result<String, SinkError> {
        let t = t.filter(|t| !t.name.is_empty()).ok_or_else(|| self.definite("a record without a table name".into()))?;
        check_identifier(&t.name).map_err(|m| self.definite(format!("table {}: {m}", t.qualified())))?;
        let origin = t.qualified();
        let mut origins = lock(&self.origins);
        match origins.get(&t.name) {
            Some(o) if *o != origin => Err(self.definite(format!(
                "source tables {o} and {origin} both map to {} (the mysql target puts every table into one database): \
                 rename one of them with a transform",
                sql::qualified(&self.database, &t.name)
            ))),
            Some(_) => Ok(t.name.clone()),
            None => {
                origins.insert(t.name.clone(), origin);
                Ok(t.name.clone())
            }
        }
    }

    fn definite(&self, message: String) -> SinkError {
        SinkError::Definite { target: self.name.clone(), message }
    }

    fn warn_once(&self, key: String, f: impl FnOnce()) {
        if lock(&self.warned).insert(key) {
            f();
        }
    }

    async fn apply_batch(&self, batch: &Batch) -> Result<(), SinkError> {
        if !batch.records.iter().any(|c| !matches!(c.op(), Op::Heartbeat | Op::Message)) {
            return Ok(());
        }
        // MongoDB documents become (_id, document) rows first (see `sinks::document`).
        let records = document::to_table_records(&batch.records).map_err(|m| self.definite(m))?;
        let steps = steps(&records).map_err(|m| self.definite(m))?;
        let mut lane = self.lanes[batch.lane % self.lanes.len()].lock().await;
        if lane.in_txn {
            // Cancelled mid-batch earlier: the connection may be inside a
            // transaction; start afresh.
            lane.conn = None;
            lane.in_txn = false;
        }
        if lane.last_used.is_some_and(|t| t.elapsed() > IDLE_PING) {
            if let Some(conn) = lane.conn.as_mut() {
                if conn.ping().await.is_err() {
                    lane.conn = None;
                }
            }
        }
        if lane.conn.is_none() {
            let (conn, budget, _) = self.open().await?;
            lane.conn = Some(conn);
            lane.budget = budget;
        }
        lane.in_txn = true;
        lane.last_used = None;
        let lane = &mut *lane;
        let budget = lane.budget;
        let conn = lane.conn.as_mut().expect("connected above");
        let mut tx = Tx {
            sink: self,
            conn,
            budget,
            pending: Vec::new(),
            pending_bytes: 0,
            open_txn: false,
            alone: steps.len() == 1,
            overlay: HashMap::new(),
        };
        let result = tx.run(steps).await;
        let overlay = std::mem::take(&mut tx.overlay);
        drop(tx);
        match result {
            Ok(()) => {
                lane.in_txn = false;
                lane.last_used = Some(std::time::Instant::now());
                let mut sources = lock(&self.sources);
                for (key, info) in &overlay {
                    if let Some(schema) = &info.source {
                        sources.insert(key.clone(), schema.clone());
                    }
                }
                drop(sources);
                lock(&self.tables).extend(overlay);
                Ok(())
            }
            Err(failure) => {
                // The catalog may differ from what we cached (DDL that
                // committed, an ALTER by hand): reload next time.
                lock(&self.tables).clear();
                let (error, lost, diagnose) = match failure {
                    Failure::Sink { error, lost } => (error, lost, None),
                    Failure::Warnings { error, stmt } => (error, false, Some(stmt)),
                };
                let conn = lane.conn.as_mut().expect("connected above");
                if lost || conn.query_drop("ROLLBACK").await.is_err() {
                    lane.conn = None;
                    lane.in_txn = false;
                    return Err(self.scrubbed(error));
                }
                lane.in_txn = false;
                lane.last_used = Some(std::time::Instant::now());
                let error = match diagnose {
                    Some(stmt) => self.explain_warnings(conn, error, &stmt).await,
                    None => error,
                };
                Err(self.scrubbed(error))
            }
        }
    }

    /// Runs a statement that raised warnings again, alone in a transaction
    /// that is rolled back, to quote the server's warnings.
    async fn explain_warnings(&self, conn: &mut Conn, error: SinkError, stmt: &Stmt) -> SinkError {
        let SinkError::Definite { target, message } = error else { return error };
        let probe = format!("START TRANSACTION; {}; SHOW WARNINGS", stmt.sql);
        let mut shown = Vec::new();
        if let Ok(mut r) = conn.query_iter(probe).await {
            let _ = r.collect::<mysql_async::Row>().await;
            let _ = r.collect::<mysql_async::Row>().await;
            if let Ok(rows) = r.collect::<(String, u16, String)>().await {
                shown = rows
                    .into_iter()
                    .filter(|(_, code, _)| !HARMLESS_WARNINGS.contains(code))
                    .map(|(level, code, msg)| stmt.with_row(format!("{level} {code}: {}", excerpt(&msg, 160))))
                    .take(3)
                    .collect();
            }
            let _ = r.drop_result().await;
        }
        let _ = conn.query_drop("ROLLBACK").await;
        let message = if shown.is_empty() { message } else { format!("{message}: {}", shown.join("; ")) };
        SinkError::Definite { target, message }
    }
}

/// A row's key for messages: `` `id` = 42 ``, `` `a` = 'x', `b` = 2 ``
/// (values cut short).
#[doc(hidden)]
pub fn key_text<'c>(names: &[&str], cells: impl Iterator<Item = &'c Cell>) -> String {
    let mut out = String::new();
    for (i, (name, cell)) in names.iter().zip(cells).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let mut lit = String::new();
        sql::push_literal(&mut lit, cell);
        out.push_str(&quote_ident(name));
        out.push_str(" = ");
        out.push_str(&excerpt(&lit, 60));
    }
    out
}

/// MySQL's longest identifier, in characters; a longer name is an error
/// (never silently cut).
const MAX_IDENTIFIER_CHARS: usize = 64;

/// Why `name` cannot be a MySQL / MariaDB table or column name, if it cannot:
/// identifiers hold at most 64 characters of the Basic Multilingual Plane
/// (no emoji), no NUL, and cannot end with a space.
fn check_identifier(name: &str) -> Result<(), String> {
    let why = if name.chars().count() > MAX_IDENTIFIER_CHARS {
        Some(format!("is longer than {MAX_IDENTIFIER_CHARS} characters"))
    } else if name.chars().any(|c| c == '\0' || u32::from(c) > 0xFFFF) {
        Some("has a character MySQL identifiers cannot hold (NUL, or outside the Basic Multilingual Plane such as an emoji)".into())
    } else if name.ends_with(' ') {
        Some("ends with a space".into())
    } else {
        None
    };
    match why {
        Some(why) => Err(format!(
            "the name {} {why}, so it cannot be a MySQL identifier: rename it with a transform",
            quote_ident(&excerpt(name, 80))
        )),
        None => Ok(()),
    }
}

/// `mysql://user:password@…` → the password (for scrubbing messages about
/// a URL that did not parse).
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

/// Why a batch failed.
enum Failure {
    /// Any failure; `lost` when the connection must be dropped.
    Sink { error: SinkError, lost: bool },
    /// A row statement raised warnings (data would have been changed); after
    /// the rollback the statement is run again to quote them.
    Warnings { error: SinkError, stmt: Stmt },
}

impl From<SinkError> for Failure {
    fn from(error: SinkError) -> Self {
        Failure::Sink { error, lost: false }
    }
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

/// A statement waiting to be sent.
struct Stmt {
    sql: String,
    /// Where, for messages: ``table `db`.`t`: upsert``.
    context: String,
    check: Check,
    /// The key of each row of a multi-row statement, as SQL text, so a
    /// server message about `row N` can name the row's key.
    row_keys: Vec<String>,
}

impl Stmt {
    /// `message` plus the key of the row it names (`… at row 3`), if known.
    fn with_row(&self, message: String) -> String {
        let n = message
            .rfind(" at row ")
            .and_then(|i| message[i + 8..].split(|c: char| !c.is_ascii_digit()).next()?.parse::<usize>().ok());
        match n.and_then(|n| self.row_keys.get(n.checked_sub(1)?)) {
            Some(key) => format!("{message} [the row with key {key}]"),
            None => message,
        }
    }
}

/// One batch's work on one lane's connection.
struct Tx<'a> {
    sink: &'a MysqlSink,
    conn: &'a mut Conn,
    /// Largest round trip.
    budget: usize,
    /// Statements not sent yet; they go in one multi-statement round trip.
    pending: Vec<Stmt>,
    pending_bytes: usize,
    /// A transaction is open (or its START TRANSACTION is pending); DDL
    /// commits implicitly and clears it.
    open_txn: bool,
    /// The batch is one step (a truncate may then use TRUNCATE TABLE).
    alone: bool,
    /// Tables created, altered or first read by this batch; they join the
    /// shared cache only when the batch commits.
    overlay: HashMap<String, Arc<TableInfo>>,
}

impl Tx<'_> {
    fn fail(&self, context: &str, e: &mysql_async::Error) -> Failure {
        let c = classify(&self.sink.name, context, e);
        Failure::Sink { error: c.error, lost: c.lost }
    }

    async fn run(&mut self, steps: Vec<Step<'_>>) -> Result<(), Failure> {
        for step in steps {
            match step {
                Step::Rows(rows) => self.rows(&rows).await?,
                Step::Schema(c) => self.schema_change(c).await?,
                Step::Truncate(c) => self.truncate(c).await?,
                Step::KeyChange(c) => self.key_change(c).await?,
            }
        }
        self.flush().await?;
        if self.open_txn {
            self.conn.query_drop("COMMIT").await.map_err(|e| self.fail("COMMIT (the batch is not applied)", &e))?;
            self.open_txn = false;
        }
        Ok(())
    }

    /// Queues a row statement (inside the batch's transaction).
    async fn push(&mut self, sql: String, context: String, check: Check) -> Result<(), Failure> {
        self.push_rows(sql, context, check, Vec::new()).await
    }

    /// [`Tx::push`] for a multi-row statement, with its rows' keys.
    async fn push_rows(&mut self, sql: String, context: String, check: Check, row_keys: Vec<String>) -> Result<(), Failure> {
        if self.pending_bytes + sql.len() + 2 > self.budget {
            self.flush().await?;
        }
        if !self.open_txn {
            self.pending_bytes += 20;
            self.pending.push(Stmt {
                sql: "START TRANSACTION".into(),
                context: "START TRANSACTION".into(),
                check: Check::None,
                row_keys: Vec::new(),
            });
            self.open_txn = true;
        }
        self.pending_bytes += sql.len() + 2;
        self.pending.push(Stmt { sql, context, check, row_keys });
        Ok(())
    }

    /// Sends the pending statements in one round trip and checks each result.
    async fn flush(&mut self) -> Result<(), Failure> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let stmts = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let mut text = String::with_capacity(stmts.iter().map(|s| s.sql.len() + 2).sum());
        for (i, s) in stmts.iter().enumerate() {
            if i > 0 {
                text.push_str(";\n");
            }
            text.push_str(&s.sql);
        }
        let n = stmts.len();
        let mut result = match self.conn.query_iter(text).await {
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
                return Err(Failure::Warnings {
                    error: self.sink.definite(format!(
                        "{}: the server would change the data ({warnings} warning{}; nothing of the batch is applied) — \
                         the target column types do not hold these values exactly: change them on the target or map the \
                         values with a transform",
                        stmt.context,
                        if warnings == 1 { "" } else { "s" }
                    )),
                    stmt,
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

    fn stmt_failure(&self, stmt: &Stmt, e: &mysql_async::Error) -> Failure {
        let c = classify(&self.sink.name, &stmt.context, e);
        let error = match c.error {
            SinkError::Definite { target, message } => SinkError::Definite { target, message: stmt.with_row(message) },
            transient => transient,
        };
        Failure::Sink { error, lost: c.lost }
    }

    fn missing_row(&self, table: &str, columns: &[String], key: &str) -> SinkError {
        self.sink.definite(format!(
            "table {table} column {}: the source did not send this column's value (an unchanged TOASTed value) for the row \
             with key {key}, which does not exist on the target, and the column is NOT NULL without a default, so there is no value to \
             keep — the target is missing rows: re-snapshot the table (or make the column nullable on the target)",
            columns.join(", ")
        ))
    }

    /// Runs DDL now (it commits implicitly, so any pending statements go first).
    async fn ddl(&mut self, context: &str, sql: String) -> Result<(), Failure> {
        self.flush().await?;
        if self.open_txn {
            self.conn.query_drop("COMMIT").await.map_err(|e| self.fail(context, &e))?;
        }
        self.open_txn = false;
        self.conn.query_drop(sql).await.map_err(|e| self.fail(context, &e))
    }

    /// The target table: this batch's view, the shared cache, or the catalog.
    async fn table(&mut self, key: &str) -> Result<Option<Arc<TableInfo>>, Failure> {
        if let Some(t) = self.overlay.get(key) {
            return Ok(Some(t.clone()));
        }
        if let Some(t) = lock(&self.sink.tables).get(key) {
            return Ok(Some(t.clone()));
        }
        self.reload(key).await
    }

    async fn reload(&mut self, key: &str) -> Result<Option<Arc<TableInfo>>, Failure> {
        self.flush().await?;
        let context = format!("table {}: reading the target catalog", sql::qualified(&self.sink.database, key));
        let info = schema::load_table(self.conn, &self.sink.database, key).await.map_err(|e| self.fail(&context, &e))?;
        Ok(info.map(|mut info| {
            info.source = match self.overlay.get(key) {
                Some(t) => t.source.clone(),
                None => lock(&self.sink.sources).get(key).cloned(),
            };
            let info = Arc::new(info);
            self.overlay.insert(key.to_string(), info.clone());
            info
        }))
    }

    async fn existing_table(&mut self, key: &str) -> Result<Arc<TableInfo>, Failure> {
        match self.table(key).await? {
            Some(t) => Ok(t),
            None => Err(self
                .sink
                .definite(format!(
                    "table {} does not exist on the target: create it, or set create_tables = true (tables are created \
                     from the source's schema-change records, so replay the table from its start or re-snapshot it)",
                    sql::qualified(&self.sink.database, key)
                ))
                .into()),
        }
    }

    async fn rows(&mut self, records: &[&Change]) -> Result<(), Failure> {
        let mut plans: Vec<TablePlan<TableInfo>> = Vec::new();
        let mut by_table: HashMap<String, usize> = HashMap::new();
        // Runs of one table are the common case: skip the name checks for them.
        let mut last: Option<(&TableRef, usize)> = None;
        for c in records {
            if let (Some((t, i)), Some(ct)) = (last, c.table.as_ref()) {
                if t == ct {
                    plans[i].add(c).map_err(|m| self.sink.definite(m))?;
                    continue;
                }
            }
            let key = self.sink.target_table(c.table.as_ref())?;
            let i = match by_table.get(&key) {
                Some(&i) => i,
                None => {
                    let info = self.existing_table(&key).await?;
                    let plan = TablePlan::new(info.clone(), &c.key_columns).map_err(|m| self.sink.definite(m))?;
                    let keyidx = key_indices(&*info, &c.key_columns).map_err(|m| self.sink.definite(m))?;
                    info.check_key(&keyidx).map_err(|m| self.sink.definite(m))?;
                    plans.push(plan);
                    by_table.insert(key, plans.len() - 1);
                    plans.len() - 1
                }
            };
            last = c.table.as_ref().map(|t| (t, i));
            plans[i].add(c).map_err(|m| self.sink.definite(m))?;
        }
        for plan in plans {
            let info = plan.info().clone();
            self.table_work(&info, plan.finish()).await?;
        }
        Ok(())
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
    ) -> Result<(), Failure> {
        let mut chunks = Chunks::new(prefix, suffix, self.budget);
        for r in 0..rows {
            if let Err(size) = chunks.push(|out| write(r, out)) {
                return Err(self
                    .sink
                    .definite(format!(
                        "table {}: the row with key {} is {size} bytes as SQL, more than the server's max_allowed_packet \
                         allows: raise max_allowed_packet on the target",
                        info.sql_name,
                        key(r)
                    ))
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

    async fn table_work(&mut self, info: &TableInfo, work: TableWork<Cell>) -> Result<(), Failure> {
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
            let (prefix, suffix) = sql::upsert_parts(&info.sql_name, &cols, &key_pos, self.sink.server.upsert_alias());
            let arrays = &g.arrays;
            let write = |r: usize, out: &mut String| sql::push_tuple(out, arrays.iter().map(|col| &col[r]));
            let key = |r: usize| key_text(&key_names, key_pos.iter().map(|&p| &arrays[p][r]));
            self.chunked(info, "upsert", prefix, suffix, g.len(), write, key).await?;
        }
        Ok(())
    }

    /// Rows whose unchanged columns include a NOT NULL one without a
    /// default: one UPDATE per row, each of which must find its row.
    async fn update_rows(&mut self, info: &TableInfo, key: &[usize], g: &crate::sinks::plan::Group<Cell>, blocking: &[usize]) -> Result<(), Failure> {
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
            if stmt.len() > self.budget {
                return Err(self.sink.definite(format!("{context}: one row is larger than max_allowed_packet: raise it on the target")).into());
            }
            let key_names: Vec<&str> = keyv.iter().map(|(n, _)| *n).collect();
            let row_key = key_text(&key_names, keyv.iter().map(|(_, c)| *c));
            let check = Check::OneRow { table: info.sql_name.clone(), columns: blocking.clone() };
            self.push_rows(stmt, context.clone(), check, vec![row_key]).await?;
        }
        Ok(())
    }

    async fn key_change(&mut self, c: &Change) -> Result<(), Failure> {
        let key = self.sink.target_table(c.table.as_ref())?;
        let info = self.existing_table(&key).await?;
        let definite = |m: String| Failure::from(self.sink.definite(m));
        let keyidx = key_indices(&*info, &c.key_columns).map_err(definite)?;
        info.check_key(&keyidx).map_err(definite)?;
        let before = c.before.as_ref().ok_or_else(|| definite(format!("table {}: a key change without a before image", info.sql_name)))?;
        let after = c.after.as_ref().ok_or_else(|| definite(format!("table {}: an update without an after image", info.sql_name)))?;
        let old = key_of(&*info, &keyidx, before, "before").map_err(definite)?;
        let new = key_of(&*info, &keyidx, after, "after").map_err(definite)?;
        // The new image's sent columns, in table order.
        let mut set: Vec<(usize, Cell)> = Vec::new();
        for colv in &after.columns {
            let Some(v) = colv.value.as_ref().filter(|v| !v.is_unchanged()) else { continue };
            let i = info.column_index(&colv.name).ok_or_else(|| {
                definite(format!("table {}: column {} is not on the target table", info.sql_name, quote_ident(&colv.name)))
            })?;
            set.push((i, info.render(i, v).map_err(definite)?));
        }
        set.sort_by_key(|(i, _)| *i);
        let name = |i: usize| info.columns[i].name.as_str();
        let set_pairs: Vec<(&str, &Cell)> = set.iter().map(|(i, v)| (name(*i), v)).collect();
        let old_pairs: Vec<(&str, &Cell)> = keyidx.iter().zip(&old).map(|(&i, v)| (name(i), v)).collect();
        let new_pairs: Vec<(&str, &Cell)> = keyidx.iter().zip(&new).map(|(&i, v)| (name(i), v)).collect();
        let stmt = sql::move_key(&info.sql_name, &set_pairs, &old_pairs, &new_pairs);
        self.push(stmt, format!("table {}: key change", info.sql_name), Check::None).await?;
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
            Some(info) => {
                let context = format!("table {}: truncate", info.sql_name);
                if self.alone {
                    self.ddl(&context, sql::truncate(&info.sql_name)).await
                } else {
                    self.push(sql::delete_all(&info.sql_name), context, Check::None).await
                }
            }
            None => {
                tracing::debug!(target_name = %self.sink.name, table = %sql::qualified(&self.sink.database, &key),
                    "truncate of a table that does not exist on the target: nothing to do");
                Ok(())
            }
        }
    }

    async fn schema_change(&mut self, c: &Change) -> Result<(), Failure> {
        let schema = schema_diff::schema_of(c).map_err(|m| self.sink.definite(m))?;
        let key = self.sink.target_table(schema.table.as_ref().or(c.table.as_ref()))?;
        let shown = sql::qualified(&self.sink.database, &key);
        if schema.columns.is_empty() {
            tracing::debug!(target_name = %self.sink.name, table = %shown, "schema change without columns: nothing to do");
            return Ok(());
        }
        let mut types = Vec::with_capacity(schema.columns.len());
        for col in &schema.columns {
            check_identifier(&col.name).map_err(|m| self.sink.definite(format!("table {shown}: {m}")))?;
            let m = schema::resolve(&col.source_type, Dialect::of(col), &self.sink.server).map_err(|e| {
                self.sink.definite(format!("table {shown} column {} ({}): {e}", quote_ident(&col.name), col.source_type))
            })?;
            if m.fallback {
                self.sink.warn_once(format!("type {shown}.{} {}", col.name, col.source_type), || {
                    tracing::warn!(target_name = %self.sink.name, table = %shown, column = %quote_ident(&col.name),
                        source_type = %col.source_type,
                        "the source type has no MySQL counterpart; the column is longtext and values keep their text form");
                });
            }
            types.push(m.sql_type);
        }
        let key_idx: Vec<usize> = schema
            .key_columns
            .iter()
            .filter_map(|k| schema.columns.iter().position(|c| &c.name == k))
            .collect();
        schema::narrow_keys(&mut types, &key_idx);
        let context = format!("table {shown}: schema change");
        match self.table(&key).await? {
            None => {
                if !self.sink.create_tables {
                    return Err(self.sink.definite(schema_diff::no_table(&shown)).into());
                }
                let defs = schema_diff::column_defs(schema, &types);
                let ddl = sql::create_table(&shown, &defs, &schema.key_columns, self.sink.server.collation());
                self.ddl(&context, ddl).await?;
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
        let shown = info.sql_name.clone();
        if let Some(gone) = schema_diff::dropped(info.source.as_ref(), schema) {
            return Err(self.sink.definite(schema_diff::dropped_message(&shown, &quote_ident(&gone.name))).into());
        }
        for (col, ty) in schema.columns.iter().zip(types) {
            let prev = schema_diff::previous(info.source.as_ref(), &col.name);
            match info.column(&col.name) {
                None if self.sink.create_tables => self.ddl(context, sql::add_column(&shown, &col.name, ty)).await?,
                None => {
                    return Err(self.sink.definite(schema_diff::missing_message(&shown, &quote_ident(&col.name), ty)).into())
                }
                Some((_, target)) => {
                    if schema_diff::type_changed(prev, col, || !schema::same_type(ty, &target.column_type, &self.sink.server)) {
                        let column = quote_ident(&col.name);
                        let fix = format!("ALTER TABLE {shown} MODIFY COLUMN {column} {ty}");
                        let m = schema_diff::changed_message(&shown, &column, &col.source_type, ty, &target.column_type, &fix);
                        return Err(self.sink.definite(m).into());
                    }
                    if schema_diff::relax_not_null(self.sink.create_tables, schema, col, target.not_null) {
                        if target.insertable_without {
                            self.sink.warn_once(format!("nullable {shown}.{}", col.name), || {
                                tracing::warn!(target_name = %self.sink.name, table = %shown, column = %quote_ident(&col.name),
                                    "the column became nullable on the source but has a default on the target; \
                                     left NOT NULL (make it nullable yourself)");
                            });
                        } else {
                            let mut ty = target.column_type.clone();
                            if let Some((cs, co)) = &target.charset {
                                ty = format!("{ty} CHARACTER SET {cs} COLLATE {co}");
                            }
                            self.ddl(context, sql::make_nullable(&shown, &target.name, &ty)).await?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl Sink for MysqlSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn apply<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(self.apply_batch(batch))
    }

    fn close(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            for lane in &self.lanes {
                let conn = lane.lock().await.conn.take();
                if let Some(conn) = conn {
                    let _ = conn.disconnect().await;
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_hides_the_password() {
        let dbg = format!(
            "{:?}",
            MysqlSinkConfig { url: "mysql://u:s3cret@h/db".into(), database: None, create_tables: true, lanes: 1 }
        );
        assert!(!dbg.contains("s3cret"), "{dbg}");
        assert_eq!(password_in_url("mysql://u:s3cret@h:3306/db").as_deref(), Some("s3cret"));
        assert_eq!(password_in_url("mysql://u@h/db"), None);
        assert_eq!(scrub("bad s3cret here", Some("s3cret")), "bad *** here");
    }

    #[test]
    fn identifiers_mysql_cannot_hold_are_refused() {
        for ok in ["t", "ünï cödé", "a `b`", "x`; DROP TABLE y; --", &"n".repeat(64)] {
            assert!(check_identifier(ok).is_ok(), "{ok}");
        }
        for bad in ["emoji 😀", "trailing ", "nul\0", &"n".repeat(65)] {
            let e = check_identifier(bad).unwrap_err();
            assert!(e.contains("rename it"), "{e}");
        }
    }

    #[tokio::test]
    async fn bad_urls_are_definite_and_never_echo_the_password() {
        for url in ["postgres://u:s3cret@h/db", "mysql://u:s3cret@host:notaport/db"] {
            let e = MysqlSink::connect(MysqlSinkConfig { url: url.into(), database: None, create_tables: false, lanes: 1 })
                .await
                .err()
                .unwrap();
            assert!(!e.is_transient(), "{e}");
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
        let e = MysqlSink::connect(MysqlSinkConfig { url: "mysql://u:s3cret@h:1".into(), database: None, create_tables: false, lanes: 1 })
            .await
            .err()
            .unwrap();
        assert!(!e.is_transient() && e.to_string().contains("no target database"), "{e}");
    }

    #[tokio::test]
    async fn unreachable_servers_are_transient() {
        let e = MysqlSink::connect(MysqlSinkConfig {
            url: "mysql://u:s3cret@127.0.0.1:1/db".into(),
            database: None,
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
