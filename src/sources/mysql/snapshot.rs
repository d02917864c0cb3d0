//! The initial copy: one consistent-snapshot transaction, tables read in
//! primary-key chunks, each chunk ending with a checkpointable position.
//!
//! A table without a primary key is read in chunks of its rule's row key
//! (`Table::key_from_rule`), which may repeat and hold NULLs: its chunks
//! continue after the last key NULL-safely (`<=>`, NULLs first as MySQL
//! sorts them), and a chunk never ends inside a run of equal keys (the
//! rows of its last key are read whole), so no row is skipped.
//!
//! A keyless table without a rule (replicated by whole rows) is one unit:
//! its schema record is followed by a TRUNCATE record (so a copy that
//! starts again first empties what an earlier attempt left on the
//! targets), then the whole table is read by one streamed query and
//! emitted in chunks (the session's `net_write_timeout` raised to a day,
//! so a pipeline held back by a target outage does not break the read); a
//! resumed copy reads it again from its start.
//!
//! Progress goes to the source's stats (`SourceStats::copy_started`,
//! `copy_chunk`). The row estimate is `information_schema.tables.table_rows`
//! (InnoDB's guess; MySQL 8 may cache it for a day); when that says NULL or
//! 0 and the table is small (under [`COUNT_BELOW_BYTES`] of data), the rows
//! are counted in the snapshot transaction instead. A resumed copy counts
//! only the rows it copies now; the estimate stays the whole table's.

use super::catalog::{quote_ident, Table};
use super::decode::text_value;
use super::{definite, mysql_error, Flavor, MyPosition, SourceResult};
use crate::record::{Column, Row};
use crate::sources::SnapshotProgress;
use crate::sources::{position_marker, SourceContext};
use mysql_async::prelude::Queryable;
use crate::tls::mysql::MysqlEndpoint;
use mysql_async::{Conn, Value as MyValue};

/// A table with no usable `table_rows` is counted (`count(*)`) when its
/// data takes less than this: a few tens of milliseconds at most.
pub const COUNT_BELOW_BYTES: u64 = 64 << 20;

/// The rows of `t` as the server guesses them, or — when it cannot say and
/// the table is small — counted in the snapshot.
pub(super) async fn estimate(conn: &mut Conn, t: &Table, source: &str) -> SourceResult<Option<u64>> {
    let what = format!("estimating the rows of {}", t.qualified());
    let row: Option<(Option<u64>, Option<u64>)> = conn
        .exec_first(
            "SELECT table_rows, data_length FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            (t.database.as_str(), t.name.as_str()),
        )
        .await
        .map_err(|e| mysql_error(source, &what, &e))?;
    let (rows, bytes) = row.unwrap_or_default();
    if let Some(n) = rows.filter(|&n| n > 0) {
        return Ok(Some(n));
    }
    if bytes.is_none_or(|b| b >= COUNT_BELOW_BYTES) {
        return Ok(None);
    }
    let count: Option<u64> =
        conn.query_first(format!("SELECT COUNT(*) FROM {}", t.quoted())).await.map_err(|e| mysql_error(source, &what, &e))?;
    Ok(count)
}

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
    Ok(MyPosition { file, pos, gtid, ..Default::default() })
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
    let stats = ctx.emitter.stats();
    for t in tables {
        let name = t.qualified();
        if progress.done.contains(&name) {
            continue;
        }
        ctx.emit_schema("mysql", t.schema()).await?;
        stats.copy_started(&name, estimate(&mut conn, t, source).await?);
        if t.key.is_empty() {
            ctx.emit_truncate("mysql", &t.table_ref()).await?;
            if !copy_whole(&mut conn, t, &start, &mut progress, chunk_rows, source, ctx).await? {
                return Ok(None);
            }
            continue;
        }
        let mut after: Option<Vec<Option<Vec<u8>>>> = progress
            .partial
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| key_from_text(k));
        let key_idx = key_indexes(t, source)?;
        loop {
            if *ctx.shutdown.borrow() {
                return Ok(None);
            }
            let chunk = read_chunk(&mut conn, t, &key_idx, after.as_deref(), chunk_rows, source).await?;
            let (done, last_key) = (chunk.done, chunk.last_key);
            let records = chunk.rows;
            progress.chunk_emitted(&name, done, key_text(&last_key));
            let position = MyPosition { snapshot: Some(progress.clone()), ..start.clone() }.to_position();
            let n = records.len() as u64;
            ctx.emit_chunk("mysql", &t.table_ref(), &t.key, false, records, position).await?;
            stats.copy_chunk(&name, n, done);
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

/// Copies keyless table `t` whole, by one streamed query, in chunks of
/// `chunk_rows`. False when shut down mid-way.
async fn copy_whole(
    conn: &mut Conn,
    t: &Table,
    start: &MyPosition,
    progress: &mut SnapshotProgress,
    chunk_rows: usize,
    source: &str,
    ctx: &SourceContext,
) -> SourceResult<bool> {
    let name = t.qualified();
    let what = || format!("reading {name}");
    let stats = ctx.emitter.stats();
    // The server waits while the pipeline holds the copy back (a target
    // outage): give it a day instead of the default minute before it
    // gives up writing the result.
    conn.query_drop("SET SESSION net_write_timeout = 86400").await.map_err(|e| mysql_error(source, &what(), &e))?;
    let mut result = conn.query_iter(chunk_sql(t, &[], None, 0)).await.map_err(|e| mysql_error(source, &what(), &e))?;
    loop {
        if *ctx.shutdown.borrow() {
            return Ok(false);
        }
        let mut rows = Vec::with_capacity(chunk_rows.min(4096));
        while rows.len() < chunk_rows {
            match result.next().await.map_err(|e| mysql_error(source, &what(), &e))? {
                Some(r) => rows.push(r),
                None => break,
            }
        }
        let done = rows.len() < chunk_rows;
        progress.chunk_emitted(&name, done, Vec::new());
        let position = MyPosition { snapshot: Some(progress.clone()), ..start.clone() }.to_position();
        let n = rows.len() as u64;
        ctx.emit_chunk("mysql", &t.table_ref(), &t.key, false, decode_rows(t, &rows, source)?, position).await?;
        stats.copy_chunk(&name, n, done);
        if done {
            break;
        }
    }
    drop(result);
    Ok(true)
}

/// The index of each key column of `t` in its columns.
pub(super) fn key_indexes(t: &Table, source: &str) -> SourceResult<Vec<usize>> {
    t.key
        .iter()
        .map(|k| {
            t.columns.iter().position(|c| &c.name == k).ok_or_else(|| {
                definite(source, format!("key column `{k}` of {} is gone (dropped since the start?)", t.qualified()))
            })
        })
        .collect()
}

/// One chunk of a table in key order.
pub(super) struct Chunk {
    /// The rows, every column decoded.
    pub rows: Vec<Row>,
    /// The key of the last row, as the text protocol returned it.
    pub last_key: Vec<Option<Vec<u8>>>,
    /// Fewer rows than asked: the table is done.
    pub done: bool,
}

/// Reads the `chunk_rows` rows of `t` after the key `after` (from the
/// start when `None`), in key order; a rule's row key ends the chunk after
/// the whole run of its last key.
pub(super) async fn read_chunk(
    conn: &mut Conn,
    t: &Table,
    key_idx: &[usize],
    after: Option<&[Option<Vec<u8>>]>,
    chunk_rows: usize,
    source: &str,
) -> SourceResult<Chunk> {
    let what = || format!("reading {}", t.qualified());
    let mut rows: Vec<mysql_async::Row> =
        conn.query(chunk_sql(t, key_idx, after, chunk_rows)).await.map_err(|e| mysql_error(source, &what(), &e))?;
    let done = rows.len() < chunk_rows;
    let key_of = |r: &mysql_async::Row| -> Vec<Option<Vec<u8>>> { key_idx.iter().map(|&k| raw_of(r.as_ref(k))).collect() };
    if !done && t.key_from_rule {
        // End the chunk after the whole run of its last key.
        let last = rows.last().map(key_of).unwrap_or_default();
        while rows.last().is_some_and(|r| key_of(r) == last) {
            rows.pop();
        }
        let run: Vec<mysql_async::Row> =
            conn.query(equal_key_sql(t, key_idx, &last)).await.map_err(|e| mysql_error(source, &what(), &e))?;
        rows.extend(run);
    }
    let last_key = rows.last().map(key_of).unwrap_or_default();
    Ok(Chunk { rows: decode_rows(t, &rows, source)?, last_key, done })
}

/// Rows of the text protocol (every column of `t`, in order) decoded.
pub(super) fn decode_rows(t: &Table, rows: &[mysql_async::Row], source: &str) -> SourceResult<Vec<Row>> {
    let name = t.qualified();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut columns = Vec::with_capacity(t.columns.len());
        for (i, c) in t.columns.iter().enumerate() {
            let raw = match r.as_ref(i) {
                Some(MyValue::Bytes(b)) => Some(b.as_slice()),
                _ => None,
            };
            let value = text_value(raw, c, &name).map_err(|e| definite(source, e.to_string()))?;
            columns.push(Column { name: c.name.clone(), value: Some(value) });
        }
        out.push(Row { columns });
    }
    Ok(out)
}

/// A key as kept in positions: hex per column, [`NULL_KEY`] for NULL.
pub(super) fn key_text(key: &[Option<Vec<u8>>]) -> Vec<String> {
    key.iter().map(|k| k.as_deref().map_or_else(|| NULL_KEY.to_string(), hex)).collect()
}

/// A key kept by [`key_text`] back as raw values.
pub(super) fn key_from_text(key: &[String]) -> Vec<Option<Vec<u8>>> {
    key.iter().map(|v| hex_decode(v)).collect()
}

/// A key value exactly as the text protocol returned it (`None`: NULL).
fn raw_of(v: Option<&MyValue>) -> Option<Vec<u8>> {
    match v {
        Some(MyValue::Bytes(b)) => Some(b.clone()),
        _ => None,
    }
}

/// A NULL key value (of a rule's row key) in the checkpoint; never hex.
const NULL_KEY: &str = "NULL";

/// Key values are kept as hex in the checkpoint: exact for binary keys too.
fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s == NULL_KEY {
        return None;
    }
    Some((0..s.len() / 2).filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()).collect())
}

/// A key value as a SQL literal: a hex string with a charset introducer
/// (`_binary` for binary columns): exact for any bytes, no escaping rules,
/// and MySQL converts it to the column's type for the comparison.
fn key_literal(t: &Table, k: usize, v: Option<&[u8]>) -> String {
    let Some(v) = v else { return "NULL".into() };
    let c = &t.columns[k];
    let binary = c.charset.as_deref() == Some("binary") || c.data_type.contains("binary") || c.data_type.contains("blob");
    let intro = if binary { "_binary" } else { "_utf8mb4" };
    format!("{intro} X'{}'", hex(v))
}

/// `SELECT cols FROM t [WHERE (k…) > (…)] ORDER BY k… LIMIT n`, on the text
/// protocol so values arrive in the form `text_value` reads. A rule's row
/// key (may hold NULLs) continues with a NULL-safe lexicographic condition
/// instead of the row comparison.
fn chunk_sql(t: &Table, key_idx: &[usize], after: Option<&[Option<Vec<u8>>]>, limit: usize) -> String {
    let cols = t.columns.iter().map(|c| c.select_expr()).collect::<Vec<_>>().join(", ");
    let keys = key_idx.iter().map(|&k| quote_ident(&t.columns[k].name)).collect::<Vec<_>>().join(", ");
    let mut sql = format!("SELECT {cols} FROM {}", t.quoted());
    if let Some(last) = after {
        if t.key_from_rule {
            sql.push_str(&format!(" WHERE {}", after_null_safe(t, key_idx, last)));
        } else {
            let lits = key_idx.iter().zip(last).map(|(&k, v)| key_literal(t, k, v.as_deref())).collect::<Vec<_>>().join(", ");
            sql.push_str(&format!(" WHERE ({keys}) > ({lits})"));
        }
    }
    if key_idx.is_empty() {
        // A keyless table: read whole (0), or its first rows only.
        if limit > 0 {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        return sql;
    }
    sql.push_str(&format!(" ORDER BY {keys} LIMIT {limit}"));
    sql
}

/// Rows after `last` in `ORDER BY k…` order, where NULL sorts first:
/// `k1 > v1 OR (k1 <=> v1 AND k2 > v2) OR …`, with `k > NULL` read as
/// `k IS NOT NULL`.
fn after_null_safe(t: &Table, key_idx: &[usize], last: &[Option<Vec<u8>>]) -> String {
    let mut terms = Vec::with_capacity(key_idx.len());
    for i in 0..key_idx.len().min(last.len()) {
        let mut parts: Vec<String> = (0..i)
            .map(|j| format!("{} <=> {}", quote_ident(&t.columns[key_idx[j]].name), key_literal(t, key_idx[j], last[j].as_deref())))
            .collect();
        let col = quote_ident(&t.columns[key_idx[i]].name);
        parts.push(match &last[i] {
            None => format!("{col} IS NOT NULL"),
            Some(v) => format!("{col} > {}", key_literal(t, key_idx[i], Some(v))),
        });
        terms.push(format!("({})", parts.join(" AND ")));
    }
    if terms.is_empty() {
        return "FALSE".into();
    }
    format!("({})", terms.join(" OR "))
}

/// Every row whose key is (NULL-safely) equal to `key`.
fn equal_key_sql(t: &Table, key_idx: &[usize], key: &[Option<Vec<u8>>]) -> String {
    let cols = t.columns.iter().map(|c| c.select_expr()).collect::<Vec<_>>().join(", ");
    let cond = key_idx
        .iter()
        .zip(key)
        .map(|(&k, v)| format!("{} <=> {}", quote_ident(&t.columns[k].name), key_literal(t, k, v.as_deref())))
        .collect::<Vec<_>>()
        .join(" AND ");
    format!("SELECT {cols} FROM {} WHERE {cond}", t.quoted())
}

/// The rows of the keys `keys` (values in key-column order; bytes as
/// they are, anything else as its text, which MySQL converts): a row
/// comparison `IN` for a primary key, NULL-safe equality for a rule's
/// row key.
pub(super) fn keys_sql(t: &Table, key_idx: &[usize], keys: &[Vec<crate::record::Value>]) -> String {
    use crate::record::value::Kind;
    let cols = t.columns.iter().map(|c| c.select_expr()).collect::<Vec<_>>().join(", ");
    let raw = |v: &crate::record::Value| -> Option<Vec<u8>> {
        match v.kind.as_ref() {
            Some(Kind::Bytes(b)) => Some(b.to_vec()),
            _ => crate::record::json::value_text(v).map(String::into_bytes),
        }
    };
    let keys: Vec<Vec<Option<Vec<u8>>>> = keys.iter().map(|k| k.iter().map(raw).collect()).collect();
    if keys.is_empty() {
        return format!("SELECT {cols} FROM {} WHERE FALSE", t.quoted());
    }
    let cond = if t.key_from_rule {
        keys.iter()
            .map(|k| {
                let eq = key_idx.iter().zip(k).map(|(&c, v)| format!("{} <=> {}", quote_ident(&t.columns[c].name), key_literal(t, c, v.as_deref())));
                format!("({})", eq.collect::<Vec<_>>().join(" AND "))
            })
            .collect::<Vec<_>>()
            .join(" OR ")
    } else {
        let names = key_idx.iter().map(|&c| quote_ident(&t.columns[c].name)).collect::<Vec<_>>().join(", ");
        let tuples = keys.iter().map(|k| {
            let lits = key_idx.iter().zip(k).map(|(&c, v)| key_literal(t, c, v.as_deref()));
            format!("({})", lits.collect::<Vec<_>>().join(", "))
        });
        format!("({names}) IN ({})", tuples.collect::<Vec<_>>().join(", "))
    };
    format!("SELECT {cols} FROM {} WHERE {cond}", t.quoted())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::mysql::decode::ColumnInfo;

    fn table(key_from_rule: bool) -> Table {
        let col = |n: &str| ColumnInfo { name: n.into(), data_type: "int".into(), column_type: "int".into(), charset: None, is_json: false };
        Table {
            database: "d".into(),
            name: "h".into(),
            key: vec!["a".into(), "b".into()],
            key_from_rule,
            columns: vec![col("a"), col("v"), col("b")],
            nullable: vec![true, true, true],
        }
    }

    #[test]
    fn a_rule_key_continues_null_safely() {
        let t = table(true);
        let last = [None, Some(b"7".to_vec())];
        let sql = chunk_sql(&t, &[0, 2], Some(&last), 5);
        assert!(
            sql.ends_with(" WHERE ((`a` IS NOT NULL) OR (`a` <=> NULL AND `b` > _utf8mb4 X'37')) ORDER BY `a`, `b` LIMIT 5"),
            "{sql}"
        );
        assert!(equal_key_sql(&t, &[0, 2], &last).ends_with(" WHERE `a` <=> NULL AND `b` <=> _utf8mb4 X'37'"));
        let pk = chunk_sql(&table(false), &[0, 2], Some(&[Some(b"1".to_vec()), Some(b"2".to_vec())]), 5);
        assert!(pk.ends_with(" WHERE (`a`, `b`) > (_utf8mb4 X'31', _utf8mb4 X'32') ORDER BY `a`, `b` LIMIT 5"), "{pk}");
        assert_eq!(hex_decode(NULL_KEY), None);
        let keys = [vec![crate::record::Value::int64(1), crate::record::Value::text("x")]];
        assert!(keys_sql(&table(false), &[0, 2], &keys).ends_with(" WHERE (`a`, `b`) IN ((_utf8mb4 X'31', _utf8mb4 X'78'))"));
        assert!(keys_sql(&table(true), &[0, 2], &keys).ends_with(" WHERE (`a` <=> _utf8mb4 X'31' AND `b` <=> _utf8mb4 X'78')"));
        assert!(keys_sql(&table(true), &[0, 2], &[]).ends_with(" WHERE FALSE"));
        assert_eq!(hex_decode("3731"), Some(b"71".to_vec()));
    }
}
