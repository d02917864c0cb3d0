//! Exactly-once apply into the SQL targets: a replay of records a target
//! already applied changes nothing, across restarts, lane count changes
//! and crashes; after `reset` the records apply again.
//!
//! The target tables count every row write with a trigger (PostgreSQL:
//! AFTER INSERT OR UPDATE; MariaDB: BEFORE INSERT, which fires for every
//! row of an upsert, new or not), so a replay that the progress table did
//! not stop shows as a higher count even though upserts leave the same
//! rows behind.

use crate::support::binary::{text, Scratch};
use crate::support::records::{row, row_change};
use crate::support::sql_target::{Dialect, TargetDb};
use crate::support::*;
use logferry::checkpoint::CheckpointStore;
use logferry::record::{Change, Op, Value};
use logferry::sinks::mysql::{MysqlSink, MysqlSinkConfig};
use logferry::sinks::postgres::{PostgresSink, PostgresSinkConfig};
use logferry::sinks::{Batch, LogOrder, Mark, RunOrder, Sink, SinkError};
use logferry::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A fresh target database with the counted table `t (id, v)` and the
/// `applies` counter.
async fn counted_target(dialect: Dialect, prefix: &str) -> TargetDb {
    let db = TargetDb::fresh(dialect, prefix).await;
    match dialect {
        Dialect::Postgres => {
            db.exec(
                "CREATE TABLE public.t (id bigint PRIMARY KEY, v bigint);
                 CREATE TABLE applies (n bigint NOT NULL); INSERT INTO applies VALUES (0);
                 CREATE FUNCTION count_apply() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN UPDATE applies SET n = n + 1; RETURN NULL; END$$;
                 CREATE TRIGGER counted AFTER INSERT OR UPDATE ON public.t FOR EACH ROW EXECUTE FUNCTION count_apply();",
            )
            .await
        }
        Dialect::Mysql => {
            db.exec(
                "CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT);
                 CREATE TABLE applies (n BIGINT NOT NULL); INSERT INTO applies VALUES (0);
                 CREATE TRIGGER counted BEFORE INSERT ON t FOR EACH ROW UPDATE applies SET n = n + 1;",
            )
            .await
        }
    }
    db
}

async fn applies(db: &TargetDb) -> u64 {
    db.rows("SELECT n FROM applies").await[0].parse().unwrap()
}

async fn rows_of_t(db: &TargetDb) -> Vec<String> {
    db.rows(&format!("SELECT id, v FROM {} ORDER BY id", db.table("public", "t"))).await
}

/// A target on `db` that keeps its progress in `home` (`None`: default).
async fn sink(db: &TargetDb, lanes: usize, home: Option<&str>) -> Arc<dyn Sink> {
    let url = db.url().to_string();
    let home = home.map(str::to_string);
    match db.dialect() {
        Dialect::Postgres => Arc::new(
            PostgresSink::connect(PostgresSinkConfig { url, namespace: None, create_tables: false, lanes }).await.unwrap().with_progress(home, String::new()),
        ),
        Dialect::Mysql => Arc::new(
            MysqlSink::connect(MysqlSinkConfig { url, namespace: None, create_tables: false, lanes }).await.unwrap().with_progress(home, String::new()),
        ),
    }
}

/// An insert of key `id` with value `v`, numbered `seq`.
fn insert(id: i64, v: i64, seq: u64) -> Change {
    let mut c = row_change("postgres", Op::Insert, "public", "t", &["id"], None, row(vec![("id", Value::int64(id)), ("v", Value::int64(v))]));
    c.seq = seq;
    c
}

fn run(epoch: u64, lanes: usize, resumed: u64) -> Arc<RunOrder> {
    Arc::new(RunOrder { pipeline: "shop".into(), epoch, lanes, resumed })
}

/// A pipeline lane's batch: every record is a log row change whose ordinal is its seq.
fn batch(run: &Arc<RunOrder>, lane: usize, records: Vec<Change>) -> Batch {
    let marks: Vec<Mark> = records.iter().map(|c| Mark { seq: c.seq, ordinal: c.seq, hash: c.route_hash() }).collect();
    Batch { lane, records, order: Some(LogOrder { run: run.clone(), marks: marks.into() }) }
}

fn lane_of(c: &Change, lanes: usize) -> usize {
    (c.route_hash() % lanes as u64) as usize
}

async fn replay_changes_nothing(dialect: Dialect) {
    let db = counted_target(dialect, &format!("eo_replay_{}", dialect.name())).await;
    let r = run(7, 1, 0);
    let first: Vec<Change> = (1..=5).map(|i| insert(i, i * 10, i as u64)).collect();
    let s = sink(&db, 1, None).await;
    s.apply(&batch(&r, 0, first.clone())).await.unwrap();
    assert_eq!(applies(&db).await, 5);
    // The same batch again (a retry), then from a new process (a restart).
    s.apply(&batch(&r, 0, first.clone())).await.unwrap();
    let s = sink(&db, 1, None).await;
    s.apply(&batch(&r, 0, first.clone())).await.unwrap();
    assert_eq!(applies(&db).await, 5, "a replay wrote rows again");
    // A batch overlapping the applied ones applies only what is new.
    let mut next: Vec<Change> = first[3..].to_vec();
    next.extend((6..=8).map(|i| insert(i, i * 10, i as u64)));
    s.apply(&batch(&r, 0, next)).await.unwrap();
    assert_eq!(applies(&db).await, 8);
    assert_eq!(rows_of_t(&db).await, (1..=8).map(|i| format!("{i}|{}", i * 10)).collect::<Vec<_>>());
    let progress = db.table("public", "logferry_progress");
    assert_eq!(db.rows(&format!("SELECT pipeline, lanes, lane, epoch, ordinal, seq FROM {progress}")).await, ["shop|1|0|7|8|8"]);
    // Without the log order (as a dead-letter replay sends records) the
    // same records are written again: the trigger sees every write.
    s.apply(&Batch { lane: 0, records: first, order: None }).await.unwrap();
    assert_eq!(applies(&db).await, 13);
}

#[tokio::test]
async fn a_replayed_batch_changes_nothing_on_postgres() {
    replay_changes_nothing(Dialect::Postgres).await;
}

#[tokio::test]
async fn a_replayed_batch_changes_nothing_on_mariadb() {
    replay_changes_nothing(Dialect::Mysql).await;
}

async fn lanes_change(dialect: Dialect) {
    let db = counted_target(dialect, &format!("eo_lanes_{}", dialect.name())).await;
    let all: Vec<Change> = (1..=40).map(|i| insert(i, i, i as u64)).collect();
    // Four lanes: lane 0 applies all of its records, lane 1 half, lane 2
    // nothing, lane 3 its first; then the process dies.
    let four = run(9, 4, 0);
    let s = sink(&db, 4, None).await;
    let mut applied = 0;
    for lane in 0..4 {
        let mine: Vec<Change> = all.iter().filter(|c| lane_of(c, 4) == lane).cloned().collect();
        let take = match lane {
            0 => mine.len(),
            1 => mine.len() / 2,
            2 => 0,
            _ => 1,
        };
        if take > 0 {
            s.apply(&batch(&four, lane, mine[..take].to_vec())).await.unwrap();
            applied += take as u64;
        }
    }
    assert_eq!(applies(&db).await, applied);
    assert!(applied > 10 && applied < 30, "a partial apply: {applied}");
    // Restarted with two lanes from a checkpoint before all of it: every
    // record comes again, in halves per lane.
    let two = run(9, 2, 0);
    let s = sink(&db, 2, None).await;
    for lane in 0..2 {
        let mine: Vec<Change> = all.iter().filter(|c| lane_of(c, 2) == lane).cloned().collect();
        let (a, b) = mine.split_at(mine.len() / 2);
        s.apply(&batch(&two, lane, a.to_vec())).await.unwrap();
        s.apply(&batch(&two, lane, b.to_vec())).await.unwrap();
    }
    assert_eq!(applies(&db).await, 40, "each record written exactly once");
    assert_eq!(rows_of_t(&db).await.len(), 40);
    let progress = db.table("public", "logferry_progress");
    let layouts = format!("SELECT DISTINCT lanes FROM {progress} ORDER BY lanes");
    assert_eq!(db.rows(&layouts).await, ["2", "4"], "the old layout is kept while a replay may still need it");
    // A run resuming past everything the old layout holds drops it.
    let past = run(9, 2, 40);
    let s = sink(&db, 2, None).await;
    let last = insert(41, 41, 41);
    s.apply(&batch(&past, lane_of(&last, 2), vec![last])).await.unwrap();
    assert_eq!(applies(&db).await, 41);
    assert_eq!(db.rows(&layouts).await, ["2"]);
}

#[tokio::test]
async fn a_lane_count_change_from_4_to_2_applies_each_record_once_on_postgres() {
    lanes_change(Dialect::Postgres).await;
}

#[tokio::test]
async fn a_lane_count_change_from_4_to_2_applies_each_record_once_on_mariadb() {
    lanes_change(Dialect::Mysql).await;
}

async fn another_epoch(dialect: Dialect) {
    let db = counted_target(dialect, &format!("eo_epoch_{}", dialect.name())).await;
    let records: Vec<Change> = (1..=5).map(|i| insert(i, i, i as u64)).collect();
    sink(&db, 1, None).await.apply(&batch(&run(1, 1, 0), 0, records.clone())).await.unwrap();
    assert_eq!(applies(&db).await, 5);
    // After `reset` the pipeline numbers from 1 again under a new epoch:
    // the same seqs and ordinals are new records and must apply.
    sink(&db, 1, None).await.apply(&batch(&run(2, 1, 0), 0, records)).await.unwrap();
    assert_eq!(applies(&db).await, 10);
    let progress = db.table("public", "logferry_progress");
    assert_eq!(db.rows(&format!("SELECT DISTINCT epoch FROM {progress}")).await, ["2"], "the old epoch's rows are gone");
}

#[tokio::test]
async fn progress_of_another_epoch_never_skips_on_postgres() {
    another_epoch(Dialect::Postgres).await;
}

#[tokio::test]
async fn progress_of_another_epoch_never_skips_on_mariadb() {
    another_epoch(Dialect::Mysql).await;
}

async fn refused_progress_row(dialect: Dialect) {
    let db = counted_target(dialect, &format!("eo_atomic_{}", dialect.name())).await;
    // The progress table exists already, with a check that refuses ordinals past 3.
    let (text, bigint) = match dialect {
        Dialect::Postgres => ("text", "bigint"),
        Dialect::Mysql => ("VARCHAR(191)", "BIGINT"),
    };
    db.exec(&format!(
        "CREATE TABLE {} (pipeline {text} NOT NULL, target {text} NOT NULL, lanes INT NOT NULL, lane INT NOT NULL, \
         epoch {bigint} NOT NULL, ordinal {bigint} NOT NULL CHECK (ordinal <= 3), seq {bigint} NOT NULL, position {text}, \
         updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (pipeline, target, lanes, lane))",
        db.table("public", "logferry_progress")
    ))
    .await;
    let s = sink(&db, 1, None).await;
    let r = run(5, 1, 0);
    s.apply(&batch(&r, 0, (1..=3).map(|i| insert(i, i, i as u64)).collect())).await.unwrap();
    let e = s.apply(&batch(&r, 0, (4..=6).map(|i| insert(i, i, i as u64)).collect())).await.unwrap_err();
    assert!(!e.is_transient(), "{e}");
    assert_eq!(applies(&db).await, 3, "the rows of a batch whose progress row failed are rolled back with it");
    assert_eq!(rows_of_t(&db).await.len(), 3);
    // The connection is still good for the next batch.
    s.apply(&batch(&r, 0, vec![insert(1, 9, 1)])).await.unwrap();
    assert_eq!(applies(&db).await, 3);
}

#[tokio::test]
async fn a_batch_whose_progress_row_fails_is_not_applied_on_postgres() {
    refused_progress_row(Dialect::Postgres).await;
}

#[tokio::test]
async fn a_batch_whose_progress_row_fails_is_not_applied_on_mariadb() {
    refused_progress_row(Dialect::Mysql).await;
}

#[tokio::test]
async fn progress_schema_places_the_table_and_is_created_when_missing() {
    let pg = counted_target(Dialect::Postgres, "eo_home_pg").await;
    let s = sink(&pg, 1, Some("lf meta")).await;
    s.apply(&batch(&run(3, 1, 0), 0, vec![insert(1, 1, 1)])).await.unwrap();
    assert_eq!(pg.rows("SELECT ordinal FROM \"lf meta\".logferry_progress").await, ["1"]);
    let my = counted_target(Dialect::Mysql, "eo_home_my").await;
    let home = format!("{}_meta", my.name());
    let s = sink(&my, 1, Some(&home)).await;
    s.apply(&batch(&run(3, 1, 0), 0, vec![insert(1, 1, 1)])).await.unwrap();
    assert_eq!(my.rows(&format!("SELECT ordinal FROM `{home}`.logferry_progress")).await, ["1"]);
    my.exec(&format!("DROP DATABASE `{home}`")).await;
}

#[tokio::test]
async fn a_role_that_cannot_create_the_progress_table_is_told_the_grant() {
    let db = counted_target(Dialect::Postgres, "eo_grant").await;
    let role = format!("{}_r", db.name());
    db.exec(&format!(
        "CREATE ROLE \"{role}\" LOGIN PASSWORD 'pw'; GRANT SELECT, INSERT, UPDATE ON public.t, applies TO \"{role}\";
         REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
    ))
    .await;
    let base = db.url().split_once("://").unwrap().1.split_once('@').unwrap().1.to_string();
    let url = format!("postgres://{role}:pw@{base}");
    let s = PostgresSink::connect(PostgresSinkConfig { url, namespace: None, create_tables: false, lanes: 1 }).await.unwrap();
    let e = s.apply(&batch(&run(1, 1, 0), 0, vec![insert(1, 1, 1)])).await.unwrap_err();
    let shown = logferry::ErrorChain(&e).to_string();
    assert!(!e.is_transient(), "{shown}");
    assert!(shown.contains("logferry_progress") && shown.contains(&format!("GRANT CREATE ON SCHEMA \"public\" TO \"{role}\"")), "{shown}");
    assert_eq!(applies(&db).await, 0, "nothing applied without the progress table");
    drop(s);
    // The role owns nothing; dropping it leaves the server clean.
    db.exec(&format!("DROP OWNED BY \"{role}\"; DROP ROLE \"{role}\"")).await;
}

/// Applies to `inner`, then reports a failure once after `ok` batches: the
/// target committed a batch the pipeline never saw acknowledged, as when a
/// process dies between COMMIT and its checkpoint.
struct AckLost {
    inner: Arc<dyn Sink>,
    ok: u64,
    applies: AtomicU64,
}

impl Sink for AckLost {
    fn name(&self) -> &str {
        "ack-lost"
    }
    fn apply<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            self.inner.apply(batch).await?;
            if self.applies.fetch_add(1, Ordering::SeqCst) == self.ok {
                return Err(SinkError::definite("ack-lost", "the acknowledgement was lost"));
            }
            Ok(())
        })
    }
}

/// `n` inserts of `public.t`, five per transaction.
fn script(n: i64) -> Vec<Change> {
    (1..=n)
        .map(|i| {
            let mut c = insert(i, i, 0);
            c.tx_end = i % 5 == 0 || i == n;
            c
        })
        .collect()
}

#[tokio::test]
async fn a_pipeline_replaying_committed_batches_with_fewer_lanes_writes_each_change_once() {
    let db = counted_target(Dialect::Postgres, "eo_pipeline").await;
    let store = CheckpointStore::temporary().unwrap();
    let changes = script(300);
    // A first run over the first 50 changes leaves a checkpoint (a run
    // without one starts over under a new epoch, as after a reset).
    let target = sink(&db, 4, None).await;
    run_pipeline("shop", fast_apply(4), ScriptSource::new(changes[..50].to_vec()), vec![target], &store, true, no_shutdown()).await.unwrap();
    assert_eq!(store.load("shop").unwrap().map(|c| c.seq), Some(50));
    let target = sink(&db, 4, None).await;
    let lossy = Arc::new(AckLost { inner: target, ok: 6, applies: AtomicU64::new(0) });
    let failed = run_pipeline("shop", fast_apply(4), ScriptSource::new(changes.clone()), vec![lossy as Arc<dyn Sink>], &store, true, no_shutdown()).await;
    assert!(failed.is_err(), "the lost acknowledgement stops the run");
    let written = applies(&db).await;
    let checkpoint = store.load("shop").unwrap().expect("the first run's checkpoint at least").seq;
    assert!(written > checkpoint, "the target holds more than the checkpoint says ({written} > {checkpoint})");
    // The next run (two lanes now) replays from the checkpoint.
    let target = sink(&db, 2, None).await;
    run_pipeline("shop", fast_apply(2), ScriptSource::new(changes), vec![target], &store, true, no_shutdown()).await.unwrap();
    assert_eq!(applies(&db).await, 300, "each change written exactly once");
    assert_eq!(rows_of_t(&db).await.len(), 300);
}

#[tokio::test]
async fn after_reset_the_next_run_applies_everything_again() {
    for dialect in Dialect::ALL {
        let db = counted_target(dialect, &format!("eo_reset_{}", dialect.name())).await;
        let store = CheckpointStore::temporary().unwrap();
        let changes = script(20);
        let once = |lanes: usize| {
            let (db, store, changes) = (&db, &store, changes.clone());
            async move {
                let target = sink(db, lanes, None).await;
                run_pipeline("shop", fast_apply(lanes), ScriptSource::new(changes), vec![target], store, true, no_shutdown()).await.unwrap();
            }
        };
        once(2).await;
        let first = store.load("shop").unwrap().expect("a checkpoint");
        assert_ne!(first.epoch, 0);
        assert_eq!((first.seq, first.ordinal), (20, 20));
        assert_eq!(applies(&db).await, 20);
        // A second run resumes: same epoch, nothing again.
        once(2).await;
        assert_eq!(store.load("shop").unwrap().unwrap().epoch, first.epoch);
        assert_eq!(applies(&db).await, 20);
        // After reset the numbering starts again and the records apply again.
        assert!(store.reset("shop").unwrap());
        once(2).await;
        let second = store.load("shop").unwrap().unwrap();
        assert_ne!(second.epoch, first.epoch, "{dialect:?}: a reset starts a new epoch");
        assert_eq!(applies(&db).await, 40, "{dialect:?}: the re-run applies every record again");
        let progress = db.table("public", "logferry_progress");
        assert_eq!(db.rows(&format!("SELECT DISTINCT epoch FROM {progress}")).await, [second.epoch.to_string()]);
    }
}

#[test]
fn sigkill_while_streaming_then_catch_up_with_fewer_lanes_writes_each_change_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = pg::fresh_db("eo_kill_src").await;
        s.client.batch_execute("CREATE TABLE items (id bigint PRIMARY KEY, v bigint NOT NULL)").await.unwrap();
        let t = pg::fresh_db("eo_kill_dst").await;
        t.client
            .batch_execute(
                "CREATE TABLE items (id bigint PRIMARY KEY, v bigint NOT NULL);
                 CREATE TABLE applies (n bigint NOT NULL); INSERT INTO applies VALUES (0);
                 CREATE FUNCTION count_apply() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN UPDATE applies SET n = n + 1; RETURN NULL; END$$;
                 CREATE TRIGGER counted AFTER INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION count_apply();",
            )
            .await
            .unwrap();
        (s, t)
    });
    // Checkpoints every 200 ms: the killed run leaves what it applied since
    // its last one to be replayed, and the replaying session numbers its
    // records differently (its own schema record before the first row).
    let config = format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "eo"
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = ["items"]
slot = "{slot}"
publication = "{slot}"
[[pipeline.target]]
kind = "postgres"
url = "{dst}"
[pipeline.apply]
lanes = 3
batch_max_rows = 50
batch_max_wait = "1ms"
checkpoint_interval = "200ms"
"#,
        src = source.url,
        dst = target.url,
        slot = source.name,
    );
    let s = Scratch::new(&config);
    // An empty copy and a first checkpoint.
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "first run: {}", text(&out.stderr));
    // 4000 inserts and 2000 updates, in 120 transactions.
    rt.block_on(async {
        for t in 0..80i64 {
            let base = t * 50;
            source.client.batch_execute(&format!("INSERT INTO items SELECT g, 0 FROM generate_series({}, {}) g", base + 1, base + 50)).await.unwrap();
        }
        for t in 0..40i64 {
            let base = t * 100;
            source.client.batch_execute(&format!("UPDATE items SET v = 1 WHERE id BETWEEN {} AND {}", base + 1, base + 50)).await.unwrap();
        }
    });
    let count = || rt.block_on(async { pg::cells(&target, "SELECT n FROM applies").await[0][0].clone().unwrap().parse::<u64>().unwrap() });
    let mut child = s.spawn(&["run"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while count() < 1500 {
        assert!(std::time::Instant::now() < deadline, "the run applied nothing within a minute");
        assert!(child.try_wait().unwrap().is_none(), "the run ended on its own");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    let out = child.wait_with_output().unwrap();
    assert!(out.status.code().is_none(), "killed: {}", text(&out.stderr));
    let at_kill = count();
    // The catch-up runs with two lanes instead of three.
    std::fs::write(&s.config, config.replace("lanes = 3", "lanes = 2")).unwrap();
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "catch-up: {}", text(&out.stderr));
    assert!(at_kill >= 1500);
    assert_eq!(count(), 6000, "every change written exactly once (the killed run had written {at_kill})");
    rt.block_on(async {
        let q = "SELECT id::text, v::text FROM items ORDER BY id";
        assert_eq!(pg::cells(&source, q).await, pg::cells(&target, q).await);
    });
}
