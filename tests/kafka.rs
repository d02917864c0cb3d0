//! Kafka target and source against the broker scripts/test starts
//! (tansu, a Kafka-compatible stand-in; `LOGFERRY_TEST_KAFKA=host:port`
//! points the suite at a real cluster). Every test uses topics and groups
//! of its own (named after the test and the process), so tests run in
//! parallel on one broker.

use crate::support::binary::{read_json_lines, text, Scratch};
use crate::support::pg::{fresh_db, TestDb};
use crate::support::Rng;
use logferry::record::{value::Kind, Change, Op};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// The broker scripts/test started (`LOGFERRY_TEST_KAFKA`).
pub fn brokers() -> String {
    std::env::var("LOGFERRY_TEST_KAFKA").unwrap_or_else(|_| {
        panic!("LOGFERRY_TEST_KAFKA is not set: run the suite with scripts/test, which starts a Kafka stand-in (tansu) and sets it")
    })
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}_{}_{}_{:x}", std::process::id(), N.fetch_add(1, Ordering::SeqCst), nanos % 0xffff)
}

/// Client settings tansu needs for consumer groups (short sessions).
/// Short group timeouts: a killed member leaves the group in 3 s, and a
/// rebalance waits at most 10 s for members to rejoin (librdkafka's
/// default `max.poll.interval.ms`, 5 minutes, let a join wait that long for
/// members killed by the tests).
pub const GROUP_OPTIONS: &str = r#"options = { "session.timeout.ms" = "3000", "heartbeat.interval.ms" = "1000", "max.poll.interval.ms" = "10000" }"#;

/// One message as read back.
#[derive(Debug, Clone)]
pub struct Msg {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: HashMap<String, String>,
}

/// Every message of `topic` now, partition by partition in offset order.
/// Reads until every partition reports its end (tansu's ListOffsets
/// answers the start of the last batch, not the high watermark, so the
/// end comes from the fetches).
pub fn read_topic(topic: &str) -> Vec<Msg> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", unique("reader"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap();
    let parts: Vec<i32> = md.topics()[0].partitions().iter().map(|p| p.id()).collect();
    let mut tpl = TopicPartitionList::new();
    for &p in &parts {
        tpl.add_partition_offset(topic, p, Offset::Beginning).unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ended = std::collections::HashSet::new();
    let mut out = Vec::new();
    while ended.len() < parts.len() {
        assert!(Instant::now() < deadline, "topic {topic}: partitions {parts:?} did not all end (ended: {ended:?})");
        let m = match consumer.poll(Duration::from_millis(200)) {
            None => continue,
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                ended.insert(p);
                continue;
            }
            Some(m) => m.unwrap(),
        };
        ended.remove(&m.partition());
        let headers = m
            .headers()
            .map(|h| h.iter().map(|h| (h.key.to_string(), h.value.map(text).unwrap_or_default())).collect())
            .unwrap_or_default();
        out.push(Msg { partition: m.partition(), offset: m.offset(), key: m.key().map(<[u8]>::to_vec), value: m.payload().map(<[u8]>::to_vec), headers });
    }
    out.sort_by_key(|m| (m.partition, m.offset));
    out
}

fn int(c: &Change, col: &str) -> Option<i64> {
    let row = if c.op() == Op::Delete { c.before.as_ref() } else { c.after.as_ref() }?;
    row.columns.iter().find(|x| x.name == col).and_then(|x| match x.value.as_ref()?.kind.as_ref()? {
        Kind::Int32(n) => Some(*n as i64),
        Kind::Int64(n) => Some(*n),
        _ => None,
    })
}

pub fn pg_source(db: &TestDb, tables: &str) -> String {
    format!(
        r#"[pipeline.source]
kind = "postgres"
url = "{url}"
tables = [{tables}]
slot = "{slot}"
publication = "{slot}"
heartbeat_interval = "500ms"
"#,
        url = db.url,
        slot = db.name
    )
}

pub const APPLY: &str = r#"[pipeline.apply]
lanes = 4
batch_max_rows = 500
batch_max_wait = "5ms"
checkpoint_interval = "50ms"
"#;

/// (a) PostgreSQL → Kafka: every row change arrives once, keyed by the
/// row's key, in order per key, with the logferry headers.
#[test]
fn postgres_to_kafka_keys_order_and_headers() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(async {
        let db = fresh_db("kafka_a").await;
        db.client.batch_execute("CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text)").await.unwrap();
        db.client.batch_execute("INSERT INTO items SELECT g, 0, 'n' || g FROM generate_series(1, 40) g").await.unwrap();
        db
    });
    let pipeline = unique("ka");
    let config = format!(
        "state_dir = \"state\"\n[[pipeline]]\nname = \"{pipeline}\"\n{source}\n[[pipeline.target]]\nkind = \"kafka\"\nbrokers = \"{brokers}\"\n{APPLY}",
        source = pg_source(&db, "\"public.items\""),
        brokers = brokers()
    );
    let s = Scratch::new(&config);
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "snapshot run failed: {}", text(&out.stderr));
    rt.block_on(async {
        for round in 1..=3 {
            db.client.batch_execute(&format!("UPDATE items SET v = {round}")).await.unwrap();
        }
        db.client.batch_execute("DELETE FROM items WHERE id > 35; INSERT INTO items VALUES (41, 4, 'new')").await.unwrap();
    });
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "stream run failed: {}", text(&out.stderr));

    let msgs = read_topic(&format!("{pipeline}.public.items"));
    let mut per_key: BTreeMap<i64, Vec<(i32, i64)>> = BTreeMap::new();
    let mut seqs = std::collections::HashSet::new();
    for m in &msgs {
        for h in ["logferry-seq", "logferry-tx-id", "logferry-position"] {
            assert!(m.headers.contains_key(h), "message {}/{} lacks header {h}: {:?}", m.partition, m.offset, m.headers);
        }
        let c = logferry::record::json::read_change(m.value.as_deref().expect("a value")).expect("canonical JSON");
        assert_eq!(m.headers["logferry-seq"], c.seq.to_string());
        if c.op() == Op::SchemaChange {
            continue;
        }
        assert!(seqs.insert(c.seq), "seq {} arrived twice", c.seq);
        let id = int(&c, "id").unwrap();
        assert_eq!(m.key.as_deref(), Some(format!("{{\"id\":{id}}}").as_bytes()), "key of id {id}");
        let v = if c.op() == Op::Delete { 99 } else { int(&c, "v").unwrap() };
        per_key.entry(id).or_default().push((m.partition, v));
    }
    assert_eq!(per_key.len(), 41, "every key arrived");
    for (id, changes) in &per_key {
        assert!(changes.iter().all(|(p, _)| *p == changes[0].0), "id {id} spread over partitions: {changes:?}");
        let vs: Vec<i64> = changes.iter().map(|(_, v)| *v).collect();
        let want: Vec<i64> = match id {
            36..=40 => vec![0, 1, 2, 3, 99],
            41 => vec![4],
            _ => vec![0, 1, 2, 3],
        };
        assert_eq!(vs, want, "changes of id {id}, in partition order");
    }
}


/// Writes changes `from..to` of a generated stream (one table, `gen.t0`)
/// to `topic` as canonical JSON records, keyed like the Kafka target does;
/// with `schema`, first the table's schema record to every partition.
/// Returns the expected final state (id → n) after change `to`.
fn produce_generated(topic: &str, from: u64, to: u64, schema: bool) -> BTreeMap<i64, i64> {
    produce_generated_to(&brokers(), topic, from, to, schema)
}

fn produce_generated_to(brokers: &str, topic: &str, from: u64, to: u64, schema: bool) -> BTreeMap<i64, i64> {
    use logferry::sources::generate::Generator;
    let cfg = logferry::config::GenerateConfig {
        total: None,
        tables: 1,
        keys: 60,
        tx_size: 1,
        row_bytes: 8,
        update_pct: 50,
        delete_pct: 15,
        rate: None,
        seed: 7,
    };
    let mut g = Generator::new(cfg);
    let mut state = BTreeMap::new();
    let mut records = Vec::new();
    if schema {
        let s = g.schema(0);
        records.push(Change {
            pipeline: "gen".into(),
            op: Op::SchemaChange as i32,
            table: s.table.clone(),
            key_columns: s.key_columns.clone(),
            schema_change: Some(logferry::record::SchemaChange { schema: Some(s), ddl: String::new() }),
            ..Default::default()
        });
    }
    while g.position() < to {
        let c = g.next_change();
        let r = g.record("gen", &c);
        match c.op {
            Op::Delete => state.remove(&(c.key as i64)),
            _ => state.insert(c.key as i64, c.index as i64),
        };
        if c.index >= from {
            records.push(r);
        }
    }
    let producer: FutureProducer = ClientConfig::new().set("bootstrap.servers", brokers).set("enable.idempotence", "true").create().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let partitions = producer.client().fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap().topics()[0].partitions().len() as i32;
    rt.block_on(async {
        let mut pending = Vec::new();
        for r in &records {
            let mut value = Vec::new();
            logferry::record::json::write_change(r, &mut value);
            let key = logferry::sinks::naming::key_json(r);
            let targets: Vec<Option<i32>> = if r.op() == Op::SchemaChange { (0..partitions.max(1)).map(Some).collect() } else { vec![None] };
            for p in targets {
                let mut rec = FutureRecord::to(topic).key(key.as_str()).payload(value.as_slice());
                if let Some(p) = p {
                    rec = rec.partition(p);
                }
                pending.push(producer.send_result(rec).map_err(|(e, _)| e).unwrap());
            }
        }
        for f in pending {
            f.await.unwrap().unwrap();
        }
    });
    state
}

fn kafka_source(topics: &str, group: &str) -> String {
    format!(
        "[pipeline.source]\nkind = \"kafka\"\nbrokers = \"{brokers}\"\ntopics = [{topics}]\ngroup = \"{group}\"\n{GROUP_OPTIONS}\n",
        brokers = brokers()
    )
}

async fn table_state(db: &TestDb, table: &str) -> BTreeMap<i64, i64> {
    crate::support::pg::cells(db, &format!("SELECT id, n FROM {table}"))
        .await
        .into_iter()
        .map(|r| (r[0].as_deref().unwrap().parse().unwrap(), r[1].as_deref().unwrap().parse().unwrap()))
        .collect()
}

pub fn applied_count(stderr: &[u8]) -> u64 {
    let t = text(stderr);
    let at = t.find("logferry: applied ").unwrap_or_else(|| panic!("no summary in: {t}"));
    t[at + 18..].split_whitespace().next().unwrap().parse().unwrap()
}

/// (c) A topic of logferry JSON records written by a plain producer is
/// applied into PostgreSQL; `run --once` stops at the end of the topic,
/// and the group's offsets make the next run start after what was applied.
#[test]
fn kafka_source_applies_a_topic_into_postgres_and_stops_at_the_end() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let topic = unique("kc");
    let state = produce_generated(&topic, 0, 800, true);
    let db = rt.block_on(fresh_db("kafka_c"));
    let config = format!(
        "state_dir = \"state\"\n[[pipeline]]\nname = \"kc\"\n{source}\n[[pipeline.target]]\nkind = \"postgres\"\nurl = \"{url}\"\n{APPLY}",
        source = kafka_source(&format!("\"{topic}\""), &unique("g")),
        url = db.url
    );
    let s = Scratch::new(&config);
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "first run failed: {}", text(&out.stderr));
    assert_eq!(rt.block_on(table_state(&db, "gen.t0")), state, "after the first run");
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "second run failed: {}", text(&out.stderr));
    assert_eq!(applied_count(&out.stderr), 0, "the group's offsets start the next run after the end: {}", text(&out.stderr));
    let state = produce_generated(&topic, 800, 1000, false);
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "third run failed: {}", text(&out.stderr));
    assert_eq!(applied_count(&out.stderr), 200, "only the new records: {}", text(&out.stderr));
    assert_eq!(rt.block_on(table_state(&db, "gen.t0")), state, "after the third run");
    // Its replays are not in one order: no log ordinals are recorded (they
    // would name other records in another run and skip them).
    let progress: i64 = rt.block_on(async {
        let exists: bool = db.client.query_one("SELECT to_regclass('public.logferry_progress') IS NOT NULL", &[]).await.unwrap().get(0);
        match exists {
            false => 0,
            true => db.client.query_one("SELECT count(*) FROM public.logferry_progress WHERE pipeline = 'kc'", &[]).await.unwrap().get(0),
        }
    });
    assert_eq!(progress, 0, "a Kafka source's batches recorded log ordinals on the target");
}

/// Splits a file target's records into the stretches each process run
/// appended (`starts`: complete lines in the file when each run began).
fn segments(path: &std::path::Path, starts: &[usize]) -> Vec<Vec<Change>> {
    let all = read_json_lines(path);
    let mut cuts: Vec<usize> = starts.iter().map(|&n| n.min(all.len())).collect();
    cuts.push(all.len());
    cuts.windows(2).map(|w| all[w[0]..w[1].max(w[0])].to_vec()).collect()
}

fn complete_lines(path: &std::path::Path) -> usize {
    std::fs::read(path).map_or(0, |d| d.iter().filter(|b| **b == b'\n').count())
}

/// Within one run, per key, `v` never skips ahead: the workload adds 1
/// per transaction, so a record is the next version, or a replay of an
/// earlier one (at-least-once after a crash), never a later one first.
fn assert_no_skips(who: &str, segs: &[Vec<Change>]) {
    for (i, seg) in segs.iter().enumerate() {
        let mut last: HashMap<i64, i64> = HashMap::new();
        for c in seg.iter().filter(|c| matches!(c.op(), Op::Insert | Op::Update | Op::SnapshotRead)) {
            let (id, v) = (int(c, "id").unwrap(), int(c, "v").unwrap());
            if let Some(&prev) = last.get(&id) {
                assert!(v <= prev + 1, "{who}, run {i}: id {id} went from v={prev} to v={v} (skipped or reordered)");
            }
            last.insert(id, v);
        }
    }
}

/// (b) PostgreSQL → Kafka → two consumers in one group → PostgreSQL, the
/// producer and each consumer SIGKILLed at random points (each at least
/// twice) under a running workload: in the end the target equals the
/// source, and no consumer ever applied a key's versions out of order.
#[test]
fn scale_out_survives_kills_of_producer_and_consumers() {
    let began = Instant::now();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = fresh_db("kafka_b_src").await;
        s.client.batch_execute("CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)").await.unwrap();
        s.client.batch_execute("INSERT INTO items SELECT g, 0 FROM generate_series(1, 50) g").await.unwrap();
        (s, fresh_db("kafka_b_dst").await)
    });
    let pipeline = unique("kb");
    let producer = Scratch::new(&format!(
        "state_dir = \"state\"\n[[pipeline]]\nname = \"{pipeline}\"\n{source}\n[[pipeline.target]]\nkind = \"kafka\"\nbrokers = \"{brokers}\"\n{APPLY}",
        source = pg_source(&source, "\"public.items\""),
        brokers = brokers()
    ));
    let group = unique("apply");
    let consumer_config = format!(
        "state_dir = \"state\"\n[[pipeline]]\nname = \"apply\"\n[pipeline.source]\nkind = \"kafka\"\nbrokers = \"{brokers}\"\ntopics = [\"{pipeline}.public.*\"]\ngroup = \"{group}\"\n\
         options = {{ \"session.timeout.ms\" = \"3000\", \"heartbeat.interval.ms\" = \"1000\", \"max.poll.interval.ms\" = \"10000\", \"topic.metadata.refresh.interval.ms\" = \"1000\" }}\n\
         [[pipeline.target]]\nkind = \"postgres\"\nurl = \"{url}\"\n[[pipeline.target]]\nkind = \"file\"\npath = \"out/changes.jsonl\"\n{APPLY}",
        brokers = brokers(),
        url = target.url
    );
    let consumers = [Scratch::new(&consumer_config), Scratch::new(&consumer_config)];
    let out_file = |i: usize| consumers[i].path("out/changes.jsonl");

    // The workload: one key per transaction, v + 1; now and then a new key.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, url) = (stop.clone(), source.url.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let c = crate::support::pg::connect(&url).await;
                let mut rng = Rng(42);
                let mut keys = 50;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    if rng.below(20) == 0 {
                        keys += 1;
                        c.batch_execute(&format!("INSERT INTO items VALUES ({keys}, 0)")).await.unwrap();
                    } else {
                        let id = 1 + rng.below(keys) as i64;
                        c.batch_execute(&format!("UPDATE items SET v = v + 1 WHERE id = {id}")).await.unwrap();
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
    };

    // The topic must exist before the consumers subscribe to its glob.
    let mut procs: Vec<Option<std::process::Child>> = vec![Some(producer.spawn(&["run"])), None, None];
    let topic = format!("{pipeline}.public.items");
    let probe: BaseConsumer = ClientConfig::new().set("bootstrap.servers", brokers()).create().unwrap();
    let t0 = Instant::now();
    while probe.fetch_metadata(Some(&topic), Duration::from_secs(2)).map_or(true, |m| m.topics()[0].partitions().is_empty()) {
        assert!(t0.elapsed() < Duration::from_secs(20), "the producer did not create {topic}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut starts: [Vec<usize>; 2] = [vec![], vec![]];
    for i in 0..2 {
        starts[i].push(complete_lines(&out_file(i)));
        procs[i + 1] = Some(consumers[i].spawn(&["run"]));
    }
    // Kill each process twice, in a random order, at random moments.
    let mut rng = Rng(began.elapsed().as_nanos() as u64 | 1);
    let mut order = vec![0usize, 0, 1, 1, 2, 2];
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for &victim in &order {
        std::thread::sleep(Duration::from_millis(1500 + rng.below(2500)));
        let mut child = procs[victim].take().unwrap();
        if let Some(status) = child.try_wait().unwrap() {
            panic!("process {victim} stopped on its own ({status}): {}", text(&child.wait_with_output().unwrap().stderr));
        }
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
        procs[victim] = Some(match victim {
            0 => producer.spawn(&["run"]),
            i => {
                starts[i - 1].push(complete_lines(&out_file(i - 1)));
                consumers[i - 1].spawn(&["run"])
            }
        });
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();
    for p in procs.iter_mut().filter_map(Option::take) {
        let mut p = p;
        p.kill().unwrap();
        let _ = p.wait();
    }
    // Catch up: the producer to the end of the WAL, then the consumers
    // (one after the other) to the end of the topic.
    let out = producer.run(&["run", "--once"]);
    assert!(out.status.success(), "producer catch-up failed: {}", text(&out.stderr));
    for i in 0..2 {
        starts[i].push(complete_lines(&out_file(i)));
        let out = consumers[i].run(&["run", "--once"]);
        assert!(out.status.success(), "consumer {i} catch-up failed: {}", text(&out.stderr));
    }
    let dump = |db: &TestDb| rt.block_on(crate::support::pg::rows(db, "SELECT id, v FROM items ORDER BY id"));
    let want = dump(&source);
    let got = rt.block_on(crate::support::pg::rows(&target, "SELECT id, v FROM public.items ORDER BY id"));
    assert_eq!(got.len(), want.len(), "rows in the target");
    assert_eq!(got, want, "the target equals the source");
    for (i, starts) in starts.iter().enumerate() {
        assert_no_skips(&format!("consumer {i}"), &segments(&out_file(i), starts));
    }
    let applied: usize = (0..2).map(|i| read_json_lines(&out_file(i)).len()).sum();
    assert!(applied > want.len(), "the consumers applied the stream ({applied} records)");
}

/// (d) The cluster is down when the run starts: the source fails
/// transiently and the pipeline keeps restarting it; when a broker comes
/// up on the address, the run proceeds. Needs the tansu binary
/// (`LOGFERRY_TEST_TANSU`, set by scripts/test) to start a broker late.
#[test]
fn a_cluster_down_at_start_is_waited_for() {
    let Ok(tansu) = std::env::var("LOGFERRY_TEST_TANSU") else {
        eprintln!("LOGFERRY_TEST_TANSU is not set (a real cluster): skipping the late-broker test");
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let brokers = format!("127.0.0.1:{port}");
    let topic = unique("kd");
    let s = Scratch::new(&format!(
        "state_dir = \"state\"\n[[pipeline]]\nname = \"kd\"\n[pipeline.source]\nkind = \"kafka\"\nbrokers = \"{brokers}\"\ntopics = [\"{topic}\"]\ngroup = \"g\"\n{GROUP_OPTIONS}\n\
         [[pipeline.target]]\nkind = \"file\"\npath = \"out/changes.jsonl\"\n[pipeline.apply]\nretry_backoff = \"200ms\"\nretry_max_backoff = \"1s\"\ncheckpoint_interval = \"50ms\"\n"
    ));
    let mut run = s.spawn(&["run"]);
    // The run's log, read as it is written.
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let (log, stderr) = (log.clone(), run.stderr.take().unwrap());
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        })
    };
    // The source's metadata request fails (transient) and the pipeline
    // restarts it at least once, the run still going, before a broker exists.
    let t0 = Instant::now();
    while !log.lock().unwrap().contains("reconnecting") {
        assert!(run.try_wait().unwrap().is_none(), "the run gave up while the cluster was down: {}", log.lock().unwrap());
        assert!(t0.elapsed() < Duration::from_secs(60), "no restart of the source within 60 s: {}", log.lock().unwrap());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(run.try_wait().unwrap().is_none(), "the run gave up while the cluster was down: {}", log.lock().unwrap());
    let mut broker = std::process::Command::new(&tansu)
        .args(["broker", "--listener-url", &format!("tcp://{brokers}"), "--advertised-listener-url", &format!("tcp://{brokers}")])
        .args(["--storage-engine", "memory://tansu/"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while std::net::TcpStream::connect(&brokers).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(20), "tansu did not listen on {brokers}");
        std::thread::sleep(Duration::from_millis(100));
    }
    produce_generated_to(&brokers, &topic, 0, 100, false);
    let out = s.path("out/changes.jsonl");
    let t0 = Instant::now();
    while complete_lines(&out) < 100 {
        if t0.elapsed() > Duration::from_secs(40) || run.try_wait().unwrap().is_some() {
            unsafe { libc::kill(run.id() as i32, libc::SIGTERM) };
            let _ = run.wait();
            let _ = broker.kill();
            let _ = reader.join();
            panic!("{} of 100 records after the broker came up: {}", complete_lines(&out), log.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    unsafe { libc::kill(run.id() as i32, libc::SIGTERM) };
    let status = run.wait().unwrap();
    let _ = broker.kill();
    let _ = broker.wait();
    let _ = reader.join();
    let stderr = log.lock().unwrap().clone();
    assert!(status.success(), "the run did not stop cleanly: {stderr}");
    assert!(stderr.contains("reconnecting"), "the source was restarted: {stderr}");
}

/// Protobuf both ways: the generate source → a Kafka target writing
/// `logferry.v1.Change` messages → a Kafka source reading them → a file
/// target; every change arrives once, in order per key.
#[test]
fn protobuf_records_round_trip_through_kafka() {
    let pipeline = unique("kp");
    let producer = Scratch::new(&format!(
        "state_dir = \"state\"\n[[pipeline]]\nname = \"{pipeline}\"\n[pipeline.source]\nkind = \"generate\"\ntotal = 500\ntables = 2\nkeys = 40\nseed = 3\n\
         [[pipeline.target]]\nkind = \"kafka\"\nbrokers = \"{brokers}\"\nformat = \"protobuf\"\n{APPLY}",
        brokers = brokers()
    ));
    let out = producer.run(&["run", "--once"]);
    assert!(out.status.success(), "producer failed: {}", text(&out.stderr));
    let consumer = Scratch::new(&format!(
        "state_dir = \"state\"\n[[pipeline]]\nname = \"kpc\"\n{source}format = \"protobuf\"\n[[pipeline.target]]\nkind = \"file\"\npath = \"out/changes.jsonl\"\n{APPLY}",
        source = kafka_source(&format!("\"{pipeline}.gen.*\""), &unique("g"))
    ));
    let out = consumer.run(&["run", "--once"]);
    assert!(out.status.success(), "consumer failed: {}", text(&out.stderr));
    assert_eq!(applied_count(&out.stderr), 500, "{}", text(&out.stderr));
    let got = read_json_lines(&consumer.path("out/changes.jsonl"));
    let mut per_key: HashMap<(String, i64), Vec<i64>> = HashMap::new();
    for c in &got {
        let t = c.table.as_ref().unwrap().name.clone();
        let id = int(c, "id").unwrap();
        // `n` is the change's index in the generated stream (deletes carry the key only).
        per_key.entry((t, id)).or_default().push(int(c, "n").unwrap_or(-1));
    }
    for (k, ns) in &per_key {
        let seen: Vec<i64> = ns.iter().copied().filter(|n| *n >= 0).collect();
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "key {k:?} out of order: {ns:?}");
    }
    assert_eq!(got.len(), 500);
}
