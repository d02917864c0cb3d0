//! The PostgreSQL server that scripts/test starts on 127.0.0.1, and a fresh
//! database per test so tests run in parallel without seeing each other.

use std::sync::atomic::{AtomicU32, Ordering};
use tokio_postgres::{Client, NoTls};

/// Superuser URL of the test server (`LOGFERRY_TEST_PG_URL`, set by scripts/test).
pub fn server_url() -> String {
    std::env::var("LOGFERRY_TEST_PG_URL").unwrap_or_else(|_| {
        panic!("LOGFERRY_TEST_PG_URL is not set: run the suite with scripts/test, which starts PostgreSQL on 127.0.0.1 and sets it")
    })
}

/// Superuser URL of a PostgreSQL 16 or later (`LOGFERRY_TEST_PG16PLUS_URL`,
/// set by scripts/test to the newest major it started), for what older
/// servers cannot do (pgoutput's `origin` option).
pub fn server16plus_url() -> String {
    std::env::var("LOGFERRY_TEST_PG16PLUS_URL").unwrap_or_else(|_| {
        panic!("LOGFERRY_TEST_PG16PLUS_URL is not set: run the suite with scripts/test, which starts PostgreSQL 16 and 18 on 127.0.0.1 and sets it to one of them")
    })
}

/// `server_url()` with its database replaced by `db`.
pub fn url_for(db: &str) -> String {
    url_on(&server_url(), db)
}

/// `server` (a URL) with its database replaced by `db`.
pub fn url_on(server: &str, db: &str) -> String {
    let cut = server.rfind('/').expect("URL has a path");
    format!("{}/{}", &server[..cut], db)
}

/// Connects and drives the connection in the background.
pub async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server ({e}); is it running? scripts/test starts it"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// A database of one's own on the test server.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub client: Client,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Creates `lf_<prefix>_<pid>_<n>` and connects to it. scripts/test drops
/// leftovers of earlier runs (databases named lf_*, their slots) at start.
pub async fn fresh_db(prefix: &str) -> TestDb {
    fresh_db_on(&server_url(), prefix).await
}

/// [`fresh_db`] on another server (`server`: a superuser URL).
pub async fn fresh_db_on(server: &str, prefix: &str) -> TestDb {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!("lf_{prefix}_{}_{n}", std::process::id());
    let admin = connect(server).await;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\"")).await.unwrap();
    admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
    let url = url_on(server, &name);
    let client = connect(&url).await;
    TestDb { name, url, client }
}

/// Every row of `sql` with every column as PostgreSQL's text (NULL as None).
pub async fn cells(db: &TestDb, sql: &str) -> Vec<Vec<Option<String>>> {
    db.client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()),
            _ => None,
        })
        .collect()
}

/// `SELECT <sql>` rows as text columns joined by `|` (NULL as `∅`).
pub async fn rows(db: &TestDb, sql: &str) -> Vec<String> {
    cells(db, sql).await.into_iter().map(|r| r.into_iter().map(|c| c.unwrap_or_else(|| "∅".into())).collect::<Vec<_>>().join("|")).collect()
}

/// Transactions written to a database in a loop (every 10 ms) until
/// [`Workload::stop`]: the source side of the kill tests.
pub struct Workload {
    stop: tokio::sync::watch::Sender<bool>,
    handle: tokio::task::JoinHandle<u64>,
}

impl Workload {
    /// Starts on `rt`: `tx(rng, n)` is the SQL of the `n`-th transaction
    /// (from 0), given the workload's seeded randomness.
    pub fn spawn<F>(rt: &tokio::runtime::Runtime, url: &str, seed: u64, mut tx: F) -> Workload
    where
        F: FnMut(&mut super::Rng, u64) -> String + Send + 'static,
    {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let url = url.to_string();
        let handle = rt.spawn(async move {
            let client = connect(&url).await;
            let mut rng = super::Rng(seed);
            let mut n = 0;
            while !*stopped.borrow_and_update() {
                client.batch_execute(&tx(&mut rng, n)).await.unwrap();
                n += 1;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            n
        });
        Workload { stop, handle }
    }

    /// Stops it; the number of transactions written.
    pub fn stop(self, rt: &tokio::runtime::Runtime) -> u64 {
        self.stop.send(true).unwrap();
        rt.block_on(self.handle).unwrap()
    }
}
