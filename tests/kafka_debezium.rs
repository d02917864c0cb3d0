//! Kafka with `envelope = "debezium"`: the target writes Debezium's change
//! events (and a tombstone after each delete), the source reads them (with
//! or without schemas). Written against `record::debezium`'s signatures;
//! they pass once the real module replaces the stand-in (the lead adds
//! `mod kafka_debezium;` to tests/main.rs at that merge).

use crate::kafka::{applied_count, brokers, pg_source, read_topic, unique, APPLY, GROUP_OPTIONS};
use crate::support::binary::{text, Scratch};
use crate::support::pg::{fresh_db, rows};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;

/// PostgreSQL → Kafka as Debezium events: one event per row change, keyed
/// by the row's key, `op` c/u/d (r for the snapshot), and a tombstone
/// (same key, no value) right after each delete's event.
#[test]
fn postgres_to_kafka_as_debezium_events_with_tombstones() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(async {
        let db = fresh_db("kafka_dbz_a").await;
        db.client.batch_execute("CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)").await.unwrap();
        db.client.batch_execute("INSERT INTO items SELECT g, 0 FROM generate_series(1, 10) g").await.unwrap();
        db
    });
    let pipeline = unique("kdz");
    let s = Scratch::new(&format!(
        "state_dir = \"state\"\n[[pipeline]]\nname = \"{pipeline}\"\n{source}\n[[pipeline.target]]\nkind = \"kafka\"\nbrokers = \"{brokers}\"\nenvelope = \"debezium\"\n{APPLY}",
        source = pg_source(&db, "\"public.items\""),
        brokers = brokers()
    ));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "snapshot run failed: {}", text(&out.stderr));
    rt.block_on(async {
        db.client.batch_execute("UPDATE items SET v = 1 WHERE id <= 5; DELETE FROM items WHERE id > 8; INSERT INTO items VALUES (11, 0)").await.unwrap();
    });
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "stream run failed: {}", text(&out.stderr));
    let msgs = read_topic(&format!("{pipeline}.public.items"));
    let mut ops = std::collections::BTreeMap::<String, usize>::new();
    for (i, m) in msgs.iter().enumerate() {
        let key: serde_json::Value = serde_json::from_slice(m.key.as_deref().expect("a key")).expect("JSON key");
        assert!(key.get("id").is_some() || key.pointer("/payload/id").is_some(), "key names the id: {key}");
        let Some(value) = &m.value else { continue };
        let v: serde_json::Value = serde_json::from_slice(value).expect("a JSON event");
        let payload = v.get("payload").unwrap_or(&v);
        let op = payload["op"].as_str().expect("an op").to_string();
        // source names the connector and the table; before/after as Debezium shapes them.
        let src = &payload["source"];
        assert_eq!((src["connector"].as_str(), src["schema"].as_str(), src["table"].as_str()), (Some("postgresql"), Some("public"), Some("items")), "{v}");
        assert!(src["ts_ms"].as_i64().is_some_and(|t| t > 0), "commit time in source.ts_ms: {v}");
        let id = key.get("id").or(key.pointer("/payload/id")).and_then(|i| i.as_i64()).unwrap();
        match op.as_str() {
            "r" | "c" => {
                assert!(payload["before"].is_null(), "{v}");
                assert_eq!((payload["after"]["id"].as_i64(), payload["after"]["v"].as_i64()), (Some(id), Some(0)), "{v}");
            }
            "u" => assert_eq!((payload["after"]["id"].as_i64(), payload["after"]["v"].as_i64()), (Some(id), Some(1)), "{v}"),
            "d" => {
                assert!(payload["after"].is_null(), "{v}");
                assert_eq!(payload["before"]["id"].as_i64(), Some(id), "the deleted row's key in before: {v}");
                assert!(id > 8, "{v}");
            }
            other => panic!("unexpected op {other}: {v}"),
        }
        if op == "d" {
            // The next message of the same key (one partition, in order;
            // other partitions' messages may come in between).
            let next = msgs[i + 1..].iter().find(|n| n.key == m.key).expect("a tombstone after a delete");
            assert_eq!(next.value.as_deref(), None, "tombstone after the delete");
        }
        *ops.entry(op).or_default() += 1;
    }
    assert_eq!(ops.get("r"), Some(&10), "snapshot reads: {ops:?}");
    assert_eq!(ops.get("u"), Some(&5), "updates: {ops:?}");
    assert_eq!(ops.get("d"), Some(&2), "deletes: {ops:?}");
    assert_eq!(ops.get("c"), Some(&1), "inserts: {ops:?}");
}

/// Debezium JSON events (with and without schemas, and tombstones) read by
/// the Kafka source and applied into PostgreSQL.
#[test]
fn kafka_source_applies_debezium_events_into_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let topic = unique("dbz.public.items");
    let source = |id: i64| format!(r#"{{"version":"2.7.0.Final","connector":"postgresql","name":"dbz","ts_ms":1700000000000,"db":"shop","schema":"public","table":"items","txId":{id},"lsn":{id}}}"#);
    let event = |op: &str, before: Option<(i64, i64)>, after: Option<(i64, i64)>, id: i64| {
        let row = |r: Option<(i64, i64)>| r.map_or("null".to_string(), |(id, v)| format!(r#"{{"id":{id},"v":{v}}}"#));
        format!(r#"{{"before":{},"after":{},"source":{},"op":"{op}","ts_ms":1700000000000}}"#, row(before), row(after), source(id))
    };
    let with_schema = |payload: String| {
        format!(
            r#"{{"schema":{{"type":"struct","fields":[{{"type":"struct","optional":true,"field":"before","fields":[{{"type":"int32","optional":false,"field":"id"}},{{"type":"int32","optional":false,"field":"v"}}]}},{{"type":"struct","optional":true,"field":"after","fields":[{{"type":"int32","optional":false,"field":"id"}},{{"type":"int32","optional":false,"field":"v"}}]}}],"optional":false,"name":"dbz.public.items.Envelope"}},"payload":{payload}}}"#
        )
    };
    let messages: Vec<(i64, Option<String>)> = vec![
        (1, Some(event("c", None, Some((1, 1)), 1))),
        (2, Some(with_schema(event("c", None, Some((2, 1)), 2)))),
        (3, Some(event("c", None, Some((3, 1)), 3))),
        (1, Some(with_schema(event("u", Some((1, 1)), Some((1, 2)), 4)))),
        (3, Some(event("d", Some((3, 1)), None, 5))),
        (3, None),
        (2, Some(event("u", Some((2, 1)), Some((2, 5)), 6))),
    ];
    let producer: FutureProducer = ClientConfig::new().set("bootstrap.servers", brokers()).create().unwrap();
    rt.block_on(async {
        for (id, value) in &messages {
            let key = format!(r#"{{"id":{id}}}"#);
            let mut rec = FutureRecord::<str, str>::to(&topic).key(key.as_str());
            if let Some(v) = value {
                rec = rec.payload(v.as_str());
            }
            producer.send(rec, Duration::from_secs(10)).await.map_err(|(e, _)| e).unwrap();
        }
    });
    let db = rt.block_on(async {
        let db = fresh_db("kafka_dbz_c").await;
        db.client.batch_execute("CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)").await.unwrap();
        db
    });
    let s = Scratch::new(&format!(
        "state_dir = \"state\"\n[[pipeline]]\nname = \"kdzc\"\n[pipeline.source]\nkind = \"kafka\"\nbrokers = \"{brokers}\"\ntopics = [\"{topic}\"]\ngroup = \"{group}\"\nenvelope = \"debezium\"\n{GROUP_OPTIONS}\n\
         [[pipeline.target]]\nkind = \"postgres\"\nurl = \"{url}\"\n{APPLY}",
        brokers = brokers(),
        group = unique("g"),
        url = db.url
    ));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "run failed: {}", text(&out.stderr));
    assert_eq!(applied_count(&out.stderr), 6, "six events (the tombstone is only a position): {}", text(&out.stderr));
    assert_eq!(rt.block_on(rows(&db, "SELECT id, v FROM public.items ORDER BY id")), vec!["1|2", "2|5"]);
}
