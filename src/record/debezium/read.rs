//! Reading Debezium events (Kafka Connect JSON, with or without the
//! `schema`/`payload` wrapper) into records.
//!
//! - The table is `source.schema` (PostgreSQL) or `source.db` (MySQL)
//!   and `source.table`; without a `source`, the last two parts of the
//!   topic name (`prefix.schema.table`).
//! - The key columns are the fields of the message key, in order; a
//!   message without a key gives a record without key columns.
//! - With a schema, values are typed by it: Debezium's time types
//!   (`Date`, `Time`, `MicroTime`, `NanoTime`, `Timestamp`,
//!   `MicroTimestamp`, `NanoTimestamp`, `ZonedTimestamp`), `Decimal`
//!   (base64 unscaled bytes with a `scale` parameter) and
//!   `VariableScaleDecimal`, `Json`, `Uuid`, `bytes` (base64). Without a
//!   schema: integers as int64, other numbers as float64, strings as text
//!   (decimals and times written as strings stay text), objects and arrays
//!   as JSON text.
//! - A tombstone (no value) is no record.

use super::ojson::J;
use super::UNAVAILABLE;
use crate::record::{value::Kind, Change, Column, Op, Row, TableRef, Timestamp, Value};
use base64::Engine as _;

/// The record of one Debezium event; `Ok(None)` for a tombstone. `Err`
/// says what is wrong with the message.
pub fn read_event(topic: &str, key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Option<Change>, String> {
    let Some(value) = value.filter(|v| !v.is_empty()) else { return Ok(None) };
    let whole = J::parse(value).map_err(|e| format!("the value is not JSON: {e}"))?;
    let (payload, schema) = unwrap(&whole);
    if *payload == J::Null {
        return Ok(None);
    }
    let op = match payload.get("op").and_then(J::as_str) {
        Some("c") => Op::Insert,
        Some("u") => Op::Update,
        Some("d") => Op::Delete,
        Some("r") => Op::SnapshotRead,
        Some("t") => Op::Truncate,
        Some(other) => return Err(format!("unknown op {other:?}; expected c, u, d, r or t")),
        None => return Err("the event has no `op`: not a Debezium change event".into()),
    };
    let source = payload.get("source");
    let field = |name: &str| source.and_then(|s| s.get(name)).and_then(J::as_str).filter(|s| !s.is_empty());
    let table = match (field("schema").or(field("db")), field("table")) {
        (Some(s), Some(t)) => TableRef { schema: s.to_string(), name: t.to_string() },
        _ => {
            let mut parts = topic.rsplitn(3, '.');
            let name = parts.next().unwrap_or(topic).to_string();
            TableRef { schema: parts.next().unwrap_or_default().to_string(), name }
        }
    };
    let key_columns = match key.filter(|k| !k.is_empty()) {
        None => Vec::new(),
        Some(k) => match unwrap(&J::parse(k).map_err(|e| format!("the key is not JSON: {e}"))?).0 {
            J::Obj(members) => members.iter().map(|(n, _)| n.clone()).collect(),
            J::Null => Vec::new(),
            other => return Err(format!("the key is {}; expected a JSON object of the key columns", other.to_json())),
        },
    };
    let row_schema = |name: &str| schema.and_then(|s| struct_field(s, name)).and_then(|f| f.get("fields"));
    let before = image(payload.get("before"), row_schema("before"))?;
    let after = image(payload.get("after"), row_schema("after"))?;
    let commit_time = source.and_then(|s| s.get("ts_ms")).and_then(J::as_i64).map(|ms| Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as u32,
        special: 0,
    });
    let tx_id = source
        .and_then(|s| s.get("txId").or(s.get("gtid")))
        .map(|t| match t {
            J::Str(s) => s.clone(),
            J::Null => String::new(),
            other => other.to_json(),
        })
        .unwrap_or_default();
    Ok(Some(Change {
        source: "debezium".into(),
        op: op as i32,
        table: Some(table),
        key_columns,
        before,
        after,
        tx_id,
        commit_time,
        tx_end: true,
        ..Default::default()
    }))
}

/// `(payload, schema)` of a value with the `schema`/`payload` wrapper, or
/// `(value, None)` without it.
fn unwrap(v: &J) -> (&J, Option<&J>) {
    match (v.get("schema"), v.get("payload")) {
        (Some(schema), Some(payload)) => (payload, Some(schema)),
        _ => (v, None),
    }
}

/// The schema of struct field `name` (`{"type":"struct","fields":[…]}`).
fn struct_field<'a>(schema: &'a J, name: &str) -> Option<&'a J> {
    match schema.get("fields")? {
        J::Arr(fields) => fields.iter().find(|f| f.get("field").and_then(J::as_str) == Some(name)),
        _ => None,
    }
}

fn image(v: Option<&J>, fields: Option<&J>) -> Result<Option<Row>, String> {
    match v {
        None | Some(J::Null) => Ok(None),
        Some(J::Obj(members)) => {
            let mut columns = Vec::with_capacity(members.len());
            for (name, value) in members {
                let field = fields.and_then(|f| match f {
                    J::Arr(list) => list.iter().find(|x| x.get("field").and_then(J::as_str) == Some(name)),
                    _ => None,
                });
                let value = typed(value, field).map_err(|e| format!("column `{name}`: {e}"))?;
                columns.push(Column { name: name.clone(), value: Some(value) });
            }
            Ok(Some(Row { columns }))
        }
        Some(other) => Err(format!("a row image is {}; expected an object", other.to_json())),
    }
}

/// A canonical value parsed from canonical JSON text, for the temporal
/// kinds (one parser for every date and time text).
fn canonical(kind: &str, text: &str) -> Result<Value, String> {
    let mut json = String::from("{\"op\":\"insert\",\"after\":{\"v\":{");
    crate::record::json::push_json_string(&mut json, kind);
    json.push(':');
    crate::record::json::push_json_string(&mut json, text);
    json.push_str("}}}");
    let change = crate::record::json::read_change(json.as_bytes()).map_err(|e| format!("{text:?} is not a {kind}: {e}"))?;
    change.after.and_then(|r| r.columns.into_iter().next()).and_then(|c| c.value).ok_or_else(|| format!("{text:?} is not a {kind}"))
}

fn typed(v: &J, field: Option<&J>) -> Result<Value, String> {
    if let J::Str(s) = v {
        if s == UNAVAILABLE {
            return Ok(Value::unchanged());
        }
    }
    if *v == J::Null {
        return Ok(Value::null());
    }
    let name = field.and_then(|f| f.get("name")).and_then(J::as_str).unwrap_or("");
    let ty = field.and_then(|f| f.get("type")).and_then(J::as_str).unwrap_or("");
    let int = || v.as_i64().ok_or_else(|| format!("{} is not an integer", v.to_json()));
    let micros_ts = |micros: i128| Timestamp { seconds: micros.div_euclid(1_000_000) as i64, nanos: (micros.rem_euclid(1_000_000) * 1000) as u32, special: 0 };
    Ok(match name {
        "io.debezium.time.Date" => Value::of(Kind::Date(crate::record::Date { days: int()? as i32, special: 0 })),
        "io.debezium.time.Time" => time(i128::from(int()?) * 1000),
        "io.debezium.time.MicroTime" => time(i128::from(int()?)),
        "io.debezium.time.NanoTime" => time(i128::from(int()?) / 1000),
        "io.debezium.time.Timestamp" => Value::of(Kind::Timestamp(micros_ts(i128::from(int()?) * 1000))),
        "io.debezium.time.MicroTimestamp" => Value::of(Kind::Timestamp(micros_ts(i128::from(int()?)))),
        "io.debezium.time.NanoTimestamp" => Value::of(Kind::Timestamp(micros_ts(i128::from(int()?) / 1000))),
        "io.debezium.time.ZonedTimestamp" => canonical("timestamptz", v.as_str().unwrap_or_default())?,
        "io.debezium.data.Json" => Value::of(Kind::Json(v.as_str().map_or_else(|| v.to_json(), str::to_string))),
        "io.debezium.data.Uuid" => canonical("uuid", v.as_str().unwrap_or_default())?,
        "org.apache.kafka.connect.data.Decimal" => {
            let scale = field.and_then(|f| f.get("parameters")).and_then(|p| p.get("scale")).and_then(J::as_i64).unwrap_or(0);
            decimal_bytes(v.as_str().unwrap_or_default(), scale)?
        }
        "io.debezium.data.VariableScaleDecimal" => {
            let scale = v.get("scale").and_then(J::as_i64).unwrap_or(0);
            decimal_bytes(v.get("value").and_then(J::as_str).unwrap_or_default(), scale)?
        }
        _ => match (ty, v) {
            ("bytes", J::Str(s)) => Value::of(Kind::Bytes(
                base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| format!("bytes are not base64: {e}"))?.into(),
            )),
            (_, J::Bool(b)) => Value::of(Kind::Bool(*b)),
            (_, J::Int(i)) => Value::int64(*i),
            (_, J::UInt(u)) => Value::of(Kind::Uint64(*u)),
            (_, J::Float(f)) if ty == "float" => Value::of(Kind::Float32(*f as f32)),
            (_, J::Float(f)) => Value::of(Kind::Float64(*f)),
            (_, J::Str(s)) => Value::text(s.clone()),
            (_, other) => Value::of(Kind::Json(other.to_json())),
        },
    })
}

fn time(micros: i128) -> Value {
    Value::of(Kind::Time(crate::record::Time { micros: micros as i64, has_offset: false, offset_seconds: 0 }))
}

/// Kafka Connect's `Decimal`: base64 of the big-endian two's-complement
/// unscaled value, and the scale: as exact decimal text.
fn decimal_bytes(b64: &str, scale: i64) -> Result<Value, String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| format!("decimal bytes are not base64: {e}"))?;
    if bytes.len() > 16 {
        return Err(format!("a decimal of {} bytes is beyond what logferry reads (16)", bytes.len()));
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut n: i128 = if negative { -1 } else { 0 };
    for b in &bytes {
        n = (n << 8) | i128::from(*b);
    }
    let digits = n.unsigned_abs().to_string();
    let scale = scale.max(0) as usize;
    let text = if scale == 0 {
        digits
    } else if digits.len() > scale {
        format!("{}.{}", &digits[..digits.len() - scale], &digits[digits.len() - scale..])
    } else {
        format!("0.{}{digits}", "0".repeat(scale - digits.len()))
    };
    Ok(Value::of(Kind::Decimal(if n < 0 { format!("-{text}") } else { text })))
}
