//! Property tests: round trips over each type's whole range, and no panic
//! on arbitrary or mutated text.
use super::*;
use proptest::prelude::*;

/// The shared calendar's inverse, with the parser's integer types.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let (y, m, d) = crate::record::calendar::civil_from_days(z);
    (y, i64::from(m), i64::from(d))
}

/// A date as PostgreSQL prints it (ISO, BC suffix).
fn pg_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    let (y, bc) = if y <= 0 { (1 - y, " BC") } else { (y, "") };
    format!("{y:04}-{m:02}-{d:02}{bc}")
}

const ALL_TYPES: &[u32] = &[
    BOOL,
    BYTEA,
    CHAR,
    NAME,
    INT8,
    INT2,
    INT4,
    TEXT,
    OID,
    JSON,
    FLOAT4,
    FLOAT8,
    BPCHAR,
    VARCHAR,
    DATE,
    TIME,
    TIMESTAMP,
    TIMESTAMPTZ,
    INTERVAL,
    TIMETZ,
    NUMERIC,
    UUID,
    JSONB,
    1007,
    1009,
    1020,
    1115,
    1187,
    1001,
    1231,
];

proptest! {
    /// Every date PostgreSQL can store (4713 BC .. 5874897 AD) reads
    /// back to its day number.
    #[test]
    fn dates_round_trip(days in -2_440_588i64..=2_145_042_905) {
        let printed = pg_date(days);
        prop_assert_eq!(ok(&b(DATE), &printed), date(days as i32), "{}", printed);
    }

    /// Timestamps over PostgreSQL's whole range, with and without zone.
    #[test]
    fn timestamps_round_trip(
        // Microseconds since 1970 overflow i64 near the top of the range.
        secs in -210_866_803_200i64..=9_224_318_015_999,
        frac in 0i64..1_000_000,
        offset in -57_599i32..=57_599,
    ) {
        let fmt = |secs: i64| {
            let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
            let (y, bc) = if y <= 0 { (1 - y, " BC") } else { (y, "") };
            let tod = secs.rem_euclid(86_400);
            let f = if frac == 0 { String::new() } else { format!(".{frac:06}").trim_end_matches('0').to_owned() };
            (format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}{f}", tod / 3600, tod / 60 % 60, tod % 60), bc)
        };
        let want = ts(secs, frac as u32 * 1000);
        let (naive, bc) = fmt(secs);
        prop_assert_eq!(ok(&b(TIMESTAMP), &format!("{naive}{bc}")), Kind::Timestamp(want));
        // The same instant printed in a zone `offset` seconds east.
        let (local, bc) = fmt(secs + i64::from(offset));
        let a = offset.unsigned_abs();
        let sign = if offset < 0 { '-' } else { '+' };
        let mut off = format!("{sign}{:02}", a / 3600);
        if a % 3600 != 0 {
            off += &format!(":{:02}", a / 60 % 60);
            if a % 60 != 0 {
                off += &format!(":{:02}", a % 60);
            }
        }
        prop_assert_eq!(ok(&b(TIMESTAMPTZ), &format!("{local}{off}{bc}")), Kind::Timestamptz(want));
    }

    /// Intervals printed the way PostgreSQL's `postgres` style does.
    #[test]
    fn intervals_round_trip(months in any::<i32>(), days in any::<i32>(), micros in any::<i64>()) {
        let mut parts = Vec::new();
        let (y, mo) = (months / 12, months % 12);
        let plural = |n: i64| if n == 1 { "" } else { "s" };
        // As EncodeInterval: each nonzero field says (only) to the next one
        // whether it was negative; a positive field after a negative one gets a "+".
        let mut previous_negative = false;
        let signed = |n: i64, neg: bool| if neg && n > 0 { format!("+{n}") } else { n.to_string() };
        if y != 0 {
            parts.push(format!("{y} year{}", plural(y.into())));
            previous_negative = y < 0;
        }
        if mo != 0 {
            parts.push(format!("{} mon{}", signed(mo.into(), previous_negative), plural(mo.into())));
            previous_negative = mo < 0;
        }
        if days != 0 {
            parts.push(format!("{} day{}", signed(days.into(), previous_negative), plural(days.into())));
            previous_negative = days < 0;
        }
        if micros != 0 || parts.is_empty() {
            let a = micros.unsigned_abs();
            let sign = if micros < 0 { "-" } else if previous_negative { "+" } else { "" };
            let frac = a % 1_000_000;
            let f = if frac == 0 { String::new() } else { format!(".{frac:06}").trim_end_matches('0').to_owned() };
            let secs = a / 1_000_000;
            parts.push(format!("{sign}{:02}:{:02}:{:02}{f}", secs / 3600, secs / 60 % 60, secs % 60));
        }
        let printed = parts.join(" ");
        prop_assert_eq!(ok(&b(INTERVAL), &printed), interval(months, days, micros), "{}", printed);
    }

    /// Floats read back to the same bits from Rust's shortest form
    /// (the form PostgreSQL prints with extra_float_digits > 0, modulo
    /// exponent style).
    #[test]
    fn floats_round_trip(bits in any::<u64>(), bits32 in any::<u32>()) {
        let f = f64::from_bits(bits);
        let g = f32::from_bits(bits32);
        if !f.is_nan() {
            prop_assert_eq!(ok(&b(FLOAT8), &format!("{f:e}")), Kind::Float64(f));
        }
        if !g.is_nan() {
            prop_assert_eq!(ok(&b(FLOAT4), &format!("{g:e}")), Kind::Float32(g));
        }
    }

    /// Arbitrary text never panics, whatever the type.
    #[test]
    fn any_text_never_panics(
        oid in proptest::sample::select(ALL_TYPES.to_vec()),
        text in r#"[-0-9a-fA-FxNULIBC:.+ T{}\[\]="\\,;éü]{0,40}"#,
    ) {
        let ty = builtin_oid(oid).unwrap();
        let _ = text_to_value(&ty, &text);
    }

    /// Mutations of valid array texts never panic.
    #[test]
    fn mutated_arrays_never_panic(
        pick in 0usize..4,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), proptest::sample::select(
            vec!['{', '}', '"', '\\', ',', ' ', 'N', 'é', '[', ']', ':', '=', '1'])), 1..4),
    ) {
        let samples = [
            r#"{"a \"b\"","",NULL,"x\\y",{}}"#,
            "[0:1][1:2]={{1,2},{3,4}}",
            r#"{{"a,b"},{NULL}}"#,
            r#"{"2024-01-01 00:00:00+00",infinity}"#,
        ];
        let mut chars: Vec<char> = samples[pick].chars().collect();
        for (at, c) in edits {
            let i = at.index(chars.len());
            chars[i] = c;
        }
        let text: String = chars.into_iter().collect();
        for oid in [1009, 1007, 1185] {
            let _ = text_to_value(&builtin_oid(oid).unwrap(), &text);
        }
    }
}
