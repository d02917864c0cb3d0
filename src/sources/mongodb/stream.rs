//! Change-stream reading: events → records, transactions, idle positions.

use super::{brief, definite, mongo_error, Coll, MongoPosition, Selection, SourceResult, SOURCE_KIND};
use crate::config::{FullDocument, MongodbSourceConfig, OnInvalidate};
use crate::record::bson::{document_to_row, UPDATE_DESCRIPTION};
use crate::record::{value::Kind, Array, Change, Column, Document as DocValue, Op, Row, TableRef, Timestamp as RecTimestamp, Value};
use crate::sources::{position_marker, stopped, SourceContext, TxTail};
use mongodb::bson::{doc, Bson, Document, Timestamp};
use mongodb::change_stream::event::{ChangeStreamEvent, OperationType, ResumeToken};
use mongodb::change_stream::ChangeStream;
use mongodb::options::{FullDocumentBeforeChangeType, FullDocumentType};
use mongodb::Client;
use std::collections::BTreeSet;

type Stream = ChangeStream<ChangeStreamEvent<Document>>;

/// Skipped events (other collections, DDL we do not carry) between two
/// position markers, so a busy neighbour collection still moves the
/// checkpoint on.
const SKIPPED_PER_MARKER: u32 = 1000;

/// The cluster's time now (once mode: the end of what this run reads).
pub(super) async fn cluster_time_now(client: &Client, source: &str) -> SourceResult<Timestamp> {
    let mut session = client.start_session().await.map_err(|e| mongo_error(source, "starting a session", &e))?;
    client
        .database("admin")
        .run_command(doc! {"ping": 1})
        .session(&mut session)
        .await
        .map_err(|e| mongo_error(source, "reading the cluster time", &e))?;
    session
        .operation_time()
        .ok_or_else(|| definite(source, "the server reports no operation time: is it a replica set member?"))
}

/// The resume token of "now": a stream opened and closed at once.
pub(super) async fn current_token(client: &Client, selection: &Selection, source: &str) -> SourceResult<ResumeToken> {
    let stream = match &selection.single_db {
        Some(db) => client.database(db).watch().await,
        None => client.watch().await,
    }
    .map_err(|e| mongo_error(source, "opening a change stream", &e))?;
    stream
        .resume_token()
        .ok_or_else(|| definite(source, "the server returned no resume token for a new change stream"))
}

async fn open(client: &Client, cfg: &MongodbSourceConfig, selection: &Selection, after: ResumeToken, start_after: bool) -> mongodb::error::Result<Stream> {
    let fd = match cfg.full_document {
        FullDocument::UpdateLookup => FullDocumentType::UpdateLookup,
        FullDocument::Required => FullDocumentType::Required,
        FullDocument::WhenAvailable => FullDocumentType::WhenAvailable,
    };
    // Pre-images are asked for only where post-images are (MongoDB 6.0+);
    // the default mode works on older servers.
    let before = (cfg.full_document != FullDocument::UpdateLookup).then_some(FullDocumentBeforeChangeType::WhenAvailable);
    macro_rules! build {
        ($w:expr) => {{
            let w = $w.full_document(fd).max_await_time(cfg.max_await);
            let w = match before {
                Some(b) => w.full_document_before_change(b),
                None => w,
            };
            if start_after {
                w.start_after(after).await
            } else {
                w.resume_after(after).await
            }
        }};
    }
    match &selection.single_db {
        Some(db) => {
            let database = client.database(db);
            build!(database.watch())
        }
        None => build!(client.watch()),
    }
}

/// What turning events into records needs to know.
#[derive(Clone, Copy)]
struct Reader<'a> {
    cfg: &'a MongodbSourceConfig,
    source: &'a str,
    selection: &'a Selection,
    ctx: &'a SourceContext,
}

/// Where one transaction's records are collected: events of one `lsid` +
/// `txnNumber` are one source transaction.
#[derive(Default)]
struct Txn {
    id: Option<String>,
    tail: TxTail,
}

impl Txn {
    /// Ends the open transaction: its held last record goes out with `tx_end`.
    async fn end(&mut self, ctx: &SourceContext) -> SourceResult<()> {
        if let Some(mut last) = self.tail.take() {
            last.tx_end = true;
            ctx.emitter.emit(last).await?;
        }
        self.id = None;
        Ok(())
    }
}

/// Reads the stream from `start` until shutdown, an error, or (once mode)
/// the cluster time `end`.
pub(super) async fn stream(
    client: &Client,
    cfg: &MongodbSourceConfig,
    source: &str,
    selection: &Selection,
    start: MongoPosition,
    end: Option<Timestamp>,
    ctx: &SourceContext,
) -> SourceResult<()> {
    let mut known: BTreeSet<Coll> = BTreeSet::new();
    for c in &selection.existing {
        ctx.emit_schema(SOURCE_KIND, c.schema()).await?;
        known.insert(c.clone());
    }
    let token = start.resume_token().map_err(|m| definite(source, m))?;
    let mut stream = open(client, cfg, selection, token, false)
        .await
        .map_err(|e| mongo_error(source, "opening the change stream at the checkpoint", &e))?;
    tracing::info!(source, position = %start.to_position().display, "streaming changes");
    let mut shutdown = ctx.shutdown.clone();
    let mut txn = Txn::default();
    let mut last_token = start.token.clone();
    let mut skipped = 0u32;
    loop {
        let next = tokio::select! {
            r = stream.next_if_any() => r,
            _ = stopped(&mut shutdown) => {
                txn.end(ctx).await?;
                return Ok(());
            }
        };
        let ev = match next {
            Err(e) => return Err(mongo_error(source, "reading the change stream", &e)),
            Ok(None) => {
                // An empty batch: everything committed so far is read.
                txn.end(ctx).await?;
                if let Some(t) = stream.resume_token() {
                    let pos = MongoPosition::new(t, None);
                    if pos.token != last_token {
                        last_token = pos.token.clone();
                        skipped = 0;
                        ctx.emitter.emit(position_marker(&ctx.pipeline, SOURCE_KIND, pos.to_position())).await?;
                    }
                }
                if end.is_some() {
                    return Ok(());
                }
                continue;
            }
            Ok(Some(ev)) => ev,
        };
        if let (Some(end), Some(ct)) = (end, ev.cluster_time) {
            if (ct.time, ct.increment) > (end.time, end.increment) {
                txn.end(ctx).await?;
                return Ok(());
            }
        }
        let pos = MongoPosition::new(ev.id.clone(), None);
        let txn_id = match (&ev.lsid, ev.txn_number) {
            (Some(lsid), Some(n)) => Some(format!("{}:{n}", lsid_text(lsid))),
            _ => None,
        };
        if txn.id != txn_id {
            txn.end(ctx).await?;
        }
        if let OperationType::Invalidate = ev.operation_type {
            txn.end(ctx).await?;
            match cfg.on_invalidate {
                OnInvalidate::Stop => {
                    return Err(definite(
                        source,
                        "the change stream was invalidated (the watched database was dropped or renamed). \
                         Set on_invalidate = \"reopen\" to go on after such events, or `logferry reset` \
                         the pipeline to copy again",
                    ))
                }
                OnInvalidate::Reopen => {
                    tracing::warn!(source, "change stream invalidated; reopening after the invalidate event");
                    ctx.emitter.emit(position_marker(&ctx.pipeline, SOURCE_KIND, pos.to_position())).await?;
                    last_token = pos.token.clone();
                    stream = open(client, cfg, selection, ev.id.clone(), true)
                        .await
                        .map_err(|e| mongo_error(source, "reopening the change stream after invalidate", &e))?;
                    continue;
                }
            }
        }
        let reader = Reader { cfg, source, selection, ctx };
        let records = records_of(&ev, &reader, &mut known, &pos, txn_id.as_deref())?;
        if records.is_empty() {
            skipped += 1;
            if skipped >= SKIPPED_PER_MARKER && txn.id.is_none() {
                skipped = 0;
                last_token = pos.token.clone();
                ctx.emitter.emit(position_marker(&ctx.pipeline, SOURCE_KIND, pos.to_position())).await?;
            }
            continue;
        }
        skipped = 0;
        last_token = pos.token.clone();
        for (schema, rec) in records {
            if let Some(c) = schema {
                // A collection seen for the first time: its schema goes first.
                txn.end(ctx).await?;
                ctx.emit_schema(SOURCE_KIND, c.schema()).await?;
            }
            match &txn_id {
                None => ctx.emitter.emit(rec).await?,
                Some(id) => {
                    txn.id = Some(id.clone());
                    if let Some(prev) = txn.tail.hold(rec) {
                        ctx.emitter.emit(prev).await?;
                    }
                }
            }
        }
    }
}

fn lsid_text(lsid: &Document) -> String {
    match lsid.get("id") {
        Some(Bson::Binary(b)) => b.bytes.iter().map(|x| format!("{x:02x}")).collect(),
        _ => brief(lsid),
    }
}

fn key_row(ev: &ChangeStreamEvent<Document>) -> (Vec<String>, Row) {
    match &ev.document_key {
        Some(k) => (k.keys().cloned().collect(), document_to_row(k)),
        None => (vec!["_id".into()], Row::default()),
    }
}

/// The records of one event, each with the collection whose schema must
/// be emitted first when it is new. Empty for events of other collections
/// and for events that carry no data for targets.
fn records_of(
    ev: &ChangeStreamEvent<Document>,
    reader: &Reader<'_>,
    known: &mut BTreeSet<Coll>,
    pos: &MongoPosition,
    txn_id: Option<&str>,
) -> SourceResult<Vec<(Option<Coll>, Change)>> {
    let Reader { cfg, source, selection, ctx } = *reader;
    let Some(ns) = &ev.ns else { return Ok(Vec::new()) };
    let base = |table: TableRef, op: Op| Change {
        pipeline: ctx.pipeline.clone(),
        source: SOURCE_KIND.to_string(),
        op: op as i32,
        table: Some(table),
        position: Some(pos.to_position()),
        tx_id: txn_id.unwrap_or_default().to_string(),
        commit_time: ev.wall_time.map(|w| {
            let ms = w.timestamp_millis();
            RecTimestamp { seconds: ms.div_euclid(1000), nanos: (ms.rem_euclid(1000) * 1_000_000) as u32, special: 0 }
        }),
        tx_end: txn_id.is_none(),
        documents: true,
        ..Default::default()
    };
    match &ev.operation_type {
        OperationType::DropDatabase => {
            let gone: Vec<Coll> = known.iter().filter(|c| c.db == ns.db).cloned().collect();
            Ok(gone.into_iter().map(|c| (None, base(c.table(), Op::Truncate))).collect())
        }
        OperationType::Rename => {
            let from = ns.coll.clone().unwrap_or_default();
            let to = ev.to.as_ref().map(|t| format!("{}.{}", t.db, t.coll.clone().unwrap_or_default())).unwrap_or_default();
            let to_selected = ev.to.as_ref().is_some_and(|t| selection.matches(&t.db, t.coll.as_deref().unwrap_or("")));
            if selection.matches(&ns.db, &from) || to_selected {
                return Err(definite(
                    source,
                    format!(
                        "collection {}.{from} was renamed to {to}: the documents under the new name are not in \
                         the change stream. `logferry reset` the pipeline to copy again (and adjust `collections` \
                         if the new name should be captured)",
                        ns.db
                    ),
                ));
            }
            Ok(Vec::new())
        }
        _ => {
            let Some(coll) = ns.coll.clone() else { return Ok(Vec::new()) };
            if !selection.matches(&ns.db, &coll) {
                return Ok(Vec::new());
            }
            let c = Coll { db: ns.db.clone(), coll };
            let new = known.insert(c.clone()).then(|| c.clone());
            let table = c.table();
            let (key_columns, key) = key_row(ev);
            let before = || match &ev.full_document_before_change {
                Some(d) => document_to_row(d),
                None => key.clone(),
            };
            let mut rec = match &ev.operation_type {
                OperationType::Insert => {
                    let d = ev.full_document.as_ref().ok_or_else(|| definite(source, format!("insert into {} without a document", c.qualified())))?;
                    Change { after: Some(document_to_row(d)), ..base(table, Op::Insert) }
                }
                OperationType::Replace | OperationType::Update => match &ev.full_document {
                    Some(d) => Change { before: Some(before()), after: Some(document_to_row(d)), ..base(table, Op::Update) },
                    None if ev.operation_type == OperationType::Replace => {
                        return Err(definite(source, format!("replace in {} without its document", c.qualified())))
                    }
                    None => {
                        let mut after = key.clone();
                        after.columns.push(Column { name: UPDATE_DESCRIPTION.to_string(), value: Some(update_description(ev, cfg)) });
                        Change { before: Some(before()), after: Some(after), ..base(table, Op::Update) }
                    }
                },
                OperationType::Delete => Change { before: Some(before()), ..base(table, Op::Delete) },
                OperationType::Drop => base(table, Op::Truncate),
                // create, createIndexes, modify, …: nothing for targets.
                _ => return Ok(Vec::new()),
            };
            if rec.op() != Op::Truncate {
                rec.key_columns = key_columns;
            }
            Ok(vec![(new, rec)])
        }
    }
}

/// A partial update as a `$updateDescription` document value.
fn update_description(ev: &ChangeStreamEvent<Document>, cfg: &MongodbSourceConfig) -> Value {
    let doc_value = |fields: Vec<Column>| Value::of(Kind::Document(DocValue { fields }));
    let (updated, removed, truncated) = match &ev.update_description {
        Some(u) => (
            document_to_row(&u.updated_fields).columns,
            u.removed_fields.iter().map(|f| Value::text(f.clone())).collect(),
            u.truncated_arrays
                .iter()
                .flatten()
                .map(|t| {
                    doc_value(vec![
                        Column { name: "field".into(), value: Some(Value::text(t.field.clone())) },
                        Column { name: "newSize".into(), value: Some(Value::of(Kind::Int32(t.new_size))) },
                    ])
                })
                .collect(),
        ),
        None => (Vec::new(), Vec::new(), Vec::new()),
    };
    let array = |elements: Vec<Value>| Value::of(Kind::Array(Array { lower_bounds: Vec::new(), element_type: String::new(), elements }));
    doc_value(vec![
        Column { name: "updatedFields".into(), value: Some(doc_value(updated)) },
        Column { name: "removedFields".into(), value: Some(array(removed)) },
        Column { name: "truncatedArrays".into(), value: Some(array(truncated)) },
        Column {
            name: "fullDocumentMissing".into(),
            value: Some(Value::of(Kind::Bool(cfg.full_document == FullDocument::UpdateLookup))),
        },
    ])
}
