//! What the source reads from the PostgreSQL catalog: which tables the
//! selectors match, their keys and columns, and what each type OID is.

use super::types::{builtin_oid, PgType};
use crate::sources::glob_match;
use super::SourceResult;
use crate::sources::row_keys;
use crate::record::{logical::POSTGRESQL, ColumnSchema, LogicalType, TableRef, TableSchema};
use std::collections::HashMap;
use tokio_postgres::Client;

/// A table the pipeline replicates.
#[derive(Debug, Clone)]
pub struct Table {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    /// Key columns in key order (primary key, or the replica identity
    /// index, or for a table without either the `key` of its
    /// `[[pipeline.table]]` rule). Empty for a keyless table replicated
    /// by whole rows (REPLICA IDENTITY FULL, no rule): its records carry
    /// no key columns and the whole old row in `before`.
    pub key: Vec<String>,
    /// `relreplident`: d(efault), f(ull), i(ndex), n(othing).
    pub replica_identity: char,
    /// The key is a rule's row key (the table has none of its own): the
    /// table has REPLICA IDENTITY FULL, its key values need not be unique
    /// or non-NULL, and the stream takes the key from here, not from the
    /// Relation message (which marks every column as key).
    pub key_from_rule: bool,
}

impl Table {
    /// `schema.name` for messages and progress.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// The record's table reference.
    pub fn table_ref(&self) -> TableRef {
        TableRef { schema: self.schema.clone(), name: self.name.clone() }
    }

    /// `"schema"."name"`.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

/// A column of a table as the catalog describes it now.
#[derive(Debug, Clone)]
pub struct CatalogColumn {
    pub name: String,
    pub type_oid: u32,
    pub type_modifier: i32,
    /// `format_type(oid, typmod)`, e.g. `numeric(12,2)`.
    pub type_text: String,
    pub not_null: bool,
}

/// Double-quotes an identifier, doubling embedded quotes.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Single-quotes a literal, doubling embedded quotes; a text with a
/// backslash becomes an escape string (`E'a\\b'`, backslashes doubled),
/// which reads the same whatever `standard_conforming_strings` says, as
/// PostgreSQL's own `quote_literal` does. Values read from tables go as
/// parameters instead wherever the statement allows them.
pub fn quote_literal(s: &str) -> String {
    let quoted = s.replace('\'', "''");
    match s.contains('\\') {
        true => format!("E'{}'", quoted.replace('\\', "\\\\")),
        false => format!("'{quoted}'"),
    }
}

/// Splits a selector into (schema glob, table glob); no dot means `public`.
fn split_selector(sel: &str) -> (&str, &str) {
    sel.split_once('.').unwrap_or(("public", sel))
}

/// Does selector `sel` (a `tables` entry or a rule's `match`) select `schema.name`?
pub fn selects(sel: &str, schema: &str, name: &str) -> bool {
    let (ps, pt) = split_selector(sel);
    glob_match(ps, schema) && glob_match(pt, name)
}

/// Resolves the table selectors to tables with their keys; a table without
/// a key takes the first matching row key of `row_keys` (rule match, key
/// columns). Errors name the selector or tables that cannot be replicated
/// and the SQL that fixes it.
pub async fn resolve_tables(
    client: &Client,
    selectors: &[String],
    row_keys: &[(String, Vec<String>)],
    source: &str,
) -> SourceResult<Vec<Table>> {
    let rows = client
        .query(
            "SELECT c.oid, n.nspname, c.relname, c.relreplident::text,
                    has_table_privilege(c.oid, 'SELECT'),
                    COALESCE((SELECT array_agg(a.attname::text ORDER BY k.ord)
                       FROM pg_index i
                       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                      WHERE i.indrelid = c.oid
                        AND (CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END)),
                      '{}'),
                    ARRAY(SELECT a.attname::text FROM pg_attribute a
                           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
                AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND n.nspname NOT LIKE 'pg\\_%'
              ORDER BY n.nspname, c.relname",
            &[],
        )
        .await
        .map_err(|e| super::sql_error(source, "listing tables", &e))?;
    let mut tables = Vec::new();
    let mut unmatched = Vec::new();
    let mut no_select = Vec::new();
    let mut not_full = Vec::new();
    let mut keyless_not_full = Vec::new();
    let mut bad_keys = Vec::new();
    for sel in selectors {
        let mut matched = false;
        for row in &rows {
            let schema: String = row.get(1);
            let name: String = row.get(2);
            if !selects(sel, &schema, &name) {
                continue;
            }
            matched = true;
            if tables.iter().any(|t: &Table| t.schema == schema && t.name == name) {
                continue;
            }
            let key: Vec<String> = row.get(5);
            let ident: String = row.get(3);
            let mut t = Table {
                oid: row.get(0),
                schema,
                name,
                key,
                replica_identity: ident.chars().next().unwrap_or('d'),
                key_from_rule: false,
            };
            if !row.get::<_, bool>(4) {
                no_select.push(t.quoted());
            }
            if t.key.is_empty() {
                match row_keys::rule_for(row_keys, |m| selects(m, &t.schema, &t.name)) {
                    // Keyless, replicated by whole rows: needs the whole old row.
                    None if t.replica_identity == 'f' => {}
                    None => keyless_not_full.push((t.quoted(), t.qualified())),
                    Some(key) => {
                        let columns: Vec<String> = row.get(6);
                        if let Some(p) = row_keys::missing_columns(&t.qualified(), key, &columns) {
                            bad_keys.push(p);
                        }
                        if t.replica_identity != 'f' {
                            not_full.push(t.quoted());
                        }
                        t.key = key.to_vec();
                        t.key_from_rule = true;
                    }
                }
            }
            tables.push(t);
        }
        if !matched {
            unmatched.push(sel.clone());
        }
    }
    // Every problem at once, so a DBA fixes them in one go.
    let mut problems = Vec::new();
    if !unmatched.is_empty() {
        problems.push(format!(
            "no table matches {}; check `tables` in [pipeline.source] (a selector without a schema means `public`)",
            unmatched.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    if !keyless_not_full.is_empty() {
        problems.push(keyless_refusal(&keyless_not_full));
    }
    problems.extend(bad_keys);
    if !not_full.is_empty() {
        problems.push(format!(
            "table(s) without a primary key, identified by the `key` of a [[pipeline.table]] rule, need REPLICA IDENTITY FULL: {}. \
             Without it PostgreSQL sends no old row for an UPDATE or DELETE of a table without a key, and refuses \
             DELETEs on it once it is published; run: {}",
            not_full.join(", "),
            not_full.iter().map(|t| format!("ALTER TABLE {t} REPLICA IDENTITY FULL;")).collect::<Vec<_>>().join(" ")
        ));
    }
    if !no_select.is_empty() {
        let role: String = client
            .query_one("SELECT current_user::text", &[])
            .await
            .map_err(|e| super::sql_error(source, "reading the role", &e))?
            .get(0);
        problems.push(format!(
            "the connecting role cannot read {}; run: GRANT SELECT ON {} TO {};",
            no_select.join(", "),
            no_select.join(", "),
            quote_ident(&role)
        ));
    }
    if !problems.is_empty() {
        return Err(super::definite(source, problems.join("\n")));
    }
    Ok(tables)
}

/// The refusal of keyless tables (no primary key, no replica identity
/// index, no rule key) whose replica identity is not FULL: PostgreSQL then
/// sends no old row, so a delete or update cannot say which row it was.
/// `tables`: (quoted, qualified) names.
pub fn keyless_refusal(tables: &[(String, String)]) -> String {
    format!(
        "table(s) without a primary key need REPLICA IDENTITY FULL: {}. Without it PostgreSQL sends no old row for an \
         UPDATE or DELETE (and refuses them once the table is published), so the targets cannot tell which row changed; \
         run: {} Or add a primary key (ALTER TABLE … ADD PRIMARY KEY (…)), {}, or leave the table out of `tables`",
        tables.iter().map(|(q, _)| q.as_str()).collect::<Vec<_>>().join(", "),
        tables.iter().map(|(q, _)| format!("ALTER TABLE {q} REPLICA IDENTITY FULL;")).collect::<Vec<_>>().join(" "),
        row_keys::keyless_hint(&tables[0].1, false)
    )
}

/// Current columns of `table` (not dropped), in attribute order.
pub async fn columns(client: &Client, table: &Table, source: &str) -> SourceResult<Vec<CatalogColumn>> {
    let rows = client
        .query(
            "SELECT attname::text, atttypid, atttypmod, format_type(atttypid, atttypmod), attnotnull
               FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[&table.oid],
        )
        .await
        .map_err(|e| super::sql_error(source, &format!("reading the columns of {}", table.qualified()), &e))?;
    Ok(rows
        .iter()
        .map(|r| CatalogColumn {
            name: r.get(0),
            type_oid: r.get(1),
            type_modifier: r.get(2),
            type_text: r.get(3),
            not_null: r.get(4),
        })
        .collect())
}

/// The canonical schema record payload of a table; `logical`: each
/// column's logical type, in order (`LogicalResolver::columns`).
pub fn table_schema(table: &Table, cols: &[CatalogColumn], logical: Vec<LogicalType>, key: &[String]) -> TableSchema {
    TableSchema {
        table: Some(table.table_ref()),
        columns: cols
            .iter()
            .zip(logical)
            .map(|(c, l)| ColumnSchema {
                name: c.name.clone(),
                source_type: c.type_text.clone(),
                nullable: !c.not_null,
                logical: Some(l),
                type_dialect: POSTGRESQL.into(),
            })
            .collect(),
        key_columns: key.to_vec(),
        documents: false,
    }
}

/// Resolves type OIDs to [`PgType`]s: builtins without a query, the rest
/// (enums, domains, arrays of them, composites, extension types) from
/// `pg_type`, cached for the session.
#[derive(Default)]
pub struct TypeResolver {
    cache: HashMap<u32, PgType>,
    /// `format_type(oid, typmod)` results.
    names: HashMap<(u32, i32), String>,
    /// Logical column types, cached per type oid the same way.
    pub logical: super::logical::LogicalResolver,
}

impl TypeResolver {
    /// The type of `oid`.
    pub async fn resolve(&mut self, client: &Client, oid: u32, source: &str) -> SourceResult<PgType> {
        if let Some(t) = self.cache.get(&oid) {
            return Ok(t.clone());
        }
        if let Some(t) = builtin_oid(oid) {
            self.cache.insert(oid, t.clone());
            return Ok(t);
        }
        let t = Box::pin(self.lookup(client, oid, source)).await?;
        self.cache.insert(oid, t.clone());
        Ok(t)
    }

    async fn lookup(&mut self, client: &Client, oid: u32, source: &str) -> SourceResult<PgType> {
        let row = client
            .query_opt(
                "SELECT t.typtype::text, t.typbasetype, t.typelem, t.typcategory::text, t.typdelim::text,
                        n.nspname || '.' || t.typname
                   FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = $1",
                &[&oid],
            )
            .await
            .map_err(|e| super::sql_error(source, &format!("looking up type {oid}"), &e))?;
        let Some(row) = row else {
            return Ok(PgType::Other { name: format!("oid {oid}") });
        };
        let typtype: String = row.get(0);
        let base: u32 = row.get(1);
        let elem: u32 = row.get(2);
        let category: String = row.get(3);
        let delim: String = row.get(4);
        let name: String = row.get(5);
        Ok(match (typtype.as_str(), category.as_str()) {
            ("e", _) => PgType::Enum { name },
            ("d", _) => PgType::Domain { name, base: Box::new(self.resolve(client, base, source).await?) },
            (_, "A") if elem != 0 => PgType::Array {
                name,
                element: Box::new(self.resolve(client, elem, source).await?),
                delimiter: delim.bytes().next().unwrap_or(b','),
            },
            _ => PgType::Other { name },
        })
    }

    /// `format_type(oid, typmod)`, cached.
    pub async fn type_text(&mut self, client: &Client, oid: u32, typmod: i32, source: &str) -> SourceResult<String> {
        if let Some(n) = self.names.get(&(oid, typmod)) {
            return Ok(n.clone());
        }
        let row = client
            .query_one("SELECT format_type($1, $2)", &[&oid, &typmod])
            .await
            .map_err(|e| super::sql_error(source, &format!("formatting type {oid}"), &e))?;
        let n: String = row.get(0);
        self.names.insert((oid, typmod), n.clone());
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", "orders"));
        assert!(glob_match("ord*", "orders"));
        assert!(glob_match("o?ders", "orders"));
        assert!(glob_match("*s", "orders"));
        assert!(glob_match("*d*r*", "orders"));
        assert!(!glob_match("ord", "orders"));
        assert!(!glob_match("x*", "orders"));
        assert!(glob_match("", ""));
        assert!(!glob_match("?", ""));
        assert_eq!(split_selector("orders"), ("public", "orders"));
        assert_eq!(split_selector("shop.*"), ("shop", "*"));
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("x'y"), "'x''y'");
        assert_eq!(quote_literal(r"a\'b"), r"E'a\\''b'");
    }
}
