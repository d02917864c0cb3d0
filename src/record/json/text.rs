//! A value's canonical text: what `mask = "hash"`, `regex` and `one_of`
//! see. It is the payload of the value's canonical JSON (`{"kind": payload}`)
//! with a JSON string's quotes and escapes removed: `alice` for text,
//! `12.50` for a decimal, `42` for an integer, `2024-02-29T11:45:00Z` for a
//! timestamptz, `true` for a bool, and the JSON text of compound values.

use super::write::w_value;
use crate::record::{value::Kind, Value};

/// The canonical text of `v`; `None` for NULL (and an empty value).
pub fn value_text(v: &Value) -> Option<String> {
    match v.kind.as_ref()? {
        Kind::Null(_) => None,
        Kind::Text(s) | Kind::Decimal(s) | Kind::Json(s) | Kind::EnumLabel(s) | Kind::Decimal128(s) => Some(s.clone()),
        Kind::Int64(n) => Some(n.to_string()),
        Kind::Bool(b) => Some(b.to_string()),
        _ => {
            let mut out = Vec::with_capacity(32);
            w_value(&mut out, Some(v));
            // `{"tag":payload}`: the payload starts after the first `":`.
            let text = String::from_utf8_lossy(&out);
            let start = text.find("\":").map_or(0, |i| i + 2);
            let payload = &text[start..text.len().saturating_sub(1)];
            match serde_json::from_str::<String>(payload) {
                Ok(s) => Some(s),
                Err(_) => Some(payload.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::value_text;
    use crate::record::{value::Kind, Timestamp, Value};

    #[test]
    fn payloads_without_quotes() {
        assert_eq!(value_text(&Value::text("a\"b")).as_deref(), Some("a\"b"));
        assert_eq!(value_text(&Value::int64(-7)).as_deref(), Some("-7"));
        assert_eq!(value_text(&Value::of(Kind::Decimal("12.50".into()))).as_deref(), Some("12.50"));
        assert_eq!(value_text(&Value::of(Kind::Float64(1.5))).as_deref(), Some("1.5"));
        assert_eq!(value_text(&Value::of(Kind::Uint64(u64::MAX))).as_deref(), Some("18446744073709551615"));
        let t = Timestamp { seconds: 1_709_207_100, nanos: 500_000_000, special: 0 };
        assert_eq!(value_text(&Value::of(Kind::Timestamptz(t))).as_deref(), Some("2024-02-29T11:45:00.5Z"));
        assert_eq!(value_text(&Value::of(Kind::Uuid(vec![0xab; 16].into()))).as_deref(), Some("abababab-abab-abab-abab-abababababab"));
        assert_eq!(value_text(&Value::null()), None);
    }
}
