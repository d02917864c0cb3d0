//! Column types for columns whose type text is not MySQL's: mapped from
//! the column's logical type (see `record::logical`), never from the name
//! of the source.
//!
//! | logical type | MySQL / MariaDB column |
//! |---|---|
//! | bool | `tinyint(1)` |
//! | integer of 1, 2, 3, 4, 8 bytes (signed or not) | `tinyint`, `smallint`, `mediumint`, `int`, `bigint` (`unsigned` kept; `tinyint(1)` when declared a truth value) |
//! | decimal(p,s) | `decimal(p,s)`; unconstrained: `decimal(65,30)`; p > 65 or s > 30 is a definite error naming the column |
//! | float of 4 / 8 bytes | `float` / `double` |
//! | text of fixed n ≤ 255 / at most n ≤ 16,383 / longer or unbounded | `char(n)` / `varchar(n)` / `longtext` |
//! | binary of fixed n ≤ 255 / at most n ≤ 65,532 / longer or unbounded | `binary(n)` / `varbinary(n)` / `longblob` |
//! | date, year | `date`, `year` |
//! | time of day without / with zone | `time(p)` (p = 6 unless given) / `varchar(32)` (MySQL has no zoned time) |
//! | timestamp (with or without zone) | `datetime(p)`, p = 6 unless given (an instant is written as its UTC wall clock; `timestamp` would end in 2038) |
//! | interval | `varchar(64)` (PostgreSQL's text form; MySQL has no interval) |
//! | uuid | `uuid` (MariaDB ≥ 10.7), else `char(36)` |
//! | json, document, array | `json` (arrays as a JSON array of their elements) |
//! | enum / set with labels | `enum(…)` / `set(…)` of the same labels |
//! | geometry | the named spatial type (`point`, `polygon`, …), else `geometry` |
//! | bit, inet, other | `longtext`: the value's text (other types warned once) |

use super::schema::Server;
use crate::record::{LogicalKind, LogicalType};
use crate::sinks::sql::Mapped;

/// Longest `VARCHAR(n)` in utf8mb4 (65,535 bytes / 4); beyond it, text.
const MAX_VARCHAR: u32 = 16_383;
/// Longest `VARBINARY(n)` (a row holds at most 65,535 bytes).
const MAX_VARBINARY: u32 = 65_532;
/// Longest `CHAR(n)` / `BINARY(n)`.
const MAX_FIXED: u32 = 255;
/// MySQL's largest decimal precision and scale.
const MAX_PRECISION: u32 = 65;
const MAX_SCALE: u32 = 30;

fn mapped(t: impl Into<String>) -> Result<Mapped, String> {
    Ok(Mapped { sql_type: t.into(), fallback: false })
}

/// `kind('a','b')` with the labels re-quoted.
pub fn labels_sql(kind: &str, labels: &[String]) -> String {
    let quoted: Vec<String> = labels.iter().map(|l| format!("'{}'", l.replace('\\', "\\\\").replace('\'', "''"))).collect();
    format!("{kind}({})", quoted.join(","))
}

/// The target type of a column of logical type `t`; `Err` when the type
/// cannot hold the values exactly.
pub fn resolve(t: &LogicalType, server: &Server) -> Result<Mapped, String> {
    let fsp = t.fraction_digits().unwrap_or(6).min(6);
    let uns = if t.unsigned { " unsigned" } else { "" };
    match t.kind() {
        LogicalKind::LogicalBool => mapped("tinyint(1)"),
        LogicalKind::LogicalInteger if t.boolean_like && !t.unsigned => mapped("tinyint(1)"),
        LogicalKind::LogicalInteger => {
            let base = match t.width {
                1 => "tinyint",
                2 => "smallint",
                3 => "mediumint",
                4 => "int",
                _ => "bigint",
            };
            mapped(format!("{base}{uns}"))
        }
        LogicalKind::LogicalDecimal => {
            let (p, s) = if t.precision == 0 { (MAX_PRECISION, MAX_SCALE) } else { (t.precision, t.scale) };
            if p > MAX_PRECISION || s > MAX_SCALE {
                return Err(format!(
                    "{} needs DECIMAL({p},{s}), beyond what MySQL and MariaDB allow (precision ≤ 65, scale ≤ 30); values \
                     would be rounded — narrow the column on the source, or create the target column yourself (e.g. as \
                     text) and set create_tables = false",
                    t.describe()
                ));
            }
            mapped(format!("decimal({p},{s})"))
        }
        LogicalKind::LogicalFloat if t.width == 4 => mapped("float"),
        LogicalKind::LogicalFloat => mapped("double"),
        LogicalKind::LogicalText => mapped(match t.width {
            n if n > 0 && t.fixed_length && n <= MAX_FIXED => format!("char({n})"),
            n if n > 0 && n <= MAX_VARCHAR => format!("varchar({n})"),
            _ => "longtext".into(),
        }),
        LogicalKind::LogicalBinary => mapped(match t.width {
            n if n > 0 && t.fixed_length && n <= MAX_FIXED => format!("binary({n})"),
            n if n > 0 && n <= MAX_VARBINARY => format!("varbinary({n})"),
            _ => "longblob".into(),
        }),
        LogicalKind::LogicalDate => mapped("date"),
        LogicalKind::LogicalYear => mapped("year"),
        LogicalKind::LogicalTime if t.with_time_zone => mapped("varchar(32)"),
        LogicalKind::LogicalTime => mapped(format!("time({fsp})")),
        LogicalKind::LogicalTimestamp => mapped(format!("datetime({fsp})")),
        LogicalKind::LogicalInterval => mapped("varchar(64)"),
        LogicalKind::LogicalUuid => mapped(if server.has_uuid() { "uuid" } else { "char(36)" }),
        LogicalKind::LogicalJson | LogicalKind::LogicalDocument | LogicalKind::LogicalArray => mapped("json"),
        LogicalKind::LogicalEnum if !t.labels.is_empty() => mapped(labels_sql("enum", &t.labels)),
        LogicalKind::LogicalSet if !t.labels.is_empty() => mapped(labels_sql("set", &t.labels)),
        LogicalKind::LogicalGeometry => mapped(match t.name.as_str() {
            n @ ("point" | "linestring" | "polygon" | "multipoint" | "multilinestring" | "multipolygon"
            | "geometrycollection") => n,
            _ => "geometry",
        }),
        // Kept as their text on purpose (documented, not warned).
        LogicalKind::LogicalBit | LogicalKind::LogicalInet => mapped("longtext"),
        LogicalKind::LogicalEnum | LogicalKind::LogicalSet | LogicalKind::LogicalOther => {
            Ok(Mapped { sql_type: "longtext".into(), fallback: true })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_types_map_to_mysql_types() {
        let mariadb = Server::parse("10.11.6-MariaDB");
        let cases = [
            (LogicalType::boolean(), "tinyint(1)"),
            (LogicalType::boolean_like(false), "tinyint(1)"),
            (LogicalType::integer(2, false), "smallint"),
            (LogicalType::integer(3, true), "mediumint unsigned"),
            (LogicalType::integer(8, true), "bigint unsigned"),
            (LogicalType::decimal(12, 2), "decimal(12,2)"),
            (LogicalType::decimal(0, 0), "decimal(65,30)"),
            (LogicalType::float(4), "float"),
            (LogicalType::text(0, false), "longtext"),
            (LogicalType::text(20, false), "varchar(20)"),
            (LogicalType::text(3, true), "char(3)"),
            (LogicalType::text(300, true), "varchar(300)"),
            (LogicalType::text(20_000, false), "longtext"),
            (LogicalType::binary(0, false), "longblob"),
            (LogicalType::binary(16, true), "binary(16)"),
            (LogicalType::time(None, false), "time(6)"),
            (LogicalType::time(Some(2), true), "varchar(32)"),
            (LogicalType::timestamp(Some(3), true), "datetime(3)"),
            (LogicalType::interval(None), "varchar(64)"),
            (LogicalType::uuid(), "uuid"),
            (LogicalType::json(), "json"),
            (LogicalType::array(LogicalType::text(0, false)), "json"),
            (LogicalType::enumeration("public.mood", vec!["ok".into(), "it's".into()]), "enum('ok','it''s')"),
            (LogicalType::geometry("geometry"), "geometry"),
            (LogicalType::bit(3, true), "longtext"),
        ];
        for (logical, want) in cases {
            assert_eq!(resolve(&logical, &mariadb).unwrap(), Mapped { sql_type: want.into(), fallback: false }, "{}", logical.describe());
        }
        assert_eq!(resolve(&LogicalType::uuid(), &Server::parse("8.0.36")).unwrap().sql_type, "char(36)");
        assert!(resolve(&LogicalType::other("tsvector"), &mariadb).unwrap().fallback);
        let e = resolve(&LogicalType::decimal(70, 2), &mariadb).unwrap_err();
        assert!(e.contains("DECIMAL(70,2)"), "{e}");
    }
}
