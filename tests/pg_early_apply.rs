//! Early apply (`logferry::pipeline::early`): a streamed transaction is
//! applied on a PostgreSQL target while it is still open on the source,
//! and becomes visible there only at its commit.
//!
//! The pipelines here have one PostgreSQL target (early apply needs every
//! target to hold a transaction open; `pg_streaming`'s pipelines also
//! write a file, so they test the way through the lanes). A row trigger on
//! the target table counts arriving rows in a sequence, which no rollback
//! undoes: its value shows rows reached the target while the source's
//! transaction was still open, and the target's own count shows they were
//! not visible.

use crate::pg_streaming::{
    catch_up, config, count, databases, dump, insert_sql, no_spill_left, stop, until_streaming, Run, BIG, WITHIN,
};
use crate::support::binary::Scratch;
use crate::support::pg::{connect, TestDb};
use std::time::{Duration, Instant};

const FILE_TARGET: &str = "[[pipeline.target]]\nkind = \"file\"\npath = \"out/changes.jsonl\"\n";

/// `pg_streaming`'s pipeline without its file target.
fn early_config(source: &TestDb, target: &TestDb) -> String {
    let c = config(source, target, "");
    assert!(c.contains(FILE_TARGET));
    c.replace(FILE_TARGET, "")
}

/// The target's `big`, with a trigger counting arriving rows in `arrived`.
async fn counted_target(target: &TestDb) {
    target
        .client
        .batch_execute(
            "CREATE TABLE big (id bigint PRIMARY KEY, v int NOT NULL, pad text);
             CREATE SEQUENCE arrived;
             CREATE FUNCTION note_arrival() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM nextval('arrived'); RETURN NEW; END $$;
             CREATE TRIGGER note_arrival BEFORE INSERT ON big FOR EACH ROW EXECUTE FUNCTION note_arrival();",
        )
        .await
        .unwrap();
}

/// Rows that reached the target's `big`, committed or not.
async fn arrived(target: &TestDb) -> i64 {
    let admin = connect(&target.url).await;
    admin.query_one("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM arrived", &[]).await.unwrap().get(0)
}

/// Waits until at least `n` rows reached the target.
async fn until_arrived(target: &TestDb, n: i64, run: &mut Run) {
    let deadline = Instant::now() + WITHIN;
    while arrived(target).await < n {
        assert!(run.child().try_wait().unwrap().is_none(), "logferry exited");
        assert!(Instant::now() < deadline, "no row of the open transaction reached the target");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn until_count(target: &TestDb, n: i64) {
    let deadline = Instant::now() + WITHIN;
    while count(target).await != n {
        assert!(Instant::now() < deadline, "the target never held {n} rows (it has {})", count(target).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sessions inside a transaction on the target's database: one that
/// wrote (running a statement or not), or one idle in it.
async fn open_transactions(target: &TestDb) -> i64 {
    let admin = connect(&crate::support::pg::server_url()).await;
    admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()
               AND (backend_xid IS NOT NULL OR state LIKE 'idle in transaction%')",
            &[&target.name],
        )
        .await
        .unwrap()
        .get(0)
}

/// A running early-apply pipeline over fresh databases whose target
/// counts arriving rows of `big` (after `extra_target_sql`), streaming.
struct Started {
    source: TestDb,
    target: TestDb,
    s: Scratch,
    run: Run,
}

async fn started(prefix: &str, extra_target_sql: &str) -> Started {
    let (source, target) = databases(prefix).await;
    counted_target(&target).await;
    target.client.batch_execute(extra_target_sql).await.unwrap();
    let s = Scratch::new(&early_config(&source, &target));
    let mut run = Run::start(&s);
    until_streaming(&source, run.child()).await;
    Started { source, target, s, run }
}

impl Started {
    /// Opens a source transaction (`sql` after its BEGIN) and waits until
    /// its first row reached the target; returns its session.
    async fn open(&mut self, sql: &str) -> tokio_postgres::Client {
        let tx = connect(&self.source.url).await;
        tx.batch_execute(&format!("BEGIN; {sql}")).await.unwrap();
        until_arrived(&self.target, 1, &mut self.run).await;
        tx
    }
}

#[test]
fn a_streamed_transaction_reaches_the_target_before_its_commit_and_shows_only_after_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut t = rt.block_on(started("early_big", ""));
    rt.block_on(async {
        // The source transaction is open: rows reach the target anyway ...
        let tx = t.open(&insert_sql(1, BIG)).await;
        // ... inside a transaction of the target's, so none is visible.
        assert_eq!(count(&t.target).await, 0, "rows of an open transaction are visible on the target");
        assert!(open_transactions(&t.target).await >= 1, "no transaction open on the target");
        tx.batch_execute("COMMIT").await.unwrap();
        until_count(&t.target, BIG).await;
        assert!(dump(&t.source).await == dump(&t.target).await, "target differs from source");
    });
    let log = stop(t.run);
    assert!(log.contains("applied while it streamed"), "the transaction went through the lanes: {log}");
    no_spill_left(&t.s);
    // Applied once: a new run finds nothing more to do.
    catch_up(&t.s);
    rt.block_on(async {
        assert_eq!(count(&t.target).await, BIG);
        assert_eq!(open_transactions(&t.target).await, 0);
    });
}

#[test]
fn a_streamed_transaction_rolled_back_after_reaching_the_target_leaves_nothing_there() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut t = rt.block_on(started("early_abort", ""));
    rt.block_on(async {
        let tx = t.open(&insert_sql(1, BIG)).await;
        tx.batch_execute("ROLLBACK").await.unwrap();
        t.source.client.batch_execute("INSERT INTO big VALUES (-1, 0, 'after')").await.unwrap();
        until_count(&t.target, 1).await;
        assert_eq!(dump(&t.target).await, ["-1|0|after"], "only the committed row");
        assert_eq!(open_transactions(&t.target).await, 0, "the rolled-back transaction is still open on the target");
    });
    stop(t.run);
    no_spill_left(&t.s);
    catch_up(&t.s);
    rt.block_on(async { assert_eq!(dump(&t.target).await, ["-1|0|after"]) });
}

#[test]
fn subtransactions_of_an_early_applied_transaction_are_rolled_back_alone() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut t = rt.block_on(started("early_sub", ""));
    rt.block_on(async {
        // The first change is a subtransaction's (its savepoint comes
        // before any row on the target), and it aborts once its rows are
        // there; another one is released on the way.
        let tx = t.open(&format!("SAVEPOINT s; {}", insert_sql(1001, 1000 + BIG))).await;
        tx.batch_execute(&format!(
            "ROLLBACK TO SAVEPOINT s; {}; SAVEPOINT a; {}; RELEASE a; {}; COMMIT",
            insert_sql(1, 10),
            insert_sql(11, 20),
            insert_sql(21, 30)
        ))
        .await
        .unwrap();
        until_count(&t.target, 30).await;
        assert!(dump(&t.source).await == dump(&t.target).await, "target differs from source");
    });
    let log = stop(t.run);
    assert!(log.contains("applied while it streamed"), "the transaction went through the lanes: {log}");
    catch_up(&t.s);
    rt.block_on(async { assert_eq!(count(&t.target).await, 30) });
}

/// A crash after the target committed an early transaction and before the
/// checkpoint passed it: played here by a copy of the slot and of the state
/// folder taken before the transaction, so a second run reads it again.
/// The target's progress rows must make it roll the replay back: a table
/// without a key would otherwise get every row twice.
#[test]
fn a_replayed_early_transaction_is_not_applied_twice() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(databases("early_replay"));
    const LEDGER: i64 = 5_000;
    rt.block_on(source.client.batch_execute("CREATE TABLE ledger (v int, note text); ALTER TABLE ledger REPLICA IDENTITY FULL;"))
        .unwrap();
    let cfg = early_config(&source, &target).replace(r#"tables = ["public.big"]"#, r#"tables = ["public.big", "public.ledger"]"#);
    let s = Scratch::new(&cfg);
    catch_up(&s);
    let replay_slot = format!("{}_replay", source.name);
    rt.block_on(async {
        source
            .client
            .query_one("SELECT pg_copy_logical_replication_slot($1, $2)::text", &[&source.name, &replay_slot])
            .await
            .unwrap();
    });
    copy_dir(&s.path("state"), &s.path("state_before"));
    rt.block_on(source.client.batch_execute(&format!(
        "BEGIN; {}; INSERT INTO ledger SELECT g % 7, 'n' || g FROM generate_series(1, {LEDGER}) g; COMMIT",
        insert_sql(1, BIG)
    )))
    .unwrap();
    let log = catch_up(&s);
    assert!(log.contains("applied while it streamed"), "the transaction went through the lanes: {log}");
    assert_eq!(rt.block_on(ledger(&target)), LEDGER);

    // The state and slot of before the transaction: it is read again.
    std::fs::remove_dir_all(s.path("state")).unwrap();
    std::fs::rename(s.path("state_before"), s.path("state")).unwrap();
    std::fs::write(&s.config, cfg.replace(&format!("slot = \"{}\"", source.name), &format!("slot = \"{replay_slot}\""))).unwrap();
    let log = catch_up(&s);
    assert!(log.contains("already on the target"), "the replay was not recognised: {log}");
    rt.block_on(async {
        assert_eq!(ledger(&target).await, LEDGER, "the keyless table got the replayed rows again");
        assert_eq!(count(&target).await, BIG);
        assert!(dump(&source).await == dump(&target).await, "target differs from source");
        source.client.query_one("SELECT pg_drop_replication_slot($1)::text", &[&replay_slot]).await.unwrap();
    });
}

async fn ledger(db: &TestDb) -> i64 {
    db.client.query_one("SELECT count(*) FROM ledger", &[]).await.unwrap().get(0)
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn early_apply_false_applies_a_streamed_transaction_at_its_commit() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(databases("early_off"));
    let cfg = early_config(&source, &target).replace("[pipeline.apply]\n", "[pipeline.apply]\nearly_apply = false\n");
    assert!(cfg.contains("early_apply = false"));
    let s = Scratch::new(&cfg);
    catch_up(&s);
    rt.block_on(source.client.batch_execute(&format!("BEGIN; {}; COMMIT", insert_sql(1, BIG)))).unwrap();
    let log = catch_up(&s);
    assert!(log.contains("streamed transaction committed"), "the transaction was not streamed: {log}");
    assert!(!log.contains("applied while it streamed"), "applied early with early_apply = false: {log}");
    rt.block_on(async {
        assert_eq!(count(&target).await, BIG);
        assert!(dump(&source).await == dump(&target).await, "target differs from source");
    });
}

#[test]
fn sigkill_while_a_transaction_is_applied_early_then_restart_applies_it_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut t = rt.block_on(started("early_kill", ""));
    let tx = rt.block_on(async {
        t.source.client.batch_execute("INSERT INTO big VALUES (-1, 0, 'before')").await.unwrap();
        t.open(&format!("{}; UPDATE big SET v = 7 WHERE id = -1", insert_sql(1, BIG))).await
    });
    t.run.child().kill().unwrap(); // SIGKILL, with the target's transaction open
    t.run.child().wait().unwrap();
    rt.block_on(tx.batch_execute("COMMIT")).unwrap();
    let log = catch_up(&t.s);
    assert!(log.contains("applied while it streamed"), "the restart did not apply it early: {log}");
    rt.block_on(async {
        assert_eq!(count(&t.target).await, BIG + 1);
        assert!(dump(&t.source).await == dump(&t.target).await, "target differs from source");
        assert_eq!(open_transactions(&t.target).await, 0);
    });
    no_spill_left(&t.s);
}

/// A lock only the target takes (a trigger's advisory lock): the open
/// transaction holds it, and a transaction committed after the early one
/// began waits for it in a lane. Early apply must give up, not wait for
/// that lane forever.
#[test]
fn a_lane_waiting_for_the_open_transactions_lock_makes_early_apply_give_up() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut t = rt.block_on(started(
        "early_lock",
        "CREATE FUNCTION one_at_a_time() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(1); RETURN NEW; END $$;
         CREATE TRIGGER one_at_a_time BEFORE INSERT ON big FOR EACH ROW EXECUTE FUNCTION one_at_a_time();",
    ));
    rt.block_on(async {
        let tx = t.open(&insert_sql(1, BIG)).await;
        // Committed while the big one is open: its lane waits for the lock.
        t.source.client.batch_execute("INSERT INTO big VALUES (-1, 0, 'meanwhile')").await.unwrap();
        tx.batch_execute("COMMIT").await.unwrap();
        until_count(&t.target, BIG + 1).await;
        assert!(dump(&t.source).await == dump(&t.target).await, "target differs from source");
    });
    let log = stop(t.run);
    assert!(log.contains("the lanes applied nothing for a while"), "early apply did not give up: {log}");
    assert!(!log.contains("applied while it streamed"), "{log}");
    no_spill_left(&t.s);
}
