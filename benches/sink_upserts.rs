//! The SQL targets against their real servers: 100 batches of 1000 narrow
//! upserts (`id bigint` key, `v bigint`, `s text`) on one lane, half of
//! them updates of existing keys, applied with `Sink::apply` — what
//! `sql_targets::*::many_batches_of_upserts_on_one_lane` checks for
//! correctness, measured here. Throughput is in rows.
//!
//! Needs the test servers: `LOGFERRY_TEST_PG_URL` (a superuser URL; the
//! bench makes its own database `lf_bench_upserts_<pid>`) and
//! `LOGFERRY_TEST_MARIADB_URL` (root, without a database); a target whose
//! URL is not set is skipped with a note. The databases are dropped at the
//! end.
//!
//! `cargo bench --bench sink_upserts` (add `-- --warm-up-time 1
//! --measurement-time 10` for a quick run; one iteration is 100 000 rows).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logferry::record::{Change, ColumnSchema, Op, Row, SchemaChange, TableRef, TableSchema, Value};
use logferry::sinks::mysql::{MysqlSink, MysqlSinkConfig};
use logferry::sinks::postgres::{PostgresSink, PostgresSinkConfig};
use logferry::sinks::{Batch, Sink};
use mysql_async::prelude::Queryable;

const ROWS: i64 = 100_000;
const BATCH: i64 = 1_000;

fn table() -> Option<TableRef> {
    Some(TableRef { schema: "public".into(), name: "narrow".into() })
}

fn schema() -> Change {
    let col = |name: &str, ty: &str, nullable| ColumnSchema { name: name.into(), source_type: ty.into(), nullable, ..Default::default() };
    Change {
        op: Op::SchemaChange as i32,
        source: "postgres".into(),
        table: table(),
        schema_change: Some(SchemaChange {
            schema: Some(TableSchema {
                table: table(),
                columns: vec![col("id", "bigint", false), col("v", "bigint", true), col("s", "text", true)],
                key_columns: vec!["id".into()],
                documents: false,
            }),
            ddl: String::new(),
        }),
        ..Default::default()
    }
}

/// The workload: 100 batches, keys cycling over 50 000 ids.
fn batches() -> Vec<Vec<Change>> {
    (0..ROWS / BATCH)
        .map(|b| {
            (0..BATCH)
                .map(|i| {
                    let id = (b * BATCH + i) % 50_000;
                    Change {
                        op: Op::Insert as i32,
                        source: "postgres".into(),
                        seq: (b * BATCH + i) as u64,
                        table: table(),
                        key_columns: vec!["id".into()],
                        after: Some(Row::from_pairs([("id", Value::int64(id)), ("v", Value::int64(b)), ("s", Value::text("some text"))])),
                        ..Default::default()
                    }
                })
                .collect()
        })
        .collect()
}

fn run(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, sink: &dyn Sink) {
    rt.block_on(sink.apply(&Batch { lane: 0, records: vec![schema()], order: None })).expect("create the table");
    let batches = batches();
    let mut g = c.benchmark_group("sink_upserts");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.sample_size(10);
    g.bench_function(name, |b| {
        b.iter(|| {
            rt.block_on(async {
                for records in &batches {
                    sink.apply(&Batch { lane: 0, records: records.clone(), order: None }).await.expect("apply");
                }
            })
        })
    });
    g.finish();
}

fn postgres(c: &mut Criterion) {
    let Ok(server) = std::env::var("LOGFERRY_TEST_PG_URL") else {
        eprintln!("sink_upserts/postgres skipped: LOGFERRY_TEST_PG_URL is not set");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = format!("lf_bench_upserts_{}", std::process::id());
    let admin = rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&server, tokio_postgres::NoTls).await.expect("connect to the PostgreSQL server");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\"")).await.unwrap();
        client.batch_execute(&format!("CREATE DATABASE \"{db}\"")).await.unwrap();
        client
    });
    let url = format!("{}/{db}", &server[..server.rfind('/').expect("URL has a path")]);
    let sink = rt.block_on(PostgresSink::connect(PostgresSinkConfig { url, namespace: None, create_tables: true, lanes: 1 })).expect("connect");
    run(c, "postgres", &rt, &sink);
    rt.block_on(async {
        sink.close().await.unwrap();
        drop(sink);
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)")).await.unwrap();
    });
}

fn mysql(c: &mut Criterion) {
    let Ok(server) = std::env::var("LOGFERRY_TEST_MARIADB_URL") else {
        eprintln!("sink_upserts/mysql skipped: LOGFERRY_TEST_MARIADB_URL is not set");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = format!("lf_bench_upserts_{}", std::process::id());
    let admin = mysql_async::Pool::new(server.as_str());
    rt.block_on(async {
        let mut conn = admin.get_conn().await.expect("connect to the MariaDB server");
        conn.query_drop(format!("DROP DATABASE IF EXISTS `{db}`; CREATE DATABASE `{db}`")).await.unwrap();
    });
    let url = format!("{server}/{db}");
    let sink = rt.block_on(MysqlSink::connect(MysqlSinkConfig { url, namespace: None, create_tables: true, lanes: 1 })).expect("connect");
    run(c, "mysql", &rt, &sink);
    rt.block_on(async {
        sink.close().await.unwrap();
        let mut conn = admin.get_conn().await.unwrap();
        conn.query_drop(format!("DROP DATABASE IF EXISTS `{db}`")).await.unwrap();
        drop(conn);
        let _ = admin.disconnect().await;
    });
}

criterion_group!(benches, postgres, mysql);
criterion_main!(benches);
