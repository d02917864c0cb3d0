//! `kind = "generate"`: a deterministic synthetic source.
//!
//! It produces a stream of inserts, updates and deletes over `tables` tables
//! (`gen.t0`, `gen.t1`, …) of `keys` keys each, grouped in transactions of
//! `tx_size` changes, from a seeded pseudo-random sequence. It keeps the set
//! of live keys, so inserts create rows that do not exist yet and updates
//! and deletes touch rows that do: applied in order, the stream leaves a
//! well-defined final table state that tests can check.
//!
//! The position is the number of changes emitted so far. Resuming after
//! position `p` replays the sequence from the start without emitting (it is
//! cheap) and emits change `p` onwards: exactly the records that followed the
//! checkpoint, as the `Source` contract requires.
//!
//! Used to try the pipeline without a database, and to measure targets alone
//! (`logferry bench`).

use super::{Source, SourceContext, SourceError};
use crate::config::GenerateConfig;
use crate::record::{value, Change, ColumnSchema, LogicalType, Op, Position, Row, TableRef, TableSchema, Timestamp, Value};
use crate::BoxFuture;
use std::time::Duration;

/// How often an idle generator (past `total`, not in once mode) emits a
/// heartbeat, so checkpoints and liveness keep moving.
const IDLE_HEARTBEAT: Duration = Duration::from_secs(1);
/// Commit times are synthetic (deterministic): this base plus one
/// millisecond per change. 2024-01-01T00:00:00Z.
const COMMIT_TIME_BASE_SECS: i64 = 1_704_067_200;

/// The synthetic source.
pub struct GenerateSource {
    cfg: GenerateConfig,
    name: String,
}

impl GenerateSource {
    /// A generator with these settings.
    pub fn new(cfg: GenerateConfig) -> Self {
        GenerateSource { cfg, name: "generate".to_string() }
    }
}

/// The deterministic state machine behind the source, also used by tests
/// to compute the expected final state.
pub struct Generator {
    cfg: GenerateConfig,
    rng: u64,
    /// `live[table][key]`: whether the row exists now.
    live: Vec<Vec<bool>>,
    live_count: Vec<u64>,
    /// Changes produced so far (the position).
    produced: u64,
    payload: String,
}

/// One generated change, before it becomes a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneratedChange {
    /// Table index.
    pub table: u32,
    /// Key (the `id` column).
    pub key: u64,
    /// Insert, update or delete.
    pub op: Op,
    /// 0-based index of the change in the whole stream.
    pub index: u64,
}

impl Generator {
    /// A generator at position 0.
    pub fn new(cfg: GenerateConfig) -> Self {
        let tables = cfg.tables.max(1) as usize;
        let keys = cfg.keys.max(1) as usize;
        let payload = "x".repeat(cfg.row_bytes);
        Generator {
            rng: cfg.seed ^ 0x5DEE_CE66_D1CE_4E5B,
            live: vec![vec![false; keys]; tables],
            live_count: vec![0; tables],
            produced: 0,
            payload,
            cfg,
        }
    }

    fn next_u64(&mut self) -> u64 {
        // splitmix64: tiny, fast, good enough spread for workloads.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Changes produced so far.
    pub fn position(&self) -> u64 {
        self.produced
    }

    /// Produces the next change and updates the live-key set.
    pub fn next_change(&mut self) -> GeneratedChange {
        let tables = self.live.len() as u64;
        let keys = self.cfg.keys.max(1);
        let table = (self.next_u64() % tables) as usize;
        let roll = (self.next_u64() % 100) as u8;
        let start = self.next_u64() % keys;
        let want_existing = roll < self.cfg.update_pct.saturating_add(self.cfg.delete_pct);
        let live = self.live_count[table];
        // Insert when asked to, or when nothing exists to update; update
        // when asked to, or when every key exists already.
        let op = if want_existing && live > 0 {
            if roll < self.cfg.update_pct {
                Op::Update
            } else {
                Op::Delete
            }
        } else if live < keys {
            Op::Insert
        } else {
            Op::Update
        };
        let must_exist = op != Op::Insert;
        // Probe linearly from a random start for a key in the wanted state.
        let row = &mut self.live[table];
        let mut key = start;
        while row[key as usize] != must_exist {
            key = (key + 1) % keys;
        }
        match op {
            Op::Insert => {
                row[key as usize] = true;
                self.live_count[table] += 1;
            }
            Op::Delete => {
                row[key as usize] = false;
                self.live_count[table] -= 1;
            }
            _ => {}
        }
        let index = self.produced;
        self.produced += 1;
        GeneratedChange { table: table as u32, key, op, index }
    }

    /// Whether `key` of `table` exists after the changes produced so far.
    pub fn is_live(&self, table: u32, key: u64) -> bool {
        self.live[table as usize][key as usize]
    }

    /// The schema of table `gen.t<table>`: the columns [`row`](Self::row)
    /// writes. Its types belong to no engine, so `type_dialect` is empty
    /// and `source_type` is the logical type's description; targets map
    /// from `logical`. (The source does not emit it: its records are
    /// numbered by change, see the module docs.)
    pub fn schema(&self, table: u32) -> TableSchema {
        let column = |name: &str, logical: LogicalType| ColumnSchema {
            name: name.into(),
            source_type: logical.describe(),
            nullable: name != "id",
            logical: Some(logical),
            type_dialect: String::new(),
        };
        TableSchema {
            table: Some(TableRef { schema: "gen".into(), name: format!("t{table}") }),
            columns: vec![
                column("id", LogicalType::integer(8, false)),
                column("n", LogicalType::integer(8, false)),
                // index / 100 of a u64 index has at most 18 digits, then 2 decimals.
                column("amount", LogicalType::decimal(20, 2)),
                column("payload", LogicalType::text(0, false)),
            ],
            key_columns: vec!["id".into()],
            documents: false,
        }
    }

    /// The row image a change writes (the `after` image; deletes carry only the key).
    pub fn row(&self, c: &GeneratedChange) -> Row {
        let id = ("id", Value::int64(c.key as i64));
        if c.op == Op::Delete {
            return Row::from_pairs([id]);
        }
        Row::from_pairs([
            id,
            ("n", Value::int64(c.index as i64)),
            ("amount", Value::of(value::Kind::Decimal(format!("{}.{:02}", c.index / 100, c.index % 100)))),
            ("payload", Value::text(self.payload.clone())),
        ])
    }

    /// The full record for a change (seq is assigned by the pipeline).
    pub fn record(&self, pipeline: &str, c: &GeneratedChange) -> Change {
        let tx_size = self.cfg.tx_size.max(1) as u64;
        let row = self.row(c);
        let (before, after) = match c.op {
            Op::Delete => (Some(row), None),
            _ => (None, Some(row)),
        };
        let millis = c.index as i64;
        Change {
            pipeline: pipeline.to_string(),
            source: "generate".to_string(),
            op: c.op as i32,
            table: Some(TableRef { schema: "gen".into(), name: format!("t{}", c.table) }),
            key_columns: vec!["id".into()],
            before,
            after,
            position: Some(position(c.index + 1)),
            tx_id: (c.index / tx_size).to_string(),
            commit_time: Some(Timestamp {
                seconds: COMMIT_TIME_BASE_SECS + millis / 1000,
                nanos: (millis % 1000) as u32 * 1_000_000,
                special: 0,
            }),
            tx_end: (c.index + 1) % tx_size == 0,
            ..Default::default()
        }
    }
}

/// The position after `n` changes.
fn position(n: u64) -> Position {
    Position { token: bytes::Bytes::copy_from_slice(&n.to_be_bytes()), display: format!("change {n}") }
}

fn parse_position(p: &Position) -> Option<u64> {
    Some(u64::from_be_bytes(p.token.as_ref().try_into().ok()?))
}

impl Source for GenerateSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn run(&mut self, ctx: SourceContext) -> BoxFuture<'_, Result<(), SourceError>> {
        Box::pin(async move {
            let definite = |message: String| SourceError::definite(&self.name, message);
            if ctx.once && self.cfg.total.is_none() {
                return Err(definite(
                    "--once needs an end: set `total` in [pipeline.source] for the generate source".into(),
                ));
            }
            let mut g = Generator::new(self.cfg.clone());
            let start = match &ctx.resume {
                None => 0,
                Some(p) => parse_position(p).ok_or_else(|| {
                    definite(format!(
                        "checkpoint position `{}` is not a generate position; `logferry reset` the pipeline",
                        p.display
                    ))
                })?,
            };
            while g.position() < start {
                g.next_change();
            }
            let total = self.cfg.total.unwrap_or(u64::MAX);
            let mut shutdown = ctx.shutdown.clone();
            let rate = self.cfg.rate.map(|r| r.max(1) as f64);
            let started = tokio::time::Instant::now();
            let first = g.position();
            while g.position() < total {
                if *shutdown.borrow() {
                    return Ok(());
                }
                if let Some(rate) = rate {
                    let due = started + Duration::from_secs_f64((g.position() - first) as f64 / rate);
                    tokio::select! {
                        _ = shutdown.changed() => return Ok(()),
                        _ = tokio::time::sleep_until(due) => {}
                    }
                }
                let c = g.next_change();
                let mut rec = g.record(&ctx.pipeline, &c);
                // The last change of a finite stream closes its transaction.
                if g.position() == total {
                    rec.tx_end = true;
                }
                ctx.emitter.emit(rec).await?;
            }
            if ctx.once {
                return Ok(());
            }
            // Past the end: stay alive with heartbeats until shutdown.
            loop {
                tokio::select! {
                    _ = shutdown.changed() => return Ok(()),
                    _ = tokio::time::sleep(IDLE_HEARTBEAT) => {}
                }
                let hb = Change {
                    pipeline: ctx.pipeline.clone(),
                    source: "generate".into(),
                    op: Op::Heartbeat as i32,
                    position: Some(position(g.position())),
                    tx_end: true,
                    ..Default::default()
                };
                ctx.emitter.emit(hb).await?;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> GenerateConfig {
        GenerateConfig {
            total: Some(5000),
            tables: 3,
            keys: 50,
            tx_size: 7,
            row_bytes: 8,
            update_pct: 40,
            delete_pct: 20,
            rate: None,
            seed: 11,
        }
    }

    #[test]
    fn inserts_new_keys_and_touches_live_ones() {
        let mut g = Generator::new(cfg());
        let mut live = std::collections::HashSet::new();
        let mut ops = [0u32; 3];
        for _ in 0..5000 {
            let c = g.next_change();
            let k = (c.table, c.key);
            match c.op {
                Op::Insert => assert!(live.insert(k), "insert of an existing key {k:?}"),
                Op::Update => assert!(live.contains(&k), "update of a missing key {k:?}"),
                Op::Delete => assert!(live.remove(&k), "delete of a missing key {k:?}"),
                other => panic!("unexpected op {other:?}"),
            }
            ops[(c.op as usize) - 1] += 1;
        }
        assert!(ops.iter().all(|&n| n > 300), "mix is too skewed: {ops:?}");
    }

    #[test]
    fn logical_schema_names_the_row_columns() {
        let mut g = Generator::new(cfg());
        let c = g.next_change();
        let row = g.row(&GeneratedChange { op: Op::Insert, ..c });
        let s = g.schema(c.table);
        let names: Vec<&str> = s.columns.iter().map(|c| c.name.as_str()).collect();
        let row_names: Vec<&str> = row.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, row_names);
        assert_eq!(s.columns[2].source_type, "decimal(20,2)");
        assert!(s.columns.iter().all(|c| c.logical.is_some() && c.type_dialect.is_empty()));
        assert_eq!(s.table, g.record("p", &c).table);
    }

    #[test]
    fn same_seed_same_stream_and_transactions_close() {
        let (mut a, mut b) = (Generator::new(cfg()), Generator::new(cfg()));
        for i in 0..100u64 {
            let (ca, cb) = (a.next_change(), b.next_change());
            assert_eq!(ca, cb);
            let r = a.record("p", &ca);
            assert_eq!(r.tx_end, (i + 1) % 7 == 0);
            assert_eq!(parse_position(r.position.as_ref().unwrap()), Some(i + 1));
        }
    }
}
