//! Streamed in-progress transactions, held until they commit.
//!
//! With `streaming 'on'` (protocol 2+) the server sends a transaction
//! bigger than its `logical_decoding_work_mem` while it is still running,
//! in blocks between Stream Start and Stream Stop, interleaved with other
//! transactions, and ends it with Stream Commit or Stream Abort (see
//! [`super::decode`]). Nothing of such a transaction may reach a target
//! before its commit: it can still abort, and its position is not
//! checkpointable before the commit anyway.
//!
//! So the stream keeps each streamed transaction's messages here, as the
//! **raw pgoutput bytes** with the xid each carries (a subtransaction's
//! own xid for changes made in one), and at Stream Commit hands them back
//! in order ([`Spill::take`]) to be decoded like an ordinary transaction.
//! Raw messages rather than decoded records, as PostgreSQL's own apply
//! worker does: a Relation message inside a block is then registered when
//! the transaction commits, in commit order, and a type the transaction
//! created is looked up once it is visible.
//!
//! **Bounded memory.** A transaction's messages stay in memory up to
//! [`TX_MEMORY`], and all open transactions together up to
//! [`TOTAL_MEMORY`]; past either bound the transaction's buffered
//! messages go to its segment files, `<dir>/<xid>-<n>.seg` (a new segment
//! every [`SEGMENT_BYTES`]), where `dir` is `<state_dir>/spill/<pipeline>`.
//! A frame is `len: u32 LE`, `crc32: u32 LE` (of the xid and payload),
//! `xid: u32 LE`, then `len` payload bytes; a frame that does not check
//! out stops the stream with an error naming the file.
//!
//! **Aborts.** Stream Abort of the top-level xid drops the transaction and
//! its files; of a subtransaction, its messages in memory are dropped and
//! its xid noted, so frames of it already on disk are skipped when the
//! transaction is replayed.
//!
//! **Crashes.** Files are removed after commit or abort, and every file in
//! `dir` when a session starts ([`Spill::open`]): the checkpoint is never
//! inside a streamed transaction (its records are emitted only at its
//! commit), so the slot sends every such transaction again from its start.

use bytes::Bytes;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// In-memory bytes one streamed transaction may hold before its messages
/// go to disk: enough that transactions a little over the server's
/// `logical_decoding_work_mem` (64 MB by default, but the wire form is
/// smaller) rarely touch the disk, small enough to keep RSS flat.
pub const TX_MEMORY: usize = 8 << 20;
/// In-memory bytes of all open streamed transactions together (the server
/// can interleave many): past it, the transaction being added to spills.
pub const TOTAL_MEMORY: usize = 64 << 20;
/// Bytes written to one segment file before the next one starts, so no
/// single file grows without bound and a finished part could be removed.
pub const SEGMENT_BYTES: u64 = 64 << 20;
/// Bytes of a frame header: length, checksum, xid.
const FRAME_HEADER: usize = 12;
/// Bytes counted per message in memory beyond its payload (the `Bytes`
/// handle and the xid), so many tiny messages still hit the bound.
const MESSAGE_OVERHEAD: usize = 40;

/// Why the spill failed: disk trouble or a damaged file.
#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    /// Reading, writing or removing a spill file or its folder failed.
    #[error("{what} {path}: {source} (the spill folder of streamed transactions must be writable and have room)")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A frame's checksum or length does not check out.
    #[error("spill file {path} is damaged at byte {offset}: {problem}")]
    Damaged {
        /// The segment file.
        path: PathBuf,
        /// Where the bad frame starts.
        offset: u64,
        /// What is wrong.
        problem: String,
    },
}

fn io<'p>(what: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> SpillError + 'p {
    move |source| SpillError::Io { what, path: path.to_path_buf(), source }
}

/// What the spill has done in this session (logs and tests).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SpillFigures {
    /// Streamed blocks seen (Stream Start messages).
    pub blocks: u64,
    /// Bytes written to segment files (frames with headers).
    pub bytes_spilled: u64,
    /// Largest in-memory total reached.
    pub peak_memory: usize,
}

/// One open streamed transaction.
#[derive(Default)]
struct Tx {
    /// Messages not written to disk, in order.
    memory: VecDeque<(u32, Bytes)>,
    memory_bytes: usize,
    /// Segment files written, in order.
    segments: Vec<PathBuf>,
    /// The segment being written, and its size so far.
    writer: Option<(BufWriter<File>, u64)>,
    /// Subtransactions aborted: their frames on disk are skipped.
    aborted: HashSet<u32>,
    /// Messages kept (memory and disk).
    messages: u64,
}

/// The open streamed transactions of one replication session.
pub struct Spill {
    dir: PathBuf,
    txs: HashMap<u32, Tx>,
    memory: usize,
    figures: SpillFigures,
}

impl Spill {
    /// The spill of a session in `dir`, created if missing; files left by
    /// an earlier process (a crash) are removed.
    pub fn open(dir: &Path) -> Result<Spill, SpillError> {
        std::fs::create_dir_all(dir).map_err(io("creating the spill folder", dir))?;
        let mut removed = 0;
        for entry in std::fs::read_dir(dir).map_err(io("listing the spill folder", dir))? {
            let path = entry.map_err(io("listing the spill folder", dir))?.path();
            if path.extension().is_some_and(|e| e == "seg") {
                std::fs::remove_file(&path).map_err(io("removing a leftover spill file", &path))?;
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::info!(dir = %dir.display(), files = removed,
                "removed spill files of streamed transactions left by an earlier run (the slot sends them again)");
        }
        Ok(Spill { dir: dir.to_path_buf(), txs: HashMap::new(), memory: 0, figures: SpillFigures::default() })
    }

    /// A block of transaction `top` starts.
    pub fn block(&mut self, top: u32) {
        self.figures.blocks += 1;
        self.txs.entry(top).or_default();
    }

    /// Keeps `message` of transaction `top`, made by (sub)transaction `xid`.
    pub fn push(&mut self, top: u32, xid: u32, message: Bytes) -> Result<(), SpillError> {
        let size = message.len() + MESSAGE_OVERHEAD;
        let tx = self.txs.entry(top).or_default();
        tx.memory.push_back((xid, message));
        tx.memory_bytes += size;
        tx.messages += 1;
        self.memory += size;
        self.figures.peak_memory = self.figures.peak_memory.max(self.memory);
        if tx.memory_bytes > TX_MEMORY || self.memory > TOTAL_MEMORY {
            let freed = write_out(&self.dir, top, tx, &mut self.figures)?;
            self.memory -= freed;
        }
        Ok(())
    }

    /// Stream Abort: of the whole transaction (`sub == top`), or of one
    /// subtransaction.
    pub fn abort(&mut self, top: u32, sub: u32) -> Result<(), SpillError> {
        if sub == top {
            if let Some(tx) = self.txs.remove(&top) {
                self.memory -= tx.memory_bytes;
                remove_files(tx)?;
            }
            return Ok(());
        }
        if let Some(tx) = self.txs.get_mut(&top) {
            let before = tx.memory_bytes;
            tx.memory.retain(|(xid, _)| *xid != sub);
            tx.memory_bytes = tx.memory.iter().map(|(_, m)| m.len() + MESSAGE_OVERHEAD).sum();
            self.memory -= before - tx.memory_bytes;
            tx.aborted.insert(sub);
        }
        Ok(())
    }

    /// Stream Commit: the transaction's messages in order (aborted
    /// subtransactions left out); its files go when the replay is dropped.
    pub fn take(&mut self, top: u32) -> Result<Replay, SpillError> {
        let mut tx = self.txs.remove(&top).unwrap_or_default();
        self.memory -= tx.memory_bytes;
        if let Some((mut w, _)) = tx.writer.take() {
            let path = tx.segments.last().cloned().unwrap_or_default();
            w.flush().map_err(io("writing", &path))?;
        }
        Ok(Replay {
            segments: tx.segments.clone().into(),
            reading: None,
            memory: std::mem::take(&mut tx.memory),
            aborted: std::mem::take(&mut tx.aborted),
            files: tx.segments,
            messages: tx.messages,
        })
    }

    /// Transactions open now.
    pub fn open_transactions(&self) -> usize {
        self.txs.len()
    }

    /// What the spill did so far.
    pub fn figures(&self) -> SpillFigures {
        self.figures
    }
}

/// Writes `tx`'s in-memory messages to its segment files; returns the
/// bytes of memory freed.
fn write_out(dir: &Path, top: u32, tx: &mut Tx, figures: &mut SpillFigures) -> Result<usize, SpillError> {
    for (xid, message) in tx.memory.drain(..) {
        if tx.writer.as_ref().is_none_or(|(_, n)| *n >= SEGMENT_BYTES) {
            if let Some((mut w, _)) = tx.writer.take() {
                let path = tx.segments.last().cloned().unwrap_or_default();
                w.flush().map_err(io("writing", &path))?;
            }
            let path = dir.join(format!("{top}-{}.seg", tx.segments.len()));
            let file = File::create(&path).map_err(io("creating", &path))?;
            tx.segments.push(path);
            tx.writer = Some((BufWriter::with_capacity(1 << 16, file), 0));
        }
        let (w, written) = tx.writer.as_mut().expect("a segment is open");
        let path = tx.segments.last().expect("a segment is open");
        let len = u32::try_from(message.len()).expect("pgoutput messages are under 1 GiB");
        let mut header = [0u8; FRAME_HEADER];
        header[0..4].copy_from_slice(&len.to_le_bytes());
        header[4..8].copy_from_slice(&checksum(xid, &message).to_le_bytes());
        header[8..12].copy_from_slice(&xid.to_le_bytes());
        w.write_all(&header).and_then(|_| w.write_all(&message)).map_err(io("writing", path))?;
        let frame = (FRAME_HEADER + message.len()) as u64;
        *written += frame;
        figures.bytes_spilled += frame;
    }
    if let (Some((w, _)), Some(path)) = (tx.writer.as_mut(), tx.segments.last()) {
        w.flush().map_err(io("writing", path))?;
    }
    let freed = tx.memory_bytes;
    tx.memory_bytes = 0;
    Ok(freed)
}

fn checksum(xid: u32, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&xid.to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn remove_files(mut tx: Tx) -> Result<(), SpillError> {
    drop(tx.writer.take());
    for path in &tx.segments {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io("removing", path)(e)),
            _ => {}
        }
    }
    Ok(())
}

/// A committed streamed transaction's messages, in order: the frames on
/// disk, then those still in memory. Dropping it removes the files.
pub struct Replay {
    segments: VecDeque<PathBuf>,
    reading: Option<(BufReader<File>, PathBuf, u64)>,
    memory: VecDeque<(u32, Bytes)>,
    aborted: HashSet<u32>,
    files: Vec<PathBuf>,
    messages: u64,
}

impl Replay {
    /// Messages kept for the transaction (aborted subtransactions' too).
    pub fn kept(&self) -> u64 {
        self.messages
    }

    /// The next message and the xid that made it, `None` at the end.
    pub fn next_message(&mut self) -> Result<Option<(u32, Bytes)>, SpillError> {
        loop {
            let (xid, message) = match self.next_frame()? {
                Some(m) => m,
                None => return Ok(None),
            };
            if !self.aborted.contains(&xid) {
                return Ok(Some((xid, message)));
            }
        }
    }

    fn next_frame(&mut self) -> Result<Option<(u32, Bytes)>, SpillError> {
        loop {
            if self.reading.is_none() {
                let Some(path) = self.segments.pop_front() else {
                    return Ok(self.memory.pop_front());
                };
                let file = File::open(&path).map_err(io("opening", &path))?;
                self.reading = Some((BufReader::with_capacity(1 << 16, file), path, 0));
            }
            let (r, path, offset) = self.reading.as_mut().expect("a segment is open");
            let mut header = [0u8; FRAME_HEADER];
            match read_full(r, &mut header).map_err(io("reading", path))? {
                0 => {
                    self.reading = None;
                    continue;
                }
                n if n < FRAME_HEADER => {
                    return Err(damaged(path, *offset, format!("a frame header of {n} bytes, expected {FRAME_HEADER}")))
                }
                _ => {}
            }
            let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
            let sum = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
            let xid = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
            let mut payload = vec![0u8; len];
            let got = read_full(r, &mut payload).map_err(io("reading", path))?;
            if got < len {
                return Err(damaged(path, *offset, format!("the frame ends after {got} of its {len} bytes")));
            }
            if checksum(xid, &payload) != sum {
                return Err(damaged(path, *offset, "checksum mismatch".into()));
            }
            *offset += (FRAME_HEADER + len) as u64;
            return Ok(Some((xid, Bytes::from(payload))));
        }
    }
}

fn damaged(path: &Path, offset: u64, problem: String) -> SpillError {
    SpillError::Damaged { path: path.to_path_buf(), offset, problem }
}

/// Reads until `buf` is full or the file ends; the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.reading = None;
        for path in &self.files {
            if let Err(e) = std::fs::remove_file(path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(file = %path.display(), error = %e, "could not remove a spill file (it is removed at the next start)");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(i: u32, len: usize) -> Bytes {
        let mut v = i.to_le_bytes().to_vec();
        v.resize(len.max(4), b'x');
        Bytes::from(v)
    }

    fn drain(mut r: Replay) -> Vec<(u32, Bytes)> {
        let mut out = Vec::new();
        while let Some(m) = r.next_message().unwrap() {
            out.push(m);
        }
        out
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn a_transaction_over_its_bound_spills_and_replays_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spill::open(dir.path()).unwrap();
        s.block(7);
        let n = (TX_MEMORY / 1000) as u32 * 3;
        let want: Vec<(u32, Bytes)> = (0..n).map(|i| (7, msg(i, 1000 - MESSAGE_OVERHEAD))).collect();
        for (xid, m) in &want {
            s.push(7, *xid, m.clone()).unwrap();
        }
        assert!(s.figures().bytes_spilled > 0, "spilled");
        assert!(s.figures().peak_memory <= TX_MEMORY + 1000, "memory stayed bounded: {}", s.figures().peak_memory);
        assert_eq!(files(dir.path()), ["7-0.seg"]);
        let replay = s.take(7).unwrap();
        assert_eq!(replay.kept(), u64::from(n));
        assert_eq!(drain(replay), want, "every message, in order");
        assert!(files(dir.path()).is_empty(), "files removed after the replay");
        assert_eq!(s.open_transactions(), 0);
    }

    #[test]
    fn aborted_subtransactions_are_left_out_in_memory_and_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spill::open(dir.path()).unwrap();
        let big = TX_MEMORY / 4;
        // Top 1 writes, sub 2 writes (spilled to disk), sub 3 writes (in memory).
        s.push(1, 1, msg(1, big)).unwrap();
        for i in 0..5 {
            s.push(1, 2, msg(100 + i, big)).unwrap();
        }
        assert!(!files(dir.path()).is_empty(), "sub 2 reached the disk");
        s.push(1, 3, msg(200, 10)).unwrap();
        s.push(1, 1, msg(2, 10)).unwrap();
        s.abort(1, 2).unwrap();
        s.abort(1, 3).unwrap();
        let got: Vec<u32> = drain(s.take(1).unwrap()).iter().map(|(_, m)| u32::from_le_bytes(m[..4].try_into().unwrap())).collect();
        assert_eq!(got, [1, 2]);
    }

    #[test]
    fn a_whole_abort_drops_memory_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spill::open(dir.path()).unwrap();
        for i in 0..6 {
            s.push(5, 5, msg(i, TX_MEMORY / 4)).unwrap();
        }
        s.push(6, 6, msg(9, 10)).unwrap();
        assert!(!files(dir.path()).is_empty());
        s.abort(5, 5).unwrap();
        assert!(files(dir.path()).is_empty());
        assert_eq!(s.open_transactions(), 1);
        assert_eq!(drain(s.take(6).unwrap()).len(), 1, "the other transaction is untouched");
        assert_eq!(s.memory, 0);
    }

    #[test]
    fn the_total_bound_spills_the_transaction_being_added_to() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spill::open(dir.path()).unwrap();
        let each = TX_MEMORY - 4096;
        let txs = (TOTAL_MEMORY / each) as u32 + 2;
        for t in 1..=txs {
            s.push(t, t, msg(t, each - MESSAGE_OVERHEAD)).unwrap();
        }
        assert!(s.memory <= TOTAL_MEMORY, "{} in memory", s.memory);
        for t in 1..=txs {
            assert_eq!(drain(s.take(t).unwrap()), [(t, msg(t, each - MESSAGE_OVERHEAD))]);
        }
    }

    #[test]
    fn leftovers_are_removed_at_open_and_damage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("9-0.seg"), b"old").unwrap();
        std::fs::write(dir.path().join("keep.txt"), b"not ours").unwrap();
        let mut s = Spill::open(dir.path()).unwrap();
        assert_eq!(files(dir.path()), ["keep.txt"]);
        for i in 0..3 {
            s.push(4, 4, msg(i, TX_MEMORY / 2)).unwrap();
        }
        let seg = dir.path().join("4-0.seg");
        let mut bytes = std::fs::read(&seg).unwrap();
        bytes[FRAME_HEADER + 5] ^= 1;
        std::fs::write(&seg, bytes).unwrap();
        let mut r = s.take(4).unwrap();
        let err = r.next_message().unwrap_err().to_string();
        assert!(err.contains("4-0.seg is damaged at byte 0: checksum mismatch"), "{err}");
    }
}
