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
//! is refused with a definite error (rename one with a `[[pipeline.table]]` rule). Every
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
//! The SQL engine ([`crate::sinks::sql`]) runs lanes, the transaction per
//! batch, the table cache and schema-change logic; this dialect holds the
//! SQL, the type mapping, the value literals and the error classes. Lane 0's
//! connection is opened at connect to check the URL and credentials, and
//! creates the database when `create_tables` is on. Each session sets `NAMES utf8mb4`, `time_zone = '+00:00'` and
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
//! A pipeline lane's batch ends with the upsert of its row in the progress
//! table (`logferry_progress`, see [`crate::sinks::sql`]), in the same round
//! trip and transaction, so a replayed batch changes nothing; without it
//! (dead-letter replays) upsert and delete by key give the same rows. The
//! progress row is not atomic with a batch holding DDL (a schema change, or
//! a TRUNCATE alone), which MySQL commits implicitly: such a barrier may
//! apply twice after a crash, which leaves the same result. Upserts need a PRIMARY KEY or
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
//! **Tables without a key** (records with no key columns: a keyless source
//! table replicated by whole rows) are applied in order, not reduced (see
//! [`crate::sinks::plan::keyless`]): an INSERT appends (`INSERT … VALUES`,
//! many rows a statement), a DELETE removes exactly one row equal in every
//! column (`DELETE … WHERE c <=> v AND … LIMIT 1`; a native JSON column
//! compares `CAST(v AS JSON)`), an UPDATE removes one such row and appends
//! the new one. Equality is the column's own (its collation for text:
//! tables logferry creates use a binary one). Their schema changes create
//! the table without a primary key. A replay is not harmless here.
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
//! a dead-letter store exists: fix the source row, or keep the value from
//! the target with a `[[pipeline.table]]` rule, then restart.
//!
//! TLS: `ssl-mode` / `ssl-ca` in the URL (see `tls::mysql`).
//!
//! Not done here: `ordering =
//! "transaction"` specifics, foreign keys on the target, generated columns
//! on the target, and MySQL's `SRID` column attribute.

mod apply;
mod error;
mod logical;
#[doc(hidden)]
pub mod schema;
#[doc(hidden)]
pub mod sql;
#[doc(hidden)]
pub mod value;

pub use sql::quote_ident;

use self::error::{classify, excerpt};
use self::schema::Server;
use self::value::Cell;
use super::sql::{password_in_url, scrub, scrub_error, Common, SqlSink};
pub use super::sql::SqlSinkConfig;
use super::SinkError;
use mysql_async::prelude::Queryable;
use mysql_async::{Opts, OptsBuilder};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Settings of a mysql target (`namespace` is its `database`).
pub type MysqlSinkConfig = SqlSinkConfig;

/// A connection attempt that takes longer is reported as transient rather
/// than hanging a lane forever.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Session settings the value rendering and strictness rely on (see the module docs).
pub(crate) const SESSION_SETUP: &str = "SET NAMES utf8mb4, time_zone = '+00:00', \
     sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'";

/// Without it, an old server gives the first `TIMESTAMP NOT NULL` column of a
/// created table an automatic `ON UPDATE CURRENT_TIMESTAMP`. Servers where
/// it cannot be set are fine too: column definitions say `NULL` explicitly.
pub(crate) const SESSION_TIMESTAMPS: &str = "SET SESSION explicit_defaults_for_timestamp = 1";

/// A connection idle for longer is pinged before a batch, so one the server
/// closed meanwhile (idle timeout, restart, KILL) is replaced instead of
/// failing the batch. Under load batches follow each other faster and no
/// ping is sent.
pub(crate) const IDLE_PING: Duration = Duration::from_secs(1);

/// Bytes kept free below `max_allowed_packet` for the statement separators
/// and `START TRANSACTION` of a multi-statement round trip.
pub(crate) const PACKET_MARGIN: usize = 4096;

/// Never build round trips larger than this, whatever the server allows:
/// a failed 1 GiB statement is expensive to resend.
pub(crate) const MAX_ROUND_TRIP_BYTES: usize = 16 << 20;

/// Warnings left out when quoting why a statement was refused: they do not
/// mean data was changed (1287 deprecated syntax, 1681 integer display
/// width deprecated).
pub(crate) const HARMLESS_WARNINGS: [u16; 2] = [1287, 1681];


/// The MySQL / MariaDB target: the SQL engine with the MySQL dialect.
pub type MysqlSink = SqlSink<Mysql>;

/// The MySQL / MariaDB dialect of the SQL engine: settings, server facts.
pub struct Mysql {
    common: Common,
    /// The driver's options and the TLS the URL asks for.
    endpoint: crate::tls::mysql::MysqlEndpoint,
    database: String,
    server: Server,
    /// Which source table (`schema.name`) writes each target table: two
    /// source schemas with one table name would mix their rows.
    origins: Mutex<HashMap<String, String>>,
}

impl SqlSink<Mysql> {
    /// Parses the URL, opens lane 0's connection (so bad credentials or an
    /// unreachable server show up at start) and makes sure the database
    /// exists (creating it when `create_tables` is on).
    pub async fn connect(cfg: MysqlSinkConfig) -> Result<Self, SinkError> {
        let url_password = password_in_url(&cfg.url);
        let (url, tls) = crate::tls::mysql::from_url(&cfg.url)
            .map_err(|m| SinkError::definite("mysql", format!("the target url: {m}")))?;
        let opts = Opts::from_url(&url).map_err(|e| {
            SinkError::definite(
                "mysql",
                scrub(&format!("the target url is not a valid MySQL URL (mysql://user:password@host:port/database): {e}"), url_password.as_deref()),
            )
        })?;
        let database = cfg.namespace.clone().filter(|d| !d.is_empty()).or_else(|| opts.db_name().map(str::to_string));
        let Some(database) = database.filter(|d| !d.is_empty()) else {
            return Err(SinkError::definite(
                "mysql",
                "no target database: put it in the url (mysql://user:password@host:port/<database>) or set database",
            ));
        };
        let name = format!("mysql:{}:{}/{}", opts.ip_or_hostname(), opts.tcp_port(), database);
        check_identifier(&database).map_err(|m| SinkError::definite(&name, format!("database: {m}")))?;
        let password = opts.pass().map(str::to_string).or(url_password);
        // Statements always name the database, so the session needs none
        // (and connecting works before the database exists).
        let opts: Opts = OptsBuilder::from_opts(opts)
            .db_name(None::<String>)
            .client_found_rows(true)
            .stmt_cache_size(0)
            .tcp_keepalive(Some(Duration::from_secs(60)))
            .into();
        let mut dialect = Mysql {
            common: Common { name, password, create_tables: cfg.create_tables },
            endpoint: crate::tls::mysql::MysqlEndpoint::new(opts, tls),
            database,
            server: Server { mariadb: true, version: (0, 0, 0) },
            origins: Default::default(),
        };
        let (mut first, server) = dialect.open_conn().await?;
        dialect.server = server;
        let exists = schema::database_exists(&mut first.conn, &dialect.database)
            .await
            .map_err(|e| dialect.scrubbed(classify(&dialect.common.name, "reading the target catalog", &e).error))?;
        if !exists {
            if !dialect.common.create_tables {
                return Err(dialect.definite(format!(
                    "the target database {} does not exist and create_tables = false: create it, or set create_tables = true",
                    quote_ident(&dialect.database)
                )));
            }
            let ddl = sql::create_database(&dialect.database, dialect.server.collation());
            first.conn.query_drop(ddl).await.map_err(|e| {
                dialect.scrubbed(classify(&dialect.common.name, &format!("creating the database {}", quote_ident(&dialect.database)), &e).error)
            })?;
        }
        Ok(SqlSink::new(dialect, cfg.lanes, first))
    }
}

impl Mysql {
    fn scrubbed(&self, e: SinkError) -> SinkError {
        scrub_error(e, self.common.password.as_deref())
    }

    fn definite(&self, message: String) -> SinkError {
        SinkError::definite(&self.common.name, message)
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
pub(crate) fn check_identifier(name: &str) -> Result<(), String> {
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
            "the name {} {why}, so it cannot be a MySQL identifier: rename it with a [[pipeline.table]] rule (rename = \"…\", rename_columns)",
            quote_ident(&excerpt(name, 80))
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    async fn a_url_without_a_database_is_definite() {
        let config = MysqlSinkConfig { url: "mysql://u:s3cret@h:1".into(), namespace: None, create_tables: false, lanes: 1 };
        let e = MysqlSink::connect(config).await.err().unwrap();
        assert!(!e.is_transient() && e.to_string().contains("no target database"), "{e}");
    }
}
