//! `kind = "http"`: POSTs changes to a webhook as JSON arrays of events.
//!
//! Each batch is cut into chunks of at most `batch_max_rows` records, in
//! order; each chunk is one `POST` of a JSON array (`Content-Type:
//! application/json`) of events: the canonical JSON record
//! (`envelope = "logferry"`) or Debezium's change event (`"debezium"`;
//! records with no Debezium form are left out). Headers: the configured
//! ones (their values are secrets: never logged, never in an error, and
//! scrubbed from the quoted answer), `Logferry-Pipeline`, and
//! `Idempotency-Key: <pipeline>:<first seq>-<last seq>` of the chunk.
//!
//! # Answers
//!
//! - `2xx`: the events are applied. **The endpoint must answer 2xx only once
//!   it has stored them durably**: the pipeline then checkpoints past them
//!   and never sends them again.
//! - `408`, `429`, `503`: busy. A `Retry-After` (seconds or an HTTP date) is
//!   waited out inside `apply` (at most [`RETRY_AFTER_MAX`]), then the error
//!   is transient and the pipeline retries the batch with its own backoff.
//! - other `5xx`, a timeout (`timeout` per request), a connection or TLS
//!   failure, an answer that is not HTTP/1.1: transient.
//! - other `3xx` and `4xx`: a definite refusal, quoting the status and the
//!   first 200 bytes of the body. With `on_error = "dead_letter"` the
//!   pipeline narrows the refusal down to single records and sets them aside.
//!
//! # At-least-once
//!
//! A batch whose later chunk fails after earlier chunks were accepted is
//! retried whole, and after a crash the pipeline replays what it had not
//! checkpointed: the endpoint sees some events again. The same batch always
//! gives the same chunks and so the same `Idempotency-Key`s; batch
//! boundaries after a restart may differ, so a receiver that must not apply
//! an event twice dedups by the events' `seq` (deterministic across
//! replays), or by the key where its batches are known to repeat.
//!
//! The client is our own small HTTP/1.1 client ([`client`]): plain TCP or
//! rustls with the Mozilla roots, keep-alive connections reused across
//! requests.

mod client;

use super::{Batch, Sink, SinkError};
use crate::config::{Envelope, HttpTargetConfig, Secret};
use crate::record::{json, Change};
use crate::BoxFuture;
use std::borrow::Cow;
use std::time::{Duration, SystemTime};

/// The longest `Retry-After` waited out inside one `apply`.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(60);
/// Bytes of an answer's body quoted in errors.
const EXCERPT: usize = 200;
/// Headers the sink sets itself, which the config may not.
const OWN_HEADERS: [&str; 8] =
    ["host", "content-length", "content-type", "transfer-encoding", "connection", "user-agent", "idempotency-key", "logferry-pipeline"];

/// POSTs batches to one endpoint.
pub struct HttpSink {
    name: String,
    endpoint: client::Endpoint,
    /// Configured headers (plus `Authorization` from credentials in the URL).
    headers: Vec<(String, Secret)>,
    /// Texts hidden in quoted answers: header values, their last word (the
    /// token of `Bearer <token>`), the URL's password.
    scrub: Vec<String>,
    batch_max_rows: usize,
    timeout: Duration,
    envelope: Envelope,
    pool: client::Pool,
}

/// One POST: its events and its key.
pub struct Chunk {
    /// `<pipeline>:<first seq>-<last seq>`.
    pub idempotency_key: String,
    pub pipeline: String,
    /// How many events the body holds.
    pub events: usize,
    /// The JSON array.
    pub body: Vec<u8>,
}

impl HttpSink {
    /// Checks the URL and headers; connects lazily, on the first POST.
    pub fn open(cfg: &HttpTargetConfig) -> Result<Self, SinkError> {
        let parsed = client::parse_url(cfg.url.expose())
            // Named without the URL: its query may hold a token.
            .map_err(|e| SinkError::definite("http", format!("url: {e}")))?;
        let name = format!("http:{}", parsed.shown);
        let mut headers = Vec::with_capacity(cfg.headers.len() + 1);
        for (header, value) in &cfg.headers {
            let bad = |why: &str| SinkError::definite(&name, format!("headers.{header}: {why}"));
            if header.is_empty() || !header.bytes().all(is_token_char) {
                return Err(bad("not a header name (letters, digits and !#$%&'*+-.^_`|~ only)"));
            }
            if OWN_HEADERS.contains(&header.to_ascii_lowercase().as_str()) {
                return Err(bad("logferry sets this header itself; leave it out"));
            }
            // The value is never quoted: it is a secret.
            if value.expose().bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
                return Err(bad("the value holds a line break or another control character"));
            }
            headers.push((header.clone(), value.clone()));
        }
        let mut scrub = Vec::new();
        let has_auth = headers.iter().any(|(h, _)| h.eq_ignore_ascii_case("authorization"));
        if let Some((user, password)) = parsed.credentials {
            if !has_auth {
                use base64::Engine as _;
                let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                headers.push(("Authorization".into(), Secret::new(format!("Basic {basic}"))));
            }
            scrub.push(password);
        }
        for (_, value) in &headers {
            let value = value.expose().trim();
            scrub.push(value.to_string());
            scrub.extend(value.rsplit(' ').next().map(str::to_string));
        }
        // Longest first, so that a value is hidden before its last word; a
        // text of under 4 bytes would hide ordinary words and digits.
        scrub.retain(|s| s.len() >= 4);
        scrub.sort_by_key(|s| std::cmp::Reverse(s.len()));
        scrub.dedup();
        Ok(HttpSink {
            name,
            endpoint: parsed.endpoint,
            headers,
            scrub,
            batch_max_rows: cfg.batch_max_rows.max(1),
            timeout: cfg.timeout,
            envelope: cfg.envelope,
            pool: client::Pool::default(),
        })
    }

    /// The `Idempotency-Key` of a chunk of `pipeline` from seq `first` to `last`.
    pub fn idempotency_key(pipeline: &str, first: u64, last: u64) -> String {
        format!("{pipeline}:{first}-{last}")
    }

    /// The POSTs `apply` sends for `batch`, in order. Chunks whose records
    /// all lack a Debezium form are left out.
    pub fn chunks(&self, batch: &Batch) -> Vec<Chunk> {
        batch
            .records
            .chunks(self.batch_max_rows)
            .filter_map(|records| {
                let (first, last) = (records.first()?, records.last()?);
                let mut body = Vec::with_capacity(records.len() * 256 + 2);
                body.push(b'[');
                let mut events = 0;
                for c in records {
                    if !self.event(c, &mut body, events > 0) {
                        continue;
                    }
                    events += 1;
                }
                body.push(b']');
                (events > 0).then(|| Chunk {
                    idempotency_key: Self::idempotency_key(&first.pipeline, first.seq, last.seq),
                    pipeline: first.pipeline.clone(),
                    events,
                    body,
                })
            })
            .collect()
    }

    /// Appends `c`'s event (after a comma when `comma`); false when it has none.
    fn event(&self, c: &Change, out: &mut Vec<u8>, comma: bool) -> bool {
        match self.envelope {
            Envelope::Logferry => {
                if comma {
                    out.push(b',');
                }
                json::write_change(c, out);
            }
            Envelope::Debezium => {
                let Some(event) = crate::record::debezium::event_json(c) else { return false };
                if comma {
                    out.push(b',');
                }
                out.extend_from_slice(event.as_bytes());
            }
        }
        true
    }

    /// POSTs one chunk and classifies the answer.
    async fn send(&self, chunk: &Chunk) -> Result<(), SinkError> {
        let key = header_safe(&chunk.idempotency_key);
        let pipeline = header_safe(&chunk.pipeline);
        let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json"), ("Idempotency-Key", &key), ("Logferry-Pipeline", &pipeline)];
        headers.extend(self.headers.iter().map(|(h, v)| (h.as_str(), v.expose())));
        let what = format!("POST of {} event(s) ({})", chunk.events, chunk.idempotency_key);
        let response = match tokio::time::timeout(self.timeout, client::post(&self.endpoint, &self.pool, &headers, &chunk.body)).await {
            Err(_) => {
                return Err(SinkError::transient(&self.name, format!("{what}: no complete answer within {:?}; retrying", self.timeout)))
            }
            Ok(Err(e)) => return Err(SinkError::transient(&self.name, format!("{what}: {e}; retrying"))),
            Ok(Ok(r)) => r,
        };
        let status = response.status;
        if (200..300).contains(&status) {
            return Ok(());
        }
        let answer = self.describe(&response);
        if matches!(status, 408 | 429 | 503) {
            let wait = response.header("retry-after").and_then(|v| retry_after(v, SystemTime::now()));
            if let Some(wait) = wait.filter(|w| !w.is_zero()) {
                tracing::debug!(target_name = %self.name, status, wait_ms = wait.as_millis() as u64, "the endpoint asked to wait (Retry-After)");
                tokio::time::sleep(wait).await;
                return Err(SinkError::transient(&self.name, format!("{what}: {answer}; waited {wait:?} as Retry-After asked; retrying")));
            }
        }
        if status >= 500 || matches!(status, 408 | 429) {
            return Err(SinkError::transient(&self.name, format!("{what}: {answer}; retrying")));
        }
        let hint = match status {
            300..=399 => " (redirects are not followed: set url to the final address)",
            413 => " (the endpoint takes smaller requests: lower batch_max_rows)",
            _ => "",
        };
        Err(SinkError::definite(&self.name, format!("{what}: refused with {answer}{hint}")))
    }

    /// `<status> <reason>: <first 200 bytes of the body>`, with every
    /// secret scrubbed out of the body.
    fn describe(&self, r: &client::Response) -> String {
        let mut text = String::from_utf8_lossy(&r.body).into_owned();
        for secret in &self.scrub {
            text = text.replace(secret.as_str(), "***");
        }
        if r.body.len() >= client::BODY_KEPT {
            // The kept part may end inside a secret.
            for secret in &self.scrub {
                text = cut_partial(&text, secret);
            }
        }
        let mut end = text.len().min(EXCERPT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let cut = if end < text.len() { "…" } else { "" };
        let text = format!("{}{cut}", text[..end].trim());
        let reason: String = r.reason.chars().filter(|c| !c.is_control()).take(60).collect();
        match (reason.is_empty(), text.is_empty()) {
            (true, true) => r.status.to_string(),
            (false, true) => format!("{} {reason}", r.status),
            (true, false) => format!("{}: {text}", r.status),
            (false, false) => format!("{} {reason}: {text}", r.status),
        }
    }
}

/// Replaces a prefix of `secret` at the end of `text` (a body cut in the
/// middle of the secret) by `***`.
fn cut_partial(text: &str, secret: &str) -> String {
    for n in (1..secret.len()).rev() {
        if secret.is_char_boundary(n) && text.ends_with(&secret[..n]) {
            return format!("{}***", &text[..text.len() - n]);
        }
    }
    text.to_string()
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `s` with bytes outside printable ASCII (and `%`) percent-encoded, so a
/// pipeline name can go into a header as it is.
fn header_safe(s: &str) -> Cow<'_, str> {
    if s.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'%') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if (b' '..=b'~').contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Cow::Owned(out)
}

/// How long a `Retry-After` value asks to wait, at most
/// [`RETRY_AFTER_MAX`]; `None` when it cannot be read.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(http_date(value)?);
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(RETRY_AFTER_MAX))
}

/// Unix seconds of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the
/// form HTTP/1.1 senders must use.
fn http_date(s: &str) -> Option<u64> {
    let mut parts = s.split_ascii_whitespace();
    let _weekday = parts.next()?.strip_suffix(',')?;
    let day: u32 = parts.next()?.parse().ok()?;
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || parts.next().is_some() || hms.next().is_some() {
        return None;
    }
    if !(1..=crate::record::calendar::days_in_month(year, month)).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let days = u64::try_from(crate::record::calendar::days_from_civil(year, month, day)).ok()?;
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

impl Sink for HttpSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn apply<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            for chunk in self.chunks(batch) {
                self.send(&chunk).await?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretUrl;

    fn sink(url: &str, headers: &[(&str, &str)], rows: usize) -> Result<HttpSink, SinkError> {
        HttpSink::open(&HttpTargetConfig {
            url: SecretUrl::new(url),
            headers: headers.iter().map(|(h, v)| (h.to_string(), Secret::new(*v))).collect(),
            batch_max_rows: rows,
            timeout: Duration::from_secs(1),
            envelope: Envelope::Logferry,
        })
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date_is_capped() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(retry_after("86400", now), Some(RETRY_AFTER_MAX));
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), Some(Duration::ZERO), "in the past");
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-1", now), None);
        assert_eq!(http_date("Sun, 31 Feb 1994 08:49:37 GMT"), None);
    }

    #[test]
    fn name_headers_and_keys() {
        let s = sink("http://u:pw@127.0.0.1:9/x?token=t", &[], 2).unwrap();
        assert_eq!(s.name(), "http:http://127.0.0.1:9/x");
        assert!(s.headers.iter().any(|(h, v)| h == "Authorization" && v.expose() == "Basic dTpwdw=="));
        let e = sink("http://h/", &[("Content-Length", "1")], 2).err().unwrap();
        assert!(e.message().contains("sets this header itself"), "{e}");
        let e = sink("http://h/", &[("X-Token", "abc\r\nX-Evil: 1")], 2).err().unwrap();
        assert!(!e.to_string().contains("abc"), "{e}");
        assert!(sink("http://h/", &[("Bad Name", "v")], 2).is_err());
        assert_eq!(header_safe("p\u{e9}%"), "p%C3%A9%25");

        let records: Vec<Change> = (1..=5).map(|seq| Change { pipeline: "p".into(), seq, ..Default::default() }).collect();
        let chunks = s.chunks(&Batch { lane: 0, records, order: None });
        let keys: Vec<&str> = chunks.iter().map(|c| c.idempotency_key.as_str()).collect();
        assert_eq!(keys, ["p:1-2", "p:3-4", "p:5-5"]);
        let events: serde_json::Value = serde_json::from_slice(&chunks[0].body).unwrap();
        assert_eq!(events.as_array().map(|a| a.len()), Some(2));
    }

    #[test]
    fn secrets_are_scrubbed_from_quoted_answers() {
        let s = sink("http://h/", &[("Authorization", "Bearer tok-3141592653")], 2).unwrap();
        let answer = |body: String| client::Response { status: 401, reason: "Unauthorized".into(), headers: vec![], body: body.into_bytes() };
        let d = s.describe(&answer("bad token tok-3141592653 given".into()));
        assert_eq!(d, "401 Unauthorized: bad token *** given");
        // Cut by the excerpt's end.
        let d = s.describe(&answer(format!("{}tok-3141592653 and more", "x".repeat(EXCERPT - 6))));
        assert!(!d.contains("tok-31") && d.ends_with("…"), "{d}");
        // The kept part of a long body ends inside the secret.
        let d = s.describe(&answer(format!("{}tok-31", "x".repeat(client::BODY_KEPT - 6))));
        assert!(!d.contains("tok-31"), "{d}");
        let d = s.describe(&answer(String::new()));
        assert_eq!(d, "401 Unauthorized");
    }
}
