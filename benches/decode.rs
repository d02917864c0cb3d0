//! Source decoding per row, for a narrow table of five columns
//! (`id bigint, qty int, price numeric(12,2), note text/varchar(100),
//! updated_at timestamptz/datetime(6)`): the wire bytes a source receives
//! turned into canonical records. Throughput is in rows (in bytes for the
//! one large value of `pgoutput_big_value`). The messages and
//! events are built by hand here (the wire formats are documented in
//! `src/sources/postgres/decode/` and `src/sources/mysql/decode/`).
//!
//! # What is covered
//!
//! **`pgoutput/*`** (10 000 messages per iteration, one row each): for every
//! XLogData payload, [`decode::parse`] of the message bytes, then the
//! stream's own tuple → row code ([`tuple_row`], which
//! `src/sources/postgres/stream.rs` calls for every Insert, Update and
//! Delete: per column the name clone, the UTF-8 check and
//! `types::text_to_value` with the column's type). Around it, what the
//! `Streamer` adds and which is re-stated here because the `Streamer`
//! cannot be built without a live SQL client and replication session: the
//! relation lookup by oid, the record envelope (`Change`: table, key
//! columns, transaction id and commit time, about ten lines of
//! `Streamer::base`), the pipeline name and the held-back tail
//! ([`TxTail::hold`]). The records are collected into a `Vec` (standing in
//! for the pipeline's channel). Not covered: the transport
//! (pgwire-replication's framing of XLogData), Begin/Commit, and sending
//! into the channel.
//!
//! **`binlog/*`** (one rows event of 1000 rows per iteration): what
//! `Streamer::event` / `rows` in `src/sources/mysql/stream.rs` do for a
//! rows event: mysql_common's `Event::read` + `read_data` of the event bytes
//! (what the binlog stream does for every packet), then the stream's own
//! [`row_records`] (`decode::event_rows` with the table map and the
//! `information_schema` columns, and one record per row; again collected
//! into a `Vec`). The
//! TABLE_MAP event is parsed once, outside the measurement (the binlog
//! stream keeps it by table id). Real servers split a statement's rows into
//! events of about 8 KiB (`binlog_row_event_max_size`); one event of 1000
//! rows only amortises the per-event setup a little further.
//!
//! **`pgoutput_big_value/bytea_16mib`** (one Insert per iteration): the
//! same path as `pgoutput/insert` for one row of `big (id int4, n int4,
//! v bytea)` whose `v` is 16 MiB, sent as the server's hex text (`\x…`,
//! 32 MiB): parse, the UTF-8 check and hex-decoding the value into
//! `Bytes`. Throughput is in bytes of the value. This is the source side
//! of what `big_inputs::a_100_mb_bytea_replicates_postgres_to_postgres_through_the_stream`
//! checks for correctness and bounded memory (the test measures no time);
//! not covered: the initial copy, the target's write of the value.
//!
//! In all groups the records of an iteration are dropped outside the
//! measurement (`iter_batched`): in a pipeline the lanes and the target
//! drop them, not the source.
//!
//! **Allocator.** The bench runs on mimalloc, the binary's global allocator
//! (see `src/main.rs`), so the figures are the ones the process gets. (With
//! glibc malloc, freeing each iteration's 10 000 records gave the heap back to
//! the kernel and the next iteration page-faulted it in again, so a benchmark
//! measured 2-3x slower depending only on its position in the run.)
//!
//! `cargo bench --bench decode` (add `-- --warm-up-time 1 --measurement-time 3`
//! for a quick run).

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use logferry::record::{value::Kind, Change, ColumnSchema, Op, TableRef, TableSchema, Timestamp, Value};
use logferry::sources::mysql::catalog::Table;
use logferry::sources::mysql::decode::ColumnInfo;
use logferry::sources::mysql::row_records;
use logferry::sources::postgres::decode::{self, PgMessage};
use logferry::sources::postgres::{tuple_row, RowShape};
use logferry::sources::postgres::types::{self, PgType};
use logferry::sources::TxTail;
use mysql_async::binlog::events::{Event, EventData, FormatDescriptionEvent, TableMapEvent};
use mysql_async::binlog::BinlogVersion;
use std::collections::HashMap;

const PG_ROWS: usize = 10_000;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BINLOG_ROWS: usize = 1000;

// ---------------------------------------------------------------- pgoutput

const REL_OID: u32 = 16_385;
/// (name, type oid, type modifier): int8, int4, numeric(12,2), text, timestamptz.
const PG_COLUMNS: [(&str, u32, i32); 5] =
    [("id", 20, -1), ("qty", 23, -1), ("price", 1700, (12 << 16 | 2) + 4), ("note", 25, -1), ("updated_at", 1184, -1)];

fn cstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// 'R': the relation message the server sends before the table's first change.
fn pg_relation() -> Bytes {
    let mut m = vec![b'R'];
    m.extend_from_slice(&REL_OID.to_be_bytes());
    cstr(&mut m, "public");
    cstr(&mut m, "orders");
    m.push(b'd');
    m.extend_from_slice(&(PG_COLUMNS.len() as u16).to_be_bytes());
    for (i, (name, oid, typmod)) in PG_COLUMNS.iter().enumerate() {
        m.push(u8::from(i == 0));
        cstr(&mut m, name);
        m.extend_from_slice(&oid.to_be_bytes());
        m.extend_from_slice(&typmod.to_be_bytes());
    }
    Bytes::from(m)
}

/// The text form of row `i`, as the server prints it with logferry's
/// session settings (ISO dates, UTC).
fn pg_texts(i: usize) -> [String; 5] {
    [
        (10_000_000 + i).to_string(),
        (i % 7 + 1).to_string(),
        format!("{}.{:02}", 20 + i % 500, i % 100),
        format!("order {i}: leave at the back door, ring twice"),
        format!("2024-02-29 12:{:02}:{:02}.{:06}+00", i / 60 % 60, i % 60, i * 7 % 1_000_000),
    ]
}

/// 'I' (insert) or 'U' with 'N' (update, key unchanged: no old tuple): one
/// row with every column in text form.
fn pg_change(tag: u8, i: usize) -> Bytes {
    let mut m = vec![tag];
    m.extend_from_slice(&REL_OID.to_be_bytes());
    m.push(b'N');
    m.extend_from_slice(&(PG_COLUMNS.len() as u16).to_be_bytes());
    for text in pg_texts(i) {
        m.push(b't');
        m.extend_from_slice(&(text.len() as u32).to_be_bytes());
        m.extend_from_slice(text.as_bytes());
    }
    Bytes::from(m)
}

/// The `big` table of [`pgoutput_big_value`]: int4 key, int4, bytea.
const BIG_REL_OID: u32 = 16_386;
const BIG_COLUMNS: [(&str, u32, i32); 3] = [("id", 23, -1), ("n", 23, -1), ("v", 17, -1)];
const BIG_VALUE_LEN: usize = 16 << 20;

fn pg_big_relation() -> Bytes {
    let mut m = vec![b'R'];
    m.extend_from_slice(&BIG_REL_OID.to_be_bytes());
    cstr(&mut m, "public");
    cstr(&mut m, "big");
    m.push(b'd');
    m.extend_from_slice(&(BIG_COLUMNS.len() as u16).to_be_bytes());
    for (i, (name, oid, typmod)) in BIG_COLUMNS.iter().enumerate() {
        m.push(u8::from(i == 0));
        cstr(&mut m, name);
        m.extend_from_slice(&oid.to_be_bytes());
        m.extend_from_slice(&typmod.to_be_bytes());
    }
    Bytes::from(m)
}

/// An Insert of `big` with a [`BIG_VALUE_LEN`]-byte `v` in hex text form
/// (varied bytes, as the test's md5 blocks are).
fn pg_big_insert() -> Bytes {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut v = Vec::with_capacity(2 + 2 * BIG_VALUE_LEN);
    v.extend_from_slice(b"\\x");
    let mut x: u32 = 0x9e37_79b9;
    for _ in 0..BIG_VALUE_LEN {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let b = x as u8;
        v.push(HEX[usize::from(b >> 4)]);
        v.push(HEX[usize::from(b & 15)]);
    }
    let mut m = vec![b'I'];
    m.extend_from_slice(&BIG_REL_OID.to_be_bytes());
    m.push(b'N');
    m.extend_from_slice(&(BIG_COLUMNS.len() as u16).to_be_bytes());
    for text in [&b"1"[..], &b"0"[..], &v[..]] {
        m.push(b't');
        m.extend_from_slice(&(text.len() as u32).to_be_bytes());
        m.extend_from_slice(text);
    }
    Bytes::from(m)
}

/// What `stream.rs` keeps per relation (its `Rel`), as far as rows need it.
struct Rel {
    table: TableRef,
    columns: Vec<String>,
    types: Vec<PgType>,
    key: Vec<String>,
    schema: TableSchema,
}

fn pg_rel(msg: PgMessage) -> Rel {
    let PgMessage::Relation(r) = msg else { panic!("not a relation: {msg:?}") };
    let table = TableRef { schema: r.namespace.clone(), name: r.name.clone() };
    let columns: Vec<String> = r.columns.iter().map(|c| c.name.clone()).collect();
    let key: Vec<String> = r.columns.iter().filter(|c| c.is_key).map(|c| c.name.clone()).collect();
    let schema = TableSchema {
        table: Some(table.clone()),
        columns: columns.iter().map(|name| ColumnSchema { name: name.clone(), ..Default::default() }).collect(),
        key_columns: key.clone(),
        documents: false,
    };
    Rel {
        table,
        columns,
        // Builtin types resolve without a catalog query (TypeResolver::resolve).
        types: r.columns.iter().map(|c| types::builtin_oid(c.type_oid).expect("builtin type")).collect(),
        key,
        schema,
    }
}

/// `Streamer::message` + `base` for an Insert or Update (no old tuple); the
/// row itself is the stream's own [`tuple_row`].
fn pg_record(rels: &HashMap<u32, Rel>, msg: PgMessage, xid: u32, time: Timestamp) -> Result<Change, String> {
    let (op, relation, new) = match msg {
        PgMessage::Insert { relation, new } => (Op::Insert, relation, new),
        PgMessage::Update { relation, old: None, new } => (Op::Update, relation, new),
        other => return Err(format!("unexpected {}", other.kind_name())),
    };
    let rel = rels.get(&relation).ok_or_else(|| format!("change for relation {relation} before its Relation message"))?;
    let shape = RowShape { table: &rel.table, columns: &rel.columns, types: &rel.types, schema: &rel.schema };
    let after = tuple_row("postgres", &shape, &new).map_err(|e| e.to_string())?;
    Ok(Change {
        pipeline: String::new(),
        source: "postgres".into(),
        op: op as i32,
        table: Some(rel.table.clone()),
        key_columns: rel.key.clone(),
        tx_id: xid.to_string(),
        commit_time: Some(time),
        after: Some(after),
        ..Default::default()
    })
}

/// One iteration: every message parsed and turned into a record.
fn pg_decode(rels: &HashMap<u32, Rel>, messages: &[Bytes], out: &mut Vec<Change>) {
    let pipeline = "shop".to_string();
    let time = Timestamp { seconds: 1_709_210_096, nanos: 123_456_000, special: 0 };
    let mut tail = TxTail::default();
    for data in messages {
        let msg = decode::parse(data).expect("valid pgoutput");
        let mut rec = pg_record(rels, msg, 771, time).expect("valid row");
        rec.pipeline = pipeline.clone();
        if let Some(prev) = tail.hold(rec) {
            out.push(prev);
        }
    }
    out.extend(tail.take());
}

fn pgoutput(c: &mut Criterion) {
    let rel = pg_rel(decode::parse(&pg_relation()).expect("relation parses"));
    let rels: HashMap<u32, Rel> = [(REL_OID, rel)].into_iter().collect();
    let inserts: Vec<Bytes> = (0..PG_ROWS).map(|i| pg_change(b'I', i)).collect();
    let updates: Vec<Bytes> = (0..PG_ROWS).map(|i| pg_change(b'U', i)).collect();

    // The bytes decode to what they should (the benchmark measures the
    // success path, not an error).
    let mut out = Vec::with_capacity(PG_ROWS);
    pg_decode(&rels, &inserts[..1], &mut out);
    let row = out[0].after.as_ref().expect("after image");
    assert_eq!(row.get("id"), Some(&Value::int64(10_000_000)));
    assert_eq!(row.get("qty"), Some(&Value::int64(1)));
    assert_eq!(row.get("price"), Some(&Value::of(Kind::Decimal("20.00".into()))));
    assert!(matches!(row.get("updated_at").and_then(|v| v.kind.as_ref()), Some(Kind::Timestamptz(_))));
    println!(
        "pgoutput: {} bytes per Insert message ({} columns)",
        inserts.iter().map(Bytes::len).sum::<usize>() / PG_ROWS,
        PG_COLUMNS.len()
    );

    let mut g = c.benchmark_group("pgoutput");
    g.throughput(Throughput::Elements(PG_ROWS as u64));
    for (name, messages) in [("insert", &inserts), ("update", &updates)] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || Vec::with_capacity(PG_ROWS),
                |mut out| {
                    pg_decode(&rels, black_box(messages), &mut out);
                    assert_eq!(out.len(), PG_ROWS);
                    out
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn pgoutput_big_value(c: &mut Criterion) {
    let rel = pg_rel(decode::parse(&pg_big_relation()).expect("relation parses"));
    let rels: HashMap<u32, Rel> = [(BIG_REL_OID, rel)].into_iter().collect();
    let messages = [pg_big_insert()];

    // The value decodes to its bytes.
    let mut out = Vec::with_capacity(1);
    pg_decode(&rels, &messages, &mut out);
    let row = out[0].after.as_ref().expect("after image");
    assert_eq!(row.get("id"), Some(&Value::int64(1)));
    match row.get("v").and_then(|v| v.kind.as_ref()) {
        Some(Kind::Bytes(b)) => assert_eq!(b.len(), BIG_VALUE_LEN),
        other => panic!("v is not bytes: {other:?}"),
    }
    drop(out);

    let mut g = c.benchmark_group("pgoutput_big_value");
    g.throughput(Throughput::Bytes(BIG_VALUE_LEN as u64));
    g.sample_size(10);
    g.bench_function("bytea_16mib", |b| {
        b.iter_batched(
            || Vec::with_capacity(1),
            |mut out| {
                pg_decode(&rels, black_box(&messages), &mut out);
                assert_eq!(out.len(), 1);
                out
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

// ------------------------------------------------------------------ binlog

/// A v4 event: 19-byte header (no checksum) and `body`.
fn binlog_event(type_code: u8, body: &[u8]) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(&1_709_210_096u32.to_le_bytes());
    e.push(type_code);
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&(19 + body.len() as u32).to_le_bytes());
    e.extend_from_slice(&0u32.to_le_bytes());
    e.extend_from_slice(&0u16.to_le_bytes());
    e.extend_from_slice(body);
    e
}

const TABLE_ID: u64 = 7;

/// LONGLONG, LONG, NEWDECIMAL(12,2), VARCHAR(100) utf8mb4 (400 bytes),
/// DATETIME2(6).
const MY_TYPES: [u8; 5] = [8, 3, 246, 15, 18];
const MY_META: [u8; 5] = [12, 2, 0x90, 0x01, 6];

/// TABLE_MAP for `shop.orders`; every column but `id` nullable.
fn my_table_map() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&TABLE_ID.to_le_bytes()[..6]);
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&[4, b's', b'h', b'o', b'p', 0, 6, b'o', b'r', b'd', b'e', b'r', b's', 0]);
    b.push(MY_TYPES.len() as u8);
    b.extend_from_slice(&MY_TYPES);
    b.push(MY_META.len() as u8);
    b.extend_from_slice(&MY_META);
    b.push(0b1_1110);
    binlog_event(19, &b)
}

fn my_columns() -> Vec<ColumnInfo> {
    let col = |name: &str, data_type: &str, column_type: &str, charset: Option<&str>| ColumnInfo {
        name: name.into(),
        data_type: data_type.into(),
        column_type: column_type.into(),
        charset: charset.map(str::to_string),
        is_json: false,
    };
    vec![
        col("id", "bigint", "bigint(20)", None),
        col("qty", "int", "int(11)", None),
        col("price", "decimal", "decimal(12,2)", None),
        col("note", "varchar", "varchar(100)", Some("utf8mb4")),
        col("updated_at", "datetime", "datetime(6)", None),
    ]
}

/// MySQL's binary DECIMAL(12,2) of `units` hundredths (non-negative): one
/// byte for the 10th integer digit, 4 for the other 9, 1 for the fraction.
fn decimal_12_2(units: u64) -> [u8; 6] {
    let (int, frac) = (units / 100, units % 100);
    let mut b = [0u8; 6];
    b[0] = (int / 1_000_000_000) as u8;
    b[1..5].copy_from_slice(&((int % 1_000_000_000) as u32).to_be_bytes());
    b[5] = frac as u8;
    b[0] ^= 0x80;
    b
}

/// DATETIME2(6): 5 bytes big-endian (offset by 2^39), then 3 bytes of µs.
fn datetime2_6(y: u64, mo: u64, d: u64, h: u64, mi: u64, s: u64, us: u32) -> [u8; 8] {
    let ymd = ((y * 13 + mo) << 5) | d;
    let hms = (h << 12) | (mi << 6) | s;
    let packed = ((ymd << 17) | hms) + 0x80_0000_0000;
    let mut b = [0u8; 8];
    b[..5].copy_from_slice(&packed.to_be_bytes()[3..]);
    b[5..].copy_from_slice(&us.to_be_bytes()[1..]);
    b
}

/// One row image of row `i`: NULL bitmap (no NULLs), then the values.
fn my_image(i: usize, out: &mut Vec<u8>) {
    out.push(0);
    out.extend_from_slice(&(10_000_000 + i as i64).to_le_bytes());
    out.extend_from_slice(&((i % 7 + 1) as i32).to_le_bytes());
    out.extend_from_slice(&decimal_12_2(((20 + i % 500) * 100 + i % 100) as u64));
    let note = format!("order {i}: leave at the back door, ring twice");
    out.extend_from_slice(&(note.len() as u16).to_le_bytes());
    out.extend_from_slice(note.as_bytes());
    out.extend_from_slice(&datetime2_6(2024, 2, 29, 12, (i / 60 % 60) as u64, (i % 60) as u64, (i * 7 % 1_000_000) as u32));
}

/// A v2 rows event (30 write, 31 update) of `rows` rows.
fn my_rows_event(type_code: u8, rows: usize) -> Vec<u8> {
    let n = MY_TYPES.len();
    let mut b = Vec::new();
    b.extend_from_slice(&TABLE_ID.to_le_bytes()[..6]);
    b.extend_from_slice(&1u16.to_le_bytes()); // STMT_END_F
    b.extend_from_slice(&2u16.to_le_bytes()); // no extra data
    b.push(n as u8);
    let images = if type_code == 31 { 2 } else { 1 };
    for _ in 0..images {
        b.extend(std::iter::repeat_n(0xff, n.div_ceil(8)));
    }
    for i in 0..rows {
        if type_code == 31 {
            my_image(i + 1, &mut b);
        }
        my_image(i, &mut b);
    }
    binlog_event(type_code, &b)
}

fn my_read(fde: &FormatDescriptionEvent<'_>, bytes: &[u8]) -> EventData<'static> {
    let ev = Event::read(fde, bytes).expect("event reads");
    ev.read_data().expect("event data").expect("known event").into_owned()
}

/// One iteration: the event read from its bytes, its rows decoded, one
/// record per row (the stream's own [`row_records`], as
/// `Streamer::rows` in `src/sources/mysql/stream.rs` calls it).
fn my_decode(fde: &FormatDescriptionEvent<'_>, tme: &TableMapEvent<'_>, table: &Table, bytes: &[u8], out: &mut Vec<Change>) {
    let event = Event::read(fde, bytes).expect("event reads");
    let Some(EventData::RowsEvent(rows)) = event.read_data().expect("event data") else { panic!("not a rows event") };
    out.extend(row_records(&rows, tme, table).expect("rows decode"));
}

fn binlog(c: &mut Criterion) {
    let fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
    let EventData::TableMapEvent(tme) = my_read(&fde, &my_table_map()) else { panic!("not a table map") };
    let columns = my_columns();
    let nullable = vec![true; columns.len()];
    let table = Table { database: "shop".into(), name: "orders".into(), key: vec!["id".into()], key_from_rule: false, columns, nullable };
    let writes = my_rows_event(30, BINLOG_ROWS);
    let updates = my_rows_event(31, BINLOG_ROWS);

    let mut out = Vec::with_capacity(BINLOG_ROWS);
    my_decode(&fde, &tme, &table, &writes, &mut out);
    let row = out[0].after.as_ref().expect("after image");
    assert_eq!(row.get("id"), Some(&Value::int64(10_000_000)));
    assert_eq!(row.get("qty"), Some(&Value::int64(1)));
    assert_eq!(row.get("price"), Some(&Value::of(Kind::Decimal("20.00".into()))));
    assert_eq!(row.get("note"), Some(&Value::text("order 0: leave at the back door, ring twice")));
    let Some(Kind::Timestamp(ts)) = row.get("updated_at").and_then(|v| v.kind.as_ref()) else { panic!("{row:?}") };
    assert_eq!(ts.seconds, 1_709_208_000, "2024-02-29 12:00:00");
    println!("binlog: {} bytes per WRITE_ROWS row image", (writes.len() - 19 - 12) / BINLOG_ROWS);

    let mut g = c.benchmark_group("binlog");
    g.throughput(Throughput::Elements(BINLOG_ROWS as u64));
    for (name, bytes) in [("write_rows", &writes), ("update_rows", &updates)] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || Vec::with_capacity(BINLOG_ROWS),
                |mut out| {
                    my_decode(&fde, &tme, &table, black_box(bytes), &mut out);
                    assert_eq!(out.len(), BINLOG_ROWS);
                    out
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, pgoutput, pgoutput_big_value, binlog);
criterion_main!(benches);
