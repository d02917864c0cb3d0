//! Records and strategies shared by the JSON and protobuf tests.

use super::super::{
    value::Kind, Array, Binary, BsonTimestamp, Change, Column, ColumnSchema, Date, Document,
    Interval, Labels, LogicalKind, LogicalMessage, LogicalType, Op, Other, Position, Regex, Row, SchemaChange, Special,
    TableRef, TableSchema, Time, Timestamp, Value,
};
use bytes::Bytes;
use proptest::prelude::*;

fn v(k: Kind) -> Value {
    Value::of(k)
}

fn date(days: i32) -> Value {
    v(Kind::Date(Date { days, special: 0 }))
}

fn date_special(s: Special) -> Value {
    v(Kind::Date(Date { days: 0, special: s as i32 }))
}

fn ts(seconds: i64, nanos: u32) -> Timestamp {
    Timestamp { seconds, nanos, special: 0 }
}

fn ts_special(s: Special) -> Timestamp {
    Timestamp { seconds: 0, nanos: 0, special: s as i32 }
}

fn time(micros: i64) -> Value {
    v(Kind::Time(Time { micros, has_offset: false, offset_seconds: 0 }))
}

fn timetz(micros: i64, offset_seconds: i32) -> Value {
    v(Kind::Time(Time { micros, has_offset: true, offset_seconds }))
}

fn doc(fields: Vec<(&str, Value)>) -> Value {
    v(Kind::Document(Document {
        fields: fields
            .into_iter()
            .map(|(n, v)| Column { name: n.into(), value: Some(v) })
            .collect(),
    }))
}

fn array(element_type: &str, elements: Vec<Value>) -> Value {
    v(Kind::Array(Array { lower_bounds: Vec::new(), element_type: element_type.into(), elements }))
}

/// One value per case: every arm of `value::Kind`, with the edge cases.
pub(crate) fn sample_values() -> Vec<Value> {
    let uuid = Bytes::from_static(&[
        0x0e, 0x4c, 0x1c, 0x57, 0x8f, 0x4a, 0x4d, 0x5e, 0x9a, 0x3b, 0x2b, 0x1c, 0x0d, 0x9e, 0x8f, 0x7a,
    ]);
    vec![
        Value::null(),
        v(Kind::Bool(true)),
        v(Kind::Bool(false)),
        v(Kind::Int64(0)),
        v(Kind::Int64(-5)),
        v(Kind::Int64(i64::MIN)),
        v(Kind::Int64(i64::MAX)),
        v(Kind::Uint64(0)),
        v(Kind::Uint64(u64::MAX)),
        v(Kind::Int32(7)),
        v(Kind::Int32(i32::MIN)),
        v(Kind::Float32(1.5)),
        v(Kind::Float32(0.1)),
        v(Kind::Float32(-0.0)),
        v(Kind::Float32(f32::NAN)),
        v(Kind::Float32(f32::INFINITY)),
        v(Kind::Float32(f32::NEG_INFINITY)),
        v(Kind::Float32(f32::MAX)),
        v(Kind::Float32(f32::MIN_POSITIVE)),
        v(Kind::Float32(f32::from_bits(1))),
        v(Kind::Float32(16777217.0)),
        v(Kind::Float64(0.1)),
        v(Kind::Float64(-0.0)),
        v(Kind::Float64(0.0)),
        v(Kind::Float64(f64::NAN)),
        v(Kind::Float64(-f64::NAN)),
        v(Kind::Float64(f64::INFINITY)),
        v(Kind::Float64(f64::NEG_INFINITY)),
        v(Kind::Float64(f64::MAX)),
        v(Kind::Float64(f64::MIN)),
        v(Kind::Float64(5e-324)),
        v(Kind::Float64(2.2250738585072014e-308)),
        v(Kind::Float64(1e21)),
        v(Kind::Float64(123456789012345680.0)),
        v(Kind::Float64(9007199254740993.0)),
        v(Kind::Float64(0.30000000000000004)),
        v(Kind::Decimal("12.3400".into())),
        v(Kind::Decimal("-0.000000000000000000001".into())),
        v(Kind::Decimal("NaN".into())),
        v(Kind::Decimal(String::new())),
        v(Kind::Decimal128("1.0E+10".into())),
        v(Kind::Text(String::new())),
        v(Kind::Text("héllo ✓ 🦀 ﬀ".into())),
        v(Kind::Text("\u{0}\u{1}\u{1f}\t\n\r\u{8}\u{c}\"\\/\u{7f}\u{2028}\u{feff}".into())),
        v(Kind::Bytes(Bytes::new())),
        v(Kind::Bytes(Bytes::from_static(&[0, 255, 1, 2]))),
        v(Kind::Date(Date { days: 0, special: 0 })),
        date(19782),
        date(-1),
        date(-719528),
        date(-719529),
        date(2932897),
        date(i32::MIN),
        date(i32::MAX),
        date_special(Special::PosInfinity),
        date_special(Special::NegInfinity),
        date_special(Special::Zero),
        time(0),
        time(49_500_123_456),
        time(-(838 * 3600 + 59 * 60 + 59) * 1_000_000),
        time((838 * 3600 + 59 * 60 + 59) * 1_000_000 + 500_000),
        time(-1),
        time(i64::MIN),
        time(i64::MAX),
        timetz(49_500_000_000, 7200),
        timetz(0, 0),
        timetz(1, -19_800),
        timetz(86_399_999_999, 3661),
        timetz(-5, i32::MIN),
        timetz(5, i32::MAX),
        v(Kind::Timestamp(ts(0, 0))),
        v(Kind::Timestamp(ts(1_709_214_300, 123_456_000))),
        v(Kind::Timestamp(ts(-1, 1))),
        v(Kind::Timestamp(ts(-62_167_219_200, 500_000_000))),
        v(Kind::Timestamp(ts(253_402_300_800, 0))),
        v(Kind::Timestamp(ts(i64::MIN, 0))),
        v(Kind::Timestamp(ts(i64::MAX, 999_999_999))),
        v(Kind::Timestamp(ts_special(Special::PosInfinity))),
        v(Kind::Timestamp(ts_special(Special::NegInfinity))),
        v(Kind::Timestamp(ts_special(Special::Zero))),
        v(Kind::Timestamptz(ts(1_709_207_100, 123_456_000))),
        v(Kind::Timestamptz(ts(951_782_400, 100))),
        v(Kind::Timestamptz(ts(i64::MIN, 999_999_999))),
        v(Kind::Timestamptz(ts_special(Special::PosInfinity))),
        v(Kind::Timestamptz(ts_special(Special::NegInfinity))),
        v(Kind::Timestamptz(ts_special(Special::Zero))),
        v(Kind::Interval(Interval { months: 1, days: 2, micros: 3 })),
        v(Kind::Interval(Interval { months: i32::MIN, days: -1, micros: i64::MIN })),
        v(Kind::Interval(Interval::default())),
        v(Kind::Uuid(uuid)),
        v(Kind::Uuid(Bytes::from_static(&[1, 2, 0xab]))),
        v(Kind::Uuid(Bytes::new())),
        v(Kind::Json("{\"a\":1}".into())),
        v(Kind::Json(" [1, 2.50 , {\"b\" : null}] \n".into())),
        v(Kind::EnumLabel("red".into())),
        v(Kind::EnumLabel(String::new())),
        v(Kind::Set(Labels { labels: vec!["a".into(), "b".into()] })),
        v(Kind::Set(Labels::default())),
        array("int4", vec![v(Kind::Int64(1)), Value::null(), v(Kind::Int64(-3))]),
        array("", vec![]),
        array(
            "_int4",
            vec![
                array("int4", vec![v(Kind::Int64(1)), v(Kind::Int64(2))]),
                array("int4", vec![array("int4", vec![]), Value::null()]),
            ],
        ),
        doc(vec![]),
        doc(vec![
            ("_id", v(Kind::ObjectId(Bytes::from_static(&[0x65, 0xf1, 0xc0, 0xff, 0xee, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66])))),
            ("inner", doc(vec![("x", v(Kind::Int32(1))), ("deeper", doc(vec![("y", Value::null())]))])),
            ("list", array("", vec![doc(vec![("k", v(Kind::Text("v".into())))])])),
            ("dup", v(Kind::Int32(1))),
            ("dup", v(Kind::Int32(2))),
            ("", v(Kind::Bool(true))),
            ("a.b \"c\"\n", v(Kind::Bool(false))),
        ]),
        Value::unchanged(),
        v(Kind::Other(Other { type_name: "point".into(), text: "(1,2)".into() })),
        v(Kind::Other(Other::default())),
        v(Kind::Binary(Binary { subtype: 4, data: Bytes::from_static(b"\x01\x02\x03") })),
        v(Kind::Binary(Binary { subtype: u32::MAX, data: Bytes::new() })),
        v(Kind::Regex(Regex { pattern: "^a.*\\d$".into(), options: "i".into() })),
        v(Kind::BsonTimestamp(BsonTimestamp { seconds: 1, increment: 2 })),
        v(Kind::BsonTimestamp(BsonTimestamp { seconds: u32::MAX, increment: u32::MAX })),
        v(Kind::ObjectId(Bytes::new())),
        v(Kind::Decimal128("-Infinity".into())),
    ]
}

/// A record with every top-level field set.
pub(crate) fn full_change() -> Change {
    Change {
        pipeline: "shop".into(),
        source: "postgres".into(),
        seq: 42,
        op: Op::Update as i32,
        table: Some(TableRef { schema: "public".into(), name: "orders".into() }),
        key_columns: vec!["id".into()],
        before: Some(Row::from_pairs([("id", Value::int64(1)), ("note", Value::text("old"))])),
        after: Some(Row::from_pairs([
            ("id", Value::int64(1)),
            ("note", Value::text("new")),
            ("price", v(Kind::Decimal("12.3400".into()))),
            ("body", Value::unchanged()),
        ])),
        position: Some(Position { token: Bytes::from_static(&[0, 0, 0, 0, 1, 0x6b, 0x37, 0x48]), display: "0/16B3748".into() }),
        tx_id: "771".into(),
        commit_time: Some(ts(1_709_207_100, 123_456_000)),
        tx_end: true,
        // Internal to a run (the log order); not in the JSON form.
        copied: false,
        schema_change: Some(SchemaChange {
            schema: Some(TableSchema {
                table: Some(TableRef { schema: "public".into(), name: "orders".into() }),
                columns: vec![
                    ColumnSchema { name: "id".into(), source_type: "bigint".into(), nullable: false, logical: None, type_dialect: String::new() },
                    ColumnSchema { name: "note".into(), source_type: "text".into(), nullable: true, logical: None, type_dialect: String::new() },
                ],
                key_columns: vec!["id".into()],
                documents: false,
            }),
            ddl: "ALTER TABLE orders ADD note text".into(),
        }),
        message: Some(LogicalMessage { prefix: "app".into(), content: Bytes::from_static(b"hi\0"), transactional: true }),
        documents: false,
    }
}

/// A schema record with every field the canonical JSON gained with logical
/// types: `documents` on the record and the table, and per column a
/// `logical` type (each of its fields, a nested element, a kind number this
/// version does not know, an all-default one) and a `type_dialect`.
pub(crate) fn logical_change() -> Change {
    let col = |name: &str, source_type: &str, dialect: &str, logical: Option<LogicalType>| ColumnSchema {
        name: name.into(),
        source_type: source_type.into(),
        nullable: true,
        logical,
        type_dialect: dialect.into(),
    };
    let kind = |k: LogicalKind| LogicalType { kind: k as i32, ..Default::default() };
    let columns = vec![
        ColumnSchema {
            nullable: false,
            ..col(
                "id",
                "bigint unsigned",
                "mysql",
                Some(LogicalType { width: 8, unsigned: true, ..kind(LogicalKind::LogicalInteger) }),
            )
        },
        col(
            "price",
            "decimal(12,2)",
            "mysql",
            Some(LogicalType { precision: 12, scale: 2, ..kind(LogicalKind::LogicalDecimal) }),
        ),
        col("code", "char(3)", "mysql", Some(LogicalType { width: 3, fixed_length: true, ..kind(LogicalKind::LogicalText) })),
        col(
            "flag",
            "tinyint(1)",
            "mysql",
            Some(LogicalType { width: 1, boolean_like: true, ..kind(LogicalKind::LogicalInteger) }),
        ),
        col(
            "at",
            "timestamp(0) with time zone",
            "postgresql",
            Some(LogicalType { has_precision: true, with_time_zone: true, ..kind(LogicalKind::LogicalTimestamp) }),
        ),
        col(
            "mood",
            "public.mood",
            "postgresql",
            Some(LogicalType {
                labels: vec!["sad".into(), "ok".into()],
                name: "public.mood".into(),
                ..kind(LogicalKind::LogicalEnum)
            }),
        ),
        col(
            "tags",
            "numeric(5,1)[]",
            "postgresql",
            Some(LogicalType {
                element: Some(Box::new(LogicalType { precision: 5, scale: 1, ..kind(LogicalKind::LogicalDecimal) })),
                ..kind(LogicalKind::LogicalArray)
            }),
        ),
        col("later", "", "", Some(LogicalType { kind: 99, ..Default::default() })),
        col("doc", "object", "bson", Some(LogicalType::default())),
        col("old", "text", "", None),
    ];
    Change {
        op: Op::SchemaChange as i32,
        table: Some(TableRef { schema: "shop".into(), name: "items".into() }),
        schema_change: Some(SchemaChange {
            schema: Some(TableSchema {
                table: Some(TableRef { schema: "shop".into(), name: "items".into() }),
                columns,
                key_columns: vec!["id".into()],
                documents: true,
            }),
            ddl: String::new(),
        }),
        documents: true,
        ..Change::default()
    }
}

/// The sample records: the full one, edge cases of the envelope, and one
/// insert per sample value.
pub(crate) fn sample_changes() -> Vec<Change> {
    let mut out = vec![
        full_change(),
        Change::default(),
        Change {
            op: 99,
            table: Some(TableRef::default()),
            before: Some(Row::default()),
            position: Some(Position::default()),
            commit_time: Some(ts_special(Special::NegInfinity)),
            schema_change: Some(SchemaChange::default()),
            message: Some(LogicalMessage::default()),
            ..Change::default()
        },
        Change {
            op: Op::Heartbeat as i32,
            seq: u64::MAX,
            commit_time: Some(ts(0, 0)),
            schema_change: Some(SchemaChange {
                schema: Some(TableSchema { columns: vec![ColumnSchema::default()], ..Default::default() }),
                ddl: String::new(),
            }),
            ..Change::default()
        },
    ];
    out.push(logical_change());
    for (i, value) in sample_values().into_iter().enumerate() {
        out.push(Change {
            pipeline: "p".into(),
            source: "generate".into(),
            seq: i as u64 + 1,
            op: Op::Insert as i32,
            table: Some(TableRef { schema: "public".into(), name: "t".into() }),
            key_columns: vec!["id".into()],
            after: Some(Row::from_pairs([("id", Value::int64(i as i64)), ("v", value)])),
            ..Change::default()
        });
    }
    out
}

/// Replaces every NaN by the default quiet NaN, the form the JSON reader
/// gives back.
fn canonical_nans(c: &mut Change) {
    fn value(v: &mut Value) {
        match &mut v.kind {
            Some(Kind::Float32(f)) if f.is_nan() => *f = f32::NAN,
            Some(Kind::Float64(f)) if f.is_nan() => *f = f64::NAN,
            Some(Kind::Array(a)) => a.elements.iter_mut().for_each(value),
            Some(Kind::Document(d)) => d.fields.iter_mut().filter_map(|c| c.value.as_mut()).for_each(value),
            _ => {}
        }
    }
    for row in [&mut c.before, &mut c.after].into_iter().flatten() {
        row.columns.iter_mut().filter_map(|c| c.value.as_mut()).for_each(value);
    }
}

/// Asserts `a == b` with NaNs equal to each other (compares the protobuf
/// encodings after making NaNs canonical, so -0.0 != 0.0 still holds).
pub(crate) fn assert_same(a: &Change, b: &Change) {
    let (mut a, mut b) = (a.clone(), b.clone());
    canonical_nans(&mut a);
    canonical_nans(&mut b);
    let (ea, eb) = (prost::Message::encode_to_vec(&a), prost::Message::encode_to_vec(&b));
    if ea != eb {
        assert_eq!(a, b, "records differ");
        panic!("encodings differ but records compare equal:\n{a:?}\n{b:?}");
    }
}

fn arb_special() -> impl Strategy<Value = Special> {
    prop_oneof![
        6 => Just(Special::Finite),
        1 => Just(Special::PosInfinity),
        1 => Just(Special::NegInfinity),
        1 => Just(Special::Zero),
    ]
}

fn arb_timestamp() -> impl Strategy<Value = Timestamp> {
    (arb_special(), any::<i64>(), 0..1_000_000_000u32, prop_oneof![Just(0u32), Just(1000), Just(1)]).prop_map(
        |(s, seconds, nanos, unit)| match s {
            Special::Finite => {
                let nanos = nanos.checked_div(unit).map_or(0, |n| n * unit);
                Timestamp { seconds, nanos, special: 0 }
            }
            s => ts_special(s),
        },
    )
}

fn arb_bytes() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[a-z_][a-z0-9_]{0,8}", 1 => any::<String>()]
}

/// Any canonical value (see the module doc's *Limits*), nested up to a
/// few levels.
pub(crate) fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::null()),
        any::<bool>().prop_map(|b| v(Kind::Bool(b))),
        any::<i64>().prop_map(|n| v(Kind::Int64(n))),
        any::<u64>().prop_map(|n| v(Kind::Uint64(n))),
        any::<i32>().prop_map(|n| v(Kind::Int32(n))),
        any::<f32>().prop_map(|f| v(Kind::Float32(f))),
        any::<u32>().prop_map(|b| v(Kind::Float32(f32::from_bits(b)))),
        any::<f64>().prop_map(|f| v(Kind::Float64(f))),
        any::<u64>().prop_map(|b| v(Kind::Float64(f64::from_bits(b)))),
        any::<String>().prop_map(|s| v(Kind::Decimal(s))),
        any::<String>().prop_map(|s| v(Kind::Decimal128(s))),
        any::<String>().prop_map(|s| v(Kind::Text(s))),
        any::<String>().prop_map(|s| v(Kind::Json(s))),
        any::<String>().prop_map(|s| v(Kind::EnumLabel(s))),
        proptest::collection::vec(any::<String>(), 0..4).prop_map(|labels| v(Kind::Set(Labels { labels }))),
        arb_bytes().prop_map(|b| v(Kind::Bytes(b))),
        prop_oneof![3 => proptest::collection::vec(any::<u8>(), 16).prop_map(Bytes::from), 1 => arb_bytes()]
            .prop_map(|b| v(Kind::Uuid(b))),
        arb_bytes().prop_map(|b| v(Kind::ObjectId(b))),
        (arb_special(), any::<i32>()).prop_map(|(s, days)| match s {
            Special::Finite => date(days),
            s => date_special(s),
        }),
        (any::<i64>(), any::<bool>(), any::<i32>()).prop_map(|(micros, has_offset, off)| v(Kind::Time(Time {
            micros,
            has_offset,
            offset_seconds: if has_offset { off } else { 0 },
        }))),
        (-3_000_000_000_000i64..3_000_000_000_000, any::<bool>(), -57_600i32..57_600).prop_map(|(micros, tz, off)| {
            v(Kind::Time(Time { micros, has_offset: tz, offset_seconds: if tz { off } else { 0 } }))
        }),
        arb_timestamp().prop_map(|t| v(Kind::Timestamp(t))),
        arb_timestamp().prop_map(|t| v(Kind::Timestamptz(t))),
        (-5_000_000_000i64..300_000_000_000, 0..1_000_000_000u32)
            .prop_map(|(s, n)| v(Kind::Timestamptz(ts(s, n)))),
        (any::<i32>(), any::<i32>(), any::<i64>())
            .prop_map(|(months, days, micros)| v(Kind::Interval(Interval { months, days, micros }))),
        Just(Value::unchanged()),
        (any::<String>(), any::<String>()).prop_map(|(type_name, text)| v(Kind::Other(Other { type_name, text }))),
        (any::<u32>(), arb_bytes()).prop_map(|(subtype, data)| v(Kind::Binary(Binary { subtype, data }))),
        (any::<String>(), any::<String>()).prop_map(|(pattern, options)| v(Kind::Regex(Regex { pattern, options }))),
        (any::<u32>(), any::<u32>())
            .prop_map(|(seconds, increment)| v(Kind::BsonTimestamp(BsonTimestamp { seconds, increment }))),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            ("[a-z0-9_]{0,6}", proptest::collection::vec(inner.clone(), 0..6), proptest::collection::vec(any::<i32>(), 0..3))
                .prop_map(|(t, elements, lower_bounds)| v(Kind::Array(Array { lower_bounds, element_type: t, elements }))),
            proptest::collection::vec((arb_name(), inner), 0..6).prop_map(|fields| {
                v(Kind::Document(Document {
                    fields: fields.into_iter().map(|(name, v)| Column { name, value: Some(v) }).collect(),
                }))
            }),
        ]
    })
}

/// Any logical type, with element types nested a few levels; kinds
/// include numbers this version does not know.
fn arb_logical() -> impl Strategy<Value = LogicalType> {
    let leaf = (
        (0..24i32, any::<u32>(), any::<bool>(), any::<u32>(), any::<u32>(), any::<bool>()),
        (any::<bool>(), any::<bool>(), proptest::collection::vec(any::<String>(), 0..3), arb_name(), any::<bool>()),
    )
        .prop_map(
            |(
                (kind, width, unsigned, precision, scale, has_precision),
                (fixed_length, with_time_zone, labels, name, boolean_like),
            )| LogicalType {
                kind,
                width,
                unsigned,
                precision,
                scale,
                has_precision,
                fixed_length,
                with_time_zone,
                labels,
                element: None,
                name,
                boolean_like,
            },
        )
        .boxed();
    leaf.clone().prop_recursive(3, 6, 1, move |inner| {
        (leaf.clone(), inner).prop_map(|(mut t, element)| {
            t.element = Some(Box::new(element));
            t
        })
    })
}

/// A table schema whose columns carry any logical type and dialect.
fn arb_table_schema() -> impl Strategy<Value = TableSchema> {
    let column = (
        arb_name(),
        any::<String>(),
        any::<bool>(),
        proptest::option::of(arb_logical()),
        prop_oneof![Just(""), Just("postgresql"), Just("mysql"), Just("bson")],
    )
        .prop_map(|(name, source_type, nullable, logical, dialect)| ColumnSchema {
            name,
            source_type,
            nullable,
            logical,
            type_dialect: dialect.into(),
        });
    (proptest::collection::vec(column, 0..4), any::<bool>()).prop_map(|(columns, documents)| TableSchema {
        table: Some(TableRef { schema: "s".into(), name: "t".into() }),
        columns,
        key_columns: Vec::new(),
        documents,
    })
}

/// A record carrying arbitrary values in `after` and `before`.
pub(crate) fn arb_change() -> impl Strategy<Value = Change> {
    (
        proptest::collection::vec((arb_name(), arb_value()), 0..6),
        proptest::option::of(proptest::collection::vec((arb_name(), arb_value()), 0..3)),
        any::<u64>(),
        0..9i32,
        proptest::option::of(arb_timestamp()),
        any::<bool>(),
        proptest::option::of(arb_table_schema()),
    )
        .prop_map(|(after, before, seq, op, commit_time, documents, schema)| {
            let row = |cols: Vec<(String, Value)>| Row {
                columns: cols.into_iter().map(|(name, v)| Column { name, value: Some(v) }).collect(),
            };
            Change {
                pipeline: "p".into(),
                seq,
                op,
                after: Some(row(after)),
                before: before.map(row),
                commit_time,
                schema_change: schema.map(|schema| SchemaChange { schema: Some(schema), ddl: String::new() }),
                documents,
                ..Change::default()
            }
        })
}
