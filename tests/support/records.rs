//! Hand-built change records for the target tests: schema changes, row
//! changes, and applying a batch to any sink.

use logferry::record::{Change, ColumnSchema, Op, Row, SchemaChange, TableRef, TableSchema, Value};
use logferry::sinks::{Batch, Sink, SinkError};

pub fn table(schema: &str, name: &str) -> Option<TableRef> {
    Some(TableRef { schema: schema.into(), name: name.into() })
}

/// A schema change for `schema.name` as `source` sends it: columns (name,
/// source type, nullable) and key. The type text is in the dialect of that
/// source's engine (`postgres…` → PostgreSQL's spelling, `mysql` /
/// `mariadb` → MySQL's); the targets read the dialect, never the source.
pub fn schema_change(source: &str, schema: &str, name: &str, cols: &[(&str, &str, bool)], key: &[&str]) -> Change {
    let dialect = if source.starts_with("postgres") {
        "postgresql"
    } else if source.starts_with("mysql") || source.starts_with("mariadb") {
        "mysql"
    } else {
        ""
    };
    Change {
        op: Op::SchemaChange as i32,
        source: source.into(),
        table: table(schema, name),
        schema_change: Some(SchemaChange {
            schema: Some(TableSchema {
                table: table(schema, name),
                columns: cols
                    .iter()
                    .map(|(n, t, nullable)| ColumnSchema { name: n.to_string(), source_type: t.to_string(), nullable: *nullable, logical: None, type_dialect: dialect.into() })
                    .collect(),
                key_columns: key.iter().map(|k| k.to_string()).collect(),
                documents: false,
            }),
            ddl: String::new(),
        }),
        ..Default::default()
    }
}

pub fn row(pairs: Vec<(&str, Value)>) -> Option<Row> {
    Some(Row::from_pairs(pairs))
}

/// A row change of `schema.name` from `source`.
pub fn row_change(source: &str, op: Op, schema: &str, name: &str, key: &[&str], before: Option<Row>, after: Option<Row>) -> Change {
    Change {
        op: op as i32,
        source: source.into(),
        table: table(schema, name),
        key_columns: key.iter().map(|k| k.to_string()).collect(),
        before,
        after,
        ..Default::default()
    }
}

/// Applies `records` as one batch on lane 0.
pub async fn apply(s: &dyn Sink, records: Vec<Change>) -> Result<(), SinkError> {
    s.apply(&Batch { lane: 0, records, order: None }).await
}
