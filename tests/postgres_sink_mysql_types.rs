//! The postgres target fed by a MySQL / MariaDB source: schema changes with
//! MySQL `COLUMN_TYPE` names and the values the MySQL source sends, built by
//! hand and applied through `Sink::apply`, then checked with SQL. The
//! mapping is the table in `src/sinks/postgres/schema.rs`.

use crate::support::pg::{fresh_db, rows, TestDb};
use crate::support::records::{apply, row, row_change, schema_change};
use logferry::record::{value::Kind, Change, Date, Labels, Op, Special, Time, Timestamp, Value};
use logferry::sinks::postgres::{PostgresSink, PostgresSinkConfig};
use logferry::sinks::SinkError;

/// The MySQL database the changes come from (the target schema).
const DB: &str = "shop";

async fn sink(db: &TestDb) -> PostgresSink {
    PostgresSink::connect(PostgresSinkConfig { url: db.url.clone(), namespace: None, create_tables: true, lanes: 1 })
        .await
        .expect("connect")
}

/// A schema change as the MySQL source sends it: (name, COLUMN_TYPE, nullable).
fn ddl(name: &str, cols: &[(&str, &str, bool)]) -> Change {
    schema_change("mysql", DB, name, cols, &["id"])
}

fn ins(name: &str, pairs: Vec<(&str, Value)>) -> Change {
    row_change("mysql", Op::Insert, DB, name, &["id"], None, row(pairs))
}

fn v(kind: Kind) -> Value {
    Value::of(kind)
}

fn time(micros: i64) -> Kind {
    Kind::Time(Time { micros, has_offset: false, offset_seconds: 0 })
}

fn ts(seconds: i64, nanos: u32) -> Timestamp {
    Timestamp { seconds, nanos, special: Special::Finite as i32 }
}

fn set(labels: &[&str]) -> Kind {
    Kind::Set(Labels { labels: labels.iter().map(|l| l.to_string()).collect() })
}

/// MySQL's geometry bytes: SRID (little-endian), then little-endian WKB of
/// type `ty` with the given counts (rings, points) and coordinates.
fn geom(srid: u32, ty: u32, counts: &[u32], coords: &[f64]) -> Kind {
    let mut b = srid.to_le_bytes().to_vec();
    b.push(1);
    b.extend(ty.to_le_bytes());
    for c in counts {
        b.extend(c.to_le_bytes());
    }
    for f in coords {
        b.extend(f.to_le_bytes());
    }
    Kind::Bytes(b.into())
}

/// Lowercase hex of `b` (what bytea prints after `\x`).
fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

struct Case {
    /// Column name.
    col: &'static str,
    /// MySQL COLUMN_TYPE.
    mysql: &'static str,
    /// Expected target type, as format_type prints it.
    pg: &'static str,
    /// The value the MySQL source sends.
    value: Kind,
    /// A PostgreSQL literal of the value (compared as PostgreSQL prints it).
    literal: String,
}

fn case(col: &'static str, mysql: &'static str, pg: &'static str, value: Kind, literal: impl Into<String>) -> Case {
    Case { col, mysql, pg, value, literal: literal.into() }
}

fn every_type() -> Vec<Case> {
    let blob: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let binary16: Vec<u8> = vec![0, 1, 2, 3, 0, 0, 0xff, 0xfe, b'\\', b'\'', 0, 0, 0, 0, 0, 0];
    let linestring = geom(4326, 2, &[2], &[0.0, 0.0, 1.5, -2.25]);
    let Kind::Bytes(linestring_bytes) = &linestring else { unreachable!() };
    let Kind::Bytes(mp) = geom(0, 6, &[1], &[]) else { unreachable!() };
    let mut mp = mp.to_vec();
    // One polygon inside: its own header, one ring of four points.
    mp.push(1);
    mp.extend(3u32.to_le_bytes());
    mp.extend(1u32.to_le_bytes());
    mp.extend(4u32.to_le_bytes());
    for f in [0.0f64, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0] {
        mp.extend(f.to_le_bytes());
    }
    let mut v6 = [0u8; 16];
    v6[0] = 0x20;
    v6[1] = 0x01;
    v6[2] = 0x0d;
    v6[3] = 0xb8;
    v6[15] = 0x01;
    let long_text = "ünï 😀 ".repeat(20_000);
    vec![
        case("ti", "tinyint(4)", "smallint", Kind::Int64(-128), "-128"),
        case("tu", "tinyint(3) unsigned", "smallint", Kind::Uint64(255), "255"),
        case("tb", "tinyint(1)", "smallint", Kind::Int64(1), "1"),
        case("tb2", "tinyint(1)", "smallint", Kind::Int64(-2), "-2"),
        case("si", "smallint(6)", "smallint", Kind::Int64(-32768), "-32768"),
        case("su", "smallint(5) unsigned", "integer", Kind::Uint64(65535), "65535"),
        case("mi", "mediumint(9)", "integer", Kind::Int64(-8_388_608), "-8388608"),
        case("mu", "mediumint(8) unsigned", "integer", Kind::Uint64(16_777_215), "16777215"),
        case("i", "int(11)", "integer", Kind::Int64(-2_147_483_648), "-2147483648"),
        case("iu", "int(10) unsigned", "bigint", Kind::Uint64(4_294_967_295), "4294967295"),
        case("bi", "bigint(20)", "bigint", Kind::Int64(i64::MIN), "-9223372036854775808"),
        case("bu", "bigint(20) unsigned", "numeric(20,0)", Kind::Uint64(u64::MAX), "18446744073709551615"),
        case("bu0", "bigint(20) unsigned zerofill", "numeric(20,0)", Kind::Uint64(0), "0"),
        case("de", "decimal(10,2)", "numeric(10,2)", Kind::Decimal("-12345678.90".into()), "-12345678.90"),
        case(
            "de65",
            "decimal(65,30)",
            "numeric(65,30)",
            Kind::Decimal("12345678901234567890123456789012345.123456789012345678901234567890".into()),
            "12345678901234567890123456789012345.123456789012345678901234567890",
        ),
        case("f", "float", "real", Kind::Float32(1.1), "1.1"),
        case("fmax", "float", "real", Kind::Float32(-3.402_823_5e38), "-3.4028235e38"),
        case("d", "double", "double precision", Kind::Float64(-2.225_073_858_507_201_4e-308), "-2.2250738585072014e-308"),
        case("d2", "double", "double precision", Kind::Float64(0.1 + 0.2), "0.30000000000000004"),
        case("b1", "bit(1)", "bit(1)", Kind::Bytes(vec![1].into()), "1"),
        case("b5", "bit(5)", "bit(5)", Kind::Bytes(vec![0b101].into()), "00101"),
        case("b8", "bit(8)", "bit(8)", Kind::Bytes(vec![0xa5].into()), "10100101"),
        case("b12", "bit(12)", "bit(12)", Kind::Bytes(vec![0x08, 0x01].into()), "100000000001"),
        case("b64", "bit(64)", "bit(64)", Kind::Bytes(vec![0xff; 8].into()), "1".repeat(64)),
        case("c", "char(3)", "character(3)", Kind::Text("ab".into()), "ab"),
        case("c3", "char(3)", "character(3)", Kind::Text("ü😀x".into()), "ü😀x"),
        case("vc", "varchar(255)", "character varying(255)", Kind::Text("quote ' dq \" bs \\ tab\t nl\n".into()), "quote ' dq \" bs \\ tab\t nl\n"),
        case("tt", "tinytext", "text", Kind::Text(String::new()), ""),
        case("t", "text", "text", Kind::Text("{not an array}".into()), "{not an array}"),
        case("mt", "mediumtext", "text", Kind::Text("NULL".into()), "NULL"),
        case("lt", "longtext", "text", Kind::Text(long_text.clone()), long_text),
        case("bin", "binary(16)", "bytea", Kind::Bytes(binary16.clone().into()), format!("\\x{}", hex(&binary16))),
        case("vb", "varbinary(10)", "bytea", Kind::Bytes(Vec::new().into()), "\\x"),
        case("bl", "blob", "bytea", Kind::Bytes(vec![0, b'\\', 0xff].into()), "\\x005cff"),
        case("lb", "longblob", "bytea", Kind::Bytes(blob.clone().into()), format!("\\x{}", hex(&blob))),
        case("dt", "date", "date", Kind::Date(Date { days: 2_932_896, special: 0 }), "9999-12-31"),
        case("dt0", "date", "date", Kind::Date(Date { days: -354_285, special: 0 }), "1000-01-01"),
        case("tm", "time", "interval", time(-3_020_399_000_000), "-838:59:59"),
        case("tmx", "time", "interval", time(3_020_399_000_000), "838:59:59"),
        case("tm6", "time(6)", "interval(6)", time(-(100 * 3_600_000_000 + 1)), "-100:00:00.000001"),
        case("tm6b", "time(6)", "interval(6)", time(90_061_500_000), "25:01:01.5"),
        case("tm6c", "time(6)", "interval(6)", time(-500_000), "-00:00:00.5"),
        case("dtm", "datetime", "timestamp without time zone", Kind::Timestamp(ts(-30_610_224_000, 0)), "1000-01-01 00:00:00"),
        case(
            "dtm6",
            "datetime(6)",
            "timestamp(6) without time zone",
            Kind::Timestamp(ts(253_402_300_799, 999_999_000)),
            "9999-12-31 23:59:59.999999",
        ),
        case("tsp", "timestamp", "timestamp with time zone", Kind::Timestamptz(ts(1, 0)), "1970-01-01 00:00:01+00"),
        case(
            "tsp6",
            "timestamp(6)",
            "timestamp(6) with time zone",
            Kind::Timestamptz(ts(2_147_483_647, 999_999_000)),
            "2038-01-19 03:14:07.999999+00",
        ),
        case("y", "year", "smallint", Kind::Int64(2155), "2155"),
        case("y4", "year(4)", "smallint", Kind::Int64(1901), "1901"),
        case("en", "enum('a','b''c')", "text", Kind::EnumLabel("b'c".into()), "b'c"),
        case("en0", "enum('','x')", "text", Kind::EnumLabel(String::new()), ""),
        case("st", "set('x','y','a b','q\"')", "text[]", set(&["x", "a b", "q\""]), r#"{x,"a b","q\""}"#),
        case("st1", "set('x','y')", "text[]", set(&["y"]), "{y}"),
        case("st0", "set('x','y')", "text[]", set(&[]), "{}"),
        case("js", "json", "json", Kind::Json("{\"b\": 1,  \"a\": [1, 2.50, \"\\u00e9\"]}".into()), "{\"b\": 1,  \"a\": [1, 2.50, \"\\u00e9\"]}"),
        case("geo", "geometry", "bytea", linestring.clone(), format!("\\x{}", hex(linestring_bytes))),
        case("ls", "linestring", "bytea", linestring.clone(), format!("\\x{}", hex(linestring_bytes))),
        case("mp", "multipolygon", "bytea", Kind::Bytes(mp.clone().into()), format!("\\x{}", hex(&mp))),
        case("pt", "point", "point", geom(0, 1, &[], &[1.5, -2.0]), "(1.5,-2)"),
        case(
            "pg",
            "polygon",
            "polygon",
            geom(0, 3, &[1, 4], &[0.0, 0.0, 4.0, 0.0, 4.0, 0.1, 0.0, 0.0]),
            "((0,0),(4,0),(4,0.1),(0,0))",
        ),
        case("u", "uuid", "uuid", Kind::Text("00112233-4455-6677-8899-aabbccddeeff".into()), "00112233-4455-6677-8899-aabbccddeeff"),
        case("u2", "uuid", "uuid", Kind::Uuid((0u8..16).collect::<Vec<_>>().into()), "00010203-0405-0607-0809-0a0b0c0d0e0f"),
        case("i6", "inet6", "inet", Kind::Text("::ffff:10.0.0.1".into()), "::ffff:10.0.0.1"),
        case("i6b", "inet6", "inet", Kind::Bytes(v6.to_vec().into()), "2001:db8::1"),
        case("i4", "inet4", "inet", Kind::Bytes(vec![192, 168, 1, 254].into()), "192.168.1.254"),
    ]
}

/// Columns of the test table: the key, then every case.
fn columns(cases: &[Case]) -> Vec<(&str, &str, bool)> {
    let mut cols = vec![("id", "int(11)", false)];
    cols.extend(cases.iter().map(|c| (c.col, c.mysql, true)));
    cols
}

#[tokio::test]
async fn every_mysql_type_lands_in_its_postgres_type() {
    let db = fresh_db("pgsink_mysql").await;
    let s = sink(&db).await;
    let cases = every_type();
    apply(&s, vec![ddl("every_type", &columns(&cases))]).await.unwrap();
    let mut image = vec![("id", Value::int64(1))];
    image.extend(cases.iter().map(|c| (c.col, v(c.value.clone()))));
    let mut nulls = vec![("id", Value::int64(2))];
    nulls.extend(cases.iter().map(|c| (c.col, Value::null())));
    apply(&s, vec![ins("every_type", image.clone()), ins("every_type", nulls)]).await.unwrap();

    // Each column got the promised type.
    let types = rows(
        &db,
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = 'shop.every_type'::regclass AND attnum > 0 ORDER BY attnum",
    )
    .await;
    let mut want_types = vec!["id|integer".to_string()];
    want_types.extend(cases.iter().map(|c| format!("{}|{}", c.col, c.pg)));
    assert_eq!(types, want_types);
    let pk = rows(&db, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'shop.every_type'::regclass AND contype = 'p'").await;
    assert_eq!(pk, ["PRIMARY KEY (id)"]);

    // Each value reads back as PostgreSQL prints the expected literal.
    let mut failures = Vec::new();
    for c in &cases {
        let got = db.client.query_one(&format!("SELECT \"{}\"::text FROM shop.every_type WHERE id = 1", c.col), &[]).await.unwrap();
        let got: Option<String> = got.get(0);
        let want = db.client.query_one(&format!("SELECT $1::text::{}::text", c.pg), &[&c.literal]).await.unwrap();
        let want: Option<String> = want.get(0);
        if got != want || got.is_none() {
            let short = |s: &Option<String>| s.as_deref().map(|s| s.chars().take(80).collect::<String>());
            failures.push(format!("{} {} ({}): got {:?}, want {:?}", c.col, c.mysql, c.pg, short(&got), short(&want)));
        }
        let null = db.client.query_one(&format!("SELECT \"{}\" IS NULL FROM shop.every_type WHERE id = 2", c.col), &[]).await.unwrap();
        assert!(null.get::<_, bool>(0), "{}: NULL did not stay NULL", c.col);
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));

    // The edge values as PostgreSQL prints them, spelled out.
    let printed = rows(
        &db,
        "SELECT bu, tm, tm6, tm6c, st, st0, b5, dtm6, tsp6, pt, en FROM shop.every_type WHERE id = 1",
    )
    .await;
    assert_eq!(
        printed,
        [r#"18446744073709551615|-838:59:59|-100:00:00.000001|-00:00:00.5|{x,"a b","q\""}|{}|00101|9999-12-31 23:59:59.999999|2038-01-19 03:14:07.999999+00|(1.5,-2)|b'c"#]
    );
    // TIME beyond 24 hours is a real duration, not text.
    assert_eq!(rows(&db, "SELECT extract(epoch FROM tm)::bigint, tm6b > interval '1 day' FROM shop.every_type WHERE id = 1").await, ["-3020399|t"]);
    // SET labels are array elements.
    assert_eq!(rows(&db, "SELECT st[2], cardinality(st0) FROM shop.every_type WHERE id = 1").await, ["a b|0"]);
    // JSON keeps MariaDB's exact text.
    assert_eq!(rows(&db, "SELECT js FROM shop.every_type WHERE id = 1").await, ["{\"b\": 1,  \"a\": [1, 2.50, \"\\u00e9\"]}"]);
    // BIT(n) is the number: b'101' is 5.
    assert_eq!(rows(&db, "SELECT b5::integer, b64 = ~b'0'::bit(64) FROM shop.every_type WHERE id = 1").await, ["5|t"]);

    // Replaying the same batch changes nothing.
    let before = rows(&db, "SELECT every_type::text FROM shop.every_type ORDER BY id").await;
    apply(&s, vec![ins("every_type", image)]).await.unwrap();
    assert_eq!(rows(&db, "SELECT every_type::text FROM shop.every_type ORDER BY id").await, before);

    // A second schema change with the same MySQL types is no type change.
    apply(&s, vec![ddl("every_type", &columns(&cases))]).await.unwrap();
}

fn definite(e: SinkError) -> String {
    match e {
        SinkError::Definite { message, .. } => message,
        SinkError::Transient { message, .. } => panic!("expected a definite error, got a transient one: {message}"),
    }
}

/// MySQL zero dates cannot exist in PostgreSQL: the batch fails with a
/// definite error naming table and column and saying why — never NULL, even
/// in a nullable column — and nothing of the batch is written.
#[tokio::test]
async fn zero_dates_are_definite_errors_naming_the_column() {
    let db = fresh_db("pgsink_mysql_zero").await;
    let s = sink(&db).await;
    let cols = [("id", "int(11)", false), ("d", "date", true), ("dtm", "datetime(6)", true), ("tsp", "timestamp", true), ("n", "int(11)", true)];
    apply(&s, vec![ddl("zero", &cols)]).await.unwrap();
    let zero_ts = Timestamp { seconds: 0, nanos: 0, special: Special::Zero as i32 };
    let ok = |id| ins("zero", vec![("id", Value::int64(id)), ("n", Value::int64(id))]);
    for (col, value, zero) in [
        ("d", Kind::Date(Date { days: 0, special: Special::Zero as i32 }), "'0000-00-00'"),
        ("dtm", Kind::Timestamp(zero_ts), "'0000-00-00 00:00:00'"),
        ("tsp", Kind::Timestamptz(zero_ts), "'0000-00-00 00:00:00'"),
    ] {
        let bad = ins("zero", vec![("id", Value::int64(2)), (col, v(value)), ("n", Value::int64(2))]);
        let e = definite(apply(&s, vec![ok(1), bad]).await.unwrap_err());
        assert!(e.contains(r#""shop"."zero""#), "{e}");
        assert!(e.contains(&format!("column \"{col}\"")), "{e}");
        assert!(e.contains("MySQL zero") && e.contains(zero), "{e}");
        assert!(e.contains("never replaces it with NULL"), "{e}");
        // The whole batch was refused: not even the good row is there.
        assert_eq!(rows(&db, "SELECT count(*) FROM shop.zero").await, ["0"]);
    }
    // Real dates go through.
    let fine = ins(
        "zero",
        vec![
            ("id", Value::int64(3)),
            ("d", v(Kind::Date(Date { days: 0, special: 0 }))),
            ("dtm", v(Kind::Timestamp(ts(0, 1_000)))),
            ("tsp", v(Kind::Timestamptz(ts(1, 0)))),
        ],
    );
    apply(&s, vec![fine]).await.unwrap();
    assert_eq!(
        rows(&db, "SELECT id, d, dtm, tsp FROM shop.zero").await,
        ["3|1970-01-01|1970-01-01 00:00:00.000001|1970-01-01 00:00:01+00"]
    );
}

/// Values that do not fit their column without loss are refused the same way.
#[tokio::test]
async fn lossy_values_are_definite_errors() {
    let db = fresh_db("pgsink_mysql_lossy").await;
    let s = sink(&db).await;
    let cols = [("id", "int(11)", false), ("pt", "point", true), ("b", "bit(4)", true), ("iu", "int(10) unsigned", true)];
    apply(&s, vec![ddl("lossy", &cols)]).await.unwrap();
    let row = |col, value| ins("lossy", vec![("id", Value::int64(1)), (col, v(value))]);
    let e = definite(apply(&s, vec![row("pt", geom(4326, 1, &[], &[1.0, 2.0]))]).await.unwrap_err());
    assert!(e.contains("column \"pt\"") && e.contains("SRID 4326"), "{e}");
    let e = definite(apply(&s, vec![row("b", Kind::Bytes(vec![0x1f].into()))]).await.unwrap_err());
    assert!(e.contains("column \"b\"") && e.contains("bit(4)"), "{e}");
    // An unsigned value past the column's range is the server's definite error.
    let e = definite(apply(&s, vec![row("iu", Kind::Uint64(u64::MAX))]).await.unwrap_err());
    assert!(e.contains("out of range"), "{e}");
    assert_eq!(rows(&db, "SELECT count(*) FROM shop.lossy").await, ["0"]);
}
