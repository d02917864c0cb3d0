//! `kind = "stdout"`: canonical JSON lines on standard output, for piping
//! into `jq` or another program. A batch is acknowledged once it is written
//! and flushed to the pipe; what the reader does with it is its business, so
//! this target is at-least-once like files. Logs go to stderr, never here.

use super::{Batch, Sink, SinkError};
use crate::BoxFuture;
use std::io::Write;

/// Writes JSON lines to stdout.
#[derive(Default)]
pub struct StdoutSink;

impl Sink for StdoutSink {
    fn name(&self) -> &str {
        "stdout"
    }

    fn apply<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let buf = super::file::encode_batch(batch, crate::config::RecordFormat::Json);
            tokio::task::spawn_blocking(move || {
                let mut out = std::io::stdout().lock();
                out.write_all(&buf).and_then(|_| out.flush())
            })
            .await
            .map_err(|e| SinkError::definite("stdout", format!("writer task failed: {e}")))?
            .map_err(|e| match e.kind() {
                // The reader went away (e.g. `| head`): nothing more can be delivered.
                std::io::ErrorKind::BrokenPipe => SinkError::definite("stdout", "the reading end of the pipe closed"),
                _ => SinkError::from_io("stdout", "cannot write", e),
            })
        })
    }
}
