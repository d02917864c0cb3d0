//! A batch turned into MongoDB write statements: per collection, each key's
//! records folded into the key's final effect, then rendered as `update`
//! and `delete` statements (see the module docs of `sinks::mongodb`).
//!
//! Nothing here talks to the server; [`plan`] is a pure function of the
//! batch, so a replayed batch yields the very same statements.

use crate::record::bson::{row_id, value_to_bson, UPDATE_DESCRIPTION};
use crate::record::{value::Kind, Change, Op, Row, Value};
use crate::sinks::plan::{steps, Step};
use bson::{doc, Bson, Document, RawDocumentBuf};
use std::collections::HashMap;

/// Largest document MongoDB stores (`maxBsonObjectSize`): a bigger one is
/// refused by the server, so it is reported before anything is sent.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// A collection of a database.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Namespace {
    pub db: String,
    pub coll: String,
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.db, self.coll)
    }
}

/// One statement of an `update` or `delete` command.
#[derive(Debug, Clone)]
pub struct Stmt {
    /// The document's `_id`, for messages.
    pub id: Bson,
    /// `{q, u, upsert}` or `{q, limit}`.
    pub body: RawDocumentBuf,
    /// From a MongoDB partial update (`$updateDescription`): an error that
    /// says the stored document has another shape can be a replay artefact
    /// (see `sinks::mongodb`, "Replays").
    pub partial: bool,
    /// Number of the statement in the batch's plan (stable across replays
    /// of the same batch), to skip it on a rerun.
    pub gid: usize,
}

/// What to do, in batch order.
#[derive(Debug)]
pub enum Action {
    /// `OP_SCHEMA_CHANGE`: create the collection if missing.
    Create(Namespace),
    /// `OP_TRUNCATE`: remove every document, keep the collection.
    Truncate(Namespace),
    /// Row changes of one collection, reduced per key: one `delete`, then
    /// one `update` (each chunked only when it exceeds the server's limits).
    Writes(Writes),
    /// An update that changed the key of a row from a SQL source.
    KeyChange(Box<KeyChange>),
}

/// The statements of one collection.
#[derive(Debug)]
pub struct Writes {
    pub ns: Namespace,
    pub deletes: Vec<Stmt>,
    pub updates: Vec<Stmt>,
}

/// A row that moves from `old_id` to `new_id`.
#[derive(Debug)]
pub struct KeyChange {
    pub ns: Namespace,
    pub old_id: Bson,
    pub new_id: Bson,
    /// The new image, `_id` first, without the UNCHANGED columns.
    pub doc: Document,
    /// Columns not sent (UNCHANGED): taken from the stored old document.
    pub unchanged: Vec<String>,
}

/// Relaxed Extended JSON of `b`, cut to a readable length, for messages.
pub fn show_id(b: &Bson) -> String {
    const MAX: usize = 200;
    let s = b.clone().into_relaxed_extjson().to_string();
    match s.char_indices().nth(MAX) {
        None => s,
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

/// The statements for `records` (a batch), with every collection in
/// database `database` when set, else in the record's schema.
pub fn plan(records: &[Change], database: Option<&str>) -> Result<Vec<Action>, String> {
    let mut out = Vec::new();
    let mut gid = 0;
    for step in steps(records)? {
        match step {
            Step::Schema(c) => {
                let t = c.schema_change.as_ref().and_then(|s| s.schema.as_ref()).and_then(|s| s.table.as_ref()).or(c.table.as_ref());
                out.push(Action::Create(namespace(t, database)?));
            }
            Step::Truncate(c) => out.push(Action::Truncate(namespace(c.table.as_ref(), database)?)),
            Step::KeyChange(c) => out.push(key_change(c, database)?),
            Step::Rows(rows) => {
                let mut colls: Vec<(Namespace, Reducer)> = Vec::new();
                let mut index: HashMap<Namespace, usize> = HashMap::new();
                for (pos, c) in rows.into_iter().enumerate() {
                    let ns = namespace(c.table.as_ref(), database)?;
                    let i = *index.entry(ns.clone()).or_insert_with(|| {
                        colls.push((ns.clone(), Reducer::default()));
                        colls.len() - 1
                    });
                    colls[i].1.add(c, pos).map_err(|e| format!("collection {ns}: {e}"))?;
                }
                for (ns, r) in colls {
                    let w = r.finish(ns, &mut gid)?;
                    if !w.deletes.is_empty() || !w.updates.is_empty() {
                        out.push(Action::Writes(w));
                    }
                }
            }
        }
    }
    Ok(out)
}

fn namespace(t: Option<&crate::record::TableRef>, database: Option<&str>) -> Result<Namespace, String> {
    let t = t.filter(|t| !t.name.is_empty()).ok_or("a record without a table (collection) name")?;
    let db = match database {
        Some(d) => d.to_string(),
        None if t.schema.is_empty() => {
            return Err(format!(
                "table {} has no schema or database name to use as the MongoDB database: set `database` in the target config",
                t.name
            ))
        }
        None => t.schema.clone(),
    };
    Ok(Namespace { db, coll: t.name.clone() })
}

/// What one record does to its key.
#[derive(Debug)]
enum Effect {
    Delete,
    /// The whole document (upsert).
    Replace(Document),
    /// Top-level fields to set, others kept (a row with UNCHANGED values; upsert).
    Set(Document),
    /// A MongoDB partial update (no upsert).
    Patch(Patch),
}

/// `$updateDescription` as path operations, in the order they apply:
/// array truncations, then updated fields, then removed fields.
#[derive(Debug, Default, Clone)]
struct Patch {
    truncate: Vec<(String, i64)>,
    set: Vec<(String, Bson)>,
    unset: Vec<String>,
}

/// A key's final effect after the records of the batch so far.
#[derive(Debug)]
enum Fate {
    Deleted,
    /// Statements in order (first is any effect but Delete; Patch after).
    Ops(Vec<Effect>),
}

#[derive(Debug)]
struct Entry {
    id: Bson,
    fate: Fate,
    /// Position of the key's last record: final states are written in the
    /// order they were reached (a unique value freed by one key and taken
    /// by another then moves in the source's order).
    last: usize,
}

#[derive(Debug, Default)]
struct Reducer {
    entries: Vec<Entry>,
    index: HashMap<Vec<u8>, usize>,
}

impl Reducer {
    fn add(&mut self, c: &Change, pos: usize) -> Result<(), String> {
        let (id, effect) = effect(c)?;
        let key = key_bytes(&id);
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                self.index.insert(key, self.entries.len());
                self.entries.push(Entry { id: id.clone(), fate: Fate::Ops(Vec::new()), last: pos });
                self.entries.len() - 1
            }
        };
        let e = &mut self.entries[i];
        e.last = pos;
        // The latest spelling of the key (1 vs NumberLong(1)) is what the source has now.
        e.id = id.clone();
        e.fate = match (std::mem::replace(&mut e.fate, Fate::Deleted), effect) {
            (_, Effect::Delete) => Fate::Deleted,
            (_, Effect::Replace(d)) => Fate::Ops(vec![Effect::Replace(d)]),
            // Gone: a partial update matches nothing.
            (Fate::Deleted, Effect::Patch(_)) => Fate::Deleted,
            // Gone: the upsert creates exactly the sent fields.
            (Fate::Deleted, Effect::Set(fields)) => {
                let mut d = doc! { "_id": id };
                d.extend(fields);
                Fate::Ops(vec![Effect::Replace(d)])
            }
            (Fate::Ops(mut ops), Effect::Set(fields)) => {
                match ops.last_mut() {
                    Some(Effect::Replace(d)) | Some(Effect::Set(d)) => {
                        for (k, v) in fields {
                            d.insert(k, v);
                        }
                    }
                    _ => ops.push(Effect::Set(fields)),
                }
                Fate::Ops(ops)
            }
            (Fate::Ops(mut ops), Effect::Patch(p)) => {
                ops.push(Effect::Patch(p));
                Fate::Ops(ops)
            }
        };
        Ok(())
    }

    fn finish(mut self, ns: Namespace, gid: &mut usize) -> Result<Writes, String> {
        self.entries.sort_by_key(|e| e.last);
        let mut w = Writes { ns, deletes: Vec::new(), updates: Vec::new() };
        let mut stmt = |id: &Bson, body: Document, partial: bool| -> Result<Stmt, String> {
            let body = RawDocumentBuf::from_document(&body).map_err(|e| format!("document _id {}: {e}", show_id(id)))?;
            *gid += 1;
            Ok(Stmt { id: id.clone(), body, partial, gid: *gid - 1 })
        };
        for e in self.entries {
            let q = doc! { "_id": e.id.clone() };
            match e.fate {
                Fate::Deleted => w.deletes.push(stmt(&e.id, doc! { "q": q, "limit": 1 }, false)?),
                Fate::Ops(ops) => {
                    for op in ops {
                        match op {
                            Effect::Replace(d) => {
                                check_size(&w.ns, &e.id, &d)?;
                                w.updates.push(stmt(&e.id, doc! { "q": q.clone(), "u": d, "upsert": true }, false)?);
                            }
                            Effect::Set(d) if d.is_empty() => {
                                // Nothing sent but the key: make sure the document exists.
                                let u = doc! { "$setOnInsert": { "_id": e.id.clone() } };
                                w.updates.push(stmt(&e.id, doc! { "q": q.clone(), "u": u, "upsert": true }, false)?);
                            }
                            Effect::Set(d) => {
                                check_size(&w.ns, &e.id, &d)?;
                                w.updates.push(stmt(&e.id, doc! { "q": q.clone(), "u": { "$set": d }, "upsert": true }, false)?);
                            }
                            Effect::Patch(p) => {
                                for u in patch_updates(p) {
                                    check_size(&w.ns, &e.id, &u)?;
                                    w.updates.push(stmt(&e.id, doc! { "q": q.clone(), "u": u, "upsert": false }, true)?);
                                }
                            }
                            Effect::Delete => unreachable!("a delete is a fate, never an op"),
                        }
                    }
                }
            }
        }
        Ok(w)
    }
}

fn check_size(ns: &Namespace, id: &Bson, d: &Document) -> Result<(), String> {
    let n = RawDocumentBuf::from_document(d).map(|r| r.as_bytes().len()).unwrap_or(0);
    if n > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "collection {ns}, _id {}: the document is {n} bytes, above MongoDB's limit of {MAX_DOCUMENT_BYTES} bytes; \
             leave out large columns with a [[pipeline.table]] rule (exclude_columns)",
            show_id(id)
        ));
    }
    Ok(())
}

/// Update documents for a patch: as few as possible, but never two paths
/// in one document where one is a prefix of the other (MongoDB refuses
/// such an update), so each array truncation applies before the updated
/// fields that index into the array.
fn patch_updates(p: Patch) -> Vec<Document> {
    enum PathOp {
        Truncate(i64),
        Set(Bson),
        Unset,
    }
    let ops = p
        .truncate
        .into_iter()
        .map(|(f, n)| (f, PathOp::Truncate(n)))
        .chain(p.set.into_iter().map(|(f, v)| (f, PathOp::Set(v))))
        .chain(p.unset.into_iter().map(|f| (f, PathOp::Unset)));
    let mut out: Vec<Document> = Vec::new();
    let mut paths: Vec<String> = Vec::new();
    let mut cur = Document::new();
    for (path, op) in ops {
        if paths.iter().any(|p| conflicts(p, &path)) {
            out.push(std::mem::take(&mut cur));
            paths.clear();
        }
        let (operator, value) = match op {
            PathOp::Truncate(n) => ("$push", Bson::Document(doc! { "$each": [], "$slice": n })),
            PathOp::Set(v) => ("$set", v),
            PathOp::Unset => ("$unset", Bson::String(String::new())),
        };
        if !cur.contains_key(operator) {
            cur.insert(operator, Document::new());
        }
        if let Ok(d) = cur.get_document_mut(operator) {
            d.insert(path.clone(), value);
        }
        paths.push(path);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// True when updating `a` and `b` in one update would conflict.
fn conflicts(a: &str, b: &str) -> bool {
    let prefix = |p: &str, q: &str| q.len() > p.len() && q.starts_with(p) && q.as_bytes()[p.len()] == b'.';
    a == b || prefix(a, b) || prefix(b, a)
}

/// The `_id` and effect of one row change.
fn effect(c: &Change) -> Result<(Bson, Effect), String> {
    match c.op() {
        Op::Delete => {
            let row = c.before.as_ref().ok_or("a delete without a before image (the key)")?;
            Ok((row_id(&c.key_columns, row)?, Effect::Delete))
        }
        Op::Insert | Op::Update | Op::SnapshotRead => {
            let row = c.after.as_ref().ok_or("an insert or update without an after image")?;
            let id = row_id(&c.key_columns, row)?;
            if let Some(desc) = row.get(UPDATE_DESCRIPTION) {
                let p = patch(desc).map_err(|e| format!("_id {}: {UPDATE_DESCRIPTION}: {e}", show_id(&id)))?;
                return Ok((id, Effect::Patch(p)));
            }
            let (doc, unchanged) = image(&c.key_columns, row, &id).map_err(|e| format!("_id {}: {e}", show_id(&id)))?;
            if unchanged.is_empty() {
                Ok((id, Effect::Replace(doc)))
            } else {
                let fields = doc.into_iter().filter(|(k, _)| k != "_id").collect();
                Ok((id, Effect::Set(fields)))
            }
        }
        op => Err(format!("{op:?} is not a row change")),
    }
}

/// The document of `row` for the target: with a key other than `_id`,
/// `_id` comes first and the key columns stay fields too. UNCHANGED
/// columns are left out and named in the second result.
pub fn image(key_columns: &[String], row: &Row, id: &Bson) -> Result<(Document, Vec<String>), String> {
    let keyed_by_id = key_columns.iter().any(|k| k == "_id");
    let mut doc = Document::new();
    if !keyed_by_id {
        doc.insert("_id", id.clone());
    }
    let mut unchanged = Vec::new();
    for col in &row.columns {
        if !keyed_by_id && col.name == "_id" {
            return Err(format!(
                "the row has a column named _id that is not its key ({}); MongoDB's _id is the key here: rename the column with a [[pipeline.table]] rule (rename_columns)",
                key_columns.join(", ")
            ));
        }
        let v = col.value.as_ref().ok_or_else(|| format!("field {:?}: the value is missing (an invalid record)", col.name))?;
        if v.is_unchanged() {
            unchanged.push(col.name.clone());
            continue;
        }
        doc.insert(col.name.clone(), value_to_bson(v).map_err(|e| format!("field {:?}: {e}", col.name))?);
    }
    Ok((doc, unchanged))
}

/// Reads a `$updateDescription` value (see `record::bson`).
fn patch(desc: &Value) -> Result<Patch, String> {
    let Some(Kind::Document(d)) = &desc.kind else { return Err("not a document".into()) };
    let mut p = Patch::default();
    for f in &d.fields {
        let v = f.value.as_ref();
        match f.name.as_str() {
            "updatedFields" => {
                let Some(Kind::Document(u)) = v.and_then(|v| v.kind.as_ref()) else { return Err("updatedFields is not a document".into()) };
                for c in &u.fields {
                    let v = c.value.as_ref().ok_or_else(|| format!("updatedFields.{}: no value", c.name))?;
                    p.set.push((c.name.clone(), value_to_bson(v).map_err(|e| format!("updatedFields {:?}: {e}", c.name))?));
                }
            }
            "removedFields" => {
                for e in array(v, "removedFields")? {
                    match &e.kind {
                        Some(Kind::Text(s)) => p.unset.push(s.clone()),
                        _ => return Err("removedFields holds a value that is not text".into()),
                    }
                }
            }
            "truncatedArrays" => {
                for e in array(v, "truncatedArrays")? {
                    let Some(Kind::Document(t)) = &e.kind else { return Err("truncatedArrays holds a value that is not a document".into()) };
                    let row = Row { columns: t.fields.clone() };
                    let field = match row.get("field").and_then(|v| v.kind.as_ref()) {
                        Some(Kind::Text(s)) => s.clone(),
                        _ => return Err("a truncatedArrays entry without a text field".into()),
                    };
                    let size = match row.get("newSize").and_then(|v| v.kind.as_ref()) {
                        Some(Kind::Int32(n)) => i64::from(*n),
                        Some(Kind::Int64(n)) => *n,
                        _ => return Err(format!("truncatedArrays entry {field:?} without an integer newSize")),
                    };
                    p.truncate.push((field, size));
                }
            }
            // The update is applied alike; a delete of the key follows.
            "fullDocumentMissing" => {}
            other => return Err(format!("unknown field {other:?}")),
        }
    }
    Ok(p)
}

fn array<'a>(v: Option<&'a Value>, what: &str) -> Result<&'a [Value], String> {
    match v.and_then(|v| v.kind.as_ref()) {
        Some(Kind::Array(a)) => Ok(&a.elements),
        _ => Err(format!("{what} is not an array")),
    }
}

fn key_change(c: &Change, database: Option<&str>) -> Result<Action, String> {
    let ns = namespace(c.table.as_ref(), database)?;
    let fail = |e: String| format!("collection {ns}: {e}");
    let before = c.before.as_ref().ok_or_else(|| fail("a key-changing update without a before image".into()))?;
    let after = c.after.as_ref().ok_or_else(|| fail("a key-changing update without an after image".into()))?;
    let old_id = row_id(&c.key_columns, before).map_err(fail)?;
    let new_id = row_id(&c.key_columns, after).map_err(fail)?;
    let (doc, unchanged) = image(&c.key_columns, after, &new_id).map_err(|e| fail(format!("_id {}: {e}", show_id(&new_id))))?;
    check_size(&ns, &new_id, &doc)?;
    Ok(Action::KeyChange(Box::new(KeyChange { ns, old_id, new_id, doc, unchanged })))
}

/// Bytes that are equal for `_id`s MongoDB treats as equal: numbers of
/// different types with the same integral value (1, NumberLong(1), 1.0) are
/// one key, also inside sub-documents and arrays.
fn key_bytes(id: &Bson) -> Vec<u8> {
    fn norm(b: &Bson) -> Bson {
        const TWO_63: f64 = 9_223_372_036_854_775_808.0;
        match b {
            Bson::Int32(i) => Bson::Int64(i64::from(*i)),
            Bson::Double(f) if f.fract() == 0.0 && f.abs() < TWO_63 => Bson::Int64(*f as i64),
            Bson::Document(d) => Bson::Document(d.iter().map(|(k, v)| (k.clone(), norm(v))).collect()),
            Bson::Array(a) => Bson::Array(a.iter().map(norm).collect()),
            other => other.clone(),
        }
    }
    bson::to_vec(&doc! { "": norm(id) }).unwrap_or_else(|_| format!("{id:?}").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::bson::bson_to_value;
    use crate::record::{Array, Document as ValueDocument, TableRef};

    fn rec(op: Op, key: &[&str], pairs: Vec<(&str, Value)>) -> Change {
        let row = Some(Row::from_pairs(pairs));
        let (before, after) = if op == Op::Delete { (row, None) } else { (None, row) };
        Change {
            op: op as i32,
            table: Some(TableRef { schema: "shop".into(), name: "items".into() }),
            key_columns: key.iter().map(|k| k.to_string()).collect(),
            before,
            after,
            ..Default::default()
        }
    }

    fn b(v: Bson) -> Value {
        bson_to_value(&v)
    }

    fn updates(w: &Writes) -> Vec<Document> {
        w.updates.iter().map(|s| s.body.to_document().unwrap()).collect()
    }

    fn deletes(w: &Writes) -> Vec<Document> {
        w.deletes.iter().map(|s| s.body.to_document().unwrap()).collect()
    }

    fn one(actions: Vec<Action>) -> Writes {
        assert_eq!(actions.len(), 1, "{actions:?}");
        match actions.into_iter().next() {
            Some(Action::Writes(w)) => w,
            other => panic!("{other:?}"),
        }
    }

    fn desc(set: Document, unset: &[&str], truncated: &[(&str, i32)]) -> Value {
        let d = doc! {
            "updatedFields": set,
            "removedFields": unset.iter().map(|s| Bson::String(s.to_string())).collect::<Vec<_>>(),
            "truncatedArrays": truncated.iter().map(|(f, n)| Bson::Document(doc! { "field": *f, "newSize": *n })).collect::<Vec<_>>(),
            "fullDocumentMissing": false,
        };
        b(Bson::Document(d))
    }

    #[test]
    fn last_state_per_key_with_deletes_first() {
        let w = one(
            plan(
                &[
                    rec(Op::Insert, &["_id"], vec![("_id", b(Bson::Int32(1))), ("a", b(Bson::Int32(1)))]),
                    rec(Op::Insert, &["_id"], vec![("_id", b(Bson::Int32(2))), ("a", b(Bson::Int32(2)))]),
                    rec(Op::Delete, &["_id"], vec![("_id", b(Bson::Int32(1)))]),
                    rec(Op::Update, &["_id"], vec![("_id", b(Bson::Int32(2))), ("a", b(Bson::Int32(3)))]),
                    rec(Op::Delete, &["_id"], vec![("_id", b(Bson::Int32(3)))]),
                    rec(Op::Insert, &["_id"], vec![("_id", b(Bson::Int64(3))), ("z", b(Bson::Null))]),
                ],
                None,
            )
            .unwrap(),
        );
        assert_eq!(w.ns, Namespace { db: "shop".into(), coll: "items".into() });
        assert_eq!(deletes(&w), vec![doc! { "q": { "_id": 1 }, "limit": 1 }]);
        assert_eq!(
            updates(&w),
            vec![
                doc! { "q": { "_id": 2 }, "u": { "_id": 2, "a": 3 }, "upsert": true },
                // Deleted as int32 3, re-inserted as int64 3: one key, the insert wins.
                doc! { "q": { "_id": 3_i64 }, "u": { "_id": 3_i64, "z": null }, "upsert": true },
            ]
        );
        assert_eq!(w.updates.iter().map(|s| s.gid).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn sql_rows_get_their_key_as_id() {
        let w = one(
            plan(
                &[
                    rec(Op::Insert, &["id"], vec![("id", Value::int64(7)), ("n", Value::text("x"))]),
                    rec(Op::Insert, &["a", "b"], vec![("b", Value::int64(1)), ("a", Value::text("k")), ("n", Value::null())]),
                ],
                Some("target"),
            )
            .unwrap(),
        );
        assert_eq!(w.ns.db, "target");
        assert_eq!(
            updates(&w),
            vec![
                doc! { "q": { "_id": 7_i64 }, "u": { "_id": 7_i64, "id": 7_i64, "n": "x" }, "upsert": true },
                doc! { "q": { "_id": { "a": "k", "b": 1_i64 } }, "u": { "_id": { "a": "k", "b": 1_i64 }, "b": 1_i64, "a": "k", "n": null }, "upsert": true },
            ]
        );
        let e = plan(&[rec(Op::Insert, &["id"], vec![("id", Value::int64(7)), ("_id", Value::text("x"))])], None).unwrap_err();
        assert!(e.contains("shop.items") && e.contains("_id 7") && e.contains("rename"), "{e}");
    }

    #[test]
    fn unchanged_values_are_kept() {
        let w = one(
            plan(
                &[
                    // Key 1: only an update with an unchanged column: $set the rest, upsert.
                    rec(Op::Update, &["id"], vec![("id", Value::int64(1)), ("big", Value::unchanged()), ("n", Value::int64(2))]),
                    // Key 2: insert then update: the insert's value is used.
                    rec(Op::Insert, &["id"], vec![("id", Value::int64(2)), ("big", Value::text("B")), ("n", Value::int64(1))]),
                    rec(Op::Update, &["id"], vec![("id", Value::int64(2)), ("big", Value::unchanged()), ("n", Value::int64(3))]),
                    // Key 3: deleted, then an update without the value: the document has no such field.
                    rec(Op::Delete, &["id"], vec![("id", Value::int64(3))]),
                    rec(Op::Update, &["id"], vec![("id", Value::int64(3)), ("big", Value::unchanged()), ("n", Value::int64(4))]),
                    // Key 4: two unchanged updates merge.
                    rec(Op::Update, &["id"], vec![("id", Value::int64(4)), ("big", Value::unchanged()), ("n", Value::int64(5))]),
                    rec(Op::Update, &["id"], vec![("id", Value::int64(4)), ("big", Value::unchanged()), ("n", Value::int64(6))]),
                ],
                None,
            )
            .unwrap(),
        );
        assert!(w.deletes.is_empty());
        assert_eq!(
            updates(&w),
            vec![
                doc! { "q": { "_id": 1_i64 }, "u": { "$set": { "id": 1_i64, "n": 2_i64 } }, "upsert": true },
                doc! { "q": { "_id": 2_i64 }, "u": { "_id": 2_i64, "id": 2_i64, "big": "B", "n": 3_i64 }, "upsert": true },
                doc! { "q": { "_id": 3_i64 }, "u": { "_id": 3_i64, "id": 3_i64, "n": 4_i64 }, "upsert": true },
                doc! { "q": { "_id": 4_i64 }, "u": { "$set": { "id": 4_i64, "n": 6_i64 } }, "upsert": true },
            ]
        );
    }

    #[test]
    fn partial_updates_become_operators() {
        let oid = Bson::ObjectId(bson::oid::ObjectId::from_bytes([1; 12]));
        let key = || ("_id", b(oid.clone()));
        let w = one(
            plan(
                &[
                    rec(Op::Update, &["_id"], vec![key(), (UPDATE_DESCRIPTION, desc(doc! { "a.b": 1, "arr.1": "x" }, &["gone", "c.d"], &[("arr", 2), ("other", 0)]))]),
                    rec(Op::Update, &["_id"], vec![key(), (UPDATE_DESCRIPTION, desc(doc! { "n": 5 }, &[], &[]))]),
                ],
                None,
            )
            .unwrap(),
        );
        assert_eq!(
            updates(&w),
            vec![
                doc! { "q": { "_id": oid.clone() }, "u": { "$push": { "arr": { "$each": [], "$slice": 2_i64 }, "other": { "$each": [], "$slice": 0_i64 } }, "$set": { "a.b": 1 } }, "upsert": false },
                doc! { "q": { "_id": oid.clone() }, "u": { "$set": { "arr.1": "x" }, "$unset": { "gone": "", "c.d": "" } }, "upsert": false },
                doc! { "q": { "_id": oid.clone() }, "u": { "$set": { "n": 5 } }, "upsert": false },
            ]
        );
        assert!(w.updates.iter().all(|s| s.partial));
        // After a replacement the patch still follows it; after a delete it is dropped.
        let w = one(
            plan(
                &[
                    rec(Op::Insert, &["_id"], vec![key(), ("n", b(Bson::Int32(1)))]),
                    rec(Op::Update, &["_id"], vec![key(), (UPDATE_DESCRIPTION, desc(doc! { "n": 2 }, &[], &[]))]),
                    rec(Op::Delete, &["_id", "sk"], vec![("_id", b(Bson::Int32(9))), ("sk", Value::text("eu"))]),
                    rec(Op::Update, &["_id", "sk"], vec![("_id", b(Bson::Int32(9))), ("sk", Value::text("eu")), (UPDATE_DESCRIPTION, desc(doc! { "n": 2 }, &[], &[]))]),
                ],
                None,
            )
            .unwrap(),
        );
        assert_eq!(deletes(&w), vec![doc! { "q": { "_id": 9 }, "limit": 1 }]);
        assert_eq!(updates(&w).len(), 2);
        assert!(!w.updates[0].partial && w.updates[1].partial);
    }

    #[test]
    fn bad_update_descriptions_are_errors() {
        let bad = Value::of(Kind::Document(ValueDocument { fields: Row::from_pairs([("removedFields", Value::of(Kind::Array(Array { lower_bounds: Vec::new(), element_type: String::new(), elements: vec![Value::int64(1)] })))]).columns }));
        let e = plan(&[rec(Op::Update, &["_id"], vec![("_id", Value::int64(1)), (UPDATE_DESCRIPTION, bad)])], None).unwrap_err();
        assert!(e.contains("shop.items") && e.contains("removedFields") && e.contains("_id 1"), "{e}");
    }

    #[test]
    fn control_records_and_namespaces() {
        let mut t = rec(Op::Truncate, &[], vec![]);
        t.before = None;
        let mut s = rec(Op::SchemaChange, &[], vec![]);
        s.after = None;
        let hb = Change { op: Op::Heartbeat as i32, ..Default::default() };
        let a = plan(&[s, hb, t], None).unwrap();
        assert!(matches!(&a[0], Action::Create(ns) if ns.to_string() == "shop.items"));
        assert!(matches!(&a[1], Action::Truncate(ns) if ns.to_string() == "shop.items"));
        let mut no_schema = rec(Op::Insert, &["id"], vec![("id", Value::int64(1))]);
        no_schema.table = Some(TableRef { schema: String::new(), name: "t".into() });
        assert!(plan(&[no_schema.clone()], None).unwrap_err().contains("database"));
        assert!(plan(&[no_schema], Some("db")).is_ok());
    }

    #[test]
    fn key_changes_move_the_document() {
        let mut c = rec(Op::Update, &["id"], vec![("id", Value::int64(2)), ("big", Value::unchanged()), ("n", Value::int64(1))]);
        c.before = Some(Row::from_pairs([("id", Value::int64(1))]));
        let a = plan(&[c], None).unwrap();
        let Action::KeyChange(k) = &a[0] else { panic!("{a:?}") };
        assert_eq!((k.old_id.clone(), k.new_id.clone()), (Bson::Int64(1), Bson::Int64(2)));
        assert_eq!(k.doc, doc! { "_id": 2_i64, "id": 2_i64, "n": 1_i64 });
        assert_eq!(k.unchanged, vec!["big".to_string()]);
    }

    #[test]
    fn oversized_documents_are_refused_before_sending() {
        let big = "x".repeat(MAX_DOCUMENT_BYTES);
        let e = plan(&[rec(Op::Insert, &["id"], vec![("id", Value::int64(1)), ("s", Value::text(big))])], None).unwrap_err();
        assert!(e.contains("shop.items") && e.contains("_id 1") && e.contains("limit"), "{e}");
    }

    #[test]
    fn path_conflicts() {
        assert!(conflicts("a", "a"));
        assert!(conflicts("a", "a.b"));
        assert!(conflicts("a.b", "a"));
        assert!(!conflicts("a", "ab"));
        assert!(!conflicts("a.b", "a.c"));
    }
}
