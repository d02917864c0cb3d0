//! Exactly-once apply: the progress table on the target.
//!
//! Every batch transaction of a pipeline lane also upserts one row of
//! `logferry_progress` (in `progress_schema`): the highest log ordinal the
//! lane applied (see [`crate::sinks::Mark`]), with the epoch of the
//! pipeline's numbering, the batch's last `seq` and position (for people).
//! Rows are keyed by pipeline, target (its `schema`/`database` and
//! `tables`, so two targets of one pipeline sharing a database keep apart),
//! lane count and lane. The rows and the data commit together, so after a
//! crash the table says exactly which records are applied:
//!
//! - A record is **already applied** when its ordinal is at most the stored
//!   ordinal of the lane it was routed to. A replay skips such records;
//!   records without an ordinal (snapshot reads, copied rows, schema
//!   changes) are never skipped (they are idempotent, or their copy starts
//!   over).
//! - **Another lane count.** Rows of an earlier layout of the same epoch
//!   stay: a record is also applied when its ordinal is at most the
//!   ordinal stored for the lane it had under that layout
//!   (`hash % old lanes`). A layout's rows are deleted when a run starts
//!   at a checkpoint past all of them: nothing at or below them comes again.
//! - **Another epoch** (no checkpoint: a first run, after `logferry reset`,
//!   a new state dir): the rows describe another numbering and say nothing
//!   about this one; they are deleted when the target first loads them.
//!
//! The rows are read once per run (per numbering) by the first lane to
//! apply, then kept in memory; each lane updates its own after COMMIT.

use super::{Dialect, Failure, SqlSink, TableKey};
use crate::record::Change;
use crate::sinks::{LogOrder, Mark, RunOrder, SinkError};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// The progress table's name, in `progress_schema`.
pub const PROGRESS_TABLE: &str = "logferry_progress";

/// One row of the progress table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressRow {
    /// The pipeline's name.
    pub pipeline: String,
    /// Which target of the pipeline (see [`SqlSink::with_progress`]).
    pub target: String,
    /// The pipeline's lane count when the row was written.
    pub lanes: i32,
    /// The lane.
    pub lane: i32,
    /// The numbering the ordinal belongs to.
    pub epoch: i64,
    /// The highest log ordinal the lane applied.
    pub ordinal: i64,
    /// The `seq` of the last record of the last batch (for people).
    pub seq: i64,
    /// The last source position of that batch, as text (for people).
    pub position: Option<String>,
}

/// Which of a pipeline's rows to delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forget {
    /// Rows of every epoch but this one.
    OtherEpochs(i64),
    /// Rows of this lane count.
    Layout(i32),
}

/// What a target holds of one numbering, read at its first batch.
pub(super) struct State {
    /// The numbering the rows were read for.
    pub run: Arc<RunOrder>,
    /// Where the rows are.
    pub table: TableKey,
    /// Per lane of the current layout: the highest ordinal applied. Each
    /// lane updates its own after COMMIT.
    applied: Vec<AtomicU64>,
    /// Earlier layouts of this epoch: lane count and per-lane ordinals.
    older: Vec<(usize, Vec<u64>)>,
    /// The highest ordinal of any earlier layout: past it they say nothing.
    older_max: u64,
}

impl State {
    /// True when the record with `mark`, routed to `lane`, is already applied.
    pub fn done(&self, lane: usize, mark: &Mark) -> bool {
        mark.ordinal != 0
            && (self.applied.get(lane).is_some_and(|a| mark.ordinal <= a.load(Relaxed))
                || (mark.ordinal <= self.older_max
                    && self.older.iter().any(|(n, v)| v.get((mark.hash % *n as u64) as usize).is_some_and(|&o| mark.ordinal <= o))))
    }

    /// The lane's ordinal now.
    pub fn applied(&self, lane: usize) -> u64 {
        self.applied.get(lane).map_or(0, |a| a.load(Relaxed))
    }

    /// The highest ordinal an earlier lane layout of this epoch applied.
    pub fn older_reach(&self) -> u64 {
        self.older_max
    }

    /// After COMMIT: the lane applied through `ordinal`.
    pub fn advance(&self, lane: usize, ordinal: u64) {
        if let Some(a) = self.applied.get(lane) {
            a.fetch_max(ordinal, Relaxed);
        }
    }
}

/// A batch's records with the ones already applied left out, and the row
/// to write with them (`None`: nothing new to record).
pub(super) struct Screened<'a> {
    pub records: std::borrow::Cow<'a, [Change]>,
    pub row: Option<ProgressRow>,
    /// The ordinal the row records.
    pub ordinal: u64,
    /// Records left out.
    pub skipped: usize,
}

/// Leaves out what `state` says lane `lane` (or an earlier layout) already
/// applied, and says what to record.
pub(super) fn screen<'a>(state: &State, target: &str, lane: usize, order: &LogOrder, records: &'a [Change]) -> Screened<'a> {
    let mut top = 0u64;
    let mut skip = vec![false; records.len()];
    let mut skipped = 0;
    for (i, c) in records.iter().enumerate() {
        let Some(m) = order.mark(c.seq) else { continue };
        top = top.max(m.ordinal);
        if state.done(lane, m) {
            skip[i] = true;
            skipped += 1;
        }
    }
    let last_seq = records.last().map_or(0, |c| c.seq as i64);
    let position = records.iter().rev().find_map(|c| c.position.as_ref()).map(|p| p.display.clone());
    let records: std::borrow::Cow<'a, [Change]> = if skipped == 0 {
        records.into()
    } else {
        records.iter().zip(&skip).filter(|(_, &s)| !s).map(|(c, _)| c.clone()).collect::<Vec<_>>().into()
    };
    let row = (top > state.applied(lane)).then(|| ProgressRow {
        pipeline: order.run.pipeline.clone(),
        target: target.to_string(),
        lanes: order.run.lanes as i32,
        lane: lane as i32,
        epoch: order.run.epoch as i64,
        ordinal: top as i64,
        seq: last_seq,
        position,
    });
    Screened { records, row, ordinal: top, skipped }
}

impl<D: Dialect> SqlSink<D> {
    /// What this target holds of `run`'s numbering: read (and the table
    /// created) on the first batch of a numbering, through `conn`.
    pub(super) async fn progress_state(&self, conn: &mut D::Conn, run: &Arc<RunOrder>) -> Result<Arc<State>, Failure<D>> {
        let mut slot = self.progress.lock().await;
        if let Some(s) = slot.as_ref().filter(|s| *s.run == **run) {
            return Ok(s.clone());
        }
        let dialect = &self.dialect;
        let home = self.progress_home.clone().unwrap_or_else(|| dialect.progress_home());
        dialect.check_identifier(&home).map_err(|m| self.definite(format!("progress_schema: {m}")))?;
        let table: TableKey = (home, PROGRESS_TABLE.to_string());
        self.create_progress_table(conn, &table).await?;
        let rows = dialect.progress_read(conn, &table, &run.pipeline, &self.target).await?;
        let epoch = run.epoch as i64;
        if rows.iter().any(|r| r.epoch != epoch) {
            tracing::info!(target_name = %dialect.name(), pipeline = %run.pipeline, table = %dialect.shown(&table),
                "progress rows of an earlier numbering of this pipeline (a first run, or one after `logferry reset`) are \
                 deleted: they say nothing about this run");
            dialect.progress_delete(conn, &table, &run.pipeline, &self.target, Forget::OtherEpochs(epoch)).await?;
        }
        let mut applied: Vec<u64> = vec![0; run.lanes];
        let mut older: Vec<(usize, Vec<u64>)> = Vec::new();
        for r in rows.iter().filter(|r| r.epoch == epoch && r.lanes > 0 && r.lane >= 0 && r.lane < r.lanes) {
            let (lanes, lane, ordinal) = (r.lanes as usize, r.lane as usize, r.ordinal.max(0) as u64);
            if lanes == run.lanes {
                applied[lane] = ordinal;
                continue;
            }
            match older.iter_mut().find(|(n, _)| *n == lanes) {
                Some((_, v)) => v[lane] = ordinal,
                None => {
                    let mut v = vec![0; lanes];
                    v[lane] = ordinal;
                    older.push((lanes, v));
                }
            }
        }
        // A layout whose every ordinal is at or below the checkpoint is spent.
        let mut kept = Vec::new();
        for (lanes, v) in older {
            if v.iter().all(|&o| o <= run.resumed) {
                dialect.progress_delete(conn, &table, &run.pipeline, &self.target, Forget::Layout(lanes as i32)).await?;
            } else {
                tracing::info!(target_name = %dialect.name(), pipeline = %run.pipeline, old_lanes = lanes, lanes = run.lanes,
                    "the lane count changed: records the old lanes applied are recognised by their old lane until the run is past them");
                kept.push((lanes, v));
            }
        }
        let older_max = kept.iter().flat_map(|(_, v)| v.iter().copied()).max().unwrap_or(0);
        let applied = applied.into_iter().map(AtomicU64::new).collect();
        let state = Arc::new(State { run: run.clone(), table, applied, older: kept, older_max });
        *slot = Some(state.clone());
        Ok(state)
    }

    /// Creates the progress table (and its schema or database) when it is
    /// missing, whatever `create_tables` says: it is logferry's own.
    async fn create_progress_table(&self, conn: &mut D::Conn, table: &TableKey) -> Result<(), Failure<D>> {
        let dialect = &self.dialect;
        if dialect.load_table(conn, table).await?.is_some() {
            return Ok(());
        }
        let shown = dialect.shown(table);
        if let Err(f) = dialect.progress_create(conn, table).await {
            if f.error.is_transient() {
                return Err(f);
            }
            // Another target or pipeline may have created it at the same
            // moment (PostgreSQL then refuses one CREATE … IF NOT EXISTS).
            if !f.lost && matches!(dialect.load_table(conn, table).await, Ok(Some(_))) {
                return Ok(());
            }
            let message = format!(
                "cannot create the progress table {shown} (logferry's record of what each lane applied, which makes \
                 replays change nothing): {} — grant what it needs ({}), or create it yourself ({}), or name another \
                 place with progress_schema",
                f.error.message(),
                dialect.progress_grant(table),
                dialect.progress_ddl(table)
            );
            return Err(Failure { error: SinkError::definite(dialect.name(), message), lost: f.lost, diagnosis: None });
        }
        tracing::info!(target_name = %dialect.name(), table = %shown, "progress table created");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(applied: &[u64], older: Vec<(usize, Vec<u64>)>) -> State {
        let run = Arc::new(RunOrder { pipeline: "p".into(), epoch: 1, lanes: applied.len(), resumed: 0 });
        let older_max = older.iter().flat_map(|(_, v)| v.iter().copied()).max().unwrap_or(0);
        State { run, table: ("s".into(), "t".into()), applied: applied.iter().map(|&o| AtomicU64::new(o)).collect(), older, older_max }
    }

    fn mark(ordinal: u64, hash: u64) -> Mark {
        Mark { seq: ordinal, ordinal, hash }
    }

    #[test]
    fn a_record_is_done_at_or_below_its_lanes_ordinal() {
        let s = state(&[10, 4], Vec::new());
        assert!(s.done(0, &mark(10, 0)));
        assert!(!s.done(0, &mark(11, 0)));
        assert!(!s.done(1, &mark(5, 1)));
        // Records outside the log order are never done.
        assert!(!s.done(0, &mark(0, 0)));
    }

    #[test]
    fn an_earlier_layout_counts_by_the_old_lane() {
        // Four lanes applied through 8, 3, 9, 0; now two lanes.
        let s = state(&[0, 0], vec![(4, vec![8, 3, 9, 0])]);
        // hash 5: old lane 1 (through 3), hash 6: old lane 2 (through 9).
        assert!(s.done(1, &mark(3, 5)) && !s.done(1, &mark(4, 5)));
        assert!(s.done(0, &mark(9, 6)) && !s.done(0, &mark(10, 6)));
        assert!(!s.done(1, &mark(1, 7)), "old lane 3 applied nothing");
    }

    #[test]
    fn screening_leaves_out_what_is_done_and_records_the_top() {
        let s = state(&[2], Vec::new());
        let run = s.run.clone();
        let records: Vec<Change> = (1..=4).map(|seq| Change { seq, ..Default::default() }).collect();
        // seq 3 is a snapshot read (no ordinal).
        let marks = vec![mark(1, 0), mark(2, 0), Mark { seq: 3, ordinal: 0, hash: 0 }, Mark { seq: 4, ordinal: 3, hash: 0 }];
        let order = LogOrder { run, marks: marks.into() };
        let out = screen(&s, "t", 0, &order, &records);
        assert_eq!(out.records.iter().map(|c| c.seq).collect::<Vec<_>>(), [3, 4]);
        assert_eq!((out.skipped, out.ordinal), (2, 3));
        assert_eq!(out.row.as_ref().map(|r| (r.ordinal, r.seq, r.lane)), Some((3, 4, 0)));
        s.advance(0, 3);
        let again = screen(&s, "t", 0, &order, &records);
        assert_eq!(again.records.len(), 1, "only the snapshot read is applied again");
        assert!(again.row.is_none());
    }
}
