//! Writes the seed corpora under `fuzz/seeds/<target>/` from the captured
//! decoder fixtures (src/sources/{postgres,mysql}/testdata):
//!
//! - `pgoutput`: every pgoutput message of the `*.hex` captures;
//! - `pg_text`: every (type oid, text) line of `types.tsv`;
//! - `binlog_rows`: every rows event of the MariaDB captures with its
//!   table map and information_schema columns, and the `SELECT` text rows
//!   of `tables.json` (kind 7);
//! - `json_change`, `proto_change`: records whose rows are the values
//!   decoded from those fixtures, plus control records (schema change,
//!   message, delete with a before image);
//! - `bson_document`: those rows as BSON documents, and one document with
//!   every BSON type.
//!
//! Run from the repository root (scripts/fuzz does it when the seeds are
//! missing): `cargo run --manifest-path fuzz/Cargo.toml --example seeds`.
//! The committed seeds are the subset of its output that libFuzzer keeps
//! with `-merge=1` (the same coverage from fewer files: about 400 of the
//! records come from the 400 rows of the MySQL `doubles` fixture), under
//! the names this tool gave them.

use bson::{doc, Bson};
use logferry::record::bson::row_to_document;
use logferry::record::json::write_change;
use logferry::record::proto::encode_delimited;
use logferry::record::{
    Change, Column, LogicalMessage, Op, Position, Row, SchemaChange, TableRef, Timestamp, Value,
};
use logferry::sources::mysql::decode::{event_rows, text_value, ColumnInfo};
use logferry::sources::postgres::decode::parse;
use logferry::sources::postgres::types::{builtin_oid, text_to_value, PgType};
use logferry_fuzz::binlog_rows::{self, CaseColumn};
use logferry_fuzz::pg_text;
use mysql_async::binlog::events::{
    Event, EventData, FormatDescriptionEvent, RowsEventData, TableMapEvent,
};
use mysql_async::binlog::BinlogVersion;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const PG: &str = "src/sources/postgres/testdata";
const MYSQL: &str = "src/sources/mysql/testdata";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex fixture"))
        .collect()
}

fn hex_lines(path: &Path) -> Vec<Vec<u8>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(unhex)
        .collect()
}

/// Writes seeds into one directory, named `<prefix>-<n>`.
struct Seeds {
    dir: PathBuf,
    count: usize,
}

impl Seeds {
    fn new(root: &Path, target: &str) -> Self {
        let dir = root.join(target);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("clear old seeds");
        }
        std::fs::create_dir_all(&dir).expect("seed dir");
        Seeds { dir, count: 0 }
    }

    fn add(&mut self, prefix: &str, bytes: &[u8]) {
        let path = self.dir.join(format!("{prefix}-{:04}", self.count));
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.count += 1;
    }
}

fn change(
    source: &str,
    table: &str,
    op: Op,
    before: Option<Row>,
    after: Option<Row>,
    seq: u64,
) -> Change {
    Change {
        pipeline: "fuzz".into(),
        source: source.into(),
        seq,
        op: op as i32,
        table: Some(TableRef {
            schema: "public".into(),
            name: table.into(),
        }),
        key_columns: vec!["c0".into()],
        before,
        after,
        position: Some(Position {
            token: vec![0, 0, 0, 1, 0x6b, 0x2a].into(),
            display: "0/16B2A".into(),
        }),
        tx_id: "771".into(),
        commit_time: Some(Timestamp {
            seconds: 1_709_207_100,
            nanos: 123_456_000,
            special: 0,
        }),
        tx_end: seq.is_multiple_of(2),
        schema_change: None,
        message: None,
        documents: false,
    }
}

fn row(values: Vec<(String, Value)>) -> Row {
    Row {
        columns: values
            .into_iter()
            .map(|(name, value)| Column {
                name,
                value: Some(value),
            })
            .collect(),
    }
}

/// Every rows event of a MariaDB capture with its table map.
fn rows_events(path: &Path) -> Vec<(RowsEventData<'static>, TableMapEvent<'static>)> {
    let mut fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
    let mut maps: HashMap<u64, TableMapEvent<'static>> = HashMap::new();
    let mut out = Vec::new();
    for bytes in hex_lines(path) {
        let event = Event::read(&fde, &bytes[..]).expect("fixture event");
        match event.read_data().expect("fixture event data") {
            Some(EventData::FormatDescriptionEvent(f)) => fde = f.into_owned(),
            Some(EventData::TableMapEvent(t)) => {
                maps.insert(t.table_id(), t.into_owned());
            }
            Some(EventData::RowsEvent(r)) => {
                let tme = maps[&r.table_id()].clone();
                out.push((r.into_owned(), tme));
            }
            _ => {}
        }
    }
    out
}

fn kind_of(event: &RowsEventData<'_>) -> u8 {
    match event {
        RowsEventData::WriteRowsEventV1(_) => 0,
        RowsEventData::UpdateRowsEventV1(_) => 1,
        RowsEventData::DeleteRowsEventV1(_) => 2,
        RowsEventData::WriteRowsEvent(_) => 3,
        RowsEventData::UpdateRowsEvent(_) => 4,
        RowsEventData::DeleteRowsEvent(_) => 5,
        RowsEventData::PartialUpdateRowsEvent(_) => 6,
    }
}

fn bitmap_bytes(
    bits: &mysql_async::binlog::events::RowsEventData<'_>,
    n: usize,
) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut all = true;
    for image in [bits.columns_before_image(), bits.columns_after_image()]
        .into_iter()
        .flatten()
    {
        let mut bytes = vec![0u8; n.div_ceil(8)];
        for i in 0..n {
            if image[i] {
                bytes[i / 8] |= 1 << (i % 8);
            } else {
                all = false;
            }
        }
        out.extend(bytes);
    }
    (!all).then_some(out)
}

struct MysqlTable {
    columns: Vec<ColumnInfo>,
    select: Vec<Vec<Option<Vec<u8>>>>,
}

fn mysql_tables() -> HashMap<String, MysqlTable> {
    let text = std::fs::read_to_string(Path::new(MYSQL).join("tables.json")).expect("tables.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("tables.json parses");
    let mut out = HashMap::new();
    for (name, t) in doc["tables"].as_object().expect("tables") {
        let columns = t["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| ColumnInfo {
                name: c["name"].as_str().expect("name").to_string(),
                data_type: c["data_type"].as_str().expect("data_type").to_string(),
                column_type: c["column_type"].as_str().expect("column_type").to_string(),
                charset: c["charset"].as_str().map(str::to_string),
                is_json: c["is_json"].as_bool().expect("is_json"),
            })
            .collect();
        let select = t["select_star"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                r.as_array()
                    .expect("row")
                    .iter()
                    .map(|v| v.as_str().map(unhex))
                    .collect()
            })
            .collect();
        out.insert(name.clone(), MysqlTable { columns, select });
    }
    out
}

fn main() {
    let root = Path::new("fuzz/seeds");
    assert!(Path::new(PG).is_dir(), "run from the repository root");
    let mut records: Vec<Change> = Vec::new();

    // pgoutput messages.
    let mut pg = Seeds::new(root, "pgoutput");
    let mut hex_files: Vec<PathBuf> = std::fs::read_dir(PG)
        .expect("pg testdata")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "hex"))
        .collect();
    hex_files.sort();
    for path in &hex_files {
        let stem = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        for message in hex_lines(path) {
            let bytes = bytes::Bytes::from(message.clone());
            parse(&bytes).expect("fixture messages parse");
            pg.add(&stem, &message);
        }
    }

    // PostgreSQL text values; the decoded values become records.
    let mut text = Seeds::new(root, "pg_text");
    let tsv = std::fs::read_to_string(Path::new(PG).join("types.tsv")).expect("types.tsv");
    let mut pg_values = Vec::new();
    for line in tsv.lines() {
        let mut fields = line.split('\t');
        let (Some(oid), Some(value)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Ok(oid) = oid.parse::<u32>() else {
            continue;
        };
        text.add(&format!("oid{oid}"), &pg_text::write(oid, value));
        let ty = builtin_oid(oid).unwrap_or(PgType::Builtin(oid));
        if let Ok(v) = text_to_value(&ty, value) {
            pg_values.push((format!("c{}", pg_values.len()), v));
        }
    }
    // A few arrays and types the capture has no line for.
    for (oid, value) in [
        (1007, "{1,2,NULL,-3}"),
        (1009, "{\"a \\\"b\\\"\",\"\",NULL,\"NULL\",x}"),
        (1007, "[0:1]={5,6}"),
        (1115, "{{\"2024-02-29 11:45:00.5\"},{infinity}}"),
        (1020, "{(1,1),(0,0);(2,2),(1,1)}"),
        (1187, "{\"1 year 2 mons -3 days +04:05:06.789\"}"),
    ] {
        text.add(&format!("oid{oid}"), &pg_text::write(oid, value));
    }
    for chunk in pg_values.chunks(24) {
        records.push(change(
            "postgres",
            "types",
            Op::Insert,
            None,
            Some(row(chunk.to_vec())),
            records.len() as u64,
        ));
    }

    // Binlog rows events and SELECT text rows.
    let tables = mysql_tables();
    let mut binlog = Seeds::new(root, "binlog_rows");
    for capture in ["types", "changes", "minimal", "metadata"] {
        for (event, tme) in rows_events(&Path::new(MYSQL).join(format!("{capture}.hex"))) {
            let table = tme.table_name().into_owned();
            let Some(t) = tables.get(&table) else {
                continue;
            };
            let n = t.columns.len();
            let columns: Vec<CaseColumn> = t
                .columns
                .iter()
                .enumerate()
                .map(|(i, info)| CaseColumn {
                    info: ColumnInfo {
                        name: format!("c{i}"),
                        ..info.clone()
                    },
                    type_byte: tme
                        .get_raw_column_type(i)
                        .expect("known type")
                        .expect("in range") as u8,
                    metadata: tme.get_column_metadata(i).expect("metadata").to_vec(),
                })
                .collect();
            let bitmaps = bitmap_bytes(&event, n);
            let seed = binlog_rows::write(
                kind_of(&event),
                &columns,
                bitmaps.as_deref(),
                event.rows_data(),
            );
            // The seed must mean the same event to the target.
            let case = binlog_rows::read(&seed).expect("seed reads back");
            let (tme2, event2) = (
                binlog_rows::table_map(&case).expect("table map"),
                binlog_rows::rows_event(&case).expect("rows event"),
            );
            let cols: Vec<ColumnInfo> = columns.iter().map(|c| c.info.clone()).collect();
            let decoded = event_rows(&event2, &tme2, &cols, &table);
            let original = event_rows(&event, &tme, &cols, &table);
            assert_eq!(
                format!("{decoded:?}"),
                format!("{original:?}"),
                "the seed of a {table} event decodes differently"
            );
            // (Partial images and the unsupported latin2 table are errors.)
            for (before, after) in decoded.unwrap_or_default() {
                for image in [before, after].into_iter().flatten() {
                    records.push(change(
                        "mysql",
                        &table,
                        Op::Update,
                        None,
                        Some(row(image)),
                        records.len() as u64,
                    ));
                }
            }
            binlog.add(&format!("{capture}-{table}"), &seed);
        }
    }
    let mut names: Vec<&String> = tables.keys().collect();
    names.sort();
    for name in names {
        let t = &tables[name];
        let columns: Vec<CaseColumn> = t
            .columns
            .iter()
            .enumerate()
            .map(|(i, info)| CaseColumn {
                info: ColumnInfo {
                    name: format!("c{i}"),
                    ..info.clone()
                },
                type_byte: 0,
                metadata: Vec::new(),
            })
            .collect();
        for r in &t.select {
            let mut rest = Vec::new();
            for v in r {
                match v {
                    None => rest.extend_from_slice(&0xffffu16.to_be_bytes()),
                    Some(b) => {
                        rest.extend_from_slice(
                            &u16::try_from(b.len()).expect("short values").to_be_bytes(),
                        );
                        rest.extend_from_slice(b);
                    }
                }
            }
            let seed = binlog_rows::write(binlog_rows::TEXT, &columns, None, &rest);
            let case = binlog_rows::read(&seed).expect("text seed reads back");
            let values = binlog_rows::text_values(&case).expect("values");
            assert_eq!(values.len(), r.len());
            for ((v, c), want) in values.into_iter().zip(&t.columns).zip(r) {
                assert_eq!(v, want.as_deref());
                // Every value decodes but the unsupported latin2 table's.
                let decoded = text_value(v, c, name);
                assert!(
                    decoded.is_ok() || name == "latin2",
                    "{name}.{}: {decoded:?}",
                    c.name
                );
            }
            binlog.add(&format!("select-{name}"), &seed);
        }
    }

    // Control records.
    let mut ddl = change("postgres", "items", Op::SchemaChange, None, None, 1000);
    ddl.schema_change = Some(SchemaChange {
        schema: Some(logferry::record::TableSchema {
            table: Some(TableRef {
                schema: "shop".into(),
                name: "items".into(),
            }),
            columns: vec![logferry::record::ColumnSchema {
                name: "id".into(),
                source_type: "bigint".into(),
                nullable: false,
            }],
            key_columns: vec!["id".into()],
            documents: false,
        }),
        ddl: "ALTER TABLE shop.items ADD COLUMN note text".into(),
    });
    records.push(ddl);
    let mut message = change("postgres", "", Op::Message, None, None, 1001);
    message.message = Some(LogicalMessage {
        prefix: "heartbeat".into(),
        content: vec![0, 0xff].into(),
        transactional: true,
    });
    records.push(message);
    let first_after = records.iter().find_map(|c| c.after.clone());
    records.push(change(
        "postgres",
        "items",
        Op::Delete,
        first_after,
        None,
        1002,
    ));

    // Every BSON type, as the MongoDB source sees documents.
    let every_bson = doc! {
        "_id": bson::oid::ObjectId::from_bytes([0x65, 0xf1, 0xc0, 0xff, 0xee, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66]),
        "double": 1.5, "nan": f64::NAN, "neg_zero": -0.0, "string": "ünï", "int32": 7i32, "int64": -5i64,
        "bool": true, "null": Bson::Null,
        "array": [1i32, "two", [3.0], { "four": 4i64 }],
        "doc": { "a": { "b": [] } },
        "binary": Bson::Binary(bson::Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: vec![1; 16] }),
        "user_binary": Bson::Binary(bson::Binary { subtype: bson::spec::BinarySubtype::UserDefined(0x80), bytes: vec![0, 1, 2] }),
        "date": bson::DateTime::from_millis(-1),
        "decimal": Bson::Decimal128("1.000000000000000000000000000000000E+6144".parse().expect("decimal")),
        "decimal_nan": Bson::Decimal128("-NaN".parse().expect("decimal")),
        "regex": Bson::RegularExpression(bson::Regex { pattern: "^a".into(), options: "i".into() }),
        "ts": Bson::Timestamp(bson::Timestamp { time: 1, increment: 2 }),
        "js": Bson::JavaScriptCode("function() {}".into()),
        "js_scope": Bson::JavaScriptCodeWithScope(bson::JavaScriptCodeWithScope { code: "x".into(), scope: doc! { "x": 1i32 } }),
        "symbol": Bson::Symbol("sym".into()), "undefined": Bson::Undefined, "min": Bson::MinKey, "max": Bson::MaxKey,
    };
    let mut bson_seeds = Seeds::new(root, "bson_document");
    bson_seeds.add(
        "every-type",
        &bson::to_vec(&every_bson).expect("serializes"),
    );
    let mut json = Seeds::new(root, "json_change");
    let mut proto = Seeds::new(root, "proto_change");
    for c in &records {
        let mut out = Vec::new();
        write_change(c, &mut out);
        json.add(&c.source, &out);
        let mut out = Vec::new();
        encode_delimited(c, &mut out);
        proto.add(&c.source, &out);
        if let Some(after) = &c.after {
            // SQL rows map to documents only partly (UNCHANGED has no BSON form).
            if let Ok(d) = row_to_document(after) {
                bson_seeds.add(&c.source, &bson::to_vec(&d).expect("serializes"));
            }
        }
    }
    for s in [&pg, &text, &binlog, &json, &proto, &bson_seeds] {
        println!("{}: {} seeds", s.dir.display(), s.count);
    }
}
