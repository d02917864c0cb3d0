//! Value-level edges: binary DECIMAL, `INET6_NTOA` text, text forms.

use super::*;

#[test]
fn decimal_binary_edges() {
    // DECIMAL(4,4) 0.5 → "0.5000"; DECIMAL(10,0) -1; DECIMAL(1,0) 0.
    assert_eq!(decimal_text(&[0x93, 0x88], 4, 4).unwrap(), "0.5000");
    assert_eq!(decimal_text(&[0x7f, 0xff, 0xff, 0xff, 0xfe], 10, 0).unwrap(), "-1");
    assert_eq!(decimal_text(&[0x80], 1, 0).unwrap(), "0");
    assert!(decimal_text(&[0x80 | 99], 2, 0).is_ok());
    assert!(decimal_text(&[0x80 | 100], 2, 0).is_err(), "group above 99");
    assert_eq!(decimal_bin_size(65, 30), Some(30));
    assert_eq!(decimal_bin_size(3, 4), None);
}

#[test]
fn inet6_text_follows_mysql() {
    let addr = |s: &str| -> [u8; 16] { s.parse::<std::net::Ipv6Addr>().unwrap().octets() };
    for (a, want) in [
        ("::", "::"),
        ("::1", "::1"),
        ("::1.2.3.4", "::1.2.3.4"),
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8::1:1:1:1:1"),
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
    ] {
        assert_eq!(inet6_text(&addr(a)), want, "{a}");
    }
}

#[test]
fn text_forms_that_need_care() {
    let col = |data_type: &str, column_type: &str| ColumnInfo {
        name: "c".into(),
        data_type: data_type.into(),
        column_type: column_type.into(),
        charset: Some("utf8mb4".into()),
        is_json: false,
    };
    let v = |c: &ColumnInfo, s: &str| text_value(Some(s.as_bytes()), c, "t").map(|v| v.kind.unwrap());
    // PAD_CHAR_TO_FULL_LENGTH would print the padding: it is dropped.
    assert_eq!(v(&col("char", "char(5)"), "ab   ").unwrap(), t("ab"));
    assert_eq!(v(&col("year", "year(2)"), "69").unwrap(), i(2069));
    assert_eq!(v(&col("year", "year(2)"), "70").unwrap(), i(1970));
    assert_eq!(v(&col("set", "set('a','b')"), "").unwrap(), set(&[]));
    assert!(v(&col("timestamp", "timestamp"), "2024-02-30 00:00:00").is_err());
    assert!(v(&col("time", "time"), "12:60:00").is_err());
    assert!(v(&col("decimal", "decimal(5,2)"), "1.").is_err());
    assert!(v(&col("uuid", "uuid"), "123e4567-e89b-12d3-a456-42665544000g").is_err());
    assert_eq!(v(&col("mystery", "mystery"), "x").unwrap(), other("mystery", "x"));
    // Zerofill text is plain digits.
    assert_eq!(v(&col("int", "int(6) unsigned zerofill"), "000042").unwrap(), u(42));
}
