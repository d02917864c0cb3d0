//! The figures of one pipeline run, written by the pipeline and read by
//! the admin endpoint (`/health`, `/ready`, `/metrics`, `/status`, the
//! status page) and `logferry bench`.
//!
//! A [`PipelineStats`] holds the pipeline's own counters (records,
//! acknowledgements, checkpoints, restarts, spool, commit-to-apply latency,
//! routing time, per-table applied counts, batch histograms, retries, lag)
//! and the two contract handles it hands out: the [`SourceStats`] its
//! source updates through the `Emitter`, and the [`SinkStats`] its lanes
//! update around every target apply. Counters are atomics; the few maps
//! (per-table counts, the checkpoint's position text, the history ring)
//! are behind mutexes taken once per batch, checkpoint or sample. Readers
//! take a [`StatsSnapshot`].
//!
//! **Lag and "applied through".** The coordinator publishes two times
//! after every routing round and every acknowledged batch
//! ([`PipelineStats::progress`]):
//! - *applied through*: the latest source time up to which everything is
//!   applied. It is the commit timestamp of the last transaction every
//!   target applied (all before it applied too, by the watermark), or,
//!   when nothing is in flight (every record received is acknowledged),
//!   the wall-clock time at which the last acknowledged record —
//!   heartbeats included — was received. A heartbeat under the watermark
//!   counts with the time it was received, and so does a transaction end
//!   without a commit timestamp. It never goes back (a source whose
//!   commit timestamps lag this machine's clock, such as the generator's
//!   synthetic 2024 times, does not move it back after an idle moment).
//!   With a spool, "received" is when the coordinator read a record back
//!   from the spool, so a change still waiting in the spool at an idle
//!   moment is not covered by that moment's time (the spool is read as
//!   fast as the lanes take records, so such moments are short).
//! - *oldest unapplied*: the source time of the oldest record received but
//!   not yet applied: the commit timestamp of the first transaction end
//!   above the watermark (its records share it), or the time it was
//!   received (a heartbeat, no timestamp, or a transaction whose end has
//!   not arrived yet). Lag is now minus that, and 0 when nothing is in
//!   flight.

mod histogram;
mod history;

pub use histogram::{Histogram, HistogramSnapshot, APPLY_SECONDS_BOUNDS, BATCH_ROWS_BOUNDS};
pub use history::{History, Point, Sample, HISTORY_SPAN, SAMPLE_INTERVAL};

use crate::record::Change;
use crate::sinks::SinkStats;
use crate::sources::SourceStats;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Operations counted per table (`Op` values 0..=8).
const OPS: usize = 9;

/// What one pipeline reports, updated as it runs.
#[derive(Debug)]
pub struct PipelineStats {
    /// Pipeline name.
    pub name: String,
    /// What the source reports (handed to it in its `Emitter`).
    pub source: Arc<SourceStats>,
    /// What the lanes measure of the targets.
    pub targets: Arc<SinkStats>,
    /// Copies the source is asked to make while it streams (online
    /// snapshots, repairs); handed to it in its `SourceContext`.
    pub requests: Arc<crate::sources::requests::CopyRequests>,
    records: AtomicU64,
    applied: AtomicU64,
    dead_lettered: AtomicU64,
    checkpoint_seq: AtomicU64,
    /// Unix millis of the last checkpoint write (0: none this run).
    checkpoint_ms: AtomicU64,
    source_restarts: AtomicU64,
    spooled: AtomicBool,
    spool_bytes: AtomicU64,
    spool_full: AtomicBool,
    /// Set when the pipeline stopped: `None` cleanly, else its error.
    stopped: Mutex<Option<Option<String>>>,
    /// Source commit → every target applied, per source transaction.
    latency: LatencyHistogram,
    /// Nanoseconds the coordinator spent numbering and routing records.
    route_ns: AtomicU64,
    /// The validate-and-transform stage's counters, when it has rules.
    transform: std::sync::OnceLock<Arc<crate::transform::TransformStats>>,
    /// Records of acknowledged batches per source table (`schema.name`)
    /// and operation (indexed by `Op` value).
    table_ops: Mutex<HashMap<String, [u64; OPS]>>,
    /// Seconds from a batch's first apply attempt to every target's
    /// acknowledgement (retries included).
    apply_batch: Histogram,
    /// Rows per acknowledged batch.
    batch_rows: Histogram,
    /// Retries of a batch on a target after a transient failure.
    target_retries: AtomicU64,
    /// Unix millis everything is applied through (0: not yet known); see
    /// the module docs.
    applied_through_ms: AtomicU64,
    /// Unix millis (source time) of the oldest record in flight (0: none).
    oldest_unapplied_ms: AtomicU64,
    /// The position text of the last checkpoint (written or resumed from).
    checkpoint_position: Mutex<String>,
    /// The last 15 minutes, sampled (the status page's chart).
    history: History,
}

impl Default for PipelineStats {
    fn default() -> Self {
        PipelineStats {
            name: String::new(),
            source: Default::default(),
            targets: Default::default(),
            requests: Default::default(),
            records: Default::default(),
            applied: Default::default(),
            dead_lettered: Default::default(),
            checkpoint_seq: Default::default(),
            checkpoint_ms: Default::default(),
            source_restarts: Default::default(),
            spooled: Default::default(),
            spool_bytes: Default::default(),
            spool_full: Default::default(),
            stopped: Default::default(),
            latency: Default::default(),
            route_ns: Default::default(),
            transform: Default::default(),
            table_ops: Default::default(),
            apply_batch: Histogram::new(APPLY_SECONDS_BOUNDS),
            batch_rows: Histogram::new(BATCH_ROWS_BOUNDS),
            target_retries: Default::default(),
            applied_through_ms: Default::default(),
            oldest_unapplied_ms: Default::default(),
            checkpoint_position: Default::default(),
            history: Default::default(),
        }
    }
}

/// The counters of a [`PipelineStats`] at one moment, for readers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsSnapshot {
    /// Records received from the source (heartbeats included).
    pub records: u64,
    /// Records every target durably applied.
    pub applied: u64,
    /// Records set aside in the dead-letter store by this process.
    pub dead_lettered: u64,
    /// Sequence number of the last checkpoint written by this process.
    pub checkpoint_seq: u64,
    /// When that checkpoint was written (`None`: none this run).
    pub checkpoint_at: Option<SystemTime>,
    /// Source restarts after transient failures.
    pub source_restarts: u64,
    /// Lanes retrying an unavailable target now.
    pub failing_lanes: u64,
    /// Since when the first of them has been retrying.
    pub failing_since: Option<SystemTime>,
    /// Bytes held in the spool (`None`: the pipeline has no spool).
    pub spool_bytes: Option<u64>,
    /// The spool is full and the source waits.
    pub spool_full: bool,
    /// `None` while running; `Some(None)` stopped cleanly; `Some(Some(e))`
    /// stopped with error `e`.
    pub stopped: Option<Option<String>>,
    /// Records a `filter` kept from the targets.
    pub filtered: u64,
    /// Records that failed a `validate` rule (any `on_invalid`).
    pub invalid: u64,
    /// Of those, records dropped by `on_invalid = "skip"`.
    pub skipped: u64,
    /// Retries of a batch on a target after a transient failure.
    pub target_retries: u64,
    /// The position text of the last checkpoint (empty: none yet).
    pub checkpoint_position: String,
    /// Everything is applied up to this source time (see the module docs).
    pub applied_through: Option<SystemTime>,
    /// Source time of the oldest record in flight (`None`: nothing is).
    pub oldest_unapplied: Option<SystemTime>,
}

impl StatsSnapshot {
    /// Now minus the source time of the oldest record in flight; zero when
    /// nothing is in flight (or that time is ahead of this clock).
    pub fn lag(&self, now: SystemTime) -> Duration {
        self.oldest_unapplied.map_or(Duration::ZERO, |t| now.duration_since(t).unwrap_or_default())
    }
}

/// The JSON name of an operation (`insert`, `snapshot_read`, …).
pub fn op_name(op: usize) -> String {
    crate::record::Op::try_from(op as i32)
        .map(|o| o.as_str_name().trim_start_matches("OP_").to_ascii_lowercase())
        .unwrap_or_else(|_| op.to_string())
}

/// Upper bounds of the latency buckets in microseconds: 100 µs steps to
/// 10 ms, 1 ms steps to 1 s, 100 ms steps to 60 s; one overflow bucket.
fn bucket_bounds() -> &'static [u64] {
    static BOUNDS: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    BOUNDS.get_or_init(|| {
        let mut b: Vec<u64> = (1..=100).map(|i| i * 100).collect();
        b.extend((11..=1000).map(|i| i * 1000));
        b.extend((11..=600).map(|i| i * 100_000));
        b
    })
}

/// A fixed-bucket histogram of latencies, updated with atomics.
#[derive(Debug)]
struct LatencyHistogram {
    /// One per bound, plus the overflow bucket.
    counts: Box<[AtomicU64]>,
    max_us: AtomicU64,
    sum_us: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: (0..=bucket_bounds().len()).map(|_| AtomicU64::new(0)).collect(),
            max_us: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    fn record(&self, us: u64) {
        let i = bucket_bounds().partition_point(|&b| b < us);
        self.counts[i].fetch_add(1, Relaxed);
        self.max_us.fetch_max(us, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }

    fn reset(&self) {
        for c in self.counts.iter() {
            c.store(0, Relaxed);
        }
        self.max_us.store(0, Relaxed);
        self.sum_us.store(0, Relaxed);
    }

    fn summary(&self) -> LatencySummary {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Relaxed)).collect();
        let count: u64 = counts.iter().sum();
        let max_ms = self.max_us.load(Relaxed) as f64 / 1000.0;
        // The upper bound of the bucket holding the q-th value (never above the max).
        let quantile = |q: f64| {
            if count == 0 {
                return 0.0;
            }
            let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    let bound = bucket_bounds().get(i).map_or(f64::INFINITY, |&b| b as f64 / 1000.0);
                    return bound.min(max_ms);
                }
            }
            max_ms
        };
        let buckets = counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(i, &c)| (bucket_bounds().get(i).map_or(max_ms, |&b| b as f64 / 1000.0), c))
            .collect();
        LatencySummary {
            count,
            mean_ms: if count == 0 { 0.0 } else { self.sum_us.load(Relaxed) as f64 / count as f64 / 1000.0 },
            p50_ms: quantile(0.50),
            p95_ms: quantile(0.95),
            p99_ms: quantile(0.99),
            max_ms,
            buckets,
        }
    }
}

/// Commit-to-apply latency figures: from the source's commit timestamp of a
/// transaction to the moment every target had applied all of it. Quantiles
/// are the upper bound of their bucket (0.1 ms wide up to 10 ms, 1 ms up to
/// 1 s, 100 ms up to 60 s), never above the maximum seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencySummary {
    /// Transactions measured.
    pub count: u64,
    /// Mean in milliseconds.
    pub mean_ms: f64,
    /// Median in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile in milliseconds.
    pub p95_ms: f64,
    /// 99th percentile in milliseconds.
    pub p99_ms: f64,
    /// Largest in milliseconds.
    pub max_ms: f64,
    /// Non-empty buckets: (upper bound in ms, transactions).
    pub buckets: Vec<(f64, u64)>,
}

/// Where a pipeline spent its time: seconds, summed since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    /// The source waited for room in the pipeline (it was faster than the rest).
    pub source_blocked_s: f64,
    /// The coordinator numbered and routed records to lanes.
    pub route_s: f64,
    /// Lanes applied batches to targets (summed over lanes, so it can exceed the wall time).
    pub apply_s: f64,
}

/// A unix-millis field as a time (0: none).
fn millis(ms: u64) -> Option<SystemTime> {
    (ms > 0).then(|| UNIX_EPOCH + Duration::from_millis(ms))
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl PipelineStats {
    /// Stats for pipeline `name`.
    pub fn new(name: &str) -> Self {
        PipelineStats { name: name.to_string(), ..Default::default() }
    }

    /// A record came from the source.
    pub fn received(&self) {
        self.records.fetch_add(1, Relaxed);
    }

    /// Records acknowledged by the lanes (dead letters included).
    pub fn applied(&self, n: u64, dead_lettered: u64) {
        self.applied.fetch_add(n - dead_lettered, Relaxed);
        self.dead_lettered.fetch_add(dead_lettered, Relaxed);
    }

    /// A checkpoint was written at `position`.
    pub fn checkpointed(&self, seq: u64, position: &str) {
        self.checkpoint_seq.store(seq, Relaxed);
        self.checkpoint_ms.store(now_ms(), Relaxed);
        position.clone_into(&mut self.checkpoint_position.lock().expect("not poisoned"));
    }

    /// The run resumes from a stored checkpoint: it counts as the last one
    /// (its age is the age of that write) until this run writes one.
    pub fn resumed(&self, cp: &crate::checkpoint::Checkpoint) {
        self.checkpoint_seq.store(cp.seq, Relaxed);
        let ms = cp.updated_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        self.checkpoint_ms.store(ms.max(1), Relaxed);
        cp.position.display.clone_into(&mut self.checkpoint_position.lock().expect("not poisoned"));
    }

    /// Every target acknowledged `records` (one batch) after `took`: counts
    /// them per table and operation and in the batch histograms.
    pub fn batch_applied(&self, records: &[Change], took: Duration) {
        self.apply_batch.observe(took.as_secs_f64());
        self.batch_rows.observe(records.len() as f64);
        // Per table in a small local list first: one lock per batch.
        let mut local: Vec<(&crate::record::TableRef, [u64; OPS])> = Vec::new();
        for c in records {
            let Some(t) = c.table.as_ref() else { continue };
            let op = (c.op as usize).min(OPS - 1);
            match local.iter_mut().find(|(l, _)| *l == t) {
                Some((_, n)) => n[op] += 1,
                None => {
                    let mut n = [0; OPS];
                    n[op] = 1;
                    local.push((t, n));
                }
            }
        }
        let mut map = self.table_ops.lock().expect("not poisoned");
        for (t, n) in local {
            let name = t.qualified();
            let entry = map.entry(name).or_insert([0; OPS]);
            for (e, n) in entry.iter_mut().zip(n) {
                *e += n;
            }
        }
    }

    /// A lane retries a batch on a target after a transient failure.
    pub fn target_retried(&self) {
        self.target_retries.fetch_add(1, Relaxed);
    }

    /// The coordinator's view of progress (see the module docs): unix
    /// millis everything is applied through (0: unknown) and the source
    /// time of the oldest record in flight (0: nothing is in flight).
    pub fn progress(&self, applied_through_ms: u64, oldest_unapplied_ms: u64) {
        self.applied_through_ms.fetch_max(applied_through_ms, Relaxed);
        self.oldest_unapplied_ms.store(oldest_unapplied_ms, Relaxed);
    }

    /// Per source table: records of acknowledged batches by operation
    /// (`(op name, count)`, only operations seen), tables sorted.
    pub fn table_ops(&self) -> Vec<(String, Vec<(String, u64)>)> {
        let map = self.table_ops.lock().expect("not poisoned");
        let mut out: Vec<(String, Vec<(String, u64)>)> = map
            .iter()
            .map(|(t, n)| (t.clone(), n.iter().enumerate().filter(|(_, &c)| c > 0).map(|(op, &c)| (op_name(op), c)).collect()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The apply time per batch so far.
    pub fn apply_batch_seconds(&self) -> HistogramSnapshot {
        self.apply_batch.snapshot()
    }

    /// The rows per batch so far.
    pub fn batch_rows(&self) -> HistogramSnapshot {
        self.batch_rows.snapshot()
    }

    /// The counters and lag now, as a history sample.
    pub fn sample_now(&self) -> Sample {
        let now = SystemTime::now();
        let s = self.snapshot();
        Sample {
            at_ms: now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
            received: s.records,
            applied: s.applied,
            lag_s: s.lag(now).as_secs_f64(),
        }
    }

    /// Records a history sample now (the admin endpoint's sampler).
    pub fn sample(&self) {
        self.history.push(self.sample_now());
    }

    /// The sampled history (see [`History`]).
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The source was restarted after a transient failure.
    pub fn source_restarted(&self) {
        self.source_restarts.fetch_add(1, Relaxed);
    }

    /// The spool holds `bytes`.
    pub fn spool_bytes(&self, bytes: u64) {
        self.spooled.store(true, Relaxed);
        self.spool_bytes.store(bytes, Relaxed);
    }

    /// The spool is full (the source waits for room) or has room again.
    pub fn spool_full(&self, full: bool) {
        self.spool_full.store(full, Relaxed);
    }

    /// A source transaction committed at `commit_time` is now applied by
    /// every target.
    pub fn transaction_applied(&self, commit_time: SystemTime) {
        let us = SystemTime::now().duration_since(commit_time).map_or(0, |d| d.as_micros() as u64);
        self.latency.record(us);
    }

    /// The commit-to-apply latencies recorded so far.
    pub fn latency(&self) -> LatencySummary {
        self.latency.summary()
    }

    /// Forgets the latencies recorded so far (a bench's warm-up).
    pub fn reset_latency(&self) {
        self.latency.reset();
    }

    /// The coordinator spent `d` routing.
    pub fn routed(&self, d: Duration) {
        self.route_ns.fetch_add(d.as_nanos() as u64, Relaxed);
    }

    /// Time per stage so far.
    pub fn stages(&self) -> StageTimes {
        StageTimes {
            source_blocked_s: self.source.blocked_time().as_secs_f64(),
            route_s: self.route_ns.load(Relaxed) as f64 / 1e9,
            apply_s: self.targets.total_apply_time().as_secs_f64(),
        }
    }

    /// Records received and applied so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.records.load(Relaxed), self.applied.load(Relaxed))
    }

    /// Hands over the counters of the pipeline's validate-and-transform stage.
    pub fn set_transform(&self, stats: Arc<crate::transform::TransformStats>) {
        let _ = self.transform.set(stats);
    }

    /// The pipeline ended: cleanly (`None`) or with an error.
    pub fn stopped(&self, error: Option<String>) {
        *self.stopped.lock().expect("not poisoned") = Some(error);
    }

    /// The counters as they are now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let (failing_lanes, failing_since) = self.targets.failing();
        let checkpoint_ms = self.checkpoint_ms.load(Relaxed);
        StatsSnapshot {
            records: self.records.load(Relaxed),
            applied: self.applied.load(Relaxed),
            dead_lettered: self.dead_lettered.load(Relaxed),
            checkpoint_seq: self.checkpoint_seq.load(Relaxed),
            checkpoint_at: (checkpoint_ms > 0).then(|| UNIX_EPOCH + Duration::from_millis(checkpoint_ms)),
            source_restarts: self.source_restarts.load(Relaxed),
            failing_lanes,
            failing_since,
            spool_bytes: self.spooled.load(Relaxed).then(|| self.spool_bytes.load(Relaxed)),
            spool_full: self.spool_full.load(Relaxed),
            stopped: self.stopped.lock().expect("not poisoned").clone(),
            filtered: self.transform.get().map_or(0, |t| t.filtered()),
            invalid: self.transform.get().map_or(0, |t| {
                use crate::config::OnInvalid::*;
                [DeadLetter, Stop, Skip].into_iter().map(|a| t.invalid(a)).sum()
            }),
            skipped: self.transform.get().map_or(0, |t| t.invalid(crate::config::OnInvalid::Skip)),
            target_retries: self.target_retries.load(Relaxed),
            checkpoint_position: self.checkpoint_position.lock().expect("not poisoned").clone(),
            applied_through: millis(self.applied_through_ms.load(Relaxed)),
            oldest_unapplied: millis(self.oldest_unapplied_ms.load(Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_quantiles_come_from_the_recorded_values() {
        let h = LatencyHistogram::default();
        assert_eq!(h.summary().count, 0);
        // 1..=1000 ms, one each: p50 is 500 ms, p95 950, p99 990, max 1000.
        for ms in 1..=1000u64 {
            h.record(ms * 1000);
        }
        let l = h.summary();
        assert_eq!((l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms), (1000, 500.0, 950.0, 990.0, 1000.0), "{l:?}");
        assert!((l.mean_ms - 500.5).abs() < 1e-9, "{l:?}");
        // Fine buckets below 10 ms, coarse ones above 1 s, overflow past 60 s.
        h.reset();
        h.record(250);
        h.record(2_345_000);
        h.record(90_000_000);
        let l = h.summary();
        assert_eq!(l.buckets, vec![(0.3, 1), (2400.0, 1), (90_000.0, 1)], "{l:?}");
        assert_eq!((l.p50_ms, l.p99_ms), (2400.0, 90_000.0), "{l:?}");
    }
}
