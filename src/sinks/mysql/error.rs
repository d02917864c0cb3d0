//! Server and client errors classified into [`SinkError`]s.
//!
//! By MySQL / MariaDB error code:
//!
//! - **transient** (the same batch is retried after a backoff; for some the
//!   connection is also dropped and reopened): too many connections (1040,
//!   1203), server shutdown (1053), out of memory (1037, 1038, 1041), network
//!   errors (1152–1161), lock wait timeout (1205), deadlock (1213), user
//!   resource limits (1226), read-only server during a failover (1290, 1792,
//!   1836), query interrupted or connection killed (1317, 1927), statement
//!   timeouts (1969, 3024), errors during COMMIT / ROLLBACK (1180, 1181,
//!   1614), idle disconnect (4031), every client-side error (2000–2999:
//!   `CR_SERVER_GONE_ERROR` 2006, `CR_SERVER_LOST` 2013, …) and every I/O
//!   error of the client library.
//! - **definite** (retrying cannot help; the message names the table, the
//!   column when the server names one, and the fix): bad data (1048 NULL into
//!   NOT NULL, 1264 out of range, 1265 truncated, 1292 bad date, 1366
//!   incorrect value, 1406 too long, 1416 bad geometry, 3819 / 4025 CHECK),
//!   constraints (1062 duplicate in a unique index other than the key,
//!   1451 / 1452 foreign keys), schema (1146 no table, 1054 no column, 1064
//!   syntax, 1071 / 1170 / 1118 key or row too large), privileges (1044,
//!   1045, 1142, 1143, 1227) and everything unknown.
//!
//! Messages quote at most a short excerpt of the server's text, with the
//! values it quotes hidden (``Duplicate entry (value hidden) for key
//! 'email'``, see [`crate::redact::mysql_message`]), and never the
//! connection URL or password; the server's whole text goes into the
//! error's row detail, which only the dead-letter store keeps. A
//! client-side error is also kept as the cause (a copy of its chain, whose
//! texts the message quotes).

use crate::sinks::SinkError;

/// Longest excerpt of a server message put into an error.
const MAX_EXCERPT: usize = 200;

/// `s` cut to `max` characters (on a char boundary), with `…` when cut.
pub fn excerpt(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

/// True for server error codes where retrying the same batch may succeed.
pub fn transient_code(code: u16) -> bool {
    matches!(
        code,
        1037 | 1038 | 1040 | 1041 | 1053 | 1152..=1161 | 1180 | 1181 | 1203 | 1205 | 1213 | 1226 | 1290 | 1317 | 1614
            | 1792 | 1836 | 1927 | 1969 | 3024 | 4031
    ) || (2000..3000).contains(&code)
}

/// True for server error codes after which the connection is unusable.
pub fn connection_code(code: u16) -> bool {
    matches!(code, 1053 | 1152..=1161 | 1927 | 4031) || (2000..3000).contains(&code)
}

/// The column a server message names (`column 'c'`, ``column `db`.`t`.`c` ``,
/// `Column 'c'`, `Field 'c'`), if any.
pub fn column_in(message: &str) -> Option<String> {
    for marker in ["column '", "Column '", "Field '"] {
        if let Some(i) = message.find(marker) {
            let rest = &message[i + marker.len()..];
            return rest.find('\'').map(|j| rest[..j].to_string());
        }
    }
    // MariaDB: Incorrect integer value: 'x' for column `db`.`t`.`c` at row 1
    if let Some(i) = message.find("column `") {
        let rest = &message[i + "column ".len()..];
        let end = rest.find(" at row").unwrap_or(rest.len());
        let path = &rest[..end];
        if let Some(j) = path.rfind(".`") {
            return Some(path[j + 2..].trim_end_matches('`').replace("``", "`"));
        }
        return Some(path.trim_matches('`').to_string());
    }
    None
}

/// What to do about a definite server error.
pub fn fix_for(code: u16) -> Option<&'static str> {
    Some(match code {
        1048 => "the column is NOT NULL on the target and the change has no value for it: make the column nullable on the target, or fix the source data",
        1364 => "the column is NOT NULL without a default on the target and the change has no value for it: make it nullable or give it a default on the target",
        1062 => "a unique index other than the key rejected the row: drop it or make it non-unique on the target",
        1451 | 1452 => "foreign keys on the target cannot be checked while lanes apply keys independently: drop them on the target",
        1146 => "the table does not exist on the target: create it, or set create_tables = true and replay from its schema change",
        1054 => "a column is missing on the target: add it, or set create_tables = true",
        1044 | 1142 | 1143 | 1227 => "the target user lacks a privilege: GRANT SELECT, INSERT, UPDATE, DELETE (and CREATE, ALTER, DROP for create_tables and truncates) ON <database>.* to it",
        1045 => "check the user and password in the target url",
        1049 => "the target database does not exist: create it, or set create_tables = true",
        1071 | 1170 => "a key column is too long for an InnoDB index (3072 bytes): shorten the key column on the target",
        1118 => "the row is too large for InnoDB: make some VARCHAR columns TEXT on the target",
        1264 | 1265 | 1292 | 1366 | 1367 | 1406 | 1416 | 3819 | 4025 | 1690 => "a value does not fit the target column type: change the column type on the target or keep the value from the target with a [[pipeline.table]] rule (exclude_columns, mask = \"null\", or a filter)",
        1064 => "the server refused the statement's syntax: this is a logferry bug or an unsupported server version; please report it",
        _ => return None,
    })
}

/// A classified client error: the error, and whether the connection must be dropped.
pub struct Classified {
    /// What the caller gets.
    pub error: SinkError,
    /// The connection is unusable.
    pub lost: bool,
}

/// Classifies a mysql_async error. `context` says where (e.g.
/// ``table `db`.`orders`: upsert``); `target` is the sink's name.
pub fn classify(target: &str, context: &str, e: &mysql_async::Error) -> Classified {
    let Classified { error, lost } = classified(target, context, e);
    Classified { error: error.caused_by_quoted(crate::CauseText::of(e)), lost }
}

fn classified(target: &str, context: &str, e: &mysql_async::Error) -> Classified {
    match e {
        mysql_async::Error::Server(s) => {
            let column = column_in(&s.message);
            let mut message = format!(
                "{context}{}: {} (MySQL error {}, SQLSTATE {})",
                column.as_deref().map(|c| format!(" column {}", super::sql::quote_ident(c))).unwrap_or_default(),
                excerpt(&crate::redact::mysql_message(&s.message), MAX_EXCERPT),
                s.code,
                s.state
            );
            // The server's own words, values included, for the dead-letter store only.
            let full = format!("server: {}", excerpt(&s.message, MAX_EXCERPT));
            let lost = connection_code(s.code);
            if transient_code(s.code) {
                message.push_str("; retrying");
                return Classified { error: SinkError::transient(target, message).with_row_detail(full), lost };
            }
            if let Some(fix) = fix_for(s.code) {
                message.push_str(" — ");
                message.push_str(fix);
            }
            Classified { error: SinkError::definite(target, message).with_row_detail(full), lost }
        }
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => {
            let mut message = format!("{context}: {e}");
            let mut src = std::error::Error::source(e);
            while let Some(s) = src {
                message.push_str(&format!(": {}", excerpt(&s.to_string(), MAX_EXCERPT)));
                src = s.source();
            }
            message.push_str("; retrying");
            Classified { error: SinkError::transient(target, message), lost: true }
        }
        mysql_async::Error::Url(_) | mysql_async::Error::Other(_) => Classified {
            error: SinkError::definite(target, format!("{context}: {}", excerpt(&e.to_string(), MAX_EXCERPT))),
            lost: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: u16, message: &str) -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError { code, message: message.into(), state: "HY000".into() })
    }

    #[test]
    fn codes() {
        for t in [1040, 1053, 1205, 1213, 2006, 2013, 1927, 1290, 4031, 1317] {
            assert!(transient_code(t), "{t}");
        }
        for d in [1062, 1048, 1264, 1406, 1366, 1146, 1054, 1064, 1045, 1142, 1292, 4025, 1364] {
            assert!(!transient_code(d), "{d}");
        }
        assert!(connection_code(2013) && connection_code(1053) && !connection_code(1213));
    }

    #[test]
    fn classification_names_columns_and_fixes() {
        let c = classify("mysql:h:1/db", "table `db`.`t`: upsert", &server(1264, "Out of range value for column 'n' at row 3"));
        assert!(!c.error.is_transient() && !c.lost);
        let m = c.error.to_string();
        assert!(m.contains("table `db`.`t`: upsert column `n`: Out of range") && m.contains("MySQL error 1264") && m.contains("does not fit"), "{m}");
        let c = classify("x", "ctx", &server(1213, "Deadlock found when trying to get lock"));
        assert!(c.error.is_transient() && !c.lost);
        let c = classify("x", "ctx", &server(1053, "Server shutdown in progress"));
        assert!(c.error.is_transient() && c.lost);
        let io = mysql_async::Error::Io(mysql_async::IoError::Io(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset")));
        let c = classify("x", "ctx", &io);
        assert!(c.error.is_transient() && c.lost);
        let closed = mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed);
        assert!(classify("x", "ctx", &closed).error.is_transient());
        let m = classify("x", "ctx", &server(1048, "Column 'a' cannot be null")).error.to_string();
        assert!(m.contains("column `a`") && m.contains("NOT NULL"), "{m}");
    }

    #[test]
    fn a_client_error_is_the_source_and_printed_once() {
        let io = mysql_async::Error::Io(mysql_async::IoError::Io(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer")));
        let e = classify("x", "ctx", &io).error;
        let source = std::error::Error::source(&e).expect("the driver's error is the source");
        assert_eq!(source.to_string(), io.to_string());
        // The message quotes every text of the chain: ErrorChain adds nothing.
        assert_eq!(crate::ErrorChain(&e).to_string(), e.to_string());
        // A server's error is told by the message alone (an excerpt of its text).
        let e = classify("x", "ctx", &server(1062, "Duplicate entry 'secret@example.org' for key 'email'")).error;
        assert!(!crate::ErrorChain(&e).to_string().contains("secret@"), "{e}");
        assert!(e.to_string().contains("for key 'email'"), "{e}");
        assert!(e.row_detail().is_some_and(|d| d.contains("secret@example.org")));
    }

    #[test]
    fn columns_in_messages() {
        assert_eq!(column_in("Data too long for column 'v' at row 1").as_deref(), Some("v"));
        assert_eq!(column_in("Column 'a' cannot be null").as_deref(), Some("a"));
        assert_eq!(column_in("Field 'a' doesn't have a default value").as_deref(), Some("a"));
        assert_eq!(column_in("Incorrect integer value: 'x' for column `db`.`t`.`c d` at row 1").as_deref(), Some("c d"));
        assert_eq!(column_in("Deadlock found"), None);
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }
}
