//! Progress of the initial copy for `run` and `run --once`.
//!
//! A [`Display`] watches every pipeline's copy progress
//! (`SourceStats::copies`), its applied records (`PipelineStats::counts`)
//! and its checkpoint (read from the state dir) from a thread of its own,
//! and shows them in one of two ways:
//!
//! - **stderr is a terminal**: one bar per table being copied (rows copied /
//!   the source's estimate, rate, ETA; a spinner with rows and rate when the
//!   source has no estimate), and under them one line per pipeline with the
//!   records applied and the checkpoint position. A finished table's bar
//!   stays as a line saying how many rows (of the estimate) took how long.
//! - **otherwise**: `tracing` info lines every [`LOG_EVERY`] (each table
//!   being copied, and each pipeline's applied records and checkpoint), and
//!   one when a table's copy finishes (table, rows, rows/s).
//!
//! With `--once` the display lasts the whole run. A continuous `run` shows
//! it only while some table is being copied: it ends [`LINGER`] after the
//! last copy finished (and starts again if another copy begins, such as
//! the copy a restarted source resumes); streaming then goes on with the
//! normal logs.
//!
//! Bars and logs share stderr: the binary's log writer ([`LogWriter`])
//! writes each log line with the bars cleared and redraws them after
//! (`MultiProgress::suspend`), so neither garbles the other. Anything else
//! the command prints to stderr while bars may be up goes through
//! [`eprint_line`].

use crate::checkpoint::CheckpointStore;
use crate::pipeline::PipelineStats;
use crate::sources::TableCopy;
use indicatif::{HumanCount, HumanDuration, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the bars are updated from the stats.
pub const TICK: Duration = Duration::from_millis(200);
/// How often the progress log lines are written when stderr is no terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(10);
/// A continuous run keeps its bars this long after the last copy finished,
/// so the short gap before a source's next table does not end them.
pub const LINGER: Duration = Duration::from_secs(2);

/// The bars on screen, if any: log lines are written around them.
static BARS: Mutex<Option<MultiProgress>> = Mutex::new(None);

fn set_bars(bars: Option<MultiProgress>) {
    *BARS.lock().unwrap_or_else(|p| p.into_inner()) = bars;
}

/// Writes `bytes` to stderr; bars on screen are cleared while it is written
/// and drawn again below it.
pub fn write_stderr(bytes: &[u8]) {
    // Cloned out, so no lock of ours is held while indicatif draws.
    let bars = BARS.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let write = || {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(bytes);
        let _ = err.flush();
    };
    match bars {
        Some(bars) => bars.suspend(write),
        None => write(),
    }
}

/// `eprintln!` that does not garble the progress bars.
pub fn eprint_line(line: &str) {
    write_stderr(format!("{line}\n").as_bytes());
}

/// The binary's `tracing` writer: stderr, around the progress bars.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

/// One log event's text, written whole when dropped.
#[derive(Debug, Default)]
pub struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            write_stderr(&self.0);
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine::default()
    }
}

/// Which way progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bars on stderr (a terminal).
    Bars,
    /// Periodic log lines.
    Logs,
}

impl Mode {
    /// Bars when stderr is a terminal, log lines otherwise.
    pub fn for_stderr() -> Self {
        if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Logs
        }
    }
}

/// The progress display of one `run`; stops (and leaves the finished bars
/// on screen) when dropped.
pub struct Display {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Display {
    /// Starts watching `pipelines` (`once`: for the whole run).
    pub fn start(pipelines: Vec<Arc<PipelineStats>>, store: CheckpointStore, once: bool, mode: Mode) -> Display {
        let (stop, stopped) = mpsc::channel();
        let mut watch = Watch::new(pipelines, store, once, mode);
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let every = if mode == Mode::Bars { TICK } else { Duration::from_secs(1) };
                // --once shows its lines from the start, however short the run.
                watch.update(false);
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    watch.update(false);
                }
                watch.update(true);
            })
            .map_err(|e| tracing::warn!(error = %e, "cannot start the progress display; the run goes on without it"))
            .ok();
        Display { stop: Some(stop), thread }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A table copy being shown.
struct Shown {
    /// When the copy shown started (a restarted copy is a new one).
    started: Instant,
    /// Its finish was shown or logged.
    finished: bool,
    bar: Option<ProgressBar>,
}

/// What the display thread keeps between updates.
struct Watch {
    pipelines: Vec<Arc<PipelineStats>>,
    store: CheckpointStore,
    once: bool,
    mode: Mode,
    /// Per (pipeline, table).
    shown: HashMap<(usize, String), Shown>,
    /// The bars and the per-pipeline lines under them, while shown.
    bars: Option<(MultiProgress, Vec<ProgressBar>)>,
    /// The display is on (once: always; run: while copying, and `LINGER`).
    active: bool,
    /// When the last copy in progress was seen.
    last_copying: Option<Instant>,
    /// When progress was last logged (`Mode::Logs`).
    last_log: Instant,
}

impl Watch {
    fn new(pipelines: Vec<Arc<PipelineStats>>, store: CheckpointStore, once: bool, mode: Mode) -> Self {
        Watch {
            pipelines,
            store,
            once,
            mode,
            shown: HashMap::new(),
            bars: None,
            active: false,
            last_copying: None,
            last_log: Instant::now(),
        }
    }

    /// Reads the stats and shows them; `last`: the run is over.
    fn update(&mut self, last: bool) {
        let copies: Vec<Vec<TableCopy>> = self.pipelines.iter().map(|p| p.source.copies()).collect();
        // A copy in progress, or one not shown finished yet (it may have
        // started and finished between two updates).
        let copying = copies.iter().enumerate().any(|(i, list)| {
            list.iter().any(|c| {
                !c.done || self.shown.get(&(i, c.table.clone())).is_none_or(|s| s.started != c.started || !s.finished)
            })
        });
        let now = Instant::now();
        if copying {
            self.last_copying = Some(now);
        }
        let wanted = !last
            && (self.once || copying || self.last_copying.is_some_and(|t| now.duration_since(t) < LINGER));
        if wanted && !self.active {
            self.activate();
        }
        if self.active || last {
            self.show_copies(&copies);
        }
        if self.active && (!wanted || last) {
            self.deactivate();
        }
    }

    fn activate(&mut self) {
        self.active = true;
        self.last_log = Instant::now();
        if self.mode == Mode::Bars {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let lines = self
                .pipelines
                .iter()
                .map(|p| {
                    let line = multi.add(ProgressBar::new_spinner().with_style(line_style()).with_prefix(p.name.clone()));
                    line.set_message(self.catch_up(p));
                    line
                })
                .collect();
            set_bars(Some(multi.clone()));
            self.bars = Some((multi, lines));
        }
    }

    fn deactivate(&mut self) {
        self.active = false;
        self.last_copying = None;
        if self.mode == Mode::Logs {
            self.log_catch_up();
        }
        if let Some((_, lines)) = self.bars.take() {
            for (p, line) in self.pipelines.iter().zip(&lines) {
                line.set_message(self.catch_up(p));
                line.finish();
            }
            for s in self.shown.values_mut() {
                if let Some(bar) = s.bar.take() {
                    if !bar.is_finished() {
                        bar.abandon();
                    }
                }
            }
        }
        set_bars(None);
    }

    /// Records applied and the checkpoint of pipeline `p`.
    fn catch_up(&self, p: &PipelineStats) -> String {
        let (_, applied) = p.counts();
        let checkpoint = match self.store.load(&p.name) {
            Ok(Some(c)) => c.position.display,
            Ok(None) => "none yet".to_string(),
            Err(_) => "unreadable".to_string(),
        };
        format!("{} records applied; checkpoint {checkpoint}", HumanCount(applied))
    }

    fn log_catch_up(&self) {
        for p in &self.pipelines {
            let (_, applied) = p.counts();
            let checkpoint = self.store.load(&p.name).ok().flatten().map(|c| c.position.display);
            tracing::info!(pipeline = %p.name, applied, checkpoint = checkpoint.as_deref().unwrap_or("none yet"), "progress");
        }
    }

    fn show_copies(&mut self, copies: &[Vec<TableCopy>]) {
        let several = self.pipelines.len() > 1;
        let log_now = self.mode == Mode::Logs && self.last_log.elapsed() >= LOG_EVERY;
        for (i, list) in copies.iter().enumerate() {
            let pipeline = &self.pipelines[i].name;
            for c in list {
                let key = (i, c.table.clone());
                let fresh = self.shown.get(&key).is_none_or(|s| s.started != c.started);
                if fresh {
                    let bar = match (&self.bars, self.mode) {
                        (Some((multi, lines)), Mode::Bars) => {
                            let label = if several { format!("{pipeline} {}", c.table) } else { c.table.clone() };
                            let bar = ProgressBar::new(c.estimate.unwrap_or(0)).with_prefix(label);
                            bar.set_style(if c.estimate.is_some() { bar_style() } else { count_style() });
                            Some(match lines.first() {
                                Some(first) => multi.insert_before(first, bar),
                                None => multi.add(bar),
                            })
                        }
                        _ => None,
                    };
                    if let Some(old) = self.shown.insert(key.clone(), Shown { started: c.started, finished: false, bar }) {
                        if let Some(b) = old.bar {
                            b.abandon();
                        }
                    }
                }
                let Some(s) = self.shown.get_mut(&key) else { continue };
                if s.finished {
                    continue;
                }
                if let Some(bar) = &s.bar {
                    if let Some(e) = c.estimate {
                        bar.set_length(e.max(c.rows));
                    }
                    bar.set_position(c.rows);
                }
                if c.done {
                    s.finished = true;
                    let took = c.finished.unwrap_or_else(Instant::now).duration_since(c.started);
                    let rate = per_second(c.rows, took);
                    match &s.bar {
                        Some(bar) => {
                            bar.set_style(done_style());
                            let of = c.estimate.map(|e| format!("/{}", HumanCount(e))).unwrap_or_default();
                            bar.finish_with_message(format!(
                                "{}{of} rows copied in {:#}, {} rows/s",
                                HumanCount(c.rows),
                                HumanDuration(took),
                                HumanCount(rate)
                            ));
                        }
                        None if self.mode == Mode::Logs => tracing::info!(
                            pipeline = %pipeline, table = %c.table, rows = c.rows, rows_per_s = rate,
                            seconds = format_args!("{:.1}", took.as_secs_f64()), "table copied"
                        ),
                        None => {}
                    }
                } else if log_now {
                    let rate = per_second(c.rows, c.started.elapsed());
                    match c.estimate {
                        Some(estimate) => tracing::info!(
                            pipeline = %pipeline, table = %c.table, rows = c.rows, estimate, rows_per_s = rate,
                            eta_s = eta(c.rows, estimate, rate).map(|d| d.as_secs()), "copying table"
                        ),
                        None => tracing::info!(pipeline = %pipeline, table = %c.table, rows = c.rows, rows_per_s = rate, "copying table"),
                    }
                }
            }
        }
        if let Some((_, lines)) = &self.bars {
            for (p, line) in self.pipelines.iter().zip(lines) {
                line.set_message(self.catch_up(p));
                line.tick();
            }
        }
        if log_now {
            self.last_log = Instant::now();
            self.log_catch_up();
        }
    }
}

/// Rows per second over `took` (0 when no time passed).
pub fn per_second(rows: u64, took: Duration) -> u64 {
    let s = took.as_secs_f64();
    if s > 0.0 {
        (rows as f64 / s).round() as u64
    } else {
        0
    }
}

/// Time left to copy `estimate` rows at `rate`, when both say something.
pub fn eta(rows: u64, estimate: u64, rate: u64) -> Option<Duration> {
    (rate > 0).then(|| Duration::from_secs(estimate.saturating_sub(rows) / rate))
}

/// `rows/s` from indicatif's recent-rate estimate.
fn rate_key(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{} rows/s", HumanCount(state.per_sec().max(0.0) as u64));
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:.bold} [{bar:30.cyan/blue}] {human_pos}/{human_len} rows  {rate}  ETA {eta}")
        .expect("a valid template")
        .with_key("rate", rate_key)
        .progress_chars("=> ")
}

fn count_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:.bold} {spinner} {human_pos} rows (no estimate)  {rate}")
        .expect("a valid template")
        .with_key("rate", rate_key)
}

fn done_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:.bold} [{bar:30.green}] {msg}").expect("a valid template").progress_chars("=> ")
}

fn line_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:.bold}: {msg}").expect("a valid template")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_etas_come_from_rows_and_time() {
        assert_eq!(per_second(5_000, Duration::from_secs(2)), 2_500);
        assert_eq!(per_second(5_000, Duration::ZERO), 0);
        assert_eq!(eta(1_000, 11_000, 2_500), Some(Duration::from_secs(4)));
        assert_eq!(eta(1_000, 11_000, 0), None);
        assert_eq!(eta(12_000, 11_000, 100), Some(Duration::ZERO), "an estimate passed is no negative time");
    }

    /// Collects what a test subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn lines(&self, what: &str) -> Vec<String> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines().filter(|l| l.contains(what)).map(str::to_string).collect()
        }
    }

    #[test]
    fn without_a_terminal_copies_are_logged_every_period_and_once_when_done() {
        let stats = Arc::new(PipelineStats::new("p"));
        let log = Captured::default();
        let sink = log.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || sink.clone()).with_ansi(false).finish();
        tracing::subscriber::with_default(subscriber, || {
            let mut watch = Watch::new(vec![stats.clone()], CheckpointStore::temporary().unwrap(), false, Mode::Logs);
            watch.update(false);
            assert!(!watch.active, "a continuous run shows nothing before a copy starts");
            stats.source.copy_started("s.t", Some(100));
            stats.source.copy_chunk("s.t", 40, false);
            watch.update(false);
            assert!(watch.active && log.lines("copying table").is_empty(), "nothing before a period has passed");
            watch.last_log = Instant::now().checked_sub(LOG_EVERY).expect("the clock is past 10 s");
            watch.update(false);
            let copying = log.lines("copying table");
            assert_eq!(copying.len(), 1, "{copying:?}");
            assert!(copying[0].contains("pipeline=p table=s.t rows=40 estimate=100 rows_per_s="), "{copying:?}");
            assert_eq!(log.lines(" progress pipeline=p applied=0 checkpoint=\"none yet\"").len(), 1);

            stats.source.copy_chunk("s.t", 60, true);
            watch.update(false);
            watch.update(false);
            let copied = log.lines("table copied");
            assert_eq!(copied.len(), 1, "once per table: {copied:?}");
            assert!(copied[0].contains("pipeline=p table=s.t rows=100 rows_per_s="), "{copied:?}");
            assert!(watch.active, "the display lingers a moment after the last copy");
            watch.last_copying = Instant::now().checked_sub(LINGER);
            watch.update(false);
            assert!(!watch.active, "then a continuous run goes back to its normal logs");
            watch.last_log = Instant::now().checked_sub(LOG_EVERY).unwrap();
            watch.update(false);
            assert_eq!(log.lines("copying table").len(), 1, "no periodic lines while nothing is copied");
        });
    }

    #[test]
    fn the_templates_parse() {
        let _ = (bar_style(), count_style(), done_style(), line_style());
    }
}
