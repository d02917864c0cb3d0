//! The builtin types logferry knows by oid: their table (name, array
//! type, decoded natively or kept as text), the resolver from an oid to
//! a [`PgType`] and a name, and the dispatch of a builtin's text to its
//! parser.
use super::*;
use super::scalars::{check_numeric, parse_bytea, parse_float, parse_uuid};
use super::temporal::{parse_date, parse_interval, parse_time, parse_timestamp};

pub(super) const BOOL: u32 = 16;
pub(super) const BYTEA: u32 = 17;
pub(super) const CHAR: u32 = 18;
pub(super) const NAME: u32 = 19;
pub(super) const INT8: u32 = 20;
pub(super) const INT2: u32 = 21;
pub(super) const INT4: u32 = 23;
pub(super) const TEXT: u32 = 25;
pub(super) const OID: u32 = 26;
pub(super) const JSON: u32 = 114;
pub(super) const FLOAT4: u32 = 700;
pub(super) const FLOAT8: u32 = 701;
pub(super) const BPCHAR: u32 = 1042;
pub(super) const VARCHAR: u32 = 1043;
pub(super) const DATE: u32 = 1082;
pub(super) const TIME: u32 = 1083;
pub(super) const TIMESTAMP: u32 = 1114;
pub(super) const TIMESTAMPTZ: u32 = 1184;
pub(super) const INTERVAL: u32 = 1186;
pub(super) const TIMETZ: u32 = 1266;
pub(super) const NUMERIC: u32 = 1700;
pub(super) const UUID: u32 = 2950;
pub(super) const JSONB: u32 = 3802;
const BOX: u32 = 603;

/// One builtin type: oid, name, array type oid, decoded natively (else
/// kept as text in `Other`). Oids from PostgreSQL 15's `pg_type`; they are
/// fixed across versions.
pub(super) const BUILTINS: &[(u32, &str, u32, bool)] = &[
    (BOOL, "bool", 1000, true),
    (BYTEA, "bytea", 1001, true),
    (CHAR, "char", 1002, true),
    (NAME, "name", 1003, true),
    (INT8, "int8", 1016, true),
    (INT2, "int2", 1005, true),
    (INT4, "int4", 1007, true),
    (TEXT, "text", 1009, true),
    (OID, "oid", 1028, true),
    (JSON, "json", 199, true),
    (FLOAT4, "float4", 1021, true),
    (FLOAT8, "float8", 1022, true),
    (BPCHAR, "bpchar", 1014, true),
    (VARCHAR, "varchar", 1015, true),
    (DATE, "date", 1182, true),
    (TIME, "time", 1183, true),
    (TIMESTAMP, "timestamp", 1115, true),
    (TIMESTAMPTZ, "timestamptz", 1185, true),
    (INTERVAL, "interval", 1187, true),
    (TIMETZ, "timetz", 1270, true),
    (NUMERIC, "numeric", 1231, true),
    (UUID, "uuid", 2951, true),
    (JSONB, "jsonb", 3807, true),
    // Kept as text.
    (22, "int2vector", 1006, false),
    (24, "regproc", 1008, false),
    (27, "tid", 1010, false),
    (28, "xid", 1011, false),
    (29, "cid", 1012, false),
    (30, "oidvector", 1013, false),
    (142, "xml", 143, false),
    (600, "point", 1017, false),
    (601, "lseg", 1018, false),
    (602, "path", 1019, false),
    (BOX, "box", 1020, false),
    (604, "polygon", 1027, false),
    (628, "line", 629, false),
    (650, "cidr", 651, false),
    (718, "circle", 719, false),
    (774, "macaddr8", 775, false),
    (790, "money", 791, false),
    (829, "macaddr", 1040, false),
    (869, "inet", 1041, false),
    (1033, "aclitem", 1034, false),
    (1560, "bit", 1561, false),
    (1562, "varbit", 1563, false),
    (2202, "regprocedure", 2207, false),
    (2203, "regoper", 2208, false),
    (2204, "regoperator", 2209, false),
    (2205, "regclass", 2210, false),
    (2206, "regtype", 2211, false),
    (2970, "txid_snapshot", 2949, false),
    (3220, "pg_lsn", 3221, false),
    (3614, "tsvector", 3643, false),
    (3615, "tsquery", 3645, false),
    (3734, "regconfig", 3735, false),
    (3769, "regdictionary", 3770, false),
    (3904, "int4range", 3905, false),
    (3906, "numrange", 3907, false),
    (3908, "tsrange", 3909, false),
    (3910, "tstzrange", 3911, false),
    (3912, "daterange", 3913, false),
    (3926, "int8range", 3927, false),
    (4072, "jsonpath", 4073, false),
    (4089, "regnamespace", 4090, false),
    (4096, "regrole", 4097, false),
    (4191, "regcollation", 4192, false),
    (4451, "int4multirange", 6150, false),
    (4532, "nummultirange", 6151, false),
    (4533, "tsmultirange", 6152, false),
    (4534, "tstzmultirange", 6153, false),
    (4535, "datemultirange", 6155, false),
    (4536, "int8multirange", 6157, false),
    (5038, "pg_snapshot", 5039, false),
    (5069, "xid8", 271, false),
];

fn builtin_entry(oid: u32) -> Option<&'static (u32, &'static str, u32, bool)> {
    BUILTINS.iter().find(|e| e.0 == oid)
}

/// The type of a builtin oid, without a catalog query: `Builtin` for the
/// scalars decoded natively, `Other` (with the bare type name) for the
/// builtins kept as text, and `Array` for the array types of both (e.g.
/// 1007 `_int4` → `Array { element: Builtin(23) }`). `None` for oids that
/// are not builtins known here (user types: ask `pg_type`).
pub fn builtin_oid(oid: u32) -> Option<PgType> {
    if let Some(&(oid, name, _, native)) = builtin_entry(oid) {
        return Some(if native { PgType::Builtin(oid) } else { PgType::Other { name: name.to_owned() } });
    }
    let &(elem, name, _, _) = BUILTINS.iter().find(|e| e.2 == oid)?;
    Some(PgType::Array {
        name: format!("_{name}"),
        element: Box::new(builtin_oid(elem)?),
        delimiter: if elem == BOX { b';' } else { b',' },
    })
}

/// The type's name as the canonical record carries it (`Array.element_type`,
/// `Other.type_name`): `int4`, `public.mood`, `_int4`. A `Builtin` oid this
/// module does not know is named `oid <n>`.
pub fn type_name(ty: &PgType) -> String {
    match ty {
        PgType::Builtin(oid) => match builtin_entry(*oid) {
            Some(e) => e.1.to_owned(),
            None => format!("oid {oid}"),
        },
        PgType::Enum { name } | PgType::Domain { name, .. } | PgType::Array { name, .. } | PgType::Other { name } => {
            name.clone()
        }
    }
}

pub(super) fn builtin(oid: u32, text: &str) -> Result<Kind, Reason> {
    Ok(match oid {
        BOOL => match text {
            "t" => Kind::Bool(true),
            "f" => Kind::Bool(false),
            _ => return Err("expected t or f"),
        },
        INT2 => Kind::Int64(text.parse::<i16>().map_err(|_| "not a 16-bit integer")?.into()),
        INT4 => Kind::Int64(text.parse::<i32>().map_err(|_| "not a 32-bit integer")?.into()),
        INT8 => Kind::Int64(text.parse::<i64>().map_err(|_| "not a 64-bit integer")?),
        OID => Kind::Int64(text.parse::<u32>().map_err(|_| "not an unsigned 32-bit integer")?.into()),
        FLOAT4 => Kind::Float32(parse_float(text)?),
        FLOAT8 => Kind::Float64(parse_float(text)?),
        NUMERIC => {
            check_numeric(text)?;
            Kind::Decimal(text.to_owned())
        }
        TEXT | VARCHAR | BPCHAR | NAME | CHAR => Kind::Text(text.to_owned()),
        BYTEA => Kind::Bytes(parse_bytea(text)?),
        DATE => Kind::Date(parse_date(text)?),
        TIME => Kind::Time(parse_time(text, false)?),
        TIMETZ => Kind::Time(parse_time(text, true)?),
        TIMESTAMP => Kind::Timestamp(parse_timestamp(text, false)?),
        TIMESTAMPTZ => Kind::Timestamptz(parse_timestamp(text, true)?),
        INTERVAL => Kind::Interval(parse_interval(text)?),
        UUID => Kind::Uuid(parse_uuid(text)?),
        JSON | JSONB => Kind::Json(text.to_owned()),
        _ => match builtin_entry(oid) {
            Some(&(_, name, _, _)) => Kind::Other(Other { type_name: name.to_owned(), text: text.to_owned() }),
            None => return Err("not a builtin type oid logferry knows; resolve it from pg_type"),
        },
    })
}
