//! The engine's open transaction ([`OpenTransaction`]): one connection of
//! its own, outside the lanes, holding one transaction open across calls
//! while the source is still reading the transaction it mirrors.
//!
//! - It begins at the first [`apply`](OpenTransaction::apply), after the
//!   progress table is loaded (outside the transaction, so that the table
//!   exists for the lanes whatever becomes of this one).
//! - Each `apply` runs the records as one batch would (documents, plan per
//!   key, COPY of fresh rows), without COMMIT; tables it creates or alters
//!   wait in its own overlay and join the shared cache only at commit.
//! - Subtransactions are savepoints; an aborted one is rolled back to.
//! - [`commit`](OpenTransaction::commit) records the transaction's log
//!   ordinals as applied by every lane (the caller has waited until every
//!   earlier record is applied, so the claim holds) in the same
//!   transaction, or rolls back when the target already holds them.
//! - Only dialects whose DDL is transactional ([`Dialect::transactional_ddl`])
//!   offer it: a MySQL ALTER would commit the open transaction halfway.

use super::progress::ProgressRow;
use super::{tx, Cached, Dialect, Failure, SqlSink, TableKey};
use crate::record::Change;
use crate::sinks::{document, plan, OpenOutcome, OpenTransaction, RunOrder, SinkError};
use crate::BoxFuture;
use std::collections::HashMap;
use std::sync::Arc;

/// The open transaction's connection and its view of the target tables.
pub(super) struct OpenTx<D: Dialect> {
    conn: D::Conn,
    overlay: HashMap<TableKey, Cached<D::Table>>,
}

type Slot<'a, D> = tokio::sync::MutexGuard<'a, Option<OpenTx<D>>>;

impl<D: Dialect> SqlSink<D> {
    /// The open transaction, begun first when none is open and `run` is
    /// given.
    async fn open_slot(&self, run: Option<&Arc<RunOrder>>) -> Result<Slot<'_, D>, SinkError> {
        let mut slot = self.open.lock().await;
        if slot.is_none() {
            let Some(run) = run else { return Err(self.definite("no open transaction".into())) };
            let mut conn = self.dialect.open().await.map_err(|e| self.dialect.scrub(e))?;
            let begun = match self.progress_state(&mut conn, run).await {
                Ok(_) => self.dialect.begin(&mut conn, 0).await,
                Err(f) => Err(f),
            };
            if let Err(f) = begun {
                self.dialect.close(conn).await;
                return Err(self.dialect.scrub(f.error));
            }
            *slot = Some(OpenTx { conn, overlay: HashMap::new() });
        }
        Ok(slot)
    }

    /// After a failure: rolls the open transaction back and drops it (the
    /// caller goes the lanes' way instead).
    async fn failed(&self, mut slot: Slot<'_, D>, failure: Failure<D>) -> SinkError {
        if let Some(open) = slot.take() {
            self.drop_open(open).await;
        }
        self.dialect.scrub(failure.error)
    }

    async fn drop_open(&self, mut open: OpenTx<D>) {
        if self.dialect.rollback(&mut open.conn).await {
            self.dialect.close(open.conn).await;
        }
    }

    async fn open_apply(&self, run: &Arc<RunOrder>, records: &[Change]) -> Result<(), SinkError> {
        let records = document::to_table_records(records).map_err(|m| self.definite(m))?;
        let steps = plan::steps(&records).map_err(|m| self.definite(m))?;
        let mut slot = self.open_slot(Some(run)).await?;
        let open = slot.as_mut().expect("opened");
        let mut tx = tx::Tx { sink: self, conn: &mut open.conn, overlay: std::mem::take(&mut open.overlay) };
        let result = tx.steps(steps).await;
        open.overlay = std::mem::take(&mut tx.overlay);
        match result {
            Ok(()) => Ok(()),
            Err(f) => Err(self.failed(slot, f).await),
        }
    }

    /// Runs `sql` in the open transaction (begun first with `run`; without
    /// it and none open, nothing to do). `rolls_back`: it may undo tables
    /// this transaction created or altered, so its view of them goes.
    async fn open_exec(&self, run: Option<&Arc<RunOrder>>, context: &str, sql: String, rolls_back: bool) -> Result<(), SinkError> {
        if run.is_none() && self.open.lock().await.is_none() {
            return Ok(());
        }
        let mut slot = self.open_slot(run).await?;
        let open = slot.as_mut().expect("opened");
        if rolls_back {
            open.overlay.clear();
        }
        match self.dialect.ddl(&mut open.conn, context, sql).await {
            Ok(()) => Ok(()),
            Err(f) => Err(self.failed(slot, f).await),
        }
    }

    async fn open_commit(&self, run: &Arc<RunOrder>, first: u64, last: u64, position: &str) -> Result<OpenOutcome, SinkError> {
        let mut slot = self.open_slot(Some(run)).await?;
        let open = slot.as_mut().expect("opened");
        let result = self.commit_in(open, run, first, last, position).await;
        let open = slot.take().expect("still open");
        match result {
            Ok(OpenOutcome::Committed) => {
                let OpenTx { conn, overlay } = open;
                self.publish(overlay);
                self.dialect.close(conn).await;
                Ok(OpenOutcome::Committed)
            }
            Ok(outcome) => {
                self.drop_open(open).await;
                Ok(outcome)
            }
            Err(f) => {
                self.drop_open(open).await;
                Err(self.dialect.scrub(f.error))
            }
        }
    }

    /// The progress check and rows, and COMMIT (see [`OpenOutcome`]).
    async fn commit_in(&self, open: &mut OpenTx<D>, run: &Arc<RunOrder>, first: u64, last: u64, position: &str) -> Result<OpenOutcome, Failure<D>> {
        let state = self.progress_state(&mut open.conn, run).await?;
        let lanes = run.lanes;
        if first <= last {
            if (0..lanes).all(|l| state.applied(l) >= last) {
                return Ok(OpenOutcome::AlreadyApplied);
            }
            if (0..lanes).any(|l| state.applied(l) >= first) || state.older_reach() >= first {
                return Ok(OpenOutcome::Partly);
            }
            for lane in 0..lanes {
                let row = ProgressRow {
                    pipeline: run.pipeline.clone(),
                    target: self.target.clone(),
                    lanes: lanes as i32,
                    lane: lane as i32,
                    epoch: run.epoch as i64,
                    ordinal: last as i64,
                    seq: 0,
                    position: Some(position.to_string()),
                };
                self.dialect.progress_write_now(&mut open.conn, &state.table, &row).await?;
            }
        }
        self.dialect.commit(&mut open.conn).await?;
        if first <= last {
            for lane in 0..lanes {
                state.advance(lane, last);
            }
        }
        Ok(OpenOutcome::Committed)
    }
}

/// Savepoint names: the subtransaction's id, quoted as an identifier.
fn savepoint_name(name: &str) -> String {
    format!("lf_sub_{}", name.chars().filter(char::is_ascii_alphanumeric).collect::<String>())
}

impl<D: Dialect> OpenTransaction for SqlSink<D> {
    fn apply<'a>(&'a self, run: &'a Arc<RunOrder>, records: &'a [Change]) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(self.open_apply(run, records))
    }

    fn savepoint<'a>(&'a self, run: &'a Arc<RunOrder>, name: &'a str) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(self.open_exec(Some(run), "SAVEPOINT (a subtransaction)", format!("SAVEPOINT {}", savepoint_name(name)), false))
    }

    fn rollback_to<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(self.open_exec(None, "ROLLBACK TO SAVEPOINT (an aborted subtransaction)", format!("ROLLBACK TO SAVEPOINT {}", savepoint_name(name)), true))
    }

    fn commit<'a>(&'a self, run: &'a Arc<RunOrder>, first: u64, last: u64, position: &'a str) -> BoxFuture<'a, Result<OpenOutcome, SinkError>> {
        Box::pin(self.open_commit(run, first, last, position))
    }

    fn rollback(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let open = self.open.lock().await.take();
            if let Some(open) = open {
                self.drop_open(open).await;
            }
        })
    }
}
