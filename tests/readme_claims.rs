//! Claims the README makes that no other test checked: a PostgreSQL
//! initial copy killed *during* the copy resumes at the next chunk and
//! reads no finished chunk again; `run --pipeline P` runs only P; the
//! stdout target writes one canonical JSON line per record; a MongoDB
//! source meets dropDatabase (TRUNCATEs), invalidate (stop, or `reopen`)
//! and a rename (stop) as described, on the SecantusDB stand-in.

use crate::operate::{log_lines, until, Running};
use crate::support::binary::{text, Scratch};
use crate::support::http_server::{HttpServer, Reply};
use crate::support::pg::fresh_db;
use logferry::checkpoint::CheckpointStore;
use logferry::record::{value::Kind, Change, Op};
use logferry::sources::postgres::position::PgPosition;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const ROWS: i64 = 1000;
const CHUNK: i64 = 100;
/// The target takes this many copied rows in the first run, then answers 503.
const TAKEN_FIRST: usize = 350;

fn id_of(c: &Change) -> i64 {
    match c
        .after
        .as_ref()
        .and_then(|r| r.get("id"))
        .and_then(|v| v.kind.clone())
    {
        Some(Kind::Int64(i)) => i,
        other => panic!("id: expected an int64, got {other:?}"),
    }
}

fn copied_ids(changes: &[Change]) -> Vec<i64> {
    changes
        .iter()
        .filter(|c| c.op() == Op::SnapshotRead)
        .map(id_of)
        .collect()
}

/// README, "Pointing it at your PostgreSQL database": a crashed copy
/// resumes at the next chunk. The kill is made to land inside the copy:
/// the target takes the first few chunks and then refuses (503, retried),
/// so the copy cannot finish, and the kill waits until the live status
/// shows a checkpoint inside the snapshot. After it, the stored checkpoint
/// names the last key of a whole chunk, and the next run sends exactly the
/// rows after that key: no row of a finished chunk is read again.
#[test]
fn a_postgres_copy_killed_during_the_copy_resumes_at_the_next_chunk_and_reads_no_finished_chunk_again(
) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let source = rt.block_on(async {
        let db = fresh_db("claims_copy").await;
        db.client
            .batch_execute(&format!(
                "CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL); INSERT INTO t SELECT g, repeat('x', 50) FROM generate_series(1, {ROWS}) g;"
            ))
            .await
            .unwrap();
        db
    });
    let taken = Arc::new(AtomicUsize::new(0));
    let open = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (count, gate) = (taken.clone(), open.clone());
    let server = HttpServer::start(move |req| {
        if gate.load(Ordering::SeqCst) {
            return Reply::status(200);
        }
        let rows = req
            .changes()
            .iter()
            .filter(|c| c.op() == Op::SnapshotRead)
            .count();
        match count.load(Ordering::SeqCst) < TAKEN_FIRST {
            true => {
                count.fetch_add(rows, Ordering::SeqCst);
                Reply::status(200)
            }
            false => Reply::status(503),
        }
    });
    let config = format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "copy"
[pipeline.source]
kind = "postgres"
url = "{url}"
tables = ["public.t"]
slot = "{slot}"
publication = "{slot}"
snapshot_chunk_rows = {CHUNK}
snapshot_parallel = 1
[[pipeline.target]]
kind = "http"
url = "{target}"
timeout = "5s"
[pipeline.apply]
lanes = 1
batch_max_rows = 50
batch_max_wait = "2ms"
checkpoint_interval = "10ms"
retry_backoff = "20ms"
retry_max_backoff = "100ms"
"#,
        url = source.url,
        slot = source.name,
        target = server.url,
    );
    let s = Scratch::new(&config);
    let mut run = Running::start(&s);
    let _log = log_lines(&mut run.0);
    // Inside the copy: the target refuses now, and a chunk is checkpointed.
    until(
        "a checkpoint inside the copy while the target refuses",
        || {
            let out = s.run(&["status", "--json"]);
            let body = text(&out.stdout);
            let position = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    v["pipelines"][0]["checkpoint"]["position"]
                        .as_str()
                        .map(str::to_string)
                })
                .unwrap_or_default();
            let refused = server.requests().iter().any(|r| r.status == 503);
            match refused && position.starts_with("snapshot: 0 table(s) copied, 1 in progress") {
                true => Ok(()),
                false => Err(format!("{body}\n{}", text(&out.stderr))),
            }
        },
    );
    run.0.kill().unwrap(); // SIGKILL
    run.0.wait().unwrap();

    // What the killed run left: a checkpoint inside the snapshot, after a whole chunk.
    let store = CheckpointStore::open(&s.path("state")).unwrap();
    let checkpoint = store.load("copy").unwrap().expect("a checkpoint");
    let progress = PgPosition::from_position(&checkpoint.position)
        .unwrap()
        .snapshot
        .expect("the copy is unfinished");
    drop(store);
    assert!(progress.done.is_empty(), "{progress:?}");
    let [(table, key)] = progress.partial.as_slice() else {
        panic!("one table in progress: {progress:?}")
    };
    assert_eq!(table, "public.t");
    let last: i64 = key[0].parse().unwrap();
    assert!(
        last >= CHUNK && last % CHUNK == 0 && last < ROWS,
        "the checkpoint ends a whole chunk: {last}"
    );
    let first_run = copied_ids(&server.accepted_changes());
    assert!(
        first_run.contains(&last),
        "the checkpointed chunk reached the target"
    );

    // The next run reads only the rows after that chunk, each once.
    let before = server.requests().len();
    open.store(true, Ordering::SeqCst);
    let out = s.run(&["run", "--once"]);
    assert!(
        out.status.success(),
        "the resumed run failed: {}",
        text(&out.stderr)
    );
    let second: Vec<Change> = server.requests()[before..]
        .iter()
        .filter(|r| r.accepted())
        .flat_map(|r| r.changes())
        .collect();
    assert_eq!(
        copied_ids(&second),
        ((last + 1)..=ROWS).collect::<Vec<_>>(),
        "resumed at the chunk after key {last}, nothing before it read again"
    );
}

fn two_generators(target: &str) -> String {
    let pipeline = |name: &str, seed: u32| {
        format!(
            r#"
[[pipeline]]
name = "{name}"
[pipeline.source]
kind = "generate"
total = 40
tables = 1
keys = 10
tx_size = 4
seed = {seed}
[[pipeline.target]]
{target}
"#,
            target = target.replace("NAME", name)
        )
    };
    format!(
        "state_dir = \"state\"\n{}{}",
        pipeline("one", 1),
        pipeline("two", 2)
    )
}

/// README, "Two commands": `run --pipeline P` runs only that pipeline of
/// the file; the other is neither run nor checkpointed.
#[test]
fn run_with_pipeline_runs_only_that_pipeline() {
    let s = Scratch::new(&two_generators(
        "kind = \"file\"\npath = \"out/NAME.jsonl\"",
    ));
    let out = s.run(&["run", "--once", "--pipeline", "two"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let two = crate::support::binary::read_json_lines(&s.path("out/two.jsonl"));
    assert_eq!(
        two.iter()
            .filter(|c| c.op() == Op::Insert || c.op() == Op::Update || c.op() == Op::Delete)
            .count(),
        40
    );
    assert!(
        !s.path("out/one.jsonl").exists(),
        "pipeline `one` wrote nothing"
    );
    let store = CheckpointStore::open(&s.path("state")).unwrap();
    assert!(
        store.load("one").unwrap().is_none(),
        "pipeline `one` has no checkpoint"
    );
    assert!(
        store.load("two").unwrap().is_some(),
        "pipeline `two` checkpointed"
    );
}

/// README, "What works today": the stdout target writes canonical JSON
/// lines on standard output, one per record, and logs only to stderr.
#[test]
fn the_stdout_target_writes_one_canonical_json_line_per_record() {
    let s = Scratch::new(&two_generators("kind = \"stdout\""));
    let out = s.run(&["run", "--once", "--pipeline", "one"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<&[u8]> = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let changes: Vec<Change> = lines
        .iter()
        .map(|l| {
            logferry::record::json::read_change(l)
                .unwrap_or_else(|e| panic!("not a canonical record ({e}): {}", text(l)))
        })
        .collect();
    let rows = changes
        .iter()
        .filter(|c| matches!(c.op(), Op::Insert | Op::Update | Op::Delete))
        .count();
    assert_eq!(rows, 40, "every generated change, once");
    assert!(
        changes.iter().all(|c| c.pipeline == "one"),
        "only the chosen pipeline"
    );
    let seqs: Vec<u64> = changes.iter().map(|c| c.seq).collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), seqs.len(), "no record twice");
}

fn mongo_config(db: &crate::support::mongodb::TestMongo, on_invalidate: &str) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "mongo"
[pipeline.source]
kind = "mongodb"
url = "{url}"
collections = ["{db}.*"]
max_await = "200ms"
on_invalidate = "{on_invalidate}"
[[pipeline.target]]
kind = "file"
path = "out/changes.jsonl"
[pipeline.apply]
lanes = 2
batch_max_rows = 100
batch_max_wait = "5ms"
checkpoint_interval = "20ms"
"#,
        url = db.url,
        db = db.name,
    )
}

/// The tables the file target got a TRUNCATE for, after `from` records.
fn truncated(s: &Scratch, from: usize) -> Vec<String> {
    let mut names: Vec<String> = crate::support::binary::read_json_lines(&s.path("out/changes.jsonl"))[from..]
        .iter()
        .filter(|c| c.op() == Op::Truncate)
        .map(|c| c.table.as_ref().map(|t| t.name.clone()).unwrap_or_default())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// README, "Pointing it at your MongoDB deployment": dropDatabase becomes a
/// TRUNCATE of each collection of that database seen so far; the
/// invalidate that follows stops the run with `on_invalidate = "stop"`
/// (saying how to go on), and with `"reopen"` a new stream starts after
/// it and later changes arrive.
#[test]
fn mongodb_drop_database_truncates_its_collections_and_invalidate_stops_or_reopens() {
    use bson::doc;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let source = rt.block_on(crate::support::mongodb::fresh_db("claims_dropdb"));
    rt.block_on(async {
        source.coll("a").insert_many([doc! {"_id": 1}, doc! {"_id": 2}]).await.unwrap();
        source.coll("b").insert_one(doc! {"_id": 1}).await.unwrap();
    });
    let s = Scratch::new(&mongo_config(&source, "stop"));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "the copy failed: {}", text(&out.stderr));
    let copied = crate::support::binary::read_json_lines(&s.path("out/changes.jsonl")).len();

    rt.block_on(async { source.db.drop().await.unwrap() });
    let out = s.run(&["run", "--once"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the invalidate stops the run: {err}");
    assert!(err.contains("the change stream was invalidated") && err.contains("on_invalidate = \"reopen\""), "{err}");
    assert_eq!(truncated(&s, copied), ["a", "b"], "dropDatabase truncated every collection seen");

    // With reopen: the run goes on after the invalidate and sees new writes.
    std::fs::write(&s.config, mongo_config(&source, "reopen")).unwrap();
    rt.block_on(async { source.coll("a").insert_one(doc! {"_id": 3}).await.unwrap() });
    let before = crate::support::binary::read_json_lines(&s.path("out/changes.jsonl")).len();
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "the run with reopen failed: {}", text(&out.stderr));
    let after: Vec<Change> = crate::support::binary::read_json_lines(&s.path("out/changes.jsonl"))[before..].to_vec();
    let inserted: Vec<String> = after
        .iter()
        .filter(|c| c.op() == Op::Insert)
        .map(|c| format!("{}:{:?}", c.table.as_ref().unwrap().name, c.key_values()[0].kind))
        .collect();
    assert_eq!(inserted, ["a:Some(Int32(3))"], "the write after the reopened stream arrived");
}

/// README, "Pointing it at your MongoDB deployment": renaming a selected
/// collection stops the run, naming both names and the way on.
#[test]
fn mongodb_rename_of_a_selected_collection_stops_the_run() {
    use bson::doc;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let source = rt.block_on(crate::support::mongodb::fresh_db("claims_rename"));
    rt.block_on(async { source.coll("items").insert_one(doc! {"_id": 1}).await.unwrap() });
    let s = Scratch::new(&mongo_config(&source, "stop"));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "the copy failed: {}", text(&out.stderr));
    rt.block_on(async {
        let from = format!("{}.items", source.name);
        let to = format!("{}.renamed", source.name);
        source.client.database("admin").run_command(doc! {"renameCollection": from, "to": to}).await.unwrap();
    });
    let out = s.run(&["run", "--once"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("collection {0}.items was renamed to {0}.renamed", source.name)) && err.contains("`logferry reset`"),
        "{err}"
    );
}
