//! A MongoDB collection as a side: documents read in `_id` order as the
//! source's snapshot reads them (`record::bson::document_to_row`), whether
//! it is the source collection or a target collection.
//!
//! MongoDB has no digest of a range that both sides could compute the
//! same way, and `$gt` on `_id` only compares inside one BSON type, so a
//! collection is compared row by row from one cursor per side.

use super::compare::{key_of, Key};
use super::side::{Point, Side, SideRow};
use super::VerifyError;
use crate::record::bson::{bson_to_value, document_to_row, row_id};
use crate::record::{value::Kind, Column, Row, Value};
use crate::BoxFuture;
use mongodb::bson::{doc, Bson, Document};
use mongodb::{Client, Collection, Cursor};

/// Keys looked up per query.
const KEYS_PER_QUERY: usize = 1_000;

/// A MongoDB collection, open for reading.
pub struct MongoSide {
    coll: Collection<Document>,
    /// `mongodb:… db.coll`.
    label: String,
    /// The key columns: `_id` for a MongoDB source's collections, the SQL
    /// source's key columns (fields of each document, whose `_id` is made
    /// of them) otherwise.
    key: Vec<String>,
    cursor: Option<Cursor<Document>>,
    done: bool,
}

/// A client for `url` (connects lazily, as the driver does).
pub async fn connect(url: &str, label: &str) -> Result<Client, VerifyError> {
    let mut opts = mongodb::options::ClientOptions::parse(url)
        .await
        .map_err(|e| VerifyError::Read(format!("{label}: the url: {e}")))?;
    opts.app_name = Some("logferry-verify".to_string());
    Client::with_options(opts).map_err(|e| VerifyError::Read(format!("{label}: the url: {e}")))
}

/// A key value as MongoDB holds it: a document `_id` a SQL target keeps as
/// canonical Extended JSON (`sinks::document`) is read back into its BSON
/// value; any other value is the value itself.
pub fn key_value(v: &Value) -> Value {
    match &v.kind {
        Some(Kind::Json(text)) => serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|j| Bson::try_from(j).ok())
            .map_or_else(|| v.clone(), |b| bson_to_value(&b)),
        _ => v.clone(),
    }
}

impl MongoSide {
    /// Opens collection `db.coll`; a collection that does not exist reads
    /// as empty.
    pub fn open(client: &Client, server: &str, db: &str, coll: &str, key: &[String]) -> MongoSide {
        MongoSide {
            coll: client.database(db).collection::<Document>(coll),
            label: format!("{server} {db}.{coll}"),
            key: key.to_vec(),
            cursor: None,
            done: false,
        }
    }

    fn error(&self, what: &str, e: mongodb::error::Error) -> VerifyError {
        VerifyError::Read(format!("{}: {what}: {e}", self.label))
    }

    fn side_row(&self, d: &Document) -> SideRow {
        let row = document_to_row(d);
        SideRow { key: key_of(&row, &self.key), point: Point(Vec::new()), row }
    }
}

impl Side for MongoSide {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn key_columns(&self) -> &[String] {
        &self.key
    }

    fn estimate(&mut self) -> BoxFuture<'_, Result<Option<u64>, VerifyError>> {
        Box::pin(async move {
            let n = self.coll.estimated_document_count().await.map_err(|e| self.error("counting documents", e))?;
            Ok(Some(n))
        })
    }

    fn scan(&mut self, n: usize) -> BoxFuture<'_, Result<Vec<SideRow>, VerifyError>> {
        Box::pin(async move {
            if self.done {
                return Ok(Vec::new());
            }
            if self.cursor.is_none() {
                let c = self
                    .coll
                    .find(doc! {})
                    .sort(doc! {"_id": 1})
                    .batch_size(n.clamp(1, 100_000) as u32)
                    .await
                    .map_err(|e| self.error("reading documents", e))?;
                self.cursor = Some(c);
            }
            let mut out = Vec::with_capacity(n);
            while out.len() < n {
                let cursor = self.cursor.as_mut().expect("opened above");
                let more = cursor.advance().await.map_err(|e| VerifyError::Read(format!("{}: reading documents: {e}", self.label)))?;
                if !more {
                    self.done = true;
                    break;
                }
                let d: Document = cursor
                    .deserialize_current()
                    .map_err(|e| VerifyError::Read(format!("{}: reading documents: {e}", self.label)))?;
                out.push(self.side_row(&d));
            }
            Ok(out)
        })
    }

    fn by_keys<'a>(&'a mut self, keys: &'a [Key]) -> BoxFuture<'a, Result<Vec<SideRow>, VerifyError>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for chunk in keys.chunks(KEYS_PER_QUERY) {
                let mut ids: Vec<Bson> = Vec::with_capacity(chunk.len());
                for k in chunk {
                    let row = Row {
                        columns: self.key.iter().zip(k).map(|(n, v)| Column { name: n.clone(), value: Some(key_value(v)) }).collect(),
                    };
                    match row_id(&self.key, &row) {
                        Ok(id) => ids.push(id),
                        Err(e) => return Err(VerifyError::Read(format!("{}: a key: {e}", self.label))),
                    }
                }
                let mut cursor = self.coll.find(doc! {"_id": {"$in": ids}}).await.map_err(|e| self.error("reading documents by key", e))?;
                while cursor.advance().await.map_err(|e| VerifyError::Read(format!("{}: reading documents by key: {e}", self.label)))? {
                    let d: Document = cursor
                        .deserialize_current()
                        .map_err(|e| VerifyError::Read(format!("{}: reading documents by key: {e}", self.label)))?;
                    out.push(self.side_row(&d));
                }
            }
            Ok(out)
        })
    }
}
