//! pgoutput message decoding (logical replication protocol versions 1 to 4).
//!
//! The replication transport hands the source one pgoutput message per
//! XLogData payload; [`parse`] turns those bytes into a [`PgMessage`]. The
//! layout is PostgreSQL's "Logical Replication Message Formats": big-endian
//! integers, NUL-terminated strings, and tuples as a column count followed
//! by one tagged value per column.
//!
//! **Streamed transactions** (protocol 2+, `streaming 'on'`): a transaction
//! bigger than the server's `logical_decoding_work_mem` is sent while still
//! in progress, in blocks between Stream Start ('S', with the top-level
//! xid) and Stream Stop ('E'), and ends with Stream Commit ('c') or Stream
//! Abort ('A', of the whole transaction or of one subtransaction). Inside a
//! block, Relation, Type, Insert, Update, Delete, Truncate and Message
//! start with the xid of the (sub)transaction that made the change; the
//! same messages outside a block have no xid. The bytes do not say which
//! case a message is, so the caller tracks the blocks and calls
//! [`parse_in_block`] inside one. Stream Abort carries an abort LSN and
//! time only with `streaming 'parallel'` (protocol 4), which logferry does
//! not ask for; both layouts are read.
//!
//! What the decoder guarantees, whatever the input:
//!
//! - **No panics, no huge allocations.** Every read is bounds-checked and a
//!   count from the wire (columns, relations) is checked against the bytes
//!   that remain before anything is allocated for it.
//! - **Exact consumption.** A message must end exactly where its layout
//!   ends; trailing bytes are an error, because they mean the layout was
//!   misread (a wrong protocol version, for instance).
//! - **Zero copy for values.** Tuple values and message contents are
//!   [`Bytes::slice`]s of the input; only names are copied into `String`s.
//! - **Errors that locate the fault**: which message type, which field (and
//!   which tuple column), and the byte offset in the message.
//!
//! Values stay in the form the server sent them (text or binary); turning
//! them into canonical values is [`super::types`]' job, with the column
//! types from the preceding [`Relation`] message.
//!
//! Fixtures: `../testdata/*.hex` are real messages captured from PostgreSQL 15
//! by `../testdata/capture.sh` (see `../testdata/README.md`).

mod error;
mod messages;
mod reader;
mod tuples;
#[cfg(test)]
mod tests;

pub use error::{DecodeError, Location};
pub use messages::{PgMessage, Relation, RelationColumn};
pub use tuples::{OldTuple, Tuple, TupleValue};

use bytes::Bytes;
use error::bad_marker;
use reader::Reader;
use tuples::tuple;

/// Parses one pgoutput message sent outside a streamed block.
///
/// Tuple values and message contents are slices of `data` (no copy).
pub fn parse(data: &Bytes) -> Result<PgMessage, DecodeError> {
    parse_at(data, false).map(|(_, m)| m)
}

/// Parses one pgoutput message sent between Stream Start and Stream Stop:
/// the xid its change belongs to (a subtransaction's own xid for changes
/// made in one) and the message. Messages that carry no xid there
/// (Origin, Stream Stop, …) come with `None`.
pub fn parse_in_block(data: &Bytes) -> Result<(Option<u32>, PgMessage), DecodeError> {
    parse_at(data, true)
}

fn parse_at(data: &Bytes, in_block: bool) -> Result<(Option<u32>, PgMessage), DecodeError> {
    let Some(&tag) = data.first() else {
        return Err(DecodeError::Empty);
    };
    let message = match tag {
        b'B' => "Begin",
        b'C' => "Commit",
        b'O' => "Origin",
        b'R' => "Relation",
        b'Y' => "Type",
        b'I' => "Insert",
        b'U' => "Update",
        b'D' => "Delete",
        b'T' => "Truncate",
        b'M' => "Message",
        b'S' => "Stream Start",
        b'E' => "Stream Stop",
        b'c' => "Stream Commit",
        b'A' => "Stream Abort",
        _ => return Err(DecodeError::UnknownType { tag }),
    };
    let mut r = Reader { data, pos: 1, message, column: None };
    // Inside a streamed block, changes (and the Relation and Type messages
    // they need) start with their transaction's xid.
    let xid = match tag {
        b'R' | b'Y' | b'I' | b'U' | b'D' | b'T' | b'M' if in_block => Some(r.u32("xid")?),
        _ => None,
    };
    let msg = match tag {
        b'B' => PgMessage::Begin {
            final_lsn: r.u64("final LSN")?,
            commit_time_micros: r.i64("commit timestamp")?,
            xid: r.u32("xid")?,
        },
        b'C' => PgMessage::Commit {
            flags: r.u8("flags")?,
            commit_lsn: r.u64("commit LSN")?,
            end_lsn: r.u64("end LSN")?,
            commit_time_micros: r.i64("commit timestamp")?,
        },
        b'O' => PgMessage::Origin { lsn: r.u64("origin LSN")?, name: r.string("origin name")? },
        b'R' => PgMessage::Relation(relation(&mut r)?),
        b'Y' => {
            PgMessage::Type { oid: r.u32("type oid")?, namespace: r.string("namespace")?, name: r.string("type name")? }
        }
        b'I' => {
            let relation = r.u32("relation oid")?;
            r.expect_new_marker()?;
            PgMessage::Insert { relation, new: tuple(&mut r)? }
        }
        b'U' => {
            let relation = r.u32("relation oid")?;
            let at = r.pos;
            let old = match r.u8("tuple marker")? {
                b'K' => Some(OldTuple::Key(tuple(&mut r)?)),
                b'O' => Some(OldTuple::Full(tuple(&mut r)?)),
                b'N' => None,
                other => return Err(r.invalid_at("tuple marker", at, bad_marker(other, "'K', 'O' or 'N'"))),
            };
            if old.is_some() {
                r.expect_new_marker()?;
            }
            PgMessage::Update { relation, old, new: tuple(&mut r)? }
        }
        b'D' => {
            let relation = r.u32("relation oid")?;
            let at = r.pos;
            let old = match r.u8("tuple marker")? {
                b'K' => OldTuple::Key(tuple(&mut r)?),
                b'O' => OldTuple::Full(tuple(&mut r)?),
                other => return Err(r.invalid_at("tuple marker", at, bad_marker(other, "'K' or 'O'"))),
            };
            PgMessage::Delete { relation, old }
        }
        b'T' => truncate(&mut r)?,
        b'M' => {
            let at = r.pos;
            let transactional = match r.u8("flags")? {
                0 => false,
                1 => true,
                other => return Err(r.invalid_at("flags", at, format!("expected 0 or 1, found {other}"))),
            };
            let lsn = r.u64("message LSN")?;
            let prefix = r.string("prefix")?;
            let len = r.length("content length")?;
            PgMessage::Message { transactional, lsn, prefix, content: r.bytes(len, "content")? }
        }
        b'S' => {
            let xid = r.u32("xid")?;
            let at = r.pos;
            let first_segment = match r.u8("first segment flag")? {
                0 => false,
                1 => true,
                other => return Err(r.invalid_at("first segment flag", at, format!("expected 0 or 1, found {other}"))),
            };
            PgMessage::StreamStart { xid, first_segment }
        }
        b'E' => PgMessage::StreamStop,
        b'c' => PgMessage::StreamCommit {
            xid: r.u32("xid")?,
            flags: r.u8("flags")?,
            commit_lsn: r.u64("commit LSN")?,
            end_lsn: r.u64("end LSN")?,
            commit_time_micros: r.i64("commit timestamp")?,
        },
        b'A' => {
            let xid = r.u32("xid")?;
            let subxid = r.u32("subtransaction xid")?;
            // Abort LSN and time: only with `streaming 'parallel'`.
            let (abort_lsn, abort_time_micros) = if r.remaining() > 0 {
                (Some(r.u64("abort LSN")?), Some(r.i64("abort timestamp")?))
            } else {
                (None, None)
            };
            PgMessage::StreamAbort { xid, subxid, abort_lsn, abort_time_micros }
        }
        _ => unreachable!("tags are filtered above"),
    };
    r.finish()?;
    Ok((xid, msg))
}

/// Smallest encoding of one relation column: flags, empty name + NUL, type
/// oid, type modifier. Bounds the capacity reserved for a column count.
const MIN_RELATION_COLUMN_LEN: usize = 1 + 1 + 4 + 4;

fn relation(r: &mut Reader<'_>) -> Result<Relation, DecodeError> {
    let oid = r.u32("relation oid")?;
    let namespace = r.string("namespace")?;
    let name = r.string("relation name")?;
    let replica_identity = r.u8("replica identity")?;
    let count = usize::from(r.u16("column count")?);
    let mut columns = Vec::with_capacity(count.min(r.remaining() / MIN_RELATION_COLUMN_LEN));
    for i in 0..count {
        r.column = Some(i);
        let at = r.pos;
        let is_key = match r.u8("column flags")? {
            0 => false,
            1 => true,
            other => return Err(r.invalid_at("column flags", at, format!("expected 0 or 1, found {other}"))),
        };
        columns.push(RelationColumn {
            is_key,
            name: r.string("column name")?,
            type_oid: r.u32("column type oid")?,
            type_modifier: r.i32("column type modifier")?,
        });
    }
    r.column = None;
    Ok(Relation { oid, namespace, name, replica_identity, columns })
}

fn truncate(r: &mut Reader<'_>) -> Result<PgMessage, DecodeError> {
    let count_at = r.pos;
    let count = r.u32("relation count")?;
    let options_at = r.pos;
    let options = r.u8("options")?;
    if options & !0b11 != 0 {
        return Err(r.invalid_at("options", options_at, format!("unknown option bits in {options:#04x}")));
    }
    // Check the count against the bytes left before allocating for it.
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if count.saturating_mul(4) != r.remaining() {
        return Err(r.invalid_at(
            "relation count",
            count_at,
            format!("{count} relation oids need {} bytes, {} left", count.saturating_mul(4), r.remaining()),
        ));
    }
    let mut relations = Vec::with_capacity(count);
    for _ in 0..count {
        relations.push(r.u32("relation oid")?);
    }
    Ok(PgMessage::Truncate { cascade: options & 1 != 0, restart_identity: options & 2 != 0, relations })
}
