//! Text forms of `date`, `time` / `timetz`, `timestamp` / `timestamptz`
//! and `interval`, read exactly in place (BC years, ±infinity, offsets,
//! unbounded interval hours).
use super::*;
use crate::record::calendar;

const MICROS_PER_SEC: i64 = 1_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// A cursor over ASCII text for the date/time parsers.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn new(text: &'a str) -> Self {
        Scan { b: text.as_bytes(), i: 0 }
    }

    fn done(&self) -> bool {
        self.i == self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8, reason: Reason) -> Result<(), Reason> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(reason)
        }
    }

    fn rest_is(&mut self, s: &[u8]) -> bool {
        if self.b[self.i..].starts_with(s) {
            self.i += s.len();
            true
        } else {
            false
        }
    }

    /// Between `min` and `max` decimal digits as a number.
    fn digits(&mut self, min: usize, max: usize, reason: Reason) -> Result<i64, Reason> {
        let start = self.i;
        let mut v: i64 = 0;
        while self.i - start < max {
            match self.peek() {
                Some(d @ b'0'..=b'9') => {
                    v = v * 10 + i64::from(d - b'0');
                    self.i += 1;
                }
                _ => break,
            }
        }
        if self.i - start < min {
            return Err(reason);
        }
        Ok(v)
    }

    /// Exactly two digits.
    fn two(&mut self, reason: Reason) -> Result<i64, Reason> {
        self.digits(2, 2, reason)
    }

    /// An optional `.` and 1 to 6 fraction digits, as microseconds.
    fn fraction(&mut self) -> Result<i64, Reason> {
        if !self.eat(b'.') {
            return Ok(0);
        }
        let start = self.i;
        let v = self.digits(1, 6, "expected 1 to 6 fraction digits")?;
        if matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err("more than 6 fraction digits");
        }
        Ok(v * 10i64.pow((6 - (self.i - start)) as u32))
    }
}

/// `YYYY-MM-DD` (4 or more year digits) as (year as printed, month, day);
/// the day is checked against the month by [`civil_days`], once the era is
/// known.
fn scan_ymd(s: &mut Scan<'_>) -> Result<(i64, i64, i64), Reason> {
    // Year 5874897 is the largest date; 9 digits cannot overflow.
    let y = s.digits(4, 9, "expected a year of 4 or more digits")?;
    s.expect(b'-', "expected '-' after the year")?;
    let m = s.two("expected a 2-digit month")?;
    s.expect(b'-', "expected '-' after the month")?;
    let d = s.two("expected a 2-digit day")?;
    if y == 0 {
        return Err("year 0 does not exist (1 BC precedes 1 AD)");
    }
    if !(1..=12).contains(&m) {
        return Err("month out of range");
    }
    Ok((y, m, d))
}

/// Days since 1970-01-01 of a printed date, `bc` from its ` BC` suffix.
fn civil_days(y: i64, m: i64, d: i64, bc: bool) -> Result<i64, Reason> {
    // 1 BC is astronomical year 0, 5 BC year -4: the leap rule applies to
    // the astronomical year.
    let y = if bc { 1 - y } else { y };
    if d < 1 || d > i64::from(calendar::days_in_month(y, m as u32)) {
        return Err("day out of range for the month");
    }
    Ok(calendar::days_from_civil(y, m as u32, d as u32) as i64)
}

fn special_date(text: &str) -> Option<Special> {
    match text {
        "infinity" => Some(Special::PosInfinity),
        "-infinity" => Some(Special::NegInfinity),
        _ => None,
    }
}

/// `date`: `2024-02-29`, `0044-03-15 BC`, `infinity`, `-infinity`.
pub(super) fn parse_date(text: &str) -> Result<Date, Reason> {
    if let Some(sp) = special_date(text) {
        return Ok(Date { days: 0, special: sp as i32 });
    }
    let mut s = Scan::new(text);
    let (y, m, d) = scan_ymd(&mut s)?;
    let bc = s.rest_is(b" BC");
    if !s.done() {
        return Err("unexpected text after the date");
    }
    let days = civil_days(y, m, d, bc)?;
    let days = i32::try_from(days).map_err(|_| "date out of range")?;
    Ok(Date { days, special: Special::Finite as i32 })
}

/// `HH:MM:SS[.ffffff]` as microseconds; `24:00:00` is allowed, as in
/// PostgreSQL's `time`.
fn scan_hms(s: &mut Scan<'_>) -> Result<i64, Reason> {
    let h = s.two("expected a 2-digit hour")?;
    s.expect(b':', "expected ':' after the hour")?;
    let m = s.two("expected 2-digit minutes")?;
    s.expect(b':', "expected ':' after the minutes")?;
    let sec = s.two("expected 2-digit seconds")?;
    let frac = s.fraction()?;
    if m > 59 || sec > 59 || h > 24 {
        return Err("time field out of range");
    }
    let micros = ((h * 60 + m) * 60 + sec) * MICROS_PER_SEC + frac;
    if micros > SECS_PER_DAY * MICROS_PER_SEC {
        return Err("time past 24:00:00");
    }
    Ok(micros)
}

/// A UTC offset `+HH`, `+HH:MM` or `+HH:MM:SS` as seconds east of UTC.
fn scan_offset(s: &mut Scan<'_>) -> Result<i32, Reason> {
    let sign = match s.peek() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err("expected a UTC offset (+HH, +HH:MM or +HH:MM:SS)"),
    };
    s.i += 1;
    let h = s.two("expected a 2-digit offset hour")?;
    let (mut m, mut sec) = (0, 0);
    if s.eat(b':') {
        m = s.two("expected 2-digit offset minutes")?;
        if s.eat(b':') {
            sec = s.two("expected 2-digit offset seconds")?;
        }
    }
    if m > 59 || sec > 59 {
        return Err("offset field out of range");
    }
    // At most ±99:59:59: fits i32.
    Ok(sign * ((h * 60 + m) * 60 + sec) as i32)
}

/// `time` (`13:45:00.5`) or `timetz` (`13:45:00.5+02`, `00:00:00+05:30`,
/// `23:59:59-03:00:15`).
pub(super) fn parse_time(text: &str, with_offset: bool) -> Result<Time, Reason> {
    let mut s = Scan::new(text);
    let micros = scan_hms(&mut s)?;
    let offset_seconds = if with_offset { scan_offset(&mut s)? } else { 0 };
    if !s.done() {
        return Err("unexpected text after the time");
    }
    Ok(Time { micros, has_offset: with_offset, offset_seconds })
}

/// `timestamp` (`2024-02-29 11:45:00.5`, `0044-03-15 12:00:00 BC`) or
/// `timestamptz` (the same with an offset before ` BC`:
/// `2024-02-29 10:00:00.5+00`, `1900-01-01 00:19:32+00:19:32`), or
/// `infinity` / `-infinity`. A timestamptz is converted to UTC.
pub(super) fn parse_timestamp(text: &str, with_offset: bool) -> Result<Timestamp, Reason> {
    if let Some(sp) = special_date(text) {
        return Ok(Timestamp { seconds: 0, nanos: 0, special: sp as i32 });
    }
    let mut s = Scan::new(text);
    let (y, m, d) = scan_ymd(&mut s)?;
    if !(s.eat(b' ') || s.eat(b'T')) {
        return Err("expected a space between date and time");
    }
    let micros = scan_hms(&mut s)?;
    if micros >= SECS_PER_DAY * MICROS_PER_SEC {
        return Err("time of day past 23:59:59.999999");
    }
    let offset = if with_offset { i64::from(scan_offset(&mut s)?) } else { 0 };
    let bc = s.rest_is(b" BC");
    if !s.done() {
        return Err("unexpected text after the timestamp");
    }
    let days = civil_days(y, m, d, bc)?;
    // |days| < 2^32 and offsets are small: no overflow in i64.
    let seconds = days * SECS_PER_DAY + micros / MICROS_PER_SEC - offset;
    let nanos = (micros % MICROS_PER_SEC) as u32 * 1000;
    Ok(Timestamp { seconds, nanos, special: Special::Finite as i32 })
}

/// `interval` in `IntervalStyle=postgres`: `1 year 2 mons -3 days
/// +04:05:06.789`, `-00:00:01`, `00:00:00`, `1 day`. Years count 12
/// months; the time part's hours are unbounded (`2562047788:00:54.775807`).
pub(super) fn parse_interval(text: &str) -> Result<Interval, Reason> {
    // Field order as printed: years, months, days, time; each at most once.
    const YEARS: u8 = 1;
    const MONTHS: u8 = 2;
    const DAYS: u8 = 3;
    const CLOCK: u8 = 4;
    let (mut months, mut days, mut micros): (i64, i64, i64) = (0, 0, 0);
    let mut last = 0u8;
    let mut tokens = text.split(' ');
    while let Some(tok) = tokens.next() {
        if tok.contains(':') {
            if last >= CLOCK {
                return Err("fields out of order");
            }
            last = CLOCK;
            micros = interval_clock(tok)?;
            continue;
        }
        // A signed count: parse::<i64> takes an optional '+' or '-'.
        let n: i64 = tok.parse().map_err(|_| "expected a number, a unit or HH:MM:SS")?;
        let field = match tokens.next() {
            Some("year" | "years") => YEARS,
            Some("mon" | "mons") => MONTHS,
            Some("day" | "days") => DAYS,
            _ => return Err("expected year(s), mon(s) or day(s) after a number"),
        };
        if field <= last {
            return Err("fields out of order");
        }
        last = field;
        match field {
            YEARS => months = n.checked_mul(12).ok_or("interval out of range")?,
            MONTHS => months = months.checked_add(n).ok_or("interval out of range")?,
            _ => days = n,
        }
    }
    if last == 0 {
        return Err("empty interval");
    }
    Ok(Interval {
        months: i32::try_from(months).map_err(|_| "months out of range")?,
        days: i32::try_from(days).map_err(|_| "days out of range")?,
        micros,
    })
}

/// `[+-]H+:MM:SS[.ffffff]` as signed microseconds.
fn interval_clock(tok: &str) -> Result<i64, Reason> {
    let mut s = Scan::new(tok);
    let negative = match s.peek() {
        Some(b'-') => {
            s.i += 1;
            true
        }
        Some(b'+') => {
            s.i += 1;
            false
        }
        _ => false,
    };
    // 19 digits of hours cannot overflow i64; the range check is below.
    let h = s.digits(1, 18, "expected hours")?;
    s.expect(b':', "expected ':' after the hours")?;
    let m = s.two("expected 2-digit minutes")?;
    s.expect(b':', "expected ':' after the minutes")?;
    let sec = s.two("expected 2-digit seconds")?;
    let frac = s.fraction()?;
    if !s.done() {
        return Err("unexpected text after the time");
    }
    if m > 59 || sec > 59 {
        return Err("time field out of range");
    }
    let magnitude = (i128::from(h) * 3600 + i128::from(m * 60 + sec)) * i128::from(MICROS_PER_SEC) + i128::from(frac);
    let signed = if negative { -magnitude } else { magnitude };
    i64::try_from(signed).map_err(|_| "time part out of range")
}
