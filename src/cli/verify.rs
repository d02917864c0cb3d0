//! `logferry verify`: compares each source table with its target tables
//! (see `crate::verify`), prints per table `equal` or the keys that
//! differ, and with `--repair` mends them. Exit 0 when everything is
//! equal, 1 when a table differs (or could not be read), 2 for bad usage
//! or config.

use super::{rules, selected, CliError};
use crate::checkpoint::{CheckpointError, CheckpointStore};
use crate::config::Config;
use crate::verify::control::Control;
use crate::verify::report::{self, Status};
use crate::verify::{self, Checked, Options, Pipeline, Progress, VerifyError};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// `verify`'s arguments.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The config file.
    #[arg(long, short)]
    pub config: PathBuf,
    /// Only this pipeline (default: every pipeline in the file).
    #[arg(long, short)]
    pub pipeline: Option<String>,
    /// Only source tables matching this glob (`schema.table`, or `table`).
    #[arg(long, short)]
    pub table: Option<String>,
    /// Send the differing rows through the pipeline again, then re-check them.
    #[arg(long)]
    pub repair: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Keys listed per kind of difference (all are counted).
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Seconds to wait for a running pipeline to apply past a read (re-checks, repairs).
    #[arg(long, default_value_t = 60)]
    pub max_wait: u64,
    /// Compare row by row even where the databases could compute digests.
    #[arg(long)]
    pub by_rows: bool,
}

impl From<VerifyError> for CliError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Usage(m) => CliError::Usage(m),
            other => CliError::Verify(other),
        }
    }
}

pub(super) async fn verify(args: VerifyArgs) -> Result<(), CliError> {
    let cfg = Config::load(&args.config)?;
    let pipelines = selected(&cfg, args.pipeline.as_deref())?;
    let opts = Options {
        table: args.table.clone(),
        max_wait: Duration::from_secs(args.max_wait),
        by_rows: args.by_rows,
        ..Options::default()
    };
    let control = Control::probe(&cfg.state_dir).await;
    let bar = Bar::new(std::io::stderr().is_terminal());
    let mut runs = Vec::new();
    for p in pipelines {
        let pipeline = Pipeline { config: p, stage: rules::stage(&cfg, p)?, routes: rules::routes(p) };
        let checked = verify::check_pipeline(&pipeline, &opts, control.as_ref(), &bar).await?;
        runs.push((pipeline, checked));
    }
    if let Some(t) = &args.table {
        if runs.iter().all(|(_, c)| c.is_empty()) {
            return Err(CliError::Usage(format!(
                "no replicated table matches --table `{t}`; give a source table as `schema.table` (globs allowed)"
            )));
        }
    }
    let differs = |c: &[Checked]| c.iter().any(|c| c.report.differences().is_some_and(|d| !d.is_empty()));
    if args.repair {
        for (p, checked) in &mut runs {
            if differs(checked) {
                repair(&cfg, p, checked, control.as_ref(), &opts).await?;
            }
        }
    }
    let mut notes = Vec::new();
    if control.is_none() {
        for (p, checked) in &runs {
            if differs(checked) {
                notes.push(not_running_note(&cfg, &p.config.name));
            }
        }
    }
    let reports: Vec<_> = runs.iter().flat_map(|(_, c)| c.iter().map(|c| c.report.clone())).collect();
    if args.json {
        println!("{}", report::json(&reports, &notes, args.limit));
    } else {
        print!("{}", report::text(&reports, &notes, args.limit));
    }
    let failing = reports.iter().filter(|r| r.is_failure()).count();
    match failing {
        0 => Ok(()),
        n => Err(CliError::Differs(format!("{n} of {} table pair(s) differ or could not be read", reports.len()))),
    }
}

/// What the checkpoint says when no process runs and something differs.
fn not_running_note(cfg: &Config, pipeline: &str) -> String {
    match CheckpointStore::open(&cfg.state_dir).and_then(|s| s.load(pipeline)) {
        Ok(Some(cp)) => format!(
            "pipeline `{pipeline}` is not running; its checkpoint ({}) was written at {}: source changes since then are not \
             applied yet, so some differences may only mean it is behind (`logferry run --once` catches up)",
            cp.position.display,
            crate::record::format_utc(cp.updated_at)
        ),
        Ok(None) => format!("pipeline `{pipeline}` has no checkpoint: it has not copied the source yet"),
        Err(CheckpointError::Locked { .. }) => format!(
            "a process holds the state dir but does not answer on its control socket: differences of pipeline `{pipeline}` \
             may be changes in flight"
        ),
        Err(e) => format!("the checkpoint of pipeline `{pipeline}` cannot be read: {}", crate::ErrorChain(&e)),
    }
}

/// Repairs the differing keys of one pipeline and re-checks them.
async fn repair(cfg: &Config, p: &Pipeline<'_>, checked: &mut [Checked], control: Option<&Control>, opts: &Options) -> Result<(), CliError> {
    let work = verify::repair::work(checked);
    let keys: usize = work.iter().map(|(_, k)| k.len()).sum();
    let how = match control {
        Some(c) => {
            verify::repair::through_run(p, c, &work, opts.max_wait).await?;
            format!("{keys} key(s) copied again by the running pipeline")
        }
        None => {
            let store = CheckpointStore::open(&cfg.state_dir)?;
            let targets: Vec<_> =
                verify::repair::repair_targets(p.config).into_iter().map(|i| p.config.targets[i].clone()).collect();
            let sinks = super::open_sinks(&targets, p.config.apply.lanes, false).await?;
            let sent = verify::repair::run_locally(p, &work, sinks, &store).await?;
            drop(store);
            format!("{} row(s) re-read from the source and {} key(s) deleted, sent through the pipeline", sent.upserts, sent.deletes)
        }
    };
    for c in checked.iter_mut() {
        let Some(d) = c.report.differences().filter(|d| !d.is_empty()).cloned() else { continue };
        let Some((src, tgt)) = c.sides.as_mut() else { continue };
        let keys = verify::all_keys(&d);
        let expect = verify::tables::shaper(p.stage.clone(), &c.pair);
        let live = control.map(|control| verify::Live { control, pipeline: &p.config.name, max_wait: opts.max_wait });
        let after = verify::compare_keys(&mut **src, &mut **tgt, &keys, &expect, &c.rules, live).await?;
        match after {
            Ok(now) => {
                let note = match now.is_empty() {
                    true => format!("repaired: {how}; all {} differing key(s) are equal now", keys.len()),
                    false => format!("repair: {how}; {} of {} key(s) still differ", now.len(), keys.len()),
                };
                c.report.notes.push(note);
                if let Status::Compared(cmp) = &mut c.report.status {
                    cmp.differences = now;
                }
            }
            Err(why) => c.report.notes.push(format!("repair: {how}; not re-checked: {why}")),
        }
    }
    Ok(())
}

/// A progress bar per table pair on a terminal; nothing otherwise.
struct Bar {
    on: bool,
    bar: Mutex<Option<indicatif::ProgressBar>>,
}

impl Bar {
    fn new(on: bool) -> Self {
        Bar { on, bar: Mutex::new(None) }
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, estimate: Option<u64>) {
        if !self.on {
            return;
        }
        let bar = match estimate.filter(|&n| n > 0) {
            Some(n) => indicatif::ProgressBar::new(n),
            None => indicatif::ProgressBar::new_spinner(),
        };
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        let style = indicatif::ProgressStyle::with_template("{wide_msg} [{bar:20}] {human_pos}/~{human_len} rows, {rate}, eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .with_key("rate", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0} rows/s", s.per_sec());
            })
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(what.to_string());
        *self.bar.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
    }

    fn advance(&self, rows: u64) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            bar.inc(rows);
            if bar.length().is_some_and(|len| bar.position() > len) {
                bar.set_length(bar.position());
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}
