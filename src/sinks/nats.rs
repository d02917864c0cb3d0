//! `kind = "nats"`: publishes every record to a NATS JetStream stream.
//!
//! Each record becomes one message on the subject its template renders
//! (`{pipeline}.{schema}.{table}` by default; a record without a table, a
//! logical message, goes to `<pipeline>._messages`), with the canonical
//! JSON or the protobuf encoding of the record as payload (one record per
//! message, no length prefix).
//!
//! Durability: `apply` publishes the whole batch, then waits for the
//! stream's acknowledgement (PubAck) of every message; only then does it
//! return `Ok`. A PubAck means the stream stored the message.
//!
//! Idempotence: every message carries `Nats-Msg-Id: <pipeline>:<seq>`.
//! `seq` is deterministic across replays, so a batch replayed after a crash
//! (or retried after an error) carries the same ids, and JetStream drops
//! the copies it sees within the stream's duplicate window (2 minutes,
//! JetStream's default), acknowledging them with `duplicate: true`.
//! Headers `Logferry-Seq`, `Logferry-Tx-Id` and `Logferry-Position` let
//! consumers see where a record comes from without decoding it.
//!
//! Order: messages are pipelined (up to [`ACK_WINDOW`] unacknowledged), but
//! a message waits for the PubAck of every earlier message of the batch
//! that touches the same row ([`RowBarrier`]). If the server goes away,
//! a message lost in the dead connection is followed by later ones the
//! client sends again after reconnecting; without the barrier, the retried
//! batch would store the lost message after a later change of its row.
//! With it, a later change of a row is never sent before the earlier one
//! is stored, so each row's changes stay in order across restarts; changes
//! of different rows in a batch in flight during a restart may be stored
//! out of order.
//!
//! The stream is ensured on the first apply, when the pipeline's name is
//! known (from the records): created with subjects `<pipeline>.>` if it is
//! missing; if it exists, every subject published to must be among its
//! subjects, or the apply fails definitely with how to fix the stream.

use super::{Batch, Sink, SinkError};
use crate::config::{NatsTargetConfig, RecordFormat};
use crate::record::{json, Change};
use crate::BoxFuture;
use async_nats::jetstream::{self, context::PublishErrorKind, stream};
use async_nats::HeaderMap;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// PubAcks one lane waits for at most at a time; the client's in-flight
/// limit is this times the lanes, so lanes never starve each other.
const ACK_WINDOW: usize = 2048;
/// How long the server may take to acknowledge one message (or answer a
/// stream request) before the apply fails transiently.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The stream's duplicate window when logferry creates it (JetStream's default).
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Which earlier messages of a batch must be acknowledged before the next
/// one is published: those touching one of its rows (see the module docs).
#[derive(Debug, Default)]
struct RowBarrier {
    /// Row hash → the index of the last message published for it.
    last: HashMap<u64, u64>,
    /// Messages published so far.
    published: u64,
    /// Messages whose PubAck was awaited so far (always the oldest ones).
    settled: u64,
}

impl RowBarrier {
    /// For a message touching `rows`: how many of the oldest unsettled
    /// messages to settle before publishing it. Counts it as published.
    fn before_publish(&mut self, rows: &[u64]) -> u64 {
        let upto = rows.iter().filter_map(|r| self.last.get(r)).max().map_or(0, |&i| i + 1);
        let n = upto.saturating_sub(self.settled);
        self.settled += n;
        for &r in rows {
            self.last.insert(r, self.published);
        }
        self.published += 1;
        n
    }

    /// `n` more of the oldest messages were settled (the window was full).
    fn settled(&mut self, n: u64) {
        self.settled += n;
    }
}

/// Publishes records to one JetStream stream.
pub struct NatsSink {
    name: String,
    client: async_nats::Client,
    js: jetstream::Context,
    subject: String,
    stream: String,
    format: RecordFormat,
    /// The stream's subject filters, per pipeline whose stream was ensured.
    ensured: Mutex<HashMap<String, Arc<Vec<String>>>>,
    published: AtomicU64,
    duplicates: AtomicU64,
}

impl NatsSink {
    /// Connects to the server. The stream is ensured on the first apply.
    pub async fn connect(cfg: &NatsTargetConfig, lanes: usize) -> Result<Self, SinkError> {
        let name = format!("nats:{}/{}", cfg.url, cfg.stream);
        let password = url_password(cfg.url.expose());
        let scrub = |s: String| match &password {
            Some(p) if !p.is_empty() => s.replace(p.as_str(), "***"),
            _ => s,
        };
        let client = async_nats::ConnectOptions::new()
            .name("logferry")
            .connection_timeout(CONNECT_TIMEOUT)
            .request_timeout(Some(ACK_TIMEOUT))
            .connect(cfg.url.expose())
            .await
            .map_err(|e| {
                use async_nats::ConnectErrorKind::*;
                let message = scrub(format!("cannot connect to {}: {e}", cfg.url));
                match e.kind() {
                    ServerParse => SinkError::definite(&name, format!("{message} (expected nats://[user:password@]host:port or tls://…)")),
                    Authentication | AuthorizationViolation => {
                        SinkError::definite(&name, format!("{message} — check the user and password in the target url"))
                    }
                    Tls => SinkError::definite(&name, format!("{message} — check the server's certificate and the url's scheme")),
                    Dns | TimedOut | Io | MaxReconnects => SinkError::transient(&name, message),
                }
            })?;
        let js = jetstream::ContextBuilder::new()
            .timeout(ACK_TIMEOUT)
            .max_ack_inflight(ACK_WINDOW * lanes.max(1))
            .backpressure_on_inflight(true)
            .build(client.clone());
        Ok(NatsSink {
            name,
            client,
            js,
            subject: cfg.subject.clone(),
            stream: cfg.stream.clone(),
            format: cfg.format,
            ensured: Mutex::new(HashMap::new()),
            published: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
        })
    }

    /// Messages acknowledged so far, and how many of them JetStream
    /// reported as duplicates (a replay within the duplicate window).
    pub fn acked(&self) -> (u64, u64) {
        (self.published.load(Relaxed), self.duplicates.load(Relaxed))
    }

    /// The subject a record is published to.
    pub fn subject_for(&self, change: &Change) -> String {
        subject_for(&self.subject, change)
    }

    /// The stream's subject filters, ensuring the stream exists (once per
    /// pipeline): created with `<pipeline>.>` if missing.
    async fn ensure_stream(&self, pipeline: &str) -> Result<Arc<Vec<String>>, SinkError> {
        let mut ensured = self.ensured.lock().await;
        if let Some(subjects) = ensured.get(pipeline) {
            return Ok(subjects.clone());
        }
        let wanted = format!("{pipeline}.>");
        let subjects = match self.js.get_stream(&self.stream).await {
            Ok(s) => s.cached_info().config.subjects.clone(),
            Err(e) => match e.kind() {
                jetstream::context::GetStreamErrorKind::JetStream(j) if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND => {
                    self.create_stream(&wanted).await?
                }
                jetstream::context::GetStreamErrorKind::JetStream(j) => return Err(self.jetstream_refusal("cannot look up the stream", &j)),
                _ => return Err(SinkError::transient(&self.name, format!("cannot look up stream {}: {e}", self.stream))),
            },
        };
        let subjects = Arc::new(subjects);
        ensured.insert(pipeline.to_string(), subjects.clone());
        Ok(subjects)
    }

    async fn create_stream(&self, wanted: &str) -> Result<Vec<String>, SinkError> {
        let config = stream::Config {
            name: self.stream.clone(),
            subjects: vec![wanted.to_string()],
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        };
        match self.js.create_stream(config).await {
            Ok(s) => {
                tracing::info!(target_name = %self.name, subjects = wanted, "created the JetStream stream");
                Ok(s.cached_info().config.subjects.clone())
            }
            Err(e) => {
                use jetstream::context::CreateStreamErrorKind::*;
                Err(match e.kind() {
                    JetStream(j) => self.jetstream_refusal(&format!("cannot create the stream for subjects {wanted}"), &j),
                    JetStreamUnavailable => SinkError::definite(
                        &self.name,
                        "JetStream is not enabled on the server: start nats-server with -js (or `jetstream {}` in its config)",
                    ),
                    EmptyStreamName | InvalidStreamName | DomainAndExternalSet => {
                        SinkError::definite(&self.name, format!("cannot create stream {}: {e}", self.stream))
                    }
                    TimedOut | Response | NotFound | ResponseParse => {
                        SinkError::transient(&self.name, format!("cannot create stream {}: {e}", self.stream))
                    }
                })
            }
        }
    }

    /// A JetStream API error: the server refused; retrying cannot help.
    fn jetstream_refusal(&self, what: &str, e: &jetstream::Error) -> SinkError {
        let hint = if e.error_code() == jetstream::ErrorCode::JETSTREAM_NOT_ENABLED
            || e.error_code() == jetstream::ErrorCode::JETSTREAM_NOT_ENABLED_FOR_ACCOUNT
        {
            " — start nats-server with -js (or enable JetStream for the account)"
        } else {
            ""
        };
        SinkError::definite(&self.name, format!("{what} {}: {e}{hint}", self.stream))
    }

    /// Turns a failed publish or PubAck into a transient or definite error.
    fn publish_error(&self, subject: &str, e: jetstream::context::PublishError) -> SinkError {
        match e.kind() {
            PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe | PublishErrorKind::MaxAckPending => {
                SinkError::transient(&self.name, format!("publish to {subject}: {e}"))
            }
            PublishErrorKind::StreamNotFound => SinkError::definite(
                &self.name,
                format!("publish to {subject}: no stream takes this subject (was stream {} deleted or its subjects changed?)", self.stream),
            ),
            PublishErrorKind::WrongLastMessageId | PublishErrorKind::WrongLastSequence | PublishErrorKind::Other => {
                // A refusal the server answered (message too large, storage
                // limits, ...); a broken connection is reported as a timeout.
                if self.client.connection_state() == async_nats::connection::State::Connected {
                    SinkError::definite(&self.name, format!("the server refused a message on {subject}: {e}"))
                } else {
                    SinkError::transient(&self.name, format!("publish to {subject}: {e}"))
                }
            }
        }
    }

    /// Waits for one PubAck; true when JetStream reports a duplicate.
    async fn settle(&self, subject: &str, ack: jetstream::context::PublishAckFuture) -> Result<bool, SinkError> {
        let ack = ack.await.map_err(|e| self.publish_error(subject, e))?;
        if ack.stream != self.stream {
            return Err(SinkError::definite(
                &self.name,
                format!("subject {subject} was stored by stream {}, not {}: the streams' subjects overlap", ack.stream, self.stream),
            ));
        }
        self.published.fetch_add(1, Relaxed);
        if ack.duplicate {
            self.duplicates.fetch_add(1, Relaxed);
        }
        Ok(ack.duplicate)
    }

    async fn publish_batch(&self, batch: &Batch) -> Result<(), SinkError> {
        let Some(first) = batch.records.iter().find(|c| !c.is_heartbeat()) else {
            return Ok(());
        };
        let filters = self.ensure_stream(&first.pipeline).await?;
        let max_payload = self.client.server_info().max_payload;
        let mut pending: VecDeque<(String, jetstream::context::PublishAckFuture)> = VecDeque::new();
        let mut barrier = RowBarrier::default();
        let mut payload = Vec::new();
        let mut duplicates = 0u64;
        for c in batch.records.iter().filter(|c| !c.is_heartbeat()) {
            // An earlier message of the same row must be stored first.
            for _ in 0..barrier.before_publish(&c.row_hashes()) {
                if let Some((subject, ack)) = pending.pop_front() {
                    duplicates += u64::from(self.settle(&subject, ack).await?);
                }
            }
            let subject = self.subject_for(c);
            if !filters.iter().any(|f| subject_matches(f, &subject)) {
                return Err(self.uncovered(&c.pipeline, &subject, &filters));
            }
            payload.clear();
            match self.format {
                RecordFormat::Json => json::write_change(c, &mut payload),
                RecordFormat::Protobuf => prost::Message::encode(c, &mut payload).map_err(|e| {
                    SinkError::definite(&self.name, format!("cannot encode record seq {}: {e}", c.seq))
                })?,
            }
            let headers = headers_for(c);
            let size = payload.len() + headers_len(&headers);
            if max_payload > 0 && size > max_payload {
                return Err(SinkError::definite(
                    &self.name,
                    format!(
                        "record seq {} on {subject} is {size} bytes, more than the server's max_payload ({max_payload}); \
                         raise max_payload in the nats-server config or leave the large columns out",
                        c.seq
                    ),
                ));
            }
            let ack = self
                .js
                .publish_with_headers(subject.clone(), headers, bytes::Bytes::copy_from_slice(&payload))
                .await
                .map_err(|e| self.publish_error(&subject, e))?;
            pending.push_back((subject, ack));
            if pending.len() >= ACK_WINDOW {
                if let Some((subject, ack)) = pending.pop_front() {
                    barrier.settled(1);
                    duplicates += u64::from(self.settle(&subject, ack).await?);
                }
            }
        }
        while let Some((subject, ack)) = pending.pop_front() {
            duplicates += u64::from(self.settle(&subject, ack).await?);
        }
        if duplicates > 0 {
            tracing::info!(target_name = %self.name, duplicates,
                "JetStream already had some of the batch's messages (a replay): stored once");
        }
        Ok(())
    }

    fn uncovered(&self, pipeline: &str, subject: &str, filters: &[String]) -> SinkError {
        SinkError::definite(
            &self.name,
            format!(
                "stream {stream} exists but does not take subject {subject} (its subjects: {list}); \
                 add the pipeline's subjects to it (`nats stream edit {stream} --subjects '{pipeline}.>'` plus the ones it has), \
                 or set another `stream` for this target so logferry creates one for `{pipeline}.>`, \
                 and make `subject` start with `{{pipeline}}.`",
                stream = self.stream,
                list = if filters.is_empty() { "none".to_string() } else { filters.join(", ") },
            ),
        )
    }
}

impl Sink for NatsSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn apply<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(self.publish_batch(batch))
    }

    fn close(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            // Every message was acknowledged by its apply; nothing is buffered.
            let _ = self.client.flush().await;
            Ok(())
        })
    }
}

/// The subject of a record: the template with the record's names, each
/// made one subject token (`.`, `*`, `>` and whitespace become `_`; an
/// empty name becomes `_`). A record without a table goes to
/// `<pipeline>._messages`.
pub fn subject_for(template: &str, change: &Change) -> String {
    let Some(table) = &change.table else {
        return format!("{}._messages", token(&change.pipeline));
    };
    template
        .replace("{pipeline}", &token(&change.pipeline))
        .replace("{schema}", &token(&table.schema))
        .replace("{database}", &token(&table.schema))
        .replace("{table}", &token(&table.name))
}

fn token(name: &str) -> String {
    if name.is_empty() {
        return "_".into();
    }
    name.chars().map(|c| if c == '.' || c == '*' || c == '>' || c.is_whitespace() || c.is_control() { '_' } else { c }).collect()
}

/// True when the stream subject filter `filter` (with `*` and `>`
/// wildcards) takes the literal `subject`.
pub fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut f = filter.split('.');
    let mut s = subject.split('.');
    loop {
        match (f.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// `Nats-Msg-Id` (dedup), `Logferry-Seq`, `Logferry-Tx-Id`, `Logferry-Position`.
fn headers_for(c: &Change) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(async_nats::header::NATS_MESSAGE_ID, format!("{}:{}", c.pipeline, c.seq).as_str());
    h.insert("Logferry-Seq", c.seq.to_string().as_str());
    if !c.tx_id.is_empty() {
        h.insert("Logferry-Tx-Id", header_text(&c.tx_id).as_str());
    }
    if let Some(p) = c.position.as_ref().filter(|p| !p.display.is_empty()) {
        h.insert("Logferry-Position", header_text(&p.display).as_str());
    }
    h
}

/// A header value holds no line breaks.
fn header_text(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Bytes the headers take on the wire (`NATS/1.0\r\n`, `name: value\r\n`, `\r\n`).
fn headers_len(h: &HeaderMap) -> usize {
    12 + h.iter().map(|(k, vs)| vs.iter().map(|v| AsRef::<str>::as_ref(k).len() + 4 + v.as_str().len()).sum::<usize>()).sum::<usize>()
}

/// The password of a `nats://user:password@host` URL, to scrub from messages.
fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    Some(userinfo.split_once(':')?.1.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Position, TableRef};

    #[test]
    fn a_message_waits_only_for_earlier_messages_of_its_rows() {
        let mut b = RowBarrier::default();
        assert_eq!(b.before_publish(&[1]), 0, "message 0: row 1");
        assert_eq!(b.before_publish(&[2]), 0, "message 1: row 2");
        assert_eq!(b.before_publish(&[3]), 0, "message 2: row 3");
        assert_eq!(b.before_publish(&[2]), 2, "row 2 again: messages 0 and 1 are settled first");
        assert_eq!(b.before_publish(&[1]), 0, "row 1's message 0 is settled already");
        assert_eq!(b.before_publish(&[4, 3]), 1, "a key change touching row 3 waits for message 2");
        assert_eq!(b.before_publish(&[]), 0, "a message without rows waits for nothing");
        b.settled(2); // messages 3 and 4, when the window was full
        assert_eq!(b.before_publish(&[5]), 0, "message 7: row 5");
        assert_eq!(b.before_publish(&[5]), 3, "row 5 again: messages 5 to 7 are settled first");
    }

    #[test]
    fn subjects_and_filters() {
        let mut c = Change {
            pipeline: "shop".into(),
            seq: 7,
            table: Some(TableRef { schema: "public".into(), name: "order lines".into() }),
            ..Default::default()
        };
        assert_eq!(subject_for("{pipeline}.{schema}.{table}", &c), "shop.public.order_lines");
        c.table = Some(TableRef { schema: "".into(), name: "a.b*>".into() });
        assert_eq!(subject_for("{pipeline}.{database}.{table}", &c), "shop._.a_b__");
        c.table = None;
        assert_eq!(subject_for("{pipeline}.{schema}.{table}", &c), "shop._messages");
        assert!(subject_matches("shop.>", "shop.public.orders"));
        assert!(!subject_matches("shop.>", "shop"));
        assert!(subject_matches("shop.*.orders", "shop.public.orders"));
        assert!(!subject_matches("shop.*", "shop.public.orders"));
        assert!(subject_matches(">", "x"));
        assert!(!subject_matches("other.>", "shop.public.orders"));
    }

    #[test]
    fn headers_carry_a_deterministic_id() {
        let c = Change {
            pipeline: "shop".into(),
            seq: 42,
            tx_id: "731".into(),
            position: Some(Position { display: "0/16B3748\r\nx".into(), ..Default::default() }),
            ..Default::default()
        };
        let h = headers_for(&c);
        assert_eq!(h.get(async_nats::header::NATS_MESSAGE_ID).map(|v| v.as_str()), Some("shop:42"));
        assert_eq!(h.get("Logferry-Seq").map(|v| v.as_str()), Some("42"));
        assert_eq!(h.get("Logferry-Tx-Id").map(|v| v.as_str()), Some("731"));
        assert_eq!(h.get("Logferry-Position").map(|v| v.as_str()), Some("0/16B3748  x"));
        assert!(headers_len(&h) > 40);
        assert_eq!(url_password("nats://u:s3cret@h:4222").as_deref(), Some("s3cret"));
        assert_eq!(url_password("nats://h:4222"), None);
    }
}
