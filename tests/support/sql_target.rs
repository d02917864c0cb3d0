//! One adapter over the two SQL targets (PostgreSQL, MariaDB) for the tests
//! that hold for both: open a fresh database, build the target on it, run
//! SQL, read a table back as rows of text and a column's type as the
//! target's catalog prints it, and describe every table it holds.

use crate::support::{mariadb, pg};
use logferry::sinks::mysql::{MysqlSink, MysqlSinkConfig};
use logferry::sinks::postgres::{PostgresSink, PostgresSinkConfig};
use logferry::sinks::{Sink, SinkError};
use std::fmt;

/// Which SQL target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Mysql,
}

impl Dialect {
    pub const ALL: [Dialect; 2] = [Dialect::Postgres, Dialect::Mysql];

    /// Short name for database names and messages.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "pg",
            Dialect::Mysql => "my",
        }
    }
}

/// A fresh database of one's own on the dialect's test server.
pub enum TargetDb {
    Postgres(pg::TestDb),
    Mysql(mariadb::TestDb),
}

impl TargetDb {
    /// Creates `lf_<prefix>_<pid>_<n>` on the dialect's server.
    pub async fn fresh(dialect: Dialect, prefix: &str) -> TargetDb {
        match dialect {
            Dialect::Postgres => TargetDb::Postgres(pg::fresh_db(prefix).await),
            Dialect::Mysql => TargetDb::Mysql(mariadb::fresh_db(prefix).await),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            TargetDb::Postgres(_) => Dialect::Postgres,
            TargetDb::Mysql(_) => Dialect::Mysql,
        }
    }

    /// The database's name on its server.
    pub fn name(&self) -> &str {
        match self {
            TargetDb::Postgres(db) => &db.name,
            TargetDb::Mysql(db) => &db.name,
        }
    }

    /// The URL the target connects with.
    pub fn url(&self) -> &str {
        match self {
            TargetDb::Postgres(db) => &db.url,
            TargetDb::Mysql(db) => &db.url,
        }
    }

    /// The target on this database (no schema/database override).
    pub async fn sink(&self, lanes: usize) -> Box<dyn Sink> {
        self.sink_with(lanes, true).await
    }

    /// The target with `create_tables` as given.
    pub async fn sink_with(&self, lanes: usize, create_tables: bool) -> Box<dyn Sink> {
        self.try_sink(self.url().to_string(), lanes, create_tables).await.unwrap_or_else(|e| panic!("connect the {:?} target: {e}", self.dialect()))
    }

    /// Connects a target to `url` (this database's URL, perhaps altered).
    pub async fn try_sink(&self, url: String, lanes: usize, create_tables: bool) -> Result<Box<dyn Sink>, SinkError> {
        Ok(match self {
            TargetDb::Postgres(_) => Box::new(PostgresSink::connect(PostgresSinkConfig { url, namespace: None, create_tables, lanes }).await?),
            TargetDb::Mysql(_) => Box::new(MysqlSink::connect(MysqlSinkConfig { url, namespace: None, create_tables, lanes }).await?),
        })
    }

    /// Where the target puts table `schema.name` of a record, quoted for
    /// SQL: `"schema"."name"` on PostgreSQL, `` `name` `` (in this
    /// database) on MariaDB.
    pub fn table(&self, schema: &str, name: &str) -> String {
        match self {
            TargetDb::Postgres(_) => format!("\"{}\".\"{}\"", schema.replace('"', "\"\""), name.replace('"', "\"\"")),
            TargetDb::Mysql(_) => format!("`{}`", name.replace('`', "``")),
        }
    }

    /// An identifier quoted as the target quotes it in SQL and in its
    /// error messages: `"n"` on PostgreSQL, `` `n` `` on MariaDB.
    pub fn ident(&self, name: &str) -> String {
        match self {
            TargetDb::Postgres(_) => format!("\"{}\"", name.replace('"', "\"\"")),
            TargetDb::Mysql(_) => format!("`{}`", name.replace('`', "``")),
        }
    }

    /// How the target's error messages name its table for `schema.name`:
    /// `"schema"."name"` on PostgreSQL, `` `database`.`name` `` on MariaDB.
    pub fn shown(&self, schema: &str, name: &str) -> String {
        match self {
            TargetDb::Postgres(_) => self.table(schema, name),
            TargetDb::Mysql(db) => format!("`{}`.{}", db.name, self.table(schema, name)),
        }
    }

    /// Runs statements (several separated by `;`).
    pub async fn exec(&self, sql: &str) {
        match self {
            TargetDb::Postgres(db) => db.client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")),
            TargetDb::Mysql(db) => db.exec(sql).await,
        }
    }

    /// Rows of a query as text columns joined by `|` (NULL as `∅`); bytes
    /// that are not UTF-8 are shown lossily.
    pub async fn rows(&self, sql: &str) -> Vec<String> {
        self.cells(sql)
            .await
            .into_iter()
            .map(|r| r.into_iter().map(|c| c.unwrap_or_else(|| "∅".into())).collect::<Vec<_>>().join("|"))
            .collect()
    }

    /// Rows of a query, each column as its text (NULL as None). On MariaDB
    /// bytes that are not UTF-8 are shown lossily.
    pub async fn cells(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self {
            TargetDb::Postgres(db) => super::pg::cells(db, sql).await,
            TargetDb::Mysql(db) => db.rows(sql).await,
        }
    }

    /// The type of `column` of the target's table for `schema.name`, as the
    /// catalog prints it (`format_type` on PostgreSQL, `COLUMN_TYPE` on MariaDB).
    pub async fn column_type(&self, schema: &str, name: &str, column: &str) -> String {
        let all = self.columns(schema, name).await;
        all.into_iter()
            .find(|c| c.name == column)
            .unwrap_or_else(|| panic!("{} has no column {column}", self.table(schema, name)))
            .sql_type
    }

    /// The columns of the target's table for `schema.name`, in order.
    pub async fn columns(&self, schema: &str, name: &str) -> Vec<ColumnDescription> {
        let sql = match self {
            TargetDb::Postgres(_) => format!(
                "SELECT attname, format_type(atttypid, atttypmod), CASE WHEN attnotnull THEN 'NO' ELSE 'YES' END \
                 FROM pg_attribute WHERE attrelid = '{}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                self.table(schema, name).replace('\'', "''")
            ),
            TargetDb::Mysql(db) => format!(
                "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = '{}' ORDER BY ORDINAL_POSITION",
                db.name,
                name.replace('\'', "''")
            ),
        };
        self.cells(&sql)
            .await
            .into_iter()
            .map(|r| {
                let text = |i: usize| r[i].clone().unwrap_or_default();
                ColumnDescription { name: text(0), sql_type: text(1), nullable: text(2) == "YES" }
            })
            .collect()
    }

    /// Everything the target made: each table with its columns, primary key
    /// and rows (as text, sorted), tables sorted by name.
    pub async fn describe(&self) -> Vec<TableDescription> {
        let tables: Vec<(String, String)> = match self {
            TargetDb::Postgres(_) => self
                .cells(
                    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                     AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2",
                )
                .await
                .into_iter()
                .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
                .collect(),
            TargetDb::Mysql(db) => self
                .cells(&format!("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}' ORDER BY 2", db.name))
                .await
                .into_iter()
                .map(|r| (String::new(), r[1].clone().unwrap()))
                .collect(),
        };
        let mut out = Vec::new();
        for (schema, name) in tables {
            let columns = self.columns(&schema, &name).await;
            let key = self.primary_key(&schema, &name).await;
            let select = columns.iter().map(|c| self.text_of(&c.name, &c.sql_type)).collect::<Vec<_>>().join(", ");
            let mut rows: Vec<Vec<String>> = self
                .cells(&format!("SELECT {select} FROM {}", self.table(&schema, &name)))
                .await
                .into_iter()
                .map(|r| r.into_iter().map(|c| c.unwrap_or_else(|| "∅".into())).collect())
                .collect();
            rows.sort();
            out.push(TableDescription { schema, name, columns, key, rows });
        }
        out
    }

    /// A select expression that gives column `name` as text; binary
    /// columns as hex, so no byte is lost in the comparison.
    fn text_of(&self, name: &str, sql_type: &str) -> String {
        match self {
            TargetDb::Postgres(_) => format!("\"{}\"::text", name.replace('"', "\"\"")),
            TargetDb::Mysql(_) => {
                let col = format!("`{}`", name.replace('`', "``"));
                let binary = ["blob", "binary", "varbinary", "bit", "point", "geometry", "linestring", "polygon"]
                    .iter()
                    .any(|b| sql_type.starts_with(b) || sql_type.ends_with("blob"));
                if binary {
                    format!("CONCAT('0x', HEX({col}))")
                } else {
                    col
                }
            }
        }
    }

    /// The primary key's columns of the target's table, in key order.
    pub async fn primary_key(&self, schema: &str, name: &str) -> Vec<String> {
        let sql = match self {
            TargetDb::Postgres(_) => format!(
                "SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                 WHERE i.indrelid = '{}'::regclass AND i.indisprimary ORDER BY k.n",
                self.table(schema, name).replace('\'', "''")
            ),
            TargetDb::Mysql(db) => format!(
                "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = '{}' \
                 AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
                db.name,
                name.replace('\'', "''")
            ),
        };
        self.cells(&sql).await.into_iter().map(|r| r[0].clone().unwrap_or_default()).collect()
    }
}

/// A column as the target's catalog shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDescription {
    pub name: String,
    pub sql_type: String,
    pub nullable: bool,
}

/// A table as the target holds it (schema empty on MariaDB, where every
/// table is in the target's database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDescription {
    pub schema: String,
    pub name: String,
    pub columns: Vec<ColumnDescription>,
    pub key: Vec<String>,
    /// Every row, each column as text (`∅` for NULL), sorted.
    pub rows: Vec<Vec<String>>,
}

impl fmt::Display for TableDescription {
    /// One line per fact, so two descriptions diff line by line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = if self.schema.is_empty() { self.name.clone() } else { format!("{}.{}", self.schema, self.name) };
        writeln!(f, "table {table}")?;
        for c in &self.columns {
            writeln!(f, "  column {} {}{}", c.name, c.sql_type, if c.nullable { "" } else { " NOT NULL" })?;
        }
        writeln!(f, "  primary key ({})", self.key.join(", "))?;
        for r in &self.rows {
            writeln!(f, "  row {}", r.join(" | "))?;
        }
        Ok(())
    }
}

/// The lines of `a` and `b` that differ, each side marked (`-` only in
/// `a`, `+` only in `b`, in order), or None when they are equal.
pub fn line_diff(a: &str, b: &str) -> Option<String> {
    if a == b {
        return None;
    }
    let (x, y): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    // Longest common subsequence, small inputs only.
    let mut lcs = vec![vec![0usize; y.len() + 1]; x.len() + 1];
    for i in (0..x.len()).rev() {
        for j in (0..y.len()).rev() {
            lcs[i][j] = if x[i] == y[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < x.len() || j < y.len() {
        if i < x.len() && j < y.len() && x[i] == y[j] {
            out.push_str(&format!("  {}\n", x[i]));
            i += 1;
            j += 1;
        } else if j < y.len() && (i == x.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+ {}\n", y[j]));
            j += 1;
        } else {
            out.push_str(&format!("- {}\n", x[i]));
            i += 1;
        }
    }
    Some(out)
}
