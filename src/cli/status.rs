//! `logferry status`: each pipeline's checkpointed position.

use super::CliError;
use crate::checkpoint::CheckpointStore;
use crate::config::Config;
use std::io::Write;
use std::path::PathBuf;
use std::time::SystemTime;

pub(super) fn status(path: PathBuf) -> Result<(), CliError> {
    let cfg = Config::load(&path)?;
    let store = CheckpointStore::open(&cfg.state_dir)?;
    let now = SystemTime::now();
    let mut out = std::io::stdout().lock();
    let stored = store.pipelines()?;
    let _ = writeln!(out, "{:<20} {:<10} {:>12}  {:<24} POSITION", "PIPELINE", "SOURCE", "SEQ", "UPDATED (UTC)");
    for p in &cfg.pipelines {
        match store.load(&p.name)? {
            None => {
                let _ = writeln!(out, "{:<20} {:<10} {:>12}  {:<24} no checkpoint yet", p.name, p.source.kind(), "-", "-");
            }
            Some(cp) => {
                let age = now.duration_since(cp.updated_at).unwrap_or_default().as_secs();
                let _ = writeln!(
                    out,
                    "{:<20} {:<10} {:>12}  {:<24} {} ({age}s ago)",
                    p.name,
                    p.source.kind(),
                    cp.seq,
                    crate::record::format_utc(cp.updated_at),
                    cp.position.display
                );
            }
        }
    }
    for name in stored.iter().filter(|n| cfg.pipeline(n).is_none()) {
        let _ = writeln!(out, "{name:<20} (not in this config; `logferry reset --pipeline {name}` forgets it)");
    }
    Ok(())
}

