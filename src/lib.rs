//! logferry: change-data-capture replication. Changes are read from a
//! database's log, turned into one canonical record, and applied to every
//! target in order per key; progress is checkpointed only once it is durable.
//!
//! # How a record travels
//!
//! ```text
//!  sources ─emit─► pipeline intake ─► router ─hash(table,key)─► lanes ─► rules ─► targets (sinks)
//!                                                                  │ durable ack
//!            checkpoint ◄─ last tx end ≤ watermark ◄─ ack tracker ◄┘
//! ```
//!
//! 1. A **source** ([`sources`]) reads the log (after an initial snapshot)
//!    and hands each change to its `Emitter`, which blocks while the
//!    pipeline is full.
//! 2. The **pipeline intake** ([`pipeline`]) numbers records gap-free; the
//!    **router** sends each to the **lane** its key hashes to (barriers,
//!    such as key changes and DDL, wait for every lane to drain).
//! 3. A lane cuts batches, checks them against the `[[pipeline.table]]`
//!    rules and transforms them ([`transform`]: validate, filter, columns,
//!    masks, renames), and applies them to every **target** ([`sinks`])
//!    whose `tables` they match, retrying transient failures; rows failing
//!    a rule, and with `on_error = "dead_letter"` rows a target refuses, are
//!    set aside in the state dir.
//! 4. The **ack tracker** keeps the watermark below which every record is
//!    durable everywhere; the **checkpointer** saves the last transaction
//!    end under it ([`checkpoint`]) and only that position goes back to
//!    the source server.
//!
//! # The modules
//!
//! - [`record`]: the canonical `Change`/`Value` (protobuf types), logical
//!   column types, key hashing, positions, the JSON and protobuf encodings.
//! - [`config`]: TOML parsed into raw structs (unknown keys refused), then
//!   validated types; secrets from the environment or files.
//! - [`sources`]: the `Source` contract, its stats handle and errors, and
//!   the readers: `postgres` (pgoutput), `mysql` (binlog), `mongodb`
//!   (change streams), `generate` (synthetic load).
//! - [`sinks`]: the `Sink` contract, its stats handle and errors, and the
//!   targets: file, stdout, mongodb, and the SQL engine (`sinks::sql`:
//!   lanes, a transaction per batch with its progress row for exactly-once
//!   apply, table cache, schema changes) with its
//!   dialects postgres and mysql. Targets map columns from logical types
//!   and never ask which source a record came from.
//! - [`transform`]: the validate-and-transform stage: rules compiled and
//!   checked against the source's tables, filter expressions with typed
//!   comparisons, masks and renames, per-target routes.
//! - [`pipeline`]: router, lanes, delivery with retries, dead letters, ack
//!   tracker, checkpointer, spool, and the run's figures (`PipelineStats`).
//! - [`checkpoint`]: the sled store in the state dir: checkpoints, dead
//!   letters, the spool.
//! - [`tls`]: rustls set-up shared by the PostgreSQL and MySQL connections;
//!   [`kafka_client`]: librdkafka settings shared by the Kafka source and
//!   target.
//! - [`admin`]: the admin endpoint and the control socket in the state
//!   dir (`/health`, `/ready`, `/metrics`, `/status`, the status page,
//!   copy requests) and their client; it reads `PipelineStats` and only
//!   writes copy requests into it.
//! - [`verify`]: `logferry verify [--repair]`: each source table against
//!   its target tables, by key ranges with digests computed inside the
//!   databases or row by row, through the rules; re-checks what differs
//!   while a run applies, and repairs by sending rows through the pipeline.
//! - [`redact`]: server messages without the row values they quote, for
//!   errors, logs and `/health`; the full text rides along for the
//!   dead-letter store only.
//! - [`cli`]: the commands (`run`, `check`, `status`, `snapshot`, `verify`,
//!   `reset`, `dead-letters`, `bench`) and `run`'s copy progress (bars on a
//!   terminal, log lines otherwise, `cli::progress`); `main.rs` only
//!   parses, logs (through `cli::progress::LogWriter`) and prints errors
//!   with [`ErrorChain`].
//!
//! # Which way the imports run
//!
//! `cli` → `config`, `pipeline`, `admin`, `verify` → `transform` → `sources`/`sinks`
//! contracts → `record`. `record` imports nothing of ours; `config` at
//! most `record`; `transform` only `config`, `record` and the source
//! selectors' glob.
//! Sources and sinks never import each other, `pipeline`, `cli` or `admin`:
//! they report through their contract's stats handle, which the pipeline
//! hands them. Inside `pipeline`, `lane` → `dead_letter` → `deliver`.
pub mod admin;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod kafka_client;
pub mod pipeline;
pub mod record;
pub mod redact;
pub mod sinks;
pub mod sources;
pub mod tls;
pub mod transform;
pub mod verify;

/// A boxed, sendable future: what the object-safe `Source` and `Sink`
/// traits return.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Displays an error with its causes, `outer: inner: innermost`, each text
/// once: a cause whose text the output already holds (an error that also
/// prints its source, or is `transparent`) is not repeated. The binary's
/// `error: …` line and log lines of boundary errors use it.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(e) = cause {
            let text = e.to_string();
            if !text.is_empty() && !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            cause = e.source();
        }
        f.write_str(&out)
    }
}

/// A borrowed driver error's chain, copied level by level (text and
/// source), for classifiers (of sources and targets) that only see `&E`
/// and drivers whose errors cannot be cloned. Keeps what an operator
/// reads; not downcastable.
#[derive(Debug)]
pub struct CauseText {
    text: String,
    source: Option<Box<CauseText>>,
}

impl CauseText {
    /// Copies `e` and its sources.
    pub fn of(e: &(dyn std::error::Error + 'static)) -> Self {
        CauseText { text: e.to_string(), source: e.source().map(|s| Box::new(CauseText::of(s))) }
    }
}

impl std::fmt::Display for CauseText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for CauseText {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as _)
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorChain;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the log")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("wrapped: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn the_chain_is_printed_once() {
        let io = || std::io::Error::other("connection reset");
        assert_eq!(ErrorChain(&Outer(io())).to_string(), "reading the log: connection reset");
        assert_eq!(ErrorChain(&Repeats(io())).to_string(), "wrapped: connection reset");
    }
}
