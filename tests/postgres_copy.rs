//! The postgres target's COPY of new rows (`src/sinks/postgres/apply.rs`,
//! `copy.rs`) against the real server. A row trigger logs the statement
//! (`current_query()`) that wrote each row, so the tests see which path
//! ran: fresh rows go by `COPY … (FORMAT binary)` and read back as the
//! upsert writes them; a replayed batch falls back to the upsert and ends
//! with its values; a table without a unique index on exactly the key
//! keeps the upsert (and its error); a mixed batch stays correct.

use crate::support::pg::{fresh_db, rows, TestDb};
use crate::support::records::{apply, row};
use crate::support::shop::{change, ddl, v};
use logferry::record::{value::Kind, Change, Date, Op, Special, Timestamp, Value};
use logferry::sinks::postgres::{PostgresSink, PostgresSinkConfig, COPY_BACKOFF_BATCHES, COPY_MIN_ROWS};

const LOG: &str = "CREATE TABLE lf_log (tbl text, q text);
CREATE FUNCTION lf_log() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO lf_log VALUES (TG_TABLE_NAME, current_query()); RETURN NEW; END $$;";

/// Logs the statement of every row written to `table`: a BEFORE INSERT
/// row trigger fires for each row a COPY writes and for each row an upsert
/// proposes (whether it then inserts or updates).
async fn log_writes(db: &TestDb, table: &str) {
    db.client
        .batch_execute(&format!("CREATE TRIGGER lf_log BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION lf_log()"))
        .await
        .unwrap();
}

/// Per statement kind (`COPY` / `INSERT`), the rows `table` had written; then its log is emptied.
async fn writes(db: &TestDb, table: &str) -> Vec<String> {
    let sql = format!("SELECT split_part(ltrim(q), ' ', 1), count(*) FROM lf_log WHERE tbl = '{table}' GROUP BY 1 ORDER BY 1");
    let got = rows(db, &sql).await;
    db.client.batch_execute(&format!("DELETE FROM lf_log WHERE tbl = '{table}'")).await.unwrap();
    got
}

async fn sink(db: &TestDb) -> PostgresSink {
    PostgresSink::connect(PostgresSinkConfig { url: db.url.clone(), namespace: None, create_tables: true, lanes: 1 }).await.expect("connect")
}

async fn setup(prefix: &str) -> (TestDb, PostgresSink) {
    let db = fresh_db(prefix).await;
    db.client.batch_execute(LOG).await.unwrap();
    db.client.batch_execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'").await.unwrap();
    let s = sink(&db).await;
    (db, s)
}

const TYPES: [(&str, &str, bool); 16] = [
    ("id", "bigint", false),
    ("i2", "smallint", true),
    ("i4", "integer", true),
    ("f4", "real", true),
    ("f8", "double precision", true),
    ("b", "boolean", true),
    ("t", "text", true),
    ("vc", "character varying(20)", true),
    ("by", "bytea", true),
    ("u", "uuid", true),
    ("d", "date", true),
    ("ts", "timestamp without time zone", true),
    ("tz", "timestamp with time zone", true),
    ("n", "numeric(12,3)", true),
    ("j", "jsonb", true),
    ("n2", "numeric", true),
];

/// A row of every binary type; every seventh row is NULL in every column but the key.
fn typed(i: i64) -> Vec<(&'static str, Value)> {
    if i % 7 == 3 {
        return TYPES.iter().map(|(n, ..)| (*n, if *n == "id" { Value::int64(i) } else { Value::null() })).collect();
    }
    let ts = |tz: bool| {
        let t = Timestamp { seconds: 1_700_000_000 + i * 3_601, nanos: (i as u32 % 1000) * 1000, special: Special::Finite as i32 };
        v(if tz { Kind::Timestamptz(t) } else { Kind::Timestamp(t) })
    };
    let mut uuid = [0u8; 16];
    uuid[..8].copy_from_slice(&i.to_be_bytes());
    uuid[15] = 0xab;
    vec![
        ("id", Value::int64(i)),
        ("i2", Value::int64(-i)),
        ("i4", v(Kind::Int32(i as i32 * 1000))),
        ("f4", v(Kind::Float32(i as f32 + 0.5))),
        ("f8", v(Kind::Float64(i as f64 / 3.0))),
        ("b", v(Kind::Bool(i % 2 == 0))),
        ("t", Value::text(format!("row {i} ü \"q\"\t\\"))),
        ("vc", Value::text(format!("v{i}"))),
        ("by", v(Kind::Bytes(vec![0, 255, i as u8, b'\\'].into()))),
        ("u", v(Kind::Uuid(uuid.to_vec().into()))),
        ("d", v(Kind::Date(Date { days: 19_000 + i as i32, special: Special::Finite as i32 }))),
        ("ts", ts(false)),
        ("tz", ts(true)),
        ("n", v(Kind::Decimal(format!("{}.125", i * 1000)))),
        ("j", v(Kind::Json(format!("{{\"k\": [{i}, null], \"s\": \"x\"}}")))),
        ("n2", v(Kind::Decimal(format!("-{i}.000100")))),
    ]
}

fn rec(op: Op, table: &str, pairs: Vec<(&str, Value)>) -> Change {
    change(op, "public", table, &["id"], None, row(pairs))
}

fn gone(table: &str, id: i64) -> Change {
    change(Op::Delete, "public", table, &["id"], row(vec![("id", Value::int64(id))]), None)
}

/// `id|v|n` of a simple row.
fn simple(id: i64, text: &str, n: i64) -> Vec<(&'static str, Value)> {
    vec![("id", Value::int64(id)), ("v", Value::text(text)), ("n", Value::int64(n))]
}

fn simple_ddl(name: &str) -> Change {
    ddl("public", name, &[("id", "bigint", false), ("v", "text", true), ("n", "integer", true)], &["id"])
}

fn batch(op: Op, table: &str, ids: std::ops::Range<i64>, text: &str) -> Vec<Change> {
    ids.map(|i| rec(op, table, simple(i, &format!("{text}{i}"), i))).collect()
}

#[tokio::test]
async fn new_rows_go_by_copy_and_read_back_as_the_upsert_writes_them() {
    let (db, sink) = setup("pgcopy_types").await;
    apply(&sink, vec![ddl("public", "c", &TYPES, &["id"]), ddl("public", "u", &TYPES, &["id"])]).await.unwrap();
    log_writes(&db, "c").await;
    log_writes(&db, "u").await;
    let n = COPY_MIN_ROWS as i64 + 36;
    // SNAPSHOT_READ into c; the same images as UPDATEs (not fresh: the upsert) into u.
    let reads: Vec<Change> = (1..=n).map(|i| rec(Op::SnapshotRead, "c", typed(i))).collect();
    let updates: Vec<Change> = (1..=n).map(|i| rec(Op::Update, "u", typed(i))).collect();
    apply(&sink, reads).await.unwrap();
    apply(&sink, updates).await.unwrap();
    assert_eq!(writes(&db, "c").await, [format!("COPY|{n}")]);
    assert_eq!(writes(&db, "u").await, [format!("INSERT|{n}")]);
    let c = rows(&db, "SELECT * FROM c ORDER BY id").await;
    assert_eq!(c.len(), n as usize);
    assert_eq!(c, rows(&db, "SELECT * FROM u ORDER BY id").await, "COPY and the upsert wrote the same rows");
    assert_eq!(c[1], "2|-2|2000|2.5|0.6666666666666666|t|row 2 ü \"q\"\t\\|v2|\\x00ff025c|00000000-0000-0002-0000-0000000000ab|\
2022-01-10|2023-11-15 00:13:22.000002|2023-11-15 00:13:22.000002+00|2000.125|{\"k\": [2, null], \"s\": \"x\"}|-2.000100");
    assert_eq!(c[2], format!("3{}", "|∅".repeat(15)));
    // A smaller group of new rows: the upsert.
    let few: Vec<Change> = (n + 1..n + 4).map(|i| rec(Op::Insert, "c", typed(i))).collect();
    apply(&sink, few).await.unwrap();
    assert_eq!(writes(&db, "c").await, ["INSERT|3"]);
}

#[tokio::test]
async fn a_replayed_batch_falls_back_to_the_upsert_then_the_table_backs_off() {
    let (db, sink) = setup("pgcopy_replay").await;
    apply(&sink, vec![simple_ddl("r")]).await.unwrap();
    log_writes(&db, "r").await;
    let n = COPY_MIN_ROWS as i64;
    apply(&sink, batch(Op::Insert, "r", 0..n, "first ")).await.unwrap();
    assert_eq!(writes(&db, "r").await, [format!("COPY|{n}")]);
    // The same keys again (new values) and as many new ones: one fresh group, whose COPY meets existing rows.
    apply(&sink, batch(Op::Insert, "r", 0..2 * n, "second ")).await.unwrap();
    assert_eq!(writes(&db, "r").await, [format!("INSERT|{}", 2 * n)], "the upsert wrote the whole group, nothing by COPY");
    assert_eq!(rows(&db, "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM r").await, [format!("{}|{}|0|{}", 2 * n, 2 * n, 2 * n - 1)]);
    assert_eq!(rows(&db, "SELECT count(*) FROM r WHERE v = 'second ' || id").await, [format!("{}", 2 * n)]);
    // Back-off: the next batches of new rows upsert, then COPY again.
    let mut next = 2 * n;
    for b in 0..COPY_BACKOFF_BATCHES {
        apply(&sink, batch(Op::Insert, "r", next..next + n, "new ")).await.unwrap();
        next += n;
        assert_eq!(writes(&db, "r").await, [format!("INSERT|{n}")], "batch {b} in back-off");
    }
    apply(&sink, batch(Op::SnapshotRead, "r", next..next + n, "new ")).await.unwrap();
    next += n;
    assert_eq!(writes(&db, "r").await, [format!("COPY|{n}")], "COPY again after the back-off");
    assert_eq!(rows(&db, "SELECT count(*), count(DISTINCT id) FROM r").await, [format!("{next}|{next}")]);
}

/// Tables whose key has no unique index COPY could rely on: no index, a
/// partial one, a deferrable one, one on more columns. The upsert's error
/// (what the target gave before COPY existed), nothing written.
#[tokio::test]
async fn without_a_unique_index_on_exactly_the_key_copy_is_not_used() {
    let (db, sink) = setup("pgcopy_nokey").await;
    db.client
        .batch_execute(
            "CREATE TABLE k0 (id bigint NOT NULL, v text, n integer);
             CREATE TABLE k1 (id bigint NOT NULL, v text, n integer); CREATE UNIQUE INDEX ON k1 (id) WHERE n > 0;
             CREATE TABLE k2 (id bigint NOT NULL, v text, n integer, UNIQUE (id) DEFERRABLE);
             CREATE TABLE k3 (id bigint NOT NULL, v text, n integer, UNIQUE (id, n));",
        )
        .await
        .unwrap();
    for t in ["k0", "k1", "k2", "k3"] {
        log_writes(&db, t).await;
        let err = apply(&sink, batch(Op::SnapshotRead, t, 0..COPY_MIN_ROWS as i64 * 2, "x")).await.unwrap_err();
        let msg = err.to_string();
        assert!(!err.is_transient() && msg.contains(&format!("\"{t}\"")), "{t}: {msg}");
        assert!(msg.contains("ON CONFLICT") || msg.contains("42P10") || msg.contains("55000"), "{t}: {msg}");
        assert_eq!(rows(&db, &format!("SELECT count(*) FROM {t}")).await, ["0"], "{t}");
        assert_eq!(writes(&db, t).await, Vec::<String>::new(), "{t}");
    }
}

#[tokio::test]
async fn a_mixed_batch_of_updates_deletes_and_new_rows_stays_correct() {
    let (db, sink) = setup("pgcopy_mixed").await;
    apply(&sink, vec![simple_ddl("m")]).await.unwrap();
    log_writes(&db, "m").await;
    let n = COPY_MIN_ROWS as i64;
    apply(&sink, batch(Op::Insert, "m", 0..100, "old ")).await.unwrap();
    assert_eq!(writes(&db, "m").await, ["COPY|100"]);
    let mut records = Vec::new();
    for i in 0..10 {
        records.push(rec(Op::Update, "m", simple(i, "updated", -1)));
    }
    for i in 10..20 {
        records.push(gone("m", i));
    }
    // Deleted then inserted again: not fresh, upserted.
    records.push(gone("m", 20));
    records.push(rec(Op::Insert, "m", simple(20, "back", 20)));
    for i in 100..100 + 2 * n {
        records.push(rec(Op::Insert, "m", simple(i, "new", i)));
        // A new row updated in the same batch stays fresh: its last image goes by COPY.
        if i % 5 == 0 {
            records.push(rec(Op::Update, "m", simple(i, "new, updated", -i)));
        }
        if i % 10 == 1 {
            records.push(gone("m", i));
        }
    }
    // A new row then deleted, and a delete of a key that never was.
    records.push(rec(Op::Insert, "m", simple(999, "short-lived", 0)));
    records.push(gone("m", 999));
    records.push(gone("m", 5000));
    apply(&sink, records).await.unwrap();
    let deleted_new = (100..100 + 2 * n).filter(|i| i % 10 == 1).count() as i64;
    assert_eq!(writes(&db, "m").await, [format!("COPY|{}", 2 * n - deleted_new), "INSERT|11".to_string()]);
    let mut want: Vec<String> = Vec::new();
    for i in 0..100 + 2 * n {
        match i {
            0..10 => want.push(format!("{i}|updated|-1")),
            10..20 => {}
            20 => want.push("20|back|20".into()),
            21..100 => want.push(format!("{i}|old {i}|{i}")),
            _ if i % 10 == 1 => {}
            _ if i % 5 == 0 => want.push(format!("{i}|new, updated|{}", -i)),
            _ => want.push(format!("{i}|new|{i}")),
        }
    }
    assert_eq!(rows(&db, "SELECT id, v, n FROM m ORDER BY id").await, want);
}

/// A value the server refuses in a COPY (numeric overflow, JSON that does
/// not parse) gives the upsert's definite error naming the column, and
/// nothing of the batch is applied. A sequence (not rolled back) counts
/// the rows the COPY had passed to the trigger, so the test knows the COPY ran.
#[tokio::test]
async fn a_data_error_in_a_copy_names_the_column() {
    let (db, sink) = setup("pgcopy_dataerr").await;
    let cols = [("id", "bigint", false), ("amount", "numeric(5,2)", true), ("doc", "jsonb", true)];
    apply(&sink, vec![ddl("public", "e", &cols, &["id"])]).await.unwrap();
    db.client
        .batch_execute(
            "CREATE SEQUENCE copied; CREATE FUNCTION lf_count() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN IF current_query() LIKE 'COPY%' THEN PERFORM nextval('copied'); END IF; RETURN NEW; END $$;
             CREATE TRIGGER lf_count BEFORE INSERT ON e FOR EACH ROW EXECUTE FUNCTION lf_count()",
        )
        .await
        .unwrap();
    let copied = || async { rows(&db, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM copied").await };
    let good = |id: i64| rec(Op::Insert, "e", vec![("id", Value::int64(id)), ("amount", v(Kind::Decimal("1.5".into()))), ("doc", v(Kind::Json("{}".into())))]);
    let n = COPY_MIN_ROWS as i64;
    let bad_amount = rec(Op::Insert, "e", vec![("id", Value::int64(n)), ("amount", v(Kind::Decimal("1000".into()))), ("doc", Value::null())]);
    let bad_doc = rec(Op::Insert, "e", vec![("id", Value::int64(n)), ("amount", Value::null()), ("doc", v(Kind::Json("{bad".into())))]);
    for (bad, column, state) in [(bad_amount, "column \"amount\" (numeric(5,2))", "22003"), (bad_doc, "column \"doc\" (jsonb)", "22P02")] {
        let before: i64 = copied().await[0].parse().unwrap();
        let mut records: Vec<Change> = (0..n).map(good).collect();
        records.push(bad);
        let err = apply(&sink, records).await.unwrap_err();
        let msg = err.to_string();
        assert!(!err.is_transient() && msg.contains(column) && msg.contains(state), "{msg}");
        assert_eq!(rows(&db, "SELECT count(*) FROM e").await, ["0"]);
        let after: i64 = copied().await[0].parse().unwrap();
        assert_eq!(after - before, n, "the COPY passed the good rows before the bad one");
    }
    apply(&sink, (0..n).map(good).collect()).await.unwrap();
    assert_eq!(rows(&db, "SELECT count(*), min(amount), max(doc::text) FROM e").await, [format!("{n}|1.50|{{}}")]);
    assert_eq!(copied().await, [format!("{}", 3 * n)]);
}
