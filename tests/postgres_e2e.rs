//! PostgreSQL → PostgreSQL through the real binary: every type round-trips
//! (compared with SQL on both sides), SIGKILL at random points during
//! snapshot and streaming loses nothing and never reorders a key, and a
//! 1M-row transaction replicates with flat memory.

use crate::support::binary::{read_json_lines, text, Scratch};
use crate::support::pg::{fresh_db, TestDb, Workload};
use crate::support::Rng;
use logferry::record::{value::Kind, Op};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub(crate) fn pg_to_pg_config(source: &TestDb, target: &TestDb, tables: &str, extra_source: &str) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "e2e"
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = [{tables}]
slot = "{slot}"
publication = "{slot}"
heartbeat_interval = "500ms"
{extra_source}
[[pipeline.target]]
kind = "postgres"
url = "{dst}"
[[pipeline.target]]
kind = "file"
path = "out/changes.jsonl"
[pipeline.apply]
lanes = 4
batch_max_rows = 500
batch_max_wait = "5ms"
checkpoint_interval = "50ms"
"#,
        src = source.url,
        dst = target.url,
        slot = source.name,
    )
}

/// Every column of every row as PostgreSQL prints it, ordered by key.
pub(crate) async fn dump(db: &TestDb, table: &str, order: &str) -> Vec<Vec<Option<String>>> {
    let cols: Vec<String> = db
        .client
        .query(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[&table],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let list = cols.iter().map(|c| format!("\"{c}\"::text")).collect::<Vec<_>>().join(", ");
    db.client
        .query(&format!("SELECT {list} FROM {table} ORDER BY {order}"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (0..cols.len()).map(|i| r.get::<_, Option<String>>(i)).collect())
        .collect()
}

const TYPES_DDL: &str = r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TYPE address AS (street text, zip int);
CREATE TABLE every_type (
  id int PRIMARY KEY,
  b bool, i2 int2, i4 int4, i8 int8,
  n numeric, n_scaled numeric(12,3), f4 float4, f8 float8,
  t text, vc varchar(10), ch char(5), by bytea,
  d date, tm time, ttz timetz, ts timestamp, tstz timestamptz, iv interval,
  u uuid, j json, jb jsonb,
  a_int int4[], a_text text[], a_num numeric[], a_2d int[][],
  m mood, dom posint, comp address, pt point
);
"#;

const TYPES_ROWS: &str = r#"
INSERT INTO every_type VALUES
 (1, true, -32768, -2147483648, -9223372036854775808,
  'NaN', 123456789.123, 'NaN', 'Infinity',
  '', 'x', 'ab', '\x',
  'infinity', '00:00:00', '00:00:00+00', '-infinity', 'infinity', '-178000000 years',
  '00000000-0000-0000-0000-000000000000', '{"a": [1, 2.50, "x"], "a": 1}', '{"b": null, "a": 1.0}',
  '{}', '{}', '{}', '{}',
  'sad', 1, ROW('Main St. "1"', 12345), '(1.5,-2)'),
 (2, false, 32767, 2147483647, 9223372036854775807,
  '-123456789012345678901234567890.123456789012345678901234567890', -0.001, '-Infinity', '-0',
  'unicode ✓ ünï "quotes" \backslash, tab	end', 'ten chars!', 'a', '\x00ff10',
  '0044-03-15 BC', '23:59:59.999999', '13:45:00.5-03:30', '1999-12-31 23:59:59.123456', '2024-02-29 11:45:00.000001+02', '1 year 2 mons -3 days +04:05:06.789',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '[]', '[{"nested": {"deep": true}}]',
  '{1,NULL,-3}', '{"a b","NULL",NULL,"q\"uote","back\\slash",""}', '{1.5,NaN,-0.00}', '{{1,2},{3,4}}',
  'happy', 2147483647, ROW(NULL, NULL), '(0,0)'),
 (4, true, 0, 0, 0, '0.1', 0, 1.17549435e-38, 2.2250738585072014e-308,
  repeat('long text ', 5000), '', '     ', decode(repeat('ab', 10000), 'hex'),
  '5874897-12-31', '24:00:00', '24:00:00-15:59', '294276-12-31 23:59:59.999999', '4713-01-01 00:00:00+00 BC', '-00:00:00.000001',
  'ffffffff-ffff-ffff-ffff-ffffffffffff', '"just a string"', '123',
  '{2147483647}', '{"ü","✓"}', '{99999999999999999999.99999999999}', '{{NULL,1}}',
  'ok', 7, ROW('', 0), '(1e+300,-1e-300)');
INSERT INTO every_type (id) VALUES (3);
"#;

#[test]
fn every_type_round_trips_through_snapshot_and_stream() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = fresh_db("e2e_types_src").await;
        s.client.batch_execute(TYPES_DDL).await.unwrap();
        s.client.batch_execute(TYPES_ROWS).await.unwrap();
        (s, fresh_db("e2e_types_dst").await)
    });
    let s = Scratch::new(&pg_to_pg_config(&source, &target, "\"public.every_type\"", ""));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "snapshot run failed: {}", text(&out.stderr));
    rt.block_on(async {
        assert_eq!(dump(&source, "every_type", "id").await, dump(&target, "every_type", "id").await, "after the snapshot");
        // The same values again, now through the stream (inserts and updates).
        source
            .client
            .batch_execute(
                "INSERT INTO every_type SELECT id + 100, b, i2, i4, i8, n, n_scaled, f4, f8, t, vc, ch, by, d, tm, ttz, ts, tstz, iv,
                        u, j, jb, a_int, a_text, a_num, a_2d, m, dom, comp, pt FROM every_type;
                 UPDATE every_type SET t = t || '!', i4 = coalesce(i4, 0) / 2 WHERE id < 100;
                 UPDATE every_type SET i2 = 5 WHERE id = 4; -- the TOASTed text and bytea are not re-sent
                 DELETE FROM every_type WHERE id = 103;",
            )
            .await
            .unwrap();
    });
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "stream run failed: {}", text(&out.stderr));
    rt.block_on(async {
        let (a, b) = (dump(&source, "every_type", "id").await, dump(&target, "every_type", "id").await);
        assert_eq!(a.len(), 7);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y, "row differs after streaming");
        }
        assert_eq!(a, b);
    });
}

/// Per key, within one run's stretch of the file, stream records carry a
/// strictly increasing `v` (the workload bumps it on every update).
fn assert_no_reordering(segments: &[Vec<logferry::record::Change>]) {
    for (n, seg) in segments.iter().enumerate() {
        let mut last: HashMap<i64, i64> = HashMap::new();
        for c in seg {
            if !matches!(c.op(), Op::Insert | Op::Update) {
                continue;
            }
            let row = c.after.as_ref().unwrap();
            let (Some(Kind::Int64(id)), Some(Kind::Int64(v))) =
                (row.get("id").and_then(|v| v.kind.clone()), row.get("v").and_then(|v| v.kind.clone()))
            else {
                panic!("unexpected row {row:?}")
            };
            if let Some(prev) = last.insert(id, v) {
                assert!(v > prev, "run {n}: key {id} applied v={v} after v={prev}");
            }
        }
    }
}

#[test]
fn sigkill_during_snapshot_and_streaming_loses_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = fresh_db("e2e_kill_src").await;
        s.client
            .batch_execute(
                "CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL, note text);
                 INSERT INTO items SELECT g, 0, 'seed ' || g FROM generate_series(1, 60000) g;",
            )
            .await
            .unwrap();
        (s, fresh_db("e2e_kill_dst").await)
    });
    let s = Scratch::new(&pg_to_pg_config(&source, &target, "\"items\"", "snapshot_chunk_rows = 500\nsnapshot_parallel = 1"));
    let file = s.path("out/changes.jsonl");

    // A workload of inserts, updates (v = v + 1) and deletes in transactions.
    let workload = Workload::spawn(&rt, &source.url, 99, |rng, n| {
        let next_id = 1_000_000 + 20 * n as i64;
        let base = rng.below(60_000) as i64;
        let new_rows = format!("SELECT g, 0, 'new' FROM generate_series({next_id}, {}) g", next_id + 19);
        crate::support::mixed_transaction("BEGIN", &new_rows, next_id, base)
    });

    let mut rng = Rng(7);
    let mut boundaries = Vec::new();
    let mut kills = 0;
    for round in 0..6 {
        // The first kill lands early, inside the snapshot.
        let wait = if round == 0 { 250 } else { 400 + rng.below(1200) };
        kills += u32::from(s.run_and_kill(Duration::from_millis(wait)));
        boundaries.push(std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0));
    }
    let txs = workload.stop(&rt);
    assert!(kills >= 5 && txs > 50, "kills {kills}, workload transactions {txs}");
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "final catch-up failed: {}", text(&out.stderr));

    rt.block_on(async {
        let (a, b) = (dump(&source, "items", "id").await, dump(&target, "items", "id").await);
        assert_eq!(a.len(), b.len(), "row counts differ");
        assert!(a == b, "target differs from source");
    });

    // Split the file into per-run stretches (a run starts where the last
    // one's output ended; a torn tail was cut off by the next run).
    let data = std::fs::read(&file).unwrap();
    let mut segments = Vec::new();
    let mut start = 0usize;
    for &end in boundaries.iter().chain(std::iter::once(&(data.len() as u64))) {
        let end = (end as usize).min(data.len());
        let end = data[..end].iter().rposition(|b| *b == b'\n').map_or(start, |i| i + 1).max(start);
        let seg: Vec<_> = data[start..end]
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| logferry::record::json::read_change(l).unwrap())
            .collect();
        segments.push(seg);
        start = end;
    }
    assert_no_reordering(&segments);
    let _ = read_json_lines;
}

/// Peak resident memory of a running process, sampled.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_one_million_row_transaction_replicates_with_flat_memory() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = fresh_db("e2e_big_src").await;
        s.client.batch_execute("CREATE TABLE big (id int PRIMARY KEY, v int, pad text)").await.unwrap();
        (s, fresh_db("e2e_big_dst").await)
    });
    let s = Scratch::new(&pg_to_pg_config(&source, &target, "\"big\"", ""));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    rt.block_on(async {
        source
            .client
            .batch_execute("INSERT INTO big SELECT g, g, 'padding padding padding' FROM generate_series(1, 1000000) g")
            .await
            .unwrap();
    });
    let mut child = s.spawn(&["run", "--once"]);
    let pid = child.id();
    let mut peak = 0;
    let deadline = Instant::now() + Duration::from_secs(600);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        peak = peak.max(rss_kib(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let n: i64 = rt.block_on(async { target.client.query_one("SELECT count(*) FROM big", &[]).await.unwrap().get(0) });
    assert_eq!(n, 1_000_000);
    // The queues hold at most 100k records / 32 MiB of memory; holding the whole
    // transaction would need several hundred MiB.
    assert!(peak < 300 * 1024, "peak RSS {} MiB while replicating a 1M-row transaction: memory is not bounded", peak / 1024);
}

#[test]
fn added_columns_reach_the_target_and_type_changes_stop_with_the_column_named() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = fresh_db("e2e_ddl_src").await;
        s.client.batch_execute("CREATE TABLE t (id int PRIMARY KEY, a text); INSERT INTO t VALUES (1, 'one');").await.unwrap();
        (s, fresh_db("e2e_ddl_dst").await)
    });
    let s = Scratch::new(&pg_to_pg_config(&source, &target, "\"t\"", ""));
    assert!(s.run(&["run", "--once"]).status.success());
    rt.block_on(async {
        source
            .client
            .batch_execute(
                "ALTER TABLE t ADD COLUMN price numeric(8,2), ADD COLUMN tags text[];
                 INSERT INTO t VALUES (2, 'two', 9.99, '{x,y}');
                 UPDATE t SET price = 1.50 WHERE id = 1;",
            )
            .await
            .unwrap();
    });
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    rt.block_on(async {
        assert_eq!(dump(&source, "t", "id").await, dump(&target, "t", "id").await);
        let ty: String = target
            .client
            .query_one("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'price'", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(ty, "numeric(8,2)");
        source.client.batch_execute("ALTER TABLE t ALTER COLUMN a TYPE int USING length(a); INSERT INTO t VALUES (3, 3);").await.unwrap();
    });
    let out = s.run(&["run", "--once"]);
    assert_eq!(out.status.code(), Some(1), "a changed column type must stop the run");
    let err = text(&out.stderr);
    assert!(err.contains("\"t\"") && err.contains("\"a\""), "the error names table and column: {err}");
    // Nothing after the failed change was applied or checkpointed: the row is not there.
    rt.block_on(async {
        let n: i64 = target.client.query_one("SELECT count(*) FROM t WHERE id = 3", &[]).await.unwrap().get(0);
        assert_eq!(n, 0);
    });
}

#[test]
fn check_lists_every_problem_with_its_fix_and_says_ready_when_fixed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Roles are cluster-wide: a name of this process's own.
    let role = format!("lf_check_{}", std::process::id());
    let (source, target) = rt.block_on(async {
        let s = fresh_db("e2e_check_src").await;
        s.client
            .batch_execute(&format!(
                "CREATE TABLE ok (id int PRIMARY KEY); CREATE TABLE nokey (v int);
                 CREATE ROLE {role} LOGIN PASSWORD 'pw'; GRANT SELECT ON ok TO {role};"
            ))
            .await
            .unwrap();
        (s, fresh_db("e2e_check_dst").await)
    });
    let config = pg_to_pg_config(&source, &target, "\"ok\", \"nokey\", \"missing\"", "")
        .replacen("postgres:logferry-test@", &format!("{role}:pw@"), 1);
    let s = Scratch::new(&config);
    let out = s.run(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let report = text(&out.stdout);
    for expected in ["WITH REPLICATION".to_string(), "no table matches `missing`".into(), "\"public\".\"nokey\"".into(), format!("GRANT SELECT ON \"public\".\"nokey\" TO \"{role}\"")] {
        assert!(report.contains(&expected), "missing {expected:?} in:\n{report}");
    }
    assert!(!report.contains(":pw@") && !text(&out.stderr).contains(":pw@"), "no password in the report");
    rt.block_on(async {
        source
            .client
            .batch_execute(&format!("ALTER ROLE {role} WITH REPLICATION; ALTER TABLE nokey ADD PRIMARY KEY (v); GRANT SELECT ON nokey TO {role};"))
            .await
            .unwrap();
    });
    let s = Scratch::new(&config.replace(", \"missing\"", ""));
    let out = s.run(&["check"]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("ready; 2 table(s)"), "{}", text(&out.stdout));
    rt.block_on(async {
        let _ = source.client.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}")).await;
    });
}

/// PostgreSQL → MariaDB through the real binary, for the PostgreSQL types
/// that have a MariaDB mapping (see src/sinks/mysql/mod.rs): copy and
/// stream, checked with SQL on the MariaDB side.
#[test]
fn postgres_types_reach_mariadb() {
    // (column, PostgreSQL type, PostgreSQL literal, MariaDB expression over `{c}`, expected text)
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        ("i4", "integer", "-2147483648", "{c}", "-2147483648"),
        ("i8", "bigint", "9223372036854775807", "{c}", "9223372036854775807"),
        ("n", "numeric(12,2)", "1234.50", "{c}", "1234.50"),
        ("r", "real", "1.5", "{c}", "1.5"),
        ("d", "double precision", "0.1", "{c}", "0.1"),
        ("b", "boolean", "true", "{c}", "1"),
        ("t", "text", "'héllo ✓'", "{c}", "héllo ✓"),
        ("vc", "varchar(10)", "'abc'", "{c}", "abc"),
        ("by", "bytea", "'\\x00ff10'", "HEX({c})", "00FF10"),
        ("dt", "date", "'2024-02-29'", "{c}", "2024-02-29"),
        ("ts", "timestamp(6)", "'2024-02-29 13:45:00.123456'", "{c}", "2024-02-29 13:45:00.123456"),
        ("tz", "timestamptz", "'2024-02-29 13:45:00.5+02'", "{c}", "2024-02-29 11:45:00.500000"),
        ("tm", "time", "'13:45:00'", "{c}", "13:45:00.000000"),
        ("u", "uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "{c}", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        ("j", "jsonb", "'{\"a\": [1, \"x\"]}'", "JSON_EXTRACT({c}, '$.a[1]')", "\"x\""),
        ("arr", "integer[]", "'{1,2,3}'", "JSON_EXTRACT({c}, '$[2]')", "3"),
        ("m", "mood", "'happy'", "{c}", "happy"),
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cols = cases.iter().map(|(c, t, ..)| format!("{c} {t}")).collect::<Vec<_>>().join(", ");
    let names = cases.iter().map(|(c, ..)| c.to_string()).collect::<Vec<_>>().join(", ");
    let values = cases.iter().map(|(_, _, v, ..)| v.to_string()).collect::<Vec<_>>().join(", ");
    let (source, target) = rt.block_on(async {
        let s = fresh_db("e2e_pg2my_src").await;
        s.client
            .batch_execute(&format!(
                "CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE TABLE items (id int PRIMARY KEY, {cols});
                 INSERT INTO items (id, {names}) VALUES (1, {values}); INSERT INTO items (id) VALUES (2);"
            ))
            .await
            .unwrap();
        (s, crate::support::mariadb::fresh_db("e2e_pg2my_dst").await)
    });
    let config = format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "pg2my"
[pipeline.source]
kind = "postgres"
url = "{src}"
tables = ["items"]
slot = "{slot}"
publication = "{slot}"
[[pipeline.target]]
kind = "mysql"
url = "{dst}"
"#,
        src = source.url,
        slot = source.name,
        dst = target.url,
    );
    let s = Scratch::new(&config);
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "copy failed: {}", text(&out.stderr));
    rt.block_on(async {
        source
            .client
            .batch_execute(&format!("INSERT INTO items (id, {names}) VALUES (3, {values}); UPDATE items SET i4 = 7 WHERE id = 2;"))
            .await
            .unwrap();
    });
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "streaming failed: {}", text(&out.stderr));
    rt.block_on(async {
        for id in [1, 3] {
            for (col, ty, _, expr, want) in cases {
                let sql = format!("SELECT {} FROM items WHERE id = {id}", expr.replace("{c}", &format!("`{col}`")));
                let got = target.rows(&sql).await;
                assert_eq!(got, vec![vec![Some(want.to_string())]], "row {id}, column {col} ({ty}): {sql}");
            }
        }
        let nulls = target.rows("SELECT i4, t FROM items WHERE id = 2").await;
        assert_eq!(nulls, vec![vec![Some("7".to_string()), None]]);
    });
}

/// Arrays whose lower bounds are not 1 keep them, through the snapshot and
/// the stream, one- and multi-dimensional (compared by `array_lower` and
/// the text cast, which prints the bounds); the canonical JSON carries them.
#[test]
fn arrays_keep_their_bounds_through_snapshot_and_stream() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = fresh_db("e2e_bounds_src").await;
        s.client
            .batch_execute(
                "CREATE TABLE arrs (id int PRIMARY KEY, a int[], b int[], c text[]);
                 INSERT INTO arrs VALUES
                   (1, '[0:2]={7,8,9}', '[2:3][1:2]={{1,2},{3,4}}', '[-1:0]={\"x y\",NULL}'),
                   (2, '{1,2}', '[1:1][-5:-4]={{5,6}}', '{}');",
            )
            .await
            .unwrap();
        (s, fresh_db("e2e_bounds_dst").await)
    });
    let s = Scratch::new(&pg_to_pg_config(&source, &target, "\"public.arrs\"", ""));
    let out = s.run(&["run", "--once"]);
    assert!(
        out.status.success(),
        "snapshot run failed: {}",
        text(&out.stderr)
    );
    let probe = "SELECT id, a::text, b::text, c::text, array_lower(a, 1), array_lower(b, 1), array_lower(b, 2), array_lower(c, 1) FROM arrs ORDER BY id";
    rt.block_on(async {
        let want = crate::support::pg::rows(&source, probe).await;
        assert_eq!(
            want[0], "1|[0:2]={7,8,9}|[2:3][1:2]={{1,2},{3,4}}|[-1:0]={\"x y\",NULL}|0|2|1|-1",
            "the source holds what the test means"
        );
        assert_eq!(
            crate::support::pg::rows(&target, probe).await,
            want,
            "after the snapshot"
        );
        source
            .client
            .batch_execute(
                "INSERT INTO arrs VALUES (3, '[5:6]={1,2}', '[0:0][0:1]={{3,4}}', '[2:2]={z}');
                 UPDATE arrs SET a = '[-3:-2]={10,11}' WHERE id = 2;",
            )
            .await
            .unwrap();
    });
    let out = s.run(&["run", "--once"]);
    assert!(
        out.status.success(),
        "stream run failed: {}",
        text(&out.stderr)
    );
    rt.block_on(async {
        let want = crate::support::pg::rows(&source, probe).await;
        assert_eq!(
            crate::support::pg::rows(&target, probe).await,
            want,
            "after the stream"
        );
    });
    let records = read_json_lines(&s.path("out/changes.jsonl"));
    let inserted = records
        .iter()
        .find(|c| {
            c.op() == Op::Insert
                && c.after
                    .as_ref()
                    .and_then(|r| r.get("id"))
                    .and_then(|v| v.kind.clone())
                    == Some(Kind::Int64(3))
        })
        .expect("the streamed insert in the file");
    match inserted
        .after
        .as_ref()
        .and_then(|r| r.get("b"))
        .and_then(|v| v.kind.clone())
    {
        Some(Kind::Array(a)) => assert_eq!(a.lower_bounds, [0, 0], "{a:?}"),
        other => panic!("b: expected an array, got {other:?}"),
    }
}
