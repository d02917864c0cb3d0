//! Targets: where changes are applied.
//!
//! A target sees only canonical records: it maps values and the logical
//! column types of schema records to its own types, and never asks which
//! source (or which engine) a record came from. The SQL targets share one
//! engine ([`sql`]) and differ only in their dialect ([`postgres`],
//! [`mysql`]); [`plan`] reduces a batch per key, [`schema_diff`] compares
//! source schemas, [`document`] turns document rows into `_id` + `document`.
//!
//! # The `Sink` contract
//!
//! A sink receives [`Batch`]es from the pipeline's lanes. Each lane calls
//! [`Sink::apply`] with one batch at a time, in order; different lanes call it
//! concurrently, so a sink is `Sync` and keeps whatever per-lane resources it
//! needs (connections, buffers) behind its own locks.
//!
//! - **Ack means durable.** When `apply` returns `Ok(())`, every record of the
//!   batch is durable in the target: fsynced for files, committed for
//!   databases, acknowledged by the broker. The pipeline then counts the
//!   records as acknowledged and may checkpoint past them; after a crash
//!   they are never read again. Return `Ok` any earlier and data can be lost.
//! - **Order.** Records of one key always arrive in one lane, in source
//!   order, and a sink applies a batch in its order. Batches of different
//!   lanes may be applied in any interleaving.
//! - **Idempotence.** After a crash the pipeline replays everything after
//!   the last checkpoint, so a sink sees some records again (same `seq`).
//!   The SQL targets apply exactly once: each batch's transaction records
//!   the lane's log ordinal ([`Batch::order`]) and replays at or below it
//!   are skipped (see [`sql`]). Other database sinks make replay harmless
//!   (upsert by key, delete by key);
//!   [`nats`] sends `Nats-Msg-Id: <pipeline>:<seq>` so JetStream drops a
//!   replay within its duplicate window; log-like sinks (files, stdout) are
//!   at-least-once and consumers can drop duplicates by `seq`.
//! - **Errors and retries.** A [`SinkError`] says whether the failure is
//!   transient (connection lost, timeout: the pipeline retries the *same*
//!   batch after a backoff) or definite (constraint, type, bad data: retrying
//!   the same input cannot help). `apply` may be called again with the same
//!   batch after any error, so a failed apply must not leave a half-applied
//!   batch visible (one transaction per batch, or idempotent writes).
//! - **UNCHANGED.** A value of kind `Unchanged` means "keep what is stored";
//!   a sink must never write the marker over a stored value.
//! - Control records: `OP_SCHEMA_CHANGE` and `OP_TRUNCATE` arrive alone in a
//!   batch after every earlier record has been applied (a barrier).
//!   Heartbeats never reach sinks.
//! - **Open transactions** (optional, [`Sink::open_transaction`]): a target
//!   that can hold one transaction open across calls (the PostgreSQL
//!   target) lets the pipeline apply a big source transaction while it is
//!   still being streamed, and commit or roll it back when the source's
//!   commit or abort arrives (see [`crate::pipeline::early`]).

pub mod deferred;
pub mod discard;
pub mod document;
pub mod file;
pub mod http;
pub mod json_text;
pub mod kafka;
pub mod mongodb;
pub mod mysql;
pub mod naming;
pub mod nats;
pub mod plan;
pub mod postgres;
pub mod schema_diff;
pub mod sql;
pub mod stdout;

use crate::record::Change;
use crate::BoxFuture;
use std::sync::Arc;

/// Records for one lane, in the order they must be applied.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Which lane produced the batch (0-based); sinks with per-lane
    /// connections use it to pick theirs.
    pub lane: usize,
    /// The records, in source order for each key.
    pub records: Vec<Change>,
    /// Where the records stand in the pipeline's log order, for targets
    /// that record what they applied (the SQL targets, exactly once).
    /// `None` for records from outside a pipeline's numbering (dead-letter
    /// replays): applied as they are, never skipped, nothing recorded.
    pub order: Option<LogOrder>,
}

/// A batch's place in its pipeline's log order (see [`Batch::order`]).
#[derive(Debug, Clone)]
pub struct LogOrder {
    /// The pipeline run's numbering.
    pub run: Arc<RunOrder>,
    /// One mark per record the lane batched, in `seq` order (in the
    /// source's form: look records up by `seq`, since rules may have
    /// dropped some).
    pub marks: Arc<[Mark]>,
}

/// The numbering a pipeline run gives its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOrder {
    /// The pipeline's name.
    pub pipeline: String,
    /// Changes whenever the numbering starts again (no checkpoint: first
    /// run, after `reset`): progress recorded under another epoch says
    /// nothing about this one.
    pub epoch: u64,
    /// The pipeline's lane count; a record's lane is `hash % lanes`.
    pub lanes: usize,
    /// The log ordinal of the checkpoint the numbering resumed from:
    /// records at or below it are never sent again in this epoch.
    pub resumed: u64,
}

/// One record's place in the log order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// The record's `seq`.
    pub seq: u64,
    /// Its log ordinal: the count of log row changes up to it, the same in
    /// every replay of the log; 0 for records that are not log row changes
    /// (snapshot reads, copied rows, schema changes), which are never
    /// skipped.
    pub ordinal: u64,
    /// Its routing hash ([`Change::route_hash`] in the source's form): its
    /// lane under any lane count.
    pub hash: u64,
}

impl LogOrder {
    /// The mark of the record numbered `seq`.
    pub fn mark(&self, seq: u64) -> Option<&Mark> {
        self.marks.binary_search_by_key(&seq, |m| m.seq).ok().map(|i| &self.marks[i])
    }
}

/// What the pipeline measures of its targets: time spent in
/// [`Sink::apply`] and lanes retrying an unavailable target. The pipeline
/// creates one per pipeline and updates it around every `apply` call of
/// its lanes; the admin endpoint and `logferry bench` read it. Atomics
/// only, so reading it never slows a lane.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Nanoseconds lanes spent in target applies (summed over lanes).
    apply_ns: std::sync::atomic::AtomicU64,
    /// Lanes retrying an unavailable target now.
    failing_lanes: std::sync::atomic::AtomicU64,
    /// Unix millis since when the first of them has been retrying.
    failing_since_ms: std::sync::atomic::AtomicU64,
}

impl SinkStats {
    /// A lane spent `d` in one target apply.
    pub fn apply_time(&self, d: std::time::Duration) {
        self.apply_ns.fetch_add(d.as_nanos() as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Time spent in target applies so far, summed over lanes.
    pub fn total_apply_time(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.apply_ns.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// A lane started retrying an unavailable target; dropping the guard ends it.
    pub fn lane_failing(self: &std::sync::Arc<Self>) -> FailingLane {
        use std::sync::atomic::Ordering::Relaxed;
        if self.failing_lanes.fetch_add(1, Relaxed) == 0 {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
            self.failing_since_ms.store(now, Relaxed);
        }
        FailingLane(self.clone())
    }

    /// Lanes retrying an unavailable target now, and since when the first
    /// of them has been (`None`: no lane is retrying).
    pub fn failing(&self) -> (u64, Option<std::time::SystemTime>) {
        use std::sync::atomic::Ordering::Relaxed;
        let lanes = self.failing_lanes.load(Relaxed);
        let since = std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.failing_since_ms.load(Relaxed));
        (lanes, (lanes > 0).then_some(since))
    }
}

/// Held while a lane retries an unavailable target (see [`SinkStats::lane_failing`]).
#[derive(Debug)]
pub struct FailingLane(std::sync::Arc<SinkStats>);

impl Drop for FailingLane {
    fn drop(&mut self) {
        self.0.failing_lanes.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A target that applies batches durably. See the module docs for the contract.
pub trait Sink: Send + Sync {
    /// Short name for logs and errors, e.g. `file:/var/out/shop.jsonl`.
    fn name(&self) -> &str;

    /// Applies `batch`; returns only when it is durable. May be called again
    /// with the same batch after an error.
    fn apply<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>>;

    /// Flushes and releases resources at clean shutdown, after the last
    /// `apply` of every lane has returned.
    fn close(&self) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async { Ok(()) })
    }

    /// The target's open transaction, when it can hold one (see
    /// [`OpenTransaction`]); `None` (the default): it cannot.
    fn open_transaction(&self) -> Option<&dyn OpenTransaction> {
        None
    }
}

/// What [`OpenTransaction::commit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenOutcome {
    /// Committed, with the progress rows saying the ordinals are applied.
    Committed,
    /// The target already held every one of the ordinals (a replay): the
    /// transaction was rolled back.
    AlreadyApplied,
    /// The target held some of the ordinals but not all (an earlier run
    /// applied part of the transaction through the lanes): rolled back;
    /// the transaction must go through the lanes, which skip per record.
    Partly,
}

/// One transaction a target keeps open across calls, for a source
/// transaction applied while it is still being read (one at a time).
///
/// Records come in source order; nothing of them is visible until
/// [`commit`](OpenTransaction::commit). Any error leaves the transaction
/// to be rolled back by the caller ([`rollback`](OpenTransaction::rollback));
/// the records then go through the lanes as usual.
pub trait OpenTransaction: Send + Sync {
    /// Applies `records` in the open transaction, beginning it first when
    /// none is open.
    /// `run` is the pipeline run's numbering (the progress rows).
    fn apply<'a>(&'a self, run: &'a Arc<RunOrder>, records: &'a [Change]) -> BoxFuture<'a, Result<(), SinkError>>;
    /// Marks a point `rollback_to` can return to (a subtransaction),
    /// beginning the transaction first when none is open.
    fn savepoint<'a>(&'a self, run: &'a Arc<RunOrder>, name: &'a str) -> BoxFuture<'a, Result<(), SinkError>>;
    /// Undoes everything since `savepoint(name)` (an aborted subtransaction).
    fn rollback_to<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), SinkError>>;
    /// Commits, recording log ordinals `first..=last` of `run` as applied
    /// by every lane in the same transaction (exactly once: see
    /// [`OpenOutcome`]); `first > last`: the transaction had no log row
    /// changes, nothing is recorded. `position` is for people.
    fn commit<'a>(&'a self, run: &'a Arc<RunOrder>, first: u64, last: u64, position: &'a str)
        -> BoxFuture<'a, Result<OpenOutcome, SinkError>>;
    /// Rolls the open transaction back (nothing open: nothing to do).
    fn rollback(&self) -> BoxFuture<'_, ()>;
}

/// Why a sink could not apply a batch, classified by what the caller must do.
///
/// `message` says what failed in the target's words and already quotes the
/// driver's text (an excerpt, scrubbed of the password, without the row
/// values a server quotes: see [`crate::redact`]); `cause`, when there is
/// one, is the error underneath, kept as the error's source, or the full
/// text with the row values ([`SinkError::row_detail`]), which prints
/// nothing and only the dead-letter store keeps. `Display`
/// prints the message only; [`crate::ErrorChain`] skips a cause whose text
/// the message already holds, so every text is printed once.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The target is unreachable or busy; retrying the same batch later may succeed.
    #[error("target {target}: {message}")]
    Transient {
        /// The sink's name.
        target: String,
        /// What failed, in words an operator can act on.
        message: String,
        /// The underlying error, if any.
        #[source]
        cause: Option<Cause>,
    },
    /// The target refused the data; retrying the same batch cannot succeed.
    #[error("target {target}: {message}")]
    Definite {
        /// The sink's name.
        target: String,
        /// What failed and how to fix it.
        message: String,
        /// The underlying error, if any.
        #[source]
        cause: Option<Cause>,
    },
}

/// The error underneath a [`SinkError`].
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

impl SinkError {
    /// True when retrying the same batch may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, SinkError::Transient { .. })
    }

    /// A failure retrying may cure, with no underlying error.
    pub fn transient(target: impl Into<String>, message: impl Into<String>) -> Self {
        SinkError::Transient { target: target.into(), message: message.into(), cause: None }
    }

    /// A failure retrying cannot cure, with no underlying error.
    pub fn definite(target: impl Into<String>, message: impl Into<String>) -> Self {
        SinkError::Definite { target: target.into(), message: message.into(), cause: None }
    }

    /// Keeps `e` as this error's source. The message should already quote
    /// `e`'s text (see [`SinkError::caused_by_quoted`]).
    pub fn caused_by(mut self, e: impl Into<Cause>) -> Self {
        let (SinkError::Transient { cause, .. } | SinkError::Definite { cause, .. }) = &mut self;
        *cause = Some(e.into());
        self
    }

    /// Keeps `e` as this error's source only when the message quotes the
    /// text of every error in its chain, so that [`crate::ErrorChain`]
    /// prints nothing twice; an excerpt that was cut (or a text the message
    /// words differently) would be printed again in full, so then the
    /// message alone tells what failed.
    pub fn caused_by_quoted(self, e: impl Into<Cause>) -> Self {
        let e = e.into();
        let mut quoted = true;
        let mut level: Option<&(dyn std::error::Error + 'static)> = Some(&*e);
        while let Some(l) = level {
            let text = l.to_string();
            quoted &= text.is_empty() || self.message().contains(&text);
            level = l.source();
        }
        if quoted {
            self.caused_by(e)
        } else {
            self
        }
    }

    /// Keeps `text` — what the message leaves out because it quotes row
    /// values (a server's full message and `DETAIL`, the refused row's key)
    /// — as a [`crate::redact::RowDetail`] source, which prints nothing:
    /// only the dead-letter store reads it ([`SinkError::row_detail`]).
    /// Appended to a detail kept before; ignored when the error keeps a
    /// driver's error as its cause (client-side errors quote no rows).
    pub fn with_row_detail(mut self, text: impl AsRef<str>) -> Self {
        let text = text.as_ref();
        let (SinkError::Transient { cause, .. } | SinkError::Definite { cause, .. }) = &mut self;
        match cause.as_mut().map(|c| c.downcast_mut::<crate::redact::RowDetail>()) {
            None => *cause = Some(Box::new(crate::redact::RowDetail(text.to_string()))),
            Some(Some(d)) => {
                d.0.push_str("; ");
                d.0.push_str(text);
            }
            Some(None) => {}
        }
        self
    }

    /// The full text kept by [`SinkError::with_row_detail`], row values
    /// included: for the dead-letter store, never for logs or `/health`.
    pub fn row_detail(&self) -> Option<&str> {
        let (SinkError::Transient { cause, .. } | SinkError::Definite { cause, .. }) = self;
        cause.as_ref()?.downcast_ref::<crate::redact::RowDetail>().map(|d| d.0.as_str())
    }

    /// What failed, without the target's name and without the cause.
    pub fn message(&self) -> &str {
        let (SinkError::Transient { message, .. } | SinkError::Definite { message, .. }) = self;
        message
    }

    /// Drops the cause when any text of its chain contains `secret`: the
    /// message is scrubbed of the password, a driver's error is not.
    pub fn forget_cause_mentioning(mut self, secret: &str) -> Self {
        let (SinkError::Transient { cause, .. } | SinkError::Definite { cause, .. }) = &mut self;
        let mut level: Option<&(dyn std::error::Error + 'static)> = cause.as_deref().map(|c| c as _);
        let mut mentions = false;
        while let Some(l) = level {
            mentions |= !secret.is_empty() && l.to_string().contains(secret);
            level = l.source();
        }
        if mentions {
            *cause = None;
        }
        self
    }

    /// Classifies an I/O error: disk full and permission problems are
    /// definite (an operator must act), interruptions are transient.
    /// The I/O error is kept as the cause.
    pub fn from_io(target: &str, what: &str, e: std::io::Error) -> Self {
        use std::io::ErrorKind::*;
        let message = format!("{what}: {e}");
        let error = match e.kind() {
            Interrupted | WouldBlock | TimedOut | ConnectionReset | ConnectionAborted
            | ConnectionRefused | BrokenPipe | NotConnected => SinkError::transient(target, message),
            _ => SinkError::definite(target, message),
        };
        error.caused_by(e)
    }
}

#[cfg(test)]
mod tests {
    use super::SinkError;
    use crate::ErrorChain;
    use std::error::Error as _;

    #[test]
    fn an_io_error_is_the_source_and_printed_once() {
        let e = SinkError::from_io("file:/out", "cannot append and fsync", std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left"));
        assert!(!e.is_transient());
        let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>()).expect("the io error is the source");
        assert_eq!(io.kind(), std::io::ErrorKind::StorageFull);
        assert_eq!(e.to_string(), "target file:/out: cannot append and fsync: no space left");
        assert_eq!(ErrorChain(&e).to_string(), e.to_string());
    }

    #[test]
    fn a_cause_is_kept_only_when_the_message_quotes_it() {
        let io = || std::io::Error::other("connection reset by peer");
        let quoted = SinkError::transient("t", "upsert: connection reset by peer; retrying").caused_by_quoted(io());
        assert!(quoted.source().is_some());
        assert_eq!(ErrorChain(&quoted).to_string().matches("connection reset").count(), 1);
        // A cut excerpt would be printed again in full: the message alone tells.
        let cut = SinkError::transient("t", "upsert: connection res…; retrying").caused_by_quoted(io());
        assert!(cut.source().is_none());
    }

    #[test]
    fn a_row_detail_is_kept_but_never_printed() {
        let e = SinkError::definite("t", "upsert: duplicate key (SQLSTATE 23505)").with_row_detail("Key (id)=(zz-7) already exists");
        let e = e.with_row_detail("the row with key id = 'zz-7'");
        assert_eq!(e.row_detail(), Some("Key (id)=(zz-7) already exists; the row with key id = 'zz-7'"));
        let shown = format!("{e} | {} | {e:?}", ErrorChain(&e));
        assert!(!shown.contains("zz-7"), "{shown}");
        // A driver's error stays the cause.
        let io = SinkError::transient("t", "reset").caused_by(std::io::Error::other("reset")).with_row_detail("x");
        assert!(io.row_detail().is_none() && io.source().is_some());
    }

    #[test]
    fn a_cause_mentioning_the_password_is_forgotten() {
        let e = SinkError::definite("t", "cannot connect").caused_by(std::io::Error::other("bad url postgres://u:s3cret@h"));
        assert!(e.forget_cause_mentioning("s3cret").source().is_none());
        let e = SinkError::definite("t", "cannot connect: refused").caused_by(std::io::Error::other("refused"));
        assert!(e.forget_cause_mentioning("s3cret").source().is_some());
    }
}
