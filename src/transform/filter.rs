//! Per-table `filter` expressions: which rows go on.
//!
//! A filter is a boolean expression over one row's columns, written in a
//! small SQL-like language, e.g.
//!
//! ```text
//! country = 'DE' and total >= 100
//! status not in ('draft', 'deleted') or "Odd Name" is not null
//! ```
//!
//! # Grammar
//!
//! Keywords (`and`, `or`, `not`, `in`, `is`, `null`, `true`, `false`) are
//! case-insensitive; `or` binds loosest, then `and`, then `not`, then a
//! comparison:
//!
//! ```text
//! expr       := and ("or" and)*
//! and        := not ("and" not)*
//! not        := "not" not | primary
//! primary    := "(" expr ")" | comparison | "true" | "false"
//! comparison := operand op operand          -- a column on at least one side
//!             | column "is" ["not"] "null"
//!             | column ["not"] "in" "(" literal ("," literal)* ")"
//! op         := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//! operand    := column | literal
//! column     := [A-Za-z_][A-Za-z0-9_$]*     -- not a keyword; matched as written
//!             | '"' name '"'                -- any name; "" for a quote
//! literal    := number | "'" text "'"       -- '' for a quote in text
//!             | "true" | "false" | "null"
//! number     := ["-"] digits ["." digits] [("e"|"E") ["+"|"-"] digits]
//! ```
//!
//! A bare `true` or `false` is a whole expression (a filter that keeps, or
//! drops, every row).
//!
//! # Semantics
//!
//! Comparisons are typed (see [`super::compare`]): numbers as exact
//! decimals, text byte-wise, dates, times, timestamps and UUIDs in their
//! own type when a text literal is compared with them, `true`/`false` with
//! booleans (and with a `boolean_like` integer as 1/0). Logic is SQL's
//! three-valued one: a comparison with NULL (the value or the literal
//! `null`) is UNKNOWN, as is one whose value does not fit the literal (a
//! text value against a number after a schema change, a NaN float);
//! `not UNKNOWN` is UNKNOWN, `false and UNKNOWN` is false, `true or
//! UNKNOWN` is true; `is null` / `is not null` are never UNKNOWN; `x in
//! (…)` is TRUE on an equal item, else UNKNOWN if `x` or an item is null,
//! else FALSE, and `not in` is its negation. A row passes only when the
//! whole expression is TRUE.
//!
//! A row that lacks a referenced column, or holds PostgreSQL's "unchanged
//! TOAST value" marker in it, cannot be judged: [`Filter::eval`] says which
//! column is [`Missing`] and the caller decides.
//!
//! [`Filter::check`] checks an expression against a table's columns and
//! types before any row flows, so typos and impossible comparisons are
//! found when the configuration is read.

mod eval;
mod parse;

use super::compare::{comparable, Literal, LiteralKind};
use crate::record::{LogicalType, Row};

/// Deepest nesting of `(` and `not` accepted (bounds recursion).
const MAX_DEPTH: usize = 100;

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    expr: Expr,
    /// Referenced column names, in order of first appearance, each once;
    /// [`ColRef::index`] points in here.
    columns: Vec<String>,
}

/// Why an expression does not parse, or does not fit a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// Byte offset into the expression text of what is wrong.
    pub at: usize,
    /// What is wrong, and what was expected.
    pub message: String,
}

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at character {}: {}", self.at + 1, self.message)
    }
}

impl std::error::Error for FilterError {}

/// A referenced column absent from the row, or holding the Unchanged
/// marker (a TOAST value the source did not send): the row cannot be
/// judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing(
    /// The column's name.
    pub String,
);

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "column `{}` is not in the row (absent, or an unchanged value the source did not send)", self.0)
    }
}

impl std::error::Error for Missing {}

/// A node of the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    /// A bare `true` / `false`.
    Const(bool),
    /// Two or more operands (flattened: `a and b and c` is one node).
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `col op rhs`; a literal written on the left is moved to the right
    /// and the operator mirrored (`100 <= total` is `total >= 100`).
    Cmp { col: ColRef, op: CmpOp, rhs: Operand },
    IsNull { col: ColRef, negated: bool },
    In { col: ColRef, list: Vec<Lit>, negated: bool },
}

/// A column in the expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ColRef {
    /// Index into [`Filter::columns`].
    index: usize,
    /// Byte offset of the name in the text.
    at: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Operand {
    Col(ColRef),
    Lit(Lit),
}

/// A literal with where and how it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lit {
    value: Literal,
    at: usize,
    /// The literal as written, for messages.
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Filter {
    /// Parses an expression (grammar in the module docs). The error points
    /// at what is wrong and says what was expected there.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        parse::parse(text)
    }

    /// Column names referenced, in order of first appearance, each once.
    pub fn columns(&self) -> Vec<&str> {
        self.columns.iter().map(String::as_str).collect()
    }

    /// Checks the expression against a table's columns: `lookup(name)`
    /// gives `Some(Some(type))` for a known column with a known type,
    /// `Some(None)` for a known column of unknown type (type checks are
    /// skipped), `None` for an unknown column; `known` lists the table's
    /// columns for the message.
    ///
    /// Errors: an unknown column, a column compared with a literal (or a
    /// column) of another kind, a text literal that does not read as the
    /// column's date, time, timestamp or UUID, and a comparison on a column
    /// that cannot be compared (arrays, documents, binary, …; `is null`
    /// applies to every column). `at` points at the column, or at the
    /// offending literal.
    pub fn check(&self, lookup: &dyn Fn(&str) -> Option<Option<LogicalType>>, known: &[String]) -> Result<(), FilterError> {
        Checker { filter: self, lookup, known }.expr(&self.expr)
    }

    /// Evaluates the expression on `row`: `Ok(true)` only when it is TRUE
    /// (FALSE and UNKNOWN give `Ok(false)`). `Err(Missing(col))` when a
    /// referenced column is absent from `row` or holds the Unchanged marker
    /// (the first such, in [`Filter::columns`] order), whether or not the
    /// logic would have needed it.
    pub fn eval(&self, row: &Row) -> Result<bool, Missing> {
        eval::eval(self, row)
    }

    fn name(&self, col: ColRef) -> &str {
        self.columns.get(col.index).map_or("", String::as_str)
    }
}

/// [`Filter::check`]'s walk.
struct Checker<'a> {
    filter: &'a Filter,
    lookup: &'a dyn Fn(&str) -> Option<Option<LogicalType>>,
    known: &'a [String],
}

impl Checker<'_> {
    fn expr(&self, e: &Expr) -> Result<(), FilterError> {
        match e {
            Expr::Const(_) => Ok(()),
            Expr::And(list) | Expr::Or(list) => list.iter().try_for_each(|e| self.expr(e)),
            Expr::Not(e) => self.expr(e),
            Expr::IsNull { col, .. } => self.column(*col).map(drop),
            Expr::Cmp { col, rhs, .. } => {
                let left = self.comparable(*col)?;
                match rhs {
                    Operand::Lit(lit) => self.literal(*col, left.as_ref(), lit),
                    Operand::Col(other) => match (left, self.comparable(*other)?) {
                        (Some((k1, t1)), Some((k2, t2))) if k1 != k2 => Err(FilterError {
                            at: other.at,
                            message: format!("{}; {}", self.is(*col, k1, &t1), self.is(*other, k2, &t2)),
                        }),
                        _ => Ok(()),
                    },
                }
            }
            Expr::In { col, list, .. } => {
                let kind = self.comparable(*col)?;
                list.iter().try_for_each(|lit| self.literal(*col, kind.as_ref(), lit))
            }
        }
    }

    /// The column's type; an error for an unknown column.
    fn column(&self, col: ColRef) -> Result<Option<LogicalType>, FilterError> {
        let name = self.filter.name(col);
        (self.lookup)(name).ok_or_else(|| FilterError { at: col.at, message: unknown_column(name, self.known) })
    }

    /// The literal kind and type of a column of known type; an error for
    /// an unknown column or one that cannot be compared.
    fn comparable(&self, col: ColRef) -> Result<Option<(LiteralKind, LogicalType)>, FilterError> {
        let Some(t) = self.column(col)? else { return Ok(None) };
        match comparable(&t) {
            Some(kind) => Ok(Some((kind, t))),
            None => Err(FilterError {
                at: col.at,
                message: format!(
                    "column `{}` ({}) cannot be compared in a filter; only `is null` and `is not null` apply to it",
                    self.filter.name(col),
                    t.describe()
                ),
            }),
        }
    }

    /// "column `total` is a number (decimal(12,2))"
    fn is(&self, col: ColRef, kind: LiteralKind, t: &LogicalType) -> String {
        format!("column `{}` is {} ({})", self.filter.name(col), kind.noun(), t.describe())
    }

    /// Whether `lit` fits a column of literal kind `kind` (None: unknown
    /// type, anything goes).
    fn literal(&self, col: ColRef, kind: Option<&(LiteralKind, LogicalType)>, lit: &Lit) -> Result<(), FilterError> {
        let Some(&(kind, ref t)) = kind else { return Ok(()) };
        let wrong = |what: &str| {
            Err(FilterError { at: lit.at, message: format!("{}; {} {what}", self.is(col, kind, t), shown(&lit.text)) })
        };
        match (&lit.value, kind) {
            (Literal::Null, _)
            | (Literal::Number(_), LiteralKind::Number)
            | (Literal::Bool(_), LiteralKind::Bool)
            | (Literal::Text(_), LiteralKind::Text) => Ok(()),
            (Literal::Bool(_), LiteralKind::Number) if t.boolean_like => Ok(()),
            (Literal::Number(_), _) => wrong("is a number"),
            (Literal::Bool(_), _) => wrong("is a boolean"),
            (Literal::Text(s), LiteralKind::Number) if super::compare::Number::parse(&s.text).is_some() => {
                wrong("is text (write the number without quotes)")
            }
            (Literal::Text(_), LiteralKind::Number | LiteralKind::Bool) => wrong("is text"),
            (Literal::Text(s), LiteralKind::Date) => match s.date {
                Some(_) => Ok(()),
                None => wrong("is not a date (write 'YYYY-MM-DD', 'infinity' or '-infinity')"),
            },
            (Literal::Text(s), LiteralKind::Time) => match s.time {
                Some(_) => Ok(()),
                None => wrong("is not a time of day (write 'HH:MM:SS' with up to 6 fraction digits, optionally an offset)"),
            },
            (Literal::Text(s), LiteralKind::Timestamp) => match &s.stamp {
                Some(st) if st.offset.is_none() => Ok(()),
                Some(_) => wrong("has a UTC offset, but the column holds wall-clock times without a zone: drop the offset"),
                None => wrong("is not a timestamp (write 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM:SS[.fffffffff]', 'infinity' or '-infinity')"),
            },
            (Literal::Text(s), LiteralKind::TimestampTz) => match s.stamp {
                Some(_) => Ok(()),
                None => wrong(
                    "is not a timestamp (write 'YYYY-MM-DD HH:MM:SS[.fffffffff]' with an optional 'Z' or '+HH:MM'; without one it is UTC)",
                ),
            },
            (Literal::Text(s), LiteralKind::Uuid) => match s.uuid {
                Some(_) => Ok(()),
                None => wrong("is not a uuid (write 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx')"),
            },
        }
    }
}

/// A literal's text for a message, cut after 40 characters.
fn shown(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// "unknown column `totl` (did you mean `total`?); the table's columns are: country, total"
fn unknown_column(name: &str, known: &[String]) -> String {
    let near = known
        .iter()
        .map(|k| (distance(&name.to_lowercase(), &k.to_lowercase()), k))
        .filter(|(d, _)| *d <= 2 && *d < name.chars().count())
        .min_by_key(|(d, _)| *d);
    let hint = near.map(|(_, k)| format!(" (did you mean `{k}`?)")).unwrap_or_default();
    if known.is_empty() {
        format!("unknown column `{name}`; the table has no known columns")
    } else {
        format!("unknown column `{name}`{hint}; the table's columns are: {}", known.join(", "))
    }
}

/// Levenshtein distance in characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table: country text(2), total decimal(12,2), day date, at timestamp,
    /// at_tz timestamptz, t time, id uuid, flag tinyint(1), n int, tags text[],
    /// blob (type unknown).
    fn table() -> (Vec<(String, Option<LogicalType>)>, Vec<String>) {
        let cols = vec![
            ("country", Some(LogicalType::text(2, true))),
            ("total", Some(LogicalType::decimal(12, 2))),
            ("day", Some(LogicalType::date())),
            ("at", Some(LogicalType::timestamp(Some(6), false))),
            ("at_tz", Some(LogicalType::timestamp(Some(6), true))),
            ("t", Some(LogicalType::time(None, false))),
            ("id", Some(LogicalType::uuid())),
            ("flag", Some(LogicalType::boolean_like(false))),
            ("n", Some(LogicalType::integer(4, false))),
            ("ok", Some(LogicalType::boolean())),
            ("tags", Some(LogicalType::array(LogicalType::text(0, false)))),
            ("blob", None),
        ];
        let known = cols.iter().map(|(n, _)| n.to_string()).collect();
        (cols.into_iter().map(|(n, t)| (n.to_string(), t)).collect(), known)
    }

    fn check(text: &str) -> Result<(), FilterError> {
        let (cols, known) = table();
        let lookup = |name: &str| cols.iter().find(|(n, _)| n == name).map(|(_, t)| t.clone());
        Filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}")).check(&lookup, &known)
    }

    /// (at, message) of a check error.
    fn refused(text: &str) -> (usize, String) {
        match check(text) {
            Ok(()) => panic!("{text} passed the check"),
            Err(e) => (e.at, e.message),
        }
    }

    #[test]
    fn unknown_columns_are_named_with_the_known_ones() {
        let text = "country = 'DE' and totl >= 100";
        let cols = ["country".to_string(), "total".to_string()];
        let lookup = |name: &str| cols.contains(&name.to_string()).then_some(None);
        let e = Filter::parse(text).map(|f| f.check(&lookup, &cols));
        let Ok(Err(e)) = e else { panic!("{e:?}") };
        assert_eq!(e.at, 19);
        assert_eq!(&text[e.at..e.at + 4], "totl");
        assert_eq!(e.message, "unknown column `totl` (did you mean `total`?); the table's columns are: country, total");
        assert_eq!(e.to_string(), format!("at character 20: {}", e.message));
        // No close name, no hint; no columns at all, said so.
        let (at, m) = refused("n = 1 or price > 1");
        assert_eq!(at, 9);
        assert!(m.starts_with("unknown column `price`; the table's columns are: country, total, day,"), "{m}");
        let e = Filter::parse("x is null").map(|f| f.check(&|_| None, &[]));
        assert_eq!(e.map_err(|e| e.message).and_then(|r| r.map_err(|e| e.message)), Err("unknown column `x`; the table has no known columns".into()));
    }

    #[test]
    fn literals_must_fit_the_column_type() {
        let text = "total = 'abc'";
        assert_eq!(refused(text), (8, "column `total` is a number (decimal(12,2)); 'abc' is text".into()));
        assert_eq!(refused("'abc' < total").0, 0);
        assert_eq!(refused("total = '100'").1, "column `total` is a number (decimal(12,2)); '100' is text (write the number without quotes)");
        assert_eq!(refused("country = 1").1, "column `country` is text (text(2 chars, fixed)); 1 is a number");
        assert_eq!(refused("n = true").1, "column `n` is a number (integer(4 bytes)); true is a boolean");
        assert_eq!(refused("ok = 1").1, "column `ok` is a boolean (boolean); 1 is a number");
        assert_eq!(refused("total in (1, 2, 'x')"), (16, "column `total` is a number (decimal(12,2)); 'x' is text".into()));
        let (at, m) = refused("day >= '2024-13-01'");
        assert_eq!((at, m.starts_with("column `day` is a date (date); '2024-13-01' is not a date")), (7, true), "{m}");
        assert!(refused("at < '2024-01-01T00:00:00Z'").1.contains("has a UTC offset"));
        assert!(refused("at < 'yesterday'").1.contains("is not a timestamp"));
        assert!(refused("at_tz < '2024-01-01 25:00'").1.contains("is not a timestamp"));
        assert!(refused("t = '10:00:00.1234567'").1.contains("is not a time of day"));
        assert!(refused("id = '1234'").1.contains("is not a uuid"));
        for ok in [
            "total >= 100 and country in ('DE', 'AT', null)",
            "flag = true and flag != 0",
            "ok = false",
            "day is null or day < '2024-01-01' or day = 'infinity'",
            "at >= '2024-01-01 10:00:00.5' and at_tz < '2024-01-01T00:30:00+01:00'",
            "t > '08:00' and id = '00010203-0405-0607-0809-0a0b0c0d0e0f'",
            "total = null and blob = 1 and blob = 'anything'",
            "n < total and day = day",
            "true",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn uncomparable_columns_and_mismatched_columns() {
        assert_eq!(
            refused("country = 'DE' or tags = 'x'"),
            (18, "column `tags` (array of text) cannot be compared in a filter; only `is null` and `is not null` apply to it".into())
        );
        assert_eq!(check("tags is not null"), Ok(()));
        assert_eq!(refused("total = country"), (8, "column `total` is a number (decimal(12,2)); column `country` is text (text(2 chars, fixed))".into()));
        assert!(refused("at = at_tz").1.contains("is a timestamp without time zone"));
        assert_eq!(check("blob = country"), Ok(()));
    }
}
