//! The coordinator's state: sequence numbers and log ordinals, the
//! memory budget of records in flight, the ack tracker and the
//! checkpointer (see the module docs of `pipeline`).

use super::lane::Queued;
use super::order::{in_log_order, new_epoch};
use super::{early, unwrap_position, AckTracker, PipelineStats};
use crate::checkpoint::{Checkpoint, CheckpointError, CheckpointStore};
use crate::record::{Change, Op, Position};
use crate::sinks::RunOrder;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// A record's commit timestamp as a time (none for special values).
pub(super) fn commit_instant(t: &crate::record::Timestamp) -> Option<SystemTime> {
    if t.special != 0 || t.seconds < 0 {
        return None;
    }
    Some(SystemTime::UNIX_EPOCH + Duration::new(t.seconds as u64, t.nanos.min(999_999_999)))
}

/// True for records that must be applied alone, after everything before them.
pub(super) fn is_barrier(change: &Change) -> bool {
    matches!(change.op(), Op::Truncate | Op::SchemaChange) || change.changes_key()
}

/// Sequence numbers, budgets, the ack tracker and the checkpointer.
pub(super) struct Coordinator {
    pub(super) name: String,
    pub(super) store: CheckpointStore,
    /// What early apply's marker records ask (see `early`), in their order.
    pub(super) side: mpsc::UnboundedReceiver<early::Side>,
    pub(super) next_seq: u64,
    /// The last log ordinal given (see `in_log_order`).
    pub(super) ordinal: u64,
    /// The run's numbering, as the lanes read it for their batches.
    pub(super) order_tx: watch::Sender<Arc<RunOrder>>,
    pub(super) tracker: AckTracker,
    /// Transaction ends routed but not yet under the watermark, in seq
    /// order, with their source commit time (for the latency figures).
    pub(super) tx_ends: VecDeque<TxEnd>,
    /// The newest transaction end under the watermark, not yet saved:
    /// its seq, position and log ordinal.
    pub(super) candidate: Option<(u64, Position, u64)>,
    /// The last checkpoint written.
    pub(super) saved: Option<Checkpoint>,
    /// Publishes every saved position to the source.
    pub(super) durable_tx: watch::Sender<Option<Position>>,
    pub(super) interval: Duration,
    /// Earliest time of the next save (rate limit).
    pub(super) next_save: Instant,
    pub(super) in_flight_records: usize,
    pub(super) in_flight_bytes: usize,
    /// Routed records per lane, not yet sent (see `flush`).
    pub(super) pending: Vec<Vec<Queued>>,
    pub(super) records: u64,
    /// Records acknowledged by the lanes (dead letters included).
    pub(super) applied: u64,
    pub(super) dead_lettered: u64,
    pub(super) stats: Arc<PipelineStats>,
    /// Unix millis everything is applied through (`PipelineStats::progress`).
    pub(super) applied_through_ms: u64,
    /// Unix millis at which the current routing round began: when its
    /// records were received.
    pub(super) received_ms: u64,
    /// Source time of the first record of a transaction whose end has not
    /// been routed yet: its commit time, else when it was received (the
    /// lag while its records are in flight).
    pub(super) open_tx_ms: Option<u64>,
}

/// A transaction end on its way to the watermark.
pub(super) struct TxEnd {
    pub(super) seq: u64,
    pub(super) position: Position,
    /// The log ordinal given up to and including this record.
    pub(super) ordinal: u64,
    /// Source commit time (none for heartbeats): the latency figures.
    pub(super) committed: Option<SystemTime>,
    /// Unix millis: the commit time, else when it was received (lag and
    /// "applied through", see `stats`).
    pub(super) source_ms: u64,
}

pub(super) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Coordinator {
    /// Numbers a record and sends it to its lane; returns it instead when it
    /// is a barrier that must wait.
    pub(super) fn route(
        &mut self,
        mut change: Change,
        lanes: usize,
        whole_transactions: bool,
    ) -> Option<Queued> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.records += 1;
        self.stats.received();
        change.seq = seq;
        let ordinal = if in_log_order(&change) {
            self.ordinal += 1;
            self.ordinal
        } else {
            0
        };
        if change.tx_end {
            if let Some(pos) = change.position.take() {
                let committed = if change.is_heartbeat() { None } else { change.commit_time.as_ref().and_then(commit_instant) };
                let source_ms = committed.map_or(self.received_ms, unix_ms);
                self.tx_ends.push_back(TxEnd { seq, position: pos.clone(), ordinal: self.ordinal, committed, source_ms });
                // Targets see the source's position, also behind a spool.
                change.position = Some(unwrap_position(pos));
            }
            self.open_tx_ms = None;
        } else if self.open_tx_ms.is_none() {
            let committed = change.commit_time.as_ref().and_then(commit_instant);
            self.open_tx_ms = Some(committed.map_or(self.received_ms, unix_ms));
        }
        if change.is_heartbeat() {
            // Nothing to apply: acknowledged at once, in its place in the sequence.
            self.acked(seq);
            return None;
        }
        let size = change.approx_size();
        let hash = change.route_hash();
        let q = Queued { change, size, ordinal, hash };
        if !whole_transactions && is_barrier(&q.change) {
            return Some(q);
        }
        self.in_flight(size);
        self.pending[(hash % lanes as u64) as usize].push(q);
        None
    }

    /// Sends each lane the records routed to it since the last flush.
    pub(super) fn flush(&mut self, lane_tx: &[mpsc::UnboundedSender<Vec<Queued>>]) {
        for (l, pending) in self.pending.iter_mut().enumerate() {
            if !pending.is_empty() {
                // A lane's queue only closes after a failure cancelled it; the
                // records then stay unacknowledged, which is what we want.
                let _ = lane_tx[l].send(std::mem::take(pending));
            }
        }
        self.publish();
    }

    /// Tells the stats how far everything is applied and how old the
    /// oldest record in flight is (see `stats`' module docs).
    pub(super) fn publish(&mut self) {
        let in_flight = self.tracker.watermark() + 1 < self.next_seq;
        let oldest = if in_flight {
            self.tx_ends.front().map(|t| t.source_ms).or(self.open_tx_ms).unwrap_or(self.received_ms).max(1)
        } else {
            self.applied_through_ms = self.applied_through_ms.max(self.received_ms);
            0
        };
        self.stats.progress(self.applied_through_ms, oldest);
    }

    pub(super) fn in_flight(&mut self, size: usize) {
        self.in_flight_records += 1;
        self.in_flight_bytes += size;
    }

    pub(super) fn applied(&mut self, seqs: &[u64], bytes: usize, dead_lettered: usize) {
        self.dead_lettered += dead_lettered as u64;
        self.in_flight_records -= seqs.len();
        self.in_flight_bytes -= bytes;
        self.applied += seqs.len() as u64;
        self.stats.applied(seqs.len() as u64, dead_lettered as u64);
        for &s in seqs {
            self.acked(s);
        }
        self.publish();
    }

    pub(super) fn acked(&mut self, seq: u64) {
        if !self.tracker.ack(seq) {
            return;
        }
        let w = self.tracker.watermark();
        while self.tx_ends.front().is_some_and(|t| t.seq <= w) {
            let TxEnd { seq, position, ordinal, committed, source_ms } = self.tx_ends.pop_front().expect("checked");
            if let Some(at) = committed {
                self.stats.transaction_applied(at);
            }
            self.applied_through_ms = self.applied_through_ms.max(source_ms);
            self.candidate = Some((seq, position, ordinal));
        }
    }

    /// Everything routed is acknowledged and the source has stopped: save
    /// the checkpoint now and number the next records from it, since the
    /// source replays what follows it.
    pub(super) async fn restart_from_checkpoint(&mut self) -> Result<(), CheckpointError> {
        self.save().await?;
        let seq = self.saved.as_ref().map_or(0, |c| c.seq);
        self.next_seq = seq + 1;
        self.ordinal = self.saved.as_ref().map_or(0, |c| c.ordinal);
        // Without a checkpoint the source starts over from scratch, maybe
        // elsewhere in its log: a new numbering.
        let epoch = if self.saved.is_some() { self.order_tx.borrow().epoch } else { new_epoch() };
        let resumed = self.ordinal;
        self.order_tx.send_modify(|o| *o = Arc::new(RunOrder { epoch, resumed, ..(**o).clone() }));
        self.tracker = AckTracker::new(seq);
        self.tx_ends.clear();
        self.open_tx_ms = None;
        self.candidate = None;
        Ok(())
    }

    /// Writes the candidate checkpoint (flushed) and publishes it.
    pub(super) async fn save(&mut self) -> Result<(), CheckpointError> {
        let Some((seq, position, ordinal)) = self.candidate.take() else { return Ok(()) };
        let epoch = self.order_tx.borrow().epoch;
        let cp = Checkpoint { seq, position, updated_at: SystemTime::now(), epoch, ordinal };
        let store = self.store.clone();
        let name = self.name.clone();
        let to_save = cp.clone();
        tokio::task::spawn_blocking(move || store.save(&name, &to_save))
            .await
            .expect("checkpoint write does not panic")?;
        tracing::debug!(pipeline = %self.name, seq, position = %cp.position.display, "checkpoint saved");
        let _ = self.durable_tx.send(Some(cp.position.clone()));
        self.stats.checkpointed(seq, &cp.position.display);
        self.saved = Some(cp);
        self.next_save = Instant::now() + self.interval;
        Ok(())
    }
}

