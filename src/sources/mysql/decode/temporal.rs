//! Dates, times and datetimes: validity and canonical kinds (zero and
//! impossible dates included), their `SELECT` text forms and their binlog
//! encodings (TIME2 / DATETIME2 fractions and the MariaDB 5.3 formats).

use super::column_type::Family;
use super::problem::Problem;
use super::rows::{Cursor, ReadError};
use super::text::digits;
use crate::record::calendar;
use crate::record::{value::Kind, Date, Other, Special, Time, Timestamp};
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct DateTimeParts {
    pub(super) y: u32,
    pub(super) m: u32,
    pub(super) d: u32,
    pub(super) h: u32,
    pub(super) mi: u32,
    pub(super) s: u32,
    pub(super) micros: u32,
}

pub(super) fn date_valid(y: u32, m: u32, d: u32) -> bool {
    (1..=12).contains(&m) && d >= 1 && d <= calendar::days_in_month(i64::from(y), m)
}

pub(super) fn days_of(y: u32, m: u32, d: u32) -> i64 {
    calendar::days_from_civil(i64::from(y), m, d) as i64
}

/// DATE parts: a date, the zero date, or (zero / impossible parts) its text.
pub(super) fn date_kind(y: u32, m: u32, d: u32) -> Kind {
    if y == 0 && m == 0 && d == 0 {
        Kind::Date(Date { days: 0, special: Special::Zero as i32 })
    } else if date_valid(y, m, d) {
        Kind::Date(Date { days: days_of(y, m, d) as i32, special: 0 })
    } else {
        Kind::Other(Other { type_name: "date".into(), text: format!("{y:04}-{m:02}-{d:02}") })
    }
}

pub(super) fn time_kind(micros: i64) -> Kind {
    Kind::Time(Time { micros, has_offset: false, offset_seconds: 0 })
}

/// DATETIME parts: a wall-clock timestamp, the zero datetime, or (zero or
/// impossible parts) its text as MySQL prints it (with `fsp` digits).
pub(super) fn datetime_kind(p: DateTimeParts, fsp: u32) -> Kind {
    let zero = DateTimeParts { y: 0, m: 0, d: 0, h: 0, mi: 0, s: 0, micros: 0 };
    if p == zero {
        return Kind::Timestamp(Timestamp { seconds: 0, nanos: 0, special: Special::Zero as i32 });
    }
    if date_valid(p.y, p.m, p.d) && p.h < 24 && p.mi < 60 && p.s < 60 && p.micros < 1_000_000 {
        let seconds = days_of(p.y, p.m, p.d) * 86_400 + i64::from(p.h * 3600 + p.mi * 60 + p.s);
        return Kind::Timestamp(Timestamp { seconds, nanos: p.micros * 1000, special: 0 });
    }
    let mut text = format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", p.y, p.m, p.d, p.h, p.mi, p.s);
    if fsp > 0 {
        let frac = p.micros / 10u32.pow(6 - fsp);
        let _ = write!(text, ".{frac:0width$}", width = fsp as usize);
    }
    Kind::Other(Other { type_name: "datetime".into(), text })
}

/// `YYYY-MM-DD` (zero parts allowed).
pub(super) fn parse_date(t: &str) -> Result<(u32, u32, u32), Problem> {
    let mut it = t.splitn(3, '-');
    match (it.next().and_then(digits), it.next().and_then(digits), it.next().and_then(digits)) {
        (Some(y), Some(m), Some(d)) if y <= 9999 && m <= 99 && d <= 99 => Ok((y, m, d)),
        _ => Err("expected YYYY-MM-DD".into()),
    }
}

/// Fractional seconds text (1 to 6 digits) as microseconds.
pub(super) fn parse_frac(f: &str) -> Result<u32, Problem> {
    if f.is_empty() || f.len() > 6 {
        return Err("expected 1 to 6 fractional digits".into());
    }
    let v = digits(f).ok_or("bad fractional digits")?;
    Ok(v * 10u32.pow(6 - f.len() as u32))
}

/// `[-]H+:MM:SS[.ffffff]` as signed microseconds.
pub(super) fn parse_time(t: &str) -> Result<i64, Problem> {
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t),
    };
    let (hms, frac) = body.split_once('.').unwrap_or((body, ""));
    let mut it = hms.splitn(3, ':');
    let (Some(h), Some(m), Some(s)) =
        (it.next().and_then(digits), it.next().and_then(digits), it.next().and_then(digits))
    else {
        return Err("expected [-]HH:MM:SS[.ffffff]".into());
    };
    if m > 59 || s > 59 {
        return Err("minutes or seconds above 59".into());
    }
    let micros = if frac.is_empty() { 0 } else { parse_frac(frac)? };
    let total = (i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s)) * 1_000_000 + i64::from(micros);
    Ok(if neg { -total } else { total })
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` (zero parts allowed).
pub(super) fn parse_datetime(t: &str) -> Result<DateTimeParts, Problem> {
    let (date, time) = t.split_once(' ').ok_or("expected YYYY-MM-DD HH:MM:SS")?;
    let (y, m, d) = parse_date(date)?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut it = hms.splitn(3, ':');
    let (Some(h), Some(mi), Some(s)) =
        (it.next().and_then(digits), it.next().and_then(digits), it.next().and_then(digits))
    else {
        return Err("expected YYYY-MM-DD HH:MM:SS".into());
    };
    if h > 99 || mi > 99 || s > 99 {
        return Err("bad time of day".into());
    }
    let micros = if frac.is_empty() { 0 } else { parse_frac(frac)? };
    Ok(DateTimeParts { y, m, d, h, mi, s, micros })
}

/// Storage bytes of the fraction of a temporal value with `fsp` digits
/// (TIMESTAMP2 / DATETIME2 / TIME2 and MariaDB 5.3 TIMESTAMP(n)).
pub(super) fn frac_bytes(fsp: u32) -> usize {
    (fsp as usize).div_ceil(2)
}

/// Bytes of a MariaDB 5.3 TIME(n) / DATETIME(n), by n: the whole packed
/// number is stored in as few bytes as its range needs.
pub(super) const TIME_HIRES_BYTES: [usize; 7] = [3, 4, 4, 5, 5, 5, 6];
pub(super) const DATETIME_HIRES_BYTES: [usize; 7] = [5, 6, 6, 7, 7, 7, 8];

pub(super) fn hires_fsp(family: &Family) -> u32 {
    match family {
        Family::Time { fsp } | Family::DateTime { fsp } | Family::Timestamp { fsp } => *fsp,
        _ => 0,
    }
}

/// The fraction of TIMESTAMP2 / DATETIME2 (never negative): 1, 2 or 3
/// big-endian bytes for 1-2, 3-4, 5-6 digits.
pub(super) fn frac_micros(cur: &mut Cursor<'_>, fsp: u32) -> Result<u32, ReadError> {
    let v = match fsp {
        1 | 2 => cur.be(1)? * 10_000,
        3 | 4 => cur.be(2)? * 100,
        5 | 6 => cur.be(3)?,
        _ => 0,
    };
    if v > 999_999 {
        return Err("fraction above 999999 µs".into());
    }
    Ok(v as u32)
}

/// MySQL 5.6+ TIME(fsp): a packed value `hms << 24 | µs` (two's
/// complement for negative times) stored big-endian with an offset; the
/// 1-4 digit fractions of negative values borrow from the integer part.
pub(super) fn time2(cur: &mut Cursor<'_>, fsp: u32) -> Result<i64, ReadError> {
    const INT_OFS: i64 = 0x80_0000;
    let packed: i64 = match fsp {
        1 | 2 => {
            let mut int = cur.be(3)? as i64 - INT_OFS;
            let mut frac = cur.be(1)? as i64;
            if int < 0 && frac > 0 {
                int += 1;
                frac -= 0x100;
            }
            int * (1 << 24) + frac * 10_000
        }
        3 | 4 => {
            let mut int = cur.be(3)? as i64 - INT_OFS;
            let mut frac = cur.be(2)? as i64;
            if int < 0 && frac > 0 {
                int += 1;
                frac -= 0x1_0000;
            }
            int * (1 << 24) + frac * 100
        }
        5 | 6 => cur.be(6)? as i64 - 0x8000_0000_0000,
        _ => (cur.be(3)? as i64 - INT_OFS) * (1 << 24),
    };
    let a = packed.unsigned_abs();
    let hms = a >> 24;
    let micros = a & 0xff_ffff;
    let (h, m, s) = ((hms >> 12) & 0x3ff, (hms >> 6) & 0x3f, hms & 0x3f);
    if m > 59 || s > 59 || micros > 999_999 {
        return Err("bad TIME value".into());
    }
    let total = ((h * 3600 + m * 60 + s) * 1_000_000 + micros) as i64;
    Ok(if packed < 0 { -total } else { total })
}

/// MySQL 5.6+ DATETIME(fsp): 40 bits (sign, year*13+month, day, h, m, s)
/// big-endian with an offset, then the fraction.
pub(super) fn datetime2(cur: &mut Cursor<'_>, fsp: u32) -> Result<DateTimeParts, ReadError> {
    let int = cur.be(5)? as i64 - 0x80_0000_0000;
    if int < 0 {
        return Err("negative DATETIME".into());
    }
    let micros = frac_micros(cur, fsp)?;
    let int = int as u64;
    let ymd = int >> 17;
    let hms = int & 0x1_ffff;
    let ym = ymd >> 5;
    Ok(DateTimeParts {
        y: (ym / 13) as u32,
        m: (ym % 13) as u32,
        d: (ymd & 31) as u32,
        h: (hms >> 12) as u32,
        mi: ((hms >> 6) & 63) as u32,
        s: (hms & 63) as u32,
        micros,
    })
}
