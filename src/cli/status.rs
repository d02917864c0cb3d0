//! `logferry status [--json]`: each pipeline's state.
//!
//! While a `logferry run` holds the state dir (the sled store lets one
//! process at a time open it), `status` asks that process: over the
//! control socket in the state dir, or, when there is none (its path was
//! too long), at `[admin] listen`. It prints per pipeline the state (with
//! copy progress, rows/s and ETA; since when a target is retried; the
//! error it stopped with), the checkpoint and its age, the lag in seconds
//! and, where the source says, in bytes, records per second over the last
//! minute, dead letters, and per table its state and applied counts.
//! With no process running it reads the stored checkpoints and says so.
//! `--json` prints the running process's `/status` (see `crate::admin`),
//! or `{"running": false, …}` with the stored checkpoints.

use super::CliError;
use crate::admin::client::{self, ClientError, Endpoint};
use crate::admin::human_seconds;
use crate::checkpoint::{CheckpointError, CheckpointStore};
use crate::config::Config;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::time::SystemTime;

/// How long `status` waits for the control socket of a run that holds
/// the state dir (one that is starting binds it a moment after).
const STARTING_RUN_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

pub(super) async fn status(path: PathBuf, as_json: bool) -> Result<(), CliError> {
    let cfg = Config::load(&path)?;
    // The control socket first: asking it never disturbs a run.
    let socket = Endpoint::socket_of(&cfg.state_dir);
    match ask(&socket).await {
        Ok(body) => return live(&cfg, &body, as_json),
        Err(ClientError::Connect { .. }) => {}
        Err(e) => return Err(CliError::Live(crate::ErrorChain(&e).to_string())),
    }
    match CheckpointStore::open(&cfg.state_dir) {
        Ok(store) => stored(&cfg, &store, as_json),
        Err(CheckpointError::Locked { dir }) => {
            // A run that has just opened the store binds its socket next.
            let deadline = std::time::Instant::now() + STARTING_RUN_WAIT;
            while std::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                if let Ok(body) = ask(&socket).await {
                    return live(&cfg, &body, as_json);
                }
            }
            let held = format!(
                "state dir {} is held by another process, which does not answer on {socket}",
                dir.display()
            );
            let Some(admin) = &cfg.admin else {
                return Err(CliError::Live(format!(
                    "{held} (a `logferry run` still starting, or one of another version?); try again, or stop that process"
                )));
            };
            let tcp = Endpoint::admin(admin);
            match ask(&tcp).await {
                Ok(body) => live(&cfg, &body, as_json),
                Err(e) => Err(CliError::Live(format!("{held}, nor at [admin] listen: {}", crate::ErrorChain(&e)))),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /status` at `endpoint`: the JSON body.
async fn ask(endpoint: &Endpoint) -> Result<Value, ClientError> {
    let answer = client::request(endpoint, "GET", "/status", None).await?;
    let bad = |what: String| ClientError::BadAnswer { endpoint: endpoint.clone(), what };
    if answer.status != 200 {
        return Err(bad(format!("status {}", answer.status)));
    }
    serde_json::from_str(&answer.body).map_err(|e| bad(format!("not JSON: {e}")))
}

/// Prints what the running process said.
fn live(cfg: &Config, status: &Value, as_json: bool) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if as_json {
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(status).unwrap_or_default());
        return Ok(());
    }
    let up = (status["now_unix_ms"].as_u64().unwrap_or(0).saturating_sub(status["started_unix_ms"].as_u64().unwrap_or(0))) as f64 / 1000.0;
    let _ = writeln!(
        out,
        "logferry run (pid {}, up {}) holds {}",
        status["pid"],
        human_seconds(up),
        cfg.state_dir.display()
    );
    let pipelines = status["pipelines"].as_array().cloned().unwrap_or_default();
    for p in &pipelines {
        let _ = writeln!(out);
        print_pipeline(&mut out, p);
    }
    let running: Vec<&str> = pipelines.iter().filter_map(|p| p["name"].as_str()).collect();
    for p in cfg.pipelines.iter().filter(|p| !running.contains(&p.name.as_str())) {
        let _ = writeln!(out, "\npipeline {}: not running in this process (it was started with --pipeline)", p.name);
    }
    Ok(())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    }
}

/// `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1.5 MiB`.
fn bytes(b: u64) -> String {
    let mut v = b as f64;
    for unit in ["B", "KiB", "MiB", "GiB"] {
        if v < 1024.0 || unit == "GiB" {
            return if unit == "B" { format!("{b} B") } else { format!("{v:.1} {unit}") };
        }
        v /= 1024.0;
    }
    unreachable!()
}

fn print_pipeline(out: &mut impl Write, p: &Value) {
    let n = |k: &str| p[k].as_u64().unwrap_or(0);
    let _ = writeln!(out, "pipeline {}: {}", text(&p["name"]), text(&p["state"]));
    let summary = text(&p["summary"]);
    if summary != text(&p["state"]) {
        let _ = writeln!(out, "  {summary}");
    }
    let cp = &p["checkpoint"];
    let checkpoint = if cp.is_null() {
        "none yet".to_string()
    } else {
        let age = cp["age_seconds"].as_f64().map_or(String::new(), |a| format!(" ({} ago)", human_seconds(a)));
        format!("seq {} at {}{age}", cp["seq"], text(&cp["position"]))
    };
    let _ = writeln!(out, "  {:<14}{checkpoint}", "checkpoint");
    let lag = p["lag_seconds"].as_f64().unwrap_or(0.0);
    let mut lag_line = format!("{lag:.1}s");
    if let Some(b) = p["behind_bytes"].as_u64() {
        lag_line.push_str(&format!("; the source is {} behind the end of its log", bytes(b)));
    }
    if let Some(ms) = p["applied_through_unix_ms"].as_u64() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms);
        lag_line.push_str(&format!("; applied through {}", crate::record::format_utc(at)));
    }
    let _ = writeln!(out, "  {:<14}{lag_line}", "lag");
    let rate = p["records_per_second"].as_f64().map_or("-".to_string(), |r| format!("{r:.1}"));
    let _ = writeln!(
        out,
        "  {:<14}{rate} records/s over the last minute; {} applied, {} received",
        "throughput",
        grouped(n("records_applied")),
        grouped(n("records_received"))
    );
    let _ = writeln!(out, "  {:<14}{}", "dead letters", grouped(n("dead_letters")));
    if n("target_retries") > 0 || n("source_restarts") > 0 {
        let _ = writeln!(out, "  {:<14}{} target retries, {} source restarts", "retries", n("target_retries"), n("source_restarts"));
    }
    if let Some(b) = p["spool_bytes"].as_u64() {
        let _ = writeln!(out, "  {:<14}{}{}", "spool", bytes(b), if p["spool_full"] == json!(true) { " (full: the source waits)" } else { "" });
    }
    let tables = p["tables"].as_array().cloned().unwrap_or_default();
    if !tables.is_empty() {
        let _ = writeln!(out, "  {:<30} {:<10} PROGRESS / APPLIED", "TABLE", "STATE");
        for t in &tables {
            let applied: Vec<String> = t["applied"].as_object().map(|o| o.iter().map(|(op, n)| format!("{op} {n}")).collect()).unwrap_or_default();
            let mut what = Vec::new();
            if t["copy"].is_object() {
                what.push(text(&t["copy"]["text"]));
            }
            if !applied.is_empty() {
                what.push(applied.join(", "));
            }
            let _ = writeln!(out, "  {:<30} {:<10} {}", text(&t["table"]), text(&t["state"]), what.join("; "));
        }
    }
    for r in p["copy_requests"].as_array().cloned().unwrap_or_default() {
        let keys = r["keys"].as_u64().map_or("whole table".to_string(), |k| format!("{k} key(s)"));
        let mut state = text(&r["state"]);
        if let Some(rows) = r["rows"].as_u64() {
            state.push_str(&format!(", {rows} rows"));
        }
        if r["applied"] == json!(true) {
            state.push_str(", applied");
        }
        if let Some(e) = r["error"].as_str() {
            state.push_str(&format!(": {e}"));
        }
        let _ = writeln!(out, "  copy request #{} {} ({keys}): {state}", r["id"], text(&r["table"]));
    }
}

/// No process runs: the stored checkpoints.
fn stored(cfg: &Config, store: &CheckpointStore, as_json: bool) -> Result<(), CliError> {
    let now = SystemTime::now();
    let mut out = std::io::stdout().lock();
    let stored = store.pipelines()?;
    if as_json {
        let mut pipelines = Vec::new();
        for p in &cfg.pipelines {
            let checkpoint = store.load(&p.name)?.map(|cp| {
                json!({
                    "seq": cp.seq,
                    "position": cp.position.display,
                    "unix_ms": cp.updated_at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
                    "age_seconds": now.duration_since(cp.updated_at).unwrap_or_default().as_secs_f64(),
                })
            });
            pipelines.push(json!({"name": p.name, "source": p.source.kind(), "state": "not running", "checkpoint": checkpoint}));
        }
        let unknown: Vec<&String> = stored.iter().filter(|n| cfg.pipeline(n).is_none()).collect();
        let v = json!({"running": false, "state_dir": cfg.state_dir.display().to_string(), "pipelines": pipelines, "stored_not_in_config": unknown});
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(());
    }
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
    let _ = writeln!(
        out,
        "\nnot running: no `logferry run` holds {}; these are the stored checkpoints",
        cfg.state_dir.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!((grouped(0), grouped(999), grouped(1000), grouped(1_234_567)), ("0".into(), "999".into(), "1,000".into(), "1,234,567".into()));
        assert_eq!((bytes(512), bytes(1536), bytes(5 << 30)), ("512 B".into(), "1.5 KiB".into(), "5.0 GiB".into()));
    }
}
