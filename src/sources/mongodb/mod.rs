//! Source `kind = "mongodb"`: change streams, resume tokens as positions.
//!
//! # How it reads
//!
//! 1. **Preflight.** `hello` must show a replica set member or a `mongos`
//!    (change streams need the oplog; a standalone `mongod` has none). The
//!    selectors (`database.collection`, globs allowed) are resolved against
//!    `listDatabases` / `listCollections`; views and `system.*` are left out.
//! 2. **Start point first.** Without a checkpoint, a change stream is opened
//!    and its `postBatchResumeToken` taken *before* anything is copied, and
//!    that position is made durable before the first document is emitted,
//!    so a crash during the copy can never lose what changed meanwhile.
//! 3. **Snapshot** (`snapshot = "initial"`): each collection is read in `_id`
//!    order; every `snapshot_chunk_docs` documents are one checkpointable
//!    chunk (the last `_id` is kept in the position), so a crashed copy
//!    resumes at the next chunk. Documents changed during the copy are
//!    replayed by the stream afterwards; every apply is idempotent.
//! 4. **Stream** from the start token with `resumeAfter`: one stream on the
//!    database (all selectors in one database) or on the deployment, events
//!    of other collections skipped. Each event's resume token is its
//!    position; events of one multi-document transaction (same `lsid` and
//!    `txnNumber`) form one source transaction. On an idle stream the
//!    `postBatchResumeToken` still moves the checkpoint on, so the resume
//!    point never falls behind the oplog window of a busy cluster.
//!
//! # Events
//!
//! See `/tmp`-free docs in the README ("MongoDB"): insert, update (full
//! document by `full_document`, or the partial `updateDescription` in a
//! `$updateDescription` column, see [`crate::record::bson::UPDATE_DESCRIPTION`]),
//! replace (an UPDATE with the whole new document), delete, drop (a
//! TRUNCATE of the collection), dropDatabase (a TRUNCATE of each collection
//! of that database seen so far), rename (stops: the documents under the new
//! name need a new snapshot), invalidate (`on_invalidate`: stop, or reopen
//! after it). A resume point that fell out of the oplog
//! (`ChangeStreamHistoryLost`) is a definite error with the recovery steps,
//! never a silent restart from "now".

mod position;
mod snapshot;
mod stream;

use super::{glob_match, Source, SourceContext, SourceError};
use crate::config::{MongodbSourceConfig, SnapshotMode};
use crate::record::{logical::BSON, ColumnSchema, LogicalType, TableRef, TableSchema};
use crate::BoxFuture;
use mongodb::bson::{doc, Document};
use mongodb::error::ErrorKind;
use mongodb::Client;
pub use position::MongoPosition;

type SourceResult<T> = Result<T, SourceError>;

/// The `source` field of every record this source emits.
pub const SOURCE_KIND: &str = "mongodb";

/// Reads MongoDB change streams.
pub struct MongodbSource {
    cfg: MongodbSourceConfig,
    name: String,
}

impl MongodbSource {
    /// A source for `cfg`; connects in `run`.
    pub fn new(cfg: MongodbSourceConfig) -> Self {
        let name = format!("mongodb:{}", cfg.db.url);
        MongodbSource { cfg, name }
    }
}

impl Source for MongodbSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn run(&mut self, ctx: SourceContext) -> BoxFuture<'_, Result<(), SourceError>> {
        Box::pin(async move { run(&self.cfg, &self.name, ctx).await })
    }
}

pub(crate) fn definite(source: &str, message: impl Into<String>) -> SourceError {
    SourceError::definite(source, message)
}

pub(crate) fn transient(source: &str, message: impl Into<String>) -> SourceError {
    SourceError::transient(source, message)
}

/// Server error codes that mean the resume point is gone from the oplog.
const HISTORY_LOST: [i32; 3] = [
    286, // ChangeStreamHistoryLost
    280, // ChangeStreamFatalError
    136, // CappedPositionLost
];

/// Classifies a driver error: what failed, and whether reconnecting helps.
pub(crate) fn mongo_error(source: &str, what: &str, e: &mongodb::error::Error) -> SourceError {
    // A rejected certificate (tlsCAFile, host name) needs a fix, not retries.
    if let Some(problem) = crate::tls::certificate_problem_in_text(&e.to_string()) {
        return definite(source, format!("{what}: {problem}"));
    }
    match e.kind.as_ref() {
        ErrorKind::Command(c) if HISTORY_LOST.contains(&c.code) => definite(
            source,
            format!(
                "{what}: the resume point is no longer in the oplog ({} {}: {}). Changes made since \
                 logferry last read were removed by the server before they were read, so the stream \
                 cannot continue without a gap. Recover with `logferry reset --pipeline <name> --yes` \
                 and run again: a new snapshot copies the collections as they are now. To prevent it, \
                 make the oplog larger (replSetResizeOplog) or keep logferry running.",
                c.code, c.code_name, c.message
            ),
        ),
        ErrorKind::Command(c) if c.code == 13 || c.code == 18 => definite(
            source,
            format!(
                "{what}: not authorized ({} {}: {}). The user needs the `read` role on the selected \
                 databases plus `changeStream` and `find` on them (or `readAnyDatabase` for a \
                 deployment-wide stream), e.g. db.grantRolesToUser(\"logferry\", [{{role: \"read\", db: \"shop\"}}])",
                c.code, c.code_name, c.message
            ),
        ),
        ErrorKind::Authentication { message, .. } => definite(
            source,
            format!("{what}: authentication failed ({message}); check the user and password in the source url"),
        ),
        ErrorKind::Command(c) => {
            let m = format!("{what}: {} {}: {}", c.code, c.code_name, c.message);
            // Not primary / shutting down / interrupted: a new connection may do.
            if matches!(c.code, 11600 | 11602 | 91 | 189 | 10107 | 13435 | 13436 | 6 | 7 | 89 | 9001 | 262) {
                transient(source, m)
            } else {
                definite(source, m)
            }
        }
        ErrorKind::Io(_) | ErrorKind::ServerSelection { .. } | ErrorKind::ConnectionPoolCleared { .. } => {
            transient(source, what).caused_by(e.clone())
        }
        _ if e.contains_label("ResumableChangeStreamError") || e.contains_label("RetryableWriteError") => {
            transient(source, what).caused_by(e.clone())
        }
        _ => definite(source, what).caused_by(e.clone()),
    }
}

/// Connects (lazily, as the driver does) and checks the server can serve
/// change streams.
pub(crate) async fn connect(cfg: &MongodbSourceConfig, source: &str) -> SourceResult<Client> {
    let mut opts = mongodb::options::ClientOptions::parse(cfg.db.url.expose())
        .await
        .map_err(|e| definite(source, "url").caused_by(e))?;
    opts.app_name = Some("logferry".to_string());
    Client::with_options(opts).map_err(|e| definite(source, "url").caused_by(e))
}

/// One selected collection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Coll {
    /// Database name.
    pub db: String,
    /// Collection name.
    pub coll: String,
}

impl Coll {
    /// `db.coll`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.db, self.coll)
    }

    /// The record's table reference.
    pub fn table(&self) -> TableRef {
        TableRef { schema: self.db.clone(), name: self.coll.clone() }
    }

    /// The schema record of a collection: documents have no fixed columns,
    /// only the key `_id`, and `documents` is set (as on every record of
    /// the collection; see `Change.documents` in change.proto).
    ///
    /// `_id` is in the `bson` dialect with logical type OTHER named
    /// "bson", not DOCUMENT: it holds one BSON value of any type but an
    /// array (an ObjectId most often, also strings, numbers, dates or a
    /// whole document), and DOCUMENT would promise a nested document.
    pub fn schema(&self) -> TableSchema {
        TableSchema {
            table: Some(self.table()),
            columns: vec![ColumnSchema {
                name: "_id".into(),
                source_type: BSON.into(),
                nullable: false,
                logical: Some(LogicalType::other(BSON)),
                type_dialect: BSON.into(),
            }],
            key_columns: vec!["_id".into()],
            documents: true,
        }
    }
}

/// What the selectors pick.
#[derive(Debug, Clone)]
pub struct Selection {
    patterns: Vec<String>,
    /// Collections that exist now and match.
    pub existing: Vec<Coll>,
    /// The one database every selector names exactly, if so (the stream is
    /// then opened on that database, needing no deployment-wide rights).
    pub single_db: Option<String>,
}

impl Selection {
    /// True when `db.coll` is selected.
    pub fn matches(&self, db: &str, coll: &str) -> bool {
        if coll.starts_with("system.") {
            return false;
        }
        let q = format!("{db}.{coll}");
        self.patterns.iter().any(|p| glob_match(p, &q))
    }
}

/// Databases that a selector `db.coll` can touch: its database part.
fn db_part(pattern: &str) -> &str {
    pattern.split_once('.').map(|(d, _)| d).unwrap_or(pattern)
}

/// Checks the server and resolves the selectors; every problem at once.
pub(crate) async fn preflight(client: &Client, cfg: &MongodbSourceConfig, source: &str) -> SourceResult<Selection> {
    let hello = client
        .database("admin")
        .run_command(doc! {"hello": 1})
        .await
        .map_err(|e| mongo_error(source, "connecting (hello)", &e))?;
    let mut problems = Vec::new();
    let is_mongos = hello.get_str("msg").ok() == Some("isdbgrid");
    if hello.get_str("setName").is_err() && !is_mongos {
        problems.push(
            "the server is a standalone mongod: change streams need a replica set (the oplog). \
             Start mongod with --replSet rs0 and run rs.initiate() once (a one-node replica set is fine)"
                .to_string(),
        );
    }
    for p in &cfg.db.tables {
        if !p.contains('.') {
            problems.push(format!(
                "collection selector `{p}` has no database part: write `database.collection` (or `database.*`)"
            ));
        }
    }
    let dbs: Vec<String> = {
        let parts: Vec<&str> = cfg.db.tables.iter().map(|p| db_part(p)).collect();
        if parts.iter().any(|d| d.contains('*') || d.contains('?')) {
            match client.list_database_names().await {
                Ok(names) => names.into_iter().filter(|n| parts.iter().any(|p| glob_match(p, n))).collect(),
                Err(e) => {
                    problems.push(mongo_error(source, "listing databases (listDatabases)", &e).to_string());
                    Vec::new()
                }
            }
        } else {
            let mut v: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
            v.sort();
            v.dedup();
            v
        }
    };
    let mut selection = Selection { patterns: cfg.db.tables.clone(), existing: Vec::new(), single_db: None };
    for db in &dbs {
        let names = client
            .database(db)
            .list_collection_names()
            .filter(doc! {"type": "collection"})
            .await;
        match names {
            Ok(names) => {
                for coll in names {
                    if selection.matches(db, &coll) {
                        selection.existing.push(Coll { db: db.clone(), coll });
                    }
                }
            }
            Err(e) => problems.push(mongo_error(source, &format!("listing collections of `{db}`"), &e).to_string()),
        }
    }
    selection.existing.sort();
    let exact_dbs: Vec<&str> = cfg.db.tables.iter().map(|p| db_part(p)).collect();
    if exact_dbs.iter().all(|d| !d.contains('*') && !d.contains('?') && *d == exact_dbs[0]) {
        selection.single_db = Some(exact_dbs[0].to_string());
    }
    for p in &cfg.db.tables {
        if !p.contains('*') && !p.contains('?') && !selection.existing.iter().any(|c| &c.qualified() == p) {
            // MongoDB creates collections on first insert: not an error, but say so.
            tracing::warn!(source, collection = %p, "collection does not exist yet; its changes are captured once it is created");
        }
    }
    super::fail_on_problems(source, problems)?;
    Ok(selection)
}

/// What `logferry check` says about a mongodb source.
pub async fn check(cfg: &MongodbSourceConfig) -> Result<String, SourceError> {
    let source = MongodbSource::new(cfg.clone()).name;
    let client = connect(cfg, &source).await?;
    let sel = preflight(&client, cfg, &source).await?;
    let names: Vec<String> = sel.existing.iter().map(Coll::qualified).collect();
    Ok(format!("{source}: ready; {} collection(s): {}", names.len(), names.join(", ")))
}

async fn run(cfg: &MongodbSourceConfig, source: &str, ctx: SourceContext) -> SourceResult<()> {
    let client = connect(cfg, source).await?;
    let selection = preflight(&client, cfg, source).await?;
    let resume = ctx
        .resume
        .as_ref()
        .map(MongoPosition::from_position)
        .transpose()
        .map_err(|m| definite(source, format!("{m}; `logferry reset` the pipeline to start over")))?;
    // Once mode: the cluster time now; events after it are left for later.
    let end = if ctx.once { Some(stream::cluster_time_now(&client, source).await?) } else { None };

    let start = match resume {
        Some(pos) if pos.snapshot.is_none() => pos,
        Some(pos) => match snapshot::copy(&client, cfg, source, &selection, pos, &ctx).await? {
            Some(p) => p,
            None => return Ok(()),
        },
        None => {
            // The start point is taken, and made durable, before anything is read.
            let token = stream::current_token(&client, &selection, source).await?;
            let initial = cfg.db.snapshot == SnapshotMode::Initial;
            let pos = MongoPosition::new(token, initial.then(Default::default));
            ctx.emitter.emit(super::position_marker(&ctx.pipeline, SOURCE_KIND, pos.to_position())).await?;
            if !ctx.wait_until_durable().await {
                return Ok(());
            }
            if initial {
                match snapshot::copy(&client, cfg, source, &selection, pos, &ctx).await? {
                    Some(p) => p,
                    None => return Ok(()),
                }
            } else {
                pos
            }
        }
    };
    stream::stream(&client, cfg, source, &selection, start, end, &ctx).await
}

/// Renders a document briefly for messages (relaxed Extended JSON).
pub(crate) fn brief(d: &Document) -> String {
    let s = mongodb::bson::Bson::Document(d.clone()).into_relaxed_extjson().to_string();
    if s.len() > 200 {
        format!("{}…", &s[..s.char_indices().take_while(|(i, _)| *i < 200).last().map(|(i, _)| i).unwrap_or(0)])
    } else {
        s
    }
}
