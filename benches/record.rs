//! Encoding and decoding of the canonical record: JSON lines and
//! length-delimited protobuf, on a batch of "narrow" rows (10 columns:
//! integers, text, decimals, timestamptz, bool), the common OLTP shape.
//! Throughput is in records.
//!
//! `cargo bench --bench record` (add `-- --warm-up-time 1 --measurement-time 3`
//! for a quick run).

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use logferry::record::{
    json, proto, value::Kind, Change, Op, Position, Row, TableRef, Timestamp, Value,
};

const BATCH: usize = 1000;

fn narrow(i: u64) -> Change {
    let t = 1_709_207_100 + i as i64;
    let tz = |seconds, nanos| Value::of(Kind::Timestamptz(Timestamp { seconds, nanos, special: 0 }));
    Change {
        pipeline: "shop".into(),
        source: "postgres".into(),
        seq: 1_000_000 + i,
        op: Op::Insert as i32,
        table: Some(TableRef { schema: "public".into(), name: "orders".into() }),
        key_columns: vec!["id".into()],
        after: Some(Row::from_pairs([
            ("id", Value::int64(10_000_000 + i as i64)),
            ("customer_id", Value::int64(4242 + (i as i64 % 977))),
            ("status", Value::text(if i % 3 == 0 { "paid" } else { "pending" })),
            ("sku", Value::text(format!("SKU-{:06}", i % 50_000))),
            ("qty", Value::of(Kind::Int32((i % 7) as i32 + 1))),
            ("price", Value::of(Kind::Decimal("19.99".into()))),
            ("total", Value::of(Kind::Decimal(format!("{}.{:02}", 20 + i % 500, i % 100)))),
            ("created_at", tz(t, 123_456_000)),
            ("updated_at", tz(t + 5, 0)),
            ("paid", Value::of(Kind::Bool(i % 3 == 0))),
        ])),
        position: Some(Position {
            token: Bytes::copy_from_slice(&(0x16B_3748 + i * 64).to_be_bytes()),
            display: format!("0/{:X}", 0x16B_3748 + i * 64),
        }),
        tx_id: (771 + i / 10).to_string(),
        commit_time: Some(Timestamp { seconds: t, nanos: 500_000_000, special: 0 }),
        tx_end: i % 10 == 9,
        ..Change::default()
    }
}

fn bench_record(c: &mut Criterion) {
    let records: Vec<Change> = (0..BATCH as u64).map(narrow).collect();

    let mut json_lines = Vec::new();
    for r in &records {
        json::write_change(r, &mut json_lines);
        json_lines.push(b'\n');
    }
    let mut protobuf = Vec::new();
    for r in &records {
        proto::encode_delimited(r, &mut protobuf);
    }
    println!(
        "narrow record: {} bytes as JSON, {} bytes as protobuf",
        json_lines.len() / BATCH,
        protobuf.len() / BATCH
    );

    let mut g = c.benchmark_group("record/narrow");
    g.throughput(Throughput::Elements(BATCH as u64));

    let mut buf = Vec::with_capacity(json_lines.len());
    g.bench_function("encode_json", |b| {
        b.iter(|| {
            buf.clear();
            for r in &records {
                json::write_change(black_box(r), &mut buf);
                buf.push(b'\n');
            }
            black_box(buf.len())
        })
    });

    let mut buf = Vec::with_capacity(protobuf.len());
    g.bench_function("encode_protobuf", |b| {
        b.iter(|| {
            buf.clear();
            for r in &records {
                proto::encode_delimited(black_box(r), &mut buf);
            }
            black_box(buf.len())
        })
    });

    g.bench_function("decode_json", |b| {
        b.iter(|| {
            let mut n = 0;
            for line in black_box(&json_lines[..json_lines.len() - 1]).split(|&b| b == b'\n') {
                let c = json::read_change(line).expect("valid line");
                n += c.seq;
            }
            black_box(n)
        })
    });

    g.bench_function("decode_protobuf", |b| {
        b.iter(|| {
            let all = proto::decode_all(black_box(&protobuf)).expect("valid stream");
            assert_eq!(all.len(), BATCH);
            black_box(all)
        })
    });

    g.finish();
}

criterion_group!(benches, bench_record);
criterion_main!(benches);
