//! `logferry bench` end to end on the test PostgreSQL: a small mixed
//! backlog, every reader of `--compare`, the JSON shape, the target checked
//! equal by the bench itself, and nothing left behind; steady mode, several
//! tables with secondary indexes, a sweep, CSV and the SVG chart. Figures
//! are not asserted (no timing in tests); only that they are there, positive
//! and consistent.

use crate::support::pg;
use std::process::Command;

/// Runs `logferry bench` on the test server with a prefix of its own;
/// returns stdout (the run must succeed) and the prefix.
fn bench(name: &str, args: &[&str]) -> (String, String) {
    let prefix = format!("lf_bench_{name}_{}", std::process::id());
    let out = Command::new(env!("CARGO_BIN_EXE_logferry"))
        .args(["bench", "--prefix", &prefix])
        .args(args)
        .env("LOGFERRY_BENCH_PG_URL", pg::server_url())
        .env("LOGFERRY_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "bench {args:?} failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    assert_cleaned_up(&prefix);
    (stdout, prefix)
}

/// No database, slot or subscription of `prefix` is left.
fn assert_cleaned_up(prefix: &str) {
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

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"))
}

/// A `pg_recvlogical` that notes its arguments and whether `PGPASSWORD`
/// was set, then runs the real one; its folder goes first in `PATH`.
fn recording_pg_recvlogical(dir: &std::path::Path) -> String {
    let real = ["/usr/bin/pg_recvlogical"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .chain(std::fs::read_dir("/usr/lib/postgresql").into_iter().flatten().flatten().map(|e| e.path().join("bin/pg_recvlogical")))
        .find(|p| p.is_file())
        .expect("pg_recvlogical is installed");
    let script = dir.join("pg_recvlogical");
    let d = dir.display();
    std::fs::write(
        &script,
        format!("#!/bin/sh\nprintf '%s\\n' \"$*\" > {d}/args\n[ -n \"$PGPASSWORD\" ] && echo set > {d}/pgpassword\nexec {} \"$@\"\n", real.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    format!("{d}:{}", std::env::var("PATH").unwrap_or_default())
}

#[test]
fn bench_compare_runs_every_reader_on_one_backlog_and_cleans_up() {
    let prefix = format!("lf_bench_{}", std::process::id());
    let url = pg::server_url();
    let password = url.parse::<tokio_postgres::Config>().unwrap().get_password().map(|p| String::from_utf8_lossy(p).into_owned());
    let password = password.expect("the test server URL has a password");
    let wrapper = tempfile::tempdir().unwrap();
    let path = recording_pg_recvlogical(wrapper.path());
    // The URL comes from the environment, so no command line holds the password.
    let out = Command::new(env!("CARGO_BIN_EXE_logferry"))
        .args(["bench", "--rows", "5000", "--tx-rows", "1000", "--updates", "700", "--deletes", "300"])
        .args(["--lanes", "2", "--batch", "500", "--compare", "--json", "--prefix", &prefix])
        .env("LOGFERRY_BENCH_PG_URL", &url)
        .env("PATH", path)
        .env("LOGFERRY_LOG", "warn")
        .output()
        .unwrap();
    // pg_recvlogical got the password from the environment, not its arguments (`ps` shows those).
    let args = std::fs::read_to_string(wrapper.path().join("args")).expect("the bench ran pg_recvlogical");
    assert!(args.contains(&format!("--slot {prefix}_recv")) && !args.contains(&password), "{args}");
    assert!(wrapper.path().join("pgpassword").exists(), "PGPASSWORD was not set for pg_recvlogical");
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
    let cpu_s = v["logferry_cpu_seconds"].as_f64().unwrap();
    let per_change = v["logferry_cpu_us_per_change"].as_f64().unwrap();
    assert!(per_change > 0.0 && (per_change - cpu_s * 1e6 / 6000.0).abs() < 0.01, "{v}");

    // Its databases, slots and subscription are gone.
    assert_cleaned_up(&prefix);
}

#[test]
fn bench_repeat_runs_every_reader_in_each_round_and_prints_medians_of_the_rounds() {
    let (stdout, _) = bench("repeat", &["--rows", "2000", "--tx-rows", "500", "--updates", "200", "--compare", "--repeat", "2", "--json"]);
    let v = json(&stdout);
    assert_eq!((v["repeat"].as_u64(), v["changes"].as_u64()), (Some(2), Some(2200)), "{v}");
    let rounds = v["rounds_seconds"].as_array().unwrap();
    assert_eq!(rounds.len(), 2, "{v}");
    let names = ["pg_recvlogical (read only)", "logferry run --once", "native subscription (apply)"];
    for reader in v["readers"].as_array().unwrap() {
        let name = reader["reader"].as_str().unwrap();
        assert!(names.contains(&name), "{v}");
        // Each round ran this reader; with two rounds the median is their mean.
        let each: Vec<f64> = rounds.iter().map(|r| r[name].as_f64().unwrap()).collect();
        assert!(each.iter().all(|s| *s > 0.0), "{v}");
        let s = &reader["seconds"];
        let (median, min, max) = (s["median"].as_f64().unwrap(), s["min"].as_f64().unwrap(), s["max"].as_f64().unwrap());
        assert!((median - (each[0] + each[1]) / 2.0).abs() < 0.002, "{v}");
        assert!((min - each[0].min(each[1])).abs() < 0.001 && (max - each[0].max(each[1])).abs() < 0.001, "{v}");
    }
    assert_eq!(v["readers"].as_array().unwrap().len(), 3, "{v}");
    let ratios: Vec<&str> = v["ratios"].as_array().unwrap().iter().map(|r| r["ratio"].as_str().unwrap()).collect();
    assert!(ratios.contains(&"logferry rows/s / native subscription (apply) rows/s"), "{v}");
    assert!(ratios.contains(&"logferry time / pg_recvlogical (read only) time"), "{v}");
    assert!(v["logferry_cpu_us_per_change"]["median"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn bench_into_the_discard_target_times_logferry_alone_and_checks_no_target() {
    let (stdout, _) = bench("discard", &["--rows", "3000", "--tx-rows", "1000", "--deletes", "100", "--target", "discard", "--json"]);
    let v = json(&stdout);
    assert_eq!((v["target"].as_str(), v["changes"].as_u64()), (Some("discard"), Some(3100)), "{v}");
    let readers: Vec<&str> = v["readers"].as_array().unwrap().iter().map(|r| r["reader"].as_str().unwrap()).collect();
    assert_eq!(readers, ["logferry run --once"], "{v}");
    // Nothing is written, so nothing is checked against the source.
    assert_eq!(v["target_verified"], false, "{v}");
}

#[test]
fn bench_refuses_bad_options_with_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_logferry"))
        .args(["bench", "--pg-url", "postgres://127.0.0.1:1/x", "--rows", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rows"));
    for extra in [&["--csv"][..], &["--rate", "10", "--duration", "2"], &["--sweep", "lanes=1,2"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_logferry"))
            .args(["bench", "--pg-url", "postgres://127.0.0.1:1/x", "--repeat", "2"])
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains("--repeat"), "{extra:?}: {stderr}");
    }
}

#[test]
fn bench_steady_mode_reports_commit_to_apply_latency() {
    let (stdout, _) = bench("steady", &["--rate", "2000", "--duration", "2", "--lanes", "2", "--batch", "500", "--json"]);
    let v = json(&stdout);
    assert_eq!((v["mode"].as_str(), v["rate"].as_u64(), v["duration_s"].as_u64()), (Some("steady"), Some(2000), Some(2)), "{v}");
    assert_eq!(v["rows_written"], 4000, "{v}");
    assert_eq!(v["target_verified"], true, "{v}");
    let l = &v["latency"];
    let f = |k: &str| l[k].as_f64().unwrap_or_else(|| panic!("latency.{k} missing: {v}"));
    assert!(l["count"].as_u64().unwrap() > 0, "transactions after the warm-up are measured: {v}");
    assert!(f("p50_ms") <= f("p95_ms") && f("p95_ms") <= f("p99_ms") && f("p99_ms") <= f("max_ms"), "{v}");
    assert!(v["transactions"].as_u64().unwrap() > 0 && v["achieved_rows_per_s"].as_f64().unwrap() > 0.0, "{v}");
    for k in ["source_waiting_s", "route_s", "apply_s_summed_over_lanes", "read_decode_s_estimate"] {
        assert!(v["stages"][k].as_f64().is_some_and(|s| s >= 0.0), "stages.{k}: {v}");
    }
}

#[test]
fn bench_spreads_the_backlog_over_tables_with_indexed_targets_and_verifies_each() {
    // The native subscriber gets the same tables and indexes (--compare).
    let (stdout, _) = bench(
        "tables",
        &["--rows", "3000", "--tx-rows", "500", "--updates", "300", "--deletes", "90", "--tables", "3", "--indexes", "2", "--lanes", "2", "--compare", "--json"],
    );
    let v = json(&stdout);
    assert_eq!((v["tables"].as_u64(), v["indexes"].as_u64(), v["changes"].as_u64()), (Some(3), Some(2), Some(3390)), "{v}");
    assert_eq!(v["target_verified"], true, "every table checked equal: {v}");
    let readers: Vec<&str> = v["readers"].as_array().unwrap().iter().map(|r| r["reader"].as_str().unwrap()).collect();
    assert_eq!(readers, ["pg_recvlogical (read only)", "logferry run --once", "native subscription (apply)"], "{v}");
    assert!(v["logferry_latency"]["count"].as_u64().unwrap() > 0, "{v}");
    assert!(v["logferry_stages"]["apply_s_summed_over_lanes"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn bench_sweep_runs_every_combination_and_names_the_best() {
    let (stdout, _) = bench("sweep", &["--rows", "2000", "--tx-rows", "500", "--sweep", "lanes=1,2", "batch=100,500"]);
    let rows: Vec<Vec<u64>> = stdout
        .lines()
        .filter_map(|l| {
            let nums: Vec<f64> = l.split_whitespace().map(|t| t.parse::<f64>()).collect::<Result<_, _>>().ok()?;
            (nums.len() == 4).then(|| vec![nums[0] as u64, nums[1] as u64])
        })
        .collect();
    assert_eq!(rows, [[1, 100], [1, 500], [2, 100], [2, 500]], "{stdout}");
    let best = stdout.lines().filter(|l| l.starts_with("best: lanes=")).collect::<Vec<_>>();
    assert_eq!(best.len(), 1, "{stdout}");
    assert!(best[0].contains(" batch=") && best[0].ends_with(" rows/s)"), "{stdout}");
}

#[test]
fn bench_csv_has_one_header_and_lines_of_the_same_width_and_svg_has_both_panels() {
    let svg = std::env::temp_dir().join(format!("lf_bench_chart_{}.svg", std::process::id()));
    let _ = std::fs::remove_file(&svg);
    let (stdout, _) = bench("csv", &["--rows", "2000", "--tx-rows", "250", "--lanes", "2", "--compare", "--csv", "--svg", svg.to_str().unwrap()]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "a header and one line per reader: {stdout}");
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(header[..4], ["reader", "seconds", "rows_per_s", "wal_mb_per_s"], "{stdout}");
    for l in &lines[1..] {
        assert_eq!(l.split(',').count(), header.len(), "same columns as the header: {l}");
    }
    let col = |line: &str, name: &str| line.split(',').nth(header.iter().position(|h| *h == name).unwrap()).unwrap().to_string();
    let logferry = lines.iter().find(|l| l.starts_with("logferry")).unwrap();
    assert_eq!(col(logferry, "target_verified"), "true", "{stdout}");
    assert!(col(logferry, "latency_count").parse::<u64>().unwrap() > 0, "{stdout}");
    assert!(col(lines[1], "latency_count").is_empty(), "logferry's figures only on its line: {stdout}");

    let chart = std::fs::read_to_string(&svg).unwrap();
    let _ = std::fs::remove_file(&svg);
    assert!(chart.starts_with("<svg"), "{chart}");
    assert!(chart.contains("Applied rows/s over time") && chart.contains("Commit-to-apply latency histogram"), "{chart}");
    assert!(chart.trim_end().ends_with("</svg>") && chart.contains("2000 changes"), "{chart}");
}

#[test]
fn bench_refuses_bad_steady_and_sweep_options_with_exit_2() {
    for (args, wants) in [
        (&["--rate", "100", "--duration", "1"][..], "--duration"),
        (&["--rate", "100"][..], "--duration"),
        (&["--rate", "100", "--duration", "5", "--compare"][..], "--compare"),
        (&["--sweep", "lanes=1,x"][..], "--sweep"),
        (&["--sweep", "depth=3"][..], "--sweep"),
        (&["--json", "--csv"][..], "--csv"),
        (&["--tables", "0"][..], "--tables"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_logferry"))
            .args(["bench", "--pg-url", "postgres://127.0.0.1:1/x"])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(wants), "{args:?}: {stderr}");
    }
}
