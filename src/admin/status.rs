//! `/health`, `/ready` and `/status`: what each pipeline is doing, as
//! probes and as the JSON that `logferry status`, the status page and
//! `logferry verify` read (its fields are listed in the module docs of
//! [`crate::admin`]).

use super::Registry;
use crate::pipeline::{PipelineStats, StatsSnapshot};
use crate::record::format_utc;
use crate::sources::requests::CopyState;
use crate::sources::TableCopy;
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Window of the records-per-second figure.
const RATE_WINDOW: Duration = Duration::from_secs(60);

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Problems `/health` reports for one pipeline.
fn problems(name: &str, s: &StatsSnapshot) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Some(e)) = &s.stopped {
        out.push(format!("pipeline `{name}` stopped: {e}"));
    }
    if let Some(since) = s.failing_since {
        out.push(format!("pipeline `{name}`: a target is unavailable ({} lane(s) retrying since {})", s.failing_lanes, format_utc(since)));
    }
    if s.spool_full {
        out.push(format!("pipeline `{name}`: the spool is full; the source waits"));
    }
    out
}

/// How far one table copy got, with its rate and what is left.
struct CopyProgress<'a> {
    c: &'a TableCopy,
    seconds: f64,
    rows_per_second: Option<f64>,
    /// Chunks in all: estimated from the rows per chunk so far and the
    /// table's estimated rows (the sources cut chunks by rows).
    chunks_total: Option<u64>,
    eta_seconds: Option<f64>,
}

impl<'a> CopyProgress<'a> {
    fn of(c: &'a TableCopy, now: Instant) -> Self {
        let seconds = c.finished.unwrap_or(now).saturating_duration_since(c.started).as_secs_f64();
        let rows_per_second = (seconds > 0.0 && c.rows > 0).then(|| c.rows as f64 / seconds);
        let chunks_total = match (c.done, c.estimate) {
            (true, _) => Some(c.chunks),
            (false, Some(est)) if c.rows > 0 && c.chunks > 0 => {
                Some(((c.chunks as f64 * est as f64 / c.rows as f64).ceil() as u64).max(c.chunks))
            }
            _ => None,
        };
        let eta_seconds = match (c.done, c.estimate, rows_per_second) {
            (true, _, _) => Some(0.0),
            (false, Some(est), Some(rate)) => Some(est.saturating_sub(c.rows) as f64 / rate),
            _ => None,
        };
        CopyProgress { c, seconds, rows_per_second, chunks_total, eta_seconds }
    }

    /// `copying 3/~10 chunks, 30000/~100000 rows, 5000 rows/s, ETA 14s`.
    fn text(&self) -> String {
        let c = self.c;
        if c.done {
            return format!("copied {} rows in {:.1}s", c.rows, self.seconds);
        }
        let mut t = match self.chunks_total {
            Some(total) => format!("copying {}/~{total} chunks", c.chunks),
            None => format!("copying chunk {}", c.chunks + 1),
        };
        match c.estimate {
            Some(e) => t.push_str(&format!(", {}/~{e} rows", c.rows)),
            None => t.push_str(&format!(", {} rows", c.rows)),
        }
        if let Some(r) = self.rows_per_second {
            t.push_str(&format!(", {r:.0} rows/s"));
        }
        if let Some(eta) = self.eta_seconds {
            t.push_str(&format!(", ETA {}", human_seconds(eta)));
        }
        t
    }

    fn json(&self) -> Value {
        json!({
            "rows": self.c.rows,
            "estimate": self.c.estimate,
            "chunks": self.c.chunks,
            "chunks_total_estimate": self.chunks_total,
            "done": self.c.done,
            "seconds": self.seconds,
            "rows_per_second": self.rows_per_second,
            "eta_seconds": self.eta_seconds,
            "text": self.text(),
        })
    }
}

/// `42s`, `3m05s`, `2h07m`.
pub fn human_seconds(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        0..=99 => format!("{s}s"),
        100..=5999 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

/// A pipeline's state word and the line that explains it.
fn state(s: &StatsSnapshot, copies: &[CopyProgress]) -> (&'static str, String) {
    if let Some(stopped) = &s.stopped {
        return match stopped {
            None => ("stopped", "stopped cleanly".into()),
            Some(e) => ("failed", format!("stopped with an error: {e}")),
        };
    }
    if let Some(since) = s.failing_since {
        return ("retrying", format!("retrying a target since {} ({} lane(s))", format_utc(since), s.failing_lanes));
    }
    let copying: Vec<&CopyProgress> = copies.iter().filter(|c| !c.c.done).collect();
    if !copying.is_empty() {
        let parts: Vec<String> = copying.iter().map(|c| format!("{}: {}", c.c.table, c.text())).collect();
        return ("copying", parts.join("; "));
    }
    if s.records == 0 {
        return ("starting", "waiting for the source's first record".into());
    }
    ("streaming", "streaming".into())
}

impl Registry {
    /// `/health`: status code and JSON body.
    pub fn health(&self) -> (u16, String) {
        let snapshots: Vec<StatsSnapshot> = self.pipelines.iter().map(|p| p.snapshot()).collect();
        let problems: Vec<String> = self.pipelines.iter().zip(&snapshots).flat_map(|(p, s)| problems(&p.name, s)).collect();
        let mut pipelines = serde_json::Map::new();
        for (p, s) in self.pipelines.iter().zip(&snapshots) {
            pipelines.insert(
                p.name.clone(),
                json!({
                    "records_received": s.records,
                    "records_applied": s.applied,
                    "dead_letters": s.dead_lettered,
                    "checkpoint_seq": s.checkpoint_seq,
                    "source_restarts": s.source_restarts,
                    "target_failing_lanes": s.failing_lanes,
                    "spool_bytes": s.spool_bytes.unwrap_or(0),
                }),
            );
        }
        let healthy = problems.is_empty();
        let body = json!({
            "status": if healthy { "ok" } else { "unhealthy" },
            "problems": problems,
            "pipelines": pipelines,
            "started": format_utc(self.started),
        });
        (if healthy { 200 } else { 503 }, format!("{body}\n"))
    }

    /// `/ready`: 200 once every pipeline's source has sent something, its
    /// copies are done and its lag is within `ready_max_lag`; 503 with the
    /// reasons otherwise.
    pub fn ready(&self) -> (u16, String) {
        let now = SystemTime::now();
        let mut reasons = Vec::new();
        for p in &self.pipelines {
            let s = p.snapshot();
            if let Some(stopped) = &s.stopped {
                reasons.push(match stopped {
                    None => format!("pipeline `{}` stopped", p.name),
                    Some(e) => format!("pipeline `{}` stopped: {e}", p.name),
                });
                continue;
            }
            if s.records == 0 {
                reasons.push(format!("pipeline `{}`: waiting for the source's first record", p.name));
            }
            for c in p.source.copies().iter().filter(|c| !c.done) {
                let of = c.estimate.map_or(String::new(), |e| format!(" of ~{e}"));
                reasons.push(format!("pipeline `{}`: copying table {} ({} rows{of} so far)", p.name, c.table, c.rows));
            }
            if let Some(max) = self.ready_max_lag {
                let lag = s.lag(now);
                if lag > max {
                    reasons.push(format!(
                        "pipeline `{}`: lag {:.1}s exceeds [admin] ready_max_lag ({:.1}s)",
                        p.name,
                        lag.as_secs_f64(),
                        max.as_secs_f64()
                    ));
                }
            }
        }
        let ready = reasons.is_empty();
        let body = json!({"ready": ready, "reasons": reasons});
        (if ready { 200 } else { 503 }, format!("{body}\n"))
    }

    /// `/status`: every pipeline's state, progress and history as JSON.
    pub fn status(&self) -> Value {
        let now = SystemTime::now();
        let pipelines: Vec<Value> = self.pipelines.iter().map(|p| pipeline_status(p, now)).collect();
        json!({
            "running": true,
            "pid": std::process::id(),
            "version": env!("CARGO_PKG_VERSION"),
            "started_unix_ms": unix_ms(self.started),
            "now_unix_ms": unix_ms(now),
            "sample_interval_seconds": crate::pipeline::SAMPLE_INTERVAL.as_secs(),
            "history_seconds": crate::pipeline::HISTORY_SPAN.as_secs(),
            "ready_max_lag_seconds": self.ready_max_lag.map(|d| d.as_secs_f64()),
            "pipelines": pipelines,
        })
    }
}

/// One pipeline of `/status`.
fn pipeline_status(p: &PipelineStats, now: SystemTime) -> Value {
    let s = p.snapshot();
    let instant = Instant::now();
    let copies = p.source.copies();
    let progress: Vec<CopyProgress> = copies.iter().map(|c| CopyProgress::of(c, instant)).collect();
    let (state, summary) = state(&s, &progress);
    let current = p.sample_now();
    let rate = p.history().applied_rate(&current, RATE_WINDOW);

    // Tables: those copied (in the order started), then those only streamed.
    let ops = p.table_ops();
    let mut tables: Vec<Value> = Vec::new();
    let applied_of = |t: &str| {
        let map: serde_json::Map<String, Value> =
            ops.iter().find(|(name, _)| name == t).map(|(_, o)| o.iter().map(|(op, n)| (op.clone(), json!(n))).collect()).unwrap_or_default();
        Value::Object(map)
    };
    for c in &progress {
        tables.push(json!({
            "table": c.c.table,
            "state": if c.c.done { "streaming" } else { "copying" },
            "copy": c.json(),
            "applied": applied_of(&c.c.table),
        }));
    }
    for (t, _) in ops.iter().filter(|(t, _)| !copies.iter().any(|c| &c.table == t)) {
        tables.push(json!({"table": t, "state": "streaming", "copy": null, "applied": applied_of(t)}));
    }
    let requests: Vec<Value> = p.requests.list().into_iter().map(|(r, st)| request_json(r.id, &r.table, r.keys.as_ref().map(Vec::len), &st)).collect();
    let history: Vec<Value> = p
        .history()
        .points()
        .iter()
        .map(|pt| json!({"t": pt.at_ms, "applied_per_s": pt.applied_per_s, "received_per_s": pt.received_per_s, "lag_s": pt.lag_s}))
        .collect();
    let latency = p.latency();
    json!({
        "name": p.name,
        "state": state,
        "summary": summary,
        "error": s.stopped.clone().flatten(),
        "retrying_since_unix_ms": s.failing_since.map(unix_ms),
        "failing_lanes": s.failing_lanes,
        "records_received": s.records,
        "records_applied": s.applied,
        "dead_letters": s.dead_lettered,
        "records_filtered": s.filtered,
        "records_invalid": s.invalid,
        "target_retries": s.target_retries,
        "source_restarts": s.source_restarts,
        "records_per_second": rate,
        "lag_seconds": s.lag(now).as_secs_f64(),
        "behind_bytes": p.source.behind_bytes(),
        "applied_through_unix_ms": s.applied_through.map(unix_ms),
        "checkpoint": (s.checkpoint_at.is_some() || s.checkpoint_seq > 0).then(|| json!({
            "seq": s.checkpoint_seq,
            "position": s.checkpoint_position,
            "unix_ms": s.checkpoint_at.map(unix_ms),
            "age_seconds": s.checkpoint_at.map(|at| now.duration_since(at).unwrap_or_default().as_secs_f64()),
        })),
        "spool_bytes": s.spool_bytes,
        "spool_full": s.spool_full,
        "commit_latency_ms": {"count": latency.count, "p50": latency.p50_ms, "p99": latency.p99_ms, "max": latency.max_ms},
        "tables": tables,
        "copy_requests": requests,
        "history": history,
    })
}

/// A copy request as JSON (`/status` and `GET /copy`).
pub fn request_json(id: u64, table: &str, keys: Option<usize>, state: &CopyState) -> Value {
    let (word, rows, applied, error) = match state {
        CopyState::Queued => ("queued", None, false, None),
        CopyState::Copying { rows } => ("copying", Some(*rows), false, None),
        CopyState::Emitted { rows, applied } => ("emitted", Some(*rows), *applied, None),
        CopyState::Failed(e) => ("failed", None, false, Some(e.clone())),
    };
    json!({"id": id, "table": table, "keys": keys, "state": word, "rows": rows, "applied": applied, "error": error})
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn health_turns_unhealthy_while_a_target_fails_or_a_pipeline_stopped_with_an_error() {
        let a = Arc::new(PipelineStats::new("shop"));
        let b = Arc::new(PipelineStats::new("we\"ird"));
        let reg = Registry::new(vec![a.clone(), b.clone()], None);
        let (code, body) = reg.health();
        assert_eq!(code, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!((v["status"].as_str(), v["problems"].as_array().map(Vec::len)), (Some("ok"), Some(0)), "{body}");
        assert!(body.contains("\"we\\\"ird\":{"), "names are escaped: {body}");
        let failing = a.targets.lane_failing();
        let second = a.targets.lane_failing();
        let (code, body) = reg.health();
        assert_eq!(code, 503);
        assert!(body.contains("pipeline `shop`: a target is unavailable (2 lane(s) retrying since"), "{body}");
        drop(failing);
        drop(second);
        assert_eq!(reg.health().0, 200, "back when the lanes recovered");
        b.stopped(Some("target x: boom".into()));
        let (code, body) = reg.health();
        assert_eq!(code, 503);
        assert!(body.contains("stopped: target x: boom"), "{body}");
        a.spool_full(true);
        assert!(reg.health().1.contains("the spool is full"));
    }

    #[test]
    fn ready_waits_for_the_first_record_the_copies_and_a_small_enough_lag() {
        let a = Arc::new(PipelineStats::new("shop"));
        let reg = Registry::new(vec![a.clone()], Some(Duration::from_secs(30)));
        let (code, body) = reg.ready();
        assert_eq!(code, 503);
        assert!(body.contains("waiting for the source's first record"), "{body}");
        a.received();
        a.source.copy_started("public.orders", Some(10));
        let (code, body) = reg.ready();
        assert_eq!(code, 503);
        assert!(body.contains("copying table public.orders (0 rows of ~10 so far)"), "{body}");
        a.source.copy_chunk("public.orders", 10, true);
        assert_eq!(reg.ready().0, 200, "{}", reg.ready().1);
        // A record in flight committed a minute ago: lag 60 s > 30 s.
        let minute_ago = unix_ms(SystemTime::now() - Duration::from_secs(60));
        a.progress(0, minute_ago);
        let (code, body) = reg.ready();
        assert_eq!(code, 503);
        assert!(body.contains("exceeds [admin] ready_max_lag (30.0s)"), "{body}");
        a.progress(minute_ago, 0);
        assert_eq!(reg.ready().0, 200, "nothing in flight: no lag");
        a.stopped(None);
        assert_eq!(reg.ready().0, 503);
    }

    #[test]
    fn status_names_the_state_and_the_copy_progress() {
        let a = Arc::new(PipelineStats::new("shop"));
        let reg = Registry::new(vec![a.clone()], None);
        a.received();
        a.source.copy_started("public.orders", Some(1000));
        a.source.copy_chunk("public.orders", 100, false);
        a.source.copy_chunk("public.orders", 100, false);
        let v = reg.status();
        let p = &v["pipelines"][0];
        assert_eq!(p["state"], "copying", "{v}");
        let t = &p["tables"][0];
        assert_eq!((t["table"].as_str(), t["state"].as_str()), (Some("public.orders"), Some("copying")));
        assert_eq!(t["copy"]["chunks_total_estimate"], 10, "2 chunks of 100 rows, ~1000 rows: {t}");
        assert!(t["copy"]["text"].as_str().unwrap().starts_with("copying 2/~10 chunks, 200/~1000 rows"), "{t}");
        a.source.copy_chunk("public.orders", 800, true);
        let id = a.requests.submit("public.orders", None);
        let v = reg.status();
        let p = &v["pipelines"][0];
        assert_eq!(p["state"], "streaming");
        assert_eq!(p["copy_requests"][0], json!({"id": id, "table": "public.orders", "keys": null, "state": "queued", "rows": null, "applied": false, "error": null}));
        assert_eq!(p["applied_through_unix_ms"], Value::Null);
        a.progress(1234, 0);
        assert_eq!(reg.status()["pipelines"][0]["applied_through_unix_ms"], 1234);
        let _failing = a.targets.lane_failing();
        assert_eq!(reg.status()["pipelines"][0]["state"], "retrying");
    }

    #[test]
    fn human_seconds_reads_well() {
        assert_eq!((human_seconds(42.4), human_seconds(185.0), human_seconds(7620.0)), ("42s".into(), "3m05s".into(), "2h07m".into()));
    }
}
