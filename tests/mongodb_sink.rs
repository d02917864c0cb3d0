//! The MongoDB target against the test server (`LOGFERRY_TEST_MONGO_URL`,
//! a SecantusDB stand-in under scripts/test): hand-built records shaped as
//! the MongoDB source sends them (see `record::bson`) and as the SQL sources
//! send them, applied with the real sink and read back with the driver.
//! Each test has its own database `lf_<name>_<pid>_<n>`.

use crate::support::records::{apply, row, row_change, schema_change};
use bson::spec::BinarySubtype;
use bson::{doc, Bson, Document};
use logferry::config::{MongodbTargetConfig, SecretUrl};
use logferry::record::bson::{bson_to_value, document_to_row, UPDATE_DESCRIPTION};
use logferry::record::{Change, Op, Row, Value};
use logferry::sinks::mongodb::MongodbSink;
use logferry::sinks::{Sink, SinkError};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const MONGO: &str = "mongodb";

fn server_url() -> String {
    std::env::var("LOGFERRY_TEST_MONGO_URL").unwrap_or_else(|_| {
        panic!("LOGFERRY_TEST_MONGO_URL is not set: run the suite with scripts/test, which starts a MongoDB stand-in (SecantusDB) on 127.0.0.1 and sets it")
    })
}

/// A database of one's own, and a driver client to look at it.
struct Db {
    name: String,
    db: mongodb::Database,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

async fn fresh_db(prefix: &str) -> Db {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!("lf_{prefix}_{}_{n}", std::process::id());
    let client = mongodb::Client::with_uri_str(server_url()).await.expect("client for the test server");
    let db = client.database(&name);
    db.drop().await.expect("the test MongoDB answers (scripts/test starts it)");
    Db { name, db }
}

impl Db {
    /// Every document of `coll`, sorted by `_id`.
    async fn docs(&self, coll: &str) -> Vec<Document> {
        let mut cursor = self.db.collection::<Document>(coll).find(doc! {}).sort(doc! { "_id": 1 }).await.expect("find");
        let mut out = Vec::new();
        while cursor.advance().await.expect("cursor") {
            out.push(cursor.deserialize_current().expect("document"));
        }
        out
    }

    async fn one(&self, coll: &str, id: impl Into<Bson>) -> Option<Document> {
        self.db.collection::<Document>(coll).find_one(doc! { "_id": id.into() }).await.expect("find_one")
    }

    async fn collections(&self) -> Vec<String> {
        let mut names = self.db.list_collection_names().await.expect("listCollections");
        names.sort();
        names
    }
}

async fn sink_with(database: Option<&str>, transaction: bool) -> MongodbSink {
    let cfg = MongodbTargetConfig { url: SecretUrl::new(server_url()), database: database.map(str::to_string), transaction };
    MongodbSink::connect(&cfg, 2).await.unwrap_or_else(|e| panic!("connect: {e}"))
}

/// A sink writing into each record's schema (the source database).
async fn sink() -> MongodbSink {
    sink_with(None, false).await
}

/// A MongoDB insert (or snapshot read) of `d`.
fn ins(db: &str, coll: &str, d: &Document) -> Change {
    row_change(MONGO, Op::Insert, db, coll, &["_id"], None, Some(document_to_row(d)))
}

fn snap(db: &str, coll: &str, d: &Document) -> Change {
    row_change(MONGO, Op::SnapshotRead, db, coll, &["_id"], None, Some(document_to_row(d)))
}

fn key_row(id: &Bson) -> Option<Row> {
    row(vec![("_id", bson_to_value(id))])
}

/// A full-document update (replace): documentKey before, the document after.
fn upd(db: &str, coll: &str, d: &Document) -> Change {
    let id = d.get("_id").expect("_id").clone();
    row_change(MONGO, Op::Update, db, coll, &["_id"], key_row(&id), Some(document_to_row(d)))
}

fn del(db: &str, coll: &str, id: impl Into<Bson>) -> Change {
    row_change(MONGO, Op::Delete, db, coll, &["_id"], key_row(&id.into()), None)
}

/// A partial update (no full document).
fn patch(db: &str, coll: &str, id: impl Into<Bson>, set: Document, unset: &[&str], truncated: &[(&str, i32)]) -> Change {
    let id = id.into();
    let desc = doc! {
        "updatedFields": set,
        "removedFields": unset.iter().map(|s| Bson::String(s.to_string())).collect::<Vec<_>>(),
        "truncatedArrays": truncated.iter().map(|(f, n)| Bson::Document(doc! { "field": *f, "newSize": *n })).collect::<Vec<_>>(),
        "fullDocumentMissing": false,
    };
    let after = row(vec![("_id", bson_to_value(&id)), (UPDATE_DESCRIPTION, bson_to_value(&Bson::Document(desc)))]);
    row_change(MONGO, Op::Update, db, coll, &["_id"], key_row(&id), after)
}

fn truncate(db: &str, coll: &str) -> Change {
    row_change(MONGO, Op::Truncate, db, coll, &[], None, None)
}

fn coll_schema(db: &str, coll: &str) -> Change {
    schema_change(MONGO, db, coll, &[("_id", "bson", false)], &["_id"])
}

/// BSON bytes of a document: equal bytes are the very same values, types
/// and field order.
fn bytes(d: &Document) -> Vec<u8> {
    bson::to_vec(d).unwrap()
}

fn ext(json: serde_json::Value) -> Bson {
    Bson::try_from(json).unwrap()
}

/// A document with every BSON type (numeric types side by side).
fn every_type(id: i32) -> Document {
    let mut d = doc! {
        "_id": id,
        "double": 1.5,
        "double_int": 3.0,
        "neg_zero": -0.0,
        "nan": f64::NAN,
        "inf": f64::NEG_INFINITY,
        "int32": 7_i32,
        "int64": 7_i64,
        "int64_big": i64::MIN,
        "dec": Bson::Decimal128("1.10".parse().unwrap()),
        "dec_neg_zero": Bson::Decimal128("-0".parse().unwrap()),
        "dec_nan": Bson::Decimal128("NaN".parse().unwrap()),
        "dec_inf": Bson::Decimal128("-Infinity".parse().unwrap()),
        "dec_big": Bson::Decimal128("1.000000000000000000000000000000000E+6144".parse().unwrap()),
        "string": "héllo \u{1F600}",
        "empty": "",
        "doc": { "z": 1, "a": { "nested": [1_i64, "two", null] } },
        "array": [1, 2.5, "x", { "k": true }, []],
        "bool": true,
        "null": null,
        "oid": bson::oid::ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap(),
        "date": bson::DateTime::from_millis(1_700_000_000_123),
        "date_neg": bson::DateTime::from_millis(-1),
        // SecantusDB (Python) refuses dates before year 1; the unit tests of
        // record::bson cover them.
        "date_old": bson::DateTime::from_millis(-62_135_596_800_000),
        "ts": bson::Timestamp { time: 1_700_000_000, increment: 7 },
        "regex": bson::Regex { pattern: "^a.*b$".into(), options: "imx".into() },
        "code": Bson::JavaScriptCode("function () { return 1; }".into()),
        "code_scope": Bson::JavaScriptCodeWithScope(bson::JavaScriptCodeWithScope { code: "x + y".into(), scope: doc! { "y": 2, "x": 1_i64 } }),
        "symbol": Bson::Symbol("sym".into()),
        "undefined": Bson::Undefined,
        "min": Bson::MinKey,
        "max": Bson::MaxKey,
        "dbptr": ext(serde_json::json!({ "$dbPointer": { "$ref": "db.coll", "$id": { "$oid": "65a1b2c3d4e5f60718293a4b" } } })),
    };
    for subtype in [0_u8, 1, 2, 3, 4, 5, 6, 7, 8, 0x80, 0xff] {
        let bytes = if subtype == 4 || subtype == 3 || subtype == 5 { (0..16).collect() } else { vec![0, 1, 2, 0xff, subtype] };
        d.insert(format!("bin_{subtype:02x}"), bson::Binary { subtype: BinarySubtype::from(subtype), bytes });
    }
    d
}

#[tokio::test]
async fn every_bson_type_lands_exactly() {
    let t = fresh_db("every_type").await;
    let s = sink().await;
    let (a, b) = (every_type(1), every_type(2));
    apply(&s, vec![coll_schema(&t.name, "c"), ins(&t.name, "c", &a)]).await.unwrap_err_if_any();
    apply(&s, vec![snap(&t.name, "c", &b)]).await.unwrap();
    let got = t.docs("c").await;
    assert_eq!(got.len(), 2);
    // SecantusDB (a Python server using pymongo's codec) stores the
    // deprecated symbol, undefined and dbPointer types as string, null and
    // a DBRef document; a real MongoDB keeps them. What we send is checked
    // by the unit tests of record::bson.
    let build = t.db.run_command(doc! { "buildInfo": 1 }).await.unwrap();
    let stand_in = build.contains_key("secantusVersion");
    let deprecated = ["symbol", "undefined", "dbptr"];
    for (want, got) in [a, b].iter().zip(&got) {
        let mut diffs = Vec::new();
        for (k, v) in want {
            if stand_in && deprecated.contains(&k.as_str()) {
                continue;
            }
            let g = got.get(k).cloned().unwrap_or(Bson::String("<missing>".into()));
            if bytes(&doc! { "v": g.clone() }) != bytes(&doc! { "v": v.clone() }) {
                diffs.push(format!("field {k}: stored {g:?}, sent {v:?}"));
            }
        }
        assert!(diffs.is_empty(), "{}", diffs.join("\n"));
        if stand_in {
            assert_eq!(got.get("symbol"), Some(&Bson::String("sym".into())));
            assert_eq!(got.get("undefined"), Some(&Bson::Null));
            let keys: Vec<&String> = got.keys().collect();
            assert_eq!(keys, want.keys().collect::<Vec<_>>(), "field order");
        } else {
            assert_eq!(bytes(got), bytes(want), "whole document, field order included");
        }
    }
}

/// `Result::unwrap` with the sink's message.
trait UnwrapSink {
    fn unwrap_err_if_any(self);
}

impl UnwrapSink for Result<(), SinkError> {
    fn unwrap_err_if_any(self) {
        if let Err(e) = self {
            panic!("apply failed: {e}");
        }
    }
}

#[tokio::test]
async fn full_document_updates_replace() {
    let t = fresh_db("replace").await;
    let s = sink().await;
    apply(&s, vec![ins(&t.name, "c", &doc! { "_id": 1, "a": 1, "b": 2 }), ins(&t.name, "c", &doc! { "_id": 2, "a": 1 })]).await.unwrap_err_if_any();
    apply(&s, vec![upd(&t.name, "c", &doc! { "_id": 1, "a": 5 }), upd(&t.name, "c", &doc! { "_id": 3, "new": true })]).await.unwrap_err_if_any();
    assert_eq!(t.docs("c").await, vec![doc! { "_id": 1, "a": 5 }, doc! { "_id": 2, "a": 1 }, doc! { "_id": 3, "new": true }]);
}

#[tokio::test]
async fn partial_updates_apply() {
    let t = fresh_db("partial").await;
    let s = sink().await;
    let start = doc! { "_id": 1, "a": { "b": 1, "c": 2 }, "arr": [1, 2, 3, 4], "gone": 1, "keep": "k", "list": [[1, 2], [3]] };
    apply(&s, vec![ins(&t.name, "c", &start)]).await.unwrap_err_if_any();
    apply(
        &s,
        vec![
            patch(&t.name, "c", 1, doc! { "a.b": 10, "arr.1": 20, "new": true, "list.0.1": 9 }, &["gone", "a.c"], &[("arr", 2), ("list.0", 1)]),
            // A partial update of a document that is not there creates nothing.
            patch(&t.name, "c", 2, doc! { "x": 1 }, &[], &[]),
        ],
    )
    .await
    .unwrap_err_if_any();
    let got = t.one("c", 1).await.unwrap();
    // Field order: $set appends new fields at the end.
    assert_eq!(got, doc! { "_id": 1, "a": { "b": 10 }, "arr": [1, 20], "keep": "k", "list": [[1, 9], [3]], "new": true });
    assert_eq!(t.one("c", 2).await, None);
}

#[tokio::test]
async fn deletes_and_delete_then_reinsert_in_one_batch() {
    let t = fresh_db("delete").await;
    let s = sink().await;
    apply(&s, vec![ins(&t.name, "c", &doc! { "_id": 3, "old": "field", "v": 1 }), ins(&t.name, "c", &doc! { "_id": 4, "v": 1 })]).await.unwrap_err_if_any();
    apply(
        &s,
        vec![
            ins(&t.name, "c", &doc! { "_id": 1, "v": 1 }),
            ins(&t.name, "c", &doc! { "_id": 2, "v": 1 }),
            del(&t.name, "c", 1),
            ins(&t.name, "c", &doc! { "_id": 1, "v": 2 }),
            del(&t.name, "c", 2),
            // Stored 3 deleted and re-inserted with fewer fields: the old field is gone.
            del(&t.name, "c", 3),
            ins(&t.name, "c", &doc! { "_id": 3, "v": 2 }),
            // Stored 4 updated, then deleted.
            upd(&t.name, "c", &doc! { "_id": 4, "v": 2 }),
            del(&t.name, "c", 4),
            // Deleted before it exists: nothing to do.
            del(&t.name, "c", 5),
        ],
    )
    .await
    .unwrap_err_if_any();
    assert_eq!(t.docs("c").await, vec![doc! { "_id": 1, "v": 2 }, doc! { "_id": 3, "v": 2 }]);
}

/// A batch with every kind of row change over two collections.
fn mixed_batch(db: &str) -> Vec<Change> {
    vec![
        ins(db, "a", &doc! { "_id": 1, "n": 1, "arr": [1, 2, 3] }),
        ins(db, "b", &doc! { "_id": "x", "n": 1 }),
        patch(db, "a", 1, doc! { "n": 2, "sub.k": "v" }, &[], &[("arr", 1)]),
        upd(db, "a", &doc! { "_id": 2, "n": 5 }),
        del(db, "b", "x"),
        ins(db, "b", &doc! { "_id": "y", "n": 3 }),
        patch(db, "a", 2, doc! { "m": 1 }, &["n"], &[]),
        del(db, "a", 3),
    ]
}

#[tokio::test]
async fn replaying_a_batch_gives_the_same_state() {
    let t = fresh_db("replay").await;
    let s = sink().await;
    apply(&s, vec![ins(&t.name, "a", &doc! { "_id": 3, "n": 0 }), ins(&t.name, "b", &doc! { "_id": "x", "n": 0 })]).await.unwrap_err_if_any();
    apply(&s, mixed_batch(&t.name)).await.unwrap_err_if_any();
    let once = (t.docs("a").await, t.docs("b").await);
    assert_eq!(
        once,
        (
            vec![doc! { "_id": 1, "n": 2, "arr": [1], "sub": { "k": "v" } }, doc! { "_id": 2, "m": 1 }],
            vec![doc! { "_id": "y", "n": 3 }]
        )
    );
    for _ in 0..2 {
        apply(&s, mixed_batch(&t.name)).await.unwrap_err_if_any();
        assert_eq!((t.docs("a").await, t.docs("b").await), once);
    }
}

#[tokio::test]
async fn replayed_partial_update_on_a_reshaped_document_is_skipped() {
    let t = fresh_db("reshaped").await;
    let s = sink().await;
    let first = vec![ins(&t.name, "c", &doc! { "_id": 1, "a": { "b": 0 }, "arr": [1, 2, 3] }), ins(&t.name, "c", &doc! { "_id": 2 })];
    let second = vec![patch(&t.name, "c", 1, doc! { "a.b": 1, "z": 1 }, &[], &[("arr", 2)]), patch(&t.name, "c", 2, doc! { "y": 1 }, &[], &[])];
    let third = vec![upd(&t.name, "c", &doc! { "_id": 1, "a": 5, "arr": 7 })];
    for b in [&first, &second, &third] {
        apply(&s, b.clone()).await.unwrap_err_if_any();
    }
    let want = vec![doc! { "_id": 1, "a": 5, "arr": 7 }, doc! { "_id": 2, "y": 1 }];
    assert_eq!(t.docs("c").await, want);
    // A crash before the checkpoint: the second and third batches come again.
    // `a.b` cannot be set on a number and `arr` is no longer an array.
    apply(&s, second.clone()).await.unwrap_err_if_any();
    apply(&s, third.clone()).await.unwrap_err_if_any();
    assert_eq!(t.docs("c").await, want);
}

#[tokio::test]
async fn truncate_empties_but_keeps_the_collection_and_its_indexes() {
    let t = fresh_db("truncate").await;
    let s = sink().await;
    apply(&s, vec![coll_schema(&t.name, "c"), ins(&t.name, "c", &doc! { "_id": 1, "email": "a" }), ins(&t.name, "c", &doc! { "_id": 2, "email": "b" })])
        .await
        .unwrap_err_if_any();
    let coll = t.db.collection::<Document>("c");
    coll.create_index(mongodb::IndexModel::builder().keys(doc! { "email": 1 }).build()).await.unwrap();
    apply(&s, vec![truncate(&t.name, "c")]).await.unwrap_err_if_any();
    assert!(t.docs("c").await.is_empty());
    assert_eq!(t.collections().await, vec!["c".to_string()]);
    let indexes = coll.list_index_names().await.unwrap();
    assert!(indexes.contains(&"email_1".to_string()), "{indexes:?}");
    // Truncating a collection that does not exist is fine too.
    apply(&s, vec![truncate(&t.name, "nothing")]).await.unwrap_err_if_any();
}

#[tokio::test]
async fn schema_changes_create_the_collection_once() {
    let t = fresh_db("schema").await;
    let s = sink().await;
    apply(&s, vec![coll_schema(&t.name, "c")]).await.unwrap_err_if_any();
    apply(&s, vec![coll_schema(&t.name, "c")]).await.unwrap_err_if_any();
    // A SQL table's schema change creates its collection too.
    apply(&s, vec![schema_change("postgres", &t.name, "orders", &[("id", "bigint", false), ("n", "text", true)], &["id"])]).await.unwrap_err_if_any();
    assert_eq!(t.collections().await, vec!["c".to_string(), "orders".to_string()]);
    assert!(t.docs("c").await.is_empty());
}

#[tokio::test]
async fn sql_rows_get_their_key_as_id() {
    let t = fresh_db("sql_key").await;
    let s = sink_with(Some(&t.name), false).await;
    let pg = |op, key: &[&str], before: Option<Row>, after: Option<Row>| row_change("postgres", op, "public", "orders", key, before, after);
    let my = |op, key: &[&str], before: Option<Row>, after: Option<Row>| row_change("mysql", op, "shop", "lines", key, before, after);
    apply(
        &s,
        vec![
            pg(Op::Insert, &["id"], None, row(vec![("id", Value::int64(1)), ("note", Value::text("a"))])),
            pg(Op::Insert, &["id"], None, row(vec![("id", Value::int64(2)), ("note", Value::text("b"))])),
            my(Op::Insert, &["a", "b"], None, row(vec![("a", Value::text("k")), ("b", Value::int64(1)), ("qty", Value::int64(3))])),
            my(Op::Insert, &["a", "b"], None, row(vec![("a", Value::text("k")), ("b", Value::int64(2)), ("qty", Value::int64(4))])),
        ],
    )
    .await
    .unwrap_err_if_any();
    apply(
        &s,
        vec![
            pg(Op::Update, &["id"], row(vec![("id", Value::int64(1))]), row(vec![("id", Value::int64(1)), ("note", Value::text("a2"))])),
            pg(Op::Delete, &["id"], row(vec![("id", Value::int64(2))]), None),
            my(Op::Delete, &["a", "b"], row(vec![("a", Value::text("k")), ("b", Value::int64(1))]), None),
        ],
    )
    .await
    .unwrap_err_if_any();
    // `database` in the config puts both source schemas into one database.
    assert_eq!(t.docs("orders").await, vec![doc! { "_id": 1_i64, "id": 1_i64, "note": "a2" }]);
    assert_eq!(t.docs("lines").await, vec![doc! { "_id": { "a": "k", "b": 2_i64 }, "a": "k", "b": 2_i64, "qty": 4_i64 }]);
}

#[tokio::test]
async fn unchanged_values_leave_the_stored_field_alone() {
    let t = fresh_db("unchanged").await;
    let s = sink().await;
    let pg = |op, before: Option<Row>, after: Option<Row>| row_change("postgres", op, &t.name, "docs", &["id"], before, after);
    let key = |id| row(vec![("id", Value::int64(id))]);
    apply(&s, vec![pg(Op::Insert, None, row(vec![("id", Value::int64(1)), ("big", Value::text("B".repeat(5000))), ("n", Value::int64(1))]))])
        .await
        .unwrap_err_if_any();
    apply(
        &s,
        vec![
            pg(Op::Update, key(1), row(vec![("id", Value::int64(1)), ("big", Value::unchanged()), ("n", Value::int64(2))])),
            // Never stored: inserted without the value that was not sent.
            pg(Op::Update, key(2), row(vec![("id", Value::int64(2)), ("big", Value::unchanged()), ("n", Value::int64(3))])),
        ],
    )
    .await
    .unwrap_err_if_any();
    assert_eq!(
        t.docs("docs").await,
        vec![doc! { "_id": 1_i64, "id": 1_i64, "big": "B".repeat(5000), "n": 2_i64 }, doc! { "_id": 2_i64, "id": 2_i64, "n": 3_i64 }]
    );
    // A key change moves the document and keeps the value that was not sent.
    apply(&s, vec![pg(Op::Update, key(1), row(vec![("id", Value::int64(10)), ("big", Value::unchanged()), ("n", Value::int64(4))]))])
        .await
        .unwrap_err_if_any();
    assert_eq!(t.one("docs", 1_i64).await, None);
    assert_eq!(t.one("docs", 10_i64).await, Some(doc! { "_id": 10_i64, "id": 10_i64, "n": 4_i64, "big": "B".repeat(5000) }));
}

#[tokio::test]
async fn duplicate_on_a_secondary_unique_index_is_definite() {
    let t = fresh_db("dup").await;
    let s = sink().await;
    let coll = t.db.collection::<Document>("users");
    coll.create_index(mongodb::IndexModel::builder().keys(doc! { "email": 1 }).options(mongodb::options::IndexOptions::builder().unique(true).build()).build())
        .await
        .unwrap();
    apply(&s, vec![ins(&t.name, "users", &doc! { "_id": 1, "email": "a@x" })]).await.unwrap_err_if_any();
    let e = apply(&s, vec![ins(&t.name, "users", &doc! { "_id": 2, "email": "b@x" }), ins(&t.name, "users", &doc! { "_id": 3, "email": "a@x" })])
        .await
        .unwrap_err();
    assert!(!e.is_transient(), "{e}");
    let m = e.to_string();
    assert!(m.contains(&format!("{}.users", t.name)) && m.contains("E11000") && m.contains("unique index"), "{m}");
    // The document's _id and the duplicate value only go with the dead letter.
    assert!(!logferry::ErrorChain(&e).to_string().contains("a@x") && !m.contains("_id 3"), "{m}");
    assert!(e.row_detail().is_some_and(|d| d.contains("_id 3") && d.contains("a@x")), "{:?}", e.row_detail());
}

#[tokio::test]
async fn transaction_mode_applies_whole_batches() {
    let t = fresh_db("txn").await;
    let s = sink_with(None, true).await;
    apply(&s, vec![coll_schema(&t.name, "users")]).await.unwrap_err_if_any();
    let coll = t.db.collection::<Document>("users");
    coll.create_index(mongodb::IndexModel::builder().keys(doc! { "email": 1 }).options(mongodb::options::IndexOptions::builder().unique(true).build()).build())
        .await
        .unwrap();
    apply(&s, vec![ins(&t.name, "users", &doc! { "_id": 1, "email": "a" }), ins(&t.name, "users", &doc! { "_id": 2, "email": "b" })]).await.unwrap_err_if_any();
    apply(&s, vec![upd(&t.name, "users", &doc! { "_id": 1, "email": "a2" }), del(&t.name, "users", 2), patch(&t.name, "users", 1, doc! { "n": 1 }, &[], &[])])
        .await
        .unwrap_err_if_any();
    assert_eq!(t.docs("users").await, vec![doc! { "_id": 1, "email": "a2", "n": 1 }]);
    // A batch that fails half-way leaves nothing of itself behind.
    let e = apply(&s, vec![ins(&t.name, "users", &doc! { "_id": 5, "email": "c" }), ins(&t.name, "users", &doc! { "_id": 6, "email": "a2" })])
        .await
        .unwrap_err();
    assert!(!e.is_transient() && e.row_detail().is_some_and(|d| d.contains("_id 6")), "{e}");
    assert_eq!(t.docs("users").await, vec![doc! { "_id": 1, "email": "a2", "n": 1 }]);
    // Truncate in a transaction too.
    apply(&s, vec![truncate(&t.name, "users")]).await.unwrap_err_if_any();
    assert!(t.docs("users").await.is_empty());
}

#[tokio::test]
async fn a_closed_port_fails_transient_quickly() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("mongodb://lf:pw-secret@127.0.0.1:{port}/?directConnection=true&serverSelectionTimeoutMS=500&connectTimeoutMS=500");
    let cfg = MongodbTargetConfig { url: SecretUrl::new(url), database: Some("shop".into()), transaction: false };
    let start = Instant::now();
    let e = match MongodbSink::connect(&cfg, 1).await {
        Ok(_) => panic!("connected to a closed port"),
        Err(e) => e,
    };
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    assert!(e.is_transient(), "{e}");
    let m = e.to_string();
    assert!(m.contains(&format!("127.0.0.1:{port}")) && !m.contains("pw-secret"), "{m}");
    assert!(m.contains(&format!("mongodb:mongodb://lf:***@127.0.0.1:{port}/shop")), "{m}");
}

#[tokio::test]
async fn sink_name_and_bad_urls() {
    let s = sink_with(Some("shop"), false).await;
    assert!(s.name().starts_with("mongodb:mongodb://") && s.name().ends_with("/shop"), "{}", s.name());
    assert!(sink().await.name().ends_with("/*"));
    let cfg = MongodbTargetConfig { url: SecretUrl::new("mongodb://u:pw-secret@/nohost"), database: None, transaction: false };
    let e = MongodbSink::connect(&cfg, 1).await.err().expect("a bad url fails");
    assert!(!e.is_transient() && !e.to_string().contains("pw-secret"), "{e}");
    // Heartbeats and messages alone do nothing.
    let hb = Change { op: Op::Heartbeat as i32, ..Default::default() };
    apply(&s, vec![hb]).await.unwrap_err_if_any();
}

/// Round trips and write concern, counted on the scripted mock server
/// (tests/support/mongo_mock.py answers every write with ok: 1 and logs it).
#[tokio::test]
async fn one_update_and_one_delete_command_per_collection() {
    let mock = crate::support::mongodb::MockMongo::start("history-lost");
    let cfg = MongodbTargetConfig { url: SecretUrl::new(mock.url.clone()), database: None, transaction: false };
    let s = MongodbSink::connect(&cfg, 1).await.unwrap_or_else(|e| panic!("connect: {e}"));
    let mut batch = Vec::new();
    for i in 0..500 {
        batch.push(ins("shop", "a", &doc! { "_id": i, "n": i }));
        batch.push(ins("shop", "b", &doc! { "_id": i, "n": i }));
    }
    for i in 0..500 {
        batch.push(upd("shop", "a", &doc! { "_id": i, "n": -i }));
        batch.push(patch("shop", "b", i, doc! { "m": i }, &[], &[]));
    }
    for i in 0..10 {
        batch.push(del("shop", "a", 1000 + i));
        batch.push(del("shop", "b", i));
    }
    apply(&s, batch).await.unwrap_err_if_any();
    let updates = mock.commands_named("update");
    let deletes = mock.commands_named("delete");
    let per_coll = |cmds: &[serde_json::Value], name: &str, coll: &str| -> Vec<usize> {
        cmds.iter().filter(|c| c["body"][name] == coll).map(|c| c["body"][if name == "update" { "updates" } else { "deletes" }].as_array().unwrap().len()).collect()
    };
    // a: 500 replacements (insert then full update folded) + 10 deletes;
    // b: 490 inserts with their patch after them + 10 deleted ones.
    assert_eq!(per_coll(&updates, "update", "a"), vec![500]);
    assert_eq!(per_coll(&updates, "update", "b"), vec![980]);
    assert_eq!(per_coll(&deletes, "delete", "a"), vec![10]);
    assert_eq!(per_coll(&deletes, "delete", "b"), vec![10]);
    for c in updates.iter().chain(&deletes) {
        assert_eq!(c["body"]["writeConcern"], serde_json::json!({ "w": "majority", "j": true }), "{c}");
        assert_eq!(c["body"]["ordered"], serde_json::json!(true), "{c}");
    }
    // The delete command of a collection comes before its update command.
    let order: Vec<String> = mock
        .commands()
        .iter()
        .filter(|c| c["name"] == "update" || c["name"] == "delete")
        .map(|c| format!("{}:{}", c["name"].as_str().unwrap(), c["body"][c["name"].as_str().unwrap()].as_str().unwrap()))
        .collect();
    assert_eq!(order, vec!["delete:a", "update:a", "delete:b", "update:b"]);
}
