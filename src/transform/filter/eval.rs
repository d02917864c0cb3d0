//! Evaluation of a parsed filter on a row, in SQL's three-valued logic:
//! `Some(true)` TRUE, `Some(false)` FALSE, `None` UNKNOWN.

use std::cmp::Ordering;

use super::{CmpOp, Expr, Filter, Missing, Operand};
use crate::record::value::Kind;
use crate::record::{Row, Value};
use crate::transform::compare::{cmp_literal, cmp_values};

/// [`Filter::eval`]: every referenced column looked up once (any absent or
/// Unchanged one is [`Missing`]), then the expression is TRUE or not.
pub(super) fn eval(filter: &Filter, row: &Row) -> Result<bool, Missing> {
    let mut values = Vec::with_capacity(filter.columns.len());
    for name in &filter.columns {
        match row.get(name) {
            Some(v) if !v.is_unchanged() => values.push(v),
            _ => return Err(Missing(name.clone())),
        }
    }
    Ok(truth(&filter.expr, &values) == Some(true))
}

/// SQL NULL; a value with no kind set (invalid) counts as one.
fn is_null(v: &Value) -> bool {
    matches!(v.kind, None | Some(Kind::Null(_)))
}

/// The truth of `e`; `values[i]` is the value of column `i`.
fn truth(e: &Expr, values: &[&Value]) -> Option<bool> {
    match e {
        Expr::Const(b) => Some(*b),
        Expr::And(list) => {
            let mut unknown = false;
            for e in list {
                match truth(e, values) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            (!unknown).then_some(true)
        }
        Expr::Or(list) => {
            let mut unknown = false;
            for e in list {
                match truth(e, values) {
                    Some(true) => return Some(true),
                    None => unknown = true,
                    Some(false) => {}
                }
            }
            (!unknown).then_some(false)
        }
        Expr::Not(e) => truth(e, values).map(|b| !b),
        Expr::IsNull { col, negated } => Some(is_null(values[col.index]) != *negated),
        Expr::Cmp { col, op, rhs } => {
            let v = values[col.index];
            let order = match rhs {
                Operand::Col(other) => cmp_values(v, values[other.index]),
                Operand::Lit(lit) => cmp_literal(v, &lit.value),
            };
            order.map(|o| op.holds(o))
        }
        Expr::In { col, list, negated } => {
            let v = values[col.index];
            let mut unknown = false;
            for lit in list {
                match cmp_literal(v, &lit.value) {
                    Some(Ordering::Equal) => return Some(!*negated),
                    Some(_) => {}
                    None => unknown = true,
                }
            }
            // `cmp_literal` is UNKNOWN for a null value or a null item.
            (!unknown).then_some(*negated)
        }
    }
}

impl CmpOp {
    /// Whether `left op right` holds when `left.cmp(right)` is `o`.
    fn holds(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Ne => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Filter, Missing};
    use crate::record::value::Kind;
    use crate::record::{Column, Date, Labels, Row, Special, Time, Timestamp, Value};

    fn filter(text: &str) -> Filter {
        Filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn passes(text: &str, row: &Row) -> bool {
        filter(text).eval(row).unwrap_or_else(|m| panic!("{text}: {m}"))
    }

    /// 'T', 'F' or 'U' (UNKNOWN) for an expression: `not` tells FALSE from UNKNOWN.
    fn truth(text: &str, row: &Row) -> char {
        match (passes(text, row), passes(&format!("not ({text})"), row)) {
            (true, false) => 'T',
            (false, true) => 'F',
            (false, false) => 'U',
            (true, true) => panic!("{text} is both"),
        }
    }

    fn row(pairs: Vec<(&str, Value)>) -> Row {
        Row::from_pairs(pairs)
    }

    fn decimal(s: &str) -> Value {
        Value::of(Kind::Decimal(s.into()))
    }

    #[test]
    fn decimals_compare_exactly() {
        assert!(passes("total >= 100", &row(vec![("total", decimal("100.00"))])));
        assert!(!passes("total >= 100", &row(vec![("total", decimal("99.999"))])));
        assert!(passes("total = 1e2", &row(vec![("total", Value::int64(100))])));
        assert!(passes("100 <= total", &row(vec![("total", decimal("100.000001"))])));
        assert!(passes("x = 0.1", &row(vec![("x", Value::of(Kind::Float64(0.1)))])));
        assert!(passes("x > 18446744073709551614", &row(vec![("x", Value::of(Kind::Uint64(u64::MAX)))])));
        assert!(passes("a < b", &row(vec![("a", Value::int64(2)), ("b", decimal("2.5"))])));
    }

    #[test]
    fn three_valued_logic_tables() {
        // T: x = 1, F: x = 2, U: n = 1 (n is NULL).
        let r = row(vec![("x", Value::int64(1)), ("n", Value::null())]);
        let expr = |c: char| match c {
            'T' => "x = 1",
            'F' => "x = 2",
            _ => "n = 1",
        };
        let and = [('T', 'T', 'T'), ('T', 'F', 'F'), ('T', 'U', 'U'), ('F', 'F', 'F'), ('F', 'U', 'F'), ('U', 'U', 'U')];
        let or = [('T', 'T', 'T'), ('T', 'F', 'T'), ('T', 'U', 'T'), ('F', 'F', 'F'), ('F', 'U', 'U'), ('U', 'U', 'U')];
        for (a, b, want) in and {
            assert_eq!(truth(&format!("{} and {}", expr(a), expr(b)), &r), want, "{a} and {b}");
            assert_eq!(truth(&format!("{} and {}", expr(b), expr(a)), &r), want, "{b} and {a}");
        }
        for (a, b, want) in or {
            assert_eq!(truth(&format!("{} or {}", expr(a), expr(b)), &r), want, "{a} or {b}");
            assert_eq!(truth(&format!("{} or {}", expr(b), expr(a)), &r), want, "{b} or {a}");
        }
        for (a, want) in [('T', 'F'), ('F', 'T'), ('U', 'U')] {
            assert_eq!(truth(&format!("not {}", expr(a)), &r), want, "not {a}");
        }
        // Every comparison with NULL is UNKNOWN, whichever side it is on.
        for text in ["n = 1", "n != 1", "n < 1", "x = null", "x != null", "null = x", "n = x", "n = null"] {
            assert_eq!(truth(text, &r), 'U', "{text}");
        }
        // `is null` never is.
        assert_eq!(truth("n is null", &r), 'T');
        assert_eq!(truth("n is not null", &r), 'F');
        assert_eq!(truth("x is null", &r), 'F');
        assert_eq!(truth("x is not null", &r), 'T');
        assert_eq!(truth("true", &r), 'T');
        assert_eq!(truth("false", &r), 'F');
    }

    #[test]
    fn in_lists_follow_sql() {
        let r = row(vec![("x", Value::int64(1)), ("n", Value::null())]);
        let cases = [
            ("x in (1, null)", 'T'),
            ("x in (2, 1)", 'T'),
            ("x in (2, null)", 'U'),
            ("x in (2, 3)", 'F'),
            ("x not in (2, 3)", 'T'),
            ("x not in (2, null)", 'U'),
            ("x not in (1, null)", 'F'),
            ("n in (1, 2)", 'U'),
            ("n not in (1, 2)", 'U'),
            ("x in ('1')", 'U'),
        ];
        for (text, want) in cases {
            assert_eq!(truth(text, &r), want, "{text}");
        }
    }

    #[test]
    fn values_that_do_not_fit_are_unknown() {
        let r = row(vec![
            ("t", Value::text("abc")),
            ("nan", Value::of(Kind::Float64(f64::NAN))),
            ("b", Value::of(Kind::Bool(true))),
            ("i", Value::int64(5)),
            ("bad", Value { kind: None }),
        ]);
        for text in ["t = 1", "t != 1", "nan = 1", "nan != 1", "nan < 1", "b = 1", "i = 'abc'", "i = b", "bad = 1", "t < i"] {
            assert_eq!(truth(text, &r), 'U', "{text}");
        }
        // A value with no kind counts as NULL.
        assert_eq!(truth("bad is null", &r), 'T');
    }

    #[test]
    fn temporal_values_compare_in_their_type() {
        let jan1 = 1_704_067_200; // 2024-01-01T00:00:00
        let ts = |seconds| Timestamp { seconds, nanos: 0, special: 0 };
        let r = row(vec![
            ("tz", Value::of(Kind::Timestamptz(ts(jan1 - 1800)))),
            ("wall", Value::of(Kind::Timestamp(ts(jan1 + 36_000)))),
            ("d", Value::of(Kind::Date(Date { days: 19_723, special: 0 }))),
            ("forever", Value::of(Kind::Date(Date { days: 0, special: Special::PosInfinity as i32 }))),
        ]);
        // An instant: 2024-01-01T00:30:00+01:00 is 2023-12-31T23:30:00Z.
        assert_eq!(truth("tz = '2024-01-01T00:30:00+01:00'", &r), 'T');
        assert_eq!(truth("tz = '2023-12-31 23:30:00'", &r), 'T');
        assert_eq!(truth("tz < '2024-01-01'", &r), 'T');
        assert_eq!(truth("wall = '2024-01-01 10:00:00'", &r), 'T');
        assert_eq!(truth("wall > '2024-01-01T09:59:59.999999999'", &r), 'T');
        assert_eq!(truth("wall = '2024-01-01 10:00:00+00:00'", &r), 'U');
        assert_eq!(truth("d = '2024-01-01'", &r), 'T');
        assert_eq!(truth("d in ('2023-12-31', '2024-01-01')", &r), 'T');
        assert_eq!(truth("forever > '9999-12-31'", &r), 'T');
        assert_eq!(truth("d = 'soon'", &r), 'U');
    }

    #[test]
    fn literals_compare_in_the_column_type() {
        use std::cmp::Ordering::{Equal as E, Greater as G, Less as L};
        use Special::{Finite, NegInfinity, PosInfinity, Zero};
        let v = Value::of;
        let date = |days, sp: Special| v(Kind::Date(Date { days, special: sp as i32 }));
        let ts = |seconds, nanos, sp: Special| Timestamp { seconds, nanos, special: sp as i32 };
        let wall = |seconds, nanos| v(Kind::Timestamp(ts(seconds, nanos, Finite)));
        let tz = |seconds, sp| v(Kind::Timestamptz(ts(seconds, 0, sp)));
        let time = |micros, offset: Option<i32>| {
            v(Kind::Time(Time { micros, has_offset: offset.is_some(), offset_seconds: offset.unwrap_or(0) }))
        };
        let uuid = v(Kind::Uuid((0u8..16).collect::<Vec<u8>>().into()));
        let set = v(Kind::Set(Labels { labels: vec!["a".into(), "b".into()] }));
        let jan1 = 1_704_067_200; // 2024-01-01T00:00:00, day 19723
        let cases = [
            (date(19_723, Finite), "'2024-01-01'", Some(E)),
            (date(19_722, Finite), "'2024-01-01'", Some(L)),
            (date(0, PosInfinity), "'9999-12-31'", Some(G)),
            (date(0, PosInfinity), "'infinity'", Some(E)),
            (date(0, NegInfinity), "'0001-01-01'", Some(L)),
            (date(0, Zero), "'0001-01-01'", Some(L)),
            (date(0, Zero), "'-infinity'", Some(G)),
            (date(19_723, Finite), "'2024-02-30'", None),
            // Wall-clock timestamps; an offset does not apply to them.
            (wall(jan1, 0), "'2024-01-01'", Some(E)),
            (wall(jan1 + 36_000, 0), "'2024-01-01 10:00:00'", Some(E)),
            (wall(jan1 + 36_000, 500_000_000), "'2024-01-01T10:00:00.5'", Some(E)),
            (wall(jan1 + 36_000, 1), "'2024-01-01T10:00'", Some(G)),
            (wall(jan1, 0), "'2024-01-01T00:00:00Z'", None),
            // Instants: the offset applies, no offset is UTC.
            (tz(jan1 - 1800, Finite), "'2024-01-01T00:30:00+01:00'", Some(E)),
            (tz(jan1 - 1800, Finite), "'2023-12-31 23:30:00Z'", Some(E)),
            (tz(jan1 - 1800, Finite), "'2023-12-31 23:30'", Some(E)),
            (tz(jan1, Finite), "'2023-12-31T19:00:00 -0500'", Some(E)),
            (tz(0, NegInfinity), "'1900-01-01'", Some(L)),
            (tz(0, PosInfinity), "'2023-12-31 19:00:00-05'", Some(G)),
            // Times of day; with an offset both sides are taken to UTC.
            (time(36_000_500_000, None), "'10:00:00.5'", Some(E)),
            (time(36_000_000_000, None), "'10:00'", Some(E)),
            (time(36_000_000_000, Some(7200)), "'08:00:00Z'", Some(E)),
            (time(86_400_000_000, None), "'24:00:00'", Some(E)),
            (time(0, None), "'10:00:00.1234567'", None),
            // UUIDs as bytes, any case, with or without hyphens.
            (uuid.clone(), "'00010203-0405-0607-0809-0A0B0C0D0E0F'", Some(E)),
            (uuid.clone(), "'000102030405060708090a0b0c0d0e0f'", Some(E)),
            (uuid.clone(), "'00010203-0405-0607-0809-0a0b0c0d0e10'", Some(L)),
            (uuid, "'not-a-uuid'", None),
            // Text byte-wise; a SET as its MySQL text.
            (Value::text("B"), "'a'", Some(L)),
            (set, "'a,b'", Some(E)),
            (Value::int64(1), "'1'", None),
            // Booleans, and numbers against true/false as 1/0.
            (v(Kind::Bool(true)), "true", Some(E)),
            (v(Kind::Bool(false)), "true", Some(L)),
            (Value::int64(1), "true", Some(E)),
            (Value::int64(0), "false", Some(E)),
            (v(Kind::Bool(true)), "1", None),
        ];
        for (value, lit, want) in cases {
            let r = row(vec![("x", value)]);
            let (op, opposite) = match want {
                Some(E) => ("=", "!="),
                Some(L) => ("<", ">="),
                Some(G) => (">", "<="),
                None => ("=", "!="),
            };
            let (yes, no) = if want.is_some() { ('T', 'F') } else { ('U', 'U') };
            assert_eq!(truth(&format!("x {op} {lit}"), &r), yes, "{r:?} {op} {lit}");
            assert_eq!(truth(&format!("x {opposite} {lit}"), &r), no, "{r:?} {opposite} {lit}");
        }
    }

    #[test]
    fn columns_compare_with_columns_of_their_kind() {
        let ts = |seconds| Timestamp { seconds, nanos: 0, special: 0 };
        let r = row(vec![
            ("i", Value::int64(100)),
            ("dec", decimal("100.00")),
            ("half", Value::of(Kind::Float64(0.5))),
            ("u", Value::of(Kind::Uint64(1))),
            ("t", Value::text("a")),
            ("e", Value::of(Kind::EnumLabel("b".into()))),
            ("d1", Value::of(Kind::Date(Date { days: 1, special: 0 }))),
            ("d2", Value::of(Kind::Date(Date { days: 2, special: 0 }))),
            ("wall", Value::of(Kind::Timestamp(ts(0)))),
            ("tz", Value::of(Kind::Timestamptz(ts(0)))),
            ("one", Value::text("1")),
            ("n", Value::null()),
        ]);
        let cases = [
            ("i = dec", 'T'),
            ("half < u", 'T'),
            ("t < e", 'T'),
            ("d1 < d2", 'T'),
            ("tz = tz", 'T'),
            ("d2 <= d1", 'F'),
            ("u = one", 'U'),
            ("wall = tz", 'U'),
            ("n = n", 'U'),
            ("i != n", 'U'),
        ];
        for (text, want) in cases {
            assert_eq!(truth(text, &r), want, "{text}");
        }
    }

    #[test]
    fn booleans_and_boolean_like_integers() {
        let r = row(vec![("flag", Value::int64(1)), ("b", Value::of(Kind::Bool(false)))]);
        assert_eq!(truth("flag = true", &r), 'T');
        assert_eq!(truth("flag = false", &r), 'F');
        assert_eq!(truth("b = false", &r), 'T');
        assert_eq!(truth("not b = true", &r), 'T');
    }

    #[test]
    fn absent_or_unchanged_columns_are_missing() {
        let r = row(vec![("a", Value::int64(1)), ("big", Value::unchanged())]);
        // Even where `or` would not need `b`.
        assert_eq!(filter("a = 1 or b = 2").eval(&r), Err(Missing("b".into())));
        assert_eq!(filter("a = 1 and big = 'x'").eval(&r), Err(Missing("big".into())));
        assert_eq!(filter("big is null").eval(&r), Err(Missing("big".into())));
        let no_value = Row { columns: vec![Column { name: "a".into(), value: None }] };
        assert_eq!(filter("a = 1").eval(&no_value), Err(Missing("a".into())));
        assert_eq!(filter("true").eval(&Row::default()), Ok(true));
        assert_eq!(filter("false").eval(&r), Ok(false));
    }
}
