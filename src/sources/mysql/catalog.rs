//! What the MySQL / MariaDB source reads from information_schema: the
//! tables the selectors match, their primary keys and columns.

use super::decode::ColumnInfo;
use super::SourceResult;
use crate::record::{logical::MYSQL, ColumnSchema, TableRef, TableSchema};
use crate::sources::{glob_match, row_keys};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

/// A replicated table with its current columns.
#[derive(Debug, Clone)]
pub struct Table {
    pub database: String,
    pub name: String,
    /// Primary key columns in key order; for a table without one, the
    /// `key` of its `[[pipeline.table]]` rule ([`Table::with_row_key`]),
    /// else empty: a keyless table, replicated by whole rows (the binlog's
    /// full row images; its records carry no key columns).
    pub key: Vec<String>,
    /// The key is a rule's row key: its values may repeat or be NULL.
    pub key_from_rule: bool,
    pub columns: Vec<ColumnInfo>,
    /// Whether each column may be NULL.
    pub nullable: Vec<bool>,
}

impl Table {
    /// `db.name`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.database, self.name)
    }
    /// `` `db`.`name` ``.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.database), quote_ident(&self.name))
    }
    pub fn table_ref(&self) -> TableRef {
        TableRef { schema: self.database.clone(), name: self.name.clone() }
    }
    /// A table without a primary key takes the first matching row key of
    /// `row_keys` (rule match, key columns); without a rule it stays
    /// keyless. `Err`: the problem, with its fix (the rule names columns
    /// the table lacks).
    pub fn with_row_key(mut self, row_keys: &[(String, Vec<String>)]) -> Result<Self, String> {
        if !self.key.is_empty() {
            return Ok(self);
        }
        let Some(key) = row_keys::rule_for(row_keys, |m| selects(m, &self.database, &self.name)) else {
            return Ok(self);
        };
        let columns: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
        if let Some(p) = row_keys::missing_columns(&self.qualified(), key, &columns) {
            return Err(p);
        }
        self.key = key.to_vec();
        self.key_from_rule = true;
        Ok(self)
    }

    /// The schema record payload.
    pub fn schema(&self) -> TableSchema {
        TableSchema {
            table: Some(self.table_ref()),
            columns: self
                .columns
                .iter()
                .zip(&self.nullable)
                .map(|(c, n)| ColumnSchema {
                    name: c.name.clone(),
                    source_type: c.source_type(),
                    nullable: *n,
                    logical: Some(super::logical::logical(c)),
                    type_dialect: MYSQL.into(),
                })
                .collect(),
            key_columns: self.key.clone(),
            documents: false,
        }
    }
}

/// Backquotes an identifier, doubling embedded backquotes.
pub fn quote_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// Does `db.table` match one of the selectors (`db.table` globs)?
pub fn selected(selectors: &[String], db: &str, table: &str) -> bool {
    selectors.iter().any(|s| selects(s, db, table))
}

/// Does one selector (a `tables` entry or a rule's `match`) select `db.table`?
pub fn selects(sel: &str, db: &str, table: &str) -> bool {
    match sel.split_once('.') {
        Some((d, t)) => glob_match(d, db) && glob_match(t, table),
        None => false,
    }
}

fn sql_err(source: &str, what: &str, e: mysql_async::Error) -> crate::sources::SourceError {
    super::mysql_error(source, what, &e)
}

/// Every base table matching the selectors, with keys and columns; a table
/// without a primary key takes the first matching row key of `row_keys`
/// (rule match, key columns), else stays keyless (replicated by whole
/// rows). Errors list every selector that matches nothing and every rule
/// key naming a missing column.
pub async fn resolve_tables(
    conn: &mut Conn,
    selectors: &[String],
    row_keys: &[(String, Vec<String>)],
    source: &str,
) -> SourceResult<Vec<Table>> {
    let rows: Vec<(String, String)> = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
              WHERE TABLE_TYPE = 'BASE TABLE'
                AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
              ORDER BY TABLE_SCHEMA, TABLE_NAME",
        )
        .await
        .map_err(|e| sql_err(source, "listing tables", e))?;
    let mut problems = Vec::new();
    for sel in selectors {
        if !sel.contains('.') {
            problems.push(format!("table selector `{sel}` has no database; write it as `database.table` (globs allowed)"));
        } else if !rows.iter().any(|(d, t)| selected(std::slice::from_ref(sel), d, t)) {
            problems.push(format!(
                "no table matches `{sel}`: check `tables` in [pipeline.source], or, if it exists, let the user see it: GRANT SELECT ON {} TO …;",
                sel.split_once('.').map(|(d, _)| format!("{}.*", quote_ident(d))).unwrap_or_default()
            ));
        }
    }
    let mut tables = Vec::new();
    for (db, name) in rows.iter().filter(|(d, t)| selected(selectors, d, t)) {
        let t = load_table(conn, db, name, source).await?;
        match t.with_row_key(row_keys) {
            Ok(t) => tables.push(t),
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        return Err(super::definite(source, problems.join("\n")));
    }
    Ok(tables)
}

/// Reads one table's columns and primary key from information_schema.
pub async fn load_table(conn: &mut Conn, db: &str, name: &str, source: &str) -> SourceResult<Table> {
    type ColRow = (String, String, String, Option<String>, String);
    let cols: Vec<ColRow> = conn
        .exec(
            "SELECT COLUMN_NAME, LOWER(DATA_TYPE), COLUMN_TYPE, CHARACTER_SET_NAME, IS_NULLABLE
               FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (db, name),
        )
        .await
        .map_err(|e| sql_err(source, &format!("reading the columns of {db}.{name}"), e))?;
    let key: Vec<String> = conn
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
              WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
            (db, name),
        )
        .await
        .map_err(|e| sql_err(source, &format!("reading the key of {db}.{name}"), e))?;
    // MariaDB's JSON is LONGTEXT with a json_valid() check named after the column.
    let json_checks: Vec<String> = conn
        .exec(
            "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
              WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?",
            (db, name),
        )
        .await
        .unwrap_or_default();
    let mut columns = Vec::with_capacity(cols.len());
    let mut nullable = Vec::with_capacity(cols.len());
    for (col, data_type, column_type, charset, is_nullable) in cols {
        let check = format!("json_valid({})", quote_ident(&col)).to_lowercase();
        let is_json = data_type == "json" || json_checks.iter().any(|c| c.to_lowercase().replace(' ', "") == check);
        columns.push(ColumnInfo { name: col, data_type, column_type, charset, is_json });
        nullable.push(is_nullable == "YES");
    }
    Ok(Table { database: db.to_string(), name: name.to_string(), key, key_from_rule: false, columns, nullable })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_need_a_database_part() {
        let sel = vec!["shop.*".to_string(), "crm.cust?mers".to_string()];
        assert!(selected(&sel, "shop", "orders"));
        assert!(selected(&sel, "crm", "customers"));
        assert!(!selected(&sel, "crm", "orders"));
        assert!(!selected(&["orders".to_string()], "shop", "orders"));
        assert_eq!(quote_ident("a`b"), "`a``b`");
    }
}
