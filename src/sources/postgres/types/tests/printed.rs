//! Values as a PostgreSQL 15 server printed them (`testdata/types.tsv`).
use super::*;

/// `testdata/types.tsv`: what PostgreSQL 15 printed, next to what it
/// means (computed by the server; see testdata/types.sql).
#[test]
fn server_printed_values() {
    let data = include_str!("../../testdata/types.tsv");
    let mut checked = 0;
    for line in data.lines().filter(|l| !l.is_empty()) {
        let mut parts = line.split('\t');
        let (Some(oid), Some(printed), Some(expected), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            panic!("bad line {line:?}")
        };
        let oid: u32 = oid.parse().unwrap();
        let got = ok(&b(oid), printed);
        let nums: Vec<i128> = expected.split(' ').filter_map(|n| n.parse().ok()).collect();
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
        };
        let micros_ts = |m: i128| ts(m.div_euclid(1_000_000) as i64, (m.rem_euclid(1_000_000) * 1000) as u32);
        let special = |e: &str| match e {
            "infinity" => Special::PosInfinity,
            "-infinity" => Special::NegInfinity,
            _ => unreachable!(),
        };
        let want = match oid {
            DATE if nums.is_empty() => Kind::Date(Date { days: 0, special: special(expected) as i32 }),
            DATE => date(nums[0] as i32),
            TIME => time(nums[0] as i64),
            TIMETZ => timetz(nums[0] as i64, nums[1] as i32),
            TIMESTAMP if nums.is_empty() => Kind::Timestamp(special_ts(special(expected))),
            TIMESTAMP => Kind::Timestamp(micros_ts(nums[0])),
            TIMESTAMPTZ if nums.is_empty() => Kind::Timestamptz(special_ts(special(expected))),
            TIMESTAMPTZ => Kind::Timestamptz(micros_ts(nums[0])),
            INTERVAL => interval(nums[0] as i32, nums[1] as i32, nums[2] as i64),
            FLOAT4 => {
                let Kind::Float32(f) = got else { panic!("{got:?}") };
                let want = u32::from_str_radix(expected, 16).unwrap();
                assert!(f.to_bits() == want || f.is_nan() && f32::from_bits(want).is_nan(), "{printed}");
                checked += 1;
                continue;
            }
            FLOAT8 => {
                let Kind::Float64(f) = got else { panic!("{got:?}") };
                let want = u64::from_str_radix(expected, 16).unwrap();
                assert!(f.to_bits() == want || f.is_nan() && f64::from_bits(want).is_nan(), "{printed}");
                checked += 1;
                continue;
            }
            NUMERIC => Kind::Decimal(expected.to_owned()),
            BYTEA => Kind::Bytes(Bytes::from(hex(expected))),
            UUID => Kind::Uuid(Bytes::from(hex(expected))),
            BPCHAR => {
                assert_eq!(printed.len() as i128, nums[0], "{printed:?}");
                text(printed)
            }
            other => panic!("no expectation for oid {other}"),
        };
        assert_eq!(got, want, "{oid} {printed:?}");
        checked += 1;
    }
    assert!(checked > 500, "only {checked} values checked");
}
