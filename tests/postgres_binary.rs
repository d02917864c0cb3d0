//! The postgres target's binary array parameters (`src/sinks/postgres/binary.rs`)
//! against the real server: every binary type reads back as the same value
//! the text path gives (`text[]` cast on the server), NULL elements, empty
//! arrays and extreme values included, and values without an exact binary
//! form keep the text path.

use crate::support::pg::{connect, fresh_db, rows, server_url};
use crate::support::records::apply;
use crate::support::records::row as shop_row;
use crate::support::shop::{change, ddl, ins};
use logferry::record::Op;
use logferry::sinks::postgres::{PostgresSink, PostgresSinkConfig};
use logferry::record::{value::Kind, Binary, Date, Special, Timestamp, Value};
use logferry::sinks::postgres::binary::{cell, BinType, ColumnParam, PgCell};
use logferry::sinks::postgres::schema::ColumnInfo;
use logferry::sinks::postgres::value::{Target, TypeClass};
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

fn v(kind: Kind) -> Value {
    Value::of(kind)
}

fn column(sql_type: &str) -> ColumnInfo {
    let class = match sql_type {
        "text" | "character varying(5)" => TypeClass::Text,
        "jsonb" => TypeClass::Json,
        "bytea" => TypeClass::Bytea,
        _ => TypeClass::Other,
    };
    ColumnInfo {
        name: "c".into(),
        sql_type: sql_type.into(),
        not_null: false,
        target: Target::scalar(class),
        binary: BinType::of(sql_type),
    }
}

fn cells(col: &ColumnInfo, values: &[Value]) -> Vec<PgCell> {
    values.iter().map(|x| cell(x, col).unwrap_or_else(|e| panic!("{x:?}: {e:?}"))).collect()
}

/// Each element's output text, in order.
async fn read(client: &Client, sql: &str, param: &ColumnParam<'_>) -> Vec<Option<String>> {
    let st = client.prepare_typed(sql, &[param.array_type()]).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let rows = client.query(&st, &[param as &(dyn ToSql + Sync)]).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    rows.iter().map(|r| r.get(0)).collect()
}

/// Sends `values` for a `sql_type` column in binary and as text; both must
/// read back as `expected` (the server's output text, NULL as `None`).
async fn round_trip(client: &Client, sql_type: &str, values: Vec<Value>, expected: &[Option<&str>]) {
    let col = column(sql_type);
    let bt = col.binary.unwrap_or_else(|| panic!("{sql_type} has a binary form"));
    let cells = cells(&col, &values);
    let binary = ColumnParam::new(col.binary, &cells);
    assert_eq!(binary.binary(), Some(bt), "{sql_type}: every value should go in binary: {cells:?}");
    let elem = bt.sql_name();
    let got = read(client, &format!("SELECT x::text FROM unnest($1::{elem}[]) WITH ORDINALITY AS u(x, o) ORDER BY o"), &binary).await;
    let text = ColumnParam::text(&cells);
    let by_text =
        read(client, &format!("SELECT x::{sql_type}::text FROM unnest($1::text[]) WITH ORDINALITY AS u(x, o) ORDER BY o"), &text).await;
    let expected: Vec<Option<String>> = expected.iter().map(|e| e.map(str::to_string)).collect();
    assert_eq!(got, expected, "{sql_type} in binary");
    assert_eq!(by_text, expected, "{sql_type} as text");
    // The empty array and an array of NULLs.
    let none: Vec<PgCell> = Vec::new();
    let empty = ColumnParam::new(col.binary, &none);
    assert_eq!(read(client, &format!("SELECT cardinality($1::{elem}[])::text"), &empty).await, [Some("0".to_string())]);
    let nulls: Vec<PgCell> = vec![None, None];
    let nulls = ColumnParam::new(col.binary, &nulls);
    assert_eq!(nulls.binary(), Some(bt));
    assert_eq!(read(client, &format!("SELECT x::text FROM unnest($1::{elem}[]) AS u(x)"), &nulls).await, [None, None]);
}

fn date(days: i32) -> Value {
    v(Kind::Date(Date { days, special: Special::Finite as i32 }))
}

fn date_special(s: Special) -> Value {
    v(Kind::Date(Date { days: 0, special: s as i32 }))
}

fn ts(seconds: i64, nanos: u32, tz: bool) -> Value {
    let t = Timestamp { seconds, nanos, special: Special::Finite as i32 };
    v(if tz { Kind::Timestamptz(t) } else { Kind::Timestamp(t) })
}

fn ts_special(s: Special) -> Value {
    v(Kind::Timestamp(Timestamp { seconds: 0, nanos: 0, special: s as i32 }))
}

#[tokio::test]
async fn binary_parameters_read_back_as_the_text_path_values() {
    let client = connect(&server_url()).await;
    client.batch_execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'").await.unwrap();
    let null = || v(Kind::Null(Default::default()));
    let int = |i: i64| v(Kind::Int64(i));

    round_trip(&client, "smallint", vec![int(-32768), int(32767), v(Kind::Int32(0)), null(), v(Kind::Uint64(7))], &[
        Some("-32768"), Some("32767"), Some("0"), None, Some("7"),
    ])
    .await;
    round_trip(&client, "integer", vec![int(i32::MIN.into()), int(i32::MAX.into()), null()], &[Some("-2147483648"), Some("2147483647"), None])
        .await;
    round_trip(&client, "bigint", vec![int(i64::MIN), int(i64::MAX), v(Kind::Uint64(i64::MAX as u64)), null(), int(0)], &[
        Some("-9223372036854775808"), Some("9223372036854775807"), Some("9223372036854775807"), None, Some("0"),
    ])
    .await;
    let f32s = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.1, 1e-45, f32::MAX];
    round_trip(&client, "real", f32s.iter().map(|f| v(Kind::Float32(*f))).chain([null()]).collect(), &[
        Some("NaN"), Some("Infinity"), Some("-Infinity"), Some("-0"), Some("0.1"), Some("1e-45"), Some("3.4028235e+38"), None,
    ])
    .await;
    let f64s = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.1, 5e-324, f64::MAX, 1.0 / 3.0];
    round_trip(&client, "double precision", f64s.iter().map(|f| v(Kind::Float64(*f))).chain([null()]).collect(), &[
        Some("NaN"), Some("Infinity"), Some("-Infinity"), Some("-0"), Some("0.1"), Some("5e-324"), Some("1.7976931348623157e+308"),
        Some("0.3333333333333333"), None,
    ])
    .await;
    round_trip(&client, "boolean", vec![v(Kind::Bool(true)), v(Kind::Bool(false)), null()], &[Some("true"), Some("false"), None]).await;
    let odd = "quote ' dq \" bs \\ tab\t nl\n ünï 😀";
    round_trip(&client, "text", vec![v(Kind::Text(String::new())), v(Kind::Text(odd.into())), int(5), null(), v(Kind::Text("x".repeat(100_000)))], &[
        Some(""), Some(odd), Some("5"), None, Some("x".repeat(100_000).as_str()),
    ])
    .await;
    round_trip(&client, "character varying(5)", vec![v(Kind::Text("abcde".into())), v(Kind::Text("ééééé".into())), null()], &[
        Some("abcde"), Some("ééééé"), None,
    ])
    .await;
    let bin = v(Kind::Binary(Binary { subtype: 0, data: vec![1, 2].into() }));
    round_trip(&client, "bytea", vec![v(Kind::Bytes(Vec::new().into())), v(Kind::Bytes(vec![0, 255, 1, 92].into())), bin, null()], &[
        Some("\\x"), Some("\\x00ff015c"), Some("\\x0102"), None,
    ])
    .await;
    let u: Vec<u8> = (0..16).map(|i| i * 17).collect();
    round_trip(&client, "uuid", vec![v(Kind::Uuid(u.into())), v(Kind::Uuid(vec![0xff; 16].into())), null()], &[
        Some("00112233-4455-6677-8899-aabbccddeeff"), Some("ffffffff-ffff-ffff-ffff-ffffffffffff"), None,
    ])
    .await;
    // 1970-01-01, the day before, PostgreSQL's epoch, the first and last dates it has, and the infinities.
    round_trip(&client, "date", vec![date(0), date(-1), date(10_957), date(-2_440_588), date(2_145_042_905), date(-719_528), date_special(Special::PosInfinity), date_special(Special::NegInfinity), null()], &[
        Some("1970-01-01"), Some("1969-12-31"), Some("2000-01-01"), Some("4714-11-24 BC"), Some("5874897-12-31"), Some("0001-01-01 BC"),
        Some("infinity"), Some("-infinity"), None,
    ])
    .await;
    // Before 1970 with a fraction, before 2000, the first and last instants PostgreSQL has, the infinities.
    let first = -2_440_588i64 * 86_400;
    let last = 9_224_318_015_999;
    for (sql_type, tz, zone) in [("timestamp without time zone", false, ""), ("timestamp with time zone", true, "+00")] {
        let values = vec![
            ts(-1, 999_999_000, tz), ts(946_684_799, 500_000_000, tz), ts(first, 0, tz), ts(last, 999_999_000, tz), ts(0, 1000, !tz),
            ts_special(Special::PosInfinity), ts_special(Special::NegInfinity), null(),
        ];
        let expected = [
            format!("1969-12-31 23:59:59.999999{zone}"), format!("1999-12-31 23:59:59.5{zone}"), format!("4714-11-24 00:00:00{zone} BC"),
            format!("294276-12-31 23:59:59.999999{zone}"), format!("1970-01-01 00:00:00.000001{zone}"), "infinity".into(), "-infinity".into(),
        ];
        let mut expected: Vec<Option<&str>> = expected.iter().map(|s| Some(s.as_str())).collect();
        expected.push(None);
        round_trip(&client, sql_type, values, &expected).await;
    }
    let dec = |s: &str| v(Kind::Decimal(s.into()));
    let many = format!("-{}.{}", "9".repeat(300), "0123456789".repeat(30));
    let big = format!("1{}", "0".repeat(400));
    round_trip(&client, "numeric", vec![dec("0"), dec("-0.00"), dec("123.4500"), dec("-1"), dec("0.0001"), dec("0.00001"), dec("NaN"), dec(&many), dec(&big), dec("000120.5"), int(i64::MIN), v(Kind::Decimal128("10000".into())), null()], &[
        Some("0"), Some("0.00"), Some("123.4500"), Some("-1"), Some("0.0001"), Some("0.00001"), Some("NaN"), Some(many.as_str()), Some(big.as_str()), Some("120.5"),
        Some("-9223372036854775808"), Some("10000"), None,
    ])
    .await;
    round_trip(&client, "jsonb", vec![v(Kind::Json("{\"b\": [1, 2.50, null], \"a\": \"ü\"}".into())), v(Kind::Text("\"x\"".into())), null()], &[
        Some("{\"a\": \"ü\", \"b\": [1, 2.50, null]}"), Some("\"x\""), None,
    ])
    .await;
}

/// Values whose binary form would not mean exactly what their text means,
/// or that the server must refuse, keep the text path (whole column).
#[test]
fn values_without_an_exact_binary_form_keep_the_text_path() {
    let cases: Vec<(&str, Value)> = vec![
        ("smallint", v(Kind::Int64(70_000))),
        ("integer", v(Kind::Uint64(u64::MAX))),
        // Text in another spelling than the integer's own ("12" itself is taken as 12, exactly).
        ("bigint", v(Kind::Text("012".into()))),
        ("bigint", v(Kind::Bool(true))),
        ("real", v(Kind::Float64(0.1))),
        ("double precision", v(Kind::Float32(0.1))),
        ("timestamp with time zone", ts(0, 1, true)),
        ("timestamp without time zone", date(0)),
        ("date", date(-2_440_589)),
        ("date", date(2_145_042_906)),
        ("character varying(5)", v(Kind::Text("abcdef".into()))),
        ("numeric", v(Kind::Decimal("1e5".into()))),
        ("numeric", v(Kind::Decimal("Infinity".into()))),
        ("uuid", v(Kind::Text("00112233-4455-6677-8899-AABBCCDDEEFF".into()))),
    ];
    for (sql_type, value) in cases {
        let col = column(sql_type);
        let cells = cells(&col, &[v(Kind::Null(Default::default())), value.clone()]);
        assert_eq!(ColumnParam::new(col.binary, &cells).binary(), None, "{sql_type} {value:?}");
    }
}

/// Binary numeric into numeric(p,s) columns (negative scale too): the
/// server rounds and checks precision on assignment exactly as the text
/// path's cast does.
#[tokio::test]
async fn binary_numerics_take_the_columns_precision_and_scale() {
    let client = connect(&server_url()).await;
    client.batch_execute("CREATE TEMP TABLE lf_nums (b numeric(7,2), t numeric(7,2), bn numeric(5,-2), tn numeric(5,-2))").await.unwrap();
    let col = column("numeric");
    let values: Vec<Value> = ["1.005", "-1.005", "12345.675", "0.004", "-0.00"].iter().map(|s| v(Kind::Decimal((*s).into()))).collect();
    let cells = cells(&col, &values);
    let (b, t) = (ColumnParam::new(col.binary, &cells), ColumnParam::text(&cells));
    assert_eq!(b.binary(), Some(BinType::Numeric));
    let sql = "INSERT INTO lf_nums SELECT b, t::numeric(7,2), b, t::numeric(5,-2) FROM unnest($1::numeric[], $2::text[]) AS u(b, t)";
    let st = client.prepare_typed(sql, &[b.array_type(), t.array_type()]).await.unwrap();
    client.execute(&st, &[&b as &(dyn ToSql + Sync), &t]).await.unwrap();
    let rows = client.query("SELECT b::text, t::text, bn::text, tn::text FROM lf_nums", &[]).await.unwrap();
    let got: Vec<[String; 4]> = rows.iter().map(|r| [r.get(0), r.get(1), r.get(2), r.get(3)]).collect();
    assert_eq!(
        got,
        [
            ["1.01", "1.01", "0", "0"],
            ["-1.01", "-1.01", "0", "0"],
            ["12345.68", "12345.68", "12300", "12300"],
            ["0.00", "0.00", "0", "0"],
            ["0.00", "0.00", "0", "0"],
        ]
        .map(|r| r.map(String::from))
    );
    // Too many digits for the column: the same numeric overflow (22003) either way.
    for param in [ColumnParam::new(col.binary, &cells[2..3]), ColumnParam::text(&cells[2..3])] {
        let sql = format!("INSERT INTO lf_nums (bn) SELECT x::numeric(2,-2) FROM unnest($1::{}[]) AS u(x)", param.binary().map_or("text", BinType::sql_name));
        let st = client.prepare_typed(&sql, &[param.array_type()]).await.unwrap();
        let e = client.execute(&st, &[&param as &(dyn ToSql + Sync)]).await.unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some("22003"), "{e:?}");
    }
}

/// Through the sink: values sent in binary that the server refuses (a
/// numeric too wide for numeric(5,2), JSON that does not parse into jsonb)
/// give the same definite error naming the column and SQLSTATE as on the
/// text path, nothing of the batch is applied, and good batches land.
#[tokio::test]
async fn data_errors_in_binary_columns_name_the_column() {
    let db = fresh_db("pgbinary_errors").await;
    let sink = PostgresSink::connect(PostgresSinkConfig { url: db.url.clone(), namespace: None, create_tables: true, lanes: 1 })
        .await
        .expect("connect");
    let cols = [("id", "bigint", false), ("amount", "numeric(5,2)", true), ("doc", "jsonb", true), ("at", "timestamp with time zone", true)];
    apply(&sink, vec![ddl("public", "b", &cols, &["id"])]).await.unwrap();
    let at = v(Kind::Timestamptz(Timestamp { seconds: 946_684_800, nanos: 123_456_000, special: Special::Finite as i32 }));
    let good = |id: i64, amount: &str| {
        ins("b", vec![("id", Value::int64(id)), ("amount", v(Kind::Decimal(amount.into()))), ("doc", v(Kind::Json("{\"k\": 1}".into()))), ("at", at.clone())])
    };
    apply(&sink, vec![good(1, "1.005"), good(2, "-999.99")]).await.unwrap();
    assert_eq!(rows(&db, "SELECT id, amount, doc, at FROM b ORDER BY id").await, [
        "1|1.01|{\"k\": 1}|2000-01-01 00:00:00.123456+00",
        "2|-999.99|{\"k\": 1}|2000-01-01 00:00:00.123456+00",
    ]);
    let err = apply(&sink, vec![good(3, "1"), good(4, "1000")]).await.unwrap_err();
    let msg = err.to_string();
    assert!(!err.is_transient() && msg.contains("column \"amount\" (numeric(5,2))") && msg.contains("22003"), "{msg}");
    let bad_doc = ins("b", vec![("id", Value::int64(5)), ("doc", v(Kind::Json("{bad".into())))]);
    let err = apply(&sink, vec![good(3, "1"), bad_doc]).await.unwrap_err();
    let msg = err.to_string();
    assert!(!err.is_transient() && msg.contains("column \"doc\" (jsonb)") && msg.contains("22P02"), "{msg}");
    assert_eq!(rows(&db, "SELECT count(*) FROM b").await, ["2"]);
}

/// A value longer than the target's `character varying(n)` / `character(n)`
/// is refused (22001, nothing of the batch applied), on the text path too:
/// an explicit cast to the limited type would cut it silently. And a delete
/// by a longer key leaves the stored row whose key is its first n
/// characters alone.
#[tokio::test]
async fn values_longer_than_the_target_column_are_refused_not_cut() {
    let db = fresh_db("pgbinary_long").await;
    let sink = PostgresSink::connect(PostgresSinkConfig { url: db.url.clone(), namespace: None, create_tables: true, lanes: 1 })
        .await
        .expect("connect");
    let cols = [("k", "character varying(3)", false), ("c", "character(3)", true), ("n", "integer", true)];
    apply(&sink, vec![ddl("public", "l", &cols, &["k"])]).await.unwrap();
    let put = |pairs: Vec<(&str, Value)>| change(Op::Insert, "public", "l", &["k"], None, shop_row(pairs));
    let row = |k: &str, c: &str| put(vec![("k", Value::text(k)), ("c", Value::text(c)), ("n", Value::int64(1))]);
    apply(&sink, vec![row("abc", "xyz")]).await.unwrap();
    for (bad, what) in [(row("abcdef", "x"), "key"), (row("b", "wxyz"), "character(3)")] {
        let err = apply(&sink, vec![row("zz", "z"), bad]).await.unwrap_err();
        let msg = err.to_string();
        assert!(!err.is_transient() && msg.contains("22001"), "{what}: {msg}");
    }
    // A string where the integer column is: the text path, refused as before.
    let err = apply(&sink, vec![put(vec![("k", Value::text("q")), ("n", Value::text("1x"))])]).await.unwrap_err();
    assert!(err.to_string().contains("22P02"), "{err}");
    let del = change(Op::Delete, "public", "l", &["k"], shop_row(vec![("k", Value::text("abcdef"))]), None);
    apply(&sink, vec![del]).await.unwrap();
    assert_eq!(rows(&db, "SELECT k, c, n FROM l ORDER BY k").await, ["abc|xyz|1"]);
}
