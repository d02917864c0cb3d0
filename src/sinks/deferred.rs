//! A target that was unreachable when the pipeline started.
//!
//! `logferry run` connects every target at start, so that a wrong password
//! or a missing database stops it at once. A target that is merely down
//! (connection refused, timeout, server starting) must not keep the
//! pipeline from starting, though: the source can be read meanwhile (into
//! the queues, or into the spool, which is the point of having one). Such a
//! target is wrapped in a [`Deferred`] sink, which connects on the first
//! apply and again on every apply until a connection succeeds; until then
//! each apply fails transiently, so the lanes retry it with their usual
//! backoff and warnings. A connection attempt that fails definitely later
//! (the server came back with a changed password) stops the pipeline like
//! any definite error.

use super::{Batch, Sink, SinkError};
use crate::BoxFuture;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// Opens a target: the same call `run` makes at start.
pub type Connect = Arc<dyn Fn() -> BoxFuture<'static, Result<Arc<dyn Sink>, SinkError>> + Send + Sync>;

/// A target connected on first use. See the module docs.
pub struct Deferred {
    name: String,
    connect: Connect,
    sink: OnceCell<Arc<dyn Sink>>,
}

impl Deferred {
    /// A sink named `name` (the target's name from the failed attempt)
    /// that connects with `connect` when first needed.
    pub fn new(name: String, connect: Connect) -> Self {
        Deferred { name, connect, sink: OnceCell::new() }
    }

    /// True once a connection was made.
    pub fn is_connected(&self) -> bool {
        self.sink.initialized()
    }
}

/// Connects a target; when it is unreachable (a transient error), warns
/// and returns a [`Deferred`] sink instead of failing.
pub async fn connect_or_defer(connect: Connect) -> Result<Arc<dyn Sink>, SinkError> {
    match connect().await {
        Ok(sink) => Ok(sink),
        Err(SinkError::Transient { target, message, .. }) => {
            tracing::warn!(target_name = %target, error = %message,
                "target unreachable at start; starting anyway: its lanes retry it with backoff while changes wait in the queues (or the spool)");
            Ok(Arc::new(Deferred::new(target, connect)))
        }
        Err(e) => Err(e),
    }
}

impl Sink for Deferred {
    fn name(&self) -> &str {
        &self.name
    }

    fn apply<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let sink = self.sink.get_or_try_init(|| (self.connect)()).await?;
            sink.apply(batch).await
        })
    }

    fn close(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            match self.sink.get() {
                Some(sink) => sink.close().await,
                None => Ok(()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Mutex;

    struct Counting(Arc<Mutex<usize>>);

    impl Sink for Counting {
        fn name(&self) -> &str {
            "counting"
        }
        fn apply<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
            *self.0.lock().unwrap() += batch.records.len();
            Box::pin(async { Ok(()) })
        }
    }

    /// Fails transiently `down` times, then (if `then_definite`) definitely, else connects.
    fn connector(down: u32, then_definite: bool, applied: Arc<Mutex<usize>>, attempts: Arc<AtomicU32>) -> Connect {
        Arc::new(move || {
            let n = attempts.fetch_add(1, Ordering::SeqCst);
            let applied = applied.clone();
            Box::pin(async move {
                if n < down {
                    Err(SinkError::transient("t", "connection refused"))
                } else if then_definite {
                    Err(SinkError::definite("t", "password authentication failed"))
                } else {
                    Ok(Arc::new(Counting(applied)) as Arc<dyn Sink>)
                }
            })
        })
    }

    fn batch() -> Batch {
        Batch { lane: 0, records: vec![Default::default(); 3], order: None }
    }

    #[tokio::test]
    async fn an_unreachable_target_is_connected_on_a_later_apply() {
        let applied = Arc::new(Mutex::new(0));
        let attempts = Arc::new(AtomicU32::new(0));
        let sink = connect_or_defer(connector(3, false, applied.clone(), attempts.clone())).await.unwrap();
        assert_eq!(sink.name(), "t");
        for _ in 0..2 {
            let e = sink.apply(&batch()).await.unwrap_err();
            assert!(matches!(e, SinkError::Transient { .. }), "{e}");
        }
        sink.apply(&batch()).await.unwrap();
        sink.apply(&batch()).await.unwrap();
        assert_eq!(*applied.lock().unwrap(), 6);
        assert_eq!(attempts.load(Ordering::SeqCst), 4, "one attempt at start, two failed applies, one connection kept");
    }

    #[tokio::test]
    async fn definite_errors_are_not_deferred() {
        let attempts = Arc::new(AtomicU32::new(0));
        let e = connect_or_defer(connector(0, true, Arc::default(), attempts.clone())).await.err().unwrap();
        assert!(matches!(e, SinkError::Definite { .. }));
        // Unreachable at start, then refusing the password: the apply fails definitely.
        let attempts = Arc::new(AtomicU32::new(0));
        let sink = connect_or_defer(connector(1, true, Arc::default(), attempts)).await.unwrap();
        let e = sink.apply(&batch()).await.unwrap_err();
        assert!(matches!(e, SinkError::Definite { .. }) && e.to_string().contains("password"), "{e}");
    }
}
