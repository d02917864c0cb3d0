//! `logferry verify` through the real binary, on real servers: an
//! untouched replicated pair is equal (exit 0); a row changed, one deleted
//! and one inserted behind logferry's back in the target are named, and
//! only those (exit 1); `--repair` mends them and leaves the checkpoint
//! where it was, and a second verify is equal — PostgreSQL → PostgreSQL
//! and MariaDB → MariaDB (by in-database digests), MariaDB → PostgreSQL
//! (row by row, every MariaDB type), PostgreSQL → MariaDB, MongoDB →
//! MongoDB, MongoDB collections in PostgreSQL and MariaDB tables, and
//! PostgreSQL rows in a MongoDB collection. Rules (a rename, masked and
//! excluded columns, a filter) still compare equal, and a target that
//! cannot be read back does not fail the run. Against a running pipeline
//! with a write workload no false difference is reported, and a repair
//! goes through the running source (both need the running process's
//! control socket).

use crate::support::binary::{text, Scratch};
use crate::support::{mariadb, mongodb, pg};
use logferry::checkpoint::CheckpointStore;
use std::process::Output;
use std::time::{Duration, Instant};

/// `logferry verify <args> --json`: (exit code, the report, stderr).
fn verify(s: &Scratch, args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut all = vec!["verify", "--json"];
    all.extend_from_slice(args);
    let out = s.run(&all);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("verify printed no JSON report ({e}): stdout {} stderr {}", text(&out.stdout), text(&out.stderr))
    });
    (out.status.code().unwrap_or(-1), report, text(&out.stderr))
}

fn run_once(s: &Scratch) -> Output {
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "run --once failed: {}", text(&out.stderr));
    out
}

/// The compared pairs of a report (not the "not verifiable" ones).
fn compared(report: &serde_json::Value) -> Vec<&serde_json::Value> {
    report["tables"].as_array().unwrap().iter().filter(|t| t["status"] != "not_verifiable").collect()
}

/// The listed keys of one kind of difference of a pair, as JSON text.
fn keys(table: &serde_json::Value, kind: &str) -> Vec<String> {
    table[kind]["keys"].as_array().unwrap().iter().map(|k| k.to_string()).collect()
}

/// Asserts that the single compared pair names exactly these keys.
fn assert_three(report: &serde_json::Value, missing: &str, extra: &str, different: &str) {
    let t = compared(report);
    assert_eq!(t.len(), 1, "{report:#}");
    assert_eq!(t[0]["status"], "different", "{report:#}");
    assert_eq!(keys(t[0], "missing"), [missing], "{report:#}");
    assert_eq!(keys(t[0], "extra"), [extra], "{report:#}");
    assert_eq!(keys(t[0], "different"), [different], "{report:#}");
}

fn assert_equal(code: i32, report: &serde_json::Value, stderr: &str) {
    assert_eq!(code, 0, "verify should find the pair equal: {report:#}\n{stderr}");
    assert_eq!(report["equal"], true, "{report:#}");
    assert!(compared(report).iter().all(|t| t["status"] == "equal"), "{report:#}");
    assert!(!compared(report).is_empty(), "nothing was compared: {report:#}");
}

/// The pipeline's checkpoint (seq, position) as the state dir holds it.
fn checkpoint(s: &Scratch, pipeline: &str) -> Option<(u64, String)> {
    let store = CheckpointStore::open(&s.path("state")).unwrap();
    store.load(pipeline).unwrap().map(|c| (c.seq, c.position.display))
}

fn pg_config(source: &pg::TestDb, target: &pg::TestDb, rules: &str) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "pg2pg"
{rules}
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = ["public.*"]
slot = "{slot}"
publication = "{slot}"
heartbeat_interval = "200ms"
[[pipeline.target]]
kind = "postgres"
url = "{dst}"
[[pipeline.target]]
kind = "file"
path = "out/changes.jsonl"
[pipeline.apply]
lanes = 4
batch_max_wait = "5ms"
checkpoint_interval = "50ms"
"#,
        src = source.url,
        dst = target.url,
        slot = source.name,
    )
}

const PG_ITEMS: &str = "
CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, qty int, price numeric(10,2), at timestamptz,
                    tags text[], doc jsonb, code char(4), ratio float8, day date);
INSERT INTO items SELECT g, 'item ' || g, g % 97, (g % 1000) / 4.0, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute',
                         ARRAY['a', 'b' || g], jsonb_build_object('n', g, 'odd', g % 2 = 1), 'c' || (g % 10), g / 3.0,
                         '2024-02-29'::date + (g % 400)
  FROM generate_series(1, 25000) g;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_postgres_equal_then_three_named_differences_then_repaired() {
    let source = pg::fresh_db("vf_pg_src").await;
    let target = pg::fresh_db("vf_pg_dst").await;
    source.client.batch_execute(PG_ITEMS).await.unwrap();
    let s = Scratch::new(&pg_config(&source, &target, ""));
    run_once(&s);

    let (code, report, stderr) = verify(&s, &[]);
    assert_equal(code, &report, &stderr);
    let pair = compared(&report)[0];
    assert_eq!((pair["compared_by"].as_str(), pair["rows"].as_u64()), (Some("digests"), Some(25_000)), "{report:#}");
    // The file target is listed, not failed.
    let file = report["tables"].as_array().unwrap().iter().find(|t| t["status"] == "not_verifiable").expect("the file target is listed");
    assert!(file["reason"].as_str().unwrap().contains("file"), "{file}");

    // Behind logferry's back: one row changed, one deleted, one inserted.
    target
        .client
        .batch_execute(
            "UPDATE public.items SET name = 'tampered' WHERE id = 777;
             DELETE FROM public.items WHERE id = 12345;
             INSERT INTO public.items (id, name) VALUES (99999999, 'intruder');",
        )
        .await
        .unwrap();
    let (code, report, _) = verify(&s, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_three(&report, r#"{"id":12345}"#, r#"{"id":99999999}"#, r#"{"id":777}"#);
    let (missing, extra, different) = (&compared(&report)[0]["missing"], &compared(&report)[0]["extra"], &compared(&report)[0]["different"]);
    assert_eq!((missing["count"].as_u64(), extra["count"].as_u64(), different["count"].as_u64()), (Some(1), Some(1), Some(1)));
    // The text form says the same.
    let out = s.run(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let printed = text(&out.stdout);
    assert!(printed.contains("DIFFERENT: 1 missing, 1 extra, 1 different"), "{printed}");
    assert!(printed.contains("not running"), "a note says no process runs: {printed}");

    let before = checkpoint(&s, "pg2pg");
    let (code, report, stderr) = verify(&s, &["--repair"]);
    assert_equal(code, &report, &stderr);
    assert!(report.to_string().contains("repaired"), "{report:#}");
    assert_eq!(checkpoint(&s, "pg2pg"), before, "a repair does not move the checkpoint");
    let (code, report, stderr) = verify(&s, &[]);
    assert_equal(code, &report, &stderr);
    let q = "SELECT id, name, qty, price::text, tags::text, doc::text FROM public.items WHERE id IN (777, 12345, 99999999) ORDER BY id";
    assert_eq!(pg::rows(&target, q).await, pg::rows(&source, q).await);

    // The pipeline goes on from its checkpoint.
    source.client.batch_execute("UPDATE items SET qty = -1 WHERE id = 5; INSERT INTO items (id, name) VALUES (30000, 'late')").await.unwrap();
    let (code, report, _) = verify(&s, &[]);
    assert_eq!(code, 1, "changes not applied yet differ: {report:#}");
    run_once(&s);
    let (code, report, stderr) = verify(&s, &[]);
    assert_equal(code, &report, &stderr);

    // Bad usage is exit 2.
    let out = s.run(&["verify", "--table", "public.nothing_like_this"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

/// (column, MariaDB type, MariaDB literal): every type MariaDB → PostgreSQL
/// maps to another PostgreSQL form.
const MARIADB_TYPES: &[(&str, &str, &str)] = &[
    ("ti", "TINYINT", "-128"),
    ("tb", "TINYINT(1)", "1"),
    ("bo", "BOOLEAN", "TRUE"),
    ("tu", "TINYINT UNSIGNED", "255"),
    ("mi", "MEDIUMINT", "-8388608"),
    ("iu", "INT UNSIGNED", "4294967295"),
    ("bu", "BIGINT UNSIGNED", "18446744073709551615"),
    ("d", "DECIMAL(10,2)", "-12345678.90"),
    ("f", "FLOAT", "1.1"),
    ("db", "DOUBLE", "0.1"),
    ("bt", "BIT(10)", "b'1010101010'"),
    ("c", "CHAR(3)", "'ab'"),
    ("vc", "VARCHAR(20)", "'héllo € ✓'"),
    ("l1", "VARCHAR(20) CHARACTER SET latin1", "'Grüße €'"),
    ("tx", "TEXT", "'two\\nlines'"),
    ("bn", "BINARY(4)", "x'00ff1020'"),
    ("bl", "BLOB", "x'deadbeef'"),
    ("dt", "DATE", "'2024-02-29'"),
    ("tm", "TIME(6)", "'-838:59:59.000000'"),
    ("tp", "TIME", "'100:00:01'"),
    ("dtm", "DATETIME(6)", "'2024-02-29 13:45:00.123456'"),
    ("ts", "TIMESTAMP(6) NULL", "'2024-02-29 13:45:00.5'"),
    ("yr", "YEAR", "2024"),
    ("en", "ENUM('a','b c')", "'b c'"),
    ("st", "SET('x','y','z')", "'x,z'"),
    ("js", "JSON", "'{\"b\": [1, 2.5, \"ü\"], \"a\": null}'"),
    ("uu", "UUID", "'123e4567-e89b-12d3-a456-426614174000'"),
];

fn mariadb_config(source: &mariadb::TestDb, target: &pg::TestDb, server_id: u32) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "my2pg"
[pipeline.source]
kind = "mysql"
url = "{src}"
tables = ["{db}.items"]
server_id = {server_id}
heartbeat_interval = "500ms"
[[pipeline.target]]
kind = "postgres"
url = "{dst}"
schema = "public"
[pipeline.apply]
lanes = 2
batch_max_wait = "5ms"
checkpoint_interval = "50ms"
"#,
        src = source.url,
        db = source.name,
        dst = target.url,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_to_postgres_every_type_equal_then_three_named_differences_then_repaired() {
    let source = mariadb::fresh_db("vf_my_src").await;
    let target = pg::fresh_db("vf_my_dst").await;
    let cols = MARIADB_TYPES.iter().map(|(c, t, _)| format!("`{c}` {t}")).collect::<Vec<_>>().join(", ");
    let names = MARIADB_TYPES.iter().map(|(c, ..)| format!("`{c}`")).collect::<Vec<_>>().join(", ");
    let values = MARIADB_TYPES.iter().map(|(_, _, v)| v.to_string()).collect::<Vec<_>>().join(", ");
    source.exec(&format!("CREATE TABLE items (id INT PRIMARY KEY, {cols}) CHARACTER SET utf8mb4")).await;
    source
        .exec(&format!(
            "SET time_zone = '+00:00';
             INSERT INTO items (id, {names}) VALUES (1, {values});
             INSERT INTO items (id) VALUES (2);
             INSERT INTO items (id, vc, d, dtm) SELECT seq, CONCAT('row ', seq), seq / 7, '2024-01-01' + INTERVAL seq MINUTE FROM seq_3_to_3000;"
        ))
        .await;
    let s = Scratch::new(&mariadb_config(&source, &target, 4_100_100_000 + std::process::id() % 1000));
    run_once(&s);
    // The same values again through the binlog.
    source.exec(&format!("SET time_zone = '+00:00'; INSERT INTO items (id, {names}) VALUES (5000, {values})")).await;
    run_once(&s);

    let (code, report, stderr) = verify(&s, &[]);
    assert_equal(code, &report, &stderr);
    assert_eq!(compared(&report)[0]["compared_by"], "rows", "two engines compare row by row: {report:#}");
    assert_eq!(compared(&report)[0]["rows"], 3001, "{report:#}");

    target
        .client
        .batch_execute(
            "UPDATE public.items SET uu = '00000000-0000-0000-0000-000000000000' WHERE id = 1;
             DELETE FROM public.items WHERE id = 2000;
             INSERT INTO public.items (id, vc) VALUES (-7, 'intruder');",
        )
        .await
        .unwrap();
    let (code, report, _) = verify(&s, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_three(&report, r#"{"id":2000}"#, r#"{"id":-7}"#, r#"{"id":1}"#);

    let before = checkpoint(&s, "my2pg");
    let (code, report, stderr) = verify(&s, &["--repair"]);
    assert_equal(code, &report, &stderr);
    assert_eq!(checkpoint(&s, "my2pg"), before, "a repair does not move the checkpoint");
    let (code, report, stderr) = verify(&s, &[]);
    assert_equal(code, &report, &stderr);
    assert_eq!(pg::rows(&target, "SELECT count(*), min(id) FROM public.items").await, ["3001|1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_to_mariadb_compares_by_digests_and_finds_three_differences() {
    let source = mariadb::fresh_db("vf_mm_src").await;
    let target = mariadb::fresh_db("vf_mm_dst").await;
    source
        .exec(
            "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, qty INT, price DECIMAL(10,2), f FLOAT, d DOUBLE,
                                 at DATETIME(6), note TEXT, data BLOB, l1 VARCHAR(20) CHARACTER SET latin1) CHARACTER SET utf8mb4;
             INSERT INTO items SELECT seq, CONCAT('item ', seq), seq % 97, seq / 4, seq / 3, seq / 7,
                                      '2024-01-01' + INTERVAL seq SECOND, IF(seq % 5 = 0, NULL, 'NULL'), UNHEX(HEX(seq)), 'Grüße'
               FROM seq_1_to_25000;",
        )
        .await;
    let config = format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "my2my"
[pipeline.source]
kind = "mysql"
url = "{src}"
tables = ["{db}.items"]
server_id = {id}
[[pipeline.target]]
kind = "mysql"
url = "{dst}"
[pipeline.apply]
lanes = 2
batch_max_wait = "5ms"
"#,
        src = source.url,
        db = source.name,
        id = 4_100_101_000 + std::process::id() % 1000,
        dst = target.url,
    );
    let s = Scratch::new(&config);
    run_once(&s);
    let (code, report, stderr) = verify(&s, &[]);
    assert_equal(code, &report, &stderr);
    assert_eq!(compared(&report)[0]["compared_by"], "digests", "{report:#}");
    assert_eq!(compared(&report)[0]["rows"], 25_000, "{report:#}");
    // The text 'NULL' made NULL, a float changed in its 7th digit (3000 → 3000.000244), a row gone and one new.
    target.exec("UPDATE items SET note = NULL WHERE id = 4; UPDATE items SET f = 3000.0003 WHERE id = 9000; DELETE FROM items WHERE id = 17; INSERT INTO items (id, name) VALUES (30000, 'intruder')").await;
    let (code, report, _) = verify(&s, &[]);
    assert_eq!(code, 1, "{report:#}");
    let t = compared(&report)[0];
    assert_eq!(keys(t, "missing"), [r#"{"id":17}"#], "{report:#}");
    assert_eq!(keys(t, "extra"), [r#"{"id":30000}"#], "{report:#}");
    assert_eq!(keys(t, "different"), [r#"{"id":4}"#, r#"{"id":9000}"#], "{report:#}");
    let (code, report, stderr) = verify(&s, &["--repair"]);
    assert_equal(code, &report, &stderr);
}

fn mongo_config(source: &mongodb::TestMongo, target: &mongodb::TestMongo) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "mongo"
[pipeline.source]
kind = "mongodb"
url = "{src}"
collections = ["{db}.items"]
max_await = "200ms"
[[pipeline.target]]
kind = "mongodb"
url = "{dst}"
database = "{dst_db}"
[pipeline.apply]
lanes = 2
batch_max_wait = "5ms"
checkpoint_interval = "50ms"
"#,
        src = source.url,
        db = source.name,
        dst = target.url,
        dst_db = target.name,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_to_mongodb_equal_then_three_named_differences_then_repaired() {
    use bson::{doc, oid::ObjectId, Bson};
    let source = mongodb::fresh_db("vf_mg_src").await;
    let target = mongodb::fresh_db("vf_mg_dst").await;
    let docs = (1..=1500).map(|i: i32| {
        doc! {
            "_id": i, "name": format!("item {i}"), "n": i64::from(i) * 3, "f": f64::from(i) / 4.0,
            "nested": {"a": [1, "two", {"three": 3}], "when": bson::DateTime::from_millis(1_700_000_000_000 + i64::from(i))},
            "oid": ObjectId::from_bytes([i as u8; 12]), "dec": "1.10".parse::<bson::Decimal128>().unwrap(),
        }
    });
    source.coll("items").insert_many(docs).await.unwrap();
    source.coll("items").insert_one(doc! {"_id": "text-id", "kind": "a string _id"}).await.unwrap();
    let s = Scratch::new(&mongo_config(&source, &target));
    run_once(&s);

    let (code, report, stderr) = verify(&s, &[]);
    assert_equal(code, &report, &stderr);
    assert_eq!(compared(&report)[0]["rows"], 1501, "{report:#}");

    let coll = target.coll("items");
    coll.update_one(doc! {"_id": 10}, doc! {"$set": {"nested.a.1": "deux"}}).await.unwrap();
    coll.delete_one(doc! {"_id": 1000}).await.unwrap();
    coll.insert_one(doc! {"_id": Bson::Int32(-1), "name": "intruder"}).await.unwrap();
    let (code, report, _) = verify(&s, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_three(&report, r#"{"_id":1000}"#, r#"{"_id":-1}"#, r#"{"_id":10}"#);

    let before = checkpoint(&s, "mongo");
    let (code, report, stderr) = verify(&s, &["--repair"]);
    assert_equal(code, &report, &stderr);
    assert_eq!(checkpoint(&s, "mongo"), before, "a repair does not move the checkpoint");
    let (code, report, stderr) = verify(&s, &[]);
    assert_equal(code, &report, &stderr);
    assert_eq!(mongodb::all_docs(&target.db, "items").await, mongodb::all_docs(&source.db, "items").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_documents_in_sql_tables_compare_equal_and_are_repaired() {
    use bson::{doc, oid::ObjectId};
    let source = mongodb::fresh_db("vf_m2s_src").await;
    let pg_target = pg::fresh_db("vf_m2s_pg").await;
    let my_target = mariadb::fresh_db("vf_m2s_my").await;
    let oid = |i: u8| ObjectId::from_bytes([i; 12]);
    let docs = (1..=250u8).map(|i| doc! {"_id": oid(i), "n": i32::from(i), "tags": ["a", format!("b{i}")], "sub": {"x": f64::from(i) / 8.0}});
    source.coll("items").insert_many(docs).await.unwrap();
    let config = format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "m2s"
[pipeline.source]
kind = "mongodb"
url = "{src}"
collections = ["{db}.items"]
max_await = "200ms"
[[pipeline.target]]
kind = "postgres"
url = "{pg}"
[[pipeline.target]]
kind = "mysql"
url = "{my}"
[pipeline.apply]
lanes = 2
batch_max_wait = "5ms"
"#,
        src = source.url,
        db = source.name,
        pg = pg_target.url,
        my = my_target.url,
    );
    let s = Scratch::new(&config);
    run_once(&s);
    let (code, report, stderr) = verify(&s, &[]);
    assert_equal(code, &report, &stderr);
    assert_eq!(compared(&report).len(), 2, "both SQL targets are compared: {report:#}");

    // PostgreSQL: one document changed, one gone, one that never was.
    pg_target
        .client
        .batch_execute(&format!(
            r#"UPDATE public.items SET document = jsonb_set(document, '{{n}}', '{{"$numberInt": "-1"}}') WHERE _id = '{{"$oid": "{a}"}}';
               DELETE FROM public.items WHERE _id = '{{"$oid": "{b}"}}';
               INSERT INTO public.items VALUES ('{{"$numberInt": "7"}}', '{{"_id": {{"$numberInt": "7"}}}}');"#,
            a = oid(10).to_hex(),
            b = oid(20).to_hex()
        ))
        .await
        .unwrap();
    my_target.exec(&format!(r#"DELETE FROM items WHERE _id = '{{"$oid":"{}"}}'"#, oid(30).to_hex())).await;
    let (code, report, _) = verify(&s, &[]);
    assert_eq!(code, 1, "{report:#}");
    let t = compared(&report);
    let pg_pair = t.iter().find(|t| t["target"].as_str().unwrap().starts_with("postgres")).unwrap();
    assert_eq!(keys(pg_pair, "different"), [format!(r#"{{"_id":{{"$oid":"{}"}}}}"#, oid(10).to_hex())], "{report:#}");
    assert_eq!(keys(pg_pair, "missing"), [format!(r#"{{"_id":{{"$oid":"{}"}}}}"#, oid(20).to_hex())], "{report:#}");
    assert_eq!(keys(pg_pair, "extra"), [r#"{"_id":{"$numberInt":"7"}}"#], "{report:#}");
    let my_pair = t.iter().find(|t| t["target"].as_str().unwrap().starts_with("mysql")).unwrap();
    assert_eq!(my_pair["missing"]["count"], 1, "{report:#}");
    assert_eq!((my_pair["extra"]["count"].as_u64(), my_pair["different"]["count"].as_u64()), (Some(0), Some(0)), "{report:#}");

    let (code, report, stderr) = verify(&s, &["--repair"]);
    assert_equal(code, &report, &stderr);
    let (code, report, stderr) = verify(&s, &[]);
    assert_equal(code, &report, &stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rows_in_a_mongodb_target_compare_equal_and_are_repaired() {
    let source = pg::fresh_db("vf_p2m_src").await;
    let target = mongodb::fresh_db("vf_p2m_dst").await;
    source.client.batch_execute(PG_ITEMS).await.unwrap();
    source.client.batch_execute("DELETE FROM items WHERE id > 3000").await.unwrap();
    source.client.batch_execute("ALTER TABLE items ADD COLUMN u uuid DEFAULT '123e4567-e89b-12d3-a456-426614174000', ADD COLUMN b bytea DEFAULT '\\xdead'").await.unwrap();
    let config = format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "p2m"
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = ["public.items"]
slot = "{slot}"
publication = "{slot}"
[[pipeline.target]]
kind = "mongodb"
url = "{dst}"
database = "{dst_db}"
[pipeline.apply]
lanes = 2
batch_max_wait = "5ms"
"#,
        src = source.url,
        slot = source.name,
        dst = target.url,
        dst_db = target.name,
    );
    let s = Scratch::new(&config);
    run_once(&s);
    let (code, report, stderr) = verify(&s, &[]);
    assert_equal(code, &report, &stderr);
    assert_eq!(compared(&report)[0]["rows"], 3_000, "{report:#}");

    let coll = target.coll("items");
    coll.update_one(bson::doc! {"_id": 777i64}, bson::doc! {"$set": {"day": "1999-01-01"}}).await.unwrap();
    coll.delete_one(bson::doc! {"_id": 2345i64}).await.unwrap();
    coll.insert_one(bson::doc! {"_id": 99999999i64, "id": 99999999i64, "name": "intruder"}).await.unwrap();
    let (code, report, _) = verify(&s, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_three(&report, r#"{"id":2345}"#, r#"{"id":99999999}"#, r#"{"id":777}"#);
    let (code, report, stderr) = verify(&s, &["--repair"]);
    assert_equal(code, &report, &stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_mariadb_compares_equal_across_the_type_mapping_and_is_repaired() {
    let source = pg::fresh_db("vf_p2my_src").await;
    let target = mariadb::fresh_db("vf_p2my_dst").await;
    source.client.batch_execute(PG_ITEMS).await.unwrap();
    source
        .client
        .batch_execute(
            "DELETE FROM items WHERE id > 3000;
             ALTER TABLE items ADD COLUMN ok boolean DEFAULT true, ADD COLUMN u uuid DEFAULT '123e4567-e89b-12d3-a456-426614174000',
                               ADD COLUMN b bytea DEFAULT '\\xdead', ADD COLUMN t time DEFAULT '12:34:56.5', ADD COLUMN n numeric DEFAULT 1.50,
                               ADD COLUMN ts timestamp(3) DEFAULT '2024-02-29 13:45:00.123', ADD COLUMN s smallint DEFAULT -3, ADD COLUMN r real DEFAULT 0.1;
             UPDATE items SET ok = NULL, u = NULL WHERE id % 10 = 0;",
        )
        .await
        .unwrap();
    let config = format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "p2my"
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = ["public.items"]
slot = "{slot}"
publication = "{slot}"
[[pipeline.target]]
kind = "mysql"
url = "{dst}"
[pipeline.apply]
lanes = 2
batch_max_wait = "5ms"
"#,
        src = source.url,
        slot = source.name,
        dst = target.url,
    );
    let s = Scratch::new(&config);
    run_once(&s);
    let (code, report, stderr) = verify(&s, &[]);
    assert_equal(code, &report, &stderr);
    assert_eq!(compared(&report)[0]["rows"], 3_000, "{report:#}");
    target.exec("UPDATE items SET ok = 0 WHERE id = 777; DELETE FROM items WHERE id = 2345; INSERT INTO items (id, name) VALUES (0, 'intruder')").await;
    let (code, report, _) = verify(&s, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_three(&report, r#"{"id":2345}"#, r#"{"id":0}"#, r#"{"id":777}"#);
    let (code, report, stderr) = verify(&s, &["--repair"]);
    assert_equal(code, &report, &stderr);
}

const RULES: &str = r#"
mask_key = "0123456789abcdef"
[[pipeline.table]]
match = "public.items"
rename = "shop.goods"
rename_columns = { name = "title" }
mask = { code = "hash", name = "redact", doc = "null" }
exclude_columns = ["ratio"]
filter = "qty >= 10"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_renames_masks_exclusions_and_filters_still_compare_equal() {
    let source = pg::fresh_db("vf_rules_src").await;
    let target = pg::fresh_db("vf_rules_dst").await;
    source.client.batch_execute(PG_ITEMS).await.unwrap();
    let s = Scratch::new(&pg_config(&source, &target, RULES));
    run_once(&s);
    // The rows the filter drops are not expected in the target.
    let kept = pg::rows(&target, "SELECT count(*) FROM shop.goods").await;
    assert!(kept[0].parse::<u64>().unwrap() < 25_000, "{kept:?}");

    let (code, report, stderr) = verify(&s, &[]);
    assert_equal(code, &report, &stderr);
    let pair = compared(&report)[0];
    assert!(pair["target"].as_str().unwrap().ends_with("shop.goods"), "{pair}");
    assert_eq!(pair["compared_by"], "rows", "masks and filters are applied here, row by row: {pair}");

    // A rename alone still compares by digests, and still sees a change.
    let renamed_only = "[[pipeline.table]]\nmatch = \"public.items\"\nrename = \"shop.goods\"\nrename_columns = { name = \"title\" }\nexclude_columns = [\"ratio\"]\n";
    let target2 = pg::fresh_db("vf_rules_dst2").await;
    let source2 = pg::fresh_db("vf_rules_src2").await;
    source2.client.batch_execute(PG_ITEMS).await.unwrap();
    let s2 = Scratch::new(&pg_config(&source2, &target2, renamed_only));
    run_once(&s2);
    let (code, report, stderr) = verify(&s2, &[]);
    assert_equal(code, &report, &stderr);
    assert_eq!(compared(&report)[0]["compared_by"], "digests", "{report:#}");

    // Under the rules a change is still found: a masked value, a kept
    // row, and a row the filter keeps away that appears in the target.
    target
        .client
        .batch_execute(
            "UPDATE shop.goods SET code = 'not a hash' WHERE id = 50;
             DELETE FROM shop.goods WHERE id = 51;
             INSERT INTO shop.goods (id, title, qty) VALUES (3, 'filtered out at the source', 3);",
        )
        .await
        .unwrap();
    let (code, report, _) = verify(&s, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_three(&report, r#"{"id":51}"#, r#"{"id":3}"#, r#"{"id":50}"#);
    let (code, report, stderr) = verify(&s, &["--repair"]);
    assert_equal(code, &report, &stderr);
}

/// A continuous `logferry run` (killed on drop).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `logferry run` and waits until its control socket answers.
fn start_run(s: &Scratch) -> Running {
    let child = s.command(&["run"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let run = Running(child);
    let socket = s.path("state/logferry.sock");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "the run's control socket {} never appeared", socket.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    run
}

/// Writes to `items` until told to stop: inserts, updates and deletes of
/// random keys; returns the transactions written.
fn workload(url: String, stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let client = pg::connect(&url).await;
        let mut rng = crate::support::Rng(7);
        let mut next = 100_000i64;
        let mut txs = 0;
        while !*stop.borrow() {
            let k = 1 + rng.below(25_000) as i64;
            client
                .batch_execute(&format!(
                    "BEGIN;
                     UPDATE items SET qty = qty + 1, name = 'upd' WHERE id IN ({k}, {});
                     INSERT INTO items (id, name) VALUES ({next}, 'new');
                     DELETE FROM items WHERE id = {};
                     COMMIT;",
                    k + 1,
                    next - 3
                ))
                .await
                .unwrap();
            next += 1;
            txs += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        txs
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_while_a_workload_replicates_reports_no_false_difference() {
    let source = pg::fresh_db("vf_live_src").await;
    let target = pg::fresh_db("vf_live_dst").await;
    source.client.batch_execute(PG_ITEMS).await.unwrap();
    let s = Scratch::new(&pg_config(&source, &target, ""));
    run_once(&s);
    let _run = start_run(&s);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let writer = workload(source.url.clone(), stop_rx);
    // Start once the workload is writing (its inserts take ids from 100000).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let max: i64 = source.client.query_one("SELECT max(id) FROM items", &[]).await.unwrap().get(0);
        if max >= 100_020 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the workload did not start writing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every run reports equal; at least one must have met changes in
    // flight (found them different, then equal once the pipeline had
    // applied past its read), or the test did not test the re-check.
    let mut rechecked = Vec::new();
    for _ in 0..6 {
        let (code, report, stderr) = tokio::task::block_in_place(|| verify(&s, &[]));
        assert_equal(code, &report, &stderr);
        rechecked.extend(
            compared(&report)
                .iter()
                .flat_map(|t| t["notes"].as_array().cloned().unwrap_or_default())
                .filter_map(|n| n.as_str().map(str::to_string))
                .filter(|n| n.contains("differed while the pipeline ran; all equal once it had applied past the read")),
        );
        if rechecked.len() >= 2 {
            break;
        }
    }
    assert!(!rechecked.is_empty(), "no verify run met a change in flight; the re-check was not exercised");
    stop_tx.send(true).unwrap();
    let txs = writer.await.unwrap();
    assert!(txs > 20, "the workload ran ({txs} transactions)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repair_through_a_running_pipeline_mends_the_target() {
    let source = pg::fresh_db("vf_live_rep_src").await;
    let target = pg::fresh_db("vf_live_rep_dst").await;
    source.client.batch_execute(PG_ITEMS).await.unwrap();
    let s = Scratch::new(&pg_config(&source, &target, ""));
    run_once(&s);
    let _run = start_run(&s);
    target
        .client
        .batch_execute(
            "UPDATE public.items SET name = 'tampered' WHERE id = 777;
             DELETE FROM public.items WHERE id = 12345;
             INSERT INTO public.items (id, name) VALUES (99999999, 'intruder');",
        )
        .await
        .unwrap();
    let (code, report, _) = tokio::task::block_in_place(|| verify(&s, &[]));
    assert_eq!(code, 1, "{report:#}");
    assert_three(&report, r#"{"id":12345}"#, r#"{"id":99999999}"#, r#"{"id":777}"#);
    let (code, report, stderr) = tokio::task::block_in_place(|| verify(&s, &["--repair"]));
    assert_equal(code, &report, &stderr);
    let (code, report, stderr) = tokio::task::block_in_place(|| verify(&s, &[]));
    assert_equal(code, &report, &stderr);
}
