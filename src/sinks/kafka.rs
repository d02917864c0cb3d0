//! `kind = "kafka"`: publishes every record to a Kafka topic.
//!
//! - **Topic**: the `topic` template rendered for the record
//!   (`naming::render_template`, default `{pipeline}.{schema}.{table}`).
//! - **Key**: the row's key as a canonical JSON object (`{"id":1}`,
//!   `naming::key_json`): the partitioner sends every change of a key to
//!   one partition, where Kafka keeps them in the order we sent them.
//! - **Value**: the canonical record as JSON (`record::json::write_change`)
//!   or protobuf (`logferry.v1.Change`); with `envelope = "debezium"`,
//!   Debezium's change event (`record::debezium::event_json`; records it has
//!   no event for, schema changes for instance, are skipped), and after a
//!   delete a tombstone (same key, no value) so compacted topics drop the key
//!   (none for a table without a key: every row of it has the key `{}`, so
//!   all of them go to one partition, in order, and none is compacted away).
//! - **Headers**: `logferry-seq`, `logferry-tx-id`, `logferry-position`.
//! - **Control records** (schema changes, truncates) have no row key: they
//!   go to *every* partition of their topic, so each partition carries the
//!   schema before the rows that follow it (a consumer that reads
//!   partitions in any interleaving still sees a table's schema before its
//!   rows).
//!
//! **Durability.** The producer is idempotent (`enable.idempotence=true`,
//! `acks=all`): the broker drops a retried duplicate, and messages of one
//! partition stay in order through retries. `apply` enqueues the whole
//! batch, then waits for every delivery report; it returns `Ok` only when
//! every message is acknowledged by all in-sync replicas. A replayed batch
//! (after a crash) is published again: the topic is at-least-once, and
//! consumers drop duplicates by `logferry-seq` or apply idempotently.
//!
//! The user's `options` are passed to librdkafka as they are (after our
//! defaults, so they can override them); their values are secrets and
//! never logged.

use super::naming::{key_json, render_template};
use super::{Batch, Sink, SinkError};
use crate::config::{Envelope, KafkaTargetConfig, RecordFormat};
use crate::record::{json, Change, Op};
use crate::BoxFuture;
use prost::Message as _;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the first metadata request (at connect) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long enqueuing may wait for room in librdkafka's queue.
const QUEUE_FULL_WAIT: Duration = Duration::from_secs(30);

/// Publishes records to Kafka.
pub struct KafkaSink {
    name: String,
    producer: FutureProducer,
    topic: String,
    format: RecordFormat,
    envelope: Envelope,
    /// Partitions of each topic a control record went to.
    partitions: Mutex<HashMap<String, i32>>,
}

/// One message to send.
struct Outgoing {
    topic: String,
    key: String,
    value: Option<Vec<u8>>,
    /// Explicit partition (control records go to every partition).
    partition: Option<i32>,
    headers: OwnedHeaders,
}

impl KafkaSink {
    /// Creates the producer and checks that a broker answers (an
    /// unreachable cluster is a transient error: `run` connects later).
    pub async fn connect(cfg: &KafkaTargetConfig) -> Result<Self, SinkError> {
        let name = format!("kafka:{}", cfg.brokers);
        if cfg.envelope == Envelope::Debezium && cfg.format != RecordFormat::Json {
            return Err(SinkError::definite(&name, "envelope = \"debezium\" is JSON only: set format = \"json\""));
        }
        let producer: FutureProducer = crate::kafka_client::client_config(&cfg.brokers, &cfg.options, &[
            ("enable.idempotence", "true"),
            ("acks", "all"),
            // A delivery that cannot finish within this is reported as
            // failed (transient: the lane retries the batch) instead of
            // hanging for librdkafka's default five minutes.
            ("message.timeout.ms", "30000"),
            ("linger.ms", "5"),
        ])
        .create()
        .map_err(|e| SinkError::definite(&name, format!("cannot create the Kafka producer: {}; check `options`", crate::kafka_client::scrub(e, &cfg.options))))?;
        let client = producer.clone();
        let n = name.clone();
        tokio::task::spawn_blocking(move || client.client().fetch_metadata(None, CONNECT_TIMEOUT).map(|_| ()))
            .await
            .map_err(|e| SinkError::transient(&n, format!("metadata request task failed: {e}")))?
            .map_err(|e| SinkError::transient(&name, format!("no broker of `{}` answered: {e}; is the cluster up?", cfg.brokers)))?;
        Ok(KafkaSink {
            name,
            producer,
            topic: cfg.topic.clone(),
            format: cfg.format,
            envelope: cfg.envelope,
            partitions: Mutex::new(HashMap::new()),
        })
    }

    /// The messages for one record (none, one, a value and a tombstone, or
    /// one per partition for a control record).
    async fn messages(&self, c: &Change, out: &mut Vec<Outgoing>) -> Result<(), SinkError> {
        if c.is_heartbeat() {
            return Ok(());
        }
        let topic = render_template(&self.topic, c);
        let key = key_json(c);
        let headers = || {
            let seq = c.seq.to_string();
            let position = c.position.as_ref().map_or("", |p| p.display.as_str());
            OwnedHeaders::new()
                .insert(Header { key: "logferry-seq", value: Some(seq.as_str()) })
                .insert(Header { key: "logferry-tx-id", value: Some(c.tx_id.as_str()) })
                .insert(Header { key: "logferry-position", value: Some(position) })
        };
        let value = match (self.envelope, self.format) {
            (Envelope::Debezium, _) => match crate::record::debezium::event_json(c) {
                Some(v) => v.into_bytes(),
                None => return Ok(()),
            },
            (Envelope::Logferry, RecordFormat::Json) => {
                let mut buf = Vec::with_capacity(256);
                json::write_change(c, &mut buf);
                buf
            }
            (Envelope::Logferry, RecordFormat::Protobuf) => c.encode_to_vec(),
        };
        if matches!(c.op(), Op::SchemaChange | Op::Truncate) {
            for p in 0..self.partition_count(&topic).await? {
                out.push(Outgoing { topic: topic.clone(), key: key.clone(), value: Some(value.clone()), partition: Some(p), headers: headers() });
            }
            return Ok(());
        }
        // No tombstone for a table without a key: its key `{}` is shared by
        // every row, and compaction would drop them all.
        let tombstone = self.envelope == Envelope::Debezium && c.op() == Op::Delete && !c.key_columns.is_empty();
        out.push(Outgoing { topic: topic.clone(), key: key.clone(), value: Some(value), partition: None, headers: headers() });
        if tombstone {
            out.push(Outgoing { topic, key, value: None, partition: None, headers: headers() });
        }
        Ok(())
    }

    /// Partitions of `topic` (asking the cluster once; a topic that does
    /// not exist yet is created by the request where the brokers allow it).
    async fn partition_count(&self, topic: &str) -> Result<i32, SinkError> {
        if let Some(n) = self.partitions.lock().expect("not poisoned").get(topic) {
            return Ok(*n);
        }
        let producer = self.producer.clone();
        let t = topic.to_string();
        let md = tokio::task::spawn_blocking(move || producer.client().fetch_metadata(Some(&t), CONNECT_TIMEOUT))
            .await
            .map_err(|e| SinkError::transient(&self.name, format!("metadata request task failed: {e}")))?
            .map_err(|e| SinkError::transient(&self.name, format!("cannot read the partitions of topic `{topic}`: {e}")))?;
        let n = md.topics().iter().find(|t| t.name() == topic).map_or(0, |t| t.partitions().len() as i32);
        if n == 0 {
            return Err(missing_topic(&self.name, topic));
        }
        self.partitions.lock().expect("not poisoned").insert(topic.to_string(), n);
        Ok(n)
    }

    /// Enqueues one message, waiting while librdkafka's queue is full.
    async fn enqueue(&self, m: &Outgoing) -> Result<DeliveryFuture, SinkError> {
        let began = Instant::now();
        loop {
            let mut record = FutureRecord::<str, [u8]>::to(&m.topic).key(m.key.as_str()).headers(m.headers.clone());
            if let Some(v) = &m.value {
                record = record.payload(v.as_slice());
            }
            if let Some(p) = m.partition {
                record = record.partition(p);
            }
            match self.producer.send_result(record) {
                Ok(f) => return Ok(f),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) if began.elapsed() < QUEUE_FULL_WAIT => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => return Err(classify(&self.name, &m.topic, &e)),
            }
        }
    }
}

fn missing_topic(target: &str, topic: &str) -> SinkError {
    SinkError::definite(
        target,
        format!(
            "topic `{topic}` does not exist and the brokers did not create it: create it \
             (e.g. kafka-topics.sh --create --topic {topic} --partitions N), or set \
             auto.create.topics.enable=true on the brokers, or change `topic`"
        ),
    )
}

/// Classifies a produce error: a missing or refused topic, a message too
/// large, bad settings are definite; timeouts, a full queue, brokers down
/// or changing leaders are transient.
pub(crate) fn classify(target: &str, topic: &str, e: &KafkaError) -> SinkError {
    use RDKafkaErrorCode::*;
    let code = e.rdkafka_error_code();
    match code {
        Some(UnknownTopicOrPartition | UnknownTopic | UnknownPartition) => missing_topic(target, topic),
        Some(TopicAuthorizationFailed | ClusterAuthorizationFailed) => SinkError::definite(
            target,
            format!("the brokers refuse to let us write to topic `{topic}` ({e}): grant WRITE (and DESCRIBE) on it to our principal"),
        ),
        Some(InvalidTopic) => {
            SinkError::definite(target, format!("`{topic}` is not a valid topic name ({e}): change the `topic` template"))
        }
        Some(MessageSizeTooLarge | InvalidMessageSize | MessageBatchTooLarge) => SinkError::definite(
            target,
            format!("a record is larger than the brokers accept on topic `{topic}` ({e}): raise max.message.bytes on the topic and message.max.bytes in `options`"),
        ),
        Some(InvalidArgument | UnsupportedFeature | UnsupportedVersion | InvalidConfig) => {
            SinkError::definite(target, format!("the producer or the brokers refused a setting ({e}): check `options`"))
        }
        _ => SinkError::transient(target, format!("delivery to topic `{topic}` failed: {e}; retrying")),
    }
}

impl Sink for KafkaSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn apply<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(batch.records.len());
            for c in &batch.records {
                self.messages(c, &mut out).await?;
            }
            // Send everything, then wait for every report: one round trip
            // per batch, and librdkafka keeps each partition in order.
            let mut pending = Vec::with_capacity(out.len());
            let mut first_error = None;
            for m in &out {
                match self.enqueue(m).await {
                    Ok(f) => pending.push((f, m.topic.as_str())),
                    Err(e) => {
                        first_error = Some(e);
                        break;
                    }
                }
            }
            for (f, topic) in pending {
                let r = match f.await {
                    Ok(Ok(_)) => continue,
                    Ok(Err((e, _))) => classify(&self.name, topic, &e),
                    Err(_) => SinkError::transient(&self.name, "the producer went away before reporting a delivery; retrying"),
                };
                first_error.get_or_insert(r);
            }
            match first_error {
                None => Ok(()),
                Some(e) => Err(e),
            }
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            let producer = self.producer.clone();
            let name = self.name.clone();
            tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(30)))
                .await
                .map_err(|e| SinkError::transient(&name, format!("flush task failed: {e}")))?
                .map_err(|e| SinkError::transient(&self.name, format!("cannot flush the producer: {e}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn produce_errors_are_classified() {
        let t = |code| classify("kafka:b", "shop.public.t", &KafkaError::MessageProduction(code));
        assert!(t(RDKafkaErrorCode::MessageTimedOut).is_transient());
        assert!(t(RDKafkaErrorCode::QueueFull).is_transient());
        assert!(t(RDKafkaErrorCode::AllBrokersDown).is_transient());
        assert!(t(RDKafkaErrorCode::NotLeaderForPartition).is_transient());
        let missing = t(RDKafkaErrorCode::UnknownTopicOrPartition);
        assert!(!missing.is_transient());
        assert!(missing.message().contains("shop.public.t") && missing.message().contains("auto.create.topics.enable"));
        assert!(!t(RDKafkaErrorCode::MessageSizeTooLarge).is_transient());
        assert!(!t(RDKafkaErrorCode::TopicAuthorizationFailed).is_transient());
    }
}
