//! Online snapshots of a MariaDB source (into PostgreSQL): a table added to
//! `tables` later is copied while the other tables keep streaming, and a
//! copy requested while the run goes (what `logferry snapshot` and
//! `verify --repair` ask for) re-reads a table or some keys up to a binlog
//! position — both under a write workload, both ending equal to the source.

use crate::support::binary::{text, Scratch};
use crate::support::{mariadb, pg, Rng};
use logferry::record::Value;
use logferry::sources::requests::CopyState;
use mysql_async::prelude::Queryable;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn config(source: &mariadb::TestDb, target: &pg::TestDb, tables: &[&str], server_id: u32) -> String {
    let tables: Vec<String> = tables.iter().map(|t| format!("\"{}.{t}\"", source.name)).collect();
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "myonline"
[pipeline.source]
kind = "mysql"
url = "{src}"
tables = [{tables}]
server_id = {server_id}
heartbeat_interval = "200ms"
snapshot_chunk_rows = 1000
[[pipeline.target]]
kind = "postgres"
url = "{dst}"
schema = "public"
[pipeline.apply]
lanes = 4
batch_max_rows = 500
batch_max_wait = "5ms"
checkpoint_interval = "50ms"
"#,
        src = source.url,
        tables = tables.join(", "),
        dst = target.url,
    )
}

/// Every row of the target table as text, ordered by id.
async fn target_rows(db: &pg::TestDb, table: &str) -> Vec<Vec<Option<String>>> {
    pg::cells(db, &format!("SELECT id::text, v::text, note FROM public.{table} ORDER BY {table}.id")).await
}

/// Every row of the source table as text, ordered by id.
async fn source_rows(db: &mariadb::TestDb, table: &str) -> Vec<Vec<Option<String>>> {
    db.rows(&format!("SELECT CAST(id AS CHAR), CAST(v AS CHAR), note FROM {table} ORDER BY id")).await
}

async fn assert_equal(source: &mariadb::TestDb, target: &pg::TestDb) {
    for t in ["a", "b"] {
        let (want, got) = (source_rows(source, t).await, target_rows(target, t).await);
        assert_eq!(want.len(), got.len(), "{t}: row counts differ");
        let diffs: Vec<_> = want.iter().zip(&got).filter(|(a, b)| a != b).take(5).collect();
        assert!(diffs.is_empty(), "{t}: target differs from source, e.g. {diffs:?}");
    }
}

async fn count(db: &pg::TestDb, sql: &str) -> i64 {
    db.client.query_one(sql, &[]).await.ok().and_then(|r| r.get::<_, Option<i64>>(0)).unwrap_or(0)
}

/// Writes to `a` and `b` in small transactions until stopped: inserts,
/// increments of `v` (so a stale copy of a row shows), deletes. The keys
/// of `b` changed are anywhere, or — when `front` is above 0 — just ahead
/// of it (where an online copy is reading: a chunk's window is a few
/// milliseconds, and a key changed there must be left to the stream).
fn workload(
    rt: &tokio::runtime::Runtime,
    url: String,
    b_rows: u64,
    front: Arc<AtomicU64>,
) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<u32>) {
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let task = rt.spawn(async move {
        let mut conn = mysql_async::Conn::from_url(url.as_str()).await.unwrap();
        let mut rng = Rng(5);
        let mut next = 10_000_000i64;
        let mut txs = 0;
        while !*stop_rx.borrow_and_update() {
            let near = front.load(Ordering::Relaxed);
            let k = match near {
                0 => 1 + rng.below(b_rows),
                _ => (near + rng.below(1500)).saturating_sub(500).clamp(1, b_rows),
            };
            let gone = match near {
                0 => 1 + rng.below(b_rows),
                _ => k + rng.below(5),
            };
            let sql = format!(
                "START TRANSACTION;
                 INSERT INTO a VALUES ({next}, 0, 'new');
                 UPDATE a SET v = v + 1 WHERE id = {};
                 INSERT INTO b VALUES ({next}, 0, 'new');
                 UPDATE b SET v = v + 1, note = 'upd' WHERE id BETWEEN {k} AND {};
                 DELETE FROM b WHERE id = {};
                 COMMIT;",
                1 + rng.below(100),
                k + 5,
                gone,
            );
            conn.query_drop(sql).await.unwrap();
            next += 1;
            txs += 1;
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        txs
    });
    (stop_tx, task)
}

async fn tables(b_rows: u64) -> (mariadb::TestDb, pg::TestDb) {
    let source = mariadb::fresh_db("myonline_src").await;
    source
        .exec(&format!(
            "CREATE TABLE a (id BIGINT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40));
             CREATE TABLE b (id BIGINT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40));
             INSERT INTO a SELECT seq, 0, 'seed' FROM seq_1_to_100;
             INSERT INTO b SELECT seq, 0, CONCAT('seed ', seq) FROM seq_1_to_{b_rows};
             ANALYZE TABLE b;"
        ))
        .await;
    (source, pg::fresh_db("myonline_dst").await)
}

#[test]
fn mariadb_a_table_added_to_tables_is_copied_online_while_the_others_stream() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let b_rows = 60_000u64;
    let (source, target) = rt.block_on(tables(b_rows));
    let server_id = 4_100_020_000 + std::process::id() % 1000;
    // First only `a`.
    let s = Scratch::new(&config(&source, &target, &["a"], server_id));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(rt.block_on(count(&target, "SELECT max(id) FROM a")), 100);

    // Then `b` too, while both tables are written to.
    std::fs::write(&s.config, config(&source, &target, &["a", "b"], server_id)).unwrap();
    let front = Arc::new(AtomicU64::new(0));
    let (stop, writes) = workload(&rt, source.url.clone(), b_rows, front.clone());
    let mut run = s.spawn(&["run"]);
    // Watch the target: `a` must gain rows while `b` is half copied.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut streamed_during_copy = false;
    let mut b_seen = 0;
    while Instant::now() < deadline {
        let (a_max, b_count) = rt.block_on(async {
            (count(&target, "SELECT max(id) FROM a").await, count(&target, "SELECT count(*) FROM b WHERE note LIKE 'seed%'").await)
        });
        b_seen = b_seen.max(b_count);
        if a_max >= 10_000_000 && b_count > 0 && b_count < b_rows as i64 / 2 {
            streamed_during_copy = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if !streamed_during_copy {
        let _ = run.kill();
        let out = run.wait_with_output().unwrap();
        panic!("never saw `a` streaming while `b` was partly copied (b rows seen: {b_seen}); the run said:\n{}", text(&out.stderr));
    }
    // Keep writing while most of `b` is copied, now where the copy reads
    // (rows the workload changes inside a chunk's window must be left to
    // the stream): the copy is about as far as the target has rows of `b`.
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let copied = count(&target, &format!("SELECT count(*) FROM b WHERE id <= {b_rows}")).await;
            if copied >= b_rows as i64 * 9 / 10 {
                break;
            }
            front.store(copied.max(1) as u64, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    stop.send(true).unwrap();
    let txs = rt.block_on(writes).unwrap();
    assert!(txs > 20, "workload transactions: {txs}");
    // Stop the run (SIGTERM: it drains and checkpoints), catch up, compare.
    unsafe { libc::kill(run.id() as i32, libc::SIGTERM) };
    let status = run.wait().unwrap();
    let mut err = String::new();
    use std::io::Read;
    run.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "run failed: {err}");
    assert!(err.contains("table added to `tables` since the last checkpoint: copying it online"), "{err}");
    // The copy was cut short by the stop: `--once` resumes it at its next
    // chunk (kept in the checkpoint) and ends once it is done.
    let out = s.run(&["run", "--once"]);
    let once = text(&out.stderr);
    assert!(out.status.success(), "{once}");
    assert!(once.contains("copying table(s) online while the others stream") && once.contains("online copy done"), "{once}");
    rt.block_on(assert_equal(&source, &target));
}

#[test]
fn mariadb_a_requested_copy_mends_a_damaged_table_while_it_streams() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let b_rows = 20_000u64;
    let (source, target) = rt.block_on(tables(b_rows));
    let server_id = 4_100_021_000 + std::process::id() % 1000;
    let s = Scratch::new(&config(&source, &target, &["a", "b"], server_id));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Damage the target behind logferry's back: rows changed and deleted.
    rt.block_on(async {
        target
            .client
            .batch_execute("UPDATE b SET note = 'damaged' WHERE id % 7 = 0; DELETE FROM b WHERE id % 11 = 0;")
            .await
            .unwrap();
    });

    let (stop, writes) = workload(&rt, source.url.clone(), b_rows, Arc::new(AtomicU64::new(0)));
    let run = crate::support::online::InProcess::start(&rt, &s.config);
    // A few keys first (what `verify --repair` sends): 7 and 14 were
    // changed, 11 deleted; 999999 never existed and is deleted (a no-op).
    let keys = [7i64, 14, 11, 999_999].iter().map(|k| vec![Value::int64(*k)]).collect();
    let id = run.stats.requests.submit(&format!("{}.b", source.name), Some(keys));
    run.wait_applied(&rt, id);
    rt.block_on(async {
        let got = pg::rows(&target, "SELECT id::text, note FROM public.b WHERE id IN (7, 11, 14) ORDER BY b.id").await;
        let gone = source.rows("SELECT COUNT(*) FROM b WHERE id IN (7, 11, 14)").await;
        // The workload may have deleted some of them since: as many as the source has.
        assert!(got.iter().all(|r| !r.contains("damaged")), "{got:?}");
        assert_eq!(Some(got.len().to_string()), gone[0][0], "{got:?}");
    });
    // Then the whole table (what `logferry snapshot --table b` sends).
    let id = run.stats.requests.submit("b", None);
    run.wait_applied(&rt, id);
    let unknown = run.stats.requests.submit("nope.b", None);
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(run.stats.requests.state(unknown), Some(CopyState::Failed(_))) {
            assert!(Instant::now() < deadline, "{:?}", run.stats.requests.state(unknown));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    stop.send(true).unwrap();
    assert!(rt.block_on(writes).unwrap() > 20);
    // Let the stream catch up with the last writes, then stop and compare.
    rt.block_on(async {
        let last = source.rows("SELECT CAST(MAX(id) AS CHAR) FROM a").await[0][0].clone().unwrap();
        let last: i64 = last.parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while count(&target, "SELECT max(id) FROM a").await < last {
            assert!(Instant::now() < deadline, "the stream did not catch up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    run.stop(&rt);
    rt.block_on(assert_equal(&source, &target));
}
