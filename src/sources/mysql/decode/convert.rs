//! Binlog values to canonical kinds: a value as the binlog holds it
//! ([`Raw`]), whether the table map's layout fits the catalog's columns, and
//! the per-family conversion (integer widths and signedness, binary padding,
//! ENUM / SET labels).

use super::charset::decode_charset;
use super::column_type::{is_mariadb53, labels, Family};
use super::json::render_mc_jsonb;
use super::problem::Problem;
use super::temporal::{date_kind, datetime_kind, time_kind, DateTimeParts};
use super::text::inet6_text;
use super::{ColumnInfo, DecodeError};
use crate::record::{value::Kind, Labels, Null, Other, Special, Timestamp};
use bytes::Bytes;
use mysql_async::binlog::value::BinlogValue;
use mysql_async::consts::ColumnType;
use mysql_async::Value as MyValue;
use std::borrow::Cow;

/// A value as the binlog holds it, before the column's meaning is applied.
#[derive(Debug)]
pub(super) enum Raw<'a> {
    Null,
    /// Integer (and ENUM index) bits; the column's width and signedness
    /// decide the value.
    Int(u64),
    Float(f32),
    Double(f64),
    /// DECIMAL text (scale kept).
    Decimal(String),
    /// Strings, blobs, BIT, SET bitmasks, geometry, MariaDB JSON text.
    Bytes(&'a [u8]),
    Date {
        y: u32,
        m: u32,
        d: u32,
    },
    DateTime(DateTimeParts),
    /// Signed microseconds.
    Time(i64),
    Timestamp {
        secs: u64,
        micros: u32,
    },
    /// The year, 0 for 0000.
    Year(u32),
    /// MySQL binary JSON, printed.
    Json(String),
    JsonDiff,
}

/// The binlog column types a column of `family` can arrive as.
pub(super) fn compatible(ct: ColumnType, family: &Family) -> bool {
    use ColumnType::*;
    match family {
        Family::Int { bits: 8, .. } => ct == MYSQL_TYPE_TINY,
        Family::Int { bits: 16, .. } => ct == MYSQL_TYPE_SHORT,
        Family::Int { bits: 24, .. } => ct == MYSQL_TYPE_INT24,
        Family::Int { bits: 32, .. } => ct == MYSQL_TYPE_LONG,
        Family::Int { .. } => ct == MYSQL_TYPE_LONGLONG,
        Family::Decimal => ct == MYSQL_TYPE_NEWDECIMAL,
        Family::Float => ct == MYSQL_TYPE_FLOAT,
        Family::Double => ct == MYSQL_TYPE_DOUBLE,
        Family::Bit => ct == MYSQL_TYPE_BIT,
        Family::Text { .. } | Family::Binary { .. } | Family::Uuid | Family::Inet6 | Family::Inet4 => matches!(
            ct,
            MYSQL_TYPE_STRING
                | MYSQL_TYPE_VARCHAR
                | MYSQL_TYPE_VAR_STRING
                | MYSQL_TYPE_BLOB
                | MYSQL_TYPE_TINY_BLOB
                | MYSQL_TYPE_MEDIUM_BLOB
                | MYSQL_TYPE_LONG_BLOB
                | MYSQL_TYPE_VECTOR
        ),
        Family::Date => matches!(ct, MYSQL_TYPE_NEWDATE | MYSQL_TYPE_DATE),
        Family::Time { .. } => matches!(ct, MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2),
        Family::DateTime { .. } => matches!(ct, MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2),
        Family::Timestamp { .. } => matches!(ct, MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2),
        Family::Year { .. } => ct == MYSQL_TYPE_YEAR,
        Family::Enum => ct == MYSQL_TYPE_ENUM,
        Family::Set => ct == MYSQL_TYPE_SET,
        Family::Json => matches!(
            ct,
            MYSQL_TYPE_JSON | MYSQL_TYPE_BLOB | MYSQL_TYPE_LONG_BLOB | MYSQL_TYPE_MEDIUM_BLOB | MYSQL_TYPE_TINY_BLOB
        ),
        Family::Geometry => ct == MYSQL_TYPE_GEOMETRY,
        Family::Unknown => false,
    }
}

/// Checks that a binlog column fits the column information_schema
/// described, once per event (or row) rather than per value.
pub(super) fn check_layout(
    ct: ColumnType,
    meta: Option<&[u8]>,
    col: &ColumnInfo,
    family: &Family,
    table: &str,
) -> Result<(), DecodeError> {
    if *family == Family::Unknown {
        return Err(DecodeError::Schema {
            table: table.to_string(),
            reason: format!(
                "column {} has type {} ({}), which logferry cannot read from the binlog; leave the column or table out",
                col.name, col.data_type, col.column_type
            ),
        });
    }
    if !compatible(ct, family) {
        return Err(DecodeError::Schema {
            table: table.to_string(),
            reason: format!(
                "column {} is {} in information_schema but the binlog logs it as {ct:?}: the table changed after its \
                 columns were read; they must be read again",
                col.name, col.column_type
            ),
        });
    }
    // Metadata lengths the value parser relies on.
    let needed = match ct {
        ColumnType::MYSQL_TYPE_NEWDECIMAL
        | ColumnType::MYSQL_TYPE_BIT
        | ColumnType::MYSQL_TYPE_ENUM
        | ColumnType::MYSQL_TYPE_SET
        | ColumnType::MYSQL_TYPE_STRING
        | ColumnType::MYSQL_TYPE_VARCHAR
        | ColumnType::MYSQL_TYPE_VAR_STRING => 2,
        ColumnType::MYSQL_TYPE_BLOB
        | ColumnType::MYSQL_TYPE_TINY_BLOB
        | ColumnType::MYSQL_TYPE_MEDIUM_BLOB
        | ColumnType::MYSQL_TYPE_LONG_BLOB
        | ColumnType::MYSQL_TYPE_GEOMETRY
        | ColumnType::MYSQL_TYPE_JSON
        | ColumnType::MYSQL_TYPE_VECTOR
        | ColumnType::MYSQL_TYPE_TIME2
        | ColumnType::MYSQL_TYPE_DATETIME2
        | ColumnType::MYSQL_TYPE_TIMESTAMP2 => 1,
        _ => 0,
    };
    if let Some(meta) = meta {
        if meta.len() < needed {
            return Err(DecodeError::Malformed {
                table: table.to_string(),
                reason: format!("column {}: {} byte(s) of table-map metadata for {ct:?}", col.name, meta.len()),
            });
        }
    }
    Ok(())
}

/// The bits mysql_common gives, as a [`Raw`] value (`row_values`).
pub(super) fn raw_from_binlog_value<'a>(
    ct: ColumnType,
    v: &'a BinlogValue<'_>,
    col: &ColumnInfo,
    family: &Family,
) -> Result<Raw<'a>, Problem> {
    use ColumnType::*;
    let v = match v {
        BinlogValue::Value(v) => v,
        BinlogValue::Jsonb(j) => {
            let mut out = String::new();
            render_mc_jsonb(j, &mut out, 0)?;
            return Ok(Raw::Json(out));
        }
        BinlogValue::JsonDiff(_) => return Ok(Raw::JsonDiff),
    };
    if let MyValue::NULL = v {
        return Ok(Raw::Null);
    }
    let refused = |what: &str| -> Problem {
        Problem::Reason(format!(
            "mysql_common's row parser misreads {what}; parse the event with decode::event_rows instead"
        ))
    };
    if is_mariadb53(&col.column_type) && matches!(ct, MYSQL_TYPE_TIME | MYSQL_TYPE_DATETIME | MYSQL_TYPE_TIMESTAMP) {
        if let Family::Time { fsp: 1.. } | Family::DateTime { fsp: 1.. } | Family::Timestamp { fsp: 1.. } = family {
            return Err(refused("MariaDB 5.3 high-resolution temporal columns"));
        }
    }
    Ok(match (ct, v) {
        (MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG | MYSQL_TYPE_LONGLONG, _)
        | (MYSQL_TYPE_ENUM, _) => match v {
            MyValue::Int(i) => Raw::Int(*i as u64),
            MyValue::UInt(u) => Raw::Int(*u),
            _ => return Err("expected an integer".into()),
        },
        (MYSQL_TYPE_FLOAT, MyValue::Float(f)) => Raw::Float(*f),
        (MYSQL_TYPE_DOUBLE, MyValue::Double(d)) => Raw::Double(*d),
        (MYSQL_TYPE_NEWDECIMAL, MyValue::Bytes(b)) => {
            Raw::Decimal(std::str::from_utf8(b).map_err(|_| "decimal text is not ASCII")?.to_string())
        }
        (MYSQL_TYPE_TIMESTAMP2, MyValue::Bytes(b)) => {
            // "<seconds>[.<micros>]"; mysql_common reads the unsigned
            // seconds as i32, so instants after 2038 arrive negative.
            let s = std::str::from_utf8(b).map_err(|_| "timestamp text is not ASCII")?;
            let (secs, frac) = s.split_once('.').unwrap_or((s, "0"));
            let secs: i64 = secs.parse().map_err(|_| "bad timestamp seconds")?;
            let micros: u32 = frac.parse().map_err(|_| "bad timestamp fraction")?;
            let secs = if secs < 0 { secs + (1 << 32) } else { secs };
            if !(0..1 << 32).contains(&secs) || micros > 999_999 {
                return Err("timestamp out of range".into());
            }
            Raw::Timestamp { secs: secs as u64, micros }
        }
        (MYSQL_TYPE_TIMESTAMP, MyValue::Int(i)) => {
            Raw::Timestamp { secs: u64::from(u32::try_from(*i).map_err(|_| "timestamp out of range")?), micros: 0 }
        }
        (MYSQL_TYPE_YEAR, MyValue::Bytes(b)) => {
            // mysql_common gives 1900 + the stored byte: 1900 is the zero year.
            let y: u32 = std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).ok_or("bad year")?;
            Raw::Year(if y == 1900 { 0 } else { y })
        }
        (MYSQL_TYPE_NEWDATE | MYSQL_TYPE_DATE, MyValue::Date(y, m, d, ..)) => {
            Raw::Date { y: u32::from(*y), m: u32::from(*m), d: u32::from(*d) }
        }
        (MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2, MyValue::Date(y, m, d, h, mi, s, us)) => {
            Raw::DateTime(DateTimeParts {
                y: u32::from(*y),
                m: u32::from(*m),
                d: u32::from(*d),
                h: u32::from(*h),
                mi: u32::from(*mi),
                s: u32::from(*s),
                micros: *us,
            })
        }
        (MYSQL_TYPE_TIME, _) => return Err(refused("pre-5.6 TIME columns (negative values, hours above 255)")),
        (MYSQL_TYPE_TIME2, MyValue::Time(neg, days, h, m, s, us)) => {
            if *m > 59 || *s > 59 || *us > 999_999 {
                return Err(refused("negative TIME(1) / TIME(2) values with a fraction"));
            }
            let secs = (i64::from(*days) * 24 + i64::from(*h)) * 3600 + i64::from(*m) * 60 + i64::from(*s);
            let micros = secs * 1_000_000 + i64::from(*us);
            Raw::Time(if *neg { -micros } else { micros })
        }
        (_, MyValue::Bytes(b)) => Raw::Bytes(b),
        _ => return Err(format!("unexpected {ct:?} value from mysql_common").into()),
    })
}

/// Converts a binlog value with the column's meaning.
pub(super) fn from_raw(raw: Raw<'_>, col: &ColumnInfo, family: &Family) -> Result<Kind, Problem> {
    if let Raw::Null = raw {
        return Ok(Kind::Null(Null {}));
    }
    if let Raw::JsonDiff = raw {
        return Err(Problem::PartialJson);
    }
    Ok(match (family, raw) {
        (Family::Int { bits, unsigned }, Raw::Int(v)) => int_kind(v, *bits, *unsigned),
        (Family::Decimal, Raw::Decimal(s)) => Kind::Decimal(s),
        (Family::Float, Raw::Float(f)) => Kind::Float32(f),
        (Family::Double, Raw::Double(d)) => Kind::Float64(d),
        (Family::Bit, Raw::Bytes(b)) => Kind::Bytes(Bytes::copy_from_slice(b)),
        (Family::Text { charset, char_padded }, Raw::Bytes(b)) => {
            let mut s = decode_charset(b, charset)?;
            if *char_padded {
                let kept = s.trim_end_matches(' ').len();
                s.truncate(kept);
            }
            Kind::Text(s)
        }
        (Family::Binary { width }, Raw::Bytes(b)) => Kind::Bytes(padded(b, *width)?),
        (Family::Date, Raw::Date { y, m, d }) => date_kind(y, m, d),
        (Family::Time { .. }, Raw::Time(micros)) => time_kind(micros),
        (Family::DateTime { fsp }, Raw::DateTime(p)) => datetime_kind(p, *fsp),
        (Family::Timestamp { .. }, Raw::Timestamp { secs, micros }) => {
            if secs == 0 && micros == 0 {
                Kind::Timestamptz(Timestamp { seconds: 0, nanos: 0, special: Special::Zero as i32 })
            } else {
                Kind::Timestamptz(Timestamp { seconds: secs as i64, nanos: micros * 1000, special: 0 })
            }
        }
        (Family::Year { .. }, Raw::Year(y)) => Kind::Int64(i64::from(y)),
        (Family::Enum, Raw::Int(i)) => Kind::EnumLabel(enum_label(col, i)?),
        (Family::Set, Raw::Bytes(b)) => {
            if b.len() > 8 {
                return Err("a SET bitmask has at most 8 bytes".into());
            }
            let mut mask = 0u64;
            for (i, byte) in b.iter().enumerate() {
                mask |= u64::from(*byte) << (8 * i);
            }
            Kind::Set(set_labels_of(col, mask)?)
        }
        (Family::Json, Raw::Bytes(b)) => {
            Kind::Json(String::from_utf8(b.to_vec()).map_err(|_| "JSON text is not valid UTF-8")?)
        }
        (Family::Json, Raw::Json(s)) => Kind::Json(s),
        (Family::Geometry, Raw::Bytes(b)) => Kind::Bytes(Bytes::copy_from_slice(b)),
        (Family::Uuid, Raw::Bytes(b)) => Kind::Uuid(padded(b, Some(16))?),
        (Family::Inet6, Raw::Bytes(b)) => {
            let b = padded(b, Some(16))?;
            Kind::Other(Other { type_name: "inet6".into(), text: inet6_text(&b) })
        }
        (Family::Inet4, Raw::Bytes(b)) => {
            let b = padded(b, Some(4))?;
            Kind::Other(Other { type_name: "inet4".into(), text: format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]) })
        }
        (family, raw) => return Err(format!("a {raw:?} value does not fit a {family:?} column").into()),
    })
}

/// A binlog integer at its column's width: masked, then sign-extended for
/// signed columns (whatever signedness the parser assumed).
pub(super) fn int_kind(v: u64, bits: u32, unsigned: bool) -> Kind {
    let shift = 64 - bits;
    let masked = if bits == 64 { v } else { v & ((1u64 << bits) - 1) };
    if unsigned {
        Kind::Uint64(masked)
    } else {
        Kind::Int64(((masked << shift) as i64) >> shift)
    }
}

/// `binary(n)` bytes are logged without their trailing zeros: put them back.
pub(super) fn padded(b: &[u8], width: Option<usize>) -> Result<Bytes, Problem> {
    match width {
        Some(w) if b.len() < w => {
            let mut v = Vec::with_capacity(w);
            v.extend_from_slice(b);
            v.resize(w, 0);
            Ok(Bytes::from(v))
        }
        Some(w) if b.len() > w => Err(format!("{} bytes in a {w}-byte binary column", b.len()).into()),
        _ => Ok(Bytes::copy_from_slice(b)),
    }
}

pub(super) fn enum_label(col: &ColumnInfo, index: u64) -> Result<String, Problem> {
    if index == 0 {
        // The "invalid value" MySQL stores for a bad input in non-strict mode.
        return Ok(String::new());
    }
    let i = usize::try_from(index - 1).map_err(|_| "enum index out of range")?;
    labels(&col.column_type)
        .nth(i)
        .map(Cow::into_owned)
        .ok_or_else(|| Problem::Reason(format!("enum index {index} but the column has fewer labels")))
}

pub(super) fn set_labels_of(col: &ColumnInfo, mask: u64) -> Result<Labels, Problem> {
    let mut out = Vec::new();
    let mut seen = 0u32;
    for (i, label) in labels(&col.column_type).enumerate().take(64) {
        if mask & (1 << i) != 0 {
            out.push(label.into_owned());
        }
        seen += 1;
    }
    if seen < 64 && mask >> seen != 0 {
        return Err(format!("set bitmask {mask:#x} has bits beyond the column's {seen} labels").into());
    }
    Ok(Labels { labels: out })
}
