//! Comparing what two engines read: keys, values and rows.
//!
//! Both sides are read with logferry's own readers, so a value arrives as
//! the canonical [`Value`] its engine's decoder makes. The same stored
//! value can still arrive in two forms when the engines differ, because a
//! target maps a source type to the nearest type it has (see
//! `sinks::postgres::logical`); [`same_value`] treats these pairs as equal:
//!
//! | one side | other side | equal when |
//! |---|---|---|
//! | `int64`, `int32`, `uint64`, `decimal` | any of these | the same number (`18446744073709551615` as `uint64` and as `numeric(20,0)`; `1.50` and `1.5`) |
//! | `bool` | an integer | `true` = 1, `false` = 0 |
//! | `float32` | `float64` | the double of the float's shortest text |
//! | `text`, `enum`, `other` | `text`, `enum`, `other` | the same text (an enum label in a text column) |
//! | MySQL `time` (a duration) | PostgreSQL `interval` | the same microseconds |
//! | `timestamptz` | `timestamp` (a MySQL target's DATETIME) | the same UTC wall clock |
//! | MySQL `set` | PostgreSQL `text[]` | the same labels in order |
//! | MySQL `bit(n)` (bytes) | PostgreSQL `bit(n)` (`other` text of 0s and 1s) | the same number |
//! | an array or document | `json` (a MySQL target's JSON column) | element by element, field by field |
//! | `json` | `json`, or text holding JSON | the same JSON (object keys in any order, any spacing: `jsonb` normalises) |
//!
//! Fixed-width character columns (`char(n)`) compare without trailing
//! spaces on both sides: PostgreSQL pads them, MySQL strips them, and
//! both engines ignore trailing spaces when they compare such values.
//!
//! Keys are matched by [`KeyId`]: the key's values in a normal form
//! (integers of any width and integral decimals as one integer, enum
//! labels as text, JSON as its text with sorted keys), so a row keyed `5` in MariaDB finds its row keyed `5`
//! in PostgreSQL.

use crate::record::{value::Kind, Row, Value};
use std::collections::{HashMap, HashSet};

/// A row's key: its values in key-column order.
pub type Key = Vec<Value>;

/// A key in normal form, for maps (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(Vec<u8>);

/// The normal form of `key`.
pub fn key_id(key: &[Value]) -> KeyId {
    let mut buf = Vec::with_capacity(16 * key.len());
    for v in key {
        prost::Message::encode_length_delimited(&norm_key(v), &mut buf).expect("Vec grows as needed");
    }
    KeyId(buf)
}

/// One key value in normal form.
fn norm_key(v: &Value) -> Value {
    match &v.kind {
        Some(Kind::Int32(i)) => Value::int64(i64::from(*i)),
        Some(Kind::Uint64(u)) => match i64::try_from(*u) {
            Ok(i) => Value::int64(i),
            Err(_) => Value::of(Kind::Decimal(u.to_string())),
        },
        Some(Kind::Decimal(s)) => match normal_number(s) {
            Some(n) => n.parse::<i64>().map(Value::int64).unwrap_or_else(|_| Value::of(Kind::Decimal(n))),
            None => v.clone(),
        },
        Some(Kind::EnumLabel(s)) => Value::text(s.clone()),
        Some(Kind::Float32(f)) => Value::of(Kind::Float64(widen(*f))),
        // As its normal text: a MySQL target keeps a document's `_id` as
        // text (`varchar`), PostgreSQL as `jsonb`.
        Some(Kind::Json(s)) => Value::text(json_normal(s).unwrap_or_else(|| s.clone())),
        _ => v.clone(),
    }
}

/// The key values of `row` in the order of `key` (a missing column reads
/// as NULL).
pub fn key_of(row: &Row, key: &[String]) -> Key {
    key.iter().map(|k| row.get(k).cloned().unwrap_or_else(Value::null)).collect()
}

/// A key as a JSON object in key order, e.g. `{"id":7}` or
/// `{"region":"eu","id":2}` (numbers and booleans as JSON, other values
/// as their canonical text, NULL as null): how keys are listed.
pub fn key_text(names: &[String], key: &[Value]) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in names.iter().zip(key).enumerate() {
        if i > 0 {
            out.push(',');
        }
        crate::record::json::push_json_string(&mut out, name);
        out.push(':');
        match value.kind.as_ref() {
            None | Some(Kind::Null(_)) => out.push_str("null"),
            Some(Kind::Int64(n)) => out.push_str(&n.to_string()),
            Some(Kind::Int32(n)) => out.push_str(&n.to_string()),
            Some(Kind::Uint64(n)) => out.push_str(&n.to_string()),
            Some(Kind::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
            Some(Kind::Json(j)) if serde_json::from_str::<serde_json::Value>(j).is_ok() => out.push_str(&json_normal(j).unwrap_or_default()),
            Some(_) => crate::record::json::push_json_string(&mut out, &crate::record::json::value_text(value).unwrap_or_default()),
        }
    }
    out.push('}');
    out
}

/// `s` as a plain decimal without a sign on zero, leading zeros or
/// trailing fractional zeros (`-012.50` → `-12.5`, `3.00` → `3`); `None`
/// for anything else (`NaN`, `Infinity`, exponents).
fn normal_number(s: &str) -> Option<String> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let mut out = String::with_capacity(s.len());
    if neg && !(int.is_empty() && frac.is_empty()) {
        out.push('-');
    }
    out.push_str(if int.is_empty() { "0" } else { int });
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    Some(out)
}

/// The number a numeric value holds, in [`normal_number`] form.
fn number_of(k: &Kind) -> Option<String> {
    match k {
        Kind::Int64(i) => Some(i.to_string()),
        Kind::Int32(i) => Some(i.to_string()),
        Kind::Uint64(u) => Some(u.to_string()),
        Kind::Decimal(s) | Kind::Decimal128(s) => normal_number(s),
        _ => None,
    }
}

/// A float as the double of its shortest text (`0.1f32` → `0.1`).
fn widen(f: f32) -> f64 {
    if f.is_finite() {
        f.to_string().parse().unwrap_or(f64::from(f))
    } else {
        f64::from(f)
    }
}

fn floats_equal(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// The text a textual value holds.
fn text_of(k: &Kind) -> Option<&str> {
    match k {
        Kind::Text(s) | Kind::EnumLabel(s) => Some(s),
        Kind::Other(o) => Some(&o.text),
        _ => None,
    }
}

/// JSON text in one form: parsed, object keys sorted, no spacing.
fn json_normal(s: &str) -> Option<String> {
    fn sorted(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let mut fields: Vec<(String, serde_json::Value)> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                serde_json::Value::Object(fields.into_iter().collect())
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.into_iter().map(sorted).collect()),
            other => other,
        }
    }
    serde_json::from_str::<serde_json::Value>(s).ok().map(|v| sorted(v).to_string())
}

/// A string of `0` and `1` as big-endian bytes without leading zero bytes.
fn bits_value(bits: &str) -> Option<Vec<u8>> {
    if !bits.bytes().all(|b| b == b'0' || b == b'1') {
        return None;
    }
    let mut bytes = vec![0u8; bits.len().div_ceil(8)];
    let pad = bytes.len() * 8 - bits.len();
    for (i, b) in bits.bytes().enumerate() {
        if b == b'1' {
            let at = pad + i;
            bytes[at / 8] |= 0x80 >> (at % 8);
        }
    }
    Some(strip_leading_zeros(&bytes).to_vec())
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[first..]
}

/// Microseconds of a duration: a MySQL `time` (no zone) or an interval
/// without months.
fn duration_micros(k: &Kind) -> Option<i128> {
    match k {
        Kind::Time(t) if !t.has_offset => Some(i128::from(t.micros)),
        Kind::Interval(i) if i.months == 0 => Some(i128::from(i.days) * 86_400_000_000 + i128::from(i.micros)),
        _ => None,
    }
}

fn is_null(v: &Value) -> bool {
    matches!(v.kind, None | Some(Kind::Null(_)))
}

/// True when `a` and `b` are the same stored value (see the module docs).
/// `padded`: the column is fixed-width text on one of the sides.
pub fn same_value(a: &Value, b: &Value, padded: bool) -> bool {
    if is_null(a) || is_null(b) {
        return is_null(a) && is_null(b);
    }
    let (Some(x), Some(y)) = (&a.kind, &b.kind) else { return false };
    if x == y {
        return true;
    }
    match (x, y) {
        (Kind::Float64(p), Kind::Float64(q)) => floats_equal(*p, *q),
        (Kind::Float32(p), Kind::Float32(q)) => floats_equal(f64::from(*p), f64::from(*q)),
        (Kind::Float32(p), Kind::Float64(q)) | (Kind::Float64(q), Kind::Float32(p)) => floats_equal(widen(*p), *q),
        (Kind::Json(p), Kind::Json(q) | Kind::Text(q)) | (Kind::Text(q), Kind::Json(p)) => {
            json_normal(p).is_some_and(|p| Some(p) == json_normal(q))
        }
        // A MySQL target keeps a timestamptz as its UTC wall clock (DATETIME).
        (Kind::Timestamptz(p), Kind::Timestamp(q)) | (Kind::Timestamp(q), Kind::Timestamptz(p)) => p == q,
        (Kind::Bool(p), other) | (other, Kind::Bool(p)) => number_of(other).is_some_and(|n| n == if *p { "1" } else { "0" }),
        // A MySQL target keeps arrays and documents in JSON columns.
        (Kind::Array(_) | Kind::Document(_), Kind::Json(j)) | (Kind::Json(j), Kind::Array(_) | Kind::Document(_)) => {
            let v = if matches!(x, Kind::Json(_)) { b } else { a };
            serde_json::from_str::<serde_json::Value>(j).is_ok_and(|j| matches_json(v, &j))
        }
        (Kind::Set(l), Kind::Array(a)) | (Kind::Array(a), Kind::Set(l)) => {
            l.labels.len() == a.elements.len()
                && l.labels.iter().zip(&a.elements).all(|(s, e)| e.kind.as_ref().and_then(text_of) == Some(s.as_str()))
        }
        (Kind::Bytes(b), Kind::Other(o)) | (Kind::Other(o), Kind::Bytes(b)) => {
            bits_value(&o.text).is_some_and(|v| v == strip_leading_zeros(b))
        }
        (Kind::Document(p), Kind::Document(q)) => {
            p.fields.len() == q.fields.len()
                && p.fields.iter().zip(&q.fields).all(|(f, g)| {
                    f.name == g.name && same_value(f.value.as_ref().unwrap_or(&Value::null()), g.value.as_ref().unwrap_or(&Value::null()), false)
                })
        }
        (Kind::Array(p), Kind::Array(q)) => {
            p.elements.len() == q.elements.len() && p.elements.iter().zip(&q.elements).all(|(e, f)| same_value(e, f, padded))
        }
        _ => {
            if let (Some(p), Some(q)) = (number_of(x), number_of(y)) {
                return p == q;
            }
            if let (Some(p), Some(q)) = (text_of(x), text_of(y)) {
                return p == q || (padded && p.trim_end_matches(' ') == q.trim_end_matches(' '));
            }
            if let (Some(p), Some(q)) = (duration_micros(x), duration_micros(y)) {
                return p == q;
            }
            false
        }
    }
}

/// True when JSON `j` holds value `v` (an array or document a target
/// wrote as JSON): element by element, field by field; scalars as JSON
/// numbers, booleans, null or strings (temporal texts with `T` or a space,
/// with or without `Z`).
fn matches_json(v: &Value, j: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    let Some(k) = &v.kind else { return j.is_null() };
    match (k, j) {
        (Kind::Null(_), J::Null) => true,
        (Kind::Bool(p), J::Bool(q)) => p == q,
        (Kind::Array(a), J::Array(items)) => a.elements.len() == items.len() && a.elements.iter().zip(items).all(|(e, i)| matches_json(e, i)),
        (Kind::Set(l), J::Array(items)) => l.labels.len() == items.len() && l.labels.iter().zip(items).all(|(s, i)| i.as_str() == Some(s)),
        (Kind::Document(d), J::Object(m)) => {
            d.fields.len() == m.len()
                && d.fields.iter().all(|f| m.get(&f.name).is_some_and(|i| matches_json(f.value.as_ref().unwrap_or(&NULL), i)))
        }
        (Kind::Float32(f), J::Number(n)) => n.as_f64().is_some_and(|n| floats_equal(widen(*f), n)),
        (Kind::Float64(f), J::Number(n)) => n.as_f64().is_some_and(|n| floats_equal(*f, n)),
        (_, J::Number(n)) => number_of(k).is_some_and(|p| normal_number(&n.to_string()) == Some(p)),
        (_, J::String(s)) => match text_of(k) {
            Some(t) => t == s,
            None => {
                let canon = |t: &str| t.replace('T', " ").trim_end_matches('Z').to_string();
                number_of(k).is_some_and(|p| normal_number(s) == Some(p))
                    || crate::record::json::value_text(v).is_some_and(|t| canon(&t) == canon(s))
            }
        },
        _ => false,
    }
}

/// How the rows of one table pair compare.
#[derive(Debug, Clone, Default)]
pub struct RowRules {
    /// Target columns that are fixed-width text on either side.
    pub padded: HashSet<String>,
    /// Rows are documents: a field the target has and the expected row
    /// has not is a difference too (a SQL target table may have columns
    /// of its own).
    pub documents: bool,
}

impl RowRules {
    /// True when the target row holds what `expected` (the source row as
    /// the rules shape it) says: every expected column with the same
    /// value, and for documents no other field.
    pub fn rows_equal(&self, expected: &Row, actual: &Row) -> bool {
        let got: HashMap<&str, &Value> =
            actual.columns.iter().map(|c| (c.name.as_str(), c.value.as_ref().unwrap_or(&NULL))).collect();
        if self.documents && got.len() != expected.columns.len() {
            return false;
        }
        expected.columns.iter().all(|c| {
            let want = c.value.as_ref().unwrap_or(&NULL);
            got.get(c.name.as_str()).is_some_and(|v| same_value(want, v, self.padded.contains(&c.name)))
        })
    }
}

static NULL: Value = Value { kind: None };

/// The keys that differ, by kind. Keys of `missing` and `different` are
/// in the source's form, keys of `extra` in the target's (names and values
/// as each side read them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Differences {
    /// In the source (and passing the rules) but not in the target.
    pub missing: Vec<Key>,
    /// In the target but not in the source (or filtered out by the rules).
    pub extra: Vec<Key>,
    /// In both, with other values.
    pub different: Vec<Key>,
}

impl Differences {
    /// No difference at all.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.different.is_empty()
    }

    /// How many keys differ in all.
    pub fn len(&self) -> usize {
        self.missing.len() + self.extra.len() + self.different.len()
    }
}

/// An order of keys for listing them: integers by value, texts by their
/// bytes, column by column; other kinds compare equal here.
pub fn key_order(a: &[Value], b: &[Value]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for (x, y) in a.iter().zip(b) {
        let o = match (norm_key(x).kind, norm_key(y).kind) {
            (Some(Kind::Int64(p)), Some(Kind::Int64(q))) => p.cmp(&q),
            (Some(Kind::Text(p)), Some(Kind::Text(q))) => p.cmp(&q),
            _ => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// Pairs rows of the two sides by key as they arrive, in any order: a row
/// waits until the other side delivers its key, so sides whose key orders
/// differ (collations) still pair up; what is left at the end is missing
/// or extra.
#[derive(Debug, Default)]
pub struct Matcher {
    rules: RowRules,
    /// Source rows not yet paired: (source key, the row the target should hold, or `None` when the rules keep it away).
    source: HashMap<KeyId, (Key, Option<Row>)>,
    /// Target rows not yet paired: (target key, row).
    target: HashMap<KeyId, (Key, Row)>,
    different: Vec<Key>,
    /// Target keys of rows the rules keep from the target.
    filtered_in_target: Vec<Key>,
    /// Rows paired and compared.
    pub compared: u64,
}

impl Matcher {
    /// A matcher comparing rows by `rules`.
    pub fn new(rules: RowRules) -> Self {
        Matcher { rules, ..Default::default() }
    }

    /// A source row, as key and the row the target should hold (`None`:
    /// the rules keep it from the target).
    pub fn source(&mut self, key: Key, expected: Option<Row>) {
        let id = key_id(&key);
        match self.target.remove(&id) {
            Some((tkey, got)) => self.pair(key, expected, tkey, got),
            None => {
                self.source.insert(id, (key, expected));
            }
        }
    }

    /// A target row and its key.
    pub fn target(&mut self, key: Key, row: Row) {
        let id = key_id(&key);
        match self.source.remove(&id) {
            Some((skey, expected)) => self.pair(skey, expected, key, row),
            None => {
                self.target.insert(id, (key, row));
            }
        }
    }

    fn pair(&mut self, key: Key, expected: Option<Row>, target_key: Key, got: Row) {
        self.compared += 1;
        match expected {
            Some(e) if !self.rules.rows_equal(&e, &got) => self.different.push(key),
            Some(_) => {}
            // The rules keep the row away, yet the target has it.
            None => self.filtered_in_target.push(target_key),
        }
    }

    /// Rows waiting for their pair (memory held).
    pub fn pending(&self) -> usize {
        self.source.len() + self.target.len()
    }

    /// What differs: unpaired source rows that should be in the target
    /// are missing, unpaired target rows are extra.
    pub fn finish(self) -> Differences {
        let mut missing: Vec<(KeyId, Key)> =
            self.source.into_iter().filter(|(_, (_, e))| e.is_some()).map(|(id, (k, _))| (id, k)).collect();
        let mut extra: Vec<(KeyId, Key)> = self.target.into_iter().map(|(id, (k, _))| (id, k)).collect();
        extra.extend(self.filtered_in_target.into_iter().map(|k| (key_id(&k), k)));
        missing.sort_by(|a, b| key_order(&a.1, &b.1).then_with(|| a.0.cmp(&b.0)));
        extra.sort_by(|a, b| key_order(&a.1, &b.1).then_with(|| a.0.cmp(&b.0)));
        Differences {
            missing: missing.into_iter().map(|(_, k)| k).collect(),
            extra: extra.into_iter().map(|(_, k)| k).collect(),
            different: self.different,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Array, Interval, Labels, Other, Time};

    fn k(kind: Kind) -> Value {
        Value::of(kind)
    }

    #[test]
    fn engines_forms_of_one_value_are_equal() {
        let eq = |a: Kind, b: Kind| same_value(&k(a), &k(b), false);
        assert!(eq(Kind::Uint64(u64::MAX), Kind::Decimal("18446744073709551615".into())));
        assert!(eq(Kind::Int64(5), Kind::Decimal("5.00".into())));
        assert!(eq(Kind::Decimal("1.50".into()), Kind::Decimal("1.5".into())));
        assert!(!eq(Kind::Decimal("1.50".into()), Kind::Decimal("1.51".into())));
        assert!(eq(Kind::Bool(true), Kind::Int64(1)));
        assert!(!eq(Kind::Bool(true), Kind::Int64(2)));
        assert!(eq(Kind::Float32(0.1), Kind::Float64(0.1)));
        assert!(eq(Kind::Float64(f64::NAN), Kind::Float64(f64::NAN)));
        assert!(eq(Kind::EnumLabel("b c".into()), Kind::Text("b c".into())));
        assert!(eq(
            Kind::Time(Time { micros: -3_023_999_000_000, has_offset: false, offset_seconds: 0 }),
            Kind::Interval(Interval { months: 0, days: 0, micros: -3_023_999_000_000 })
        ));
        assert!(eq(
            Kind::Set(Labels { labels: vec!["x".into(), "z".into()] }),
            Kind::Array(Array { lower_bounds: Vec::new(), element_type: "text".into(), elements: vec![Value::text("x"), Value::text("z")] })
        ));
        assert!(eq(Kind::Bytes(vec![0x02, 0xaa].into()), Kind::Other(Other { type_name: "bit".into(), text: "1010101010".into() })));
        assert!(!eq(Kind::Bytes(vec![0x02, 0xab].into()), Kind::Other(Other { type_name: "bit".into(), text: "1010101010".into() })));
        assert!(eq(Kind::Json(r#"{"b": 1, "a": [1, 2.5]}"#.into()), Kind::Json(r#"{"a":[1,2.5],"b":1}"#.into())));
        let texts = Kind::Array(Array { lower_bounds: Vec::new(), element_type: "text".into(), elements: vec![Value::text("a"), Value::null(), Value::int64(3)] });
        assert!(eq(texts.clone(), Kind::Json(r#"["a", null, 3]"#.into())));
        assert!(!eq(texts, Kind::Json(r#"["a", null, 4]"#.into())));
        assert!(!eq(Kind::Text("a".into()), Kind::Text("a ".into())));
        assert!(same_value(&Value::text("ab"), &Value::text("ab "), true), "char(n) padding");
        assert!(same_value(&Value::null(), &Value { kind: None }, false));
        assert!(!same_value(&Value::null(), &Value::text(""), false));
        assert!(!eq(Kind::Int64(1), Kind::Text("1".into())));
    }

    #[test]
    fn keys_match_across_integer_widths_and_decimals() {
        assert_eq!(key_id(&[Value::int64(5)]), key_id(&[k(Kind::Int32(5))]));
        assert_eq!(key_id(&[k(Kind::Uint64(5))]), key_id(&[k(Kind::Decimal("5".into()))]));
        assert_eq!(key_id(&[k(Kind::Uint64(u64::MAX))]), key_id(&[k(Kind::Decimal("18446744073709551615".into()))]));
        assert_ne!(key_id(&[Value::int64(5)]), key_id(&[Value::text("5")]));
        // A document's `_id` as jsonb prints it and as logferry wrote it.
        let j = |s: &str| k(Kind::Json(s.into()));
        assert_eq!(key_id(&[j(r#"{"$oid": "65a1"}"#)]), key_id(&[j(r#"{"$oid":"65a1"}"#)]));
        assert_eq!(key_id(&[j(r#"{"$oid": "65a1"}"#)]), key_id(&[Value::text(r#"{"$oid":"65a1"}"#)]));
        assert_eq!(key_text(&["_id".into()], &[j(r#"{"$oid": "65a1"}"#)]), r#"{"_id":{"$oid":"65a1"}}"#);
        assert_ne!(key_id(&[Value::int64(1), Value::int64(23)]), key_id(&[Value::int64(12), Value::int64(3)]));
        assert_eq!(key_text(&["region".into(), "id".into()], &[Value::text("eu"), Value::int64(2)]), r#"{"region":"eu","id":2}"#);
        assert_eq!(normal_number("-0.00").as_deref(), Some("0"));
        assert_eq!(normal_number("-012.50").as_deref(), Some("-12.5"));
        assert_eq!(normal_number("NaN"), None);
    }

    #[test]
    fn the_matcher_pairs_rows_in_any_order() {
        let row = |id: i64, v: &str| Row::from_pairs([("id", Value::int64(id)), ("v", Value::text(v))]);
        let mut m = Matcher::new(RowRules::default());
        // Target order differs from the source's.
        m.target(vec![Value::int64(3)], row(3, "c"));
        m.source(vec![Value::int64(1)], Some(row(1, "a")));
        m.source(vec![Value::int64(2)], Some(row(2, "b")));
        m.target(vec![Value::int64(1)], row(1, "a"));
        m.source(vec![Value::int64(3)], Some(row(3, "C")));
        m.target(vec![Value::int64(9)], row(9, "z"));
        // Filtered away at the source and absent from the target: fine.
        m.source(vec![Value::int64(7)], None);
        // Filtered away at the source but present in the target: extra.
        m.source(vec![Value::int64(8)], None);
        m.target(vec![Value::int64(8)], row(8, "h"));
        assert_eq!(m.compared, 3);
        let d = m.finish();
        assert_eq!(d.missing, vec![vec![Value::int64(2)]]);
        assert_eq!(d.extra, vec![vec![Value::int64(8)], vec![Value::int64(9)]]);
        assert_eq!(d.different, vec![vec![Value::int64(3)]]);
        assert_eq!(d.len(), 4);
    }

    #[test]
    fn documents_must_have_the_same_fields_sql_rows_may_have_more() {
        let expected = Row::from_pairs([("_id", Value::int64(1)), ("a", Value::int64(2))]);
        let more = Row::from_pairs([("_id", Value::int64(1)), ("a", Value::int64(2)), ("b", Value::int64(3))]);
        assert!(RowRules { documents: false, ..Default::default() }.rows_equal(&expected, &more));
        assert!(!RowRules { documents: true, ..Default::default() }.rows_equal(&expected, &more));
        assert!(RowRules { documents: true, ..Default::default() }.rows_equal(&expected, &expected));
        let fewer = Row::from_pairs([("_id", Value::int64(1))]);
        assert!(!RowRules::default().rows_equal(&expected, &fewer));
    }
}
