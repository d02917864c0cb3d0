//! Raw config shapes (serde, `deny_unknown_fields`) and their validation
//! into the types of the parent module.
//!
//! Parsing runs in four steps, so that every message can name the key:
//!
//! 1. the text is parsed into a TOML tree that remembers where each key and
//!    value sits in the file (syntax errors stop here, with line and column);
//! 2. `${NAME}` references in every string of the tree are replaced, while
//!    walking it with the key path in hand (`pipeline[shop].source.url`), so
//!    a missing variable names the key and the variable;
//! 3. the tree is deserialized into the `Raw*` structs below; unknown keys
//!    and wrong types are reported with the file position (the positions
//!    still point into the original text) and the key path;
//! 4. the raw structs are checked and turned into the validated types:
//!    ranges, durations, sizes, URL schemes, duplicates, relative paths.
//!
//! Values substituted into secret-bearing keys (`url`, and any key named
//! `password`, `token` or `secret`) never appear in a message: our own
//! messages do not quote those keys' values, and as a safety net every
//! message (ours and serde's) is scrubbed of the substituted values.
use super::*;

use serde::Deserialize;
use std::borrow::Cow;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// `state_dir` when the file does not set one.
const DEFAULT_STATE_DIR: &str = "./.logferry";
/// Upper bound on `lanes`: each lane is a task with its own queue and sink
/// connection; more than this is a typo, not a tuning choice.
const MAX_LANES: i64 = 1024;
/// `max_retries` without a limit (the default).
const UNLIMITED: &str = "unlimited";
/// How a duration is written, for messages.
const DURATION_FORM: &str = "a duration like \"20ms\" or \"5s\" (units: us, ms, s, m, h)";
/// How a size is written, for messages.
const SIZE_FORM: &str =
    "a size: an integer number of bytes, or a string like \"512KiB\", \"64MiB\", \"1GiB\" or \"10MB\"";

pub(super) fn parse(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut root = DeTable::parse(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_owned(),
    })?;

    let mut secrets = Vec::new();
    interpolate_table(root.get_mut(), "", env, &mut secrets).map_err(|(key, message)| {
        ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        }
    })?;

    // Deserializing consumes the tree; a copy finds the key an error points at.
    let tree = root.get_ref().clone();
    let serde_error = |mut e: toml::de::Error| {
        e.set_input(Some(text));
        // The Display is "position and snippet\n{message}\n"; only the
        // message is reworded and scrubbed.
        let display = e.to_string();
        let snippet = display.trim_end().strip_suffix(e.message()).unwrap_or("");
        let mut message = format!("{snippet}{}", plain_types(e.message()));
        for secret in &secrets {
            message = message.replace(secret.as_str(), "***");
        }
        if let Some(key) = e.span().and_then(|span| key_at(&tree, span.start, "")) {
            message = format!("`{key}`: {message}");
        }
        ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        }
    };

    // Sources and targets have one struct per `kind`. Each is deserialized
    // on its own, from its own subtree, so that its errors keep their file
    // positions and list only that kind's keys (serde's internally tagged
    // enums buffer the table and lose both).
    let parts = take_sources_and_targets(root.get_mut());
    let mut raw =
        RawConfig::deserialize(toml::de::Deserializer::from(root)).map_err(serde_error)?;
    for (pipeline, (source, target)) in raw.pipeline.iter_mut().zip(parts) {
        pipeline.source = source
            .map(RawSource::from_value)
            .transpose()
            .map_err(serde_error)?;
        pipeline.target = match target {
            None => RawTargets::List(Vec::new()),
            Some(value) => match value.into_inner() {
                DeValue::Array(items) => RawTargets::List(
                    items
                        .iter()
                        .cloned()
                        .map(RawTarget::from_value)
                        .collect::<Result<_, _>>()
                        .map_err(serde_error)?,
                ),
                other => RawTargets::NotAList(other.type_str()),
            },
        };
    }

    let base = path.parent().unwrap_or(Path::new(""));
    raw.validate(path, base)
        .map_err(|Invalid { key, mut message }| {
            for secret in &secrets {
                message = message.replace(secret.as_str(), "***");
            }
            ConfigError::Invalid {
                path: path.to_path_buf(),
                key,
                message,
            }
        })
}

/// Serde names Rust types in messages ("expected u32"); say it in TOML's words.
fn plain_types(message: &str) -> String {
    let mut message = message.to_owned();
    for (rust, plain) in [
        ("expected i64", "expected an integer"),
        ("expected u64", "expected a non-negative integer"),
        ("expected usize", "expected a non-negative integer"),
        ("expected u32", "expected a non-negative integer below 2^32"),
        ("expected u8", "expected an integer from 0 to 255"),
    ] {
        if let Some(rest) = message.strip_suffix(rust) {
            message = format!("{rest}{plain}");
        }
    }
    message
}

/// Source and target subtree of each `[[pipeline]]`, taken out of the tree.
type Parts<'i> = Vec<(Option<Spanned<DeValue<'i>>>, Option<Spanned<DeValue<'i>>>)>;

fn take_sources_and_targets<'i>(root: &mut DeTable<'i>) -> Parts<'i> {
    let Some(DeValue::Array(pipelines)) = root.get_mut("pipeline").map(Spanned::get_mut) else {
        return Vec::new();
    };
    pipelines
        .iter_mut()
        .map(|p| match p.get_mut() {
            DeValue::Table(t) => (t.remove("source"), t.remove("target")),
            _ => (None, None),
        })
        .collect()
}

fn from_value<T: serde::de::DeserializeOwned>(
    value: Spanned<DeValue<'_>>,
) -> Result<T, toml::de::Error> {
    T::deserialize(toml::de::ValueDeserializer::from(value))
}

/// A validation failure before the file path is attached.
#[derive(Debug)]
struct Invalid {
    key: String,
    message: String,
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        key: key.into(),
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------
// `${NAME}` interpolation over the TOML tree.

/// Keys whose values are secrets (besides any `url`, whose password is).
fn is_secret_key(leaf: &str) -> bool {
    matches!(leaf, "url" | "password" | "token" | "secret")
}

/// The label of an array element in key paths: its `name` if it has one
/// (`pipeline[shop]`), else its index (`target[0]`).
fn element_label(index: usize, value: &DeValue<'_>) -> String {
    match value
        .as_table()
        .and_then(|t| t.get("name"))
        .and_then(|n| n.get_ref().as_str())
    {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => index.to_string(),
    }
}

fn join_key(prefix: &str, leaf: &str) -> String {
    if prefix.is_empty() {
        leaf.to_owned()
    } else {
        format!("{prefix}.{leaf}")
    }
}

fn interpolate_table(
    table: &mut DeTable<'_>,
    prefix: &str,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
) -> Result<(), (String, String)> {
    // `name` first, so the elements' key paths use the substituted name.
    if let Some(name) = table.get_mut("name") {
        interpolate_value(
            name.get_mut(),
            &join_key(prefix, "name"),
            "name",
            env,
            secrets,
        )?;
    }
    for (key, value) in table.iter_mut() {
        if key.get_ref() != "name" {
            let path = join_key(prefix, key.get_ref());
            interpolate_value(value.get_mut(), &path, key.get_ref(), env, secrets)?;
        }
    }
    Ok(())
}

fn interpolate_value(
    value: &mut DeValue<'_>,
    path: &str,
    leaf: &str,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
) -> Result<(), (String, String)> {
    match value {
        DeValue::String(s) => {
            let secret = is_secret_key(leaf);
            let replaced = interpolate(s, env, |v| {
                if secret && !v.is_empty() {
                    secrets.push(v.to_owned());
                }
            })
            .map_err(|message| (path.to_owned(), message))?;
            if let Some(replaced) = replaced {
                *s = Cow::Owned(replaced);
            }
        }
        DeValue::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                let label = element_label(index, item.get_ref());
                // Elements inherit the leaf name: `tokens = ["${T}"]` is secret too.
                interpolate_value(
                    item.get_mut(),
                    &format!("{path}[{label}]"),
                    leaf,
                    env,
                    secrets,
                )?;
            }
        }
        DeValue::Table(table) => interpolate_table(table, path, env, secrets)?,
        DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) | DeValue::Datetime(_) => {}
    }
    Ok(())
}

/// Replaces `${NAME}` by `env(NAME)` and `$${` by `${`; `None` when the
/// string has nothing to replace. `substituted` sees each substituted value.
/// Messages never include the string itself or a substituted value.
fn interpolate(
    s: &str,
    env: &dyn Fn(&str) -> Option<String>,
    mut substituted: impl FnMut(&str),
) -> Result<Option<String>, String> {
    if !s.contains('$') {
        return Ok(None);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(close) = tail.find('}') else {
                return Err("unterminated `${`: a reference is written `${NAME}`; \
                     write `$${` for a literal `${`"
                    .to_owned());
            };
            let name = &tail[..close];
            let well_formed = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !well_formed {
                return Err(format!(
                    "`${{{name}}}` is not a valid reference: the name must be letters, digits \
                     and `_`, not starting with a digit; write `$${{` for a literal `${{`"
                ));
            }
            let Some(value) = env(name) else {
                return Err(format!(
                    "environment variable {name} is not set (referenced as ${{{name}}}); \
                     export it or put the value in the file"
                ));
            };
            substituted(&value);
            out.push_str(&value);
            rest = &tail[close + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(Some(out))
}

/// The key path (`pipeline[shop].apply.lanez`) of the deepest key or value
/// that contains byte `offset` of the file.
fn key_at(table: &DeTable<'_>, offset: usize, prefix: &str) -> Option<String> {
    for (key, value) in table.iter() {
        let path = join_key(prefix, key.get_ref());
        if key.span().contains(&offset) {
            return Some(path);
        }
        if let Some(deeper) = value_key_at(value, offset, &path) {
            return Some(deeper);
        }
    }
    None
}

fn value_key_at(value: &Spanned<DeValue<'_>>, offset: usize, path: &str) -> Option<String> {
    match value.get_ref() {
        DeValue::Table(table) => key_at(table, offset, path)
            .or_else(|| value.span().contains(&offset).then(|| path.to_owned())),
        DeValue::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| {
                let label = element_label(i, item.get_ref());
                value_key_at(item, offset, &format!("{path}[{label}]"))
            })
            .or_else(|| value.span().contains(&offset).then(|| path.to_owned())),
        _ => value.span().contains(&offset).then(|| path.to_owned()),
    }
}

// ---------------------------------------------------------------------------
// Raw shapes: what the file may contain, nothing checked beyond types.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    state_dir: Option<String>,
    admin: Option<RawAdmin>,
    #[serde(default)]
    pipeline: Vec<RawPipeline>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    name: String,
    /// `[pipeline.source]`, deserialized separately (see [`parse`]).
    #[serde(skip)]
    source: Option<RawSource>,
    /// `[[pipeline.target]]`, deserialized separately (see [`parse`]).
    #[serde(skip)]
    target: RawTargets,
    #[serde(default)]
    apply: RawApply,
    on_error: Option<RawOnError>,
    spool: Option<RawSpool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpool {
    max_bytes: Option<Quantity>,
}

impl RawSpool {
    fn validate(self, key: &str) -> Result<SpoolConfig, Invalid> {
        let k = format!("{key}.max_bytes");
        let max_bytes = match self.max_bytes {
            None => SpoolConfig::DEFAULT_MAX_BYTES,
            Some(q) => match parse_size(&q) {
                Ok(0) => return Err(invalid(k, format!("found 0; expected more than 0 bytes, as {SIZE_FORM}"))),
                Ok(v) => v as u64,
                Err(m) => return Err(invalid(k, m)),
            },
        };
        Ok(SpoolConfig { max_bytes })
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawOnError {
    Stop,
    DeadLetter,
}

#[derive(Debug)]
enum RawSource {
    Postgres(RawPostgresSource),
    Mysql(RawMysqlSource),
    Mongodb(RawMongodbSource),
    Generate(RawGenerateSource),
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
}

impl RawSource {
    fn from_value(value: Spanned<DeValue<'_>>) -> Result<RawSource, toml::de::Error> {
        let SourceKind { kind } = from_value(value.clone())?;
        Ok(match kind {
            SourceKindName::Postgres => RawSource::Postgres(from_value(value)?),
            SourceKindName::Mysql => RawSource::Mysql(from_value(value)?),
            SourceKindName::Mongodb => RawSource::Mongodb(from_value(value)?),
            SourceKindName::Generate => RawSource::Generate(from_value(value)?),
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
struct RawPostgresSource {
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
}

/// [`RawDatabaseSource`] plus binlog reader settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMysqlSource {
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
struct RawMongodbSource {
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
struct RawGenerateSource {
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

#[derive(Debug)]
enum RawTarget {
    File(RawFileTarget),
    Stdout(RawStdoutTarget),
    Postgres(RawPostgresTarget),
    Mysql(RawMysqlTarget),
    Mongodb(RawMongodbTarget),
}

/// `target` as written: normally an array of tables (`[[pipeline.target]]`).
#[derive(Debug)]
enum RawTargets {
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
    Postgres,
    Mysql,
    Mongodb,
}

impl RawTarget {
    fn from_value(value: Spanned<DeValue<'_>>) -> Result<RawTarget, toml::de::Error> {
        let TargetKind { kind } = from_value(value.clone())?;
        Ok(match kind {
            TargetKindName::File => RawTarget::File(from_value(value)?),
            TargetKindName::Stdout => RawTarget::Stdout(from_value(value)?),
            TargetKindName::Postgres => RawTarget::Postgres(from_value(value)?),
            TargetKindName::Mysql => RawTarget::Mysql(from_value(value)?),
            TargetKindName::Mongodb => RawTarget::Mongodb(from_value(value)?),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFileTarget {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    path: String,
    format: Option<RawFormat>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStdoutTarget {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    format: Option<RawFormat>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPostgresTarget {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    url: String,
    schema: Option<String>,
    create_tables: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMysqlTarget {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    url: String,
    database: Option<String>,
    create_tables: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMongodbTarget {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    url: String,
    database: Option<String>,
    transaction: Option<bool>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawFormat {
    Json,
    Protobuf,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawOrdering {
    Key,
    Transaction,
}

/// Counts are read as `i64` so that `0` and `-1` get our own message
/// (with the allowed range) rather than serde's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApply {
    lanes: Option<i64>,
    batch_max_rows: Option<i64>,
    batch_max_wait: Option<Quantity>,
    ordering: Option<RawOrdering>,
    queue_max_records: Option<i64>,
    queue_max_bytes: Option<Quantity>,
    max_retries: Option<RawRetries>,
    retry_backoff: Option<Quantity>,
    retry_max_backoff: Option<Quantity>,
    checkpoint_interval: Option<Quantity>,
}

/// `max_retries` as written: a count, or the word `"unlimited"` (checked
/// in validation, so that every wrong value gets the same message).
#[derive(Debug, Clone)]
enum RawRetries {
    Count(i64),
    Word(String),
}

impl<'de> Deserialize<'de> for RawRetries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RawRetries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("\"unlimited\" or a number of retries like 10")
            }
            fn visit_i64<E>(self, v: i64) -> Result<RawRetries, E> {
                Ok(RawRetries::Count(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<RawRetries, E> {
                Ok(RawRetries::Count(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E>(self, v: &str) -> Result<RawRetries, E> {
                Ok(RawRetries::Word(v.to_owned()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A duration or size as written: a string with a unit, or a bare number
/// (bytes for sizes; an error asking for a unit for durations).
#[derive(Debug, Clone)]
enum Quantity {
    Integer(i64),
    Float(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Quantity;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string with a unit, like \"20ms\" or \"64MiB\"")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity::Integer(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                i64::try_from(v)
                    .map(Quantity::Integer)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity::Text(v.to_owned()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

// ---------------------------------------------------------------------------
// Validation.

/// `base` joined with `p` unless `p` is absolute, without `.` components.
fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    joined
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl RawConfig {
    fn validate(self, path: &Path, base: &Path) -> Result<Config, Invalid> {
        let state_dir = self.state_dir.as_deref().unwrap_or(DEFAULT_STATE_DIR);
        if state_dir.trim().is_empty() {
            return Err(invalid(
                "state_dir",
                "is empty; expected a folder for checkpoints (default \"./.logferry\")",
            ));
        }
        let admin = self.admin.map(|a| a.validate()).transpose()?;

        if self.pipeline.is_empty() {
            return Err(invalid(
                "pipeline",
                "no pipeline is defined; expected at least one [[pipeline]] section \
                 with a name, a [pipeline.source] and a [[pipeline.target]]",
            ));
        }
        let mut pipelines: Vec<PipelineConfig> = Vec::with_capacity(self.pipeline.len());
        for (index, raw) in self.pipeline.into_iter().enumerate() {
            let p = raw.validate(index, base)?;
            if let Some(first) = pipelines.iter().position(|q| q.name == p.name) {
                return Err(invalid(
                    format!("pipeline[{}].name", p.name),
                    format!(
                        "the name {:?} is used by pipelines #{} and #{}; expected unique names \
                         (a name keys the pipeline's checkpoint in the state dir)",
                        p.name,
                        first + 1,
                        index + 1
                    ),
                ));
            }
            pipelines.push(p);
        }
        Ok(Config {
            path: path.to_path_buf(),
            state_dir: resolve(base, state_dir),
            admin,
            pipelines,
        })
    }
}

impl RawAdmin {
    fn validate(self) -> Result<AdminConfig, Invalid> {
        let listen = self.listen.trim().parse().map_err(|_| {
            invalid(
                "admin.listen",
                format!(
                    "{:?} is not an address; expected an IP address and port like \
                     \"127.0.0.1:9187\" or \"[::1]:9187\"",
                    self.listen
                ),
            )
        })?;
        Ok(AdminConfig { listen })
    }
}

impl RawPipeline {
    fn validate(self, index: usize, base: &Path) -> Result<PipelineConfig, Invalid> {
        if !valid_name(&self.name) {
            return Err(invalid(
                format!("pipeline[{index}].name"),
                format!(
                    "{:?} is not a valid pipeline name; expected letters, digits, `_` and `-` \
                     only, at least one",
                    self.name
                ),
            ));
        }
        let key = format!("pipeline[{}]", self.name);
        let Some(source) = self.source else {
            return Err(invalid(
                format!("{key}.source"),
                "the pipeline has no source; expected a [pipeline.source] section with a \
                 kind (postgres, mysql, mongodb or generate)",
            ));
        };
        let source = source.validate(&format!("{key}.source"), &self.name)?;
        let target = match self.target {
            RawTargets::List(list) => list,
            RawTargets::NotAList(found) => {
                return Err(invalid(
                    format!("{key}.target"),
                    format!(
                        "found a {found}; expected an array of tables, written \
                         [[pipeline.target]] (double brackets), one per target"
                    ),
                ))
            }
        };
        if target.is_empty() {
            return Err(invalid(
                format!("{key}.target"),
                "the pipeline has no target; expected at least one [[pipeline.target]] \
                 section, e.g. kind = \"stdout\"",
            ));
        }
        let mut targets: Vec<TargetConfig> = Vec::with_capacity(target.len());
        for (i, raw) in target.into_iter().enumerate() {
            let t = raw.validate(&format!("{key}.target[{i}]"), base)?;
            if let TargetConfig::File(file) = &t {
                let earlier = targets.iter().position(
                    |u| matches!(u, TargetConfig::File(other) if other.path == file.path),
                );
                if let Some(earlier) = earlier {
                    return Err(invalid(
                        format!("{key}.target[{i}].path"),
                        format!(
                            "{} is also the path of target[{earlier}]; expected each file \
                             target of a pipeline to write its own file",
                            file.path.display()
                        ),
                    ));
                }
            }
            targets.push(t);
        }
        let apply = self.apply.validate(&format!("{key}.apply"))?;
        let on_error = match self.on_error {
            None | Some(RawOnError::Stop) => OnError::Stop,
            Some(RawOnError::DeadLetter) => OnError::DeadLetter,
        };
        let spool = self.spool.map(|s| s.validate(&format!("{key}.spool"))).transpose()?;
        Ok(PipelineConfig {
            name: self.name,
            source,
            targets,
            apply,
            on_error,
            spool,
        })
    }
}

fn snapshot_mode(raw: Option<RawSnapshot>) -> SnapshotMode {
    match raw {
        None | Some(RawSnapshot::Initial) => SnapshotMode::Initial,
        Some(RawSnapshot::Never) => SnapshotMode::Never,
    }
}

/// Checks that `url` starts with one of `schemes` (without `://`).
/// `mongodb+srv://` needs DNS SRV lookups, which this build leaves out
/// (the driver's resolver would double the dependency tree).
fn no_srv(key: &str, url: &SecretUrl) -> Result<SecretUrl, Invalid> {
    if url.scheme() == Some("mongodb+srv") {
        return Err(invalid(
            format!("{key}.url"),
            "mongodb+srv:// needs DNS SRV lookups, which this build of logferry leaves out; list the hosts \
             instead: mongodb://user:pass@host1:27017,host2:27017/?replicaSet=<name>&tls=true",
        ));
    }
    Ok(url.clone())
}

fn check_url(key: &str, kind: &str, url: &str, schemes: &[&str]) -> Result<SecretUrl, Invalid> {
    let url = SecretUrl::new(url);
    let expected = schemes
        .iter()
        .map(|s| format!("{s}://"))
        .collect::<Vec<_>>()
        .join(" or ");
    match url.scheme() {
        Some(found) if schemes.contains(&found) => Ok(url),
        // Only the scheme is quoted: the rest may hold a password.
        Some(found) => Err(invalid(
            key,
            format!("a {kind} source needs a URL starting with {expected}; found {found}://"),
        )),
        None => Err(invalid(
            key,
            format!(
                "is not a URL (no `scheme://` at the start); a {kind} source needs a URL \
                 starting with {expected}"
            ),
        )),
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
    fn validate(self, key: &str, pipeline: &str) -> Result<SourceConfig, Invalid> {
        Ok(match self {
            RawSource::Postgres(s) => SourceConfig::Postgres(s.validate(key, pipeline)?),
            RawSource::Mysql(s) => SourceConfig::Mysql(s.validate(key)?),
            RawSource::Mongodb(s) => SourceConfig::Mongodb(s.validate(key)?),
            RawSource::Generate(g) => SourceConfig::Generate(g.validate(key)?),
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

impl RawTarget {
    fn validate(self, key: &str, base: &Path) -> Result<TargetConfig, Invalid> {
        Ok(match self {
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
            }),
            RawTarget::Mysql(t) => TargetConfig::Mysql(MysqlTargetConfig {
                url: check_url(&format!("{key}.url"), "mysql", &t.url, &["mysql", "mariadb"])?,
                database: t.database.filter(|s| !s.is_empty()),
                create_tables: t.create_tables.unwrap_or(true),
            }),
            RawTarget::Mongodb(t) => TargetConfig::Mongodb(MongodbTargetConfig {
                url: no_srv(key, &check_url(&format!("{key}.url"), "mongodb", &t.url, &["mongodb", "mongodb+srv"])?)?,
                database: t.database.filter(|s| !s.is_empty()),
                transaction: t.transaction.unwrap_or(false),
            }),
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

fn record_format(raw: Option<RawFormat>) -> RecordFormat {
    match raw {
        None | Some(RawFormat::Json) => RecordFormat::Json,
        Some(RawFormat::Protobuf) => RecordFormat::Protobuf,
    }
}

impl RawApply {
    fn validate(self, key: &str) -> Result<ApplyConfig, Invalid> {
        let d = ApplyConfig::default();
        let k = |leaf: &str| format!("{key}.{leaf}");

        let mut lanes = d.lanes;
        if let Some(v) = self.lanes {
            if !(1..=MAX_LANES).contains(&v) {
                return Err(invalid(
                    k("lanes"),
                    format!("found {v}; expected 1 to {MAX_LANES} (default {})", d.lanes),
                ));
            }
            lanes = v as usize;
        }
        let mut batch_max_rows = d.batch_max_rows;
        if let Some(v) = self.batch_max_rows {
            batch_max_rows = usize::try_from(v).ok().filter(|&v| v >= 1).ok_or_else(|| {
                invalid(
                    k("batch_max_rows"),
                    format!(
                        "found {v}; expected at least 1 (default {})",
                        d.batch_max_rows
                    ),
                )
            })?;
        }
        let mut queue_max_records = d.queue_max_records;
        if let Some(v) = self.queue_max_records {
            queue_max_records = usize::try_from(v).unwrap_or(0);
        }
        if queue_max_records < batch_max_rows {
            let found = self.queue_max_records.unwrap_or(queue_max_records as i64);
            return Err(invalid(
                k("queue_max_records"),
                format!(
                    "found {found}, less than batch_max_rows ({batch_max_rows}); expected at \
                     least batch_max_rows so that a full batch fits in the queue \
                     (default {})",
                    d.queue_max_records
                ),
            ));
        }
        let queue_max_bytes = match self.queue_max_bytes {
            None => d.queue_max_bytes,
            Some(q) => match parse_size(&q) {
                Ok(0) => {
                    return Err(invalid(
                        k("queue_max_bytes"),
                        format!("found 0; expected more than 0 bytes, as {SIZE_FORM}"),
                    ))
                }
                Ok(v) => v,
                Err(m) => return Err(invalid(k("queue_max_bytes"), m)),
            },
        };
        let duration = |leaf: &str, q: Option<Quantity>, default: Duration, allow_zero: bool| {
            let Some(q) = q else { return Ok(default) };
            match parse_duration(&q) {
                Ok(v) if v.is_zero() && !allow_zero => Err(invalid(
                    k(leaf),
                    format!("found 0; expected more than 0, as {DURATION_FORM}"),
                )),
                Ok(v) => Ok(v),
                Err(m) => Err(invalid(k(leaf), m)),
            }
        };
        let batch_max_wait = duration(
            "batch_max_wait",
            self.batch_max_wait,
            d.batch_max_wait,
            true,
        )?;
        let retry_backoff = duration("retry_backoff", self.retry_backoff, d.retry_backoff, false)?;
        let retry_max_backoff = duration(
            "retry_max_backoff",
            self.retry_max_backoff,
            d.retry_max_backoff,
            false,
        )?;
        let checkpoint_interval = duration(
            "checkpoint_interval",
            self.checkpoint_interval,
            d.checkpoint_interval,
            false,
        )?;
        if retry_max_backoff < retry_backoff {
            return Err(invalid(
                k("retry_max_backoff"),
                format!(
                    "found {retry_max_backoff:?}, less than retry_backoff ({retry_backoff:?}); \
                     expected at least retry_backoff"
                ),
            ));
        }

        let max_retries = match self.max_retries {
            None => d.max_retries,
            Some(RawRetries::Word(w)) if w == UNLIMITED => None,
            Some(RawRetries::Count(v)) if u32::try_from(v).is_ok() => Some(v as u32),
            Some(found) => {
                let found = match found {
                    RawRetries::Count(v) => v.to_string(),
                    RawRetries::Word(w) => format!("{w:?}"),
                };
                return Err(invalid(
                    k("max_retries"),
                    format!(
                        "found {found}; expected \"{UNLIMITED}\" (the default: retry until the \
                         target is back) or a number of retries from 0 to {}",
                        u32::MAX
                    ),
                ));
            }
        };

        let ordering = match self.ordering {
            None | Some(RawOrdering::Key) => Ordering::Key,
            Some(RawOrdering::Transaction) => Ordering::Transaction,
        };
        if ordering == Ordering::Transaction {
            // Whole transactions in commit order: one lane by definition.
            lanes = 1;
        }
        Ok(ApplyConfig {
            lanes,
            batch_max_rows,
            batch_max_wait,
            ordering,
            queue_max_records,
            queue_max_bytes,
            max_retries,
            retry_backoff,
            retry_max_backoff,
            checkpoint_interval,
        })
    }
}

// ---------------------------------------------------------------------------
// Durations and sizes.

/// A non-negative decimal number, exactly: `mantissa / 10^scale`.
fn parse_decimal(s: &str) -> Option<(u128, u32)> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let digits = format!("{int}{frac}");
    Some((digits.parse().ok()?, frac.len() as u32))
}

/// Splits `"1.5 s"` into `("1.5", "s")`.
fn split_unit(s: &str) -> (&str, &str) {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    (&s[..end], s[end..].trim())
}

/// `"20ms"`, `"1.5s"`, `"5m"`; bare numbers are refused (is `20` seconds
/// or milliseconds?).
fn parse_duration(q: &Quantity) -> Result<Duration, String> {
    let text = match q {
        Quantity::Integer(n) => {
            return Err(format!(
                "found {n}, a number without a unit; expected {DURATION_FORM}"
            ))
        }
        Quantity::Float(n) => {
            return Err(format!(
                "found {n}, a number without a unit; expected {DURATION_FORM}"
            ))
        }
        Quantity::Text(t) => t,
    };
    let (number, unit) = split_unit(text);
    let nanos_per_unit: u128 = match unit {
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "" if parse_decimal(number).is_some() => {
            return Err(format!(
                "found {text:?}, a number without a unit; expected {DURATION_FORM}"
            ))
        }
        _ => return Err(format!("found {text:?}; expected {DURATION_FORM}")),
    };
    let Some((mantissa, scale)) = parse_decimal(number) else {
        return Err(format!("found {text:?}; expected {DURATION_FORM}"));
    };
    let nanos = mantissa
        .checked_mul(nanos_per_unit)
        .map(|n| n / 10u128.pow(scale))
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| format!("found {text:?}, which is too long; expected {DURATION_FORM}"))?;
    Ok(Duration::from_nanos(nanos))
}

/// An integer number of bytes, or `"512KiB"`, `"64MiB"`, `"10MB"`, `"1.5GiB"`.
fn parse_size(q: &Quantity) -> Result<usize, String> {
    let text = match q {
        Quantity::Integer(n) => {
            return usize::try_from(*n)
                .map_err(|_| format!("found {n}; expected {SIZE_FORM}, not negative"))
        }
        Quantity::Float(n) => return Err(format!("found {n}; expected {SIZE_FORM}")),
        Quantity::Text(t) => t,
    };
    let (number, unit) = split_unit(text);
    let bytes_per_unit: u128 = match unit.to_ascii_lowercase().as_str() {
        "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        "" if parse_decimal(number).is_some() => {
            return Err(format!(
                "found {text:?}, a number without a unit; expected {SIZE_FORM} \
                 (write bytes as an integer without quotes, or add \"B\")"
            ))
        }
        _ => return Err(format!("found {text:?}; expected {SIZE_FORM}")),
    };
    let Some((mantissa, scale)) = parse_decimal(number) else {
        return Err(format!("found {text:?}; expected {SIZE_FORM}"));
    };
    mantissa
        .checked_mul(bytes_per_unit)
        .map(|n| n / 10u128.pow(scale))
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("found {text:?}, which is too large; expected {SIZE_FORM}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "config/shop.toml";
    const PASSWORD: &str = "hunter2-very-secret";

    fn env(name: &str) -> Option<String> {
        match name {
            "PGPASSWORD" => Some(PASSWORD.to_owned()),
            "SHOP" => Some("shop".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new(PATH), &env)
    }

    fn error(text: &str) -> String {
        match parse(text) {
            Ok(cfg) => panic!("expected an error, got {cfg:#?}"),
            Err(e) => {
                let message = e.to_string();
                assert!(message.starts_with("config/shop.toml: "), "{message}");
                assert!(!message.contains(PASSWORD), "{message}");
                message
            }
        }
    }

    /// The key of an `Invalid` error, and its message.
    fn invalid(text: &str) -> (String, String) {
        match parse(text) {
            Err(ConfigError::Invalid { key, message, .. }) => {
                assert!(!message.contains(PASSWORD), "{message}");
                (key, message)
            }
            other => panic!("expected ConfigError::Invalid, got {other:?}"),
        }
    }

    const SOURCE: &str = r#"
[[pipeline]]
name = "shop"
[pipeline.source]
kind = "postgres"
url = "postgres://logferry:${PGPASSWORD}@db.internal:5432/shop"
tables = ["public.*"]
"#;

    const STDOUT: &str = "[[pipeline.target]]\nkind = \"stdout\"\n";

    /// A valid pipeline `shop` with `apply` lines added.
    fn with_apply(apply: &str) -> String {
        format!("{SOURCE}{STDOUT}[pipeline.apply]\n{apply}\n")
    }

    /// A valid pipeline `shop` with `source` lines replaced.
    fn with_source(source: &str) -> String {
        format!("[[pipeline]]\nname = \"shop\"\n[pipeline.source]\n{source}\n{STDOUT}")
    }

    /// A valid pipeline `shop` with `targets` instead of stdout.
    fn with_targets(targets: &str) -> String {
        format!("{SOURCE}{targets}\n")
    }

    #[test]
    fn example_file_parses_with_every_option() {
        let text = include_str!("../../../config/example.toml");
        let cfg = Config::parse(text, Path::new("config/example.toml"), &env).unwrap();
        assert_eq!(cfg.path, Path::new("config/example.toml"));
        assert_eq!(cfg.state_dir, Path::new("config/.logferry"));
        assert_eq!(
            cfg.admin.as_ref().unwrap().listen,
            "127.0.0.1:9187".parse().unwrap()
        );
        assert_eq!(cfg.pipelines.len(), 1);
        let p = cfg.pipeline("shop").unwrap();
        let SourceConfig::Postgres(source) = &p.source else {
            panic!("{:?}", p.source)
        };
        assert_eq!(
            source.db.url.expose(),
            format!("postgres://logferry:{PASSWORD}@127.0.0.1:5432/shop")
        );
        assert_eq!(
            source.db.url.to_string(),
            "postgres://logferry:***@127.0.0.1:5432/shop"
        );
        assert_eq!(source.db.tables, ["public.*"]);
        assert_eq!(source.db.snapshot, SnapshotMode::Initial);
        assert_eq!((source.slot.as_str(), source.publication.as_str()), ("logferry_shop", "logferry_shop"));
        assert_eq!(source.heartbeat_interval, Duration::from_secs(10));
        assert_eq!((source.snapshot_chunk_rows, source.snapshot_parallel), (10_000, 2));
        assert_eq!(p.targets.len(), 3);
        let TargetConfig::File(file) = &p.targets[0] else {
            panic!("{:?}", p.targets)
        };
        assert_eq!(file.path, Path::new("config/out/shop.jsonl"));
        assert_eq!(file.format, RecordFormat::Json);
        let TargetConfig::Stdout(stdout) = &p.targets[1] else {
            panic!("{:?}", p.targets)
        };
        assert_eq!(stdout.format, RecordFormat::Json);
        let TargetConfig::Postgres(pg) = &p.targets[2] else {
            panic!("{:?}", p.targets)
        };
        assert_eq!(pg.url.to_string(), "postgres://logferry:***@127.0.0.1:5432/shop_replica");
        assert!(pg.create_tables && pg.schema.is_none());
        // The file shows the defaults.
        assert_eq!(
            format!("{:?}", p.apply),
            format!("{:?}", ApplyConfig::default())
        );
    }

    #[test]
    fn example_files_commented_sources_parse() {
        let text = include_str!("../../../config/example.toml");
        // Every commented-out `# [pipeline.source]` block is a valid source.
        let lines: Vec<&str> = text.lines().collect();
        let blocks: Vec<String> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| **l == "# [pipeline.source]")
            .map(|(i, _)| {
                lines[i..]
                    .iter()
                    .take_while(|l| l.starts_with('#'))
                    .map(|l| format!("{}\n", l.trim_start_matches('#')))
                    .collect()
            })
            .collect();
        assert_eq!(blocks.len(), 3, "the mysql, mongodb and generate examples");
        let env = |_: &str| Some("pw".to_string());
        let parse_block = |block: &str| {
            let text = format!("[[pipeline]]\nname = \"p\"\n{block}{STDOUT}");
            Config::parse(&text, Path::new("config/example.toml"), &env).unwrap()
        };
        let mysql = parse_block(&blocks[0]);
        let SourceConfig::Mysql(m) = &mysql.pipelines[0].source else { panic!() };
        assert_eq!((m.server_id, m.snapshot_chunk_rows, m.flavor), (4_000_000_001, 10_000, MysqlFlavor::Auto));
        let mongo = parse_block(&blocks[1]);
        let SourceConfig::Mongodb(m) = &mongo.pipelines[0].source else { panic!() };
        assert_eq!(m.db.tables, ["shop.orders", "shop.*"]);
        assert_eq!((m.full_document, m.on_invalidate), (FullDocument::UpdateLookup, OnInvalidate::Stop));
        assert_eq!((m.snapshot_chunk_docs, m.max_await), (10_000, Duration::from_secs(1)));
        let cfg = parse_block(&blocks[2]);
        let SourceConfig::Generate(g) = &cfg.pipelines[0].source else {
            panic!()
        };
        assert_eq!(g.total, Some(100_000));
        assert_eq!(g.rate, Some(5000));
        assert_eq!(
            (g.tables, g.keys, g.tx_size, g.row_bytes),
            (4, 10_000, 10, 64)
        );
        assert_eq!((g.update_pct, g.delete_pct, g.seed), (30, 10, 1));
        // And every commented-out target block is a valid target.
        let targets: Vec<String> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| **l == "# [[pipeline.target]]")
            .map(|(i, _)| lines[i..].iter().take_while(|l| l.starts_with('#')).map(|l| format!("{}\n", l.trim_start_matches('#'))).collect())
            .collect();
        assert_eq!(targets.len(), 2, "the mysql and mongodb target examples");
        let kinds: Vec<&str> = targets
            .iter()
            .map(|block| {
                let text = format!("[[pipeline]]\nname = \"p\"\n{}{block}", blocks[2]);
                let cfg = Config::parse(&text, Path::new("config/example.toml"), &env).unwrap();
                match &cfg.pipelines[0].targets[0] {
                    TargetConfig::Mysql(_) => "mysql",
                    TargetConfig::Mongodb(t) => {
                        assert_eq!((t.database.as_deref(), t.transaction), (Some("shop_replica"), false));
                        "mongodb"
                    }
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        assert_eq!(kinds, ["mysql", "mongodb"]);
    }

    #[test]
    fn demo_generate_file_parses() {
        let text = include_str!("../../../config/demo-generate.toml");
        let cfg = Config::parse(text, Path::new("config/demo-generate.toml"), &|_| None).unwrap();
        assert_eq!(cfg.state_dir, Path::new("config/../.tmp/demo/state"));
        let p = &cfg.pipelines[0];
        let SourceConfig::Generate(g) = &p.source else {
            panic!("{:?}", p.source)
        };
        assert_eq!(g.total, Some(20_000));
        assert_eq!((g.tables, g.keys, g.tx_size, g.seed), (3, 500, 20, 7));
        assert_eq!(
            (g.row_bytes, g.update_pct, g.delete_pct, g.rate),
            (64, 30, 10, None)
        );
        let TargetConfig::File(file) = &p.targets[0] else {
            panic!("{:?}", p.targets)
        };
        assert_eq!(file.path, Path::new("config/../.tmp/demo/changes.jsonl"));
    }

    #[test]
    fn defaults() {
        let cfg = parse(&format!("{SOURCE}{STDOUT}")).unwrap();
        assert_eq!(cfg.state_dir, Path::new("config/.logferry"));
        assert!(cfg.admin.is_none());
        let p = &cfg.pipelines[0];
        assert_eq!(
            format!("{:?}", p.apply),
            format!("{:?}", ApplyConfig::default())
        );
        let SourceConfig::Generate(g) = &parse(&with_source("kind = \"generate\""))
            .unwrap()
            .pipelines[0]
            .source
        else {
            panic!()
        };
        assert_eq!(g.total, None);
        assert_eq!(
            (g.tables, g.keys, g.tx_size, g.row_bytes),
            (4, 10_000, 10, 64)
        );
        assert_eq!(
            (g.update_pct, g.delete_pct, g.rate, g.seed),
            (30, 10, None, 1)
        );
    }

    #[test]
    fn max_retries_is_unlimited_by_default_or_a_count() {
        let cfg = parse(&with_apply("lanes = 1")).unwrap();
        assert_eq!(cfg.pipelines[0].apply.max_retries, None);
        let cfg = parse(&with_apply("max_retries = \"unlimited\"")).unwrap();
        assert_eq!(cfg.pipelines[0].apply.max_retries, None);
        for (text, want) in [("0", 0), ("10", 10), ("4294967295", u32::MAX)] {
            let cfg = parse(&with_apply(&format!("max_retries = {text}"))).unwrap();
            assert_eq!(cfg.pipelines[0].apply.max_retries, Some(want), "{text}");
        }
        for (text, found) in [
            ("-1", "found -1;"),
            ("4294967296", "found 4294967296;"),
            ("\"forever\"", "found \"forever\";"),
            ("\"10\"", "found \"10\";"),
        ] {
            let (key, message) = invalid(&with_apply(&format!("max_retries = {text}")));
            assert_eq!(key, "pipeline[shop].apply.max_retries");
            assert!(message.starts_with(found), "{text}: {message}");
            assert!(message.contains("expected \"unlimited\""), "{message}");
        }
        let e = error(&with_apply("max_retries = 1.5"));
        assert!(e.contains("`pipeline[shop].apply.max_retries`"), "{e}");
        assert!(e.contains("\"unlimited\" or a number of retries"), "{e}");
    }

    #[test]
    fn every_apply_option_is_read() {
        let cfg = parse(&with_apply(
            r#"lanes = 3
batch_max_rows = 50
batch_max_wait = "1.5s"
ordering = "key"
queue_max_records = 500
queue_max_bytes = "10MB"
max_retries = 2
retry_backoff = "250us"
retry_max_backoff = "2m"
checkpoint_interval = "1h""#,
        ))
        .unwrap();
        let a = &cfg.pipelines[0].apply;
        assert_eq!(
            (a.lanes, a.batch_max_rows, a.queue_max_records),
            (3, 50, 500)
        );
        assert_eq!(a.batch_max_wait, Duration::from_millis(1500));
        assert_eq!(a.ordering, Ordering::Key);
        assert_eq!(a.queue_max_bytes, 10_000_000);
        assert_eq!(a.max_retries, Some(2));
        assert_eq!(a.retry_backoff, Duration::from_micros(250));
        assert_eq!(a.retry_max_backoff, Duration::from_secs(120));
        assert_eq!(a.checkpoint_interval, Duration::from_secs(3600));
    }

    #[test]
    fn on_error_is_read_and_checked() {
        let example = include_str!("../../../config/example.toml");
        let cfg = Config::parse(example, Path::new("config/example.toml"), &env).unwrap();
        assert_eq!(cfg.pipelines[0].on_error, OnError::Stop);
        let cfg = parse(&format!("{SOURCE}{STDOUT}")).unwrap();
        assert_eq!(cfg.pipelines[0].on_error, OnError::Stop, "the default");
        let with = |line: &str| SOURCE.replace("name = \"shop\"\n", &format!("name = \"shop\"\n{line}\n")) + STDOUT;
        let cfg = parse(&with("on_error = \"dead_letter\"")).unwrap();
        assert_eq!(cfg.pipelines[0].on_error, OnError::DeadLetter);
        let e = error(&with("on_error = \"skip\""));
        assert!(e.contains("`pipeline[shop].on_error`"), "{e}");
        assert!(e.contains("expected `stop` or `dead_letter`"), "{e}");
        let e = error(&with("on_error = true"));
        assert!(e.contains("`pipeline[shop].on_error`"), "{e}");
        let e = error(&with_apply("on_error = \"dead_letter\""));
        assert!(e.contains("`pipeline[shop].apply.on_error`") && e.contains("unknown field"), "a pipeline key, not an apply key: {e}");
    }

    #[test]
    fn spool_is_off_unless_its_table_is_given_and_its_bound_is_checked() {
        let cfg = parse(&format!("{SOURCE}{STDOUT}")).unwrap();
        assert_eq!(cfg.pipelines[0].spool, None, "off by default");
        let with = |body: &str| format!("{SOURCE}{STDOUT}[pipeline.spool]\n{body}\n");
        let cfg = parse(&with("")).unwrap();
        assert_eq!(cfg.pipelines[0].spool, Some(SpoolConfig { max_bytes: 1 << 30 }));
        let cfg = parse(&with("max_bytes = \"256MiB\"")).unwrap();
        assert_eq!(cfg.pipelines[0].spool, Some(SpoolConfig { max_bytes: 256 << 20 }));
        let e = error(&with("max_bytes = 0"));
        assert!(e.contains("`pipeline[shop].spool.max_bytes`") && e.contains("more than 0"), "{e}");
        let e = error(&with("max_bytes = \"lots\""));
        assert!(e.contains("`pipeline[shop].spool.max_bytes`"), "{e}");
        let e = error(&with("dir = \"/tmp\""));
        assert!(e.contains("spool") && e.contains("unknown field"), "{e}");
    }

    #[test]
    fn transaction_ordering_forces_one_lane() {
        let cfg = parse(&with_apply("lanes = 16\nordering = \"transaction\"")).unwrap();
        assert_eq!(cfg.pipelines[0].apply.ordering, Ordering::Transaction);
        assert_eq!(cfg.pipelines[0].apply.lanes, 1);
    }

    #[test]
    fn other_source_kinds() {
        let cfg = parse(&with_source(
            "kind = \"mysql\"\nurl = \"mariadb://root@127.0.0.1/shop\"\ntables = [\"shop.*\"]\n\
             snapshot = \"never\"",
        ))
        .unwrap();
        let SourceConfig::Mysql(s) = &cfg.pipelines[0].source else {
            panic!()
        };
        assert_eq!(s.db.snapshot, SnapshotMode::Never);
        assert_eq!((s.flavor, s.server_id, s.snapshot_chunk_rows), (MysqlFlavor::Auto, 4_000_000_001, 10_000));
        let e = invalid(&with_source(
            "kind = \"mysql\"\nurl = \"mysql://h/shop\"\ntables = [\"shop.*\"]\nserver_id = 0",
        ));
        assert_eq!(e.0, "pipeline[shop].source.server_id");
        for (key, scheme) in [("tables", "mongodb"), ("collections", "mongodb")] {
            let cfg = parse(&with_source(&format!(
                "kind = \"mongodb\"\nurl = \"{scheme}://h/\"\n{key} = [\"shop.orders\"]"
            )))
            .unwrap();
            let SourceConfig::Mongodb(s) = &cfg.pipelines[0].source else {
                panic!()
            };
            assert_eq!(s.db.tables, ["shop.orders"]);
            assert_eq!(cfg.pipelines[0].source.kind(), "mongodb");
        }
        let (key, message) = invalid(&with_source(
            "kind = \"mongodb\"\nurl = \"mongodb://h/\"\ntables = [\"a.b\"]\ncollections = [\"a.b\"]",
        ));
        assert_eq!(key, "pipeline[shop].source.collections");
        assert!(
            message.contains("both `tables` and `collections`"),
            "{message}"
        );
        let (key, _) = invalid(&with_source("kind = \"mongodb\"\nurl = \"mongodb://h/\""));
        assert_eq!(key, "pipeline[shop].source.collections");
    }

    #[test]
    fn protobuf_file_target() {
        let cfg = parse(&with_targets(
            "[[pipeline.target]]\nkind = \"file\"\npath = \"/abs/out.pb\"\nformat = \"protobuf\"",
        ))
        .unwrap();
        let TargetConfig::File(f) = &cfg.pipelines[0].targets[0] else {
            panic!()
        };
        assert_eq!(f.path, Path::new("/abs/out.pb"));
        assert_eq!(f.format, RecordFormat::Protobuf);
    }

    #[test]
    fn relative_paths_resolve_against_the_config_folder() {
        let text = format!(
            "state_dir = \"state\"\n{SOURCE}[[pipeline.target]]\nkind = \"file\"\n\
             path = \"./out/../x.jsonl\"\n"
        );
        let cfg = Config::parse(&text, Path::new("/etc/logferry/main.toml"), &env).unwrap();
        assert_eq!(cfg.state_dir, Path::new("/etc/logferry/state"));
        let TargetConfig::File(f) = &cfg.pipelines[0].targets[0] else {
            panic!()
        };
        assert_eq!(f.path, Path::new("/etc/logferry/out/../x.jsonl"));
        // A file in the current folder: paths stay relative to it.
        let cfg = Config::parse(&text, Path::new("main.toml"), &env).unwrap();
        assert_eq!(cfg.state_dir, Path::new("state"));
        let cfg = Config::parse(
            &format!("state_dir = \"/var/lib/logferry\"\n{SOURCE}{STDOUT}"),
            Path::new("/etc/x.toml"),
            &env,
        )
        .unwrap();
        assert_eq!(cfg.state_dir, Path::new("/var/lib/logferry"));
    }

    #[test]
    fn unknown_key_names_it_and_the_allowed_ones() {
        let e = error(&with_apply("lanez = 8"));
        assert!(e.contains("`pipeline[shop].apply.lanez`"), "{e}");
        assert!(e.contains("unknown field `lanez`"), "{e}");
        assert!(e.contains("`lanes`"), "{e}");
        assert!(e.contains("line "), "{e}");

        let e = error(&format!("stat_dir = \"x\"\n{SOURCE}{STDOUT}"));
        assert!(e.contains("`stat_dir`") && e.contains("`state_dir`"), "{e}");

        // Each kind lists its own keys.
        let e = error(&with_source("kind = \"generate\"\nurl = \"postgres://h\""));
        assert!(e.contains("`pipeline[shop].source.url`"), "{e}");
        assert!(
            e.contains("unknown field `url`") && e.contains("`tx_size`"),
            "{e}"
        );
        let e = error(&with_source("kind = \"generate\"\nsnapshot = \"never\""));
        assert!(e.contains("unknown field `snapshot`"), "{e}");
        let e = error(&with_source(
            "kind = \"postgres\"\nurl = \"postgres://h\"\ntables = [\"a\"]\ntotal = 5",
        ));
        assert!(
            e.contains("unknown field `total`") && e.contains("`tables`"),
            "{e}"
        );
        let e = error(&with_targets(
            "[[pipeline.target]]\nkind = \"stdout\"\npath = \"x\"",
        ));
        assert!(e.contains("`pipeline[shop].target[0].path`"), "{e}");
        assert!(
            e.contains("unknown field `path`, expected `kind` or `format`"),
            "{e}"
        );
    }

    #[test]
    fn wrong_types_name_the_key_and_what_is_expected() {
        let e = error(&with_source("kind = \"generate\"\ntables = [\"public.*\"]"));
        assert!(e.contains("`pipeline[shop].source.tables`"), "{e}");
        assert!(e.contains("expected a non-negative integer"), "{e}");
        let e = error(&with_apply("lanes = \"8\""));
        assert!(e.contains("`pipeline[shop].apply.lanes`"), "{e}");
        assert!(
            e.contains("invalid type: string \"8\", expected an integer"),
            "{e}"
        );
        let e = error(&with_source("kind = \"generate\"\nupdate_pct = 300"));
        assert!(e.contains("`pipeline[shop].source.update_pct`"), "{e}");
        let e = error("state_dir = 3\n");
        assert!(
            e.contains("`state_dir`") && e.contains("expected a string"),
            "{e}"
        );
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let e = error("state_dir = \"x\n");
        assert!(e.contains("line 1, column"), "{e}");
    }

    #[test]
    fn unknown_enum_values_name_the_allowed_ones() {
        let e = error(&with_source("kind = \"oracle\""));
        assert!(e.contains("`pipeline[shop].source.kind`"), "{e}");
        assert!(
            e.contains("`postgres`, `mysql`, `mongodb`, `generate`"),
            "{e}"
        );
        let e = error(&with_source("url = \"postgres://h\""));
        assert!(e.contains("missing field `kind`"), "{e}");
        let e = error(&format!("{SOURCE}[[pipeline.target]]\nkind = \"kafka\""));
        assert!(e.contains("`pipeline[shop].target[0].kind`"), "{e}");
        assert!(e.contains("expected one of `file`, `stdout`, `postgres`, `mysql`"), "{e}");
        let e = error(&with_source(
            "kind = \"postgres\"\nurl = \"postgres://h\"\ntables = [\"a\"]\nsnapshot = \"always\"",
        ));
        assert!(e.contains("`pipeline[shop].source.snapshot`"), "{e}");
        assert!(e.contains("expected `initial` or `never`"), "{e}");
        let e = error(&with_apply("ordering = \"row\""));
        assert!(e.contains("`pipeline[shop].apply.ordering`"), "{e}");
        assert!(e.contains("expected `key` or `transaction`"), "{e}");
        let e = error(&with_targets(
            "[[pipeline.target]]\nkind = \"stdout\"\nformat = \"xml\"",
        ));
        assert!(e.contains("`pipeline[shop].target[0].format`"), "{e}");
        assert!(e.contains("expected `json` or `protobuf`"), "{e}");
    }

    #[test]
    fn missing_env_var_names_key_and_variable() {
        let text = SOURCE.replace("${PGPASSWORD}", "${PGPASSWORD_SHOP}");
        let e = error(&format!("{text}{STDOUT}"));
        assert_eq!(
            e,
            "config/shop.toml: `pipeline[shop].source.url`: environment variable \
             PGPASSWORD_SHOP is not set (referenced as ${PGPASSWORD_SHOP}); export it or put \
             the value in the file"
        );
        let (key, message) = invalid(
            &format!("{SOURCE}{STDOUT}[pipeline.apply]\nlanes = 1\n").replace(
                "tables = [\"public.*\"]",
                "tables = [\"public.a\", \"${TABLE}\"]",
            ),
        );
        assert_eq!(key, "pipeline[shop].source.tables[1]");
        assert!(message.contains("TABLE is not set"), "{message}");
        let (key, _) = invalid(&format!(
            "[admin]\nlisten = \"${{LISTEN}}\"\n{SOURCE}{STDOUT}"
        ));
        assert_eq!(key, "admin.listen");
    }

    #[test]
    fn interpolation() {
        let text = format!(
            "state_dir = \"/x/$${{HOME}}/$$/a$b/${{EMPTY}}/${{SHOP}}\"\n{}{STDOUT}",
            SOURCE.replace("name = \"shop\"", "name = \"${SHOP}\"")
        );
        let cfg = parse(&text).unwrap();
        assert_eq!(cfg.state_dir, Path::new("/x/${HOME}/$$/a$b//shop"));
        assert_eq!(cfg.pipelines[0].name, "shop");
        // Keys use the substituted name.
        let text = with_apply("lanes = 0").replace("name = \"shop\"", "name = \"${SHOP}\"");
        assert_eq!(invalid(&text).0, "pipeline[shop].apply.lanes");
        // A substituted value is not scanned again.
        let cfg = Config::parse(
            &format!("state_dir = \"/${{A}}\"\n{SOURCE}{STDOUT}"),
            Path::new(PATH),
            &|n| match n {
                "A" => Some("${B}".to_owned()),
                "PGPASSWORD" => Some("pw".to_owned()),
                _ => None,
            },
        )
        .unwrap();
        assert_eq!(cfg.state_dir, Path::new("/${B}"));
    }

    #[test]
    fn bad_references() {
        let (key, message) = invalid(&format!("state_dir = \"/a/${{HOME\"\n{SOURCE}{STDOUT}"));
        assert_eq!(key, "state_dir");
        assert!(
            message.contains("unterminated `${`") && message.contains("$${"),
            "{message}"
        );
        let (_, message) = invalid(&format!("state_dir = \"${{}}\"\n{SOURCE}{STDOUT}"));
        assert!(message.contains("not a valid reference"), "{message}");
        let (_, message) = invalid(&format!("state_dir = \"${{A-B}}\"\n{SOURCE}{STDOUT}"));
        assert!(message.contains("not a valid reference"), "{message}");
    }

    #[test]
    fn bad_durations_name_the_key_and_the_form() {
        for (value, found) in [
            ("\"20\"", "\"20\", a number without a unit"),
            ("20", "20, a number without a unit"),
            ("1.5", "1.5, a number without a unit"),
            ("\"-5ms\"", "\"-5ms\""),
            ("\"\"", "\"\""),
            ("\"5 fortnights\"", "\"5 fortnights\""),
            ("\"ms\"", "\"ms\""),
            ("\"1.2.3s\"", "\"1.2.3s\""),
        ] {
            let (key, message) = invalid(&with_apply(&format!("batch_max_wait = {value}")));
            assert_eq!(key, "pipeline[shop].apply.batch_max_wait");
            assert_eq!(
                message,
                format!(
                    "found {found}; expected a duration like \"20ms\" or \"5s\" \
                     (units: us, ms, s, m, h)"
                )
            );
        }
        let (key, message) = invalid(&with_apply("retry_backoff = \"0s\""));
        assert_eq!(key, "pipeline[shop].apply.retry_backoff");
        assert!(message.contains("expected more than 0"), "{message}");
        let (key, _) = invalid(&with_apply(
            "retry_backoff = \"1m\"\nretry_max_backoff = \"5s\"",
        ));
        assert_eq!(key, "pipeline[shop].apply.retry_max_backoff");
        let e = error(&with_apply("checkpoint_interval = true"));
        assert!(
            e.contains("`pipeline[shop].apply.checkpoint_interval`"),
            "{e}"
        );
        assert!(e.contains("a string with a unit"), "{e}");
    }

    #[test]
    fn durations() {
        let d = |s: &str| parse_duration(&Quantity::Text(s.to_owned()));
        assert_eq!(d("20ms"), Ok(Duration::from_millis(20)));
        assert_eq!(d("0ms"), Ok(Duration::ZERO));
        assert_eq!(d("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(d(" 3 s "), Ok(Duration::from_secs(3)));
        assert_eq!(d("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(d(".5m"), Ok(Duration::from_secs(30)));
        assert_eq!(d("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(d("0.000000001s"), Ok(Duration::from_nanos(1)));
        for bad in [
            "",
            "s",
            "20",
            "-1s",
            "1e3ms",
            "20 MS",
            "1,5s",
            "99999999999999999999h",
        ] {
            assert!(d(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes() {
        let s = |t: &str| parse_size(&Quantity::Text(t.to_owned()));
        assert_eq!(s("512KiB"), Ok(512 << 10));
        assert_eq!(s("64MiB"), Ok(64 << 20));
        assert_eq!(s("1GiB"), Ok(1 << 30));
        assert_eq!(s("10MB"), Ok(10_000_000));
        assert_eq!(s("1.5KiB"), Ok(1536));
        assert_eq!(s("100B"), Ok(100));
        assert_eq!(s("2 kb"), Ok(2000));
        assert_eq!(parse_size(&Quantity::Integer(65536)), Ok(65536));
        for bad in ["", "MiB", "1000", "-1MiB", "1 parsec"] {
            assert!(s(bad).is_err(), "{bad:?}");
        }
        assert!(parse_size(&Quantity::Integer(-1)).is_err());
        assert!(parse_size(&Quantity::Float(1.5)).is_err());

        let cfg = parse(&with_apply("queue_max_bytes = 4096")).unwrap();
        assert_eq!(cfg.pipelines[0].apply.queue_max_bytes, 4096);
        let (key, message) = invalid(&with_apply("queue_max_bytes = \"64\""));
        assert_eq!(key, "pipeline[shop].apply.queue_max_bytes");
        assert!(message.contains("a number without a unit"), "{message}");
        assert!(message.contains("\"64MiB\""), "{message}");
        let (_, message) = invalid(&with_apply("queue_max_bytes = 0"));
        assert!(message.contains("more than 0"), "{message}");
    }

    #[test]
    fn apply_ranges() {
        for (line, key, text) in [
            (
                "lanes = 0",
                "lanes",
                "found 0; expected 1 to 1024 (default 8)",
            ),
            (
                "lanes = 1025",
                "lanes",
                "found 1025; expected 1 to 1024 (default 8)",
            ),
            (
                "lanes = -1",
                "lanes",
                "found -1; expected 1 to 1024 (default 8)",
            ),
            (
                "batch_max_rows = 0",
                "batch_max_rows",
                "found 0; expected at least 1",
            ),
            (
                "batch_max_rows = 500\nqueue_max_records = 100",
                "queue_max_records",
                "found 100, less than batch_max_rows (500)",
            ),
            (
                "batch_max_rows = 200000",
                "queue_max_records",
                "found 100000, less than batch_max_rows (200000)",
            ),
            ("queue_max_records = -5", "queue_max_records", "found -5"),
        ] {
            let (k, message) = invalid(&with_apply(line));
            assert_eq!(k, format!("pipeline[shop].apply.{key}"), "{line}");
            assert!(message.contains(text), "{line}: {message}");
        }
        let e = error(&with_apply("lanes = 0"));
        assert_eq!(
            e,
            "config/shop.toml: `pipeline[shop].apply.lanes`: found 0; expected 1 to 1024 \
             (default 8)"
        );
        assert!(parse(&with_apply(
            "lanes = 1024\nbatch_max_rows = 1\nqueue_max_records = 1"
        ))
        .is_ok());
    }

    #[test]
    fn pipelines_and_targets_are_required() {
        let (key, message) = invalid("state_dir = \"x\"\n");
        assert_eq!(key, "pipeline");
        assert!(message.contains("at least one [[pipeline]]"), "{message}");
        let (key, message) = invalid(SOURCE);
        assert_eq!(key, "pipeline[shop].target");
        assert!(message.contains("no target") && message.contains("[[pipeline.target]]"));
        let (key, message) = invalid(&format!("{SOURCE}[pipeline.target]\nkind = \"stdout\"\n"));
        assert_eq!(key, "pipeline[shop].target");
        assert!(message.contains("double brackets"), "{message}");
        let (key, message) = invalid(&format!("[[pipeline]]\nname = \"shop\"\n{STDOUT}"));
        assert_eq!(key, "pipeline[shop].source");
        assert!(message.contains("no source"), "{message}");
        let e = error("[[pipeline]]\n[pipeline.source]\nkind = \"generate\"\n");
        assert!(e.contains("missing field `name`"), "{e}");
    }

    #[test]
    fn pipeline_names() {
        let two = format!("{SOURCE}{STDOUT}{SOURCE}{STDOUT}");
        let (key, message) = invalid(&two);
        assert_eq!(key, "pipeline[shop].name");
        assert!(message.contains("used by pipelines #1 and #2"), "{message}");
        let two = format!(
            "{SOURCE}{STDOUT}{}{STDOUT}",
            SOURCE.replace("\"shop\"", "\"shop-2\"")
        );
        assert_eq!(parse(&two).unwrap().pipelines.len(), 2);
        for bad in ["", "shop orders", "shop.x", "ä"] {
            let (key, message) = invalid(&format!(
                "{SOURCE}{STDOUT}",
                SOURCE = SOURCE.replace("\"shop\"", &format!("{bad:?}"))
            ));
            assert_eq!(key, "pipeline[0].name");
            assert!(
                message.contains("letters, digits, `_` and `-`"),
                "{message}"
            );
        }
    }

    #[test]
    fn duplicate_file_target_path() {
        let (key, message) = invalid(&with_targets(
            "[[pipeline.target]]\nkind = \"file\"\npath = \"out/a.jsonl\"\n\
             [[pipeline.target]]\nkind = \"stdout\"\n\
             [[pipeline.target]]\nkind = \"file\"\npath = \"./out/a.jsonl\"\nformat = \"protobuf\"",
        ));
        assert_eq!(key, "pipeline[shop].target[2].path");
        assert!(
            message.contains("config/out/a.jsonl is also the path of target[0]"),
            "{message}"
        );
        // The same file in two pipelines is not this check's business.
        let text = format!(
            "{SOURCE}[[pipeline.target]]\nkind = \"file\"\npath = \"a\"\n{}\
             [[pipeline.target]]\nkind = \"file\"\npath = \"b\"\n",
            SOURCE.replace("\"shop\"", "\"other\"")
        );
        assert!(parse(&text).is_ok());
        let (key, _) = invalid(&with_targets(
            "[[pipeline.target]]\nkind = \"file\"\npath = \"\"",
        ));
        assert_eq!(key, "pipeline[shop].target[0].path");
        let e = error(&with_targets("[[pipeline.target]]\nkind = \"file\""));
        assert!(e.contains("missing field `path`"), "{e}");
    }

    #[test]
    fn stdout_refuses_protobuf() {
        let (key, message) = invalid(&with_targets(
            "[[pipeline.target]]\nkind = \"stdout\"\nformat = \"protobuf\"",
        ));
        assert_eq!(key, "pipeline[shop].target[0].format");
        assert!(
            message.contains("binary on a terminal; use a file target"),
            "{message}"
        );
    }

    #[test]
    fn admin_listen() {
        let cfg = parse(&format!(
            "[admin]\nlisten = \"[::1]:9187\"\n{SOURCE}{STDOUT}"
        ))
        .unwrap();
        assert_eq!(cfg.admin.unwrap().listen.port(), 9187);
        for bad in ["localhost", "127.0.0.1", "127.0.0.1:99999", ":9187", ""] {
            let (key, message) = invalid(&format!("[admin]\nlisten = {bad:?}\n{SOURCE}{STDOUT}"));
            assert_eq!(key, "admin.listen");
            assert!(message.contains("\"127.0.0.1:9187\""), "{message}");
        }
        let e = error(&format!("[admin]\n{SOURCE}{STDOUT}"));
        assert!(e.contains("missing field `listen`"), "{e}");
    }

    #[test]
    fn url_scheme_must_match_kind() {
        for (kind, url, expected) in [
            (
                "postgres",
                "mysql://u:${PGPASSWORD}@h/db",
                "postgres:// or postgresql://; found mysql://",
            ),
            (
                "mysql",
                "postgres://u:${PGPASSWORD}@h/db",
                "mysql:// or mariadb://; found postgres://",
            ),
            (
                "mongodb",
                "mongo://u:${PGPASSWORD}@h/db",
                "mongodb:// or mongodb+srv://; found mongo://",
            ),
            ("postgres", "u:${PGPASSWORD}@h/db", "is not a URL"),
            // Scrubbed even where it looks like a scheme.
            ("postgres", "${PGPASSWORD}://h/db", "found ***://"),
        ] {
            let (key, message) = invalid(&with_source(&format!(
                "kind = \"{kind}\"\nurl = \"{url}\"\ntables = [\"a\"]"
            )));
            assert_eq!(key, "pipeline[shop].source.url");
            assert!(message.contains(expected), "{message}");
        }
        for (kind, url) in [
            ("postgres", "postgresql://h/db"),
            ("mysql", "mysql://h/db"),
            ("mongodb", "mongodb://h1,h2/db?replicaSet=rs0"),
        ] {
            parse(&with_source(&format!(
                "kind = \"{kind}\"\nurl = \"{url}\"\ntables = [\"a\"]"
            )))
            .unwrap();
        }
        let (key, message) = invalid(&with_source("kind = \"mongodb\"\nurl = \"mongodb+srv://c.example.net/db\"\ntables = [\"a.b\"]"));
        assert_eq!(key, "pipeline[shop].source.url");
        assert!(message.contains("list the hosts instead"), "{message}");
        let e = error(&with_source("kind = \"postgres\"\ntables = [\"a\"]"));
        assert!(e.contains("missing field `url`"), "{e}");
    }

    #[test]
    fn tables_must_not_be_empty() {
        let (key, message) = invalid(&with_source(
            "kind = \"postgres\"\nurl = \"postgres://h\"\ntables = []",
        ));
        assert_eq!(key, "pipeline[shop].source.tables");
        assert!(message.contains("the list is empty"), "{message}");
        let (key, _) = invalid(&with_source(
            "kind = \"mongodb\"\nurl = \"mongodb://h\"\ncollections = [\"a.b\", \"\"]",
        ));
        assert_eq!(key, "pipeline[shop].source.collections[1]");
        let e = error(&with_source("kind = \"mysql\"\nurl = \"mysql://h\""));
        assert!(e.contains("missing field `tables`"), "{e}");
    }

    #[test]
    fn generate_ranges() {
        let g = |lines: &str| invalid(&with_source(&format!("kind = \"generate\"\n{lines}")));
        let (key, message) = g("update_pct = 70\ndelete_pct = 40");
        assert_eq!(key, "pipeline[shop].source.delete_pct");
        assert!(
            message.contains("70 + 40 = 110; expected at most 100"),
            "{message}"
        );
        let (key, message) = g("update_pct = 150\ndelete_pct = 0");
        assert_eq!(key, "pipeline[shop].source.update_pct");
        assert!(
            message.contains("found 150; expected a percentage from 0 to 100"),
            "{message}"
        );
        for key in ["tables", "keys", "tx_size", "total", "rate"] {
            assert_eq!(
                g(&format!("{key} = 0")).0,
                format!("pipeline[shop].source.{key}")
            );
        }
        assert!(parse(&with_source(
            "kind = \"generate\"\nupdate_pct = 100\ndelete_pct = 0"
        ))
        .is_ok());
    }

    #[test]
    fn secrets_stay_out_of_debug_and_errors() {
        let cfg = parse(&format!("{SOURCE}{STDOUT}")).unwrap();
        let debug = format!("{cfg:?}");
        assert!(!debug.contains(PASSWORD), "{debug}");
        assert!(debug.contains("db.internal:5432"), "{debug}");
        assert!(
            debug.contains("postgres://logferry:***@db.internal:5432/shop"),
            "{debug}"
        );
        let pretty = format!("{cfg:#?}");
        assert!(!pretty.contains(PASSWORD), "{pretty}");

        // A value once substituted into a secret key is scrubbed from serde's
        // messages, wherever else it shows up.
        let e = error(&with_apply("ordering = \"${PGPASSWORD}\""));
        assert!(e.contains("unknown variant `***`"), "{e}");
        // Unknown secret-looking keys: named, never quoted.
        let e = error(&with_source(
            "kind = \"postgres\"\nurl = \"postgres://h\"\ntables = [\"a\"]\npassword = \"${PGPASSWORD}\"",
        ));
        assert!(e.contains("unknown field `password`"), "{e}");
    }
}
