//! MySQL's binary DECIMAL: storage size and exact text.

use super::problem::Problem;
use super::rows::Cursor;
use std::fmt::Write as _;

/// Bytes of each group of 0..=9 decimal digits in MySQL's binary DECIMAL.
pub(super) const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

pub(super) fn decimal_bin_size(precision: usize, scale: usize) -> Option<usize> {
    if scale > precision || precision == 0 || precision > 81 {
        return None;
    }
    let intg = precision - scale;
    Some(intg / 9 * 4 + DIG2BYTES[intg % 9] + scale / 9 * 4 + DIG2BYTES[scale % 9])
}

/// MySQL's binary DECIMAL as MySQL prints it: integer digits without
/// leading zeros ("0" when none), then exactly `scale` fraction digits.
pub(super) fn decimal_text(bin: &[u8], precision: usize, scale: usize) -> Result<String, Problem> {
    let intg = precision - scale;
    let mut buf = bin.to_vec();
    let Some(first) = buf.first_mut() else {
        return Err("empty DECIMAL".into());
    };
    // The sign bit is set for positive values; negative ones are stored
    // with every bit inverted.
    let negative = *first & 0x80 == 0;
    *first ^= 0x80;
    if negative {
        buf.iter_mut().for_each(|b| *b = !*b);
    }
    let mut cur = Cursor::new(&buf);
    let mut group = |digits: usize| -> Result<u64, Problem> {
        let v = cur.be(DIG2BYTES[digits]).map_err(Problem::Reason)?;
        if v >= 10u64.pow(digits as u32) {
            return Err("DECIMAL digit group out of range".into());
        }
        Ok(v)
    };
    let mut int = String::new();
    if intg % 9 > 0 {
        let _ = write!(int, "{}", group(intg % 9)?);
    }
    for _ in 0..intg / 9 {
        let _ = write!(int, "{:09}", group(9)?);
    }
    let mut frac = String::new();
    for _ in 0..scale / 9 {
        let _ = write!(frac, "{:09}", group(9)?);
    }
    if scale % 9 > 0 {
        let _ = write!(frac, "{:0width$}", group(scale % 9)?, width = scale % 9);
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let zero = int == "0" && frac.bytes().all(|b| b == b'0');
    let mut out = String::with_capacity(int.len() + frac.len() + 2);
    if negative && !zero {
        out.push('-');
    }
    out.push_str(int);
    if scale > 0 {
        out.push('.');
        out.push_str(&frac);
    }
    Ok(out)
}
