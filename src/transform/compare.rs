//! PLACEHOLDER until the `filter` branch lands (approximate numbers).
use crate::record::{LogicalType, Value};
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Number(i128);
impl Number {
    pub fn parse(text: &str) -> Option<Number> { text.parse::<f64>().ok().map(|f| Number((f * 1e6) as i128)) }
}
pub fn number_of(v: &Value) -> Option<Number> { crate::record::json::value_text(v).and_then(|t| Number::parse(&t)) }
pub fn text_of(_v: &Value) -> Option<&str> { None }
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteralKind { Number, Text, Bool, Date, Time, Timestamp, TimestampTz, Uuid }
pub fn comparable(_t: &LogicalType) -> Option<LiteralKind> { None }
