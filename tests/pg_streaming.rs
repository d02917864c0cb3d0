//! Streamed in-progress transactions of a PostgreSQL source (pgoutput
//! protocol 2+, `streaming 'on'`), through the real binary.
//!
//! Each test's source database has `logical_decoding_work_mem` at its
//! minimum (64kB, `ALTER DATABASE … SET`, which the walsender of a
//! database connection takes), so a transaction of a few MB is streamed
//! while it runs. That logferry received it before the commit shows in its
//! spill folder: segment files appear there while the transaction is still
//! open (they are written only past 8 MiB of a transaction's messages, and
//! only for streamed transactions).

use crate::support::binary::{read_json_lines, text, Scratch};
use crate::support::pg::{connect, fresh_db, TestDb};
use logferry::record::Op;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// Rows of the big transactions: with a 100-byte pad, about 30 MB of
/// pgoutput messages, well past the 8 MiB a transaction keeps in memory.
pub(crate) const BIG: i64 = 200_000;
/// How long the server may take to stream the first 8 MiB, or a run to end.
pub(crate) const WITHIN: Duration = Duration::from_secs(180);

pub(crate) fn config(source: &TestDb, target: &TestDb, extra_source: &str) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "streamed"
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = ["public.big"]
slot = "{slot}"
publication = "{slot}"
heartbeat_interval = "300ms"
{extra_source}
[[pipeline.target]]
kind = "postgres"
url = "{dst}"
[[pipeline.target]]
kind = "file"
path = "out/changes.jsonl"
[pipeline.apply]
lanes = 4
batch_max_rows = 2000
batch_max_wait = "5ms"
checkpoint_interval = "50ms"
"#,
        src = source.url,
        dst = target.url,
        slot = source.name,
    )
}

/// A source database whose walsenders stream past 64kB, with table `big`,
/// and an empty target.
pub(crate) async fn databases(prefix: &str) -> (TestDb, TestDb) {
    let source = fresh_db(&format!("{prefix}_src")).await;
    source
        .client
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" SET logical_decoding_work_mem = '64kB';
             CREATE TABLE big (id bigint PRIMARY KEY, v int NOT NULL, pad text)",
            source.name
        ))
        .await
        .unwrap();
    (source, fresh_db(&format!("{prefix}_dst")).await)
}

pub(crate) fn insert_sql(from: i64, to: i64) -> String {
    format!("INSERT INTO big SELECT g, g % 1000, repeat(md5(g::text), 3) || ' pad' FROM generate_series({from}, {to}) g")
}

/// The spill files (`*.seg`) in the pipeline's spill folder.
pub(crate) fn spill_files(s: &Scratch) -> Vec<PathBuf> {
    let dir = s.path("state/spill/streamed");
    match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "seg"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Waits until the run's walsender streams from its slot, so a
/// transaction opened next is decoded by that session. (A slot is already
/// `active` while CREATE_REPLICATION_SLOT waits for the transactions
/// running in the cluster to end — a transaction opened then would be one
/// of them, and the test would wait for itself.)
pub(crate) async fn until_streaming(source: &TestDb, child: &mut Child) {
    let admin = connect(&crate::support::pg::server_url()).await;
    let deadline = Instant::now() + WITHIN;
    loop {
        let streaming = admin
            .query_opt(
                "SELECT 1 FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid
                  WHERE s.slot_name = $1 AND r.state = 'streaming'",
                &[&source.name],
            )
            .await
            .unwrap()
            .is_some();
        if streaming {
            return;
        }
        assert!(child.try_wait().unwrap().is_none(), "logferry exited before streaming");
        assert!(Instant::now() < deadline, "the run never started streaming");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until spill files exist: the open transaction reached logferry.
pub(crate) async fn until_spilled(s: &Scratch, child: &mut Child) {
    let deadline = Instant::now() + WITHIN;
    while spill_files(s).is_empty() {
        assert!(child.try_wait().unwrap().is_none(), "logferry exited while the transaction streamed");
        assert!(Instant::now() < deadline, "no spill file appeared while the big transaction was open: nothing was streamed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `logferry run` in the background, killed if the test fails first.
pub(crate) struct Run(Option<Child>);

impl Run {
    pub(crate) fn start(s: &Scratch) -> Run {
        Run(Some(s.spawn(&["run"])))
    }

    pub(crate) fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("running")
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Stops a run with SIGTERM and waits for it.
pub(crate) fn stop(mut run: Run) -> String {
    let child = run.0.take().expect("running");
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "run failed: {}", text(&out.stderr));
    text(&out.stderr)
}

/// `run --once`: catches up with everything committed so far, then exits.
pub(crate) fn catch_up(s: &Scratch) -> String {
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "catch-up run failed: {}", text(&out.stderr));
    text(&out.stderr)
}

pub(crate) async fn count(db: &TestDb) -> i64 {
    db.client.query_one("SELECT count(*) FROM big", &[]).await.unwrap().get(0)
}

/// Every row of `big` as text, by key.
pub(crate) async fn dump(db: &TestDb) -> Vec<String> {
    crate::support::pg::rows(db, "SELECT id, v, pad FROM big ORDER BY id").await
}

pub(crate) fn no_spill_left(s: &Scratch) {
    let left = spill_files(s);
    assert!(left.is_empty(), "spill files left behind: {left:?}");
}

fn segment_dir(s: &Scratch) -> PathBuf {
    s.path("state/spill/streamed")
}

fn exists(p: &Path) -> bool {
    p.exists()
}

#[test]
fn a_big_transaction_streams_before_its_commit_and_applies_whole() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(databases("stream_big"));
    let s = Scratch::new(&config(&source, &target, ""));
    let mut run = Run::start(&s);
    rt.block_on(async {
        until_streaming(&source, run.child()).await;
        let tx = connect(&source.url).await;
        tx.batch_execute(&format!(
            "BEGIN; {}; SELECT pg_logical_emit_message(true, 'app', 'inside'); {}",
            insert_sql(1, BIG / 2),
            insert_sql(BIG / 2 + 1, BIG)
        ))
        .await
        .unwrap();
        until_spilled(&s, run.child()).await;
        // Streamed, and nothing applied before the commit.
        assert_eq!(count(&target).await, 0, "rows of an open transaction reached the target");
        tx.batch_execute("COMMIT").await.unwrap();
        // The running session applies it once committed.
        let deadline = Instant::now() + WITHIN;
        while count(&target).await < BIG {
            assert!(Instant::now() < deadline, "the committed transaction never reached the target");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    no_spill_left(&s);
    stop(run);
    catch_up(&s);
    rt.block_on(async {
        assert_eq!(count(&target).await, BIG);
        assert!(dump(&source).await == dump(&target).await, "target differs from source");
    });
    no_spill_left(&s);
    // One transaction, once (the stop checkpointed it): the same tx id on
    // every row and on the message, which comes between the two halves in
    // the source's order (`seq`; the file is written by parallel lanes),
    // and only the last record ends it.
    let records = read_json_lines(&s.path("out/changes.jsonl"));
    let first = records.iter().find(|c| c.op == Op::Insert as i32).expect("rows in the file");
    assert!(!first.tx_id.is_empty());
    let mut whole: Vec<_> = records
        .iter()
        .filter(|c| c.tx_id == first.tx_id && (c.op == Op::Insert as i32 || c.op == Op::Message as i32))
        .collect();
    whole.sort_by_key(|c| c.seq);
    assert_eq!(whole.len() as i64, BIG + 1, "the transaction's rows and message, each once");
    let at = whole.iter().position(|c| c.op == Op::Message as i32).expect("the transactional message");
    assert_eq!(at as i64, BIG / 2, "the message between the two inserts");
    assert_eq!(whole[at].message.as_ref().unwrap().prefix, "app");
    assert!(whole.last().unwrap().tx_end && whole[..BIG as usize].iter().all(|c| !c.tx_end));
    assert!(whole.iter().all(|c| c.commit_time == whole[0].commit_time && c.commit_time.is_some()));
}

#[test]
fn a_transaction_rolled_back_after_streaming_leaves_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(databases("stream_abort"));
    let s = Scratch::new(&config(&source, &target, ""));
    let mut run = Run::start(&s);
    rt.block_on(async {
        until_streaming(&source, run.child()).await;
        let tx = connect(&source.url).await;
        tx.batch_execute(&format!("BEGIN; {}", insert_sql(1, BIG))).await.unwrap();
        until_spilled(&s, run.child()).await;
        tx.batch_execute("ROLLBACK").await.unwrap();
        source.client.batch_execute("INSERT INTO big VALUES (-1, 0, 'after')").await.unwrap();
        // The abort comes before the row committed after it.
        let deadline = Instant::now() + WITHIN;
        while count(&target).await == 0 {
            assert!(Instant::now() < deadline, "the row committed after the rollback never arrived");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    no_spill_left(&s);
    stop(run);
    catch_up(&s);
    rt.block_on(async {
        assert_eq!(dump(&target).await, ["-1|0|after"], "only the committed row");
    });
    no_spill_left(&s);
}

#[test]
fn a_subtransaction_rolled_back_inside_a_streamed_transaction_is_discarded() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(databases("stream_sub"));
    let s = Scratch::new(&config(&source, &target, ""));
    let mut run = Run::start(&s);
    rt.block_on(async {
        until_streaming(&source, run.child()).await;
        let tx = connect(&source.url).await;
        // The kept rows before the savepoint are few: the spill files that
        // appear hold the subtransaction's rows.
        tx.batch_execute(&format!("BEGIN; {}; SAVEPOINT s; {}", insert_sql(1, 10), insert_sql(1001, 1000 + BIG))).await.unwrap();
        until_spilled(&s, run.child()).await;
        tx.batch_execute(&format!("ROLLBACK TO SAVEPOINT s; {}; COMMIT", insert_sql(11, 20))).await.unwrap();
    });
    stop(run);
    catch_up(&s);
    rt.block_on(async {
        assert_eq!(count(&target).await, 20, "the rolled-back subtransaction's rows were applied");
        assert!(dump(&source).await == dump(&target).await, "target differs from source");
    });
    no_spill_left(&s);
}

#[test]
fn streaming_off_replicates_big_transactions_whole() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(databases("stream_off"));
    let s = Scratch::new(&config(&source, &target, "streaming = \"off\""));
    catch_up(&s);
    rt.block_on(source.client.batch_execute(&insert_sql(1, BIG))).unwrap();
    let log = catch_up(&s);
    assert!(log.contains("streaming=false"), "the run should say it does not stream: {log}");
    rt.block_on(async {
        assert_eq!(count(&target).await, BIG);
        assert!(dump(&source).await == dump(&target).await, "target differs from source");
    });
    assert!(!exists(&segment_dir(&s)), "no spill folder without streaming");
}

#[test]
fn sigkill_during_a_streamed_transaction_then_restart_applies_it_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(databases("stream_kill"));
    let s = Scratch::new(&config(&source, &target, ""));
    let mut run = Run::start(&s);
    let tx = rt.block_on(async {
        until_streaming(&source, run.child()).await;
        let tx = connect(&source.url).await;
        tx.batch_execute(&format!("BEGIN; {}", insert_sql(1, BIG))).await.unwrap();
        until_spilled(&s, run.child()).await;
        tx
    });
    run.child().kill().unwrap(); // SIGKILL, mid-stream
    run.child().wait().unwrap();
    assert!(!spill_files(&s).is_empty(), "the killed run's spill files are still there");
    rt.block_on(tx.batch_execute("COMMIT")).unwrap();
    let log = catch_up(&s);
    assert!(log.contains("removed spill files"), "the restart should remove the leftovers: {log}");
    rt.block_on(async {
        assert_eq!(count(&target).await, BIG);
        assert!(dump(&source).await == dump(&target).await, "target differs from source");
    });
    no_spill_left(&s);
}
