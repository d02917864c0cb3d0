//! Running the real `logferry` binary in a scratch folder.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A scratch folder with a config file in it.
pub struct Scratch {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Scratch {
    /// Writes `config` (TOML) as `logferry.toml` in a new temp folder.
    pub fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logferry.toml");
        std::fs::write(&path, config).unwrap();
        Scratch { dir, config: path }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `logferry <args…> --config <this config>`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_logferry"));
        cmd.args(args).arg("--config").arg(&self.config).current_dir(self.dir.path());
        cmd.env("LOGFERRY_LOG", "info").stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }
}

impl Scratch {
    /// One crash round: starts `logferry run`, waits `wait`, SIGKILLs it if
    /// it is still running, and checks that it did not fail on its own.
    /// Returns whether it was killed.
    pub fn run_and_kill(&self, wait: std::time::Duration) -> bool {
        let mut child = self.spawn(&["run"]);
        std::thread::sleep(wait);
        let killed = child.try_wait().unwrap().is_none();
        if killed {
            child.kill().unwrap(); // SIGKILL
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.code().is_none() || out.status.success(), "run failed: {}", text(&out.stderr));
        killed
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Parses a JSON-lines file of canonical records.
pub fn read_json_lines(path: &Path) -> Vec<logferry::record::Change> {
    let data = std::fs::read(path).unwrap_or_default();
    data.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| logferry::record::json::read_change(l).unwrap_or_else(|e| panic!("bad line {}: {e}", text(l))))
        .collect()
}

/// A config with a generate source and a file target.
pub fn generate_config(total: u64, extra_source: &str, format: &str) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "gen"
[pipeline.source]
kind = "generate"
total = {total}
tables = 3
keys = 200
tx_size = 10
row_bytes = 16
seed = 5
{extra_source}
[[pipeline.target]]
kind = "file"
path = "out/changes.{ext}"
format = "{format}"
[pipeline.apply]
lanes = 4
batch_max_rows = 200
batch_max_wait = "2ms"
checkpoint_interval = "10ms"
"#,
        ext = if format == "json" { "jsonl" } else { "pb" }
    )
}
