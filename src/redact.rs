//! Server messages without row values, for errors, logs and `/health`.
//!
//! Database servers quote the data they refuse: PostgreSQL's `invalid input
//! syntax for type integer: "abc"` (and its `DETAIL`, `Failing row contains
//! (…)`, `Key (id)=(5) already exists`), MySQL's `Duplicate entry 'x' for
//! key 'email'`, MongoDB's `dup key: { email: "x" }`. The functions here keep
//! what an operator acts on — the words, and the names of relations,
//! columns, constraints, keys, types and encodings — and replace every
//! quoted value by [`HIDDEN`]. Where a value's end cannot be told for sure
//! (a value may hold quotes), everything after its start is hidden: more is
//! left out rather than less.
//!
//! The server's full text is not lost: classifiers keep it in a
//! [`RowDetail`] (see `SinkError::row_detail`), which only the dead-letter
//! store records.

/// What stands in for a value left out.
pub const HIDDEN: &str = "(value hidden)";

/// Words after which PostgreSQL quotes a name, not a value.
const PG_NAME_WORDS: &[&str] = &[
    "relation", "constraint", "column", "table", "type", "encoding", "index", "schema", "function", "database", "role",
    "sequence", "view", "trigger", "operator", "collation", "domain", "extension", "publication", "subscription", "slot",
    "tablespace", "partition", "attribute", "enum", "statistics", "policy", "rule", "server", "user",
];

/// Words after which MySQL / MariaDB quote a name, not a value.
const MY_NAME_WORDS: &[&str] =
    &["column", "key", "field", "table", "constraint", "database", "index", "function", "procedure", "user", "variable", "schema", "trigger", "view"];

/// The last word of `text` (letters, digits, `_`), lower case.
fn last_word(text: &str) -> String {
    let t = text.trim_end();
    let start = t.char_indices().rev().find(|(_, c)| !(c.is_alphanumeric() || *c == '_')).map_or(0, |(i, c)| i + c.len_utf8());
    t[start..].to_lowercase()
}

/// A PostgreSQL primary message (`ErrorResponse` field `M`) without the
/// values it quotes; names after `relation`, `column`, `constraint`,
/// `type` … stay.
pub fn pg_message(m: &str) -> String {
    let mut out = String::with_capacity(m.len());
    let mut rest = m;
    while let Some(q) = rest.find(['"', ':']) {
        let (before, at) = rest.split_at(q);
        out.push_str(before);
        if let Some(after_colon) = at.strip_prefix(':') {
            // `…for encoding "UTF8": 0xc3 0x28`: bytes of a value.
            if after_colon.trim_start().starts_with("0x") {
                out.push_str(": ");
                out.push_str(HIDDEN);
                return out;
            }
            out.push(':');
            rest = after_colon;
            continue;
        }
        let word = last_word(&out);
        let after = &at[1..];
        if !out.trim_end().ends_with(':') && PG_NAME_WORDS.contains(&word.as_str()) {
            if let Some(close) = after.find('"') {
                out.push_str(&at[..close + 2]);
                rest = &after[close + 1..];
                continue;
            }
        }
        // A value: `…: "abc"` at the end, `value "99999999999" is out of range…`.
        out.push_str(HIDDEN);
        match after.rfind("\" is out of range") {
            Some(end) => rest = &after[end + 1..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// The columns a PostgreSQL `DETAIL` names in `Key (a, b)=(…)` (unique and
/// foreign-key violations), without the values: `Key (a, b)`.
pub fn pg_detail_key(detail: &str) -> Option<String> {
    let cols = detail.strip_prefix("Key (")?;
    let end = cols.find(")=(")?;
    Some(format!("key ({})", &cols[..end]))
}

/// A MySQL / MariaDB server message without the values it quotes
/// (`Duplicate entry '…' for key 'email'`, `Incorrect integer value: '…' for
/// column …`); names after `column`, `key`, `table`, `constraint` … stay.
pub fn mysql_message(m: &str) -> String {
    let mut out = String::with_capacity(m.len());
    let mut rest = m;
    while let Some(q) = rest.find('\'') {
        out.push_str(&rest[..q]);
        let after = &rest[q + 1..];
        if out.ends_with(char::is_alphanumeric) {
            // An apostrophe (`doesn't`), not a quote.
            out.push('\'');
            rest = after;
            continue;
        }
        let word = last_word(&out);
        if !out.trim_end().ends_with(':') && MY_NAME_WORDS.contains(&word.as_str()) {
            if let Some(close) = after.find('\'') {
                out.push('\'');
                out.push_str(&after[..=close]);
                rest = &after[close + 1..];
                continue;
            }
        }
        // A value: it ends at the last `' for ` / `' at row` / `' when ` (a
        // value may hold quotes), or runs to the end.
        out.push_str(HIDDEN);
        match ["' for ", "' at row", "' when "].iter().find_map(|t| after.rfind(t)) {
            Some(end) => rest = &after[end + 1..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// A MongoDB server message without the values it quotes: a duplicate
/// key's `dup key: { email: "x" }` (anything after a `dup key:`), and the
/// documents it shows in braces (`Cannot create field 'b' in element {a:
/// 1}`); field names stay.
pub fn mongo_message(m: &str) -> String {
    let m = match m.find("dup key:") {
        Some(i) => return format!("{}dup key: {HIDDEN}", &m[..i]),
        None => m,
    };
    let mut out = String::with_capacity(m.len());
    let mut depth = 0usize;
    for c in m.chars() {
        match c {
            '{' => {
                if depth == 0 {
                    out.push_str(HIDDEN);
                }
                depth += 1;
            }
            '}' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            c => out.push(c),
        }
    }
    out
}

/// The full text of a refusal, row values included (a server's message
/// and `DETAIL`, the key of the refused row): an error's source whose
/// `Display` is empty, so that [`crate::ErrorChain`], logs and `/health`
/// never print it; the dead-letter store reads it with
/// `SinkError::row_detail` and keeps it with the letter.
pub struct RowDetail(pub String);

impl std::fmt::Debug for RowDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RowDetail(…)")
    }
}

impl std::fmt::Display for RowDetail {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}

impl std::error::Error for RowDetail {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_values_are_hidden_and_names_kept() {
        for (m, want) in [
            ("invalid input syntax for type integer: \"zz-secret\"", "invalid input syntax for type integer: (value hidden)"),
            ("invalid input syntax for type uuid: \"a\"b\"", "invalid input syntax for type uuid: (value hidden)"),
            ("value \"99999999999\" is out of range for type integer", "value (value hidden) is out of range for type integer"),
            ("invalid input value for enum mood: \"zz\"", "invalid input value for enum mood: (value hidden)"),
            ("date/time field value out of range: \"2020-13-45\"", "date/time field value out of range: (value hidden)"),
            ("invalid byte sequence for encoding \"UTF8\": 0xc3 0x28", "invalid byte sequence for encoding \"UTF8\": (value hidden)"),
            ("malformed array literal: \"{1,\"", "malformed array literal: (value hidden)"),
            (
                "new row for relation \"t\" violates check constraint \"t_v_check\"",
                "new row for relation \"t\" violates check constraint \"t_v_check\"",
            ),
            ("duplicate key value violates unique constraint \"t_email_key\"", "duplicate key value violates unique constraint \"t_email_key\""),
            (
                "null value in column \"n\" of relation \"t\" violates not-null constraint",
                "null value in column \"n\" of relation \"t\" violates not-null constraint",
            ),
            ("value too long for type character varying(3)", "value too long for type character varying(3)"),
            ("some new message \"zz-secret\" with a value", "some new message (value hidden)"),
        ] {
            assert_eq!(pg_message(m), want, "{m}");
        }
        assert_eq!(pg_detail_key("Key (id, \"a)\")=(5, x) already exists.").as_deref(), Some("key (id, \"a)\")"));
        assert_eq!(pg_detail_key("Failing row contains (1, zz-secret)."), None);
    }

    #[test]
    fn mysql_values_are_hidden_and_names_kept() {
        for (m, want) in [
            ("Duplicate entry 'zz-secret' for key 'email'", "Duplicate entry (value hidden) for key 'email'"),
            ("Duplicate entry 'O'Brien' for key 't.name'", "Duplicate entry (value hidden) for key 't.name'"),
            (
                "Incorrect integer value: 'zz' for column `db`.`t`.`c` at row 1",
                "Incorrect integer value: (value hidden) for column `db`.`t`.`c` at row 1",
            ),
            ("Incorrect integer value: 'zz' for column 'c' at row 1", "Incorrect integer value: (value hidden) for column 'c' at row 1"),
            ("Truncated incorrect DOUBLE value: 'zz'", "Truncated incorrect DOUBLE value: (value hidden)"),
            ("Data too long for column 'c' at row 1", "Data too long for column 'c' at row 1"),
            ("Column 'a' cannot be null", "Column 'a' cannot be null"),
            ("Field 'a' doesn't have a default value", "Field 'a' doesn't have a default value"),
            ("Check constraint 'c' is violated.", "Check constraint 'c' is violated."),
            ("Out of range value for column 'n' at row 3", "Out of range value for column 'n' at row 3"),
        ] {
            assert_eq!(mysql_message(m), want, "{m}");
        }
    }

    #[test]
    fn mongodb_duplicate_keys_are_hidden() {
        assert_eq!(
            mongo_message("E11000 duplicate key error collection: db.c index: email_1 dup key: { email: \"zz\" }"),
            "E11000 duplicate key error collection: db.c index: email_1 dup key: (value hidden)"
        );
        assert_eq!(mongo_message("Document failed validation"), "Document failed validation");
        assert_eq!(mongo_message("Cannot create field 'b' in element {a: {c: \"zz\"}}"), "Cannot create field 'b' in element (value hidden)");
    }

    #[test]
    fn a_row_detail_prints_nothing() {
        let d = RowDetail("Failing row contains (zz)".into());
        assert_eq!(format!("{d}{d:?}"), "RowDetail(…)");
    }
}
