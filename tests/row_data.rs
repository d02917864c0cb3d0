//! No row data outside the dead-letter store: a row a target refuses, with
//! an error whose server text quotes the row (PostgreSQL's `DETAIL: Failing
//! row contains (…)`, or MariaDB's error about `row 1` of a statement, whose key logferry knows), leaves no
//! value of that row in the run's error, its log or `/health` (`/status`,
//! `/metrics`), which carry the SQLSTATE / error number and the constraint
//! or key instead; the dead letter keeps the server's full text.

use crate::support::binary::{text, Scratch};
use crate::support::{mariadb, pg};
use logferry::admin::{Registry, Request};
use logferry::pipeline::PipelineStats;
use logferry::sinks::postgres::{PostgresSink, PostgresSinkConfig};
use logferry::sinks::{Batch, Sink};

use std::io::{BufRead, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The value no error, log line or endpoint may show.
const SECRET: &str = "zz-secret-7731";

/// `GET path` over the run's control socket (the same routes as `[admin] listen`).
fn get(s: &Scratch, path: &str) -> String {
    let mut sock = std::os::unix::net::UnixStream::connect(s.path("state/logferry.sock")).expect("the run's control socket");
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(sock, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    sock.read_to_string(&mut out).unwrap();
    out
}

/// Runs the pipeline of `s` twice: with `on_error = "stop"` (written by
/// `config("stop")`) it fails, and its error and log hold `must_show` but
/// not [`SECRET`]; with `"dead_letter"` the row is set aside, the endpoint
/// and the log show no value, and the letter's error has the server's text
/// with the value.
fn refusal_keeps_values_in_the_dead_letter_only(s: &Scratch, config: impl Fn(&str) -> String, must_show: &[&str]) {
    std::fs::write(&s.config, config("stop")).unwrap();
    let out = s.run(&["run", "--once"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the refused row stops the run: {err}");
    let last = err.lines().rev().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("no error line: {err}"));
    for m in must_show {
        assert!(last.contains(m), "the run's error names {m}: {last}");
    }
    assert!(!err.contains(SECRET), "the run's error and log hold the row's value: {err}");

    std::fs::write(&s.config, config("dead_letter")).unwrap();
    let mut child = s.spawn(&["run"]);
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(l) if l.contains("set aside as a dead letter") => {
                for m in must_show {
                    assert!(l.contains(m), "the log line names {m}: {l}");
                }
                break;
            }
            Ok(_) => {}
            Err(e) => panic!("the run never set the row aside ({e})"),
        }
    }
    for path in ["/health", "/status", "/metrics", "/ready"] {
        let answer = get(s, path);
        assert!(answer.starts_with("HTTP/1.1 "), "{path}: {answer}");
        assert!(!answer.contains(SECRET), "{path} shows the row's value: {answer}");
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let log = reader.join().unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(!log.contains(SECRET), "the log holds the row's value: {log}");

    let out = s.run(&["dead-letters", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let letters: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(letters.len(), 1, "{letters:?}");
    let error = letters[0]["error"].as_str().unwrap();
    assert!(error.contains(SECRET), "the dead letter keeps the server's full text: {error}");
    for m in must_show {
        assert!(error.contains(m), "{error}");
    }
}

#[test]
fn a_postgres_check_violation_shows_its_constraint_but_not_the_failing_row() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = pg::fresh_db("rowdata_src").await;
        s.client
            .batch_execute(&format!(
                "CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL, note text);
                 INSERT INTO items VALUES (1, 1, 'fine'), (7, 2, '{SECRET}'), (8, 3, 'also fine');"
            ))
            .await
            .unwrap();
        let t = pg::fresh_db("rowdata_dst").await;
        t.client
            .batch_execute("CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL, note text CONSTRAINT note_not_secret CHECK (note NOT LIKE 'zz-%'))")
            .await
            .unwrap();
        (s, t)
    });
    let config = |on_error: &str| {
        format!(
            r#"
state_dir = "state"
[[pipeline]]
name = "rd"
on_error = "{on_error}"
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = ["public.items"]
slot = "{slot}"
publication = "{slot}"
[[pipeline.target]]
kind = "postgres"
url = "{dst}"
[pipeline.apply]
lanes = 1
batch_max_wait = "5ms"
checkpoint_interval = "20ms"
"#,
            src = source.url,
            dst = target.url,
            slot = source.name,
        )
    };
    let s = Scratch::new(&config("stop"));
    refusal_keeps_values_in_the_dead_letter_only(&s, config, &["23514", "note_not_secret"]);
    let tgt = rt.block_on(pg::rows(&target, "SELECT id FROM items ORDER BY id"));
    assert_eq!(tgt, ["1", "8"]);

    // What `/health` says of a pipeline stopped by this error: the text of
    // the target's error, as `run` hands it to the endpoint.
    rt.block_on(async {
        let sink = PostgresSink::connect(PostgresSinkConfig { url: target.url.clone(), namespace: None, create_tables: false, lanes: 1 })
            .await
            .unwrap();
        use logferry::record::{Op, Value};
        let row = crate::support::records::row(vec![("id", Value::int64(7)), ("qty", Value::int64(2)), ("note", Value::text(SECRET))]);
        let mut c = crate::support::records::row_change("postgres", Op::Insert, "public", "items", &["id"], None, row);
        c.seq = 1;
        let e = sink.apply(&Batch { lane: 0, records: vec![c], order: None }).await.unwrap_err();
        assert!(!e.is_transient(), "{e}");
        let stats = Arc::new(PipelineStats::new("rd"));
        stats.stopped(Some(logferry::ErrorChain(&e).to_string()));
        let registry = Registry::new(vec![stats], None);
        let health = registry.answer(&Request { method: "GET".into(), path: "/health".into(), query: vec![], body: vec![], bearer: None });
        assert_eq!(health.code, 503, "{}", health.body);
        assert!(health.body.contains("23514") && health.body.contains("note_not_secret"), "{}", health.body);
        assert!(!health.body.contains(SECRET), "/health shows the row's value: {}", health.body);
    });
}

#[test]
fn a_mariadb_incorrect_string_shows_its_column_but_not_the_value_or_the_rows_key() {
    // MariaDB quotes the bytes it cannot store and names the row of the
    // statement, whose key logferry used to add: here both hold the secret.
    // (A unique index other than the key, whose duplicates MariaDB quotes,
    // is refused by the MySQL target before any row is written.)
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = pg::fresh_db("rowdata_my_src").await;
        s.client
            .batch_execute(&format!(
                "CREATE TABLE people (code varchar(100) PRIMARY KEY, note varchar(100) NOT NULL);
                 INSERT INTO people VALUES ('a', 'plain'), ('{SECRET}', '\u{2713}{SECRET}'), ('b', 'fine');"
            ))
            .await
            .unwrap();
        let t = mariadb::fresh_db("rowdata_my_dst").await;
        // The target keeps notes in latin1, which has no check mark.
        t.exec("CREATE TABLE people (code VARCHAR(100) PRIMARY KEY, note VARCHAR(100) CHARACTER SET latin1 NOT NULL)").await;
        (s, t)
    });
    let config = |on_error: &str| {
        format!(
            r#"
state_dir = "state"
[[pipeline]]
name = "rd"
on_error = "{on_error}"
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = ["public.people"]
slot = "{slot}"
publication = "{slot}"
[[pipeline.target]]
kind = "mysql"
url = "{dst}"
[pipeline.apply]
lanes = 1
batch_max_wait = "5ms"
checkpoint_interval = "20ms"
"#,
            src = source.url,
            dst = target.url,
            slot = source.name,
        )
    };
    let s = Scratch::new(&config("stop"));
    refusal_keeps_values_in_the_dead_letter_only(&s, config, &["1366", "`note`"]);
    let tgt = rt.block_on(target.rows("SELECT code, note FROM people ORDER BY code"));
    let codes: Vec<_> = tgt.iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(codes, ["a", "b"], "{tgt:?}");
}
