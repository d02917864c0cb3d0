//! Engine-neutral parts of the SQL targets' schema-change handling: which
//! columns a new source schema dropped or changed against the previous one,
//! the column definitions of a new table, and the refusal messages. The SQL
//! stays in each target.

use crate::record::{Change, ColumnSchema, TableSchema};

/// The source schema a schema-change record carries.
pub fn schema_of(c: &Change) -> Result<&TableSchema, String> {
    c.schema_change
        .as_ref()
        .and_then(|s| s.schema.as_ref())
        .ok_or_else(|| format!("record seq {}: a schema change without a schema", c.seq))
}

/// A column definition for a target's `create_table`.
#[derive(Debug, Clone)]
pub struct ColumnDef {
    /// Column name.
    pub name: String,
    /// Target type (whitelisted, or from the target catalog).
    pub sql_type: String,
    /// Add NOT NULL.
    pub not_null: bool,
}

/// The columns of a new table: `schema`'s columns with their target `types`,
/// NOT NULL when not nullable on the source or a key column.
pub fn column_defs(schema: &TableSchema, types: &[String]) -> Vec<ColumnDef> {
    schema
        .columns
        .iter()
        .zip(types)
        .map(|(c, t)| ColumnDef {
            name: c.name.clone(),
            sql_type: t.clone(),
            not_null: !c.nullable || schema.key_columns.contains(&c.name),
        })
        .collect()
}

/// The first column of the previous schema that `new` no longer has.
pub fn dropped<'a>(prev: Option<&'a TableSchema>, new: &TableSchema) -> Option<&'a ColumnSchema> {
    prev?.columns.iter().find(|p| !new.columns.iter().any(|c| c.name == p.name))
}

/// `name`'s column in the previous schema.
pub fn previous<'a>(prev: Option<&'a TableSchema>, name: &str) -> Option<&'a ColumnSchema> {
    prev.and_then(|p| p.columns.iter().find(|p| p.name == name))
}

/// Whether `col`'s type changed: against its previous source type when there
/// is one, else as `target_differs` says (the target column's type).
pub fn type_changed(prev: Option<&ColumnSchema>, col: &ColumnSchema, target_differs: impl FnOnce() -> bool) -> bool {
    match prev {
        Some(p) => p.source_type != col.source_type,
        None => target_differs(),
    }
}

/// Whether a NOT NULL target column should follow the source to nullable
/// (never for key columns, and only when the target's tables are managed).
pub fn relax_not_null(create_tables: bool, schema: &TableSchema, col: &ColumnSchema, target_not_null: bool) -> bool {
    create_tables && col.nullable && target_not_null && !schema.key_columns.contains(&col.name)
}

/// The table is missing and may not be created.
pub fn no_table(shown: &str) -> String {
    format!("table {shown} does not exist on the target and create_tables = false: create it, or set create_tables = true")
}

/// The table was gone right after its schema change.
pub fn vanished(shown: &str) -> String {
    format!("table {shown} vanished during its schema change")
}

/// Refuses a column dropped on the source; `column` is quoted for the target.
pub fn dropped_message(shown: &str, column: &str) -> String {
    format!(
        "table {shown} column {column}: the column was dropped on the source; logferry never drops data — drop it on \
         the target (ALTER TABLE {shown} DROP COLUMN {column}) or keep it, then restart"
    )
}

/// Refuses a column missing on the target when tables are not managed.
pub fn missing_message(shown: &str, column: &str, ty: &str) -> String {
    format!("table {shown}: column {column} ({ty}) is missing on the target and create_tables = false: add it")
}

/// Refuses a type change; `fix` is the target's ALTER statement.
pub fn changed_message(shown: &str, column: &str, source_type: &str, ty: &str, target_type: &str, fix: &str) -> String {
    format!(
        "table {shown} column {column}: the source type changed to {source_type} (target type {ty}) but the target column \
         is {target_type}; logferry does not convert stored data — {fix} on the target yourself, then restart"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str, nullable: bool) -> ColumnSchema {
        ColumnSchema { name: name.into(), source_type: ty.into(), nullable, logical: None, type_dialect: String::new() }
    }

    #[test]
    fn diffs() {
        let prev = TableSchema { table: None, columns: vec![col("id", "int", false), col("a", "text", true)], key_columns: vec!["id".into()], documents: false };
        let new = TableSchema { table: None, columns: vec![col("id", "int", true), col("b", "text", true)], key_columns: vec!["id".into()], documents: false };
        assert_eq!(dropped(Some(&prev), &new).map(|c| c.name.as_str()), Some("a"));
        assert!(dropped(None, &new).is_none());
        assert!(previous(Some(&prev), "b").is_none());
        assert!(!type_changed(previous(Some(&prev), "id"), &new.columns[0], || true));
        assert!(type_changed(None, &new.columns[1], || true));
        let defs = column_defs(&new, &["bigint".into(), "text".into()]);
        assert!(defs[0].not_null && !defs[1].not_null && defs[1].sql_type == "text");
        assert!(!relax_not_null(true, &new, &new.columns[0], true));
        assert!(relax_not_null(true, &new, &new.columns[1], true) && !relax_not_null(false, &new, &new.columns[1], true));
    }

    #[test]
    fn messages() {
        assert_eq!(
            dropped_message("`d`.`t`", "`a`"),
            "table `d`.`t` column `a`: the column was dropped on the source; logferry never drops data — drop it on the target \
             (ALTER TABLE `d`.`t` DROP COLUMN `a`) or keep it, then restart"
        );
        assert_eq!(
            changed_message("t", "\"a\"", "bigint", "bigint", "integer", "ALTER TABLE t ALTER COLUMN \"a\" TYPE bigint"),
            "table t column \"a\": the source type changed to bigint (target type bigint) but the target column is integer; \
             logferry does not convert stored data — ALTER TABLE t ALTER COLUMN \"a\" TYPE bigint on the target yourself, then restart"
        );
        assert_eq!(missing_message("t", "\"a\"", "text"), "table t: column \"a\" (text) is missing on the target and create_tables = false: add it");
    }
}
