//! `[pipeline.table.validate]`: per-column checks on the new row of a
//! change, on the source's names and values. A NULL fails only
//! `not_null`; a column the row does not carry (a TOASTed value not sent)
//! is not checked. Messages name the rule, the check, the column and the
//! table — never the value (it may be personal data, and a masked column's
//! value must not leave the dead-letter store).

use super::compare::{number_of, text_of};
use super::plan::{Checks, Plan, Rule};
use crate::config::OnInvalid;
use crate::record::{value::Kind, Change, Value};

/// A record that failed a `validate` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Key path of the failed check: `pipeline[shop].table[0].validate.email.regex`.
    pub rule: String,
    /// The source column.
    pub column: String,
    /// The source table (`schema.name`).
    pub table: String,
    /// What failed, in words (no value).
    pub message: String,
    /// What the rule says to do with the record.
    pub on_invalid: OnInvalid,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rule {}: column `{}` of {} {}", self.rule, self.column, self.table, self.message)
    }
}

/// Runs every check of the plan on `change.after`; the first failure.
pub(crate) fn check(rules: &[Rule], plan: &Plan, change: &Change) -> Result<(), Violation> {
    let Some(row) = change.after.as_ref() else { return Ok(()) };
    for &(r, c) in &plan.checks {
        let rule = &rules[r];
        let checks = &rule.checks[c];
        let Some(value) = row.columns.iter().find(|col| col.name == checks.column).map(|col| col.value.as_ref()) else {
            continue;
        };
        if let Err((leaf, message)) = one(checks, value) {
            return Err(Violation {
                rule: format!("{}.validate.{}.{leaf}", rule.key, checks.column),
                column: checks.column.clone(),
                table: change.table.as_ref().map(|t| t.qualified()).unwrap_or_default(),
                message,
                on_invalid: rule.on_invalid,
            });
        }
    }
    Ok(())
}

/// The checks of one column on one value: `Err((check, message))`.
fn one(c: &Checks, value: Option<&Value>) -> Result<(), (&'static str, String)> {
    let kind = value.and_then(|v| v.kind.as_ref());
    match kind {
        Some(Kind::Unchanged(_)) => return Ok(()),
        None | Some(Kind::Null(_)) => {
            return if c.not_null { Err(("not_null", "is NULL; the rule requires a value".into())) } else { Ok(()) };
        }
        Some(_) => {}
    }
    let v = value.expect("a kind was found");
    if c.min.is_some() || c.max.is_some() {
        let Some(n) = number_of(v) else {
            return Err((if c.min.is_some() { "min" } else { "max" }, "is not a number (or not a finite one)".into()));
        };
        if let Some((text, lo)) = &c.min {
            if n < *lo {
                return Err(("min", format!("is below the minimum {text}")));
            }
        }
        if let Some((text, hi)) = &c.max {
            if n > *hi {
                return Err(("max", format!("is above the maximum {text}")));
            }
        }
    }
    if let Some(limit) = c.max_length {
        let len = match kind {
            Some(Kind::Bytes(b)) => b.len(),
            _ => text_of(v).map_or_else(|| text(v).chars().count(), |s| s.chars().count()),
        };
        if len > limit {
            return Err(("max_length", format!("is {len} characters long; at most {limit} are allowed")));
        }
    }
    if let Some((pattern, re)) = &c.regex {
        let matched = match text_of(v) {
            Some(s) => re.is_match(s),
            None => re.is_match(&text(v)),
        };
        if !matched {
            return Err(("regex", format!("does not match the pattern {pattern:?}")));
        }
    }
    if let Some(list) = &c.one_of {
        let found = match text_of(v) {
            Some(s) => list.iter().any(|l| l == s),
            None => list.contains(&text(v)),
        };
        if !found {
            return Err(("one_of", format!("is not one of the {} allowed values", list.len())));
        }
    }
    Ok(())
}

/// The value's canonical text (see `record::json::value_text`).
fn text(v: &Value) -> String {
    crate::record::json::value_text(v).unwrap_or_default()
}
