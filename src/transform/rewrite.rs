//! Turning a source record into the record the targets get: the filter
//! (with what it means for change data), then columns, masks and names.
//!
//! | source record | old row passes | new row passes | targets get |
//! |---|---|---|---|
//! | INSERT, snapshot row | | yes / no | it / nothing |
//! | DELETE | yes or cannot tell | | the DELETE |
//! | DELETE | no | | nothing |
//! | UPDATE | yes or cannot tell | yes | the UPDATE |
//! | UPDATE | no | yes | an upsert of the new row (no old image) |
//! | UPDATE | yes or cannot tell | no | a DELETE of the old row |
//! | UPDATE | no | no | nothing |
//!
//! For a table without a key (no key columns) the upsert of the new row is
//! an INSERT: nothing identifies a row to upsert by.
//!
//! "Cannot tell": the old image lacks a column the filter reads
//! (PostgreSQL's default replica identity sends only the key). A new row
//! that lacks one (a TOASTed value not sent) cannot be judged either; the
//! UPDATE is then forwarded as it is.

use super::filter::Missing;
use super::plan::{Plan, Rule};
use crate::config::MaskKind;
use crate::record::{
    value::Kind, Change, Column, ColumnSchema, LogicalKind, Op, Row, SchemaChange, TableSchema, Value,
};

/// The text `mask = "redact"` writes.
pub(crate) const REDACTED: &str = "***";

/// Hex digits of a HMAC-SHA256: the width of a hashed column.
pub(crate) const HASH_WIDTH: u32 = 64;

/// Filter verdict on one row image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    Yes,
    No,
    /// The image lacks a column the filter reads.
    Unknown,
}

fn judge(rules: &[Rule], plan: &Plan, row: Option<&Row>) -> Pass {
    let Some(row) = row else { return Pass::Unknown };
    let mut verdict = Pass::Yes;
    for &i in &plan.filters {
        let Some(f) = &rules[i].filter else { continue };
        match f.eval(row) {
            Ok(true) => {}
            Ok(false) => return Pass::No,
            Err(Missing(_)) => verdict = Pass::Unknown,
        }
    }
    verdict
}

/// The record the targets get, or `None` when the filter keeps it away.
pub(crate) fn apply(rules: &[Rule], plan: &Plan, hmac: Option<&ring::hmac::Key>, change: &Change) -> Option<Change> {
    let mut op = change.op();
    let mut drop_before = false;
    if !plan.filters.is_empty() {
        match op {
            Op::Insert | Op::SnapshotRead if judge(rules, plan, change.after.as_ref()) == Pass::No => return None,
            Op::Delete if judge(rules, plan, change.before.as_ref()) == Pass::No => return None,
            Op::Update => {
                let new = judge(rules, plan, change.after.as_ref());
                let old = judge(rules, plan, change.before.as_ref());
                match (old, new) {
                    (Pass::No, Pass::No) => return None,
                    // A table without a key has nothing to upsert by: the
                    // target never had the old row, the new one is appended.
                    (Pass::No, _) if change.key_columns.is_empty() => {
                        op = Op::Insert;
                        drop_before = true;
                    }
                    (Pass::No, _) => drop_before = true,
                    (_, Pass::No) => op = Op::Delete,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let key = &change.key_columns;
    let mut out = Change {
        pipeline: change.pipeline.clone(),
        source: change.source.clone(),
        seq: change.seq,
        op: op as i32,
        table: match (&plan.table, &change.table) {
            (Some(t), Some(_)) => Some(t.clone()),
            (_, t) => t.clone(),
        },
        key_columns: key.iter().map(|k| plan.renamed(k).to_string()).collect(),
        before: None,
        after: None,
        position: change.position.clone(),
        tx_id: change.tx_id.clone(),
        commit_time: change.commit_time,
        tx_end: change.tx_end,
        schema_change: change.schema_change.as_ref().map(|sc| SchemaChange {
            schema: sc.schema.as_ref().map(|s| schema(plan, s)),
            ddl: sc.ddl.clone(),
        }),
        message: change.message.clone(),
        documents: change.documents,
        copied: change.copied,
    };
    if op == Op::Delete && change.op() == Op::Update {
        // The old row leaves the filter: delete it. Its key is in the old
        // image when there is one (a key change, REPLICA IDENTITY FULL),
        // else the key did not change and the new image has it.
        let old = match &change.before {
            Some(b) => b.clone(),
            None => key_only(key, change.after.as_ref()),
        };
        out.before = Some(row(plan, hmac, key, &old));
        return Some(out);
    }
    if !drop_before {
        out.before = change.before.as_ref().map(|r| row(plan, hmac, key, r));
    }
    out.after = change.after.as_ref().map(|r| row(plan, hmac, key, r));
    Some(out)
}

/// The key columns of `row`, alone.
fn key_only(key: &[String], row: Option<&Row>) -> Row {
    Row {
        columns: row
            .map(|r| r.columns.iter().filter(|c| key.contains(&c.name)).cloned().collect())
            .unwrap_or_default(),
    }
}

fn row(plan: &Plan, hmac: Option<&ring::hmac::Key>, key: &[String], row: &Row) -> Row {
    let mut columns = Vec::with_capacity(row.columns.len());
    for c in &row.columns {
        if !plan.keeps(&c.name, key) {
            continue;
        }
        let value = match (plan.masks.get(&c.name), &c.value) {
            (Some(&m), Some(v)) => Some(mask(m, hmac, v)),
            (_, v) => v.clone(),
        };
        columns.push(Column { name: plan.renamed(&c.name).to_string(), value });
    }
    Row { columns }
}

/// A masked value: NULL stays NULL and a TOAST value not sent stays "keep
/// what is stored" (which was masked when it was written).
pub(crate) fn mask(m: MaskKind, hmac: Option<&ring::hmac::Key>, v: &Value) -> Value {
    if matches!(v.kind, None | Some(Kind::Null(_)) | Some(Kind::Unchanged(_))) {
        return v.clone();
    }
    match m {
        MaskKind::Null => Value::null(),
        MaskKind::Redact => Value::text(REDACTED),
        MaskKind::Hash => {
            let text = crate::record::json::value_text(v).unwrap_or_default();
            // compile() refuses hashing rules without a key.
            let tag = hmac.map(|k| ring::hmac::sign(k, text.as_bytes()));
            Value::text(tag.map(|t| hex(t.as_ref())).unwrap_or_default())
        }
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// A table's schema as the targets see it: columns dropped, renamed, and
/// masked columns typed for what they now hold.
pub(crate) fn schema(plan: &Plan, s: &TableSchema) -> TableSchema {
    let key = &s.key_columns;
    TableSchema {
        table: match (&plan.table, &s.table) {
            (Some(t), Some(_)) => Some(t.clone()),
            (_, t) => t.clone(),
        },
        columns: s
            .columns
            .iter()
            .filter(|c| plan.keeps(&c.name, key))
            .map(|c| {
                let mut c = c.clone();
                if let Some(&m) = plan.masks.get(&c.name) {
                    masked_type(m, &mut c);
                }
                c.name = plan.renamed(&c.name).to_string();
                c
            })
            .collect(),
        key_columns: key.iter().map(|k| plan.renamed(k).to_string()).collect(),
        documents: s.documents,
    }
}

/// The type of a masked column: a hash is 64 hex characters, a redacted
/// text must hold `***`, a nulled column must accept NULL.
fn masked_type(m: MaskKind, c: &mut ColumnSchema) {
    match m {
        MaskKind::Hash => {
            c.logical = Some(crate::record::LogicalType::text(HASH_WIDTH, false));
            c.source_type = format!("varchar({HASH_WIDTH})");
            c.type_dialect = String::new();
        }
        MaskKind::Redact => {
            let text = c.logical.as_ref().filter(|l| l.kind() == LogicalKind::LogicalText);
            let width = text.map_or(0, |l| l.width);
            if text.is_none() {
                // An enum or other type cannot hold `***`: the column becomes text.
                c.logical = Some(crate::record::LogicalType::text(0, false));
                c.source_type = "text".into();
                c.type_dialect = String::new();
            } else if width != 0 && width < REDACTED.len() as u32 {
                c.logical = Some(crate::record::LogicalType::text(REDACTED.len() as u32, false));
                c.source_type = format!("varchar({})", REDACTED.len());
                c.type_dialect = String::new();
            }
        }
        MaskKind::Null => c.nullable = true,
    }
}
