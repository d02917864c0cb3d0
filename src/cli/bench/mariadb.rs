//! `logferry bench --source mariadb`: builds a MariaDB/MySQL binlog backlog,
//! catches it up with logferry in this process, and (with `--compare`) reads
//! the same backlog with the server's own binlog reader in the same run,
//! printing rows/s, binlog MB/s, peak RSS, CPU seconds and the ratio.
//!
//! ```text
//! logferry bench --source mariadb --mariadb-url mysql://root:pw@127.0.0.1:3306 \
//!     [--pg-url postgres://postgres:pw@127.0.0.1:5432/postgres] [--target postgres|file] \
//!     [--rows 1000000] [--tx-rows 0] [--width 100] [--updates 0] [--deletes 0] \
//!     [--lanes 8] [--batch 1000] [--spool] [--compare] [--json] [--prefix lfbench]
//! ```
//!
//! The server at `--mariadb-url` needs the binary log on (`log_bin`) with
//! `binlog_format = ROW` and `binlog_row_image = FULL`, and the user root-like
//! rights (CREATE/DROP DATABASE, REPLICATION SLAVE, BINLOG MONITOR). Database
//! `<prefix>_src` is created there, and with `--target postgres` (the
//! default, which needs `--pg-url`) database `<prefix>_mdst` on PostgreSQL;
//! both are dropped first if they exist and dropped again at the end, also
//! when the bench fails.
//!
//! A first logferry run over the empty table puts its checkpoint at the end
//! of the binlog; then the backlog is written between two `SHOW MASTER
//! STATUS` positions: `--rows` inserts (in transactions of `--tx-rows`,
//! 0 = one, from MariaDB's `seq_<a>_to_<b>` SEQUENCE tables), then
//! `--updates` updates and `--deletes` deletes of the first rows, one
//! transaction each. The binlog bytes between the two positions (over as
//! many binlog files as the backlog spans) give the MB/s.
//!
//! Readers, one after another:
//! - `mariadb-binlog` (`--compare`; `mysqlbinlog` when it is absent):
//!   `--read-from-remote-server -v --base64-output=decode-rows` from the
//!   start position in the first file to the end position in the last, every
//!   binlog file in between named on its command line, output to /dev/null;
//!   the password goes in a 0600 option file, not on its command line;
//! - logferry (`run --once` in this process): its mysql source (a `server_id`
//!   of its own per run) into the target (`postgres`: `<prefix>_mdst`;
//!   `file`: protobuf in a temp dir); a PostgreSQL target is checked equal to
//!   the source afterwards (row count and an order-independent digest of
//!   every row, each value in one text form on both sides), and the bench
//!   fails if it is not.
//!
//! Peak RSS is this process's high-water mark, reset just before logferry
//! starts (`/proc/self/clear_refs`); CPU seconds are this process's user +
//! system time during the run (the database servers' CPU is not counted);
//! stage seconds are the pipeline's own (source waiting on a full pipeline,
//! route, apply summed over lanes) plus read+decode ≈ wall − source waiting,
//! an estimate that also counts connecting and the drain. On a server other
//! clients write to, their binlog events are read too and counted in the
//! bytes. No timing is asserted anywhere: the figures are printed, nothing
//! more.

use super::{connect, cpu_seconds, describe, fail, peak_rss_kib, run_logferry, with_db, BenchArgs, WorkDir};
use crate::pipeline::{PipelineStats, StageTimes};
use crate::cli::CliError;
use crate::tls::mysql::MysqlEndpoint;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokio_postgres::Client;

/// The widest `note` column that fits MariaDB's 64 KiB row limit in utf8mb4.
const MAX_WIDTH: usize = 16_000;

/// Runs the MariaDB bench; prints the result.
pub(super) async fn run(args: &BenchArgs) -> Result<(), CliError> {
    // --rows, --lanes, --batch and --prefix are checked by the caller.
    let Some(my_url) = args.mariadb_url.as_deref() else {
        return Err(CliError::Usage(
            "bench: --source mariadb needs --mariadb-url or LOGFERRY_BENCH_MARIADB_URL (a root URL of a MariaDB/MySQL server with log_bin on and \
             binlog_format = ROW, like mysql://root:password@127.0.0.1:3306)"
                .into(),
        ));
    };
    let pg_url = match (args.target.as_str(), args.pg_url.as_deref()) {
        ("postgres", None) => {
            return Err(CliError::Usage(
                "bench: --target postgres needs --pg-url or LOGFERRY_BENCH_PG_URL (a PostgreSQL superuser URL to create the target database on); \
                 or use --target file"
                    .into(),
            ))
        }
        ("postgres", Some(url)) => Some(url),
        _ => None,
    };
    if args.width > MAX_WIDTH {
        return Err(CliError::Usage(format!(
            "bench: --width is at most {MAX_WIDTH} with --source mariadb (a VARCHAR must fit MariaDB's 64 KiB row)"
        )));
    }
    let my = endpoint(my_url)?;
    let mut admin = my_connect(&my).await?;
    check_server(&mut admin).await?;
    let pg_admin = match pg_url {
        Some(url) => Some(connect(url).await?),
        None => None,
    };
    let mut reports = Vec::new();
    for _ in 0..args.repeat {
        cleanup(&mut admin, pg_admin.as_ref(), &args.prefix).await?;
        let result = bench(args, my_url, &my, &mut admin, pg_url.zip(pg_admin.as_ref())).await;
        // Dropped also when the bench failed; its own error comes first.
        let cleaned = cleanup(&mut admin, pg_admin.as_ref(), &args.prefix).await;
        reports.push(result?);
        cleaned?;
    }
    let _ = admin.disconnect().await;
    match reports.as_slice() {
        [one] => one.print(args),
        many => {
            let rounds: Vec<super::repeat::Round> = many
                .iter()
                .map(|r| super::repeat::Round {
                    readers: r.figures.iter().map(|f| (f.name.clone(), f.seconds)).collect(),
                    changes: r.changes,
                    cpu_s: r.cpu,
                    rss_kib: r.rss_kib,
                })
                .collect();
            super::repeat::print(args, &rounds);
        }
    }
    Ok(())
}

/// A binlog position (`SHOW MASTER STATUS`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct BinlogPos {
    file: String,
    pos: u64,
}

impl std::fmt::Display for BinlogPos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

/// One reader's figures.
#[derive(Debug, Clone)]
struct Figure {
    name: String,
    seconds: f64,
}

/// Everything the bench measured.
#[derive(Debug)]
struct Report {
    changes: u64,
    tx_rows: u64,
    start: BinlogPos,
    end: BinlogPos,
    binlog_files: usize,
    binlog_bytes: u64,
    /// The binlog reader used for `--compare` (`mariadb-binlog` or `mysqlbinlog`).
    tool: Option<String>,
    figures: Vec<Figure>,
    lf_seconds: f64,
    cpu: f64,
    rss_kib: u64,
    stages: StageTimes,
    /// Records the timed run received and applied.
    counts: (u64, u64),
    verified: bool,
}

/// The body between the two cleanups.
/// `pg`: `--pg-url` and a connection to it, with `--target postgres`.
async fn bench(
    args: &BenchArgs,
    my_url: &str,
    my: &MysqlEndpoint,
    admin: &mut Conn,
    pg: Option<(&str, &Client)>,
) -> Result<Report, CliError> {
    let p = &args.prefix;
    let (src, dst) = (format!("{p}_src"), format!("{p}_mdst"));
    admin
        .query_drop(format!(
            "CREATE DATABASE {src} CHARACTER SET utf8mb4; USE {src}; CREATE TABLE items (id BIGINT PRIMARY KEY, qty INT NOT NULL, \
             price DECIMAL(12,2) NOT NULL, note VARCHAR({w}), updated_at DATETIME(6) NOT NULL)",
            w = args.width
        ))
        .await
        .map_err(|e| fail("creating the source table on --mariadb-url", e))?;
    let has_sequence: Option<u64> = admin.query_first("SELECT COUNT(*) FROM seq_1_to_1").await.ok().flatten();
    if has_sequence != Some(1) {
        return Err(CliError::Bench(
            "the server at --mariadb-url has no SEQUENCE engine (seq_1_to_N tables, MariaDB 10.0+), which writes the backlog".into(),
        ));
    }
    let pg_url = pg.map(|(url, _)| url);
    if let Some((_, pg)) = pg {
        pg.batch_execute(&format!("CREATE DATABASE {dst}")).await.map_err(|e| fail("creating the target database", describe(e)))?;
    }

    let work = WorkDir::new(p)?;
    let config = pipeline_config(args, work.path(), &with_db(my_url, &src), pg_url.map(|u| with_db(u, &dst)).as_deref());
    // An empty copy: logferry's checkpoint now sits at the end of the binlog.
    run_logferry(&config, work.path(), Default::default()).await?;

    // The backlog.
    let start = master_status(admin).await?;
    let tx_rows = if args.tx_rows == 0 { args.rows } else { args.tx_rows.min(args.rows) };
    let mut first = 1u64;
    while first <= args.rows {
        let last = (first + tx_rows - 1).min(args.rows);
        admin
            .query_drop(format!(
                "INSERT INTO items SELECT seq, seq % 100, (seq % 10000) / 100, RPAD(CONCAT('note ', seq), {w}, '.'), \
                 TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND FROM seq_{first}_to_{last}",
                w = args.width
            ))
            .await
            .map_err(|e| fail("writing the backlog", e))?;
        first = last + 1;
    }
    if args.updates > 0 {
        admin
            .query_drop(format!("UPDATE items SET qty = qty + 1, updated_at = updated_at + INTERVAL 1 DAY WHERE id <= {}", args.updates))
            .await
            .map_err(|e| fail("writing the backlog", e))?;
    }
    if args.deletes > 0 {
        admin.query_drop(format!("DELETE FROM items WHERE id <= {}", args.deletes)).await.map_err(|e| fail("writing the backlog", e))?;
    }
    let end = master_status(admin).await?;
    let logs: Vec<(String, u64)> = admin
        .query::<mysql_async::Row, _>("SHOW BINARY LOGS")
        .await
        .map_err(|e| fail("SHOW BINARY LOGS", e))?
        .into_iter()
        .map(|r| (r.get::<String, _>(0).unwrap_or_default(), r.get::<u64, _>(1).unwrap_or_default()))
        .collect();
    let (files, binlog_bytes) = span(&logs, &start, &end)?;
    let changes = args.rows + args.updates.min(args.rows) + args.deletes.min(args.rows);

    let mut figures = Vec::new();
    let mut tool = None;
    if args.compare {
        match binlog_program() {
            None => eprintln!("bench: neither mariadb-binlog nor mysqlbinlog is on PATH; its figure is left out"),
            Some(prog) => {
                let name = prog.file_name().map_or_else(|| "mariadb-binlog".into(), |n| n.to_string_lossy().into_owned());
                let seconds = read_with_tool(&prog, my.opts(), work.path(), &start, &end, &files).await?;
                figures.push(Figure { name: format!("{name} -v (decode rows)"), seconds });
                tool = Some(name);
            }
        }
    }

    // logferry.
    let stats = Arc::new(PipelineStats::new("bench"));
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    run_logferry(&config, work.path(), stats.clone()).await?;
    let lf_seconds = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let rss_kib = peak_rss_kib();
    figures.push(Figure { name: "logferry run --once".into(), seconds: lf_seconds });

    let verified = match pg_url {
        Some(url) => {
            let want: String = admin
                .query_first(MARIADB_DIGEST)
                .await
                .map_err(|e| fail("checking the target (source digest)", e))?
                .unwrap_or_default();
            let target = connect(&with_db(url, &dst)).await?;
            let got: String = target
                .query_one(PG_DIGEST, &[])
                .await
                .map_err(|e| fail("checking the target (target digest)", describe(e)))?
                .get(0);
            if want != got {
                return Err(CliError::Bench(format!(
                    "the target differs from the source after the run (rows:digest: source {want}, target {got})"
                )));
            }
            true
        }
        None => false,
    };

    Ok(Report {
        changes,
        tx_rows,
        start,
        end,
        binlog_files: files.len(),
        binlog_bytes,
        tool,
        figures,
        lf_seconds,
        cpu,
        rss_kib,
        stages: stats.stages(),
        counts: stats.counts(),
        verified,
    })
}

/// Row count and the sum of the first 60 bits of each row's MD5, over one
/// text form per value: `id|qty|price|note|YYYY-MM-DD HH:MM:SS.ffffff`
/// (DECIMAL(12,2) and numeric(12,2) both print two decimals; the
/// timestamps are formatted explicitly). Sums are exact on both sides
/// (DECIMAL, numeric).
const MARIADB_DIGEST: &str = "SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(CAST(CONV(SUBSTR(MD5(CONCAT_WS('|', id, qty, price, \
     COALESCE(note, ''), DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f'))), 1, 15), 16, 10) AS UNSIGNED)), '')) FROM items";
const PG_DIGEST: &str = "SELECT count(*)::text || ':' || coalesce(sum(('x' || substr(md5(concat_ws('|', id, qty, price, \
     coalesce(note, ''), to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US'))), 1, 15))::bit(60)::bigint)::text, '') FROM public.items";

impl Report {
    fn print(&self, args: &BenchArgs) {
        let changes = self.changes;
        let mb = self.binlog_bytes as f64 / 1e6;
        let tool_seconds = self.tool.as_ref().and_then(|_| self.figures.first().map(|f| f.seconds));
        // logferry's rows/s over the tool's rows/s.
        let ratio = tool_seconds.map(|t| t / self.lf_seconds);
        let StageTimes { source_blocked_s, route_s, apply_s } = self.stages;
        // An estimate: it also counts connecting and the drain after the last read.
        let read_decode_s = (self.lf_seconds - source_blocked_s).max(0.0);
        if args.json {
            let mut readers = String::new();
            for (i, f) in self.figures.iter().enumerate() {
                readers.push_str(&format!(
                    "{}{{\"reader\":{},\"seconds\":{},\"rows_per_s\":{},\"binlog_mb_per_s\":{}}}",
                    if i > 0 { "," } else { "" },
                    toml_str(&f.name),
                    num(f.seconds, 3),
                    num(changes as f64 / f.seconds, 0),
                    num(mb / f.seconds, 2)
                ));
            }
            let ratio = ratio.map_or("null".to_string(), |v| num(v, 3));
            println!(
                "{{\"changes\":{changes},\"binlog_bytes\":{},\"binlog_files\":{},\"target\":\"{}\",\"lanes\":{},\"batch\":{},\"spool\":{},\
                 \"readers\":[{readers}],\"logferry_peak_rss_kib\":{},\"logferry_cpu_seconds\":{},\"logferry_cpu_us_per_change\":{},\"logferry_records\":{},\
                 \"logferry_stages\":{{\"source_waiting_s\":{},\"route_s\":{},\"apply_s_summed_over_lanes\":{},\"read_decode_s_estimate\":{}}},\
                 \"target_verified\":{},\"ratio_vs_mariadb_binlog\":{ratio}}}",
                self.binlog_bytes,
                self.binlog_files,
                args.target,
                args.lanes,
                args.batch,
                args.spool,
                self.rss_kib,
                num(self.cpu, 3),
                num(self.cpu * 1e6 / changes.max(1) as f64, 2),
                self.counts.0,
                num(source_blocked_s, 3),
                num(route_s, 3),
                num(apply_s, 3),
                num(read_decode_s, 3),
                self.verified,
            );
        } else {
            println!(
                "backlog: {changes} changes ({} inserts in transactions of {}, {} updates, {} deletes), {mb:.1} MB of binlog \
                 ({} to {}, {} file(s)); logferry -> {} with {} lane(s), batches of {}{}",
                args.rows,
                self.tx_rows,
                args.updates,
                args.deletes,
                self.start,
                self.end,
                self.binlog_files,
                args.target,
                args.lanes,
                args.batch,
                if args.spool { ", through the spool" } else { "" }
            );
            println!("{:<36} {:>9} {:>12} {:>12}", "reader", "seconds", "rows/s", "binlog MB/s");
            for f in &self.figures {
                println!("{:<36} {:>9.2} {:>12.0} {:>12.2}", f.name, f.seconds, changes as f64 / f.seconds, mb / f.seconds);
            }
            println!(
                "logferry: peak RSS {:.1} MiB, {:.2} CPU s (this process), {:.2} µs per change{}",
                self.rss_kib as f64 / 1024.0,
                self.cpu,
                self.cpu * 1e6 / changes.max(1) as f64,
                if self.verified { "; target checked equal to the source" } else { "" }
            );
            println!(
                "logferry stages: source waiting {source_blocked_s:.2} s, route {route_s:.2} s, apply {apply_s:.2} s (summed over lanes), \
                 read+decode ≈ {read_decode_s:.2} s (wall − source waiting)"
            );
            if let (Some(r), Some(tool)) = (ratio, &self.tool) {
                println!("logferry vs {tool}: {r:.2}x the rows/s");
            }
        }
    }
}

/// Connection options for `--mariadb-url` (its TLS parameters honoured).
fn endpoint(url: &str) -> Result<MysqlEndpoint, CliError> {
    let (url, tls) = crate::tls::mysql::from_url(url).map_err(|m| CliError::Usage(format!("bench: --mariadb-url: {m}")))?;
    let opts = Opts::from_url(&url).map_err(|e| {
        CliError::Usage(format!("bench: --mariadb-url is not a MySQL URL ({e}); expected mysql://root:password@host:port"))
    })?;
    // The URL's database (if any) is not used: the bench names its own.
    let opts = OptsBuilder::from_opts(opts).db_name(None::<String>).init(vec!["SET time_zone = '+00:00'"]);
    Ok(MysqlEndpoint::new(opts.into(), tls))
}

async fn my_connect(my: &MysqlEndpoint) -> Result<Conn, CliError> {
    my.connect().await.map_err(|e| fail("connecting to --mariadb-url", e.to_string()))
}

/// The binary log is on, in ROW format with full row images.
async fn check_server(conn: &mut Conn) -> Result<(), CliError> {
    let (log_bin, format, image): (Option<String>, Option<String>, Option<String>) = conn
        .query_first("SELECT @@log_bin, @@binlog_format, @@binlog_row_image")
        .await
        .map_err(|e| fail("reading the server settings of --mariadb-url", e))?
        .unwrap_or_default();
    if log_bin.as_deref() != Some("1") {
        return Err(CliError::Bench(
            "the server at --mariadb-url has log_bin OFF; the bench needs the binary log: start the server with \
             log_bin (e.g. log_bin = mariadb-bin and server_id = 1 in my.cnf)"
                .into(),
        ));
    }
    let format = format.unwrap_or_default();
    if !format.eq_ignore_ascii_case("ROW") {
        return Err(CliError::Bench(format!(
            "the server at --mariadb-url has binlog_format = {format}; the bench needs ROW: SET GLOBAL binlog_format = 'ROW'; \
             (and binlog_format = ROW in my.cnf)"
        )));
    }
    let image = image.unwrap_or_default();
    if !image.eq_ignore_ascii_case("FULL") {
        return Err(CliError::Bench(format!(
            "the server at --mariadb-url has binlog_row_image = {image}; logferry needs FULL: SET GLOBAL binlog_row_image = 'FULL'; \
             (and in my.cnf)"
        )));
    }
    Ok(())
}

/// The end of the binlog now.
async fn master_status(conn: &mut Conn) -> Result<BinlogPos, CliError> {
    // MySQL 8.4 renamed the statement.
    let row: Option<mysql_async::Row> = match conn.query_first("SHOW MASTER STATUS").await {
        Ok(r) => r,
        Err(_) => conn.query_first("SHOW BINARY LOG STATUS").await.map_err(|e| fail("SHOW MASTER STATUS", e))?,
    };
    let row = row.ok_or_else(|| CliError::Bench("SHOW MASTER STATUS returned nothing: is log_bin on?".into()))?;
    match (row.get::<String, _>(0), row.get::<u64, _>(1)) {
        (Some(file), Some(pos)) => Ok(BinlogPos { file, pos }),
        _ => Err(CliError::Bench("SHOW MASTER STATUS returned no file and position".into())),
    }
}

/// The binlog files from `start` to `end` (as `SHOW BINARY LOGS` lists
/// them, oldest first) and the bytes between the two positions.
fn span(logs: &[(String, u64)], start: &BinlogPos, end: &BinlogPos) -> Result<(Vec<String>, u64), CliError> {
    let find = |file: &str| logs.iter().position(|(f, _)| f == file);
    let (Some(a), Some(b)) = (find(&start.file), find(&end.file)) else {
        return Err(CliError::Bench(format!(
            "the binlog files of the backlog ({} to {}) are not all listed by SHOW BINARY LOGS (purged?)",
            start.file, end.file
        )));
    };
    if b < a || (a == b && end.pos < start.pos) {
        return Err(CliError::Bench(format!("the binlog went backwards during the bench ({start} to {end})")));
    }
    let files: Vec<String> = logs[a..=b].iter().map(|(f, _)| f.clone()).collect();
    let bytes = if a == b {
        end.pos - start.pos
    } else {
        let middle: u64 = logs[a + 1..b].iter().map(|(_, size)| size).sum();
        logs[a].1.saturating_sub(start.pos) + middle + end.pos
    };
    Ok((files, bytes))
}

/// `mariadb-binlog` on PATH, else `mysqlbinlog`.
fn binlog_program() -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    ["mariadb-binlog", "mysqlbinlog"].iter().find_map(|name| dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()))
}

/// Reads the backlog with the server's binlog reader, decoding rows, to
/// /dev/null; returns its wall time.
async fn read_with_tool(
    prog: &Path,
    opts: &Opts,
    work: &Path,
    start: &BinlogPos,
    end: &BinlogPos,
    files: &[String],
) -> Result<f64, CliError> {
    // The password in an option file only this user can read, rather than
    // on the command line where `ps` shows it.
    let cnf = work.join("binlog-client.cnf");
    let mut text = String::from("[client]\n");
    if let Some(pass) = opts.pass() {
        text.push_str(&format!("password={}\n", cnf_value(pass)));
    }
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&cnf)
            .map_err(|e| fail(&format!("writing {}", cnf.display()), e))?;
        f.write_all(text.as_bytes()).map_err(|e| fail(&format!("writing {}", cnf.display()), e))?;
    }
    let mut cmd = std::process::Command::new(prog);
    // --defaults-extra-file must come first.
    cmd.arg(format!("--defaults-extra-file={}", cnf.display()))
        .args(["--read-from-remote-server", "--protocol=TCP", "-h", opts.ip_or_hostname()])
        .arg(format!("--port={}", opts.tcp_port()));
    if let Some(user) = opts.user() {
        cmd.arg(format!("--user={user}"));
    }
    cmd.args(["-v", "--base64-output=decode-rows"])
        .arg(format!("--start-position={}", start.pos))
        .arg(format!("--stop-position={}", end.pos))
        // The start position applies to the first file named, the stop
        // position to the last: a backlog over several files names them all.
        .args(files)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let what = format!("running {}", prog.display());
    let t0 = Instant::now();
    let out = tokio::task::spawn_blocking(move || cmd.output()).await.map_err(|e| fail(&what, e))?.map_err(|e| fail(&what, e))?;
    let seconds = t0.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&cnf);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(CliError::Bench(format!("{} failed ({}): {}", prog.display(), out.status, stderr.trim())));
    }
    Ok(seconds)
}

/// A value for a MariaDB option file: double-quoted, with the escapes the
/// option-file reader undoes.
fn cnf_value(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON string literal, also a TOML basic string (JSON's escapes are TOML's).
fn toml_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// A JSON number, `null` when it is not finite.
fn num(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "null".to_string()
    }
}

/// A `server_id` for this run's binlog connections: unique among the
/// server's replicas in practice (pid and clock mixed, 3e9 to 4e9).
fn server_id() -> u32 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    3_000_000_000 + (std::process::id().wrapping_mul(2_654_435_761) ^ nanos) % 1_000_000_000
}

/// The pipeline's config text: the mysql source on `<prefix>_src.items`
/// into `dst_url` (PostgreSQL, schema public), a protobuf file, or the
/// discard target.
fn pipeline_config(args: &BenchArgs, work: &Path, src_url: &str, dst_url: Option<&str>) -> String {
    let target = match dst_url {
        Some(url) => format!("kind = \"postgres\"\nurl = {}\nschema = \"public\"", toml_str(url)),
        None if args.target == "discard" => "kind = \"discard\"".to_string(),
        None => format!("kind = \"file\"\npath = {}\nformat = \"protobuf\"", toml_str(&work.join("out.pb").display().to_string())),
    };
    format!(
        "state_dir = {state}\n[[pipeline]]\nname = \"bench\"\n[pipeline.source]\nkind = \"mysql\"\nurl = {src}\n\
         tables = [\"{p}_src.items\"]\nserver_id = {id}\n[[pipeline.target]]\n{target}\n[pipeline.apply]\nlanes = {lanes}\n\
         batch_max_rows = {batch}\n{extra}{spool}",
        extra = super::apply_extras(args),
        state = toml_str(&work.join("state").display().to_string()),
        src = toml_str(src_url),
        p = args.prefix,
        id = server_id(),
        lanes = args.lanes,
        batch = args.batch,
        spool = if args.spool { "[pipeline.spool]\n" } else { "" },
    )
}

/// Drops what a bench with this prefix left: `<prefix>_src` on MariaDB,
/// `<prefix>_mdst` on PostgreSQL.
async fn cleanup(my: &mut Conn, pg: Option<&Client>, p: &str) -> Result<(), CliError> {
    my.query_drop(format!("DROP DATABASE IF EXISTS {p}_src")).await.map_err(|e| fail("dropping the bench database on --mariadb-url", e))?;
    if let Some(pg) = pg {
        pg.batch_execute(&format!("DROP DATABASE IF EXISTS {p}_mdst WITH (FORCE)"))
            .await
            .map_err(|e| fail("dropping the bench database on --pg-url", describe(e)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_over_one_and_several_files() {
        let logs = vec![("b.000001".to_string(), 500), ("b.000002".to_string(), 1000), ("b.000003".to_string(), 800), ("b.000004".to_string(), 300)];
        let pos = |file: &str, pos| BinlogPos { file: file.into(), pos };
        assert_eq!(span(&logs, &pos("b.000002", 100), &pos("b.000002", 900)).unwrap(), (vec!["b.000002".to_string()], 800));
        assert_eq!(
            span(&logs, &pos("b.000002", 100), &pos("b.000004", 200)).unwrap(),
            (vec!["b.000002".to_string(), "b.000003".into(), "b.000004".into()], 900 + 800 + 200)
        );
        assert!(span(&logs, &pos("b.000009", 4), &pos("b.000004", 200)).is_err());
        assert!(span(&logs, &pos("b.000003", 4), &pos("b.000002", 200)).is_err());
    }

    #[test]
    fn option_file_values_and_toml_strings() {
        assert_eq!(cnf_value(r#"p"w\#x"#), r#""p\"w\\#x""#);
        assert_eq!(toml_str(r#"mysql://u:p"\@h/db"#), r#""mysql://u:p\"\\@h/db""#);
        assert!((3_000_000_000..=u32::MAX).contains(&server_id()));
    }
}
