//! Replication origins for the target's sessions (`replication_origin =
//! true`): every connection marks itself with an origin, so what it commits
//! carries that origin in the WAL, and a PostgreSQL source reading this
//! database with `origin = "none"` (PostgreSQL 16+) leaves those changes
//! out. Two pipelines in opposite directions then do not echo each other's
//! writes.
//!
//! An origin can be set up by one session at a time, so each connection
//! takes the first of `<prefix>_0`, `<prefix>_1`, … that no other session
//! holds (a lane's connection, a reconnect while the old backend lingers,
//! another target of the pipeline), creating it when missing. The prefix is
//! `logferry_<pipeline>`. Origins stay in `pg_replication_origin` after the
//! process ends and are reused by the next run; each active one takes a
//! replication state slot (`max_replication_slots` up to PostgreSQL 17,
//! `max_active_replication_origins` from 18 on).

use super::error::{classify, excerpt};
use crate::sinks::SinkError;
use tokio_postgres::Client;

/// Names tried per connection before giving up (for now: transiently).
const MAX_ORIGINS: usize = 256;

/// Marks the session with a free origin `<prefix>_<n>` (see the module doc);
/// returns its name. `role`: the session's user, for the fix in errors.
pub(super) async fn mark_session(client: &Client, prefix: &str, target: &str, role: &str) -> Result<String, SinkError> {
    let problem = |e: &tokio_postgres::Error, what: &str| match e.code().map(|c| c.code()) {
        Some("42501") => SinkError::definite(
            target,
            format!(
                "role `{role}` may not mark its sessions with a replication origin (replication_origin = true): \
                 run GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), pg_replication_origin_oid(text), \
                 pg_replication_origin_session_setup(text) TO {}; (PostgreSQL 14 and later; before 14 only a superuser may), \
                 or set replication_origin = false on this target",
                super::quote_ident(role)
            ),
        ),
        Some("53400") => SinkError::definite(
            target,
            format!(
                "no free replication origin slot for {what}: every connection of a target with replication_origin = true \
                 holds one; raise max_replication_slots (PostgreSQL 17 and older) or max_active_replication_origins \
                 (18 and later) and restart PostgreSQL, or lower the lanes ({})",
                excerpt(e.as_db_error().map(|d| d.message()).unwrap_or_default(), 200)
            ),
        ),
        _ => classify(target, &format!("setting up {what}"), e),
    };
    for n in 0..MAX_ORIGINS {
        let name = format!("{prefix}_{n}");
        let what = format!("replication origin `{name}`");
        // Created when missing; another session creating it at the same moment is fine.
        let created = client
            .execute("SELECT pg_replication_origin_create($1::text) WHERE pg_replication_origin_oid($1::text) IS NULL", &[&name])
            .await;
        match created {
            Err(e) if e.code().map(|c| c.code()) != Some("23505") => return Err(problem(&e, &what)),
            _ => {}
        }
        match client.execute("SELECT pg_replication_origin_session_setup($1::text)", &[&name]).await {
            Ok(_) => {
                tracing::debug!(target_name = %target, origin = %name, "session marked with a replication origin");
                return Ok(name);
            }
            // Held by another session (SQLSTATE 55006 object_in_use): try the next name.
            Err(e) if e.code().map(|c| c.code()) == Some("55006") => continue,
            Err(e) => return Err(problem(&e, &what)),
        }
    }
    Err(SinkError::transient(
        target,
        format!("every replication origin {prefix}_0 … {prefix}_{} is held by another session; retrying", MAX_ORIGINS - 1),
    ))
}
