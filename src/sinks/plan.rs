//! Engine-neutral batch planning for database targets: splitting a batch at
//! control records, and reducing a run of row changes for one table to a
//! few set-based statements.
//!
//! # Steps
//!
//! [`steps`] cuts a batch into runs applied the same way: row changes
//! (INSERT, UPDATE, DELETE, SNAPSHOT_READ) are gathered into one
//! [`Step::Rows`] until a schema change, truncate or key-changing update
//! interrupts them; those each get their own step, in batch order.
//! Heartbeats and logical messages are skipped.
//!
//! # Per-key reduction
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
//! [`TablePlan::finish`] then yields the keys for one DELETE and one group
//! per *shape* (which columns are present, which are UNCHANGED, and whether
//! the rows are *fresh*), each applied with one statement (or a few, when a
//! target must chunk them).
//!
//! A key is fresh when its first record in the batch was an INSERT or a
//! SNAPSHOT_READ and no DELETE of it was seen in the batch (later UPDATEs
//! keep it fresh): as far as the batch knows, the row is new on the target.
//! The PostgreSQL target writes groups of fresh rows with `COPY` (falling
//! back to its upsert when a row exists after all); other targets ignore
//! the flag.
//! Values are rendered for the target here, through [`PlanTable::render`],
//! so a value that cannot go into its column is reported before anything is
//! sent, with the table and column named.
//!
//! Key-changing updates are not folded: targets apply them on their own
//! (the pipeline sends them alone in a batch anyway).
//!
//! # Tables without a key
//!
//! Records with no key columns (a keyless source table replicated by whole
//! rows) are not reduced: [`keyless::KeylessPlan`] keeps them in order as
//! appends and removals of one row equal in every column.

pub mod keyless;

pub use keyless::{KeylessPlan, RowOp};

use crate::record::{Change, Op, Row, Value};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

/// A run of records applied the same way (see the module docs).
#[derive(Debug)]
pub enum Step<'a> {
    /// Row changes, in batch order.
    Rows(Vec<&'a Change>),
    /// `OP_SCHEMA_CHANGE`.
    Schema(&'a Change),
    /// `OP_TRUNCATE`.
    Truncate(&'a Change),
    /// An UPDATE whose key changed.
    KeyChange(&'a Change),
}

/// Splits `records` into [`Step`]s; an operation-less record is an error.
pub fn steps(records: &[Change]) -> Result<Vec<Step<'_>>, String> {
    let mut out: Vec<Step<'_>> = Vec::new();
    for c in records {
        let step = match c.op() {
            Op::Heartbeat | Op::Message => continue,
            Op::SchemaChange => Step::Schema(c),
            Op::Truncate => Step::Truncate(c),
            Op::Update if c.changes_key() => Step::KeyChange(c),
            Op::Insert | Op::Update | Op::Delete | Op::SnapshotRead => {
                if let Some(Step::Rows(rows)) = out.last_mut() {
                    rows.push(c);
                    continue;
                }
                Step::Rows(vec![c])
            }
            Op::Unspecified => return Err(format!("record seq {} has no operation (an invalid record)", c.seq)),
        };
        out.push(step);
    }
    Ok(out)
}

/// What a target table must tell the planner: its columns, and how a
/// canonical value becomes a value of its column.
pub trait PlanTable {
    /// One value rendered for a column of this table, NULL included. Keys
    /// are compared by their rendered cells, so equal cells must mean the
    /// same stored key.
    type Cell: Clone + Eq + Hash + std::fmt::Debug;

    /// The table as messages show it (quoted the target's way).
    fn display(&self) -> &str;
    /// Number of target columns.
    fn column_count(&self) -> usize;
    /// The index of the column a record's column `name` goes to.
    fn column_index(&self, name: &str) -> Option<usize>;
    /// [`column_index`](Self::column_index), first trying `hint` (the
    /// column's position in the record: usually the same table shape), so
    /// the common case is one string comparison instead of a lookup. An
    /// exact name match at `hint` is what any lookup would find too.
    fn column_index_hint(&self, hint: usize, name: &str) -> Option<usize> {
        if hint < self.column_count() && self.column_name(hint) == name {
            Some(hint)
        } else {
            self.column_index(name)
        }
    }
    /// The target name of column `i`.
    fn column_name(&self, i: usize) -> &str;
    /// `v` rendered for column `i`; the error names the table and column.
    fn render(&self, i: usize, v: &Value) -> Result<Self::Cell, String>;
    /// True for the cell of SQL NULL.
    fn is_null(cell: &Self::Cell) -> bool;
    /// An identifier quoted the target's way, for messages.
    fn quote(&self, name: &str) -> String;
}

/// One column of a key's merged image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot<C> {
    /// No record of the key carried the column.
    Absent,
    /// UNCHANGED with no earlier value in the batch: keep what is stored.
    Unchanged,
    /// A rendered value (NULL included).
    Value(C),
}

#[derive(Debug)]
struct Entry<C> {
    /// Rendered key values, in key order.
    key: Vec<C>,
    /// Delete the stored row (the final state, or before the upsert).
    delete: bool,
    /// Final image to upsert, by target column index.
    image: Option<Vec<Slot<C>>>,
    /// First seen as an INSERT / SNAPSHOT_READ, never deleted in the batch.
    fresh: bool,
}

/// Rows to upsert that share one shape.
#[derive(Debug)]
pub struct Group<C> {
    /// Target column indices with values, in table order (keys included).
    pub columns: Vec<usize>,
    /// Target column indices that are UNCHANGED in these rows (kept as stored).
    pub unchanged: Vec<usize>,
    /// One array of cells per entry of `columns` (column-major: entry `r`
    /// of every array is row `r`).
    pub arrays: Vec<Vec<C>>,
    /// Every row's key was first seen in the batch as an INSERT or
    /// SNAPSHOT_READ and never deleted in it (see the module docs).
    pub fresh: bool,
}

impl<C> Group<C> {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.arrays.first().map_or(0, Vec::len)
    }

    /// True when the group has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What one table's records reduce to.
#[derive(Debug)]
pub struct TableWork<C> {
    /// Key column indices in key order.
    pub key: Vec<usize>,
    /// One array per key column: the keys to delete (empty when none).
    pub deletes: Vec<Vec<C>>,
    /// Upserts, one group per shape.
    pub groups: Vec<Group<C>>,
}

/// Folds one table's records (see the module docs).
pub struct TablePlan<T: PlanTable> {
    info: Arc<T>,
    key_names: Vec<String>,
    key: Vec<usize>,
    entries: Vec<Entry<T::Cell>>,
    index: HashMap<Vec<T::Cell>, usize>,
}

/// The target column indices of `key_columns`, or why not.
pub fn key_indices<T: PlanTable>(info: &T, key_columns: &[String]) -> Result<Vec<usize>, String> {
    if key_columns.is_empty() {
        return Err(format!(
            "table {} has no key (its records carry no key columns): it cannot be planned by key; its \
             changes are applied in order as whole rows instead (an internal error if seen)",
            info.display()
        ));
    }
    key_columns
        .iter()
        .map(|k| {
            info.column_index(k).ok_or_else(|| {
                format!(
                    "table {}: key column {} does not exist on the target; add it (and a primary key on the key columns)",
                    info.display(),
                    info.quote(k)
                )
            })
        })
        .collect()
}

/// Rendered key values of `row` (`what` names the image in messages:
/// "before" or "after").
pub fn key_of<T: PlanTable>(info: &T, key: &[usize], row: &Row, what: &str) -> Result<Vec<T::Cell>, String> {
    key.iter()
        .map(|&i| {
            let name = info.column_name(i);
            let v = row_value(info, row, i).ok_or_else(|| {
                format!("table {}: the {what} image has no value for key column {}", info.display(), info.quote(name))
            })?;
            if v.is_unchanged() {
                return Err(format!(
                    "table {}: key column {} is marked unchanged (not sent) in the {what} image",
                    info.display(),
                    info.quote(name)
                ));
            }
            let cell = info.render(i, v)?;
            if T::is_null(&cell) {
                return Err(format!("table {}: key column {} is NULL in the {what} image", info.display(), info.quote(name)));
            }
            Ok(cell)
        })
        .collect()
}

/// The value of target column `i` in `row` (matched the way the target
/// matches names).
fn row_value<'r, T: PlanTable>(info: &T, row: &'r Row, i: usize) -> Option<&'r Value> {
    // Usually the record's column i is the target's column i.
    if let Some(c) = row.columns.get(i).filter(|c| c.name == info.column_name(i)) {
        return c.value.as_ref();
    }
    row.columns
        .iter()
        .enumerate()
        .find(|(pos, c)| info.column_index_hint(*pos, &c.name) == Some(i))
        .and_then(|(_, c)| c.value.as_ref())
}

impl<T: PlanTable> TablePlan<T> {
    /// A plan for `info`, keyed by `key_columns` (the first record's).
    pub fn new(info: Arc<T>, key_columns: &[String]) -> Result<Self, String> {
        let key = key_indices(&*info, key_columns)?;
        Ok(TablePlan { info, key_names: key_columns.to_vec(), key, entries: Vec::new(), index: HashMap::new() })
    }

    /// The table this plan writes.
    pub fn info(&self) -> &Arc<T> {
        &self.info
    }

    /// The key's entry; a new one is fresh when `fresh` (the key's first
    /// record is an INSERT or SNAPSHOT_READ).
    fn entry_for(&mut self, key: Vec<T::Cell>, fresh: bool) -> &mut Entry<T::Cell> {
        let next = self.entries.len();
        let i = *self.index.entry(key.clone()).or_insert(next);
        if i == next {
            self.entries.push(Entry { key, delete: false, image: None, fresh });
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
                let key = key_of(&*info, &self.key, row, "before")?;
                let e = self.entry_for(key, false);
                e.delete = true;
                e.image = None;
                e.fresh = false;
            }
            Op::Insert | Op::Update | Op::SnapshotRead => {
                let row = c.after.as_ref().ok_or_else(|| format!("table {}: an insert or update without an after image", info.display()))?;
                let key = key_of(&*info, &self.key, row, "after")?;
                let mut image: Vec<Slot<T::Cell>> = vec![Slot::Absent; info.column_count()];
                for (pos, col) in row.columns.iter().enumerate() {
                    let i = info.column_index_hint(pos, &col.name).ok_or_else(|| {
                        format!(
                            "table {}: column {} is not on the target table; it was added on the source without a \
                             schema change reaching the target — add the column on the target (or enable create_tables and \
                             replay from a schema change)",
                            info.display(),
                            info.quote(&col.name)
                        )
                    })?;
                    let v = col.value.as_ref().ok_or_else(|| {
                        format!("table {} column {}: the value is missing (an invalid record)", info.display(), info.quote(&col.name))
                    })?;
                    image[i] = if v.is_unchanged() { Slot::Unchanged } else { Slot::Value(info.render(i, v)?) };
                }
                let e = self.entry_for(key, matches!(c.op(), Op::Insert | Op::SnapshotRead));
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
    pub fn finish(self) -> TableWork<T::Cell> {
        let nkey = self.key.len();
        let mut deletes: Vec<Vec<T::Cell>> = vec![Vec::new(); nkey];
        let mut groups: Vec<Group<T::Cell>> = Vec::new();
        let mut by_shape: HashMap<Vec<u8>, usize> = HashMap::new();
        for e in self.entries {
            if e.delete {
                for (arr, k) in deletes.iter_mut().zip(&e.key) {
                    arr.push(k.clone());
                }
            }
            let Some(image) = e.image else { continue };
            // One byte per column, then the fresh bit.
            let mut shape: Vec<u8> = image
                .iter()
                .map(|s| match s {
                    Slot::Absent => 0,
                    Slot::Unchanged => 1,
                    Slot::Value(_) => 2,
                })
                .collect();
            shape.push(u8::from(e.fresh));
            let gi = *by_shape.entry(shape.clone()).or_insert_with(|| {
                let ncol = shape.len() - 1;
                let columns: Vec<usize> = (0..ncol).filter(|&i| shape[i] == 2).collect();
                let unchanged = (0..ncol).filter(|&i| shape[i] == 1).collect();
                groups.push(Group { arrays: vec![Vec::new(); columns.len()], columns, unchanged, fresh: e.fresh });
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
    use crate::record::{value::Kind, TableRef, Value};

    /// A table `"s"."t"` (id, a, b) whose cells are the values' debug text.
    struct Table {
        columns: Vec<&'static str>,
    }

    impl PlanTable for Table {
        type Cell = Option<String>;
        fn display(&self) -> &str {
            "\"s\".\"t\""
        }
        fn column_count(&self) -> usize {
            self.columns.len()
        }
        fn column_index(&self, name: &str) -> Option<usize> {
            self.columns.iter().position(|c| *c == name)
        }
        fn column_name(&self, i: usize) -> &str {
            self.columns[i]
        }
        fn render(&self, i: usize, v: &Value) -> Result<Option<String>, String> {
            match &v.kind {
                Some(Kind::Null(_)) => Ok(None),
                Some(Kind::Int64(n)) => Ok(Some(n.to_string())),
                Some(Kind::Text(s)) => Ok(Some(s.clone())),
                other => Err(format!("table {} column {}: cannot render {other:?}", self.display(), self.quote(self.columns[i]))),
            }
        }
        fn is_null(cell: &Option<String>) -> bool {
            cell.is_none()
        }
        fn quote(&self, name: &str) -> String {
            format!("\"{name}\"")
        }
    }

    fn info() -> Arc<Table> {
        Arc::new(Table { columns: vec!["id", "a", "b"] })
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

    fn plan(records: &[Change]) -> TableWork<Option<String>> {
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
        assert_eq!(w.groups[0].len(), 2);
        assert_eq!(w.groups[1].columns, vec![0, 2]);
        assert_eq!(w.groups[1].arrays, vec![vec![s("3")], vec![s("only b")]]);
    }

    #[test]
    fn records_whose_columns_are_in_another_order_than_the_target_land_by_name() {
        // (b, id, a) against the target's (id, a, b): no column at its
        // target's position; the key is found by name too.
        let w = plan(&[
            rec(Op::Insert, vec![("b", Value::text("y")), ("id", Value::int64(1)), ("a", Value::text("x"))]),
            rec(Op::Insert, vec![("id", Value::int64(2)), ("b", Value::text("q")), ("a", Value::text("p"))]),
            rec(Op::Delete, vec![("a", Value::text("gone")), ("id", Value::int64(3))]),
        ]);
        assert_eq!(w.groups.len(), 1);
        assert_eq!(w.groups[0].columns, vec![0, 1, 2]);
        assert_eq!(w.groups[0].arrays, vec![vec![s("1"), s("2")], vec![s("x"), s("p")], vec![s("y"), s("q")]]);
        assert_eq!(w.deletes, vec![vec![s("3")]]);
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
    fn fresh_rows_are_first_seen_as_inserts_and_never_deleted_and_group_apart() {
        let full = |id: i64, a: &str| vec![("id", Value::int64(id)), ("a", Value::text(a)), ("b", Value::null())];
        let w = plan(&[
            rec(Op::Insert, full(1, "new")),
            rec(Op::SnapshotRead, full(2, "read")),
            rec(Op::Update, full(3, "existing")),
            rec(Op::Update, full(1, "new, then updated")),
            rec(Op::Insert, full(4, "inserted, then deleted")),
            rec(Op::Delete, vec![("id", Value::int64(4))]),
            rec(Op::Delete, vec![("id", Value::int64(5))]),
            rec(Op::Insert, full(5, "deleted, then inserted")),
            rec(Op::Insert, full(6, "inserted, deleted, inserted")),
            rec(Op::Delete, vec![("id", Value::int64(6))]),
            rec(Op::Insert, full(6, "again")),
        ]);
        // Same shape, two groups: fresh (1, 2) and not (3, 5, 6).
        assert_eq!(w.groups.len(), 2);
        assert!(w.groups[0].fresh);
        assert_eq!(w.groups[0].arrays[0], vec![s("1"), s("2")]);
        assert_eq!(w.groups[0].arrays[1], vec![s("new, then updated"), s("read")]);
        assert!(!w.groups[1].fresh);
        assert_eq!(w.groups[1].arrays[0], vec![s("3"), s("5"), s("6")]);
        assert_eq!(w.groups[0].columns, w.groups[1].columns);
        assert_eq!(w.deletes, vec![vec![s("4"), s("5"), s("6")]]);
        // An update first, then an insert of the same key: not fresh.
        let w = plan(&[rec(Op::Update, full(7, "u")), rec(Op::Insert, full(7, "i"))]);
        assert_eq!(w.groups.len(), 1);
        assert!(!w.groups[0].fresh);
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
        let e = p.add(&rec(Op::Delete, vec![("a", Value::text("no key"))])).unwrap_err();
        assert!(e.contains("no value for key column \"id\""), "{e}");
        let mut other = rec(Op::Insert, vec![("id", Value::int64(1))]);
        other.key_columns = vec!["a".into()];
        assert!(p.add(&other).unwrap_err().contains("disagree"));
        let e = TablePlan::new(info(), &[]).err().unwrap();
        assert!(e.contains("has no key") && e.contains("\"s\".\"t\""), "keyless records are planned apart: {e}");
        let e = TablePlan::new(info(), &["nope".to_string()]).err().unwrap();
        assert!(e.contains("\"nope\""), "{e}");
    }

    #[test]
    fn batches_split_at_control_records() {
        let row = |op: Op, id: i64| Change {
            op: op as i32,
            key_columns: vec!["id".into()],
            after: Some(Row::from_pairs([("id", Value::int64(id))])),
            before: (op == Op::Update && id == 9).then(|| Row::from_pairs([("id", Value::int64(1))])),
            ..Default::default()
        };
        let recs = vec![
            row(Op::Insert, 1),
            row(Op::Update, 2),
            row(Op::Heartbeat, 0),
            row(Op::Truncate, 0),
            row(Op::Insert, 3),
            row(Op::Update, 9),
            row(Op::SchemaChange, 0),
            row(Op::Message, 0),
        ];
        let s = steps(&recs).unwrap();
        let shape: Vec<String> = s
            .iter()
            .map(|s| match s {
                Step::Rows(r) => format!("rows{}", r.len()),
                Step::Schema(_) => "schema".into(),
                Step::Truncate(_) => "truncate".into(),
                Step::KeyChange(_) => "keychange".into(),
            })
            .collect();
        assert_eq!(shape, ["rows2", "truncate", "rows1", "keychange", "schema"]);
        assert!(steps(&[row(Op::Unspecified, 1)]).is_err());
    }
}
