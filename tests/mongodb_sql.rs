//! MongoDB documents into the SQL targets: hand-built records shaped as the
//! MongoDB source sends them (`source = "mongodb"`, see `sinks::document`)
//! applied with the real PostgreSQL and MariaDB targets. Each collection
//! becomes a table `_id` + `document`, both canonical Extended JSON.

use crate::support::records::{apply, row, row_change, schema_change, table};
use logferry::record::bson::UPDATE_DESCRIPTION;
use logferry::record::{value::Kind, Array, Binary, BsonTimestamp, Change, Column, Document, Op, Other, Regex, Timestamp, Value};
use logferry::sinks::mysql::{MysqlSink, MysqlSinkConfig};
use logferry::sinks::postgres::{PostgresSink, PostgresSinkConfig};
use logferry::sinks::{Sink, SinkError};

const MONGO: &str = "mongodb";
/// The source database; the tables land in `public` (PostgreSQL) or the
/// target's database (MariaDB) whatever it is.
const DB: &str = "shop";

fn v(k: Kind) -> Value {
    Value::of(k)
}

fn doc(fields: Vec<(&str, Value)>) -> Value {
    v(Kind::Document(Document { fields: fields.into_iter().map(|(n, v)| Column { name: n.into(), value: Some(v) }).collect() }))
}

fn arr(elements: Vec<Value>) -> Value {
    v(Kind::Array(Array { lower_bounds: Vec::new(), element_type: String::new(), elements }))
}

fn oid(n: u8) -> Value {
    v(Kind::ObjectId(vec![n; 12].into()))
}

fn other(bson_type: &str, text: &str) -> Value {
    v(Kind::Other(Other { type_name: format!("bson:{bson_type}"), text: text.into() }))
}

/// A record of a table whose rows are documents, as the MongoDB source
/// marks every record it sends (the targets read the mark, not the source).
fn documents(mut c: Change) -> Change {
    c.documents = true;
    if let Some(s) = c.schema_change.as_mut().and_then(|s| s.schema.as_mut()) {
        s.documents = true;
    }
    c
}

/// The collection's schema record, as the source sends it once per collection.
fn coll_schema(name: &str) -> Change {
    documents(schema_change(MONGO, DB, name, &[("_id", "bson", false)], &["_id"]))
}

fn ins(name: &str, fields: Vec<(&str, Value)>) -> Change {
    documents(row_change(MONGO, Op::Insert, DB, name, &["_id"], None, row(fields)))
}

/// A full-document update (or replace): documentKey before, whole document after.
fn upd(name: &str, id: Value, fields: Vec<(&str, Value)>) -> Change {
    documents(row_change(MONGO, Op::Update, DB, name, &["_id"], row(vec![("_id", id)]), row(fields)))
}

fn del(name: &str, id: Value) -> Change {
    documents(row_change(MONGO, Op::Delete, DB, name, &["_id"], row(vec![("_id", id)]), None))
}

/// An update without the full document: documentKey + `$updateDescription`.
fn partial(name: &str, id: Value, full_document_missing: bool) -> Change {
    let desc = doc(vec![
        ("updatedFields", doc(vec![("n", v(Kind::Int32(99)))])),
        ("removedFields", arr(vec![Value::text("s")])),
        ("truncatedArrays", arr(vec![])),
        ("fullDocumentMissing", v(Kind::Bool(full_document_missing))),
    ]);
    documents(row_change(MONGO, Op::Update, DB, name, &["_id"], None, row(vec![("_id", id), (UPDATE_DESCRIPTION, desc)])))
}

fn truncate(name: &str) -> Change {
    documents(Change { op: Op::Truncate as i32, source: MONGO.into(), table: table(DB, name), ..Default::default() })
}

/// A document with every BSON-derived kind (fields deliberately not in
/// alphabetical order), and its canonical Extended JSON.
fn every_kind() -> (Vec<(&'static str, Value)>, &'static str) {
    let fields = vec![
        ("_id", oid(0x65)),
        ("s", Value::text("quote \" bs \\ ünï 😀 tab\t")),
        ("i32", v(Kind::Int32(-7))),
        ("i64", v(Kind::Int64(9_007_199_254_740_993))),
        ("d", v(Kind::Float64(1.5))),
        ("negzero", v(Kind::Float64(-0.0))),
        ("nan", v(Kind::Float64(f64::NAN))),
        ("inf", v(Kind::Float64(f64::INFINITY))),
        ("big", v(Kind::Float64(1e300))),
        ("dec", v(Kind::Decimal128("1.10".into()))),
        ("date", v(Kind::Timestamptz(Timestamp { seconds: 1_700_000_000, nanos: 123_000_000, special: 0 }))),
        ("old", v(Kind::Timestamptz(Timestamp { seconds: -1, nanos: 999_000_000, special: 0 }))),
        ("bin", v(Kind::Binary(Binary { subtype: 0, data: b"abc".to_vec().into() }))),
        ("uuid", v(Kind::Binary(Binary { subtype: 4, data: (0u8..16).collect::<Vec<_>>().into() }))),
        ("user", v(Kind::Binary(Binary { subtype: 0x80, data: vec![0xff].into() }))),
        ("re", v(Kind::Regex(Regex { pattern: "^a.b$".into(), options: "im".into() }))),
        ("ts", v(Kind::BsonTimestamp(BsonTimestamp { seconds: 1_700_000_000, increment: 3 }))),
        ("nil", Value::null()),
        ("yes", v(Kind::Bool(true))),
        ("min", other("minKey", r#"{"$minKey":1}"#)),
        ("max", other("maxKey", r#"{"$maxKey":1}"#)),
        ("undef", other("undefined", r#"{"$undefined":true}"#)),
        ("sym", other("symbol", r#"{"$symbol":"s"}"#)),
        ("code", other("javascript", r#"{"$code":"f()"}"#)),
        ("scoped", other("javascriptWithScope", r#"{"$code":"f(x)","$scope":{"x":{"$numberInt":"1"}}}"#)),
        ("ptr", other("dbPointer", r#"{"$dbPointer":{"$ref":"shop.c","$id":{"$oid":"010101010101010101010101"}}}"#)),
        (
            "nested",
            doc(vec![
                ("z", v(Kind::Int32(1))),
                ("a", arr(vec![v(Kind::Int64(2)), doc(vec![("deep", arr(vec![Value::null(), v(Kind::Bool(false))]))]), arr(vec![])])),
                ("empty", doc(vec![])),
            ]),
        ),
    ];
    let json = concat!(
        r#"{"_id":{"$oid":"656565656565656565656565"},"#,
        r#""s":"quote \" bs \\ ünï 😀 tab\t","#,
        r#""i32":{"$numberInt":"-7"},"i64":{"$numberLong":"9007199254740993"},"#,
        r#""d":{"$numberDouble":"1.5"},"negzero":{"$numberDouble":"-0.0"},"nan":{"$numberDouble":"NaN"},"#,
        r#""inf":{"$numberDouble":"Infinity"},"big":{"$numberDouble":"1E+300"},"#,
        r#""dec":{"$numberDecimal":"1.10"},"#,
        r#""date":{"$date":{"$numberLong":"1700000000123"}},"old":{"$date":{"$numberLong":"-1"}},"#,
        r#""bin":{"$binary":{"base64":"YWJj","subType":"00"}},"#,
        r#""uuid":{"$binary":{"base64":"AAECAwQFBgcICQoLDA0ODw==","subType":"04"}},"#,
        r#""user":{"$binary":{"base64":"/w==","subType":"80"}},"#,
        r#""re":{"$regularExpression":{"pattern":"^a.b$","options":"im"}},"#,
        r#""ts":{"$timestamp":{"t":1700000000,"i":3}},"#,
        r#""nil":null,"yes":true,"min":{"$minKey":1},"max":{"$maxKey":1},"undef":{"$undefined":true},"#,
        r#""sym":{"$symbol":"s"},"code":{"$code":"f()"},"#,
        r#""scoped":{"$code":"f(x)","$scope":{"x":{"$numberInt":"1"}}},"#,
        r#""ptr":{"$dbPointer":{"$ref":"shop.c","$id":{"$oid":"010101010101010101010101"}}},"#,
        r#""nested":{"z":{"$numberInt":"1"},"a":[{"$numberLong":"2"},{"deep":[null,false]},[]],"empty":{}}}"#,
    );
    (fields, json)
}

const OID_65: &str = r#"{"$oid":"656565656565656565656565"}"#;
const OID_02: &str = r#"{"$oid":"020202020202020202020202"}"#;

/// What the table holds, as (_id, document) canonical JSON sorted by _id.
struct Expect {
    /// (_id, document) after the first batch.
    first: Vec<(String, String)>,
    /// After the full updates, the delete and the skipped partial update.
    second: Vec<(String, String)>,
}

/// The story both targets are put through: two batches of row changes and
/// the table after each.
fn batches() -> (Vec<Change>, Vec<Change>, Expect) {
    let (every, every_json) = every_kind();
    let rows1 = vec![
        ins("orders", every),
        ins("orders", vec![("_id", oid(2)), ("n", v(Kind::Int32(1))), ("s", Value::text("two"))]),
        ins("orders", vec![("_id", Value::text("k3")), ("n", v(Kind::Int32(3)))]),
        // A sub-document _id, and an Int32 7 next to an Int64 7: two keys.
        ins("orders", vec![("_id", doc(vec![("b", v(Kind::Int32(1))), ("a", v(Kind::Int32(2)))])), ("x", Value::null())]),
        ins("orders", vec![("_id", v(Kind::Int32(7))), ("w", Value::text("int"))]),
        ins("orders", vec![("_id", v(Kind::Int64(7))), ("w", Value::text("long"))]),
        // Updated again in the same batch: the last image wins.
        upd("orders", Value::text("k3"), vec![("_id", Value::text("k3")), ("n", v(Kind::Int32(4))), ("added", v(Kind::Bool(true)))]),
    ];
    let sorted = |mut v: Vec<(&str, &str)>| {
        v.sort();
        v.into_iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>()
    };
    let first = sorted(vec![
        (OID_65, every_json),
        (OID_02, r#"{"_id":{"$oid":"020202020202020202020202"},"n":{"$numberInt":"1"},"s":"two"}"#),
        (r#""k3""#, r#"{"_id":"k3","n":{"$numberInt":"4"},"added":true}"#),
        (r#"{"b":{"$numberInt":"1"},"a":{"$numberInt":"2"}}"#, r#"{"_id":{"b":{"$numberInt":"1"},"a":{"$numberInt":"2"}},"x":null}"#),
        (r#"{"$numberInt":"7"}"#, r#"{"_id":{"$numberInt":"7"},"w":"int"}"#),
        (r#"{"$numberLong":"7"}"#, r#"{"_id":{"$numberLong":"7"},"w":"long"}"#),
    ]);
    let rows2 = vec![
        // A replace: fields removed and reordered.
        upd("orders", oid(2), vec![("_id", oid(2)), ("s", Value::text("replaced")), ("list", arr(vec![v(Kind::Float64(0.1))]))]),
        del("orders", Value::text("k3")),
        del("orders", Value::text("never existed")),
        // update_lookup found nothing: skipped (the delete follows in the stream).
        partial("orders", v(Kind::Int32(7)), true),
        del("orders", v(Kind::Int32(7))),
    ];
    let second = sorted(vec![
        (OID_65, every_json),
        (OID_02, r#"{"_id":{"$oid":"020202020202020202020202"},"s":"replaced","list":[{"$numberDouble":"0.1"}]}"#),
        (r#"{"b":{"$numberInt":"1"},"a":{"$numberInt":"2"}}"#, r#"{"_id":{"b":{"$numberInt":"1"},"a":{"$numberInt":"2"}},"x":null}"#),
        (r#"{"$numberLong":"7"}"#, r#"{"_id":{"$numberLong":"7"},"w":"long"}"#),
    ]);
    (rows1, rows2, Expect { first, second })
}

/// A partial update with its document available is refused, and nothing of
/// its batch is applied.
async fn partial_update_is_refused(s: &dyn Sink) -> SinkError {
    let e = apply(s, vec![ins("orders", vec![("_id", Value::text("new")), ("n", v(Kind::Int32(1)))]), partial("orders", oid(2), false)])
        .await
        .unwrap_err();
    assert!(!e.is_transient(), "{e}");
    let msg = e.to_string();
    for part in ["shop.orders", OID_02, "changeStreamPreAndPostImages", "full_document = \"required\"", "full_document = \"update_lookup\""] {
        assert!(msg.contains(part), "{part:?} missing in: {msg}");
    }
    e
}

mod postgres {
    use super::*;
    use crate::support::pg::{fresh_db, rows, TestDb};

    async fn sink(db: &TestDb, schema: Option<&str>) -> PostgresSink {
        PostgresSink::connect(PostgresSinkConfig { url: db.url.clone(), namespace: schema.map(Into::into), create_tables: true, lanes: 1 })
            .await
            .expect("connect")
    }

    /// (_id, document) as jsonb text, sorted by _id text.
    async fn table(db: &TestDb, t: &str) -> Vec<(String, String)> {
        rows(db, &format!("SELECT _id::text, document::text FROM {t} ORDER BY 1"))
            .await
            .into_iter()
            .map(|r| {
                let (a, b) = r.split_once('|').unwrap();
                (a.to_string(), b.to_string())
            })
            .collect()
    }

    /// Every expected row is stored, compared as jsonb.
    async fn assert_rows(db: &TestDb, t: &str, want: &[(String, String)]) {
        let n = rows(db, &format!("SELECT count(*) FROM {t}")).await;
        assert_eq!(n, [want.len().to_string()], "{:#?}", table(db, t).await);
        for (id, document) in want {
            let q = format!(
                "SELECT count(*) FROM {t} WHERE _id = '{}'::jsonb AND document = '{}'::jsonb",
                id.replace('\'', "''"),
                document.replace('\'', "''")
            );
            assert_eq!(rows(db, &q).await, ["1"], "{id} {document}\nstored: {:#?}", table(db, t).await);
        }
    }

    #[tokio::test]
    async fn collections_land_as_id_and_document() {
        let db = fresh_db("mongo_pg").await;
        let s = sink(&db, None).await;
        let (rows1, rows2, want) = batches();
        apply(&s, vec![coll_schema("orders")]).await.unwrap();
        let cols = rows(
            &db,
            "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute \
             WHERE attrelid = 'public.orders'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        )
        .await;
        assert_eq!(cols, ["_id|jsonb|t", "document|jsonb|f"]);
        let pk = rows(&db, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'public.orders'::regclass AND contype = 'p'").await;
        assert_eq!(pk, ["PRIMARY KEY (_id)"]);
        // The source database's name is not a schema here.
        assert_eq!(rows(&db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'").await, ["0"]);

        apply(&s, rows1.clone()).await.unwrap();
        assert_rows(&db, "public.orders", &want.first).await;
        // Replays are harmless.
        apply(&s, rows1).await.unwrap();
        assert_rows(&db, "public.orders", &want.first).await;

        apply(&s, rows2.clone()).await.unwrap();
        assert_rows(&db, "public.orders", &want.second).await;
        apply(&s, rows2).await.unwrap();
        assert_rows(&db, "public.orders", &want.second).await;

        partial_update_is_refused(&s).await;
        assert_rows(&db, "public.orders", &want.second).await;

        // The source restarts and sends the collection's schema again.
        apply(&s, vec![coll_schema("orders")]).await.unwrap();
        // A batch of only skipped records applies nothing.
        apply(&s, vec![partial("orders", oid(0x65), true)]).await.unwrap();
        assert_rows(&db, "public.orders", &want.second).await;

        // A dropped collection empties the table, which stays.
        apply(&s, vec![truncate("orders")]).await.unwrap();
        assert_eq!(rows(&db, "SELECT count(*) FROM public.orders").await, ["0"]);
    }

    #[tokio::test]
    async fn the_target_schema_still_applies() {
        let db = fresh_db("mongo_pg_schema").await;
        let s = sink(&db, Some("mongo")).await;
        let (fields, json) = every_kind();
        apply(&s, vec![coll_schema("items")]).await.unwrap();
        apply(&s, vec![ins("items", fields)]).await.unwrap();
        assert_rows(&db, "mongo.items", &[(OID_65.to_string(), json.to_string())]).await;
        assert_eq!(rows(&db, "SELECT count(*) FROM pg_tables WHERE tablename = 'items'").await, ["1"]);
    }

    #[tokio::test]
    async fn rows_without_the_documents_mark_are_untouched() {
        let db = fresh_db("mongo_pg_other").await;
        let s = sink(&db, None).await;
        // A plain table whose key happens to be called _id, from a source
        // that even calls itself "mongodb": without `documents` it is rows.
        let ddl = schema_change("postgres", "public", "plain", &[("_id", "bigint", false), ("v", "text", true)], &["_id"]);
        let ins = row_change(MONGO, Op::Insert, "public", "plain", &["_id"], None, row(vec![("_id", Value::int64(1)), ("v", Value::text("x"))]));
        apply(&s, vec![ddl]).await.unwrap();
        apply(&s, vec![ins]).await.unwrap();
        assert_eq!(rows(&db, "SELECT _id, v FROM public.plain").await, ["1|x"]);
    }
}

mod mariadb {
    use super::*;
    use crate::support::mariadb::{fresh_db, TestDb};

    async fn sink(db: &TestDb) -> MysqlSink {
        MysqlSink::connect(MysqlSinkConfig { url: db.url.clone(), namespace: None, create_tables: true, lanes: 1 }).await.expect("connect")
    }

    /// (_id, document) exactly as stored, sorted by _id text.
    async fn table(db: &TestDb) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = db
            .rows("SELECT _id, document FROM orders")
            .await
            .into_iter()
            .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
            .collect();
        out.sort();
        out
    }

    /// MariaDB keeps the JSON text as sent: byte-exact, fields in BSON order.
    async fn assert_rows(db: &TestDb, want: &[(String, String)]) {
        assert_eq!(table(db).await, want);
        // And the server reads each as the same JSON.
        for (id, document) in want {
            let q = format!(
                "SELECT JSON_EQUALS(document, '{}') FROM orders WHERE _id = '{}'",
                document.replace('\\', "\\\\").replace('\'', "''"),
                id.replace('\\', "\\\\").replace('\'', "''")
            );
            assert_eq!(db.rows(&q).await, [[Some("1".to_string())]], "{id}");
        }
    }

    #[tokio::test]
    async fn collections_land_as_id_and_document() {
        let db = fresh_db("mongo_my").await;
        let s = sink(&db).await;
        let (rows1, rows2, want) = batches();
        apply(&s, vec![coll_schema("orders")]).await.unwrap();
        let create = db.rows(&format!("SHOW CREATE TABLE `{}`.orders", db.name)).await;
        assert_eq!(
            create[0][1].as_deref().unwrap(),
            "CREATE TABLE `orders` (\n  `_id` varchar(768) NOT NULL,\n  \
             `document` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`document`)),\n  \
             PRIMARY KEY (`_id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin"
        );

        apply(&s, rows1.clone()).await.unwrap();
        assert_rows(&db, &want.first).await;
        apply(&s, rows1).await.unwrap();
        assert_rows(&db, &want.first).await;

        apply(&s, rows2.clone()).await.unwrap();
        assert_rows(&db, &want.second).await;
        apply(&s, rows2).await.unwrap();
        assert_rows(&db, &want.second).await;

        partial_update_is_refused(&s).await;
        assert_rows(&db, &want.second).await;

        apply(&s, vec![coll_schema("orders")]).await.unwrap();
        apply(&s, vec![partial("orders", oid(0x65), true)]).await.unwrap();
        assert_rows(&db, &want.second).await;

        apply(&s, vec![truncate("orders")]).await.unwrap();
        assert!(table(&db).await.is_empty());
    }
}
