//! The `logferry` binary end to end: run --once, status, reset, exit codes,
//! clean shutdown on SIGTERM, and SIGKILL at random points without loss.

use crate::support::binary::*;
use crate::support::Rng;
use logferry::config::{GenerateConfig, RecordFormat};
use logferry::record::{proto, Change, Op};
use logferry::sources::generate::Generator;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn generator_config(total: u64) -> GenerateConfig {
    // Must match support::binary::generate_config.
    GenerateConfig {
        total: Some(total),
        tables: 3,
        keys: 200,
        tx_size: 10,
        row_bytes: 16,
        update_pct: 30,
        delete_pct: 10,
        rate: None,
        seed: 5,
    }
}

/// Checks that `records` (possibly with replayed duplicates) hold exactly
/// the generator's first `total` changes, each identical to the original.
fn assert_complete(records: &[Change], total: u64) {
    let mut g = Generator::new(generator_config(total));
    let expected: Vec<Change> = (0..total).map(|_| { let c = g.next_change(); g.record("gen", &c) }).collect();
    let mut by_seq: BTreeMap<u64, &Change> = BTreeMap::new();
    for r in records {
        by_seq.entry(r.seq).or_insert(r);
    }
    assert_eq!(by_seq.len() as u64, total, "distinct seqs");
    for (i, want) in expected.iter().enumerate() {
        let got = by_seq[&(i as u64 + 1)];
        let mut want = want.clone();
        want.seq = got.seq;
        if i as u64 + 1 == total {
            want.tx_end = true;
        }
        assert_eq!(got, &want, "record {}", i + 1);
    }
}

/// Per key, the first application of each record is in seq order. Replays
/// after a crash repeat records already written (they restart from the
/// checkpoint), so only first occurrences are compared; a reorder inside a
/// run, or a replay that skipped a record, breaks this.
fn assert_key_order(records: &[Change]) {
    let mut firsts: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for r in records {
        if seen.insert(r.seq) {
            let key = format!("{}{:?}", r.table.as_ref().unwrap().name, r.key_values());
            firsts.entry(key).or_default().push(r.seq);
        }
    }
    for (key, seqs) in firsts {
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "key {key}: applied out of order: {seqs:?}");
    }
}

#[test]
fn run_once_writes_every_change_then_status_and_reset() {
    let s = Scratch::new(&generate_config(5000, "", "json"));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("applied 5000 records"), "{}", text(&out.stderr));
    let records = read_json_lines(&s.path("out/changes.jsonl"));
    assert_eq!(records.len(), 5000);
    assert_complete(&records, 5000);

    // A second --once run has nothing new to do.
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(read_json_lines(&s.path("out/changes.jsonl")).len(), 5000);

    let out = s.run(&["status"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let status = text(&out.stdout);
    assert!(status.contains("gen") && status.contains("change 5000") && status.contains(" 5000 "), "{status}");

    let out = s.run(&["reset", "--pipeline", "gen"]);
    assert_eq!(out.status.code(), Some(2), "reset without a terminal needs --yes");
    assert!(text(&out.stderr).contains("--yes"));
    let out = s.run(&["reset", "--pipeline", "gen", "--yes"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let status = text(&s.run(&["status"]).stdout);
    assert!(status.contains("no checkpoint yet"), "{status}");
}

#[test]
fn the_discard_target_acknowledges_every_record_and_the_checkpoint_advances() {
    let config = generate_config(3000, "", "json")
        .replace("kind = \"file\"\npath = \"out/changes.jsonl\"\nformat = \"json\"", "kind = \"discard\"");
    assert!(config.contains("kind = \"discard\""), "{config}");
    let s = Scratch::new(&config);
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("applied 3000 records"), "{err}");
    assert!(err.contains("records acknowledged without writing") && err.contains("records=3000"), "{err}");
    assert!(!s.path("out").exists(), "the discard target wrote something");
    let status = text(&s.run(&["status"]).stdout);
    assert!(status.contains("change 3000"), "{status}");
}

#[test]
fn protobuf_files_are_length_delimited_changes() {
    let s = Scratch::new(&generate_config(1200, "", "protobuf"));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let bytes = std::fs::read(s.path("out/changes.pb")).unwrap();
    let records = proto::decode_all(&bytes).unwrap();
    assert_complete(&records, 1200);
    let _ = RecordFormat::Protobuf;
}

#[test]
fn bad_config_and_usage_exit_2_with_the_key_named() {
    let s = Scratch::new(&generate_config(10, "", "json").replace("lanes = 4", "lanez = 4"));
    let out = s.run(&["run", "--once"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("lanez") && err.contains("logferry.toml"), "{err}");

    let s = Scratch::new(&generate_config(10, "", "json"));
    let out = s.run(&["run", "--pipeline", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no pipeline `nope`"), "{}", text(&out.stderr));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logferry")).arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));

    let s = Scratch::new(&generate_config(10, "", "json").replace("total = 10", "total = 10\nrate = 5").replace("total = 10\n", ""));
    let out = s.run(&["run", "--once"]);
    assert_eq!(out.status.code(), Some(1), "a source that cannot end in --once mode is a runtime error");
    assert!(text(&out.stderr).contains("total"), "{}", text(&out.stderr));
}

#[test]
fn sigterm_drains_and_checkpoints_the_last_applied_transaction() {
    let s = Scratch::new(&generate_config(1_000_000, "rate = 4000", "json"));
    let child = s.spawn(&["run"]);
    let path = s.path("out/changes.jsonl");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) < 50_000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let records = read_json_lines(&path);
    let last_tx_end = records.iter().filter(|r| r.tx_end).map(|r| r.seq).max().unwrap();
    let status = text(&s.run(&["status"]).stdout);
    assert!(status.contains(&format!(" {last_tx_end} ")), "checkpoint should be seq {last_tx_end}: {status}");
}

#[test]
fn sigkill_at_random_points_loses_nothing() {
    // Large enough that a run is still going when the kill comes (40-440 ms
    // in): with 60k changes a fast run had sometimes finished already.
    let total = 300_000;
    let s = Scratch::new(&generate_config(total, "", "json"));
    let path = s.path("out/changes.jsonl");
    let mut rng = Rng(0xC0FFEE);
    let mut kills = 0;
    for _ in 0..6 {
        let mut child = s.spawn(&["run", "--once"]);
        std::thread::sleep(Duration::from_millis(40 + rng.below(400)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let _ = child.wait();
    }
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(kills >= 3, "only {kills} runs were killed mid-way; the test proves little");
    let records = read_json_lines(&path);
    assert_complete(&records, total);
    assert_key_order(&records);
    // Sanity: the generator's ops are all row changes.
    assert!(records.iter().all(|r| matches!(r.op(), Op::Insert | Op::Update | Op::Delete)));
}

#[test]
fn a_world_readable_config_with_a_literal_password_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    // A target URL with a literal password; `check` never connects to it.
    let with_password = generate_config(10, "", "json")
        + "\n[[pipeline.target]]\nkind = \"postgres\"\nurl = \"postgres://app:hunter2@127.0.0.1:1/db\"\n";
    let s = Scratch::new(&with_password);
    let config = s.path("logferry.toml");
    for (mode, warned) in [(0o644, true), (0o600, false)] {
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = s.run(&["check"]);
        let err = text(&out.stderr);
        assert_eq!(err.contains("readable by every user"), warned, "mode {mode:o}: {err}");
        assert!(!err.contains("hunter2"), "the password is never printed: {err}");
    }
}

/// `GET path` on the admin endpoint: (status line, body).
fn http_get(addr: &str, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (head.lines().next().unwrap_or("").to_string(), body.to_string())
}

fn series(metrics: &str, name: &str) -> u64 {
    let line = metrics.lines().find(|l| l.starts_with(&format!("{name}{{pipeline=\"gen\"}} "))).unwrap_or_else(|| panic!("no {name} in\n{metrics}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn the_admin_endpoint_serves_health_and_metrics_on_loopback() {
    use std::io::BufRead;
    let config = generate_config(1_000_000, "rate = 2000", "json") + "\n[admin]\nlisten = \"127.0.0.1:0\"\n";
    let s = Scratch::new(&config);
    let mut child = s.spawn(&["run"]);
    // The log names the port the system picked.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("an `admin endpoint listening` line within 30 s");
        if line.contains("admin endpoint listening") {
            break line.split("listen=").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
        }
    };
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    let (status, body) = http_get(&addr, "/health");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert!(body.starts_with("{\"status\":\"ok\"") && body.contains("\"gen\":{"), "{body}");
    let first = series(&http_get(&addr, "/metrics").1, "logferry_records_applied_total");
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let (status, metrics) = http_get(&addr, "/metrics");
        assert_eq!(status, "HTTP/1.1 200 OK");
        if series(&metrics, "logferry_records_applied_total") > first && series(&metrics, "logferry_checkpoint_seq") > 0 {
            break metrics;
        }
        assert!(Instant::now() < deadline, "the applied count did not grow:\n{metrics}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(series(&metrics, "logferry_records_received_total") >= series(&metrics, "logferry_records_applied_total"));
    assert_eq!(series(&metrics, "logferry_up"), 1);
    assert_eq!(series(&metrics, "logferry_target_failing_lanes"), 0);
    assert_eq!(http_get(&addr, "/").0, "HTTP/1.1 200 OK");

    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
}
