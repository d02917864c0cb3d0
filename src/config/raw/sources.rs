//! `[pipeline.source]`: one raw shape per `kind` (postgres, mysql, mongodb,
//! generate), chosen by the kind before the rest is read, and its checks.
use super::*;

#[derive(Debug)]
pub(super) enum RawSource {
    Postgres(RawPostgresSource),
    Mysql(RawMysqlSource),
    Mongodb(RawMongodbSource),
    Generate(RawGenerateSource),
    Kafka(super::brokers::RawKafkaSource),
}

/// Just the `kind` of a source, to choose the struct for the rest.
#[derive(Deserialize)]
struct SourceKind {
    kind: SourceKindName,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum SourceKindName {
    Postgres,
    Mysql,
    Mongodb,
    Generate,
    Kafka,
}

impl RawSource {
    pub(super) fn from_value(value: Spanned<DeValue<'_>>) -> Result<RawSource, toml::de::Error> {
        let SourceKind { kind } = from_value(value.clone())?;
        Ok(match kind {
            SourceKindName::Postgres => RawSource::Postgres(from_value(value)?),
            SourceKindName::Mysql => RawSource::Mysql(from_value(value)?),
            SourceKindName::Mongodb => RawSource::Mongodb(from_value(value)?),
            SourceKindName::Generate => RawSource::Generate(from_value(value)?),
            SourceKindName::Kafka => RawSource::Kafka(from_value(value)?),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabaseSource {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    url: String,
    tables: Vec<String>,
    snapshot: Option<RawSnapshot>,
}

/// [`RawDatabaseSource`] plus logical replication settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPostgresSource {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    url: String,
    tables: Vec<String>,
    snapshot: Option<RawSnapshot>,
    slot: Option<String>,
    publication: Option<String>,
    heartbeat_interval: Option<Quantity>,
    snapshot_chunk_rows: Option<i64>,
    snapshot_parallel: Option<i64>,
    origin: Option<RawPgOrigin>,
    streaming: Option<RawPgStreaming>,
}

/// `origin = "none" | "any"` of a postgres source.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawPgOrigin {
    None,
    Any,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawPgStreaming {
    Off,
    On,
}

/// [`RawDatabaseSource`] plus binlog reader settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMysqlSource {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    url: String,
    tables: Vec<String>,
    snapshot: Option<RawSnapshot>,
    flavor: Option<RawFlavor>,
    server_id: Option<i64>,
    heartbeat_interval: Option<Quantity>,
    snapshot_chunk_rows: Option<i64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawFlavor {
    Auto,
    Mariadb,
    Mysql,
}

/// Like [`RawDatabaseSource`], but `tables` may be spelled `collections`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMongodbSource {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    url: String,
    tables: Option<Vec<String>>,
    collections: Option<Vec<String>>,
    snapshot: Option<RawSnapshot>,
    full_document: Option<RawFullDocument>,
    on_invalidate: Option<RawOnInvalidate>,
    snapshot_chunk_docs: Option<i64>,
    max_await: Option<Quantity>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawFullDocument {
    UpdateLookup,
    Required,
    WhenAvailable,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawOnInvalidate {
    Stop,
    Reopen,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGenerateSource {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    total: Option<u64>,
    tables: Option<u32>,
    keys: Option<u64>,
    tx_size: Option<u32>,
    row_bytes: Option<usize>,
    update_pct: Option<u8>,
    delete_pct: Option<u8>,
    rate: Option<u64>,
    seed: Option<u64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawSnapshot {
    Initial,
    Never,
}

fn snapshot_mode(raw: Option<RawSnapshot>) -> SnapshotMode {
    match raw {
        None | Some(RawSnapshot::Initial) => SnapshotMode::Initial,
        Some(RawSnapshot::Never) => SnapshotMode::Never,
    }
}

fn check_tables(key: &str, tables: Vec<String>, what: &str) -> Result<Vec<String>, Invalid> {
    if tables.is_empty() {
        return Err(invalid(
            key,
            format!(
                "the list is empty; expected at least one {what} selector, like \
                 \"public.orders\" or \"public.*\""
            ),
        ));
    }
    if let Some(i) = tables.iter().position(|t| t.trim().is_empty()) {
        return Err(invalid(
            format!("{key}[{i}]"),
            format!("is empty; expected a {what} name or a glob with `*` and `?`"),
        ));
    }
    Ok(tables)
}

impl RawSource {
    pub(super) fn validate(self, key: &str, pipeline: &str) -> Result<SourceConfig, Invalid> {
        Ok(match self {
            RawSource::Postgres(s) => SourceConfig::Postgres(s.validate(key, pipeline)?),
            RawSource::Mysql(s) => SourceConfig::Mysql(s.validate(key)?),
            RawSource::Mongodb(s) => SourceConfig::Mongodb(s.validate(key)?),
            RawSource::Generate(g) => SourceConfig::Generate(g.validate(key)?),
            RawSource::Kafka(k) => k.validate(key, pipeline)?,
        })
    }
}

impl RawDatabaseSource {
    fn validate(
        self,
        key: &str,
        kind: &str,
        schemes: &[&str],
    ) -> Result<DatabaseSourceConfig, Invalid> {
        Ok(DatabaseSourceConfig {
            url: check_url(&format!("{key}.url"), kind, &self.url, schemes)?,
            tables: check_tables(&format!("{key}.tables"), self.tables, "table")?,
            snapshot: snapshot_mode(self.snapshot),
            row_keys: Vec::new(),
        })
    }
}

/// PostgreSQL identifiers for slots: lowercase letters, digits and `_`, at most 63.
fn valid_slot_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl RawPostgresSource {
    fn validate(self, key: &str, pipeline: &str) -> Result<PostgresSourceConfig, Invalid> {
        let db = RawDatabaseSource {
            _kind: serde::de::IgnoredAny,
            url: self.url,
            tables: self.tables,
            snapshot: self.snapshot,
        }
        .validate(key, "postgres", &["postgres", "postgresql"])?;
        let default_name: String = format!("logferry_{pipeline}")
            .chars()
            .map(|c| if c == '-' { '_' } else { c.to_ascii_lowercase() })
            .take(63)
            .collect();
        let mut names = Vec::new();
        for (leaf, value) in [("slot", self.slot), ("publication", self.publication)] {
            let name = value.unwrap_or_else(|| default_name.clone());
            if !valid_slot_name(&name) {
                return Err(invalid(
                    format!("{key}.{leaf}"),
                    format!(
                        "{name:?} is not a usable name; expected lowercase letters, digits and `_`, \
                         at most 63 characters (default \"{default_name}\")"
                    ),
                ));
            }
            names.push(name);
        }
        let heartbeat_interval = match &self.heartbeat_interval {
            None => Duration::from_secs(10),
            Some(q) => parse_duration(q).map_err(|m| invalid(format!("{key}.heartbeat_interval"), m))?,
        };
        if heartbeat_interval.is_zero() {
            return Err(invalid(
                format!("{key}.heartbeat_interval"),
                "found 0; expected a duration like \"10s\" (how often an idle database gets a heartbeat)",
            ));
        }
        let count = |leaf: &str, v: Option<i64>, default: i64, max: i64| -> Result<usize, Invalid> {
            match v {
                None => Ok(default as usize),
                Some(n) if (1..=max).contains(&n) => Ok(n as usize),
                Some(n) => Err(invalid(
                    format!("{key}.{leaf}"),
                    format!("found {n}; expected 1 to {max}"),
                )),
            }
        };
        let slot = names.remove(0);
        let publication = names.remove(0);
        Ok(PostgresSourceConfig {
            db,
            slot,
            publication,
            heartbeat_interval,
            snapshot_chunk_rows: count("snapshot_chunk_rows", self.snapshot_chunk_rows, 10_000, 10_000_000)?,
            snapshot_parallel: count("snapshot_parallel", self.snapshot_parallel, 2, 64)?,
            origin: match self.origin {
                None | Some(RawPgOrigin::Any) => PgOrigin::Any,
                Some(RawPgOrigin::None) => PgOrigin::None,
            },
            streaming: match self.streaming {
                None => PgStreaming::Auto,
                Some(RawPgStreaming::On) => PgStreaming::On,
                Some(RawPgStreaming::Off) => PgStreaming::Off,
            },
            // Set with the state dir (RawConfig::validate).
            spill_dir: std::path::PathBuf::new(),
        })
    }
}

/// Default binlog reader server id: high and unusual, so it does not clash
/// with the ids DBAs give their replicas (1, 2, …).
const DEFAULT_SERVER_ID: i64 = 4_000_000_001;

impl RawMysqlSource {
    fn validate(self, key: &str) -> Result<MysqlSourceConfig, Invalid> {
        let db = RawDatabaseSource {
            _kind: serde::de::IgnoredAny,
            url: self.url,
            tables: self.tables,
            snapshot: self.snapshot,
        }
        .validate(key, "mysql", &["mysql", "mariadb"])?;
        let server_id = self.server_id.unwrap_or(DEFAULT_SERVER_ID);
        if !(1..=i64::from(u32::MAX)).contains(&server_id) {
            return Err(invalid(
                format!("{key}.server_id"),
                format!("found {server_id}; expected 1 to 4294967295, unique among the server's replicas"),
            ));
        }
        let heartbeat_interval = match &self.heartbeat_interval {
            None => Duration::from_secs(10),
            Some(q) => parse_duration(q).map_err(|m| invalid(format!("{key}.heartbeat_interval"), m))?,
        };
        if heartbeat_interval < Duration::from_millis(1) || heartbeat_interval > Duration::from_secs(4_294_967) {
            return Err(invalid(
                format!("{key}.heartbeat_interval"),
                "expected a duration from 1ms to about 49 days, like \"10s\"",
            ));
        }
        let snapshot_chunk_rows = match self.snapshot_chunk_rows {
            None => 10_000,
            Some(n) if (1..=10_000_000).contains(&n) => n as usize,
            Some(n) => {
                return Err(invalid(format!("{key}.snapshot_chunk_rows"), format!("found {n}; expected 1 to 10000000")))
            }
        };
        Ok(MysqlSourceConfig {
            db,
            flavor: match self.flavor {
                None | Some(RawFlavor::Auto) => MysqlFlavor::Auto,
                Some(RawFlavor::Mariadb) => MysqlFlavor::Mariadb,
                Some(RawFlavor::Mysql) => MysqlFlavor::Mysql,
            },
            server_id: server_id as u32,
            heartbeat_interval,
            snapshot_chunk_rows,
        })
    }
}

impl RawMongodbSource {
    fn validate(self, key: &str) -> Result<MongodbSourceConfig, Invalid> {
        let url = check_url(
            &format!("{key}.url"),
            "mongodb",
            &self.url,
            &["mongodb", "mongodb+srv"],
        )?;
        no_srv(key, &url)?;
        let (leaf, tables) = match (self.tables, self.collections) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    format!("{key}.collections"),
                    "both `tables` and `collections` are set; expected one of them \
                     (they are the same setting)",
                ))
            }
            (Some(t), None) => ("tables", t),
            (None, Some(c)) => ("collections", c),
            (None, None) => {
                return Err(invalid(
                    format!("{key}.collections"),
                    "is missing; expected a list of collection selectors like \
                     [\"shop.orders\", \"shop.*\"] (the key may also be spelled `tables`)",
                ))
            }
        };
        let max_await = match &self.max_await {
            None => Duration::from_secs(1),
            Some(q) => parse_duration(q).map_err(|m| invalid(format!("{key}.max_await"), m))?,
        };
        if max_await < Duration::from_millis(1) || max_await > Duration::from_secs(3600) {
            return Err(invalid(
                format!("{key}.max_await"),
                format!("found {max_await:?}; expected between 1ms and 1h (default 1s)"),
            ));
        }
        let chunk = match self.snapshot_chunk_docs {
            None => 10_000,
            Some(n) if (1..=10_000_000).contains(&n) => n as usize,
            Some(n) => {
                return Err(invalid(
                    format!("{key}.snapshot_chunk_docs"),
                    format!("found {n}; expected 1 to 10000000 (documents per snapshot chunk, default 10000)"),
                ))
            }
        };
        Ok(MongodbSourceConfig {
            db: DatabaseSourceConfig {
                url,
                tables: check_tables(&format!("{key}.{leaf}"), tables, "collection")?,
                snapshot: snapshot_mode(self.snapshot),
                row_keys: Vec::new(),
            },
            full_document: match self.full_document {
                None | Some(RawFullDocument::UpdateLookup) => FullDocument::UpdateLookup,
                Some(RawFullDocument::Required) => FullDocument::Required,
                Some(RawFullDocument::WhenAvailable) => FullDocument::WhenAvailable,
            },
            on_invalidate: match self.on_invalidate {
                None | Some(RawOnInvalidate::Stop) => OnInvalidate::Stop,
                Some(RawOnInvalidate::Reopen) => OnInvalidate::Reopen,
            },
            snapshot_chunk_docs: chunk,
            max_await,
        })
    }
}

fn at_least_one<T: Copy + PartialEq + Default + std::fmt::Display>(
    key: &str,
    value: Option<T>,
    default: T,
    what: &str,
) -> Result<T, Invalid> {
    match value {
        Some(v) if v == T::default() => Err(invalid(
            key,
            format!("found {v}; expected at least 1 ({what})"),
        )),
        Some(v) => Ok(v),
        None => Ok(default),
    }
}

impl RawGenerateSource {
    fn validate(self, key: &str) -> Result<GenerateConfig, Invalid> {
        let update_pct = self.update_pct.unwrap_or(30);
        let delete_pct = self.delete_pct.unwrap_or(10);
        for (leaf, pct) in [("update_pct", update_pct), ("delete_pct", delete_pct)] {
            if pct > 100 {
                return Err(invalid(
                    format!("{key}.{leaf}"),
                    format!("found {pct}; expected a percentage from 0 to 100"),
                ));
            }
        }
        if u16::from(update_pct) + u16::from(delete_pct) > 100 {
            return Err(invalid(
                format!("{key}.delete_pct"),
                format!(
                    "update_pct + delete_pct is {update_pct} + {delete_pct} = {}; expected at \
                     most 100 (the rest of the changes are inserts)",
                    u16::from(update_pct) + u16::from(delete_pct)
                ),
            ));
        }
        if self.total == Some(0) {
            return Err(invalid(
                format!("{key}.total"),
                "found 0; expected at least 1, or leave it out to generate without end",
            ));
        }
        if self.rate == Some(0) {
            return Err(invalid(
                format!("{key}.rate"),
                "found 0; expected at least 1 change per second, or leave it out for no limit",
            ));
        }
        Ok(GenerateConfig {
            total: self.total,
            tables: at_least_one(&format!("{key}.tables"), self.tables, 4, "number of tables")?,
            keys: at_least_one(&format!("{key}.keys"), self.keys, 10_000, "keys per table")?,
            tx_size: at_least_one(
                &format!("{key}.tx_size"),
                self.tx_size,
                10,
                "changes per transaction",
            )?,
            row_bytes: self.row_bytes.unwrap_or(64),
            update_pct,
            delete_pct,
            rate: self.rate,
            seed: self.seed.unwrap_or(1),
        })
    }
}
