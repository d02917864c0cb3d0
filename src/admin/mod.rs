//! The admin and control endpoint of a running `logferry run`: probes,
//! metrics, a status page, live status and copy requests, over plain
//! HTTP/1.1 on two transports that share one handler ([`Registry::answer`]):
//!
//! - TCP at `[admin] listen` (optional), with `[admin] token` (a bearer
//!   token) needed for every route but `GET /health` and `GET /ready`;
//!   the config refuses a listen address that is not loopback without a
//!   token;
//! - always, while `run` holds the state dir, the Unix socket
//!   `<state_dir>/logferry.sock` ([`SOCKET_NAME`]; a stale one is removed
//!   at start, and a path too long for a Unix socket is logged and left
//!   out), without a token: the state dir's permissions guard it.
//!   `logferry status` and `logferry snapshot` talk to it ([`client`]).
//!
//! Each transport bounds its connections, the time a request head may
//! take, and backs off while `accept` fails: see `http.rs`.
//!
//! # Routes
//!
//! - `GET /health`: `200` with `{"status":"ok",…}` while every pipeline
//!   runs and every target takes records; `503` with `"unhealthy"` and one
//!   line per problem (a pipeline that stopped with an error, a target
//!   unavailable and since when, a full spool).
//! - `GET /ready`: `503` until every pipeline's source has sent its first
//!   record and every table copy it started is done, and while a
//!   pipeline's lag exceeds `[admin] ready_max_lag` (no bound by default)
//!   or a pipeline stopped; `200` otherwise. The JSON body gives the reasons.
//! - `GET /metrics`: the Prometheus text format (`metrics.rs`).
//! - `GET /`: the status page (`page.rs`), one self-contained HTML page
//!   that draws `/status` every few seconds.
//! - `GET /status`: JSON, below.
//! - `POST /copy`, `GET /copy?pipeline=P&id=N`: copy requests (`control.rs`).
//!
//! # `/status`
//!
//! `{"running":true, "pid", "version", "started_unix_ms", "now_unix_ms",
//! "sample_interval_seconds", "history_seconds", "ready_max_lag_seconds",
//! "pipelines":[…]}`; per pipeline: `name`; `state` (`starting`,
//! `copying`, `streaming`, `retrying` a target, `stopped`, `failed`) and
//! `summary` (a line saying it: copy progress with rows/s and ETA, since
//! when a target is retried, the error); `error`; `retrying_since_unix_ms`;
//! counters (`records_received`, `records_applied`, `dead_letters`,
//! `records_filtered`, `records_invalid`, `target_retries`,
//! `source_restarts`); `records_per_second` (applied, over the last
//! minute); `lag_seconds` (now minus the commit time of the oldest record
//! received but not yet applied, 0 when nothing is in flight);
//! `behind_bytes` (where the source says); `applied_through_unix_ms`;
//! `checkpoint` (`seq`, `position`, `unix_ms`, `age_seconds`);
//! `spool_bytes`; `commit_latency_ms`; `tables` (per source table: `state`,
//! `copy` progress — rows, estimate, chunks and their estimated total,
//! rows/s, ETA — and `applied` counts per operation); `copy_requests`; and
//! `history`: one point per [`SAMPLE_INTERVAL`](crate::pipeline::SAMPLE_INTERVAL)
//! over the last 15 minutes (`t` unix ms, `applied_per_s`,
//! `received_per_s`, `lag_s`), recorded by a sampler task this module
//! starts (so the page shows history even when nobody was looking).
//!
//! **`applied_through_unix_ms`** is the latest source time up to which
//! everything is applied: the commit timestamp of the last transaction
//! every target applied, or, when the pipeline has nothing in flight
//! (every record received is acknowledged), the wall-clock time at which
//! the last acknowledged record (heartbeats included) was received; it
//! never goes back, and is `null` before the first. A reader that changed
//! the source at time T (or read it at T) and waits until this field is at
//! least T knows that every change committed before T has landed in the
//! targets, up to the delay with which the source delivers its log (a
//! heartbeat is as recent as the source sent it). `logferry verify` waits
//! on it this way. See `crate::pipeline`'s stats docs for how it is kept.
//!
//! It answers from the request and the pipelines' figures alone: no
//! configuration, no secrets (the token is only compared), no record
//! contents (a copy request's keys go to the source, never to a log; a
//! stopped pipeline's error carries no row values, see [`crate::redact`]). Each pipeline updates its [`PipelineStats`] with atomics; a
//! request takes a snapshot of them.

pub mod client;
mod control;
mod http;
mod metrics;
mod page;
mod status;

pub use http::{Request, CONNECTION_TIMEOUT, HEAD_TIMEOUT, MAX_BODY, MAX_CONNECTIONS, MAX_HEAD};
pub use metrics::label_value;
pub use status::human_seconds;

use crate::config::AdminConfig;
use crate::pipeline::PipelineStats;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, UnixListener};

/// The control socket's file name in the state dir.
pub const SOCKET_NAME: &str = "logferry.sock";

/// Longest path a Unix socket address holds on Linux (`sun_path` is 108
/// bytes with its terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

/// The control socket of a state dir.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET_NAME)
}

/// One answer: status code, content type and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// HTTP status code.
    pub code: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Response {
    /// A plain-text answer.
    pub fn text(code: u16, body: &str) -> Self {
        Response { code, content_type: "text/plain; charset=utf-8", body: body.to_string() }
    }

    /// A JSON answer (one line).
    pub fn json(code: u16, value: &serde_json::Value) -> Self {
        Response { code, content_type: "application/json", body: format!("{value}\n") }
    }
}

/// Every pipeline of this process, and what the endpoint needs to answer.
pub struct Registry {
    pipelines: Vec<Arc<PipelineStats>>,
    started: SystemTime,
    /// `[admin] ready_max_lag`.
    ready_max_lag: Option<Duration>,
}

impl Registry {
    /// A registry of `pipelines`; `/ready` bounds their lag by `ready_max_lag`.
    pub fn new(pipelines: Vec<Arc<PipelineStats>>, ready_max_lag: Option<Duration>) -> Self {
        Registry { pipelines, started: SystemTime::now(), ready_max_lag }
    }

    /// Answers one request (both transports).
    pub fn answer(&self, r: &Request) -> Response {
        let from_status = |(code, body): (u16, String)| Response { code, content_type: "application/json", body };
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/health") => from_status(self.health()),
            ("GET", "/ready") => from_status(self.ready()),
            ("GET", "/metrics") => Response { code: 200, content_type: "text/plain; version=0.0.4; charset=utf-8", body: self.metrics() },
            ("GET", "/status") => Response::json(200, &self.status()),
            ("GET", "/") => Response { code: 200, content_type: "text/html; charset=utf-8", body: page::PAGE.to_string() },
            ("GET", "/copy") => self.copy_state(r.param("pipeline"), r.param("id")),
            ("POST", "/copy") => self.copy_submit(&r.body),
            (_, "/health" | "/ready" | "/metrics" | "/status" | "/") => Response::text(405, "only GET here\n"),
            (_, "/copy") => Response::text(405, "GET or POST /copy\n"),
            _ => Response::text(404, "not found: try /, /health, /ready, /metrics, /status or /copy\n"),
        }
    }

    /// Records a history sample of every pipeline.
    fn sample(&self) {
        for p in &self.pipelines {
            p.sample();
        }
    }
}

/// Binding an admin transport failed.
#[derive(Debug, thiserror::Error)]
#[error("admin.listen {addr}: cannot listen there ({source}); pick a free port, or remove [admin]")]
pub struct AdminError {
    /// The configured address.
    pub addr: SocketAddr,
    /// Why.
    pub source: std::io::Error,
}

/// Binds the admin address.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, AdminError> {
    let listener = TcpListener::bind(addr).await.map_err(|source| AdminError { addr, source })?;
    let local = listener.local_addr().map_err(|source| AdminError { addr, source })?;
    tracing::info!(listen = %local, "admin endpoint listening (/, /health, /ready, /metrics, /status, /copy)");
    Ok(listener)
}

/// Binds the control socket of `state_dir`, replacing a stale one (the
/// caller holds the state dir, so no other process serves it). `None`,
/// with a warning, when the path is too long or the socket cannot be made.
fn bind_socket(state_dir: &Path) -> Option<(UnixListener, PathBuf)> {
    let path = socket_path(state_dir);
    if path.as_os_str().len() > MAX_SOCKET_PATH {
        tracing::warn!(path = %path.display(), max = MAX_SOCKET_PATH,
            "the control socket's path is too long for a Unix socket: running without it (`logferry status` and `snapshot` then use [admin] listen; a shorter state_dir path brings it back)");
        return None;
    }
    match std::fs::remove_file(&path) {
        Ok(()) => tracing::debug!(path = %path.display(), "removed a stale control socket"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot remove the old control socket"),
    }
    match UnixListener::bind(&path) {
        Ok(l) => {
            tracing::info!(path = %path.display(), "control socket listening");
            Some((l, path))
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot create the control socket: running without it");
            None
        }
    }
}

/// The running endpoint; dropping it removes the control socket file.
pub struct Endpoint {
    socket: Option<PathBuf>,
    /// The TCP address actually bound (the configured port may be 0).
    pub listen: Option<SocketAddr>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if let Some(path) = &self.socket {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Starts the endpoint for `registry`: the TCP listener when `admin` is
/// configured, the control socket in `state_dir` (which the caller holds),
/// and the sampler that records each pipeline's history.
pub async fn start(admin: Option<&AdminConfig>, state_dir: &Path, registry: Arc<Registry>) -> Result<Endpoint, AdminError> {
    let mut listen = None;
    if let Some(admin) = admin {
        let listener = bind(admin.listen).await?;
        listen = listener.local_addr().ok();
        if admin.token.is_some() {
            tracing::info!("the admin endpoint's routes but /health and /ready need the [admin] token (Authorization: Bearer …)");
        }
        tokio::spawn(http::serve_tcp(listener, registry.clone(), http::Access { token: admin.token.clone() }));
    }
    let socket = bind_socket(state_dir).map(|(listener, path)| {
        tokio::spawn(http::serve_unix(listener, registry.clone()));
        path
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::pipeline::SAMPLE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            registry.sample();
        }
    });
    Ok(Endpoint { socket, listen })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S, req: &str) -> String {
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn answers_http_requests_on_its_tcp_address_and_its_socket() {
        let dir = tempfile::tempdir().unwrap();
        let stats = Arc::new(PipelineStats::new("shop"));
        let registry = Arc::new(Registry::new(vec![stats.clone()], None));
        let admin = AdminConfig { listen: "127.0.0.1:0".parse().unwrap(), ready_max_lag: None, token: None };
        // A stale socket file from a killed run is replaced.
        std::fs::write(socket_path(dir.path()), b"stale").unwrap();
        let endpoint = start(Some(&admin), dir.path(), registry).await.unwrap();
        let addr = endpoint.listen.unwrap();
        let get = |req: &'static str| async move { exchange(tokio::net::TcpStream::connect(addr).await.unwrap(), req).await };
        let r = get("GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n") && r.contains("Content-Type: application/json") && r.ends_with("\n"), "{r}");
        let _failing = stats.targets.lane_failing();
        let r = get("GET /health HTTP/1.1\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n") && r.contains("\"status\":\"unhealthy\""), "{r}");
        let r = get("GET /metrics HTTP/1.0\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n") && r.contains("logferry_target_failing_lanes{pipeline=\"shop\"} 1"), "{r}");
        assert!(get("GET /nope HTTP/1.1\r\n\r\n").await.starts_with("HTTP/1.1 404"));
        assert!(get("POST /health HTTP/1.1\r\n\r\n").await.starts_with("HTTP/1.1 405"));
        let r = get("GET / HTTP/1.1\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n") && r.contains("text/html") && r.contains("createElementNS"), "{r}");

        let sock = socket_path(dir.path());
        let unix = |req: String| {
            let sock = sock.clone();
            async move { exchange(tokio::net::UnixStream::connect(sock).await.unwrap(), &req).await }
        };
        let r = unix("GET /status HTTP/1.1\r\n\r\n".into()).await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        let body: serde_json::Value = serde_json::from_str(r.split_once("\r\n\r\n").unwrap().1).unwrap();
        assert_eq!(body["pipelines"][0]["name"], "shop");
        assert_eq!(body["pipelines"][0]["state"], "retrying");
        let post = "{\"pipeline\":\"shop\",\"table\":\"public.orders\"}\n";
        let r = unix(format!("POST /copy HTTP/1.1\r\nContent-Length: {}\r\n\r\n{post}", post.len())).await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n") && r.contains("{\"id\":1,"), "{r}");
        assert_eq!(stats.requests.list().len(), 1);

        drop(endpoint);
        assert!(!sock.exists(), "the socket file goes with the endpoint");
    }

    #[tokio::test]
    async fn a_state_dir_path_too_long_for_a_socket_runs_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("d".repeat(120));
        std::fs::create_dir_all(&deep).unwrap();
        let registry = Arc::new(Registry::new(vec![Arc::new(PipelineStats::new("shop"))], None));
        let endpoint = start(None, &deep, registry).await.unwrap();
        assert!(endpoint.socket.is_none() && !socket_path(&deep).exists());
    }
}
