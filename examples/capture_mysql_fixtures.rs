//! Re-captures the fixtures of `src/sources/mysql/decode/` from a real
//! MariaDB server (see src/sources/mysql/testdata/README.md). A tool, not
//! a test: the unit tests read what it wrote.
//!
//! ```sh
//! LOGFERRY_CAPTURE_MYSQL=mysql://root:logferry-test@127.0.0.1:33306 \
//!   cargo run --example capture_mysql_fixtures
//! ```
//!
//! It (re)creates the database `fixture_mysql_decode`, creates one table
//! per group of types, runs each scenario below and records, per scenario,
//! every binlog event the server sends for it (hex, one event per line, as
//! mysql_common re-serializes it: header, body, CRC32), and, per table,
//! the columns as information_schema describes them and the table's rows as
//! a text-protocol `SELECT` returns them (hex of the exact bytes).

use futures_core::Stream;
use mysql_async::binlog::events::Event;
use mysql_async::binlog::BinlogVersion;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStreamRequest, Conn, Opts, Row, Value as MyValue};
use serde_json::json;
use std::error::Error;
use std::path::Path;
use std::pin::Pin;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

const DB: &str = "fixture_mysql_decode";
/// Server id the capture registers with; any id no real replica uses.
const CAPTURE_SERVER_ID: u32 = 918_273;

/// The tables: every MySQL / MariaDB type family the decoder handles.
const TABLES: &[&str] = &[
    "CREATE TABLE ints (
        id int PRIMARY KEY,
        t tinyint, tu tinyint unsigned, s smallint, su smallint unsigned,
        m mediumint, mu mediumint unsigned, i int, iu int unsigned,
        b bigint, bu bigint unsigned, z int(6) unsigned zerofill, bo boolean)",
    "CREATE TABLE nums (
        id int PRIMARY KEY,
        d decimal(10,2), d0 decimal(10,0), dn decimal(65,30), du decimal(5,2) unsigned, ds decimal(4,4),
        f float, db double, fm float(10,4),
        b1 bit(1), b10 bit(10), b64 bit(64))",
    "CREATE TABLE texts (
        id int PRIMARY KEY,
        c char(10) CHARACTER SET latin1, vc varchar(300) CHARACTER SET latin1, tx text CHARACTER SET latin1,
        u varchar(20) CHARACTER SET utf8mb4, ut mediumtext CHARACTER SET utf8mb4,
        c4 char(5) CHARACTER SET utf8mb4, cl char(100) CHARACTER SET utf8mb4,
        a varchar(10) CHARACTER SET ascii, u3 varchar(10) CHARACTER SET utf8mb3,
        u16 varchar(10) CHARACTER SET utf16, u32 varchar(10) CHARACTER SET utf32,
        bn binary(4), vb varbinary(10), bl blob, tb tinyblob, lb longblob)",
    "CREATE TABLE times (
        id int PRIMARY KEY,
        d date, t time, t2 time(2), t6 time(6),
        dt datetime, dt3 datetime(3), dt6 datetime(6),
        ts timestamp NULL, ts6 timestamp(6) NULL, y year)",
    "CREATE TABLE labels (
        id int PRIMARY KEY,
        e enum('small','medium','it''s','Ünï'), e300 enum(@E300@),
        s set('a','b','c','it''s'), s64 set(@S64@))",
    "CREATE TABLE docs (
        id int PRIMARY KEY,
        j json, g geometry, p point, u uuid, i6 inet6, i4 inet4)",
    "CREATE TABLE changes (id int PRIMARY KEY, v varchar(10), n int, big text)",
    "CREATE TABLE latin2 (id int PRIMARY KEY, l varchar(10) CHARACTER SET latin2)",
    "CREATE TABLE doubles (id int PRIMARY KEY, v double)",
];

/// A table created with `mysql56_temporal_format = OFF`: the pre-MySQL 5.6
/// temporal formats a legacy server still has on disk.
const LEGACY_TABLE: &str = "CREATE TABLE legacy (id int PRIMARY KEY, t time, dt datetime, ts timestamp NULL,
    t6 time(6), dt6 datetime(6), ts6 timestamp(6) NULL,
    t3 time(3), t5 time(5), dt1 datetime(1), dt5 datetime(5), ts3 timestamp(3) NULL)";

/// Each scenario's statements, run with `sql_mode = ''` (zero dates,
/// out-of-range enums), `time_zone = '+00:00'` and `NAMES utf8mb4`.
fn scenarios() -> Vec<(&'static str, Vec<String>)> {
    let all_latin1: String = (0u8..=255).filter(|b| *b != 0).map(|b| format!("{b:02X}")).collect();
    let s64_all: Vec<String> = (1..=64).map(|i| format!("m{i}")).collect();
    let nines = |n: usize| "9".repeat(n);
    vec![
        (
            "types",
            vec![
                "INSERT INTO ints VALUES
                 (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, 0, 0),
                 (2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
                     9223372036854775807, 18446744073709551615, 42, 1),
                 (3, -1, 128, -1, 32768, -1, 8388608, -1, 2147483648, -1, 9223372036854775808, 999999, -1),
                 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
                 (5, 1, 1, 256, 256, 65536, 65536, 16777216, 16777216, 4294967296, 4294967296, 7, 2)"
                    .to_string(),
                format!(
                    "INSERT INTO nums VALUES
                 (1, 1.50, 0, 12345678901234567890123456789012345.123456789012345678901234567890, 0.00, 0.9999,
                     3.402823466e38, 1.7976931348623157e308, 1.5, b'1', b'1000000001', 0xFFFFFFFFFFFFFFFF),
                 (2, -0.01, -9999999999, -{n35}.{n30}, 999.99, -0.9999,
                     -3.402823466e38, -1.7976931348623157e308, -99999.9999, b'0', b'0', 0),
                 (3, 0.00, 1, 0.000000000000000000000000000001, 0.01, 0.0001,
                     1.17549435e-38, 4.9406564584124654e-324, 0.0001, b'1', b'1', 0x0123456789ABCDEF),
                 (4, 12345678.90, 1000000000, -1000000000.000000001, 100, -0.0001,
                     16777217, 0.1, 123.4567, b'0', b'1111111111', 0x8000000000000000),
                 (5, -12345678.99, -1, 123456789.987654321, 1.5, 0.5,
                     -0.0, -0.0, 0.1, b'1', b'0000000010', 1),
                 (6, 0.10, 10, 0.5, 0.05, 0.05,
                     123456789, 2.2250738585072014e-308, -0.5, b'0', b'0100000000', 256),
                 (7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
                    n35 = nines(35),
                    n30 = nines(30)
                ),
                format!(
                    "INSERT INTO texts VALUES
                 (1, 'ab  ', '€ü‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ', _latin1 X'{all_latin1}',
                     '😀 ünï', 'emoji 👍🏽 and\nnewline\ttab', 'é  ', 'x',
                     'plain', 'ßø', 'Ω😀', 'Ω😀',
                     X'0001', X'00FF00', X'000102FF00', '', X'00'),
                 (2, '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', ''),
                 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
                 (4, 'a   ', 'b  ', ' t ', 'c ', ' x ', ' d ', REPEAT('ü', 99),
                     ' ', ' ', ' ', ' ',
                     'a ', 'b ', ' ', X'20', X'2000'),
                 (5, _latin1 X'818D8F909D', _latin1 X'A0ADFF', 'ÀÿŸ',
                     'tab\tend', '\\\\ back', 'ab', REPEAT('😀', 100),
                     '~', 'ÿ', '😀', '😀',
                     X'FFFFFFFF', X'', X'', X'FF', REPEAT(X'00', 300))"
                ),
                "INSERT INTO times VALUES
                 (1, '1000-01-01', '-838:59:59', '-838:59:59.99', '-838:59:59.999999',
                     '1000-01-01 00:00:00', '1000-01-01 00:00:00.000', '1000-01-01 00:00:00.000000',
                     '1970-01-01 00:00:01', '1970-01-01 00:00:01.000000', 1901),
                 (2, '9999-12-31', '838:59:59', '838:59:59.99', '838:59:59.999999',
                     '9999-12-31 23:59:59', '9999-12-31 23:59:59.999', '9999-12-31 23:59:59.999999',
                     '2038-01-19 03:14:07', '2038-01-19 03:14:07.999999', 2155),
                 (3, '0000-00-00', '00:00:00', '00:00:00.00', '00:00:00.000000',
                     '0000-00-00 00:00:00', '0000-00-00 00:00:00.000', '0000-00-00 00:00:00.000000',
                     '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000', '0000'),
                 (4, '2024-00-15', '-00:00:01', '-00:00:00.01', '-00:00:00.000001',
                     '2024-02-00 12:00:00', '2024-00-00 00:00:00.5', '2024-02-29 12:34:56.789012',
                     '2024-02-29 12:34:56', '2024-02-29 12:34:56.000001', 1970),
                 (5, '2024-02-29', '-12:34:56', '-12:34:56.78', '-00:00:01.5',
                     '1969-12-31 23:59:59', '1969-12-31 23:59:59.001', '1969-12-31 23:59:59.999999',
                     '2001-09-09 01:46:40', '2001-09-09 01:46:40.5', 2000),
                 (6, '0000-01-01', '100:00:00', '00:00:00.5', '-00:59:59.999999',
                     '0001-01-01 00:00:00', '2024-12-00 10:00:00.123', '0000-00-00 00:00:00.000001',
                     '2024-06-30 23:59:59', '2024-06-30 23:59:59.123456', 2069),
                 (7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
                    .to_string(),
                format!(
                    "INSERT INTO labels VALUES
                 (1, 'small', 'v1', '', ''),
                 (2, 'it''s', 'v300', 'a,c', '{}'),
                 (3, 'nope', 'v256', 'it''s,b', 'm64,m1'),
                 (4, 'Ünï', 'v255', 'a,b,c,it''s', 'm8,m9,m33'),
                 (5, NULL, NULL, NULL, NULL)",
                    s64_all.join(",")
                ),
                "INSERT INTO docs VALUES
                 (1, '{\"b\": 1, \"a\": [1, 2.5, \"x\"], \"nested\": {\"k\": null, \"t\": true}}',
                     ST_GeomFromText('POINT(1 2)'), ST_GeomFromText('POINT(1 2)'),
                     '123e4567-e89b-12d3-a456-426655440000', '::1', '1.2.3.4'),
                 (2, '\"ünï 😀 \\\\u00e9\"', ST_GeomFromText('LINESTRING(0 0,1 1,-2.5 1e300)', 4326),
                     ST_GeomFromText('POINT(-1.5 0.1)', 4326),
                     '01234567-89ab-4cde-8f01-23456789abcd', '2001:db8:0:1:1:1:1:1', '255.255.255.255'),
                 (3, '[]', ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))'), ST_GeomFromText('POINT(0 0)'),
                     '00000000-0000-0000-0000-000000000000', '::ffff:1.2.3.4', '0.0.0.0'),
                 (4, '  {\"x\" :1}  ', ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1))'), NULL,
                     'ffffffff-ffff-ffff-ffff-ffffffffffff', '::1.2.3.4', '10.0.0.255'),
                 (5, 'null', NULL, NULL, 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6', '::', NULL),
                 (6, '1e400', NULL, NULL, '01234567-89ab-1cde-0f01-23456789abcd', '::ffff:0:0', NULL),
                 (7, NULL, NULL, NULL, '01890a5d-ac96-774b-bcce-b302099a8057', '2001:db8::1:0:0:1', NULL),
                 (8, NULL, NULL, NULL, '1ec9414c-232a-6b00-b3c8-9e6bdeced846', '1:0:0:2:0:0:0:3', NULL),
                 (9, NULL, NULL, NULL, NULL, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', NULL),
                 (10, NULL, NULL, NULL, NULL, 'fe80::1:0', NULL),
                 (11, NULL, NULL, NULL, NULL, '::0.0.1.0', NULL),
                 (12, NULL, NULL, NULL, NULL, '0:0:0:0:0:1:0:0', NULL),
                 (13, NULL, NULL, NULL, NULL, '1::', NULL),
                 (14, NULL, NULL, NULL, NULL, '::2:0:0:0:0', NULL),
                 (15, NULL, NULL, NULL, NULL, '0:0:1::', NULL),
                 (16, NULL, NULL, NULL, NULL, NULL, NULL)"
                    .to_string(),
                "INSERT INTO legacy VALUES
                 (1, '-838:59:59', '1000-01-01 00:00:00', '1970-01-01 00:00:01',
                     '-838:59:59.999999', '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01.000001',
                     '-838:59:59.999', '-838:59:59.99999', '1000-01-01 00:00:00.1', '1000-01-01 00:00:00.00001',
                     '1970-01-01 00:00:01.001'),
                 (2, '838:59:59', '9999-12-31 23:59:59', '2038-01-19 03:14:07',
                     '838:59:59.999999', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999',
                     '838:59:59.999', '838:59:59.99999', '9999-12-31 23:59:59.9', '9999-12-31 23:59:59.99999',
                     '2038-01-19 03:14:07.999'),
                 (3, '00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00',
                     '00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00',
                     '00:00:00', '00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'),
                 (4, '-00:00:01', '2024-00-00 12:34:56', '2024-02-29 12:34:56',
                     '-00:00:00.5', '2024-00-00 12:34:56.5', '2024-02-29 12:34:56.5',
                     '-00:00:00.001', '-12:00:00.00001', '2024-02-29 12:34:56.5', '2024-02-00 00:00:00.00001',
                     '2024-02-29 12:34:56.123'),
                 (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
                    .to_string(),
                "INSERT INTO latin2 VALUES (1, 'plain'), (2, 'Łódź')".to_string(),
                doubles_insert(),
            ],
        ),
        (
            "changes",
            vec![
                "INSERT INTO changes VALUES (1, 'a', 1, 'long'), (2, 'b', 2, NULL)".to_string(),
                "UPDATE changes SET v = 'c', n = NULL WHERE id = 1".to_string(),
                "UPDATE changes SET id = 3 WHERE id = 2".to_string(),
                "DELETE FROM changes WHERE id = 3".to_string(),
            ],
        ),
        (
            "minimal",
            vec![
                "SET SESSION binlog_row_image = 'MINIMAL'".to_string(),
                "UPDATE changes SET n = 7 WHERE id = 1".to_string(),
                "INSERT INTO changes (id, v) VALUES (4, 'd')".to_string(),
                "DELETE FROM changes WHERE id = 4".to_string(),
                "SET SESSION binlog_row_image = 'NOBLOB'".to_string(),
                "UPDATE changes SET n = 8 WHERE id = 1".to_string(),
                "SET SESSION binlog_row_image = 'FULL'".to_string(),
            ],
        ),
    ]
}

/// Doubles over the whole range, for the `my_gcvt` text form (MySQL's
/// JSON printer uses it; MariaDB prints DOUBLE columns with it).
fn doubles_insert() -> String {
    let mut values: Vec<f64> = vec![
        0.0,
        1.0,
        -1.0,
        0.1,
        0.1 + 0.2,
        1.0 / 3.0,
        2.0 / 3.0,
        100.0,
        1e15,
        1e16,
        1e17,
        123456789012345678.0,
        9007199254740992.0,
        9007199254740993.0,
        f64::MAX,
        -f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        1e-15,
        1e-16,
        0.000123,
        0.0001234,
        1.5e-14,
        1.5e-15,
        123456789012345.6,
        1234567890123456.7,
        12345678901234567.0,
    ];
    for e in -25..=25 {
        let p = 10f64.powi(e);
        values.extend([p, -p, 1.5 * p, -p / 3.0, 1.25 * p]);
    }
    // Deterministic pseudo-random bit patterns (finite ones only).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while values.len() < 400 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let v = f64::from_bits(x);
        if v.is_finite() {
            values.push(v);
        }
    }
    let rows: Vec<String> = values.iter().enumerate().map(|(i, v)| format!("({}, {v:e})", i + 1)).collect();
    format!("INSERT INTO doubles VALUES {}", rows.join(", "))
}

/// Runs the capture against `url`, writing into `dir`.
pub async fn capture(url: &str, dir: &Path) -> Res<()> {
    let opts = Opts::from_url(url)?;
    let mut conn = Conn::new(opts.clone()).await?;
    let version: String = conn.query_first("SELECT VERSION()").await?.unwrap_or_default();
    println!("server {version}");
    for s in ["SET sql_mode = ''", "SET time_zone = '+00:00'", "SET NAMES utf8mb4"] {
        conn.query_drop(s).await?;
    }
    conn.query_drop(format!("DROP DATABASE IF EXISTS {DB}")).await?;
    conn.query_drop(format!("CREATE DATABASE {DB} CHARACTER SET utf8mb4")).await?;
    conn.query_drop(format!("USE {DB}")).await?;
    let e300: Vec<String> = (1..=300).map(|i| format!("'v{i}'")).collect();
    let s64: Vec<String> = (1..=64).map(|i| format!("'m{i}'")).collect();
    for t in TABLES {
        conn.query_drop(t.replace("@E300@", &e300.join(",")).replace("@S64@", &s64.join(","))).await?;
    }
    // Legacy temporal formats are chosen when a table is created; the
    // setting is global, so it is off only around this one CREATE.
    conn.query_drop("SET GLOBAL mysql56_temporal_format = OFF").await?;
    let created = conn.query_drop(LEGACY_TABLE).await;
    conn.query_drop("SET GLOBAL mysql56_temporal_format = ON").await?;
    created?;

    for (name, statements) in scenarios() {
        let (file, start) = master_status(&mut conn).await?;
        for s in &statements {
            conn.query_drop(s).await?;
        }
        let (_, end) = master_status(&mut conn).await?;
        let events = binlog_events(&opts, &file, start, end).await?;
        println!("{name}: {} events, {file} {start}..{end}", events.len());
        let text: String = events.iter().map(|e| format!("{}\n", hex(e))).collect();
        std::fs::write(dir.join(format!("{name}.hex")), text)?;
    }

    // Optional table-map metadata (column names, signedness, charsets,
    // enum/set labels): off by default on MariaDB, on by default on MySQL 8.
    // Global, so on only around this one insert.
    let (file, start) = master_status(&mut conn).await?;
    let old: String = conn.query_first("SELECT @@GLOBAL.binlog_row_metadata").await?.unwrap_or_default();
    conn.query_drop("SET GLOBAL binlog_row_metadata = 'FULL'").await?;
    let inserted = async {
        conn.query_drop("UPDATE ints SET id = 103 WHERE id = 3").await?;
        conn.query_drop("INSERT INTO labels SELECT id + 100, e, e300, s, s64 FROM labels WHERE id = 4").await
    }
    .await;
    conn.query_drop(format!("SET GLOBAL binlog_row_metadata = '{old}'")).await?;
    inserted?;
    conn.query_drop("UPDATE ints SET id = 3 WHERE id = 103").await?;
    conn.query_drop("DELETE FROM labels WHERE id = 104").await?;
    let (_, end) = master_status(&mut conn).await?;
    let events = binlog_events(&opts, &file, start, end).await?;
    let text: String = events.iter().map(|e| format!("{}\n", hex(e))).collect();
    std::fs::write(dir.join("metadata.hex"), text)?;

    let mut tables = serde_json::Map::new();
    let names: Vec<String> = conn
        .exec("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", (DB,))
        .await?;
    for t in names {
        tables.insert(t.clone(), table_json(&mut conn, &t).await?);
    }
    let doc = json!({ "server": version, "database": DB, "tables": tables });
    std::fs::write(dir.join("tables.json"), serde_json::to_string_pretty(&doc)? + "\n")?;
    conn.disconnect().await?;
    Ok(())
}

async fn master_status(conn: &mut Conn) -> Res<(String, u64)> {
    let row: Row = conn.query_first("SHOW MASTER STATUS").await?.ok_or("log_bin is off")?;
    let file: String = row.get(0).ok_or("no file")?;
    let pos: u64 = row.get(1).ok_or("no position")?;
    Ok((file, pos))
}

/// Every event the server sends from `file:start` up to the one ending at
/// `end`, re-serialized (header, body, checksum).
async fn binlog_events(opts: &Opts, file: &str, start: u64, end: u64) -> Res<Vec<Vec<u8>>> {
    let mut conn = Conn::new(opts.clone()).await?;
    // MariaDB sends its GTID events (and not fake BEGIN queries) to a
    // replica that says it understands them.
    conn.query_drop("SET @mariadb_slave_capability = 4").await?;
    let request =
        BinlogStreamRequest::new(CAPTURE_SERVER_ID).with_filename(file.as_bytes()).with_pos(start).with_non_blocking();
    let mut stream = conn.get_binlog_stream(request).await?;
    let mut out = Vec::new();
    while let Some(event) = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
        let event: Event = event?;
        let mut bytes = Vec::new();
        event.write(BinlogVersion::Version4, &mut bytes)?;
        // The re-serialized checksum must be the one the server sent.
        if let Some(sent) = event.checksum() {
            if bytes.len() >= 4 && bytes[bytes.len() - 4..] != sent {
                return Err(format!("checksum differs after re-serializing event {:?}", event.header()).into());
            }
        }
        out.push(bytes);
        if u64::from(event.header().log_pos()) >= end {
            break;
        }
    }
    stream.close().await?;
    Ok(out)
}

/// One table: its columns (what `decode::ColumnInfo` holds, read the way
/// the source's catalog reads them) and its rows as the text protocol
/// returns them, once with `SELECT *` and once with the decoder's
/// recommended select expressions.
async fn table_json(conn: &mut Conn, table: &str) -> Res<serde_json::Value> {
    type ColRow = (String, String, String, Option<String>);
    let cols: Vec<ColRow> = conn
        .exec(
            // COLUMN_TYPE as is: ENUM and SET labels are case-sensitive.
            "SELECT COLUMN_NAME, LOWER(DATA_TYPE), COLUMN_TYPE, CHARACTER_SET_NAME
               FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (DB, table),
        )
        .await?;
    let checks: Vec<String> = conn
        .exec(
            "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?",
            (DB, table),
        )
        .await?;
    let mut columns = Vec::new();
    let mut exprs = Vec::new();
    for (name, data_type, column_type, charset) in &cols {
        let check = format!("json_valid(`{name}`)");
        let is_json = data_type == "json" || checks.iter().any(|c| c.to_lowercase().replace(' ', "") == check);
        columns.push(json!({
            "name": name, "data_type": data_type, "column_type": column_type,
            "charset": charset, "is_json": is_json,
        }));
        // What decode::ColumnInfo::select_expr says (the decoder's tests
        // check that they agree).
        exprs.push(if data_type == "float" { format!("CAST(`{name}` AS DOUBLE)") } else { format!("`{name}`") });
    }
    let plain = select_hex(conn, &format!("SELECT * FROM `{table}` ORDER BY id")).await?;
    let exact = select_hex(conn, &format!("SELECT {} FROM `{table}` ORDER BY id", exprs.join(", "))).await?;
    Ok(json!({ "columns": columns, "select_exprs": exprs, "select": exact, "select_star": plain }))
}

async fn select_hex(conn: &mut Conn, sql: &str) -> Res<serde_json::Value> {
    let rows: Vec<Row> = conn.query(sql).await?;
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| match r.as_ref(i) {
                    Some(MyValue::Bytes(b)) => json!(hex(b)),
                    _ => serde_json::Value::Null,
                })
                .collect()
        })
        .collect();
    Ok(serde_json::Value::Array(rows))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::main]
async fn main() {
    let url = std::env::var("LOGFERRY_CAPTURE_MYSQL")
        .unwrap_or_else(|_| "mysql://root:logferry-test@127.0.0.1:33306".to_string());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sources/mysql/testdata");
    capture(&url, &dir).await.expect("capture");
}
