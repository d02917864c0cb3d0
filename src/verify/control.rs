//! What `verify` asks a running `logferry run` over its control socket
//! `<state_dir>/logferry.sock` (through `admin::client`).
//!
//! - `GET /status`: JSON with, per pipeline, `applied_through_unix_ms` —
//!   the source time up to which everything is applied to every target.
//! - `POST /copy`: JSON lines, `{"pipeline":…,"table":…}` then one record
//!   per key; the answer is `{"id":N}`.
//! - `GET /copy?pipeline=P&id=N`: that request's state.
//!
//! The answers are read leniently (the fields are looked for wherever they
//! are in the JSON).

use super::VerifyError;
use std::path::{Path, PathBuf};

/// The socket's file name in the state dir.
pub const SOCKET_NAME: &str = crate::admin::SOCKET_NAME;

/// The control endpoint of a running process.
#[derive(Debug, Clone)]
pub struct Control {
    socket: PathBuf,
}

/// A copy request's state, as far as verify needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyProgress {
    /// Not done yet.
    Pending,
    /// Emitted, and the checkpoint passed the rows (durable in every target).
    Applied,
    /// The source could not do it.
    Failed(String),
}

impl Control {
    /// The endpoint of a process holding `state_dir`, if one answers:
    /// `None` when the socket is absent or refuses (no process runs).
    pub async fn probe(state_dir: &Path) -> Option<Control> {
        let socket = state_dir.join(SOCKET_NAME);
        if !socket.exists() {
            return None;
        }
        let c = Control { socket };
        match c.request("GET", "/status", None).await {
            Ok((200, _)) => Some(c),
            Ok((code, _)) => {
                tracing::warn!(code, "the control socket answered /status with an error; treating the pipeline as not running");
                None
            }
            Err(e) => {
                tracing::debug!(error = %e, "no process answers on the control socket");
                None
            }
        }
    }

    /// `applied_through_unix_ms` of `pipeline`, when the process reports it.
    pub async fn applied_through(&self, pipeline: &str) -> Result<Option<u64>, VerifyError> {
        let (code, body) = self.request("GET", "/status", None).await?;
        if code != 200 {
            return Err(self.failed("GET /status", code, &body));
        }
        let json: serde_json::Value = serde_json::from_slice(&body).map_err(|e| self.bad("GET /status", e))?;
        Ok(find_pipeline_field(&json, pipeline, "applied_through_unix_ms").and_then(|v| v.as_u64()))
    }

    /// Submits a copy request; returns its id.
    pub async fn post_copy(&self, body: Vec<u8>) -> Result<u64, VerifyError> {
        let (code, answer) = self.request("POST", "/copy", Some(body)).await?;
        if !(200..300).contains(&code) {
            return Err(self.failed("POST /copy", code, &answer));
        }
        let json: serde_json::Value = serde_json::from_slice(&answer).map_err(|e| self.bad("POST /copy", e))?;
        json.get("id").and_then(|v| v.as_u64()).ok_or_else(|| {
            VerifyError::Control(format!("POST /copy answered without an id: {}", String::from_utf8_lossy(&answer)))
        })
    }

    /// The state of copy request `id` of `pipeline`.
    pub async fn copy_state(&self, pipeline: &str, id: u64) -> Result<CopyProgress, VerifyError> {
        let path = format!("/copy?pipeline={}&id={id}", percent(pipeline));
        let (code, body) = self.request("GET", &path, None).await?;
        if code != 200 {
            return Err(self.failed("GET /copy", code, &body));
        }
        let json: serde_json::Value = serde_json::from_slice(&body).map_err(|e| self.bad("GET /copy", e))?;
        Ok(copy_progress(&json))
    }

    fn failed(&self, what: &str, code: u16, body: &[u8]) -> VerifyError {
        VerifyError::Control(format!("{what} on {} answered {code}: {}", self.socket.display(), String::from_utf8_lossy(body).trim()))
    }

    fn bad(&self, what: &str, e: serde_json::Error) -> VerifyError {
        VerifyError::Control(format!("{what} on {} answered with JSON that cannot be read: {e}", self.socket.display()))
    }

    /// One exchange through the admin endpoint's client: (status code, body).
    async fn request(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Result<(u16, Vec<u8>), VerifyError> {
        let endpoint = crate::admin::client::Endpoint::Unix(self.socket.clone());
        crate::admin::client::request(&endpoint, method, path, body.as_deref())
            .await
            .map(|a| (a.status, a.body.into_bytes()))
            .map_err(|e| VerifyError::Control(format!("{method} {path}: {}", crate::ErrorChain(&e))))
    }
}

/// Percent-encodes a query value.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `field` of the pipeline called `pipeline`, wherever it sits: an object
/// whose `name` (or `pipeline`) is the pipeline, or the value under a key
/// named after it.
fn find_pipeline_field<'a>(json: &'a serde_json::Value, pipeline: &str, field: &str) -> Option<&'a serde_json::Value> {
    match json {
        serde_json::Value::Object(map) => {
            let named = ["name", "pipeline"].iter().any(|k| map.get(*k).and_then(|v| v.as_str()) == Some(pipeline));
            if named {
                if let Some(v) = map.get(field) {
                    return Some(v);
                }
            }
            if let Some(v) = map.get(pipeline).and_then(|p| p.get(field)) {
                return Some(v);
            }
            map.values().find_map(|v| find_pipeline_field(v, pipeline, field))
        }
        serde_json::Value::Array(items) => items.iter().find_map(|v| find_pipeline_field(v, pipeline, field)),
        _ => None,
    }
}

/// Reads a copy request's state: failed (a `failed` state or an `error`
/// text), applied (`applied: true`), or still pending.
fn copy_progress(json: &serde_json::Value) -> CopyProgress {
    fn find<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
        match v {
            serde_json::Value::Object(m) => m.get(key).or_else(|| m.values().find_map(|x| find(x, key))),
            serde_json::Value::Array(a) => a.iter().find_map(|x| find(x, key)),
            _ => None,
        }
    }
    let state = find(json, "state").and_then(|s| s.as_str()).unwrap_or_default().to_ascii_lowercase();
    if state == "failed" || find(json, "failed").is_some() {
        let why = find(json, "error").or_else(|| find(json, "failed")).or_else(|| find(json, "message"));
        return CopyProgress::Failed(why.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).unwrap_or_else(|| json.to_string()));
    }
    if find(json, "applied").and_then(|v| v.as_bool()) == Some(true) {
        return CopyProgress::Applied;
    }
    CopyProgress::Pending
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn pipeline_fields_are_found_in_any_nesting() {
        let a = serde_json::json!({"pipelines": [{"name": "x", "applied_through_unix_ms": 1}, {"name": "shop", "applied_through_unix_ms": 42}]});
        assert_eq!(find_pipeline_field(&a, "shop", "applied_through_unix_ms"), Some(&serde_json::json!(42)));
        let b = serde_json::json!({"pipelines": {"shop": {"applied_through_unix_ms": 7}}});
        assert_eq!(find_pipeline_field(&b, "shop", "applied_through_unix_ms"), Some(&serde_json::json!(7)));
        assert_eq!(find_pipeline_field(&b, "other", "applied_through_unix_ms"), None);
    }

    /// Answers each connection on `socket` with the next of `answers`,
    /// and hands back the requests it read.
    fn serve(socket: &Path, answers: Vec<&'static str>) -> tokio::task::JoinHandle<Vec<String>> {
        let listener = tokio::net::UnixListener::bind(socket).unwrap();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            for a in answers {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 64 * 1024];
                let mut got = Vec::new();
                // The request ends with its body (Content-Length) or the blank line.
                loop {
                    let n = conn.read(&mut buf).await.unwrap();
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text.lines().find_map(|l| l.strip_prefix("Content-Length: ")).and_then(|v| v.trim().parse::<usize>().ok());
                        if got.len() >= end + 4 + len.unwrap_or(0) {
                            break;
                        }
                    }
                }
                seen.push(String::from_utf8_lossy(&got).to_string());
                conn.write_all(a.as_bytes()).await.unwrap();
                conn.shutdown().await.unwrap();
            }
            seen
        })
    }

    #[tokio::test]
    async fn the_client_speaks_http_over_the_unix_socket() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Control::probe(dir.path()).await.is_none(), "no socket: no process runs");
        let status = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n{\"pipelines\":[{\"name\":\"shop\",\"applied_through_unix_ms\":42}]}";
        let server = serve(
            &dir.path().join(SOCKET_NAME),
            vec![
                status,
                status,
                "HTTP/1.1 202 Accepted\r\nContent-Length: 8\r\n\r\n{\"id\":7}",
                "HTTP/1.1 200 OK\r\nContent-Length: 44\r\n\r\n{\"id\":7,\"state\":\"emitted\",\"applied\":true}   ",
            ],
        );
        let c = Control::probe(dir.path()).await.expect("the endpoint answers");
        assert_eq!(c.applied_through("shop").await.unwrap(), Some(42));
        assert_eq!(c.post_copy(b"{\"pipeline\":\"shop\"}\n".to_vec()).await.unwrap(), 7);
        assert_eq!(c.copy_state("shop", 7).await.unwrap(), CopyProgress::Applied);
        let seen = server.await.unwrap();
        assert!(seen[0].starts_with("GET /status HTTP/1.1\r\n"), "{:?}", seen[0]);
        assert!(seen[2].starts_with("POST /copy HTTP/1.1\r\n") && seen[2].ends_with("\r\n\r\n{\"pipeline\":\"shop\"}\n"), "{:?}", seen[2]);
        assert!(seen[3].starts_with("GET /copy?pipeline=shop&id=7 HTTP/1.1\r\n"), "{:?}", seen[3]);
    }

    #[test]
    fn copy_states() {
        assert_eq!(copy_progress(&serde_json::json!({"id": 1, "state": "queued"})), CopyProgress::Pending);
        assert_eq!(copy_progress(&serde_json::json!({"state": "emitted", "rows": 3, "applied": false})), CopyProgress::Pending);
        assert_eq!(copy_progress(&serde_json::json!({"state": "emitted", "rows": 3, "applied": true})), CopyProgress::Applied);
        assert_eq!(copy_progress(&serde_json::json!({"state": {"emitted": {"rows": 3, "applied": true}}})), CopyProgress::Applied);
        assert_eq!(
            copy_progress(&serde_json::json!({"state": "failed", "error": "no such table"})),
            CopyProgress::Failed("no such table".into())
        );
        assert_eq!(percent("a b/ü"), "a%20b%2F%C3%BC");
    }
}
