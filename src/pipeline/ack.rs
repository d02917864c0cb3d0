//! The ack tracker: the low watermark of contiguously acknowledged records.
//!
//! Lanes acknowledge records out of order (lane 3 may finish before lane 1),
//! but a checkpoint may only cover a prefix of the sequence in which *every*
//! record is durable. The tracker keeps one flag per record above the
//! watermark in a ring: acknowledging is O(1), advancing the watermark is
//! amortised O(1), and memory is bounded by the records in flight (which the
//! router bounds).

use std::collections::VecDeque;

/// Tracks which sequence numbers above the watermark are acknowledged.
#[derive(Debug)]
pub struct AckTracker {
    /// Every seq ≤ `watermark` is acknowledged.
    watermark: u64,
    /// `acked[i]` is true when seq `watermark + 1 + i` is acknowledged.
    acked: VecDeque<bool>,
}

impl AckTracker {
    /// A tracker for which every seq ≤ `watermark` is already done (the
    /// checkpoint's seq on restart, 0 on a first run).
    pub fn new(watermark: u64) -> Self {
        AckTracker { watermark, acked: VecDeque::new() }
    }

    /// The highest seq such that it and every seq below it are acknowledged.
    pub fn watermark(&self) -> u64 {
        self.watermark
    }

    /// Records in flight above the watermark that are acknowledged already.
    pub fn pending_acks(&self) -> usize {
        self.acked.iter().filter(|a| **a).count()
    }

    /// Acknowledges `seq`. Acks at or below the watermark, and repeated acks,
    /// are ignored. Returns true if the watermark moved.
    pub fn ack(&mut self, seq: u64) -> bool {
        if seq <= self.watermark {
            return false;
        }
        let idx = (seq - self.watermark - 1) as usize;
        if idx >= self.acked.len() {
            self.acked.resize(idx + 1, false);
        }
        self.acked[idx] = true;
        let before = self.watermark;
        while self.acked.front() == Some(&true) {
            self.acked.pop_front();
            self.watermark += 1;
        }
        self.watermark != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn waits_for_the_gap() {
        let mut t = AckTracker::new(10);
        assert!(!t.ack(12));
        assert!(!t.ack(13));
        assert_eq!(t.watermark(), 10);
        assert!(t.ack(11));
        assert_eq!(t.watermark(), 13);
        assert!(!t.ack(5), "acks below the watermark are ignored");
        assert!(!t.ack(13), "repeated acks are ignored");
        assert_eq!(t.watermark(), 13);
    }

    proptest! {
        /// For any order of acks, the watermark is always the largest w with
        /// every seq in 1..=w acknowledged, and ends at n.
        #[test]
        fn watermark_is_the_contiguous_prefix(
            order in (1usize..300).prop_flat_map(|n| Just((1..=n as u64).collect::<Vec<_>>()).prop_shuffle()),
            dup_every in 2usize..7,
        ) {
            let n = order.len() as u64;
            let mut t = AckTracker::new(0);
            let mut seen = std::collections::BTreeSet::new();
            for (i, &s) in order.iter().enumerate() {
                t.ack(s);
                if i % dup_every == 0 { t.ack(s); }
                seen.insert(s);
                let expected = (1..=n).take_while(|x| seen.contains(x)).last().unwrap_or(0);
                prop_assert_eq!(t.watermark(), expected);
            }
            prop_assert_eq!(t.watermark(), n);
            prop_assert_eq!(t.pending_acks(), 0);
        }
    }
}
