//! Broker and web targets (`kafka`, `nats`, `http`) and the `kafka`
//! source, as the file states them.

use super::{RecordFormat, Secret, SecretUrl};
use std::time::Duration;

/// `envelope = "logferry" | "debezium"`: the shape of each event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Envelope {
    /// The canonical record (its JSON or protobuf form).
    #[default]
    Logferry,
    /// Debezium's change event (`before`, `after`, `op`, `source`,
    /// `ts_ms`), JSON only, without schemas.
    Debezium,
}

/// Client settings passed to a broker client as they are (`options`).
/// Values are secrets: they may hold SASL passwords or keys.
pub type ClientOptions = Vec<(String, Secret)>;

/// `kind = "kafka"` target.
#[derive(Debug, Clone)]
pub struct KafkaTargetConfig {
    /// Bootstrap servers, comma-separated `host:port`.
    pub brokers: String,
    /// Topic template: `{pipeline}`, `{schema}`, `{database}` (the same as
    /// `{schema}`: the source's schema or database) and `{table}`.
    pub topic: String,
    /// `json` or `protobuf` values.
    pub format: RecordFormat,
    /// The event shape (`debezium`: JSON only).
    pub envelope: Envelope,
    /// Passed to the Kafka client as they are.
    pub options: ClientOptions,
}

impl KafkaTargetConfig {
    /// `topic` when the file leaves it out.
    pub const DEFAULT_TOPIC: &'static str = "{pipeline}.{schema}.{table}";
}

/// `kind = "kafka"` source: a consumer group reading topics of records.
#[derive(Debug, Clone)]
pub struct KafkaSourceConfig {
    /// Bootstrap servers, comma-separated `host:port`.
    pub brokers: String,
    /// Topic names, or globs (`*`, `?`) over the broker's topics.
    pub topics: Vec<String>,
    /// Consumer group; its committed offsets are the checkpoint. Default
    /// `logferry-<pipeline>`.
    pub group: String,
    /// `json` or `protobuf` values.
    pub format: RecordFormat,
    /// The event shape to read (`debezium`: Debezium's JSON, with or
    /// without schemas).
    pub envelope: Envelope,
    /// Passed to the Kafka client as they are.
    pub options: ClientOptions,
}

/// `kind = "nats"` target: NATS JetStream.
#[derive(Debug, Clone)]
pub struct NatsTargetConfig {
    /// `nats://host:port` (credentials in the URL are secret).
    pub url: SecretUrl,
    /// Subject template: `{pipeline}`, `{schema}`, `{database}`, `{table}`.
    pub subject: String,
    /// The JetStream stream, created if missing for subjects `<pipeline>.>`.
    pub stream: String,
    /// `json` or `protobuf` payloads.
    pub format: RecordFormat,
}

impl NatsTargetConfig {
    /// `subject` when the file leaves it out.
    pub const DEFAULT_SUBJECT: &'static str = "{pipeline}.{schema}.{table}";
    /// `stream` when the file leaves it out.
    pub const DEFAULT_STREAM: &'static str = "LOGFERRY";
}

/// `kind = "http"` target: POSTs JSON arrays of events.
#[derive(Debug, Clone)]
pub struct HttpTargetConfig {
    /// `http://` or `https://` endpoint (credentials in it are secret).
    pub url: SecretUrl,
    /// Extra request headers; values are secrets (tokens).
    pub headers: Vec<(String, Secret)>,
    /// Events per POST, at most.
    pub batch_max_rows: usize,
    /// How long one POST may take before it counts as failed (and is retried).
    pub timeout: Duration,
    /// The event shape.
    pub envelope: Envelope,
}

impl HttpTargetConfig {
    /// `batch_max_rows` when the file leaves it out.
    pub const DEFAULT_BATCH_MAX_ROWS: usize = 500;
    /// `timeout` when the file leaves it out.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
}
