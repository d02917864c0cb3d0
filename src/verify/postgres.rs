//! A PostgreSQL table as a side: read like the source's snapshot reads it
//! (text protocol, the session settings of `sources::postgres`, the type
//! decoders of `sources::postgres::types`), whether it is the source table
//! or a target table.
//!
//! The digest of a range is `count(*)` and the sum of the first 64 bits of
//! `md5(ROW(columns)::text)`: the row's text is PostgreSQL's own output of
//! each value, the same on both sides when the column types are.

use super::compare::{key_of, Key};
use super::side::{Bound, Digest, Point, Side, SideRow};
use super::VerifyError;
use crate::record::{value::Kind, Column, Row, Value};
use crate::sources::postgres::catalog::{self, quote_ident, quote_literal, CatalogColumn, Table, TypeResolver};
use crate::sources::postgres::types::{self, PgType};
use crate::sources::postgres::{sql_error, ConnInfo};
use crate::BoxFuture;
use tokio_postgres::{Client, SimpleQueryMessage};

/// Keys looked up per query.
const KEYS_PER_QUERY: usize = 500;

/// `bpchar`: fixed-width text, padded with spaces.
const BPCHAR: u32 = 1042;

/// A PostgreSQL table, open for reading.
pub struct PgSide {
    client: Client,
    /// `postgres:host:port/db schema.table`.
    label: String,
    /// `"schema"."table"`.
    quoted: String,
    cols: Vec<CatalogColumn>,
    types: Vec<PgType>,
    key: Vec<String>,
    key_idx: Vec<usize>,
    /// Columns the digest covers, in the order the other side lists them.
    digest_cols: Vec<String>,
    oid: u32,
    /// Where `scan` continues.
    scanned: Bound,
}

/// Connects to `url` (a source or target URL) as the source does.
pub async fn connect(url: &str, label: &str) -> Result<Client, VerifyError> {
    let conn = ConnInfo::parse(url, label)?;
    Ok(conn.connect(label).await?)
}

/// `postgres:host:port/db` of a URL, without credentials.
pub fn server_label(url: &str) -> String {
    match crate::tls::postgres::without_tls_params(url).parse::<tokio_postgres::Config>() {
        Ok(c) => {
            let host = match c.get_hosts().first() {
                Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
                Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
                None => "localhost".into(),
            };
            let port = c.get_ports().first().copied().unwrap_or(5432);
            format!("postgres:{host}:{port}/{}", c.get_dbname().or(c.get_user()).unwrap_or(""))
        }
        Err(_) => "postgres:(unparsable url)".into(),
    }
}

impl PgSide {
    /// Opens `schema.name` on `client`, keyed by `key`. `Ok(None)`: there
    /// is no such table.
    pub async fn open(client: Client, server: &str, schema: &str, name: &str, key: &[String]) -> Result<Option<PgSide>, VerifyError> {
        let label = format!("{server} {schema}.{name}");
        let row = client
            .query_opt(
                "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
                &[&schema, &name],
            )
            .await
            .map_err(|e| sql_error(&label, "looking up the table", &e))?;
        let Some(row) = row else { return Ok(None) };
        let table = Table {
            oid: row.get(0),
            schema: schema.to_string(),
            name: name.to_string(),
            key: key.to_vec(),
            replica_identity: 'd',
            key_from_rule: false,
        };
        let cols = catalog::columns(&client, &table, &label).await?;
        let mut resolver = TypeResolver::default();
        let mut types = Vec::with_capacity(cols.len());
        for c in &cols {
            types.push(resolver.resolve(&client, c.type_oid, &label).await?);
        }
        let key_idx = key_positions(&cols, key, &label)?;
        Ok(Some(PgSide {
            client,
            label,
            quoted: table.quoted(),
            digest_cols: cols.iter().map(|c| c.name.clone()).collect(),
            cols,
            types,
            key: key.to_vec(),
            key_idx,
            oid: table.oid,
            scanned: Bound::Min,
        }))
    }

    /// The columns with their types as `format_type` prints them.
    pub fn column_types(&self) -> Vec<(String, String)> {
        self.cols.iter().map(|c| (c.name.clone(), c.type_text.clone())).collect()
    }

    /// The columns the digest covers, in this order.
    pub fn set_digest_columns(&mut self, cols: Vec<String>) {
        self.digest_cols = cols;
    }

    fn keys_sql(&self) -> String {
        self.key.iter().map(|k| quote_ident(k)).collect::<Vec<_>>().join(", ")
    }

    /// `'text'::type` of each key column at `p`.
    fn point_sql(&self, p: &Point) -> String {
        self.key_idx
            .iter()
            .zip(&p.0)
            .map(|(&i, v)| match v {
                Some(b) => format!("{}::{}", quote_literal(&String::from_utf8_lossy(b)), self.cols[i].type_text),
                None => "NULL".to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// ` WHERE (keys) > (lo) AND (keys) <= (hi)`, or nothing.
    fn range_sql(&self, lo: &Bound, hi: &Bound) -> String {
        super::side::range_where(&self.keys_sql(), lo, hi, |p| self.point_sql(p))
    }

    fn select_sql(&self) -> String {
        let list = self.cols.iter().map(|c| quote_ident(&c.name)).collect::<Vec<_>>().join(", ");
        format!("SELECT {list} FROM {}", self.quoted)
    }

    async fn query(&self, sql: &str, what: &str) -> Result<Vec<tokio_postgres::SimpleQueryRow>, VerifyError> {
        let msgs = self.client.simple_query(sql).await.map_err(|e| sql_error(&self.label, what, &e))?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(r),
                _ => None,
            })
            .collect())
    }

    async fn read_rows(&self, sql: &str) -> Result<Vec<SideRow>, VerifyError> {
        let rows = self.query(sql, "reading rows").await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut columns = Vec::with_capacity(self.cols.len());
            for (i, (c, ty)) in self.cols.iter().zip(&self.types).enumerate() {
                let value = match r.get(i) {
                    None => Value::null(),
                    Some(text) => types::text_to_value(ty, text).map_err(|e| {
                        VerifyError::Read(format!("{}: column {} ({}): {e}", self.label, quote_ident(&c.name), c.type_text))
                    })?,
                };
                columns.push(Column { name: c.name.clone(), value: Some(value) });
            }
            let point = Point(self.key_idx.iter().map(|&k| r.get(k).map(|s| s.as_bytes().to_vec())).collect());
            let row = Row { columns };
            out.push(SideRow { key: key_of(&row, &self.key), point, row });
        }
        Ok(out)
    }

    /// A canonical value as a literal of column `i`'s type.
    fn value_sql(&self, i: usize, v: &Value) -> String {
        let ty = &self.cols[i].type_text;
        match &v.kind {
            None | Some(Kind::Null(_)) => "NULL".into(),
            Some(Kind::Bytes(b)) => format!("'\\x{}'::{ty}", hex(b)),
            _ => format!("{}::{ty}", quote_literal(&crate::record::json::value_text(v).unwrap_or_default())),
        }
    }
}

/// Lowercase hex.
pub(super) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn key_positions(cols: &[CatalogColumn], key: &[String], label: &str) -> Result<Vec<usize>, VerifyError> {
    key.iter()
        .map(|k| {
            cols.iter().position(|c| &c.name == k).ok_or_else(|| {
                VerifyError::Read(format!("{label} has no column {} (a key column)", quote_ident(k)))
            })
        })
        .collect()
}

impl Side for PgSide {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn key_columns(&self) -> &[String] {
        &self.key
    }

    fn padded_columns(&self) -> Vec<String> {
        self.cols.iter().filter(|c| c.type_oid == BPCHAR).map(|c| c.name.clone()).collect()
    }

    fn estimate(&mut self) -> BoxFuture<'_, Result<Option<u64>, VerifyError>> {
        Box::pin(async move {
            let row = self
                .client
                .query_one("SELECT reltuples::bigint FROM pg_class WHERE oid = $1", &[&self.oid])
                .await
                .map_err(|e| sql_error(&self.label, "reading the row estimate", &e))?;
            let n: i64 = row.get(0);
            Ok(u64::try_from(n).ok())
        })
    }

    fn scan(&mut self, n: usize) -> BoxFuture<'_, Result<Vec<SideRow>, VerifyError>> {
        Box::pin(async move {
            let from = self.scanned.clone();
            let page = self.rows(&from, &Bound::Max, n).await?;
            if let Some(last) = page.last() {
                self.scanned = Bound::At(last.point.clone());
            }
            Ok(page)
        })
    }

    fn by_keys<'a>(&'a mut self, keys: &'a [Key]) -> BoxFuture<'a, Result<Vec<SideRow>, VerifyError>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for chunk in keys.chunks(KEYS_PER_QUERY) {
                let tuples: Vec<String> = chunk
                    .iter()
                    .map(|k| {
                        let lits: Vec<String> = self.key_idx.iter().zip(k).map(|(&i, v)| self.value_sql(i, v)).collect();
                        format!("({})", lits.join(", "))
                    })
                    .collect();
                let sql = format!("{} WHERE ({}) IN ({})", self.select_sql(), self.keys_sql(), tuples.join(", "));
                out.extend(self.read_rows(&sql).await?);
            }
            Ok(out)
        })
    }

    fn split_points<'a>(&'a mut self, lo: &'a Bound, hi: &'a Bound, step: u64) -> BoxFuture<'a, Result<Vec<Point>, VerifyError>> {
        Box::pin(async move {
            let keys = self.keys_sql();
            let sql = format!(
                "SELECT {keys} FROM (SELECT {keys}, row_number() OVER (ORDER BY {keys}) AS lf_rn FROM {} {}) s \
                 WHERE lf_rn % {} = 0 ORDER BY lf_rn",
                self.quoted,
                self.range_sql(lo, hi),
                step.max(1)
            );
            let rows = self.query(&sql, "splitting a range").await?;
            Ok(rows
                .iter()
                .map(|r| Point((0..self.key.len()).map(|i| r.get(i).map(|s| s.as_bytes().to_vec())).collect()))
                .collect())
        })
    }

    fn digest<'a>(&'a mut self, lo: &'a Bound, hi: &'a Bound) -> BoxFuture<'a, Result<Digest, VerifyError>> {
        Box::pin(async move {
            let cols = self.digest_cols.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT count(*), coalesce(sum(('x' || substr(md5(ROW({cols})::text), 1, 16))::bit(64)::bigint), 0) FROM {} {}",
                self.quoted,
                self.range_sql(lo, hi)
            );
            let rows = self.query(&sql, "computing a range digest").await?;
            let r = rows.first().ok_or_else(|| VerifyError::Read(format!("{}: the digest query returned no row", self.label)))?;
            Ok(Digest {
                count: r.get(0).and_then(|c| c.parse().ok()).unwrap_or(0),
                sum: r.get(1).unwrap_or("0").to_string(),
            })
        })
    }

    fn rows<'a>(&'a mut self, lo: &'a Bound, hi: &'a Bound, limit: usize) -> BoxFuture<'a, Result<Vec<SideRow>, VerifyError>> {
        Box::pin(async move {
            let sql = format!("{}{} ORDER BY {} LIMIT {limit}", self.select_sql(), self.range_sql(lo, hi), self.keys_sql());
            self.read_rows(&sql).await
        })
    }
}
