//! `logferry bench --source mongodb` end to end on the test MongoDB server
//! (SecantusDB under scripts/test) and PostgreSQL: a small mixed backlog,
//! the driver's change stream and logferry on it, the JSON shape, the
//! PostgreSQL target checked equal by the bench itself, `--repeat` into a
//! file, and nothing left behind. Figures are not asserted (no timing in
//! tests); only that they are there and positive.

use crate::support::{mongodb, pg};
use std::process::{Command, Output};

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logferry"))
        .args(["bench", "--source", "mongodb"])
        .args(args)
        .env("LOGFERRY_BENCH_MONGO_URL", mongodb::server_url())
        .env("LOGFERRY_BENCH_PG_URL", pg::server_url())
        .env("LOGFERRY_LOG", "warn")
        .output()
        .unwrap()
}

fn json_of(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"))
}

/// The bench's databases with this prefix on both servers: (MongoDB, PostgreSQL).
fn leftovers(prefix: &str) -> (usize, i64) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = mongodb::client(&mongodb::server_url()).await;
        let names = client.list_database_names().await.unwrap();
        let mongo = names.iter().filter(|n| n.starts_with(&format!("{prefix}_"))).count();
        let c = pg::connect(&pg::server_url()).await;
        let like = format!("{prefix}\\_%");
        let pg_dbs: i64 = c.query_one("SELECT count(*) FROM pg_database WHERE datname LIKE $1", &[&like]).await.unwrap().get(0);
        (mongo, pg_dbs)
    })
}

#[test]
fn bench_mongodb_compare_reads_one_backlog_with_both_readers_checks_the_target_and_cleans_up() {
    let prefix = format!("lf_gbench_{}", std::process::id());
    let out = bench(&[
        "--rows", "2000", "--updates", "300", "--deletes", "100", "--width", "50", "--lanes", "2", "--batch", "500", "--compare", "--json",
        "--prefix", &prefix,
    ]);
    let v = json_of(&out);
    assert_eq!(v["source"], "mongodb", "{v}");
    assert_eq!(v["changes"], 2400, "{v}");
    assert_eq!((v["inserts"].as_u64(), v["updates"].as_u64(), v["deletes"].as_u64()), (Some(2000), Some(300), Some(100)), "{v}");
    assert_eq!(v["target"], "postgres", "{v}");
    assert_eq!((v["lanes"].as_u64(), v["batch"].as_u64()), (Some(2), Some(500)), "{v}");
    // The bench compared the target table with the collection (count and digest).
    assert_eq!(v["target_verified"], true, "{v}");
    let readers: Vec<&str> = v["readers"].as_array().unwrap().iter().map(|r| r["reader"].as_str().unwrap()).collect();
    assert_eq!(readers, ["driver change stream (read only)", "logferry run --once"], "{v}");
    for r in v["readers"].as_array().unwrap() {
        assert!(r["seconds"].as_f64().unwrap() > 0.0 && r["rows_per_s"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["peak_rss_kib"].as_u64().unwrap() > 0 && r["cpu_us_per_change"].as_f64().unwrap() >= 0.0, "{r}");
    }
    assert!(v["logferry_peak_rss_kib"].as_u64().unwrap() > 0, "{v}");
    for stage in ["source_waiting_s", "route_s", "apply_s_summed_over_lanes", "read_decode_s_estimate"] {
        assert!(v["logferry_stages"][stage].as_f64().unwrap() >= 0.0, "{stage}: {v}");
    }
    assert!(v["ratio_vs_driver_change_stream"].as_f64().unwrap() > 0.0, "{v}");
    // Every change event of the backlog reached logferry.
    assert!(v["logferry_records"].as_u64().unwrap() >= 2400, "{v}");
    assert!(v["server"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    assert_eq!(leftovers(&prefix), (0, 0), "the bench left databases behind");
}

#[test]
fn bench_mongodb_repeat_into_a_file_summarises_every_round() {
    let prefix = format!("lf_grepeat_{}", std::process::id());
    let out = bench(&["--rows", "1000", "--target", "file", "--compare", "--repeat", "2", "--json", "--prefix", &prefix]);
    let v = json_of(&out);
    assert_eq!((v["repeat"].as_u64(), v["source"].as_str(), v["changes"].as_u64()), (Some(2), Some("mongodb"), Some(1000)), "{v}");
    assert_eq!(v["rounds_seconds"].as_array().unwrap().len(), 2, "{v}");
    let readers: Vec<&str> = v["readers"].as_array().unwrap().iter().map(|r| r["reader"].as_str().unwrap()).collect();
    assert_eq!(readers, ["driver change stream (read only)", "logferry run --once"], "{v}");
    let ratio = &v["ratios"][0];
    assert_eq!(ratio["ratio"], "logferry rows/s / driver change stream (read only) rows/s", "{v}");
    assert!(ratio["median"].as_f64().unwrap() > 0.0, "{v}");
    assert_eq!(leftovers(&prefix), (0, 0), "the bench left databases behind");
}

fn usage(args: &[&str], env_url: Option<&str>) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logferry"));
    cmd.args(["bench", "--source", "mongodb", "--rows", "10"]).args(args).env_remove("LOGFERRY_BENCH_PG_URL");
    match env_url {
        Some(u) => cmd.env("LOGFERRY_BENCH_MONGO_URL", u),
        None => cmd.env_remove("LOGFERRY_BENCH_MONGO_URL"),
    };
    let out = cmd.output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bench_mongodb_without_its_url_or_with_a_bad_combination_exits_2_naming_the_fix() {
    let (code, stderr) = usage(&["--target", "file"], None);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--mongo-url or LOGFERRY_BENCH_MONGO_URL"), "{stderr}");

    // The URL from the environment is taken as the flag: it gets as far as connecting.
    let (code, stderr) = usage(&["--target", "file"], Some("mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=500"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("connecting to --mongo-url"), "{stderr}");

    let url = Some("mongodb://127.0.0.1:1/?directConnection=true");
    let (code, stderr) = usage(&[], url);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--target postgres needs --pg-url") && stderr.contains("--target file"), "{stderr}");
    let (code, stderr) = usage(&["--target", "file", "--tx-rows", "100"], url);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--tx-rows does not apply to --source mongodb"), "{stderr}");
    let (code, stderr) = usage(&["--target", "file", "--width", "2000000"], url);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--width is at most"), "{stderr}");
    for flag in [["--tables", "3"], ["--sweep", "lanes=1,2"], ["--svg", "/tmp/x.svg"]] {
        let (code, stderr) = usage(&[&["--target", "file"][..], &flag[..]].concat(), url);
        assert_eq!(code, Some(2), "{flag:?}: {stderr}");
        assert!(stderr.contains(flag[0]) && stderr.contains("--source postgres only (not yet with --source mongodb)"), "{flag:?}: {stderr}");
    }
    let (code, stderr) = usage(&["--target", "nats", "--nats-url", "nats://127.0.0.1:1"], url);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--target nats") && stderr.contains("--source postgres"), "{stderr}");
}
