//! Logical column types of MySQL / MariaDB columns (see `record::logical`).
//!
//! Everything needed is in the [`ColumnInfo`] the catalog already reads
//! from information_schema: DATA_TYPE names the type, COLUMN_TYPE adds its
//! arguments, `unsigned` and the ENUM / SET labels, and `is_json` marks
//! MariaDB's JSON (a LONGTEXT with a `json_valid` CHECK). The mapping is a
//! pure function, so no query and no cache:
//!
//! - integers by storage size (TINYINT 1 … BIGINT 8), `unsigned` kept;
//!   `TINYINT(1)` is boolean-like (MySQL's BOOLEAN), still a number;
//! - `FLOAT` is 4 bytes and `DOUBLE` 8, whatever `(M,D)` says;
//! - the TEXT / BLOB families get their byte limits (LONG*: unbounded),
//!   CHAR / BINARY are fixed-length;
//! - `TIME` is a duration (-838:59:59 … 838:59:59), so INTERVAL; `DATETIME`
//!   is a local date-time and `TIMESTAMP` an instant (stored in UTC); the
//!   three always carry their fractional-second digits (0 when none given);
//! - ENUM labels are anonymous in MySQL: the ENUM's `name` stays empty;
//! - anything unknown is OTHER named by its COLUMN_TYPE.

use super::decode::ColumnInfo;
use crate::record::LogicalType;

/// The logical type of a column.
pub fn logical(c: &ColumnInfo) -> LogicalType {
    if c.is_json {
        return LogicalType::json();
    }
    let args = arguments(&c.column_type);
    let arg = |i: usize| args.get(i).copied();
    let unsigned = c.unsigned();
    match c.data_type.as_str() {
        "tinyint" if arg(0) == Some(1) => LogicalType::boolean_like(unsigned),
        "tinyint" => LogicalType::integer(1, unsigned),
        "smallint" => LogicalType::integer(2, unsigned),
        "mediumint" => LogicalType::integer(3, unsigned),
        "int" | "integer" => LogicalType::integer(4, unsigned),
        "bigint" => LogicalType::integer(8, unsigned),
        // COLUMN_TYPE always spells both out; (10,0) is the server default.
        "decimal" | "numeric" => LogicalType::decimal(arg(0).unwrap_or(10), arg(1).unwrap_or(0)),
        "float" => LogicalType::float(4),
        "double" | "real" => LogicalType::float(8),
        "char" => LogicalType::text(arg(0).unwrap_or(1), true),
        "varchar" => LogicalType::text(arg(0).unwrap_or(0), false),
        "tinytext" => LogicalType::text(255, false),
        "text" => LogicalType::text(65_535, false),
        "mediumtext" => LogicalType::text(16_777_215, false),
        "longtext" => LogicalType::text(0, false),
        "binary" => LogicalType::binary(arg(0).unwrap_or(1), true),
        "varbinary" => LogicalType::binary(arg(0).unwrap_or(0), false),
        "tinyblob" => LogicalType::binary(255, false),
        "blob" => LogicalType::binary(65_535, false),
        "mediumblob" => LogicalType::binary(16_777_215, false),
        "longblob" => LogicalType::binary(0, false),
        "date" => LogicalType::date(),
        "datetime" => LogicalType::timestamp(Some(arg(0).unwrap_or(0)), false),
        "timestamp" => LogicalType::timestamp(Some(arg(0).unwrap_or(0)), true),
        "time" => LogicalType::interval(Some(arg(0).unwrap_or(0))),
        "year" => LogicalType::year(),
        "enum" => LogicalType::enumeration("", c.enum_labels()),
        "set" => LogicalType::set(c.set_labels()),
        "json" => LogicalType::json(),
        "bit" => LogicalType::bit(arg(0).unwrap_or(1), true),
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring" | "multipolygon"
        | "geometrycollection" | "geomcollection" => LogicalType::geometry(c.data_type.clone()),
        "uuid" => LogicalType::uuid(),
        "inet4" | "inet6" => LogicalType::inet(),
        _ => LogicalType::other(c.column_type.clone()),
    }
}

/// The numbers in COLUMN_TYPE's first parentheses: `decimal(12,2)` → [12, 2],
/// `int(11) unsigned` → [11], `date` → []. Not for ENUM / SET (quoted labels).
fn arguments(column_type: &str) -> Vec<u32> {
    let Some((_, rest)) = column_type.split_once('(') else { return Vec::new() };
    let Some((inside, _)) = rest.split_once(')') else { return Vec::new() };
    inside.split(',').filter_map(|a| a.trim().parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::LogicalKind;

    fn col(data_type: &str, column_type: &str) -> ColumnInfo {
        ColumnInfo {
            name: "c".into(),
            data_type: data_type.into(),
            column_type: column_type.into(),
            charset: None,
            is_json: false,
        }
    }

    #[test]
    fn logical_from_information_schema() {
        let labels = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases = [
            ("tinyint", "tinyint(1)", LogicalType::boolean_like(false)),
            ("tinyint", "tinyint(1) unsigned", LogicalType::boolean_like(true)),
            ("tinyint", "tinyint(4)", LogicalType::integer(1, false)),
            ("tinyint", "tinyint(3) unsigned", LogicalType::integer(1, true)),
            ("smallint", "smallint(6)", LogicalType::integer(2, false)),
            ("mediumint", "mediumint(8) unsigned", LogicalType::integer(3, true)),
            ("int", "int(11)", LogicalType::integer(4, false)),
            ("int", "int", LogicalType::integer(4, false)),
            ("int", "int(10) unsigned zerofill", LogicalType::integer(4, true)),
            ("bigint", "bigint(20) unsigned", LogicalType::integer(8, true)),
            ("decimal", "decimal(12,2)", LogicalType::decimal(12, 2)),
            ("decimal", "decimal(65,30) unsigned", LogicalType::decimal(65, 30)),
            ("float", "float", LogicalType::float(4)),
            ("float", "float(7,3)", LogicalType::float(4)),
            ("double", "double", LogicalType::float(8)),
            ("char", "char(3)", LogicalType::text(3, true)),
            ("varchar", "varchar(255)", LogicalType::text(255, false)),
            ("tinytext", "tinytext", LogicalType::text(255, false)),
            ("text", "text", LogicalType::text(65_535, false)),
            ("mediumtext", "mediumtext", LogicalType::text(16_777_215, false)),
            ("longtext", "longtext", LogicalType::text(0, false)),
            ("binary", "binary(16)", LogicalType::binary(16, true)),
            ("varbinary", "varbinary(20)", LogicalType::binary(20, false)),
            ("tinyblob", "tinyblob", LogicalType::binary(255, false)),
            ("blob", "blob", LogicalType::binary(65_535, false)),
            ("mediumblob", "mediumblob", LogicalType::binary(16_777_215, false)),
            ("longblob", "longblob", LogicalType::binary(0, false)),
            ("date", "date", LogicalType::date()),
            ("datetime", "datetime", LogicalType::timestamp(Some(0), false)),
            ("datetime", "datetime(6)", LogicalType::timestamp(Some(6), false)),
            ("timestamp", "timestamp(3)", LogicalType::timestamp(Some(3), true)),
            ("time", "time", LogicalType::interval(Some(0))),
            ("time", "time(2)", LogicalType::interval(Some(2))),
            ("year", "year(4)", LogicalType::year()),
            ("enum", "enum('a','b''c','x,y')", LogicalType::enumeration("", labels(&["a", "b'c", "x,y"]))),
            ("set", "set('r','w')", LogicalType::set(labels(&["r", "w"]))),
            ("json", "json", LogicalType::json()),
            ("bit", "bit(12)", LogicalType::bit(12, true)),
            ("geometry", "geometry", LogicalType::geometry("geometry")),
            ("point", "point", LogicalType::geometry("point")),
            ("multipolygon", "multipolygon", LogicalType::geometry("multipolygon")),
            ("geometrycollection", "geometrycollection", LogicalType::geometry("geometrycollection")),
            ("uuid", "uuid", LogicalType::uuid()),
            ("inet4", "inet4", LogicalType::inet()),
            ("inet6", "inet6", LogicalType::inet()),
            ("vector", "vector(3)", LogicalType::other("vector(3)")),
        ];
        for (data_type, column_type, want) in cases {
            assert_eq!(logical(&col(data_type, column_type)), want, "{column_type}: want {}", want.describe());
        }
    }

    #[test]
    fn logical_mariadb_json_is_json() {
        let j = ColumnInfo { is_json: true, ..col("longtext", "longtext") };
        assert_eq!(logical(&j).kind(), LogicalKind::LogicalJson);
    }

    #[test]
    fn logical_arguments() {
        assert_eq!(arguments("decimal(12,2) unsigned"), [12, 2]);
        assert_eq!(arguments("int(11)"), [11]);
        assert!(arguments("date").is_empty());
    }
}
