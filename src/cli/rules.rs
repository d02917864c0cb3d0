//! The `[[pipeline.table]]` rules at start: compiled (exit 2 on a bad
//! regex or filter), then checked against the source's tables by `run`
//! and `check` (exit 2 on an unknown column, a type mismatch, a clash).

use super::CliError;
use crate::config::{Config, PipelineConfig, SourceConfig};
use crate::transform::{Route, RuleError, Stage};
use std::sync::Arc;

/// The schema a `match` without one means: the source's own default.
fn default_schema(source: &SourceConfig) -> Option<&'static str> {
    matches!(source, SourceConfig::Postgres(_)).then_some("public")
}

/// The compiled rules of `p` (`None`: it has none).
pub(super) fn stage(cfg: &Config, p: &PipelineConfig) -> Result<Option<Arc<Stage>>, CliError> {
    Stage::compile(&p.transform, default_schema(&p.source))
        .map(|s| s.map(Arc::new))
        .map_err(|e| invalid(cfg, vec![e]))
}

/// Each target's `tables`.
pub(super) fn routes(p: &PipelineConfig) -> Vec<Route> {
    p.target_tables.iter().cloned().map(Route::new).collect()
}

fn invalid(cfg: &Config, errors: Vec<RuleError>) -> CliError {
    CliError::Rules(
        errors
            .iter()
            .map(|e| format!("{}: `{}`: {}", cfg.path.display(), e.key, e.message))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// For a PostgreSQL source: the tables whose filter reads columns that
/// their DELETEs and UPDATEs do not carry in the old row (replica identity
/// other than FULL), each with the statement that fixes it.
pub(super) async fn identity_hints(p: &PipelineConfig, stage: &Stage) -> Vec<String> {
    let SourceConfig::Postgres(pg) = &p.source else { return Vec::new() };
    use crate::sources::postgres::{catalog, ConnInfo, PostgresSource};
    use crate::sources::Source as _;
    let source = PostgresSource::new(pg.clone()).name().to_string();
    let Ok(conn) = ConnInfo::parse(pg.db.url.expose(), &source) else { return Vec::new() };
    let Ok(client) = conn.connect(&source).await else { return Vec::new() };
    let Ok(tables) = catalog::resolve_tables(&client, &pg.db.tables, &pg.db.row_keys, &source).await else { return Vec::new() };
    let mut hints = Vec::new();
    for t in tables {
        let columns = stage.filter_columns(&t.schema, &t.name);
        if columns.is_empty() || t.replica_identity == 'f' || columns.iter().all(|c| t.key.contains(c)) {
            continue;
        }
        hints.push(format!(
            "ALTER TABLE {} REPLICA IDENTITY FULL;  -- the filter reads {}, which DELETEs and UPDATEs of {} do not carry in \
             their old row: without it a DELETE of a row outside the filter is still sent to the targets (harmless, \
             nothing to delete), and an UPDATE that moves a row out of the filter is sent as a DELETE",
            t.quoted(),
            columns.join(", "),
            t.qualified()
        ));
    }
    hints
}

/// What checking the rules against the source found.
pub(super) enum Checked {
    /// Every rule fits the source's tables (how many tables were seen).
    Fits(usize),
    /// The source cannot say (MongoDB: documents have no fixed columns).
    NoCatalog,
    /// The source could not be read; its own checks report why.
    Unreachable(String),
}

/// Checks `stage` against the tables `p`'s source replicates. Rule
/// problems are an error (exit 2); a source that cannot be read is not
/// (the source's own start or check reports it).
pub(super) async fn check_source(cfg: &Config, p: &PipelineConfig, stage: &Stage) -> Result<Checked, CliError> {
    match crate::sources::catalog::tables(&p.source).await {
        Ok(None) => Ok(Checked::NoCatalog),
        Ok(Some(tables)) => match stage.check_catalog(&tables) {
            Ok(()) => Ok(Checked::Fits(tables.len())),
            Err(errors) => Err(invalid(cfg, errors)),
        },
        Err(e) => Ok(Checked::Unreachable(crate::ErrorChain(&e).to_string())),
    }
}
