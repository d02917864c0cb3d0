//! The initial copy: one consistent-snapshot transaction, tables read in
//! primary-key chunks, each chunk ending with a checkpointable position.

use super::catalog::{quote_ident, Table};
use super::decode::text_value;
use super::{definite, mysql_error, Flavor, MyPosition, SourceResult};
use crate::record::{Column, Row};
use crate::sources::SnapshotProgress;
use crate::sources::{position_marker, SourceContext};
use mysql_async::prelude::Queryable;
use crate::tls::mysql::MysqlEndpoint;
use mysql_async::{Conn, Value as MyValue};

/// Opens the snapshot transaction and returns the binlog position it matches.
async fn begin(conn: &mut Conn, flavor: Flavor, source: &str) -> SourceResult<MyPosition> {
    conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await
        .map_err(|e| mysql_error(source, "setting the isolation level", &e))?;
    if flavor == Flavor::Mysql {
        return begin_locked(conn, source).await;
    }
    conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        .await
        .map_err(|e| mysql_error(source, "starting the snapshot", &e))?;
    let rows: Vec<(String, String)> = conn
        .query("SHOW STATUS LIKE 'binlog_snapshot_%'")
        .await
        .map_err(|e| mysql_error(source, "reading the snapshot's binlog position", &e))?;
    let get = |k: &str| rows.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone());
    let file = get("binlog_snapshot_file").filter(|f| !f.is_empty()).ok_or_else(|| {
        definite(source, "the server reports no binlog_snapshot_file: is log_bin on?")
    })?;
    let pos: u64 = get("binlog_snapshot_position").and_then(|p| p.parse().ok()).unwrap_or(4);
    let gtid: Option<String> = conn
        .exec_first::<Option<String>, _, _>("SELECT BINLOG_GTID_POS(?, ?)", (file.as_str(), pos))
        .await
        .map_err(|e| mysql_error(source, "reading the snapshot's GTID position", &e))?
        .flatten()
        .filter(|g| !g.is_empty());
    Ok(MyPosition { file, pos, gtid, snapshot: None })
}

/// Oracle MySQL has no `binlog_snapshot_file`: the binlog position that
/// matches the snapshot is read under a global read lock held only for the
/// moment it takes to start the snapshot and read the position
/// (`FLUSH TABLES WITH READ LOCK`, needs RELOAD), as MySQL's own tools do.
async fn begin_locked(conn: &mut Conn, source: &str) -> SourceResult<MyPosition> {
    conn.query_drop("FLUSH TABLES WITH READ LOCK").await.map_err(|e| {
        definite(source, format!("taking the brief read lock for a consistent copy failed ({e}): GRANT RELOAD ON *.* TO <user>; or use snapshot = \"never\""))
    })?;
    let result = async {
        conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            .await
            .map_err(|e| mysql_error(source, "starting the snapshot", &e))?;
        super::master_status(conn, Flavor::Mysql, source).await
    }
    .await;
    conn.query_drop("UNLOCK TABLES").await.map_err(|e| mysql_error(source, "releasing the read lock", &e))?;
    result
}

/// Copies every table not done yet. `resume` is an interrupted copy's
/// checkpoint. Returns the position streaming starts from, or `None` when
/// shut down mid-way.
pub(super) async fn copy(
    opts: &MysqlEndpoint,
    source: &str,
    tables: &[Table],
    resume: Option<MyPosition>,
    chunk_rows: usize,
    flavor: Flavor,
    ctx: &SourceContext,
) -> SourceResult<Option<MyPosition>> {
    let mut conn = super::connect(opts, source).await?;
    let here = begin(&mut conn, flavor, source).await?;
    // Streaming starts where the *first* copy attempt began, so the changes
    // made while any attempt was copying are replayed.
    let first_attempt = resume.is_none();
    let (mut start, mut progress) = match resume {
        Some(mut p) => {
            let progress = p.snapshot.take().unwrap_or_default();
            (p, progress)
        }
        None => (here, SnapshotProgress::default()),
    };
    start.snapshot = None;
    if first_attempt {
        // Make the start durable before any row can reach a target: a
        // crash during this copy then resumes with the stream from here,
        // which replays the deletes of rows this attempt already wrote.
        let marker = MyPosition { snapshot: Some(progress.clone()), ..start.clone() };
        ctx.emitter.emit(position_marker(&ctx.pipeline, "mysql", marker.to_position())).await?;
        if !ctx.wait_until_durable().await {
            return Ok(None);
        }
    }
    tracing::info!(tables = tables.len(), already_done = progress.done.len(), from = %start.to_position().display, "initial snapshot");
    for t in tables {
        let name = t.qualified();
        if progress.done.contains(&name) {
            continue;
        }
        ctx.emit_schema("mysql", t.schema()).await?;
        let mut after: Option<Vec<Vec<u8>>> = progress
            .partial
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| k.iter().map(|v| hex_decode(v)).collect());
        let key_idx: Vec<usize> = t
            .key
            .iter()
            .map(|k| t.columns.iter().position(|c| &c.name == k).expect("key columns are columns"))
            .collect();
        loop {
            if *ctx.shutdown.borrow() {
                return Ok(None);
            }
            let sql = chunk_sql(t, &key_idx, after.as_deref(), chunk_rows);
            let rows: Vec<mysql_async::Row> = conn
                .query(sql)
                .await
                .map_err(|e| mysql_error(source, &format!("reading {name}"), &e))?;
            let done = rows.len() < chunk_rows;
            let mut last_key: Vec<Vec<u8>> = Vec::new();
            let mut records = Vec::with_capacity(rows.len());
            for r in &rows {
                let mut columns = Vec::with_capacity(t.columns.len());
                for (i, c) in t.columns.iter().enumerate() {
                    let raw = match r.as_ref(i) {
                        Some(MyValue::Bytes(b)) => Some(b.as_slice()),
                        _ => None,
                    };
                    let value = text_value(raw, c, &name).map_err(|e| definite(source, e.to_string()))?;
                    columns.push(Column { name: c.name.clone(), value: Some(value) });
                }
                last_key = key_idx.iter().map(|&k| raw_of(r.as_ref(k))).collect();
                records.push(Row { columns });
            }
            progress.chunk_emitted(&name, done, last_key.iter().map(|k| hex(k)).collect());
            let position = MyPosition { snapshot: Some(progress.clone()), ..start.clone() }.to_position();
            ctx.emit_chunk("mysql", &t.table_ref(), &t.key, false, records, position).await?;
            if done {
                break;
            }
            after = Some(last_key);
        }
    }
    let _ = conn.query_drop("COMMIT").await;
    ctx.emitter.emit(position_marker(&ctx.pipeline, "mysql", start.to_position())).await?;
    tracing::info!("initial snapshot complete");
    Ok(Some(start))
}

/// A key value exactly as the text protocol returned it.
fn raw_of(v: Option<&MyValue>) -> Vec<u8> {
    match v {
        Some(MyValue::Bytes(b)) => b.clone(),
        _ => Vec::new(),
    }
}

/// Key values are kept as hex in the checkpoint: exact for binary keys too.
fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len() / 2).filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()).collect()
}

/// `SELECT cols FROM t [WHERE (k…) > (…)] ORDER BY k… LIMIT n`, on the text
/// protocol so values arrive in the form `text_value` reads. Key values
/// are written as hex string literals with a charset introducer
/// (`_binary` for binary columns): exact for any bytes, no escaping rules,
/// and MySQL converts them to the column's type for the comparison.
fn chunk_sql(t: &Table, key_idx: &[usize], after: Option<&[Vec<u8>]>, limit: usize) -> String {
    let cols = t.columns.iter().map(|c| c.select_expr()).collect::<Vec<_>>().join(", ");
    let keys = key_idx.iter().map(|&k| quote_ident(&t.columns[k].name)).collect::<Vec<_>>().join(", ");
    let mut sql = format!("SELECT {cols} FROM {}", t.quoted());
    if let Some(last) = after {
        let lits = key_idx
            .iter()
            .zip(last)
            .map(|(&k, v)| {
                let c = &t.columns[k];
                let binary = c.charset.as_deref() == Some("binary") || c.data_type.contains("binary") || c.data_type.contains("blob");
                let intro = if binary { "_binary" } else { "_utf8mb4" };
                format!("{intro} X'{}'", hex(v))
            })
            .collect::<Vec<_>>()
            .join(", ");
        sql.push_str(&format!(" WHERE ({keys}) > ({lits})"));
    }
    sql.push_str(&format!(" ORDER BY {keys} LIMIT {limit}"));
    sql
}
