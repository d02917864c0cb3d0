//! `SELECT` text to canonical kinds (the snapshot's path), and the text
//! forms both paths must agree on (`inet6`, DECIMAL digits, UUIDs).

use super::charset::Charset;
use super::column_type::Family;
use super::problem::Problem;
use super::temporal::{date_kind, datetime_kind, parse_date, parse_datetime, parse_time, time_kind, DateTimeParts};
use super::ColumnInfo;
use crate::record::{value::Kind, Labels, Other, Special, Timestamp};
use bytes::Bytes;
use std::fmt::Write as _;

/// MySQL's `INET6_NTOA` text (MariaDB's `inet6` prints the same): the
/// longest run of zero groups — even a single one, the first on a tie —
/// becomes `::`; IPv4-compatible (`::a.b.c.d`) and IPv4-mapped
/// (`::ffff:a.b.c.d`) addresses end in dotted form.
pub(super) fn inet6_text(b: &[u8]) -> String {
    let words: Vec<u16> = b.chunks_exact(2).map(|p| u16::from_be_bytes([p[0], p[1]])).collect();
    // The gap: the longest run of zero words.
    let (mut gap_pos, mut gap_len) = (usize::MAX, 0);
    let mut i = 0;
    while i < 8 {
        if words[i] == 0 {
            let start = i;
            while i < 8 && words[i] == 0 {
                i += 1;
            }
            if i - start > gap_len {
                (gap_pos, gap_len) = (start, i - start);
            }
        } else {
            i += 1;
        }
    }
    let mut s = String::new();
    let mut i = 0;
    while i < 8 {
        if i == gap_pos {
            if i == 0 {
                s.push(':');
            }
            s.push(':');
            i += gap_len;
            continue;
        }
        if i == 6 && gap_pos == 0 && (gap_len == 6 || (gap_len == 5 && words[5] == 0xffff)) {
            let _ = write!(s, "{}.{}.{}.{}", b[12], b[13], b[14], b[15]);
            return s;
        }
        let _ = write!(s, "{:x}", words[i]);
        if i != 7 {
            s.push(':');
        }
        i += 1;
    }
    s
}

/// Converts a text-protocol value with the column's meaning.
pub(super) fn from_text(text: &[u8], col: &ColumnInfo, family: &Family) -> Result<Kind, Problem> {
    let s = || std::str::from_utf8(text).map_err(|_| Problem::from("not valid UTF-8"));
    Ok(match family {
        Family::Int { bits, unsigned: true } => {
            let v: u64 = s()?.parse().map_err(|_| "not an unsigned integer")?;
            if *bits < 64 && v >> bits != 0 {
                return Err(format!("out of range for a {bits}-bit integer").into());
            }
            Kind::Uint64(v)
        }
        Family::Int { bits, unsigned: false } => {
            let v: i64 = s()?.parse().map_err(|_| "not an integer")?;
            let limit = 1i64 << (bits - 1).min(62);
            if *bits < 64 && !(-limit..limit).contains(&v) {
                return Err(format!("out of range for a {bits}-bit integer").into());
            }
            Kind::Int64(v)
        }
        Family::Decimal => {
            let t = s()?;
            check_decimal(t)?;
            Kind::Decimal(t.to_string())
        }
        Family::Float => Kind::Float32(s()?.parse().map_err(|_| "not a number")?),
        Family::Double => Kind::Float64(s()?.parse().map_err(|_| "not a number")?),
        Family::Bit | Family::Binary { .. } | Family::Geometry => Kind::Bytes(Bytes::copy_from_slice(text)),
        Family::Text { charset, char_padded } => {
            if let Charset::Unsupported(name) = charset {
                // The server converted it for us, but the binlog would not
                // be readable: refuse now, not after the snapshot.
                return Err(Problem::Charset(name.clone()));
            }
            let t = s()?;
            Kind::Text(if *char_padded { t.trim_end_matches(' ') } else { t }.to_string())
        }
        Family::Date => {
            let (y, m, d) = parse_date(s()?)?;
            date_kind(y, m, d)
        }
        Family::Time { .. } => time_kind(parse_time(s()?)?),
        Family::DateTime { fsp } => datetime_kind(parse_datetime(s()?)?, *fsp),
        Family::Timestamp { .. } => {
            let p = parse_datetime(s()?)?;
            if p.y == 0 && p.m == 0 && p.d == 0 {
                if p != (DateTimeParts { y: 0, m: 0, d: 0, h: 0, mi: 0, s: 0, micros: 0 }) {
                    return Err("a zero TIMESTAMP with a time part".into());
                }
                Kind::Timestamptz(Timestamp { seconds: 0, nanos: 0, special: Special::Zero as i32 })
            } else {
                match datetime_kind(p, 6) {
                    Kind::Timestamp(t) => Kind::Timestamptz(t),
                    _ => return Err("not a valid UTC date and time".into()),
                }
            }
        }
        Family::Year { two_digits } => {
            let t = s()?;
            let y: u32 = t.parse().map_err(|_| "not a year")?;
            if *two_digits && t.len() == 2 {
                Kind::Int64(i64::from(if y < 70 { 2000 + y } else { 1900 + y }))
            } else {
                Kind::Int64(i64::from(y))
            }
        }
        Family::Enum => Kind::EnumLabel(s()?.to_string()),
        Family::Set => {
            let t = s()?;
            Kind::Set(Labels {
                labels: if t.is_empty() { Vec::new() } else { t.split(',').map(str::to_string).collect() },
            })
        }
        Family::Json => Kind::Json(s()?.to_string()),
        Family::Uuid => Kind::Uuid(parse_uuid(s()?)?),
        Family::Inet6 | Family::Inet4 => {
            Kind::Other(Other { type_name: col.data_type.clone(), text: s()?.to_string() })
        }
        Family::Unknown => Kind::Other(Other { type_name: col.data_type.clone(), text: s()?.to_string() }),
    })
}

/// DECIMAL text as MySQL prints it: `-?digits(.digits)?`.
pub(super) fn check_decimal(t: &str) -> Result<(), Problem> {
    let digits = t.strip_prefix('-').unwrap_or(t);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    if int.is_empty() || frac.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return Err("expected digits with an optional sign and decimal point".into());
    }
    Ok(())
}

/// A run of ASCII digits as a number (at most 9 digits).
pub(super) fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

pub(super) fn parse_uuid(t: &str) -> Result<Bytes, Problem> {
    let hex: Vec<u8> = t.bytes().filter(|&b| b != b'-').collect();
    if hex.len() != 32 || t.len() != 36 {
        return Err("expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".into());
    }
    let nibble = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(16);
    for pair in hex.chunks_exact(2) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(h), Some(l)) => out.push(h << 4 | l),
            _ => return Err("bad hex digit".into()),
        }
    }
    Ok(Bytes::from(out))
}
