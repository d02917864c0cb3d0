//! `[[pipeline.table]]`, `mask_key` and targets' `tables`: the issue's
//! exact syntax parses into the rules, and mistakes name their key.
use super::*;

/// The configuration of the "validate and transform" issue, word for word.
const RULES: &str = r#"
[[pipeline]]
name = "shop"
mask_key = "${PGPASSWORD}"

[[pipeline.table]]
match = "public.customers"
rename = "crm.clients"
exclude_columns = ["ssn"]
rename_columns = { email = "email_address" }
mask = { phone = "redact", email = "hash", notes = "null" }
filter = "country = 'DE' and total >= 100 and status in ('paid', 'shipped')"
key = ["customer_no"]
on_invalid = "dead_letter"

[pipeline.table.validate]
email = { regex = '^[^@ ]+@[^@ ]+\.[a-z]{2,}$' }
total = { min = 0, max = 1000000 }
sku   = { not_null = true, max_length = 64 }
status = { one_of = ["new", "paid", "shipped"] }

[pipeline.source]
kind = "postgres"
url = "postgres://logferry:${PGPASSWORD}@db.internal:5432/shop"
tables = ["public.*"]

[[pipeline.target]]
kind = "postgres"
url = "postgres://x@h/crm"
tables = ["crm.*"]

[[pipeline.target]]
kind = "stdout"
"#;

#[test]
fn the_documented_rules_parse() {
    let cfg = parse(RULES).unwrap();
    let p = &cfg.pipelines[0];
    assert_eq!(p.transform.mask_key.as_ref().map(|k| k.expose()), Some(PASSWORD));
    assert_eq!(p.target_tables, vec![vec!["crm.*".to_string()], Vec::new()]);
    let r = &p.transform.tables[0];
    assert_eq!(r.key, "pipeline[shop].table[0]");
    assert_eq!(r.matches, "public.customers");
    assert_eq!(r.rename.as_deref(), Some("crm.clients"));
    assert_eq!(r.columns, ColumnSelection::Exclude(vec!["ssn".into()]));
    assert_eq!(r.rename_columns, vec![("email".to_string(), "email_address".to_string())]);
    assert!(r.mask.contains(&("email".to_string(), MaskKind::Hash)) && r.mask.contains(&("notes".to_string(), MaskKind::Null)));
    assert_eq!(r.row_key.as_deref(), Some(&["customer_no".to_string()][..]));
    assert_eq!(r.on_invalid, OnInvalid::DeadLetter);
    let checks = |c: &str| r.validate.iter().find(|(n, _)| n == c).map(|(_, k)| k.clone()).unwrap();
    assert_eq!(checks("total").min.as_deref(), Some("0"));
    assert_eq!(checks("total").max.as_deref(), Some("1000000"));
    assert!(checks("sku").not_null && checks("sku").max_length == Some(64));
    assert_eq!(checks("status").one_of, Some(vec!["new".into(), "paid".into(), "shipped".into()]));
    assert_eq!(checks("email").regex.as_deref(), Some(r"^[^@ ]+@[^@ ]+\.[a-z]{2,}$"));
    // The source learns the row key of the keyless table.
    let db = p.source.database().unwrap();
    assert_eq!(db.row_keys, vec![("public.customers".to_string(), vec!["customer_no".to_string()])]);
    // The mask key is a secret.
    assert!(!format!("{p:?}").contains(PASSWORD));
}

#[test]
fn rule_mistakes_name_their_key() {
    let cases: [(&str, &str, &str); 7] = [
        ("mask_key = \"${PGPASSWORD}\"\n", "", "pipeline[shop].mask_key"),
        ("exclude_columns = [\"ssn\"]\n", "exclude_columns = [\"ssn\"]\ninclude_columns = [\"id\"]\n", "pipeline[shop].table[0]"),
        ("rename = \"crm.clients\"", "rename = \"a.b.c\"", "pipeline[shop].table[0].rename"),
        ("key = [\"customer_no\"]", "key = []", "pipeline[shop].table[0].key"),
        ("total = { min = 0, max = 1000000 }", "total = { min = \"zero\" }", "pipeline[shop].table[0].validate.total.min"),
        ("tables = [\"crm.*\"]", "tables = []", "pipeline[shop].target[0].tables"),
        ("sku   = { not_null = true, max_length = 64 }", "sku = { }", "pipeline[shop].table[0].validate.sku"),
    ];
    for (from, to, key) in cases {
        assert!(RULES.contains(from), "{from}");
        let (k, message) = invalid(&RULES.replacen(from, to, 1));
        assert_eq!(k, key, "{message}");
    }
    let e = error(&RULES.replace("on_invalid = \"dead_letter\"", "on_invalid = \"ignore\""));
    assert!(e.contains("on_invalid") && e.contains("dead_letter"), "{e}");
    let e = error(&RULES.replace("phone = \"redact\"", "phone = \"scramble\""));
    assert!(e.contains("mask") && e.contains("redact"), "{e}");
}
