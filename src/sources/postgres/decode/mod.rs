//! pgoutput message decoding (logical replication protocol version 1).
//!
//! The replication transport hands the source one pgoutput message per
//! XLogData payload; [`parse`] turns those bytes into a [`PgMessage`]. The
//! layout is PostgreSQL's "Logical Replication Message Formats", protocol
//! version 1 (no streamed transactions, so no xid fields inside messages):
//! big-endian integers, NUL-terminated strings, and tuples as a column
//! count followed by one tagged value per column.
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
//! Fixtures: `testdata/*.hex` are real messages captured from PostgreSQL 15
//! by `testdata/capture.sh` (see `testdata/README.md`).

use bytes::Bytes;

/// One pgoutput message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgMessage {
    /// Start of a transaction ('B').
    Begin {
        /// LSN of the transaction's commit record.
        final_lsn: u64,
        /// Commit time, microseconds since 2000-01-01 00:00:00 UTC.
        commit_time_micros: i64,
        /// Transaction id.
        xid: u32,
    },
    /// End of a transaction ('C').
    Commit {
        /// Unused by the server (0).
        flags: u8,
        /// LSN of the commit record.
        commit_lsn: u64,
        /// LSN just past the commit record: the resume point.
        end_lsn: u64,
        /// Commit time, microseconds since 2000-01-01 00:00:00 UTC.
        commit_time_micros: i64,
    },
    /// The transaction came from another node ('O').
    Origin {
        /// Commit LSN on the origin server.
        lsn: u64,
        /// Replication origin name.
        name: String,
    },
    /// Table description, sent before the first change of a table in a
    /// session and again after its schema changes ('R').
    Relation(Relation),
    /// A non-builtin type used by a following Relation ('Y').
    ///
    /// For a domain the server sends the domain's oid with the namespace
    /// and name of its *base* type (e.g. `posint` over `int4` arrives as
    /// namespace `""`, name `"int4"`).
    Type {
        /// Type oid (as used in [`RelationColumn::type_oid`]).
        oid: u32,
        /// Namespace, empty for `pg_catalog`.
        namespace: String,
        /// Type name.
        name: String,
    },
    /// A row inserted ('I').
    Insert {
        /// Relation oid.
        relation: u32,
        /// The new row.
        new: Tuple,
    },
    /// A row updated ('U').
    Update {
        /// Relation oid.
        relation: u32,
        /// The old key (when the key changed) or the full old row (REPLICA
        /// IDENTITY FULL); `None` when neither is sent.
        old: Option<OldTuple>,
        /// The new row; TOASTed columns that did not change are
        /// [`TupleValue::UnchangedToast`].
        new: Tuple,
    },
    /// A row deleted ('D').
    Delete {
        /// Relation oid.
        relation: u32,
        /// The old key or the full old row.
        old: OldTuple,
    },
    /// Tables truncated ('T').
    Truncate {
        /// `TRUNCATE ... CASCADE`.
        cascade: bool,
        /// `TRUNCATE ... RESTART IDENTITY`.
        restart_identity: bool,
        /// Oids of all truncated relations (those pulled in by CASCADE too).
        relations: Vec<u32>,
    },
    /// A logical decoding message, `pg_logical_emit_message` ('M').
    Message {
        /// Part of a transaction (between Begin and Commit) or not.
        transactional: bool,
        /// LSN of the message.
        lsn: u64,
        /// The message's prefix.
        prefix: String,
        /// The message's payload.
        content: Bytes,
    },
}

impl PgMessage {
    /// The message type's name, e.g. `"Insert"`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            PgMessage::Begin { .. } => "Begin",
            PgMessage::Commit { .. } => "Commit",
            PgMessage::Origin { .. } => "Origin",
            PgMessage::Relation(_) => "Relation",
            PgMessage::Type { .. } => "Type",
            PgMessage::Insert { .. } => "Insert",
            PgMessage::Update { .. } => "Update",
            PgMessage::Delete { .. } => "Delete",
            PgMessage::Truncate { .. } => "Truncate",
            PgMessage::Message { .. } => "Message",
        }
    }
}

/// A table's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Relation oid; the changes refer to it.
    pub oid: u32,
    /// Schema, empty for `pg_catalog`.
    pub namespace: String,
    /// Table name.
    pub name: String,
    /// `relreplident`: b'd' default (primary key), b'n' nothing, b'f' full,
    /// b'i' index.
    pub replica_identity: u8,
    /// Published columns in table order (generated columns are not sent).
    pub columns: Vec<RelationColumn>,
}

/// One column of a [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Part of the replica identity key.
    pub is_key: bool,
    /// Column name.
    pub name: String,
    /// Type oid (`pg_type.oid`; a domain's own oid, not its base type's).
    pub type_oid: u32,
    /// `atttypmod`, e.g. -1, or 24 for `varchar(20)`.
    pub type_modifier: i32,
}

/// The old row image of an UPDATE or DELETE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldTuple {
    /// 'K': the replica identity key columns; the other columns are
    /// [`TupleValue::Null`].
    Key(Tuple),
    /// 'O': the whole old row (REPLICA IDENTITY FULL).
    Full(Tuple),
}

impl OldTuple {
    /// The tuple, whichever kind it is.
    pub fn tuple(&self) -> &Tuple {
        match self {
            OldTuple::Key(t) | OldTuple::Full(t) => t,
        }
    }
}

/// A row: one value per column of the relation, in relation order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tuple(pub Vec<TupleValue>);

/// One column value of a [`Tuple`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TupleValue {
    /// 'n': SQL NULL.
    Null,
    /// 'u': a TOASTed value that did not change and was not sent; the
    /// stored value must be kept.
    UnchangedToast,
    /// 't': the value in the type's text output form.
    Text(Bytes),
    /// 'b': the value in the type's binary (send) form.
    Binary(Bytes),
}

/// Where in a message decoding failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Message type name, e.g. `"Relation"`.
    pub message: &'static str,
    /// Field name, e.g. `"column count"`.
    pub field: &'static str,
    /// 0-based tuple or relation column, for per-column fields.
    pub column: Option<usize>,
    /// Byte offset of the field in the message (the type byte is offset 0).
    pub offset: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} message, {}", self.message, self.field)?;
        if let Some(c) = self.column {
            write!(f, " of column {c}")?;
        }
        write!(f, " at offset {}", self.offset)
    }
}

/// Why a pgoutput message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload had no bytes at all.
    #[error("empty pgoutput message")]
    Empty,
    /// The first byte is not a protocol version 1 message type.
    #[error("unknown pgoutput message type {} (0x{tag:02x})", show_byte(*tag))]
    UnknownType {
        /// The type byte.
        tag: u8,
    },
    /// The message ended inside a field.
    #[error("truncated pgoutput {at}: needs {needed} bytes, {remaining} left")]
    Truncated {
        /// The field that did not fit.
        at: Location,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the message.
        remaining: usize,
    },
    /// A field has a value the protocol does not allow.
    #[error("invalid pgoutput {at}: {problem}")]
    Invalid {
        /// The bad field.
        at: Location,
        /// What is wrong with it.
        problem: String,
    },
    /// Bytes follow the end of the message's layout.
    #[error("pgoutput {message} message has {extra} unexpected bytes after its end at offset {offset}")]
    TrailingBytes {
        /// Message type name.
        message: &'static str,
        /// Where the layout ended.
        offset: usize,
        /// How many bytes follow.
        extra: usize,
    },
}

/// `'I'` for printable ASCII, else the bare hex follows anyway.
fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        "(not printable)".to_string()
    }
}

/// Parses one pgoutput (protocol version 1) message.
///
/// Tuple values and message contents are slices of `data` (no copy).
pub fn parse(data: &Bytes) -> Result<PgMessage, DecodeError> {
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
        _ => return Err(DecodeError::UnknownType { tag }),
    };
    let mut r = Reader { data, pos: 1, message, column: None };
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
        _ => unreachable!("tags are filtered above"),
    };
    r.finish()?;
    Ok(msg)
}

fn bad_marker(found: u8, expected: &str) -> String {
    format!("expected {expected}, found {} (0x{found:02x})", show_byte(found))
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

fn tuple(r: &mut Reader<'_>) -> Result<Tuple, DecodeError> {
    // Every column takes at least its one kind byte.
    let count = usize::from(r.u16("tuple column count")?);
    let mut values = Vec::with_capacity(count.min(r.remaining()));
    for i in 0..count {
        r.column = Some(i);
        let at = r.pos;
        let value = match r.u8("tuple value kind")? {
            b'n' => TupleValue::Null,
            b'u' => TupleValue::UnchangedToast,
            b't' => {
                let len = r.length("text value length")?;
                TupleValue::Text(r.bytes(len, "text value")?)
            }
            b'b' => {
                let len = r.length("binary value length")?;
                TupleValue::Binary(r.bytes(len, "binary value")?)
            }
            other => return Err(r.invalid_at("tuple value kind", at, bad_marker(other, "'n', 'u', 't' or 'b'"))),
        };
        values.push(value);
    }
    r.column = None;
    Ok(Tuple(values))
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

/// A bounds-checked cursor over one message.
struct Reader<'a> {
    data: &'a Bytes,
    pos: usize,
    message: &'static str,
    /// The tuple or relation column being read, for error locations.
    column: Option<usize>,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn location(&self, field: &'static str, offset: usize) -> Location {
        Location { message: self.message, field, column: self.column, offset }
    }

    fn invalid_at(&self, field: &'static str, offset: usize, problem: impl Into<String>) -> DecodeError {
        DecodeError::Invalid { at: self.location(field, offset), problem: problem.into() }
    }

    /// Advances over `n` bytes and returns where they start.
    fn take(&mut self, n: usize, field: &'static str) -> Result<usize, DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated {
                at: self.location(field, self.pos),
                needed: n,
                remaining: self.remaining(),
            });
        }
        let start = self.pos;
        self.pos += n;
        Ok(start)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let start = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.data[start..start + N]);
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }

    /// An Int32 byte length, which must not be negative.
    fn length(&mut self, field: &'static str) -> Result<usize, DecodeError> {
        let at = self.pos;
        let len = self.i32(field)?;
        usize::try_from(len).map_err(|_| self.invalid_at(field, at, format!("negative length {len}")))
    }

    /// `n` bytes as a slice of the input (no copy).
    fn bytes(&mut self, n: usize, field: &'static str) -> Result<Bytes, DecodeError> {
        let start = self.take(n, field)?;
        Ok(self.data.slice(start..start + n))
    }

    /// A NUL-terminated UTF-8 string.
    fn string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let start = self.pos;
        let rest = &self.data[start..];
        let Some(len) = rest.iter().position(|&b| b == 0) else {
            return Err(self.invalid_at(field, start, "string without a NUL terminator"));
        };
        let s = std::str::from_utf8(&rest[..len])
            .map_err(|e| self.invalid_at(field, start, format!("string is not UTF-8: {e}")))?
            .to_owned();
        self.pos += len + 1;
        Ok(s)
    }

    /// The 'N' that introduces a new tuple.
    fn expect_new_marker(&mut self) -> Result<(), DecodeError> {
        let at = self.pos;
        match self.u8("tuple marker")? {
            b'N' => Ok(()),
            other => Err(self.invalid_at("tuple marker", at, bad_marker(other, "'N'"))),
        }
    }

    fn finish(&self) -> Result<(), DecodeError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes { message: self.message, offset: self.pos, extra: self.remaining() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DEFAULT: &str = include_str!("../testdata/default.hex");
    const FULL: &str = include_str!("../testdata/full.hex");
    const INDEX: &str = include_str!("../testdata/index.hex");
    const TOAST: &str = include_str!("../testdata/toast.hex");
    const TRUNCATE: &str = include_str!("../testdata/truncate.hex");
    const MESSAGE: &str = include_str!("../testdata/message.hex");
    const TYPES: &str = include_str!("../testdata/types.hex");
    const ORIGIN: &str = include_str!("../testdata/origin.hex");
    const BINARY: &str = include_str!("../testdata/binary.hex");
    const ALL: [&str; 9] = [DEFAULT, FULL, INDEX, TOAST, TRUNCATE, MESSAGE, TYPES, ORIGIN, BINARY];

    fn unhex(line: &str) -> Bytes {
        let digit = |c: u8| match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("bad hex digit {c:?} in fixture"),
        };
        assert!(line.len() % 2 == 0, "odd hex line in fixture");
        Bytes::from(line.as_bytes().chunks(2).map(|p| digit(p[0]) << 4 | digit(p[1])).collect::<Vec<u8>>())
    }

    fn raw(fixture: &str) -> Vec<Bytes> {
        fixture.lines().filter(|l| !l.trim().is_empty()).map(|l| unhex(l.trim())).collect()
    }

    fn messages(fixture: &str) -> Vec<PgMessage> {
        raw(fixture).iter().map(|b| parse(b).unwrap_or_else(|e| panic!("fixture does not parse: {e}"))).collect()
    }

    fn text(v: &TupleValue) -> &str {
        match v {
            TupleValue::Text(b) => std::str::from_utf8(b).expect("utf-8 text value"),
            other => panic!("expected a text value, found {other:?}"),
        }
    }

    fn texts(t: &Tuple) -> Vec<Option<&str>> {
        t.0.iter()
            .map(|v| match v {
                TupleValue::Null => None,
                v => Some(text(v)),
            })
            .collect()
    }

    fn kinds(ms: &[PgMessage]) -> Vec<&'static str> {
        ms.iter().map(PgMessage::kind_name).collect()
    }

    fn the_relation(m: &PgMessage) -> &Relation {
        match m {
            PgMessage::Relation(r) => r,
            other => panic!("expected Relation, found {other:?}"),
        }
    }

    #[test]
    fn every_fixture_line_parses() {
        for fixture in ALL {
            let ms = messages(fixture);
            assert!(!ms.is_empty());
        }
    }

    #[test]
    fn default_identity_insert_update_delete() {
        let ms = messages(DEFAULT);
        assert_eq!(
            kinds(&ms),
            [
                "Begin", "Relation", "Insert", "Insert", "Commit", "Begin", "Update", "Commit", "Begin", "Update",
                "Commit", "Begin", "Delete", "Commit"
            ]
        );
        let PgMessage::Begin { final_lsn, commit_time_micros, xid } = ms[0] else { unreachable!() };
        let PgMessage::Commit { flags, commit_lsn, end_lsn, commit_time_micros: commit_time } = ms[4] else {
            unreachable!()
        };
        assert_eq!(flags, 0);
        assert_eq!(final_lsn, commit_lsn);
        assert!(end_lsn > commit_lsn);
        assert_eq!(commit_time_micros, commit_time);
        // Captured in 2025 or later: after 2024-01-01 (757382400 s after 2000-01-01).
        assert!(commit_time_micros > 757_382_400_000_000);
        assert!(xid > 0);

        let rel = the_relation(&ms[1]);
        assert_eq!((rel.namespace.as_str(), rel.name.as_str(), rel.replica_identity), ("shop", "items", b'd'));
        let cols: Vec<_> =
            rel.columns.iter().map(|c| (c.is_key, c.name.as_str(), c.type_oid, c.type_modifier)).collect();
        assert_eq!(
            cols,
            [
                (true, "id", 23, -1),
                (false, "name", 1043, 20 + 4),
                (false, "price", 1700, ((12 << 16) | 2) + 4),
                (false, "note", 25, -1)
            ]
        );

        let PgMessage::Insert { relation, new } = &ms[2] else { unreachable!() };
        assert_eq!(*relation, rel.oid);
        assert_eq!(texts(new), [Some("1"), Some("apple"), Some("1.50"), None]);
        let PgMessage::Insert { new, .. } = &ms[3] else { unreachable!() };
        assert_eq!(texts(new), [Some("2"), Some("pear 'x' \"y\""), Some("-0.01"), Some("ünïcödé")]);

        // An update that keeps the key sends no old tuple.
        let PgMessage::Update { relation, old, new } = &ms[6] else { unreachable!() };
        assert_eq!(*relation, rel.oid);
        assert_eq!(*old, None);
        assert_eq!(texts(new), [Some("1"), Some("apple"), Some("2.25"), None]);

        // A key change sends the old key, other columns as nulls.
        let PgMessage::Update { old: Some(OldTuple::Key(old)), new, .. } = &ms[9] else {
            panic!("expected an old key: {:?}", ms[9])
        };
        assert_eq!(texts(old), [Some("2"), None, None, None]);
        assert_eq!(texts(new), [Some("10"), Some("pear 'x' \"y\""), Some("-0.01"), Some("ünïcödé")]);

        let PgMessage::Delete { relation, old: OldTuple::Key(old) } = &ms[12] else { panic!("{:?}", ms[12]) };
        assert_eq!(*relation, rel.oid);
        assert_eq!(texts(old), [Some("10"), None, None, None]);
    }

    #[test]
    fn full_identity_sends_whole_old_rows() {
        let ms = messages(FULL);
        let rel = the_relation(&ms[1]);
        assert_eq!((rel.namespace.as_str(), rel.name.as_str(), rel.replica_identity), ("public", "full_rows", b'f'));
        // With FULL every column is part of the identity.
        let cols: Vec<_> = rel.columns.iter().map(|c| (c.is_key, c.name.as_str(), c.type_oid)).collect();
        assert_eq!(cols, [(true, "id", 20), (true, "label", 25)]);

        let PgMessage::Update { old: Some(OldTuple::Full(old)), new, .. } = &ms[5] else { panic!("{:?}", ms[5]) };
        assert_eq!(texts(old), [Some("7"), Some("seven")]);
        assert_eq!(texts(new), [Some("7"), Some("SEVEN")]);
        let PgMessage::Delete { old: OldTuple::Full(old), .. } = &ms[8] else { panic!("{:?}", ms[8]) };
        assert_eq!(texts(old), [Some("7"), Some("SEVEN")]);
    }

    #[test]
    fn index_identity_key_change() {
        let ms = messages(INDEX);
        let rel = the_relation(&ms[1]);
        assert_eq!((rel.name.as_str(), rel.replica_identity), ("by_index", b'i'));
        let keys: Vec<_> = rel.columns.iter().map(|c| (c.name.as_str(), c.is_key)).collect();
        assert_eq!(keys, [("a", true), ("b", true), ("c", false)]);
        let PgMessage::Update { old: Some(OldTuple::Key(old)), new, .. } = &ms[5] else { panic!("{:?}", ms[5]) };
        assert_eq!(texts(old), [Some("1"), Some("one"), None]);
        assert_eq!(texts(new), [Some("1"), Some("uno"), Some("c1")]);
        let PgMessage::Delete { old, .. } = &ms[8] else { panic!("{:?}", ms[8]) };
        assert_eq!(texts(old.tuple()), [Some("1"), Some("uno"), None]);
        assert!(matches!(old, OldTuple::Key(_)));
    }

    #[test]
    fn unchanged_toast_arrives_as_u() {
        let ms = messages(TOAST);
        assert_eq!(kinds(&ms), ["Begin", "Relation", "Update", "Commit"]);
        let rel = the_relation(&ms[1]);
        assert_eq!(rel.name, "docs");
        let PgMessage::Update { relation, old: None, new } = &ms[2] else { panic!("{:?}", ms[2]) };
        assert_eq!(*relation, rel.oid);
        assert_eq!(new.0.len(), 3);
        assert_eq!(text(&new.0[0]), "1");
        assert_eq!(text(&new.0[1]), "2");
        assert_eq!(new.0[2], TupleValue::UnchangedToast);
    }

    #[test]
    fn truncate_flags_and_relations() {
        let ms = messages(TRUNCATE);
        let rels: Vec<&Relation> = ms
            .iter()
            .filter_map(|m| match m {
                PgMessage::Relation(r) => Some(r),
                _ => None,
            })
            .collect();
        let oid = |name: &str| rels.iter().find(|r| r.name == name).map(|r| r.oid).expect("relation sent");
        let truncates: Vec<_> = ms
            .iter()
            .filter_map(|m| match m {
                PgMessage::Truncate { cascade, restart_identity, relations } => {
                    Some((*cascade, *restart_identity, relations.clone()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            truncates,
            [(false, false, vec![oid("full_rows")]), (true, true, vec![oid("parent"), oid("child")])]
        );
    }

    #[test]
    fn logical_messages() {
        let ms = messages(MESSAGE);
        assert_eq!(kinds(&ms), ["Message", "Begin", "Message", "Commit"]);
        let PgMessage::Message { transactional, lsn, prefix, content } = &ms[0] else { unreachable!() };
        assert!(!transactional);
        assert!(*lsn > 0);
        assert_eq!(prefix, "heartbeat");
        assert_eq!(&content[..], [0x00, 0xff]);
        let PgMessage::Message { transactional, prefix, content, lsn } = &ms[2] else { unreachable!() };
        assert!(*transactional);
        assert_eq!(prefix, "p");
        assert_eq!(&content[..], b"hello");
        let PgMessage::Begin { final_lsn, .. } = ms[1] else { unreachable!() };
        assert!(*lsn <= final_lsn);
    }

    #[test]
    fn enum_and_domain_types() {
        let ms = messages(TYPES);
        assert_eq!(kinds(&ms), ["Begin", "Type", "Type", "Relation", "Insert", "Commit"]);
        let PgMessage::Type { oid: mood, namespace, name } = &ms[1] else { unreachable!() };
        assert_eq!((namespace.as_str(), name.as_str()), ("public", "mood"));
        // The domain's own oid, with its base type's namespace and name.
        let PgMessage::Type { oid: posint, namespace, name } = &ms[2] else { unreachable!() };
        assert_eq!((namespace.as_str(), name.as_str()), ("", "int4"));
        let rel = the_relation(&ms[3]);
        let cols: Vec<_> = rel.columns.iter().map(|c| (c.name.as_str(), c.type_oid)).collect();
        assert_eq!(cols, [("id", 23), ("m", *mood), ("p", *posint), ("tags", 1009), ("at", 1184)]);
        let PgMessage::Insert { new, .. } = &ms[4] else { unreachable!() };
        assert_eq!(
            texts(new),
            [Some("1"), Some("happy"), Some("42"), Some(r#"{a,NULL,"b c","\"q\""}"#), Some("2024-02-29 10:00:00.5+00")]
        );
    }

    #[test]
    fn origin_message() {
        let ms = messages(ORIGIN);
        assert_eq!(kinds(&ms), ["Begin", "Origin", "Relation", "Insert", "Commit"]);
        assert_eq!(ms[1], PgMessage::Origin { lsn: 0xABCDEF, name: "upstream".into() });
        // pg_replication_origin_xact_setup's timestamp becomes the commit time.
        let PgMessage::Begin { commit_time_micros, .. } = ms[0] else { unreachable!() };
        assert_eq!(commit_time_micros, 757_382_400_000_000); // 2024-01-01 00:00:00 UTC
    }

    #[test]
    fn binary_values() {
        let ms = messages(BINARY);
        let PgMessage::Insert { new, .. } = &ms[2] else { panic!("{:?}", ms[2]) };
        let b = |i: usize| match &new.0[i] {
            TupleValue::Binary(b) => b.to_vec(),
            other => panic!("expected binary, found {other:?}"),
        };
        assert_eq!(b(0), 3i32.to_be_bytes());
        assert_eq!(b(1), b"bin");
        // numeric 3.00 in binary: ndigits 1, weight 0, sign +, dscale 2, digit 3.
        assert_eq!(b(2), [0, 1, 0, 0, 0, 0, 0, 2, 0, 3]);
        assert_eq!(new.0[3], TupleValue::Null);
    }

    #[test]
    fn values_are_slices_of_the_input() {
        let data = raw(DEFAULT).remove(2);
        let PgMessage::Insert { new, .. } = parse(&data).unwrap() else { unreachable!() };
        let TupleValue::Text(v) = &new.0[1] else { unreachable!() };
        let range = data.as_ptr() as usize..data.as_ptr() as usize + data.len();
        assert!(range.contains(&(v.as_ptr() as usize)));
    }

    #[test]
    fn hand_made_messages() {
        // Update with a full old row whose column is unchanged TOAST, then a
        // new tuple with a binary value.
        let mut m = vec![b'U', 0, 0, 0, 9, b'O', 0, 1, b'u', b'N', 0, 2, b'b', 0, 0, 0, 1, 7, b'n'];
        assert_eq!(
            parse(&Bytes::from(m.clone())).unwrap(),
            PgMessage::Update {
                relation: 9,
                old: Some(OldTuple::Full(Tuple(vec![TupleValue::UnchangedToast]))),
                new: Tuple(vec![TupleValue::Binary(Bytes::from_static(&[7])), TupleValue::Null]),
            }
        );
        m.push(0);
        assert!(matches!(
            parse(&Bytes::from(m)),
            Err(DecodeError::TrailingBytes { message: "Update", offset: 19, extra: 1 })
        ));
        // Truncate of zero relations with both options.
        assert_eq!(
            parse(&Bytes::from_static(&[b'T', 0, 0, 0, 0, 3])).unwrap(),
            PgMessage::Truncate { cascade: true, restart_identity: true, relations: vec![] }
        );
        // Type in pg_catalog: empty namespace.
        assert_eq!(
            parse(&Bytes::from_static(b"Y\0\0\0\x10\0bool\0")).unwrap(),
            PgMessage::Type { oid: 16, namespace: String::new(), name: "bool".into() }
        );
    }

    #[test]
    fn errors_say_what_and_where() {
        let err = |b: &'static [u8]| parse(&Bytes::from_static(b)).unwrap_err();
        assert_eq!(err(b""), DecodeError::Empty);
        assert_eq!(err(b"S").to_string(), "unknown pgoutput message type 'S' (0x53)");
        assert_eq!(err(b"\x01").to_string(), "unknown pgoutput message type (not printable) (0x01)");
        assert_eq!(
            err(b"B\0\0\0\0\0\0\0\x01\0\0").to_string(),
            "truncated pgoutput Begin message, commit timestamp at offset 9: needs 8 bytes, 2 left"
        );
        assert_eq!(
            err(b"I\0\0\0\x01N\0\x02n\x74\0\0\0\x05abc").to_string(),
            "truncated pgoutput Insert message, text value of column 1 at offset 14: needs 5 bytes, 3 left"
        );
        assert_eq!(
            err(b"I\0\0\0\x01N\0\x01x").to_string(),
            "invalid pgoutput Insert message, tuple value kind of column 0 at offset 8: \
             expected 'n', 'u', 't' or 'b', found 'x' (0x78)"
        );
        assert_eq!(
            err(b"I\0\0\0\x01N\0\x01t\xff\xff\xff\xff").to_string(),
            "invalid pgoutput Insert message, text value length of column 0 at offset 9: negative length -1"
        );
        assert_eq!(
            err(b"I\0\0\0\x01K\0\0").to_string(),
            "invalid pgoutput Insert message, tuple marker at offset 5: expected 'N', found 'K' (0x4b)"
        );
        assert_eq!(
            err(b"D\0\0\0\x01N\0\0").to_string(),
            "invalid pgoutput Delete message, tuple marker at offset 5: expected 'K' or 'O', found 'N' (0x4e)"
        );
        assert_eq!(
            err(b"O\0\0\0\0\0\0\0\x01abc").to_string(),
            "invalid pgoutput Origin message, origin name at offset 9: string without a NUL terminator"
        );
        assert_eq!(
            err(b"O\0\0\0\0\0\0\0\x01\xff\0").to_string(),
            "invalid pgoutput Origin message, origin name at offset 9: \
             string is not UTF-8: invalid utf-8 sequence of 1 bytes from index 0"
        );
        assert_eq!(
            err(b"R\0\0\0\x01s\0t\0d\0\x01\x02c\0\0\0\0\x17\xff\xff\xff\xff").to_string(),
            "invalid pgoutput Relation message, column flags of column 0 at offset 12: expected 0 or 1, found 2"
        );
        assert_eq!(
            err(b"T\xff\xff\xff\xff\0\0\0\0\x01").to_string(),
            "invalid pgoutput Truncate message, relation count at offset 1: \
             4294967295 relation oids need 17179869180 bytes, 4 left"
        );
        assert_eq!(
            err(b"T\0\0\0\0\x04").to_string(),
            "invalid pgoutput Truncate message, options at offset 5: unknown option bits in 0x04"
        );
        assert_eq!(
            err(b"M\x02").to_string(),
            "invalid pgoutput Message message, flags at offset 1: expected 0 or 1, found 2"
        );
    }

    #[test]
    fn bogus_counts_do_not_allocate() {
        // 65535 columns announced, none present: fails fast at column 0.
        let e = parse(&Bytes::from_static(b"I\0\0\0\x01N\xff\xff")).unwrap_err();
        assert!(matches!(e, DecodeError::Truncated { at: Location { column: Some(0), .. }, .. }), "{e}");
        let e = parse(&Bytes::from_static(b"R\0\0\0\x01\0t\0d\xff\xff")).unwrap_err();
        assert!(matches!(e, DecodeError::Truncated { at: Location { column: Some(0), .. }, .. }), "{e}");
    }

    #[test]
    fn every_truncation_of_every_fixture_is_an_error() {
        for fixture in ALL {
            for msg in raw(fixture) {
                for cut in 0..msg.len() {
                    assert!(parse(&msg.slice(..cut)).is_err(), "prefix of {cut} bytes parsed: {msg:?}");
                }
            }
        }
    }

    fn all_raw() -> Vec<Bytes> {
        ALL.iter().flat_map(|f| raw(f)).collect()
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = parse(&Bytes::from(data));
        }

        #[test]
        fn random_bytes_after_a_valid_tag_never_panic(
            tag in proptest::sample::select(b"BCORYIUDTM".to_vec()),
            rest in proptest::collection::vec(any::<u8>(), 0..96),
        ) {
            let mut data = vec![tag];
            data.extend(rest);
            let _ = parse(&Bytes::from(data));
        }

        #[test]
        fn mutated_fixtures_never_panic(
            pick in any::<prop::sample::Index>(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let all = all_raw();
            let mut msg = pick.get(&all).to_vec();
            for (at, byte) in edits {
                let i = at.index(msg.len());
                msg[i] = byte;
            }
            let keep = cut.index(msg.len() + 1);
            msg.truncate(keep);
            let _ = parse(&Bytes::from(msg));
        }
    }
}
