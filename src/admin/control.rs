//! Copy requests over the control endpoint: `POST /copy` asks a running
//! pipeline's source to copy a table (or some keys of it) again while it
//! streams; `GET /copy?pipeline=P&id=N` says how far request `N` got
//! (without `id`: every request of the pipeline).
//!
//! The body of `POST /copy` is JSON lines: first
//! `{"pipeline":"P","table":"schema.name"}`, then optionally one line per
//! key, each a record in logferry's JSON record format
//! ([`crate::record::json::read_change`]) whose `after` row holds the key
//! column values: in the order of the record's `key` list when it has one,
//! else in the row's order. No key lines: the whole table. The answer is
//! `{"id":N,…}`; the request is then in the pipeline's
//! [`CopyRequests`](crate::sources::requests::CopyRequests), where its
//! source takes it (a source that cannot copy while streaming leaves it
//! `queued`).

use super::status::request_json;
use super::{Registry, Response};
use crate::record::Value;
use serde_json::json;

/// The first line of a `POST /copy` body.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CopyHead {
    pipeline: String,
    table: String,
}

impl Registry {
    fn unknown_pipeline(&self, name: &str) -> Response {
        let names: Vec<&str> = self.pipelines.iter().map(|p| p.name.as_str()).collect();
        Response::json(
            404,
            &json!({"error": format!("there is no pipeline `{name}` in this process; it runs: {}", names.join(", ")), "pipelines": names}),
        )
    }

    /// `POST /copy`.
    pub(super) fn copy_submit(&self, body: &[u8]) -> Response {
        let bad = |message: String| Response::json(400, &json!({ "error": message }));
        let mut lines = body.split(|b| *b == b'\n').enumerate().filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace));
        let Some((_, first)) = lines.next() else {
            return bad(r#"the body is empty; expected a first line {"pipeline":"P","table":"schema.name"}, then optionally one JSON record per key"#.into());
        };
        let head: CopyHead = match serde_json::from_slice(first) {
            Ok(h) => h,
            Err(e) => return bad(format!(r#"line 1: {e}; expected {{"pipeline":"P","table":"schema.name"}}"#)),
        };
        let Some(pipeline) = self.pipelines.iter().find(|p| p.name == head.pipeline) else {
            return self.unknown_pipeline(&head.pipeline);
        };
        if head.table.trim().is_empty() {
            return bad("line 1: `table` is empty; expected the source table as schema.name".into());
        }
        let mut keys: Vec<Vec<Value>> = Vec::new();
        for (i, line) in lines {
            let n = i + 1;
            let change = match crate::record::json::read_change(line) {
                Ok(c) => c,
                Err(e) => return bad(format!("line {n}: not a JSON record: {e}")),
            };
            let Some(after) = change.after else {
                return bad(format!("line {n}: the record has no `after` row; put the key column values there"));
            };
            let key: Vec<Value> = if change.key_columns.is_empty() {
                after.columns.into_iter().map(|c| c.value.unwrap_or_default()).collect()
            } else {
                let mut key = Vec::with_capacity(change.key_columns.len());
                for col in &change.key_columns {
                    match after.get(col) {
                        Some(v) => key.push(v.clone()),
                        None => return bad(format!("line {n}: key column `{col}` is not in the `after` row")),
                    }
                }
                key
            };
            if key.is_empty() {
                return bad(format!("line {n}: the `after` row is empty; put the key column values there"));
            }
            keys.push(key);
        }
        let count = (!keys.is_empty()).then_some(keys.len());
        let id = pipeline.requests.submit(&head.table, (!keys.is_empty()).then_some(keys));
        tracing::info!(pipeline = %pipeline.name, table = %head.table, id, keys = count.unwrap_or(0), "copy request queued");
        Response::json(200, &json!({"id": id, "pipeline": pipeline.name, "table": head.table, "keys": count}))
    }

    /// `GET /copy?pipeline=P[&id=N]`.
    pub(super) fn copy_state(&self, pipeline: Option<&str>, id: Option<&str>) -> Response {
        let Some(name) = pipeline else {
            return Response::json(400, &json!({"error": "which pipeline? GET /copy?pipeline=P&id=N"}));
        };
        let Some(p) = self.pipelines.iter().find(|p| p.name == name) else {
            return self.unknown_pipeline(name);
        };
        let Some(id) = id else {
            let all: Vec<_> = p.requests.list().into_iter().map(|(r, s)| request_json(r.id, &r.table, r.keys.as_ref().map(Vec::len), &s)).collect();
            return Response::json(200, &json!({"pipeline": name, "requests": all}));
        };
        let Ok(id) = id.parse::<u64>() else {
            return Response::json(400, &json!({"error": format!("id {id:?} is not a request number")}));
        };
        match p.requests.list().into_iter().find(|(r, _)| r.id == id) {
            None => Response::json(404, &json!({"error": format!("pipeline `{name}` has no copy request {id} in this process (numbers start again at each run)")})),
            Some((r, s)) => {
                let mut v = request_json(r.id, &r.table, r.keys.as_ref().map(Vec::len), &s);
                v["pipeline"] = json!(name);
                Response::json(200, &v)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::PipelineStats;
    use crate::sources::requests::CopyState;
    use serde_json::Value as J;
    use std::sync::Arc;

    fn body(r: &Response) -> J {
        serde_json::from_str(&r.body).unwrap()
    }

    #[test]
    fn a_copy_request_is_queued_with_its_keys_in_key_order() {
        let a = Arc::new(PipelineStats::new("shop"));
        let reg = Registry::new(vec![a.clone()], None);
        let post = "{\"pipeline\":\"shop\",\"table\":\"public.orders\"}\n\
            {\"op\":\"insert\",\"key\":[\"b\",\"a\"],\"after\":{\"a\":{\"int64\":1},\"b\":{\"text\":\"x\"}}}\n\
            \n\
            {\"op\":\"insert\",\"after\":{\"a\":{\"int64\":2},\"b\":{\"text\":\"y\"}}}\n";
        let r = reg.copy_submit(post.as_bytes());
        assert_eq!(r.code, 200, "{}", r.body);
        let id = body(&r)["id"].as_u64().unwrap();
        assert_eq!(body(&r)["keys"], 2);
        let (req, state) = a.requests.list().pop().unwrap();
        assert_eq!((req.id, req.table.as_str(), state), (id, "public.orders", CopyState::Queued));
        assert_eq!(req.keys, Some(vec![vec![Value::text("x".to_string()), Value::int64(1)], vec![Value::int64(2), Value::text("y".to_string())]]));

        let whole = reg.copy_submit(b"{\"pipeline\":\"shop\",\"table\":\"public.items\"}");
        assert_eq!(body(&whole)["keys"], J::Null);
        let r = reg.copy_state(Some("shop"), Some(&body(&whole)["id"].to_string()));
        assert_eq!((r.code, body(&r)["state"].as_str(), body(&r)["table"].as_str()), (200, Some("queued"), Some("public.items")));
        a.requests.set(id, CopyState::Emitted { rows: 2, applied: true });
        let r = reg.copy_state(Some("shop"), Some(&id.to_string()));
        assert_eq!((body(&r)["state"].as_str(), body(&r)["applied"].as_bool(), body(&r)["rows"].as_u64()), (Some("emitted"), Some(true), Some(2)));
        assert_eq!(body(&reg.copy_state(Some("shop"), None))["requests"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn bad_copy_requests_say_what_is_wrong() {
        let a = Arc::new(PipelineStats::new("shop"));
        let reg = Registry::new(vec![a.clone()], None);
        let r = reg.copy_submit(b"{\"pipeline\":\"nope\",\"table\":\"t\"}");
        assert_eq!(r.code, 404);
        assert!(body(&r)["error"].as_str().unwrap().contains("no pipeline `nope` in this process; it runs: shop"), "{}", r.body);
        for (post, says) in [
            ("", "the body is empty"),
            ("{\"pipeline\":\"shop\"}", "line 1: missing field `table`"),
            ("{\"pipeline\":\"shop\",\"table\":\"t\",\"x\":1}", "unknown field `x`"),
            ("{\"pipeline\":\"shop\",\"table\":\" \"}", "`table` is empty"),
            ("{\"pipeline\":\"shop\",\"table\":\"t\"}\nnot json", "line 2: not a JSON record"),
            ("{\"pipeline\":\"shop\",\"table\":\"t\"}\n{\"op\":\"delete\"}", "line 2: the record has no `after` row"),
            ("{\"pipeline\":\"shop\",\"table\":\"t\"}\n{\"key\":[\"id\"],\"after\":{\"x\":{\"int64\":1}}}", "key column `id` is not in the `after` row"),
        ] {
            let r = reg.copy_submit(post.as_bytes());
            assert_eq!(r.code, 400, "{post}: {}", r.body);
            assert!(body(&r)["error"].as_str().unwrap().contains(says), "{post}: {}", r.body);
        }
        assert!(a.requests.list().is_empty(), "nothing queued by a bad request");
        assert_eq!(reg.copy_state(Some("shop"), Some("7")).code, 404);
        assert_eq!(reg.copy_state(Some("shop"), Some("x")).code, 400);
        assert_eq!(reg.copy_state(None, Some("1")).code, 400);
        assert_eq!(reg.copy_state(Some("other"), Some("1")).code, 404);
    }
}
