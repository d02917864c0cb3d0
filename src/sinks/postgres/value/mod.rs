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
//! | int64, int32, uint64 | decimal digits (`uint64` up to 18446744073709551615 fits `numeric(20,0)`; into `bigint` past 9223372036854775807 the server refuses it) |
//! | float32 / float64 | shortest text that reads back to the same float; `NaN`, `Infinity`, `-Infinity`; `-0.0` keeps its sign |
//! | decimal, decimal128 | the exact text (`NaN`, `Infinity` included) |
//! | text, enum label, json, other | unchanged (a NUL character is refused: PostgreSQL text cannot hold it) |
//! | bytes | `\x` then lowercase hex (bytea hex format); see below for `bit(n)`, `inet`, `point`, `polygon` columns |
//! | uuid | `8-4-4-4-12` lowercase hex |
//! | date | `YYYY-MM-DD`, `YYYY-MM-DD BC` for years ≤ 0 (year 0 is 1 BC), `infinity`, `-infinity`; the MySQL zero date is refused (below) |
//! | time | `[-]HH:MM:SS[.ffffff]`, hours may exceed 23 and the value may be negative: this is also `interval` input, so a MySQL `TIME` (`-838:59:59` … `838:59:59`) lands in an `interval` column exactly; with an offset `+HH:MM[:SS]` (timetz) |
//! | timestamp | `YYYY-MM-DD HH:MM:SS[.fffffffff][ BC]`; PostgreSQL rounds beyond microseconds |
//! | timestamptz | the same in UTC with `+00` before the era (into a `timestamp` column: the UTC wall clock) |
//! | interval | `M mons D days U microseconds` (every field exact, full range) |
//! | set | comma-joined labels; a PostgreSQL array literal for array columns (`text[]`, what a MySQL `SET` maps to), a JSON array for json columns |
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
//!
//! # Bytes into columns that are not bytea
//!
//! A few target types share their name with a MySQL type whose values arrive
//! as bytes, so the column's type decides how the bytes are written:
//!
//! - `bit(n)`: bytes (big-endian, as MySQL `BIT(n)` sends them) and
//!   unsigned integers become exactly `n` binary digits, most significant
//!   first (`b'101'` in a `BIT(5)` is `00101`). A value with a 1 above bit
//!   `n` does not fit and is refused. (Plain hex input would be padded or
//!   cut on the right by PostgreSQL's cast, changing the number.)
//! - `inet` / `cidr`: 4 or 16 bytes (MariaDB `INET4` / `INET6` in binary)
//!   become the address text.
//! - `point`, `polygon`: bytes in MySQL's geometry format (4-byte SRID,
//!   little-endian, then WKB) become PostgreSQL's `(x,y)` /
//!   `((x1,y1),…)`. Only SRID 0 and, for polygons, a single ring can be
//!   stored without loss; anything else is refused with the reason.
//! - `bytea`: an `other` value whose text is even-length hex (PostGIS
//!   prints its EWKB this way) is written as the bytes it spells, never as
//!   the ASCII of the hex digits.
//!
//! # Values PostgreSQL cannot hold
//!
//! MySQL's zero date `0000-00-00` and zero datetime / timestamp
//! `0000-00-00 00:00:00` (canonical `SPECIAL_ZERO`) have no PostgreSQL
//! value. They are never turned into NULL or into another date (even in a
//! nullable column): rendering fails with a reason, which the caller turns
//! into a definite error naming the table and column. The same goes for a
//! NUL character in text. The fix is on the source (set the value to NULL
//! or a real date) or a transform that maps the value.

use crate::record::calendar::civil_from_days;
use crate::record::{value::Kind, Date, Interval, Special, Time, Timestamp, Value};
use crate::sinks::json_text::{self, float32, float64, hex, JsonStyle};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::fmt::Write as _;

/// What the target column can take, as far as rendering cares. Derived from
/// the column's type in the target catalog (`pg_type.typcategory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeClass {
    /// json, jsonb (and domains over them).
    Json,
    /// text, varchar, char, name, citext: anything text-like.
    Text,
    /// `bit(n)` (fixed width `n`): bytes and unsigned integers are written
    /// as exactly `n` binary digits.
    Bit(u32),
    /// bytea: hex `other` text is written as the bytes it spells.
    Bytea,
    /// inet, cidr: 4 or 16 bytes are written as an address.
    Inet,
    /// point: MySQL geometry bytes (SRID + WKB point) are written as `(x,y)`.
    Point,
    /// polygon: MySQL geometry bytes (SRID + WKB polygon, one ring) are
    /// written as `((x1,y1),…)`.
    Polygon,
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

/// bytea hex input form: `\x0102ff`.
pub fn bytea(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + b.len() * 2);
    s.push_str("\\x");
    s.push_str(&hex(b));
    s
}

fn uuid(b: &[u8]) -> R<String> {
    json_text::uuid(b).map_err(RenderError)
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

/// `what` names the kind for messages: `date` or `timestamp`.
fn special(s: i32, what: &str) -> R<Option<&'static str>> {
    match Special::try_from(s) {
        Ok(Special::Finite) => Ok(None),
        Ok(Special::PosInfinity) => Ok(Some("infinity")),
        Ok(Special::NegInfinity) => Ok(Some("-infinity")),
        Ok(Special::Zero) => {
            let (name, zero) = if what == "date" { ("date", "'0000-00-00'") } else { ("datetime/timestamp", "'0000-00-00 00:00:00'") };
            err(format!(
                "the MySQL zero {name} {zero} cannot be stored: PostgreSQL has no such {what}, and logferry never \
                 replaces it with NULL or another value; set it to NULL or a real {what} on the source, or map it \
                 with a transform"
            ))
        }
        Err(_) => err(format!("unknown special {what} value {s}")),
    }
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

/// Reader of MySQL's geometry format: a 4-byte little-endian SRID, then
/// standard WKB (each geometry starts with its byte order: 0 big-, 1
/// little-endian; then a u32 type).
struct Wkb<'a> {
    b: &'a [u8],
    pos: usize,
    little: bool,
}

const WKB_POINT: u32 = 1;
const WKB_POLYGON: u32 = 3;

impl<'a> Wkb<'a> {
    /// Checks the SRID (only 0 fits PostgreSQL's geometric types) and
    /// reads the header of the geometry, expecting `kind` (`WKB_POINT` …).
    fn open(b: &'a [u8], kind: u32, target: &str) -> R<Self> {
        if b.len() < 9 {
            return err(format!("{} bytes are not a MySQL geometry (4-byte SRID, then WKB)", b.len()));
        }
        let srid = u32::from_le_bytes(b[..4].try_into().expect("4 bytes"));
        if srid != 0 {
            return err(format!(
                "the MySQL geometry has SRID {srid}, which a PostgreSQL {target} cannot hold (it has no SRID); \
                 storing it would lose the SRID"
            ));
        }
        let mut w = Wkb { b, pos: 4, little: true };
        let ty = w.header()?;
        if ty != kind {
            return err(format!("a MySQL geometry of WKB type {ty} cannot be stored in a PostgreSQL {target}"));
        }
        Ok(w)
    }

    fn header(&mut self) -> R<u32> {
        self.little = match self.take(1)?[0] {
            0 => false,
            1 => true,
            o => return err(format!("bad WKB byte order {o}")),
        };
        self.u32()
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        let Some(end) = end else { return err("the geometry bytes end early (truncated WKB)") };
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> R<u32> {
        let a: [u8; 4] = self.take(4)?.try_into().expect("4 bytes");
        Ok(if self.little { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) })
    }

    fn f64(&mut self) -> R<f64> {
        let a: [u8; 8] = self.take(8)?.try_into().expect("8 bytes");
        Ok(if self.little { f64::from_le_bytes(a) } else { f64::from_be_bytes(a) })
    }

    /// `(x,y)` of the next coordinate pair.
    fn xy(&mut self, out: &mut String) -> R<()> {
        let (x, y) = (self.f64()?, self.f64()?);
        let _ = write!(out, "({},{})", float64(x), float64(y));
        Ok(())
    }

    fn end(&self) -> R<()> {
        if self.pos != self.b.len() {
            return err("unexpected bytes after the geometry");
        }
        Ok(())
    }
}

/// PostgreSQL `point` text of a MySQL POINT (SRID 0).
fn point(b: &[u8]) -> R<String> {
    let mut w = Wkb::open(b, WKB_POINT, "point")?;
    let mut out = String::new();
    w.xy(&mut out)?;
    w.end()?;
    Ok(out)
}

/// PostgreSQL `polygon` text of a MySQL POLYGON (SRID 0, one ring; the
/// points as stored, closing point included).
fn polygon(b: &[u8]) -> R<String> {
    let mut w = Wkb::open(b, WKB_POLYGON, "polygon")?;
    let rings = w.u32()?;
    if rings != 1 {
        return err(format!(
            "the MySQL polygon has {rings} rings; a PostgreSQL polygon holds exactly one (no holes), so it cannot be stored without loss"
        ));
    }
    let n = w.u32()?;
    let mut out = String::from("(");
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        w.xy(&mut out)?;
    }
    out.push(')');
    w.end()?;
    Ok(out)
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

/// JSON of a value: plain JSON for the SQL kinds, relaxed MongoDB Extended
/// JSON for the BSON-only ones.
pub fn json(v: &Value, out: &mut String) -> R<()> {
    json_text::write(v, out, &PostgresJson)
}

/// PostgreSQL's forms inside JSON: text without NUL, ISO `T` timestamps.
struct PostgresJson;

impl From<String> for RenderError {
    fn from(message: String) -> Self {
        RenderError(message)
    }
}

impl JsonStyle for PostgresJson {
    type Error = RenderError;
    fn check_text(&self, s: &str) -> R<()> {
        no_nul(s).map(drop)
    }
    fn uuid(&self, b: &[u8]) -> R<String> {
        uuid(b)
    }
    fn date(&self, d: &Date) -> R<String> {
        date(d)
    }
    fn time(&self, t: &Time) -> R<String> {
        Ok(time(t))
    }
    fn timestamp(&self, t: &Timestamp, tz: bool) -> R<String> {
        let s = timestamp(t, tz)?;
        Ok(if !tz {
            s.replacen(' ', "T", 1)
        } else if t.special == Special::Finite as i32 {
            s.replacen(' ', "T", 1).replacen("+00", "+00:00", 1)
        } else {
            s
        })
    }
    fn interval(&self, i: &Interval) -> String {
        interval(i)
    }
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
    }

    /// MySQL geometry bytes: SRID (LE), then WKB in the given byte order.
    fn geom(srid: u32, little: bool, ty: u32, body: &[f64], counts: &[u32]) -> Vec<u8> {
        let mut b = srid.to_le_bytes().to_vec();
        b.push(u8::from(little));
        let u = |x: u32| if little { x.to_le_bytes() } else { x.to_be_bytes() };
        b.extend(u(ty));
        for c in counts {
            b.extend(u(*c));
        }
        for f in body {
            b.extend(if little { f.to_le_bytes() } else { f.to_be_bytes() });
        }
        b
    }

    /// The values a MySQL / MariaDB source sends, into the columns its types map to.
    #[test]
    fn mysql_values() {
        use value::Kind::*;
        // Integers: unsigned beyond i64 as digits (numeric(20,0) holds them).
        assert_eq!(s(Uint64(u64::MAX)), "18446744073709551615");
        assert_eq!(s(Uint64(0)), "0");
        assert_eq!(s(Int64(-128)), "-128");
        assert_eq!(s(Int64(2155)), "2155"); // YEAR
        assert_eq!(s(Decimal("-99999999.99".into())), "-99999999.99");
        assert_eq!(s(Float32(-3.4028235e38)), "-3.4028235e38");
        assert_eq!(s(Float32(1.1)), "1.1");
        assert_eq!(s(Float64(-1.7976931348623157e308)), "-1.7976931348623157e308");
        // TIME: a duration, as interval input.
        let t = |micros| s(Time(crate::record::Time { micros, has_offset: false, offset_seconds: 0 }));
        assert_eq!(t(-3_020_399_000_000), "-838:59:59");
        assert_eq!(t(3_020_399_000_000), "838:59:59");
        assert_eq!(t(-3_020_399_000_001), "-838:59:59.000001");
        assert_eq!(t(-500_000), "-00:00:00.5");
        assert_eq!(t(-1), "-00:00:00.000001");
        assert_eq!(t(90_000_123_456), "25:00:00.123456");
        assert_eq!(t(0), "00:00:00");
        // DATETIME(6), TIMESTAMP(6).
        let ts = |seconds, nanos| crate::record::Timestamp { seconds, nanos, special: 0 };
        assert_eq!(s(Timestamp(ts(253_402_300_799, 999_999_000))), "9999-12-31 23:59:59.999999");
        assert_eq!(s(Timestamp(ts(-62_135_596_800, 0))), "0001-01-01 00:00:00");
        assert_eq!(s(Timestamptz(ts(2_147_483_647, 999_999_000))), "2038-01-19 03:14:07.999999+00");
        assert_eq!(s(Date(crate::record::Date { days: 2_932_896, special: 0 })), "9999-12-31");
        // ENUM into text, SET into text[] (or text), JSON text as it is.
        assert_eq!(r(EnumLabel("b'c".into()), TEXT).unwrap(), "b'c");
        assert_eq!(r(EnumLabel(String::new()), TEXT).unwrap(), "");
        let set = |l: &[&str]| Set(Labels { labels: l.iter().map(|x| x.to_string()).collect() });
        let text_arr = Target { class: TypeClass::Text, array: true };
        assert_eq!(r(set(&["a", "b,c", "d\"e", "NULL", ""]), text_arr).unwrap(), r#"{"a","b,c","d\"e","NULL",""}"#);
        assert_eq!(r(set(&[]), text_arr).unwrap(), "{}");
        assert_eq!(r(set(&["x", "y"]), TEXT).unwrap(), "x,y");
        assert_eq!(r(Json("{\"a\": [1, 2.50]}".into()), JSON).unwrap(), "{\"a\": [1, 2.50]}");
        // Binary strings and blobs into bytea.
        let bytea_col = Target::scalar(TypeClass::Bytea);
        assert_eq!(r(Bytes(vec![0, 0xab, 0xff].into()), bytea_col).unwrap(), "\\x00abff");
        assert_eq!(r(Bytes(Vec::new().into()), bytea_col).unwrap(), "\\x");
        // GEOMETRY into bytea: the bytes as they are.
        let g = geom(4326, true, 2, &[0.0, 0.0, 1.0, 1.0], &[2]);
        assert_eq!(r(Bytes(g.clone().into()), bytea_col).unwrap(), bytea(&g));
        // UUID / INET6 as text or bytes.
        assert_eq!(r(Text("00112233-4455-6677-8899-aabbccddeeff".into()), OTHER).unwrap(), "00112233-4455-6677-8899-aabbccddeeff");
        let inet_col = Target::scalar(TypeClass::Inet);
        assert_eq!(r(Bytes(vec![192, 168, 0, 1].into()), inet_col).unwrap(), "192.168.0.1");
        let mut v6 = vec![0u8; 16];
        v6[15] = 1;
        assert_eq!(r(Bytes(v6.clone().into()), inet_col).unwrap(), "::1");
        v6[10] = 0xff;
        v6[11] = 0xff;
        v6[12..].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(r(Bytes(v6.into()), inet_col).unwrap(), "::ffff:1.2.3.4");
        assert_eq!(r(Text("2001:db8::1".into()), inet_col).unwrap(), "2001:db8::1");
        assert!(render(&Value::of(Bytes(vec![1, 2, 3].into())), inet_col).unwrap_err().0.contains("4 (IPv4) or 16 (IPv6)"));
    }

    #[test]
    fn bit_columns_get_exactly_n_digits() {
        use value::Kind::*;
        let bit = |n| Target::scalar(TypeClass::Bit(n));
        assert_eq!(r(Bytes(vec![0b1_0110].into()), bit(5)).unwrap(), "10110");
        assert_eq!(r(Bytes(vec![0b101].into()), bit(5)).unwrap(), "00101");
        assert_eq!(r(Bytes(vec![0xa5].into()), bit(8)).unwrap(), "10100101");
        assert_eq!(r(Bytes(vec![0x01, 0xff].into()), bit(9)).unwrap(), "111111111");
        assert_eq!(r(Bytes(vec![0x80].into()), bit(12)).unwrap(), "000010000000");
        assert_eq!(r(Bytes(vec![0xff; 8].into()), bit(64)).unwrap(), "1".repeat(64));
        assert_eq!(r(Bytes(vec![0, 0, 1].into()), bit(1)).unwrap(), "1");
        assert_eq!(r(Bytes(Vec::new().into()), bit(3)).unwrap(), "000");
        assert_eq!(r(Uint64(5), bit(4)).unwrap(), "0101");
        assert_eq!(r(Uint64(u64::MAX), bit(64)).unwrap(), "1".repeat(64));
        assert_eq!(r(Int64(1), bit(1)).unwrap(), "1");
        // A PostgreSQL source's bit string as it is.
        assert_eq!(r(Other(crate::record::Other { type_name: "bit".into(), text: "0101".into() }), bit(4)).unwrap(), "0101");
        let e = render(&Value::of(Bytes(vec![0b10_0000].into())), bit(5)).unwrap_err();
        assert!(e.0.contains("6 significant bits") && e.0.contains("bit(5)"), "{e:?}");
        assert!(render(&Value::of(Uint64(16)), bit(4)).is_err());
        // In an array column, and not elsewhere.
        let arr_bit = Target { class: TypeClass::Bit(3), array: true };
        assert_eq!(r(arr(vec![Value::of(Bytes(vec![5].into())), Value::null()]), arr_bit).unwrap(), r#"{"101",NULL}"#);
        assert_eq!(r(Bytes(vec![5].into()), OTHER).unwrap(), "\\x05");
    }

    #[test]
    fn mysql_geometry_into_point_and_polygon() {
        use value::Kind::*;
        let point_col = Target::scalar(TypeClass::Point);
        let polygon_col = Target::scalar(TypeClass::Polygon);
        let b = |v: Vec<u8>| Bytes(v.into());
        assert_eq!(r(b(geom(0, true, 1, &[1.0, -2.5], &[])), point_col).unwrap(), "(1.0,-2.5)");
        assert_eq!(r(b(geom(0, false, 1, &[0.1, 1e300], &[])), point_col).unwrap(), "(0.1,1e300)");
        let square = [0.0, 0.0, 4.0, 0.0, 4.0, 4.0, 0.0, 0.0];
        assert_eq!(r(b(geom(0, true, 3, &square, &[1, 4])), polygon_col).unwrap(), "((0.0,0.0),(4.0,0.0),(4.0,4.0),(0.0,0.0))");
        // What cannot be stored without loss is refused, with the reason.
        let e = render(&Value::of(b(geom(4326, true, 1, &[1.0, 2.0], &[]))), point_col).unwrap_err();
        assert!(e.0.contains("SRID 4326"), "{e:?}");
        let e = render(&Value::of(b(geom(0, true, 3, &[0.0; 8], &[2, 2, 2]))), polygon_col).unwrap_err();
        assert!(e.0.contains("2 rings"), "{e:?}");
        let e = render(&Value::of(b(geom(0, true, 2, &[0.0; 4], &[2]))), point_col).unwrap_err();
        assert!(e.0.contains("WKB type 2"), "{e:?}");
        let mut short = geom(0, true, 1, &[1.0, 2.0], &[]);
        short.pop();
        assert!(render(&Value::of(b(short)), point_col).unwrap_err().0.contains("truncated"));
        let mut long = geom(0, true, 1, &[1.0, 2.0], &[]);
        long.push(0);
        assert!(render(&Value::of(b(long)), point_col).is_err());
        assert!(render(&Value::of(b(vec![0; 5])), point_col).is_err());
        // A PostgreSQL source's point text as it is.
        assert_eq!(r(Other(crate::record::Other { type_name: "point".into(), text: "(1,2)".into() }), point_col).unwrap(), "(1,2)");
    }

    #[test]
    fn postgis_hex_into_bytea_is_the_bytes() {
        use value::Kind::*;
        let bytea_col = Target::scalar(TypeClass::Bytea);
        let other = |t: &str| Other(crate::record::Other { type_name: "geometry".into(), text: t.into() });
        assert_eq!(r(other("0101000020E6100000"), bytea_col).unwrap(), "\\x0101000020e6100000");
        // Not hex: left to the server's bytea input as before.
        assert_eq!(r(other("POINT(1 2)"), bytea_col).unwrap(), "POINT(1 2)");
        assert_eq!(r(other("abc"), bytea_col).unwrap(), "abc");
        assert_eq!(r(other("0101"), OTHER).unwrap(), "0101");
    }

    /// MySQL zero dates have no PostgreSQL value: always an error with the
    /// reason, in every column class (never NULL, never another date).
    #[test]
    fn zero_dates_are_refused_with_the_reason() {
        use value::Kind::*;
        let zero = Special::Zero as i32;
        for class in [TypeClass::Other, TypeClass::Text, TypeClass::Json] {
            let e = render(&Value::of(Date(crate::record::Date { days: 0, special: zero })), Target::scalar(class)).unwrap_err();
            assert!(e.0.contains("zero date '0000-00-00'") && e.0.contains("never"), "{e:?}");
            for k in [Timestamp as fn(_) -> _, Timestamptz] {
                let e = render(&Value::of(k(crate::record::Timestamp { seconds: 0, nanos: 0, special: zero })), Target::scalar(class))
                    .unwrap_err();
                assert!(e.0.contains("'0000-00-00 00:00:00'"), "{e:?}");
            }
        }
        let in_array = arr(vec![Value::of(Date(crate::record::Date { days: 0, special: zero }))]);
        assert!(render(&Value::of(in_array), Target { class: TypeClass::Other, array: true }).is_err());
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
