//! Source `kind = "mongodb"`: change streams. (Being written.)

use super::{Source, SourceContext, SourceError};
use crate::config::MongodbSourceConfig;
use crate::BoxFuture;

/// Reads MongoDB change streams.
pub struct MongodbSource {
    cfg: MongodbSourceConfig,
}

impl MongodbSource {
    /// A source for `cfg`; connects in `run`.
    pub fn new(cfg: MongodbSourceConfig) -> Self {
        MongodbSource { cfg }
    }
}

impl Source for MongodbSource {
    fn name(&self) -> &str {
        "mongodb"
    }
    fn run(&mut self, _ctx: SourceContext) -> BoxFuture<'_, Result<(), SourceError>> {
        let tables = self.cfg.db.tables.join(", ");
        Box::pin(async move {
            Err(SourceError::Definite { source_name: "mongodb".into(), message: format!("not built yet ({tables})") })
        })
    }
}
