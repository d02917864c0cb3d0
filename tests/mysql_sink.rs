//! What only the mysql target does, against the real MariaDB server (what
//! both SQL targets do alike is in sql_targets.rs): every test gets its
//! own database, builds `Change` records by hand and applies them through
//! `Sink::apply`, then checks the target with SQL.

use crate::support::mariadb::{fresh_db, TestDb};
use crate::support::shop::*;
use crate::support::records::{apply, row, schema_change};
use logferry::record::{value::Kind, Array, Change, Column, Date, Document, Interval, Labels, Op, Other, Special, Time, Timestamp, Value};
use logferry::sinks::mysql::{MysqlSink, MysqlSinkConfig};
use logferry::sinks::{Batch, Sink};
use mysql_async::prelude::Queryable;

/// Records from a PostgreSQL source say so in `source` (it decides the few
/// type names both engines use differently).
const MY: &str = "mysql:127.0.0.1:3306";

async fn sink(db: &TestDb, lanes: usize) -> MysqlSink {
    sink_with(db, lanes, true).await
}

async fn sink_with(db: &TestDb, lanes: usize, create_tables: bool) -> MysqlSink {
    MysqlSink::connect(MysqlSinkConfig { url: db.url.clone(), namespace: None, create_tables, lanes }).await.expect("connect")
}

/// A schema change for `schema.name` from `source`: columns (name, source type, nullable) and key.
fn ddl_from(source: &str, schema: &str, name: &str, cols: &[(&str, &str, bool)], key: &[&str]) -> Change {
    schema_change(source, schema, name, cols, key)
}

/// Rows of a query as text columns joined by `|` (NULL as `∅`).
async fn rows(db: &TestDb, sql: &str) -> Vec<String> {
    let mut conn = db.pool.get_conn().await.unwrap();
    let rows: Vec<mysql_async::Row> = conn.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter()
        .map(|r| {
            (0..r.len())
                .map(|i| match r.as_ref(i).unwrap() {
                    mysql_async::Value::NULL => "∅".to_string(),
                    mysql_async::Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                    other => other.as_sql(true),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

#[tokio::test]
async fn created_tables_are_innodb_utf8mb4_binary_and_text_keys_are_bounded() {
    let db = fresh_db("mysink_create").await;
    let s = sink(&db, 1).await;
    apply(&s, vec![simple_ddl("t")]).await.unwrap();
    assert_eq!(
        rows(&db, &format!("SHOW CREATE TABLE `{}`.t", db.name)).await[0].split_once('|').unwrap().1,
        "CREATE TABLE `t` (\n  `id` bigint(20) NOT NULL,\n  `v` longtext DEFAULT NULL,\n  `n` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin"
    );
    // Keys that differ only in case or trailing spaces stay distinct rows
    // (sql_targets::*::upserts_deletes_and_replays_are_idempotent) because a
    // text key is a bounded varchar in a binary no-pad collation.
    apply(&s, vec![ddl("public", "s", &[("k", "text", false), ("v", "integer", true)], &["k"])]).await.unwrap();
    let kt = rows(&db, &format!("SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = 's' AND COLUMN_NAME = 'k'", db.name)).await;
    assert_eq!(kt, ["varchar(768)"], "a text key is a bounded varchar");
}

#[tokio::test]
async fn more_rows_than_one_packet_holds_are_split_into_statements() {
    let db = fresh_db("mysink_chunks").await;
    let s = sink(&db, 1).await;
    let key = ["region", "id"];
    apply(&s, vec![ddl("public", "ck", &[("region", "text", false), ("id", "integer", false), ("v", "text", true)], &key)]).await.unwrap();
    let r = |region: &str, id: i64, val: &str| row(vec![("region", Value::text(region)), ("id", Value::int64(id)), ("v", Value::text(val))]);
    let k = |region: &str, id: i64| row(vec![("region", Value::text(region)), ("id", Value::int64(id))]);
    apply(&s, vec![change(Op::Insert, "public", "ck", &key, None, r("eu", 2, "c")), change(Op::Insert, "public", "ck", &key, None, r("us", 1, "b2"))])
        .await
        .unwrap();
    // More rows than fit one max_allowed_packet (16 MiB here): split into statements.
    let big = "z".repeat(100_000);
    let records: Vec<Change> = (0..400).map(|i| change(Op::Insert, "public", "ck", &key, None, r("big", i, &big))).collect();
    apply(&s, records).await.unwrap();
    assert_eq!(rows(&db, "SELECT count(*), sum(length(v)) FROM ck WHERE region = 'big'").await, ["400|40000000"]);
    let deletes: Vec<Change> = (0..400).map(|i| change(Op::Delete, "public", "ck", &key, k("big", i), None)).collect();
    apply(&s, deletes).await.unwrap();
    assert_eq!(rows(&db, "SELECT count(*) FROM ck").await, ["2"]);
}

#[tokio::test]
async fn source_schemas_sharing_a_table_name_and_numerics_too_wide_are_refused() {
    let db = fresh_db("mysink_ddl").await;
    let s = sink(&db, 1).await;
    apply(&s, vec![ddl("shop", "orders", &[("id", "bigint", false), ("total", "numeric(12,2)", false)], &["id"])]).await.unwrap();
    // Two source schemas with one table name would share a target table: refused.
    let err = apply(&s, vec![ddl("other", "orders", &[("id", "bigint", false)], &["id"])]).await.unwrap_err();
    assert!(!err.is_transient() && err.to_string().contains("shop.orders") && err.to_string().contains("other.orders"), "{err}");
    // A numeric MySQL cannot hold exactly is refused, naming the column.
    let err = apply(&s, vec![ddl("shop", "wide", &[("id", "bigint", false), ("x", "numeric(70,2)", true)], &["id"])]).await.unwrap_err();
    assert!(!err.is_transient() && err.to_string().contains("`x`") && err.to_string().contains("65"), "{err}");
}

#[tokio::test]
async fn hand_made_tables_with_another_unique_index_and_missing_databases() {
    let db = fresh_db("mysink_nocreate").await;
    let s = sink_with(&db, 1, false).await;
    // Another unique index: ON DUPLICATE KEY UPDATE would hit the wrong row — refused.
    db.exec("CREATE TABLE uq (id bigint PRIMARY KEY, v varchar(10), n int, UNIQUE KEY by_v (v))").await;
    let err = apply(&s, vec![ins("uq", simple(1, "a", 1))]).await.unwrap_err();
    assert!(!err.is_transient() && err.to_string().contains("`by_v`"), "{err}");
    // A missing database is an error without create_tables ...
    let url = db.url.rsplit_once('/').unwrap().0.to_string();
    let missing = format!("{}_nodb", db.name);
    let err = MysqlSink::connect(MysqlSinkConfig { url: url.clone(), namespace: Some(missing.clone()), create_tables: false, lanes: 1 })
        .await
        .err()
        .unwrap();
    assert!(!err.is_transient() && err.to_string().contains("does not exist"), "{err}");
    // ... and created with it.
    let s3 = MysqlSink::connect(MysqlSinkConfig { url, namespace: Some(missing.clone()), create_tables: true, lanes: 1 }).await.unwrap();
    apply(&s3, vec![simple_ddl("t"), ins("t", simple(1, "a", 1))]).await.unwrap();
    assert_eq!(rows(&db, &format!("SELECT id FROM `{missing}`.t")).await, ["1"]);
    db.exec(&format!("DROP DATABASE `{missing}`")).await;
}

#[tokio::test]
async fn odd_names_are_quoted_and_cannot_inject() {
    let db = fresh_db("mysink_names").await;
    db.exec("CREATE TABLE y (id int); INSERT INTO y VALUES (1)").await;
    let s = sink(&db, 1).await;
    let names = ["select", "a `b`", "it's \"q\"", "ünï cödé", "x`; DROP TABLE y; --", "Mixed Case"];
    for name in names {
        let cols = [("select", "integer", false), ("a `b`", "text", true), ("ünï cödé", "text", true), ("x`; DROP TABLE y; --", "text", true)];
        let key = ["select"];
        apply(&s, vec![ddl("Sales `Dept`", name, &cols, &key)]).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let r = |id: i64, t: &str| {
            row(vec![
                ("select", Value::int64(id)),
                ("a `b`", Value::text(t)),
                ("ünï cödé", Value::text(t)),
                ("x`; DROP TABLE y; --", Value::text("'); DROP TABLE y; -- \\' \\")),
            ])
        };
        apply(
            &s,
            vec![
                change(Op::Insert, "Sales `Dept`", name, &key, None, r(1, "one")),
                change(Op::Insert, "Sales `Dept`", name, &key, None, r(2, "two")),
                change(Op::Update, "Sales `Dept`", name, &key, None, r(1, "uno")),
                change(Op::Delete, "Sales `Dept`", name, &key, row(vec![("select", Value::int64(2))]), None),
            ],
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let q = format!("SELECT `select`, `a ``b```, `ünï cödé`, `x``; DROP TABLE y; --` FROM `{}`", name.replace('`', "``"));
        assert_eq!(rows(&db, &q).await, ["1|uno|uno|'); DROP TABLE y; -- \\' \\"], "{name}");
        apply(&s, vec![change(Op::Truncate, "Sales `Dept`", name, &key, None, None)]).await.unwrap();
    }
    let mut tables = rows(&db, &format!("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}'", db.name)).await;
    tables.sort();
    let mut want: Vec<String> = names.iter().map(|n| n.to_string()).chain(["y".to_string()]).collect();
    want.sort();
    assert_eq!(tables, want);
    assert_eq!(rows(&db, "SELECT id FROM y").await, ["1"], "table y must survive");
    // Names MySQL cannot hold are refused rather than mangled.
    for bad in ["emoji 😀", "trailing ", &"n".repeat(65)] {
        let err = apply(&s, vec![ddl("public", bad, &[("id", "integer", false)], &["id"])]).await.unwrap_err();
        assert!(!err.is_transient() && err.to_string().contains("rename it"), "{err}");
        let err = apply(&s, vec![ddl("public", "ok", &[("id", "integer", false), (bad, "text", true)], &["id"])]).await.unwrap_err();
        assert!(!err.is_transient() && err.to_string().contains("rename it"), "{err}");
    }
}

#[tokio::test]
async fn strict_mode_and_server_warnings_fail_the_whole_batch() {
    let db = fresh_db("mysink_definite").await;
    let s = sink(&db, 1).await;
    apply(&s, vec![ddl("public", "small", &[("id", "bigint", false), ("s", "smallint", true), ("c", "character varying(3)", true)], &["id"])])
        .await
        .unwrap();
    let good_small = ins("small", vec![("id", Value::int64(1)), ("s", Value::int64(1)), ("c", Value::text("ok"))]);
    // Out of range and too long: strict mode refuses, the column is named.
    let err = apply(&s, vec![good_small.clone(), ins("small", vec![("id", Value::int64(2)), ("s", Value::int64(40_000))])]).await.unwrap_err();
    let msg = err.to_string();
    assert!(!err.is_transient() && msg.contains("`s`") && msg.contains("1264") && msg.contains(&format!("`{}`.`small`", db.name)), "{msg}");
    let err = apply(&s, vec![ins("small", vec![("id", Value::int64(3)), ("c", Value::text("four"))])]).await.unwrap_err();
    let msg = err.to_string();
    assert!(!err.is_transient() && msg.contains("`c`") && msg.contains("1406"), "{msg}");
    // A value the server would round (a note, not an error, in strict
    // mode) fails the batch through the warnings guard, quoting the server.
    db.exec("CREATE TABLE hand (id bigint PRIMARY KEY, d decimal(5,2))").await;
    let err = apply(&s, vec![good_small, ins("hand", vec![("id", Value::int64(1)), ("d", v(Kind::Float64(1.555)))])]).await.unwrap_err();
    let msg = err.to_string();
    assert!(!err.is_transient() && msg.contains("warning") && msg.contains("1265") && msg.contains("`hand`"), "{msg}");
    assert_eq!(rows(&db, "SELECT count(*) FROM hand").await, ["0"]);
    assert_eq!(rows(&db, "SELECT count(*) FROM small").await, ["0"]);
}

/// Every PostgreSQL type of the mapping table: the created column type and
/// the stored value, read back as MariaDB prints it.
#[tokio::test]
async fn every_postgres_type_lands_with_its_mariadb_type_and_value() {
    let db = fresh_db("mysink_pgtypes").await;
    let s = sink(&db, 1).await;
    let uuid: Vec<u8> = (0u8..16).map(|i| i * 17).collect();
    let ts = |seconds, nanos| Timestamp { seconds, nanos, special: 0 };
    let text_arr = Kind::Array(Array {
        lower_bounds: Vec::new(),
        element_type: "text".into(),
        elements: vec![Value::text("a b"), Value::text("c,d"), Value::null(), Value::text("q\"\\'")],
    });
    let int2d = Kind::Array(Array {
        lower_bounds: Vec::new(),
        element_type: "int4".into(),
        elements: vec![
            v(Kind::Array(Array { lower_bounds: Vec::new(), element_type: "int4".into(), elements: vec![Value::int64(1), Value::int64(2)] })),
            v(Kind::Array(Array { lower_bounds: Vec::new(), element_type: "int4".into(), elements: vec![Value::int64(3), Value::null()] })),
        ],
    });
    let date_arr = Kind::Array(Array {
        lower_bounds: Vec::new(),
        element_type: "date".into(),
        elements: vec![v(Kind::Date(Date { days: 19_782, special: 0 })), v(Kind::Date(Date { days: 0, special: Special::PosInfinity as i32 }))],
    });
    let doc = Kind::Document(Document {
        fields: vec![Column { name: "b".into(), value: Some(Value::int64(1)) }, Column { name: "a".into(), value: Some(Value::text("x")) }],
    });
    // (source type, value, MariaDB column type, value as MariaDB prints it)
    let cases: Vec<(&str, Kind, &str, &str)> = vec![
        ("integer", Kind::Int64(2147483647), "int(11)", "2147483647"),
        ("bigint", Kind::Int64(i64::MIN), "bigint(20)", "-9223372036854775808"),
        ("smallint", Kind::Int64(-32768), "smallint(6)", "-32768"),
        ("numeric(12,2)", Kind::Decimal("1234.5".into()), "decimal(12,2)", "1234.50"),
        ("numeric(12,2)", Kind::Decimal("-0.10".into()), "decimal(12,2)", "-0.10"),
        ("numeric", Kind::Decimal("-12.3400".into()), "decimal(65,30)", "-12.340000000000000000000000000000"),
        ("numeric", Kind::Decimal(format!("{}.{}", "9".repeat(35), "1".repeat(30))), "decimal(65,30)", "99999999999999999999999999999999999.111111111111111111111111111111"),
        ("real", Kind::Float32(0.1), "float", "0.1"),
        ("real", Kind::Float32(f32::MAX), "float", "3.40282e38"),
        ("double precision", Kind::Float64(0.1), "double", "0.1"),
        ("double precision", Kind::Float64(1.0 / 3.0), "double", "0.3333333333333333"),
        ("double precision", Kind::Float64(1e300), "double", "1e300"),
        ("double precision", Kind::Float64(f64::MIN_POSITIVE), "double", "2.2250738585072014e-308"),
        ("boolean", Kind::Bool(true), "tinyint(1)", "1"),
        ("boolean", Kind::Bool(false), "tinyint(1)", "0"),
        ("text", Kind::Text("quote ' dq \" bs \\ tab\t nl\n nul \0 ünï 😀 \x1a".into()), "longtext", "quote ' dq \" bs \\ tab\t nl\n nul \0 ünï 😀 \x1a"),
        ("character varying(10)", Kind::Text("abc😀".into()), "varchar(10)", "abc😀"),
        ("character(5)", Kind::Text("ab   ".into()), "char(5)", "ab"),
        ("bytea", Kind::Bytes(vec![0, 1, 2, 0xff, b'\\', b'\''].into()), "longblob", "\0\u{1}\u{2}\u{fffd}\\'"),
        ("date", Kind::Date(Date { days: 19_782, special: 0 }), "date", "2024-02-29"),
        ("date", Kind::Date(Date { days: -719_162, special: 0 }), "date", "0001-01-01"),
        ("time without time zone", Kind::Time(Time { micros: 49_500_500_000, has_offset: false, offset_seconds: 0 }), "time(6)", "13:45:00.500000"),
        ("time without time zone", Kind::Time(Time { micros: 86_400_000_000, has_offset: false, offset_seconds: 0 }), "time(6)", "24:00:00.000000"),
        ("time(3) without time zone", Kind::Time(Time { micros: 1_000, has_offset: false, offset_seconds: 0 }), "time(3)", "00:00:00.001"),
        ("time with time zone", Kind::Time(Time { micros: 1, has_offset: true, offset_seconds: 19_800 }), "varchar(32)", "00:00:00.000001+05:30"),
        ("timestamp without time zone", Kind::Timestamp(ts(1_709_207_100, 123_456_000)), "datetime(6)", "2024-02-29 11:45:00.123456"),
        ("timestamp(3) without time zone", Kind::Timestamp(ts(0, 123_000_000)), "datetime(3)", "1970-01-01 00:00:00.123"),
        ("timestamp with time zone", Kind::Timestamptz(ts(1_709_207_100, 1_000)), "datetime(6)", "2024-02-29 11:45:00.000001"),
        ("timestamp with time zone", Kind::Timestamptz(ts(-1, 999_999_000)), "datetime(6)", "1969-12-31 23:59:59.999999"),
        ("timestamp with time zone", Kind::Timestamptz(ts(253_402_300_799, 0)), "datetime(6)", "9999-12-31 23:59:59.000000"),
        ("interval", Kind::Interval(Interval { months: 14, days: -3, micros: 3_723_000_004 }), "varchar(64)", "1 year 2 mons -3 days +01:02:03.000004"),
        ("interval", Kind::Interval(Interval { months: 0, days: 0, micros: 0 }), "varchar(64)", "00:00:00"),
        ("uuid", Kind::Uuid(uuid.clone().into()), "uuid", "00112233-4455-6677-8899-aabbccddeeff"),
        ("json", Kind::Json(" {\"b\":1,  \"a\":[1, 2]} ".into()), "longtext", " {\"b\":1,  \"a\":[1, 2]} "),
        ("jsonb", Kind::Json("{\"a\": [1, 2], \"b\": 1}".into()), "longtext", "{\"a\": [1, 2], \"b\": 1}"),
        ("jsonb", doc, "longtext", "{\"b\":1,\"a\":\"x\"}"),
        ("text[]", text_arr, "longtext", "[\"a b\",\"c,d\",null,\"q\\\"\\\\'\"]"),
        ("integer[]", int2d, "longtext", "[[1,2],[3,null]]"),
        ("date[]", date_arr, "longtext", "[\"2024-02-29\",\"infinity\"]"),
        ("public.mood", Kind::EnumLabel("happy".into()), "longtext", "happy"),
        ("public.mood[]", Kind::Array(Array { lower_bounds: Vec::new(), element_type: "mood".into(), elements: vec![v(Kind::EnumLabel("sad".into()))] }), "longtext", "[\"sad\"]"),
        ("public.address", Kind::Other(Other { type_name: "public.address".into(), text: "(\"1 Main St\",X)".into() }), "longtext", "(\"1 Main St\",X)"),
        ("point", Kind::Other(Other { type_name: "point".into(), text: "(1,2)".into() }), "longtext", "(1,2)"),
        ("money", Kind::Other(Other { type_name: "money".into(), text: "$1,234.00".into() }), "longtext", "$1,234.00"),
        ("inet", Kind::Other(Other { type_name: "inet".into(), text: "10.0.0.1/8".into() }), "longtext", "10.0.0.1/8"),
        ("bit(3)", Kind::Other(Other { type_name: "bit".into(), text: "101".into() }), "longtext", "101"),
    ];
    let mut cols: Vec<(String, String, bool)> = vec![("id".into(), "bigint".into(), false)];
    for (i, (ty, ..)) in cases.iter().enumerate() {
        cols.push((format!("c{i}"), ty.to_string(), true));
    }
    let col_refs: Vec<(&str, &str, bool)> = cols.iter().map(|(n, t, nl)| (n.as_str(), t.as_str(), *nl)).collect();
    let names: Vec<String> = (0..cases.len()).map(|i| format!("c{i}")).collect();
    let mut image = vec![("id", Value::int64(1))];
    let mut nulls = vec![("id", Value::int64(2))];
    for (i, (_, kind, ..)) in cases.iter().enumerate() {
        image.push((names[i].as_str(), v(kind.clone())));
        nulls.push((names[i].as_str(), Value::null()));
    }
    let schema = ddl("public", "rt", &col_refs, &["id"]);
    apply(&s, vec![schema.clone()]).await.unwrap();
    apply(&s, vec![ins("rt", image.clone()), ins("rt", nulls)]).await.unwrap();
    let types = rows(
        &db,
        &format!("SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = 'rt' ORDER BY ORDINAL_POSITION", db.name),
    )
    .await;
    let select: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    let mut conn = db.pool.get_conn().await.unwrap();
    let got: mysql_async::Row = conn.query_first(format!("SELECT {} FROM rt WHERE id = 1", select.join(", "))).await.unwrap().unwrap();
    let nulls: mysql_async::Row = conn.query_first(format!("SELECT {} FROM rt WHERE id = 2", select.join(", "))).await.unwrap().unwrap();
    let mut failures = Vec::new();
    for (i, (src, _, want_type, want)) in cases.iter().enumerate() {
        let ty = types[i + 1].split_once('|').unwrap().1;
        if ty != *want_type {
            failures.push(format!("{src}: column type {ty}, want {want_type}"));
        }
        let value = match got.as_ref(i).unwrap() {
            mysql_async::Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            other => format!("{other:?}"),
        };
        if value != *want {
            failures.push(format!("{src}: value {value:?}, want {want:?}"));
        }
        if nulls.as_ref(i) != Some(&mysql_async::Value::NULL) {
            failures.push(format!("{src}: NULL did not stay NULL"));
        }
    }
    assert!(failures.is_empty(), "mapping failures:\n{}", failures.join("\n"));
    // bytea keeps its exact bytes; the json column is checked as JSON.
    let bytea = cases.iter().position(|c| c.0 == "bytea").unwrap();
    assert_eq!(rows(&db, &format!("SELECT hex(c{bytea}) FROM rt WHERE id = 1")).await, ["000102FF5C27"]);
    let json = cases.iter().position(|c| c.0 == "json").unwrap();
    assert_eq!(rows(&db, &format!("SELECT json_valid(c{json}), json_extract(c{json}, '$.a[1]') FROM rt WHERE id = 1")).await, ["1|2"]);
    // A fresh sink accepts the same schema again (the types compare equal),
    // and replaying the rows changes nothing.
    let before = rows(&db, &format!("SELECT {} FROM rt ORDER BY id", select.join(", "))).await;
    let s2 = sink(&db, 1).await;
    apply(&s2, vec![schema]).await.unwrap_or_else(|e| panic!("{e}"));
    apply(&s2, vec![ins("rt", image)]).await.unwrap();
    assert_eq!(rows(&db, &format!("SELECT {} FROM rt ORDER BY id", select.join(", "))).await, before);
}

#[tokio::test]
async fn values_mariadb_cannot_store_are_definite_errors_naming_the_column() {
    let db = fresh_db("mysink_nan").await;
    let s = sink(&db, 1).await;
    apply(
        &s,
        vec![ddl(
            "public",
            "sp",
            &[
                ("id", "bigint", false),
                ("d", "double precision", true),
                ("r", "real", true),
                ("n", "numeric", true),
                ("n2", "numeric(5,2)", true),
                ("dt", "date", true),
                ("ts", "timestamp without time zone", true),
                ("tz", "timestamp with time zone", true),
                ("t", "text", true),
            ],
            &["id"],
        )],
    )
    .await
    .unwrap();
    let inf = Date { days: 0, special: Special::PosInfinity as i32 };
    // (column, value, what the error says, the value it must not show: errors carry no row data)
    let cases: Vec<(&str, Kind, &str, Option<&str>)> = vec![
        ("d", Kind::Float64(f64::NAN), "NaN or infinite", None),
        ("d", Kind::Float64(f64::INFINITY), "NaN or infinite", Some("Infinity")),
        ("r", Kind::Float32(f32::NEG_INFINITY), "NaN or infinite", Some("Infinity")),
        ("n", Kind::Decimal("NaN".into()), "NaN or infinite", None),
        ("n", Kind::Decimal("-Infinity".into()), "NaN or infinite", Some("Infinity")),
        ("n", Kind::Decimal(format!("1{}", "0".repeat(40))), "does not fit DECIMAL(65,30)", Some("10000")),
        ("n2", Kind::Decimal("1.555".into()), "does not fit DECIMAL(5,2)", Some("1.555")),
        ("n2", Kind::Decimal("12345".into()), "does not fit DECIMAL(5,2)", Some("12345")),
        ("dt", Kind::Date(inf), "infinity", None),
        ("dt", Kind::Date(Date { days: -735_160, special: 0 }), "(BC) is outside the years", Some("0044")),
        ("ts", Kind::Timestamp(Timestamp { seconds: 0, nanos: 0, special: Special::NegInfinity as i32 }), "-infinity", None),
        ("tz", Kind::Timestamptz(Timestamp { seconds: 0, nanos: 0, special: Special::PosInfinity as i32 }), "infinity", None),
        ("tz", Kind::Timestamptz(Timestamp { seconds: 253_402_300_800, nanos: 0, special: 0 }), "is outside the years", Some("10000")),
    ];
    for (col, kind, says, hidden) in cases {
        let rec = ins("sp", vec![("id", Value::int64(1)), (col, v(kind.clone()))]);
        let err = apply(&s, vec![ins("sp", vec![("id", Value::int64(2))]), rec]).await.unwrap_err();
        let msg = err.to_string();
        assert!(!err.is_transient(), "{msg}");
        assert!(msg.contains(&format!("`{col}`")) && msg.contains("`sp`") && msg.contains(says), "{col} {kind:?}: {msg}");
        assert!(hidden.is_none_or(|h| !msg.contains(h)), "{col} {kind:?}: the value is not printed: {msg}");
    }
    assert_eq!(rows(&db, "SELECT count(*) FROM sp").await, ["0"]);
    // Into a text column NaN and Infinity are just text.
    apply(&s, vec![ins("sp", vec![("id", Value::int64(3)), ("t", v(Kind::Float64(f64::NAN)))])]).await.unwrap();
    assert_eq!(rows(&db, "SELECT t FROM sp").await, ["NaN"]);
}

/// MySQL / MariaDB source types land as the same type, zero dates included.
#[tokio::test]
async fn mysql_source_types_keep_their_type() {
    let db = fresh_db("mysink_mytypes").await;
    let s = sink(&db, 1).await;
    // POINT(1 2) and LINESTRING(0 0,1 1) in MySQL's internal form (SRID 0 + WKB).
    let point = hex_bytes("000000000101000000000000000000F03F0000000000000040");
    let line = hex_bytes("0000000001020000000200000000000000000000000000000000000000000000000000F03F000000000000F03F");
    let cases: Vec<(&str, Kind, &str, &str)> = vec![
        ("int(11)", Kind::Int64(-5), "int(11)", "-5"),
        ("bigint(20) unsigned", Kind::Uint64(u64::MAX), "bigint(20) unsigned", "18446744073709551615"),
        ("tinyint(1)", Kind::Int64(2), "tinyint(1)", "2"),
        ("mediumint(8) unsigned zerofill", Kind::Uint64(42), "mediumint(8) unsigned", "42"),
        ("decimal(10,2)", Kind::Decimal("-12345678.90".into()), "decimal(10,2)", "-12345678.90"),
        ("float", Kind::Float32(1.5), "float", "1.5"),
        ("double", Kind::Float64(-0.25), "double", "-0.25"),
        ("varchar(255)", Kind::Text("x".into()), "varchar(255)", "x"),
        ("text", Kind::Text("t".into()), "text", "t"),
        ("char(2)", Kind::Text("ab".into()), "char(2)", "ab"),
        ("varbinary(4)", Kind::Bytes(vec![0, 1].into()), "varbinary(4)", "\0\u{1}"),
        ("blob", Kind::Bytes(vec![7].into()), "blob", "\u{7}"),
        ("datetime(6)", Kind::Timestamp(Timestamp { seconds: 0, nanos: 5_000, special: 0 }), "datetime(6)", "1970-01-01 00:00:00.000005"),
        ("datetime", Kind::Timestamp(Timestamp { seconds: 0, nanos: 0, special: Special::Zero as i32 }), "datetime", "0000-00-00 00:00:00"),
        ("timestamp(6)", Kind::Timestamptz(Timestamp { seconds: 1_709_207_100, nanos: 0, special: 0 }), "timestamp(6)", "2024-02-29 11:45:00.000000"),
        ("timestamp", Kind::Timestamptz(Timestamp { seconds: 0, nanos: 0, special: Special::Zero as i32 }), "timestamp", "0000-00-00 00:00:00"),
        ("date", Kind::Date(Date { days: 0, special: Special::Zero as i32 }), "date", "0000-00-00"),
        ("date", Kind::Other(Other { type_name: "date".into(), text: "2024-00-15".into() }), "date", "2024-00-15"),
        ("datetime(3)", Kind::Other(Other { type_name: "datetime".into(), text: "2024-01-00 10:00:00.500".into() }), "datetime(3)", "2024-01-00 10:00:00.500"),
        ("time", Kind::Time(Time { micros: -3_020_399_000_000, has_offset: false, offset_seconds: 0 }), "time", "-838:59:59"),
        ("year(4)", Kind::Int64(2024), "year(4)", "2024"),
        ("enum('a','b''c')", Kind::EnumLabel("b'c".into()), "enum('a','b''c')", "b'c"),
        ("set('x','y')", Kind::Set(Labels { labels: vec!["x".into(), "y".into()] }), "set('x','y')", "x,y"),
        ("json", Kind::Json("{\"k\": [1, 2]}".into()), "longtext", "{\"k\": [1, 2]}"),
        ("bit(8)", Kind::Bytes(vec![0xa5].into()), "bit(8)", "\u{fffd}"),
        ("uuid", Kind::Text("00112233-4455-6677-8899-aabbccddeeff".into()), "uuid", "00112233-4455-6677-8899-aabbccddeeff"),
        ("point", Kind::Bytes(point.into()), "point", "POINT"),
        ("geometry", Kind::Bytes(line.into()), "geometry", "LINESTRING"),
    ];
    let mut cols: Vec<(String, String, bool)> = vec![("id".into(), "int(11)".into(), false)];
    for (i, (ty, ..)) in cases.iter().enumerate() {
        cols.push((format!("c{i}"), ty.to_string(), true));
    }
    let col_refs: Vec<(&str, &str, bool)> = cols.iter().map(|(n, t, nl)| (n.as_str(), t.as_str(), *nl)).collect();
    let names: Vec<String> = (0..cases.len()).map(|i| format!("c{i}")).collect();
    let mut image = vec![("id", Value::int64(1))];
    for (i, (_, kind, ..)) in cases.iter().enumerate() {
        image.push((names[i].as_str(), v(kind.clone())));
    }
    let schema = ddl_from(MY, "shop", "mt", &col_refs, &["id"]);
    apply(&s, vec![schema.clone()]).await.unwrap();
    let mut rec = change(Op::Insert, "shop", "mt", &["id"], None, row(image));
    rec.source = MY.into();
    apply(&s, vec![rec]).await.unwrap();
    let types = rows(
        &db,
        &format!("SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = 'mt' ORDER BY ORDINAL_POSITION", db.name),
    )
    .await;
    let select: Vec<String> = names
        .iter()
        .zip(&cases)
        .map(|(n, c)| if c.2 == "point" || c.2 == "geometry" { format!("ST_GeometryType(`{n}`)") } else { format!("`{n}`") })
        .collect();
    let mut conn = db.pool.get_conn().await.unwrap();
    let got: mysql_async::Row = conn.query_first(format!("SELECT {} FROM mt", select.join(", "))).await.unwrap().unwrap();
    let mut failures = Vec::new();
    for (i, (src, _, want_type, want)) in cases.iter().enumerate() {
        if types[i + 1] != *want_type {
            failures.push(format!("{src}: column type {}, want {want_type}", types[i + 1]));
        }
        let value = match got.as_ref(i).unwrap() {
            mysql_async::Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            other => format!("{other:?}"),
        };
        if value != *want {
            failures.push(format!("{src}: value {value:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    let at = |src: &str| cases.iter().position(|c| c.0 == src).unwrap();
    assert_eq!(
        rows(&db, &format!("SELECT ST_AsText(c{}), ST_AsText(c{}), hex(c{}) FROM mt", at("point"), at("geometry"), at("bit(8)"))).await,
        ["POINT(1 2)|LINESTRING(0 0,1 1)|A5"]
    );
    // Same schema again from a fresh sink: no type change detected.
    let s2 = sink(&db, 1).await;
    apply(&s2, vec![schema]).await.unwrap_or_else(|e| panic!("{e}"));
    // An enum label added on the source is a type change (refused, named).
    let e = at("enum('a','b''c')");
    let mut cols2 = col_refs.clone();
    cols2[e + 1].1 = "enum('a','b''c','new')";
    let err = apply(&s2, vec![ddl_from(MY, "shop", "mt", &cols2, &["id"])]).await.unwrap_err();
    assert!(!err.is_transient() && err.to_string().contains(&format!("`c{e}`")), "{err}");
}

fn hex_bytes(h: &str) -> Vec<u8> {
    (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect()
}

/// The id of the sink's connection that is running a statement on `db`.
async fn busy_connection(db: &TestDb) -> Option<String> {
    let ids = rows(
        db,
        &format!(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE '%`{}`.%' AND INFO NOT LIKE '%PROCESSLIST%'",
            db.name
        ),
    )
    .await;
    ids.into_iter().next()
}

#[tokio::test]
async fn lost_connections_are_transient_and_the_next_apply_reconnects() {
    let db = fresh_db("mysink_conn").await;
    let s = std::sync::Arc::new(sink(&db, 1).await);
    apply(&*s, vec![simple_ddl("t"), ins("t", simple(1, "a", 1))]).await.unwrap();
    // Block the lane's next batch on a row lock held by another connection.
    let mut locker = db.pool.get_conn().await.unwrap();
    locker.query_drop("START TRANSACTION").await.unwrap();
    locker.query_drop("SELECT * FROM t WHERE id = 1 FOR UPDATE").await.unwrap();
    let batch = vec![ins("t", simple(2, "b", 2)), upd("t", simple(1, "a2", 1))];
    let task = {
        let (s, batch) = (s.clone(), batch.clone());
        tokio::spawn(async move { s.apply(&Batch { lane: 0, records: batch, order: None }).await })
    };
    let mut id = None;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        id = busy_connection(&db).await;
        if id.is_some() {
            break;
        }
    }
    let id = id.expect("the sink's statement shows in the processlist");
    // Killed mid-batch: transient, nothing applied.
    db.exec(&format!("KILL CONNECTION {id}")).await;
    let err = task.await.unwrap().unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(!err.to_string().contains("logferry-test"), "{err}");
    locker.query_drop("ROLLBACK").await.unwrap();
    assert_eq!(rows(&db, "SELECT id, v FROM t ORDER BY id").await, ["1|a"]);
    // The retry reconnects and applies.
    apply(&*s, batch.clone()).await.unwrap();
    assert_eq!(rows(&db, "SELECT id, v FROM t ORDER BY id").await, ["1|a2", "2|b"]);
    // Killed while idle (find it by blocking it once more, then let it finish).
    locker.query_drop("START TRANSACTION").await.unwrap();
    locker.query_drop("SELECT * FROM t WHERE id = 1 FOR UPDATE").await.unwrap();
    let task = {
        let s = s.clone();
        tokio::spawn(async move { s.apply(&Batch { lane: 0, records: vec![upd("t", simple(1, "a3", 1))], order: None }).await })
    };
    let mut id = None;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        id = busy_connection(&db).await;
        if id.is_some() {
            break;
        }
    }
    locker.query_drop("ROLLBACK").await.unwrap();
    task.await.unwrap().unwrap();
    db.exec(&format!("KILL CONNECTION {}", id.unwrap())).await;
    // After an idle pause the lane pings, finds the connection gone and reconnects.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    apply(&*s, vec![ins("t", simple(3, "c", 3))]).await.unwrap();
    assert_eq!(rows(&db, "SELECT id, v FROM t ORDER BY id").await, ["1|a3", "2|b", "3|c"]);
}

