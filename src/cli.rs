//! The command line: `run`, `check`, `status`, `snapshot`, `verify`,
//! `reset`, `dead-letters`, `bench`.
//!
//! Exit codes: 0 success, 2 bad usage or config, 1 runtime failure. Errors
//! go to stderr as one readable paragraph; logs go to stderr too, so stdout
//! carries only data (the stdout target, `status`).

use crate::checkpoint::{CheckpointError, CheckpointStore};
use crate::config::{Config, ConfigError, PipelineConfig, SourceConfig, TargetConfig};
use crate::pipeline::{self, PipelineError, PipelineRun};
use crate::sinks::mysql::{MysqlSink, MysqlSinkConfig};
use crate::sinks::postgres::{PostgresSink, PostgresSinkConfig};
use crate::sinks::sql::target_label;
use crate::admin::Registry;
use crate::pipeline::PipelineStats;
use crate::sinks::deferred::{connect_or_defer, Connect};
use crate::sinks::{discard::DiscardSink, file::FileSink, stdout::StdoutSink, Sink, SinkError};
use crate::sources::{generate::GenerateSource, mysql::MysqlSource, postgres::PostgresSource, Source};
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

mod bench;
mod check;
mod dead_letters;
mod grants;
pub mod progress;
mod rules;
mod snapshot;
mod status;
mod verify;

pub use dead_letters::DeadLettersCommand;

/// logferry: change-data-capture replication, in order per key, nothing lost.
#[derive(Debug, Parser)]
#[command(name = "logferry", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replicate: read the source, apply to the targets, checkpoint.
    Run {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
        /// Run only this pipeline (default: every pipeline in the file).
        #[arg(long, short)]
        pipeline: Option<String>,
        /// Catch up to the source's end of log as of start, apply,
        /// checkpoint, and exit 0 (batch mode).
        #[arg(long)]
        once: bool,
    },
    /// Validate the config file and say what each pipeline would do.
    Check {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
        /// Print the findings as one JSON document (the exit code is the same).
        #[arg(long)]
        json: bool,
    },
    /// Show each pipeline's state: live from the running `logferry run`
    /// (per table, lag, throughput, checkpoint), else the stored checkpoints.
    Status {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
        /// Print JSON (the running process's `/status`, or the stored
        /// checkpoints with `"running": false`).
        #[arg(long)]
        json: bool,
    },
    /// Ask the running `logferry run` to copy a table again while it
    /// streams, and wait until the copy is applied.
    Snapshot {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
        /// The pipeline (may be left out when the file has one).
        #[arg(long, short)]
        pipeline: Option<String>,
        /// The source table, `schema.name` (`database.name`, `db.collection`).
        #[arg(long, short)]
        table: String,
    },
    /// Compare each source table with its target tables (through the
    /// table rules); exit 1 when any differs. `--repair` mends the keys
    /// that differ.
    Verify(verify::VerifyArgs),
    /// Forget a pipeline's checkpoint: its next run starts from the beginning.
    Reset {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
        /// The pipeline whose checkpoint to forget.
        #[arg(long, short)]
        pipeline: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// List, replay or drop the records `on_error = "dead_letter"` set aside.
    #[command(subcommand)]
    DeadLetters(DeadLettersCommand),
    /// Build a PostgreSQL backlog and time logferry catching it up, beside
    /// pg_recvlogical and native logical replication (--compare).
    Bench(Box<bench::BenchArgs>),
}

/// A failed command, by exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad usage: exit 2.
    #[error("{0}")]
    Usage(String),
    /// The answer to a confirmation prompt could not be read: exit 2.
    #[error("cannot read the answer from stdin")]
    Prompt(#[source] std::io::Error),
    /// Bad config: exit 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The state dir failed: exit 1.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A target could not be opened: exit 1.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The admin endpoint could not listen.
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
    /// A pipeline failed: exit 1.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// `[[pipeline.table]]` rules that cannot work (one line each, with
    /// the file and key path): exit 2.
    #[error("{0}")]
    Rules(String),
    /// `check` found a source that is not ready: exit 1.
    #[error("{0}")]
    NotReady(String),
    /// A dead-letter command could not finish: exit 1.
    #[error("{0}")]
    DeadLetters(String),
    /// `bench` could not finish: exit 1.
    #[error("bench: {0}")]
    Bench(String),
    /// A step of `bench` failed: exit 1.
    #[error("bench: {what}")]
    BenchStep {
        /// The step.
        what: String,
        /// Why.
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// Talking to the running `logferry run` failed, or a copy it was
    /// asked for failed (`status`, `snapshot`): exit 1.
    #[error("{0}")]
    Live(String),
    /// `verify` could not compare (a database could not be read): exit 1.
    #[error("verify: {0}")]
    Verify(#[source] crate::verify::VerifyError),
    /// `verify` found tables that differ: exit 1.
    #[error("verify: {0}")]
    Differs(String),
    /// A bug (a task panicked): exit 1.
    #[error("internal error: {0}; please report it")]
    Internal(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) | CliError::Prompt(_) | CliError::Config(_) | CliError::Rules(_) => 2,
            _ => 1,
        }
    }
}

/// Runs a parsed command line.
pub async fn execute(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Run { config, pipeline, once } => run(config, pipeline, once).await,
        Command::Check { config, json } => check::check(config, json).await,
        Command::Status { config, json } => status::status(config, json).await,
        Command::Snapshot { config, pipeline, table } => snapshot::snapshot(config, pipeline, table).await,
        Command::Verify(args) => verify::verify(args).await,
        Command::Reset { config, pipeline, yes } => reset(config, pipeline, yes),
        Command::DeadLetters(command) => dead_letters::execute(command).await,
        Command::Bench(args) => bench::run(*args).await,
    }
}

fn selected<'a>(cfg: &'a Config, name: Option<&str>) -> Result<Vec<&'a PipelineConfig>, CliError> {
    match name {
        None => Ok(cfg.pipelines.iter().collect()),
        Some(n) => cfg.pipeline(n).map(|p| vec![p]).ok_or_else(|| {
            let names: Vec<_> = cfg.pipelines.iter().map(|p| p.name.as_str()).collect();
            CliError::Usage(format!(
                "{}: there is no pipeline `{n}`; the file defines: {}",
                cfg.path.display(),
                names.join(", ")
            ))
        }),
    }
}

/// Builds the source of a pipeline from its config.
pub fn open_source(cfg: &SourceConfig) -> Result<Box<dyn Source>, CliError> {
    match cfg {
        SourceConfig::Generate(g) => Ok(Box::new(GenerateSource::new(g.clone()))),
        SourceConfig::Postgres(p) => Ok(Box::new(PostgresSource::new(p.clone()))),
        SourceConfig::Mysql(m) => Ok(Box::new(MysqlSource::new(m.clone()))),
        SourceConfig::Mongodb(m) => Ok(Box::new(crate::sources::mongodb::MongodbSource::new(m.clone()))),
        SourceConfig::Kafka(k) => Ok(Box::new(crate::sources::kafka::KafkaSource::new(k.clone()))),
    }
}

/// Builds the targets of a pipeline from its config; database targets
/// connect now, so bad credentials fail at start. With `defer_unreachable`
/// (`run`), a target that is only unreachable (a transient error) does not
/// stop the start: it is connected by its lanes later (`sinks::deferred`).
pub async fn open_sinks(targets: &[TargetConfig], lanes: usize, defer_unreachable: bool) -> Result<Vec<Arc<dyn Sink>>, CliError> {
    open_routed_sinks(targets, &[], lanes, defer_unreachable).await
}

/// [`open_sinks`] for a pipeline run: `tables` (each target's `tables`,
/// same order) name the SQL targets in their progress rows, so two targets
/// of one pipeline writing into one database keep apart.
pub async fn open_routed_sinks(
    targets: &[TargetConfig],
    tables: &[Vec<String>],
    lanes: usize,
    defer_unreachable: bool,
) -> Result<Vec<Arc<dyn Sink>>, CliError> {
    let mut sinks: Vec<Arc<dyn Sink>> = Vec::with_capacity(targets.len());
    for (i, t) in targets.iter().enumerate() {
        let connect = connector(t.clone(), tables.get(i).cloned().unwrap_or_default(), lanes);
        sinks.push(if defer_unreachable { connect_or_defer(connect).await? } else { connect().await? });
    }
    Ok(sinks)
}

/// How to open one target (again, for a deferred one).
fn connector(t: TargetConfig, tables: Vec<String>, lanes: usize) -> Connect {
    Arc::new(move || {
        let t = t.clone();
        let tables = tables.clone();
        Box::pin(async move {
            Ok(match &t {
                TargetConfig::File(f) => Arc::new(FileSink::open(f)?) as Arc<dyn Sink>,
                TargetConfig::Stdout(_) => Arc::new(StdoutSink),
                TargetConfig::Discard => Arc::new(DiscardSink::default()),
                TargetConfig::Mysql(m) => Arc::new(
                    MysqlSink::connect(MysqlSinkConfig {
                        url: m.url.expose().to_string(),
                        namespace: m.database.clone(),
                        create_tables: m.create_tables,
                        lanes,
                    })
                    .await?
                    .with_progress(m.progress_schema.clone(), target_label(m.database.as_deref(), &tables)),
                ),
                TargetConfig::Postgres(p) => Arc::new(
                    PostgresSink::connect_with_origin(
                        PostgresSinkConfig {
                            url: p.url.expose().to_string(),
                            namespace: p.schema.clone(),
                            create_tables: p.create_tables,
                            lanes,
                        },
                        p.replication_origin.clone(),
                    )
                    .await?
                    .with_progress(p.progress_schema.clone(), target_label(p.schema.as_deref(), &tables)),
                ),
                TargetConfig::Mongodb(m) => Arc::new(crate::sinks::mongodb::MongodbSink::connect(m, lanes).await?),
                TargetConfig::Http(h) => Arc::new(crate::sinks::http::HttpSink::open(h)?),
                TargetConfig::Nats(n) => Arc::new(crate::sinks::nats::NatsSink::connect(n, lanes).await?),
                TargetConfig::Kafka(k) => Arc::new(crate::sinks::kafka::KafkaSink::connect(k).await?),
            })
        })
    })
}

async fn run(path: PathBuf, only: Option<String>, once: bool) -> Result<(), CliError> {
    let cfg = Config::load(&path)?;
    let pipelines = selected(&cfg, only.as_deref())?;
    let store = CheckpointStore::open(&cfg.state_dir)?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    tokio::spawn(forward_signals(shutdown_tx.clone()));

    let stats: Vec<Arc<PipelineStats>> = pipelines.iter().map(|p| Arc::new(PipelineStats::new(&p.name))).collect();
    // The admin endpoint (when configured) and the control socket in the
    // state dir, which this process now holds; the socket goes at return.
    let registry = Arc::new(Registry::new(stats.clone(), cfg.admin.as_ref().and_then(|a| a.ready_max_lag)));
    let _control = crate::admin::start(cfg.admin.as_ref(), &cfg.state_dir, registry).await?;
    // Bars or log lines for the initial copy (and, with --once, the catch-up).
    let display = progress::Display::start(stats.clone(), store.clone(), once, progress::Mode::for_stderr());
    let mut runs = Vec::new();
    for (p, stats) in pipelines.into_iter().zip(stats.iter().cloned()) {
        let stage = rules::stage(&cfg, p)?;
        if let Some(stage) = &stage {
            if let rules::Checked::Unreachable(why) = rules::check_source(&cfg, p, stage).await? {
                tracing::warn!(pipeline = %p.name, error = %why,
                    "the [[pipeline.table]] rules could not be checked against the source's tables (its start reports why)");
            }
        }
        let run = PipelineRun {
            name: p.name.clone(),
            apply: p.apply.clone(),
            source: open_source(&p.source)?,
            sinks: open_routed_sinks(&p.targets, &p.target_tables, p.apply.lanes, true).await?,
            store: store.clone(),
            once,
            shutdown: shutdown_rx.clone(),
            on_error: p.on_error,
            spool: p.spool,
            stats: stats.clone(),
            stage,
            routes: rules::routes(p),
        };
        runs.push(tokio::spawn(async move {
            let result = pipeline::run(run).await;
            stats.stopped(result.as_ref().err().map(|e| crate::ErrorChain(e).to_string()));
            result
        }));
    }
    // One failing pipeline stops the others cleanly, then the process fails.
    let mut first_error = None;
    let mut internal = None;
    // Said once the progress display is done, below its last lines.
    let mut said = Vec::new();
    for r in runs {
        match r.await {
            Ok(Ok(summary)) => {
                if once {
                    said.push(format!(
                        "logferry: applied {} records in {:.1}s; checkpoint at {}",
                        summary.applied,
                        summary.elapsed.as_secs_f64(),
                        summary.checkpoint.as_ref().map_or("(none)", |c| c.position.display.as_str())
                    ));
                }
                if summary.dead_lettered > 0 {
                    said.push(format!(
                        "logferry: {} record(s) set aside as dead letters; see `logferry dead-letters list --config {}`",
                        summary.dead_lettered,
                        path.display()
                    ));
                }
            }
            Ok(Err(e)) => {
                let _ = shutdown_tx.send(true);
                first_error.get_or_insert(e);
            }
            Err(join) => {
                let _ = shutdown_tx.send(true);
                internal.get_or_insert(format!("a pipeline task ended abnormally: {join}"));
            }
        }
    }
    drop(display);
    for line in said {
        eprintln!("{line}");
    }
    match (first_error, internal) {
        (Some(e), _) => Err(e.into()),
        (None, Some(msg)) => Err(CliError::Internal(msg)),
        (None, None) => Ok(()),
    }
}

/// First SIGINT/SIGTERM: clean shutdown. Second: stop at once (what is
/// checkpointed is durable; the rest is replayed on the next run).
async fn forward_signals(shutdown: watch::Sender<bool>) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops cleanly");
            let _ = tokio::signal::ctrl_c().await;
            let _ = shutdown.send(true);
            return;
        }
    };
    for n in 0.. {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        if n == 0 {
            tracing::info!("signal received: finishing in-flight batches and checkpointing (signal again to stop at once)");
            let _ = shutdown.send(true);
        } else {
            tracing::warn!("second signal: stopping now; the next run replays what was not checkpointed");
            std::process::exit(1);
        }
    }
}

/// Asks before forgetting a spool that has no checkpoint beside it.
fn confirm_spool_reset(pipeline: &str) -> Result<bool, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!(
            "reset of pipeline `{pipeline}` (it has a spool of undelivered records) needs confirmation: run it in a terminal, or add --yes"
        )));
    }
    eprint!("Forget the spool of pipeline `{pipeline}` (records read but not yet delivered)? Type the pipeline name to confirm: ");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(CliError::Prompt)?;
    Ok(answer.trim() == pipeline)
}

fn reset(path: PathBuf, pipeline: String, yes: bool) -> Result<(), CliError> {
    let cfg = Config::load(&path)?;
    let store = CheckpointStore::open(&cfg.state_dir)?;
    dead_letters::refuse_reset_with_dead_letters(&store, &pipeline)?;
    let Some(cp) = store.load(&pipeline)? else {
        // A spooled run killed before its first checkpoint leaves a spool alone.
        if store.has_spool(&pipeline)? {
            if !yes && !confirm_spool_reset(&pipeline)? {
                return Err(CliError::Usage("not confirmed; the spool is unchanged".into()));
            }
            store.reset(&pipeline)?;
            println!("pipeline `{pipeline}` had no checkpoint; its spool is forgotten");
            return Ok(());
        }
        println!("pipeline `{pipeline}` has no checkpoint; nothing to reset");
        return Ok(());
    };
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::Usage(format!(
                "reset of pipeline `{pipeline}` needs confirmation: run it in a terminal, or add --yes"
            )));
        }
        eprint!(
            "Forget the checkpoint of pipeline `{pipeline}` (position {}, seq {})? Its next run starts from the beginning. Type the pipeline name to confirm: ",
            cp.position.display, cp.seq
        );
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).map_err(CliError::Prompt)?;
        if answer.trim() != pipeline {
            return Err(CliError::Usage("not confirmed; the checkpoint is unchanged".into()));
        }
    }
    store.reset(&pipeline)?;
    println!(
        "checkpoint of pipeline `{pipeline}` forgotten (was {}); its next run numbers records anew, and SQL targets \
         delete the progress rows of this numbering at its first batch",
        cp.position.display
    );
    Ok(())
}
