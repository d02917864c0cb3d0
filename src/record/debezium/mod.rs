//! Debezium's change-event envelope, written and read (JSON, the way
//! Kafka Connect's JSON converter writes it; without schemas when written,
//! with or without when read), so consumers written for Debezium read
//! logferry's events and logferry applies Debezium's topics.
//!
//! An event is `{"before":…,"after":…,"source":{…},"op":"c|u|d|r|t","ts_ms":…}`.
//! Values are rendered as Debezium renders them by default, except where
//! the table below says otherwise (the README has the same table):
//!
//! | value | Debezium (default) | logferry |
//! |---|---|---|
//! | integers, floats, bool, text, enum, uuid, json | number / bool / string | the same |
//! | decimal | base64 of the unscaled bytes (`precise`, needs the schema) | string `"12.50"` (Debezium's `decimal.handling.mode = string`) |
//! | date | days since 1970 | the same |
//! | time | micro- or milliseconds of the day by precision (`adaptive`) | microseconds always |
//! | timestamp without zone | epoch milli- or microseconds by precision | epoch microseconds always |
//! | timestamptz | ISO-8601 string (`ZonedTimestamp`) | the same, in UTC |
//! | time with zone | ISO-8601 string | the same |
//! | interval | microseconds, a month as 30.4375 days (`numeric`) | the same |
//! | bytes | base64 string | the same |
//! | MySQL SET | comma-separated string | the same |
//! | arrays | JSON arrays | the same |
//! | PostgreSQL TOAST value not sent | `"__debezium_unavailable_value"` | the same |
//! | ±infinity dates and timestamps, NaN | (connector specific) | the strings `"infinity"`, `"-infinity"`, `"NaN"` |
//! | documents (MongoDB) | the document as an Extended JSON string | a JSON object of the fields |
//!
//! `source` holds `version`, `connector` (`postgresql`, `mysql`,
//! `mongodb`, or logferry's source kind), `name` (the pipeline), `ts_ms`
//! (commit time; for snapshot rows the time of the event), `snapshot`, `db`, `schema`, `table`, `txId`, and the
//! position where the record has one (`lsn` for PostgreSQL, `file` and
//! `pos` for the binlog). A DELETE carries the old row as the source sent
//! it: with PostgreSQL's default replica identity only the key columns
//! (Debezium would add the other columns as null).

mod ojson;
mod read;

pub use read::read_event;

use crate::record::json::{format_timestamptz, push_json_string, value_text};
use crate::record::{value::Kind, Change, Op, Row, Special, Value};
use base64::Engine as _;

/// Debezium's placeholder for a value the source did not send.
pub const UNAVAILABLE: &str = "__debezium_unavailable_value";

/// Days per month in Debezium's interval microseconds.
const DAYS_PER_MONTH: f64 = 365.25 / 12.0;

/// The Debezium event of a row change or truncate (JSON, no schema);
/// `None` for records Debezium has no event for (schema changes,
/// heartbeats, logical messages). A consumer also expects a tombstone
/// (same key, null value) after each delete: see [`tombstone_after`].
pub fn event_json(change: &Change) -> Option<String> {
    let op = match change.op() {
        Op::Insert => "c",
        Op::Update => "u",
        Op::Delete => "d",
        Op::SnapshotRead => "r",
        Op::Truncate => "t",
        _ => return None,
    };
    let mut out = String::with_capacity(256);
    out.push_str("{\"before\":");
    row(&mut out, change.before.as_ref().filter(|_| op != "c" && op != "r"));
    out.push_str(",\"after\":");
    row(&mut out, change.after.as_ref().filter(|_| op != "d"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    out.push_str(",\"source\":");
    source(&mut out, change, op == "r", now);
    out.push_str(",\"op\":\"");
    out.push_str(op);
    out.push_str("\",\"ts_ms\":");
    out.push_str(&now.to_string());
    out.push_str(",\"transaction\":null}");
    Some(out)
}

/// True when Debezium follows this record's event with a tombstone.
pub fn tombstone_after(change: &Change) -> bool {
    change.op() == Op::Delete
}

fn row(out: &mut String, row: Option<&Row>) {
    let Some(row) = row else { return out.push_str("null") };
    out.push('{');
    for (i, c) in row.columns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(out, &c.name);
        out.push(':');
        value(out, c.value.as_ref());
    }
    out.push('}');
}

/// `source`; `now` stands in for the commit time of records without one
/// (snapshot rows: Debezium gives the time of the read).
fn source(out: &mut String, change: &Change, snapshot: bool, now: i64) {
    let (schema, table) = change.table.as_ref().map_or(("", ""), |t| (t.schema.as_str(), t.name.as_str()));
    let connector = match change.source.as_str() {
        "postgres" => "postgresql",
        other => other,
    };
    out.push_str("{\"version\":\"logferry-");
    out.push_str(env!("CARGO_PKG_VERSION"));
    out.push_str("\",\"connector\":");
    push_json_string(out, connector);
    out.push_str(",\"name\":");
    push_json_string(out, &change.pipeline);
    let ts = change.commit_time.as_ref().map_or(now, |t| t.seconds * 1000 + i64::from(t.nanos / 1_000_000));
    out.push_str(&format!(",\"ts_ms\":{ts},\"snapshot\":\"{snapshot}\",\"db\":"));
    push_json_string(out, schema);
    out.push_str(",\"schema\":");
    push_json_string(out, schema);
    out.push_str(",\"table\":");
    push_json_string(out, table);
    out.push_str(",\"txId\":");
    if change.tx_id.is_empty() {
        out.push_str("null");
    } else {
        push_json_string(out, &change.tx_id);
    }
    if let Some(p) = change.position.as_ref().map(|p| p.display.as_str()) {
        match lsn(p) {
            Some(lsn) => out.push_str(&format!(",\"lsn\":{lsn}")),
            None => {
                if let Some((file, pos)) = p.split(' ').next().and_then(|fp| fp.rsplit_once(':')) {
                    if let Ok(pos) = pos.parse::<u64>() {
                        out.push_str(",\"file\":");
                        push_json_string(out, file);
                        out.push_str(&format!(",\"pos\":{pos}"));
                    }
                }
            }
        }
    }
    out.push('}');
}

/// A PostgreSQL LSN `X/Y` (hex) as a number.
fn lsn(display: &str) -> Option<u64> {
    let (hi, lo) = display.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

fn special(s: i32) -> Special {
    Special::try_from(s).unwrap_or(Special::Finite)
}

fn value(out: &mut String, v: Option<&Value>) {
    let Some(kind) = v.and_then(|v| v.kind.as_ref()) else { return out.push_str("null") };
    let v = v.expect("has a kind");
    match kind {
        Kind::Null(_) => out.push_str("null"),
        Kind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Kind::Int64(n) => out.push_str(&n.to_string()),
        Kind::Int32(n) => out.push_str(&n.to_string()),
        Kind::Uint64(n) => out.push_str(&n.to_string()),
        Kind::Float32(f) if f.is_finite() => out.push_str(&value_text(v).unwrap_or_default()),
        Kind::Float64(f) if f.is_finite() => out.push_str(&value_text(v).unwrap_or_default()),
        Kind::Float32(_) | Kind::Float64(_) => push_json_string(out, &value_text(v).unwrap_or_default()),
        Kind::Date(d) => match special(d.special) {
            Special::Finite => out.push_str(&d.days.to_string()),
            _ => push_json_string(out, &value_text(v).unwrap_or_default()),
        },
        Kind::Time(t) if !t.has_offset => out.push_str(&t.micros.to_string()),
        Kind::Timestamp(t) => match special(t.special) {
            Special::Finite => out.push_str(&(i128::from(t.seconds) * 1_000_000 + i128::from(t.nanos / 1000)).to_string()),
            _ => push_json_string(out, &value_text(v).unwrap_or_default()),
        },
        Kind::Timestamptz(t) => push_json_string(out, &format_timestamptz(t)),
        Kind::Interval(i) => {
            let days = f64::from(i.months) * DAYS_PER_MONTH + f64::from(i.days);
            let micros = (days * 86_400_000_000.0).round() as i64 + i.micros;
            out.push_str(&micros.to_string());
        }
        Kind::Bytes(b) => push_json_string(out, &base64::engine::general_purpose::STANDARD.encode(b)),
        Kind::Binary(b) => push_json_string(out, &base64::engine::general_purpose::STANDARD.encode(&b.data)),
        Kind::Set(l) => push_json_string(out, &l.labels.join(",")),
        Kind::Array(a) => {
            out.push('[');
            for (i, e) in a.elements.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                value(out, Some(e));
            }
            out.push(']');
        }
        Kind::Document(d) => {
            out.push('{');
            for (i, f) in d.fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(out, &f.name);
                out.push(':');
                value(out, f.value.as_ref());
            }
            out.push('}');
        }
        Kind::Unchanged(_) => push_json_string(out, UNAVAILABLE),
        Kind::Other(o) => push_json_string(out, &o.text),
        _ => push_json_string(out, &value_text(v).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests;
