//! MySQL binary JSON from synthetic events, and partial JSON updates.

use super::*;

fn json_column() -> Vec<ColumnInfo> {
    vec![
        ColumnInfo {
            name: "id".into(),
            data_type: "int".into(),
            column_type: "int".into(),
            charset: None,
            is_json: false,
        },
        ColumnInfo {
            name: "j".into(),
            data_type: "json".into(),
            column_type: "json".into(),
            charset: None,
            is_json: true,
        },
    ]
}

/// A write of (1, doc): LONG + JSON (4-byte length prefix).
fn json_write(doc: &[u8]) -> (RowsEventData<'static>, TableMapEvent<'static>) {
    let tm = synthetic::table_map(&[3, 245], &[4]);
    let mut row = vec![0u8];
    row.extend_from_slice(&1i32.to_le_bytes());
    row.extend_from_slice(&(doc.len() as u32).to_le_bytes());
    row.extend_from_slice(doc);
    synthetic::parse(&tm, &synthetic::rows(30, 2, &row))
}

/// MySQL binary JSON is printed as MySQL prints it, by both paths.
#[test]
fn mysql_binary_json() {
    use synthetic::J;
    // DECIMAL(3,2) 1.50; DATETIME 2024-02-29 12:34:56.000005; TIME -838:59:59.5.
    let ymd = ((2024u64 * 13 + 2) << 5) | 29;
    let hms = (12u64 << 12) | (34 << 6) | 56;
    let datetime = ((((ymd << 17) | hms) << 24) | 5).to_le_bytes().to_vec();
    let time = (-((((838i64 << 12) | (59 << 6) | 59) << 24) + 500_000)).to_le_bytes().to_vec();
    let doc = synthetic::doc(&J::Obj(vec![
        ("a", J::Int(1)),
        ("c", J::Obj(vec![("d", J::Int(-70_000)), ("e", J::Int(1 << 40))])),
        ("bb", J::Arr(vec![J::Bool(true), J::Null, J::Dbl(2.5), J::Dbl(100.0), J::Str("x\n\"é\u{1}")])),
        ("dec", J::Opaque(246, vec![3, 2, 0x81, 0x32])),
        ("when", J::Opaque(12, datetime)),
        ("time", J::Opaque(11, time)),
        ("blob", J::Opaque(252, vec![0, 1, 2])),
    ]));
    let want = r#"{"a": 1, "c": {"d": -70000, "e": 1099511627776}, "bb": [true, null, 2.5, 100.0, "x\n\"é\u0001"], "dec": 1.50, "when": "2024-02-29 12:34:56.000005", "time": "-838:59:59.500000", "blob": "base64:type252:AAEC"}"#;
    let (ev, tme) = json_write(&doc);
    let cols = json_column();
    let own = event_rows(&ev, &tme, &cols, "db.t").unwrap();
    assert_eq!(own[0].1.as_ref().unwrap()[1].1, Value::of(json(want)));
    let row = ev.rows(&tme).next().unwrap().unwrap().1.unwrap();
    let mc = row_values(&row, &cols, "db.t").unwrap();
    assert_eq!(mc[1].1, Value::of(json(want)));
    // Scalars at the top level, and the empty document.
    for (j, text) in [(J::Str("s"), r#""s""#), (J::Dbl(-0.5), "-0.5"), (J::Int(-3), "-3"), (J::Bool(false), "false")] {
        let (ev, tme) = json_write(&synthetic::doc(&j));
        let got = event_rows(&ev, &tme, &cols, "db.t").unwrap();
        assert_eq!(got[0].1.as_ref().unwrap()[1].1, Value::of(json(text)));
    }
    let (ev, tme) = json_write(&[]);
    assert_eq!(event_rows(&ev, &tme, &cols, "db.t").unwrap()[0].1.as_ref().unwrap()[1].1, Value::of(json("null")));
}

#[test]
fn partial_json_updates_are_refused_with_the_fix() {
    let tm = synthetic::table_map(&[3, 245], &[4]);
    let full = synthetic::doc(&synthetic::J::Obj(vec![("a", synthetic::J::Int(1))]));
    // A JSON diff: REPLACE '$.a' with true.
    let diff = [0u8, 3, b'$', b'.', b'a', 2, 0x04, 0x01];
    let image = |value: &[u8]| {
        let mut v = vec![0u8];
        v.extend_from_slice(&1i32.to_le_bytes());
        v.extend_from_slice(&(value.len() as u32).to_le_bytes());
        v.extend_from_slice(value);
        v
    };
    let mut rows = image(&full);
    rows.extend_from_slice(&[1, 0b1]); // value options: PARTIAL_JSON; column 0 of the JSON columns is partial
    rows.extend_from_slice(&image(&diff));
    let (ev, tme) = synthetic::parse(&tm, &synthetic::rows(39, 2, &rows));
    let cols = json_column();
    let err = event_rows(&ev, &tme, &cols, "db.t").unwrap_err();
    assert_eq!(err, DecodeError::PartialJson { table: "db.t".into(), column: "j".into() });
    assert!(err.to_string().contains("binlog_row_value_options = ''"), "{err}");
    let (_, after) = ev.rows(&tme).next().unwrap().unwrap();
    let err = row_values(&after.unwrap(), &cols, "db.t").unwrap_err();
    assert!(matches!(err, DecodeError::PartialJson { .. }), "{err:?}");
    // The same event without the partial flag is an ordinary update.
    let mut rows = image(&full);
    rows.push(0);
    rows.extend_from_slice(&image(&full));
    let (ev, tme) = synthetic::parse(&tm, &synthetic::rows(39, 2, &rows));
    let got = event_rows(&ev, &tme, &cols, "db.t").unwrap();
    assert_eq!(got[0].1.as_ref().unwrap()[1].1, Value::of(json(r#"{"a": 1}"#)));
}
