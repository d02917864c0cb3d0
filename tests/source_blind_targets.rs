//! Acceptance: the SQL targets are blind to the name of the source.
//!
//! A target maps canonical values and the logical types of a schema record
//! to its own types; it must never ask which database a record came from
//! (DESIGN.md, "Which way the imports run"). So the records a real source
//! produces, applied once as they are and once with `source` replaced by
//! [`NO_SUCH_SOURCE`], each into a fresh database, must leave identical
//! tables: column names, column types as the target's catalog prints them,
//! nullability, primary keys and every row value as text.
//!
//! The records are captured by running the real source (snapshot, then a
//! second run that streams inserts, updates and deletes) into a recording
//! sink; each test captures its own, so the tests run in parallel.

use crate::support::mariadb;
use crate::support::mongodb as mongo;
use crate::support::pg;
use crate::support::sql_target::{line_diff, Dialect, TargetDb};
use crate::support::{fast_apply, no_shutdown, run_pipeline, Faults, RecordingSink};
use logferry::checkpoint::CheckpointStore;
use logferry::config::{DatabaseSourceConfig, FullDocument, MongodbSourceConfig, OnInvalidate, SecretUrl, SnapshotMode};
use logferry::record::{Change, Op};
use logferry::sinks::{Batch, Sink};
use logferry::sources::mongodb::MongodbSource;
use logferry::sources::mysql::MysqlSource;
use logferry::sources::postgres::PostgresSource;
use logferry::sources::Source;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `source` the second copy of the records carries.
const NO_SUCH_SOURCE: &str = "no-such-source";

/// Records of one run of a source, in `seq` order.
type Run = Vec<Change>;

/// Runs `source` once (catch up, then stop) into a recording sink.
async fn capture(name: &str, source: impl Source + 'static, store: &CheckpointStore) -> Run {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::new(RecordingSink::new(0, log.clone(), Faults::default()));
    run_pipeline(name, fast_apply(2), source, vec![sink as Arc<dyn Sink>], store, true, no_shutdown())
        .await
        .unwrap_or_else(|e| panic!("the {name} source failed: {e}"));
    let mut records: Vec<Change> = log.lock().unwrap().iter().flat_map(|a| a.records.clone()).collect();
    records.sort_by_key(|c| c.seq);
    records
}

/// The same runs with every record's `source` replaced.
fn renamed(runs: &[Run]) -> Vec<Run> {
    runs.iter()
        .map(|run| run.iter().cloned().map(|c| Change { source: NO_SUCH_SOURCE.into(), ..c }).collect())
        .collect()
}

/// Applies `runs` (one batch per run, on one lane) to a fresh database of
/// `dialect` and describes what the target made; an apply error is the
/// description's text instead.
async fn replay(dialect: Dialect, prefix: &str, runs: &[Run]) -> Result<String, String> {
    let db = TargetDb::fresh(dialect, prefix).await;
    let sink = db.sink(1).await;
    for (i, run) in runs.iter().enumerate() {
        sink.apply(&Batch { lane: 0, records: run.clone(), order: None }).await.map_err(|e| format!("apply of run {} failed: {e}", i + 1))?;
    }
    sink.close().await.map_err(|e| format!("close failed: {e}"))?;
    Ok(db.describe().await.iter().map(|t| t.to_string()).collect())
}

/// The acceptance check: `runs` as they are and renamed leave the same tables.
async fn assert_blind(dialect: Dialect, case: &str, runs: Vec<Run>, expect_tables: &[&str]) {
    let sources: Vec<&str> = runs.iter().flatten().filter(|c| c.table.is_some()).map(|c| c.source.as_str()).collect();
    assert!(sources.iter().all(|s| !s.is_empty() && *s != NO_SUCH_SOURCE), "the captured records name their source: {sources:?}");
    let rows = runs.iter().flatten().filter(|c| matches!(c.op(), Op::SnapshotRead | Op::Insert | Op::Update | Op::Delete)).count();
    assert!(rows > 0, "{case}: the source produced row changes");
    let prefix = format!("blind_{case}_{}", dialect.name());
    let as_is = replay(dialect, &prefix, &runs).await.unwrap_or_else(|e| panic!("{case} into {dialect:?}, records as the source made them: {e}"));
    for t in expect_tables {
        assert!(as_is.contains(&format!("table {t}\n")), "{case} into {dialect:?}: no table {t} in\n{as_is}");
    }
    assert!(as_is.contains("  row "), "{case} into {dialect:?}: no rows in\n{as_is}");
    let blind = replay(dialect, &prefix, &renamed(&runs)).await.unwrap_or_else(|e| e);
    if let Some(diff) = line_diff(&as_is, &blind) {
        let first = sources.first().copied().unwrap_or_default();
        panic!(
            "the {dialect:?} target made different tables from the same {case} records when `source` was {NO_SUCH_SOURCE:?} \
             instead of {first:?} (- as the source named itself, + renamed):\n{diff}"
        );
    }
}

/// A PostgreSQL table with a representative set of types: snapshot, then
/// streamed insert, update and delete.
async fn postgres_records() -> Vec<Run> {
    let db = pg::fresh_db("blindsrc").await;
    db.client
        .batch_execute(
            "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
             CREATE TABLE every_type (
                 id bigint PRIMARY KEY, i2 smallint, i4 integer NOT NULL, i8 bigint,
                 amount numeric(12,2), body text, code varchar(20), flag bool,
                 at timestamptz, day date, uid uuid, doc jsonb, tags text[], feeling mood);
             INSERT INTO every_type VALUES
                 (1, -32768, 2147483647, -9223372036854775808, 1234567890.12, 'quote '' bs \\ ünï 😀', 'code-1', true,
                  '2024-02-29 11:45:00.123456+00', '2024-02-29', '00112233-4455-6677-8899-aabbccddeeff',
                  '{\"b\": 1, \"a\": [1, 2.5, null]}', ARRAY['a b', 'c,d', NULL], 'happy'),
                 (2, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);",
        )
        .await
        .unwrap();
    let cfg = crate::postgres_source::source_config(&db.url, &db.name, &["public.every_type"]);
    let store = CheckpointStore::temporary().unwrap();
    let snapshot = capture("pg", PostgresSource::new(cfg.clone()), &store).await;
    db.client
        .batch_execute(
            "INSERT INTO every_type VALUES (3, 7, 8, 9, -0.5, 'three', 'c3', false, '1999-12-31 23:59:59+00', '1999-12-31',
                 'ffffffff-ffff-ffff-ffff-ffffffffffff', '[]', '{}', 'sad');
             UPDATE every_type SET amount = 99.99, tags = ARRAY['x'], feeling = 'ok', doc = '{\"n\": {\"deep\": true}}' WHERE id = 1;
             DELETE FROM every_type WHERE id = 2;",
        )
        .await
        .unwrap();
    let stream = capture("pg", PostgresSource::new(cfg), &store).await;
    vec![snapshot, stream]
}

/// A MariaDB table with its own types (unsigned ints, decimal, varchar,
/// enum, set, datetime, timestamp, time, json, blob): snapshot, then binlog.
async fn mariadb_records() -> Vec<Run> {
    let db = mariadb::fresh_db("blindsrc").await;
    db.exec(
        "CREATE TABLE every_type (
             id INT PRIMARY KEY, ti TINYINT, si SMALLINT NOT NULL, su INT UNSIGNED, bu BIGINT UNSIGNED,
             amount DECIMAL(12,2), name VARCHAR(40), e ENUM('a','b''c','d'), s SET('x','y','z'),
             dt DATETIME(6), ts TIMESTAMP(3) NULL, t TIME, j JSON, b BLOB) DEFAULT CHARSET = utf8mb4;
         INSERT INTO every_type VALUES
             (1, -128, -32768, 4294967295, 18446744073709551615, -1234567890.12, 'ünï 😀 quote '' bs \\\\', 'b''c', 'x,z',
              '2024-02-29 11:45:00.123456', '2024-02-29 11:45:00.123', '-838:59:59', '{\"b\": 1, \"a\": [1, 2.5, null]}', x'00ff5c27'),
             (2, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);",
    )
    .await;
    let cfg = crate::mysql_source::source_config(&db, &["every_type"]);
    let store = CheckpointStore::temporary().unwrap();
    let snapshot = capture("my", MysqlSource::new(cfg.clone()), &store).await;
    db.exec(
        "INSERT INTO every_type VALUES (3, 1, 2, 3, 4, 0.5, 'three', 'd', '', '1999-12-31 23:59:59', '1999-12-31 23:59:59.5', '12:34:56', '[]', x'');
         UPDATE every_type SET amount = 99.99, s = 'y', e = 'a', j = '{\"n\": {\"deep\": true}}' WHERE id = 1;
         DELETE FROM every_type WHERE id = 2;",
    )
    .await;
    let stream = capture("my", MysqlSource::new(cfg), &store).await;
    vec![snapshot, stream]
}

/// A MongoDB collection of documents: copy, then change stream.
async fn mongodb_records() -> Vec<Run> {
    use bson::{doc, Binary, DateTime};
    let db = mongo::fresh_db("blindsrc").await;
    let coll = db.coll("items");
    coll.insert_many([
        doc! { "_id": 1, "name": "one", "n": 1i64, "price": 9.5, "at": DateTime::from_millis(1_700_000_000_123),
               "tags": ["a", "b"], "nested": { "deep": true, "none": bson::Bson::Null },
               "bin": Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![0, 255] } },
        doc! { "_id": 2, "name": "two" },
    ])
    .await
    .unwrap();
    let cfg = MongodbSourceConfig {
        db: DatabaseSourceConfig { url: SecretUrl::new(&db.url), tables: vec![format!("{}.items", db.name)], snapshot: SnapshotMode::Initial, row_keys: Vec::new() },
        full_document: FullDocument::UpdateLookup,
        on_invalidate: OnInvalidate::Stop,
        snapshot_chunk_docs: 1000,
        max_await: Duration::from_millis(200),
    };
    let store = CheckpointStore::temporary().unwrap();
    let snapshot = capture("mongo", MongodbSource::new(cfg.clone()), &store).await;
    coll.insert_one(doc! { "_id": 3, "name": "three", "n": 3i32 }).await.unwrap();
    coll.update_one(doc! { "_id": 1 }, doc! { "$set": { "n": 2i64, "nested.deep": false } }).await.unwrap();
    coll.delete_one(doc! { "_id": 2 }).await.unwrap();
    let stream = capture("mongo", MongodbSource::new(cfg), &store).await;
    vec![snapshot, stream]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_source_into_postgres_target_is_blind_to_the_source_name() {
    assert_blind(Dialect::Postgres, "pgsrc", postgres_records().await, &["public.every_type"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_source_into_mysql_target_is_blind_to_the_source_name() {
    assert_blind(Dialect::Mysql, "pgsrc", postgres_records().await, &["every_type"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_source_into_postgres_target_is_blind_to_the_source_name() {
    let runs = mariadb_records().await;
    let schema = runs[0].iter().find_map(|c| c.table.as_ref()).expect("a record names its table").schema.clone();
    assert_blind(Dialect::Postgres, "mysrc", runs, &[&format!("{schema}.every_type")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_source_into_mysql_target_is_blind_to_the_source_name() {
    assert_blind(Dialect::Mysql, "mysrc", mariadb_records().await, &["every_type"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_source_into_postgres_target_is_blind_to_the_source_name() {
    assert_blind(Dialect::Postgres, "mgsrc", mongodb_records().await, &["public.items"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_source_into_mysql_target_is_blind_to_the_source_name() {
    assert_blind(Dialect::Mysql, "mgsrc", mongodb_records().await, &["items"]).await;
}

/// The labels of PostgreSQL enum type `ty`, `|`-separated, in order.
async fn labels(db: &TargetDb, ty: &str) -> Vec<String> {
    let ty = ty.replace('\'', "''");
    db.rows(&format!("SELECT string_agg(enumlabel, '|' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = '{ty}'::regtype")).await
}

/// Applies `runs` to a fresh database of `dialect` and returns it (kept for
/// the caller's own checks).
async fn applied(dialect: Dialect, prefix: &str, runs: &[Run]) -> TargetDb {
    let db = TargetDb::fresh(dialect, prefix).await;
    let sink = db.sink(1).await;
    for run in runs {
        sink.apply(&Batch { lane: 0, records: run.clone(), order: None }).await.unwrap_or_else(|e| panic!("{dialect:?}: {e}"));
    }
    sink.close().await.unwrap();
    db
}

/// A source enum carries its labels in the schema record's logical type, so
/// each target creates a type of exactly those labels: a PostgreSQL enum type
/// (the source's own name when it is one, `<table>_<column>` for a MySQL
/// column) and a MySQL `ENUM(…)` — never plain text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_enums_become_enum_types_on_both_targets() {
    let pg_runs = postgres_records().await;
    let pg = applied(Dialect::Postgres, "enum_pgsrc", &pg_runs).await;
    let ty = pg.column_type("public", "every_type", "feeling").await;
    assert_eq!(ty, "mood", "a PostgreSQL enum keeps its name");
    assert_eq!(labels(&pg, &ty).await, ["sad|ok|happy"]);
    assert_eq!(pg.rows("SELECT id || ':' || feeling FROM public.every_type ORDER BY id").await, ["1:ok", "3:sad"]);
    let my = applied(Dialect::Mysql, "enum_pgsrc", &pg_runs).await;
    assert_eq!(my.column_type("public", "every_type", "feeling").await, "enum('sad','ok','happy')");

    let my_runs = mariadb_records().await;
    let schema = my_runs[0].iter().find_map(|c| c.table.as_ref()).expect("a record names its table").schema.clone();
    let pg = applied(Dialect::Postgres, "enum_mysrc", &my_runs).await;
    let ty = pg.column_type(&schema, "every_type", "e").await;
    assert!(ty.ends_with("every_type_e"), "a MySQL enum becomes the enum type <table>_<column>: {ty}");
    assert_eq!(labels(&pg, &ty).await, ["a|b'c|d"]);
    assert_eq!(pg.column_type(&schema, "every_type", "s").await, "text[]", "a SET stays its labels");
    let my = applied(Dialect::Mysql, "enum_mysrc", &my_runs).await;
    assert_eq!(my.column_type(&schema, "every_type", "e").await, "enum('a','b''c','d')");
}
