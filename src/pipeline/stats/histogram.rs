//! A Prometheus-style histogram with fixed buckets, updated with atomics:
//! the apply time per batch and the rows per batch (`/metrics` renders
//! them as `_bucket{le=…}`, `_sum` and `_count`).
//!
//! A value goes into the first bucket whose upper bound is at least the
//! value (`le`: less or equal), or into the overflow bucket (`+Inf`).
//! Counts are kept per bucket and made cumulative when read.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds of `logferry_apply_batch_seconds`: 1 ms to 60 s (a batch
/// waiting for an unavailable target can take minutes; those land in +Inf).
pub const APPLY_SECONDS_BOUNDS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Upper bounds of `logferry_batch_rows`: 1 row to 10,000 (batch_max_rows
/// is usually in the hundreds or thousands).
pub const BATCH_ROWS_BOUNDS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0];

/// Sums are kept in millionths, so they fit an atomic integer (seconds to
/// the microsecond; rows exactly up to 18 million million).
const SUM_SCALE: f64 = 1e6;

/// A histogram over fixed bounds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One per bound, plus the overflow bucket (not cumulative).
    counts: Box<[AtomicU64]>,
    /// Sum of the observed values, in millionths.
    sum: AtomicU64,
}

/// A histogram as read: what `/metrics` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound, observations ≤ it)`, cumulative, ending with
    /// `(f64::INFINITY, count)`.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the observed values.
    pub sum: f64,
    /// Observations.
    pub count: u64,
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending).
    pub fn new(bounds: &'static [f64]) -> Self {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]), "bounds ascend");
        Histogram { bounds, counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(), sum: AtomicU64::new(0) }
    }

    /// Counts one observation of `value` (negative and NaN values count as 0).
    pub fn observe(&self, value: f64) {
        let value = if value.is_nan() || value < 0.0 { 0.0 } else { value };
        let i = self.bounds.partition_point(|&b| b < value);
        self.counts[i].fetch_add(1, Relaxed);
        self.sum.fetch_add((value * SUM_SCALE).round().min(u64::MAX as f64) as u64, Relaxed);
    }

    /// The cumulative buckets, the sum and the count now.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut seen = 0;
        let mut buckets = Vec::with_capacity(self.counts.len());
        for (i, c) in self.counts.iter().enumerate() {
            seen += c.load(Relaxed);
            buckets.push((self.bounds.get(i).copied().unwrap_or(f64::INFINITY), seen));
        }
        HistogramSnapshot { buckets, sum: self.sum.load(Relaxed) as f64 / SUM_SCALE, count: seen }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_the_first_bucket_at_least_as_large_and_buckets_are_cumulative() {
        let h = Histogram::new(BATCH_ROWS_BOUNDS);
        for v in [1.0, 2.0, 3.0, 100.0, 100.5, 20_000.0, -4.0] {
            h.observe(v);
        }
        let s = h.snapshot();
        let at = |bound: f64| s.buckets.iter().find(|(b, _)| *b == bound).unwrap().1;
        assert_eq!(at(1.0), 2, "1 and the negative value (counted as 0) are ≤ 1: {s:?}");
        assert_eq!(at(2.0), 3, "le is inclusive: {s:?}");
        assert_eq!(at(5.0), 4);
        assert_eq!(at(100.0), 5, "100 is in le=100, 100.5 is not");
        assert_eq!(at(250.0), 6);
        assert_eq!(at(10000.0), 6);
        assert_eq!(s.buckets.last(), Some(&(f64::INFINITY, 7)), "20,000 only in +Inf");
        assert_eq!(s.count, 7);
        assert!((s.sum - (1.0 + 2.0 + 3.0 + 100.0 + 100.5 + 20_000.0)).abs() < 1e-6, "{s:?}");
        assert!(s.buckets.windows(2).all(|w| w[0].1 <= w[1].1), "cumulative: {s:?}");
        assert_eq!(s.buckets.len(), BATCH_ROWS_BOUNDS.len() + 1);
    }

    #[test]
    fn seconds_keep_microseconds_in_the_sum() {
        let h = Histogram::new(APPLY_SECONDS_BOUNDS);
        h.observe(0.000_25);
        h.observe(0.003);
        let s = h.snapshot();
        assert!((s.sum - 0.003_25).abs() < 1e-9, "{s:?}");
        assert_eq!(s.buckets[0], (0.001, 1));
        assert_eq!(s.buckets[2], (0.005, 2));
    }
}
