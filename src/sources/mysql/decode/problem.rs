//! Why a value could not be decoded ([`Problem`]) and the short excerpts
//! of the value that every [`DecodeError`] shows.

use super::{ColumnInfo, DecodeError, ERROR_EXCERPT_LIMIT};
use mysql_async::binlog::value::BinlogValue;
use mysql_async::Value as MyValue;
use std::fmt::Write as _;

/// Why a value could not be converted; the caller adds table, column and
/// an excerpt of the value.
#[derive(Debug)]
pub(super) enum Problem {
    Reason(String),
    Charset(String),
    PartialJson,
}

impl From<&str> for Problem {
    fn from(s: &str) -> Problem {
        Problem::Reason(s.to_string())
    }
}

impl From<String> for Problem {
    fn from(s: String) -> Problem {
        Problem::Reason(s)
    }
}

impl Problem {
    pub(super) fn into_error(self, table: &str, col: &ColumnInfo, excerpt: impl FnOnce() -> String) -> DecodeError {
        match self {
            Problem::Reason(reason) => DecodeError::Value {
                table: table.to_string(),
                column: col.name.clone(),
                column_type: col.column_type.clone(),
                excerpt: excerpt(),
                reason,
            },
            Problem::Charset(charset) => DecodeError::Charset {
                table: table.to_string(),
                column: col.name.clone(),
                column_type: col.column_type.clone(),
                charset,
            },
            Problem::PartialJson => DecodeError::PartialJson { table: table.to_string(), column: col.name.clone() },
        }
    }
}

pub(super) fn cut(s: &str) -> String {
    match s.char_indices().nth(ERROR_EXCERPT_LIMIT) {
        Some((end, _)) => format!("{:?}…", &s[..end]),
        None => format!("{s:?}"),
    }
}

pub(super) fn excerpt_text(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => cut(s),
        Err(_) => excerpt_bytes(b),
    }
}

pub(super) fn excerpt_bytes(b: &[u8]) -> String {
    let shown = &b[..b.len().min(ERROR_EXCERPT_LIMIT / 2)];
    let mut s = String::from("0x");
    for x in shown {
        let _ = write!(s, "{x:02x}");
    }
    if shown.len() < b.len() {
        s.push('…');
    }
    s
}

pub(super) fn excerpt_binlog_value(v: &BinlogValue<'_>) -> String {
    // Not mysql_common's Debug: it overflows on some Time values.
    match v {
        BinlogValue::Value(MyValue::Bytes(b)) => excerpt_text(b),
        BinlogValue::Value(MyValue::NULL) => "NULL".into(),
        BinlogValue::Value(MyValue::Int(x)) => x.to_string(),
        BinlogValue::Value(MyValue::UInt(x)) => x.to_string(),
        BinlogValue::Value(MyValue::Float(x)) => format!("{x:e}"),
        BinlogValue::Value(MyValue::Double(x)) => format!("{x:e}"),
        BinlogValue::Value(MyValue::Date(y, m, d, h, mi, s, us)) => {
            format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
        }
        BinlogValue::Value(MyValue::Time(neg, d, h, m, s, us)) => {
            format!("{}{d}d {h:02}:{m:02}:{s:02}.{us:06}", if *neg { "-" } else { "" })
        }
        BinlogValue::Jsonb(_) => "binary JSON".into(),
        BinlogValue::JsonDiff(_) => "partial JSON".into(),
    }
}
