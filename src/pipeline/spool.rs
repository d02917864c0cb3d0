//! The durable spool (`[pipeline.spool]`): a disk queue in the state dir
//! between the source and the lanes, so that a long target outage does not
//! make the source server keep its log (WAL, binlog) without limit.
//!
//! ```text
//!  source ──emit──► writer ──append + fsync──► spool/<pipeline>/*.seg ──► reader ──emit──► pipeline
//!    ▲                 │                                 ▲                                   │
//!    └── durable ◄─────┘ (position of the last          └── trim ≤ the pipeline's checkpoint ◄┘
//!        spooled transaction end)
//! ```
//!
//! It is a [`Source`] wrapped around the configured one, so the rest of the
//! pipeline does not change:
//!
//! - **Writer.** Records the source emits get consecutive spool indexes and
//!   are appended in groups to the spool's segment files
//!   ([`SpoolStore`]), one fsync per group. When a group holds a
//!   transaction end (or a heartbeat, which marks a resume point between
//!   transactions), a meta frame appended with it (and fsynced with it)
//!   commits it: the spool's meta then names that index and the source position to
//!   resume after, and only *then* is that position published to the source
//!   as durable, so the source server may discard its log up to there while
//!   the target is still down.
//! - **Reader.** Delivers spooled records in index order to the pipeline.
//!   A transaction end leaves it with a position that carries both its
//!   spool index and the source position ([`spool_position`]); the
//!   pipeline checkpoints that as usual, and targets see the source
//!   position alone ([`unwrap_position`]).
//! - **Trimming.** Once the pipeline has checkpointed spool index `i`, the
//!   entries up to `i` are removed (their segment files are deleted once
//!   all their groups are).
//! - **Bound.** When the spool holds `max_bytes`, the writer stops taking
//!   records at the next transaction end, so the source waits (and its
//!   server keeps the log) as it would without a spool. A single
//!   transaction larger than the bound is spooled whole: stopping inside it
//!   would wait forever, since nothing of it can be trimmed before its end.
//! - **Restarts.** The source resumes after the spool's committed position,
//!   not after the pipeline's checkpoint; entries after the committed index
//!   (a transaction cut by a crash) are removed first, since the source
//!   sends them again with the same indexes. The reader starts after the
//!   pipeline's checkpoint. A source that loses its connection is restarted
//!   here, with backoff, while the reader keeps delivering (continuous runs;
//!   `run --once` hands the error to the pipeline).
//! - **Turning it off.** A pipeline whose checkpoint is a spool position and
//!   whose spool is fully delivered resumes from the spool's source position
//!   ([`resume_without_spool`]); with undelivered entries it refuses to start
//!   and says to turn the spool back on (or reset).

use super::Reconnect;
use crate::checkpoint::{encode_entry, Checkpoint, CheckpointError, CheckpointStore, SpoolMeta, SpoolStore};
use crate::record::{Change, Position};
use crate::sources::{stopped, Emitter, Source, SourceContext, SourceError};
use crate::BoxFuture;
use super::PipelineStats;
use prost::Message;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Marks a position token as a spool position (`[magic][index u64 BE][source Position protobuf]`).
const MAGIC: &[u8; 8] = b"lfspool1";
/// Records the writer takes into one group (one batch, one fsync) at most.
const GROUP_RECORDS: usize = 1024;
/// Bytes of one group at most.
const GROUP_BYTES: usize = 256 << 10;
/// Entries the reader loads from the segment files at a time.
const READ_CHUNK: usize = 1024;
/// Records the source may emit ahead of the writer.
const INTAKE: usize = 1024;

/// The pipeline-side position of spool entry `index` whose record the
/// source emitted with `source`.
pub fn spool_position(index: u64, source: &Position) -> Position {
    let mut token = Vec::with_capacity(16 + source.encoded_len());
    token.extend_from_slice(MAGIC);
    token.extend_from_slice(&index.to_be_bytes());
    source.encode(&mut token).expect("Vec grows as needed");
    Position { token: token.into(), display: source.display.clone() }
}

/// The spool index and source position inside a spool position; `None`
/// for any other position.
pub fn parse_spool_position(p: &Position) -> Option<(u64, Position)> {
    let t = &p.token;
    if t.len() < 16 || &t[..8] != MAGIC {
        return None;
    }
    let index = u64::from_be_bytes(t[8..16].try_into().expect("8 bytes"));
    let source = Position::decode(&t[16..]).ok()?;
    Some((index, source))
}

/// The source's own position, for targets: a spool position unwrapped,
/// any other as it is.
pub fn unwrap_position(p: Position) -> Position {
    match parse_spool_position(&p) {
        Some((_, source)) => source,
        None => p,
    }
}

fn store_error(source_name: &str, e: CheckpointError) -> SourceError {
    SourceError::definite(source_name, "spool").caused_by(e)
}

/// Why a run with the spool off cannot take over a spooled checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum SpoolOffError {
    /// The state dir failed.
    #[error(transparent)]
    Store(#[from] CheckpointError),
    /// The spool still holds records no target has received, or is gone.
    #[error("{0}")]
    Undelivered(String),
}

/// A checkpoint written while the spool was on, for a run with the spool
/// off: if every spooled record was delivered, the checkpoint is rewritten
/// to the spool's source position (saved, then the spool is cleared); else
/// an error saying what to do. Other checkpoints pass unchanged.
pub async fn resume_without_spool(store: &CheckpointStore, pipeline: &str, checkpoint: Checkpoint) -> Result<Checkpoint, SpoolOffError> {
    let Some((index, _)) = parse_spool_position(&checkpoint.position) else { return Ok(checkpoint) };
    let spool = store.spool(pipeline)?;
    match spool.meta()? {
        Some(SpoolMeta { committed, position: Some(position) }) if committed == index => {
            let translated = Checkpoint { position, ..checkpoint };
            store.save(pipeline, &translated)?;
            spool.clear().await?;
            tracing::info!(pipeline, position = %translated.position.display,
                "the spool is off and was fully delivered; resuming from its source position");
            Ok(translated)
        }
        Some(SpoolMeta { committed, .. }) => Err(SpoolOffError::Undelivered(format!(
            "pipeline `{pipeline}` ran with [pipeline.spool] and its spool still holds records {}..={committed} \
             that no target has received; turn [pipeline.spool] back on so that the next run delivers them \
             (then it may be turned off), or `logferry reset --pipeline {pipeline}` to start over",
            index + 1
        ))),
        None => Err(SpoolOffError::Undelivered(format!(
            "pipeline `{pipeline}`'s checkpoint is a spool position but its spool is gone from the state dir; \
             turn [pipeline.spool] back on, or `logferry reset --pipeline {pipeline}` to start over"
        ))),
    }
}

/// What the writer, reader and trimmer share.
struct Shared {
    store: SpoolStore,
    /// Highest index written and fsynced.
    flushed: watch::Sender<u64>,
    /// Bytes the spool holds.
    bytes: watch::Sender<u64>,
    /// The commit point (also in the store).
    committed: Mutex<SpoolMeta>,
    /// The committed source position, for the source's feedback.
    source_durable: watch::Sender<Option<Position>>,
    /// The source side has finished for good.
    done: watch::Sender<bool>,
    /// Spool figures for the admin endpoint.
    stats: Arc<PipelineStats>,
}

impl Shared {
    fn committed(&self) -> SpoolMeta {
        self.committed.lock().expect("not poisoned").clone()
    }

    /// Removes the uncommitted tail (the source will send it again).
    fn truncate_uncommitted(&self) -> Result<u64, CheckpointError> {
        let committed = self.committed().committed;
        let freed = self.store.remove_after(committed)?;
        self.bytes.send_modify(|b| *b = b.saturating_sub(freed));
        self.stats.spool_bytes(*self.bytes.borrow());
        self.flushed.send_replace(committed);
        Ok(committed)
    }
}

/// The configured source behind the spool.
pub(crate) struct Spooled {
    inner: Box<dyn Source>,
    store: SpoolStore,
    max_bytes: u64,
    stats: Arc<PipelineStats>,
    retry_backoff: Duration,
    retry_max_backoff: Duration,
}

impl Spooled {
    pub(crate) fn new(
        inner: Box<dyn Source>,
        store: SpoolStore,
        max_bytes: u64,
        stats: Arc<PipelineStats>,
        retry_backoff: Duration,
        retry_max_backoff: Duration,
    ) -> Self {
        Spooled { inner, store, max_bytes, stats, retry_backoff, retry_max_backoff }
    }
}

impl Source for Spooled {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn copies_online(&self) -> bool {
        self.inner.copies_online()
    }

    fn run(&mut self, ctx: SourceContext) -> BoxFuture<'_, Result<(), SourceError>> {
        Box::pin(self.run_spooled(ctx))
    }
}

impl Spooled {
    async fn run_spooled(&mut self, ctx: SourceContext) -> Result<(), SourceError> {
        let name = self.inner.name().to_string();
        let err = |e| store_error(&name, e);
        // The inner source gets the pipeline's requests from `shared.stats`.
        let SourceContext { pipeline, resume, once, emitter, durable, shutdown, requests: _, early: _ } = ctx;
        let store = self.store.clone();

        // Where delivery starts and what the source resumes after.
        let (deliver_from, meta) = match resume.as_ref().map(|p| (p, parse_spool_position(p))) {
            Some((_, Some((index, _)))) => {
                let meta = store.meta().map_err(err)?.ok_or_else(|| SourceError::definite(
                    &name,
                    format!(
                        "the checkpoint is spool entry {index} but the spool has no record of the source position; \
                         `logferry reset --pipeline {pipeline}` starts over"
                    ),
                ))?;
                store.remove_through(index).map_err(err)?;
                (index + 1, meta)
            }
            Some((position, None)) => {
                // First run with the spool on: start it at the checkpoint.
                store.clear().await.map_err(err)?;
                let meta = SpoolMeta { committed: 0, position: Some(position.clone()) };
                store.write(&[], Some(&meta)).map_err(err)?;
                (1, meta)
            }
            None => match store.meta().map_err(err)? {
                // A spool that never reached a checkpoint: deliver all of it.
                Some(meta) => (store.stats().map_err(err)?.first.unwrap_or(meta.committed + 1), meta),
                None => {
                    let meta = SpoolMeta { committed: 0, position: None };
                    store.write(&[], Some(&meta)).map_err(err)?;
                    (1, meta)
                }
            },
        };
        store.remove_after(meta.committed).map_err(err)?;
        store.flush().await.map_err(err)?;
        let stats = store.stats().map_err(err)?;
        tracing::info!(pipeline = %pipeline, entries = stats.entries, bytes = stats.bytes,
            source_position = %meta.position.as_ref().map_or("(start)", |p| p.display.as_str()),
            "spool open: delivering what it holds, reading the source after its last spooled transaction");

        let shared = Shared {
            store,
            flushed: watch::channel(meta.committed).0,
            bytes: watch::channel(stats.bytes).0,
            source_durable: watch::channel(meta.position.clone()).0,
            committed: Mutex::new(meta),
            done: watch::channel(false).0,
            stats: self.stats.clone(),
        };
        shared.stats.spool_bytes(stats.bytes);

        let source_side = self.source_side(&shared, &pipeline, once, &shutdown);
        let reader = deliver(&shared, deliver_from, &emitter, shutdown.clone());
        let trimmer = trim(&shared, durable);
        tokio::pin!(source_side, reader, trimmer);
        let mut source_done = false;
        loop {
            tokio::select! {
                r = &mut source_side, if !source_done => {
                    r?;
                    source_done = true;
                    shared.done.send_replace(true);
                }
                r = &mut reader => {
                    r?;
                    // Delivery stops at shutdown or at the end: let the
                    // source finish what it is writing.
                    if !source_done {
                        (&mut source_side).await?;
                    }
                    return Ok(());
                }
                r = &mut trimmer => return r.map_err(err),
            }
        }
    }

    /// Runs the source into the spool, restarting it after transient
    /// failures (continuous runs), until it ends or fails definitely.
    async fn source_side(&mut self, shared: &Shared, pipeline: &str, once: bool, shutdown: &watch::Receiver<bool>) -> Result<(), SourceError> {
        let name = self.inner.name().to_string();
        let mut reconnect = Reconnect::new(self.retry_backoff, self.retry_max_backoff);
        loop {
            let (tx, rx) = mpsc::channel(INTAKE);
            let ctx = SourceContext {
                pipeline: pipeline.to_string(),
                resume: shared.committed().position,
                once,
                emitter: Emitter::new(tx).timed(shared.stats.source.clone()),
                durable: shared.source_durable.subscribe(),
                shutdown: shutdown.clone(),
                requests: shared.stats.requests.clone(),
                early: None,
            };
            reconnect.started();
            let (result, written) = tokio::join!(self.inner.run(ctx), write(shared, rx, self.max_bytes, shutdown.clone()));
            written.map_err(|e| store_error(&name, e))?;
            let error = match result {
                Ok(()) => return Ok(()),
                Err(SourceError::Transient { .. }) if !once && !*shutdown.borrow() => result.unwrap_err(),
                Err(e) => return Err(e),
            };
            let resume_index = shared.truncate_uncommitted().map_err(|e| store_error(&name, e))?;
            let delay = reconnect.failed();
            tracing::warn!(pipeline, error = %crate::ErrorChain(&error), attempt = reconnect.attempt, resume_index,
                retry_in_ms = delay.as_millis() as u64,
                "source failed; reconnecting from the spool's last transaction (delivery from the spool goes on)");
            let mut stop = shutdown.clone();
            tokio::select! {
                _ = stopped(&mut stop) => return Ok(()),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
}

/// Appends what the source emits to the spool until its channel closes.
async fn write(shared: &Shared, mut rx: mpsc::Receiver<Change>, max_bytes: u64, shutdown: watch::Receiver<bool>) -> Result<(), CheckpointError> {
    let mut next = shared.committed().committed + 1;
    // Entries written after the last commit point (inside a transaction).
    let mut open = false;
    let mut full_since: Option<std::time::Instant> = None;
    let mut bytes_rx = shared.bytes.subscribe();
    loop {
        if !open && *bytes_rx.borrow() >= max_bytes && !*shutdown.borrow() {
            if full_since.is_none() {
                tracing::warn!(pipeline = %shared.store_pipeline(), max_bytes, bytes = *bytes_rx.borrow(),
                    "spool is full; the source waits (and its server keeps the log) until targets take records");
                full_since = Some(std::time::Instant::now());
                shared.stats.spool_full(true);
            }
            let mut stop = shutdown.clone();
            tokio::select! {
                _ = bytes_rx.wait_for(|b| *b < max_bytes) => {}
                _ = stopped(&mut stop) => {}
            }
            continue;
        }
        if let Some(since) = full_since.take() {
            shared.stats.spool_full(false);
            tracing::info!(pipeline = %shared.store_pipeline(), full_ms = since.elapsed().as_millis() as u64, "spool has room again");
        }
        let Some(first) = rx.recv().await else { return Ok(()) };
        let mut group = Group { next, ..Group::default() };
        group.take(first);
        // A group also ends at the first transaction end past the bound.
        let held = *bytes_rx.borrow();
        while group.entries.len() < GROUP_RECORDS
            && group.bytes < GROUP_BYTES
            && !(group.open == Some(false) && held + group.bytes as u64 >= max_bytes)
        {
            match rx.try_recv() {
                Ok(change) => group.take(change),
                Err(_) => break,
            }
        }
        let Group { entries, commit, open: still_open, next: after, .. } = group;
        if let Some(open_now) = still_open {
            open = open_now;
        }
        next = after;
        let stored = shared.store.write(&entries, commit.as_ref())?;
        shared.store.flush().await?;
        shared.bytes.send_modify(|b| *b += stored);
        shared.stats.spool_bytes(*shared.bytes.borrow());
        if let Some((last, _)) = entries.last() {
            shared.flushed.send_replace(*last);
        }
        if let Some(meta) = commit {
            let position = meta.position.clone();
            *shared.committed.lock().expect("not poisoned") = meta;
            shared.source_durable.send_replace(position);
        }
    }
}

impl Shared {
    fn store_pipeline(&self) -> &str {
        self.store.pipeline()
    }
}

/// One group of records the writer stores with one write and one fsync.
#[derive(Default)]
struct Group {
    entries: Vec<(u64, Vec<u8>)>,
    bytes: usize,
    /// The last commit point in the group.
    commit: Option<SpoolMeta>,
    /// Whether the group ends inside a transaction (`None`: nothing taken).
    open: Option<bool>,
    /// Index of the next entry.
    next: u64,
}

impl Group {
    fn take(&mut self, change: Change) {
        let ends = change.tx_end && change.position.is_some();
        if change.is_heartbeat() {
            // A resume point between transactions: commit, store nothing.
            if ends {
                self.commit = Some(SpoolMeta { committed: self.next - 1, position: change.position });
                self.open = Some(false);
            }
            return;
        }
        let bytes = encode_entry(&change);
        // As stored: a length before each entry.
        self.bytes += bytes.len() + 4;
        self.entries.push((self.next, bytes));
        if ends {
            self.commit = Some(SpoolMeta { committed: self.next, position: change.position });
        }
        self.open = Some(!ends);
        self.next += 1;
    }
}

/// Delivers spooled records from `next` on, in order, until shutdown or
/// (once the source side is done) the end of the spool.
async fn deliver(shared: &Shared, mut next: u64, emitter: &Emitter, mut shutdown: watch::Receiver<bool>) -> Result<(), SourceError> {
    let mut flushed = shared.flushed.subscribe();
    let mut done = shared.done.subscribe();
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let upto = *flushed.borrow_and_update();
        if next > upto {
            if *done.borrow_and_update() && next > *flushed.borrow() {
                return Ok(());
            }
            tokio::select! {
                _ = flushed.changed() => {}
                _ = done.changed() => {}
                _ = stopped(&mut shutdown) => return Ok(()),
            }
            continue;
        }
        let entries = shared
            .store
            .read(next, upto, READ_CHUNK)
            .map_err(|e| store_error("spool", e))?;
        match entries.first() {
            // Removed meanwhile (the source restarted): wait for the rewrite.
            None => {
                tokio::select! {
                    _ = flushed.changed() => {}
                    _ = stopped(&mut shutdown) => return Ok(()),
                }
                continue;
            }
            Some((first, _)) if *first != next => {
                return Err(SourceError::definite(
                    "spool",
                    format!("spool entry {next} is missing (next is {first}); `logferry reset` starts over"),
                ));
            }
            Some(_) => {}
        }
        for (index, mut change) in entries {
            if change.tx_end {
                change.position = change.position.map(|p| spool_position(index, &p));
            }
            emitter.emit(change).await?;
            next = index + 1;
        }
    }
}

/// Removes entries the pipeline has checkpointed.
async fn trim(shared: &Shared, mut durable: watch::Receiver<Option<Position>>) -> Result<(), CheckpointError> {
    loop {
        if durable.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        let index = durable.borrow_and_update().as_ref().and_then(parse_spool_position).map(|(i, _)| i);
        if let Some(index) = index {
            let freed = shared.store.remove_through(index)?;
            shared.bytes.send_modify(|b| *b = b.saturating_sub(freed));
            shared.stats.spool_bytes(*shared.bytes.borrow());
        }
    }
}
