//! Typed values and comparisons for the "validate and transform" stage.
//!
//! Filters and validation rules compare a column's value with a literal
//! written in the configuration (`total >= 100`, `created_at < '2024-01-01'`).
//! Values are compared in their own type, never by their text:
//!
//! - **Numbers** ([`Number`]): every numeric kind (`Int64`, `Int32`,
//!   `Uint64`, `Decimal`, `Decimal128`, finite `Float32`/`Float64`) becomes
//!   an exact decimal, so `1.50 = 1.5`, `-0 = 0`, `1e3 = 1000`, and a
//!   `numeric(12,2)` of `99.999` is below `100`. A float is taken at its
//!   shortest round-trip text (`0.1f64` is exactly `0.1`), NaN and the
//!   infinities are no number.
//! - **Text** ([`text_of`]): byte-wise order of the UTF-8 text (text, enum
//!   labels, JSON text, values kept as text). A MySQL `SET` value compares
//!   as its MySQL text, the labels joined by `,`.
//! - **Dates, times, timestamps, UUIDs**: a text literal is read as the
//!   column's type (`'2024-01-01'`, `'10:00:00.5'`, `'2024-01-01 10:00:00'`,
//!   `'2024-01-01T10:00:00+02:00'`, a hyphenated UUID) and compared in that
//!   type. A timestamp *without* time zone is wall-clock time; a timestamp
//!   *with* time zone is an instant (stored as UTC): a literal with an
//!   offset is converted to UTC, one without is taken as UTC. `-infinity`
//!   orders below every finite date or timestamp, `infinity` above, and
//!   MySQL's zero date (`0000-00-00`) just above `-infinity`.
//!
//! A comparison that has no answer (a NULL, a NaN, a value whose kind does
//! not fit the literal, say after a schema change) gives `None`: the SQL
//! UNKNOWN. Nothing here panics or fails on a value.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::record::calendar::{days_from_civil, days_in_month};
use crate::record::value::Kind;
use crate::record::{Date, LogicalKind, LogicalType, Special, Time, Timestamp, Value};

/// Exponents beyond this (in either direction) are refused: no real value
/// has them, and it keeps every exponent sum far from overflowing.
const MAX_EXP: i64 = 1 << 60;

/// An exact decimal number: sign, digits, scale. Parsed from text like
/// "-12.340", "1e3", "100".
///
/// Kept normalised (no leading or trailing zero digit, zero without sign),
/// so the derived equality is numeric equality and agrees with [`Ord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    /// True for a negative number (never for zero).
    neg: bool,
    /// Significant digits, each 0..=9, most significant first; first and
    /// last are not zero; empty for zero.
    digits: Vec<u8>,
    /// The value is `digits × 10^exp` (a negative scale).
    exp: i64,
}

impl Number {
    /// Reads a decimal literal: optional sign, digits with an optional
    /// point (`12`, `-12.340`, `.5`, `5.`), optional exponent (`1e3`,
    /// `1.5E-2`). `None` for NaN, Infinity, an exponent out of range and
    /// anything else.
    pub fn parse(text: &str) -> Option<Number> {
        let b = text.as_bytes();
        let mut i = 0;
        let neg = eat_sign(b, &mut i);
        let mut digits = Vec::with_capacity(b.len());
        let whole = eat_digits(b, &mut i, |d| digits.push(d));
        let mut fraction = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            fraction = eat_digits(b, &mut i, |d| digits.push(d));
        }
        if whole + fraction == 0 {
            return None;
        }
        let mut e = Some(0i64);
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            let e_neg = eat_sign(b, &mut i);
            let push = |d: u8| e = e.and_then(|e| e.checked_mul(10)?.checked_add(i64::from(d)));
            if eat_digits(b, &mut i, push) == 0 {
                return None;
            }
            e = e.map(|e| if e_neg { -e } else { e });
        }
        if i != b.len() {
            return None;
        }
        Number::normalised(neg, digits, e?.checked_sub(i64::try_from(fraction).ok()?)?)
    }

    /// Strips leading and trailing zeros; `None` when the exponent is out
    /// of range.
    fn normalised(neg: bool, mut digits: Vec<u8>, exp: i64) -> Option<Number> {
        let lead = digits.iter().take_while(|&&d| d == 0).count();
        digits.drain(..lead);
        let trail = digits.iter().rev().take_while(|&&d| d == 0).count();
        digits.truncate(digits.len() - trail);
        if digits.is_empty() {
            return Some(Number { neg: false, digits, exp: 0 });
        }
        let exp = exp.checked_add(i64::try_from(trail).ok()?)?;
        (exp.abs() <= MAX_EXP).then_some(Number { neg, digits, exp })
    }

    /// An integer of sign `neg` and magnitude `m`.
    fn integer(neg: bool, m: u128) -> Number {
        let digits = m.to_string().bytes().map(|c| c - b'0').collect();
        // At most 39 digits, exponent 0: always in range.
        Number::normalised(neg, digits, 0).unwrap_or(Number { neg: false, digits: Vec::new(), exp: 0 })
    }

    /// Power of ten just above the leading digit (`0.5` → 0, `12` → 2).
    fn magnitude(&self) -> i64 {
        self.exp.saturating_add(i64::try_from(self.digits.len()).unwrap_or(i64::MAX))
    }

    fn sign(&self) -> i8 {
        match (self.digits.is_empty(), self.neg) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        }
    }
}

/// An optional `-` or `+` at `*i`, passed; true for `-`.
fn eat_sign(b: &[u8], i: &mut usize) -> bool {
    let sign = b.get(*i).copied();
    *i += usize::from(matches!(sign, Some(b'-' | b'+')));
    sign == Some(b'-')
}

/// The decimal digits at `*i`, passed and each handed to `f`; how many.
fn eat_digits(b: &[u8], i: &mut usize, mut f: impl FnMut(u8)) -> usize {
    let start = *i;
    while let Some(&c @ b'0'..=b'9') = b.get(*i) {
        f(c - b'0');
        *i += 1;
    }
    *i - start
}

impl From<i64> for Number {
    fn from(v: i64) -> Self {
        Number::integer(v < 0, u128::from(v.unsigned_abs()))
    }
}

impl From<u64> for Number {
    fn from(v: u64) -> Self {
        Number::integer(false, u128::from(v))
    }
}

impl Ord for Number {
    /// Exact numeric order.
    fn cmp(&self, other: &Self) -> Ordering {
        match self.sign().cmp(&other.sign()) {
            Ordering::Equal => {}
            o => return o,
        }
        // Same sign: the larger magnitude has its leading digit higher up,
        // or the same position and larger digits (no trailing zeros, so a
        // shorter prefix is the smaller number).
        let magnitude = self.magnitude().cmp(&other.magnitude()).then_with(|| self.digits.cmp(&other.digits));
        if self.neg {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The number a value holds: Int64, Int32, Uint64, Decimal, Decimal128
/// (their text), Float32/Float64 (finite only, through their shortest
/// round-trip text). NaN, infinities and every other kind give `None`.
pub fn number_of(v: &Value) -> Option<Number> {
    match v.kind.as_ref()? {
        Kind::Int64(i) => Some(Number::from(*i)),
        Kind::Int32(i) => Some(Number::from(i64::from(*i))),
        Kind::Uint64(u) => Some(Number::from(*u)),
        Kind::Decimal(s) | Kind::Decimal128(s) => Number::parse(s.trim()),
        // `{}` prints the shortest text that reads back as the same float,
        // without an exponent.
        Kind::Float32(f) if f.is_finite() => Number::parse(&format!("{f}")),
        Kind::Float64(f) if f.is_finite() => Number::parse(&format!("{f}")),
        _ => None,
    }
}

/// Plain text a value holds for text comparisons: Text, EnumLabel, Json,
/// Other (its text); every other kind gives `None`.
pub fn text_of(v: &Value) -> Option<&str> {
    match v.kind.as_ref()? {
        Kind::Text(s) | Kind::EnumLabel(s) | Kind::Json(s) => Some(s),
        Kind::Other(o) => Some(&o.text),
        _ => None,
    }
}

/// The kind of literal a column compares with (see [`comparable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteralKind {
    /// A number literal (`100`, `-1.5`, `1e3`).
    Number,
    /// A text literal, compared byte-wise.
    Text,
    /// `true` / `false`.
    Bool,
    /// A text literal read as a date (`'2024-01-01'`).
    Date,
    /// A text literal read as a time of day (`'10:00:00.5'`).
    Time,
    /// A text literal read as wall-clock date and time, without offset.
    Timestamp,
    /// A text literal read as an instant (offset or UTC).
    TimestampTz,
    /// A text literal read as a UUID.
    Uuid,
}

impl LiteralKind {
    /// The kind in a message: "a number", "a date", ...
    pub(crate) fn noun(self) -> &'static str {
        match self {
            LiteralKind::Number => "a number",
            LiteralKind::Text => "text",
            LiteralKind::Bool => "a boolean",
            LiteralKind::Date => "a date",
            LiteralKind::Time => "a time of day",
            LiteralKind::Timestamp => "a timestamp without time zone",
            LiteralKind::TimestampTz => "a timestamp with time zone",
            LiteralKind::Uuid => "a uuid",
        }
    }
}

/// Which literal kind a column of this logical type compares with; `None`
/// for types a filter cannot compare (arrays, documents, binary, bits,
/// geometry, intervals). A `boolean_like` integer is a number that also
/// takes `true` / `false` as 1 / 0.
pub fn comparable(t: &LogicalType) -> Option<LiteralKind> {
    use LogicalKind as K;
    Some(match t.kind() {
        K::LogicalInteger | K::LogicalDecimal | K::LogicalFloat | K::LogicalYear => LiteralKind::Number,
        K::LogicalText | K::LogicalEnum | K::LogicalJson | K::LogicalInet | K::LogicalOther | K::LogicalSet => LiteralKind::Text,
        K::LogicalBool => LiteralKind::Bool,
        K::LogicalDate => LiteralKind::Date,
        K::LogicalTime => LiteralKind::Time,
        K::LogicalTimestamp if t.with_time_zone => LiteralKind::TimestampTz,
        K::LogicalTimestamp => LiteralKind::Timestamp,
        K::LogicalUuid => LiteralKind::Uuid,
        K::LogicalArray | K::LogicalDocument | K::LogicalBinary | K::LogicalBit | K::LogicalGeometry | K::LogicalInterval => {
            return None
        }
    })
}

/// Where a date or timestamp lies: the infinities and MySQL's zero date
/// around the finite values (variant order is the order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Moment<T> {
    NegInfinity,
    Zero,
    At(T),
    PosInfinity,
}

impl<T> Moment<T> {
    fn special(s: i32, finite: impl FnOnce() -> T) -> Self {
        match Special::try_from(s).unwrap_or(Special::Finite) {
            Special::Finite => Moment::At(finite()),
            Special::PosInfinity => Moment::PosInfinity,
            Special::NegInfinity => Moment::NegInfinity,
            Special::Zero => Moment::Zero,
        }
    }
}

fn date_moment(d: &Date) -> Moment<i64> {
    Moment::special(d.special, || i64::from(d.days))
}

/// (seconds, nanos) with nanos below one second.
fn stamp_moment(t: &Timestamp) -> Moment<(i64, u32)> {
    Moment::special(t.special, || (t.seconds.saturating_add(i64::from(t.nanos / 1_000_000_000)), t.nanos % 1_000_000_000))
}

/// Microseconds since midnight UTC of a time, its offset applied.
fn time_utc(micros: i64, offset_seconds: Option<i32>) -> i128 {
    i128::from(micros) - i128::from(offset_seconds.unwrap_or(0)) * 1_000_000
}

/// A date/time literal as written: wall-clock moment and optional offset
/// east of UTC in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) wall: Moment<(i64, u32)>,
    pub(crate) offset: Option<i32>,
}

impl Stamp {
    /// The instant: the wall time minus its offset (none: UTC).
    fn instant(&self) -> Option<Moment<(i64, u32)>> {
        match (self.wall, self.offset) {
            (Moment::At((s, n)), Some(off)) => Some(Moment::At((s.checked_sub(i64::from(off))?, n))),
            (m, _) => Some(m),
        }
    }
}

/// A text literal with what it reads as in each typed comparison (read
/// once, when the expression is parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextLiteral {
    pub(crate) text: String,
    pub(crate) date: Option<Moment<i64>>,
    pub(crate) stamp: Option<Stamp>,
    /// Microseconds since midnight and optional offset.
    pub(crate) time: Option<(i64, Option<i32>)>,
    pub(crate) uuid: Option<[u8; 16]>,
}

impl TextLiteral {
    pub(crate) fn new(text: String) -> Self {
        TextLiteral { date: parse_date(&text), stamp: parse_stamp(&text), time: parse_time(&text), uuid: parse_uuid(&text), text }
    }
}

/// A literal of a filter or rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Literal {
    Null,
    Bool(bool),
    Number(Number),
    Text(TextLiteral),
}

fn is_null(v: &Value) -> bool {
    matches!(v.kind, None | Some(Kind::Null(_)))
}

/// Text of a value for text comparisons: [`text_of`], and a `SET` as its
/// labels joined by `,` (MySQL's text of it).
fn text_like(v: &Value) -> Option<Cow<'_, str>> {
    match v.kind.as_ref()? {
        Kind::Set(l) => Some(Cow::Owned(l.labels.join(","))),
        _ => text_of(v).map(Cow::Borrowed),
    }
}

/// Order of `v` against `lit`; `None` (UNKNOWN) for NULL on either side,
/// NaN, or a value whose kind does not fit the literal. A `true`/`false`
/// literal compares with a boolean, or with a number as 1/0.
pub(crate) fn cmp_literal(v: &Value, lit: &Literal) -> Option<Ordering> {
    if is_null(v) {
        return None;
    }
    match lit {
        Literal::Null => None,
        Literal::Number(n) => Some(number_of(v)?.cmp(n)),
        Literal::Bool(b) => match v.kind.as_ref()? {
            Kind::Bool(x) => Some(x.cmp(b)),
            _ => Some(number_of(v)?.cmp(&Number::from(i64::from(*b)))),
        },
        Literal::Text(t) => cmp_text_literal(v, t),
    }
}

fn cmp_text_literal(v: &Value, t: &TextLiteral) -> Option<Ordering> {
    match v.kind.as_ref()? {
        Kind::Date(d) => Some(date_moment(d).cmp(t.date.as_ref()?)),
        Kind::Timestamp(ts) => {
            let s = t.stamp.as_ref()?;
            // A wall-clock value has no instant to set an offset against.
            s.offset.is_none().then(|| stamp_moment(ts).cmp(&s.wall))
        }
        Kind::Timestamptz(ts) => Some(stamp_moment(ts).cmp(&t.stamp.as_ref()?.instant()?)),
        Kind::Time(x) => {
            let (micros, offset) = t.time?;
            Some(time_of(x).cmp(&time_utc(micros, offset)))
        }
        Kind::Uuid(b) => {
            let u = t.uuid.as_ref()?;
            (b.len() == 16).then(|| b[..].cmp(&u[..]))
        }
        _ => Some(text_like(v)?.as_bytes().cmp(t.text.as_bytes())),
    }
}

fn time_of(t: &Time) -> i128 {
    time_utc(t.micros, t.has_offset.then_some(t.offset_seconds))
}

/// Order of two values (a column compared with a column): numbers with
/// numbers, text with text, and dates, times, timestamps (with or without
/// zone, not mixed), UUIDs and booleans each with their own kind; `None`
/// for NULL, NaN and kinds that do not meet.
pub(crate) fn cmp_values(a: &Value, b: &Value) -> Option<Ordering> {
    if is_null(a) || is_null(b) {
        return None;
    }
    match (a.kind.as_ref()?, b.kind.as_ref()?) {
        (Kind::Bool(x), Kind::Bool(y)) => Some(x.cmp(y)),
        (Kind::Date(x), Kind::Date(y)) => Some(date_moment(x).cmp(&date_moment(y))),
        (Kind::Timestamp(x), Kind::Timestamp(y)) | (Kind::Timestamptz(x), Kind::Timestamptz(y)) => {
            Some(stamp_moment(x).cmp(&stamp_moment(y)))
        }
        (Kind::Time(x), Kind::Time(y)) => Some(time_of(x).cmp(&time_of(y))),
        (Kind::Uuid(x), Kind::Uuid(y)) => Some(x[..].cmp(&y[..])),
        _ => match (number_of(a), number_of(b)) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => Some(text_like(a)?.as_bytes().cmp(text_like(b)?.as_bytes())),
        },
    }
}

/// A cursor over a literal's bytes.
struct Cur<'s> {
    b: &'s [u8],
    i: usize,
}

impl Cur<'_> {
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.b.get(self.i).is_some_and(|x| x.eq_ignore_ascii_case(&c));
        self.i += usize::from(hit);
        hit
    }

    /// Exactly `n` decimal digits.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let d = *self.b.get(self.i).filter(|d| d.is_ascii_digit())?;
            v = v * 10 + u32::from(d - b'0');
            self.i += 1;
        }
        Some(v)
    }

    fn done(&self) -> bool {
        self.i == self.b.len()
    }

    /// `YYYY-MM-DD`, validated: days since 1970-01-01.
    fn civil(&mut self) -> Option<i64> {
        let y = i64::from(self.digits(4)?);
        self.eat(b'-').then_some(())?;
        let m = self.digits(2)?;
        self.eat(b'-').then_some(())?;
        let d = self.digits(2)?;
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return None;
        }
        i64::try_from(days_from_civil(y, m, d)).ok()
    }

    /// `HH:MM[:SS[.f{1,max_frac}]]`: (seconds since midnight, nanos).
    /// Hours up to 23, or 24:00:00 exactly when `allow_24`.
    fn clock(&mut self, max_frac: usize, allow_24: bool) -> Option<(i64, u32)> {
        let h = self.digits(2)?;
        self.eat(b':').then_some(())?;
        let m = self.digits(2)?;
        let s = if self.eat(b':') { self.digits(2)? } else { 0 };
        let mut nanos = 0u32;
        if self.eat(b'.') {
            let n = eat_digits(self.b, &mut self.i, |d| nanos = nanos.saturating_mul(10).saturating_add(u32::from(d)));
            if n == 0 || n > max_frac {
                return None; // no digits, or finer than the type holds
            }
            nanos *= 10u32.pow((9 - n) as u32);
        }
        let in_day = h < 24 || (allow_24 && h == 24 && m == 0 && s == 0 && nanos == 0);
        (in_day && m < 60 && s < 60).then_some((i64::from(h * 3600 + m * 60 + s), nanos))
    }

    /// An optional zone: `Z`, or `±HH`, `±HH:MM`, `±HHMM` (optionally after
    /// one space). `Some(None)`: no zone; `None`: a malformed one.
    fn zone(&mut self) -> Option<Option<i32>> {
        let start = self.i;
        self.eat(b' ');
        if self.eat(b'Z') {
            return Some(Some(0));
        }
        let neg = if self.eat(b'+') {
            false
        } else if self.eat(b'-') {
            true
        } else {
            self.i = start;
            return Some(None);
        };
        let h = self.digits(2)?;
        let m = if self.done() {
            0
        } else {
            self.eat(b':');
            self.digits(2)?
        };
        if h > 15 || m >= 60 {
            return None;
        }
        let off = (h * 3600 + m * 60) as i32;
        Some(Some(if neg { -off } else { off }))
    }
}

fn parse_date(s: &str) -> Option<Moment<i64>> {
    match s.to_ascii_lowercase().as_str() {
        "infinity" => return Some(Moment::PosInfinity),
        "-infinity" => return Some(Moment::NegInfinity),
        "0000-00-00" => return Some(Moment::Zero),
        _ => {}
    }
    let mut c = Cur { b: s.as_bytes(), i: 0 };
    let days = c.civil()?;
    c.done().then_some(Moment::At(days))
}

/// `YYYY-MM-DD`, optionally followed by ` HH:MM[:SS[.f]]` or `T…` and a
/// zone; also `infinity`, `-infinity` and MySQL's zero timestamp.
fn parse_stamp(s: &str) -> Option<Stamp> {
    let bare = |wall| Some(Stamp { wall, offset: None });
    match s.to_ascii_lowercase().as_str() {
        "infinity" => return bare(Moment::PosInfinity),
        "-infinity" => return bare(Moment::NegInfinity),
        "0000-00-00" | "0000-00-00 00:00:00" | "0000-00-00t00:00:00" => return bare(Moment::Zero),
        _ => {}
    }
    let mut c = Cur { b: s.as_bytes(), i: 0 };
    let days = c.civil()?;
    if c.done() {
        return bare(Moment::At((days.checked_mul(86_400)?, 0)));
    }
    if !(c.eat(b'T') || c.eat(b' ')) {
        return None;
    }
    let (secs, nanos) = c.clock(9, false)?;
    let offset = c.zone()?;
    c.done().then_some(())?;
    Some(Stamp { wall: Moment::At((days.checked_mul(86_400)?.checked_add(secs)?, nanos)), offset })
}

/// `HH:MM[:SS[.ffffff]]` with an optional zone: (micros, offset).
fn parse_time(s: &str) -> Option<(i64, Option<i32>)> {
    let mut c = Cur { b: s.as_bytes(), i: 0 };
    let (secs, nanos) = c.clock(6, true)?;
    let offset = c.zone()?;
    c.done().then_some((secs * 1_000_000 + i64::from(nanos / 1000), offset))
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (or the 32 digits without
/// hyphens), any case.
fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    let hex: Vec<u8> = match b.len() {
        36 if [8, 13, 18, 23].iter().all(|&i| b[i] == b'-') => {
            b.iter().enumerate().filter(|(i, _)| ![8, 13, 18, 23].contains(i)).map(|(_, &c)| c).collect()
        }
        32 => b.to_vec(),
        _ => return None,
    };
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(hex.chunks(2)) {
        let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        *o = nibble(pair[0])? << 4 | nibble(*pair.get(1)?)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Other;
    use proptest::prelude::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    fn v(kind: Kind) -> Value {
        Value::of(kind)
    }

    #[test]
    fn number_parse_takes_decimal_literals_only() {
        for ok in ["-12.340", "1e3", "100", ".5", "5.", "+1", "1E-2", "-0", "0.000", "1.5e+2", "007"] {
            assert!(Number::parse(ok).is_some(), "{ok}");
        }
        for bad in ["", "-", ".", "NaN", "nan", "Infinity", "-Infinity", "1e", "1e+", "1.2.3", "abc", " 1", "1 ", "1e99999999999999999999", "0x10", "1_000"] {
            assert_eq!(Number::parse(bad), None, "{bad}");
        }
        // Normalised: equal numbers are equal values.
        assert_eq!(n("1.50"), n("1.5"));
        assert_eq!(n("-0"), n("0.000"));
        assert_eq!(n("1e3"), n("1000"));
        assert_eq!(n("007"), Number::from(7i64));
        assert_eq!(n("-1.2e1"), Number::from(-12i64));
        assert_eq!(n("18446744073709551615"), Number::from(u64::MAX));
    }

    #[test]
    fn number_order_is_exact() {
        let less = [
            ("99.999", "100"),
            ("-1", "-0.5"),
            ("0.1", "0.11"),
            ("9.99", "12"),
            ("1e-5", "0.0001"),
            ("-100", "0"),
            ("0", "1e-30"),
            ("-9223372036854775808", "18446744073709551615"),
            ("123456789012345678901234567890.1", "123456789012345678901234567890.11"),
            ("-2.5", "-2.49"),
        ];
        for (a, b) in less {
            assert_eq!(n(a).cmp(&n(b)), Ordering::Less, "{a} < {b}");
            assert_eq!(n(b).cmp(&n(a)), Ordering::Greater, "{b} > {a}");
        }
        for (a, b) in [("1.50", "1.5"), ("-0", "0"), ("1e3", "1000"), ("100.00", "1e2"), ("0.5", "5e-1")] {
            assert_eq!(n(a).cmp(&n(b)), Ordering::Equal, "{a} = {b}");
        }
    }

    #[test]
    fn number_of_reads_every_numeric_kind() {
        assert_eq!(number_of(&Value::int64(-7)), Some(n("-7")));
        assert_eq!(number_of(&v(Kind::Int32(42))), Some(n("42")));
        assert_eq!(number_of(&v(Kind::Uint64(u64::MAX))), Some(n("18446744073709551615")));
        assert_eq!(number_of(&v(Kind::Decimal("100.00".into()))), Some(n("100")));
        assert_eq!(number_of(&v(Kind::Decimal128("1.5E+2".into()))), Some(n("150")));
        // Floats at their shortest round-trip text: 0.1 is exactly 0.1.
        assert_eq!(number_of(&v(Kind::Float64(0.1))), Some(n("0.1")));
        assert_eq!(number_of(&v(Kind::Float32(0.1))), Some(n("0.1")));
        assert_eq!(number_of(&v(Kind::Float64(1e300))), Some(n("1e300")));
        assert_eq!(number_of(&v(Kind::Float64(-2.5e-10))), Some(n("-2.5e-10")));
        let nan = [v(Kind::Float64(f64::NAN)), v(Kind::Float64(f64::INFINITY)), v(Kind::Float32(f32::NEG_INFINITY))];
        let no_number = [v(Kind::Decimal("NaN".into())), v(Kind::Decimal("Infinity".into())), Value::text("5"), v(Kind::Bool(true))];
        for none in nan.into_iter().chain(no_number).chain([Value::null()]) {
            assert_eq!(number_of(&none), None, "{none:?}");
        }
    }

    #[test]
    fn text_of_reads_text_kinds_only() {
        assert_eq!(text_of(&Value::text("a")), Some("a"));
        assert_eq!(text_of(&v(Kind::EnumLabel("happy".into()))), Some("happy"));
        assert_eq!(text_of(&v(Kind::Json("{}".into()))), Some("{}"));
        assert_eq!(text_of(&v(Kind::Other(Other { type_name: "inet6".into(), text: "::1".into() }))), Some("::1"));
        assert_eq!(text_of(&Value::int64(1)), None);
        assert_eq!(text_of(&v(Kind::Decimal("1".into()))), None);
        assert_eq!(text_of(&Value::null()), None);
    }

    #[test]
    fn comparable_maps_each_logical_kind() {
        use LiteralKind as L;
        let cases = [
            (LogicalType::integer(4, false), Some(L::Number)),
            (LogicalType::boolean_like(false), Some(L::Number)),
            (LogicalType::decimal(12, 2), Some(L::Number)),
            (LogicalType::float(8), Some(L::Number)),
            (LogicalType::year(), Some(L::Number)),
            (LogicalType::text(0, false), Some(L::Text)),
            (LogicalType::enumeration("mood", vec!["a".into()]), Some(L::Text)),
            (LogicalType::json(), Some(L::Text)),
            (LogicalType::inet(), Some(L::Text)),
            (LogicalType::other("tsvector"), Some(L::Text)),
            (LogicalType::set(vec!["a".into()]), Some(L::Text)),
            (LogicalType::boolean(), Some(L::Bool)),
            (LogicalType::date(), Some(L::Date)),
            (LogicalType::time(None, false), Some(L::Time)),
            (LogicalType::timestamp(Some(6), false), Some(L::Timestamp)),
            (LogicalType::timestamp(Some(6), true), Some(L::TimestampTz)),
            (LogicalType::uuid(), Some(L::Uuid)),
            (LogicalType::array(LogicalType::text(0, false)), None),
            (LogicalType::document(), None),
            (LogicalType::binary(0, false), None),
            (LogicalType::bit(8, true), None),
            (LogicalType::geometry("point"), None),
            (LogicalType::interval(None), None),
        ];
        for (t, want) in cases {
            assert_eq!(comparable(&t), want, "{}", t.describe());
        }
    }

    proptest! {
        #[test]
        fn number_order_agrees_with_integer_and_float_order(
            a in any::<i64>(),
            b in any::<i64>(),
            ca in -(1i64 << 50)..(1i64 << 50),
            cb in -(1i64 << 50)..(1i64 << 50),
            fa in any::<f64>().prop_filter("finite", |f| f.is_finite()),
            fb in any::<f64>().prop_filter("finite", |f| f.is_finite()),
        ) {
            // Whole numbers, through their text and through From.
            prop_assert_eq!(n(&a.to_string()).cmp(&n(&b.to_string())), a.cmp(&b));
            prop_assert_eq!(Number::from(a).cmp(&Number::from(b)), a.cmp(&b));
            prop_assert_eq!(n(&a.to_string()), Number::from(a));
            // Two decimals ("-12.34"): the same order as the f64 of the cents
            // / 100 (exact enough below 2^50 cents to keep distinct values apart).
            let cents = |c: i64| format!("{}{}.{:02}", if c < 0 { "-" } else { "" }, c.unsigned_abs() / 100, c.unsigned_abs() % 100);
            let (xa, xb) = (ca as f64 / 100.0, cb as f64 / 100.0);
            prop_assert_eq!(Some(n(&cents(ca)).cmp(&n(&cents(cb)))), xa.partial_cmp(&xb));
            prop_assert_eq!(n(&cents(ca)).cmp(&n(&cents(cb))), ca.cmp(&cb));
            // Any finite float through number_of.
            let (na, nb) = (number_of(&Value::of(Kind::Float64(fa))), number_of(&Value::of(Kind::Float64(fb))));
            prop_assert_eq!(na.zip(nb).map(|(x, y)| x.cmp(&y)), fa.partial_cmp(&fb));
        }
    }
}
