//! The bench's figures as a table, one JSON object, or CSV; the pieces
//! the steady and sweep modes share.

use super::{BenchArgs, Backlog, Figure};
use crate::pipeline::{LatencySummary, PipelineStats, StageTimes};

/// logferry's figures from one timed run.
pub(super) struct LfFigures {
    /// Wall seconds of the run.
    pub(super) seconds: f64,
    /// This process's CPU seconds during the run.
    pub(super) cpu_s: f64,
    /// This process's peak RSS (KiB) since just before the run.
    pub(super) rss_kib: u64,
    pub(super) stages: StageTimes,
    pub(super) latency: LatencySummary,
    /// `(seconds since start, records applied)` every 100 ms.
    pub(super) samples: Vec<(f64, u64)>,
}

impl LfFigures {
    pub(super) fn new(stats: &PipelineStats, seconds: f64, cpu_s: f64, rss_kib: u64, samples: Vec<(f64, u64)>) -> Self {
        LfFigures { seconds, cpu_s, rss_kib, stages: stats.stages(), latency: stats.latency(), samples }
    }

    /// Read+decode seconds, estimated as wall − source waiting: it also
    /// counts connecting and the drain after the last read.
    pub(super) fn read_decode_s(&self) -> f64 {
        (self.seconds - self.stages.source_blocked_s).max(0.0)
    }

    /// Highest applied rows/s over a full second of samples (`None` for a
    /// run shorter than a second).
    pub(super) fn peak_1s(&self) -> Option<f64> {
        rates(&self.samples).into_iter().filter(|r| r.2).map(|r| r.1).reduce(f64::max)
    }
}

/// Applied rows/s at each sample over the trailing second:
/// `(seconds, rows/s, whether the window was a full second)`. Near the
/// start the window is what there is.
pub(super) fn rates(samples: &[(f64, u64)]) -> Vec<(f64, f64, bool)> {
    let mut out = Vec::with_capacity(samples.len());
    for (i, &(t, applied)) in samples.iter().enumerate().skip(1) {
        let full = samples[..i].iter().rposition(|s| s.0 <= t - 1.0 + 1e-6);
        let (t0, a0) = samples[full.unwrap_or(0)];
        if t > t0 {
            out.push((t, applied.saturating_sub(a0) as f64 / (t - t0), full.is_some()));
        }
    }
    out
}

/// A JSON number, `null` when it is not finite.
pub(super) fn num(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "null".to_string()
    }
}

/// A JSON string literal.
pub(super) fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    crate::record::json::push_json_string(&mut out, s);
    out
}

/// One CSV line; fields with a comma, quote or line break are quoted.
pub(super) fn csv_line<S: AsRef<str>>(fields: &[S]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            let f = f.as_ref();
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.to_string()
            }
        })
        .collect();
    quoted.join(",")
}

/// `{"count":…,"mean_ms":…,"p50_ms":…,"p95_ms":…,"p99_ms":…,"max_ms":…}`.
pub(super) fn latency_json(l: &LatencySummary) -> String {
    format!(
        "{{\"count\":{},\"mean_ms\":{},\"p50_ms\":{},\"p95_ms\":{},\"p99_ms\":{},\"max_ms\":{}}}",
        l.count,
        num(l.mean_ms, 3),
        num(l.p50_ms, 3),
        num(l.p95_ms, 3),
        num(l.p99_ms, 3),
        num(l.max_ms, 3)
    )
}

/// `{"source_waiting_s":…,"route_s":…,"apply_s_summed_over_lanes":…,"read_decode_s_estimate":…}`.
/// The run's settings and logferry's own figures, as JSON fields (no braces):
/// the part the backlog and steady objects share.
pub(super) fn run_json_fields(args: &BenchArgs, lf: &LfFigures) -> String {
    format!(
        "\"target\":{},\"lanes\":{},\"batch\":{},\"tables\":{},\"indexes\":{},\"spool\":{},\"rules\":{},\"logferry_peak_rss_kib\":{},\"logferry_cpu_seconds\":{},\"svg\":{}",
        json_str(&args.target),
        args.lanes,
        args.batch,
        args.tables,
        args.indexes,
        args.spool,
        args.rules,
        lf.rss_kib,
        num(lf.cpu_s, 3),
        args.svg.as_ref().map_or("null".to_string(), |p| json_str(&p.display().to_string()))
    )
}

pub(super) fn stages_json(f: &LfFigures) -> String {
    format!(
        "{{\"source_waiting_s\":{},\"route_s\":{},\"apply_s_summed_over_lanes\":{},\"read_decode_s_estimate\":{}}}",
        num(f.stages.source_blocked_s, 3),
        num(f.stages.route_s, 3),
        num(f.stages.apply_s, 3),
        num(f.read_decode_s(), 3)
    )
}

/// The latency line of the table.
pub(super) fn latency_text(l: &LatencySummary) -> String {
    if l.count == 0 {
        return "no transactions measured".to_string();
    }
    format!(
        "{} transaction(s), p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms (mean {:.1} ms)",
        l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms, l.mean_ms
    )
}

/// The stage lines of the table: seconds, and rows/s and WAL MB/s per
/// second spent in the stage.
pub(super) fn print_stages(f: &LfFigures, rows: u64, wal_mb: f64, lanes: usize, read_note: &str) {
    println!("logferry stages (seconds; rows/s and WAL MB/s per second spent in the stage):");
    let line = |name: &str, s: f64, note: &str| {
        if s > 0.0 {
            println!("  {name:<44} {s:>8.2} s {:>11.0} rows/s {:>8.2} MB/s  {note}", rows as f64 / s, wal_mb / s);
        } else {
            println!("  {name:<44} {s:>8.2} s  {note}");
        }
    };
    line("read+decode ≈ wall − source waiting", f.read_decode_s(), read_note);
    println!("  {:<44} {:>8.2} s  (the source blocked on a full pipeline)", "source waiting for room (backpressure)", f.stages.source_blocked_s);
    line("route (coordinator)", f.stages.route_s, "");
    line(&format!("apply (target, summed over {lanes} lane(s))"), f.stages.apply_s, "(per lane-second)");
}

/// The peak line of the table.
pub(super) fn peak_text(f: &LfFigures) -> String {
    match f.peak_1s() {
        Some(p) => format!("peak {p:.0} rows/s applied over 1 s (sampled every 100 ms)"),
        None => "peak rows/s over 1 s: n/a (the run took less than a second)".to_string(),
    }
}

/// Columns of the backlog mode's `--csv`.
const BACKLOG_CSV: [&str; 24] = [
    "reader",
    "seconds",
    "rows_per_s",
    "wal_mb_per_s",
    "changes",
    "wal_bytes",
    "target",
    "lanes",
    "batch",
    "tables",
    "indexes",
    "target_verified",
    "peak_rows_per_s_1s",
    "source_waiting_s",
    "route_s",
    "apply_s_summed_over_lanes",
    "read_decode_s_estimate",
    "latency_count",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "peak_rss_kib",
    "cpu_s",
];

/// Prints a backlog run's figures as `--json`, `--csv` or the table.
pub(super) fn print_backlog(args: &BenchArgs, backlog: &Backlog, figures: &[Figure], lf: &LfFigures, verified: bool) {
    let changes = backlog.changes;
    let mb = backlog.wal_bytes as f64 / 1e6;
    let seconds = |name: &str| figures.iter().find(|f| f.name.starts_with(name)).map(|f| f.seconds);
    let ratio_native = seconds("native").map(|n| n / lf.seconds);
    let ratio_recv = seconds("pg_recvlogical").map(|r| lf.seconds / r);
    let peak = lf.peak_1s();
    if args.json {
        let mut readers = String::new();
        for (i, f) in figures.iter().enumerate() {
            readers.push_str(&format!(
                "{}{{\"reader\":{},\"seconds\":{},\"rows_per_s\":{},\"wal_mb_per_s\":{}}}",
                if i > 0 { "," } else { "" },
                json_str(f.name),
                num(f.seconds, 3),
                num(changes as f64 / f.seconds, 0),
                num(mb / f.seconds, 2)
            ));
        }
        let opt = |v: Option<f64>, d: usize| v.map_or("null".to_string(), |v| num(v, d));
        println!(
            "{{\"changes\":{changes},\"wal_bytes\":{},{},\"logferry_cpu_us_per_change\":{},\"readers\":[{readers}],\"logferry_peak_rows_per_s_1s\":{},\"logferry_stages\":{},\
             \"logferry_latency\":{},\"target_verified\":{verified},\"ratio_vs_native_subscription\":{},\"time_ratio_vs_pg_recvlogical\":{}}}",
            backlog.wal_bytes,
            run_json_fields(args, lf),
            num(lf.cpu_s * 1e6 / changes.max(1) as f64, 2),
            opt(peak, 0),
            stages_json(lf),
            latency_json(&lf.latency),
            opt(ratio_native, 3),
            opt(ratio_recv, 3),
        );
    } else if args.csv {
        println!("{}", csv_line(&BACKLOG_CSV));
        for f in figures {
            let mut line = vec![
                f.name.to_string(),
                format!("{:.3}", f.seconds),
                format!("{:.0}", changes as f64 / f.seconds),
                format!("{:.2}", mb / f.seconds),
                changes.to_string(),
                backlog.wal_bytes.to_string(),
                args.target.clone(),
                args.lanes.to_string(),
                args.batch.to_string(),
                args.tables.to_string(),
                args.indexes.to_string(),
                verified.to_string(),
            ];
            if f.name.starts_with("logferry") {
                let l = &lf.latency;
                line.extend([
                    peak.map_or(String::new(), |p| format!("{p:.0}")),
                    format!("{:.3}", lf.stages.source_blocked_s),
                    format!("{:.3}", lf.stages.route_s),
                    format!("{:.3}", lf.stages.apply_s),
                    format!("{:.3}", lf.read_decode_s()),
                    l.count.to_string(),
                    format!("{:.3}", l.p50_ms),
                    format!("{:.3}", l.p95_ms),
                    format!("{:.3}", l.p99_ms),
                    format!("{:.3}", l.max_ms),
                    lf.rss_kib.to_string(),
                    format!("{:.3}", lf.cpu_s),
                ]);
            } else {
                line.resize(BACKLOG_CSV.len(), String::new());
            }
            println!("{}", csv_line(&line));
        }
    } else {
        println!(
            "backlog: {changes} changes ({} inserts in transactions of {}, {} updates, {} deletes) over {} table(s), {:.1} MB of WAL; \
             logferry -> {} with {} lane(s), batches of {}{}, {} secondary index(es) per target table",
            args.rows,
            backlog.tx_rows,
            args.updates,
            args.deletes,
            args.tables,
            mb,
            args.target,
            args.lanes,
            args.batch,
            if args.spool { ", through the spool" } else { "" },
            args.indexes
        );
        println!("{:<32} {:>9} {:>12} {:>12}", "reader", "seconds", "rows/s", "WAL MB/s");
        for f in figures {
            println!("{:<32} {:>9.2} {:>12.0} {:>12.2}", f.name, f.seconds, changes as f64 / f.seconds, mb / f.seconds);
        }
        print_stages(lf, changes, mb, args.lanes, "(estimate: also counts connecting and the drain after the last read)");
        println!("logferry: {}", peak_text(lf));
        println!(
            "logferry: commit-to-apply latency per source transaction: {} (in a backlog, transactions wait in the backlog first)",
            latency_text(&lf.latency)
        );
        println!(
            "logferry: peak RSS {:.1} MiB, {:.2} CPU s (this process), {:.2} µs per change{}",
            lf.rss_kib as f64 / 1024.0,
            lf.cpu_s,
            lf.cpu_s * 1e6 / changes.max(1) as f64,
            if verified { "; target checked equal to the source" } else { "" }
        );
        if let Some(r) = ratio_native {
            println!("logferry vs native subscription: {r:.2}x the rows/s");
        }
        if let Some(r) = ratio_recv {
            println!("logferry time / pg_recvlogical time: {r:.2} (pg_recvlogical rows/s / logferry rows/s)");
        }
        if let Some(p) = &args.svg {
            println!("chart: {}", p.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_over_the_trailing_second() {
        // 1000 rows/s for 2 s, sampled every 100 ms, then a burst.
        let mut samples: Vec<(f64, u64)> = (0..=20).map(|i| (i as f64 / 10.0, i * 100)).collect();
        samples.push((2.1, 2000 + 3000));
        let r = rates(&samples);
        assert_eq!(r.len(), 21);
        assert!(!r[0].2 && (r[0].1 - 1000.0).abs() < 1e-6, "{:?}", r[0]);
        assert!(r[9].2 && (r[9].1 - 1000.0).abs() < 1e-6, "{:?}", r[9]);
        let f = LfFigures {
            seconds: 2.1,
            cpu_s: 0.0,
            rss_kib: 0,
            stages: StageTimes::default(),
            latency: LatencySummary::default(),
            samples,
        };
        // The last window: 1.1 s → 2.1 s, (5000 − 1100) rows.
        assert!((f.peak_1s().unwrap() - 3900.0).abs() < 1e-6, "{:?}", f.peak_1s());
        let short = LfFigures { samples: vec![(0.0, 0), (0.5, 10)], ..f };
        assert_eq!(short.peak_1s(), None);
    }

    #[test]
    fn csv_and_json_text() {
        assert_eq!(csv_line(&["a", "b c", "x,y", "q\"t"]), "a,b c,\"x,y\",\"q\"\"t\"");
        assert_eq!(json_str("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
        assert_eq!(num(f64::INFINITY, 2), "null");
        assert_eq!(num(1.23456, 2), "1.23");
    }
}
