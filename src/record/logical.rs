//! Logical column types: constructors and a short description.
//!
//! A schema record gives each column two descriptions (see `ColumnSchema`
//! in `change.proto`): the engine's own type text in `source_type`, written
//! in the syntax named by `type_dialect`, and an engine-neutral
//! [`LogicalType`] that every other target maps from. Sources build the
//! logical type with the constructors here, so a field that only means
//! something for one kind (a width, a precision, labels) is set the same
//! way by every source; [`LogicalType::describe`] names a type in error
//! messages ("integer(4 bytes)", "decimal(12,2)", "array of text").

use super::{LogicalKind, LogicalType};

/// `type_dialect` of a `source_type` written as PostgreSQL's `format_type`
/// prints it.
pub const POSTGRESQL: &str = "postgresql";
/// `type_dialect` of a `source_type` written as MySQL / MariaDB
/// `information_schema.COLUMNS.COLUMN_TYPE` prints it.
pub const MYSQL: &str = "mysql";
/// `type_dialect` of a MongoDB field: its values are BSON, of any type.
pub const BSON: &str = "bson";

impl LogicalType {
    /// A type of `kind` with every limit unset.
    pub fn of(kind: LogicalKind) -> Self {
        LogicalType { kind: kind as i32, ..Default::default() }
    }

    /// A truth value.
    pub fn boolean() -> Self {
        Self::of(LogicalKind::LogicalBool)
    }

    /// An integer of `width` storage bytes (1, 2, 3, 4 or 8).
    pub fn integer(width: u32, unsigned: bool) -> Self {
        LogicalType { width, unsigned, ..Self::of(LogicalKind::LogicalInteger) }
    }

    /// A one-byte integer the source declares as a truth value (MySQL
    /// `TINYINT(1)`): it still holds any byte, so it stays an integer.
    pub fn boolean_like(unsigned: bool) -> Self {
        LogicalType { boolean_like: true, ..Self::integer(1, unsigned) }
    }

    /// An exact decimal of `precision` digits, `scale` of them after the
    /// point; precision 0 means unconstrained.
    pub fn decimal(precision: u32, scale: u32) -> Self {
        LogicalType { precision, scale, ..Self::of(LogicalKind::LogicalDecimal) }
    }

    /// A binary floating-point number of `width` bytes (4 or 8).
    pub fn float(width: u32) -> Self {
        LogicalType { width, ..Self::of(LogicalKind::LogicalFloat) }
    }

    /// Text of at most `limit` characters (0: unbounded); `fixed`: every
    /// value has exactly `limit` (`CHAR(n)`).
    pub fn text(limit: u32, fixed: bool) -> Self {
        LogicalType { width: limit, fixed_length: fixed, ..Self::of(LogicalKind::LogicalText) }
    }

    /// Bytes, limited like [`text`](Self::text) (in bytes).
    pub fn binary(limit: u32, fixed: bool) -> Self {
        LogicalType { width: limit, fixed_length: fixed, ..Self::of(LogicalKind::LogicalBinary) }
    }

    /// A calendar date.
    pub fn date() -> Self {
        Self::of(LogicalKind::LogicalDate)
    }

    /// A time of day with `precision` fractional-second digits (None: the
    /// engine's default).
    pub fn time(precision: Option<u32>, with_time_zone: bool) -> Self {
        LogicalType { with_time_zone, ..Self::of(LogicalKind::LogicalTime).with_precision(precision) }
    }

    /// A date and time (`with_time_zone`: an instant), with `precision`
    /// fractional-second digits (None: the engine's default).
    pub fn timestamp(precision: Option<u32>, with_time_zone: bool) -> Self {
        LogicalType { with_time_zone, ..Self::of(LogicalKind::LogicalTimestamp).with_precision(precision) }
    }

    /// A duration with `precision` fractional-second digits (None: the
    /// engine's default).
    pub fn interval(precision: Option<u32>) -> Self {
        Self::of(LogicalKind::LogicalInterval).with_precision(precision)
    }

    /// A UUID.
    pub fn uuid() -> Self {
        Self::of(LogicalKind::LogicalUuid)
    }

    /// A JSON document kept as its text.
    pub fn json() -> Self {
        Self::of(LogicalKind::LogicalJson)
    }

    /// One of `labels`; `name` is the type's own name on the source (empty
    /// where enums are anonymous, as in MySQL).
    pub fn enumeration(name: impl Into<String>, labels: Vec<String>) -> Self {
        LogicalType { name: name.into(), labels, ..Self::of(LogicalKind::LogicalEnum) }
    }

    /// Any subset of `labels` (MySQL `SET`).
    pub fn set(labels: Vec<String>) -> Self {
        LogicalType { labels, ..Self::of(LogicalKind::LogicalSet) }
    }

    /// A bit string of `width` bits (0: unbounded); `fixed`: every value
    /// has exactly `width` bits.
    pub fn bit(width: u32, fixed: bool) -> Self {
        LogicalType { width, fixed_length: fixed, ..Self::of(LogicalKind::LogicalBit) }
    }

    /// An array of `element` values (any number of dimensions).
    pub fn array(element: LogicalType) -> Self {
        LogicalType { element: Some(Box::new(element)), ..Self::of(LogicalKind::LogicalArray) }
    }

    /// A nested document (MongoDB).
    pub fn document() -> Self {
        Self::of(LogicalKind::LogicalDocument)
    }

    /// A year number (MySQL `YEAR`).
    pub fn year() -> Self {
        Self::of(LogicalKind::LogicalYear)
    }

    /// A spatial value; `name` is the source's type name (`point`,
    /// `geometry`, …).
    pub fn geometry(name: impl Into<String>) -> Self {
        LogicalType { name: name.into(), ..Self::of(LogicalKind::LogicalGeometry) }
    }

    /// A network address.
    pub fn inet() -> Self {
        Self::of(LogicalKind::LogicalInet)
    }

    /// Anything else, by its type name on the source; values keep their
    /// text form.
    pub fn other(name: impl Into<String>) -> Self {
        LogicalType { name: name.into(), ..Self::of(LogicalKind::LogicalOther) }
    }

    fn with_precision(self, precision: Option<u32>) -> Self {
        LogicalType { precision: precision.unwrap_or(0), has_precision: precision.is_some(), ..self }
    }

    /// The fractional-second digits when the type states them.
    pub fn fraction_digits(&self) -> Option<u32> {
        self.has_precision.then_some(self.precision)
    }

    /// A short description for messages: "integer(4 bytes)",
    /// "decimal(12,2)", "array of text", "enum public.mood".
    pub fn describe(&self) -> String {
        use LogicalKind as K;
        let fraction = || self.fraction_digits().map(|p| format!("({p})")).unwrap_or_default();
        let zone = if self.with_time_zone { " with time zone" } else { "" };
        let limit = |unit: &str| match (self.width, self.fixed_length) {
            (0, _) => String::new(),
            (n, true) => format!("({n} {unit}, fixed)"),
            (n, false) => format!("(max {n} {unit})"),
        };
        let labels = match self.labels.len() {
            1 => "1 label".to_string(),
            n => format!("{n} labels"),
        };
        match self.kind() {
            K::LogicalOther if self.name.is_empty() => "other".into(),
            K::LogicalOther => format!("other ({})", self.name),
            K::LogicalBool => "boolean".into(),
            K::LogicalInteger => {
                let sign = if self.unsigned { "unsigned " } else { "" };
                let mut notes = Vec::new();
                match self.width {
                    0 => {}
                    1 => notes.push("1 byte".to_string()),
                    n => notes.push(format!("{n} bytes")),
                }
                if self.boolean_like {
                    notes.push("boolean-like".into());
                }
                match notes.is_empty() {
                    true => format!("{sign}integer"),
                    false => format!("{sign}integer({})", notes.join(", ")),
                }
            }
            K::LogicalDecimal if self.precision == 0 => "decimal".into(),
            K::LogicalDecimal => format!("decimal({},{})", self.precision, self.scale),
            K::LogicalFloat => format!("float({} bytes)", self.width),
            K::LogicalText => format!("text{}", limit("chars")),
            K::LogicalBinary => format!("binary{}", limit("bytes")),
            K::LogicalDate => "date".into(),
            K::LogicalTime => format!("time{}{zone}", fraction()),
            K::LogicalTimestamp => format!("timestamp{}{zone}", fraction()),
            K::LogicalInterval => format!("interval{}", fraction()),
            K::LogicalUuid => "uuid".into(),
            K::LogicalJson => "json".into(),
            K::LogicalEnum if self.name.is_empty() => format!("enum of {labels}"),
            K::LogicalEnum => format!("enum {}", self.name),
            K::LogicalSet => format!("set of {labels}"),
            K::LogicalBit if self.fixed_length => format!("bit({})", self.width),
            K::LogicalBit if self.width == 0 => "bit varying".into(),
            K::LogicalBit => format!("bit varying(max {})", self.width),
            K::LogicalArray => match &self.element {
                Some(e) => format!("array of {}", e.describe()),
                None => "array".into(),
            },
            K::LogicalDocument => "document".into(),
            K::LogicalYear => "year".into(),
            K::LogicalGeometry if self.name.is_empty() => "geometry".into(),
            K::LogicalGeometry => format!("geometry ({})", self.name),
            K::LogicalInet => "inet".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_constructors_set_only_their_fields() {
        let i = LogicalType::integer(4, true);
        assert_eq!((i.kind(), i.width, i.unsigned, i.boolean_like), (LogicalKind::LogicalInteger, 4, true, false));
        let b = LogicalType::boolean_like(false);
        assert_eq!((b.kind(), b.width, b.boolean_like), (LogicalKind::LogicalInteger, 1, true));
        let d = LogicalType::decimal(12, 2);
        assert_eq!((d.precision, d.scale, d.has_precision), (12, 2, false));
        let t = LogicalType::time(Some(0), true);
        assert_eq!((t.kind(), t.precision, t.has_precision, t.with_time_zone), (LogicalKind::LogicalTime, 0, true, true));
        assert_eq!(LogicalType::timestamp(None, false).fraction_digits(), None);
        assert_eq!(LogicalType::interval(Some(3)).fraction_digits(), Some(3));
        let c = LogicalType::text(10, true);
        assert_eq!((c.kind(), c.width, c.fixed_length), (LogicalKind::LogicalText, 10, true));
        let e = LogicalType::enumeration("public.mood", vec!["sad".into(), "ok".into()]);
        assert_eq!((e.kind(), e.name.as_str(), e.labels.len()), (LogicalKind::LogicalEnum, "public.mood", 2));
        let a = LogicalType::array(LogicalType::text(0, false));
        assert_eq!(a.element.as_deref(), Some(&LogicalType::text(0, false)));
        assert_eq!(LogicalType::other("tsvector").name, "tsvector");
        assert_eq!(LogicalType::default().kind(), LogicalKind::LogicalOther);
    }

    #[test]
    fn logical_descriptions() {
        let cases = [
            (LogicalType::boolean(), "boolean"),
            (LogicalType::integer(4, false), "integer(4 bytes)"),
            (LogicalType::integer(1, true), "unsigned integer(1 byte)"),
            (LogicalType::boolean_like(false), "integer(1 byte, boolean-like)"),
            (LogicalType::decimal(12, 2), "decimal(12,2)"),
            (LogicalType::decimal(0, 0), "decimal"),
            (LogicalType::float(8), "float(8 bytes)"),
            (LogicalType::text(0, false), "text"),
            (LogicalType::text(20, false), "text(max 20 chars)"),
            (LogicalType::text(3, true), "text(3 chars, fixed)"),
            (LogicalType::binary(16, true), "binary(16 bytes, fixed)"),
            (LogicalType::date(), "date"),
            (LogicalType::time(Some(3), false), "time(3)"),
            (LogicalType::time(None, true), "time with time zone"),
            (LogicalType::timestamp(Some(6), true), "timestamp(6) with time zone"),
            (LogicalType::interval(Some(0)), "interval(0)"),
            (LogicalType::uuid(), "uuid"),
            (LogicalType::json(), "json"),
            (LogicalType::enumeration("public.mood", vec!["a".into()]), "enum public.mood"),
            (LogicalType::enumeration("", vec!["a".into(), "b".into()]), "enum of 2 labels"),
            (LogicalType::set(vec!["a".into()]), "set of 1 label"),
            (LogicalType::bit(8, true), "bit(8)"),
            (LogicalType::bit(8, false), "bit varying(max 8)"),
            (LogicalType::bit(0, false), "bit varying"),
            (LogicalType::array(LogicalType::text(0, false)), "array of text"),
            (LogicalType::array(LogicalType::array(LogicalType::integer(2, false))), "array of array of integer(2 bytes)"),
            (LogicalType::document(), "document"),
            (LogicalType::year(), "year"),
            (LogicalType::geometry("point"), "geometry (point)"),
            (LogicalType::inet(), "inet"),
            (LogicalType::other("tsvector"), "other (tsvector)"),
            (LogicalType { kind: 999, ..Default::default() }, "other"),
        ];
        for (t, want) in cases {
            assert_eq!(t.describe(), want, "{t:?}");
        }
    }
}
