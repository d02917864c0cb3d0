//! The canonical JSON form of a [`Change`].
//!
//! This is what `format = "json"` targets write (one record per line in
//! files, stdout, HTTP bodies, Kafka/NATS messages). It is lossless: every
//! record read back with [`read_change`] equals the one written with
//! [`write_change`], except for the few invalid or non-canonical inputs
//! listed under *Limits* below.
//!
//! # Record
//!
//! One JSON object, written compactly (no spaces, no trailing newline; the
//! caller adds the newline of JSON lines). Fields appear in this order, and a
//! field whose value is empty (empty string, `0`, `false`, empty list, unset
//! message) is left out, except `op`, which is always written:
//!
//! ```text
//! {"pipeline":"shop","source":"postgres","seq":42,"op":"update",
//!  "table":{"schema":"public","name":"orders"},"key":["id"],
//!  "before":{...row...},"after":{...row...},
//!  "position":{"token":"<base64>","display":"0/16B3748"},
//!  "tx_id":"771","commit_time":"2024-02-29T11:45:00.123456Z","tx_end":true,
//!  "schema_change":{"schema":{"table":{"schema":"public","name":"orders"},
//!                             "columns":[{"name":"id","source_type":"bigint","nullable":true,
//!                                         "logical":{"kind":"integer","width":8},
//!                                         "type_dialect":"postgresql"}],
//!                             "key":["id"],"documents":true},
//!                   "ddl":"ALTER TABLE ..."},
//!  "message":{"prefix":"app","content":"<base64>","transactional":true},
//!  "documents":true}
//! ```
//!
//! | field | JSON | notes |
//! |---|---|---|
//! | `pipeline`, `source`, `tx_id` | string | |
//! | `seq` | number | unsigned 64-bit, exact |
//! | `op` | string | `insert`, `update`, `delete`, `truncate`, `snapshot_read`, `schema_change`, `heartbeat`, `message`, or `unspecified`; an op number this version does not know is written as that number |
//! | `table` | object | `schema`, `name` (each left out when empty) |
//! | `key` | array of strings | key column names, in key order |
//! | `before`, `after` | row (below) | a present but empty row is `{}` |
//! | `position` | object | `token` (base64), `display` (string) |
//! | `commit_time` | string | same form as a `timestamptz` value (below) |
//! | `tx_end` | `true` | left out when false |
//! | `schema_change` | object | `schema`: {`table`, `columns`: [{`name`, `source_type`, `nullable`, `logical`, `type_dialect`}], `key`, `documents`}, `ddl` |
//! | `message` | object | `prefix`, `content` (base64), `transactional` |
//! | `documents` | `true` | left out when false (rows are documents, MongoDB) |
//!
//! A column's `logical` type is an object: `kind`, always written, is the
//! `LogicalKind` name without `LOGICAL_` in lowercase (`"integer"`,
//! `"decimal"`, `"timestamp"`, `"other"`, …; a kind this version does not
//! know is written as its number), then, when not empty, `width`,
//! `unsigned`, `precision`, `scale`, `has_precision`, `fixed_length`,
//! `with_time_zone`, `labels` (array of strings), `element` (a nested
//! logical type), `name` and `boolean_like`. `logical`, `type_dialect` and
//! both `documents` are left out when unset, so records without them are
//! written exactly as before these fields existed.
//!
//! Inside these nested objects the same rule holds: empty fields are left
//! out, and a message that is present but empty is written as `{}`.
//!
//! # Row
//!
//! A row (and a nested document) is a JSON object from column name to
//! value, in the column order of the source. Readers that care about order
//! must not go through a hash map (with jq, `to_entries` keeps it). Column
//! names are written as they are; a row with two columns of the same name
//! gives an object with a repeated key, which [`read_change`] keeps (jq keeps
//! the last one).
//!
//! # Value
//!
//! SQL NULL is JSON `null`. Every other value is an object with exactly one
//! key, the kind, so that the type survives (`.after.price.decimal` in jq):
//!
//! | kind | example | notes |
//! |---|---|---|
//! | `bool` | `{"bool":true}` | |
//! | `int64` | `{"int64":-5}` | JSON number, exact (i64::MIN..i64::MAX; beware of consumers that parse numbers as doubles) |
//! | `uint64` | `{"uint64":18446744073709551615}` | JSON number, exact |
//! | `int32` | `{"int32":7}` | BSON int32 |
//! | `float32` | `{"float32":1.5}` | shortest text that reads back to the same `f32`; `"NaN"`, `"Infinity"`, `"-Infinity"` as strings; `-0.0` stays `-0.0` |
//! | `float64` | `{"float64":0.1}` | as `float32`, for `f64` |
//! | `decimal` | `{"decimal":"12.3400"}` | string, digits exactly as the source printed them (also `"NaN"`, `"Infinity"`) |
//! | `decimal128` | `{"decimal128":"1.0E+10"}` | string |
//! | `text` | `{"text":"…"}` | |
//! | `bytes` | `{"bytes":"AP8BAg=="}` | base64, standard alphabet, padded |
//! | `uuid` | `{"uuid":"0e4c1c57-8f4a-4d5e-9a3b-2b1c0d9e8f7a"}` | 8-4-4-4-12 lowercase hex; a value that is not 16 bytes long (invalid) is written as plain lowercase hex without dashes (`""` when empty) |
//! | `json` | `{"json":"{\"a\":1}"}` | the JSON text as a string, byte for byte (not parsed: `.json \| fromjson` in jq) |
//! | `enum` | `{"enum":"red"}` | ENUM label |
//! | `set` | `{"set":["a","b"]}` | SET labels in definition order |
//! | `object_id` | `{"object_id":"65f1c0ffee00112233445566"}` | lowercase hex (24 digits for a 12-byte ObjectId) |
//! | `date` | `{"date":"2024-02-29"}` | see *Dates and times* |
//! | `time` | `{"time":"13:45:00.123456"}`, `{"time":"13:45:00+02:00"}` | see *Dates and times* |
//! | `timestamp` | `{"timestamp":"2024-02-29T13:45:00.123456"}` | without time zone (wall clock) |
//! | `timestamptz` | `{"timestamptz":"2024-02-29T11:45:00.123456Z"}` | an instant, always in UTC (`Z`) |
//! | `interval` | `{"interval":{"months":1,"days":2,"micros":3}}` | all three fields always written |
//! | `array` | `{"array":{"element_type":"int4","elements":[{"int64":1},null]}}` | elements are values; multi-dimensional arrays are arrays of arrays; `"lower_bounds":[0,2]` (one per dimension, outermost array only) when a PostgreSQL array does not start at 1, absent otherwise |
//! | `document` | `{"document":{"a":{"int32":1}}}` | same form as a row |
//! | `unchanged` | `{"unchanged":{}}` | PostgreSQL TOAST value that was not sent: keep the stored value |
//! | `other` | `{"other":{"type":"point","text":"(1,2)"}}` | a value kept in its source text form, with its type name |
//! | `binary` | `{"binary":{"subtype":4,"data":"<base64>"}}` | BSON binary |
//! | `regex` | `{"regex":{"pattern":"^a","options":"i"}}` | BSON regular expression |
//! | `bson_timestamp` | `{"bson_timestamp":{"seconds":1,"increment":2}}` | BSON internal timestamp |
//!
//! # Dates and times
//!
//! Dates use the proleptic Gregorian calendar and ISO 8601 astronomical year
//! numbering (year `0000` is 1 BC, `-000001` is 2 BC):
//!
//! - `date`: `YYYY-MM-DD` for years 0000..=9999; other years in the expanded
//!   form, a sign and at least six digits: `+010000-01-01`, `-000001-12-31`.
//!   Special values: `"infinity"`, `"-infinity"` (PostgreSQL) and
//!   `"0000-00-00"` (the MySQL zero date).
//! - `time`: `HH:MM:SS` then `.` and 1 to 6 fraction digits when the
//!   microseconds are not zero, trailing zeros removed (`13:45:00.5`). Hours
//!   have at least two digits and may exceed 23, and the value may be
//!   negative (MySQL TIME: `-838:59:59`, `838:59:59.5`). A `time with time
//!   zone` appends its offset east of UTC as `+HH:MM`, or `+HH:MM:SS` when
//!   the offset has seconds (`13:45:00-05:30`, `00:00:00+00:00`).
//! - `timestamp` / `timestamptz` (and `commit_time`): the date as above, `T`,
//!   `HH:MM:SS`, then `.` and 1 to 9 fraction digits when the nanoseconds are
//!   not zero, trailing zeros removed (`.5`, `.123456`, `.000000001`); a
//!   `timestamptz` ends in `Z`. Special values: `"infinity"`, `"-infinity"`
//!   and `"0000-00-00 00:00:00"` (MySQL zero datetime), without `Z`.
//!
//! All of these strings sort in time order only within the years
//! 0000..=9999; compare the parsed values elsewhere.
//!
//! # Reading
//!
//! [`read_change`] is the inverse of [`write_change`]. It accepts any
//! whitespace between tokens and fields in any order, and treats a missing
//! field as empty; it rejects unknown or repeated fields (outside rows and
//! documents), values of the wrong JSON type, and text that does not parse
//! as its kind. The [`JsonError`] names the field path, e.g.
//! `after.price.decimal: expected a decimal string, found a number`.
//!
//! # Limits
//!
//! These inputs of [`write_change`] are invalid records or have no canonical
//! form; they are written as described and do not read back identically:
//!
//! - a column whose value is missing, or a value with no kind, is written as
//!   `null` and reads back as SQL NULL;
//! - every NaN reads back as the default quiet NaN (sign and payload bits are
//!   not kept);
//! - the numeric fields of a special date or timestamp (`infinity`, zero
//!   date) are not written and read back as 0; a `special` number unknown to
//!   this version is written as a finite value;
//! - a timestamp with `nanos` ≥ 1e9 is normalised (carried into the seconds);
//! - the offset of a `time` without `has_offset` is not written.
//!
//! ```text
//! # inserts into public.orders, with the decimal price as a string
//! jq -c 'select(.op == "insert" and .table.name == "orders") | {id: .after.id.int64, price: .after.price.decimal}'
//! # the values of a row without their kind tags
//! jq -c '.after | map_values(if . == null then null else to_entries[0].value end)'
//! ```

mod read;
mod read_record;
mod read_value;
mod string;
mod temporal;
mod text;
mod write;

pub use read::read_change;
pub use string::{push_json_string, write_json_string};
pub use temporal::format_timestamptz;
pub use text::value_text;
pub use write::write_change;

use crate::record::{LogicalKind, Op};

/// Why [`read_change`] rejected its input. `path` names where, from the
/// record down (`after.price.decimal`, `after.tags.array.elements[2]`), or
/// is `record` for the record as a whole.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The input is not well-formed JSON (or not UTF-8).
    #[error("{path}: malformed JSON at byte {offset}: {msg}")]
    Syntax {
        /// Field path of the innermost field being read.
        path: String,
        /// Byte offset of the error in the input.
        offset: usize,
        /// What was wrong.
        msg: &'static str,
    },
    /// Well-formed JSON that is not a valid record.
    #[error("{path}: {msg}")]
    Invalid {
        /// Field path of the offending value.
        path: String,
        /// What was wrong.
        msg: String,
    },
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const VEC_WRITE: &str = "writing to a Vec<u8> cannot fail";

fn op_name(op: i32) -> Option<&'static str> {
    Some(match Op::try_from(op).ok()? {
        Op::Unspecified => "unspecified",
        Op::Insert => "insert",
        Op::Update => "update",
        Op::Delete => "delete",
        Op::Truncate => "truncate",
        Op::SnapshotRead => "snapshot_read",
        Op::SchemaChange => "schema_change",
        Op::Heartbeat => "heartbeat",
        Op::Message => "message",
    })
}

fn op_from_name(name: &str) -> Option<Op> {
    Some(match name {
        "unspecified" => Op::Unspecified,
        "insert" => Op::Insert,
        "update" => Op::Update,
        "delete" => Op::Delete,
        "truncate" => Op::Truncate,
        "snapshot_read" => Op::SnapshotRead,
        "schema_change" => Op::SchemaChange,
        "heartbeat" => Op::Heartbeat,
        "message" => Op::Message,
        _ => return None,
    })
}

/// The JSON name of a [`LogicalKind`]: the proto name without `LOGICAL_`,
/// in lowercase (`integer`, `decimal`); `None` for a number this version
/// does not know (written as that number).
fn logical_kind_name(kind: i32) -> Option<String> {
    let name = LogicalKind::try_from(kind).ok()?.as_str_name();
    Some(name.strip_prefix("LOGICAL_")?.to_ascii_lowercase())
}

/// Inverse of [`logical_kind_name`]; only the lowercase names.
fn logical_kind_from_name(name: &str) -> Option<LogicalKind> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    LogicalKind::from_str_name(&format!("LOGICAL_{}", name.to_ascii_uppercase()))
}

const NANOS_PER_SEC: u32 = 1_000_000_000;
const ZERO_DATE: &str = "0000-00-00";
const ZERO_TIMESTAMP: &str = "0000-00-00 00:00:00";

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
pub(crate) mod tests;
