//! `logferry bench --source mariadb` end to end on the test MariaDB and
//! PostgreSQL: a small mixed backlog, mariadb-binlog and logferry on it, the
//! JSON shape, the PostgreSQL target checked equal by the bench itself, and
//! nothing left behind. Figures are not asserted (no timing in tests); only
//! that they are there and positive.

use crate::support::{mariadb, pg};
use mysql_async::prelude::Queryable;
use std::process::Command;

#[test]
fn bench_mariadb_compare_reads_one_backlog_with_both_readers_and_cleans_up() {
    let prefix = format!("lf_mbench_{}", std::process::id());
    let out = Command::new(env!("CARGO_BIN_EXE_logferry"))
        .args(["bench", "--source", "mariadb"])
        .env("LOGFERRY_BENCH_MARIADB_URL", mariadb::server_url())
        .env("LOGFERRY_BENCH_PG_URL", pg::server_url())
        .args(["--rows", "5000", "--tx-rows", "1000", "--updates", "700", "--deletes", "300"])
        .args(["--lanes", "2", "--batch", "500", "--compare", "--json", "--prefix", &prefix])
        .env("LOGFERRY_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"));
    assert_eq!(v["changes"], 6000, "{v}");
    assert_eq!(v["target"], "postgres", "{v}");
    assert_eq!((v["lanes"].as_u64(), v["batch"].as_u64()), (Some(2), Some(500)), "{v}");
    assert_eq!(v["target_verified"], true, "{v}");
    let readers: Vec<&str> = v["readers"].as_array().unwrap().iter().map(|r| r["reader"].as_str().unwrap()).collect();
    assert_eq!(readers.len(), 2, "{v}");
    assert!(
        ["mariadb-binlog -v (decode rows)", "mysqlbinlog -v (decode rows)"].contains(&readers[0]),
        "the first reader is the server's binlog reader: {v}"
    );
    assert_eq!(readers[1], "logferry run --once", "{v}");
    for r in v["readers"].as_array().unwrap() {
        assert!(r["seconds"].as_f64().unwrap() > 0.0 && r["rows_per_s"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["binlog_mb_per_s"].as_f64().unwrap() > 0.0, "{r}");
    }
    assert!(v["binlog_bytes"].as_u64().unwrap() > 0 && v["logferry_peak_rss_kib"].as_u64().unwrap() > 0, "{v}");
    assert!(v["logferry_cpu_seconds"].as_f64().unwrap() >= 0.0, "{v}");
    for stage in ["source_waiting_s", "route_s", "apply_s_summed_over_lanes", "read_decode_s_estimate"] {
        assert!(v["logferry_stages"][stage].as_f64().unwrap() >= 0.0, "{stage}: {v}");
    }
    assert!(v["ratio_vs_mariadb_binlog"].as_f64().unwrap() > 0.0, "{v}");
    // Every change of the backlog came through (other tests' tables are filtered out).
    assert!(v["logferry_records"].as_u64().unwrap() >= 6000, "{v}");

    // Its databases are gone on both servers.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let like = format!("{prefix}\\_%");
        let c = pg::connect(&pg::server_url()).await;
        let pg_dbs: i64 = c.query_one("SELECT count(*) FROM pg_database WHERE datname LIKE $1", &[&like]).await.unwrap().get(0);
        let pool = mysql_async::Pool::new(mariadb::server_url().as_str());
        let mut conn = pool.get_conn().await.unwrap();
        let my_dbs: Option<i64> = conn
            .exec_first("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?", (like.as_str(),))
            .await
            .unwrap();
        drop(conn);
        let _ = pool.disconnect().await;
        assert_eq!((pg_dbs, my_dbs), (0, Some(0)), "the bench left databases behind");
    });
}

#[test]
fn bench_mariadb_without_its_url_exits_2_naming_the_flag_and_its_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_logferry"))
        .args(["bench", "--source", "mariadb", "--pg-url", "postgres://127.0.0.1:1/x", "--rows", "10"])
        .env_remove("LOGFERRY_BENCH_MARIADB_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--mariadb-url or LOGFERRY_BENCH_MARIADB_URL"), "{stderr}");
    // The same URL from the environment is taken as the flag.
    let out = Command::new(env!("CARGO_BIN_EXE_logferry"))
        .args(["bench", "--source", "mariadb", "--pg-url", "postgres://127.0.0.1:1/x", "--rows", "10"])
        .env("LOGFERRY_BENCH_MARIADB_URL", "mysql://root@127.0.0.1:1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("connecting to --mariadb-url") && stderr.contains("refused"), "{stderr}");
}

#[test]
fn bench_mariadb_refuses_the_postgres_only_options_by_name() {
    for flag in [["--tables", "3"], ["--indexes", "2"], ["--sweep", "lanes=1,2"], ["--svg", "/tmp/x.svg"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_logferry"))
            .args(["bench", "--source", "mariadb", "--mariadb-url", "mysql://root@127.0.0.1:1", "--rows", "10"])
            .args(flag)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag:?}: {stderr}");
        assert!(stderr.contains(flag[0]) && stderr.contains("--source postgres only"), "{flag:?}: {stderr}");
    }
}
