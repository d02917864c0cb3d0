//! Key paths (`pipeline[shop].apply.lanes`) over the TOML tree: how an
//! element of an array is labelled, and which key a file offset falls in.
use super::*;

/// The label of an array element in key paths: its `name` if it has one
/// (`pipeline[shop]`), else its index (`target[0]`).
pub(super) fn element_label(index: usize, value: &DeValue<'_>) -> String {
    match value
        .as_table()
        .and_then(|t| t.get("name"))
        .and_then(|n| n.get_ref().as_str())
    {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => index.to_string(),
    }
}

pub(super) fn join_key(prefix: &str, leaf: &str) -> String {
    if prefix.is_empty() {
        leaf.to_owned()
    } else {
        format!("{prefix}.{leaf}")
    }
}

/// The key path (`pipeline[shop].apply.lanez`) of the deepest key or value
/// that contains byte `offset` of the file.
pub(super) fn key_at(table: &DeTable<'_>, offset: usize, prefix: &str) -> Option<String> {
    for (key, value) in table.iter() {
        let path = join_key(prefix, key.get_ref());
        if key.span().contains(&offset) {
            return Some(path);
        }
        if let Some(deeper) = value_key_at(value, offset, &path) {
            return Some(deeper);
        }
    }
    None
}

fn value_key_at(value: &Spanned<DeValue<'_>>, offset: usize, path: &str) -> Option<String> {
    match value.get_ref() {
        DeValue::Table(table) => key_at(table, offset, path)
            .or_else(|| value.span().contains(&offset).then(|| path.to_owned())),
        DeValue::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| {
                let label = element_label(i, item.get_ref());
                value_key_at(item, offset, &format!("{path}[{label}]"))
            })
            .or_else(|| value.span().contains(&offset).then(|| path.to_owned())),
        _ => value.span().contains(&offset).then(|| path.to_owned()),
    }
}
