//! Storage of the durable spool (`[pipeline.spool]`): one sled tree per
//! pipeline, `spool/<pipeline>`, in the state dir's database.
//!
//! Keys: `e` + the index (u64, big-endian) of a group's first entry → the
//! group: the records one writer group took, in source order, each
//! `[version][Change protobuf]` (one sled value per group: per-record values
//! made sled copy its nodes for every insert, several times the cost of the
//! rest of a spooled run); `m` → the spool's [`SpoolMeta`]. A group and the
//! meta that commits it are written in one atomic sled batch, so after a
//! crash the meta never names entries that are not there.
//! The pipeline side (what is written when, what is delivered) is
//! `pipeline::spool`.

use super::{store_err, CheckpointError, CheckpointStore};
use crate::record::{Change, Position};
use prost::Message;
use std::path::PathBuf;

const ENTRY: u8 = b'e';
const META: &[u8] = b"m";
const FORMAT_V1: u8 = 1;
/// A group of entries written together (one sled value per writer group:
/// one insert per group instead of one per record).
const FORMAT_GROUP: u8 = 2;

/// The spool's commit point: everything up to entry `committed` is stored,
/// and the source resumes after `position` (which comes after entry
/// `committed`'s record, or is that record's own position).
#[derive(Debug, Clone, PartialEq)]
pub struct SpoolMeta {
    /// Index of the last entry the commit covers (0: none yet).
    pub committed: u64,
    /// Where the source resumes; `None`: from its beginning (initial snapshot).
    pub position: Option<Position>,
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

/// One pipeline's spool tree.
#[derive(Clone)]
pub struct SpoolStore {
    pub(super) tree: sled::Tree,
    dir: PathBuf,
    pipeline: String,
}

impl CheckpointStore {
    /// The spool of `pipeline` (created empty on first use).
    pub fn spool(&self, pipeline: &str) -> Result<SpoolStore, CheckpointError> {
        Ok(SpoolStore { tree: self.tree(&format!("spool/{pipeline}"))?, dir: self.dir.clone(), pipeline: pipeline.to_string() })
    }

    /// True when `pipeline` has spool state (a meta record or entries).
    pub fn has_spool(&self, pipeline: &str) -> Result<bool, CheckpointError> {
        let name = format!("spool/{pipeline}");
        let exists = self.db.tree_names().iter().any(|n| n.as_ref() == name.as_bytes());
        Ok(exists && !self.spool(pipeline)?.tree.is_empty())
    }
}

fn key(index: u64) -> [u8; 9] {
    let mut k = [ENTRY; 9];
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

fn index_of(k: &[u8]) -> Option<u64> {
    (k.len() == 9 && k[0] == ENTRY).then(|| u64::from_be_bytes(k[1..].try_into().expect("8 bytes")))
}

/// A stored group: its first index and its entries.
type Group = (u64, Vec<Vec<u8>>);

/// A group's value: `[2][count u32 BE]` then `[len u32 BE][entry]` per entry.
fn pack<'a>(entries: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = vec![FORMAT_GROUP, 0, 0, 0, 0];
    let mut n = 0u32;
    for e in entries {
        out.extend_from_slice(&(e.len() as u32).to_be_bytes());
        out.extend_from_slice(e);
        n += 1;
    }
    out[1..5].copy_from_slice(&n.to_be_bytes());
    out
}

fn unpack(v: &[u8]) -> Option<Vec<Vec<u8>>> {
    if v.len() < 5 || v[0] != FORMAT_GROUP {
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

/// Encodes a record for the spool.
pub fn encode_entry(change: &Change) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + change.encoded_len());
    out.push(FORMAT_V1);
    change.encode(&mut out).expect("Vec grows as needed");
    out
}

impl SpoolStore {
    /// The pipeline this spool belongs to.
    pub fn pipeline(&self) -> &str {
        &self.pipeline
    }

    fn err(&self, e: sled::Error) -> CheckpointError {
        store_err(&self.dir, e)
    }

    fn corrupt(&self, what: String) -> CheckpointError {
        CheckpointError::CorruptSpool { dir: self.dir.clone(), pipeline: self.pipeline.clone(), message: what }
    }

    /// The commit point, if the spool was ever started.
    pub fn meta(&self) -> Result<Option<SpoolMeta>, CheckpointError> {
        let Some(bytes) = self.tree.get(META).map_err(|e| self.err(e))? else { return Ok(None) };
        if bytes.len() < 10 || bytes[0] != FORMAT_V1 {
            return Err(self.corrupt(format!("meta record of {} bytes, version {:?}", bytes.len(), bytes.first())));
        }
        let committed = u64::from_be_bytes(bytes[1..9].try_into().expect("8 bytes"));
        let position = match bytes[9] {
            0 => None,
            1 => Some(Position::decode(&bytes[10..]).map_err(|e| self.corrupt(format!("meta position: {e}")))?),
            other => return Err(self.corrupt(format!("meta position flag {other}"))),
        };
        Ok(Some(SpoolMeta { committed, position }))
    }

    /// Writes `entries` (consecutive indexes, [`encode_entry`] bytes) as
    /// one group and, when given, the meta that commits them, atomically.
    /// Not flushed: see [`Self::flush`]. Returns the bytes stored.
    pub fn write(&self, entries: &[(u64, Vec<u8>)], meta: Option<&SpoolMeta>) -> Result<u64, CheckpointError> {
        let mut batch = sled::Batch::default();
        let mut stored = 0;
        if let Some((first, _)) = entries.first() {
            debug_assert!(entries.windows(2).all(|w| w[1].0 == w[0].0 + 1), "consecutive indexes");
            let group = pack(entries.iter().map(|(_, b)| b.as_slice()));
            stored = group.len() as u64;
            batch.insert(&key(*first), group);
        }
        if let Some(m) = meta {
            let mut out = vec![FORMAT_V1];
            out.extend_from_slice(&m.committed.to_be_bytes());
            match &m.position {
                None => out.push(0),
                Some(p) => {
                    out.push(1);
                    p.encode(&mut out).expect("Vec grows as needed");
                }
            }
            batch.insert(META, out);
        }
        self.tree.apply_batch(batch).map_err(|e| self.err(e))?;
        Ok(stored)
    }

    /// Makes every write so far durable (fsync).
    pub async fn flush(&self) -> Result<(), CheckpointError> {
        self.tree.flush_async().await.map(|_| ()).map_err(|e| self.err(e))
    }

    /// The groups from the one holding `from` up to the one holding `to`:
    /// (first index, its entries).
    /// Stops once the groups hold `max` entries at or after `from`.
    fn groups(&self, from: u64, to: u64, max: usize) -> Result<Vec<Group>, CheckpointError> {
        let start = match self.tree.range(key(0)..=key(from)).next_back() {
            Some(item) => item.map_err(|e| self.err(e))?.0,
            None => key(from).to_vec().into(),
        };
        let mut out = Vec::new();
        let mut held = 0usize;
        for item in self.tree.range(start..=key(to).to_vec().into()) {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let Some(first) = index_of(&k) else { continue };
            let entries = self.unpack(first, &v)?;
            held += entries.len().saturating_sub(from.saturating_sub(first) as usize);
            out.push((first, entries));
            if held >= max {
                break;
            }
        }
        Ok(out)
    }

    fn unpack(&self, first: u64, v: &[u8]) -> Result<Vec<Vec<u8>>, CheckpointError> {
        unpack(v).ok_or_else(|| self.corrupt(format!("group at entry {first}: malformed")))
    }

    /// Up to `max` entries with `from <= index <= to`, in index order.
    pub fn read(&self, from: u64, to: u64, max: usize) -> Result<Vec<(u64, Change)>, CheckpointError> {
        let mut out = Vec::new();
        if from > to {
            return Ok(out);
        }
        for (first, entries) in self.groups(from, to, max)? {
            for (i, bytes) in entries.iter().enumerate() {
                let index = first + i as u64;
                if index < from || index > to || out.len() >= max {
                    continue;
                }
                if bytes.first() != Some(&FORMAT_V1) {
                    return Err(self.corrupt(format!("entry {index}: version {:?}", bytes.first())));
                }
                let change = Change::decode(&bytes[1..]).map_err(|e| self.corrupt(format!("entry {index}: {e}")))?;
                out.push((index, change));
            }
        }
        Ok(out)
    }

    /// Removes the groups whose entries all have index `<= last` (a group
    /// only partly covered stays until the rest is covered too); returns
    /// their bytes.
    pub fn remove_through(&self, last: u64) -> Result<u64, CheckpointError> {
        let mut batch = sled::Batch::default();
        let mut freed = 0;
        for item in self.tree.range(key(0)..=key(last)) {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let Some(first) = index_of(&k) else { continue };
            let n = self.unpack(first, &v)?.len() as u64;
            if first + n - 1 > last {
                break;
            }
            freed += v.len() as u64;
            batch.remove(k);
        }
        if freed > 0 {
            self.tree.apply_batch(batch).map_err(|e| self.err(e))?;
        }
        Ok(freed)
    }

    /// Removes the entries with index `> index` (cutting the group that
    /// holds `index`); returns the bytes freed.
    pub fn remove_after(&self, index: u64) -> Result<u64, CheckpointError> {
        let mut batch = sled::Batch::default();
        let mut freed = 0u64;
        if let Some(item) = self.tree.range(key(0)..=key(index)).next_back() {
            let (k, v) = item.map_err(|e| self.err(e))?;
            if let Some(first) = index_of(&k) {
                let entries = self.unpack(first, &v)?;
                let keep = (index - first + 1) as usize;
                if entries.len() > keep {
                    let cut = pack(entries[..keep].iter().map(Vec::as_slice));
                    freed += (v.len() - cut.len()) as u64;
                    batch.insert(k, cut);
                }
            }
        }
        if let Some(from) = index.checked_add(1) {
            for item in self.tree.range(key(from)..=key(u64::MAX)) {
                let (k, v) = item.map_err(|e| self.err(e))?;
                freed += v.len() as u64;
                batch.remove(k);
            }
        }
        self.tree.apply_batch(batch).map_err(|e| self.err(e))?;
        Ok(freed)
    }

    /// Entries and bytes held (entries of partly trimmed groups included).
    pub fn stats(&self) -> Result<SpoolStats, CheckpointError> {
        let mut s = SpoolStats::default();
        for item in self.tree.range(key(0)..=key(u64::MAX)) {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let Some(first) = index_of(&k) else { continue };
            let n = self.unpack(first, &v)?.len() as u64;
            s.entries += n;
            s.bytes += v.len() as u64;
            s.first = s.first.or(Some(first));
            s.last = Some(first + n - 1);
        }
        Ok(s)
    }

    /// Forgets entries and meta (flushed).
    pub async fn clear(&self) -> Result<(), CheckpointError> {
        self.tree.clear().map_err(|e| self.err(e))?;
        self.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Op;

    fn rec(n: i64) -> Change {
        Change { op: Op::Insert as i32, seq: n as u64, tx_end: n % 2 == 0, ..Default::default() }
    }

    fn pos(s: &str) -> Position {
        Position { token: bytes::Bytes::from(s.as_bytes().to_vec()), display: s.into() }
    }

    #[tokio::test]
    async fn entries_and_meta_survive_reopen_and_ranges_remove_exactly() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = CheckpointStore::open(dir.path()).unwrap();
            assert!(!store.has_spool("p").unwrap());
            let spool = store.spool("p").unwrap();
            assert_eq!(spool.meta().unwrap(), None);
            // Two writer groups: 1..=3 and 4..=6.
            let entries: Vec<_> = (1..=6).map(|i| (i as u64, encode_entry(&rec(i)))).collect();
            spool.write(&entries[..3], None).unwrap();
            let meta = SpoolMeta { committed: 4, position: Some(pos("0/40")) };
            spool.write(&entries[3..], Some(&meta)).unwrap();
            spool.flush().await.unwrap();
        }
        let store = CheckpointStore::open(dir.path()).unwrap();
        assert!(store.has_spool("p").unwrap());
        assert!(!store.has_spool("other").unwrap());
        let spool = store.spool("p").unwrap();
        assert_eq!(spool.meta().unwrap(), Some(SpoolMeta { committed: 4, position: Some(pos("0/40")) }));
        let all = spool.read(1, u64::MAX, 100).unwrap();
        assert_eq!(all.iter().map(|(i, c)| (*i, c.seq)).collect::<Vec<_>>(), (1..=6).map(|i| (i, i)).collect::<Vec<_>>());
        assert_eq!(spool.read(3, 4, 100).unwrap().iter().map(|e| e.0).collect::<Vec<_>>(), [3, 4], "across groups");
        assert_eq!(spool.read(2, 6, 3).unwrap().iter().map(|e| e.0).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(spool.read(5, 5, 10).unwrap().iter().map(|e| e.0).collect::<Vec<_>>(), [5], "inside a group");
        let s0 = spool.stats().unwrap();
        assert_eq!((s0.entries, s0.first, s0.last), (6, Some(1), Some(6)));
        // Cutting after 4 shortens the second group.
        let freed = spool.remove_after(4).unwrap();
        assert!(freed > 0);
        let s1 = spool.stats().unwrap();
        assert_eq!((s1.entries, s1.bytes, s1.last), (4, s0.bytes - freed, Some(4)));
        assert_eq!(spool.read(1, 10, 10).unwrap().iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
        // A group goes only once all of it is covered.
        assert_eq!(spool.remove_through(2).unwrap(), 0);
        assert_eq!(spool.stats().unwrap().entries, 4);
        let freed = spool.remove_through(3).unwrap();
        assert!(freed > 0);
        let s2 = spool.stats().unwrap();
        assert_eq!((s2.entries, s2.bytes, s2.first, s2.last), (1, s1.bytes - freed, Some(4), Some(4)));
        // The meta is not an entry: range removals leave it.
        assert_eq!(spool.meta().unwrap().unwrap().committed, 4);
        spool.write(&[], Some(&SpoolMeta { committed: 4, position: None })).unwrap();
        assert_eq!(spool.meta().unwrap().unwrap().position, None);
        spool.clear().await.unwrap();
        assert_eq!(spool.meta().unwrap(), None);
        assert!(!store.has_spool("p").unwrap());
    }

    #[test]
    fn reset_forgets_the_spool_also_without_a_checkpoint() {
        let store = CheckpointStore::temporary().unwrap();
        store.spool("p").unwrap().write(&[(1, encode_entry(&rec(1)))], Some(&SpoolMeta { committed: 1, position: None })).unwrap();
        assert!(store.has_spool("p").unwrap());
        assert!(store.reset("p").unwrap(), "a spool alone counts as state to reset");
        assert!(!store.has_spool("p").unwrap());
        assert!(!store.reset("p").unwrap());
    }

    #[test]
    fn a_damaged_entry_is_an_error_naming_the_spool() {
        let store = CheckpointStore::temporary().unwrap();
        let spool = store.spool("p").unwrap();
        spool.write(&[(1, vec![FORMAT_V1, 0xff, 0xff])], None).unwrap();
        let e = spool.read(1, 1, 10).unwrap_err().to_string();
        assert!(e.contains("spool of pipeline `p`") && e.contains("entry 1") && e.contains("logferry reset"), "{e}");
    }
}
