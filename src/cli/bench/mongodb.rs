//! `logferry bench --source mongodb`: builds a MongoDB change-stream
//! backlog, catches it up with logferry in this process, and (with
//! `--compare`) drains the same backlog with a plain change-stream loop of
//! the MongoDB driver in the same process, printing rows/s, peak RSS, CPU
//! per change, logferry's stage seconds and the ratio.
//!
//! ```text
//! LOGFERRY_BENCH_MONGO_URL='mongodb://127.0.0.1:27017/?replicaSet=rs0' logferry bench --source mongodb \
//!     [--target postgres|file|discard] [--pg-url postgres://postgres:pw@127.0.0.1:5432/postgres] \
//!     [--rows 1000000] [--width 100] [--updates 0] [--deletes 0] \
//!     [--lanes 8] [--batch 1000] [--spool] [--compare] [--repeat N] [--json] [--prefix lfbench]
//! ```
//!
//! The server at `--mongo-url` must serve change streams (a replica set
//! member or a `mongos`), and its oplog must hold the whole backlog (a
//! start point that fell out of it fails the run with the server's
//! `ChangeStreamHistoryLost`; SecantusDB, the stand-in the tests use, keeps
//! 100 000 entries unless started with `--oplog-max-entries`). Database
//! `<prefix>_src` (collection `items`) is created there, and with
//! `--target postgres` (the default, which needs `--pg-url`) database
//! `<prefix>_mongo_dst` on PostgreSQL; both are dropped first if they exist
//! and dropped again at the end, also when the bench fails.
//!
//! A first logferry run over the empty collection (`snapshot = "never"`)
//! makes its start point (a change-stream resume token) durable; the
//! comparison reader resumes after that same token, read back from
//! logferry's checkpoint. Then the backlog: `--rows` documents inserted
//! with `insert_many`, 1000 per call (`_id` 1…N as int64, `qty` int32,
//! `price` double, `note` a string of `--width` bytes, `updated_at` a
//! date), then one `update_many` of the first `--updates` documents
//! (`$inc` of `qty`) and one `delete_many` of the first `--deletes`: one
//! change event per document each. `--tx-rows` does not apply.
//!
//! Readers, one after another:
//! - the driver's change stream (`--compare`): `watch()` on `<prefix>_src`
//!   with `resumeAfter` the start token and `fullDocument: updateLookup`
//!   (what logferry asks for by default), each event decoded by the driver
//!   into its change-event type and dropped, until the N + U + D events of
//!   `items` have arrived — the read floor of this server and driver;
//! - logferry (`run --once` in this process): its mongodb source into the
//!   target (`postgres`: `<prefix>_mongo_dst`, one table `items` of `_id`
//!   and the document as canonical Extended JSON; `file`: protobuf in a temp
//!   dir; `discard`: counted and acknowledged, nothing written). A
//!   PostgreSQL target is checked equal to the source afterwards: the
//!   document count and an order-independent digest (the sum of the first 64
//!   bits of each document's SHA-256, over its canonical Extended JSON with
//!   keys sorted, since jsonb does not keep field order); the bench fails if
//!   they differ.
//!
//! Peak RSS is this process's high-water mark, reset just before each
//! reader starts (`/proc/self/clear_refs`); CPU seconds are this process's
//! user + system time during that reader's run (the server's CPU is not
//! counted); logferry's stage seconds are the pipeline's own, read+decode
//! ≈ wall − source waiting. `--repeat N` reruns everything N times (a new
//! backlog each round) and prints medians with min–max. No timing is
//! asserted anywhere: the figures are printed, nothing more.

use super::report::{json_str, num, LfFigures};
use super::{connect, cpu_seconds, describe, fail, peak_rss_kib, run_logferry, with_db, BenchArgs, WorkDir};
use crate::checkpoint::CheckpointStore;
use crate::cli::CliError;
use crate::pipeline::PipelineStats;
use crate::sources::mongodb::MongoPosition;
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::change_stream::event::{OperationType, ResumeToken};
use mongodb::options::FullDocumentType;
use mongodb::Client;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::Client as PgClient;

/// Documents per `insert_many`.
const INSERT_BATCH: u64 = 1000;
/// The widest `note`: a document must stay under MongoDB's 16 MiB.
const MAX_WIDTH: usize = 1_000_000;
/// How long the comparison reader waits for the next event before it
/// gives up (the backlog is all written before it starts).
const STALL: Duration = Duration::from_secs(60);
/// The collection the backlog goes into.
const COLL: &str = "items";
/// The name of the comparison reader.
const DRIVER_READER: &str = "driver change stream (read only)";

/// Runs the MongoDB bench; prints the result.
pub(super) async fn run(args: &BenchArgs) -> Result<(), CliError> {
    // --rows, --lanes, --batch and --prefix are checked by the caller.
    let Some(url) = args.mongo_url.as_deref() else {
        return Err(CliError::Usage(
            "bench: --source mongodb needs --mongo-url or LOGFERRY_BENCH_MONGO_URL (a MongoDB replica set member or mongos, \
             like mongodb://127.0.0.1:27017/?replicaSet=rs0)"
                .into(),
        ));
    };
    let pg_url = match (args.target.as_str(), args.pg_url.as_deref()) {
        ("postgres", None) => {
            return Err(CliError::Usage(
                "bench: --target postgres needs --pg-url or LOGFERRY_BENCH_PG_URL (a PostgreSQL superuser URL to create the target database on); \
                 or use --target file or --target discard"
                    .into(),
            ))
        }
        ("postgres", Some(u)) => Some(u),
        _ => None,
    };
    if args.tx_rows != 0 {
        return Err(CliError::Usage(
            "bench: --tx-rows does not apply to --source mongodb (the inserts go in insert_many calls of 1000 documents, no transactions); leave it out"
                .into(),
        ));
    }
    if args.width > MAX_WIDTH {
        return Err(CliError::Usage(format!(
            "bench: --width is at most {MAX_WIDTH} with --source mongodb (a document must stay under 16 MiB)"
        )));
    }
    let client = mongo_connect(url).await?;
    let server = check_server(&client).await?;
    let pg_admin = match pg_url {
        Some(u) => Some(connect(u).await?),
        None => None,
    };
    let mut reports = Vec::new();
    for _ in 0..args.repeat {
        cleanup(&client, pg_admin.as_ref(), &args.prefix).await?;
        let result = bench(args, url, &client, pg_url.zip(pg_admin.as_ref())).await;
        // Dropped also when the bench failed; its own error comes first.
        let cleaned = cleanup(&client, pg_admin.as_ref(), &args.prefix).await;
        reports.push(result?);
        cleaned?;
    }
    match reports.as_slice() {
        [one] => one.print(args, &server),
        many => {
            let rounds: Vec<super::repeat::Round> = many
                .iter()
                .map(|r| super::repeat::Round {
                    readers: r.figures.iter().map(|f| (f.name.to_string(), f.seconds)).collect(),
                    changes: r.changes,
                    cpu_s: r.lf.cpu_s,
                    rss_kib: r.lf.rss_kib,
                })
                .collect();
            super::repeat::print(args, &rounds);
        }
    }
    Ok(())
}

/// One reader's figures.
struct Figure {
    name: &'static str,
    seconds: f64,
    cpu_s: f64,
    rss_kib: u64,
}

/// Everything one round measured.
struct Report {
    changes: u64,
    figures: Vec<Figure>,
    lf: LfFigures,
    /// Records the timed logferry run received.
    records: u64,
    verified: bool,
}

/// The body between the two cleanups.
/// `pg`: `--pg-url` and a connection to it, with `--target postgres`.
async fn bench(args: &BenchArgs, url: &str, client: &Client, pg: Option<(&str, &PgClient)>) -> Result<Report, CliError> {
    let p = &args.prefix;
    let (src, dst) = (format!("{p}_src"), format!("{p}_mongo_dst"));
    let db = client.database(&src);
    db.create_collection(COLL).await.map_err(|e| fail("creating the source collection on --mongo-url", e))?;
    let pg_url = pg.map(|(u, _)| u);
    if let Some((_, pg)) = pg {
        pg.batch_execute(&format!("CREATE DATABASE {dst}")).await.map_err(|e| fail("creating the target database", describe(e)))?;
    }

    let work = WorkDir::new(p)?;
    let config = pipeline_config(args, work.path(), url, &src, pg_url.map(|u| with_db(u, &dst)).as_deref());
    // An empty run: logferry's start point is now durable in its checkpoint.
    run_logferry(&config, work.path(), Default::default()).await?;
    let start = start_token(work.path())?;

    // The backlog.
    let items = db.collection::<Document>(COLL);
    let mut first = 1u64;
    while first <= args.rows {
        let last = (first + INSERT_BATCH - 1).min(args.rows);
        let docs: Vec<Document> = (first..=last).map(|i| document(i, args.width)).collect();
        items.insert_many(docs).await.map_err(|e| fail("writing the backlog (insert_many)", e))?;
        first = last + 1;
    }
    let (updates, deletes) = (args.updates.min(args.rows), args.deletes.min(args.rows));
    if updates > 0 {
        items
            .update_many(doc! {"_id": {"$lte": updates as i64}}, doc! {"$inc": {"qty": 1}})
            .await
            .map_err(|e| fail("writing the backlog (update_many)", e))?;
    }
    if deletes > 0 {
        items.delete_many(doc! {"_id": {"$lte": deletes as i64}}).await.map_err(|e| fail("writing the backlog (delete_many)", e))?;
    }
    let changes = args.rows + updates + deletes;

    let mut figures = Vec::new();
    if args.compare {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let cpu0 = cpu_seconds();
        let t0 = Instant::now();
        drain(client, &src, start, changes).await?;
        let seconds = t0.elapsed().as_secs_f64();
        figures.push(Figure { name: DRIVER_READER, seconds, cpu_s: cpu_seconds() - cpu0, rss_kib: peak_rss_kib() });
    }

    // logferry.
    let stats = Arc::new(PipelineStats::new("bench"));
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    run_logferry(&config, work.path(), stats.clone()).await?;
    let seconds = t0.elapsed().as_secs_f64();
    let lf = LfFigures::new(&stats, seconds, cpu_seconds() - cpu0, peak_rss_kib(), Vec::new());
    figures.push(Figure { name: "logferry run --once", seconds, cpu_s: lf.cpu_s, rss_kib: lf.rss_kib });

    let verified = match pg_url {
        Some(u) => {
            let want = source_digest(&items).await?;
            let target = connect(&with_db(u, &dst)).await?;
            let got = target_digest(&target).await?;
            if want != got {
                return Err(CliError::Bench(format!(
                    "the target differs from the source after the run (documents:digest: source {want}, target {got})"
                )));
            }
            true
        }
        None => false,
    };
    Ok(Report { changes, figures, lf, records: stats.counts().0, verified })
}

/// Document `i` of the backlog.
fn document(i: u64, width: usize) -> Document {
    let mut note = format!("note {i}");
    note.truncate(width);
    while note.len() < width {
        note.push('.');
    }
    doc! {
        "_id": i as i64,
        "qty": (i % 100) as i32,
        "price": (i % 10_000) as f64 / 100.0,
        "note": note,
        // 2024-01-01T00:00:00Z plus i seconds.
        "updated_at": DateTime::from_millis(1_704_067_200_000 + i as i64 * 1000),
    }
}

/// Connects (the driver connects lazily; the first command says whether it works).
async fn mongo_connect(url: &str) -> Result<Client, CliError> {
    let mut opts = mongodb::options::ClientOptions::parse(url).await.map_err(|e| {
        CliError::Usage(format!(
            "bench: --mongo-url is not a MongoDB URL ({}); expected mongodb://host:port/?replicaSet=rs0",
            e.kind
        ))
    })?;
    opts.app_name = Some("logferry-bench".to_string());
    Client::with_options(opts).map_err(|e| fail("connecting to --mongo-url", e))
}

/// The server serves change streams; returns its version for the report
/// (SecantusDB's own version beside the MongoDB version it presents).
async fn check_server(client: &Client) -> Result<String, CliError> {
    let admin = client.database("admin");
    let hello = admin.run_command(doc! {"hello": 1}).await.map_err(|e| fail("connecting to --mongo-url (hello)", e))?;
    if hello.get_str("setName").is_err() && hello.get_str("msg").ok() != Some("isdbgrid") {
        return Err(CliError::Bench(
            "the server at --mongo-url is a standalone mongod: change streams need a replica set (the oplog). Start mongod with \
             --replSet rs0 and run rs.initiate() once (a one-node replica set is fine)"
                .into(),
        ));
    }
    let info = admin.run_command(doc! {"buildInfo": 1}).await.map_err(|e| fail("reading buildInfo of --mongo-url", e))?;
    let version = info.get_str("version").unwrap_or("unknown");
    Ok(match info.get_str("secantusVersion") {
        Ok(s) => format!("SecantusDB {s} (presents MongoDB {version}; a stand-in, not mongod)"),
        Err(_) => format!("MongoDB {version}"),
    })
}

/// logferry's checkpointed start point, after the empty first run.
fn start_token(work: &Path) -> Result<ResumeToken, CliError> {
    let store = CheckpointStore::open(&work.join("state"))?;
    let checkpoint = store
        .load("bench")?
        .ok_or_else(|| CliError::Bench("the first (empty) logferry run left no checkpoint to start the comparison reader from".into()))?;
    MongoPosition::from_position(&checkpoint.position)
        .and_then(|p| p.resume_token())
        .map_err(|m| CliError::Bench(format!("logferry's start point: {m}")))
}

/// The comparison reader: the database's change stream from `start`, until
/// `want` events of the bench collection have arrived.
async fn drain(client: &Client, db: &str, start: ResumeToken, want: u64) -> Result<(), CliError> {
    let mut stream = client
        .database(db)
        .watch()
        .full_document(FullDocumentType::UpdateLookup)
        .max_await_time(Duration::from_secs(1))
        .resume_after(start)
        .await
        .map_err(|e| stream_error("opening the comparison change stream", e))?;
    let (mut seen, mut last_event) = (0u64, Instant::now());
    while seen < want {
        match stream.next_if_any().await.map_err(|e| stream_error("reading the comparison change stream", e))? {
            Some(ev) => {
                let ours = ev.ns.as_ref().and_then(|n| n.coll.as_deref()) == Some(COLL);
                let change =
                    matches!(ev.operation_type, OperationType::Insert | OperationType::Update | OperationType::Replace | OperationType::Delete);
                if ours && change {
                    seen += 1;
                    last_event = Instant::now();
                }
            }
            None if last_event.elapsed() > STALL => {
                return Err(CliError::Bench(format!(
                    "the comparison change stream delivered {seen} of the backlog's {want} events and then nothing for {} s",
                    STALL.as_secs()
                )))
            }
            None => {}
        }
    }
    Ok(())
}

/// A change-stream error, with the fix when the start point fell out of the oplog.
fn stream_error(what: &str, e: mongodb::error::Error) -> CliError {
    if let mongodb::error::ErrorKind::Command(c) = e.kind.as_ref() {
        if matches!(c.code, 286 | 280 | 136) {
            return CliError::Bench(format!(
                "{what}: the start of the backlog is no longer in the server's oplog ({} {}): make the oplog larger \
                 (replSetResizeOplog; SecantusDB: --oplog-max-entries) or bench fewer --rows",
                c.code, c.code_name
            ));
        }
    }
    fail(what, e)
}

/// The first 64 bits of the SHA-256 of a document's canonical Extended
/// JSON, keys sorted at every level.
fn document_hash(v: &serde_json::Value) -> u64 {
    let mut text = String::new();
    sorted_json(v, &mut text);
    let d = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&d.as_ref()[..8]);
    u64::from_be_bytes(first)
}

/// `v` as JSON text with every object's keys in order.
fn sorted_json(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json_str(k));
                out.push(':');
                sorted_json(&m[k], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                sorted_json(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// `count:digest` of the source collection.
async fn source_digest(items: &mongodb::Collection<Document>) -> Result<String, CliError> {
    let what = "checking the target (reading the source collection)";
    let mut cursor = items.find(doc! {}).await.map_err(|e| fail(what, e))?;
    let (mut count, mut sum) = (0u64, 0u64);
    while cursor.advance().await.map_err(|e| fail(what, e))? {
        let d: Document = cursor.deserialize_current().map_err(|e| fail(what, e))?;
        count += 1;
        sum = sum.wrapping_add(document_hash(&Bson::Document(d).into_canonical_extjson()));
    }
    Ok(format!("{count}:{sum}"))
}

/// `count:digest` of the PostgreSQL target table.
async fn target_digest(target: &PgClient) -> Result<String, CliError> {
    let what = "checking the target (reading the target table)";
    let rows = target.query("SELECT document::text FROM public.items", &[]).await.map_err(|e| fail(what, describe(e)))?;
    let mut sum = 0u64;
    for row in &rows {
        let text: String = row.get(0);
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| fail(what, e))?;
        sum = sum.wrapping_add(document_hash(&v));
    }
    Ok(format!("{}:{sum}", rows.len()))
}

/// The pipeline's config text: the mongodb source on `<src>.items` (no
/// snapshot) into `dst_url` (PostgreSQL, schema public), a protobuf file, or
/// the discard target.
fn pipeline_config(args: &BenchArgs, work: &Path, url: &str, src: &str, dst_url: Option<&str>) -> String {
    let target = match dst_url {
        Some(u) => format!("kind = \"postgres\"\nurl = {}\nschema = \"public\"", json_str(u)),
        None if args.target == "discard" => "kind = \"discard\"".to_string(),
        None => format!("kind = \"file\"\npath = {}\nformat = \"protobuf\"", json_str(&work.join("out.pb").display().to_string())),
    };
    format!(
        "state_dir = {state}\n[[pipeline]]\nname = \"bench\"\n[pipeline.source]\nkind = \"mongodb\"\nurl = {url}\n\
         collections = [\"{src}.{COLL}\"]\nsnapshot = \"never\"\n[[pipeline.target]]\n{target}\n[pipeline.apply]\nlanes = {lanes}\n\
         batch_max_rows = {batch}\n{extra}{spool}",
        state = json_str(&work.join("state").display().to_string()),
        url = json_str(url),
        lanes = args.lanes,
        batch = args.batch,
        extra = super::apply_extras(args),
        spool = if args.spool { "[pipeline.spool]\n" } else { "" },
    )
}

/// Drops what a bench with this prefix left: `<prefix>_src` on MongoDB,
/// `<prefix>_mongo_dst` on PostgreSQL.
async fn cleanup(client: &Client, pg: Option<&PgClient>, p: &str) -> Result<(), CliError> {
    client.database(&format!("{p}_src")).drop().await.map_err(|e| fail("dropping the bench database on --mongo-url", e))?;
    if let Some(pg) = pg {
        pg.batch_execute(&format!("DROP DATABASE IF EXISTS {p}_mongo_dst WITH (FORCE)"))
            .await
            .map_err(|e| fail("dropping the bench database on --pg-url", describe(e)))?;
    }
    Ok(())
}

impl Report {
    fn print(&self, args: &BenchArgs, server: &str) {
        let changes = self.changes;
        let per_change = |cpu: f64| cpu * 1e6 / changes.max(1) as f64;
        let driver = self.figures.iter().find(|f| f.name == DRIVER_READER);
        // logferry's rows/s over the driver's rows/s.
        let ratio = driver.map(|d| d.seconds / self.lf.seconds);
        let lf = &self.lf;
        if args.json {
            let readers: Vec<String> = self
                .figures
                .iter()
                .map(|f| {
                    format!(
                        "{{\"reader\":{},\"seconds\":{},\"rows_per_s\":{},\"peak_rss_kib\":{},\"cpu_seconds\":{},\"cpu_us_per_change\":{}}}",
                        json_str(f.name),
                        num(f.seconds, 3),
                        num(changes as f64 / f.seconds, 0),
                        f.rss_kib,
                        num(f.cpu_s, 3),
                        num(per_change(f.cpu_s), 2)
                    )
                })
                .collect();
            println!(
                "{{\"source\":\"mongodb\",\"server\":{},\"changes\":{changes},\"inserts\":{},\"updates\":{},\"deletes\":{},\"width\":{},\
                 \"target\":{},\"lanes\":{},\"batch\":{},\"spool\":{},\"readers\":[{}],\"logferry_peak_rss_kib\":{},\"logferry_cpu_seconds\":{},\
                 \"logferry_cpu_us_per_change\":{},\"logferry_records\":{},\"logferry_stages\":{},\"target_verified\":{},\"ratio_vs_driver_change_stream\":{}}}",
                json_str(server),
                args.rows,
                args.updates.min(args.rows),
                args.deletes.min(args.rows),
                args.width,
                json_str(&args.target),
                args.lanes,
                args.batch,
                args.spool,
                readers.join(","),
                lf.rss_kib,
                num(lf.cpu_s, 3),
                num(per_change(lf.cpu_s), 2),
                self.records,
                super::report::stages_json(lf),
                self.verified,
                ratio.map_or("null".to_string(), |r| num(r, 3)),
            );
            return;
        }
        println!(
            "backlog: {changes} change events ({} inserts by insert_many of {INSERT_BATCH}, {} updates, {} deletes) in {}_src.{COLL}, \
             {} bytes of note per document; server: {server}; logferry -> {} with {} lane(s), batches of {}{}",
            args.rows,
            args.updates.min(args.rows),
            args.deletes.min(args.rows),
            args.prefix,
            args.width,
            args.target,
            args.lanes,
            args.batch,
            if args.spool { ", through the spool" } else { "" }
        );
        println!("{:<36} {:>9} {:>12} {:>14} {:>13}", "reader", "seconds", "rows/s", "CPU µs/change", "peak RSS MiB");
        for f in &self.figures {
            println!(
                "{:<36} {:>9.2} {:>12.0} {:>14.2} {:>13.1}",
                f.name,
                f.seconds,
                changes as f64 / f.seconds,
                per_change(f.cpu_s),
                f.rss_kib as f64 / 1024.0
            );
        }
        println!(
            "logferry stages: source waiting {:.2} s, route {:.2} s, apply {:.2} s (summed over lanes), read+decode ≈ {:.2} s (wall − source waiting)",
            lf.stages.source_blocked_s,
            lf.stages.route_s,
            lf.stages.apply_s,
            lf.read_decode_s()
        );
        println!(
            "logferry: {} records, peak RSS {:.1} MiB, {:.2} CPU s (this process){}",
            self.records,
            lf.rss_kib as f64 / 1024.0,
            lf.cpu_s,
            if self.verified { "; target checked equal to the source" } else { "" }
        );
        if let Some(r) = ratio {
            println!("logferry vs the driver's change stream: {r:.2}x the rows/s");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_have_the_width_and_hash_the_same_whatever_the_key_order() {
        let d = document(12, 20);
        assert_eq!(d.get_str("note").unwrap(), "note 12.............");
        assert_eq!(document(123_456, 4).get_str("note").unwrap(), "note");
        assert_eq!(d.get_i64("_id").unwrap(), 12);
        let a: serde_json::Value = serde_json::from_str(r#"{"a":{"$numberInt":"1"},"b":{"y":[1,{"q":2,"p":3}],"x":"s"}}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"b":{"x":"s","y":[1,{"p":3,"q":2}]},"a":{"$numberInt":"1"}}"#).unwrap();
        let c: serde_json::Value = serde_json::from_str(r#"{"b":{"x":"s","y":[{"p":3,"q":2},1]},"a":{"$numberInt":"1"}}"#).unwrap();
        assert_eq!(document_hash(&a), document_hash(&b));
        // Array order counts.
        assert_ne!(document_hash(&a), document_hash(&c));
    }

    #[test]
    fn the_pipeline_config_parses_and_reads_the_collection_without_a_snapshot() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cmd {
            #[command(flatten)]
            args: BenchArgs,
        }
        for (target, kind) in [("discard", "discard"), ("file", "file")] {
            let args = Cmd::parse_from(["bench", "--source", "mongodb", "--target", target, "--lanes", "3", "--prefix", "lf_x"]).args;
            let text = pipeline_config(&args, Path::new("/tmp/x"), "mongodb://127.0.0.1:1/?directConnection=true", "lf_x_src", None);
            let cfg = crate::config::Config::parse(&text, Path::new("/tmp/x/bench.toml"), &|_| None).unwrap();
            let p = &cfg.pipelines[0];
            let crate::config::SourceConfig::Mongodb(m) = &p.source else { panic!("not a mongodb source: {text}") };
            assert_eq!(m.db.tables, vec!["lf_x_src.items".to_string()]);
            assert_eq!(m.db.snapshot, crate::config::SnapshotMode::Never);
            assert_eq!(p.apply.lanes, 3);
            assert!(text.contains(&format!("kind = \"{kind}\"")), "{text}");
        }
    }
}
