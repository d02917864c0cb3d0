//! SQL text for the mysql target: quoting, literals and statements.
//!
//! Identifiers are always backquoted with embedded backquotes doubled, so
//! any name (spaces, quotes, unicode, keywords, `` `; DROP TABLE x; -- ``)
//! is one identifier. Values are SQL literals written by [`push_literal`]:
//! strings in single quotes with MySQL's backslash escapes (the session's
//! `sql_mode` never contains `NO_BACKSLASH_ESCAPES`), bytes as `X'…'` hex,
//! numbers as digits. The text protocol is used (see the module docs of
//! `mod.rs` for why), so statements are built here in full.

use super::value::Cell;
use std::fmt::Write as _;

/// `` `name` `` with backquotes doubled.
pub fn quote_ident(name: &str) -> String {
    crate::sinks::sql::quote_with(name, '`')
}

/// `` `database`.`table` ``.
pub fn qualified(database: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(database), quote_ident(table))
}

/// A single-quoted string literal with MySQL's escapes.
pub fn push_str_literal(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('\'');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            0 => "\\0",
            b'\'' => "\\'",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            0x1a => "\\Z",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        out.push_str(esc);
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('\'');
}

/// Appends the literal of `cell`.
pub fn push_literal(out: &mut String, cell: &Cell) {
    match cell {
        Cell::Null => out.push_str("NULL"),
        Cell::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Cell::UInt(u) => {
            let _ = write!(out, "{u}");
        }
        Cell::Text(s) => push_str_literal(out, s),
        Cell::Bytes(b) => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.reserve(b.len() * 2 + 3);
            out.push_str("X'");
            for x in b.iter() {
                out.push(HEX[usize::from(x >> 4)] as char);
                out.push(HEX[usize::from(x & 15)] as char);
            }
            out.push('\'');
        }
    }
}

fn names(cols: &[&str]) -> String {
    let mut s = String::new();
    for (i, c) in cols.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&quote_ident(c));
    }
    s
}

/// `(v1, v2, …)`.
pub fn push_tuple<'c>(out: &mut String, cells: impl IntoIterator<Item = &'c Cell>) {
    out.push('(');
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_literal(out, c);
    }
    out.push(')');
}

/// The parts of a multi-row upsert, `prefix (…), (…) suffix`:
/// `INSERT INTO t (c…) VALUES` … `ON DUPLICATE KEY UPDATE c = VALUES(c), …`
/// for the non-key columns (`k = k` when there are none, so an existing row
/// is left alone). With `alias` (MySQL 8.0.19+, where `VALUES(c)` is
/// deprecated) the rows are named `lf_new` and the update reads
/// `c = lf_new.c`.
pub fn upsert_parts(table: &str, cols: &[&str], key_pos: &[usize], alias: bool) -> (String, String) {
    let prefix = format!("INSERT INTO {table} ({}) VALUES ", names(cols));
    let mut suffix = String::from(if alias { " AS lf_new ON DUPLICATE KEY UPDATE " } else { " ON DUPLICATE KEY UPDATE " });
    let mut first = true;
    for (i, c) in cols.iter().enumerate() {
        if key_pos.contains(&i) {
            continue;
        }
        if !first {
            suffix.push_str(", ");
        }
        first = false;
        let q = quote_ident(c);
        if alias {
            let _ = write!(suffix, "{q} = lf_new.{q}");
        } else {
            let _ = write!(suffix, "{q} = VALUES({q})");
        }
    }
    if first {
        let q = quote_ident(cols[key_pos[0]]);
        let _ = write!(suffix, "{q} = {q}");
    }
    (prefix, suffix)
}

/// The parts of a delete by keys: `DELETE FROM t WHERE k IN (` … `)` with
/// one literal per key, or `WHERE (k1, k2) IN (` … `)` with tuples.
pub fn delete_parts(table: &str, key: &[&str]) -> (String, String) {
    let target = if key.len() == 1 { quote_ident(key[0]) } else { format!("({})", names(key)) };
    (format!("DELETE FROM {table} WHERE {target} IN ("), ")".into())
}

/// Appends one key to a delete: a literal, or a tuple for composite keys.
pub fn push_key(out: &mut String, cells: &[&Cell]) {
    if cells.len() == 1 {
        push_literal(out, cells[0]);
    } else {
        push_tuple(out, cells.iter().copied());
    }
}

fn push_assignments(out: &mut String, pairs: &[(&str, &Cell)], sep: &str) {
    for (i, (name, cell)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(&quote_ident(name));
        out.push_str(" = ");
        push_literal(out, cell);
    }
}

/// `UPDATE t SET c = v, … WHERE k = v AND …` for one row.
pub fn update_row(table: &str, set: &[(&str, &Cell)], key: &[(&str, &Cell)]) -> String {
    let mut s = format!("UPDATE {table} SET ");
    push_assignments(&mut s, set, ", ");
    s.push_str(" WHERE ");
    push_assignments(&mut s, key, " AND ");
    s
}

/// First step of a key-changing update: moves the row from the old key to
/// the new one in place (so columns the change did not send keep their
/// stored values), unless a row with the new key already exists (a replay).
/// The derived table (`LIMIT 1` keeps it materialised) is what lets MySQL
/// read the table it updates.
pub fn move_key(table: &str, set: &[(&str, &Cell)], old_key: &[(&str, &Cell)], new_key: &[(&str, &Cell)]) -> String {
    let mut s = format!("UPDATE {table} SET ");
    push_assignments(&mut s, set, ", ");
    s.push_str(" WHERE ");
    push_assignments(&mut s, old_key, " AND ");
    s.push_str(" AND NOT EXISTS (SELECT 1 FROM (SELECT 1 FROM ");
    s.push_str(table);
    s.push_str(" WHERE ");
    push_assignments(&mut s, new_key, " AND ");
    s.push_str(" LIMIT 1) AS lf_x)");
    s
}

pub use crate::sinks::schema_diff::ColumnDef;

fn column_def(c: &ColumnDef) -> String {
    // Explicit NULL: without it an old server (explicit_defaults_for_timestamp
    // off) makes a TIMESTAMP column NOT NULL with an automatic default.
    format!("{} {}{}", quote_ident(&c.name), c.sql_type, if c.not_null { " NOT NULL" } else { " NULL" })
}

/// `CREATE TABLE IF NOT EXISTS` with a primary key on `key` (none when
/// empty), InnoDB, utf8mb4 with the binary collation `collation`.
pub fn create_table(table: &str, cols: &[ColumnDef], key: &[String], collation: &str) -> String {
    let mut defs: Vec<String> = cols.iter().map(column_def).collect();
    if !key.is_empty() {
        defs.push(format!("PRIMARY KEY ({})", key.iter().map(|k| quote_ident(k)).collect::<Vec<_>>().join(", ")));
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {table} ({}) ENGINE = InnoDB DEFAULT CHARACTER SET utf8mb4 COLLATE {collation}",
        defs.join(", ")
    )
}

/// The prefix of a multi-row plain insert (a table without a key:
/// duplicates are allowed): `INSERT INTO t (c…) VALUES `.
pub fn insert_prefix(table: &str, cols: &[&str]) -> String {
    format!("INSERT INTO {table} ({}) VALUES ", names(cols))
}

/// Deletes exactly one row (of a table without a key) equal in every
/// given column, NULL-safely (`<=>`); `json` marks a native JSON column,
/// compared as JSON (`CAST(… AS JSON)`), not as a string.
pub fn delete_one(table: &str, cols: &[(&str, &Cell, bool)]) -> String {
    let mut s = format!("DELETE FROM {table} WHERE ");
    for (i, (name, cell, json)) in cols.iter().enumerate() {
        if i > 0 {
            s.push_str(" AND ");
        }
        s.push_str(&quote_ident(name));
        s.push_str(" <=> ");
        if *json && **cell != Cell::Null {
            s.push_str("CAST(");
            push_literal(&mut s, cell);
            s.push_str(" AS JSON)");
        } else {
            push_literal(&mut s, cell);
        }
    }
    s.push_str(" LIMIT 1");
    s
}

/// `CREATE DATABASE IF NOT EXISTS` with utf8mb4 and `collation`.
pub fn create_database(database: &str, collation: &str) -> String {
    format!("CREATE DATABASE IF NOT EXISTS {} DEFAULT CHARACTER SET utf8mb4 COLLATE {collation}", quote_ident(database))
}

/// Adds a (nullable) column. No `IF NOT EXISTS` (MySQL lacks it): the
/// caller checked the catalog.
pub fn add_column(table: &str, name: &str, sql_type: &str) -> String {
    format!("ALTER TABLE {table} ADD COLUMN {} {sql_type} NULL", quote_ident(name))
}

/// Makes a column nullable (the source column became nullable).
pub fn make_nullable(table: &str, name: &str, column_type: &str) -> String {
    format!("ALTER TABLE {table} MODIFY COLUMN {} {column_type} NULL", quote_ident(name))
}

/// `TRUNCATE TABLE` (commits implicitly; only for a truncate alone in its batch).
pub fn truncate(table: &str) -> String {
    format!("TRUNCATE TABLE {table}")
}

/// `DELETE FROM t` (a transactional truncate, for batches with other records).
pub fn delete_all(table: &str) -> String {
    format!("DELETE FROM {table}")
}

/// A string literal for catalog queries.
pub fn string_literal(s: &str) -> String {
    let mut out = String::new();
    push_str_literal(&mut out, s);
    out
}

/// Splits rows into statements `prefix row, row, … suffix` of at most
/// `budget` bytes each.
pub struct Chunks {
    prefix: String,
    suffix: String,
    budget: usize,
    cur: String,
    rows: usize,
    done: Vec<(String, usize)>,
}

impl Chunks {
    /// Statements made of `prefix`, rows separated by `, `, and `suffix`.
    pub fn new(prefix: String, suffix: String, budget: usize) -> Self {
        Chunks { cur: prefix.clone(), prefix, suffix, budget, rows: 0, done: Vec::new() }
    }

    /// Adds a row written by `write`; `Err(size)` when the row alone is
    /// larger than the budget.
    pub fn push(&mut self, write: impl FnOnce(&mut String)) -> Result<(), usize> {
        let mark = self.cur.len();
        if self.rows > 0 {
            self.cur.push_str(", ");
        }
        write(&mut self.cur);
        if self.cur.len() + self.suffix.len() <= self.budget {
            self.rows += 1;
            return Ok(());
        }
        let row_start = if self.rows > 0 { mark + 2 } else { mark };
        let row = self.cur[row_start..].to_string();
        if self.prefix.len() + row.len() + self.suffix.len() > self.budget {
            self.cur.truncate(mark);
            return Err(row.len());
        }
        if self.rows > 0 {
            self.cur.truncate(mark);
            self.cur.push_str(&self.suffix);
            let full = std::mem::replace(&mut self.cur, self.prefix.clone());
            self.done.push((full, self.rows));
            self.cur.push_str(&row);
        }
        self.rows = 1;
        Ok(())
    }

    /// The statements with their row counts (none when no row was added).
    pub fn finish(mut self) -> Vec<(String, usize)> {
        if self.rows > 0 {
            self.cur.push_str(&self.suffix);
            self.done.push((self.cur, self.rows));
        }
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyless_statements_delete_one_row_null_safely() {
        let (text, null, json) = (Cell::Text("it's".into()), Cell::Null, Cell::Text("{\"a\": 1}".into()));
        assert_eq!(
            delete_one("`d`.`t`", &[("a", &text, false), ("b", &null, false), ("j", &json, true), ("k", &null, true)]),
            "DELETE FROM `d`.`t` WHERE `a` <=> 'it\\'s' AND `b` <=> NULL AND `j` <=> CAST('{\"a\": 1}' AS JSON) AND `k` <=> NULL LIMIT 1"
        );
        assert_eq!(insert_prefix("`d`.`t`", &["a", "b"]), "INSERT INTO `d`.`t` (`a`, `b`) VALUES ");
    }

    #[test]
    fn quote_ident_quotes_everything() {
        assert_eq!(quote_ident("plain"), "`plain`");
        assert_eq!(quote_ident("select"), "`select`");
        assert_eq!(quote_ident("a `b`"), "`a ``b```");
        assert_eq!(quote_ident("ünï cödé"), "`ünï cödé`");
        assert_eq!(quote_ident("x`; DROP TABLE y; --"), "`x``; DROP TABLE y; --`");
        assert_eq!(quote_ident("it's \"q\""), "`it's \"q\"`");
        assert_eq!(qualified("db", "Order Items"), "`db`.`Order Items`");
    }

    #[test]
    fn literals() {
        let lit = |c: Cell| {
            let mut s = String::new();
            push_literal(&mut s, &c);
            s
        };
        assert_eq!(lit(Cell::Null), "NULL");
        assert_eq!(lit(Cell::Int(-5)), "-5");
        assert_eq!(lit(Cell::UInt(u64::MAX)), "18446744073709551615");
        assert_eq!(lit(Cell::Text("plain ünï 😀".into())), "'plain ünï 😀'");
        assert_eq!(lit(Cell::Text("a'b\\c\0d\ne\rf\x1ag\"h".into())), r#"'a\'b\\c\0d\ne\rf\Zg"h'"#);
        assert_eq!(lit(Cell::Text("'); DROP TABLE t; --".into())), r#"'\'); DROP TABLE t; --'"#);
        assert_eq!(lit(Cell::Bytes(vec![0, 0xff, 0x1a].into())), "X'00ff1a'");
        assert_eq!(lit(Cell::Bytes(Vec::new().into())), "X''");
    }

    #[test]
    fn upserts_and_deletes() {
        let t = qualified("d", "t");
        let (p, s) = upsert_parts(&t, &["id", "v", "select"], &[0], false);
        assert_eq!(p, "INSERT INTO `d`.`t` (`id`, `v`, `select`) VALUES ");
        assert_eq!(s, " ON DUPLICATE KEY UPDATE `v` = VALUES(`v`), `select` = VALUES(`select`)");
        let (_, s) = upsert_parts(&t, &["id", "v"], &[0], true);
        assert_eq!(s, " AS lf_new ON DUPLICATE KEY UPDATE `v` = lf_new.`v`");
        let (_, s) = upsert_parts(&t, &["a", "b"], &[0, 1], false);
        assert_eq!(s, " ON DUPLICATE KEY UPDATE `a` = `a`");
        let (p, s) = delete_parts(&t, &["id"]);
        assert_eq!((p.as_str(), s.as_str()), ("DELETE FROM `d`.`t` WHERE `id` IN (", ")"));
        let (p, _) = delete_parts(&t, &["a", "b"]);
        assert_eq!(p, "DELETE FROM `d`.`t` WHERE (`a`, `b`) IN (");
        let mut k = String::new();
        push_key(&mut k, &[&Cell::Int(1), &Cell::Text("x".into())]);
        assert_eq!(k, "(1, 'x')");
        let one = Cell::Int(1);
        let two = Cell::Int(2);
        let v = Cell::Text("v".into());
        assert_eq!(update_row(&t, &[("v", &v)], &[("id", &one)]), "UPDATE `d`.`t` SET `v` = 'v' WHERE `id` = 1");
        assert_eq!(
            move_key(&t, &[("id", &two), ("v", &v)], &[("id", &one)], &[("id", &two)]),
            "UPDATE `d`.`t` SET `id` = 2, `v` = 'v' WHERE `id` = 1 AND NOT EXISTS (SELECT 1 FROM (SELECT 1 FROM `d`.`t` WHERE `id` = 2 LIMIT 1) AS lf_x)"
        );
    }

    #[test]
    fn ddl() {
        let t = qualified("d", "we`ird");
        let defs = vec![
            ColumnDef { name: "id".into(), sql_type: "bigint".into(), not_null: true },
            ColumnDef { name: "a b".into(), sql_type: "longtext".into(), not_null: false },
        ];
        assert_eq!(
            create_table(&t, &defs, &["id".into()], "utf8mb4_nopad_bin"),
            "CREATE TABLE IF NOT EXISTS `d`.`we``ird` (`id` bigint NOT NULL, `a b` longtext NULL, PRIMARY KEY (`id`)) ENGINE = InnoDB DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"
        );
        assert_eq!(add_column(&t, "n", "int"), "ALTER TABLE `d`.`we``ird` ADD COLUMN `n` int NULL");
        assert_eq!(make_nullable(&t, "n", "int"), "ALTER TABLE `d`.`we``ird` MODIFY COLUMN `n` int NULL");
        assert_eq!(truncate(&t), "TRUNCATE TABLE `d`.`we``ird`");
        assert_eq!(delete_all(&t), "DELETE FROM `d`.`we``ird`");
        assert_eq!(create_database("x`y", "utf8mb4_bin"), "CREATE DATABASE IF NOT EXISTS `x``y` DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
    }

    #[test]
    fn chunks_stay_under_the_budget() {
        let mut c = Chunks::new("P ".into(), " S".into(), 12);
        for r in ["aa", "bb", "cc", "dd"] {
            c.push(|o| o.push_str(r)).unwrap();
        }
        let out = c.finish();
        assert_eq!(out, vec![("P aa, bb S".to_string(), 2), ("P cc, dd S".to_string(), 2)]);
        assert!(out.iter().all(|(s, _)| s.len() <= 12));
        let mut c = Chunks::new("P ".into(), " S".into(), 12);
        assert_eq!(c.push(|o| o.push_str("0123456789")), Err(10));
        c.push(|o| o.push_str("ok")).unwrap();
        assert_eq!(c.finish(), vec![("P ok S".to_string(), 1)]);
        assert!(Chunks::new("P".into(), "S".into(), 10).finish().is_empty());
    }
}
