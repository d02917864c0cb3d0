//! Durable checkpoints in sled, and the spool's segment files.
//!
//! A checkpoint is the last source position (a transaction end) whose
//! records, and every record before them, all targets have durably applied,
//! plus that record's sequence number so replayed records get the same
//! numbers again. It is written only by the pipeline's checkpointer, and
//! every write is flushed (fsync) before it is published to the source as
//! "durable": the source server is never told to discard log that a crash
//! could still need.
//!
//! Layout of the state dir: `<state_dir>/sled/` holds one sled database with
//! a tree `checkpoints` keyed by pipeline name. Later stages (snapshot chunk
//! progress) get trees of their own via [`CheckpointStore::tree`]; dead
//! letters live in `dead_letters/<pipeline>` ([`dead_letters`]). The
//! durable spool is not in sled: it has segment files of its own in
//! `<state_dir>/spool/<pipeline>/` ([`SpoolStore`]; earlier versions kept it
//! in the sled tree `spool/<pipeline>`, moved over on first open).
//! sled locks the folder: one logferry process per state dir (which also
//! keeps a second process away from the spool files).

mod dead_letters;
mod spool;

pub use dead_letters::{DeadLetter, DeadLetters};
pub use spool::{encode_entry, SpoolMeta, SpoolStats, SpoolStore, SEGMENT_BYTES};

use crate::record::Position;
use prost::Message;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const CHECKPOINTS_TREE: &str = "checkpoints";
/// sled's page cache (its default is 1 GiB). Checkpoints and dead letters
/// are small, and the spool is written once and read once in order, so a
/// small cache costs little and keeps a spooled run's memory flat.
const SLED_CACHE_BYTES: u64 = 16 << 20;
/// How long `open` retries a state dir that is locked (see there).
const LOCK_WAIT: Duration = Duration::from_secs(1);
/// Encoding version byte at the start of every stored checkpoint, so a later
/// layout can be told apart from this one.
const FORMAT_V1: u8 = 1;
/// Version 2 adds the epoch and the log ordinal (exactly-once SQL targets).
const FORMAT_V2: u8 = 2;

/// A durable resume point of one pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Sequence number of the transaction-end record at `position`.
    pub seq: u64,
    /// Where the source resumes (after this point).
    pub position: Position,
    /// When it was written.
    pub updated_at: SystemTime,
    /// Which numbering `seq` and `ordinal` belong to: drawn anew when a
    /// pipeline starts without a checkpoint (first run, after `reset`), so
    /// what targets recorded under an earlier numbering is never mistaken
    /// for this one's (0 in checkpoints written before it was kept).
    pub epoch: u64,
    /// How many log row changes (inserts, updates, deletes, truncates read
    /// from the log, not copied rows) the pipeline numbered up to `seq`:
    /// unlike `seq`, a replay after this checkpoint numbers them the same
    /// again, which is what exactly-once SQL targets compare.
    pub ordinal: u64,
}

/// The state dir's sled database and spools.
#[derive(Clone)]
pub struct CheckpointStore {
    db: sled::Db,
    checkpoints: sled::Tree,
    /// Shown in errors.
    dir: PathBuf,
    /// Where the spool folders are (`<state_dir>/spool`).
    spool_root: PathBuf,
    /// Spools opened so far: one handle per pipeline, shared by its clones.
    spools: Arc<Mutex<HashMap<String, SpoolStore>>>,
    /// Removes a temporary store's folder with the last clone.
    _temporary: Option<Arc<TempFolder>>,
}

/// A folder removed on drop ([`CheckpointStore::temporary`]).
struct TempFolder(PathBuf);

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Reading or writing the state dir failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Another process holds the state dir.
    #[error("state dir {dir} is in use by another logferry process (sled lets one process at a time hold it: a `run`, or a `status`, `reset` or `dead-letters` command); stop that process, or give each process its own state_dir")]
    Locked {
        /// The state dir.
        dir: PathBuf,
    },
    /// The state dir cannot be created.
    #[error("state dir {dir}: cannot create it")]
    Create {
        /// The state dir.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// I/O or corruption in sled.
    #[error("state dir {dir}")]
    Store {
        /// The state dir.
        dir: PathBuf,
        /// What sled said.
        #[source]
        source: sled::Error,
    },
    /// A spool file could not be read or written.
    #[error("state dir {dir}: spool file {path}: cannot {action}; check the disk (space, permissions, health)")]
    SpoolIo {
        /// The state dir.
        dir: PathBuf,
        /// The file or folder.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A stored checkpoint could not be decoded.
    #[error("state dir {dir}: checkpoint of pipeline `{pipeline}` is unreadable ({message}); `logferry reset --pipeline {pipeline}` forgets it (the next run starts over)")]
    Corrupt {
        /// The state dir.
        dir: PathBuf,
        /// Pipeline name.
        pipeline: String,
        /// What is wrong.
        message: String,
    },
    /// The spool holds something this build cannot read.
    #[error("state dir {dir}: the spool of pipeline `{pipeline}` is damaged ({message}); `logferry reset --pipeline {pipeline}` forgets it and the checkpoint (the next run starts over)")]
    CorruptSpool {
        /// The state dir.
        dir: PathBuf,
        /// Pipeline name.
        pipeline: String,
        /// What is wrong.
        message: String,
    },
    /// A stored dead letter could not be decoded.
    #[error("state dir {dir}: dead letter seq {seq} of pipeline `{pipeline}` is unreadable ({message}); `logferry dead-letters drop --pipeline {pipeline} --seq {seq} --yes` removes it")]
    CorruptDeadLetter {
        /// The state dir.
        dir: PathBuf,
        /// Pipeline name.
        pipeline: String,
        /// The entry's key.
        seq: u64,
        /// What is wrong.
        message: String,
    },
}

impl CheckpointStore {
    /// Opens (creating if needed) the store in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Self, CheckpointError> {
        let dir = state_dir.to_path_buf();
        std::fs::create_dir_all(state_dir).map_err(|source| CheckpointError::Create { dir: dir.clone(), source })?;
        // sled lets go of its lock a moment after the last handle is
        // dropped (its flusher thread ends first): a store reopened in the
        // same process right away may find it still held, so Locked is
        // retried briefly before it is reported.
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            let opened = sled::Config::new()
                .path(state_dir.join("sled"))
                .cache_capacity(SLED_CACHE_BYTES)
                .open()
                .map_err(|e| Self::map_open_error(&dir, e));
            match opened {
                Ok(db) => return Self::from_db(db, dir.clone(), state_dir.join("spool"), None),
                Err(CheckpointError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A store in a temporary folder that is removed on drop (unit tests).
    pub fn temporary() -> Result<Self, CheckpointError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let dir = PathBuf::from("<temporary>");
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let folder = std::env::temp_dir().join(format!("logferry-state-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&folder).map_err(|source| CheckpointError::Create { dir: folder.clone(), source })?;
        let temp = Arc::new(TempFolder(folder.clone()));
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .map_err(|e| store_err(&dir, e))?;
        Self::from_db(db, dir, folder.join("spool"), Some(temp))
    }

    fn from_db(db: sled::Db, dir: PathBuf, spool_root: PathBuf, temporary: Option<Arc<TempFolder>>) -> Result<Self, CheckpointError> {
        let checkpoints = db.open_tree(CHECKPOINTS_TREE).map_err(|e| store_err(&dir, e))?;
        Ok(CheckpointStore { db, checkpoints, dir, spool_root, spools: Arc::default(), _temporary: temporary })
    }

    fn map_open_error(dir: &Path, e: sled::Error) -> CheckpointError {
        match &e {
            sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                CheckpointError::Locked { dir: dir.to_path_buf() }
            }
            _ if e.to_string().contains("lock") => CheckpointError::Locked { dir: dir.to_path_buf() },
            _ => store_err(dir, e),
        }
    }

    /// The state dir this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The checkpoint of `pipeline`, if one was written.
    pub fn load(&self, pipeline: &str) -> Result<Option<Checkpoint>, CheckpointError> {
        match self.checkpoints.get(pipeline).map_err(|e| store_err(&self.dir, e))? {
            None => Ok(None),
            Some(bytes) => decode(&bytes).map(Some).map_err(|message| CheckpointError::Corrupt {
                dir: self.dir.clone(),
                pipeline: pipeline.to_string(),
                message,
            }),
        }
    }

    /// Writes `checkpoint` for `pipeline` and flushes it to disk before returning.
    pub fn save(&self, pipeline: &str, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        self.checkpoints
            .insert(pipeline, encode(checkpoint))
            .map_err(|e| store_err(&self.dir, e))?;
        self.flush()
    }

    /// Forgets the checkpoint of `pipeline` and its spool; true if there
    /// was either.
    pub fn reset(&self, pipeline: &str) -> Result<bool, CheckpointError> {
        let spooled = self.has_spool(pipeline)?;
        if spooled {
            self.spool(pipeline)?.clear_now()?;
        }
        let old = self.checkpoints.remove(pipeline).map_err(|e| store_err(&self.dir, e))?;
        self.flush()?;
        Ok(old.is_some() || spooled)
    }

    /// Names of the pipelines that have a stored checkpoint, sorted.
    pub fn pipelines(&self) -> Result<Vec<String>, CheckpointError> {
        self.checkpoints
            .iter()
            .keys()
            .map(|k| k.map(|k| String::from_utf8_lossy(&k).into_owned()).map_err(|e| store_err(&self.dir, e)))
            .collect()
    }

    /// A named tree for other durable state (snapshot progress, dead letters).
    pub fn tree(&self, name: &str) -> Result<sled::Tree, CheckpointError> {
        self.db.open_tree(name).map_err(|e| store_err(&self.dir, e))
    }

    /// Flushes every pending write to disk.
    pub fn flush(&self) -> Result<(), CheckpointError> {
        self.db.flush().map(|_| ()).map_err(|e| store_err(&self.dir, e))
    }
}

fn store_err(dir: &Path, e: sled::Error) -> CheckpointError {
    CheckpointError::Store { dir: dir.to_path_buf(), source: e }
}

/// `[version 2][seq u64 BE][updated_at millis u64 BE][epoch u64 BE][ordinal u64 BE][Position protobuf]`
/// (version 1 had no epoch and ordinal).
fn encode(cp: &Checkpoint) -> Vec<u8> {
    let millis = cp
        .updated_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let mut out = Vec::with_capacity(33 + cp.position.encoded_len());
    out.push(FORMAT_V2);
    out.extend_from_slice(&cp.seq.to_be_bytes());
    out.extend_from_slice(&millis.to_be_bytes());
    out.extend_from_slice(&cp.epoch.to_be_bytes());
    out.extend_from_slice(&cp.ordinal.to_be_bytes());
    cp.position.encode(&mut out).expect("Vec grows as needed");
    out
}

fn decode(bytes: &[u8]) -> Result<Checkpoint, String> {
    let head = match bytes.first() {
        Some(&FORMAT_V1) => 17,
        Some(&FORMAT_V2) => 33,
        Some(v) => return Err(format!("format version {v}, this build reads versions {FORMAT_V1} and {FORMAT_V2}")),
        None => return Err("0 bytes, expected at least 17".into()),
    };
    if bytes.len() < head {
        return Err(format!("{} bytes, expected at least {head}", bytes.len()));
    }
    let u64_at = |i: usize| u64::from_be_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    let seq = u64_at(1);
    let millis = u64_at(9);
    let (epoch, ordinal) = if head == 33 { (u64_at(17), u64_at(25)) } else { (0, 0) };
    let position = Position::decode(&bytes[head..]).map_err(|e| e.to_string())?;
    Ok(Checkpoint { seq, position, updated_at: UNIX_EPOCH + Duration::from_millis(millis), epoch, ordinal })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(seq: u64, display: &str) -> Checkpoint {
        Checkpoint {
            seq,
            position: Position { token: bytes::Bytes::from(seq.to_be_bytes().to_vec()), display: display.into() },
            updated_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            epoch: 99,
            ordinal: seq / 2,
        }
    }

    #[test]
    fn version_1_checkpoints_still_load_without_an_epoch() {
        let store = CheckpointStore::temporary().unwrap();
        let mut v1 = vec![FORMAT_V1];
        v1.extend_from_slice(&41u64.to_be_bytes());
        v1.extend_from_slice(&1_700_000_000_123u64.to_be_bytes());
        cp(41, "0/10").position.encode(&mut v1).unwrap();
        store.checkpoints.insert("shop", v1).unwrap();
        let loaded = store.load("shop").unwrap().unwrap();
        assert_eq!((loaded.seq, loaded.epoch, loaded.ordinal), (41, 0, 0));
        assert_eq!(loaded.position, cp(41, "0/10").position);
    }

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = CheckpointStore::open(dir.path()).unwrap();
            assert_eq!(store.load("shop").unwrap(), None);
            store.save("shop", &cp(41, "0/10")).unwrap();
            store.save("shop", &cp(42, "0/20")).unwrap();
            store.save("other", &cp(7, "x")).unwrap();
        }
        let store = CheckpointStore::open(dir.path()).unwrap();
        assert_eq!(store.load("shop").unwrap(), Some(cp(42, "0/20")));
        let names = store.pipelines().unwrap();
        assert_eq!(names, ["other", "shop"]);
        assert!(store.reset("shop").unwrap());
        assert!(!store.reset("shop").unwrap());
        drop(store);
        let store = CheckpointStore::open(dir.path()).unwrap();
        assert_eq!(store.load("shop").unwrap(), None);
        assert_eq!(store.load("other").unwrap(), Some(cp(7, "x")));
    }

    #[test]
    fn second_process_is_told_the_dir_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _first = CheckpointStore::open(dir.path()).unwrap();
        // sled's lock is per process (fcntl); a second open in the same
        // process may succeed, so this only checks the error mapping.
        let err = CheckpointStore::map_open_error(
            dir.path(),
            sled::Error::Io(std::io::Error::new(std::io::ErrorKind::WouldBlock, "could not acquire lock")),
        );
        assert!(matches!(err, CheckpointError::Locked { .. }), "{err}");
        assert!(err.to_string().contains("in use by another logferry process"));
    }

    #[test]
    fn corrupt_bytes_name_the_pipeline_and_the_fix() {
        let store = CheckpointStore::temporary().unwrap();
        store.checkpoints.insert("shop", &[9u8, 1, 2][..]).unwrap();
        let err = store.load("shop").unwrap_err().to_string();
        assert!(err.contains("`shop`") && err.contains("logferry reset"), "{err}");
    }
}
