//! The status page at `/`, loaded by headless Chromium (Debian `chromium`,
//! found through `LOGFERRY_TEST_CHROMIUM`, default `/usr/bin/chromium`)
//! against a `logferry run` that replicates a PostgreSQL table under a
//! write workload: after the page's script ran, the DOM shows the
//! pipeline's name, its state and a chart whose rate line has the points
//! of the `/status` history, and a screenshot is saved (the README's
//! docs/status-page.png is one of these).

use crate::operate::{admin_addr, http, log_lines, terminate, until, Running};
use crate::support::binary::{text, Scratch};
use crate::support::pg;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The y of a zero value in the page's chart (its viewBox: top margin 12,
/// plot height 190 - 12 - 24).
const CHART_ZERO_Y: f64 = 166.0;

fn chromium() -> PathBuf {
    let path = PathBuf::from(std::env::var("LOGFERRY_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    assert!(
        path.is_file(),
        "headless Chromium is needed to test the status page and was not found at {}: install Debian's `chromium` (scripts/test does: apt-get install chromium) or set LOGFERRY_TEST_CHROMIUM to its path",
        path.display()
    );
    path
}

/// Runs Chromium headless on `url` with `args`, in a fresh profile, and
/// waits for it (at most a minute).
fn headless(url: &str, args: &[&str]) -> Output {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--window-size=1200,900", "--virtual-time-budget=8000"])
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium().display()));
    // Read stdout on a thread so a large DOM cannot fill the pipe.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut out).unwrap();
        out
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = child.wait_with_output().unwrap();
    out.stdout = reader.join().unwrap();
    out
}

/// The `points` of the first `<polyline class="{class}" …>` in `dom`, and its `data-points`.
fn polyline(dom: &str, class: &str) -> (Vec<(f64, f64)>, usize) {
    let start = dom.find(&format!("<polyline class=\"{class}\"")).unwrap_or_else(|| panic!("no polyline.{class} in the page:\n{dom}"));
    let tag = &dom[start..start + dom[start..].find('>').unwrap()];
    let attr = |name: &str| tag.split(&format!(" {name}=\"")).nth(1).and_then(|r| r.split('"').next()).unwrap_or_else(|| panic!("no {name} in {tag}"));
    let points = attr("points")
        .split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    (points, attr("data-points").parse().unwrap())
}

#[test]
fn the_status_page_draws_the_pipeline_in_headless_chromium() {
    chromium();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(pg::fresh_db("page"));
    rt.block_on(db.client.batch_execute(
        "CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, qty int NOT NULL);
         INSERT INTO orders (item, qty) SELECT 'item ' || g, g % 7 FROM generate_series(1, 2000) g;",
    ))
    .unwrap();
    let config = format!(
        r#"
state_dir = "state"
[admin]
listen = "127.0.0.1:0"
[[pipeline]]
name = "shop"
[pipeline.source]
kind = "postgres"
url = "{url}"
tables = ["public.orders"]
slot = "{slot}"
publication = "{slot}"
heartbeat_interval = "500ms"
[[pipeline.target]]
kind = "file"
path = "out/changes.jsonl"
[pipeline.apply]
batch_max_wait = "5ms"
checkpoint_interval = "100ms"
"#,
        url = db.url,
        slot = db.name
    );
    let s = Scratch::new(&config);
    let mut run = Running::start(&s);
    let log = log_lines(&mut run.0);
    let addr = admin_addr(&log);

    // A steady write workload: inserts and updates, a few every 20 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, url) = (stop.clone(), db.url.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let client = pg::connect(&url).await;
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    client
                        .batch_execute(&format!(
                            "INSERT INTO orders (item, qty) VALUES ('live {n}', {q}); UPDATE orders SET qty = qty + 1 WHERE id = {id};",
                            q = n % 9,
                            id = n % 2000 + 1
                        ))
                        .await
                        .unwrap();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
    };

    // Wait for a history the chart can draw: three samples, some applying.
    let status = until("three history samples of a streaming pipeline with records applied", || {
        let (_, body) = http(&addr, "GET", "/status", "");
        let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        let p = &v["pipelines"][0];
        let history = p["history"].as_array().cloned().unwrap_or_default();
        let applying = history.iter().filter(|h| h["applied_per_s"].as_f64() > Some(0.0)).count();
        match p["state"] == "streaming" && history.len() >= 3 && applying >= 2 {
            true => Ok(v),
            false => Err(body),
        }
    });
    let url = format!("http://{addr}/");
    let out = headless(&url, &["--dump-dom"]);
    let dom = text(&out.stdout);
    assert!(out.status.success() && dom.contains("</html>"), "chromium failed: {}\n{dom}", text(&out.stderr));
    assert!(dom.contains("<span class=\"name\">shop</span>"), "the pipeline's name:\n{dom}");
    assert!(dom.contains("<span class=\"state streaming\">streaming</span>"), "its state:\n{dom}");
    assert!(dom.contains("<title>logferry: shop streaming</title>"), "the title says it:\n{dom}");
    assert!(dom.contains("public.orders"), "its table:\n{dom}");
    let (rate, count) = polyline(&dom, "rate");
    let (lag, _) = polyline(&dom, "lag");
    let had = status["pipelines"][0]["history"].as_array().unwrap().len();
    assert!(count >= had && rate.len() == count && lag.len() == count, "one point per history sample ({had} when asked, {count} drawn): {rate:?}");
    assert!(rate.windows(2).all(|w| w[0].0 < w[1].0), "points go forward in time: {rate:?}");
    assert!(rate.iter().any(|(_, y)| *y < CHART_ZERO_Y - 1.0), "the rate line rises above zero where records were applied: {rate:?}");
    assert!(rate.iter().all(|(_, y)| (0.0..=CHART_ZERO_Y + 0.5).contains(y)), "inside the chart: {rate:?}");

    let shot = s.path("status-page.png");
    let out = headless(&url, &[&format!("--screenshot={}", shot.display())]);
    assert!(out.status.success(), "chromium failed: {}", text(&out.stderr));
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", shot.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "a real screenshot ({} bytes)", png.len());
    // Kept where cargo keeps test output, for a look (and for docs/status-page.png).
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    std::fs::write(&keep, &png).unwrap();
    eprintln!("status page screenshot: {}", keep.display());

    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    terminate(&mut run.0);
    rt.block_on(async {
        // The slot is free once the run has exited; dropping it can race its walsender's exit.
        for _ in 0..50 {
            if db.client.execute("SELECT pg_drop_replication_slot($1)", &[&db.name]).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}
