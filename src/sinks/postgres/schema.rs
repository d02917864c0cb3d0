//! Target tables: what the catalog says about them, and source type names
//! mapped to target types.
//!
//! [`TableInfo`] is read from `pg_attribute` / `format_type` after every
//! CREATE or ALTER and, lazily, the first time a table is seen in a data
//! record. Values are always cast to the type *the target column has*, so a
//! table created by hand with other (compatible) types works.
//!
//! [`resolve`] maps a source type name (`ColumnSchema.source_type`) to the
//! type a created column gets. Only whitelisted names or names the target
//! catalog itself returns ever reach DDL text:
//!
//! - PostgreSQL built-in names as `format_type` prints them, and their
//!   aliases (`int4`, `integer`, `numeric(12,2)`, `timestamptz(3)`,
//!   `character varying(20)`, `text[]`, `_int4`), map to the name
//!   `format_type` prints, so they compare equal to an existing column's
//!   type. `serial` types become their integer type.
//! - MySQL / MariaDB names (`COLUMN_TYPE`, lowercase) map as the table
//!   below says.
//! - Any other name that is a plain or schema-qualified identifier (user
//!   enums, domains, composites, extension types such as `public.mood` or
//!   `citext`) is looked up on the target with `to_regtype`; when the type
//!   exists there it is used, otherwise the column is created as `text`
//!   (`text[]` for arrays) and a warning is logged once. Values of such
//!   columns are written in their text form, so nothing is lost.
//! - Anything else (`geometry(Point,4326)`, unknown syntax) → `text`, warned.
//!
//! # MySQL / MariaDB types
//!
//! Display widths (`int(11)`) and `zerofill` are ignored; `unsigned` picks
//! a type wide enough for the unsigned range. The value column says what
//! the MySQL source sends and how it is written (see `value/`).
//!
//! | MySQL `COLUMN_TYPE` | PostgreSQL column | value |
//! |---|---|---|
//! | `tinyint`, `tinyint unsigned`, `smallint` | `smallint` | int64 / uint64 |
//! | `tinyint(1)` (MySQL's `BOOLEAN`) | `smallint` | int64: MySQL has no boolean and a `TINYINT(1)` can hold 2 or -1, so the number is kept, not turned into `boolean` |
//! | `smallint unsigned`, `mediumint`, `mediumint unsigned`, `int` | `integer` | int64 / uint64 |
//! | `int unsigned`, `bigint` | `bigint` | int64 / uint64 |
//! | `bigint unsigned` | `numeric(20,0)` | uint64, up to 18446744073709551615 |
//! | `decimal(p,s)` | `numeric(p,s)` | decimal text, exact |
//! | `float` (also `float(p)` with p ≤ 24, `float(m,d)`) | `real` | float32 |
//! | `double`, `double(m,d)`, `float(p)` with p > 24 | `double precision` | float64 |
//! | `bit(n)` | `bit(n)` | bytes, written as exactly n binary digits; `bit(n)` is also PostgreSQL's own name, so both sources agree (`bytea` would break PostgreSQL `bit` columns, and `bit varying` would lose the fixed width) |
//! | `char(n)` | `character(n)` (`text` for `char(0)`) | text |
//! | `varchar(n)` | `character varying(n)` (`text` for `varchar(0)`) | text |
//! | `tinytext`, `text`, `mediumtext`, `longtext` | `text` | text |
//! | `binary(n)`, `varbinary(n)`, `tinyblob`, `blob`, `mediumblob`, `longblob` | `bytea` | bytes |
//! | `date` | `date` | date; the zero date is refused (below) |
//! | `time`, `time(fsp)` | `interval`, `interval(fsp)` | time: MySQL `TIME` is a duration from -838:59:59 to 838:59:59, not a time of day, so PostgreSQL's `time` (00:00 to 24:00) cannot hold it |
//! | `datetime`, `datetime(fsp)` | `timestamp [(fsp)] without time zone` | timestamp (wall clock) |
//! | `timestamp`, `timestamp(fsp)` | `timestamp [(fsp)] with time zone` | timestamptz (an instant, UTC) |
//! | `year`, `year(4)` | `smallint` | int64 |
//! | `enum('a','b')` | `text` | enum label (a PostgreSQL enum type would need a `CREATE TYPE` kept in step with every `ALTER … ENUM` on the source; later, perhaps) |
//! | `set('x','y')` | `text[]` | set: the labels in definition order, `{x,y}` |
//! | `json` | `json` | json text; `json` keeps MariaDB's text byte-exact where `jsonb` would reorder keys and drop whitespace |
//! | `geometry`, `linestring`, `multipoint`, `multilinestring`, `multipolygon`, `geometrycollection`, `geomcollection` | `bytea` | bytes: MySQL's internal form, 4-byte little-endian SRID then WKB |
//! | `point`, `polygon` | `point`, `polygon` | these names are PostgreSQL's own built-in types, which a PostgreSQL source sends under the same names, so they keep that meaning; MySQL bytes are converted (`(x,y)`, `((x1,y1),…)`) when the SRID is 0 and a polygon has one ring, otherwise refused |
//! | `uuid` (MariaDB) | `uuid` | uuid or text |
//! | `inet4`, `inet6` (MariaDB) | `inet` | text, or 4 / 16 bytes |
//!
//! Names shared by both engines mean what a PostgreSQL source means by them
//! when `format_type` prints them (`bit(n)`, `point`, `polygon`, `json`,
//! `date`, `text`, …). `time`, `timestamp` and `float` without further words
//! are never printed by `format_type` (it says `time without time zone`,
//! `timestamp(3) with time zone`, `double precision`), so those spellings
//! take the MySQL meaning: `interval`, `timestamp with time zone`, `real`.
//! A bare `geometry` is also what a PostgreSQL source prints for a PostGIS
//! column without a modifier; it becomes `bytea` too, and the PostGIS hex
//! EWKB text is written as the bytes it spells (see `value/`), so both
//! sources give a `bytea` of well-known binary (`geometry(Point,4326)` and
//! the like still become `text`).
//!
//! MySQL's zero date and zero datetime / timestamp (`0000-00-00`, canonical
//! `SPECIAL_ZERO`) have no PostgreSQL value: a row carrying one fails with a
//! definite error naming the table, the column and why — never NULL, even in
//! a nullable column. The pipeline stops on it (the dead-letter queue, when
//! it exists, is where such a row goes with that reason); fix the row on the
//! source or keep the value from the target with a `[[pipeline.table]]` rule
//! (`exclude_columns`, `mask = "null"`, or a filter).

use super::value::{Target, TypeClass};

use std::collections::HashMap;
use super::binary::BinType;
use tokio_postgres::Client;

/// A target table as the catalog describes it.
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// `"schema"."name"`, for SQL text.
    pub sql_name: String,
    /// Columns in table order.
    pub columns: Vec<ColumnInfo>,
    /// Column name → index in `columns`.
    pub by_name: HashMap<String, usize>,
    /// The column sets (sorted indices) of the table's unique indexes (the
    /// primary key included) that are valid, immediate, not partial and
    /// without expressions: the key sets that make `COPY` of new rows fail
    /// on a row that exists, as the upsert's `ON CONFLICT` would find it.
    /// Empty for a table with rules (`ON CONFLICT` refuses them; `COPY`
    /// ignores them) or a `GENERATED ALWAYS` identity column (`COPY` writes
    /// it, an `INSERT` is refused).
    pub copy_keys: Vec<Vec<usize>>,
}

/// One target column.
#[derive(Debug, Clone)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// Type as `format_type` prints it; values are cast to this.
    pub sql_type: String,
    /// NOT NULL on the target.
    pub not_null: bool,
    /// How values are rendered for it.
    pub target: Target,
    /// Its type's binary form for row parameters (see `binary.rs`), if it has one.
    pub binary: Option<BinType>,
}

impl TableInfo {
    /// `"schema"."name"` for messages (quoted, so odd names stay readable).
    pub fn display(&self) -> &str {
        &self.sql_name
    }

    /// Whether new rows keyed by `key` (column indices) may go by `COPY`:
    /// a unique index of [`copy_keys`](Self::copy_keys) has exactly these columns.
    pub fn copy_key(&self, key: &[usize]) -> bool {
        let mut key = key.to_vec();
        key.sort_unstable();
        self.copy_keys.contains(&key)
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<(usize, &ColumnInfo)> {
        self.by_name.get(name).map(|&i| (i, &self.columns[i]))
    }
}

const LOAD_TABLE: &str = "\
SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       b.typname::text, b.typcategory::text, e.typname::text, e.typcategory::text,
       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_type e ON b.typcategory = 'A' AND e.oid = b.typelem
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'f')
ORDER BY a.attnum";

/// The key columns of each unique index a `COPY` may rely on (see
/// [`TableInfo::copy_keys`]): none for a table with rules or a `GENERATED
/// ALWAYS` identity column.
const COPY_KEYS: &str = "\
SELECT ARRAY(SELECT a.attname::text
             FROM unnest((i.indkey::int2[])[0:i.indnkeyatts - 1]) AS k(attnum)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2
  AND i.indisunique AND i.indisvalid AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL
  AND NOT c.relhasrules
  AND NOT EXISTS (SELECT 1 FROM pg_attribute g WHERE g.attrelid = c.oid AND g.attnum > 0 AND NOT g.attisdropped
                  AND g.attidentity = 'a')";

/// How values are rendered for a column whose (base or element) type is
/// `typname` of category `category` with modifier `typmod` (-1: none).
fn class_of(typname: &str, category: &str, typmod: i32) -> TypeClass {
    match (typname, category) {
        ("json" | "jsonb", _) => TypeClass::Json,
        (_, "S") => TypeClass::Text,
        ("bit", _) => match u32::try_from(typmod) {
            Ok(n) if n > 0 => TypeClass::Bit(n),
            _ => TypeClass::Other,
        },
        ("bytea", _) => TypeClass::Bytea,
        ("inet" | "cidr", _) => TypeClass::Inet,
        ("point", _) => TypeClass::Point,
        ("polygon", _) => TypeClass::Polygon,
        _ => TypeClass::Other,
    }
}

/// Reads a table from the catalog; `None` when it does not exist.
pub async fn load_table(client: &Client, schema: &str, name: &str) -> Result<Option<TableInfo>, tokio_postgres::Error> {
    let rows = client.query(LOAD_TABLE, &[&schema, &name]).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut columns = Vec::new();
    for row in rows {
        let Some(col) = row.get::<_, Option<String>>(0) else { continue };
        let typname: String = row.get::<_, Option<String>>(3).unwrap_or_default();
        let category: String = row.get::<_, Option<String>>(4).unwrap_or_default();
        let typmod: i32 = row.get::<_, Option<i32>>(7).unwrap_or(-1);
        let target = match (row.get::<_, Option<String>>(5), row.get::<_, Option<String>>(6)) {
            (Some(elem), Some(ecat)) => Target { class: class_of(&elem, &ecat, typmod), array: true },
            _ => Target::scalar(class_of(&typname, &category, typmod)),
        };
        let sql_type: String = row.get(1);
        let binary = BinType::of(&sql_type);
        columns.push(ColumnInfo { name: col, sql_type, not_null: row.get(2), target, binary });
    }
    let by_name: HashMap<String, usize> = columns.iter().enumerate().map(|(i, c)| (c.name.clone(), i)).collect();
    let mut copy_keys = Vec::new();
    for row in client.query(COPY_KEYS, &[&schema, &name]).await? {
        let names: Vec<String> = row.get(0);
        let mut key: Vec<usize> = names.iter().filter_map(|n| by_name.get(n).copied()).collect();
        key.sort_unstable();
        if key.len() == names.len() && !key.is_empty() {
            copy_keys.push(key);
        }
    }
    Ok(Some(TableInfo { sql_name: super::sql::qualified(schema, name), columns, by_name, copy_keys }))
}

/// Whether a schema exists (so `CREATE SCHEMA` runs only when needed and a
/// user without CREATE on the database can still use existing schemas).
pub async fn schema_exists(client: &Client, schema: &str) -> Result<bool, tokio_postgres::Error> {
    let row = client.query_one("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", &[&schema]).await?;
    Ok(row.get(0))
}

/// The target's name for a user type, or `None` when it does not exist.
/// Only called with names [`resolve`] vetted as identifiers, so `to_regtype`
/// cannot raise a syntax error (which would abort the batch transaction).
pub async fn lookup_type(client: &Client, name: &str) -> Result<Option<String>, tokio_postgres::Error> {
    let row = client.query_one("SELECT to_regtype($1)::text", &[&name]).await?;
    Ok(row.get(0))
}

/// What a source type name maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A built-in type, spelled as `format_type` prints it.
    Type(String),
    /// An identifier to look up on the target (`to_regtype`); append `[]`
    /// when `array`.
    Lookup {
        /// The (possibly schema-qualified) type name, without `[]`.
        name: String,
        /// The source column is an array of it.
        array: bool,
    },
    /// An enum type of these labels, made for one column when missing
    /// (in the table's schema; see `logical.rs`).
    Enum {
        /// The type's name, unqualified.
        name: String,
        /// The labels in order.
        labels: Vec<String>,
    },
    /// No target counterpart: store as text (`text[]` when `array`).
    Unknown {
        /// The source column is an array.
        array: bool,
    },
}

/// The column type used when the source type has no target counterpart.
pub fn fallback(array: bool) -> String {
    if array { "text[]".into() } else { "text".into() }
}

/// Maps a source type name to a target type (see the module docs).
pub fn resolve(source_type: &str) -> Resolved {
    let mut s = source_type.trim();
    let mut array = false;
    while let Some(rest) = s.strip_suffix("[]") {
        array = true;
        s = rest.trim_end();
    }
    if s.is_empty() {
        return Resolved::Unknown { array };
    }
    // MySQL ENUM / SET: labels may hold any character, so look no further.
    if let Some(t) = enum_or_set(s) {
        return Resolved::Type(if t == "text" { with_array(t.into(), array) } else { t.into() });
    }
    // MariaDB marks old-format temporal columns: `datetime /* mariadb-5.3 */`.
    let uncommented;
    if let (Some(o), Some(c)) = (s.find("/*"), s.rfind("*/")) {
        if o < c {
            uncommented = format!("{} {}", &s[..o], &s[c + 2..]);
            s = uncommented.trim();
        }
    }
    if s.contains('"') {
        return if is_type_identifier(s) { Resolved::Lookup { name: s.to_string(), array } } else { Resolved::Unknown { array } };
    }
    let lower = s.to_ascii_lowercase();
    // PostgreSQL's internal array names: _int4.
    let (lower, array) = match lower.strip_prefix('_') {
        Some(elem) if !array && builtin(elem, &[]).is_some() => (elem.to_string(), true),
        _ => (lower, array),
    };
    // Split off "(args)"; the words around it form the name.
    let (name, args) = match (lower.find('('), lower.rfind(')')) {
        (Some(o), Some(c)) if o < c => {
            let inner = &lower[o + 1..c];
            let words = format!("{} {}", &lower[..o], &lower[c + 1..]);
            if inner.split(',').all(|a| !a.trim().is_empty() && a.trim().bytes().all(|b| b.is_ascii_digit())) {
                let mods: Vec<u32> = inner.split(',').filter_map(|a| a.trim().parse().ok()).collect();
                (words, Some(mods))
            } else {
                // geometry(Point,4326) and the like: no exact type here.
                return Resolved::Unknown { array };
            }
        }
        (None, None) => (lower.clone(), None),
        _ => return Resolved::Unknown { array },
    };
    let name = name.split_whitespace().filter(|w| *w != "zerofill").collect::<Vec<_>>().join(" ");
    let has_args = args.is_some();
    let mods = args.unwrap_or_default();
    if let Some(t) = builtin(&name, &mods) {
        return Resolved::Type(with_array(t, array));
    }
    if !has_args && is_type_identifier(s) {
        return Resolved::Lookup { name: s.to_string(), array };
    }
    Resolved::Unknown { array }
}

/// `text` for a MySQL `enum('a','b')`, `text[]` for a `set('x','y')`.
fn enum_or_set(s: &str) -> Option<&'static str> {
    let open = s.find('(')?;
    if !s.ends_with(')') {
        return None;
    }
    match s[..open].trim_end().to_ascii_lowercase().as_str() {
        "enum" => Some("text"),
        "set" => Some("text[]"),
        _ => None,
    }
}

fn with_array(t: String, array: bool) -> String {
    if array { t + "[]" } else { t }
}

/// `name(m1,m2)` or `name` when there are no modifiers.
fn modded(name: &str, mods: &[u32]) -> String {
    if mods.is_empty() {
        name.to_string()
    } else {
        format!("{name}({})", mods.iter().map(u32::to_string).collect::<Vec<_>>().join(","))
    }
}

/// Built-in PostgreSQL and MySQL names (lowercase, single spaces) with their
/// modifiers → the target type as `format_type` spells it.
fn builtin(name: &str, mods: &[u32]) -> Option<String> {
    let t = |s: &str| Some(s.to_string());
    let precision = |base: &str, zone: &str| {
        Some(match mods.first() {
            Some(p) => format!("{base}({p}) {zone}"),
            None => format!("{base} {zone}"),
        })
    };
    // A zero length (MySQL `CHAR(0)`, `VARCHAR(0)`: only '' or NULL) does not
    // exist in PostgreSQL.
    let zero_length = mods.first() == Some(&0);
    match name {
        "smallint" | "int2" | "smallserial" | "serial2" | "tinyint" | "year" | "tinyint unsigned" => t("smallint"),
        "integer" | "int" | "int4" | "serial" | "serial4" | "mediumint" | "smallint unsigned" | "mediumint unsigned" => {
            t("integer")
        }
        "bigint" | "int8" | "bigserial" | "serial8" | "int unsigned" | "integer unsigned" => t("bigint"),
        "bigint unsigned" => t("numeric(20,0)"),
        "real" | "float4" => t("real"),
        "double precision" | "float8" | "double" | "double unsigned" => t("double precision"),
        // MySQL FLOAT is 4 bytes (FLOAT(p) with p > 24 is a DOUBLE; FLOAT(m,d)
        // is always 4 bytes). format_type never prints a bare `float`.
        "float" | "float unsigned" => match mods {
            [p] if *p > 24 => t("double precision"),
            _ => t("real"),
        },
        "numeric" | "decimal" | "decimal unsigned" | "numeric unsigned" | "dec" | "fixed" => Some(modded("numeric", mods)),
        "boolean" | "bool" => t("boolean"),
        "text" | "tinytext" | "mediumtext" | "longtext" => t("text"),
        "character varying" | "varchar" if zero_length => t("text"),
        "character varying" | "varchar" => Some(modded("character varying", mods)),
        "character" | "char" if zero_length => t("text"),
        "character" | "char" => Some(modded("character", if mods.is_empty() { &[1] } else { mods })),
        "bpchar" => Some(modded("bpchar", mods)),
        "name" => t("name"),
        "bytea" | "blob" | "tinyblob" | "mediumblob" | "longblob" | "binary" | "varbinary" => t("bytea"),
        // MySQL spatial types other than the two whose names PostgreSQL owns
        // (point, polygon): SRID + WKB bytes.
        "geometry" | "linestring" | "multipoint" | "multilinestring" | "multipolygon" | "geometrycollection"
        | "geomcollection" => t("bytea"),
        "date" => t("date"),
        // MySQL TIME is a signed duration up to 838 hours.
        "time" => Some(modded("interval", mods)),
        "time without time zone" => precision("time", "without time zone"),
        "timetz" | "time with time zone" => precision("time", "with time zone"),
        "timestamp without time zone" | "datetime" => precision("timestamp", "without time zone"),
        // MySQL TIMESTAMP is an instant (stored in UTC).
        "timestamptz" | "timestamp with time zone" | "timestamp" => precision("timestamp", "with time zone"),
        "interval" => Some(modded("interval", mods)),
        "bit" => Some(modded("bit", if mods.is_empty() { &[1] } else { mods })),
        "bit varying" | "varbit" => Some(modded("bit varying", mods)),
        "inet4" | "inet6" => t("inet"),
        "uuid" | "json" | "jsonb" | "xml" | "inet" | "cidr" | "macaddr" | "macaddr8" | "money" | "point" | "line"
        | "lseg" | "box" | "path" | "polygon" | "circle" | "tsvector" | "tsquery" | "oid" | "int4range"
        | "int8range" | "numrange" | "tsrange" | "tstzrange" | "daterange" | "int4multirange" | "int8multirange"
        | "nummultirange" | "tsmultirange" | "tstzmultirange" | "datemultirange" | "pg_lsn" | "jsonpath" => t(name),
        _ => None,
    }
}

/// `ident` or `schema.ident`, each part plain (`[A-Za-z_][A-Za-z0-9_$]*`)
/// or double-quoted (with `""` for a quote).
fn is_type_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut parts = 0;
    loop {
        if i < b.len() && b[i] == b'"' {
            i += 1;
            let start = i;
            loop {
                match b.get(i) {
                    None => return false,
                    Some(b'"') if b.get(i + 1) == Some(&b'"') => i += 2,
                    Some(b'"') => break,
                    Some(_) => i += 1,
                }
            }
            if i == start {
                return false;
            }
            i += 1;
        } else {
            match b.get(i) {
                Some(c) if c.is_ascii_alphabetic() || *c == b'_' => i += 1,
                _ => return false,
            }
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$') {
                i += 1;
            }
        }
        parts += 1;
        if i == b.len() {
            return parts <= 2;
        }
        if b[i] != b'.' {
            return false;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> String {
        match resolve(s) {
            Resolved::Type(t) => t,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn postgres_names_map_to_format_type_spelling() {
        for (src, want) in [
            ("integer", "integer"),
            ("int4", "integer"),
            ("INT", "integer"),
            ("serial", "integer"),
            ("bigserial", "bigint"),
            ("numeric(12,2)", "numeric(12,2)"),
            ("numeric( 12 , 2 )", "numeric(12,2)"),
            ("numeric", "numeric"),
            ("decimal(5)", "numeric(5)"),
            ("timestamp with time zone", "timestamp with time zone"),
            ("timestamptz", "timestamp with time zone"),
            ("timestamptz(3)", "timestamp(3) with time zone"),
            ("timestamp(3) with time zone", "timestamp(3) with time zone"),
            ("timestamp without time zone", "timestamp without time zone"),
            ("timestamp(6) without time zone", "timestamp(6) without time zone"),
            ("time without time zone", "time without time zone"),
            ("time(3) without time zone", "time(3) without time zone"),
            ("time(3) with time zone", "time(3) with time zone"),
            ("bit(8)", "bit(8)"),
            ("bit varying(5)", "bit varying(5)"),
            ("point", "point"),
            ("polygon", "polygon"),
            ("json", "json"),
            ("inet", "inet"),
            ("interval(6)", "interval(6)"),
            ("timetz", "time with time zone"),
            ("character varying(20)", "character varying(20)"),
            ("varchar(20)", "character varying(20)"),
            ("varchar", "character varying"),
            ("char", "character(1)"),
            ("character(3)", "character(3)"),
            ("text[]", "text[]"),
            ("integer[][]", "integer[]"),
            ("_int4", "integer[]"),
            ("double precision", "double precision"),
            ("float8", "double precision"),
            ("float(10)", "real"),
            ("bool", "boolean"),
            ("jsonb", "jsonb"),
            ("uuid", "uuid"),
            ("interval", "interval"),
            ("bytea", "bytea"),
            ("bit", "bit(1)"),
            ("varbit(4)", "bit varying(4)"),
        ] {
            assert_eq!(ty(src), want, "{src}");
        }
    }

    /// Every MySQL / MariaDB `COLUMN_TYPE` the MySQL source emits, with the
    /// type the module docs promise.
    #[test]
    fn mysql_names() {
        for (src, want) in [
            ("tinyint(4)", "smallint"),
            ("tinyint", "smallint"),
            ("tinyint(1)", "smallint"),
            ("tinyint(3) unsigned", "smallint"),
            ("smallint(6)", "smallint"),
            ("smallint(5) unsigned", "integer"),
            ("mediumint(9)", "integer"),
            ("mediumint(8) unsigned", "integer"),
            ("int(11)", "integer"),
            ("int", "integer"),
            ("int(10) unsigned", "bigint"),
            ("int unsigned", "bigint"),
            ("int(10) unsigned zerofill", "bigint"),
            ("bigint(20)", "bigint"),
            ("bigint unsigned", "numeric(20,0)"),
            ("bigint(20) unsigned", "numeric(20,0)"),
            ("decimal(10,2)", "numeric(10,2)"),
            ("decimal(65,30) unsigned", "numeric(65,30)"),
            ("decimal(10,0)", "numeric(10,0)"),
            ("float", "real"),
            ("float unsigned", "real"),
            ("float(7,3)", "real"),
            ("float(30,3)", "real"),
            ("float(24)", "real"),
            ("float(25)", "double precision"),
            ("double", "double precision"),
            ("double(10,2)", "double precision"),
            ("double unsigned", "double precision"),
            ("bit(1)", "bit(1)"),
            ("bit(8)", "bit(8)"),
            ("bit(64)", "bit(64)"),
            ("bit", "bit(1)"),
            ("char(3)", "character(3)"),
            ("char(0)", "text"),
            ("varchar(255)", "character varying(255)"),
            ("varchar(0)", "text"),
            ("tinytext", "text"),
            ("text", "text"),
            ("mediumtext", "text"),
            ("longtext", "text"),
            ("binary(16)", "bytea"),
            ("varbinary(10)", "bytea"),
            ("tinyblob", "bytea"),
            ("blob", "bytea"),
            ("mediumblob", "bytea"),
            ("longblob", "bytea"),
            ("date", "date"),
            ("time", "interval"),
            ("time(6)", "interval(6)"),
            ("time(0)", "interval(0)"),
            ("datetime", "timestamp without time zone"),
            ("datetime(6)", "timestamp(6) without time zone"),
            ("datetime(3)", "timestamp(3) without time zone"),
            ("datetime /* mariadb-5.3 */", "timestamp without time zone"),
            ("timestamp", "timestamp with time zone"),
            ("timestamp(6)", "timestamp(6) with time zone"),
            ("year", "smallint"),
            ("year(4)", "smallint"),
            ("enum('a','b''c')", "text"),
            ("enum('a','b')", "text"),
            ("ENUM('x)','(y','\"q\"', '/* c */')", "text"),
            ("enum('')", "text"),
            ("set('x','y')", "text[]"),
            ("set('a,b?','it''s','\"')", "text[]"),
            ("json", "json"),
            ("geometry", "bytea"),
            ("linestring", "bytea"),
            ("multipoint", "bytea"),
            ("multilinestring", "bytea"),
            ("multipolygon", "bytea"),
            ("geometrycollection", "bytea"),
            ("geomcollection", "bytea"),
            ("point", "point"),
            ("polygon", "polygon"),
            ("uuid", "uuid"),
            ("inet4", "inet"),
            ("inet6", "inet"),
        ] {
            assert_eq!(ty(src), want, "{src}");
        }
    }

    #[test]
    fn render_classes_follow_the_catalog_type() {
        assert_eq!(class_of("bit", "V", 5), TypeClass::Bit(5));
        assert_eq!(class_of("bit", "V", -1), TypeClass::Other);
        assert_eq!(class_of("varbit", "V", 5), TypeClass::Other);
        assert_eq!(class_of("bytea", "U", -1), TypeClass::Bytea);
        assert_eq!(class_of("inet", "I", -1), TypeClass::Inet);
        assert_eq!(class_of("cidr", "I", -1), TypeClass::Inet);
        assert_eq!(class_of("point", "G", -1), TypeClass::Point);
        assert_eq!(class_of("polygon", "G", -1), TypeClass::Polygon);
        assert_eq!(class_of("json", "U", -1), TypeClass::Json);
        assert_eq!(class_of("jsonb", "U", -1), TypeClass::Json);
        assert_eq!(class_of("varchar", "S", 14), TypeClass::Text);
        assert_eq!(class_of("interval", "T", -1), TypeClass::Other);
        assert_eq!(class_of("numeric", "N", 1_310_726), TypeClass::Other);
    }

    #[test]
    fn user_types_are_looked_up_and_unknowns_fall_back() {
        assert_eq!(resolve("public.mood"), Resolved::Lookup { name: "public.mood".into(), array: false });
        assert_eq!(resolve("public.mood[]"), Resolved::Lookup { name: "public.mood".into(), array: true });
        assert_eq!(resolve("citext"), Resolved::Lookup { name: "citext".into(), array: false });
        assert_eq!(resolve(r#""My Schema"."My ""Type""#), Resolved::Lookup { name: r#""My Schema"."My ""Type""#.into(), array: false });
        assert_eq!(resolve("geometry(Point,4326)"), Resolved::Unknown { array: false });
        assert_eq!(resolve("a.b.c"), Resolved::Unknown { array: false });
        assert_eq!(resolve("bigint unsigned extra"), Resolved::Unknown { array: false });
        assert_eq!(resolve("int); DROP TABLE x; --"), Resolved::Unknown { array: false });
        assert_eq!(resolve(r#"x"; drop"#), Resolved::Unknown { array: false });
        assert_eq!(resolve(""), Resolved::Unknown { array: false });
        assert_eq!(fallback(true), "text[]");
    }

    #[test]
    fn identifiers() {
        for ok in ["a", "a.b", "_x$1", r#""a b"."c""d""#, r#""Ünï""#] {
            assert!(is_type_identifier(ok), "{ok}");
        }
        for bad in ["", "1a", "a.", ".a", "a b", "a.b.c", r#""""#, r#""a"#, "a-b", "a;b"] {
            assert!(!is_type_identifier(bad), "{bad}");
        }
    }
}
