//! BSON ↔ canonical values: how MongoDB documents become rows and back.
//!
//! # Documents as rows
//!
//! A MongoDB document becomes a [`Row`] whose columns are its top-level
//! fields in BSON order ([`document_to_row`]); [`row_to_document`] is the
//! inverse. Every BSON type has a canonical [`Value`] kind that converts back
//! to the very same BSON value (same type, same bits):
//!
//! | BSON | canonical value |
//! |---|---|
//! | double, string, bool, null | `float64`, `text`, `bool`, `null` |
//! | int32, int64 | `int32`, `int64` (kept apart: a target sees which it was) |
//! | document, array | `document` (fields in order), `array` (`element_type` empty) |
//! | binary (any subtype, 0x80.. user-defined too) | `binary {subtype, data}` |
//! | objectId, decimal128, regex, timestamp | `object_id`, `decimal128` (exact text), `regex`, `bson_timestamp` |
//! | date | `timestamptz` (milliseconds; negative dates floor) |
//! | javascript, javascriptWithScope, symbol, undefined, minKey, maxKey, dbPointer | `other {type_name: "bson:<type>", text: canonical Extended JSON}` |
//!
//! Decimal128 text is the form of the decimal128 specification (`1.10`,
//! `-0`, `1.000000000000000000000000000000000E+6144`, `Infinity`), which
//! keeps the coefficient and exponent exactly. NaNs keep their sign and
//! signalling bit (`-NaN`, `sNaN`); NaN payload bits and non-canonical
//! encodings (coefficients above 10^34 − 1, which the specification reads as
//! zero) are not kept: they come back as the canonical value they stand for.
//!
//! # Values from SQL sources
//!
//! [`value_to_bson`] also maps the SQL kinds to the nearest BSON type without
//! losing anything: `uint64` above `i64::MAX` and exact decimals become
//! Decimal128 when they fit in 34 significant digits (else a string with the
//! exact text), `float32` becomes the double of its shortest text (`0.1f32`
//! → `0.1`), dates, times, zone-less timestamps and intervals become strings
//! (ISO-8601, PostgreSQL's interval text), a `timestamptz` becomes a BSON
//! date unless it has a sub-millisecond part (then an ISO-8601 string with
//! `Z`, never a silently truncated date), uuids binary subtype 4, bytes
//! subtype 0, SET labels an array of strings. The UNCHANGED marker has no
//! BSON form: it is an error here, and a target leaves the stored field as
//! it is instead of writing anything.
//!
//! # `_id`
//!
//! [`document_id`] gives the `_id` of the document a change is about: the
//! `_id` column itself for MongoDB records (also when shard-key fields follow
//! it in the key), the value of the only key column for a SQL table with a
//! single-column key, and the sub-document `{k1: v1, k2: v2}` (key order) for
//! a composite key.

use super::{value::Kind, Array, Binary, BsonTimestamp, Change, Column, Date, Document as ValueDocument, Op, Other, Regex, Row, Special, Time, Timestamp, Value};
use bson::spec::BinarySubtype;
use bson::{Bson, Decimal128, Document};

/// Name of the column that carries a partial update's description (an
/// update event without the full document): a `Document` with
/// `updatedFields` (dotted path → value), `removedFields` (array of text),
/// `truncatedArrays` (array of `{field, newSize}`) and `fullDocumentMissing`
/// (bool: `update_lookup` found no document because it was deleted since; a
/// delete of the same key follows in the stream).
pub const UPDATE_DESCRIPTION: &str = "$updateDescription";

/// Prefix of [`Other::type_name`] for BSON types without a canonical kind.
const OTHER_PREFIX: &str = "bson:";

/// Digits of a Decimal128 coefficient.
const DECIMAL128_DIGITS: usize = 34;
/// Smallest and largest Decimal128 exponent (of the integer coefficient).
const DECIMAL128_MIN_EXP: i64 = -6176;
const DECIMAL128_MAX_EXP: i64 = 6111;

const NANOS_PER_MILLI: u32 = 1_000_000;

/// The canonical value of a BSON value (see the module docs).
pub fn bson_to_value(b: &Bson) -> Value {
    Value::of(match b {
        Bson::Double(f) => Kind::Float64(*f),
        Bson::String(s) => Kind::Text(s.clone()),
        Bson::Array(a) => Kind::Array(Array { lower_bounds: Vec::new(), element_type: String::new(), elements: a.iter().map(bson_to_value).collect() }),
        Bson::Document(d) => Kind::Document(ValueDocument { fields: document_to_row(d).columns }),
        Bson::Boolean(v) => Kind::Bool(*v),
        Bson::Null => Kind::Null(super::Null {}),
        Bson::RegularExpression(r) => Kind::Regex(Regex { pattern: r.pattern.clone(), options: r.options.clone() }),
        Bson::Int32(i) => Kind::Int32(*i),
        Bson::Int64(i) => Kind::Int64(*i),
        Bson::Timestamp(t) => Kind::BsonTimestamp(BsonTimestamp { seconds: t.time, increment: t.increment }),
        Bson::Binary(bin) => Kind::Binary(Binary { subtype: u32::from(u8::from(bin.subtype)), data: bin.bytes.clone().into() }),
        Bson::ObjectId(o) => Kind::ObjectId(o.bytes().to_vec().into()),
        Bson::DateTime(d) => {
            let ms = d.timestamp_millis();
            Kind::Timestamptz(Timestamp {
                seconds: ms.div_euclid(1000),
                nanos: ms.rem_euclid(1000) as u32 * NANOS_PER_MILLI,
                special: Special::Finite as i32,
            })
        }
        Bson::Decimal128(d) => Kind::Decimal128(decimal128_text(d)),
        Bson::JavaScriptCode(_)
        | Bson::JavaScriptCodeWithScope(_)
        | Bson::Symbol(_)
        | Bson::Undefined
        | Bson::MaxKey
        | Bson::MinKey
        | Bson::DbPointer(_) => Kind::Other(Other {
            type_name: format!("{OTHER_PREFIX}{}", other_type_name(b).expect("one of the other types")),
            // Serializing a serde_json::Value cannot fail.
            text: serde_json::to_string(&canonical_extjson(b)).unwrap_or_default(),
        }),
    })
}

/// Canonical Extended JSON of `b`, except that subnormal doubles are
/// written as `$numberDouble` strings too (the `bson` crate writes them as
/// JSON numbers, which serde_json does not read back bit-exactly).
fn canonical_extjson(b: &Bson) -> serde_json::Value {
    match b {
        Bson::Double(f) if f.is_subnormal() => serde_json::json!({ "$numberDouble": format!("{f:?}") }),
        Bson::Array(a) => serde_json::Value::Array(a.iter().map(canonical_extjson).collect()),
        Bson::Document(d) => serde_json::Value::Object(d.iter().map(|(k, v)| (k.clone(), canonical_extjson(v))).collect()),
        Bson::JavaScriptCodeWithScope(c) => serde_json::json!({
            "$code": c.code,
            "$scope": serde_json::Value::Object(c.scope.iter().map(|(k, v)| (k.clone(), canonical_extjson(v))).collect()),
        }),
        other => other.clone().into_canonical_extjson(),
    }
}

/// The `bson:` type name of a BSON type kept as [`Other`].
fn other_type_name(b: &Bson) -> Option<&'static str> {
    Some(match b {
        Bson::JavaScriptCode(_) => "javascript",
        Bson::JavaScriptCodeWithScope(_) => "javascriptWithScope",
        Bson::Symbol(_) => "symbol",
        Bson::Undefined => "undefined",
        Bson::MaxKey => "maxKey",
        Bson::MinKey => "minKey",
        Bson::DbPointer(_) => "dbPointer",
        _ => return None,
    })
}

/// A row of the document's top-level fields, in order.
pub fn document_to_row(d: &Document) -> Row {
    Row { columns: d.iter().map(|(k, v)| Column { name: k.clone(), value: Some(bson_to_value(v)) }).collect() }
}

/// The document of a row's columns, in order; an error names the column.
pub fn row_to_document(row: &Row) -> Result<Document, String> {
    columns_to_document(&row.columns)
}

fn columns_to_document(columns: &[Column]) -> Result<Document, String> {
    let mut doc = Document::new();
    for c in columns {
        let v = c.value.as_ref().ok_or_else(|| format!("field {:?}: the value is missing (an invalid record)", c.name))?;
        let b = value_to_bson(v).map_err(|e| format!("field {:?}: {e}", c.name))?;
        doc.insert(c.name.clone(), b);
    }
    Ok(doc)
}

/// The BSON value of a canonical value (see the module docs). Errors for
/// the UNCHANGED marker, a value without a kind, and malformed BSON-only
/// values (an object id that is not 12 bytes, bad Decimal128 or Extended
/// JSON text).
pub fn value_to_bson(v: &Value) -> Result<Bson, String> {
    let kind = v.kind.as_ref().ok_or("the value has no kind (an invalid record)")?;
    Ok(match kind {
        Kind::Null(_) => Bson::Null,
        Kind::Bool(b) => Bson::Boolean(*b),
        Kind::Int64(i) => Bson::Int64(*i),
        Kind::Int32(i) => Bson::Int32(*i),
        Kind::Uint64(u) => match i64::try_from(*u) {
            Ok(i) => Bson::Int64(i),
            Err(_) => Bson::Decimal128(u.to_string().parse().map_err(|e| format!("uint64 {u}: {e}"))?),
        },
        Kind::Float32(f) => Bson::Double(f32_to_f64(*f)),
        Kind::Float64(f) => Bson::Double(*f),
        Kind::Decimal(s) => match exact_decimal128(s) {
            Some(d) => Bson::Decimal128(d),
            None => Bson::String(s.clone()),
        },
        Kind::Text(s) | Kind::EnumLabel(s) | Kind::Json(s) => Bson::String(s.clone()),
        Kind::Other(o) => match o.type_name.strip_prefix(OTHER_PREFIX) {
            Some(t) => other_from_text(t, &o.text)?,
            None => Bson::String(o.text.clone()),
        },
        Kind::Bytes(b) => Bson::Binary(bson::Binary { subtype: BinarySubtype::Generic, bytes: b.to_vec() }),
        Kind::Uuid(b) => Bson::Binary(bson::Binary { subtype: BinarySubtype::Uuid, bytes: b.to_vec() }),
        Kind::Date(d) => Bson::String(date_text(d)),
        Kind::Time(t) => Bson::String(time_text(t)),
        Kind::Timestamp(t) => Bson::String(timestamp_text(t, false)),
        Kind::Timestamptz(t) => match millis_exact(t) {
            Some(ms) => Bson::DateTime(bson::DateTime::from_millis(ms)),
            None => Bson::String(timestamp_text(t, true)),
        },
        Kind::Interval(i) => Bson::String(crate::record::calendar::postgres_interval(i)),
        Kind::Set(l) => Bson::Array(l.labels.iter().map(|s| Bson::String(s.clone())).collect()),
        Kind::Array(a) => Bson::Array(
            a.elements
                .iter()
                .enumerate()
                .map(|(i, e)| value_to_bson(e).map_err(|m| format!("array element {i}: {m}")))
                .collect::<Result<_, _>>()?,
        ),
        Kind::Document(d) => Bson::Document(columns_to_document(&d.fields)?),
        Kind::ObjectId(b) => {
            let bytes: [u8; 12] = b.as_ref().try_into().map_err(|_| format!("an object id of {} bytes (not 12)", b.len()))?;
            Bson::ObjectId(bson::oid::ObjectId::from_bytes(bytes))
        }
        Kind::Decimal128(s) => Bson::Decimal128(s.parse().map_err(|e| format!("decimal128 {s:?}: {e}"))?),
        Kind::Binary(b) => {
            let subtype = u8::try_from(b.subtype).map_err(|_| format!("binary subtype {} is above 255", b.subtype))?;
            Bson::Binary(bson::Binary { subtype: BinarySubtype::from(subtype), bytes: b.data.to_vec() })
        }
        Kind::Regex(r) => Bson::RegularExpression(bson::Regex { pattern: r.pattern.clone(), options: r.options.clone() }),
        Kind::BsonTimestamp(t) => Bson::Timestamp(bson::Timestamp { time: t.seconds, increment: t.increment }),
        Kind::Unchanged(_) => return Err("an unchanged (not sent) marker has no BSON value; the stored value must be kept".into()),
    })
}

/// The `_id` of the document `change` is about (see the module docs).
pub fn document_id(change: &Change) -> Result<Bson, String> {
    let row = match change.op() {
        Op::Delete => change.before.as_ref(),
        _ => change.after.as_ref().or(change.before.as_ref()),
    };
    let row = row.ok_or("the record has no row image to take the key from")?;
    row_id(&change.key_columns, row)
}

/// The `_id` of `row` for a record keyed by `key_columns` (see the module
/// docs); used for the old key of a key-changing update too.
pub fn row_id(key_columns: &[String], row: &Row) -> Result<Bson, String> {
    let value = |name: &str| -> Result<Bson, String> {
        let v = row.get(name).ok_or_else(|| format!("the row has no value for key column {name:?}"))?;
        value_to_bson(v).map_err(|e| format!("key column {name:?}: {e}"))
    };
    match key_columns {
        [] => Err("a table without a primary key (replicated by whole rows, no key columns) cannot go to a MongoDB \
                   target: its rows have no _id to upsert and delete by; add a primary key to the source table, name \
                   the columns that identify a row in a [[pipeline.table]] rule (key = [\"…\"]), or leave the table \
                   out of this target's `tables`"
            .into()),
        k if k.iter().any(|c| c == "_id") => value("_id"),
        [single] => value(single),
        several => {
            let mut doc = Document::new();
            for k in several {
                doc.insert(k.clone(), value(k)?);
            }
            Ok(Bson::Document(doc))
        }
    }
}

/// The shortest text of `f` read as a double, so `0.1f32` is `0.1`.
fn f32_to_f64(f: f32) -> f64 {
    if f.is_finite() {
        // The shortest round-trip text of an f32 always parses.
        f.to_string().parse().unwrap_or(f64::from(f))
    } else {
        f64::from(f)
    }
}

/// The exact text of a Decimal128 (see the module docs).
pub fn decimal128_text(d: &Decimal128) -> String {
    let bytes = d.bytes();
    // Little-endian: the sign and combination field are in the last byte.
    let high = bytes[15];
    if high & 0x7C == 0x7C {
        let sign = if high & 0x80 != 0 { "-" } else { "" };
        let signalling = if high & 0x02 != 0 { "s" } else { "" };
        return format!("{sign}{signalling}NaN");
    }
    d.to_string()
}

/// `s` (an exact decimal as a source prints it) as a Decimal128, when it
/// is exactly representable: NaN and the infinities, or at most 34
/// significant digits with an exponent in range.
fn exact_decimal128(s: &str) -> Option<Decimal128> {
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if ["nan", "infinity", "inf"].contains(&unsigned.to_ascii_lowercase().as_str()) {
        return s.parse().ok();
    }
    let (mantissa, exp) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().ok()?),
        None => (unsigned, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = format!("{int}{frac}");
    let significant = digits.trim_start_matches('0').len().max(1);
    let exp = exp.checked_sub(frac.len() as i64)?;
    if significant > DECIMAL128_DIGITS || !(DECIMAL128_MIN_EXP..=DECIMAL128_MAX_EXP).contains(&exp) {
        return None;
    }
    s.parse().ok()
}

/// A BSON-only value from its `bson:<type>` name and canonical Extended JSON.
fn other_from_text(type_name: &str, text: &str) -> Result<Bson, String> {
    let bad = |why: String| format!("a bson:{type_name} value with text {}: {why}", excerpt(text));
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let b = Bson::try_from(json).map_err(|e| bad(e.to_string()))?;
    match other_type_name(&b) {
        Some(t) if t == type_name => Ok(b),
        _ => Err(bad(format!("the text is a BSON {:?}", b.element_type()))),
    }
}

fn excerpt(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        None => format!("{s:?}"),
        Some((i, _)) => format!("{:?}…", &s[..i]),
    }
}

/// Milliseconds since the epoch of a finite timestamptz without a
/// sub-millisecond part.
fn millis_exact(t: &Timestamp) -> Option<i64> {
    if t.special != Special::Finite as i32 {
        return None;
    }
    if t.nanos % NANOS_PER_MILLI != 0 {
        return None;
    }
    // i128: floor-divided negative dates near i64::MIN milliseconds overflow i64 on the way.
    i64::try_from(i128::from(t.seconds) * 1000 + i128::from(t.nanos / NANOS_PER_MILLI)).ok()
}

/// ISO-8601 text of a timestamp (`Z` with `utc`), or `infinity`, `-infinity`.
fn timestamp_text(t: &Timestamp, utc: bool) -> String {
    let s = super::json::format_timestamptz(t);
    if !utc && t.special == Special::Finite as i32 {
        s.trim_end_matches('Z').to_string()
    } else {
        s
    }
}

/// `YYYY-MM-DD` (years outside 0..=9999 as `±YYYYYY`), or `infinity`,
/// `-infinity`, `0000-00-00`.
fn date_text(d: &Date) -> String {
    match Special::try_from(d.special).unwrap_or(Special::Finite) {
        Special::Finite => {
            let (y, m, day) = super::calendar::civil_from_days(i64::from(d.days));
            let year = if (0..=9999).contains(&y) { format!("{y:04}") } else { format!("{}{:06}", if y < 0 { '-' } else { '+' }, y.unsigned_abs()) };
            format!("{year}-{m:02}-{day:02}")
        }
        Special::PosInfinity => "infinity".into(),
        Special::NegInfinity => "-infinity".into(),
        Special::Zero => "0000-00-00".into(),
    }
}

/// `[-]HH:MM:SS[.ffffff][±HH:MM[:SS]]`.
fn time_text(t: &Time) -> String {
    let mut out = String::new();
    if t.micros < 0 {
        out.push('-');
    }
    hms(t.micros.unsigned_abs(), &mut out);
    if t.has_offset {
        let a = t.offset_seconds.unsigned_abs();
        out.push_str(&format!("{}{:02}:{:02}", if t.offset_seconds < 0 { '-' } else { '+' }, a / 3600, a / 60 % 60));
        if a % 60 != 0 {
            out.push_str(&format!(":{:02}", a % 60));
        }
    }
    out
}

/// `HH:MM:SS` of `micros`, then `.` and the fraction without trailing zeros.
fn hms(micros: u64, out: &mut String) {
    out.push_str(&format!("{:02}:{:02}:{:02}", micros / 3_600_000_000, micros / 60_000_000 % 60, micros / 1_000_000 % 60));
    let f = micros % 1_000_000;
    if f != 0 {
        out.push('.');
        out.push_str(format!("{f:06}").trim_end_matches('0'));
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, oid::ObjectId};
    use proptest::prelude::*;

    /// The BSON bytes of `{"v": b}`: equal bytes mean the very same value
    /// (type, bits, field order), NaNs included.
    fn bytes_of(b: &Bson) -> Vec<u8> {
        bson::to_vec(&doc! { "v": b.clone() }).unwrap()
    }

    fn round_trips(b: &Bson) {
        let v = bson_to_value(b);
        let back = value_to_bson(&v).unwrap_or_else(|e| panic!("{b:?} → {v:?}: {e}"));
        assert_eq!(bytes_of(&back), bytes_of(b), "{b:?} → {v:?} → {back:?}");
        // The canonical value survives its JSON form too (except a NaN's
        // sign and payload, which the JSON form does not keep).
        if matches!(b, Bson::Double(f) if f.is_nan()) {
            return;
        }
        let mut c = Change { after: Some(Row::from_pairs([("v", v.clone())])), ..Default::default() };
        c.op = Op::Insert as i32;
        let mut json = Vec::new();
        super::super::json::write_change(&c, &mut json);
        let read = super::super::json::read_change(&json).unwrap();
        let encoded = |v: &Value| prost::Message::encode_to_vec(v);
        assert_eq!(read.after.unwrap().get("v").map(encoded), Some(encoded(&v)), "{}", String::from_utf8_lossy(&json));
    }

    fn ext(json: serde_json::Value) -> Bson {
        Bson::try_from(json).unwrap()
    }

    fn dec(s: &str) -> Bson {
        Bson::Decimal128(s.parse().unwrap())
    }

    fn dec_hex(hex_be: &str) -> Decimal128 {
        let n = u128::from_str_radix(hex_be, 16).unwrap();
        Decimal128::from_bytes(n.to_le_bytes())
    }

    fn every_type() -> Vec<Bson> {
        let mut v = vec![
            Bson::Double(1.5),
            Bson::Double(-0.0),
            Bson::Double(0.0),
            Bson::Double(f64::NAN),
            Bson::Double(-f64::NAN),
            Bson::Double(f64::INFINITY),
            Bson::Double(f64::NEG_INFINITY),
            Bson::Double(5e-324),
            Bson::Double(f64::MAX),
            Bson::Double(0.1),
            Bson::Double(3.0),
            Bson::String("héllo \u{0} \"x\"".into()),
            Bson::String(String::new()),
            Bson::Array(vec![Bson::Int32(1), Bson::String("a".into()), Bson::Array(vec![]), Bson::Null]),
            Bson::Document(doc! { "z": 1, "a": { "y": [1_i64, 2.5], "b": null }, "m": "x" }),
            Bson::Document(doc! {}),
            Bson::Boolean(true),
            Bson::Boolean(false),
            Bson::Null,
            Bson::RegularExpression(bson::Regex { pattern: "^a.*b$".into(), options: "imsux".into() }),
            Bson::RegularExpression(bson::Regex { pattern: "x".into(), options: "xi".into() }),
            Bson::RegularExpression(bson::Regex { pattern: String::new(), options: String::new() }),
            Bson::Int32(0),
            Bson::Int32(i32::MIN),
            Bson::Int32(i32::MAX),
            Bson::Int64(0),
            Bson::Int64(1),
            Bson::Int64(i64::MIN),
            Bson::Int64(i64::MAX),
            Bson::Timestamp(bson::Timestamp { time: 1_700_000_000, increment: 7 }),
            Bson::Timestamp(bson::Timestamp { time: u32::MAX, increment: u32::MAX }),
            Bson::ObjectId(ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap()),
            Bson::DateTime(bson::DateTime::from_millis(0)),
            Bson::DateTime(bson::DateTime::from_millis(1_700_000_000_123)),
            Bson::DateTime(bson::DateTime::from_millis(-1)),
            Bson::DateTime(bson::DateTime::from_millis(-62_135_596_800_001)),
            Bson::DateTime(bson::DateTime::from_millis(i64::MIN)),
            Bson::DateTime(bson::DateTime::from_millis(i64::MAX)),
            Bson::JavaScriptCode("function () { return 1; }".into()),
            Bson::JavaScriptCodeWithScope(bson::JavaScriptCodeWithScope {
                code: "x + y".into(),
                scope: doc! { "y": 2, "x": 1_i64, "f": 0.5, "n": { "d": bson::DateTime::from_millis(-5) }, "tiny": 5e-324 },
            }),
            Bson::Symbol("sym".into()),
            Bson::Undefined,
            Bson::MinKey,
            Bson::MaxKey,
            ext(serde_json::json!({ "$dbPointer": { "$ref": "db.coll", "$id": { "$oid": "65a1b2c3d4e5f60718293a4b" } } })),
        ];
        for subtype in [0_u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x0a, 0x7f, 0x80, 0x81, 0xff] {
            v.push(Bson::Binary(bson::Binary { subtype: BinarySubtype::from(subtype), bytes: vec![0, 1, 2, 0xff, subtype] }));
        }
        v.push(Bson::Binary(bson::Binary { subtype: BinarySubtype::Generic, bytes: vec![] }));
        for d in [
            "0", "-0", "1.10", "0.000001", "1E-7", "-1.23E+5", "1.000000000000000000000000000000000E+6144", "0E-6176",
            "0E+6111", "9.999999999999999999999999999999999E+6144", "1E-6176", "-1E-6176", "1234567890123456789012345678901234",
            "NaN", "-NaN", "sNaN", "-sNaN", "Infinity", "-Infinity", "100000", "1E+3",
        ] {
            v.push(dec(d));
        }
        v
    }

    #[test]
    fn every_bson_type_round_trips_exactly() {
        for b in every_type() {
            round_trips(&b);
        }
        // All in one document, order kept.
        let mut d = Document::new();
        for (i, b) in every_type().into_iter().enumerate() {
            d.insert(format!("f{i}"), b);
        }
        let row = document_to_row(&d);
        assert_eq!(row.columns.len(), d.len());
        let back = row_to_document(&row).unwrap();
        assert_eq!(bson::to_vec(&back).unwrap(), bson::to_vec(&d).unwrap());
    }

    #[test]
    fn numeric_types_stay_distinct() {
        let kinds: Vec<_> = [Bson::Int32(1), Bson::Int64(1), Bson::Double(1.0), dec("1")]
            .iter()
            .map(|b| bson_to_value(b).kind.unwrap())
            .collect();
        assert_eq!(kinds, vec![Kind::Int32(1), Kind::Int64(1), Kind::Float64(1.0), Kind::Decimal128("1".into())]);
    }

    #[test]
    fn kinds_of_the_bson_only_types() {
        let k = |b: Bson| bson_to_value(&b).kind.unwrap();
        assert_eq!(
            k(Bson::DateTime(bson::DateTime::from_millis(-1))),
            Kind::Timestamptz(Timestamp { seconds: -1, nanos: 999_000_000, special: 0 })
        );
        assert_eq!(
            k(Bson::DateTime(bson::DateTime::from_millis(1_500))),
            Kind::Timestamptz(Timestamp { seconds: 1, nanos: 500_000_000, special: 0 })
        );
        assert_eq!(k(Bson::Symbol("s".into())), Kind::Other(Other { type_name: "bson:symbol".into(), text: r#"{"$symbol":"s"}"#.into() }));
        assert_eq!(k(Bson::MinKey), Kind::Other(Other { type_name: "bson:minKey".into(), text: r#"{"$minKey":1}"#.into() }));
        assert_eq!(k(Bson::MaxKey), Kind::Other(Other { type_name: "bson:maxKey".into(), text: r#"{"$maxKey":1}"#.into() }));
        assert_eq!(k(Bson::Undefined), Kind::Other(Other { type_name: "bson:undefined".into(), text: r#"{"$undefined":true}"#.into() }));
        assert_eq!(k(Bson::JavaScriptCode("f()".into())), Kind::Other(Other { type_name: "bson:javascript".into(), text: r#"{"$code":"f()"}"#.into() }));
        assert_eq!(
            k(Bson::JavaScriptCodeWithScope(bson::JavaScriptCodeWithScope { code: "a".into(), scope: doc! {"b": 1, "a": 2} })),
            Kind::Other(Other {
                type_name: "bson:javascriptWithScope".into(),
                text: r#"{"$code":"a","$scope":{"b":{"$numberInt":"1"},"a":{"$numberInt":"2"}}}"#.into()
            })
        );
        let Kind::Other(p) = k(ext(serde_json::json!({ "$dbPointer": { "$ref": "d.c", "$id": { "$oid": "65a1b2c3d4e5f60718293a4b" } } }))) else {
            panic!()
        };
        assert_eq!(p.type_name, "bson:dbPointer");
        assert_eq!(p.text, r#"{"$dbPointer":{"$ref":"d.c","$id":{"$oid":"65a1b2c3d4e5f60718293a4b"}}}"#);
        assert_eq!(k(Bson::Array(vec![])), Kind::Array(Array { lower_bounds: Vec::new(), element_type: String::new(), elements: vec![] }));
        assert_eq!(
            k(Bson::Binary(bson::Binary { subtype: BinarySubtype::UserDefined(0x80), bytes: vec![1] })),
            Kind::Binary(Binary { subtype: 0x80, data: vec![1].into() })
        );
    }

    #[test]
    fn bad_bson_only_values_are_errors() {
        let other = |t: &str, text: &str| Value::of(Kind::Other(Other { type_name: t.into(), text: text.into() }));
        assert!(value_to_bson(&other("bson:symbol", r#"{"$minKey":1}"#)).unwrap_err().contains("bson:symbol"));
        assert!(value_to_bson(&other("bson:symbol", "not json")).is_err());
        assert!(value_to_bson(&other("bson:nope", r#"{"$minKey":1}"#)).is_err());
        // Other type names are text.
        assert_eq!(value_to_bson(&other("point", "(1,2)")).unwrap(), Bson::String("(1,2)".into()));
        assert!(value_to_bson(&Value::of(Kind::ObjectId(vec![1, 2].into()))).is_err());
        assert!(value_to_bson(&Value::of(Kind::Decimal128("1.2.3".into()))).is_err());
        assert!(value_to_bson(&Value::of(Kind::Binary(Binary { subtype: 256, data: vec![].into() }))).is_err());
        assert!(value_to_bson(&Value::unchanged()).unwrap_err().contains("unchanged"));
        assert!(value_to_bson(&Value { kind: None }).unwrap_err().contains("no kind"));
        let nested = Value::of(Kind::Array(Array { lower_bounds: Vec::new(), element_type: String::new(), elements: vec![Value::int64(1), Value::unchanged()] }));
        assert!(value_to_bson(&nested).unwrap_err().contains("array element 1"));
        let row = Row::from_pairs([("a", Value::int64(1)), ("t", Value::unchanged())]);
        assert!(row_to_document(&row).unwrap_err().contains("\"t\""));
    }

    /// Encodings from the decimal128 specification's test corpus
    /// (high word first).
    #[test]
    fn decimal128_text_matches_known_encodings() {
        for (hex, text) in [
            ("30400000000000000000000000000000", "0"),
            ("B0400000000000000000000000000000", "-0"),
            ("30400000000000000000000000000001", "1"),
            ("303C000000000000000000000000006E", "1.10"),
            ("7C000000000000000000000000000000", "NaN"),
            ("FC000000000000000000000000000000", "-NaN"),
            ("7E000000000000000000000000000000", "sNaN"),
            ("78000000000000000000000000000000", "Infinity"),
            ("F8000000000000000000000000000000", "-Infinity"),
            ("5FFE314DC6448D9338C15B0A00000000", "1.000000000000000000000000000000000E+6144"),
            ("5FFFED09BEAD87C0378D8E63FFFFFFFF", "9.999999999999999999999999999999999E+6144"),
            ("00000000000000000000000000000001", "1E-6176"),
            ("00000000000000000000000000000000", "0E-6176"),
            ("5FFE0000000000000000000000000000", "0E+6111"),
            ("3036000000000000000000000000007B", "0.00123"),
            ("30320000000000000000000000000001", "1E-7"),
            ("30400000000000000000000000003039", "12345"),
            ("30423CDE6FFF9732DE825CD07E96AFF2", "1.234567890123456789012345678901234E+34"),
        ] {
            let d = dec_hex(hex);
            assert_eq!(decimal128_text(&d), text, "{hex}");
            let parsed: Decimal128 = text.parse().unwrap();
            assert_eq!(parsed.bytes(), d.bytes(), "{text}");
        }
        // A NaN's payload is not kept; a non-canonical coefficient (≥ 10^34)
        // is zero, as the specification says.
        assert_eq!(decimal128_text(&dec_hex("7C000000000000000000000000000001")), "NaN");
        assert_eq!(decimal128_text(&dec_hex("6C10000000000000000000000000000A")), "0");
    }

    fn sql(kind: Kind) -> Bson {
        value_to_bson(&Value::of(kind)).unwrap()
    }

    #[test]
    fn sql_kinds_map_as_documented() {
        assert_eq!(sql(Kind::Null(super::super::Null {})), Bson::Null);
        assert_eq!(sql(Kind::Bool(true)), Bson::Boolean(true));
        assert_eq!(sql(Kind::Int64(-5)), Bson::Int64(-5));
        assert_eq!(sql(Kind::Int32(-5)), Bson::Int32(-5));
        assert_eq!(sql(Kind::Uint64(7)), Bson::Int64(7));
        assert_eq!(sql(Kind::Uint64(i64::MAX as u64)), Bson::Int64(i64::MAX));
        assert_eq!(sql(Kind::Uint64(u64::MAX)), dec("18446744073709551615"));
        assert_eq!(sql(Kind::Float32(0.1)), Bson::Double(0.1));
        assert_eq!(sql(Kind::Float32(f32::MAX)), Bson::Double(3.4028235e38));
        assert_eq!(sql(Kind::Float32(f32::NEG_INFINITY)), Bson::Double(f64::NEG_INFINITY));
        assert!(matches!(sql(Kind::Float32(f32::NAN)), Bson::Double(f) if f.is_nan()));
        assert_eq!(sql(Kind::Float64(-2.5)), Bson::Double(-2.5));
        for (text, want) in [
            ("-12.3400", dec("-12.3400")),
            ("0", dec("0")),
            ("0.000", dec("0.000")),
            ("NaN", dec("NaN")),
            ("Infinity", dec("Infinity")),
            ("-Infinity", dec("-Infinity")),
            ("1234567890123456789012345678901234", dec("1234567890123456789012345678901234")),
            ("0000000000123456789012345678901234567890.1234", dec("123456789012345678901234567890.1234")),
            ("0.000012345678901234567890123456789012345", Bson::String("0.000012345678901234567890123456789012345".into())),
            ("12345678901234567890123456789012345", Bson::String("12345678901234567890123456789012345".into())),
            ("1.0000000000000000000000000000000000", Bson::String("1.0000000000000000000000000000000000".into())),
            ("0.000000001", dec("0.000000001")),
            ("1e-6177", Bson::String("1e-6177".into())),
            ("not a number", Bson::String("not a number".into())),
        ] {
            assert_eq!(sql(Kind::Decimal(text.into())), want, "{text}");
        }
        assert_eq!(sql(Kind::Text("t".into())), Bson::String("t".into()));
        assert_eq!(sql(Kind::EnumLabel("happy".into())), Bson::String("happy".into()));
        assert_eq!(sql(Kind::Json(r#"{"b": 1,  "a":[ ]}"#.into())), Bson::String(r#"{"b": 1,  "a":[ ]}"#.into()));
        assert_eq!(sql(Kind::Other(Other { type_name: "point".into(), text: "(1,2)".into() })), Bson::String("(1,2)".into()));
        assert_eq!(sql(Kind::Bytes(vec![1, 2].into())), Bson::Binary(bson::Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2] }));
        let uuid: Vec<u8> = (0..16).collect();
        assert_eq!(sql(Kind::Uuid(uuid.clone().into())), Bson::Binary(bson::Binary { subtype: BinarySubtype::Uuid, bytes: uuid }));
        let date = |days, special: Special| sql(Kind::Date(Date { days, special: special as i32 }));
        assert_eq!(date(19_782, Special::Finite), Bson::String("2024-02-29".into()));
        assert_eq!(date(-719_529, Special::Finite), Bson::String("-000001-12-31".into()));
        assert_eq!(date(0, Special::PosInfinity), Bson::String("infinity".into()));
        assert_eq!(date(0, Special::NegInfinity), Bson::String("-infinity".into()));
        assert_eq!(date(0, Special::Zero), Bson::String("0000-00-00".into()));
        let time = |micros, has_offset, offset_seconds| sql(Kind::Time(Time { micros, has_offset, offset_seconds }));
        assert_eq!(time(45_296_500_000, false, 0), Bson::String("12:34:56.5".into()));
        assert_eq!(time(-3_020_399_000_000, false, 0), Bson::String("-838:59:59".into()));
        assert_eq!(time(3_600_000_000, true, -19_800), Bson::String("01:00:00-05:30".into()));
        let ts = |seconds, nanos, special: Special, tz: bool| {
            let t = Timestamp { seconds, nanos, special: special as i32 };
            sql(if tz { Kind::Timestamptz(t) } else { Kind::Timestamp(t) })
        };
        assert_eq!(ts(1_709_207_100, 500_000_000, Special::Finite, false), Bson::String("2024-02-29T11:45:00.5".into()));
        assert_eq!(ts(0, 0, Special::Finite, false), Bson::String("1970-01-01T00:00:00".into()));
        assert_eq!(ts(0, 0, Special::PosInfinity, false), Bson::String("infinity".into()));
        assert_eq!(ts(1_709_207_100, 500_000_000, Special::Finite, true), Bson::DateTime(bson::DateTime::from_millis(1_709_207_100_500)));
        assert_eq!(ts(-1, 999_000_000, Special::Finite, true), Bson::DateTime(bson::DateTime::from_millis(-1)));
        assert_eq!(ts(1_709_207_100, 500_001_000, Special::Finite, true), Bson::String("2024-02-29T11:45:00.500001Z".into()));
        assert_eq!(ts(0, 0, Special::NegInfinity, true), Bson::String("-infinity".into()));
        assert_eq!(ts(i64::MAX, 0, Special::Finite, true), Bson::String(super::super::json::format_timestamptz(&Timestamp { seconds: i64::MAX, nanos: 0, special: 0 })));
        let iv = |months, days, micros| sql(Kind::Interval(crate::record::Interval { months, days, micros }));
        assert_eq!(iv(0, 0, 0), Bson::String("00:00:00".into()));
        assert_eq!(iv(14, 3, 14_706_500_000), Bson::String("1 year 2 mons 3 days 04:05:06.5".into()));
        assert_eq!(iv(1, 1, 0), Bson::String("1 mon 1 day".into()));
        assert_eq!(iv(-14, 0, 0), Bson::String("-1 years -2 mons".into()));
        assert_eq!(iv(0, -1, 7_200_000_000), Bson::String("-1 days +02:00:00".into()));
        assert_eq!(iv(0, 1, -60_000_000), Bson::String("1 day -00:01:00".into()));
        assert_eq!(iv(0, 0, 90_000_000_000), Bson::String("25:00:00".into()));
        assert_eq!(
            sql(Kind::Set(super::super::Labels { labels: vec!["a".into(), "b".into()] })),
            Bson::Array(vec![Bson::String("a".into()), Bson::String("b".into())])
        );
        let arr = Kind::Array(Array { lower_bounds: Vec::new(), element_type: "int4".into(), elements: vec![Value::int64(1), Value::null()] });
        assert_eq!(sql(arr), Bson::Array(vec![Bson::Int64(1), Bson::Null]));
        // Lower bounds (PostgreSQL '[0:1]={1,NULL}') have no BSON form: dropped.
        let bounded = Kind::Array(Array {
            lower_bounds: vec![0],
            element_type: "int4".into(),
            elements: vec![Value::int64(1), Value::null()],
        });
        assert_eq!(sql(bounded), Bson::Array(vec![Bson::Int64(1), Bson::Null]));
        let d = Kind::Document(ValueDocument { fields: Row::from_pairs([("b", Value::text("x")), ("a", Value::int64(2))]).columns });
        assert_eq!(sql(d), Bson::Document(doc! { "b": "x", "a": 2_i64 }));
    }

    fn change(op: Op, key: &[&str], row: Row) -> Change {
        let (before, after) = if op == Op::Delete { (Some(row), None) } else { (None, Some(row)) };
        Change { op: op as i32, key_columns: key.iter().map(|k| k.to_string()).collect(), before, after, ..Default::default() }
    }

    #[test]
    fn ids_follow_the_key() {
        let oid = ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap();
        let mongo = Row::from_pairs([("_id", bson_to_value(&Bson::ObjectId(oid))), ("x", Value::int64(1)), ("sk", Value::text("eu"))]);
        assert_eq!(document_id(&change(Op::Insert, &["_id"], mongo.clone())).unwrap(), Bson::ObjectId(oid));
        assert_eq!(document_id(&change(Op::Delete, &["_id", "sk"], mongo.clone())).unwrap(), Bson::ObjectId(oid));
        let sql = Row::from_pairs([("id", Value::int64(7)), ("a", Value::text("x")), ("b", Value::int64(2))]);
        assert_eq!(document_id(&change(Op::Update, &["id"], sql.clone())).unwrap(), Bson::Int64(7));
        assert_eq!(document_id(&change(Op::Delete, &["b", "a"], sql.clone())).unwrap(), Bson::Document(doc! { "b": 2_i64, "a": "x" }));
        let e = document_id(&change(Op::Insert, &[], sql.clone())).unwrap_err();
        assert!(e.contains("no key"), "{e}");
        let e = document_id(&change(Op::Insert, &["zz"], sql.clone())).unwrap_err();
        assert!(e.contains("\"zz\""), "{e}");
        let toast = Row::from_pairs([("id", Value::unchanged())]);
        assert!(document_id(&change(Op::Update, &["id"], toast)).is_err());
        // An update without an after image takes the key from before.
        let mut c = change(Op::Update, &["id"], sql);
        c.before = c.after.take();
        assert_eq!(document_id(&c).unwrap(), Bson::Int64(7));
    }

    fn arb_bson() -> impl Strategy<Value = Bson> {
        let leaf = prop_oneof![
            any::<f64>().prop_map(Bson::Double),
            any::<u64>().prop_map(|b| Bson::Double(f64::from_bits(b))),
            ".{0,8}".prop_map(Bson::String),
            any::<bool>().prop_map(Bson::Boolean),
            Just(Bson::Null),
            any::<i32>().prop_map(Bson::Int32),
            any::<i64>().prop_map(Bson::Int64),
            any::<i64>().prop_map(|ms| Bson::DateTime(bson::DateTime::from_millis(ms))),
            any::<[u8; 12]>().prop_map(|b| Bson::ObjectId(ObjectId::from_bytes(b))),
            (any::<u32>(), any::<u32>()).prop_map(|(time, increment)| Bson::Timestamp(bson::Timestamp { time, increment })),
            (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..8))
                .prop_map(|(s, bytes)| Bson::Binary(bson::Binary { subtype: BinarySubtype::from(s), bytes })),
            // Decimal128 from random canonical parts: sign, coefficient < 10^34, exponent.
            (any::<bool>(), 0_u128..10_u128.pow(34), -6176_i64..=6111)
                .prop_map(|(neg, c, e)| dec(&format!("{}{c}E{e}", if neg { "-" } else { "" }))),
            ("[a-z^$.*]{0,5}", "[imsux]{0,3}").prop_map(|(pattern, options)| Bson::RegularExpression(bson::Regex { pattern, options })),
            ".{0,8}".prop_map(Bson::Symbol),
            ".{0,8}".prop_map(Bson::JavaScriptCode),
            prop_oneof![Just(Bson::Undefined), Just(Bson::MinKey), Just(Bson::MaxKey)],
        ];
        leaf.prop_recursive(3, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Bson::Array),
                proptest::collection::vec(("[a-z_$.]{1,4}", inner.clone()), 0..4).prop_map(|fields| Bson::Document(fields.into_iter().collect())),
                (".{0,4}", proptest::collection::vec(("[a-z]{1,3}", inner), 0..3)).prop_map(|(code, fields)| {
                    Bson::JavaScriptCodeWithScope(bson::JavaScriptCodeWithScope { code, scope: fields.into_iter().collect() })
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
        #[test]
        fn random_documents_round_trip(b in arb_bson()) {
            let v = bson_to_value(&b);
            let back = value_to_bson(&v).map_err(|e| TestCaseError::fail(format!("{b:?}: {e}")))?;
            prop_assert_eq!(bytes_of(&back), bytes_of(&b), "{:?} → {:?}", b, back);
        }
    }
}
