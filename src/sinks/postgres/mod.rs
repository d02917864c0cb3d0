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
//! The SQL engine ([`crate::sinks::sql`]) runs lanes, the transaction per
//! batch, the table cache and schema-change logic; this dialect holds the
//! SQL, the type mapping, the value encodings (text and binary) and the error classes. A batch is
//! one transaction: `BEGIN`, the statements below, `COMMIT`, with the
//! server's default (durable) `synchronous_commit`. Each session sets `TimeZone = UTC`, `DateStyle = ISO, YMD`
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
//! 1. one `DELETE … WHERE (k1, k2) IN (SELECT … FROM unnest($1::int8[], $2::text[]))`
//!    for the keys whose final operation is a delete;
//! 2. one statement per *shape* of the remaining rows (the set of columns
//!    they carry, and whether the rows are new to the batch), normally
//!    exactly one:
//!    `INSERT INTO t (c1, …) SELECT u.c1, u.c2::<type>, … FROM unnest($1::int8[], $2::text[], …)
//!    ON CONFLICT (<key>) DO UPDATE SET c = EXCLUDED.c, …`;
//!    or, for at least 64 rows new to the batch (first seen as INSERT or
//!    SNAPSHOT_READ, never deleted in it) whose values all have a binary
//!    form, on a table with a unique index on exactly the key,
//!    `COPY t (c1, …) FROM STDIN (FORMAT binary)` in a savepoint, which
//!    falls back to the upsert when a row exists (see `apply.rs`).
//!
//! Each parameter is one column's values as an array (see `binary.rs`):
//!
//! - a *binary* array of the column's own type when the target column is
//!   `smallint`, `integer`, `bigint`, `real`, `double precision`,
//!   `boolean`, `text`, `character varying[(n)]`, `bytea`, `uuid`, `date`,
//!   `timestamp`, `timestamptz`, `numeric[(p,s)]` or `jsonb` and every value
//!   of the batch for it has an exact binary form (an integer in range, a
//!   `float64` into `double precision`, a timestamp in whole microseconds,
//!   a plain decimal, …): written straight from the values, used without a
//!   cast (`numeric(p,s)` and `varchar(n)` are applied by the INSERT's
//!   assignment, as for any value);
//! - otherwise a `text[]` of values in PostgreSQL input syntax (see
//!   `value/`), cast on the server to the type the target column has,
//!   without a length limit (`sql::cast_type`: `varchar(n)` → `varchar`,
//!   `char(n)` → `bpchar`, `bit(n)` → `varbit`; an explicit cast to the
//!   limited type would cut a longer value silently, the assignment to the
//!   column refuses it with 22001). So a value that does not fit its column
//!   (a string in an integer column, a number out of `smallint`'s range, a
//!   string longer than `varchar(n)`) fails on the server with a definite
//!   error, and is never converted on the client. Integer and uuid text in
//!   its canonical spelling is taken as the binary value (`binary::cell`),
//!   so one key sent in both forms stays one row of the batch plan.
//!
//! Single-row statements (a key move, a keyless delete) and the probe that
//! names the culprit column after a data error (SQLSTATE class 22) always
//! send text.
//!
//! So a batch of N upserts to one table costs three round trips (BEGIN,
//! one INSERT, the progress row's upsert pipelined with COMMIT) however
//! large N is (one more when the rows go by COPY); statements are
//! prepared once per connection. The progress row (`logferry_progress`,
//! see [`crate::sinks::sql`]) makes a replayed batch change nothing; without
//! it (dead-letter replays) upsert and delete by key give the same rows.
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
//! **Tables without a key** (records with no key columns: a keyless source
//! table replicated by whole rows) are applied in order, not reduced (see
//! [`crate::sinks::plan::keyless`]): an INSERT appends (`INSERT … SELECT
//! … FROM unnest(…)`, many rows a statement), a DELETE removes exactly one
//! row equal in every column — found with `LIMIT 1` comparing each column
//! as text after a cast to its type (`c::text IS NOT DISTINCT FROM
//! $n::text::<type>::text`: NULL-safe, exact, and it works for types
//! without equality such as json), then deleted by `tableoid` and `ctid` —
//! and an UPDATE removes one such row and appends the new one. Each removal
//! reads the table (it has no index to use). Their schema changes create the
//! table without a primary key. A replay is not harmless here.
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
//! # Replication origins
//!
//! With `replication_origin = true` every session is marked with a
//! replication origin (`logferry_<pipeline>_<n>`, see `origin.rs`), so a
//! PostgreSQL source on this database with `origin = "none"` skips what
//! this target applied: the two pipelines of a two-way setup do not echo.
//! A role that may not is a definite error with the GRANT that fixes it.
//!
//! `OP_TRUNCATE` runs `TRUNCATE TABLE` (a table that does not exist is
//! skipped). `OP_MESSAGE` and `OP_HEARTBEAT` are ignored.

mod apply;
#[doc(hidden)]
pub mod binary;
#[doc(hidden)]
pub mod copy;
mod error;
mod logical;
mod origin;
mod plan;
#[doc(hidden)]
pub mod schema;
#[doc(hidden)]
pub mod sql;
#[doc(hidden)]
pub mod value;

pub use sql::quote_ident;
#[doc(hidden)]
pub use apply::{COPY_BACKOFF_BATCHES, COPY_MIN_ROWS};

use self::error::{classify, excerpt};
use super::sql::{password_in_url, scrub, scrub_error, Common, SqlSink};
pub use super::sql::SqlSinkConfig;
use super::SinkError;
use std::time::Duration;
use tokio_postgres::Client;

/// Settings of a postgres target (`namespace` is its `schema`).
pub type PostgresSinkConfig = SqlSinkConfig;

/// A connection attempt that takes longer is reported as transient rather
/// than hanging a lane forever.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Session settings the value text relies on (see `value/`).
const SESSION_SETUP: &str = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'";

/// The PostgreSQL target: the SQL engine with the PostgreSQL dialect.
pub type PostgresSink = SqlSink<Postgres>;

/// The PostgreSQL dialect of the SQL engine: settings and connections.
pub struct Postgres {
    common: Common,
    config: tokio_postgres::Config,
    /// `sslmode` / `sslrootcert` from the URL.
    tls: crate::tls::postgres::PgTls,
    schema: Option<String>,
    /// `logferry_<pipeline>`: every session takes a replication origin
    /// `<prefix>_<n>` (see `origin.rs`); `None`: sessions are not marked.
    origin_prefix: Option<String>,
}

impl SqlSink<Postgres> {
    /// Parses the URL and opens lane 0's connection (so bad credentials or an
    /// unreachable server show up at start).
    pub async fn connect(cfg: PostgresSinkConfig) -> Result<Self, SinkError> {
        Self::connect_with_origin(cfg, None).await
    }

    /// [`connect`](Self::connect), every session marked with a replication
    /// origin whose name starts with `origin_prefix` (`replication_origin = true`).
    pub async fn connect_with_origin(cfg: PostgresSinkConfig, origin_prefix: Option<String>) -> Result<Self, SinkError> {
        let (url, tls) = crate::tls::postgres::from_url(&cfg.url)
            .map_err(|m| SinkError::definite("postgres", format!("the target url: {m}")))?;
        let mut config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| {
            let password = password_in_url(&cfg.url);
            SinkError::definite(
                "postgres",
                scrub(
                    &format!("the target url is not a valid PostgreSQL URL (postgres://user:password@host:port/database): {e}{}",
                        std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default()),
                    password.as_deref(),
                ),
            )
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
        let common = Common { name, password, create_tables: cfg.create_tables };
        let dialect = Postgres { common, config, tls, schema: cfg.namespace.filter(|s| !s.is_empty()), origin_prefix };
        let first = dialect.open_conn().await?;
        Ok(SqlSink::new(dialect, cfg.lanes, first))
    }
}

impl Postgres {
    async fn open_client(&self) -> Result<Client, SinkError> {
        let scrubbed = |e: SinkError| scrub_error(e, self.common.password.as_deref());
        let (client, conn) = self
            .config
            .connect(self.tls.connector())
            .await
            .map_err(|e| match self.tls.connect_problem(&e) {
                Some(f) if f.definite => {
                    scrubbed(SinkError::definite(&self.common.name, format!("cannot connect: {}", f.message)))
                }
                Some(f) => scrubbed(SinkError::transient(&self.common.name, format!("cannot connect: {}", f.message))),
                None => scrubbed(classify(&self.common.name, "cannot connect", &e)),
            })?;
        let name = self.common.name.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(target_name = %name, error = %e, "postgres target connection ended");
            }
        });
        client
            .batch_execute(SESSION_SETUP)
            .await
            .map_err(|e| scrubbed(classify(&self.common.name, "cannot set up the session", &e)))?;
        if let Some(prefix) = &self.origin_prefix {
            let role = self.config.get_user().unwrap_or("postgres");
            origin::mark_session(&client, prefix, &self.common.name, role).await.map_err(scrubbed)?;
        }
        Ok(client)
    }

    fn definite(&self, message: String) -> SinkError {
        SinkError::definite(&self.common.name, message)
    }
}

/// PostgreSQL keeps only the first 63 bytes of an identifier (NAMEDATALEN
/// - 1); a longer name would silently become another name.
const MAX_IDENTIFIER_BYTES: usize = 63;

fn check_name_length(name: &str) -> Result<(), String> {
    if name.len() > MAX_IDENTIFIER_BYTES {
        return Err(format!(
            "the name {} is {} bytes long; PostgreSQL truncates identifiers to {MAX_IDENTIFIER_BYTES} bytes: rename it with a [[pipeline.table]] rule (rename = \"…\", rename_columns)",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_no_credentials() {
        let c: tokio_postgres::Config = "postgres://u:s3cret@db.example:6543/shop".parse().unwrap();
        assert_eq!(sink_name(&c), "postgres:db.example:6543/shop");
    }
}
