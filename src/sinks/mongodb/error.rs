//! Driver errors and write errors classified into [`SinkError`]s.
//!
//! **Transient** (the pipeline retries the same batch): network errors,
//! server selection timeouts, a primary that stepped down or is shutting
//! down (not-primary, interrupted, shutdown codes), write conflicts, lock
//! and time limits, write-concern timeouts, and any error the server or the
//! driver labels `RetryableWriteError`, `TransientTransactionError` or
//! `UnknownTransactionCommitResult`. **Definite** (retrying cannot help):
//! authentication, privileges, duplicate keys on a unique index other than
//! `_id`, document validation, documents too large, bad field names, bad
//! namespaces, unsatisfiable write concerns. Messages name the collection
//! and the document's `_id` where there is one, quote at most a short
//! excerpt of the server's text, and never the password.

use crate::sinks::SinkError;
use mongodb::error::{Error, ErrorKind};

/// Longest excerpt of a server or driver message put into an error.
const MAX_EXCERPT: usize = 300;

/// `s` cut to `max` characters (on a char boundary), with `…` when cut.
pub fn excerpt(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

/// Error labels after which the same work may succeed when retried.
const TRANSIENT_LABELS: &[&str] =
    &["RetryableWriteError", "TransientTransactionError", "UnknownTransactionCommitResult", "RetryableError", "SystemOverloadedError"];

/// Server error codes where retrying the same batch may succeed.
pub fn transient_code(code: i32) -> bool {
    matches!(
        code,
        6 // HostUnreachable
        | 7 // HostNotFound
        | 24 // LockTimeout
        | 46 // LockBusy
        | 50 // MaxTimeMSExpired
        | 64 // WriteConcernFailed (wtimeout)
        | 89 // NetworkTimeout
        | 91 // ShutdownInProgress
        | 112 // WriteConflict
        | 133 // FailedToSatisfyReadPreference
        | 189 // PrimarySteppedDown
        | 202 // NetworkInterfaceExceededTimeLimit
        | 251 // NoSuchTransaction (the transaction was aborted under us)
        | 262 // ExceededTimeLimit
        | 9001 // SocketException
        | 10107 // NotWritablePrimary
        | 11600 // InterruptedAtShutdown
        | 11601 // Interrupted
        | 11602 // InterruptedDueToReplStateChange
        | 13435 // NotPrimaryNoSecondaryOk
        | 13436 // NotPrimaryOrSecondary
    )
}

/// What to do about a definite server error, by code.
pub fn fix_for(code: i32) -> Option<&'static str> {
    Some(match code {
        11000 | 11001 => "a unique index other than _id on the target rejected the document: drop or relax that index, or fix the source data",
        121 => "the collection's validator rejected the document: relax the validator on the target or fix the source data",
        10334 | 17419 | 17420 => "the document is larger than MongoDB's 16 MiB limit: leave out large fields with a [[pipeline.table]] rule (exclude_columns)",
        52 | 56 | 57 => "a field name is not allowed here (empty, or a `$`/`.` name MongoDB refuses): rename the field with a [[pipeline.table]] rule (rename_columns)",
        66 => "the update would change the immutable _id of a stored document (for example a stored _id of another numeric type): fix the stored document",
        13 => "the target user lacks a privilege: grant it readWrite on the target database (dbAdmin too, to create collections)",
        18 => "check the user name, password and authSource in the target url",
        73 => "the database or collection name is not valid in MongoDB: rename it with a [[pipeline.table]] rule (rename = \"…\") or set `database` in the target config",
        79 | 100 => "the write concern w: \"majority\", j: true cannot be satisfied by this deployment (no journal, or no majority): fix the deployment",
        _ => return None,
    })
}

/// True when `e` says that the same work may succeed later.
pub fn is_transient(e: &Error) -> bool {
    if TRANSIENT_LABELS.iter().any(|l| e.contains_label(l)) {
        return true;
    }
    match e.kind.as_ref() {
        ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. } | ErrorKind::ServerSelection { .. } | ErrorKind::InvalidResponse { .. } => true,
        ErrorKind::Command(c) => transient_code(c.code),
        _ => false,
    }
}

/// The server's message and code of `e`, or the driver's text.
pub fn describe(e: &Error) -> String {
    match e.kind.as_ref() {
        ErrorKind::Command(c) => format!("{} (code {} {})", excerpt(&crate::redact::mongo_message(&c.message), MAX_EXCERPT), c.code, c.code_name),
        ErrorKind::Io(io) => format!("I/O error: {}", excerpt(&io.to_string(), MAX_EXCERPT)),
        _ => excerpt(&e.kind.to_string(), MAX_EXCERPT),
    }
}

/// Classifies a driver error; `context` says where (e.g. `collection
/// shop.items: update`), `target` is the sink's name.
///
/// The driver's error kind is kept as the cause when the message quotes its
/// text (I/O and other client-side errors); a server's error is told by its
/// message and code alone (an excerpt: its full text can hold a value).
pub fn classify(target: &str, context: &str, e: &Error) -> SinkError {
    classified(target, context, e).caused_by_quoted((*e.kind).clone())
}

fn classified(target: &str, context: &str, e: &Error) -> SinkError {
    // A rejected certificate (tlsCAFile, host name) needs a fix, not retries.
    if let Some(problem) = crate::tls::certificate_problem_in_text(&e.to_string()) {
        return SinkError::definite(target, format!("{context}: {problem}"));
    }
    let mut message = format!("{context}: {}", describe(e));
    if is_transient(e) {
        message.push_str("; retrying");
        return SinkError::transient(target, message);
    }
    let code = match e.kind.as_ref() {
        ErrorKind::Command(c) => Some(c.code),
        ErrorKind::Authentication { .. } => Some(18),
        _ => None,
    };
    if let Some(fix) = code.and_then(fix_for) {
        message.push_str(" — ");
        message.push_str(fix);
    }
    SinkError::definite(target, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        for c in [6, 7, 64, 89, 91, 112, 189, 251, 9001, 10107, 11600, 11602, 13435, 13436] {
            assert!(transient_code(c), "{c}");
        }
        for c in [2, 11000, 121, 10334, 13, 18, 28, 52, 66, 73, 100] {
            assert!(!transient_code(c), "{c}");
        }
        assert!(fix_for(11000).unwrap().contains("unique index"));
        assert!(fix_for(121).unwrap().contains("validator"));
        assert!(fix_for(1).is_none());
    }

    #[test]
    fn excerpts() {
        assert_eq!(excerpt("abc", 5), "abc");
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }
}
