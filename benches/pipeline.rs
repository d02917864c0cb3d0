//! Router and ack-tracker costs per record: `route_hash` (which lane a
//! record goes to) and acknowledging records out of order.
//! Run: `cargo bench --bench pipeline`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use logferry::pipeline::AckTracker;
use logferry::record::{Change, Op, Row, TableRef, Value};

fn record(id: i64) -> Change {
    Change {
        op: Op::Update as i32,
        table: Some(TableRef { schema: "public".into(), name: "orders".into() }),
        key_columns: vec!["id".into()],
        after: Some(Row::from_pairs([("id", Value::int64(id)), ("note", Value::text("x".repeat(40)))])),
        ..Default::default()
    }
}

fn router(c: &mut Criterion) {
    let records: Vec<Change> = (0..1000).map(record).collect();
    let mut g = c.benchmark_group("router");
    g.throughput(Throughput::Elements(records.len() as u64));
    g.bench_function("route_hash_1000", |b| {
        b.iter(|| records.iter().map(|r| (r.route_hash() % 8) as usize).sum::<usize>())
    });
    g.finish();
}

fn ack_tracker(c: &mut Criterion) {
    // Acks arrive lane by lane: 8 interleaved strides, the shape lanes produce.
    let n = 10_000u64;
    let order: Vec<u64> = (0..8).flat_map(|lane| (1..=n).filter(move |s| s % 8 == lane)).collect();
    let mut g = c.benchmark_group("ack_tracker");
    g.throughput(Throughput::Elements(n));
    g.bench_function("ack_10000_interleaved", |b| {
        b.iter_batched(
            || AckTracker::new(0),
            |mut t| {
                for &s in &order {
                    t.ack(s);
                }
                assert_eq!(t.watermark(), n);
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, router, ack_tracker);
criterion_main!(benches);
