//! Fixtures: `src/sources/mysql/testdata/*.hex` are binlog events and `testdata/tables.json`
//! the columns and `SELECT` text of the same rows, captured from MariaDB
//! 10.11 by `examples/capture_mysql_fixtures.rs` (see that folder's README.md). The central
//! property: for every captured cell, the binlog and the `SELECT` decode
//! to the same canonical value, and that value is the one written below.

use super::*;
use super::{column_type::*, convert::*, decimal::*, json::*, text::*};
use crate::record::calendar;
use crate::record::{value::Kind, Date, Labels, Null, Other, Special, Time, Timestamp, Value};
use bytes::Bytes;
use mysql_async::binlog::events::{Event, EventData, FormatDescriptionEvent};
use mysql_async::binlog::events::{RowsEventData, TableMapEvent};
use mysql_async::binlog::row::BinlogRow;
use mysql_async::binlog::value::BinlogValue;
use mysql_async::binlog::BinlogVersion;
use mysql_async::consts::ColumnType;
use mysql_async::Column;
use mysql_async::Value as MyValue;
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

const TABLES: &str = include_str!("../../testdata/tables.json");
const TYPES: &str = include_str!("../../testdata/types.hex");
const CHANGES: &str = include_str!("../../testdata/changes.hex");
const MINIMAL: &str = include_str!("../../testdata/minimal.hex");
const METADATA: &str = include_str!("../../testdata/metadata.hex");
const DB: &str = "fixture_mysql_decode";

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex in fixture");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

/// One table of tables.json.
struct Fixture {
    columns: Vec<ColumnInfo>,
    select_exprs: Vec<String>,
    /// `SELECT <select_exprs>` rows, by id.
    select: Vec<Vec<Option<Vec<u8>>>>,
    /// `SELECT *` rows, by id.
    select_star: Vec<Vec<Option<Vec<u8>>>>,
}

fn fixture(table: &str) -> Fixture {
    let doc: serde_json::Value = serde_json::from_str(TABLES).expect("tables.json");
    let t = &doc["tables"][table];
    let columns = t["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| ColumnInfo {
            name: c["name"].as_str().unwrap().to_string(),
            data_type: c["data_type"].as_str().unwrap().to_string(),
            column_type: c["column_type"].as_str().unwrap().to_string(),
            charset: c["charset"].as_str().map(str::to_string),
            is_json: c["is_json"].as_bool().unwrap(),
        })
        .collect();
    let rows = |key: &str| -> Vec<Vec<Option<Vec<u8>>>> {
        t[key]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(|v| v.as_str().map(unhex)).collect())
            .collect()
    };
    Fixture {
        columns,
        select_exprs: t["select_exprs"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().into()).collect(),
        select: rows("select"),
        select_star: rows("select_star"),
    }
}

/// Every rows event of a capture, with its table map.
fn rows_events(hex: &str) -> Vec<(RowsEventData<'static>, TableMapEvent<'static>)> {
    let mut fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
    let mut maps: HashMap<u64, TableMapEvent<'static>> = HashMap::new();
    let mut out = Vec::new();
    for line in hex.lines().filter(|l| !l.trim().is_empty()) {
        let bytes = unhex(line.trim());
        let event = Event::read(&fde, &bytes[..]).expect("event");
        match event.read_data().expect("event data") {
            Some(EventData::FormatDescriptionEvent(f)) => fde = f.into_owned(),
            Some(EventData::TableMapEvent(t)) => {
                maps.insert(t.table_id(), t.into_owned());
            }
            Some(EventData::RowsEvent(r)) => {
                let tme = maps[&r.table_id()].clone();
                out.push((r.into_owned(), tme));
            }
            _ => {}
        }
    }
    out
}

fn events_of(hex: &str, table: &str) -> Vec<(RowsEventData<'static>, TableMapEvent<'static>)> {
    rows_events(hex).into_iter().filter(|(_, t)| t.table_name() == table).collect()
}

fn qualified(table: &str) -> String {
    format!("{DB}.{table}")
}

/// The after images of a table's WRITE events, by `event_rows`.
fn binlog_rows(table: &str) -> Vec<RowImage> {
    let cols = fixture(table).columns;
    events_of(TYPES, table)
        .iter()
        .flat_map(|(ev, tme)| event_rows(ev, tme, &cols, &qualified(table)).expect("event_rows"))
        .map(|(before, after)| {
            assert!(before.is_none());
            after.expect("after image")
        })
        .collect()
}

/// The same through mysql_common's row parser and `row_values`.
fn mysql_common_rows(table: &str) -> Vec<RowImage> {
    let cols = fixture(table).columns;
    let mut out = Vec::new();
    for (ev, tme) in events_of(TYPES, table) {
        for row in ev.rows(&tme) {
            let (_, after) = row.expect("mysql_common parses the row");
            out.push(row_values(&after.expect("after"), &cols, &qualified(table)).expect("row_values"));
        }
    }
    out
}

/// The `SELECT` rows through `text_value`.
fn text_rows(table: &str, star: bool) -> Vec<RowImage> {
    let f = fixture(table);
    let rows = if star { &f.select_star } else { &f.select };
    rows.iter()
        .map(|r| {
            f.columns
                .iter()
                .zip(r)
                .map(|(c, v)| (c.name.clone(), text_value(v.as_deref(), c, &qualified(table)).expect("text_value")))
                .collect()
        })
        .collect()
}

/// Equality with floats compared by bits (so -0.0 ≠ 0.0).
fn same(a: &Value, b: &Value) -> bool {
    match (&a.kind, &b.kind) {
        (Some(Kind::Float32(x)), Some(Kind::Float32(y))) => x.to_bits() == y.to_bits(),
        (Some(Kind::Float64(x)), Some(Kind::Float64(y))) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

fn assert_rows(what: &str, got: &[RowImage], want: &[Vec<Kind>], cols: &[ColumnInfo]) {
    assert_eq!(got.len(), want.len(), "{what}: row count");
    for (r, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.len(), cols.len(), "{what}: row {r} width");
        for ((name, value), (col, kind)) in g.iter().zip(cols.iter().zip(w)) {
            assert_eq!(name, &col.name);
            let want = Value::of(kind.clone());
            assert!(same(value, &want), "{what}: row {r} column {name}: got {value:?}, want {want:?}");
        }
    }
}

/// Checks a table three ways: binlog (own parser), binlog (mysql_common
/// + `row_values`, unless mysql_common cannot read the table), `SELECT`.
fn check_table(table: &str, want: &[Vec<Kind>], mysql_common_reads_it: bool) {
    let cols = fixture(table).columns;
    assert_rows(&format!("{table} event_rows"), &binlog_rows(table), want, &cols);
    assert_rows(&format!("{table} text_value"), &text_rows(table, false), want, &cols);
    if mysql_common_reads_it {
        assert_rows(&format!("{table} row_values"), &mysql_common_rows(table), want, &cols);
    }
}

fn null() -> Kind {
    Kind::Null(Null {})
}
fn i(v: i64) -> Kind {
    Kind::Int64(v)
}
fn u(v: u64) -> Kind {
    Kind::Uint64(v)
}
fn dec(s: &str) -> Kind {
    Kind::Decimal(s.into())
}
fn t(s: &str) -> Kind {
    Kind::Text(s.into())
}
fn b(v: &[u8]) -> Kind {
    Kind::Bytes(Bytes::copy_from_slice(v))
}
fn hexb(s: &str) -> Kind {
    Kind::Bytes(Bytes::from(unhex(s)))
}
fn date(y: i64, m: u32, d: u32) -> Kind {
    Kind::Date(Date { days: calendar::days_from_civil(y, m, d) as i32, special: 0 })
}
fn zero_date() -> Kind {
    Kind::Date(Date { days: 0, special: Special::Zero as i32 })
}
fn other(ty: &str, text: &str) -> Kind {
    Kind::Other(Other { type_name: ty.into(), text: text.into() })
}
/// TIME from sign, hours, minutes, seconds, microseconds.
fn tm(neg: bool, h: i64, m: i64, s: i64, us: i64) -> Kind {
    let v = (h * 3600 + m * 60 + s) * 1_000_000 + us;
    Kind::Time(Time { micros: if neg { -v } else { v }, has_offset: false, offset_seconds: 0 })
}
fn secs(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
    calendar::days_from_civil(y, mo, d) as i64 * 86_400 + h * 3600 + mi * 60 + s
}
/// DATETIME (wall clock).
fn dt(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64, us: u32) -> Kind {
    Kind::Timestamp(Timestamp { seconds: secs(y, mo, d, h, mi, s), nanos: us * 1000, special: 0 })
}
fn zero_dt() -> Kind {
    Kind::Timestamp(Timestamp { seconds: 0, nanos: 0, special: Special::Zero as i32 })
}
/// TIMESTAMP (instant) from epoch seconds.
fn tz(seconds: i64, us: u32) -> Kind {
    Kind::Timestamptz(Timestamp { seconds, nanos: us * 1000, special: 0 })
}
fn zero_tz() -> Kind {
    Kind::Timestamptz(Timestamp { seconds: 0, nanos: 0, special: Special::Zero as i32 })
}
fn label(s: &str) -> Kind {
    Kind::EnumLabel(s.into())
}
fn set(labels: &[&str]) -> Kind {
    Kind::Set(Labels { labels: labels.iter().map(|s| s.to_string()).collect() })
}
fn json(s: &str) -> Kind {
    Kind::Json(s.into())
}
fn uuid(s: &str) -> Kind {
    Kind::Uuid(Bytes::from(unhex(s)))
}
fn inet6(s: &str) -> Kind {
    other("inet6", s)
}
fn inet4(s: &str) -> Kind {
    other("inet4", s)
}
fn nulls(id: i64, n: usize) -> Vec<Kind> {
    std::iter::once(i(id)).chain(std::iter::repeat_n(null(), n)).collect()
}

mod fuzz;
mod json;
mod rows;
mod synthetic;
mod types;
mod values;
