//! Unit tests of config parsing: shared fixtures here, the tests by topic
//! in the sibling files.
use super::*;

mod brokers;
mod messages;
mod quantities;
mod reading;
mod rules;
mod validation;

const PATH: &str = "config/shop.toml";
const PASSWORD: &str = "hunter2-very-secret";

fn env(name: &str) -> Option<String> {
    match name {
        "PGPASSWORD" => Some(PASSWORD.to_owned()),
        "SHOP" => Some("shop".to_owned()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new(PATH), &env)
}

fn error(text: &str) -> String {
    match parse(text) {
        Ok(cfg) => panic!("expected an error, got {cfg:#?}"),
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("config/shop.toml: "), "{message}");
            assert!(!message.contains(PASSWORD), "{message}");
            message
        }
    }
}

/// The key of an `Invalid` error, and its message.
fn invalid(text: &str) -> (String, String) {
    match parse(text) {
        Err(ConfigError::Invalid { key, message, .. }) => {
            assert!(!message.contains(PASSWORD), "{message}");
            (key, message)
        }
        other => panic!("expected ConfigError::Invalid, got {other:?}"),
    }
}

const SOURCE: &str = r#"
[[pipeline]]
name = "shop"
[pipeline.source]
kind = "postgres"
url = "postgres://logferry:${PGPASSWORD}@db.internal:5432/shop"
tables = ["public.*"]
"#;

const STDOUT: &str = "[[pipeline.target]]\nkind = \"stdout\"\n";

/// A valid pipeline `shop` with `apply` lines added.
fn with_apply(apply: &str) -> String {
    format!("{SOURCE}{STDOUT}[pipeline.apply]\n{apply}\n")
}

/// A valid pipeline `shop` with `source` lines replaced.
fn with_source(source: &str) -> String {
    format!("[[pipeline]]\nname = \"shop\"\n[pipeline.source]\n{source}\n{STDOUT}")
}

/// A valid pipeline `shop` with `targets` instead of stdout.
fn with_targets(targets: &str) -> String {
    format!("{SOURCE}{targets}\n")
}
