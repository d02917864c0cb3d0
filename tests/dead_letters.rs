//! `on_error = "dead_letter"`: a record a target refuses definitely is set
//! aside with the later records of its key, everything else is applied and
//! the checkpoint moves on; the dead keys survive a restart; `stop` and
//! refused control records still stop the pipeline. End to end with the
//! binary and PostgreSQL: a CHECK constraint refuses a row, `dead-letters
//! list` shows it, `replay` applies it once the constraint is gone.

use crate::support::binary::{text, Scratch};
use crate::support::pg::{fresh_db, rows, TestDb};
use crate::support::*;
use logferry::checkpoint::{CheckpointStore, DeadLetter};
use logferry::config::{OnError, Ordering};
use logferry::record::{Change, Op, Row, Value};
use logferry::sinks::Sink;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn key_of(c: &Change) -> (String, String) {
    (c.table.as_ref().unwrap().name.clone(), format!("{:?}", c.key_values()))
}

fn applied_seqs(log: &[Applied]) -> BTreeSet<u64> {
    log.iter().flat_map(|a| a.records.iter().map(|c| c.seq)).collect()
}

/// Per key, the sink saw records in increasing seq order.
fn assert_per_key_order(log: &[Applied]) {
    let mut last: HashMap<(u32, (String, String)), u64> = HashMap::new();
    for a in log {
        for c in &a.records {
            if let Some(prev) = last.insert((a.run, key_of(c)), c.seq) {
                assert!(prev < c.seq, "key {:?} applied seq {} after {}", key_of(c), c.seq, prev);
            }
        }
    }
}

/// The seqs (1-based) of `changes` that must end up as dead letters when
/// the records at `poison` are refused: those, and every later record of
/// a key they (or a held record) touch.
fn expected_dead(changes: &[Change], poison: &BTreeSet<u64>) -> BTreeSet<u64> {
    let mut dead_keys = BTreeSet::new();
    let mut dead = BTreeSet::new();
    for (i, c) in changes.iter().enumerate() {
        let seq = i as u64 + 1;
        let mut keys = vec![key_of(c)];
        if c.changes_key() {
            keys.push((c.table.as_ref().unwrap().name.clone(), format!("{:?}", c.old_key_values())));
        }
        if poison.contains(&seq) || keys.iter().any(|k| dead_keys.contains(k)) {
            dead.insert(seq);
            dead_keys.extend(keys);
        }
    }
    dead
}

fn letters(store: &CheckpointStore, pipeline: &str) -> Vec<DeadLetter> {
    store.dead_letters(pipeline).unwrap().list().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_row_is_set_aside_with_later_changes_of_its_key_and_the_rest_is_applied() {
    for ordering in [Ordering::Key, Ordering::Transaction] {
        let changes = workload(3000, 60, 5, 11);
        // Two poison rows on different keys, plus transient noise and delays
        // (transient failures are retried, never set aside).
        let poison: BTreeSet<u64> = [700, 1900].into();
        let dead = expected_dead(&changes, &poison);
        assert!(dead.len() > poison.len() + 10, "the poison keys have later changes: {dead:?}");
        let store = CheckpointStore::temporary().unwrap();
        let log = Arc::new(Mutex::new(Vec::<Applied>::new()));
        let faults = Faults { definite_at: poison.iter().copied().collect(), transient_pct: 10, max_delay: Duration::from_micros(200), seed: 3 };
        let sink = Arc::new(RecordingSink::new(0, log.clone(), faults));
        let mut apply = fast_apply(4);
        apply.ordering = ordering;
        let summary = run_pipeline_on_error("p", apply, OnError::DeadLetter, ScriptSource::new(changes.clone()), vec![sink as Arc<dyn Sink>], &store, true, no_shutdown())
            .await
            .unwrap_or_else(|e| panic!("{ordering:?}: the pipeline goes on past refused rows: {e}"));

        // The checkpoint passed the dead letters: they count as acknowledged.
        assert_eq!(summary.checkpoint.as_ref().unwrap().seq, 3000, "{ordering:?}");
        assert_eq!(store.load("p").unwrap().unwrap().seq, 3000);
        assert_eq!(summary.dead_lettered, dead.len() as u64);
        assert_eq!(summary.applied, 3000 - dead.len() as u64);

        // Exactly the poison rows and the later changes of their keys are in
        // the store, in seq order, and none of them reached the target.
        let stored = letters(&store, "p");
        let stored_seqs: BTreeSet<u64> = stored.iter().map(DeadLetter::seq).collect();
        assert_eq!(stored_seqs, dead, "{ordering:?}");
        assert!(stored.windows(2).all(|w| w[0].seq() < w[1].seq()));
        for l in &stored {
            assert_eq!(l.change.after, changes[l.seq() as usize - 1].after, "the record is stored whole");
            if poison.contains(&l.seq()) {
                assert_eq!((l.target.as_str(), l.error.as_str()), ("recording", "injected definite failure"));
            } else {
                assert!(l.target.is_empty() && l.error.contains("held back") && l.error.contains("seq"), "{l:?}");
            }
        }
        let log = log.lock().unwrap();
        let applied = applied_seqs(&log);
        assert!(applied.is_disjoint(&dead), "{ordering:?}: a dead letter reached the target");
        // Every other record was applied: other keys are unaffected.
        let all: BTreeSet<u64> = (1..=3000).collect();
        assert_eq!(applied, all.difference(&dead).copied().collect(), "{ordering:?}");
        assert_per_key_order(&log);
        let live: Vec<&Change> = changes.iter().enumerate().filter(|(i, _)| !dead.contains(&(*i as u64 + 1))).map(|(_, c)| c).collect();
        let in_order: Vec<&Change> = log.iter().flat_map(|a| a.records.iter()).collect();
        assert_eq!(final_state(in_order), final_state(live));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_change_of_a_dead_key_is_held_and_its_new_key_becomes_dead() {
    let moved = |from: i64, to: i64, v: i64| {
        let mut c = change("a", Op::Update, to, v);
        c.before = Some(Row::from_pairs([("id", Value::int64(from))]));
        c
    };
    let mut changes = vec![
        change("a", Op::Insert, 1, 1), // 1: refused
        change("a", Op::Insert, 3, 2), // 2
        moved(1, 2, 3),                // 3: moves the dead key 1 to 2: held
        change("a", Op::Update, 2, 4), // 4: key 2 is dead now: held
        change("b", Op::Insert, 1, 5), // 5: same id, other table: applied
        change("a", Op::Update, 3, 6), // 6: applied
        change("a", Op::Insert, 1, 7), // 7: key 1 again: held
    ];
    for c in &mut changes {
        c.tx_end = true;
    }
    let store = CheckpointStore::temporary().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::new(RecordingSink::new(0, log.clone(), Faults { definite_at: [1].into(), ..Faults::default() }));
    let summary = run_pipeline_on_error("p", fast_apply(4), OnError::DeadLetter, ScriptSource::new(changes), vec![sink as Arc<dyn Sink>], &store, true, no_shutdown())
        .await
        .unwrap();
    assert_eq!(summary.checkpoint.unwrap().seq, 7);
    let stored: Vec<u64> = letters(&store, "p").iter().map(DeadLetter::seq).collect();
    assert_eq!(stored, [1, 3, 4, 7]);
    assert_eq!(applied_seqs(&log.lock().unwrap()), [2, 5, 6].into());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_keys_survive_a_restart() {
    let changes = workload(2000, 40, 4, 23);
    let poison: BTreeSet<u64> = [300].into();
    let dead = expected_dead(&changes, &poison);
    assert!(dead.iter().any(|&s| s > 1000), "the poison key has changes in the second half");
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Vec::<Applied>::new()));

    // Run 1: the first half; seq 300 is refused.
    {
        let store = CheckpointStore::open(dir.path()).unwrap();
        let sink = Arc::new(RecordingSink::new(0, log.clone(), Faults { definite_at: poison.iter().copied().collect(), ..Faults::default() }));
        let summary = run_pipeline_on_error("p", fast_apply(4), OnError::DeadLetter, ScriptSource::new(changes[..1000].to_vec()), vec![sink as Arc<dyn Sink>], &store, true, no_shutdown())
            .await
            .unwrap();
        assert_eq!(summary.checkpoint.unwrap().seq, 1000);
    }
    // Run 2, a new process: the target would take everything now, but the
    // key of seq 300 still has its dead letter, so its later changes follow it.
    let store = CheckpointStore::open(dir.path()).unwrap();
    let sink = Arc::new(RecordingSink::new(1, log.clone(), Faults::default()));
    let summary = run_pipeline_on_error("p", fast_apply(4), OnError::DeadLetter, ScriptSource::new(changes.clone()), vec![sink as Arc<dyn Sink>], &store, true, no_shutdown())
        .await
        .unwrap();
    assert_eq!(summary.checkpoint.unwrap().seq, 2000);
    let stored: BTreeSet<u64> = letters(&store, "p").iter().map(DeadLetter::seq).collect();
    assert_eq!(stored, dead);
    let log = log.lock().unwrap();
    let applied = applied_seqs(&log);
    assert!(applied.is_disjoint(&dead), "a change of a dead key reached the target after the restart");
    assert_eq!(applied.len() + dead.len(), 2000);
    assert_per_key_order(&log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_error_stop_still_stops_and_sets_nothing_aside() {
    let changes = workload(2000, 40, 4, 29);
    let store = CheckpointStore::temporary().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::new(RecordingSink::new(0, log.clone(), Faults { definite_at: [800].into(), ..Faults::default() }));
    let err = run_pipeline_on_error("p", fast_apply(4), OnError::Stop, ScriptSource::new(changes), vec![sink as Arc<dyn Sink>], &store, true, no_shutdown())
        .await
        .expect_err("stop is the default policy")
        .to_string();
    assert!(err.contains("injected definite failure"), "{err}");
    assert!(letters(&store, "p").is_empty());
    assert!(store.load("p").unwrap().map_or(0, |c| c.seq) < 800);
    assert!(!applied_seqs(&log.lock().unwrap()).contains(&800));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_truncate_stops_the_pipeline_even_with_dead_letters_on() {
    let mut changes: Vec<Change> = (0..20).map(|i| change("a", Op::Insert, i, i)).collect();
    let mut trunc = change("a", Op::Truncate, 0, 0);
    trunc.after = None;
    trunc.key_columns.clear();
    changes.push(trunc); // seq 21
    changes.extend((0..20).map(|i| change("a", Op::Insert, i, 100 + i)));
    for c in &mut changes {
        c.tx_end = true;
    }
    for ordering in [Ordering::Key, Ordering::Transaction] {
        let store = CheckpointStore::temporary().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::new(RecordingSink::new(0, log.clone(), Faults { definite_at: [21].into(), ..Faults::default() }));
        let mut apply = fast_apply(4);
        apply.ordering = ordering;
        let err = run_pipeline_on_error("p", apply, OnError::DeadLetter, ScriptSource::new(changes.clone()), vec![sink as Arc<dyn Sink>], &store, true, no_shutdown())
            .await
            .expect_err("a truncate is never set aside")
            .to_string();
        assert!(err.contains("injected definite failure"), "{ordering:?}: {err}");
        assert!(letters(&store, "p").is_empty(), "{ordering:?}");
        let checkpoint = store.load("p").unwrap().map_or(0, |c| c.seq);
        // With key ordering the truncate is a barrier, applied alone after
        // everything before it; with transaction ordering it may share a
        // batch whose other records are then not acknowledged (the next run
        // applies them again).
        match ordering {
            Ordering::Key => assert_eq!(checkpoint, 20, "everything before the truncate"),
            Ordering::Transaction => assert!(checkpoint <= 20, "{checkpoint}"),
        }
        assert!(applied_seqs(&log.lock().unwrap()).iter().all(|&s| s < 21), "{ordering:?}");
    }
}

// ---------------------------------------------------------------------------
// End to end: the binary, PostgreSQL source and target.

fn pg_config(source: &TestDb, target: &TestDb) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "dl"
on_error = "dead_letter"
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = ["public.items"]
slot = "{slot}"
publication = "{slot}"
[[pipeline.target]]
kind = "postgres"
url = "{dst}"
[pipeline.apply]
lanes = 4
batch_max_rows = 50
batch_max_wait = "5ms"
checkpoint_interval = "20ms"
"#,
        src = source.url,
        dst = target.url,
        slot = source.name,
    )
}

const ITEMS: &str = "CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL, note text)";

/// One `list --json` line per dead letter: (seq, key, target, error).
fn listed(s: &Scratch) -> Vec<(u64, String, String, String)> {
    let out = s.run(&["dead-letters", "list", "--json"]);
    assert!(out.status.success(), "list failed: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| {
            let j: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert_eq!(j["pipeline"], "dl");
            assert_eq!(j["table"], "public.items");
            assert_eq!(j["record"]["seq"], j["seq"], "the canonical record rides along: {l}");
            (
                j["seq"].as_u64().unwrap(),
                j["key"].as_str().unwrap().to_string(),
                j["target"].as_str().unwrap().to_string(),
                j["error"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn postgres_check_violation_is_dead_lettered_listed_and_replayed_after_the_fix() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = fresh_db("dl_src").await;
        s.client.batch_execute(ITEMS).await.unwrap();
        s.client
            .batch_execute("INSERT INTO items SELECT g, g * 10, 'seed' FROM generate_series(1, 200) g; UPDATE items SET qty = -1 WHERE id = 7;")
            .await
            .unwrap();
        let t = fresh_db("dl_dst").await;
        // The target refuses negative quantities.
        t.client.batch_execute(&format!("{ITEMS}; ALTER TABLE items ADD CONSTRAINT qty_not_negative CHECK (qty >= 0)")).await.unwrap();
        (s, t)
    });
    let s = Scratch::new(&pg_config(&source, &target));
    let dump = |db: &TestDb| rt.block_on(rows(db, "SELECT id, qty, note FROM items ORDER BY id"));

    // Snapshot: row 7 is refused, the other 199 are copied.
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "run failed: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("1 record(s) set aside as dead letters"), "{}", text(&out.stderr));
    let tgt = dump(&target);
    assert_eq!(tgt.len(), 199);
    assert!(!tgt.iter().any(|r| r.starts_with("7|")));

    // Streaming: a later change of row 7 follows it into the store; another
    // row breaks the constraint; other rows go through.
    rt.block_on(source.client.batch_execute(
        "UPDATE items SET note = 'later' WHERE id = 7;
         UPDATE items SET qty = qty + 1 WHERE id IN (3, 8);
         INSERT INTO items VALUES (201, -5, 'bad'), (202, 5, 'good');",
    ))
    .unwrap();
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "run failed: {}", text(&out.stderr));
    let tgt = dump(&target);
    assert!(tgt.contains(&"3|31|seed".to_string()) && tgt.contains(&"8|81|seed".to_string()) && tgt.contains(&"202|5|good".to_string()), "{tgt:?}");
    assert!(!tgt.iter().any(|r| r.starts_with("7|") || r.starts_with("201|")));

    let dl = listed(&s);
    assert_eq!(dl.iter().map(|d| d.1.as_str()).collect::<Vec<_>>(), ["id=7", "id=7", "id=201"], "{dl:?}");
    assert!(dl.windows(2).all(|w| w[0].0 < w[1].0), "seq order: {dl:?}");
    let (refused, held, other) = (&dl[0], &dl[1], &dl[2]);
    for d in [refused, other] {
        assert!(d.2.starts_with("postgres"), "the refusing target is named: {d:?}");
        assert!(d.3.contains("23514") && d.3.contains("qty_not_negative"), "the target's error is kept: {d:?}");
    }
    assert!(held.2.is_empty() && held.3.contains(&format!("seq {}", refused.0)), "{held:?}");
    // The human table has the same rows.
    let table = text(&s.run(&["dead-letters", "list"]).stdout);
    assert!(table.contains("pipeline dl: 3 dead letters") && table.contains("SEQ") && table.contains("public.items"), "{table}");
    assert!(table.lines().filter(|l| l.contains("id=7")).count() == 2, "{table}");

    // Replaying while the constraint is still there: nothing applied, the
    // held change keeps waiting, the errors stay.
    let out = s.run(&["dead-letters", "replay", "--all"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("replayed 0 dead letter(s); 2 failed again; 1 wait"), "{}", text(&out.stdout));
    assert_eq!(listed(&s).len(), 3);

    // Drop the 201 letter (it stays missing on the target), fix the target,
    // replay the rest: row 7 arrives with its later note.
    let out = s.run(&["dead-letters", "drop", "--seq", &other.0.to_string()]);
    assert_eq!(out.status.code(), Some(2), "drop without a terminal needs --yes");
    let out = s.run(&["dead-letters", "drop", "--seq", &other.0.to_string(), "--yes"]);
    assert!(out.status.success(), "drop failed: {}", text(&out.stderr));
    rt.block_on(target.client.batch_execute("ALTER TABLE items DROP CONSTRAINT qty_not_negative")).unwrap();
    let out = s.run(&["dead-letters", "replay", "--all"]);
    assert!(out.status.success(), "replay failed: {} {}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("replayed 2 dead letter(s)"), "{}", text(&out.stdout));
    assert!(listed(&s).is_empty());
    assert!(dump(&target).contains(&"7|-1|later".to_string()));

    // Key 7 is alive again: its next change goes straight to the target; so
    // does a change of the dropped row 201.
    rt.block_on(source.client.batch_execute("UPDATE items SET qty = 70 WHERE id = 7; UPDATE items SET note = 'fixed' WHERE id = 201;")).unwrap();
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "run failed: {}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("dead letters"), "{}", text(&out.stderr));
    assert!(listed(&s).is_empty());
    assert_eq!(dump(&target), dump(&source), "the target equals the source");
}

#[test]
fn dead_letter_commands_say_when_a_run_holds_the_state_dir_and_reset_waits_for_them() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = fresh_db("dl_lock_src").await;
        s.client.batch_execute(ITEMS).await.unwrap();
        s.client.batch_execute("INSERT INTO items VALUES (1, -1, 'bad'), (2, 2, 'ok')").await.unwrap();
        let t = fresh_db("dl_lock_dst").await;
        t.client.batch_execute(&format!("{ITEMS}; ALTER TABLE items ADD CHECK (qty >= 0)")).await.unwrap();
        (s, t)
    });
    let s = Scratch::new(&pg_config(&source, &target));
    let mut child = s.spawn(&["run"]);
    // Follow the run's log: it holds the state dir from before its first
    // pipeline line, and logs each refused record before storing it.
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = lines_tx.send(line);
        }
        all
    });
    let wait_for = |marker: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            match lines.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
                Ok(line) if line.contains(marker) => return,
                Ok(_) => {}
                Err(e) => panic!("the run never logged {marker:?} within 60 s ({e})"),
            }
        }
    };
    wait_for("no checkpoint: starting from the beginning");
    let busy = s.run(&["dead-letters", "list"]);
    assert_eq!(busy.status.code(), Some(1), "{}", text(&busy.stdout));
    let err = text(&busy.stderr);
    assert!(err.contains("in use by another logferry process") && err.contains("only while the pipeline is stopped"), "{err}");
    wait_for("set aside as a dead letter");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let log = reader.join().unwrap();
    assert_eq!(status.code(), Some(0), "{log}");

    // The refused row is there; a reset would renumber over it.
    assert_eq!(listed(&s).len(), 1);
    let out = s.run(&["reset", "--pipeline", "dl", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("1 dead letter(s)") && text(&out.stderr).contains("replay or drop them first"), "{}", text(&out.stderr));
    let out = s.run(&["dead-letters", "drop", "--all", "--yes"]);
    assert!(out.status.success() && text(&out.stdout).contains("dropped 1"), "{}", text(&out.stderr));
    let out = s.run(&["reset", "--pipeline", "dl", "--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
