//! Durations (`"20ms"`, `"5s"`) and sizes (`65536`, `"64MiB"`) as
//! written in the file, parsed exactly (decimal, no floating point).
use super::*;

/// How a duration is written, for messages.
pub(super) const DURATION_FORM: &str = "a duration like \"20ms\" or \"5s\" (units: us, ms, s, m, h)";
/// How a size is written, for messages.
pub(super) const SIZE_FORM: &str =
    "a size: an integer number of bytes, or a string like \"512KiB\", \"64MiB\", \"1GiB\" or \"10MB\"";

/// A duration or size as written: a string with a unit, or a bare number
/// (bytes for sizes; an error asking for a unit for durations).
#[derive(Debug, Clone)]
pub(super) enum Quantity {
    Integer(i64),
    Float(f64),
    Text(String),
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Quantity;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string with a unit, like \"20ms\" or \"64MiB\"")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity::Integer(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                i64::try_from(v)
                    .map(Quantity::Integer)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity::Text(v.to_owned()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A non-negative decimal number, exactly: `mantissa / 10^scale`.
fn parse_decimal(s: &str) -> Option<(u128, u32)> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let digits = format!("{int}{frac}");
    Some((digits.parse().ok()?, frac.len() as u32))
}

/// Splits `"1.5 s"` into `("1.5", "s")`.
fn split_unit(s: &str) -> (&str, &str) {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    (&s[..end], s[end..].trim())
}

/// `"20ms"`, `"1.5s"`, `"5m"`; bare numbers are refused (is `20` seconds
/// or milliseconds?).
pub(super) fn parse_duration(q: &Quantity) -> Result<Duration, String> {
    let text = match q {
        Quantity::Integer(n) => {
            return Err(format!(
                "found {n}, a number without a unit; expected {DURATION_FORM}"
            ))
        }
        Quantity::Float(n) => {
            return Err(format!(
                "found {n}, a number without a unit; expected {DURATION_FORM}"
            ))
        }
        Quantity::Text(t) => t,
    };
    let (number, unit) = split_unit(text);
    let nanos_per_unit: u128 = match unit {
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "" if parse_decimal(number).is_some() => {
            return Err(format!(
                "found {text:?}, a number without a unit; expected {DURATION_FORM}"
            ))
        }
        _ => return Err(format!("found {text:?}; expected {DURATION_FORM}")),
    };
    let Some((mantissa, scale)) = parse_decimal(number) else {
        return Err(format!("found {text:?}; expected {DURATION_FORM}"));
    };
    let nanos = mantissa
        .checked_mul(nanos_per_unit)
        .map(|n| n / 10u128.pow(scale))
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| format!("found {text:?}, which is too long; expected {DURATION_FORM}"))?;
    Ok(Duration::from_nanos(nanos))
}

/// An integer number of bytes, or `"512KiB"`, `"64MiB"`, `"10MB"`, `"1.5GiB"`.
pub(super) fn parse_size(q: &Quantity) -> Result<usize, String> {
    let text = match q {
        Quantity::Integer(n) => {
            return usize::try_from(*n)
                .map_err(|_| format!("found {n}; expected {SIZE_FORM}, not negative"))
        }
        Quantity::Float(n) => return Err(format!("found {n}; expected {SIZE_FORM}")),
        Quantity::Text(t) => t,
    };
    let (number, unit) = split_unit(text);
    let bytes_per_unit: u128 = match unit.to_ascii_lowercase().as_str() {
        "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        "" if parse_decimal(number).is_some() => {
            return Err(format!(
                "found {text:?}, a number without a unit; expected {SIZE_FORM} \
                 (write bytes as an integer without quotes, or add \"B\")"
            ))
        }
        _ => return Err(format!("found {text:?}; expected {SIZE_FORM}")),
    };
    let Some((mantissa, scale)) = parse_decimal(number) else {
        return Err(format!("found {text:?}; expected {SIZE_FORM}"));
    };
    mantissa
        .checked_mul(bytes_per_unit)
        .map(|n| n / 10u128.pow(scale))
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("found {text:?}, which is too large; expected {SIZE_FORM}"))
}
