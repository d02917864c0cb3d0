//! Row statement parameters in PostgreSQL's binary format.
//!
//! Each row statement takes one array parameter per column (see `sql.rs`).
//! When the target column's type is one of [`BinType`]'s and every value of
//! the batch for that column has that type's binary form, the parameter is
//! an array of that type (`int8[]`, `timestamptz[]`, …) written here directly
//! from the values, and the statement uses it as is
//! (`unnest($1::int8[])`, no cast). Otherwise the column keeps the text
//! path: a `text[]` of PostgreSQL input text (see `value/`) cast on the
//! server (`lf_u.c0::<type>`), exactly as before binary parameters existed.
//!
//! A value only takes a binary form when that form means exactly what its
//! text would: an integer in the column's range, a `float32` into `real`
//! and a `float64` into `double precision` (bit for bit, NaN and ±infinity
//! included), a timestamp with whole microseconds inside PostgreSQL's range,
//! and so on ([`cell`]). Anything else (a string into an integer column, an
//! integer out of `smallint`'s range, a `float32` into `double precision`,
//! a varchar(n) value longer than n, a decimal in exponent form) puts that
//! column of that batch on the text path, so the server gives the same
//! definite error, or the same value, as the text path always did: nothing
//! is converted on the client.
//!
//! The same element encoders (`element`) write the values of new rows
//! into `COPY … (FORMAT binary)` data (`copy.rs`); a group goes by COPY
//! only when every one of its columns would be a binary parameter here
//! ([`ColumnParam::binary`]), so COPY and the upsert send the same bytes
//! for each value and the server applies the column's type modifier
//! (`numeric(p,s)`, `varchar(n)`) the same way.

use super::schema::ColumnInfo;
use super::sql::{self, Col};
use super::value::{self, render, RenderError};
use crate::record::{value::Kind, Date, Special, Timestamp, Value};
use crate::sinks::json_text;
use bytes::{BufMut, Bytes, BytesMut};
use std::borrow::Cow;
use std::error::Error;
use tokio_postgres::types::{to_sql_checked, IsNull, Kind as PgKind, ToSql, Type};

/// A target column type whose values can be sent in binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinType {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Bool,
    Text,
    /// `character varying(n)` (`None`: no limit).
    Varchar(Option<usize>),
    Bytea,
    Uuid,
    Date,
    Timestamp,
    Timestamptz,
    /// `numeric` and `numeric(p,s)` (the server applies `(p,s)` on assignment).
    Numeric,
    Jsonb,
}

impl BinType {
    /// The binary type for a column whose type `format_type` prints as
    /// `sql_type`; `None` for every other type (arrays, domains, user types, …).
    pub fn of(sql_type: &str) -> Option<BinType> {
        Some(match sql_type {
            "smallint" => BinType::Int2,
            "integer" => BinType::Int4,
            "bigint" => BinType::Int8,
            "real" => BinType::Float4,
            "double precision" => BinType::Float8,
            "boolean" => BinType::Bool,
            "text" => BinType::Text,
            "character varying" => BinType::Varchar(None),
            "bytea" => BinType::Bytea,
            "uuid" => BinType::Uuid,
            "date" => BinType::Date,
            "timestamp without time zone" => BinType::Timestamp,
            "timestamp with time zone" => BinType::Timestamptz,
            "numeric" => BinType::Numeric,
            "jsonb" => BinType::Jsonb,
            _ => {
                let inner = |prefix: &str| sql_type.strip_prefix(prefix).and_then(|r| r.strip_suffix(')'));
                if let Some(n) = inner("character varying(") {
                    return n.parse().ok().map(|n| BinType::Varchar(Some(n)));
                }
                let ps = inner("numeric(")?;
                if ps.split(',').all(|p| p.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()) && !p.is_empty()) {
                    return Some(BinType::Numeric);
                }
                return None;
            }
        })
    }

    /// The element type of the parameter array.
    pub fn element_type(self) -> Type {
        match self {
            BinType::Int2 => Type::INT2,
            BinType::Int4 => Type::INT4,
            BinType::Int8 => Type::INT8,
            BinType::Float4 => Type::FLOAT4,
            BinType::Float8 => Type::FLOAT8,
            BinType::Bool => Type::BOOL,
            BinType::Text => Type::TEXT,
            BinType::Varchar(_) => Type::VARCHAR,
            BinType::Bytea => Type::BYTEA,
            BinType::Uuid => Type::UUID,
            BinType::Date => Type::DATE,
            BinType::Timestamp => Type::TIMESTAMP,
            BinType::Timestamptz => Type::TIMESTAMPTZ,
            BinType::Numeric => Type::NUMERIC,
            BinType::Jsonb => Type::JSONB,
        }
    }

    /// The parameter array's type.
    pub fn array_type(self) -> Type {
        match self {
            BinType::Int2 => Type::INT2_ARRAY,
            BinType::Int4 => Type::INT4_ARRAY,
            BinType::Int8 => Type::INT8_ARRAY,
            BinType::Float4 => Type::FLOAT4_ARRAY,
            BinType::Float8 => Type::FLOAT8_ARRAY,
            BinType::Bool => Type::BOOL_ARRAY,
            BinType::Text => Type::TEXT_ARRAY,
            BinType::Varchar(_) => Type::VARCHAR_ARRAY,
            BinType::Bytea => Type::BYTEA_ARRAY,
            BinType::Uuid => Type::UUID_ARRAY,
            BinType::Date => Type::DATE_ARRAY,
            BinType::Timestamp => Type::TIMESTAMP_ARRAY,
            BinType::Timestamptz => Type::TIMESTAMPTZ_ARRAY,
            BinType::Numeric => Type::NUMERIC_ARRAY,
            BinType::Jsonb => Type::JSONB_ARRAY,
        }
    }

    /// The element type's name in SQL (`$1::<name>[]`); `pg_catalog` is
    /// searched first, so these always name the built-in types.
    pub fn sql_name(self) -> &'static str {
        match self {
            BinType::Int2 => "int2",
            BinType::Int4 => "int4",
            BinType::Int8 => "int8",
            BinType::Float4 => "float4",
            BinType::Float8 => "float8",
            BinType::Bool => "bool",
            BinType::Text => "text",
            BinType::Varchar(_) => "varchar",
            BinType::Bytea => "bytea",
            BinType::Uuid => "uuid",
            BinType::Date => "date",
            BinType::Timestamp => "timestamp",
            BinType::Timestamptz => "timestamptz",
            BinType::Numeric => "numeric",
            BinType::Jsonb => "jsonb",
        }
    }
}

/// One value as the postgres target holds it between planning and sending:
/// PostgreSQL input text, or a value with an exact binary form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PgValue {
    /// Input text (see `value/`); also the binary form of text, varchar,
    /// jsonb and (when it is plain digits) numeric.
    Text(String),
    Bool(bool),
    /// An integer within the column's range.
    Int(i64),
    /// `real`, as bits (NaN in one canonical form).
    Float4(u32),
    /// `double precision`, as bits (NaN in one canonical form).
    Float8(u64),
    Bytes(Bytes),
    Uuid([u8; 16]),
    /// Days since 2000-01-01; `i32::MIN` / `i32::MAX` are ∓infinity.
    Date(i32),
    /// Microseconds since 2000-01-01 00:00 (UTC for timestamptz);
    /// `i64::MIN` / `i64::MAX` are ∓infinity. `tz`: the value was a
    /// timestamptz (its text carries `+00`).
    Timestamp { micros: i64, tz: bool },
}

/// A value or SQL NULL (`None`): one cell of the batch plan.
pub type PgCell = Option<PgValue>;

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
const EPOCH_DAYS: i64 = 10_957;
/// The dates PostgreSQL accepts, in days since 2000-01-01 (4713-11-24 BC up to, not including, 5874898-01-01).
const DATE_RANGE: std::ops::Range<i64> = -2_451_545..2_147_483_494 - 2_451_545;
/// The timestamps PostgreSQL accepts, in microseconds since 2000-01-01 (up to, not including, 294277-01-01).
const TIMESTAMP_RANGE: std::ops::Range<i64> = -211_813_488_000_000_000..9_223_371_331_200_000_000;

/// The cell for value `v` of `column`: its binary form when it has one that
/// means exactly the same, else its input text (or the reason it has none).
pub fn cell(v: &Value, column: &ColumnInfo) -> Result<PgCell, RenderError> {
    if let (Some(bt), Some(kind)) = (column.binary, &v.kind) {
        if let Some(b) = direct(kind, bt) {
            return Ok(Some(b));
        }
    }
    let text = render(v, column.target)?;
    Ok(text.map(|t| column.binary.and_then(|bt| canonical(&t, bt)).unwrap_or(PgValue::Text(t))))
}

/// The binary form of input text `t` for an integer or uuid column, when
/// `t` is exactly the text that binary value renders to. So a key that
/// arrives once as an integer and once as the same digits in a string
/// (a JSON source, a type changed on the source) stays one key in the
/// batch plan, as it is on the text path; any other spelling (`01`, ` 1`,
/// upper-case hex) stays text, which the server casts.
fn canonical(t: &str, bt: BinType) -> Option<PgValue> {
    use BinType as B;
    let v = match bt {
        B::Int2 | B::Int4 | B::Int8 => direct(&Kind::Int64(t.parse().ok()?), bt)?,
        B::Uuid if t.len() == 36 => {
            let hex: String = t.chars().filter(|&c| c != '-').collect();
            let mut b = [0u8; 16];
            for (i, byte) in b.iter_mut().enumerate() {
                *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
            }
            PgValue::Uuid(b)
        }
        _ => return None,
    };
    (v.text() == t).then_some(v)
}

fn direct(kind: &Kind, bt: BinType) -> Option<PgValue> {
    use BinType as B;
    let int = |i: i64| {
        let fits = match bt {
            B::Int2 => i16::try_from(i).is_ok(),
            B::Int4 => i32::try_from(i).is_ok(),
            B::Int8 => true,
            _ => false,
        };
        fits.then_some(PgValue::Int(i))
    };
    match (bt, kind) {
        (B::Bool, Kind::Bool(b)) => Some(PgValue::Bool(*b)),
        (_, Kind::Int64(i)) => int(*i),
        (_, Kind::Int32(i)) => int(i64::from(*i)),
        (_, Kind::Uint64(u)) => int(i64::try_from(*u).ok()?),
        (B::Float4, Kind::Float32(f)) => Some(PgValue::Float4(if f.is_nan() { f32::NAN } else { *f }.to_bits())),
        (B::Float8, Kind::Float64(f)) => Some(PgValue::Float8(if f.is_nan() { f64::NAN } else { *f }.to_bits())),
        (B::Bytea, Kind::Bytes(b)) => Some(PgValue::Bytes(b.clone())),
        (B::Bytea, Kind::Binary(b)) => Some(PgValue::Bytes(b.data.clone())),
        (B::Uuid, Kind::Uuid(b)) => Some(PgValue::Uuid(b[..].try_into().ok()?)),
        (B::Date, Kind::Date(d)) => date(d),
        (B::Timestamp | B::Timestamptz, Kind::Timestamp(t)) => timestamp(t, false),
        (B::Timestamp | B::Timestamptz, Kind::Timestamptz(t)) => timestamp(t, true),
        _ => None,
    }
}

fn date(d: &Date) -> Option<PgValue> {
    match Special::try_from(d.special).ok()? {
        Special::PosInfinity => Some(PgValue::Date(i32::MAX)),
        Special::NegInfinity => Some(PgValue::Date(i32::MIN)),
        Special::Finite => {
            let days = i64::from(d.days) - EPOCH_DAYS;
            DATE_RANGE.contains(&days).then_some(PgValue::Date(i32::try_from(days).ok()?))
        }
        Special::Zero => None,
    }
}

fn timestamp(t: &Timestamp, tz: bool) -> Option<PgValue> {
    let micros = match Special::try_from(t.special).ok()? {
        Special::PosInfinity => i64::MAX,
        Special::NegInfinity => i64::MIN,
        // PostgreSQL would round a fraction finer than microseconds: the text path keeps that.
        Special::Finite if t.nanos < 1_000_000_000 && t.nanos % 1000 == 0 => {
            let m = (i128::from(t.seconds) - EPOCH_DAYS as i128 * 86_400) * 1_000_000 + i128::from(t.nanos / 1000);
            let m = i64::try_from(m).ok()?;
            if !TIMESTAMP_RANGE.contains(&m) {
                return None;
            }
            m
        }
        Special::Finite | Special::Zero => return None,
    };
    Some(PgValue::Timestamp { micros, tz })
}

impl PgValue {
    /// The value's input text: what the text path sends (the same text
    /// [`value::render`] gives for the value it came from).
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            PgValue::Text(s) => Cow::Borrowed(s),
            PgValue::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            PgValue::Int(i) => Cow::Owned(i.to_string()),
            PgValue::Float4(f) => Cow::Owned(json_text::float32(f32::from_bits(*f))),
            PgValue::Float8(f) => Cow::Owned(json_text::float64(f64::from_bits(*f))),
            PgValue::Bytes(b) => Cow::Owned(value::bytea(b)),
            PgValue::Uuid(u) => Cow::Owned(json_text::uuid(u).unwrap_or_default()),
            PgValue::Date(i32::MAX) => Cow::Borrowed("infinity"),
            PgValue::Date(i32::MIN) => Cow::Borrowed("-infinity"),
            PgValue::Date(d) => {
                let d = Date { days: d + EPOCH_DAYS as i32, special: Special::Finite as i32 };
                Cow::Owned(value::date(&d).unwrap_or_default())
            }
            PgValue::Timestamp { micros: i64::MAX, .. } => Cow::Borrowed("infinity"),
            PgValue::Timestamp { micros: i64::MIN, .. } => Cow::Borrowed("-infinity"),
            PgValue::Timestamp { micros, tz } => {
                // Seconds first: the last timestamp plus 30 years of microseconds does not fit an i64.
                let t = Timestamp {
                    seconds: micros.div_euclid(1_000_000) + EPOCH_DAYS * 86_400,
                    nanos: (micros.rem_euclid(1_000_000) * 1000) as u32,
                    special: Special::Finite as i32,
                };
                Cow::Owned(value::timestamp(&t, *tz).unwrap_or_default())
            }
        }
    }
}

/// The input text of every cell (`None` for NULL).
pub fn texts<'a>(cells: impl IntoIterator<Item = &'a PgCell>) -> Vec<Option<String>> {
    cells.into_iter().map(|c| c.as_ref().map(|v| v.text().into_owned())).collect()
}

/// Whether `v` can be sent in `bt`'s binary form.
fn fits(bt: BinType, v: &PgValue) -> bool {
    use BinType as B;
    match (bt, v) {
        (B::Int2 | B::Int4 | B::Int8, PgValue::Int(_))
        | (B::Float4, PgValue::Float4(_))
        | (B::Float8, PgValue::Float8(_))
        | (B::Bool, PgValue::Bool(_))
        | (B::Bytea, PgValue::Bytes(_))
        | (B::Uuid, PgValue::Uuid(_))
        | (B::Date, PgValue::Date(_))
        | (B::Timestamp | B::Timestamptz, PgValue::Timestamp { .. })
        | (B::Text | B::Jsonb | B::Varchar(None), PgValue::Text(_)) => true,
        // Longer values: the text path's cast decides, as it always did.
        (B::Varchar(Some(n)), PgValue::Text(s)) => s.len() <= n || s.chars().count() <= n,
        (B::Numeric, PgValue::Text(s)) => Decimal::parse(s).is_some(),
        _ => false,
    }
}

/// One column's parameter array: binary when the column's type has a binary
/// form and every value of the batch has it, else `text[]`.
#[derive(Debug, Clone, Copy)]
pub struct ColumnParam<'a> {
    cells: &'a [PgCell],
    binary: Option<BinType>,
}

impl<'a> ColumnParam<'a> {
    /// The parameter for `cells` of a column of `binary` type (`None`: text).
    pub fn new(binary: Option<BinType>, cells: &'a [PgCell]) -> Self {
        let binary = binary.filter(|&bt| cells.iter().flatten().all(|v| fits(bt, v)));
        ColumnParam { cells, binary }
    }

    /// A `text[]` parameter whatever the column's type.
    pub fn text(cells: &'a [PgCell]) -> Self {
        ColumnParam { cells, binary: None }
    }

    /// The binary type sent, `None` for `text[]`.
    pub fn binary(&self) -> Option<BinType> {
        self.binary
    }

    /// The parameter's type (for `prepare_typed`).
    pub fn array_type(&self) -> Type {
        self.binary.map_or(Type::TEXT_ARRAY, BinType::array_type)
    }

    /// The column as a row statement uses it (binary or text parameter).
    pub fn col<'c>(&self, column: &'c ColumnInfo) -> Col<'c> {
        Col { name: &column.name, sql_type: &column.sql_type, param: self.binary.map(BinType::sql_name) }
    }
}

impl ToSql for ColumnParam<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let PgKind::Array(elem) = ty.kind() else { return Err(format!("internal: parameter type {ty} is not an array").into()) };
        let expected = self.binary.map_or(Type::TEXT, BinType::element_type);
        if elem.oid() != expected.oid() {
            return Err(format!("internal: a {expected} array was prepared as {ty}").into());
        }
        // Header: dimensions, has-nulls flag, element type; then the one
        // dimension's length and lower bound (none for an empty array).
        out.put_i32(i32::from(!self.cells.is_empty()));
        out.put_i32(i32::from(self.cells.iter().any(Option::is_none)));
        out.put_u32(elem.oid());
        if !self.cells.is_empty() {
            out.put_i32(i32::try_from(self.cells.len())?);
            out.put_i32(1);
        }
        for c in self.cells {
            let Some(v) = c else {
                out.put_i32(-1);
                continue;
            };
            let at = out.len();
            out.put_i32(0);
            match self.binary {
                Some(bt) => element(bt, v, out)?,
                None => out.put_slice(v.text().as_bytes()),
            }
            let len = i32::try_from(out.len() - at - 4)?;
            out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), PgKind::Array(_))
    }

    to_sql_checked!();
}

/// One element in `bt`'s binary form (the value was checked by [`fits`]):
/// an array parameter's element or a COPY field.
pub(super) fn element(bt: BinType, v: &PgValue, out: &mut BytesMut) -> Result<(), Box<dyn Error + Sync + Send>> {
    use BinType as B;
    match (bt, v) {
        (B::Int2, PgValue::Int(i)) => out.put_i16(i16::try_from(*i)?),
        (B::Int4, PgValue::Int(i)) => out.put_i32(i32::try_from(*i)?),
        (B::Int8, PgValue::Int(i)) => out.put_i64(*i),
        (B::Float4, PgValue::Float4(f)) => out.put_u32(*f),
        (B::Float8, PgValue::Float8(f)) => out.put_u64(*f),
        (B::Bool, PgValue::Bool(b)) => out.put_u8(u8::from(*b)),
        (B::Bytea, PgValue::Bytes(b)) => out.put_slice(b),
        (B::Uuid, PgValue::Uuid(u)) => out.put_slice(u),
        (B::Date, PgValue::Date(d)) => out.put_i32(*d),
        (B::Timestamp | B::Timestamptz, PgValue::Timestamp { micros, .. }) => out.put_i64(*micros),
        (B::Text | B::Varchar(_), PgValue::Text(s)) => out.put_slice(s.as_bytes()),
        (B::Jsonb, PgValue::Text(s)) => {
            out.put_u8(1); // jsonb binary format version
            out.put_slice(s.as_bytes());
        }
        (B::Numeric, PgValue::Text(s)) => Decimal::parse(s).ok_or("internal: not a plain decimal")?.write(out),
        _ => return Err(format!("internal: {v:?} has no {bt:?} binary form").into()),
    }
    Ok(())
}

/// A decimal in plain form (`-123.4500`) or `NaN`.
struct Decimal<'s> {
    nan: bool,
    negative: bool,
    /// Integer digits without leading zeros.
    int: &'s str,
    /// Fraction digits (their count is the display scale).
    frac: &'s str,
}

/// More digits than this go by text (numeric's binary input takes at most
/// 3000 base-10000 digits).
const MAX_DECIMAL_DIGITS: usize = 4000;

impl<'s> Decimal<'s> {
    fn parse(s: &'s str) -> Option<Self> {
        if s == "NaN" {
            return Some(Decimal { nan: true, negative: false, int: "", frac: "" });
        }
        let (negative, rest) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s),
        };
        let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
        let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digits(int) || !digits(frac) || (rest.contains('.') && frac.is_empty()) {
            return None;
        }
        if int.len() + frac.len() > MAX_DECIMAL_DIGITS {
            return None;
        }
        Some(Decimal { nan: false, negative, int: int.trim_start_matches('0'), frac })
    }

    /// numeric's binary form: digit count, weight, sign, display scale,
    /// then base-10000 digits.
    fn write(&self, out: &mut BytesMut) {
        if self.nan {
            out.put_slice(&[0, 0, 0, 0, 0xC0, 0, 0, 0]);
            return;
        }
        // The header goes in front once the digits are known; the digits
        // are written in place (no allocation), then trimmed of zero groups.
        let at = out.len();
        out.put_slice(&[0; 8]);
        let start = out.len();
        let lead = (4 - self.int.len() % 4) % 4;
        let (mut acc, mut n) = (0i16, 0);
        for b in std::iter::repeat_n(b'0', lead).chain(self.int.bytes()).chain(self.frac.bytes()) {
            acc = acc * 10 + i16::from(b - b'0');
            n += 1;
            if n == 4 {
                out.put_i16(acc);
                (acc, n) = (0, 0);
            }
        }
        if n > 0 {
            out.put_i16(acc * 10i16.pow(4 - n));
        }
        let count = (out.len() - start) / 2;
        let nonzero = |out: &BytesMut, i: usize| out[start + 2 * i] != 0 || out[start + 2 * i + 1] != 0;
        let int_groups = ((lead + self.int.len()) / 4) as i16;
        let dscale = self.frac.len() as i16;
        // Zero: no digits, positive.
        let (ndigits, weight, sign) = match (0..count).find(|&i| nonzero(out, i)) {
            None => {
                out.truncate(start);
                (0, 0, 0)
            }
            Some(first) => {
                let last = (first..count).rfind(|&i| nonzero(out, i)).unwrap_or(first);
                out.copy_within(start + 2 * first..start + 2 * (last + 1), start);
                out.truncate(start + 2 * (last + 1 - first));
                ((last + 1 - first) as i16, int_groups - 1 - first as i16, if self.negative { 0x4000u16 } else { 0 })
            }
        };
        out[at..at + 2].copy_from_slice(&ndigits.to_be_bytes());
        out[at + 2..at + 4].copy_from_slice(&weight.to_be_bytes());
        out[at + 4..at + 6].copy_from_slice(&sign.to_be_bytes());
        out[at + 6..at + 8].copy_from_slice(&dscale.to_be_bytes());
    }
}

/// The statements that take a batch's column arrays.
#[derive(Debug, Clone, Copy)]
pub enum RowSql<'k> {
    /// [`sql::delete_by_keys`] (the columns are the key).
    Delete,
    /// [`sql::upsert`] with the key's positions in the columns.
    Upsert(&'k [usize]),
    /// [`sql::update_then_insert`] (UNCHANGED columns left out).
    UpdateThenInsert(&'k [usize]),
    /// [`sql::insert`] (a table without a key).
    Insert,
}

/// The SQL and parameters of one row statement over `arrays`, the values of
/// `columns` (binary where they can be, see [`ColumnParam::new`]).
pub fn row_statement<'a>(
    table: &str,
    columns: &[&ColumnInfo],
    arrays: &'a [Vec<PgCell>],
    shape: RowSql<'_>,
) -> (String, Vec<ColumnParam<'a>>) {
    let params: Vec<ColumnParam<'a>> = columns.iter().zip(arrays).map(|(c, a)| ColumnParam::new(c.binary, a)).collect();
    let cols: Vec<Col<'_>> = columns.iter().zip(&params).map(|(c, p)| p.col(c)).collect();
    let text = match shape {
        RowSql::Delete => sql::delete_by_keys(table, &cols),
        RowSql::Upsert(key) => sql::upsert(table, &cols, key),
        RowSql::UpdateThenInsert(key) => sql::update_then_insert(table, &cols, key),
        RowSql::Insert => sql::insert(table, &cols),
    };
    (text, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_types_come_from_the_catalog_type_text() {
        assert_eq!(BinType::of("bigint"), Some(BinType::Int8));
        assert_eq!(BinType::of("character varying(12)"), Some(BinType::Varchar(Some(12))));
        assert_eq!(BinType::of("character varying"), Some(BinType::Varchar(None)));
        assert_eq!(BinType::of("numeric(12,2)"), Some(BinType::Numeric));
        assert_eq!(BinType::of("numeric(5,-2)"), Some(BinType::Numeric));
        for other in ["integer[]", "json", "character(3)", "timestamp(3) with time zone", "public.mood", "interval", "numeric(x)"] {
            assert_eq!(BinType::of(other), None, "{other}");
        }
    }

    #[test]
    fn decimals_take_binary_only_in_plain_form() {
        for ok in ["0", "-12.3400", "NaN", "00012", "0.0001"] {
            assert!(Decimal::parse(ok).is_some(), "{ok}");
        }
        for text in ["1e5", ".5", "5.", "+1", "Infinity", "-Infinity", "", "-", "1.2.3", "١"] {
            assert!(Decimal::parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn integer_and_uuid_text_in_canonical_form_is_the_same_cell_as_the_value() {
        assert_eq!(canonical("42", BinType::Int8), Some(PgValue::Int(42)));
        assert_eq!(canonical("-9223372036854775808", BinType::Int8), Some(PgValue::Int(i64::MIN)));
        assert_eq!(canonical("-32768", BinType::Int2), Some(PgValue::Int(-32768)));
        for other in ["042", " 42", "+42", "4e1", "40000000000", "", "x"] {
            assert_eq!(canonical(other, BinType::Int4), None, "{other}");
        }
        let u = "0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9";
        let Some(PgValue::Uuid(b)) = canonical(u, BinType::Uuid) else { panic!("uuid text not taken") };
        assert_eq!(json_text::uuid(&b).unwrap(), u);
        assert_eq!(canonical(&u.to_uppercase(), BinType::Uuid), None);
        assert_eq!(canonical("0a1b2c3d4e5f40718293a4b5c6d7e8f9", BinType::Uuid), None);
        assert_eq!(canonical("7", BinType::Text), None);
    }

    #[test]
    fn a_column_falls_back_to_text_when_one_value_has_no_binary_form() {
        let cells = vec![Some(PgValue::Int(1)), None, Some(PgValue::Text("x".into()))];
        assert_eq!(ColumnParam::new(Some(BinType::Int8), &cells).binary(), None);
        assert_eq!(ColumnParam::new(Some(BinType::Int8), &cells[..2]).binary(), Some(BinType::Int8));
        let long = vec![Some(PgValue::Text("abcd".into()))];
        assert_eq!(ColumnParam::new(Some(BinType::Varchar(Some(3))), &long).binary(), None);
        assert_eq!(ColumnParam::new(Some(BinType::Varchar(Some(4))), &long).binary(), Some(BinType::Varchar(Some(4))));
        let accents = vec![Some(PgValue::Text("éé".into()))];
        assert_eq!(ColumnParam::new(Some(BinType::Varchar(Some(2))), &accents).binary(), Some(BinType::Varchar(Some(2))));
    }
}
