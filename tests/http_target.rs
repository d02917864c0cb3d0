//! `kind = "http"`: the webhook target against a real HTTP server in the
//! test (support::http_server). Through the binary: batches as JSON arrays
//! of at most `batch_max_rows` with the configured header, every record once
//! and in order per key; 503s retried; a 400 dead-lettered with its status
//! and body; Idempotency-Keys stable across a SIGKILL and replay; 429's
//! Retry-After honoured; header values never in logs or errors. Through the
//! sink API: the same batch gives the same keys, timeouts are transient.

use crate::support::binary::{text, Scratch};
use crate::support::http_server::{HttpServer, Reply, Request};
use logferry::config::{Envelope, HttpTargetConfig, Secret, SecretUrl};
use logferry::record::Change;
use logferry::sinks::http::HttpSink;
use logferry::sinks::{Batch, Sink};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const TOKEN: &str = "tok-9f3e7a51c2d84b60";

/// A generate source into an http target at `url`; `source`, `target` and
/// `apply` are extra lines for those tables, `pipeline` for [[pipeline]].
fn config(url: &str, pipeline: &str, source: &str, target: &str, apply: &str) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "gen"
{pipeline}
[pipeline.source]
kind = "generate"
tables = 3
keys = 200
tx_size = 10
row_bytes = 16
seed = 5
{source}
[[pipeline.target]]
kind = "http"
url = "{url}"
headers = {{ Authorization = "Bearer ${{HOOK_TOKEN}}" }}
timeout = "5s"
{target}
[pipeline.apply]
retry_backoff = "20ms"
retry_max_backoff = "200ms"
{apply}
"#
    )
}

fn scratch(config: &str) -> Scratch {
    Scratch::new(config)
}

/// `logferry <args>` with the token in the environment.
fn run(s: &Scratch, args: &[&str]) -> std::process::Output {
    s.command(args).env("HOOK_TOKEN", TOKEN).output().unwrap()
}

fn run_once(s: &Scratch) -> std::process::Output {
    run(s, &["run", "--once"])
}

fn key(c: &Change) -> String {
    format!("{}{:?}", c.table.as_ref().map_or("", |t| t.name.as_str()), c.key_values())
}

/// Per key, the records arrived in seq order. A batch retried after a
/// later chunk failed repeats records already accepted: only first
/// arrivals are compared.
fn assert_key_order(changes: &[Change]) {
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for c in changes.iter().filter(|c| seen.insert(c.seq)) {
        if let Some(prev) = last.insert(key(c), c.seq) {
            assert!(prev < c.seq, "key {} got seq {} after {prev}", key(c), c.seq);
        }
    }
}

fn distinct(changes: &[Change]) -> BTreeSet<u64> {
    changes.iter().map(|c| c.seq).collect()
}

fn seqs(changes: &[Change]) -> Vec<u64> {
    let mut s: Vec<u64> = changes.iter().map(|c| c.seq).collect();
    s.sort_unstable();
    s
}

#[test]
fn batches_arrive_as_json_arrays_of_at_most_batch_max_rows_once_and_in_order_with_the_headers() {
    let server = HttpServer::scripted([]);
    let s = scratch(&config(&server.url, "", "total = 2000", "batch_max_rows = 30", "lanes = 4\nbatch_max_rows = 100"));
    let out = run_once(&s);
    assert!(out.status.success(), "run failed: {}", text(&out.stderr));
    let requests = server.requests();
    assert!(requests.len() >= 2000 / 30, "{} requests", requests.len());
    for r in &requests {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/changes"));
        assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("logferry-pipeline"), Some("gen"));
        let changes = r.changes();
        assert!(!changes.is_empty() && changes.len() <= 30, "{} events in one POST", changes.len());
        let (first, last) = (changes[0].seq, changes[changes.len() - 1].seq);
        assert_eq!(r.header("idempotency-key"), Some(format!("gen:{first}-{last}").as_str()));
        assert!(changes.iter().all(|c| c.pipeline == "gen" && c.source == "generate"));
    }
    let all = server.accepted_changes();
    assert_eq!(seqs(&all), (1..=2000).collect::<Vec<_>>(), "every record exactly once");
    assert_key_order(&all);
}

#[test]
fn the_503s_then_success_are_retried_in_order() {
    let server = HttpServer::start({
        let mut n = 0;
        move |_| {
            n += 1;
            Reply::status(if n <= 2 { 503 } else { 200 }).body("busy")
        }
    });
    let s = scratch(&config(&server.url, "", "total = 600", "batch_max_rows = 50", "lanes = 2\nbatch_max_rows = 100"));
    let out = run_once(&s);
    assert!(out.status.success(), "the pipeline goes on after 503s: {}", text(&out.stderr));
    let log = text(&out.stderr);
    assert!(log.contains("503") && log.contains("retrying"), "{log}");
    let requests = server.requests();
    assert_eq!(requests.iter().filter(|r| r.status == 503).count(), 2);
    // Each refused POST was sent again, with the same key.
    for refused in requests.iter().filter(|r| r.status == 503) {
        let again = requests.iter().any(|r| r.accepted() && r.header("idempotency-key") == refused.header("idempotency-key") && r.at > refused.at);
        assert!(again, "{:?} was retried", refused.header("idempotency-key"));
    }
    let all = server.accepted_changes();
    assert_eq!(distinct(&all), (1..=600).collect());
    assert_key_order(&all);
}

#[test]
fn a_400_is_dead_lettered_with_its_status() {
    // The first key of table t1 the server sees is refused, in every body holding it.
    let server = HttpServer::start({
        let mut poison: Option<String> = None;
        move |r: &Request| {
            let changes = r.changes();
            if poison.is_none() {
                poison = changes.iter().find(|c| c.table.as_ref().is_some_and(|t| t.name == "t1")).map(key);
            }
            match changes.iter().find(|c| Some(key(c)) == poison) {
                Some(c) => Reply::status(400).body(format!("unknown customer in record {}", c.seq)),
                None => Reply::status(200),
            }
        }
    });
    let s = scratch(&config(&server.url, "on_error = \"dead_letter\"", "total = 1000", "batch_max_rows = 25", "lanes = 2\nbatch_max_rows = 100"));
    let out = run_once(&s);
    assert!(out.status.success(), "run failed: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("set aside as dead letters"), "{}", text(&out.stderr));

    let listed = run(&s, &["dead-letters", "list", "--json"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let letters: Vec<serde_json::Value> = text(&listed.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!letters.is_empty());
    let refused: Vec<&serde_json::Value> = letters.iter().filter(|l| l["target"].as_str().is_some_and(|t| t.starts_with("http:"))).collect();
    assert_eq!(refused.len(), 1, "one record refused, the later ones of its key held back: {letters:?}");
    let error = refused[0]["error"].as_str().unwrap();
    assert!(error.contains("400") && error.contains(&format!("unknown customer in record {}", refused[0]["seq"])), "{error}");
    assert_eq!(refused[0]["target"], format!("http:{}", server.url));
    let table = text(&run(&s, &["dead-letters", "list"]).stdout);
    assert!(table.contains("400") && table.contains("unknown customer"), "{table}");

    // Everything else was applied, in order per key.
    let dead: BTreeSet<u64> = letters.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    let all = server.accepted_changes();
    let applied: BTreeSet<u64> = all.iter().map(|c| c.seq).collect();
    assert!(applied.is_disjoint(&dead));
    assert_eq!(applied.len() + dead.len(), 1000);
    assert_key_order(&all);
}

fn sink(url: &str, rows: usize, timeout: Duration) -> HttpSink {
    HttpSink::open(&HttpTargetConfig {
        url: SecretUrl::new(url),
        headers: vec![("Authorization".into(), Secret::new(format!("Bearer {TOKEN}")))],
        batch_max_rows: rows,
        timeout,
        envelope: Envelope::Logferry,
    })
    .unwrap()
}

fn batch(seqs: std::ops::RangeInclusive<u64>) -> Batch {
    let records = seqs
        .map(|seq| {
            let mut c = crate::support::change("a", logferry::record::Op::Insert, seq as i64, 1);
            c.pipeline = "p".into();
            c.seq = seq;
            c
        })
        .collect();
    Batch { lane: 0, records, order: None }
}

fn keys(requests: &[Request]) -> Vec<String> {
    requests.iter().map(|r| r.header("idempotency-key").unwrap_or("").to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_is_stable_across_a_replay() {
    // The same batch twice, the second time after the second chunk failed.
    let server = HttpServer::scripted([200, 200, 200, 200, 500]);
    let sink = sink(&server.url, 4, Duration::from_secs(5));
    let b = batch(11..=20);
    sink.apply(&b).await.unwrap();
    let e = sink.apply(&b).await.unwrap_err();
    assert!(e.is_transient() && e.message().contains("500"), "{e}");
    sink.apply(&b).await.unwrap();
    let k = keys(&server.requests());
    assert_eq!(k, ["p:11-14", "p:15-18", "p:19-20", "p:11-14", "p:15-18", "p:11-14", "p:15-18", "p:19-20"]);

    // Through the binary: SIGKILL mid-way, run again. Whole transactions in
    // one lane make the batches the same in both runs; checkpoints are rare,
    // so the second run replays what the first had sent.
    let server = HttpServer::scripted([]);
    let s = scratch(&config(
        &server.url,
        "",
        "total = 3000\nrate = 2000",
        "batch_max_rows = 4",
        "ordering = \"transaction\"\nbatch_max_rows = 10\ncheckpoint_interval = \"1h\"",
    ));
    let mut child = s.command(&["run"]).env("HOOK_TOKEN", TOKEN).stderr(std::process::Stdio::piped()).spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(child.try_wait().unwrap().is_none(), "still running when killed");
    child.kill().unwrap();
    child.wait().unwrap();
    let first_run = server.requests().len();
    assert!(first_run > 10, "the first run sent {first_run} requests");
    let out = tokio::task::spawn_blocking(move || (run_once(&s), s)).await.unwrap().0;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut by_first: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for r in server.requests() {
        by_first.entry(r.changes()[0].seq).or_default().insert(r.header("idempotency-key").unwrap().to_string());
    }
    let resent = server.requests().len() - by_first.len();
    assert!(resent > 0, "the second run replayed chunks the first had sent");
    for (first, keys) in &by_first {
        assert_eq!(keys.len(), 1, "chunk starting at seq {first} was sent with keys {keys:?}");
    }
    assert_eq!(distinct(&server.accepted_changes()), (1..=3000).collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_is_honoured() {
    let server = HttpServer::start({
        let mut n = 0;
        move |_| {
            n += 1;
            if n == 1 {
                Reply::status(429).header("Retry-After", "1")
            } else {
                Reply::status(200)
            }
        }
    });
    // The sink waits inside apply, then says it is worth retrying.
    let sink = sink(&server.url, 100, Duration::from_secs(5));
    let started = Instant::now();
    let e = sink.apply(&batch(1..=3)).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
    assert!(e.is_transient() && e.message().contains("429") && e.message().contains("Retry-After"), "{e}");
    sink.apply(&batch(1..=3)).await.unwrap();

    // Through the pipeline: the next attempt comes at least 1 s later.
    let server = HttpServer::start({
        let mut n = 0;
        move |_| {
            n += 1;
            Reply::status(if n == 3 { 429 } else { 200 }).header("Retry-After", "1")
        }
    });
    let s = scratch(&config(&server.url, "", "total = 200", "batch_max_rows = 20", "lanes = 1\nbatch_max_rows = 40"));
    let out = tokio::task::spawn_blocking(move || run_once(&s)).await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let requests = server.requests();
    let i = requests.iter().position(|r| r.status == 429).unwrap();
    let wait = requests[i + 1].at - requests[i].at;
    assert!(wait >= Duration::from_secs(1), "retried after {wait:?}");
    assert_eq!(distinct(&server.accepted_changes()), (1..=200).collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_outlasts_the_timeout_is_transient() {
    let server = HttpServer::start({
        let mut n = 0;
        move |_| {
            n += 1;
            Reply::status(200).delay(if n == 1 { Duration::from_secs(2) } else { Duration::ZERO })
        }
    });
    let sink = sink(&server.url, 100, Duration::from_millis(300));
    let e = sink.apply(&batch(1..=3)).await.unwrap_err();
    assert!(e.is_transient() && e.message().contains("no complete answer within"), "{e}");
    sink.apply(&batch(1..=3)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_alive_connections_are_reused_and_replaced_when_the_server_closed_them() {
    let server = HttpServer::start({
        let mut n = 0;
        move |_| {
            n += 1;
            // The third answer closes its connection without a word.
            if n == 3 { Reply::status(200).hang_up() } else { Reply::status(204) }
        }
    });
    let sink = sink(&server.url, 2, Duration::from_secs(5));
    sink.apply(&batch(1..=6)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await; // the close has arrived
    sink.apply(&batch(7..=10)).await.unwrap();
    let conns: Vec<usize> = server.requests().iter().map(|r| r.conn).collect();
    assert_eq!(conns, [1, 1, 1, 2, 2], "one connection while it lasts, then a new one");
    assert_eq!(keys(&server.requests()), ["p:1-2", "p:3-4", "p:5-6", "p:7-8", "p:9-10"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_values_never_appear_in_logs_or_errors() {
    // The server echoes the token in its error bodies, within the quoted 200 bytes.
    let echo = |r: &Request| format!("bad credentials {:?}; you sent {:?}", r.header("authorization"), r.headers);
    let server = HttpServer::start({
        let mut n = 0;
        move |r: &Request| {
            n += 1;
            Reply::status(if n <= 2 { 500 } else { 401 }).body(echo(r))
        }
    });
    // Errors of the sink: a 500 and a 401 echoing the token, no server, a timeout.
    let sink_errors = {
        let mut errors = Vec::new();
        let sink = sink(&server.url, 100, Duration::from_secs(5));
        for _ in 0..3 {
            errors.push(sink.apply(&batch(1..=2)).await.unwrap_err());
        }
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        errors.push(self::sink(&format!("http://{closed}/x"), 100, Duration::from_secs(5)).apply(&batch(1..=2)).await.unwrap_err());
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", silent.local_addr().unwrap());
        errors.push(self::sink(&url, 100, Duration::from_millis(200)).apply(&batch(1..=2)).await.unwrap_err());
        errors
    };
    assert!(sink_errors[0].message().contains("500") && sink_errors[2].message().contains("401"), "{sink_errors:?}");
    assert!(!sink_errors[2].is_transient() && sink_errors[2].message().contains("bad credentials Some(\"***\")"), "{}", sink_errors[2]);
    for e in &sink_errors {
        let shown = format!("{} | {} | {e:?}", logferry::ErrorChain(e), e.message());
        assert!(!shown.contains(TOKEN) && !shown.contains(&TOKEN[4..12]), "{shown}");
    }

    // The binary, logging at debug: retries of 500s, then a 401 that stops it.
    let server = HttpServer::start({
        let mut n = 0;
        move |r: &Request| {
            n += 1;
            Reply::status(if n <= 2 { 500 } else { 401 }).body(echo(r))
        }
    });
    let s = scratch(&config(&server.url, "", "total = 100", "", "lanes = 1"));
    let out = tokio::task::spawn_blocking(move || s.command(&["run", "--once"]).env("HOOK_TOKEN", TOKEN).env("LOGFERRY_LOG", "debug").output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the 401 stops the pipeline");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stderr.contains("401") && stderr.contains("500") && stderr.contains("bad credentials Some(\"***\")"), "{stderr}");
    assert!(server.requests().iter().all(|r| r.header("authorization") == Some(format!("Bearer {TOKEN}").as_str())));
    for shown in [&stdout, &stderr] {
        assert!(!shown.contains(TOKEN) && !shown.contains(&TOKEN[4..12]), "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_debezium_envelope_posts_debezium_events_that_read_back() {
    let server = HttpServer::scripted([]);
    let sink = HttpSink::open(&HttpTargetConfig {
        url: SecretUrl::new(&server.url),
        headers: Vec::new(),
        batch_max_rows: 100,
        timeout: Duration::from_secs(5),
        envelope: Envelope::Debezium,
    })
    .unwrap();
    let mut b = batch(1..=3);
    b.records[2].op = logferry::record::Op::Delete as i32;
    b.records[2].before = b.records[2].after.take();
    sink.apply(&b).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let events: Vec<serde_json::Value> = serde_json::from_slice(&requests[0].body).unwrap();
    let ops: Vec<&str> = events.iter().map(|e| e["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["c", "c", "d"]);
    assert!(events[2]["after"].is_null() && events[2]["before"].is_object());
    assert_eq!(events[0]["source"]["table"], "a");
    // Each event reads back as the record it came from.
    for (e, c) in events.iter().zip(&b.records) {
        let back = logferry::record::debezium::read_event("x", None, Some(e.to_string().as_bytes())).unwrap().unwrap();
        assert_eq!((back.op(), back.table.clone()), (c.op(), c.table.clone()));
    }
}
