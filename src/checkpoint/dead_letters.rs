//! The dead-letter store: records a target refused, kept durably until an
//! operator replays or drops them.
//!
//! One sled tree per pipeline, `dead_letters/<pipeline>`, in the state dir's
//! database (next to the checkpoints, so one flush makes both durable and
//! one lock guards both). Keys are the record's `seq` as 8 big-endian bytes,
//! so iteration is in seq order, which is the order records of one key
//! must be replayed in. Values are a version byte and a small protobuf
//! message holding the canonical `Change` (protobuf is its lossless
//! in-memory form already; `dead-letters list --json` renders canonical
//! JSON for people and tools), the error text, the refusing target and the
//! time in unix milliseconds.
//!
//! Seqs continue from the checkpoint, so after a crash the replayed records
//! get the seqs they had: [`DeadLetters::add`] keeps an entry whose record
//! is the same (with its first error) and replaces one whose record differs
//! (a source that re-reads differently after a crash, such as a resumed
//! snapshot, re-delivers everything after the checkpoint anyway). `logferry
//! reset` renumbers from 1, so it refuses while dead letters exist.

use super::{store_err, CheckpointError};
use crate::record::Change;
use prost::Message;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Tree name prefix; the pipeline name follows.
const TREE_PREFIX: &str = "dead_letters/";
/// Encoding version byte at the start of every stored dead letter.
const FORMAT_V1: u8 = 1;

/// One record set aside.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The record as the lane had it (its `seq` is the store key).
    pub change: Change,
    /// The target's error, or why the record was held back.
    pub error: String,
    /// Name of the target that refused it; empty when it was held back
    /// behind an earlier dead letter of the same key (no target saw it).
    pub target: String,
    /// When it was set aside, or when a replay last failed.
    pub at: SystemTime,
}

impl DeadLetter {
    /// The record's sequence number (the store key).
    pub fn seq(&self) -> u64 {
        self.change.seq
    }
}

/// What is stored, after the version byte.
#[derive(Clone, PartialEq, prost::Message)]
struct StoredLetter {
    #[prost(message, optional, tag = "1")]
    change: Option<Change>,
    #[prost(string, tag = "2")]
    error: String,
    #[prost(string, tag = "3")]
    target: String,
    #[prost(uint64, tag = "4")]
    unix_millis: u64,
}

/// The dead letters of one pipeline. Cheap to clone.
#[derive(Clone)]
pub struct DeadLetters {
    tree: sled::Tree,
    pipeline: String,
    /// Shown in errors.
    dir: PathBuf,
}

impl super::CheckpointStore {
    /// The dead-letter store of `pipeline` (created empty when missing).
    pub fn dead_letters(&self, pipeline: &str) -> Result<DeadLetters, CheckpointError> {
        Ok(DeadLetters {
            tree: self.tree(&format!("{TREE_PREFIX}{pipeline}"))?,
            pipeline: pipeline.to_string(),
            dir: self.dir.clone(),
        })
    }
}

impl DeadLetters {
    /// The pipeline these belong to.
    pub fn pipeline(&self) -> &str {
        &self.pipeline
    }

    /// Stores `letters`, then flushes to disk before returning (callers
    /// acknowledge the records afterwards). A seq already stored with the
    /// same record keeps its entry (a replay after a crash: the first error
    /// stays). Returns how many were written.
    pub fn add(&self, letters: &[DeadLetter]) -> Result<usize, CheckpointError> {
        let mut written = 0;
        for letter in letters {
            let key = letter.seq().to_be_bytes();
            let stored = self.tree.get(key).map_err(|e| store_err(&self.dir, e))?;
            if stored.and_then(|v| decode(&v).ok()).is_some_and(|old| old.change == letter.change) {
                continue;
            }
            self.tree.insert(key, encode(letter)).map_err(|e| store_err(&self.dir, e))?;
            written += 1;
        }
        self.flush()?;
        Ok(written)
    }

    /// Replaces the stored letter of the same seq (a replay that failed
    /// again records its new error), flushed.
    pub fn update(&self, letter: &DeadLetter) -> Result<(), CheckpointError> {
        self.tree
            .insert(letter.seq().to_be_bytes(), encode(letter))
            .map_err(|e| store_err(&self.dir, e))?;
        self.flush()
    }

    /// Every dead letter, in seq order.
    pub fn list(&self) -> Result<Vec<DeadLetter>, CheckpointError> {
        self.tree
            .iter()
            .map(|entry| {
                let (key, value) = entry.map_err(|e| store_err(&self.dir, e))?;
                let seq = key.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
                decode(&value).map_err(|message| self.corrupt(seq, message))
            })
            .collect()
    }

    /// The dead letter with this seq.
    pub fn get(&self, seq: u64) -> Result<Option<DeadLetter>, CheckpointError> {
        match self.tree.get(seq.to_be_bytes()).map_err(|e| store_err(&self.dir, e))? {
            None => Ok(None),
            Some(v) => decode(&v).map(Some).map_err(|message| self.corrupt(seq, message)),
        }
    }

    /// Removes these seqs (absent ones are ignored), flushed; returns how
    /// many were there.
    pub fn remove(&self, seqs: &[u64]) -> Result<usize, CheckpointError> {
        let mut removed = 0;
        for seq in seqs {
            if self.tree.remove(seq.to_be_bytes()).map_err(|e| store_err(&self.dir, e))?.is_some() {
                removed += 1;
            }
        }
        self.flush()?;
        Ok(removed)
    }

    /// Number of dead letters.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    fn flush(&self) -> Result<(), CheckpointError> {
        self.tree.flush().map(|_| ()).map_err(|e| store_err(&self.dir, e))
    }

    fn corrupt(&self, seq: u64, message: String) -> CheckpointError {
        CheckpointError::CorruptDeadLetter { dir: self.dir.clone(), pipeline: self.pipeline.clone(), seq, message }
    }
}

fn encode(letter: &DeadLetter) -> Vec<u8> {
    let stored = StoredLetter {
        change: Some(letter.change.clone()),
        error: letter.error.clone(),
        target: letter.target.clone(),
        unix_millis: letter.at.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64,
    };
    let mut out = Vec::with_capacity(1 + stored.encoded_len());
    out.push(FORMAT_V1);
    stored.encode(&mut out).expect("Vec grows as needed");
    out
}

fn decode(bytes: &[u8]) -> Result<DeadLetter, String> {
    match bytes.first() {
        None => return Err("empty value".into()),
        Some(&FORMAT_V1) => {}
        Some(v) => return Err(format!("format version {v}, this build reads version {FORMAT_V1}")),
    }
    let stored = StoredLetter::decode(&bytes[1..]).map_err(|e| e.to_string())?;
    Ok(DeadLetter {
        change: stored.change.ok_or("no record in the entry")?,
        error: stored.error,
        target: stored.target,
        at: UNIX_EPOCH + Duration::from_millis(stored.unix_millis),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::CheckpointStore;
    use crate::record::{Op, Row, TableRef, Value};

    fn letter(seq: u64, error: &str) -> DeadLetter {
        DeadLetter {
            change: Change {
                seq,
                op: Op::Insert as i32,
                table: Some(TableRef { schema: "public".into(), name: "items".into() }),
                key_columns: vec!["id".into()],
                after: Some(Row::from_pairs([("id", Value::int64(seq as i64)), ("note", Value::text("ü ✓"))])),
                ..Default::default()
            },
            error: error.into(),
            target: "postgres:replica".into(),
            at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        }
    }

    #[test]
    fn kept_in_seq_order_across_reopen_and_not_overwritten_by_a_replay() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = CheckpointStore::open(dir.path()).unwrap();
            let dl = store.dead_letters("shop").unwrap();
            // 256 sorts before 3 as a decimal string; big-endian keys keep seq order.
            assert_eq!(dl.add(&[letter(256, "a"), letter(3, "b"), letter(70_000, "c")]).unwrap(), 3);
            assert_eq!(dl.add(&[letter(3, "replayed after a crash")]).unwrap(), 0, "first error kept");
            let mut other = letter(70_000, "a different record under a reused seq");
            other.change.after = None;
            assert_eq!(dl.add(&[other.clone()]).unwrap(), 1, "a different record replaces it");
            assert_eq!(dl.add(&[letter(70_000, "c")]).unwrap(), 1);
            assert!(store.dead_letters("other").unwrap().is_empty(), "per pipeline");
        }
        let store = CheckpointStore::open(dir.path()).unwrap();
        let dl = store.dead_letters("shop").unwrap();
        let all = dl.list().unwrap();
        assert_eq!(all.iter().map(DeadLetter::seq).collect::<Vec<_>>(), [3, 256, 70_000]);
        assert_eq!(all[0], letter(3, "b"));
        let mut again = letter(256, "still failing");
        again.at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        dl.update(&again).unwrap();
        assert_eq!(dl.get(256).unwrap(), Some(again));
        assert_eq!(dl.remove(&[3, 4]).unwrap(), 1);
        assert_eq!(dl.len(), 2);
        assert_eq!(dl.get(3).unwrap(), None);
    }

    #[test]
    fn a_damaged_entry_names_the_seq_and_the_fix() {
        let store = CheckpointStore::temporary().unwrap();
        let dl = store.dead_letters("shop").unwrap();
        dl.tree.insert(9u64.to_be_bytes(), &[7u8, 1][..]).unwrap();
        let err = dl.list().unwrap_err().to_string();
        assert!(err.contains("seq 9") && err.contains("`shop`") && err.contains("dead-letters drop"), "{err}");
    }
}
