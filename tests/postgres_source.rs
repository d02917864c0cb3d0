//! The postgres source against the real server: snapshot, stream, TOAST,
//! keys, truncates, preflight errors, slot safety, heartbeats, and the
//! logical type of every column in schema records.

use crate::support::pg::{connect, fresh_db, url_for, TestDb};
use crate::support::*;
use logferry::checkpoint::CheckpointStore;
use logferry::config::{DatabaseSourceConfig, PgOrigin, PgStreaming, PostgresSourceConfig, SecretUrl, SnapshotMode};
use logferry::record::{value::Kind, Change, Op};
use logferry::sinks::Sink;
use logferry::sources::postgres::PostgresSource;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Slots are cluster-wide, so each test names its slot after its database.
pub fn source_config(url: &str, slot: &str, tables: &[&str]) -> PostgresSourceConfig {
    PostgresSourceConfig {
        db: DatabaseSourceConfig {
            url: SecretUrl::new(url),
            tables: tables.iter().map(|s| s.to_string()).collect(),
            snapshot: SnapshotMode::Initial,
            row_keys: Vec::new(),
        },
        slot: slot.into(),
        publication: "logferry_test".into(),
        heartbeat_interval: Duration::from_millis(200),
        snapshot_chunk_rows: 3,
        snapshot_parallel: 2,
        origin: PgOrigin::Any,
        streaming: PgStreaming::Auto,
        // Streamed transactions of these tests stay far below the memory bound.
        spill_dir: std::env::temp_dir().join("logferry-test-spill").join(slot),
    }
}

/// Runs the source once (catch up, then stop) into a recording sink.
async fn run_once(cfg: &PostgresSourceConfig, store: &CheckpointStore) -> Result<Vec<Change>, String> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::new(RecordingSink::new(0, log.clone(), Faults::default()));
    run_pipeline("pg", fast_apply(4), PostgresSource::new(cfg.clone()), vec![sink as Arc<dyn Sink>], store, true, no_shutdown())
        .await
        .map_err(|e| logferry::ErrorChain(&e).to_string())?;
    let mut records: Vec<Change> = log.lock().unwrap().iter().flat_map(|a| a.records.clone()).collect();
    records.sort_by_key(|c| c.seq);
    Ok(records)
}

fn int(c: &Change, row_before: bool, col: &str) -> i64 {
    let row = if row_before { c.before.as_ref() } else { c.after.as_ref() };
    match row.and_then(|r| r.get(col)).and_then(|v| v.kind.clone()) {
        Some(Kind::Int64(i)) => i,
        other => panic!("{col}: expected int64, got {other:?} in {c:?}"),
    }
}

fn rows(records: &[Change]) -> Vec<&Change> {
    records.iter().filter(|c| !matches!(c.op(), Op::SchemaChange | Op::Heartbeat)).collect()
}

async fn db_with(sql: &str) -> TestDb {
    let db = fresh_db("pgsrc").await;
    db.client.batch_execute(sql).await.unwrap();
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_stream_in_order_without_gap_or_duplicate() {
    let db = db_with(
        "CREATE TABLE a (id int PRIMARY KEY, v int NOT NULL);
         CREATE TABLE b (k text, n int, v int, PRIMARY KEY (k, n));
         INSERT INTO a SELECT g, g * 10 FROM generate_series(1, 10) g;
         INSERT INTO b VALUES ('x', 1, 1), ('y', 2, 2);",
    )
    .await;
    let cfg = source_config(&db.url, &db.name, &["public.*"]);
    let store = CheckpointStore::temporary().unwrap();
    let first = run_once(&cfg, &store).await.unwrap();
    let snap: Vec<_> = rows(&first);
    assert_eq!(snap.len(), 12, "every row once: {snap:?}");
    assert!(snap.iter().all(|c| c.op() == Op::SnapshotRead));
    let schemas: Vec<_> = first.iter().filter(|c| c.op() == Op::SchemaChange).collect();
    assert_eq!(schemas.len(), 2);
    let b_schema = schemas.iter().find(|c| c.table.as_ref().unwrap().name == "b").unwrap();
    assert_eq!(b_schema.key_columns, ["k", "n"]);

    db.client
        .batch_execute(
            "BEGIN; INSERT INTO a VALUES (11, 110); UPDATE a SET v = -1 WHERE id = 1; COMMIT;
             DELETE FROM a WHERE id = 2;
             UPDATE b SET n = 3 WHERE k = 'x';
             TRUNCATE b;",
        )
        .await
        .unwrap();
    let second = run_once(&cfg, &store).await.unwrap();
    let changes = rows(&second);
    let ops: Vec<Op> = changes.iter().map(|c| c.op()).collect();
    assert_eq!(ops, [Op::Insert, Op::Update, Op::Delete, Op::Update, Op::Truncate], "{changes:#?}");
    assert_eq!(int(changes[0], false, "id"), 11);
    assert_eq!(int(changes[1], false, "v"), -1);
    assert!(!changes[0].tx_end && changes[1].tx_end, "the transaction's last record closes it");
    assert_eq!(int(changes[2], true, "id"), 2);
    // Key change: the old key comes along, the record is a barrier.
    assert!(changes[3].changes_key(), "{:?}", changes[3]);
    assert_eq!(int(changes[3], true, "n"), 1);
    assert_eq!(int(changes[3], false, "n"), 3);
    // Nothing from the snapshot came again.
    assert!(second.iter().all(|c| c.op() != Op::SnapshotRead));
    // A third run has nothing to do.
    let third = run_once(&cfg, &store).await.unwrap();
    assert!(rows(&third).is_empty(), "{third:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_toast_values_arrive_as_the_unchanged_marker() {
    let db = db_with(
        "CREATE TABLE docs (id int PRIMARY KEY, n int, body text);
         ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
         INSERT INTO docs VALUES (1, 0, repeat('0123456789', 5000));",
    )
    .await;
    let cfg = source_config(&db.url, &db.name, &["docs"]);
    let store = CheckpointStore::temporary().unwrap();
    let snap = run_once(&cfg, &store).await.unwrap();
    let body = rows(&snap)[0].after.as_ref().unwrap().get("body").unwrap().clone();
    assert_eq!(body, logferry::record::Value::text("0123456789".repeat(5000)));
    db.client.batch_execute("UPDATE docs SET n = 1 WHERE id = 1").await.unwrap();
    let upd = run_once(&cfg, &store).await.unwrap();
    let upd = rows(&upd);
    assert_eq!(upd.len(), 1);
    let after = upd[0].after.as_ref().unwrap();
    assert!(after.get("body").unwrap().is_unchanged(), "{after:?}");
    assert_eq!(int(upd[0], false, "n"), 1);
}

/// `origin = "none"` needs pgoutput's `origin` option (PostgreSQL 16+): on
/// an older server the preflight (a run's start, and `check`) names the
/// version; from 16 on it is accepted. The matrix of scripts/test runs this
/// on 15, 16 and 18, so each side of the claim is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_none_is_refused_before_postgres_16_naming_the_version_and_accepted_from_16() {
    let db = db_with("CREATE TABLE ok (id int PRIMARY KEY);").await;
    let version: i32 = db.client.query_one("SELECT current_setting('server_version_num')::int", &[]).await.unwrap().get(0);
    let mut cfg = source_config(&db.url, &db.name, &["public.ok"]);
    cfg.origin = PgOrigin::None;
    let source = "postgres:test";
    let result = logferry::sources::postgres::preflight(&db.client, &cfg, source).await;
    if version < 160_000 {
        let err = result.err().expect("origin = none must be refused before PostgreSQL 16").to_string();
        assert!(err.contains("origin = \"none\" needs PostgreSQL 16 or later") && err.contains(&format!("this server is {}.", version / 10_000)), "{err}");
    } else {
        let tables = result.expect("origin = none is accepted from PostgreSQL 16 on").tables;
        assert_eq!(tables.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_names_the_problem_and_the_fix() {
    let role = format!("lf_norepl_{}", std::process::id());
    let db = db_with(
        &"CREATE TABLE nokey (v int);
         CREATE TABLE ok (id int PRIMARY KEY);
         CREATE ROLE lf_norepl_role LOGIN PASSWORD 'pw';"
            .replace("lf_norepl_role", &role),
    )
    .await;
    let store = CheckpointStore::temporary().unwrap();
    let err = run_once(&source_config(&db.url, &db.name, &["public.nokey"]), &store).await.unwrap_err();
    assert!(err.contains("nokey") && err.contains("primary key"), "{err}");
    let err = run_once(&source_config(&db.url, &db.name, &["public.missing"]), &store).await.unwrap_err();
    assert!(err.contains("no table matches `public.missing`"), "{err}");
    let url = db.url.replacen("postgres:logferry-test@", &format!("{role}:pw@"), 1);
    let err = run_once(&source_config(&url, &db.name, &["ok"]), &store).await.unwrap_err();
    assert!(err.contains("WITH REPLICATION"), "{err}");
    assert!(!err.contains(":pw@"), "no password in errors: {err}");
    let _ = db.client.batch_execute(&format!("DROP ROLE IF EXISTS {role}")).await;
}

async fn slot_confirmed(db: &TestDb) -> u64 {
    let row = db
        .client
        .query_one("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", &[&db.name])
        .await
        .unwrap();
    logferry::sources::postgres::position::parse_lsn(&row.get::<_, String>(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_never_passes_the_checkpoint_and_heartbeats_move_it_on_idle() {
    let db = db_with("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);").await;
    let cfg = source_config(&db.url, &db.name, &["t"]);
    let dir = tempfile::tempdir().unwrap();
    let store = CheckpointStore::open(dir.path()).unwrap();
    run_once(&cfg, &store).await.unwrap();

    // Run continuously on an idle database while another database writes WAL.
    let other = fresh_db("pgsrc_noise").await;
    other.client.batch_execute("CREATE TABLE noise (v text)").await.unwrap();
    let (stop_tx, stop_rx) = watch::channel(false);
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::new(RecordingSink::new(0, log.clone(), Faults::default()));
    let task = tokio::spawn({
        let (cfg, store) = (cfg.clone(), store.clone());
        async move {
            run_pipeline("pg", fast_apply(2), PostgresSource::new(cfg), vec![sink as Arc<dyn Sink>], &store, false, stop_rx).await
        }
    });
    for _ in 0..15 {
        other.client.batch_execute("INSERT INTO noise SELECT repeat('x', 1000) FROM generate_series(1, 2000)").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let cp = store.load("pg").unwrap().unwrap();
        let cp_lsn = logferry::sources::postgres::position::PgPosition::from_position(&cp.position).unwrap().lsn;
        assert!(slot_confirmed(&db).await <= cp_lsn, "the slot confirmed more than is checkpointed");
    }
    // Our tables are idle; only heartbeats can carry the slot past the WAL
    // written by others until now. (Other tests write WAL concurrently, so
    // "caught up to a point" is what can be checked, not "lag near zero".)
    let mark: String = db.client.query_one("SELECT pg_current_wal_lsn()::text", &[]).await.unwrap().get(0);
    let mark = logferry::sources::postgres::position::parse_lsn(&mark).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while slot_confirmed(&db).await < mark && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let confirmed = slot_confirmed(&db).await;
    assert!(confirmed >= mark, "an idle slot stayed at {confirmed:X}, behind the WAL written before {mark:X}");
    stop_tx.send(true).unwrap();
    task.await.unwrap().unwrap();
    let cp = store.load("pg").unwrap().unwrap();
    let cp_lsn = logferry::sources::postgres::position::PgPosition::from_position(&cp.position).unwrap().lsn;
    assert!(slot_confirmed(&db).await <= cp_lsn);
}

/// Runs a slot function, retrying while the walsender of a run that just
/// ended still holds the slot (SQLSTATE 55006).
async fn retry_while_slot_active(db: &TestDb, sql: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match db.client.execute(sql, &[&db.name]).await {
            Ok(_) => return,
            Err(e) if e.as_db_error().is_some_and(|d| d.code().code() == "55006") && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{sql}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_past_the_checkpoint_stops_the_run_with_recovery_steps() {
    let db = db_with("CREATE TABLE t (id int PRIMARY KEY);").await;
    let cfg = source_config(&db.url, &db.name, &["t"]);
    let store = CheckpointStore::temporary().unwrap();
    run_once(&cfg, &store).await.unwrap();
    db.client.batch_execute("INSERT INTO t VALUES (1)").await.unwrap();
    // Someone else consumes the slot past our checkpoint.
    retry_while_slot_active(&db, "SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())").await;
    let err = run_once(&cfg, &store).await.unwrap_err();
    assert!(err.contains("discarded") && err.contains("logferry reset --pipeline pg"), "{err}");
    // And a missing slot, too.
    retry_while_slot_active(&db, "SELECT pg_drop_replication_slot($1)").await;
    let err = run_once(&cfg, &store).await.unwrap_err();
    assert!(err.contains("does not exist") && err.contains("logferry reset"), "{err}");
    let _ = (connect, url_for);
}

/// Regression: a copy that died before its first checkpoint left rows in the
/// target; the next attempt recreated the slot and never learned that some
/// of those rows were deleted meanwhile. Now the slot is reused and the
/// stream replays the deletes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_restarted_without_checkpoint_converges_with_deletes_in_between() {
    let db = db_with("CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL); INSERT INTO t SELECT g, g FROM generate_series(1, 10) g;").await;
    let cfg = source_config(&db.url, &db.name, &["t"]);
    let store = CheckpointStore::temporary().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::new(RecordingSink::new(0, log.clone(), Faults::default()));
    run_pipeline("pg", fast_apply(2), PostgresSource::new(cfg.clone()), vec![sink as Arc<dyn Sink>], &store, true, no_shutdown())
        .await
        .unwrap();
    // As if the first attempt had died before checkpointing: the target has
    // the rows, the state dir has nothing.
    store.reset("pg").unwrap();
    db.client.batch_execute("DELETE FROM t WHERE id IN (2, 7); UPDATE t SET v = -v WHERE id = 3;").await.unwrap();
    let sink = Arc::new(RecordingSink::new(1, log.clone(), Faults::default()));
    run_pipeline("pg", fast_apply(2), PostgresSource::new(cfg), vec![sink as Arc<dyn Sink>], &store, true, no_shutdown())
        .await
        .unwrap();
    let applied: Vec<Change> = log.lock().unwrap().iter().flat_map(|a| a.records.clone()).collect();
    let target = final_state(applied.iter());
    let expected: std::collections::BTreeMap<(String, i64), i64> = db
        .client
        .query("SELECT id, v FROM t", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (("t".to_string(), i64::from(r.get::<_, i32>(0))), i64::from(r.get::<_, i32>(1))))
        .collect();
    assert_eq!(target, expected);
}

/// A restart while the previous session still holds the slot (the server has
/// not yet noticed it is gone) waits for the slot instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_waits_for_a_slot_still_held_by_the_previous_session() {
    let db = db_with("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);").await;
    let cfg = source_config(&db.url, &db.name, &["t"]);
    let dir = tempfile::tempdir().unwrap();
    let store = CheckpointStore::open(dir.path()).unwrap();
    run_once(&cfg, &store).await.unwrap();
    // Session A holds the slot.
    let (stop_a, stop_rx) = watch::channel(false);
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::new(RecordingSink::new(0, log, Faults::default()));
    let a = tokio::spawn({
        let (cfg, store) = (cfg.clone(), store.clone());
        async move { run_pipeline("pg", fast_apply(2), PostgresSource::new(cfg), vec![sink as Arc<dyn Sink>], &store, false, stop_rx).await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let active: bool = db
            .client
            .query_one("SELECT active FROM pg_replication_slots WHERE slot_name = $1", &[&db.name])
            .await
            .unwrap()
            .get(0);
        if active || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.client.batch_execute("INSERT INTO t VALUES (2)").await.unwrap();
    // Session B starts while A still streams; A stops half a second later.
    let b = tokio::spawn({
        let (cfg, store) = (cfg.clone(), store.clone());
        async move { run_once(&cfg, &store).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop_a.send(true).unwrap();
    a.await.unwrap().unwrap();
    let records = b.await.unwrap().expect("the second session waits for the slot");
    assert!(records.iter().all(|c| c.op() != Op::SnapshotRead), "it resumed, it did not copy again");
}

/// The schema records of `records` for table `name`.
fn schemas_of<'a>(records: &'a [Change], name: &str) -> Vec<&'a logferry::record::TableSchema> {
    records
        .iter()
        .filter(|c| c.op() == Op::SchemaChange && c.table.as_ref().is_some_and(|t| t.name == name))
        .filter_map(|c| c.schema_change.as_ref()?.schema.as_ref())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logical_types_of_every_column_from_snapshot_and_stream() {
    use logferry::record::LogicalType as L;
    let db = db_with(
        r#"CREATE EXTENSION citext;
         CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
         ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok';
         CREATE SCHEMA "Odd";
         CREATE TYPE "Odd"."Kind" AS ENUM ('a b');
         CREATE DOMAIN short_code AS varchar(8);
         CREATE DOMAIN cents AS numeric(12,2);
         CREATE TABLE t (
           id int PRIMARY KEY, b bool, s smallint, big bigint, amount numeric(12,2), free numeric,
           r real, d double precision, tx text, vc varchar(20), ch char(3), nm name, ci citext,
           raw bytea, dt date, tm time(3), tmz timetz, ts timestamp(0), tstz timestamptz,
           iv interval, iv3 interval(3), u uuid, j json, jb jsonb, m mood, k "Odd"."Kind",
           ints int[], codes varchar(5)[], moods mood[], bt bit(8), vb varbit(16), ip inet, net cidr,
           code short_code, price cents, cash money, words tsvector, span int4range
         );
         INSERT INTO t (id) VALUES (1);"#,
    )
    .await;
    let labels = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mood = L::enumeration("public.mood", labels(&["sad", "meh", "ok", "happy"]));
    let want = [
        ("id", L::integer(4, false)),
        ("b", L::boolean()),
        ("s", L::integer(2, false)),
        ("big", L::integer(8, false)),
        ("amount", L::decimal(12, 2)),
        ("free", L::decimal(0, 0)),
        ("r", L::float(4)),
        ("d", L::float(8)),
        ("tx", L::text(0, false)),
        ("vc", L::text(20, false)),
        ("ch", L::text(3, true)),
        ("nm", L::text(63, false)),
        ("ci", L::text(0, false)),
        ("raw", L::binary(0, false)),
        ("dt", L::date()),
        ("tm", L::time(Some(3), false)),
        ("tmz", L::time(None, true)),
        ("ts", L::timestamp(Some(0), false)),
        ("tstz", L::timestamp(None, true)),
        ("iv", L::interval(None)),
        ("iv3", L::interval(Some(3))),
        ("u", L::uuid()),
        ("j", L::json()),
        ("jb", L::json()),
        ("m", mood.clone()),
        ("k", L::enumeration(r#""Odd"."Kind""#, labels(&["a b"]))),
        ("ints", L::array(L::integer(4, false))),
        ("codes", L::array(L::text(5, false))),
        ("moods", L::array(mood)),
        ("bt", L::bit(8, true)),
        ("vb", L::bit(16, false)),
        ("ip", L::inet()),
        ("net", L::inet()),
        ("code", L::text(8, false)),
        ("price", L::decimal(12, 2)),
        ("cash", L::other("money")),
        ("words", L::other("tsvector")),
        ("span", L::other("int4range")),
    ];
    let check = |schema: &logferry::record::TableSchema, path: &str| {
        let got: Vec<(&str, &L)> = schema.columns.iter().map(|c| (c.name.as_str(), c.logical.as_ref().expect("logical set"))).collect();
        let want: Vec<(&str, &L)> = want.iter().map(|(n, l)| (*n, l)).collect();
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{path}: column {}: got {}, want {}", w.0, g.1.describe(), w.1.describe());
        }
        assert_eq!(got.len(), want.len(), "{path}");
        assert!(schema.columns.iter().all(|c| c.type_dialect == "postgresql"), "{path}");
        let code = schema.columns.iter().find(|c| c.name == "code").unwrap();
        assert_eq!(code.source_type, "short_code", "a domain keeps its own name as the type text");
    };
    let cfg = source_config(&db.url, &db.name, &["t"]);
    let store = CheckpointStore::temporary().unwrap();
    let first = run_once(&cfg, &store).await.unwrap();
    let snapshot = schemas_of(&first, "t");
    assert_eq!(snapshot.len(), 1, "{first:#?}");
    check(snapshot[0], "snapshot (catalog)");

    // The stream's schema comes from the Relation message.
    db.client.batch_execute("INSERT INTO t (id) VALUES (2)").await.unwrap();
    let second = run_once(&cfg, &store).await.unwrap();
    let streamed = schemas_of(&second, "t");
    assert_eq!(streamed.len(), 1, "{second:#?}");
    check(streamed[0], "stream (relation)");
}

/// The key a resumed copy continues after is bound as a parameter, never
/// spliced into the SQL: a key holding a backslash and a quote (`a\'b`)
/// resumes at the next row even where `standard_conforming_strings` is off
/// (quote doubling alone would read that key as something else there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_resumes_after_a_key_with_backslash_and_quote_with_standard_conforming_strings_off()
{
    use logferry::sources::postgres::position::{PgPosition, SnapshotProgress};
    let db = db_with(r#"CREATE TABLE t (k text COLLATE "C" PRIMARY KEY, v int NOT NULL);"#).await;
    let keys = ["a", r"a\'b", r"a\'c", "b", r"b\"];
    for (i, k) in keys.iter().enumerate() {
        db.client
            .execute("INSERT INTO t VALUES ($1, $2)", &[k, &(i as i32)])
            .await
            .unwrap();
    }
    let cfg = source_config(&db.url, &db.name, &["t"]);
    let store = CheckpointStore::temporary().unwrap();
    run_once(&cfg, &store).await.unwrap();
    // As if a copy had died after its chunk ending at `a\'b` was checkpointed.
    let mut checkpoint = store
        .load("pg")
        .unwrap()
        .expect("a checkpoint after the first run");
    let mut pos = PgPosition::from_position(&checkpoint.position).unwrap();
    pos.snapshot = Some(SnapshotProgress {
        done: Vec::new(),
        partial: vec![("public.t".into(), vec![r"a\'b".into()])],
        ranges: Vec::new(),
    });
    checkpoint.position = pos.to_position();
    store.save("pg", &checkpoint).unwrap();
    db.client
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" SET standard_conforming_strings = off",
            db.name
        ))
        .await
        .unwrap();
    let fresh = connect(&db.url).await;
    let setting: String = fresh
        .query_one("SHOW standard_conforming_strings", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(setting, "off", "new sessions of the database have it off");

    let records = run_once(&cfg, &store)
        .await
        .unwrap_or_else(|e| panic!("the resumed copy failed: {e}"));
    let copied: Vec<String> = records
        .iter()
        .filter(|c| c.op() == Op::SnapshotRead)
        .map(|c| {
            match c
                .after
                .as_ref()
                .and_then(|r| r.get("k"))
                .and_then(|v| v.kind.clone())
            {
                Some(Kind::Text(s)) => s,
                other => panic!("k: expected text, got {other:?}"),
            }
        })
        .collect();
    assert_eq!(
        copied,
        [r"a\'c", "b", r"b\"],
        "the copy continues right after `a\\'b`, nothing before it again"
    );
}
