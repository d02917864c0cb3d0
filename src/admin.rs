//! The admin endpoint (`[admin] listen = "127.0.0.1:9187"`): `GET /health`
//! and `GET /metrics` over plain HTTP/1.1, for probes and Prometheus.
//!
//! - `/health`: `200` with `{"status":"ok",…}` while every pipeline runs
//!   and every target takes records; `503` with `"status":"unhealthy"` and
//!   one line per problem (a pipeline that stopped with an error, a target
//!   unavailable and since when, a spool that is full) otherwise. The body
//!   is JSON either way, with each pipeline's figures.
//! - `/metrics`: Prometheus text format, one series per pipeline
//!   (`logferry_records_received_total`, `…_applied_total`,
//!   `…_dead_letters_total`, `…_checkpoint_seq`,
//!   `…_checkpoint_age_seconds`, `…_source_restarts_total`,
//!   `…_target_failing_lanes`, `…_spool_bytes`, `logferry_up`), time per
//!   stage (`logferry_source_blocked_seconds_total`,
//!   `…_route_seconds_total`, `…_apply_seconds_total`) and the
//!   commit-to-apply latency per source transaction
//!   (`logferry_commit_latency_seconds`, a summary with p50/p95/p99).
//!
//! It serves nothing else and reads nothing but the request line: no
//! configuration, no secrets, no record contents. It has no
//! authentication, so it listens where the config says and logferry warns
//! when that is not a loopback address. Each pipeline updates its
//! [`PipelineStats`] with atomics; a request reads them.

use crate::record::format_utc;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What one pipeline reports, updated as it runs.
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Pipeline name.
    pub name: String,
    records: AtomicU64,
    applied: AtomicU64,
    dead_lettered: AtomicU64,
    checkpoint_seq: AtomicU64,
    /// Unix millis of the last checkpoint write (0: none this run).
    checkpoint_ms: AtomicU64,
    source_restarts: AtomicU64,
    /// Lanes currently retrying an unavailable target, and since when the
    /// first of them has been (unix millis).
    failing_lanes: AtomicU64,
    failing_since_ms: AtomicU64,
    spooled: AtomicBool,
    spool_bytes: AtomicU64,
    spool_full: AtomicBool,
    /// Set when the pipeline stopped: `None` cleanly, else its error.
    stopped: Mutex<Option<Option<String>>>,
    /// Source commit → every target applied, per source transaction.
    latency: LatencyHistogram,
    /// Nanoseconds the source waited for room in the pipeline's intake.
    source_blocked_ns: AtomicU64,
    /// Nanoseconds the coordinator spent numbering and routing records.
    route_ns: AtomicU64,
    /// Nanoseconds lanes spent in target applies (summed over lanes).
    apply_ns: AtomicU64,
}

/// Upper bounds of the latency buckets in microseconds: 100 µs steps to
/// 10 ms, 1 ms steps to 1 s, 100 ms steps to 60 s; one overflow bucket.
fn bucket_bounds() -> &'static [u64] {
    static BOUNDS: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    BOUNDS.get_or_init(|| {
        let mut b: Vec<u64> = (1..=100).map(|i| i * 100).collect();
        b.extend((11..=1000).map(|i| i * 1000));
        b.extend((11..=600).map(|i| i * 100_000));
        b
    })
}

/// A fixed-bucket histogram of latencies, updated with atomics.
#[derive(Debug)]
struct LatencyHistogram {
    /// One per bound, plus the overflow bucket.
    counts: Box<[AtomicU64]>,
    max_us: AtomicU64,
    sum_us: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: (0..=bucket_bounds().len()).map(|_| AtomicU64::new(0)).collect(),
            max_us: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    fn record(&self, us: u64) {
        let i = bucket_bounds().partition_point(|&b| b < us);
        self.counts[i].fetch_add(1, Relaxed);
        self.max_us.fetch_max(us, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }

    fn reset(&self) {
        for c in self.counts.iter() {
            c.store(0, Relaxed);
        }
        self.max_us.store(0, Relaxed);
        self.sum_us.store(0, Relaxed);
    }

    fn summary(&self) -> LatencySummary {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Relaxed)).collect();
        let count: u64 = counts.iter().sum();
        let max_ms = self.max_us.load(Relaxed) as f64 / 1000.0;
        // The upper bound of the bucket holding the q-th value (never above the max).
        let quantile = |q: f64| {
            if count == 0 {
                return 0.0;
            }
            let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    let bound = bucket_bounds().get(i).map_or(f64::INFINITY, |&b| b as f64 / 1000.0);
                    return bound.min(max_ms);
                }
            }
            max_ms
        };
        let buckets = counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(i, &c)| (bucket_bounds().get(i).map_or(max_ms, |&b| b as f64 / 1000.0), c))
            .collect();
        LatencySummary {
            count,
            mean_ms: if count == 0 { 0.0 } else { self.sum_us.load(Relaxed) as f64 / count as f64 / 1000.0 },
            p50_ms: quantile(0.50),
            p95_ms: quantile(0.95),
            p99_ms: quantile(0.99),
            max_ms,
            buckets,
        }
    }
}

/// Commit-to-apply latency figures: from the source's commit timestamp of a
/// transaction to the moment every target had applied all of it. Quantiles
/// are the upper bound of their bucket (0.1 ms wide up to 10 ms, 1 ms up to
/// 1 s, 100 ms up to 60 s), never above the maximum seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencySummary {
    /// Transactions measured.
    pub count: u64,
    /// Mean in milliseconds.
    pub mean_ms: f64,
    /// Median in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile in milliseconds.
    pub p95_ms: f64,
    /// 99th percentile in milliseconds.
    pub p99_ms: f64,
    /// Largest in milliseconds.
    pub max_ms: f64,
    /// Non-empty buckets: (upper bound in ms, transactions).
    pub buckets: Vec<(f64, u64)>,
}

/// Where a pipeline spent its time: seconds, summed since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    /// The source waited for room in the pipeline (it was faster than the rest).
    pub source_blocked_s: f64,
    /// The coordinator numbered and routed records to lanes.
    pub route_s: f64,
    /// Lanes applied batches to targets (summed over lanes, so it can exceed the wall time).
    pub apply_s: f64,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl PipelineStats {
    /// Stats for pipeline `name`.
    pub fn new(name: &str) -> Self {
        PipelineStats { name: name.to_string(), ..Default::default() }
    }

    /// A record came from the source.
    pub fn received(&self) {
        self.records.fetch_add(1, Relaxed);
    }

    /// Records acknowledged by the lanes (dead letters included).
    pub fn applied(&self, n: u64, dead_lettered: u64) {
        self.applied.fetch_add(n - dead_lettered, Relaxed);
        self.dead_lettered.fetch_add(dead_lettered, Relaxed);
    }

    /// A checkpoint was written.
    pub fn checkpointed(&self, seq: u64) {
        self.checkpoint_seq.store(seq, Relaxed);
        self.checkpoint_ms.store(now_ms(), Relaxed);
    }

    /// The source was restarted after a transient failure.
    pub fn source_restarted(&self) {
        self.source_restarts.fetch_add(1, Relaxed);
    }

    /// A lane started retrying an unavailable target; the guard ends it.
    pub fn lane_failing(self: &Arc<Self>) -> FailingLane {
        if self.failing_lanes.fetch_add(1, Relaxed) == 0 {
            self.failing_since_ms.store(now_ms(), Relaxed);
        }
        FailingLane(self.clone())
    }

    /// The spool holds `bytes`.
    pub fn spool_bytes(&self, bytes: u64) {
        self.spooled.store(true, Relaxed);
        self.spool_bytes.store(bytes, Relaxed);
    }

    /// The spool is full (the source waits for room) or has room again.
    pub fn spool_full(&self, full: bool) {
        self.spool_full.store(full, Relaxed);
    }

    /// A source transaction committed at `commit_time` is now applied by
    /// every target.
    pub fn transaction_applied(&self, commit_time: SystemTime) {
        let us = SystemTime::now().duration_since(commit_time).map_or(0, |d| d.as_micros() as u64);
        self.latency.record(us);
    }

    /// The commit-to-apply latencies recorded so far.
    pub fn latency(&self) -> LatencySummary {
        self.latency.summary()
    }

    /// Forgets the latencies recorded so far (a bench's warm-up).
    pub fn reset_latency(&self) {
        self.latency.reset();
    }

    /// The source waited `d` for room in the pipeline.
    pub fn source_blocked(&self, d: Duration) {
        self.source_blocked_ns.fetch_add(d.as_nanos() as u64, Relaxed);
    }

    /// The coordinator spent `d` routing.
    pub fn routed(&self, d: Duration) {
        self.route_ns.fetch_add(d.as_nanos() as u64, Relaxed);
    }

    /// A lane spent `d` in one target apply.
    pub fn apply_time(&self, d: Duration) {
        self.apply_ns.fetch_add(d.as_nanos() as u64, Relaxed);
    }

    /// Time per stage so far.
    pub fn stages(&self) -> StageTimes {
        let s = |a: &AtomicU64| a.load(Relaxed) as f64 / 1e9;
        StageTimes { source_blocked_s: s(&self.source_blocked_ns), route_s: s(&self.route_ns), apply_s: s(&self.apply_ns) }
    }

    /// Records received and applied so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.records.load(Relaxed), self.applied.load(Relaxed))
    }

    /// The pipeline ended: cleanly (`None`) or with an error.
    pub fn stopped(&self, error: Option<String>) {
        *self.stopped.lock().expect("not poisoned") = Some(error);
    }

    /// Problems `/health` reports for this pipeline.
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(Some(e)) = &*self.stopped.lock().expect("not poisoned") {
            out.push(format!("pipeline `{}` stopped: {e}", self.name));
        }
        let failing = self.failing_lanes.load(Relaxed);
        if failing > 0 {
            let since = UNIX_EPOCH + Duration::from_millis(self.failing_since_ms.load(Relaxed));
            out.push(format!("pipeline `{}`: a target is unavailable ({failing} lane(s) retrying since {})", self.name, format_utc(since)));
        }
        if self.spool_full.load(Relaxed) {
            out.push(format!("pipeline `{}`: the spool is full; the source waits", self.name));
        }
        out
    }
}

/// Held while a lane retries an unavailable target.
pub struct FailingLane(Arc<PipelineStats>);

impl Drop for FailingLane {
    fn drop(&mut self) {
        self.0.failing_lanes.fetch_sub(1, Relaxed);
    }
}

/// Every pipeline of this process.
pub struct Registry {
    pipelines: Vec<Arc<PipelineStats>>,
    started: SystemTime,
}

impl Registry {
    /// A registry of `pipelines`.
    pub fn new(pipelines: Vec<Arc<PipelineStats>>) -> Self {
        Registry { pipelines, started: SystemTime::now() }
    }

    /// `/health`: status code and JSON body.
    pub fn health(&self) -> (u16, String) {
        let problems: Vec<String> = self.pipelines.iter().flat_map(|p| p.problems()).collect();
        let mut body = String::from("{");
        let _ = write!(body, "\"status\":\"{}\",\"problems\":[", if problems.is_empty() { "ok" } else { "unhealthy" });
        for (i, p) in problems.iter().enumerate() {
            let _ = write!(body, "{}{}", if i > 0 { "," } else { "" }, json_string(p));
        }
        body.push_str("],\"pipelines\":{");
        for (i, p) in self.pipelines.iter().enumerate() {
            let _ = write!(
                body,
                "{}{}:{{\"records_received\":{},\"records_applied\":{},\"dead_letters\":{},\"checkpoint_seq\":{},\"source_restarts\":{},\"target_failing_lanes\":{},\"spool_bytes\":{}}}",
                if i > 0 { "," } else { "" },
                json_string(&p.name),
                p.records.load(Relaxed),
                p.applied.load(Relaxed),
                p.dead_lettered.load(Relaxed),
                p.checkpoint_seq.load(Relaxed),
                p.source_restarts.load(Relaxed),
                p.failing_lanes.load(Relaxed),
                p.spool_bytes.load(Relaxed),
            );
        }
        let _ = writeln!(body, "}},\"started\":{}}}", json_string(&format_utc(self.started)));
        (if problems.is_empty() { 200 } else { 503 }, body)
    }

    /// `/metrics` in the Prometheus text format.
    pub fn metrics(&self) -> String {
        let now = now_ms();
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, value: &dyn Fn(&PipelineStats) -> Option<String>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for p in &self.pipelines {
                if let Some(v) = value(p) {
                    let _ = writeln!(out, "{name}{{pipeline={}}} {v}", json_string(&p.name));
                }
            }
        };
        let n = |a: &AtomicU64| a.load(Relaxed).to_string();
        family("logferry_records_received_total", "counter", "Records received from the source (heartbeats included).", &|p| Some(n(&p.records)));
        family("logferry_records_applied_total", "counter", "Records every target durably applied.", &|p| Some(n(&p.applied)));
        family("logferry_dead_letters_total", "counter", "Records set aside in the dead-letter store by this process.", &|p| Some(n(&p.dead_lettered)));
        family("logferry_checkpoint_seq", "gauge", "Sequence number of the last checkpoint written by this process.", &|p| Some(n(&p.checkpoint_seq)));
        family("logferry_checkpoint_age_seconds", "gauge", "Seconds since the last checkpoint write (absent before the first).", &|p| {
            let at = p.checkpoint_ms.load(Relaxed);
            (at > 0).then(|| format!("{:.3}", now.saturating_sub(at) as f64 / 1000.0))
        });
        family("logferry_source_restarts_total", "counter", "Source restarts after transient failures.", &|p| Some(n(&p.source_restarts)));
        family("logferry_target_failing_lanes", "gauge", "Lanes retrying an unavailable target now.", &|p| Some(n(&p.failing_lanes)));
        family("logferry_spool_bytes", "gauge", "Bytes held in the durable spool (absent without a spool).", &|p| {
            p.spooled.load(Relaxed).then(|| n(&p.spool_bytes))
        });
        family("logferry_up", "gauge", "1 while the pipeline runs, 0 once it stopped.", &|p| {
            Some(if p.stopped.lock().expect("not poisoned").is_some() { "0" } else { "1" }.to_string())
        });
        let secs = |a: &AtomicU64| format!("{:.6}", a.load(Relaxed) as f64 / 1e9);
        family("logferry_source_blocked_seconds_total", "counter", "Seconds the source waited for room in the pipeline (the rest was slower).", &|p| Some(secs(&p.source_blocked_ns)));
        family("logferry_route_seconds_total", "counter", "Seconds spent numbering and routing records to lanes.", &|p| Some(secs(&p.route_ns)));
        family("logferry_apply_seconds_total", "counter", "Seconds lanes spent in target applies, summed over lanes.", &|p| Some(secs(&p.apply_ns)));
        let name = "logferry_commit_latency_seconds";
        let _ = writeln!(out, "# HELP {name} Source commit to applied by every target, per source transaction (bucket upper bounds).\n# TYPE {name} summary");
        for p in &self.pipelines {
            let l = p.latency();
            let label = json_string(&p.name);
            for (q, v) in [("0.5", l.p50_ms), ("0.95", l.p95_ms), ("0.99", l.p99_ms)] {
                let _ = writeln!(out, "{name}{{pipeline={label},quantile=\"{q}\"}} {:.6}", v / 1000.0);
            }
            let _ = writeln!(out, "{name}_sum{{pipeline={label}}} {:.6}", l.mean_ms * l.count as f64 / 1000.0);
            let _ = writeln!(out, "{name}_count{{pipeline={label}}} {}", l.count);
        }
        out
    }
}

/// A JSON string literal (also a valid Prometheus label value).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Binding the admin address failed.
#[derive(Debug, thiserror::Error)]
#[error("admin.listen {addr}: cannot listen there ({source}); pick a free port, or remove [admin]")]
pub struct AdminError {
    /// The configured address.
    pub addr: SocketAddr,
    /// Why.
    pub source: std::io::Error,
}

/// Binds the admin address (warning when it is not loopback).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, AdminError> {
    let listener = TcpListener::bind(addr).await.map_err(|source| AdminError { addr, source })?;
    let local = listener.local_addr().map_err(|source| AdminError { addr, source })?;
    if !addr.ip().is_loopback() {
        tracing::warn!(listen = %local,
            "the admin endpoint listens on a non-loopback address and has no authentication: anyone who can reach it sees pipeline names and progress");
    }
    tracing::info!(listen = %local, "admin endpoint listening (/health, /metrics)");
    Ok(listener)
}

/// Serves requests until the process ends.
pub async fn serve(listener: TcpListener, registry: Arc<Registry>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let registry = registry.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), answer(stream, &registry)).await;
        });
    }
}

/// Reads one request head and answers it; the connection is then closed.
async fn answer(mut stream: TcpStream, registry: &Registry) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > 16 * 1024 {
            return respond(&mut stream, 431, "text/plain", "request head too large\n").await;
        }
    }
    let line = String::from_utf8_lossy(head.split(|b| *b == b'\n').next().unwrap_or_default()).into_owned();
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/health") => {
            let (code, body) = registry.health();
            respond(&mut stream, code, "application/json", &body).await
        }
        ("GET", "/metrics") => respond(&mut stream, 200, "text/plain; version=0.0.4", &registry.metrics()).await,
        ("GET", _) => respond(&mut stream, 404, "text/plain", "not found: try /health or /metrics\n").await,
        _ => respond(&mut stream, 405, "text/plain", "only GET\n").await,
    }
}

async fn respond(stream: &mut TcpStream, code: u16, content_type: &str, body: &str) -> std::io::Result<()> {
    let reason = match code {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_turns_unhealthy_while_a_target_fails_or_a_pipeline_stopped_with_an_error() {
        let a = Arc::new(PipelineStats::new("shop"));
        let b = Arc::new(PipelineStats::new("we\"ird"));
        let reg = Registry::new(vec![a.clone(), b.clone()]);
        let (code, body) = reg.health();
        assert_eq!(code, 200, "{body}");
        assert!(body.starts_with("{\"status\":\"ok\",\"problems\":[]"), "{body}");
        assert!(body.contains("\"we\\\"ird\":{"), "names are escaped: {body}");
        let failing = a.lane_failing();
        let second = a.lane_failing();
        let (code, body) = reg.health();
        assert_eq!(code, 503);
        assert!(body.contains("pipeline `shop`: a target is unavailable (2 lane(s) retrying since"), "{body}");
        drop(failing);
        drop(second);
        assert_eq!(reg.health().0, 200, "back when the lanes recovered");
        b.stopped(Some("target x: boom".into()));
        let (code, body) = reg.health();
        assert_eq!(code, 503);
        assert!(body.contains("stopped: target x: boom"), "{body}");
        a.spool_full(true);
        assert!(reg.health().1.contains("the spool is full"));
    }

    #[test]
    fn metrics_are_prometheus_text_per_pipeline() {
        let a = Arc::new(PipelineStats::new("shop"));
        let reg = Registry::new(vec![a.clone()]);
        for _ in 0..5 {
            a.received();
        }
        a.applied(4, 1);
        a.checkpointed(4);
        let text = reg.metrics();
        for want in [
            "# TYPE logferry_records_received_total counter",
            "logferry_records_received_total{pipeline=\"shop\"} 5",
            "logferry_records_applied_total{pipeline=\"shop\"} 3",
            "logferry_dead_letters_total{pipeline=\"shop\"} 1",
            "logferry_checkpoint_seq{pipeline=\"shop\"} 4",
            "logferry_checkpoint_age_seconds{pipeline=\"shop\"} 0.",
            "logferry_target_failing_lanes{pipeline=\"shop\"} 0",
            "logferry_up{pipeline=\"shop\"} 1",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("logferry_spool_bytes{"), "no spool, no series");
        a.spool_bytes(1234);
        a.stopped(None);
        let text = reg.metrics();
        assert!(text.contains("logferry_spool_bytes{pipeline=\"shop\"} 1234") && text.contains("logferry_up{pipeline=\"shop\"} 0"), "{text}");
    }

    #[test]
    fn latency_quantiles_come_from_the_recorded_values() {
        let h = LatencyHistogram::default();
        assert_eq!(h.summary().count, 0);
        // 1..=1000 ms, one each: p50 is 500 ms, p95 950, p99 990, max 1000.
        for ms in 1..=1000u64 {
            h.record(ms * 1000);
        }
        let l = h.summary();
        assert_eq!((l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms), (1000, 500.0, 950.0, 990.0, 1000.0), "{l:?}");
        assert!((l.mean_ms - 500.5).abs() < 1e-9, "{l:?}");
        // Fine buckets below 10 ms, coarse ones above 1 s, overflow past 60 s.
        h.reset();
        h.record(250);
        h.record(2_345_000);
        h.record(90_000_000);
        let l = h.summary();
        assert_eq!(l.buckets, vec![(0.3, 1), (2400.0, 1), (90_000.0, 1)], "{l:?}");
        assert_eq!((l.p50_ms, l.p99_ms), (2400.0, 90_000.0), "{l:?}");
        let stats = PipelineStats::new("shop");
        stats.transaction_applied(SystemTime::now() - Duration::from_millis(40));
        stats.transaction_applied(SystemTime::now() + Duration::from_secs(5));
        let l = stats.latency();
        assert_eq!(l.count, 2);
        // At least the 40 ms it was behind; the upper bound only leaves room
        // for the scheduler between the two clock reads (no timing asserted).
        assert!((40.0..1000.0).contains(&l.max_ms), "{l:?}");
        assert_eq!(l.p50_ms, 0.1, "a commit time ahead of this clock counts as 0: {l:?}");
        let text = Registry::new(vec![Arc::new(stats)]).metrics();
        assert!(text.contains("logferry_commit_latency_seconds_count{pipeline=\"shop\"} 2"), "{text}");
        let p99 = format!("logferry_commit_latency_seconds{{pipeline=\"shop\",quantile=\"0.99\"}} {:.6}", l.p99_ms / 1000.0);
        assert!(l.p99_ms >= 40.0 && text.contains(&p99), "{text}");
    }

    #[tokio::test]
    async fn answers_http_requests_on_its_socket() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(PipelineStats::new("shop"));
        tokio::spawn(serve(listener, Arc::new(Registry::new(vec![stats.clone()]))));
        let get = |req: &'static str| async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        };
        let r = get("GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n") && r.contains("Content-Type: application/json") && r.ends_with("\n"), "{r}");
        let _failing = stats.lane_failing();
        let r = get("GET /health HTTP/1.1\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n") && r.contains("\"status\":\"unhealthy\""), "{r}");
        let r = get("GET /metrics HTTP/1.0\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n") && r.contains("logferry_target_failing_lanes{pipeline=\"shop\"} 1"), "{r}");
        assert!(get("GET /nope HTTP/1.1\r\n\r\n").await.starts_with("HTTP/1.1 404"));
        assert!(get("POST /health HTTP/1.1\r\n\r\n").await.starts_with("HTTP/1.1 405"));
    }
}
