//! The admin endpoint under abuse, over real sockets: many idle
//! connections do not lock `/health` out, a client that sends its request
//! a byte at a time is answered `408` and closed without holding anyone
//! up, `[admin] token` guards every route but the probes on TCP (not the
//! control socket), and a listen address that is not loopback without a
//! token is refused at start.

use crate::support::binary::{text, Scratch};
use logferry::admin::client::{self, Endpoint as ClientEndpoint};
use logferry::admin::{Registry, HEAD_TIMEOUT, MAX_CONNECTIONS};
use logferry::config::{AdminConfig, Secret};
use logferry::pipeline::PipelineStats;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An endpoint on 127.0.0.1 (a free port) for one pipeline `shop`.
async fn endpoint(token: Option<&str>) -> (logferry::admin::Endpoint, AdminConfig, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let registry = Arc::new(Registry::new(vec![Arc::new(PipelineStats::new("shop"))], None));
    let admin = AdminConfig { listen: "127.0.0.1:0".parse().unwrap(), ready_max_lag: None, token: token.map(Secret::new) };
    let ep = logferry::admin::start(Some(&admin), dir.path(), registry).await.unwrap();
    let admin = AdminConfig { listen: ep.listen.unwrap(), ..admin };
    (ep, admin, dir)
}

/// One request on a fresh connection; the whole answer (blocking I/O, so
/// call it from a blocking thread).
fn exchange(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

async fn get(addr: SocketAddr, request: &'static str) -> String {
    tokio::task::spawn_blocking(move || exchange(addr, request)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_idle_connections_do_not_lock_health_out() {
    let (ep, admin, _dir) = endpoint(None).await;
    let addr = admin.listen;
    // Three times the bound of connections that never send a byte.
    let idle: Vec<TcpStream> = (0..3 * MAX_CONNECTIONS).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let made = Instant::now();
    // /health answers on a connection made after every idle one.
    for _ in 0..3 {
        let r = get(addr, "GET /health HTTP/1.1\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    }
    // At most MAX_CONNECTIONS stay open: the oldest idle ones were closed
    // to make room (long before their head time ran out), the newest not.
    let state = |mut s: &TcpStream| {
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let mut b = [0u8; 1];
        match s.read(&mut b) {
            Ok(0) => "closed",
            Ok(_) => "answered",
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => "open",
            Err(_) => "closed",
        }
    };
    // (Closing is the server task's last step: poll each a little.)
    let deadline = Instant::now() + Duration::from_secs(5);
    for (i, s) in idle.iter().enumerate().take(2 * MAX_CONNECTIONS) {
        while state(s) == "open" && Instant::now() < deadline {}
        assert_eq!(state(s), "closed", "idle connection #{i} of {}", idle.len());
    }
    let newest = &idle[idle.len() - MAX_CONNECTIONS / 2..];
    let open = newest.iter().filter(|s| state(s) == "open").count();
    if made.elapsed() < HEAD_TIMEOUT - Duration::from_secs(1) {
        assert_eq!(open, newest.len(), "the newest idle connections are still open");
    }
    drop(idle);
    drop(ep);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_sender_is_cut_off_with_408_and_holds_no_one_up() {
    let (ep, admin, _dir) = endpoint(None).await;
    let addr = admin.listen;
    let started = Instant::now();
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let request = format!("GET /health HTTP/1.1\r\nX-Padding: {}\r\n\r\n", "a".repeat(200));
        let mut answer = Vec::new();
        for b in request.as_bytes() {
            // One byte per 100 ms: the whole head would take over 20 s.
            if s.write_all(&[*b]).is_err() {
                break;
            }
            let mut buf = [0u8; 256];
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
            if !answer.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = s.read_to_end(&mut answer);
        (String::from_utf8_lossy(&answer).into_owned(), started.elapsed())
    });
    // Meanwhile others are answered at once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..5 {
        let r = get(addr, "GET /health HTTP/1.1\r\n\r\n").await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    }
    let (answer, after) = tokio::task::spawn_blocking(move || slow.join().unwrap()).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "the slow sender is told: {answer:?}");
    assert!(after >= HEAD_TIMEOUT && after < Duration::from_secs(20), "cut off by the head timeout, not at the end of its request: {after:?}");
    drop(ep);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_guards_every_route_but_the_probes_on_tcp_only() {
    let (ep, admin, dir) = endpoint(Some("t0k-3141")).await;
    let addr = admin.listen;
    for probe in ["GET /health HTTP/1.1\r\n\r\n", "GET /ready HTTP/1.1\r\n\r\n"] {
        let r = get(addr, probe).await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n") || r.starts_with("HTTP/1.1 503 "), "probes need no token: {r}");
    }
    for (request, code) in [
        ("GET /status HTTP/1.1\r\n\r\n", "401"),
        ("GET /metrics HTTP/1.1\r\n\r\n", "401"),
        ("GET / HTTP/1.1\r\n\r\n", "401"),
        ("POST /copy HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "401"),
        ("GET /status HTTP/1.1\r\nAuthorization: Bearer wrong\r\n\r\n", "401"),
        ("GET /status HTTP/1.1\r\nAuthorization: Basic dDBrLTMxNDE=\r\n\r\n", "401"),
        ("GET /status HTTP/1.1\r\nAuthorization: Bearer t0k-3141\r\n\r\n", "200"),
        ("GET /metrics HTTP/1.1\r\nauthorization: bearer t0k-3141\r\n\r\n", "200"),
    ] {
        let r = get(addr, request).await;
        assert!(r.starts_with(&format!("HTTP/1.1 {code} ")), "{request:?}: {r}");
        if code == "401" {
            assert!(r.contains("WWW-Authenticate: Bearer") && r.contains("Authorization: Bearer <[admin] token>"), "{r}");
        }
    }
    // logferry's own client sends the token of the config.
    let a = client::request(&ClientEndpoint::admin(&admin), "GET", "/status", None).await.unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    let no_token = ClientEndpoint::Tcp(addr, None);
    assert_eq!(client::request(&no_token, "GET", "/status", None).await.unwrap().status, 401);
    // The control socket in the state dir needs none.
    let a = client::request(&ClientEndpoint::socket_of(dir.path()), "GET", "/status", None).await.unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    drop(ep);
}

#[test]
fn a_listen_address_that_is_not_loopback_needs_a_token() {
    let config = |admin: &str| {
        format!(
            r#"
state_dir = "state"
{admin}
[[pipeline]]
name = "gen"
[pipeline.source]
kind = "generate"
total = 10
[[pipeline.target]]
kind = "file"
path = "out/changes.jsonl"
"#
        )
    };
    let s = Scratch::new(&config("[admin]\nlisten = \"0.0.0.0:0\""));
    let out = s.run(&["run", "--once"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a config error: {err}");
    assert!(err.contains("admin.token") && err.contains("not a loopback address") && err.contains("LOGFERRY_ADMIN_TOKEN"), "{err}");
    // With a token (from the environment) it starts; an empty one is refused.
    let s = Scratch::new(&config("[admin]\nlisten = \"0.0.0.0:0\"\ntoken = \"${LF_TEST_ADMIN_TOKEN}\""));
    let out = s.command(&["run", "--once"]).env("LF_TEST_ADMIN_TOKEN", "zz-token-99").output().unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("zz-token-99"), "the token is never logged: {err}");
    let out = s.command(&["run", "--once"]).env("LF_TEST_ADMIN_TOKEN", "").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("admin.token") && text(&out.stderr).contains("is empty"), "{}", text(&out.stderr));
    // Loopback needs none.
    let s = Scratch::new(&config("[admin]\nlisten = \"127.0.0.1:0\""));
    assert!(s.run(&["run", "--once"]).status.success());
}
