//! The JSON form's specification: pinned texts, round trips (also as
//! property tests), reader errors and the calendar.

use super::fixtures::{arb_change, assert_same, full_change, logical_change, sample_changes};
use super::*;
use crate::record::calendar::{civil_from_days, days_from_civil, days_in_month};
use crate::record::{
    value::Kind, Array, Binary, BsonTimestamp, Change, Column, Date, Document,
    Interval, Labels, Op, Other, Regex, Row,
    Special, Time, Timestamp, Value,
};
use bytes::Bytes;
use proptest::prelude::*;

fn to_json(c: &Change) -> String {
    let mut out = Vec::new();
    write_change(c, &mut out);
    String::from_utf8(out).expect("the writer emits UTF-8")
}

/// The JSON text of a record whose `after` row is `{"v": value}`.
fn value_json(value: Value) -> String {
    let c = Change { after: Some(Row::from_pairs([("v", value)])), ..Change::default() };
    let s = to_json(&c);
    s.strip_prefix(r#"{"op":"unspecified","after":{"v":"#)
        .and_then(|s| s.strip_suffix("}}"))
        .unwrap_or_else(|| panic!("unexpected envelope: {s}"))
        .to_owned()
}

fn err(input: &str) -> String {
    read_change(input.as_bytes()).expect_err(input).to_string()
}

#[test]
fn samples_round_trip() {
    for c in sample_changes() {
        let json = to_json(&c);
        let back = read_change(json.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{json}"));
        assert_same(&c, &back);
        // The output is valid JSON for any other parser too.
        serde_json::from_str::<serde_json::Value>(&json).unwrap_or_else(|e| panic!("{e}\n{json}"));
        // Writing again gives the same text.
        assert_eq!(to_json(&back), json);
    }
}

#[test]
fn full_record_is_pinned() {
    assert_eq!(
        to_json(&full_change()),
        concat!(
            r#"{"pipeline":"shop","source":"postgres","seq":42,"op":"update","#,
            r#""table":{"schema":"public","name":"orders"},"key":["id"],"#,
            r#""before":{"id":{"int64":1},"note":{"text":"old"}},"#,
            r#""after":{"id":{"int64":1},"note":{"text":"new"},"price":{"decimal":"12.3400"},"body":{"unchanged":{}}},"#,
            r#""position":{"token":"AAAAAAFrN0g=","display":"0/16B3748"},"#,
            r#""tx_id":"771","commit_time":"2024-02-29T11:45:00.123456Z","tx_end":true,"#,
            r#""schema_change":{"schema":{"table":{"schema":"public","name":"orders"},"#,
            r#""columns":[{"name":"id","source_type":"bigint"},{"name":"note","source_type":"text","nullable":true}],"#,
            r#""key":["id"]},"ddl":"ALTER TABLE orders ADD note text"},"#,
            r#""message":{"prefix":"app","content":"aGkA","transactional":true}}"#,
        )
    );
    assert_eq!(to_json(&Change::default()), r#"{"op":"unspecified"}"#);
}

#[test]
fn logical_types_and_documents_are_pinned() {
    let c = logical_change();
    assert_eq!(
        to_json(&c),
        concat!(
            r#"{"op":"schema_change","table":{"schema":"shop","name":"items"},"#,
            r#""schema_change":{"schema":{"table":{"schema":"shop","name":"items"},"columns":["#,
            r#"{"name":"id","source_type":"bigint unsigned","logical":{"kind":"integer","width":8,"unsigned":true},"type_dialect":"mysql"},"#,
            r#"{"name":"price","source_type":"decimal(12,2)","nullable":true,"logical":{"kind":"decimal","precision":12,"scale":2},"type_dialect":"mysql"},"#,
            r#"{"name":"code","source_type":"char(3)","nullable":true,"logical":{"kind":"text","width":3,"fixed_length":true},"type_dialect":"mysql"},"#,
            r#"{"name":"flag","source_type":"tinyint(1)","nullable":true,"logical":{"kind":"integer","width":1,"boolean_like":true},"type_dialect":"mysql"},"#,
            r#"{"name":"at","source_type":"timestamp(0) with time zone","nullable":true,"logical":{"kind":"timestamp","has_precision":true,"with_time_zone":true},"type_dialect":"postgresql"},"#,
            r#"{"name":"mood","source_type":"public.mood","nullable":true,"logical":{"kind":"enum","labels":["sad","ok"],"name":"public.mood"},"type_dialect":"postgresql"},"#,
            r#"{"name":"tags","source_type":"numeric(5,1)[]","nullable":true,"logical":{"kind":"array","element":{"kind":"decimal","precision":5,"scale":1}},"type_dialect":"postgresql"},"#,
            r#"{"name":"later","nullable":true,"logical":{"kind":99}},"#,
            r#"{"name":"doc","source_type":"object","nullable":true,"logical":{"kind":"other"},"type_dialect":"bson"},"#,
            r#"{"name":"old","source_type":"text","nullable":true}],"#,
            r#""key":["id"],"documents":true}},"documents":true}"#,
        )
    );
    let back = read_change(to_json(&c).as_bytes()).unwrap();
    assert_eq!(back, c);
    // Every kind's name reads back as that kind; names are lowercase only.
    for k in 0..=20 {
        let name = logical_kind_name(k).unwrap();
        assert_eq!(logical_kind_from_name(&name).map(|k| k as i32), Some(k), "{name}");
        assert_eq!(logical_kind_from_name(&name.to_uppercase()), None);
    }
    assert_eq!(logical_kind_name(21), None);
    assert_eq!(
        err(r#"{"schema_change":{"schema":{"columns":[{"logical":{"kind":"INTEGER"}}]}}}"#),
        "schema_change.schema.columns[0].logical.kind: unknown logical kind \"INTEGER\""
    );
}

#[test]
fn values_are_pinned() {
    use Kind as K;
    let ts = |seconds, nanos| Timestamp { seconds, nanos, special: 0 };
    let cases: Vec<(Value, &str)> = vec![
        (Value::null(), "null"),
        (Value::int64(i64::MIN), r#"{"int64":-9223372036854775808}"#),
        (Value::of(K::Uint64(u64::MAX)), r#"{"uint64":18446744073709551615}"#),
        (Value::of(K::Float64(0.1)), r#"{"float64":0.1}"#),
        (Value::of(K::Float64(-0.0)), r#"{"float64":-0.0}"#),
        (Value::of(K::Float64(f64::NAN)), r#"{"float64":"NaN"}"#),
        (Value::of(K::Float32(f32::NEG_INFINITY)), r#"{"float32":"-Infinity"}"#),
        (Value::of(K::Float32(0.1)), r#"{"float32":0.1}"#),
        (Value::text("a\u{1}\"é\n"), r#"{"text":"a\u0001\"é\n"}"#),
        (Value::of(K::Bytes(Bytes::from_static(&[0, 255, 1, 2]))), r#"{"bytes":"AP8BAg=="}"#),
        (
            Value::of(K::Uuid(Bytes::from_static(&[
                0x0e, 0x4c, 0x1c, 0x57, 0x8f, 0x4a, 0x4d, 0x5e, 0x9a, 0x3b, 0x2b, 0x1c, 0x0d, 0x9e, 0x8f, 0x7a,
            ]))),
            r#"{"uuid":"0e4c1c57-8f4a-4d5e-9a3b-2b1c0d9e8f7a"}"#,
        ),
        (Value::of(K::Uuid(Bytes::from_static(&[1, 0xab]))), r#"{"uuid":"01ab"}"#),
        (Value::of(K::Json("{\"a\":1}".into())), r#"{"json":"{\"a\":1}"}"#),
        (Value::of(K::Set(Labels { labels: vec!["a".into(), "b".into()] })), r#"{"set":["a","b"]}"#),
        (Value::of(K::Date(Date { days: 19782, special: 0 })), r#"{"date":"2024-02-29"}"#),
        (Value::of(K::Date(Date { days: -719529, special: 0 })), r#"{"date":"-000001-12-31"}"#),
        (Value::of(K::Date(Date { days: 2932897, special: 0 })), r#"{"date":"+010000-01-01"}"#),
        (Value::of(K::Date(Date { days: 0, special: Special::Zero as i32 })), r#"{"date":"0000-00-00"}"#),
        (Value::of(K::Date(Date { days: 0, special: Special::NegInfinity as i32 })), r#"{"date":"-infinity"}"#),
        (
            Value::of(K::Time(Time { micros: -(838 * 3600 + 59 * 60 + 59) * 1_000_000, ..Default::default() })),
            r#"{"time":"-838:59:59"}"#,
        ),
        (
            Value::of(K::Time(Time { micros: 49_500_500_000, has_offset: true, offset_seconds: -19_800 })),
            r#"{"time":"13:45:00.5-05:30"}"#,
        ),
        (
            Value::of(K::Time(Time { micros: 0, has_offset: true, offset_seconds: 3661 })),
            r#"{"time":"00:00:00+01:01:01"}"#,
        ),
        (Value::of(K::Timestamp(ts(1_709_214_300, 123_456_000))), r#"{"timestamp":"2024-02-29T13:45:00.123456"}"#),
        (Value::of(K::Timestamp(ts(-1, 1))), r#"{"timestamp":"1969-12-31T23:59:59.000000001"}"#),
        (Value::of(K::Timestamptz(ts(1_709_207_100, 500_000_000))), r#"{"timestamptz":"2024-02-29T11:45:00.5Z"}"#),
        (
            Value::of(K::Timestamptz(Timestamp { special: Special::Zero as i32, ..Default::default() })),
            r#"{"timestamptz":"0000-00-00 00:00:00"}"#,
        ),
        (Value::of(K::Interval(Interval { months: 1, days: 2, micros: 3 })), r#"{"interval":{"months":1,"days":2,"micros":3}}"#),
        (
            Value::of(K::Array(Array {
                lower_bounds: Vec::new(),
                element_type: "int4".into(),
                elements: vec![Value::int64(1), Value::null()],
            })),
            r#"{"array":{"element_type":"int4","elements":[{"int64":1},null]}}"#,
        ),
        (
            Value::of(K::Array(Array {
                lower_bounds: vec![0, -3],
                element_type: "int4".into(),
                elements: vec![Value::of(K::Array(Array {
                    lower_bounds: Vec::new(),
                    element_type: "int4".into(),
                    elements: vec![Value::int64(7)],
                }))],
            })),
            r#"{"array":{"element_type":"int4","elements":[{"array":{"element_type":"int4","elements":[{"int64":7}]}}],"lower_bounds":[0,-3]}}"#,
        ),
        (
            Value::of(K::Document(Document {
                fields: vec![Column { name: "a".into(), value: Some(Value::of(K::Int32(1))) }],
            })),
            r#"{"document":{"a":{"int32":1}}}"#,
        ),
        (Value::unchanged(), r#"{"unchanged":{}}"#),
        (
            Value::of(K::Other(Other { type_name: "point".into(), text: "(1,2)".into() })),
            r#"{"other":{"type":"point","text":"(1,2)"}}"#,
        ),
        (
            Value::of(K::Binary(Binary { subtype: 4, data: Bytes::from_static(&[1, 2, 3]) })),
            r#"{"binary":{"subtype":4,"data":"AQID"}}"#,
        ),
        (
            Value::of(K::Regex(Regex { pattern: "^a".into(), options: "i".into() })),
            r#"{"regex":{"pattern":"^a","options":"i"}}"#,
        ),
        (
            Value::of(K::BsonTimestamp(BsonTimestamp { seconds: 1, increment: 2 })),
            r#"{"bson_timestamp":{"seconds":1,"increment":2}}"#,
        ),
        (
            Value::of(K::ObjectId(Bytes::from_static(&[0x65, 0xf1, 0xc0, 0xff, 0xee, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]))),
            r#"{"object_id":"65f1c0ffee00112233445566"}"#,
        ),
    ];
    for (value, json) in cases {
        assert_eq!(value_json(value), json);
    }
}

#[test]
fn missing_values_are_written_as_null() {
    let c = Change {
        after: Some(Row {
            columns: vec![
                Column { name: "a".into(), value: None },
                Column { name: "b".into(), value: Some(Value { kind: None }) },
            ],
        }),
        ..Change::default()
    };
    let json = to_json(&c);
    assert_eq!(json, r#"{"op":"unspecified","after":{"a":null,"b":null}}"#);
    let after = read_change(json.as_bytes()).unwrap().after.unwrap();
    assert_eq!(after, Row::from_pairs([("a", Value::null()), ("b", Value::null())]));
}

#[test]
fn reader_accepts_whitespace_any_order_and_escapes() {
    let input = " {\n \"after\" : { \"b\" : { \"text\" : \"\\u00e9\\ud83e\\udd80\\/\" } , \"a\":null },\r\n\t\"op\":\"insert\" , \"seq\" : 7 }\n";
    let c = read_change(input.as_bytes()).unwrap();
    assert_eq!(c.op(), Op::Insert);
    assert_eq!(c.seq, 7);
    let after = c.after.unwrap();
    assert_eq!(after.columns[0].name, "b");
    assert_eq!(after.columns[1].name, "a");
    assert_eq!(after.get("b"), Some(&Value::text("é🦀/")));
    // Lenient number forms and the uppercase / undashed uuid forms.
    let c = read_change(br#"{"after":{"f":{"float64":1E2},"u":{"uuid":"0E4C1C578F4A4D5E9A3B2B1C0D9E8F7A"}}}"#).unwrap();
    let after = c.after.unwrap();
    assert_eq!(after.get("f"), Some(&Value::of(Kind::Float64(100.0))));
    let json = to_json(&Change { after: Some(after), ..Change::default() });
    assert!(json.contains(r#""u":{"uuid":"0e4c1c57-8f4a-4d5e-9a3b-2b1c0d9e8f7a"}"#), "{json}");
}

#[test]
fn errors_name_the_field() {
    assert_eq!(
        err(r#"{"after":{"price":{"decimal":12.5}}}"#),
        "after.price.decimal: expected a decimal string, found a number"
    );
    assert_eq!(err(r#"{"seq":-1}"#), "seq: expected an unsigned 64-bit integer, found -1");
    assert_eq!(
        err(r#"{"after":{"tags":{"array":{"elements":[{"int64":1},{"int64":"2"}]}}}}"#),
        "after.tags.array.elements[1].int64: expected a signed 64-bit integer, found a string"
    );
    assert_eq!(
        err(r#"{"before":{"d":{"date":"2023-02-29"}}}"#),
        "before.d.date: invalid date \"2023-02-29\": expected YYYY-MM-DD, ±YYYYYY-MM-DD, infinity, -infinity or 0000-00-00"
    );
    assert_eq!(err(r#"{"after":{"a b":{"txt":"x"}}}"#), "after[\"a b\"].txt: unknown value kind");
    assert_eq!(err(r#"{"after":{"x":{"text":"a","int64":1}}}"#), "after.x: a value object has exactly one key, the kind");
    assert_eq!(err(r#"{"after":{"x":{}}}"#), "after.x: empty value object: expected one key naming the kind");
    assert_eq!(err(r#"{"op":"upsert"}"#), "op: unknown op \"upsert\"");
    assert_eq!(err(r#"{"tabel":{}}"#), "tabel: unknown field");
    assert_eq!(err(r#"{"seq":1,"seq":2}"#), "seq: repeated field");
    assert_eq!(err(r#"{"commit_time":"2024-02-29T11:45:00"}"#).split(':').next(), Some("commit_time"));
    assert_eq!(err(r#"{"after":{"t":{"timestamp":"2024-02-29T11:45:00Z"}}}"#).split(':').next(), Some("after.t.timestamp"));
    assert_eq!(err(r#"{"after":{"t":{"time":"12:60:00"}}}"#).split(':').next(), Some("after.t.time"));
    assert_eq!(err(r#"{"after":{"t":{"time":"12:00:00.1234567"}}}"#).split(':').next(), Some("after.t.time"));
    assert_eq!(err("[1]"), "record: expected an object (a change record), found an array");
    assert_eq!(err(r#"{"pipeline":"a",}"#), "record: malformed JSON at byte 16: expected a field name in double quotes");
    assert_eq!(err(r#"{"pipeline":"a"} x"#), "record: malformed JSON at byte 17: unexpected characters after the record");
    assert_eq!(err(r#"{"after":{"x":{"text":"a"#), "after.x.text: malformed JSON at byte 24: unterminated string");
    assert_eq!(err("{\"pipeline\":\"\u{1}\"}"), "pipeline: malformed JSON at byte 13: unescaped control character in string");
    assert_eq!(err(r#"{"pipeline":"\ud800"}"#), "pipeline: malformed JSON at byte 19: unpaired surrogate in \\u escape");
    assert_eq!(
        read_change(b"{\"pipeline\":\"\xff\"}").unwrap_err().to_string(),
        "record: malformed JSON at byte 13: invalid UTF-8"
    );
    assert!(err(r#"{"after":{"b":{"bytes":"AP8"}}}"#).starts_with("after.b.bytes: expected a base64 string"));
    assert_eq!(err(r#"{"after":{"i":{"int32":2147483648}}}"#), "after.i.int32: expected a signed 32-bit integer, found 2147483648");
    assert_eq!(err(r#"{"after":{"i":{"int64":1.0}}}"#), "after.i.int64: expected a signed 64-bit integer, found 1.0");
    assert_eq!(err(r#"{"after":{"d":{"date":"+1000000000000-01-01"}}}"#).split(':').next(), Some("after.d.date"));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let mut s = String::from(r#"{"after":{"x":"#);
    for _ in 0..100_000 {
        s.push_str(r#"{"array":{"elements":["#);
    }
    let e = err(&s);
    assert!(e.ends_with(": values nested too deeply"), "{}", &e[e.len() - 60..]);
}

#[test]
fn calendar_matches_a_day_by_day_walk() {
    // From 1970-01-01 forward and backward over 800 years, every day.
    for dir in [1i64, -1] {
        let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
        for n in 0..(800 * 366) {
            let days = n * dir;
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            assert_eq!(days_from_civil(y, m, d), i128::from(days));
            if dir > 0 {
                d += 1;
                if d > days_in_month(y, m) {
                    d = 1;
                    m += 1;
                    if m > 12 {
                        m = 1;
                        y += 1;
                    }
                }
            } else {
                d -= 1;
                if d == 0 {
                    if m == 1 {
                        m = 12;
                        y -= 1;
                    } else {
                        m -= 1;
                    }
                    d = days_in_month(y, m);
                }
            }
        }
    }
}

#[test]
fn strings_are_escaped_as_serde_json_does() {
    let mut all = String::new();
    for c in (0u32..0x100).filter_map(char::from_u32) {
        all.push(c);
        let one = c.to_string();
        let mut got = Vec::new();
        write_json_string(&mut got, &one);
        assert_eq!(String::from_utf8(got).unwrap(), serde_json::to_string(&one).unwrap(), "{c:?}");
    }
    for s in [all.as_str(), "", "plain", "é🦀\u{2028}", "a\"b\\c\n\u{1}\u{7f}", "\u{0}"] {
        let mut got = String::from("x");
        push_json_string(&mut got, s);
        assert_eq!(got, format!("x{}", serde_json::to_string(s).unwrap()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn json_round_trips(c in arb_change()) {
        let json = to_json(&c);
        let back = read_change(json.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}\n{json}")))?;
        assert_same(&c, &back);
        serde_json::from_str::<serde_json::Value>(&json).map_err(|e| TestCaseError::fail(format!("{e}\n{json}")))?;
    }

    #[test]
    fn floats_round_trip_bit_exact(f in any::<u64>(), g in any::<u32>()) {
        let (f, g) = (f64::from_bits(f), f32::from_bits(g));
        let c = Change {
            after: Some(Row::from_pairs([
                ("f", Value::of(Kind::Float64(f))),
                ("g", Value::of(Kind::Float32(g))),
            ])),
            ..Change::default()
        };
        let back = read_change(to_json(&c).as_bytes()).unwrap().after.unwrap();
        match (&back.columns[0].value, &back.columns[1].value) {
            (Some(Value { kind: Some(Kind::Float64(f2)) }), Some(Value { kind: Some(Kind::Float32(g2)) })) => {
                prop_assert!(f2.to_bits() == f.to_bits() || (f.is_nan() && f2.is_nan()));
                prop_assert!(g2.to_bits() == g.to_bits() || (g.is_nan() && g2.is_nan()));
            }
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn strings_escape_as_serde_json_does(s in any::<String>()) {
        let mut got = Vec::new();
        write_json_string(&mut got, &s);
        prop_assert_eq!(String::from_utf8(got).unwrap(), serde_json::to_string(&s).unwrap());
    }

    #[test]
    fn reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = read_change(&bytes);
    }

    #[test]
    fn reader_never_panics_on_mutated_records(c in arb_change(), at in any::<usize>(), b in any::<u8>()) {
        let mut json = to_json(&c).into_bytes();
        let at = at % json.len();
        json[at] = b;
        let _ = read_change(&json);
        json.truncate(at);
        let _ = read_change(&json);
    }
}
