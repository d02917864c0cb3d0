//! `[[pipeline.target]]`: one raw shape per `kind` (file, stdout, discard,
//! postgres, mysql, mongodb, kafka, nats, http), chosen by the kind before the rest is read, and its checks.
use super::*;
use super::brokers::{RawHttpTarget, RawKafkaTarget, RawNatsTarget};

#[derive(Debug)]
pub(super) enum RawTarget {
    File(RawFileTarget),
    Stdout(RawStdoutTarget),
    Discard(RawDiscardTarget),
    Postgres(RawPostgresTarget),
    Mysql(RawMysqlTarget),
    Mongodb(RawMongodbTarget),
    Kafka(RawKafkaTarget),
    Nats(RawNatsTarget),
    Http(RawHttpTarget),
}

/// `target` as written: normally an array of tables (`[[pipeline.target]]`).
#[derive(Debug)]
pub(super) enum RawTargets {
    List(Vec<RawTarget>),
    /// Something else, e.g. a single `[pipeline.target]` table; holds its TOML type.
    NotAList(&'static str),
}

impl Default for RawTargets {
    fn default() -> Self {
        RawTargets::List(Vec::new())
    }
}

/// Just the `kind` of a target, to choose the struct for the rest.
#[derive(Deserialize)]
struct TargetKind {
    kind: TargetKindName,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum TargetKindName {
    File,
    Stdout,
    Discard,
    Postgres,
    Mysql,
    Mongodb,
    Kafka,
    Nats,
    Http,
}

impl RawTarget {
    pub(super) fn from_value(value: Spanned<DeValue<'_>>) -> Result<RawTarget, toml::de::Error> {
        let TargetKind { kind } = from_value(value.clone())?;
        Ok(match kind {
            TargetKindName::File => RawTarget::File(from_value(value)?),
            TargetKindName::Stdout => RawTarget::Stdout(from_value(value)?),
            TargetKindName::Discard => RawTarget::Discard(from_value(value)?),
            TargetKindName::Postgres => RawTarget::Postgres(from_value(value)?),
            TargetKindName::Mysql => RawTarget::Mysql(from_value(value)?),
            TargetKindName::Mongodb => RawTarget::Mongodb(from_value(value)?),
            TargetKindName::Kafka => RawTarget::Kafka(from_value(value)?),
            TargetKindName::Nats => RawTarget::Nats(from_value(value)?),
            TargetKindName::Http => RawTarget::Http(from_value(value)?),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFileTarget {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    tables: Option<Vec<String>>,
    path: String,
    format: Option<RawFormat>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStdoutTarget {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    tables: Option<Vec<String>>,
    format: Option<RawFormat>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDiscardTarget {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    tables: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPostgresTarget {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    tables: Option<Vec<String>>,
    url: String,
    schema: Option<String>,
    create_tables: Option<bool>,
    replication_origin: Option<bool>,
    progress_schema: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMysqlTarget {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    tables: Option<Vec<String>>,
    url: String,
    database: Option<String>,
    create_tables: Option<bool>,
    progress_schema: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMongodbTarget {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    tables: Option<Vec<String>>,
    url: String,
    database: Option<String>,
    transaction: Option<bool>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawFormat {
    Json,
    Protobuf,
}

impl RawTarget {
    /// Takes `tables` out: the target-named tables (globs) this target
    /// receives; empty = all.
    pub(super) fn take_tables(&mut self, key: &str) -> Result<Vec<String>, Invalid> {
        let tables = match self {
            RawTarget::File(t) => t.tables.take(),
            RawTarget::Stdout(t) => t.tables.take(),
            RawTarget::Discard(t) => t.tables.take(),
            RawTarget::Postgres(t) => t.tables.take(),
            RawTarget::Mysql(t) => t.tables.take(),
            RawTarget::Mongodb(t) => t.tables.take(),
            RawTarget::Kafka(t) => t.tables.take(),
            RawTarget::Nats(t) => t.tables.take(),
            RawTarget::Http(t) => t.tables.take(),
        };
        match tables {
            None => Ok(Vec::new()),
            Some(list) if list.is_empty() => Err(invalid(
                key,
                "is empty, so this target would receive nothing; expected target-named tables or globs like                  [\"crm.*\"], or leave `tables` out to send it every table",
            )),
            Some(list) => match list.iter().position(|t| t.trim().is_empty()) {
                Some(i) => Err(invalid(format!("{key}[{i}]"), "is empty; expected a table name or glob")),
                None => Ok(list.into_iter().map(|t| t.trim().to_string()).collect()),
            },
        }
    }

    /// `pipeline`: the pipeline's name, for names derived from it.
    pub(super) fn validate(self, key: &str, base: &Path, pipeline: &str) -> Result<TargetConfig, Invalid> {
        Ok(match self {
            RawTarget::Kafka(t) => t.validate(key)?,
            RawTarget::Nats(t) => t.validate(key)?,
            RawTarget::Http(t) => t.validate(key)?,
            RawTarget::File(f) => {
                if f.path.trim().is_empty() {
                    return Err(invalid(
                        format!("{key}.path"),
                        "is empty; expected the file to append records to, like \
                         \"./out/shop.jsonl\"",
                    ));
                }
                TargetConfig::File(FileTargetConfig {
                    path: resolve(base, &f.path),
                    format: record_format(f.format),
                })
            }
            RawTarget::Postgres(t) => TargetConfig::Postgres(PostgresTargetConfig {
                url: check_url(&format!("{key}.url"), "postgres", &t.url, &["postgres", "postgresql"])?,
                schema: t.schema.filter(|s| !s.is_empty()),
                create_tables: t.create_tables.unwrap_or(true),
                replication_origin: t.replication_origin.unwrap_or(false).then(|| origin_prefix(pipeline)),
                progress_schema: progress_schema(key, t.progress_schema)?,
            }),
            RawTarget::Mysql(t) => TargetConfig::Mysql(MysqlTargetConfig {
                url: check_url(&format!("{key}.url"), "mysql", &t.url, &["mysql", "mariadb"])?,
                database: t.database.filter(|s| !s.is_empty()),
                create_tables: t.create_tables.unwrap_or(true),
                progress_schema: progress_schema(key, t.progress_schema)?,
            }),
            RawTarget::Mongodb(t) => TargetConfig::Mongodb(MongodbTargetConfig {
                url: no_srv(key, &check_url(&format!("{key}.url"), "mongodb", &t.url, &["mongodb", "mongodb+srv"])?)?,
                database: t.database.filter(|s| !s.is_empty()),
                transaction: t.transaction.unwrap_or(false),
            }),
            RawTarget::Discard(_) => TargetConfig::Discard,
            RawTarget::Stdout(s) => {
                let format = record_format(s.format);
                if format == RecordFormat::Protobuf {
                    return Err(invalid(
                        format!("{key}.format"),
                        "found \"protobuf\" for a stdout target: binary on a terminal; \
                         use a file target (stdout writes \"json\" only)",
                    ));
                }
                TargetConfig::Stdout(StdoutTargetConfig { format })
            }
        })
    }
}

pub(super) fn record_format(raw: Option<RawFormat>) -> RecordFormat {
    match raw {
        None | Some(RawFormat::Json) => RecordFormat::Json,
        Some(RawFormat::Protobuf) => RecordFormat::Protobuf,
    }
}

/// `logferry_<pipeline>`, lowercase with `_` for `-` (as slot names): the
/// replication origins of a postgres target are this plus `_<n>`.
fn origin_prefix(pipeline: &str) -> String {
    format!("logferry_{pipeline}").chars().map(|c| if c == '-' { '_' } else { c.to_ascii_lowercase() }).collect()
}

/// `progress_schema`: absent means the target's default; present must name something.
fn progress_schema(key: &str, value: Option<String>) -> Result<Option<String>, Invalid> {
    match value {
        Some(v) if v.trim().is_empty() => Err(invalid(
            format!("{key}.progress_schema"),
            "is empty; expected the schema (PostgreSQL) or database (MySQL) for the logferry_progress table, or leave it out for the default",
        )),
        v => Ok(v),
    }
}
