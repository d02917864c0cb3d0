//! Target tables (what `information_schema` says about them) and source
//! type names mapped to MySQL / MariaDB types.
//!
//! [`TableInfo`] is read from `information_schema.COLUMNS` and `STATISTICS`
//! after every CREATE / ALTER and, lazily, the first time a data record names
//! a table. Values are rendered for the type *the target column has*, so a
//! table made by hand with other (compatible) types works.
//!
//! [`resolve`] maps a source type name (`ColumnSchema.source_type`) to the
//! type a created column gets; the module docs of `mod.rs` have the table.
//! Type text is always rebuilt from parsed parts (known names, numbers,
//! re-quoted enum labels), never copied from the record, so a type name
//! cannot inject SQL.

use super::sql::{quote_ident, string_literal};
use super::logical::labels_sql;
use super::value::Class;

use crate::sinks::plan::PlanTable;
use mysql_async::prelude::Queryable;
use std::collections::HashMap;

/// The server's flavour, which decides a few types and the collation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// MariaDB (else MySQL).
    pub mariadb: bool,
    /// (major, minor, patch).
    pub version: (u32, u32, u32),
}

impl Server {
    /// From `SELECT VERSION()`: `10.11.14-MariaDB-0+deb12u2-log`, `8.0.36`.
    pub fn parse(version: &str) -> Server {
        let mariadb = version.to_ascii_lowercase().contains("mariadb");
        // MariaDB 10 behind a MySQL 5.5 replication prefix: "5.5.5-10.11.6-MariaDB".
        let v = version.strip_prefix("5.5.5-").filter(|_| mariadb).unwrap_or(version);
        let mut nums = v.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap_or(0));
        let version = (nums.next().unwrap_or(0), nums.next().unwrap_or(0), nums.next().unwrap_or(0));
        Server { mariadb, version }
    }

    /// MariaDB 10.7+ has a native `UUID` type.
    pub fn has_uuid(&self) -> bool {
        self.mariadb && self.version >= (10, 7, 0)
    }

    /// The binary utf8mb4 collation for created tables: keys compare byte
    /// for byte (`'a'` ≠ `'A'`, `'a'` ≠ `'a '`), as they do on the source, so
    /// distinct source keys never collapse into one target row.
    pub fn collation(&self) -> &'static str {
        if self.mariadb && self.version >= (10, 2, 0) {
            "utf8mb4_nopad_bin"
        } else if !self.mariadb && self.version >= (8, 0, 0) {
            "utf8mb4_0900_bin"
        } else {
            "utf8mb4_bin"
        }
    }

    /// MySQL 8.0.19+ has the `INSERT … AS alias` row alias and deprecates
    /// `VALUES(c)` in `ON DUPLICATE KEY UPDATE` (8.0.20).
    pub fn upsert_alias(&self) -> bool {
        !self.mariadb && self.version >= (8, 0, 19)
    }

    fn has_type(&self, name: &str) -> bool {
        match name {
            "inet6" => self.mariadb && self.version >= (10, 5, 0),
            "inet4" => self.mariadb && self.version >= (10, 10, 0),
            "uuid" => self.has_uuid(),
            _ => true,
        }
    }
}

/// A target table as the catalog describes it.
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// `` `database`.`name` ``, for SQL text and messages.
    pub sql_name: String,
    /// Columns in table order.
    pub columns: Vec<ColumnInfo>,
    /// Exact column name → index.
    by_name: HashMap<String, usize>,
    /// Lowercased column name → index: MySQL column names are
    /// case-insensitive, so `Name` in a record is the target's `name`.
    by_lower: HashMap<String, usize>,
    /// Unique indexes (PRIMARY included): name and column indices.
    pub unique: Vec<(String, Vec<usize>)>,
}

/// One target column.
#[derive(Debug, Clone)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// `COLUMN_TYPE`, e.g. `int(11) unsigned`, `decimal(12,2)`.
    pub column_type: String,
    /// How values are rendered for it.
    pub class: Class,
    /// NOT NULL on the target.
    pub not_null: bool,
    /// A row can be inserted without a value for it (nullable, a default,
    /// auto_increment or generated).
    pub insertable_without: bool,
    /// `CHARACTER_SET_NAME` and `COLLATION_NAME`, for `MODIFY COLUMN`.
    pub charset: Option<(String, String)>,
}

impl TableInfo {
    /// Builds the lookup maps.
    pub fn new(sql_name: String, columns: Vec<ColumnInfo>, unique: Vec<(String, Vec<usize>)>) -> Self {
        let by_name = columns.iter().enumerate().map(|(i, c)| (c.name.clone(), i)).collect();
        let mut by_lower = HashMap::new();
        for (i, c) in columns.iter().enumerate() {
            by_lower.entry(c.name.to_lowercase()).or_insert(i);
        }
        TableInfo { sql_name, columns, by_name, by_lower, unique }
    }

    /// The column called `name` (exactly, else case-insensitively).
    pub fn column(&self, name: &str) -> Option<(usize, &ColumnInfo)> {
        let i = self.by_name.get(name).or_else(|| self.by_lower.get(&name.to_lowercase()))?;
        Some((*i, &self.columns[*i]))
    }

    /// Why upserts by `key` (column indices) would be wrong on this table:
    /// `INSERT … ON DUPLICATE KEY UPDATE` needs a unique index on exactly the
    /// key columns, and any other unique index would make it update the row
    /// that owns a duplicate value instead of failing.
    pub fn check_key(&self, key: &[usize]) -> Result<(), String> {
        let mut want: Vec<usize> = key.to_vec();
        want.sort_unstable();
        let names = |cols: &[usize]| cols.iter().map(|&i| quote_ident(&self.columns[i].name)).collect::<Vec<_>>().join(", ");
        let mut found = false;
        for (index, cols) in &self.unique {
            let mut have = cols.clone();
            have.sort_unstable();
            if have == want {
                found = true;
            } else {
                return Err(format!(
                    "table {}: the unique index {} ({}) is not the key ({}); MySQL's INSERT … ON DUPLICATE KEY UPDATE \
                     would update the row that owns a duplicate value instead of failing — drop the index or make it \
                     non-unique on the target",
                    self.sql_name,
                    quote_ident(index),
                    names(cols),
                    names(key)
                ));
            }
        }
        if !found {
            return Err(format!(
                "table {} has no primary key or unique index on exactly the key columns ({}): upserts would duplicate \
                 rows — add PRIMARY KEY ({}) on the target",
                self.sql_name,
                names(key),
                names(key)
            ));
        }
        Ok(())
    }
}

impl PlanTable for TableInfo {
    type Cell = super::value::Cell;

    fn display(&self) -> &str {
        &self.sql_name
    }
    fn column_count(&self) -> usize {
        self.columns.len()
    }
    fn column_index(&self, name: &str) -> Option<usize> {
        self.column(name).map(|(i, _)| i)
    }
    fn column_name(&self, i: usize) -> &str {
        &self.columns[i].name
    }
    fn render(&self, i: usize, v: &crate::record::Value) -> Result<Self::Cell, String> {
        let c = &self.columns[i];
        super::value::render(v, c.class)
            .map_err(|e| format!("table {} column {} ({}): {e}", self.sql_name, quote_ident(&c.name), c.column_type))
    }
    fn is_null(cell: &Self::Cell) -> bool {
        *cell == super::value::Cell::Null
    }
    fn quote(&self, name: &str) -> String {
        quote_ident(name)
    }
}

/// Reads a table from the catalog; `None` when it does not exist.
pub async fn load_table(conn: &mut mysql_async::Conn, database: &str, name: &str) -> Result<Option<TableInfo>, mysql_async::Error> {
    let (db, t) = (string_literal(database), string_literal(name));
    let sql = format!(
        "SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, NUMERIC_PRECISION, NUMERIC_SCALE, \
         DATETIME_PRECISION, CHARACTER_SET_NAME, COLLATION_NAME \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {db} AND TABLE_NAME = {t} ORDER BY ORDINAL_POSITION; \
         SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = {db} AND TABLE_NAME = {t} AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX"
    );
    let mut result = conn.query_iter(sql).await?;
    let cols: Vec<mysql_async::Row> = result.collect().await?;
    let idx: Vec<(String, String)> = result.collect().await?;
    result.drop_result().await?;
    if cols.is_empty() {
        return Ok(None);
    }
    let text = |r: &mysql_async::Row, i: usize| -> Option<String> {
        match r.as_ref(i) {
            Some(mysql_async::Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            Some(mysql_async::Value::NULL) | None => None,
            Some(v) => Some(v.as_sql(true).trim_matches('\'').to_string()),
        }
    };
    let num = |r: &mysql_async::Row, i: usize| text(r, i).and_then(|s| s.parse::<u64>().ok());
    let mut columns = Vec::with_capacity(cols.len());
    for r in &cols {
        let name = text(r, 0).unwrap_or_default();
        let column_type = text(r, 1).unwrap_or_default().to_ascii_lowercase();
        let data_type = text(r, 2).unwrap_or_default();
        let not_null = text(r, 3).as_deref() == Some("NO");
        let default = text(r, 4);
        let extra = text(r, 5).unwrap_or_default().to_ascii_lowercase();
        let class = Class::of(&data_type, num(r, 6), num(r, 7), num(r, 8));
        let charset = text(r, 9).zip(text(r, 10));
        let insertable_without =
            !not_null || default.is_some() || extra.contains("auto_increment") || extra.contains("generated");
        columns.push(ColumnInfo { name, column_type, class, not_null, insertable_without, charset });
    }
    let mut unique: Vec<(String, Vec<usize>)> = Vec::new();
    for (index, col) in idx {
        let Some(ci) = columns.iter().position(|c| c.name == col) else { continue };
        match unique.last_mut() {
            Some((n, cs)) if *n == index => cs.push(ci),
            _ => unique.push((index, vec![ci])),
        }
    }
    Ok(Some(TableInfo::new(super::sql::qualified(database, name), columns, unique)))
}

/// Whether a database exists.
pub async fn database_exists(conn: &mut mysql_async::Conn, database: &str) -> Result<bool, mysql_async::Error> {
    let sql = format!("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}", string_literal(database));
    let row: Option<mysql_async::Row> = conn.query_first(sql).await?;
    Ok(row.is_some())
}

/// Which engine's spelling a source type name is in. Only four names mean
/// different things in the two engines (`text`, `point`, `polygon`, `bit(n)`);
/// the column's `type_dialect` decides those (never the record's source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `type_dialect = "postgresql"`: `format_type` spelling.
    Postgres,
    /// Anything else: MySQL / MariaDB spelling.
    Mysql,
}

impl Dialect {
    /// The spelling of a column's type text.
    pub fn of(column: &crate::record::ColumnSchema) -> Dialect {
        if column.type_dialect == "postgresql" {
            Dialect::Postgres
        } else {
            Dialect::Mysql
        }
    }
}

pub use crate::sinks::sql::Mapped;

fn mapped(t: impl Into<String>) -> Result<Mapped, String> {
    Ok(Mapped { sql_type: t.into(), fallback: false })
}

fn fallback() -> Result<Mapped, String> {
    Ok(Mapped { sql_type: "longtext".into(), fallback: true })
}

/// Longest `VARCHAR(n)` in utf8mb4 (65,535 bytes / 4); beyond it, text.
const MAX_VARCHAR: i64 = 16_383;

/// A source type split into words, numeric modifiers and enum/set labels.
struct Parsed {
    /// Words outside the parentheses, single-spaced: `bigint unsigned`,
    /// `timestamp with time zone`.
    name: String,
    /// Numbers inside the parentheses.
    mods: Vec<i64>,
    /// Labels of `enum(…)` / `set(…)`.
    labels: Option<Vec<String>>,
    /// Ended in `[]`.
    array: bool,
}

fn parse(source_type: &str) -> Option<Parsed> {
    let mut s = source_type.trim().to_string();
    let mut array = false;
    while let Some(rest) = s.strip_suffix("[]") {
        array = true;
        s = rest.trim_end().to_string();
    }
    let lower_head = s.to_ascii_lowercase();
    if let (Some(o), Some(c)) = (s.find('('), s.rfind(')')) {
        if o >= c {
            return None;
        }
        let head = lower_head[..o].trim();
        let inner = &s[o + 1..c];
        let tail = lower_head[c + 1..].trim();
        if head == "enum" || head == "set" {
            if !tail.is_empty() {
                return None;
            }
            return Some(Parsed { name: head.into(), mods: Vec::new(), labels: Some(parse_labels(inner)?), array });
        }
        let mods: Option<Vec<i64>> = inner.split(',').map(|m| m.trim().parse::<i64>().ok()).collect();
        let name = format!("{head} {tail}").split_whitespace().collect::<Vec<_>>().join(" ");
        return Some(Parsed { name, mods: mods?, labels: None, array });
    }
    if s.contains(['(', ')']) {
        return None;
    }
    Some(Parsed { name: lower_head.split_whitespace().collect::<Vec<_>>().join(" "), mods: Vec::new(), labels: None, array })
}

/// The labels of `'a','b''c','d\\e'` (MySQL doubles quotes in COLUMN_TYPE;
/// backslash escapes are accepted too).
pub fn parse_labels(inner: &str) -> Option<Vec<String>> {
    let mut labels = Vec::new();
    let mut chars = inner.trim().chars().peekable();
    if chars.peek().is_none() {
        return Some(labels);
    }
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next()? != '\'' {
            return None;
        }
        labels.push(crate::sinks::sql::read_quoted(&mut chars, '\'', true)?);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Some(labels),
            Some(',') => continue,
            Some(_) => return None,
        }
    }
}


fn with_mods(name: &str, mods: &[i64]) -> String {
    if mods.is_empty() {
        name.to_string()
    } else {
        format!("{name}({})", mods.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
    }
}

fn varchar_or_text(n: i64) -> String {
    if (1..=MAX_VARCHAR).contains(&n) {
        format!("varchar({n})")
    } else {
        "longtext".into()
    }
}

fn fsp(mods: &[i64], default: i64) -> Result<i64, String> {
    match mods {
        [] => Ok(default),
        [p] if (0..=6).contains(p) => Ok(*p),
        [p] => Ok((*p).clamp(0, 6)),
        _ => Err("unexpected modifiers".into()),
    }
}

/// Maps a source type name to a target type (see the module docs of
/// `mod.rs`); `Err` when the type cannot be stored exactly.
pub fn resolve(source_type: &str, dialect: Dialect, server: &Server) -> Result<Mapped, String> {
    let Some(p) = parse(source_type) else { return fallback() };
    if p.array {
        return mapped("json");
    }
    if let Some(labels) = &p.labels {
        return mapped(labels_sql(&p.name, labels));
    }
    let m = p.mods.as_slice();
    let pg = dialect == Dialect::Postgres;
    // Integer names with optional display width and unsigned / zerofill.
    let words: Vec<&str> = p.name.split(' ').filter(|w| *w != "zerofill").collect();
    let unsigned = words.contains(&"unsigned") || p.name.contains("zerofill");
    let base: Vec<&str> = words.iter().copied().filter(|w| *w != "unsigned" && *w != "signed").collect();
    let base = base.join(" ");
    let uns = if unsigned { " unsigned" } else { "" };
    match base.as_str() {
        "tinyint" if m == [1] && !unsigned => return mapped("tinyint(1)"),
        "tinyint" | "smallint" | "mediumint" | "bigint" => return mapped(format!("{base}{uns}")),
        "int" | "integer" => return mapped(format!("int{uns}")),
        "bool" | "boolean" => return mapped("tinyint(1)"),
        "decimal" | "numeric" | "dec" | "fixed" => {
            let (precision, scale) = match m {
                [] if pg => (65, 30),
                [] => (10, 0),
                [p] => (*p, 0),
                [p, s] if *s < 0 => (*p - *s, 0),
                [p, s] => ((*p).max(*s), *s),
                _ => return fallback(),
            };
            if !(1..=65).contains(&precision) || !(0..=30).contains(&scale) {
                return Err(format!(
                    "{source_type} needs DECIMAL({precision},{scale}), beyond what MySQL and MariaDB allow (precision ≤ 65, \
                     scale ≤ 30); values would be rounded — narrow the column on the source, or create the target column \
                     yourself (e.g. as text) and set create_tables = false"
                ));
            }
            return mapped(format!("decimal({precision},{scale}){uns}"));
        }
        "real" if pg => return mapped("float"),
        "float" | "real" | "double" | "double precision" => {
            let name = if base == "float" { "float" } else { "double" };
            return mapped(format!("{}{uns}", with_mods(name, m)));
        }
        _ => {}
    }
    match (p.name.as_str(), m) {
        ("text", []) if pg => mapped("longtext"),
        ("tinytext" | "text" | "mediumtext" | "longtext", []) => mapped(p.name.clone()),
        ("tinyblob" | "blob" | "mediumblob" | "longblob", []) => mapped(p.name.clone()),
        ("text" | "blob", [n]) => mapped(with_mods(&p.name, &[*n])),
        ("char", [n]) => mapped(format!("char({n})")),
        ("char", []) => mapped("char(1)"),
        ("varchar", [n]) => mapped(format!("varchar({n})")),
        ("binary" | "varbinary", [n]) => mapped(format!("{}({n})", p.name)),
        ("binary", []) => mapped("binary(1)"),
        ("character varying", [n]) => mapped(varchar_or_text(*n)),
        ("character varying" | "bpchar" | "name" | "citext", _) => fallback_text(),
        ("character", [n]) if *n <= 255 => mapped(format!("char({n})")),
        ("character", [n]) => mapped(varchar_or_text(*n)),
        ("character", []) => mapped("char(1)"),
        ("bytea", []) => mapped("longblob"),
        ("date", []) => mapped("date"),
        ("datetime" | "timestamp" | "time", _) => {
            let f = fsp(m, 0)?;
            mapped(if f == 0 { p.name.clone() } else { format!("{}({f})", p.name) })
        }
        ("year", _) => mapped("year"),
        ("time without time zone", _) => mapped(format!("time({})", fsp(m, 6)?)),
        ("time with time zone", _) | ("timetz", _) => mapped("varchar(32)"),
        ("timestamp without time zone" | "timestamp with time zone" | "timestamptz", _) => {
            mapped(format!("datetime({})", fsp(m, 6)?))
        }
        (n, _) if n == "interval" || n.starts_with("interval ") => mapped("varchar(64)"),
        ("uuid", []) => mapped(if server.has_uuid() { "uuid" } else { "char(36)" }),
        ("json" | "jsonb", []) => mapped("json"),
        ("bit" | "bit varying" | "varbit", _) if pg => fallback_text(),
        ("bit", [n]) => mapped(format!("bit({n})")),
        ("bit", []) => mapped("bit(1)"),
        ("point" | "polygon", []) if pg => fallback_text(),
        (
            "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring" | "multipolygon"
            | "geometrycollection" | "geomcollection",
            [],
        ) => mapped(p.name.clone()),
        ("inet4" | "inet6", []) if server.has_type(&p.name) => mapped(p.name.clone()),
        _ => fallback(),
    }
}

/// PostgreSQL types kept as text on purpose (documented, not warned).
fn fallback_text() -> Result<Mapped, String> {
    mapped("longtext")
}

/// InnoDB's largest index key (bytes, DYNAMIC / COMPRESSED row format).
const MAX_KEY_BYTES: i64 = 3072;

/// Key columns cannot be TEXT / BLOB / JSON (an InnoDB index needs a
/// bounded length, and a prefix index would make distinct keys collide).
/// Such key columns become `varchar(n)` / `varbinary(n)`, with `n` sharing
/// the 3072-byte index limit among them (768 characters for a lone text key).
pub fn narrow_keys(types: &mut [String], key: &[usize]) {
    let unbounded = |t: &str| {
        let t = t.split('(').next().unwrap_or(t);
        match t {
            "tinytext" | "text" | "mediumtext" | "longtext" | "json" => Some(true),
            "tinyblob" | "blob" | "mediumblob" | "longblob" => Some(false),
            _ => None,
        }
    };
    let bytes = |t: &str| -> i64 {
        let n = || t.split(['(', ')']).nth(1).and_then(|n| n.parse::<i64>().ok()).unwrap_or(1);
        if t.starts_with("varchar") || t.starts_with("char") {
            4 * n()
        } else if t.starts_with("varbinary") || t.starts_with("binary") {
            n()
        } else {
            16
        }
    };
    let open: Vec<usize> = key.iter().copied().filter(|&i| unbounded(&types[i]).is_some()).collect();
    if open.is_empty() {
        return;
    }
    let fixed: i64 = key.iter().filter(|i| !open.contains(i)).map(|&i| bytes(&types[i])).sum();
    let share = ((MAX_KEY_BYTES - fixed) / open.len() as i64).max(4);
    for i in open {
        types[i] = if unbounded(&types[i]) == Some(true) { format!("varchar({})", share / 4) } else { format!("varbinary({share})") };
    }
}

/// A type in one canonical spelling for comparison: integer display widths
/// and `zerofill` dropped, aliases resolved, `json` = `longtext` on MariaDB,
/// enum / set labels re-quoted.
pub fn normalize(t: &str, server: &Server) -> String {
    let t = t.trim().to_ascii_lowercase();
    if let Some(p) = parse(&t) {
        if let Some(labels) = &p.labels {
            return labels_sql(&p.name, labels);
        }
        let words: Vec<&str> = p.name.split(' ').filter(|w| *w != "zerofill").collect();
        let unsigned = words.contains(&"unsigned") || p.name.contains("zerofill");
        let base: String = words.iter().copied().filter(|w| *w != "unsigned").collect::<Vec<_>>().join(" ");
        let uns = if unsigned { " unsigned" } else { "" };
        let m = p.mods.as_slice();
        return match base.as_str() {
            "tinyint" | "smallint" | "mediumint" | "bigint" => format!("{base}{uns}"),
            "int" | "integer" => format!("int{uns}"),
            "bool" | "boolean" => "tinyint".into(),
            "decimal" | "numeric" | "dec" | "fixed" => match m {
                [] => format!("decimal(10,0){uns}"),
                [p] => format!("decimal({p},0){uns}"),
                _ => format!("{}{uns}", with_mods("decimal", m)),
            },
            "real" | "double precision" => format!("{}{uns}", with_mods("double", m)),
            "year" => "year".into(),
            "json" if server.mariadb => "longtext".into(),
            "datetime" | "timestamp" | "time" if m == [0] => base,
            "char" | "binary" if m.is_empty() => format!("{base}(1)"),
            _ => format!("{}{uns}", with_mods(&base, m)),
        };
    }
    t
}

/// True when an existing column of `actual` type (`COLUMN_TYPE`) is what
/// `mapped` would create.
pub fn same_type(mapped: &str, actual: &str, server: &Server) -> bool {
    normalize(mapped, server) == normalize(actual, server)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maria() -> Server {
        Server::parse("10.11.14-MariaDB-0+deb12u2-log")
    }

    fn ty(s: &str, d: Dialect) -> String {
        resolve(s, d, &maria()).unwrap_or_else(|e| panic!("{s}: {e}")).sql_type
    }

    #[test]
    fn servers() {
        let m = maria();
        assert!(m.mariadb && m.version == (10, 11, 14) && m.has_uuid());
        assert_eq!(m.collation(), "utf8mb4_nopad_bin");
        assert_eq!(Server::parse("5.5.5-10.6.2-MariaDB"), Server { mariadb: true, version: (10, 6, 2) });
        let my = Server::parse("8.0.36");
        assert!(!my.mariadb && !my.has_uuid() && my.upsert_alias() && !m.upsert_alias());
        assert_eq!(my.collation(), "utf8mb4_0900_bin");
        assert_eq!(Server::parse("5.7.44-log").collation(), "utf8mb4_bin");
    }

    #[test]
    fn postgres_types() {
        let pg = Dialect::Postgres;
        for (src, want) in [
            ("integer", "int"),
            ("bigint", "bigint"),
            ("smallint", "smallint"),
            ("numeric(12,2)", "decimal(12,2)"),
            ("numeric(5)", "decimal(5,0)"),
            ("numeric", "decimal(65,30)"),
            ("numeric(5,-2)", "decimal(7,0)"),
            ("numeric(2,5)", "decimal(5,5)"),
            ("real", "float"),
            ("double precision", "double"),
            ("boolean", "tinyint(1)"),
            ("text", "longtext"),
            ("character varying(10)", "varchar(10)"),
            ("character varying(20000)", "longtext"),
            ("character varying", "longtext"),
            ("character(5)", "char(5)"),
            ("character(300)", "varchar(300)"),
            ("bytea", "longblob"),
            ("date", "date"),
            ("time without time zone", "time(6)"),
            ("time(3) without time zone", "time(3)"),
            ("time with time zone", "varchar(32)"),
            ("timestamp without time zone", "datetime(6)"),
            ("timestamp(3) without time zone", "datetime(3)"),
            ("timestamp with time zone", "datetime(6)"),
            ("timestamp(0) with time zone", "datetime(0)"),
            ("interval", "varchar(64)"),
            ("interval year to month", "varchar(64)"),
            ("interval(3)", "varchar(64)"),
            ("uuid", "uuid"),
            ("json", "json"),
            ("jsonb", "json"),
            ("text[]", "json"),
            ("integer[]", "json"),
            ("public.mood[]", "json"),
            ("public.mood", "longtext"),
            ("\"My Schema\".\"My Type\"", "longtext"),
            ("point", "longtext"),
            ("polygon", "longtext"),
            ("bit(8)", "longtext"),
            ("money", "longtext"),
            ("xml", "longtext"),
            ("inet", "longtext"),
            ("int); DROP TABLE x; --", "longtext"),
        ] {
            assert_eq!(ty(src, pg), want, "{src}");
        }
        assert!(resolve("public.mood", pg, &maria()).unwrap().fallback);
        assert!(!resolve("text", pg, &maria()).unwrap().fallback);
        let e = resolve("numeric(70,2)", pg, &maria()).unwrap_err();
        assert!(e.contains("DECIMAL(70,2)") && e.contains("65"), "{e}");
        assert!(resolve("numeric(40,35)", pg, &maria()).is_err());
        assert_eq!(resolve("uuid", pg, &Server::parse("8.0.36")).unwrap().sql_type, "char(36)");
    }

    #[test]
    fn mysql_types() {
        let my = Dialect::Mysql;
        for (src, want) in [
            ("int(11)", "int"),
            ("int(10) unsigned", "int unsigned"),
            ("int(10) unsigned zerofill", "int unsigned"),
            ("bigint(20) unsigned", "bigint unsigned"),
            ("tinyint(1)", "tinyint(1)"),
            ("tinyint(4)", "tinyint"),
            ("mediumint(9)", "mediumint"),
            ("decimal(10,2)", "decimal(10,2)"),
            ("decimal(10,2) unsigned", "decimal(10,2) unsigned"),
            ("float", "float"),
            ("float(7,3)", "float(7,3)"),
            ("double", "double"),
            ("varchar(255)", "varchar(255)"),
            ("char(2)", "char(2)"),
            ("binary(16)", "binary(16)"),
            ("varbinary(3)", "varbinary(3)"),
            ("text", "text"),
            ("longtext", "longtext"),
            ("blob", "blob"),
            ("mediumblob", "mediumblob"),
            ("datetime", "datetime"),
            ("datetime(6)", "datetime(6)"),
            ("timestamp(6)", "timestamp(6)"),
            ("time", "time"),
            ("time(3)", "time(3)"),
            ("year(4)", "year"),
            ("date", "date"),
            ("json", "json"),
            ("bit(8)", "bit(8)"),
            ("geometry", "geometry"),
            ("point", "point"),
            ("polygon", "polygon"),
            ("multipolygon", "multipolygon"),
            ("uuid", "uuid"),
            ("inet6", "inet6"),
            ("enum('a','b')", "enum('a','b')"),
            ("enum('it''s','back\\\\slash')", "enum('it''s','back\\\\slash')"),
            ("set('x','y')", "set('x','y')"),
            ("vector(3)", "longtext"),
        ] {
            assert_eq!(ty(src, my), want, "{src}");
        }
        assert_eq!(parse_labels("'a','b''c', 'd\\\\e'").unwrap(), vec!["a", "b'c", "d\\e"]);
        assert!(parse_labels("'a',b").is_none());
        assert!(parse_labels("'a'); DROP TABLE t; --").is_none());
        assert_eq!(ty("enum('a'); DROP TABLE t; --')", my), "longtext");
    }

    #[test]
    fn key_columns_get_bounded_types() {
        let mut t = vec!["longtext".to_string(), "int".into(), "longblob".into(), "json".into()];
        narrow_keys(&mut t, &[0]);
        assert_eq!(t[0], "varchar(768)");
        let mut t = vec!["longtext".to_string(), "bigint".into(), "longblob".into()];
        narrow_keys(&mut t, &[0, 1, 2]);
        assert_eq!(t, vec!["varchar(382)", "bigint", "varbinary(1528)"]);
        let mut t = vec!["varchar(10)".to_string(), "int".into()];
        narrow_keys(&mut t, &[0, 1]);
        assert_eq!(t, vec!["varchar(10)", "int"]);
    }

    #[test]
    fn types_compare_by_meaning() {
        let m = maria();
        for (a, b) in [
            ("int", "int(11)"),
            ("int unsigned", "int(10) unsigned"),
            ("tinyint(1)", "tinyint(1)"),
            ("bigint unsigned", "bigint(20) unsigned zerofill"),
            ("json", "longtext"),
            ("decimal(65,30)", "decimal(65,30)"),
            ("year", "year(4)"),
            ("datetime(0)", "datetime"),
            ("enum('a','b''c')", "enum('a','b''c')"),
            ("char(1)", "char"),
        ] {
            assert!(same_type(a, b, &m), "{a} vs {b}");
        }
        for (a, b) in [("int", "bigint"), ("decimal(12,2)", "decimal(12,3)"), ("enum('a')", "enum('a','b')"), ("datetime(6)", "datetime"), ("varchar(10)", "varchar(11)")] {
            assert!(!same_type(a, b, &m), "{a} vs {b}");
        }
        assert!(!same_type("json", "longtext", &Server::parse("8.0.36")));
    }
}
