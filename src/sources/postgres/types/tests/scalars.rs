//! Booleans, integers, floats, numerics, texts, bytea, uuid and json.
use super::*;

#[test]
fn booleans() {
    assert_eq!(ok(&b(BOOL), "t"), Kind::Bool(true));
    assert_eq!(ok(&b(BOOL), "f"), Kind::Bool(false));
    for bad in ["true", "", "T", "1"] {
        err(&b(BOOL), bad);
    }
}

#[test]
fn integers() {
    let cases: &[(u32, &str, i64)] = &[
        (INT2, "32767", 32767),
        (INT2, "-32768", -32768),
        (INT2, "0", 0),
        (INT4, "2147483647", 2147483647),
        (INT4, "-2147483648", -2147483648),
        (INT8, "9223372036854775807", i64::MAX),
        (INT8, "-9223372036854775808", i64::MIN),
        (OID, "4294967295", 4294967295),
        (OID, "0", 0),
    ];
    for &(oid, t, v) in cases {
        assert_eq!(ok(&b(oid), t), Kind::Int64(v), "{t}");
    }
    for (oid, bad) in [(INT2, "32768"), (INT4, "2147483648"), (INT8, "9223372036854775808"), (OID, "-1")] {
        err(&b(oid), bad);
    }
    for bad in ["", " 1", "1.0", "1e3", "0x10", "--1"] {
        err(&b(INT8), bad);
    }
}

#[test]
fn floats() {
    let f32_of = |t: &str| match ok(&b(FLOAT4), t) {
        Kind::Float32(f) => f,
        other => panic!("{other:?}"),
    };
    let f64_of = |t: &str| match ok(&b(FLOAT8), t) {
        Kind::Float64(f) => f,
        other => panic!("{other:?}"),
    };
    assert!(f32_of("NaN").is_nan());
    assert_eq!(f32_of("Infinity"), f32::INFINITY);
    assert_eq!(f32_of("-Infinity"), f32::NEG_INFINITY);
    assert_eq!(f32_of("-0").to_bits(), (-0.0f32).to_bits());
    assert_eq!(f32_of("0.1"), 0.1f32);
    assert_eq!(f32_of("3.4028235e+38"), f32::MAX);
    assert_eq!(f32_of("1e-45"), f32::from_bits(1));
    assert_eq!(f32_of("1.2345679e+08"), 123456789f32);
    assert!(f64_of("NaN").is_nan());
    assert_eq!(f64_of("-Infinity"), f64::NEG_INFINITY);
    assert_eq!(f64_of("-0").to_bits(), (-0.0f64).to_bits());
    assert_eq!(f64_of("0.1"), 0.1);
    assert_eq!(f64_of("1.7976931348623157e+308"), f64::MAX);
    assert_eq!(f64_of("5e-324"), f64::from_bits(1));
    assert_eq!(f64_of("1e+16"), 1e16);
    for bad in ["", "1.0.0", "0x1p3", "1,5"] {
        err(&b(FLOAT8), bad);
    }
}

#[test]
fn numerics_stay_exact_text() {
    let thousand = "9".repeat(1000);
    let long = format!("-{thousand}.{thousand}");
    for t in [
        "NaN",
        "Infinity",
        "-Infinity",
        "0",
        "0.00",
        "-12.3400",
        "0.00000000000000000001",
        "1500",
        &thousand,
        &long,
    ] {
        assert_eq!(ok(&b(NUMERIC), t), Kind::Decimal(t.to_owned()));
    }
    for bad in ["", "-", ".5", "1.", "1e5", "+1", "nan", "1 ", "1.2.3", "--1"] {
        err(&b(NUMERIC), bad);
    }
}

#[test]
fn texts_are_kept_as_printed() {
    for oid in [TEXT, VARCHAR, BPCHAR, NAME, CHAR] {
        assert_eq!(ok(&b(oid), ""), text(""));
        assert_eq!(ok(&b(oid), "  a b  "), text("  a b  "));
    }
    assert_eq!(ok(&b(BPCHAR), "ab   "), text("ab   "));
    assert_eq!(ok(&b(TEXT), "ünï\\cödé\n"), text("ünï\\cödé\n"));
    // PostgreSQL 15 prints a "char" byte >= 128 in octal.
    assert_eq!(ok(&b(CHAR), "\\303"), text("\\303"));
}

#[test]
fn bytea_hex_and_escape() {
    let bytes = |t: &str| match ok(&b(BYTEA), t) {
        Kind::Bytes(b) => b.to_vec(),
        other => panic!("{other:?}"),
    };
    assert_eq!(bytes("\\x"), b"");
    assert_eq!(bytes("\\x00ff7F80"), [0x00, 0xff, 0x7f, 0x80]);
    assert_eq!(bytes("abc"), b"abc");
    assert_eq!(bytes("a\\\\b\\000\\377"), [b'a', b'\\', b'b', 0, 0xff]);
    assert_eq!(bytes(""), b"");
    for bad in ["\\x0", "\\x0g", "\\", "\\8", "\\400", "a\\12"] {
        err(&b(BYTEA), bad);
    }
}

#[test]
fn uuids() {
    let u = ok(&b(UUID), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_eq!(
        u,
        Kind::Uuid(Bytes::from_static(&[
            0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11
        ]))
    );
    assert_eq!(ok(&b(UUID), "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"), Kind::Uuid(Bytes::from(vec![0xff; 16])));
    for bad in [
        "",
        "a0eebc999c0b4ef8bb6d6bb9bd380a11",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g",
        "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
    ] {
        err(&b(UUID), bad);
    }
}

#[test]
fn json_is_kept_byte_exact() {
    let t = "{\"b\": 1, \"a\":  [1,2]}";
    assert_eq!(ok(&b(JSON), t), Kind::Json(t.to_owned()));
    assert_eq!(ok(&b(JSONB), "{\"a\": [1, 2]}"), Kind::Json("{\"a\": [1, 2]}".to_owned()));
}
