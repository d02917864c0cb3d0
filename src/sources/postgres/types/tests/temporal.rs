//! Dates, times, timestamps and intervals.
use super::*;

#[test]
fn dates() {
    let cases: &[(&str, i32)] = &[
        ("1970-01-01", 0),
        ("1969-12-31", -1),
        ("2000-03-01", 11017),
        ("2024-02-29", 19782),
        ("0001-01-01", -719162),
        // 1 BC is year 0, a leap year.
        ("0001-12-31 BC", -719163),
        ("0001-02-29 BC", -719469),
        ("0044-03-15 BC", -735160),
        ("4714-11-24 BC", -2440588),
        ("5874897-12-31", 2145042905),
        ("10000-01-01", 2932897),
    ];
    for &(t, days) in cases {
        assert_eq!(ok(&b(DATE), t), date(days), "{t}");
    }
    assert_eq!(ok(&b(DATE), "infinity"), Kind::Date(Date { days: 0, special: Special::PosInfinity as i32 }));
    assert_eq!(ok(&b(DATE), "-infinity"), Kind::Date(Date { days: 0, special: Special::NegInfinity as i32 }));
    for bad in [
        "",
        "2023-02-29",
        "0002-02-29 BC",
        "2024-13-01",
        "2024-00-10",
        "2024-01-00",
        "0000-01-01",
        "24-01-01",
        "2024-1-01",
        "2024-01-01 AD",
        "2024-01-01 ",
        "Infinity",
        "99999999-01-01",
    ] {
        err(&b(DATE), bad);
    }
}

#[test]
fn times() {
    assert_eq!(ok(&b(TIME), "00:00:00"), time(0));
    assert_eq!(ok(&b(TIME), "13:45:00.5"), time(49_500_500_000));
    assert_eq!(ok(&b(TIME), "00:00:00.000001"), time(1));
    assert_eq!(ok(&b(TIME), "23:59:59.999999"), time(86_399_999_999));
    assert_eq!(ok(&b(TIME), "24:00:00"), time(86_400_000_000));
    assert_eq!(ok(&b(TIMETZ), "13:45:00.5+02"), timetz(49_500_500_000, 7200));
    assert_eq!(ok(&b(TIMETZ), "00:00:00+05:30"), timetz(0, 19800));
    assert_eq!(ok(&b(TIMETZ), "23:59:59.999999-03:00:15"), timetz(86_399_999_999, -10815));
    assert_eq!(ok(&b(TIMETZ), "12:00:00-15:59"), timetz(43_200_000_000, -57540));
    assert_eq!(ok(&b(TIMETZ), "00:00:00-00:00:01"), timetz(0, -1));
    assert_eq!(ok(&b(TIMETZ), "24:00:00+00"), timetz(86_400_000_000, 0));
    for bad in ["", "24:00:00.000001", "25:00:00", "12:60:00", "12:00:60", "12:00", "1:00:00", "12:00:00.1234567"] {
        err(&b(TIME), bad);
    }
    for bad in ["12:00:00", "12:00:00+2", "12:00:00+02:", "12:00:00+02:60", "12:00:00 +02", "12:00:00+02:00:00:00"]
    {
        err(&b(TIMETZ), bad);
    }
    err(&b(TIME), "12:00:00+02");
}

#[test]
fn timestamps() {
    let naive = |t: &str| match ok(&b(TIMESTAMP), t) {
        Kind::Timestamp(ts) => ts,
        other => panic!("{other:?}"),
    };
    let zoned = |t: &str| match ok(&b(TIMESTAMPTZ), t) {
        Kind::Timestamptz(ts) => ts,
        other => panic!("{other:?}"),
    };
    assert_eq!(naive("1970-01-01 00:00:00"), ts(0, 0));
    assert_eq!(naive("1969-12-31 23:59:59.999999"), ts(-1, 999_999_000));
    assert_eq!(naive("2024-02-29 11:45:00.5"), ts(1_709_207_100, 500_000_000));
    assert_eq!(naive("0044-03-15 12:00:00 BC"), ts(-63_517_780_800, 0));
    assert_eq!(naive("4714-11-24 00:00:00 BC"), ts(-210_866_803_200, 0));
    assert_eq!(naive("294276-12-31 23:59:59.999999"), ts(9_224_318_015_999, 999_999_000));
    assert_eq!(naive("infinity"), special_ts(Special::PosInfinity));
    assert_eq!(naive("-infinity"), special_ts(Special::NegInfinity));
    assert_eq!(zoned("2024-02-29 10:00:00.5+00"), ts(1_709_200_800, 500_000_000));
    assert_eq!(zoned("2024-02-29 12:00:00.5+02"), ts(1_709_200_800, 500_000_000));
    assert_eq!(zoned("2024-02-29 05:30:00.5-04:30"), ts(1_709_200_800, 500_000_000));
    assert_eq!(zoned("1900-01-01 00:19:32+00:19:32"), ts(-2_208_988_800, 0));
    assert_eq!(zoned("0044-03-15 12:19:32+00:19:32 BC"), naive("0044-03-15 12:00:00 BC"));
    assert_eq!(zoned("-infinity"), special_ts(Special::NegInfinity));
    for bad in ["", "2024-02-29", "2024-02-29 24:00:00", "2024-02-30 00:00:00", "2024-02-29 10:00:00+00"] {
        err(&b(TIMESTAMP), bad);
    }
    for bad in ["2024-02-29 10:00:00", "2024-02-29 10:00:00 BC+00", "2024-02-29 10:00:00+00 UTC"] {
        err(&b(TIMESTAMPTZ), bad);
    }
}

#[test]
fn intervals() {
    const H: i64 = 3_600_000_000;
    let cases: &[(&str, i32, i32, i64)] = &[
        ("00:00:00", 0, 0, 0),
        ("1 day", 0, 1, 0),
        ("-1 days", 0, -1, 0),
        ("1 mon", 1, 0, 0),
        ("-1 years", -12, 0, 0),
        ("1 year 1 mon", 13, 0, 0),
        ("-00:00:01", 0, 0, -1_000_000),
        ("-00:00:00.000001", 0, 0, -1),
        ("100:00:00", 0, 0, 100 * H),
        ("1 day -00:00:01", 0, 1, -1_000_000),
        ("-1 days +00:00:01", 0, -1, 1_000_000),
        ("1 year -01:00:00", 12, 0, -H),
        ("1 year 2 mons -3 days +04:05:06.789", 14, -3, 4 * H + 306_789_000),
        ("-1 years -2 mons +3 days -04:05:06.000001", -14, 3, -(4 * H + 306_000_001)),
        ("1 year -2 mons 3 days 04:05:06", 10, 3, 4 * H + 306_000_000),
        ("-1 years +2 mons -3 days +04:05:06", -10, -3, 4 * H + 306_000_000),
        ("-178956970 years -8 mons", i32::MIN, 0, 0),
        ("178956970 years 7 mons", i32::MAX, 0, 0),
        ("2147483647 days", 0, i32::MAX, 0),
        ("-2147483648 days", 0, i32::MIN, 0),
        ("2562047788:00:54.775807", 0, 0, i64::MAX),
        ("-2562047788:00:54.775808", 0, 0, i64::MIN),
        ("-178956970 years -8 mons -2147483648 days -2562047788:00:54.775807", i32::MIN, i32::MIN, i64::MIN + 1),
    ];
    for &(t, months, days, micros) in cases {
        assert_eq!(ok(&b(INTERVAL), t), interval(months, days, micros), "{t}");
    }
    for bad in [
        "",
        "1",
        "1 week",
        "1 day 1 year",
        "1 day 2 days",
        "00:00:00 1 day",
        "00:00",
        "-00:60:00",
        "2562047788:00:54.775808",
        "178956970 years 8 mons",
        "2147483648 days",
        "1  day",
        "@ 1 day",
        "P1D",
    ] {
        err(&b(INTERVAL), bad);
    }
}
