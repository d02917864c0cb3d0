//! Steady mode (`--rate R --duration S`): logferry runs continuously while
//! the bench writes R rows/s into the source; commit-to-apply latency after
//! a 1 s warm-up. See the module docs of `bench`.

use super::report::{self, csv_line, latency_json, latency_text, num, stages_json, LfFigures};
use super::{connect, cpu_seconds, describe, fail, insert_sql, peak_rss_kib, run_logferry_with, svg, BenchArgs, Bench, Sampler};
use crate::pipeline::PipelineStats;
use crate::cli::CliError;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

/// One write transaction every TICK.
const TICK: Duration = Duration::from_millis(10);
/// Latencies of transactions applied in the first WARM_UP are discarded.
const WARM_UP: Duration = Duration::from_secs(1);
/// After the last write, logferry must have applied every row within this.
const CATCH_UP: Duration = Duration::from_secs(60);
/// How long logferry may take to start streaming, and to stop.
const START_STOP: Duration = Duration::from_secs(60);

/// What the writer did and how logferry kept up.
struct Steady {
    rows: u64,
    transactions: u64,
    write_s: f64,
    /// Records logferry applied per second between the end of the warm-up and catching up.
    applied_per_s: f64,
    /// From the last write until every row was applied.
    caught_up_s: f64,
    wal_bytes: i64,
}

/// Runs steady mode; prints the result.
pub(super) async fn run(args: &BenchArgs, pg_url: &str) -> Result<(), CliError> {
    let (rate, duration) = (args.rate.unwrap_or(1), args.duration.unwrap_or(2));
    let bench = Bench::prepare(args, pg_url, args.lanes, args.batch).await?;
    let stats = Arc::new(PipelineStats::new("bench"));
    let (stop_tx, stop_rx) = watch::channel(false);
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let cpu0 = cpu_seconds();
    let sampler = Sampler::start(stats.clone());
    let t0 = Instant::now();
    let mut pipeline = {
        let (config, work, stats) = (bench.config.clone(), bench.work.path().to_path_buf(), stats.clone());
        tokio::spawn(async move { run_logferry_with(&config, &work, stats, false, stop_rx).await })
    };
    let steady = drive(&bench, &stats, &mut pipeline, rate, duration, args.width).await;
    let latency_and_stages = (stats.latency(), stats.stages());
    let _ = stop_tx.send(true);
    let stopped = tokio::time::timeout(START_STOP, &mut pipeline).await;
    let seconds = t0.elapsed().as_secs_f64();
    let samples = sampler.finish().await;
    let steady = steady?;
    match stopped {
        Err(_) => return Err(CliError::Bench(format!("logferry did not stop within {} s of the shutdown signal", START_STOP.as_secs()))),
        Ok(Err(e)) => return Err(CliError::Internal(format!("the bench pipeline task failed: {e}"))),
        Ok(Ok(result)) => result?,
    }
    let mut lf = LfFigures::new(&stats, seconds, cpu_seconds() - cpu0, peak_rss_kib(), samples);
    // As they were when logferry had caught up (the shutdown adds nothing to them).
    (lf.latency, lf.stages) = latency_and_stages;
    let verified = bench.verify().await?;
    bench.finish().await?;

    if let Some(path) = &args.svg {
        svg::write(path, &svg::render(&title(args, rate, duration), &lf.samples, &lf.latency))?;
    }
    print(args, rate, duration, &steady, &lf, verified);
    Ok(())
}

fn title(args: &BenchArgs, rate: u64, duration: u64) -> String {
    format!(
        "logferry bench, steady: {rate} rows/s for {duration} s (1 s warm-up), {} target, {} lane(s), batches of {}, {} table(s), {} index(es)",
        args.target, args.lanes, args.batch, args.tables, args.indexes
    )
}

/// Waits until logferry streams, writes `rate` rows/s for `duration` s,
/// resets the latencies after the warm-up, and waits until every row is
/// applied. Fails if the pipeline stops on its own.
async fn drive(
    bench: &Bench,
    stats: &PipelineStats,
    pipeline: &mut tokio::task::JoinHandle<Result<(), CliError>>,
    rate: u64,
    duration: u64,
    width: usize,
) -> Result<Steady, CliError> {
    // logferry's slot is active once its source streams.
    let deadline = Instant::now() + START_STOP;
    loop {
        let active: bool = bench
            .admin
            .query_one(
                "SELECT coalesce((SELECT active FROM pg_replication_slots WHERE slot_name = $1), false)",
                &[&format!("{}_lf", bench.prefix)],
            )
            .await
            .map_err(|e| fail("watching logferry's slot", describe(e)))?
            .get(0);
        if active {
            break;
        }
        if pipeline.is_finished() {
            return Err(ended(pipeline).await);
        }
        if Instant::now() > deadline {
            return Err(CliError::Bench(format!("logferry did not start streaming within {} s", START_STOP.as_secs())));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // For the catch-up check, connected before the clock starts.
    let dst = if bench.target == "postgres" { Some(connect(&bench.dst_url).await?) } else { None };
    let start_lsn: String = bench.source.query_one("SELECT pg_current_wal_lsn()::text", &[]).await.map_err(|e| fail("reading the WAL position", describe(e)))?.get(0);
    let total = rate * duration;
    let mut tick = tokio::time::interval(TICK);
    // A late tick writes the rows due by then in one transaction (Delay),
    // rather than a burst of catch-up transactions (Burst).
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let t0 = Instant::now();
    let (mut written, mut transactions) = (0u64, 0u64);
    let mut warm: Option<(Instant, u64)> = None;
    while written < total {
        tick.tick().await;
        let elapsed = t0.elapsed();
        if warm.is_none() && elapsed >= WARM_UP {
            stats.reset_latency();
            warm = Some((Instant::now(), stats.counts().1));
        }
        let due = ((rate as u128 * elapsed.as_micros()) / 1_000_000).min(total as u128) as u64;
        if due > written {
            bench.source.batch_execute(&insert_sql(&bench.tables, written + 1, due, width)).await.map_err(|e| fail("writing rows", describe(e)))?;
            written = due;
            transactions += 1;
        }
        if pipeline.is_finished() {
            return Err(ended(pipeline).await);
        }
    }
    let write_s = t0.elapsed().as_secs_f64();
    let last_write = Instant::now();
    let wal_bytes: i64 = bench
        .source
        .query_one("SELECT (pg_current_wal_lsn() - $1::text::pg_lsn)::bigint", &[&start_lsn])
        .await
        .map_err(|e| fail("reading the WAL position", describe(e)))?
        .get(0);

    // Caught up: the applied count covers every row (it also counts a
    // schema record per table), then, for a PostgreSQL target, every row
    // is there.
    let deadline = last_write + CATCH_UP;
    loop {
        let applied_all = stats.counts().1 >= total;
        let present = match (&dst, applied_all) {
            (Some(dst), true) => bench.target_rows(dst).await? >= total as i64,
            (None, true) => true,
            (_, false) => false,
        };
        if present {
            break;
        }
        if pipeline.is_finished() {
            return Err(ended(pipeline).await);
        }
        if Instant::now() > deadline {
            return Err(CliError::Bench(format!(
                "logferry had not applied the {total} rows written within {} s of the last write ({} records applied)",
                CATCH_UP.as_secs(),
                stats.counts().1
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let caught_up_s = last_write.elapsed().as_secs_f64();
    let (warm_at, warm_applied) = warm.unwrap_or((t0, 0));
    let applied_per_s = stats.counts().1.saturating_sub(warm_applied) as f64 / warm_at.elapsed().as_secs_f64();
    Ok(Steady { rows: written, transactions, write_s, applied_per_s, caught_up_s, wal_bytes })
}

/// The error of a pipeline that stopped before it was told to.
async fn ended(pipeline: &mut tokio::task::JoinHandle<Result<(), CliError>>) -> CliError {
    match pipeline.await {
        Ok(Err(e)) => e,
        Ok(Ok(())) => CliError::Bench("logferry stopped before the bench told it to".into()),
        Err(e) => CliError::Internal(format!("the bench pipeline task failed: {e}")),
    }
}

/// Columns of steady mode's `--csv`.
const STEADY_CSV: [&str; 28] = [
    "rate",
    "duration_s",
    "rows_written",
    "transactions",
    "write_seconds",
    "achieved_rows_per_s",
    "applied_rows_per_s",
    "peak_rows_per_s_1s",
    "caught_up_after_s",
    "wal_bytes",
    "latency_count",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "source_waiting_s",
    "route_s",
    "apply_s_summed_over_lanes",
    "read_decode_s_estimate",
    "target",
    "lanes",
    "batch",
    "tables",
    "indexes",
    "target_verified",
    "peak_rss_kib",
    "cpu_s",
];

fn print(args: &BenchArgs, rate: u64, duration: u64, s: &Steady, lf: &LfFigures, verified: bool) {
    let achieved = s.rows as f64 / s.write_s;
    let peak = lf.peak_1s();
    let l = &lf.latency;
    if args.json {
        println!(
            "{{\"mode\":\"steady\",\"rate\":{rate},\"duration_s\":{duration},\"warm_up_s\":{},\"tick_ms\":{},\"rows_written\":{},\"transactions\":{},\"write_seconds\":{},\
             \"achieved_rows_per_s\":{},\"applied_rows_per_s\":{},\"peak_rows_per_s_1s\":{},\"caught_up_after_s\":{},\"wal_bytes\":{},\"latency\":{},\"stages\":{},\
             {},\"target_verified\":{verified}}}",
            WARM_UP.as_secs(),
            TICK.as_millis(),
            s.rows,
            s.transactions,
            num(s.write_s, 3),
            num(achieved, 0),
            num(s.applied_per_s, 0),
            peak.map_or("null".to_string(), |p| num(p, 0)),
            num(s.caught_up_s, 3),
            s.wal_bytes,
            latency_json(l),
            stages_json(lf),
            report::run_json_fields(args, lf),
        );
    } else if args.csv {
        println!("{}", csv_line(&STEADY_CSV));
        let f3 = |v: f64| format!("{v:.3}");
        println!(
            "{}",
            csv_line(&[
                rate.to_string(),
                duration.to_string(),
                s.rows.to_string(),
                s.transactions.to_string(),
                f3(s.write_s),
                format!("{achieved:.0}"),
                format!("{:.0}", s.applied_per_s),
                peak.map_or(String::new(), |p| format!("{p:.0}")),
                f3(s.caught_up_s),
                s.wal_bytes.to_string(),
                l.count.to_string(),
                f3(l.mean_ms),
                f3(l.p50_ms),
                f3(l.p95_ms),
                f3(l.p99_ms),
                f3(l.max_ms),
                f3(lf.stages.source_blocked_s),
                f3(lf.stages.route_s),
                f3(lf.stages.apply_s),
                f3(lf.read_decode_s()),
                args.target.clone(),
                args.lanes.to_string(),
                args.batch.to_string(),
                args.tables.to_string(),
                args.indexes.to_string(),
                verified.to_string(),
                lf.rss_kib.to_string(),
                f3(lf.cpu_s),
            ])
        );
    } else {
        println!(
            "steady: {rate} rows/s for {duration} s into {} table(s), one transaction every {} ms ({:.1} rows each when on time); logferry -> {} with {} lane(s), batches of {}{}, {} secondary index(es) per target table",
            args.tables,
            TICK.as_millis(),
            rate as f64 / 100.0,
            args.target,
            args.lanes,
            args.batch,
            if args.spool { ", through the spool" } else { "" },
            args.indexes
        );
        println!(
            "writer: {} rows in {} transactions over {:.2} s = {achieved:.0} rows/s achieved; {:.1} MB of WAL",
            s.rows,
            s.transactions,
            s.write_s,
            s.wal_bytes as f64 / 1e6
        );
        println!(
            "logferry: {:.0} rows/s applied after the warm-up, {}; caught up {:.3} s after the last write",
            s.applied_per_s,
            report::peak_text(lf),
            s.caught_up_s
        );
        println!("logferry: commit-to-apply latency per source transaction, after a {} s warm-up: {}", WARM_UP.as_secs(), latency_text(l));
        report::print_stages(lf, s.rows, s.wal_bytes as f64 / 1e6, args.lanes, "(estimate: here mostly the source idle, waiting for the writer)");
        println!(
            "logferry: peak RSS {:.1} MiB, {:.2} CPU s (this process, the bench's writer included){}",
            lf.rss_kib as f64 / 1024.0,
            lf.cpu_s,
            if verified { "; target checked equal to the source" } else { "" }
        );
        if let Some(p) = &args.svg {
            println!("chart: {}", p.display());
        }
    }
}
