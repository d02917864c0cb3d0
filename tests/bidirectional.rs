//! Two-way replication between two PostgreSQL databases: pipeline A→B and
//! B→A run together in one process; each target marks its sessions with a
//! replication origin (`replication_origin = true`) and each source asks for
//! changes without an origin only (`origin = "none"`, PostgreSQL 16+). A
//! write on either side arrives once on the other and never comes back.
//!
//! Needs a PostgreSQL 16 or later: `LOGFERRY_TEST_PG16PLUS_URL` (scripts/test
//! sets it).

use crate::support::binary::Scratch;
use crate::support::pg::{cells, fresh_db_on, server16plus_url, TestDb};
use std::io::{BufRead, Read, Write};
use std::process::Child;
use std::time::{Duration, Instant};

/// Each side: the replicated table, and an audit of every row change made
/// on it (by the test's own writes and by logferry's target sessions alike;
/// not replicated). An echo shows as a second audit row for a key.
const SCHEMA: &str = "
    CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL);
    CREATE TABLE audit (n bigserial PRIMARY KEY, id int NOT NULL, op text NOT NULL, v text);
    CREATE FUNCTION audit_items() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        INSERT INTO audit (id, op, v) VALUES (OLD.id, TG_OP, NULL);
      ELSE
        INSERT INTO audit (id, op, v) VALUES (NEW.id, TG_OP, NEW.v);
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER audit_items AFTER INSERT OR UPDATE OR DELETE ON items
      FOR EACH ROW EXECUTE FUNCTION audit_items();";

fn pipeline(name: &str, from: &TestDb, to: &TestDb) -> String {
    format!(
        r#"
[[pipeline]]
name = "{name}"
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = ["public.items"]
slot = "{slot}"
publication = "{slot}"
origin = "none"
heartbeat_interval = "1h"
[[pipeline.target]]
kind = "postgres"
url = "{dst}"
replication_origin = true
[pipeline.apply]
lanes = 2
batch_max_rows = 100
batch_max_wait = "5ms"
checkpoint_interval = "50ms"
"#,
        src = from.url,
        dst = to.url,
        slot = from.name,
    )
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

/// `logferry_records_applied_total` of both pipelines, in the order given.
fn applied(addr: &str, pipelines: &[&str]) -> Vec<u64> {
    let metrics = http_get(addr, "/metrics");
    pipelines
        .iter()
        .map(|p| {
            let prefix = format!("logferry_records_applied_total{{pipeline=\"{p}\"}} ");
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap_or_else(|| panic!("no {prefix} in /metrics:\n{metrics}"))
                .trim()
                .parse()
                .unwrap()
        })
        .collect()
}

/// Audit rows per key: `id|op|v`, in the order they happened.
async fn audit(db: &TestDb) -> Vec<String> {
    cells(db, "SELECT id, op, v FROM audit ORDER BY n")
        .await
        .into_iter()
        .map(|r| r.into_iter().map(|c| c.unwrap_or_else(|| "∅".into())).collect::<Vec<_>>().join("|"))
        .collect()
}

async fn items(db: &TestDb) -> Vec<String> {
    cells(db, "SELECT id, v FROM items ORDER BY id")
        .await
        .into_iter()
        .map(|r| r.into_iter().map(|c| c.unwrap_or_default()).collect::<Vec<_>>().join("|"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_way_pipelines_with_origin_none_deliver_each_write_once_and_never_echo() {
    let server = server16plus_url();
    let a = fresh_db_on(&server, "bidir_a").await;
    let b = fresh_db_on(&server, "bidir_b").await;
    for db in [&a, &b] {
        db.client.batch_execute(SCHEMA).await.unwrap();
    }
    let config = format!(
        "state_dir = \"state\"\n[admin]\nlisten = \"127.0.0.1:0\"\n{}{}",
        pipeline("a_to_b", &a, &b),
        pipeline("b_to_a", &b, &a)
    );
    let s = Scratch::new(&config);
    let mut run = Running(s.spawn(&["run"]));
    let stderr = run.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    let addr = loop {
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("no `admin endpoint listening` line; log:\n{}", log.join("\n")));
        if line.contains("admin endpoint listening") {
            break line.split("listen=").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
        }
        log.push(line);
    };

    // Both pipelines stream (their slots are active), so the writes below
    // travel through the log, not through the initial copy.
    let active = format!(
        "SELECT count(*)::text FROM pg_replication_slots WHERE active AND slot_name IN ('{}', '{}')",
        a.name, b.name
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while cells(&a, &active).await[0][0].as_deref() != Some("2") {
        assert!(Instant::now() < deadline, "both pipelines did not start streaming within 60 s");
        assert!(run.0.try_wait().unwrap().is_none(), "logferry run exited; log:\n{}", rx.try_iter().collect::<Vec<_>>().join("\n"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Writes on both sides while both pipelines run: inserts, then updates
    // of some of them, each side its own keys.
    a.client
        .batch_execute("INSERT INTO items SELECT g, 'a' || g FROM generate_series(1, 20) g; UPDATE items SET v = v || '+' WHERE id <= 5;")
        .await
        .unwrap();
    b.client
        .batch_execute(
            "INSERT INTO items SELECT g, 'b' || g FROM generate_series(101, 120) g; UPDATE items SET v = v || '+' WHERE id > 115;",
        )
        .await
        .unwrap();
    let want: Vec<String> = (1..=20)
        .map(|i| format!("{i}|a{i}{}", if i <= 5 { "+" } else { "" }))
        .chain((101..=120).map(|i| format!("{i}|b{i}{}", if i > 115 { "+" } else { "" })))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (on_a, on_b) = (items(&a).await, items(&b).await);
        if on_a == want && on_b == want {
            break;
        }
        if let Ok(Some(status)) = run.0.try_wait() {
            panic!("logferry run exited ({status}) before both sides matched; log:\n{}", rx.try_iter().collect::<Vec<_>>().join("\n"));
        }
        assert!(Instant::now() < deadline, "both sides did not reach every write within 60 s:\nA: {on_a:?}\nB: {on_b:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The changes settle: the applied counters of both pipelines stay put for
    // 3 s (an echo would keep them moving, pipeline after pipeline).
    let pipelines = ["a_to_b", "b_to_a"];
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut last, mut since) = (applied(&addr, &pipelines), Instant::now());
    while since.elapsed() < Duration::from_secs(3) {
        assert!(Instant::now() < deadline, "the applied counters did not settle within 30 s (last {last:?}): changes keep flowing");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = applied(&addr, &pipelines);
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
    // Each pipeline applied the other side's 25 row changes at least (inserts and updates)...
    assert!(last.iter().all(|n| *n >= 25), "applied {last:?}");

    // ...and every key's changes happened exactly once on each side: the
    // local writes on the side that made them, one applied upsert per key on
    // the other (the target reduces a key's insert and update in one batch to
    // its final state, or applies them in turn), and nothing came back.
    for (db, local, remote) in [(&a, 1..=20, 101..=120), (&b, 101..=120, 1..=20)] {
        let rows = audit(db).await;
        for id in local.clone() {
            let mine: Vec<&String> = rows.iter().filter(|r| r.split('|').next() == Some(&id.to_string())).collect();
            let updated = if id <= 5 || id > 115 { 1 } else { 0 };
            assert_eq!(mine.len(), 1 + updated, "{}: key {id} was written {} times (an echo came back): {mine:?}", db.name, mine.len());
        }
        for id in remote.clone() {
            let mine: Vec<&String> = rows.iter().filter(|r| r.split('|').next() == Some(&id.to_string())).collect();
            let last_v = want.iter().find(|w| w.split('|').next() == Some(&id.to_string())).unwrap().split('|').nth(1).unwrap();
            let most = if id <= 5 || id > 115 { 2 } else { 1 };
            assert!(!mine.is_empty() && mine.len() <= most, "{}: key {id} from the other side applied {} times: {mine:?}", db.name, mine.len());
            assert!(mine.last().unwrap().ends_with(&format!("|{last_v}")), "{}: key {id}: {mine:?}", db.name);
        }
    }
    // The targets' sessions carried replication origins named after their pipelines.
    let origins = cells(&a, "SELECT roname FROM pg_replication_origin WHERE roname LIKE 'logferry\\_a\\_to\\_b\\_%' OR roname LIKE 'logferry\\_b\\_to\\_a\\_%' ORDER BY 1").await;
    assert!(origins.iter().any(|r| r[0].as_deref().unwrap().starts_with("logferry_a_to_b_")), "{origins:?}");
    assert!(origins.iter().any(|r| r[0].as_deref().unwrap().starts_with("logferry_b_to_a_")), "{origins:?}");

    unsafe { libc::kill(run.0.id() as i32, libc::SIGTERM) };
    let status = run.0.wait().unwrap();
    assert!(status.success(), "logferry run did not stop cleanly: {status}");
}
