//! Hostile input, the size part, through the real binary: a 100 MB value
//! replicates PostgreSQL → PostgreSQL (copy and stream) and MariaDB →
//! PostgreSQL (binlog) with bounded memory; the widest tables each engine
//! allows replicate column for column; empty transactions and transactions
//! that touch only unselected tables neither stop, stall nor duplicate
//! anything, and the checkpoint moves past them.

use crate::support::binary::{read_json_lines, text, Scratch};
use crate::support::{mariadb, pg};
use logferry::record::Op;
use mysql_async::prelude::Queryable;
use std::time::{Duration, Instant};

/// Hang guard for one `run --once` (not a speed assertion: the runs here
/// take seconds).
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// Peak RSS allowed while replicating one 100 MB value: the value in a few
/// forms (wire text, decoded bytes, the target's parameter) fits; a copy
/// per stage too many does not.
const PEAK_LIMIT_MIB: u64 = 1536;

/// What one measured `run --once` did.
struct Measured {
    code: Option<i32>,
    stderr: String,
    /// Peak resident set of the process (`ru_maxrss` from wait4).
    peak_mib: u64,
}

impl Measured {
    fn assert_ok(&self, what: &str) {
        assert_eq!(self.code, Some(0), "{what} failed: {}", self.stderr);
    }
}

/// `logferry run --once`, reaped with `wait4` for its peak RSS; killed and
/// failed if it has not finished within [`RUN_LIMIT`].
fn run_once_measured(s: &Scratch, tag: &str) -> Measured {
    let err_path = s.path(&format!("{tag}.stderr"));
    let child = s
        .command(&["run", "--once"])
        .stdout(std::fs::File::create(s.path(&format!("{tag}.stdout"))).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let start = Instant::now();
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for our own child; `std` never waits for it (the
        // `Child` is only dropped, which neither waits nor kills).
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(r >= 0, "wait4: {}", std::io::Error::last_os_error());
        if r == pid {
            break;
        }
        if start.elapsed() > RUN_LIMIT {
            // SAFETY: signals our own, not yet reaped child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            panic!("{tag}: run --once did not finish within {RUN_LIMIT:?}: {}", std::fs::read_to_string(&err_path).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(child);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Measured {
        code,
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        peak_mib: usage.ru_maxrss as u64 / 1024,
    }
}

fn pg_source_config(name: &str, source: &pg::TestDb, tables: &str, targets: &str) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "{name}"
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = [{tables}]
slot = "{slot}"
publication = "{slot}"
heartbeat_interval = "500ms"
{targets}
[pipeline.apply]
lanes = 2
batch_max_rows = 200
batch_max_wait = "5ms"
checkpoint_interval = "50ms"
"#,
        src = source.url,
        slot = source.name,
    )
}

fn mysql_source_config(name: &str, source: &mariadb::TestDb, tables: &str, server_id: u32, targets: &str) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "{name}"
[pipeline.source]
kind = "mysql"
url = "{src}"
tables = [{tables}]
server_id = {server_id}
heartbeat_interval = "500ms"
{targets}
[pipeline.apply]
lanes = 2
batch_max_rows = 200
batch_max_wait = "5ms"
checkpoint_interval = "50ms"
"#,
        src = source.url,
    )
}

fn pg_target(target: &pg::TestDb) -> String {
    format!("[[pipeline.target]]\nkind = \"postgres\"\nurl = \"{}\"\nschema = \"public\"\n", target.url)
}

/// Compares two tables' rows column by column and names the first
/// difference (row key and column name).
fn assert_same_rows(cols: &[String], want: &[Vec<Option<String>>], got: &[Vec<Option<String>>], what: &str) {
    assert_eq!(want.len(), got.len(), "{what}: row counts differ");
    for (w, g) in want.iter().zip(got) {
        assert_eq!(w.len(), cols.len(), "{what}: source column count");
        assert_eq!(g.len(), cols.len(), "{what}: target column count");
        for (i, col) in cols.iter().enumerate() {
            assert_eq!(w[i], g[i], "{what}: row id={:?}, column {col}", w[0]);
        }
    }
}

// ---------------------------------------------------------------------------
// 1. A 100 MB value.

/// SQL for a ~100 MB bytea: 100 blocks, each a 4-byte counter (`salt` +
/// block number) and the same 1 MiB of md5 output, so a lost, repeated or
/// reordered block changes the md5.
fn pg_big_value(salt: i32) -> String {
    format!(
        "(SELECT string_agg(int4send(g + {salt}) || b, ''::bytea ORDER BY g) FROM generate_series(1, 100) g,
          (SELECT decode(string_agg(md5(i::text), '' ORDER BY i), 'hex') AS b FROM generate_series(1, 65536) i) x)"
    )
}

const BIG_LEN: i64 = 100 * (4 + (1 << 20));

/// A `big (id, n, v bytea)` table on a fresh source (with `rows` 100 MB
/// rows) and an empty target.
fn big_bytea_dbs(rt: &tokio::runtime::Runtime, rows: &[i32]) -> (pg::TestDb, pg::TestDb) {
    rt.block_on(async {
        let s = pg::fresh_db("big_bytea_src").await;
        s.client.batch_execute("CREATE TABLE big (id int PRIMARY KEY, n int, v bytea)").await.unwrap();
        for id in rows {
            s.client.batch_execute(&format!("INSERT INTO big VALUES ({id}, 0, {})", pg_big_value(id * 1000))).await.unwrap();
        }
        (s, pg::fresh_db("big_bytea_dst").await)
    })
}

const BIG_SUMS: &str = "SELECT id::text, n::text, length(v)::text, md5(v) FROM big ORDER BY id";

#[test]
fn a_100_mb_bytea_replicates_postgres_to_postgres_through_the_copy() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = big_bytea_dbs(&rt, &[1]);
    let s = Scratch::new(&pg_source_config("bigpg", &source, "\"big\"", &pg_target(&target)));
    let copy = run_once_measured(&s, "copy");
    copy.assert_ok("copy");
    rt.block_on(async {
        let want = pg::cells(&source, BIG_SUMS).await;
        assert_eq!(want[0][2].as_deref(), Some(BIG_LEN.to_string().as_str()));
        assert_eq!(want, pg::cells(&target, BIG_SUMS).await, "after the copy");
    });
    assert!(copy.peak_mib < PEAK_LIMIT_MIB, "peak RSS {} MiB for one 100 MB value", copy.peak_mib);
}

#[test]
fn a_100_mb_bytea_replicates_postgres_to_postgres_through_the_stream() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = big_bytea_dbs(&rt, &[]);
    let s = Scratch::new(&pg_source_config("bigpg", &source, "\"big\"", &pg_target(&target)));
    run_once_measured(&s, "copy").assert_ok("copy of the empty table");
    // A 100 MB insert, then an update of the same row that leaves the
    // (TOASTed, so unsent) value alone: the target must keep it.
    rt.block_on(async {
        source.client.batch_execute(&format!("INSERT INTO big VALUES (1, 0, {})", pg_big_value(0))).await.unwrap();
        source.client.batch_execute("UPDATE big SET n = 1 WHERE id = 1").await.unwrap();
    });
    let stream = run_once_measured(&s, "stream");
    stream.assert_ok("stream");
    rt.block_on(async {
        let want = pg::cells(&source, BIG_SUMS).await;
        assert_eq!(want.len(), 1);
        assert_eq!(want[0][1].as_deref(), Some("1"));
        assert_eq!(want[0][2].as_deref(), Some(BIG_LEN.to_string().as_str()));
        assert_eq!(want, pg::cells(&target, BIG_SUMS).await, "after streaming");
    });
    assert!(stream.peak_mib < PEAK_LIMIT_MIB, "peak RSS {} MiB for one 100 MB value", stream.peak_mib);
}

/// Raises the MariaDB server's global `max_allowed_packet` and puts the old
/// value back when dropped (also on panic). New sessions take the global
/// value at connect. (Two runs of this suite at once could see each other's
/// raised value; a raised limit harms no other test.)
struct MaxAllowedPacket {
    old: Option<u64>,
}

impl MaxAllowedPacket {
    async fn at_least(bytes: u64) -> Self {
        let mut conn = mysql_async::Conn::from_url(mariadb::server_url().as_str()).await.unwrap();
        let current: u64 = conn.query_first("SELECT @@GLOBAL.max_allowed_packet").await.unwrap().unwrap();
        let old = (current < bytes).then_some(current);
        if old.is_some() {
            conn.query_drop(format!("SET GLOBAL max_allowed_packet = {bytes}")).await.unwrap();
        }
        let _ = conn.disconnect().await;
        MaxAllowedPacket { old }
    }
}

impl Drop for MaxAllowedPacket {
    fn drop(&mut self) {
        let Some(old) = self.old else { return };
        // Its own thread and runtime: drop may run inside another runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let mut conn = mysql_async::Conn::from_url(mariadb::server_url().as_str()).await.unwrap();
                conn.query_drop(format!("SET GLOBAL max_allowed_packet = {old}")).await.unwrap();
                let _ = conn.disconnect().await;
            })
        })
        .join();
    }
}

/// SQL (on one session) that inserts a ~100 MB LONGBLOB like [`pg_big_value`].
fn mariadb_big_insert(id: i64, salt: i64) -> String {
    format!(
        "SET SESSION group_concat_max_len = 268435456;
         SET @b = (SELECT UNHEX(GROUP_CONCAT(MD5(seq) ORDER BY seq SEPARATOR '')) FROM seq_1_to_65536);
         INSERT INTO big SELECT {id}, 0, GROUP_CONCAT(CONCAT(LPAD(seq + {salt}, 4, '0'), @b) ORDER BY seq SEPARATOR '') FROM seq_1_to_100;"
    )
}

#[test]
fn a_100_mb_longblob_replicates_mariadb_to_postgres_through_the_binlog() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = mariadb::fresh_db("big_blob_src").await;
        s.exec("CREATE TABLE big (id INT PRIMARY KEY, n INT, v LONGBLOB)").await;
        (s, pg::fresh_db("big_blob_dst").await)
    });
    let server_id = 4_100_010_000 + std::process::id() % 1000;
    let s = Scratch::new(&mysql_source_config("bigmy", &source, &format!("\"{}.big\"", source.name), server_id, &pg_target(&target)));
    run_once_measured(&s, "copy").assert_ok("copy of the empty table");

    {
        // Writing the 100 MB value needs the writing session's limit above
        // it (GROUP_CONCAT would be cut, the INSERT refused); only for the
        // write. Sessions take the global value when they connect.
        let _packet = rt.block_on(MaxAllowedPacket::at_least(256 << 20));
        rt.block_on(async {
            let mut conn = mysql_async::Conn::from_url(source.url.as_str()).await.unwrap();
            conn.query_drop(mariadb_big_insert(1, 0)).await.unwrap();
            // A full row image holds the value twice: a ~200 MB event.
            conn.query_drop("UPDATE big SET n = 1 WHERE id = 1").await.unwrap();
            let _ = conn.disconnect().await;
        });
    }
    // The binlog is read with the server's own limit back in place (16 MiB
    // on the test server): the reader does not depend on it.
    let limit: u64 = rt.block_on(async {
        let mut conn = source.pool.get_conn().await.unwrap();
        conn.query_first("SELECT @@GLOBAL.max_allowed_packet").await.unwrap().unwrap()
    });
    let stream = run_once_measured(&s, "stream");
    stream.assert_ok(&format!("binlog streaming (server max_allowed_packet {} MiB while reading)", limit >> 20));
    rt.block_on(async {
        let want = source.rows("SELECT CAST(id AS CHAR), CAST(n AS CHAR), CAST(LENGTH(v) AS CHAR), MD5(v) FROM big ORDER BY id").await;
        assert_eq!(want.len(), 1);
        assert_eq!(want[0][1].as_deref(), Some("1"));
        assert_eq!(want[0][2].as_deref(), Some(BIG_LEN.to_string().as_str()));
        let got = pg::cells(&target, "SELECT id::text, n::text, length(v)::text, md5(v) FROM public.big ORDER BY id").await;
        assert_eq!(want, got, "after binlog streaming");
    });
    assert!(
        stream.peak_mib < PEAK_LIMIT_MIB,
        "peak RSS {} MiB for one 100 MB row (a 200 MB update event; server max_allowed_packet {} MiB while reading)",
        stream.peak_mib,
        limit >> 20
    );
}

// ---------------------------------------------------------------------------
// 2. The widest tables.

/// PostgreSQL's limit: 1600 columns (MaxHeapAttributeNumber); 1600 int4 fit
/// in one 8 kB heap page.
const PG_MAX_COLUMNS: usize = 1600;

#[test]
fn a_1600_column_table_replicates_postgres_to_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cols: Vec<String> = std::iter::once("id".to_string()).chain((1..PG_MAX_COLUMNS).map(|i| format!("c{i}"))).collect();
    let ddl = cols.iter().map(|c| if c == "id" { "id int PRIMARY KEY".into() } else { format!("{c} int") }).collect::<Vec<_>>().join(", ");
    // Column i of row g: g * 10000 + i, NULL where (g + i) % 13 = 0.
    let values = (1..PG_MAX_COLUMNS).map(|i| format!("CASE WHEN (g + {i}) % 13 = 0 THEN NULL ELSE g * 10000 + {i} END")).collect::<Vec<_>>().join(", ");
    let (source, target) = rt.block_on(async {
        let s = pg::fresh_db("wide_src").await;
        s.client
            .batch_execute(&format!("CREATE TABLE wide ({ddl}); INSERT INTO wide SELECT g, {values} FROM generate_series(1, 300) g;"))
            .await
            .unwrap();
        // One column more is refused: this is the widest table.
        let err = s.client.batch_execute(&format!("CREATE TABLE wider ({ddl}, c{PG_MAX_COLUMNS} int)")).await.unwrap_err();
        let msg = err.as_db_error().map(|e| e.message().to_string()).unwrap_or_else(|| err.to_string());
        assert!(msg.contains("at most 1600 columns"), "{msg}");
        (s, pg::fresh_db("wide_dst").await)
    });
    let s = Scratch::new(&pg_source_config("widepg", &source, "\"wide\"", &pg_target(&target)));
    let list = cols.join(", ");
    let select = format!("SELECT {list} FROM wide ORDER BY id");
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "copy failed: {}", text(&out.stderr));
    rt.block_on(async { assert_same_rows(&cols, &pg::cells(&source, &select).await, &pg::cells(&target, &select).await, "after the copy") });

    rt.block_on(async {
        source
            .client
            .batch_execute(&format!(
                "UPDATE wide SET c1 = -1, c800 = NULL, c1599 = -1599 WHERE id = 3;
                 UPDATE wide SET ({cols}) = (SELECT {neg} FROM wide w WHERE w.id = 7) WHERE id = 7;
                 DELETE FROM wide WHERE id IN (4, 300);
                 INSERT INTO wide SELECT g, {values} FROM generate_series(301, 302) g;",
                cols = cols[1..].join(", "),
                neg = cols[1..].iter().map(|c| format!("-w.{c}")).collect::<Vec<_>>().join(", "),
            ))
            .await
            .unwrap();
    });
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "stream failed: {}", text(&out.stderr));
    rt.block_on(async {
        let want = pg::cells(&source, &select).await;
        assert_eq!(want.len(), 300);
        assert_same_rows(&cols, &want, &pg::cells(&target, &select).await, "after streaming");
    });
}

#[test]
fn the_widest_innodb_table_replicates_mariadb_to_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // InnoDB's limit: 1017 columns (1020 minus its three hidden ones).
    let max = 1017;
    let cols: Vec<String> = std::iter::once("id".to_string()).chain((1..max).map(|i| format!("c{i}"))).collect();
    let ddl = cols.iter().map(|c| if c == "id" { "id INT PRIMARY KEY".into() } else { format!("{c} INT") }).collect::<Vec<_>>().join(", ");
    let values = (1..max).map(|i| format!("IF((seq + {i}) % 13 = 0, NULL, seq * 10000 + {i})")).collect::<Vec<_>>().join(", ");
    let (source, target) = rt.block_on(async {
        let s = mariadb::fresh_db("wide_src").await;
        s.exec(&format!("CREATE TABLE wide ({ddl}) ENGINE = InnoDB; INSERT INTO wide SELECT seq, {values} FROM seq_1_to_300;")).await;
        // One column more is refused: this is the widest table.
        let mut conn = s.pool.get_conn().await.unwrap();
        let err = conn.query_drop(format!("CREATE TABLE wider ({ddl}, c{max} INT) ENGINE = InnoDB")).await.unwrap_err();
        assert!(err.to_string().contains("Too many columns"), "{err}");
        drop(conn);
        (s, pg::fresh_db("wide_dst").await)
    });
    let server_id = 4_100_011_000 + std::process::id() % 1000;
    let s = Scratch::new(&mysql_source_config("widemy", &source, &format!("\"{}.wide\"", source.name), server_id, &pg_target(&target)));
    let my_select = format!("SELECT {} FROM wide ORDER BY id", cols.join(", "));
    let pg_select = format!("SELECT {} FROM public.wide ORDER BY id", cols.join(", "));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "copy failed: {}", text(&out.stderr));
    rt.block_on(async { assert_same_rows(&cols, &source.rows(&my_select).await, &pg::cells(&target, &pg_select).await, "after the copy") });

    rt.block_on(source.exec(&format!(
        "UPDATE wide SET c1 = -1, c500 = NULL, c{last} = -{last} WHERE id = 3;
         UPDATE wide SET {neg} WHERE id = 7;
         DELETE FROM wide WHERE id IN (4, 300);
         INSERT INTO wide SELECT seq, {values} FROM seq_301_to_302;",
        last = max - 1,
        neg = cols[1..].iter().map(|c| format!("{c} = -{c}")).collect::<Vec<_>>().join(", "),
    )));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "stream failed: {}", text(&out.stderr));
    rt.block_on(async {
        let want = source.rows(&my_select).await;
        assert_eq!(want.len(), 300);
        assert_same_rows(&cols, &want, &pg::cells(&target, &pg_select).await, "after streaming");
    });
}

// ---------------------------------------------------------------------------
// 3. Empty transactions.

/// The POSITION column of `logferry status` for the one pipeline.
fn status_position(s: &Scratch) -> String {
    let out = s.run(&["status"]);
    assert!(out.status.success(), "status failed: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let line = stdout.lines().nth(1).unwrap_or_else(|| panic!("no pipeline line in:\n{stdout}"));
    // `{name:<20} {source:<10} {seq:>12}  {updated:<24} {position} ({age}s ago)`
    let end = line.rfind(" (").unwrap_or_else(|| panic!("no checkpoint in: {line}"));
    line.get(71..end).unwrap_or_else(|| panic!("unexpected status line: {line}")).trim().to_string()
}

/// `X/Y` as a number.
fn lsn(text: &str) -> u64 {
    let (hi, lo) = text.split_once('/').unwrap_or_else(|| panic!("not an LSN: {text}"));
    (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap()
}

/// (op, id) of every row change in the JSON-lines output, in file order.
fn ids_in(file: &std::path::Path) -> Vec<(Op, i64)> {
    read_json_lines(file)
        .iter()
        .filter(|c| matches!(c.op(), Op::Insert | Op::SnapshotRead | Op::Update | Op::Delete))
        .map(|c| {
            let row = c.after.as_ref().or(c.before.as_ref()).unwrap();
            let id = match row.get("id").and_then(|v| v.kind.clone()) {
                Some(logferry::record::value::Kind::Int64(i)) => i,
                other => panic!("id {other:?}"),
            };
            (c.op(), id)
        })
        .collect()
}

/// The file holds each expected change exactly once (lanes interleave
/// keys, so only the order per key is fixed: row 1's copy before its update).
fn assert_each_once(file: &std::path::Path, what: &str) {
    let got = ids_in(file);
    let mut sorted = got.clone();
    sorted.sort_by_key(|(op, id)| (*id, *op as i32));
    let mut want = vec![(Op::SnapshotRead, 1), (Op::Update, 1), (Op::Insert, 2), (Op::Insert, 3)];
    want.sort_by_key(|(op, id)| (*id, *op as i32));
    assert_eq!(sorted, want, "{what}: each change exactly once; file order {got:?}");
    let at = |x: (Op, i64)| got.iter().position(|c| *c == x).unwrap();
    assert!(at((Op::SnapshotRead, 1)) < at((Op::Update, 1)), "{what}: row 1 out of order: {got:?}");
}

fn file_target() -> &'static str {
    "[[pipeline.target]]\nkind = \"file\"\npath = \"out/changes.jsonl\"\n"
}

#[test]
fn empty_and_unselected_transactions_in_a_postgres_stream_change_nothing_and_the_checkpoint_moves_past_them() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = pg::fresh_db("empty_tx_src").await;
        s.client
            .batch_execute("CREATE TABLE items (id int PRIMARY KEY, v text); CREATE TABLE other (id int PRIMARY KEY); INSERT INTO items VALUES (1, 'a');")
            .await
            .unwrap();
        (s, pg::fresh_db("empty_tx_dst").await)
    });
    let targets = format!("{}{}", pg_target(&target), file_target());
    let s = Scratch::new(&pg_source_config("emptypg", &source, "\"items\"", &targets));
    let file = s.path("out/changes.jsonl");
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "copy failed: {}", text(&out.stderr));

    // Empty transactions, read-only ones and ones on an unselected table,
    // between and after real changes.
    let noise = "BEGIN; COMMIT; BEGIN; SELECT 1; COMMIT; START TRANSACTION READ ONLY; COMMIT;
                 BEGIN; INSERT INTO other SELECT coalesce(max(id), 0) + 1 FROM other; COMMIT;
                 BEGIN; UPDATE other SET id = id + 1000; DELETE FROM other WHERE id > 1000; COMMIT;
                 BEGIN; SELECT txid_current(); COMMIT;";
    let lsn_after = |sql: String| {
        rt.block_on(async {
            source.client.batch_execute(&sql).await.unwrap();
            let r: String = source.client.query_one("SELECT pg_current_wal_lsn()::text", &[]).await.unwrap().get(0);
            lsn(&r)
        })
    };
    let end = lsn_after(format!("{noise} INSERT INTO items VALUES (2, 'b'); {noise} {noise} INSERT INTO items VALUES (3, 'c'); UPDATE items SET v = 'a2' WHERE id = 1; {noise} {noise}"));
    let m = run_once_measured(&s, "stream");
    m.assert_ok("stream with empty transactions");
    let checkpoint = status_position(&s);
    assert!(lsn(&checkpoint) >= end, "checkpoint {checkpoint} is before the end of the empty transactions");
    let sql = "SELECT id::text, v FROM items ORDER BY id";
    rt.block_on(async { assert_eq!(pg::cells(&source, sql).await, pg::cells(&target, sql).await) });
    assert_each_once(&file, "after the stream");

    // Only empty and unselected transactions: nothing is written, the
    // checkpoint still moves past them.
    let end = lsn_after(format!("{noise} {noise} {noise}"));
    let m = run_once_measured(&s, "idle");
    m.assert_ok("a stream of only empty transactions");
    let after = status_position(&s);
    assert!(lsn(&after) >= end && lsn(&after) > lsn(&checkpoint), "checkpoint {after} did not move past {end:X} (was {checkpoint})");
    assert_each_once(&file, "after only empty transactions (nothing new, nothing repeated)");
}

/// `file:pos` of a MariaDB position display (`mariadb-bin.000027:1234 gtid …`).
fn binlog_pos(display: &str) -> (String, u64) {
    let first = display.split_whitespace().next().unwrap();
    let (file, pos) = first.rsplit_once(':').unwrap_or_else(|| panic!("not a binlog position: {display}"));
    (file.to_string(), pos.parse().unwrap())
}

#[test]
fn empty_and_unselected_transactions_in_a_mariadb_binlog_change_nothing_and_the_checkpoint_moves_past_them() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = mariadb::fresh_db("empty_tx_src").await;
        s.exec("CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(10)); CREATE TABLE other (id INT PRIMARY KEY); INSERT INTO items VALUES (1, 'a');").await;
        (s, pg::fresh_db("empty_tx_dst").await)
    });
    let targets = format!("{}{}", pg_target(&target), file_target());
    let server_id = 4_100_012_000 + std::process::id() % 1000;
    let s = Scratch::new(&mysql_source_config("emptymy", &source, &format!("\"{}.items\"", source.name), server_id, &targets));
    let file = s.path("out/changes.jsonl");
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "copy failed: {}", text(&out.stderr));

    let noise = "BEGIN; COMMIT; START TRANSACTION READ ONLY; SELECT 1; COMMIT;
                 BEGIN; INSERT INTO other SELECT COALESCE(MAX(id), 0) + 1 FROM other; COMMIT;
                 BEGIN; UPDATE other SET id = id + 1000; DELETE FROM other WHERE id > 1000; COMMIT;
                 BEGIN; UPDATE other SET id = id WHERE id < 0; COMMIT;";
    let pos_after = |sql: String| {
        rt.block_on(async {
            source.exec(&sql).await;
            let mut conn = source.pool.get_conn().await.unwrap();
            let row: mysql_async::Row = conn.query_first("SHOW MASTER STATUS").await.unwrap().unwrap();
            let (file, pos): (String, u64) = (row.get(0).unwrap(), row.get(1).unwrap());
            (file, pos)
        })
    };
    let end = pos_after(format!("{noise} INSERT INTO items VALUES (2, 'b'); {noise} {noise} INSERT INTO items VALUES (3, 'c'); UPDATE items SET v = 'a2' WHERE id = 1; {noise} {noise}"));
    let m = run_once_measured(&s, "stream");
    m.assert_ok("binlog with empty transactions");
    let checkpoint = status_position(&s);
    assert!(binlog_pos(&checkpoint) >= end, "checkpoint {checkpoint} is before the end of the empty transactions {end:?}");
    rt.block_on(async {
        let want = source.rows("SELECT CAST(id AS CHAR), v FROM items ORDER BY id").await;
        let got = pg::cells(&target, "SELECT id::text, v FROM public.items ORDER BY id").await;
        assert_eq!(want, got);
    });
    assert_each_once(&file, "after the stream");

    let end = pos_after(format!("{noise} {noise} {noise}"));
    let m = run_once_measured(&s, "idle");
    m.assert_ok("a binlog of only empty transactions");
    let after = status_position(&s);
    assert!(binlog_pos(&after) >= end && binlog_pos(&after) > binlog_pos(&checkpoint), "checkpoint {after} did not move past {end:?} (was {checkpoint})");
    assert_each_once(&file, "after only empty transactions (nothing new, nothing repeated)");
}
