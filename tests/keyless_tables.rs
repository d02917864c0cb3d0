//! Tables without a primary key. Without a rule they are replicated by
//! whole rows (an empty key, the whole old row in `before`): the
//! PostgreSQL source (REPLICA IDENTITY FULL required, refused at start and
//! by `check` with the fix otherwise), the MariaDB source (full row
//! images), both SQL targets applying them as multisets (duplicate rows:
//! a delete removes one, an update replaces one), one lane per such table
//! with lanes > 1, a copy that starts again emptying the target first, and
//! PostgreSQL → PostgreSQL and MariaDB → MariaDB end to end with exact
//! multisets compared. With the `key` of a `[[pipeline.table]]` rule they
//! are identified by that key: the PostgreSQL source (REPLICA IDENTITY FULL
//! required; snapshot and stream carry the configured key, deletes the
//! whole old row), its refusals, the MariaDB source (rule keys that repeat
//! and hold NULLs across snapshot chunks), and PostgreSQL → PostgreSQL
//! through the binary with the rule in the config file.

use crate::support::binary::{text, Scratch};
use crate::support::*;
use logferry::checkpoint::CheckpointStore;
use logferry::record::{Change, Op, Row, Value};
use logferry::sinks::Sink;
use logferry::sources::mysql::MysqlSource;
use logferry::sources::postgres::PostgresSource;
use std::sync::{Arc, Mutex};

mod whole_rows;

/// The configured key, in rule order (not the table's column order).
const KEY: [&str; 2] = ["customer_no", "at"];

fn row_key(rule: &str, key: &[&str]) -> Vec<(String, Vec<String>)> {
    vec![(rule.to_string(), key.iter().map(|k| k.to_string()).collect())]
}

/// Runs a source once (catch up, then stop) into a recording sink.
async fn run_once(source: impl logferry::sources::Source + 'static, store: &CheckpointStore) -> Result<Vec<Change>, String> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::new(RecordingSink::new(0, log.clone(), Faults::default()));
    run_pipeline("keyless", fast_apply(4), source, vec![sink as Arc<dyn Sink>], store, true, no_shutdown())
        .await
        .map_err(|e| logferry::ErrorChain(&e).to_string())?;
    let mut records: Vec<Change> = log.lock().unwrap().iter().flat_map(|a| a.records.clone()).collect();
    records.sort_by_key(|c| c.seq);
    Ok(records)
}

fn data(records: &[Change]) -> Vec<&Change> {
    records.iter().filter(|c| !matches!(c.op(), Op::SchemaChange | Op::Heartbeat)).collect()
}

fn names(row: Option<&Row>) -> Vec<&str> {
    row.map(|r| r.columns.iter().map(|c| c.name.as_str()).collect()).unwrap_or_default()
}

fn val<'a>(row: Option<&'a Row>, col: &str) -> &'a Value {
    row.and_then(|r| r.get(col)).unwrap_or_else(|| panic!("no `{col}` in {row:?}"))
}

/// Checks the streamed INSERT, UPDATE (non-key), UPDATE (key), DELETE of
/// one row (customer 9) and returns nothing: every record carries the
/// configured key, the updates and the delete the whole old row.
fn check_stream(changes: &[&Change], all_columns: &[&str]) {
    let ops: Vec<Op> = changes.iter().map(|c| c.op()).collect();
    assert_eq!(ops, [Op::Insert, Op::Update, Op::Update, Op::Delete], "{changes:#?}");
    for c in changes {
        assert_eq!(c.key_columns, KEY, "{c:?}");
    }
    let (ins, upd, rekey, del) = (changes[0], changes[1], changes[2], changes[3]);
    assert_eq!(names(ins.after.as_ref()), all_columns);
    // A non-key update: the whole old row, the key unchanged.
    assert_eq!(names(upd.before.as_ref()), all_columns, "{upd:?}");
    assert!(!upd.changes_key(), "{upd:?}");
    assert_eq!(upd.key_values(), ins.key_values());
    assert_ne!(val(upd.before.as_ref(), "amount"), val(upd.after.as_ref(), "amount"));
    // A key update: old key from the old row, a barrier.
    assert_eq!(names(rekey.before.as_ref()), all_columns, "{rekey:?}");
    assert!(rekey.changes_key(), "{rekey:?}");
    assert_eq!(rekey.old_key_values(), ins.key_values());
    // The delete: the whole old row, and its key read from it.
    assert_eq!(names(del.before.as_ref()), all_columns, "{del:?}");
    assert!(del.after.is_none());
    assert_eq!(del.key_values(), rekey.key_values());
    assert_eq!(val(del.before.as_ref(), "note"), val(rekey.after.as_ref(), "note"));
    assert_eq!(val(del.before.as_ref(), "amount"), val(rekey.after.as_ref(), "amount"));
}

mod pg {
    use super::*;
    use crate::support::pg::{fresh_db, TestDb};
    use logferry::config::PostgresSourceConfig;

    /// Columns in table order; the key (customer_no, at) is in another order.
    const HISTORY: &str = "CREATE TABLE history (note text, at timestamp NOT NULL, customer_no int NOT NULL, amount numeric(10,2));";

    fn config(db: &TestDb, rule: &str, key: &[&str]) -> PostgresSourceConfig {
        let mut cfg = crate::postgres_source::source_config(&db.url, &db.name, &["public.history"]);
        cfg.db.row_keys = row_key(rule, key);
        cfg
    }

    async fn db_with(sql: &str) -> TestDb {
        let db = fresh_db("keyless").await;
        db.client.batch_execute(sql).await.unwrap();
        db
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keyless_table_with_full_identity_replicates_by_the_rule_key() {
        let db = db_with(&format!(
            "{HISTORY}
             ALTER TABLE history REPLICA IDENTITY FULL;
             INSERT INTO history VALUES ('a', '2024-01-01 10:00', 1, 10), ('b', '2024-01-01 11:00', 1, 20),
               ('c', '2024-01-02 10:00', 2, NULL), (NULL, '2024-01-01 10:00', 3, 5), ('e', '2024-01-05 00:00', 4, 1);"
        ))
        .await;
        // A match without a schema means `public`.
        let cfg = config(&db, "history", &KEY);
        let store = CheckpointStore::temporary().unwrap();
        let first = run_once(PostgresSource::new(cfg.clone()), &store).await.unwrap();
        let schema = first.iter().find(|c| c.op() == Op::SchemaChange).expect("a schema record");
        assert_eq!(schema.key_columns, KEY);
        let snap = data(&first);
        assert_eq!(snap.len(), 5, "every row once (chunks of 3): {snap:#?}");
        for c in &snap {
            assert_eq!(c.op(), Op::SnapshotRead);
            assert_eq!(c.key_columns, KEY);
            assert_eq!(c.key_values().len(), 2, "{c:?}");
        }

        db.client
            .batch_execute(
                "INSERT INTO history VALUES ('new', '2024-02-01 09:00', 9, 1.50);
                 UPDATE history SET amount = 2.50 WHERE customer_no = 9;
                 UPDATE history SET at = '2024-02-02 09:00' WHERE customer_no = 9;
                 DELETE FROM history WHERE customer_no = 9;",
            )
            .await
            .unwrap();
        let second = run_once(PostgresSource::new(cfg.clone()), &store).await.unwrap();
        for s in second.iter().filter(|c| c.op() == Op::SchemaChange) {
            assert_eq!(s.key_columns, KEY, "the stream's schema record keeps the rule key: {s:?}");
        }
        let changes = data(&second);
        check_stream(&changes, &["note", "at", "customer_no", "amount"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keyless_table_without_full_identity_is_refused_with_the_fix() {
        let db = db_with(HISTORY).await;
        let store = CheckpointStore::temporary().unwrap();
        let err = run_once(PostgresSource::new(config(&db, "public.history", &KEY)), &store).await.unwrap_err();
        assert!(err.contains("REPLICA IDENTITY FULL") && err.contains("history"), "{err}");
        assert!(err.contains(r#"ALTER TABLE "public"."history" REPLICA IDENTITY FULL;"#), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keyless_table_without_full_identity_or_a_rule_is_refused_with_the_fix() {
        for identity in ["DEFAULT", "NOTHING"] {
            let db = db_with(&format!("{HISTORY} ALTER TABLE history REPLICA IDENTITY {identity};")).await;
            let store = CheckpointStore::temporary().unwrap();
            // A rule for another table does not count.
            let err = run_once(PostgresSource::new(config(&db, "public.other", &KEY)), &store).await.unwrap_err();
            assert!(err.contains("without a primary key") && err.contains("REPLICA IDENTITY FULL"), "{identity}: {err}");
            assert!(err.contains(r#"run: ALTER TABLE "public"."history" REPLICA IDENTITY FULL;"#), "{identity}: {err}");
            assert!(err.contains("[[pipeline.table]]") && err.contains(r#"match = "public.history""#), "{identity}: {err}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rule_key_naming_a_missing_column_is_refused() {
        let db = db_with(&format!("{HISTORY} ALTER TABLE history REPLICA IDENTITY FULL;")).await;
        let store = CheckpointStore::temporary().unwrap();
        let err = run_once(PostgresSource::new(config(&db, "public.h*", &["customer_no", "nope"])), &store).await.unwrap_err();
        assert!(err.contains("`nope`") && err.contains("public.history"), "{err}");
        assert!(err.contains("`customer_no`, `amount`"), "the table's columns are listed: {err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_primary_key_wins_over_a_rule_key() {
        let db = db_with("CREATE TABLE history (id int PRIMARY KEY, customer_no int, at timestamp); INSERT INTO history VALUES (1, 1, now());").await;
        let store = CheckpointStore::temporary().unwrap();
        let records = run_once(PostgresSource::new(config(&db, "public.history", &KEY)), &store).await.unwrap();
        let snap = data(&records);
        assert_eq!(snap.len(), 1);
        assert_eq!(snap[0].key_columns, ["id"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_primary_key_table_with_full_identity_streams_by_its_primary_key() {
        // REPLICA IDENTITY FULL marks every column as key in the Relation
        // message; the records' key must stay the primary key (filters
        // recommend FULL, and a target would otherwise see a new key).
        let db = db_with("CREATE TABLE history (id int PRIMARY KEY, customer_no int, at timestamp); ALTER TABLE history REPLICA IDENTITY FULL;").await;
        let store = CheckpointStore::temporary().unwrap();
        run_once(PostgresSource::new(config(&db, "public.other", &KEY)), &store).await.unwrap();
        db.client
            .batch_execute("INSERT INTO history VALUES (1, 1, now()); UPDATE history SET customer_no = 2; DELETE FROM history;")
            .await
            .unwrap();
        let records = run_once(PostgresSource::new(config(&db, "public.other", &KEY)), &store).await.unwrap();
        let schema = records.iter().find(|c| c.op() == Op::SchemaChange).expect("the stream's schema record");
        assert_eq!(schema.key_columns, ["id"]);
        let changes = data(&records);
        assert_eq!(changes.iter().map(|c| c.op()).collect::<Vec<_>>(), [Op::Insert, Op::Update, Op::Delete]);
        for c in &changes {
            assert_eq!(c.key_columns, ["id"], "{c:?}");
        }
        assert!(!changes[1].changes_key(), "an update of another column does not change the key");
        assert_eq!(names(changes[2].before.as_ref()), ["id", "customer_no", "at"], "the delete carries the whole old row");
    }
}

mod mariadb {
    use super::*;
    use crate::support::mariadb::{fresh_db, TestDb};
    use logferry::config::MysqlSourceConfig;

    const HISTORY: &str =
        "CREATE TABLE history (note VARCHAR(20), at DATETIME(6), customer_no INT, amount DECIMAL(10,2))";

    fn config(db: &TestDb, key: &[&str]) -> MysqlSourceConfig {
        let mut cfg = crate::mysql_source::source_config(db, &["history"]);
        cfg.db.row_keys = row_key(&format!("{}.hist*", db.name), key);
        cfg
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keyless_table_replicates_by_the_rule_key() {
        let db = fresh_db("keyless_my").await;
        // Keys that repeat and hold NULLs, in chunks of 3 rows: the first
        // chunk ends inside the run of (1, 10:00), the second at (3, NULL).
        db.exec(&format!(
            "{HISTORY};
             INSERT INTO history VALUES
               ('n1', NULL, NULL, 1), ('n2', '2024-01-01 10:00', NULL, 3),
               ('a', '2024-01-01 10:00', 1, 10), ('a2', '2024-01-01 10:00', 1, 11), ('a3', '2024-01-01 10:00', 1, 12),
               ('b', '2024-01-01 11:00', 1, 20), ('c', '2024-01-02 10:00', 2, NULL), ('d', NULL, 3, 5),
               ('e', '2024-01-01 10:00', 3, 6);"
        ))
        .await;
        let cfg = config(&db, &KEY);
        let store = CheckpointStore::temporary().unwrap();
        let first = run_once(MysqlSource::new(cfg.clone()), &store).await.unwrap();
        let schema = first.iter().find(|c| c.op() == Op::SchemaChange).expect("a schema record");
        assert_eq!(schema.key_columns, KEY);
        let snap = data(&first);
        let mut notes: Vec<String> =
            snap.iter().map(|c| format!("{:?}", val(c.after.as_ref(), "note").kind)).collect();
        notes.sort();
        notes.dedup();
        assert_eq!((snap.len(), notes.len()), (9, 9), "every row exactly once: {snap:#?}");
        for c in &snap {
            assert_eq!((c.op(), c.key_columns.as_slice()), (Op::SnapshotRead, &KEY.map(String::from)[..]));
        }

        // DDL reloads the table: it keeps the rule key.
        db.exec(
            "ALTER TABLE history ADD COLUMN extra INT;
             INSERT INTO history VALUES ('new', '2024-02-01 09:00', 9, 1.50, NULL);
             UPDATE history SET amount = 2.50 WHERE customer_no = 9;
             UPDATE history SET at = '2024-02-02 09:00' WHERE customer_no = 9;
             DELETE FROM history WHERE customer_no = 9;",
        )
        .await;
        let second = run_once(MysqlSource::new(cfg.clone()), &store).await.unwrap();
        let schemas: Vec<&Change> = second.iter().filter(|c| c.op() == Op::SchemaChange).collect();
        assert!(!schemas.is_empty() && schemas.iter().all(|c| c.key_columns == KEY), "{schemas:#?}");
        check_stream(&data(&second), &["note", "at", "customer_no", "amount", "extra"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rule_key_naming_a_missing_column_is_refused() {
        let db = fresh_db("keyless_my").await;
        db.exec(&format!("{HISTORY};")).await;
        let store = CheckpointStore::temporary().unwrap();
        let err = run_once(MysqlSource::new(config(&db, &["customer_no", "nope"])), &store).await.unwrap_err();
        assert!(err.contains("`nope`") && err.contains("history"), "{err}");
    }
}

/// PostgreSQL → PostgreSQL through `logferry run --once`, with the rule
/// written in the config file.
#[test]
fn keyless_table_end_to_end_through_the_binary() {
    use crate::support::pg::{fresh_db, rows};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = fresh_db("keyless_e2e_src").await;
        s.client
            .batch_execute(
                "CREATE TABLE history (customer_no int NOT NULL, at timestamp NOT NULL, amount numeric(10,2), note text);
                 ALTER TABLE history REPLICA IDENTITY FULL;
                 INSERT INTO history VALUES (1, '2024-01-01 10:00', 10, 'a'), (1, '2024-01-01 11:00', 20, NULL),
                   (2, '2024-01-02 10:00', NULL, 'c'), (3, '2024-01-03 10:00', 5, 'd');",
            )
            .await
            .unwrap();
        (s, fresh_db("keyless_e2e_dst").await)
    });
    let config = format!(
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
[[pipeline.target]]
kind = "postgres"
url = "{dst}"
[pipeline.apply]
lanes = 4
batch_max_wait = "5ms"
checkpoint_interval = "50ms"

[[pipeline.table]]
match = "public.history"
key = ["customer_no", "at"]
"#,
        src = source.url,
        dst = target.url,
        slot = source.name,
    );
    let s = Scratch::new(&config);
    let all = "SELECT customer_no, at, amount, note FROM history ORDER BY customer_no, at";
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "snapshot run failed: {}", text(&out.stderr));
    rt.block_on(async {
        assert_eq!(rows(&target, all).await, rows(&source, all).await, "after the snapshot");
        source
            .client
            .batch_execute(
                "INSERT INTO history VALUES (4, '2024-01-04 10:00', 7, 'e'), (4, '2024-01-04 11:00', 8, 'f');
                 UPDATE history SET amount = 99, note = 'changed' WHERE customer_no = 1 AND at = '2024-01-01 11:00';
                 UPDATE history SET at = '2024-01-09 10:00' WHERE customer_no = 3;
                 DELETE FROM history WHERE customer_no = 2;",
            )
            .await
            .unwrap();
    });
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "stream run failed: {}", text(&out.stderr));
    rt.block_on(async {
        let expected = rows(&source, all).await;
        assert_eq!(expected.len(), 5);
        assert_eq!(rows(&target, all).await, expected, "after inserts, updates and a delete");
    });
}
