//! Dead letters: with `on_error = "dead_letter"`, a row change that a target
//! refuses definitely is set aside in the state dir, and the pipeline goes on.
//! A row change failing a `[[pipeline.table]]` `validate` check is set
//! aside the same way (`on_invalid = "dead_letter"`, the default, whatever
//! `on_error` says), before any target sees it; its letter names the rule
//! as the "target". `stop` and `skip` rules are decided here too.
//!
//! **Finding the poison.** A target refuses a whole batch. The lane then
//! applies the batch in halves, and the failing halves in halves again,
//! until each refused record stands alone: those are set aside, everything
//! else is applied. The sink contract makes this safe: a failed apply leaves
//! nothing half-applied, and applying a record again is harmless (database
//! targets upsert by key; files and stdout may show a record twice, as after
//! a crash). A batch with one bad record costs about 2·log2(batch) applies.
//! With `ordering = "transaction"` a transaction holding a refused record is
//! thus applied without it, in pieces.
//!
//! **Per-key order.** Once a record of a key is set aside, every later record
//! of that key (same table, same key values) goes to the store too, without
//! reaching any target, until an operator replays or drops the key's dead
//! letters: applying them would put the key in a state the source never
//! had. The set of dead keys (each with the seq of its earliest dead letter)
//! is shared by the lanes — a key always maps to one lane, and a record that
//! changes its key is a barrier applied alone — and rebuilt from the store
//! when a run starts. An UPDATE that changes the key touches both keys: if
//! either is dead it is held back, and once set aside both are dead.
//!
//! **Durability.** Dead letters of a batch are written and flushed to sled
//! before the batch is acknowledged (only then may the checkpoint pass
//! them), and before any later piece of the batch is applied: exactly-once
//! targets record that they applied past a refused record, so a replay
//! would not offer it to them again.
//! If the process dies first, the batch is replayed with the same seqs, and
//! the store keeps the first entry of each seq.
//!
//! **What still stops the pipeline.** Control records (TRUNCATE, schema
//! changes, logical messages) are never set aside: every later record of a
//! table depends on them, so skipping one would leave the target on a
//! different schema or with rows the source removed. Transient errors that
//! outlast the retries stop it too: an unreachable target is not bad data,
//! and setting records aside would empty the stream into the store.
//!
//! A target-wide problem that makes every record fail definitely (a missing
//! table, a revoked privilege) sends every record to the store; fix the
//! target and replay them (`logferry dead-letters replay --all`).

use super::deliver::Delivery;
use crate::checkpoint::{CheckpointError, CheckpointStore, DeadLetter, DeadLetters};
use crate::record::{Change, Op};
use crate::config::OnInvalid;
use crate::sinks::{Batch, SinkError};
use crate::transform::{Stage, Violation};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The identity of one (table, key): schema, name and each key value's
/// protobuf bytes, each length-prefixed (exact; no hash collisions).
pub type KeyId = Vec<u8>;

/// True for records that may be set aside: row changes. Control records
/// stop the pipeline instead (see the module docs).
pub fn can_dead_letter(change: &Change) -> bool {
    matches!(change.op(), Op::Insert | Op::Update | Op::Delete | Op::SnapshotRead)
}

/// The keys a row change touches: its key, and for an UPDATE that changes
/// the key also the old one.
pub fn touched_keys(change: &Change) -> Vec<KeyId> {
    let mut keys = vec![key_id(change, &change.key_values())];
    if change.changes_key() {
        keys.push(key_id(change, &change.old_key_values()));
    }
    keys
}

fn key_id(change: &Change, values: &[&crate::record::Value]) -> KeyId {
    let mut id = Vec::with_capacity(64);
    let mut put = |bytes: &[u8]| {
        id.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        id.extend_from_slice(bytes);
    };
    let table = change.table.clone().unwrap_or_default();
    put(table.schema.as_bytes());
    put(table.name.as_bytes());
    for v in values {
        put(&prost::Message::encode_to_vec(*v));
    }
    id
}

/// Dead keys of a store: each key's earliest dead-letter seq.
pub fn dead_keys(letters: &[DeadLetter]) -> HashMap<KeyId, u64> {
    let mut dead = HashMap::new();
    for letter in letters {
        for key in touched_keys(&letter.change) {
            let first = dead.entry(key).or_insert(letter.seq());
            *first = (*first).min(letter.seq());
        }
    }
    dead
}

/// One pipeline's dead-letter store and its dead keys, shared by the lanes.
pub(crate) struct Quarantine {
    store: DeadLetters,
    /// `on_error = "dead_letter"`: records a target refuses are set aside
    /// (else a refusal stops the pipeline, and the store only takes
    /// records that fail a `validate` rule).
    refusals: bool,
    /// The rules whose `validate` checks screen each batch first.
    stage: Option<Arc<Stage>>,
    /// Key → seq of its earliest dead letter. Records of the key from that
    /// seq on go to the store. (From that seq, not after: a replay after a
    /// crash meets the refused record itself again, and sets it aside
    /// without asking the target; earlier records of the key, already
    /// applied, are applied again as usual.)
    dead: Mutex<HashMap<KeyId, u64>>,
}

impl Quarantine {
    /// Opens `pipeline`'s store and loads its dead keys.
    pub(crate) fn open(
        store: &CheckpointStore,
        pipeline: &str,
        refusals: bool,
        stage: Option<Arc<Stage>>,
    ) -> Result<Self, CheckpointError> {
        let store = store.dead_letters(pipeline)?;
        let letters = store.list()?;
        let dead = dead_keys(&letters);
        if !letters.is_empty() {
            tracing::warn!(pipeline, dead_letters = letters.len(), keys = dead.len(),
                "the pipeline has dead letters; later changes of their keys are set aside too until they are \
                 replayed or dropped (`logferry dead-letters list`)");
        }
        Ok(Quarantine { store, refusals, stage, dead: Mutex::new(dead) })
    }

    /// The rule `change` fails, if any.
    fn invalid(&self, change: &Change) -> Option<Violation> {
        self.stage.as_ref().and_then(|s| s.validate(change).err())
    }

    /// The earliest dead-letter seq of a key `change` touches, if the change
    /// comes at or after it (and so must be held back).
    fn held_by(&self, change: &Change) -> Option<u64> {
        if !can_dead_letter(change) {
            return None;
        }
        let dead = self.dead.lock().unwrap_or_else(|p| p.into_inner());
        if dead.is_empty() {
            return None;
        }
        touched_keys(change).iter().filter_map(|k| dead.get(k).copied()).filter(|&first| first <= change.seq).min()
    }

    /// Marks every key `change` touches as dead from its seq on.
    fn mark(&self, change: &Change) {
        let mut dead = self.dead.lock().unwrap_or_else(|p| p.into_inner());
        for key in touched_keys(change) {
            let first = dead.entry(key).or_insert(change.seq);
            *first = (*first).min(change.seq);
        }
    }

    /// Writes and flushes `letters` (off the async threads).
    async fn write(&self, letters: Vec<DeadLetter>) -> Result<(), CheckpointError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.add(&letters))
            .await
            .expect("a dead-letter write does not panic")
            .map(|_| ())
    }
}

/// Part of a batch still to be applied.
struct Piece {
    records: Vec<Change>,
    /// Set when this exact piece already failed definitely (no need to try again).
    failed: Option<SinkError>,
}

impl Quarantine {
    /// Applies `batch` to every target through `delivery`, setting aside
    /// records that a target refuses definitely (alone) and records of keys
    /// that have dead letters. Returns how many records were set aside; they
    /// are durable in the store when this returns. `Err(Some(_))`: a
    /// transient error outlasted the retries, a control record was refused,
    /// or the store failed; the pipeline stops. `Err(None)`: cancelled.
    pub(super) async fn apply_or_set_aside(&self, delivery: &mut Delivery, batch: &Batch) -> Result<usize, Option<SinkError>> {
        let q = self;
        let mut first = Piece { records: Vec::new(), failed: None };
        if !batch.records.iter().any(|c| q.held_by(c).is_some() || q.invalid(c).is_some()) {
            // The common case: nothing held back, try the batch as it is.
            match delivery.apply_everywhere(batch).await {
                Ok(()) => return Ok(0),
                Err(Some(e)) if !e.is_transient() && q.refusals => first.failed = Some(e),
                Err(e) => return Err(e),
            }
        }
        first.records = batch.records.clone();
        let mut pieces = vec![first];
        let mut letters = Vec::new();
        let mut written = 0;
        let store_failed = |e: CheckpointError| Some(SinkError::definite("dead-letter store", crate::ErrorChain(&e).to_string()));
        while let Some(Piece { mut records, failed }) = pieces.pop() {
            let error = match failed {
                Some(e) => e,
                None => {
                    let mut stop = None;
                    records.retain(|c| {
                        if let Some(first) = q.held_by(c) {
                            q.mark(c);
                            letters.push(held_back(c, first));
                            return false;
                        }
                        let Some(v) = q.invalid(c) else { return true };
                        if let Some(stage) = &q.stage {
                            stage.stats.count_invalid(v.on_invalid);
                        }
                        match v.on_invalid {
                            OnInvalid::Skip => {
                                tracing::debug!(seq = c.seq, rule = %v.rule, "record fails a rule; skipped (on_invalid = \"skip\")");
                            }
                            OnInvalid::Stop => {
                                stop.get_or_insert(v);
                                return true;
                            }
                            OnInvalid::DeadLetter => {
                                tracing::warn!(lane = delivery.lane, seq = c.seq, rule = %v.rule, table = %v.table,
                                    "record fails a rule; set aside as a dead letter (later changes of its key follow it there)");
                                q.mark(c);
                                letters.push(DeadLetter { change: c.clone(), error: v.to_string(), target: v.rule.clone(), at: SystemTime::now() });
                            }
                        }
                        false
                    });
                    if let Some(v) = stop {
                        return Err(Some(SinkError::definite(
                            format!("rule {}", v.rule),
                            format!("{v}; on_invalid = \"stop\" stops the pipeline: fix the row at the source, or change the rule"),
                        )));
                    }
                    if records.is_empty() {
                        continue;
                    }
                    // Records set aside are durable in the store before any
                    // later record is applied: exactly-once targets record
                    // that they applied past them, so a replay would not
                    // offer them again.
                    if !letters.is_empty() {
                        written += letters.len();
                        q.write(std::mem::take(&mut letters)).await.map_err(store_failed)?;
                    }
                    let piece = Batch { lane: batch.lane, records, order: batch.order.clone() };
                    match delivery.apply_everywhere(&piece).await {
                        Ok(()) => continue,
                        Err(Some(e)) if !e.is_transient() && q.refusals => {
                            records = piece.records;
                            e
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            if records.len() > 1 {
                // Later half first on the stack: the earlier half is applied
                // (and its dead keys known) before the later one.
                let later = records.split_off(records.len() / 2);
                pieces.push(Piece { records: later, failed: None });
                pieces.push(Piece { records, failed: None });
                continue;
            }
            let change = records.pop().expect("a piece is never empty");
            if !can_dead_letter(&change) {
                return Err(Some(error));
            }
            let (target, message) = match &error {
                SinkError::Definite { target, message, .. } | SinkError::Transient { target, message, .. } => {
                    (target.clone(), message.clone())
                }
            };
            tracing::warn!(lane = delivery.lane, seq = change.seq, table = %change.table.clone().unwrap_or_default(),
                target = %target, error = %message,
                "a target refused the record; set aside as a dead letter (later changes of its key follow it there)");
            q.mark(&change);
            // The store holds the row anyway: the letter keeps the server's
            // full text too (values included), which the log line leaves out.
            let stored = match error.row_detail() {
                Some(detail) => format!("{message} [{detail}]"),
                None => message,
            };
            letters.push(DeadLetter { change, error: stored, target, at: SystemTime::now() });
        }
        let n = letters.len();
        if n > 0 {
            q.write(letters).await.map_err(store_failed)?;
        }
        Ok(written + n)
    }
}

fn held_back(change: &Change, first: u64) -> DeadLetter {
    tracing::debug!(seq = change.seq, first, "held back behind a dead letter of its key");
    DeadLetter {
        change: change.clone(),
        error: format!(
            "held back: an earlier change of this key (seq {first}) is a dead letter, and per-key order keeps \
             this one behind it"
        ),
        target: String::new(),
        at: SystemTime::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Row, TableRef, Value};

    fn change(table: &str, op: Op, id: i64, old: Option<i64>) -> Change {
        Change {
            op: op as i32,
            table: Some(TableRef { schema: "t".into(), name: table.into() }),
            key_columns: vec!["id".into()],
            before: old.map(|o| Row::from_pairs([("id", Value::int64(o))])),
            after: Some(Row::from_pairs([("id", Value::int64(id)), ("v", Value::int64(0))])),
            ..Default::default()
        }
    }

    #[test]
    fn keys_are_exact_per_table_and_value() {
        let a1 = touched_keys(&change("a", Op::Insert, 1, None));
        assert_eq!(a1, touched_keys(&change("a", Op::Update, 1, Some(1))), "same key, same id");
        assert_ne!(a1, touched_keys(&change("b", Op::Insert, 1, None)), "other table");
        assert_ne!(a1, touched_keys(&change("a", Op::Insert, 2, None)), "other value");
        let mut text = change("a", Op::Insert, 0, None);
        text.after = Some(Row::from_pairs([("id", Value::text("1"))]));
        assert_ne!(a1, touched_keys(&text), "text '1' is not int 1");
        // Schema "ab" + name "c" is not schema "a" + name "bc".
        let mut x = change("c", Op::Insert, 1, None);
        x.table = Some(TableRef { schema: "ab".into(), name: "c".into() });
        let mut y = x.clone();
        y.table = Some(TableRef { schema: "a".into(), name: "bc".into() });
        assert_ne!(touched_keys(&x), touched_keys(&y));
        // A key change touches both keys.
        let moved = touched_keys(&change("a", Op::Update, 2, Some(1)));
        assert_eq!(moved.len(), 2);
        assert_eq!(moved[1], a1[0]);
    }

    #[test]
    fn dead_keys_keep_the_earliest_seq_and_hold_from_there() {
        let mut first = change("a", Op::Insert, 1, None);
        first.seq = 10;
        let mut later = change("a", Op::Update, 1, Some(1));
        later.seq = 4; // listed out of order on purpose
        let letters: Vec<DeadLetter> = [first, later]
            .into_iter()
            .map(|change| DeadLetter { change, error: String::new(), target: String::new(), at: SystemTime::now() })
            .collect();
        let dead = dead_keys(&letters);
        assert_eq!(dead.values().copied().collect::<Vec<_>>(), [4]);

        let store = CheckpointStore::temporary().unwrap();
        let q = Quarantine { store: store.dead_letters("p").unwrap(), refusals: true, stage: None, dead: Mutex::new(dead) };
        let at = |seq: u64, id: i64, old: Option<i64>| {
            let mut c = change("a", Op::Update, id, old);
            c.seq = seq;
            c
        };
        assert_eq!(q.held_by(&at(3, 1, None)), None, "before the first dead letter: applied again");
        assert_eq!(q.held_by(&at(4, 1, None)), Some(4), "the dead letter itself");
        assert_eq!(q.held_by(&at(9, 1, None)), Some(4));
        assert_eq!(q.held_by(&at(9, 2, None)), None, "other keys are unaffected");
        assert_eq!(q.held_by(&at(9, 2, Some(1))), Some(4), "moving a dead key away is held back");
        let mut trunc = at(9, 1, None);
        trunc.op = Op::Truncate as i32;
        assert_eq!(q.held_by(&trunc), None, "control records are never held");
        q.mark(&at(12, 3, Some(2)));
        assert_eq!(q.held_by(&at(13, 3, None)), Some(12));
        assert_eq!(q.held_by(&at(13, 2, None)), Some(12), "both keys of a key change become dead");
    }
}
