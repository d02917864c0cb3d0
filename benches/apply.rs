//! Database targets' batch building per record, without a server: a batch of
//! 1000 row records for a narrow table (`id bigint` key, `qty`, `price
//! numeric(12,2)`, `note text`, `updated_at`) reduced and rendered into
//! what the target is sent. Throughput is in records. Two batches:
//!
//! - **`insert`**: 1000 INSERTs of distinct keys (one upsert statement);
//! - **`mixed`**: 1000 records over 800 keys, 70 % full-image UPDATEs and
//!   30 % DELETEs, so keys repeat (images merge, deletes precede upserts):
//!   one DELETE and one upsert statement.
//!
//! # What is covered
//!
//! **`apply_postgres/*`**: what `Tx::run` / `rows` / `table_work` in
//! `src/sinks/postgres/mod.rs` do before they talk to the server:
//! `document::to_table_records`, `plan::steps`, the target table name per
//! record (as `PostgresSink::target_table` makes it), the table plan
//! (`TablePlan::add` turns every value into a cell, then `finish`), the SQL
//! text and parameters (`binary::row_statement`: `sql::delete_by_keys`,
//! `sql::upsert` or `sql::update_then_insert`), and the parameters encoded to
//! their wire form (`ToSql` of `binary::ColumnParam`, as `Client::execute`
//! does). Each batch three times: `*_binary` with binary arrays for every
//! column type that has one (here all five) on a table without a unique
//! index on the key (so never COPY), `*_text` with the binary forms turned
//! off (every value rendered to PostgreSQL text, `text[]` parameters cast
//! on the server: the target before binary parameters), and `*_copy` as
//! the target runs it on a table with a primary key: a group of fresh rows
//! (the `insert` batch) goes as `COPY … (FORMAT binary)` data
//! (`copy::CopyRows`, in the target's 64 KiB chunks), the rest as `*_binary`.
//! Not covered: the prepared-statement cache, the round trips.
//!
//! **`encode_postgres/*`**: only the encoding of the `insert` batch's five
//! columns (1000 rows, already planned): `text` (`text[]` of the rendered
//! text) against `binary` (each column's own binary array) against `copy`
//! (the rows as binary COPY data, the real encoder).
//!
//! **`apply_mysql/*`**: what `Tx::rows` / `table_work` / `chunked` in
//! `src/sinks/mysql/mod.rs` do before they talk to the server (MariaDB
//! flavour, a 16 MiB `max_allowed_packet`): `document::to_table_records`,
//! `plan::steps`, the table plan (values rendered to `Cell`s), the
//! statements with every value as an SQL literal (`sql::delete_parts` /
//! `sql::upsert_parts` and `sql::push_key` / `sql::push_tuple` through
//! `sql::Chunks`), and each row's key text for messages (`key_text`), which
//! `chunked` makes for every row. Not
//! covered: queueing into the multi-statement round trips, the round trips.
//!
//! If the sinks change how they build a batch, change this file to match.
//!
//! `cargo bench --bench apply` (add `-- --warm-up-time 1 --measurement-time 3`
//! for a quick run).


/// The binary's allocator (see `src/main.rs`), so figures match the process.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use logferry::record::{value::Kind, Change, Op, Row, TableRef, Timestamp, Value};
use logferry::sinks::document;
use logferry::sinks::mysql::{key_text, schema as my_schema, sql as my_sql, value as my_value};
use logferry::sinks::plan::{steps, Step, TablePlan};
use logferry::sinks::postgres::binary::{self as pg_binary, BinType, ColumnParam, RowSql};
use logferry::sinks::postgres::copy::CopyRows;
use logferry::sinks::postgres::COPY_MIN_ROWS;
use logferry::sinks::postgres::{schema as pg_schema, value as pg_value};
use std::collections::HashMap;
use std::sync::Arc;
use tokio_postgres::types::ToSql;

const BATCH: usize = 1000;
/// Distinct keys of the mixed batch.
const MIXED_KEYS: usize = 800;

fn image(id: usize, i: usize) -> Row {
    Row::from_pairs([
        ("id", Value::int64(10_000_000 + id as i64)),
        ("qty", Value::int64((i % 7 + 1) as i64)),
        ("price", Value::of(Kind::Decimal(format!("{}.{:02}", 20 + i % 500, i % 100)))),
        ("note", Value::text(format!("order {id}: leave at the back door, ring twice"))),
        (
            "updated_at",
            Value::of(Kind::Timestamptz(Timestamp {
                seconds: 1_709_208_000 + i as i64,
                nanos: (i as u32 * 7_000) % 1_000_000_000,
                special: 0,
            })),
        ),
    ])
}

fn record(op: Op, before: Option<Row>, after: Option<Row>, seq: usize) -> Change {
    Change {
        pipeline: "shop".into(),
        source: "postgres".into(),
        seq: seq as u64,
        op: op as i32,
        table: Some(TableRef { schema: "public".into(), name: "orders".into() }),
        key_columns: vec!["id".into()],
        before,
        after,
        ..Default::default()
    }
}

fn inserts() -> Vec<Change> {
    (0..BATCH).map(|i| record(Op::Insert, None, Some(image(i, i)), i)).collect()
}

fn mixed() -> Vec<Change> {
    (0..BATCH)
        .map(|i| {
            let id = i * 7 % MIXED_KEYS;
            if matches!(i % 10, 3 | 7 | 9) {
                let key = Row::from_pairs([("id", Value::int64(10_000_000 + id as i64))]);
                record(Op::Delete, Some(key), None, i)
            } else {
                record(Op::Update, None, Some(image(id, i)), i)
            }
        })
        .collect()
}

// ---------------------------------------------------------------- postgres

/// The table; `binary: false` turns the binary forms off (all text);
/// `key_index`: a primary key on `id` (fresh rows may go by COPY).
fn pg_table(binary: bool, key_index: bool) -> Arc<pg_schema::TableInfo> {
    use pg_value::{Target, TypeClass};
    let cols = [
        ("id", "bigint", true, TypeClass::Other),
        ("qty", "integer", false, TypeClass::Other),
        ("price", "numeric(12,2)", false, TypeClass::Other),
        ("note", "text", false, TypeClass::Text),
        ("updated_at", "timestamp with time zone", false, TypeClass::Other),
    ];
    let columns: Vec<pg_schema::ColumnInfo> = cols
        .iter()
        .map(|&(name, sql_type, not_null, class)| pg_schema::ColumnInfo {
            name: name.into(),
            sql_type: sql_type.into(),
            not_null,
            target: Target::scalar(class),
            binary: if binary { BinType::of(sql_type) } else { None },
        })
        .collect();
    let by_name = columns.iter().enumerate().map(|(i, c)| (c.name.clone(), i)).collect();
    Arc::new(pg_schema::TableInfo { sql_name: logferry::sinks::postgres::sql::qualified("public", "orders"), columns, by_name, copy_keys: if key_index { vec![vec![0]] } else { Vec::new() } })
}

/// One statement as the sink would execute it: SQL text and encoded parameters.
struct PgStatement {
    sql: String,
    params: Vec<BytesMut>,
    /// COPY data (a COPY has no parameters).
    data: Vec<bytes::Bytes>,
}

/// Bytes of COPY data per message (`COPY_CHUNK` in `apply.rs`).
const COPY_CHUNK: usize = 64 * 1024;

/// The COPY data of a group, in the target's chunks.
fn pg_copy(types: Vec<BinType>, arrays: &[Vec<pg_binary::PgCell>]) -> Vec<bytes::Bytes> {
    let mut rows = CopyRows::new(types, arrays).expect("the group encodes");
    let mut chunks = Vec::new();
    while let Some(c) = rows.next_chunk(COPY_CHUNK).expect("the rows encode") {
        chunks.push(c);
    }
    chunks
}

fn pg_encode(params: &[ColumnParam<'_>]) -> Vec<BytesMut> {
    params
        .iter()
        .map(|p| {
            let mut buf = BytesMut::new();
            p.to_sql_checked(&p.array_type(), &mut buf).expect("the parameter encodes");
            buf
        })
        .collect()
}

/// `Tx::run` → `rows` → `table_work` → `run_arrays` of the postgres sink, minus the server.
fn pg_build(info: &Arc<pg_schema::TableInfo>, batch: &[Change], out: &mut Vec<PgStatement>) {
    for work in pg_plan(info, batch) {
        let columns = |idx: &[usize]| -> Vec<&pg_schema::ColumnInfo> { idx.iter().map(|&i| &info.columns[i]).collect() };
        if !work.deletes.is_empty() {
            let (sql, params) = pg_binary::row_statement(&info.sql_name, &columns(&work.key), &work.deletes, RowSql::Delete);
            out.push(PgStatement { sql, params: pg_encode(&params), data: Vec::new() });
        }
        for g in &work.groups {
            // `copy_types` in apply.rs.
            if g.fresh && g.unchanged.is_empty() && g.len() >= COPY_MIN_ROWS && info.copy_key(&work.key) {
                let types: Option<Vec<BinType>> =
                    g.columns.iter().zip(&g.arrays).map(|(&i, a)| ColumnParam::new(info.columns[i].binary, a).binary()).collect();
                if let Some(types) = types {
                    let sql = logferry::sinks::postgres::copy::statement(&info.sql_name, g.columns.iter().map(|&i| info.columns[i].name.as_str()));
                    out.push(PgStatement { sql, params: Vec::new(), data: pg_copy(types, &g.arrays) });
                    continue;
                }
            }
            let key_pos: Vec<usize> =
                work.key.iter().map(|k| g.columns.iter().position(|c| c == k).expect("key present")).collect();
            let shape = if g.unchanged.is_empty() { RowSql::Upsert(&key_pos) } else { RowSql::UpdateThenInsert(&key_pos) };
            let (sql, params) = pg_binary::row_statement(&info.sql_name, &columns(&g.columns), &g.arrays, shape);
            out.push(PgStatement { sql, params: pg_encode(&params), data: Vec::new() });
        }
    }
}

/// The batch reduced per table (one table here).
fn pg_plan(info: &Arc<pg_schema::TableInfo>, batch: &[Change]) -> Vec<logferry::sinks::plan::TableWork<pg_binary::PgCell>> {
    let records = document::to_table_records(batch).expect("table records");
    let mut works = Vec::new();
    for step in steps(&records).expect("steps") {
        let Step::Rows(rows) = step else { panic!("only row changes here") };
        let mut plans: Vec<TablePlan<pg_schema::TableInfo>> = Vec::new();
        let mut by_table: HashMap<(String, String), usize> = HashMap::new();
        for c in rows {
            // PostgresSink::target_table (no schema override).
            let t = c.table.as_ref().expect("table");
            let key = (if t.schema.is_empty() { "public".to_string() } else { t.schema.clone() }, t.name.clone());
            let i = match by_table.get(&key) {
                Some(&i) => i,
                None => {
                    plans.push(TablePlan::new(info.clone(), &c.key_columns).expect("plan"));
                    by_table.insert(key, plans.len() - 1);
                    plans.len() - 1
                }
            };
            plans[i].add(c).expect("record plans");
        }
        works.extend(plans.into_iter().map(TablePlan::finish));
    }
    works
}

fn apply_postgres(c: &mut Criterion) {
    let tables = [("text", pg_table(false, true)), ("binary", pg_table(true, false)), ("copy", pg_table(true, true))];
    let batches = [("insert", inserts()), ("mixed", mixed())];
    let mut out = Vec::new();
    for (name, batch) in &batches {
        for (mode, info) in &tables {
            out.clear();
            pg_build(info, batch, &mut out);
            let bytes: usize = out
                .iter()
                .map(|s| s.sql.len() + s.params.iter().map(BytesMut::len).sum::<usize>() + s.data.iter().map(bytes::Bytes::len).sum::<usize>())
                .sum();
            println!("apply_postgres/{name}_{mode}: {} statement(s), {bytes} bytes of SQL and parameters", out.len());
        }
    }
    let mut g = c.benchmark_group("apply_postgres");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, batch) in &batches {
        for (mode, info) in &tables {
            g.bench_function(format!("{name}_{mode}"), |b| {
                b.iter(|| {
                    out.clear();
                    pg_build(info, black_box(batch), &mut out);
                    black_box(out.len())
                })
            });
        }
    }
    g.finish();

    // The parameter encoding alone: the insert batch's five columns.
    let mut g = c.benchmark_group("encode_postgres");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (mode, info) in &tables {
        let works = pg_plan(info, &inserts());
        let arrays = &works[0].groups[0].arrays;
        let columns: Vec<&pg_schema::ColumnInfo> = works[0].groups[0].columns.iter().map(|&i| &info.columns[i]).collect();
        let params: Vec<ColumnParam<'_>> = columns.iter().zip(arrays).map(|(c, a)| ColumnParam::new(c.binary, a)).collect();
        assert_eq!(params.iter().all(|p| p.binary().is_some()), *mode != "text", "{mode}");
        if *mode == "copy" {
            assert!(works[0].groups[0].fresh);
            let types: Vec<BinType> = params.iter().map(|p| p.binary().expect("binary")).collect();
            g.bench_function(*mode, |b| b.iter(|| black_box(pg_copy(types.clone(), black_box(arrays)))));
        } else {
            g.bench_function(*mode, |b| b.iter(|| black_box(pg_encode(black_box(&params)))));
        }
    }
    g.finish();
}

// ------------------------------------------------------------------- mysql

/// A 16 MiB `max_allowed_packet` as `MysqlSink::open` turns it into a budget.
const MY_BUDGET: usize = (16 << 20) - 4096;

fn my_table() -> Arc<my_schema::TableInfo> {
    use my_value::Class;
    let cols = [
        ("id", "bigint(20)", Class::of("bigint", Some(19), Some(0), None), true),
        ("qty", "int(11)", Class::of("int", Some(10), Some(0), None), false),
        ("price", "decimal(12,2)", Class::of("decimal", Some(12), Some(2), None), false),
        ("note", "text", Class::of("text", None, None, None), false),
        ("updated_at", "datetime(6)", Class::of("datetime", None, None, Some(6)), false),
    ];
    let columns = cols
        .iter()
        .map(|&(name, column_type, class, not_null)| my_schema::ColumnInfo {
            name: name.into(),
            column_type: column_type.into(),
            class,
            not_null,
            insertable_without: !not_null,
            charset: None,
        })
        .collect();
    Arc::new(my_schema::TableInfo::new(my_sql::qualified("shop", "orders"), columns, vec![("PRIMARY".into(), vec![0])]))
}

/// What `Tx::chunked` queues: statements with their rows' keys.
struct MyStatement {
    sql: String,
    keys: Vec<String>,
}

fn my_chunked(
    prefix: String,
    suffix: String,
    rows: usize,
    mut write: impl FnMut(usize, &mut String),
    key: impl Fn(usize) -> String,
    out: &mut Vec<MyStatement>,
) {
    let mut chunks = my_sql::Chunks::new(prefix, suffix, MY_BUDGET);
    for r in 0..rows {
        chunks.push(|s| write(r, s)).expect("row fits the packet");
    }
    let mut start = 0;
    for (sql, n) in chunks.finish() {
        let keys = (start..start + n).map(&key).collect();
        start += n;
        out.push(MyStatement { sql, keys });
    }
}

/// `Tx::rows` → `table_work` → `chunked` of the mysql sink, minus the server.
fn my_build(info: &Arc<my_schema::TableInfo>, alias: bool, batch: &[Change], out: &mut Vec<MyStatement>) {
    use my_value::Cell;
    let records = document::to_table_records(batch).expect("table records");
    for step in steps(&records).expect("steps") {
        let Step::Rows(rows) = step else { panic!("only row changes here") };
        // One table: `Tx::rows` takes its fast path after the first record.
        let first = rows[0];
        let keyidx = logferry::sinks::plan::key_indices(&**info, &first.key_columns).expect("key");
        info.check_key(&keyidx).expect("unique key");
        let mut plan = TablePlan::new(info.clone(), &first.key_columns).expect("plan");
        for c in rows {
            plan.add(c).expect("record plans");
        }
        let work = plan.finish();
        let key_names: Vec<&str> = work.key.iter().map(|&i| info.columns[i].name.as_str()).collect();
        if !work.deletes.is_empty() {
            let (prefix, suffix) = my_sql::delete_parts(&info.sql_name, &key_names);
            let deletes = &work.deletes;
            let write = |r: usize, s: &mut String| {
                let cells: Vec<&Cell> = deletes.iter().map(|col| &col[r]).collect();
                my_sql::push_key(s, &cells);
            };
            let key = |r: usize| key_text(&key_names, deletes.iter().map(|col| &col[r]));
            my_chunked(prefix, suffix, deletes[0].len(), write, key, out);
        }
        for g in &work.groups {
            assert!(g.unchanged.iter().all(|&i| info.columns[i].insertable_without), "no per-row updates here");
            let cols: Vec<&str> = g.columns.iter().map(|&i| info.columns[i].name.as_str()).collect();
            let key_pos: Vec<usize> =
                work.key.iter().map(|k| g.columns.iter().position(|c| c == k).expect("key present")).collect();
            let (prefix, suffix) = my_sql::upsert_parts(&info.sql_name, &cols, &key_pos, alias);
            let arrays = &g.arrays;
            let write = |r: usize, s: &mut String| my_sql::push_tuple(s, arrays.iter().map(|col| &col[r]));
            let key = |r: usize| key_text(&key_names, key_pos.iter().map(|&p| &arrays[p][r]));
            my_chunked(prefix, suffix, g.len(), write, key, out);
        }
    }
}

fn apply_mysql(c: &mut Criterion) {
    let info = my_table();
    let alias = my_schema::Server::parse("10.11.6-MariaDB-0+deb12u1").upsert_alias();
    let batches = [("insert", inserts()), ("mixed", mixed())];
    let mut out = Vec::new();
    for (name, batch) in &batches {
        out.clear();
        my_build(&info, alias, batch, &mut out);
        let bytes: usize = out.iter().map(|s| s.sql.len()).sum();
        let keys: usize = out.iter().map(|s| s.keys.len()).sum();
        println!("apply_mysql/{name}: {} statement(s), {keys} rows, {bytes} bytes of SQL", out.len());
    }
    let mut g = c.benchmark_group("apply_mysql");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, batch) in &batches {
        g.bench_function(*name, |b| {
            b.iter(|| {
                out.clear();
                my_build(&info, alias, black_box(batch), &mut out);
                black_box(out.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, apply_postgres, apply_mysql);
criterion_main!(benches);
