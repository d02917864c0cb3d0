//! The MariaDB server that scripts/test starts on 127.0.0.1, and a fresh
//! database per test.

use mysql_async::prelude::Queryable;
use std::sync::atomic::{AtomicU32, Ordering};

/// Root URL of the test server without a database (`LOGFERRY_TEST_MARIADB_URL`).
pub fn server_url() -> String {
    std::env::var("LOGFERRY_TEST_MARIADB_URL").unwrap_or_else(|_| {
        panic!("LOGFERRY_TEST_MARIADB_URL is not set: run the suite with scripts/test, which starts MariaDB on 127.0.0.1 and sets it")
    })
}

/// A database of one's own on the test server.
pub struct TestDb {
    pub name: String,
    /// `mysql://root:…@127.0.0.1:port/<name>`.
    pub url: String,
    pub pool: mysql_async::Pool,
}

impl TestDb {
    /// Runs statements (several separated by `;`).
    pub async fn exec(&self, sql: &str) {
        let mut conn = self.pool.get_conn().await.unwrap();
        conn.query_drop(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Every row of a query, each column as text (NULL as None).
    pub async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let mut conn = self.pool.get_conn().await.unwrap();
        let rows: Vec<mysql_async::Row> = conn.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| match r.as_ref(i).unwrap() {
                        mysql_async::Value::NULL => None,
                        // The text protocol returns every value as its text.
                        mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
                        v => Some(v.as_sql(true)),
                    })
                    .collect()
            })
            .collect()
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Creates `lf_<prefix>_<pid>_<n>`. scripts/test drops leftovers (lf_*) at start.
pub async fn fresh_db(prefix: &str) -> TestDb {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!("lf_{prefix}_{}_{n}", std::process::id());
    let admin = mysql_async::Pool::new(server_url().as_str());
    let mut conn = admin.get_conn().await.unwrap_or_else(|e| panic!("cannot reach the test MariaDB ({e}); scripts/test starts it"));
    conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`")).await.unwrap();
    drop(conn);
    let _ = admin.disconnect().await;
    let url = format!("{}/{name}", server_url());
    let pool = mysql_async::Pool::new(url.as_str());
    TestDb { name, url, pool }
}
