//! Row keys of tables without a primary key: a `[[pipeline.table]]` rule
//! with `key = [...]` names the columns that identify a row, and the
//! database sources use them as the records' key columns
//! ([`DatabaseSourceConfig::row_keys`](crate::config::DatabaseSourceConfig)).
//! Only tables without a key of their own take one; a table with a primary
//! key (or replica identity index) keeps it.

/// The key columns of the first rule whose `match` selects the table;
/// `selects(match)` applies the source's own selector rules.
pub fn rule_for(row_keys: &[(String, Vec<String>)], selects: impl Fn(&str) -> bool) -> Option<&[String]> {
    row_keys.iter().find(|(m, _)| selects(m)).map(|(_, k)| k.as_slice())
}

/// A problem naming the key columns `table` does not have, or `None`.
pub fn missing_columns(table: &str, key: &[String], columns: &[String]) -> Option<String> {
    let missing: Vec<String> = key.iter().filter(|k| !columns.contains(k)).map(|k| format!("`{k}`")).collect();
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "the [[pipeline.table]] rule for {table} names key column(s) {} that the table does not have \
         (its columns: {}); fix `key` in that rule",
        missing.join(", "),
        columns.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
    ))
}

/// The way out for a keyless table, appended to the refusal: name its
/// row key in a rule (`example`: a table to show in the rule).
pub fn keyless_hint(example: &str, replica_identity_full: bool) -> String {
    format!(
        "or name the columns that identify a row in a [[pipeline.table]] rule: match = \"{example}\" key = [\"…\"]{}",
        if replica_identity_full { " (with ALTER TABLE … REPLICA IDENTITY FULL)" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_wins_and_missing_columns_are_named() {
        let rules = vec![("a.x".to_string(), vec!["k".to_string()]), ("a.*".to_string(), vec!["j".to_string()])];
        assert_eq!(rule_for(&rules, |m| m == "a.x" || m == "a.*"), Some(&["k".to_string()][..]));
        assert_eq!(rule_for(&rules, |m| m == "a.*"), Some(&["j".to_string()][..]));
        assert_eq!(rule_for(&rules, |_| false), None);
        let cols = ["k".to_string(), "v".to_string()];
        assert_eq!(missing_columns("a.x", &["k".into()], &cols), None);
        let p = missing_columns("a.x", &["k".into(), "nope".into()], &cols).unwrap_or_default();
        assert!(p.contains("`nope`") && p.contains("`k`, `v`") && !p.contains("`k`, `nope`"), "{p}");
    }
}
