//! `logferry bench` end to end on the test PostgreSQL: a small mixed
//! backlog, every reader of `--compare`, the JSON shape, the target checked
//! equal by the bench itself, and nothing left behind. Figures are not
//! asserted (no timing in tests); only that they are there and positive.

use crate::support::pg;
use std::process::Command;

#[test]
fn bench_compare_runs_every_reader_on_one_backlog_and_cleans_up() {
    let prefix = format!("lf_bench_{}", std::process::id());
    let out = Command::new(env!("CARGO_BIN_EXE_logferry"))
        .args(["bench", "--pg-url", &pg::server_url(), "--rows", "5000", "--tx-rows", "1000", "--updates", "700", "--deletes", "300"])
        .args(["--lanes", "2", "--batch", "500", "--compare", "--json", "--prefix", &prefix])
        .env("LOGFERRY_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"));
    assert_eq!(v["changes"], 6000, "{v}");
    assert_eq!(v["target_verified"], true, "{v}");
    let readers: Vec<&str> = v["readers"].as_array().unwrap().iter().map(|r| r["reader"].as_str().unwrap()).collect();
    assert_eq!(readers, ["pg_recvlogical (read only)", "logferry run --once", "native subscription (apply)"], "{v}");
    for r in v["readers"].as_array().unwrap() {
        assert!(r["seconds"].as_f64().unwrap() > 0.0 && r["rows_per_s"].as_f64().unwrap() > 0.0, "{r}");
    }
    assert!(v["wal_bytes"].as_i64().unwrap() > 0 && v["logferry_peak_rss_kib"].as_u64().unwrap() > 0, "{v}");
    assert!(v["ratio_vs_native_subscription"].as_f64().unwrap() > 0.0 && v["time_ratio_vs_pg_recvlogical"].as_f64().unwrap() > 0.0, "{v}");

    // Its databases, slots and subscription are gone.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = pg::connect(&pg::server_url()).await;
        let like = format!("{prefix}\\_%");
        let dbs: i64 = c.query_one("SELECT count(*) FROM pg_database WHERE datname LIKE $1", &[&like]).await.unwrap().get(0);
        let slots: i64 = c.query_one("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE $1", &[&like]).await.unwrap().get(0);
        let subs: i64 = c.query_one("SELECT count(*) FROM pg_subscription WHERE subname LIKE $1", &[&like]).await.unwrap().get(0);
        assert_eq!((dbs, slots, subs), (0, 0, 0), "the bench left databases/slots/subscriptions behind");
    });
}

#[test]
fn bench_refuses_bad_options_with_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_logferry"))
        .args(["bench", "--pg-url", "postgres://127.0.0.1:1/x", "--rows", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rows"));
}
