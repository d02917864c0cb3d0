//! The log order: the numbering exactly-once targets compare.
//!
//! `seq` numbers every record the source emits, but a new source session
//! may emit records of its own first (a schema record before a table's
//! first change, a position marker at start), so a replay after a
//! checkpoint can number the same changes differently. Row changes read
//! from the log are the same in every replay, so they get a *log ordinal*
//! counted among themselves; the ordinal of a checkpoint is saved with it,
//! under the *epoch* of the numbering, drawn anew whenever a run starts
//! without a checkpoint (see `sinks::Batch::order`).

use crate::record::{Change, Op};
use std::time::SystemTime;

/// True for records counted in the log order: row changes and truncates
/// read from the source's log. A replay from a checkpoint reads the same
/// ones in the same order, while what else a source emits may differ
/// between runs (schema records once per session, position markers at
/// start, rows of a resumed copy read anew), so these are what
/// exactly-once targets compare (`sinks::Mark::ordinal`).
pub(super) fn in_log_order(change: &Change) -> bool {
    matches!(change.op(), Op::Insert | Op::Update | Op::Delete | Op::Truncate) && !change.copied
}

/// A new numbering's epoch: random, positive as a signed 64-bit integer
/// (targets store it in a BIGINT), never 0 (which means "none").
pub(super) fn new_epoch() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.write_u32(std::process::id());
    (h.finish() >> 1).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_row_changes_read_from_the_log_count() {
        let with = |op: Op, copied: bool| Change { op: op as i32, copied, ..Default::default() };
        for op in [Op::Insert, Op::Update, Op::Delete, Op::Truncate] {
            assert!(in_log_order(&with(op, false)), "{op:?}");
            assert!(!in_log_order(&with(op, true)), "copied {op:?}");
        }
        for op in [Op::SnapshotRead, Op::SchemaChange, Op::Heartbeat, Op::Message] {
            assert!(!in_log_order(&with(op, false)), "{op:?}");
        }
    }

    #[test]
    fn epochs_are_positive_and_differ() {
        let (a, b) = (new_epoch(), new_epoch());
        assert!(a > 0 && a <= i64::MAX as u64 && b > 0);
        assert_ne!(a, b);
    }
}
