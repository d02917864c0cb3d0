//! Planning for tables without a key (records with empty `key_columns`:
//! a source table without a primary key replicated by whole rows).
//!
//! Rows of such a table are a multiset: two rows may be equal in every
//! column, and nothing names one row. So nothing is reduced: the records
//! of one table become [`RowOp`]s in source order —
//!
//! - INSERT and SNAPSHOT_READ **append** their row;
//! - DELETE **removes one row** equal in every column the old row carries
//!   (NULL equal to NULL), however many such rows there are;
//! - UPDATE removes one row equal to its old row, then appends its new row
//!   (a column the new row marks UNCHANGED takes the old row's value).
//!
//! Consecutive appends of one shape (the same columns) are one
//! [`RowOp::Append`] group, so a copied table is inserted in bulk. The old
//! row must be whole: a column marked UNCHANGED in it (or no old row at
//! all) is an error naming the table and the fix (REPLICA IDENTITY FULL).
//! Replaying such changes is not harmless (a replayed insert appends
//! again): exactly-once apply is what makes them safe.

use super::{Group, PlanTable};
use crate::record::{Change, Op, Row};
use std::sync::Arc;

/// One step of a keyless table's changes, applied in order.
#[derive(Debug)]
pub enum RowOp<C> {
    /// Insert these rows (no conflict handling: duplicates are allowed).
    /// `unchanged` is always empty.
    Append(Group<C>),
    /// Delete exactly one row whose `columns` (target column indices, in
    /// table order) hold `cells`, compared NULL-safely; none when there
    /// is no such row.
    Remove {
        /// Target column indices, in table order.
        columns: Vec<usize>,
        /// The old row's rendered values, one per entry of `columns`.
        cells: Vec<C>,
    },
}

/// The records of one keyless table, in order (see the module docs).
pub struct KeylessPlan<T: PlanTable> {
    info: Arc<T>,
    ops: Vec<RowOp<T::Cell>>,
}

impl<T: PlanTable> KeylessPlan<T> {
    /// An empty plan for `info`.
    pub fn new(info: Arc<T>) -> Self {
        KeylessPlan { info, ops: Vec::new() }
    }

    /// The table this plan writes.
    pub fn info(&self) -> &Arc<T> {
        &self.info
    }

    /// Adds one row change (INSERT, UPDATE, DELETE, SNAPSHOT_READ).
    pub fn add(&mut self, c: &Change) -> Result<(), String> {
        let info = self.info.clone();
        let shown = info.display();
        if !c.key_columns.is_empty() {
            return Err(format!("table {shown}: records of one batch disagree on the key columns ([] vs {:?})", c.key_columns));
        }
        let before = || {
            c.before.as_ref().filter(|r| !r.columns.is_empty()).ok_or_else(|| {
                format!(
                    "table {shown}: a {:?} of a table without a key carries no old row, so the row it changed cannot be \
                     found; on a PostgreSQL source run ALTER TABLE … REPLICA IDENTITY FULL; for the source table (on \
                     MySQL / MariaDB: binlog_row_image = FULL)",
                    c.op()
                )
            })
        };
        match c.op() {
            Op::Insert | Op::SnapshotRead => {
                let after = c.after.as_ref().ok_or_else(|| format!("table {shown}: an insert without an after image"))?;
                self.append(after, None)
            }
            Op::Delete => {
                let old = before()?;
                self.remove(old)
            }
            Op::Update => {
                let old = before()?;
                let after = c.after.as_ref().ok_or_else(|| format!("table {shown}: an update without an after image"))?;
                self.remove(old)?;
                self.append(after, Some(old))
            }
            op => Err(format!("table {shown}: {op:?} is not a row change")),
        }
    }

    /// The steps, in order.
    pub fn finish(self) -> Vec<RowOp<T::Cell>> {
        self.ops
    }

    /// Rendered (index, cell) pairs of `row`, in table order; an UNCHANGED
    /// value takes `old`'s value of the column, else it is an error.
    fn cells(&self, row: &Row, old: Option<&Row>, what: &str) -> Result<(Vec<usize>, Vec<T::Cell>), String> {
        let info = &*self.info;
        let mut pairs: Vec<(usize, T::Cell)> = Vec::with_capacity(row.columns.len());
        for (pos, col) in row.columns.iter().enumerate() {
            let i = info.column_index_hint(pos, &col.name).ok_or_else(|| {
                format!(
                    "table {}: column {} is not on the target table; add it on the target (or enable create_tables \
                     and replay from a schema change)",
                    info.display(),
                    info.quote(&col.name)
                )
            })?;
            let mut v = col.value.as_ref().ok_or_else(|| {
                format!("table {} column {}: the value is missing (an invalid record)", info.display(), info.quote(&col.name))
            })?;
            if v.is_unchanged() {
                v = old
                    .and_then(|o| o.get(&col.name))
                    .filter(|o| !o.is_unchanged())
                    .ok_or_else(|| {
                        format!(
                            "table {} column {}: the {what} row of a table without a key marks the value unchanged \
                             (not sent), and no old value is known; on a PostgreSQL source run ALTER TABLE … REPLICA \
                             IDENTITY FULL; for the source table",
                            info.display(),
                            info.quote(&col.name)
                        )
                    })?;
            }
            pairs.push((i, info.render(i, v)?));
        }
        pairs.sort_by_key(|(i, _)| *i);
        if pairs.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(format!("table {}: the {what} row names a column twice", info.display()));
        }
        Ok(pairs.into_iter().unzip())
    }

    fn append(&mut self, row: &Row, old: Option<&Row>) -> Result<(), String> {
        let (columns, cells) = self.cells(row, old, "new")?;
        if let Some(RowOp::Append(g)) = self.ops.last_mut() {
            if g.columns == columns {
                for (arr, cell) in g.arrays.iter_mut().zip(cells) {
                    arr.push(cell);
                }
                return Ok(());
            }
        }
        let arrays = cells.into_iter().map(|c| vec![c]).collect();
        self.ops.push(RowOp::Append(Group { columns, unchanged: Vec::new(), arrays, fresh: false }));
        Ok(())
    }

    fn remove(&mut self, old: &Row) -> Result<(), String> {
        let (columns, cells) = self.cells(old, None, "old")?;
        self.ops.push(RowOp::Remove { columns, cells });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{value::Kind, TableRef, Value};

    struct Table;

    impl PlanTable for Table {
        type Cell = Option<String>;
        fn display(&self) -> &str {
            "\"s\".\"t\""
        }
        fn column_count(&self) -> usize {
            2
        }
        fn column_index(&self, name: &str) -> Option<usize> {
            ["a", "b"].iter().position(|c| *c == name)
        }
        fn column_name(&self, i: usize) -> &str {
            ["a", "b"][i]
        }
        fn render(&self, _i: usize, v: &Value) -> Result<Option<String>, String> {
            match &v.kind {
                Some(Kind::Null(_)) => Ok(None),
                Some(Kind::Int64(n)) => Ok(Some(n.to_string())),
                other => Err(format!("cannot render {other:?}")),
            }
        }
        fn is_null(cell: &Option<String>) -> bool {
            cell.is_none()
        }
        fn quote(&self, name: &str) -> String {
            format!("\"{name}\"")
        }
    }

    fn row(a: Value, b: Value) -> Option<Row> {
        Some(Row::from_pairs(vec![("b", b), ("a", a)]))
    }

    fn rec(op: Op, before: Option<Row>, after: Option<Row>) -> Change {
        Change {
            op: op as i32,
            table: Some(TableRef { schema: "s".into(), name: "t".into() }),
            before,
            after,
            ..Default::default()
        }
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn changes_stay_in_order_and_appends_group() {
        let mut p = KeylessPlan::new(Arc::new(Table));
        let one = || row(Value::int64(1), Value::null());
        for _ in 0..3 {
            p.add(&rec(Op::Insert, None, one())).unwrap();
        }
        p.add(&rec(Op::Delete, one(), None)).unwrap();
        p.add(&rec(Op::Update, one(), row(Value::int64(2), Value::unchanged()))).unwrap();
        let ops = p.finish();
        assert_eq!(ops.len(), 4, "{ops:?}");
        let RowOp::Append(g) = &ops[0] else { panic!("{ops:?}") };
        assert_eq!((g.columns.clone(), g.arrays.clone()), (vec![0, 1], vec![vec![s("1"); 3], vec![None; 3]]));
        for op in &ops[1..3] {
            let RowOp::Remove { columns, cells } = op else { panic!("{ops:?}") };
            assert_eq!((columns.clone(), cells.clone()), (vec![0, 1], vec![s("1"), None]));
        }
        // The unchanged column takes the old row's value.
        let RowOp::Append(g) = &ops[3] else { panic!("{ops:?}") };
        assert_eq!(g.arrays, vec![vec![s("2")], vec![None]]);
    }

    #[test]
    fn a_change_without_a_whole_old_row_is_refused_with_the_fix() {
        let mut p = KeylessPlan::new(Arc::new(Table));
        let e = p.add(&rec(Op::Delete, None, None)).unwrap_err();
        assert!(e.contains("REPLICA IDENTITY FULL") && e.contains("\"s\".\"t\""), "{e}");
        let e = p.add(&rec(Op::Delete, row(Value::int64(1), Value::unchanged()), None)).unwrap_err();
        assert!(e.contains("\"b\"") && e.contains("REPLICA IDENTITY FULL"), "{e}");
        let mut keyed = rec(Op::Insert, None, row(Value::int64(1), Value::null()));
        keyed.key_columns = vec!["a".into()];
        assert!(p.add(&keyed).unwrap_err().contains("disagree"));
    }
}
