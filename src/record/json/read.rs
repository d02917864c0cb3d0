//! Reading: [`read_change`], the field path of a [`JsonError`], and the
//! cursor that reads JSON tokens (objects, arrays, strings, numbers) off
//! the input.

use super::read_value::parse_hex;
use super::string::push_json_string;
use super::{B64, JsonError};
use base64::Engine as _;
use bytes::Bytes;
use crate::record::Change;
use std::borrow::Cow;
use std::str::FromStr;


/// Parses the canonical JSON form back; inverse of [`write_change`].
/// Whitespace may surround the object (a JSON line with its newline is fine).
pub fn read_change(input: &[u8]) -> Result<Change, JsonError> {
    let text = std::str::from_utf8(input).map_err(|e| JsonError::Syntax {
        path: String::new(),
        offset: e.valid_up_to(),
        msg: "invalid UTF-8",
    });
    let result = text.and_then(|text| {
        let mut p = P { text, s: text.as_bytes(), i: 0, depth: 0 };
        let change = p.change()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(p.syntax("unexpected characters after the record"));
        }
        Ok(change)
    });
    result.map_err(|mut e| {
        let path = match &mut e {
            JsonError::Syntax { path, .. } | JsonError::Invalid { path, .. } => path,
        };
        if path.is_empty() {
            path.push_str("record");
        }
        e
    })
}

pub(super) type R<T> = Result<T, JsonError>;

/// Nesting of values (arrays, documents) deeper than this is rejected, so
/// hostile input cannot overflow the stack.
pub(super) const MAX_DEPTH: u32 = 128;

pub(super) fn invalid(msg: impl Into<String>) -> JsonError {
    JsonError::Invalid { path: String::new(), msg: msg.into() }
}

impl JsonError {
    pub(super) fn path_mut(&mut self) -> &mut String {
        match self {
            JsonError::Syntax { path, .. } | JsonError::Invalid { path, .. } => path,
        }
    }

    /// Prepends a path segment while the error travels up.
    pub(super) fn prepend(mut self, seg: &str) -> Self {
        let path = self.path_mut();
        let mut s = String::with_capacity(seg.len() + 1 + path.len());
        s.push_str(seg);
        if !path.is_empty() && !path.starts_with('[') {
            s.push('.');
        }
        s.push_str(path);
        *path = s;
        self
    }

    pub(super) fn field(self, name: &str) -> Self {
        let simple = name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if simple {
            self.prepend(name)
        } else {
            let mut quoted = String::from("[");
            push_json_string(&mut quoted, name);
            quoted.push(']');
            self.prepend(&quoted)
        }
    }

    pub(super) fn index(self, i: usize) -> Self {
        self.prepend(&format!("[{i}]"))
    }
}

/// Marks field `bit` of an object as seen; errors on a repeated field.
pub(super) fn once(seen: &mut u32, bit: u32) -> R<()> {
    if *seen & (1 << bit) != 0 {
        return Err(invalid("repeated field"));
    }
    *seen |= 1 << bit;
    Ok(())
}

pub(super) fn unknown_field() -> JsonError {
    invalid("unknown field")
}

/// A cursor over the input.
pub(super) struct P<'a> {
    pub(super) text: &'a str,
    pub(super) s: &'a [u8],
    pub(super) i: usize,
    pub(super) depth: u32,
}

impl<'a> P<'a> {
    pub(super) fn syntax(&self, msg: &'static str) -> JsonError {
        JsonError::Syntax { path: String::new(), offset: self.i, msg }
    }

    pub(super) fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// The error for a value that is not what was expected: says what it
    /// found, or reports malformed JSON.
    pub(super) fn type_err(&self, expected: &str) -> JsonError {
        let found = match self.peek() {
            Some(b'"') => "a string",
            Some(b'{') => "an object",
            Some(b'[') => "an array",
            Some(b't' | b'f') => "a boolean",
            Some(b'n') => "null",
            Some(b'-' | b'0'..=b'9') => "a number",
            None => return self.syntax("unexpected end of input"),
            Some(_) => return self.syntax("expected a JSON value"),
        };
        invalid(format!("expected {expected}, found {found}"))
    }

    pub(super) fn literal(&mut self, lit: &'static [u8]) -> R<()> {
        if self.s[self.i..].starts_with(lit) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(self.syntax("invalid literal"))
        }
    }

    /// Reads an object, calling `f` for each field with the cursor on the
    /// field's value; errors from `f` get the field name in their path.
    pub(super) fn object(&mut self, what: &str, mut f: impl FnMut(&mut Self, &str) -> R<()>) -> R<()> {
        self.ws();
        if self.peek() != Some(b'{') {
            return Err(self.type_err(what));
        }
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.syntax("expected a field name in double quotes"));
            }
            let key = self.string_body()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.syntax("expected ':' after the field name"));
            }
            self.i += 1;
            self.ws();
            f(self, &key).map_err(|e| e.field(&key))?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.syntax("expected ',' or '}'")),
            }
        }
    }

    /// Reads an array, calling `f` for each element with its index.
    pub(super) fn array(&mut self, what: &str, mut f: impl FnMut(&mut Self, usize) -> R<()>) -> R<()> {
        self.ws();
        if self.peek() != Some(b'[') {
            return Err(self.type_err(what));
        }
        self.i += 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        let mut n = 0;
        loop {
            self.ws();
            f(self, n).map_err(|e| e.index(n))?;
            n += 1;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.syntax("expected ',' or ']'")),
            }
        }
    }

    pub(super) fn string(&mut self, what: &str) -> R<Cow<'a, str>> {
        self.ws();
        if self.peek() != Some(b'"') {
            return Err(self.type_err(what));
        }
        self.string_body()
    }

    pub(super) fn string_owned(&mut self, what: &str) -> R<String> {
        self.string(what).map(Cow::into_owned)
    }

    /// Reads a string; the cursor is on its opening quote. Borrows from the
    /// input unless the string has escapes.
    pub(super) fn string_body(&mut self) -> R<Cow<'a, str>> {
        self.i += 1;
        let start = self.i;
        self.skip_plain();
        match self.peek() {
            Some(b'"') => {
                let s = &self.text[start..self.i];
                self.i += 1;
                return Ok(Cow::Borrowed(s));
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.syntax("unescaped control character in string")),
            None => return Err(self.syntax("unterminated string")),
        }
        let mut owned = String::with_capacity(self.i - start + 16);
        owned.push_str(&self.text[start..self.i]);
        loop {
            let run = self.i;
            self.skip_plain();
            owned.push_str(&self.text[run..self.i]);
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(Cow::Owned(owned));
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !self.s[self.i..].starts_with(b"\\u") {
                                    return Err(self.syntax("unpaired surrogate in \\u escape"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.syntax("unpaired surrogate in \\u escape"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            let c = char::from_u32(code)
                                .ok_or_else(|| self.syntax("unpaired surrogate in \\u escape"))?;
                            owned.push(c);
                            continue;
                        }
                        _ => return Err(self.syntax("invalid escape in string")),
                    };
                    self.i += 1;
                    owned.push(c);
                }
                Some(_) => return Err(self.syntax("unescaped control character in string")),
                None => return Err(self.syntax("unterminated string")),
            }
        }
    }

    /// Skips string bytes that need no attention (not `"`, `\\` or a
    /// control character).
    pub(super) fn skip_plain(&mut self) {
        let rest = &self.s[self.i..];
        self.i += rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .unwrap_or(rest.len());
    }

    pub(super) fn hex4(&mut self) -> R<u32> {
        let digits = self
            .s
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.syntax("truncated \\u escape"))?;
        let mut v = 0;
        for &b in digits {
            let d = (b as char)
                .to_digit(16)
                .ok_or_else(|| self.syntax("invalid \\u escape"))?;
            v = v * 16 + d;
        }
        self.i += 4;
        Ok(v)
    }

    /// Reads a JSON number and returns its text.
    pub(super) fn number(&mut self) -> R<&'a str> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(self.syntax("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.syntax("invalid number"));
            }
            self.skip_digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.syntax("invalid number"));
            }
            self.skip_digits();
        }
        Ok(&self.text[start..self.i])
    }

    pub(super) fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    pub(super) fn int<T: FromStr>(&mut self, what: &str) -> R<T> {
        self.ws();
        if !matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
            return Err(self.type_err(what));
        }
        let n = self.number()?;
        n.parse().map_err(|_| invalid(format!("expected {what}, found {n}")))
    }

    /// A float: a JSON number, or "NaN", "Infinity", "-Infinity".
    pub(super) fn float<T: FromStr>(&mut self, what: &str) -> R<T> {
        self.ws();
        let text: Cow<'a, str> = match self.peek() {
            Some(b'-' | b'0'..=b'9') => Cow::Borrowed(self.number()?),
            Some(b'"') => {
                let s = self.string_body()?;
                match &*s {
                    "NaN" => Cow::Borrowed("NaN"),
                    "Infinity" => Cow::Borrowed("inf"),
                    "-Infinity" => Cow::Borrowed("-inf"),
                    other => {
                        return Err(invalid(format!(
                            "expected {what}, found the string {other:?} (only \"NaN\", \"Infinity\" and \"-Infinity\" are strings)"
                        )))
                    }
                }
            }
            _ => return Err(self.type_err(what)),
        };
        text.parse().map_err(|_| invalid(format!("expected {what}, found {text}")))
    }

    pub(super) fn boolean(&mut self) -> R<bool> {
        self.ws();
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|_| true),
            Some(b'f') => self.literal(b"false").map(|_| false),
            _ => Err(self.type_err("true or false")),
        }
    }

    pub(super) fn base64(&mut self, what: &str) -> R<Bytes> {
        let s = self.string(what)?;
        B64.decode(s.as_bytes())
            .map(Bytes::from)
            .map_err(|e| invalid(format!("expected {what}: {e}")))
    }

    pub(super) fn hex(&mut self, what: &str) -> R<Bytes> {
        let s = self.string(what)?;
        parse_hex(s.as_bytes())
            .map(Bytes::from)
            .ok_or_else(|| invalid(format!("expected {what}, found {s:?}")))
    }

    pub(super) fn string_list(&mut self, what: &str) -> R<Vec<String>> {
        let mut v = Vec::new();
        self.array(what, |p, _| {
            v.push(p.string_owned("a string")?);
            Ok(())
        })?;
        Ok(v)
    }
}
