//! Canonical values to PostgreSQL input text.
//!
//! Every value travels to the server as one element of a `text[]` parameter
//! and is cast there to the target column's type, so what this module
//! produces is exactly what PostgreSQL's own input functions accept for that
//! type (the same text `psql` would take in a literal). The session is set
//! to `TimeZone = UTC`, `DateStyle = ISO, YMD` and `IntervalStyle =
//! postgres` (see `../mod.rs`), so the forms below are read unambiguously.
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
//! or a real date) or a `[[pipeline.table]]` rule that keeps it from the target.

mod arrays;
mod geometry;
mod json;
mod scalars;
mod temporal;
#[cfg(test)]
mod tests;

pub use json::json;
pub use scalars::bytea;
pub use temporal::{date, interval, time, timestamp};

use crate::record::{value::Kind, Value};
use arrays::{array_text, quote_element};
use scalars::scalar;

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
                array_text(a, Target::scalar(target.class), &mut out)?;
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
                array_text(a, Target::scalar(TypeClass::Text), &mut out)?;
                Ok(Some(out))
            }
            Kind::Array(_) => err("an array can only be stored in an array, json, jsonb or text column"),
            _ => scalar(kind, class).map(Some),
        },
    }
}

fn no_nul(s: &str) -> R<String> {
    if s.contains('\0') {
        return err("the text contains a NUL (0x00) character, which PostgreSQL text types cannot store");
    }
    Ok(s.to_string())
}
