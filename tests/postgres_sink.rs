//! The postgres target against the real server: every test gets its own
//! database, builds `Change` records by hand and applies them through
//! `Sink::apply`, then checks the target with SQL.

use crate::support::pg::{fresh_db, rows, TestDb};
use crate::support::records::{apply, row, row_change, schema_change, table};
use logferry::record::{value::Kind, Array, BsonTimestamp, Change, Column, Date, Document, Interval, Labels, Op, Other, Row, Special, Time, Timestamp, Value};
use logferry::sinks::postgres::{PostgresSink, PostgresSinkConfig};
use logferry::sinks::{Batch, Sink};
use std::time::Instant;

async fn sink(db: &TestDb, lanes: usize) -> PostgresSink {
    sink_with(db, lanes, None, true).await
}

async fn sink_with(db: &TestDb, lanes: usize, schema: Option<&str>, create_tables: bool) -> PostgresSink {
    PostgresSink::connect(PostgresSinkConfig { url: db.url.clone(), namespace: schema.map(Into::into), create_tables, lanes })
        .await
        .expect("connect")
}

/// A schema change for `schema.name`: columns (name, source type, nullable) and key.
fn ddl(schema: &str, name: &str, cols: &[(&str, &str, bool)], key: &[&str]) -> Change {
    schema_change("", schema, name, cols, key)
}

fn change(op: Op, schema: &str, name: &str, key: &[&str], before: Option<Row>, after: Option<Row>) -> Change {
    row_change("", op, schema, name, key, before, after)
}

fn ins(name: &str, pairs: Vec<(&str, Value)>) -> Change {
    change(Op::Insert, "public", name, &["id"], None, row(pairs))
}

fn upd(name: &str, pairs: Vec<(&str, Value)>) -> Change {
    change(Op::Update, "public", name, &["id"], None, row(pairs))
}

fn del(name: &str, id: i64) -> Change {
    change(Op::Delete, "public", name, &["id"], row(vec![("id", Value::int64(id))]), None)
}

fn truncate(name: &str) -> Change {
    Change { op: Op::Truncate as i32, table: table("public", name), ..Default::default() }
}

fn v(kind: Kind) -> Value {
    Value::of(kind)
}

/// A simple table t(id bigint primary key, v text, n integer NOT NULL).
fn simple_ddl(name: &str) -> Change {
    ddl("public", name, &[("id", "bigint", false), ("v", "text", true), ("n", "integer", false)], &["id"])
}

fn simple(name: &str, id: i64, v: &str, n: i64) -> Vec<(&'static str, Value)> {
    let _ = name;
    vec![("id", Value::int64(id)), ("v", Value::text(v)), ("n", Value::int64(n))]
}

#[tokio::test]
async fn every_value_kind_round_trips() {
    let db = fresh_db("pgsink_types").await;
    db.client.batch_execute("CREATE TYPE public.mood AS ENUM ('sad', 'happy')").await.unwrap();
    let s = sink(&db, 1).await;
    let uuid: Vec<u8> = (0u8..16).map(|i| i * 17).collect();
    let text_arr = Kind::Array(Array {
        element_type: "text".into(),
        elements: vec![Value::text("a b"), Value::text("c,d"), Value::null(), Value::text("NULL"), Value::text("q\"\\'"), Value::text("{x}")],
    });
    let int2d = Kind::Array(Array {
        element_type: "int4".into(),
        elements: vec![
            v(Kind::Array(Array { element_type: "int4".into(), elements: vec![Value::int64(1), Value::int64(2)] })),
            v(Kind::Array(Array { element_type: "int4".into(), elements: vec![Value::int64(3), Value::null()] })),
        ],
    });
    let doc = Kind::Document(Document {
        fields: vec![
            Column { name: "b".into(), value: Some(Value::int64(1)) },
            Column { name: "a".into(), value: Some(v(Kind::Array(Array { element_type: String::new(), elements: vec![Value::text("x"), Value::null()] }))) },
            Column { name: "oid".into(), value: Some(v(Kind::ObjectId(vec![0xab; 12].into()))) },
        ],
    });
    let ts = |seconds, nanos, special: Special| Timestamp { seconds, nanos, special: special as i32 };
    // (source type, value, literal PostgreSQL must read to the same thing)
    let cases: Vec<(&str, Kind, &str)> = vec![
        ("boolean", Kind::Bool(true), "true"),
        ("boolean", Kind::Bool(false), "false"),
        ("smallint", Kind::Int64(-32768), "-32768"),
        ("integer", Kind::Int64(2147483647), "2147483647"),
        ("integer", Kind::Int32(-5), "-5"),
        ("bigint", Kind::Int64(i64::MIN), "-9223372036854775808"),
        ("bigint unsigned", Kind::Uint64(u64::MAX), "18446744073709551615"),
        ("numeric", Kind::Decimal("-12.3400".into()), "-12.3400"),
        ("numeric", Kind::Decimal("NaN".into()), "NaN"),
        ("numeric", Kind::Decimal("Infinity".into()), "Infinity"),
        ("numeric", Kind::Decimal("-Infinity".into()), "-Infinity"),
        ("numeric", Kind::Decimal128("1.0E+10".into()), "1.0E+10"),
        ("numeric(12,2)", Kind::Decimal("1234.5".into()), "1234.50"),
        ("real", Kind::Float32(0.1), "0.1"),
        ("real", Kind::Float32(f32::MAX), "3.4028235e38"),
        ("double precision", Kind::Float64(0.1), "0.1"),
        ("double precision", Kind::Float64(1.0 / 3.0), "0.3333333333333333"),
        ("double precision", Kind::Float64(f64::MIN_POSITIVE), "2.2250738585072014e-308"),
        ("double precision", Kind::Float64(1e300), "1e300"),
        ("double precision", Kind::Float64(-0.0), "-0"),
        ("double precision", Kind::Float64(f64::NAN), "NaN"),
        ("double precision", Kind::Float64(f64::INFINITY), "Infinity"),
        ("double precision", Kind::Float64(f64::NEG_INFINITY), "-Infinity"),
        ("text", Kind::Text("quote ' dq \" bs \\ tab\t nl\n ünï 😀 \\x00".into()), "quote ' dq \" bs \\ tab\t nl\n ünï 😀 \\x00"),
        ("character varying(10)", Kind::Text("abc".into()), "abc"),
        ("character(3)", Kind::Text("ab".into()), "ab"),
        ("bytea", Kind::Bytes(vec![0, 1, 2, 0xff, b'\\'].into()), "\\x000102ff5c"),
        ("bytea", Kind::Bytes(Vec::new().into()), "\\x"),
        ("date", Kind::Date(Date { days: 19_782, special: 0 }), "2024-02-29"),
        ("date", Kind::Date(Date { days: -735_160, special: 0 }), "0044-03-15 BC"),
        ("date", Kind::Date(Date { days: 0, special: Special::PosInfinity as i32 }), "infinity"),
        ("date", Kind::Date(Date { days: 0, special: Special::NegInfinity as i32 }), "-infinity"),
        ("time without time zone", Kind::Time(Time { micros: 49_500_500_000, has_offset: false, offset_seconds: 0 }), "13:45:00.5"),
        ("time without time zone", Kind::Time(Time { micros: 86_400_000_000, has_offset: false, offset_seconds: 0 }), "24:00:00"),
        ("time with time zone", Kind::Time(Time { micros: 1, has_offset: true, offset_seconds: 19_800 }), "00:00:00.000001+05:30"),
        ("time with time zone", Kind::Time(Time { micros: 0, has_offset: true, offset_seconds: -18_015 }), "00:00:00-05:00:15"),
        ("timestamp without time zone", Kind::Timestamp(ts(1_709_207_100, 123_456_000, Special::Finite)), "2024-02-29 11:45:00.123456"),
        ("timestamp without time zone", Kind::Timestamp(ts(-63_517_780_800, 0, Special::Finite)), "0044-03-15 12:00:00 BC"),
        ("timestamp without time zone", Kind::Timestamp(ts(0, 0, Special::PosInfinity)), "infinity"),
        ("timestamp(3) without time zone", Kind::Timestamp(ts(0, 123_456_789, Special::Finite)), "1970-01-01 00:00:00.123456789"),
        ("timestamp with time zone", Kind::Timestamptz(ts(1_709_207_100, 1_000, Special::Finite)), "2024-02-29 11:45:00.000001+00"),
        ("timestamp with time zone", Kind::Timestamptz(ts(-1, 999_999_000, Special::Finite)), "1969-12-31 23:59:59.999999+00"),
        ("timestamp with time zone", Kind::Timestamptz(ts(0, 0, Special::NegInfinity)), "-infinity"),
        ("timestamp with time zone", Kind::Timestamptz(ts(-63_517_780_800, 500_000_000, Special::Finite)), "0044-03-15 12:00:00.5+00 BC"),
        ("interval", Kind::Interval(Interval { months: 14, days: -3, micros: 3_723_000_004 }), "1 year 2 mons -3 days 01:02:03.000004"),
        ("interval", Kind::Interval(Interval { months: i32::MIN, days: i32::MAX, micros: i64::MIN }), "-2147483648 mons 2147483647 days -9223372036854775808 microseconds"),
        ("interval", Kind::Time(Time { micros: -3_020_399_000_000, has_offset: false, offset_seconds: 0 }), "-838:59:59"),
        ("uuid", Kind::Uuid(uuid.clone().into()), "00112233-4455-6677-8899-aabbccddeeff"),
        ("json", Kind::Json(" {\"b\":1,  \"a\":[1, 2]} ".into()), " {\"b\":1,  \"a\":[1, 2]} "),
        ("jsonb", Kind::Json("{\"b\":1,\"a\":[1,2]}".into()), "{\"a\": [1, 2], \"b\": 1}"),
        ("jsonb", doc.clone(), "{\"b\":1,\"a\":[\"x\",null],\"oid\":{\"$oid\":\"abababababababababababab\"}}"),
        ("json", doc, "{\"b\":1,\"a\":[\"x\",null],\"oid\":{\"$oid\":\"abababababababababababab\"}}"),
        ("public.mood", Kind::EnumLabel("happy".into()), "happy"),
        ("public.no_such_type", Kind::EnumLabel("anything".into()), "anything"),
        ("public.mood[]", Kind::Array(Array { element_type: "mood".into(), elements: vec![v(Kind::EnumLabel("sad".into())), Value::null()] }), "{sad,NULL}"),
        ("text[]", text_arr.clone(), "{\"a b\",\"c,d\",NULL,\"NULL\",\"q\\\"\\\\'\",\"{x}\"}"),
        ("jsonb", text_arr, "[\"a b\", \"c,d\", null, \"NULL\", \"q\\\"\\\\'\", \"{x}\"]"),
        ("integer[]", int2d, "{{1,2},{3,NULL}}"),
        ("bytea[]", Kind::Array(Array { element_type: "bytea".into(), elements: vec![v(Kind::Bytes(vec![1, 0xfe].into()))] }), "{\"\\\\x01fe\"}"),
        ("text[]", Kind::Set(Labels { labels: vec!["x".into(), "y z".into()] }), "{x,\"y z\"}"),
        // A MySQL SET lands in a text[] (see the mapping table in schema.rs).
        ("set('x','y z')", Kind::Set(Labels { labels: vec!["x".into(), "y z".into()] }), "{x,\"y z\"}"),
        ("point", Kind::Other(Other { type_name: "point".into(), text: "(1,2)".into() }), "(1,2)"),
        ("inet", Kind::Other(Other { type_name: "inet".into(), text: "10.0.0.1/8".into() }), "10.0.0.1/8"),
        ("text", Kind::ObjectId(vec![0x65, 0xf1, 0xc0, 0xff, 0xee, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66].into()), "65f1c0ffee00112233445566"),
        ("jsonb", Kind::BsonTimestamp(BsonTimestamp { seconds: 5, increment: 2 }), "{\"$timestamp\": {\"i\": 2, \"t\": 5}}"),
        ("geometry(Point,4326)", Kind::Other(Other { type_name: "geometry".into(), text: "POINT(1 2)".into() }), "POINT(1 2)"),
    ];
    let mut cols: Vec<(String, String, bool)> = vec![("id".into(), "bigint".into(), false)];
    for (i, (ty, _, _)) in cases.iter().enumerate() {
        cols.push((format!("c{i}"), ty.to_string(), true));
    }
    let col_refs: Vec<(&str, &str, bool)> = cols.iter().map(|(n, t, nl)| (n.as_str(), t.as_str(), *nl)).collect();
    let mut image = vec![("id", Value::int64(1))];
    let names: Vec<String> = (0..cases.len()).map(|i| format!("c{i}")).collect();
    for (i, (_, kind, _)) in cases.iter().enumerate() {
        image.push((names[i].as_str(), v(kind.clone())));
    }
    let mut nulls = vec![("id", Value::int64(2))];
    for name in &names {
        nulls.push((name.as_str(), Value::null()));
    }
    apply(&s, vec![ddl("public", "rt", &col_refs, &["id"])]).await.unwrap();
    apply(&s, vec![ins("rt", image.clone()), ins("rt", nulls)]).await.unwrap();
    // Unknown and missing types became text; known ones kept their type.
    let types = rows(&db, "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.rt'::regclass AND attnum > 0 ORDER BY attnum").await;
    let ty_of = |c: &str| types.iter().find(|r| r.starts_with(&format!("{c}|"))).unwrap().split_once('|').unwrap().1.to_string();
    let idx = |src: &str| cases.iter().position(|(t, _, _)| *t == src).unwrap();
    assert_eq!(ty_of(&format!("c{}", idx("public.mood"))), "mood");
    assert_eq!(ty_of(&format!("c{}", idx("public.mood[]"))), "mood[]");
    assert_eq!(ty_of(&format!("c{}", idx("public.no_such_type"))), "text");
    assert_eq!(ty_of(&format!("c{}", idx("geometry(Point,4326)"))), "text");
    assert_eq!(ty_of(&format!("c{}", idx("bigint unsigned"))), "numeric(20,0)");
    assert_eq!(ty_of(&format!("c{}", idx("numeric(12,2)"))), "numeric(12,2)");
    assert_eq!(ty_of(&format!("c{}", idx("timestamp with time zone"))), "timestamp with time zone");
    let mut failures = Vec::new();
    for (i, (src, _, literal)) in cases.iter().enumerate() {
        let c = format!("c{i}");
        let got = db.client.query_one(&format!("SELECT \"{c}\"::text FROM public.rt WHERE id = 1"), &[]).await.unwrap();
        let got: Option<String> = got.get(0);
        let ty = ty_of(&c);
        let want = db.client.query_one(&format!("SELECT $1::text::{ty}::text"), &[literal]).await.unwrap();
        let want: Option<String> = want.get(0);
        if got != want {
            failures.push(format!("{src} ({ty}): got {got:?}, PostgreSQL reads {literal:?} as {want:?}"));
        }
        let null = db.client.query_one(&format!("SELECT \"{c}\" IS NULL FROM public.rt WHERE id = 2"), &[]).await.unwrap();
        assert!(null.get::<_, bool>(0), "{src}: NULL did not stay NULL");
    }
    assert!(failures.is_empty(), "round-trip failures:\n{}", failures.join("\n"));
    // json keeps its exact bytes.
    let exact = rows(&db, &format!("SELECT c{} FROM public.rt WHERE id = 1", idx("json"))).await;
    assert_eq!(exact, [" {\"b\":1,  \"a\":[1, 2]} "]);
    // Replaying the same batch changes nothing.
    let before = rows(&db, "SELECT rt::text FROM public.rt ORDER BY id").await;
    apply(&s, vec![ins("rt", image)]).await.unwrap();
    assert_eq!(rows(&db, "SELECT rt::text FROM public.rt ORDER BY id").await, before);
}

#[tokio::test]
async fn upserts_and_deletes_are_idempotent() {
    let db = fresh_db("pgsink_idem").await;
    let s = sink(&db, 1).await;
    apply(&s, vec![simple_ddl("t")]).await.unwrap();
    let batch = vec![
        ins("t", simple("t", 1, "a", 1)),
        ins("t", simple("t", 2, "b", 2)),
        ins("t", simple("t", 3, "c", 3)),
        upd("t", simple("t", 1, "a2", 10)),
        del("t", 2),
        upd("t", simple("t", 3, "c2", 30)),
        upd("t", simple("t", 3, "c3", 31)),
        del("t", 99),
        ins("t", simple("t", 4, "d", 4)),
        del("t", 4),
        ins("t", simple("t", 4, "d2", 40)),
    ];
    apply(&s, batch.clone()).await.unwrap();
    let want = ["1|a2|10", "3|c3|31", "4|d2|40"];
    assert_eq!(rows(&db, "SELECT id, v, n FROM t ORDER BY id").await, want);
    apply(&s, batch.clone()).await.unwrap();
    assert_eq!(rows(&db, "SELECT id, v, n FROM t ORDER BY id").await, want);
    // The same records one per batch give the same state.
    apply(&s, vec![truncate("t")]).await.unwrap();
    for c in batch {
        apply(&s, vec![c]).await.unwrap();
    }
    assert_eq!(rows(&db, "SELECT id, v, n FROM t ORDER BY id").await, want);
    // Delete by key, and deleting what is not there is fine.
    apply(&s, vec![del("t", 1), del("t", 1), del("t", 12345)]).await.unwrap();
    assert_eq!(rows(&db, "SELECT id FROM t ORDER BY id").await, ["3", "4"]);
}

#[tokio::test]
async fn composite_keys() {
    let db = fresh_db("pgsink_ck").await;
    let s = sink(&db, 1).await;
    let key = ["region", "id"];
    apply(&s, vec![ddl("public", "ck", &[("region", "text", false), ("id", "integer", false), ("v", "text", true)], &key)]).await.unwrap();
    let r = |region: &str, id: i64, val: &str| row(vec![("region", Value::text(region)), ("id", Value::int64(id)), ("v", Value::text(val))]);
    let k = |region: &str, id: i64| row(vec![("region", Value::text(region)), ("id", Value::int64(id))]);
    apply(
        &s,
        vec![
            change(Op::Insert, "public", "ck", &key, None, r("eu", 1, "a")),
            change(Op::Insert, "public", "ck", &key, None, r("us", 1, "b")),
            change(Op::Insert, "public", "ck", &key, None, r("eu", 2, "c")),
            change(Op::Update, "public", "ck", &key, None, r("us", 1, "b2")),
            change(Op::Delete, "public", "ck", &key, k("eu", 1), None),
        ],
    )
    .await
    .unwrap();
    assert_eq!(rows(&db, "SELECT region, id, v FROM ck ORDER BY 1, 2").await, ["eu|2|c", "us|1|b2"]);
    let pk = rows(&db, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'ck'::regclass AND contype = 'p'").await;
    assert_eq!(pk, ["PRIMARY KEY (region, id)"]);
}

#[tokio::test]
async fn unchanged_never_overwrites_a_stored_value() {
    let db = fresh_db("pgsink_toast").await;
    let s = sink(&db, 1).await;
    apply(&s, vec![ddl("public", "doc", &[("id", "bigint", false), ("body", "text", true), ("n", "integer", true), ("must", "text", false)], &["id"])]).await.unwrap();
    let big = "x".repeat(100_000);
    let doc = |id: i64, body: Value, n: i64, must: Value| ins("doc", vec![("id", Value::int64(id)), ("body", body), ("n", Value::int64(n)), ("must", must)]);
    apply(&s, vec![doc(1, Value::text(big.clone()), 1, Value::text("m1")), doc(2, Value::text("small"), 1, Value::text("m2"))]).await.unwrap();
    // Updates that did not send body (or must) keep the stored values.
    let mut u1 = doc(1, Value::unchanged(), 2, Value::unchanged());
    u1.op = Op::Update as i32;
    apply(&s, vec![u1.clone()]).await.unwrap();
    apply(&s, vec![u1]).await.unwrap();
    assert_eq!(rows(&db, "SELECT id, length(body), n, must FROM doc ORDER BY id").await, ["1|100000|2|m1", "2|5|1|m2"]);
    // Within a batch, UNCHANGED takes the value from the key's earlier record.
    let mut u2 = doc(2, Value::unchanged(), 3, Value::unchanged());
    u2.op = Op::Update as i32;
    apply(&s, vec![doc(2, Value::text("fresh"), 2, Value::text("mm")), u2.clone()]).await.unwrap();
    assert_eq!(rows(&db, "SELECT id, body, n, must FROM doc WHERE id = 2").await, ["2|fresh|3|mm"]);
    // A row that is not there gets NULL for a nullable UNCHANGED column ...
    let mut u3 = doc(3, Value::unchanged(), 7, Value::text("m3"));
    u3.op = Op::Update as i32;
    apply(&s, vec![u3]).await.unwrap();
    assert_eq!(rows(&db, "SELECT id, body, n, must FROM doc WHERE id = 3").await, ["3|∅|7|m3"]);
    // ... and a definite error explaining why for a NOT NULL one; nothing of the batch is applied.
    let mut u4 = doc(4, Value::text("b"), 8, Value::unchanged());
    u4.op = Op::Update as i32;
    let err = apply(&s, vec![doc(5, Value::text("five"), 5, Value::text("m5")), u4]).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("\"must\"") && msg.contains("TOAST") && msg.contains("\"public\".\"doc\""), "{msg}");
    assert_eq!(rows(&db, "SELECT count(*) FROM doc WHERE id IN (4, 5)").await, ["0"]);
}

#[tokio::test]
async fn key_changes_move_the_row_and_replay_cleanly() {
    let db = fresh_db("pgsink_keychg").await;
    let s = sink(&db, 1).await;
    apply(&s, vec![ddl("public", "k", &[("id", "bigint", false), ("body", "text", false), ("n", "integer", true)], &["id"])]).await.unwrap();
    let big = "y".repeat(50_000);
    apply(&s, vec![ins("k", vec![("id", Value::int64(1)), ("body", Value::text(big.clone())), ("n", Value::int64(1))])]).await.unwrap();
    let kc = change(
        Op::Update,
        "public",
        "k",
        &["id"],
        row(vec![("id", Value::int64(1))]),
        row(vec![("id", Value::int64(2)), ("body", Value::unchanged()), ("n", Value::int64(2))]),
    );
    assert!(kc.changes_key());
    apply(&s, vec![kc.clone()]).await.unwrap();
    assert_eq!(rows(&db, "SELECT id, length(body), n FROM k ORDER BY id").await, ["2|50000|2"]);
    apply(&s, vec![kc.clone()]).await.unwrap();
    assert_eq!(rows(&db, "SELECT id, length(body), n FROM k ORDER BY id").await, ["2|50000|2"]);
    // Replay where the old key was reused later: the later records restore it.
    let reinsert = ins("k", vec![("id", Value::int64(1)), ("body", Value::text("new one")), ("n", Value::int64(9))]);
    apply(&s, vec![reinsert.clone()]).await.unwrap();
    apply(&s, vec![kc]).await.unwrap();
    apply(&s, vec![reinsert]).await.unwrap();
    assert_eq!(rows(&db, "SELECT id, length(body), n FROM k ORDER BY id").await, ["1|7|9", "2|50000|2"]);
}

#[tokio::test]
async fn truncate_and_control_records() {
    let db = fresh_db("pgsink_trunc").await;
    let s = sink(&db, 1).await;
    apply(&s, vec![simple_ddl("t")]).await.unwrap();
    apply(&s, vec![ins("t", simple("t", 1, "a", 1)), ins("t", simple("t", 2, "b", 2))]).await.unwrap();
    apply(&s, vec![truncate("t")]).await.unwrap();
    assert_eq!(rows(&db, "SELECT count(*) FROM t").await, ["0"]);
    // Truncating a table that is not there is a no-op; messages and heartbeats are ignored.
    apply(&s, vec![truncate("never_created")]).await.unwrap();
    let msg = Change { op: Op::Message as i32, ..Default::default() };
    let hb = Change { op: Op::Heartbeat as i32, ..Default::default() };
    apply(&s, vec![msg, hb, ins("t", simple("t", 3, "c", 3))]).await.unwrap();
    assert_eq!(rows(&db, "SELECT id FROM t").await, ["3"]);
}

#[tokio::test]
async fn schema_changes_add_columns_and_refuse_type_changes_and_drops() {
    let db = fresh_db("pgsink_ddl").await;
    let s = sink(&db, 1).await;
    let v1 = ddl("shop", "orders", &[("id", "bigint", false), ("total", "numeric(12,2)", false)], &["id"]);
    apply(&s, vec![v1.clone()]).await.unwrap();
    let o = |pairs: Vec<(&str, Value)>| change(Op::Insert, "shop", "orders", &["id"], None, row(pairs));
    apply(&s, vec![o(vec![("id", Value::int64(1)), ("total", v(Kind::Decimal("9.5".into())))])]).await.unwrap();
    // v2 adds a column; replaying v1 and v2 is harmless.
    let v2 = ddl(
        "shop",
        "orders",
        &[("id", "bigint", false), ("total", "numeric(12,2)", true), ("note", "character varying(20)", true)],
        &["id"],
    );
    apply(&s, vec![v2.clone()]).await.unwrap();
    apply(&s, vec![v2.clone()]).await.unwrap();
    apply(&s, vec![o(vec![("id", Value::int64(2)), ("total", Value::null()), ("note", Value::text("hi"))])]).await.unwrap();
    assert_eq!(rows(&db, "SELECT id, total, note FROM shop.orders ORDER BY id").await, ["1|9.50|∅", "2|∅|hi"]);
    let cols = rows(
        &db,
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute WHERE attrelid = 'shop.orders'::regclass AND attnum > 0 ORDER BY attnum",
    )
    .await;
    assert_eq!(cols, ["id|bigint|t", "total|numeric(12,2)|f", "note|character varying(20)|f"]);
    // A type change is refused, naming table and column; nothing changes.
    let v3 = ddl("shop", "orders", &[("id", "bigint", false), ("total", "text", true), ("note", "character varying(20)", true)], &["id"]);
    let err = apply(&s, vec![v3]).await.unwrap_err();
    assert!(!err.is_transient());
    let msg = err.to_string();
    assert!(msg.contains("\"shop\".\"orders\"") && msg.contains("\"total\"") && msg.contains("ALTER"), "{msg}");
    // A dropped column is refused too (we never drop data).
    let v4 = ddl("shop", "orders", &[("id", "bigint", false), ("total", "numeric(12,2)", true)], &["id"]);
    let err = apply(&s, vec![v4]).await.unwrap_err();
    let msg = err.to_string();
    assert!(!err.is_transient() && msg.contains("\"note\"") && msg.contains("dropped"), "{msg}");
    assert_eq!(rows(&db, "SELECT count(*) FROM shop.orders").await, ["2"]);
}

#[tokio::test]
async fn without_create_tables_no_ddl_runs() {
    let db = fresh_db("pgsink_nocreate").await;
    let s = sink_with(&db, 1, None, false).await;
    let err = apply(&s, vec![simple_ddl("t")]).await.unwrap_err();
    assert!(!err.is_transient() && err.to_string().contains("create_tables"), "{err}");
    let err = apply(&s, vec![ins("t", simple("t", 1, "a", 1))]).await.unwrap_err();
    assert!(!err.is_transient() && err.to_string().contains("does not exist"), "{err}");
    // A table made by hand (with a key) works.
    db.client.batch_execute("CREATE TABLE public.t (id bigint PRIMARY KEY, v text, n integer NOT NULL, extra text DEFAULT 'x')").await.unwrap();
    apply(&s, vec![simple_ddl("t"), ins("t", simple("t", 1, "a", 1))]).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rows(&db, "SELECT id, v, n, extra FROM t").await, ["1|a|1|x"]);
    // A table without a unique constraint on the key: the fix is named.
    db.client.batch_execute("CREATE TABLE public.nopk (id bigint, v text, n integer)").await.unwrap();
    let err = apply(&s, vec![ins("nopk", simple("nopk", 1, "a", 1))]).await.unwrap_err();
    assert!(!err.is_transient() && err.to_string().contains("PRIMARY KEY"), "{err}");
}

#[tokio::test]
async fn schema_override_puts_every_table_in_one_schema() {
    let db = fresh_db("pgsink_override").await;
    let s = sink_with(&db, 1, Some("Replica"), true).await;
    apply(&s, vec![ddl("src", "t", &[("id", "bigint", false)], &["id"])]).await.unwrap();
    apply(&s, vec![change(Op::Insert, "src", "t", &["id"], None, row(vec![("id", Value::int64(7))]))]).await.unwrap();
    assert_eq!(rows(&db, "SELECT id FROM \"Replica\".t").await, ["7"]);
    // Empty source schema → public (without override).
    let s2 = sink(&db, 1).await;
    apply(&s2, vec![ddl("", "plain", &[("id", "bigint", false)], &["id"])]).await.unwrap();
    apply(&s2, vec![change(Op::Insert, "", "plain", &["id"], None, row(vec![("id", Value::int64(8))]))]).await.unwrap();
    assert_eq!(rows(&db, "SELECT id FROM public.plain").await, ["8"]);
}

#[tokio::test]
async fn odd_names_are_quoted_and_cannot_inject() {
    let db = fresh_db("pgsink_names").await;
    db.client.batch_execute("CREATE TABLE public.y (id int); INSERT INTO public.y VALUES (1)").await.unwrap();
    let s = sink(&db, 1).await;
    let schema = "Sales \"Dept\"";
    for name in ["select", "a \"b\"", "ünï cödé", "x\"; DROP TABLE y; --", "Mixed Case"] {
        let cols = [("select", "integer", false), ("a \"b\"", "text", true), ("ünï cödé", "text", true), ("x\"; DROP TABLE y; --", "text", true)];
        let key = ["select"];
        apply(&s, vec![ddl(schema, name, &cols, &key)]).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let r = |id: i64, t: &str| {
            row(vec![
                ("select", Value::int64(id)),
                ("a \"b\"", Value::text(t)),
                ("ünï cödé", Value::text(t)),
                ("x\"; DROP TABLE y; --", Value::text("'); DROP TABLE y; --")),
            ])
        };
        apply(
            &s,
            vec![
                change(Op::Insert, schema, name, &key, None, r(1, "one")),
                change(Op::Insert, schema, name, &key, None, r(2, "two")),
                change(Op::Update, schema, name, &key, None, r(1, "uno")),
                change(Op::Delete, schema, name, &key, row(vec![("select", Value::int64(2))]), None),
            ],
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let q = format!(
            "SELECT \"select\", \"a \"\"b\"\"\", \"ünï cödé\", \"x\"\"; DROP TABLE y; --\" FROM \"Sales \"\"Dept\"\"\".\"{}\"",
            name.replace('"', "\"\"")
        );
        assert_eq!(rows(&db, &q).await, ["1|uno|uno|'); DROP TABLE y; --"], "{name}");
        apply(&s, vec![change(Op::Truncate, schema, name, &key, None, None)]).await.unwrap();
    }
    let tables = rows(&db, "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = 'Sales \"Dept\"' AND relkind = 'r' ORDER BY relname COLLATE \"C\"").await;
    assert_eq!(tables, ["Mixed Case", "a \"b\"", "select", "x\"; DROP TABLE y; --", "ünï cödé"]);
    assert_eq!(rows(&db, "SELECT id FROM public.y").await, ["1"], "table y must survive");
    // A name PostgreSQL would truncate is refused rather than silently renamed.
    let long = "n".repeat(64);
    let err = apply(&s, vec![ddl("public", &long, &[("id", "integer", false)], &["id"])]).await.unwrap_err();
    assert!(!err.is_transient() && err.to_string().contains("63 bytes"), "{err}");
}

#[tokio::test]
async fn definite_errors_leave_nothing_half_applied() {
    let db = fresh_db("pgsink_definite").await;
    let s = sink(&db, 1).await;
    apply(&s, vec![simple_ddl("t")]).await.unwrap();
    apply(&s, vec![ins("t", simple("t", 1, "keep", 1))]).await.unwrap();
    // NOT NULL violation after good rows.
    let bad = ins("t", vec![("id", Value::int64(3)), ("v", Value::text("c")), ("n", Value::null())]);
    let batch = vec![ins("t", simple("t", 2, "b", 2)), upd("t", simple("t", 1, "changed", 9)), bad];
    let err = apply(&s, batch).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("\"public\".\"t\"") && msg.contains("23502") && msg.contains("\"n\""), "{msg}");
    assert_eq!(rows(&db, "SELECT id, v, n FROM t ORDER BY id").await, ["1|keep|1"]);
    // A text that is not an integer: the column is named after the fact.
    let err = apply(&s, vec![ins("t", simple("t", 5, "e", 5)), ins("t", vec![("id", Value::int64(6)), ("v", Value::text("f")), ("n", Value::text("not a number"))])])
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(!err.is_transient() && msg.contains("column \"n\" (integer)") && msg.contains("22P02"), "{msg}");
    // A document into an integer column is refused before anything is sent.
    let err = apply(&s, vec![ins("t", vec![("id", Value::int64(7)), ("v", Value::text("g")), ("n", v(Kind::Document(Document::default())))])])
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(!err.is_transient() && msg.contains("\"n\"") && msg.contains("document"), "{msg}");
    // A column the target does not have.
    let err = apply(&s, vec![ins("t", vec![("id", Value::int64(8)), ("nope", Value::text("x"))])]).await.unwrap_err();
    assert!(!err.is_transient() && err.to_string().contains("\"nope\""), "{err}");
    assert_eq!(rows(&db, "SELECT id, v, n FROM t ORDER BY id").await, ["1|keep|1"]);
    // And the lane still works afterwards.
    apply(&s, vec![ins("t", simple("t", 2, "b", 2))]).await.unwrap();
    assert_eq!(rows(&db, "SELECT count(*) FROM t").await, ["2"]);
}

#[tokio::test]
async fn tables_without_a_key_are_refused_with_the_fix() {
    let db = fresh_db("pgsink_nokey").await;
    let s = sink(&db, 1).await;
    apply(&s, vec![ddl("public", "log", &[("msg", "text", true)], &[])]).await.unwrap();
    let rec = change(Op::Insert, "public", "log", &[], None, row(vec![("msg", Value::text("x"))]));
    let err = apply(&s, vec![rec]).await.unwrap_err();
    let msg = err.to_string();
    assert!(!err.is_transient() && msg.contains("no key") && msg.contains("primary key") && msg.contains("file target"), "{msg}");
}

#[tokio::test]
async fn a_lost_connection_is_transient_and_the_next_apply_reconnects() {
    let db = fresh_db("pgsink_conn").await;
    let s = std::sync::Arc::new(sink(&db, 1).await);
    apply(&*s, vec![simple_ddl("t"), ins("t", simple("t", 1, "a", 1))]).await.unwrap();
    let kill = format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'logferry'",
        db.name
    );
    let sessions = format!(
        "SELECT count(*)::text FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'logferry'",
        db.name
    );
    let within = std::time::Duration::from_secs(30);
    // Killed while idle: the next apply notices and reconnects.
    db.client.batch_execute(&kill).await.unwrap();
    crate::support::wait_until("the killed session is gone", within, || async { rows(&db, &sessions).await == ["0"] }).await;
    apply(&*s, vec![ins("t", simple("t", 2, "b", 2))]).await.unwrap();
    // Killed mid-batch (the batch waits on a lock): transient, nothing applied, then a retry works.
    let locker = crate::support::pg::connect(&db.url).await;
    locker.batch_execute("BEGIN; LOCK TABLE public.t IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let batch = vec![ins("t", simple("t", 3, "c", 3))];
    let task = {
        let (s, batch) = (s.clone(), batch.clone());
        tokio::spawn(async move { s.apply(&Batch { lane: 0, records: batch }).await })
    };
    let waiting = format!(
        "SELECT count(*)::text FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'logferry' AND wait_event_type = 'Lock'",
        db.name
    );
    crate::support::wait_until("the batch waits on the lock", within, || async { rows(&db, &waiting).await == ["1"] }).await;
    db.client.batch_execute(&kill).await.unwrap();
    let err = task.await.unwrap().unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(!err.to_string().contains("logferry-test"), "{err}");
    locker.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(rows(&db, "SELECT id FROM t ORDER BY id").await, ["1", "2"]);
    apply(&*s, batch).await.unwrap();
    assert_eq!(rows(&db, "SELECT id FROM t ORDER BY id").await, ["1", "2", "3"]);
}

#[tokio::test]
async fn wrong_password_is_definite_and_not_echoed() {
    let db = fresh_db("pgsink_auth").await;
    let url = db.url.replace("logferry-test", "wrong-secret-pw");
    let err = PostgresSink::connect(PostgresSinkConfig { url, namespace: None, create_tables: true, lanes: 1 }).await.err().unwrap();
    assert!(!err.is_transient(), "{err}");
    assert!(!err.to_string().contains("wrong-secret-pw"), "{err}");
}

#[tokio::test]
async fn lanes_apply_in_parallel() {
    let db = fresh_db("pgsink_lanes").await;
    let s = std::sync::Arc::new(sink(&db, 4).await);
    apply(&*s, vec![simple_ddl("t")]).await.unwrap();
    let mut tasks = Vec::new();
    for lane in 0..4usize {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for b in 0..10i64 {
                let records = (0..50i64)
                    .map(|i| {
                        let id = lane as i64 * 10_000 + b * 100 + i;
                        ins("t", simple("t", id, "x", b))
                    })
                    .collect();
                s.apply(&Batch { lane, records }).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(rows(&db, "SELECT count(*) FROM t").await, ["2000"]);
    let conns = rows(&db, &format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'logferry'", db.name)).await;
    assert_eq!(conns, ["4"]);
    s.close().await.unwrap();
}

/// Not an assertion: prints the rows/s of 100k narrow upserts in batches of
/// 1000 on one lane (run with `--release --no-capture` for a real figure).
#[tokio::test]
async fn throughput_narrow_upserts() {
    let db = fresh_db("pgsink_tput").await;
    let s = sink(&db, 1).await;
    apply(&s, vec![ddl("public", "narrow", &[("id", "bigint", false), ("v", "bigint", true), ("s", "text", true)], &["id"])]).await.unwrap();
    const ROWS: i64 = 100_000;
    const BATCH: i64 = 1_000;
    let batches: Vec<Vec<Change>> = (0..ROWS / BATCH)
        .map(|b| {
            (0..BATCH)
                .map(|i| {
                    let id = (b * BATCH + i) % 50_000; // half inserts, half updates of existing keys
                    let mut c = ins("narrow", vec![("id", Value::int64(id)), ("v", Value::int64(b)), ("s", Value::text("some text"))]);
                    c.seq = (b * BATCH + i) as u64;
                    c
                })
                .collect()
        })
        .collect();
    let start = Instant::now();
    for records in batches {
        s.apply(&Batch { lane: 0, records }).await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "postgres target: {ROWS} narrow upserts in batches of {BATCH} on one lane: {:.2} s, {:.0} rows/s",
        secs,
        ROWS as f64 / secs
    );
    assert_eq!(rows(&db, "SELECT count(*), max(v) FROM narrow").await, ["50000|99"]);
}
