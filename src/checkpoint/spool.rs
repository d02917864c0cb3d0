//! Storage of the durable spool (`[pipeline.spool]`): append-only segment
//! files in `<state_dir>/spool/<pipeline>/`, one folder per pipeline (the
//! name escaped for a file name: config allows letters, digits, `_` and
//! `-`, which pass unchanged; any other byte becomes `%XX`).
//!
//! - **Segments** are named by a sequence number (`00000000000000000001.seg`)
//!   and hold checksummed frames ([`frames`]): groups of entries (the records
//!   one writer group took, each `[version][Change protobuf]`), commit points
//!   ([`SpoolMeta`]) and cuts. Only the newest segment, the active one, is
//!   appended to; it rolls over to a new one once it holds
//!   [`SEGMENT_BYTES`], and a new segment starts with the current meta, so
//!   the newest meta always lives in the active segment, which is never
//!   deleted.
//! - **Writes.** [`SpoolStore::write`] appends a group and the meta that
//!   commits it back to back in one write; [`SpoolStore::flush`] fsyncs
//!   them (the pipeline flushes every group). After a crash the last
//!   complete meta is the commit point: at open a torn or damaged tail of
//!   the active segment is cut off (logged with the bytes cut); a damaged
//!   frame in an older segment, which was fsynced before the next one was
//!   made, is an error instead.
//! - **Index.** Open scans the segments once and keeps, per group, its
//!   first index, entry count, segment, offset and bytes: a few dozen bytes
//!   per group of up to 1024 records. Records are read from the files when
//!   delivered, never all held in memory.
//! - **Trim.** [`SpoolStore::remove_through`] drops groups from the index
//!   once all their entries are checkpointed and deletes whole segment
//!   files, oldest first, once none of their groups is left (never the
//!   active one). Until then a reopened spool finds trimmed groups again,
//!   and the pipeline trims them again at start.
//! - **Cut.** [`SpoolStore::remove_after`] (the uncommitted tail, which the
//!   source sends again) appends a cut frame instead of truncating the file:
//!   a truncation followed by a crash before the kept part and the meta are
//!   written again could lose the commit point, a cut frame cannot. The
//!   bytes cut off stay on disk until their segment is trimmed; a group
//!   written later with indexes already held replaces them the same way.
//! - **Migration.** A state dir from a version that spooled into the sled
//!   tree `spool/<pipeline>` is moved into segment files on first open
//!   (meta and groups, fsynced), then the tree is dropped; a crash in
//!   between migrates again from the tree.
//!
//! The pipeline side (what is written when, what is delivered) is
//! `pipeline::spool`.

mod frames;
#[cfg(test)]
mod tests;

use super::{store_err, CheckpointError, CheckpointStore};
use crate::record::Change;
use prost::Message;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

const FORMAT_V1: u8 = 1;
/// A segment rolls over to a new one once it holds this many bytes (a
/// group larger than that gets a segment to itself). Trimming frees disk
/// in steps of this size.
pub const SEGMENT_BYTES: u64 = 16 << 20;
/// The legacy (sled) layout's group value version.
const LEGACY_GROUP: u8 = 2;

/// The spool's commit point: everything up to entry `committed` is stored,
/// and the source resumes after `position` (which comes after entry
/// `committed`'s record, or is that record's own position).
#[derive(Debug, Clone, PartialEq)]
pub struct SpoolMeta {
    /// Index of the last entry the commit covers (0: none yet).
    pub committed: u64,
    /// Where the source resumes; `None`: from its beginning (initial snapshot).
    pub position: Option<crate::record::Position>,
}

/// Entries and bytes a spool holds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpoolStats {
    /// Number of entries.
    pub entries: u64,
    /// Their stored size in bytes.
    pub bytes: u64,
    /// The lowest and highest index, when there are entries.
    pub first: Option<u64>,
    /// See `first`.
    pub last: Option<u64>,
}

/// One pipeline's spool (cheap to clone: clones share the files and index).
#[derive(Clone)]
pub struct SpoolStore {
    inner: Arc<Mutex<Inner>>,
    /// The state dir, shown in errors.
    state_dir: PathBuf,
    pipeline: Arc<str>,
}

/// One segment file.
struct Segment {
    seq: u64,
    file: Arc<File>,
    /// Bytes written (the next frame's offset).
    len: u64,
    /// Bytes known fsynced: a flush fsyncs the segments below their
    /// `len`, so one that finds another's fsync under way does its own.
    synced: Arc<AtomicU64>,
}

impl Segment {
    fn new(seq: u64, file: File, len: u64, synced: u64) -> Self {
        Segment { seq, file: Arc::new(file), len, synced: Arc::new(AtomicU64::new(synced)) }
    }
}

/// An fsync a flush owes, and what to mark synced after it.
enum SyncJob {
    File(Arc<File>, u64, Arc<AtomicU64>),
    Folder(u64, Arc<AtomicU64>),
}

/// Where a group lives.
#[derive(Clone, Copy, Debug)]
struct Loc {
    first: u64,
    /// Entries still held (fewer than stored after a cut).
    count: u32,
    seg: u64,
    offset: u64,
    /// The whole frame, header included.
    frame_len: u32,
    /// Bytes counted for it (the frame; after a cut, the kept part).
    bytes: u64,
}

impl Loc {
    fn last(&self) -> u64 {
        self.first + u64::from(self.count) - 1
    }
}

struct Inner {
    /// The spool folder.
    dir: PathBuf,
    /// Oldest first; the last one is the active segment.
    segments: VecDeque<Segment>,
    groups: VecDeque<Loc>,
    meta: Option<SpoolMeta>,
    /// Segment files created so far (the folder needs an fsync when
    /// `dir_synced` is behind).
    dir_changes: u64,
    dir_synced: Arc<AtomicU64>,
    /// [`SEGMENT_BYTES`] (smaller in tests).
    segment_bytes: u64,
}

/// The folder name of `pipeline`'s spool.
pub(super) fn folder_name(pipeline: &str) -> String {
    let mut out = String::with_capacity(pipeline.len());
    for b in pipeline.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn segment_name(seq: u64) -> String {
    format!("{seq:020}.seg")
}

/// Encodes a record for the spool.
pub fn encode_entry(change: &Change) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + change.encoded_len());
    out.push(FORMAT_V1);
    change.encode(&mut out).expect("Vec grows as needed");
    out
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl CheckpointStore {
    /// The spool of `pipeline` (its files are scanned on the first call;
    /// later calls share that handle). A sled spool tree left by an earlier
    /// version is moved into segment files here.
    pub fn spool(&self, pipeline: &str) -> Result<SpoolStore, CheckpointError> {
        let mut spools = self.spools.lock().expect("spools lock not poisoned");
        if let Some(s) = spools.get(pipeline) {
            return Ok(s.clone());
        }
        let legacy = format!("spool/{pipeline}");
        let has_legacy = self.db.tree_names().iter().any(|n| n.as_ref() == legacy.as_bytes());
        let dir = self.spool_root.join(folder_name(pipeline));
        let store = SpoolStore::open(&self.dir, dir, pipeline, has_legacy.then_some((&self.db, legacy)))?;
        spools.insert(pipeline.to_string(), store.clone());
        Ok(store)
    }

    /// True when `pipeline` has spool state (a meta record or entries).
    pub fn has_spool(&self, pipeline: &str) -> Result<bool, CheckpointError> {
        Ok(self.spool(pipeline)?.has_state())
    }
}

/// What went wrong inside the store, before it is named for the user.
enum Fault {
    Io(PathBuf, &'static str, std::io::Error),
    Corrupt(String),
}

fn io(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> Fault {
    let path = path.to_path_buf();
    move |e| Fault::Io(path, action, e)
}

impl SpoolStore {
    /// Opens the spool in `dir` (scanning its segments; nothing is created
    /// before the first write), moving a legacy sled tree into it first.
    pub(super) fn open(state_dir: &Path, dir: PathBuf, pipeline: &str, legacy: Option<(&sled::Db, String)>) -> Result<Self, CheckpointError> {
        let inner = Inner {
            dir,
            segments: VecDeque::new(),
            groups: VecDeque::new(),
            meta: None,
            dir_changes: 0,
            dir_synced: Arc::default(),
            segment_bytes: SEGMENT_BYTES,
        };
        let store = SpoolStore { inner: Arc::new(Mutex::new(inner)), state_dir: state_dir.to_path_buf(), pipeline: pipeline.into() };
        let scanned = store.lock().scan(&store.pipeline);
        scanned.map_err(|f| store.fault(f))?;
        if let Some((db, name)) = legacy {
            store.migrate(db, &name)?;
        }
        Ok(store)
    }

    /// The pipeline this spool belongs to.
    pub fn pipeline(&self) -> &str {
        &self.pipeline
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("spool lock not poisoned")
    }

    fn fault(&self, f: Fault) -> CheckpointError {
        match f {
            Fault::Io(path, action, source) => CheckpointError::SpoolIo { dir: self.state_dir.clone(), path, action, source },
            Fault::Corrupt(message) => {
                CheckpointError::CorruptSpool { dir: self.state_dir.clone(), pipeline: self.pipeline.to_string(), message }
            }
        }
    }

    /// Moves a legacy sled spool tree into segment files, then drops it.
    fn migrate(&self, db: &sled::Db, name: &str) -> Result<(), CheckpointError> {
        let err = |e| store_err(&self.state_dir, e);
        let tree = db.open_tree(name).map_err(err)?;
        if tree.is_empty() {
            db.drop_tree(name).map_err(err)?;
            return Ok(());
        }
        // The tree is the truth until it is dropped: files from a migration
        // cut short by a crash are written again.
        self.clear_now()?;
        let mut entries = 0u64;
        for item in tree.range(&[b'e'][..]..=&[b'e', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..]) {
            let (k, v) = item.map_err(err)?;
            let first = (k.len() == 9).then(|| u64::from_be_bytes(k[1..].try_into().expect("8 bytes")));
            let (Some(first), Some(group)) = (first, legacy_unpack(&v)) else {
                return Err(self.fault(Fault::Corrupt(format!("legacy sled spool: malformed group under key {k:?}"))));
            };
            let batch: Vec<(u64, Vec<u8>)> = group.into_iter().enumerate().map(|(i, e)| (first + i as u64, e)).collect();
            entries += batch.len() as u64;
            self.write(&batch, None)?;
        }
        if let Some(bytes) = tree.get([b'm']).map_err(err)? {
            let meta = legacy_meta(&bytes).map_err(|m| self.fault(Fault::Corrupt(format!("legacy sled spool meta: {m}"))))?;
            self.write(&[], Some(&meta))?;
        }
        self.flush_now()?;
        db.drop_tree(name).map_err(err)?;
        db.flush().map_err(err)?;
        tracing::info!(pipeline = %self.pipeline, entries, "spool: moved from the sled tree of an earlier version into segment files");
        Ok(())
    }

    /// The commit point, if the spool was ever started.
    pub fn meta(&self) -> Result<Option<SpoolMeta>, CheckpointError> {
        Ok(self.lock().meta.clone())
    }

    /// True when there is a meta or entries.
    pub(super) fn has_state(&self) -> bool {
        let inner = self.lock();
        inner.meta.is_some() || !inner.groups.is_empty()
    }

    /// Appends `entries` (consecutive indexes, [`encode_entry`] bytes) as
    /// one group and, when given, the meta that commits them, back to back.
    /// Not durable before [`Self::flush`]. Returns the bytes stored.
    pub fn write(&self, entries: &[(u64, Vec<u8>)], meta: Option<&SpoolMeta>) -> Result<u64, CheckpointError> {
        let mut buf = Vec::new();
        let first = entries.first().map(|(i, _)| *i);
        if let Some(first) = first {
            debug_assert!(entries.windows(2).all(|w| w[1].0 == w[0].0 + 1), "consecutive indexes");
            frames::group(&mut buf, first, entries.iter().map(|(_, b)| b.as_slice()));
        }
        let stored = buf.len() as u64;
        if let Some(m) = meta {
            frames::meta(&mut buf, m);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let mut inner = self.lock();
        let written = (|| {
            let (seg, offset) = inner.append(&buf, &self.pipeline)?;
            if let Some(first) = first {
                // A group with indexes already held replaces them (as at open).
                inner.forget_from(first)?;
                let loc = Loc { first, count: entries.len() as u32, seg, offset, frame_len: stored as u32, bytes: stored };
                inner.groups.push_back(loc);
            }
            if let Some(m) = meta {
                inner.meta = Some(m.clone());
            }
            Ok(stored)
        })();
        written.map_err(|f| self.fault(f))
    }

    /// Makes every write so far durable (fsync, off the async threads).
    pub async fn flush(&self) -> Result<(), CheckpointError> {
        let (jobs, folder) = self.sync_jobs();
        if jobs.is_empty() {
            return Ok(());
        }
        let dir = folder.clone();
        let synced = tokio::task::spawn_blocking(move || sync(jobs, &dir))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        synced.map_err(|e| self.fault(Fault::Io(folder, "fsync", e)))
    }

    /// [`Self::flush`] on the calling thread.
    fn flush_now(&self) -> Result<(), CheckpointError> {
        let (jobs, folder) = self.sync_jobs();
        sync(jobs, &folder).map_err(|e| self.fault(Fault::Io(folder, "fsync", e)))
    }

    /// The fsyncs owed (the folder's last), and the folder.
    fn sync_jobs(&self) -> (Vec<SyncJob>, PathBuf) {
        let inner = self.lock();
        let mut jobs: Vec<_> = inner
            .segments
            .iter()
            .filter(|s| s.synced.load(Ordering::Acquire) < s.len)
            .map(|s| SyncJob::File(s.file.clone(), s.len, s.synced.clone()))
            .collect();
        if inner.dir_synced.load(Ordering::Acquire) < inner.dir_changes {
            jobs.push(SyncJob::Folder(inner.dir_changes, inner.dir_synced.clone()));
        }
        (jobs, inner.dir.clone())
    }

    /// Up to `max` entries with `from <= index <= to`, in index order.
    pub fn read(&self, from: u64, to: u64, max: usize) -> Result<Vec<(u64, Change)>, CheckpointError> {
        let mut out = Vec::new();
        if from > to || max == 0 {
            return Ok(out);
        }
        // Frames are read under the lock (a cut meanwhile cannot change
        // them), decoded after it.
        let mut read = Vec::new();
        {
            let inner = self.lock();
            let mut held = 0usize;
            let start = inner.groups.partition_point(|g| g.last() < from);
            for loc in inner.groups.range(start..) {
                if loc.first > to || held >= max {
                    break;
                }
                held += (loc.last().min(to) - loc.first.max(from) + 1) as usize;
                read.push((*loc, inner.read_frame(loc).map_err(|f| self.fault(f))?));
            }
        }
        for (loc, frame) in read {
            let entries = frames::group_entries(&frame[frames::HEADER..], loc.count)
                .ok_or_else(|| self.fault(Fault::Corrupt(format!("group at entry {}: malformed", loc.first))))?;
            for (i, bytes) in entries.into_iter().enumerate() {
                let index = loc.first + i as u64;
                if index < from || index > to || out.len() >= max {
                    continue;
                }
                if bytes.first() != Some(&FORMAT_V1) {
                    return Err(self.fault(Fault::Corrupt(format!("entry {index}: version {:?}", bytes.first()))));
                }
                let change = Change::decode(&bytes[1..]).map_err(|e| self.fault(Fault::Corrupt(format!("entry {index}: {e}"))))?;
                out.push((index, change));
            }
        }
        Ok(out)
    }

    /// Forgets the groups whose entries all have index `<= last` (a group
    /// only partly covered stays until the rest is covered too) and deletes
    /// the segment files, oldest first, that no longer hold a group (never
    /// the active one); returns the bytes of the groups forgotten.
    pub fn remove_through(&self, last: u64) -> Result<u64, CheckpointError> {
        let mut inner = self.lock();
        let mut freed = 0;
        while inner.groups.front().is_some_and(|g| g.last() <= last) {
            freed += inner.groups.pop_front().expect("checked").bytes;
        }
        inner.delete_unused(&self.pipeline).map_err(|f| self.fault(f))?;
        Ok(freed)
    }

    /// Removes the entries with index `> index` (a cut frame, made durable
    /// by the next flush); returns their bytes.
    pub fn remove_after(&self, index: u64) -> Result<u64, CheckpointError> {
        let mut inner = self.lock();
        if inner.groups.back().is_none_or(|g| g.last() <= index) {
            return Ok(0);
        }
        let mut buf = Vec::new();
        frames::cut(&mut buf, index);
        let cut = (|| {
            inner.append(&buf, &self.pipeline)?;
            inner.forget_from(index.saturating_add(1))
        })();
        cut.map_err(|f| self.fault(f))
    }

    /// Entries and bytes held (entries of partly trimmed groups included).
    pub fn stats(&self) -> Result<SpoolStats, CheckpointError> {
        let inner = self.lock();
        let mut s = SpoolStats {
            first: inner.groups.front().map(|g| g.first),
            last: inner.groups.back().map(Loc::last),
            ..SpoolStats::default()
        };
        for g in &inner.groups {
            s.entries += u64::from(g.count);
            s.bytes += g.bytes;
        }
        Ok(s)
    }

    /// Forgets entries and meta: deletes the segment files (durably).
    pub async fn clear(&self) -> Result<(), CheckpointError> {
        self.clear_now()
    }

    /// [`Self::clear`], on the calling thread.
    pub(super) fn clear_now(&self) -> Result<(), CheckpointError> {
        let cleared = self.lock().clear();
        cleared.map_err(|f| self.fault(f))
    }

    /// The segments' sequence numbers, oldest first (tests).
    #[cfg(test)]
    fn segment_seqs(&self) -> Vec<u64> {
        self.lock().segments.iter().map(|s| s.seq).collect()
    }

    /// Rolls over at `bytes` instead of [`SEGMENT_BYTES`] (tests).
    #[cfg(test)]
    fn set_segment_bytes(&self, bytes: u64) {
        self.lock().segment_bytes = bytes;
    }
}

fn sync(jobs: Vec<SyncJob>, dir: &Path) -> std::io::Result<()> {
    for job in jobs {
        let (done, synced) = match job {
            SyncJob::File(file, len, synced) => {
                file.sync_data()?;
                (len, synced)
            }
            SyncJob::Folder(changes, synced) => {
                fsync_dir(dir)?;
                (changes, synced)
            }
        };
        synced.fetch_max(done, Ordering::Release);
    }
    Ok(())
}

impl Inner {
    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(segment_name(seq))
    }

    /// Builds the index from the segment files, cutting a torn tail off.
    fn scan(&mut self, pipeline: &str) -> Result<(), Fault> {
        let listing = match std::fs::read_dir(&self.dir) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Fault::Io(self.dir.clone(), "list", e)),
        };
        let mut seqs = Vec::new();
        for item in listing {
            let name = item.map_err(io(&self.dir, "list"))?.file_name();
            if let Some(seq) = name.to_string_lossy().strip_suffix(".seg").and_then(|s| s.parse::<u64>().ok()) {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        for (i, &seq) in seqs.iter().enumerate() {
            let path = self.path(seq);
            let file = OpenOptions::new().read(true).write(true).open(&path).map_err(io(&path, "open"))?;
            let len = file.metadata().map_err(io(&path, "read"))?.len();
            let segment = Segment::new(seq, file, len, len);
            let file = segment.file.clone();
            self.segments.push_back(segment);
            let bad = frames::scan(&file, len, |offset, frame_len, kind, payload| {
                self.apply(seq, offset, frame_len, kind, payload).map_err(|f| match f {
                    Fault::Corrupt(m) => Fault::Corrupt(format!("{}, byte {offset}: {m}", path.display())),
                    other => other,
                })
            })
            .map_err(io(&path, "read"))??;
            let Some(bad) = bad else { continue };
            if i + 1 < seqs.len() {
                return Err(Fault::Corrupt(format!(
                    "segment {} is damaged at byte {} ({}) and later segments exist, so this is not a tail cut short by a crash",
                    path.display(),
                    bad.at,
                    bad.why
                )));
            }
            file.set_len(bad.at).map_err(io(&path, "truncate"))?;
            file.sync_all().map_err(io(&path, "fsync"))?;
            self.segments.back_mut().expect("just pushed").len = bad.at;
            tracing::warn!(pipeline, segment = %path.display(), at = bad.at, bytes_cut = len - bad.at, reason = %bad.why,
                "spool: cut off a torn tail (writes after the last fsync, lost in a crash)");
        }
        Ok(())
    }

    /// Applies one frame found by the scan at open.
    fn apply(&mut self, seq: u64, offset: u64, frame_len: u32, kind: u8, payload: &[u8]) -> Result<(), Fault> {
        let bad = |m: &str| Fault::Corrupt(m.to_string());
        match kind {
            frames::GROUP => {
                let (first, count) = frames::group_head(payload).ok_or_else(|| bad("malformed group"))?;
                frames::group_entries(payload, count).ok_or_else(|| bad("malformed group"))?;
                self.forget_from(first)?;
                let loc = Loc { first, count, seg: seq, offset, frame_len, bytes: u64::from(frame_len) };
                self.groups.push_back(loc);
            }
            frames::META => self.meta = Some(frames::decode_meta(payload).map_err(Fault::Corrupt)?),
            frames::CUT => {
                let index = frames::decode_cut(payload).map_err(Fault::Corrupt)?;
                self.forget_from(index.saturating_add(1))?;
            }
            other => return Err(Fault::Corrupt(format!("frame kind {other}, which this build does not know (written by a newer version?)"))),
        }
        Ok(())
    }

    /// Reads the whole frame of `loc` back, checked.
    fn read_frame(&self, loc: &Loc) -> Result<Vec<u8>, Fault> {
        let at = self
            .segments
            .binary_search_by_key(&loc.seg, |s| s.seq)
            .map_err(|_| Fault::Corrupt(format!("group at entry {}: segment {} is gone", loc.first, loc.seg)))?;
        let seg = &self.segments[at];
        let mut buf = vec![0; loc.frame_len as usize];
        let path = self.path(seg.seq);
        seg.file.read_exact_at(&mut buf, loc.offset).map_err(io(&path, "read"))?;
        frames::check(&buf).map_err(|m| Fault::Corrupt(format!("group at entry {} ({}, byte {}): {m}", loc.first, path.display(), loc.offset)))?;
        Ok(buf)
    }

    /// Forgets the entries with index `>= from` in the index (shortening
    /// the group that holds `from`); returns their bytes.
    fn forget_from(&mut self, from: u64) -> Result<u64, Fault> {
        let mut freed = 0;
        while self.groups.back().is_some_and(|g| g.first >= from) {
            freed += self.groups.pop_back().expect("checked").bytes;
        }
        if let Some(loc) = self.groups.back().copied().filter(|g| g.last() >= from) {
            let keep = (from - loc.first) as u32;
            let frame = self.read_frame(&loc)?;
            let entries = frames::group_entries(&frame[frames::HEADER..], keep)
                .ok_or_else(|| Fault::Corrupt(format!("group at entry {}: malformed", loc.first)))?;
            let bytes = (frames::HEADER + frames::GROUP_HEAD + entries.iter().map(|e| 4 + e.len()).sum::<usize>()) as u64;
            freed += loc.bytes - bytes;
            let g = self.groups.back_mut().expect("checked");
            g.count = keep;
            g.bytes = bytes;
        }
        Ok(freed)
    }

    /// Appends `buf` to the active segment (rolling over first when it is
    /// full); returns the segment and offset it went to.
    fn append(&mut self, buf: &[u8], pipeline: &str) -> Result<(u64, u64), Fault> {
        if self.segments.back().is_none_or(|s| s.len > 0 && s.len + buf.len() as u64 > self.segment_bytes) {
            self.roll(pipeline)?;
        }
        let path = self.path(self.segments.back().expect("rolled").seq);
        let seg = self.segments.back_mut().expect("rolled");
        seg.file.write_all_at(buf, seg.len).map_err(io(&path, "write"))?;
        let at = (seg.seq, seg.len);
        seg.len += buf.len() as u64;
        Ok(at)
    }

    /// Starts a new active segment, beginning with the current meta. The
    /// old one is fsynced first, so only the newest segment can end torn.
    fn roll(&mut self, pipeline: &str) -> Result<(), Fault> {
        if let Some(old) = self.segments.back() {
            old.file.sync_data().map_err(io(&self.path(old.seq), "fsync"))?;
            old.synced.fetch_max(old.len, Ordering::Release);
        } else if !self.dir.exists() {
            std::fs::create_dir_all(&self.dir).map_err(io(&self.dir, "create"))?;
            // The new folder's own entry, and the `spool` folder's.
            for d in self.dir.ancestors().skip(1).take(2) {
                fsync_dir(d).map_err(io(d, "fsync"))?;
            }
        }
        let seq = self.segments.back().map_or(1, |s| s.seq + 1);
        let path = self.path(seq);
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(&path).map_err(io(&path, "create"))?;
        let mut head = Vec::new();
        if let Some(m) = &self.meta {
            frames::meta(&mut head, m);
        }
        file.write_all_at(&head, 0).map_err(io(&path, "write"))?;
        self.segments.push_back(Segment::new(seq, file, head.len() as u64, 0));
        self.dir_changes += 1;
        tracing::debug!(pipeline, segment = seq, "spool: new segment");
        Ok(())
    }

    /// Deletes segment files, oldest first, that hold no group any more
    /// (never the active one).
    fn delete_unused(&mut self, pipeline: &str) -> Result<(), Fault> {
        let mut deleted = 0;
        while self.segments.len() > 1 && self.groups.front().is_none_or(|g| g.seg > self.segments[0].seq) {
            let seg = self.segments.pop_front().expect("checked");
            let path = self.path(seg.seq);
            std::fs::remove_file(&path).map_err(io(&path, "delete"))?;
            deleted += 1;
        }
        if deleted > 0 {
            fsync_dir(&self.dir).map_err(io(&self.dir, "fsync"))?;
            tracing::debug!(pipeline, deleted, "spool: trimmed whole segments");
        }
        Ok(())
    }

    /// Deletes every segment file and forgets everything.
    fn clear(&mut self) -> Result<(), Fault> {
        if let Ok(listing) = std::fs::read_dir(&self.dir) {
            for item in listing {
                let path = item.map_err(io(&self.dir, "list"))?.path();
                if path.extension().is_some_and(|e| e == "seg") {
                    std::fs::remove_file(&path).map_err(io(&path, "delete"))?;
                }
            }
            fsync_dir(&self.dir).map_err(io(&self.dir, "fsync"))?;
        }
        self.segments.clear();
        self.groups.clear();
        self.meta = None;
        Ok(())
    }
}

/// A legacy (sled) group value: `[2][count u32 BE]` then `[len u32 BE][entry]` per entry.
fn legacy_unpack(v: &[u8]) -> Option<Vec<Vec<u8>>> {
    if v.len() < 5 || v[0] != LEGACY_GROUP {
        return None;
    }
    let n = u32::from_be_bytes(v[1..5].try_into().ok()?) as usize;
    let mut out = Vec::with_capacity(n.min(1 << 16));
    let mut at = 5;
    for _ in 0..n {
        let len = u32::from_be_bytes(v.get(at..at + 4)?.try_into().ok()?) as usize;
        out.push(v.get(at + 4..at + 4 + len)?.to_vec());
        at += 4 + len;
    }
    (at == v.len() && n > 0).then_some(out)
}

/// A legacy (sled) meta value: `[1][committed u64 BE][0 | 1][Position protobuf]`.
fn legacy_meta(bytes: &[u8]) -> Result<SpoolMeta, String> {
    if bytes.len() < 10 || bytes[0] != FORMAT_V1 {
        return Err(format!("{} bytes, version {:?}", bytes.len(), bytes.first()));
    }
    let committed = u64::from_be_bytes(bytes[1..9].try_into().expect("8 bytes"));
    let position = match bytes[9] {
        0 => None,
        1 => Some(crate::record::Position::decode(&bytes[10..]).map_err(|e| format!("position: {e}"))?),
        other => return Err(format!("position flag {other}")),
    };
    Ok(SpoolMeta { committed, position })
}
