//! `kind = "mysql"`: MySQL / MariaDB — a consistent initial copy, then the
//! row-based binlog.
//!
//! # How a run starts
//!
//! 1. **Preflight** (also what `logferry check` reports): `log_bin` on,
//!    `binlog_format = ROW`, `binlog_row_image = FULL`, the binlog status is
//!    readable (BINLOG MONITOR / REPLICATION CLIENT), the user holds
//!    REPLICATION SLAVE (per `SHOW GRANTS`) and may read every selected
//!    table (see [`check()`]), and the `key` of a `[[pipeline.table]]`
//!    rule for a selected table (`database.table` globs) without a primary
//!    key names columns it has; such a table without a rule is replicated
//!    by whole rows (no key columns). Every problem is listed at once with
//!    its fix.
//! 2. **Snapshot** (first run): `START TRANSACTION WITH CONSISTENT SNAPSHOT`
//!    and, in the same transaction, the binlog position that matches it
//!    (`binlog_snapshot_file/position`, MariaDB; and its GTID position via
//!    `BINLOG_GTID_POS`) — no locks. Oracle MySQL has no such status: there
//!    the snapshot starts under a global read lock held only while the
//!    position is read (`FLUSH TABLES WITH READ LOCK`, needs RELOAD). Tables are copied in
//!    primary-key chunks; each chunk ends with a checkpointable position
//!    recording the progress, so a crashed copy resumes at the next chunk
//!    (from a fresh consistent snapshot; the stream then replays the changes
//!    in between, and full-row upserts make that converge).
//!    Unlike a PostgreSQL slot, a binlog position exists nowhere but in our
//!    checkpoint, so the first copy attempt (and a `snapshot = "never"`
//!    start) makes its starting position durable before any row is emitted;
//!    otherwise a crash before the first checkpoint would restart from a
//!    later position and never replay what changed in between.
//! 3. **Stream**: the binlog from the snapshot's (or checkpoint's) position,
//!    with a unique `server_id`. On MariaDB the position is the GTID list
//!    (`SET @slave_connect_state`, strict mode); on Oracle MySQL with
//!    gtid_mode on it is the executed GTID set (`COM_BINLOG_DUMP_GTID`);
//!    otherwise file+offset.
//!
//! # Positions
//!
//! A record closing a transaction (XID, or a COMMIT / DDL query) carries
//! the binlog file and the offset after that event, plus the GTID state
//! (MariaDB `domain-server-seq` per domain). The source resumes after it.
//! A position the server no longer has (binlog purged) stops the run with
//! the recovery steps (`logferry reset` and a new snapshot).
//!
//! # Online copies
//!
//! Tables added to `tables` since the checkpoint (which records the table
//! list), `logferry snapshot` and `verify --repair` requests are copied
//! while the binlog streams, with binlog positions as watermarks
//! (`online`, the engine of `sources::online`).
//!
//! # DDL
//!
//! `ALTER TABLE` / `CREATE TABLE` on a selected table refreshes its columns
//! from information_schema and emits a schema record when they changed;
//! `TRUNCATE` becomes a truncate record; `DROP TABLE` and `RENAME TABLE` of
//! a selected table stop the run naming the table (there is no safe way to
//! carry them).

pub mod catalog;
mod check;
mod ddl;
pub mod decode;
pub mod gtid;
pub mod logical;
mod online;
mod snapshot;
mod stream;
/// The rows-event → records step of the stream, for benches/decode.rs.
#[doc(hidden)]
pub use stream::row_records;
pub use check::check;

use super::{fail_on_problems, note_problem, Source, SourceContext, SourceError};
use crate::config::{MysqlFlavor, MysqlSourceConfig, SnapshotMode};
use crate::record::Position;
use crate::BoxFuture;
use mysql_async::prelude::Queryable;
use crate::tls::mysql::{ConnectError, MysqlEndpoint};
use mysql_async::{Conn, Opts, OptsBuilder};
use serde::{Deserialize, Serialize};

pub(crate) type SourceResult<T> = Result<T, SourceError>;

/// A MySQL / MariaDB source position.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MyPosition {
    /// Binlog file the next event is read from.
    pub file: String,
    /// Offset in `file` after the last applied event.
    pub pos: u64,
    /// MariaDB GTID list (`0-1-42,1-2-7`) after the last applied transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<String>,
    /// Present until the initial copy is complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<crate::sources::SnapshotProgress>,
    /// The tables replicated as of this position (`database.table`): a
    /// table configured later is copied online while the others stream.
    /// `None` in checkpoints written before this was kept (and during the
    /// initial copy): every table configured now counts as known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
    /// Online copies not finished yet, in order: the table and the key of
    /// the last row copied (hex, one per key column; `None`: not started).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub online: crate::sources::online::Pending,
    /// Set on the position ending an online copy chunk: a number growing
    /// over chunks and sessions, which tells the chunk from the
    /// transaction before it at the same binlog position (a request is
    /// applied once the checkpoint has its chunk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u64>,
}

impl MyPosition {
    /// The checkpointable form (JSON token, readable display).
    pub fn to_position(&self) -> Position {
        let mut display = format!("{}:{}", self.file, self.pos);
        if let Some(g) = &self.gtid {
            display.push_str(&format!(" gtid {g}"));
        }
        if !self.online.is_empty() {
            display.push_str(&format!(
                "; copying online: {}",
                self.online.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        if let Some(s) = &self.snapshot {
            display = format!("snapshot: {} table(s) copied, {} in progress; stream from {display}", s.done.len(), s.in_progress());
        }
        Position { token: serde_json::to_vec(self).expect("serializable").into(), display }
    }

    /// Reads a checkpointed position back.
    pub fn from_position(p: &Position) -> Result<Self, String> {
        serde_json::from_slice(&p.token)
            .map_err(|e| format!("checkpoint position `{}` is not a MySQL position ({e})", p.display))
    }
}

/// The MySQL / MariaDB source.
pub struct MysqlSource {
    cfg: MysqlSourceConfig,
    name: String,
}

impl MysqlSource {
    /// A source with these settings (nothing is contacted yet).
    pub fn new(cfg: MysqlSourceConfig) -> Self {
        let name = match Opts::from_url(&crate::tls::mysql::without_tls_params(cfg.db.url.expose())) {
            Ok(o) => format!("mysql:{}:{}", o.ip_or_hostname(), o.tcp_port()),
            Err(_) => "mysql:(unparsable url)".into(),
        };
        MysqlSource { cfg, name }
    }
}

pub(crate) fn definite(source: &str, message: impl Into<String>) -> SourceError {
    SourceError::definite(source, message)
}

/// Classifies a client error: I/O and connection-level server errors are
/// transient, the rest definite. Never includes the URL.
pub(crate) fn mysql_error(source: &str, what: &str, e: &mysql_async::Error) -> SourceError {
    use mysql_async::Error as E;
    let cause = crate::sources::CauseText::of(e);
    let transient = match e {
        E::Io(_) | E::Driver(_) => true,
        E::Server(s) => matches!(s.code, 1040 | 1053 | 1205 | 1213 | 2006 | 2013),
        _ => false,
    };
    if transient {
        SourceError::transient(source, what).caused_by(cause)
    } else {
        SourceError::definite(source, what).caused_by(cause)
    }
}

/// Connection options from the URL, with the session settings the decoder
/// relies on (UTC for TIMESTAMP text), and the TLS the URL asks for
/// (`ssl-mode`, `ssl-ca`: see `tls::mysql`).
///
/// The client-side packet limit is the protocol's maximum, 1 GiB, like a
/// replica's `slave_max_allowed_packet`: the server's binlog dump sends an
/// event of any size (a row image can exceed the server's
/// `max_allowed_packet`, e.g. an UPDATE's before and after images of a large
/// BLOB), and the driver's default — the server's `@@max_allowed_packet` —
/// refused such an event on every reconnect ("Packet is larger than
/// max_allowed_packet"), so the pipeline could not get past it.
pub(crate) fn opts(url: &str, source: &str) -> SourceResult<MysqlEndpoint> {
    let (url, tls) = crate::tls::mysql::from_url(url).map_err(|m| definite(source, format!("url: {m}")))?;
    let opts = Opts::from_url(&url).map_err(|e| {
        definite(source, format!("the url is not a valid MySQL URL ({e}); expected mysql://user:password@host:port/database"))
    })?;
    let opts = OptsBuilder::from_opts(opts)
        .init(vec!["SET time_zone = '+00:00'", "SET NAMES utf8mb4"])
        .max_allowed_packet(Some(1 << 30));
    Ok(MysqlEndpoint::new(opts.into(), tls))
}

pub(crate) async fn connect(opts: &MysqlEndpoint, source: &str) -> SourceResult<Conn> {
    opts.connect().await.map_err(|e| match e {
        ConnectError::Driver(e) => mysql_error(source, "connecting", &e),
        ConnectError::Network(m) => SourceError::transient(source, format!("connecting: {m}")),
        ConnectError::Tls(m) => definite(source, format!("connecting: {m}")),
    })
}

impl Source for MysqlSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn run(&mut self, ctx: SourceContext) -> BoxFuture<'_, Result<(), SourceError>> {
        Box::pin(async move { run(&self.cfg, &self.name, ctx).await })
    }

    fn copies_online(&self) -> bool {
        true
    }
}

/// The server's dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// MariaDB.
    Mariadb,
    /// Oracle MySQL.
    Mysql,
}

/// Settings, grants and tables; every problem at once, each with its fix
/// (a `GRANT` names the user's account as the server sees it).
pub async fn preflight(conn: &mut Conn, cfg: &MysqlSourceConfig, source: &str) -> SourceResult<(Flavor, Vec<catalog::Table>)> {
    type Settings = (String, Option<String>, Option<String>, Option<String>, String);
    let (version, log_bin, format, image, current_user): Settings = conn
        .query_first("SELECT VERSION(), @@log_bin, @@binlog_format, @@binlog_row_image, CURRENT_USER()")
        .await
        .map_err(|e| mysql_error(source, "reading server settings", &e))?
        .ok_or_else(|| definite(source, "the server returned no settings"))?;
    let flavor = match cfg.flavor {
        MysqlFlavor::Mariadb => Flavor::Mariadb,
        MysqlFlavor::Mysql => Flavor::Mysql,
        MysqlFlavor::Auto if version.to_lowercase().contains("mariadb") => Flavor::Mariadb,
        MysqlFlavor::Auto => Flavor::Mysql,
    };
    let account = check::account(&current_user);
    let mut problems = Vec::new();
    if log_bin.as_deref() != Some("1") {
        problems.push("the binary log is off: start the server with log_bin (e.g. log_bin = mysql-bin in my.cnf) and a server_id".to_string());
    }
    if format.as_deref().map(str::to_uppercase).as_deref() != Some("ROW") {
        problems.push(format!(
            "binlog_format is {}, logferry needs ROW: SET GLOBAL binlog_format = 'ROW'; (and in my.cnf)",
            format.unwrap_or_default()
        ));
    }
    if image.as_deref().map(str::to_uppercase).as_deref() != Some("FULL") {
        problems.push(format!(
            "binlog_row_image is {}, logferry needs FULL: SET GLOBAL binlog_row_image = 'FULL'; (and in my.cnf)",
            image.unwrap_or_default()
        ));
    }
    if check::lacks_replication_slave(&check::grants(conn).await) {
        problems.push(format!("user {account} may not read the binlog (REPLICATION SLAVE): run GRANT REPLICATION SLAVE ON *.* TO {account};"));
    }
    // MySQL 8.4 renamed the statement; the first error is the telling one.
    if let Err(e) = conn.query_drop("SHOW MASTER STATUS").await {
        if conn.query_drop("SHOW BINARY LOG STATUS").await.is_err() {
            problems.push(format!(
                "user {account} cannot read the binlog position ({e}): run GRANT {} ON *.* TO {account};",
                if flavor == Flavor::Mariadb { "BINLOG MONITOR" } else { "REPLICATION CLIENT" }
            ));
        }
    }
    let tables = note_problem(&mut problems, catalog::resolve_tables(conn, &cfg.db.tables, &cfg.db.row_keys, source).await)?;
    let unreadable = check::unreadable(conn, &tables).await;
    if !unreadable.is_empty() {
        problems.push(format!(
            "user {account} cannot read {}: run {}",
            unreadable.join(", "),
            unreadable.iter().map(|t| format!("GRANT SELECT ON {t} TO {account};")).collect::<Vec<_>>().join(" ")
        ));
    }
    // The catalog's messages cannot know the account.
    let problems = problems.into_iter().map(|p| p.replace("TO …", &format!("TO {account}"))).collect();
    fail_on_problems(source, problems)?;
    Ok((flavor, tables))
}

/// The server's current end of binlog (file, offset) and its GTID state:
/// MariaDB's `gtid_binlog_pos`, or MySQL's executed GTID set.
pub(crate) async fn master_status(conn: &mut Conn, flavor: Flavor, source: &str) -> SourceResult<MyPosition> {
    // MySQL 8.4 renamed the statement.
    let row: Option<mysql_async::Row> = match conn.query_first("SHOW MASTER STATUS").await {
        Ok(r) => r,
        Err(_) => conn
            .query_first("SHOW BINARY LOG STATUS")
            .await
            .map_err(|e| mysql_error(source, "SHOW MASTER STATUS", &e))?,
    };
    let row = row.ok_or_else(|| definite(source, "SHOW MASTER STATUS returned nothing: is log_bin on?"))?;
    let file: String = row.get(0).unwrap_or_default();
    let pos: u64 = row.get(1).unwrap_or_default();
    let gtid = match flavor {
        Flavor::Mariadb => conn
            .query_first::<Option<String>, _>("SELECT @@gtid_binlog_pos")
            .await
            .map_err(|e| mysql_error(source, "reading gtid_binlog_pos", &e))?
            .flatten(),
        // Executed_Gtid_Set (5th column); absent or empty without gtid_mode.
        Flavor::Mysql => row.get::<Option<String>, _>(4).flatten().map(|g| g.split_whitespace().collect()),
    }
    .filter(|g: &String| !g.is_empty());
    Ok(MyPosition { file, pos, gtid, ..Default::default() })
}

async fn run(cfg: &MysqlSourceConfig, source: &str, ctx: SourceContext) -> SourceResult<()> {
    // Requests an earlier session of this run took and did not finish.
    ctx.requests.requeue_unfinished();
    let opts = opts(cfg.db.url.expose(), source)?;
    let mut conn = connect(&opts, source).await?;
    let (flavor, tables) = preflight(&mut conn, cfg, source).await?;
    let resume = ctx
        .resume
        .as_ref()
        .map(MyPosition::from_position)
        .transpose()
        .map_err(|m| definite(source, format!("{m}; `logferry reset` the pipeline to start over")))?;
    // Whole-table copies to make while streaming: unfinished ones from the
    // checkpoint, and tables configured since it was written.
    let pending = match resume.as_ref().filter(|p| p.snapshot.is_none()) {
        Some(pos) => crate::sources::online::resume_pending(
            &pos.online,
            pos.tables.as_ref(),
            cfg.db.snapshot == SnapshotMode::Initial,
            tables.iter().map(catalog::Table::qualified),
        ),
        None => Vec::new(),
    };
    // Once mode: where the binlog ends now.
    let end = if ctx.once { Some(master_status(&mut conn, flavor, source).await?) } else { None };

    let start = match resume {
        Some(pos) if pos.snapshot.is_none() => pos,
        Some(pos) => {
            // A copy was interrupted: finish it, then stream from its start.
            match snapshot::copy(&opts, source, &tables, Some(pos), cfg.snapshot_chunk_rows, flavor, &ctx).await? {
                Some(p) => p,
                None => return Ok(()),
            }
        }
        None if cfg.db.snapshot == SnapshotMode::Initial => {
            match snapshot::copy(&opts, source, &tables, None, cfg.snapshot_chunk_rows, flavor, &ctx).await? {
                Some(p) => p,
                None => return Ok(()),
            }
        }
        None => {
            // Streaming from "now": that point must be durable before any
            // change after it is applied, or a crash would skip the changes
            // in between (see SourceContext::wait_until_durable).
            let p = master_status(&mut conn, flavor, source).await?;
            ctx.emitter.emit(super::position_marker(&ctx.pipeline, "mysql", p.to_position())).await?;
            if !ctx.wait_until_durable().await {
                return Ok(());
            }
            p
        }
    };
    drop(conn);
    let settings = online::Settings {
        opts: opts.clone(),
        source: source.to_string(),
        flavor,
        row_keys: cfg.db.row_keys.clone(),
        chunk_rows: cfg.snapshot_chunk_rows,
    };
    let online = online::new(settings, &tables, pending);
    // The start again, now recording the tables and the copies to make
    // (a table configured later is then known to be new).
    ctx.emitter.emit(super::position_marker(&ctx.pipeline, "mysql", online.position(&start))).await?;
    if let Some(end) = &end {
        if !stream::before(&start, end) && online.idle() {
            return Ok(());
        }
    }
    stream::Streamer::new(stream::StreamSetup { opts, source: source.to_string(), tables, flavor, cfg: cfg.clone(), end, online })
        .run(start, ctx)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip() {
        let p = MyPosition { file: "mariadb-bin.000002".into(), pos: 1234, gtid: Some("0-1-42".into()), ..Default::default() };
        assert_eq!(MyPosition::from_position(&p.to_position()).unwrap(), p);
        assert_eq!(p.to_position().display, "mariadb-bin.000002:1234 gtid 0-1-42");
        // Checkpoints written before `tables` and `online` existed still read.
        let old = Position { token: br#"{"file":"b.000001","pos":4}"#.to_vec().into(), display: "b.000001:4".into() };
        let back = MyPosition::from_position(&old).unwrap();
        assert_eq!((back.tables, back.online.len()), (None, 0));
        let online = MyPosition {
            tables: Some(vec!["d.a".into(), "d.b".into()]),
            online: vec![("d.b".into(), Some(vec!["3431".into()]))],
            ..p.clone()
        };
        assert_eq!(MyPosition::from_position(&online.to_position()).unwrap(), online);
        assert_eq!(online.to_position().display, "mariadb-bin.000002:1234 gtid 0-1-42; copying online: d.b");
    }
}
