//! Shared pieces of the fault tests that run the real binary against a
//! target or source behind the fault proxy (reliability_outage.rs,
//! reliability_targets.rs): the small queue and fast backoff they use, the
//! log lines they count, and a `logferry run` that is killed if the test
//! fails before stopping it.

use super::binary::{text, Scratch};
use super::proxy::Proxy;
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Lanes and the queue bound: small, so a short outage fills the queue
/// many times over.
/// First id the workload writers insert (the seed rows are 1..=1000).
pub const FIRST_WORKLOAD_ID: i64 = 1_000_000;

pub const LANES: u64 = 2;
pub const QUEUE_MAX_RECORDS: u64 = 200;
/// Backoff: first retry after ~50 ms, doubling to at most 400 ms;
/// max_retries stays at its default (retry until the target is back).
pub const RETRY_BACKOFF_MS: u64 = 50;
pub const RETRY_MAX_BACKOFF_MS: u64 = 400;

pub const RETRYING: &str = "target unavailable; retrying";
pub const RECOVERED: &str = "target is back; delivery resumed";

/// First id the workload writes (the seed rows are 1..=1000).
/// `127.0.0.1:port` of a `scheme://[user:pass@]127.0.0.1:port[/…][?…]` URL.
pub fn addr_of(url: &str) -> SocketAddr {
    let rest = &url[url.find("://").expect("URL has a scheme") + 3..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host_port = &authority[authority.rfind('@').map_or(0, |at| at + 1)..];
    host_port.parse().unwrap_or_else(|e| panic!("{host_port:?} is not 127.0.0.1:port: {e}"))
}

/// `url` with the proxy's upstream address replaced by the proxy's own.
pub fn through(proxy: &Proxy, url: &str) -> String {
    let server = proxy.upstream().to_string();
    assert!(url.contains(&server), "{url} does not name {server}");
    url.replacen(&server, &proxy.addr().to_string(), 1)
}

/// A running `logferry run`, killed if the test fails before [`stop`].
pub struct Running(Child);

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Already reaped after `stop`: then this does nothing.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `logferry run` with its log (stderr) going to `logferry.log` in
/// the scratch folder: a pipe nobody reads would block it once full.
pub fn start(s: &Scratch) -> Running {
    let log = std::fs::File::create(s.path("logferry.log")).unwrap();
    Running(s.command(&["run"]).stdout(Stdio::null()).stderr(log).spawn().unwrap())
}

pub fn log_of(s: &Scratch) -> String {
    text(&std::fs::read(s.path("logferry.log")).unwrap_or_default())
}

/// Asserts the process is still running (it must not give up on its own).
pub fn assert_running(child: &mut Child, s: &Scratch, when: &str) {
    if let Some(status) = child.try_wait().unwrap() {
        panic!("logferry exited ({status}) {when}; its log:\n{}", log_of(s));
    }
}

/// SIGTERM, then waits for the clean exit.
pub fn stop(mut child: Running, s: &Scratch) {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "logferry did not stop cleanly ({status}); its log:\n{}", log_of(s));
}

pub fn count(log: &str, what: &str) -> usize {
    log.lines().filter(|l| l.contains(what)).count()
}

/// The largest `down_ms=` among the recovery lines.
pub fn longest_recovery_ms(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains(RECOVERED))
        .filter_map(|l| l.split("down_ms=").nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .max()
        .unwrap_or(0)
}

/// Resets (RST) the proxied connections `times` times, each once at least
/// 4 KiB of applies went through since the last one, after a random pause
/// of up to 300 ms (so the resets land inside transactions). Returns how
/// many were done.
pub fn reset_while_applying(proxy: &Proxy, child: &mut Child, s: &Scratch, times: u32, within: Duration) -> u32 {
    let mut rng = super::Rng(11);
    let mut resets = 0;
    for _ in 0..times {
        let before = proxy.stats().bytes_up;
        let deadline = Instant::now() + within;
        while proxy.stats().bytes_up < before + 4096 {
            assert!(Instant::now() < deadline, "no apply traffic through the proxy since the last reset; log:\n{}", log_of(s));
            assert_running(child, s, "between resets");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(rng.below(300)));
        proxy.reset();
        resets += 1;
        assert_running(child, s, "after a reset");
    }
    resets
}

/// After [`reset_while_applying`] and a clean stop: every reset killed a
/// connection, and at least one hit an apply in flight, which was retried.
pub fn assert_resets_were_retried(proxy: &Proxy, s: &Scratch, resets: u32) {
    let log = log_of(s);
    let stats = proxy.stats();
    assert!(stats.killed >= u64::from(resets), "{resets} resets killed only {} connections", stats.killed);
    assert!(count(&log, RETRYING) >= 1, "none of the {resets} resets interrupted an apply:\n{log}");
}

/// Source transactions until `stop` turns true, `pause` apart: each inserts
/// 50 rows with a 400-byte note, bumps `v` on 10 rows and deletes 2.
pub fn spawn_writer(rt: &tokio::runtime::Runtime, url: String, pause: Duration, stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    rt.spawn(async move {
        let mut stop = stop;
        let client = super::pg::connect(&url).await;
        let first_id = FIRST_WORKLOAD_ID;
        let mut rng = super::Rng(first_id as u64);
        let mut next = first_id;
        while !*stop.borrow_and_update() {
            let old = first_id - 1000 + rng.below(1000 + (next - first_id) as u64) as i64;
            client
                .batch_execute(&format!(
                    "BEGIN;
                     INSERT INTO items SELECT g, 0, repeat(md5(g::text), 12) || '-' || g FROM generate_series({next}, {last}) g;
                     UPDATE items SET v = v + 1 WHERE id BETWEEN {old} AND {old} + 9;
                     DELETE FROM items WHERE id IN ({d1}, {d2});
                     COMMIT;",
                    last = next + 49,
                    d1 = old + 20,
                    d2 = next - 3,
                ))
                .await
                .unwrap();
            next += 50;
            tokio::time::sleep(pause).await;
        }
    })
}
