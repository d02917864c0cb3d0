//! What `logferry check` asks a PostgreSQL source: the preflight of a run
//! (settings, role, tables) and the state of the pipeline's replication
//! slot — a slot of another plugin, type or database, one that another
//! session holds, or one the server invalidated stops a run, so each is a
//! problem with its fix. Every problem is listed at once.

use super::catalog::quote_literal;
use super::position::{format_lsn, parse_lsn};
use super::{display_url, preflight, sql_error, ConnInfo, Preflight, SourceResult};
use crate::config::PostgresSourceConfig;
use crate::sources::{fail_on_problems, note_problem, SourceError};
use tokio_postgres::Client;

/// What `logferry check` says about a postgres source: connects, runs the
/// preflight and looks at the slot. `Err` holds every problem (one per
/// line of its message), each with the SQL or setting that fixes it.
pub async fn check(cfg: &PostgresSourceConfig) -> Result<String, SourceError> {
    let source = format!("postgres:{}", display_url(cfg.db.url.expose()));
    let conn = ConnInfo::parse(cfg.db.url.expose(), &source)?;
    let client = conn.connect(&source).await?;
    let mut problems = Vec::new();
    let Preflight { tables } = note_problem(&mut problems, preflight(&client, cfg, &source).await)?;
    let slot = slot_report(&client, &cfg.slot, &source).await?;
    let slot = match slot {
        Ok(s) => s,
        Err(p) => {
            problems.push(p);
            String::new()
        }
    };
    fail_on_problems(&source, problems)?;
    let names: Vec<String> = tables.iter().map(|t| t.qualified()).collect();
    Ok(format!("{source}: ready; {} table(s): {}; {slot}", names.len(), names.join(", ")))
}

/// The slot as `pg_replication_slots` has it.
struct Slot {
    database: Option<String>,
    slot_type: String,
    plugin: Option<String>,
    active_pid: Option<i32>,
    wal_status: Option<String>,
    confirmed_flush: Option<u64>,
}

/// `Ok` describes a usable (or not yet created) slot; `Err` is the
/// problem with it and its fix.
async fn slot_report(client: &Client, slot: &str, source: &str) -> SourceResult<Result<String, String>> {
    let row = client
        .query_opt(
            "SELECT database::text, slot_type::text, plugin::text, CASE WHEN active THEN active_pid END,
                    wal_status::text, confirmed_flush_lsn::text, current_database()::text
               FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(|e| sql_error(source, "reading replication slots", &e))?;
    let Some(row) = row else {
        return Ok(Ok(format!("slot `{slot}` will be created on the first run")));
    };
    let s = Slot {
        database: row.get(0),
        slot_type: row.get(1),
        plugin: row.get(2),
        active_pid: row.get(3),
        wal_status: row.get(4),
        confirmed_flush: row.get::<_, Option<String>>(5).as_deref().and_then(parse_lsn),
    };
    let here: String = row.get(6);
    Ok(slot_verdict(slot, &s, &here))
}

/// The verdict on an existing slot, in the order a DBA would fix things.
fn slot_verdict(name: &str, s: &Slot, here: &str) -> Result<String, String> {
    let drop = format!("SELECT pg_drop_replication_slot({});", quote_literal(name));
    if s.slot_type != "logical" {
        return Err(format!(
            "replication slot `{name}` is a {} slot, logferry needs a logical one: drop it ({drop}) or set another `slot` in [pipeline.source]",
            s.slot_type
        ));
    }
    if let Some(pid) = s.active_pid {
        return Err(format!(
            "replication slot `{name}` is in use by another session (pid {pid}; another `logferry run` of this pipeline?): \
             stop that process, or end the session: SELECT pg_terminate_backend({pid});"
        ));
    }
    if s.database.as_deref() != Some(here) {
        return Err(format!(
            "replication slot `{name}` belongs to database `{}`, not `{here}`: set another `slot` in [pipeline.source], or drop it: {drop}",
            s.database.as_deref().unwrap_or("?")
        ));
    }
    let plugin = s.plugin.as_deref().unwrap_or("");
    if plugin != "pgoutput" {
        return Err(format!(
            "replication slot `{name}` uses the plugin `{plugin}`, logferry needs `pgoutput`: drop it ({drop}) or set another `slot` in [pipeline.source]"
        ));
    }
    if s.wal_status.as_deref() == Some("lost") {
        return Err(format!(
            "replication slot `{name}` was invalidated (the server removed WAL it still needed, see max_slot_wal_keep_size), \
             so the changes since its position are gone: drop it ({drop}), then `logferry reset` the pipeline: \
             its next run copies the tables again"
        ));
    }
    Ok(format!(
        "slot `{name}` exists (confirmed {})",
        s.confirmed_flush.map(format_lsn).unwrap_or_else(|| "nothing yet".into())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> Slot {
        Slot {
            database: Some("shop".into()),
            slot_type: "logical".into(),
            plugin: Some("pgoutput".into()),
            active_pid: None,
            wal_status: Some("reserved".into()),
            confirmed_flush: Some(0x16B3748),
        }
    }

    #[test]
    fn a_healthy_slot_is_described() {
        assert_eq!(slot_verdict("s", &slot(), "shop").unwrap(), "slot `s` exists (confirmed 0/16B3748)");
    }

    #[test]
    fn each_unusable_slot_says_how_to_fix_it() {
        let cases: Vec<(Slot, &str)> = vec![
            (Slot { slot_type: "physical".into(), plugin: None, database: None, ..slot() }, "is a physical slot"),
            (Slot { active_pid: Some(42), ..slot() }, "SELECT pg_terminate_backend(42);"),
            (Slot { database: Some("crm".into()), ..slot() }, "belongs to database `crm`, not `shop`"),
            (Slot { plugin: Some("test_decoding".into()), ..slot() }, "uses the plugin `test_decoding`"),
            (Slot { wal_status: Some("lost".into()), ..slot() }, "was invalidated"),
        ];
        for (s, want) in cases {
            let p = slot_verdict("it's", &s, "shop").unwrap_err();
            assert!(p.contains(want), "{want:?} not in {p:?}");
            assert!(
                p.contains("pg_terminate_backend") || p.contains("SELECT pg_drop_replication_slot('it''s');"),
                "a fix with the name quoted: {p}"
            );
        }
    }
}
