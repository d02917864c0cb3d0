//! The durable spool (`[pipeline.spool]`) in the pipeline core, with
//! scripted sources and a target that can be held down: the source is told
//! its records are durable while the target has applied nothing; a
//! restarted run delivers what the spool holds without asking the source
//! for it again; the byte bound holds the source back; a spool turned off
//! resumes from its source position or refuses while records are undelivered.

use crate::support::*;
use logferry::checkpoint::CheckpointStore;
use logferry::config::{OnError, SpoolConfig};
use logferry::pipeline::{self, PipelineError, PipelineRun, RunSummary};
use logferry::sinks::Sink;
use logferry::sources::{Source, SourceContext, SourceError};
use logferry::BoxFuture;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// A scripted source that also records the last position the pipeline
/// reported durable to it (0: none).
struct Watched {
    inner: ScriptSource,
    durable: Arc<AtomicU64>,
    /// Set when the pipeline drops the source (its task is over).
    gone: Arc<AtomicBool>,
}

impl Watched {
    fn new(changes: Vec<logferry::record::Change>) -> (Self, Arc<AtomicU64>, Arc<AtomicU64>) {
        let inner = ScriptSource::new(changes);
        let emitted = inner.emitted.clone();
        let durable = Arc::new(AtomicU64::new(0));
        (Watched { inner, durable: durable.clone(), gone: Arc::default() }, durable, emitted)
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.gone.store(true, AtomicOrdering::SeqCst);
    }
}

/// Kills a run the way a crash would, as far as one process allows: the
/// pipeline task is aborted mid-outage (no drain, no final checkpoint);
/// its source task, left behind, is stopped and awaited so that the next
/// run alone uses the spool.
async fn crash(task: tokio::task::JoinHandle<Result<RunSummary, PipelineError>>, stop: watch::Sender<bool>, gone: Arc<AtomicBool>) {
    task.abort();
    let _ = task.await;
    stop.send_replace(true);
    wait_until("the dead run's source task ended", Duration::from_secs(30), || {
        let g = gone.load(AtomicOrdering::SeqCst);
        async move { g }
    })
    .await;
}

impl Source for Watched {
    fn name(&self) -> &str {
        "watched"
    }
    fn run(&mut self, ctx: SourceContext) -> BoxFuture<'_, Result<(), SourceError>> {
        let mut rx = ctx.durable.clone();
        let durable = self.durable.clone();
        tokio::spawn(async move {
            loop {
                if let Some(p) = rx.borrow_and_update().as_ref() {
                    durable.store(position_index(p), AtomicOrdering::SeqCst);
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
        self.inner.run(ctx)
    }
}

async fn run_spooled(
    apply: logferry::config::ApplyConfig,
    source: impl Source + 'static,
    sink: Arc<RecordingSink>,
    store: &CheckpointStore,
    spool: Option<SpoolConfig>,
    once: bool,
    shutdown: watch::Receiver<bool>,
) -> Result<RunSummary, PipelineError> {
    pipeline::run(PipelineRun {
        name: "p".into(),
        apply,
        source: Box::new(source),
        sinks: vec![sink as Arc<dyn Sink>],
        store: store.clone(),
        once,
        shutdown,
        on_error: OnError::Stop,
        spool,
        stats: Default::default(),
        stage: None,
        routes: Vec::new(),
    })
    .await
}

fn applied(log: &Arc<Mutex<Vec<Applied>>>) -> Vec<logferry::record::Change> {
    log.lock().unwrap().iter().flat_map(|a| a.records.clone()).collect()
}

fn spool(max_bytes: u64) -> Option<SpoolConfig> {
    Some(SpoolConfig { max_bytes })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_is_acknowledged_while_the_target_is_down_and_a_restart_delivers_from_the_spool() {
    let changes = workload(5000, 300, 10, 21);
    let expected = final_state(&changes);
    let dir = tempfile::tempdir().unwrap();
    let store = CheckpointStore::open(dir.path()).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));

    // Run 1: the target accepts nothing. With a queue bound of 500 records,
    // only the spool can take the other 4500.
    {
        let (source, durable, emitted) = Watched::new(changes.clone());
        let gone = source.gone.clone();
        // Kept closed for the whole test: the dead run's lanes stay stuck,
        // as they would be in a dead process.
        let (gate_tx, gate) = watch::channel(false);
        std::mem::forget(gate_tx);
        let mut sink = RecordingSink::new(0, log.clone(), Faults::default());
        sink.gate = Some(gate);
        let mut apply = fast_apply(4);
        apply.queue_max_records = 500;
        let (stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn({
            let store = store.clone();
            async move { run_spooled(apply, source, Arc::new(sink), &store, spool(1 << 30), false, stop).await }
        });
        wait_until("the source is told its last record is durable", Duration::from_secs(30), || {
            let d = durable.load(AtomicOrdering::SeqCst);
            async move { d == 5000 }
        })
        .await;
        assert_eq!(emitted.load(AtomicOrdering::SeqCst), 5000);
        assert!(applied(&log).is_empty(), "the target was down");
        assert_eq!(store.load("p").unwrap(), None, "nothing was delivered, so nothing is checkpointed");
        crash(task, stop_tx, gone).await;
    }

    // Run 2: the target is back. Every record comes from the spool: the
    // source is asked for what follows its last spooled position (nothing).
    let (source, _durable, emitted) = Watched::new(changes.clone());
    let sink = Arc::new(RecordingSink::new(1, log.clone(), Faults::default()));
    let summary = run_spooled(fast_apply(4), source, sink, &store, spool(1 << 30), true, no_shutdown()).await.unwrap();
    assert_eq!(emitted.load(AtomicOrdering::SeqCst), 0, "the source was asked again for spooled records");
    assert_eq!(summary.applied, 5000);
    let got = applied(&log);
    assert_eq!(got.len(), 5000, "every record once");
    assert_eq!(final_state(&got), expected);
    // Targets see the source's positions, not the spool's.
    let ends: Vec<u64> = got.iter().filter(|c| c.tx_end).map(|c| position_index(c.position.as_ref().unwrap())).collect();
    assert_eq!(ends.len(), 500);
    assert!(ends.iter().all(|i| i % 10 == 0), "{:?}", &ends[..5]);
    // The checkpoint names the last spool entry and shows the source position.
    let cp = store.load("p").unwrap().unwrap();
    assert_eq!((cp.seq, cp.position.display.as_str()), (5000, "#5000"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_holds_the_source_back_at_a_transaction_end() {
    let changes = workload(20_000, 1000, 10, 22);
    let store = CheckpointStore::temporary().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (gate_tx, gate) = watch::channel(false);
    let mut sink = RecordingSink::new(0, log.clone(), Faults::default());
    sink.gate = Some(gate);
    let mut apply = fast_apply(2);
    apply.queue_max_records = 200;
    let max_bytes = 64 << 10;
    let (source, durable, emitted) = Watched::new(changes.clone());
    let task = tokio::spawn({
        let store = store.clone();
        async move { run_spooled(apply, source, Arc::new(sink), &store, spool(max_bytes), true, no_shutdown()).await }
    });
    let last = wait_until_still(&emitted, Duration::from_millis(200), Duration::from_secs(30)).await;
    let spooled = store.spool("p").unwrap().stats().unwrap();
    let held = durable.load(AtomicOrdering::SeqCst);
    assert!(last < 20_000, "the source was not held back");
    assert!(spooled.bytes >= max_bytes, "the source waited before the spool was full: {spooled:?}");
    let entry = spooled.bytes / spooled.entries;
    assert!(spooled.bytes < max_bytes + 10 * entry, "the spool went past its bound by more than a transaction: {spooled:?}");
    assert_eq!(held % 10, 0, "the spool stopped inside a transaction: durable {held}");
    gate_tx.send(true).unwrap();
    let summary = task.await.unwrap().unwrap();
    assert_eq!(summary.applied, 20_000);
    assert_eq!(final_state(&applied(&log)), final_state(&changes));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_the_spool_off_resumes_from_its_source_position_only_when_it_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let first = workload(3000, 100, 5, 23);
    let log = Arc::new(Mutex::new(Vec::new()));

    let store = CheckpointStore::open(dir.path()).unwrap();
    // Undelivered records in the spool: a run without it refuses to start.
    {
        let (source, durable, _) = Watched::new(first.clone());
        let gone = source.gone.clone();
        // The target takes a few batches, then no more (however fast the
        // run is, some records stay undelivered).
        let mut sink = RecordingSink::new(0, log.clone(), Faults::default());
        let (_open_tx, gate) = watch::channel(false);
        sink.gate = Some(gate);
        sink.open_calls = 30;
        let sink = Arc::new(sink);
        let (stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn({
            let store = store.clone();
            let sink = sink.clone();
            async move { run_spooled(fast_apply(2), source, sink, &store, spool(1 << 30), false, stop).await }
        });
        // Some records delivered and checkpointed, then the target takes no more.
        wait_until("a first checkpoint", Duration::from_secs(30), || {
            let cp = store.load("p").unwrap();
            async move { cp.is_some() }
        })
        .await;
        wait_until("every record spooled", Duration::from_secs(30), || {
            let d = durable.load(AtomicOrdering::SeqCst);
            async move { d == 3000 }
        })
        .await;
        crash(task, stop_tx, gone).await;
    }
    let sink = Arc::new(RecordingSink::new(1, log.clone(), Faults::default()));
    let err = run_spooled(fast_apply(2), ScriptSource::new(first.clone()), sink, &store, None, true, no_shutdown())
        .await
        .unwrap_err();
    // The cause is the error's source; ErrorChain prints the whole chain.
    let err = logferry::ErrorChain(&err).to_string();
    assert!(err.contains("spool still holds records") && err.contains("[pipeline.spool] back on") && err.contains("logferry reset"), "{err}");

    // With the spool on, the rest is delivered; then, spool off, the source
    // resumes after its last spooled position and only new records come.
    let sink = Arc::new(RecordingSink::new(2, log.clone(), Faults::default()));
    run_spooled(fast_apply(2), ScriptSource::new(first.clone()), sink, &store, spool(1 << 30), true, no_shutdown()).await.unwrap();
    assert_eq!(final_state(&applied(&log)), final_state(&first));
    let mut more = first.clone();
    more.extend(workload(500, 100, 5, 24));
    let before = applied(&log).len();
    let source = ScriptSource::new(more.clone());
    let emitted = source.emitted.clone();
    let sink = Arc::new(RecordingSink::new(3, log.clone(), Faults::default()));
    run_spooled(fast_apply(2), source, sink, &store, None, true, no_shutdown()).await.unwrap();
    assert_eq!(emitted.load(AtomicOrdering::SeqCst), 500, "the source resumed after the spooled records");
    assert_eq!(applied(&log).len() - before, 500);
    assert!(!store.has_spool("p").unwrap(), "the delivered spool is cleared");
}
