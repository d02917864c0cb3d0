//! PostgreSQL array literals (`{"1","2",NULL}`): every element quoted and
//! escaped, nested arrays as nested braces, documents as quoted JSON, and
//! the dimension bounds first (`[0:2]={…}`) when the value has lower
//! bounds other than 1.
use super::*;
use crate::record::Array;

/// An array value as PostgreSQL input text, its bounds included.
pub(super) fn array_text(a: &Array, elem: Target, out: &mut String) -> R<()> {
    if !a.lower_bounds.is_empty() {
        let lengths = dimension_lengths(a);
        if lengths.len() != a.lower_bounds.len() {
            return err(format!(
                "the array has {} lower bound(s) but {} dimension(s) (an invalid record)",
                a.lower_bounds.len(),
                lengths.len()
            ));
        }
        for (&lo, &n) in a.lower_bounds.iter().zip(&lengths) {
            let hi = i64::from(lo) + n as i64 - 1;
            if hi > i64::from(i32::MAX) {
                return err("an array's upper bound is past 2147483647");
            }
            out.push_str(&format!("[{lo}:{hi}]"));
        }
        out.push('=');
    }
    array_literal(&a.elements, elem, out)
}

/// The length of each dimension, read down the first elements (an empty
/// array has none).
fn dimension_lengths(a: &Array) -> Vec<usize> {
    let mut out = Vec::new();
    let mut level = &a.elements;
    while !level.is_empty() {
        out.push(level.len());
        match &level[0].kind {
            Some(Kind::Array(inner)) => level = &inner.elements,
            _ => break,
        }
    }
    out
}

/// PostgreSQL array literal of `elements`: every element double-quoted
/// (backslash and quote escaped), `NULL` bare, nested arrays as nested braces.
pub(super) fn array_literal(elements: &[Value], elem: Target, out: &mut String) -> R<()> {
    out.push('{');
    for (i, e) in elements.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match &e.kind {
            None => return err("an array element has no kind (an invalid record)"),
            Some(Kind::Null(_)) => out.push_str("NULL"),
            Some(Kind::Array(a)) => array_literal(&a.elements, elem, out)?,
            Some(Kind::Document(_)) if elem.class == TypeClass::Json || elem.class == TypeClass::Text => {
                let mut s = String::new();
                json(e, &mut s)?;
                quote_element(&s, out);
            }
            Some(Kind::Document(_)) => {
                return err("a document inside an array can only be stored in a json[], jsonb[] or text[] column")
            }
            Some(Kind::Unchanged(_)) => return err("an unchanged (TOAST) marker inside an array"),
            Some(k) => {
                let s = if elem.class == TypeClass::Json && !matches!(k, Kind::Json(_) | Kind::Text(_) | Kind::Other(_)) {
                    let mut s = String::new();
                    json(e, &mut s)?;
                    s
                } else {
                    scalar(k, elem.class)?
                };
                quote_element(&s, out);
            }
        }
    }
    out.push('}');
    Ok(())
}

pub(super) fn quote_element(s: &str, out: &mut String) {
    out.push('"');
    for ch in s.chars() {
        if ch == '"' || ch == '\\' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
}
