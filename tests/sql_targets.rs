//! What both SQL targets (PostgreSQL and MariaDB) do alike, as one table of
//! cases run against each dialect: every case is a function of the
//! dialect, and [`cases!`] makes one `#[tokio::test]` per case and dialect
//! (`sql_targets::postgres::<case>`, `sql_targets::mysql::<case>`), so they
//! show and run separately. Each gets its own fresh database through the
//! adapter in tests/support/sql_target.rs, builds `Change` records by hand,
//! applies them through `Sink::apply` and checks the target with SQL.
//! Where the dialects legitimately differ (catalog type names, server
//! error codes, the fix an error names) the case says so per dialect.
//! Behaviour only one target has lives in postgres_sink.rs / mysql_sink.rs.

use crate::support::shop::*;
use crate::support::records::{apply, row};
use crate::support::sql_target::{Dialect, TargetDb};
use logferry::record::{value::Kind, Change, Document, Op, Value};
use logferry::sinks::{Batch, Sink};
use std::sync::Arc;

/// One `#[tokio::test]` per case and dialect.
macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::Dialect::Postgres).await
            })*
        }
        mod mysql {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::Dialect::Mysql).await
            })*
        }
    };
}

cases!(
    upserts_deletes_and_replays_are_idempotent,
    composite_keys,
    unchanged_never_overwrites_a_stored_value,
    key_changes_move_the_row_and_replay_cleanly,
    truncate_and_control_records,
    schema_changes_add_columns_and_refuse_type_changes_and_drops,
    without_create_tables_no_ddl_runs,
    definite_errors_leave_nothing_half_applied,
    wrong_password_is_definite_and_not_echoed,
    lanes_apply_in_parallel,
    many_batches_of_upserts_on_one_lane,
);

async fn fresh(dialect: Dialect, case: &str) -> TargetDb {
    TargetDb::fresh(dialect, &format!("sql_{}_{case}", dialect.name())).await
}

async fn upserts_deletes_and_replays_are_idempotent(dialect: Dialect) {
    let db = fresh(dialect, "idem").await;
    let s = db.sink(1).await;
    apply(&*s, vec![simple_ddl("t")]).await.unwrap();
    let batch = vec![
        ins("t", simple(1, "a", 1)),
        ins("t", simple(2, "b", 2)),
        ins("t", simple(3, "c", 3)),
        upd("t", simple(1, "a2", 10)),
        del("t", 2),
        upd("t", simple(3, "c2", 30)),
        upd("t", simple(3, "c3", 31)),
        del("t", 99),
        ins("t", simple(4, "d", 4)),
        del("t", 4),
        ins("t", simple(4, "d2", 40)),
    ];
    apply(&*s, batch.clone()).await.unwrap();
    let want = ["1|a2|10", "3|c3|31", "4|d2|40"];
    assert_eq!(db.rows("SELECT id, v, n FROM t ORDER BY id").await, want);
    // Replaying the same batch changes nothing.
    apply(&*s, batch.clone()).await.unwrap();
    assert_eq!(db.rows("SELECT id, v, n FROM t ORDER BY id").await, want);
    // The same records one per batch give the same state.
    apply(&*s, vec![truncate("t")]).await.unwrap();
    assert_eq!(db.rows("SELECT count(*) FROM t").await, ["0"]);
    for c in batch {
        apply(&*s, vec![c]).await.unwrap();
    }
    assert_eq!(db.rows("SELECT id, v, n FROM t ORDER BY id").await, want);
    // Delete by key; deleting what is not there is fine.
    apply(&*s, vec![del("t", 1), del("t", 1), del("t", 12345)]).await.unwrap();
    assert_eq!(db.rows("SELECT id FROM t ORDER BY id").await, ["3", "4"]);
    // Keys that differ only in case or trailing spaces stay distinct rows.
    apply(&*s, vec![ddl("public", "s", &[("k", "text", false), ("v", "integer", true)], &["k"])]).await.unwrap();
    let sk = |k: &str, n: i64| change(Op::Insert, "public", "s", &["k"], None, row(vec![("k", Value::text(k)), ("v", Value::int64(n))]));
    apply(&*s, vec![sk("a", 1), sk("A", 2), sk("a ", 3), sk("ä", 4)]).await.unwrap();
    assert_eq!(db.rows("SELECT count(*) FROM s").await, ["4"]);
}

async fn composite_keys(dialect: Dialect) {
    let db = fresh(dialect, "ck").await;
    let s = db.sink(1).await;
    let key = ["region", "id"];
    apply(&*s, vec![ddl("public", "ck", &[("region", "text", false), ("id", "integer", false), ("v", "text", true)], &key)]).await.unwrap();
    let r = |region: &str, id: i64, val: &str| row(vec![("region", Value::text(region)), ("id", Value::int64(id)), ("v", Value::text(val))]);
    let k = |region: &str, id: i64| row(vec![("region", Value::text(region)), ("id", Value::int64(id))]);
    apply(
        &*s,
        vec![
            change(Op::Insert, "public", "ck", &key, None, r("eu", 1, "a")),
            change(Op::Insert, "public", "ck", &key, None, r("us", 1, "b")),
            change(Op::Insert, "public", "ck", &key, None, r("eu", 2, "c")),
            change(Op::Update, "public", "ck", &key, None, r("us", 1, "b2")),
            change(Op::Delete, "public", "ck", &key, k("eu", 1), None),
        ],
    )
    .await
    .unwrap();
    assert_eq!(db.rows("SELECT region, id, v FROM ck ORDER BY 1, 2").await, ["eu|2|c", "us|1|b2"]);
    assert_eq!(db.primary_key("public", "ck").await, ["region", "id"], "the primary key in the source's key order");
}

async fn unchanged_never_overwrites_a_stored_value(dialect: Dialect) {
    let db = fresh(dialect, "toast").await;
    let s = db.sink(1).await;
    apply(&*s, vec![ddl("public", "doc", &[("id", "bigint", false), ("body", "text", true), ("n", "integer", true), ("must", "text", false)], &["id"])])
        .await
        .unwrap();
    let big = "x".repeat(100_000);
    let doc = |id: i64, body: Value, n: i64, must: Value| ins("doc", vec![("id", Value::int64(id)), ("body", body), ("n", Value::int64(n)), ("must", must)]);
    apply(&*s, vec![doc(1, Value::text(big.clone()), 1, Value::text("m1")), doc(2, Value::text("small"), 1, Value::text("m2"))]).await.unwrap();
    // Updates that did not send body (nullable) keep it (on MariaDB: the upsert path).
    let mut u0 = doc(1, Value::unchanged(), 5, Value::text("m1"));
    u0.op = Op::Update as i32;
    apply(&*s, vec![u0]).await.unwrap();
    assert_eq!(db.rows("SELECT id, length(body), n, must FROM doc ORDER BY id").await, ["1|100000|5|m1", "2|5|1|m2"]);
    // ... and NOT NULL `must` too (on MariaDB: the row-by-row update path). Replay is harmless.
    let mut u1 = doc(1, Value::unchanged(), 2, Value::unchanged());
    u1.op = Op::Update as i32;
    apply(&*s, vec![u1.clone()]).await.unwrap();
    apply(&*s, vec![u1]).await.unwrap();
    assert_eq!(db.rows("SELECT id, length(body), n, must FROM doc ORDER BY id").await, ["1|100000|2|m1", "2|5|1|m2"]);
    // Within a batch, UNCHANGED takes the value from the key's earlier record.
    let mut u2 = doc(2, Value::unchanged(), 3, Value::unchanged());
    u2.op = Op::Update as i32;
    apply(&*s, vec![doc(2, Value::text("fresh"), 2, Value::text("mm")), u2.clone()]).await.unwrap();
    assert_eq!(db.rows("SELECT id, body, n, must FROM doc WHERE id = 2").await, ["2|fresh|3|mm"]);
    // A row that is not there gets NULL for a nullable UNCHANGED column ...
    let mut u3 = doc(3, Value::unchanged(), 7, Value::text("m3"));
    u3.op = Op::Update as i32;
    apply(&*s, vec![u3]).await.unwrap();
    assert_eq!(db.rows("SELECT id, body, n, must FROM doc WHERE id = 3").await, ["3|∅|7|m3"]);
    // ... and a definite error explaining why for a NOT NULL one; nothing of the batch is applied.
    let mut u4 = doc(4, Value::text("b"), 8, Value::unchanged());
    u4.op = Op::Update as i32;
    let err = apply(&*s, vec![doc(5, Value::text("five"), 5, Value::text("m5")), u4]).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&db.ident("must")) && msg.contains("TOAST") && msg.contains(&db.shown("public", "doc")), "{msg}");
    assert_eq!(db.rows("SELECT count(*) FROM doc WHERE id IN (4, 5)").await, ["0"]);
}

async fn key_changes_move_the_row_and_replay_cleanly(dialect: Dialect) {
    let db = fresh(dialect, "keychg").await;
    let s = db.sink(1).await;
    apply(&*s, vec![ddl("public", "k", &[("id", "bigint", false), ("body", "text", false), ("n", "integer", true)], &["id"])]).await.unwrap();
    let big = "y".repeat(50_000);
    apply(&*s, vec![ins("k", vec![("id", Value::int64(1)), ("body", Value::text(big.clone())), ("n", Value::int64(1))])]).await.unwrap();
    let kc = change(
        Op::Update,
        "public",
        "k",
        &["id"],
        row(vec![("id", Value::int64(1))]),
        row(vec![("id", Value::int64(2)), ("body", Value::unchanged()), ("n", Value::int64(2))]),
    );
    assert!(kc.changes_key());
    apply(&*s, vec![kc.clone()]).await.unwrap();
    assert_eq!(db.rows("SELECT id, length(body), n FROM k ORDER BY id").await, ["2|50000|2"]);
    apply(&*s, vec![kc.clone()]).await.unwrap();
    assert_eq!(db.rows("SELECT id, length(body), n FROM k ORDER BY id").await, ["2|50000|2"]);
    // Replay where the old key was reused later: the later records restore it.
    let reinsert = ins("k", vec![("id", Value::int64(1)), ("body", Value::text("new one")), ("n", Value::int64(9))]);
    apply(&*s, vec![reinsert.clone()]).await.unwrap();
    apply(&*s, vec![kc]).await.unwrap();
    apply(&*s, vec![reinsert]).await.unwrap();
    assert_eq!(db.rows("SELECT id, length(body), n FROM k ORDER BY id").await, ["1|7|9", "2|50000|2"]);
}

async fn truncate_and_control_records(dialect: Dialect) {
    let db = fresh(dialect, "trunc").await;
    let s = db.sink(1).await;
    apply(&*s, vec![simple_ddl("t")]).await.unwrap();
    apply(&*s, vec![ins("t", simple(1, "a", 1)), ins("t", simple(2, "b", 2))]).await.unwrap();
    apply(&*s, vec![truncate("t")]).await.unwrap();
    assert_eq!(db.rows("SELECT count(*) FROM t").await, ["0"]);
    // Truncating a table that is not there is a no-op; messages and heartbeats are ignored.
    apply(&*s, vec![truncate("never_created")]).await.unwrap();
    let msg = Change { op: Op::Message as i32, ..Default::default() };
    let hb = Change { op: Op::Heartbeat as i32, ..Default::default() };
    apply(&*s, vec![msg, hb, ins("t", simple(3, "c", 3))]).await.unwrap();
    assert_eq!(db.rows("SELECT id FROM t").await, ["3"]);
    // A truncate among other records is part of the batch's transaction: a failure later undoes it.
    let bad = ins("t", vec![("id", Value::int64(9)), ("v", Value::text("x")), ("n", Value::null())]);
    let err = apply(&*s, vec![truncate("t"), ins("t", simple(4, "d", 4)), bad]).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert_eq!(db.rows("SELECT id FROM t").await, ["3"]);
    apply(&*s, vec![ins("t", simple(5, "e", 5)), truncate("t"), ins("t", simple(6, "f", 6))]).await.unwrap();
    assert_eq!(db.rows("SELECT id FROM t").await, ["6"]);
}

async fn schema_changes_add_columns_and_refuse_type_changes_and_drops(dialect: Dialect) {
    let db = fresh(dialect, "ddl").await;
    let s = db.sink(1).await;
    let v1 = ddl("shop", "orders", &[("id", "bigint", false), ("total", "numeric(12,2)", false)], &["id"]);
    apply(&*s, vec![v1.clone()]).await.unwrap();
    let o = |pairs: Vec<(&str, Value)>| change(Op::Insert, "shop", "orders", &["id"], None, row(pairs));
    apply(&*s, vec![o(vec![("id", Value::int64(1)), ("total", v(Kind::Decimal("9.5".into())))])]).await.unwrap();
    // v2 adds a column and makes total nullable; replaying v2 is harmless.
    let v2 = ddl(
        "shop",
        "orders",
        &[("id", "bigint", false), ("total", "numeric(12,2)", true), ("note", "character varying(20)", true)],
        &["id"],
    );
    apply(&*s, vec![v2.clone()]).await.unwrap();
    apply(&*s, vec![v2.clone()]).await.unwrap();
    apply(&*s, vec![o(vec![("id", Value::int64(2)), ("total", Value::null()), ("note", Value::text("hi"))])]).await.unwrap();
    let orders = db.table("shop", "orders");
    assert_eq!(db.rows(&format!("SELECT id, total, note FROM {orders} ORDER BY id")).await, ["1|9.50|∅", "2|∅|hi"]);
    let cols: Vec<String> =
        db.columns("shop", "orders").await.iter().map(|c| format!("{}|{}|{}", c.name, c.sql_type, if c.nullable { "YES" } else { "NO" })).collect();
    let want = match dialect {
        Dialect::Postgres => ["id|bigint|NO", "total|numeric(12,2)|YES", "note|character varying(20)|YES"],
        Dialect::Mysql => ["id|bigint(20)|NO", "total|decimal(12,2)|YES", "note|varchar(20)|YES"],
    };
    assert_eq!(cols, want);
    // A fresh sink (no memory of earlier schemas) accepts the same schema:
    // the created types compare equal to what it would create.
    let s2 = db.sink(1).await;
    apply(&*s2, vec![v2.clone()]).await.unwrap_or_else(|e| panic!("{e}"));
    // A type change is refused, naming table, column and the fix; nothing changes.
    let v3 = ddl("shop", "orders", &[("id", "bigint", false), ("total", "text", true), ("note", "character varying(20)", true)], &["id"]);
    let fix = match dialect {
        Dialect::Postgres => "ALTER",
        Dialect::Mysql => "MODIFY COLUMN",
    };
    for s in [&s, &s2] {
        let err = apply(&**s, vec![v3.clone()]).await.unwrap_err();
        assert!(!err.is_transient());
        let msg = err.to_string();
        assert!(msg.contains(&db.shown("shop", "orders")) && msg.contains(&db.ident("total")) && msg.contains(fix), "{msg}");
    }
    // A dropped column is refused too (we never drop data).
    let v4 = ddl("shop", "orders", &[("id", "bigint", false), ("total", "numeric(12,2)", true)], &["id"]);
    let err = apply(&*s, vec![v4]).await.unwrap_err();
    let msg = err.to_string();
    assert!(!err.is_transient() && msg.contains(&db.ident("note")) && msg.contains("dropped"), "{msg}");
    assert_eq!(db.rows(&format!("SELECT count(*) FROM {orders}")).await, ["2"]);
}

async fn without_create_tables_no_ddl_runs(dialect: Dialect) {
    let db = fresh(dialect, "nocreate").await;
    let s = db.sink_with(1, false).await;
    let err = apply(&*s, vec![simple_ddl("t")]).await.unwrap_err();
    assert!(!err.is_transient() && err.to_string().contains("create_tables"), "{err}");
    let err = apply(&*s, vec![ins("t", simple(1, "a", 1))]).await.unwrap_err();
    assert!(!err.is_transient() && err.to_string().contains("does not exist"), "{err}");
    // A table made by hand (with a key) works; its other columns keep their defaults.
    db.exec(match dialect {
        Dialect::Postgres => "CREATE TABLE public.t (id bigint PRIMARY KEY, v text, n integer NOT NULL, extra text DEFAULT 'x')",
        Dialect::Mysql => "CREATE TABLE t (id bigint PRIMARY KEY, v longtext, n int NOT NULL, extra varchar(5) DEFAULT 'x')",
    })
    .await;
    apply(&*s, vec![simple_ddl("t"), ins("t", simple(1, "a", 1))]).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(db.rows("SELECT id, v, n, extra FROM t").await, ["1|a|1|x"]);
    // No unique constraint on the key: upserts would duplicate rows — refused, naming the fix.
    db.exec(match dialect {
        Dialect::Postgres => "CREATE TABLE public.nopk (id bigint, v text, n integer)",
        Dialect::Mysql => "CREATE TABLE nopk (id bigint, v longtext, n int)",
    })
    .await;
    let err = apply(&*s, vec![ins("nopk", simple(1, "a", 1))]).await.unwrap_err();
    let fix = match dialect {
        Dialect::Postgres => "PRIMARY KEY".to_string(),
        Dialect::Mysql => "PRIMARY KEY (`id`)".to_string(),
    };
    assert!(!err.is_transient() && err.to_string().contains(&fix), "{err}");
}

async fn definite_errors_leave_nothing_half_applied(dialect: Dialect) {
    let db = fresh(dialect, "definite").await;
    let s = db.sink(1).await;
    apply(&*s, vec![simple_ddl("t"), ddl("public", "small", &[("id", "bigint", false), ("s", "smallint", true), ("c", "character varying(3)", true)], &["id"])])
        .await
        .unwrap();
    apply(&*s, vec![ins("t", simple(1, "keep", 1))]).await.unwrap();
    // NOT NULL violation after good rows (in two tables).
    let bad = ins("t", vec![("id", Value::int64(3)), ("v", Value::text("c")), ("n", Value::null())]);
    let good_small = ins("small", vec![("id", Value::int64(1)), ("s", Value::int64(1)), ("c", Value::text("ok"))]);
    let batch = vec![good_small.clone(), ins("t", simple(2, "b", 2)), upd("t", simple(1, "changed", 9)), bad];
    let err = apply(&*s, batch).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    let msg = err.to_string();
    let not_null: &[&str] = match dialect {
        Dialect::Postgres => &["23502"],
        Dialect::Mysql => &["1048", "NOT NULL"],
    };
    assert!(msg.contains(&db.shown("public", "t")) && msg.contains(&db.ident("n")) && not_null.iter().all(|m| msg.contains(m)), "{msg}");
    assert_eq!(db.rows("SELECT id, v, n FROM t ORDER BY id").await, ["1|keep|1"]);
    assert_eq!(db.rows("SELECT count(*) FROM small").await, ["0"]);
    // A text that is not an integer: the column is named.
    let err = apply(&*s, vec![ins("t", simple(5, "e", 5)), ins("t", vec![("id", Value::int64(6)), ("v", Value::text("f")), ("n", Value::text("not a number"))])])
        .await
        .unwrap_err();
    let msg = err.to_string();
    let not_a_number: &[&str] = match dialect {
        Dialect::Postgres => &["column \"n\" (integer)", "22P02"],
        Dialect::Mysql => &["`n`", "1366"],
    };
    assert!(!err.is_transient() && not_a_number.iter().all(|m| msg.contains(m)), "{msg}");
    // A document into an integer column is refused before anything is sent.
    let err = apply(&*s, vec![ins("t", vec![("id", Value::int64(7)), ("v", Value::text("g")), ("n", v(Kind::Document(Document::default())))])])
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(!err.is_transient() && msg.contains(&db.ident("n")) && msg.contains("document"), "{msg}");
    // A column the target does not have.
    let err = apply(&*s, vec![ins("t", vec![("id", Value::int64(8)), ("nope", Value::text("x"))])]).await.unwrap_err();
    assert!(!err.is_transient() && err.to_string().contains(&db.ident("nope")), "{err}");
    assert_eq!(db.rows("SELECT id, v, n FROM t ORDER BY id").await, ["1|keep|1"]);
    assert_eq!(db.rows("SELECT count(*) FROM small").await, ["0"]);
    // And the lane still works afterwards.
    apply(&*s, vec![ins("t", simple(2, "b", 2))]).await.unwrap();
    assert_eq!(db.rows("SELECT count(*) FROM t").await, ["2"]);
}

async fn wrong_password_is_definite_and_not_echoed(dialect: Dialect) {
    let db = fresh(dialect, "auth").await;
    let url = db.url().replace("logferry-test", "wrong-secret-pw");
    let err = db.try_sink(url, 1, true).await.err().unwrap();
    assert!(!err.is_transient(), "{err}");
    assert!(!err.to_string().contains("wrong-secret-pw"), "{err}");
    if dialect == Dialect::Mysql {
        assert!(err.to_string().contains("1045"), "{err}");
    }
}

async fn lanes_apply_in_parallel(dialect: Dialect) {
    let db = fresh(dialect, "lanes").await;
    let s: Arc<dyn Sink> = Arc::from(db.sink(4).await);
    apply(&*s, vec![simple_ddl("t")]).await.unwrap();
    let mut tasks = Vec::new();
    for lane in 0..4usize {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for b in 0..10i64 {
                let records = (0..50i64)
                    .map(|i| {
                        let id = lane as i64 * 10_000 + b * 100 + i;
                        ins("t", simple(id, "x", b))
                    })
                    .collect();
                s.apply(&Batch { lane, records, order: None }).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(db.rows("SELECT count(*) FROM t").await, ["2000"]);
    if dialect == Dialect::Postgres {
        // One session per lane.
        let conns = db.rows(&format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'logferry'", db.name())).await;
        assert_eq!(conns, ["4"]);
    }
    s.close().await.unwrap();
}

/// 100 batches of 1000 narrow upserts on one lane, half of them updates of
/// existing keys. (How fast: `cargo bench --bench sink_upserts`.)
async fn many_batches_of_upserts_on_one_lane(dialect: Dialect) {
    let db = fresh(dialect, "upserts").await;
    let s = db.sink(1).await;
    apply(&*s, vec![ddl("public", "narrow", &[("id", "bigint", false), ("v", "bigint", true), ("s", "text", true)], &["id"])]).await.unwrap();
    const ROWS: i64 = 100_000;
    const BATCH: i64 = 1_000;
    for b in 0..ROWS / BATCH {
        let records = (0..BATCH)
            .map(|i| {
                let id = (b * BATCH + i) % 50_000; // half inserts, half updates of existing keys
                let mut c = ins("narrow", vec![("id", Value::int64(id)), ("v", Value::int64(b)), ("s", Value::text("some text"))]);
                c.seq = (b * BATCH + i) as u64;
                c
            })
            .collect();
        s.apply(&Batch { lane: 0, records, order: None }).await.unwrap();
    }
    assert_eq!(db.rows("SELECT count(*), max(v) FROM narrow").await, ["50000|99"]);
}
