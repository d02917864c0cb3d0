//! Running a pipeline in the test's process, so a test can hand its source
//! copy requests (what `logferry snapshot` and `verify --repair` send) and
//! watch their states.

use logferry::pipeline::{PipelineError, PipelineStats, RunSummary};
use logferry::sources::requests::CopyState;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A continuous run of the first pipeline of a config file.
pub struct InProcess {
    pub stats: Arc<PipelineStats>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<RunSummary, PipelineError>>,
}

impl InProcess {
    /// Starts the first pipeline of `config` on `rt` (no rules, every target).
    pub fn start(rt: &tokio::runtime::Runtime, config: &Path) -> Self {
        let cfg = logferry::config::Config::load(config).unwrap();
        let stats = Arc::new(PipelineStats::new(&cfg.pipelines[0].name));
        let (shutdown, rx) = tokio::sync::watch::channel(false);
        let task = rt.spawn({
            let stats = stats.clone();
            async move {
                let p = &cfg.pipelines[0];
                logferry::pipeline::run(logferry::pipeline::PipelineRun {
                    name: p.name.clone(),
                    apply: p.apply.clone(),
                    source: logferry::cli::open_source(&p.source).unwrap(),
                    sinks: logferry::cli::open_sinks(&p.targets, p.apply.lanes, false).await.unwrap(),
                    store: logferry::checkpoint::CheckpointStore::open(&cfg.state_dir).unwrap(),
                    once: false,
                    shutdown: rx,
                    on_error: p.on_error,
                    spool: p.spool,
                    stats,
                    stage: None,
                    routes: Vec::new(),
                })
                .await
            }
        });
        InProcess { stats, shutdown, task }
    }

    /// Waits until request `id` is applied by every target (panics when it
    /// fails or takes more than 90 s).
    pub fn wait_applied(&self, rt: &tokio::runtime::Runtime, id: u64) {
        rt.block_on(async {
            let deadline = Instant::now() + Duration::from_secs(90);
            loop {
                match self.stats.requests.state(id) {
                    Some(CopyState::Emitted { applied: true, .. }) => return,
                    Some(CopyState::Failed(e)) => panic!("request {id} failed: {e}"),
                    other => assert!(Instant::now() < deadline, "request {id} still {other:?}"),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }

    /// Stops the run cleanly; panics if it failed.
    pub fn stop(self, rt: &tokio::runtime::Runtime) {
        self.shutdown.send(true).unwrap();
        rt.block_on(self.task).unwrap().unwrap();
    }
}
