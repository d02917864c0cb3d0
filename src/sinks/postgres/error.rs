//! Server and client errors classified into [`SinkError`]s.
//!
//! By SQLSTATE: class 08 (connection), 40001 / 40P01 (serialization failure,
//! deadlock), 57P0x (shutdown, cannot connect now), 57014 (cancelled), 55P03
//! (lock not available), class 53 (insufficient resources) and class 58
//! (system error) are **transient**: the same batch is retried. Everything
//! else — class 22 (data), 23 (constraints), 42 (syntax, undefined objects,
//! privileges), 28 (authentication), 3D (no such database) … — is
//! **definite**, with a message that names the table and, where there is
//! one, the fix. Client-side failures (connection closed, I/O, timeouts)
//! are transient.
//!
//! Messages never quote a row value: the server's primary message with its
//! quoted values hidden ([`crate::redact::pg_message`]), the SQLSTATE, and
//! the constraint, column and key columns the server names — never its
//! `DETAIL` (`Failing row contains (…)`, `Key (id)=(5) already exists`),
//! which goes, with the whole message, into the error's row detail that
//! only the dead-letter store keeps. Nor the connection URL or password. A
//! client-side error is also kept as the cause (a copy of its chain, whose
//! texts the message quotes).

use crate::sinks::SinkError;

/// Longest excerpt of a server message or detail put into an error.
const MAX_EXCERPT: usize = 200;

/// `s` cut to `max` characters (on a char boundary), with `…` when cut.
pub fn excerpt(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

/// True for SQLSTATEs where retrying the same batch may succeed.
pub fn transient_state(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("58")
        || code.starts_with("57P0")
        || matches!(code, "40001" | "40P01" | "57014" | "55P03")
}

fn fix_for(code: &str, column: Option<&str>, constraint: Option<&str>) -> Option<String> {
    let col = column.map(|c| format!("column {} ", super::sql::quote_ident(c))).unwrap_or_default();
    Some(match code {
        "23502" => format!(
            "{col}is NOT NULL on the target and the change has no value for it: make the column nullable (or give it a default) on the target, or fix the source data"
        ),
        "23505" => format!(
            "a unique constraint other than the key{} rejected the row: drop or relax it on the target",
            constraint.map(|c| format!(" ({})", super::sql::quote_ident(c))).unwrap_or_default()
        ),
        "23503" => "foreign keys on the target must be DEFERRABLE INITIALLY DEFERRED (with ordering = \"transaction\") or dropped: lanes apply keys independently".into(),
        "23514" => "a CHECK constraint on the target rejected the row: relax it or fix the source data".into(),
        "42P10" => "the target table needs a PRIMARY KEY (or UNIQUE constraint) on exactly the key columns: add one".into(),
        "42P01" => "the table does not exist on the target: create it, or set create_tables = true and replay from its schema change".into(),
        "42703" => "a column is missing on the target: add it, or set create_tables = true".into(),
        "42501" => "the target user lacks a privilege: GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE on the table (and CREATE on the schema or database when create_tables = true)".into(),
        "0A000" => "the target cannot do this for the table (e.g. TRUNCATE of a table referenced by a foreign key): adjust the target schema".into(),
        c if c.starts_with("22") => format!(
            "{}a value does not fit the target column type: change the column type on the target or keep the value from the target with a [[pipeline.table]] rule (exclude_columns, mask = \"null\", or a filter)",
            column.map(|c| format!("column {}: ", super::sql::quote_ident(c))).unwrap_or_default()
        ),
        c if c.starts_with("28") => "check the user and password in the target url".into(),
        "3D000" => "the database named in the target url does not exist: create it".into(),
        _ => return None,
    })
}

/// Classifies a tokio-postgres error. `context` says where (e.g.
/// `table "public"."orders": upsert`); `target` is the sink's name.
pub fn classify(target: &str, context: &str, e: &tokio_postgres::Error) -> SinkError {
    classified(target, context, e).caused_by_quoted(crate::CauseText::of(e))
}

fn classified(target: &str, context: &str, e: &tokio_postgres::Error) -> SinkError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let mut message = format!("{context}: {} (SQLSTATE {code}", excerpt(&crate::redact::pg_message(db.message()), MAX_EXCERPT));
        if let Some(c) = db.constraint() {
            message.push_str(&format!(", constraint {}", super::sql::quote_ident(c)));
        }
        if let Some(c) = db.column() {
            message.push_str(&format!(", column {}", super::sql::quote_ident(c)));
        }
        if let Some(k) = db.detail().and_then(crate::redact::pg_detail_key) {
            message.push_str(&format!(", {k}"));
        }
        message.push(')');
        // The server's own words, values included, for the dead-letter store only.
        let full = match db.detail() {
            Some(d) => format!("server: {}; DETAIL: {}", excerpt(db.message(), MAX_EXCERPT), excerpt(d, MAX_EXCERPT)),
            None => format!("server: {}", excerpt(db.message(), MAX_EXCERPT)),
        };
        if transient_state(code) {
            message.push_str("; retrying");
            return SinkError::transient(target, message).with_row_detail(full);
        }
        if let Some(fix) = fix_for(code, db.column(), db.constraint()) {
            message.push_str(" — ");
            message.push_str(&fix);
        }
        return SinkError::definite(target, message).with_row_detail(full);
    }
    let mut message = format!("{context}: {e}");
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        message.push_str(&format!(": {}", excerpt(&s.to_string(), MAX_EXCERPT)));
        src = s.source();
    }
    if client_side_transient(e) {
        SinkError::transient(target, message)
    } else {
        SinkError::definite(target, message)
    }
}

/// Client-side errors that a new connection may fix.
pub fn client_side_transient(e: &tokio_postgres::Error) -> bool {
    if e.as_db_error().is_some() {
        return false;
    }
    if e.is_closed() {
        return true;
    }
    let text = e.to_string();
    ["communicating", "connecting", "timeout", "connection closed", "unexpected message", "error parsing response"]
        .iter()
        .any(|w| text.contains(w))
}

/// True when the connection is unusable after `e` (drop it, reconnect later).
pub fn connection_lost(e: &tokio_postgres::Error) -> bool {
    match e.as_db_error() {
        Some(db) => {
            let c = db.code().code();
            c.starts_with("08") || c.starts_with("57P0")
        }
        None => client_side_transient(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        for t in ["08006", "08000", "40001", "40P01", "57P01", "57P02", "57P03", "53100", "53300", "57014", "55P03", "58030"] {
            assert!(transient_state(t), "{t}");
        }
        for d in ["23502", "23505", "22P02", "22003", "42P01", "42703", "42601", "42501", "28P01", "3D000", "XX000"] {
            assert!(!transient_state(d), "{d}");
        }
    }

    #[test]
    fn fixes() {
        assert!(fix_for("23502", Some("n"), None).unwrap().starts_with("column \"n\" is NOT NULL"));
        assert!(fix_for("42P10", None, None).unwrap().contains("PRIMARY KEY"));
        assert!(fix_for("22P02", None, None).unwrap().starts_with("a value does not fit"));
        assert!(fix_for("22P02", Some("c"), None).unwrap().starts_with("column \"c\": a value"));
        assert!(fix_for("99999", None, None).is_none());
    }

    #[test]
    fn excerpts() {
        assert_eq!(excerpt("abc", 5), "abc");
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt("ééééé", 2), "éé…");
    }
}
