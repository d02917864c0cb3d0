//! `logferry check` against real servers: `--json` carries the findings of
//! the text output with the same exit codes, and each thing that stops a
//! source — MariaDB without binlog, a binlog not in ROW format or without
//! FULL row images, a user without the grants; PostgreSQL at
//! `wal_level = replica`, a slot of another plugin, held by another session
//! or invalidated — is reported with its fix, and `check` passes once the
//! printed fix is applied (the printed SQL is run as printed).
//!
//! Server settings are global, so the tests that change them use throwaway
//! servers of their own that scripts/test starts: a PostgreSQL at
//! `wal_level = replica` (`LOGFERRY_TEST_PG_REPLICA_URL`) and a MariaDB
//! without binlog (`LOGFERRY_TEST_MARIADB_NOBINLOG_URL`); each is used by
//! one test only, which leaves it as it found it.

use crate::support::binary::{text, Scratch};
use crate::support::{mariadb, pg};
use mysql_async::prelude::Queryable;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

/// `check --json`: (exit code, the document).
fn check_json(s: &Scratch) -> (i32, Value) {
    let out = s.run(&["check", "--json"]);
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check --json printed no JSON ({e}):\n{}\nstderr: {}", text(&out.stdout), text(&out.stderr)));
    (out.status.code().expect("check exited"), doc)
}

/// The problems of the first pipeline (empty when it is ready).
fn problems(doc: &Value) -> Vec<(String, String)> {
    doc["pipelines"][0]["readiness"]["problems"]
        .as_array()
        .map(|ps| ps.iter().map(|p| (p["problem"].as_str().unwrap().to_string(), p["fix"].as_str().unwrap_or("").to_string())).collect())
        .unwrap_or_default()
}

/// The one problem whose text contains `what`; its fix.
fn fix_for(doc: &Value, what: &str) -> String {
    let all = problems(doc);
    let found: Vec<&(String, String)> = all.iter().filter(|(p, _)| p.contains(what)).collect();
    assert_eq!(found.len(), 1, "one problem with {what:?} expected in {all:#?}");
    assert!(!found[0].1.is_empty(), "the problem {what:?} has no fix: {all:#?}");
    found[0].1.clone()
}

/// The SQL statements in a printed fix, as printed (up to their `;`).
fn statements(fix: &str) -> Vec<String> {
    const STARTS: &[&str] = &["GRANT ", "SET GLOBAL ", "ALTER SYSTEM ", "SELECT pg_drop_replication_slot(", "SELECT pg_terminate_backend("];
    let mut out = Vec::new();
    let mut at = 0;
    while let Some((i, _)) = STARTS.iter().filter_map(|s| fix[at..].find(s).map(|i| (at + i, s))).min() {
        let end = fix[i..].find(';').map(|e| i + e + 1).unwrap_or(fix.len());
        out.push(fix[i..end].to_string());
        at = end;
    }
    out
}

fn env_url(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the suite with scripts/test, which starts that throwaway server on 127.0.0.1 and sets it")
    })
}

/// Runs a function of scripts/lib/<lib> (in the repository, as scripts/test does).
fn lib(script: &str, call: &str, args: &[&str]) {
    let out = Command::new("bash")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("-c")
        .arg(format!("source scripts/lib/{script} && {call} \"$@\""))
        .arg(call)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{call} {args:?} failed: {}{}", text(&out.stdout), text(&out.stderr));
}

fn poll<T>(what: &str, deadline: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(start.elapsed() < deadline, "timed out after {deadline:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn file_target_config(source: &str) -> String {
    format!("state_dir = \"state\"\n[[pipeline]]\nname = \"chk\"\n[pipeline.source]\n{source}\n[[pipeline.target]]\nkind = \"file\"\npath = \"out.jsonl\"\n")
}

// ---------------------------------------------------------------- --json

#[test]
fn check_json_carries_the_text_findings_with_the_same_exit_codes() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = pg::fresh_db("chk_json_src").await;
        s.client.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v text)").await.unwrap();
        (s, pg::fresh_db("chk_json_dst").await)
    });
    let config = |rule: &str, tables: &str| {
        format!(
            "state_dir = \"state\"\n[[pipeline]]\nname = \"j\"\n[pipeline.source]\nkind = \"postgres\"\nurl = \"{}\"\ntables = [{tables}]\nslot = \"{}\"\n\
             {rule}\n[[pipeline.target]]\nkind = \"postgres\"\nurl = \"{}\"\n[pipeline.apply]\nlanes = 3\n",
            source.url, source.name, target.url
        )
    };
    let password = "logferry-test";
    assert!(source.url.contains(password), "the test URL carries the test password");

    // Ready, with a rule that fits.
    let s = Scratch::new(&config("[[pipeline.table]]\nmatch = \"public.t\"\nexclude_columns = [\"v\"]", "\"t\""));
    let out = s.run(&["check"]);
    let (code, doc) = check_json(&s);
    assert_eq!((out.status.code(), code), (Some(0), 0), "{}", text(&out.stdout));
    let p = &doc["pipelines"][0];
    assert_eq!(doc["ok"], true);
    assert_eq!(p["name"], "j");
    assert_eq!(p["source"]["kind"], "postgres");
    assert!(p["source"]["grants"].to_string().contains("WITH LOGIN REPLICATION"), "{p:#}");
    assert_eq!(p["targets"][0]["kind"], "postgres");
    let summary = p["targets"][0]["summary"].as_str().unwrap();
    assert!(summary.contains("***") && !summary.contains(password), "the password is masked: {summary}");
    assert_eq!(p["apply"]["lanes"], 3);
    assert_eq!(p["apply"]["ordering"], "key");
    assert_eq!(p["readiness"]["status"], "ready");
    assert_eq!(p["rules"], serde_json::json!({"status": "ok", "rules": 1, "tables": 1}));
    let report = text(&out.stdout);
    for line in [
        format!("pipeline j: source postgres -> {summary}; 3 lane(s)"),
        format!("  {}", p["readiness"]["summary"].as_str().unwrap()),
        "rules: 1 [[pipeline.table]] rule(s) checked against the source's 1 table(s): OK".into(),
    ] {
        assert!(report.contains(&line), "the text says {line:?} too:\n{report}");
    }
    assert!(!doc.to_string().contains(password), "no password anywhere in the JSON");

    // Not ready: exit 1, each problem with its fix.
    let s = Scratch::new(&config("", "\"t\", \"missing\""));
    let (code, doc) = check_json(&s);
    assert_eq!((s.run(&["check"]).status.code(), code), (Some(1), 1));
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["pipelines"][0]["readiness"]["status"], "not_ready");
    assert_eq!(doc["pipelines"][0]["readiness"]["source"], format!("postgres:127.0.0.1:{}/{}", port_of(&source.url), source.name));
    assert!(fix_for(&doc, "no table matches `missing`").starts_with("check `tables`"));

    // A rule that cannot work: exit 2, the rule's error in the JSON.
    let s = Scratch::new(&config("[[pipeline.table]]\nmatch = \"public.t\"\nexclude_columns = [\"nosuch\"]", "\"t\""));
    let (code, doc) = check_json(&s);
    assert_eq!((s.run(&["check"]).status.code(), code), (Some(2), 2));
    assert_eq!(doc["pipelines"][0]["rules"]["status"], "invalid");
    assert!(doc["rule_errors"][0].as_str().unwrap().contains("nosuch"), "{doc:#}");

    // A config error: exit 2, and still one JSON document.
    let s = Scratch::new("[[pipeline]]\nname = \"j\"\n");
    let (code, doc) = check_json(&s);
    assert_eq!((s.run(&["check"]).status.code(), code), (Some(2), 2));
    assert_eq!(doc["ok"], false);
    assert!(doc["error"].as_str().unwrap().contains("logferry.toml"), "{doc:#}");
}

fn port_of(url: &str) -> &str {
    url.rsplit_once('@').unwrap().1.split_once(':').unwrap().1.split('/').next().unwrap()
}

// ---------------------------------------------------------------- MariaDB

/// Runs `check --json` and, as root, every statement of every printed fix,
/// until `check` passes; returns every problem seen.
async fn apply_fixes_until_ready(s: &Scratch, root: &mut mysql_async::Conn) -> Vec<String> {
    let mut seen = Vec::new();
    for _round in 0..4 {
        let (code, doc) = check_json(s);
        if code == 0 {
            assert_eq!(doc["pipelines"][0]["readiness"]["status"], "ready");
            return seen;
        }
        assert_eq!(code, 1, "{doc:#}");
        for (problem, fix) in problems(&doc) {
            let sql = statements(&fix);
            assert!(!sql.is_empty(), "no statement in the fix of {problem:?}: {fix:?}");
            for stmt in sql {
                root.query_drop(&stmt).await.unwrap_or_else(|e| panic!("the printed fix {stmt:?} fails: {e}"));
            }
            seen.push(problem);
        }
    }
    panic!("check still fails after 4 rounds of fixes; seen: {seen:#?}");
}

#[test]
fn mariadb_check_names_each_missing_grant_and_passes_once_the_printed_grants_run() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = mariadb::fresh_db("chk_grants").await;
        db.exec("CREATE TABLE t (id int PRIMARY KEY, v int)").await;
        let mut root = mysql_async::Conn::from_url(mariadb::server_url().as_str()).await.unwrap();
        // Users are server-wide: names of this process's own (scripts/test drops lf_* users).
        let (bare, insert_only) = (format!("lf_chk_{}_a", std::process::id()), format!("lf_chk_{}_b", std::process::id()));
        for u in [&bare, &insert_only] {
            root.query_drop(format!("DROP USER IF EXISTS '{u}'@'127.0.0.1'; CREATE USER '{u}'@'127.0.0.1' IDENTIFIED BY 'pw'"))
                .await
                .unwrap();
        }
        root.query_drop(format!("GRANT INSERT ON `{}`.t TO '{insert_only}'@'127.0.0.1'", db.name)).await.unwrap();
        let base = mariadb::server_url();
        let host = base.rsplit_once('@').expect("user@host in the URL").1;
        let url_of = |u: &str| format!("mysql://{u}:pw@{host}/{}", db.name);
        let config = |u: &str| file_target_config(&format!("kind = \"mysql\"\nurl = \"{}\"\ntables = [\"{}.t\"]", url_of(u), db.name));

        // No privilege at all: not even the database of the URL; then the binlog grants.
        let s = Scratch::new(&config(&bare));
        let (code, doc) = check_json(&s);
        assert_eq!(code, 1);
        assert_eq!(fix_for(&doc, "may not use database"), format!("run GRANT SELECT ON `{}`.* TO '{bare}'@'127.0.0.1';", db.name));
        let seen = apply_fixes_until_ready(&s, &mut root).await.join("\n");
        for want in ["may not use database", "may not read the binlog (REPLICATION SLAVE)", "cannot read the binlog position"] {
            assert!(seen.contains(want), "{want:?} not reported:\n{seen}");
        }

        // INSERT on the table only: it sees the table but may not read it.
        let s = Scratch::new(&config(&insert_only));
        let (code, doc) = check_json(&s);
        assert_eq!(code, 1);
        let account = format!("'{insert_only}'@'127.0.0.1'");
        assert_eq!(fix_for(&doc, "REPLICATION SLAVE"), format!("run GRANT REPLICATION SLAVE ON *.* TO {account};"));
        assert_eq!(fix_for(&doc, "binlog position"), format!("run GRANT BINLOG MONITOR ON *.* TO {account};"));
        assert_eq!(fix_for(&doc, "cannot read `"), format!("run GRANT SELECT ON `{}`.`t` TO {account};", db.name));
        let text_out = text(&s.run(&["check"]).stdout);
        assert!(text_out.contains("NOT READY:") && text_out.contains("GRANT REPLICATION SLAVE ON *.*"), "{text_out}");
        let seen = apply_fixes_until_ready(&s, &mut root).await;
        assert_eq!(seen.len(), 3, "{seen:#?}");

        for u in [&bare, &insert_only] {
            root.query_drop(format!("DROP USER '{u}'@'127.0.0.1'")).await.unwrap();
        }
    });
}

/// The data directory of the throwaway MariaDB (`@@datadir` is `<data>/db/`).
async fn mariadb_data_dir(conn: &mut mysql_async::Conn) -> String {
    let datadir: String = conn.query_first("SELECT @@datadir").await.unwrap().unwrap();
    datadir.trim_end_matches('/').strip_suffix("/db").unwrap_or_else(|| panic!("{datadir} is not a scripts/lib/mariadb.sh server")).to_string()
}

#[test]
fn mariadb_check_asks_for_log_bin_row_format_and_full_images_and_passes_after_each_fix() {
    let url = env_url("LOGFERRY_TEST_MARIADB_NOBINLOG_URL");
    // What scripts/test gives it (small), without and with the binlog.
    const NO_BINLOG: &str = "skip-log-bin\ninnodb_buffer_pool_size = 32M\nmax_connections = 50";
    const LOG_BIN: &str = "log_bin = mysql-bin\ninnodb_buffer_pool_size = 32M\nmax_connections = 50";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let connect = || rt.block_on(async { mysql_async::Conn::from_url(url.as_str()).await.expect("the throwaway MariaDB answers") });
    let mut root = connect();
    let data = rt.block_on(mariadb_data_dir(&mut root));
    // As scripts/test leaves it: no binlog (an earlier run may have died mid-way).
    if rt.block_on(root.query_first::<String, _>("SELECT @@log_bin")).unwrap().as_deref() == Some("1") {
        lib("mariadb.sh", "mariadb_restart", &[&data, NO_BINLOG]);
        root = connect();
    }
    let db = format!("lf_chk_binlog_{}", std::process::id());
    rt.block_on(root.query_drop(format!("DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}; CREATE TABLE {db}.t (id int PRIMARY KEY)"))).unwrap();
    let s = Scratch::new(&file_target_config(&format!("kind = \"mysql\"\nurl = \"{url}/{db}\"\ntables = [\"{db}.t\"]")));

    let (code, doc) = check_json(&s);
    assert_eq!(code, 1, "{doc:#}");
    let fix = fix_for(&doc, "the binary log is off");
    assert!(fix.contains("log_bin = mysql-bin in my.cnf") && fix.contains("server_id"), "{fix}");
    assert_eq!(problems(&doc).len(), 1, "only the binlog is missing: {doc:#}");
    // The fix: the printed setting in my.cnf (server_id = 1 is there already), and a restart.
    drop(root);
    lib("mariadb.sh", "mariadb_restart", &[&data, LOG_BIN]);
    let (code, doc) = check_json(&s);
    assert_eq!(code, 0, "ready once log_bin is on: {doc:#}");

    // Row format and row images are global settings too.
    let mut root = connect();
    rt.block_on(root.query_drop("SET GLOBAL binlog_format = 'MIXED'; SET GLOBAL binlog_row_image = 'MINIMAL'")).unwrap();
    let (code, doc) = check_json(&s);
    assert_eq!(code, 1, "{doc:#}");
    let format_fix = fix_for(&doc, "binlog_format is MIXED, logferry needs ROW");
    let image_fix = fix_for(&doc, "binlog_row_image is MINIMAL, logferry needs FULL");
    assert_eq!(problems(&doc).len(), 2, "{doc:#}");
    for stmt in statements(&format_fix).into_iter().chain(statements(&image_fix)) {
        rt.block_on(root.query_drop(&stmt)).unwrap_or_else(|e| panic!("the printed fix {stmt:?} fails: {e}"));
    }
    let (code, doc) = check_json(&s);
    assert_eq!(code, 0, "ready once the printed SET GLOBALs ran: {doc:#}");

    rt.block_on(root.query_drop(format!("DROP DATABASE {db}"))).unwrap();
    drop(root);
    lib("mariadb.sh", "mariadb_restart", &[&data, NO_BINLOG]);
}

// ---------------------------------------------------------------- PostgreSQL

/// `wal_level` at `wal_level = replica` → logical → ready; then a slot the
/// server invalidates → dropped → ready. One test: both restart the server.
#[test]
fn postgres_check_asks_for_wal_level_logical_and_a_new_slot_for_an_invalidated_one() {
    let url = env_url("LOGFERRY_TEST_PG_REPLICA_URL");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let admin = rt.block_on(pg::connect(&url));
    let data: String = rt.block_on(admin.query_one("SHOW data_directory", &[])).unwrap().get(0);
    let sql = |client: &tokio_postgres::Client, q: &str| rt.block_on(client.batch_execute(q)).unwrap_or_else(|e| panic!("{q}: {e}"));
    let restart = || lib("postgres.sh", "pg_restart", &[&data]);
    // As scripts/test leaves it (an earlier run may have died mid-way).
    let wal_level: String = rt.block_on(admin.query_one("SHOW wal_level", &[])).unwrap().get(0);
    sql(&admin, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active");
    if wal_level != "replica" {
        sql(&admin, "ALTER SYSTEM RESET wal_level");
        sql(&admin, "ALTER SYSTEM RESET max_slot_wal_keep_size");
        drop(admin);
        restart();
    }
    let admin = rt.block_on(pg::connect(&url));
    let db = format!("lf_chk_wal_{}", std::process::id());
    sql(&admin, &format!("DROP DATABASE IF EXISTS {db}"));
    sql(&admin, &format!("CREATE DATABASE {db}"));
    let db_url = format!("{}/{db}", url.rsplit_once('/').unwrap().0);
    sql(&rt.block_on(pg::connect(&db_url)), "CREATE TABLE t (id int PRIMARY KEY)");
    let slot = "lf_chk_wal";
    let s = Scratch::new(&file_target_config(&format!("kind = \"postgres\"\nurl = \"{db_url}\"\ntables = [\"t\"]\nslot = \"{slot}\"")));

    let (code, doc) = check_json(&s);
    assert_eq!(code, 1, "{doc:#}");
    let fix = fix_for(&doc, "wal_level is `replica`, logical replication needs `logical`");
    assert!(fix.ends_with("then restart PostgreSQL"), "{fix}");
    assert_eq!(problems(&doc).len(), 1, "{doc:#}");
    for stmt in statements(&fix) {
        sql(&admin, &stmt);
    }
    drop(admin);
    restart();
    let (code, doc) = check_json(&s);
    assert_eq!(code, 0, "ready at wal_level = logical: {doc:#}");
    assert!(doc["pipelines"][0]["readiness"]["summary"].as_str().unwrap().contains(&format!("slot `{slot}` will be created")));

    // A slot the server invalidates: it keeps at most 1MB of WAL for slots.
    let admin = rt.block_on(pg::connect(&url));
    let src = rt.block_on(pg::connect(&db_url));
    sql(&admin, "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
    sql(&admin, "SELECT pg_reload_conf()");
    sql(&src, &format!("SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')"));
    poll("the server to invalidate the slot", Duration::from_secs(60), || {
        sql(&src, "INSERT INTO t SELECT coalesce(max(id), 0) + 1 FROM t");
        sql(&src, "SELECT pg_switch_wal()");
        sql(&src, "CHECKPOINT");
        let status: Option<String> =
            rt.block_on(src.query_one("SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1", &[&slot])).unwrap().get(0);
        (status.as_deref() == Some("lost")).then_some(())
    });
    let (code, doc) = check_json(&s);
    assert_eq!(code, 1, "{doc:#}");
    let fix = fix_for(&doc, &format!("replication slot `{slot}` was invalidated"));
    assert!(fix.contains("`logferry reset` the pipeline"), "{fix}");
    let drop_it = statements(&fix);
    assert_eq!(drop_it, vec![format!("SELECT pg_drop_replication_slot('{slot}');")]);
    sql(&src, &drop_it[0]);
    let (code, doc) = check_json(&s);
    assert_eq!(code, 0, "ready once the slot is dropped: {doc:#}");

    drop(src);
    sql(&admin, &format!("DROP DATABASE {db} WITH (FORCE)"));
    sql(&admin, "ALTER SYSTEM RESET wal_level");
    sql(&admin, "ALTER SYSTEM RESET max_slot_wal_keep_size");
    drop(admin);
    restart();
}

#[test]
fn postgres_check_names_a_slot_of_another_plugin_and_passes_once_it_is_dropped() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let src = rt.block_on(pg::fresh_db("chk_plugin"));
    let slot = src.name.clone();
    rt.block_on(async {
        src.client.batch_execute("CREATE TABLE t (id int PRIMARY KEY)").await.unwrap();
        src.client.batch_execute(&format!("SELECT pg_create_logical_replication_slot('{slot}', 'test_decoding')")).await.unwrap();
    });
    let s = Scratch::new(&file_target_config(&format!("kind = \"postgres\"\nurl = \"{}\"\ntables = [\"t\"]\nslot = \"{slot}\"", src.url)));
    let (code, doc) = check_json(&s);
    assert_eq!(code, 1, "{doc:#}");
    let fix = fix_for(&doc, &format!("replication slot `{slot}` uses the plugin `test_decoding`, logferry needs `pgoutput`"));
    let text_out = text(&s.run(&["check"]).stdout);
    assert!(text_out.contains("NOT READY:") && text_out.contains("uses the plugin `test_decoding`"), "{text_out}");
    for stmt in statements(&fix) {
        rt.block_on(src.client.batch_execute(&stmt)).unwrap_or_else(|e| panic!("{stmt}: {e}"));
    }
    let (code, doc) = check_json(&s);
    assert_eq!(code, 0, "ready once the slot is dropped: {doc:#}");
}

#[test]
fn postgres_check_names_a_slot_another_session_holds_and_passes_once_that_run_stops() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let src = rt.block_on(pg::fresh_db("chk_active"));
    rt.block_on(src.client.batch_execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")).unwrap();
    let slot = src.name.clone();
    let s = Scratch::new(&file_target_config(&format!(
        "kind = \"postgres\"\nurl = \"{}\"\ntables = [\"t\"]\nslot = \"{slot}\"\npublication = \"{slot}\"",
        src.url
    )));
    let mut run = s.spawn(&["run"]);
    let active_pid = |rt: &tokio::runtime::Runtime| -> Option<i32> {
        rt.block_on(src.client.query_opt("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1 AND active", &[&slot]))
            .unwrap()
            .map(|r| r.get(0))
    };
    // Streaming (a row written now arrives), so the slot is held for good:
    // between creating it and streaming from it, a run releases it.
    let out = s.path("out.jsonl");
    use logferry::record::Op;
    let arrived = |op: Op| crate::support::binary::read_json_lines(&out).iter().any(|r| r.op() == op);
    let mut written = false;
    poll("`logferry run` to stream a new row", Duration::from_secs(60), || {
        if let Some(status) = run.try_wait().unwrap() {
            panic!("run exited early ({status})");
        }
        if !written && arrived(Op::SnapshotRead) {
            rt.block_on(src.client.batch_execute("INSERT INTO t VALUES (2)")).unwrap();
            written = true;
        }
        (written && arrived(Op::Insert)).then_some(())
    });
    let pid = active_pid(&rt).expect("a streaming run holds its slot");
    let (code, doc) = check_json(&s);
    assert_eq!(code, 1, "{doc:#}");
    let fix = fix_for(&doc, &format!("replication slot `{slot}` is in use by another session (pid {pid}"));
    assert!(fix.starts_with("stop that process"), "{fix}");
    // The fix: stop that run (SIGTERM: it drains and checkpoints).
    unsafe { libc::kill(run.id() as i32, libc::SIGTERM) };
    let status = poll("the run to stop", Duration::from_secs(60), || run.try_wait().unwrap());
    assert!(status.success(), "run stops cleanly on SIGTERM");
    poll("the server to release the slot", Duration::from_secs(30), || active_pid(&rt).is_none().then_some(()));
    let (code, doc) = check_json(&s);
    assert_eq!(code, 0, "ready once the other run stopped: {doc:#}");
    assert!(doc["pipelines"][0]["readiness"]["summary"].as_str().unwrap().contains(&format!("slot `{slot}` exists")), "{doc:#}");
    rt.block_on(src.client.batch_execute(&format!("SELECT pg_drop_replication_slot('{slot}')"))).unwrap();
}
