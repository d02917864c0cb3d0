//! The mysql source against the real MariaDB: snapshot then binlog without
//! gap or duplicate, GTID restarts, rotation, multi-table transactions, key
//! changes, DDL, preflight errors, a purged position, and the logical type
//! of every column in schema records.

use crate::support::mariadb::{fresh_db, TestDb};
use crate::support::*;
use logferry::checkpoint::{Checkpoint, CheckpointStore};
use logferry::config::{DatabaseSourceConfig, MysqlFlavor, MysqlSourceConfig, SecretUrl, SnapshotMode};
use logferry::record::{value::Kind, Change, Op};
use logferry::sinks::Sink;
use logferry::sources::mysql::{MyPosition, MysqlSource};
use std::sync::atomic::{AtomicU32, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Each test reads the binlog with a server id of its own.
static SERVER_ID: AtomicU32 = AtomicU32::new(0);

pub fn source_config(db: &TestDb, tables: &[&str]) -> MysqlSourceConfig {
    MysqlSourceConfig {
        db: DatabaseSourceConfig {
            url: SecretUrl::new(&db.url),
            tables: tables.iter().map(|t| format!("{}.{t}", db.name)).collect(),
            snapshot: SnapshotMode::Initial,
            row_keys: Vec::new(),
        },
        flavor: MysqlFlavor::Auto,
        server_id: 1000 + std::process::id() % 100_000 * 10 + SERVER_ID.fetch_add(1, AtomicOrdering::SeqCst),
        heartbeat_interval: Duration::from_millis(500),
        snapshot_chunk_rows: 3,
    }
}

async fn run_once(cfg: &MysqlSourceConfig, store: &CheckpointStore) -> Result<Vec<Change>, String> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::new(RecordingSink::new(0, log.clone(), Faults::default()));
    run_pipeline("my", fast_apply(4), MysqlSource::new(cfg.clone()), vec![sink as Arc<dyn Sink>], store, true, no_shutdown())
        .await
        .map_err(|e| logferry::ErrorChain(&e).to_string())?;
    let mut records: Vec<Change> = log.lock().unwrap().iter().flat_map(|a| a.records.clone()).collect();
    records.sort_by_key(|c| c.seq);
    Ok(records)
}

fn rows(records: &[Change]) -> Vec<&Change> {
    records.iter().filter(|c| !matches!(c.op(), Op::SchemaChange | Op::Heartbeat)).collect()
}

fn int(c: &Change, before: bool, col: &str) -> i64 {
    let row = if before { c.before.as_ref() } else { c.after.as_ref() };
    match row.and_then(|r| r.get(col)).and_then(|v| v.kind.clone()) {
        Some(Kind::Int64(i)) => i,
        other => panic!("{col}: expected int64, got {other:?} in {c:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_binlog_in_order_across_rotation_and_restarts() {
    let db = fresh_db("mysrc").await;
    db.exec(
        "CREATE TABLE a (id INT PRIMARY KEY, v INT NOT NULL);
         CREATE TABLE b (k VARCHAR(10), n INT, v INT, PRIMARY KEY (k, n));
         CREATE TABLE other (id INT PRIMARY KEY);
         INSERT INTO a VALUES (1,10),(2,20),(3,30),(4,40),(5,50),(6,60),(7,70);
         INSERT INTO b VALUES ('x',1,1),('y',2,2);",
    )
    .await;
    let cfg = source_config(&db, &["a", "b"]);
    let store = CheckpointStore::temporary().unwrap();
    let first = run_once(&cfg, &store).await.unwrap();
    let snap = rows(&first);
    assert_eq!(snap.len(), 9, "{snap:#?}");
    assert!(snap.iter().all(|c| c.op() == Op::SnapshotRead));
    let b_schema = first.iter().find(|c| c.op() == Op::SchemaChange && c.table.as_ref().unwrap().name == "b").unwrap();
    assert_eq!(b_schema.key_columns, ["k", "n"]);

    db.exec(
        "START TRANSACTION; INSERT INTO a VALUES (8, 80); UPDATE b SET v = 9 WHERE k = 'x'; INSERT INTO other VALUES (1); COMMIT;
         FLUSH BINARY LOGS;
         DELETE FROM a WHERE id = 2;
         UPDATE b SET n = 3 WHERE k = 'y';
         INSERT INTO other VALUES (2);
         TRUNCATE TABLE a;",
    )
    .await;
    let second = run_once(&cfg, &store).await.unwrap();
    let changes = rows(&second);
    let ops: Vec<Op> = changes.iter().map(|c| c.op()).collect();
    assert_eq!(ops, [Op::Insert, Op::Update, Op::Delete, Op::Update, Op::Truncate], "{changes:#?}");
    assert_eq!(int(changes[0], false, "id"), 8);
    assert!(!changes[0].tx_end && changes[1].tx_end, "the multi-table transaction ends at its last record");
    assert_eq!(changes[0].tx_id, changes[1].tx_id);
    assert_eq!(int(changes[2], true, "id"), 2);
    assert!(changes[3].changes_key(), "{:?}", changes[3]);
    assert!(second.iter().all(|c| c.op() != Op::SnapshotRead), "nothing of the snapshot again");
    // The checkpoint carries a GTID (MariaDB) and the position after the rotation.
    let cp = store.load("my").unwrap().unwrap();
    let pos = MyPosition::from_position(&cp.position).unwrap();
    assert!(pos.gtid.is_some(), "{pos:?}");
    let third = run_once(&cfg, &store).await.unwrap();
    assert!(rows(&third).is_empty(), "{third:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_names_every_problem() {
    let db = fresh_db("mysrc_pre").await;
    db.exec("CREATE TABLE nokey (v INT); CREATE TABLE ok (id INT PRIMARY KEY);").await;
    let store = CheckpointStore::temporary().unwrap();
    // A table without a primary key is replicated by whole rows; a rule
    // key naming a column it lacks is a problem.
    let mut cfg = source_config(&db, &["nokey", "missing", "ok"]);
    cfg.db.row_keys = vec![(format!("{}.nokey", db.name), vec!["nope".to_string()])];
    let err = run_once(&cfg, &store).await.unwrap_err();
    assert!(err.contains("nokey") && err.contains("`nope`"), "{err}");
    assert!(err.contains(&format!("no table matches `{}.missing`", db.name)), "{err}");
    assert!(!err.contains("logferry-test"), "no password in errors: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purged_binlog_position_stops_with_the_recovery_steps() {
    let db = fresh_db("mysrc_purged").await;
    db.exec("CREATE TABLE t (id INT PRIMARY KEY)").await;
    let cfg = source_config(&db, &["t"]);
    let store = CheckpointStore::temporary().unwrap();
    // A checkpoint in a binlog file the server does not have (any more).
    let gone = MyPosition { file: "mariadb-bin.000000".into(), pos: 4, ..Default::default() };
    store.save("my", &Checkpoint { seq: 5, position: gone.to_position(), updated_at: std::time::SystemTime::now(), epoch: 0, ordinal: 0 }).unwrap();
    let err = run_once(&cfg, &store).await.unwrap_err();
    assert!(err.contains("no longer has the binlog position") && err.contains("logferry reset"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_columns_become_schema_records_and_drops_stop_the_run() {
    let db = fresh_db("mysrc_ddl").await;
    db.exec("CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(5)); INSERT INTO t VALUES (1, 'x'); CREATE TABLE u (id INT PRIMARY KEY);").await;
    // A glob, so the run still starts after `t` is dropped and meets the DROP in the binlog.
    let cfg = source_config(&db, &["*"]);
    let store = CheckpointStore::temporary().unwrap();
    run_once(&cfg, &store).await.unwrap();
    db.exec("ALTER TABLE t ADD COLUMN price DECIMAL(8,2); INSERT INTO t VALUES (2, 'y', 9.99);").await;
    let recs = run_once(&cfg, &store).await.unwrap();
    let schema = recs
        .iter()
        .find(|c| c.op() == Op::SchemaChange && c.table.as_ref().unwrap().name == "t")
        .expect("a schema record for the new column");
    let cols: Vec<_> = schema.schema_change.as_ref().unwrap().schema.as_ref().unwrap().columns.iter().map(|c| c.name.clone()).collect();
    assert_eq!(cols, ["id", "a", "price"]);
    let ins = rows(&recs);
    assert_eq!(ins.len(), 1);
    assert_eq!(
        ins[0].after.as_ref().unwrap().get("price").and_then(|v| v.kind.clone()),
        Some(Kind::Decimal("9.99".into()))
    );
    db.exec("DROP TABLE t").await;
    let err = run_once(&cfg, &store).await.unwrap_err();
    assert!(err.contains("DROP TABLE") && err.contains(&format!("{}.t", db.name)), "{err}");
}

/// A sink that notes whether any row reached it while the pipeline had no
/// durable checkpoint yet.
struct CheckpointProbe {
    store: CheckpointStore,
    rows_before_checkpoint: std::sync::atomic::AtomicU64,
    rows_applied: std::sync::atomic::AtomicU64,
}

impl Sink for CheckpointProbe {
    fn name(&self) -> &str {
        "probe"
    }
    fn apply<'a>(&'a self, batch: &'a logferry::sinks::Batch) -> logferry::BoxFuture<'a, Result<(), logferry::sinks::SinkError>> {
        Box::pin(async move {
            let rows = batch.records.iter().filter(|c| !matches!(c.op(), Op::SchemaChange | Op::Heartbeat)).count() as u64;
            if rows > 0 && self.store.load("my").unwrap().is_none() {
                self.rows_before_checkpoint.fetch_add(rows, AtomicOrdering::SeqCst);
            }
            self.rows_applied.fetch_add(rows, AtomicOrdering::SeqCst);
            Ok(())
        })
    }
}

/// Regression: a binlog position exists only in our checkpoint. A copy (or
/// a `snapshot = "never"` start) that let rows reach a target before its
/// starting position was durable lost the changes made in between when it
/// was killed (found by the SIGKILL test: 9 extra rows in the target).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_row_reaches_a_target_before_the_start_position_is_durable() {
    for mode in [SnapshotMode::Initial, SnapshotMode::Never] {
        let db = fresh_db("mysrc_durable_start").await;
        db.exec("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t SELECT seq FROM seq_1_to_50;").await;
        let mut cfg = source_config(&db, &["t"]);
        cfg.db.snapshot = mode;
        let store = CheckpointStore::temporary().unwrap();
        let probe = Arc::new(CheckpointProbe { store: store.clone(), rows_before_checkpoint: Default::default(), rows_applied: Default::default() });
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut apply = fast_apply(2);
        apply.checkpoint_interval = Duration::from_millis(300);
        let task = tokio::spawn({
            let (store, probe) = (store.clone(), probe.clone());
            async move { run_pipeline("my", apply, MysqlSource::new(cfg), vec![probe as Arc<dyn Sink>], &store, false, stop_rx).await }
        });
        // The start position is durable before anything else happens, so
        // rows inserted once a checkpoint exists are streamed.
        wait_until("a first checkpoint", Duration::from_secs(30), || async { store.load("my").unwrap().is_some() }).await;
        db.exec("INSERT INTO t SELECT seq FROM seq_100_to_150;").await;
        let expected = if mode == SnapshotMode::Initial { 50 + 51 } else { 51 };
        wait_until("every row applied", Duration::from_secs(30), || async {
            probe.rows_applied.load(AtomicOrdering::SeqCst) >= expected
        })
        .await;
        stop_tx.send(true).unwrap();
        task.await.unwrap().unwrap();
        assert!(store.load("my").unwrap().is_some());
        assert_eq!(probe.rows_before_checkpoint.load(AtomicOrdering::SeqCst), 0, "{mode:?}: rows were applied before any checkpoint");
    }
}

/// The Oracle MySQL code path (copy under a brief global read lock, file and
/// offset positions, no MariaDB session variables), exercised against
/// MariaDB, which speaks the same protocol when asked as MySQL: Debian has
/// no MySQL server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mysql_flavor_path_copies_under_a_brief_lock_and_resumes_by_file_and_offset() {
    let db = fresh_db("mysrc_myflavor").await;
    db.exec("CREATE TABLE a (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO a VALUES (1,1),(2,2),(3,3),(4,4);").await;
    let mut cfg = source_config(&db, &["a"]);
    cfg.flavor = MysqlFlavor::Mysql;
    let store = CheckpointStore::temporary().unwrap();
    let first = run_once(&cfg, &store).await.unwrap();
    assert_eq!(rows(&first).len(), 4);
    db.exec("INSERT INTO a VALUES (5,5); UPDATE a SET v = 9 WHERE id = 1; FLUSH BINARY LOGS; DELETE FROM a WHERE id = 2;").await;
    let second = run_once(&cfg, &store).await.unwrap();
    let ops: Vec<Op> = rows(&second).iter().map(|c| c.op()).collect();
    assert_eq!(ops, [Op::Insert, Op::Update, Op::Delete], "{second:#?}");
    let pos = MyPosition::from_position(&store.load("my").unwrap().unwrap().position).unwrap();
    assert!(pos.gtid.is_none(), "no MySQL GTID set on a MariaDB server: {pos:?}");
    assert!(rows(&run_once(&cfg, &store).await.unwrap()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logical_types_of_every_column_from_information_schema() {
    use logferry::record::LogicalType as L;
    let db = fresh_db("mysrc_types").await;
    db.exec(
        "CREATE TABLE t (
           id INT PRIMARY KEY, flag TINYINT(1), tiny TINYINT, small SMALLINT UNSIGNED, medium MEDIUMINT,
           big BIGINT UNSIGNED, amount DECIMAL(12,2), f FLOAT, d DOUBLE, ch CHAR(3), vc VARCHAR(20),
           tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT, bin BINARY(16), vb VARBINARY(20), bl BLOB,
           lb LONGBLOB, dt DATE, dtm DATETIME, dtm6 DATETIME(6), ts TIMESTAMP(3) NULL, tm TIME, tm2 TIME(2),
           yr YEAR, e ENUM('small','it''s','x,y'), s SET('r','w','x'), j JSON, bits BIT(12), g GEOMETRY,
           p POINT, u UUID, ip4 INET4, ip6 INET6
         )",
    )
    .await;
    db.exec("INSERT INTO t (id) VALUES (1)").await;
    let labels = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let want = [
        ("id", L::integer(4, false)),
        ("flag", L::boolean_like(false)),
        ("tiny", L::integer(1, false)),
        ("small", L::integer(2, true)),
        ("medium", L::integer(3, false)),
        ("big", L::integer(8, true)),
        ("amount", L::decimal(12, 2)),
        ("f", L::float(4)),
        ("d", L::float(8)),
        ("ch", L::text(3, true)),
        ("vc", L::text(20, false)),
        ("tt", L::text(255, false)),
        ("tx", L::text(65_535, false)),
        ("mt", L::text(16_777_215, false)),
        ("lt", L::text(0, false)),
        ("bin", L::binary(16, true)),
        ("vb", L::binary(20, false)),
        ("bl", L::binary(65_535, false)),
        ("lb", L::binary(0, false)),
        ("dt", L::date()),
        ("dtm", L::timestamp(Some(0), false)),
        ("dtm6", L::timestamp(Some(6), false)),
        ("ts", L::timestamp(Some(3), true)),
        ("tm", L::interval(Some(0))),
        ("tm2", L::interval(Some(2))),
        ("yr", L::year()),
        ("e", L::enumeration("", labels(&["small", "it's", "x,y"]))),
        ("s", L::set(labels(&["r", "w", "x"]))),
        // MariaDB: LONGTEXT with a json_valid CHECK.
        ("j", L::json()),
        ("bits", L::bit(12, true)),
        ("g", L::geometry("geometry")),
        ("p", L::geometry("point")),
        ("u", L::uuid()),
        ("ip4", L::inet()),
        ("ip6", L::inet()),
    ];
    let cfg = source_config(&db, &["t"]);
    let store = CheckpointStore::temporary().unwrap();
    let records = run_once(&cfg, &store).await.unwrap();
    let schema = records
        .iter()
        .filter(|c| c.op() == Op::SchemaChange && c.table.as_ref().is_some_and(|t| t.name == "t"))
        .find_map(|c| c.schema_change.as_ref()?.schema.as_ref())
        .unwrap_or_else(|| panic!("no schema record: {records:#?}"));
    for (c, (name, w)) in schema.columns.iter().zip(&want) {
        let got = c.logical.as_ref().expect("logical set");
        assert_eq!((c.name.as_str(), got), (*name, w), "column {name}: got {}, want {}", got.describe(), w.describe());
        assert_eq!(c.type_dialect, "mysql", "{name}");
    }
    assert_eq!(schema.columns.len(), want.len());
}

/// `DROP TABLE a, b` and `RENAME TABLE a TO b, c TO d` stop the run when
/// any table they list is replicated, not only the first; statements that
/// list only other tables pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_and_rename_of_several_tables_stop_when_any_listed_table_is_replicated() {
    let db = fresh_db("mysrc_ddl_list").await;
    db.exec(
        "CREATE TABLE k1 (id INT PRIMARY KEY); CREATE TABLE k2 (id INT PRIMARY KEY); \
         CREATE TABLE x1 (id INT PRIMARY KEY); CREATE TABLE x2 (id INT PRIMARY KEY); CREATE TABLE x3 (id INT PRIMARY KEY);",
    )
    .await;
    // Only k* is replicated; the x tables come first in each statement.
    let cfg = source_config(&db, &["k*"]);
    let store = CheckpointStore::temporary().unwrap();
    run_once(&cfg, &store).await.unwrap();
    db.exec(&format!(
        "RENAME TABLE `{0}`.`x1` TO {0}.x1b, /* swap */ `k1` TO `{0}`.`k1b`",
        db.name
    ))
    .await;
    let err = run_once(&cfg, &store).await.unwrap_err();
    assert!(
        err.contains("RENAME TABLE") && err.contains(&format!("{}.k1`", db.name)),
        "{err}"
    );

    // Start again past the rename (a new copy), then drops.
    store.reset("my").unwrap();
    run_once(&cfg, &store).await.unwrap();
    db.exec("DROP TABLE x3, x1b").await;
    db.exec("INSERT INTO k2 VALUES (7)").await;
    let recs = run_once(&cfg, &store)
        .await
        .unwrap_or_else(|e| panic!("a drop of other tables stopped the run: {e}"));
    assert_eq!(
        rows(&recs).len(),
        1,
        "the run went on past the drop of other tables"
    );
    db.exec(&format!("DROP TABLE IF EXISTS x2, `{}`.`k2`", db.name))
        .await;
    let err = run_once(&cfg, &store).await.unwrap_err();
    assert!(
        err.contains("DROP TABLE") && err.contains(&format!("{}.k2`", db.name)),
        "{err}"
    );
}
