//! Early apply: a big source transaction applied while it is still being
//! read, committed on the targets when its commit arrives.
//!
//! A source that streams in-progress transactions (PostgreSQL's protocol
//! 2+) hands the pipeline the changes of one such transaction as they come
//! ([`EarlyApply`], in `SourceContext::early`). They do not go through the
//! lanes: each target applies them in a transaction it keeps open
//! ([`OpenTransaction`]), and commits it at the source's commit, or rolls it
//! back at its abort. So the first rows reach the target long before the
//! commit is read, and nothing is visible there before it.
//!
//! - **Order.** Before each chunk is applied, the pipeline waits until every
//!   record the source emitted before it is applied (a *fence*: a marker
//!   record the coordinator holds like a barrier). A transaction committed
//!   earlier in the log is thus on the target before the chunk's changes,
//!   which may touch the same rows after it. Transactions committed while
//!   this one is open cannot touch its rows (the source held their locks).
//! - **Exactly once.** The transaction's row changes take the log ordinals
//!   they would take going through the lanes (all at its commit, as the
//!   source emits a replayed transaction), and the targets' progress rows
//!   record them in the same transaction as the rows ([`OpenOutcome`]). A
//!   target already holding them rolls back (a replay); a target holding
//!   some of them means an earlier run applied part of it through the lanes,
//!   and the transaction goes through the lanes again, which skip per record.
//! - **Schema records** of the transaction are applied through the lanes,
//!   committed, before its next changes (DDL inside the open transaction
//!   would lock the table against the lanes), also once early apply is
//!   given up (the source counts them as emitted); a schema record for a
//!   table the open transaction already wrote gives early apply up first.
//! - **Giving up** is never an error: on any target error, or when a fence
//!   waits while the lanes apply nothing for [`FENCE_PATIENCE`] (a lane may be waiting for a lock
//!   the open transaction holds, through a constraint only the target has),
//!   the open transactions are rolled back and the source emits the whole
//!   transaction through the lanes at its commit, from its spill files.
//! - One transaction at a time; only when every target can keep a
//!   transaction open (the PostgreSQL target), without a spool, rules, or
//!   targets limited to some tables.

use super::order::in_log_order;
use super::PipelineStats;
use crate::record::{Change, Op, Position};
use crate::sinks::{OpenOutcome, RunOrder, Sink};
use crate::sources::{Emitter, PipelineClosed};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// `tx_id` of the marker records the coordinator takes for early apply.
pub(super) const EARLY_MARK: &str = "logferry.early";

/// How long a fence may wait while the lanes apply nothing, before early
/// apply is given up for the transaction.
pub const FENCE_PATIENCE: Duration = Duration::from_secs(10);

/// What a marker record asks of the coordinator (sent before the marker).
pub(super) enum Side {
    /// Tell the source the log ordinal once every earlier record is applied.
    Fence(oneshot::Sender<u64>),
    /// The transaction ending with this marker took this many ordinals.
    Advance(u64),
}

/// True for the marker records of early apply.
pub(super) fn is_marker(change: &Change) -> bool {
    change.is_heartbeat() && change.tx_id == EARLY_MARK
}

/// What one early transaction has done so far.
#[derive(Default)]
struct State {
    /// A transaction is being applied early.
    active: bool,
    /// Given up: the source emits the transaction through the lanes.
    given_up: bool,
    /// Log row changes applied (what the lanes would number).
    rows: u64,
    /// Savepoints (subtransactions), with `rows` when each was set.
    savepoints: Vec<(String, u64)>,
    /// Tables the open transactions wrote.
    touched: HashSet<String>,
}

/// The pipeline's side of early apply, handed to a source that streams
/// in-progress transactions. See the module docs.
pub struct EarlyApply {
    pipeline: String,
    side: mpsc::UnboundedSender<Side>,
    targets: Vec<Arc<dyn Sink>>,
    order: watch::Receiver<Arc<RunOrder>>,
    /// The pipeline's figures: whether the lanes are getting on.
    stats: Arc<PipelineStats>,
    state: tokio::sync::Mutex<State>,
}

impl EarlyApply {
    pub(super) fn new(
        pipeline: String,
        side: mpsc::UnboundedSender<Side>,
        targets: Vec<Arc<dyn Sink>>,
        order: watch::Receiver<Arc<RunOrder>>,
        stats: Arc<PipelineStats>,
    ) -> Self {
        EarlyApply { pipeline, side, targets, order, stats, state: Default::default() }
    }

    /// True when every target can keep a transaction open.
    pub(super) fn possible(targets: &[Arc<dyn Sink>]) -> bool {
        !targets.is_empty() && targets.iter().all(|t| t.open_transaction().is_some())
    }

    fn marker(&self) -> Change {
        Change {
            pipeline: self.pipeline.clone(),
            op: Op::Heartbeat as i32,
            tx_id: EARLY_MARK.into(),
            ..Default::default()
        }
    }

    /// Waits until every record emitted before is applied; returns the log
    /// ordinal then. When the lanes apply nothing for [`FENCE_PATIENCE`]
    /// the transaction is given up (its locks may be what they wait for),
    /// and the wait goes on.
    async fn fence(&self, emitter: &Emitter, state: &mut State) -> Result<u64, PipelineClosed> {
        let (tx, mut rx) = oneshot::channel();
        self.side.send(Side::Fence(tx)).map_err(|_| PipelineClosed)?;
        emitter.emit(self.marker()).await?;
        let mut applied = self.stats.counts().1;
        loop {
            match tokio::time::timeout(FENCE_PATIENCE, &mut rx).await {
                Ok(r) => return r.map_err(|_| PipelineClosed),
                Err(_) => {
                    let now = self.stats.counts().1;
                    if now != applied {
                        applied = now;
                        continue;
                    }
                    if state.active && !state.given_up {
                        tracing::warn!(pipeline = %self.pipeline, waited_s = FENCE_PATIENCE.as_secs(),
                            "the lanes applied nothing for a while before a chunk of a streamed transaction: it is rolled \
                             back on the targets (the lanes may wait for its locks) and applied through the lanes at its commit instead");
                        self.give_up(state).await;
                    }
                    return rx.await.map_err(|_| PipelineClosed);
                }
            }
        }
    }

    async fn give_up(&self, state: &mut State) {
        state.given_up = true;
        Self::abandon(&self.targets).await;
    }

    /// Starts applying a new transaction early (an earlier one left open
    /// is rolled back).
    pub async fn begin(&self) {
        let mut state = self.state.lock().await;
        self.give_up(&mut state).await;
        *state = State { active: true, ..Default::default() };
    }

    /// Applies the next changes of the transaction, in source order. Its
    /// schema records go through the lanes whatever becomes of it (the
    /// source counts them as emitted).
    pub async fn apply(&self, emitter: &Emitter, records: Vec<Change>) -> Result<(), PipelineClosed> {
        let mut state = self.state.lock().await;
        if !state.active || records.is_empty() {
            return Ok(());
        }
        let mut run: Vec<Change> = Vec::new();
        for c in records {
            if c.op() != Op::SchemaChange {
                if !state.given_up {
                    run.push(c);
                }
                continue;
            }
            let table = c.table.as_ref().map(|t| t.qualified()).unwrap_or_default();
            if !state.given_up && state.touched.contains(&table) {
                tracing::info!(pipeline = %self.pipeline, table = %table,
                    "a streamed transaction changed the schema of a table it already wrote: it is applied through the lanes at its commit");
                self.give_up(&mut state).await;
            }
            self.apply_run(emitter, &mut state, std::mem::take(&mut run)).await?;
            // Through the lanes, committed, before the changes after it.
            emitter.emit(c).await?;
        }
        self.apply_run(emitter, &mut state, run).await
    }

    async fn apply_run(&self, emitter: &Emitter, state: &mut State, run: Vec<Change>) -> Result<(), PipelineClosed> {
        if run.is_empty() || state.given_up {
            return Ok(());
        }
        self.fence(emitter, state).await?;
        if state.given_up {
            return Ok(());
        }
        let order = self.order.borrow().clone();
        for t in &self.targets {
            let Some(open) = t.open_transaction() else { continue };
            if let Err(e) = open.apply(&order, &run).await {
                tracing::warn!(pipeline = %self.pipeline, target_name = %t.name(), error = %crate::ErrorChain(&e),
                    "a chunk of a streamed transaction could not be applied early: it is rolled back on the targets and \
                     applied through the lanes at its commit instead");
                self.give_up(state).await;
                return Ok(());
            }
        }
        state.rows += run.iter().filter(|c| in_log_order(c)).count() as u64;
        for t in run.iter().filter_map(|c| c.table.as_ref()) {
            state.touched.insert(t.qualified());
        }
        Ok(())
    }

    /// A subtransaction begins: its changes can be rolled back alone.
    pub async fn savepoint(&self, name: &str) {
        let mut state = self.state.lock().await;
        if !state.active || state.given_up || state.savepoints.iter().any(|(n, _)| n == name) {
            return;
        }
        let rows = state.rows;
        state.savepoints.push((name.to_string(), rows));
        let order = self.order.borrow().clone();
        for t in &self.targets {
            let Some(open) = t.open_transaction() else { continue };
            if let Err(e) = open.savepoint(&order, name).await {
                tracing::warn!(pipeline = %self.pipeline, target_name = %t.name(), error = %crate::ErrorChain(&e),
                    "a savepoint of a streamed transaction failed: it is applied through the lanes at its commit instead");
                self.give_up(&mut state).await;
                return;
            }
        }
    }

    /// A subtransaction aborted: its changes (and those of every
    /// subtransaction begun after it) are undone. One never seen: nothing.
    pub async fn rollback_to(&self, name: &str) {
        let mut state = self.state.lock().await;
        if !state.active || state.given_up {
            return;
        }
        let Some(i) = state.savepoints.iter().position(|(n, _)| n == name) else { return };
        state.rows = state.savepoints[i].1;
        state.savepoints.truncate(i + 1);
        for t in &self.targets {
            let Some(open) = t.open_transaction() else { continue };
            if let Err(e) = open.rollback_to(name).await {
                tracing::warn!(pipeline = %self.pipeline, target_name = %t.name(), error = %crate::ErrorChain(&e),
                    "rolling back an aborted subtransaction failed: the transaction is applied through the lanes at its commit instead");
                self.give_up(&mut state).await;
                return;
            }
        }
    }

    /// The transaction committed at `position`. True when every target
    /// committed it (or already held it) and the commit's marker is
    /// emitted; false when the source must emit the whole transaction
    /// through the lanes (it was given up, or a target could not commit it
    /// alone).
    pub async fn commit(&self, emitter: &Emitter, position: Position) -> Result<bool, PipelineClosed> {
        let mut state = self.state.lock().await;
        if !state.active {
            return Ok(false);
        }
        if state.given_up {
            *state = State::default();
            return Ok(false);
        }
        let ordinal = self.fence(emitter, &mut state).await?;
        if state.given_up {
            *state = State::default();
            return Ok(false);
        }
        let order = self.order.borrow().clone();
        let (first, last) = (ordinal + 1, ordinal + state.rows);
        let mut all = true;
        for t in &self.targets {
            let Some(open) = t.open_transaction() else { continue };
            match open.commit(&order, first, last, &position.display).await {
                Ok(OpenOutcome::Committed) => {}
                Ok(OpenOutcome::AlreadyApplied) => {
                    tracing::info!(pipeline = %self.pipeline, target_name = %t.name(),
                        "a replayed streamed transaction is already on the target: rolled back there")
                }
                Ok(OpenOutcome::Partly) => {
                    tracing::info!(pipeline = %self.pipeline, target_name = %t.name(),
                        "part of a replayed streamed transaction is already on the target: it goes through the lanes");
                    all = false;
                }
                Err(e) => {
                    tracing::warn!(pipeline = %self.pipeline, target_name = %t.name(), error = %crate::ErrorChain(&e),
                        "committing a streamed transaction applied early failed: it goes through the lanes");
                    all = false;
                }
            }
        }
        let rows = state.rows;
        *state = State::default();
        if !all {
            // Targets that did commit hold the ordinals: the lanes skip them there.
            self.give_up(&mut State::default()).await;
            return Ok(false);
        }
        self.side.send(Side::Advance(rows)).map_err(|_| PipelineClosed)?;
        let mut marker = self.marker();
        marker.tx_end = true;
        marker.position = Some(position);
        emitter.emit(marker).await?;
        Ok(true)
    }

    /// Rolls back whatever the targets hold open (a source that starts
    /// again reads the transaction anew).
    pub(super) async fn abandon(targets: &[Arc<dyn Sink>]) {
        for t in targets {
            if let Some(open) = t.open_transaction() {
                open.rollback().await;
            }
        }
    }

    /// The transaction aborted: rolled back on every target.
    pub async fn rollback(&self) {
        let mut state = self.state.lock().await;
        self.give_up(&mut state).await;
        *state = State::default();
    }
}
