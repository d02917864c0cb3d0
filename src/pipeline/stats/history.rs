//! The last 15 minutes of a pipeline, sampled: what the status page draws
//! and where `status` gets its records per second over the last minute.
//!
//! A [`History`] is a ring of [`Sample`]s (the cumulative counters and the
//! lag at one moment). The admin endpoint's sampler task pushes one per
//! pipeline every [`SAMPLE_INTERVAL`] (and one when it starts), so the
//! ring holds [`HISTORY_SPAN`] and readers never pay for it; rates are
//! differences of neighbouring samples, computed when read.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// How often the sampler records each pipeline.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);

/// How far back the history reaches (the status page's chart).
pub const HISTORY_SPAN: Duration = Duration::from_secs(15 * 60);

/// Samples kept: one more than the intervals in the span, since a rate
/// needs two samples.
const CAPACITY: usize = (HISTORY_SPAN.as_secs() / SAMPLE_INTERVAL.as_secs()) as usize + 1;

/// The counters of one pipeline at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Unix milliseconds.
    pub at_ms: u64,
    /// Records received so far (heartbeats included).
    pub received: u64,
    /// Records applied so far.
    pub applied: u64,
    /// Lag in seconds at that moment.
    pub lag_s: f64,
}

/// One interval of the history, ending at `at_ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Unix milliseconds of the interval's end.
    pub at_ms: u64,
    /// Records applied per second in the interval.
    pub applied_per_s: f64,
    /// Records received per second in the interval.
    pub received_per_s: f64,
    /// Lag in seconds at the interval's end.
    pub lag_s: f64,
}

/// A ring of samples, oldest first.
#[derive(Debug, Default)]
pub struct History {
    samples: Mutex<VecDeque<Sample>>,
}

impl History {
    /// Adds a sample (one not newer than the last is ignored), dropping
    /// the oldest beyond the span.
    pub fn push(&self, sample: Sample) {
        let mut samples = self.samples.lock().expect("not poisoned");
        if samples.back().is_some_and(|last| last.at_ms >= sample.at_ms) {
            return;
        }
        if samples.len() == CAPACITY {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    /// Every interval between neighbouring samples, oldest first.
    pub fn points(&self) -> Vec<Point> {
        let samples = self.samples.lock().expect("not poisoned");
        samples
            .iter()
            .zip(samples.iter().skip(1))
            .map(|(a, b)| {
                let secs = (b.at_ms - a.at_ms) as f64 / 1000.0;
                Point {
                    at_ms: b.at_ms,
                    applied_per_s: b.applied.saturating_sub(a.applied) as f64 / secs,
                    received_per_s: b.received.saturating_sub(a.received) as f64 / secs,
                    lag_s: b.lag_s,
                }
            })
            .collect()
    }

    /// Records applied per second from the newest sample at least `window`
    /// older than `now` (or the oldest sample, when the history is
    /// shorter) to `now`; `None` without an earlier sample.
    pub fn applied_rate(&self, now: &Sample, window: Duration) -> Option<f64> {
        let samples = self.samples.lock().expect("not poisoned");
        let cutoff = now.at_ms.saturating_sub(window.as_millis() as u64);
        let from = samples.iter().rev().find(|s| s.at_ms <= cutoff).or_else(|| samples.front())?;
        if from.at_ms >= now.at_ms {
            return None;
        }
        Some(now.applied.saturating_sub(from.applied) as f64 / ((now.at_ms - from.at_ms) as f64 / 1000.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_s: u64, applied: u64) -> Sample {
        Sample { at_ms: at_s * 1000, received: applied + 1, applied, lag_s: at_s as f64 / 10.0 }
    }

    #[test]
    fn the_ring_keeps_fifteen_minutes_and_rates_come_from_neighbours() {
        let h = History::default();
        assert!(h.points().is_empty());
        h.push(sample(0, 0));
        assert!(h.points().is_empty(), "one sample is no interval yet");
        h.push(sample(5, 50));
        h.push(sample(5, 999)); // not newer: ignored
        h.push(sample(10, 150));
        let p = h.points();
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].at_ms, p[0].applied_per_s, p[0].received_per_s, p[0].lag_s), (5000, 10.0, 10.0, 0.5));
        assert_eq!((p[1].at_ms, p[1].applied_per_s), (10_000, 20.0));
        // Past the span the oldest samples go: 181 samples, 180 intervals.
        for i in 3..400 {
            h.push(sample(i * 5, i * 100));
        }
        let p = h.points();
        assert_eq!(p.len(), CAPACITY - 1);
        assert_eq!(p.len(), 180);
        assert_eq!(p.last().unwrap().at_ms, 399 * 5000);
        assert_eq!(p.first().unwrap().at_ms, (399 - 179) * 5000);
        assert!(p.iter().all(|p| p.applied_per_s == 20.0), "{:?}", &p[..3]);
    }

    #[test]
    fn the_applied_rate_spans_about_the_window() {
        let h = History::default();
        let now = sample(100, 10_000);
        assert_eq!(h.applied_rate(&now, Duration::from_secs(60)), None, "no history yet");
        h.push(sample(0, 0));
        // Only a sample 100 s back: the rate over those 100 s.
        assert_eq!(h.applied_rate(&now, Duration::from_secs(60)), Some(100.0));
        for (t, n) in [(30, 1000), (40, 4000), (45, 7000), (95, 9500)] {
            h.push(sample(t, n));
        }
        // The newest sample at least 60 s old is the one at 40 s.
        assert_eq!(h.applied_rate(&now, Duration::from_secs(60)), Some(6000.0 / 60.0));
        assert_eq!(h.applied_rate(&sample(95, 9500), Duration::from_secs(60)), Some(8500.0 / 65.0));
    }
}
