//! Progress of the initial copy: every source reports each table's copy
//! (rows, chunks, estimate, done) and, where it can, the bytes it is behind
//! its log; `run --once` shows bars on a terminal (a pseudo-terminal made by
//! util-linux `script`) and plain log lines otherwise.

use crate::support::binary::{text, Scratch};
use crate::support::pg::{fresh_db, TestDb};
use crate::support::*;
use logferry::checkpoint::CheckpointStore;
use logferry::config::OnError;
use logferry::pipeline::{self, PipelineRun, PipelineStats};
use logferry::sinks::Sink;
use logferry::sources::{Source, TableCopy};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Rows of the big table: enough for many chunks and several redraws.
const BIG: u64 = 200_000;

async fn two_tables() -> TestDb {
    let db = fresh_db("progress").await;
    db.client
        .batch_execute(&format!(
            "CREATE TABLE big (id int PRIMARY KEY, v text);
             INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, {BIG}) g;
             CREATE TABLE small (id int PRIMARY KEY);
             INSERT INTO small SELECT generate_series(1, 20);"
        ))
        .await
        .unwrap();
    db
}

fn once_config(db: &TestDb) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "copy"
[pipeline.source]
kind = "postgres"
url = "{url}"
tables = ["public.*"]
slot = "{slot}"
publication = "{slot}"
snapshot_chunk_rows = 1000
[[pipeline.target]]
kind = "file"
path = "out/changes.jsonl"
"#,
        url = db.url,
        slot = db.name,
    )
}

/// `s` without ANSI escape sequences (colours, cursor moves).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[test]
fn run_once_in_a_terminal_shows_a_progress_bar_per_table() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(two_tables());
    let s = Scratch::new(&once_config(&db));
    // util-linux `script` runs the command on a pseudo-terminal and copies
    // everything it writes (stderr too) to its own stdout.
    let cmd = format!("'{}' run --once --config '{}'", env!("CARGO_BIN_EXE_logferry"), s.config.display());
    let out = Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .current_dir(s.dir.path())
        .env("LOGFERRY_LOG", "info")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("util-linux `script` runs");
    let raw = text(&out.stdout);
    assert!(out.status.success(), "run --once failed: {raw}{}", text(&out.stderr));
    let shown = strip_ansi(&raw);
    assert!(raw.contains("\x1b["), "bars are drawn with terminal control sequences: {raw:?}");
    // While copying: rows copied / estimated total, rate and ETA.
    assert!(
        shown.contains("public.big [") && shown.contains(&format!("/{} rows", fmt_count(BIG))) && shown.contains(" rows/s  ETA "),
        "a bar with rows / estimate, rate and ETA: {shown}"
    );
    // Done: each table's bar ends with what was copied against the estimate.
    assert!(
        shown.contains(&format!("public.big [{}] {big}/{big} rows copied in ", "=".repeat(30), big = fmt_count(BIG))),
        "the finished bar of public.big: {shown}"
    );
    assert!(shown.contains("public.small [") && shown.contains("20/20 rows copied in"), "the finished bar of public.small: {shown}");
    // The catch-up line: records applied and the checkpoint.
    assert!(shown.contains("copy: ") && shown.contains(" records applied; checkpoint "), "the catch-up line: {shown}");
    assert!(shown.contains(&format!("logferry: applied {} records", BIG + 20 + 2)), "{shown}");
}

#[test]
fn run_once_without_a_terminal_logs_each_copied_table_instead_of_bars() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(two_tables());
    let s = Scratch::new(&once_config(&db));
    let out = s.run(&["run", "--once"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "run --once failed: {err}");
    let copied = |table: &str, rows: u64| {
        err.lines().any(|l| {
            l.contains(" INFO table copied ")
                && l.contains(&format!("table={table} rows={rows} rows_per_s="))
                && l.contains("seconds=")
        })
    };
    assert!(copied("public.big", BIG), "a log line for the copied table: {err}");
    assert!(copied("public.small", 20), "{err}");
    assert!(err.lines().any(|l| l.contains(" INFO progress pipeline=copy applied=") && l.contains("checkpoint=")), "{err}");
    assert!(!err.contains('\x1b') && !err.contains('\r'), "no terminal control characters: {err:?}");
    assert!(!err.contains("rows copied in") && !err.contains("] "), "no bars: {err}");
}

/// `n` with thousands separators, as the bars print it.
fn fmt_count(n: u64) -> String {
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

/// Runs `source` in a continuous pipeline until `done` holds for its
/// stats (deadline 60 s), then stops it cleanly; returns the stats.
async fn run_until(name: &str, source: impl Source + 'static, done: impl Fn(&PipelineStats) -> bool) -> Arc<PipelineStats> {
    let stats = Arc::new(PipelineStats::new(name));
    let (stop, shutdown) = watch::channel(false);
    let sink = Arc::new(RecordingSink::new(0, Arc::new(Mutex::new(Vec::new())), Faults::default()));
    let run = tokio::spawn(pipeline::run(PipelineRun {
        name: name.into(),
        apply: fast_apply(2),
        source: Box::new(source),
        sinks: vec![sink as Arc<dyn Sink>],
        store: CheckpointStore::temporary().unwrap(),
        once: false,
        shutdown,
        on_error: OnError::Stop,
        spool: None,
        stats: stats.clone(),
        stage: None,
        routes: Vec::new(),
    }));
    let watched = stats.clone();
    wait_until("the source to report its copy", Duration::from_secs(60), || {
        let ok = done(&watched) || run.is_finished();
        async move { ok }
    })
    .await;
    let _ = stop.send(true);
    run.await.unwrap().unwrap_or_else(|e| panic!("{}", logferry::ErrorChain(&e)));
    stats
}

/// Every table copied once, in full.
fn all_done(stats: &PipelineStats, tables: usize) -> bool {
    let copies = stats.source.copies();
    copies.len() == tables && copies.iter().all(|c| c.done)
}

fn copy_of(copies: &[TableCopy], table: &str) -> TableCopy {
    copies.iter().find(|c| c.table == table).cloned().unwrap_or_else(|| panic!("no copy of {table}: {copies:#?}"))
}

/// `rows` rows in chunks of 3: full chunks, then the short (maybe empty) last one.
fn chunks_of_three(rows: u64) -> u64 {
    rows / 3 + 1
}

fn check_copy(c: &TableCopy, rows: u64) {
    assert_eq!((c.rows, c.chunks, c.done), (rows, chunks_of_three(rows), true), "{c:#?}");
    assert!(c.finished.is_some_and(|f| f >= c.started), "{c:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reports_its_copy_and_how_far_behind_the_wal_it_is() {
    let db = fresh_db("progress_pg").await;
    db.client
        .batch_execute(
            "CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a SELECT generate_series(1, 10);
             CREATE TABLE b (id int PRIMARY KEY); INSERT INTO b SELECT generate_series(1, 9); ANALYZE b;",
        )
        .await
        .unwrap();
    let cfg = crate::postgres_source::source_config(&db.url, &db.name, &["public.*"]);
    let stats = run_until("pg", logferry::sources::postgres::PostgresSource::new(cfg), |s| {
        all_done(s, 2) && s.source.behind_bytes().is_some()
    })
    .await;
    let copies = stats.source.copies();
    let (a, b) = (copy_of(&copies, "public.a"), copy_of(&copies, "public.b"));
    check_copy(&a, 10);
    check_copy(&b, 9);
    // `a` was never analysed (reltuples −1): counted; `b` from reltuples.
    assert_eq!((a.estimate, b.estimate), (Some(10), Some(9)));
    let behind = stats.source.behind_bytes().expect("bytes behind the WAL end");
    assert!(behind < 1 << 30, "an idle stream is not a gigabyte behind: {behind}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_reports_its_copy_and_how_far_behind_the_binlog_it_is() {
    let db = crate::support::mariadb::fresh_db("progress_my").await;
    db.exec("CREATE TABLE a (id int PRIMARY KEY)").await;
    db.exec("INSERT INTO a VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9),(10)").await;
    db.exec("CREATE TABLE b (id int PRIMARY KEY)").await;
    db.exec("INSERT INTO b VALUES (1),(2),(3),(4)").await;
    let cfg = crate::mysql_source::source_config(&db, &["a", "b"]);
    let stats = run_until("my", logferry::sources::mysql::MysqlSource::new(cfg), |s| {
        all_done(s, 2) && s.source.behind_bytes().is_some()
    })
    .await;
    let copies = stats.source.copies();
    let (a, b) = (copy_of(&copies, &format!("{}.a", db.name)), copy_of(&copies, &format!("{}.b", db.name)));
    check_copy(&a, 10);
    check_copy(&b, 4);
    assert!(a.estimate.is_some() && b.estimate.is_some(), "table_rows, or a count of a small table: {copies:#?}");
    let behind = stats.source.behind_bytes().expect("bytes behind the end of the binlog");
    assert!(behind < 1 << 30, "an idle stream is not a gigabyte behind: {behind}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_reports_its_copy() {
    use bson::doc;
    use logferry::config::{DatabaseSourceConfig, FullDocument, MongodbSourceConfig, OnInvalidate, SecretUrl, SnapshotMode};
    let source = crate::support::mongodb::fresh_db("progress_mg").await;
    source.coll("items").insert_many((1..=7).map(|i| doc! { "_id": i, "n": i })).await.unwrap();
    source.coll("tags").insert_many((1..=3).map(|i| doc! { "_id": i })).await.unwrap();
    let cfg = MongodbSourceConfig {
        db: DatabaseSourceConfig {
            url: SecretUrl::new(&source.url),
            tables: vec![format!("{}.items", source.name), format!("{}.tags", source.name)],
            snapshot: SnapshotMode::Initial,
            row_keys: Vec::new(),
        },
        full_document: FullDocument::UpdateLookup,
        on_invalidate: OnInvalidate::Stop,
        snapshot_chunk_docs: 3,
        max_await: Duration::from_millis(200),
    };
    let stats = run_until("mongo", logferry::sources::mongodb::MongodbSource::new(cfg), |s| all_done(s, 2)).await;
    let copies = stats.source.copies();
    let items = copy_of(&copies, &format!("{}.items", source.name));
    let tags = copy_of(&copies, &format!("{}.tags", source.name));
    // The last chunk is the one where the cursor runs out: 3+3+1, and 3+0.
    assert_eq!((items.rows, items.chunks, items.done), (7, 3, true), "{items:#?}");
    assert_eq!((tags.rows, tags.chunks, tags.done), (3, 2, true), "{tags:#?}");
    assert_eq!((items.estimate, tags.estimate), (Some(7), Some(3)), "estimatedDocumentCount");
}
