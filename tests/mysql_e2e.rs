//! MariaDB → PostgreSQL through the real binary: SIGKILL at random points
//! during copy and binlog streaming loses nothing and never reorders a key.

use crate::support::binary::{text, Scratch};
use crate::support::Rng;
use crate::support::{mariadb, pg};
use mysql_async::prelude::Queryable;
use std::time::Duration;

fn mariadb_to_pg_config(source: &mariadb::TestDb, target: &pg::TestDb, server_id: u32) -> String {
    format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "my2pg"
[pipeline.source]
kind = "mysql"
url = "{src}"
tables = ["{db}.items"]
server_id = {server_id}
snapshot_chunk_rows = 500
heartbeat_interval = "500ms"
[[pipeline.target]]
kind = "postgres"
url = "{dst}"
schema = "public"
[pipeline.apply]
lanes = 4
batch_max_rows = 500
batch_max_wait = "5ms"
checkpoint_interval = "50ms"
"#,
        src = source.url,
        db = source.name,
        dst = target.url,
    )
}

#[test]
fn sigkill_during_copy_and_binlog_streaming_loses_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = mariadb::fresh_db("my_kill_src").await;
        s.exec(
            "CREATE TABLE items (id BIGINT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40));
             INSERT INTO items SELECT seq, 0, CONCAT('seed ', seq) FROM seq_1_to_40000;",
        )
        .await;
        (s, pg::fresh_db("my_kill_dst").await)
    });
    let s = Scratch::new(&mariadb_to_pg_config(&source, &target, 4_100_000_000 + std::process::id() % 1000));

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let url = source.url.clone();
    let workload = rt.spawn(async move {
        let mut conn = mysql_async::Conn::from_url(url.as_str()).await.unwrap();
        let mut rng = Rng(5);
        let mut next_id = 1_000_000i64;
        let mut txs = 0;
        while !*stop_rx.borrow_and_update() {
            let base = rng.below(40_000) as i64;
            let new_rows = format!("SELECT seq, 0, 'new' FROM seq_{next_id}_to_{}", next_id + 19);
            let sql = crate::support::mixed_transaction("START TRANSACTION", &new_rows, next_id, base);
            conn.query_drop(sql).await.unwrap();
            next_id += 20;
            txs += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        txs
    });

    let mut rng = Rng(11);
    let mut kills = 0;
    for round in 0..6 {
        // The first kill lands early, inside the copy.
        let wait = if round == 0 { 200 } else { 400 + rng.below(1200) };
        kills += u32::from(s.run_and_kill(Duration::from_millis(wait)));
    }
    stop_tx.send(true).unwrap();
    let txs = rt.block_on(workload).unwrap();
    assert!(kills >= 5 && txs > 50, "kills {kills}, workload transactions {txs}");
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "final catch-up failed: {}", text(&out.stderr));

    rt.block_on(async {
        let want = source.rows("SELECT CAST(id AS CHAR), CAST(v AS CHAR), note FROM items ORDER BY id").await;
        let got: Vec<Vec<Option<String>>> = target
            .client
            .query("SELECT id::text, v::text, note FROM public.items ORDER BY items.id", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (0..3).map(|i| r.get::<_, Option<String>>(i)).collect())
            .collect();
        assert_eq!(want.len(), got.len(), "row counts differ");
        let diffs: Vec<_> = want.iter().zip(&got).filter(|(a, b)| a != b).take(5).collect();
        assert!(diffs.is_empty(), "target differs from source, e.g. {diffs:?}");
    });
}

/// (column, MariaDB type, MariaDB literal, PostgreSQL text of the landed value).
const MARIADB_TYPES: &[(&str, &str, &str, &str)] = &[
    ("ti", "TINYINT", "-128", "-128"),
    ("tu", "TINYINT UNSIGNED", "255", "255"),
    ("si", "SMALLINT", "-32768", "-32768"),
    ("su", "SMALLINT UNSIGNED", "65535", "65535"),
    ("mi", "MEDIUMINT", "-8388608", "-8388608"),
    ("mu", "MEDIUMINT UNSIGNED", "16777215", "16777215"),
    ("i", "INT", "-2147483648", "-2147483648"),
    ("iu", "INT UNSIGNED", "4294967295", "4294967295"),
    ("bi", "BIGINT", "-9223372036854775808", "-9223372036854775808"),
    ("bu", "BIGINT UNSIGNED", "18446744073709551615", "18446744073709551615"),
    ("d", "DECIMAL(10,2)", "-12345678.90", "-12345678.90"),
    ("f", "FLOAT", "1.5", "1.5"),
    ("db", "DOUBLE", "0.1", "0.1"),
    ("bt", "BIT(10)", "b'1010101010'", "1010101010"),
    ("c", "CHAR(3)", "'ab'", "ab"),
    ("vc", "VARCHAR(20)", "'héllo € ✓'", "héllo € ✓"),
    ("l1", "VARCHAR(20) CHARACTER SET latin1", "'Grüße €'", "Grüße €"),
    ("tx", "TEXT", "'two\\nlines'", "two\nlines"),
    ("bn", "BINARY(4)", "x'00ff1020'", "\\x00ff1020"),
    ("vb", "VARBINARY(10)", "x''", "\\x"),
    ("bl", "BLOB", "x'deadbeef'", "\\xdeadbeef"),
    ("dt", "DATE", "'2024-02-29'", "2024-02-29"),
    ("tm", "TIME(6)", "'-838:59:59.000000'", "-838:59:59"),
    ("tp", "TIME", "'100:00:01'", "100:00:01"),
    ("dtm", "DATETIME(6)", "'2024-02-29 13:45:00.123456'", "2024-02-29 13:45:00.123456"),
    ("ts", "TIMESTAMP(6) NULL", "'2024-02-29 13:45:00.5'", "2024-02-29 13:45:00.5+00"),
    ("yr", "YEAR", "2024", "2024"),
    ("en", "ENUM('a','b c')", "'b c'", "b c"),
    ("st", "SET('x','y','z')", "'x,z'", "{x,z}"),
    ("js", "JSON", "'{\"a\": [1, 2.5, \"ü\"]}'", "{\"a\": [1, 2.5, \"ü\"]}"),
];

/// Every MariaDB type, through the copy and through the binlog, lands in
/// PostgreSQL with the mapped type and the exact value (checked with SQL on
/// the target against what PostgreSQL prints for the expected value).
#[test]
fn every_mariadb_type_reaches_postgresql_exactly() {
    let cases = MARIADB_TYPES;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cols = cases.iter().map(|(c, t, _, _)| format!("`{c}` {t}")).collect::<Vec<_>>().join(", ");
    let names = cases.iter().map(|(c, ..)| format!("`{c}`")).collect::<Vec<_>>().join(", ");
    let values = cases.iter().map(|(_, _, v, _)| v.to_string()).collect::<Vec<_>>().join(", ");
    let (source, target) = rt.block_on(async {
        let s = mariadb::fresh_db("my_types_src").await;
        s.exec(&format!("CREATE TABLE items (id INT PRIMARY KEY, {cols}) CHARACTER SET utf8mb4")).await;
        s.exec(&format!("SET time_zone = '+00:00'; INSERT INTO items (id, {names}) VALUES (1, {values}); INSERT INTO items (id) VALUES (2)")).await;
        (s, pg::fresh_db("my_types_dst").await)
    });
    let s = Scratch::new(&mariadb_to_pg_config(&source, &target, 4_100_001_000 + std::process::id() % 1000));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "copy failed: {}", text(&out.stderr));
    // The same values again through the binlog.
    rt.block_on(source.exec(&format!(
        "SET time_zone = '+00:00'; INSERT INTO items (id, {names}) VALUES (3, {values}); UPDATE items SET i = 7 WHERE id = 2"
    )));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "streaming failed: {}", text(&out.stderr));
    rt.block_on(async {
        for id in [1, 3] {
            for (col, ty, _, want) in cases {
                let got: Option<String> = target
                    .client
                    .query_one(&format!("SELECT \"{col}\"::text FROM public.items WHERE id = $1"), &[&id])
                    .await
                    .unwrap()
                    .get(0);
                assert_eq!(got.as_deref(), Some(*want), "row {id}, column {col} ({ty})");
            }
        }
        let nulls: i64 = target
            .client
            .query_one("SELECT count(*) FROM public.items WHERE id = 2 AND i = 7 AND ti IS NULL AND js IS NULL", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(nulls, 1, "the NULL row and its update");
    });
}

/// The same types MariaDB → MariaDB: the target prints exactly what the
/// source prints, after the copy and after streaming.
#[test]
fn every_mariadb_type_round_trips_to_mariadb() {
    let cases = MARIADB_TYPES;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cols = cases.iter().map(|(c, t, _, _)| format!("`{c}` {t}")).collect::<Vec<_>>().join(", ");
    let names = cases.iter().map(|(c, ..)| format!("`{c}`")).collect::<Vec<_>>().join(", ");
    let values = cases.iter().map(|(_, _, v, _)| v.to_string()).collect::<Vec<_>>().join(", ");
    let (source, target) = rt.block_on(async {
        let s = mariadb::fresh_db("my2my_src").await;
        s.exec(&format!("CREATE TABLE items (id INT PRIMARY KEY, {cols}) CHARACTER SET utf8mb4")).await;
        s.exec(&format!("SET time_zone = '+00:00'; INSERT INTO items (id, {names}) VALUES (1, {values}); INSERT INTO items (id) VALUES (2)")).await;
        (s, mariadb::fresh_db("my2my_dst").await)
    });
    let config = format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "my2my"
[pipeline.source]
kind = "mysql"
url = "{src}"
tables = ["{db}.items"]
server_id = {id}
[[pipeline.target]]
kind = "mysql"
url = "{dst}"
[pipeline.apply]
lanes = 2
"#,
        src = source.url,
        db = source.name,
        id = 4_100_002_000 + std::process::id() % 1000,
        dst = target.url,
    );
    let s = Scratch::new(&config);
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "copy failed: {}", text(&out.stderr));
    rt.block_on(source.exec(&format!(
        "SET time_zone = '+00:00'; INSERT INTO items (id, {names}) VALUES (3, {values}); UPDATE items SET i = 7 WHERE id = 2; DELETE FROM items WHERE id = 1"
    )));
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "streaming failed: {}", text(&out.stderr));
    rt.block_on(async {
        let q = "SELECT * FROM items ORDER BY id";
        let (a, b) = (source.rows(q).await, target.rows(q).await);
        assert_eq!(a.len(), 2);
        assert_eq!(a, b, "MariaDB target differs from the source");
    });
}

/// Geometry and zero dates MariaDB → MariaDB (zero dates are a documented
/// value; PostgreSQL cannot hold them, MariaDB can).
#[test]
fn geometry_and_zero_dates_round_trip_to_mariadb() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = mariadb::fresh_db("my2my_geo_src").await;
        s.exec(
            "SET sql_mode = '';
             CREATE TABLE items (id INT PRIMARY KEY, p POINT, g GEOMETRY, d DATE, dt DATETIME, ts TIMESTAMP NULL);
             INSERT INTO items VALUES (1, ST_PointFromText('POINT(1.5 -2)'), ST_GeomFromText('LINESTRING(0 0, 1 1, 2 0)'),
                                       '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00');",
        )
        .await;
        (s, mariadb::fresh_db("my2my_geo_dst").await)
    });
    let config = format!(
        r#"
state_dir = "state"
[[pipeline]]
name = "geo"
[pipeline.source]
kind = "mysql"
url = "{src}"
tables = ["{db}.items"]
server_id = {id}
[[pipeline.target]]
kind = "mysql"
url = "{dst}"
"#,
        src = source.url,
        db = source.name,
        id = 4_100_003_000 + std::process::id() % 1000,
        dst = target.url,
    );
    let s = Scratch::new(&config);
    let first = s.run(&["run", "--once"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    rt.block_on(source.exec(
        "SET sql_mode = ''; INSERT INTO items VALUES (2, ST_PointFromText('POINT(3 4)'), ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'), '0000-00-00', NULL, NULL);",
    ));
    let second = s.run(&["run", "--once"]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    rt.block_on(async {
        let q = "SELECT id, ST_AsText(p), ST_AsText(g), CAST(d AS CHAR), CAST(dt AS CHAR), CAST(ts AS CHAR) FROM items ORDER BY id";
        let (a, b) = (source.rows(q).await, target.rows(q).await);
        assert_eq!(a.len(), 2);
        assert_eq!(a, b, "first run:\n{}\nsecond run:\n{}", text(&first.stderr), text(&second.stderr));
    });
}
