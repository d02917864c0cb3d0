//! The pipeline core against scripted sources and recording sinks:
//! checkpoints never pass unacknowledged records, per-key order holds across
//! lanes, barriers, transaction ordering, bounded memory.

use crate::support::*;
use logferry::checkpoint::CheckpointStore;
use logferry::config::Ordering;
use logferry::record::Op;
use logferry::sinks::Sink;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering as AtomicOrdering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

fn key_of(c: &logferry::record::Change) -> (String, String) {
    (c.table.as_ref().unwrap().name.clone(), format!("{:?}", c.key_values()))
}

/// Within one run, each key's records were applied in strictly increasing seq order.
fn assert_per_key_order(log: &[Applied]) {
    let mut last: HashMap<(u32, (String, String)), u64> = HashMap::new();
    for a in log {
        for c in &a.records {
            let k = (a.run, key_of(c));
            if let Some(prev) = last.insert(k.clone(), c.seq) {
                assert!(prev < c.seq, "run {}: key {:?} applied seq {} after {}", a.run, k.1, c.seq, prev);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_never_passes_an_unacknowledged_record() {
    let changes = workload(3000, 60, 5, 42);
    let expected = final_state(&changes);
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Vec::<Applied>::new()));
    // Runs 1 and 2 die on a definite failure (plus transient noise and
    // random delays); run 3 finishes.
    let plans = [
        Faults { definite_at: [900].into(), transient_pct: 10, max_delay: Duration::from_micros(300), seed: 1 },
        Faults { definite_at: [2100].into(), transient_pct: 20, max_delay: Duration::from_micros(300), seed: 2 },
        Faults { transient_pct: 5, max_delay: Duration::from_micros(300), seed: 3, ..Faults::default() },
    ];
    let mut checkpoints = Vec::new();
    for (run, faults) in plans.into_iter().enumerate() {
        // A fresh store handle per run, as after a process restart.
        let store = CheckpointStore::open(dir.path()).unwrap();
        let before = store.load("p").unwrap().map_or(0, |c| c.seq);
        let sink = Arc::new(RecordingSink::new(run as u32, log.clone(), faults));
        let res = run_pipeline("p", fast_apply(8), ScriptSource::new(changes.clone()), vec![sink as Arc<dyn Sink>], &store, true, no_shutdown()).await;
        let after = store.load("p").unwrap().map_or(0, |c| c.seq);
        assert!(after >= before, "checkpoint went backwards: {before} -> {after}");
        match run {
            0 | 1 => {
                let err = res.expect_err("the injected definite failure stops the run").to_string();
                assert!(err.contains("injected definite failure") && err.contains("next run replays"), "{err}");
            }
            _ => {
                res.expect("last run succeeds");
            }
        }
        // Every record at or below the checkpoint was acknowledged by the sink.
        let acked: BTreeSet<u64> = log.lock().unwrap().iter().flat_map(|a| a.records.iter().map(|c| c.seq)).collect();
        let missing: Vec<u64> = (1..=after).filter(|s| !acked.contains(s)).take(5).collect();
        assert!(missing.is_empty(), "run {run}: checkpoint {after} passes unacknowledged seqs {missing:?}");
        checkpoints.push(after);
        drop(store);
    }
    assert!(checkpoints[0] < 900 && checkpoints[1] < 2100, "{checkpoints:?}");
    assert_eq!(checkpoints[2], 3000);

    let log = log.lock().unwrap();
    assert_per_key_order(&log);
    // Every record reached the target, with the seq it was first given.
    let mut by_seq: BTreeMap<u64, &logferry::record::Change> = BTreeMap::new();
    for c in log.iter().flat_map(|a| &a.records) {
        if let Some(prev) = by_seq.insert(c.seq, c) {
            assert_eq!(prev.after, c.after, "replay of seq {} differs", c.seq);
        }
    }
    assert_eq!(by_seq.len(), 3000);
    assert_eq!(by_seq.keys().next_back(), Some(&3000));
    // The target, replaying the log in application order, ends equal to the source.
    let applied_in_order: Vec<_> = log.iter().flat_map(|a| a.records.iter()).collect();
    assert_eq!(final_state(applied_in_order), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_order_holds_across_lanes_under_random_delays() {
    for seed in 0..4u64 {
        let changes = workload(4000, 25, 3, 100 + seed);
        let store = CheckpointStore::temporary().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let faults = Faults { max_delay: Duration::from_micros(500), transient_pct: 3, seed, ..Faults::default() };
        let sink = Arc::new(RecordingSink::new(0, log.clone(), faults));
        let mut apply = fast_apply(8);
        apply.batch_max_rows = 1 + seed as usize * 20;
        run_pipeline("p", apply, ScriptSource::new(changes.clone()), vec![sink as Arc<dyn Sink>], &store, true, no_shutdown())
            .await
            .unwrap();
        let log = log.lock().unwrap();
        assert_per_key_order(&log);
        let lanes: BTreeSet<usize> = log.iter().map(|a| a.lane).collect();
        assert!(lanes.len() > 1, "work was spread over lanes: {lanes:?}");
        let applied: Vec<_> = log.iter().flat_map(|a| a.records.iter()).collect();
        assert_eq!(applied.len(), 4000);
        assert_eq!(final_state(applied), final_state(&changes));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_changing_updates_and_truncates_are_barriers() {
    // id 1 becomes id 2, then a new id 1 is inserted; with many lanes and
    // random delays, a non-barrier router could apply them out of order.
    let mut changes = Vec::new();
    for round in 0..40i64 {
        let base = round * 10;
        changes.push(change("a", Op::Insert, base + 1, round));
        let mut mv = change("a", Op::Update, base + 2, round);
        mv.before = Some(logferry::record::Row::from_pairs([("id", logferry::record::Value::int64(base + 1))]));
        changes.push(mv);
        changes.push(change("a", Op::Insert, base + 1, 1000 + round));
        changes.push(change("b", Op::Insert, round, round));
    }
    let mut trunc = change("b", Op::Truncate, 0, 0);
    trunc.after = None;
    trunc.key_columns.clear();
    changes.push(trunc);
    changes.push(change("b", Op::Insert, 7, 7));
    for c in changes.iter_mut() {
        c.tx_end = true;
    }
    let store = CheckpointStore::temporary().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let faults = Faults { max_delay: Duration::from_micros(800), seed: 9, ..Faults::default() };
    let sink = Arc::new(RecordingSink::new(0, log.clone(), faults));
    run_pipeline("p", fast_apply(8), ScriptSource::new(changes.clone()), vec![sink as Arc<dyn Sink>], &store, true, no_shutdown())
        .await
        .unwrap();
    let log = log.lock().unwrap();
    // Barriers arrive alone, after everything before them.
    for a in log.iter() {
        if a.records.iter().any(|c| c.changes_key() || c.op() == Op::Truncate) {
            assert_eq!(a.records.len(), 1, "a barrier shares its batch");
        }
    }
    let order: Vec<u64> = log.iter().flat_map(|a| a.records.iter().map(|c| c.seq)).collect();
    for (i, c) in changes.iter().enumerate() {
        if c.changes_key() || c.op() == Op::Truncate {
            let seq = i as u64 + 1;
            let at = order.iter().position(|&s| s == seq).unwrap();
            assert!(order[..at].iter().all(|&s| s < seq), "something after barrier {seq} was applied before it");
            assert!(order[at + 1..].iter().all(|&s| s > seq), "something before barrier {seq} was applied after it");
        }
    }
    let applied: Vec<_> = log.iter().flat_map(|a| a.records.iter()).collect();
    assert_eq!(final_state(applied), final_state(&changes));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_ordering_applies_whole_transactions_in_commit_order() {
    let changes = workload(1000, 40, 7, 5);
    let store = CheckpointStore::temporary().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::new(RecordingSink::new(0, log.clone(), Faults::default()));
    let mut apply = fast_apply(8);
    apply.ordering = Ordering::Transaction;
    apply.batch_max_rows = 3; // smaller than a transaction: batches still end at commits
    run_pipeline("p", apply, ScriptSource::new(changes), vec![sink as Arc<dyn Sink>], &store, true, no_shutdown())
        .await
        .unwrap();
    let log = log.lock().unwrap();
    let seqs: Vec<u64> = log.iter().flat_map(|a| a.records.iter().map(|c| c.seq)).collect();
    assert_eq!(seqs, (1..=1000).collect::<Vec<_>>(), "one lane, commit order");
    for a in log.iter() {
        assert!(a.records.last().unwrap().tx_end, "batch ends mid-transaction");
        assert!(a.records.len() >= 7 || a.records.last().unwrap().seq == 1000);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_target_holds_the_source_back_within_the_budget() {
    let changes = workload(50_000, 1000, 10, 8);
    let store = CheckpointStore::temporary().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (open_tx, open_rx) = watch::channel(false);
    let mut sink = RecordingSink::new(0, log.clone(), Faults::default());
    sink.gate = Some(open_rx);
    let sink = Arc::new(sink);
    let mut apply = fast_apply(4);
    apply.queue_max_records = 2000;
    let source = ScriptSource::new(changes);
    let emitted = source.emitted.clone();
    let task = tokio::spawn({
        let store = store.clone();
        let sink = sink.clone();
        async move { run_pipeline("p", apply, source, vec![sink as Arc<dyn Sink>], &store, true, no_shutdown()).await }
    });
    wait_until_still(&emitted, Duration::from_millis(100), Duration::from_secs(20)).await;
    let held = emitted.load(AtomicOrdering::SeqCst);
    // queue budget + the intake channel + one record in hand.
    assert!(held <= 2000 + 1024 + 1, "source ran {held} records ahead of a stalled target");
    assert!(held >= 2000, "the budget should fill before the source waits ({held})");
    open_tx.send(true).unwrap();
    let summary = task.await.unwrap().unwrap();
    assert_eq!(summary.applied, 50_000);
    assert_eq!(summary.checkpoint.unwrap().seq, 50_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_in_flight_batches_and_checkpoints() {
    let changes = workload(20_000, 500, 4, 77);
    let store = CheckpointStore::temporary().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let faults = Faults { max_delay: Duration::from_micros(200), seed: 4, ..Faults::default() };
    let sink = Arc::new(RecordingSink::new(0, log.clone(), faults));
    let (stop_tx, stop_rx) = watch::channel(false);
    let source = ScriptSource::new(changes.clone());
    let emitted = source.emitted.clone();
    let task = tokio::spawn({
        let store = store.clone();
        async move { run_pipeline("p", fast_apply(4), source, vec![sink as Arc<dyn Sink>], &store, false, stop_rx).await }
    });
    wait_until("3000 changes are emitted", Duration::from_secs(60), || async { emitted.load(AtomicOrdering::SeqCst) >= 3000 }).await;
    stop_tx.send(true).unwrap();
    let summary = task.await.unwrap().expect("clean shutdown");
    let emitted = emitted.load(AtomicOrdering::SeqCst);
    assert_eq!(summary.applied, emitted, "everything emitted was applied before stopping");
    let cp = store.load("p").unwrap().unwrap();
    // The checkpoint is the last transaction end emitted.
    let last_tx_end = (1..=emitted).rev().find(|s| changes[*s as usize - 1].tx_end).unwrap();
    assert_eq!(cp.seq, last_tx_end);
}

/// A scripted source whose first runs die with a transient error after
/// emitting some records (mid-transaction), like a source whose connection
/// is cut; later runs go to the end. It resumes after the position it is given.
struct FlakySource {
    inner: ScriptSource,
    /// Records each failing run emits before failing; runs past the list succeed.
    fail_after: Vec<u64>,
    runs: Arc<std::sync::atomic::AtomicU32>,
    resumed_at: Arc<Mutex<Vec<Option<u64>>>>,
}

impl logferry::sources::Source for FlakySource {
    fn name(&self) -> &str {
        "flaky"
    }
    fn run(&mut self, ctx: logferry::sources::SourceContext) -> logferry::BoxFuture<'_, Result<(), logferry::sources::SourceError>> {
        Box::pin(async move {
            let run = self.runs.fetch_add(1, AtomicOrdering::SeqCst) as usize;
            let start = ctx.resume.as_ref().map(position_index);
            self.resumed_at.lock().unwrap().push(start);
            let Some(&limit) = self.fail_after.get(run) else { return self.inner.run(ctx).await };
            let from = start.unwrap_or(0) as usize;
            for (i, c) in self.inner.changes.iter().enumerate().skip(from).take(limit as usize) {
                let mut c = c.clone();
                c.pipeline = ctx.pipeline.clone();
                c.position = Some(position(i as u64 + 1));
                ctx.emitter.emit(c).await?;
            }
            Err(logferry::sources::SourceError::transient("flaky", "connection reset by peer"))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_loses_its_connection_is_restarted_from_the_checkpoint() {
    // Transactions of 7, so each cut lands inside one.
    let changes = workload(2000, 50, 7, 9);
    let expected = final_state(&changes);
    let dir = tempfile::tempdir().unwrap();
    let store = CheckpointStore::open(dir.path()).unwrap();
    let log = Arc::new(Mutex::new(Vec::<Applied>::new()));
    let sink = Arc::new(RecordingSink::new(0, log.clone(), Faults { max_delay: Duration::from_micros(200), seed: 5, ..Faults::default() }));
    let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let resumed_at = Arc::new(Mutex::new(Vec::new()));
    let source = FlakySource {
        inner: ScriptSource::new(changes.clone()),
        fail_after: vec![300, 450, 10, 600],
        runs: runs.clone(),
        resumed_at: resumed_at.clone(),
    };
    let summary = run_pipeline("p", fast_apply(4), source, vec![sink as Arc<dyn Sink>], &store, true, no_shutdown())
        .await
        .expect("transient source failures do not stop the pipeline");
    assert_eq!(runs.load(AtomicOrdering::SeqCst), 5, "four failed runs, then one to the end");
    assert_eq!(summary.checkpoint.unwrap().seq, 2000);
    // Each restart resumed at a transaction end at or after the previous start.
    let starts: Vec<u64> = resumed_at.lock().unwrap().iter().map(|s| s.unwrap_or(0)).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]) && starts[1] > 0, "{starts:?}");
    assert!(starts.iter().all(|s| s % 7 == 0), "restarts begin after whole transactions: {starts:?}");

    let log = log.lock().unwrap();
    // Replays go back in seq, but each key's last applied record is its newest.
    let mut last: HashMap<(String, String), u64> = HashMap::new();
    let mut newest: HashMap<(String, String), u64> = HashMap::new();
    for c in log.iter().flat_map(|a| &a.records) {
        last.insert(key_of(c), c.seq);
        let n = newest.entry(key_of(c)).or_insert(0);
        *n = (*n).max(c.seq);
    }
    assert_eq!(last, newest, "a key ended on an older record");
    // A replayed record carries the seq it had the first time.
    let mut by_seq: BTreeMap<u64, &logferry::record::Change> = BTreeMap::new();
    let mut replays = 0;
    for c in log.iter().flat_map(|a| &a.records) {
        if let Some(prev) = by_seq.insert(c.seq, c) {
            assert_eq!((prev.after.as_ref(), prev.before.as_ref()), (c.after.as_ref(), c.before.as_ref()), "replay of seq {} differs", c.seq);
            replays += 1;
        }
    }
    assert!(replays > 0, "the cut transactions were replayed");
    assert_eq!(by_seq.len(), 2000, "every record delivered, numbered without gaps");
    let applied_in_order: Vec<_> = log.iter().flat_map(|a| a.records.iter()).collect();
    assert_eq!(final_state(applied_in_order), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_while_a_target_is_down_stops_without_waiting_for_it() {
    let changes = workload(3000, 200, 10, 31);
    let store = CheckpointStore::temporary().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    // The target fails every apply transiently (it is down), retried without limit.
    let sink = Arc::new(RecordingSink::new(0, log.clone(), Faults { transient_pct: 100, seed: 6, ..Faults::default() }));
    let mut apply = fast_apply(4);
    apply.max_retries = None;
    let (stop_tx, stop_rx) = watch::channel(false);
    let source = ScriptSource::new(changes.clone());
    let task = tokio::spawn({
        let store = store.clone();
        let sink = sink.clone();
        async move { run_pipeline("p", apply, source, vec![sink as Arc<dyn Sink>], &store, false, stop_rx).await }
    });
    wait_until("the lanes retry the unavailable target", Duration::from_secs(30), || {
        let calls = sink.calls.load(AtomicOrdering::SeqCst);
        async move { calls >= 20 }
    })
    .await;
    stop_tx.send(true).unwrap();
    // Without giving the batches up, this waits for the target forever.
    let summary = task.await.unwrap().expect("a clean stop");
    assert_eq!(summary.applied, 0);
    assert!(summary.checkpoint.is_none() && store.load("p").unwrap().is_none(), "nothing was applied, so nothing is checkpointed");
    assert!(log.lock().unwrap().is_empty());
}
