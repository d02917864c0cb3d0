//! JSON string literals: the crate's one escaper. Everything logferry writes
//! as JSON (records, target documents, bench reports, dead letters, MySQL
//! JSON printed from the binlog) quotes its strings here.
//!
//! The escaping is serde_json's (and MySQL's `JSON_QUOTE`): `"` and `\`,
//! `\b \f \n \r \t`, the other control characters below U+0020 as `\u00xx`
//! (lowercase hex); everything else, non-ASCII and U+007F included, as is.

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a quoted JSON string to a byte buffer.
pub fn write_json_string(out: &mut Vec<u8>, s: &str) {
    escape(s, |piece| out.extend_from_slice(piece.as_bytes()));
}

/// Appends `s` as a quoted JSON string to a `String`.
pub fn push_json_string(out: &mut String, s: &str) {
    escape(s, |piece| out.push_str(piece));
}

/// Feeds the quoted, escaped form of `s` to `push`, in pieces: runs of
/// characters that need no escape are passed through as slices of `s`.
fn escape(s: &str, mut push: impl FnMut(&str)) {
    push("\"");
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Escaped bytes are ASCII, so `start` and `i` are char boundaries.
        push(&s[start..i]);
        if short.is_empty() {
            let hex = [b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]];
            push(std::str::from_utf8(&hex).expect("ASCII"));
        } else {
            push(short);
        }
        start = i + 1;
    }
    push(&s[start..]);
    push("\"");
}
