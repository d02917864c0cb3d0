//! The operator's view of a running `logferry run`: `/metrics` read by a
//! strict Prometheus text parser with every metric the Grafana dashboard
//! and the alerting rules use; live `status` (text and `--json`) and copy
//! requests over the control socket in the state dir; `/ready` and the
//! `retrying` state through a target outage; the status page drawn by
//! headless Chromium against a PostgreSQL source under a write workload.

use crate::support::binary::{generate_config, text, Scratch};
use crate::support::http_server::{HttpServer, Reply};
use crate::support::prom;
use serde_json::Value;
use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Deadline for anything a running process should reach.
const WAIT: Duration = Duration::from_secs(60);

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// Polls `f` until it gives `Some`, or fails naming `what` (with the last
/// thing `f` saw, as its `Err`).
pub(crate) fn until<T>(what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        match f() {
            Ok(v) => return v,
            Err(last) if Instant::now() > deadline => panic!("timed out waiting for {what}; last seen:\n{last}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A running `logferry run`, SIGKILLed on drop, so a failing test does
/// not leave it running.
pub(crate) struct Running(pub Child);

impl Running {
    pub(crate) fn start(s: &Scratch) -> Self {
        Running(s.spawn(&["run"]))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Its stderr, line by line, read on a thread.
pub(crate) fn log_lines(child: &mut Child) -> Receiver<String> {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// The admin address the run logged (`listen = "127.0.0.1:0"` in the config).
pub(crate) fn admin_addr(log: &Receiver<String>) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let line = log
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("an `admin endpoint listening` line in time");
        if line.contains("admin endpoint listening") {
            return line.split("listen=").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
        }
    }
}

/// One HTTP/1.1 exchange on `stream`: (status, body).
fn exchange(mut stream: impl Read + Write, method: &str, target: &str, body: &str) -> (u16, String) {
    write!(stream, "{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("not HTTP: {out}"));
    (status, body.to_string())
}

pub(crate) fn http(addr: &str, method: &str, target: &str, body: &str) -> (u16, String) {
    exchange(std::net::TcpStream::connect(addr).unwrap(), method, target, body)
}

fn unix(socket: &Path, method: &str, target: &str, body: &str) -> (u16, String) {
    exchange(std::os::unix::net::UnixStream::connect(socket).unwrap(), method, target, body)
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

pub(crate) fn terminate(child: &mut Child) {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + WAIT;
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the run did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(child.wait().unwrap().success(), "the run failed");
}

/// Every `logferry_…` name in a file.
fn metric_names(file: &str) -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("logferry_") {
        let name: String = rest[i..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
        rest = &rest[i + name.len()..];
        names.insert(name);
    }
    names
}

#[test]
fn the_prometheus_text_parser_refuses_what_prometheus_refuses() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{pipeline=\"x\\\"y\\n\"} 3\n\
        # HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\n";
    let s = prom::parse(good).unwrap();
    assert_eq!(s.value("a_total", &[("pipeline", "x\"y\n")]), Some(3.0));
    assert_eq!(s.families["h"].samples.len(), 4);
    for (bad, why) in [
        ("a{l=\"x\\t\"} 1\n", "bad escape"),
        ("a{l=x} 1\n", "not quoted"),
        ("a 1x\n", "not a float"),
        ("1a 1\n", "bad metric name"),
        ("a{1l=\"x\"} 1\n", "bad label name"),
        ("a 1\n# TYPE a gauge\n", "after its samples"),
        ("# TYPE a gauge\n# TYPE a gauge\n", "second TYPE"),
        ("a 1\nb 1\na{x=\"1\"} 2\n", "continues after another family"),
        ("a 1\na 2\n", "the same series twice"),
        ("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", "not ascending and cumulative"),
        ("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n", "+Inf bucket"),
        ("a 1", "newline"),
    ] {
        let e = prom::parse(bad).expect_err(bad);
        assert!(e.contains(why), "{bad:?}: {e}");
    }
}

#[test]
fn metrics_parse_strictly_and_every_metric_of_the_dashboard_and_the_rules_exists() {
    let config = generate_config(1_000_000, "rate = 2000", "json")
        + "[pipeline.spool]\nmax_bytes = \"64MiB\"\n\n[admin]\nlisten = \"127.0.0.1:0\"\n";
    let s = Scratch::new(&config);
    let mut run = Running::start(&s);
    let log = log_lines(&mut run.0);
    let addr = admin_addr(&log);

    let scrape = until("records applied, a checkpoint and a sample of every family", || {
        let (status, body) = http(&addr, "GET", "/metrics", "");
        let scrape = prom::parse(&body).map_err(|e| panic!("{e}\n{body}")).unwrap();
        let applied = scrape.value("logferry_records_applied_total", &[("pipeline", "gen")]).unwrap_or(0.0);
        let aged = scrape.value("logferry_checkpoint_age_seconds", &[("pipeline", "gen")]).is_some();
        match status == 200 && applied > 0.0 && aged && scrape.value("logferry_spool_bytes", &[("pipeline", "gen")]).is_some() {
            true => Ok(scrape),
            false => Err(body),
        }
    });
    let used: Vec<String> = metric_names("config/grafana-dashboard.json").into_iter().chain(metric_names("config/prometheus-rules.yml")).collect();
    assert!(used.len() >= 20, "the dashboard and rules use the metrics: {used:?}");
    for name in &used {
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|sfx| name.strip_suffix(sfx).filter(|base| scrape.families.get(*base).is_some_and(|f| f.kind == "histogram" || f.kind == "summary")))
            .unwrap_or(name);
        let f = scrape.families.get(family).unwrap_or_else(|| panic!("{name} (used by config/) is not on /metrics"));
        assert!(!f.kind.is_empty() && !f.help.is_empty(), "{family} has TYPE and HELP");
        // Series that exist only when there is something to report say so in their HELP.
        if !f.help.contains("absent") {
            let sampled = if name == family { !f.samples.is_empty() } else { f.samples.iter().any(|x| x.name == *name) };
            assert!(sampled, "{name}: no sample in a running pipeline's scrape");
        }
    }
    // The new families carry what they claim.
    assert!(scrape.value("logferry_apply_batch_seconds_count", &[("pipeline", "gen")]).unwrap() > 0.0);
    assert!(scrape.value("logferry_batch_rows_sum", &[("pipeline", "gen")]).unwrap() > 0.0);
    let per_table = scrape.series("logferry_table_records_applied_total", &[("pipeline", "gen"), ("op", "insert")]);
    let tables: std::collections::BTreeSet<_> = per_table.iter().filter_map(|x| x.label("table")).collect();
    assert!(tables.iter().all(|t| t.starts_with("gen.t")) && !tables.is_empty(), "{per_table:?}");

    // The dashboard has its pipeline variable and filters every query by it.
    let dashboard = json(&std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/grafana-dashboard.json")).unwrap());
    assert!(dashboard["templating"]["list"].as_array().unwrap().iter().any(|v| v["name"] == "pipeline"), "a `pipeline` variable");
    let exprs: Vec<&str> = dashboard["panels"].as_array().unwrap().iter().flat_map(|p| p["targets"].as_array().into_iter().flatten()).filter_map(|t| t["expr"].as_str()).collect();
    assert!(exprs.len() >= 15 && exprs.iter().all(|e| e.contains("pipeline=~\"$pipeline\"")), "{exprs:?}");
    terminate(&mut run.0);
}

#[test]
fn live_status_and_copy_requests_go_to_the_running_process_over_its_socket() {
    // No [admin]: the control socket alone.
    let s = Scratch::new(&generate_config(3000, "rate = 1000", "json"));
    let socket = s.path("state/logferry.sock");
    let mut run = Running::start(&s);
    let _log = log_lines(&mut run.0);
    until("the control socket", || if socket.exists() { Ok(()) } else { Err("no socket yet".into()) });
    let status_json = || {
        let out = s.run(&["status", "--json"]);
        assert!(out.status.success(), "status --json: {}", text(&out.stderr));
        json(&text(&out.stdout))
    };
    until("the run to answer status with records", || {
        let v = status_json();
        match v["running"] == true && v["pipelines"][0]["records_applied"].as_u64() > Some(0) {
            true => Ok(()),
            false => Err(v.to_string()),
        }
    });
    assert!(socket.exists());
    let out = s.run(&["status"]);
    let t = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for want in ["logferry run (pid ", "pipeline gen: streaming", "checkpoint", "records/s over the last minute", "dead letters", "gen.t0", "insert "] {
        assert!(t.contains(want), "missing {want:?} in:\n{t}");
    }

    // Once everything is applied, `applied_through_unix_ms` passes the
    // moment we saw that (the idle rule: the time the last record, here a
    // heartbeat, was received).
    let v = until("all 3000 changes applied", || {
        let v = status_json();
        match v["pipelines"][0]["records_applied"] == 3000 {
            true => Ok(v),
            false => Err(v.to_string()),
        }
    });
    let p = &v["pipelines"][0];
    assert_eq!((p["name"].as_str(), p["state"].as_str()), (Some("gen"), Some("streaming")));
    assert_eq!(p["tables"].as_array().unwrap().len(), 3, "{p}");
    let seen = now_ms();
    until("applied_through_unix_ms to pass the moment everything was applied", || {
        let v = status_json();
        match v["pipelines"][0]["applied_through_unix_ms"].as_u64().is_some_and(|t| t >= seen) {
            true => Ok(()),
            false => Err(v["pipelines"][0].to_string()),
        }
    });

    // `snapshot` submits a whole-table request; the generator cannot copy
    // while it streams, so the request fails with the reason (exit 1).
    let out = s.run(&["snapshot", "--table", "gen.t1"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.starts_with("copy request #1: table gen.t1 of pipeline gen"), "{stdout}");
    assert!(stderr.contains("source generate cannot copy a table or keys while it streams"), "{stderr}");
    let (code, body) = unix(&socket, "GET", "/copy?pipeline=gen&id=1", "");
    assert_eq!(code, 200, "{body}");
    let r = json(&body);
    assert_eq!((r["state"].as_str(), r["table"].as_str(), r["keys"].is_null()), (Some("failed"), Some("gen.t1"), true), "{r}");
    // Keys as canonical JSON records; an unknown pipeline is refused with the names.
    let post = "{\"pipeline\":\"gen\",\"table\":\"gen.t2\"}\n{\"op\":\"insert\",\"key\":[\"id\"],\"after\":{\"id\":{\"int64\":7}}}\n";
    let (code, body) = unix(&socket, "POST", "/copy", post);
    assert_eq!((code, json(&body)["id"].as_u64(), json(&body)["keys"].as_u64()), (200, Some(2), Some(1)), "{body}");
    let (code, body) = unix(&socket, "POST", "/copy", "{\"pipeline\":\"nope\",\"table\":\"gen.t2\"}\n");
    assert_eq!(code, 404, "{body}");
    assert!(json(&body)["error"].as_str().unwrap().contains("it runs: gen"), "{body}");
    let t = until("both requests listed by status as failed", || {
        let t = text(&s.run(&["status"]).stdout);
        match t.contains("copy request #1 gen.t1 (whole table): failed") && t.contains("copy request #2 gen.t2 (1 key(s)): failed") {
            true => Ok(t),
            false => Err(t),
        }
    });
    assert!(t.contains("cannot copy a table or keys while it streams"), "{t}");

    terminate(&mut run.0);
    assert!(!socket.exists(), "the socket goes with the run");
    let out = s.run(&["status"]);
    let t = text(&out.stdout);
    assert!(out.status.success() && t.contains("not running: no `logferry run` holds") && t.contains("change 3000"), "{t}");
    assert_eq!(status_json()["running"], false);
    let out = s.run(&["snapshot", "--table", "gen.t1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("start `logferry run --config"), "{}", text(&out.stderr));
}

#[test]
fn ready_and_status_follow_a_target_outage() {
    let down = Arc::new(AtomicBool::new(true));
    let flag = down.clone();
    let server = HttpServer::start(move |_| Reply::status(if flag.load(Ordering::SeqCst) { 503 } else { 200 }));
    let config = format!(
        r#"
state_dir = "state"
[admin]
listen = "127.0.0.1:0"
ready_max_lag = "30s"
[[pipeline]]
name = "gen"
[pipeline.source]
kind = "generate"
total = 500
tables = 2
keys = 50
tx_size = 5
[[pipeline.target]]
kind = "http"
url = "{}"
timeout = "5s"
[pipeline.apply]
retry_backoff = "20ms"
retry_max_backoff = "200ms"
checkpoint_interval = "50ms"
"#,
        server.url
    );
    let s = Scratch::new(&config);
    let mut run = Running::start(&s);
    let log = log_lines(&mut run.0);
    let addr = admin_addr(&log);

    // The target refuses: the lanes retry and the changes wait in flight.
    let p = until("the pipeline to be retrying its target", || {
        let (_, body) = http(&addr, "GET", "/status", "");
        let p = json(&body)["pipelines"][0].clone();
        match p["state"] == "retrying" {
            true => Ok(p),
            false => Err(body),
        }
    });
    // Their commit times (the generator's, in 2024) are far more than 30 s ago.
    assert!(p["retrying_since_unix_ms"].as_u64().is_some() && p["lag_seconds"].as_f64().unwrap() > 30.0, "{p}");
    let (code, body) = http(&addr, "GET", "/ready", "");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("exceeds [admin] ready_max_lag (30.0s)") && json(&body)["ready"] == false, "{body}");
    let t = text(&s.run(&["status"]).stdout);
    assert!(t.contains("pipeline gen: retrying") && t.contains("retrying a target since"), "{t}");

    down.store(false, Ordering::SeqCst);
    let body = until("/ready to turn 200 once the target took everything", || {
        let (code, body) = http(&addr, "GET", "/ready", "");
        match code {
            200 => Ok(body),
            _ => Err(format!("{code} {body}")),
        }
    });
    assert_eq!(json(&body), serde_json::json!({"ready": true, "reasons": []}));
    let (_, body) = http(&addr, "GET", "/status", "");
    let p = &json(&body)["pipelines"][0];
    assert_eq!((p["state"].as_str(), p["records_applied"].as_u64(), p["lag_seconds"].as_f64()), (Some("streaming"), Some(500), Some(0.0)), "{p}");
    let scrape = prom::parse(&http(&addr, "GET", "/metrics", "").1).unwrap();
    assert!(scrape.value("logferry_target_retries_total", &[("pipeline", "gen")]).unwrap() > 0.0);
    assert_eq!(scrape.value("logferry_lag_seconds", &[("pipeline", "gen")]), Some(0.0));
    terminate(&mut run.0);
}
