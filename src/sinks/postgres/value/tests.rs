//! Unit tests of the value text: scalars, floats, dates and times, arrays,
//! documents and JSON, the values a MySQL source sends (bit, inet,
//! geometry, PostGIS hex, zero dates) and what is refused.
use super::*;
use crate::record::*;
use crate::sinks::json_text::{float32, float64};

const TEXT: Target = Target::scalar(TypeClass::Text);
const OTHER: Target = Target::scalar(TypeClass::Other);
const JSON: Target = Target::scalar(TypeClass::Json);

fn r(k: value::Kind, t: Target) -> Option<String> {
    render(&Value::of(k), t).unwrap()
}
fn s(k: value::Kind) -> String {
    r(k, OTHER).unwrap()
}

#[test]
fn scalars() {
    use value::Kind::*;
    assert_eq!(render(&Value::null(), OTHER).unwrap(), None);
    assert_eq!(s(Bool(true)), "true");
    assert_eq!(s(Bool(false)), "false");
    assert_eq!(s(Int64(i64::MIN)), "-9223372036854775808");
    assert_eq!(s(Int32(-7)), "-7");
    assert_eq!(s(Uint64(u64::MAX)), "18446744073709551615");
    assert_eq!(s(Decimal("-12.3400".into())), "-12.3400");
    assert_eq!(s(Decimal("NaN".into())), "NaN");
    assert_eq!(s(Decimal128("1.0E+10".into())), "1.0E+10");
    assert_eq!(s(Text("a'b\"c\\".into())), "a'b\"c\\");
    assert_eq!(s(Json(" {\"a\": 1} ".into())), " {\"a\": 1} ");
    assert_eq!(s(EnumLabel("happy".into())), "happy");
    assert_eq!(s(Other(crate::record::Other { type_name: "point".into(), text: "(1,2)".into() })), "(1,2)");
    assert_eq!(s(Bytes(vec![0, 0xff, 0x10].into())), "\\x00ff10");
    assert_eq!(s(Bytes(Vec::new().into())), "\\x");
    assert_eq!(s(Uuid((0u8..16).collect::<Vec<_>>().into())), "00010203-0405-0607-0809-0a0b0c0d0e0f");
    assert!(render(&Value::of(Uuid(vec![1, 2].into())), OTHER).is_err());
    assert_eq!(s(ObjectId(vec![0x65, 0xf1, 0xc0].into())), "65f1c0");
    assert_eq!(s(Binary(crate::record::Binary { subtype: 4, data: vec![1, 2].into() })), "\\x0102");
    assert_eq!(s(Regex(crate::record::Regex { pattern: "^a".into(), options: "i".into() })), "/^a/i");
    assert_eq!(s(BsonTimestamp(crate::record::BsonTimestamp { seconds: 5, increment: 2 })), "{\"$timestamp\":{\"t\":5,\"i\":2}}");
    assert_eq!(s(Set(Labels { labels: vec!["a".into(), "b".into()] })), "a,b");
}

#[test]
fn floats() {
    assert_eq!(float64(0.1), "0.1");
    assert_eq!(float64(1.0), "1.0");
    assert_eq!(float64(-0.0), "-0.0");
    assert_eq!(float64(1e300), "1e300");
    assert_eq!(float64(f64::MIN_POSITIVE), "2.2250738585072014e-308");
    assert_eq!(float64(f64::NAN), "NaN");
    assert_eq!(float64(f64::INFINITY), "Infinity");
    assert_eq!(float64(f64::NEG_INFINITY), "-Infinity");
    assert_eq!(float32(0.1), "0.1");
    assert_eq!(float32(f32::MAX), "3.4028235e38");
    assert_eq!(float32(f32::NEG_INFINITY), "-Infinity");
    for f in [0.1, 1.0 / 3.0, 1e-320, 123_456_789.123_456_78, -2.5e-7] {
        assert_eq!(float64(f).parse::<f64>().unwrap(), f);
    }
}

#[test]
fn dates_and_times() {
    let d = |days, special| date(&Date { days, special }).unwrap();
    assert_eq!(d(0, 0), "1970-01-01");
    assert_eq!(d(19_782, 0), "2024-02-29");
    assert_eq!(d(-719_528, 0), "0001-01-01 BC");
    assert_eq!(d(-719_529, 0), "0002-12-31 BC");
    assert_eq!(d(2_932_897, 0), "10000-01-01");
    assert_eq!(d(0, Special::PosInfinity as i32), "infinity");
    assert_eq!(d(0, Special::NegInfinity as i32), "-infinity");
    assert!(date(&Date { days: 0, special: Special::Zero as i32 }).is_err());

    let t = |micros, has_offset, offset_seconds| time(&Time { micros, has_offset, offset_seconds });
    assert_eq!(t(0, false, 0), "00:00:00");
    assert_eq!(t(49_500_500_000, false, 0), "13:45:00.5");
    assert_eq!(t(86_400_000_000, false, 0), "24:00:00");
    assert_eq!(t(-3_020_399_000_000, false, 0), "-838:59:59");
    assert_eq!(t(1, true, 19_800), "00:00:00.000001+05:30");
    assert_eq!(t(0, true, -18_015), "00:00:00-05:00:15");

    let ts = |seconds, nanos, special, tz| timestamp(&Timestamp { seconds, nanos, special }, tz).unwrap();
    assert_eq!(ts(0, 0, 0, false), "1970-01-01 00:00:00");
    assert_eq!(ts(1_709_207_100, 123_456_000, 0, true), "2024-02-29 11:45:00.123456+00");
    assert_eq!(ts(-1, 999_999_999, 0, false), "1969-12-31 23:59:59.999999999");
    // 44 BC (astronomical -43), March 15, noon.
    assert_eq!(ts(-63_517_780_800, 500_000_000, 0, true), "0044-03-15 12:00:00.5+00 BC");
    assert_eq!(ts(0, 0, Special::PosInfinity as i32, true), "infinity");
    assert_eq!(ts(0, 0, Special::NegInfinity as i32, false), "-infinity");
    assert_eq!(ts(0, 1_500_000_000, 0, false), "1970-01-01 00:00:01.5");

    assert_eq!(interval(&Interval { months: -1, days: 2, micros: -3 }), "-1 mons 2 days -3 microseconds");
    assert_eq!(
        interval(&Interval { months: i32::MIN, days: i32::MIN, micros: i64::MIN }),
        "-2147483648 mons -2147483648 days -9223372036854775808 microseconds"
    );
}

fn arr(elems: Vec<Value>) -> value::Kind {
    value::Kind::Array(Array { lower_bounds: Vec::new(), element_type: "text".into(), elements: elems })
}

#[test]
fn arrays() {
    let at = Target { class: TypeClass::Text, array: true };
    let a = arr(vec![Value::text("a b"), Value::text("c,d"), Value::null(), Value::text("NULL"), Value::text("q\"\\")]);
    assert_eq!(r(a.clone(), at).unwrap(), r#"{"a b","c,d",NULL,"NULL","q\"\\"}"#);
    let nested = arr(vec![
        Value::of(arr(vec![Value::int64(1), Value::int64(2)])),
        Value::of(arr(vec![Value::int64(3), Value::null()])),
    ]);
    assert_eq!(r(nested, Target { class: TypeClass::Other, array: true }).unwrap(), r#"{{"1","2"},{"3",NULL}}"#);
    assert_eq!(r(arr(vec![]), at).unwrap(), "{}");
    let bytes = arr(vec![Value::of(value::Kind::Bytes(vec![1].into()))]);
    assert_eq!(r(bytes, Target { class: TypeClass::Other, array: true }).unwrap(), r#"{"\\x01"}"#);
    // Into text: the literal; into json: a JSON array; elsewhere an error.
    assert_eq!(r(a.clone(), TEXT).unwrap(), r#"{"a b","c,d",NULL,"NULL","q\"\\"}"#);
    assert_eq!(r(a.clone(), JSON).unwrap(), r#"["a b","c,d",null,"NULL","q\"\\"]"#);
    assert!(render(&Value::of(a), OTHER).is_err());
    // Lower bounds other than 1 come first, for every dimension; into
    // text as PostgreSQL prints such an array, into json without them.
    let bounded = |lows: Vec<i32>, k: value::Kind| match k {
        value::Kind::Array(mut a) => {
            a.lower_bounds = lows;
            value::Kind::Array(a)
        }
        other => other,
    };
    let ints = |v: &[i64]| Value::of(arr(v.iter().map(|&i| Value::int64(i)).collect()));
    let one_dim = bounded(vec![0], arr(vec![Value::int64(7), Value::int64(8), Value::int64(9)]));
    assert_eq!(r(one_dim.clone(), at).unwrap(), r#"[0:2]={"7","8","9"}"#);
    assert_eq!(r(one_dim.clone(), TEXT).unwrap(), r#"[0:2]={"7","8","9"}"#);
    assert_eq!(r(one_dim, JSON).unwrap(), "[7,8,9]");
    let two_dim = bounded(vec![2, -1], arr(vec![ints(&[1, 2]), ints(&[3, 4])]));
    assert_eq!(r(two_dim, at).unwrap(), r#"[2:3][-1:0]={{"1","2"},{"3","4"}}"#);
    let wrong = bounded(vec![0, 0], arr(vec![Value::int64(1)]));
    assert!(render(&Value::of(wrong), at).unwrap_err().0.contains("2 lower bound(s) but 1 dimension(s)"));
    // A set into an array column.
    let set = value::Kind::Set(Labels { labels: vec!["x".into(), "y z".into()] });
    assert_eq!(r(set.clone(), at).unwrap(), r#"{"x","y z"}"#);
    assert_eq!(r(set, JSON).unwrap(), r#"["x","y z"]"#);
    // jsonb[] with documents.
    let doc = Value::of(value::Kind::Document(Document { fields: vec![Column { name: "k".into(), value: Some(Value::int64(1)) }] }));
    assert_eq!(r(arr(vec![doc]), Target { class: TypeClass::Json, array: true }).unwrap(), r#"{"{\"k\":1}"}"#);
}

#[test]
fn documents_and_json() {
    use value::Kind::*;
    let doc = Value::of(Document(crate::record::Document {
        fields: vec![
            Column { name: "_id".into(), value: Some(Value::of(ObjectId(vec![0xab; 12].into()))) },
            Column { name: "n".into(), value: Some(Value::of(Int32(3))) },
            Column { name: "d".into(), value: Some(Value::of(Decimal128("1.5".into()))) },
            Column { name: "f".into(), value: Some(Value::of(Float64(f64::NAN))) },
            Column { name: "t".into(), value: Some(Value::of(Timestamptz(crate::record::Timestamp { seconds: 0, nanos: 0, special: 0 }))) },
            Column { name: "b".into(), value: Some(Value::of(Binary(crate::record::Binary { subtype: 4, data: vec![1, 2, 3, 4].into() }))) },
            Column { name: "s".into(), value: Some(Value::text("é\"\n")) },
            Column { name: "j".into(), value: Some(Value::of(Json("[1, 2]".into()))) },
            Column { name: "x".into(), value: Some(Value::of(Decimal("NaN".into()))) },
            Column { name: "y".into(), value: Some(Value::of(Decimal("-1.50e3".into()))) },
        ],
    }));
    let expect = r#"{"_id":{"$oid":"abababababababababababab"},"n":3,"d":{"$numberDecimal":"1.5"},"f":"NaN","t":"1970-01-01T00:00:00+00:00","b":{"$binary":{"base64":"AQIDBA==","subType":"04"}},"s":"é\"\n","j":[1, 2],"x":"NaN","y":-1.50e3}"#;
    assert_eq!(render(&doc, JSON).unwrap().unwrap(), expect);
    assert_eq!(render(&doc, TEXT).unwrap().unwrap(), expect);
    let e = render(&doc, OTHER).unwrap_err();
    assert!(e.0.contains("json"), "{e:?}");
    // Scalars into json: JSON values.
    assert_eq!(r(Int64(5), JSON).unwrap(), "5");
    assert_eq!(r(Bool(true), JSON).unwrap(), "true");
    assert_eq!(r(Text("{\"a\":1}".into()), JSON).unwrap(), "{\"a\":1}");
    assert_eq!(r(Date(crate::record::Date { days: 0, special: 0 }), JSON).unwrap(), "\"1970-01-01\"");
}

/// MySQL geometry bytes: SRID (LE), then WKB in the given byte order.
fn geom(srid: u32, little: bool, ty: u32, body: &[f64], counts: &[u32]) -> Vec<u8> {
    let mut b = srid.to_le_bytes().to_vec();
    b.push(u8::from(little));
    let u = |x: u32| if little { x.to_le_bytes() } else { x.to_be_bytes() };
    b.extend(u(ty));
    for c in counts {
        b.extend(u(*c));
    }
    for f in body {
        b.extend(if little { f.to_le_bytes() } else { f.to_be_bytes() });
    }
    b
}

/// The values a MySQL / MariaDB source sends, into the columns its types map to.
#[test]
fn mysql_values() {
    use value::Kind::*;
    // Integers: unsigned beyond i64 as digits (numeric(20,0) holds them).
    assert_eq!(s(Uint64(u64::MAX)), "18446744073709551615");
    assert_eq!(s(Uint64(0)), "0");
    assert_eq!(s(Int64(-128)), "-128");
    assert_eq!(s(Int64(2155)), "2155"); // YEAR
    assert_eq!(s(Decimal("-99999999.99".into())), "-99999999.99");
    assert_eq!(s(Float32(-3.4028235e38)), "-3.4028235e38");
    assert_eq!(s(Float32(1.1)), "1.1");
    assert_eq!(s(Float64(-1.7976931348623157e308)), "-1.7976931348623157e308");
    // TIME: a duration, as interval input.
    let t = |micros| s(Time(crate::record::Time { micros, has_offset: false, offset_seconds: 0 }));
    assert_eq!(t(-3_020_399_000_000), "-838:59:59");
    assert_eq!(t(3_020_399_000_000), "838:59:59");
    assert_eq!(t(-3_020_399_000_001), "-838:59:59.000001");
    assert_eq!(t(-500_000), "-00:00:00.5");
    assert_eq!(t(-1), "-00:00:00.000001");
    assert_eq!(t(90_000_123_456), "25:00:00.123456");
    assert_eq!(t(0), "00:00:00");
    // DATETIME(6), TIMESTAMP(6).
    let ts = |seconds, nanos| crate::record::Timestamp { seconds, nanos, special: 0 };
    assert_eq!(s(Timestamp(ts(253_402_300_799, 999_999_000))), "9999-12-31 23:59:59.999999");
    assert_eq!(s(Timestamp(ts(-62_135_596_800, 0))), "0001-01-01 00:00:00");
    assert_eq!(s(Timestamptz(ts(2_147_483_647, 999_999_000))), "2038-01-19 03:14:07.999999+00");
    assert_eq!(s(Date(crate::record::Date { days: 2_932_896, special: 0 })), "9999-12-31");
    // ENUM into text, SET into text[] (or text), JSON text as it is.
    assert_eq!(r(EnumLabel("b'c".into()), TEXT).unwrap(), "b'c");
    assert_eq!(r(EnumLabel(String::new()), TEXT).unwrap(), "");
    let set = |l: &[&str]| Set(Labels { labels: l.iter().map(|x| x.to_string()).collect() });
    let text_arr = Target { class: TypeClass::Text, array: true };
    assert_eq!(r(set(&["a", "b,c", "d\"e", "NULL", ""]), text_arr).unwrap(), r#"{"a","b,c","d\"e","NULL",""}"#);
    assert_eq!(r(set(&[]), text_arr).unwrap(), "{}");
    assert_eq!(r(set(&["x", "y"]), TEXT).unwrap(), "x,y");
    assert_eq!(r(Json("{\"a\": [1, 2.50]}".into()), JSON).unwrap(), "{\"a\": [1, 2.50]}");
    // Binary strings and blobs into bytea.
    let bytea_col = Target::scalar(TypeClass::Bytea);
    assert_eq!(r(Bytes(vec![0, 0xab, 0xff].into()), bytea_col).unwrap(), "\\x00abff");
    assert_eq!(r(Bytes(Vec::new().into()), bytea_col).unwrap(), "\\x");
    // GEOMETRY into bytea: the bytes as they are.
    let g = geom(4326, true, 2, &[0.0, 0.0, 1.0, 1.0], &[2]);
    assert_eq!(r(Bytes(g.clone().into()), bytea_col).unwrap(), bytea(&g));
    // UUID / INET6 as text or bytes.
    assert_eq!(r(Text("00112233-4455-6677-8899-aabbccddeeff".into()), OTHER).unwrap(), "00112233-4455-6677-8899-aabbccddeeff");
    let inet_col = Target::scalar(TypeClass::Inet);
    assert_eq!(r(Bytes(vec![192, 168, 0, 1].into()), inet_col).unwrap(), "192.168.0.1");
    let mut v6 = vec![0u8; 16];
    v6[15] = 1;
    assert_eq!(r(Bytes(v6.clone().into()), inet_col).unwrap(), "::1");
    v6[10] = 0xff;
    v6[11] = 0xff;
    v6[12..].copy_from_slice(&[1, 2, 3, 4]);
    assert_eq!(r(Bytes(v6.into()), inet_col).unwrap(), "::ffff:1.2.3.4");
    assert_eq!(r(Text("2001:db8::1".into()), inet_col).unwrap(), "2001:db8::1");
    assert!(render(&Value::of(Bytes(vec![1, 2, 3].into())), inet_col).unwrap_err().0.contains("4 (IPv4) or 16 (IPv6)"));
}

#[test]
fn bit_columns_get_exactly_n_digits() {
    use value::Kind::*;
    let bit = |n| Target::scalar(TypeClass::Bit(n));
    assert_eq!(r(Bytes(vec![0b1_0110].into()), bit(5)).unwrap(), "10110");
    assert_eq!(r(Bytes(vec![0b101].into()), bit(5)).unwrap(), "00101");
    assert_eq!(r(Bytes(vec![0xa5].into()), bit(8)).unwrap(), "10100101");
    assert_eq!(r(Bytes(vec![0x01, 0xff].into()), bit(9)).unwrap(), "111111111");
    assert_eq!(r(Bytes(vec![0x80].into()), bit(12)).unwrap(), "000010000000");
    assert_eq!(r(Bytes(vec![0xff; 8].into()), bit(64)).unwrap(), "1".repeat(64));
    assert_eq!(r(Bytes(vec![0, 0, 1].into()), bit(1)).unwrap(), "1");
    assert_eq!(r(Bytes(Vec::new().into()), bit(3)).unwrap(), "000");
    assert_eq!(r(Uint64(5), bit(4)).unwrap(), "0101");
    assert_eq!(r(Uint64(u64::MAX), bit(64)).unwrap(), "1".repeat(64));
    assert_eq!(r(Int64(1), bit(1)).unwrap(), "1");
    // A PostgreSQL source's bit string as it is.
    assert_eq!(r(Other(crate::record::Other { type_name: "bit".into(), text: "0101".into() }), bit(4)).unwrap(), "0101");
    let e = render(&Value::of(Bytes(vec![0b10_0000].into())), bit(5)).unwrap_err();
    assert!(e.0.contains("6 significant bits") && e.0.contains("bit(5)"), "{e:?}");
    assert!(render(&Value::of(Uint64(16)), bit(4)).is_err());
    // In an array column, and not elsewhere.
    let arr_bit = Target { class: TypeClass::Bit(3), array: true };
    assert_eq!(r(arr(vec![Value::of(Bytes(vec![5].into())), Value::null()]), arr_bit).unwrap(), r#"{"101",NULL}"#);
    assert_eq!(r(Bytes(vec![5].into()), OTHER).unwrap(), "\\x05");
}

#[test]
fn mysql_geometry_into_point_and_polygon() {
    use value::Kind::*;
    let point_col = Target::scalar(TypeClass::Point);
    let polygon_col = Target::scalar(TypeClass::Polygon);
    let b = |v: Vec<u8>| Bytes(v.into());
    assert_eq!(r(b(geom(0, true, 1, &[1.0, -2.5], &[])), point_col).unwrap(), "(1.0,-2.5)");
    assert_eq!(r(b(geom(0, false, 1, &[0.1, 1e300], &[])), point_col).unwrap(), "(0.1,1e300)");
    let square = [0.0, 0.0, 4.0, 0.0, 4.0, 4.0, 0.0, 0.0];
    assert_eq!(r(b(geom(0, true, 3, &square, &[1, 4])), polygon_col).unwrap(), "((0.0,0.0),(4.0,0.0),(4.0,4.0),(0.0,0.0))");
    // What cannot be stored without loss is refused, with the reason.
    let e = render(&Value::of(b(geom(4326, true, 1, &[1.0, 2.0], &[]))), point_col).unwrap_err();
    assert!(e.0.contains("SRID 4326"), "{e:?}");
    let e = render(&Value::of(b(geom(0, true, 3, &[0.0; 8], &[2, 2, 2]))), polygon_col).unwrap_err();
    assert!(e.0.contains("2 rings"), "{e:?}");
    let e = render(&Value::of(b(geom(0, true, 2, &[0.0; 4], &[2]))), point_col).unwrap_err();
    assert!(e.0.contains("WKB type 2"), "{e:?}");
    let mut short = geom(0, true, 1, &[1.0, 2.0], &[]);
    short.pop();
    assert!(render(&Value::of(b(short)), point_col).unwrap_err().0.contains("truncated"));
    let mut long = geom(0, true, 1, &[1.0, 2.0], &[]);
    long.push(0);
    assert!(render(&Value::of(b(long)), point_col).is_err());
    assert!(render(&Value::of(b(vec![0; 5])), point_col).is_err());
    // A PostgreSQL source's point text as it is.
    assert_eq!(r(Other(crate::record::Other { type_name: "point".into(), text: "(1,2)".into() }), point_col).unwrap(), "(1,2)");
}

#[test]
fn postgis_hex_into_bytea_is_the_bytes() {
    use value::Kind::*;
    let bytea_col = Target::scalar(TypeClass::Bytea);
    let other = |t: &str| Other(crate::record::Other { type_name: "geometry".into(), text: t.into() });
    assert_eq!(r(other("0101000020E6100000"), bytea_col).unwrap(), "\\x0101000020e6100000");
    // Not hex: left to the server's bytea input as before.
    assert_eq!(r(other("POINT(1 2)"), bytea_col).unwrap(), "POINT(1 2)");
    assert_eq!(r(other("abc"), bytea_col).unwrap(), "abc");
    assert_eq!(r(other("0101"), OTHER).unwrap(), "0101");
}

/// MySQL zero dates have no PostgreSQL value: always an error with the
/// reason, in every column class (never NULL, never another date).
#[test]
fn zero_dates_are_refused_with_the_reason() {
    use value::Kind::*;
    let zero = Special::Zero as i32;
    for class in [TypeClass::Other, TypeClass::Text, TypeClass::Json] {
        let e = render(&Value::of(Date(crate::record::Date { days: 0, special: zero })), Target::scalar(class)).unwrap_err();
        assert!(e.0.contains("zero date '0000-00-00'") && e.0.contains("never"), "{e:?}");
        for k in [Timestamp as fn(_) -> _, Timestamptz] {
            let e = render(&Value::of(k(crate::record::Timestamp { seconds: 0, nanos: 0, special: zero })), Target::scalar(class))
                .unwrap_err();
            assert!(e.0.contains("'0000-00-00 00:00:00'"), "{e:?}");
        }
    }
    let in_array = arr(vec![Value::of(Date(crate::record::Date { days: 0, special: zero }))]);
    assert!(render(&Value::of(in_array), Target { class: TypeClass::Other, array: true }).is_err());
}

#[test]
fn refused() {
    use value::Kind::*;
    assert!(render(&Value::unchanged(), OTHER).is_err());
    assert!(render(&Value { kind: None }, OTHER).is_err());
    assert!(render(&Value::text("a\0b"), TEXT).is_err());
    assert!(render(&Value::of(Decimal(String::new())), OTHER).is_err());
    assert!(render(&Value::of(arr(vec![Value::unchanged()])), Target { class: TypeClass::Text, array: true }).is_err());
}
