//! Target outages through the real binary for the two other database
//! targets: PostgreSQL → MariaDB (`kind = "mysql"`) and PostgreSQL →
//! MongoDB (`kind = "mongodb"`, SecantusDB here), each target behind the
//! fault-injecting proxy (tests/support/proxy.rs). The same shape as
//! reliability_outage.rs (PostgreSQL → PostgreSQL):
//!
//! - The target hangs (blackhole) and then goes down (connections cut, new
//!   ones refused) for longer than the queue bound lasts, while the source
//!   keeps writing: logferry stays up, warns that it is retrying, nothing
//!   reaches the target while it is down (so no connection bypasses the
//!   proxy), and when the target returns it catches up by itself to exactly
//!   the source.
//! - Connections are reset (RST) in the middle of applies, several times:
//!   the target still ends equal to the source.
//!
//! Rows are compared as text `id|v|note`, ordered by id: on MariaDB with
//! SQL, on MongoDB from the documents (`_id` = the primary key `id`).

use crate::support::binary::Scratch;
use crate::support::pg::{self, fresh_db, TestDb};
use crate::support::proxy::Proxy;
use crate::support::outage::*;
use crate::support::{mariadb, mongodb};
use bson::Bson;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Child;
use std::time::{Duration, Instant};
use tokio::sync::watch;


/// The target database, on the real server (the test reads it directly,
/// not through the proxy).
enum Target {
    Mariadb(mariadb::TestDb),
    Mongodb(mongodb::TestMongo),
}

#[derive(Clone, Copy)]
enum Kind {
    Mariadb,
    Mongodb,
}

impl Kind {
    /// Pause between source transactions. The MongoDB stand-in applies a
    /// few hundred of these rows a second (every write with w: majority,
    /// j: true): a slower source keeps its catch-up within the test's time,
    /// and still writes far more during the outage than the queue holds.
    fn writer_pause(self) -> Duration {
        match self {
            Kind::Mariadb => Duration::from_millis(15),
            Kind::Mongodb => Duration::from_millis(100),
        }
    }
}

impl Target {
    async fn fresh(kind: Kind, prefix: &str) -> Target {
        match kind {
            Kind::Mariadb => Target::Mariadb(mariadb::fresh_db(prefix).await),
            Kind::Mongodb => Target::Mongodb(mongodb::fresh_db(prefix).await),
        }
    }

    /// The server's address, for the proxy.
    fn server(&self) -> SocketAddr {
        match self {
            Target::Mariadb(db) => addr_of(&db.url),
            Target::Mongodb(db) => addr_of(&db.url),
        }
    }

    /// The `[[pipeline.target]]` section, pointed at the proxy.
    fn toml(&self, proxy: &Proxy) -> String {
        match self {
            Target::Mariadb(db) => {
                // mysql_async would switch a loopback connection to the
                // server's unix socket (prefer_socket), around the proxy.
                let url = through(proxy, &db.url) + "?prefer_socket=false";
                format!("[[pipeline.target]]\nkind = \"mysql\"\nurl = \"{url}\"\n")
            }
            Target::Mongodb(db) => {
                // directConnection: the driver talks to the given address
                // only, instead of following the replica set's host list
                // back to the server's real port. serverSelectionTimeoutMS:
                // while the target is unreachable the driver fails an
                // operation after 1 s instead of 30 s, so the outage reaches
                // logferry's own retry loop rather than being waited out
                // inside one driver call (with its retryable writes).
                let mut url = through(proxy, &db.url);
                url += if url.contains('?') { "&" } else if url.ends_with('/') { "?" } else { "/?" };
                if !url.contains("directConnection=true") {
                    url += "directConnection=true&";
                }
                url += "serverSelectionTimeoutMS=1000";
                format!("[[pipeline.target]]\nkind = \"mongodb\"\nurl = \"{url}\"\ndatabase = \"{}\"\n", db.name)
            }
        }
    }

    /// How many rows `items` has (0 while it does not exist yet): a cheap
    /// check before comparing every row.
    async fn count(&self) -> usize {
        match self {
            Target::Mariadb(db) if !db.has_items().await => 0,
            Target::Mariadb(db) => db.rows("SELECT COUNT(*) FROM items").await[0][0].as_deref().unwrap().parse().unwrap(),
            Target::Mongodb(db) => db.coll("items").count_documents(bson::doc! {}).await.unwrap() as usize,
        }
    }

    /// Every row of `items` as `id|v|note`, ordered by id (none while the
    /// table or collection does not exist yet).
    async fn items(&self) -> Vec<String> {
        match self {
            Target::Mariadb(db) if !db.has_items().await => Vec::new(),
            Target::Mariadb(db) => {
                db.rows("SELECT id, v, note FROM items ORDER BY id")
                    .await
                    .into_iter()
                    .map(|r| r.into_iter().map(|c| c.unwrap_or_else(|| "∅".into())).collect::<Vec<_>>().join("|"))
                    .collect()
            }
            Target::Mongodb(db) => mongodb::all_docs(&db.db, "items")
                .await
                .into_iter()
                .map(|d| {
                    let field = |name: &str| match d.get(name) {
                        None | Some(Bson::Null) => "∅".to_string(),
                        Some(Bson::Int32(i)) => i.to_string(),
                        Some(Bson::Int64(i)) => i.to_string(),
                        Some(Bson::String(s)) => s.clone(),
                        Some(other) => format!("{other:?}"),
                    };
                    assert_eq!(field("_id"), field("id"), "the document's _id is not its key: {d}");
                    format!("{}|{}|{}", field("id"), field("v"), field("note"))
                })
                .collect(),
        }
    }
}

impl mariadb::TestDb {
    /// Whether the target table exists yet (logferry creates it).
    async fn has_items(&self) -> bool {
        let sql = format!("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = 'items'", self.name);
        self.rows(&sql).await == [[Some("1".to_string())]]
    }
}

fn config(source: &TestDb, target_toml: &str) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "outage"
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = ["items"]
slot = "{slot}"
publication = "{slot}"
heartbeat_interval = "500ms"
{target_toml}
[pipeline.apply]
lanes = {LANES}
batch_max_rows = 50
batch_max_wait = "5ms"
queue_max_records = {QUEUE_MAX_RECORDS}
checkpoint_interval = "50ms"
retry_backoff = "{RETRY_BACKOFF_MS}ms"
retry_max_backoff = "{RETRY_MAX_BACKOFF_MS}ms"
"#,
        src = source.url,
        slot = source.name,
    )
}

/// The source's rows as `id|v|note`, ordered by id (`items.id`: a bare
/// `id` would sort by the output column, the text).
async fn source_items(source: &TestDb) -> Vec<String> {
    pg::rows(source, "SELECT id::text, v::text, note FROM items ORDER BY items.id").await
}

/// Waits until the target holds exactly the source's rows; fails with the
/// difference (and logferry's log) after `within`.
async fn wait_until_equal(source: &TestDb, target: &Target, within: Duration, child: &mut Child, s: &Scratch) -> usize {
    let deadline = Instant::now() + within;
    let want = source_items(source).await;
    loop {
        let n = target.count().await;
        let got = if n == want.len() { target.items().await } else { Vec::new() };
        if got == want {
            return want.len();
        }
        assert_running(child, s, "while catching up");
        if Instant::now() > deadline {
            let got = target.items().await;
            let (want_set, got_set) = (want.iter().collect::<HashSet<_>>(), got.iter().collect::<HashSet<_>>());
            let missing = want.iter().filter(|r| !got_set.contains(r)).take(3).collect::<Vec<_>>();
            let extra = got.iter().filter(|r| !want_set.contains(r)).take(3).collect::<Vec<_>>();
            panic!(
                "the target did not catch up within {within:?}: source {} rows, target {}; first missing {missing:?}, first extra {extra:?}; log:\n{}",
                want.len(),
                got.len(),
                log_of(s)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The source (`items` with 1000 seed rows) and an empty target.
fn databases(rt: &tokio::runtime::Runtime, kind: Kind, prefix: &str) -> (TestDb, Target) {
    rt.block_on(async {
        let s = fresh_db(&format!("{prefix}_src")).await;
        s.client
            .batch_execute(
                "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, note text);
                 INSERT INTO items SELECT g, 0, 'seed ' || g FROM generate_series(1, 1000) g;",
            )
            .await
            .unwrap();
        (s, Target::fresh(kind, &format!("{prefix}_dst")).await)
    })
}

/// The target hangs, then is down, for longer than the queue bound lasts;
/// then it returns and the target catches up to exactly the source.
fn target_down_then_back(kind: Kind, prefix: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = databases(&rt, kind, prefix);
    let proxy = Proxy::start(target.server());
    let s = Scratch::new(&config(&source, &target.toml(&proxy)));
    let mut child = start(&s);

    // The initial copy arrives, through the proxy.
    let seeded = rt.block_on(wait_until_equal(&source, &target, Duration::from_secs(30), &mut child, &s));
    assert_eq!(seeded, 1000);
    assert!(proxy.stats().accepted > 0, "the target connections bypass the proxy: {:?}", proxy.stats());

    let (stop_tx, stop_rx) = watch::channel(false);
    let writer = spawn_writer(&rt, source.url.clone(), kind.writer_pause(), stop_rx);
    std::thread::sleep(Duration::from_millis(500));

    // The outage: first the target hangs (applies in flight get no answer),
    // then it goes away (connections cut, new ones refused).
    let hang = Duration::from_secs(2);
    let down = Duration::from_secs(5);
    let outage_started = Instant::now();
    proxy.blackhole();
    let wait = |d: Duration, child: &mut Child| {
        let until = Instant::now() + d;
        while Instant::now() < until {
            assert_running(child, &s, "during the outage");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait(hang, &mut child);
    // Cut first: leaving the blackhole releases what it held, and a write
    // released that way (between `refuse` and `cut`) would still land. The
    // second cut ends any connection accepted in between.
    proxy.cut();
    proxy.refuse();
    proxy.cut();
    let stats_when_down = proxy.stats();
    // A command that reached the server just before still finishes: look
    // at the target once it has settled, and again at the end.
    let settle = Duration::from_secs(1);
    wait(settle, &mut child);
    let target_when_down = rt.block_on(target.items());
    wait(down - settle, &mut child);
    let outage = outage_started.elapsed();
    // Nothing got through while down: no traffic, and no write reached the
    // target some other way (e.g. a unix socket around the proxy, or the
    // MongoDB driver following the replica set's host list).
    let after = proxy.stats();
    assert_eq!((after.bytes_up, after.accepted), (stats_when_down.bytes_up, stats_when_down.accepted), "traffic while refusing");
    assert!(rt.block_on(target.items()) == target_when_down, "the target changed while the proxy refused: a connection bypasses it");
    let written_during_outage: i64 = rt.block_on(async {
        source.client.query_one("SELECT count(*) FROM items WHERE id >= $1", &[&FIRST_WORKLOAD_ID]).await.unwrap().get(0)
    });

    // The target returns; the source keeps writing a little longer.
    proxy.pass();
    std::thread::sleep(Duration::from_millis(500));
    stop_tx.send(true).unwrap();
    rt.block_on(writer).unwrap();
    let rows = rt.block_on(wait_until_equal(&source, &target, Duration::from_secs(30), &mut child, &s));
    assert_running(&mut child, &s, "after catching up");
    stop(child, &s);

    let log = log_of(&s);
    let warnings = count(&log, RETRYING);

    // Far more was written than the queue holds.
    assert!(written_during_outage > 10 * QUEUE_MAX_RECORDS as i64, "only {written_during_outage} rows written during the outage");
    // The target really was behind when it went down (the outage held rows back).
    assert!(target_when_down.len() < rows, "the target already had all {rows} rows when it went down");
    // Warned once per backoff step per lane, not per row.
    let steps_per_lane = 4 + outage.as_millis() as u64 / (RETRY_MAX_BACKOFF_MS / 2) + 2;
    assert!(warnings >= 1, "no `{RETRYING}` warning in the log:\n{log}");
    assert!(warnings as u64 <= LANES * steps_per_lane, "{warnings} `{RETRYING}` warnings: more than one per backoff step");
    // The recovery says how long the target was down (at least the time it refused).
    assert!(count(&log, RECOVERED) >= 1, "no `{RECOVERED}` line in the log:\n{log}");
    assert!(longest_recovery_ms(&log) >= down.as_millis() as u64 * 8 / 10, "recovery lines: {}", longest_recovery_ms(&log));
}

/// Connections reset (RST) mid-apply six times while the source writes;
/// the target still ends equal to the source.
fn resets_mid_apply(kind: Kind, prefix: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = databases(&rt, kind, prefix);
    let proxy = Proxy::start(target.server());
    let s = Scratch::new(&config(&source, &target.toml(&proxy)));
    let mut child = start(&s);
    rt.block_on(wait_until_equal(&source, &target, Duration::from_secs(30), &mut child, &s));
    assert!(proxy.stats().accepted > 0, "the target connections bypass the proxy: {:?}", proxy.stats());

    let (stop_tx, stop_rx) = watch::channel(false);
    let writer = spawn_writer(&rt, source.url.clone(), kind.writer_pause(), stop_rx);
    // A little latency per chunk keeps applies in flight most of the time,
    // so the resets land inside them.
    proxy.delay(Duration::from_millis(3));
    let resets = reset_while_applying(&proxy, &mut child, &s, 6, Duration::from_secs(20));
    proxy.pass();
    stop_tx.send(true).unwrap();
    rt.block_on(writer).unwrap();
    rt.block_on(wait_until_equal(&source, &target, Duration::from_secs(30), &mut child, &s));
    assert_running(&mut child, &s, "after catching up");
    stop(child, &s);
    assert_resets_were_retried(&proxy, &s, resets);
}

#[test]
fn mariadb_target_down_longer_than_the_queue_bound_loses_nothing_and_resumes_by_itself() {
    target_down_then_back(Kind::Mariadb, "tgt_my_down");
}

#[test]
fn mariadb_target_connections_reset_mid_apply_still_end_equal() {
    resets_mid_apply(Kind::Mariadb, "tgt_my_reset");
}

#[test]
fn mongodb_target_down_longer_than_the_queue_bound_loses_nothing_and_resumes_by_itself() {
    target_down_then_back(Kind::Mongodb, "tgt_mg_down");
}

#[test]
fn mongodb_target_connections_reset_mid_apply_still_end_equal() {
    resets_mid_apply(Kind::Mongodb, "tgt_mg_reset");
}
