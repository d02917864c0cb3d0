//! Streaming the binlog: row events to records, transaction ends to
//! positions, DDL to schema records.
//!
//! As in the PostgreSQL source, the last record of a transaction is held
//! back until its end (XID event, a `COMMIT` query, or the DDL query itself)
//! and then carries the position after that event. A transaction with no
//! rows for us becomes a heartbeat record with that position, so the
//! checkpoint keeps moving while other tables are busy.
//!
//! How far behind the end of the binlog the stream is goes to the source's
//! stats (`SourceStats::set_behind_bytes`) every [`BEHIND_EVERY`]: from
//! `SHOW BINARY LOGS` (file sizes), the rest of the current file after our
//! position plus every later file. A server that refuses it (the user lacks
//! `REPLICATION CLIENT` / `BINLOG MONITOR`) just leaves the figure unset.

use super::catalog::{self, Table};
use super::ddl::{ddl_target, Ddl};
use super::decode::{event_rows, DecodeError};
use super::gtid::{uuid_text, GtidSet};
use super::{definite, mysql_error, Flavor, MyPosition, SourceResult};
use crate::config::MysqlSourceConfig;
use crate::record::{Change, Op, Row, SchemaChange, Timestamp};
use crate::sources::{SourceContext, SourceError, TxTail};
use futures_core::Stream;
use mysql_async::binlog::events::{EventData, RowsEventData, TableMapEvent};
use mysql_async::prelude::Queryable;
use crate::tls::mysql::MysqlEndpoint;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn};
use std::collections::{BTreeMap, HashMap};

/// MariaDB event types mysql_common does not decode.
const MARIADB_ANNOTATE_ROWS: u8 = 160;
const MARIADB_BINLOG_CHECKPOINT: u8 = 161;
const MARIADB_GTID: u8 = 162;
const MARIADB_GTID_LIST: u8 = 163;
/// Heartbeat events (MySQL 8.0.26+ also sends a second version).
const HEARTBEAT: u8 = 27;
const HEARTBEAT_V2: u8 = 41;
/// MariaDB compressed query / row events (`log_bin_compress = ON`), which
/// mysql_common cannot read: refusing them beats skipping rows.
const MARIADB_COMPRESSED: std::ops::RangeInclusive<u8> = 165..=171;
/// MariaDB GTID event flag: the group has no BEGIN/COMMIT (DDL, non-transactional).
const FL_STANDALONE: u8 = 1;

/// How often the bytes behind the end of the binlog are measured.
pub const BEHIND_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// What the streamer needs.
pub(super) struct StreamSetup {
    pub opts: MysqlEndpoint,
    pub source: String,
    pub tables: Vec<Table>,
    pub flavor: Flavor,
    pub cfg: MysqlSourceConfig,
    /// Once mode: stop at this position (after the online copies).
    pub end: Option<MyPosition>,
    /// Tables to copy while streaming, and requests to serve.
    pub online: super::online::MyOnline,
}

/// True if `a` is strictly before `b` in the binlog.
pub(super) fn before(a: &MyPosition, b: &MyPosition) -> bool {
    (file_order(&a.file), a.pos) < (file_order(&b.file), b.pos)
}

/// A rows event's records, one per row, as the stream pushes them (it
/// adds the pipeline, transaction and position). Public (hidden) for
/// benches/decode.rs, which measures this very code.
#[doc(hidden)]
pub fn row_records(rows: &RowsEventData<'_>, tme: &TableMapEvent<'_>, table: &Table) -> Result<Vec<Change>, DecodeError> {
    let op = match rows {
        RowsEventData::WriteRowsEvent(_) | RowsEventData::WriteRowsEventV1(_) => Op::Insert,
        RowsEventData::UpdateRowsEvent(_) | RowsEventData::UpdateRowsEventV1(_) | RowsEventData::PartialUpdateRowsEvent(_) => Op::Update,
        RowsEventData::DeleteRowsEvent(_) | RowsEventData::DeleteRowsEventV1(_) => Op::Delete,
    };
    let changes = event_rows(rows, tme, &table.columns, &table.qualified())?;
    Ok(changes
        .into_iter()
        .map(|(before, after)| Change {
            op: op as i32,
            table: Some(table.table_ref()),
            key_columns: table.key.clone(),
            before: before.map(Row::from_pairs),
            after: after.map(Row::from_pairs),
            ..Default::default()
        })
        .collect())
}

pub(super) struct Streamer {
    setup: StreamSetup,
    /// Selected tables by `db.name`.
    tables: HashMap<String, Table>,
    /// Tables seen in the binlog and known not to be selected.
    ignored: std::collections::HashSet<String>,
    /// Schema last emitted per table in this session.
    emitted: HashMap<String, crate::record::TableSchema>,
    /// MariaDB GTID state: domain → `domain-server-seq`.
    gtid: BTreeMap<u32, (u32, u64)>,
    /// The GTID of the open transaction.
    current_gtid: Option<(u32, u32, u64)>,
    /// Oracle MySQL: the executed GTID set, and the open transaction's GTID.
    mysql_gtid: GtidSet,
    current_mysql_gtid: Option<(String, u64)>,
    file: String,
    pos: u64,
    in_tx: bool,
    tx_id: String,
    commit_time: Option<Timestamp>,
    tail: TxTail,
    /// Connection for information_schema while the other one streams.
    meta: Option<Conn>,
}

impl Streamer {
    pub(super) fn new(setup: StreamSetup) -> Self {
        let tables = setup.tables.iter().map(|t| (t.qualified(), t.clone())).collect();
        Streamer {
            setup,
            tables,
            ignored: Default::default(),
            emitted: HashMap::new(),
            gtid: BTreeMap::new(),
            current_gtid: None,
            mysql_gtid: GtidSet::default(),
            current_mysql_gtid: None,
            file: String::new(),
            pos: 0,
            in_tx: false,
            tx_id: String::new(),
            commit_time: None,
            tail: TxTail::default(),
            meta: None,
        }
    }

    fn source(&self) -> &str {
        &self.setup.source
    }

    fn position(&self) -> MyPosition {
        let gtid = match self.setup.flavor {
            Flavor::Mariadb => (!self.gtid.is_empty()).then(|| {
                self.gtid.iter().map(|(d, (s, n))| format!("{d}-{s}-{n}")).collect::<Vec<_>>().join(",")
            }),
            Flavor::Mysql => (!self.mysql_gtid.is_empty()).then(|| self.mysql_gtid.to_string()),
        };
        MyPosition { file: self.file.clone(), pos: self.pos, gtid, ..Default::default() }
    }

    async fn open(&mut self, start: &MyPosition) -> SourceResult<BinlogStream> {
        let source = self.setup.source.clone();
        let mut conn = super::connect(&self.setup.opts, &source).await?;
        let period_ns = self.setup.cfg.heartbeat_interval.as_nanos().min(u128::from(u32::MAX) * 1_000_000) as u64;
        let mut setup = vec![format!("SET @master_heartbeat_period = {period_ns}")];
        let has_gtid = start.gtid.as_deref().is_some_and(|g| !g.is_empty());
        let use_gtid = self.setup.flavor == Flavor::Mariadb && has_gtid;
        // Oracle MySQL resumes from its executed GTID set (COM_BINLOG_DUMP_GTID).
        let mysql_sids: Vec<mysql_async::Sid<'static>> = if self.setup.flavor == Flavor::Mysql && has_gtid {
            let set = GtidSet::parse(start.gtid.as_deref().unwrap_or_default())
                .map_err(|e| definite(&source, format!("checkpoint GTID set is malformed ({e}); `logferry reset` the pipeline")))?;
            let sids = set
                .sids()
                .iter()
                .map(|s| s.parse::<mysql_async::Sid<'static>>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| definite(&source, format!("checkpoint GTID set cannot be sent ({e})")))?;
            self.mysql_gtid = set;
            sids
        } else {
            Vec::new()
        };
        if self.setup.flavor == Flavor::Mariadb {
            setup.push("SET @mariadb_slave_capability = 4".into());
        }
        if use_gtid {
            let g = start.gtid.clone().unwrap_or_default();
            if !g.chars().all(|c| c.is_ascii_digit() || c == '-' || c == ',') {
                return Err(definite(&source, format!("checkpoint GTID `{g}` is malformed; `logferry reset` the pipeline")));
            }
            setup.push(format!("SET @slave_connect_state = '{g}'"));
            setup.push("SET @slave_gtid_strict_mode = 1".into());
        }
        for q in setup {
            conn.query_drop(&q).await.map_err(|e| mysql_error(&source, &q, &e))?;
        }
        if self.setup.flavor == Flavor::Mariadb {
            for g in start.gtid.iter().flat_map(|g| g.split(',')) {
                if let Some((d, s, n)) = parse_gtid(g) {
                    self.gtid.insert(d, (s, n));
                }
            }
        }
        self.file = start.file.clone();
        self.pos = start.pos;
        let mut req = BinlogStreamRequest::new(self.setup.cfg.server_id);
        if !mysql_sids.is_empty() {
            req = req.with_gtid().with_gtid_set(mysql_sids);
        } else if !use_gtid {
            req = req.with_filename(start.file.as_bytes()).with_pos(start.pos);
        }
        let gtid_mode = use_gtid || self.setup.flavor == Flavor::Mysql && has_gtid;
        tracing::info!(from = %start.to_position().display, gtid_mode, "streaming the binlog");
        conn.get_binlog_stream(req).await.map_err(|e| stream_error(&source, &e))
    }

    pub(super) async fn run(mut self, start: MyPosition, ctx: SourceContext) -> SourceResult<()> {
        let mut stream = self.open(&start).await?;
        let mut shutdown = ctx.shutdown.clone();
        let mut durable = ctx.durable.clone();
        let mut behind = tokio::time::interval(BEHIND_EVERY);
        behind.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stats = ctx.emitter.stats();
        loop {
            self.setup.online.start_next();
            let next = tokio::select! {
                biased;
                _ = crate::sources::stopped(&mut shutdown) => return Ok(()),
                changed = durable.changed() => {
                    let pos = changed.ok().and_then(|_| durable.borrow_and_update().clone());
                    if let Some(p) = pos.as_ref().and_then(|p| MyPosition::from_position(p).ok()) {
                        self.setup.online.durable(&p, &ctx);
                    }
                    continue;
                }
                request = ctx.requests.next() => {
                    self.setup.online.accept(request, &ctx);
                    continue;
                }
                outcome = self.setup.online.reader_finished() => {
                    self.setup.online.reader_done(outcome).await?;
                    // An idle stream may be at the high watermark already.
                    let at = self.position();
                    if self.at_boundary() && self.setup.online.stream_at(&at, &at, &ctx).await? && self.once_done() {
                        return Ok(());
                    }
                    continue;
                }
                _ = behind.tick() => {
                    if let Some(bytes) = self.behind_bytes().await {
                        stats.set_behind_bytes(bytes);
                    }
                    continue;
                }
                ev = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)) => ev,
            };
            let event = match next {
                None => {
                    return Err(SourceError::transient(self.source(), "the binlog stream ended"))
                }
                Some(Err(e)) => return Err(stream_error(self.source(), &e)),
                Some(Ok(ev)) => ev,
            };
            self.event(&event, &stream, &ctx).await?;
            if self.at_boundary() {
                let at = self.position();
                // A heartbeat says how far the server has sent the binlog.
                let header = event.header();
                let mut seen = at.clone();
                if matches!(header.event_type_raw(), HEARTBEAT | HEARTBEAT_V2) {
                    seen.pos = seen.pos.max(u64::from(header.log_pos()));
                }
                self.setup.online.stream_at(&seen, &at, &ctx).await?;
            }
            if self.once_done() {
                return Ok(());
            }
        }
    }

    /// Between transactions: a chunk may be emitted here.
    fn at_boundary(&self) -> bool {
        !self.in_tx && self.current_gtid.is_none() && self.current_mysql_gtid.is_none()
    }

    /// Once mode reached the end of the binlog as it was at start, and the
    /// online copies are done.
    fn once_done(&self) -> bool {
        let Some(end) = &self.setup.end else { return false };
        let done = self.at_boundary() && !before(&self.position(), end) && self.setup.online.idle();
        if done {
            tracing::info!(at = %self.position().to_position().display, end = %end.to_position().display, "run --once: reached the end of the binlog as it was at start");
        }
        done
    }

    async fn event(&mut self, event: &mysql_async::binlog::events::Event, stream: &BinlogStream, ctx: &SourceContext) -> SourceResult<()> {
        let header = event.header();
        let raw_type = header.event_type_raw();
        let log_pos = u64::from(header.log_pos());
        let end_of_event = |s: &mut Self| {
            if log_pos > 0 {
                s.pos = log_pos;
            }
        };
        match raw_type {
            MARIADB_GTID => {
                let d = event.data();
                if d.len() < 13 {
                    return Err(definite(self.source(), "truncated MariaDB GTID event"));
                }
                let seq = u64::from_le_bytes(d[0..8].try_into().expect("8 bytes"));
                let domain = u32::from_le_bytes(d[8..12].try_into().expect("4 bytes"));
                let flags = d[12];
                self.current_gtid = Some((domain, header.server_id(), seq));
                self.tx_id = format!("{domain}-{}-{seq}", header.server_id());
                self.commit_time = Some(Timestamp { seconds: i64::from(header.timestamp()), nanos: 0, special: 0 });
                self.in_tx = flags & FL_STANDALONE == 0;
                self.tail.clear();
                end_of_event(self);
                return Ok(());
            }
            MARIADB_GTID_LIST | MARIADB_BINLOG_CHECKPOINT | MARIADB_ANNOTATE_ROWS => {
                end_of_event(self);
                return Ok(());
            }
            t if MARIADB_COMPRESSED.contains(&t) => {
                return Err(definite(
                    self.source(),
                    "the binlog is compressed (log_bin_compress = ON), which logferry cannot read: \
                     SET GLOBAL log_bin_compress = OFF (and in my.cnf); events written while it was on cannot be read",
                ));
            }
            _ => {}
        }
        let data = event.read_data().map_err(|e| definite(self.source(), format!("undecodable binlog event: {e}")))?;
        match data {
            Some(EventData::RotateEvent(_)) => {
                let (pos, file) = rotate_target(&header, event.data())
                    .ok_or_else(|| definite(self.source(), "truncated binlog ROTATE event"))?;
                self.file = file;
                self.pos = pos;
            }
            Some(EventData::GtidEvent(g)) => {
                // Oracle MySQL: the transaction's GTID joins the executed set at its end.
                let uuid = uuid_text(&g.sid());
                self.tx_id = format!("{uuid}:{}", g.gno());
                self.current_mysql_gtid = Some((uuid, g.gno()));
                self.in_tx = true;
                self.tail.clear();
                end_of_event(self);
            }
            Some(EventData::TableMapEvent(tme)) => {
                let db = tme.database_name().into_owned();
                let name = tme.table_name().into_owned();
                self.table_seen(&db, &name, tme.columns_count() as usize, ctx).await?;
                end_of_event(self);
            }
            Some(EventData::RowsEvent(rows)) => {
                self.rows(&rows, stream, ctx).await?;
                end_of_event(self);
            }
            Some(EventData::XidEvent(_)) => {
                end_of_event(self);
                self.tx_end(ctx).await?;
            }
            Some(EventData::QueryEvent(q)) => {
                end_of_event(self);
                let sql = q.query().trim().to_string();
                let upper = sql.to_uppercase();
                if upper == "BEGIN" {
                    self.in_tx = true;
                    if self.tx_id.is_empty() {
                        self.tail.clear();
                    }
                } else if upper == "COMMIT" {
                    self.tx_end(ctx).await?;
                } else {
                    let schema = q.schema().into_owned();
                    self.ddl(&schema, &sql, ctx).await?;
                    self.tx_end(ctx).await?;
                }
            }
            Some(EventData::HeartbeatEvent) | Some(EventData::FormatDescriptionEvent(_)) => {}
            _ => end_of_event(self),
        }
        Ok(())
    }

    /// Closes the open transaction: emits the held record (or a heartbeat)
    /// with the position after this event.
    async fn tx_end(&mut self, ctx: &SourceContext) -> SourceResult<()> {
        if let Some((d, s, n)) = self.current_gtid.take() {
            self.gtid.insert(d, (s, n));
        }
        if let Some((uuid, gno)) = self.current_mysql_gtid.take() {
            self.mysql_gtid.add(&uuid, gno);
        }
        let position = self.setup.online.position(&self.position());
        let last = self.tail.end(&ctx.pipeline, "mysql", position);
        ctx.emitter.emit(last).await?;
        self.in_tx = false;
        self.tx_id.clear();
        Ok(())
    }

    async fn push(&mut self, mut rec: Change, ctx: &SourceContext) -> SourceResult<()> {
        rec.pipeline = ctx.pipeline.clone();
        rec.source = "mysql".into();
        rec.tx_id = self.tx_id.clone();
        rec.commit_time = self.commit_time;
        self.setup.online.observe(&rec);
        if let Some(prev) = self.tail.hold(rec) {
            ctx.emitter.emit(prev).await?;
        }
        Ok(())
    }

    /// Bytes of binlog after our position, or `None` when the server
    /// will not say (only a figure for operators: never an error).
    async fn behind_bytes(&mut self) -> Option<u64> {
        if self.file.is_empty() {
            return None;
        }
        let logs: Vec<mysql_async::Row> = match self.meta().await.ok()?.query("SHOW BINARY LOGS").await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::debug!(error = %e, "SHOW BINARY LOGS failed; no bytes-behind figure");
                return None;
            }
        };
        let logs: Vec<(String, u64)> =
            logs.iter().filter_map(|r| Some((r.get_opt::<String, _>(0)?.ok()?, r.get_opt::<u64, _>(1)?.ok()?))).collect();
        Some(bytes_after(&logs, &self.file, self.pos))
    }

    async fn meta(&mut self) -> SourceResult<&mut Conn> {
        if self.meta.is_none() {
            self.meta = Some(super::connect(&self.setup.opts, &self.setup.source).await?);
        }
        Ok(self.meta.as_mut().expect("just set"))
    }

    /// A table map: load a newly seen selected table, refresh one whose
    /// column count changed, and emit its schema when it differs.
    async fn table_seen(&mut self, db: &str, name: &str, columns: usize, ctx: &SourceContext) -> SourceResult<()> {
        let key = format!("{db}.{name}");
        if self.ignored.contains(&key) {
            return Ok(());
        }
        let stale = self.tables.get(&key).is_some_and(|t| t.columns.len() != columns);
        if !self.tables.contains_key(&key) || stale {
            if !catalog::selected(&self.setup.cfg.db.tables, db, name) {
                self.ignored.insert(key);
                return Ok(());
            }
            self.reload(db, name).await?;
        }
        self.emit_schema_if_changed(&key, ctx).await
    }

    async fn reload(&mut self, db: &str, name: &str) -> SourceResult<()> {
        let source = self.setup.source.clone();
        let t = catalog::load_table(self.meta().await?, db, name, &source).await?;
        // Without a primary key: the rule's row key, or keyless (whole rows).
        let t = t.with_row_key(&self.setup.cfg.db.row_keys).map_err(|p| definite(&source, p))?;
        self.tables.insert(t.qualified(), t);
        Ok(())
    }

    async fn emit_schema_if_changed(&mut self, key: &str, ctx: &SourceContext) -> SourceResult<()> {
        let Some(t) = self.tables.get(key) else { return Ok(()) };
        let schema = t.schema();
        if self.emitted.get(key) == Some(&schema) {
            return Ok(());
        }
        let rec = Change {
            op: Op::SchemaChange as i32,
            table: Some(t.table_ref()),
            key_columns: t.key.clone(),
            schema_change: Some(SchemaChange { schema: Some(schema.clone()), ddl: String::new() }),
            ..Default::default()
        };
        self.emitted.insert(key.to_string(), schema);
        self.push(rec, ctx).await
    }

    async fn rows(&mut self, rows: &RowsEventData<'_>, stream: &BinlogStream, ctx: &SourceContext) -> SourceResult<()> {
        let Some(tme) = stream.get_tme(rows.table_id()) else {
            return Err(definite(self.source(), "row event without its table map (protocol violation)"));
        };
        let key = format!("{}.{}", tme.database_name(), tme.table_name());
        let Some(table) = self.tables.get(&key).cloned() else { return Ok(()) };
        let records = row_records(rows, tme, &table).map_err(|e| definite(&self.setup.source, e.to_string()))?;
        for rec in records {
            self.push(rec, ctx).await?;
        }
        Ok(())
    }

    /// A DDL statement: refresh, truncate, or stop for what cannot be carried.
    async fn ddl(&mut self, schema: &str, sql: &str, ctx: &SourceContext) -> SourceResult<()> {
        let Some((verb, tables)) = ddl_target(schema, sql) else { return Ok(()) };
        let selected = |(db, name): &(String, String)| catalog::selected(&self.setup.cfg.db.tables, db, name);
        if matches!(verb, Ddl::Drop | Ddl::Rename) {
            // Any replicated table among those dropped or renamed (either side).
            let replicated: Vec<String> =
                tables.iter().filter(|t| selected(t)).map(|(db, name)| format!("`{db}.{name}`")).collect();
            if replicated.is_empty() {
                return Ok(());
            }
            return Err(definite(
                self.source(),
                format!(
                    "`{}` on replicated table {} cannot be carried to the targets: apply it there by hand, \
                     adjust `tables`, and `logferry reset` the pipeline if the table must be copied again",
                    sql.chars().take(120).collect::<String>(),
                    replicated.join(", ")
                ),
            ));
        }
        let Some((db, name)) = tables.into_iter().next() else { return Ok(()) };
        let key = format!("{db}.{name}");
        if !selected(&(db.clone(), name.clone())) {
            return Ok(());
        }
        match verb {
            Ddl::Alter | Ddl::Create => {
                self.ignored.remove(&key);
                self.reload(&db, &name).await?;
                self.emit_schema_if_changed(&key, ctx).await?;
            }
            Ddl::Truncate => {
                if let Some(t) = self.tables.get(&key) {
                    let rec = Change {
                        op: Op::Truncate as i32,
                        table: Some(t.table_ref()),
                        key_columns: t.key.clone(),
                        ..Default::default()
                    };
                    self.push(rec, ctx).await?;
                }
            }
            Ddl::Drop | Ddl::Rename => {}
        }
        Ok(())
    }
}

/// Where a ROTATE event points: (offset, file name). The server's
/// artificial ("fake") rotate at the start of a dump comes before the format
/// description event, so the client cannot yet know whether a CRC32 follows
/// the name, and mysql_async leaves those 4 bytes in the name. They are cut
/// when they are the CRC32 of the event before them, which a file name's last
/// four characters are not (a 2^-32 chance). Cutting by what the bytes look
/// like is not enough: a checksum whose first byte is an ASCII digit made a
/// file `mariadb-bin.0000495` out of `mariadb-bin.000049`, and `run --once`
/// stopped before the changes it was started for.
fn rotate_target(header: &mysql_async::binlog::events::BinlogEventHeader, data: &[u8]) -> Option<(u64, String)> {
    let offset = u64::from_le_bytes(data.get(..8)?.try_into().ok()?);
    let mut name = &data[8..];
    if name.len() > 4 {
        let (body, crc) = name.split_at(name.len() - 4);
        let mut h = crc32fast::Hasher::new();
        h.update(&header.timestamp().to_le_bytes());
        h.update(&[header.event_type_raw()]);
        h.update(&header.server_id().to_le_bytes());
        h.update(&header.event_size().to_le_bytes());
        h.update(&header.log_pos().to_le_bytes());
        h.update(&header.flags_raw().to_le_bytes());
        h.update(&data[..8]);
        h.update(body);
        if h.finalize().to_le_bytes() == crc {
            name = body;
        }
    }
    Some((offset, String::from_utf8_lossy(name).into_owned()))
}

/// Orders binlog files by their numeric extension (`.000009` < `.000010`,
/// and `.999999` < `.1000000` once the server needs a seventh digit).
/// Bytes of the binlog files `logs` (name, size) after `pos` of `file`.
fn bytes_after(logs: &[(String, u64)], file: &str, pos: u64) -> u64 {
    logs.iter()
        .map(|(name, size)| match file_order(name).cmp(&file_order(file)) {
            std::cmp::Ordering::Less => 0,
            std::cmp::Ordering::Equal => size.saturating_sub(pos),
            std::cmp::Ordering::Greater => *size,
        })
        .sum()
}

fn file_order(name: &str) -> (&str, u64, &str) {
    match name.rsplit_once('.') {
        Some((base, ext)) => match ext.parse::<u64>() {
            Ok(n) => (base, n, ""),
            Err(_) => (base, 0, ext),
        },
        None => (name, 0, ""),
    }
}

fn parse_gtid(s: &str) -> Option<(u32, u32, u64)> {
    let mut it = s.trim().split('-');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}


/// Binlog errors; a purged position gets the recovery steps.
fn stream_error(source: &str, e: &mysql_async::Error) -> SourceError {
    if let mysql_async::Error::Server(s) = e {
        if s.code == 1236 {
            return definite(
                source,
                format!(
                    "the server no longer has the binlog position we need ({}): it was purged (expire_logs_days / \
                     binlog_expire_logs_seconds) while logferry was behind. The changes since the checkpoint are gone: \
                     run `logferry reset --pipeline …` to take a new snapshot, and keep binlogs longer",
                    s.message
                ),
            );
        }
        if s.code == 1227 || s.code == 1045 {
            return definite(source, format!("{}: GRANT REPLICATION SLAVE ON *.* TO <user>;", s.message));
        }
    }
    mysql_error(source, "reading the binlog", e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_behind_count_the_rest_of_this_file_and_every_later_one() {
        let logs = [("bin.000009".to_string(), 500), ("bin.000010".to_string(), 1000), ("bin.000011".to_string(), 300)];
        assert_eq!(bytes_after(&logs, "bin.000010", 400), 600 + 300);
        assert_eq!(bytes_after(&logs, "bin.000011", 300), 0);
    }

    #[test]
    fn positions_order_by_file_then_offset() {
        let p = |f: &str, o| MyPosition { file: f.into(), pos: o, ..Default::default() };
        assert!(before(&p("b.000001", 900), &p("b.000002", 4)));
        assert!(before(&p("b.000002", 4), &p("b.000002", 5)));
        assert!(!before(&p("b.000002", 5), &p("b.000002", 5)));
        assert_eq!(parse_gtid("0-1-42"), Some((0, 1, 42)));
        assert!(before(&p("b.999999", 900), &p("b.1000000", 4)), "a seventh digit sorts after six");
    }

    /// A fake ROTATE as the server sends it: header, offset, name, and the
    /// CRC32 of all that when `checksum`.
    fn rotate_event(timestamp: u32, name: &str, checksum: bool) -> (mysql_async::binlog::events::BinlogEventHeader, Vec<u8>) {
        use mysql_async::binlog::events::BinlogEventHeader;
        use mysql_async::binlog::EventFlags;
        let mut data = 4u64.to_le_bytes().to_vec();
        data.extend_from_slice(name.as_bytes());
        let size = 19 + data.len() as u32 + if checksum { 4 } else { 0 };
        let header = BinlogEventHeader::new(timestamp, mysql_async::binlog::EventType::ROTATE_EVENT, 1, size, 0, EventFlags::LOG_EVENT_ARTIFICIAL_F);
        if checksum {
            let mut bytes = Vec::new();
            bytes.extend_from_slice(&timestamp.to_le_bytes());
            bytes.push(4);
            bytes.extend_from_slice(&1u32.to_le_bytes());
            bytes.extend_from_slice(&size.to_le_bytes());
            bytes.extend_from_slice(&0u32.to_le_bytes());
            bytes.extend_from_slice(&EventFlags::LOG_EVENT_ARTIFICIAL_F.bits().to_le_bytes());
            bytes.extend_from_slice(&data);
            data.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
        }
        (header, data)
    }

    #[test]
    fn rotate_names_lose_their_checksum_even_when_it_starts_with_a_digit() {
        let name = "mariadb-bin.000049";
        // Find timestamps whose checksum begins with an ASCII digit, and some that do not.
        let digit_led = (0..10_000u32).filter(|t| rotate_event(*t, name, true).1[8 + name.len()].is_ascii_digit()).take(5).collect::<Vec<_>>();
        assert_eq!(digit_led.len(), 5);
        for t in digit_led.into_iter().chain([0, 1, 2]) {
            let (h, data) = rotate_event(t, name, true);
            assert_eq!(rotate_target(&h, &data), Some((4, name.to_string())), "timestamp {t}");
        }
        // Without a checksum (or with it already cut by the client) the name is whole.
        let (h, data) = rotate_event(7, name, false);
        assert_eq!(rotate_target(&h, &data), Some((4, name.to_string())));
        let (h, data) = rotate_event(7, "binlog.000001", false);
        assert_eq!(rotate_target(&h, &data), Some((4, "binlog.000001".to_string())));
        assert_eq!(rotate_target(&h, &data[..5]), None);
    }
}
