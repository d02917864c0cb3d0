//! Canonical values to PostgreSQL input text.
//!
//! Every value travels to the server as one element of a `text[]` parameter
//! and is cast there to the target column's type, so what this module
//! produces is exactly what PostgreSQL's own input functions accept for that
//! type (the same text `psql` would take in a literal). The session is set
//! to `TimeZone = UTC`, `DateStyle = ISO, YMD` and `IntervalStyle =
//! postgres` (see `mod.rs`), so the forms below are read unambiguously.
//!
//! | kind | text |
//! |---|---|
//! | null | SQL NULL (`None`) |
//! | bool | `true` / `false` |
//! | int64, int32, uint64 | decimal digits (`uint64` beyond `bigint` fits `numeric`) |
//! | float32 / float64 | shortest text that reads back to the same float; `NaN`, `Infinity`, `-Infinity`; `-0.0` keeps its sign |
//! | decimal, decimal128 | the exact text (`NaN`, `Infinity` included) |
//! | text, enum label, json, other | unchanged (a NUL character is refused: PostgreSQL text cannot hold it) |
//! | bytes | `\x` then lowercase hex (bytea hex format) |
//! | uuid | `8-4-4-4-12` lowercase hex |
//! | date | `YYYY-MM-DD`, `YYYY-MM-DD BC` for years ≤ 0 (year 0 is 1 BC), `infinity`, `-infinity` |
//! | time | `HH:MM:SS[.ffffff]`, hours may exceed 23 and the value may be negative (fits `interval`); with an offset `+HH:MM[:SS]` (timetz) |
//! | timestamp | `YYYY-MM-DD HH:MM:SS[.fffffffff][ BC]`; PostgreSQL rounds beyond microseconds |
//! | timestamptz | the same in UTC with `+00` before the era (into a `timestamp` column: the UTC wall clock) |
//! | interval | `M mons D days U microseconds` (every field exact, full range) |
//! | set | comma-joined labels; a PostgreSQL array literal for array columns, a JSON array for json columns |
//! | array | a PostgreSQL array literal (`{"1","2",NULL}`, elements always quoted, nested arrays as nested braces); a JSON array for json columns |
//! | document | JSON text, only for json/jsonb and text-like columns |
//! | object_id | lowercase hex |
//! | binary | `\x` hex of the data (the subtype is kept only in JSON) |
//! | regex | `/pattern/options` |
//! | bson_timestamp | `{"$timestamp":{"t":S,"i":I}}` |
//!
//! A `timestamp` (no zone) written to a `timestamptz` column is read as UTC.
//!
//! Into a json/jsonb column every kind other than json, text and other is
//! written as JSON (numbers, strings, arrays, objects; the BSON-only kinds as
//! relaxed MongoDB Extended JSON such as `{"$oid":"…"}`), so a document or an
//! array lands as the JSON a reader expects.

use crate::record::calendar::civil_from_days;
use crate::record::{value::Kind, Date, Interval, Special, Time, Timestamp, Value};
use std::fmt::Write as _;

/// What the target column can take, as far as rendering cares. Derived from
/// the column's type in the target catalog (`pg_type.typcategory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeClass {
    /// json, jsonb (and domains over them).
    Json,
    /// text, varchar, char, name, citext: anything text-like.
    Text,
    /// Every other type: the server's input function decides.
    Other,
}

/// The target column as the renderer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Class of the column's type, or of its elements for an array column.
    pub class: TypeClass,
    /// The column is an array (of `class` elements).
    pub array: bool,
}

impl Target {
    /// A scalar column of `class`.
    pub const fn scalar(class: TypeClass) -> Self {
        Target { class, array: false }
    }
}

/// Why a value cannot be written into a column (the caller adds the table
/// and column names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError(pub String);

type R<T> = Result<T, RenderError>;

fn err<T>(msg: impl Into<String>) -> R<T> {
    Err(RenderError(msg.into()))
}

/// Renders `v` as PostgreSQL input text for a column described by `target`;
/// `None` is SQL NULL. `Unchanged` is the caller's business and an error here.
pub fn render(v: &Value, target: Target) -> R<Option<String>> {
    let Some(kind) = &v.kind else { return err("the value has no kind (an invalid record)") };
    if let Kind::Null(_) = kind {
        return Ok(None);
    }
    if target.array {
        return match kind {
            Kind::Array(a) => {
                let mut out = String::new();
                array_literal(&a.elements, Target::scalar(target.class), &mut out)?;
                Ok(Some(out))
            }
            Kind::Set(s) => {
                let mut out = String::from("{");
                for (i, l) in s.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    quote_element(&no_nul(l)?, &mut out);
                }
                out.push('}');
                Ok(Some(out))
            }
            Kind::Document(_) => err("a document (nested object) cannot be stored in an array column; use json or jsonb"),
            // Text or other: the source kept the array in its text form.
            _ => scalar(kind, target.class).map(Some),
        };
    }
    match target.class {
        TypeClass::Json => match kind {
            Kind::Json(s) | Kind::Text(s) => Ok(Some(no_nul(s)?)),
            Kind::Other(o) => Ok(Some(no_nul(&o.text)?)),
            _ => {
                let mut out = String::new();
                json(v, &mut out)?;
                Ok(Some(out))
            }
        },
        class => match kind {
            Kind::Document(_) if class == TypeClass::Text => {
                let mut out = String::new();
                json(v, &mut out)?;
                Ok(Some(out))
            }
            Kind::Document(_) => err("a document (nested object) can only be stored in a json, jsonb or text column"),
            Kind::Array(a) if class == TypeClass::Text => {
                let mut out = String::new();
                array_literal(&a.elements, Target::scalar(TypeClass::Text), &mut out)?;
                Ok(Some(out))
            }
            Kind::Array(_) => err("an array can only be stored in an array, json, jsonb or text column"),
            _ => scalar(kind, class).map(Some),
        },
    }
}

/// Text of a scalar kind (also used for array elements).
fn scalar(kind: &Kind, class: TypeClass) -> R<String> {
    Ok(match kind {
        Kind::Null(_) => return err("internal: NULL has no text"),
        Kind::Bool(b) => if *b { "true" } else { "false" }.to_string(),
        Kind::Int64(i) => i.to_string(),
        Kind::Int32(i) => i.to_string(),
        Kind::Uint64(u) => u.to_string(),
        Kind::Float32(f) => float32(*f),
        Kind::Float64(f) => float64(*f),
        Kind::Decimal(s) | Kind::Decimal128(s) => {
            if s.is_empty() {
                return err("an empty decimal");
            }
            no_nul(s)?
        }
        Kind::Text(s) | Kind::Json(s) | Kind::EnumLabel(s) => no_nul(s)?,
        Kind::Other(o) => no_nul(&o.text)?,
        Kind::Bytes(b) => bytea(b),
        Kind::Binary(b) => bytea(&b.data),
        Kind::Uuid(b) => uuid(b)?,
        Kind::ObjectId(b) => hex(b),
        Kind::Date(d) => date(d)?,
        Kind::Time(t) => time(t),
        Kind::Timestamp(t) => timestamp(t, false)?,
        Kind::Timestamptz(t) => timestamp(t, true)?,
        Kind::Interval(i) => interval(i),
        Kind::Set(s) => {
            let mut out = String::new();
            for (i, l) in s.labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&no_nul(l)?);
            }
            out
        }
        Kind::Regex(r) => format!("/{}/{}", no_nul(&r.pattern)?, no_nul(&r.options)?),
        Kind::BsonTimestamp(t) => format!("{{\"$timestamp\":{{\"t\":{},\"i\":{}}}}}", t.seconds, t.increment),
        Kind::Array(a) => {
            let mut out = String::new();
            array_literal(&a.elements, Target::scalar(class), &mut out)?;
            out
        }
        Kind::Document(_) => {
            let mut out = String::new();
            json(&Value { kind: Some(kind.clone()) }, &mut out)?;
            out
        }
        Kind::Unchanged(_) => {
            return err("an unchanged (TOAST, not sent) marker cannot be written; it is only valid as a whole column value")
        }
    })
}

fn no_nul(s: &str) -> R<String> {
    if s.contains('\0') {
        return err("the text contains a NUL (0x00) character, which PostgreSQL text types cannot store");
    }
    Ok(s.to_string())
}

/// PostgreSQL array literal of `elements`: every element double-quoted
/// (backslash and quote escaped), `NULL` bare, nested arrays as nested braces.
fn array_literal(elements: &[Value], elem: Target, out: &mut String) -> R<()> {
    out.push('{');
    for (i, e) in elements.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match &e.kind {
            None => return err("an array element has no kind (an invalid record)"),
            Some(Kind::Null(_)) => out.push_str("NULL"),
            Some(Kind::Array(a)) => array_literal(&a.elements, elem, out)?,
            Some(Kind::Document(_)) if elem.class == TypeClass::Json || elem.class == TypeClass::Text => {
                let mut s = String::new();
                json(e, &mut s)?;
                quote_element(&s, out);
            }
            Some(Kind::Document(_)) => {
                return err("a document inside an array can only be stored in a json[], jsonb[] or text[] column")
            }
            Some(Kind::Unchanged(_)) => return err("an unchanged (TOAST) marker inside an array"),
            Some(k) => {
                let s = if elem.class == TypeClass::Json && !matches!(k, Kind::Json(_) | Kind::Text(_) | Kind::Other(_)) {
                    let mut s = String::new();
                    json(e, &mut s)?;
                    s
                } else {
                    scalar(k, elem.class)?
                };
                quote_element(&s, out);
            }
        }
    }
    out.push('}');
    Ok(())
}

fn quote_element(s: &str, out: &mut String) {
    out.push('"');
    for ch in s.chars() {
        if ch == '"' || ch == '\\' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
}

/// Shortest text that parses back to the same `f64` (Rust's `Debug` form:
/// `0.1`, `1e300`, `-0.0`), or PostgreSQL's names for the special values.
pub fn float64(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{f:?}")
    }
}

/// As [`float64`], for `f32` (shortest text for the `f32`, so a `real`
/// column reads back the same value).
pub fn float32(f: f32) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{f:?}")
    }
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// bytea hex input form: `\x0102ff`.
pub fn bytea(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + b.len() * 2);
    s.push_str("\\x");
    s.push_str(&hex(b));
    s
}

fn uuid(b: &[u8]) -> R<String> {
    if b.len() != 16 {
        return err(format!("a uuid must be 16 bytes, this one has {}", b.len()));
    }
    let h = hex(b);
    Ok(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}


/// `YYYY-MM-DD` and whether the year is BC (PostgreSQL writes the era last).
fn ymd(days: i64) -> (String, bool) {
    let (y, m, d) = civil_from_days(days);
    if y <= 0 {
        (format!("{:04}-{m:02}-{d:02}", 1 - y), true)
    } else {
        (format!("{y:04}-{m:02}-{d:02}"), false)
    }
}

fn special(s: i32, what: &str) -> R<Option<&'static str>> {
    match Special::try_from(s) {
        Ok(Special::Finite) => Ok(None),
        Ok(Special::PosInfinity) => Ok(Some("infinity")),
        Ok(Special::NegInfinity) => Ok(Some("-infinity")),
        Ok(Special::Zero) => err(format!(
            "the MySQL zero {what} (0000-00-00) has no PostgreSQL value; make it NULL on the source or map it with a transform"
        )),
        Err(_) => err(format!("unknown special {what} value {s}")),
    }
}

/// Date input text.
pub fn date(d: &Date) -> R<String> {
    if let Some(s) = special(d.special, "date")? {
        return Ok(s.into());
    }
    let (text, bc) = ymd(i64::from(d.days));
    Ok(if bc { text + " BC" } else { text })
}

fn hms(micros_abs: u64, out: &mut String) {
    let h = micros_abs / 3_600_000_000;
    let m = micros_abs / 60_000_000 % 60;
    let s = micros_abs / 1_000_000 % 60;
    let f = micros_abs % 1_000_000;
    let _ = write!(out, "{h:02}:{m:02}:{s:02}");
    if f != 0 {
        let frac = format!("{f:06}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
}

/// Time (or timetz) input text.
pub fn time(t: &Time) -> String {
    let mut out = String::new();
    if t.micros < 0 {
        out.push('-');
    }
    hms(t.micros.unsigned_abs(), &mut out);
    if t.has_offset {
        let o = t.offset_seconds;
        let a = o.unsigned_abs();
        let _ = write!(out, "{}{:02}:{:02}", if o < 0 { '-' } else { '+' }, a / 3600, a / 60 % 60);
        if a % 60 != 0 {
            let _ = write!(out, ":{:02}", a % 60);
        }
    }
    out
}

/// Timestamp input text; `tz` adds the UTC offset `+00`.
pub fn timestamp(t: &Timestamp, tz: bool) -> R<String> {
    if let Some(s) = special(t.special, "timestamp")? {
        return Ok(s.into());
    }
    let secs = i128::from(t.seconds) + i128::from(t.nanos / 1_000_000_000);
    let nanos = t.nanos % 1_000_000_000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let days = i64::try_from(days).map_err(|_| RenderError("timestamp out of range".into()))?;
    let (date, bc) = ymd(days);
    let mut out = date;
    let _ = write!(out, " {:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60);
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    if tz {
        out.push_str("+00");
    }
    if bc {
        out.push_str(" BC");
    }
    Ok(out)
}

/// Interval input text: each field exact and independent.
pub fn interval(i: &Interval) -> String {
    format!("{} mons {} days {} microseconds", i.months, i.days, i.micros)
}

// ---- JSON (for json/jsonb columns and documents) ----

fn json_str(s: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(s).expect("a string always serialises"));
}

/// True when `s` is a JSON number (`-?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?`).
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if i < b.len() && b[i] == b'-' {
        i += 1;
    }
    if i < b.len() && b[i] == b'0' {
        i += 1;
    } else if !digits(&mut i) {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// JSON of a value: plain JSON for the SQL kinds, relaxed MongoDB Extended
/// JSON for the BSON-only ones.
pub fn json(v: &Value, out: &mut String) -> R<()> {
    let Some(kind) = &v.kind else { return err("the value has no kind (an invalid record)") };
    match kind {
        Kind::Null(_) => out.push_str("null"),
        Kind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Kind::Int64(i) => out.push_str(&i.to_string()),
        Kind::Int32(i) => out.push_str(&i.to_string()),
        Kind::Uint64(u) => out.push_str(&u.to_string()),
        Kind::Float32(f) if f.is_finite() => out.push_str(&float32(*f)),
        Kind::Float64(f) if f.is_finite() => out.push_str(&float64(*f)),
        Kind::Float32(f) => json_str(&float32(*f), out),
        Kind::Float64(f) => json_str(&float64(*f), out),
        Kind::Decimal(s) if is_json_number(s) => out.push_str(s),
        Kind::Decimal(s) => json_str(s, out),
        Kind::Decimal128(s) => {
            out.push_str("{\"$numberDecimal\":");
            json_str(s, out);
            out.push('}');
        }
        Kind::Text(s) | Kind::EnumLabel(s) => json_str(&no_nul(s)?, out),
        Kind::Other(o) => json_str(&no_nul(&o.text)?, out),
        // JSON text embedded as it is (the server validates it).
        Kind::Json(s) => out.push_str(&no_nul(s)?),
        Kind::Bytes(b) => {
            let _ = write!(out, "{{\"$binary\":{{\"base64\":\"{}\",\"subType\":\"00\"}}}}", base64_std(b));
        }
        Kind::Binary(b) => {
            let _ = write!(out, "{{\"$binary\":{{\"base64\":\"{}\",\"subType\":\"{:02x}\"}}}}", base64_std(&b.data), b.subtype);
        }
        Kind::ObjectId(b) => {
            let _ = write!(out, "{{\"$oid\":\"{}\"}}", hex(b));
        }
        Kind::Regex(r) => {
            out.push_str("{\"$regularExpression\":{\"pattern\":");
            json_str(&r.pattern, out);
            out.push_str(",\"options\":");
            json_str(&r.options, out);
            out.push_str("}}");
        }
        Kind::BsonTimestamp(t) => {
            let _ = write!(out, "{{\"$timestamp\":{{\"t\":{},\"i\":{}}}}}", t.seconds, t.increment);
        }
        Kind::Uuid(b) => json_str(&uuid(b)?, out),
        Kind::Date(d) => json_str(&date(d)?, out),
        Kind::Time(t) => json_str(&time(t), out),
        Kind::Timestamp(t) => json_str(&timestamp(t, false)?.replacen(' ', "T", 1), out),
        Kind::Timestamptz(t) => {
            let s = timestamp(t, true)?;
            let s = if t.special == Special::Finite as i32 { s.replacen(' ', "T", 1).replacen("+00", "+00:00", 1) } else { s };
            json_str(&s, out)
        }
        Kind::Interval(i) => json_str(&interval(i), out),
        Kind::Set(s) => {
            out.push('[');
            for (i, l) in s.labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(l, out);
            }
            out.push(']');
        }
        Kind::Array(a) => {
            out.push('[');
            for (i, e) in a.elements.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json(e, out)?;
            }
            out.push(']');
        }
        Kind::Document(d) => {
            out.push('{');
            for (i, f) in d.fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(&f.name, out);
                out.push(':');
                match &f.value {
                    Some(v) => json(v, out)?,
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
        Kind::Unchanged(_) => return err("an unchanged (TOAST) marker inside a document"),
    }
    Ok(())
}

fn base64_std(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        out.push(A[(n >> 18) as usize & 63] as char);
        out.push(A[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { A[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { A[n as usize & 63] as char } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::*;

    const TEXT: Target = Target::scalar(TypeClass::Text);
    const OTHER: Target = Target::scalar(TypeClass::Other);
    const JSON: Target = Target::scalar(TypeClass::Json);

    fn r(k: value::Kind, t: Target) -> Option<String> {
        render(&Value::of(k), t).unwrap()
    }
    fn s(k: value::Kind) -> String {
        r(k, OTHER).unwrap()
    }

    #[test]
    fn scalars() {
        use value::Kind::*;
        assert_eq!(render(&Value::null(), OTHER).unwrap(), None);
        assert_eq!(s(Bool(true)), "true");
        assert_eq!(s(Bool(false)), "false");
        assert_eq!(s(Int64(i64::MIN)), "-9223372036854775808");
        assert_eq!(s(Int32(-7)), "-7");
        assert_eq!(s(Uint64(u64::MAX)), "18446744073709551615");
        assert_eq!(s(Decimal("-12.3400".into())), "-12.3400");
        assert_eq!(s(Decimal("NaN".into())), "NaN");
        assert_eq!(s(Decimal128("1.0E+10".into())), "1.0E+10");
        assert_eq!(s(Text("a'b\"c\\".into())), "a'b\"c\\");
        assert_eq!(s(Json(" {\"a\": 1} ".into())), " {\"a\": 1} ");
        assert_eq!(s(EnumLabel("happy".into())), "happy");
        assert_eq!(s(Other(crate::record::Other { type_name: "point".into(), text: "(1,2)".into() })), "(1,2)");
        assert_eq!(s(Bytes(vec![0, 0xff, 0x10].into())), "\\x00ff10");
        assert_eq!(s(Bytes(Vec::new().into())), "\\x");
        assert_eq!(s(Uuid((0u8..16).collect::<Vec<_>>().into())), "00010203-0405-0607-0809-0a0b0c0d0e0f");
        assert!(render(&Value::of(Uuid(vec![1, 2].into())), OTHER).is_err());
        assert_eq!(s(ObjectId(vec![0x65, 0xf1, 0xc0].into())), "65f1c0");
        assert_eq!(s(Binary(crate::record::Binary { subtype: 4, data: vec![1, 2].into() })), "\\x0102");
        assert_eq!(s(Regex(crate::record::Regex { pattern: "^a".into(), options: "i".into() })), "/^a/i");
        assert_eq!(s(BsonTimestamp(crate::record::BsonTimestamp { seconds: 5, increment: 2 })), "{\"$timestamp\":{\"t\":5,\"i\":2}}");
        assert_eq!(s(Set(Labels { labels: vec!["a".into(), "b".into()] })), "a,b");
    }

    #[test]
    fn floats() {
        assert_eq!(float64(0.1), "0.1");
        assert_eq!(float64(1.0), "1.0");
        assert_eq!(float64(-0.0), "-0.0");
        assert_eq!(float64(1e300), "1e300");
        assert_eq!(float64(f64::MIN_POSITIVE), "2.2250738585072014e-308");
        assert_eq!(float64(f64::NAN), "NaN");
        assert_eq!(float64(f64::INFINITY), "Infinity");
        assert_eq!(float64(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(float32(0.1), "0.1");
        assert_eq!(float32(f32::MAX), "3.4028235e38");
        assert_eq!(float32(f32::NEG_INFINITY), "-Infinity");
        for f in [0.1, 1.0 / 3.0, 1e-320, 123_456_789.123_456_78, -2.5e-7] {
            assert_eq!(float64(f).parse::<f64>().unwrap(), f);
        }
    }

    #[test]
    fn dates_and_times() {
        let d = |days, special| date(&Date { days, special }).unwrap();
        assert_eq!(d(0, 0), "1970-01-01");
        assert_eq!(d(19_782, 0), "2024-02-29");
        assert_eq!(d(-719_528, 0), "0001-01-01 BC");
        assert_eq!(d(-719_529, 0), "0002-12-31 BC");
        assert_eq!(d(2_932_897, 0), "10000-01-01");
        assert_eq!(d(0, Special::PosInfinity as i32), "infinity");
        assert_eq!(d(0, Special::NegInfinity as i32), "-infinity");
        assert!(date(&Date { days: 0, special: Special::Zero as i32 }).is_err());

        let t = |micros, has_offset, offset_seconds| time(&Time { micros, has_offset, offset_seconds });
        assert_eq!(t(0, false, 0), "00:00:00");
        assert_eq!(t(49_500_500_000, false, 0), "13:45:00.5");
        assert_eq!(t(86_400_000_000, false, 0), "24:00:00");
        assert_eq!(t(-3_020_399_000_000, false, 0), "-838:59:59");
        assert_eq!(t(1, true, 19_800), "00:00:00.000001+05:30");
        assert_eq!(t(0, true, -18_015), "00:00:00-05:00:15");

        let ts = |seconds, nanos, special, tz| timestamp(&Timestamp { seconds, nanos, special }, tz).unwrap();
        assert_eq!(ts(0, 0, 0, false), "1970-01-01 00:00:00");
        assert_eq!(ts(1_709_207_100, 123_456_000, 0, true), "2024-02-29 11:45:00.123456+00");
        assert_eq!(ts(-1, 999_999_999, 0, false), "1969-12-31 23:59:59.999999999");
        // 44 BC (astronomical -43), March 15, noon.
        assert_eq!(ts(-63_517_780_800, 500_000_000, 0, true), "0044-03-15 12:00:00.5+00 BC");
        assert_eq!(ts(0, 0, Special::PosInfinity as i32, true), "infinity");
        assert_eq!(ts(0, 0, Special::NegInfinity as i32, false), "-infinity");
        assert_eq!(ts(0, 1_500_000_000, 0, false), "1970-01-01 00:00:01.5");

        assert_eq!(interval(&Interval { months: -1, days: 2, micros: -3 }), "-1 mons 2 days -3 microseconds");
        assert_eq!(
            interval(&Interval { months: i32::MIN, days: i32::MIN, micros: i64::MIN }),
            "-2147483648 mons -2147483648 days -9223372036854775808 microseconds"
        );
    }

    fn arr(elems: Vec<Value>) -> value::Kind {
        value::Kind::Array(Array { element_type: "text".into(), elements: elems })
    }

    #[test]
    fn arrays() {
        let at = Target { class: TypeClass::Text, array: true };
        let a = arr(vec![Value::text("a b"), Value::text("c,d"), Value::null(), Value::text("NULL"), Value::text("q\"\\")]);
        assert_eq!(r(a.clone(), at).unwrap(), r#"{"a b","c,d",NULL,"NULL","q\"\\"}"#);
        let nested = arr(vec![
            Value::of(arr(vec![Value::int64(1), Value::int64(2)])),
            Value::of(arr(vec![Value::int64(3), Value::null()])),
        ]);
        assert_eq!(r(nested, Target { class: TypeClass::Other, array: true }).unwrap(), r#"{{"1","2"},{"3",NULL}}"#);
        assert_eq!(r(arr(vec![]), at).unwrap(), "{}");
        let bytes = arr(vec![Value::of(value::Kind::Bytes(vec![1].into()))]);
        assert_eq!(r(bytes, Target { class: TypeClass::Other, array: true }).unwrap(), r#"{"\\x01"}"#);
        // Into text: the literal; into json: a JSON array; elsewhere an error.
        assert_eq!(r(a.clone(), TEXT).unwrap(), r#"{"a b","c,d",NULL,"NULL","q\"\\"}"#);
        assert_eq!(r(a.clone(), JSON).unwrap(), r#"["a b","c,d",null,"NULL","q\"\\"]"#);
        assert!(render(&Value::of(a), OTHER).is_err());
        // A set into an array column.
        let set = value::Kind::Set(Labels { labels: vec!["x".into(), "y z".into()] });
        assert_eq!(r(set.clone(), at).unwrap(), r#"{"x","y z"}"#);
        assert_eq!(r(set, JSON).unwrap(), r#"["x","y z"]"#);
        // jsonb[] with documents.
        let doc = Value::of(value::Kind::Document(Document { fields: vec![Column { name: "k".into(), value: Some(Value::int64(1)) }] }));
        assert_eq!(r(arr(vec![doc]), Target { class: TypeClass::Json, array: true }).unwrap(), r#"{"{\"k\":1}"}"#);
    }

    #[test]
    fn documents_and_json() {
        use value::Kind::*;
        let doc = Value::of(Document(crate::record::Document {
            fields: vec![
                Column { name: "_id".into(), value: Some(Value::of(ObjectId(vec![0xab; 12].into()))) },
                Column { name: "n".into(), value: Some(Value::of(Int32(3))) },
                Column { name: "d".into(), value: Some(Value::of(Decimal128("1.5".into()))) },
                Column { name: "f".into(), value: Some(Value::of(Float64(f64::NAN))) },
                Column { name: "t".into(), value: Some(Value::of(Timestamptz(crate::record::Timestamp { seconds: 0, nanos: 0, special: 0 }))) },
                Column { name: "b".into(), value: Some(Value::of(Binary(crate::record::Binary { subtype: 4, data: vec![1, 2, 3, 4].into() }))) },
                Column { name: "s".into(), value: Some(Value::text("é\"\n")) },
                Column { name: "j".into(), value: Some(Value::of(Json("[1, 2]".into()))) },
                Column { name: "x".into(), value: Some(Value::of(Decimal("NaN".into()))) },
                Column { name: "y".into(), value: Some(Value::of(Decimal("-1.50e3".into()))) },
            ],
        }));
        let expect = r#"{"_id":{"$oid":"abababababababababababab"},"n":3,"d":{"$numberDecimal":"1.5"},"f":"NaN","t":"1970-01-01T00:00:00+00:00","b":{"$binary":{"base64":"AQIDBA==","subType":"04"}},"s":"é\"\n","j":[1, 2],"x":"NaN","y":-1.50e3}"#;
        assert_eq!(render(&doc, JSON).unwrap().unwrap(), expect);
        assert_eq!(render(&doc, TEXT).unwrap().unwrap(), expect);
        let e = render(&doc, OTHER).unwrap_err();
        assert!(e.0.contains("json"), "{e:?}");
        // Scalars into json: JSON values.
        assert_eq!(r(Int64(5), JSON).unwrap(), "5");
        assert_eq!(r(Bool(true), JSON).unwrap(), "true");
        assert_eq!(r(Text("{\"a\":1}".into()), JSON).unwrap(), "{\"a\":1}");
        assert_eq!(r(Date(crate::record::Date { days: 0, special: 0 }), JSON).unwrap(), "\"1970-01-01\"");
        assert_eq!(base64_std(b"ab"), "YWI=");
        assert_eq!(base64_std(b"abc"), "YWJj");
        assert_eq!(base64_std(b"a"), "YQ==");
    }

    #[test]
    fn json_numbers() {
        for ok in ["0", "-1", "1.5", "1e10", "-0.0E-3", "12.3400"] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in ["", "-", "01", "1.", ".5", "NaN", "Infinity", "1e", "+1", "1 "] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }

    #[test]
    fn refused() {
        use value::Kind::*;
        assert!(render(&Value::unchanged(), OTHER).is_err());
        assert!(render(&Value { kind: None }, OTHER).is_err());
        assert!(render(&Value::text("a\0b"), TEXT).is_err());
        assert!(render(&Value::of(Decimal(String::new())), OTHER).is_err());
        assert!(render(&Value::of(arr(vec![Value::unchanged()])), Target { class: TypeClass::Text, array: true }).is_err());
    }
}
