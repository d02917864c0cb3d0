//! What the Kafka source emitted, what the pipeline made durable, and what
//! it may therefore commit to the group, per partition; shared between the
//! reading task, the task that follows `durable`, and the rebalance
//! callbacks (which run on librdkafka's poll, inside the reading task).

use crate::record::Position;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A topic and partition.
pub type Tp = (String, i32);

/// The position of the record read at `offset` of a partition: resuming
/// after it means reading from `offset + 1`.
pub fn position(topic: &str, partition: i32, offset: i64) -> Position {
    let mut token = BytesMut::with_capacity(topic.len() + 16);
    token.put_u16(topic.len() as u16);
    token.put_slice(topic.as_bytes());
    token.put_i32(partition);
    token.put_i64(offset + 1);
    Position { token: token.freeze(), display: format!("{topic}[{partition}]@{}", offset + 1) }
}

/// The (topic, partition, next offset) a position names.
pub fn parse_position(p: &Position) -> Option<(String, i32, i64)> {
    let mut b: Bytes = p.token.clone();
    if b.remaining() < 2 {
        return None;
    }
    let n = b.get_u16() as usize;
    if b.remaining() != n + 12 {
        return None;
    }
    let topic = String::from_utf8(b.split_to(n).to_vec()).ok()?;
    Some((topic, b.get_i32(), b.get_i64()))
}

/// One emitted record waiting to become durable.
struct Emitted {
    token: Bytes,
    tp: Tp,
    next: i64,
    /// The partition's assignment generation when it was read: a record
    /// read before the partition was given up and taken again counts for
    /// nothing (the group's offset moved on without us).
    generation: u64,
}

#[derive(Default)]
struct State {
    emitted: VecDeque<Emitted>,
    /// Per partition: the next offset after the last record emitted.
    emitted_to: HashMap<Tp, i64>,
    /// Per partition: the next offset after the last durable record.
    durable_to: HashMap<Tp, i64>,
    /// Per partition: what we last committed to the group.
    committed: HashMap<Tp, i64>,
    assigned: HashSet<Tp>,
    generation: HashMap<Tp, u64>,
    /// An assignment (possibly empty) has arrived since the start.
    assigned_once: bool,
}

/// The shared tracker.
#[derive(Default)]
pub struct Track {
    state: Mutex<State>,
    changed: Condvar,
}

impl Track {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The group gave us these partitions.
    pub fn assign(&self, tps: &[Tp]) {
        let mut s = self.lock();
        s.assigned_once = true;
        for tp in tps {
            *s.generation.entry(tp.clone()).or_default() += 1;
            s.emitted_to.remove(tp);
            s.durable_to.remove(tp);
            s.committed.remove(tp);
            s.assigned.insert(tp.clone());
        }
        self.changed.notify_all();
    }

    /// Stops emitting from these partitions (they are being revoked).
    pub fn revoke(&self, tps: &[Tp]) {
        let mut s = self.lock();
        for tp in tps {
            s.assigned.remove(tp);
        }
    }

    /// Whether records of this partition may be emitted now.
    pub fn owns(&self, tp: &Tp) -> bool {
        self.lock().assigned.contains(tp)
    }

    /// An assignment has arrived; the partitions we own now.
    pub fn assignment(&self) -> Option<Vec<Tp>> {
        let s = self.lock();
        s.assigned_once.then(|| s.assigned.iter().cloned().collect())
    }

    /// Notes a record about to be emitted.
    pub fn emitted(&self, position: &Position, tp: Tp, next: i64) {
        let mut s = self.lock();
        let generation = s.generation.get(&tp).copied().unwrap_or(0);
        s.emitted_to.insert(tp.clone(), next);
        s.emitted.push_back(Emitted { token: position.token.clone(), tp, next, generation });
    }

    /// The pipeline checkpointed `position`: it and every record emitted
    /// before it are durable. A position this run did not emit (the
    /// checkpoint of an earlier run) changes nothing.
    pub fn durable(&self, position: &Position) {
        let mut s = self.lock();
        let Some(i) = s.emitted.iter().position(|e| e.token == position.token) else { return };
        for e in s.emitted.drain(..=i).collect::<Vec<_>>() {
            if s.generation.get(&e.tp).copied().unwrap_or(0) == e.generation {
                let d = s.durable_to.entry(e.tp).or_insert(e.next);
                *d = (*d).max(e.next);
            }
        }
        self.changed.notify_all();
    }

    /// Offsets to commit: owned partitions (of `only`, when given) whose
    /// durable offset passed what was committed. Marks them committed.
    pub fn to_commit(&self, only: Option<&[Tp]>) -> Vec<(Tp, i64)> {
        let mut s = self.lock();
        let mut out = Vec::new();
        let State { durable_to, committed, assigned, .. } = &mut *s;
        for (tp, &next) in durable_to.iter() {
            let wanted = only.map_or(assigned.contains(tp), |o| o.contains(tp));
            if wanted && committed.get(tp).is_none_or(|&c| c < next) {
                committed.insert(tp.clone(), next);
                out.push((tp.clone(), next));
            }
        }
        out
    }

    /// Forgets that these offsets were committed (the commit failed).
    pub fn uncommit(&self, offsets: &[(Tp, i64)]) {
        let mut s = self.lock();
        for (tp, next) in offsets {
            if s.committed.get(tp) == Some(next) {
                s.committed.remove(tp);
            }
        }
    }

    /// Waits until everything emitted from `tps` (every partition: `None`)
    /// is durable, at most `within`. True when it is.
    pub fn wait_durable(&self, tps: Option<&[Tp]>, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let mut s = self.lock();
        loop {
            let covered = s.emitted_to.iter().filter(|(tp, _)| tps.is_none_or(|t| t.contains(tp))).all(|(tp, &e)| {
                s.durable_to.get(tp).is_some_and(|&d| d >= e)
            });
            let now = Instant::now();
            if covered {
                return true;
            }
            if now >= deadline {
                return false;
            }
            s = self.changed.wait_timeout(s, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> Tp {
        ("t".into(), p)
    }

    #[test]
    fn positions_round_trip() {
        let p = position("shop.public.orders", 3, 41);
        assert_eq!(p.display, "shop.public.orders[3]@42");
        assert_eq!(parse_position(&p), Some(("shop.public.orders".into(), 3, 42)));
        assert_eq!(parse_position(&Position { token: Bytes::from_static(b"\x00\x05ab"), display: String::new() }), None);
    }

    #[test]
    fn commits_only_what_is_durable_per_partition() {
        let t = Track::default();
        t.assign(&[tp(0), tp(1)]);
        let ps: Vec<Position> = (0..4).map(|i| position("t", (i % 2) as i32, i)).collect();
        for (i, p) in ps.iter().enumerate() {
            t.emitted(p, tp((i % 2) as i32), i as i64 + 1);
        }
        assert!(t.to_commit(None).is_empty());
        assert!(!t.wait_durable(None, Duration::ZERO));
        t.durable(&ps[2]); // records 0, 1, 2: partition 0 to 3, partition 1 to 2
        let mut c = t.to_commit(None);
        c.sort();
        assert_eq!(c, vec![(tp(0), 3), (tp(1), 2)]);
        assert!(t.to_commit(None).is_empty(), "committed once");
        assert!(t.wait_durable(Some(&[tp(0)]), Duration::ZERO));
        assert!(!t.wait_durable(Some(&[tp(1)]), Duration::ZERO));
        t.durable(&position("elsewhere", 0, 9)); // an earlier run's checkpoint: ignored
        t.durable(&ps[3]);
        assert!(t.wait_durable(None, Duration::ZERO));
        t.revoke(&[tp(1)]);
        assert!(t.to_commit(None).is_empty(), "a revoked partition is not committed by the periodic commit");
        assert_eq!(t.to_commit(Some(&[tp(1)])), vec![(tp(1), 4)], "but by the revoke itself");
    }

    #[test]
    fn records_of_an_earlier_assignment_count_for_nothing() {
        let t = Track::default();
        t.assign(&[tp(0)]);
        let p = position("t", 0, 5);
        t.emitted(&p, tp(0), 6);
        t.revoke(&[tp(0)]);
        t.assign(&[tp(0)]);
        t.durable(&p);
        assert!(t.to_commit(None).is_empty());
    }
}
