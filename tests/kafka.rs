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
use rdkafka::producer::{FutureProducer, FutureRecord};
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
fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}_{}_{}_{:x}", std::process::id(), N.fetch_add(1, Ordering::SeqCst), nanos % 0xffff)
}

/// Client settings tansu needs for consumer groups (short sessions).
const GROUP_OPTIONS: &str = r#"options = { "session.timeout.ms" = "3000", "heartbeat.interval.ms" = "1000" }"#;

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
            .map(|h| h.iter().map(|h| (h.key.to_string(), h.value.map(|v| text(v)).unwrap_or_default())).collect())
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

fn pg_source(db: &TestDb, tables: &str) -> String {
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

const APPLY: &str = r#"[pipeline.apply]
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

