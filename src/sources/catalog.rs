//! The tables a source replicates, as schema records (columns with
//! logical types, keys), read before the run starts: the
//! validate-and-transform rules are checked against them
//! (`transform::Stage::check_catalog`).

use super::{Source, SourceError};
use crate::config::SourceConfig;
use crate::record::TableSchema;

/// The replicated tables of `cfg`, or `None` when the source has no fixed
/// columns to tell (MongoDB collections hold documents; Kafka topics hold
/// records of whatever tables were written to them).
pub async fn tables(cfg: &SourceConfig) -> Result<Option<Vec<TableSchema>>, SourceError> {
    match cfg {
        SourceConfig::Postgres(pg) => {
            use super::postgres::{catalog, ConnInfo, PostgresSource};
            let source = PostgresSource::new(pg.clone()).name().to_string();
            let client = ConnInfo::parse(pg.db.url.expose(), &source)?.connect(&source).await?;
            let found = super::postgres::preflight(&client, pg, &source).await?;
            let mut types = catalog::TypeResolver::default();
            let mut out = Vec::with_capacity(found.tables.len());
            for t in &found.tables {
                let cols = catalog::columns(&client, t, &source).await?;
                let logical = types.logical.columns(&client, &cols, &source).await?;
                out.push(catalog::table_schema(t, &cols, logical, &t.key));
            }
            Ok(Some(out))
        }
        SourceConfig::Mysql(my) => {
            use super::mysql::{catalog, connect, opts, MysqlSource};
            let source = MysqlSource::new(my.clone()).name().to_string();
            let mut conn = connect(&opts(my.db.url.expose(), &source)?, &source).await?;
            let tables = catalog::resolve_tables(&mut conn, &my.db.tables, &my.db.row_keys, &source).await?;
            Ok(Some(tables.iter().map(catalog::Table::schema).collect()))
        }
        SourceConfig::Mongodb(_) | SourceConfig::Kafka(_) => Ok(None),
        SourceConfig::Generate(g) => {
            let generator = super::generate::Generator::new(g.clone());
            Ok(Some((0..g.tables.max(1)).map(|t| generator.schema(t)).collect()))
        }
    }
}
