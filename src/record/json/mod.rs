//! The canonical JSON form of a [`Change`].
//!
//! This is what `format = "json"` targets write (one record per line in
//! files, stdout, HTTP bodies, Kafka/NATS messages). It is lossless: every
//! record read back with [`read_change`] equals the one written with
//! [`write_change`], except for the few invalid or non-canonical inputs
//! listed under *Limits* below.
//!
//! # Record
//!
//! One JSON object, written compactly (no spaces, no trailing newline; the
//! caller adds the newline of JSON lines). Fields appear in this order, and a
//! field whose value is empty (empty string, `0`, `false`, empty list, unset
//! message) is left out, except `op`, which is always written:
//!
//! ```text
//! {"pipeline":"shop","source":"postgres","seq":42,"op":"update",
//!  "table":{"schema":"public","name":"orders"},"key":["id"],
//!  "before":{...row...},"after":{...row...},
//!  "position":{"token":"<base64>","display":"0/16B3748"},
//!  "tx_id":"771","commit_time":"2024-02-29T11:45:00.123456Z","tx_end":true,
//!  "schema_change":{"schema":{"table":{"schema":"public","name":"orders"},
//!                             "columns":[{"name":"id","source_type":"bigint","nullable":true}],
//!                             "key":["id"]},
//!                   "ddl":"ALTER TABLE ..."},
//!  "message":{"prefix":"app","content":"<base64>","transactional":true}}
//! ```
//!
//! | field | JSON | notes |
//! |---|---|---|
//! | `pipeline`, `source`, `tx_id` | string | |
//! | `seq` | number | unsigned 64-bit, exact |
//! | `op` | string | `insert`, `update`, `delete`, `truncate`, `snapshot_read`, `schema_change`, `heartbeat`, `message`, or `unspecified`; an op number this version does not know is written as that number |
//! | `table` | object | `schema`, `name` (each left out when empty) |
//! | `key` | array of strings | key column names, in key order |
//! | `before`, `after` | row (below) | a present but empty row is `{}` |
//! | `position` | object | `token` (base64), `display` (string) |
//! | `commit_time` | string | same form as a `timestamptz` value (below) |
//! | `tx_end` | `true` | left out when false |
//! | `schema_change` | object | `schema`: {`table`, `columns`: [{`name`, `source_type`, `nullable`}], `key`}, `ddl` |
//! | `message` | object | `prefix`, `content` (base64), `transactional` |
//!
//! Inside these nested objects the same rule holds: empty fields are left
//! out, and a message that is present but empty is written as `{}`.
//!
//! # Row
//!
//! A row (and a nested document) is a JSON object from column name to
//! value, in the column order of the source. Readers that care about order
//! must not go through a hash map (with jq, `to_entries` keeps it). Column
//! names are written as they are; a row with two columns of the same name
//! gives an object with a repeated key, which [`read_change`] keeps (jq keeps
//! the last one).
//!
//! # Value
//!
//! SQL NULL is JSON `null`. Every other value is an object with exactly one
//! key, the kind, so that the type survives (`.after.price.decimal` in jq):
//!
//! | kind | example | notes |
//! |---|---|---|
//! | `bool` | `{"bool":true}` | |
//! | `int64` | `{"int64":-5}` | JSON number, exact (i64::MIN..i64::MAX; beware of consumers that parse numbers as doubles) |
//! | `uint64` | `{"uint64":18446744073709551615}` | JSON number, exact |
//! | `int32` | `{"int32":7}` | BSON int32 |
//! | `float32` | `{"float32":1.5}` | shortest text that reads back to the same `f32`; `"NaN"`, `"Infinity"`, `"-Infinity"` as strings; `-0.0` stays `-0.0` |
//! | `float64` | `{"float64":0.1}` | as `float32`, for `f64` |
//! | `decimal` | `{"decimal":"12.3400"}` | string, digits exactly as the source printed them (also `"NaN"`, `"Infinity"`) |
//! | `decimal128` | `{"decimal128":"1.0E+10"}` | string |
//! | `text` | `{"text":"…"}` | |
//! | `bytes` | `{"bytes":"AP8BAg=="}` | base64, standard alphabet, padded |
//! | `uuid` | `{"uuid":"0e4c1c57-8f4a-4d5e-9a3b-2b1c0d9e8f7a"}` | 8-4-4-4-12 lowercase hex; a value that is not 16 bytes long (invalid) is written as plain lowercase hex without dashes (`""` when empty) |
//! | `json` | `{"json":"{\"a\":1}"}` | the JSON text as a string, byte for byte (not parsed: `.json \| fromjson` in jq) |
//! | `enum` | `{"enum":"red"}` | ENUM label |
//! | `set` | `{"set":["a","b"]}` | SET labels in definition order |
//! | `object_id` | `{"object_id":"65f1c0ffee00112233445566"}` | lowercase hex (24 digits for a 12-byte ObjectId) |
//! | `date` | `{"date":"2024-02-29"}` | see *Dates and times* |
//! | `time` | `{"time":"13:45:00.123456"}`, `{"time":"13:45:00+02:00"}` | see *Dates and times* |
//! | `timestamp` | `{"timestamp":"2024-02-29T13:45:00.123456"}` | without time zone (wall clock) |
//! | `timestamptz` | `{"timestamptz":"2024-02-29T11:45:00.123456Z"}` | an instant, always in UTC (`Z`) |
//! | `interval` | `{"interval":{"months":1,"days":2,"micros":3}}` | all three fields always written |
//! | `array` | `{"array":{"element_type":"int4","elements":[{"int64":1},null]}}` | elements are values; multi-dimensional arrays are arrays of arrays |
//! | `document` | `{"document":{"a":{"int32":1}}}` | same form as a row |
//! | `unchanged` | `{"unchanged":{}}` | PostgreSQL TOAST value that was not sent: keep the stored value |
//! | `other` | `{"other":{"type":"point","text":"(1,2)"}}` | a value kept in its source text form, with its type name |
//! | `binary` | `{"binary":{"subtype":4,"data":"<base64>"}}` | BSON binary |
//! | `regex` | `{"regex":{"pattern":"^a","options":"i"}}` | BSON regular expression |
//! | `bson_timestamp` | `{"bson_timestamp":{"seconds":1,"increment":2}}` | BSON internal timestamp |
//!
//! # Dates and times
//!
//! Dates use the proleptic Gregorian calendar and ISO 8601 astronomical year
//! numbering (year `0000` is 1 BC, `-000001` is 2 BC):
//!
//! - `date`: `YYYY-MM-DD` for years 0000..=9999; other years in the expanded
//!   form, a sign and at least six digits: `+010000-01-01`, `-000001-12-31`.
//!   Special values: `"infinity"`, `"-infinity"` (PostgreSQL) and
//!   `"0000-00-00"` (the MySQL zero date).
//! - `time`: `HH:MM:SS` then `.` and 1 to 6 fraction digits when the
//!   microseconds are not zero, trailing zeros removed (`13:45:00.5`). Hours
//!   have at least two digits and may exceed 23, and the value may be
//!   negative (MySQL TIME: `-838:59:59`, `838:59:59.5`). A `time with time
//!   zone` appends its offset east of UTC as `+HH:MM`, or `+HH:MM:SS` when
//!   the offset has seconds (`13:45:00-05:30`, `00:00:00+00:00`).
//! - `timestamp` / `timestamptz` (and `commit_time`): the date as above, `T`,
//!   `HH:MM:SS`, then `.` and 1 to 9 fraction digits when the nanoseconds are
//!   not zero, trailing zeros removed (`.5`, `.123456`, `.000000001`); a
//!   `timestamptz` ends in `Z`. Special values: `"infinity"`, `"-infinity"`
//!   and `"0000-00-00 00:00:00"` (MySQL zero datetime), without `Z`.
//!
//! All of these strings sort in time order only within the years
//! 0000..=9999; compare the parsed values elsewhere.
//!
//! # Reading
//!
//! [`read_change`] is the inverse of [`write_change`]. It accepts any
//! whitespace between tokens and fields in any order, and treats a missing
//! field as empty; it rejects unknown or repeated fields (outside rows and
//! documents), values of the wrong JSON type, and text that does not parse
//! as its kind. The [`JsonError`] names the field path, e.g.
//! `after.price.decimal: expected a decimal string, found a number`.
//!
//! # Limits
//!
//! These inputs of [`write_change`] are invalid records or have no canonical
//! form; they are written as described and do not read back identically:
//!
//! - a column whose value is missing, or a value with no kind, is written as
//!   `null` and reads back as SQL NULL;
//! - every NaN reads back as the default quiet NaN (sign and payload bits are
//!   not kept);
//! - the numeric fields of a special date or timestamp (`infinity`, zero
//!   date) are not written and read back as 0; a `special` number unknown to
//!   this version is written as a finite value;
//! - a timestamp with `nanos` ≥ 1e9 is normalised (carried into the seconds);
//! - the offset of a `time` without `has_offset` is not written.
//!
//! ```text
//! # inserts into public.orders, with the decimal price as a string
//! jq -c 'select(.op == "insert" and .table.name == "orders") | {id: .after.id.int64, price: .after.price.decimal}'
//! # the values of a row without their kind tags
//! jq -c '.after | map_values(if . == null then null else to_entries[0].value end)'
//! ```

use super::calendar::{civil_from_days, days_from_civil, days_in_month};
use super::{
    value::Kind, Array, Binary, BsonTimestamp, Change, Column, ColumnSchema, Date, Document,
    Interval, Labels, LogicalMessage, Op, Other, Position, Regex, Row, SchemaChange,
    Special, TableRef, TableSchema, Time, Timestamp, Unchanged, Value,
};
use base64::Engine as _;
use bytes::Bytes;
use serde::Serializer as _;
use serde_json::ser::{CompactFormatter, Formatter as _};
use std::borrow::Cow;
use std::str::FromStr;

/// Why [`read_change`] rejected its input. `path` names where, from the
/// record down (`after.price.decimal`, `after.tags.array.elements[2]`), or
/// is `record` for the record as a whole.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The input is not well-formed JSON (or not UTF-8).
    #[error("{path}: malformed JSON at byte {offset}: {msg}")]
    Syntax {
        /// Field path of the innermost field being read.
        path: String,
        /// Byte offset of the error in the input.
        offset: usize,
        /// What was wrong.
        msg: &'static str,
    },
    /// Well-formed JSON that is not a valid record.
    #[error("{path}: {msg}")]
    Invalid {
        /// Field path of the offending value.
        path: String,
        /// What was wrong.
        msg: String,
    },
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const VEC_WRITE: &str = "writing to a Vec<u8> cannot fail";

/// Appends the canonical JSON of `change` (one object, no trailing newline)
/// to `out`.
pub fn write_change(change: &Change, out: &mut Vec<u8>) {
    let mut o = Obj::open(out);
    if !change.pipeline.is_empty() {
        w_str(o.key("pipeline"), &change.pipeline);
    }
    if !change.source.is_empty() {
        w_str(o.key("source"), &change.source);
    }
    if change.seq != 0 {
        w_u64(o.key("seq"), change.seq);
    }
    let out = o.key("op");
    match op_name(change.op) {
        Some(name) => {
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.push(b'"');
        }
        None => w_i64(out, i64::from(change.op)),
    }
    if let Some(t) = &change.table {
        w_table(o.key("table"), t);
    }
    if !change.key_columns.is_empty() {
        w_str_list(o.key("key"), &change.key_columns);
    }
    if let Some(r) = &change.before {
        w_row(o.key("before"), &r.columns);
    }
    if let Some(r) = &change.after {
        w_row(o.key("after"), &r.columns);
    }
    if let Some(p) = &change.position {
        let mut po = Obj::open(o.key("position"));
        if !p.token.is_empty() {
            w_b64(po.key("token"), &p.token);
        }
        if !p.display.is_empty() {
            w_str(po.key("display"), &p.display);
        }
        po.close();
    }
    if !change.tx_id.is_empty() {
        w_str(o.key("tx_id"), &change.tx_id);
    }
    if let Some(t) = &change.commit_time {
        w_timestamp(o.key("commit_time"), t, true);
    }
    if change.tx_end {
        o.key("tx_end").extend_from_slice(b"true");
    }
    if let Some(sc) = &change.schema_change {
        let mut so = Obj::open(o.key("schema_change"));
        if let Some(s) = &sc.schema {
            let mut to = Obj::open(so.key("schema"));
            if let Some(t) = &s.table {
                w_table(to.key("table"), t);
            }
            if !s.columns.is_empty() {
                let out = to.key("columns");
                out.push(b'[');
                for (i, c) in s.columns.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    let mut co = Obj::open(out);
                    if !c.name.is_empty() {
                        w_str(co.key("name"), &c.name);
                    }
                    if !c.source_type.is_empty() {
                        w_str(co.key("source_type"), &c.source_type);
                    }
                    if c.nullable {
                        co.key("nullable").extend_from_slice(b"true");
                    }
                    co.close();
                }
                out.push(b']');
            }
            if !s.key_columns.is_empty() {
                w_str_list(to.key("key"), &s.key_columns);
            }
            to.close();
        }
        if !sc.ddl.is_empty() {
            w_str(so.key("ddl"), &sc.ddl);
        }
        so.close();
    }
    if let Some(m) = &change.message {
        let mut mo = Obj::open(o.key("message"));
        if !m.prefix.is_empty() {
            w_str(mo.key("prefix"), &m.prefix);
        }
        if !m.content.is_empty() {
            w_b64(mo.key("content"), &m.content);
        }
        if m.transactional {
            mo.key("transactional").extend_from_slice(b"true");
        }
        mo.close();
    }
    o.close();
}

/// An object being written: tracks the comma between fields.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }

    /// Writes `"key":` (key needs no escaping) and returns the output for
    /// the value.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

fn op_name(op: i32) -> Option<&'static str> {
    Some(match Op::try_from(op).ok()? {
        Op::Unspecified => "unspecified",
        Op::Insert => "insert",
        Op::Update => "update",
        Op::Delete => "delete",
        Op::Truncate => "truncate",
        Op::SnapshotRead => "snapshot_read",
        Op::SchemaChange => "schema_change",
        Op::Heartbeat => "heartbeat",
        Op::Message => "message",
    })
}

fn op_from_name(name: &str) -> Option<Op> {
    Some(match name {
        "unspecified" => Op::Unspecified,
        "insert" => Op::Insert,
        "update" => Op::Update,
        "delete" => Op::Delete,
        "truncate" => Op::Truncate,
        "snapshot_read" => Op::SnapshotRead,
        "schema_change" => Op::SchemaChange,
        "heartbeat" => Op::Heartbeat,
        "message" => Op::Message,
        _ => return None,
    })
}

/// A JSON string with serde_json's escaping (control characters, `"`, `\`).
fn w_str(out: &mut Vec<u8>, s: &str) {
    (&mut serde_json::Serializer::new(out))
        .serialize_str(s)
        .expect(VEC_WRITE);
}

fn w_str_list(out: &mut Vec<u8>, list: &[String]) {
    out.push(b'[');
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        w_str(out, s);
    }
    out.push(b']');
}

fn w_i64(out: &mut Vec<u8>, v: i64) {
    CompactFormatter.write_i64(out, v).expect(VEC_WRITE);
}

fn w_u64(out: &mut Vec<u8>, v: u64) {
    CompactFormatter.write_u64(out, v).expect(VEC_WRITE);
}

fn w_bool(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

fn w_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        CompactFormatter.write_f64(out, v).expect(VEC_WRITE);
    } else {
        w_nonfinite(out, v.is_nan(), v > 0.0);
    }
}

fn w_f32(out: &mut Vec<u8>, v: f32) {
    if v.is_finite() {
        CompactFormatter.write_f32(out, v).expect(VEC_WRITE);
    } else {
        w_nonfinite(out, v.is_nan(), v > 0.0);
    }
}

fn w_nonfinite(out: &mut Vec<u8>, nan: bool, positive: bool) {
    out.extend_from_slice(match (nan, positive) {
        (true, _) => b"\"NaN\"",
        (false, true) => b"\"Infinity\"",
        (false, false) => b"\"-Infinity\"",
    });
}

/// Base64 (standard, padded) as a JSON string; the alphabet needs no escaping.
fn w_b64(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'"');
    let start = out.len();
    let len = base64::encoded_len(data.len(), true).expect("base64 length fits usize");
    out.resize(start + len, 0);
    B64.encode_slice(data, &mut out[start..])
        .expect("buffer sized by encoded_len");
    out.push(b'"');
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn w_hex_raw(out: &mut Vec<u8>, data: &[u8]) {
    for b in data {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

fn w_hex(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'"');
    w_hex_raw(out, data);
    out.push(b'"');
}

fn w_uuid(out: &mut Vec<u8>, data: &[u8]) {
    if data.len() != 16 {
        return w_hex(out, data);
    }
    out.push(b'"');
    w_hex_raw(out, &data[0..4]);
    out.push(b'-');
    w_hex_raw(out, &data[4..6]);
    out.push(b'-');
    w_hex_raw(out, &data[6..8]);
    out.push(b'-');
    w_hex_raw(out, &data[8..10]);
    out.push(b'-');
    w_hex_raw(out, &data[10..16]);
    out.push(b'"');
}

fn w_table(out: &mut Vec<u8>, t: &TableRef) {
    let mut o = Obj::open(out);
    if !t.schema.is_empty() {
        w_str(o.key("schema"), &t.schema);
    }
    if !t.name.is_empty() {
        w_str(o.key("name"), &t.name);
    }
    o.close();
}

fn w_row(out: &mut Vec<u8>, columns: &[Column]) {
    out.push(b'{');
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        w_str(out, &c.name);
        out.push(b':');
        w_value(out, c.value.as_ref());
    }
    out.push(b'}');
}

fn w_value(out: &mut Vec<u8>, v: Option<&Value>) {
    let kind = match v.and_then(|v| v.kind.as_ref()) {
        None | Some(Kind::Null(_)) => return out.extend_from_slice(b"null"),
        Some(k) => k,
    };
    macro_rules! tag {
        ($t:literal) => {
            out.extend_from_slice(concat!("{\"", $t, "\":").as_bytes())
        };
    }
    match kind {
        Kind::Null(_) => unreachable!("handled above"),
        Kind::Bool(b) => {
            tag!("bool");
            w_bool(out, *b);
        }
        Kind::Int64(n) => {
            tag!("int64");
            w_i64(out, *n);
        }
        Kind::Uint64(n) => {
            tag!("uint64");
            w_u64(out, *n);
        }
        Kind::Int32(n) => {
            tag!("int32");
            w_i64(out, i64::from(*n));
        }
        Kind::Float32(f) => {
            tag!("float32");
            w_f32(out, *f);
        }
        Kind::Float64(f) => {
            tag!("float64");
            w_f64(out, *f);
        }
        Kind::Decimal(s) => {
            tag!("decimal");
            w_str(out, s);
        }
        Kind::Decimal128(s) => {
            tag!("decimal128");
            w_str(out, s);
        }
        Kind::Text(s) => {
            tag!("text");
            w_str(out, s);
        }
        Kind::Json(s) => {
            tag!("json");
            w_str(out, s);
        }
        Kind::EnumLabel(s) => {
            tag!("enum");
            w_str(out, s);
        }
        Kind::Bytes(b) => {
            tag!("bytes");
            w_b64(out, b);
        }
        Kind::Uuid(b) => {
            tag!("uuid");
            w_uuid(out, b);
        }
        Kind::ObjectId(b) => {
            tag!("object_id");
            w_hex(out, b);
        }
        Kind::Set(l) => {
            tag!("set");
            w_str_list(out, &l.labels);
        }
        Kind::Date(d) => {
            tag!("date");
            w_date(out, d);
        }
        Kind::Time(t) => {
            tag!("time");
            w_time(out, t);
        }
        Kind::Timestamp(t) => {
            tag!("timestamp");
            w_timestamp(out, t, false);
        }
        Kind::Timestamptz(t) => {
            tag!("timestamptz");
            w_timestamp(out, t, true);
        }
        Kind::Interval(iv) => {
            tag!("interval");
            out.extend_from_slice(b"{\"months\":");
            w_i64(out, i64::from(iv.months));
            out.extend_from_slice(b",\"days\":");
            w_i64(out, i64::from(iv.days));
            out.extend_from_slice(b",\"micros\":");
            w_i64(out, iv.micros);
            out.push(b'}');
        }
        Kind::Array(a) => {
            tag!("array");
            out.extend_from_slice(b"{\"element_type\":");
            w_str(out, &a.element_type);
            out.extend_from_slice(b",\"elements\":[");
            for (i, e) in a.elements.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                w_value(out, Some(e));
            }
            out.extend_from_slice(b"]}");
        }
        Kind::Document(d) => {
            tag!("document");
            w_row(out, &d.fields);
        }
        Kind::Unchanged(_) => out.extend_from_slice(b"{\"unchanged\":{}"),
        Kind::Other(o) => {
            tag!("other");
            out.extend_from_slice(b"{\"type\":");
            w_str(out, &o.type_name);
            out.extend_from_slice(b",\"text\":");
            w_str(out, &o.text);
            out.push(b'}');
        }
        Kind::Binary(b) => {
            tag!("binary");
            out.extend_from_slice(b"{\"subtype\":");
            w_u64(out, u64::from(b.subtype));
            out.extend_from_slice(b",\"data\":");
            w_b64(out, &b.data);
            out.push(b'}');
        }
        Kind::Regex(r) => {
            tag!("regex");
            out.extend_from_slice(b"{\"pattern\":");
            w_str(out, &r.pattern);
            out.extend_from_slice(b",\"options\":");
            w_str(out, &r.options);
            out.push(b'}');
        }
        Kind::BsonTimestamp(t) => {
            tag!("bson_timestamp");
            out.extend_from_slice(b"{\"seconds\":");
            w_u64(out, u64::from(t.seconds));
            out.extend_from_slice(b",\"increment\":");
            w_u64(out, u64::from(t.increment));
            out.push(b'}');
        }
    }
    out.push(b'}');
}

/// Writes `v` in decimal, left-padded with zeros to `width` digits.
fn w_pad(out: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for _ in (buf.len() - i)..width {
        out.push(b'0');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Writes `.` and the fraction `frac` of `digits` digits, trailing zeros
/// removed; nothing when it is zero.
fn w_frac(out: &mut Vec<u8>, mut frac: u32, digits: usize) {
    if frac == 0 {
        return;
    }
    let mut buf = [b'0'; 9];
    for d in buf[..digits].iter_mut().rev() {
        *d = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    let mut n = digits;
    while buf[n - 1] == b'0' {
        n -= 1;
    }
    out.push(b'.');
    out.extend_from_slice(&buf[..n]);
}

fn w_year(out: &mut Vec<u8>, y: i64) {
    if (0..=9999).contains(&y) {
        w_pad(out, y as u64, 4);
    } else {
        out.push(if y < 0 { b'-' } else { b'+' });
        w_pad(out, y.unsigned_abs(), 6);
    }
}

fn w_civil(out: &mut Vec<u8>, days: i64) {
    let (y, m, d) = civil_from_days(days);
    w_year(out, y);
    out.push(b'-');
    w_pad(out, u64::from(m), 2);
    out.push(b'-');
    w_pad(out, u64::from(d), 2);
}

fn w_hms(out: &mut Vec<u8>, secs: u64) {
    w_pad(out, secs / 3600, 2);
    out.push(b':');
    w_pad(out, secs / 60 % 60, 2);
    out.push(b':');
    w_pad(out, secs % 60, 2);
}

/// The special value of a date or timestamp; unknown numbers count as finite.
fn special(n: i32) -> Special {
    Special::try_from(n).unwrap_or(Special::Finite)
}

fn w_date(out: &mut Vec<u8>, d: &Date) {
    out.push(b'"');
    match special(d.special) {
        Special::Finite => w_civil(out, i64::from(d.days)),
        Special::PosInfinity => out.extend_from_slice(b"infinity"),
        Special::NegInfinity => out.extend_from_slice(b"-infinity"),
        Special::Zero => out.extend_from_slice(ZERO_DATE.as_bytes()),
    }
    out.push(b'"');
}

fn w_time(out: &mut Vec<u8>, t: &Time) {
    out.push(b'"');
    if t.micros < 0 {
        out.push(b'-');
    }
    let m = t.micros.unsigned_abs();
    w_hms(out, m / 1_000_000);
    w_frac(out, (m % 1_000_000) as u32, 6);
    if t.has_offset {
        out.push(if t.offset_seconds < 0 { b'-' } else { b'+' });
        let a = u64::from(t.offset_seconds.unsigned_abs());
        w_pad(out, a / 3600, 2);
        out.push(b':');
        w_pad(out, a / 60 % 60, 2);
        if a % 60 != 0 {
            out.push(b':');
            w_pad(out, a % 60, 2);
        }
    }
    out.push(b'"');
}

fn w_timestamp(out: &mut Vec<u8>, t: &Timestamp, utc: bool) {
    out.push(b'"');
    match special(t.special) {
        Special::Finite => {
            let (mut secs, mut nanos) = (t.seconds, t.nanos);
            if nanos >= NANOS_PER_SEC {
                secs = secs.saturating_add(i64::from(nanos / NANOS_PER_SEC));
                nanos %= NANOS_PER_SEC;
            }
            w_civil(out, secs.div_euclid(86_400));
            out.push(b'T');
            w_hms(out, secs.rem_euclid(86_400) as u64);
            w_frac(out, nanos, 9);
            if utc {
                out.push(b'Z');
            }
        }
        Special::PosInfinity => out.extend_from_slice(b"infinity"),
        Special::NegInfinity => out.extend_from_slice(b"-infinity"),
        Special::Zero => out.extend_from_slice(ZERO_TIMESTAMP.as_bytes()),
    }
    out.push(b'"');
}

/// The canonical text of a `timestamptz` (without JSON quotes), e.g.
/// `2024-02-29T11:45:00.5Z`; used by `logferry status` too.
pub fn format_timestamptz(t: &Timestamp) -> String {
    let mut out = Vec::with_capacity(32);
    w_timestamp(&mut out, t, true);
    String::from_utf8_lossy(&out[1..out.len() - 1]).into_owned()
}

const NANOS_PER_SEC: u32 = 1_000_000_000;
const ZERO_DATE: &str = "0000-00-00";
const ZERO_TIMESTAMP: &str = "0000-00-00 00:00:00";

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// Parses the canonical JSON form back; inverse of [`write_change`].
/// Whitespace may surround the object (a JSON line with its newline is fine).
pub fn read_change(input: &[u8]) -> Result<Change, JsonError> {
    let text = std::str::from_utf8(input).map_err(|e| JsonError::Syntax {
        path: String::new(),
        offset: e.valid_up_to(),
        msg: "invalid UTF-8",
    });
    let result = text.and_then(|text| {
        let mut p = P { text, s: text.as_bytes(), i: 0, depth: 0 };
        let change = p.change()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(p.syntax("unexpected characters after the record"));
        }
        Ok(change)
    });
    result.map_err(|mut e| {
        let path = match &mut e {
            JsonError::Syntax { path, .. } | JsonError::Invalid { path, .. } => path,
        };
        if path.is_empty() {
            path.push_str("record");
        }
        e
    })
}

type R<T> = Result<T, JsonError>;

/// Nesting of values (arrays, documents) deeper than this is rejected, so
/// hostile input cannot overflow the stack.
const MAX_DEPTH: u32 = 128;

fn invalid(msg: impl Into<String>) -> JsonError {
    JsonError::Invalid { path: String::new(), msg: msg.into() }
}

impl JsonError {
    fn path_mut(&mut self) -> &mut String {
        match self {
            JsonError::Syntax { path, .. } | JsonError::Invalid { path, .. } => path,
        }
    }

    /// Prepends a path segment while the error travels up.
    fn prepend(mut self, seg: &str) -> Self {
        let path = self.path_mut();
        let mut s = String::with_capacity(seg.len() + 1 + path.len());
        s.push_str(seg);
        if !path.is_empty() && !path.starts_with('[') {
            s.push('.');
        }
        s.push_str(path);
        *path = s;
        self
    }

    fn field(self, name: &str) -> Self {
        let simple = name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if simple {
            self.prepend(name)
        } else {
            let quoted = serde_json::to_string(name).expect("a string serializes");
            self.prepend(&format!("[{quoted}]"))
        }
    }

    fn index(self, i: usize) -> Self {
        self.prepend(&format!("[{i}]"))
    }
}

/// Marks field `bit` of an object as seen; errors on a repeated field.
fn once(seen: &mut u32, bit: u32) -> R<()> {
    if *seen & (1 << bit) != 0 {
        return Err(invalid("repeated field"));
    }
    *seen |= 1 << bit;
    Ok(())
}

fn unknown_field() -> JsonError {
    invalid("unknown field")
}

/// A cursor over the input.
struct P<'a> {
    text: &'a str,
    s: &'a [u8],
    i: usize,
    depth: u32,
}

impl<'a> P<'a> {
    fn syntax(&self, msg: &'static str) -> JsonError {
        JsonError::Syntax { path: String::new(), offset: self.i, msg }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// The error for a value that is not what was expected: says what it
    /// found, or reports malformed JSON.
    fn type_err(&self, expected: &str) -> JsonError {
        let found = match self.peek() {
            Some(b'"') => "a string",
            Some(b'{') => "an object",
            Some(b'[') => "an array",
            Some(b't' | b'f') => "a boolean",
            Some(b'n') => "null",
            Some(b'-' | b'0'..=b'9') => "a number",
            None => return self.syntax("unexpected end of input"),
            Some(_) => return self.syntax("expected a JSON value"),
        };
        invalid(format!("expected {expected}, found {found}"))
    }

    fn literal(&mut self, lit: &'static [u8]) -> R<()> {
        if self.s[self.i..].starts_with(lit) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(self.syntax("invalid literal"))
        }
    }

    /// Reads an object, calling `f` for each field with the cursor on the
    /// field's value; errors from `f` get the field name in their path.
    fn object(&mut self, what: &str, mut f: impl FnMut(&mut Self, &str) -> R<()>) -> R<()> {
        self.ws();
        if self.peek() != Some(b'{') {
            return Err(self.type_err(what));
        }
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.syntax("expected a field name in double quotes"));
            }
            let key = self.string_body()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.syntax("expected ':' after the field name"));
            }
            self.i += 1;
            self.ws();
            f(self, &key).map_err(|e| e.field(&key))?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.syntax("expected ',' or '}'")),
            }
        }
    }

    /// Reads an array, calling `f` for each element with its index.
    fn array(&mut self, what: &str, mut f: impl FnMut(&mut Self, usize) -> R<()>) -> R<()> {
        self.ws();
        if self.peek() != Some(b'[') {
            return Err(self.type_err(what));
        }
        self.i += 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        let mut n = 0;
        loop {
            self.ws();
            f(self, n).map_err(|e| e.index(n))?;
            n += 1;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.syntax("expected ',' or ']'")),
            }
        }
    }

    fn string(&mut self, what: &str) -> R<Cow<'a, str>> {
        self.ws();
        if self.peek() != Some(b'"') {
            return Err(self.type_err(what));
        }
        self.string_body()
    }

    fn string_owned(&mut self, what: &str) -> R<String> {
        self.string(what).map(Cow::into_owned)
    }

    /// Reads a string; the cursor is on its opening quote. Borrows from the
    /// input unless the string has escapes.
    fn string_body(&mut self) -> R<Cow<'a, str>> {
        self.i += 1;
        let start = self.i;
        self.skip_plain();
        match self.peek() {
            Some(b'"') => {
                let s = &self.text[start..self.i];
                self.i += 1;
                return Ok(Cow::Borrowed(s));
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.syntax("unescaped control character in string")),
            None => return Err(self.syntax("unterminated string")),
        }
        let mut owned = String::with_capacity(self.i - start + 16);
        owned.push_str(&self.text[start..self.i]);
        loop {
            let run = self.i;
            self.skip_plain();
            owned.push_str(&self.text[run..self.i]);
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(Cow::Owned(owned));
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !self.s[self.i..].starts_with(b"\\u") {
                                    return Err(self.syntax("unpaired surrogate in \\u escape"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.syntax("unpaired surrogate in \\u escape"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            let c = char::from_u32(code)
                                .ok_or_else(|| self.syntax("unpaired surrogate in \\u escape"))?;
                            owned.push(c);
                            continue;
                        }
                        _ => return Err(self.syntax("invalid escape in string")),
                    };
                    self.i += 1;
                    owned.push(c);
                }
                Some(_) => return Err(self.syntax("unescaped control character in string")),
                None => return Err(self.syntax("unterminated string")),
            }
        }
    }

    /// Skips string bytes that need no attention (not `"`, `\\` or a
    /// control character).
    fn skip_plain(&mut self) {
        let rest = &self.s[self.i..];
        self.i += rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .unwrap_or(rest.len());
    }

    fn hex4(&mut self) -> R<u32> {
        let digits = self
            .s
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.syntax("truncated \\u escape"))?;
        let mut v = 0;
        for &b in digits {
            let d = (b as char)
                .to_digit(16)
                .ok_or_else(|| self.syntax("invalid \\u escape"))?;
            v = v * 16 + d;
        }
        self.i += 4;
        Ok(v)
    }

    /// Reads a JSON number and returns its text.
    fn number(&mut self) -> R<&'a str> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(self.syntax("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.syntax("invalid number"));
            }
            self.skip_digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.syntax("invalid number"));
            }
            self.skip_digits();
        }
        Ok(&self.text[start..self.i])
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    fn int<T: FromStr>(&mut self, what: &str) -> R<T> {
        self.ws();
        if !matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
            return Err(self.type_err(what));
        }
        let n = self.number()?;
        n.parse().map_err(|_| invalid(format!("expected {what}, found {n}")))
    }

    /// A float: a JSON number, or "NaN", "Infinity", "-Infinity".
    fn float<T: FromStr>(&mut self, what: &str) -> R<T> {
        self.ws();
        let text: Cow<'a, str> = match self.peek() {
            Some(b'-' | b'0'..=b'9') => Cow::Borrowed(self.number()?),
            Some(b'"') => {
                let s = self.string_body()?;
                match &*s {
                    "NaN" => Cow::Borrowed("NaN"),
                    "Infinity" => Cow::Borrowed("inf"),
                    "-Infinity" => Cow::Borrowed("-inf"),
                    other => {
                        return Err(invalid(format!(
                            "expected {what}, found the string {other:?} (only \"NaN\", \"Infinity\" and \"-Infinity\" are strings)"
                        )))
                    }
                }
            }
            _ => return Err(self.type_err(what)),
        };
        text.parse().map_err(|_| invalid(format!("expected {what}, found {text}")))
    }

    fn boolean(&mut self) -> R<bool> {
        self.ws();
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|_| true),
            Some(b'f') => self.literal(b"false").map(|_| false),
            _ => Err(self.type_err("true or false")),
        }
    }

    fn base64(&mut self, what: &str) -> R<Bytes> {
        let s = self.string(what)?;
        B64.decode(s.as_bytes())
            .map(Bytes::from)
            .map_err(|e| invalid(format!("expected {what}: {e}")))
    }

    fn hex(&mut self, what: &str) -> R<Bytes> {
        let s = self.string(what)?;
        parse_hex(s.as_bytes())
            .map(Bytes::from)
            .ok_or_else(|| invalid(format!("expected {what}, found {s:?}")))
    }

    fn string_list(&mut self, what: &str) -> R<Vec<String>> {
        let mut v = Vec::new();
        self.array(what, |p, _| {
            v.push(p.string_owned("a string")?);
            Ok(())
        })?;
        Ok(v)
    }

    fn change(&mut self) -> R<Change> {
        let mut c = Change::default();
        let mut seen = 0;
        self.ws();
        self.object("an object (a change record)", |p, key| {
            match key {
                "pipeline" => {
                    once(&mut seen, 0)?;
                    c.pipeline = p.string_owned("a string")?;
                }
                "source" => {
                    once(&mut seen, 1)?;
                    c.source = p.string_owned("a string")?;
                }
                "seq" => {
                    once(&mut seen, 2)?;
                    c.seq = p.int("an unsigned 64-bit integer")?;
                }
                "op" => {
                    once(&mut seen, 3)?;
                    p.ws();
                    c.op = if p.peek() == Some(b'"') {
                        let name = p.string_body()?;
                        op_from_name(&name)
                            .ok_or_else(|| invalid(format!("unknown op {name:?}")))?
                            as i32
                    } else {
                        p.int("an op name")?
                    };
                }
                "table" => {
                    once(&mut seen, 4)?;
                    c.table = Some(p.table()?);
                }
                "key" => {
                    once(&mut seen, 5)?;
                    c.key_columns = p.string_list("an array of column names")?;
                }
                "before" => {
                    once(&mut seen, 6)?;
                    c.before = Some(Row { columns: p.row("an object (a row)")? });
                }
                "after" => {
                    once(&mut seen, 7)?;
                    c.after = Some(Row { columns: p.row("an object (a row)")? });
                }
                "position" => {
                    once(&mut seen, 8)?;
                    c.position = Some(p.position()?);
                }
                "tx_id" => {
                    once(&mut seen, 9)?;
                    c.tx_id = p.string_owned("a string")?;
                }
                "commit_time" => {
                    once(&mut seen, 10)?;
                    c.commit_time = Some(p.timestamp(true)?);
                }
                "tx_end" => {
                    once(&mut seen, 11)?;
                    c.tx_end = p.boolean()?;
                }
                "schema_change" => {
                    once(&mut seen, 12)?;
                    c.schema_change = Some(p.schema_change()?);
                }
                "message" => {
                    once(&mut seen, 13)?;
                    c.message = Some(p.message()?);
                }
                _ => return Err(unknown_field()),
            }
            Ok(())
        })?;
        Ok(c)
    }

    fn table(&mut self) -> R<TableRef> {
        let mut t = TableRef::default();
        let mut seen = 0;
        self.object("an object", |p, key| {
            match key {
                "schema" => {
                    once(&mut seen, 0)?;
                    t.schema = p.string_owned("a string")?;
                }
                "name" => {
                    once(&mut seen, 1)?;
                    t.name = p.string_owned("a string")?;
                }
                _ => return Err(unknown_field()),
            }
            Ok(())
        })?;
        Ok(t)
    }

    fn position(&mut self) -> R<Position> {
        let mut pos = Position::default();
        let mut seen = 0;
        self.object("an object", |p, key| {
            match key {
                "token" => {
                    once(&mut seen, 0)?;
                    pos.token = p.base64("a base64 string")?;
                }
                "display" => {
                    once(&mut seen, 1)?;
                    pos.display = p.string_owned("a string")?;
                }
                _ => return Err(unknown_field()),
            }
            Ok(())
        })?;
        Ok(pos)
    }

    fn schema_change(&mut self) -> R<SchemaChange> {
        let mut sc = SchemaChange::default();
        let mut seen = 0;
        self.object("an object", |p, key| {
            match key {
                "schema" => {
                    once(&mut seen, 0)?;
                    sc.schema = Some(p.table_schema()?);
                }
                "ddl" => {
                    once(&mut seen, 1)?;
                    sc.ddl = p.string_owned("a string")?;
                }
                _ => return Err(unknown_field()),
            }
            Ok(())
        })?;
        Ok(sc)
    }

    fn table_schema(&mut self) -> R<TableSchema> {
        let mut ts = TableSchema::default();
        let mut seen = 0;
        self.object("an object", |p, key| {
            match key {
                "table" => {
                    once(&mut seen, 0)?;
                    ts.table = Some(p.table()?);
                }
                "columns" => {
                    once(&mut seen, 1)?;
                    p.array("an array of column objects", |p, _| {
                        ts.columns.push(p.column_schema()?);
                        Ok(())
                    })?;
                }
                "key" => {
                    once(&mut seen, 2)?;
                    ts.key_columns = p.string_list("an array of column names")?;
                }
                _ => return Err(unknown_field()),
            }
            Ok(())
        })?;
        Ok(ts)
    }

    fn column_schema(&mut self) -> R<ColumnSchema> {
        let mut cs = ColumnSchema::default();
        let mut seen = 0;
        self.object("an object", |p, key| {
            match key {
                "name" => {
                    once(&mut seen, 0)?;
                    cs.name = p.string_owned("a string")?;
                }
                "source_type" => {
                    once(&mut seen, 1)?;
                    cs.source_type = p.string_owned("a string")?;
                }
                "nullable" => {
                    once(&mut seen, 2)?;
                    cs.nullable = p.boolean()?;
                }
                _ => return Err(unknown_field()),
            }
            Ok(())
        })?;
        Ok(cs)
    }

    fn message(&mut self) -> R<LogicalMessage> {
        let mut m = LogicalMessage::default();
        let mut seen = 0;
        self.object("an object", |p, key| {
            match key {
                "prefix" => {
                    once(&mut seen, 0)?;
                    m.prefix = p.string_owned("a string")?;
                }
                "content" => {
                    once(&mut seen, 1)?;
                    m.content = p.base64("a base64 string")?;
                }
                "transactional" => {
                    once(&mut seen, 2)?;
                    m.transactional = p.boolean()?;
                }
                _ => return Err(unknown_field()),
            }
            Ok(())
        })?;
        Ok(m)
    }

    /// A row or document: columns in input order, repeated names kept.
    fn row(&mut self, what: &str) -> R<Vec<Column>> {
        let mut cols = Vec::new();
        self.object(what, |p, key| {
            let value = p.value()?;
            cols.push(Column { name: key.to_owned(), value: Some(value) });
            Ok(())
        })?;
        Ok(cols)
    }

    fn value(&mut self) -> R<Value> {
        self.ws();
        match self.peek() {
            Some(b'n') => {
                self.literal(b"null")?;
                return Ok(Value::null());
            }
            Some(b'{') => self.i += 1,
            _ => return Err(self.type_err("null or a one-key value object")),
        }
        self.ws();
        match self.peek() {
            Some(b'"') => {}
            Some(b'}') => return Err(invalid("empty value object: expected one key naming the kind")),
            _ => return Err(self.syntax("expected a field name in double quotes")),
        }
        let key = self.string_body()?;
        self.ws();
        if self.peek() != Some(b':') {
            return Err(self.syntax("expected ':' after the field name"));
        }
        self.i += 1;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(invalid("values nested too deeply"));
        }
        let kind = self.kind(&key).map_err(|e| e.field(&key))?;
        self.depth -= 1;
        self.ws();
        match self.peek() {
            Some(b'}') => {
                self.i += 1;
                Ok(Value::of(kind))
            }
            Some(b',') => Err(invalid("a value object has exactly one key, the kind")),
            _ => Err(self.syntax("expected '}'")),
        }
    }

    fn kind(&mut self, kind: &str) -> R<Kind> {
        Ok(match kind {
            "bool" => Kind::Bool(self.boolean()?),
            "int64" => Kind::Int64(self.int("a signed 64-bit integer")?),
            "uint64" => Kind::Uint64(self.int("an unsigned 64-bit integer")?),
            "int32" => Kind::Int32(self.int("a signed 32-bit integer")?),
            "float32" => Kind::Float32(self.float("a 32-bit float")?),
            "float64" => Kind::Float64(self.float("a 64-bit float")?),
            "decimal" => Kind::Decimal(self.string_owned("a decimal string")?),
            "decimal128" => Kind::Decimal128(self.string_owned("a decimal string")?),
            "text" => Kind::Text(self.string_owned("a string")?),
            "json" => Kind::Json(self.string_owned("a string holding JSON text")?),
            "enum" => Kind::EnumLabel(self.string_owned("a string")?),
            "bytes" => Kind::Bytes(self.base64("a base64 string")?),
            "uuid" => {
                let s = self.string("a UUID string")?;
                Kind::Uuid(
                    parse_uuid(s.as_bytes())
                        .map(Bytes::from)
                        .ok_or_else(|| invalid(format!("expected a UUID (8-4-4-4-12 hex), found {s:?}")))?,
                )
            }
            "object_id" => Kind::ObjectId(self.hex("a hex string")?),
            "set" => Kind::Set(Labels { labels: self.string_list("an array of labels")? }),
            "date" => {
                let s = self.string("a date string")?;
                Kind::Date(parse_date(&s).ok_or_else(|| {
                    invalid(format!(
                        "invalid date {s:?}: expected YYYY-MM-DD, ±YYYYYY-MM-DD, infinity, -infinity or 0000-00-00"
                    ))
                })?)
            }
            "time" => {
                let s = self.string("a time string")?;
                Kind::Time(parse_time(&s).ok_or_else(|| {
                    invalid(format!("invalid time {s:?}: expected [-]HH:MM:SS[.ffffff][±HH:MM[:SS]]"))
                })?)
            }
            "timestamp" => Kind::Timestamp(self.timestamp(false)?),
            "timestamptz" => Kind::Timestamptz(self.timestamp(true)?),
            "interval" => {
                let mut iv = Interval::default();
                let mut seen = 0;
                self.object("an object", |p, key| {
                    match key {
                        "months" => {
                            once(&mut seen, 0)?;
                            iv.months = p.int("a signed 32-bit integer")?;
                        }
                        "days" => {
                            once(&mut seen, 1)?;
                            iv.days = p.int("a signed 32-bit integer")?;
                        }
                        "micros" => {
                            once(&mut seen, 2)?;
                            iv.micros = p.int("a signed 64-bit integer")?;
                        }
                        _ => return Err(unknown_field()),
                    }
                    Ok(())
                })?;
                Kind::Interval(iv)
            }
            "array" => {
                let mut a = Array::default();
                let mut seen = 0;
                self.object("an object", |p, key| {
                    match key {
                        "element_type" => {
                            once(&mut seen, 0)?;
                            a.element_type = p.string_owned("a string")?;
                        }
                        "elements" => {
                            once(&mut seen, 1)?;
                            p.array("an array of values", |p, _| {
                                a.elements.push(p.value()?);
                                Ok(())
                            })?;
                        }
                        _ => return Err(unknown_field()),
                    }
                    Ok(())
                })?;
                Kind::Array(a)
            }
            "document" => Kind::Document(Document { fields: self.row("an object (a document)")? }),
            "unchanged" => {
                self.object("an empty object", |_, _| Err(unknown_field()))?;
                Kind::Unchanged(Unchanged {})
            }
            "other" => {
                let mut o = Other::default();
                let mut seen = 0;
                self.object("an object", |p, key| {
                    match key {
                        "type" => {
                            once(&mut seen, 0)?;
                            o.type_name = p.string_owned("a string")?;
                        }
                        "text" => {
                            once(&mut seen, 1)?;
                            o.text = p.string_owned("a string")?;
                        }
                        _ => return Err(unknown_field()),
                    }
                    Ok(())
                })?;
                Kind::Other(o)
            }
            "binary" => {
                let mut b = Binary::default();
                let mut seen = 0;
                self.object("an object", |p, key| {
                    match key {
                        "subtype" => {
                            once(&mut seen, 0)?;
                            b.subtype = p.int("an unsigned 32-bit integer")?;
                        }
                        "data" => {
                            once(&mut seen, 1)?;
                            b.data = p.base64("a base64 string")?;
                        }
                        _ => return Err(unknown_field()),
                    }
                    Ok(())
                })?;
                Kind::Binary(b)
            }
            "regex" => {
                let mut r = Regex::default();
                let mut seen = 0;
                self.object("an object", |p, key| {
                    match key {
                        "pattern" => {
                            once(&mut seen, 0)?;
                            r.pattern = p.string_owned("a string")?;
                        }
                        "options" => {
                            once(&mut seen, 1)?;
                            r.options = p.string_owned("a string")?;
                        }
                        _ => return Err(unknown_field()),
                    }
                    Ok(())
                })?;
                Kind::Regex(r)
            }
            "bson_timestamp" => {
                let mut t = BsonTimestamp::default();
                let mut seen = 0;
                self.object("an object", |p, key| {
                    match key {
                        "seconds" => {
                            once(&mut seen, 0)?;
                            t.seconds = p.int("an unsigned 32-bit integer")?;
                        }
                        "increment" => {
                            once(&mut seen, 1)?;
                            t.increment = p.int("an unsigned 32-bit integer")?;
                        }
                        _ => return Err(unknown_field()),
                    }
                    Ok(())
                })?;
                Kind::BsonTimestamp(t)
            }
            "null" => return Err(invalid("SQL NULL is written as JSON null, not as a kind")),
            _ => return Err(invalid("unknown value kind")),
        })
    }

    fn timestamp(&mut self, utc: bool) -> R<Timestamp> {
        let s = self.string("a timestamp string")?;
        parse_timestamp(&s, utc).ok_or_else(|| {
            let form = if utc { "YYYY-MM-DDTHH:MM:SS[.fffffffff]Z" } else { "YYYY-MM-DDTHH:MM:SS[.fffffffff]" };
            invalid(format!(
                "invalid timestamp {s:?}: expected {form}, infinity, -infinity or {ZERO_TIMESTAMP}"
            ))
        })
    }
}

fn parse_hex(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    s.chunks_exact(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// 8-4-4-4-12 hex, or plain hex of any even length (the form of invalid
/// lengths).
fn parse_uuid(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() == 36 && [8, 13, 18, 23].iter().all(|&i| s[i] == b'-') {
        let mut hex = Vec::with_capacity(32);
        for (i, &b) in s.iter().enumerate() {
            if ![8, 13, 18, 23].contains(&i) {
                hex.push(b);
            }
        }
        return parse_hex(&hex);
    }
    parse_hex(s)
}

/// A cursor over a date/time string.
struct Cur<'s> {
    b: &'s [u8],
    i: usize,
}

impl Cur<'_> {
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// `min..=max` decimal digits.
    fn digits(&mut self, min: usize, max: usize) -> Option<u64> {
        let start = self.i;
        let mut v: u64 = 0;
        while self.i - start < max {
            match self.b.get(self.i) {
                Some(&d @ b'0'..=b'9') => {
                    v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
                    self.i += 1;
                }
                _ => break,
            }
        }
        (self.i - start >= min).then_some(v)
    }

    /// Optional `.` and 1..=`max` digits, scaled to `max` digits.
    fn frac(&mut self, max: usize) -> Option<u64> {
        if !self.eat(b'.') {
            return Some(0);
        }
        let start = self.i;
        let v = self.digits(1, max)?;
        let n = self.i - start;
        if matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
            return None; // more digits than the precision holds
        }
        Some(v * 10u64.pow((max - n) as u32))
    }

    fn done(&self) -> bool {
        self.i == self.b.len()
    }

    /// `YYYY-MM-DD` or `±Y{4,}-MM-DD`, validated; days since 1970-01-01.
    fn civil(&mut self) -> Option<i128> {
        let y = if self.eat(b'+') {
            self.digits(4, 12)? as i64
        } else if self.eat(b'-') {
            -(self.digits(4, 12)? as i64)
        } else {
            self.digits(4, 4)? as i64
        };
        if !self.eat(b'-') {
            return None;
        }
        let m = self.digits(2, 2)? as u32;
        if !self.eat(b'-') {
            return None;
        }
        let d = self.digits(2, 2)? as u32;
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return None;
        }
        Some(days_from_civil(y, m, d))
    }

    /// `MM:SS` after the hours, each below 60: seconds.
    fn min_sec(&mut self) -> Option<u64> {
        if !self.eat(b':') {
            return None;
        }
        let m = self.digits(2, 2)?;
        if !self.eat(b':') {
            return None;
        }
        let s = self.digits(2, 2)?;
        (m < 60 && s < 60).then_some(m * 60 + s)
    }
}

fn parse_date(s: &str) -> Option<Date> {
    let special = |sp: Special| Some(Date { days: 0, special: sp as i32 });
    match s {
        "infinity" => return special(Special::PosInfinity),
        "-infinity" => return special(Special::NegInfinity),
        ZERO_DATE => return special(Special::Zero),
        _ => {}
    }
    let mut c = Cur { b: s.as_bytes(), i: 0 };
    let days = c.civil()?;
    c.done().then_some(())?;
    Some(Date { days: i32::try_from(days).ok()?, special: 0 })
}

fn parse_time(s: &str) -> Option<Time> {
    let mut c = Cur { b: s.as_bytes(), i: 0 };
    let neg = c.eat(b'-');
    let h = c.digits(2, 12)?;
    let ms = c.min_sec()?;
    let frac = c.frac(6)?;
    let total = (i128::from(h) * 3600 + i128::from(ms)) * 1_000_000 + i128::from(frac);
    let micros = i64::try_from(if neg { -total } else { total }).ok()?;
    let mut t = Time { micros, has_offset: false, offset_seconds: 0 };
    let off_neg = if c.eat(b'+') {
        false
    } else if c.eat(b'-') {
        true
    } else {
        return c.done().then_some(t);
    };
    let oh = c.digits(2, 6)?;
    if !c.eat(b':') {
        return None;
    }
    let om = c.digits(2, 2)?;
    let os = if c.eat(b':') { c.digits(2, 2)? } else { 0 };
    if om >= 60 || os >= 60 || !c.done() {
        return None;
    }
    let off = i64::try_from(oh * 3600 + om * 60 + os).ok()?;
    t.has_offset = true;
    t.offset_seconds = i32::try_from(if off_neg { -off } else { off }).ok()?;
    Some(t)
}

fn parse_timestamp(s: &str, utc: bool) -> Option<Timestamp> {
    let special = |sp: Special| Some(Timestamp { seconds: 0, nanos: 0, special: sp as i32 });
    match s {
        "infinity" => return special(Special::PosInfinity),
        "-infinity" => return special(Special::NegInfinity),
        ZERO_TIMESTAMP => return special(Special::Zero),
        _ => {}
    }
    let mut c = Cur { b: s.as_bytes(), i: 0 };
    let days = c.civil()?;
    if !c.eat(b'T') {
        return None;
    }
    let h = c.digits(2, 2)?;
    let ms = c.min_sec()?;
    let nanos = c.frac(9)?;
    if h >= 24 || c.eat(b'Z') != utc || !c.done() {
        return None;
    }
    let seconds = days * 86_400 + i128::from(h * 3600 + ms);
    Some(Timestamp { seconds: i64::try_from(seconds).ok()?, nanos: nanos as u32, special: 0 })
}

/// Records and strategies shared by the JSON and protobuf tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::super::{
        value::Kind, Array, Binary, BsonTimestamp, Change, Column, ColumnSchema, Date, Document,
        Interval, Labels, LogicalMessage, Op, Other, Position, Regex, Row, SchemaChange, Special,
        TableRef, TableSchema, Time, Timestamp, Value,
    };
    use bytes::Bytes;
    use proptest::prelude::*;

    fn v(k: Kind) -> Value {
        Value::of(k)
    }

    fn date(days: i32) -> Value {
        v(Kind::Date(Date { days, special: 0 }))
    }

    fn date_special(s: Special) -> Value {
        v(Kind::Date(Date { days: 0, special: s as i32 }))
    }

    fn ts(seconds: i64, nanos: u32) -> Timestamp {
        Timestamp { seconds, nanos, special: 0 }
    }

    fn ts_special(s: Special) -> Timestamp {
        Timestamp { seconds: 0, nanos: 0, special: s as i32 }
    }

    fn time(micros: i64) -> Value {
        v(Kind::Time(Time { micros, has_offset: false, offset_seconds: 0 }))
    }

    fn timetz(micros: i64, offset_seconds: i32) -> Value {
        v(Kind::Time(Time { micros, has_offset: true, offset_seconds }))
    }

    fn doc(fields: Vec<(&str, Value)>) -> Value {
        v(Kind::Document(Document {
            fields: fields
                .into_iter()
                .map(|(n, v)| Column { name: n.into(), value: Some(v) })
                .collect(),
        }))
    }

    fn array(element_type: &str, elements: Vec<Value>) -> Value {
        v(Kind::Array(Array { element_type: element_type.into(), elements }))
    }

    /// One value per case: every arm of `value::Kind`, with the edge cases.
    pub(crate) fn sample_values() -> Vec<Value> {
        let uuid = Bytes::from_static(&[
            0x0e, 0x4c, 0x1c, 0x57, 0x8f, 0x4a, 0x4d, 0x5e, 0x9a, 0x3b, 0x2b, 0x1c, 0x0d, 0x9e, 0x8f, 0x7a,
        ]);
        vec![
            Value::null(),
            v(Kind::Bool(true)),
            v(Kind::Bool(false)),
            v(Kind::Int64(0)),
            v(Kind::Int64(-5)),
            v(Kind::Int64(i64::MIN)),
            v(Kind::Int64(i64::MAX)),
            v(Kind::Uint64(0)),
            v(Kind::Uint64(u64::MAX)),
            v(Kind::Int32(7)),
            v(Kind::Int32(i32::MIN)),
            v(Kind::Float32(1.5)),
            v(Kind::Float32(0.1)),
            v(Kind::Float32(-0.0)),
            v(Kind::Float32(f32::NAN)),
            v(Kind::Float32(f32::INFINITY)),
            v(Kind::Float32(f32::NEG_INFINITY)),
            v(Kind::Float32(f32::MAX)),
            v(Kind::Float32(f32::MIN_POSITIVE)),
            v(Kind::Float32(f32::from_bits(1))),
            v(Kind::Float32(16777217.0)),
            v(Kind::Float64(0.1)),
            v(Kind::Float64(-0.0)),
            v(Kind::Float64(0.0)),
            v(Kind::Float64(f64::NAN)),
            v(Kind::Float64(-f64::NAN)),
            v(Kind::Float64(f64::INFINITY)),
            v(Kind::Float64(f64::NEG_INFINITY)),
            v(Kind::Float64(f64::MAX)),
            v(Kind::Float64(f64::MIN)),
            v(Kind::Float64(5e-324)),
            v(Kind::Float64(2.2250738585072014e-308)),
            v(Kind::Float64(1e21)),
            v(Kind::Float64(123456789012345680.0)),
            v(Kind::Float64(9007199254740993.0)),
            v(Kind::Float64(0.30000000000000004)),
            v(Kind::Decimal("12.3400".into())),
            v(Kind::Decimal("-0.000000000000000000001".into())),
            v(Kind::Decimal("NaN".into())),
            v(Kind::Decimal(String::new())),
            v(Kind::Decimal128("1.0E+10".into())),
            v(Kind::Text(String::new())),
            v(Kind::Text("héllo ✓ 🦀 ﬀ".into())),
            v(Kind::Text("\u{0}\u{1}\u{1f}\t\n\r\u{8}\u{c}\"\\/\u{7f}\u{2028}\u{feff}".into())),
            v(Kind::Bytes(Bytes::new())),
            v(Kind::Bytes(Bytes::from_static(&[0, 255, 1, 2]))),
            v(Kind::Date(Date { days: 0, special: 0 })),
            date(19782),
            date(-1),
            date(-719528),
            date(-719529),
            date(2932897),
            date(i32::MIN),
            date(i32::MAX),
            date_special(Special::PosInfinity),
            date_special(Special::NegInfinity),
            date_special(Special::Zero),
            time(0),
            time(49_500_123_456),
            time(-(838 * 3600 + 59 * 60 + 59) * 1_000_000),
            time((838 * 3600 + 59 * 60 + 59) * 1_000_000 + 500_000),
            time(-1),
            time(i64::MIN),
            time(i64::MAX),
            timetz(49_500_000_000, 7200),
            timetz(0, 0),
            timetz(1, -19_800),
            timetz(86_399_999_999, 3661),
            timetz(-5, i32::MIN),
            timetz(5, i32::MAX),
            v(Kind::Timestamp(ts(0, 0))),
            v(Kind::Timestamp(ts(1_709_214_300, 123_456_000))),
            v(Kind::Timestamp(ts(-1, 1))),
            v(Kind::Timestamp(ts(-62_167_219_200, 500_000_000))),
            v(Kind::Timestamp(ts(253_402_300_800, 0))),
            v(Kind::Timestamp(ts(i64::MIN, 0))),
            v(Kind::Timestamp(ts(i64::MAX, 999_999_999))),
            v(Kind::Timestamp(ts_special(Special::PosInfinity))),
            v(Kind::Timestamp(ts_special(Special::NegInfinity))),
            v(Kind::Timestamp(ts_special(Special::Zero))),
            v(Kind::Timestamptz(ts(1_709_207_100, 123_456_000))),
            v(Kind::Timestamptz(ts(951_782_400, 100))),
            v(Kind::Timestamptz(ts(i64::MIN, 999_999_999))),
            v(Kind::Timestamptz(ts_special(Special::PosInfinity))),
            v(Kind::Timestamptz(ts_special(Special::NegInfinity))),
            v(Kind::Timestamptz(ts_special(Special::Zero))),
            v(Kind::Interval(Interval { months: 1, days: 2, micros: 3 })),
            v(Kind::Interval(Interval { months: i32::MIN, days: -1, micros: i64::MIN })),
            v(Kind::Interval(Interval::default())),
            v(Kind::Uuid(uuid)),
            v(Kind::Uuid(Bytes::from_static(&[1, 2, 0xab]))),
            v(Kind::Uuid(Bytes::new())),
            v(Kind::Json("{\"a\":1}".into())),
            v(Kind::Json(" [1, 2.50 , {\"b\" : null}] \n".into())),
            v(Kind::EnumLabel("red".into())),
            v(Kind::EnumLabel(String::new())),
            v(Kind::Set(Labels { labels: vec!["a".into(), "b".into()] })),
            v(Kind::Set(Labels::default())),
            array("int4", vec![v(Kind::Int64(1)), Value::null(), v(Kind::Int64(-3))]),
            array("", vec![]),
            array(
                "_int4",
                vec![
                    array("int4", vec![v(Kind::Int64(1)), v(Kind::Int64(2))]),
                    array("int4", vec![array("int4", vec![]), Value::null()]),
                ],
            ),
            doc(vec![]),
            doc(vec![
                ("_id", v(Kind::ObjectId(Bytes::from_static(&[0x65, 0xf1, 0xc0, 0xff, 0xee, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66])))),
                ("inner", doc(vec![("x", v(Kind::Int32(1))), ("deeper", doc(vec![("y", Value::null())]))])),
                ("list", array("", vec![doc(vec![("k", v(Kind::Text("v".into())))])])),
                ("dup", v(Kind::Int32(1))),
                ("dup", v(Kind::Int32(2))),
                ("", v(Kind::Bool(true))),
                ("a.b \"c\"\n", v(Kind::Bool(false))),
            ]),
            Value::unchanged(),
            v(Kind::Other(Other { type_name: "point".into(), text: "(1,2)".into() })),
            v(Kind::Other(Other::default())),
            v(Kind::Binary(Binary { subtype: 4, data: Bytes::from_static(b"\x01\x02\x03") })),
            v(Kind::Binary(Binary { subtype: u32::MAX, data: Bytes::new() })),
            v(Kind::Regex(Regex { pattern: "^a.*\\d$".into(), options: "i".into() })),
            v(Kind::BsonTimestamp(BsonTimestamp { seconds: 1, increment: 2 })),
            v(Kind::BsonTimestamp(BsonTimestamp { seconds: u32::MAX, increment: u32::MAX })),
            v(Kind::ObjectId(Bytes::new())),
            v(Kind::Decimal128("-Infinity".into())),
        ]
    }

    /// A record with every top-level field set.
    pub(crate) fn full_change() -> Change {
        Change {
            pipeline: "shop".into(),
            source: "postgres".into(),
            seq: 42,
            op: Op::Update as i32,
            table: Some(TableRef { schema: "public".into(), name: "orders".into() }),
            key_columns: vec!["id".into()],
            before: Some(Row::from_pairs([("id", Value::int64(1)), ("note", Value::text("old"))])),
            after: Some(Row::from_pairs([
                ("id", Value::int64(1)),
                ("note", Value::text("new")),
                ("price", v(Kind::Decimal("12.3400".into()))),
                ("body", Value::unchanged()),
            ])),
            position: Some(Position { token: Bytes::from_static(&[0, 0, 0, 0, 1, 0x6b, 0x37, 0x48]), display: "0/16B3748".into() }),
            tx_id: "771".into(),
            commit_time: Some(ts(1_709_207_100, 123_456_000)),
            tx_end: true,
            schema_change: Some(SchemaChange {
                schema: Some(TableSchema {
                    table: Some(TableRef { schema: "public".into(), name: "orders".into() }),
                    columns: vec![
                        ColumnSchema { name: "id".into(), source_type: "bigint".into(), nullable: false, logical: None, type_dialect: String::new() },
                        ColumnSchema { name: "note".into(), source_type: "text".into(), nullable: true, logical: None, type_dialect: String::new() },
                    ],
                    key_columns: vec!["id".into()],
                    documents: false,
                }),
                ddl: "ALTER TABLE orders ADD note text".into(),
            }),
            message: Some(LogicalMessage { prefix: "app".into(), content: Bytes::from_static(b"hi\0"), transactional: true }),
            documents: false,
        }
    }

    /// The sample records: the full one, edge cases of the envelope, and one
    /// insert per sample value.
    pub(crate) fn sample_changes() -> Vec<Change> {
        let mut out = vec![
            full_change(),
            Change::default(),
            Change {
                op: 99,
                table: Some(TableRef::default()),
                before: Some(Row::default()),
                position: Some(Position::default()),
                commit_time: Some(ts_special(Special::NegInfinity)),
                schema_change: Some(SchemaChange::default()),
                message: Some(LogicalMessage::default()),
                ..Change::default()
            },
            Change {
                op: Op::Heartbeat as i32,
                seq: u64::MAX,
                commit_time: Some(ts(0, 0)),
                schema_change: Some(SchemaChange {
                    schema: Some(TableSchema { columns: vec![ColumnSchema::default()], ..Default::default() }),
                    ddl: String::new(),
                }),
                ..Change::default()
            },
        ];
        for (i, value) in sample_values().into_iter().enumerate() {
            out.push(Change {
                pipeline: "p".into(),
                source: "generate".into(),
                seq: i as u64 + 1,
                op: Op::Insert as i32,
                table: Some(TableRef { schema: "public".into(), name: "t".into() }),
                key_columns: vec!["id".into()],
                after: Some(Row::from_pairs([("id", Value::int64(i as i64)), ("v", value)])),
                ..Change::default()
            });
        }
        out
    }

    /// Replaces every NaN by the default quiet NaN, the form the JSON reader
    /// gives back.
    fn canonical_nans(c: &mut Change) {
        fn value(v: &mut Value) {
            match &mut v.kind {
                Some(Kind::Float32(f)) if f.is_nan() => *f = f32::NAN,
                Some(Kind::Float64(f)) if f.is_nan() => *f = f64::NAN,
                Some(Kind::Array(a)) => a.elements.iter_mut().for_each(value),
                Some(Kind::Document(d)) => d.fields.iter_mut().filter_map(|c| c.value.as_mut()).for_each(value),
                _ => {}
            }
        }
        for row in [&mut c.before, &mut c.after].into_iter().flatten() {
            row.columns.iter_mut().filter_map(|c| c.value.as_mut()).for_each(value);
        }
    }

    /// Asserts `a == b` with NaNs equal to each other (compares the protobuf
    /// encodings after making NaNs canonical, so -0.0 != 0.0 still holds).
    pub(crate) fn assert_same(a: &Change, b: &Change) {
        let (mut a, mut b) = (a.clone(), b.clone());
        canonical_nans(&mut a);
        canonical_nans(&mut b);
        let (ea, eb) = (prost::Message::encode_to_vec(&a), prost::Message::encode_to_vec(&b));
        if ea != eb {
            assert_eq!(a, b, "records differ");
            panic!("encodings differ but records compare equal:\n{a:?}\n{b:?}");
        }
    }

    fn arb_special() -> impl Strategy<Value = Special> {
        prop_oneof![
            6 => Just(Special::Finite),
            1 => Just(Special::PosInfinity),
            1 => Just(Special::NegInfinity),
            1 => Just(Special::Zero),
        ]
    }

    fn arb_timestamp() -> impl Strategy<Value = Timestamp> {
        (arb_special(), any::<i64>(), 0..1_000_000_000u32, prop_oneof![Just(0u32), Just(1000), Just(1)]).prop_map(
            |(s, seconds, nanos, unit)| match s {
                Special::Finite => {
                    let nanos = nanos.checked_div(unit).map_or(0, |n| n * unit);
                    Timestamp { seconds, nanos, special: 0 }
                }
                s => ts_special(s),
            },
        )
    }

    fn arb_bytes() -> impl Strategy<Value = Bytes> {
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)
    }

    fn arb_name() -> impl Strategy<Value = String> {
        prop_oneof![3 => "[a-z_][a-z0-9_]{0,8}", 1 => any::<String>()]
    }

    /// Any canonical value (see the module doc's *Limits*), nested up to a
    /// few levels.
    pub(crate) fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::null()),
            any::<bool>().prop_map(|b| v(Kind::Bool(b))),
            any::<i64>().prop_map(|n| v(Kind::Int64(n))),
            any::<u64>().prop_map(|n| v(Kind::Uint64(n))),
            any::<i32>().prop_map(|n| v(Kind::Int32(n))),
            any::<f32>().prop_map(|f| v(Kind::Float32(f))),
            any::<u32>().prop_map(|b| v(Kind::Float32(f32::from_bits(b)))),
            any::<f64>().prop_map(|f| v(Kind::Float64(f))),
            any::<u64>().prop_map(|b| v(Kind::Float64(f64::from_bits(b)))),
            any::<String>().prop_map(|s| v(Kind::Decimal(s))),
            any::<String>().prop_map(|s| v(Kind::Decimal128(s))),
            any::<String>().prop_map(|s| v(Kind::Text(s))),
            any::<String>().prop_map(|s| v(Kind::Json(s))),
            any::<String>().prop_map(|s| v(Kind::EnumLabel(s))),
            proptest::collection::vec(any::<String>(), 0..4).prop_map(|labels| v(Kind::Set(Labels { labels }))),
            arb_bytes().prop_map(|b| v(Kind::Bytes(b))),
            prop_oneof![3 => proptest::collection::vec(any::<u8>(), 16).prop_map(Bytes::from), 1 => arb_bytes()]
                .prop_map(|b| v(Kind::Uuid(b))),
            arb_bytes().prop_map(|b| v(Kind::ObjectId(b))),
            (arb_special(), any::<i32>()).prop_map(|(s, days)| match s {
                Special::Finite => date(days),
                s => date_special(s),
            }),
            (any::<i64>(), any::<bool>(), any::<i32>()).prop_map(|(micros, has_offset, off)| v(Kind::Time(Time {
                micros,
                has_offset,
                offset_seconds: if has_offset { off } else { 0 },
            }))),
            (-3_000_000_000_000i64..3_000_000_000_000, any::<bool>(), -57_600i32..57_600).prop_map(|(micros, tz, off)| {
                v(Kind::Time(Time { micros, has_offset: tz, offset_seconds: if tz { off } else { 0 } }))
            }),
            arb_timestamp().prop_map(|t| v(Kind::Timestamp(t))),
            arb_timestamp().prop_map(|t| v(Kind::Timestamptz(t))),
            (-5_000_000_000i64..300_000_000_000, 0..1_000_000_000u32)
                .prop_map(|(s, n)| v(Kind::Timestamptz(ts(s, n)))),
            (any::<i32>(), any::<i32>(), any::<i64>())
                .prop_map(|(months, days, micros)| v(Kind::Interval(Interval { months, days, micros }))),
            Just(Value::unchanged()),
            (any::<String>(), any::<String>()).prop_map(|(type_name, text)| v(Kind::Other(Other { type_name, text }))),
            (any::<u32>(), arb_bytes()).prop_map(|(subtype, data)| v(Kind::Binary(Binary { subtype, data }))),
            (any::<String>(), any::<String>()).prop_map(|(pattern, options)| v(Kind::Regex(Regex { pattern, options }))),
            (any::<u32>(), any::<u32>())
                .prop_map(|(seconds, increment)| v(Kind::BsonTimestamp(BsonTimestamp { seconds, increment }))),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                ("[a-z0-9_]{0,6}", proptest::collection::vec(inner.clone(), 0..6))
                    .prop_map(|(t, elements)| v(Kind::Array(Array { element_type: t, elements }))),
                proptest::collection::vec((arb_name(), inner), 0..6).prop_map(|fields| {
                    v(Kind::Document(Document {
                        fields: fields.into_iter().map(|(name, v)| Column { name, value: Some(v) }).collect(),
                    }))
                }),
            ]
        })
    }

    /// A record carrying arbitrary values in `after` and `before`.
    pub(crate) fn arb_change() -> impl Strategy<Value = Change> {
        (
            proptest::collection::vec((arb_name(), arb_value()), 0..6),
            proptest::option::of(proptest::collection::vec((arb_name(), arb_value()), 0..3)),
            any::<u64>(),
            0..9i32,
            proptest::option::of(arb_timestamp()),
        )
            .prop_map(|(after, before, seq, op, commit_time)| {
                let row = |cols: Vec<(String, Value)>| Row {
                    columns: cols.into_iter().map(|(name, v)| Column { name, value: Some(v) }).collect(),
                };
                Change {
                    pipeline: "p".into(),
                    seq,
                    op,
                    after: Some(row(after)),
                    before: before.map(row),
                    commit_time,
                    ..Change::default()
                }
            })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::fixtures::{arb_change, assert_same, full_change, sample_changes};
    use super::*;
    use proptest::prelude::*;

    fn to_json(c: &Change) -> String {
        let mut out = Vec::new();
        write_change(c, &mut out);
        String::from_utf8(out).expect("the writer emits UTF-8")
    }

    /// The JSON text of a record whose `after` row is `{"v": value}`.
    fn value_json(value: Value) -> String {
        let c = Change { after: Some(Row::from_pairs([("v", value)])), ..Change::default() };
        let s = to_json(&c);
        s.strip_prefix(r#"{"op":"unspecified","after":{"v":"#)
            .and_then(|s| s.strip_suffix("}}"))
            .unwrap_or_else(|| panic!("unexpected envelope: {s}"))
            .to_owned()
    }

    fn err(input: &str) -> String {
        read_change(input.as_bytes()).expect_err(input).to_string()
    }

    #[test]
    fn samples_round_trip() {
        for c in sample_changes() {
            let json = to_json(&c);
            let back = read_change(json.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{json}"));
            assert_same(&c, &back);
            // The output is valid JSON for any other parser too.
            serde_json::from_str::<serde_json::Value>(&json).unwrap_or_else(|e| panic!("{e}\n{json}"));
            // Writing again gives the same text.
            assert_eq!(to_json(&back), json);
        }
    }

    #[test]
    fn full_record_is_pinned() {
        assert_eq!(
            to_json(&full_change()),
            concat!(
                r#"{"pipeline":"shop","source":"postgres","seq":42,"op":"update","#,
                r#""table":{"schema":"public","name":"orders"},"key":["id"],"#,
                r#""before":{"id":{"int64":1},"note":{"text":"old"}},"#,
                r#""after":{"id":{"int64":1},"note":{"text":"new"},"price":{"decimal":"12.3400"},"body":{"unchanged":{}}},"#,
                r#""position":{"token":"AAAAAAFrN0g=","display":"0/16B3748"},"#,
                r#""tx_id":"771","commit_time":"2024-02-29T11:45:00.123456Z","tx_end":true,"#,
                r#""schema_change":{"schema":{"table":{"schema":"public","name":"orders"},"#,
                r#""columns":[{"name":"id","source_type":"bigint"},{"name":"note","source_type":"text","nullable":true}],"#,
                r#""key":["id"]},"ddl":"ALTER TABLE orders ADD note text"},"#,
                r#""message":{"prefix":"app","content":"aGkA","transactional":true}}"#,
            )
        );
        assert_eq!(to_json(&Change::default()), r#"{"op":"unspecified"}"#);
    }

    #[test]
    fn values_are_pinned() {
        use Kind as K;
        let ts = |seconds, nanos| Timestamp { seconds, nanos, special: 0 };
        let cases: Vec<(Value, &str)> = vec![
            (Value::null(), "null"),
            (Value::int64(i64::MIN), r#"{"int64":-9223372036854775808}"#),
            (Value::of(K::Uint64(u64::MAX)), r#"{"uint64":18446744073709551615}"#),
            (Value::of(K::Float64(0.1)), r#"{"float64":0.1}"#),
            (Value::of(K::Float64(-0.0)), r#"{"float64":-0.0}"#),
            (Value::of(K::Float64(f64::NAN)), r#"{"float64":"NaN"}"#),
            (Value::of(K::Float32(f32::NEG_INFINITY)), r#"{"float32":"-Infinity"}"#),
            (Value::of(K::Float32(0.1)), r#"{"float32":0.1}"#),
            (Value::text("a\u{1}\"é\n"), r#"{"text":"a\u0001\"é\n"}"#),
            (Value::of(K::Bytes(Bytes::from_static(&[0, 255, 1, 2]))), r#"{"bytes":"AP8BAg=="}"#),
            (
                Value::of(K::Uuid(Bytes::from_static(&[
                    0x0e, 0x4c, 0x1c, 0x57, 0x8f, 0x4a, 0x4d, 0x5e, 0x9a, 0x3b, 0x2b, 0x1c, 0x0d, 0x9e, 0x8f, 0x7a,
                ]))),
                r#"{"uuid":"0e4c1c57-8f4a-4d5e-9a3b-2b1c0d9e8f7a"}"#,
            ),
            (Value::of(K::Uuid(Bytes::from_static(&[1, 0xab]))), r#"{"uuid":"01ab"}"#),
            (Value::of(K::Json("{\"a\":1}".into())), r#"{"json":"{\"a\":1}"}"#),
            (Value::of(K::Set(Labels { labels: vec!["a".into(), "b".into()] })), r#"{"set":["a","b"]}"#),
            (Value::of(K::Date(Date { days: 19782, special: 0 })), r#"{"date":"2024-02-29"}"#),
            (Value::of(K::Date(Date { days: -719529, special: 0 })), r#"{"date":"-000001-12-31"}"#),
            (Value::of(K::Date(Date { days: 2932897, special: 0 })), r#"{"date":"+010000-01-01"}"#),
            (Value::of(K::Date(Date { days: 0, special: Special::Zero as i32 })), r#"{"date":"0000-00-00"}"#),
            (Value::of(K::Date(Date { days: 0, special: Special::NegInfinity as i32 })), r#"{"date":"-infinity"}"#),
            (
                Value::of(K::Time(Time { micros: -(838 * 3600 + 59 * 60 + 59) * 1_000_000, ..Default::default() })),
                r#"{"time":"-838:59:59"}"#,
            ),
            (
                Value::of(K::Time(Time { micros: 49_500_500_000, has_offset: true, offset_seconds: -19_800 })),
                r#"{"time":"13:45:00.5-05:30"}"#,
            ),
            (
                Value::of(K::Time(Time { micros: 0, has_offset: true, offset_seconds: 3661 })),
                r#"{"time":"00:00:00+01:01:01"}"#,
            ),
            (Value::of(K::Timestamp(ts(1_709_214_300, 123_456_000))), r#"{"timestamp":"2024-02-29T13:45:00.123456"}"#),
            (Value::of(K::Timestamp(ts(-1, 1))), r#"{"timestamp":"1969-12-31T23:59:59.000000001"}"#),
            (Value::of(K::Timestamptz(ts(1_709_207_100, 500_000_000))), r#"{"timestamptz":"2024-02-29T11:45:00.5Z"}"#),
            (
                Value::of(K::Timestamptz(Timestamp { special: Special::Zero as i32, ..Default::default() })),
                r#"{"timestamptz":"0000-00-00 00:00:00"}"#,
            ),
            (Value::of(K::Interval(Interval { months: 1, days: 2, micros: 3 })), r#"{"interval":{"months":1,"days":2,"micros":3}}"#),
            (
                Value::of(K::Array(Array {
                    element_type: "int4".into(),
                    elements: vec![Value::int64(1), Value::null()],
                })),
                r#"{"array":{"element_type":"int4","elements":[{"int64":1},null]}}"#,
            ),
            (
                Value::of(K::Document(Document {
                    fields: vec![Column { name: "a".into(), value: Some(Value::of(K::Int32(1))) }],
                })),
                r#"{"document":{"a":{"int32":1}}}"#,
            ),
            (Value::unchanged(), r#"{"unchanged":{}}"#),
            (
                Value::of(K::Other(Other { type_name: "point".into(), text: "(1,2)".into() })),
                r#"{"other":{"type":"point","text":"(1,2)"}}"#,
            ),
            (
                Value::of(K::Binary(Binary { subtype: 4, data: Bytes::from_static(&[1, 2, 3]) })),
                r#"{"binary":{"subtype":4,"data":"AQID"}}"#,
            ),
            (
                Value::of(K::Regex(Regex { pattern: "^a".into(), options: "i".into() })),
                r#"{"regex":{"pattern":"^a","options":"i"}}"#,
            ),
            (
                Value::of(K::BsonTimestamp(BsonTimestamp { seconds: 1, increment: 2 })),
                r#"{"bson_timestamp":{"seconds":1,"increment":2}}"#,
            ),
            (
                Value::of(K::ObjectId(Bytes::from_static(&[0x65, 0xf1, 0xc0, 0xff, 0xee, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]))),
                r#"{"object_id":"65f1c0ffee00112233445566"}"#,
            ),
        ];
        for (value, json) in cases {
            assert_eq!(value_json(value), json);
        }
    }

    #[test]
    fn missing_values_are_written_as_null() {
        let c = Change {
            after: Some(Row {
                columns: vec![
                    Column { name: "a".into(), value: None },
                    Column { name: "b".into(), value: Some(Value { kind: None }) },
                ],
            }),
            ..Change::default()
        };
        let json = to_json(&c);
        assert_eq!(json, r#"{"op":"unspecified","after":{"a":null,"b":null}}"#);
        let after = read_change(json.as_bytes()).unwrap().after.unwrap();
        assert_eq!(after, Row::from_pairs([("a", Value::null()), ("b", Value::null())]));
    }

    #[test]
    fn reader_accepts_whitespace_any_order_and_escapes() {
        let input = " {\n \"after\" : { \"b\" : { \"text\" : \"\\u00e9\\ud83e\\udd80\\/\" } , \"a\":null },\r\n\t\"op\":\"insert\" , \"seq\" : 7 }\n";
        let c = read_change(input.as_bytes()).unwrap();
        assert_eq!(c.op(), Op::Insert);
        assert_eq!(c.seq, 7);
        let after = c.after.unwrap();
        assert_eq!(after.columns[0].name, "b");
        assert_eq!(after.columns[1].name, "a");
        assert_eq!(after.get("b"), Some(&Value::text("é🦀/")));
        // Lenient number forms and the uppercase / undashed uuid forms.
        let c = read_change(br#"{"after":{"f":{"float64":1E2},"u":{"uuid":"0E4C1C578F4A4D5E9A3B2B1C0D9E8F7A"}}}"#).unwrap();
        let after = c.after.unwrap();
        assert_eq!(after.get("f"), Some(&Value::of(Kind::Float64(100.0))));
        let json = to_json(&Change { after: Some(after), ..Change::default() });
        assert!(json.contains(r#""u":{"uuid":"0e4c1c57-8f4a-4d5e-9a3b-2b1c0d9e8f7a"}"#), "{json}");
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            err(r#"{"after":{"price":{"decimal":12.5}}}"#),
            "after.price.decimal: expected a decimal string, found a number"
        );
        assert_eq!(err(r#"{"seq":-1}"#), "seq: expected an unsigned 64-bit integer, found -1");
        assert_eq!(
            err(r#"{"after":{"tags":{"array":{"elements":[{"int64":1},{"int64":"2"}]}}}}"#),
            "after.tags.array.elements[1].int64: expected a signed 64-bit integer, found a string"
        );
        assert_eq!(
            err(r#"{"before":{"d":{"date":"2023-02-29"}}}"#),
            "before.d.date: invalid date \"2023-02-29\": expected YYYY-MM-DD, ±YYYYYY-MM-DD, infinity, -infinity or 0000-00-00"
        );
        assert_eq!(err(r#"{"after":{"a b":{"txt":"x"}}}"#), "after[\"a b\"].txt: unknown value kind");
        assert_eq!(err(r#"{"after":{"x":{"text":"a","int64":1}}}"#), "after.x: a value object has exactly one key, the kind");
        assert_eq!(err(r#"{"after":{"x":{}}}"#), "after.x: empty value object: expected one key naming the kind");
        assert_eq!(err(r#"{"op":"upsert"}"#), "op: unknown op \"upsert\"");
        assert_eq!(err(r#"{"tabel":{}}"#), "tabel: unknown field");
        assert_eq!(err(r#"{"seq":1,"seq":2}"#), "seq: repeated field");
        assert_eq!(err(r#"{"commit_time":"2024-02-29T11:45:00"}"#).split(':').next(), Some("commit_time"));
        assert_eq!(err(r#"{"after":{"t":{"timestamp":"2024-02-29T11:45:00Z"}}}"#).split(':').next(), Some("after.t.timestamp"));
        assert_eq!(err(r#"{"after":{"t":{"time":"12:60:00"}}}"#).split(':').next(), Some("after.t.time"));
        assert_eq!(err(r#"{"after":{"t":{"time":"12:00:00.1234567"}}}"#).split(':').next(), Some("after.t.time"));
        assert_eq!(err("[1]"), "record: expected an object (a change record), found an array");
        assert_eq!(err(r#"{"pipeline":"a",}"#), "record: malformed JSON at byte 16: expected a field name in double quotes");
        assert_eq!(err(r#"{"pipeline":"a"} x"#), "record: malformed JSON at byte 17: unexpected characters after the record");
        assert_eq!(err(r#"{"after":{"x":{"text":"a"#), "after.x.text: malformed JSON at byte 24: unterminated string");
        assert_eq!(err("{\"pipeline\":\"\u{1}\"}"), "pipeline: malformed JSON at byte 13: unescaped control character in string");
        assert_eq!(err(r#"{"pipeline":"\ud800"}"#), "pipeline: malformed JSON at byte 19: unpaired surrogate in \\u escape");
        assert_eq!(
            read_change(b"{\"pipeline\":\"\xff\"}").unwrap_err().to_string(),
            "record: malformed JSON at byte 13: invalid UTF-8"
        );
        assert!(err(r#"{"after":{"b":{"bytes":"AP8"}}}"#).starts_with("after.b.bytes: expected a base64 string"));
        assert_eq!(err(r#"{"after":{"i":{"int32":2147483648}}}"#), "after.i.int32: expected a signed 32-bit integer, found 2147483648");
        assert_eq!(err(r#"{"after":{"i":{"int64":1.0}}}"#), "after.i.int64: expected a signed 64-bit integer, found 1.0");
        assert_eq!(err(r#"{"after":{"d":{"date":"+1000000000000-01-01"}}}"#).split(':').next(), Some("after.d.date"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let mut s = String::from(r#"{"after":{"x":"#);
        for _ in 0..100_000 {
            s.push_str(r#"{"array":{"elements":["#);
        }
        let e = err(&s);
        assert!(e.ends_with(": values nested too deeply"), "{}", &e[e.len() - 60..]);
    }

    #[test]
    fn calendar_matches_a_day_by_day_walk() {
        // From 1970-01-01 forward and backward over 800 years, every day.
        for dir in [1i64, -1] {
            let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
            for n in 0..(800 * 366) {
                let days = n * dir;
                assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
                assert_eq!(days_from_civil(y, m, d), i128::from(days));
                if dir > 0 {
                    d += 1;
                    if d > days_in_month(y, m) {
                        d = 1;
                        m += 1;
                        if m > 12 {
                            m = 1;
                            y += 1;
                        }
                    }
                } else {
                    d -= 1;
                    if d == 0 {
                        if m == 1 {
                            m = 12;
                            y -= 1;
                        } else {
                            m -= 1;
                        }
                        d = days_in_month(y, m);
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn json_round_trips(c in arb_change()) {
            let json = to_json(&c);
            let back = read_change(json.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}\n{json}")))?;
            assert_same(&c, &back);
            serde_json::from_str::<serde_json::Value>(&json).map_err(|e| TestCaseError::fail(format!("{e}\n{json}")))?;
        }

        #[test]
        fn floats_round_trip_bit_exact(f in any::<u64>(), g in any::<u32>()) {
            let (f, g) = (f64::from_bits(f), f32::from_bits(g));
            let c = Change {
                after: Some(Row::from_pairs([
                    ("f", Value::of(Kind::Float64(f))),
                    ("g", Value::of(Kind::Float32(g))),
                ])),
                ..Change::default()
            };
            let back = read_change(to_json(&c).as_bytes()).unwrap().after.unwrap();
            match (&back.columns[0].value, &back.columns[1].value) {
                (Some(Value { kind: Some(Kind::Float64(f2)) }), Some(Value { kind: Some(Kind::Float32(g2)) })) => {
                    prop_assert!(f2.to_bits() == f.to_bits() || (f.is_nan() && f2.is_nan()));
                    prop_assert!(g2.to_bits() == g.to_bits() || (g.is_nan() && g2.is_nan()));
                }
                other => prop_assert!(false, "{other:?}"),
            }
        }

        #[test]
        fn reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = read_change(&bytes);
        }

        #[test]
        fn reader_never_panics_on_mutated_records(c in arb_change(), at in any::<usize>(), b in any::<u8>()) {
            let mut json = to_json(&c).into_bytes();
            let at = at % json.len();
            json[at] = b;
            let _ = read_change(&json);
            json.truncate(at);
            let _ = read_change(&json);
        }
    }
}
