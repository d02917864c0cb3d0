//! Debezium events written, read back, and read from Debezium's own shape.

use super::*;
use crate::record::{Date, Interval, Position, TableRef, Time, Timestamp};

fn change(op: Op) -> Change {
    let row = Row::from_pairs([
        ("id", Value::int64(7)),
        ("price", Value::of(Kind::Decimal("12.50".into()))),
        ("born", Value::of(Kind::Date(Date { days: 19_782, special: 0 }))),
        ("at", Value::of(Kind::Timestamp(Timestamp { seconds: 1_709_207_100, nanos: 500_000_000, special: 0 }))),
        ("atz", Value::of(Kind::Timestamptz(Timestamp { seconds: 1_709_207_100, nanos: 0, special: 0 }))),
        ("t", Value::of(Kind::Time(Time { micros: 3_600_000_001, has_offset: false, offset_seconds: 0 }))),
        ("span", Value::of(Kind::Interval(Interval { months: 1, days: 1, micros: 5 }))),
        ("blob", Value::of(Kind::Bytes(vec![1u8, 2, 255].into()))),
        ("big", Value::unchanged()),
        ("n", Value::null()),
    ]);
    Change {
        pipeline: "shop".into(),
        source: "postgres".into(),
        op: op as i32,
        table: Some(TableRef { schema: "public".into(), name: "items".into() }),
        key_columns: vec!["id".into()],
        before: (op == Op::Delete || op == Op::Update).then(|| row.clone()),
        after: (op != Op::Delete).then_some(row),
        tx_id: "42".into(),
        commit_time: Some(Timestamp { seconds: 1_700_000_000, nanos: 250_000_000, special: 0 }),
        position: Some(Position { token: Default::default(), display: "0/16B3748".into() }),
        tx_end: true,
        ..Default::default()
    }
}

#[test]
fn events_have_debeziums_shape_and_value_forms() {
    let e = event_json(&change(Op::Insert)).unwrap();
    let j = ojson::J::parse(e.as_bytes()).unwrap();
    assert_eq!(j.get("op").and_then(ojson::J::as_str), Some("c"));
    assert_eq!(j.get("before"), Some(&ojson::J::Null));
    let after = j.get("after").unwrap();
    assert_eq!(after.to_json(), r#"{"id":7,"price":"12.50","born":19782,"at":1709207100500000,"atz":"2024-02-29T11:45:00Z","t":3600000001,"span":2716200000005,"blob":"AQL/","big":"__debezium_unavailable_value","n":null}"#);
    let source = j.get("source").unwrap();
    assert_eq!(source.get("connector").and_then(ojson::J::as_str), Some("postgresql"));
    assert_eq!(source.get("table").and_then(ojson::J::as_str), Some("items"));
    assert_eq!(source.get("ts_ms").and_then(ojson::J::as_i64), Some(1_700_000_000_250));
    assert_eq!(source.get("lsn").and_then(ojson::J::as_i64), Some(0x16B3748));
    let d = ojson::J::parse(event_json(&change(Op::Delete)).unwrap().as_bytes()).unwrap();
    assert_eq!((d.get("op").and_then(ojson::J::as_str), d.get("after")), (Some("d"), Some(&ojson::J::Null)));
    assert!(tombstone_after(&change(Op::Delete)) && !tombstone_after(&change(Op::Update)));
    let mut schema = change(Op::Insert);
    schema.op = Op::SchemaChange as i32;
    assert_eq!(event_json(&schema), None, "no event for schema records");
}

#[test]
fn our_events_read_back() {
    for op in [Op::Insert, Op::Update, Op::Delete, Op::SnapshotRead] {
        let c = change(op);
        let e = event_json(&c).unwrap();
        let back = read_event("shop.public.items", Some(br#"{"id":7}"#), Some(e.as_bytes())).unwrap().unwrap();
        assert_eq!(back.op(), op);
        assert_eq!(back.table, c.table);
        assert_eq!(back.key_columns, ["id"]);
        assert_eq!(back.key_values(), vec![&Value::int64(7)]);
        assert_eq!(back.tx_id, "42");
        assert_eq!(back.commit_time, c.commit_time);
        let row = if op == Op::Delete { back.before.as_ref() } else { back.after.as_ref() }.unwrap();
        assert_eq!(row.get("big"), Some(&Value::unchanged()));
        assert_eq!(row.get("n"), Some(&Value::null()));
        assert_eq!(row.get("price"), Some(&Value::text("12.50")), "without a schema a decimal string stays text");
    }
    assert_eq!(read_event("t", Some(br#"{"id":7}"#), None).unwrap(), None, "a tombstone is no record");
}

#[test]
fn debeziums_own_events_with_schemas_are_typed() {
    // The shape Kafka Connect's JSON converter writes with schemas on.
    let value = br#"{"schema":{"type":"struct","fields":[
        {"type":"struct","optional":true,"field":"before","fields":[]},
        {"type":"struct","optional":true,"field":"after","fields":[
          {"type":"int32","optional":false,"field":"id"},
          {"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"},"field":"price"},
          {"type":"int32","optional":true,"name":"io.debezium.time.Date","field":"born"},
          {"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","field":"at"},
          {"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","field":"atz"},
          {"type":"string","optional":true,"name":"io.debezium.data.Json","field":"doc"},
          {"type":"bytes","optional":true,"field":"blob"}]}]},
      "payload":{"before":null,"after":{"id":1,"price":"BNI=","born":19782,"at":1709207100500000,
        "atz":"2024-02-29T11:45:00Z","doc":"{\"a\": 1}","blob":"AQL/"},
        "source":{"connector":"postgresql","db":"shop","schema":"public","table":"items","ts_ms":1700000000000,"txId":555},
        "op":"c","ts_ms":1700000000100}}"#;
    let key = br#"{"schema":{"type":"struct","fields":[{"type":"int32","field":"id"}]},"payload":{"id":1}}"#;
    let c = read_event("srv.public.items", Some(key), Some(value)).unwrap().unwrap();
    assert_eq!(c.op(), Op::Insert);
    assert_eq!(c.table, Some(TableRef { schema: "public".into(), name: "items".into() }));
    assert_eq!(c.key_columns, ["id"]);
    assert_eq!(c.tx_id, "555");
    let a = c.after.unwrap();
    assert_eq!(a.get("price"), Some(&Value::of(Kind::Decimal("12.34".into()))), "0x04D2 = 1234, scale 2");
    assert_eq!(a.get("born"), Some(&Value::of(Kind::Date(Date { days: 19_782, special: 0 }))));
    assert_eq!(a.get("at"), Some(&Value::of(Kind::Timestamp(Timestamp { seconds: 1_709_207_100, nanos: 500_000_000, special: 0 }))));
    assert_eq!(a.get("atz"), Some(&Value::of(Kind::Timestamptz(Timestamp { seconds: 1_709_207_100, nanos: 0, special: 0 }))));
    assert_eq!(a.get("doc"), Some(&Value::of(Kind::Json("{\"a\": 1}".into()))));
    assert_eq!(a.get("blob"), Some(&Value::of(Kind::Bytes(vec![1u8, 2, 255].into()))));
    // A MySQL event names the database in `db`; a truncate has no rows.
    let t = read_event("x", None, Some(br#"{"before":null,"after":null,"source":{"db":"shop","table":"orders"},"op":"t"}"#)).unwrap().unwrap();
    assert_eq!((t.op(), t.table.unwrap().schema), (Op::Truncate, "shop".to_string()));
    // Without a source: the table from the topic name.
    let n = read_event("srv.inventory.parts", None, Some(br#"{"after":{"id":1},"op":"r"}"#)).unwrap().unwrap();
    assert_eq!(n.table, Some(TableRef { schema: "inventory".into(), name: "parts".into() }));
    assert!(read_event("x", None, Some(br#"{"after":{}}"#)).unwrap_err().contains("no `op`"));
    assert!(read_event("x", None, Some(b"not json")).is_err());
}

#[test]
fn negative_decimals_from_bytes() {
    // -1234 in two's complement: 0xFB2E.
    let v = read::read_event("x", None, Some(br#"{"schema":{"type":"struct","fields":[{"type":"struct","field":"after","fields":[{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"3"},"field":"d"}]}]},"payload":{"after":{"d":"+y4="},"op":"c"}}"#))
        .unwrap()
        .unwrap();
    assert_eq!(v.after.unwrap().get("d"), Some(&Value::of(Kind::Decimal("-1.234".into()))));
}
