//! Crash-loop soak: SIGKILLs `logferry run` at random points, hundreds of
//! times, while a write workload runs on the source, then catches up once
//! and proves the target equals the source. Run it with `scripts/soak`
//! (which starts the servers); it is a tool, not part of the test suite,
//! because a few hundred kills take minutes.
//!
//! ```sh
//! scripts/soak                 # PostgreSQL → PostgreSQL and MariaDB → PostgreSQL, 300 kills each
//! scripts/soak --kills 50 --engine mariadb
//! ```
//!
//! Needs `LOGFERRY_TEST_PG_URL` (and `LOGFERRY_TEST_MARIADB_URL` for the
//! MariaDB round) and the binary path as `--bin`. Prints, and appends to
//! the `--log` file (scripts/soak: `target/soak/<UTC time>.log`), one line
//! per engine: kills, early exits, workload transactions, rows compared,
//! mismatches, duration; an early exit's own log goes there too. Exits 1
//! when any row differs or `logferry run` ever exited by itself (every
//! early exit is a failure: nothing should stop a healthy run).

use mysql_async::prelude::Queryable;
use std::error::Error;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio_postgres::NoTls;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// splitmix64: seeded randomness without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Args {
    bin: String,
    kills: u32,
    engines: Vec<String>,
    seed: u64,
    log: Option<String>,
}

/// Prints a line and appends it to the `--log` file.
fn report(a: &Args, line: &str) {
    println!("{line}");
    if let Some(path) = &a.log {
        use std::io::Write;
        let written = std::fs::OpenOptions::new().create(true).append(true).open(path).and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            eprintln!("soak: cannot write {path}: {e}");
        }
    }
}

fn args() -> Res<Args> {
    let mut a =
        Args { bin: "target/release/logferry".into(), kills: 300, engines: vec!["postgres".into(), "mariadb".into()], seed: 1, log: None };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or_else(|| format!("{k} needs a value"));
        match k.as_str() {
            "--bin" => a.bin = v()?,
            "--kills" => a.kills = v()?.parse()?,
            "--engine" => a.engines = vec![v()?],
            "--seed" => a.seed = v()?.parse()?,
            "--log" => a.log = Some(v()?),
            other => return Err(format!("unknown argument {other}; see the doc comment of examples/soak.rs").into()),
        }
    }
    Ok(a)
}

fn env(name: &str) -> Res<String> {
    std::env::var(name).map_err(|_| format!("{name} is not set: run scripts/soak, which starts the servers and sets it").into())
}

/// Replaces the database of a `scheme://…/db` URL.
fn with_db(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let cut = base.rfind('/').filter(|&i| i > base.find("://").map_or(0, |s| s + 2)).unwrap_or(base.len());
    let mut out = format!("{}/{db}", &base[..cut]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

async fn pg(url: &str) -> Res<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// Source-side operations, one small transaction each.
enum Source {
    Pg(tokio_postgres::Client),
    Maria(mysql_async::Conn),
}

impl Source {
    async fn exec(&mut self, sql: &str) -> Res<()> {
        match self {
            Source::Pg(c) => c.batch_execute(sql).await?,
            Source::Maria(c) => c.query_drop(sql).await?,
        }
        Ok(())
    }

    async fn rows(&mut self) -> Res<Vec<(i64, i64, String)>> {
        let sql = "SELECT id, v, note FROM items ORDER BY id";
        Ok(match self {
            Source::Pg(c) => c.query(sql, &[]).await?.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect(),
            Source::Maria(c) => c.query::<(i64, i64, String), _>(sql).await?,
        })
    }
}

/// One random transaction of 1–4 statements on 2000 keys.
async fn step(src: &mut Source, rng: &mut Rng, n: u64, upsert: &str) -> Res<()> {
    let mut sql = String::from("BEGIN;");
    for _ in 0..1 + rng.below(4) {
        let id = rng.below(2000);
        match rng.below(10) {
            0..=5 => sql.push_str(&upsert.replace("{id}", &id.to_string()).replace("{n}", &n.to_string())),
            6 | 7 => sql.push_str(&format!("UPDATE items SET v = v + 1, note = 'u{n}' WHERE id = {id};")),
            _ => sql.push_str(&format!("DELETE FROM items WHERE id = {id};")),
        }
    }
    sql.push_str("COMMIT;");
    src.exec(&sql).await
}

async fn round(a: &Args, engine: &str) -> Res<bool> {
    let pg_url = env("LOGFERRY_TEST_PG_URL")?;
    let admin = pg(&pg_url).await?;
    let (src_name, dst_name) = (format!("soak_{engine}_src"), format!("soak_{engine}_dst"));
    let _ = admin.batch_execute(&format!("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{src_name}'")).await;
    for db in [&src_name, &dst_name] {
        if engine == "postgres" || db == &dst_name {
            // One statement per call: DROP DATABASE cannot run in a transaction block.
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await?;
            admin.batch_execute(&format!("CREATE DATABASE {db}")).await?;
        }
    }
    let table = "CREATE TABLE items (id bigint PRIMARY KEY, v bigint NOT NULL, note text NOT NULL)";
    let (mut src, source_toml, upsert) = if engine == "postgres" {
        let url = with_db(&pg_url, &src_name);
        let c = pg(&url).await?;
        c.batch_execute(table).await?;
        let toml = format!(
            "kind = \"postgres\"\nurl = \"{url}\"\ntables = [\"public.items\"]\nslot = \"{src_name}\"\npublication = \"{src_name}\"\nheartbeat_interval = \"500ms\""
        );
        (Source::Pg(c), toml, "INSERT INTO items VALUES ({id}, 0, 'i{n}') ON CONFLICT (id) DO UPDATE SET v = items.v + 1, note = EXCLUDED.note;")
    } else {
        let root = env("LOGFERRY_TEST_MARIADB_URL")?;
        let mut c = mysql_async::Conn::new(mysql_async::Opts::from_url(&root)?).await?;
        c.query_drop(format!("DROP DATABASE IF EXISTS {src_name}; CREATE DATABASE {src_name}; USE {src_name}; {table}")).await?;
        let url = with_db(&root, &src_name);
        let toml = format!("kind = \"mysql\"\nurl = \"{url}\"\ntables = [\"{src_name}.items\"]\nserver_id = 4000000777");
        (Source::Maria(c), toml, "INSERT INTO items VALUES ({id}, 0, 'i{n}') ON DUPLICATE KEY UPDATE v = v + 1, note = VALUES(note);")
    };
    let mut rng = Rng(a.seed);
    for n in 0..300 {
        step(&mut src, &mut rng, n, upsert).await?;
    }

    let dir = std::env::temp_dir().join(format!("logferry-soak-{engine}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("soak.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = \"state\"\n[[pipeline]]\nname = \"soak\"\n[pipeline.source]\n{source_toml}\n\
             [[pipeline.target]]\nkind = \"postgres\"\nurl = \"{dst}\"\nschema = \"public\"\n\
             [pipeline.apply]\nlanes = 4\nbatch_max_rows = 200\nbatch_max_wait = \"5ms\"\ncheckpoint_interval = \"20ms\"\n",
            dst = with_db(&pg_url, &dst_name)
        ),
    )?;

    // The workload runs on its own task for the whole kill loop.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let workload = tokio::spawn(async move {
        let mut n = 300u64;
        let mut rng = Rng(rng.next());
        while !*stop_rx.borrow_and_update() {
            step(&mut src, &mut rng, n, upsert).await?;
            n += 1;
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        Ok::<_, Box<dyn Error + Send + Sync>>((src, n))
    });

    let started = Instant::now();
    let mut kills = 0u32;
    let mut early_exits = 0u32;
    let mut krng = Rng(a.seed ^ 0xABCD);
    let run_log = dir.join("run.log");
    while kills < a.kills {
        let mut child = Command::new(&a.bin)
            .args(["run", "--config"])
            .arg(&config)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&run_log)?)
            .spawn()?;
        // Mostly short lives (inside start-up, copy, first batches), sometimes longer.
        let wait = if krng.below(10) == 0 { 500 + krng.below(2500) } else { 20 + krng.below(400) };
        tokio::time::sleep(Duration::from_millis(wait)).await;
        match child.try_wait()? {
            Some(status) => {
                // A run only ends when killed: any exit of its own is a failure.
                early_exits += 1;
                let log = std::fs::read_to_string(&run_log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
                report(a, &format!("{engine}: early exit #{early_exits} after {kills} kills ({status}); its log ends:\n{}", tail.join("\n")));
                if early_exits > 10 {
                    return Err(format!("logferry keeps exiting by itself ({status}); run it by hand with {}", config.display()).into());
                }
            }
            None => {
                child.kill()?;
                child.wait()?;
                kills += 1;
            }
        }
        if kills % 50 == 0 && kills > 0 {
            eprintln!("{engine}: {kills} kills, {:.0}s", started.elapsed().as_secs_f64());
        }
    }
    let _ = stop_tx.send(true);
    let (mut src, txs) = workload.await??;

    let out = Command::new(&a.bin).args(["run", "--once", "--config"]).arg(&config).current_dir(&dir).output()?;
    if !out.status.success() {
        return Err(format!("final catch-up failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let want = src.rows().await?;
    let dst = pg(&with_db(&pg_url, &dst_name)).await?;
    let got: Vec<(i64, i64, String)> =
        dst.query("SELECT id, v, note FROM public.items ORDER BY id", &[]).await?.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    let mut mismatches = want.len().abs_diff(got.len());
    mismatches += want.iter().zip(&got).filter(|(a, b)| a != b).count();
    let passed = mismatches == 0 && early_exits == 0;
    report(
        a,
        &format!(
            "{engine} -> postgres: {} — {kills} kills, early exits = {early_exits}, in {:.0}s, {txs} workload transactions, {} source rows, {} target rows, mismatches = {mismatches} (seed {})",
            if passed { "PASS" } else { "FAIL" },
            started.elapsed().as_secs_f64(),
            want.len(),
            got.len(),
            a.seed
        ),
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(passed)
}

#[tokio::main]
async fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    report(&a, &format!("soak: {} kills per engine, engines {}, seed {}, binary {}", a.kills, a.engines.join(" "), a.seed, a.bin));
    let mut ok = true;
    for engine in a.engines.clone() {
        match round(&a, &engine).await {
            Ok(passed) => ok &= passed,
            Err(e) => {
                report(&a, &format!("soak ({engine}): FAIL — {e} ({e:?})"));
                ok = false;
                break;
            }
        }
    }
    report(&a, &format!("soak: {} in {:.0}s", if ok { "PASS" } else { "FAIL" }, started.elapsed().as_secs_f64()));
    std::process::exit(if ok { 0 } else { 1 });
}
