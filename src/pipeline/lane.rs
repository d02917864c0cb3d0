//! A lane: one ordered queue of records, cut into batches and applied to
//! every target, with retries of transient failures.
//!
//! Each lane is one task. It applies one batch at a time, so records in a
//! lane (all records of the keys that hash to it) reach the targets in the
//! order the router sent them. A batch is acknowledged to the coordinator
//! only after *every* target returned `Ok` for it. Applying with retries is
//! `deliver`'s; setting refused records aside is `dead_letter`'s.

use super::dead_letter::Quarantine;
use super::deliver::Delivery;
use super::LaneEvent;
use crate::record::Change;
use crate::sinks::{Batch, LogOrder, Mark, RunOrder};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// A record on its way through a lane, with the size the router charged
/// against the byte budget.
pub(crate) struct Queued {
    pub change: Change,
    pub size: usize,
    /// The record's log ordinal (0: not a log row change) and routing
    /// hash, for targets that record what they applied (`Batch::order`).
    pub ordinal: u64,
    pub hash: u64,
}

/// How a lane cuts and retries batches.
#[derive(Debug, Clone)]
pub(crate) struct LaneSettings {
    pub batch_max_rows: usize,
    /// How long to linger for more records when the queue runs empty.
    pub batch_max_wait: Duration,
    /// Transaction ordering: cut batches only after a transaction's last record.
    pub whole_transactions: bool,
    /// In transaction ordering, a transaction larger than this is applied in
    /// several batches, so it cannot exceed the memory budget (which would
    /// stop the router from ever delivering its end).
    pub split_rows: usize,
    pub split_bytes: usize,
    /// Batches carry their log order (`Batch::order`: exactly-once
    /// targets); false when the source's replays are not in order.
    pub log_order: bool,
}

pub(crate) struct Lane {
    pub index: usize,
    /// Records in chunks: the router sends what one intake round gave this
    /// lane at once (one wake-up per lane per round, not per record).
    pub rx: mpsc::UnboundedReceiver<Vec<Queued>>,
    /// Received but not yet in a batch (a chunk can overrun a batch).
    pub carry: VecDeque<Queued>,
    pub settings: LaneSettings,
    pub events: mpsc::UnboundedSender<LaneEvent>,
    /// Turns true when the pipeline failed: stop without applying more.
    pub cancel: watch::Receiver<bool>,
    /// Turns true at shutdown: a lane waiting to retry an unavailable
    /// target gives its batch up (unacknowledged) instead of waiting on.
    pub stopping: watch::Receiver<bool>,
    /// Applies batches to every target, with retries.
    pub delivery: Delivery,
    /// With `on_error = "dead_letter"`: where refused records go instead
    /// of stopping the pipeline (see `dead_letter`).
    pub quarantine: Option<Arc<Quarantine>>,
    /// The run's numbering (a new epoch when the source starts again
    /// without a checkpoint), read for every batch.
    pub order: watch::Receiver<Arc<RunOrder>>,
}

impl Lane {
    pub(crate) async fn run(mut self) {
        let mut batch = Batch { lane: self.index, records: Vec::new(), order: None };
        let mut marks = Vec::new();
        loop {
            batch.records.clear();
            marks.clear();
            let mut bytes = 0usize;
            if !self.fill(&mut batch, &mut marks, &mut bytes).await {
                return;
            }
            if batch.records.is_empty() {
                return;
            }
            batch.order = self.settings.log_order.then(|| {
                let run = self.order.borrow().clone();
                LogOrder { run, marks: marks.as_slice().into() }
            });
            let seqs: Vec<u64> = batch.records.iter().map(|c| c.seq).collect();
            let began = std::time::Instant::now();
            let applied = match &self.quarantine {
                None => self.delivery.apply_everywhere(&batch).await.map(|()| 0),
                Some(q) => q.apply_or_set_aside(&mut self.delivery, &batch).await,
            };
            match applied {
                Ok(dead_lettered) => {
                    self.delivery.figures.batch_applied(&batch.records, began.elapsed());
                    let _ = self.events.send(LaneEvent::Applied { seqs, bytes, dead_lettered });
                }
                Err(Some(error)) => {
                    let _ = self.events.send(LaneEvent::Failed { lane: self.index, error });
                    return;
                }
                Err(None) => {
                    // Cancelled after a failure, or given up at shutdown.
                    if *self.stopping.borrow() && !*self.cancel.borrow() {
                        let _ = self.events.send(LaneEvent::Abandoned { lane: self.index, records: seqs.len() });
                    }
                    return;
                }
            }
        }
    }

    /// Collects the next batch. Returns false when the lane must stop
    /// (cancelled, or the queue closed with nothing left).
    async fn fill(&mut self, batch: &mut Batch, marks: &mut Vec<Mark>, bytes: &mut usize) -> bool {
        while self.carry.is_empty() {
            let chunk = tokio::select! {
                biased;
                _ = self.cancel.changed() => return false,
                q = self.rx.recv() => match q { Some(q) => q, None => return false },
            };
            self.carry.extend(chunk);
        }
        let s = &self.settings;
        let deadline = Instant::now() + s.batch_max_wait;
        loop {
            let at_boundary = !s.whole_transactions || batch.records.last().is_some_and(|c| c.tx_end);
            if at_boundary && batch.records.len() >= s.batch_max_rows {
                return true;
            }
            if !at_boundary && (batch.records.len() >= s.split_rows || *bytes >= s.split_bytes) {
                let tx = batch.records.last().map(|c| c.tx_id.as_str()).unwrap_or_default();
                tracing::warn!(lane = self.index, tx_id = %tx, rows = batch.records.len(),
                    "transaction is larger than the queue bound allows to hold; applying this part of it now");
                return true;
            }
            // Take what is already here or queued without waiting.
            if let Some(q) = self.carry.pop_front() {
                push(batch, marks, bytes, q);
                continue;
            }
            match self.rx.try_recv() {
                Ok(chunk) => {
                    self.carry.extend(chunk);
                    continue;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => return true,
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
            // Queue empty: linger until the deadline (at a boundary), or wait
            // for the rest of the transaction.
            if at_boundary && Instant::now() >= deadline {
                return true;
            }
            let next = if at_boundary {
                tokio::select! {
                    biased;
                    _ = self.cancel.changed() => return false,
                    q = tokio::time::timeout_at(deadline, self.rx.recv()) => match q {
                        Ok(Some(q)) => Some(q),
                        Ok(None) => return true,
                        Err(_) => None,
                    },
                }
            } else {
                tokio::select! {
                    biased;
                    _ = self.cancel.changed() => return false,
                    q = self.rx.recv() => match q { Some(q) => Some(q), None => return true },
                }
            };
            match next {
                Some(chunk) => self.carry.extend(chunk),
                None => return true,
            }
        }
    }
}

fn push(batch: &mut Batch, marks: &mut Vec<Mark>, bytes: &mut usize, q: Queued) {
    *bytes += q.size;
    marks.push(Mark { seq: q.change.seq, ordinal: q.ordinal, hash: q.hash });
    batch.records.push(q.change);
}
