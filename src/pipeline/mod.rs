//! The pipeline core: from a source's records to durable checkpoints.
//!
//! ```text
//!  source task ──emit──► intake ──► coordinator ──hash(table,key) % N──► lane 0..N-1
//!                                    │  ▲                                  │
//!                                    │  └──── Applied{seqs} / Failed ◄─────┘ (after every
//!                                    │                                        target is durable)
//!                                    ├─ ack tracker: watermark = highest seq with all ≤ it acked
//!                                    └─ checkpointer: last tx-end position ≤ watermark → sled (flushed)
//!                                        └─► `durable` watch → source feedback (PG standby status)
//! ```
//!
//! **Sequence numbers.** The coordinator numbers records gap-free as they
//! arrive, continuing after the checkpoint's `seq`; a source resuming after
//! the checkpointed position re-emits the same records in the same order, so
//! replays carry the same numbers — mostly: a new source session may emit
//! records of its own first, which shifts them. Row changes read from the
//! log also get a *log ordinal*, which a replay gives them exactly, saved
//! in checkpoints with the numbering's epoch and carried in each batch
//! for exactly-once targets (see `order`).
//!
//! **Ordering.** A record's lane is `hash(table, key) % lanes`, so all records
//! of a key go through one lane, in order. A record that touches more than
//! one key or all keys — an UPDATE that changes the key, a TRUNCATE, a schema
//! change — is a *barrier*: the coordinator stops reading, waits until every
//! earlier record is acknowledged, sends the barrier alone, and waits for it
//! to be acknowledged before reading on. With `ordering = "transaction"` there
//! is one lane that cuts batches only at transaction ends, so targets apply
//! whole transactions in commit order (a transaction larger than the queue
//! bound is split, with a warning).
//!
//! **Rounds.** The coordinator takes up to `ROUTE_ROUND` changes that are
//! already waiting in the intake at once, routes them, and sends each lane
//! its share as one chunk: a lane wakes once per round, not once per record
//! (per-record hand-offs cost a third of a catch-up's CPU in task switches).
//!
//! **Memory.** Records count against a budget of records and bytes from the
//! moment they are routed until their batch is acknowledged (bytes: an
//! estimate of what the record takes in memory, `Change::approx_size`). When the budget
//! is spent the coordinator stops reading the intake, `emit` blocks, and the
//! source stops reading its log: memory stays flat under any backlog.
//!
//! **Progress.** Checkpoints only ever name a transaction end whose record,
//! and every record before it, all targets acknowledged. They are written at
//! most every `checkpoint_interval` and once more at the end, and flushed
//! before being published as durable. Heartbeats carry no data: they are
//! acknowledged as soon as they are routed, so an idle source still moves
//! its checkpoint once everything before the heartbeat is applied.
//!
//! **Source outage.** When the source stops with a transient error (its
//! connection was cut, the server restarted), the pipeline applies what it
//! already received, checkpoints, and starts the source again from that
//! checkpoint after a backoff (`retry_backoff` doubling up to
//! `retry_max_backoff`, with jitter), without limit: sequence numbers restart
//! at the checkpoint, so the replayed records carry the numbers they had,
//! and targets, being idempotent, show no duplicates. Definite source errors
//! (bad grants, lost log position) still stop the run, and `run --once` (a
//! batch job) gives up after five failed restarts in a row.
//!
//! **Shutdown.** SIGINT/SIGTERM stops the source, and the pipeline applies
//! what it already read, checkpoints and returns. A lane that is waiting
//! to retry an unavailable target does not hold the shutdown up: it gives
//! its batch up unacknowledged, the other lanes are stopped, and the
//! checkpoint stays before everything not applied, which the next run
//! replays.
//!
//! **Spool.** With `[pipeline.spool]` the source is wrapped in
//! `spool::Spooled`: its records go to a disk queue in the state dir
//! first, the source is told they are durable once they are fsynced there,
//! and the pipeline reads them back as its source; checkpoints then name
//! spool entries, and the coordinator hands targets the source's own
//! position (`unwrap_position`). See `spool`.
//!
//! **Early apply.** A source that streams an in-progress transaction may
//! hand its changes to the targets' open transactions as they come (see
//! `early`): the coordinator only serves its marker records — a fence
//! waits like a barrier until everything before it is applied, then tells
//! the source the log ordinal; the commit's marker adds the transaction's
//! rows to the ordinal and carries its position to the checkpoint.
//!
//! **Rules.** With `[[pipeline.table]]` rules (`crate::transform`), records
//! stay in the source's form through the router and the lanes; a lane
//! screens each batch with the `validate` checks (in `dead_letter`, which
//! also holds keys back behind their dead letters), and the delivery
//! transforms the batch once and gives each target the records its
//! `tables` admit. Records failing a check are dead-lettered, stop the
//! pipeline or are skipped, as the rule's `on_invalid` says; filtered
//! records are acknowledged like applied ones.
//!
//! **Failure.** A batch that still fails after its retries (or fails
//! definitely) stops the pipeline: lanes stop without applying more, the
//! source is told to stop, the last durable checkpoint is written, and the
//! error is returned. The next run resumes from that checkpoint. With
//! `on_error = "dead_letter"`, a row change a target refuses definitely is
//! set aside in the state dir instead, with the later changes of its key,
//! and counts as acknowledged once it is durable there (see `dead_letter`).

mod ack;
mod coordinator;
mod dead_letter;
mod deliver;
pub mod early;
mod lane;
mod order;
mod spool;
mod stats;

pub use ack::AckTracker;
pub use spool::{parse_spool_position, spool_position, unwrap_position};
pub use dead_letter::{can_dead_letter, dead_keys, touched_keys, KeyId};
pub use stats::{
    op_name, HistogramSnapshot, History, LatencySummary, PipelineStats, Point, Sample, StageTimes, StatsSnapshot, HISTORY_SPAN,
    SAMPLE_INTERVAL,
};

use crate::checkpoint::{Checkpoint, CheckpointError, CheckpointStore};
use crate::config::{ApplyConfig, OnError, Ordering, SpoolConfig};
use crate::record::{Change, Position};
use crate::sinks::{RunOrder, Sink, SinkError};
use crate::sources::{Emitter, Source, SourceContext, SourceError};
use crate::transform::{Route, Stage};
use coordinator::{unix_ms, Coordinator};
use deliver::{Delivery, Retry};
use lane::{Lane, LaneSettings, Queued};
use order::new_epoch;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Records a source may emit ahead of the coordinator. Small: the real
/// bound on memory is the lane budget; this only smooths hand-over.
const INTAKE_CAPACITY: usize = 1024;

/// Most changes the router takes from the intake in one round before it
/// hands them to the lanes and looks at acknowledgements again.
const ROUTE_ROUND: usize = 256;

/// Everything one pipeline run needs.
pub struct PipelineRun {
    /// Pipeline name (checkpoint key, copied into records).
    pub name: String,
    /// Lanes, batching, ordering, retries, budgets.
    pub apply: ApplyConfig,
    /// Where records come from.
    pub source: Box<dyn Source>,
    /// Where records go; every record is applied to every target.
    pub sinks: Vec<Arc<dyn Sink>>,
    /// Checkpoint store in the state dir.
    pub store: CheckpointStore,
    /// Catch up to the end of the source's log as of start, then stop.
    pub once: bool,
    /// Becomes true on SIGINT/SIGTERM: drain, checkpoint, stop.
    pub shutdown: watch::Receiver<bool>,
    /// Stop on a record a target refuses definitely, or set it aside.
    pub on_error: OnError,
    /// Spool records to disk between source and targets (see `spool`).
    pub spool: Option<SpoolConfig>,
    /// Figures for the admin endpoint, updated as the run goes.
    pub stats: Arc<PipelineStats>,
    /// `[[pipeline.table]]` rules, compiled (`None`: records pass as read).
    pub stage: Option<Arc<Stage>>,
    /// Each sink's `tables` (same order as `sinks`; empty: every table).
    pub routes: Vec<Route>,
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Records received from the source (heartbeats included).
    pub records: u64,
    /// Records applied to every target (dead letters not included).
    pub applied: u64,
    /// Records set aside in the dead-letter store by this run.
    pub dead_lettered: u64,
    /// The last durable checkpoint after the run.
    pub checkpoint: Option<Checkpoint>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// Why a pipeline stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The source failed.
    #[error("pipeline `{pipeline}`")]
    Source {
        /// Pipeline name.
        pipeline: String,
        /// The source's error.
        #[source]
        error: SourceError,
    },
    /// A target refused a batch (definitely, or after all retries).
    #[error("pipeline `{pipeline}`: {error}; nothing after the last checkpoint was lost: the next run replays it")]
    Sink {
        /// Pipeline name.
        pipeline: String,
        /// The target's error.
        #[source]
        error: SinkError,
    },
    /// The state dir failed.
    #[error("pipeline `{pipeline}`")]
    Checkpoint {
        /// Pipeline name.
        pipeline: String,
        /// The store's error.
        #[source]
        error: CheckpointError,
    },
    /// The source task panicked or was cancelled (a bug).
    #[error("pipeline `{pipeline}`: the source task ended abnormally")]
    SourceTask {
        /// Pipeline name.
        pipeline: String,
        /// The join error.
        #[source]
        error: tokio::task::JoinError,
    },
}

/// What a lane reports back.
pub(crate) enum LaneEvent {
    /// Every target durably applied these records, except `dead_lettered`
    /// of them, which are durable in the dead-letter store instead.
    Applied { seqs: Vec<u64>, bytes: usize, dead_lettered: usize },
    /// The lane gave up on a batch; it has stopped.
    Failed { lane: usize, error: SinkError },
    /// Shutdown came while the lane waited to retry an unavailable target:
    /// it left its batch unapplied (the next run replays it) and stopped.
    Abandoned { lane: usize, records: usize },
}

/// Where the coordinator is with a barrier record.
enum Barrier {
    /// Waiting for every earlier record to be acknowledged.
    Draining(Box<Queued>),
    /// Sent alone; waiting for its acknowledgement (its seq).
    Applying(u64),
    /// An early-apply fence (its seq): tell the source the log ordinal
    /// once everything before it is acknowledged (see `early`).
    Fence(u64, tokio::sync::oneshot::Sender<u64>),
}

/// Runs one pipeline until the source ends (once mode), shutdown, or failure.
pub async fn run(run: PipelineRun) -> Result<RunSummary, PipelineError> {
    let PipelineRun { name, apply, source, sinks, store, once, mut shutdown, on_error, spool, stats, stage, routes } = run;
    let started = Instant::now();
    let err_cp = |error| PipelineError::Checkpoint { pipeline: name.clone(), error };

    let mut resume = store.load(&name).map_err(err_cp)?;
    let spool_on = spool.is_some();
    // A spool replays what it holds in order, whatever its source does.
    let log_order = spool_on || source.replays_in_order();
    if !log_order {
        tracing::info!(pipeline = %name, source = %source.name(),
            "the source's replays are not in one order: SQL targets apply its records at least once (keyed upserts make a replay harmless)");
    }
    let source: Box<dyn Source> = match spool {
        Some(cfg) => Box::new(spool::Spooled::new(
            source,
            store.spool(&name).map_err(err_cp)?,
            cfg.max_bytes,
            stats.clone(),
            apply.retry_backoff,
            apply.retry_max_backoff,
        )),
        None => {
            if let Some(cp) = resume.take() {
                resume = Some(spool::resume_without_spool(&store, &name, cp).await.map_err(|e| match e {
                    spool::SpoolOffError::Store(error) => err_cp(error),
                    spool::SpoolOffError::Undelivered(message) => PipelineError::Source {
                        pipeline: name.clone(),
                        error: SourceError::definite(source.name(), message),
                    },
                })?);
            }
            source
        }
    };
    match &resume {
        Some(cp) => {
            stats.resumed(cp);
            tracing::info!(pipeline = %name, position = %cp.position.display, seq = cp.seq, "resuming after the checkpoint")
        }
        None => tracing::info!(pipeline = %name, "no checkpoint: starting from the beginning"),
    }

    let lanes = if apply.ordering == Ordering::Transaction { 1 } else { apply.lanes.max(1) };
    let settings = LaneSettings {
        batch_max_rows: apply.batch_max_rows.max(1),
        batch_max_wait: apply.batch_max_wait,
        whole_transactions: apply.ordering == Ordering::Transaction,
        split_rows: (apply.queue_max_records / 2).max(1),
        split_bytes: (apply.queue_max_bytes / 2).max(1),
        log_order,
    };
    let retry = Retry { max_retries: apply.max_retries, backoff: apply.retry_backoff, max_backoff: apply.retry_max_backoff };

    let routes: Arc<[Route]> = routes.into();
    let sinks: Arc<[Arc<dyn Sink>]> = sinks.into();
    // The numbering: a checkpoint's epoch continues; without one (first
    // run, after `reset`) the numbering starts again under a new epoch.
    let epoch = resume.as_ref().map(|c| c.epoch).filter(|&e| e != 0).unwrap_or_else(new_epoch);
    let resumed = resume.as_ref().map_or(0, |c| c.ordinal);
    let (order_tx, order_rx) = watch::channel(Arc::new(RunOrder { pipeline: name.clone(), epoch, lanes, resumed }));
    // Early apply of streamed transactions (see `early`): only where every
    // target takes every record as the source emits it.
    let early_on = apply.early_apply && log_order && !spool_on && stage.is_none() && routes.iter().all(|r| r.is_all()) && early::EarlyApply::possible(&sinks);

    // Source task.
    let (durable_tx, _) = watch::channel(resume.as_ref().map(|c| c.position.clone()));
    let (stop_tx, _) = watch::channel(false);
    let start_source = |mut source: Box<dyn Source>, resume: Option<Position>| {
        let (intake_tx, intake) = mpsc::channel::<Change>(INTAKE_CAPACITY);
        let (side_tx, side_rx) = mpsc::unbounded_channel();
        let early = early_on.then(|| {
            Arc::new(early::EarlyApply::new(name.clone(), side_tx, sinks.iter().cloned().collect(), order_rx.clone(), stats.clone()))
        });
        let ctx = SourceContext {
            early,
            pipeline: name.clone(),
            resume,
            once,
            emitter: Emitter::new(intake_tx).timed(stats.source.clone()),
            durable: durable_tx.subscribe(),
            shutdown: stop_tx.subscribe(),
            requests: stats.requests.clone(),
        };
        let task = tokio::spawn(async move {
            let result = source.run(ctx).await;
            (source, result)
        });
        (task, intake, side_rx)
    };
    let _refuser = (!source.copies_online()).then(|| {
        let requests = stats.requests.clone();
        let why = format!(
            "source {} cannot copy a table or keys while it streams (online snapshots and repairs need a PostgreSQL source)",
            source.name()
        );
        AbortOnDrop(tokio::spawn(async move { requests.refuse_all(why).await }).abort_handle())
    });
    let (mut source_task, mut intake, side) = start_source(source, resume.as_ref().map(|c| c.position.clone()));
    let mut source_back: Option<Box<dyn Source>> = None;
    let mut reconnect = Reconnect::new(apply.retry_backoff, apply.retry_max_backoff);

    // Lanes.
    // Refused records, and records failing a `validate` rule, may go to the
    // dead-letter store; with neither, a lane applies its batches as they are.
    let refusals = on_error == OnError::DeadLetter;
    let quarantine = match refusals || stage.as_ref().is_some_and(|s| s.validates()) {
        false => None,
        true => Some(Arc::new(dead_letter::Quarantine::open(&store, &name, refusals, stage.clone()).map_err(err_cp)?)),
    };
    if let Some(stage) = &stage {
        stats.set_transform(stage.stats.clone());
    }
    let (events_tx, mut events) = mpsc::unbounded_channel::<LaneEvent>();
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let mut lane_tx = Vec::with_capacity(lanes);
    let mut lane_tasks = Vec::with_capacity(lanes);
    for index in 0..lanes {
        let (tx, rx) = mpsc::unbounded_channel();
        lane_tx.push(tx);
        let lane = Lane {
            index,
            rx,
            carry: Default::default(),
            settings: settings.clone(),
            events: events_tx.clone(),
            cancel: cancel_rx.clone(),
            stopping: shutdown.clone(),
            delivery: Delivery {
                lane: index,
                sinks: sinks.clone(),
                retry: retry.clone(),
                cancel: cancel_rx.clone(),
                stopping: shutdown.clone(),
                stats: stats.targets.clone(),
                figures: stats.clone(),
                stage: stage.clone(),
                routes: routes.clone(),
            },
            quarantine: quarantine.clone(),
            order: order_rx.clone(),
        };
        let task = tokio::spawn(lane.run());
        // A panicking sink must stop the pipeline, not leave its records
        // unacknowledged forever.
        let events = events_tx.clone();
        lane_tasks.push(tokio::spawn(async move {
            if let Err(e) = task.await {
                let _ = events.send(LaneEvent::Failed {
                    lane: index,
                    error: SinkError::definite(format!("lane {index}"), format!("lane task ended abnormally: {e}")),
                });
            }
        }));
    }
    drop(events_tx);

    let mut co = Coordinator {
        name: name.clone(),
        store: store.clone(),
        side,
        next_seq: resume.as_ref().map_or(1, |c| c.seq + 1),
        ordinal: resumed,
        order_tx,
        tracker: AckTracker::new(resume.as_ref().map_or(0, |c| c.seq)),
        tx_ends: VecDeque::new(),
        candidate: None,
        saved: resume,
        durable_tx: durable_tx.clone(),
        interval: apply.checkpoint_interval,
        next_save: Instant::now() + apply.checkpoint_interval,
        in_flight_records: 0,
        in_flight_bytes: 0,
        pending: (0..lanes).map(|_| Vec::new()).collect(),
        records: 0,
        applied: 0,
        dead_lettered: 0,
        stats: stats.clone(),
        applied_through_ms: 0,
        received_ms: 0,
        open_tx_ms: None,
    };

    let mut barrier: Option<Barrier> = None;
    let mut intake_open = true;
    let mut source_result: Option<Result<(), SourceError>> = None;
    let mut failure: Option<SinkError> = None;
    // Shutdown found a target unavailable: stop without waiting for it.
    let mut abandoned = false;
    let mut events_open = true;
    let mut shutdown_seen = *shutdown.borrow();
    if shutdown_seen {
        let _ = stop_tx.send(true);
    }

    loop {
        // Barrier progress: send it once everything before it is applied,
        // read on once it is applied itself.
        if let Some(Barrier::Draining(q)) = &barrier {
            if co.tracker.watermark() + 1 == q.change.seq {
                let Some(Barrier::Draining(q)) = barrier.take() else { unreachable!() };
                let seq = q.change.seq;
                co.in_flight(q.size);
                let _ = lane_tx[(q.hash % lanes as u64) as usize].send(vec![*q]);
                barrier = Some(Barrier::Applying(seq));
            }
        }
        if let Some(Barrier::Applying(seq)) = barrier {
            if co.tracker.watermark() >= seq {
                barrier = None;
            }
        }
        if let Some(Barrier::Fence(seq, _)) = &barrier {
            if co.tracker.watermark() >= *seq {
                let Some(Barrier::Fence(_, tell)) = barrier.take() else { unreachable!() };
                let _ = tell.send(co.ordinal);
            }
        }
        let all_applied = co.in_flight_records == 0 && barrier.is_none();
        let source_done = source_result.is_some();
        if source_done && (failure.is_some() || abandoned || (!intake_open && all_applied)) {
            let lost = matches!(source_result, Some(Err(SourceError::Transient { .. })));
            // `run --once` (a batch job) gives up after a few attempts; a
            // continuous run keeps trying.
            let give_up = once && reconnect.attempt >= ONCE_MODE_RECONNECTS;
            if lost && failure.is_none() && !shutdown_seen && !give_up {
                // Everything received is applied: checkpoint, then start the
                // source again from there.
                if let (Some(Err(error)), Some(source)) = (source_result.take(), source_back.take()) {
                    co.restart_from_checkpoint().await.map_err(err_cp)?;
                    stats.source_restarted();
                    let delay = reconnect.failed();
                    tracing::warn!(pipeline = %name, error = %crate::ErrorChain(&error), attempt = reconnect.attempt,
                        failing_since = %crate::record::format_utc(reconnect.since), retry_in_ms = delay.as_millis() as u64,
                        "source failed; reconnecting from the last checkpoint");
                    tokio::select! {
                        biased;
                        _ = shutdown.changed() => {
                            let _ = stop_tx.send(true);
                            tracing::info!(pipeline = %name, "shutting down while waiting to reconnect the source");
                            break;
                        }
                        _ = tokio::time::sleep(delay) => {}
                    }
                    let resume = co.saved.as_ref().map(|c| c.position.clone());
                    // A transaction the targets hold open is read again from the start.
                    early::EarlyApply::abandon(&sinks).await;
                    (source_task, intake, co.side) = start_source(source, resume);
                    reconnect.started();
                    intake_open = true;
                    continue;
                }
            }
            break;
        }
        let can_read = intake_open
            && barrier.is_none()
            && failure.is_none()
            && co.in_flight_records < apply.queue_max_records
            && co.in_flight_bytes < apply.queue_max_bytes;

        tokio::select! {
            biased;
            ev = events.recv(), if events_open => match ev {
                Some(LaneEvent::Applied { seqs, bytes, dead_lettered }) => co.applied(&seqs, bytes, dead_lettered),
                Some(LaneEvent::Failed { lane, error }) => {
                    tracing::error!(pipeline = %name, lane, error = %error, "a batch could not be applied; stopping");
                    if failure.is_none() {
                        failure = Some(error);
                        let _ = cancel_tx.send(true);
                        let _ = stop_tx.send(true);
                        // Unblock a source waiting in `emit`.
                        intake.close();
                    }
                }
                Some(LaneEvent::Abandoned { lane, records }) => {
                    if !abandoned {
                        tracing::warn!(pipeline = %name, lane, records,
                            "shutting down while a target is unavailable: what it has not applied stays after the checkpoint and the next run replays it");
                        abandoned = true;
                        let _ = cancel_tx.send(true);
                        intake.close();
                    }
                }
                // Every lane has stopped (after a failure).
                None => events_open = false,
            },
            _ = tokio::time::sleep_until(co.next_save), if co.candidate.is_some() => {
                co.save().await.map_err(err_cp)?;
            }
            changed = shutdown.changed(), if !shutdown_seen => {
                shutdown_seen = true;
                if changed.is_ok() {
                    tracing::info!(pipeline = %name, "shutting down: draining in-flight batches");
                    let _ = stop_tx.send(true);
                }
            }
            res = &mut source_task, if source_result.is_none() => {
                source_result = Some(match res {
                    Ok((source, r)) => {
                        source_back = Some(source);
                        if matches!(r, Err(SourceError::Transient { .. })) {
                            // Take what it sent, then nothing more from that run.
                            intake.close();
                        } else if r.is_ok() {
                            reconnect.succeeded();
                        }
                        r
                    }
                    Err(e) => {
                        let _ = cancel_tx.send(true);
                        return Err(PipelineError::SourceTask { pipeline: name.clone(), error: e });
                    }
                });
            }
            change = intake.recv(), if can_read => match change {
                None => intake_open = false,
                Some(change) => {
                    // Route this change and whatever else is already queued
                    // (up to a round's worth, within the budgets), then hand
                    // each lane its share in one send.
                    let began = std::time::Instant::now();
                    co.received_ms = unix_ms(SystemTime::now());
                    let mut next = Some(change);
                    let mut round = 0;
                    while let Some(change) = next.take() {
                        if early::is_marker(&change) {
                            match co.side.try_recv() {
                                Ok(early::Side::Fence(tell)) => {
                                    co.route(change, lanes, settings.whole_transactions);
                                    barrier = Some(Barrier::Fence(co.next_seq - 1, tell));
                                    break;
                                }
                                Ok(early::Side::Advance(n)) => {
                                    // The rows the targets applied early count as received and applied.
                                    co.ordinal += n;
                                    co.records += n;
                                    co.applied += n;
                                    stats.applied(n, 0);
                                }
                                // Sent before its marker: cannot be missing.
                                Err(_) => tracing::error!(pipeline = %name, "an early-apply marker without its request (a bug)"),
                            }
                        }
                        if let Some(b) = co.route(change, lanes, settings.whole_transactions) {
                            barrier = Some(Barrier::Draining(Box::new(b)));
                            break;
                        }
                        round += 1;
                        if round < ROUTE_ROUND
                            && co.in_flight_records < apply.queue_max_records
                            && co.in_flight_bytes < apply.queue_max_bytes
                        {
                            next = intake.try_recv().ok();
                        }
                    }
                    co.flush(&lane_tx);
                    stats.routed(began.elapsed());
                }
            },
        }
    }

    // Stop the lanes: closing their queues lets them finish and exit.
    drop(lane_tx);
    for t in lane_tasks {
        let _ = t.await;
    }
    while let Ok(ev) = events.try_recv() {
        if let LaneEvent::Applied { seqs, bytes, dead_lettered } = ev {
            co.applied(&seqs, bytes, dead_lettered);
        }
    }
    if co.candidate.is_some() {
        co.save().await.map_err(err_cp)?;
    }
    let summary = RunSummary {
        records: co.records,
        applied: co.applied - co.dead_lettered,
        dead_lettered: co.dead_lettered,
        checkpoint: co.saved.clone(),
        elapsed: started.elapsed(),
    };
    if let Some(error) = failure {
        return Err(PipelineError::Sink { pipeline: name, error });
    }
    match source_result {
        Some(Err(SourceError::Closed(_))) | Some(Ok(())) | None => {}
        Some(Err(error)) => return Err(PipelineError::Source { pipeline: name, error }),
    }
    tracing::info!(pipeline = %name, records = summary.records, applied = summary.applied,
        dead_lettered = summary.dead_lettered, elapsed_ms = summary.elapsed.as_millis() as u64, "pipeline stopped cleanly");
    Ok(summary)
}

/// Consecutive source restarts `run --once` tries before it fails.
const ONCE_MODE_RECONNECTS: u32 = 5;

/// Backoff between source restarts after transient failures.
struct Reconnect {
    first: Duration,
    max: Duration,
    next: Duration,
    /// Consecutive failed runs.
    attempt: u32,
    /// When the current run of failures began.
    since: SystemTime,
    /// When the current source run started.
    started: Instant,
}

impl Reconnect {
    /// A source that ran this long before failing counts as recovered: the
    /// backoff starts again from the first step.
    const HEALTHY_RUN: Duration = Duration::from_secs(60);

    fn new(first: Duration, max: Duration) -> Self {
        let first = first.max(Duration::from_millis(10));
        Reconnect { first, max: max.max(first), next: first, attempt: 0, since: SystemTime::now(), started: Instant::now() }
    }

    /// The source run failed: the delay before the next one.
    fn failed(&mut self) -> Duration {
        if self.started.elapsed() >= Self::HEALTHY_RUN || self.attempt == 0 {
            self.succeeded();
            self.since = SystemTime::now();
        }
        self.attempt += 1;
        let d = deliver::jitter(self.next, self.attempt as u64);
        self.next = (self.next * 2).min(self.max);
        d
    }

    fn started(&mut self) {
        self.started = Instant::now();
    }

    fn succeeded(&mut self) {
        self.next = self.first;
        self.attempt = 0;
    }
}

/// Aborts a helper task when the run that spawned it ends, however it ends.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
