//! Validate and transform: the per-table rules of `[[pipeline.table]]`
//! between the source and the targets, and the per-target `tables` routes.
//!
//! ```text
//!  lane batch ─► validate ─┬─ invalid: dead_letter | stop | skip (on_invalid)
//!  (source form)           └─► filter ─► columns ─► mask ─► rename ─► route ─► each target
//! ```
//!
//! **Where it runs.** In the lanes, after routing: records keep their
//! source form through the router, the dead-letter store and the replay
//! (so `dead-letters replay` re-checks a record against the rules of the
//! moment), and each lane transforms its batch just before it is applied
//! ([`Stage::validate`] while screening the batch, [`Stage::transform`] in
//! the delivery). Targets only ever see transformed records.
//!
//! **Which rules.** Every rule whose `match` fits a source table applies to
//! it, in file order; the merged result per table is a [`plan`] built once.
//! Rules name *source* columns. Validation and the filter see the source
//! row; then columns are dropped (`include_columns` / `exclude_columns`),
//! masked, renamed, and the table renamed (a later rule's rename of the
//! same table or column wins). Key columns are never dropped.
//!
//! **Filter and change data** (see [`rewrite`]): an UPDATE whose new row
//! passes and whose old row did not becomes an upsert (no old image); one
//! whose old row passed (or cannot be judged: the old image lacks the
//! filter's columns) and whose new row does not becomes a DELETE; a DELETE
//! is forwarded unless its old row is known not to pass.
//!
//! **Checked at start** ([`Stage::compile`], then [`Stage::check_catalog`]
//! against the source's tables): unknown tables and columns, regexes,
//! filters and their types, masks on the wrong types, renames that clash,
//! each an error naming its key path (`pipeline[shop].table[2].filter`).

pub mod compare;
pub mod filter;
mod catalog;
mod plan;
mod rewrite;
#[cfg(test)]
mod tests;
mod validate;

pub use catalog::RuleError;
pub use validate::Violation;

use crate::config::{OnInvalid, TransformConfig};
use crate::record::{Change, Op};
use plan::{Plan, Rule};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

/// The compiled rules of one pipeline, shared by its lanes.
pub struct Stage {
    rules: Vec<Rule>,
    hmac: Option<ring::hmac::Key>,
    /// Schema of a source table named without one in a `match` (PostgreSQL: `public`).
    default_schema: Option<String>,
    /// Merged plan per source table (schema → name → plan), built on first use.
    plans: RwLock<HashMap<String, HashMap<String, Arc<Plan>>>>,
    /// What the stage did, for `/metrics`.
    pub stats: Arc<TransformStats>,
}

/// Counters of the stage, read by the admin endpoint.
#[derive(Debug, Default)]
pub struct TransformStats {
    /// Records a filter kept from the targets.
    filtered: AtomicU64,
    /// Records that failed a `validate` rule, by `on_invalid`:
    /// dead-lettered, stopped on, skipped.
    invalid: [AtomicU64; 3],
}

impl TransformStats {
    /// Records a filter kept from the targets so far.
    pub fn filtered(&self) -> u64 {
        self.filtered.load(Relaxed)
    }

    /// Records that failed a rule with this `on_invalid` so far.
    pub fn invalid(&self, action: OnInvalid) -> u64 {
        self.invalid[action as usize].load(Relaxed)
    }

    /// A record failed a rule with this `on_invalid`.
    pub fn count_invalid(&self, action: OnInvalid) {
        self.invalid[action as usize].fetch_add(1, Relaxed);
    }
}

impl std::fmt::Debug for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage").field("rules", &self.rules.len()).finish_non_exhaustive()
    }
}

impl Stage {
    /// Compiles a pipeline's rules: regexes and filters are parsed, bounds
    /// read. `default_schema`: the schema a `match` without one means (the
    /// source's rule for its `tables`). `None` when there are no rules.
    pub fn compile(cfg: &TransformConfig, default_schema: Option<&str>) -> Result<Option<Stage>, RuleError> {
        if cfg.is_empty() {
            return Ok(None);
        }
        let rules = cfg.tables.iter().map(Rule::compile).collect::<Result<Vec<_>, _>>()?;
        let hmac = cfg.mask_key.as_ref().map(|k| ring::hmac::Key::new(ring::hmac::HMAC_SHA256, k.expose().as_bytes()));
        Ok(Some(Stage {
            rules,
            hmac,
            default_schema: default_schema.map(str::to_string),
            plans: RwLock::new(HashMap::new()),
            stats: Arc::default(),
        }))
    }

    /// True when some rule validates columns (batches are then screened).
    pub fn validates(&self) -> bool {
        self.rules.iter().any(|r| !r.checks.is_empty())
    }

    /// True when a failed validation may go to the dead-letter store.
    pub fn dead_letters(&self) -> bool {
        self.rules.iter().any(|r| !r.checks.is_empty() && r.on_invalid == OnInvalid::DeadLetter)
    }

    /// The merged plan of a source table.
    fn plan(&self, change: &Change) -> Arc<Plan> {
        let (schema, name) = change.table.as_ref().map_or(("", ""), |t| (t.schema.as_str(), t.name.as_str()));
        {
            let plans = self.plans.read().unwrap_or_else(|p| p.into_inner());
            if let Some(p) = plans.get(schema).and_then(|m| m.get(name)) {
                return p.clone();
            }
        }
        let plan = Arc::new(Plan::merge(&self.rules, schema, name, self.default_schema.as_deref()));
        let mut plans = self.plans.write().unwrap_or_else(|p| p.into_inner());
        plans.entry(schema.to_string()).or_default().insert(name.to_string(), plan.clone());
        plan
    }

    /// Checks a row change against the `validate` rules of its table (on
    /// the source's column names and values, the new row only).
    pub fn validate(&self, change: &Change) -> Result<(), Violation> {
        if !matches!(change.op(), Op::Insert | Op::Update | Op::SnapshotRead) {
            return Ok(());
        }
        let plan = self.plan(change);
        if plan.checks.is_empty() {
            return Ok(());
        }
        validate::check(&self.rules, &plan, change)
    }

    /// The record the targets get: filtered (`None`: nothing to apply),
    /// columns selected, masked and renamed, the table renamed. Control
    /// records keep their kind; schema records describe the new columns.
    pub fn transform(&self, change: &Change) -> Option<Change> {
        let plan = self.plan(change);
        if plan.identity {
            return Some(change.clone());
        }
        let out = rewrite::apply(&self.rules, &plan, self.hmac.as_ref(), change);
        if out.is_none() {
            self.stats.filtered.fetch_add(1, Relaxed);
        }
        out
    }

    /// Transforms every record of a batch, in order.
    pub fn transform_all(&self, records: &[Change]) -> Vec<Change> {
        records.iter().filter_map(|c| self.transform(c)).collect()
    }

    /// The source columns the filters of table `schema.name` read (empty:
    /// no filter applies to it).
    pub fn filter_columns(&self, schema: &str, name: &str) -> Vec<String> {
        let plan = Plan::merge(&self.rules, schema, name, self.default_schema.as_deref());
        let mut out: Vec<String> = Vec::new();
        for &i in &plan.filters {
            for c in self.rules[i].filter.iter().flat_map(|f| f.columns()) {
                if !out.iter().any(|o| o == c) {
                    out.push(c.to_string());
                }
            }
        }
        out
    }

    /// Checks every rule against the source's tables (their schema
    /// records): all problems at once.
    pub fn check_catalog(&self, tables: &[crate::record::TableSchema]) -> Result<(), Vec<RuleError>> {
        catalog::check(&self.rules, tables, self.default_schema.as_deref())
    }
}

/// A target's `tables`: the target-named tables (globs) it receives.
#[derive(Debug, Clone, Default)]
pub struct Route(Vec<String>);

impl Route {
    /// `tables` of a target; empty: every table.
    pub fn new(tables: Vec<String>) -> Self {
        Route(tables)
    }

    /// True when the target receives every table.
    pub fn is_all(&self) -> bool {
        self.0.is_empty()
    }

    /// True when the target receives `change`: its (target-named) table
    /// matches one of the globs (`schema.table`; a glob without a dot
    /// matches the name in any schema). Records without a table (logical
    /// messages) go to every target.
    pub fn admits(&self, change: &Change) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(t) = change.table.as_ref() else { return true };
        self.0.iter().any(|g| table_glob(g, &t.schema, &t.name, None))
    }
}

/// Does `glob` (`schema.table` or `table`, with `*` and `?`) fit the table?
/// A glob without a schema means `default_schema`, or any schema when there
/// is none.
pub(crate) fn table_glob(glob: &str, schema: &str, name: &str, default_schema: Option<&str>) -> bool {
    use crate::sources::glob_match;
    match glob.split_once('.') {
        Some((s, n)) => glob_match(s, schema) && glob_match(n, name),
        None => default_schema.is_none_or(|d| d == schema) && glob_match(glob, name),
    }
}
