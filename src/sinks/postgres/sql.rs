//! SQL text of every statement the postgres target runs.
//!
//! Identifiers (schemas, tables, columns) are always double-quoted with
//! [`quote_ident`], whatever they contain, so names with quotes, spaces,
//! capitals, unicode or keywords work and a name can never end the
//! statement early. Values never appear in SQL text: they are array
//! parameters, either of the target column's own type in binary
//! (`$1::int8[]`, used as is; see `binary.rs`) or `text[]` cast on the
//! server to the target column type (and `text` for single rows). Type
//! names come either from the target catalog (`format_type`) or from the
//! whitelist in `schema.rs`, never verbatim from a record.
//!
//! In the row statements, `lf_u.cN` is the N-th parameter array unnested;
//! the statements differ only in what they do with those rows.

use std::fmt::Write as _;

/// `"name"` with every `"` doubled: a safe SQL identifier for any name.
pub fn quote_ident(name: &str) -> String {
    crate::sinks::sql::quote_with(name, '"')
}

/// `"schema"."table"`.
pub fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(table))
}

/// A column as a statement uses it: its name, the target type to cast to,
/// and how its parameter array is sent.
#[derive(Debug, Clone, Copy)]
pub struct Col<'a> {
    /// Column name (unquoted).
    pub name: &'a str,
    /// Target type as `format_type` prints it, e.g. `numeric(12,2)`.
    pub sql_type: &'a str,
    /// `Some(element type)`: the row statements' parameter is a binary
    /// array of that type, used without a cast (`$1::int8[]`); `None`: a
    /// `text[]` cast to `sql_type`. Single-row statements (`delete_one`,
    /// `move_key`) always take text.
    pub param: Option<&'static str>,
}

fn list<T>(items: impl IntoIterator<Item = T>, sep: &str, mut f: impl FnMut(&mut String, usize, T)) -> String {
    let mut out = String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        f(&mut out, i, item);
    }
    out
}

fn names(cols: &[Col<'_>]) -> String {
    list(cols, ", ", |o, _, c| o.push_str(&quote_ident(c.name)))
}

/// `unnest($1::text[], $2::int8[], …) AS lf_u(c0, …)`, parameters starting at `$first`.
fn unnest(cols: &[Col<'_>], first: usize) -> String {
    format!(
        "unnest({}) AS lf_u({})",
        list(cols, ", ", |o, i, c| {
            let _ = write!(o, "${}::{}[]", first + i, c.param.unwrap_or("text"));
        }),
        list(0..cols.len(), ", ", |o, _, i| {
            let _ = write!(o, "c{i}");
        })
    )
}

/// `lf_u.cN`, with `::type` when its parameter is text.
fn cast(o: &mut String, i: usize, c: &Col<'_>) {
    let _ = write!(o, "lf_u.c{i}");
    if c.param.is_none() {
        let _ = write!(o, "::{}", cast_type(c.sql_type));
    }
}

/// The type a text parameter is cast to for a column of `sql_type`: the
/// type itself, except that a length limit is left off (`character
/// varying(n)` → `character varying`, `character(n)` → `bpchar`, `bit(n)`
/// → `varbit`, `bit varying(n)` → `bit varying`, also as array elements).
/// An explicit cast to a limited type cuts a longer value silently
/// (`'abcdef'::varchar(3)` is `abc`); without the limit the value reaches
/// the column whole and storing it fails with `value too long` (22001), and
/// a key compared with stored keys is compared whole.
pub fn cast_type(sql_type: &str) -> std::borrow::Cow<'_, str> {
    let (base, dims) = match sql_type.find("[]") {
        Some(at) => sql_type.split_at(at),
        None => (sql_type, ""),
    };
    let Some(open) = base.find('(').filter(|_| base.ends_with(')')) else { return sql_type.into() };
    let unlimited = match &base[..open] {
        "character varying" => "character varying",
        "character" => "bpchar",
        "bit" => "varbit",
        "bit varying" => "bit varying",
        _ => return sql_type.into(),
    };
    format!("{unlimited}{dims}").into()
}

/// `lf_u.c0::type0, lf_u.c1, …`.
fn casts(cols: &[Col<'_>]) -> String {
    list(cols, ", ", |o, i, c| cast(o, i, c))
}

/// The fast path: upsert every row of the parameter arrays in one statement.
/// `cols` are the columns present in every row (keys included); `key` holds
/// indices into `cols`. Non-key columns are updated on conflict.
pub fn upsert(table: &str, cols: &[Col<'_>], key: &[usize]) -> String {
    let mut sql = format!(
        "INSERT INTO {table} ({}) SELECT {} FROM {} ON CONFLICT ({}) DO ",
        names(cols),
        casts(cols),
        unnest(cols, 1),
        list(key, ", ", |o, _, &k| o.push_str(&quote_ident(cols[k].name))),
    );
    let set: Vec<&Col<'_>> = cols.iter().enumerate().filter(|(i, _)| !key.contains(i)).map(|(_, c)| c).collect();
    if set.is_empty() {
        sql.push_str("NOTHING");
    } else {
        sql.push_str("UPDATE SET ");
        sql.push_str(&list(set, ", ", |o, _, c| {
            let q = quote_ident(c.name);
            let _ = write!(o, "{q} = EXCLUDED.{q}");
        }));
    }
    sql
}

/// `x."k1" = lf_src.c0 AND …` for the key columns.
fn key_match(alias: &str, src: &str, cols: &[Col<'_>], key: &[usize]) -> String {
    list(key, " AND ", |o, _, &k| {
        let _ = write!(o, "{alias}.{} = {src}.c{k}", quote_ident(cols[k].name));
    })
}

/// Upsert for rows where some columns are UNCHANGED (TOAST values not
/// sent): those columns are absent from `cols`, so existing rows keep them
/// (UPDATE of the present columns only) and missing rows are inserted
/// without them (they get the column default, NULL unless one is defined).
/// An `INSERT … ON CONFLICT` cannot be used here: PostgreSQL checks NOT NULL
/// before it looks for the conflict. Both parts see the snapshot from before
/// the statement, so each row is either updated or inserted, never both.
pub fn update_then_insert(table: &str, cols: &[Col<'_>], key: &[usize]) -> String {
    let src = format!(
        "lf_src AS (SELECT {} FROM {})",
        list(cols.iter().enumerate(), ", ", |o, i, (_, c)| {
            cast(o, i, c);
            let _ = write!(o, " AS c{i}");
        }),
        unnest(cols, 1)
    );
    let set: Vec<(usize, &Col<'_>)> = cols.iter().enumerate().filter(|(i, _)| !key.contains(i)).collect();
    let mut sql = format!("WITH {src}");
    if !set.is_empty() {
        let _ = write!(
            sql,
            ", lf_upd AS (UPDATE {table} AS lf_t SET {} FROM lf_src WHERE {})",
            list(set, ", ", |o, _, (i, c)| {
                let _ = write!(o, "{} = lf_src.c{i}", quote_ident(c.name));
            }),
            key_match("lf_t", "lf_src", cols, key)
        );
    }
    let _ = write!(
        sql,
        " INSERT INTO {table} ({}) SELECT {} FROM lf_src WHERE NOT EXISTS (SELECT 1 FROM {table} AS lf_x WHERE {})",
        names(cols),
        list(0..cols.len(), ", ", |o, _, i| {
            let _ = write!(o, "lf_src.c{i}");
        }),
        key_match("lf_x", "lf_src", cols, key)
    );
    sql
}

/// Appends every row of the parameter arrays (a table without a key:
/// duplicates are allowed, nothing conflicts).
pub fn insert(table: &str, cols: &[Col<'_>]) -> String {
    format!("INSERT INTO {table} ({}) SELECT {} FROM {}", names(cols), casts(cols), unnest(cols, 1))
}

/// Deletes exactly one row (of a table without a key) equal in `cols` to
/// the parameters (`text`, one per column), NULL equal to NULL. Values are
/// compared as their text after a cast to the column's type, so every type
/// compares — also those without an equality operator (json, point, xml) —
/// and exactly (`1.5` and `1.50` are different numerics). The row is
/// found first (`LIMIT 1`), then deleted by its physical address
/// (`tableoid`, `ctid`), so one row goes however many are equal.
pub fn delete_one(table: &str, cols: &[Col<'_>]) -> String {
    format!(
        "WITH lf_one AS (SELECT lf_x.tableoid AS lf_rel, lf_x.ctid AS lf_row FROM {table} AS lf_x WHERE {} LIMIT 1) \
         DELETE FROM {table} WHERE ctid = (SELECT lf_row FROM lf_one) AND tableoid = (SELECT lf_rel FROM lf_one)",
        list(cols.iter().enumerate(), " AND ", |o, i, (_, c)| {
            let _ = write!(o, "lf_x.{}::text IS NOT DISTINCT FROM ${}::text::{}::text", quote_ident(c.name), i + 1, cast_type(c.sql_type));
        })
    )
}

/// Deletes every row whose key is in the parameter arrays (one per key column).
pub fn delete_by_keys(table: &str, key: &[Col<'_>]) -> String {
    format!(
        "DELETE FROM {table} WHERE ({}) IN (SELECT {} FROM {})",
        names(key),
        casts(key),
        unnest(key, 1)
    )
}

/// First step of a key-changing update: moves the row from the old key to
/// the new one in place (so columns the change did not send keep their
/// stored values), unless a row with the new key already exists (a replay).
/// Parameters (`text`): the old key values, then the values of `set`
/// (the new key columns and the other present columns).
pub fn move_key(table: &str, key: &[Col<'_>], set: &[Col<'_>], new_key: &[usize]) -> String {
    let k = key.len();
    format!(
        "UPDATE {table} SET {} WHERE {} AND NOT EXISTS (SELECT 1 FROM {table} AS lf_x WHERE {})",
        list(set.iter().enumerate(), ", ", |o, i, (_, c)| {
            let _ = write!(o, "{} = ${}::text::{}", quote_ident(c.name), k + 1 + i, cast_type(c.sql_type));
        }),
        list(key.iter().enumerate(), " AND ", |o, i, (_, c)| {
            let _ = write!(o, "{} = ${}::text::{}", quote_ident(c.name), 1 + i, cast_type(c.sql_type));
        }),
        list(new_key, " AND ", |o, _, &i| {
            let c = &set[i];
            let _ = write!(o, "lf_x.{} = ${}::text::{}", quote_ident(c.name), k + 1 + i, cast_type(c.sql_type));
        }),
    )
}

pub use crate::sinks::schema_diff::ColumnDef;

/// `CREATE TABLE IF NOT EXISTS` with a primary key on `key` (none when empty).
pub fn create_table(table: &str, cols: &[ColumnDef], key: &[String]) -> String {
    let mut defs = list(cols, ", ", |o, _, c| {
        let _ = write!(o, "{} {}{}", quote_ident(&c.name), c.sql_type, if c.not_null { " NOT NULL" } else { "" });
    });
    if !key.is_empty() {
        let _ = write!(defs, ", PRIMARY KEY ({})", list(key, ", ", |o, _, k| o.push_str(&quote_ident(k))));
    }
    format!("CREATE TABLE IF NOT EXISTS {table} ({defs})")
}

/// `CREATE TYPE … AS ENUM (…)` with the labels as string literals
/// (quotes doubled; `standard_conforming_strings` is on).
pub fn create_enum(qualified: &str, labels: &[String]) -> String {
    format!("CREATE TYPE {qualified} AS ENUM ({})", list(labels, ", ", |o, _, l| {
        let _ = write!(o, "'{}'", l.replace('\'', "''"));
    }))
}

/// `CREATE SCHEMA IF NOT EXISTS`.
pub fn create_schema(schema: &str) -> String {
    format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(schema))
}

/// Adds a (nullable) column unless it exists.
pub fn add_column(table: &str, name: &str, sql_type: &str) -> String {
    format!("ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {} {sql_type}", quote_ident(name))
}

/// Drops a NOT NULL constraint (the source column became nullable).
pub fn drop_not_null(table: &str, name: &str) -> String {
    format!("ALTER TABLE {table} ALTER COLUMN {} DROP NOT NULL", quote_ident(name))
}

/// `TRUNCATE TABLE`.
pub fn truncate(table: &str) -> String {
    format!("TRUNCATE TABLE {table}")
}

/// Casts one parameter array to `sql_type` (used after a failed statement
/// to find which column held the value the server refused).
pub fn cast_probe(sql_type: &str) -> String {
    format!("SELECT lf_u.c0::{sql_type} FROM unnest($1::text[]) AS lf_u(c0)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_ident_quotes_everything() {
        assert_eq!(quote_ident("plain"), r#""plain""#);
        assert_eq!(quote_ident("select"), r#""select""#);
        assert_eq!(quote_ident(r#"a "b""#), r#""a ""b""""#);
        assert_eq!(quote_ident("ünï cödé"), "\"ünï cödé\"");
        assert_eq!(quote_ident(r#"x"; DROP TABLE y; --"#), r#""x""; DROP TABLE y; --""#);
        assert_eq!(quote_ident(""), r#""""#);
        assert_eq!(quote_ident(r#"""#), r#""""""#);
        assert_eq!(qualified("public", "Order Items"), r#""public"."Order Items""#);
    }

    fn cols() -> Vec<Col<'static>> {
        vec![
            Col { name: "id", sql_type: "bigint", param: None },
            Col { name: "region", sql_type: "text", param: None },
            Col { name: "price", sql_type: "numeric(12,2)", param: None },
            Col { name: "select", sql_type: "timestamp with time zone", param: None },
        ]
    }

    #[test]
    fn text_parameters_are_cast_without_a_length_limit() {
        for (t, want) in [
            ("character varying(3)", "character varying"),
            ("character(3)", "bpchar"),
            ("bit(8)", "varbit"),
            ("bit varying(8)", "bit varying"),
            ("character varying(3)[]", "character varying[]"),
            ("character(2)[][]", "bpchar[][]"),
            ("numeric(12,2)", "numeric(12,2)"),
            ("timestamp(3) with time zone", "timestamp(3) with time zone"),
            ("public.\"my(type)\"", "public.\"my(type)\""),
            ("text", "text"),
        ] {
            assert_eq!(cast_type(t), want, "{t}");
        }
        let c = [Col { name: "k", sql_type: "character varying(3)", param: None }];
        assert!(delete_by_keys("t", &c).contains("lf_u.c0::character varying FROM"));
        assert!(move_key("t", &c, &c, &[0]).contains("$1::text::character varying "));
        assert!(delete_one("t", &c).contains("$1::text::character varying::text"));
    }

    #[test]
    fn binary_parameters_are_used_without_a_cast() {
        let t = qualified("s", "t");
        let mut c = cols();
        c[0].param = Some("int8");
        c[2].param = Some("numeric");
        assert_eq!(
            upsert(&t, &c[..3], &[0]),
            r#"INSERT INTO "s"."t" ("id", "region", "price") SELECT lf_u.c0, lf_u.c1::text, lf_u.c2 FROM unnest($1::int8[], $2::text[], $3::numeric[]) AS lf_u(c0, c1, c2) ON CONFLICT ("id") DO UPDATE SET "region" = EXCLUDED."region", "price" = EXCLUDED."price""#
        );
        assert_eq!(
            update_then_insert(&t, &c[..2], &[0]),
            r#"WITH lf_src AS (SELECT lf_u.c0 AS c0, lf_u.c1::text AS c1 FROM unnest($1::int8[], $2::text[]) AS lf_u(c0, c1)), lf_upd AS (UPDATE "s"."t" AS lf_t SET "region" = lf_src.c1 FROM lf_src WHERE lf_t."id" = lf_src.c0) INSERT INTO "s"."t" ("id", "region") SELECT lf_src.c0, lf_src.c1 FROM lf_src WHERE NOT EXISTS (SELECT 1 FROM "s"."t" AS lf_x WHERE lf_x."id" = lf_src.c0)"#
        );
        assert_eq!(
            delete_by_keys(&t, &c[..1]),
            r#"DELETE FROM "s"."t" WHERE ("id") IN (SELECT lf_u.c0 FROM unnest($1::int8[]) AS lf_u(c0))"#
        );
        assert_eq!(insert(&t, &c[..1]), r#"INSERT INTO "s"."t" ("id") SELECT lf_u.c0 FROM unnest($1::int8[]) AS lf_u(c0)"#);
        // Single-row statements keep text.
        assert!(move_key(&t, &c[..1], &[c[0]], &[0]).contains("$1::text::bigint"));
        assert!(delete_one(&t, &c[..1]).contains("$1::text::bigint"));
    }

    #[test]
    fn upsert_sql() {
        let t = qualified("s", "t");
        assert_eq!(
            upsert(&t, &cols(), &[0, 1]),
            r#"INSERT INTO "s"."t" ("id", "region", "price", "select") SELECT lf_u.c0::bigint, lf_u.c1::text, lf_u.c2::numeric(12,2), lf_u.c3::timestamp with time zone FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS lf_u(c0, c1, c2, c3) ON CONFLICT ("id", "region") DO UPDATE SET "price" = EXCLUDED."price", "select" = EXCLUDED."select""#
        );
        assert_eq!(
            upsert(&t, &cols()[..1], &[0]),
            r#"INSERT INTO "s"."t" ("id") SELECT lf_u.c0::bigint FROM unnest($1::text[]) AS lf_u(c0) ON CONFLICT ("id") DO NOTHING"#
        );
    }

    #[test]
    fn update_then_insert_sql() {
        let t = qualified("s", "t");
        assert_eq!(
            update_then_insert(&t, &cols()[..3], &[0]),
            r#"WITH lf_src AS (SELECT lf_u.c0::bigint AS c0, lf_u.c1::text AS c1, lf_u.c2::numeric(12,2) AS c2 FROM unnest($1::text[], $2::text[], $3::text[]) AS lf_u(c0, c1, c2)), lf_upd AS (UPDATE "s"."t" AS lf_t SET "region" = lf_src.c1, "price" = lf_src.c2 FROM lf_src WHERE lf_t."id" = lf_src.c0) INSERT INTO "s"."t" ("id", "region", "price") SELECT lf_src.c0, lf_src.c1, lf_src.c2 FROM lf_src WHERE NOT EXISTS (SELECT 1 FROM "s"."t" AS lf_x WHERE lf_x."id" = lf_src.c0)"#
        );
        // Only the key present: nothing to update.
        assert_eq!(
            update_then_insert(&t, &cols()[..1], &[0]),
            r#"WITH lf_src AS (SELECT lf_u.c0::bigint AS c0 FROM unnest($1::text[]) AS lf_u(c0)) INSERT INTO "s"."t" ("id") SELECT lf_src.c0 FROM lf_src WHERE NOT EXISTS (SELECT 1 FROM "s"."t" AS lf_x WHERE lf_x."id" = lf_src.c0)"#
        );
    }

    #[test]
    fn keyless_sql() {
        let c = cols();
        assert_eq!(insert("\"s\".\"t\"", &c[..2]), r#"INSERT INTO "s"."t" ("id", "region") SELECT lf_u.c0::bigint, lf_u.c1::text FROM unnest($1::text[], $2::text[]) AS lf_u(c0, c1)"#);
        assert_eq!(
            delete_one("\"s\".\"t\"", &c[..2]),
            r#"WITH lf_one AS (SELECT lf_x.tableoid AS lf_rel, lf_x.ctid AS lf_row FROM "s"."t" AS lf_x WHERE lf_x."id"::text IS NOT DISTINCT FROM $1::text::bigint::text AND lf_x."region"::text IS NOT DISTINCT FROM $2::text::text::text LIMIT 1) DELETE FROM "s"."t" WHERE ctid = (SELECT lf_row FROM lf_one) AND tableoid = (SELECT lf_rel FROM lf_one)"#
        );
    }

    #[test]
    fn delete_sql() {
        let t = qualified("s", "t");
        assert_eq!(
            delete_by_keys(&t, &cols()[..2]),
            r#"DELETE FROM "s"."t" WHERE ("id", "region") IN (SELECT lf_u.c0::bigint, lf_u.c1::text FROM unnest($1::text[], $2::text[]) AS lf_u(c0, c1))"#
        );
    }

    #[test]
    fn move_key_sql() {
        let t = qualified("s", "t");
        let c = cols();
        assert_eq!(
            move_key(&t, &c[..1], &[c[0], c[2]], &[0]),
            r#"UPDATE "s"."t" SET "id" = $2::text::bigint, "price" = $3::text::numeric(12,2) WHERE "id" = $1::text::bigint AND NOT EXISTS (SELECT 1 FROM "s"."t" AS lf_x WHERE lf_x."id" = $2::text::bigint)"#
        );
    }

    #[test]
    fn ddl_sql() {
        let t = qualified("s", r#"we"ird"#);
        let defs = vec![
            ColumnDef { name: "id".into(), sql_type: "bigint".into(), not_null: true },
            ColumnDef { name: "a b".into(), sql_type: "text[]".into(), not_null: false },
        ];
        assert_eq!(
            create_table(&t, &defs, &["id".into()]),
            r#"CREATE TABLE IF NOT EXISTS "s"."we""ird" ("id" bigint NOT NULL, "a b" text[], PRIMARY KEY ("id"))"#
        );
        assert_eq!(create_table(&t, &defs[1..], &[]), r#"CREATE TABLE IF NOT EXISTS "s"."we""ird" ("a b" text[])"#);
        assert_eq!(add_column(&t, "n", "integer"), r#"ALTER TABLE "s"."we""ird" ADD COLUMN IF NOT EXISTS "n" integer"#);
        assert_eq!(drop_not_null(&t, "n"), r#"ALTER TABLE "s"."we""ird" ALTER COLUMN "n" DROP NOT NULL"#);
        assert_eq!(truncate(&t), r#"TRUNCATE TABLE "s"."we""ird""#);
        assert_eq!(create_schema("Sales"), r#"CREATE SCHEMA IF NOT EXISTS "Sales""#);
        assert_eq!(cast_probe("integer[]"), "SELECT lf_u.c0::integer[] FROM unnest($1::text[]) AS lf_u(c0)");
    }
}
