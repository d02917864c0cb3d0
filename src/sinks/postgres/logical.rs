//! Column types for columns whose type text is not PostgreSQL's: mapped
//! from the column's logical type (see `record::logical`), never from the
//! name of the source.
//!
//! | logical type | PostgreSQL column |
//! |---|---|
//! | bool | `boolean` |
//! | integer of 1 or 2 bytes (incl. MySQL `TINYINT(1)`, which can hold 2 or -1), year | `smallint` |
//! | integer of 2 unsigned, 3 or 4 bytes | `integer` |
//! | integer of 4 unsigned or 8 bytes | `bigint` |
//! | integer of 8 unsigned bytes | `numeric(20,0)` |
//! | decimal(p,s) / unconstrained | `numeric(p,s)` / `numeric` |
//! | float of 4 / 8 bytes | `real` / `double precision` |
//! | text of fixed n / at most n (n ≤ 10,485,760, and not one of MySQL's `TEXT` sizes) / unbounded | `character(n)` / `character varying(n)` / `text` |
//! | binary | `bytea` |
//! | date | `date` |
//! | time of day (with zone) | `time[(p)] [with time zone]` |
//! | timestamp (with zone) | `timestamp[(p)] without / with time zone` |
//! | interval (also MySQL `TIME`, a duration) | `interval[(p)]` |
//! | uuid, json, inet | `uuid`, `json` (keeps the text byte-exact), `inet` |
//! | enum with labels | an enum type of those labels, `<table>_<column>` in the table's schema, created when missing (`text`, warned, when that name would pass 63 bytes) |
//! | set | `text[]` |
//! | bit(n) | `bit(n)` / `bit varying(n)` |
//! | array of T | T`[]` |
//! | document | `jsonb` |
//! | geometry named `point` / `polygon` | `point` / `polygon` (converted from MySQL's form); other geometry: `bytea` |
//! | other | the named type when it exists on the target, else `text` (warned) |
//!
//! A precision of 0 fractional digits is left out (`timestamp`, not
//! `timestamp(0)`): the default holds every value, as the MySQL mapping in
//! `schema.rs` always did.

use super::schema::Resolved;
use crate::record::{LogicalKind, LogicalType};

/// PostgreSQL keeps the first 63 bytes of an identifier.
const MAX_IDENTIFIER_BYTES: usize = 63;

/// PostgreSQL's longest `varchar(n)`.
const MAX_VARCHAR: u32 = 10_485_760;

/// MySQL's `TINYTEXT` .. `LONGTEXT` limits: a text of one of these sizes
/// is unbounded text in spirit, not a `varchar(n)` someone chose.
const TEXT_SIZES: [u32; 3] = [65_535, 16_777_215, 4_294_967_295];

/// The target type of a column of logical type `t` in a table called
/// `table` (used to name an enum type made for it).
pub fn resolve(t: &LogicalType, table: &str, column: &str) -> Resolved {
    let ty = |s: &str| Resolved::Type(s.to_string());
    let p = |base: &str, suffix: &str| match t.fraction_digits().filter(|&d| d > 0) {
        Some(d) => Resolved::Type(format!("{base}({d}){suffix}")),
        None => Resolved::Type(format!("{base}{suffix}")),
    };
    let zone = if t.with_time_zone { " with time zone" } else { " without time zone" };
    match t.kind() {
        LogicalKind::LogicalBool => ty("boolean"),
        LogicalKind::LogicalInteger if t.boolean_like => ty("smallint"),
        LogicalKind::LogicalInteger => ty(match (t.width, t.unsigned) {
            (1, _) | (2, false) => "smallint",
            (2, true) | (3, _) | (4, false) => "integer",
            (4, true) => "bigint",
            (8, true) => "numeric(20,0)",
            _ => "bigint",
        }),
        LogicalKind::LogicalYear => ty("smallint"),
        LogicalKind::LogicalDecimal if t.precision == 0 => ty("numeric"),
        LogicalKind::LogicalDecimal => Resolved::Type(format!("numeric({},{})", t.precision, t.scale)),
        LogicalKind::LogicalFloat if t.width == 4 => ty("real"),
        LogicalKind::LogicalFloat => ty("double precision"),
        LogicalKind::LogicalText => match t.width {
            n if n == 0 || n > MAX_VARCHAR || TEXT_SIZES.contains(&n) => ty("text"),
            n if t.fixed_length => Resolved::Type(format!("character({n})")),
            n => Resolved::Type(format!("character varying({n})")),
        },
        LogicalKind::LogicalBinary => ty("bytea"),
        LogicalKind::LogicalDate => ty("date"),
        LogicalKind::LogicalTime => p("time", if t.with_time_zone { " with time zone" } else { " without time zone" }),
        LogicalKind::LogicalTimestamp => p("timestamp", zone),
        LogicalKind::LogicalInterval => p("interval", ""),
        LogicalKind::LogicalUuid => ty("uuid"),
        LogicalKind::LogicalJson => ty("json"),
        LogicalKind::LogicalInet => ty("inet"),
        LogicalKind::LogicalDocument => ty("jsonb"),
        // A name PostgreSQL would cut at 63 bytes could meet another
        // column's type: such a column keeps its labels as text instead.
        LogicalKind::LogicalEnum if !t.labels.is_empty() && table.len() + 1 + column.len() <= MAX_IDENTIFIER_BYTES => {
            Resolved::Enum { name: format!("{table}_{column}"), labels: t.labels.clone() }
        }
        LogicalKind::LogicalSet => ty("text[]"),
        LogicalKind::LogicalBit if t.width > 0 && t.fixed_length => Resolved::Type(format!("bit({})", t.width)),
        LogicalKind::LogicalBit if t.width > 0 => Resolved::Type(format!("bit varying({})", t.width)),
        LogicalKind::LogicalBit => ty("bit varying"),
        LogicalKind::LogicalArray => match t.element.as_deref().map(|e| resolve(e, table, column)) {
            Some(Resolved::Type(e)) if !e.ends_with("[]") => Resolved::Type(format!("{e}[]")),
            Some(Resolved::Lookup { name, .. }) => Resolved::Lookup { name, array: true },
            _ => Resolved::Unknown { array: true },
        },
        LogicalKind::LogicalGeometry => match t.name.as_str() {
            "point" | "polygon" => ty(&t.name),
            _ => ty("bytea"),
        },
        LogicalKind::LogicalEnum | LogicalKind::LogicalOther if !t.name.is_empty() => {
            Resolved::Lookup { name: t.name.clone(), array: false }
        }
        LogicalKind::LogicalEnum | LogicalKind::LogicalOther => Resolved::Unknown { array: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Resolved {
        Resolved::Type(s.into())
    }

    #[test]
    fn logical_types_map_to_postgres_types() {
        let cases = [
            (LogicalType::boolean(), t("boolean")),
            (LogicalType::boolean_like(false), t("smallint")),
            (LogicalType::integer(1, true), t("smallint")),
            (LogicalType::integer(2, true), t("integer")),
            (LogicalType::integer(3, false), t("integer")),
            (LogicalType::integer(4, true), t("bigint")),
            (LogicalType::integer(8, false), t("bigint")),
            (LogicalType::integer(8, true), t("numeric(20,0)")),
            (LogicalType::year(), t("smallint")),
            (LogicalType::decimal(12, 2), t("numeric(12,2)")),
            (LogicalType::decimal(0, 0), t("numeric")),
            (LogicalType::float(4), t("real")),
            (LogicalType::float(8), t("double precision")),
            (LogicalType::text(20, false), t("character varying(20)")),
            (LogicalType::text(3, true), t("character(3)")),
            (LogicalType::text(65_535, false), t("text")),
            (LogicalType::text(0, false), t("text")),
            (LogicalType::binary(16, true), t("bytea")),
            (LogicalType::time(Some(3), false), t("time(3) without time zone")),
            (LogicalType::timestamp(Some(0), true), t("timestamp with time zone")),
            (LogicalType::timestamp(Some(6), false), t("timestamp(6) without time zone")),
            (LogicalType::interval(Some(2)), t("interval(2)")),
            (LogicalType::json(), t("json")),
            (LogicalType::set(vec!["a".into()]), t("text[]")),
            (LogicalType::bit(5, true), t("bit(5)")),
            (LogicalType::array(LogicalType::integer(4, false)), t("integer[]")),
            (LogicalType::geometry("point"), t("point")),
            (LogicalType::geometry("linestring"), t("bytea")),
            (LogicalType::document(), t("jsonb")),
            (LogicalType::other("citext"), Resolved::Lookup { name: "citext".into(), array: false }),
            (LogicalType::other(""), Resolved::Unknown { array: false }),
            (LogicalType::enumeration("", vec!["a".into()]), Resolved::Enum { name: "orders_status".into(), labels: vec!["a".into()] }),
            (
                LogicalType::enumeration("", vec!["new".into(), "paid".into()]),
                Resolved::Enum { name: "orders_status".into(), labels: vec!["new".into(), "paid".into()] },
            ),
        ];
        for (logical, want) in cases {
            assert_eq!(resolve(&logical, "orders", "status"), want, "{}", logical.describe());
        }
        let long = "c".repeat(60);
        assert_eq!(resolve(&LogicalType::enumeration("", vec!["a".into()]), "orders", &long), Resolved::Unknown { array: false });
    }
}
