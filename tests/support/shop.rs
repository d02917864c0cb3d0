//! Hand-built records of a small shop database whose type names are in
//! PostgreSQL's spelling, shared by the SQL target tests (the same records
//! go to every SQL dialect).

use super::records::{row, row_change, schema_change, table};
use logferry::record::{value::Kind, Change, Op, Row, Value};

/// The records carry PostgreSQL type names, so they name a PostgreSQL
/// source (which gives their schema records `type_dialect = "postgresql"`).
pub const PG: &str = "postgres:127.0.0.1:5432/shop";

/// A schema change for `schema.name`: columns (name, source type, nullable) and key.
pub fn ddl(schema: &str, name: &str, cols: &[(&str, &str, bool)], key: &[&str]) -> Change {
    schema_change(PG, schema, name, cols, key)
}

pub fn change(op: Op, schema: &str, name: &str, key: &[&str], before: Option<Row>, after: Option<Row>) -> Change {
    row_change(PG, op, schema, name, key, before, after)
}

pub fn ins(name: &str, pairs: Vec<(&str, Value)>) -> Change {
    change(Op::Insert, "public", name, &["id"], None, row(pairs))
}

pub fn upd(name: &str, pairs: Vec<(&str, Value)>) -> Change {
    change(Op::Update, "public", name, &["id"], None, row(pairs))
}

pub fn del(name: &str, id: i64) -> Change {
    change(Op::Delete, "public", name, &["id"], row(vec![("id", Value::int64(id))]), None)
}

pub fn truncate(name: &str) -> Change {
    Change { op: Op::Truncate as i32, source: PG.into(), table: table("public", name), ..Default::default() }
}

pub fn v(kind: Kind) -> Value {
    Value::of(kind)
}

/// A simple table t(id bigint primary key, v text, n integer NOT NULL).
pub fn simple_ddl(name: &str) -> Change {
    ddl("public", name, &[("id", "bigint", false), ("v", "text", true), ("n", "integer", false)], &["id"])
}

/// A row of the simple table.
pub fn simple(id: i64, v: &str, n: i64) -> Vec<(&'static str, Value)> {
    vec![("id", Value::int64(id)), ("v", Value::text(v)), ("n", Value::int64(n))]
}
