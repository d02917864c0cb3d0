//! Compiled rules, and the plan of one source table: every rule whose
//! `match` fits it, merged in file order.

use super::catalog::RuleError;
use super::compare::Number;
use super::filter::Filter;
use super::table_glob;
use crate::config::{ColumnChecks, ColumnSelection, MaskKind, TableRule};
use crate::record::TableRef;
use std::collections::{HashMap, HashSet};

/// One `[[pipeline.table]]`, compiled: the rule as the file states it
/// (its fields are reached through `Deref`), with its filter parsed and
/// its checks compiled.
pub(crate) struct Rule {
    rule: TableRule,
    pub filter: Option<Filter>,
    pub checks: Vec<Checks>,
}

impl std::ops::Deref for Rule {
    type Target = TableRule;

    fn deref(&self) -> &TableRule {
        &self.rule
    }
}

/// The checks of one column, compiled.
pub(crate) struct Checks {
    pub column: String,
    pub regex: Option<(String, regex::Regex)>,
    pub min: Option<(String, Number)>,
    pub max: Option<(String, Number)>,
    pub not_null: bool,
    pub max_length: Option<usize>,
    pub one_of: Option<Vec<String>>,
}

impl Rule {
    pub(crate) fn compile(r: &TableRule) -> Result<Rule, RuleError> {
        let filter = match &r.filter {
            None => None,
            Some(text) => Some(Filter::parse(text).map_err(|e| RuleError::new(format!("{}.filter", r.key), e.to_string()))?),
        };
        let mut checks = Vec::with_capacity(r.validate.len());
        for (column, c) in &r.validate {
            checks.push(compile_checks(&format!("{}.validate.{column}", r.key), column, c)?);
        }
        Ok(Rule { rule: r.clone(), filter, checks })
    }

    /// True when the rule's `match` fits the source table.
    pub(crate) fn fits(&self, schema: &str, name: &str, default_schema: Option<&str>) -> bool {
        table_glob(&self.matches, schema, name, default_schema)
    }
}

fn compile_checks(key: &str, column: &str, c: &ColumnChecks) -> Result<Checks, RuleError> {
    let regex = match &c.regex {
        None => None,
        Some(text) => {
            let re = regex::Regex::new(text).map_err(|e| {
                RuleError::new(format!("{key}.regex"), format!("is not a valid regular expression: {e}"))
            })?;
            Some((text.clone(), re))
        }
    };
    let bound = |leaf: &str, text: &Option<String>| -> Result<Option<(String, Number)>, RuleError> {
        match text {
            None => Ok(None),
            Some(t) => match Number::parse(t) {
                Some(n) => Ok(Some((t.clone(), n))),
                None => Err(RuleError::new(format!("{key}.{leaf}"), format!("{t:?} is not a number"))),
            },
        }
    };
    let min = bound("min", &c.min)?;
    let max = bound("max", &c.max)?;
    if let (Some((lo, l)), Some((hi, h))) = (&min, &max) {
        if l > h {
            return Err(RuleError::new(format!("{key}.min"), format!("{lo} is above max {hi}; no value could pass")));
        }
    }
    Ok(Checks {
        column: column.to_string(),
        regex,
        min,
        max,
        not_null: c.not_null,
        max_length: c.max_length,
        one_of: c.one_of.clone(),
    })
}

/// What happens to the records of one source table.
#[derive(Default)]
pub(crate) struct Plan {
    /// No rule changes anything: records pass as they are.
    pub identity: bool,
    /// (rule index, check index) of every column check, in file order.
    pub checks: Vec<(usize, usize)>,
    /// Rules whose filter applies (all must pass).
    pub filters: Vec<usize>,
    /// The target table, when renamed.
    pub table: Option<TableRef>,
    /// `include_columns` lists: a column must be in each.
    pub includes: Vec<HashSet<String>>,
    /// `exclude_columns`, all rules together.
    pub excludes: HashSet<String>,
    pub masks: HashMap<String, MaskKind>,
    pub renames: HashMap<String, String>,
}

impl Plan {
    /// Merges the rules that fit `schema.name`, in file order.
    pub(crate) fn merge(rules: &[Rule], schema: &str, name: &str, default_schema: Option<&str>) -> Plan {
        let mut plan = Plan::default();
        for (i, r) in rules.iter().enumerate() {
            if !r.fits(schema, name, default_schema) {
                continue;
            }
            plan.checks.extend((0..r.checks.len()).map(|c| (i, c)));
            if r.filter.is_some() {
                plan.filters.push(i);
            }
            if let Some(to) = &r.rename {
                plan.table = Some(match to.split_once('.') {
                    Some((s, n)) => TableRef { schema: s.to_string(), name: n.to_string() },
                    None => TableRef { schema: schema.to_string(), name: to.clone() },
                });
            }
            match &r.columns {
                ColumnSelection::All => {}
                ColumnSelection::Include(list) => plan.includes.push(list.iter().cloned().collect()),
                ColumnSelection::Exclude(list) => plan.excludes.extend(list.iter().cloned()),
            }
            plan.masks.extend(r.mask.iter().cloned());
            plan.renames.extend(r.rename_columns.iter().cloned());
        }
        if plan.table.as_ref().is_some_and(|t| t.schema == schema && t.name == name) {
            plan.table = None;
        }
        plan.renames.retain(|from, to| from != to);
        plan.identity = plan.filters.is_empty()
            && plan.table.is_none()
            && plan.includes.is_empty()
            && plan.excludes.is_empty()
            && plan.masks.is_empty()
            && plan.renames.is_empty();
        plan
    }

    /// True when column `name` reaches the targets (key columns always do).
    pub(crate) fn keeps(&self, name: &str, key: &[String]) -> bool {
        (self.includes.iter().all(|set| set.contains(name)) && !self.excludes.contains(name))
            || key.iter().any(|k| k == name)
    }

    /// The target name of a source column.
    pub(crate) fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.renames.get(name).map_or(name, String::as_str)
    }
}
