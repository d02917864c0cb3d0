//! `kind = "mongodb"`: applies changes to MongoDB collections, idempotently,
//! with a few set-based commands per batch.
//!
//! # Where documents go
//!
//! A change to table `schema.name` goes to collection `name` of database
//! `database` (the target config) or else `schema` (the source database
//! for MongoDB and MySQL, the schema for PostgreSQL). A row becomes a
//! document whose fields are the row's columns in order, each value mapped
//! as `record::bson` describes (every BSON type from a MongoDB source comes
//! back exactly; SQL types map to the nearest BSON type without loss).
//!
//! The document's `_id` is the record's key ([`crate::record::bson::document_id`]):
//! the `_id` column for MongoDB records (shard-key fields in the key are
//! ordinary fields), the value of the key column for a SQL table with a
//! one-column key `k` (and `k` stays a field too), and the sub-document
//! `{k1: v1, k2: v2}` for a composite key. A SQL row with a non-key column
//! named `_id`, or a table without a key, is refused with a definite error.
//!
//! # One batch, a few commands
//!
//! Records are grouped per collection and reduced per key to the key's
//! final effect (later records of a key override earlier ones; see
//! `plan.rs`):
//!
//! - insert, snapshot read, update with a full document → replace the whole
//!   document, inserting it when missing: `{q: {_id}, u: <doc>, upsert: true}`;
//! - an update whose row has UNCHANGED values (PostgreSQL TOAST not sent) →
//!   `{q: {_id}, u: {$set: <sent fields>}, upsert: true}`: the stored fields
//!   not sent keep their values; an earlier image of the key in the same
//!   batch supplies them when there is one;
//! - a MongoDB partial update (`$updateDescription`, no full document) →
//!   `{$push: {f: {$each: [], $slice: n}}}` for truncated arrays, then
//!   `{$set: {dotted.path: v}, $unset: {path: ""}}`, with `upsert: false`
//!   (split into several statements only where one path is a prefix of
//!   another, which MongoDB refuses in one update). After a replacement of
//!   the same key in the batch the patch follows it; after a delete it is
//!   dropped (it would match nothing);
//! - delete → `{q: {_id}, limit: 1}`. A key deleted and then re-inserted in
//!   one batch needs no delete: the replacement is the final state.
//!
//! Each key ends as either a delete or a run of updates, so one `delete`
//! command with every delete of the collection, then one `update` command
//! with every update (ordered, keys in the order their final state was
//! reached), apply the batch: two round trips per collection however many
//! rows, split only past the server's limits (100,000 statements or 16 MiB
//! per command). `_id`s that MongoDB treats as equal (1, NumberLong(1), 1.0)
//! are one key.
//!
//! `OP_TRUNCATE` (a dropped source collection, a SQL TRUNCATE) removes every
//! document but keeps the collection and its indexes (`delete` with `{q: {},
//! limit: 0}`). `OP_SCHEMA_CHANGE` creates the collection when it is missing
//! and nothing else (documents have no fixed columns). A key-changing update
//! from a SQL source deletes the old `_id` and upserts the new one, taking
//! UNCHANGED fields from the stored old document. Heartbeats and logical
//! messages are ignored.
//!
//! # Durability, idempotence, transactions
//!
//! Every write uses write concern `{w: "majority", j: true}`: `apply` returns
//! only when the writes are journaled on a majority of the replica set. Each
//! statement is idempotent (replace by `_id`, `$set` of values, delete by
//! `_id`, truncation to a size), so a batch applied twice, or replayed after
//! a crash from the last checkpoint, leaves the same documents.
//!
//! Without `transaction`, a failed batch may be half applied; the pipeline
//! retries it, and the replay repairs it. With `transaction = true` each
//! batch runs in one multi-document transaction (committed with the write
//! concern above before `apply` returns), so readers never see half a batch;
//! it needs a replica set or sharded cluster.
//!
//! **Replays of partial updates.** A replayed partial update can meet a
//! document that later records (also being replayed) already reshaped, e.g.
//! `$set: {"a.b": 1}` when `a` has since become a number, and MongoDB
//! refuses it (PathNotViable, or "must be an array" for a truncation). Such
//! a statement is skipped with a warning and the batch rerun without it:
//! the later records that changed the shape follow in the replay and
//! restore the final state.
//!
//! # Errors
//!
//! See `error.rs`: unreachable servers, elections, write-concern timeouts
//! and retryable errors are transient. Unless the URL sets them, a
//! connection gets [`CONNECT_TIMEOUT`] and finding a server
//! [`SERVER_SELECTION_TIMEOUT`] (5 s each), and a batch [`APPLY_TIMEOUT`]
//! (the driver has no socket timeout): an unreachable or hung server is a
//! transient error, retried, within seconds; refusals of the data (a unique index
//! other than `_id`, a validator, a document over 16 MiB, a bad field name,
//! missing privileges) are definite and name the collection and the
//! server's message without the values it quotes; the document's `_id` (as
//! relaxed Extended JSON) and the server's whole text go with the error's
//! row detail into the dead-letter store only.

mod error;
mod plan;

use self::error::{classify, describe, excerpt, fix_for, is_transient, transient_code};
use self::plan::{plan, show_id, Action, KeyChange, Namespace, Stmt, Writes, MAX_DOCUMENT_BYTES};
use super::{Batch, Sink, SinkError};
use crate::config::MongodbTargetConfig;
use crate::BoxFuture;
use bson::{doc, Bson, Document, RawArrayBuf, RawBson, RawDocumentBuf};
use mongodb::options::{Acknowledgment, ClientOptions, WriteConcern};
use mongodb::{Client, ClientSession};
use std::collections::HashSet;

/// Connections beyond one per lane: schema changes, key-change lookups and
/// transaction commits of a lane can briefly need a second one.
const POOL_SPARE: u32 = 2;

/// Time to open a connection (TCP, TLS and the `hello` handshake) and to
/// wait for a server check's answer, unless the URL sets
/// `connectTimeoutMS` (the driver's default is 10 s).
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Time to find a server to write to, unless the URL sets
/// `serverSelectionTimeoutMS` (the driver's default is 30 s): an
/// unreachable or hung server shows up as a transient error, retried,
/// within seconds.
pub const SERVER_SELECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Time one batch may take before it counts as a transient failure and is
/// retried. The driver has no socket timeout (`socketTimeoutMS` is not
/// supported), so a server that stops answering in the middle of a write
/// would otherwise hold the lane for good.
pub const APPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Most statements in one write command (the server's `maxWriteBatchSize`).
const MAX_STATEMENTS_PER_COMMAND: usize = 100_000;

/// Bytes per array element beyond the statement itself (type byte, index
/// key, NUL), for the command size estimate.
const ELEMENT_OVERHEAD: usize = 16;

/// Server codes a replayed partial update can meet on a reshaped document
/// (see the module docs): PathNotViable, and BadValue ("must be an array").
const RESHAPED_CODES: &[i32] = &[28, 2];

/// `NamespaceExists`: `create` of a collection that is there already.
const NAMESPACE_EXISTS: i32 = 48;

/// Applies batches to MongoDB. See the module docs.
pub struct MongodbSink {
    name: String,
    client: Client,
    /// `database` from the config; `None` uses each record's schema.
    database: Option<String>,
    transaction: bool,
}

/// Why one run of a batch stopped.
enum Failure {
    Sink(SinkError),
    /// A partial update met a reshaped document: rerun without statement `gid`.
    Reshaped { gid: usize, message: String },
}

impl From<SinkError> for Failure {
    fn from(e: SinkError) -> Self {
        Failure::Sink(e)
    }
}

fn majority() -> Document {
    doc! { "w": "majority", "j": true }
}

impl MongodbSink {
    /// Builds a client for the URL and runs `ping`, so a wrong URL, an
    /// unreachable server or bad credentials show up at start; `lanes`
    /// sizes the connection pool (unless the URL sets `maxPoolSize`).
    pub async fn connect(cfg: &MongodbTargetConfig, lanes: usize) -> Result<Self, SinkError> {
        let database = cfg.database.clone().filter(|d| !d.is_empty());
        let name = format!("mongodb:{}/{}", authority(&cfg.url.to_string()), database.as_deref().unwrap_or("*"));
        let password = url_password(cfg.url.expose());
        let scrub = |s: String| match &password {
            Some(p) if !p.is_empty() => s.replace(p.as_str(), "***"),
            _ => s,
        };
        let definite = |message: String| SinkError::definite(name.clone(), scrub(message));
        let mut options = ClientOptions::parse(cfg.url.expose()).await.map_err(|e| {
            let srv = if cfg.url.scheme() == Some("mongodb+srv") {
                " (mongodb+srv URLs need DNS SRV lookups, which this build leaves out: list the hosts in a mongodb:// URL)"
            } else {
                ""
            };
            definite(format!("the target url is not a valid MongoDB URL (mongodb://user:password@host:port/?options): {}{srv}", describe(&e)))
        })?;
        if options.app_name.is_none() {
            options.app_name = Some("logferry".into());
        }
        if options.connect_timeout.is_none() {
            options.connect_timeout = Some(CONNECT_TIMEOUT);
        }
        if options.server_selection_timeout.is_none() {
            options.server_selection_timeout = Some(SERVER_SELECTION_TIMEOUT);
        }
        if options.max_pool_size.is_none() {
            options.max_pool_size = Some(u32::try_from(lanes.max(1)).unwrap_or(u32::MAX).saturating_add(POOL_SPARE));
        }
        let hosts = options.hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>().join(",");
        let user = options.credential.as_ref().and_then(|c| c.username.clone());
        let client = Client::with_options(options).map_err(|e| definite(format!("cannot set up the MongoDB client: {}", describe(&e))))?;
        if let Err(e) = client.database("admin").run_command(doc! { "ping": 1 }).await {
            let auth = matches!(e.kind.as_ref(), mongodb::error::ErrorKind::Authentication { .. })
                || matches!(e.kind.as_ref(), mongodb::error::ErrorKind::Command(c) if c.code == 18);
            if auth {
                return Err(definite(format!(
                    "authentication failed for user {}: {} — check the user name, password and authSource in the target url",
                    user.as_deref().unwrap_or("(none given)"),
                    describe(&e)
                )));
            }
            let message = scrub(format!("cannot reach the MongoDB server at {hosts}: {}", describe(&e)));
            let error = if is_transient(&e) {
                SinkError::transient(name.clone(), message).caused_by_quoted((*e.kind).clone())
            } else {
                match classify(&name, &format!("ping {hosts}"), &e) {
                    SinkError::Definite { target, message, cause } => SinkError::Definite { target, message: scrub(message), cause },
                    SinkError::Transient { target, message, cause } => SinkError::Transient { target, message: scrub(message), cause },
                }
            };
            return Err(match &password {
                Some(p) => error.forget_cause_mentioning(p),
                None => error,
            });
        }
        Ok(MongodbSink { name, client, database, transaction: cfg.transaction })
    }

    fn definite(&self, message: String) -> SinkError {
        SinkError::definite(&self.name, message)
    }

    async fn apply_batch(&self, batch: &Batch) -> Result<(), SinkError> {
        let actions = plan(&batch.records, self.database.as_deref()).map_err(|m| self.definite(m))?;
        if actions.is_empty() {
            return Ok(());
        }
        let mut skip = HashSet::new();
        loop {
            match self.run(&actions, &skip).await {
                Ok(()) => return Ok(()),
                Err(Failure::Sink(e)) => return Err(e),
                Err(Failure::Reshaped { gid, message }) => {
                    tracing::warn!(target_name = %self.name, "{message}; skipping this partial update (a replay after later changes) and rerunning the batch");
                    if !skip.insert(gid) {
                        return Err(self.definite(message));
                    }
                }
            }
        }
    }

    /// Applies `actions` once, leaving out the statements in `skip`.
    async fn run(&self, actions: &[Action], skip: &HashSet<usize>) -> Result<(), Failure> {
        let data = actions.iter().any(|a| !matches!(a, Action::Create(_)));
        let mut session = None;
        if self.transaction && data {
            let mut s = self.client.start_session().await.map_err(|e| classify(&self.name, "cannot start a session", &e))?;
            let wc = WriteConcern::builder().w(Acknowledgment::Majority).journal(true).build();
            s.start_transaction().write_concern(wc).await.map_err(|e| classify(&self.name, "cannot start a transaction", &e))?;
            session = Some(s);
        }
        let mut run = Run { sink: self, session };
        for a in actions {
            let r = match a {
                Action::Create(ns) => self.create(ns).await.map_err(Failure::from),
                Action::Truncate(ns) => run.truncate(ns).await.map_err(Failure::from),
                Action::Writes(w) => run.writes(w, skip).await,
                Action::KeyChange(k) => run.key_change(k).await,
            };
            if let Err(e) = r {
                if let Some(s) = run.session.as_mut() {
                    // Best effort: the server aborts it anyway when the session ends.
                    let _ = s.abort_transaction().await;
                }
                return Err(e);
            }
        }
        if let Some(s) = run.session.as_mut() {
            s.commit_transaction().await.map_err(|e| classify(&self.name, "commit of the batch's transaction", &e))?;
        }
        Ok(())
    }

    /// Creates a collection unless it exists (outside any transaction).
    async fn create(&self, ns: &Namespace) -> Result<(), SinkError> {
        let r = self.client.database(&ns.db).run_command(doc! { "create": &ns.coll, "writeConcern": majority() }).await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.kind.as_ref(), mongodb::error::ErrorKind::Command(c) if c.code == NAMESPACE_EXISTS) => Ok(()),
            Err(e) => Err(classify(&self.name, &format!("collection {ns}: create"), &e)),
        }
    }
}

/// One run of a batch: the session of its transaction, if any.
struct Run<'a> {
    sink: &'a MongodbSink,
    session: Option<ClientSession>,
}

impl Run<'_> {
    /// Runs `cmd` on database `db` in the batch's transaction, or else with
    /// the durable write concern (`write`) or none (reads).
    async fn command(&mut self, db: &str, mut cmd: RawDocumentBuf, write: bool) -> Result<Document, mongodb::error::Error> {
        let database = self.sink.client.database(db);
        match self.session.as_mut() {
            Some(s) => database.run_raw_command(cmd).session(s).await,
            None => {
                if write {
                    cmd.append("writeConcern", RawBson::Document(RawDocumentBuf::from_document(&majority()).expect("a valid document")));
                }
                database.run_raw_command(cmd).await
            }
        }
    }

    async fn truncate(&mut self, ns: &Namespace) -> Result<(), SinkError> {
        let mut cmd = RawDocumentBuf::new();
        cmd.append("delete", ns.coll.clone());
        let mut deletes = RawArrayBuf::new();
        deletes.push(RawBson::Document(RawDocumentBuf::from_document(&doc! { "q": {}, "limit": 0 }).expect("a valid document")));
        cmd.append("deletes", RawBson::Array(deletes));
        let context = format!("collection {ns}: delete of every document (truncate)");
        let reply = self.command(&ns.db, cmd, true).await.map_err(|e| classify(&self.sink.name, &context, &e))?;
        match check_reply(&self.sink.name, &reply, ns, "delete", &[]) {
            Ok(()) => Ok(()),
            Err(Failure::Sink(e)) => Err(e),
            Err(Failure::Reshaped { message, .. }) => Err(self.sink.definite(message)),
        }
    }

    /// The deletes, then the updates, of one collection.
    async fn writes(&mut self, w: &Writes, skip: &HashSet<usize>) -> Result<(), Failure> {
        for (kind, list, stmts) in [("delete", "deletes", &w.deletes), ("update", "updates", &w.updates)] {
            let stmts: Vec<&Stmt> = stmts.iter().filter(|s| !skip.contains(&s.gid)).collect();
            for chunk in chunks(&stmts) {
                let mut cmd = RawDocumentBuf::new();
                cmd.append(kind, w.ns.coll.clone());
                let mut arr = RawArrayBuf::new();
                for s in chunk {
                    arr.push(RawBson::Document(s.body.clone()));
                }
                cmd.append(list, RawBson::Array(arr));
                cmd.append("ordered", true);
                let context = match chunk {
                    [_] => format!("collection {}: {kind} of a document", w.ns),
                    _ => format!("collection {}: {kind} of {} documents", w.ns, chunk.len()),
                };
                let ids = match chunk {
                    [one] => format!("_id {}", show_id(&one.id)),
                    _ => String::new(),
                };
                let reply = self.command(&w.ns.db, cmd, true).await.map_err(|e| {
                    let error = classify(&self.sink.name, &context, &e);
                    if ids.is_empty() { error } else { error.with_row_detail(&ids) }
                })?;
                check_reply(&self.sink.name, &reply, &w.ns, kind, chunk)?;
            }
        }
        Ok(())
    }

    /// Moves a document from the old `_id` to the new one.
    async fn key_change(&mut self, k: &KeyChange) -> Result<(), Failure> {
        let mut doc = k.doc.clone();
        let mut found = true;
        if !k.unchanged.is_empty() {
            let cmd = doc! { "find": &k.ns.coll, "filter": { "_id": k.old_id.clone() }, "limit": 1, "singleBatch": true };
            let cmd = RawDocumentBuf::from_document(&cmd).map_err(|e| self.sink.definite(format!("collection {}: {e}", k.ns)))?;
            let context = format!("collection {}: read of the old document of a key change", k.ns);
            let reply = self
                .command(&k.ns.db, cmd, false)
                .await
                .map_err(|e| classify(&self.sink.name, &context, &e).with_row_detail(format!("old _id {}", show_id(&k.old_id))))?;
            let old = reply
                .get_document("cursor")
                .ok()
                .and_then(|c| c.get_array("firstBatch").ok())
                .and_then(|b| b.first())
                .and_then(Bson::as_document)
                .cloned();
            match old {
                Some(old) => {
                    for name in &k.unchanged {
                        if let Some(v) = old.get(name) {
                            doc.insert(name.clone(), v.clone());
                        }
                    }
                }
                // Already moved (a replay), or never there: set what was sent.
                None => found = false,
            }
        }
        let raw = |d: Document| RawDocumentBuf::from_document(&d).map_err(|e| self.sink.definite(format!("collection {}: {e}", k.ns)));
        let delete = Stmt { id: k.old_id.clone(), body: raw(doc! { "q": { "_id": k.old_id.clone() }, "limit": 1 })?, partial: false, gid: usize::MAX };
        let u = if found {
            Bson::Document(doc)
        } else {
            doc.remove("_id");
            Bson::Document(doc! { "$set": doc })
        };
        let update = Stmt { id: k.new_id.clone(), body: raw(doc! { "q": { "_id": k.new_id.clone() }, "u": u, "upsert": true })?, partial: false, gid: usize::MAX };
        self.writes(&Writes { ns: k.ns.clone(), deletes: vec![delete], updates: vec![update] }, &HashSet::new()).await
    }
}

/// `stmts` cut into commands within the server's limits.
fn chunks<'s, 'a>(stmts: &'s [&'a Stmt]) -> Vec<&'s [&'a Stmt]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, s) in stmts.iter().enumerate() {
        let n = s.body.as_bytes().len() + ELEMENT_OVERHEAD;
        if i > start && (i - start >= MAX_STATEMENTS_PER_COMMAND || bytes + n > MAX_DOCUMENT_BYTES) {
            out.push(&stmts[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += n;
    }
    if start < stmts.len() {
        out.push(&stmts[start..]);
    }
    out
}

/// Checks a write command's reply: `writeErrors` (the first one: the
/// command is ordered and stops there) and `writeConcernError`.
fn check_reply(target: &str, reply: &Document, ns: &Namespace, kind: &str, chunk: &[&Stmt]) -> Result<(), Failure> {
    if let Some(Bson::Document(we)) = reply.get_array("writeErrors").ok().and_then(|a| a.first()) {
        let index = int(we.get("index")).and_then(|i| usize::try_from(i).ok());
        let code = int(we.get("code")).and_then(|c| i32::try_from(c).ok()).unwrap_or(0);
        let errmsg = we.get_str("errmsg").unwrap_or("(no message)");
        let stmt = index.and_then(|i| chunk.get(i));
        let index_text = index.map(|i| format!(" (statement {i} of the command)")).unwrap_or_default();
        let mut message = format!("collection {ns}: {kind} refused{index_text}: {} (code {code})", excerpt(&crate::redact::mongo_message(errmsg), 300));
        if let Some(s) = stmt.filter(|s| s.partial && RESHAPED_CODES.contains(&code)) {
            return Err(Failure::Reshaped { gid: s.gid, message: format!("{message}: the stored document has another shape than this partial update expects") });
        }
        let id = stmt.map(|s| format!("_id {}; ", show_id(&s.id))).unwrap_or_default();
        let full = format!("{id}server: {}", excerpt(errmsg, 300));
        if transient_code(code) {
            message.push_str("; retrying");
            return Err(Failure::Sink(SinkError::transient(target, message).with_row_detail(full)));
        }
        if let Some(fix) = fix_for(code) {
            message.push_str(" — ");
            message.push_str(fix);
        }
        return Err(Failure::Sink(SinkError::definite(target, message).with_row_detail(full)));
    }
    if let Ok(wce) = reply.get_document("writeConcernError") {
        let code = int(wce.get("code")).and_then(|c| i32::try_from(c).ok()).unwrap_or(0);
        let errmsg = wce.get_str("errmsg").unwrap_or("(no message)");
        let mut message = format!(
            "collection {ns}: the {kind} was not confirmed durable (write concern w: \"majority\", j: true): {} (code {code})",
            excerpt(errmsg, 300)
        );
        if let Some(fix) = fix_for(code).filter(|_| matches!(code, 79 | 100)) {
            message.push_str(" — ");
            message.push_str(fix);
            return Err(Failure::Sink(SinkError::definite(target, message)));
        }
        message.push_str("; retrying");
        return Err(Failure::Sink(SinkError::transient(target, message)));
    }
    Ok(())
}

fn int(b: Option<&Bson>) -> Option<i64> {
    match b? {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        Bson::Double(f) => Some(*f as i64),
        _ => None,
    }
}

/// `scheme://user:***@hosts` of a redacted URL: no path or options (an
/// option such as `tlsCertificateKeyFilePassword` can hold a secret).
fn authority(redacted: &str) -> String {
    match redacted.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            format!("{scheme}://{}", &rest[..end])
        }
        None => redacted.to_string(),
    }
}

/// The password in a URL's userinfo (raw, as written), to scrub from
/// driver messages.
fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let userinfo = &rest[..rest.rfind('@')?];
    userinfo.split_once(':').map(|(_, p)| p.to_string())
}

impl Sink for MongodbSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn apply<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            match tokio::time::timeout(APPLY_TIMEOUT, self.apply_batch(batch)).await {
                Ok(result) => result,
                // Dropping the batch's future ends its session (an open
                // transaction is aborted); the retry applies it again.
                Err(_) => Err(SinkError::transient(
                    &self.name,
                    format!("the server did not finish the batch within {}s (a hung server or network?); retrying", APPLY_TIMEOUT.as_secs()),
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hide_secrets() {
        let url = crate::config::SecretUrl::new("mongodb://lf:s3cret@h1:27017,h2/?replicaSet=rs&tlsCertificateKeyFilePassword=x");
        assert_eq!(authority(&url.to_string()), "mongodb://lf:***@h1:27017,h2");
        assert_eq!(url_password(url.expose()).as_deref(), Some("s3cret"));
        assert_eq!(url_password("mongodb://h1/"), None);
        assert_eq!(authority("***"), "***");
    }

    fn stmt(bytes: usize, gid: usize) -> Stmt {
        let body = RawDocumentBuf::from_document(&doc! { "q": { "_id": 1 }, "u": { "s": "x".repeat(bytes) } }).unwrap();
        Stmt { id: Bson::Int32(1), body, partial: false, gid }
    }

    #[test]
    fn chunks_respect_limits() {
        let small: Vec<Stmt> = (0..5).map(|i| stmt(10, i)).collect();
        let refs: Vec<&Stmt> = small.iter().collect();
        assert_eq!(chunks(&refs).len(), 1);
        let big: Vec<Stmt> = (0..5).map(|i| stmt(6 * 1024 * 1024, i)).collect();
        let refs: Vec<&Stmt> = big.iter().collect();
        assert_eq!(chunks(&refs).iter().map(|c| c.len()).collect::<Vec<_>>(), vec![2, 2, 1]);
        assert!(chunks(&[]).is_empty());
    }

    #[test]
    fn replies_are_checked() {
        let ns = Namespace { db: "d".into(), coll: "c".into() };
        let s = stmt(1, 7);
        let ok = doc! { "n": 1, "ok": 1.0 };
        assert!(check_reply("t", &ok, &ns, "update", &[&s]).is_ok());
        let dup = doc! { "writeErrors": [{ "index": 0, "code": 11000, "errmsg": "E11000 duplicate key error collection: d.c index: email_1 dup key: { email: \"x\" }" }], "ok": 1.0 };
        match check_reply("t", &dup, &ns, "update", &[&s]) {
            Err(Failure::Sink(e @ SinkError::Definite { .. })) => {
                let message = e.message();
                assert!(message.contains("collection d.c") && message.contains("E11000") && message.contains("unique index"), "{message}");
                assert!(!message.contains("_id 1") && !message.contains("\"x\""), "no row data: {message}");
                assert!(e.row_detail().is_some_and(|d| d.contains("_id 1") && d.contains("\"x\"")), "{e:?}");
            }
            _ => panic!(),
        }
        let mut p = stmt(1, 7);
        p.partial = true;
        let shape = doc! { "writeErrors": [{ "index": 0, "code": 28, "errmsg": "Cannot create field 'b' in element {a: 1}" }], "ok": 1.0 };
        assert!(matches!(check_reply("t", &shape, &ns, "update", &[&p]), Err(Failure::Reshaped { gid: 7, .. })));
        assert!(matches!(check_reply("t", &shape, &ns, "update", &[&s]), Err(Failure::Sink(SinkError::Definite { .. }))));
        let wce = doc! { "n": 1, "writeConcernError": { "code": 64, "errmsg": "waiting for replication timed out" }, "ok": 1.0 };
        assert!(matches!(check_reply("t", &wce, &ns, "update", &[&s]), Err(Failure::Sink(SinkError::Transient { .. }))));
        let step_down = doc! { "writeErrors": [{ "index": 0, "code": 10107, "errmsg": "not primary" }], "ok": 1.0 };
        assert!(matches!(check_reply("t", &step_down, &ns, "update", &[&s]), Err(Failure::Sink(SinkError::Transient { .. }))));
    }
}
