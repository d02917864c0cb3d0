//! Writing: a [`Change`] as one compact JSON object, its rows and its
//! values (everything but the date and time texts, in `temporal`).

use super::temporal::{w_date, w_time, w_timestamp};
use super::string::write_json_string;
use super::{logical_kind_name, op_name, B64, VEC_WRITE};
use crate::record::{value::Kind, Change, Column, LogicalType, TableRef, Value};
use base64::Engine as _;
use serde_json::ser::{CompactFormatter, Formatter as _};

/// Appends the canonical JSON of `change` (one object, no trailing newline)
/// to `out`.
pub fn write_change(change: &Change, out: &mut Vec<u8>) {
    let mut o = Obj::open(out);
    if !change.pipeline.is_empty() {
        write_json_string(o.key("pipeline"), &change.pipeline);
    }
    if !change.source.is_empty() {
        write_json_string(o.key("source"), &change.source);
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
            write_json_string(po.key("display"), &p.display);
        }
        po.close();
    }
    if !change.tx_id.is_empty() {
        write_json_string(o.key("tx_id"), &change.tx_id);
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
                        write_json_string(co.key("name"), &c.name);
                    }
                    if !c.source_type.is_empty() {
                        write_json_string(co.key("source_type"), &c.source_type);
                    }
                    if c.nullable {
                        co.key("nullable").extend_from_slice(b"true");
                    }
                    if let Some(l) = &c.logical {
                        w_logical(co.key("logical"), l);
                    }
                    if !c.type_dialect.is_empty() {
                        write_json_string(co.key("type_dialect"), &c.type_dialect);
                    }
                    co.close();
                }
                out.push(b']');
            }
            if !s.key_columns.is_empty() {
                w_str_list(to.key("key"), &s.key_columns);
            }
            if s.documents {
                to.key("documents").extend_from_slice(b"true");
            }
            to.close();
        }
        if !sc.ddl.is_empty() {
            write_json_string(so.key("ddl"), &sc.ddl);
        }
        so.close();
    }
    if let Some(m) = &change.message {
        let mut mo = Obj::open(o.key("message"));
        if !m.prefix.is_empty() {
            write_json_string(mo.key("prefix"), &m.prefix);
        }
        if !m.content.is_empty() {
            w_b64(mo.key("content"), &m.content);
        }
        if m.transactional {
            mo.key("transactional").extend_from_slice(b"true");
        }
        mo.close();
    }
    if change.documents {
        o.key("documents").extend_from_slice(b"true");
    }
    o.close();
}

/// A column's [`LogicalType`]: `kind` always (its lowercase name, or the
/// number when this version does not know it), the other fields only when
/// not empty, in proto order.
fn w_logical(out: &mut Vec<u8>, t: &LogicalType) {
    let mut o = Obj::open(out);
    let out = o.key("kind");
    match logical_kind_name(t.kind) {
        Some(name) => write_json_string(out, &name),
        None => w_i64(out, i64::from(t.kind)),
    }
    if t.width != 0 {
        w_u64(o.key("width"), u64::from(t.width));
    }
    if t.unsigned {
        o.key("unsigned").extend_from_slice(b"true");
    }
    if t.precision != 0 {
        w_u64(o.key("precision"), u64::from(t.precision));
    }
    if t.scale != 0 {
        w_u64(o.key("scale"), u64::from(t.scale));
    }
    if t.has_precision {
        o.key("has_precision").extend_from_slice(b"true");
    }
    if t.fixed_length {
        o.key("fixed_length").extend_from_slice(b"true");
    }
    if t.with_time_zone {
        o.key("with_time_zone").extend_from_slice(b"true");
    }
    if !t.labels.is_empty() {
        w_str_list(o.key("labels"), &t.labels);
    }
    if let Some(e) = &t.element {
        w_logical(o.key("element"), e);
    }
    if !t.name.is_empty() {
        write_json_string(o.key("name"), &t.name);
    }
    if t.boolean_like {
        o.key("boolean_like").extend_from_slice(b"true");
    }
    o.close();
}

/// An object being written: tracks the comma between fields.
pub(super) struct Obj<'a> {
    pub(super) out: &'a mut Vec<u8>,
    pub(super) first: bool,
}

impl<'a> Obj<'a> {
    pub(super) fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }

    /// Writes `"key":` (key needs no escaping) and returns the output for
    /// the value.
    pub(super) fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    pub(super) fn close(self) {
        self.out.push(b'}');
    }
}

pub(super) fn w_str_list(out: &mut Vec<u8>, list: &[String]) {
    out.push(b'[');
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_string(out, s);
    }
    out.push(b']');
}

pub(super) fn w_i64(out: &mut Vec<u8>, v: i64) {
    CompactFormatter.write_i64(out, v).expect(VEC_WRITE);
}

pub(super) fn w_u64(out: &mut Vec<u8>, v: u64) {
    CompactFormatter.write_u64(out, v).expect(VEC_WRITE);
}

pub(super) fn w_bool(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

pub(super) fn w_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        CompactFormatter.write_f64(out, v).expect(VEC_WRITE);
    } else {
        w_nonfinite(out, v.is_nan(), v > 0.0);
    }
}

pub(super) fn w_f32(out: &mut Vec<u8>, v: f32) {
    if v.is_finite() {
        CompactFormatter.write_f32(out, v).expect(VEC_WRITE);
    } else {
        w_nonfinite(out, v.is_nan(), v > 0.0);
    }
}

pub(super) fn w_nonfinite(out: &mut Vec<u8>, nan: bool, positive: bool) {
    out.extend_from_slice(match (nan, positive) {
        (true, _) => b"\"NaN\"",
        (false, true) => b"\"Infinity\"",
        (false, false) => b"\"-Infinity\"",
    });
}

/// Base64 (standard, padded) as a JSON string; the alphabet needs no escaping.
pub(super) fn w_b64(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'"');
    let start = out.len();
    let len = base64::encoded_len(data.len(), true).expect("base64 length fits usize");
    out.resize(start + len, 0);
    B64.encode_slice(data, &mut out[start..])
        .expect("buffer sized by encoded_len");
    out.push(b'"');
}

pub(super) const HEX: &[u8; 16] = b"0123456789abcdef";

pub(super) fn w_hex_raw(out: &mut Vec<u8>, data: &[u8]) {
    for b in data {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

pub(super) fn w_hex(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'"');
    w_hex_raw(out, data);
    out.push(b'"');
}

pub(super) fn w_uuid(out: &mut Vec<u8>, data: &[u8]) {
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

pub(super) fn w_table(out: &mut Vec<u8>, t: &TableRef) {
    let mut o = Obj::open(out);
    if !t.schema.is_empty() {
        write_json_string(o.key("schema"), &t.schema);
    }
    if !t.name.is_empty() {
        write_json_string(o.key("name"), &t.name);
    }
    o.close();
}

pub(super) fn w_row(out: &mut Vec<u8>, columns: &[Column]) {
    out.push(b'{');
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_string(out, &c.name);
        out.push(b':');
        w_value(out, c.value.as_ref());
    }
    out.push(b'}');
}

pub(super) fn w_value(out: &mut Vec<u8>, v: Option<&Value>) {
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
            write_json_string(out, s);
        }
        Kind::Decimal128(s) => {
            tag!("decimal128");
            write_json_string(out, s);
        }
        Kind::Text(s) => {
            tag!("text");
            write_json_string(out, s);
        }
        Kind::Json(s) => {
            tag!("json");
            write_json_string(out, s);
        }
        Kind::EnumLabel(s) => {
            tag!("enum");
            write_json_string(out, s);
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
            write_json_string(out, &a.element_type);
            out.extend_from_slice(b",\"elements\":[");
            for (i, e) in a.elements.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                w_value(out, Some(e));
            }
            out.push(b']');
            if !a.lower_bounds.is_empty() {
                out.extend_from_slice(b",\"lower_bounds\":[");
                for (i, lo) in a.lower_bounds.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    w_i64(out, i64::from(*lo));
                }
                out.push(b']');
            }
            out.push(b'}');
        }
        Kind::Document(d) => {
            tag!("document");
            w_row(out, &d.fields);
        }
        Kind::Unchanged(_) => out.extend_from_slice(b"{\"unchanged\":{}"),
        Kind::Other(o) => {
            tag!("other");
            out.extend_from_slice(b"{\"type\":");
            write_json_string(out, &o.type_name);
            out.extend_from_slice(b",\"text\":");
            write_json_string(out, &o.text);
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
            write_json_string(out, &r.pattern);
            out.extend_from_slice(b",\"options\":");
            write_json_string(out, &r.options);
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
