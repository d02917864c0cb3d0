//! Which tables a DDL statement of the binlog is about: a small tokenizer
//! for the statements the stream acts on (`ALTER`, `CREATE`, `TRUNCATE`
//! of one table; `DROP` and `RENAME` of a list of tables), comments and
//! backquotes included.

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Ddl {
    Alter,
    Create,
    Truncate,
    Drop,
    Rename,
}

/// A table as (database, name).
pub(super) type TableName = (String, String);

/// The tables a DDL statement is about: the verb and (database, table) of
/// each. `ALTER`, `CREATE` and `TRUNCATE` name one table; `DROP TABLE a,
/// b` names every table it drops; `RENAME TABLE a TO b, c TO d` names
/// both sides of every pair (a table renamed away and a table renamed
/// into a name). `None`: not a statement about tables (or a temporary one).
pub(super) fn ddl_target(default_db: &str, sql: &str) -> Option<(Ddl, Vec<TableName>)> {
    let mut words = Tokens { s: sql, i: 0 };
    let first = words.word()?.to_uppercase();
    let verb = match first.as_str() {
        "ALTER" => Ddl::Alter,
        "CREATE" => Ddl::Create,
        "TRUNCATE" => Ddl::Truncate,
        "DROP" => Ddl::Drop,
        "RENAME" => Ddl::Rename,
        _ => return None,
    };
    // Skip modifiers up to TABLE (CREATE OR REPLACE TEMPORARY TABLE, ALTER ONLINE IGNORE TABLE …).
    let mut saw_table = verb == Ddl::Truncate;
    for _ in 0..6 {
        let save = words.i;
        let w = words.word()?;
        if w.eq_ignore_ascii_case("TABLE")
            || (verb != Ddl::Alter && w.eq_ignore_ascii_case("TABLES"))
        {
            saw_table = true;
            break;
        }
        if verb == Ddl::Truncate {
            words.i = save;
            break;
        }
        if w.eq_ignore_ascii_case("TEMPORARY") {
            return None;
        }
    }
    if !saw_table {
        return None;
    }
    // IF [NOT] EXISTS
    let save = words.i;
    match words.word() {
        Some(w) if w.eq_ignore_ascii_case("IF") => {
            if words.word().is_some_and(|w| w.eq_ignore_ascii_case("NOT")) {
                words.word();
            }
        }
        _ => words.i = save,
    }
    let mut tables = vec![words.table(default_db)?];
    match verb {
        Ddl::Drop => {
            while words.comma() {
                tables.push(words.table(default_db)?);
            }
        }
        Ddl::Rename => loop {
            words.skip_wait();
            if !words.word().is_some_and(|w| w.eq_ignore_ascii_case("TO")) {
                return None;
            }
            tables.push(words.table(default_db)?);
            if !words.comma() {
                break;
            }
            tables.push(words.table(default_db)?);
        },
        _ => {}
    }
    Some((verb, tables))
}

struct Tokens<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Tokens<'a> {
    fn skip_ws(&mut self) {
        loop {
            let rest = &self.s[self.i..];
            let trimmed = rest.trim_start();
            self.i += rest.len() - trimmed.len();
            if trimmed.starts_with("/*") {
                match trimmed.find("*/") {
                    Some(e) => self.i += e + 2,
                    None => self.i = self.s.len(),
                }
            } else {
                return;
            }
        }
    }
    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.s[self.i..].chars().next()
    }
    fn word(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let rest: &'a str = &self.s[self.i..];
        let n = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$')).unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        self.i += n;
        Some(&rest[..n])
    }
    /// `name` or `db.name` (each bare or backquoted).
    fn table(&mut self, default_db: &str) -> Option<TableName> {
        let first = self.ident()?;
        if self.peek() == Some('.') {
            self.i += 1;
            return Some((first, self.ident()?));
        }
        Some((default_db.to_string(), first))
    }
    /// Takes a `,` if one comes next.
    fn comma(&mut self) -> bool {
        let here = self.peek() == Some(',');
        if here {
            self.i += 1;
        }
        here
    }
    /// MariaDB's `WAIT n` / `NOWAIT` after a table name.
    fn skip_wait(&mut self) {
        let save = self.i;
        match self.word() {
            Some(w) if w.eq_ignore_ascii_case("NOWAIT") => {}
            Some(w) if w.eq_ignore_ascii_case("WAIT") => {
                self.word();
            }
            _ => self.i = save,
        }
    }
    /// A bare or backquoted identifier.
    fn ident(&mut self) -> Option<String> {
        self.skip_ws();
        let rest = &self.s[self.i..];
        if let Some(body) = rest.strip_prefix('`') {
            let mut out = String::new();
            let mut chars = body.char_indices().peekable();
            while let Some((j, c)) = chars.next() {
                if c == '`' {
                    if chars.peek().map(|(_, c)| *c) == Some('`') {
                        chars.next();
                        out.push('`');
                    } else {
                        self.i += 1 + j + 1;
                        return Some(out);
                    }
                } else {
                    out.push(c);
                }
            }
            None
        } else {
            self.word().map(str::to_string)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(verb: Ddl, db: &str, name: &str) -> Option<(Ddl, Vec<TableName>)> {
        Some((verb, vec![(db.into(), name.into())]))
    }

    fn many(verb: Ddl, tables: &[(&str, &str)]) -> Option<(Ddl, Vec<TableName>)> {
        Some((
            verb,
            tables
                .iter()
                .map(|(d, n)| (d.to_string(), n.to_string()))
                .collect(),
        ))
    }

    #[test]
    fn ddl_targets() {
        let t = |s| ddl_target("shop", s);
        assert_eq!(t("ALTER TABLE orders ADD COLUMN x int"), one(Ddl::Alter, "shop", "orders"));
        assert_eq!(t("alter table `crm`.`a``b` add c int"), one(Ddl::Alter, "crm", "a`b"));
        assert_eq!(t("CREATE TABLE IF NOT EXISTS t (id int)"), one(Ddl::Create, "shop", "t"));
        assert_eq!(t("CREATE OR REPLACE TABLE t (id int)"), one(Ddl::Create, "shop", "t"));
        assert_eq!(t("TRUNCATE TABLE x"), one(Ddl::Truncate, "shop", "x"));
        assert_eq!(t("truncate x"), one(Ddl::Truncate, "shop", "x"));
        assert_eq!(t("DROP TABLE IF EXISTS `o` /* generated by server */"), one(Ddl::Drop, "shop", "o"));
        assert_eq!(t("RENAME TABLE a TO b"), many(Ddl::Rename, &[("shop", "a"), ("shop", "b")]));
        assert_eq!(t("CREATE TEMPORARY TABLE t (i int)"), None);
        assert_eq!(t("DROP TEMPORARY TABLE IF EXISTS t1, t2"), None);
        assert_eq!(t("INSERT INTO t VALUES (1)"), None);
        assert_eq!(t("CREATE INDEX i ON t (a)"), None);
    }

    #[test]
    fn drop_names_every_listed_table() {
        let t = |s| ddl_target("shop", s);
        assert_eq!(
            t("DROP TABLE a, b"),
            many(Ddl::Drop, &[("shop", "a"), ("shop", "b")])
        );
        // As the server writes it to the binlog.
        assert_eq!(
            t("DROP TABLE IF EXISTS `a`,`crm`.`b``x` /* generated by server */"),
            many(Ddl::Drop, &[("shop", "a"), ("crm", "b`x")])
        );
        assert_eq!(
            t("drop /* c1 */ table if exists crm . a /* c2 */ , /* c3 */ `b` , shop.`c d` CASCADE"),
            many(Ddl::Drop, &[("crm", "a"), ("shop", "b"), ("shop", "c d")])
        );
        assert_eq!(
            t("DROP TABLES x, y"),
            many(Ddl::Drop, &[("shop", "x"), ("shop", "y")])
        );
    }

    #[test]
    fn rename_names_both_sides_of_every_pair() {
        let t = |s| ddl_target("shop", s);
        assert_eq!(
            t("RENAME TABLE a TO b, c TO d"),
            many(
                Ddl::Rename,
                &[("shop", "a"), ("shop", "b"), ("shop", "c"), ("shop", "d")]
            )
        );
        assert_eq!(
            t("rename /* swap */ table `crm`.`a,b` to crm.old_a, `new` TO `crm`.`a,b`"),
            many(
                Ddl::Rename,
                &[
                    ("crm", "a,b"),
                    ("crm", "old_a"),
                    ("shop", "new"),
                    ("crm", "a,b")
                ]
            )
        );
        assert_eq!(
            t("RENAME TABLE IF EXISTS a WAIT 5 TO b, c NOWAIT TO x.d"),
            many(
                Ddl::Rename,
                &[("shop", "a"), ("shop", "b"), ("shop", "c"), ("x", "d")]
            )
        );
        assert_eq!(
            t("RENAME TABLE a b"),
            None,
            "not a rename this parser understands"
        );
        assert_eq!(t("RENAME USER a TO b"), None);
    }
}
