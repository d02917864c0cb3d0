//! Logical column types of PostgreSQL columns (see `record::logical`).
//!
//! A column's type is an oid plus a typmod (`atttypmod`, or the type
//! modifier of a Relation message). Builtin scalars are mapped from the oid
//! alone, decoding the typmod as the server does: `varchar(n)` and
//! `bpchar(n)` store n + 4, `numeric(p,s)` stores ((p << 16) | s) + 4 with
//! an 11-bit signed scale, `interval` keeps its precision in the low 16
//! bits (0xFFFF: none given), the time types and `bit(n)` store the number
//! itself. Builtins that values keep as text (`money`, `xml`, ranges, …)
//! are OTHER by the name `types` gives them, so a column's logical type and
//! the kind of its values always agree.
//!
//! Every other oid (enums, domains, arrays, composites, extension types) is
//! looked up in `pg_type` once per session and cached per oid; the typmod
//! is applied afterwards, so one lookup serves `varchar(5)[]` and
//! `varchar(9)[]` alike:
//!
//! - enum: ENUM named `schema.type` (quoted as `format_type` quotes a
//!   qualified name), labels in `enumsortorder`;
//! - domain: its base type's logical type with the domain's own typmod
//!   (`source_type` stays the domain's name);
//! - array: ARRAY of the element type; an array column's typmod is its
//!   element's (`varchar(5)[]` has typmod 9);
//! - PostGIS `geometry`: GEOMETRY; other base types of the string category
//!   (`citext` and its kind): unbounded TEXT;
//! - anything else: OTHER named by `format_type(oid, typmod)`.

use super::types::{self, PgType};
use super::{sql_error, SourceResult};
use crate::record::LogicalType;
use std::collections::HashMap;
use tokio_postgres::Client;

/// Bytes of length header a `varchar` / `bpchar` / `numeric` typmod counts.
const VARHDRSZ: i32 = 4;
/// `interval`'s typmod precision bits meaning "no precision given".
const INTERVAL_FULL_PRECISION: i32 = 0xFFFF;
/// `name` holds at most NAMEDATALEN - 1 bytes, so never more characters.
const NAME_MAX: u32 = 63;

/// What `pg_type` says about a non-builtin type: enough to derive its
/// logical type for any typmod.
#[derive(Debug, Clone, PartialEq)]
enum Facts {
    Enum { name: String, labels: Vec<String> },
    /// A domain: its base type and the typmod the domain gives it.
    Domain { base: u32, typmod: i32 },
    Array { element: u32 },
    Geometry,
    /// A string-category base type of an extension (`citext`).
    Text,
    /// `format_type(oid, NULL)`.
    Other { name: String },
}

/// Maps type oids + typmods to logical types, caching catalog lookups.
#[derive(Default)]
pub struct LogicalResolver {
    facts: HashMap<u32, Facts>,
    /// `format_type(oid, typmod)` of OTHER types with a typmod.
    names: HashMap<(u32, i32), String>,
}

impl LogicalResolver {
    /// The logical type of a column of type `oid` with modifier `typmod`.
    pub async fn resolve(&mut self, client: &Client, oid: u32, typmod: i32, source: &str) -> SourceResult<LogicalType> {
        if let Some(t) = builtin(oid, typmod) {
            return Ok(t);
        }
        if let Some(PgType::Other { name }) = types::builtin_oid(oid) {
            return Ok(LogicalType::other(name));
        }
        let facts = match self.facts.get(&oid) {
            Some(f) => f.clone(),
            None => {
                let f = lookup(client, oid, source).await?;
                self.facts.insert(oid, f.clone());
                f
            }
        };
        Ok(match facts {
            Facts::Enum { name, labels } => LogicalType::enumeration(name, labels),
            Facts::Domain { base, typmod } => Box::pin(self.resolve(client, base, typmod, source)).await?,
            Facts::Array { element } => LogicalType::array(Box::pin(self.resolve(client, element, typmod, source)).await?),
            Facts::Geometry => LogicalType::geometry(self.type_text(client, oid, typmod, "geometry", source).await?),
            Facts::Text => LogicalType::text(0, false),
            Facts::Other { name } => LogicalType::other(self.type_text(client, oid, typmod, &name, source).await?),
        })
    }

    /// The logical types of catalog columns, in order.
    pub async fn columns(
        &mut self,
        client: &Client,
        cols: &[super::catalog::CatalogColumn],
        source: &str,
    ) -> SourceResult<Vec<LogicalType>> {
        let mut out = Vec::with_capacity(cols.len());
        for c in cols {
            out.push(self.resolve(client, c.type_oid, c.type_modifier, source).await?);
        }
        Ok(out)
    }

    /// `format_type(oid, typmod)`: `plain` (the typmod-less text) when there
    /// is no typmod, else asked once per (oid, typmod).
    async fn type_text(&mut self, client: &Client, oid: u32, typmod: i32, plain: &str, source: &str) -> SourceResult<String> {
        if typmod < 0 {
            return Ok(plain.to_owned());
        }
        if let Some(n) = self.names.get(&(oid, typmod)) {
            return Ok(n.clone());
        }
        let row = client
            .query_one("SELECT format_type($1, $2)", &[&oid, &typmod])
            .await
            .map_err(|e| sql_error(source, &format!("formatting type {oid}"), &e))?;
        let n: String = row.get(0);
        self.names.insert((oid, typmod), n.clone());
        Ok(n)
    }
}

async fn lookup(client: &Client, oid: u32, source: &str) -> SourceResult<Facts> {
    let row = client
        .query_opt(
            "SELECT t.typtype::text, t.typcategory::text, t.typbasetype, t.typtypmod, t.typelem,
                    quote_ident(n.nspname) || '.' || quote_ident(t.typname), format_type(t.oid, NULL),
                    t.typname::text,
                    COALESCE((SELECT x.extname::text FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid
                               WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                                 AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' LIMIT 1), ''),
                    ARRAY(SELECT l.enumlabel::text FROM pg_enum l WHERE l.enumtypid = t.oid ORDER BY l.enumsortorder)
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = $1",
            &[&oid],
        )
        .await
        .map_err(|e| sql_error(source, &format!("looking up type {oid}"), &e))?;
    let Some(row) = row else {
        return Ok(Facts::Other { name: format!("oid {oid}") });
    };
    let typtype: String = row.get(0);
    let category: String = row.get(1);
    let typname: String = row.get(7);
    let extension: String = row.get(8);
    Ok(match (typtype.as_str(), category.as_str()) {
        ("e", _) => Facts::Enum { name: row.get(5), labels: row.get(9) },
        ("d", _) => Facts::Domain { base: row.get(2), typmod: row.get(3) },
        // Same test as the value path (`catalog::TypeResolver`), so a column
        // is an ARRAY exactly when its values are arrays.
        (_, "A") if row.get::<_, u32>(4) != 0 => Facts::Array { element: row.get(4) },
        ("b", _) if typname == "geometry" && extension == "postgis" => Facts::Geometry,
        ("b", "S") => Facts::Text,
        _ => Facts::Other { name: row.get(6) },
    })
}

/// The logical type of a builtin scalar decoded natively (plus `inet`,
/// `cidr`, `bit` and `varbit`, which are kept as text but have a logical
/// kind of their own); None for every other oid.
fn builtin(oid: u32, typmod: i32) -> Option<LogicalType> {
    // A length typmod (varchar, bpchar) counts the header; -1: none.
    let length = || u32::try_from(typmod - VARHDRSZ).unwrap_or(0);
    let digits = || u32::try_from(typmod).ok();
    Some(match oid {
        16 => LogicalType::boolean(),
        21 => LogicalType::integer(2, false),
        23 => LogicalType::integer(4, false),
        20 => LogicalType::integer(8, false),
        // `oid`: an unsigned 4-byte number.
        26 => LogicalType::integer(4, true),
        1700 => numeric(typmod),
        700 => LogicalType::float(4),
        701 => LogicalType::float(8),
        25 => LogicalType::text(0, false),
        1043 => LogicalType::text(length(), false),
        // `bpchar` without a length (rare: casts, functions) is unbounded.
        1042 => LogicalType::text(length(), typmod >= VARHDRSZ),
        19 => LogicalType::text(NAME_MAX, false),
        // `"char"`: one byte, or empty.
        18 => LogicalType::text(1, false),
        17 => LogicalType::binary(0, false),
        1082 => LogicalType::date(),
        1083 => LogicalType::time(digits(), false),
        1266 => LogicalType::time(digits(), true),
        1114 => LogicalType::timestamp(digits(), false),
        1184 => LogicalType::timestamp(digits(), true),
        1186 => LogicalType::interval(match typmod & INTERVAL_FULL_PRECISION {
            _ if typmod < 0 => None,
            INTERVAL_FULL_PRECISION => None,
            p => Some(p as u32),
        }),
        2950 => LogicalType::uuid(),
        114 | 3802 => LogicalType::json(),
        1560 => LogicalType::bit(digits().unwrap_or(0), typmod >= 0),
        1562 => LogicalType::bit(digits().unwrap_or(0), false),
        869 | 650 => LogicalType::inet(),
        _ => return None,
    })
}

/// `numeric(p,s)` from its typmod; unconstrained (-1) is precision 0.
/// PostgreSQL 15 also allows a negative scale (`numeric(3,-2)` rounds to
/// hundreds) and a scale above the precision (`numeric(2,5)`, values below
/// 0.001); both become the smallest ordinary decimal that holds every
/// value: `decimal(5,0)` and `decimal(5,5)`.
fn numeric(typmod: i32) -> LogicalType {
    if typmod < VARHDRSZ {
        return LogicalType::decimal(0, 0);
    }
    let t = typmod - VARHDRSZ;
    let precision = (t >> 16) & 0xFFFF;
    // The scale is an 11-bit two's-complement number.
    let scale = ((t & 0x7FF) ^ 0x400) - 0x400;
    let (precision, scale) = if scale < 0 { (precision - scale, 0) } else { (precision.max(scale), scale) };
    LogicalType::decimal(precision as u32, scale as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typmod PostgreSQL stores for `numeric(p,s)`.
    fn numeric_typmod(p: i32, s: i32) -> i32 {
        ((p << 16) | (s & 0x7FF)) + VARHDRSZ
    }

    #[test]
    fn logical_builtins_from_oid_and_typmod() {
        let cases = [
            (16, -1, LogicalType::boolean()),
            (21, -1, LogicalType::integer(2, false)),
            (23, -1, LogicalType::integer(4, false)),
            (20, -1, LogicalType::integer(8, false)),
            (26, -1, LogicalType::integer(4, true)),
            (1700, -1, LogicalType::decimal(0, 0)),
            (1700, numeric_typmod(12, 2), LogicalType::decimal(12, 2)),
            (1700, numeric_typmod(5, 0), LogicalType::decimal(5, 0)),
            // Measured: numeric(3,-2) has typmod 198658.
            (1700, 198_658, LogicalType::decimal(5, 0)),
            (1700, numeric_typmod(2, 5), LogicalType::decimal(5, 5)),
            (700, -1, LogicalType::float(4)),
            (701, -1, LogicalType::float(8)),
            (25, -1, LogicalType::text(0, false)),
            (1043, -1, LogicalType::text(0, false)),
            (1043, 24, LogicalType::text(20, false)),
            (1042, 7, LogicalType::text(3, true)),
            (1042, -1, LogicalType::text(0, false)),
            (19, -1, LogicalType::text(63, false)),
            (18, -1, LogicalType::text(1, false)),
            (17, -1, LogicalType::binary(0, false)),
            (1082, -1, LogicalType::date()),
            (1083, -1, LogicalType::time(None, false)),
            (1083, 0, LogicalType::time(Some(0), false)),
            (1266, 3, LogicalType::time(Some(3), true)),
            (1114, 6, LogicalType::timestamp(Some(6), false)),
            (1184, -1, LogicalType::timestamp(None, true)),
            (1186, -1, LogicalType::interval(None)),
            // Measured: interval(3) and `interval day to second(2)`.
            (1186, 2_147_418_115, LogicalType::interval(Some(3))),
            (1186, 470_286_338, LogicalType::interval(Some(2))),
            // `interval year to month`: a range, no precision.
            (1186, (4 << 16) | INTERVAL_FULL_PRECISION, LogicalType::interval(None)),
            (2950, -1, LogicalType::uuid()),
            (114, -1, LogicalType::json()),
            (3802, -1, LogicalType::json()),
            (1560, 8, LogicalType::bit(8, true)),
            (1562, 16, LogicalType::bit(16, false)),
            (1562, -1, LogicalType::bit(0, false)),
            (869, -1, LogicalType::inet()),
            (650, -1, LogicalType::inet()),
        ];
        for (oid, typmod, want) in cases {
            assert_eq!(builtin(oid, typmod), Some(want.clone()), "oid {oid} typmod {typmod}: want {}", want.describe());
        }
        // Builtins kept as text and user types are not mapped here.
        for oid in [790, 142, 600, 3904, 1007, 16_384] {
            assert_eq!(builtin(oid, -1), None, "oid {oid}");
        }
    }
}
