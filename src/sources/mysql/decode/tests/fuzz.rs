//! Mutated rows events and random JSON / text / values never panic.

use super::*;

/// Real TMEs with garbage rows: the rows-event bytes of every captured
/// event, mutated and cut.
fn mutated_rows_event(ev: &RowsEventData<'_>, rows: &[u8]) -> Option<RowsEventData<'static>> {
    let type_code = match ev {
        RowsEventData::WriteRowsEventV1(_) => 23,
        RowsEventData::UpdateRowsEventV1(_) => 24,
        RowsEventData::DeleteRowsEventV1(_) => 25,
        _ => return None,
    };
    let n = ev.num_columns() as usize;
    let mut b = Vec::new();
    b.extend_from_slice(&ev.table_id().to_le_bytes()[..6]);
    b.extend_from_slice(&0u16.to_le_bytes());
    b.push(n as u8);
    let images = if type_code == 24 { 2 } else { 1 };
    for _ in 0..images {
        b.extend(std::iter::repeat_n(0xff, n.div_ceil(8)));
    }
    b.extend_from_slice(rows);
    let e = synthetic::event(type_code, &b);
    let fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
    match Event::read(&fde, &e[..]).ok()?.read_data() {
        Ok(Some(EventData::RowsEvent(r))) => Some(r.into_owned()),
        _ => None,
    }
}

fn all_events() -> Vec<(RowsEventData<'static>, TableMapEvent<'static>, Vec<ColumnInfo>)> {
    let doc: serde_json::Value = serde_json::from_str(TABLES).unwrap();
    let tables: Vec<String> = doc["tables"].as_object().unwrap().keys().cloned().collect();
    [TYPES, CHANGES]
        .iter()
        .flat_map(|h| rows_events(h))
        .filter(|(_, tme)| tables.contains(&tme.table_name().into_owned()))
        .map(|(ev, tme)| {
            let cols = fixture(&tme.table_name()).columns;
            (ev, tme, cols)
        })
        .collect()
}

#[test]
fn mutation_harness_rebuilds_events_faithfully() {
    for (ev, tme, cols) in all_events() {
        let rebuilt = mutated_rows_event(&ev, ev.rows_data()).expect("rebuilt");
        let a = event_rows(&ev, &tme, &cols, "t");
        let b = event_rows(&rebuilt, &tme, &cols, "t");
        assert_eq!(a, b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Mutated and truncated row bytes never panic the parser.
    #[test]
    fn mutated_rows_never_panic(
        pick in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        tail in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        thread_local!(static EVENTS: Vec<(RowsEventData<'static>, TableMapEvent<'static>, Vec<ColumnInfo>)> = all_events());
        EVENTS.with(|events| {
            let (ev, tme, cols) = &events[pick.index(events.len())];
            let mut rows = ev.rows_data().to_vec();
            rows.truncate(cut.index(rows.len() + 1));
            for (at, byte) in &edits {
                if !rows.is_empty() {
                    let i = at.index(rows.len());
                    rows[i] = *byte;
                }
            }
            rows.extend_from_slice(&tail);
            if let Some(m) = mutated_rows_event(ev, &rows) {
                let _ = event_rows(&m, tme, cols, "t");
            }
        });
    }

    /// Random binary JSON never panics the printer.
    #[test]
    fn random_jsonb_never_panics(doc in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut out = String::new();
        let _ = render_jsonb(&doc, &mut out);
    }

    /// Mutated valid binary JSON never panics the printer.
    #[test]
    fn mutated_jsonb_never_panics(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        use synthetic::J;
        let mut doc = synthetic::doc(&J::Obj(vec![
            ("a", J::Arr(vec![J::Int(1), J::Str("x"), J::Obj(vec![("k", J::Null)])])),
            ("bb", J::Opaque(246, vec![3, 2, 0x81, 0x32])),
        ]));
        for (at, byte) in edits {
            let i = at.index(doc.len());
            doc[i] = byte;
        }
        let mut out = String::new();
        let _ = render_jsonb(&doc, &mut out);
    }

    /// Any text for any captured column type never panics.
    #[test]
    fn any_text_never_panics(
        pick in any::<prop::sample::Index>(),
        text in proptest::collection::vec(any::<u8>(), 0..40),
        ascii in "[-0-9:. eE+a-f,']{0,30}",
    ) {
        thread_local!(static COLS: Vec<ColumnInfo> = {
            let doc: serde_json::Value = serde_json::from_str(TABLES).unwrap();
            doc["tables"].as_object().unwrap().keys().flat_map(|t| fixture(t).columns).collect()
        });
        COLS.with(|cols| {
            let c = &cols[pick.index(cols.len())];
            let _ = text_value(Some(&text), c, "t");
            let _ = text_value(Some(ascii.as_bytes()), c, "t");
        });
    }

    /// Whatever mysql_common hands over, `row_values` does not panic.
    #[test]
    fn any_mysql_common_value_never_panics(
        pick in any::<prop::sample::Index>(),
        values in proptest::collection::vec((0u8..9, any::<i64>(), proptest::collection::vec(any::<u8>(), 0..12)), 20),
    ) {
        thread_local!(static TABLE_LAYOUTS: Vec<(Vec<ColumnType>, Vec<ColumnInfo>)> = all_events()
            .into_iter()
            .map(|(_, tme, cols)| {
                let types = (0..cols.len()).map(|i| tme.get_column_type(i).unwrap().unwrap()).collect();
                (types, cols)
            })
            .collect());
        TABLE_LAYOUTS.with(|layouts| {
            let (types, cols) = &layouts[pick.index(layouts.len())];
            let columns: Vec<Column> =
                types.iter().enumerate().map(|(i, ct)| Column::new(*ct).with_name(format!("@{i}").as_bytes())).collect();
            let vals: Vec<Option<BinlogValue<'static>>> = types
                .iter()
                .zip(&values)
                .map(|(_, (k, n, bytes))| {
                    let x = *n;
                    Some(BinlogValue::Value(match k {
                        0 => MyValue::NULL,
                        1 => MyValue::Int(x),
                        2 => MyValue::UInt(x as u64),
                        3 => MyValue::Float(f32::from_bits(x as u32)),
                        4 => MyValue::Double(f64::from_bits(x as u64)),
                        5 => MyValue::Date((x >> 48) as u16, (x >> 40) as u8, (x >> 32) as u8, (x >> 24) as u8, (x >> 16) as u8, (x >> 8) as u8, x as u32),
                        6 => MyValue::Time(x < 0, (x >> 32) as u32, (x >> 24) as u8, (x >> 16) as u8, (x >> 8) as u8, x as u32),
                        7 => MyValue::Bytes(x.to_string().into_bytes()),
                        _ => MyValue::Bytes(bytes.clone()),
                    }))
                })
                .collect();
            let row = BinlogRow::new(vals, Arc::from(columns));
            let _ = row_values(&row, cols, "t");
        });
    }
}
