//! MongoDB documents into SQL tables: one table per collection, a key
//! column `_id` and the whole document in one JSON column.
//!
//! # Why a document lands whole
//!
//! A collection has no fixed columns: two documents of one collection may
//! share no field at all, and a field may hold a string in one document and
//! a sub-document in the next. So the SQL targets (PostgreSQL, MySQL /
//! MariaDB) do not spread a document over columns; they store it as
//!
//! | column     | PostgreSQL          | MySQL / MariaDB                                  |
//! |------------|---------------------|--------------------------------------------------|
//! | `_id`      | `jsonb PRIMARY KEY` | `varchar(768)` (binary collation), PRIMARY KEY    |
//! | `document` | `jsonb`             | `json` (`longtext` + `json_valid` on MariaDB)     |
//!
//! Both hold MongoDB **canonical Extended JSON** (v2), which keeps every
//! BSON type: `{"$oid": …}`, `{"$numberInt": "1"}`, `{"$numberLong": "…"}`,
//! `{"$numberDouble": "1.5"}`, `{"$numberDecimal": "…"}`,
//! `{"$date": {"$numberLong": "…"}}`, `{"$binary": {"base64": …, "subType": "hh"}}`,
//! `{"$regularExpression": …}`, `{"$timestamp": …}`, `{"$minKey": 1}` and so
//! on. `_id` is the canonical Extended JSON of the document's `_id`, so the
//! same `_id` always gives the same key text (MySQL compares it byte for
//! byte, PostgreSQL as jsonb). The document keeps its fields in BSON order
//! in the text we send (a `jsonb` column then stores keys in its own order;
//! MariaDB keeps the text as sent).
//!
//! # Where conversion happens
//!
//! A record is a document when it says so (`Change.documents`, set by a
//! source whose rows are documents, today the MongoDB source;
//! [`is_document`]); the shape of those records is fixed by `record::bson`. Each SQL target converts a batch's records with
//! [`to_table_records`] before anything else and then applies the result
//! exactly like rows from any other source; records from other sources
//! pass through untouched. [`to_table_row`] does one record:
//!
//! - schema change (one per collection, columns `_id` only) → the table
//!   schema of [`document_schema`];
//! - insert, snapshot read, update or replace with the full document →
//!   after image `[_id, document]`, key `["_id"]`, no before image (`_id`
//!   never changes in MongoDB);
//! - delete → before image `[_id]`;
//! - truncate (a dropped collection) → passes through (the table is
//!   emptied, not dropped);
//! - a *partial* update (the after image has only the key and the
//!   [`UPDATE_DESCRIPTION`] column): a SQL target cannot apply a diff to a
//!   stored document, so
//!   - when its `fullDocumentMissing` is true the record is **skipped**
//!     (`Ok(None)`): `full_document = "update_lookup"` found no document
//!     because it was deleted after this update, and that delete (or the
//!     collection's drop) follows later in the stream, so the target ends
//!     in the right state without it;
//!   - otherwise it is an error telling the operator to have the source
//!     send full documents.
//!
//! Every converted record names the table in schema `public`: PostgreSQL
//! puts it there unless the target sets `schema`; MySQL puts every table
//! into the target's database anyway. Collections of the same name in two
//! MongoDB databases therefore share one table unless the target or a
//! `[[pipeline.table]]` rename keeps them apart.
//!
//! Conversion happens once, at the target: a converted record has
//! `documents = false`, so it is never converted again.

use crate::record::bson::UPDATE_DESCRIPTION;
use crate::record::{
    LogicalKind, LogicalType, calendar, json::format_timestamptz, value::Kind, Change, ColumnSchema, Date, Op, Row, SchemaChange, Special,
    TableRef, TableSchema, Time, Timestamp, Value,
};
use crate::sinks::json_text::{hex, is_json_number, json_labels, json_str};
use base64::Engine as _;
use std::borrow::Cow;
use std::fmt::Write as _;

/// The key column of a document table.
pub const ID: &str = "_id";

/// The column holding the whole document.
pub const DOCUMENT: &str = "document";

/// Where document tables live on a target with schemas (PostgreSQL), unless
/// the target sets its own `schema`.
pub const DOCUMENT_SCHEMA: &str = "public";

/// The type of both columns in PostgreSQL's spelling (`jsonb`, which unlike
/// `json` can be a key); other targets map the logical type JSON (MySQL:
/// `json`, narrowed to a bounded `varchar` for the key).
const JSON_TYPE: &str = "jsonb";

/// The type dialect `JSON_TYPE` is written in.
const POSTGRESQL_DIALECT: &str = "postgresql";

/// Decimal128 holds at most 34 significant digits ...
const DECIMAL128_DIGITS: usize = 34;
/// ... with an exponent (of the integer coefficient) in this range.
const DECIMAL128_EXPONENTS: std::ops::RangeInclusive<i64> = -6176..=6111;

/// True for a record that carries a MongoDB document (or one of its
/// collection's control records).
pub fn is_document(c: &Change) -> bool {
    c.documents
}

/// The table schema of a collection: `_id` (key, not null) and `document`,
/// both JSON, in schema `public` (see the module docs).
pub fn document_schema(s: &TableSchema) -> TableSchema {
    let column = |name: &str, nullable: bool| ColumnSchema {
        name: name.into(),
        source_type: JSON_TYPE.into(),
        nullable,
        logical: Some(LogicalType { kind: LogicalKind::LogicalJson as i32, ..Default::default() }),
        type_dialect: POSTGRESQL_DIALECT.into(),
    };
    TableSchema {
        table: s.table.as_ref().map(in_public),
        columns: vec![column(ID, false), column(DOCUMENT, true)],
        key_columns: vec![ID.into()],
        documents: false,
    }
}

fn in_public(t: &TableRef) -> TableRef {
    TableRef { schema: DOCUMENT_SCHEMA.into(), name: t.name.clone() }
}

/// A batch's records as the SQL targets apply them: document records
/// converted by [`to_table_row`] (skipped ones left out), all others as
/// they are. Borrows when the batch has no document records.
pub fn to_table_records(records: &[Change]) -> Result<Cow<'_, [Change]>, String> {
    if !records.iter().any(is_document) {
        return Ok(Cow::Borrowed(records));
    }
    let mut out = Vec::with_capacity(records.len());
    for c in records {
        if !is_document(c) {
            out.push(c.clone());
        } else if let Some(row) = to_table_row(c)? {
            out.push(row);
        }
    }
    Ok(Cow::Owned(out))
}

/// One document record as a table record (see the module docs); `Ok(None)`
/// for a partial update whose document was deleted since (skipped). Errors
/// name the table and the document's `_id`.
pub fn to_table_row(c: &Change) -> Result<Option<Change>, String> {
    let shown = c.table.as_ref().map_or_else(|| "(no table)".to_string(), TableRef::qualified);
    let mut out = Change {
        pipeline: c.pipeline.clone(),
        source: c.source.clone(),
        seq: c.seq,
        op: c.op,
        table: c.table.as_ref().map(in_public),
        key_columns: vec![ID.into()],
        before: None,
        after: None,
        position: c.position.clone(),
        tx_id: c.tx_id.clone(),
        commit_time: c.commit_time,
        tx_end: c.tx_end,
        schema_change: None,
        message: c.message.clone(),
        documents: false,
        copied: c.copied,
    };
    match c.op() {
        Op::SchemaChange => {
            let schema = c
                .schema_change
                .as_ref()
                .and_then(|s| s.schema.as_ref())
                .ok_or_else(|| format!("collection {shown}: a schema change without a schema (an invalid record)"))?;
            let mut schema = document_schema(schema);
            if schema.table.is_none() {
                schema.table = out.table.clone();
            }
            out.schema_change = Some(SchemaChange { schema: Some(schema), ddl: String::new() });
        }
        Op::Truncate | Op::Heartbeat | Op::Message | Op::Unspecified => out.key_columns = c.key_columns.clone(),
        Op::Delete => {
            let before = c.before.as_ref().ok_or_else(|| format!("collection {shown}: a delete without a before image"))?;
            let id = id_json(before).map_err(|m| format!("collection {shown}: a delete {m}"))?;
            out.before = Some(Row::from_pairs([(ID, json(id))]));
        }
        Op::Insert | Op::Update | Op::SnapshotRead => {
            let after = c.after.as_ref().ok_or_else(|| format!("collection {shown}: an insert or update without an after image"))?;
            let id = id_json(after).map_err(|m| format!("collection {shown}: a document {m}"))?;
            if let Some(desc) = after.get(UPDATE_DESCRIPTION) {
                if full_document_missing(desc) {
                    return Ok(None);
                }
                return Err(format!(
                    "collection {shown} document _id {id}: a partial update (only the changed fields) cannot be applied, \
                     because SQL targets store whole documents — enable changeStreamPreAndPostImages on the collection \
                     (collMod) and set full_document = \"required\" on the source, or set full_document = \"update_lookup\""
                ));
            }
            let document = row_extjson(after).map_err(|m| format!("collection {shown} document _id {id}: {m}"))?;
            out.after = Some(Row::from_pairs([(ID, json(id)), (DOCUMENT, json(document))]));
        }
    }
    Ok(Some(out))
}

fn json(text: String) -> Value {
    Value::of(Kind::Json(text))
}

/// The canonical Extended JSON of the row's `_id`, or what is wrong with it.
fn id_json(row: &Row) -> Result<String, String> {
    let v = row.get(ID).ok_or("without an _id")?;
    let mut s = String::new();
    canonical_extjson(v, &mut s).map_err(|m| format!("with an _id that cannot be rendered: {m}"))?;
    Ok(s)
}

/// True when a partial update's description says `update_lookup` found no document.
fn full_document_missing(desc: &Value) -> bool {
    let Some(Kind::Document(d)) = &desc.kind else { return false };
    d.fields
        .iter()
        .any(|f| f.name == "fullDocumentMissing" && matches!(f.value.as_ref().and_then(|v| v.kind.as_ref()), Some(Kind::Bool(true))))
}

/// `row` as a canonical Extended JSON object, its columns as fields in order.
pub fn row_extjson(row: &Row) -> Result<String, String> {
    let mut out = String::with_capacity(64);
    out.push('{');
    for (i, col) in row.columns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(&col.name, col.value.as_ref(), &mut out)?;
    }
    out.push('}');
    Ok(out)
}

fn field(name: &str, v: Option<&Value>, out: &mut String) -> Result<(), String> {
    json_str(name, out);
    out.push(':');
    let v = v.ok_or_else(|| format!("field {name:?} has no value (an invalid record)"))?;
    canonical_extjson(v, out).map_err(|m| format!("field {name:?}: {m}"))
}

/// Appends the canonical Extended JSON (v2) of `v` to `out`.
///
/// BSON-derived kinds map one to one. A value of kind `other` whose type
/// name starts with `bson:` already holds its canonical Extended JSON and is
/// embedded as it is. The kinds only SQL sources produce follow the mapping
/// of `record::bson` (uint64 → Int64 or Decimal128, decimal → Decimal128 or
/// string, bytes → Binary 00, uuid → Binary 04, dates and times → strings);
/// an interval or an UNCHANGED marker is an error.
pub fn canonical_extjson(v: &Value, out: &mut String) -> Result<(), String> {
    let Some(kind) = &v.kind else { return Err("the value has no kind (an invalid record)".into()) };
    match kind {
        Kind::Null(_) => out.push_str("null"),
        Kind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Kind::Int32(i) => wrapped(out, "$numberInt", &i.to_string()),
        Kind::Int64(i) => wrapped(out, "$numberLong", &i.to_string()),
        Kind::Uint64(u) => match i64::try_from(*u) {
            Ok(i) => wrapped(out, "$numberLong", &i.to_string()),
            Err(_) => wrapped(out, "$numberDecimal", &u.to_string()),
        },
        Kind::Float64(f) => wrapped(out, "$numberDouble", &double(*f)),
        // The f32's shortest text, read as a double (0.1f32 → 0.1).
        Kind::Float32(f) => wrapped(out, "$numberDouble", &double(format!("{f:?}").parse::<f64>().unwrap_or(f64::from(*f)))),
        Kind::Decimal128(s) => wrapped(out, "$numberDecimal", s),
        Kind::Decimal(s) if fits_decimal128(s) => wrapped(out, "$numberDecimal", s),
        Kind::Decimal(s) | Kind::Text(s) | Kind::EnumLabel(s) | Kind::Json(s) => json_str(s, out),
        Kind::Other(o) if o.type_name.starts_with("bson:") => out.push_str(&o.text),
        Kind::Other(o) => json_str(&o.text, out),
        Kind::ObjectId(b) => {
            if b.len() != 12 {
                return Err(format!("an ObjectId must be 12 bytes, this one has {}", b.len()));
            }
            wrapped(out, "$oid", &hex(b));
        }
        Kind::Binary(b) => {
            let subtype = u8::try_from(b.subtype).map_err(|_| format!("binary subtype {} is not a BSON subtype (0..=255)", b.subtype))?;
            binary(out, &b.data, subtype);
        }
        Kind::Bytes(b) => binary(out, b, 0),
        Kind::Uuid(b) => binary(out, b, 4),
        Kind::Regex(r) => {
            // Canonical options are sorted (BSON stores them so).
            let mut options: Vec<char> = r.options.chars().collect();
            options.sort_unstable();
            let options: String = options.into_iter().collect();
            out.push_str("{\"$regularExpression\":{\"pattern\":");
            json_str(&r.pattern, out);
            out.push_str(",\"options\":");
            json_str(&options, out);
            out.push_str("}}");
        }
        Kind::BsonTimestamp(t) => {
            let _ = write!(out, "{{\"$timestamp\":{{\"t\":{},\"i\":{}}}}}", t.seconds, t.increment);
        }
        Kind::Timestamptz(t) => match date_millis(t) {
            Some(ms) => {
                let _ = write!(out, "{{\"$date\":{{\"$numberLong\":\"{ms}\"}}}}");
            }
            None => json_str(&format_timestamptz(t), out),
        },
        Kind::Timestamp(t) => {
            let s = format_timestamptz(t);
            json_str(s.strip_suffix('Z').unwrap_or(&s), out)
        }
        Kind::Date(d) => json_str(&date(d), out),
        Kind::Time(t) => json_str(&time(t), out),
        Kind::Interval(_) => return Err("an interval has no MongoDB counterpart".into()),
        Kind::Set(s) => json_labels(&s.labels, out),
        Kind::Array(a) => {
            out.push('[');
            for (i, e) in a.elements.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_extjson(e, out).map_err(|m| format!("element {i}: {m}"))?;
            }
            out.push(']');
        }
        Kind::Document(d) => {
            out.push('{');
            for (i, f) in d.fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                field(&f.name, f.value.as_ref(), out)?;
            }
            out.push('}');
        }
        Kind::Unchanged(_) => {
            return Err("an UNCHANGED marker (a value the source did not send) cannot be part of a document".into())
        }
    }
    Ok(())
}

/// `{"<key>":"<text>"}`.
fn wrapped(out: &mut String, key: &str, text: &str) {
    out.push_str("{\"");
    out.push_str(key);
    out.push_str("\":");
    json_str(text, out);
    out.push('}');
}

fn binary(out: &mut String, data: &[u8], subtype: u8) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let _ = write!(out, "{{\"$binary\":{{\"base64\":\"{b64}\",\"subType\":\"{subtype:02x}\"}}}}");
}

/// The canonical text of a double: `NaN`, `Infinity`, `-Infinity`, `0.0`,
/// `-0.0`; otherwise the shortest digits that read back to the same double,
/// written plainly with at least one fraction digit (`1.0`, `0.0001`,
/// `1234567890123456.0`) when the decimal exponent is in -4..16 (as
/// Python's `repr`), else in exponent form with `E` and a sign (`1E+300`,
/// `1.2345678901234568E+18`, `5E-324`), as Decimal128 text is written.
pub fn double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // `{:e}` gives the shortest round-trip digits: "-1.2345e18", "1e300".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} writes a decimal exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    if !(-4..16).contains(&exp) {
        return format!("{sign}{mantissa}E{}{}", if exp < 0 { '-' } else { '+' }, exp.unsigned_abs());
    }
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut s = String::from(sign);
    if exp < 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        s.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            s.push_str(&digits);
            s.extend(std::iter::repeat_n('0', int_len - digits.len()));
            s.push_str(".0");
        } else {
            s.push_str(&digits[..int_len]);
            s.push('.');
            s.push_str(&digits[int_len..]);
        }
    }
    s
}

/// Milliseconds since the epoch of a finite timestamptz without a
/// sub-millisecond part (a BSON date), else `None`.
fn date_millis(t: &Timestamp) -> Option<i64> {
    if t.special != Special::Finite as i32 || t.nanos >= 1_000_000_000 || t.nanos % 1_000_000 != 0 {
        return None;
    }
    t.seconds.checked_mul(1000)?.checked_add(i64::from(t.nanos / 1_000_000))
}

/// True when the decimal text fits a Decimal128 exactly.
fn fits_decimal128(s: &str) -> bool {
    if matches!(s, "NaN" | "Infinity" | "-Infinity") {
        return true;
    }
    if !is_json_number(s) {
        return false;
    }
    let s = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => match s[i + 1..].parse::<i64>() {
            Ok(e) => (&s[..i], e),
            Err(_) => return false,
        },
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let significant = format!("{int}{frac}").trim_start_matches('0').len();
    significant <= DECIMAL128_DIGITS && DECIMAL128_EXPONENTS.contains(&(exp - frac.len() as i64))
}

/// `YYYY-MM-DD` (or `infinity`, `-infinity`, `0000-00-00`).
fn date(d: &Date) -> String {
    match d.special {
        s if s == Special::PosInfinity as i32 => "infinity".into(),
        s if s == Special::NegInfinity as i32 => "-infinity".into(),
        s if s == Special::Zero as i32 => "0000-00-00".into(),
        _ => {
            let (y, m, day) = calendar::civil_from_days(i64::from(d.days));
            format!("{y:04}-{m:02}-{day:02}")
        }
    }
}

/// `[-]HH:MM:SS[.ffffff][+HH:MM]`.
fn time(t: &Time) -> String {
    let m = t.micros.unsigned_abs();
    let secs = m / 1_000_000;
    let mut s = format!("{}{:02}:{:02}:{:02}", if t.micros < 0 { "-" } else { "" }, secs / 3600, secs / 60 % 60, secs % 60);
    if m % 1_000_000 != 0 {
        let frac = format!("{:06}", m % 1_000_000);
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    if t.has_offset {
        let a = t.offset_seconds.unsigned_abs();
        let _ = write!(s, "{}{:02}:{:02}", if t.offset_seconds < 0 { '-' } else { '+' }, a / 3600, a / 60 % 60);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Array, Binary, BsonTimestamp, Column, Document, Labels, Other, Regex};

    fn v(k: Kind) -> Value {
        Value::of(k)
    }

    fn ext(k: Kind) -> String {
        let mut s = String::new();
        canonical_extjson(&v(k), &mut s).unwrap();
        s
    }

    fn doc(fields: Vec<(&str, Value)>) -> Value {
        v(Kind::Document(Document { fields: fields.into_iter().map(|(n, v)| Column { name: n.into(), value: Some(v) }).collect() }))
    }

    fn other(name: &str, text: &str) -> Kind {
        Kind::Other(Other { type_name: name.into(), text: text.into() })
    }

    #[test]
    fn every_bson_kind_renders_canonically() {
        let ts = |seconds, nanos| Timestamp { seconds, nanos, special: 0 };
        let cases: Vec<(Kind, &str)> = vec![
            (Kind::Null(Default::default()), "null"),
            (Kind::Bool(true), "true"),
            (Kind::Bool(false), "false"),
            (Kind::Int32(1), r#"{"$numberInt":"1"}"#),
            (Kind::Int32(i32::MIN), r#"{"$numberInt":"-2147483648"}"#),
            (Kind::Int64(i64::MAX), r#"{"$numberLong":"9223372036854775807"}"#),
            (Kind::Int64(-1), r#"{"$numberLong":"-1"}"#),
            (Kind::Float64(1.5), r#"{"$numberDouble":"1.5"}"#),
            (Kind::Float64(1.0), r#"{"$numberDouble":"1.0"}"#),
            (Kind::Float64(-0.0), r#"{"$numberDouble":"-0.0"}"#),
            (Kind::Float64(0.0), r#"{"$numberDouble":"0.0"}"#),
            (Kind::Float64(f64::NAN), r#"{"$numberDouble":"NaN"}"#),
            (Kind::Float64(f64::INFINITY), r#"{"$numberDouble":"Infinity"}"#),
            (Kind::Float64(f64::NEG_INFINITY), r#"{"$numberDouble":"-Infinity"}"#),
            (Kind::Float64(1e300), r#"{"$numberDouble":"1E+300"}"#),
            (Kind::Decimal128("1.10".into()), r#"{"$numberDecimal":"1.10"}"#),
            (Kind::Decimal128("-0".into()), r#"{"$numberDecimal":"-0"}"#),
            (Kind::Decimal128("NaN".into()), r#"{"$numberDecimal":"NaN"}"#),
            (Kind::Decimal128("1E+6144".into()), r#"{"$numberDecimal":"1E+6144"}"#),
            (Kind::Text("a \"q\" \\ é\n\u{1}".into()), r#""a \"q\" \\ é\n\u0001""#),
            (Kind::ObjectId((0u8..12).collect::<Vec<_>>().into()), r#"{"$oid":"000102030405060708090a0b"}"#),
            (Kind::Binary(Binary { subtype: 0, data: b"abc".to_vec().into() }), r#"{"$binary":{"base64":"YWJj","subType":"00"}}"#),
            (Kind::Binary(Binary { subtype: 4, data: vec![0xff; 16].into() }), r#"{"$binary":{"base64":"/////////////////////w==","subType":"04"}}"#),
            (Kind::Binary(Binary { subtype: 0x80, data: Vec::new().into() }), r#"{"$binary":{"base64":"","subType":"80"}}"#),
            (Kind::Timestamptz(ts(1_700_000_000, 123_000_000)), r#"{"$date":{"$numberLong":"1700000000123"}}"#),
            // -1 ms: seconds floor, nanos positive.
            (Kind::Timestamptz(ts(-1, 999_000_000)), r#"{"$date":{"$numberLong":"-1"}}"#),
            (Kind::Timestamptz(ts(253_402_300_800, 0)), r#"{"$date":{"$numberLong":"253402300800000"}}"#),
            (
                Kind::Regex(Regex { pattern: "^a\\.b/".into(), options: "xi".into() }),
                r#"{"$regularExpression":{"pattern":"^a\\.b/","options":"ix"}}"#,
            ),
            (Kind::BsonTimestamp(BsonTimestamp { seconds: 4_294_967_295, increment: 7 }), r#"{"$timestamp":{"t":4294967295,"i":7}}"#),
            (other("bson:minKey", r#"{"$minKey":1}"#), r#"{"$minKey":1}"#),
            (other("bson:maxKey", r#"{"$maxKey":1}"#), r#"{"$maxKey":1}"#),
            (other("bson:undefined", r#"{"$undefined":true}"#), r#"{"$undefined":true}"#),
            (other("bson:symbol", r#"{"$symbol":"s"}"#), r#"{"$symbol":"s"}"#),
            (other("bson:javascript", r#"{"$code":"f()"}"#), r#"{"$code":"f()"}"#),
            (
                other("bson:javascriptWithScope", r#"{"$code":"f(x)","$scope":{"x":{"$numberInt":"1"}}}"#),
                r#"{"$code":"f(x)","$scope":{"x":{"$numberInt":"1"}}}"#,
            ),
            (
                other("bson:dbPointer", r#"{"$dbPointer":{"$ref":"db.c","$id":{"$oid":"000000000000000000000001"}}}"#),
                r#"{"$dbPointer":{"$ref":"db.c","$id":{"$oid":"000000000000000000000001"}}}"#,
            ),
        ];
        for (k, want) in cases {
            let dbg = format!("{k:?}");
            assert_eq!(ext(k), want, "{dbg}");
        }
    }

    #[test]
    fn doubles_use_the_shortest_digits() {
        for (f, want) in [
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (100.0, "100.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1E+16"),
            (1.2345678901234568e18, "1.2345678901234568E+18"),
            (-1.2345678901234568e18, "-1.2345678901234568E+18"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (0.00001, "1E-5"),
            (1.5e-7, "1.5E-7"),
            (f64::MAX, "1.7976931348623157E+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (5e-324, "5E-324"),
            (1.0 / 3.0, "0.3333333333333333"),
            (123456.789, "123456.789"),
        ] {
            assert_eq!(double(f), want, "{f:e}");
            let back: f64 = want.parse().unwrap();
            assert_eq!(back.to_bits(), f.to_bits(), "{want}");
        }
    }

    #[test]
    fn nested_documents_and_arrays_keep_their_order() {
        let arr = |elements: Vec<Value>| v(Kind::Array(Array { lower_bounds: Vec::new(), element_type: String::new(), elements }));
        let row = Row::from_pairs([
            ("_id", v(Kind::ObjectId(vec![0xab; 12].into()))),
            ("zeta", Value::text("last letter first")),
            (
                "nested",
                doc(vec![
                    ("b", v(Kind::Int32(2))),
                    ("a", arr(vec![v(Kind::Int32(1)), doc(vec![("y", Value::null()), ("x", v(Kind::Float64(2.0)))]), arr(vec![])])),
                    ("empty", doc(vec![])),
                ]),
            ),
            ("alpha", v(Kind::Bool(false))),
        ]);
        assert_eq!(
            row_extjson(&row).unwrap(),
            r#"{"_id":{"$oid":"abababababababababababab"},"zeta":"last letter first","nested":{"b":{"$numberInt":"2"},"a":[{"$numberInt":"1"},{"y":null,"x":{"$numberDouble":"2.0"}},[]],"empty":{}},"alpha":false}"#
        );
        // It is JSON.
        let parsed: serde_json::Value = serde_json::from_str(&row_extjson(&row).unwrap()).unwrap();
        assert_eq!(parsed["nested"]["a"][1]["x"]["$numberDouble"], "2.0");
    }

    #[test]
    fn sql_kinds_follow_the_bson_mapping() {
        let long = format!("\"{}\"", "1".repeat(35));
        let cases: Vec<(Kind, &str)> = vec![
            (Kind::Uint64(5), r#"{"$numberLong":"5"}"#),
            (Kind::Uint64(u64::MAX), r#"{"$numberDecimal":"18446744073709551615"}"#),
            (Kind::Float32(0.1), r#"{"$numberDouble":"0.1"}"#),
            (Kind::Decimal("-12.3400".into()), r#"{"$numberDecimal":"-12.3400"}"#),
            (Kind::Decimal("NaN".into()), r#"{"$numberDecimal":"NaN"}"#),
            (Kind::Decimal("1".repeat(35)), &long),
            (Kind::Bytes(vec![1, 2, 3].into()), r#"{"$binary":{"base64":"AQID","subType":"00"}}"#),
            (Kind::Uuid(vec![0; 16].into()), r#"{"$binary":{"base64":"AAAAAAAAAAAAAAAAAAAAAA==","subType":"04"}}"#),
            (Kind::Date(Date { days: 19_782, special: 0 }), r#""2024-02-29""#),
            (Kind::Time(Time { micros: 49_500_500_000, has_offset: false, offset_seconds: 0 }), r#""13:45:00.5""#),
            (Kind::Timestamp(Timestamp { seconds: 0, nanos: 0, special: 0 }), r#""1970-01-01T00:00:00""#),
            (Kind::Timestamptz(Timestamp { seconds: 0, nanos: 1_000, special: 0 }), r#""1970-01-01T00:00:00.000001Z""#),
            (Kind::Json(r#"{"a": 1}"#.into()), r#""{\"a\": 1}""#),
            (Kind::EnumLabel("happy".into()), r#""happy""#),
            (other("point", "(1,2)"), r#""(1,2)""#),
            (Kind::Set(Labels { labels: vec!["a".into(), "b".into()] }), r#"["a","b"]"#),
        ];
        for (k, want) in cases {
            let dbg = format!("{k:?}");
            assert_eq!(ext(k), want, "{dbg}");
        }
        let mut s = String::new();
        assert!(canonical_extjson(&Value::unchanged(), &mut s).unwrap_err().contains("UNCHANGED"));
        assert!(canonical_extjson(&v(Kind::ObjectId(vec![1].into())), &mut s).unwrap_err().contains("12 bytes"));
        assert!(canonical_extjson(&Value::default(), &mut s).is_err());
    }

    fn json_type() -> LogicalType {
        LogicalType { kind: LogicalKind::LogicalJson as i32, ..Default::default() }
    }

    #[test]
    fn only_the_documents_flag_makes_a_document() {
        let mut c = mongo(Op::Insert, None, Some(Row::from_pairs([("_id", oid(1))])));
        assert!(is_document(&c));
        c.documents = false;
        c.source = "mongodb".into();
        assert!(!is_document(&c), "the source name must not matter");
    }

    fn mongo(op: Op, before: Option<Row>, after: Option<Row>) -> Change {
        Change {
            // Any source name: only `documents` makes a record a document.
            source: "no-such-source".into(),
            documents: true,
            seq: 7,
            op: op as i32,
            table: Some(TableRef { schema: "shop".into(), name: "orders".into() }),
            key_columns: vec!["_id".into()],
            before,
            after,
            tx_end: true,
            ..Default::default()
        }
    }

    fn oid(n: u8) -> Value {
        v(Kind::ObjectId(vec![n; 12].into()))
    }

    #[test]
    fn records_become_table_rows() {
        let full = Row::from_pairs([("_id", oid(1)), ("n", v(Kind::Int32(3))), ("s", Value::text("x"))]);
        for op in [Op::Insert, Op::SnapshotRead, Op::Update] {
            let before = (op == Op::Update).then(|| Row::from_pairs([("_id", oid(1))]));
            let r = to_table_row(&mongo(op, before, Some(full.clone()))).unwrap().unwrap();
            assert_eq!(r.op(), op);
            assert_eq!(r.table, Some(TableRef { schema: "public".into(), name: "orders".into() }));
            assert_eq!(r.key_columns, ["_id"]);
            assert_eq!((r.seq, r.tx_end, r.source.as_str(), r.documents), (7, true, "no-such-source", false));
            assert!(r.before.is_none());
            let after = r.after.unwrap();
            assert_eq!(after.get("_id"), Some(&json(r#"{"$oid":"010101010101010101010101"}"#.into())));
            assert_eq!(
                after.get("document"),
                Some(&json(r#"{"_id":{"$oid":"010101010101010101010101"},"n":{"$numberInt":"3"},"s":"x"}"#.into()))
            );
        }
        let d = to_table_row(&mongo(Op::Delete, Some(Row::from_pairs([("_id", Value::text("k")), ("shard", v(Kind::Int32(1)))])), None))
            .unwrap()
            .unwrap();
        assert_eq!(d.before, Some(Row::from_pairs([("_id", json("\"k\"".into()))])));
        assert!(d.after.is_none());
        let mut t = mongo(Op::Truncate, None, None);
        t.key_columns.clear();
        let t = to_table_row(&t).unwrap().unwrap();
        assert_eq!((t.op(), t.table.unwrap().schema.as_str()), (Op::Truncate, "public"));
    }

    #[test]
    fn schema_records_become_the_document_table() {
        let mut c = mongo(Op::SchemaChange, None, None);
        c.schema_change = Some(SchemaChange {
            schema: Some(TableSchema {
                table: c.table.clone(),
                columns: vec![ColumnSchema { name: "_id".into(), source_type: "bson".into(), nullable: false, logical: None, type_dialect: String::new() }],
                key_columns: vec!["_id".into()],
                documents: false,
            }),
            ddl: String::new(),
        });
        let r = to_table_row(&c).unwrap().unwrap();
        let s = r.schema_change.unwrap().schema.unwrap();
        assert_eq!(s.table, Some(TableRef { schema: "public".into(), name: "orders".into() }));
        assert_eq!(
            s.columns,
            vec![
                ColumnSchema { name: "_id".into(), source_type: "jsonb".into(), nullable: false, logical: Some(json_type()), type_dialect: "postgresql".into() },
                ColumnSchema { name: "document".into(), source_type: "jsonb".into(), nullable: true, logical: Some(json_type()), type_dialect: "postgresql".into() },
            ]
        );
        assert_eq!(s.key_columns, ["_id"]);
    }

    #[test]
    fn partial_updates_are_skipped_or_refused() {
        let partial = |missing: bool| {
            let desc = doc(vec![
                ("updatedFields", doc(vec![("a.b", v(Kind::Int32(1)))])),
                ("removedFields", v(Kind::Array(Array { lower_bounds: Vec::new(), element_type: String::new(), elements: vec![] }))),
                ("truncatedArrays", v(Kind::Array(Array { lower_bounds: Vec::new(), element_type: String::new(), elements: vec![] }))),
                ("fullDocumentMissing", v(Kind::Bool(missing))),
            ]);
            mongo(Op::Update, None, Some(Row::from_pairs([("_id", oid(2)), (UPDATE_DESCRIPTION, desc)])))
        };
        assert_eq!(to_table_row(&partial(true)).unwrap(), None);
        let e = to_table_row(&partial(false)).unwrap_err();
        for part in ["shop.orders", r#"{"$oid":"020202020202020202020202"}"#, "changeStreamPreAndPostImages", "\"required\"", "\"update_lookup\""] {
            assert!(e.contains(part), "{part}: {e}");
        }
        // A batch: skipped records are left out, others pass through as they are.
        let sql = Change { source: "postgres".into(), op: Op::Insert as i32, ..Default::default() };
        let recs = vec![sql.clone(), partial(true), mongo(Op::Insert, None, Some(Row::from_pairs([("_id", oid(3))])))];
        let out = to_table_records(&recs).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], sql);
        assert!(matches!(to_table_records(std::slice::from_ref(&sql)).unwrap(), Cow::Borrowed(_)));
        let e = to_table_records(&[mongo(Op::Insert, None, Some(Row::from_pairs([("n", v(Kind::Int32(1)))])))]).unwrap_err();
        assert!(e.contains("shop.orders") && e.contains("without an _id"), "{e}");
        let e = to_table_records(&[mongo(Op::Insert, None, Some(Row::from_pairs([("_id", oid(4)), ("u", Value::unchanged())])))])
            .unwrap_err();
        assert!(e.contains("shop.orders") && e.contains("040404040404040404040404") && e.contains("\"u\""), "{e}");
    }
}
