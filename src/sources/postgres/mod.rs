//! `kind = "postgres"`: a consistent initial snapshot, then logical
//! replication with the built-in `pgoutput` plugin.
//!
//! # How a run starts
//!
//! 1. **Preflight** (also what `logferry check` reports): `wal_level` must be
//!    `logical`, the role needs `REPLICATION` (or superuser) and `SELECT` on
//!    the tables, and a selected table without a primary key (or a unique
//!    index as replica identity) needs `REPLICA IDENTITY FULL`: it is then
//!    replicated by whole rows (no key columns), or by the `key` of its
//!    `[[pipeline.table]]` rule when it has one; `origin = "none"` needs
//!    PostgreSQL 16 or later. Each failure
//!    says which setting or table, and the SQL that fixes it. `check` also
//!    judges the slot (see [`check()`]).
//! 2. **Publication** `publication` is created if missing and its table list
//!    kept equal to the selected tables.
//! 3. **Slot.** Without a checkpoint and without a slot, the slot is created
//!    on a replication session with `SNAPSHOT 'export'`: PostgreSQL returns
//!    the slot's consistent point and a snapshot of the database as of
//!    exactly that point. Without a checkpoint but with a slot (an earlier
//!    attempt died before its first checkpoint, or the pipeline was reset),
//!    the slot is reused: the copy starts over from a fresh snapshot and the
//!    stream replays everything since the slot's confirmed position, so rows
//!    an earlier attempt already wrote converge (deleted ones included).
//!    Drop the slot yourself to start from "now". With a checkpoint, the slot must exist and its
//!    `confirmed_flush_lsn` must not be past the checkpoint — otherwise the
//!    server has discarded changes we never applied, and the run stops with
//!    the recovery steps instead of silently skipping them.
//! 4. **Snapshot** ([`snapshot`]): readers import the exported snapshot in
//!    `REPEATABLE READ` transactions and copy tables (several at a time) in
//!    primary-key chunks. Every chunk ends with a checkpointable position that
//!    records which tables are done and the last key copied, so a crashed
//!    snapshot resumes at the next chunk. (A resumed snapshot cannot use the
//!    original exported snapshot, which died with the session: it copies the
//!    rest from a fresh snapshot, and streaming from the slot's consistent
//!    point then replays the changes in between; full-row upserts by key make
//!    that replay converge to the right state.)
//! 5. **Stream** ([`stream`]): `START_REPLICATION` from the consistent point
//!    or the checkpoint, decoding pgoutput into records; the last record of
//!    each transaction carries the commit's end LSN as its position. With
//!    `origin = "none"` it asks pgoutput for `origin 'none'`: changes that
//!    carry a replication origin (a marked target session applied them)
//!    are not sent.
//!
//! # Protocol version and streamed transactions
//!
//! The pgoutput protocol version is the newest the server speaks
//! ([`Protocol::negotiate`], from `server_version_num`): 1 up to
//! PostgreSQL 13, 2 on 14, 3 on 15, 4 on 16 and later. From 14 on the
//! source asks for `streaming 'on'` unless `streaming = "off"`: the server
//! then sends a transaction bigger than its `logical_decoding_work_mem`
//! while it runs, instead of decoding it whole into its own spill files
//! first. Those changes are held in memory and, past a bound, in segment
//! files under `<state_dir>/spill/<pipeline>/` ([`spill`]) and emitted
//! only at the transaction's commit, exactly like an ordinary transaction
//! (its commit LSN the position); an abort discards them. Protocol 4's
//! `streaming 'parallel'` is not asked for: it only changes how a
//! subscriber may apply, and logferry applies in its own lanes.
//!
//! # Feedback and heartbeats
//!
//! The server is told only the durably checkpointed LSN
//! ([`SourceContext::durable`](crate::sources::SourceContext)); keepalives
//! are answered by the transport. On an idle database the source writes a
//! non-transactional `pg_logical_emit_message` every `heartbeat_interval`;
//! it comes back through the stream as a heartbeat record, so the checkpoint
//! — and with it the slot — moves, and the server can recycle WAL.
//!
//! # Once mode
//!
//! `--once` writes a marker message at start; the source stops when the
//! stream reaches it, i.e. after every transaction committed before start.

mod check;
pub mod catalog;
pub mod decode;
pub mod logical;
mod online;
mod ranges;
pub mod position;
mod snapshot;
mod spill;
mod stream;
/// The tuple → row step of the stream, for benches/decode.rs.
#[doc(hidden)]
pub use stream::{tuple_row, RowShape};
pub mod types;
pub use check::check;

use super::{fail_on_problems, note_problem, Source, SourceContext, SourceError};
use crate::config::{PgOrigin, PgStreaming, PostgresSourceConfig, SnapshotMode};
use crate::BoxFuture;
use position::{format_lsn, parse_lsn, PgPosition, SnapshotProgress};
use std::time::Duration;
use crate::tls::postgres::{PgTls, ReplicationRoute};
use tokio_postgres::Client;

pub(crate) type SourceResult<T> = Result<T, SourceError>;

/// How long to wait for a slot that a previous (crashed or just stopped)
/// session still holds: the server releases it once it notices the old
/// connection is gone, normally within a second.
const SLOT_BUSY_WAIT: Duration = Duration::from_secs(15);

/// Session settings that make PostgreSQL's text output deterministic for
/// the decoder: ISO dates, `postgres` intervals, UTC, shortest-exact floats.
pub const SESSION_OPTIONS: &str =
    "-c DateStyle=ISO,YMD -c IntervalStyle=postgres -c TimeZone=UTC -c extra_float_digits=3";

/// The PostgreSQL source.
pub struct PostgresSource {
    cfg: PostgresSourceConfig,
    name: String,
}

impl PostgresSource {
    /// A source with these settings (nothing is contacted yet).
    pub fn new(cfg: PostgresSourceConfig) -> Self {
        let name = format!("postgres:{}", display_url(cfg.db.url.expose()));
        PostgresSource { cfg, name }
    }
}

/// Connection settings parsed from the URL (password kept out of Debug).
#[derive(Clone)]
pub(crate) struct ConnInfo {
    pub config: tokio_postgres::Config,
    /// `sslmode` / `sslrootcert` from the URL, for the SQL sessions and
    /// the replication session alike.
    pub tls: PgTls,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
    /// `origin = "none"`: the replication session asks pgoutput for changes
    /// without a replication origin only (set by `run`; PostgreSQL 16+).
    pub origin: PgOrigin,
}

/// `host:port/db` for names and logs; never the password.
fn display_url(url: &str) -> String {
    match crate::tls::postgres::without_tls_params(url).parse::<tokio_postgres::Config>() {
        Ok(c) => format!(
            "{}:{}/{}",
            host_of(&c),
            c.get_ports().first().copied().unwrap_or(5432),
            c.get_dbname().unwrap_or("?")
        ),
        Err(_) => "(unparsable url)".into(),
    }
}

fn host_of(c: &tokio_postgres::Config) -> String {
    match c.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    }
}

impl ConnInfo {
    pub(crate) fn parse(url: &str, source: &str) -> SourceResult<Self> {
        let (url, tls) = crate::tls::postgres::from_url(url).map_err(|m| definite(source, format!("url: {m}")))?;
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            definite(source, format!("the url is not a valid PostgreSQL URL ({e}); expected postgres://user:password@host:port/database"))
        })?;
        config.ssl_mode(tls.ssl_mode());
        config.options(SESSION_OPTIONS);
        config.application_name("logferry");
        let user = config.get_user().unwrap_or("postgres").to_string();
        let password = config.get_password().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default();
        let database = config.get_dbname().unwrap_or(&user).to_string();
        Ok(ConnInfo {
            host: host_of(&config),
            port: config.get_ports().first().copied().unwrap_or(5432),
            user,
            password,
            database,
            config,
            tls,
            origin: PgOrigin::Any,
        })
    }

    /// A SQL session with the deterministic text settings.
    pub(crate) async fn connect(&self, source: &str) -> SourceResult<Client> {
        let (client, conn) = self.config.connect(self.tls.connector()).await.map_err(|e| match self.tls.connect_problem(&e) {
            Some(f) if f.definite => definite(source, format!("connecting: {}", f.message)),
            Some(f) => SourceError::transient(source, format!("connecting: {}", f.message)),
            None => sql_error(source, "connecting", &e),
        })?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "PostgreSQL connection closed");
            }
        });
        Ok(client)
    }

    /// The replication session's settings; with TLS, it connects through a
    /// relay opened here (see `tls::postgres`), so call this once per session.
    async fn replication(
        &self,
        slot: &str,
        publication: &str,
        protocol: Protocol,
        source: &str,
    ) -> SourceResult<pgwire_replication::ReplicationConfig> {
        let host = match self.tls.replication_route(&self.host, self.port).await {
            Ok(ReplicationRoute::Direct) => self.host.clone(),
            Ok(ReplicationRoute::Relay { socket_dir }) => socket_dir,
            Err(e) if e.transient => return Err(SourceError::transient(source, format!("replication session: {}", e.message))),
            Err(e) => return Err(definite(source, format!("replication session: {}", e.message))),
        };
        Ok(pgwire_replication::ReplicationConfig::new(
            host,
            self.user.clone(),
            self.password.clone(),
            self.database.clone(),
            slot.to_string(),
            publication.to_string(),
        )
        .with_port(self.port)
        .with_proto_version(protocol.version)
        .with_streaming(protocol.streaming.then(|| "on".to_string()))
        .with_options(SESSION_OPTIONS)
        .with_application_name("logferry")
        // Durable positions reach the server within a second.
        .with_status_interval(Duration::from_secs(1))
        .with_wakeup_interval(Duration::from_secs(1)))
        .map(|settings| match self.origin {
            PgOrigin::None => settings.with_plugin_option("origin", "none"),
            PgOrigin::Any => settings,
        })
    }
}

/// The pgoutput protocol a session asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol {
    /// `proto_version`.
    pub version: u32,
    /// `streaming 'on'`: in-progress transactions are streamed.
    pub streaming: bool,
}

/// The first server version (`server_version_num`) with streamed
/// in-progress transactions (pgoutput protocol 2).
const STREAMING_SINCE: i32 = 140_000;

impl Protocol {
    /// The newest protocol the server speaks (1 up to 13, 2 on 14, 3 on
    /// 15, 4 on 16+) and streaming as configured; `streaming = "on"` with
    /// a server before 14 is an error saying so.
    pub fn negotiate(server_version_num: i32, streaming: PgStreaming) -> Result<Protocol, String> {
        let version = match server_version_num {
            ..140_000 => 1,
            140_000..150_000 => 2,
            150_000..160_000 => 3,
            _ => 4,
        };
        let has = server_version_num >= STREAMING_SINCE;
        let streaming = match streaming {
            PgStreaming::Off => false,
            PgStreaming::Auto => has,
            PgStreaming::On if has => true,
            PgStreaming::On => {
                return Err(format!(
                    "streaming = \"on\" needs PostgreSQL 14 or newer (streamed in-progress transactions, pgoutput protocol 2); \
                     this server is {} (server_version_num {server_version_num}): remove the key or set streaming = \"off\"",
                    version_text(server_version_num)
                ))
            }
        };
        Ok(Protocol { version, streaming })
    }
}

/// `130012` → `13.12`; `90624` → `9.6.24`.
fn version_text(num: i32) -> String {
    if num >= 100_000 {
        format!("{}.{}", num / 10_000, num % 10_000)
    } else {
        format!("{}.{}.{}", num / 10_000, num / 100 % 100, num % 100)
    }
}

pub(crate) fn definite(source: &str, message: impl Into<String>) -> SourceError {
    SourceError::definite(source, message)
}

/// Classifies a SQL error: connection problems are transient, the rest
/// definite. A server's error is told by its message (without the values
/// it quotes, see [`crate::redact`]) and SQLSTATE; any other error is kept
/// as the cause.
pub(crate) fn sql_error(source: &str, what: &str, e: &tokio_postgres::Error) -> SourceError {
    let (message, cause) = match e.as_db_error() {
        Some(db) => (format!("{what}: {} (SQLSTATE {})", crate::redact::pg_message(db.message()), db.code().code()), None),
        None => (what.to_string(), Some(crate::sources::CauseText::of(e))),
    };
    let transient = e.is_closed()
        || e.as_db_error().is_none_or(|db| {
            let c = db.code().code();
            c.starts_with("08") || c.starts_with("57P") || c.starts_with("53") || c == "40001" || c == "40P01"
        });
    let err = if transient { SourceError::transient(source, message) } else { SourceError::definite(source, message) };
    match cause {
        Some(c) => err.caused_by(c),
        None => err,
    }
}

pub(crate) fn repl_error(source: &str, what: &str, e: &pgwire_replication::PgWireError) -> SourceError {
    use pgwire_replication::PgWireError as E;
    let err = match e {
        E::Io(_) | E::Task(_) => SourceError::transient(source, what),
        _ => SourceError::definite(source, what),
    };
    err.caused_by(crate::sources::CauseText::of(e))
}

impl Source for PostgresSource {
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

/// What preflight found: the tables, ready to replicate.
#[derive(Default)]
pub struct Preflight {
    pub tables: Vec<catalog::Table>,
}

/// Checks settings, grants and tables. Every problem found is in the
/// error (one per line), each with the SQL or setting that fixes it.
pub async fn preflight(client: &Client, cfg: &PostgresSourceConfig, source: &str) -> SourceResult<Preflight> {
    let mut problems = Vec::new();
    let wal_level: String = client
        .query_one("SHOW wal_level", &[])
        .await
        .map_err(|e| sql_error(source, "reading wal_level", &e))?
        .get(0);
    if wal_level != "logical" {
        problems.push(format!(
            "wal_level is `{wal_level}`, logical replication needs `logical`: run ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL"
        ));
    }
    let version_num: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(|e| sql_error(source, "reading server_version_num", &e))?
        .get(0);
    if let Some(problem) = origin_problem(cfg.origin, version_num) {
        problems.push(problem);
    }
    let row = client
        .query_one(
            "SELECT current_user::text, rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .map_err(|e| sql_error(source, "reading the role", &e))?;
    let (role, can_replicate): (String, bool) = (row.get(0), row.get(1));
    if !can_replicate {
        problems.push(format!(
            "role `{role}` may not use replication: run ALTER ROLE {} WITH REPLICATION;",
            catalog::quote_ident(&role)
        ));
    }
    let tables = note_problem(&mut problems, catalog::resolve_tables(client, &cfg.db.tables, &cfg.db.row_keys, source).await)?;
    fail_on_problems(source, problems)?;
    Ok(Preflight { tables })
}

/// `origin = "none"` needs pgoutput's `origin` option, new in PostgreSQL 16.
fn origin_problem(origin: PgOrigin, server_version_num: i32) -> Option<String> {
    (origin == PgOrigin::None && server_version_num < 160_000).then(|| {
        format!(
            "origin = \"none\" needs PostgreSQL 16 or later (pgoutput's `origin` option), this server is {}.{}: \
             upgrade the server, or remove `origin` from [pipeline.source] (every change is then streamed, \
             including those a two-way setup's other pipeline applied)",
            server_version_num / 10_000,
            server_version_num % 10_000 / if server_version_num >= 100_000 { 1 } else { 100 }
        )
    })
}

/// Creates the publication, or makes its table list equal to `tables`.
async fn ensure_publication(client: &Client, name: &str, tables: &[catalog::Table], source: &str) -> SourceResult<()> {
    let list = tables.iter().map(|t| t.quoted()).collect::<Vec<_>>().join(", ");
    let exists = client
        .query_opt("SELECT 1 FROM pg_publication WHERE pubname = $1", &[&name])
        .await
        .map_err(|e| sql_error(source, "reading publications", &e))?
        .is_some();
    let sql = if exists {
        let current: Vec<String> = client
            .query("SELECT schemaname::text || '.' || tablename::text FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1", &[&name])
            .await
            .map_err(|e| sql_error(source, "reading the publication's tables", &e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut wanted: Vec<String> = tables.iter().map(|t| t.qualified()).collect();
        wanted.sort();
        if current == wanted {
            return Ok(());
        }
        format!("ALTER PUBLICATION {} SET TABLE {list}", catalog::quote_ident(name))
    } else {
        format!("CREATE PUBLICATION {} FOR TABLE {list}", catalog::quote_ident(name))
    };
    client.batch_execute(&sql).await.map_err(|e| {
        let mut err = sql_error(source, &format!("setting up publication `{name}`"), &e);
        if let SourceError::Definite { message, .. } = &mut err {
            message.push_str(&format!("; a table owner or superuser can run it: {sql};"));
        }
        err
    })?;
    tracing::info!(publication = name, tables = tables.len(), "publication ready");
    Ok(())
}

/// The slot as the server has it.
struct SlotState {
    confirmed_flush: Option<u64>,
    plugin: String,
}

async fn slot_state(client: &Client, slot: &str, source: &str) -> SourceResult<Option<SlotState>> {
    let row = client
        .query_opt(
            "SELECT confirmed_flush_lsn::text, plugin::text FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()",
            &[&slot],
        )
        .await
        .map_err(|e| sql_error(source, "reading replication slots", &e))?;
    Ok(row.map(|r| SlotState {
        confirmed_flush: r.get::<_, Option<String>>(0).as_deref().and_then(parse_lsn),
        plugin: r.get::<_, Option<String>>(1).unwrap_or_default(),
    }))
}

async fn run(cfg: &PostgresSourceConfig, source: &str, ctx: SourceContext) -> SourceResult<()> {
    // Requests an earlier session of this run took and did not finish.
    ctx.requests.requeue_unfinished();
    let mut conn = ConnInfo::parse(cfg.db.url.expose(), source)?;
    conn.origin = cfg.origin;
    let client = conn.connect(source).await?;
    let Preflight { tables } = preflight(&client, cfg, source).await?;
    let server_version: String = client
        .query_one("SHOW server_version_num", &[])
        .await
        .map_err(|e| sql_error(source, "reading server_version_num", &e))?
        .get(0);
    let server_version: i32 = server_version
        .trim()
        .parse()
        .map_err(|_| definite(source, format!("server_version_num is {server_version:?}, not a number")))?;
    let protocol = Protocol::negotiate(server_version, cfg.streaming).map_err(|m| definite(source, m))?;
    tracing::info!(server = %version_text(server_version), proto_version = protocol.version, streaming = protocol.streaming,
        "pgoutput protocol");
    ensure_publication(&client, &cfg.publication, &tables, source).await?;

    let resume = ctx.resume.as_ref().map(PgPosition::from_position).transpose().map_err(|m| {
        definite(source, format!("{m}; `logferry reset` the pipeline to start over"))
    })?;
    let slot = slot_state(&client, &cfg.slot, source).await?;

    // Where streaming starts, and the replication session (gated until the
    // snapshot is copied when we just created the slot).
    let open_existing = |lsn: u64| {
        let conn = &conn;
        async move {
            let settings = conn.replication(&cfg.slot, &cfg.publication, protocol, source).await?;
            pgwire_replication::ReplicationClient::connect_gated(
                settings
                    .with_start_lsn(pgwire_replication::Lsn::from_u64(lsn))
                    .with_ack_lsn(pgwire_replication::Lsn::from_u64(lsn)),
            )
            .await
            .map_err(|e| repl_error(source, "opening a replication session", &e))
        }
    };
    if let Some(slot) = &slot {
        if slot.plugin != "pgoutput" {
            return Err(definite(
                source,
                format!("slot `{}` uses plugin `{}`; logferry needs a pgoutput slot: drop it or set another `slot`", cfg.slot, slot.plugin),
            ));
        }
    }
    // Where streaming starts, whether (and from where) to copy first, and
    // the replication session (gated: nothing streams until the copy is done).
    // Whole-table copies to make while streaming: unfinished ones from the
    // checkpoint, and tables configured since it was written.
    let online_pending = match resume.as_ref().filter(|p| p.snapshot.is_none()) {
        Some(pos) => crate::sources::online::resume_pending(
            &pos.online,
            pos.tables.as_ref(),
            cfg.db.snapshot == SnapshotMode::Initial,
            tables.iter().map(catalog::Table::qualified),
        ),
        None => Vec::new(),
    };
    let (start, snapshot_from, mut repl) = match (resume, slot) {
        (None, None) => {
            let mut repl = pgwire_replication::ReplicationClient::connect_gated(conn.replication(&cfg.slot, &cfg.publication, protocol, source).await?)
                .await
                .map_err(|e| repl_error(source, "opening a replication session", &e))?;
            let mode = if cfg.db.snapshot == SnapshotMode::Initial { "SNAPSHOT 'export'" } else { "SNAPSHOT 'nothing'" };
            let rows = repl
                .simple_query(&format!("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput ({mode})", catalog::quote_ident(&cfg.slot)))
                .await
                .map_err(|e| repl_error(source, &format!("creating slot `{}`", cfg.slot), &e))?;
            let text = |i: usize| {
                rows.first()
                    .and_then(|r| r.get(i).cloned().flatten())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            };
            let lsn = text(1).as_deref().and_then(parse_lsn).ok_or_else(|| {
                definite(source, "CREATE_REPLICATION_SLOT returned no consistent point")
            })?;
            tracing::info!(slot = %cfg.slot, consistent_point = %format_lsn(lsn), "replication slot created");
            let snapshot = match cfg.db.snapshot {
                SnapshotMode::Initial => Some((text(2), SnapshotProgress::default())),
                SnapshotMode::Never => None,
            };
            (lsn, snapshot, repl)
        }
        (None, Some(slot)) => {
            // An earlier attempt created the slot but never checkpointed (it
            // died during the copy, or the pipeline was reset). Its copy may
            // have reached the target already, so the slot is kept: the copy
            // starts over from a fresh snapshot and the stream replays every
            // change since the slot's confirmed position, deletes included,
            // which makes whatever the earlier attempt wrote converge.
            let lsn = slot.confirmed_flush.ok_or_else(|| {
                definite(source, format!("slot `{}` has no confirmed position yet; drop it and run again", cfg.slot))
            })?;
            tracing::warn!(slot = %cfg.slot, from = %format_lsn(lsn),
                "no checkpoint, but the slot exists: reusing it (copy from a fresh snapshot, then stream from the slot's position)");
            let repl = open_existing(lsn).await?;
            let snapshot = (cfg.db.snapshot == SnapshotMode::Initial).then(|| (None, SnapshotProgress::default()));
            (lsn, snapshot, repl)
        }
        (Some(pos), None) => {
            return Err(definite(
                source,
                format!(
                    "replication slot `{}` does not exist, but the checkpoint ({}) needs it: the changes since then are gone. \
                     Run `logferry reset --pipeline {}` to take a new snapshot",
                    cfg.slot,
                    format_lsn(pos.lsn),
                    ctx.pipeline
                ),
            ));
        }
        (Some(pos), Some(slot)) => {
            if let Some(confirmed) = slot.confirmed_flush {
                if confirmed > pos.lsn {
                    return Err(definite(
                        source,
                        format!(
                            "slot `{}` has confirmed {} but our checkpoint is {}: the server discarded changes that were never applied \
                             (did another consumer use the slot?). Drop the slot (SELECT pg_drop_replication_slot('{}')) and run \
                             `logferry reset --pipeline {}` to take a new snapshot",
                            cfg.slot,
                            format_lsn(confirmed),
                            format_lsn(pos.lsn),
                            cfg.slot,
                            ctx.pipeline
                        ),
                    ));
                }
            }
            let repl = open_existing(pos.lsn).await?;
            (pos.lsn, pos.snapshot.map(|p| (None, p)), repl)
        }
    };

    // Once mode: where the log ends now.
    let once_marker = if ctx.once {
        let row = client
            .query_one("SELECT pg_logical_emit_message(false, $1, ''::text)::text", &[&stream::ONCE_PREFIX])
            .await
            .map_err(|e| sql_error(source, "writing the --once end marker", &e))?;
        let lsn: String = row.get(0);
        Some(parse_lsn(&lsn).unwrap_or(u64::MAX))
    } else {
        None
    };

    if let Some((exported, progress)) = snapshot_from {
        let done = snapshot::copy(snapshot::CopyJob {
            conn: &conn,
            source,
            tables: &tables,
            exported: exported.as_deref(),
            progress,
            stream_lsn: start,
            chunk_rows: cfg.snapshot_chunk_rows,
            parallel: cfg.snapshot_parallel,
            ctx: &ctx,
        })
        .await?;
        if !done {
            return Ok(()); // shutdown during the snapshot
        }
    }

    // The walsender of a consumer that just exited (a restart after a
    // crash) can hold the slot for a moment: retry while it says "active".
    let deadline = tokio::time::Instant::now() + SLOT_BUSY_WAIT;
    loop {
        repl.start().await.map_err(|e| repl_error(source, "starting replication", &e))?;
        match repl.wait_started().await {
            Ok(()) => break,
            Err(e) if e.to_string().contains("is active for PID") && tokio::time::Instant::now() < deadline => {
                tracing::info!(slot = %cfg.slot, "the slot is still held by a previous session; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
                repl = open_existing(start).await?;
            }
            Err(e) => return Err(repl_error(source, &format!("starting replication on slot `{}`", cfg.slot), &e)),
        }
    }
    tracing::info!(slot = %cfg.slot, from = %format_lsn(start), "streaming changes");
    let spill = if protocol.streaming {
        Some(spill::Spill::open(&cfg.spill_dir).map_err(|e| definite(source, format!("streamed transactions: {e}")))?)
    } else {
        None
    };
    stream::Streamer::new(stream::StreamSetup {
        client,
        spill,
        repl,
        source: source.to_string(),
        tables: &tables,
        heartbeat_interval: cfg.heartbeat_interval,
        once_marker,
        online: online::new(conn.clone(), source, &cfg.slot, &tables, cfg.snapshot_chunk_rows, online_pending),
    })
    .run(ctx)
    .await
}

#[cfg(test)]
mod origin_tests {
    use super::*;

    #[test]
    fn origin_none_needs_postgres_16() {
        let problem = origin_problem(PgOrigin::None, 150_018).expect("15 refuses origin = none");
        assert!(problem.contains("PostgreSQL 16 or later") && problem.contains("this server is 15.18"), "{problem}");
        assert_eq!(origin_problem(PgOrigin::None, 160_002), None);
        assert_eq!(origin_problem(PgOrigin::None, 180_006), None);
        assert_eq!(origin_problem(PgOrigin::Any, 150_018), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_versions_follow_the_server() {
        let p = |num| Protocol::negotiate(num, PgStreaming::Auto).unwrap();
        assert_eq!(p(130_012), Protocol { version: 1, streaming: false });
        assert_eq!(p(140_000), Protocol { version: 2, streaming: true });
        assert_eq!(p(150_018), Protocol { version: 3, streaming: true });
        assert_eq!(p(160_002), Protocol { version: 4, streaming: true });
        assert_eq!(p(180_006), Protocol { version: 4, streaming: true });
        assert_eq!(Protocol::negotiate(180_006, PgStreaming::Off).unwrap(), Protocol { version: 4, streaming: false });
        assert_eq!(Protocol::negotiate(140_000, PgStreaming::On).unwrap(), Protocol { version: 2, streaming: true });
    }

    #[test]
    fn streaming_on_before_14_names_the_version() {
        let err = Protocol::negotiate(130_012, PgStreaming::On).unwrap_err();
        assert!(err.contains("needs PostgreSQL 14 or newer"), "{err}");
        assert!(err.contains("this server is 13.12 (server_version_num 130012)"), "{err}");
        assert!(err.contains("streaming = \"off\""), "{err}");
        assert_eq!(version_text(90_624), "9.6.24");
    }
}
