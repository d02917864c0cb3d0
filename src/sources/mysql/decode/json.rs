//! MySQL binary JSON printed the way MySQL prints JSON (key order,
//! separators, `my_gcvt` doubles, opaque values), from the raw bytes or from
//! mysql_common's parsed form. Strings are quoted by the crate's JSON
//! escaper, whose escapes are MySQL's (`\b \f \n \r \t`, other control
//! characters as `\u00xx`, everything else as is).

use super::decimal::{decimal_bin_size, decimal_text};
use super::problem::Problem;
use super::rows::Cursor;
use crate::record::json::push_json_string;
use mysql_async::binlog::jsonb;
use mysql_async::consts::ColumnType;
use std::fmt::Write as _;

/// MySQL's JSON nesting limit; deeper documents are refused (and the
/// renderer's recursion stays bounded).
pub(super) const JSON_MAX_DEPTH: usize = 100;

/// Prints a MySQL binary JSON document the way MySQL prints JSON.
pub(super) fn render_jsonb(doc: &[u8], out: &mut String) -> Result<(), String> {
    let Some((&ty, value)) = doc.split_first() else {
        // An empty document is JSON null (as MySQL reads it).
        out.push_str("null");
        return Ok(());
    };
    jsonb_value(ty, value, out, 0)
}

/// One value of type `ty` whose bytes start at `data[0]`.
pub(super) fn jsonb_value(ty: u8, data: &[u8], out: &mut String, depth: usize) -> Result<(), String> {
    let mut cur = Cursor::new(data);
    match ty {
        0x00..=0x03 => jsonb_container(ty, data, out, depth)?,
        0x04 => match cur.le(1)? {
            0 => out.push_str("null"),
            1 => out.push_str("true"),
            2 => out.push_str("false"),
            x => return Err(format!("bad JSON literal {x}")),
        },
        0x05 => {
            let _ = write!(out, "{}", cur.le(2)? as u16 as i16);
        }
        0x06 => {
            let _ = write!(out, "{}", cur.le(2)?);
        }
        0x07 => {
            let _ = write!(out, "{}", cur.le(4)? as u32 as i32);
        }
        0x08 => {
            let _ = write!(out, "{}", cur.le(4)?);
        }
        0x09 => {
            let _ = write!(out, "{}", cur.le(8)? as i64);
        }
        0x0a => {
            let _ = write!(out, "{}", cur.le(8)?);
        }
        0x0b => json_double(f64::from_bits(cur.le(8)?), out),
        0x0c => {
            let len = jsonb_varlen(&mut cur)?;
            let s = std::str::from_utf8(cur.take(len)?).map_err(|_| "JSON string is not UTF-8".to_string())?;
            push_json_string(out, s);
        }
        0x0f => {
            let field_type = cur.le(1)? as u8;
            let len = jsonb_varlen(&mut cur)?;
            json_opaque(field_type, cur.take(len)?, out)?;
        }
        x => return Err(format!("bad JSON value type {x:#x}")),
    }
    Ok(())
}

/// The variable-length length of JSON strings: 7 bits a byte, low first.
pub(super) fn jsonb_varlen(cur: &mut Cursor<'_>) -> Result<usize, String> {
    let mut len = 0usize;
    for i in 0..5 {
        let b = cur.le(1)? as usize;
        len |= (b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(len);
        }
    }
    Err("JSON string length too long".into())
}

/// An object (0x00 small, 0x01 large) or array (0x02, 0x03): element count
/// and byte size, key entries (objects), value entries (type + offset or
/// an inlined small scalar), then keys and values, offsets counted from
/// the start of the container.
pub(super) fn jsonb_container(ty: u8, data: &[u8], out: &mut String, depth: usize) -> Result<(), String> {
    if depth >= JSON_MAX_DEPTH {
        return Err("JSON nested too deep".into());
    }
    let large = ty & 1 == 1;
    let object = ty < 2;
    let w = if large { 4 } else { 2 };
    let mut cur = Cursor::new(data);
    let count = cur.le(w)? as usize;
    let size = cur.le(w)? as usize;
    let data = data.get(..size).ok_or("JSON container larger than its value")?;
    let key_entries = if object { count.checked_mul(w + 2).ok_or("JSON container too large")? } else { 0 };
    let header = 2 * w + key_entries + count.checked_mul(1 + w).ok_or("JSON container too large")?;
    if header > size {
        return Err("JSON container header larger than the container".into());
    }
    out.push(if object { '{' } else { '[' });
    for i in 0..count {
        if i > 0 {
            out.push_str(", ");
        }
        if object {
            let mut k = Cursor::new(data);
            k.pos = 2 * w + i * (w + 2);
            let off = k.le(w)? as usize;
            let len = k.le(2)? as usize;
            let key = data.get(off..off + len).ok_or("JSON key outside the container")?;
            push_json_string(out, std::str::from_utf8(key).map_err(|_| "JSON key is not UTF-8".to_string())?);
            out.push_str(": ");
        }
        let mut v = Cursor::new(data);
        v.pos = 2 * w + key_entries + i * (1 + w);
        let vty = v.le(1)? as u8;
        let inlined = matches!(vty, 0x04..=0x06) || (large && matches!(vty, 0x07 | 0x08));
        if inlined {
            jsonb_value(vty, v.take(w)?, out, depth + 1)?;
        } else {
            let off = v.le(w)? as usize;
            let value = data.get(off..).filter(|_| off >= header).ok_or("JSON value outside the container")?;
            jsonb_value(vty, value, out, depth + 1)?;
        }
    }
    out.push(if object { '}' } else { ']' });
    Ok(())
}

/// Prints mysql_common's parsed binary JSON (`row_values`) the same way.
pub(super) fn render_mc_jsonb(v: &jsonb::Value<'_>, out: &mut String, depth: usize) -> Result<(), Problem> {
    use jsonb::Value as J;
    if depth >= JSON_MAX_DEPTH {
        return Err("JSON nested too deep".into());
    }
    let bad = |e: std::io::Error| Problem::Reason(format!("bad binary JSON: {e}"));
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::I16(x) => {
            let _ = write!(out, "{x}");
        }
        J::U16(x) => {
            let _ = write!(out, "{x}");
        }
        J::I32(x) => {
            let _ = write!(out, "{x}");
        }
        J::U32(x) => {
            let _ = write!(out, "{x}");
        }
        J::I64(x) => {
            let _ = write!(out, "{x}");
        }
        J::U64(x) => {
            let _ = write!(out, "{x}");
        }
        J::F64(x) => json_double(*x, out),
        J::String(s) => push_json_string(out, std::str::from_utf8(s.str_raw()).map_err(|_| "JSON string is not UTF-8")?),
        J::SmallArray(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_mc_jsonb(&e.map_err(bad)?, out, depth + 1)?;
            }
            out.push(']');
        }
        J::LargeArray(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_mc_jsonb(&e.map_err(bad)?, out, depth + 1)?;
            }
            out.push(']');
        }
        J::SmallObject(o) => {
            out.push('{');
            for (i, e) in o.iter().enumerate() {
                let (k, v) = e.map_err(bad)?;
                if i > 0 {
                    out.push_str(", ");
                }
                push_json_string(out, std::str::from_utf8(k.value_raw()).map_err(|_| "JSON key is not UTF-8")?);
                out.push_str(": ");
                render_mc_jsonb(&v, out, depth + 1)?;
            }
            out.push('}');
        }
        J::LargeObject(o) => {
            out.push('{');
            for (i, e) in o.iter().enumerate() {
                let (k, v) = e.map_err(bad)?;
                if i > 0 {
                    out.push_str(", ");
                }
                push_json_string(out, std::str::from_utf8(k.value_raw()).map_err(|_| "JSON key is not UTF-8")?);
                out.push_str(": ");
                render_mc_jsonb(&v, out, depth + 1)?;
            }
            out.push('}');
        }
        J::Opaque(o) => json_opaque(o.value_type() as u8, o.data_raw(), out)?,
    }
    Ok(())
}

/// A JSON double as MySQL prints it: `my_gcvt` text, plus `.0` when that
/// has neither a point nor an exponent.
pub(super) fn json_double(x: f64, out: &mut String) {
    let start = out.len();
    gcvt(x, out);
    if !out[start..].contains(['.', 'e']) {
        out.push_str(".0");
    }
}

/// `my_gcvt(x, MY_GCVT_ARG_DOUBLE, MY_GCVT_MAX_FIELD_WIDTH)`: the shortest
/// digits that read back to `x`, in fixed notation unless the exponent
/// form is shorter or the number is below 1e-14 / above 1e15 with no
/// fraction (MySQL's `MAX_DECPT_FOR_F_FORMAT`). MariaDB prints DOUBLE
/// columns the same way, which is what the fixture checks it against.
pub(super) fn gcvt(x: f64, out: &mut String) {
    const WIDTH: i32 = 34; // DBL_DIG + 4 + MAX_DECPT_FOR_F_FORMAT
    const MAX_DECPT_FOR_F: i32 = 15; // DBL_DIG
    if !x.is_finite() {
        // MySQL cannot store these; dtoa's overflow answer.
        out.push('0');
        return;
    }
    // Shortest round-trip digits: "d.ddde±x".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let len = digits.len() as i32;
    let decpt = exp + 1;
    let width = if x < 0.0 { WIDTH - 1 } else { WIDTH };
    let exp_len = 1 + i32::from(decpt >= 101 || decpt <= -99) + i32::from(decpt >= 11 || decpt <= -9);
    let f_len = if decpt <= 0 {
        len - decpt + 2
    } else if decpt < len {
        len + 1
    } else {
        decpt
    };
    let have_space = f_len <= width;
    let force_e = decpt <= 0 && width <= 2 - decpt && width >= 3 + exp_len;
    // MySQL: (have_space || (decpt <= width && (decpt >= -1 || (decpt == -2
    // && (len > 1 || !force_e))) && !force_e)) && (!have_space || ...),
    // with the redundant `!force_e` folded.
    let use_f = (have_space || (!force_e && (-2..=width).contains(&decpt)))
        && (!have_space || (decpt > -MAX_DECPT_FOR_F && (decpt <= MAX_DECPT_FOR_F || len > decpt)));
    if x.is_sign_negative() {
        out.push('-');
    }
    if use_f {
        if decpt <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-decpt) as usize));
            out.push_str(&digits);
        } else if decpt < len {
            out.push_str(&digits[..decpt as usize]);
            out.push('.');
            out.push_str(&digits[decpt as usize..]);
        } else {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', (decpt - len) as usize));
        }
    } else {
        out.push_str(&digits[..1]);
        if len > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}", decpt - 1);
    }
}

/// MySQL JSON opaque scalars: DECIMAL as a number, temporal values as
/// strings (`my_TIME_to_str` with 6 digits), VAR_STRING as a string,
/// anything else as `"base64:type<N>:<data>"`.
pub(super) fn json_opaque(field_type: u8, data: &[u8], out: &mut String) -> Result<(), String> {
    use base64::Engine as _;
    const NEWDECIMAL: u8 = ColumnType::MYSQL_TYPE_NEWDECIMAL as u8;
    const DATE: u8 = ColumnType::MYSQL_TYPE_DATE as u8;
    const TIME: u8 = ColumnType::MYSQL_TYPE_TIME as u8;
    const DATETIME: u8 = ColumnType::MYSQL_TYPE_DATETIME as u8;
    const TIMESTAMP: u8 = ColumnType::MYSQL_TYPE_TIMESTAMP as u8;
    const VAR_STRING: u8 = ColumnType::MYSQL_TYPE_VAR_STRING as u8;
    let packed = || -> Result<i64, String> {
        let b = data.get(..8).ok_or("JSON temporal value shorter than 8 bytes")?;
        Ok(i64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    match field_type {
        NEWDECIMAL => {
            let (&precision, rest) = data.split_first().ok_or("empty JSON decimal")?;
            let (&scale, bin) = rest.split_first().ok_or("short JSON decimal")?;
            let (precision, scale) = (usize::from(precision), usize::from(scale));
            let size = decimal_bin_size(precision, scale).ok_or("bad JSON decimal precision")?;
            let bin = bin.get(..size).ok_or("short JSON decimal")?;
            match decimal_text(bin, precision, scale) {
                Ok(t) => out.push_str(&t),
                Err(Problem::Reason(r)) => return Err(r),
                Err(_) => return Err("bad JSON decimal".into()),
            }
        }
        DATE | DATETIME | TIMESTAMP => {
            let v = packed()?.unsigned_abs();
            let micros = v & 0xff_ffff;
            let ymdhms = v >> 24;
            let ymd = ymdhms >> 17;
            let hms = ymdhms & 0x1_ffff;
            let (y, m, d) = ((ymd >> 5) / 13, (ymd >> 5) % 13, ymd & 31);
            if field_type == DATE {
                let _ = write!(out, "\"{y:04}-{m:02}-{d:02}\"");
            } else {
                let (h, mi, s) = (hms >> 12, (hms >> 6) & 63, hms & 63);
                let _ = write!(out, "\"{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{micros:06}\"");
            }
        }
        TIME => {
            let p = packed()?;
            let v = p.unsigned_abs();
            let micros = v & 0xff_ffff;
            let hms = v >> 24;
            let (h, m, s) = ((hms >> 12) & 0x3ff, (hms >> 6) & 63, hms & 63);
            let sign = if p < 0 { "-" } else { "" };
            let _ = write!(out, "\"{sign}{h:02}:{m:02}:{s:02}.{micros:06}\"");
        }
        VAR_STRING => push_json_string(out, std::str::from_utf8(data).map_err(|_| "JSON string is not UTF-8")?),
        other => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(data);
            push_json_string(out, &format!("base64:type{other}:{encoded}"));
        }
    }
    Ok(())
}
