//! A MySQL / MariaDB table as a side: read like the source's snapshot
//! reads it (text protocol, `SET time_zone = '+00:00'`, FLOAT selected as
//! DOUBLE, the decoders of `sources::mysql::decode`), whether it is the
//! source table or a target table.
//!
//! The digest of a range is `COUNT(*)` and the sum of the first 60 bits of
//! `MD5` over the row's values, each `QUOTE`d (so NULL, written `NULL`, is
//! told from the text `'NULL'`) and taken as bytes (so columns of
//! different character sets concatenate); text is read as utf8mb4 first,
//! so a `latin1` source column and the `utf8mb4` column a target made of
//! it give the same bytes. `SUM` of integers is exact (DECIMAL).

use super::compare::{key_of, Key};
use super::side::{Bound, Digest, Point, Side, SideRow};
use super::VerifyError;
use crate::record::{value::Kind, Column, Row, Value};
use crate::sources::mysql::catalog::{self, quote_ident, Table};
use crate::sources::mysql::decode::{text_value, ColumnInfo};
use crate::sources::mysql::{connect as my_connect, mysql_error, opts};
use crate::BoxFuture;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value as MyValue};

/// Keys looked up per query.
const KEYS_PER_QUERY: usize = 500;

/// A MySQL / MariaDB table, open for reading.
pub struct MySide {
    conn: Conn,
    /// `mysql:host:port db.table`.
    label: String,
    table: Table,
    key: Vec<String>,
    key_idx: Vec<usize>,
    /// Columns the digest covers, in the order the other side lists them.
    digest_cols: Vec<String>,
    /// Where `scan` continues.
    scanned: Bound,
}

/// Connects to `url` (a source or target URL) as the source does.
pub async fn connect(url: &str, label: &str) -> Result<Conn, VerifyError> {
    let endpoint = opts(url, label)?;
    Ok(my_connect(&endpoint, label).await?)
}

/// `mysql:host:port` of a URL and its database, without credentials.
pub fn server_label(url: &str) -> (String, Option<String>) {
    match mysql_async::Opts::from_url(&crate::tls::mysql::without_tls_params(url)) {
        Ok(o) => (format!("mysql:{}:{}", o.ip_or_hostname(), o.tcp_port()), o.db_name().map(str::to_string)),
        Err(_) => ("mysql:(unparsable url)".into(), None),
    }
}

/// A key value exactly as the text protocol returned it, as a literal:
/// hex with a charset introducer (`_binary` for binary columns), which
/// MySQL converts to the column's type for the comparison.
fn raw_literal(c: &ColumnInfo, v: Option<&[u8]>) -> String {
    let Some(v) = v else { return "NULL".into() };
    let intro = if is_binary(c) { "_binary" } else { "_utf8mb4" };
    format!("{intro} X'{}'", super::postgres::hex(v))
}

/// A column of characters (not bytes).
fn is_text(c: &ColumnInfo) -> bool {
    c.charset.is_some() && !is_binary(c)
}

fn is_binary(c: &ColumnInfo) -> bool {
    c.charset.as_deref() == Some("binary") || c.data_type.contains("binary") || c.data_type.contains("blob")
}

impl MySide {
    /// Opens `database.name` on `conn`, keyed by `key`. `Ok(None)`: there
    /// is no such table.
    pub async fn open(mut conn: Conn, server: &str, database: &str, name: &str, key: &[String]) -> Result<Option<MySide>, VerifyError> {
        let label = format!("{server} {database}.{name}");
        let table = catalog::load_table(&mut conn, database, name, &label).await?;
        if table.columns.is_empty() {
            return Ok(None);
        }
        let key_idx = key
            .iter()
            .map(|k| {
                table.columns.iter().position(|c| &c.name == k).ok_or_else(|| {
                    VerifyError::Read(format!("{label} has no column {} (a key column)", quote_ident(k)))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(MySide {
            conn,
            label,
            digest_cols: table.columns.iter().map(|c| c.name.clone()).collect(),
            table,
            key: key.to_vec(),
            key_idx,
            scanned: Bound::Min,
        }))
    }

    /// The columns with their type as information_schema describes it,
    /// and whether they hold text (of any character set: the digest reads
    /// text as utf8mb4) or bytes.
    pub fn column_types(&self) -> Vec<(String, String)> {
        self.table
            .columns
            .iter()
            .map(|c| (c.name.clone(), format!("{} {}", c.column_type, if is_text(c) { "text" } else { "" })))
            .collect()
    }

    /// The columns the digest covers, in this order.
    pub fn set_digest_columns(&mut self, cols: Vec<String>) {
        self.digest_cols = cols;
    }

    fn keys_sql(&self) -> String {
        self.key.iter().map(|k| quote_ident(k)).collect::<Vec<_>>().join(", ")
    }

    fn point_sql(&self, p: &Point) -> String {
        self.key_idx
            .iter()
            .zip(&p.0)
            .map(|(&i, v)| raw_literal(&self.table.columns[i], v.as_deref()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn range_sql(&self, lo: &Bound, hi: &Bound) -> String {
        super::side::range_where(&self.keys_sql(), lo, hi, |p| self.point_sql(p))
    }

    fn select_sql(&self) -> String {
        let list = self.table.columns.iter().map(ColumnInfo::select_expr).collect::<Vec<_>>().join(", ");
        format!("SELECT {list} FROM {}", self.table.quoted())
    }

    async fn query(&mut self, sql: String, what: &str) -> Result<Vec<mysql_async::Row>, VerifyError> {
        let label = self.label.clone();
        self.conn.query(sql).await.map_err(|e| mysql_error(&label, what, &e).into())
    }

    async fn read_rows(&mut self, sql: String) -> Result<Vec<SideRow>, VerifyError> {
        let rows = self.query(sql, "reading rows").await?;
        let name = self.table.qualified();
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut columns = Vec::with_capacity(self.table.columns.len());
            for (i, c) in self.table.columns.iter().enumerate() {
                let raw = match r.as_ref(i) {
                    Some(MyValue::Bytes(b)) => Some(b.as_slice()),
                    _ => None,
                };
                let value = text_value(raw, c, &name).map_err(|e| VerifyError::Read(format!("{}: {e}", self.label)))?;
                columns.push(Column { name: c.name.clone(), value: Some(value) });
            }
            let point = Point(self.key_idx.iter().map(|&k| raw_of(r.as_ref(k))).collect());
            let row = Row { columns };
            out.push(SideRow { key: key_of(&row, &self.key), point, row });
        }
        Ok(out)
    }

    fn points(&self, rows: &[mysql_async::Row]) -> Vec<Point> {
        rows.iter().map(|r| Point((0..self.key.len()).map(|i| raw_of(r.as_ref(i))).collect())).collect()
    }
}

fn raw_of(v: Option<&MyValue>) -> Option<Vec<u8>> {
    match v {
        Some(MyValue::Bytes(b)) => Some(b.clone()),
        _ => None,
    }
}

/// A canonical value as a MySQL literal for column `c`.
fn value_sql(c: &ColumnInfo, v: &Value) -> String {
    let quoted = |s: &str| format!("_utf8mb4 X'{}'", super::postgres::hex(s.as_bytes()));
    match &v.kind {
        None | Some(Kind::Null(_)) => "NULL".into(),
        Some(Kind::Int64(i)) => i.to_string(),
        Some(Kind::Int32(i)) => i.to_string(),
        Some(Kind::Uint64(u)) => u.to_string(),
        Some(Kind::Bool(b)) => u8::from(*b).to_string(),
        Some(Kind::Decimal(d)) => quoted(d),
        Some(Kind::Bytes(b)) => raw_literal(c, Some(b)),
        Some(Kind::Text(s) | Kind::EnumLabel(s)) => match is_binary(c) {
            true => raw_literal(c, Some(s.as_bytes())),
            false => quoted(s),
        },
        Some(Kind::Timestamp(_) | Kind::Timestamptz(_)) => {
            // ISO text; the session's time zone is UTC.
            let t = crate::record::json::value_text(v).unwrap_or_default();
            quoted(t.trim_end_matches('Z').replace('T', " ").as_str())
        }
        _ => quoted(&crate::record::json::value_text(v).unwrap_or_default()),
    }
}

impl Side for MySide {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn key_columns(&self) -> &[String] {
        &self.key
    }

    fn padded_columns(&self) -> Vec<String> {
        self.table.columns.iter().filter(|c| c.data_type == "char").map(|c| c.name.clone()).collect()
    }

    fn estimate(&mut self) -> BoxFuture<'_, Result<Option<u64>, VerifyError>> {
        Box::pin(async move {
            let (db, name) = (self.table.database.clone(), self.table.name.clone());
            let label = self.label.clone();
            let n: Option<Option<u64>> = self
                .conn
                .exec_first("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", (db, name))
                .await
                .map_err(|e| VerifyError::from(mysql_error(&label, "reading the row estimate", &e)))?;
            Ok(n.flatten())
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
                        let lits: Vec<String> =
                            self.key_idx.iter().zip(k).map(|(&i, v)| value_sql(&self.table.columns[i], v)).collect();
                        format!("({})", lits.join(", "))
                    })
                    .collect();
                let sql = format!("{} WHERE ({}) IN ({})", self.select_sql(), self.keys_sql(), tuples.join(", "));
                let rows = self.read_rows(sql).await?;
                out.extend(rows);
            }
            Ok(out)
        })
    }

    fn split_points<'a>(&'a mut self, lo: &'a Bound, hi: &'a Bound, step: u64) -> BoxFuture<'a, Result<Vec<Point>, VerifyError>> {
        Box::pin(async move {
            let keys = self.keys_sql();
            let sql = format!(
                "SELECT {keys} FROM (SELECT {keys}, ROW_NUMBER() OVER (ORDER BY {keys}) AS lf_rn FROM {}{}) s \
                 WHERE lf_rn % {} = 0 ORDER BY lf_rn",
                self.table.quoted(),
                self.range_sql(lo, hi),
                step.max(1)
            );
            let rows = self.query(sql, "splitting a range").await?;
            Ok(self.points(&rows))
        })
    }

    fn digest<'a>(&'a mut self, lo: &'a Bound, hi: &'a Bound) -> BoxFuture<'a, Result<Digest, VerifyError>> {
        Box::pin(async move {
            let parts: Vec<String> = self
                .digest_cols
                .iter()
                .map(|name| {
                    let expr = match self.table.columns.iter().find(|c| &c.name == name) {
                        Some(c) if is_text(c) => format!("CONVERT({} USING utf8mb4)", c.select_expr()),
                        Some(c) => c.select_expr(),
                        None => quote_ident(name),
                    };
                    format!("CAST(QUOTE({expr}) AS BINARY)")
                })
                .collect();
            let sql = format!(
                "SELECT COUNT(*), COALESCE(SUM(CAST(CONV(LEFT(MD5(CONCAT_WS(',', {})), 15), 16, 10) AS UNSIGNED)), 0) FROM {}{}",
                parts.join(", "),
                self.table.quoted(),
                self.range_sql(lo, hi)
            );
            let rows = self.query(sql, "computing a range digest").await?;
            let r = rows.first().ok_or_else(|| VerifyError::Read(format!("{}: the digest query returned no row", self.label)))?;
            let text = |i: usize| match r.as_ref(i) {
                Some(MyValue::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
                Some(v) => v.as_sql(true),
                None => String::new(),
            };
            Ok(Digest { count: text(0).parse().unwrap_or(0), sum: text(1) })
        })
    }

    fn rows<'a>(&'a mut self, lo: &'a Bound, hi: &'a Bound, limit: usize) -> BoxFuture<'a, Result<Vec<SideRow>, VerifyError>> {
        Box::pin(async move {
            let sql = format!("{}{} ORDER BY {} LIMIT {limit}", self.select_sql(), self.range_sql(lo, hi), self.keys_sql());
            self.read_rows(sql).await
        })
    }
}
