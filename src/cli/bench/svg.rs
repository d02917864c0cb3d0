//! `--svg FILE`: a standalone SVG chart of one bench run, written by hand
//! (no plotting crate). Two panels under a title that names the run's
//! settings:
//! - applied rows/s over time: the applied count sampled every 100 ms,
//!   as a moving average over the trailing second;
//! - the commit-to-apply latency histogram from
//!   [`LatencySummary::buckets`], on a logarithmic latency axis, with the
//!   p50 and p99 marked.

use super::{fail, report};
use crate::pipeline::LatencySummary;
use crate::cli::CliError;
use std::fmt::Write as _;
use std::path::Path;

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 680.0;
const LEFT: f64 = 90.0;
const PLOT_W: f64 = 740.0;
const PLOT_H: f64 = 210.0;
/// Tops of the two plot areas.
const TOP_RATE: f64 = 110.0;
const TOP_LATENCY: f64 = 420.0;

/// Panel titles (the tests look for them).
pub(super) const RATE_TITLE: &str = "Applied rows/s over time (1 s moving average of 100 ms samples)";
pub(super) const LATENCY_TITLE: &str = "Commit-to-apply latency histogram (per source transaction)";

/// Writes `svg` to `path`.
pub(super) fn write(path: &Path, svg: &str) -> Result<(), CliError> {
    std::fs::write(path, svg).map_err(|e| fail(&format!("writing the chart {}", path.display()), e))
}

/// The chart: `title` on top, then the two panels.
pub(super) fn render(title: &str, samples: &[(f64, u64)], latency: &LatencySummary) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <title>{}</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        esc(title)
    );
    for (i, line) in wrap(title, 110).iter().enumerate() {
        let _ = writeln!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">{}</text>", WIDTH / 2.0, 24.0 + 18.0 * i as f64, esc(line));
    }
    rate_panel(&mut s, samples);
    latency_panel(&mut s, latency);
    s.push_str("</svg>\n");
    s
}

fn rate_panel(s: &mut String, samples: &[(f64, u64)]) {
    let top = TOP_RATE;
    panel_frame(s, top, RATE_TITLE, "seconds since logferry started", "rows/s");
    let points = report::rates(samples);
    if points.is_empty() {
        no_data(s, top, "no samples (the run was shorter than 100 ms)");
        return;
    }
    let t_max = points.iter().map(|p| p.0).fold(0.0, f64::max).max(0.1);
    let r_max = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1.0);
    let (x_top, x_step) = axis(t_max, 8);
    let (y_top, y_step) = axis(r_max, 5);
    let x = |t: f64| LEFT + t / x_top * PLOT_W;
    let y = |r: f64| top + PLOT_H - r / y_top * PLOT_H;
    linear_ticks(s, top, x_top, x_step, y_top, y_step);
    let mut path = String::new();
    for (i, p) in points.iter().enumerate() {
        let _ = write!(path, "{}{:.1},{:.1}", if i == 0 { "M" } else { " L" }, x(p.0), y(p.1));
    }
    let _ = writeln!(s, "<path d=\"{path}\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.8\"/>");
}

fn latency_panel(s: &mut String, l: &LatencySummary) {
    let top = TOP_LATENCY;
    panel_frame(s, top, LATENCY_TITLE, "latency from source commit to applied, ms (log scale)", "transactions");
    if l.count == 0 || l.buckets.is_empty() {
        no_data(s, top, "no transactions measured");
        return;
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#444\">n = {}, p50 {} ms, p95 {} ms, p99 {} ms, max {} ms</text>",
        LEFT + PLOT_W,
        top - 8.0,
        l.count,
        fmt_num(l.p50_ms),
        fmt_num(l.p95_ms),
        fmt_num(l.p99_ms),
        fmt_num(l.max_ms)
    );
    let bars: Vec<(f64, f64, u64)> = l.buckets.iter().map(|&(ub, c)| (bucket_lower(ub).max(ub / 2.0), ub.max(1e-3), c)).collect();
    let lo = bars.iter().map(|b| b.0).fold(f64::INFINITY, f64::min);
    let hi = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(l.max_ms);
    let d_lo = lo.log10().floor();
    let mut d_hi = hi.log10().ceil();
    if d_hi <= d_lo {
        d_hi = d_lo + 1.0;
    }
    let x = |v: f64| LEFT + ((v.max(1e-9).log10() - d_lo) / (d_hi - d_lo)).clamp(0.0, 1.0) * PLOT_W;
    let c_max = bars.iter().map(|b| b.2).max().unwrap_or(1) as f64;
    let (y_top, y_step) = axis(c_max, 5);
    let y = |c: f64| top + PLOT_H - c / y_top * PLOT_H;
    // Horizontal grid and count labels.
    let mut v = 0.0;
    while v <= y_top + y_step / 2.0 {
        let _ = writeln!(s, "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>", LEFT + PLOT_W, y(v), y(v));
        let _ = writeln!(s, "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>", LEFT - 6.0, y(v) + 4.0, fmt_num(v));
        v += y_step;
    }
    // Decades.
    let mut d = d_lo;
    while d <= d_hi + 0.5 {
        let xv = x(10f64.powf(d));
        let _ = writeln!(s, "<line x1=\"{xv:.1}\" x2=\"{xv:.1}\" y1=\"{top}\" y2=\"{}\" stroke=\"#ddd\"/>", top + PLOT_H);
        let _ = writeln!(s, "<text x=\"{xv:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>", top + PLOT_H + 16.0, fmt_num(10f64.powf(d)));
        d += 1.0;
    }
    for &(lower, upper, c) in &bars {
        let (x0, x1) = (x(lower), x(upper));
        let _ = writeln!(
            s,
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#ff7f0e\"><title>{}–{} ms: {c}</title></rect>",
            y(c as f64),
            (x1 - x0).max(1.5),
            PLOT_H - (y(c as f64) - top),
            fmt_num(lower),
            fmt_num(upper)
        );
    }
    for (name, value, dy) in [("p50", l.p50_ms, 12.0), ("p99", l.p99_ms, 26.0)] {
        let xv = x(value);
        let _ = writeln!(s, "<line x1=\"{xv:.1}\" x2=\"{xv:.1}\" y1=\"{top}\" y2=\"{}\" stroke=\"#d62728\" stroke-dasharray=\"4 3\"/>", top + PLOT_H);
        let _ = writeln!(s, "<text x=\"{:.1}\" y=\"{}\" fill=\"#d62728\">{name}</text>", xv + 3.0, top + dy);
    }
}

/// Frame, panel title and axis labels of the panel whose plot area starts at `top`.
fn panel_frame(s: &mut String, top: f64, title: &str, x_label: &str, y_label: &str) {
    let _ = writeln!(s, "<text x=\"{LEFT}\" y=\"{}\" font-size=\"13\" font-weight=\"bold\">{}</text>", top - 24.0, esc(title));
    let _ = writeln!(s, "<rect x=\"{LEFT}\" y=\"{top}\" width=\"{PLOT_W}\" height=\"{PLOT_H}\" fill=\"none\" stroke=\"#333\"/>");
    let _ = writeln!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", LEFT + PLOT_W / 2.0, top + PLOT_H + 36.0, esc(x_label));
    let (cx, cy) = (22.0, top + PLOT_H / 2.0);
    let _ = writeln!(s, "<text x=\"{cx}\" y=\"{cy}\" text-anchor=\"middle\" transform=\"rotate(-90 {cx} {cy})\">{}</text>", esc(y_label));
}

fn no_data(s: &mut String, top: f64, what: &str) {
    let _ = writeln!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#888\">{}</text>", LEFT + PLOT_W / 2.0, top + PLOT_H / 2.0, esc(what));
}

/// Grid lines and tick labels of a panel with linear axes.
fn linear_ticks(s: &mut String, top: f64, x_top: f64, x_step: f64, y_top: f64, y_step: f64) {
    let mut v = 0.0;
    while v <= x_top + x_step / 2.0 {
        let xv = LEFT + v / x_top * PLOT_W;
        let _ = writeln!(s, "<line x1=\"{xv:.1}\" x2=\"{xv:.1}\" y1=\"{top}\" y2=\"{}\" stroke=\"#ddd\"/>", top + PLOT_H);
        let _ = writeln!(s, "<text x=\"{xv:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>", top + PLOT_H + 16.0, fmt_num(v));
        v += x_step;
    }
    let mut v = 0.0;
    while v <= y_top + y_step / 2.0 {
        let yv = top + PLOT_H - v / y_top * PLOT_H;
        let _ = writeln!(s, "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{yv:.1}\" y2=\"{yv:.1}\" stroke=\"#ddd\"/>", LEFT + PLOT_W);
        let _ = writeln!(s, "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>", LEFT - 6.0, yv + 4.0, fmt_num(v));
        v += y_step;
    }
}

/// The lower bound of the latency bucket with upper bound `ub` ms, from
/// the bucket layout of [`crate::pipeline::LatencySummary`]: 0.1 ms wide up to 10 ms, 1 ms up
/// to 1 s, 100 ms up to 60 s, then one overflow bucket (`ub` is the max).
fn bucket_lower(ub: f64) -> f64 {
    if ub <= 10.0 + 1e-9 {
        ub - 0.1
    } else if ub <= 1000.0 + 1e-9 {
        ub - 1.0
    } else if ub <= 60_000.0 + 1e-9 {
        ub - 100.0
    } else {
        60_000.0
    }
}

/// An axis from 0 with about `ticks` round steps covering `max`: (top, step).
fn axis(max: f64, ticks: usize) -> (f64, f64) {
    let raw = (max / ticks as f64).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let step = mag * if f <= 1.0 { 1.0 } else if f <= 2.0 { 2.0 } else if f <= 5.0 { 5.0 } else { 10.0 };
    ((max / step - 1e-9).ceil().max(1.0) * step, step)
}

/// A short number: `1.5`, `250`, `12k`, `1.2M`.
fn fmt_num(v: f64) -> String {
    let trim = |v: f64| {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if v >= 1e6 {
        format!("{}M", trim((v / 1e5).round() / 10.0))
    } else if v >= 1e4 {
        format!("{}k", trim((v / 1e2).round() / 10.0))
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        trim(v)
    }
}

/// XML text escaping.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `text` in lines of at most about `width` characters, cut at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("one line");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_and_numbers() {
        assert_eq!(axis(9.3, 5), (10.0, 2.0));
        assert_eq!(axis(47_000.0, 5), (50_000.0, 10_000.0));
        assert_eq!(axis(1.0, 5), (1.0, 0.2));
        assert_eq!(fmt_num(0.1), "0.1");
        assert_eq!(fmt_num(250.0), "250");
        assert_eq!(fmt_num(12_340.0), "12.3k");
        assert_eq!(fmt_num(2_000_000.0), "2M");
        assert_eq!(bucket_lower(0.3), 0.3 - 0.1);
        assert_eq!((bucket_lower(11.0), bucket_lower(1100.0), bucket_lower(90_000.0)), (10.0, 1000.0, 60_000.0));
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
    }

    #[test]
    fn a_chart_with_both_panels_and_escaped_text() {
        let samples: Vec<(f64, u64)> = (0..=30).map(|i| (i as f64 / 10.0, i * 500)).collect();
        let latency = LatencySummary {
            count: 3,
            mean_ms: 5.0,
            p50_ms: 3.0,
            p95_ms: 9.0,
            p99_ms: 9.0,
            max_ms: 9.0,
            buckets: vec![(2.0, 1), (3.0, 1), (9.0, 1)],
        };
        let svg = render("run <a & b>", &samples, &latency);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.ends_with("</svg>\n"), "{svg}");
        assert!(svg.contains(RATE_TITLE) && svg.contains(LATENCY_TITLE) && svg.contains("run &lt;a &amp; b&gt;"), "{svg}");
        assert_eq!(svg.matches("fill=\"#ff7f0e\"").count(), 3, "one bar per bucket");
        let empty = render("t", &[], &LatencySummary::default());
        assert!(empty.contains("no samples") && empty.contains("no transactions measured"), "{empty}");
    }
}
