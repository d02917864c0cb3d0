//! Target outages through the real binary: PostgreSQL → PostgreSQL with the
//! target behind the fault-injecting proxy (tests/support/proxy.rs).
//!
//! - The target hangs (blackhole) and then goes down (connections cut, new
//!   ones refused) for longer than the queue bound lasts, while the source
//!   keeps writing: logferry stays up, its memory stays bounded, it warns
//!   once per backoff step (not per row), and when the target returns it
//!   catches up by itself to exactly the source.
//! - Connections are reset (RST) in the middle of applies, several times:
//!   the target still ends equal to the source.

use crate::support::binary::Scratch;
use crate::support::pg::{self, fresh_db, TestDb};
use crate::support::proxy::Proxy;
use crate::support::outage::*;
use std::net::SocketAddr;
use std::process::Child;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The test server's address (`127.0.0.1:port` from `LOGFERRY_TEST_PG_URL`).
fn server_addr() -> SocketAddr {
    addr_of(&pg::server_url())
}

fn config(source: &TestDb, target_url: &str) -> String {
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
[[pipeline.target]]
kind = "postgres"
url = "{target_url}"
[pipeline.apply]
lanes = {LANES}
batch_max_rows = 50
batch_max_wait = "5ms"
queue_max_records = {QUEUE_MAX_RECORDS}
checkpoint_interval = "50ms"
retry_backoff = "{RETRY_BACKOFF_MS}ms"
retry_max_backoff = "{RETRY_MAX_BACKOFF_MS}ms"
# max_retries left at its default: retry until the target is back.
"#,
        src = source.url,
        slot = source.name,
    )
}

/// Resident memory of a process in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Every row as text, ordered by key.
async fn items(db: &TestDb) -> Vec<String> {
    pg::rows(db, "SELECT id::text, v::text, note FROM items ORDER BY id").await
}

/// Waits until the target holds exactly the source's rows; fails with the
/// difference after `within`.
async fn wait_until_equal(source: &TestDb, target: &TestDb, within: Duration, child: &mut Child, s: &Scratch) -> usize {
    let deadline = Instant::now() + within;
    let want = items(source).await;
    loop {
        // The target may not have the table yet.
        let got = match target.client.simple_query("SELECT 1 FROM items LIMIT 1").await {
            Ok(_) => items(target).await,
            Err(_) => Vec::new(),
        };
        if got == want {
            return want.len();
        }
        assert_running(child, s, "while catching up");
        if Instant::now() > deadline {
            let missing = want.iter().filter(|r| !got.contains(r)).take(5).collect::<Vec<_>>();
            let extra = got.iter().filter(|r| !want.contains(r)).take(5).collect::<Vec<_>>();
            panic!(
                "the target did not catch up: source {} rows, target {}; first missing {missing:?}, first extra {extra:?}",
                want.len(),
                got.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Two databases with `items` (1000 seed rows) on the source.
fn databases(rt: &tokio::runtime::Runtime, prefix: &str) -> (TestDb, TestDb) {
    rt.block_on(async {
        let s = fresh_db(&format!("{prefix}_src")).await;
        s.client
            .batch_execute(
                "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, note text);
                 INSERT INTO items SELECT g, 0, 'seed ' || g FROM generate_series(1, 1000) g;",
            )
            .await
            .unwrap();
        (s, fresh_db(&format!("{prefix}_dst")).await)
    })
}

#[test]
fn target_down_longer_than_the_queue_bound_loses_nothing_and_resumes_by_itself() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = databases(&rt, "out_down");
    let proxy = Proxy::start(server_addr());
    let s = Scratch::new(&config(&source, &through(&proxy, &target.url)));
    let mut child = start(&s);
    let pid = child.id();

    // The initial copy arrives.
    let seeded = rt.block_on(wait_until_equal(&source, &target, Duration::from_secs(30), &mut child, &s));
    assert_eq!(seeded, 1000);
    let baseline = (0..10)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(50));
            rss_kib(pid).unwrap_or(0)
        })
        .max()
        .unwrap();

    let (stop_tx, stop_rx) = watch::channel(false);
    let writer = spawn_writer(&rt, source.url.clone(), Duration::from_millis(15), stop_rx);
    std::thread::sleep(Duration::from_millis(500));

    // The outage: first the target hangs (applies in flight get no answer),
    // then it goes away (connections cut, new ones refused).
    let hang = Duration::from_secs(3);
    let down = Duration::from_secs(6);
    let outage_started = Instant::now();
    proxy.blackhole();
    let mut samples = Vec::new();
    let mut sample_for = |d: Duration, child: &mut Child| {
        let until = Instant::now() + d;
        while Instant::now() < until {
            assert_running(child, &s, "during the outage");
            samples.push(rss_kib(pid).unwrap_or(0));
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    sample_for(hang, &mut child);
    proxy.refuse();
    proxy.cut();
    let bytes_when_down = proxy.stats();
    sample_for(down, &mut child);
    let outage = outage_started.elapsed();
    // Nothing got through while down.
    let after = proxy.stats();
    assert_eq!((after.bytes_up, after.accepted), (bytes_when_down.bytes_up, bytes_when_down.accepted), "traffic while refusing");
    let written_during_outage: i64 = rt.block_on(async {
        source.client.query_one("SELECT count(*) FROM items WHERE id >= 1000000", &[]).await.unwrap().get(0)
    });
    let wal_not_sent: i64 = rt.block_on(async {
        source
            .client
            .query_one(
                "SELECT coalesce((SELECT (pg_current_wal_lsn() - r.sent_lsn)::bigint FROM pg_stat_replication r
                                  JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = $1), -1)",
                &[&source.name],
            )
            .await
            .unwrap()
            .get(0)
    });

    // The target returns; the source keeps writing a little longer.
    proxy.pass();
    std::thread::sleep(Duration::from_millis(500));
    stop_tx.send(true).unwrap();
    rt.block_on(writer).unwrap();
    rt.block_on(wait_until_equal(&source, &target, Duration::from_secs(60), &mut child, &s));
    assert_running(&mut child, &s, "after catching up");
    stop(child, &s);

    let peak = samples.iter().copied().max().unwrap_or(0);
    let log = log_of(&s);
    let warnings = count(&log, RETRYING);

    // Far more was written than the queue holds: the bound was reached and held.
    assert!(written_during_outage > 20 * QUEUE_MAX_RECORDS as i64, "only {written_during_outage} rows written during the outage");
    // ... and the source was held back: the server still had WAL it could
    // not send (with an unbounded queue logferry reads it all: 0 here).
    assert!(wal_not_sent >= 1 << 20, "the source was not held back: only {wal_not_sent} bytes of WAL unsent");
    // Memory: the queue holds at most 200 records (~100 KiB of rows); holding
    // the outage's rows takes ~30 MiB more (measured with an unbounded queue).
    assert!(peak <= baseline + 16 * 1024, "RSS grew from {baseline} KiB to {peak} KiB during the outage");
    // Logs: once per backoff step per lane, not per row. Each lane waits at
    // least half of each delay (jitter), so while down it warns at most
    // every RETRY_MAX_BACKOFF_MS / 2 after the first doublings.
    let steps_per_lane = 4 + outage.as_millis() as u64 / (RETRY_MAX_BACKOFF_MS / 2) + 2;
    assert!(warnings >= 1, "no `{RETRYING}` warning in the log:\n{log}");
    assert!(warnings as u64 <= LANES * steps_per_lane, "{warnings} `{RETRYING}` warnings: more than one per backoff step");
    let first = log.lines().find(|l| l.contains(RETRYING)).unwrap();
    for field in ["lane=", "target=", "failing_since=", "failing_for_ms=", "attempt=", "retry_in_ms=", "error="] {
        assert!(first.contains(field), "the warning lacks {field}: {first}");
    }
    // The recovery says how long the target was down (at least the time it refused).
    assert!(count(&log, RECOVERED) >= 1, "no `{RECOVERED}` line in the log:\n{log}");
    assert!(longest_recovery_ms(&log) >= down.as_millis() as u64 * 8 / 10, "recovery lines: {}", longest_recovery_ms(&log));
}

#[test]
fn connections_reset_mid_apply_still_end_equal() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = databases(&rt, "out_reset");
    let proxy = Proxy::start(server_addr());
    let s = Scratch::new(&config(&source, &through(&proxy, &target.url)));
    let mut child = start(&s);
    rt.block_on(wait_until_equal(&source, &target, Duration::from_secs(30), &mut child, &s));

    let (stop_tx, stop_rx) = watch::channel(false);
    let writer = spawn_writer(&rt, source.url.clone(), Duration::from_millis(15), stop_rx);
    // A little latency per chunk keeps applies in flight most of the time,
    // so the resets land inside transactions (BEGIN … COMMIT).
    proxy.delay(Duration::from_millis(3));
    let resets = reset_while_applying(&proxy, &mut child, &s, 6, Duration::from_secs(30));
    proxy.pass();
    stop_tx.send(true).unwrap();
    rt.block_on(writer).unwrap();
    rt.block_on(wait_until_equal(&source, &target, Duration::from_secs(60), &mut child, &s));
    assert_running(&mut child, &s, "after catching up");
    stop(child, &s);
    assert_resets_were_retried(&proxy, &s, resets);
}

/// The slot's confirmed flush position is at or past `lsn`.
async fn slot_confirmed_past(source: &TestDb, lsn: &str) -> bool {
    source
        .client
        .query_one(
            "SELECT coalesce((SELECT confirmed_flush_lsn >= $2::text::pg_lsn FROM pg_replication_slots WHERE slot_name = $1), false)",
            &[&source.name, &lsn],
        )
        .await
        .unwrap()
        .get(0)
}

#[test]
fn with_the_spool_the_source_log_is_released_during_a_target_outage_and_all_arrives_after_a_kill() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = databases(&rt, "out_spool");
    let proxy = Proxy::start(server_addr());
    let spooled = format!("{}[pipeline.spool]\nmax_bytes = \"256MiB\"\n", config(&source, &through(&proxy, &target.url)));
    let s = Scratch::new(&spooled);
    let mut child = start(&s);
    rt.block_on(wait_until_equal(&source, &target, Duration::from_secs(30), &mut child, &s));

    // The target goes away; the source writes far more than the queue holds.
    proxy.refuse();
    proxy.cut();
    let (stop_tx, stop_rx) = watch::channel(false);
    let writer = spawn_writer(&rt, source.url.clone(), Duration::from_millis(15), stop_rx);
    // Write until far more than the queue holds is waiting for the target.
    let deadline = Instant::now() + Duration::from_secs(60);
    while rt.block_on(async {
        let n: i64 = source.client.query_one("SELECT count(*) FROM items WHERE id >= $1", &[&FIRST_WORKLOAD_ID]).await.unwrap().get(0);
        n <= 25 * QUEUE_MAX_RECORDS as i64
    }) {
        assert!(Instant::now() < deadline, "the writer did not get 25 queue bounds of rows written in 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    stop_tx.send(true).unwrap();
    rt.block_on(writer).unwrap();
    let written: i64 = rt.block_on(async {
        source.client.query_one("SELECT count(*) FROM items WHERE id >= 1000000", &[]).await.unwrap().get(0)
    });
    assert!(written > 20 * QUEUE_MAX_RECORDS as i64, "only {written} rows written during the outage");
    let lsn: String = rt.block_on(async {
        source.client.query_one("SELECT pg_current_wal_lsn()::text", &[]).await.unwrap().get(0)
    });

    // While the target is still down, the slot is released past everything
    // written: the spool holds it (without the spool it stays at the last
    // applied transaction, as the outage test above shows).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !rt.block_on(slot_confirmed_past(&source, &lsn)) {
        assert_running(&mut child, &s, "during the outage");
        assert!(Instant::now() < deadline, "the slot did not pass {lsn} while the target was down; log:\n{}", log_of(&s));
        std::thread::sleep(Duration::from_millis(100));
    }
    let on_target: i64 = rt.block_on(async {
        target.client.query_one("SELECT count(*) FROM items WHERE id >= 1000000", &[]).await.unwrap().get(0)
    });
    assert_eq!(on_target, 0, "the target was not down");

    // The process dies with the outage's rows only in the spool, and starts
    // again while the target is still down.
    child.kill().unwrap();
    child.wait().unwrap();
    let mut child = start(&s);
    let deadline = Instant::now() + Duration::from_secs(30);
    let opened = loop {
        if let Some(line) = log_of(&s).lines().find(|l| l.contains("spool open")).map(str::to_string) {
            break line;
        }
        assert_running(&mut child, &s, "while reopening the spool");
        assert!(Instant::now() < deadline, "no `spool open` line; log:\n{}", log_of(&s));
        std::thread::sleep(Duration::from_millis(50));
    };
    let entries: u64 = opened.split("entries=").nth(1).and_then(|t| t.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(entries > 0, "the spool was empty after the kill: {opened}");

    // The target returns: everything arrives, equal to the source.
    proxy.pass();
    rt.block_on(wait_until_equal(&source, &target, Duration::from_secs(60), &mut child, &s));
    stop(child, &s);
}
