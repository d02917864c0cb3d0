//! Source outages through the real binary: the *source* connection runs
//! through the fault-injecting proxy and is reset (RST) or cut several
//! times while large transactions stream. logferry stays up, reconnects
//! from its checkpoint by itself, and the target ends equal to the source:
//! nothing lost, and no duplicate visible in the target's state.

use crate::support::binary::{text, Scratch};
use crate::support::proxy::Proxy;
use crate::support::{mariadb, pg};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const RECONNECTING: &str = "source failed; reconnecting from the last checkpoint";

/// `127.0.0.1:port` of a `scheme://user:pass@127.0.0.1:port/…` URL.
fn addr_of(url: &str) -> SocketAddr {
    let after_at = &url[url.rfind('@').expect("URL has user@host") + 1..];
    let host_port = &after_at[..after_at.find('/').unwrap_or(after_at.len())];
    host_port.parse().unwrap_or_else(|e| panic!("{host_port:?} is not 127.0.0.1:port: {e}"))
}

fn start(s: &Scratch) -> Child {
    let log = std::fs::File::create(s.path("logferry.log")).unwrap();
    let mut cmd = s.command(&["run"]);
    if let Ok(level) = std::env::var("LOGFERRY_TEST_LOG") {
        cmd.env("LOGFERRY_LOG", level);
    }
    cmd.stdout(Stdio::null()).stderr(log).spawn().unwrap()
}

fn log_of(s: &Scratch) -> String {
    text(&std::fs::read(s.path("logferry.log")).unwrap_or_default())
}

fn apply_section() -> &'static str {
    "[pipeline.apply]\nlanes = 4\nbatch_max_rows = 500\nbatch_max_wait = \"5ms\"\ncheckpoint_interval = \"50ms\"\nretry_backoff = \"50ms\"\nretry_max_backoff = \"500ms\"\n"
}

/// Resets the proxied source connections `times` times while `writes`
/// runs, each time once the proxy carried some traffic; then waits until
/// `equal` holds and stops logferry cleanly. Returns the log.
fn cut_while_streaming(
    rt: &tokio::runtime::Runtime,
    s: &Scratch,
    proxy: &Proxy,
    times: u32,
    bytes_between: u64,
    writes: impl std::future::Future<Output = ()> + Send + 'static,
    equal: impl Fn() -> bool,
) -> String {
    let mut child = start(s);
    let writer = rt.spawn(writes);
    let mut done = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while done < times && Instant::now() < deadline {
        let before = proxy.stats().bytes_down;
        // Let some of the stream through, then cut it mid-flight.
        while proxy.stats().bytes_down < before + bytes_between && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if done % 2 == 0 {
            proxy.reset();
        } else {
            proxy.cut();
        }
        done += 1;
        if let Some(status) = child.try_wait().unwrap() {
            panic!("logferry exited ({status}) after a source cut; its log:\n{}", log_of(s));
        }
    }
    assert_eq!(done, times, "the stream carried too little to cut it {times} times; log:\n{}", log_of(s));
    rt.block_on(writer).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    while !equal() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("logferry exited ({status}) while catching up; its log:\n{}", log_of(s));
        }
        assert!(Instant::now() < deadline, "the target did not catch up; log:\n{}", log_of(s));
        std::thread::sleep(Duration::from_millis(200));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let log = log_of(s);
    assert!(status.success(), "logferry did not stop cleanly ({status}); its log:\n{log}");
    log
}

#[test]
fn postgres_source_connection_cut_mid_transaction_loses_nothing_and_duplicates_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async { (pg::fresh_db("srccut").await, pg::fresh_db("srccutdst").await) });
    rt.block_on(source.client.batch_execute(
        "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text NOT NULL);
         INSERT INTO items SELECT g, 0, 'seed' FROM generate_series(1, 2000) g;",
    ))
    .unwrap();
    let proxy = Proxy::start(addr_of(&source.url));
    let src_url = source.url.replacen(&proxy.upstream().to_string(), &proxy.addr().to_string(), 1);
    let s = Scratch::new(&format!(
        "state_dir = \"state\"\n[[pipeline]]\nname = \"cut\"\n[pipeline.source]\nkind = \"postgres\"\nurl = \"{src_url}\"\n\
         tables = [\"items\"]\nslot = \"{slot}\"\npublication = \"{slot}\"\nheartbeat_interval = \"500ms\"\n\
         [[pipeline.target]]\nkind = \"postgres\"\nurl = \"{dst}\"\n{apply}",
        slot = source.name,
        dst = target.url,
        apply = apply_section(),
    ));
    let writer_url = source.url.clone();
    let writes = async move {
        let db = pg::connect(&writer_url).await;
        // Big transactions (inserts and updates of every row), so cuts land inside them.
        for round in 1..=8 {
            let lo = 2000 + round * 3000;
            db.batch_execute(&format!(
                "BEGIN;
                 INSERT INTO items SELECT g, {round}, 'r{round}' FROM generate_series({lo}, {hi}) g;
                 UPDATE items SET v = v + 1, note = note || '+' WHERE id % 7 = {m};
                 DELETE FROM items WHERE id % 50 = {round};
                 COMMIT;",
                hi = lo + 2999,
                m = round % 7,
            ))
            .await
            .unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    let q = "SELECT id::text, v::text, note FROM items ORDER BY id";
    let log = cut_while_streaming(&rt, &s, &proxy, 4, 200_000, writes, || {
        rt.block_on(async {
            match target.client.simple_query("SELECT 1 FROM items LIMIT 1").await {
                Ok(_) => pg::rows(&target, q).await == pg::rows(&source, q).await,
                Err(_) => false,
            }
        })
    });
    assert!(log.contains(RECONNECTING), "the cuts made the source reconnect; log:\n{log}");
    // A primary-key table cannot hold duplicates; the count check guards against a keyless target.
    let counts = rt.block_on(async {
        (pg::rows(&source, "SELECT count(*)::text FROM items").await, pg::rows(&target, "SELECT count(*)::text FROM items").await)
    });
    assert_eq!(counts.0, counts.1);
    assert!(proxy.stats().killed >= 4, "{:?}", proxy.stats());
}

#[test]
fn mariadb_source_connection_cut_mid_transaction_loses_nothing_and_duplicates_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async { (mariadb::fresh_db("srccut").await, pg::fresh_db("mcutdst").await) });
    rt.block_on(source.exec(
        "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note varchar(200) NOT NULL);
         INSERT INTO items SELECT seq, 0, 'seed' FROM seq_1_to_2000;",
    ));
    let proxy = Proxy::start(addr_of(&source.url));
    // mysql_async would switch a loopback connection to the server's unix
    // socket (prefer_socket), around the proxy.
    let src_url = source.url.replacen(&proxy.upstream().to_string(), &proxy.addr().to_string(), 1) + "?prefer_socket=false";
    let s = Scratch::new(&format!(
        "state_dir = \"state\"\n[[pipeline]]\nname = \"cut\"\n[pipeline.source]\nkind = \"mysql\"\nurl = \"{src_url}\"\n\
         tables = [\"{db}.items\"]\nserver_id = 4000000555\nheartbeat_interval = \"500ms\"\n\
         [[pipeline.target]]\nkind = \"postgres\"\nurl = \"{dst}\"\nschema = \"public\"\n{apply}",
        db = source.name,
        dst = target.url,
        apply = apply_section(),
    ));
    let writer = source.url.clone();
    let writes = async move {
        let pool = mysql_async::Pool::new(writer.as_str());
        let mut conn = pool.get_conn().await.unwrap();
        use mysql_async::prelude::Queryable;
        for round in 1..=16 {
            let lo = 2000 + round * 3000;
            conn.query_drop(format!(
                "BEGIN;
                 INSERT INTO items SELECT seq, {round}, 'r{round}' FROM seq_{lo}_to_{hi};
                 UPDATE items SET v = v + 1, note = CONCAT(note, '+') WHERE id % 7 = {m};
                 DELETE FROM items WHERE id % 50 = {round};
                 COMMIT;",
                hi = lo + 2999,
                m = round % 7,
            ))
            .await
            .unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        drop(conn);
        let _ = pool.disconnect().await;
    };
    let log = cut_while_streaming(&rt, &s, &proxy, 4, 20_000, writes, || {
        rt.block_on(async {
            let want = source.rows("SELECT CAST(id AS CHAR), CAST(v AS CHAR), note FROM items ORDER BY id").await;
            match target.client.simple_query("SELECT 1 FROM public.items LIMIT 1").await {
                Ok(_) => {
                    let got = pg::rows(&target, "SELECT id::text, v::text, note FROM public.items ORDER BY items.id").await;
                    let want: Vec<String> =
                        want.iter().map(|r| r.iter().map(|c| c.clone().unwrap_or("∅".into())).collect::<Vec<_>>().join("|")).collect();
                    got == want
                }
                Err(_) => false,
            }
        })
    });
    assert!(log.contains(RECONNECTING), "the cuts made the source reconnect; log:\n{log}");
}
