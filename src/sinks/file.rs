//! `kind = "file"`: appends records to a file, fsynced before acknowledging.
//!
//! `format = "json"` writes one canonical JSON record per line (JSON lines);
//! `format = "protobuf"` writes length-delimited `logferry.v1.Change`
//! messages. Lanes append whole batches under one lock, so records of one
//! key stay in order in the file and batches never interleave.
//!
//! Durability: each batch is written and `fsync`ed (`sync_data`) before
//! `apply` returns. If a write fails part-way, the file is truncated back to
//! where the batch started, so a retry never leaves a torn record. A crash
//! (kill -9) can still leave a torn tail that was never acknowledged; on
//! open, the sink cuts the file back to its last complete record. Replays
//! after a crash append records again (same `seq`): the file is
//! at-least-once, and readers drop duplicates by `seq`.

use super::{Batch, Sink, SinkError};
use crate::config::{FileTargetConfig, RecordFormat};
use crate::record::{json, proto};
use crate::BoxFuture;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Appends records to one file.
pub struct FileSink {
    name: String,
    path: PathBuf,
    format: RecordFormat,
    file: Arc<Mutex<File>>,
}

impl FileSink {
    /// Opens (creating folders and the file if needed) and repairs a torn tail.
    pub fn open(cfg: &FileTargetConfig) -> Result<Self, SinkError> {
        let name = format!("file:{}", cfg.path.display());
        let io = |what: &str, e: std::io::Error| SinkError::from_io(&name, what, e);
        if let Some(dir) = cfg.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io(&format!("cannot create folder {}", dir.display()), e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&cfg.path)
            .map_err(|e| io("cannot open the file for appending", e))?;
        let complete = complete_len(&mut file, cfg.format).map_err(|e| io("cannot read the file", e))?;
        let len = file.metadata().map_err(|e| io("cannot stat the file", e))?.len();
        if complete < len {
            tracing::warn!(target_name = %name, torn_bytes = len - complete,
                "the file ends with an incomplete record (a crash before it was acknowledged); cutting it off");
            file.set_len(complete).map_err(|e| io("cannot cut off the incomplete record", e))?;
            file.sync_data().map_err(|e| io("cannot fsync", e))?;
        }
        Ok(FileSink { name, path: cfg.path.clone(), format: cfg.format, file: Arc::new(Mutex::new(file)) })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Encodes a batch as the file holds it.
pub(crate) fn encode_batch(batch: &Batch, format: RecordFormat) -> Vec<u8> {
    let mut buf = Vec::with_capacity(batch.records.len() * 256);
    for c in &batch.records {
        match format {
            RecordFormat::Json => {
                json::write_change(c, &mut buf);
                buf.push(b'\n');
            }
            RecordFormat::Protobuf => proto::encode_delimited(c, &mut buf),
        }
    }
    buf
}

/// Length of the prefix of the file made of complete records.
fn complete_len(file: &mut File, format: RecordFormat) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(0);
    }
    match format {
        RecordFormat::Json => {
            // Find the last newline, reading backwards in chunks.
            const CHUNK: u64 = 64 * 1024;
            let mut end = len;
            let mut buf = vec![0u8; CHUNK as usize];
            while end > 0 {
                let start = end.saturating_sub(CHUNK);
                let n = (end - start) as usize;
                file.seek(SeekFrom::Start(start))?;
                file.read_exact(&mut buf[..n])?;
                if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
                    return Ok(start + i as u64 + 1);
                }
                end = start;
            }
            Ok(0)
        }
        RecordFormat::Protobuf => {
            // Walk the varint length prefixes.
            let mut reader = std::io::BufReader::new(&mut *file);
            reader.seek(SeekFrom::Start(0))?;
            let mut pos = 0u64;
            loop {
                let mut value = 0u64;
                let mut shift = 0;
                let mut header = 0u64;
                loop {
                    let mut b = [0u8; 1];
                    if reader.read(&mut b)? == 0 {
                        return Ok(pos);
                    }
                    header += 1;
                    value |= u64::from(b[0] & 0x7f) << shift;
                    if b[0] & 0x80 == 0 {
                        break;
                    }
                    shift += 7;
                    if shift > 63 {
                        return Ok(pos);
                    }
                }
                let next = pos + header + value;
                if next > len {
                    return Ok(pos);
                }
                reader.seek_relative(value as i64)?;
                pos = next;
            }
        }
    }
}

impl Sink for FileSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn apply<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let buf = encode_batch(batch, self.format);
            let file = self.file.clone();
            let name = self.name.clone();
            tokio::task::spawn_blocking(move || {
                let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
                let start = f.metadata().map_err(|e| SinkError::from_io(&name, "cannot stat", e))?.len();
                let res = f.write_all(&buf).and_then(|_| f.sync_data());
                if let Err(e) = res {
                    // Never leave a torn batch: cut back to where it began.
                    let _ = f.set_len(start);
                    return Err(SinkError::from_io(&name, "cannot append and fsync", e));
                }
                Ok(())
            })
            .await
            .map_err(|e| SinkError::definite(&self.name, format!("writer task failed: {e}")))?
        })
    }
}
