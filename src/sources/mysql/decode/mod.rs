//! MySQL / MariaDB values to canonical values, exactly and identically
//! from both places a value is read.
//!
//! The source reads every row twice over its life: the initial snapshot
//! reads it with a text-protocol `SELECT` ([`text_value`]), the stream reads
//! its changes from the row-based binlog ([`event_rows`], or [`row_values`]
//! on a row mysql_common already parsed). Both must give the *same*
//! canonical value, or a target would see a row change when nothing
//! changed. The unit tests hold real bytes captured from MariaDB 10.11
//! (`testdata/`, see its README) and assert, cell by cell, that the binlog
//! and the `SELECT` of the same rows decode to the same values.
//!
//! # Mapping
//!
//! | `DATA_TYPE` | canonical kind | binlog | `SELECT` text |
//! |---|---|---|---|
//! | `tinyint`, `smallint`, `mediumint`, `int`, `bigint` | `Int64`; `Uint64` when `unsigned` (or `zerofill`) | little-endian bits of the column's width, reinterpreted with the signedness of `COLUMN_TYPE` | digits (zerofill padding accepted) |
//! | `decimal` | `Decimal`: sign, integer digits, `.` and exactly *scale* digits (`"1.50"`, `"-0.01"`, `"0.00"`) | MySQL's binary decimal, decoded here | as is |
//! | `float` / `double` | `Float32` / `Float64` | IEEE bits | see *FLOAT* below |
//! | `bit(n)` | `Bytes`, big-endian, ⌈n/8⌉ bytes | as is | as is |
//! | `char`, `varchar`, `*text` | `Text` (UTF-8); `char` loses trailing spaces | bytes in the column charset, converted (below) | UTF-8 (`SET NAMES utf8mb4`) |
//! | `binary(n)`, `varbinary`, `*blob`, charset `binary` | `Bytes`; `binary(n)` is always *n* bytes | trailing `0x00` of `binary(n)` are not logged: padded back | as is |
//! | `date` | `Date`; `0000-00-00` → `SPECIAL_ZERO`; zero or impossible parts (`2024-00-15`) → `Other{"date", text}` | 3 bytes | `YYYY-MM-DD` |
//! | `time(fsp)` | `Time{micros}`, negative and beyond 24 h (`-838:59:59.999999` … `838:59:59.999999`) | TIME2 (or the pre-5.6 / MariaDB 5.3 formats) | `[-]HHH:MM:SS[.f]` |
//! | `datetime(fsp)` | `Timestamp` (wall clock); all-zero → `SPECIAL_ZERO`; zero or impossible parts → `Other{"datetime", text}` with *fsp* digits | DATETIME2 (or legacy) | `YYYY-MM-DD HH:MM:SS[.f]` |
//! | `timestamp(fsp)` | `Timestamptz` (UTC instant); `0000-00-00 00:00:00` (stored as 0) → `SPECIAL_ZERO` | seconds since the epoch | session time zone: the snapshot sets `+00:00` |
//! | `year` | `Int64` (`0` for `0000`) | one byte, year − 1900 | `YYYY` |
//! | `enum` | `EnumLabel`; the invalid-value index 0 → `""` | 1-based index into the labels of `COLUMN_TYPE` | the label |
//! | `set` | `Set`: labels in definition order | bitmask | `a,b` |
//! | `json` (MySQL), MariaDB `longtext` + `json_valid()` check | `Json` | MariaDB: the text as stored; MySQL: binary JSON printed as MySQL prints it | as is |
//! | `geometry`, `point`, … | `Bytes`: 4-byte little-endian SRID + WKB, as stored | as is | as is |
//! | MariaDB `uuid` | `Uuid` (16 bytes) | 16 bytes in text order (MariaDB 10.11 logs them so; see the fixture) | `xxxxxxxx-xxxx-…` |
//! | MariaDB `inet6` / `inet4` | `Other{"inet6"/"inet4", text}` with the server's text form (`::ffff:1.2.3.4`, and MySQL's `INET6_NTOA` rules, which compress even a single zero group) | 16 / 4 bytes | as is |
//! | anything else | text: `Other{DATA_TYPE, text}`; binlog: an error naming the type | | |
//!
//! `NULL` is [`Value::null`]. Every value error names the table, the column
//! and its type, and shows a short excerpt of the value.
//!
//! # What the server does that this module undoes
//!
//! - **Signedness.** The table map says `TINY`..`LONGLONG`, not whether the
//!   column is unsigned: that is only in the *optional* table-map metadata,
//!   which MariaDB sends only with `binlog_row_metadata = FULL` (MySQL 8 by
//!   default). Signedness therefore comes from [`ColumnInfo`] and the bits
//!   are reinterpreted at the column's width, whatever signedness the
//!   parser assumed. mysql_common reads a signed MEDIUMINT without sign
//!   extension (`-1` arrives as `16777215`): the 24 bits are sign-extended
//!   here.
//! - **Padding.** `CHAR` is logged (and selected) without trailing spaces;
//!   `BINARY(n)` (and `uuid`, `inet6`, `inet4`, which are binary columns
//!   inside) is logged without trailing `0x00` but selected with them.
//! - **latin1** is Windows-1252 in MySQL, except that the five bytes 1252
//!   leaves undefined (`0x81 0x8D 0x8F 0x90 0x9D`) map to the C1 controls
//!   `U+0081`…; that is the table the server uses to convert for `SELECT`.
//!   `utf16`, `utf16le`, `ucs2` and `utf32` are converted too; any other
//!   character set is refused (by both paths, so it shows at snapshot time),
//!   naming the charset and the fix.
//! - **FLOAT** is printed by `SELECT` with 6 significant digits
//!   (`3.40282e38`), which does not give back the stored bits. The snapshot
//!   should select [`ColumnInfo::select_expr`] (`CAST(f AS DOUBLE)`, printed
//!   exactly); `text_value` reads both forms, but only the cast one agrees
//!   with the binlog for floats with more than 6 significant digits.
//! - **MySQL JSON** is binary in the binlog. It is printed here the way
//!   MySQL prints JSON (`{"a": 1, "b": [true, null]}`: keys in MySQL's
//!   storage order, which is also its output order, `", "` and `": "`
//!   separators, doubles in `my_gcvt` form with `.0` on integral values,
//!   dates and times as strings), so it matches what MySQL's `SELECT`
//!   returns. MySQL normalises JSON on input anyway; byte-exact JSON is a
//!   MariaDB property (it stores the text). A partial JSON update
//!   (`binlog_row_value_options = PARTIAL_JSON`) is refused.
//!
//! # Two ways in from the binlog
//!
//! [`event_rows`] parses a rows event's bytes itself, with the table map
//! for the layout and [`ColumnInfo`] for what the bytes mean. Prefer it:
//! mysql_common's own row parser (behind `RowsEventData::rows`, whose rows
//! [`row_values`] converts) panics in debug builds (and returns garbage in
//! release builds) on a negative `TIME(1)`/`TIME(2)` value with a fraction,
//! reads pre-5.6 `TIME` unsigned and truncated to 255 hours, and cannot
//! read MariaDB 5.3 high-resolution temporal columns at all (it loses its
//! place in the row). [`row_values`] refuses those columns rather than
//! return wrong values.
//!
//! Both require full row images (`binlog_row_image = FULL`): a column
//! missing from an image is an error that says so, never a silently absent
//! value.

mod charset;
mod column_type;
mod convert;
mod decimal;
mod json;
mod problem;
mod rows;
mod temporal;
mod text;

use crate::record::Value;
use column_type::{labels, Family};
use convert::{check_layout, from_raw, raw_from_binlog_value};
use mysql_async::binlog::events::{RowsEventData, TableMapEvent};
use mysql_async::binlog::row::BinlogRow;
use mysql_async::consts::ColumnType;
use problem::{excerpt_binlog_value, excerpt_text};
use rows::{Cursor, ImageCtx};
use std::borrow::Cow;
use text::from_text;

/// A column as information_schema.COLUMNS describes it (the source fills this).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnInfo {
    /// COLUMN_NAME.
    pub name: String,
    /// DATA_TYPE, lowercase: "int", "bigint", "decimal", "enum", "set", "json", "longtext", "datetime", ...
    pub data_type: String,
    /// COLUMN_TYPE, e.g. "int(10) unsigned", "enum('a','b''c')", "decimal(10,2)", "datetime(6)".
    /// Keywords are matched in any case, but ENUM / SET labels are taken
    /// verbatim: read COLUMN_TYPE without lowercasing it, or `'Ünï'`
    /// becomes `'ünï'`.
    pub column_type: String,
    /// CHARACTER_SET_NAME (None for non-text columns), e.g. "utf8mb4", "latin1", "binary".
    pub charset: Option<String>,
    /// True for JSON columns (MySQL `json`; MariaDB `longtext` with a json_valid CHECK — the source detects it).
    pub is_json: bool,
}

impl ColumnInfo {
    /// True for `unsigned` (and `zerofill`, which implies it) numeric columns.
    pub fn unsigned(&self) -> bool {
        if matches!(self.data_type.as_str(), "enum" | "set") {
            return false;
        }
        self.column_type
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .any(|w| w.eq_ignore_ascii_case("unsigned") || w.eq_ignore_ascii_case("zerofill"))
    }

    /// The labels of an `enum(...)` column, in definition order, unescaped
    /// (`''` → `'`, `\\` → `\`, `\n` → newline). Empty for other columns.
    pub fn enum_labels(&self) -> Vec<String> {
        if self.data_type != "enum" {
            return Vec::new();
        }
        labels(&self.column_type).map(Cow::into_owned).collect()
    }

    /// The labels of a `set(...)` column, in definition order (bit order).
    pub fn set_labels(&self) -> Vec<String> {
        if self.data_type != "set" {
            return Vec::new();
        }
        labels(&self.column_type).map(Cow::into_owned).collect()
    }

    /// The canonical schema type string the source puts in
    /// `ColumnSchema.source_type`: `column_type`, but "json" for JSON columns.
    pub fn source_type(&self) -> String {
        if self.is_json {
            "json".to_string()
        } else {
            self.column_type.clone()
        }
    }

    /// The expression the snapshot should select for this column so that
    /// [`text_value`] gets the exact value: the quoted name, except FLOAT,
    /// which `SELECT` prints with 6 significant digits; as a DOUBLE it is
    /// printed exactly (every float is a double).
    pub fn select_expr(&self) -> String {
        let quoted = format!("`{}`", self.name.replace('`', "``"));
        if self.data_type == "float" {
            format!("CAST({quoted} AS DOUBLE)")
        } else {
            quoted
        }
    }
}

/// One row image: (column name, value) in table order.
pub type RowImage = Vec<(String, Value)>;

/// One row of a rows event: the before image (UPDATE, DELETE) and the
/// after image (INSERT, UPDATE).
pub type RowChange = (Option<RowImage>, Option<RowImage>);

/// How many characters of a bad value an error shows.
pub const ERROR_EXCERPT_LIMIT: usize = 64;

/// Why a row or value could not be decoded. Every variant names the table;
/// the value variants name the column and its type. The value's excerpt is
/// kept in the error but never printed: errors and logs carry no row data.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// A value that is not valid for its column type.
    #[error("{table}.{column} ({column_type}): cannot decode a value: {reason}")]
    Value {
        /// `database.table` as the caller named it.
        table: String,
        /// Column name.
        column: String,
        /// COLUMN_TYPE.
        column_type: String,
        /// The value (text, or hex for bytes), cut to [`ERROR_EXCERPT_LIMIT`].
        excerpt: String,
        /// What is wrong.
        reason: String,
    },
    /// A text column in a character set logferry does not convert.
    #[error(
        "{table}.{column} ({column_type}): character set `{charset}` is not supported (logferry converts utf8mb4, \
         utf8mb3, ascii, latin1, utf16, utf16le, ucs2, utf32 and binary); convert the column, e.g. \
         ALTER TABLE {table} MODIFY `{column}` {column_type} CHARACTER SET utf8mb4, or leave it out"
    )]
    Charset {
        /// `database.table`.
        table: String,
        /// Column name.
        column: String,
        /// COLUMN_TYPE.
        column_type: String,
        /// CHARACTER_SET_NAME.
        charset: String,
    },
    /// A row image without some columns: the server logs partial images.
    #[error(
        "{table}: the binlog row image has no value for column(s) {missing}: the server logs partial row images \
         (binlog_row_image = MINIMAL or NOBLOB). logferry needs whole rows: SET GLOBAL binlog_row_image = 'FULL'; \
         and binlog_row_image = FULL in the server configuration"
    )]
    PartialImage {
        /// `database.table`.
        table: String,
        /// The missing column names, comma-separated.
        missing: String,
    },
    /// A MySQL partial JSON update (only the changed paths are logged).
    #[error(
        "{table}.{column}: the binlog holds a partial JSON update, not the whole value. logferry needs whole values: \
         SET GLOBAL binlog_row_value_options = ''; and in the server configuration"
    )]
    PartialJson {
        /// `database.table`.
        table: String,
        /// Column name.
        column: String,
    },
    /// The binlog's table layout does not match the columns read from
    /// information_schema (the table changed since they were read).
    #[error("{table}: {reason}")]
    Schema {
        /// `database.table`.
        table: String,
        /// What does not match, and what to do.
        reason: String,
    },
    /// A rows event whose bytes cannot be parsed.
    #[error("{table}: malformed rows event: {reason}")]
    Malformed {
        /// `database.table`.
        table: String,
        /// What is wrong.
        reason: String,
    },
}

/// Converts one value of a plain text-protocol `SELECT` (the snapshot) to
/// its canonical value. `None` is SQL NULL. The session must have
/// `SET NAMES utf8mb4` (text arrives as UTF-8) and `SET time_zone =
/// '+00:00'` (TIMESTAMP text is UTC); select [`ColumnInfo::select_expr`].
pub fn text_value(text: Option<&[u8]>, col: &ColumnInfo, table: &str) -> Result<Value, DecodeError> {
    let Some(text) = text else {
        return Ok(Value::null());
    };
    let family = Family::of(col);
    from_text(text, col, &family).map(Value::of).map_err(|e| e.into_error(table, col, || excerpt_text(text)))
}

/// Converts one binlog row image, as mysql_common parsed it, column by
/// column. The row must hold every column of `cols` (full row image; a
/// row with fewer columns is reported as a partial image, although a table
/// map older than `cols` looks the same here). Prefer [`event_rows`],
/// which tells the two apart and also reads the columns mysql_common
/// misreads (see the module docs).
pub fn row_values(row: &BinlogRow, cols: &[ColumnInfo], table: &str) -> Result<RowImage, DecodeError> {
    let columns = row.columns_ref();
    // Where each table column sits in the row: the row holds only the
    // columns of the image, named `@<index>` (or by name when the table map
    // carries the optional column names).
    let mut slot: Vec<Option<usize>> = vec![None; cols.len()];
    for (j, c) in columns.iter().enumerate() {
        let name = c.name_str();
        let idx = match name.strip_prefix('@').and_then(|n| n.parse::<usize>().ok()) {
            Some(i) => Some(i),
            None => cols.iter().position(|col| col.name == name),
        };
        match idx {
            Some(i) if i < cols.len() => slot[i] = Some(j),
            _ => {
                return Err(DecodeError::Schema {
                    table: table.to_string(),
                    reason: format!(
                        "the binlog row has column {name} that the {} column(s) read from information_schema \
                         do not have: the table changed; its columns must be read again",
                        cols.len()
                    ),
                })
            }
        }
    }
    let missing: Vec<&str> =
        cols.iter().zip(&slot).filter(|(_, s)| s.is_none()).map(|(c, _)| c.name.as_str()).collect();
    if !missing.is_empty() {
        return Err(DecodeError::PartialImage { table: table.to_string(), missing: missing.join(", ") });
    }
    let mut out = Vec::with_capacity(cols.len());
    for (col, j) in cols.iter().zip(slot) {
        let j = j.expect("checked above");
        let ct = columns[j].column_type();
        let family = Family::of(col);
        check_layout(ct, None, col, &family, table)?;
        let Some(v) = row.as_ref(j) else {
            return Err(DecodeError::PartialImage { table: table.to_string(), missing: col.name.clone() });
        };
        let kind = raw_from_binlog_value(ct, v, col, &family)
            .and_then(|raw| from_raw(raw, col, &family))
            .map_err(|e| e.into_error(table, col, || excerpt_binlog_value(v)))?;
        out.push((col.name.clone(), Value::of(kind)));
    }
    Ok(out)
}

/// Parses and converts every row of a rows event (WRITE / UPDATE / DELETE,
/// v1 or v2, and MySQL's PARTIAL_UPDATE), with `tme` the table map event
/// the rows event refers to and `cols` the table's columns in table order.
pub fn event_rows(
    event: &RowsEventData<'_>,
    tme: &TableMapEvent<'_>,
    cols: &[ColumnInfo],
    table: &str,
) -> Result<Vec<RowChange>, DecodeError> {
    let malformed = |reason: String| DecodeError::Malformed { table: table.to_string(), reason };
    let n = usize::try_from(event.num_columns()).map_err(|_| malformed("column count out of range".into()))?;
    if event.num_columns() != tme.columns_count() {
        return Err(malformed(format!("the rows event has {n} columns but its table map has {}", tme.columns_count())));
    }
    if n == 0 {
        // Every image would be empty: nothing to read, and no progress.
        return Err(malformed("the rows event has no columns".into()));
    }
    if n != cols.len() {
        return Err(DecodeError::Schema {
            table: table.to_string(),
            reason: format!(
                "the binlog has {n} column(s) but information_schema listed {}: the table changed after its columns \
                 were read; they must be read again",
                cols.len()
            ),
        });
    }
    let families: Vec<Family> = cols.iter().map(Family::of).collect();
    let mut layout = Vec::with_capacity(n);
    for (i, (col, family)) in cols.iter().zip(&families).enumerate() {
        let ct = match tme.get_column_type(i) {
            Ok(Some(ct)) => ct,
            Ok(None) => return Err(malformed(format!("the table map has no type for column {i}"))),
            Err(e) => return Err(malformed(format!("column {i}: {e}"))),
        };
        let meta = tme.get_column_metadata(i).ok_or_else(|| malformed(format!("no metadata for column {i}")))?;
        check_layout(ct, Some(meta), col, family, table)?;
        layout.push((ct, meta));
    }
    let before = event.columns_before_image().map(|bits| (0..n).map(|i| bits[i]).collect::<Vec<bool>>());
    let after = event.columns_after_image().map(|bits| (0..n).map(|i| bits[i]).collect::<Vec<bool>>());
    for present in before.iter().chain(after.iter()) {
        let missing: Vec<&str> = cols.iter().zip(present).filter(|(_, p)| !**p).map(|(c, _)| c.name.as_str()).collect();
        if !missing.is_empty() {
            return Err(DecodeError::PartialImage { table: table.to_string(), missing: missing.join(", ") });
        }
    }
    let partial = matches!(event, RowsEventData::PartialUpdateRowsEvent(_));
    let json_columns = layout.iter().filter(|(ct, _)| *ct == ColumnType::MYSQL_TYPE_JSON).count();
    let ctx = ImageCtx { cols, families: &families, layout: &layout, table };
    let mut cur = Cursor::new(event.rows_data());
    let mut rows = Vec::new();
    while !cur.is_empty() {
        let b = match before {
            Some(_) => Some(ctx.read_image(&mut cur, None)?),
            None => None,
        };
        let a = match after {
            Some(_) => Some(ctx.read_image(&mut cur, partial.then_some(json_columns))?),
            None => None,
        };
        if b.is_none() && a.is_none() {
            return Err(malformed("the event has neither a before nor an after image".into()));
        }
        rows.push((b, a));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests;
