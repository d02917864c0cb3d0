//! The MongoDB source through the real binary, on the test server
//! (SecantusDB standing in for mongod): every BSON type MongoDB → MongoDB
//! exactly, MongoDB → PostgreSQL as canonical Extended JSON, PostgreSQL →
//! MongoDB, partial updates, transactions, drops, SIGKILLs during a
//! workload, and — on the scripted mock server — a lost resume point and a
//! stream cut mid-batch. The `documents` flag on every record is checked
//! through the library (the JSON form does not carry it).

use crate::support::binary::{read_json_lines, text, Scratch};
use crate::support::mongodb::{all_docs, fresh_db, MockMongo, TestMongo};
use crate::support::Rng;
use bson::spec::BinarySubtype;
use bson::{doc, Binary, Bson, DateTime, Decimal128, Document, Regex, Timestamp};
use logferry::record::{value::Kind, Op};
use std::time::{Duration, Instant};

/// Decimal128 from a coefficient and exponent (BID layout, small coefficients).
fn dec(coefficient: u128, exponent: i32, negative: bool) -> Decimal128 {
    let bits = ((negative as u128) << 127) | (((exponent + 6176) as u128) << 113) | coefficient;
    Decimal128::from_bytes(bits.to_le_bytes())
}

/// A document holding every BSON type a collection can store.
fn every_type(id: i32) -> Document {
    doc! {
        "_id": id,
        "i32": 7i32,
        "i64": 7i64,
        "dbl": 7.0f64,
        "neg_zero": -0.0f64,
        "inf": f64::INFINITY,
        "tiny": 5e-324f64,
        "dec": dec(110, -2, false),
        "dec_neg": dec(5, 10, true),
        "str": "héllo \"quoted\" ✓",
        "empty": "",
        "oid": bson::oid::ObjectId::parse_str("65f1c0ffee00112233445566").unwrap(),
        "dt": DateTime::from_millis(1_700_000_000_123),
        "dt_before_1970": DateTime::from_millis(-1_234_567),
        "ts": Timestamp { time: 1_700_000_000, increment: 7 },
        "bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![0, 1, 2, 255] },
        "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: (0u8..16).collect() },
        "user_bin": Binary { subtype: BinarySubtype::UserDefined(0x80), bytes: vec![9, 9] },
        "re": Regex { pattern: "^a.*b$".into(), options: "im".into() },
        "null": Bson::Null,
        "bool": false,
        "arr": [1i32, "two", { "three": 3i64 }, [4.5f64], Bson::Null],
        "doc": { "nested": { "deep": true, "n": 1i64 }, "list": [] },
        "code": Bson::JavaScriptCode("x = 1".into()),
        "min": Bson::MinKey,
        "max": Bson::MaxKey,
    }
}

fn config(source: &TestMongo, collections: &str, extra_source: &str, targets: &str) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "mongo"
[pipeline.source]
kind = "mongodb"
url = "{url}"
collections = [{collections}]
max_await = "200ms"
{extra_source}
{targets}
[[pipeline.target]]
kind = "file"
path = "out/changes.jsonl"
[pipeline.apply]
lanes = 4
batch_max_rows = 500
batch_max_wait = "5ms"
checkpoint_interval = "50ms"
"#,
        url = source.url,
    )
}

fn mongo_target(target: &TestMongo) -> String {
    format!("[[pipeline.target]]\nkind = \"mongodb\"\nurl = \"{}\"\ndatabase = \"{}\"\n", target.url, target.name)
}

fn run_once(s: &Scratch) {
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "run --once failed: {}{}", text(&out.stdout), text(&out.stderr));
}

#[test]
fn every_bson_type_replicates_exactly_to_mongodb_through_copy_and_stream() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async { (fresh_db("msrc").await, fresh_db("mdst").await) });
    let items = format!("\"{}.items\"", source.name);
    let s = Scratch::new(&config(&source, &items, "", &mongo_target(&target)));
    rt.block_on(async {
        source.coll("items").insert_many((1..=3).map(every_type)).await.unwrap();
    });
    run_once(&s);
    let copied = read_json_lines(&s.path("out/changes.jsonl"));
    let reads: Vec<_> = copied.iter().filter(|c| c.op() == Op::SnapshotRead).collect();
    assert_eq!(reads.len(), 3, "three documents copied");
    // The record keeps BSON's numeric types apart.
    let one = reads.iter().find(|c| c.key_values()[0].kind == Some(Kind::Int32(1))).expect("document 1 read");
    let after = one.after.as_ref().unwrap();
    let kind = |name: &str| after.columns.iter().find(|c| c.name == name).and_then(|c| c.value.clone()).and_then(|v| v.kind);
    assert_eq!(kind("i32"), Some(Kind::Int32(7)));
    assert_eq!(kind("i64"), Some(Kind::Int64(7)));
    assert_eq!(kind("dbl"), Some(Kind::Float64(7.0)));
    assert!(matches!(kind("dec"), Some(Kind::Decimal128(ref d)) if d == "1.10"), "{:?}", kind("dec"));
    assert!(matches!(kind("oid"), Some(Kind::ObjectId(_))));
    assert!(matches!(kind("dt"), Some(Kind::Timestamptz(_))));
    assert_eq!(one.key_columns, ["_id"]);

    // Stream: insert, partial and full updates, replace, delete, a transaction.
    rt.block_on(async {
        let items = source.coll("items");
        items.insert_one(every_type(4)).await.unwrap();
        items
            .update_one(doc! {"_id": 1}, doc! {"$set": {"doc.nested.deep": false, "i32": 8i32, "arr.1": "zwei"}, "$unset": {"null": ""}})
            .await
            .unwrap();
        items.replace_one(doc! {"_id": 2}, doc! {"_id": 2, "replaced": dec(1, -6143, false)}).await.unwrap();
        items.delete_one(doc! {"_id": 3}).await.unwrap();
        let mut session = source.client.start_session().await.unwrap();
        session.start_transaction().await.unwrap();
        items.insert_one(doc! {"_id": 5, "in_tx": 1i32}).session(&mut session).await.unwrap();
        items.insert_one(doc! {"_id": 6, "in_tx": 2i32}).session(&mut session).await.unwrap();
        session.commit_transaction().await.unwrap();
    });
    run_once(&s);
    rt.block_on(async {
        let want = all_docs(&source.db, "items").await;
        let got = all_docs(&target.db, "items").await;
        assert_eq!(want.len(), 5);
        assert_eq!(got, want, "target documents differ from the source (types included)");
    });
    let all = read_json_lines(&s.path("out/changes.jsonl"));
    let streamed: Vec<_> = all[copied.len()..].iter().filter(|c| !c.is_heartbeat() && c.op() != Op::SchemaChange).collect();
    let first_seq = streamed.iter().map(|c| c.seq).min().unwrap();
    assert!(first_seq > copied.iter().map(|c| c.seq).max().unwrap(), "the second run continues after the first");
    assert!(streamed.iter().all(|c| c.op() != Op::SnapshotRead), "nothing copied twice");
    let mut by_seq = streamed.clone();
    by_seq.sort_by_key(|c| c.seq);
    let ops: Vec<Op> = by_seq.iter().map(|c| c.op()).collect();
    assert_eq!(ops, [Op::Insert, Op::Update, Op::Update, Op::Delete, Op::Insert, Op::Insert]);
    let (t1, t2) = (by_seq[4], by_seq[5]);
    assert!(!t1.tx_id.is_empty() && t1.tx_id == t2.tx_id, "one transaction id: {:?} {:?}", t1.tx_id, t2.tx_id);
    assert!(!t1.tx_end && t2.tx_end, "only the transaction's last record ends it");
    assert!(by_seq[0].tx_end && by_seq[0].tx_id.is_empty(), "a change outside a transaction ends itself");
    assert!(by_seq[3].before.is_some(), "a delete carries the key");

    // A dropped collection empties the target's, which stays.
    rt.block_on(async { source.coll("items").drop().await.unwrap() });
    run_once(&s);
    rt.block_on(async {
        assert!(all_docs(&target.db, "items").await.is_empty());
        let names = target.db.list_collection_names().await.unwrap();
        assert!(names.contains(&"items".to_string()), "collection kept: {names:?}");
    });
    let last = read_json_lines(&s.path("out/changes.jsonl"));
    assert!(last.iter().any(|c| c.op() == Op::Truncate), "drop arrives as a truncate");
}

#[test]
fn partial_updates_and_images_follow_full_document() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async { (fresh_db("mpart").await, fresh_db("mpartdst").await) });
    rt.block_on(async {
        source.db.create_collection("plain").await.unwrap();
        source.db.run_command(doc! {"create": "imaged", "changeStreamPreAndPostImages": {"enabled": true}}).await.unwrap();
        for c in ["plain", "imaged"] {
            source.coll(c).insert_many([doc! {"_id": 1, "a": {"b": 1i32}, "gone": true, "arr": [1, 2, 3, 4]}]).await.unwrap();
        }
    });
    let colls = format!("\"{0}.plain\", \"{0}.imaged\"", source.name);
    let s = Scratch::new(&config(&source, &colls, "full_document = \"when_available\"", &mongo_target(&target)));
    run_once(&s);
    rt.block_on(async {
        for c in ["plain", "imaged"] {
            // Pipeline-style update that truncates the array, plus $set/$unset.
            source
                .coll(c)
                .update_one(doc! {"_id": 1}, doc! {"$set": {"a.b": 2i32, "new": "x"}, "$unset": {"gone": ""}, "$push": {"arr": {"$each": [], "$slice": 2}}})
                .await
                .unwrap();
        }
    });
    run_once(&s);
    rt.block_on(async {
        for c in ["plain", "imaged"] {
            assert_eq!(all_docs(&target.db, c).await, all_docs(&source.db, c).await, "collection {c}");
        }
    });
    let records = read_json_lines(&s.path("out/changes.jsonl"));
    let update = |coll: &str| {
        records
            .iter()
            .find(|r| r.op() == Op::Update && r.table.as_ref().unwrap().name == coll)
            .unwrap_or_else(|| panic!("no update for {coll}"))
            .clone()
    };
    let plain = update("plain");
    let desc = plain.after.as_ref().unwrap().columns.iter().find(|c| c.name == logferry::record::bson::UPDATE_DESCRIPTION);
    let Some(Kind::Document(d)) = desc.and_then(|c| c.value.clone()).and_then(|v| v.kind) else {
        panic!("no post-image stored: the update is partial, {plain:?}")
    };
    let field = |n: &str| d.fields.iter().find(|f| f.name == n).and_then(|f| f.value.clone()).and_then(|v| v.kind);
    assert_eq!(field("fullDocumentMissing"), Some(Kind::Bool(false)));
    let imaged = update("imaged");
    assert!(
        imaged.after.as_ref().unwrap().columns.iter().any(|c| c.name == "new"),
        "post-image used where the collection stores it"
    );
    assert!(
        imaged.before.as_ref().unwrap().columns.iter().any(|c| c.name == "gone"),
        "pre-image carried in `before`"
    );
}

#[test]
fn mongodb_documents_land_in_postgresql_as_canonical_extended_json() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async { (fresh_db("mpg").await, crate::support::pg::fresh_db("mpg").await) });
    rt.block_on(async { source.coll("docs").insert_many((1..=2).map(every_type)).await.unwrap() });
    let pg = format!("[[pipeline.target]]\nkind = \"postgres\"\nurl = \"{}\"\n", target.url);
    let s = Scratch::new(&config(&source, &format!("\"{}.docs\"", source.name), "", &pg));
    run_once(&s);
    rt.block_on(async {
        source.coll("docs").insert_one(every_type(3)).await.unwrap();
        source.coll("docs").update_one(doc! {"_id": 1}, doc! {"$set": {"i64": 9i64}}).await.unwrap();
        source.coll("docs").delete_one(doc! {"_id": 2}).await.unwrap();
    });
    run_once(&s);
    rt.block_on(async {
        let want = all_docs(&source.db, "docs").await;
        let rows = target.client.query("SELECT _id::text, document::text FROM public.docs ORDER BY _id::text", &[]).await.unwrap();
        assert_eq!(rows.len(), want.len(), "one row per document");
        for d in &want {
            let id = d.get("_id").unwrap().clone().into_canonical_extjson().to_string();
            let mut doc_json = Bson::Document(d.clone()).into_canonical_extjson();
            // The bson crate writes subnormal doubles in relaxed form (a plain
            // number); canonical Extended JSON always wraps doubles.
            doc_json["tiny"] = serde_json::json!({"$numberDouble": "5E-324"});
            let doc_json = doc_json.to_string();
            let same: bool = target
                .client
                .query_one("SELECT document = $2::text::jsonb FROM public.docs WHERE _id = $1::text::jsonb", &[&id, &doc_json])
                .await
                .unwrap_or_else(|e| panic!("no row for _id {id}: {e}"))
                .get(0);
            assert!(same, "document {id} differs from {doc_json}");
        }
    });
}

#[test]
fn postgresql_rows_become_mongodb_documents() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async { (crate::support::pg::fresh_db("pgm").await, fresh_db("pgm").await) });
    rt.block_on(async {
        source
            .client
            .batch_execute(
                "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), ok bool, raw bytea, u uuid,
                                     at timestamptz, tags text[]);
                 CREATE TABLE lines (order_id int, line int, qty int8, PRIMARY KEY (order_id, line));
                 INSERT INTO items VALUES (1, 'pen', 1.50, true, '\\x00ff', '00010203-0405-0607-0809-0a0b0c0d0e0f',
                                           '2024-01-02 03:04:05.123+00', '{a,b}'),
                                          (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
                 INSERT INTO lines VALUES (1, 1, 5), (1, 2, 7);",
            )
            .await
            .unwrap();
    });
    let cfg = format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "pgm"
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = ["public.items", "public.lines"]
slot = "{slot}"
publication = "{slot}"
{target}
[pipeline.apply]
checkpoint_interval = "50ms"
"#,
        src = source.url,
        slot = source.name,
        target = mongo_target(&target),
    );
    let s = Scratch::new(&cfg);
    run_once(&s);
    rt.block_on(async {
        source
            .client
            .batch_execute("UPDATE items SET name = 'pencil' WHERE id = 1; DELETE FROM lines WHERE line = 2; INSERT INTO items (id) VALUES (3);")
            .await
            .unwrap();
    });
    run_once(&s);
    rt.block_on(async {
        let items = all_docs(&target.db, "items").await;
        assert_eq!(items.len(), 3);
        let pen = &items[0];
        assert_eq!(pen.get("_id"), Some(&Bson::Int64(1)), "SQL integers arrive as int64");
        assert_eq!(pen.get("_id"), pen.get("id"), "_id is the primary key, which stays a field too");
        assert_eq!(pen.get_str("name").unwrap(), "pencil");
        assert_eq!(pen.get("price"), Some(&Bson::Decimal128(dec(150, -2, false))));
        assert!(pen.get_bool("ok").unwrap());
        assert_eq!(pen.get("raw"), Some(&Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: vec![0, 255] })));
        assert_eq!(pen.get("u"), Some(&Bson::Binary(Binary { subtype: BinarySubtype::Uuid, bytes: (0u8..16).collect() })));
        assert_eq!(pen.get("at"), Some(&Bson::DateTime(DateTime::from_millis(1_704_164_645_123))));
        assert_eq!(pen.get_array("tags").unwrap(), &vec![Bson::String("a".into()), Bson::String("b".into())]);
        assert_eq!(items[1].get("name"), Some(&Bson::Null));
        let lines = all_docs(&target.db, "lines").await;
        assert_eq!(lines.len(), 1, "the deleted line is gone: {lines:?}");
        let id = lines[0].get_document("_id").expect("a composite key is a sub-document");
        assert_eq!(id.keys().collect::<Vec<_>>(), ["order_id", "line"], "key order kept");
    });
}

#[test]
fn sigkill_during_a_workload_loses_nothing_mongodb_to_mongodb() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async { (fresh_db("mkill").await, fresh_db("mkilldst").await) });
    rt.block_on(async {
        source.coll("items").insert_many((0..300).map(|i| doc! {"_id": i, "v": 0i64, "note": "seed"})).await.unwrap();
    });
    let mut cfg = config(&source, &format!("\"{}.items\"", source.name), "snapshot_chunk_docs = 50", &mongo_target(&target));
    cfg = cfg.replace("lanes = 4", "lanes = 3");
    let s = Scratch::new(&cfg);
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let client = source.client.clone();
    let db_name = source.name.clone();
    let workload = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let items = client.database(&db_name).collection::<Document>("items");
            let mut rng = Rng(7);
            let mut n = 0u32;
            while stop_rx.try_recv().is_err() {
                let id = rng.below(400) as i32;
                match rng.below(10) {
                    0..=4 => {
                        items
                            .update_one(doc! {"_id": id}, doc! {"$inc": {"v": 1i64}, "$set": {"note": format!("u{n}")}})
                            .upsert(true)
                            .await
                            .unwrap();
                    }
                    5 | 6 => {
                        items.delete_one(doc! {"_id": id}).await.unwrap();
                    }
                    7 => {
                        items.replace_one(doc! {"_id": id}, doc! {"_id": id, "v": n as i64, "replaced": true}).upsert(true).await.unwrap();
                    }
                    _ => {
                        let mut session = client.start_session().await.unwrap();
                        session.start_transaction().await.unwrap();
                        for k in 0..3 {
                            items
                                .update_one(doc! {"_id": 1000 + k}, doc! {"$inc": {"v": 1i64}})
                                .upsert(true)
                                .session(&mut session)
                                .await
                                .unwrap();
                        }
                        session.commit_transaction().await.unwrap();
                    }
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            n
        })
    });
    let mut rng = Rng(11);
    let mut kills = 0;
    for round in 0..6 {
        // The first kill lands early, inside the copy.
        let wait = if round == 0 { 150 } else { 400 + rng.below(1200) };
        kills += u32::from(s.run_and_kill(Duration::from_millis(wait)));
    }
    stop_tx.send(()).unwrap();
    let ops = workload.join().unwrap();
    assert!(kills >= 5 && ops > 100, "kills {kills}, workload operations {ops}");
    run_once(&s);
    rt.block_on(async {
        let want = all_docs(&source.db, "items").await;
        let got = all_docs(&target.db, "items").await;
        assert_eq!(want.len(), got.len(), "document counts differ");
        let diffs: Vec<_> = want.iter().zip(&got).filter(|(a, b)| a != b).take(5).collect();
        assert!(diffs.is_empty(), "target differs from source, e.g. {diffs:?}");
    });
}

/// Waits until the file target holds `n` inserts (or panics at the deadline).
fn wait_for_inserts(s: &Scratch, n: usize, deadline: Duration) -> Vec<logferry::record::Change> {
    let end = Instant::now() + deadline;
    loop {
        let path = s.path("out/changes.jsonl");
        let got: Vec<_> = if path.exists() { read_json_lines(&path).into_iter().filter(|c| c.op() == Op::Insert).collect() } else { Vec::new() };
        if got.len() >= n || Instant::now() > end {
            return got;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn mock_config(mock: &MockMongo) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "mock"
[pipeline.source]
kind = "mongodb"
url = "{}"
collections = ["shop.items"]
snapshot = "never"
max_await = "100ms"
[[pipeline.target]]
kind = "file"
path = "out/changes.jsonl"
[pipeline.apply]
checkpoint_interval = "20ms"
"#,
        mock.url
    )
}

/// The stream is cut after three events (cursor killed, or the connection
/// reset): the driver resumes after the last event read, and logferry
/// delivers every event once, in order.
#[test]
fn a_cut_stream_resumes_without_loss_or_duplicates() {
    for scenario in ["cursor-killed", "connection-reset"] {
        let mock = MockMongo::start(scenario);
        let s = Scratch::new(&mock_config(&mock));
        let mut child = s.spawn(&["run"]);
        let mut got = wait_for_inserts(&s, 6, Duration::from_secs(30));
        got.sort_by_key(|c| c.seq);
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let status = child.wait().unwrap();
        let ids: Vec<Option<Kind>> = got.iter().map(|c| c.key_values()[0].kind.clone()).collect();
        let want: Vec<Option<Kind>> = (1..=6).map(|i| Some(Kind::Int32(i))).collect();
        assert_eq!(ids, want, "{scenario}: every event once, in order");
        assert!(status.success(), "{scenario}: clean stop, {status:?}");
        let resumed: Vec<_> = mock
            .change_stream_aggregates()
            .into_iter()
            .filter_map(|a| a["mock"]["resume_token_event"].as_i64())
            .collect();
        assert_eq!(resumed, [0, 3], "{scenario}: resumed after the start point, then after event 3");
    }
}

#[test]
fn a_resume_point_gone_from_the_oplog_is_a_definite_error_with_the_recovery() {
    let mock = MockMongo::start("history-lost");
    let s = Scratch::new(&mock_config(&mock));
    let out = s.run(&["run"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no longer in the oplog"), "{err}");
    assert!(err.contains("logferry reset"), "the message says how to recover: {err}");
    assert!(wait_for_inserts(&s, 0, Duration::ZERO).is_empty(), "nothing invented");
}

#[test]
fn a_standalone_server_or_a_selector_without_database_is_refused_by_check() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let source = rt.block_on(fresh_db("mcheck"));
    let s = Scratch::new(&config(&source, "\"nodatabase\"", "", ""));
    let out = s.run(&["check"]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("nodatabase") && all.contains("database.collection"), "{all}");
    let ok = Scratch::new(&config(&source, &format!("\"{}.*\"", source.name), "", ""));
    rt.block_on(async { source.coll("a").insert_one(doc! {"_id": 1}).await.unwrap() });
    let out = ok.run(&["check"]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{all}");
    assert!(all.contains(&format!("{}.a", source.name)), "check lists the selected collections: {all}");
}

#[test]
fn every_record_of_a_collection_says_documents() {
    use crate::support::{fast_apply, no_shutdown, run_pipeline, Faults, RecordingSink};
    use logferry::checkpoint::CheckpointStore;
    use logferry::config::{DatabaseSourceConfig, FullDocument, MongodbSourceConfig, OnInvalidate, SecretUrl, SnapshotMode};
    use logferry::record::{Change, LogicalType};
    use logferry::sinks::Sink;
    use logferry::sources::mongodb::MongodbSource;
    use std::sync::{Arc, Mutex};

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let source = fresh_db("msrc_docs").await;
        source.coll("items").insert_many((1..=3).map(|i| doc! { "_id": i, "n": i })).await.unwrap();
        let cfg = MongodbSourceConfig {
            db: DatabaseSourceConfig {
                url: SecretUrl::new(&source.url),
                tables: vec![format!("{}.items", source.name)],
                snapshot: SnapshotMode::Initial,
                row_keys: Vec::new(),
            },
            full_document: FullDocument::UpdateLookup,
            on_invalidate: OnInvalidate::Stop,
            snapshot_chunk_docs: 2,
            max_await: Duration::from_millis(200),
        };
        let store = CheckpointStore::temporary().unwrap();
        let run = || async {
            let log = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::new(RecordingSink::new(0, log.clone(), Faults::default()));
            run_pipeline("mongo", fast_apply(2), MongodbSource::new(cfg.clone()), vec![sink as Arc<dyn Sink>], &store, true, no_shutdown())
                .await
                .unwrap();
            let records: Vec<Change> = log.lock().unwrap().iter().flat_map(|a| a.records.clone()).collect();
            records
        };
        let copied = run().await;
        source.coll("items").insert_one(doc! { "_id": 4, "n": 4 }).await.unwrap();
        source.coll("items").update_one(doc! { "_id": 1 }, doc! { "$set": { "n": 10 } }).await.unwrap();
        source.coll("items").delete_one(doc! { "_id": 2 }).await.unwrap();
        let streamed = run().await;
        let ops = |rs: &[Change]| rs.iter().filter(|c| !c.is_heartbeat()).map(|c| c.op()).collect::<Vec<_>>();
        assert!(ops(&copied).contains(&Op::SchemaChange) && ops(&copied).contains(&Op::SnapshotRead), "{copied:#?}");
        assert!([Op::Insert, Op::Update, Op::Delete].iter().all(|op| ops(&streamed).contains(op)), "{streamed:#?}");
        for c in copied.iter().chain(&streamed).filter(|c| !c.is_heartbeat()) {
            assert!(c.documents, "a record of a collection without documents = true: {c:?}");
        }
        let schema = copied.iter().find_map(|c| c.schema_change.as_ref()?.schema.as_ref()).unwrap();
        assert!(schema.documents);
        assert_eq!(schema.columns[0].type_dialect, "bson");
        assert_eq!(schema.columns[0].logical, Some(LogicalType::other("bson")));
    });
}
