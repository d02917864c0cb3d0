//! Acceptance test of exactly-once apply and keyless tables together:
//! `pgbench` writes to a PostgreSQL source (its TPC-B-like script, plus a
//! script of ours that updates and deletes single `pgbench_history` rows,
//! so the keyless table sees every kind of change), `logferry run`
//! replicates it into a PostgreSQL target with four lanes and small
//! batches and is SIGKILLed at random points several times while it
//! applies, restarted each time; after a catch-up (with two lanes, so the
//! replay is screened by the four-lane layout's progress rows) every table is equal on
//! both sides, the keyed ones by key and every column, `pgbench_history`
//! (no key, `REPLICA IDENTITY FULL`) as an exact multiset.

use crate::support::binary::{text, Scratch};
use crate::support::pg::{self, TestDb};
use crate::support::Rng;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Finds a PostgreSQL client program as `logferry bench` does: PATH, then
/// the Debian layout (newest major first).
fn pg_program(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path().join("bin"))).collect();
        versions.sort();
        dirs.extend(versions.into_iter().rev());
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Splits `postgres://user:password@host…` into the URL without the
/// password and the (percent-decoded) password, which goes to pgbench
/// through PGPASSWORD, never on its command line.
fn without_password(url: &str) -> (String, Option<String>) {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let Some((userinfo, host)) = rest.split_once('@') else { return (url.to_string(), None) };
    let Some((user, password)) = userinfo.split_once(':') else { return (url.to_string(), None) };
    let mut decoded = Vec::new();
    let bytes = password.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                decoded.push(b);
                i += 3;
                continue;
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    (format!("{scheme}://{user}@{host}"), Some(String::from_utf8(decoded).expect("a UTF-8 password")))
}

/// `pgbench <args…> <db>` with the password in PGPASSWORD.
fn pgbench(db: &TestDb, args: &[&str]) -> Command {
    let program = pg_program("pgbench").expect("pgbench not found (PATH, /usr/lib/postgresql/*/bin): scripts/test installs PostgreSQL's client programs");
    let (url, password) = without_password(&db.url);
    let mut cmd = Command::new(program);
    cmd.args(args).arg(url).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    cmd
}

/// Single-row changes of the keyless table: an UPDATE of one row and a
/// DELETE of another, found by `ctid` (pgbench's own script only inserts).
const HISTORY_SCRIPT: &str = "\\set tid random(1, 10 * :scale)
\\set delta random(-5000, 5000)
UPDATE pgbench_history SET delta = delta + :delta WHERE ctid = (SELECT ctid FROM pgbench_history WHERE tid = :tid LIMIT 1);
DELETE FROM pgbench_history WHERE ctid = (SELECT ctid FROM pgbench_history WHERE tid = (:tid % 10) + 1 LIMIT 1);
";

/// Every table, each row as text with every column (NULL as `∅`).
const TABLES: [(&str, &str); 4] = [
    ("pgbench_accounts", "SELECT aid, bid, abalance, filler FROM pgbench_accounts"),
    ("pgbench_branches", "SELECT bid, bbalance, filler FROM pgbench_branches"),
    ("pgbench_tellers", "SELECT tid, bid, tbalance, filler FROM pgbench_tellers"),
    ("pgbench_history", "SELECT tid, bid, aid, delta, mtime, filler FROM pgbench_history"),
];

/// The rows of `sql` as a multiset (row text → how many times).
async fn multiset(db: &TestDb, sql: &str) -> BTreeMap<String, usize> {
    let mut set = BTreeMap::new();
    for row in pg::rows(db, sql).await {
        *set.entry(row).or_insert(0) += 1;
    }
    set
}

/// Rows one multiset holds more often than the other, at most `n` of them.
fn surplus(a: &BTreeMap<String, usize>, b: &BTreeMap<String, usize>, n: usize) -> Vec<String> {
    a.iter()
        .filter_map(|(row, &k)| {
            let other = b.get(row).copied().unwrap_or(0);
            (k > other).then(|| format!("{row} (×{k} vs ×{other})"))
        })
        .take(n)
        .collect()
}

/// When the target last committed a batch of log changes: the newest
/// `updated_at` of its `logferry_progress` rows, in µs since the epoch (0
/// before the table exists). Every batch transaction of log changes upserts
/// a row with `now()`, so a newer value means a batch committed since the
/// last look (deleted rows of spent layouts never make it newer).
async fn last_commit(target: &TestDb) -> i64 {
    let exists = pg::cells(target, "SELECT to_regclass('public.logferry_progress') IS NOT NULL").await;
    if exists[0][0].as_deref() != Some("t") {
        return 0;
    }
    let q = "SELECT coalesce((extract(epoch FROM max(updated_at)) * 1000000)::bigint, 0) FROM public.logferry_progress";
    pg::cells(target, q).await[0][0].as_deref().unwrap().parse().unwrap()
}

fn alive(child: &mut Child) -> bool {
    child.try_wait().unwrap().is_none()
}

#[test]
fn pgbench_with_sigkills_ends_with_every_table_equal_and_history_an_exact_multiset() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async { (pg::fresh_db("pgbench_src").await, pg::fresh_db("pgbench_dst").await) });
    let out = pgbench(&source, &["-i", "-s", "1", "-q"]).output().unwrap();
    assert!(out.status.success(), "pgbench -i: {}", text(&out.stderr));
    rt.block_on(source.client.batch_execute("ALTER TABLE pgbench_history REPLICA IDENTITY FULL")).unwrap();
    // Checkpoints every 200 ms: a killed run leaves what it applied since
    // its last one to be replayed on restart.
    let s = Scratch::new(&format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "pgbench"
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = ["public.pgbench_accounts", "public.pgbench_branches", "public.pgbench_tellers", "public.pgbench_history"]
slot = "{slot}"
publication = "{slot}"
[[pipeline.target]]
kind = "postgres"
url = "{dst}"
[pipeline.apply]
lanes = 4
batch_max_rows = 40
batch_max_wait = "1ms"
checkpoint_interval = "200ms"
"#,
        src = source.url,
        dst = target.url,
        slot = source.name,
    ));
    // The initial copy (100,000 accounts) and a first checkpoint.
    let started = Instant::now();
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "copy run: {}", text(&out.stderr));
    eprintln!("copied in {:?}", started.elapsed());
    std::fs::write(s.path("history.sql"), HISTORY_SCRIPT).unwrap();
    let script = format!("{}@2", s.path("history.sql").display());
    // The workload runs until the kills are done (the cap is far off); a
    // rate keeps its volume bounded on a slow machine and a fast one alike.
    let mut bench = pgbench(&source, &["-n", "-c", "4", "-j", "2", "-T", "120", "-R", "250", "-b", "tpcb-like@8", "-f", &script]).spawn().unwrap();

    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut rng = Rng(seed);
    let last_commit = || rt.block_on(last_commit(&target));
    let mut kills = Vec::new();
    for round in 0..5 {
        let before = last_commit();
        let spawned = Instant::now();
        let mut child = s.spawn(&["run"]);
        // The kill lands while the run applies: after it has committed a
        // batch of its own, at a random point 200-1500 ms later.
        let deadline = spawned + Duration::from_secs(30);
        while last_commit() <= before {
            assert!(alive(&mut child), "round {round}: the run ended on its own");
            assert!(Instant::now() < deadline, "round {round}: the run applied nothing within 30 s");
            std::thread::sleep(Duration::from_millis(10));
        }
        let applying = spawned.elapsed();
        let wait = Duration::from_millis(200 + rng.below(1301));
        std::thread::sleep(wait);
        assert!(alive(&mut child), "round {round}: the run ended on its own before its kill");
        assert!(alive(&mut bench), "round {round}: pgbench ended before the kill: {}", text(&bench.wait_with_output().unwrap().stderr));
        child.kill().unwrap(); // SIGKILL
        let out = child.wait_with_output().unwrap();
        assert!(out.status.code().is_none(), "round {round}: the run exited by itself ({}) instead of dying by the kill: {}", out.status, text(&out.stderr));
        kills.push((applying, wait, last_commit()));
    }
    // The workload stops (its clients' open transactions roll back); the
    // catch-up starts once no client of the source is left.
    eprintln!("kills done at {:?}", started.elapsed());
    bench.kill().unwrap();
    bench.wait().unwrap();
    rt.block_on(crate::support::wait_until("pgbench's sessions are gone", Duration::from_secs(30), || async {
        let q = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()";
        pg::cells(&source, q).await[0][0].as_deref() == Some("0")
    }));
    // The catch-up runs with two lanes instead of four: the replay of what
    // the last killed run applied is screened by the old layout's rows.
    let config = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(&s.config, config.replace("lanes = 4", "lanes = 2")).unwrap();
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "catch-up run: {}", text(&out.stderr));
    let last = last_commit();
    eprintln!("caught up at {:?}; kills (applying after, killed after, last commit): {kills:?}", started.elapsed());
    // Each killed run had left changes unapplied: a later run committed more.
    for (i, (_, wait, at)) in kills.iter().enumerate() {
        assert!(*at < last, "kill {i} ({wait:?} into applying) left nothing to apply: last commit {at}, at the end {last}");
    }

    rt.block_on(async {
        let history = pg::cells(&source, "SELECT count(*) FROM pgbench_history").await[0][0].clone().unwrap();
        let updated = pg::cells(&source, "SELECT count(*) FROM pgbench_branches WHERE bbalance <> 0").await[0][0].clone().unwrap();
        assert!(history.parse::<u64>().unwrap() > 100 && updated == "1", "pgbench wrote: {history} history rows");
        // The keyless table saw updates and deletes of single rows, not only inserts.
        let q = "SELECT n_tup_upd, n_tup_del FROM pg_stat_user_tables WHERE relname = 'pgbench_history'";
        let changed = pg::cells(&source, q).await;
        assert!(changed[0].iter().all(|n| n.as_deref().unwrap().parse::<u64>().unwrap() > 10), "history updates, deletes: {changed:?}");
        for (table, sql) in TABLES {
            let (src, dst) = (multiset(&source, sql).await, multiset(&target, sql).await);
            let (only_src, only_dst) = (surplus(&src, &dst, 5), surplus(&dst, &src, 5));
            assert!(
                only_src.is_empty() && only_dst.is_empty(),
                "{table} differs (seed {seed}, kills {kills:?}): source has {} rows, target {}; more often on the source: {only_src:#?}; more often on the target: {only_dst:#?}",
                src.values().sum::<usize>(),
                dst.values().sum::<usize>(),
            );
        }
        // The slot would keep the server's WAL, and the two databases (some
        // 40 MB) the disk, until scripts/test's next start; a failed run
        // leaves them to look at.
        let slot = format!("SELECT pg_drop_replication_slot('{}')", source.name);
        source.client.batch_execute(&slot).await.unwrap();
        let admin = pg::connect(&pg::server_url()).await;
        for db in [&source.name, &target.name] {
            admin.batch_execute(&format!("DROP DATABASE \"{db}\" WITH (FORCE)")).await.unwrap();
        }
    });
}
