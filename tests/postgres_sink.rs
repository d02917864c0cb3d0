//! What only the postgres target does, against the real server (what both
//! SQL targets do alike is in sql_targets.rs): every test gets its own
//! database, builds `Change` records by hand and applies them through
//! `Sink::apply`, then checks the target with SQL.

use crate::support::pg::{fresh_db, rows, TestDb};
use crate::support::shop::*;
use crate::support::records::{apply, row};
use logferry::record::{value::Kind, Array, BsonTimestamp, Column, Date, Document, Interval, Labels, Op, Other, Special, Time, Timestamp, Value};
use logferry::sinks::postgres::{PostgresSink, PostgresSinkConfig};
use logferry::sinks::{Batch, Sink};

async fn sink(db: &TestDb, lanes: usize) -> PostgresSink {
    sink_with(db, lanes, None, true).await
}

async fn sink_with(db: &TestDb, lanes: usize, schema: Option<&str>, create_tables: bool) -> PostgresSink {
    PostgresSink::connect(PostgresSinkConfig { url: db.url.clone(), namespace: schema.map(Into::into), create_tables, lanes })
        .await
        .expect("connect")
}

fn simple(name: &str, id: i64, v: &str, n: i64) -> Vec<(&'static str, Value)> {
    let _ = name;
    crate::support::shop::simple(id, v, n)
}

#[tokio::test]
async fn every_value_kind_round_trips() {
    let db = fresh_db("pgsink_types").await;
    db.client.batch_execute("CREATE TYPE public.mood AS ENUM ('sad', 'happy')").await.unwrap();
    let s = sink(&db, 1).await;
    let uuid: Vec<u8> = (0u8..16).map(|i| i * 17).collect();
    let text_arr = Kind::Array(Array {
        lower_bounds: Vec::new(),
        element_type: "text".into(),
        elements: vec![Value::text("a b"), Value::text("c,d"), Value::null(), Value::text("NULL"), Value::text("q\"\\'"), Value::text("{x}")],
    });
    let int2d = Kind::Array(Array {
        lower_bounds: Vec::new(),
        element_type: "int4".into(),
        elements: vec![
            v(Kind::Array(Array { lower_bounds: Vec::new(), element_type: "int4".into(), elements: vec![Value::int64(1), Value::int64(2)] })),
            v(Kind::Array(Array { lower_bounds: Vec::new(), element_type: "int4".into(), elements: vec![Value::int64(3), Value::null()] })),
        ],
    });
    let doc = Kind::Document(Document {
        fields: vec![
            Column { name: "b".into(), value: Some(Value::int64(1)) },
            Column { name: "a".into(), value: Some(v(Kind::Array(Array { lower_bounds: Vec::new(), element_type: String::new(), elements: vec![Value::text("x"), Value::null()] }))) },
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
        ("public.mood[]", Kind::Array(Array { lower_bounds: Vec::new(), element_type: "mood".into(), elements: vec![v(Kind::EnumLabel("sad".into())), Value::null()] }), "{sad,NULL}"),
        ("text[]", text_arr.clone(), "{\"a b\",\"c,d\",NULL,\"NULL\",\"q\\\"\\\\'\",\"{x}\"}"),
        ("jsonb", text_arr, "[\"a b\", \"c,d\", null, \"NULL\", \"q\\\"\\\\'\", \"{x}\"]"),
        ("integer[]", int2d, "{{1,2},{3,NULL}}"),
        ("bytea[]", Kind::Array(Array { lower_bounds: Vec::new(), element_type: "bytea".into(), elements: vec![v(Kind::Bytes(vec![1, 0xfe].into()))] }), "{\"\\\\x01fe\"}"),
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
        tokio::spawn(async move { s.apply(&Batch { lane: 0, records: batch, order: None }).await })
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
async fn replication_origins_mark_each_session_and_a_role_that_may_not_is_told_the_grant() {
    let db = fresh_db("pgsink_origin").await;
    let role = format!("lf_origin_role_{}", std::process::id());
    db.client
        .batch_execute(&format!("DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN PASSWORD 'pw'; GRANT ALL ON SCHEMA public TO {role};"))
        .await
        .unwrap();
    let url = {
        let rest = db.url.split_once('@').unwrap().1;
        format!("postgres://{role}:pw@{rest}")
    };
    let prefix = format!("logferry_lf_origin_{}", std::process::id());
    let connect = |lanes: usize| {
        PostgresSink::connect_with_origin(
            PostgresSinkConfig { url: url.clone(), namespace: None, create_tables: true, lanes },
            Some(prefix.clone()),
        )
    };
    // Without the grant: a definite error naming the role and the GRANT that fixes it.
    let err = connect(1).await.err().expect("a role without the grant must be refused");
    let message = err.to_string();
    assert!(!err.is_transient(), "{message}");
    assert!(message.contains(&format!("role `{role}` may not")) && message.contains("replication_origin = false"), "{message}");
    let grant = message.split("run ").nth(1).and_then(|m| m.split(';').next()).expect("the GRANT in the message");
    assert!(grant.starts_with("GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text)"), "{grant}");
    db.client.batch_execute(grant).await.unwrap();

    // With it: every lane's session holds its own origin `<prefix>_<n>`.
    let s = connect(2).await.expect("connect after the grant");
    apply(&s, vec![simple_ddl("t"), ins("t", simple("t", 1, "a", 1))]).await.unwrap();
    let active = format!(
        "SELECT count(*)::text FROM pg_replication_origin_status s JOIN pg_replication_origin o ON o.roident = s.local_id \
         WHERE o.roname LIKE '{prefix}\\_%'"
    );
    assert!(rows(&db, &active).await != ["0"], "no origin {prefix}_n is known to the server");
    // A second sink of the same prefix takes the next free name instead of failing.
    let other = connect(1).await.expect("a second sink with the same prefix");
    let names = rows(&db, &format!("SELECT roname FROM pg_replication_origin WHERE roname LIKE '{prefix}\\_%' ORDER BY 1")).await;
    assert!(names.len() >= 2, "{names:?}");
    drop((s, other));
    db.client
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}';"
        ))
        .await
        .unwrap();
}
