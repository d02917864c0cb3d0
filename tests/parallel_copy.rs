//! The initial copy of big tables in primary-key ranges read by several
//! readers at once (`snapshot_parallel`), through the real binary: killed
//! (SIGKILL) at random points while a workload writes, it resumes range by
//! range and the target ends equal to the source.

use crate::postgres_e2e::{dump, pg_to_pg_config};
use crate::support::binary::{read_json_lines, text, Scratch};
use crate::support::pg::{fresh_db, Workload};
use crate::support::Rng;
use logferry::record::{value::Kind, Op};
use std::time::Duration;

const BIG_ROWS: i64 = 300_000;
const PAIR_ROWS: i64 = 120_000;

#[test]
fn a_parallel_range_copy_killed_at_random_points_ends_equal_to_the_source() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (source, target) = rt.block_on(async {
        let s = fresh_db("range_copy_src").await;
        s.client
            .batch_execute(&format!(
                "CREATE TABLE big (id bigint PRIMARY KEY, v int NOT NULL, note text);
                 INSERT INTO big SELECT g, 0, 'seed ' || g FROM generate_series(1, {BIG_ROWS}) g;
                 -- a two-column key with text first: ranges bound on both columns
                 CREATE TABLE pairs (a text, b int, v int NOT NULL, PRIMARY KEY (a, b));
                 INSERT INTO pairs SELECT 'k' || (g % 97), g, 0 FROM generate_series(1, {PAIR_ROWS}) g;
                 ANALYZE big; ANALYZE pairs;"
            ))
            .await
            .unwrap();
        (s, fresh_db("range_copy_dst").await)
    });
    let s = Scratch::new(&pg_to_pg_config(
        &source,
        &target,
        "\"big\", \"pairs\"",
        "snapshot_chunk_rows = 2000\nsnapshot_parallel = 4",
    ));

    // Inserts, updates and deletes across the key space while the copy runs.
    let workload = Workload::spawn(&rt, &source.url, 31, |rng, n| {
        let next_id = 10_000_000 + 10 * n as i64;
        let base = rng.below(BIG_ROWS as u64) as i64;
        let pair = rng.below(PAIR_ROWS as u64) as i64;
        format!(
            "BEGIN;
             INSERT INTO big SELECT g, 0, 'new' FROM generate_series({next_id}, {}) g;
             UPDATE big SET v = v + 1, note = 'upd' WHERE id BETWEEN {base} AND {};
             DELETE FROM big WHERE id IN ({}, {});
             UPDATE pairs SET v = v + 1 WHERE b BETWEEN {pair} AND {};
             DELETE FROM pairs WHERE b = {};
             COMMIT;",
            next_id + 9,
            base + 30,
            base + 40,
            next_id - 5,
            pair + 20,
            pair + 25,
        )
    });

    let file = s.path("out/changes.jsonl");
    let mut rng = Rng(2026);
    let mut kills = 0;
    let mut resumed_in_ranges = false;
    let mut first_run_bytes = 0;
    for round in 0..6 {
        // The first kills land inside the copy, the later ones anywhere.
        let wait = if round < 2 { 900 + rng.below(600) } else { 300 + rng.below(1500) };
        kills += u32::from(s.run_and_kill(Duration::from_millis(wait)));
        if round == 0 {
            first_run_bytes = std::fs::metadata(&file).map_or(0, |m| m.len() as usize);
        }
        let status = s.run(&["status"]);
        resumed_in_ranges |= text(&status.stdout).contains("key ranges");
    }
    let txs = workload.stop(&rt);
    assert!(kills >= 4 && txs > 50, "kills {kills}, workload transactions {txs}");
    assert!(resumed_in_ranges, "no checkpoint taken mid-copy recorded key ranges: the copy was not split, or every kill missed it");
    let out = s.run(&["run", "--once"]);
    assert!(out.status.success(), "final catch-up failed: {}", text(&out.stderr));

    rt.block_on(async {
        for (table, order) in [("big", "id"), ("pairs", "a, b")] {
            let (a, b) = (dump(&source, table, order).await, dump(&target, table, order).await);
            assert_eq!(a.len(), b.len(), "{table}: row counts differ");
            assert!(a == b, "{table}: target differs from source");
        }
    });

    // Ranges were read at the same time: chunks of different ranges of
    // `big` interleave in the output, so its copied ids go back down by more
    // than a chunk somewhere (one reader would emit them in key order).
    // Only the first run's whole lines: a resumed run starts again below
    // where the last one stopped.
    let data = std::fs::read(&file).unwrap();
    let end = data[..first_run_bytes.min(data.len())].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let first = s.path("first-run.jsonl");
    std::fs::write(&first, &data[..end]).unwrap();
    let ids: Vec<i64> = read_json_lines(&first)
        .iter()
        .filter(|c| c.op() == Op::SnapshotRead && c.table.as_ref().is_some_and(|t| t.name == "big"))
        .map(|c| match c.after.as_ref().and_then(|r| r.get("id")).and_then(|v| v.kind.clone()) {
            Some(Kind::Int64(id)) => id,
            other => panic!("unexpected id {other:?}"),
        })
        .collect();
    let back = ids.windows(2).filter(|w| w[1] + 2000 < w[0]).count();
    assert!(back > 0, "copied ids of `big` in one run only ever rose: the ranges were not read in parallel ({} ids)", ids.len());
}
