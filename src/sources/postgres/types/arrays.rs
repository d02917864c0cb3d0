//! Array text (`{1,2,NULL}`, nested levels, quoted and escaped elements,
//! dimension bounds), each element converted as its type. Lower bounds
//! other than 1 (`[0:2]={7,8,9}`) are kept in the outermost array's
//! `lower_bounds`, one per dimension.
use super::*;
use std::borrow::Cow;

/// PostgreSQL's MAXDIM: arrays have at most 6 dimensions. Also bounds the
/// parser's recursion on hostile input.
const MAX_DIMENSIONS: usize = 6;

/// Array text: `{1,2,NULL}`, `{{1,2},{3,4}}`, `{"a \"b\"",""}`, `{}`,
/// optionally after dimension bounds `[0:1]=` (their lower bounds kept
/// when any is not 1).
pub(super) fn array(ty: &PgType, element: &PgType, delimiter: u8, text: &str) -> Result<Kind, TypeError> {
    let bad = |reason: &str| TypeError::new(ty, text, reason);
    // `typdelim` is one byte: a non-ASCII one is not a character of the
    // UTF-8 text, and splitting on it would cut a character in two.
    if !delimiter.is_ascii() {
        return Err(bad("the type's array delimiter is not an ASCII character"));
    }
    let mut p = ArrayParser { text, b: text.as_bytes(), i: 0, element, delimiter, element_type: type_name(element) };
    let mut lower_bounds = match p.b.first() {
        Some(b'[') => p.bounds().map_err(bad)?,
        _ => Vec::new(),
    };
    if lower_bounds.iter().all(|&lo| lo == 1) {
        lower_bounds.clear();
    }
    let elements = p.level(0).map_err(|e| e.into_type_error(ty, text))?;
    p.skip_space();
    if p.i != p.b.len() {
        return Err(bad("unexpected text after the closing brace"));
    }
    Ok(Kind::Array(Array { element_type: p.element_type, elements, lower_bounds }))
}

/// An array syntax error, or an element's own conversion error.
enum ArrayError {
    Syntax(Reason),
    Element(TypeError),
}

impl ArrayError {
    fn into_type_error(self, ty: &PgType, text: &str) -> TypeError {
        match self {
            ArrayError::Syntax(reason) => TypeError::new(ty, text, reason),
            ArrayError::Element(mut e) => {
                e.reason = format!("{} (an element of a {} value)", e.reason, type_name(ty));
                e
            }
        }
    }
}

impl From<Reason> for ArrayError {
    fn from(r: Reason) -> Self {
        ArrayError::Syntax(r)
    }
}

struct ArrayParser<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    element: &'a PgType,
    delimiter: u8,
    element_type: String,
}

/// PostgreSQL's `array_isspace`.
fn is_array_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

impl<'a> ArrayParser<'a> {
    fn skip_space(&mut self) {
        while self.i < self.b.len() && is_array_space(self.b[self.i]) {
            self.i += 1;
        }
    }

    /// `[lo:hi]` one or more times, then `=`: the lower bounds.
    fn bounds(&mut self) -> Result<Vec<i32>, Reason> {
        const BAD: Reason = "bad dimension bounds";
        let mut lows = Vec::new();
        let mut dims = 0;
        while self.b.get(self.i) == Some(&b'[') {
            dims += 1;
            if dims > MAX_DIMENSIONS {
                return Err("more than 6 dimensions");
            }
            let close = self.b[self.i..].iter().position(|&c| c == b']').ok_or(BAD)? + self.i;
            let inner = &self.text[self.i + 1..close];
            let (lo, hi) = inner.split_once(':').ok_or(BAD)?;
            let lo = lo.parse::<i32>().map_err(|_| BAD)?;
            let hi = hi.parse::<i32>().map_err(|_| BAD)?;
            if hi < lo {
                return Err("a dimension's upper bound is below its lower bound");
            }
            lows.push(lo);
            self.i = close + 1;
        }
        if self.b.get(self.i) != Some(&b'=') {
            return Err("expected '=' after the dimension bounds");
        }
        self.i += 1;
        Ok(lows)
    }

    /// One `{...}` level at nesting `depth` (0 for the outermost).
    fn level(&mut self, depth: usize) -> Result<Vec<Value>, ArrayError> {
        if depth >= MAX_DIMENSIONS {
            return Err("more than 6 dimensions".into());
        }
        self.skip_space();
        if self.b.get(self.i) != Some(&b'{') {
            return Err("expected '{'".into());
        }
        self.i += 1;
        let mut out = Vec::new();
        self.skip_space();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(out);
        }
        loop {
            self.skip_space();
            let value = match self.b.get(self.i) {
                Some(b'{') => Value::of(Kind::Array(Array {
                    element_type: self.element_type.clone(),
                    elements: self.level(depth + 1)?,
                    lower_bounds: Vec::new(),
                })),
                Some(b'"') => {
                    let s = self.quoted()?;
                    convert(self.element, &s).map(Value::of).map_err(ArrayError::Element)?
                }
                Some(_) => {
                    let (s, escaped) = self.unquoted()?;
                    if !escaped && s.eq_ignore_ascii_case("NULL") {
                        Value::null()
                    } else {
                        convert(self.element, &s).map(Value::of).map_err(ArrayError::Element)?
                    }
                }
                None => return Err("unterminated array".into()),
            };
            out.push(value);
            self.skip_space();
            match self.b.get(self.i) {
                Some(&c) if c == self.delimiter => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(_) => return Err("expected a delimiter or '}' after an element".into()),
                None => return Err("unterminated array".into()),
            }
        }
    }

    /// A `"..."` element with `\` escapes; borrowed when it has none.
    fn quoted(&mut self) -> Result<Cow<'a, str>, ArrayError> {
        let start = self.i + 1;
        let mut j = start;
        let mut escaped = false;
        loop {
            match self.b.get(j) {
                None => return Err("unterminated quoted element".into()),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    j += 2;
                }
                Some(_) => j += 1,
            }
        }
        self.i = j + 1;
        Ok(if escaped { Cow::Owned(unescape(&self.b[start..j])?) } else { Cow::Borrowed(&self.text[start..j]) })
    }

    /// An unquoted element up to the delimiter or `}`, trailing space
    /// trimmed; `\` escapes allowed. Also says whether it had escapes (an
    /// escaped `N\ULL` is the text, not SQL NULL).
    fn unquoted(&mut self) -> Result<(Cow<'a, str>, bool), ArrayError> {
        let start = self.i;
        let mut j = start;
        let mut escaped = false;
        // End of the element without trailing unescaped space.
        let mut end = start;
        while let Some(&c) = self.b.get(j) {
            if c == self.delimiter || c == b'}' {
                break;
            }
            match c {
                b'{' | b'"' => return Err("unexpected '{' or '\"' in an unquoted element".into()),
                b'\\' => {
                    if j + 1 >= self.b.len() {
                        return Err("unterminated array".into());
                    }
                    escaped = true;
                    j += 2;
                    end = j;
                }
                c if is_array_space(c) => j += 1,
                _ => {
                    j += 1;
                    end = j;
                }
            }
        }
        self.i = j;
        if end == start {
            return Err("empty unquoted element".into());
        }
        let s =
            if escaped { Cow::Owned(unescape(&self.b[start..end])?) } else { Cow::Borrowed(&self.text[start..end]) };
        Ok((s, escaped))
    }
}

/// Removes backslash escapes (`\x` is `x`).
fn unescape(b: &[u8]) -> Result<String, ArrayError> {
    let mut out = Vec::with_capacity(b.len());
    let mut k = 0;
    while k < b.len() {
        if b[k] == b'\\' {
            k += 1;
        }
        if let Some(&c) = b.get(k) {
            out.push(c);
        }
        k += 1;
    }
    // Only ASCII backslashes were removed, so this stays UTF-8; no panic
    // either way.
    String::from_utf8(out).map_err(|_| ArrayError::Syntax("element is not UTF-8"))
}
