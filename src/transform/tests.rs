//! The stage on records: identity rules change nothing (property), the
//! filter's change-data table, masks, renames, schema records.

use super::*;
use crate::config::{ColumnSelection, MaskKind, Secret, TableRule};
use crate::record::json::fixtures::arb_change;
use crate::record::{ColumnSchema, LogicalType, Row, TableRef, TableSchema, Value};
use proptest::prelude::*;

fn rule(matches: &str) -> TableRule {
    TableRule {
        key: "pipeline[p].table[0]".into(),
        matches: matches.into(),
        rename: None,
        columns: ColumnSelection::All,
        rename_columns: Vec::new(),
        mask: Vec::new(),
        filter: None,
        row_key: None,
        on_invalid: Default::default(),
        validate: Vec::new(),
    }
}

fn stage(rules: Vec<TableRule>) -> Stage {
    let cfg = TransformConfig { mask_key: Some(Secret::new("key")), tables: rules };
    Stage::compile(&cfg, Some("public")).unwrap().unwrap()
}

fn change(op: Op, before: Option<Row>, after: Option<Row>) -> Change {
    Change {
        op: op as i32,
        table: Some(TableRef { schema: "public".into(), name: "customers".into() }),
        key_columns: vec!["id".into()],
        before,
        after,
        ..Default::default()
    }
}

fn row(id: i64, country: &str) -> Row {
    Row::from_pairs([("id", Value::int64(id)), ("country", Value::text(country)), ("email", Value::text("a@b.de"))])
}

proptest! {
    #[test]
    fn rules_that_change_nothing_give_back_the_same_record(mut c in arb_change(), documents in any::<bool>()) {
        c.table = Some(TableRef { schema: "s".into(), name: "t".into() });
        c.documents = documents;
        let names: Vec<String> = c.after.iter().flat_map(|r| r.columns.iter().map(|c| c.name.clone())).collect();
        let mut r = rule("s.*");
        r.rename = Some("s.t".into());
        r.filter = Some("true".into());
        r.rename_columns = names.iter().map(|n| (n.clone(), n.clone())).collect();
        let mut other = rule("elsewhere.*");
        other.columns = ColumnSelection::Exclude(names.clone());
        let s = stage(vec![r, other]);
        prop_assert_eq!(s.validate(&c), Ok(()));
        // Compared as encoded bytes: NaN values are not equal to themselves.
        let out = s.transform(&c).map(|o| prost::Message::encode_to_vec(&o));
        prop_assert_eq!(out, Some(prost::Message::encode_to_vec(&c)));
    }
}

#[test]
fn the_filter_turns_updates_into_upserts_and_deletes() {
    let mut r = rule("customers");
    r.filter = Some("country = 'DE'".into());
    let s = stage(vec![r]);
    let op = |c: Option<Change>| c.map(|c| (c.op(), c.before.is_some(), c.after.is_some()));
    // Insert: in or out.
    assert_eq!(op(s.transform(&change(Op::Insert, None, Some(row(1, "DE"))))), Some((Op::Insert, false, true)));
    assert_eq!(op(s.transform(&change(Op::Insert, None, Some(row(1, "FR"))))), None);
    // Update out → in: an upsert without the old row.
    assert_eq!(op(s.transform(&change(Op::Update, Some(row(1, "FR")), Some(row(1, "DE"))))), Some((Op::Update, false, true)));
    // Update in → out: a delete of the old row.
    let d = s.transform(&change(Op::Update, Some(row(1, "DE")), Some(row(1, "FR")))).unwrap();
    assert_eq!((d.op(), d.after.is_none()), (Op::Delete, true));
    assert_eq!(d.before.unwrap().get("country"), Some(&Value::text("DE")));
    // Without an old image (default replica identity) and a new row out: delete by key.
    let d = s.transform(&change(Op::Update, None, Some(row(1, "FR")))).unwrap();
    assert_eq!(d.op(), Op::Delete);
    assert_eq!(d.key_values(), vec![&Value::int64(1)]);
    // Out → out: nothing. In → in: the update.
    assert_eq!(op(s.transform(&change(Op::Update, Some(row(1, "FR")), Some(row(1, "US"))))), None);
    assert_eq!(op(s.transform(&change(Op::Update, Some(row(1, "DE")), Some(row(1, "DE"))))), Some((Op::Update, true, true)));
    // Delete: forwarded unless the old row is known to be out.
    assert_eq!(op(s.transform(&change(Op::Delete, Some(row(1, "FR")), None))), None);
    assert_eq!(op(s.transform(&change(Op::Delete, Some(row(1, "DE")), None))), Some((Op::Delete, true, false)));
    let key_only = Row::from_pairs([("id", Value::int64(1))]);
    assert_eq!(op(s.transform(&change(Op::Delete, Some(key_only), None))), Some((Op::Delete, true, false)));
    // A key-changing update whose old row was out: an upsert of the new key only.
    let moved = s.transform(&change(Op::Update, Some(row(1, "FR")), Some(row(2, "DE")))).unwrap();
    assert!(moved.before.is_none() && !moved.changes_key());
    assert_eq!(s.stats.filtered(), 3, "the records kept away are counted for /metrics");
}

#[test]
fn the_filter_on_a_table_without_a_key_appends_a_row_moving_in() {
    let mut r = rule("customers");
    r.filter = Some("country = 'DE'".into());
    let s = stage(vec![r]);
    let keyless = |op, before, after| Change { key_columns: Vec::new(), ..change(op, before, after) };
    // Out → in: the target never had the old row; the new one is appended.
    let c = s.transform(&keyless(Op::Update, Some(row(1, "FR")), Some(row(1, "DE")))).unwrap();
    assert_eq!((c.op(), c.before.is_none(), c.key_columns.is_empty()), (Op::Insert, true, true));
    // In → out: one row equal to the old one is removed (the whole old row).
    let d = s.transform(&keyless(Op::Update, Some(row(1, "DE")), Some(row(1, "FR")))).unwrap();
    assert_eq!((d.op(), d.before.map(|r| r.columns.len())), (Op::Delete, Some(3)));
    // In → in: the update with both rows.
    let u = s.transform(&keyless(Op::Update, Some(row(1, "DE")), Some(row(2, "DE")))).unwrap();
    assert_eq!((u.op(), u.before.is_some(), u.after.is_some()), (Op::Update, true, true));
}

#[test]
fn masks_renames_and_the_schema_record() {
    let mut r = rule("public.customers");
    r.rename = Some("crm.clients".into());
    r.columns = ColumnSelection::Exclude(vec!["ssn".into()]);
    r.rename_columns = vec![("email".into(), "mail".into())];
    r.mask = vec![("email".into(), MaskKind::Hash), ("phone".into(), MaskKind::Redact), ("notes".into(), MaskKind::Null), ("id".into(), MaskKind::Hash)];
    let s = stage(vec![r]);
    let after = Row::from_pairs([
        ("id", Value::int64(7)),
        ("email", Value::text("a@b.de")),
        ("phone", Value::text("+49")),
        ("notes", Value::text("n")),
        ("ssn", Value::text("secret")),
        ("other", Value::null()),
    ]);
    let out = s.transform(&change(Op::Insert, None, Some(after))).unwrap();
    assert_eq!(out.table, Some(TableRef { schema: "crm".into(), name: "clients".into() }));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"key");
    let hex = |t: &str| rewrite::hex(ring::hmac::sign(&key, t.as_bytes()).as_ref());
    let a = out.after.as_ref().unwrap();
    let names: Vec<&str> = a.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "mail", "phone", "notes", "other"]);
    assert_eq!(a.get("id"), Some(&Value::text(hex("7"))), "a hashed key stays unique: the hash of its canonical text");
    assert_eq!(a.get("mail"), Some(&Value::text(hex("a@b.de"))));
    assert_eq!(a.get("phone"), Some(&Value::text("***")));
    assert_eq!(a.get("notes"), Some(&Value::null()));
    assert_eq!(out.key_columns, ["id"]);

    let col = |name: &str, logical: LogicalType, nullable: bool| ColumnSchema {
        name: name.into(),
        source_type: "x".into(),
        nullable,
        logical: Some(logical),
        type_dialect: "postgresql".into(),
    };
    let schema = TableSchema {
        table: Some(TableRef { schema: "public".into(), name: "customers".into() }),
        columns: vec![
            col("id", LogicalType::integer(4, false), false),
            col("email", LogicalType::text(0, false), true),
            col("phone", LogicalType::text(2, false), true),
            col("notes", LogicalType::text(0, false), false),
            col("ssn", LogicalType::text(0, false), true),
        ],
        key_columns: vec!["id".into()],
        documents: false,
    };
    let mut sc = change(Op::SchemaChange, None, None);
    sc.schema_change = Some(crate::record::SchemaChange { schema: Some(schema), ddl: String::new() });
    let out = s.transform(&sc).unwrap();
    assert_eq!(out.op(), Op::SchemaChange);
    let t = out.schema_change.unwrap().schema.unwrap();
    assert_eq!(t.table, Some(TableRef { schema: "crm".into(), name: "clients".into() }));
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "mail", "phone", "notes"]);
    assert_eq!(t.columns[0].logical.as_ref().map(|l| (l.kind(), l.width)), Some((crate::record::LogicalKind::LogicalText, 64)));
    assert_eq!(t.columns[2].logical.as_ref().map(|l| l.width), Some(3), "a redacted column holds ***");
    assert!(t.columns[3].nullable, "a nulled column accepts NULL");
    assert!(matches!(t.columns[1].logical.as_ref().map(|l| l.kind()), Some(crate::record::LogicalKind::LogicalText)));
}
