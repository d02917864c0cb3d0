//! Delivery of one batch to every target, with retries of transient
//! failures: the piece the lane and the dead-letter bisection share.
//!
//! A lane (`lane`) hands each batch here; with `on_error = "dead_letter"`
//! it goes through `dead_letter` first, which applies pieces of the batch
//! here too. This module knows neither of them, so the imports run one
//! way: `lane` → `dead_letter` → `deliver`.

use crate::sinks::{Batch, FailingLane, Sink, SinkError, SinkStats};
use crate::transform::{Route, Stage};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How transient target failures are retried.
#[derive(Debug, Clone)]
pub(crate) struct Retry {
    /// `None`: retry transient failures until the target is back.
    pub max_retries: Option<u32>,
    pub backoff: Duration,
    pub max_backoff: Duration,
}

/// One lane's way to its targets.
pub(crate) struct Delivery {
    /// The lane's index, for logs.
    pub lane: usize,
    pub sinks: Arc<[Arc<dyn Sink>]>,
    pub retry: Retry,
    /// Turns true when the pipeline failed: stop without applying more.
    pub cancel: watch::Receiver<bool>,
    /// Turns true at shutdown: a lane waiting to retry an unavailable
    /// target gives its batch up (unacknowledged) instead of waiting on.
    pub stopping: watch::Receiver<bool>,
    /// The targets' figures (time in applies, lanes retrying a target).
    pub stats: Arc<SinkStats>,
    /// The pipeline's figures (retries, per-table counts, batch histograms).
    pub figures: Arc<super::PipelineStats>,
    /// The validate-and-transform rules: batches arrive in the source's
    /// form and each target gets the transformed records.
    pub stage: Option<Arc<Stage>>,
    /// Each sink's `tables` (same order as `sinks`).
    pub routes: Arc<[Route]>,
}

impl Delivery {
    /// Applies `batch` to every target, retrying transient errors with
    /// exponential backoff and jitter: without limit by default (the target
    /// is down; the lane waits for it while the queue bound holds the source
    /// back), else up to `max_retries` times. One warning per retry, one
    /// info line when the target is back. `Err(None)` means cancelled.
    pub(crate) async fn apply_everywhere(&mut self, batch: &Batch) -> Result<(), Option<SinkError>> {
        let transformed;
        let batch = match &self.stage {
            None => batch,
            Some(stage) => {
                transformed = Batch { lane: batch.lane, records: stage.transform_all(&batch.records), order: batch.order.clone() };
                &transformed
            }
        };
        let sinks = self.sinks.clone();
        let routes = self.routes.clone();
        for (i, sink) in sinks.iter().enumerate() {
            let routed;
            let batch = match routes.get(i) {
                Some(route) if !route.is_all() => {
                    routed = Batch { lane: batch.lane, records: batch.records.iter().filter(|c| route.admits(c)).cloned().collect(), order: batch.order.clone() };
                    &routed
                }
                _ => batch,
            };
            if batch.records.is_empty() {
                continue;
            }
            let mut attempt = 0u32;
            let mut backoff = self.retry.backoff;
            // The first failure of this batch on this target (monotonic, and
            // wall clock for the log), so the logs say since when it fails.
            let mut failing_since: Option<(Instant, std::time::SystemTime)> = None;
            // Counts this lane as retrying for /health until the loop ends.
            let mut _failing: Option<FailingLane> = None;
            loop {
                let began = std::time::Instant::now();
                let applied = sink.apply(batch).await;
                self.stats.apply_time(began.elapsed());
                match applied {
                    Ok(()) => {
                        if let Some((since, _)) = failing_since {
                            tracing::info!(lane = self.lane, target = sink.name(), down_ms = since.elapsed().as_millis() as u64,
                                retries = attempt, "target is back; delivery resumed");
                        }
                        break;
                    }
                    Err(e) if e.is_transient() && self.retry.max_retries.is_none_or(|max| attempt < max) => {
                        attempt = attempt.saturating_add(1);
                        self.figures.target_retried();
                        let (since, since_wall) = *failing_since.get_or_insert_with(|| (Instant::now(), std::time::SystemTime::now()));
                        if _failing.is_none() {
                            _failing = Some(self.stats.lane_failing());
                        }
                        let delay = jitter(backoff, batch.records.first().map_or(0, |c| c.seq) ^ attempt as u64);
                        tracing::warn!(lane = self.lane, target = sink.name(),
                            failing_since = %crate::record::format_utc(since_wall), failing_for_ms = since.elapsed().as_millis() as u64,
                            attempt, retry_in_ms = delay.as_millis() as u64, error = %e, "target unavailable; retrying");
                        let mut stopping = self.stopping.clone();
                        tokio::select! {
                            biased;
                            _ = self.cancel.changed() => return Err(None),
                            _ = crate::sources::stopped(&mut stopping) => return Err(None),
                            _ = tokio::time::sleep(delay) => {}
                        }
                        backoff = backoff.saturating_mul(2).min(self.retry.max_backoff);
                    }
                    Err(e) => return Err(Some(e)),
                }
            }
        }
        Ok(())
    }
}

/// Spreads retries of many lanes over [d/2, d) so they do not hammer a
/// recovering target in step. `salt` varies per batch and attempt.
pub(crate) fn jitter(d: Duration, salt: u64) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos() as u64;
    let mut x = nanos ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    let frac = (x % 1000) as u32; // 0..999 thousandths
    d / 2 + d / 2 * frac / 1000
}
