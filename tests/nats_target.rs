//! The NATS JetStream target against a real nats-server (Debian's, started
//! by scripts/test at `LOGFERRY_TEST_NATS_URL`): every record stored once
//! on its table's subject, in order per key; a replay reported duplicate
//! and stored once; the stream created when missing; a stream that does
//! not take the subjects refused clearly; a server that is down is a
//! transient error.
//!
//! Each test uses its own pipeline and stream names, so tests run in
//! parallel on one server; they delete their streams when they pass.

use crate::support::binary::{text, Scratch};
use async_nats::jetstream::{self, consumer::pull::OrderedConfig, stream};
use logferry::config::{NatsTargetConfig, RecordFormat, SecretUrl};
use logferry::record::{json, value::Kind, Change, Op, Position, Row, TableRef, Value};
use logferry::sinks::naming::key_json;
use logferry::sinks::nats::NatsSink;
use logferry::sinks::{Batch, Sink};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

fn nats_url() -> String {
    std::env::var("LOGFERRY_TEST_NATS_URL").unwrap_or_else(|_| {
        panic!("LOGFERRY_TEST_NATS_URL is not set: run the suite with scripts/test, which starts nats-server (JetStream) on 127.0.0.1 and sets it")
    })
}

/// A pipeline name and a stream name no other test (or run) uses.
fn names(test: &str) -> (String, String) {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let tag = format!("{}_{nanos:x}", std::process::id());
    (format!("nt_{test}_{tag}"), format!("NT_{}_{tag}", test.to_uppercase()))
}

async fn js() -> jetstream::Context {
    jetstream::new(async_nats::connect(nats_url()).await.expect("connect to the test nats-server"))
}

fn target(url: &str, stream: &str, format: RecordFormat) -> NatsTargetConfig {
    NatsTargetConfig {
        url: SecretUrl::new(url),
        subject: NatsTargetConfig::DEFAULT_SUBJECT.into(),
        stream: stream.into(),
        format,
    }
}

/// One stored message, as a consumer reads it.
struct Stored {
    subject: String,
    msg_id: String,
    seq: u64,
    change: Change,
}

/// Reads the whole stream with an ordered consumer, in stream order.
async fn read_stream(js: &jetstream::Context, name: &str, format: RecordFormat) -> Vec<Stored> {
    let mut stream = js.get_stream(name).await.expect("the stream exists");
    let count = stream.info().await.unwrap().state.messages;
    let consumer = stream.create_consumer(OrderedConfig::default()).await.unwrap();
    let mut messages = Box::pin(consumer.messages().await.unwrap());
    let mut out = Vec::new();
    while (out.len() as u64) < count {
        let next = std::future::poll_fn(|cx| futures_core::Stream::poll_next(messages.as_mut(), cx));
        let m = tokio::time::timeout(Duration::from_secs(20), next)
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} messages read in time", out.len()))
            .expect("the consumer ended")
            .expect("a message");
        let headers = m.headers.clone().expect("messages have headers");
        let header = |n: &str| headers.get(header_name(n)).map(|v| v.as_str().to_string()).unwrap_or_default();
        let change = match format {
            RecordFormat::Json => json::read_change(&m.payload).expect("canonical JSON payload"),
            RecordFormat::Protobuf => prost::Message::decode(m.payload.as_ref()).expect("protobuf payload"),
        };
        let seq: u64 = header("Logferry-Seq").parse().expect("Logferry-Seq is a number");
        assert_eq!(seq, change.seq, "the header and the payload agree");
        out.push(Stored { subject: m.subject.to_string(), msg_id: header("Nats-Msg-Id"), seq, change });
    }
    out
}

/// A header name as the client parses it from the wire (a `&str` would
/// never equal the client's standard names, such as `Nats-Msg-Id`).
fn header_name(n: &str) -> async_nats::HeaderName {
    n.parse().expect("a valid header name")
}

async fn drop_stream(js: &jetstream::Context, name: &str) {
    let _ = js.delete_stream(name).await;
}

/// A generate-source pipeline into NATS.
fn generate_to_nats(pipeline: &str, stream: &str, total: u64, source_extra: &str, checkpoint: &str) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "{pipeline}"
[pipeline.source]
kind = "generate"
total = {total}
tables = 3
keys = 200
tx_size = 10
row_bytes = 16
seed = 5
{source_extra}
[[pipeline.target]]
kind = "nats"
url = "{url}"
subject = "{{pipeline}}.{{schema}}.{{table}}"
stream = "{stream}"
format = "json"
[pipeline.apply]
lanes = 4
batch_max_rows = 200
batch_max_wait = "2ms"
checkpoint_interval = "{checkpoint}"
"#,
        url = nats_url()
    )
}

/// Records `seq` 1..=n of `pipeline`, over two tables, plus a logical
/// message (no table) as the last one.
fn records(pipeline: &str, n: u64) -> Vec<Change> {
    (1..=n)
        .map(|seq| {
            let position = Some(Position { display: format!("0/{seq:X}"), ..Default::default() });
            if seq == n {
                return Change { pipeline: pipeline.into(), seq, op: Op::Message as i32, position, ..Default::default() };
            }
            Change {
                pipeline: pipeline.into(),
                source: "test".into(),
                seq,
                op: Op::Insert as i32,
                table: Some(TableRef { schema: "public".into(), name: format!("t{}", seq % 2) }),
                key_columns: vec!["id".into()],
                after: Some(Row::from_pairs([("id", Value::int64(seq as i64)), ("v", Value::text("x"))])),
                position,
                tx_id: format!("{}", 700 + seq / 10),
                ..Default::default()
            }
        })
        .collect()
}

#[test]
fn generated_changes_are_stored_once_in_order_per_key_on_their_subjects() {
    let (pipeline, stream) = names("gen");
    let total = 3000;
    let s = Scratch::new(&generate_to_nats(&pipeline, &stream, total, "", "10ms"));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let js = js().await;
        let stored = read_stream(&js, &stream, RecordFormat::Json).await;
        assert_eq!(stored.len() as u64, total, "every record stored once");
        let seqs: BTreeSet<u64> = stored.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (1..=total).collect::<BTreeSet<_>>());
        // Lanes split a table's keys, so a subject holds each key's changes
        // in order (the order the Sink contract promises), not the table's.
        let mut last: BTreeMap<(&str, String), u64> = BTreeMap::new();
        let mut subjects = BTreeSet::new();
        for m in &stored {
            let t = m.change.table.as_ref().expect("generated rows have a table");
            assert_eq!(m.subject, format!("{pipeline}.{}.{}", t.schema, t.name));
            assert_eq!(m.msg_id, format!("{pipeline}:{}", m.seq));
            assert_eq!(m.change.pipeline, pipeline);
            subjects.insert(m.subject.as_str());
            let prev = last.insert((&m.subject, key_json(&m.change)), m.seq).unwrap_or(0);
            assert!(m.seq > prev, "{} key {}: seq {} after {prev}", m.subject, key_json(&m.change), m.seq);
        }
        assert_eq!(subjects.len(), 3, "one subject per table: {subjects:?}");
        drop_stream(&js, &stream).await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_batch_is_reported_duplicate_and_stored_once() {
    let (pipeline, stream) = names("replay");
    let sink = NatsSink::connect(&target(&nats_url(), &stream, RecordFormat::Protobuf), 2).await.unwrap();
    let batch = Batch { lane: 0, records: records(&pipeline, 50), order: None };
    sink.apply(&batch).await.unwrap();
    assert_eq!(sink.acked(), (50, 0));
    // A replay (after a crash, or a retry after an error): the same seqs again.
    sink.apply(&batch).await.unwrap();
    assert_eq!(sink.acked(), (100, 50), "JetStream reports every replayed message as a duplicate");
    let js = js().await;
    let stored = read_stream(&js, &stream, RecordFormat::Protobuf).await;
    assert_eq!(stored.iter().map(|m| m.seq).collect::<Vec<_>>(), (1..=50).collect::<Vec<_>>(), "stored once, in order");
    assert_eq!(stored[0].subject, format!("{pipeline}.public.t1"));
    assert_eq!(stored[1].subject, format!("{pipeline}.public.t0"));
    assert_eq!(stored[49].subject, format!("{pipeline}._messages"), "a record without a table");
    assert_eq!(stored[9].change.after, batch.records[9].after, "the payload is the record");
    let m = js.get_stream(&stream).await.unwrap().get_raw_message(3).await.unwrap();
    let header = |n: &str| m.headers.get(header_name(n)).map(|v| v.as_str().to_string());
    assert_eq!(header("Nats-Msg-Id").as_deref(), Some(format!("{pipeline}:3").as_str()));
    assert_eq!(header("Logferry-Tx-Id").as_deref(), Some("700"));
    assert_eq!(header("Logferry-Position").as_deref(), Some("0/3"));
    drop_stream(&js, &stream).await;
}

#[test]
fn a_replay_after_sigkill_is_reported_duplicate_and_stored_once() {
    let (pipeline, stream) = names("kill");
    let total = 20_000;
    // Slow enough that the kill comes mid-way; checkpoints rare enough that
    // what was published before the kill is replayed.
    let s = Scratch::new(&generate_to_nats(&pipeline, &stream, total, "rate = 8000", "400ms"));
    let mut kills = 0;
    for wait in [700, 1300] {
        kills += u32::from(s.run_and_kill(Duration::from_millis(wait)));
    }
    assert!(kills >= 1, "no run was killed mid-way; the test proves little");
    let out = s.run(&["run", "--once"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "stderr: {err}");
    let duplicates: u64 = err
        .lines()
        .filter(|l| l.contains("a replay"))
        .filter_map(|l| l.split("duplicates=").nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok())
        .sum();
    assert!(duplicates > 0, "the replay after the kill was reported duplicate by JetStream: {err}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let js = js().await;
        let stored = read_stream(&js, &stream, RecordFormat::Json).await;
        let seqs: Vec<u64> = stored.iter().map(|m| m.seq).collect();
        let distinct: BTreeSet<u64> = seqs.iter().copied().collect();
        assert_eq!(seqs.len(), distinct.len(), "no seq stored twice");
        assert_eq!(distinct, (1..=total).collect::<BTreeSet<_>>(), "every seq stored");
        drop_stream(&js, &stream).await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_stream_is_created_for_the_pipelines_subjects() {
    let (pipeline, stream) = names("create");
    let js = js().await;
    drop_stream(&js, &stream).await;
    let sink = NatsSink::connect(&target(&nats_url(), &stream, RecordFormat::Json), 1).await.unwrap();
    sink.apply(&Batch { lane: 0, records: records(&pipeline, 3), order: None }).await.unwrap();
    let mut created = js.get_stream(&stream).await.expect("the sink created the stream");
    let info = created.info().await.unwrap();
    assert_eq!(info.config.subjects, vec![format!("{pipeline}.>")]);
    assert_eq!(info.config.duplicate_window, Duration::from_secs(120));
    assert_eq!(info.state.messages, 3);
    drop_stream(&js, &stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_without_the_subjects_is_a_clear_definite_error() {
    let (pipeline, stream) = names("foreign");
    let js = js().await;
    let other = format!("{pipeline}_other.>");
    js.create_stream(stream::Config { name: stream.clone(), subjects: vec![other.clone()], ..Default::default() }).await.unwrap();
    let sink = NatsSink::connect(&target(&nats_url(), &stream, RecordFormat::Json), 1).await.unwrap();
    let e = sink.apply(&Batch { lane: 0, records: records(&pipeline, 2), order: None }).await.unwrap_err();
    assert!(!e.is_transient(), "retrying cannot help: {e}");
    let msg = e.to_string();
    assert!(msg.contains(&format!("stream {stream} exists but does not take subject {pipeline}.public.t1")), "{msg}");
    assert!(msg.contains(&other) && msg.contains(&format!("--subjects '{pipeline}.>'")), "says how to fix it: {msg}");
    assert_eq!(js.get_stream(&stream).await.unwrap().info().await.unwrap().state.messages, 0, "nothing published");
    drop_stream(&js, &stream).await;
}

fn nats_server_bin() -> String {
    ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("nats-server")
        .to_string()
}

/// A nats-server of this test's own, killed when dropped (also when the
/// test fails).
struct OwnServer(std::process::Child);

impl OwnServer {
    /// Starts one on `port`, its store in `dir`.
    fn start(port: u16, dir: &std::path::Path) -> OwnServer {
        let child = std::process::Command::new(nats_server_bin())
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server is installed (scripts/test installs it)");
        let server = OwnServer(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nats-server did not start on port {port}");
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_down_is_a_transient_error() {
    let (pipeline, stream) = names("down");
    // Nothing listens: connecting fails transiently (`run` defers the target).
    let url = format!("nats://127.0.0.1:{}", free_port());
    let e = NatsSink::connect(&target(&url, &stream, RecordFormat::Json), 1).await.err().expect("nothing listens");
    assert!(e.is_transient(), "{e}");

    // A server that goes away after the connection: the apply fails
    // transiently; once it is back, the same batch goes through.
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let server = OwnServer::start(port, dir.path());
    let url = format!("nats://127.0.0.1:{port}");
    let sink = NatsSink::connect(&target(&url, &stream, RecordFormat::Json), 1).await.unwrap();
    let mut all = records(&pipeline, 20);
    // The second batch changes rows 11 to 14 twice: a server restart must
    // not store a row's later change before its earlier one.
    for (i, seq) in (15..=18).enumerate() {
        let earlier = all[10 + i].clone();
        all[seq as usize - 1] = Change { seq, op: Op::Update as i32, position: all[seq as usize - 1].position.clone(), ..earlier };
    }
    sink.apply(&Batch { lane: 0, records: all[..10].to_vec(), order: None }).await.unwrap();
    drop(server);
    let rest = Batch { lane: 0, records: all[10..].to_vec(), order: None };
    let e = sink.apply(&rest).await.expect_err("the server is down");
    assert!(e.is_transient(), "retried by the pipeline: {e}");
    let _server = OwnServer::start(port, dir.path());
    let mut applied = false;
    for _ in 0..30 {
        match sink.apply(&rest).await {
            Ok(()) => {
                applied = true;
                break;
            }
            Err(e) => assert!(e.is_transient(), "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(applied, "the retried batch went through once the server was back");
    let js = jetstream::new(async_nats::connect(&url).await.unwrap());
    let stored = read_stream(&js, &stream, RecordFormat::Json).await;
    let mut seqs: Vec<u64> = stored.iter().map(|m| m.seq).collect();
    // Each row's changes in order (rows of one batch in flight while the
    // server went away may interleave differently: see the README).
    let mut last: HashMap<(String, i64), u64> = HashMap::new();
    for m in stored.iter().filter(|m| m.change.table.is_some()) {
        let id = match m.change.after.as_ref().and_then(|r| r.get("id")).and_then(|v| v.kind.clone()) {
            Some(Kind::Int64(id)) => id,
            other => panic!("unexpected id {other:?}"),
        };
        let row = (m.subject.clone(), id);
        if let Some(prev) = last.insert(row.clone(), m.seq) {
            assert!(prev < m.seq, "row {row:?}: record {} stored after record {}", prev, m.seq);
        }
    }
    assert_eq!(last.len(), 15, "rows 1 to 14 and 19");
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>(), "every record stored once");
}
