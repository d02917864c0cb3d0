//! Text forms shared by the SQL targets: canonical values as JSON text
//! (array elements, document fields, sets into JSON columns), and the float,
//! hex and uuid spellings both targets use.
//!
//! [`write`] renders the engine-neutral kinds itself and asks a [`JsonStyle`]
//! for what differs per target: text checks, temporal forms and errors.

use crate::record::{value::Kind, Date, Interval, Time, Timestamp, Value};
use base64::Engine as _;
use std::fmt::Write as _;

/// What a target decides when writing JSON text.
pub trait JsonStyle {
    /// The target's render error.
    type Error: From<String>;
    /// Checks text, enum-label, other and json text before it is written.
    fn check_text(&self, _s: &str) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A uuid's text.
    fn uuid(&self, b: &[u8]) -> Result<String, Self::Error>;
    /// A date's text.
    fn date(&self, d: &Date) -> Result<String, Self::Error>;
    /// A time's text.
    fn time(&self, t: &Time) -> Result<String, Self::Error>;
    /// A timestamp's text (`tz`: a timestamptz).
    fn timestamp(&self, t: &Timestamp, tz: bool) -> Result<String, Self::Error>;
    /// An interval's text.
    fn interval(&self, i: &Interval) -> String;
}

/// Why an UNCHANGED marker cannot be written inside JSON.
const UNCHANGED_INSIDE: &str = "an unchanged (TOAST) marker inside an array or document";

/// Appends SET labels as a JSON array of strings.
pub fn json_labels(labels: &[String], out: &mut String) {
    out.push('[');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(l, out);
    }
    out.push(']');
}

/// Appends the JSON of `v` to `out`: plain JSON for the SQL kinds, relaxed
/// MongoDB Extended JSON for the BSON-only ones.
pub fn write<S: JsonStyle>(v: &Value, out: &mut String, style: &S) -> Result<(), S::Error> {
    let Some(kind) = &v.kind else { return Err(S::Error::from("the value has no kind (an invalid record)".to_string())) };
    match kind {
        Kind::Null(_) => out.push_str("null"),
        Kind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Kind::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        Kind::Int32(i) => {
            let _ = write!(out, "{i}");
        }
        Kind::Uint64(u) => {
            let _ = write!(out, "{u}");
        }
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
        Kind::Text(s) | Kind::EnumLabel(s) => {
            style.check_text(s)?;
            json_str(s, out)
        }
        Kind::Other(o) => {
            style.check_text(&o.text)?;
            json_str(&o.text, out)
        }
        // JSON text embedded as it is (the server validates it).
        Kind::Json(s) => {
            style.check_text(s)?;
            out.push_str(s)
        }
        Kind::Bytes(b) => {
            let _ = write!(out, "{{\"$binary\":{{\"base64\":\"{}\",\"subType\":\"00\"}}}}", base64(b));
        }
        Kind::Binary(b) => {
            let _ = write!(out, "{{\"$binary\":{{\"base64\":\"{}\",\"subType\":\"{:02x}\"}}}}", base64(&b.data), b.subtype);
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
        Kind::Uuid(b) => json_str(&style.uuid(b)?, out),
        Kind::Date(d) => json_str(&style.date(d)?, out),
        Kind::Time(t) => json_str(&style.time(t)?, out),
        Kind::Timestamp(t) => json_str(&style.timestamp(t, false)?, out),
        Kind::Timestamptz(t) => json_str(&style.timestamp(t, true)?, out),
        Kind::Interval(i) => json_str(&style.interval(i), out),
        Kind::Set(s) => json_labels(&s.labels, out),
        Kind::Array(a) => {
            out.push('[');
            for (i, e) in a.elements.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(e, out, style)?;
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
                    Some(v) => write(v, out, style)?,
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
        Kind::Unchanged(_) => return Err(S::Error::from(UNCHANGED_INSIDE.to_string())),
    }
    Ok(())
}

/// Appends `s` as a JSON string.
pub fn json_str(s: &str, out: &mut String) {
    crate::record::json::push_json_string(out, s);
}

/// True when `s` is a JSON number (`-?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?`).
pub fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if b.get(i) == Some(&b'0') {
        i += 1;
    } else if !digits(&mut i) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// Standard base64 with padding.
fn base64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Shortest text that parses back to the same `f64` (Rust's `Debug` form:
/// `0.1`, `1e300`, `-0.0`), or `NaN`, `Infinity`, `-Infinity`.
pub fn float64(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{f:?}")
    }
}

/// As [`float64`], for `f32` (shortest text for the `f32`).
pub fn float32(f: f32) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{f:?}")
    }
}

/// Lowercase hex digits of `b`.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// `8-4-4-4-12` lowercase hex of a 16-byte uuid.
pub fn uuid(b: &[u8]) -> Result<String, String> {
    if b.len() != 16 {
        return Err(format!("a uuid must be 16 bytes, this one has {}", b.len()));
    }
    let h = hex(b);
    Ok(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b"a"), "YQ==");
    }

    #[test]
    fn json_numbers() {
        for ok in ["0", "-1", "1.5", "1e10", "-0.0E-3", "12.3400", "-1.5e3"] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in ["", "-", "01", "1.", ".5", "NaN", "Infinity", "1e", "+1", "1 "] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }
}
