//! Online snapshots of a PostgreSQL source: a table added to `tables`
//! later is copied while the other tables keep streaming, and a copy
//! requested while the run goes (what `logferry snapshot` and
//! `verify --repair` ask for) re-reads a table or some keys between
//! watermarks of the log — both under a write workload, both ending equal
//! to the source.

use crate::support::binary::{text, Scratch};
use crate::support::pg::{connect, fresh_db, TestDb};
use crate::support::Rng;
use logferry::record::Value;
use logferry::sources::requests::CopyState;
use std::time::{Duration, Instant};

fn config(source: &TestDb, target: &TestDb, tables: &str) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "online"
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = [{tables}]
slot = "{slot}"
publication = "{slot}"
heartbeat_interval = "200ms"
snapshot_chunk_rows = 1000
[[pipeline.target]]
kind = "postgres"
url = "{dst}"
[[pipeline.target]]
kind = "file"
path = "out/changes.jsonl"
[pipeline.apply]
lanes = 4
batch_max_rows = 500
batch_max_wait = "5ms"
checkpoint_interval = "50ms"
"#,
        src = source.url,
        dst = target.url,
        slot = source.name,
    )
}

/// Every row as text, ordered by id.
async fn dump(db: &TestDb, table: &str) -> Vec<String> {
    crate::support::pg::rows(db, &format!("SELECT id::text, v::text, note FROM {table} ORDER BY id")).await
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    db.client.query_one(sql, &[]).await.map(|r| r.get(0)).unwrap_or(0)
}

/// Writes to `a` and `b` in small transactions until stopped: inserts,
/// increments of `v` (so a stale copy of a row shows), deletes.
fn workload(rt: &tokio::runtime::Runtime, url: String, b_rows: i64) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<u32>) {
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let task = rt.spawn(async move {
        let client = connect(&url).await;
        let mut rng = Rng(5);
        let mut next = 10_000_000i64;
        let mut txs = 0;
        while !*stop_rx.borrow_and_update() {
            let k = 1 + rng.below(b_rows as u64) as i64;
            let sql = format!(
                "BEGIN;
                 INSERT INTO a VALUES ({next}, 0, 'new');
                 UPDATE a SET v = v + 1 WHERE id = {};
                 INSERT INTO b VALUES ({next}, 0, 'new');
                 UPDATE b SET v = v + 1, note = 'upd' WHERE id BETWEEN {k} AND {};
                 DELETE FROM b WHERE id = {};
                 COMMIT;",
                1 + rng.below(100),
                k + 5,
                1 + rng.below(b_rows as u64) as i64,
            );
            client.batch_execute(&sql).await.unwrap();
            next += 1;
            txs += 1;
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        txs
    });
    (stop_tx, task)
}

async fn tables(b_rows: i64) -> (TestDb, TestDb) {
    let source = fresh_db("online_src").await;
    source
        .client
        .batch_execute(&format!(
            "CREATE TABLE a (id bigint PRIMARY KEY, v int NOT NULL, note text);
             CREATE TABLE b (id bigint PRIMARY KEY, v int NOT NULL, note text);
             INSERT INTO a SELECT g, 0, 'seed' FROM generate_series(1, 100) g;
             INSERT INTO b SELECT g, 0, 'seed ' || g FROM generate_series(1, {b_rows}) g;
             ANALYZE b;"
        ))
        .await
        .unwrap();
    (source, fresh_db("online_dst").await)
}

#[test]
fn a_table_added_to_tables_is_copied_online_while_the_others_stream() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let b_rows = 60_000;
    let (source, target) = rt.block_on(tables(b_rows));
    // First only `a`.
    let s = Scratch::new(&config(&source, &target, "\"a\""));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let a_before = rt.block_on(count(&target, "SELECT max(id) FROM a"));
    assert_eq!(a_before, 100);

    // Then `b` too, while both tables are written to.
    std::fs::write(&s.config, config(&source, &target, "\"a\", \"b\"")).unwrap();
    let (stop, writes) = workload(&rt, source.url.clone(), b_rows);
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
        if a_max >= 10_000_000 && b_count > 0 && b_count < b_rows / 2 {
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
    // Keep writing while most of `b` is copied (rows the workload changes
    // inside a chunk's window must be left to the stream).
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline && count(&target, "SELECT count(*) FROM b").await < b_rows * 9 / 10 {
            tokio::time::sleep(Duration::from_millis(50)).await;
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
    rt.block_on(async {
        for t in ["a", "b"] {
            let (x, y) = (dump(&source, t).await, dump(&target, t).await);
            if x.len() != y.len() {
                let xs: std::collections::BTreeSet<_> = x.iter().map(|r| r.split('|').next().unwrap().to_string()).collect();
                let ys: std::collections::BTreeSet<_> = y.iter().map(|r| r.split('|').next().unwrap().to_string()).collect();
                let extra: Vec<_> = ys.difference(&xs).cloned().collect();
                let missing: Vec<_> = xs.difference(&ys).cloned().collect();
                let dir = s.dir.keep();
                panic!("{t}: extra {extra:?} missing {missing:?}; files in {}", dir.display());
            }
            assert!(x == y, "{t}: target differs from source");
        }
    });
}

#[test]
fn a_requested_copy_mends_a_damaged_table_while_it_streams() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let b_rows = 20_000;
    let (source, target) = rt.block_on(tables(b_rows));
    let s = Scratch::new(&config(&source, &target, "\"a\", \"b\""));
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

    let (stop, writes) = workload(&rt, source.url.clone(), b_rows);
    let run = crate::support::online::InProcess::start(&rt, &s.config);
    // A few keys first (what `verify --repair` sends): 7 and 14 were
    // changed, 11 deleted; 999999 never existed and is deleted (a no-op).
    let keys = [7i64, 14, 11, 999_999].iter().map(|k| vec![Value::int64(*k)]).collect();
    let id = run.stats.requests.submit("public.b", Some(keys));
    run.wait_applied(&rt, id);
    rt.block_on(async {
        let got = crate::support::pg::rows(&target, "SELECT id::text, note FROM b WHERE id IN (7, 11, 14) ORDER BY id").await;
        assert!(got.iter().all(|r| !r.contains("damaged")) && got.len() == 3, "{got:?}");
    });
    // Then the whole table (what `logferry snapshot --table b` sends).
    let id = run.stats.requests.submit("b", None);
    run.wait_applied(&rt, id);
    let unknown = run.stats.requests.submit("public.nope", None);
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
        let last: i64 = count(&source, "SELECT max(id) FROM a").await;
        let deadline = Instant::now() + Duration::from_secs(60);
        while count(&target, "SELECT max(id) FROM a").await < last {
            assert!(Instant::now() < deadline, "the stream did not catch up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    run.stop(&rt);
    rt.block_on(async {
        for t in ["a", "b"] {
            let (x, y) = (dump(&source, t).await, dump(&target, t).await);
            assert_eq!(x.len(), y.len(), "{t}: row counts differ");
            assert!(x == y, "{t}: target differs from source");
        }
    });
}

#[test]
fn logferry_snapshot_recopies_a_table_through_the_running_process_under_a_workload() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let b_rows = 20_000;
    let (source, target) = rt.block_on(tables(b_rows));
    let s = Scratch::new(&config(&source, &target, "\"a\", \"b\""));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    rt.block_on(async {
        target.client.batch_execute("UPDATE b SET note = 'damaged' WHERE id % 5 = 0; DELETE FROM b WHERE id % 13 = 0;").await.unwrap();
    });
    let (stop, writes) = workload(&rt, source.url.clone(), b_rows);
    let mut run = crate::operate::Running(s.spawn(&["run"]));
    let socket = s.path("state/logferry.sock");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "the run never opened its control socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    // `logferry snapshot` asks the running process and returns once the
    // copy is applied, while the workload writes on.
    let out = s.run(&["snapshot", "--table", "b"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "snapshot: {stdout}{}", text(&out.stderr));
    assert!(stdout.contains("applied"), "{stdout}");
    stop.send(true).unwrap();
    assert!(rt.block_on(writes).unwrap() > 5);
    unsafe { libc::kill(run.0.id() as i32, libc::SIGTERM) };
    assert!(run.0.wait().unwrap().success());
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    rt.block_on(async {
        for t in ["a", "b"] {
            let (x, y) = (dump(&source, t).await, dump(&target, t).await);
            assert_eq!(x.len(), y.len(), "{t}: row counts differ");
            assert!(x == y, "{t}: target differs from source");
        }
    });
}
