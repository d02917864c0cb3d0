//! `logferry bench`: measures logferry on PostgreSQL in this process, beside
//! PostgreSQL's own tools, and prints the figures. MariaDB/MySQL backlogs
//! (`--source mariadb`) are in [`mariadb`], MongoDB ones (`--source mongodb`) in [`mongodb`].
//!
//! ```text
//! LOGFERRY_BENCH_PG_URL=postgres://postgres:pw@127.0.0.1:5432/postgres logferry bench \
//!     [--rows 1000000] [--tx-rows 0] [--width 100] [--updates 0] [--deletes 0] \
//!     [--tables 1] [--indexes 0] [--target postgres|file|discard|nats [--nats-url URL]|kafka] \
//!     [--lanes 8] [--batch 1000] [--repeat N] \
//!     [--compare] [--spool] [--json | --csv] [--svg FILE] [--prefix lfbench] \
//!     [--rate R --duration S] [--sweep lanes=1,2,4,8 [batch=100,1000,5000]]
//! ```
//!
//! Databases `<prefix>_src`, `<prefix>_dst` and `<prefix>_native` and slots
//! `<prefix>_*` are created on the given server (dropped first if they
//! exist, dropped again at the end). The source table is `items`, or
//! `items_1` … `items_N` with `--tables N` (same shape; row `g` goes to
//! table `(g − 1) mod N + 1`, so every transaction touches every table), all
//! in the publication and in logferry's `tables`. `--indexes N` puts N
//! secondary indexes on each target table, on `qty`, `price`, `updated_at`,
//! `note` in turn (N > 4 repeats columns): logferry's `<prefix>_dst` tables
//! are then created up front by the bench (logferry's sink keeps an
//! existing table of the same shape), and the native subscriber's tables
//! get the same indexes, so the comparison stays fair.
//!
//! # Backlog mode (the default)
//!
//! The backlog is made after every slot exists, so each reader sees exactly
//! the same changes: `--rows` inserts (in transactions of `--tx-rows`, 0 =
//! one), then `--updates` updates and `--deletes` deletes of the first rows,
//! one transaction each. Readers, one after another:
//! - `pg_recvlogical` (`--compare`): pgoutput from its own slot to
//!   /dev/null up to the backlog's end LSN — the read floor;
//! - logferry (`run --once` in this process): its PostgreSQL source into the
//!   target (`postgres`: `<prefix>_dst`; `file`: protobuf in a temp dir;
//!   `discard`: counted and acknowledged, nothing written — the read side;
//!   `nats`: protobuf messages in the JetStream stream `<PREFIX>` at
//!   `--nats-url`, deleted before and after the run); every PostgreSQL
//!   target table is checked against its source table afterwards;
//! - native logical replication (`--compare`, `--target postgres`):
//!   `CREATE SUBSCRIPTION` in `<prefix>_native` over its own slot, timed
//!   until the subscriber has applied the end LSN.
//!
//! For logferry it also prints, from its [`PipelineStats`]:
//! - stage seconds: *source waiting* (the source blocked on a full
//!   pipeline: backpressure), *route* (the coordinator numbering and
//!   routing), *apply* (target applies, summed over lanes, so it can exceed
//!   the wall time) and *read+decode ≈ wall − source waiting*, an estimate
//!   that also counts connecting and the drain after the last read; each
//!   with the rows/s and WAL MB/s per second of that stage;
//! - `peak rows/s over 1 s`: the applied count is sampled every 100 ms;
//! - commit-to-apply latency per source transaction (count, p50, p95, p99,
//!   max; bucket upper bounds). In a backlog the transactions waited in the
//!   backlog, so these are large by construction.
//!
//! `--repeat N` runs all of it N times (a new backlog each round, the
//! readers in the same order within each round) and prints per reader the
//! median seconds with min–max, and the ratios to logferry taken within
//! each round, summarised the same way ([`repeat`]). Every run prints
//! logferry's CPU microseconds per change (this process's CPU time over
//! the backlog's changes).
//!
//! # Steady mode (`--rate R --duration S`)
//!
//! No backlog: logferry runs continuously (`run` without `--once`) while
//! the bench writes R rows/s for S seconds (S ≥ 2) into the source tables:
//! every 10 ms one transaction with the rows due by then (R/100 when on
//! time). The ticks use `MissedTickBehavior::Delay` and the rows due are
//! computed from the elapsed time, so a late tick writes one larger
//! transaction instead of a burst of small ones, and the requested rate
//! holds on average as long as the writer keeps up (the achieved rate is
//! printed). Latencies of the first second (the warm-up) are discarded.
//! After the last write the bench waits (at most 60 s, else it fails) until
//! logferry has applied every row written, then stops the pipeline and
//! prints the achieved rate, the latency count/p50/p95/p99/max and the
//! stages. Inserts only: `--updates`, `--deletes`, `--compare` and
//! `--sweep` do not combine with it.
//!
//! # Sweep (`--sweep lanes=1,2,4,8 batch=100,1000,5000`)
//!
//! For each combination (either key may be left out: `--lanes` / `--batch`
//! then) the whole backlog is rebuilt and logferry alone runs over it; one
//! row per combination (lanes, batch, seconds, rows/s), then
//! `best: lanes=X batch=Y (N rows/s)`.
//!
//! # Output
//!
//! A table by default; `--json` one JSON object; `--csv` a header line and
//! then, in backlog mode, one line per reader with the run's settings
//! repeated on each line and logferry's own figures (stages, latency, RSS,
//! CPU) filled only on logferry's line; in steady mode one line; in a sweep
//! one line per combination with a `best` column. `--svg FILE` writes a
//! standalone chart (not with `--sweep`): applied rows/s over time (1 s
//! moving average of the 100 ms samples) and the latency histogram.
//!
//! Peak RSS is this process's high-water mark, reset just before logferry
//! starts (`/proc/self/clear_refs`); CPU seconds are this process's user +
//! system time during the run (the database servers' CPU is not counted; in
//! steady mode the bench's own writer is). No timing is asserted anywhere:
//! the figures are printed, nothing more.

mod harness;

use super::CliError;
use crate::pipeline::PipelineStats;
use crate::config::Config;
use crate::pipeline::{self, PipelineRun};
use harness::{Bench, Sampler};
use report::LfFigures;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_postgres::{Client, NoTls};
mod mariadb;
mod mongodb;
mod repeat;
mod report;
mod steady;
mod svg;
mod sweep;

/// Options of `logferry bench` (see the module docs).
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Where the backlog is written and read from: PostgreSQL (`--pg-url`), MariaDB/MySQL (`--mariadb-url`) or MongoDB (`--mongo-url`).
    #[arg(long, value_parser = ["postgres", "mariadb", "mongodb"], default_value = "postgres")]
    pub source: String,
    /// A PostgreSQL superuser URL (wal_level = logical); its database is used to create the bench databases.
    /// The source with `--source postgres`; the target with `--target postgres`.
    /// Better from the environment (`ps` shows a command line's password).
    #[arg(long, env = "LOGFERRY_BENCH_PG_URL", hide_env_values = true)]
    pub pg_url: Option<String>,
    /// A MariaDB/MySQL root URL (binlog_format = ROW), for `--source mariadb`.
    #[arg(long, env = "LOGFERRY_BENCH_MARIADB_URL", hide_env_values = true)]
    pub mariadb_url: Option<String>,
    /// A MongoDB URL (a replica set member or mongos; its oplog must hold the backlog), for `--source mongodb`.
    #[arg(long, env = "LOGFERRY_BENCH_MONGO_URL", hide_env_values = true)]
    pub mongo_url: Option<String>,
    /// Rows inserted into the backlog.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Rows per insert transaction (0: all in one).
    #[arg(long, default_value_t = 0)]
    pub tx_rows: u64,
    /// Bytes of text per row (the `note` column).
    #[arg(long, default_value_t = 100)]
    pub width: usize,
    /// Rows updated after the inserts (one transaction).
    #[arg(long, default_value_t = 0)]
    pub updates: u64,
    /// Rows deleted after the updates (one transaction).
    #[arg(long, default_value_t = 0)]
    pub deletes: u64,
    /// Spread the rows over this many tables (items_1 … items_N).
    #[arg(long, default_value_t = 1)]
    pub tables: usize,
    /// Secondary indexes on each target table (logferry's and the native subscriber's).
    #[arg(long, default_value_t = 0)]
    pub indexes: usize,
    /// Where logferry applies the backlog (`nats`: the JetStream stream
    /// `<PREFIX>` at --nats-url, protobuf messages; deleted before and after;
    /// `kafka`: with --kafka-brokers).
    /// `discard`: records are counted and acknowledged, nothing is written (the read side alone).
    #[arg(long, value_parser = ["postgres", "file", "discard", "nats", "kafka"], default_value = "postgres")]
    pub target: String,
    /// The NATS server (JetStream on) for `--target nats`, e.g. `nats://127.0.0.1:4222`.
    #[arg(long)]
    pub nats_url: Option<String>,
    /// Bootstrap servers of the Kafka cluster for `--target kafka` (host:port,...).
    #[arg(long)]
    pub kafka_brokers: Option<String>,
    /// Topic template for `--target kafka` (a fresh name per run keeps runs apart).
    #[arg(long, default_value = "{pipeline}.{schema}.{table}")]
    pub kafka_topic: String,
    /// `[pipeline.apply] lanes`.
    #[arg(long, default_value_t = 8)]
    pub lanes: usize,
    /// `[pipeline.apply] batch_max_rows`.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// `[pipeline.apply] batch_max_wait` (e.g. `5ms`; default: the config's default).
    #[arg(long)]
    pub batch_wait: Option<String>,
    /// `[pipeline.apply] queue_max_bytes` (e.g. `32MiB`; default: the config's default).
    #[arg(long)]
    pub queue_bytes: Option<String>,
    /// `[pipeline.apply] early_apply`: `false` applies a streamed transaction only at its commit.
    #[arg(long)]
    pub early_apply: Option<bool>,
    /// Also run the source's own readers on the same backlog: pg_recvlogical and native logical
    /// replication; mariadb-binlog; the MongoDB driver's change stream.
    #[arg(long)]
    pub compare: bool,
    /// Steady mode: rows per second the bench writes while logferry runs (with --duration).
    #[arg(long, requires = "duration")]
    pub rate: Option<u64>,
    /// Steady mode: seconds of writing at --rate (at least 2; the first is a warm-up).
    #[arg(long, requires = "rate")]
    pub duration: Option<u64>,
    /// Run a grid of settings, e.g. `--sweep lanes=1,2,4,8 batch=100,1000,5000`; prints the best.
    #[arg(long, num_args = 1..=2, value_name = "KEY=V1,V2,...")]
    pub sweep: Vec<String>,
    /// Print one JSON object instead of the table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV (a header line, then one line per reader, run or setting) instead of the table.
    #[arg(long)]
    pub csv: bool,
    /// Also write an SVG chart (throughput over time, latency histogram) to this file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Run logferry with the durable spool on (`[pipeline.spool]`, 1 GiB).
    #[arg(long)]
    pub spool: bool,
    /// Prefix of the databases and slots the bench creates (and drops).
    #[arg(long, default_value = "lfbench")]
    pub prefix: String,
    /// Put five `[[pipeline.table]]` rules on every bench table (validate,
    /// filter, exclude, hash, rename; see `BENCH_RULES`): the cost of the
    /// validate-and-transform stage. With `--target file` only (the
    /// renamed, masked rows do not match the source any more).
    #[arg(long)]
    pub rules: bool,
    /// Run the backlog bench this many times, every reader once per round,
    /// and print medians with min–max (of seconds, rows/s and the ratios).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
}

/// The rules `--rules` adds: five, each touching every row (the filter and
/// the check pass them all, so the file gets as many records as without).
pub(super) const BENCH_RULES: &str = r#"mask_key = "bench-only-key"
[[pipeline.table]]
match = "public.items*"
[pipeline.table.validate]
qty = { min = 0, max = 1000000000 }
[[pipeline.table]]
match = "public.items*"
filter = "qty >= 0 and price >= 0"
[[pipeline.table]]
match = "public.items*"
exclude_columns = ["updated_at"]
[[pipeline.table]]
match = "public.items*"
mask = { note = "hash" }
[[pipeline.table]]
match = "public.items*"
rename_columns = { qty = "quantity" }
"#;

/// A scratch folder for the bench's state dir and file target, removed on drop.
pub(super) struct WorkDir(PathBuf);

impl WorkDir {
    pub(super) fn new(prefix: &str) -> Result<Self, CliError> {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| fail(&format!("creating {}", dir.display()), e))?;
        Ok(WorkDir(dir))
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One reader's figures.
#[derive(Debug, Clone)]
struct Figure {
    name: &'static str,
    seconds: f64,
}

/// A failed bench step, keeping its error (or a described one) as the cause.
pub(super) fn fail(what: &str, e: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> CliError {
    CliError::BenchStep { what: what.to_string(), cause: e.into() }
}

pub(super) async fn connect(url: &str) -> Result<Client, CliError> {
    let (client, conn) =
        tokio_postgres::connect(url, NoTls).await.map_err(|e| fail("connecting to --pg-url", describe(e)))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// A driver error with its cause (it never holds the URL or password).
pub(super) fn describe(e: tokio_postgres::Error) -> String {
    let mut s = e.to_string();
    if let Some(src) = std::error::Error::source(&e) {
        s = format!("{s}: {src}");
    }
    s
}

/// `url` with its database replaced by `db`.
pub(super) fn with_db(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{db}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Finds a PostgreSQL client program: PATH, then the Debian layout.
pub(super) fn pg_program(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path().join("bin"))).collect();
        versions.sort();
        dirs.extend(versions.into_iter().rev());
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// This process's CPU seconds (user + system, all threads), from
/// /proc/self/stat in clock ticks of 1/100 s (Linux's USER_HZ).
pub(super) fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// This process's peak RSS in KiB (VmHWM).
pub(super) fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

const TABLE: &str = "CREATE TABLE items (id bigint PRIMARY KEY, qty int NOT NULL, price numeric(12,2) NOT NULL, note text, updated_at timestamptz NOT NULL)";

/// Columns the `--indexes` secondary indexes go on, in turn.
const INDEXED: [&str; 4] = ["qty", "price", "updated_at", "note"];

/// The bench's source tables: `items`, or `items_1` … `items_n`.
fn table_names(n: usize) -> Vec<String> {
    if n <= 1 {
        vec!["items".to_string()]
    } else {
        (1..=n).map(|i| format!("items_{i}")).collect()
    }
}

/// `CREATE TABLE` for one bench table, plus its `indexes` secondary indexes.
fn table_ddl(table: &str, indexes: usize) -> String {
    let mut sql = TABLE.replacen("CREATE TABLE items", &format!("CREATE TABLE {table}"), 1);
    for i in 0..indexes {
        sql.push_str(&format!("; CREATE INDEX {table}_ix{i} ON {table} ({})", INDEXED[i % INDEXED.len()]));
    }
    sql
}

/// One transaction inserting rows `first..=last`, row `g` into table
/// `(g - 1) mod n` of `tables`.
fn insert_sql(tables: &[String], first: u64, last: u64, width: usize) -> String {
    let n = tables.len() as u64;
    let select = |t: &str, filter: String| {
        format!(
            "INSERT INTO {t} SELECT g, g % 100, (g % 10000) / 100.0, rpad('note ' || g, {width}, '.'), timestamptz '2024-01-01' + g * interval '1 second' FROM generate_series({first}, {last}) g{filter}"
        )
    };
    if n == 1 {
        return select(&tables[0], String::new());
    }
    let mut sql = String::from("BEGIN");
    for (i, t) in tables.iter().enumerate() {
        sql.push_str("; ");
        sql.push_str(&select(t, format!(" WHERE (g - 1) % {n} = {i}")));
    }
    sql.push_str("; COMMIT");
    sql
}

/// One statement per table, in one transaction.
fn each_table(tables: &[String], stmt: impl Fn(&str) -> String) -> String {
    let body: Vec<String> = tables.iter().map(|t| stmt(t)).collect();
    format!("BEGIN; {}; COMMIT", body.join("; "))
}

/// Runs the bench; prints the result.
pub async fn run(args: BenchArgs) -> Result<(), CliError> {
    if args.rows == 0 || args.lanes == 0 || args.batch == 0 || args.tables == 0 {
        return Err(CliError::Usage("bench: --rows, --lanes, --batch and --tables must be at least 1".into()));
    }
    if !args.prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(CliError::Usage("bench: --prefix takes lowercase letters, digits and _".into()));
    }
    if args.rules && (args.target != "file" || args.source != "postgres") {
        return Err(CliError::Usage("bench: --rules works with --source postgres --target file only".into()));
    }
    if args.target == "nats" && (args.nats_url.is_none() || args.source != "postgres") {
        return Err(CliError::Usage(
            "bench: --target nats needs --nats-url (a NATS server with JetStream on) and --source postgres".into(),
        ));
    }
    if args.target == "kafka" && (args.kafka_brokers.is_none() || args.source != "postgres") {
        return Err(CliError::Usage("bench: --target kafka works with --source postgres and needs --kafka-brokers host:port".into()));
    }
    if args.repeat > 1 && (args.rate.is_some() || !args.sweep.is_empty() || args.csv || args.svg.is_some()) {
        return Err(CliError::Usage(
            "bench: --repeat reruns the backlog bench; leave out --rate/--duration, --sweep, --csv and --svg".into(),
        ));
    }
    if args.source != "postgres" {
        let pg_only = [
            ("--tables", args.tables != 1),
            ("--indexes", args.indexes != 0),
            ("--rate", args.rate.is_some()),
            ("--duration", args.duration.is_some()),
            ("--sweep", !args.sweep.is_empty()),
            ("--csv", args.csv),
            ("--svg", args.svg.is_some()),
        ];
        if let Some((flag, _)) = pg_only.iter().find(|(_, set)| *set) {
            return Err(CliError::Usage(format!(
                "bench: {flag} works with --source postgres only (not yet with --source {})",
                args.source
            )));
        }
        return match args.source.as_str() {
            "mongodb" => mongodb::run(&args).await,
            _ => mariadb::run(&args).await,
        };
    }
    let Some(pg_url) = args.pg_url.as_deref() else {
        return Err(CliError::Usage(
            "bench: --source postgres needs --pg-url or LOGFERRY_BENCH_PG_URL (a superuser URL of a server with wal_level = logical)".into(),
        ));
    };
    let steady = args.rate.is_some() || args.duration.is_some();
    if steady {
        let (rate, duration) = (args.rate.unwrap_or(0), args.duration.unwrap_or(0));
        if rate == 0 || duration < 2 {
            return Err(CliError::Usage(
                "bench: --rate must be at least 1 and --duration at least 2 (the first second is a warm-up)".into(),
            ));
        }
        if args.compare || args.updates > 0 || args.deletes > 0 || !args.sweep.is_empty() {
            return Err(CliError::Usage("bench: --rate/--duration write inserts while logferry runs; leave out --compare, --updates, --deletes and --sweep".into()));
        }
        return steady::run(&args, pg_url).await;
    }
    if !args.sweep.is_empty() {
        let grid = sweep::parse(&args.sweep, args.lanes, args.batch)?;
        if args.compare || args.svg.is_some() {
            return Err(CliError::Usage(
                "bench: --sweep runs logferry alone, once per setting; leave out --compare and --svg".into(),
            ));
        }
        return sweep::run(&args, pg_url, &grid).await;
    }
    if args.repeat > 1 {
        let mut rounds = Vec::new();
        for _ in 0..args.repeat {
            let (backlog, figures, lf, _) = backlog_round(&args, pg_url).await?;
            rounds.push(repeat::Round {
                readers: figures.iter().map(|f| (f.name.to_string(), f.seconds)).collect(),
                changes: backlog.changes,
                cpu_s: lf.cpu_s,
                rss_kib: lf.rss_kib,
            });
        }
        repeat::print(&args, &rounds);
        return Ok(());
    }
    let (backlog, figures, lf, verified) = backlog_round(&args, pg_url).await?;
    if let Some(path) = &args.svg {
        let title = format!(
            "logferry bench: {} changes ({} inserts, {} updates, {} deletes), {} target, {} lane(s), batches of {}, {} table(s), {} index(es)",
            backlog.changes, args.rows, args.updates, args.deletes, args.target, args.lanes, args.batch, args.tables, args.indexes
        );
        svg::write(path, &svg::render(&title, &lf.samples, &lf.latency))?;
    }
    report::print_backlog(&args, &backlog, &figures, &lf, verified);
    Ok(())
}

/// Backlog mode, one round: one backlog, every reader over it; the
/// backlog, each reader's seconds, logferry's figures, and whether the
/// target was checked equal to the source.
async fn backlog_round(args: &BenchArgs, pg_url: &str) -> Result<(Backlog, Vec<Figure>, LfFigures, bool), CliError> {
    let p = &args.prefix;
    let bench = Bench::prepare(args, pg_url, args.lanes, args.batch).await?;
    let backlog = bench.write_backlog(args).await?;

    let mut figures = Vec::new();
    if args.compare {
        match pg_program("pg_recvlogical") {
            None => {
                eprintln!("bench: pg_recvlogical not found (PATH, /usr/lib/postgresql/*/bin); its figure is left out")
            }
            Some(prog) => {
                let mut cmd = std::process::Command::new(prog);
                // The password goes through the environment: `ps` shows arguments.
                let (info, password) = conninfo_without_password(&bench.src_url);
                if let Some(pw) = password {
                    cmd.env("PGPASSWORD", pw);
                }
                cmd.args(["-d", &info, "--slot", &format!("{p}_recv"), "--start"]).args([
                    "-o",
                    "proto_version=1",
                    "-o",
                    &format!("publication_names={p}_native"),
                    "-E",
                    &backlog.end_lsn,
                    "-f",
                    "/dev/null",
                ]);
                let t0 = Instant::now();
                let status = tokio::task::spawn_blocking(move || cmd.status())
                    .await
                    .map_err(|e| fail("running pg_recvlogical", e))?
                    .map_err(|e| fail("running pg_recvlogical", e))?;
                if !status.success() {
                    return Err(CliError::Bench(format!("pg_recvlogical failed ({status})")));
                }
                figures.push(Figure { name: "pg_recvlogical (read only)", seconds: t0.elapsed().as_secs_f64() });
            }
        }
    }

    let lf = bench.timed_logferry().await?;
    figures.push(Figure { name: "logferry run --once", seconds: lf.seconds });
    let verified = bench.verify().await?;

    if let Some(native_client) = &bench.native {
        let t0 = Instant::now();
        native_client
            .batch_execute(&format!("ALTER SUBSCRIPTION {p}_native ENABLE"))
            .await
            .map_err(|e| fail("enabling the subscription", describe(e)))?;
        loop {
            let done: bool = bench
                .admin
                .query_one(
                    "SELECT coalesce((SELECT confirmed_flush_lsn >= $2::text::pg_lsn FROM pg_replication_slots WHERE slot_name = $1), false)",
                    &[&format!("{p}_native"), &backlog.end_lsn],
                )
                .await
                .map_err(|e| fail("watching the subscription", describe(e)))?
                .get(0);
            if done {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        figures.push(Figure { name: "native subscription (apply)", seconds: t0.elapsed().as_secs_f64() });
        native_client
            .batch_execute(&format!("ALTER SUBSCRIPTION {p}_native DISABLE"))
            .await
            .map_err(|e| fail("disabling the subscription", describe(e)))?;
    }
    bench.finish().await?;
    Ok((backlog, figures, lf, verified))
}

/// What the backlog holds.
pub(super) struct Backlog {
    end_lsn: String,
    wal_bytes: i64,
    changes: u64,
    tx_rows: u64,
}

/// A libpq key/value conninfo for a `postgres://` URL, password included
/// (CREATE SUBSCRIPTION's CONNECTION takes it; never a command line).
pub(super) fn conninfo(url: &str) -> String {
    match conninfo_without_password(url) {
        (info, Some(pw)) => format!("{info} password={pw}"),
        (info, None) => info,
    }
}

/// `url` as a libpq conninfo without its password, and the password, for
/// programs the bench starts (the password goes in `PGPASSWORD`).
pub(super) fn conninfo_without_password(url: &str) -> (String, Option<String>) {
    let cfg: Result<tokio_postgres::Config, _> = url.parse();
    let Ok(cfg) = cfg else { return (url.to_string(), None) };
    let mut parts = Vec::new();
    if let Some(tokio_postgres::config::Host::Tcp(h)) = cfg.get_hosts().first() {
        parts.push(format!("host={h}"));
    }
    if let Some(port) = cfg.get_ports().first() {
        parts.push(format!("port={port}"));
    }
    if let Some(db) = cfg.get_dbname() {
        parts.push(format!("dbname={db}"));
    }
    if let Some(u) = cfg.get_user() {
        parts.push(format!("user={u}"));
    }
    (parts.join(" "), cfg.get_password().map(|pw| String::from_utf8_lossy(pw).into_owned()))
}

/// Drops what an earlier bench with this prefix left: the subscription
/// (detached from its slot first), the slots, the databases.
async fn cleanup(admin: &Client, url: &str, p: &str) -> Result<(), CliError> {
    let native: bool = admin
        .query_one("SELECT count(*) > 0 FROM pg_database WHERE datname = $1", &[&format!("{p}_native")])
        .await
        .map_err(|e| fail("cleaning up", describe(e)))?
        .get(0);
    if native {
        let c = connect(&with_db(url, &format!("{p}_native"))).await?;
        let exists: bool = c
            .query_one("SELECT count(*) > 0 FROM pg_subscription WHERE subname = $1", &[&format!("{p}_native")])
            .await
            .map_err(|e| fail("cleaning up", describe(e)))?
            .get(0);
        if exists {
            c.batch_execute(&format!(
                "ALTER SUBSCRIPTION {p}_native DISABLE; ALTER SUBSCRIPTION {p}_native SET (slot_name = NONE); DROP SUBSCRIPTION {p}_native"
            ))
            .await
            .map_err(|e| fail("dropping the bench subscription", describe(e)))?;
        }
    }
    // Slots may still be held for a moment by walsenders that are ending.
    for _ in 0..100 {
        let left: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE $1 AND active",
                &[&format!("{p}\\_%")],
            )
            .await
            .map_err(|e| fail("cleaning up", describe(e)))?
            .get(0);
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    admin
        .query(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE $1 AND NOT active",
            &[&format!("{p}\\_%")],
        )
        .await
        .map_err(|e| fail("dropping the bench slots", describe(e)))?;
    for db in ["native", "dst", "src"] {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {p}_{db} WITH (FORCE)"))
            .await
            .map_err(|e| fail("dropping the bench databases", describe(e)))?;
    }
    Ok(())
}

/// The pipeline's config text with these lanes and batch size.
fn pipeline_config_with(
    args: &BenchArgs,
    work: &Path,
    src_url: &str,
    dst_url: &str,
    lanes: usize,
    batch: usize,
) -> String {
    let target = match args.target.as_str() {
        "file" => format!("kind = \"file\"\npath = \"{}\"\nformat = \"protobuf\"", work.join("out.pb").display()),
        "discard" => "kind = \"discard\"".to_string(),
        "nats" => format!(
            "kind = \"nats\"\nurl = \"{}\"\nstream = \"{}\"\nformat = \"protobuf\"",
            args.nats_url.as_deref().unwrap_or_default().replace('\\', "\\\\").replace('"', "\\\""),
            nats_stream(args)
        ),
        "kafka" => {
            let quote = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
            format!(
                "kind = \"kafka\"\nbrokers = \"{}\"\ntopic = \"{}\"",
                quote(args.kafka_brokers.as_deref().unwrap_or_default()),
                quote(&args.kafka_topic)
            )
        }
        _ => format!("kind = \"postgres\"\nurl = \"{dst_url}\""),
    };
    let tables: Vec<String> = table_names(args.tables).iter().map(|t| format!("\"public.{t}\"")).collect();
    format!(
        "state_dir = \"{state}\"\n[[pipeline]]\nname = \"bench\"\n{rules}[pipeline.source]\nkind = \"postgres\"\nurl = \"{src_url}\"\ntables = [{tables}]\nslot = \"{p}_lf\"\npublication = \"{p}_lf\"\n[[pipeline.target]]\n{target}\n[pipeline.apply]\nlanes = {lanes}\nbatch_max_rows = {batch}\n{extra}{spool}",
        state = work.join("state").display(),
        tables = tables.join(", "),
        extra = apply_extras(args),
        p = args.prefix,
        spool = if args.spool { "[pipeline.spool]\n" } else { "" },
        rules = if args.rules { BENCH_RULES } else { "" },
    )
}

/// The JetStream stream of `--target nats`: the prefix in capitals.
pub(super) fn nats_stream(args: &BenchArgs) -> String {
    args.prefix.to_uppercase()
}

/// Deletes the `--target nats` stream (an earlier run's messages would be
/// dropped as duplicates of this run's, which restarts at seq 1).
pub(super) async fn drop_nats_stream(url: &str, stream: &str) -> Result<(), CliError> {
    let client = async_nats::connect(url).await.map_err(|e| fail("connecting to --nats-url", e))?;
    let js = async_nats::jetstream::new(client);
    match js.delete_stream(stream).await {
        Ok(_) => Ok(()),
        Err(e) => match e.kind() {
            async_nats::jetstream::context::DeleteStreamErrorKind::JetStream(j)
                if j.error_code() == async_nats::jetstream::ErrorCode::STREAM_NOT_FOUND =>
            {
                Ok(())
            }
            _ => Err(fail(&format!("deleting the bench stream {stream}"), e)),
        },
    }
}

/// The optional `[pipeline.apply]` settings of the command line, as TOML lines.
pub(super) fn apply_extras(args: &BenchArgs) -> String {
    let quote = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = String::new();
    if let Some(w) = &args.batch_wait {
        out.push_str(&format!("batch_max_wait = \"{}\"\n", quote(w)));
    }
    if let Some(b) = &args.queue_bytes {
        out.push_str(&format!("queue_max_bytes = \"{}\"\n", quote(b)));
    }
    if let Some(e) = args.early_apply {
        out.push_str(&format!("early_apply = {e}\n"));
    }
    out
}

/// `run --once` of the bench pipeline, in this process; `stats` collects
/// its figures (counts, time per stage, commit-to-apply latency).
pub(super) async fn run_logferry(config: &str, work: &Path, stats: Arc<PipelineStats>) -> Result<(), CliError> {
    let (_stop_tx, stop) = watch::channel(false);
    run_logferry_with(config, work, stats, true, stop).await
}

/// The bench pipeline in this process: `once` catches up and stops (as
/// `run --once`); otherwise it runs (as `run`) until `shutdown` turns true,
/// then applies what it read, checkpoints and returns.
pub(super) async fn run_logferry_with(
    config: &str,
    work: &Path,
    stats: Arc<PipelineStats>,
    once: bool,
    shutdown: watch::Receiver<bool>,
) -> Result<(), CliError> {
    let path = work.join("bench.toml");
    let cfg = Config::parse(config, &path, &|_| None)?;
    let p = &cfg.pipelines[0];
    let store = crate::checkpoint::CheckpointStore::open(&cfg.state_dir)?;
    let stage = super::rules::stage(&cfg, p)?;
    pipeline::run(PipelineRun {
        name: p.name.clone(),
        apply: p.apply.clone(),
        source: super::open_source(&p.source)?,
        sinks: super::open_sinks(&p.targets, p.apply.lanes, false).await?,
        store,
        once,
        shutdown,
        on_error: p.on_error,
        spool: p.spool,
        stats,
        stage,
        routes: super::rules::routes(p),
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
