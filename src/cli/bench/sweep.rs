//! `--sweep lanes=1,2,4,8 batch=100,1000,5000`: logferry alone over a
//! freshly built backlog for each combination of settings; prints a row per
//! combination and the best.

use super::report::{csv_line, json_str, num};
use super::{BenchArgs, Bench};
use crate::cli::CliError;

/// The grid of `(lanes, batch)` settings, lanes outer, from `lanes=…` and
/// `batch=…` (each optional, at most once; the `--lanes` / `--batch` value
/// when left out).
pub(super) fn parse(values: &[String], lanes: usize, batch: usize) -> Result<Vec<(usize, usize)>, CliError> {
    let usage = |why: String| CliError::Usage(format!("bench: --sweep {why}; e.g. --sweep lanes=1,2,4,8 batch=100,1000,5000"));
    let (mut lane_list, mut batch_list): (Option<Vec<usize>>, Option<Vec<usize>>) = (None, None);
    for v in values {
        let Some((key, list)) = v.split_once('=') else {
            return Err(usage(format!("takes KEY=V1,V2,…, not {v:?}")));
        };
        let parsed: Vec<usize> = list
            .split(',')
            .map(|n| n.trim().parse::<usize>().ok().filter(|&n| n > 0))
            .collect::<Option<_>>()
            .ok_or_else(|| usage(format!("{key}: {list:?} is not a list of numbers of at least 1")))?;
        let slot = match key {
            "lanes" => &mut lane_list,
            "batch" => &mut batch_list,
            _ => return Err(usage(format!("knows lanes and batch, not {key:?}"))),
        };
        if slot.replace(parsed).is_some() {
            return Err(usage(format!("names {key} twice")));
        }
    }
    let (lanes, batches) = (lane_list.unwrap_or(vec![lanes]), batch_list.unwrap_or(vec![batch]));
    Ok(lanes.iter().flat_map(|&l| batches.iter().map(move |&b| (l, b))).collect())
}

/// One setting's result.
struct Point {
    lanes: usize,
    batch: usize,
    seconds: f64,
    rows_per_s: f64,
}

/// Runs the grid; prints a row per setting (in the table, as each
/// finishes) and the best (`--csv`: a `best` column, true on one line).
pub(super) async fn run(args: &BenchArgs, pg_url: &str, grid: &[(usize, usize)]) -> Result<(), CliError> {
    if !args.json && !args.csv {
        println!(
            "sweep: {} setting(s); for each, a fresh backlog ({} inserts in transactions of {}, {} updates, {} deletes over {} table(s)) and logferry -> {} alone{}",
            grid.len(),
            args.rows,
            if args.tx_rows == 0 { args.rows } else { args.tx_rows },
            args.updates,
            args.deletes,
            args.tables,
            args.target,
            if args.indexes > 0 { format!(", {} secondary index(es) per target table", args.indexes) } else { String::new() }
        );
        println!("{:>6} {:>7} {:>9} {:>11}", "lanes", "batch", "seconds", "rows/s");
    }
    let mut points = Vec::with_capacity(grid.len());
    let mut changes = 0;
    for &(lanes, batch) in grid {
        let bench = Bench::prepare(args, pg_url, lanes, batch).await?;
        let backlog = bench.write_backlog(args).await?;
        let lf = bench.timed_logferry().await?;
        bench.verify().await?;
        bench.finish().await?;
        changes = backlog.changes;
        let p = Point { lanes, batch, seconds: lf.seconds, rows_per_s: changes as f64 / lf.seconds };
        if !args.json && !args.csv {
            println!("{:>6} {:>7} {:>9.2} {:>11.0}", p.lanes, p.batch, p.seconds, p.rows_per_s);
        }
        points.push(p);
    }
    let best = points.iter().fold(None::<&Point>, |b, p| match b {
        Some(b) if b.rows_per_s >= p.rows_per_s => Some(b),
        _ => Some(p),
    });
    let Some(best) = best else { return Ok(()) };
    if args.csv {
        println!("{}", csv_line(&["lanes", "batch", "seconds", "rows_per_s", "changes", "target", "tables", "indexes", "best"]));
        for p in &points {
            println!("{}", csv_row(p, changes, args, std::ptr::eq(p, best)));
        }
    } else if args.json {
        let runs: Vec<String> = points
            .iter()
            .map(|p| format!("{{\"lanes\":{},\"batch\":{},\"seconds\":{},\"rows_per_s\":{}}}", p.lanes, p.batch, num(p.seconds, 3), num(p.rows_per_s, 0)))
            .collect();
        println!(
            "{{\"mode\":\"sweep\",\"changes\":{changes},\"target\":{},\"tables\":{},\"indexes\":{},\"runs\":[{}],\"best\":{{\"lanes\":{},\"batch\":{},\"rows_per_s\":{}}}}}",
            json_str(&args.target),
            args.tables,
            args.indexes,
            runs.join(","),
            best.lanes,
            best.batch,
            num(best.rows_per_s, 0)
        );
    } else {
        println!("best: lanes={} batch={} ({:.0} rows/s)", best.lanes, best.batch, best.rows_per_s);
    }
    Ok(())
}

fn csv_row(p: &Point, changes: u64, args: &BenchArgs, best: bool) -> String {
    csv_line(&[
        p.lanes.to_string(),
        p.batch.to_string(),
        format!("{:.3}", p.seconds),
        format!("{:.0}", p.rows_per_s),
        changes.to_string(),
        args.target.clone(),
        args.tables.to_string(),
        args.indexes.to_string(),
        best.to_string(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(parse(&s(&["lanes=1,2", "batch=100,500"]), 8, 1000).unwrap(), [(1, 100), (1, 500), (2, 100), (2, 500)]);
        assert_eq!(parse(&s(&["batch=10,20"]), 4, 1000).unwrap(), [(4, 10), (4, 20)]);
        assert_eq!(parse(&s(&["lanes=3"]), 4, 1000).unwrap(), [(3, 1000)]);
        for bad in [&["lanes"][..], &["lanes=1,x"], &["lanes=0"], &["width=1"], &["lanes=1", "lanes=2"]] {
            assert!(matches!(parse(&s(bad), 1, 1), Err(CliError::Usage(_))), "{bad:?}");
        }
    }
}
