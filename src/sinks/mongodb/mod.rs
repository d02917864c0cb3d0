//! Target `kind = "mongodb"`. (Being written; see the MongoDB issue.)

use super::{Batch, Sink, SinkError};
use crate::config::MongodbTargetConfig;
use crate::BoxFuture;

/// Applies batches to MongoDB.
pub struct MongodbSink {
    name: String,
}

impl MongodbSink {
    /// Connects and checks the server answers; `lanes` sizes the pool.
    pub async fn connect(cfg: &MongodbTargetConfig, _lanes: usize) -> Result<Self, SinkError> {
        Err(SinkError::Definite { target: format!("mongodb {}", cfg.url), message: "not built yet".into() })
    }
}

impl Sink for MongodbSink {
    fn name(&self) -> &str {
        &self.name
    }
    fn apply<'a>(&'a self, _batch: &'a Batch) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async { Err(SinkError::Definite { target: self.name.clone(), message: "not built yet".into() }) })
    }
}
