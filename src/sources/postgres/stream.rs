//! Streaming: pgoutput messages from the replication session to records.
//!
//! Records of a transaction are emitted as they are decoded, one behind: the
//! last one is held back until the transaction's Commit arrives, and then
//! goes out with `tx_end` set and the commit's end LSN as its position. A
//! transaction with no rows for us (it touched other tables) becomes a
//! heartbeat record carrying its end LSN, so the checkpoint keeps moving.
//!
//! A Relation message (sent before a table's first change in a session and
//! after DDL) becomes a schema record when the table's columns differ from
//! what was last emitted for it in this session.
//!
//! **Streamed transactions** (`streaming 'on'`, see [`super::spill`]): the
//! messages between Stream Start and Stream Stop are kept, undecoded, per
//! transaction; at Stream Commit they are decoded and emitted in order
//! just as an ordinary transaction's (the xid the Stream Start named as
//! `tx_id`, the commit's time, `tx_end` and end LSN on the last record),
//! and Stream Abort discards the transaction or one subtransaction. Only
//! the xid a message starts with is read while it streams in.
//!
//! **Early apply** (when the pipeline offers it, `SourceContext::early`):
//! the first streamed transaction while none is (and no online copy runs)
//! is also decoded as it streams in, and its records go to the targets'
//! open transactions in chunks (at every Stream Stop, and every
//! [`EARLY_CHUNK`] records), a subtransaction's first message setting a
//! savepoint and its abort rolling back to it. At its Stream Commit the
//! targets commit it and only a position marker is emitted; if they gave it
//! up, it is replayed from the spill files as above. The spill files are
//! written either way until then.
//!
//! How far behind the server's WAL the stream is goes to the source's stats
//! (`SourceStats::set_behind_bytes`) every [`BEHIND_EVERY`]: the server's
//! WAL end (`pg_current_wal_lsn()`, or the replayed LSN on a standby) minus
//! the furthest LSN received. It is asked for on the SQL session because the
//! walsender's own `wal_end` fields in logical replication are only what it
//! has decoded and sent so far, not the end of the server's WAL.

use super::catalog::{Table, TypeResolver};
use super::decode::{self, OldTuple, PgMessage, Relation, Tuple, TupleValue};
use super::online;
use super::position::PgPosition;
use super::spill::Spill;
use super::types::{self, PgType};
use super::{definite, repl_error, sql_error, SourceResult};
use crate::record::logical::POSTGRESQL;
use crate::record::{
    ColumnSchema, Change, Column, LogicalMessage, Op, Row, SchemaChange, TableRef, TableSchema, Timestamp, Value,
};
use crate::sources::{position_marker, SourceContext, TxTail};
use bytes::Bytes;
use pgwire_replication::{Lsn, ReplicationClient, ReplicationEvent};
use std::collections::HashMap;
use std::time::Duration;
use tokio_postgres::Client;

/// Prefix of the message `--once` writes to mark the end of the log.
pub const ONCE_PREFIX: &str = "logferry.once";
/// Prefix of the idle heartbeat message.
pub const HEARTBEAT_PREFIX: &str = "logferry.heartbeat";
/// Seconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch.
const PG_EPOCH_UNIX_SECS: i64 = 946_684_800;
/// How often the bytes behind the server's WAL end are measured.
pub const BEHIND_EVERY: Duration = Duration::from_secs(2);
/// Messages of a streamed transaction replayed between two looks at the
/// shutdown signal (a replay of millions of rows must not hold a stop up).
const REPLAY_SHUTDOWN_EVERY: u64 = 4096;

/// What the streamer needs.
pub struct StreamSetup<'a> {
    pub client: Client,
    /// Where streamed in-progress transactions are kept; `None` when the
    /// session did not ask for streaming.
    pub spill: Option<Spill>,
    pub repl: ReplicationClient,
    pub source: String,
    pub tables: &'a [Table],
    pub heartbeat_interval: Duration,
    /// In once mode, stop when the stream reaches this LSN.
    pub once_marker: Option<u64>,
    /// Tables to copy while streaming, and requests to serve.
    pub online: super::online::PgOnline,
}

/// A relation as the stream describes it, with resolved column types.
struct Rel {
    table: TableRef,
    columns: Vec<String>,
    types: Vec<PgType>,
    key: Vec<String>,
    /// Index of each key column in `columns`.
    key_idx: Vec<usize>,
    schema: TableSchema,
}

/// Decodes the stream and emits records.
pub struct Streamer<'a> {
    setup: StreamSetup<'a>,
    rels: HashMap<u32, Rel>,
    resolver: TypeResolver,
    /// Schema last emitted per table in this session.
    emitted_schema: HashMap<String, TableSchema>,
    /// Open transaction: (xid, commit time).
    tx: Option<(u32, Timestamp)>,
    /// The last record of the open transaction, held until we know it is last.
    tail: TxTail,
    /// Records emitted since the last heartbeat tick (idle detection).
    busy: bool,
    /// Once mode reached its end marker, but online copies go on.
    once_reached: bool,
    /// The furthest LSN the stream has delivered (bytes-behind figure).
    received: u64,
    /// Inside a Stream Start .. Stream Stop block: its top-level xid.
    block: Option<u32>,
    /// The streamed transaction applied early (see `EarlyTx`).
    early: Option<EarlyTx>,
    /// While set, records go here instead of to the pipeline (decoding a
    /// streamed transaction's chunk for early apply).
    capture: Option<Vec<Change>>,
}

/// A streamed transaction whose changes go to the targets as they come
/// (`crate::pipeline::early`), while its messages are also kept in the
/// spill files in case the targets give it up.
struct EarlyTx {
    xid: u32,
    /// Subtransactions seen (each one a savepoint on the targets).
    subs: std::collections::HashSet<u32>,
}

/// Records of an early transaction handed over at once, at most (besides
/// at every Stream Stop).
const EARLY_CHUNK: usize = 8192;

impl<'a> Streamer<'a> {
    pub fn new(setup: StreamSetup<'a>) -> Self {
        Streamer {
            setup,
            rels: HashMap::new(),
            resolver: TypeResolver::default(),
            emitted_schema: HashMap::new(),
            tx: None,
            tail: TxTail::default(),
            busy: false,
            once_reached: false,
            received: 0,
            block: None,
            early: None,
            capture: None,
        }
    }

    pub async fn run(mut self, ctx: SourceContext) -> SourceResult<()> {
        let mut shutdown = ctx.shutdown.clone();
        let mut durable = ctx.durable.clone();
        let mut tick = tokio::time::interval(self.setup.heartbeat_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.reset();
        let mut behind = tokio::time::interval(BEHIND_EVERY);
        behind.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stats = ctx.emitter.stats();
        loop {
            self.setup.online.start_next();
            tokio::select! {
                biased;
                _ = crate::sources::stopped(&mut shutdown) => {
                    let _ = self.setup.repl.shutdown().await;
                    return Ok(());
                }
                changed = durable.changed() => {
                    if changed.is_ok() {
                        let pos = durable.borrow_and_update().clone();
                        if let Some(lsn) = pos.as_ref().and_then(|p| PgPosition::from_position(p).ok()).map(|p| p.lsn) {
                            self.setup.repl.update_applied_lsn(Lsn::from_u64(lsn));
                            self.setup.online.durable(&lsn, &ctx);
                        }
                    }
                }
                request = ctx.requests.next() => self.setup.online.accept(request, &ctx),
                outcome = self.setup.online.reader_finished() => self.setup.online.reader_done(outcome).await?,
                _ = tick.tick() => {
                    if !self.busy {
                        self.setup
                            .client
                            .query_one("SELECT pg_logical_emit_message(false, $1, ''::text)::text", &[&HEARTBEAT_PREFIX])
                            .await
                            .map_err(|e| sql_error(&self.setup.source, "writing a heartbeat", &e))?;
                    }
                    self.busy = false;
                }
                _ = behind.tick() => {
                    if self.received > 0 {
                        if let Some(end) = self.wal_end().await {
                            stats.set_behind_bytes(end.saturating_sub(self.received));
                        }
                    }
                }
                ev = self.setup.repl.recv() => {
                    let ev = ev.map_err(|e| repl_error(&self.setup.source, "reading the replication stream", &e))?;
                    let Some(ev) = ev else {
                        return Err(crate::sources::SourceError::transient(&self.setup.source, "the replication stream ended"));
                    };
                    if self.handle(ev, &ctx).await? {
                        let _ = self.setup.repl.shutdown().await;
                        return Ok(());
                    }
                }
            }
        }
    }

    /// The server's WAL end, or `None` when it cannot be read now (only
    /// a figure for operators: a failure here never stops the stream).
    async fn wal_end(&self) -> Option<u64> {
        let sql = "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text";
        match self.setup.client.query_one(sql, &[]).await {
            Ok(row) => row.get::<_, Option<String>>(0).as_deref().and_then(super::parse_lsn),
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the server's WAL end");
                None
            }
        }
    }

    /// Handles one event; true when once mode reached its end.
    async fn handle(&mut self, ev: ReplicationEvent, ctx: &SourceContext) -> SourceResult<bool> {
        let lsn = match &ev {
            ReplicationEvent::KeepAlive { wal_end, .. } => wal_end.as_u64(),
            ReplicationEvent::XLogData { wal_start, .. } => wal_start.as_u64(),
            ReplicationEvent::Commit { end_lsn, .. } => end_lsn.as_u64(),
            ReplicationEvent::Message { lsn, .. } => lsn.as_u64(),
            _ => 0,
        };
        self.received = self.received.max(lsn);
        match ev {
            ReplicationEvent::Begin { xid, commit_time_micros, .. } => {
                self.tx = Some((xid, pg_time(commit_time_micros)));
                self.tail.clear();
            }
            ReplicationEvent::Commit { end_lsn, commit_time_micros, .. } => {
                self.commit(end_lsn.as_u64(), commit_time_micros, ctx).await?;
            }
            ReplicationEvent::Message { transactional, lsn, prefix, content } => {
                return self.logical_message(transactional, lsn.as_u64(), prefix, content, ctx).await;
            }
            ReplicationEvent::XLogData { data, .. } => return self.xlog(data, ctx).await,
            ReplicationEvent::KeepAlive { .. } => {}
            ReplicationEvent::StoppedAt { .. } => return Ok(true),
        }
        Ok(false)
    }

    /// The end of a transaction: its last record goes out with `tx_end`,
    /// the commit time and the end LSN as its position.
    async fn commit(&mut self, end_lsn: u64, commit_time_micros: i64, ctx: &SourceContext) -> SourceResult<()> {
        let position = self.setup.online.position(&end_lsn);
        let mut last = self.tail.end(&ctx.pipeline, "postgres", position);
        if !last.is_heartbeat() {
            last.commit_time = Some(pg_time(commit_time_micros));
        }
        ctx.emitter.emit(last).await?;
        self.tx = None;
        Ok(())
    }

    /// A logical decoding message; true when once mode reached its end.
    async fn logical_message(
        &mut self,
        transactional: bool,
        lsn: u64,
        prefix: String,
        content: Bytes,
        ctx: &SourceContext,
    ) -> SourceResult<bool> {
        let watermark = prefix == online::LOW_PREFIX || prefix == online::HIGH_PREFIX;
        if !transactional && (prefix == HEARTBEAT_PREFIX || prefix == ONCE_PREFIX || watermark) {
            if !(watermark && self.setup.online.watermark(&prefix, &content, lsn, ctx).await?) {
                ctx.emitter.emit(position_marker(&ctx.pipeline, "postgres", self.setup.online.position(&lsn))).await?;
            }
            // Once mode ends at its marker, after the online copies.
            self.once_reached |= self.setup.once_marker.is_some_and(|m| lsn >= m);
            return Ok(self.once_reached && self.setup.online.idle());
        }
        let mut rec = self.base(Op::Message, None);
        rec.message = Some(LogicalMessage { prefix, content, transactional });
        if transactional {
            self.push(rec, ctx).await?;
        } else {
            rec.tx_end = true;
            rec.position = Some(self.setup.online.position(&lsn));
            ctx.emitter.emit(rec).await?;
        }
        Ok(false)
    }

    /// A pgoutput message the transport did not turn into an event of its
    /// own: changes and relations, and the messages of streamed
    /// transactions. True when once mode reached its end.
    async fn xlog(&mut self, data: Bytes, ctx: &SourceContext) -> SourceResult<bool> {
        let undecodable = |e: decode::DecodeError| definite(&self.setup.source, format!("undecodable pgoutput message: {e}"));
        if let Some(top) = self.block {
            // Inside a streamed block: keep the message for the commit.
            match data.first() {
                Some(b'E') => {
                    self.block = None;
                    self.early_flush(ctx).await?;
                }
                Some(b'R' | b'Y' | b'I' | b'U' | b'D' | b'T' | b'M') => {
                    let xid = data.get(1..5).map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")));
                    let xid = xid.ok_or_else(|| undecodable(decode::parse_in_block(&data).err().unwrap_or(decode::DecodeError::Empty)))?;
                    if self.early.as_ref().is_some_and(|e| e.xid == top) {
                        self.early_message(top, xid, &data, ctx).await?;
                    }
                    self.spill()?.push(top, xid, data).map_err(|e| self.spill_error(e))?;
                }
                _ => match decode::parse_in_block(&data).map_err(undecodable)?.1 {
                    PgMessage::Origin { .. } => {}
                    other => {
                        return Err(definite(
                            &self.setup.source,
                            format!("pgoutput {} message inside a streamed block (protocol violation)", other.kind_name()),
                        ))
                    }
                },
            }
            return Ok(false);
        }
        match decode::parse(&data).map_err(undecodable)? {
            PgMessage::StreamStart { xid, first_segment } => {
                tracing::debug!(xid, first_segment, "streamed block");
                self.spill()?.block(xid);
                self.block = Some(xid);
                if first_segment && self.early.is_none() && self.setup.online.idle() {
                    if let Some(early) = &ctx.early {
                        early.begin().await;
                        self.early = Some(EarlyTx { xid, subs: Default::default() });
                    }
                }
            }
            PgMessage::StreamStop => {}
            PgMessage::StreamAbort { xid, subxid, .. } => {
                self.spill()?.abort(xid, subxid).map_err(|e| self.spill_error(e))?;
                if xid == subxid {
                    tracing::debug!(xid, "streamed transaction aborted: its changes are discarded");
                }
                if let (Some(e), Some(early)) = (self.early.as_ref().filter(|e| e.xid == xid), ctx.early.as_ref()) {
                    if xid == subxid {
                        // (Its schema records went through the lanes, as
                        // `EarlyApply::apply` sends every one.)
                        early.rollback().await;
                        self.early = None;
                    } else if e.subs.contains(&subxid) {
                        early.rollback_to(&subxid.to_string()).await;
                    }
                }
            }
            PgMessage::StreamCommit { xid, end_lsn, commit_time_micros, .. } => {
                if let (Some(_), Some(early)) = (self.early.take_if(|e| e.xid == xid), ctx.early.as_ref()) {
                    let position = self.setup.online.position(&end_lsn);
                    if early.commit(&ctx.emitter, position).await? {
                        self.spill()?.abort(xid, xid).map_err(|e| self.spill_error(e))?;
                        tracing::info!(xid, "streamed transaction committed: it was applied while it streamed");
                        return Ok(false);
                    }
                    // Given up: the whole transaction through the lanes
                    // (its schema records went already).
                }
                return self.replay(xid, end_lsn, commit_time_micros, ctx).await;
            }
            msg => self.message(msg, ctx).await?,
        }
        Ok(false)
    }

    /// A message of the early transaction's block: decoded into records
    /// now (a subtransaction's first one sets a savepoint first).
    async fn early_message(&mut self, top: u32, xid: u32, data: &Bytes, ctx: &SourceContext) -> SourceResult<()> {
        let Some(early) = ctx.early.as_ref() else { return Ok(()) };
        if xid != top && self.early.as_mut().is_some_and(|e| e.subs.insert(xid)) {
            self.early_flush(ctx).await?;
            early.savepoint(&xid.to_string()).await;
        }
        let msg = decode::parse_in_block(data)
            .map_err(|e| definite(&self.setup.source, format!("undecodable pgoutput message of streamed transaction {top}: {e}")))?
            .1;
        if matches!(msg, PgMessage::Message { .. }) {
            // Logical decoding messages reach no SQL target.
            return Ok(());
        }
        let outer = self.tx.replace((top, Timestamp::default()));
        self.capture.get_or_insert_with(Vec::new);
        let result = self.message(msg, ctx).await;
        self.tx = outer;
        result?;
        if self.capture.as_ref().is_some_and(|c| c.len() >= EARLY_CHUNK) {
            self.early_flush(ctx).await?;
        }
        Ok(())
    }

    /// Hands the early transaction's decoded records to the pipeline.
    async fn early_flush(&mut self, ctx: &SourceContext) -> SourceResult<()> {
        let Some(records) = self.capture.take() else { return Ok(()) };
        if let Some(early) = ctx.early.as_ref() {
            early.apply(&ctx.emitter, records).await?;
        }
        Ok(())
    }

    fn spill(&mut self) -> SourceResult<&mut Spill> {
        let source = &self.setup.source;
        self.setup
            .spill
            .as_mut()
            .ok_or_else(|| definite(source, "a streamed transaction, but this session did not ask for streaming (protocol violation)"))
    }

    fn spill_error(&self, e: super::spill::SpillError) -> crate::sources::SourceError {
        definite(&self.setup.source, format!("streamed transactions: {e}"))
    }

    /// Stream Commit: the transaction's kept messages decoded and emitted
    /// in order, then its end as for an ordinary commit. True when the
    /// pipeline is stopping (the transaction is sent again next time).
    async fn replay(&mut self, xid: u32, end_lsn: u64, commit_time_micros: i64, ctx: &SourceContext) -> SourceResult<bool> {
        let mut replay = self.spill()?.take(xid).map_err(|e| self.spill_error(e))?;
        self.tx = Some((xid, pg_time(commit_time_micros)));
        self.tail.clear();
        let mut n = 0u64;
        while let Some((_, data)) = replay.next_message().map_err(|e| self.spill_error(e))? {
            let msg = decode::parse_in_block(&data)
                .map_err(|e| definite(&self.setup.source, format!("undecodable pgoutput message of streamed transaction {xid}: {e}")))?
                .1;
            match msg {
                PgMessage::Message { transactional, lsn, prefix, content } => {
                    self.logical_message(transactional, lsn, prefix, content, ctx).await?;
                }
                msg => self.message(msg, ctx).await?,
            }
            n += 1;
            if n % REPLAY_SHUTDOWN_EVERY == 0 && *ctx.shutdown.borrow() {
                return Ok(true);
            }
        }
        self.commit(end_lsn, commit_time_micros, ctx).await?;
        let spill = self.spill()?;
        let (figures, still_open) = (spill.figures(), spill.open_transactions());
        tracing::info!(xid, changes = n, kept = replay.kept(), blocks_so_far = figures.blocks, spilled_bytes_so_far = figures.bytes_spilled,
            still_open, "streamed transaction committed");
        Ok(false)
    }

    async fn message(&mut self, msg: PgMessage, ctx: &SourceContext) -> SourceResult<()> {
        match msg {
            PgMessage::Relation(r) => self.relation(r, ctx).await?,
            PgMessage::Insert { relation, new } => {
                let rel = self.rel(relation)?;
                let after = self.row(rel, &new)?;
                let mut rec = self.base(Op::Insert, Some(rel));
                rec.after = Some(after);
                self.push(rec, ctx).await?;
            }
            PgMessage::Update { relation, old, new } => {
                let rel = self.rel(relation)?;
                let after = self.row(rel, &new)?;
                let before = old.map(|o| self.old_row(rel, &o)).transpose()?;
                let mut rec = self.base(Op::Update, Some(rel));
                rec.after = Some(after);
                rec.before = before;
                self.push(rec, ctx).await?;
            }
            PgMessage::Delete { relation, old } => {
                let rel = self.rel(relation)?;
                let before = self.old_row(rel, &old)?;
                let mut rec = self.base(Op::Delete, Some(rel));
                rec.before = Some(before);
                self.push(rec, ctx).await?;
            }
            PgMessage::Truncate { relations, .. } => {
                for oid in relations {
                    let rel = self.rel(oid)?;
                    let rec = self.base(Op::Truncate, Some(rel));
                    self.push(rec, ctx).await?;
                }
            }
            PgMessage::Begin { .. } | PgMessage::Commit { .. } | PgMessage::Message { .. } => {
                // The transport turns these into their own events.
            }
            PgMessage::Origin { .. } | PgMessage::Type { .. } => {}
            PgMessage::StreamStart { .. } | PgMessage::StreamStop | PgMessage::StreamCommit { .. } | PgMessage::StreamAbort { .. } => {
                // Handled by `xlog`, never passed on.
            }
        }
        Ok(())
    }

    /// Registers a relation and emits its schema when it changed.
    async fn relation(&mut self, r: Relation, ctx: &SourceContext) -> SourceResult<()> {
        let source = self.setup.source.clone();
        let client = &self.setup.client;
        let mut types = Vec::with_capacity(r.columns.len());
        let mut columns = Vec::with_capacity(r.columns.len());
        for c in &r.columns {
            types.push(self.resolver.resolve(client, c.type_oid, &source).await?);
            let source_type = self.resolver.type_text(client, c.type_oid, c.type_modifier, &source).await?;
            let logical = Some(self.resolver.logical.resolve(client, c.type_oid, c.type_modifier, &source).await?);
            columns.push(ColumnSchema { name: c.name.clone(), source_type, nullable: true, logical, type_dialect: POSTGRESQL.into() });
        }
        let table = TableRef { schema: r.namespace.clone(), name: r.name.clone() };
        // Key: the replica identity columns; for tables we selected, the
        // catalog's key order (the relation message lists them in column order).
        let mut key: Vec<String> = r.columns.iter().filter(|c| c.is_key).map(|c| c.name.clone()).collect();
        if let Some(t) = self.setup.tables.iter().find(|t| t.schema == r.namespace && t.name == r.name) {
            if t.key_from_rule {
                // A keyless table identified by a rule's row key: with
                // REPLICA IDENTITY FULL every column is marked as key; the
                // key is the rule's, and the old image is the whole row.
                key = rule_key(&source, t, &r)?;
            } else if t.key.is_empty() {
                // A keyless table replicated by whole rows: no key columns,
                // the old image is the whole row (REPLICA IDENTITY FULL).
                warn_not_full(t, &r);
                key = Vec::new();
            } else if !t.key.is_empty() && t.key.iter().all(|k| key.contains(k)) {
                // The primary key (or identity index) in the catalog's
                // order; with REPLICA IDENTITY FULL the message marks every
                // column, and the key is still the primary key.
                key = t.key.clone();
            }
            // NOT NULL from the catalog, for target DDL.
            if let Ok(cols) = super::catalog::columns(client, t, &source).await {
                for c in columns.iter_mut() {
                    if let Some(cc) = cols.iter().find(|cc| cc.name == c.name) {
                        c.nullable = !cc.not_null;
                    }
                }
            }
        }
        let keyless = self.setup.tables.iter().any(|t| t.schema == r.namespace && t.name == r.name && t.key.is_empty());
        if key.is_empty() && !keyless {
            return Err(definite(
                &source,
                format!(
                    "table {}.{} has no replica identity key: add a primary key, or leave the table out of `tables`",
                    r.namespace, r.name
                ),
            ));
        }
        let key_idx = key.iter().filter_map(|k| r.columns.iter().position(|c| &c.name == k)).collect();
        let schema = TableSchema { table: Some(table.clone()), columns, key_columns: key.clone(), documents: false };
        if self.emitted_schema.get(&table.qualified()) != Some(&schema) {
            let mut rec = self.base(Op::SchemaChange, None);
            rec.table = Some(table.clone());
            rec.key_columns = key.clone();
            rec.schema_change = Some(SchemaChange { schema: Some(schema.clone()), ddl: String::new() });
            self.push(rec, ctx).await?;
            self.emitted_schema.insert(table.qualified(), schema.clone());
        }
        let columns = r.columns.iter().map(|c| c.name.clone()).collect();
        self.rels.insert(r.oid, Rel { table, columns, types, key, key_idx, schema });
        Ok(())
    }

    fn rel(&self, oid: u32) -> SourceResult<&Rel> {
        self.rels.get(&oid).ok_or_else(|| {
            definite(&self.setup.source, format!("change for relation {oid} before its Relation message (protocol violation)"))
        })
    }

    fn base(&self, op: Op, rel: Option<&Rel>) -> Change {
        let (xid, time) = self.tx.unwrap_or_default();
        Change {
            pipeline: String::new(),
            source: "postgres".into(),
            op: op as i32,
            table: rel.map(|r| r.table.clone()),
            key_columns: rel.map(|r| r.key.clone()).unwrap_or_default(),
            tx_id: if self.tx.is_some() { xid.to_string() } else { String::new() },
            commit_time: self.tx.as_ref().map(|_| time),
            ..Default::default()
        }
    }

    fn row(&self, rel: &Rel, t: &Tuple) -> SourceResult<Row> {
        tuple_row(&self.setup.source, &RowShape { table: &rel.table, columns: &rel.columns, types: &rel.types, schema: &rel.schema }, t)
    }

    fn value(&self, rel: &Rel, i: usize, v: &TupleValue) -> SourceResult<Value> {
        tuple_value(&self.setup.source, &RowShape { table: &rel.table, columns: &rel.columns, types: &rel.types, schema: &rel.schema }, i, v)
    }
}

/// The rule's row key of keyless table `t` as its Relation message has it:
/// every key column must still exist. Preflight made sure the table sends
/// whole old rows (REPLICA IDENTITY FULL); a Relation without it (WAL
/// from before the ALTER, or the identity changed since) is warned about,
/// not refused: PostgreSQL itself then refuses UPDATE and DELETE on the
/// published table, and stopping here would block the slot for good.
fn rule_key(source: &str, t: &Table, r: &Relation) -> SourceResult<Vec<String>> {
    let columns: Vec<String> = r.columns.iter().map(|c| c.name.clone()).collect();
    if let Some(problem) = crate::sources::row_keys::missing_columns(&t.qualified(), &t.key, &columns) {
        return Err(definite(source, problem));
    }
    warn_not_full(t, r);
    Ok(t.key.clone())
}

/// Warns when keyless table `t`'s Relation says it is not REPLICA IDENTITY
/// FULL (WAL from before the ALTER, or the identity changed since): the
/// preflight refuses such a table, but stopping here would block the slot
/// for good, and PostgreSQL itself refuses UPDATE and DELETE on it.
fn warn_not_full(t: &Table, r: &Relation) {
    if r.replica_identity != b'f' {
        tracing::warn!(
            table = %t.qualified(),
            "a table without a primary key is not REPLICA IDENTITY FULL here: \
             PostgreSQL sends no old row for its updates and deletes; run ALTER TABLE {} REPLICA IDENTITY FULL;",
            t.quoted()
        );
    }
}

/// What turning a relation's tuple into a row needs: its table, column
/// names, resolved types and the schema record (for error messages).
#[doc(hidden)]
pub struct RowShape<'r> {
    pub table: &'r TableRef,
    pub columns: &'r [String],
    pub types: &'r [PgType],
    pub schema: &'r TableSchema,
}

/// A decoded pgoutput tuple as the record's row: one column per value, in
/// the relation's order. Public (hidden) for benches/decode.rs, which
/// measures this very code.
#[doc(hidden)]
pub fn tuple_row(source: &str, rel: &RowShape<'_>, t: &Tuple) -> SourceResult<Row> {
    let mut columns = Vec::with_capacity(t.0.len());
    for (i, v) in t.0.iter().enumerate() {
        let name = rel.columns.get(i).cloned().unwrap_or_else(|| format!("column{i}"));
        columns.push(Column { name, value: Some(tuple_value(source, rel, i, v)?) });
    }
    Ok(Row { columns })
}

/// Value `i` of a tuple, typed by the relation's column type.
fn tuple_value(source: &str, rel: &RowShape<'_>, i: usize, v: &TupleValue) -> SourceResult<Value> {
    Ok(match v {
        TupleValue::Null => Value::null(),
        TupleValue::UnchangedToast => Value::unchanged(),
        TupleValue::Text(b) | TupleValue::Binary(b) => {
            let name = rel.columns.get(i).map(String::as_str).unwrap_or("?");
            let text = std::str::from_utf8(b)
                .map_err(|_| definite(source, format!("{}.{}: value is not UTF-8 text", rel.table, name)))?;
            let ty = rel
                .types
                .get(i)
                .ok_or_else(|| definite(source, format!("{}: tuple has more columns than its relation", rel.table)))?;
            types::text_to_value(ty, text).map_err(|e| {
                let source_type = rel.schema.columns.get(i).map(|c| c.source_type.as_str()).unwrap_or("?");
                definite(source, format!("{}.{} ({source_type}): {e}", rel.table, name))
            })?
        }
    })
}

impl<'a> Streamer<'a> {
    /// The old image: only the key columns for 'K', everything for 'O'.
    fn old_row(&self, rel: &Rel, old: &OldTuple) -> SourceResult<Row> {
        match old {
            OldTuple::Full(t) => self.row(rel, t),
            OldTuple::Key(t) => {
                let mut columns = Vec::with_capacity(rel.key_idx.len());
                for &i in &rel.key_idx {
                    if let Some(v) = t.0.get(i) {
                        columns.push(Column { name: rel.columns[i].clone(), value: Some(self.value(rel, i, v)?) });
                    }
                }
                Ok(Row { columns })
            }
        }
    }

    /// Emits the held record and holds `rec` (the transaction's last so far).
    async fn push(&mut self, mut rec: Change, ctx: &SourceContext) -> SourceResult<()> {
        self.busy = true;
        self.setup.online.observe(&rec);
        rec.pipeline = ctx.pipeline.clone();
        if let Some(captured) = self.capture.as_mut() {
            captured.push(rec);
            return Ok(());
        }
        if let Some(prev) = self.tail.hold(rec) {
            ctx.emitter.emit(prev).await?;
        }
        if self.tx.is_none() {
            // Outside a transaction (cannot happen with pgoutput v1, but
            // never hold a record we have no commit for).
            if let Some(r) = self.tail.take() {
                ctx.emitter.emit(r).await?;
            }
        }
        Ok(())
    }
}

/// PostgreSQL microseconds since 2000-01-01 → canonical timestamp.
fn pg_time(micros: i64) -> Timestamp {
    let secs = micros.div_euclid(1_000_000) + PG_EPOCH_UNIX_SECS;
    let nanos = (micros.rem_euclid(1_000_000) * 1000) as u32;
    Timestamp { seconds: secs, nanos, special: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_times_convert_from_the_2000_epoch() {
        assert_eq!(pg_time(0), Timestamp { seconds: 946_684_800, nanos: 0, special: 0 });
        assert_eq!(pg_time(-1), Timestamp { seconds: 946_684_799, nanos: 999_999_000, special: 0 });
        assert_eq!(pg_time(1_500_000), Timestamp { seconds: 946_684_801, nanos: 500_000_000, special: 0 });
    }
}
