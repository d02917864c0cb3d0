//! Configuration: TOML parsed into raw serde structs that deny unknown
//! fields ([`raw`]), then validated into the types below, which make bad
//! states unrepresentable (a pipeline always has a source and at least one
//! target, durations are durations, lanes are at least one).
//!
//! Strings may refer to environment variables as `${NAME}` (write `$${` for
//! a literal `${`); this is how secrets get in without being written in the
//! file. Secrets are held in [`Secret`], whose `Debug` and `Display` print a
//! redacted form, so they never reach logs or error messages.
//!
//! Every error names the file, the key (`pipeline[shop].apply.lanes`) and
//! what was expected.

mod brokers;
mod raw;
mod rules;
mod secret;

pub use brokers::{ClientOptions, Envelope, HttpTargetConfig, KafkaSourceConfig, KafkaTargetConfig, NatsTargetConfig};
pub use rules::{ColumnChecks, ColumnSelection, MaskKind, OnInvalid, TableRule, TransformConfig};
pub use secret::{Secret, SecretUrl};

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A whole validated config file.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages).
    pub path: PathBuf,
    /// Where sled checkpoints and dead letters live; relative paths are
    /// resolved against the config file's folder.
    pub state_dir: PathBuf,
    /// Admin HTTP listener, if configured.
    pub admin: Option<AdminConfig>,
    /// At least one pipeline; names are unique.
    pub pipelines: Vec<PipelineConfig>,
}

/// `[admin]`.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Address of the admin endpoint (`/health`, `/ready`, `/metrics`,
    /// `/status`, the status page, `/copy`).
    pub listen: std::net::SocketAddr,
    /// `/ready` answers 503 while a pipeline's lag exceeds this (`None`:
    /// no lag bound).
    pub ready_max_lag: Option<std::time::Duration>,
    /// `[admin] token`: the bearer token every route but `/health` and
    /// `/ready` needs on TCP; required when `listen` is not loopback.
    pub token: Option<Secret>,
}

/// One `[[pipeline]]`: a source, its targets and how to apply.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Unique name; keys the checkpoint in the state dir.
    pub name: String,
    /// Where changes come from.
    pub source: SourceConfig,
    /// Where changes go; at least one. Every record is applied to every
    /// target whose `tables` it matches.
    pub targets: Vec<TargetConfig>,
    /// Each target's `tables` (same order as `targets`): globs over the
    /// target-named tables (`schema.table`) it receives; empty = every table.
    pub target_tables: Vec<Vec<String>>,
    /// Lanes, batching, ordering.
    pub apply: ApplyConfig,
    /// What a record a target refuses definitely does to the pipeline.
    pub on_error: OnError,
    /// `[pipeline.spool]`: a durable disk queue between source and targets
    /// (off when absent).
    pub spool: Option<SpoolConfig>,
    /// `[[pipeline.table]]` rules and `mask_key` (empty: records pass as read).
    pub transform: TransformConfig,
}

/// `[pipeline.spool]`: records are appended to a disk queue in the state
/// dir, and the source is told they are durable, before any target has
/// them; a long target outage then fills the spool instead of making the
/// source server keep its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolConfig {
    /// Bytes the spool holds at most before the source waits (checked at
    /// transaction ends; default 1 GiB).
    pub max_bytes: u64,
}

impl SpoolConfig {
    /// `max_bytes` when the table leaves it out.
    pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
}

/// `on_error = "stop" | "dead_letter"` of a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop the pipeline with the target's error (after checkpointing what
    /// is durable); the next run retries the same records.
    #[default]
    Stop,
    /// Set the refused row change aside in the state dir's dead-letter store
    /// (with the later records of its key, to keep per-key order) and go on.
    /// Control records (truncate, schema change) still stop the pipeline.
    DeadLetter,
}

/// `[pipeline.source]`, by `kind`.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    /// `kind = "postgres"`.
    Postgres(PostgresSourceConfig),
    /// `kind = "mysql"` (MySQL or MariaDB).
    Mysql(MysqlSourceConfig),
    /// `kind = "mongodb"`.
    Mongodb(MongodbSourceConfig),
    /// `kind = "generate"`: the built-in synthetic source.
    Generate(GenerateConfig),
    /// `kind = "kafka"`: records (or Debezium events) from Kafka topics,
    /// read by a consumer group.
    Kafka(KafkaSourceConfig),
}

impl SourceConfig {
    /// The shared database settings, for the database sources.
    pub fn database(&self) -> Option<&DatabaseSourceConfig> {
        match self {
            SourceConfig::Postgres(p) => Some(&p.db),
            SourceConfig::Mysql(m) => Some(&m.db),
            SourceConfig::Mongodb(m) => Some(&m.db),
            SourceConfig::Generate(_) | SourceConfig::Kafka(_) => None,
        }
    }

    /// The shared database settings, to change.
    pub fn database_mut(&mut self) -> Option<&mut DatabaseSourceConfig> {
        match self {
            SourceConfig::Postgres(p) => Some(&mut p.db),
            SourceConfig::Mysql(m) => Some(&mut m.db),
            SourceConfig::Mongodb(m) => Some(&mut m.db),
            SourceConfig::Generate(_) | SourceConfig::Kafka(_) => None,
        }
    }

    /// The `kind` string.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::Postgres(_) => "postgres",
            SourceConfig::Mysql(_) => "mysql",
            SourceConfig::Mongodb(_) => "mongodb",
            SourceConfig::Generate(_) => "generate",
            SourceConfig::Kafka(_) => "kafka",
        }
    }
}

/// Settings shared by the database sources (their own issues add more).
#[derive(Debug, Clone)]
pub struct DatabaseSourceConfig {
    /// Connection URL; the password is a secret.
    pub url: SecretUrl,
    /// Table (or collection) selectors: exact `schema.name` or globs with
    /// `*` and `?`. Never empty.
    pub tables: Vec<String>,
    /// Initial snapshot policy.
    pub snapshot: SnapshotMode,
    /// Row keys of tables without a primary key, from `[[pipeline.table]]
    /// key`: (the rule's `match`, the key columns).
    pub row_keys: Vec<(String, Vec<String>)>,
}

/// `kind = "postgres"`: the shared database settings plus logical replication's own.
#[derive(Debug, Clone)]
pub struct PostgresSourceConfig {
    /// URL, tables, snapshot policy.
    pub db: DatabaseSourceConfig,
    /// Logical replication slot (created if missing); default `logferry_<pipeline>`.
    pub slot: String,
    /// Publication (created if missing, its table list kept equal to `tables`);
    /// default `logferry_<pipeline>`.
    pub publication: String,
    /// On an idle database, write a heartbeat into the WAL this often so the
    /// slot's position moves and the server can recycle WAL.
    pub heartbeat_interval: Duration,
    /// Rows per snapshot chunk: the unit of progress a crashed snapshot resumes from.
    pub snapshot_chunk_rows: usize,
    /// Snapshot readers: tables, or key ranges of big tables, copied at the same time.
    pub snapshot_parallel: usize,
    /// Which changes to stream by their replication origin.
    pub origin: PgOrigin,
    /// Whether big in-progress transactions are streamed (`streaming`).
    pub streaming: PgStreaming,
    /// Where streamed transactions spill beyond their memory bound:
    /// `<state_dir>/spill/<pipeline>` (set with the state dir).
    pub spill_dir: std::path::PathBuf,
}

/// `origin = "none" | "any"` of a postgres source: with `None` (PostgreSQL
/// 16+) the server leaves out changes that carry a replication origin, such
/// as those a postgres target with `replication_origin = true` applied, so
/// two pipelines in opposite directions do not echo each other's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PgOrigin {
    /// Every change (the default; any server version).
    #[default]
    Any,
    /// Only changes without a replication origin (PostgreSQL 16 and later).
    None,
}

/// `streaming = "off" | "on"` of a PostgreSQL source: pgoutput's streamed
/// in-progress transactions (PostgreSQL 14+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgStreaming {
    /// Not set: on where the server has it (14+), off before.
    Auto,
    /// Set to "on": a server before 14 is an error.
    On,
    /// Set to "off": whole transactions only, as with protocol 1.
    Off,
}

/// `kind = "mysql"`: the shared database settings plus the binlog reader's own.
#[derive(Debug, Clone)]
pub struct MysqlSourceConfig {
    /// URL, tables (`database.table` or globs), snapshot policy.
    pub db: DatabaseSourceConfig,
    /// Which server dialect to speak; `Auto` asks the server.
    pub flavor: MysqlFlavor,
    /// Server id the binlog reader announces; unique among the server's replicas.
    pub server_id: u32,
    /// The server sends a heartbeat event this often on an idle binlog.
    pub heartbeat_interval: Duration,
    /// Rows per snapshot chunk.
    pub snapshot_chunk_rows: usize,
}

/// `kind = "mongodb"`: change streams on the selected collections.
#[derive(Debug, Clone)]
pub struct MongodbSourceConfig {
    /// URL, collections (`database.collection` or globs), snapshot policy.
    pub db: DatabaseSourceConfig,
    /// How update events get the document after the change.
    pub full_document: FullDocument,
    /// What an `invalidate` event (the watched collection was dropped or
    /// renamed) does.
    pub on_invalidate: OnInvalidate,
    /// Documents per snapshot chunk (`_id` range): the unit of progress a
    /// crashed snapshot resumes from.
    pub snapshot_chunk_docs: usize,
    /// Longest wait of one change-stream `getMore` on an idle stream; each
    /// empty reply still moves the checkpointable resume token on.
    pub max_await: Duration,
}

/// `full_document = "update_lookup" | "required" | "when_available"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullDocument {
    /// The server looks the document up when the event is read (the current
    /// version, not necessarily the one right after this update; `null` when
    /// it was deleted since, and the update is then applied as a partial one).
    UpdateLookup,
    /// The post-image stored with the change; the collection must have
    /// `changeStreamPreAndPostImages` enabled, else the stream fails.
    Required,
    /// The post-image when the collection stores one, else partial updates.
    WhenAvailable,
}

/// `on_invalidate = "stop" | "reopen"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnInvalidate {
    /// Stop the pipeline with an error naming the collection.
    Stop,
    /// Open a new stream right after the invalidating event and go on.
    Reopen,
}

/// `flavor = "auto" | "mariadb" | "mysql"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MysqlFlavor {
    /// Detect from `SELECT VERSION()`.
    Auto,
    /// MariaDB (GTID lists `domain-server-seq`).
    Mariadb,
    /// Oracle MySQL (GTID sets `uuid:1-5`).
    Mysql,
}

/// `snapshot = "initial" | "never"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Copy existing rows first, then stream from the snapshot's position.
    Initial,
    /// Stream only changes made from now on.
    Never,
}

/// `kind = "generate"`: deterministic synthetic changes, for trying the
/// pipeline and measuring targets alone.
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    /// Changes to produce in all; `None` = without end (not allowed with --once).
    pub total: Option<u64>,
    /// Number of tables, named `gen.t0`, `gen.t1`, …; at least 1.
    pub tables: u32,
    /// Distinct keys per table; at least 1.
    pub keys: u64,
    /// Changes per source transaction; at least 1.
    pub tx_size: u32,
    /// Bytes of payload text per row.
    pub row_bytes: usize,
    /// Percent of changes that are updates / deletes (rest inserts).
    pub update_pct: u8,
    /// Percent of deletes.
    pub delete_pct: u8,
    /// Changes per second; `None` = as fast as the pipeline takes them.
    pub rate: Option<u64>,
    /// Seed for the pseudo-random choices.
    pub seed: u64,
}

/// One `[[pipeline.target]]`, by `kind`.
#[derive(Debug, Clone)]
pub enum TargetConfig {
    /// `kind = "file"`.
    File(FileTargetConfig),
    /// `kind = "stdout"`.
    Stdout(StdoutTargetConfig),
    /// `kind = "discard"`: counts and acknowledges, writes nothing.
    Discard,
    /// `kind = "postgres"`.
    Postgres(PostgresTargetConfig),
    /// `kind = "mysql"` (MySQL or MariaDB).
    Mysql(MysqlTargetConfig),
    /// `kind = "mongodb"`.
    Mongodb(MongodbTargetConfig),
    /// `kind = "kafka"`.
    Kafka(KafkaTargetConfig),
    /// `kind = "nats"` (JetStream).
    Nats(NatsTargetConfig),
    /// `kind = "http"` (webhook).
    Http(HttpTargetConfig),
}

/// `kind = "mongodb"` target: idempotent batched apply into MongoDB.
#[derive(Debug, Clone)]
pub struct MongodbTargetConfig {
    /// Connection URL; the password is a secret.
    pub url: SecretUrl,
    /// Put every collection into this database; default: the source's
    /// schema / database name.
    pub database: Option<String>,
    /// Apply each batch inside one multi-document transaction (needs a
    /// replica set); off: each write is idempotent and a replay repairs a
    /// half-applied batch.
    pub transaction: bool,
}

/// `kind = "mysql"` target: idempotent batched apply into MySQL / MariaDB.
#[derive(Debug, Clone)]
pub struct MysqlTargetConfig {
    /// Connection URL (`mysql://user:pass@host:port/database`); the password is a secret.
    pub url: SecretUrl,
    /// Put every table into this database; default: the database of the URL.
    pub database: Option<String>,
    /// Create missing tables (and add new columns) from the source schema.
    pub create_tables: bool,
    /// The database of the `logferry_progress` table (exactly-once apply);
    /// default: the target's database.
    pub progress_schema: Option<String>,
}

/// `kind = "postgres"` target: idempotent batched apply into PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresTargetConfig {
    /// Connection URL; the password is a secret.
    pub url: SecretUrl,
    /// Put every table into this schema; default: the source's schema name.
    pub schema: Option<String>,
    /// Create missing tables (and add new columns) from the source schema.
    pub create_tables: bool,
    /// Mark the sessions with a replication origin (`logferry_<pipeline>_<n>`,
    /// one per connection), so that a postgres source with `origin = "none"`
    /// on this database skips what this target applied; `None` when off.
    pub replication_origin: Option<String>,
    /// The schema of the `logferry_progress` table (exactly-once apply);
    /// default: `public`.
    pub progress_schema: Option<String>,
}

/// `kind = "file"`: appends records, fsyncs before acknowledging.
#[derive(Debug, Clone)]
pub struct FileTargetConfig {
    /// File to append to; relative paths resolve against the config file's folder.
    pub path: PathBuf,
    /// Encoding of each record.
    pub format: RecordFormat,
}

/// `kind = "stdout"`: JSON lines on standard output (for `jq`).
#[derive(Debug, Clone)]
pub struct StdoutTargetConfig {
    /// Include heartbeat-free control records (schema changes) too.
    pub format: RecordFormat,
}

/// `format = "json" | "protobuf"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFormat {
    /// Canonical JSON, one record per line.
    Json,
    /// Length-delimited protobuf `logferry.v1.Change`.
    Protobuf,
}

/// `[pipeline.apply]`.
#[derive(Debug, Clone)]
pub struct ApplyConfig {
    /// Per-key ordered lanes (parallel apply); ≥ 1. Forced to 1 by `ordering = "transaction"`.
    pub lanes: usize,
    /// A lane applies at most this many records per batch; ≥ 1.
    pub batch_max_rows: usize,
    /// A lane waits at most this long for a batch to fill after its first record.
    pub batch_max_wait: Duration,
    /// Key order (parallel lanes) or whole transactions in commit order.
    pub ordering: Ordering,
    /// Records queued (not yet acknowledged) across all lanes, at most; bounds memory.
    pub queue_max_records: usize,
    /// Memory the queued records take (approximate: structs and heap blocks) across all lanes, at most.
    pub queue_max_bytes: usize,
    /// Retries of a transiently failing batch (target unreachable, timeout)
    /// before the pipeline stops; `None` (`"unlimited"`, the default): retry
    /// until the target is back, while the queues hold the source back.
    pub max_retries: Option<u32>,
    /// First retry delay; doubles each retry up to `retry_max_backoff`.
    pub retry_backoff: Duration,
    /// Longest delay between retries.
    pub retry_max_backoff: Duration,
    /// Checkpoints are written at most this often (and always at shutdown).
    pub checkpoint_interval: Duration,
    /// Apply a streamed source transaction while it streams, where the
    /// targets can (`crate::pipeline::early`).
    pub early_apply: bool,
}

/// `ordering = "key" | "transaction"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordering {
    /// Records of one key in order; different keys in parallel lanes.
    Key,
    /// Whole source transactions, one after another in commit order.
    Transaction,
}

impl Default for ApplyConfig {
    fn default() -> Self {
        ApplyConfig {
            lanes: 8,
            batch_max_rows: 1000,
            batch_max_wait: Duration::from_millis(10),
            ordering: Ordering::Key,
            queue_max_records: 100_000,
            queue_max_bytes: 32 << 20,
            max_retries: None,
            retry_backoff: Duration::from_millis(100),
            retry_max_backoff: Duration::from_secs(30),
            checkpoint_interval: Duration::from_millis(200),
            early_apply: true,
        }
    }
}

/// A config file that cannot be used, with the key and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or does not match the expected shape.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Line, column, key and what was expected.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{path}: `{key}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Dotted key, e.g. `pipeline[shop].apply.lanes`.
        key: String,
        /// What was found and what is expected.
        message: String,
    },
}

impl Config {
    /// Reads, interpolates `${ENV}` and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let cfg = Config::parse(&text, path, &|name| std::env::var(name).ok())?;
        if let Some(line) = literal_password_line(&text) {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map(|m| m.permissions().mode()).unwrap_or(0);
            if mode & 0o004 != 0 {
                tracing::warn!(
                    config = %path.display(),
                    line,
                    "the config file is readable by every user and holds a literal password in a URL: \
                     put the password in the environment (${{NAME}} in the URL) or chmod 600 the file"
                );
            }
        }
        Ok(cfg)
    }

    /// Parses and validates config text; `env` looks up `${NAME}` references.
    ///
    /// (Only [`Config::load`] warns about world-readable files with literal passwords.)
    pub fn parse(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        raw::parse(text, path, env)
    }

    /// The pipeline called `name`.
    pub fn pipeline(&self, name: &str) -> Option<&PipelineConfig> {
        self.pipelines.iter().find(|p| p.name == name)
    }
}

/// The 1-based line of the first URL that carries a literal password
/// (`scheme://user:secret@host`, or a secret query parameter such as
/// `?password=secret`, the secret not a `${NAME}` reference).
fn literal_password_line(text: &str) -> Option<usize> {
    text.lines().position(|line| {
        let line = line.split('#').next().unwrap_or("");
        line.match_indices("://").any(|(i, _)| {
            let rest = &line[i + 3..];
            let url = rest.split(['"', '\'', ' ']).next().unwrap_or("");
            let in_query = url.split_once('?').is_some_and(|(_, q)| {
                q.split(['&', ';']).any(|pair| {
                    pair.split_once('=')
                        .is_some_and(|(k, v)| secret::is_secret_param(k) && !v.is_empty() && !v.starts_with("${"))
                })
            });
            if in_query {
                return true;
            }
            let Some(at) = rest.find('@') else { return false };
            let userinfo = &rest[..at];
            if userinfo.contains('/') || userinfo.contains('"') {
                return false;
            }
            match userinfo.split_once(':') {
                Some((_, pass)) => !pass.is_empty() && !pass.starts_with("${"),
                None => false,
            }
        })
    }).map(|i| i + 1)
}

#[cfg(test)]
mod password_tests {
    use super::literal_password_line;

    #[test]
    fn literal_passwords_in_urls_are_found_env_references_are_not() {
        assert_eq!(literal_password_line("a = 1\nurl = \"postgres://u:s3cret@h/db\""), Some(2));
        assert_eq!(literal_password_line("url = \"postgres://u:${PGPASSWORD}@h/db\""), None);
        assert_eq!(literal_password_line("url = \"mysql://root@h/db\""), None);
        assert_eq!(literal_password_line("# url = \"postgres://u:old@h/db\""), None);
        assert_eq!(literal_password_line("path = \"out/changes.jsonl\""), None);
        assert_eq!(literal_password_line("url = \"mongodb://h/?tls=true&tlsCertificateKeyFilePassword=k3y\""), Some(1));
        assert_eq!(literal_password_line("url = \"postgres://u@h/db?sslmode=require&password=${PW}\""), None);
        assert_eq!(literal_password_line("url = \"postgres://u@h/db?sslmode=require\""), None);
    }
}
