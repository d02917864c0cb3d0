//! Text of one scalar kind ([`scalar`], also used for array elements) and
//! the byte forms the column's type decides: bytea hex (also what PostGIS
//! hex text becomes), uuid, exactly `n` digits for `bit(n)`, inet addresses.
use super::geometry::{point, polygon};
use super::*;
use crate::sinks::json_text::{self, float32, float64, hex};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Text of a scalar kind (also used for array elements).
pub(super) fn scalar(kind: &Kind, class: TypeClass) -> R<String> {
    match (class, kind) {
        (TypeClass::Bit(n), Kind::Bytes(b)) => return bits(b, n),
        (TypeClass::Bit(n), Kind::Uint64(u)) => return bits(&u.to_be_bytes(), n),
        (TypeClass::Bit(n), Kind::Int64(i)) if *i >= 0 => return bits(&i.to_be_bytes(), n),
        (TypeClass::Inet, Kind::Bytes(b)) => return inet(b),
        (TypeClass::Point, Kind::Bytes(b)) => return point(b),
        (TypeClass::Polygon, Kind::Bytes(b)) => return polygon(b),
        (TypeClass::Bytea, Kind::Other(o)) if is_hex(&o.text) => return Ok(format!("\\x{}", o.text.to_ascii_lowercase())),
        _ => {}
    }
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
            array_text(a, Target::scalar(class), &mut out)?;
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

/// bytea hex input form: `\x0102ff`.
pub fn bytea(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + b.len() * 2);
    s.push_str("\\x");
    s.push_str(&hex(b));
    s
}

pub(super) fn uuid(b: &[u8]) -> R<String> {
    json_text::uuid(b).map_err(RenderError)
}

/// True for non-empty, even-length hex text (PostGIS's EWKB output form).
fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Exactly `n` binary digits of the big-endian number in `b`, or why it
/// does not fit `bit(n)`.
fn bits(b: &[u8], n: u32) -> R<String> {
    let n = n as usize;
    let total = b.len() * 8;
    let mut out = String::with_capacity(n.max(total));
    for byte in b {
        let _ = write!(out, "{byte:08b}");
    }
    if total < n {
        return Ok("0".repeat(n - total) + &out);
    }
    let (high, low) = out.split_at(total - n);
    if high.contains('1') {
        return err(format!("the value has {} significant bits and does not fit bit({n})", total - out.find('1').unwrap_or(total)));
    }
    Ok(low.to_string())
}

/// Address text of 4 (IPv4) or 16 (IPv6) bytes in network order.
fn inet(b: &[u8]) -> R<String> {
    match b.len() {
        4 => Ok(Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()),
        16 => {
            let a: [u8; 16] = b.try_into().expect("16 bytes");
            Ok(Ipv6Addr::from(a).to_string())
        }
        n => err(format!("an inet address in bytes must be 4 (IPv4) or 16 (IPv6) bytes long, this one has {n}")),
    }
}
