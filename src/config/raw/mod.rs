//! Raw config shapes (serde, `deny_unknown_fields`) and their validation
//! into the types of the parent module.
//!
//! Parsing runs in four steps, so that every message can name the key:
//!
//! 1. the text is parsed into a TOML tree that remembers where each key and
//!    value sits in the file (syntax errors stop here, with line and column);
//! 2. `${NAME}` references in every string of the tree are replaced, while
//!    walking it with the key path in hand (`pipeline[shop].source.url`), so
//!    a missing variable names the key and the variable;
//! 3. the tree is deserialized into the `Raw*` structs of the submodules; unknown keys
//!    and wrong types are reported with the file position (the positions
//!    still point into the original text) and the key path;
//! 4. the raw structs are checked and turned into the validated types:
//!    ranges, durations, sizes, URL schemes, duplicates, relative paths.
//!
//! Values substituted into secret-bearing keys (`url`, and any key named
//! `password`, `token` or `secret`) never appear in a message: our own
//! messages do not quote those keys' values, and as a safety net every
//! message (ours and serde's) is scrubbed of the substituted values.
use super::*;

mod apply;
mod brokers;
mod interpolate;
mod key_path;
mod pipeline;
mod quantity;
mod rules;
mod sources;
mod targets;
#[cfg(test)]
mod tests;

use apply::RawApply;
use interpolate::interpolate_table;
use key_path::{element_label, join_key, key_at};
use pipeline::RawConfig;
use quantity::{parse_duration, parse_size, Quantity, DURATION_FORM, SIZE_FORM};
use sources::RawSource;
use targets::{RawTarget, RawTargets};

use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

pub(super) fn parse(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut root = DeTable::parse(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_owned(),
    })?;

    let mut secrets = Vec::new();
    interpolate_table(root.get_mut(), "", env, &mut secrets).map_err(|(key, message)| {
        ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        }
    })?;

    // Deserializing consumes the tree; a copy finds the key an error points at.
    let tree = root.get_ref().clone();
    let serde_error = |mut e: toml::de::Error| {
        e.set_input(Some(text));
        // The Display is "position and snippet\n{message}\n"; only the
        // message is reworded and scrubbed.
        let display = e.to_string();
        let snippet = display.trim_end().strip_suffix(e.message()).unwrap_or("");
        let mut message = format!("{snippet}{}", plain_types(e.message()));
        for secret in &secrets {
            message = message.replace(secret.as_str(), "***");
        }
        if let Some(key) = e.span().and_then(|span| key_at(&tree, span.start, "")) {
            message = format!("`{key}`: {message}");
        }
        ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        }
    };

    // Sources and targets have one struct per `kind`. Each is deserialized
    // on its own, from its own subtree, so that its errors keep their file
    // positions and list only that kind's keys (serde's internally tagged
    // enums buffer the table and lose both).
    let parts = take_sources_and_targets(root.get_mut());
    let mut raw =
        RawConfig::deserialize(toml::de::Deserializer::from(root)).map_err(serde_error)?;
    for (pipeline, (source, target)) in raw.pipeline.iter_mut().zip(parts) {
        pipeline.source = source
            .map(RawSource::from_value)
            .transpose()
            .map_err(serde_error)?;
        pipeline.target = match target {
            None => RawTargets::List(Vec::new()),
            Some(value) => match value.into_inner() {
                DeValue::Array(items) => RawTargets::List(
                    items
                        .iter()
                        .cloned()
                        .map(RawTarget::from_value)
                        .collect::<Result<_, _>>()
                        .map_err(serde_error)?,
                ),
                other => RawTargets::NotAList(other.type_str()),
            },
        };
    }

    let base = path.parent().unwrap_or(Path::new(""));
    raw.validate(path, base)
        .map_err(|Invalid { key, mut message }| {
            for secret in &secrets {
                message = message.replace(secret.as_str(), "***");
            }
            ConfigError::Invalid {
                path: path.to_path_buf(),
                key,
                message,
            }
        })
}

/// Serde names Rust types in messages ("expected u32"); say it in TOML's words.
fn plain_types(message: &str) -> String {
    let mut message = message.to_owned();
    for (rust, plain) in [
        ("expected i64", "expected an integer"),
        ("expected u64", "expected a non-negative integer"),
        ("expected usize", "expected a non-negative integer"),
        ("expected u32", "expected a non-negative integer below 2^32"),
        ("expected u8", "expected an integer from 0 to 255"),
    ] {
        if let Some(rest) = message.strip_suffix(rust) {
            message = format!("{rest}{plain}");
        }
    }
    message
}

/// Source and target subtree of each `[[pipeline]]`, taken out of the tree.
type Parts<'i> = Vec<(Option<Spanned<DeValue<'i>>>, Option<Spanned<DeValue<'i>>>)>;

fn take_sources_and_targets<'i>(root: &mut DeTable<'i>) -> Parts<'i> {
    let Some(DeValue::Array(pipelines)) = root.get_mut("pipeline").map(Spanned::get_mut) else {
        return Vec::new();
    };
    pipelines
        .iter_mut()
        .map(|p| match p.get_mut() {
            DeValue::Table(t) => (t.remove("source"), t.remove("target")),
            _ => (None, None),
        })
        .collect()
}

fn from_value<T: serde::de::DeserializeOwned>(
    value: Spanned<DeValue<'_>>,
) -> Result<T, toml::de::Error> {
    T::deserialize(toml::de::ValueDeserializer::from(value))
}

/// A validation failure before the file path is attached.
#[derive(Debug)]
struct Invalid {
    key: String,
    message: String,
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// `base` joined with `p` unless `p` is absolute, without `.` components.
fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    joined
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Checks that `url` starts with one of `schemes` (without `://`).
/// `mongodb+srv://` needs DNS SRV lookups, which this build leaves out
/// (the driver's resolver would double the dependency tree).
fn no_srv(key: &str, url: &SecretUrl) -> Result<SecretUrl, Invalid> {
    if url.scheme() == Some("mongodb+srv") {
        return Err(invalid(
            format!("{key}.url"),
            "mongodb+srv:// needs DNS SRV lookups, which this build of logferry leaves out; list the hosts \
             instead: mongodb://user:pass@host1:27017,host2:27017/?replicaSet=<name>&tls=true",
        ));
    }
    Ok(url.clone())
}

fn check_url(key: &str, kind: &str, url: &str, schemes: &[&str]) -> Result<SecretUrl, Invalid> {
    let url = SecretUrl::new(url);
    let expected = schemes
        .iter()
        .map(|s| format!("{s}://"))
        .collect::<Vec<_>>()
        .join(" or ");
    match url.scheme() {
        Some(found) if schemes.contains(&found) => Ok(url),
        // Only the scheme is quoted: the rest may hold a password.
        Some(found) => Err(invalid(
            key,
            format!("a {kind} source needs a URL starting with {expected}; found {found}://"),
        )),
        None => Err(invalid(
            key,
            format!(
                "is not a URL (no `scheme://` at the start); a {kind} source needs a URL \
                 starting with {expected}"
            ),
        )),
    }
}
