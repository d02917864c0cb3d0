//! `[[pipeline.table]]` rules and `mask_key` as the file states them: what
//! the validate-and-transform stage (`crate::transform`) compiles. Checks
//! that need nothing but the file (both `include_columns` and
//! `exclude_columns`, a `mask = "hash"` without `mask_key`, a malformed
//! `rename`) are made here; regexes, filters and every check against the
//! source's catalog are the stage's, with the same key paths.

use super::Secret;

/// The validate-and-transform rules of one pipeline.
#[derive(Debug, Clone, Default)]
pub struct TransformConfig {
    /// `mask_key`: the HMAC key of `mask = "hash"`; present whenever a rule hashes.
    pub mask_key: Option<Secret>,
    /// `[[pipeline.table]]`, in file order; every rule whose `match` fits a
    /// table applies to it, in this order.
    pub tables: Vec<TableRule>,
}

impl TransformConfig {
    /// True when there is nothing to do (no rules).
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

/// One `[[pipeline.table]]`.
#[derive(Debug, Clone)]
pub struct TableRule {
    /// Key path of the rule for messages: `pipeline[shop].table[2]`.
    pub key: String,
    /// `match`: an exact source table name or a glob (`*`, `?`), written as
    /// in the source's `tables` (`schema.table`, `database.table`).
    pub matches: String,
    /// `rename`: the target name, `schema.table` or `table` (keeps the schema).
    pub rename: Option<String>,
    /// `include_columns` / `exclude_columns`.
    pub columns: ColumnSelection,
    /// `rename_columns`: source name → target name.
    pub rename_columns: Vec<(String, String)>,
    /// `mask`: source column → how.
    pub mask: Vec<(String, MaskKind)>,
    /// `filter`: the expression text (parsed by the stage).
    pub filter: Option<String>,
    /// `key`: the columns that identify a row of a table without a primary key.
    pub row_key: Option<Vec<String>>,
    /// `on_invalid`: what a record failing a `validate` rule does.
    pub on_invalid: OnInvalid,
    /// `[pipeline.table.validate]`: source column → its checks.
    pub validate: Vec<(String, ColumnChecks)>,
}

/// Which columns reach the targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ColumnSelection {
    /// Every column (no `include_columns` / `exclude_columns`).
    #[default]
    All,
    /// `include_columns`: only these (a column added later is dropped).
    Include(Vec<String>),
    /// `exclude_columns`: all but these (a column added later passes).
    Exclude(Vec<String>),
}

/// `mask = { col = "hash" | "redact" | "null" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskKind {
    /// Lowercase hex HMAC-SHA256 of the value's canonical text, keyed with `mask_key`.
    Hash,
    /// The text `***` (text columns only).
    Redact,
    /// NULL.
    Null,
}

impl MaskKind {
    /// The word in the file.
    pub fn name(self) -> &'static str {
        match self {
            MaskKind::Hash => "hash",
            MaskKind::Redact => "redact",
            MaskKind::Null => "null",
        }
    }
}

/// `on_invalid = "dead_letter" | "stop" | "skip"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnInvalid {
    /// Set the record aside in the dead-letter store; later changes of its
    /// key wait behind it.
    #[default]
    DeadLetter,
    /// Stop the pipeline, naming the rule.
    Stop,
    /// Drop the record and count it.
    Skip,
}

impl OnInvalid {
    /// The word in the file.
    pub fn name(self) -> &'static str {
        match self {
            OnInvalid::DeadLetter => "dead_letter",
            OnInvalid::Stop => "stop",
            OnInvalid::Skip => "skip",
        }
    }
}

/// The checks of one column under `[pipeline.table.validate]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnChecks {
    /// `regex`: the value's canonical text must match (unanchored, as written).
    pub regex: Option<String>,
    /// `min`: a number, as exact decimal text.
    pub min: Option<String>,
    /// `max`: a number, as exact decimal text.
    pub max: Option<String>,
    /// `not_null = true`.
    pub not_null: bool,
    /// `max_length`: characters of text (bytes of binary values).
    pub max_length: Option<usize>,
    /// `one_of`: the value's canonical text must be one of these.
    pub one_of: Option<Vec<String>>,
}
