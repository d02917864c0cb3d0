//! The rows-event reader: a bounds-checked cursor over the event bytes,
//! one row image at a time, and each binlog type's storage layout.

use super::column_type::{is_mariadb53, Family};
use super::convert::{from_raw, Raw};
use super::decimal::{decimal_bin_size, decimal_text};
use super::json::render_jsonb;
use super::problem::{excerpt_bytes, Problem};
use super::temporal::{
    datetime2, frac_bytes, frac_micros, hires_fsp, time2, DateTimeParts, DATETIME_HIRES_BYTES, TIME_HIRES_BYTES,
};
use super::{ColumnInfo, DecodeError, RowImage};
use crate::record::Value;
use mysql_async::consts::ColumnType;

/// A bounds-checked reader over event bytes.
pub(super) struct Cursor<'a> {
    pub(super) buf: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| format!("needs {n} more byte(s) at offset {} of {}", self.pos, self.buf.len()))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(super) fn le(&mut self, n: usize) -> Result<u64, String> {
        Ok(self.take(n)?.iter().rev().fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
    }

    pub(super) fn be(&mut self, n: usize) -> Result<u64, String> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
    }

    /// A length-encoded integer (MySQL protocol).
    pub(super) fn lenenc(&mut self) -> Result<u64, String> {
        match self.take(1)?[0] {
            x @ 0..=0xfa => Ok(u64::from(x)),
            0xfc => self.le(2),
            0xfd => self.le(3),
            0xfe => self.le(8),
            x => Err(format!("bad length-encoded integer prefix {x:#x}")),
        }
    }
}

pub(super) struct ImageCtx<'c> {
    pub(super) cols: &'c [ColumnInfo],
    pub(super) families: &'c [Family],
    pub(super) layout: &'c [(ColumnType, &'c [u8])],
    pub(super) table: &'c str,
}

impl ImageCtx<'_> {
    /// One row image: [shared image (partial updates)], NULL bitmap, the
    /// non-NULL values. Every column is present (checked by the caller).
    pub(super) fn read_image(
        &self,
        cur: &mut Cursor<'_>,
        partial_json_columns: Option<usize>,
    ) -> Result<RowImage, DecodeError> {
        let malformed = |reason: String| DecodeError::Malformed { table: self.table.to_string(), reason };
        let n = self.cols.len();
        let mut partial = Vec::new();
        if let Some(json_columns) = partial_json_columns {
            let options = cur.lenenc().map_err(malformed)?;
            if options & 1 != 0 {
                let bits = cur.take(json_columns.div_ceil(8)).map_err(malformed)?;
                partial = (0..json_columns).map(|i| bits[i / 8] >> (i % 8) & 1 == 1).collect();
            }
        }
        let nulls = cur.take(n.div_ceil(8)).map_err(malformed)?;
        let mut out = Vec::with_capacity(n);
        let mut json_index = 0;
        for i in 0..n {
            let (ct, meta) = self.layout[i];
            let col = &self.cols[i];
            let family = &self.families[i];
            let is_partial = if ct == ColumnType::MYSQL_TYPE_JSON {
                json_index += 1;
                partial.get(json_index - 1).copied().unwrap_or(false)
            } else {
                false
            };
            let value = if nulls[i / 8] >> (i % 8) & 1 == 1 {
                Value::null()
            } else {
                let start = cur.pos;
                let raw = read_value(cur, ct, meta, col, family, is_partial).map_err(|e| match e {
                    ReadError::Short(reason) => malformed(format!("column {}: {reason}", col.name)),
                    ReadError::Value(p) => p.into_error(self.table, col, || excerpt_bytes(&cur.buf[start..cur.pos])),
                })?;
                let kind = from_raw(raw, col, family)
                    .map_err(|p| p.into_error(self.table, col, || excerpt_bytes(&cur.buf[start..cur.pos])))?;
                Value::of(kind)
            };
            out.push((col.name.clone(), value));
        }
        Ok(out)
    }
}

pub(super) enum ReadError {
    /// The bytes end before the value does.
    Short(String),
    /// The bytes are there but do not make a value.
    Value(Problem),
}

impl From<String> for ReadError {
    fn from(s: String) -> Self {
        ReadError::Short(s)
    }
}

impl From<&str> for ReadError {
    fn from(s: &str) -> Self {
        ReadError::Value(Problem::from(s))
    }
}

impl From<Problem> for ReadError {
    fn from(p: Problem) -> Self {
        ReadError::Value(p)
    }
}

/// Reads one non-NULL value of binlog type `ct` (layout from `meta`).
pub(super) fn read_value<'a>(
    cur: &mut Cursor<'a>,
    ct: ColumnType,
    meta: &[u8],
    col: &ColumnInfo,
    family: &Family,
    is_partial: bool,
) -> Result<Raw<'a>, ReadError> {
    use ColumnType::*;
    let meta_fsp = || u32::from(meta[0]).min(6);
    Ok(match ct {
        MYSQL_TYPE_TINY => Raw::Int(cur.le(1)?),
        MYSQL_TYPE_SHORT => Raw::Int(cur.le(2)?),
        MYSQL_TYPE_INT24 => Raw::Int(cur.le(3)?),
        MYSQL_TYPE_LONG => Raw::Int(cur.le(4)?),
        MYSQL_TYPE_LONGLONG => Raw::Int(cur.le(8)?),
        MYSQL_TYPE_FLOAT => Raw::Float(f32::from_bits(cur.le(4)? as u32)),
        MYSQL_TYPE_DOUBLE => Raw::Double(f64::from_bits(cur.le(8)?)),
        MYSQL_TYPE_NEWDECIMAL => {
            let (precision, scale) = (usize::from(meta[0]), usize::from(meta[1]));
            let size = decimal_bin_size(precision, scale).ok_or("bad DECIMAL precision/scale in the table map")?;
            Raw::Decimal(decimal_text(cur.take(size)?, precision, scale)?)
        }
        MYSQL_TYPE_YEAR => {
            let y = cur.le(1)? as u32;
            Raw::Year(if y == 0 { 0 } else { 1900 + y })
        }
        MYSQL_TYPE_NEWDATE | MYSQL_TYPE_DATE => {
            let v = cur.le(3)? as u32;
            Raw::Date { y: v >> 9, m: (v >> 5) & 15, d: v & 31 }
        }
        MYSQL_TYPE_TIME if is_mariadb53(&col.column_type) && hires_fsp(family) > 0 => {
            // MariaDB 5.3 TIME(n): big-endian (micros / 10^(6-n)) shifted by
            // (838:59:59 + 1 s) in the same unit.
            let n = hires_fsp(family);
            let scale = 10i64.pow(6 - n);
            let v = cur.be(TIME_HIRES_BYTES[n as usize])? as i64;
            let zero = 3_020_400_000_000 / scale;
            let micros = (v - zero).checked_mul(scale).filter(|m| m.abs() < 3_020_400_000_000).ok_or("bad TIME")?;
            Raw::Time(micros)
        }
        MYSQL_TYPE_TIME => {
            // Pre-5.6 TIME: signed 24-bit HHMMSS.
            let v = cur.le(3)? as i64;
            let v = (v << 40) >> 40;
            let a = v.unsigned_abs() as i64;
            let (h, m, s) = (a / 10_000, a / 100 % 100, a % 100);
            if m > 59 || s > 59 {
                return Err("bad pre-5.6 TIME value".into());
            }
            let micros = (h * 3600 + m * 60 + s) * 1_000_000;
            Raw::Time(if v < 0 { -micros } else { micros })
        }
        MYSQL_TYPE_TIME2 => Raw::Time(time2(cur, meta_fsp())?),
        MYSQL_TYPE_DATETIME if is_mariadb53(&col.column_type) && hires_fsp(family) > 0 => {
            // MariaDB 5.3 DATETIME(n): big-endian packed
            // ((((((Y*13+M)*32+D)*24+h)*60+m)*60+s)*10^6+µs) / 10^(6-n).
            let n = hires_fsp(family);
            let scale = 10u64.pow(6 - n);
            let v = cur.be(DATETIME_HIRES_BYTES[n as usize])?.checked_mul(scale).ok_or("bad DATETIME")?;
            let (micros, rest) = ((v % 1_000_000) as u32, v / 1_000_000);
            let (s, rest) = ((rest % 60) as u32, rest / 60);
            let (mi, rest) = ((rest % 60) as u32, rest / 60);
            let (h, rest) = ((rest % 24) as u32, rest / 24);
            let (d, rest) = ((rest % 32) as u32, rest / 32);
            let (m, y) = ((rest % 13) as u32, u32::try_from(rest / 13).map_err(|_| "bad DATETIME")?);
            Raw::DateTime(DateTimeParts { y, m, d, h, mi, s, micros })
        }
        MYSQL_TYPE_DATETIME => {
            // Pre-5.6 DATETIME: YYYYMMDDhhmmss as a little-endian u64.
            let v = cur.le(8)?;
            let (date, time) = (v / 1_000_000, v % 1_000_000);
            Raw::DateTime(DateTimeParts {
                y: u32::try_from(date / 10_000).map_err(|_| "bad DATETIME")?,
                m: (date / 100 % 100) as u32,
                d: (date % 100) as u32,
                h: (time / 10_000) as u32,
                mi: (time / 100 % 100) as u32,
                s: (time % 100) as u32,
                micros: 0,
            })
        }
        MYSQL_TYPE_DATETIME2 => Raw::DateTime(datetime2(cur, meta_fsp())?),
        MYSQL_TYPE_TIMESTAMP if is_mariadb53(&col.column_type) && hires_fsp(family) > 0 => {
            // MariaDB 5.3 TIMESTAMP(n): big-endian seconds, then big-endian
            // micros / 10^(6-n).
            let n = hires_fsp(family);
            let secs = cur.be(4)?;
            let frac = cur.be(frac_bytes(n))? as u32 * 10u32.pow(6 - n);
            if frac > 999_999 {
                return Err("bad TIMESTAMP fraction".into());
            }
            Raw::Timestamp { secs, micros: frac }
        }
        MYSQL_TYPE_TIMESTAMP => Raw::Timestamp { secs: cur.le(4)?, micros: 0 },
        MYSQL_TYPE_TIMESTAMP2 => {
            let secs = cur.be(4)?;
            let micros = frac_micros(cur, meta_fsp())?;
            Raw::Timestamp { secs, micros }
        }
        MYSQL_TYPE_BIT => {
            let bits = usize::from(meta[1]) * 8 + usize::from(meta[0]);
            Raw::Bytes(cur.take(bits.div_ceil(8))?)
        }
        MYSQL_TYPE_ENUM => match meta[1] {
            1 | 2 => Raw::Int(cur.le(usize::from(meta[1]))?),
            x => return Err(format!("ENUM of {x} bytes").as_str().into()),
        },
        MYSQL_TYPE_SET => match meta[1] {
            1..=8 => Raw::Bytes(cur.take(usize::from(meta[1]))?),
            x => return Err(format!("SET of {x} bytes").as_str().into()),
        },
        MYSQL_TYPE_STRING => {
            // CHAR / BINARY: the maximum byte length decides the length
            // prefix; lengths above 255 borrow two bits of the type byte.
            let (b0, b1) = (usize::from(meta[0]), usize::from(meta[1]));
            let max = if b0 & 0x30 != 0x30 { b1 | (((b0 & 0x30) ^ 0x30) << 4) } else { b1 };
            let len = if max < 256 { cur.le(1)? } else { cur.le(2)? };
            Raw::Bytes(cur.take(len as usize)?)
        }
        MYSQL_TYPE_VARCHAR | MYSQL_TYPE_VAR_STRING => {
            let max = usize::from(meta[0]) | usize::from(meta[1]) << 8;
            let len = if max < 256 { cur.le(1)? } else { cur.le(2)? };
            Raw::Bytes(cur.take(len as usize)?)
        }
        MYSQL_TYPE_BLOB
        | MYSQL_TYPE_TINY_BLOB
        | MYSQL_TYPE_MEDIUM_BLOB
        | MYSQL_TYPE_LONG_BLOB
        | MYSQL_TYPE_GEOMETRY
        | MYSQL_TYPE_VECTOR => match meta[0] {
            1..=4 => {
                let len = cur.le(usize::from(meta[0]))?;
                Raw::Bytes(cur.take(usize::try_from(len).map_err(|_| "length out of range")?)?)
            }
            x => return Err(format!("blob length prefix of {x} bytes").as_str().into()),
        },
        MYSQL_TYPE_JSON => {
            let width = match meta[0] {
                1..=4 => usize::from(meta[0]),
                x => return Err(format!("JSON length prefix of {x} bytes").as_str().into()),
            };
            let len = cur.le(width)?;
            let doc = cur.take(usize::try_from(len).map_err(|_| "length out of range")?)?;
            if is_partial {
                return Err(ReadError::Value(Problem::PartialJson));
            }
            let mut out = String::new();
            render_jsonb(doc, &mut out).map_err(Problem::from)?;
            Raw::Json(out)
        }
        other => return Err(format!("binlog type {other:?} is not supported").as_str().into()),
    })
}
