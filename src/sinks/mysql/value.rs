//! Canonical values to MySQL / MariaDB values.
//!
//! [`render`] turns a canonical value into a [`Cell`] for one target column,
//! knowing the column's [`Class`] (read from `information_schema`). Cells
//! become SQL literals in `sql.rs` (the session's `sql_mode` keeps backslash
//! escapes on). A value that the column cannot hold *exactly* is refused here
//! with the reason, before anything is sent, and the server (strict mode)
//! refuses what slips through; nothing is rounded or truncated silently.
//!
//! | kind | cell |
//! |---|---|
//! | null | `NULL` |
//! | bool | `1` / `0` (`true` / `false` in text and JSON columns) |
//! | int64, int32, uint64 | integer literal |
//! | float32 | its exact value as a double literal (so `FLOAT` stores the same `f32`); shortest `f32` text in text columns |
//! | float64 | shortest text that reads back to the same double; `-0.0` keeps its sign |
//! | float NaN / ±Infinity | refused (MySQL has no such numbers), except into text columns (`NaN`, `Infinity`, `-Infinity`) |
//! | decimal, decimal128 | exact plain digits; into `DECIMAL(p,s)` only when every digit fits (no rounding); `NaN` / `±Infinity` refused except into text columns |
//! | text, enum label, json, other | the text (NUL characters are fine) |
//! | bytes, binary | the bytes (`X'…'`): blobs, `BIT(n)`, geometry (MySQL's internal SRID + WKB form, as a MySQL source sends it) |
//! | uuid | `8-4-4-4-12` text (`UUID`, `CHAR(36)`); the 16 bytes into `BINARY(16)` / blob columns |
//! | date | `YYYY-MM-DD`; the zero date `0000-00-00`; ±infinity refused; years outside 1..9999 refused |
//! | time | `[-]HHH:MM:SS[.ffffff]`, -838:59:59.999999 .. 838:59:59.999999 for `TIME` columns; a time with a zone offset only into text columns, as PostgreSQL prints it (`13:45:00+05:30`) |
//! | timestamp | `YYYY-MM-DD HH:MM:SS[.ffffff]`; zero `0000-00-00 00:00:00`; ±infinity and sub-microsecond digits refused |
//! | timestamptz | the same, in UTC (the session's `time_zone` is `+00:00`, so `TIMESTAMP` columns store that instant); text columns get a `+00` suffix |
//! | interval | PostgreSQL's text output (`1 year 2 mons -3 days +04:05:06.5`) |
//! | set | comma-joined labels (`SET` columns); a JSON array in JSON columns |
//! | array, document | JSON text (elements below); only into JSON and text columns |
//! | object_id | 24 hex digits (the 12 bytes into binary columns) |
//! | regex | `/pattern/options` |
//! | bson_timestamp | `{"$timestamp":{"t":S,"i":I}}` |
//!
//! Temporal values are also checked against the column's fractional-second
//! precision: `12:00:00.5` into `TIME(0)` or `DATETIME` is refused rather
//! than rounded.
//!
//! Inside JSON (array elements, document fields) values are JSON numbers,
//! strings, booleans, arrays and objects; dates and times are strings in the
//! forms above; non-finite floats are the strings `"NaN"`, `"Infinity"`,
//! `"-Infinity"`; the BSON-only kinds use relaxed MongoDB Extended JSON
//! (`{"$oid":"…"}`, `{"$binary":{"base64":"…","subType":"00"}}`,
//! `{"$numberDecimal":"…"}`), as the postgres target writes them.

use crate::record::calendar::civil_from_days;
use crate::record::{value::Kind, Date, Interval, Special, Time, Timestamp, Value};
use crate::sinks::json_text::{self, float32, float64, hex, uuid, JsonStyle};
use std::fmt::Write as _;

/// One value ready to become an SQL literal. Keys of a batch are compared
/// by their cells, so a cell must be canonical for its column (the same key
/// always renders to the same cell).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// A signed integer literal.
    Int(i64),
    /// An unsigned integer literal.
    UInt(u64),
    /// A character string literal (`'…'`, escaped).
    Text(String),
    /// A binary string literal (`X'…'`).
    Bytes(bytes::Bytes),
}

/// What a target column holds, as far as rendering cares; from
/// `information_schema.COLUMNS.DATA_TYPE` (and the precision columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// tinyint … bigint (signed or unsigned).
    Int,
    /// `decimal(precision, scale)`.
    Decimal {
        /// Total digits.
        precision: u32,
        /// Digits after the point.
        scale: u32,
    },
    /// float, double.
    Float,
    /// bit(n).
    Bit,
    /// year.
    Year,
    /// date.
    Date,
    /// datetime(fsp), timestamp(fsp).
    DateTime {
        /// Fractional-second digits the column keeps.
        fsp: u32,
    },
    /// time(fsp).
    Time {
        /// Fractional-second digits the column keeps.
        fsp: u32,
    },
    /// char, varchar, the text types, enum, set (and json on MariaDB, which
    /// is longtext).
    Text,
    /// json (MySQL's native type).
    Json,
    /// binary, varbinary, the blob types.
    Binary,
    /// geometry and its subtypes.
    Geometry,
    /// MariaDB's uuid, inet4, inet6 and anything else: the server parses text.
    Other,
}

impl Class {
    /// The class of a column from `DATA_TYPE` and its precision columns.
    pub fn of(data_type: &str, precision: Option<u64>, scale: Option<u64>, fsp: Option<u64>) -> Class {
        let fsp = fsp.unwrap_or(0).min(6) as u32;
        match data_type.to_ascii_lowercase().as_str() {
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => Class::Int,
            "decimal" | "numeric" => Class::Decimal {
                precision: precision.unwrap_or(10).min(65) as u32,
                scale: scale.unwrap_or(0).min(30) as u32,
            },
            "float" | "double" | "real" => Class::Float,
            "bit" => Class::Bit,
            "year" => Class::Year,
            "date" => Class::Date,
            "datetime" | "timestamp" => Class::DateTime { fsp },
            "time" => Class::Time { fsp },
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set" => Class::Text,
            "json" => Class::Json,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => Class::Binary,
            "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring" | "multipolygon"
            | "geometrycollection" | "geomcollection" => Class::Geometry,
            _ => Class::Other,
        }
    }

    fn texty(self) -> bool {
        matches!(self, Class::Text | Class::Json)
    }
}

/// Why a value cannot be written into a column (the caller adds the table
/// and column names).
pub type R<T> = Result<T, String>;

/// Renders `v` for a column of class `class`. `Unchanged` is the caller's
/// business and an error here.
pub fn render(v: &Value, class: Class) -> R<Cell> {
    let Some(kind) = &v.kind else { return Err("the value has no kind (an invalid record)".into()) };
    Ok(match kind {
        Kind::Null(_) => Cell::Null,
        Kind::Bool(b) => match class {
            Class::Text | Class::Json => Cell::Text(if *b { "true" } else { "false" }.into()),
            _ => Cell::Int(i64::from(*b)),
        },
        Kind::Int64(i) => Cell::Int(*i),
        Kind::Int32(i) => Cell::Int(i64::from(*i)),
        Kind::Uint64(u) => Cell::UInt(*u),
        Kind::Float32(f) => {
            if !f.is_finite() {
                return non_finite(&float32(*f), class);
            }
            Cell::Text(if class.texty() { float32(*f) } else { float64(f64::from(*f)) })
        }
        Kind::Float64(f) => {
            if !f.is_finite() {
                return non_finite(&float64(*f), class);
            }
            Cell::Text(float64(*f))
        }
        Kind::Decimal(s) | Kind::Decimal128(s) => decimal(s, class)?,
        Kind::Text(s) | Kind::EnumLabel(s) | Kind::Json(s) => match class {
            Class::Binary => Cell::Bytes(bytes::Bytes::copy_from_slice(s.as_bytes())),
            _ => Cell::Text(s.clone()),
        },
        Kind::Other(o) => Cell::Text(o.text.clone()),
        Kind::Bytes(b) => Cell::Bytes(b.clone()),
        Kind::Binary(b) => Cell::Bytes(b.data.clone()),
        Kind::Uuid(b) => match class {
            Class::Binary => {
                uuid(b)?;
                Cell::Bytes(b.clone())
            }
            _ => Cell::Text(uuid(b)?),
        },
        Kind::ObjectId(b) => match class {
            Class::Binary => Cell::Bytes(b.clone()),
            _ => Cell::Text(hex(b)),
        },
        Kind::Date(d) => Cell::Text(date(d)?),
        Kind::Time(t) => Cell::Text(time_for(t, class)?),
        Kind::Timestamp(t) => Cell::Text(timestamp_for(t, class, false)?),
        Kind::Timestamptz(t) => Cell::Text(timestamp_for(t, class, true)?),
        Kind::Interval(i) => Cell::Text(interval(i)),
        Kind::Set(s) => match class {
            Class::Json => {
                let mut out = String::new();
                json(v, &mut out)?;
                Cell::Text(out)
            }
            _ => Cell::Text(s.labels.join(",")),
        },
        Kind::Array(_) | Kind::Document(_) => {
            if !class.texty() {
                return Err(format!(
                    "an {} can only be stored in a JSON or text column",
                    if matches!(kind, Kind::Array(_)) { "array" } else { "document (nested object)" }
                ));
            }
            let mut out = String::new();
            json(v, &mut out)?;
            Cell::Text(out)
        }
        Kind::Regex(r) => Cell::Text(format!("/{}/{}", r.pattern, r.options)),
        Kind::BsonTimestamp(t) => Cell::Text(format!("{{\"$timestamp\":{{\"t\":{},\"i\":{}}}}}", t.seconds, t.increment)),
        Kind::Unchanged(_) => {
            return Err("an unchanged (TOAST, not sent) marker cannot be written; it is only valid as a whole column value".into())
        }
    })
}

fn non_finite(text: &str, class: Class) -> R<Cell> {
    if class == Class::Text {
        return Ok(Cell::Text(text.into()));
    }
    Err("a NaN or infinite value cannot be stored: MySQL and MariaDB numbers have no NaN or infinity — make it NULL or a \
         finite number on the source, keep it from the target with a [[pipeline.table]] rule (exclude_columns, mask = \"null\", \
         or a filter), or make the target column a text column"
        .to_string())
}

/// A finite decimal split into its digits: `negative`, integer digits
/// without leading zeros, fraction digits without trailing zeros.
#[derive(Debug, PartialEq, Eq)]
pub struct Digits {
    /// The sign (false for zero).
    pub negative: bool,
    /// Integer part, no leading zeros (empty for zero).
    pub int: String,
    /// Fraction part, no trailing zeros.
    pub frac: String,
}

impl Digits {
    /// `-12.5`, `0`, `0.001`.
    pub fn plain(&self) -> String {
        let mut s = String::with_capacity(self.int.len() + self.frac.len() + 3);
        if self.negative {
            s.push('-');
        }
        if self.int.is_empty() {
            s.push('0');
        } else {
            s.push_str(&self.int);
        }
        if !self.frac.is_empty() {
            s.push('.');
            s.push_str(&self.frac);
        }
        s
    }
}

/// Parses `[+-]digits[.digits][e[+-]digits]` (also `.5`, `5.`) exactly;
/// `None` for anything else (NaN, Infinity, garbage).
pub fn parse_decimal(s: &str) -> Option<Digits> {
    let s = s.trim();
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (ip, fp) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (ip.is_empty() && fp.is_empty()) || !ip.bytes().chain(fp.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Guard against absurd exponents before building strings.
    if exp.unsigned_abs() > 100_000 {
        return None;
    }
    let digits: String = format!("{ip}{fp}");
    // Position of the decimal point within `digits`.
    let point = ip.len() as i64 + exp;
    let (int, frac) = if point <= 0 {
        (String::new(), format!("{}{digits}", "0".repeat((-point) as usize)))
    } else if point as usize >= digits.len() {
        (format!("{digits}{}", "0".repeat(point as usize - digits.len())), String::new())
    } else {
        (digits[..point as usize].to_string(), digits[point as usize..].to_string())
    };
    let int = int.trim_start_matches('0').to_string();
    let frac = frac.trim_end_matches('0').to_string();
    let negative = negative && !(int.is_empty() && frac.is_empty());
    Some(Digits { negative, int, frac })
}

fn decimal(s: &str, class: Class) -> R<Cell> {
    let Some(d) = parse_decimal(s) else {
        if ["nan", "infinity", "-infinity", "+infinity", "inf", "-inf"].contains(&s.trim().to_ascii_lowercase().as_str()) {
            return non_finite(s, class);
        }
        return Err("a decimal value is not a decimal number".to_string());
    };
    Ok(Cell::Text(match class {
        Class::Decimal { precision, scale } => {
            let int_room = precision.saturating_sub(scale) as usize;
            if d.int.len() > int_room || d.frac.len() > scale as usize {
                return Err(format!(
                    "a value does not fit DECIMAL({precision},{scale}) without rounding ({} integer and {} fraction \
                     digits; the column keeps {int_room} and {scale}) — widen the column on the target or keep the \
                     value from the target with a [[pipeline.table]] rule (exclude_columns, mask = \"null\", or a filter)",
                    d.int.len(),
                    d.frac.len()
                ));
            }
            d.plain()
        }
        Class::Int | Class::Year | Class::Bit => {
            if !d.frac.is_empty() {
                return Err("a value has a fraction, which an integer column would round away".to_string());
            }
            d.plain()
        }
        // Text columns keep the digits exactly as the source printed them.
        Class::Text | Class::Json => s.to_string(),
        _ => d.plain(),
    }))
}

fn special(s: i32, what: &str) -> R<Option<()>> {
    match Special::try_from(s) {
        Ok(Special::Finite) => Ok(None),
        Ok(Special::Zero) => Ok(Some(())),
        Ok(Special::PosInfinity) | Ok(Special::NegInfinity) => Err(format!(
            "the {what} {} cannot be stored: MySQL and MariaDB have no infinite {what}s — make it NULL or a real {what} \
             on the source, or keep it from the target with a [[pipeline.table]] rule (exclude_columns, mask = \"null\", or a filter)",
            if s == Special::PosInfinity as i32 { "infinity" } else { "-infinity" }
        )),
        Err(_) => Err(format!("unknown special {what} value {s}")),
    }
}

/// `YYYY-MM-DD` for years 1..=9999.
fn ymd(days: i64, what: &str) -> R<String> {
    let (y, m, d) = civil_from_days(days);
    if !(1..=9999).contains(&y) {
        let era = if y <= 0 { " (BC)" } else { "" };
        return Err(format!("a {what}{era} is outside the years MySQL and MariaDB can store (0001 to 9999)"));
    }
    Ok(format!("{y:04}-{m:02}-{d:02}"))
}

/// Date text; the zero date as `0000-00-00`.
pub fn date(d: &Date) -> R<String> {
    if special(d.special, "date")?.is_some() {
        return Ok("0000-00-00".into());
    }
    ymd(i64::from(d.days), "date")
}

fn fraction(micros: u64, out: &mut String) {
    if micros != 0 {
        let f = format!("{micros:06}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
}

fn check_fsp(micros: u64, fsp: u32, what: &str, column: &str) -> R<()> {
    let unit = 10u64.pow(6 - fsp.min(6));
    if micros % unit != 0 {
        return Err(format!(
            "the {what} has more fractional-second digits than {column}({fsp}) keeps and would be rounded — widen the \
             column's fractional seconds on the target"
        ));
    }
    Ok(())
}

/// Largest MySQL TIME, in microseconds (838:59:59.999999).
const MAX_TIME_MICROS: u64 = 838 * 3_600_000_000 + 59 * 60_000_000 + 59_999_999;

fn time_for(t: &Time, class: Class) -> R<String> {
    let mut out = String::new();
    if t.micros < 0 {
        out.push('-');
    }
    let a = t.micros.unsigned_abs();
    let _ = write!(out, "{:02}:{:02}:{:02}", a / 3_600_000_000, a / 60_000_000 % 60, a / 1_000_000 % 60);
    fraction(a % 1_000_000, &mut out);
    if t.has_offset {
        if class != Class::Text {
            return Err(
                "a time with time zone can only be stored in a text column (its offset would be lost in TIME)".into()
            );
        }
        // PostgreSQL's output: +HH, +HH:MM or +HH:MM:SS.
        let o = t.offset_seconds;
        let a = o.unsigned_abs();
        let _ = write!(out, "{}{:02}", if o < 0 { '-' } else { '+' }, a / 3600);
        if a % 3600 != 0 {
            let _ = write!(out, ":{:02}", a / 60 % 60);
            if a % 60 != 0 {
                let _ = write!(out, ":{:02}", a % 60);
            }
        }
        return Ok(out);
    }
    if let Class::Time { fsp } = class {
        if a > MAX_TIME_MICROS {
            return Err("a time is outside MySQL's TIME range (-838:59:59.999999 to 838:59:59.999999)".to_string());
        }
        check_fsp(a % 1_000_000, fsp, "time", "TIME")?;
    }
    Ok(out)
}

fn timestamp_for(t: &Timestamp, class: Class, tz: bool) -> R<String> {
    if special(t.special, "timestamp")?.is_some() {
        return Ok("0000-00-00 00:00:00".into());
    }
    let secs = i128::from(t.seconds) + i128::from(t.nanos / 1_000_000_000);
    let nanos = t.nanos % 1_000_000_000;
    let days = i64::try_from(secs.div_euclid(86_400)).map_err(|_| "timestamp out of range".to_string())?;
    let sod = secs.rem_euclid(86_400) as u32;
    let mut out = ymd(days, "timestamp")?;
    let _ = write!(out, " {:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60);
    let texty = class.texty();
    if nanos % 1000 != 0 {
        if !texty {
            return Err("the timestamp has nanoseconds; MySQL and MariaDB keep at most microseconds".into());
        }
        let f = format!("{nanos:09}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    } else {
        let micros = u64::from(nanos / 1000);
        if let Class::DateTime { fsp } = class {
            check_fsp(micros, fsp, "timestamp", "DATETIME/TIMESTAMP")?;
        }
        fraction(micros, &mut out);
    }
    if tz && texty {
        out.push_str("+00");
    }
    Ok(out)
}

/// An interval as PostgreSQL prints it with `IntervalStyle = postgres`
/// (see [`crate::record::calendar::postgres_interval`]).
pub fn interval(i: &Interval) -> String {
    crate::record::calendar::postgres_interval(i)
}

/// Text of a date or time inside JSON (never refused: JSON can say anything).
fn date_json(d: &Date) -> String {
    match Special::try_from(d.special) {
        Ok(Special::PosInfinity) => "infinity".into(),
        Ok(Special::NegInfinity) => "-infinity".into(),
        Ok(Special::Zero) => "0000-00-00".into(),
        _ => {
            let (y, m, dd) = civil_from_days(i64::from(d.days));
            if (0..=9999).contains(&y) {
                format!("{y:04}-{m:02}-{dd:02}")
            } else {
                format!("{y:+07}-{m:02}-{dd:02}")
            }
        }
    }
}

fn timestamp_json(t: &Timestamp) -> String {
    match Special::try_from(t.special) {
        Ok(Special::PosInfinity) => "infinity".into(),
        Ok(Special::NegInfinity) => "-infinity".into(),
        Ok(Special::Zero) => "0000-00-00 00:00:00".into(),
        _ => {
            let secs = i128::from(t.seconds) + i128::from(t.nanos / 1_000_000_000);
            let nanos = t.nanos % 1_000_000_000;
            let days = secs.div_euclid(86_400) as i64;
            let sod = secs.rem_euclid(86_400) as u32;
            let mut out = date_json(&Date { days: days as i32, special: 0 });
            if i64::from(days as i32) != days {
                out = "out of range".into();
            }
            let _ = write!(out, " {:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60);
            if nanos != 0 {
                let f = format!("{nanos:09}");
                out.push('.');
                out.push_str(f.trim_end_matches('0'));
            }
            out
        }
    }
}

/// JSON of a value (array elements, document fields, sets into JSON columns).
pub fn json(v: &Value, out: &mut String) -> R<()> {
    json_text::write(v, out, &MysqlJson)
}

/// MySQL's forms inside JSON: dates and times never refused.
struct MysqlJson;

impl JsonStyle for MysqlJson {
    type Error = String;
    fn uuid(&self, b: &[u8]) -> R<String> {
        uuid(b)
    }
    fn date(&self, d: &Date) -> R<String> {
        Ok(date_json(d))
    }
    fn time(&self, t: &Time) -> R<String> {
        time_for(t, Class::Text)
    }
    fn timestamp(&self, t: &Timestamp, _tz: bool) -> R<String> {
        Ok(timestamp_json(t))
    }
    fn interval(&self, i: &Interval) -> String {
        interval(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::*;

    const TEXT: Class = Class::Text;
    const OTHER: Class = Class::Other;

    fn r(k: value::Kind, c: Class) -> R<Cell> {
        render(&Value::of(k), c)
    }
    fn t(k: value::Kind, c: Class) -> String {
        match r(k, c).unwrap() {
            Cell::Text(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scalars() {
        use value::Kind::*;
        assert_eq!(render(&Value::null(), OTHER).unwrap(), Cell::Null);
        assert_eq!(r(Bool(true), Class::Int).unwrap(), Cell::Int(1));
        assert_eq!(r(Bool(false), Class::Int).unwrap(), Cell::Int(0));
        assert_eq!(t(Bool(true), TEXT), "true");
        assert_eq!(r(Int64(i64::MIN), Class::Int).unwrap(), Cell::Int(i64::MIN));
        assert_eq!(r(Int32(-7), Class::Int).unwrap(), Cell::Int(-7));
        assert_eq!(r(Uint64(u64::MAX), Class::Int).unwrap(), Cell::UInt(u64::MAX));
        assert_eq!(t(Text("a'b\\\0".into()), TEXT), "a'b\\\0");
        assert_eq!(r(Text("ab".into()), Class::Binary).unwrap(), Cell::Bytes(b"ab".to_vec().into()));
        assert_eq!(t(Json("{\"a\": 1}".into()), Class::Json), "{\"a\": 1}");
        assert_eq!(t(EnumLabel("happy".into()), TEXT), "happy");
        assert_eq!(t(Other(crate::record::Other { type_name: "point".into(), text: "(1,2)".into() }), TEXT), "(1,2)");
        assert_eq!(r(Bytes(vec![0, 0xff].into()), Class::Geometry).unwrap(), Cell::Bytes(vec![0, 0xff].into()));
        let u: Vec<u8> = (0u8..16).collect();
        assert_eq!(t(Uuid(u.clone().into()), OTHER), "00010203-0405-0607-0809-0a0b0c0d0e0f");
        assert_eq!(r(Uuid(u.clone().into()), Class::Binary).unwrap(), Cell::Bytes(u.into()));
        assert!(r(Uuid(vec![1, 2].into()), OTHER).is_err());
        assert_eq!(t(ObjectId(vec![0x65, 0xf1].into()), TEXT), "65f1");
        assert_eq!(r(Binary(crate::record::Binary { subtype: 4, data: vec![1, 2].into() }), Class::Binary).unwrap(), Cell::Bytes(vec![1, 2].into()));
        assert_eq!(t(Regex(crate::record::Regex { pattern: "^a".into(), options: "i".into() }), TEXT), "/^a/i");
        assert_eq!(t(BsonTimestamp(crate::record::BsonTimestamp { seconds: 5, increment: 2 }), TEXT), "{\"$timestamp\":{\"t\":5,\"i\":2}}");
        assert_eq!(t(Set(Labels { labels: vec!["a".into(), "b".into()] }), TEXT), "a,b");
        assert_eq!(t(Set(Labels { labels: vec!["a".into(), "b".into()] }), Class::Json), "[\"a\",\"b\"]");
        assert!(render(&Value::unchanged(), OTHER).is_err());
        assert!(render(&Value { kind: None }, OTHER).is_err());
    }

    #[test]
    fn floats() {
        use value::Kind::*;
        assert_eq!(t(Float64(0.1), Class::Float), "0.1");
        assert_eq!(t(Float64(1e300), Class::Float), "1e300");
        assert_eq!(t(Float64(-0.0), Class::Float), "-0.0");
        // f32 as its exact double, so FLOAT stores the same f32 (f32::MAX's
        // shortest text, 3.4028235e38, is above FLT_MAX as a double).
        assert_eq!(t(Float32(f32::MAX), Class::Float), "3.4028234663852886e38");
        assert_eq!(t(Float32(0.1), Class::Float), "0.10000000149011612");
        assert_eq!(t(Float32(0.1), TEXT), "0.1");
        for bad in [Float64(f64::NAN), Float64(f64::INFINITY), Float32(f32::NEG_INFINITY)] {
            let e = r(bad, Class::Float).unwrap_err();
            assert!(e.contains("NaN or infinity"), "{e}");
        }
        assert_eq!(t(Float64(f64::NEG_INFINITY), TEXT), "-Infinity");
    }

    #[test]
    fn decimals() {
        use value::Kind::*;
        let d = |p, s| Class::Decimal { precision: p, scale: s };
        assert_eq!(t(Decimal("-12.3400".into()), d(10, 2)), "-12.34");
        assert_eq!(t(Decimal("0.000".into()), d(10, 2)), "0");
        assert_eq!(t(Decimal("-0.0".into()), d(10, 2)), "0");
        assert_eq!(t(Decimal128("1.0E+10".into()), d(20, 0)), "10000000000");
        assert_eq!(t(Decimal128("1.5E-3".into()), d(10, 4)), "0.0015");
        assert_eq!(t(Decimal(".5".into()), d(3, 1)), "0.5");
        let e = r(Decimal("1.555".into()), d(10, 2)).unwrap_err();
        assert!(e.contains("DECIMAL(10,2)") && e.contains("rounding"), "{e}");
        assert!(r(Decimal("123456789".into()), d(10, 2)).is_err());
        assert_eq!(t(Decimal("12345678.99".into()), d(10, 2)), "12345678.99");
        // Unconstrained numeric → DECIMAL(65,30): 35 integer and 30 fraction digits.
        let big = format!("{}.{}", "9".repeat(35), "1".repeat(30));
        assert_eq!(t(Decimal(big.clone()), d(65, 30)), big);
        assert!(r(Decimal(format!("1{big}")), d(65, 30)).is_err());
        assert!(r(Decimal(format!("{big}1")), d(65, 30)).is_err());
        assert!(r(Decimal("NaN".into()), d(65, 30)).unwrap_err().contains("NaN or infinity"));
        assert!(r(Decimal("-Infinity".into()), d(65, 30)).is_err());
        assert_eq!(t(Decimal("NaN".into()), TEXT), "NaN");
        assert_eq!(t(Decimal("12.3400".into()), TEXT), "12.3400");
        assert!(r(Decimal("12.5".into()), Class::Int).is_err());
        assert_eq!(t(Decimal("12.0".into()), Class::Int), "12");
        assert!(r(Decimal("abc".into()), d(10, 2)).is_err());
        assert!(r(Decimal(String::new()), d(10, 2)).is_err());
        assert!(parse_decimal("1e999999999").is_none());
        assert_eq!(parse_decimal("+00100.0100e1").unwrap().plain(), "1000.1");
    }

    #[test]
    fn dates_and_times() {
        use value::Kind::*;
        let dt = Class::DateTime { fsp: 6 };
        assert_eq!(t(Date(crate::record::Date { days: 19_782, special: 0 }), Class::Date), "2024-02-29");
        assert_eq!(t(Date(crate::record::Date { days: 0, special: Special::Zero as i32 }), Class::Date), "0000-00-00");
        assert!(r(Date(crate::record::Date { days: 0, special: Special::PosInfinity as i32 }), Class::Date).unwrap_err().contains("infinity"));
        assert!(r(Date(crate::record::Date { days: -735_160, special: 0 }), Class::Date).unwrap_err().contains("(BC) is outside"));
        assert!(r(Date(crate::record::Date { days: 2_932_897, special: 0 }), Class::Date).is_err());
        assert_eq!(t(Date(crate::record::Date { days: -719_162, special: 0 }), Class::Date), "0001-01-01");

        let tm = |micros, has_offset, offset_seconds| Time(crate::record::Time { micros, has_offset, offset_seconds });
        assert_eq!(t(tm(49_500_500_000, false, 0), Class::Time { fsp: 6 }), "13:45:00.5");
        assert!(r(tm(49_500_500_000, false, 0), Class::Time { fsp: 0 }).unwrap_err().contains("rounded"));
        assert_eq!(t(tm(-3_020_399_000_000, false, 0), Class::Time { fsp: 0 }), "-838:59:59");
        assert!(r(tm(-3_020_400_000_000, false, 0), Class::Time { fsp: 0 }).unwrap_err().contains("TIME range"));
        assert_eq!(t(tm(1, true, 19_800), TEXT), "00:00:00.000001+05:30");
        assert_eq!(t(tm(0, true, -18_015), TEXT), "00:00:00-05:00:15");
        assert_eq!(t(tm(43_200_000_000, true, 7200), TEXT), "12:00:00+02");
        assert!(r(tm(0, true, 0), Class::Time { fsp: 6 }).is_err());

        let ts = |seconds, nanos, special: Special| crate::record::Timestamp { seconds, nanos, special: special as i32 };
        assert_eq!(t(Timestamp(ts(1_709_207_100, 123_456_000, Special::Finite)), dt), "2024-02-29 11:45:00.123456");
        assert_eq!(t(Timestamptz(ts(-1, 999_999_000, Special::Finite)), dt), "1969-12-31 23:59:59.999999");
        assert_eq!(t(Timestamptz(ts(0, 0, Special::Finite)), TEXT), "1970-01-01 00:00:00+00");
        assert_eq!(t(Timestamp(ts(0, 0, Special::Zero)), dt), "0000-00-00 00:00:00");
        assert!(r(Timestamp(ts(0, 1, Special::Finite)), dt).unwrap_err().contains("nanoseconds"));
        assert!(r(Timestamp(ts(0, 500_000_000, Special::Finite)), Class::DateTime { fsp: 1 }).is_ok());
        assert!(r(Timestamp(ts(0, 500_000_000, Special::Finite)), Class::DateTime { fsp: 0 }).is_err());
        assert!(r(Timestamp(ts(0, 500_000, Special::Finite)), Class::DateTime { fsp: 4 }).is_ok());
        assert!(r(Timestamp(ts(0, 500_000, Special::Finite)), Class::DateTime { fsp: 3 }).is_err());
        assert!(r(Timestamptz(ts(0, 0, Special::NegInfinity)), dt).unwrap_err().contains("-infinity"));
        assert!(r(Timestamp(ts(-63_517_780_800, 0, Special::Finite)), dt).is_err());
    }

    #[test]
    fn intervals_print_like_postgresql() {
        let i = |months, days, micros| interval(&Interval { months, days, micros });
        assert_eq!(i(0, 0, 0), "00:00:00");
        assert_eq!(i(14, -3, 3_723_000_004), "1 year 2 mons -3 days +01:02:03.000004");
        assert_eq!(i(1, 1, 0), "1 mon 1 day");
        assert_eq!(i(-1, 0, -1_500_000), "-1 mons -00:00:01.5");
        assert_eq!(i(0, 0, 360_000_000_000), "100:00:00");
        assert_eq!(i(-12, 5, 0), "-1 years +5 days");
        let extreme = i(i32::MIN, i32::MIN, i64::MIN);
        assert_eq!(extreme, "-178956970 years -8 mons -2147483648 days -2562047788:00:54.775808");
    }

    #[test]
    fn arrays_and_documents_are_json() {
        use value::Kind::*;
        let arr = Array(crate::record::Array {
            lower_bounds: Vec::new(),
            element_type: "text".into(),
            elements: vec![
                Value::text("a \"b\""),
                Value::null(),
                Value::int64(3),
                Value::of(Float64(f64::NAN)),
                Value::of(Date(crate::record::Date { days: 0, special: 0 })),
                Value::of(Array(crate::record::Array { lower_bounds: Vec::new(), element_type: "int4".into(), elements: vec![Value::int64(1)] })),
                Value::of(Decimal("1.50".into())),
                Value::of(Bytes(vec![1, 2, 3].into())),
            ],
        });
        assert_eq!(t(arr.clone(), Class::Json), r#"["a \"b\"",null,3,"NaN","1970-01-01",[1],1.50,{"$binary":{"base64":"AQID","subType":"00"}}]"#);
        assert!(r(arr, Class::Int).unwrap_err().contains("JSON"));
        // A PostgreSQL array's lower bounds have no place in JSON: dropped,
        // the elements kept in order (README, type mapping).
        let bounded = Array(crate::record::Array {
            lower_bounds: vec![0],
            element_type: "int4".into(),
            elements: vec![Value::int64(7), Value::int64(8), Value::int64(9)],
        });
        assert_eq!(t(bounded, Class::Json), "[7,8,9]");
        let doc = Document(crate::record::Document {
            fields: vec![
                Column { name: "_id".into(), value: Some(Value::of(ObjectId(vec![0xab; 2].into()))) },
                Column { name: "j".into(), value: Some(Value::of(Json("[1, 2]".into()))) },
                Column { name: "t".into(), value: Some(Value::of(Timestamptz(crate::record::Timestamp { seconds: 0, nanos: 5_000, special: 0 }))) },
            ],
        });
        assert_eq!(t(doc, TEXT), r#"{"_id":{"$oid":"abab"},"j":[1, 2],"t":"1970-01-01 00:00:00.000005"}"#);
    }
}
