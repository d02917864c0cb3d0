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
//!   `…_dead_letters_total`, `…_records_filtered_total`,
//!   `…_records_invalid_total`, `…_records_skipped_total` (the
//!   `[[pipeline.table]]` rules), `…_checkpoint_seq`,
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
//! when that is not a loopback address. It only reads: each pipeline
//! updates its [`PipelineStats`] (with the source's and the targets'
//! handles inside) with atomics; a request takes a snapshot of them.

use crate::pipeline::{PipelineStats, StatsSnapshot};
use crate::record::format_utc;
use crate::record::json::push_json_string;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Problems `/health` reports for one pipeline.
fn problems(name: &str, s: &StatsSnapshot) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Some(e)) = &s.stopped {
        out.push(format!("pipeline `{name}` stopped: {e}"));
    }
    if let Some(since) = s.failing_since {
        out.push(format!("pipeline `{name}`: a target is unavailable ({} lane(s) retrying since {})", s.failing_lanes, format_utc(since)));
    }
    if s.spool_full {
        out.push(format!("pipeline `{name}`: the spool is full; the source waits"));
    }
    out
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
        let snapshots: Vec<StatsSnapshot> = self.pipelines.iter().map(|p| p.snapshot()).collect();
        let problems: Vec<String> = self.pipelines.iter().zip(&snapshots).flat_map(|(p, s)| problems(&p.name, s)).collect();
        let mut body = String::from("{");
        let _ = write!(body, "\"status\":\"{}\",\"problems\":[", if problems.is_empty() { "ok" } else { "unhealthy" });
        for (i, p) in problems.iter().enumerate() {
            let _ = write!(body, "{}{}", if i > 0 { "," } else { "" }, json_string(p));
        }
        body.push_str("],\"pipelines\":{");
        for (i, (p, s)) in self.pipelines.iter().zip(&snapshots).enumerate() {
            let _ = write!(
                body,
                "{}{}:{{\"records_received\":{},\"records_applied\":{},\"dead_letters\":{},\"checkpoint_seq\":{},\"source_restarts\":{},\"target_failing_lanes\":{},\"spool_bytes\":{}}}",
                if i > 0 { "," } else { "" },
                json_string(&p.name),
                s.records,
                s.applied,
                s.dead_lettered,
                s.checkpoint_seq,
                s.source_restarts,
                s.failing_lanes,
                s.spool_bytes.unwrap_or(0),
            );
        }
        let _ = writeln!(body, "}},\"started\":{}}}", json_string(&format_utc(self.started)));
        (if problems.is_empty() { 200 } else { 503 }, body)
    }

    /// `/metrics` in the Prometheus text format.
    pub fn metrics(&self) -> String {
        let now = SystemTime::now();
        let snapshots: Vec<(&PipelineStats, StatsSnapshot)> = self.pipelines.iter().map(|p| (&**p, p.snapshot())).collect();
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, value: &dyn Fn(&PipelineStats, &StatsSnapshot) -> Option<String>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (p, s) in &snapshots {
                if let Some(v) = value(p, s) {
                    let _ = writeln!(out, "{name}{{pipeline={}}} {v}", json_string(&p.name));
                }
            }
        };
        family("logferry_records_received_total", "counter", "Records received from the source (heartbeats included).", &|_, s| Some(s.records.to_string()));
        family("logferry_records_applied_total", "counter", "Records every target durably applied.", &|_, s| Some(s.applied.to_string()));
        family("logferry_dead_letters_total", "counter", "Records set aside in the dead-letter store by this process.", &|_, s| Some(s.dead_lettered.to_string()));
        family("logferry_records_filtered_total", "counter", "Records a [[pipeline.table]] filter kept from the targets.", &|_, s| Some(s.filtered.to_string()));
        family("logferry_records_invalid_total", "counter", "Records that failed a [[pipeline.table]] validate rule (dead-lettered, stopped on or skipped).", &|_, s| Some(s.invalid.to_string()));
        family("logferry_records_skipped_total", "counter", "Records that failed a validate rule with on_invalid = \"skip\" and were dropped.", &|_, s| Some(s.skipped.to_string()));
        family("logferry_checkpoint_seq", "gauge", "Sequence number of the last checkpoint written by this process.", &|_, s| Some(s.checkpoint_seq.to_string()));
        family("logferry_checkpoint_age_seconds", "gauge", "Seconds since the last checkpoint write (absent before the first).", &|_, s| {
            s.checkpoint_at.map(|at| format!("{:.3}", now.duration_since(at).unwrap_or_default().as_millis() as f64 / 1000.0))
        });
        family("logferry_source_restarts_total", "counter", "Source restarts after transient failures.", &|_, s| Some(s.source_restarts.to_string()));
        family("logferry_target_failing_lanes", "gauge", "Lanes retrying an unavailable target now.", &|_, s| Some(s.failing_lanes.to_string()));
        family("logferry_spool_bytes", "gauge", "Bytes held in the durable spool (absent without a spool).", &|_, s| s.spool_bytes.map(|b| b.to_string()));
        family("logferry_up", "gauge", "1 while the pipeline runs, 0 once it stopped.", &|_, s| Some(if s.stopped.is_some() { "0" } else { "1" }.to_string()));
        let secs = |d: f64| format!("{d:.6}");
        family("logferry_source_blocked_seconds_total", "counter", "Seconds the source waited for room in the pipeline (the rest was slower).", &|p, _| Some(secs(p.stages().source_blocked_s)));
        family("logferry_route_seconds_total", "counter", "Seconds spent numbering and routing records to lanes.", &|p, _| Some(secs(p.stages().route_s)));
        family("logferry_apply_seconds_total", "counter", "Seconds lanes spent in target applies, summed over lanes.", &|p, _| Some(secs(p.stages().apply_s)));
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

/// A JSON string literal (also a valid Prometheus label value), quoted by
/// the crate's one escaper.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_string(&mut out, s);
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
        let failing = a.targets.lane_failing();
        let second = a.targets.lane_failing();
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
    fn the_rules_counters_reach_the_metrics() {
        use crate::config::OnInvalid;
        let a = Arc::new(PipelineStats::new("shop"));
        let reg = Registry::new(vec![a.clone()]);
        let t = Arc::new(crate::transform::TransformStats::default());
        a.set_transform(t.clone());
        t.count_invalid(OnInvalid::Skip);
        t.count_invalid(OnInvalid::Skip);
        t.count_invalid(OnInvalid::DeadLetter);
        let text = reg.metrics();
        for want in [
            "logferry_records_invalid_total{pipeline=\"shop\"} 3",
            "logferry_records_skipped_total{pipeline=\"shop\"} 2",
            "logferry_records_filtered_total{pipeline=\"shop\"} 0",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }

    #[test]
    fn commit_latency_is_a_prometheus_summary() {
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
        let _failing = stats.targets.lane_failing();
        let r = get("GET /health HTTP/1.1\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n") && r.contains("\"status\":\"unhealthy\""), "{r}");
        let r = get("GET /metrics HTTP/1.0\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n") && r.contains("logferry_target_failing_lanes{pipeline=\"shop\"} 1"), "{r}");
        assert!(get("GET /nope HTTP/1.1\r\n\r\n").await.starts_with("HTTP/1.1 404"));
        assert!(get("POST /health HTTP/1.1\r\n\r\n").await.starts_with("HTTP/1.1 405"));
    }
}
