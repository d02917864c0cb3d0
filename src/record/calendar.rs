//! Proleptic Gregorian calendar arithmetic (Howard Hinnant's
//! "chrono-Compatible Low-Level Date Algorithms"), shared by the canonical
//! JSON form, the PostgreSQL decoder and the PostgreSQL target. Years are
//! astronomical: year 0 is 1 BC.

/// (year, month, day) of the proleptic Gregorian calendar from days since
/// 1970-01-01. Exact for every `i64` that does not overflow `z + 719468`,
/// which covers all `Timestamp::seconds / 86400`.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a valid proleptic Gregorian date (i128: no
/// overflow for any i64 year).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i128 {
    let y = i128::from(y) - i128::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let m = i128::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i128::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// Days in month `m` (1..=12) of year `y`.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if y.rem_euclid(4) == 0 && (y.rem_euclid(100) != 0 || y.rem_euclid(400) == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// An interval as PostgreSQL prints it with `IntervalStyle = postgres`:
/// `1 year 2 mons -3 days +04:05:06.5`, `00:00:00` for zero.
pub fn postgres_interval(i: &crate::record::Interval) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut is_zero = true;
    let mut is_before = false;
    for (value, unit) in [(i64::from(i.months / 12), "year"), (i64::from(i.months % 12), "mon"), (i64::from(i.days), "day")] {
        if value == 0 {
            continue;
        }
        let _ = write!(
            out,
            "{}{}{value} {unit}{}",
            if is_zero { "" } else { " " },
            if is_before && value > 0 { "+" } else { "" },
            if value != 1 { "s" } else { "" }
        );
        is_before = value < 0;
        is_zero = false;
    }
    if is_zero || i.micros != 0 {
        let a = i.micros.unsigned_abs();
        let _ = write!(
            out,
            "{}{}{:02}:{:02}:{:02}",
            if is_zero { "" } else { " " },
            if i.micros < 0 { "-" } else if is_before { "+" } else { "" },
            a / 3_600_000_000,
            a / 60_000_000 % 60,
            a / 1_000_000 % 60
        );
        if a % 1_000_000 != 0 {
            let _ = write!(out, ".{}", format!("{:06}", a % 1_000_000).trim_end_matches('0'));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-719_528), (0, 1, 1));
        assert_eq!(civil_from_days(-735_160), (-43, 3, 15));
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(0, 2), 29);
    }
}
