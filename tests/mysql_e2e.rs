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
            let sql = format!(
                "START TRANSACTION;
                 INSERT INTO items SELECT seq, 0, 'new' FROM seq_{next_id}_to_{};
                 UPDATE items SET v = v + 1, note = 'upd' WHERE id BETWEEN {base} AND {} OR id BETWEEN {} AND {};
                 DELETE FROM items WHERE id IN ({}, {});
                 COMMIT;",
                next_id + 19,
                base + 40,
                next_id - 200,
                next_id - 150,
                base + 50,
                next_id - 300,
            );
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
        let mut child = s.spawn(&["run"]);
        let wait = if round == 0 { 200 } else { 400 + rng.below(1200) };
        std::thread::sleep(Duration::from_millis(wait));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.code().is_none() || out.status.success(), "run failed: {}", text(&out.stderr));
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
