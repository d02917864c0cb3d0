//! `verify --repair`: the differing keys are read again from the source
//! and sent through the pipeline as ordinary records — a row the source
//! has as a snapshot read (an upsert, as the initial copy emits it), a key
//! the source no longer has (or whose row the rules' filter keeps from the
//! targets) as a DELETE of that key — so they are shaped
//! by the rules, routed, applied and dead-lettered like any record. Then
//! the keys are compared again.
//!
//! - **A run holds the state dir** ([`through_run`]): the keys go to its
//!   control endpoint (`POST /copy`); the running source reads them between
//!   watermarks of its log, ordered with the live stream, and the request
//!   is followed until the checkpoint has passed them.
//! - **No run** ([`run_locally`]): the pipeline runs here, once, with a
//!   source of our own that emits just these records, and the pipeline's
//!   database targets (see [`repair_targets`]), rules, routes and
//!   `on_error`. The records carry no position, so the checkpoint does not
//!   move: the pipeline resumes where it was.

use super::compare::Key;
use super::control::{Control, CopyProgress};
use super::tables::{snapshot_record, SourceTable};
use super::{Checked, Pipeline, VerifyError};
use crate::checkpoint::CheckpointStore;
use crate::config::PipelineConfig;
use crate::transform::Route;
use crate::pipeline::{PipelineRun, PipelineStats};
use crate::record::{Change, Column, Op, Row};
use crate::sinks::Sink;
use crate::sources::{Source, SourceContext, SourceError};
use crate::BoxFuture;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a copy request's state is asked for.
const COPY_POLL: Duration = Duration::from_millis(100);

/// Keys to mend per source table: the union over its target pairs, in
/// the source's key column order and value form.
pub fn work(checked: &[Checked]) -> Vec<(SourceTable, Vec<Key>)> {
    let mut out: Vec<(SourceTable, Vec<Key>)> = Vec::new();
    for c in checked {
        let Some(d) = c.report.differences().filter(|d| !d.is_empty()) else { continue };
        let mut keys = super::all_keys(d);
        if c.pair.documents_as_rows {
            // The `_id`s as the SQL target keeps them, back into BSON values.
            keys = keys.iter().map(|k| k.iter().map(super::mongodb::key_value).collect()).collect();
        }
        match out.iter_mut().find(|(t, _)| t.table == c.pair.source.table) {
            Some((_, have)) => {
                let mut ids: std::collections::HashSet<_> = have.iter().map(|k| super::compare::key_id(k)).collect();
                have.extend(keys.into_iter().filter(|k| ids.insert(super::compare::key_id(k))));
            }
            None => out.push((c.pair.source.clone(), keys)),
        }
    }
    out
}

/// The record that brings `key` of `t` to the source's state: its row as
/// a snapshot read, or a DELETE when the source has no such row.
pub fn record_for(t: &SourceTable, key: &Key, row: Option<Row>) -> Change {
    match row {
        Some(row) => snapshot_record(t, row),
        None => Change {
            op: Op::Delete as i32,
            table: Some(t.table.clone()),
            key_columns: t.schema.key_columns.clone(),
            before: Some(key_row(t, key)),
            documents: t.schema.documents,
            tx_end: true,
            ..Default::default()
        },
    }
}

/// `key` as a row of the source's key columns.
fn key_row(t: &SourceTable, key: &Key) -> Row {
    Row {
        columns: t.schema.key_columns.iter().zip(key).map(|(n, v)| Column { name: n.clone(), value: Some(v.clone()) }).collect(),
    }
}

/// The source kind records of `p` carry.
fn source_kind(p: &Pipeline<'_>) -> &'static str {
    p.config.source.kind()
}

/// Emits a fixed list of records, then returns (whatever the mode).
struct RepairSource {
    records: Vec<Change>,
}

impl Source for RepairSource {
    fn name(&self) -> &str {
        "verify-repair"
    }

    fn run(&mut self, ctx: SourceContext) -> BoxFuture<'_, Result<(), SourceError>> {
        Box::pin(async move {
            for mut c in std::mem::take(&mut self.records) {
                c.pipeline = ctx.pipeline.clone();
                ctx.emitter.emit(c).await?;
            }
            Ok(())
        })
    }
}

/// What a repair sent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Rows sent as upserts.
    pub upserts: u64,
    /// Keys sent as deletes.
    pub deletes: u64,
}

/// The indexes of the targets a local repair sends to: the database
/// targets, which `verify` compares. File, broker and HTTP targets get no
/// repair records: the records are numbered after the checkpoint like the
/// next run's, and a NATS stream (`Nats-Msg-Id`) or an HTTP receiver
/// (`Idempotency-Key`) deduplicating by those numbers would then drop the
/// next run's real records as duplicates of the repair's.
pub fn repair_targets(p: &PipelineConfig) -> Vec<usize> {
    (0..p.targets.len()).filter(|&i| super::tables::target_engine(&p.targets[i]).is_ok()).collect()
}

/// Runs the pipeline here for just the repair records (no run holds the
/// state dir): see the module docs. `sinks`: the targets of
/// [`repair_targets`], opened, in that order; `store`: the state dir,
/// held for the run.
pub async fn run_locally(
    p: &Pipeline<'_>,
    work: &[(SourceTable, Vec<Key>)],
    sinks: Vec<Arc<dyn Sink>>,
    store: &CheckpointStore,
) -> Result<Sent, VerifyError> {
    let routes: Vec<Route> = repair_targets(p.config).into_iter().map(|i| p.routes.get(i).cloned().unwrap_or_default()).collect();
    if routes.len() != sinks.len() {
        return Err(VerifyError::Internal("repair targets and their routes differ in number".into()));
    }
    let name = &p.config.name;
    if p.config.spool.is_some() {
        return Err(VerifyError::Repair(format!(
            "pipeline `{name}` has [pipeline.spool]: its records go through the spool, which only a running pipeline \
             drains; start `logferry run` and run `verify --repair` again (it then asks the running source)"
        )));
    }
    let before = store.load(name)?;
    let mut records = Vec::new();
    let mut sent = Sent::default();
    for (t, keys) in work {
        let mut src = super::tables::open_source_side(p.config, t).await?;
        let rows = src.by_keys(keys).await?;
        let mut found: std::collections::HashMap<_, _> = rows.into_iter().map(|r| (super::compare::key_id(&r.key), r.row)).collect();
        records.push(Change {
            source: source_kind(p).to_string(),
            op: Op::SchemaChange as i32,
            table: Some(t.table.clone()),
            key_columns: t.schema.key_columns.clone(),
            documents: t.schema.documents,
            schema_change: Some(crate::record::SchemaChange { schema: Some(t.schema.clone()), ddl: String::new() }),
            ..Default::default()
        });
        for k in keys {
            // A row the rules keep from the targets must not be there:
            // sent as a DELETE of its key (a key-only old row, which the
            // filter cannot judge, so the DELETE is forwarded).
            let row = found.remove(&super::compare::key_id(k)).filter(|r| super::tables::expected(p.stage.as_deref(), t, r).is_some());
            match row.is_some() {
                true => sent.upserts += 1,
                false => sent.deletes += 1,
            }
            let mut r = record_for(t, k, row);
            r.source = source_kind(p).to_string();
            records.push(r);
        }
    }
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let summary = crate::pipeline::run(PipelineRun {
        name: name.clone(),
        apply: p.config.apply.clone(),
        source: Box::new(RepairSource { records }),
        sinks,
        store: store.clone(),
        once: true,
        shutdown,
        on_error: p.config.on_error,
        spool: None,
        stats: Arc::new(PipelineStats::new(name)),
        stage: p.stage.clone(),
        routes,
    })
    .await?;
    let after = store.load(name)?;
    if after.as_ref().map(|c| (c.seq, &c.position)) != before.as_ref().map(|c| (c.seq, &c.position)) {
        return Err(VerifyError::Internal(format!("the repair moved the checkpoint of pipeline `{name}`")));
    }
    if summary.dead_lettered > 0 {
        tracing::warn!(pipeline = %name, dead_lettered = summary.dead_lettered, "repair records were set aside as dead letters");
    }
    Ok(sent)
}

/// Asks the running process to copy the keys again (see the module docs)
/// and waits until the checkpoint has passed them.
pub async fn through_run(
    p: &Pipeline<'_>,
    control: &Control,
    work: &[(SourceTable, Vec<Key>)],
    max_wait: Duration,
) -> Result<u64, VerifyError> {
    let name = &p.config.name;
    let mut keys_sent = 0;
    for (t, keys) in work {
        let mut body = Vec::new();
        let head = serde_json::json!({"pipeline": name, "table": t.table.qualified()});
        body.extend_from_slice(head.to_string().as_bytes());
        body.push(b'\n');
        for k in keys {
            let mut c = snapshot_record(t, key_row(t, k));
            c.pipeline = name.clone();
            c.source = source_kind(p).to_string();
            crate::record::json::write_change(&c, &mut body);
            body.push(b'\n');
        }
        let id = control.post_copy(body).await?;
        let deadline = Instant::now() + max_wait;
        loop {
            match control.copy_state(name, id).await? {
                CopyProgress::Applied => break,
                CopyProgress::Failed(why) => {
                    return Err(VerifyError::Repair(format!("pipeline `{name}` could not copy {} again: {why}", t.table)))
                }
                CopyProgress::Pending if Instant::now() >= deadline => {
                    return Err(VerifyError::Repair(format!(
                        "pipeline `{name}` had not applied the copy of {} keys of {} after {}s (request {id}); \
                         it goes on in the running process: run `verify` again later",
                        keys.len(),
                        t.table,
                        max_wait.as_secs()
                    )))
                }
                CopyProgress::Pending => tokio::time::sleep(COPY_POLL).await,
            }
        }
        keys_sent += keys.len() as u64;
    }
    Ok(keys_sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{TableRef, TableSchema, Value};

    fn table() -> SourceTable {
        SourceTable {
            table: TableRef { schema: "public".into(), name: "items".into() },
            schema: TableSchema { key_columns: vec!["id".into()], ..Default::default() },
            key_from_rule: false,
        }
    }

    #[test]
    fn a_row_the_source_has_is_an_upsert_a_key_it_lacks_a_delete() {
        let t = table();
        let row = Row::from_pairs([("id", Value::int64(1)), ("v", Value::text("a"))]);
        let up = record_for(&t, &vec![Value::int64(1)], Some(row.clone()));
        assert_eq!((up.op(), up.after.as_ref(), up.position.is_none()), (Op::SnapshotRead, Some(&row), true));
        let del = record_for(&t, &vec![Value::int64(2)], None);
        assert_eq!(del.op(), Op::Delete);
        assert_eq!(del.before, Some(Row::from_pairs([("id", Value::int64(2))])));
        assert!(del.position.is_none() && del.tx_end, "no position: the checkpoint cannot move");
        assert_eq!(del.key_values(), vec![&Value::int64(2)]);
    }
}
