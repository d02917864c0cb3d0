//! What a column's `DATA_TYPE` and `COLUMN_TYPE` say: its [`Family`]
//! (the kind of value and how to read it), fractional-second digits, the
//! MariaDB 5.3 temporal marker and ENUM / SET labels.

use super::charset::Charset;
use super::ColumnInfo;
use std::borrow::Cow;

/// What a column holds, from information_schema: decided from a few string
/// comparisons, once per rows event (binlog) or per value (text).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Family {
    Int { bits: u32, unsigned: bool },
    Decimal,
    Float,
    Double,
    Bit,
    Text { charset: Charset, char_padded: bool },
    Binary { width: Option<usize> },
    Date,
    Time { fsp: u32 },
    DateTime { fsp: u32 },
    Timestamp { fsp: u32 },
    Year { two_digits: bool },
    Enum,
    Set,
    Json,
    Geometry,
    Uuid,
    Inet6,
    Inet4,
    Unknown,
}

impl Family {
    pub(super) fn of(col: &ColumnInfo) -> Family {
        if col.is_json {
            return Family::Json;
        }
        let binary_charset = col.charset.as_deref().is_some_and(|c| c.eq_ignore_ascii_case("binary"));
        match col.data_type.as_str() {
            "tinyint" => Family::Int { bits: 8, unsigned: col.unsigned() },
            "smallint" => Family::Int { bits: 16, unsigned: col.unsigned() },
            "mediumint" => Family::Int { bits: 24, unsigned: col.unsigned() },
            "int" | "integer" => Family::Int { bits: 32, unsigned: col.unsigned() },
            "bigint" => Family::Int { bits: 64, unsigned: col.unsigned() },
            "decimal" | "numeric" | "fixed" => Family::Decimal,
            "float" => Family::Float,
            "double" | "real" | "double precision" => Family::Double,
            "bit" => Family::Bit,
            "char" if binary_charset => Family::Binary { width: type_args(&col.column_type).and_then(first_number) },
            "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" if binary_charset => {
                Family::Binary { width: None }
            }
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => {
                Family::Text { charset: Charset::of(col.charset.as_deref()), char_padded: col.data_type == "char" }
            }
            "binary" => Family::Binary { width: type_args(&col.column_type).and_then(first_number) },
            "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "vector" => Family::Binary { width: None },
            "date" => Family::Date,
            "time" => Family::Time { fsp: fsp(&col.column_type) },
            "datetime" => Family::DateTime { fsp: fsp(&col.column_type) },
            "timestamp" => Family::Timestamp { fsp: fsp(&col.column_type) },
            "year" => Family::Year { two_digits: type_args(&col.column_type).and_then(first_number) == Some(2) },
            "enum" => Family::Enum,
            "set" => Family::Set,
            "json" => Family::Json,
            "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring" | "multipolygon"
            | "geometrycollection" | "geomcollection" => Family::Geometry,
            "uuid" => Family::Uuid,
            "inet6" => Family::Inet6,
            "inet4" => Family::Inet4,
            _ => Family::Unknown,
        }
    }
}

/// The text between the first `(` and its `)` of a COLUMN_TYPE, if any.
pub(super) fn type_args(column_type: &str) -> Option<&str> {
    let start = column_type.find('(')?;
    let end = column_type[start..].find(')')? + start;
    Some(&column_type[start + 1..end])
}

pub(super) fn first_number(args: &str) -> Option<usize> {
    args.split(',').next()?.trim().parse().ok()
}

/// Fractional-second digits of a temporal COLUMN_TYPE (`datetime(6)` → 6).
pub(super) fn fsp(column_type: &str) -> u32 {
    type_args(column_type).and_then(first_number).map_or(0, |n| n.min(6) as u32)
}

/// True for MariaDB's pre-10.1 temporal formats (`/* mariadb-5.3 */`).
pub(super) fn is_mariadb53(column_type: &str) -> bool {
    column_type.contains("mariadb-5.3")
}

/// The quoted labels of `enum(...)` / `set(...)`, unescaped, borrowed when
/// a label has no escapes (the common case: no allocation per label).
pub(super) fn labels(column_type: &str) -> impl Iterator<Item = Cow<'_, str>> {
    let list = column_type.find('(').map_or("", |i| &column_type[i + 1..]);
    LabelIter { rest: list }
}

pub(super) struct LabelIter<'a> {
    pub(super) rest: &'a str,
}

impl<'a> Iterator for LabelIter<'a> {
    type Item = Cow<'a, str>;

    fn next(&mut self) -> Option<Cow<'a, str>> {
        let start = self.rest.find('\'')? + 1;
        let body = &self.rest[start..];
        let bytes = body.as_bytes();
        let mut i = 0;
        let mut owned: Option<String> = None;
        let mut plain_from = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\'' if bytes.get(i + 1) == Some(&b'\'') => {
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(&body[plain_from..i]);
                    s.push('\'');
                    i += 2;
                    plain_from = i;
                }
                b'\'' => break,
                b'\\' if i + 1 < bytes.len() => {
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(&body[plain_from..i]);
                    let esc = body[i + 1..].chars().next().expect("not at the end");
                    s.push(match esc {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'b' => '\u{8}',
                        '0' => '\0',
                        'Z' => '\u{1a}',
                        c => c,
                    });
                    i += 1 + esc.len_utf8();
                    plain_from = i;
                }
                _ => i += 1,
            }
        }
        let end = i.min(bytes.len());
        self.rest = body.get(end + 1..).unwrap_or("");
        Some(match owned {
            Some(mut s) => {
                s.push_str(&body[plain_from..end]);
                Cow::Owned(s)
            }
            None => Cow::Borrowed(&body[..end]),
        })
    }
}
