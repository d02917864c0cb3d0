//! Dates, times and timestamps as canonical text, both ways: the writer's
//! digits (padded years, trimmed fractions, offsets) and the reader's
//! parsers of the same forms.

use super::{NANOS_PER_SEC, ZERO_DATE, ZERO_TIMESTAMP};
use crate::record::calendar::{civil_from_days, days_from_civil, days_in_month};
use crate::record::{Date, Special, Time, Timestamp};

/// Writes `v` in decimal, left-padded with zeros to `width` digits.
pub(super) fn w_pad(out: &mut Vec<u8>, mut v: u64, width: usize) {
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
pub(super) fn w_frac(out: &mut Vec<u8>, mut frac: u32, digits: usize) {
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

pub(super) fn w_year(out: &mut Vec<u8>, y: i64) {
    if (0..=9999).contains(&y) {
        w_pad(out, y as u64, 4);
    } else {
        out.push(if y < 0 { b'-' } else { b'+' });
        w_pad(out, y.unsigned_abs(), 6);
    }
}

pub(super) fn w_civil(out: &mut Vec<u8>, days: i64) {
    let (y, m, d) = civil_from_days(days);
    w_year(out, y);
    out.push(b'-');
    w_pad(out, u64::from(m), 2);
    out.push(b'-');
    w_pad(out, u64::from(d), 2);
}

pub(super) fn w_hms(out: &mut Vec<u8>, secs: u64) {
    w_pad(out, secs / 3600, 2);
    out.push(b':');
    w_pad(out, secs / 60 % 60, 2);
    out.push(b':');
    w_pad(out, secs % 60, 2);
}

/// The special value of a date or timestamp; unknown numbers count as finite.
pub(super) fn special(n: i32) -> Special {
    Special::try_from(n).unwrap_or(Special::Finite)
}

pub(super) fn w_date(out: &mut Vec<u8>, d: &Date) {
    out.push(b'"');
    match special(d.special) {
        Special::Finite => w_civil(out, i64::from(d.days)),
        Special::PosInfinity => out.extend_from_slice(b"infinity"),
        Special::NegInfinity => out.extend_from_slice(b"-infinity"),
        Special::Zero => out.extend_from_slice(ZERO_DATE.as_bytes()),
    }
    out.push(b'"');
}

pub(super) fn w_time(out: &mut Vec<u8>, t: &Time) {
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

pub(super) fn w_timestamp(out: &mut Vec<u8>, t: &Timestamp, utc: bool) {
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

/// A cursor over a date/time string.
pub(super) struct Cur<'s> {
    pub(super) b: &'s [u8],
    pub(super) i: usize,
}

impl Cur<'_> {
    pub(super) fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// `min..=max` decimal digits.
    pub(super) fn digits(&mut self, min: usize, max: usize) -> Option<u64> {
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
    pub(super) fn frac(&mut self, max: usize) -> Option<u64> {
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

    pub(super) fn done(&self) -> bool {
        self.i == self.b.len()
    }

    /// `YYYY-MM-DD` or `±Y{4,}-MM-DD`, validated; days since 1970-01-01.
    pub(super) fn civil(&mut self) -> Option<i128> {
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
    pub(super) fn min_sec(&mut self) -> Option<u64> {
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

pub(super) fn parse_date(s: &str) -> Option<Date> {
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

pub(super) fn parse_time(s: &str) -> Option<Time> {
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

pub(super) fn parse_timestamp(s: &str, utc: bool) -> Option<Timestamp> {
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
