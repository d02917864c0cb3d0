//! Reducing a run of row changes for one table to a few set-based statements.
//!
//! A batch is applied in one transaction, so only each key's final state
//! matters. [`TablePlan`] folds the records of one table, in order, into one
//! entry per key:
//!
//! - a DELETE makes the key's final state "deleted";
//! - an INSERT / UPDATE / SNAPSHOT_READ makes it "upsert this image". The
//!   image is merged with the key's earlier image in the batch: a column the
//!   record does not carry keeps the earlier value, and an UNCHANGED (TOAST,
//!   not sent) value takes the earlier record's value when there is one.
//!   An upsert that follows a delete of the same key in the batch also
//!   deletes first, so columns the new image does not carry do not survive
//!   from the deleted row.
//!
//! [`TablePlan::finish`] then yields the key arrays for one DELETE and one
//! group per *shape* (which columns are present, which are UNCHANGED), each
//! applied with one statement. Values are rendered to PostgreSQL input text
//! here (see `value.rs`), so a value that cannot go into its column is
//! reported before anything is sent.
//!
//! Key-changing updates are not folded: `mod.rs` applies them on their own
//! (the pipeline sends them alone in a batch anyway).

use super::schema::{ColumnInfo, TableInfo};
use super::value::render;
use crate::record::{Change, Op, Row, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// One column of a key's merged image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// No record of the key carried the column.
    Absent,
    /// UNCHANGED with no earlier value in the batch: keep what is stored.
    Unchanged,
    /// A value in PostgreSQL input text (`None` is NULL).
    Value(Option<String>),
}

#[derive(Debug)]
struct Entry {
    /// Rendered key values, in key order.
    key: Vec<String>,
    /// Delete the stored row (the final state, or before the upsert).
    delete: bool,
    /// Final image to upsert, by target column index.
    image: Option<Vec<Slot>>,
}

/// Rows to upsert that share one shape.
#[derive(Debug)]
pub struct Group {
    /// Target column indices with values, in table order (keys included).
    pub columns: Vec<usize>,
    /// Target column indices that are UNCHANGED in these rows (kept as stored).
    pub unchanged: Vec<usize>,
    /// One text array per entry of `columns`.
    pub arrays: Vec<Vec<Option<String>>>,
}

/// What one table's records reduce to.
#[derive(Debug)]
pub struct TableWork {
    /// Key column indices in key order.
    pub key: Vec<usize>,
    /// One text array per key column: the keys to delete (empty when none).
    pub deletes: Vec<Vec<Option<String>>>,
    /// Upserts, one statement each.
    pub groups: Vec<Group>,
}

/// Folds one table's records (see the module docs).
pub struct TablePlan {
    info: Arc<TableInfo>,
    key_names: Vec<String>,
    key: Vec<usize>,
    entries: Vec<Entry>,
    index: HashMap<Vec<String>, usize>,
}

/// Rendering a value for `column` of `info`, with the table and column named on error.
pub fn render_for(info: &TableInfo, column: &ColumnInfo, v: &Value) -> Result<Option<String>, String> {
    render(v, column.target).map_err(|e| {
        format!(
            "table {} column {} ({}): {}",
            info.display(),
            super::sql::quote_ident(&column.name),
            column.sql_type,
            e.0
        )
    })
}

/// The target column indices of `key_columns`, or why not.
pub fn key_indices(info: &TableInfo, key_columns: &[String]) -> Result<Vec<usize>, String> {
    if key_columns.is_empty() {
        return Err(format!(
            "table {} has no key (no primary key or replica identity on the source): the postgres target applies \
             changes by key and cannot apply or replay them safely without one; add a primary key to the source \
             table (or REPLICA IDENTITY USING INDEX) or send this table to a file target",
            info.display()
        ));
    }
    key_columns
        .iter()
        .map(|k| {
            info.column(k).map(|(i, _)| i).ok_or_else(|| {
                format!(
                    "table {}: key column {} does not exist on the target; add it (and a primary key on the key columns)",
                    info.display(),
                    super::sql::quote_ident(k)
                )
            })
        })
        .collect()
}

/// Rendered key values of `row`.
pub fn key_of(info: &TableInfo, key: &[usize], row: &Row, what: &str) -> Result<Vec<String>, String> {
    key.iter()
        .map(|&i| {
            let col = &info.columns[i];
            let v = row.get(&col.name).ok_or_else(|| {
                format!("table {}: the {what} image has no value for key column {}", info.display(), super::sql::quote_ident(&col.name))
            })?;
            if v.is_unchanged() {
                return Err(format!(
                    "table {}: key column {} is marked unchanged (not sent) in the {what} image",
                    info.display(),
                    super::sql::quote_ident(&col.name)
                ));
            }
            render_for(info, col, v)?.ok_or_else(|| {
                format!("table {}: key column {} is NULL in the {what} image", info.display(), super::sql::quote_ident(&col.name))
            })
        })
        .collect()
}

impl TablePlan {
    /// A plan for `info`, keyed by `key_columns` (the first record's).
    pub fn new(info: Arc<TableInfo>, key_columns: &[String]) -> Result<Self, String> {
        let key = key_indices(&info, key_columns)?;
        Ok(TablePlan { info, key_names: key_columns.to_vec(), key, entries: Vec::new(), index: HashMap::new() })
    }

    /// The table this plan writes.
    pub fn info(&self) -> &Arc<TableInfo> {
        &self.info
    }

    fn entry_for(&mut self, key: Vec<String>) -> &mut Entry {
        let next = self.entries.len();
        let i = *self.index.entry(key.clone()).or_insert(next);
        if i == next {
            self.entries.push(Entry { key, delete: false, image: None });
        }
        &mut self.entries[i]
    }

    /// Folds one row change (INSERT, UPDATE without key change, DELETE,
    /// SNAPSHOT_READ) into the plan.
    pub fn add(&mut self, c: &Change) -> Result<(), String> {
        if c.key_columns != self.key_names {
            return Err(format!(
                "table {}: records of one batch disagree on the key columns ({:?} vs {:?})",
                self.info.display(),
                self.key_names,
                c.key_columns
            ));
        }
        let info = self.info.clone();
        match c.op() {
            Op::Delete => {
                let row = c.before.as_ref().ok_or_else(|| format!("table {}: a delete without a before image", info.display()))?;
                let key = key_of(&info, &self.key, row, "before")?;
                let e = self.entry_for(key);
                e.delete = true;
                e.image = None;
            }
            Op::Insert | Op::Update | Op::SnapshotRead => {
                let row = c.after.as_ref().ok_or_else(|| format!("table {}: an insert or update without an after image", info.display()))?;
                let key = key_of(&info, &self.key, row, "after")?;
                let mut image = vec![Slot::Absent; info.columns.len()];
                for col in &row.columns {
                    let (i, ci) = info.column(&col.name).ok_or_else(|| {
                        format!(
                            "table {}: column {} is not on the target table; it was added on the source without a \
                             schema change reaching the target — add the column on the target (or enable create_tables and \
                             replay from a schema change)",
                            info.display(),
                            super::sql::quote_ident(&col.name)
                        )
                    })?;
                    let v = col.value.as_ref().ok_or_else(|| {
                        format!("table {} column {}: the value is missing (an invalid record)", info.display(), super::sql::quote_ident(&col.name))
                    })?;
                    image[i] = if v.is_unchanged() { Slot::Unchanged } else { Slot::Value(render_for(&info, ci, v)?) };
                }
                let e = self.entry_for(key);
                if let Some(prev) = e.image.take() {
                    for (slot, old) in image.iter_mut().zip(prev) {
                        match (&slot, old) {
                            (Slot::Absent, old) => *slot = old,
                            (Slot::Unchanged, old @ Slot::Value(_)) => *slot = old,
                            _ => {}
                        }
                    }
                }
                e.image = Some(image);
            }
            op => return Err(format!("table {}: {op:?} is not a row change", info.display())),
        }
        Ok(())
    }

    /// The statements' inputs: keys to delete and upsert groups, in first-seen order.
    pub fn finish(self) -> TableWork {
        let nkey = self.key.len();
        let mut deletes: Vec<Vec<Option<String>>> = vec![Vec::new(); nkey];
        let mut groups: Vec<Group> = Vec::new();
        let mut by_shape: HashMap<Vec<u8>, usize> = HashMap::new();
        for e in self.entries {
            if e.delete {
                for (arr, k) in deletes.iter_mut().zip(&e.key) {
                    arr.push(Some(k.clone()));
                }
            }
            let Some(image) = e.image else { continue };
            let shape: Vec<u8> = image
                .iter()
                .map(|s| match s {
                    Slot::Absent => 0,
                    Slot::Unchanged => 1,
                    Slot::Value(_) => 2,
                })
                .collect();
            let gi = *by_shape.entry(shape.clone()).or_insert_with(|| {
                let columns: Vec<usize> = (0..shape.len()).filter(|&i| shape[i] == 2).collect();
                let unchanged = (0..shape.len()).filter(|&i| shape[i] == 1).collect();
                groups.push(Group { arrays: vec![Vec::new(); columns.len()], columns, unchanged });
                groups.len() - 1
            });
            let g = &mut groups[gi];
            let mut values = image.into_iter().filter_map(|s| match s {
                Slot::Value(v) => Some(v),
                _ => None,
            });
            for arr in g.arrays.iter_mut() {
                arr.push(values.next().expect("shape matches"));
            }
        }
        if deletes.first().is_some_and(Vec::is_empty) {
            deletes.clear();
        }
        TableWork { key: self.key, deletes, groups }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{TableRef, Value};
    use crate::sinks::postgres::value::{Target, TypeClass};

    fn info() -> Arc<TableInfo> {
        let cols = [("id", "bigint", true), ("a", "text", false), ("b", "text", true)];
        let columns: Vec<ColumnInfo> = cols
            .iter()
            .map(|(n, t, nn)| ColumnInfo {
                name: n.to_string(),
                sql_type: t.to_string(),
                not_null: *nn,
                target: Target::scalar(if *t == "text" { TypeClass::Text } else { TypeClass::Other }),
            })
            .collect();
        let by_name = columns.iter().enumerate().map(|(i, c)| (c.name.clone(), i)).collect();
        Arc::new(TableInfo { sql_name: "\"s\".\"t\"".into(), columns, by_name, source: None })
    }

    fn rec(op: Op, pairs: Vec<(&str, Value)>) -> Change {
        let row = Some(Row::from_pairs(pairs));
        let (before, after) = if op == Op::Delete { (row, None) } else { (None, row) };
        Change {
            op: op as i32,
            table: Some(TableRef { schema: "s".into(), name: "t".into() }),
            key_columns: vec!["id".into()],
            before,
            after,
            ..Default::default()
        }
    }

    fn plan(records: &[Change]) -> TableWork {
        let mut p = TablePlan::new(info(), &["id".to_string()]).unwrap();
        for r in records {
            p.add(r).unwrap();
        }
        p.finish()
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn last_write_per_key_wins_and_shapes_group() {
        let w = plan(&[
            rec(Op::Insert, vec![("id", Value::int64(1)), ("a", Value::text("x")), ("b", Value::text("y"))]),
            rec(Op::Insert, vec![("id", Value::int64(2)), ("a", Value::text("p")), ("b", Value::text("q"))]),
            rec(Op::Update, vec![("id", Value::int64(1)), ("a", Value::text("x2")), ("b", Value::null())]),
            rec(Op::Insert, vec![("id", Value::int64(3)), ("b", Value::text("only b"))]),
        ]);
        assert!(w.deletes.is_empty());
        assert_eq!(w.groups.len(), 2);
        assert_eq!(w.groups[0].columns, vec![0, 1, 2]);
        assert_eq!(w.groups[0].arrays, vec![vec![s("1"), s("2")], vec![s("x2"), s("p")], vec![None, s("q")]]);
        assert_eq!(w.groups[1].columns, vec![0, 2]);
        assert_eq!(w.groups[1].arrays, vec![vec![s("3")], vec![s("only b")]]);
    }

    #[test]
    fn unchanged_takes_the_earlier_value_or_stays_unchanged() {
        let w = plan(&[
            rec(Op::Insert, vec![("id", Value::int64(1)), ("a", Value::text("big")), ("b", Value::text("1"))]),
            rec(Op::Update, vec![("id", Value::int64(1)), ("a", Value::unchanged()), ("b", Value::text("2"))]),
            rec(Op::Update, vec![("id", Value::int64(2)), ("a", Value::unchanged()), ("b", Value::text("3"))]),
        ]);
        assert_eq!(w.groups.len(), 2);
        assert_eq!(w.groups[0].arrays, vec![vec![s("1")], vec![s("big")], vec![s("2")]]);
        assert!(w.groups[0].unchanged.is_empty());
        assert_eq!(w.groups[1].columns, vec![0, 2]);
        assert_eq!(w.groups[1].unchanged, vec![1]);
        assert_eq!(w.groups[1].arrays, vec![vec![s("2")], vec![s("3")]]);
    }

    #[test]
    fn deletes_and_reinserts() {
        let w = plan(&[
            rec(Op::Insert, vec![("id", Value::int64(1)), ("a", Value::text("x")), ("b", Value::text("y"))]),
            rec(Op::Delete, vec![("id", Value::int64(1))]),
            rec(Op::Delete, vec![("id", Value::int64(2))]),
            rec(Op::Insert, vec![("id", Value::int64(2)), ("b", Value::text("new"))]),
            rec(Op::Update, vec![("id", Value::int64(2)), ("a", Value::unchanged()), ("b", Value::text("newer"))]),
        ]);
        // 1: deleted; 2: deleted then upserted (a stays unchanged: it was never sent after the delete).
        assert_eq!(w.deletes, vec![vec![s("1"), s("2")]]);
        assert_eq!(w.groups.len(), 1);
        assert_eq!(w.groups[0].columns, vec![0, 2]);
        assert_eq!(w.groups[0].unchanged, vec![1]);
        assert_eq!(w.groups[0].arrays, vec![vec![s("2")], vec![s("newer")]]);
    }

    #[test]
    fn errors_name_table_and_column() {
        let mut p = TablePlan::new(info(), &["id".to_string()]).unwrap();
        let e = p.add(&rec(Op::Insert, vec![("id", Value::int64(1)), ("zz", Value::text("x"))])).unwrap_err();
        assert!(e.contains("\"s\".\"t\"") && e.contains("\"zz\""), "{e}");
        let e = p.add(&rec(Op::Insert, vec![("id", Value::null())])).unwrap_err();
        assert!(e.contains("NULL"), "{e}");
        let e = p.add(&rec(Op::Insert, vec![("id", Value::unchanged())])).unwrap_err();
        assert!(e.contains("unchanged"), "{e}");
        let doc = Value::of(crate::record::value::Kind::Document(Default::default()));
        let e = p.add(&rec(Op::Insert, vec![("id", doc)])).unwrap_err();
        assert!(e.contains("\"id\" (bigint)") && e.contains("document"), "{e}");
        let e = TablePlan::new(info(), &[]).err().unwrap();
        assert!(e.contains("no key") && e.contains("file target"), "{e}");
        let e = TablePlan::new(info(), &["nope".to_string()]).err().unwrap();
        assert!(e.contains("\"nope\""), "{e}");
    }
}
