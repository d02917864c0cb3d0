//! The figures of one pipeline run, written by the pipeline and read by
//! the admin endpoint (`/health`, `/metrics`) and `logferry bench`.
//!
//! A [`PipelineStats`] holds the pipeline's own counters (records,
//! acknowledgements, checkpoints, restarts, spool, commit-to-apply latency,
//! routing time) and the two contract handles it hands out: the
//! [`SourceStats`] its source updates through the `Emitter`, and the
//! [`SinkStats`] its lanes update around every target apply. Everything
//! is atomics; readers take a [`StatsSnapshot`].

use crate::sinks::SinkStats;
use crate::sources::SourceStats;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What one pipeline reports, updated as it runs.
#[derive(Debug, Default)]
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

    /// A checkpoint was written.
    pub fn checkpointed(&self, seq: u64) {
        self.checkpoint_seq.store(seq, Relaxed);
        self.checkpoint_ms.store(now_ms(), Relaxed);
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
