//! Reading values: the one-key kind objects, arrays and documents, with
//! the nesting limit, and the hex / UUID texts.

use super::read::{MAX_DEPTH, P, R, invalid, once, unknown_field};
use super::temporal::{parse_date, parse_time, parse_timestamp};
use super::ZERO_TIMESTAMP;
use bytes::Bytes;
use crate::record::{value::Kind, Array, Binary, BsonTimestamp, Document, Interval, Labels, Other, Regex, Timestamp, Unchanged, Value};

impl P<'_> {
    pub(super) fn value(&mut self) -> R<Value> {
        self.ws();
        match self.peek() {
            Some(b'n') => {
                self.literal(b"null")?;
                return Ok(Value::null());
            }
            Some(b'{') => self.i += 1,
            _ => return Err(self.type_err("null or a one-key value object")),
        }
        self.ws();
        match self.peek() {
            Some(b'"') => {}
            Some(b'}') => return Err(invalid("empty value object: expected one key naming the kind")),
            _ => return Err(self.syntax("expected a field name in double quotes")),
        }
        let key = self.string_body()?;
        self.ws();
        if self.peek() != Some(b':') {
            return Err(self.syntax("expected ':' after the field name"));
        }
        self.i += 1;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(invalid("values nested too deeply"));
        }
        let kind = self.kind(&key).map_err(|e| e.field(&key))?;
        self.depth -= 1;
        self.ws();
        match self.peek() {
            Some(b'}') => {
                self.i += 1;
                Ok(Value::of(kind))
            }
            Some(b',') => Err(invalid("a value object has exactly one key, the kind")),
            _ => Err(self.syntax("expected '}'")),
        }
    }

    pub(super) fn kind(&mut self, kind: &str) -> R<Kind> {
        Ok(match kind {
            "bool" => Kind::Bool(self.boolean()?),
            "int64" => Kind::Int64(self.int("a signed 64-bit integer")?),
            "uint64" => Kind::Uint64(self.int("an unsigned 64-bit integer")?),
            "int32" => Kind::Int32(self.int("a signed 32-bit integer")?),
            "float32" => Kind::Float32(self.float("a 32-bit float")?),
            "float64" => Kind::Float64(self.float("a 64-bit float")?),
            "decimal" => Kind::Decimal(self.string_owned("a decimal string")?),
            "decimal128" => Kind::Decimal128(self.string_owned("a decimal string")?),
            "text" => Kind::Text(self.string_owned("a string")?),
            "json" => Kind::Json(self.string_owned("a string holding JSON text")?),
            "enum" => Kind::EnumLabel(self.string_owned("a string")?),
            "bytes" => Kind::Bytes(self.base64("a base64 string")?),
            "uuid" => {
                let s = self.string("a UUID string")?;
                Kind::Uuid(
                    parse_uuid(s.as_bytes())
                        .map(Bytes::from)
                        .ok_or_else(|| invalid(format!("expected a UUID (8-4-4-4-12 hex), found {s:?}")))?,
                )
            }
            "object_id" => Kind::ObjectId(self.hex("a hex string")?),
            "set" => Kind::Set(Labels { labels: self.string_list("an array of labels")? }),
            "date" => {
                let s = self.string("a date string")?;
                Kind::Date(parse_date(&s).ok_or_else(|| {
                    invalid(format!(
                        "invalid date {s:?}: expected YYYY-MM-DD, ±YYYYYY-MM-DD, infinity, -infinity or 0000-00-00"
                    ))
                })?)
            }
            "time" => {
                let s = self.string("a time string")?;
                Kind::Time(parse_time(&s).ok_or_else(|| {
                    invalid(format!("invalid time {s:?}: expected [-]HH:MM:SS[.ffffff][±HH:MM[:SS]]"))
                })?)
            }
            "timestamp" => Kind::Timestamp(self.timestamp(false)?),
            "timestamptz" => Kind::Timestamptz(self.timestamp(true)?),
            "interval" => {
                let mut iv = Interval::default();
                let mut seen = 0;
                self.object("an object", |p, key| {
                    match key {
                        "months" => {
                            once(&mut seen, 0)?;
                            iv.months = p.int("a signed 32-bit integer")?;
                        }
                        "days" => {
                            once(&mut seen, 1)?;
                            iv.days = p.int("a signed 32-bit integer")?;
                        }
                        "micros" => {
                            once(&mut seen, 2)?;
                            iv.micros = p.int("a signed 64-bit integer")?;
                        }
                        _ => return Err(unknown_field()),
                    }
                    Ok(())
                })?;
                Kind::Interval(iv)
            }
            "array" => {
                let mut a = Array::default();
                let mut seen = 0;
                self.object("an object", |p, key| {
                    match key {
                        "element_type" => {
                            once(&mut seen, 0)?;
                            a.element_type = p.string_owned("a string")?;
                        }
                        "elements" => {
                            once(&mut seen, 1)?;
                            p.array("an array of values", |p, _| {
                                a.elements.push(p.value()?);
                                Ok(())
                            })?;
                        }
                        "lower_bounds" => {
                            once(&mut seen, 2)?;
                            p.array("an array of integers", |p, _| {
                                a.lower_bounds
                                    .push(p.int("a lower bound (a signed 32-bit integer)")?);
                                Ok(())
                            })?;
                        }
                        _ => return Err(unknown_field()),
                    }
                    Ok(())
                })?;
                Kind::Array(a)
            }
            "document" => Kind::Document(Document { fields: self.row("an object (a document)")? }),
            "unchanged" => {
                self.object("an empty object", |_, _| Err(unknown_field()))?;
                Kind::Unchanged(Unchanged {})
            }
            "other" => {
                let mut o = Other::default();
                let mut seen = 0;
                self.object("an object", |p, key| {
                    match key {
                        "type" => {
                            once(&mut seen, 0)?;
                            o.type_name = p.string_owned("a string")?;
                        }
                        "text" => {
                            once(&mut seen, 1)?;
                            o.text = p.string_owned("a string")?;
                        }
                        _ => return Err(unknown_field()),
                    }
                    Ok(())
                })?;
                Kind::Other(o)
            }
            "binary" => {
                let mut b = Binary::default();
                let mut seen = 0;
                self.object("an object", |p, key| {
                    match key {
                        "subtype" => {
                            once(&mut seen, 0)?;
                            b.subtype = p.int("an unsigned 32-bit integer")?;
                        }
                        "data" => {
                            once(&mut seen, 1)?;
                            b.data = p.base64("a base64 string")?;
                        }
                        _ => return Err(unknown_field()),
                    }
                    Ok(())
                })?;
                Kind::Binary(b)
            }
            "regex" => {
                let mut r = Regex::default();
                let mut seen = 0;
                self.object("an object", |p, key| {
                    match key {
                        "pattern" => {
                            once(&mut seen, 0)?;
                            r.pattern = p.string_owned("a string")?;
                        }
                        "options" => {
                            once(&mut seen, 1)?;
                            r.options = p.string_owned("a string")?;
                        }
                        _ => return Err(unknown_field()),
                    }
                    Ok(())
                })?;
                Kind::Regex(r)
            }
            "bson_timestamp" => {
                let mut t = BsonTimestamp::default();
                let mut seen = 0;
                self.object("an object", |p, key| {
                    match key {
                        "seconds" => {
                            once(&mut seen, 0)?;
                            t.seconds = p.int("an unsigned 32-bit integer")?;
                        }
                        "increment" => {
                            once(&mut seen, 1)?;
                            t.increment = p.int("an unsigned 32-bit integer")?;
                        }
                        _ => return Err(unknown_field()),
                    }
                    Ok(())
                })?;
                Kind::BsonTimestamp(t)
            }
            "null" => return Err(invalid("SQL NULL is written as JSON null, not as a kind")),
            _ => return Err(invalid("unknown value kind")),
        })
    }

    pub(super) fn timestamp(&mut self, utc: bool) -> R<Timestamp> {
        let s = self.string("a timestamp string")?;
        parse_timestamp(&s, utc).ok_or_else(|| {
            let form = if utc { "YYYY-MM-DDTHH:MM:SS[.fffffffff]Z" } else { "YYYY-MM-DDTHH:MM:SS[.fffffffff]" };
            invalid(format!(
                "invalid timestamp {s:?}: expected {form}, infinity, -infinity or {ZERO_TIMESTAMP}"
            ))
        })
    }
}

pub(super) fn parse_hex(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    s.chunks_exact(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// 8-4-4-4-12 hex, or plain hex of any even length (the form of invalid
/// lengths).
pub(super) fn parse_uuid(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() == 36 && [8, 13, 18, 23].iter().all(|&i| s[i] == b'-') {
        let mut hex = Vec::with_capacity(32);
        for (i, &b) in s.iter().enumerate() {
            if ![8, 13, 18, 23].contains(&i) {
                hex.push(b);
            }
        }
        return parse_hex(&hex);
    }
    parse_hex(s)
}
