//! Whole rows: the snapshot and the binlog agree, update and delete
//! images, partial images, optional metadata, stale columns and error text.

use super::*;

/// The central property, over every captured cell (the tables above
/// spell the values out; this also covers the 400 doubles).
#[test]
fn snapshot_and_binlog_agree_on_every_cell() {
    let doc: serde_json::Value = serde_json::from_str(TABLES).unwrap();
    let mut cells = 0;
    for table in doc["tables"].as_object().unwrap().keys() {
        if matches!(table.as_str(), "changes" | "latin2") {
            continue; // changed after capture / refused (tested below)
        }
        let cols = fixture(table).columns;
        let binlog = binlog_rows(table);
        let text = text_rows(table, false);
        assert_eq!(binlog.len(), text.len(), "{table}");
        for (r, (a, b)) in binlog.iter().zip(&text).enumerate() {
            for (c, ((_, x), (_, y))) in a.iter().zip(b).enumerate() {
                assert!(same(x, y), "{table} row {r} column {}: binlog {x:?}, select {y:?}", cols[c].name);
                cells += 1;
            }
        }
    }
    assert!(cells > 1200, "only {cells} cells");
}

/// `SELECT *` prints FLOAT with 6 significant digits: it agrees with
/// `select_expr` everywhere except on floats that need more.
#[test]
fn select_star_loses_float_digits_only() {
    let doc: serde_json::Value = serde_json::from_str(TABLES).unwrap();
    for table in doc["tables"].as_object().unwrap().keys() {
        if table == "latin2" {
            continue;
        }
        let f = fixture(table);
        let (exact, star) = (text_rows(table, false), text_rows(table, true));
        for (r, (a, b)) in exact.iter().zip(&star).enumerate() {
            for (c, ((_, x), (_, y))) in a.iter().zip(b).enumerate() {
                if f.columns[c].data_type != "float" {
                    assert!(same(x, y), "{table} row {r} column {}", f.columns[c].name);
                }
            }
        }
    }
    let star = text_rows("nums", true);
    assert_eq!(star[0][6].1, Value::of(Kind::Float32("3.40282e38".parse().unwrap())));
    assert_ne!(star[0][6].1, Value::of(Kind::Float32(f32::MAX)));
    assert_eq!(star[5][6].1, Value::of(Kind::Float32(123_457_000.0)));
    assert_eq!(star[0][8].1, Value::of(Kind::Float32(1.5)), "FLOAT(10,4) 1.5000");
}

#[test]
fn select_exprs_are_what_the_capture_used() {
    let doc: serde_json::Value = serde_json::from_str(TABLES).unwrap();
    for table in doc["tables"].as_object().unwrap().keys() {
        let f = fixture(table);
        let exprs: Vec<String> = f.columns.iter().map(ColumnInfo::select_expr).collect();
        assert_eq!(exprs, f.select_exprs, "{table}");
    }
    let c = ColumnInfo {
        name: "we`ird".into(),
        data_type: "float".into(),
        column_type: "float".into(),
        charset: None,
        is_json: false,
    };
    assert_eq!(c.select_expr(), "CAST(`we``ird` AS DOUBLE)");
}

/// MySQL's JSON printer formats doubles with `my_gcvt`; MariaDB prints
/// DOUBLE columns with it: 400 doubles over the whole range.
#[test]
fn gcvt_matches_the_server() {
    let f = fixture("doubles");
    let binlog = binlog_rows("doubles");
    assert_eq!(binlog.len(), 400);
    for (row, text) in binlog.iter().zip(&f.select) {
        let Some(Kind::Float64(x)) = row[1].1.kind else { panic!("{row:?}") };
        let mut printed = String::new();
        gcvt(x, &mut printed);
        assert_eq!(printed.as_bytes(), text[1].as_deref().unwrap(), "{x:e}");
    }
    let mut s = String::new();
    json_double(1.0, &mut s);
    s.push(' ');
    json_double(-2.5e-7, &mut s);
    s.push(' ');
    json_double(1e20, &mut s);
    // |x| >= 1e-14 prints in fixed notation.
    assert_eq!(s, "1.0 -0.00000025 1e20");
}

#[test]
fn unsupported_charset_is_refused_by_both_paths() {
    let f = fixture("latin2");
    let (ev, tme) = &events_of(TYPES, "latin2")[0];
    let err = event_rows(ev, tme, &f.columns, "db.latin2").unwrap_err();
    assert!(matches!(&err, DecodeError::Charset { charset, .. } if charset == "latin2"), "{err:?}");
    assert!(err.to_string().contains("CHARACTER SET utf8mb4"), "{err}");
    let err = text_value(f.select[1][1].as_deref(), &f.columns[1], "db.latin2").unwrap_err();
    assert!(matches!(&err, DecodeError::Charset { charset, .. } if charset == "latin2"), "{err:?}");
}

#[test]
fn update_and_delete_images() {
    let cols = fixture("changes").columns;
    let row = |id: i64, v: &str, n: Option<i64>, big: Option<&str>| -> Vec<Kind> {
        vec![i(id), t(v), n.map_or(null(), i), big.map_or(null(), t)]
    };
    type Images = (Option<Vec<Kind>>, Option<Vec<Kind>>);
    let want: Vec<Images> = vec![
        (None, Some(row(1, "a", Some(1), Some("long")))),
        (None, Some(row(2, "b", Some(2), None))),
        (Some(row(1, "a", Some(1), Some("long"))), Some(row(1, "c", None, Some("long")))),
        (Some(row(2, "b", Some(2), None)), Some(row(3, "b", Some(2), None))),
        (Some(row(3, "b", Some(2), None)), None),
    ];
    let mut own = Vec::new();
    let mut mc = Vec::new();
    for (ev, tme) in events_of(CHANGES, "changes") {
        own.extend(event_rows(&ev, &tme, &cols, "db.changes").unwrap());
        for r in ev.rows(&tme) {
            let (b, a) = r.unwrap();
            let conv = |x: Option<BinlogRow>| x.map(|x| row_values(&x, &cols, "db.changes").unwrap());
            mc.push((conv(b), conv(a)));
        }
    }
    for got in [&own, &mc] {
        assert_eq!(got.len(), want.len());
        for ((gb, ga), (wb, wa)) in got.iter().zip(&want) {
            for (g, w) in [(gb, wb), (ga, wa)] {
                assert_eq!(g.is_some(), w.is_some());
                if let (Some(g), Some(w)) = (g, w) {
                    assert_rows("changes", std::slice::from_ref(g), std::slice::from_ref(w), &cols);
                }
            }
        }
    }
}

#[test]
fn partial_row_images_are_refused_with_the_fix() {
    let cols = fixture("changes").columns;
    let expected_missing = ["v, n, big", "n, big", "v, n, big", "big"];
    let events = events_of(MINIMAL, "changes");
    assert_eq!(events.len(), expected_missing.len());
    for ((ev, tme), missing) in events.iter().zip(expected_missing) {
        let err = event_rows(ev, tme, &cols, "db.changes").unwrap_err();
        assert_eq!(err, DecodeError::PartialImage { table: "db.changes".into(), missing: missing.into() });
        assert!(err.to_string().contains("SET GLOBAL binlog_row_image = 'FULL'"), "{err}");
        // The same through mysql_common's rows.
        let (b, a) = ev.rows(tme).next().unwrap().unwrap();
        let errs: Vec<DecodeError> =
            [b, a].into_iter().flatten().filter_map(|r| row_values(&r, &cols, "db.changes").err()).collect();
        assert!(matches!(errs.first(), Some(DecodeError::PartialImage { .. })), "{errs:?}");
    }
}

/// With `binlog_row_metadata = FULL` mysql_common applies signedness
/// and names the columns: the values do not change.
#[test]
fn optional_metadata_changes_nothing() {
    let ints = fixture("ints").columns;
    let labels = fixture("labels").columns;
    let events = rows_events(METADATA);
    assert_eq!(events.len(), 4);
    let expected_ints = binlog_rows("ints")[2].clone();
    let expected_labels = binlog_rows("labels")[3].clone();
    for (ev, tme) in &events {
        let table = tme.table_name().into_owned();
        let cols = if table == "ints" { &ints } else { &labels };
        let own = event_rows(ev, tme, cols, &table).unwrap();
        let mc: Vec<RowChange> = ev
            .rows(tme)
            .map(|r| {
                let (b, a) = r.unwrap();
                let conv = |x: Option<BinlogRow>| x.map(|x| row_values(&x, cols, &table).unwrap());
                (conv(b), conv(a))
            })
            .collect();
        assert_eq!(own.len(), 1);
        assert_eq!(mc.len(), 1);
        for image in [&own[0].0, &own[0].1, &mc[0].0, &mc[0].1].into_iter().flatten() {
            let want = if table == "ints" { &expected_ints } else { &expected_labels };
            // All but the id (moved to 103 / 104 and back).
            assert_eq!(image[1..], want[1..], "{table}");
        }
    }
}

#[test]
fn column_info_helpers() {
    let col = |data_type: &str, column_type: &str| ColumnInfo {
        name: "c".into(),
        data_type: data_type.into(),
        column_type: column_type.into(),
        charset: None,
        is_json: false,
    };
    assert!(col("int", "int(10) unsigned").unsigned());
    assert!(col("int", "int(6) unsigned zerofill").unsigned());
    assert!(col("decimal", "DECIMAL(5,2) UNSIGNED").unsigned());
    assert!(!col("bigint", "bigint(20)").unsigned());
    assert!(!col("enum", "enum('unsigned')").unsigned());
    // As information_schema escapes them (see the capture of labels).
    let e = col("enum", r"enum('a\\b','c''d','e,f','tab	x','Ünï','new\nline','')");
    assert_eq!(e.enum_labels(), vec!["a\\b", "c'd", "e,f", "tab\tx", "Ünï", "new\nline", ""]);
    assert_eq!(e.set_labels(), Vec::<String>::new());
    assert_eq!(col("set", "set('x','y')").set_labels(), vec!["x", "y"]);
    assert_eq!(col("enum", "enum()").enum_labels(), Vec::<String>::new());
    let j = ColumnInfo { is_json: true, ..col("longtext", "longtext") };
    assert_eq!(j.source_type(), "json");
    assert_eq!(col("int", "int(11)").source_type(), "int(11)");
    assert_eq!(fsp("datetime(6) /* mariadb-5.3 */"), 6);
    assert_eq!(fsp("time"), 0);
}

#[test]
fn errors_name_table_column_type_and_value() {
    let c = ColumnInfo {
        name: "qty".into(),
        data_type: "int".into(),
        column_type: "int(11)".into(),
        charset: None,
        is_json: false,
    };
    let err = text_value(Some(b"12x"), &c, "shop.orders").unwrap_err();
    assert_eq!(err.to_string(), "shop.orders.qty (int(11)): cannot decode a value: not an integer");
    assert!(matches!(&err, DecodeError::Value { excerpt, .. } if excerpt == "\"12x\""), "{err:?}");
    let long = "9".repeat(500);
    let err = text_value(Some(long.as_bytes()), &c, "shop.orders").unwrap_err();
    let DecodeError::Value { excerpt, .. } = err else { panic!() };
    assert!(excerpt.chars().count() <= ERROR_EXCERPT_LIMIT + 3, "{excerpt}");
    assert!(text_value(Some(b"2147483648"), &c, "t").unwrap_err().to_string().contains("out of range"));
    assert_eq!(text_value(None, &c, "t").unwrap(), Value::null());
}

#[test]
fn stale_columns_are_a_schema_error() {
    let (ev, tme) = &events_of(TYPES, "ints")[0];
    let mut cols = fixture("ints").columns;
    cols.pop();
    let err = event_rows(ev, tme, &cols, "db.ints").unwrap_err();
    assert!(matches!(err, DecodeError::Schema { .. }), "{err:?}");
    let mut cols = fixture("ints").columns;
    cols[1].data_type = "varchar".into();
    cols[1].column_type = "varchar(10)".into();
    let err = event_rows(ev, tme, &cols, "db.ints").unwrap_err();
    assert!(err.to_string().contains("MYSQL_TYPE_TINY"), "{err}");
    let row = ev.rows(tme).next().unwrap().unwrap().1.unwrap();
    assert!(matches!(row_values(&row, &cols, "db.ints"), Err(DecodeError::Schema { .. })));
}
