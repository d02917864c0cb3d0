//! `kind = "kafka"`: a consumer group reading topics of records.
//!
//! Each message becomes one record (`read_change` of the canonical JSON,
//! a protobuf `logferry.v1.Change`, or with `envelope = "debezium"`
//! `record::debezium::read_event`), a transaction of its own (`tx_end`)
//! whose position names (topic, partition, offset + 1). A key's changes
//! live in one partition (the producer keys them), and a partition is read
//! in order, so per-key order holds end to end. Tombstones and events with
//! no record become position markers (heartbeats), so their offsets are
//! committed too. Records get the pipeline's `seq` numbers, not Kafka's
//! offsets.
//!
//! **Offsets are the checkpoint.** `enable.auto.commit` is off: the source
//! follows `durable` (the pipeline's last checkpointed position; every
//! record emitted before it is durable in every target) and commits, per
//! partition, the offset after the last durable record (`track`). A
//! consumer that starts — here or on another machine — resumes from the
//! group's committed offsets; the local checkpoint (`resume`) is only
//! logged. Records read but not durable when a consumer dies are read again
//! by the partition's next owner: at-least-once, which idempotent targets
//! (the database targets upsert by key) absorb.
//!
//! **Rebalances.** When the group takes partitions away, the revoke
//! callback stops emitting from them, waits (at most `DRAIN_TIMEOUT`) for
//! what was emitted from them to become durable, commits it, and only then
//! lets them go.
//!
//! **Once mode** reads every partition of the matched topics to its high
//! watermark as of the start, waits until all of it is durable, commits,
//! and returns. A partition another member of the group holds counts as
//! read once the group's committed offset reaches that end; until then the
//! run waits, so a partition held by a member that died is taken over (when
//! its session times out) and read here, not left behind.
//!
//! Errors: no broker reachable is transient (the pipeline restarts the
//! source with backoff); a message that cannot be decoded is definite and
//! names its topic, partition and offset.

mod track;

pub use track::{parse_position, position};

use super::{position_marker, stopped, Source, SourceContext, SourceError};
use crate::config::{Envelope, KafkaSourceConfig, RecordFormat};
use crate::record::Change;
use crate::BoxFuture;
use prost::Message as _;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use track::{Tp, Track};

/// How long a revoke waits for emitted records to become durable.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);
/// How long shutdown waits for emitted records to become durable.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(10);
/// How long once mode waits for the last records to become durable.
const ONCE_DRAIN: Duration = Duration::from_secs(120);
/// Metadata and watermark requests.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often once mode checks whether it reached the end.
const END_CHECK: Duration = Duration::from_millis(200);

/// The Kafka source.
pub struct KafkaSource {
    cfg: KafkaSourceConfig,
    name: String,
}

impl KafkaSource {
    /// A source with these settings (connects when it runs).
    pub fn new(cfg: KafkaSourceConfig) -> Self {
        let name = format!("kafka:{}", cfg.brokers);
        KafkaSource { cfg, name }
    }
}

/// The consumer's context: logs through `tracing`, and drains and commits
/// on revoke.
struct GroupContext {
    name: String,
    track: Arc<Track>,
}

impl ClientContext for GroupContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
                tracing::warn!(source = %self.name, facility = fac, "librdkafka: {message}")
            }
            _ => tracing::debug!(source = %self.name, facility = fac, "librdkafka: {message}"),
        }
    }
}

fn elements(tpl: &TopicPartitionList) -> Vec<Tp> {
    tpl.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect()
}

/// Commits `offsets` (next offsets to read), synchronously or not.
fn commit<C: ConsumerContext, K: Consumer<C> + ?Sized>(consumer: &K, track: &Track, offsets: Vec<(Tp, i64)>, mode: CommitMode) -> Result<(), KafkaError> {
    if offsets.is_empty() {
        return Ok(());
    }
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), next) in &offsets {
        tpl.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
    }
    let r = consumer.commit(&tpl, mode);
    if r.is_err() {
        track.uncommit(&offsets);
    }
    r
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => {
                let tps = elements(tpl);
                self.track.revoke(&tps);
                // Block this poll (the reading task) until what was emitted
                // from these partitions is durable; other tasks (the
                // pipeline) keep running on the runtime's other threads.
                let wait = || self.track.wait_durable(Some(&tps), DRAIN_TIMEOUT);
                let drained = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
                    Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
                    _ => wait(),
                };
                if !drained {
                    tracing::warn!(source = %self.name, partitions = tps.len(),
                        "partitions revoked before everything read from them was durable: their next owner reads the rest again");
                }
                let offsets = self.track.to_commit(Some(&tps));
                if let Err(e) = commit(consumer, &self.track, offsets, CommitMode::Sync) {
                    tracing::warn!(source = %self.name, error = %e, "cannot commit the offsets of revoked partitions: their next owner reads them again");
                }
                tracing::info!(source = %self.name, partitions = ?tps, "partitions revoked");
            }
            Rebalance::Assign(tpl) => {
                let tps = elements(tpl);
                tracing::info!(source = %self.name, partitions = ?tps, "partitions assigned");
                self.track.assign(&tps);
            }
            Rebalance::Error(e) => tracing::warn!(source = %self.name, error = %e, "rebalance failed"),
        }
    }
}

/// `*` and `?` globs become a librdkafka regex subscription (`^…$`).
fn glob_regex(glob: &str) -> String {
    let mut re = String::from("^");
    for ch in glob.chars() {
        match ch {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => re.push(c),
            c => {
                re.push('\\');
                re.push(c);
            }
        }
    }
    re.push('$');
    re
}

fn is_glob(t: &str) -> bool {
    t.contains(['*', '?'])
}

/// Whether a consumer error means the cluster is unreachable (transient:
/// the pipeline restarts the source); others are logged and ridden out by
/// librdkafka's own reconnects.
fn unreachable(e: &KafkaError) -> bool {
    matches!(e.rdkafka_error_code(), Some(RDKafkaErrorCode::AllBrokersDown))
}

impl KafkaSource {
    fn transient(&self, what: &str, e: impl std::fmt::Display) -> SourceError {
        SourceError::transient(&self.name, format!("{what}: {e}; is the cluster at `{}` up?", self.cfg.brokers))
    }

    /// Decodes one message into a record (or a position marker).
    fn decode(&self, pipeline: &str, m: &BorrowedMessage<'_>) -> Result<Change, SourceError> {
        let pos = position(m.topic(), m.partition(), m.offset());
        let bad = |why: String| {
            SourceError::definite(
                &self.name,
                format!(
                    "message at topic `{}` partition {} offset {} is not a {} record: {why}; fix or remove it (or point `format`/`envelope` at what the topic holds)",
                    m.topic(),
                    m.partition(),
                    m.offset(),
                    match (self.cfg.envelope, self.cfg.format) {
                        (Envelope::Debezium, _) => "Debezium JSON",
                        (_, RecordFormat::Json) => "logferry JSON",
                        (_, RecordFormat::Protobuf) => "logferry protobuf",
                    }
                ),
            )
        };
        let decoded = match (self.cfg.envelope, m.payload()) {
            (Envelope::Debezium, payload) => crate::record::debezium::read_event(m.topic(), m.key(), payload).map_err(bad)?,
            (Envelope::Logferry, None) => None,
            (Envelope::Logferry, Some(p)) => Some(match self.cfg.format {
                RecordFormat::Json => crate::record::json::read_change(p).map_err(|e| bad(e.to_string()))?,
                RecordFormat::Protobuf => Change::decode(p).map_err(|e| bad(e.to_string()))?,
            }),
        };
        Ok(match decoded {
            Some(mut c) if !c.is_heartbeat() => {
                c.pipeline = pipeline.to_string();
                c.seq = 0;
                c.tx_end = true;
                c.position = Some(pos);
                c
            }
            _ => position_marker(pipeline, &self.name, pos),
        })
    }

    async fn run_inner(&self, ctx: SourceContext) -> Result<(), SourceError> {
        if let Some(p) = &ctx.resume {
            tracing::info!(source = %self.name, local_checkpoint = %p.display,
                "resuming from the group's committed offsets (the local checkpoint is only a hint)");
        }
        let track = Arc::new(Track::default());
        let mut config = crate::kafka_client::client_config(&self.cfg.brokers, &self.cfg.options, &[
            ("group.id", &self.cfg.group),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", "earliest"),
        ]);
        config.set_log_level(RDKafkaLogLevel::Warning);
        let consumer: Arc<StreamConsumer<GroupContext>> = Arc::new(
            config
                .create_with_context(GroupContext { name: self.name.clone(), track: track.clone() })
                .map_err(|e| {
                    SourceError::definite(
                        &self.name,
                        format!("cannot create the Kafka consumer: {}; check `options`", crate::kafka_client::scrub(e, &self.cfg.options)),
                    )
                })?,
        );

        // The topics that exist now, and (once mode) where they end.
        let c = consumer.clone();
        let md = tokio::task::spawn_blocking(move || {
            c.fetch_metadata(None, REQUEST_TIMEOUT).map(|md| {
                md.topics().iter().map(|t| (t.name().to_string(), t.partitions().iter().map(|p| p.id()).collect::<Vec<_>>())).collect::<Vec<_>>()
            })
        })
        .await
        .map_err(|e| self.transient("metadata request task failed", e))?
        .map_err(|e| self.transient("no broker answered", e))?;
        let matched: Vec<(String, Vec<i32>)> =
            md.into_iter().filter(|(t, _)| self.cfg.topics.iter().any(|g| super::glob_match(g, t))).collect();
        let mut ends: HashMap<Tp, i64> = HashMap::new();
        if ctx.once {
            let (brokers, options) = (self.cfg.brokers.clone(), self.cfg.options.clone());
            let topics = matched.clone();
            ends = tokio::task::spawn_blocking(move || ends_now(&brokers, &options, &topics))
                .await
                .map_err(|e| self.transient("end-of-topic task failed", e))?
                .map_err(|e| self.transient("cannot find where the topics end", e))?;
            if ends.is_empty() {
                tracing::info!(source = %self.name, topics = matched.len(), "once mode: the matched topics hold nothing to read");
                return Ok(());
            }
        }
        let mut subscription: Vec<String> = Vec::new();
        for t in &self.cfg.topics {
            subscription.push(if is_glob(t) { glob_regex(t) } else { t.clone() });
        }
        let refs: Vec<&str> = subscription.iter().map(String::as_str).collect();
        consumer
            .subscribe(&refs)
            .map_err(|e| SourceError::definite(&self.name, format!("cannot subscribe to {:?}: {e}; check `topics`", self.cfg.topics)))?;

        // Follow `durable`: note what became durable and commit it.
        let follower = {
            let (track, consumer, mut durable, name) = (track.clone(), consumer.clone(), ctx.durable.clone(), self.name.clone());
            tokio::spawn(async move {
                while durable.changed().await.is_ok() {
                    let p = durable.borrow_and_update().clone();
                    if let Some(p) = p {
                        track.durable(&p);
                        let offsets = track.to_commit(None);
                        if let Err(e) = commit(consumer.as_ref(), &track, offsets, CommitMode::Async) {
                            tracing::warn!(source = %name, error = %e, "cannot commit offsets (retried with the next checkpoint)");
                        }
                    }
                }
            })
        };
        let result = self.read(&ctx, &consumer, &track, &ends).await;
        // What is emitted becomes durable shortly (the pipeline keeps
        // checkpointing while we wait): commit it before leaving the group.
        let drain = match &result {
            Ok(true) => ONCE_DRAIN,
            Ok(false) => SHUTDOWN_DRAIN,
            Err(_) => Duration::ZERO,
        };
        if drain > Duration::ZERO {
            let t = track.clone();
            let _ = tokio::task::spawn_blocking(move || t.wait_durable(None, drain)).await;
            let offsets = track.to_commit(None);
            let c = consumer.clone();
            let t = track.clone();
            let committed = tokio::task::spawn_blocking(move || commit(c.as_ref(), &t, offsets, CommitMode::Sync)).await;
            if let Ok(Err(e)) = committed {
                tracing::warn!(source = %self.name, error = %e, "cannot commit the last offsets: the next run reads them again");
            }
        }
        follower.abort();
        // Leaving the group (its revoke callback may wait): off the runtime's threads.
        let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
        result.map(|_| ())
    }

    /// Reads and emits until shutdown (false) or, in once mode, the ends (true).
    async fn read(
        &self,
        ctx: &SourceContext,
        consumer: &StreamConsumer<GroupContext>,
        track: &Track,
        ends: &HashMap<Tp, i64>,
    ) -> Result<bool, SourceError> {
        let mut shutdown = ctx.shutdown.clone();
        // Once mode: per owned partition, the next offset to read.
        let mut next: HashMap<Tp, i64> = HashMap::new();
        let mut check = tokio::time::interval(END_CHECK);
        loop {
            tokio::select! {
                biased;
                _ = stopped(&mut shutdown) => return Ok(false),
                _ = check.tick(), if ctx.once => {
                    if self.reached_ends(consumer, track, ends, &mut next).await? {
                        return Ok(true);
                    }
                }
                m = consumer.recv() => match m {
                    Err(e) if unreachable(&e) => return Err(self.transient("lost the cluster", e)),
                    Err(e) => tracing::warn!(source = %self.name, error = %e, "consumer error (librdkafka retries)"),
                    Ok(m) => {
                        let tp = (m.topic().to_string(), m.partition());
                        if !track.owns(&tp) {
                            continue;
                        }
                        let change = self.decode(&ctx.pipeline, &m)?;
                        next.insert(tp.clone(), m.offset() + 1);
                        drop(m);
                        let pos = change.position.clone().expect("set by decode");
                        track.emitted(&pos, tp, parse_position(&pos).map_or(0, |p| p.2));
                        ctx.emitter.emit(change).await?;
                    }
                },
            }
        }
    }

    /// Once mode: every owned partition is read to its end as of the start.
    async fn reached_ends(
        &self,
        consumer: &StreamConsumer<GroupContext>,
        track: &Track,
        ends: &HashMap<Tp, i64>,
        next: &mut HashMap<Tp, i64>,
    ) -> Result<bool, SourceError> {
        let Some(owned) = track.assignment() else { return Ok(false) };
        let unknown: Vec<&Tp> = owned.iter().filter(|tp| ends.contains_key(*tp) && !next.contains_key(*tp)).collect();
        if !unknown.is_empty() {
            // Where reading starts: the group's committed offsets.
            let mut tpl = TopicPartitionList::new();
            for (t, p) in &unknown {
                let _ = tpl.add_partition(t, *p);
            }
            if let Ok(committed) = consumer.committed_offsets(tpl, Duration::from_secs(2)) {
                for e in committed.elements() {
                    if let Offset::Offset(o) = e.offset() {
                        let n = next.entry((e.topic().to_string(), e.partition())).or_insert(o);
                        *n = (*n).max(o);
                    }
                }
            }
        }
        if !owned.iter().all(|tp| ends.get(tp).is_none_or(|&end| next.get(tp).is_some_and(|&n| n >= end))) {
            return Ok(false);
        }
        // The partitions this member does not own count only once the group
        // has committed them to their ends: one still held by a member that
        // died (until its session times out) comes to this member later.
        let others: Vec<(&Tp, i64)> = ends.iter().filter(|(tp, _)| !owned.contains(*tp)).map(|(tp, &e)| (tp, e)).collect();
        if others.is_empty() {
            return Ok(true);
        }
        let mut tpl = TopicPartitionList::new();
        for ((t, p), _) in &others {
            let _ = tpl.add_partition(t, *p);
        }
        let Ok(committed) = consumer.committed_offsets(tpl, Duration::from_secs(2)) else { return Ok(false) };
        let done: HashMap<Tp, i64> = committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some(((e.topic().to_string(), e.partition()), o)),
                _ => None,
            })
            .collect();
        Ok(others.iter().all(|(tp, end)| done.get(*tp).is_some_and(|&o| o >= *end)))
    }
}

/// Where each non-empty partition of `topics` ends now (the offset after
/// its last message). The high watermark from ListOffsets, checked by
/// reading from the message before it to the partition's end: some
/// Kafka-compatible brokers (tansu) answer ListOffsets with the start of
/// the last batch instead.
fn ends_now(brokers: &str, options: &crate::config::ClientOptions, topics: &[(String, Vec<i32>)]) -> Result<HashMap<Tp, i64>, String> {
    let probe: BaseConsumer = crate::kafka_client::client_config(brokers, options, &[("enable.partition.eof", "true")])
        .set("group.id", "logferry-end-probe")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| e.to_string())?;
    let mut ends = HashMap::new();
    for (topic, parts) in topics {
        let mut tpl = TopicPartitionList::new();
        let mut open = std::collections::HashSet::new();
        for &p in parts {
            let (lo, hi) = probe.fetch_watermarks(topic, p, REQUEST_TIMEOUT).map_err(|e| format!("topic `{topic}` partition {p}: {e}"))?;
            if hi > lo {
                ends.insert((topic.clone(), p), hi);
                tpl.add_partition_offset(topic, p, Offset::Offset(hi - 1)).map_err(|e| e.to_string())?;
                open.insert(p);
            }
        }
        if open.is_empty() {
            continue;
        }
        probe.assign(&tpl).map_err(|e| e.to_string())?;
        let deadline = std::time::Instant::now() + REQUEST_TIMEOUT;
        while !open.is_empty() {
            if std::time::Instant::now() >= deadline {
                return Err(format!("topic `{topic}`: partitions {open:?} did not report their end within {REQUEST_TIMEOUT:?}"));
            }
            match probe.poll(Duration::from_millis(100)) {
                None => {}
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    open.remove(&p);
                }
                Some(Err(e)) if unreachable(&e) => return Err(e.to_string()),
                Some(Err(_)) => {}
                Some(Ok(m)) => {
                    let end = ends.entry((topic.clone(), m.partition())).or_insert(0);
                    *end = (*end).max(m.offset() + 1);
                    open.insert(m.partition());
                }
            }
        }
    }
    Ok(ends)
}

impl Source for KafkaSource {
    fn name(&self) -> &str {
        &self.name
    }

    /// Partitions interleave in whatever order fetches return, and move
    /// between the group's members: a replay numbers records differently.
    fn replays_in_order(&self) -> bool {
        false
    }

    fn run(&mut self, ctx: SourceContext) -> BoxFuture<'_, Result<(), SourceError>> {
        Box::pin(async move {
            if self.cfg.envelope == Envelope::Debezium && self.cfg.format != RecordFormat::Json {
                return Err(SourceError::definite(&self.name, "envelope = \"debezium\" is JSON only: set format = \"json\""));
            }
            self.run_inner(ctx).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_become_anchored_regexes() {
        assert_eq!(glob_regex("shop.public.*"), "^shop\\.public\\..*$");
        assert_eq!(glob_regex("a?c"), "^a.c$");
        assert!(is_glob("x*") && !is_glob("shop.public.orders"));
    }

    #[test]
    fn an_unreachable_cluster_is_transient() {
        assert!(unreachable(&KafkaError::MessageConsumption(RDKafkaErrorCode::AllBrokersDown)));
        assert!(!unreachable(&KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition)));
        let s = KafkaSource::new(KafkaSourceConfig {
            brokers: "127.0.0.1:1".into(),
            topics: vec!["t".into()],
            group: "g".into(),
            format: RecordFormat::Json,
            envelope: Envelope::Logferry,
            options: vec![],
        });
        assert!(s.transient("no broker answered", "timed out").is_transient());
    }
}
