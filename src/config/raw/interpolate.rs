//! `${NAME}` interpolation over the TOML tree, remembering the values
//! substituted into secret-bearing keys so that messages can scrub them.
use super::*;
use std::borrow::Cow;

/// Keys whose values are secrets (besides any `url`, whose password is;
/// `mask_key` keys the HMAC of `mask = "hash"`), and every value under an
/// HTTP target's `headers` or a broker client's `options` (tokens, SASL
/// passwords).
fn is_secret_key(leaf: &str, path: &str) -> bool {
    matches!(leaf, "url" | "password" | "token" | "secret" | "mask_key")
        || path.contains(".headers.")
        || path.contains(".options.")
}

pub(super) fn interpolate_table(
    table: &mut DeTable<'_>,
    prefix: &str,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
) -> Result<(), (String, String)> {
    // `name` first, so the elements' key paths use the substituted name.
    if let Some(name) = table.get_mut("name") {
        interpolate_value(
            name.get_mut(),
            &join_key(prefix, "name"),
            "name",
            env,
            secrets,
        )?;
    }
    for (key, value) in table.iter_mut() {
        if key.get_ref() != "name" {
            let path = join_key(prefix, key.get_ref());
            interpolate_value(value.get_mut(), &path, key.get_ref(), env, secrets)?;
        }
    }
    Ok(())
}

fn interpolate_value(
    value: &mut DeValue<'_>,
    path: &str,
    leaf: &str,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
) -> Result<(), (String, String)> {
    match value {
        DeValue::String(s) => {
            let secret = is_secret_key(leaf, path);
            let replaced = interpolate(s, env, |v| {
                if secret && !v.is_empty() {
                    secrets.push(v.to_owned());
                }
            })
            .map_err(|message| (path.to_owned(), message))?;
            if let Some(replaced) = replaced {
                *s = Cow::Owned(replaced);
            }
        }
        DeValue::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                let label = element_label(index, item.get_ref());
                // Elements inherit the leaf name: `tokens = ["${T}"]` is secret too.
                interpolate_value(
                    item.get_mut(),
                    &format!("{path}[{label}]"),
                    leaf,
                    env,
                    secrets,
                )?;
            }
        }
        DeValue::Table(table) => interpolate_table(table, path, env, secrets)?,
        DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) | DeValue::Datetime(_) => {}
    }
    Ok(())
}

/// Replaces `${NAME}` by `env(NAME)` and `$${` by `${`; `None` when the
/// string has nothing to replace. `substituted` sees each substituted value.
/// Messages never include the string itself or a substituted value.
fn interpolate(
    s: &str,
    env: &dyn Fn(&str) -> Option<String>,
    mut substituted: impl FnMut(&str),
) -> Result<Option<String>, String> {
    if !s.contains('$') {
        return Ok(None);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(close) = tail.find('}') else {
                return Err("unterminated `${`: a reference is written `${NAME}`; \
                     write `$${` for a literal `${`"
                    .to_owned());
            };
            let name = &tail[..close];
            let well_formed = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !well_formed {
                return Err(format!(
                    "`${{{name}}}` is not a valid reference: the name must be letters, digits \
                     and `_`, not starting with a digit; write `$${{` for a literal `${{`"
                ));
            }
            let Some(value) = env(name) else {
                return Err(format!(
                    "environment variable {name} is not set (referenced as ${{{name}}}); \
                     export it or put the value in the file"
                ));
            };
            substituted(&value);
            out.push_str(&value);
            rest = &tail[close + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(Some(out))
}
