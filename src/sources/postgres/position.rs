//! Positions of the PostgreSQL source, as stored in checkpoints.
//!
//! While streaming, a position is an LSN: the end of a committed transaction
//! (or of a heartbeat message); the stream resumes *after* it. During the
//! initial snapshot, a position also says which tables are fully copied and,
//! for the table being copied, the primary key of the last row of the last
//! complete chunk, so a crashed snapshot resumes at chunk granularity. The
//! token is JSON (small, readable in `logferry status --json` later, and
//! easy to evolve with serde defaults).

use crate::record::Position;
use serde::{Deserialize, Serialize};

/// A PostgreSQL source position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PgPosition {
    /// Streaming resumes from this LSN (commit end of the last checkpointed
    /// transaction, or the slot's consistent point while snapshotting).
    pub lsn: u64,
    /// Present until the initial snapshot is complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotProgress>,
    /// The tables replicated as of this position (`schema.name`): a table
    /// configured later is copied online while the others stream.
    /// `None` in checkpoints written before this was kept: every table
    /// configured now counts as known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
    /// Online copies not finished yet, in order: the table and the key of
    /// the last row copied (text, one per key column; `None`: not started).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub online: Vec<(String, Option<Vec<String>>)>,
}

pub use crate::sources::SnapshotProgress;

impl PgPosition {
    /// The checkpointable form.
    pub fn to_position(&self) -> Position {
        let display = match &self.snapshot {
            None if !self.online.is_empty() => format!(
                "{}; copying online: {}",
                format_lsn(self.lsn),
                self.online.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(", ")
            ),
            None => format_lsn(self.lsn),
            Some(s) => {
                let ranges: usize = s.ranges.iter().map(|(_, r)| r.len()).sum();
                let split = if ranges > 0 { format!(" ({ranges} key ranges)") } else { String::new() };
                format!(
                    "snapshot: {} table(s) copied, {} in progress{split}; stream from {}",
                    s.done.len(),
                    s.in_progress(),
                    format_lsn(self.lsn)
                )
            }
        };
        Position {
            token: serde_json::to_vec(self).expect("serializable").into(),
            display,
        }
    }

    /// A streaming position at `lsn` (no snapshot, no online copies, tables
    /// not recorded).
    pub fn at(lsn: u64) -> Self {
        PgPosition { lsn, snapshot: None, tables: None, online: Vec::new() }
    }

    /// Reads a checkpointed position back.
    pub fn from_position(p: &Position) -> Result<Self, String> {
        serde_json::from_slice(&p.token)
            .map_err(|e| format!("checkpoint position `{}` is not a PostgreSQL position ({e})", p.display))
    }
}

/// `X/Y` hex, as PostgreSQL prints an LSN.
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

/// Parses `X/Y` hex.
pub fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.trim().split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_text_round_trips() {
        for lsn in [0u64, 1, 0x16B3748, 0xFFFF_FFFF, 0x1_0000_0000, u64::MAX] {
            assert_eq!(parse_lsn(&format_lsn(lsn)), Some(lsn));
        }
        assert_eq!(format_lsn(0x0000_0001_0000_00A0), "1/A0");
        assert_eq!(parse_lsn("0/16B3748"), Some(0x16B3748));
        assert_eq!(parse_lsn("nope"), None);
    }

    #[test]
    fn positions_round_trip_through_checkpoints() {
        let p = PgPosition {
            lsn: 0x1234,
            snapshot: Some(SnapshotProgress {
                done: vec!["public.a".into()],
                partial: vec![("public.b".into(), vec!["42".into(), "x'y".into()])],
                ranges: Vec::new(),
            }),
            tables: Some(vec!["public.a".into(), "public.b".into()]),
            online: Vec::new(),
        };
        let back = PgPosition::from_position(&p.to_position()).unwrap();
        assert_eq!(back, p);
        assert!(p.to_position().display.contains("1 table(s) copied"));
        // A table split into key ranges keeps each range's bound and progress.
        let mut split = p.clone();
        let progress = split.snapshot.as_mut().unwrap();
        progress.split("public.c", vec![Some(vec!["100".into()]), Some(vec!["200".into()]), None]);
        assert!(!progress.range_chunk_emitted("public.c", 1, false, vec!["150".into()]));
        assert!(!progress.range_chunk_emitted("public.c", 0, true, Vec::new()));
        let back = PgPosition::from_position(&split.to_position()).unwrap();
        assert_eq!(back, split);
        let ranges = back.snapshot.as_ref().unwrap().ranges_of("public.c").unwrap();
        assert_eq!((ranges[0].done, ranges[1].last.as_deref(), ranges[2].last.as_deref()), (true, Some(&["150".to_string()][..]), None));
        assert_eq!(split.to_position().display, "snapshot: 1 table(s) copied, 2 in progress (3 key ranges); stream from 0/1234");
        let progress = split.snapshot.as_mut().unwrap();
        assert!(!progress.range_chunk_emitted("public.c", 1, true, Vec::new()));
        assert!(progress.range_chunk_emitted("public.c", 2, true, Vec::new()), "the last range done makes the table done");
        assert_eq!((progress.ranges_of("public.c"), progress.done.last().map(String::as_str)), (None, Some("public.c")));
        let stream = PgPosition::at(0x1_0000_00A0);
        assert_eq!(stream.to_position().display, "1/A0");
        // Checkpoints written before `tables` and `online` existed still read.
        let old = Position { token: br#"{"lsn":160}"#.to_vec().into(), display: "0/A0".into() };
        assert_eq!(PgPosition::from_position(&old).unwrap(), PgPosition::at(160));
        let online = PgPosition { online: vec![("public.c".into(), Some(vec!["9".into()]))], ..PgPosition::at(160) };
        assert_eq!(PgPosition::from_position(&online.to_position()).unwrap(), online);
        assert_eq!(online.to_position().display, "0/A0; copying online: public.c");
        let bad = Position { token: b"\x00\x01".to_vec().into(), display: "change 7".into() };
        assert!(PgPosition::from_position(&bad).unwrap_err().contains("change 7"));
    }
}
