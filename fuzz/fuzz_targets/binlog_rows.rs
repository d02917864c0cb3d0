//! MySQL / MariaDB binlog row images (src/sources/mysql/decode/): any
//! column layout (information_schema columns, table-map types and
//! metadata) and any row bytes decode to rows or a `DecodeError`, never a
//! panic; likewise the text-protocol values of the snapshot. Input: see
//! `logferry_fuzz::binlog_rows`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logferry::sources::mysql::decode::{event_rows, text_value, ColumnInfo};
use logferry_fuzz::binlog_rows::{self, TEXT};

fuzz_target!(|data: &[u8]| {
    let Some(case) = binlog_rows::read(data) else {
        return;
    };
    let cols: Vec<ColumnInfo> = case.columns.iter().map(|c| c.info.clone()).collect();
    // Derived facts about a column must not panic whatever information_schema says.
    for c in &cols {
        let _ = (
            c.unsigned(),
            c.enum_labels(),
            c.set_labels(),
            c.source_type(),
            c.select_expr(),
        );
    }
    if case.kind == TEXT {
        let Some(values) = binlog_rows::text_values(&case) else {
            return;
        };
        for (v, c) in values.into_iter().zip(&cols) {
            if let Err(e) = text_value(v, c, "db.t") {
                drop(e.to_string());
            }
        }
        return;
    }
    let (Some(tme), Some(event)) = (
        binlog_rows::table_map(&case),
        binlog_rows::rows_event(&case),
    ) else {
        return;
    };
    match event_rows(&event, &tme, &cols, "db.t") {
        Ok(rows) => {
            // Full images only: every image has every column.
            for (before, after) in rows {
                for image in before.iter().chain(after.iter()) {
                    assert_eq!(image.len(), cols.len(), "an image without every column");
                }
            }
        }
        Err(e) => drop(e.to_string()),
    }
});
