//! Copy requests: tables (or single keys of a table) a running source is
//! asked to read again and emit while it keeps streaming — an online
//! snapshot (`logferry snapshot --table T`, a table added to `tables`) or
//! a repair (`logferry verify --repair`).
//!
//! The pipeline creates one [`CopyRequests`] per pipeline and hands it to
//! its source in the `SourceContext`; the admin endpoint and the control
//! socket submit to it and report its state. A source that can copy while
//! streaming takes requests with [`CopyRequests::next`], reads the rows
//! between a low and a high watermark of its log, emits them as ordinary
//! records in log order (a key changed by the stream inside the window is
//! left to the stream), and reports each request's progress; a source
//! that cannot (Kafka, the generator) leaves them queued, and the request
//! says so.

use crate::record::Value;
use std::sync::Mutex;
use tokio::sync::Notify;

/// One request.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyRequest {
    /// Numbered from 1 per process.
    pub id: u64,
    /// The source table, `schema.name` / `database.name` / `db.collection`.
    pub table: String,
    /// `None`: the whole table. `Some`: only the rows with these keys (key
    /// values in the order of the table's key columns); a key the source
    /// no longer has is emitted as a DELETE.
    pub keys: Option<Vec<Vec<Value>>>,
}

/// Where a request stands.
#[derive(Debug, Clone, PartialEq)]
pub enum CopyState {
    /// Waiting for the source to take it.
    Queued,
    /// The source is reading it: `rows` emitted so far.
    Copying {
        /// Rows emitted so far.
        rows: u64,
    },
    /// Every row is emitted; `applied` once the checkpoint passed the last
    /// of them (they are durable in every target).
    Emitted {
        /// Rows emitted.
        rows: u64,
        /// The checkpoint passed them.
        applied: bool,
    },
    /// The source could not do it.
    Failed(String),
}

/// The requests of one pipeline and their states.
#[derive(Debug, Default)]
pub struct CopyRequests {
    inner: Mutex<Inner>,
    wake: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    all: Vec<(CopyRequest, CopyState)>,
}

impl CopyRequests {
    /// Queues a request; returns its id.
    pub fn submit(&self, table: &str, keys: Option<Vec<Vec<Value>>>) -> u64 {
        let mut inner = self.inner.lock().expect("not poisoned");
        inner.next_id += 1;
        let id = inner.next_id;
        inner.all.push((CopyRequest { id, table: table.to_string(), keys }, CopyState::Queued));
        drop(inner);
        self.wake.notify_waiters();
        self.wake.notify_one();
        id
    }

    /// The oldest queued request, marked as copying; `None` when none waits.
    pub fn take(&self) -> Option<CopyRequest> {
        let mut inner = self.inner.lock().expect("not poisoned");
        let (req, state) = inner.all.iter_mut().find(|(_, s)| *s == CopyState::Queued)?;
        *state = CopyState::Copying { rows: 0 };
        Some(req.clone())
    }

    /// Waits until a request is queued and takes it.
    pub async fn next(&self) -> CopyRequest {
        loop {
            let notified = self.wake.notified();
            if let Some(r) = self.take() {
                return r;
            }
            notified.await;
        }
    }

    /// Sets the state of request `id`.
    pub fn set(&self, id: u64, state: CopyState) {
        let mut inner = self.inner.lock().expect("not poisoned");
        if let Some((_, s)) = inner.all.iter_mut().find(|(r, _)| r.id == id) {
            *s = state;
        }
    }

    /// Requests a source took but did not finish (it restarted) are queued
    /// again, to be taken by the source's next session.
    pub fn requeue_unfinished(&self) {
        let mut inner = self.inner.lock().expect("not poisoned");
        for (_, s) in inner.all.iter_mut() {
            if matches!(s, CopyState::Copying { .. }) {
                *s = CopyState::Queued;
            }
        }
    }

    /// Fails every request as it comes: for a source that cannot copy
    /// while streaming. Runs until the process ends.
    pub async fn refuse_all(&self, why: String) {
        loop {
            let r = self.next().await;
            self.set(r.id, CopyState::Failed(why.clone()));
        }
    }

    /// Every request of this process with its state, oldest first.
    pub fn list(&self) -> Vec<(CopyRequest, CopyState)> {
        self.inner.lock().expect("not poisoned").all.clone()
    }

    /// The state of request `id`.
    pub fn state(&self, id: u64) -> Option<CopyState> {
        self.inner.lock().expect("not poisoned").all.iter().find(|(r, _)| r.id == id).map(|(_, s)| s.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_are_taken_in_order_and_report_their_state() {
        let q = std::sync::Arc::new(CopyRequests::default());
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.next().await }
        });
        tokio::task::yield_now().await;
        let a = q.submit("public.a", None);
        let b = q.submit("public.b", Some(vec![vec![Value::default()]]));
        let first = waiter.await.unwrap();
        assert_eq!((first.id, first.table.as_str()), (a, "public.a"));
        assert_eq!(q.state(a), Some(CopyState::Copying { rows: 0 }));
        assert_eq!(q.state(b), Some(CopyState::Queued));
        let second = q.take().unwrap();
        assert_eq!(second.id, b);
        assert!(q.take().is_none());
        q.set(b, CopyState::Emitted { rows: 1, applied: true });
        assert_eq!(q.list().len(), 2);
        assert_eq!(q.state(b), Some(CopyState::Emitted { rows: 1, applied: true }));
    }
}
