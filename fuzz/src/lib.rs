//! Input formats of the fuzz targets whose input is more than one blob of
//! bytes, shared by the targets (which read them) and the seed generator
//! (`examples/seeds.rs`, which writes the captured fixtures in them).
//!
//! Every reader takes any byte string: a short or odd input reads as
//! `None` (the target then does nothing), never as a panic here, so a
//! crash the fuzzer reports is always in the decoder under test.

use logferry::sources::mysql::decode::ColumnInfo;
use logferry::sources::postgres::types::{builtin_oid, PgType};
use mysql_async::binlog::events::{
    BinlogEventHeader, Event, EventData, FormatDescriptionEvent, RowsEventData, TableMapEvent,
};
use mysql_async::binlog::{BinlogVersion, EventFlags, EventType};

/// A little reader over the fuzz input.
pub struct Input<'a>(pub &'a [u8]);

impl<'a> Input<'a> {
    /// The next byte.
    pub fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    /// A byte string of at most 255 bytes: one length byte, then the bytes.
    pub fn str8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// A byte string of at most 65535 bytes: a u16 BE length, then the bytes.
    pub fn str16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    /// Big-endian u16.
    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    /// Big-endian u32.
    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

fn put_str8(out: &mut Vec<u8>, s: &[u8]) {
    let n = u8::try_from(s.len()).expect("a short seed string");
    out.push(n);
    out.extend_from_slice(s);
}

fn put_str16(out: &mut Vec<u8>, s: &[u8]) {
    let n = u16::try_from(s.len()).expect("a seed string under 64 KiB");
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(s);
}

// ---------------------------------------------------------------------------
// pg_text: a PostgreSQL type, then a value's text.
// ---------------------------------------------------------------------------

/// How a `pg_text` input names its type: shape byte, type oid (u32 BE),
/// array delimiter byte, then the value text (UTF-8, as pgoutput's text
/// values are checked to be before conversion).
pub mod pg_text {
    use super::*;

    /// The builtin oid as the catalog would resolve it (`Builtin`, `Other`
    /// or `Array`), or `Builtin(oid)` for an oid not known here.
    fn resolved(oid: u32) -> PgType {
        builtin_oid(oid).unwrap_or(PgType::Builtin(oid))
    }

    /// Reads a (type, text) case.
    pub fn read(data: &[u8]) -> Option<(PgType, &str)> {
        let mut r = Input(data);
        let shape = r.u8()?;
        let oid = r.u32()?;
        let delimiter = r.u8()?;
        let text = std::str::from_utf8(r.rest()).ok()?;
        let ty = match shape % 6 {
            0 => PgType::Builtin(oid),
            1 => resolved(oid),
            2 => PgType::Enum {
                name: "public.mood".into(),
            },
            3 => PgType::Domain {
                name: "public.dom".into(),
                base: Box::new(resolved(oid)),
            },
            4 => PgType::Array {
                name: "_elem".into(),
                element: Box::new(resolved(oid)),
                delimiter,
            },
            _ => PgType::Other {
                name: "point".into(),
            },
        };
        Some((ty, text))
    }

    /// Writes a case of shape 1 (the oid resolved like the catalog does).
    pub fn write(oid: u32, text: &str) -> Vec<u8> {
        let mut out = vec![1];
        out.extend_from_slice(&oid.to_be_bytes());
        out.push(b',');
        out.extend_from_slice(text.as_bytes());
        out
    }
}

// ---------------------------------------------------------------------------
// binlog_rows: columns (information_schema + table map), then row bytes.
// ---------------------------------------------------------------------------

/// A `binlog_rows` case: which event, the table's columns, and the bytes
/// of its row images.
///
/// Layout: kind byte, flags byte (bit 0: explicit column-presence bitmaps
/// follow the columns; otherwise every image has every column), column
/// count byte (1 + n % 32 columns), then per column: `DATA_TYPE` (a
/// length byte and bytes), `COLUMN_TYPE` (a u16 BE length and bytes: ENUM
/// and SET lists can be long), charset (length byte, 0xff for none), `is_json` byte, the table map's type byte and the
/// column's table-map metadata (length byte and bytes); then the bitmaps
/// (⌈n/8⌉ bytes per image) if flagged; then the rows data. Kind 7 is not
/// an event: the rest is text-protocol values for [`text_value`], each a
/// u16 BE length (0xffff for NULL) and the bytes, one per column.
///
/// [`text_value`]: logferry::sources::mysql::decode::text_value
pub mod binlog_rows {
    use super::*;

    /// The number of event kinds; kind [`TEXT`] is the text protocol.
    pub const KINDS: u8 = 8;
    /// The kind that feeds `text_value` instead of a rows event.
    pub const TEXT: u8 = 7;

    /// One column of the case.
    #[derive(Debug, Clone)]
    pub struct CaseColumn {
        /// What information_schema says.
        pub info: ColumnInfo,
        /// The table map's column type byte.
        pub type_byte: u8,
        /// The table map's metadata of the column.
        pub metadata: Vec<u8>,
    }

    /// A decoded case.
    #[derive(Debug, Clone)]
    pub struct Case<'a> {
        /// 0..=6: the rows event kind (see [`event_type`]); 7: text values.
        pub kind: u8,
        /// The columns, in table order.
        pub columns: Vec<CaseColumn>,
        /// Column-presence bitmaps when given (before image, then after).
        pub bitmaps: Option<&'a [u8]>,
        /// The rows data (or the text values).
        pub rest: &'a [u8],
    }

    /// The rows event type of a kind below [`TEXT`].
    pub fn event_type(kind: u8) -> EventType {
        match kind {
            0 => EventType::WRITE_ROWS_EVENT_V1,
            1 => EventType::UPDATE_ROWS_EVENT_V1,
            2 => EventType::DELETE_ROWS_EVENT_V1,
            3 => EventType::WRITE_ROWS_EVENT,
            4 => EventType::UPDATE_ROWS_EVENT,
            5 => EventType::DELETE_ROWS_EVENT,
            _ => EventType::PARTIAL_UPDATE_ROWS_EVENT,
        }
    }

    /// How many images (bitmaps) a rows event of `kind` has.
    fn images(kind: u8) -> usize {
        match kind {
            1 | 4 | 6 => 2,
            _ => 1,
        }
    }

    fn utf8(b: &[u8]) -> Option<String> {
        std::str::from_utf8(b).ok().map(str::to_owned)
    }

    /// Reads a case.
    pub fn read(data: &[u8]) -> Option<Case<'_>> {
        let mut r = Input(data);
        let kind = r.u8()? % KINDS;
        let flags = r.u8()?;
        let n = 1 + usize::from(r.u8()? % 32);
        let mut columns = Vec::with_capacity(n);
        for i in 0..n {
            let data_type = utf8(r.str8()?)?;
            let column_type = utf8(r.str16()?)?;
            let charset = match r.u8()? {
                0xff => None,
                len => Some(utf8(r.take(usize::from(len))?)?),
            };
            let is_json = r.u8()? & 1 == 1;
            let type_byte = r.u8()?;
            let metadata = r.str8()?.to_vec();
            let info = ColumnInfo {
                name: format!("c{i}"),
                data_type,
                column_type,
                charset,
                is_json,
            };
            columns.push(CaseColumn {
                info,
                type_byte,
                metadata,
            });
        }
        let bitmaps = if flags & 1 == 1 && kind != TEXT {
            Some(r.take(n.div_ceil(8) * images(kind))?)
        } else {
            None
        };
        Some(Case {
            kind,
            columns,
            bitmaps,
            rest: r.rest(),
        })
    }

    /// Writes a case (the seed generator's side of [`read`]).
    pub fn write(kind: u8, columns: &[CaseColumn], bitmaps: Option<&[u8]>, rest: &[u8]) -> Vec<u8> {
        let mut out = vec![
            kind,
            u8::from(bitmaps.is_some()),
            u8::try_from(columns.len() - 1).expect("< 256"),
        ];
        for c in columns {
            put_str8(&mut out, c.info.data_type.as_bytes());
            put_str16(&mut out, c.info.column_type.as_bytes());
            match &c.info.charset {
                Some(cs) => put_str8(&mut out, cs.as_bytes()),
                None => out.push(0xff),
            }
            out.push(u8::from(c.info.is_json));
            out.push(c.type_byte);
            put_str8(&mut out, &c.metadata);
        }
        if let Some(b) = bitmaps {
            out.extend_from_slice(b);
        }
        out.extend_from_slice(rest);
        out
    }

    /// The text values of a kind-[`TEXT`] case, one per column (`None` is
    /// NULL); `None` when the input runs out.
    pub fn text_values<'a>(case: &Case<'a>) -> Option<Vec<Option<&'a [u8]>>> {
        let mut r = Input(case.rest);
        case.columns
            .iter()
            .map(|_| match r.u16()? {
                0xffff => Some(None),
                len => r.take(usize::from(len)).map(Some),
            })
            .collect()
    }

    fn event_bytes(event_type: EventType, body: &[u8]) -> Vec<u8> {
        let size =
            u32::try_from(BinlogEventHeader::LEN + body.len()).expect("fuzz inputs are small");
        let header = BinlogEventHeader::new(0, event_type, 1, size, 0, EventFlags::empty());
        let mut out = Vec::with_capacity(size as usize);
        // The header's wire form: timestamp, type, server id, size, log
        // position, flags (little-endian).
        out.extend_from_slice(&header.timestamp().to_le_bytes());
        out.push(header.event_type_raw());
        out.extend_from_slice(&header.server_id().to_le_bytes());
        out.extend_from_slice(&header.event_size().to_le_bytes());
        out.extend_from_slice(&header.log_pos().to_le_bytes());
        out.extend_from_slice(&header.flags_raw().to_le_bytes());
        out.extend_from_slice(body);
        out
    }

    /// A length-encoded integer (MySQL protocol).
    fn lenenc(out: &mut Vec<u8>, n: u64) {
        match n {
            0..=250 => out.push(n as u8),
            251..=0xffff => {
                out.push(0xfc);
                out.extend_from_slice(&(n as u16).to_le_bytes());
            }
            0x1_0000..=0xff_ffff => {
                out.push(0xfd);
                out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
            }
            _ => {
                out.push(0xfe);
                out.extend_from_slice(&n.to_le_bytes());
            }
        }
    }

    /// Parses one event of `event_type` with `body` through mysql_common,
    /// with a MySQL 5.6+ format description (v2 rows events have their
    /// extra-data post header, v1 do not), no checksum.
    fn parse(event_type: EventType, body: &[u8]) -> Option<Event> {
        let fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
        Event::read(&fde, &event_bytes(event_type, body)[..]).ok()
    }

    /// The table map event of the case's columns (table `db.t`, id 1).
    pub fn table_map(case: &Case<'_>) -> Option<TableMapEvent<'static>> {
        let n = case.columns.len();
        let mut body = Vec::new();
        body.extend_from_slice(&1u64.to_le_bytes()[..6]); // table id
        body.extend_from_slice(&[0, 0]); // flags
        body.extend_from_slice(b"\x02db\x00\x01t\x00");
        lenenc(&mut body, n as u64);
        body.extend(case.columns.iter().map(|c| c.type_byte));
        let metadata: Vec<u8> = case
            .columns
            .iter()
            .flat_map(|c| c.metadata.iter().copied())
            .collect();
        lenenc(&mut body, metadata.len() as u64);
        body.extend_from_slice(&metadata);
        body.extend(std::iter::repeat_n(0xff, n.div_ceil(8))); // every column nullable
        let event = parse(EventType::TABLE_MAP_EVENT, &body)?;
        match event.read_data().ok()?? {
            EventData::TableMapEvent(t) => Some(t.into_owned()),
            _ => None,
        }
    }

    /// The rows event of the case (kind below [`TEXT`]).
    pub fn rows_event(case: &Case<'_>) -> Option<RowsEventData<'static>> {
        let n = case.columns.len();
        let event_type = event_type(case.kind);
        let mut body = Vec::new();
        body.extend_from_slice(&1u64.to_le_bytes()[..6]); // table id
        body.extend_from_slice(&[0, 0]); // flags
        if case.kind >= 3 {
            body.extend_from_slice(&2u16.to_le_bytes()); // no extra data
        }
        lenenc(&mut body, n as u64);
        match case.bitmaps {
            Some(b) => body.extend_from_slice(b),
            None => {
                for _ in 0..images(case.kind) {
                    body.extend(std::iter::repeat_n(0xff, n.div_ceil(8)));
                }
            }
        }
        body.extend_from_slice(case.rest);
        let event = parse(event_type, &body)?;
        match event.read_data().ok()?? {
            EventData::RowsEvent(r) => Some(r.into_owned()),
            _ => None,
        }
    }
}
