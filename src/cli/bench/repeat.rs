//! `bench --repeat N`: the whole backlog bench N times, every reader once
//! per round in the same order (so the readers are interleaved and a slow
//! spell of the machine hits them alike), then per reader the median
//! seconds with min–max, and the ratios logferry is judged by, computed
//! within each round and summarised the same way.

use super::report::{json_str, num};
use super::BenchArgs;

/// What one round measured.
#[derive(Debug, Clone)]
pub(super) struct Round {
    /// `(reader, seconds)` in the order they ran; logferry's name starts with "logferry".
    pub(super) readers: Vec<(String, f64)>,
    /// Changes in the backlog.
    pub(super) changes: u64,
    /// logferry's CPU seconds (this process) and peak RSS in KiB.
    pub(super) cpu_s: f64,
    pub(super) rss_kib: u64,
}

impl Round {
    fn logferry_s(&self) -> Option<f64> {
        self.readers.iter().find(|r| r.0.starts_with("logferry")).map(|r| r.1)
    }

    fn cpu_us_per_change(&self) -> f64 {
        self.cpu_s * 1e6 / self.changes.max(1) as f64
    }
}

/// Median, min and max (the median of an even count is the mean of the middle two).
pub(super) fn spread(values: &[f64]) -> Option<(f64, f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Some((median, v[0], v[n - 1]))
}

/// One summarised line: a name and the spread of its per-round values.
struct Line {
    name: String,
    spread: (f64, f64, f64),
}

/// Per reader: seconds and rows/s; then the ratios against logferry.
fn summarise(rounds: &[Round]) -> (Vec<(Line, f64)>, Vec<Line>) {
    let mut readers = Vec::new();
    let names: Vec<String> = rounds.first().map(|r| r.readers.iter().map(|x| x.0.clone()).collect()).unwrap_or_default();
    for name in &names {
        let secs: Vec<f64> = rounds.iter().filter_map(|r| r.readers.iter().find(|x| &x.0 == name).map(|x| x.1)).collect();
        let rates: Vec<f64> = rounds
            .iter()
            .filter_map(|r| r.readers.iter().find(|x| &x.0 == name).map(|x| r.changes as f64 / x.1))
            .collect();
        if let (Some(s), Some(rate)) = (spread(&secs), spread(&rates)) {
            readers.push((Line { name: name.clone(), spread: s }, rate.0));
        }
    }
    let mut ratios = Vec::new();
    for name in names.iter().filter(|n| !n.starts_with("logferry")) {
        let speed: Vec<f64> = rounds
            .iter()
            .filter_map(|r| Some(r.readers.iter().find(|x| &x.0 == name)?.1 / r.logferry_s()?))
            .collect();
        if let Some(s) = spread(&speed) {
            ratios.push(Line { name: format!("logferry rows/s / {name} rows/s"), spread: s });
            let time = (1.0 / s.0, 1.0 / s.2, 1.0 / s.1);
            ratios.push(Line { name: format!("logferry time / {name} time"), spread: time });
        }
    }
    (readers, ratios)
}

/// Prints the summary of `rounds` as a table or (with `--json`) one JSON object.
pub(super) fn print(args: &BenchArgs, rounds: &[Round]) {
    let (readers, ratios) = summarise(rounds);
    let cpu: Vec<f64> = rounds.iter().map(Round::cpu_us_per_change).collect();
    let cpu = spread(&cpu).unwrap_or((f64::NAN, f64::NAN, f64::NAN));
    let rss = rounds.iter().map(|r| r.rss_kib).max().unwrap_or(0);
    let changes = rounds.first().map_or(0, |r| r.changes);
    if args.json {
        let trio = |(m, lo, hi): (f64, f64, f64), d: usize| {
            format!("\"median\":{},\"min\":{},\"max\":{}", num(m, d), num(lo, d), num(hi, d))
        };
        let readers: Vec<String> = readers
            .iter()
            .map(|(l, rate)| format!("{{\"reader\":{},\"seconds\":{{{}}},\"median_rows_per_s\":{}}}", json_str(&l.name), trio(l.spread, 3), num(*rate, 0)))
            .collect();
        let ratios: Vec<String> =
            ratios.iter().map(|l| format!("{{\"ratio\":{},{}}}", json_str(&l.name), trio(l.spread, 3))).collect();
        let each: Vec<String> = rounds
            .iter()
            .map(|r| {
                let secs: Vec<String> = r.readers.iter().map(|(n, s)| format!("{}:{}", json_str(n), num(*s, 3))).collect();
                format!("{{{}}}", secs.join(","))
            })
            .collect();
        println!(
            "{{\"repeat\":{},\"source\":{},\"target\":{},\"changes\":{changes},\"readers\":[{}],\"ratios\":[{}],\
             \"logferry_cpu_us_per_change\":{{{}}},\"logferry_peak_rss_kib_max\":{rss},\"rounds_seconds\":[{}]}}",
            rounds.len(),
            json_str(&args.source),
            json_str(&args.target),
            readers.join(","),
            ratios.join(","),
            trio(cpu, 2),
            each.join(",")
        );
        return;
    }
    println!(
        "{} rounds of the same backlog ({changes} changes; {} -> {}), every reader once per round, in this order:",
        rounds.len(),
        args.source,
        args.target
    );
    println!("{:<40} {:>10} {:>21} {:>14}", "reader", "median s", "(min–max)", "median rows/s");
    for (l, rate) in &readers {
        let (m, lo, hi) = l.spread;
        println!("{:<40} {:>10.2} {:>21} {:>14.0}", l.name, m, format!("({lo:.2}–{hi:.2})"), rate);
    }
    for l in &ratios {
        let (m, lo, hi) = l.spread;
        println!("{}: median {m:.2} ({lo:.2}–{hi:.2})", l.name);
    }
    println!("logferry CPU per change: median {:.2} µs ({:.2}–{:.2}); peak RSS, highest round: {:.1} MiB", cpu.0, cpu.1, cpu.2, rss as f64 / 1024.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts_and_min_max() {
        assert_eq!(spread(&[3.0, 1.0, 2.0]), Some((2.0, 1.0, 3.0)));
        assert_eq!(spread(&[4.0, 1.0, 2.0, 3.0]), Some((2.5, 1.0, 4.0)));
        assert_eq!(spread(&[]), None);
    }

    #[test]
    fn ratios_are_taken_within_each_round() {
        let round = |lf: f64, native: f64| Round {
            readers: vec![("logferry run --once".into(), lf), ("native subscription (apply)".into(), native)],
            changes: 1000,
            cpu_s: 0.004,
            rss_kib: 1,
        };
        // Round ratios 2.0, 0.5, 1.0: the median is 1.0, whatever the medians of the seconds say.
        let rounds = [round(1.0, 2.0), round(4.0, 2.0), round(3.0, 3.0)];
        let (readers, ratios) = summarise(&rounds);
        assert_eq!(readers.len(), 2);
        assert_eq!(ratios[0].name, "logferry rows/s / native subscription (apply) rows/s");
        assert_eq!(ratios[0].spread, (1.0, 0.5, 2.0));
        assert_eq!(ratios[1].spread, (1.0, 0.5, 2.0));
        assert!((rounds[0].cpu_us_per_change() - 4.0).abs() < 1e-9);
    }
}
