//! Which tables to compare: every source table the pipeline replicates
//! (its `tables` selectors, resolved as the source resolves them), paired
//! with the table each of its targets writes it to — named as the target
//! names it (the `[[pipeline.table]]` rules' rename, then the target's
//! `schema` / `database`), for the targets whose `tables` route admits it.
//!
//! A MongoDB collection in a SQL target is kept as `_id` + `document` rows
//! in `public` (`sinks::document`); such a pair compares documents in that
//! form, keyed by the `_id`'s canonical Extended JSON. A SQL table in a
//! MongoDB target is kept as documents of BSON values (`record::bson`);
//! its rows are compared with each value in that form.
//!
//! A pair is compared **by digests** when both sides are one SQL engine,
//! the rules change no value of the table (no filter, no mask: renames and
//! column selection only change which column is compared with which) and
//! every compared column has the same type on both sides (so both
//! databases print the same text); else **by rows**.

use super::mongodb::MongoSide;
use super::mysql::MySide;
use super::postgres::PgSide;
use super::side::Side;
use super::VerifyError;
use crate::config::{PipelineConfig, SourceConfig, TargetConfig};
use super::compare::Key;
use crate::record::{Change, Op, Row, TableRef, TableSchema, Value};
use std::sync::Arc;
use crate::sources::glob_match;
use crate::transform::{Route, Stage};

/// A source table the pipeline replicates.
#[derive(Debug, Clone)]
pub struct SourceTable {
    /// `schema.name` (PostgreSQL), `database.name` (MySQL), `db.collection`.
    pub table: TableRef,
    /// Its schema record, as the source emits it before a copy.
    pub schema: TableSchema,
    /// The key comes from a rule (the table has none of its own): its
    /// values may repeat, so rows cannot be paired by it.
    pub key_from_rule: bool,
}

/// One engine a side is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// PostgreSQL.
    Postgres,
    /// MySQL / MariaDB.
    Mysql,
    /// MongoDB.
    Mongodb,
}

/// A source table and where one target keeps it.
#[derive(Debug, Clone)]
pub struct Pair {
    /// The source table.
    pub source: SourceTable,
    /// Index of the target in the pipeline's `targets`.
    pub target_index: usize,
    /// The target table, as the rules name it (before the target's
    /// `schema` / `database`).
    pub renamed: TableRef,
    /// The key columns in the target.
    pub target_key: Vec<String>,
    /// Source column → target column, when the rules change no value of
    /// the table (only renames and column selection); `None` otherwise.
    pub mapping: Option<Vec<(String, String)>>,
    /// Why the pair cannot be compared, if so.
    pub not_verifiable: Option<String>,
    /// MongoDB documents kept as `_id` + `document` rows of a SQL table
    /// (`sinks::document`): rows and keys are compared in that form.
    pub documents_as_rows: bool,
    /// SQL rows kept as MongoDB documents: each value is compared in the
    /// BSON form the target gives it (`record::bson`: a date as its ISO
    /// text, a uuid as binary subtype 4, …).
    pub rows_as_documents: bool,
}

/// The source tables of `p` matching `only` (a glob over `schema.name`).
pub async fn source_tables(p: &PipelineConfig, only: Option<&str>) -> Result<Vec<SourceTable>, VerifyError> {
    let fits = |t: &TableRef| only.is_none_or(|g| glob_match(g, &t.qualified()) || glob_match(g, &t.name));
    let mut out = Vec::new();
    match &p.source {
        SourceConfig::Postgres(pg) => {
            use crate::sources::postgres::catalog;
            let label = super::postgres::server_label(pg.db.url.expose());
            let client = super::postgres::connect(pg.db.url.expose(), &label).await?;
            let mut types = catalog::TypeResolver::default();
            for t in catalog::resolve_tables(&client, &pg.db.tables, &pg.db.row_keys, &label).await? {
                if !fits(&t.table_ref()) {
                    continue;
                }
                let cols = catalog::columns(&client, &t, &label).await?;
                let logical = types.logical.columns(&client, &cols, &label).await?;
                let schema = catalog::table_schema(&t, &cols, logical, &t.key);
                out.push(SourceTable { table: t.table_ref(), schema, key_from_rule: t.key_from_rule });
            }
        }
        SourceConfig::Mysql(my) => {
            let (label, _) = super::mysql::server_label(my.db.url.expose());
            let mut conn = super::mysql::connect(my.db.url.expose(), &label).await?;
            for t in crate::sources::mysql::catalog::resolve_tables(&mut conn, &my.db.tables, &my.db.row_keys, &label).await? {
                if fits(&t.table_ref()) {
                    out.push(SourceTable { table: t.table_ref(), schema: t.schema(), key_from_rule: t.key_from_rule });
                }
            }
        }
        SourceConfig::Mongodb(m) => {
            let label = format!("mongodb:{}", m.db.url);
            let client = super::mongodb::connect(m.db.url.expose(), &label).await?;
            let selection = crate::sources::mongodb::preflight(&client, m, &label).await?;
            for c in selection.existing {
                if fits(&c.table()) {
                    out.push(SourceTable { table: c.table(), schema: c.schema(), key_from_rule: false });
                }
            }
        }
        SourceConfig::Generate(_) | SourceConfig::Kafka(_) => {}
    }
    Ok(out)
}

/// The engine of a source.
pub fn source_engine(s: &SourceConfig) -> Option<Engine> {
    match s {
        SourceConfig::Postgres(_) => Some(Engine::Postgres),
        SourceConfig::Mysql(_) => Some(Engine::Mysql),
        SourceConfig::Mongodb(_) => Some(Engine::Mongodb),
        SourceConfig::Generate(_) | SourceConfig::Kafka(_) => None,
    }
}

/// The engine of a target, or what kind it is when it cannot be read back.
pub fn target_engine(t: &TargetConfig) -> Result<Engine, &'static str> {
    match t {
        TargetConfig::Postgres(_) => Ok(Engine::Postgres),
        TargetConfig::Mysql(_) => Ok(Engine::Mysql),
        TargetConfig::Mongodb(_) => Ok(Engine::Mongodb),
        TargetConfig::File(_) => Err("file"),
        TargetConfig::Stdout(_) => Err("stdout"),
        TargetConfig::Discard => Err("discard"),
        TargetConfig::Kafka(_) => Err("kafka"),
        TargetConfig::Nats(_) => Err("nats"),
        TargetConfig::Http(_) => Err("http"),
    }
}

/// A snapshot-read record of `row` of table `t`, as the source emits it.
pub fn snapshot_record(t: &SourceTable, row: Row) -> Change {
    Change {
        op: Op::SnapshotRead as i32,
        table: Some(t.table.clone()),
        key_columns: t.schema.key_columns.clone(),
        after: Some(row),
        documents: t.schema.documents,
        tx_end: true,
        ..Default::default()
    }
}

/// The row the targets get for source row `row` (`None`: the rules keep it away).
pub fn expected(stage: Option<&Stage>, t: &SourceTable, row: &Row) -> Option<Row> {
    match stage {
        None => Some(row.clone()),
        Some(s) => s.transform(&snapshot_record(t, row.clone())).and_then(|c| c.after),
    }
}

/// Shapes source rows of `pair` as its target holds them: through the
/// rules, then (documents into a SQL table) as an `_id` + `document` row,
/// the key as that row's `_id`.
pub fn shaper(stage: Option<Arc<Stage>>, pair: &Pair) -> impl Fn(&Row, Key) -> (Key, Option<Row>) + Sync {
    let source = pair.source.clone();
    let (as_rows, as_documents) = (pair.documents_as_rows, pair.rows_as_documents);
    move |row: &Row, key: Key| {
        if as_documents {
            let shaped = expected(stage.as_deref(), &source, row).map(|r| Row {
                columns: r.columns.into_iter().map(|c| crate::record::Column { value: c.value.as_ref().map(as_bson), ..c }).collect(),
            });
            return (key.iter().map(as_bson).collect(), shaped);
        }
        if !as_rows {
            return (key, expected(stage.as_deref(), &source, row));
        }
        let shaped = match stage.as_deref() {
            None => Some(snapshot_record(&source, row.clone())),
            Some(s) => s.transform(&snapshot_record(&source, row.clone())),
        };
        let as_row = shaped.and_then(|c| crate::sinks::document::to_table_row(&c).ok().flatten()).and_then(|c| c.after);
        let id = |r: &Row| r.get(DOCUMENT_ID).cloned();
        let key = match as_row.as_ref().and_then(id) {
            Some(v) => vec![v],
            None => vec![document_id(row)],
        };
        (key, as_row)
    }
}

/// `v` as a MongoDB target stores it and the MongoDB reader reads it back.
fn as_bson(v: &Value) -> Value {
    crate::record::bson::value_to_bson(v).map_or_else(|_| v.clone(), |b| crate::record::bson::bson_to_value(&b))
}

/// The key column of documents: `_id`.
const DOCUMENT_ID: &str = "_id";

/// The `_id` of a document as a SQL target stores it (canonical Extended JSON).
fn document_id(row: &Row) -> Value {
    let mut text = String::new();
    match row.get(DOCUMENT_ID).map(|v| crate::sinks::document::canonical_extjson(v, &mut text)) {
        Some(Ok(())) => Value::of(crate::record::value::Kind::Json(text)),
        _ => Value::null(),
    }
}

/// Pairs every source table with each target that receives it.
pub fn pairs(p: &PipelineConfig, stage: Option<&Stage>, routes: &[Route], tables: &[SourceTable]) -> Vec<Pair> {
    let mut out = Vec::new();
    let source_engine = source_engine(&p.source);
    for t in tables {
        // The table's name and key as the targets see them.
        let schema_record = Change {
            op: Op::SchemaChange as i32,
            table: Some(t.table.clone()),
            key_columns: t.schema.key_columns.clone(),
            documents: t.schema.documents,
            schema_change: Some(crate::record::SchemaChange { schema: Some(t.schema.clone()), ddl: String::new() }),
            ..Default::default()
        };
        let shaped = match stage {
            Some(s) => s.transform(&schema_record).unwrap_or(schema_record),
            None => schema_record,
        };
        let renamed = shaped.table.clone().unwrap_or_default();
        let mapping = value_preserving(stage, t);
        for (i, target) in p.targets.iter().enumerate() {
            if !routes.get(i).is_none_or(|r| r.admits(&shaped)) {
                continue;
            }
            let not_verifiable = match (target_engine(target), source_engine) {
                (Err(kind), _) => Some(format!("a {kind} target cannot be read back")),
                (_, None) => Some(format!("a {} source has no tables to read back", p.source.kind())),
                _ if t.key_from_rule => Some(
                    "the table has no primary key (its rule's key may repeat), so its rows cannot be paired by key".to_string(),
                ),
                _ if t.schema.key_columns.is_empty() => Some(
                    "the table has no key (it is replicated by whole rows), so its rows cannot be paired by key".to_string(),
                ),
                _ => None,
            };
            // A SQL target keeps a collection as `_id` + `document` in `public`.
            let documents_as_rows = t.schema.documents && matches!(target_engine(target), Ok(Engine::Postgres | Engine::Mysql));
            let rows_as_documents = !t.schema.documents && matches!(target_engine(target), Ok(Engine::Mongodb));
            let (renamed, target_key) = match documents_as_rows {
                true => (TableRef { schema: "public".into(), name: renamed.name.clone() }, vec![DOCUMENT_ID.to_string()]),
                false => (renamed.clone(), shaped.key_columns.clone()),
            };
            out.push(Pair {
                source: t.clone(),
                target_index: i,
                renamed,
                target_key,
                mapping: mapping.clone().filter(|_| !documents_as_rows),
                not_verifiable,
                documents_as_rows,
                rows_as_documents,
            });
        }
    }
    out
}

/// Source column → target column when the rules change no value of `t`:
/// a row whose every value is its column's name comes out with each kept
/// value unchanged (no mask) and is not filtered.
fn value_preserving(stage: Option<&Stage>, t: &SourceTable) -> Option<Vec<(String, String)>> {
    let names: Vec<String> = t.schema.columns.iter().map(|c| c.name.clone()).collect();
    let Some(stage) = stage else { return Some(names.iter().map(|n| (n.clone(), n.clone())).collect()) };
    if !stage.filter_columns(&t.table.schema, &t.table.name).is_empty() {
        return None;
    }
    let probe = Row::from_pairs(names.iter().map(|n| (n.clone(), Value::text(n.clone()))));
    let out = expected(Some(stage), t, &probe)?;
    let mut mapping = Vec::with_capacity(out.columns.len());
    for c in &out.columns {
        let source = c.value.as_ref().and_then(|v| match &v.kind {
            Some(crate::record::value::Kind::Text(s)) if names.contains(s) => Some(s.clone()),
            _ => None,
        })?;
        mapping.push((source, c.name.clone()));
    }
    Some(mapping)
}

/// The target table's place: (schema or database, name), for `target`.
pub fn target_place(target: &TargetConfig, renamed: &TableRef) -> (String, String) {
    let name = renamed.name.clone();
    match target {
        TargetConfig::Postgres(t) => {
            let schema = t.schema.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| match renamed.schema.is_empty() {
                true => "public".into(),
                false => renamed.schema.clone(),
            });
            (schema, name)
        }
        TargetConfig::Mysql(t) => {
            let db = t.database.clone().filter(|d| !d.is_empty()).or_else(|| super::mysql::server_label(t.url.expose()).1);
            (db.unwrap_or_default(), name)
        }
        TargetConfig::Mongodb(t) => (t.database.clone().filter(|d| !d.is_empty()).unwrap_or_else(|| renamed.schema.clone()), name),
        _ => (renamed.schema.clone(), name),
    }
}

/// A side of a known engine, before it is boxed.
enum Opened {
    Pg(PgSide),
    My(MySide),
    Mongo(MongoSide),
    Empty(EmptySide),
}

impl Opened {
    fn boxed(self) -> Box<dyn Side> {
        match self {
            Opened::Pg(s) => Box::new(s),
            Opened::My(s) => Box::new(s),
            Opened::Mongo(s) => Box::new(s),
            Opened::Empty(s) => Box::new(s),
        }
    }
}

/// The source side of `t` in pipeline `p`.
async fn open_source(p: &PipelineConfig, t: &SourceTable) -> Result<Opened, VerifyError> {
    let key = &t.schema.key_columns;
    let (schema, name) = (&t.table.schema, &t.table.name);
    let gone = |label: &str| VerifyError::Read(format!("{label}: source table {} is gone", t.table));
    Ok(match &p.source {
        SourceConfig::Postgres(pg) => {
            let label = super::postgres::server_label(pg.db.url.expose());
            let client = super::postgres::connect(pg.db.url.expose(), &label).await?;
            Opened::Pg(PgSide::open(client, &label, schema, name, key).await?.ok_or_else(|| gone(&label))?)
        }
        SourceConfig::Mysql(my) => {
            let (label, _) = super::mysql::server_label(my.db.url.expose());
            let conn = super::mysql::connect(my.db.url.expose(), &label).await?;
            Opened::My(MySide::open(conn, &label, schema, name, key).await?.ok_or_else(|| gone(&label))?)
        }
        SourceConfig::Mongodb(m) => {
            let label = format!("mongodb:{}", m.db.url);
            let client = super::mongodb::connect(m.db.url.expose(), &label).await?;
            Opened::Mongo(MongoSide::open(&client, &label, schema, name, key))
        }
        SourceConfig::Generate(_) | SourceConfig::Kafka(_) => return Err(VerifyError::Internal("no tables to read".into())),
    })
}

/// The source side of a pair alone (to read source rows by key).
pub async fn open_source_side(p: &PipelineConfig, t: &SourceTable) -> Result<Box<dyn Side>, VerifyError> {
    Ok(open_source(p, t).await?.boxed())
}

/// The two sides of a pair, opened: (source, target, whether to compare
/// by digests). A target table that does not exist reads as empty.
pub async fn open(p: &PipelineConfig, pair: &Pair) -> Result<(Box<dyn Side>, Box<dyn Side>, bool), VerifyError> {
    let target = &p.targets[pair.target_index];
    let (place, name) = target_place(target, &pair.renamed);
    let key = &pair.target_key;
    let empty = |label: &str| Opened::Empty(EmptySide { label: format!("{label} {place}.{name} (no such table)"), key: key.clone() });
    let tgt = match target {
        TargetConfig::Postgres(c) => {
            let label = super::postgres::server_label(c.url.expose());
            let client = super::postgres::connect(c.url.expose(), &label).await?;
            PgSide::open(client, &label, &place, &name, key).await?.map_or_else(|| empty(&label), Opened::Pg)
        }
        TargetConfig::Mysql(c) => {
            let (label, _) = super::mysql::server_label(c.url.expose());
            let conn = super::mysql::connect(c.url.expose(), &label).await?;
            MySide::open(conn, &label, &place, &name, key).await?.map_or_else(|| empty(&label), Opened::My)
        }
        TargetConfig::Mongodb(c) => {
            let label = format!("mongodb:{}", c.url);
            let client = super::mongodb::connect(c.url.expose(), &label).await?;
            Opened::Mongo(MongoSide::open(&client, &label, &place, &name, key))
        }
        _ => return Err(VerifyError::Internal("not a database target".into())),
    };
    let mut src = open_source(p, &pair.source).await?;
    let mut tgt = tgt;
    let mapping = pair.mapping.as_deref().unwrap_or(&[]);
    let (from, to): (Vec<String>, Vec<String>) = mapping.iter().cloned().unzip();
    let digests = match (&mut src, &mut tgt) {
        (Opened::Pg(s), Opened::Pg(t)) if same_types(&s.column_types(), &t.column_types(), mapping) => {
            s.set_digest_columns(from);
            t.set_digest_columns(to);
            true
        }
        (Opened::My(s), Opened::My(t)) if same_types(&s.column_types(), &t.column_types(), mapping) => {
            s.set_digest_columns(from);
            t.set_digest_columns(to);
            true
        }
        _ => false,
    };
    Ok((src.boxed(), tgt.boxed(), digests))
}

/// True when every mapped column has the same type on both sides.
fn same_types(src: &[(String, String)], tgt: &[(String, String)], mapping: &[(String, String)]) -> bool {
    let ty = |cols: &[(String, String)], name: &str| cols.iter().find(|(n, _)| n == name).map(|(_, t)| t.clone());
    !mapping.is_empty() && mapping.iter().all(|(s, t)| ty(src, s).is_some() && ty(src, s) == ty(tgt, t))
}

/// A target table that does not exist: it has no rows.
struct EmptySide {
    label: String,
    key: Vec<String>,
}

impl Side for EmptySide {
    fn describe(&self) -> String {
        self.label.clone()
    }
    fn key_columns(&self) -> &[String] {
        &self.key
    }
    fn estimate(&mut self) -> crate::BoxFuture<'_, Result<Option<u64>, VerifyError>> {
        Box::pin(async { Ok(Some(0)) })
    }
    fn scan(&mut self, _n: usize) -> crate::BoxFuture<'_, Result<Vec<super::side::SideRow>, VerifyError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn by_keys<'a>(&'a mut self, _keys: &'a [super::compare::Key]) -> crate::BoxFuture<'a, Result<Vec<super::side::SideRow>, VerifyError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}
