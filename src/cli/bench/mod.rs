//! `logferry bench`: builds a PostgreSQL backlog, catches it up with
//! logferry in this process, and (with `--compare`) reads or applies the
//! same backlog with PostgreSQL's own tools in the same run, printing
//! rows/s, WAL MB/s, peak RSS, CPU seconds and the ratios.
//!
//! ```text
//! logferry bench --pg-url postgres://postgres:pw@127.0.0.1:5432/postgres \
//!     [--rows 1000000] [--tx-rows 0] [--width 100] [--updates 0] [--deletes 0] \
//!     [--target postgres|file] [--lanes 8] [--batch 1000] [--compare] [--json] [--prefix lfbench]
//! ```
//!
//! Databases `<prefix>_src`, `<prefix>_dst` and `<prefix>_native` and slots
//! `<prefix>_*` are created on the given server (dropped first if they
//! exist, dropped again at the end). The backlog is made after every slot
//! exists, so each reader sees exactly the same changes: `--rows` inserts
//! (in transactions of `--tx-rows`, 0 = one), then `--updates` updates and
//! `--deletes` deletes of the first rows, one transaction each.
//!
//! Readers, one after another:
//! - `pg_recvlogical` (`--compare`): pgoutput from its own slot to
//!   /dev/null up to the backlog's end LSN — the read floor;
//! - logferry (`run --once` in this process): its PostgreSQL source into the
//!   target (`postgres`: `<prefix>_dst`; `file`: protobuf in a temp dir);
//!   the target is checked against the source afterwards;
//! - native logical replication (`--compare`, `--target postgres`):
//!   `CREATE SUBSCRIPTION` in `<prefix>_native` over its own slot, timed
//!   until the subscriber has applied the end LSN.
//!
//! Peak RSS is this process's high-water mark, reset just before logferry
//! starts (`/proc/self/clear_refs`); CPU seconds are this process's user +
//! system time during the run (the database servers' CPU is not counted).
//! No timing is asserted anywhere: the figures are printed, nothing more.

mod mariadb;

use super::CliError;
use crate::admin::PipelineStats;
use crate::config::Config;
use crate::pipeline::{self, PipelineRun};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls};

/// Options of `logferry bench` (see the module docs).
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Where the backlog is written and read from: PostgreSQL (`--pg-url`) or MariaDB/MySQL (`--mariadb-url`).
    #[arg(long, value_parser = ["postgres", "mariadb"], default_value = "postgres")]
    pub source: String,
    /// A PostgreSQL superuser URL (wal_level = logical); its database is used to create the bench databases.
    /// The source with `--source postgres`; the target with `--target postgres`.
    #[arg(long)]
    pub pg_url: Option<String>,
    /// A MariaDB/MySQL root URL (binlog_format = ROW), for `--source mariadb`.
    #[arg(long)]
    pub mariadb_url: Option<String>,
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
    /// Where logferry applies the backlog.
    #[arg(long, value_parser = ["postgres", "file"], default_value = "postgres")]
    pub target: String,
    /// `[pipeline.apply] lanes`.
    #[arg(long, default_value_t = 8)]
    pub lanes: usize,
    /// `[pipeline.apply] batch_max_rows`.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Also run pg_recvlogical and native logical replication on the same backlog.
    #[arg(long)]
    pub compare: bool,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Run logferry with the durable spool on (`[pipeline.spool]`, 1 GiB).
    #[arg(long)]
    pub spool: bool,
    /// Prefix of the databases and slots the bench creates (and drops).
    #[arg(long, default_value = "lfbench")]
    pub prefix: String,
}

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

pub(super) fn fail(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Bench(format!("{what}: {e}"))
}

pub(super) async fn connect(url: &str) -> Result<Client, CliError> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.map_err(|e| fail("connecting to --pg-url", describe(e)))?;
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
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
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

/// Runs the bench; prints the result.
pub async fn run(args: BenchArgs) -> Result<(), CliError> {
    if args.rows == 0 || args.lanes == 0 || args.batch == 0 {
        return Err(CliError::Usage("bench: --rows, --lanes and --batch must be at least 1".into()));
    }
    if !args.prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(CliError::Usage("bench: --prefix takes lowercase letters, digits and _".into()));
    }
    if args.source == "mariadb" {
        return mariadb::run(&args).await;
    }
    let Some(pg_url) = args.pg_url.as_deref() else {
        return Err(CliError::Usage("bench: --source postgres needs --pg-url (a superuser URL of a server with wal_level = logical)".into()));
    };
    let p = &args.prefix;
    let (src, dst, native) = (format!("{p}_src"), format!("{p}_dst"), format!("{p}_native"));
    let admin = connect(pg_url).await?;
    let wal_level: String = admin.query_one("SHOW wal_level", &[]).await.map_err(|e| fail("SHOW wal_level", describe(e)))?.get(0);
    if wal_level != "logical" {
        return Err(CliError::Bench(format!("the server at --pg-url has wal_level = {wal_level}; the bench needs wal_level = logical")));
    }
    cleanup(&admin, pg_url, p).await?;
    for db in [&src, &dst, &native] {
        admin.batch_execute(&format!("CREATE DATABASE {db}")).await.map_err(|e| fail("creating the bench databases", describe(e)))?;
    }
    let source = connect(&with_db(pg_url, &src)).await?;
    source
        .batch_execute(&format!("{TABLE}; CREATE PUBLICATION {p}_native FOR TABLE items"))
        .await
        .map_err(|e| fail("creating the source table", describe(e)))?;

    let work = WorkDir::new(p)?;
    let config = pipeline_config(&args, work.path(), &with_db(pg_url, &src), &with_db(pg_url, &dst));
    // logferry's slot and publication: a first run over the empty table.
    run_logferry(&config, work.path(), Default::default()).await?;
    for slot in ["native", "recv"] {
        source
            .batch_execute(&format!("SELECT pg_create_logical_replication_slot('{p}_{slot}', 'pgoutput')"))
            .await
            .map_err(|e| fail("creating the comparison slots", describe(e)))?;
    }
    let native_client = connect(&with_db(pg_url, &native)).await?;
    if args.compare && args.target == "postgres" {
        native_client.batch_execute(TABLE).await.map_err(|e| fail("creating the subscriber table", describe(e)))?;
        let conninfo = conninfo(&with_db(pg_url, &src));
        native_client
            .batch_execute(&format!(
                "CREATE SUBSCRIPTION {p}_native CONNECTION '{conninfo}' PUBLICATION {p}_native \
                 WITH (create_slot = false, slot_name = '{p}_native', enabled = false, copy_data = false)"
            ))
            .await
            .map_err(|e| fail("creating the subscription", describe(e)))?;
    }

    // The backlog.
    let start_lsn: String = source.query_one("SELECT pg_current_wal_lsn()::text", &[]).await.map_err(|e| fail("reading the WAL position", describe(e)))?.get(0);
    let tx_rows = if args.tx_rows == 0 { args.rows } else { args.tx_rows };
    let mut first = 1u64;
    while first <= args.rows {
        let last = (first + tx_rows - 1).min(args.rows);
        source
            .batch_execute(&format!(
                "INSERT INTO items SELECT g, g % 100, (g % 10000) / 100.0, rpad('note ' || g, {w}, '.'), timestamptz '2024-01-01' + g * interval '1 second' FROM generate_series({first}, {last}) g",
                w = args.width
            ))
            .await
            .map_err(|e| fail("writing the backlog", describe(e)))?;
        first = last + 1;
    }
    if args.updates > 0 {
        source
            .batch_execute(&format!("UPDATE items SET qty = qty + 1, updated_at = updated_at + interval '1 day' WHERE id <= {}", args.updates))
            .await
            .map_err(|e| fail("writing the backlog", describe(e)))?;
    }
    if args.deletes > 0 {
        source
            .batch_execute(&format!("DELETE FROM items WHERE id <= {}", args.deletes))
            .await
            .map_err(|e| fail("writing the backlog", describe(e)))?;
    }
    let row: tokio_postgres::Row = source
        .query_one("SELECT pg_current_wal_lsn()::text, (pg_current_wal_lsn() - $1::text::pg_lsn)::bigint", &[&start_lsn])
        .await
        .map_err(|e| fail("reading the WAL position", describe(e)))?;
    let (end_lsn, wal_bytes): (String, i64) = (row.get(0), row.get(1));
    let changes = args.rows + args.updates.min(args.rows) + args.deletes.min(args.rows);

    let mut figures = Vec::new();
    if args.compare {
        match pg_program("pg_recvlogical") {
            None => eprintln!("bench: pg_recvlogical not found (PATH, /usr/lib/postgresql/*/bin); its figure is left out"),
            Some(prog) => {
                let mut cmd = std::process::Command::new(prog);
                cmd.args(["-d", &conninfo(&with_db(pg_url, &src)), "--slot", &format!("{p}_recv"), "--start"])
                    .args(["-o", "proto_version=1", "-o", &format!("publication_names={p}_native"), "-E", &end_lsn, "-f", "/dev/null"]);
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

    // logferry.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    run_logferry(&config, work.path(), Default::default()).await?;
    let lf_seconds = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let rss_kib = peak_rss_kib();
    figures.push(Figure { name: "logferry run --once", seconds: lf_seconds });
    let verified = if args.target == "postgres" {
        let dst_client = connect(&with_db(pg_url, &dst)).await?;
        let digest = "SELECT count(*)::text || ':' || coalesce(sum(hashtext(id::text || qty::text || price::text || note || updated_at::text))::text, '') FROM items";
        let want: String = source.query_one(digest, &[]).await.map_err(|e| fail("checking the target", describe(e)))?.get(0);
        let got: String = dst_client.query_one(digest, &[]).await.map_err(|e| fail("checking the target", describe(e)))?.get(0);
        if want != got {
            return Err(CliError::Bench(format!("the target differs from the source after the run (source {want}, target {got})")));
        }
        true
    } else {
        false
    };

    if args.compare && args.target == "postgres" {
        let t0 = Instant::now();
        native_client.batch_execute(&format!("ALTER SUBSCRIPTION {p}_native ENABLE")).await.map_err(|e| fail("enabling the subscription", describe(e)))?;
        loop {
            let done: bool = admin
                .query_one(
                    "SELECT coalesce((SELECT confirmed_flush_lsn >= $2::text::pg_lsn FROM pg_replication_slots WHERE slot_name = $1), false)",
                    &[&format!("{p}_native"), &end_lsn],
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
        native_client.batch_execute(&format!("ALTER SUBSCRIPTION {p}_native DISABLE")).await.map_err(|e| fail("disabling the subscription", describe(e)))?;
    }
    drop(native_client);
    drop(source);
    cleanup(&admin, pg_url, p).await?;

    let seconds = |name: &str| figures.iter().find(|f| f.name.starts_with(name)).map(|f| f.seconds);
    let ratio_native = seconds("native").map(|n| n / lf_seconds);
    let ratio_recv = seconds("pg_recvlogical").map(|r| lf_seconds / r);
    let mb = wal_bytes as f64 / 1e6;
    if args.json {
        let mut readers = String::new();
        for (i, f) in figures.iter().enumerate() {
            readers.push_str(&format!(
                "{}{{\"reader\":\"{}\",\"seconds\":{:.3},\"rows_per_s\":{:.0},\"wal_mb_per_s\":{:.2}}}",
                if i > 0 { "," } else { "" },
                f.name,
                f.seconds,
                changes as f64 / f.seconds,
                mb / f.seconds
            ));
        }
        let opt = |v: Option<f64>| v.map_or("null".to_string(), |v| format!("{v:.3}"));
        println!(
            "{{\"changes\":{changes},\"wal_bytes\":{wal_bytes},\"target\":\"{}\",\"lanes\":{},\"batch\":{},\"spool\":{},\"readers\":[{readers}],\"logferry_peak_rss_kib\":{rss_kib},\"logferry_cpu_seconds\":{cpu:.3},\"target_verified\":{verified},\"ratio_vs_native_subscription\":{},\"time_ratio_vs_pg_recvlogical\":{}}}",
            args.target,
            args.lanes,
            args.batch,
            args.spool,
            opt(ratio_native),
            opt(ratio_recv)
        );
    } else {
        println!(
            "backlog: {changes} changes ({} inserts in transactions of {tx_rows}, {} updates, {} deletes), {:.1} MB of WAL; logferry -> {} with {} lane(s), batches of {}{}",
            args.rows, args.updates, args.deletes, mb, args.target, args.lanes, args.batch,
            if args.spool { ", through the spool" } else { "" }
        );
        println!("{:<32} {:>9} {:>12} {:>12}", "reader", "seconds", "rows/s", "WAL MB/s");
        for f in &figures {
            println!("{:<32} {:>9.2} {:>12.0} {:>12.2}", f.name, f.seconds, changes as f64 / f.seconds, mb / f.seconds);
        }
        println!("logferry: peak RSS {:.1} MiB, {cpu:.2} CPU s (this process){}", rss_kib as f64 / 1024.0,
            if verified { "; target checked equal to the source" } else { "" });
        if let Some(r) = ratio_native {
            println!("logferry vs native subscription: {r:.2}x the rows/s");
        }
        if let Some(r) = ratio_recv {
            println!("logferry time / pg_recvlogical time: {r:.2} (pg_recvlogical rows/s / logferry rows/s)");
        }
    }
    Ok(())
}

/// A libpq key/value conninfo for a `postgres://` URL (pg_recvlogical and
/// CREATE SUBSCRIPTION take it).
pub(super) fn conninfo(url: &str) -> String {
    let cfg: Result<tokio_postgres::Config, _> = url.parse();
    let Ok(cfg) = cfg else { return url.to_string() };
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
    if let Some(pw) = cfg.get_password() {
        parts.push(format!("password={}", String::from_utf8_lossy(pw)));
    }
    parts.join(" ")
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
            .query_one("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE $1 AND active", &[&format!("{p}\\_%")])
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
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {p}_{db} WITH (FORCE)")).await.map_err(|e| fail("dropping the bench databases", describe(e)))?;
    }
    Ok(())
}

/// The pipeline's config text.
fn pipeline_config(args: &BenchArgs, work: &Path, src_url: &str, dst_url: &str) -> String {
    let target = match args.target.as_str() {
        "file" => format!("kind = \"file\"\npath = \"{}\"\nformat = \"protobuf\"", work.join("out.pb").display()),
        _ => format!("kind = \"postgres\"\nurl = \"{dst_url}\""),
    };
    format!(
        "state_dir = \"{state}\"\n[[pipeline]]\nname = \"bench\"\n[pipeline.source]\nkind = \"postgres\"\nurl = \"{src_url}\"\ntables = [\"public.items\"]\nslot = \"{p}_lf\"\npublication = \"{p}_lf\"\n[[pipeline.target]]\n{target}\n[pipeline.apply]\nlanes = {lanes}\nbatch_max_rows = {batch}\n{spool}",
        state = work.join("state").display(),
        p = args.prefix,
        lanes = args.lanes,
        batch = args.batch,
        spool = if args.spool { "[pipeline.spool]\n" } else { "" },
    )
}

/// `run --once` of the bench pipeline, in this process; `stats` collects
/// its figures (counts, time per stage, commit-to-apply latency).
pub(super) async fn run_logferry(config: &str, work: &Path, stats: Arc<PipelineStats>) -> Result<(), CliError> {
    let path = work.join("bench.toml");
    let cfg = Config::parse(config, &path, &|_| None)?;
    let p = &cfg.pipelines[0];
    let store = crate::checkpoint::CheckpointStore::open(&cfg.state_dir)?;
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    pipeline::run(PipelineRun {
        name: p.name.clone(),
        apply: p.apply.clone(),
        source: super::open_source(&p.source)?,
        sinks: super::open_sinks(&p.targets, p.apply.lanes, false).await?,
        store,
        once: true,
        shutdown: stop,
        on_error: p.on_error,
        spool: p.spool,
        stats,
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_conninfo() {
        assert_eq!(with_db("postgres://u:p@127.0.0.1:5432/postgres", "x"), "postgres://u:p@127.0.0.1:5432/x");
        assert_eq!(with_db("postgres://u@h:1/postgres?sslmode=disable", "x"), "postgres://u@h:1/x?sslmode=disable");
        assert_eq!(with_db("postgres://u@h:1", "x"), "postgres://u@h:1/x");
        assert_eq!(conninfo("postgres://u:pw@127.0.0.1:5432/db"), "host=127.0.0.1 port=5432 dbname=db user=u password=pw");
    }
}
