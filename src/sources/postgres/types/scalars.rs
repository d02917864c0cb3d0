//! Text forms of the scalars that are not dates or times: `float4` /
//! `float8`, `numeric`, `bytea` (hex and escape formats) and `uuid`.
use super::*;
use bytes::Bytes;

/// `float4`/`float8` text: digits with an optional exponent, `NaN`,
/// `Infinity`, `-Infinity`. Rust's parser is correctly rounded, so the
/// shortest-exact text PostgreSQL prints reads back to the same bits.
pub(super) fn parse_float<F: std::str::FromStr>(text: &str) -> Result<F, Reason> {
    // Rust also accepts "inf"/"infinity"/"nan" in any case; PostgreSQL
    // accepts those on input too, so there is nothing to reject.
    text.parse::<F>().map_err(|_| "not a floating-point number")
}

/// `numeric` text: `-?digits(.digits)?`, or `NaN`, `Infinity`, `-Infinity`.
/// PostgreSQL never prints an exponent or a leading `+`.
pub(super) fn check_numeric(text: &str) -> Result<(), Reason> {
    if matches!(text, "NaN" | "Infinity" | "-Infinity") {
        return Ok(());
    }
    let digits = text.strip_prefix('-').unwrap_or(text).as_bytes();
    let (int, frac) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], &digits[dot + 1..]),
        None => (digits, &digits[..0]),
    };
    if int.is_empty() || !int.iter().all(u8::is_ascii_digit) || !frac.iter().all(u8::is_ascii_digit) {
        return Err("expected digits with an optional sign and decimal point, NaN or ±Infinity");
    }
    if digits.len() > int.len() && frac.is_empty() {
        return Err("no digits after the decimal point");
    }
    Ok(())
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `bytea` in hex format (`\x00ff`, what the server prints by default), or
/// in escape format (`bytea_output = escape`: `\\`, `\ooo`, other bytes
/// literal).
pub(super) fn parse_bytea(text: &str) -> Result<Bytes, Reason> {
    let b = text.as_bytes();
    if let Some(hex) = b.strip_prefix(b"\\x") {
        if hex.len() % 2 != 0 {
            return Err("odd number of hex digits");
        }
        let mut out = Vec::with_capacity(hex.len() / 2);
        for pair in hex.chunks_exact(2) {
            match (hex_digit(pair[0]), hex_digit(pair[1])) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => return Err("bad hex digit"),
            }
        }
        return Ok(Bytes::from(out));
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
        } else if b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let oct = b.get(i + 1..i + 4).ok_or("bad escape")?;
            if !matches!(oct[0], b'0'..=b'3') || !oct[1..].iter().all(|d| matches!(d, b'0'..=b'7')) {
                return Err("bad escape");
            }
            out.push((oct[0] - b'0') << 6 | (oct[1] - b'0') << 3 | (oct[2] - b'0'));
            i += 4;
        }
    }
    Ok(Bytes::from(out))
}

/// `uuid`: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub(super) fn parse_uuid(text: &str) -> Result<Bytes, Reason> {
    let b = text.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return Err("expected 8-4-4-4-12 hex digits");
    }
    let mut out = [0u8; 16];
    let mut digits = b.iter().filter(|&&c| c != b'-');
    for byte in &mut out {
        let (Some(h), Some(l)) = (digits.next(), digits.next()) else { return Err("expected 32 hex digits") };
        match (hex_digit(*h), hex_digit(*l)) {
            (Some(h), Some(l)) => *byte = h << 4 | l,
            _ => return Err("bad hex digit"),
        }
    }
    Ok(Bytes::copy_from_slice(&out))
}
