//! PostgreSQL text values to canonical values.
//!
//! pgoutput (and the snapshot's text-mode queries) give each value in its
//! type's *text output* form. The replication session pins every setting
//! that shapes that form (`DateStyle=ISO, YMD`, `IntervalStyle=postgres`,
//! `TimeZone=UTC`, `extra_float_digits=3`, see
//! [`SESSION_OPTIONS`](super::SESSION_OPTIONS)), so [`text_to_value`] can
//! read it back exactly, without going through lossy intermediate forms:
//!
//! | PostgreSQL type | canonical kind |
//! |---|---|
//! | `bool` | `Bool` |
//! | `int2`, `int4`, `int8`, `oid` | `Int64` |
//! | `float4` / `float8` | `Float32` / `Float64` (NaN, ±Infinity, -0) |
//! | `numeric` | `Decimal`: the server's digits, NaN and ±Infinity as is |
//! | `text`, `varchar`, `bpchar` (padding kept), `name`, `"char"` | `Text` |
//! | `bytea` (hex, or escape format) | `Bytes` |
//! | `date` | `Date`: days since 1970-01-01, ±infinity, BC years |
//! | `time` / `timetz` | `Time`: µs since midnight (+ offset east of UTC) |
//! | `timestamp` / `timestamptz` | `Timestamp` / `Timestamptz`, ±infinity |
//! | `interval` | `Interval`: months, days, µs (kept apart, as PostgreSQL does) |
//! | `uuid` | `Uuid`: 16 bytes |
//! | `json`, `jsonb` | `Json`: the text as is |
//! | enums | `EnumLabel` |
//! | domains | their base type's kind |
//! | arrays | `Array` (nested arrays for more dimensions) of the element kind |
//! | everything else (`xml`, `money`, `inet`, geometric, ranges, composites, extension types…) | `Other` with the type name and text |
//!
//! Calendar values use the proleptic Gregorian calendar with astronomical
//! year numbering (`0044-03-15 BC` is year -43), as the canonical record
//! does. Array dimension decorations (`[0:1]={5,6}`, printed when a lower
//! bound is not 1) are accepted and **dropped**: the canonical `Array` has
//! no place for bounds, so such an array arrives as if it started at 1.
//!
//! Every parser works on the borrowed `&str` (integers, dates and so on
//! are read in place); only values that own text (`Text`, `Decimal`,
//! `Json`, …) allocate, once.

mod arrays;
mod builtins;
mod scalars;
mod temporal;
#[cfg(test)]
mod tests;

pub use builtins::{builtin_oid, type_name};

use arrays::array;
use builtins::builtin;

use crate::record::{value::Kind, Array, Date, Interval, Other, Special, Time, Timestamp, Value};

/// What logferry knows about a column's type (resolved from `pg_type` by
/// the source).
#[derive(Debug, Clone, PartialEq)]
pub enum PgType {
    /// A builtin scalar decoded natively (see the module docs); the oid.
    Builtin(u32),
    /// `typtype = 'e'`; the (schema-qualified) type name.
    Enum {
        /// Type name, e.g. `public.mood`.
        name: String,
    },
    /// `typtype = 'd'`: values are converted as the base type.
    Domain {
        /// Type name, e.g. `public.posint`.
        name: String,
        /// The domain's base type.
        base: Box<PgType>,
    },
    /// An array type (`typcategory = 'A'` with an element type).
    Array {
        /// Array type name, e.g. `_int4`.
        name: String,
        /// Element type.
        element: Box<PgType>,
        /// `typdelim` of the element type: b',' for all but `box` (b';').
        delimiter: u8,
    },
    /// Kept as text with its type name: composites, ranges, geometric and
    /// network types, extension types.
    Other {
        /// Type name, e.g. `point`, `public.address`.
        name: String,
    },
}

/// A value whose text is not valid for its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {type_name} value {text:?}: {reason}")]
pub struct TypeError {
    /// The type name, as [`type_name`] gives it.
    pub type_name: String,
    /// The text, cut to [`ERROR_TEXT_LIMIT`] characters.
    pub text: String,
    /// What is wrong.
    pub reason: String,
}

/// How many characters of a bad value an error shows: enough to recognise
/// it, not a whole document in a log line.
pub const ERROR_TEXT_LIMIT: usize = 64;

impl TypeError {
    fn new(ty: &PgType, text: &str, reason: impl Into<String>) -> Self {
        let shown = match text.char_indices().nth(ERROR_TEXT_LIMIT) {
            Some((end, _)) => format!("{}…", &text[..end]),
            None => text.to_owned(),
        };
        TypeError { type_name: type_name(ty), text: shown, reason: reason.into() }
    }
}

/// Converts one value from the type's text output form. The error names
/// the type and shows the (shortened) text.
pub fn text_to_value(ty: &PgType, text: &str) -> Result<Value, TypeError> {
    convert(ty, text).map(Value::of)
}

fn convert(ty: &PgType, text: &str) -> Result<Kind, TypeError> {
    match ty {
        PgType::Builtin(oid) => builtin(*oid, text).map_err(|reason| TypeError::new(ty, text, reason)),
        PgType::Enum { .. } => Ok(Kind::EnumLabel(text.to_owned())),
        PgType::Domain { name, base } => convert(base, text).map_err(|mut e| {
            e.type_name = format!("{name} (domain over {})", e.type_name);
            e
        }),
        PgType::Array { element, delimiter, .. } => array(ty, element, *delimiter, text),
        PgType::Other { name } => Ok(Kind::Other(Other { type_name: name.clone(), text: text.to_owned() })),
    }
}

/// Why a text is not valid; the caller adds the type and the text.
type Reason = &'static str;
