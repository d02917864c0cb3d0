//! Tables without a primary key and without a rule: replicated by whole
//! rows. Records carry no key columns and the whole old row; SQL targets
//! keep them as multisets (rows equal in every column may repeat); the
//! router keeps such a table in one lane; a copy starts with a TRUNCATE.

use crate::support::binary::{text, Scratch};
use crate::support::records::{apply, row};
use crate::support::shop::{change, ddl, truncate, v};
use crate::support::sql_target::{Dialect, TargetDb};
use crate::support::*;
use logferry::checkpoint::CheckpointStore;
use logferry::record::{value::Kind, Change, Op, Row, Value};
use logferry::sinks::Sink;
use logferry::sources::mysql::MysqlSource;
use logferry::sources::postgres::PostgresSource;
use logferry::sources::Source;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Runs `source` once (catch up, then stop) with `lanes` lanes into
/// `target` (when given) and a recording sink; returns what it recorded.
async fn run_into(source: impl Source + 'static, target: Option<Arc<dyn Sink>>, lanes: usize, store: &CheckpointStore) -> Vec<Applied> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut sinks: Vec<Arc<dyn Sink>> = vec![Arc::new(RecordingSink::new(0, log.clone(), Faults::default()))];
    sinks.extend(target);
    run_pipeline("whole_rows", fast_apply(lanes), source, sinks, store, true, no_shutdown())
        .await
        .unwrap_or_else(|e| panic!("{}", logferry::ErrorChain(&e)));
    let applied = log.lock().unwrap().clone();
    applied
}

/// The records of table `name`, in source order.
fn of_table<'a>(applied: &'a [Applied], name: &str) -> Vec<&'a Change> {
    let mut out: Vec<&Change> = applied.iter().flat_map(|a| &a.records).filter(|c| c.table.as_ref().is_some_and(|t| t.name == name)).collect();
    out.sort_by_key(|c| c.seq);
    out
}

/// Checks what a whole-row table's records look like: no key columns, a
/// TRUNCATE before the copied rows, whole old rows on updates and deletes.
fn check_records(records: &[&Change], columns: usize) {
    let ops: Vec<Op> = records.iter().map(|c| c.op()).filter(|op| *op != Op::SchemaChange).collect();
    if ops.contains(&Op::SnapshotRead) {
        assert_eq!(ops[0], Op::Truncate, "a copy starts with a TRUNCATE: {ops:?}");
    }
    for c in records {
        assert!(c.key_columns.is_empty(), "{c:?}");
        if matches!(c.op(), Op::Update | Op::Delete) {
            assert_eq!(c.before.as_ref().map_or(0, |r| r.columns.len()), columns, "the whole old row: {c:?}");
        }
    }
}

// ---- SQL targets: one case, both dialects ----

mod postgres {
    #[tokio::test]
    async fn keyless_rows_apply_as_a_multiset() {
        super::keyless_rows_apply_as_a_multiset(super::Dialect::Postgres).await
    }
}

mod mysql {
    #[tokio::test]
    async fn keyless_rows_apply_as_a_multiset() {
        super::keyless_rows_apply_as_a_multiset(super::Dialect::Mysql).await
    }
}

fn log_row(msg: &str, n: Option<i64>, doc: &str) -> Option<Row> {
    row(vec![
        ("msg", Value::text(msg)),
        ("n", n.map_or_else(Value::null, Value::int64)),
        ("doc", v(Kind::Json(doc.into()))),
        ("f", v(Kind::Float64(0.5))),
    ])
}

fn keyless(op: Op, before: Option<Row>, after: Option<Row>) -> Change {
    change(op, "public", "log", &[], before, after)
}

async fn keyless_rows_apply_as_a_multiset(dialect: Dialect) {
    let db = TargetDb::fresh(dialect, &format!("keyless_sink_{}", dialect.name())).await;
    let s = db.sink(1).await;
    let cols = [("msg", "text", true), ("n", "integer", true), ("doc", "json", true), ("f", "double precision", true)];
    apply(&*s, vec![ddl("public", "log", &cols, &[])]).await.unwrap();
    assert!(db.primary_key("public", "log").await.is_empty(), "a table without a key is created without one");
    let all = "SELECT msg, n, doc, f FROM log ORDER BY msg, COALESCE(n, -1)";
    let a = || log_row("a", None, r#"{"k": 1}"#);
    // Three identical rows (a NULL among their values), and another.
    apply(&*s, vec![keyless(Op::Insert, None, a()), keyless(Op::Insert, None, a()), keyless(Op::Insert, None, a()), keyless(Op::Insert, None, log_row("b", Some(2), "[]"))])
        .await
        .unwrap();
    assert_eq!(db.rows("SELECT count(*) FROM log").await, ["4"]);
    // A delete removes exactly one of the identical rows (NULL equal to NULL).
    apply(&*s, vec![keyless(Op::Delete, a(), None)]).await.unwrap();
    assert_eq!(db.rows(all).await, [r#"a|∅|{"k": 1}|0.5"#, r#"a|∅|{"k": 1}|0.5"#, "b|2|[]|0.5"]);
    // An update replaces one of the two: one old row and one new.
    apply(&*s, vec![keyless(Op::Update, a(), log_row("a", Some(5), r#"{"k": 1}"#))]).await.unwrap();
    assert_eq!(db.rows(all).await, [r#"a|∅|{"k": 1}|0.5"#, r#"a|5|{"k": 1}|0.5"#, "b|2|[]|0.5"]);
    // Json that differs only in spacing is another row: the delete of one
    // leaves the other. In one batch, in order: a row inserted and deleted,
    // a delete of a row that is not there (nothing happens).
    let spaced = || log_row("j", Some(1), r#"{"x": 1}"#);
    let tight = || log_row("j", Some(1), r#"{"x":1}"#);
    apply(
        &*s,
        vec![
            keyless(Op::Insert, None, spaced()),
            keyless(Op::Insert, None, tight()),
            keyless(Op::Delete, tight(), None),
            keyless(Op::Insert, None, log_row("c", Some(3), "[]")),
            keyless(Op::Delete, log_row("c", Some(3), "[]"), None),
            keyless(Op::Delete, log_row("zz", None, "[]"), None),
            keyless(Op::Update, log_row("b", Some(2), "[]"), log_row("b", Some(20), "[]")),
        ],
    )
    .await
    .unwrap();
    assert_eq!(db.rows(all).await, [r#"a|∅|{"k": 1}|0.5"#, r#"a|5|{"k": 1}|0.5"#, "b|20|[]|0.5", r#"j|1|{"x": 1}|0.5"#]);
    apply(&*s, vec![truncate("log")]).await.unwrap();
    assert_eq!(db.rows("SELECT count(*) FROM log").await, ["0"]);
}

// ---- PostgreSQL → PostgreSQL ----

mod pg {
    use super::*;
    use crate::support::pg::{fresh_db, rows, TestDb};
    use logferry::config::PostgresSourceConfig;

    const ALL: &str = "SELECT note, n, doc::text, f, at FROM history ORDER BY note, n, doc::text, f, at";

    fn config(db: &TestDb, tables: &[&str]) -> PostgresSourceConfig {
        crate::postgres_source::source_config(&db.url, &db.name, tables)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn duplicate_rows_replicate_as_exact_multisets() {
        let source = fresh_db("keyless_whole_src").await;
        source
            .client
            .batch_execute(
                "CREATE TABLE history (note text, n int, doc json, f float8, at timestamptz);
                 ALTER TABLE history REPLICA IDENTITY FULL;
                 INSERT INTO history SELECT 'a', NULL, '{\"k\": 1}', 0.1, '2024-01-01 10:00+00' FROM generate_series(1, 3);
                 INSERT INTO history SELECT 'b', 2, '[1, 2]', 1e300, NULL FROM generate_series(1, 2);
                 INSERT INTO history SELECT 'd' || i, i, NULL, i / 3.0, now() FROM generate_series(1, 5) i;",
            )
            .await
            .unwrap();
        let target = TargetDb::fresh(Dialect::Postgres, "keyless_whole_dst").await;
        let TargetDb::Postgres(dst) = &target else { unreachable!() };
        let sink: Arc<dyn Sink> = Arc::from(target.sink(4).await);
        let store = CheckpointStore::temporary().unwrap();
        let copied = run_into(PostgresSource::new(config(&source, &["public.history"])), Some(sink.clone()), 4, &store).await;
        check_records(&of_table(&copied, "history"), 5);
        assert_eq!(rows(dst, ALL).await, rows(&source, ALL).await, "after the copy");

        source
            .client
            .batch_execute(
                "INSERT INTO history SELECT 'c', 3, '{}', 0, NULL FROM generate_series(1, 3);
                 DELETE FROM history WHERE ctid = (SELECT ctid FROM history WHERE note = 'c' LIMIT 1);
                 UPDATE history SET n = 9 WHERE ctid = (SELECT ctid FROM history WHERE note = 'b' LIMIT 1);
                 UPDATE history SET doc = '{\"k\":  2}' WHERE note = 'a';
                 DELETE FROM history WHERE ctid = (SELECT ctid FROM history WHERE note = 'a' LIMIT 1);
                 UPDATE history SET f = 'NaN' WHERE note = 'd1';",
            )
            .await
            .unwrap();
        let streamed = run_into(PostgresSource::new(config(&source, &["public.history"])), Some(sink.clone()), 4, &store).await;
        let records = of_table(&streamed, "history");
        check_records(&records, 5);
        assert!(records.iter().any(|c| c.op() == Op::Update) && records.iter().any(|c| c.op() == Op::Delete), "{records:#?}");
        let expected = rows(&source, ALL).await;
        assert_eq!(rows(dst, "SELECT note, n FROM history WHERE note IN ('b', 'c') ORDER BY 1, 2").await, ["b|2", "b|9", "c|3", "c|3"]);
        assert_eq!(rows(dst, "SELECT count(*) FROM history WHERE note = 'a'").await, ["2"]);
        assert_eq!(rows(dst, ALL).await, expected, "after inserts, updates and deletes of duplicate rows");

        // The table copied again from the start (a new slot and checkpoint,
        // as after `reset`): the TRUNCATE first, so nothing doubles.
        let mut again = config(&source, &["public.history"]);
        again.slot = format!("{}_again", source.name);
        let store = CheckpointStore::temporary().unwrap();
        run_into(PostgresSource::new(again.clone()), Some(sink), 4, &store).await;
        assert_eq!(rows(dst, ALL).await, expected, "a copy that starts again empties the target first");
        // The slot is free once the run ended; dropping it can race its walsender's exit.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while source.client.execute("SELECT pg_drop_replication_slot($1)", &[&again.slot]).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "the extra slot {} could not be dropped", again.slot);
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_copy_stopped_midway_resumes_by_emptying_the_target_first() {
        let source = fresh_db("keyless_resume_src").await;
        source
            .client
            .batch_execute(
                "CREATE TABLE history (note text, n int);
                 ALTER TABLE history REPLICA IDENTITY FULL;
                 INSERT INTO history SELECT 'same', 1 FROM generate_series(1, 12);
                 INSERT INTO history SELECT 'r' || i, i FROM generate_series(1, 12) i;",
            )
            .await
            .unwrap();
        let target = TargetDb::fresh(Dialect::Postgres, "keyless_resume_dst").await;
        let TargetDb::Postgres(dst) = &target else { unreachable!() };
        let sink: Arc<dyn Sink> = Arc::from(target.sink(1).await);
        let store = CheckpointStore::temporary().unwrap();
        let cfg = config(&source, &["public.history"]);
        // Small batches, so chunks are checkpointed as the copy goes; a
        // second target refuses every record from seq 15 on, which stops
        // the run in the middle of the copy, after the SQL target applied
        // rows past the checkpoint.
        let apply = logferry::config::ApplyConfig { batch_max_rows: 2, ..fast_apply(1) };
        let faults = Faults { definite_at: (15..10_000).collect(), ..Faults::default() };
        let log = Arc::new(Mutex::new(Vec::new()));
        let failing: Arc<dyn Sink> = Arc::new(RecordingSink::new(0, log.clone(), faults));
        let stopped = run_pipeline("resume", apply.clone(), PostgresSource::new(cfg.clone()), vec![sink.clone(), failing], &store, true, no_shutdown()).await;
        assert!(stopped.is_err(), "the refusing target stops the copy");
        let applied = rows(dst, "SELECT count(*) FROM history").await;
        assert!(applied != ["0"] && applied != ["24"], "the copy stopped midway: {applied:?} rows on the target");
        // The next run resumes the copy: the keyless table starts again,
        // emptied first, so the target holds each row exactly as often as the source.
        run_pipeline("resume", apply, PostgresSource::new(cfg), vec![sink], &store, true, no_shutdown()).await.unwrap();
        let all = "SELECT note, n FROM history ORDER BY note, n";
        assert_eq!(rows(dst, all).await, rows(&source, all).await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_keyless_table_applies_in_one_lane() {
        let db = fresh_db("keyless_lanes").await;
        db.client
            .batch_execute(
                "CREATE TABLE history (note text, n int);
                 ALTER TABLE history REPLICA IDENTITY FULL;
                 CREATE TABLE keyed (id int PRIMARY KEY, n int);
                 INSERT INTO history SELECT 'x' || i, i FROM generate_series(1, 100) i;
                 INSERT INTO keyed SELECT i, i FROM generate_series(1, 100) i;",
            )
            .await
            .unwrap();
        let store = CheckpointStore::temporary().unwrap();
        let cfg = config(&db, &["public.history", "public.keyed"]);
        run_into(PostgresSource::new(cfg.clone()), None, 4, &store).await;
        db.client
            .batch_execute(
                "INSERT INTO history SELECT 'y' || i, i FROM generate_series(1, 200) i;
                 INSERT INTO keyed SELECT i, i FROM generate_series(101, 300) i;
                 UPDATE history SET n = n + 1 WHERE n % 7 = 0;
                 DELETE FROM history WHERE n % 5 = 0;",
            )
            .await
            .unwrap();
        let applied = run_into(PostgresSource::new(cfg), None, 4, &store).await;
        let lanes_of = |name: &str| -> HashSet<usize> {
            applied
                .iter()
                .filter(|a| a.records.iter().any(|c| c.table.as_ref().is_some_and(|t| t.name == name) && c.op() != Op::SchemaChange))
                .map(|a| a.lane)
                .collect()
        };
        assert!(lanes_of("keyed").len() > 1, "the keyed table spreads over the lanes: {:?}", lanes_of("keyed"));
        assert_eq!(lanes_of("history").len(), 1, "every record of the keyless table in one lane: {:?}", lanes_of("history"));
        // And in source order within it.
        let seqs: Vec<u64> = applied
            .iter()
            .flat_map(|a| &a.records)
            .filter(|c| c.table.as_ref().is_some_and(|t| t.name == "history") && c.op() != Op::SchemaChange)
            .map(|c| c.seq)
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "applied in source order");
        assert!(of_table(&applied, "history").len() > 200);
    }

    /// Through `logferry run --once` with lanes = 4: a PostgreSQL target and
    /// a file target at once; the file's records of the table have no key.
    #[test]
    fn end_to_end_through_the_binary_into_a_database_and_a_file() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (source, target) = rt.block_on(async {
            let s = fresh_db("keyless_bin_src").await;
            s.client
                .batch_execute(
                    "CREATE TABLE history (tid int, delta int, mtime timestamp, filler char(22));
                     ALTER TABLE history REPLICA IDENTITY FULL;
                     INSERT INTO history SELECT i % 3, 7, '2024-01-01', NULL FROM generate_series(1, 30) i;",
                )
                .await
                .unwrap();
            (s, fresh_db("keyless_bin_dst").await)
        });
        let s = Scratch::new(&format!(
            r#"
state_dir = "state"
[[pipeline]]
name = "keyless"
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = ["public.history"]
slot = "{slot}"
publication = "{slot}"
heartbeat_interval = "500ms"
snapshot_chunk_rows = 7
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
        ));
        let all = "SELECT tid, delta, mtime, filler FROM history ORDER BY 1, 2, 3, 4";
        let out = s.run(&["run", "--once"]);
        assert!(out.status.success(), "copy run failed: {}", text(&out.stderr));
        rt.block_on(async { assert_eq!(rows(&target, all).await, rows(&source, all).await, "after the copy") });
        rt.block_on(source.client.batch_execute(
            "INSERT INTO history SELECT 1, 7, '2024-01-01', NULL FROM generate_series(1, 5);
             UPDATE history SET delta = 8 WHERE ctid IN (SELECT ctid FROM history WHERE tid = 1 LIMIT 4);
             DELETE FROM history WHERE ctid IN (SELECT ctid FROM history WHERE tid = 2 LIMIT 3);",
        ))
        .unwrap();
        let out = s.run(&["run", "--once"]);
        assert!(out.status.success(), "stream run failed: {}", text(&out.stderr));
        rt.block_on(async {
            let expected = rows(&source, all).await;
            assert_eq!(expected.len(), 32);
            assert_eq!(rows(&target, all).await, expected, "after inserts, updates and deletes of duplicate rows");
        });
        let lines = std::fs::read_to_string(s.path("out/changes.jsonl")).unwrap();
        let rows_of_table: Vec<&str> = lines.lines().filter(|l| l.contains("\"history\"") && !l.contains("\"schema_change\"")).collect();
        assert!(rows_of_table.len() >= 30 + 5 + 4 + 3, "{} lines", rows_of_table.len());
        assert!(rows_of_table.iter().all(|l| !l.contains("\"key\"")), "no key in the file's records: {}", rows_of_table[0]);
        let records = crate::support::binary::read_json_lines(&s.path("out/changes.jsonl"));
        let deletes: Vec<&Change> = records.iter().filter(|c| c.op() == Op::Delete).collect();
        assert_eq!(deletes.len(), 3);
        assert!(deletes.iter().all(|c| c.key_columns.is_empty() && c.before.as_ref().is_some_and(|r| r.columns.len() == 4)), "{deletes:#?}");
    }

    #[test]
    fn check_reports_a_keyless_table_without_full_identity_with_the_fix_that_works() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let db = rt.block_on(async {
            let db = fresh_db("keyless_check").await;
            db.client.batch_execute("CREATE TABLE history (note text, n int);").await.unwrap();
            db
        });
        let s = Scratch::new(&format!(
            r#"
state_dir = "state"
[[pipeline]]
name = "keyless"
[pipeline.source]
kind = "postgres"
url = "{url}"
tables = ["public.history"]
slot = "{slot}"
publication = "{slot}"
[[pipeline.target]]
kind = "file"
path = "out/changes.jsonl"
"#,
            url = db.url,
            slot = db.name,
        ));
        let out = s.run(&["check", "--json"]);
        assert_eq!(out.status.code(), Some(1), "{}\n{}", text(&out.stdout), text(&out.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let problems = doc["pipelines"][0]["readiness"]["problems"].as_array().cloned().unwrap_or_default();
        let found: Vec<&serde_json::Value> =
            problems.iter().filter(|p| p["problem"].as_str().unwrap_or("").contains("REPLICA IDENTITY FULL")).collect();
        assert_eq!(found.len(), 1, "{problems:#?}");
        let fix = found[0]["fix"].as_str().unwrap_or("");
        let statement = r#"ALTER TABLE "public"."history" REPLICA IDENTITY FULL;"#;
        assert!(fix.contains(statement), "{fix}");
        rt.block_on(db.client.batch_execute(statement)).unwrap();
        let out = s.run(&["check"]);
        assert!(out.status.success(), "check passes once the fix is applied: {}\n{}", text(&out.stdout), text(&out.stderr));
    }
}

// ---- MariaDB → MariaDB ----

mod mariadb {
    use super::*;
    use crate::support::mariadb::fresh_db;

    const ALL: &str = "SELECT note, n, f, g, at FROM history ORDER BY note, n, f, at";

    /// MariaDB rows as text joined by `|` (NULL as `∅`), like `TargetDb::rows`.
    async fn source_rows(db: &crate::support::mariadb::TestDb) -> Vec<String> {
        db.rows(ALL).await.into_iter().map(|r| r.into_iter().map(|c| c.unwrap_or_else(|| "∅".into())).collect::<Vec<_>>().join("|")).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn duplicate_rows_replicate_as_exact_multisets() {
        let source = fresh_db("keyless_whole_my").await;
        source
            .exec(
                "CREATE TABLE history (note VARCHAR(20), n INT, f DOUBLE, at DATETIME(6), g FLOAT);
                 INSERT INTO history VALUES ('a', NULL, 0.1, '2024-01-01 10:00', 0.1), ('a', NULL, 0.1, '2024-01-01 10:00', 0.1),
                   ('a', NULL, 0.1, '2024-01-01 10:00', 0.1), ('b', 2, 1e300, NULL, 3.3), ('b', 2, 1e300, NULL, 3.3),
                   ('d1', 1, 0.5, NULL, NULL), ('d2', 2, NULL, '2024-02-02 00:00:00.5', 1), ('d3', 3, -0.25, NULL, -7.7);",
            )
            .await;
        let target = TargetDb::fresh(Dialect::Mysql, "keyless_whole_mydst").await;
        let sink: Arc<dyn Sink> = Arc::from(target.sink(4).await);
        let store = CheckpointStore::temporary().unwrap();
        let cfg = crate::mysql_source::source_config(&source, &["history"]);
        let copied = run_into(MysqlSource::new(cfg.clone()), Some(sink.clone()), 4, &store).await;
        check_records(&of_table(&copied, "history"), 5);
        assert_eq!(target.rows(ALL).await, source_rows(&source).await, "after the copy");
        assert!(target.primary_key("public", "history").await.is_empty());

        source
            .exec(
                "INSERT INTO history VALUES ('c', 3, 0, NULL, 0.3), ('c', 3, 0, NULL, 0.3), ('c', 3, 0, NULL, 0.3);
                 DELETE FROM history WHERE note = 'c' LIMIT 1;
                 UPDATE history SET n = 9 WHERE note = 'b' LIMIT 1;
                 UPDATE history SET f = 0.2 WHERE note = 'a';
                 DELETE FROM history WHERE note = 'a' LIMIT 1;",
            )
            .await;
        let streamed = run_into(MysqlSource::new(cfg.clone()), Some(sink.clone()), 4, &store).await;
        let records = of_table(&streamed, "history");
        check_records(&records, 5);
        assert!(records.iter().any(|c| c.op() == Op::Update) && records.iter().any(|c| c.op() == Op::Delete), "{records:#?}");
        assert_eq!(target.rows("SELECT note, n FROM history WHERE note IN ('b', 'c') ORDER BY 1, 2").await, ["b|2", "b|9", "c|3", "c|3"]);
        assert_eq!(target.rows("SELECT count(*) FROM history WHERE note = 'a'").await, ["2"]);
        let expected = source_rows(&source).await;
        assert_eq!(target.rows(ALL).await, expected, "after inserts, updates and deletes of duplicate rows");

        // Copied again from the start (a new checkpoint, as after `reset`):
        // the TRUNCATE first, so nothing doubles.
        let store = CheckpointStore::temporary().unwrap();
        run_into(MysqlSource::new(cfg), Some(sink), 4, &store).await;
        assert_eq!(target.rows(ALL).await, expected, "a copy that starts again empties the target first");
    }
}

// ---- MongoDB target: refused ----

#[tokio::test]
async fn mongodb_target_refuses_a_keyless_table_naming_it() {
    use logferry::config::{MongodbTargetConfig, SecretUrl};
    let url = std::env::var("LOGFERRY_TEST_MONGO_URL")
        .unwrap_or_else(|_| panic!("LOGFERRY_TEST_MONGO_URL is not set: run the suite with scripts/test, which starts a MongoDB stand-in"));
    let database = format!("lf_keyless_{}", std::process::id());
    let cfg = MongodbTargetConfig { url: SecretUrl::new(url), database: Some(database), transaction: false };
    let s = logferry::sinks::mongodb::MongodbSink::connect(&cfg, 1).await.unwrap_or_else(|e| panic!("connect: {e}"));
    let err = apply(&s, vec![change(Op::Insert, "public", "history", &[], None, log_row("a", None, "{}"))]).await.unwrap_err();
    let msg = err.to_string();
    assert!(!err.is_transient(), "{msg}");
    assert!(msg.contains("history") && msg.contains("without a primary key") && msg.contains("[[pipeline.table]]"), "{msg}");
}
