//! The start-time checks of the rules against the source's tables (their
//! schema records, with logical column types): every problem at once,
//! each naming its key path.

use super::compare::{comparable, LiteralKind};
use super::plan::{Plan, Rule};
use crate::config::{ColumnSelection, MaskKind};
use crate::record::{LogicalKind, LogicalType, TableSchema};
use std::collections::HashMap;

/// A rule that cannot work: the key path (`pipeline[shop].table[2].filter`)
/// and what is wrong, with the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct RuleError {
    /// The key path in the config file.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl RuleError {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        RuleError { key: key.into(), message: message.into() }
    }
}

/// Checks every rule against `tables` (the source's replicated tables).
pub(crate) fn check(rules: &[Rule], tables: &[TableSchema], default_schema: Option<&str>) -> Result<(), Vec<RuleError>> {
    let mut errors = Vec::new();
    let names: Vec<String> = tables.iter().filter_map(|t| t.table.as_ref().map(|t| t.qualified())).collect();
    // Target table → the source table renamed to it first.
    let mut targets: HashMap<String, (String, String)> = HashMap::new();
    for r in rules {
        let matched: Vec<&TableSchema> = tables
            .iter()
            .filter(|t| t.table.as_ref().is_some_and(|t| r.fits(&t.schema, &t.name, default_schema)))
            .collect();
        if matched.is_empty() {
            errors.push(RuleError::new(
                format!("{}.match", r.key),
                format!(
                    "no replicated table matches {:?}; the source replicates: {} (a rule names source tables, as in the source's `tables`)",
                    r.matches,
                    if names.is_empty() { "nothing".to_string() } else { names.join(", ") }
                ),
            ));
            continue;
        }
        for t in matched {
            table(r, t, &mut errors);
        }
    }
    // Two source tables must not land in one target table.
    for t in tables {
        let Some(src) = &t.table else { continue };
        let plan = Plan::merge(rules, &src.schema, &src.name, default_schema);
        let Some(to) = &plan.table else { continue };
        let key = rules
            .iter()
            .rev()
            .find(|r| r.rename.is_some() && r.fits(&src.schema, &src.name, default_schema))
            .map_or_else(String::new, |r| format!("{}.rename", r.key));
        if let Some((first, _)) = targets.get(&to.qualified()) {
            errors.push(RuleError::new(
                key.clone(),
                format!("{} and {} would both become {}; expected one source table per target table", first, src.qualified(), to.qualified()),
            ));
        } else if names.contains(&to.qualified()) && Plan::merge(rules, &to.schema, &to.name, default_schema).table.is_none() {
            errors.push(RuleError::new(
                key.clone(),
                format!("{} would become {}, which is also a replicated table of that name; rename one of them", src.qualified(), to.qualified()),
            ));
        }
        targets.entry(to.qualified()).or_insert((src.qualified(), key));
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// The checks of one rule on one table it matches.
fn table(r: &Rule, t: &TableSchema, errors: &mut Vec<RuleError>) {
    let tname = t.table.as_ref().map(|t| t.qualified()).unwrap_or_default();
    if t.documents {
        // Documents have no fixed columns to check against.
        return;
    }
    let cols: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    let ty = |name: &str| t.columns.iter().find(|c| c.name == name).map(|c| c.logical.clone());
    let unknown = |key: String, col: &str, errors: &mut Vec<RuleError>| {
        let known = ty(col).is_some();
        if !known {
            errors.push(RuleError::new(
                key,
                format!("{tname} has no column `{col}`; its columns are: {}", cols.join(", ")),
            ));
        }
        known
    };
    let key = &t.key_columns;
    match &r.columns {
        ColumnSelection::All => {}
        ColumnSelection::Include(list) => {
            for (i, c) in list.iter().enumerate() {
                unknown(format!("{}.include_columns[{i}]", r.key), c, errors);
            }
            let missing: Vec<&String> = key.iter().filter(|k| !list.contains(k)).collect();
            if !missing.is_empty() {
                errors.push(RuleError::new(
                    format!("{}.include_columns", r.key),
                    format!(
                        "leaves out key column(s) {} of {tname}; targets need the key to apply changes: add them to the list",
                        missing.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        ColumnSelection::Exclude(list) => {
            for (i, c) in list.iter().enumerate() {
                if unknown(format!("{}.exclude_columns[{i}]", r.key), c, errors) && key.contains(c) {
                    errors.push(RuleError::new(
                        format!("{}.exclude_columns[{i}]", r.key),
                        format!("`{c}` is a key column of {tname}; targets need the key to apply changes (mask it with \"hash\" instead)"),
                    ));
                }
            }
        }
    }
    for (col, m) in &r.mask {
        let k = format!("{}.mask.{col}", r.key);
        if !unknown(k.clone(), col, errors) {
            continue;
        }
        let logical = ty(col).flatten();
        match m {
            MaskKind::Redact if !logical.as_ref().is_none_or(is_text) => errors.push(RuleError::new(
                k,
                format!(
                    "\"redact\" writes the text `***`, and `{col}` of {tname} is {}; use \"hash\" or \"null\" for it",
                    logical.as_ref().map_or_else(String::new, |l| l.describe())
                ),
            )),
            MaskKind::Redact | MaskKind::Null if key.contains(col) => errors.push(RuleError::new(
                k,
                format!("`{col}` is a key column of {tname}; \"{}\" would give rows the same key: use \"hash\", which keeps keys unique", m.name()),
            )),
            _ => {}
        }
    }
    let mut renamed_to: HashMap<&str, &str> = HashMap::new();
    for (from, to) in &r.rename_columns {
        let k = format!("{}.rename_columns.{from}", r.key);
        if !unknown(k.clone(), from, errors) {
            continue;
        }
        if let Some(other) = renamed_to.insert(to.as_str(), from.as_str()) {
            errors.push(RuleError::new(k, format!("`{other}` and `{from}` of {tname} are both renamed to `{to}`")));
        } else if to != from && cols.contains(to) && !r.rename_columns.iter().any(|(f, _)| f == to) && kept(&r.columns, to, key) {
            errors.push(RuleError::new(
                k,
                format!("{tname} already has a column `{to}`; renaming `{from}` to it would make two (exclude or rename `{to}` too)"),
            ));
        }
    }
    for checks in &r.checks {
        let k = format!("{}.validate.{}", r.key, checks.column);
        if !unknown(k.clone(), &checks.column, errors) {
            continue;
        }
        let Some(logical) = ty(&checks.column).flatten() else { continue };
        if (checks.min.is_some() || checks.max.is_some()) && comparable(&logical) != Some(LiteralKind::Number) {
            errors.push(RuleError::new(
                format!("{k}.{}", if checks.min.is_some() { "min" } else { "max" }),
                format!("`{}` of {tname} is {}, not a number; min and max need a numeric column", checks.column, logical.describe()),
            ));
        }
        if checks.max_length.is_some() && !(is_text(&logical) || logical.kind() == LogicalKind::LogicalBinary) {
            errors.push(RuleError::new(
                format!("{k}.max_length"),
                format!("`{}` of {tname} is {}; max_length needs a text or binary column", checks.column, logical.describe()),
            ));
        }
    }
    if let Some(filter) = &r.filter {
        let lookup = |name: &str| ty(name);
        if let Err(e) = filter.check(&lookup, &cols) {
            errors.push(RuleError::new(format!("{}.filter", r.key), format!("{e} (in {tname})")));
        }
    }
    if let Some(row_key) = &r.row_key {
        for (i, c) in row_key.iter().enumerate() {
            unknown(format!("{}.key[{i}]", r.key), c, errors);
        }
        if !key.is_empty() && key != row_key {
            errors.push(RuleError::new(
                format!("{}.key", r.key),
                format!(
                    "{tname} has a primary key ({}); `key` is for tables without one: leave it out",
                    key.join(", ")
                ),
            ));
        }
    }
}

/// True for columns that hold text (`redact` and `max_length` apply; a
/// redacted enum becomes a text column).
fn is_text(l: &LogicalType) -> bool {
    matches!(l.kind(), LogicalKind::LogicalText | LogicalKind::LogicalEnum | LogicalKind::LogicalOther)
}

fn kept(sel: &ColumnSelection, name: &str, key: &[String]) -> bool {
    key.iter().any(|k| k == name)
        || match sel {
            ColumnSelection::All => true,
            ColumnSelection::Include(l) => l.iter().any(|c| c == name),
            ColumnSelection::Exclude(l) => !l.iter().any(|c| c == name),
        }
}
