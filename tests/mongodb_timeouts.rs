//! MongoDB target timeouts: a server that takes the TCP connection and
//! never answers, and one that stops answering in the middle of the run,
//! show up as transient errors (retried) within seconds, not after the
//! driver's 30 s server selection or never (it has no socket timeout).

use crate::support::proxy::Proxy;
use crate::support::records::row_change;
use bson::doc;
use logferry::config::{MongodbTargetConfig, SecretUrl};
use logferry::record::bson::document_to_row;
use logferry::record::Op;
use logferry::sinks::mongodb::{MongodbSink, APPLY_TIMEOUT};
use logferry::sinks::{Batch, Sink};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

/// The test server's address (`LOGFERRY_TEST_MONGO_URL`, a loopback host).
fn server_addr() -> SocketAddr {
    let url = std::env::var("LOGFERRY_TEST_MONGO_URL").expect("LOGFERRY_TEST_MONGO_URL is not set: scripts/test starts a MongoDB stand-in and sets it");
    let rest = url.split_once("://").unwrap().1;
    let host = rest.split(['/', '?']).next().unwrap();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    host.parse().unwrap_or_else(|_| panic!("expected host:port of an IP in {url}"))
}

/// This process's database (scripts/test drops leftover `lf_*` ones).
fn db() -> String {
    format!("lf_timeouts_{}", std::process::id())
}

fn insert(id: i64) -> Batch {
    let mut c = row_change("mongodb", Op::Insert, &db(), "items", &["_id"], None, Some(document_to_row(&doc! { "_id": id, "n": id })));
    c.seq = id as u64;
    Batch { lane: 0, records: vec![c], order: None }
}

#[tokio::test]
async fn a_server_that_takes_the_connection_and_never_answers_is_a_transient_error_within_seconds() {
    // Accepts every connection and holds it open without a byte.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().map_while(Result::ok) {
            held.push(s);
        }
    });
    // No timeouts in the URL: logferry's own apply.
    let url = format!("mongodb://lf:pw-secret@127.0.0.1:{port}/?directConnection=true");
    let cfg = MongodbTargetConfig { url: SecretUrl::new(url), database: Some("shop".into()), transaction: false };
    let start = Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(60), MongodbSink::connect(&cfg, 1))
        .await
        .expect("connect gives up by itself")
        .err()
        .expect("a server that never answers is not connected to");
    let took = start.elapsed();
    assert!(e.is_transient(), "retried, not fatal: {e}");
    assert!(took < Duration::from_secs(20), "the driver's default would wait 30 s; took {took:?}: {e}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")) && !e.to_string().contains("pw-secret"), "{e}");
}

#[test]
fn a_server_that_stops_answering_mid_run_fails_the_batch_transient_and_the_retry_heals() {
    // The proxy runs its own runtime: start it outside ours.
    let proxy = Proxy::start(server_addr());
    tokio::runtime::Runtime::new().unwrap().block_on(stops_answering(proxy));
}

async fn stops_answering(proxy: Proxy) {
    let url = format!("mongodb://{}/?directConnection=true", proxy.addr());
    let cfg = MongodbTargetConfig { url: SecretUrl::new(url), database: None, transaction: false };
    let sink = MongodbSink::connect(&cfg, 1).await.unwrap_or_else(|e| panic!("connect: {e}"));
    sink.apply(&insert(1)).await.unwrap();

    // The network drops everything, connections stay open.
    proxy.blackhole();
    let start = Instant::now();
    let e = tokio::time::timeout(APPLY_TIMEOUT + Duration::from_secs(30), sink.apply(&insert(2)))
        .await
        .expect("the apply gives up by itself")
        .expect_err("nothing reaches the server");
    assert!(e.is_transient(), "retried, not fatal: {e}");
    assert!(start.elapsed() <= APPLY_TIMEOUT + Duration::from_secs(10), "took {:?}: {e}", start.elapsed());

    // The partition heals: the same batch goes through on a retry.
    proxy.pass();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match sink.apply(&insert(2)).await {
            Ok(()) => break,
            Err(e) if e.is_transient() && Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(e) => panic!("the retry after the outage fails: {e}"),
        }
    }
    let client = mongodb::Client::with_uri_str(std::env::var("LOGFERRY_TEST_MONGO_URL").unwrap()).await.unwrap();
    let coll = client.database(&db()).collection::<bson::Document>("items");
    for id in [1i64, 2] {
        assert!(coll.find_one(doc! { "_id": id }).await.unwrap().is_some(), "document {id}");
    }
}
