//! `kind = "discard"`: counts each batch's records and acknowledges them at
//! once, writing nothing anywhere. It is there to measure a source and the
//! pipeline without a target's cost (`logferry bench`, or a config with
//! only this target), and to dry-run a pipeline's rules. Checkpoints
//! advance as with any target, so a pipeline that has run into `discard`
//! resumes after what it discarded: use a state dir of its own.

use super::{Batch, Sink, SinkError};
use crate::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};

/// Acknowledges every batch after counting its records.
#[derive(Debug, Default)]
pub struct DiscardSink {
    records: AtomicU64,
    batches: AtomicU64,
}

impl DiscardSink {
    /// Records acknowledged so far.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// Batches acknowledged so far.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }
}

impl Sink for DiscardSink {
    fn name(&self) -> &str {
        "discard"
    }

    fn apply<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        self.records.fetch_add(batch.records.len() as u64, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        Box::pin(std::future::ready(Ok(())))
    }
}

impl Drop for DiscardSink {
    fn drop(&mut self) {
        tracing::info!(records = self.records(), batches = self.batches(), "discard target: records acknowledged without writing");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Change;

    #[tokio::test]
    async fn counts_records_and_batches_it_acknowledges() {
        let sink = DiscardSink::default();
        let batch = Batch { lane: 0, records: vec![Change::default(); 3], order: None };
        sink.apply(&batch).await.unwrap();
        sink.apply(&Batch { lane: 1, records: vec![Change::default(); 2], order: None }).await.unwrap();
        assert_eq!((sink.records(), sink.batches()), (5, 2));
    }
}
