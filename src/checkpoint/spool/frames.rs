//! The frames of spool segment files and the scan that reads them back.
//!
//! A segment is a series of frames `[len u32 LE][crc u32 LE][kind u8][payload]`:
//! `len` counts the payload, `crc` is the CRC-32 (IEEE, `crc32fast`) of the
//! kind byte and the payload, so a frame whose kind was damaged is caught
//! too. Kinds and payloads (integers little-endian):
//!
//! - [`GROUP`]: `[first index u64][count u32]` then `[len u32][entry]` per
//!   entry: the records one writer group took, in index order.
//! - [`META`]: `[committed u64][0 | 1][Position protobuf when 1]`: a commit
//!   point ([`SpoolMeta`]); the last complete one in a spool is the one in
//!   force.
//! - [`CUT`]: `[index u64]`: the entries after `index` written before this
//!   frame are gone (`SpoolStore::remove_after`).

use super::SpoolMeta;
use crate::record::Position;
use prost::Message;
use std::fs::File;
use std::io::Read;

/// Bytes before a frame's payload.
pub(super) const HEADER: usize = 9;
/// Bytes before a group's first entry in its payload.
pub(super) const GROUP_HEAD: usize = 12;
/// A group of entries.
pub(super) const GROUP: u8 = 1;
/// A commit point.
pub(super) const META: u8 = 2;
/// Entries after an index removed.
pub(super) const CUT: u8 = 3;

/// Starts a frame at the end of `out`; returns where it starts.
pub(super) fn begin(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    start
}

/// Fills in the header of the frame begun at `start` with `kind`.
pub(super) fn finish(out: &mut [u8], start: usize, kind: u8) {
    let len = (out.len() - start - HEADER) as u32;
    out[start + 8] = kind;
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Appends a group frame holding `entries` (first index `first`).
pub(super) fn group<'a>(out: &mut Vec<u8>, first: u64, entries: impl ExactSizeIterator<Item = &'a [u8]>) {
    let start = begin(out);
    out.extend_from_slice(&first.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for e in entries {
        out.extend_from_slice(&(e.len() as u32).to_le_bytes());
        out.extend_from_slice(e);
    }
    finish(out, start, GROUP);
}

/// Appends a meta frame.
pub(super) fn meta(out: &mut Vec<u8>, m: &SpoolMeta) {
    let start = begin(out);
    out.extend_from_slice(&m.committed.to_le_bytes());
    match &m.position {
        None => out.push(0),
        Some(p) => {
            out.push(1);
            p.encode(out).expect("Vec grows as needed");
        }
    }
    finish(out, start, META);
}

/// Appends a cut frame.
pub(super) fn cut(out: &mut Vec<u8>, index: u64) {
    let start = begin(out);
    out.extend_from_slice(&index.to_le_bytes());
    finish(out, start, CUT);
}

/// Checks a whole frame read back (header and payload); returns its kind
/// and payload.
pub(super) fn check(frame: &[u8]) -> Result<(u8, &[u8]), String> {
    if frame.len() < HEADER {
        return Err(format!("frame of {} bytes", frame.len()));
    }
    let len = u32::from_le_bytes(frame[..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(frame[4..8].try_into().expect("4 bytes"));
    if frame.len() != HEADER + len {
        return Err(format!("frame length {len} where {} bytes were expected", frame.len() - HEADER));
    }
    if crc32fast::hash(&frame[8..]) != crc {
        return Err("checksum mismatch".into());
    }
    Ok((frame[8], &frame[HEADER..]))
}

/// A group payload's first index and entry count.
pub(super) fn group_head(payload: &[u8]) -> Option<(u64, u32)> {
    let first = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
    let count = u32::from_le_bytes(payload.get(8..12)?.try_into().ok()?);
    (count > 0).then_some((first, count))
}

/// The first `count` entries of a group payload.
pub(super) fn group_entries(payload: &[u8], count: u32) -> Option<Vec<&[u8]>> {
    let mut out = Vec::with_capacity(count as usize);
    let mut at = GROUP_HEAD;
    for _ in 0..count {
        let len = u32::from_le_bytes(payload.get(at..at + 4)?.try_into().ok()?) as usize;
        out.push(payload.get(at + 4..at + 4 + len)?);
        at += 4 + len;
    }
    Some(out)
}

/// Decodes a meta payload.
pub(super) fn decode_meta(payload: &[u8]) -> Result<SpoolMeta, String> {
    if payload.len() < 9 {
        return Err(format!("meta of {} bytes", payload.len()));
    }
    let committed = u64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
    let position = match payload[8] {
        0 => None,
        1 => Some(Position::decode(&payload[9..]).map_err(|e| format!("meta position: {e}"))?),
        other => return Err(format!("meta position flag {other}")),
    };
    Ok(SpoolMeta { committed, position })
}

/// Decodes a cut payload.
pub(super) fn decode_cut(payload: &[u8]) -> Result<u64, String> {
    Ok(u64::from_le_bytes(payload.try_into().map_err(|_| format!("cut of {} bytes", payload.len()))?))
}

/// Where a scan stopped before the end of the file.
pub(super) struct BadTail {
    /// Offset of the first frame that is torn or damaged.
    pub(super) at: u64,
    /// What is wrong with it.
    pub(super) why: String,
}

/// Reads the frames of `file` (`len` bytes) in order, calling `each` with
/// every good frame's offset, length (header included), kind and payload;
/// stops at the first torn or damaged frame and says where.
pub(super) fn scan<E>(
    file: &File,
    len: u64,
    mut each: impl FnMut(u64, u32, u8, &[u8]) -> Result<(), E>,
) -> Result<Result<Option<BadTail>, E>, std::io::Error> {
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut at = 0u64;
    let mut buf = Vec::new();
    while at < len {
        if len - at < HEADER as u64 {
            return Ok(Ok(Some(BadTail { at, why: format!("a torn frame header ({} bytes)", len - at) })));
        }
        let mut head = [0u8; HEADER];
        reader.read_exact(&mut head)?;
        let size = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as u64;
        if size > len - at - HEADER as u64 {
            return Ok(Ok(Some(BadTail { at, why: format!("a torn frame ({size} bytes announced, {} there)", len - at - HEADER as u64) })));
        }
        buf.clear();
        buf.extend_from_slice(&head);
        buf.resize(HEADER + size as usize, 0);
        reader.read_exact(&mut buf[HEADER..])?;
        let (kind, payload) = match check(&buf) {
            Ok(k) => k,
            Err(why) => return Ok(Ok(Some(BadTail { at, why }))),
        };
        if let Err(e) = each(at, buf.len() as u32, kind, payload) {
            return Ok(Err(e));
        }
        at += buf.len() as u64;
    }
    Ok(Ok(None))
}
