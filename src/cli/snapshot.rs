//! `logferry snapshot --table T`: asks the running `logferry run` to copy
//! one table again while it keeps streaming (`POST /copy` on its control
//! socket, or at `[admin] listen`), then follows the request until every
//! target applied the copy (exit 0) or the source reports it failed
//! (exit 1). The copy itself is the source's (see
//! `crate::sources::requests`); with no process running there is nothing
//! to ask, and the command says to start `logferry run` first.

use super::CliError;
use crate::admin::client::{self, ClientError, Endpoint};
use crate::config::Config;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How often the request's state is asked.
const POLL: Duration = Duration::from_millis(500);
/// How often an unchanged copy's row count is printed again.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// A request still queued after this gets a note on why that may be.
const QUEUED_NOTE_AFTER: Duration = Duration::from_secs(30);

pub(super) async fn snapshot(path: PathBuf, pipeline: Option<String>, table: String) -> Result<(), CliError> {
    let cfg = Config::load(&path)?;
    let pipeline = match pipeline {
        Some(p) => super::selected(&cfg, Some(&p))?[0].name.clone(),
        None if cfg.pipelines.len() == 1 => cfg.pipelines[0].name.clone(),
        None => {
            let names: Vec<&str> = cfg.pipelines.iter().map(|p| p.name.as_str()).collect();
            return Err(CliError::Usage(format!(
                "{} defines several pipelines ({}); say which with --pipeline",
                cfg.path.display(),
                names.join(", ")
            )));
        }
    };
    if table.trim().is_empty() {
        return Err(CliError::Usage("--table is empty; give the source table as schema.name".into()));
    }
    let head = json!({"pipeline": pipeline, "table": table}).to_string() + "\n";
    let (endpoint, answer) = submit(&cfg, &path, head.as_bytes()).await?;
    let reply: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    if answer.status != 200 {
        let why = reply["error"].as_str().map_or_else(|| answer.body.trim().to_string(), str::to_string);
        return Err(CliError::Live(format!("{endpoint} refused the copy request: {why}")));
    }
    let Some(id) = reply["id"].as_u64() else {
        return Err(CliError::Live(format!("{endpoint} answered without a request id: {}", answer.body.trim())));
    };
    println!("copy request #{id}: table {table} of pipeline {pipeline}, asked of {endpoint}");
    follow(&endpoint, &pipeline, &table, id).await
}

/// Sends the request to the control socket, else the admin address.
async fn submit(cfg: &Config, path: &std::path::Path, body: &[u8]) -> Result<(Endpoint, client::Answer), CliError> {
    let socket = Endpoint::socket_of(&cfg.state_dir);
    let mut tried = vec![socket.to_string()];
    match client::request(&socket, "POST", "/copy", Some(body)).await {
        Ok(a) => return Ok((socket, a)),
        Err(ClientError::Connect { .. }) => {}
        Err(e) => return Err(CliError::Live(crate::ErrorChain(&e).to_string())),
    }
    if let Some(admin) = &cfg.admin {
        let tcp = Endpoint::admin(admin);
        tried.push(tcp.to_string());
        match client::request(&tcp, "POST", "/copy", Some(body)).await {
            Ok(a) => return Ok((tcp, a)),
            Err(ClientError::Connect { .. }) => {}
            Err(e) => return Err(CliError::Live(crate::ErrorChain(&e).to_string())),
        }
    }
    Err(CliError::Live(format!(
        "no logferry run answers for state dir {} (tried {}): `snapshot` asks a running process to copy the table while it streams; start `logferry run --config {}` first",
        cfg.state_dir.display(),
        tried.join(" and "),
        path.display()
    )))
}

/// Polls the request until it is applied or failed, printing progress.
async fn follow(endpoint: &Endpoint, pipeline: &str, table: &str, id: u64) -> Result<(), CliError> {
    let target = format!("/copy?pipeline={pipeline}&id={id}");
    let started = Instant::now();
    let mut last_line = String::new();
    let mut last_print = Instant::now();
    let mut noted = false;
    loop {
        let answer = client::request(endpoint, "GET", &target, None).await.map_err(|e| {
            CliError::Live(format!(
                "{}; the run stopped before copy request #{id} finished (a new run does not know it: ask again)",
                crate::ErrorChain(&e)
            ))
        })?;
        let v: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        if answer.status != 200 {
            let why = v["error"].as_str().map_or_else(|| answer.body.trim().to_string(), str::to_string);
            return Err(CliError::Live(format!("{endpoint}: {why}")));
        }
        let rows = v["rows"].as_u64().unwrap_or(0);
        let line = match v["state"].as_str().unwrap_or("") {
            "queued" => {
                if !noted && started.elapsed() >= QUEUED_NOTE_AFTER {
                    noted = true;
                    println!(
                        "still queued after {}s: the source has not taken the request (a source that cannot copy while streaming leaves it queued); Ctrl-C stops waiting",
                        QUEUED_NOTE_AFTER.as_secs()
                    );
                }
                "queued: waiting for the source to take it".to_string()
            }
            "copying" => format!("copying: {rows} rows emitted"),
            "emitted" if v["applied"] == json!(true) => {
                println!("done: {rows} rows of {table} copied and applied by every target in {:.1}s", started.elapsed().as_secs_f64());
                return Ok(());
            }
            "emitted" => format!("emitted {rows} rows; waiting until every target applied them"),
            "failed" => {
                let why = v["error"].as_str().unwrap_or("no reason given");
                return Err(CliError::Live(format!("copy request #{id} of table {table} failed: {why}")));
            }
            other => return Err(CliError::Live(format!("{endpoint} reports copy request #{id} in an unknown state {other:?}"))),
        };
        if line != last_line || last_print.elapsed() >= PROGRESS_EVERY {
            if line != last_line || line.starts_with("copying") {
                println!("{line}");
            }
            last_line = line;
            last_print = Instant::now();
        }
        tokio::time::sleep(POLL).await;
    }
}
