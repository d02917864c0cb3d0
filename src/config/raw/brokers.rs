//! `kind = "kafka" | "nats" | "http"` targets and the `kafka` source as
//! written, and their checks.
use super::*;
use super::targets::{record_format, RawFormat};
use crate::config::{ClientOptions, Envelope, HttpTargetConfig, KafkaSourceConfig, KafkaTargetConfig, NatsTargetConfig};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawEnvelope {
    Logferry,
    Debezium,
}

/// A client option's value: written as a string, number or bool.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawOption {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKafkaTarget {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    pub(super) tables: Option<Vec<String>>,
    brokers: String,
    topic: Option<String>,
    format: Option<RawFormat>,
    envelope: Option<RawEnvelope>,
    #[serde(default)]
    options: BTreeMap<String, RawOption>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKafkaSource {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    brokers: String,
    topics: Vec<String>,
    group: Option<String>,
    format: Option<RawFormat>,
    envelope: Option<RawEnvelope>,
    #[serde(default)]
    options: BTreeMap<String, RawOption>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNatsTarget {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    pub(super) tables: Option<Vec<String>>,
    url: String,
    subject: Option<String>,
    stream: Option<String>,
    format: Option<RawFormat>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttpTarget {
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    pub(super) tables: Option<Vec<String>>,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    batch_max_rows: Option<i64>,
    timeout: Option<Quantity>,
    envelope: Option<RawEnvelope>,
}

fn envelope(raw: Option<RawEnvelope>) -> Envelope {
    match raw {
        None | Some(RawEnvelope::Logferry) => Envelope::Logferry,
        Some(RawEnvelope::Debezium) => Envelope::Debezium,
    }
}

/// Debezium's envelope is JSON: refuse it with `protobuf`.
fn envelope_and_format(key: &str, env: Option<RawEnvelope>, format: Option<RawFormat>) -> Result<(Envelope, RecordFormat), Invalid> {
    let (env, format) = (envelope(env), record_format(format));
    if env == Envelope::Debezium && format == RecordFormat::Protobuf {
        return Err(invalid(
            format!("{key}.envelope"),
            "\"debezium\" events are JSON; expected format = \"json\" with it (or envelope = \"logferry\" for protobuf)",
        ));
    }
    Ok((env, format))
}

fn options(raw: BTreeMap<String, RawOption>) -> ClientOptions {
    raw.into_iter()
        .map(|(k, v)| {
            let v = match v {
                RawOption::Text(s) => s,
                RawOption::Int(i) => i.to_string(),
                RawOption::Float(f) => f.to_string(),
                RawOption::Bool(b) => b.to_string(),
            };
            (k, Secret::new(v))
        })
        .collect()
}

/// `host:port[,host:port…]`.
fn brokers(key: &str, raw: &str) -> Result<String, Invalid> {
    let list: Vec<&str> = raw.split(',').map(str::trim).collect();
    let bad = list.iter().find(|b| match b.rsplit_once(':') {
        Some((host, port)) => host.is_empty() || port.parse::<u16>().is_err(),
        None => true,
    });
    match bad {
        Some(b) => Err(invalid(
            key,
            format!("{b:?} is not host:port; expected a comma-separated bootstrap list like \"127.0.0.1:9092,10.0.0.2:9092\""),
        )),
        None => Ok(list.join(",")),
    }
}

/// A topic or subject template: only the known placeholders.
fn template(key: &str, raw: Option<String>, default: &str) -> Result<String, Invalid> {
    let t = raw.unwrap_or_else(|| default.to_string());
    if t.trim().is_empty() {
        return Err(invalid(key, format!("is empty; expected a template like {default:?}")));
    }
    let mut rest = t.as_str();
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return Err(invalid(key, format!("{t:?} has an unclosed `{{`")));
        };
        let name = &rest[open + 1..open + close];
        if !matches!(name, "pipeline" | "schema" | "database" | "table") {
            return Err(invalid(
                key,
                format!("{t:?} uses {{{name}}}; expected only {{pipeline}}, {{schema}}, {{database}} and {{table}}"),
            ));
        }
        rest = &rest[open + close + 1..];
    }
    Ok(t)
}

impl RawKafkaTarget {
    pub(super) fn validate(self, key: &str) -> Result<TargetConfig, Invalid> {
        let (envelope, format) = envelope_and_format(key, self.envelope, self.format)?;
        Ok(TargetConfig::Kafka(KafkaTargetConfig {
            brokers: brokers(&format!("{key}.brokers"), &self.brokers)?,
            topic: template(&format!("{key}.topic"), self.topic, KafkaTargetConfig::DEFAULT_TOPIC)?,
            format,
            envelope,
            options: options(self.options),
        }))
    }
}

impl RawKafkaSource {
    pub(super) fn validate(self, key: &str, pipeline: &str) -> Result<SourceConfig, Invalid> {
        let (envelope, format) = envelope_and_format(key, self.envelope, self.format)?;
        if self.topics.is_empty() || self.topics.iter().any(|t| t.trim().is_empty()) {
            return Err(invalid(
                format!("{key}.topics"),
                "expected topic names or globs, at least one, none empty, e.g. [\"shop.public.orders\"]",
            ));
        }
        let group = self.group.unwrap_or_else(|| format!("logferry-{pipeline}"));
        if group.trim().is_empty() {
            return Err(invalid(format!("{key}.group"), "is empty; expected a consumer group name (default logferry-<pipeline>)"));
        }
        Ok(SourceConfig::Kafka(KafkaSourceConfig {
            brokers: brokers(&format!("{key}.brokers"), &self.brokers)?,
            topics: self.topics,
            group,
            format,
            envelope,
            options: options(self.options),
        }))
    }
}

impl RawNatsTarget {
    pub(super) fn validate(self, key: &str) -> Result<TargetConfig, Invalid> {
        let stream = self.stream.unwrap_or_else(|| NatsTargetConfig::DEFAULT_STREAM.to_string());
        if stream.is_empty() || stream.contains(['.', '*', '>', ' ', '/', '\\']) {
            return Err(invalid(
                format!("{key}.stream"),
                format!("{stream:?} is not a JetStream stream name; expected letters, digits, `-` and `_`, like \"LOGFERRY\""),
            ));
        }
        Ok(TargetConfig::Nats(NatsTargetConfig {
            url: check_url(&format!("{key}.url"), "nats", &self.url, &["nats", "tls"])?,
            subject: template(&format!("{key}.subject"), self.subject, NatsTargetConfig::DEFAULT_SUBJECT)?,
            stream,
            format: record_format(self.format),
        }))
    }
}

impl RawHttpTarget {
    pub(super) fn validate(self, key: &str) -> Result<TargetConfig, Invalid> {
        let batch_max_rows = match self.batch_max_rows {
            None => HttpTargetConfig::DEFAULT_BATCH_MAX_ROWS,
            Some(n) if n >= 1 => n as usize,
            Some(n) => return Err(invalid(format!("{key}.batch_max_rows"), format!("found {n}; expected 1 or more"))),
        };
        let timeout = match self.timeout {
            None => HttpTargetConfig::DEFAULT_TIMEOUT,
            Some(q) => match parse_duration(&q) {
                Ok(d) if !d.is_zero() => d,
                Ok(_) => return Err(invalid(format!("{key}.timeout"), format!("found 0; expected more, as {DURATION_FORM}"))),
                Err(m) => return Err(invalid(format!("{key}.timeout"), m)),
            },
        };
        if let Some(h) = self.headers.keys().find(|h| h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))) {
            return Err(invalid(format!("{key}.headers"), format!("{h:?} is not a header name; expected letters, digits and `-`")));
        }
        Ok(TargetConfig::Http(HttpTargetConfig {
            url: check_url(&format!("{key}.url"), "http", &self.url, &["http", "https"])?,
            headers: self.headers.into_iter().map(|(k, v)| (k, Secret::new(v))).collect(),
            batch_max_rows,
            timeout,
            envelope: envelope(self.envelope),
        }))
    }
}
