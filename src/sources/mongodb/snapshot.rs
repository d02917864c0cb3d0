//! The initial copy: every selected collection in `_id` order, in chunks
//! whose progress lives in the checkpoint position.
//!
//! Progress goes to the source's stats (`SourceStats::copy_started`,
//! `copy_chunk`), with `estimatedDocumentCount` (the collection's metadata
//! count, no scan) as the estimate; a server that cannot say gives no
//! estimate rather than stopping the copy. A resumed copy counts only the
//! documents it copies now; the estimate stays the whole collection's.

use super::{mongo_error, MongoPosition, Selection, SourceResult, SOURCE_KIND};
use crate::config::MongodbSourceConfig;
use crate::record::bson::document_to_row;
use crate::sources::SourceContext;
use mongodb::bson::{doc, Bson, Document};
use mongodb::Client;

/// Copies what `pos.snapshot` says is left; returns the stream start
/// position (the same token, snapshot complete), or `None` on shutdown.
pub(super) async fn copy(
    client: &Client,
    cfg: &MongodbSourceConfig,
    source: &str,
    selection: &Selection,
    mut pos: MongoPosition,
    ctx: &SourceContext,
) -> SourceResult<Option<MongoPosition>> {
    let key = vec!["_id".to_string()];
    let chunk = cfg.snapshot_chunk_docs;
    let stats = ctx.emitter.stats();
    for c in &selection.existing {
        let q = c.qualified();
        let progress = pos.snapshot.clone().unwrap_or_default();
        if progress.done.contains(&q) {
            continue;
        }
        if *ctx.shutdown.borrow() {
            return Ok(None);
        }
        ctx.emit_schema(SOURCE_KIND, c.schema()).await?;
        let filter = match progress.partial.iter().find(|(n, _)| n == &q) {
            Some((_, last)) => {
                let text = last.first().cloned().unwrap_or_default();
                let json: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| super::definite(source, format!("snapshot progress of {q}: {e}; `logferry reset` the pipeline")))?;
                let last = Bson::try_from(json)
                    .map_err(|e| super::definite(source, format!("snapshot progress of {q}: {e}; `logferry reset` the pipeline")))?;
                after_id(&last)
            }
            None => Document::new(),
        };
        let coll = client.database(&c.db).collection::<Document>(&c.coll);
        let estimate = match coll.estimated_document_count().await {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::debug!(source, collection = %q, error = %e, "no document count estimate");
                None
            }
        };
        stats.copy_started(&q, estimate);
        let mut cursor = coll
            .find(filter)
            .sort(doc! {"_id": 1})
            .batch_size(chunk.min(100_000) as u32)
            .await
            .map_err(|e| mongo_error(source, &format!("copying {q}"), &e))?;
        let mut rows = Vec::with_capacity(chunk.min(10_000));
        let mut last_id = Bson::Null;
        loop {
            let more = cursor.advance().await.map_err(|e| mongo_error(source, &format!("copying {q}"), &e))?;
            if more {
                let d: Document = cursor
                    .deserialize_current()
                    .map_err(|e| mongo_error(source, &format!("copying {q}"), &e))?;
                last_id = d.get("_id").cloned().unwrap_or(Bson::Null);
                rows.push(document_to_row(&d));
            }
            if rows.len() >= chunk || !more {
                let mut p = pos.snapshot.take().unwrap_or_default();
                p.chunk_emitted(&q, !more, if more { vec![last_id.clone().into_canonical_extjson().to_string()] } else { vec![] });
                pos.snapshot = Some(p);
                let n = rows.len();
                ctx.emit_chunk(SOURCE_KIND, &c.table(), &key, true, std::mem::take(&mut rows), pos.to_position()).await?;
                stats.copy_chunk(&q, n as u64, !more);
                tracing::debug!(source, collection = %q, rows = n, done = !more, "snapshot chunk");
                if !more {
                    break;
                }
                if *ctx.shutdown.borrow() {
                    return Ok(None);
                }
            }
        }
        tracing::info!(source, collection = %q, "snapshot of collection complete");
    }
    pos.snapshot = None;
    ctx.emitter
        .emit(crate::sources::position_marker(&ctx.pipeline, SOURCE_KIND, pos.to_position()))
        .await?;
    Ok(Some(pos))
}

/// `_id` values sort by type bracket first (MinKey < null < numbers <
/// strings < objects < arrays < binary < ObjectId < bool < date <
/// timestamp < regex < MaxKey), and `$gt` only compares inside a bracket:
/// resuming after `last` takes the larger values of its bracket *and* every
/// later bracket. Types outside that list (code, dbPointer) are always
/// included: a document read twice is harmless, one skipped is not.
fn after_id(last: &Bson) -> Document {
    const BRACKETS: [&[&str]; 13] = [
        &["minKey"],
        &["null", "undefined"],
        &["int", "long", "double", "decimal"],
        &["symbol", "string"],
        &["object"],
        &["array"],
        &["binData"],
        &["objectId"],
        &["bool"],
        &["date"],
        &["timestamp"],
        &["regex"],
        &["maxKey"],
    ];
    let bracket = match last {
        Bson::MinKey => 0,
        Bson::Null | Bson::Undefined => 1,
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => 2,
        Bson::Symbol(_) | Bson::String(_) => 3,
        Bson::Document(_) => 4,
        Bson::Array(_) => 5,
        Bson::Binary(_) => 6,
        Bson::ObjectId(_) => 7,
        Bson::Boolean(_) => 8,
        Bson::DateTime(_) => 9,
        Bson::Timestamp(_) => 10,
        Bson::RegularExpression(_) => 11,
        Bson::MaxKey => 12,
        _ => 0,
    };
    let mut later: Vec<Bson> = BRACKETS[bracket + 1..].iter().flat_map(|b| b.iter()).map(|t| Bson::String(t.to_string())).collect();
    for t in ["javascript", "javascriptWithScope", "dbPointer"] {
        later.push(Bson::String(t.into()));
    }
    doc! {"$or": [ {"_id": {"$gt": last.clone()}}, {"_id": {"$type": later}} ]}
}

#[cfg(test)]
mod tests {
    use super::super::Coll;
    use super::*;

    #[test]
    fn resuming_after_a_number_also_takes_later_type_brackets() {
        let f = after_id(&Bson::Int32(5));
        let types = f.get_array("$or").unwrap()[1].as_document().unwrap().get_document("_id").unwrap().get_array("$type").unwrap().clone();
        let names: Vec<&str> = types.iter().filter_map(Bson::as_str).collect();
        assert!(names.contains(&"string") && names.contains(&"objectId") && names.contains(&"maxKey"));
        assert!(!names.contains(&"int") && !names.contains(&"null"));
        let f = after_id(&Bson::MaxKey);
        let types = f.get_array("$or").unwrap()[1].as_document().unwrap().get_document("_id").unwrap().get_array("$type").unwrap().clone();
        assert_eq!(types.len(), 3, "only the unordered kinds after MaxKey: {types:?}");
    }

    #[test]
    fn collections_have_an_id_key_schema() {
        let s = Coll { db: "shop".into(), coll: "items".into() }.schema();
        assert_eq!(s.key_columns, ["_id"]);
        assert!(s.documents);
        assert_eq!(s.columns[0].type_dialect, "bson");
        assert_eq!(s.columns[0].logical, Some(crate::record::LogicalType::other("bson")));
        assert_eq!(s.table.unwrap().name, "items");
    }
}
