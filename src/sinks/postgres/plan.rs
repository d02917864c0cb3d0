//! The postgres target's side of the shared batch plan ([`crate::sinks::plan`]):
//! its tables hold each value in its binary form where the column's type has
//! one, else as PostgreSQL input text (see `binary.rs` and `value/`), with
//! `None` for NULL, so a reduced batch is one array per column.

use super::binary::{cell, PgCell};
use super::schema::{ColumnInfo, TableInfo};
use crate::record::Value;
use crate::sinks::plan::PlanTable;

/// One table's plan (see [`crate::sinks::plan::TablePlan`]).
#[cfg(test)]
pub type TablePlan = crate::sinks::plan::TablePlan<TableInfo>;
/// What one table's records reduce to: one array of cells per column.
pub type TableWork = crate::sinks::plan::TableWork<PgCell>;

/// A value for `column` of `info`, with the table and column named on error.
pub fn render_for(info: &TableInfo, column: &ColumnInfo, v: &Value) -> Result<PgCell, String> {
    cell(v, column).map_err(|e| {
        format!(
            "table {} column {} ({}): {}",
            info.display(),
            super::sql::quote_ident(&column.name),
            column.sql_type,
            e.0
        )
    })
}

impl PlanTable for TableInfo {
    type Cell = PgCell;

    fn display(&self) -> &str {
        TableInfo::display(self)
    }
    fn column_count(&self) -> usize {
        self.columns.len()
    }
    fn column_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }
    fn column_name(&self, i: usize) -> &str {
        &self.columns[i].name
    }
    fn render(&self, i: usize, v: &Value) -> Result<PgCell, String> {
        render_for(self, &self.columns[i], v)
    }
    fn is_null(cell: &PgCell) -> bool {
        cell.is_none()
    }
    fn quote(&self, name: &str) -> String {
        super::sql::quote_ident(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Change, Op, Row, TableRef};
    use crate::sinks::postgres::binary::{BinType, PgValue};
    use crate::sinks::postgres::value::{Target, TypeClass};
    use std::sync::Arc;

    fn info() -> Arc<TableInfo> {
        let cols = [("id", "bigint", true), ("a", "text", false), ("b", "text", true)];
        let columns: Vec<ColumnInfo> = cols
            .iter()
            .map(|(n, t, nn)| ColumnInfo {
                name: n.to_string(),
                sql_type: t.to_string(),
                not_null: *nn,
                target: Target::scalar(if *t == "text" { TypeClass::Text } else { TypeClass::Other }),
                binary: BinType::of(t),
            })
            .collect();
        let by_name = columns.iter().enumerate().map(|(i, c)| (c.name.clone(), i)).collect();
        Arc::new(TableInfo { sql_name: "\"s\".\"t\"".into(), columns, by_name, copy_keys: Vec::new() })
    }

    fn rec(op: Op, pairs: Vec<(&str, Value)>) -> Change {
        Change {
            op: op as i32,
            table: Some(TableRef { schema: "s".into(), name: "t".into() }),
            key_columns: vec!["id".into()],
            after: Some(Row::from_pairs(pairs)),
            ..Default::default()
        }
    }

    #[test]
    fn holds_binary_or_text_cells_and_names_the_column() {
        let mut p = TablePlan::new(info(), &["id".to_string()]).unwrap();
        p.add(&rec(Op::Insert, vec![("id", Value::int64(1)), ("a", Value::text("x")), ("b", Value::null())])).unwrap();
        let w = p.finish();
        assert_eq!(w.groups[0].arrays, vec![vec![Some(PgValue::Int(1))], vec![Some(PgValue::Text("x".into()))], vec![None]]);
        let mut p = TablePlan::new(info(), &["id".to_string()]).unwrap();
        let e = p.add(&rec(Op::Insert, vec![("id", Value::int64(1)), ("zz", Value::text("x"))])).unwrap_err();
        assert!(e.contains("\"s\".\"t\"") && e.contains("\"zz\""), "{e}");
        let doc = Value::of(crate::record::value::Kind::Document(Default::default()));
        let e = p.add(&rec(Op::Insert, vec![("id", doc)])).unwrap_err();
        assert!(e.contains("\"id\" (bigint)") && e.contains("document"), "{e}");
        let e = TablePlan::new(info(), &[]).err().unwrap();
        assert!(e.contains("has no key") && e.contains("\"s\".\"t\""), "{e}");
    }

    #[test]
    fn a_key_sent_once_as_an_integer_and_once_as_its_digits_is_one_row() {
        let mut p = TablePlan::new(info(), &["id".to_string()]).unwrap();
        p.add(&rec(Op::Insert, vec![("id", Value::int64(7)), ("a", Value::text("x")), ("b", Value::text("1"))])).unwrap();
        p.add(&rec(Op::Update, vec![("id", Value::text("7")), ("a", Value::text("y")), ("b", Value::text("2"))])).unwrap();
        let w = p.finish();
        assert_eq!(w.groups.len(), 1);
        assert_eq!(w.groups[0].arrays[0], vec![Some(PgValue::Int(7))], "one row for key 7");
        assert_eq!(w.groups[0].arrays[1], vec![Some(PgValue::Text("y".into()))], "the later image wins");
    }
}
