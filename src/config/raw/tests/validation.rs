//! Checks after parsing: ranges, required sections, names, duplicates,
//! URL schemes, and secrets kept out of messages.
use super::*;

#[test]
fn apply_ranges() {
    for (line, key, text) in [
        (
            "lanes = 0",
            "lanes",
            "found 0; expected 1 to 1024 (default 8)",
        ),
        (
            "lanes = 1025",
            "lanes",
            "found 1025; expected 1 to 1024 (default 8)",
        ),
        (
            "lanes = -1",
            "lanes",
            "found -1; expected 1 to 1024 (default 8)",
        ),
        (
            "batch_max_rows = 0",
            "batch_max_rows",
            "found 0; expected at least 1",
        ),
        (
            "batch_max_rows = 500\nqueue_max_records = 100",
            "queue_max_records",
            "found 100, less than batch_max_rows (500)",
        ),
        (
            "batch_max_rows = 200000",
            "queue_max_records",
            "found 100000, less than batch_max_rows (200000)",
        ),
        ("queue_max_records = -5", "queue_max_records", "found -5"),
    ] {
        let (k, message) = invalid(&with_apply(line));
        assert_eq!(k, format!("pipeline[shop].apply.{key}"), "{line}");
        assert!(message.contains(text), "{line}: {message}");
    }
    let e = error(&with_apply("lanes = 0"));
    assert_eq!(
        e,
        "config/shop.toml: `pipeline[shop].apply.lanes`: found 0; expected 1 to 1024 \
         (default 8)"
    );
    assert!(parse(&with_apply(
        "lanes = 1024\nbatch_max_rows = 1\nqueue_max_records = 1"
    ))
    .is_ok());
}

#[test]
fn pipelines_and_targets_are_required() {
    let (key, message) = invalid("state_dir = \"x\"\n");
    assert_eq!(key, "pipeline");
    assert!(message.contains("at least one [[pipeline]]"), "{message}");
    let (key, message) = invalid(SOURCE);
    assert_eq!(key, "pipeline[shop].target");
    assert!(message.contains("no target") && message.contains("[[pipeline.target]]"));
    let (key, message) = invalid(&format!("{SOURCE}[pipeline.target]\nkind = \"stdout\"\n"));
    assert_eq!(key, "pipeline[shop].target");
    assert!(message.contains("double brackets"), "{message}");
    let (key, message) = invalid(&format!("[[pipeline]]\nname = \"shop\"\n{STDOUT}"));
    assert_eq!(key, "pipeline[shop].source");
    assert!(message.contains("no source"), "{message}");
    let e = error("[[pipeline]]\n[pipeline.source]\nkind = \"generate\"\n");
    assert!(e.contains("missing field `name`"), "{e}");
}

#[test]
fn pipeline_names() {
    let two = format!("{SOURCE}{STDOUT}{SOURCE}{STDOUT}");
    let (key, message) = invalid(&two);
    assert_eq!(key, "pipeline[shop].name");
    assert!(message.contains("used by pipelines #1 and #2"), "{message}");
    let two = format!(
        "{SOURCE}{STDOUT}{}{STDOUT}",
        SOURCE.replace("\"shop\"", "\"shop-2\"")
    );
    assert_eq!(parse(&two).unwrap().pipelines.len(), 2);
    for bad in ["", "shop orders", "shop.x", "ä"] {
        let (key, message) = invalid(&format!(
            "{SOURCE}{STDOUT}",
            SOURCE = SOURCE.replace("\"shop\"", &format!("{bad:?}"))
        ));
        assert_eq!(key, "pipeline[0].name");
        assert!(
            message.contains("letters, digits, `_` and `-`"),
            "{message}"
        );
    }
}

#[test]
fn duplicate_file_target_path() {
    let (key, message) = invalid(&with_targets(
        "[[pipeline.target]]\nkind = \"file\"\npath = \"out/a.jsonl\"\n\
         [[pipeline.target]]\nkind = \"stdout\"\n\
         [[pipeline.target]]\nkind = \"file\"\npath = \"./out/a.jsonl\"\nformat = \"protobuf\"",
    ));
    assert_eq!(key, "pipeline[shop].target[2].path");
    assert!(
        message.contains("config/out/a.jsonl is also the path of target[0]"),
        "{message}"
    );
    // The same file in two pipelines is not this check's business.
    let text = format!(
        "{SOURCE}[[pipeline.target]]\nkind = \"file\"\npath = \"a\"\n{}\
         [[pipeline.target]]\nkind = \"file\"\npath = \"b\"\n",
        SOURCE.replace("\"shop\"", "\"other\"")
    );
    assert!(parse(&text).is_ok());
    let (key, _) = invalid(&with_targets(
        "[[pipeline.target]]\nkind = \"file\"\npath = \"\"",
    ));
    assert_eq!(key, "pipeline[shop].target[0].path");
    let e = error(&with_targets("[[pipeline.target]]\nkind = \"file\""));
    assert!(e.contains("missing field `path`"), "{e}");
}

#[test]
fn stdout_refuses_protobuf() {
    let (key, message) = invalid(&with_targets(
        "[[pipeline.target]]\nkind = \"stdout\"\nformat = \"protobuf\"",
    ));
    assert_eq!(key, "pipeline[shop].target[0].format");
    assert!(
        message.contains("binary on a terminal; use a file target"),
        "{message}"
    );
}

#[test]
fn admin_listen() {
    let cfg = parse(&format!(
        "[admin]\nlisten = \"[::1]:9187\"\n{SOURCE}{STDOUT}"
    ))
    .unwrap();
    assert_eq!(cfg.admin.unwrap().listen.port(), 9187);
    for bad in ["localhost", "127.0.0.1", "127.0.0.1:99999", ":9187", ""] {
        let (key, message) = invalid(&format!("[admin]\nlisten = {bad:?}\n{SOURCE}{STDOUT}"));
        assert_eq!(key, "admin.listen");
        assert!(message.contains("\"127.0.0.1:9187\""), "{message}");
    }
    let e = error(&format!("[admin]\n{SOURCE}{STDOUT}"));
    assert!(e.contains("missing field `listen`"), "{e}");
}

#[test]
fn admin_ready_max_lag() {
    let listen = "[admin]\nlisten = \"127.0.0.1:9187\"\n";
    let cfg = parse(&format!("{listen}{SOURCE}{STDOUT}")).unwrap();
    assert_eq!(cfg.admin.unwrap().ready_max_lag, None, "no lag bound by default");
    let cfg = parse(&format!("{listen}ready_max_lag = \"30s\"\n{SOURCE}{STDOUT}")).unwrap();
    assert_eq!(cfg.admin.unwrap().ready_max_lag, Some(std::time::Duration::from_secs(30)));
    for (bad, says) in [("30", "without a unit"), ("\"0s\"", "found 0"), ("\"soon\"", "\"soon\"")] {
        let (key, message) = invalid(&format!("{listen}ready_max_lag = {bad}\n{SOURCE}{STDOUT}"));
        assert_eq!(key, "admin.ready_max_lag");
        assert!(message.contains(says), "{bad}: {message}");
    }
}

#[test]
fn url_scheme_must_match_kind() {
    for (kind, url, expected) in [
        (
            "postgres",
            "mysql://u:${PGPASSWORD}@h/db",
            "postgres:// or postgresql://; found mysql://",
        ),
        (
            "mysql",
            "postgres://u:${PGPASSWORD}@h/db",
            "mysql:// or mariadb://; found postgres://",
        ),
        (
            "mongodb",
            "mongo://u:${PGPASSWORD}@h/db",
            "mongodb:// or mongodb+srv://; found mongo://",
        ),
        ("postgres", "u:${PGPASSWORD}@h/db", "is not a URL"),
        // Scrubbed even where it looks like a scheme.
        ("postgres", "${PGPASSWORD}://h/db", "found ***://"),
    ] {
        let (key, message) = invalid(&with_source(&format!(
            "kind = \"{kind}\"\nurl = \"{url}\"\ntables = [\"a\"]"
        )));
        assert_eq!(key, "pipeline[shop].source.url");
        assert!(message.contains(expected), "{message}");
    }
    for (kind, url) in [
        ("postgres", "postgresql://h/db"),
        ("mysql", "mysql://h/db"),
        ("mongodb", "mongodb://h1,h2/db?replicaSet=rs0"),
    ] {
        parse(&with_source(&format!(
            "kind = \"{kind}\"\nurl = \"{url}\"\ntables = [\"a\"]"
        )))
        .unwrap();
    }
    let (key, message) = invalid(&with_source("kind = \"mongodb\"\nurl = \"mongodb+srv://c.example.net/db\"\ntables = [\"a.b\"]"));
    assert_eq!(key, "pipeline[shop].source.url");
    assert!(message.contains("list the hosts instead"), "{message}");
    let e = error(&with_source("kind = \"postgres\"\ntables = [\"a\"]"));
    assert!(e.contains("missing field `url`"), "{e}");
}

#[test]
fn tables_must_not_be_empty() {
    let (key, message) = invalid(&with_source(
        "kind = \"postgres\"\nurl = \"postgres://h\"\ntables = []",
    ));
    assert_eq!(key, "pipeline[shop].source.tables");
    assert!(message.contains("the list is empty"), "{message}");
    let (key, _) = invalid(&with_source(
        "kind = \"mongodb\"\nurl = \"mongodb://h\"\ncollections = [\"a.b\", \"\"]",
    ));
    assert_eq!(key, "pipeline[shop].source.collections[1]");
    let e = error(&with_source("kind = \"mysql\"\nurl = \"mysql://h\""));
    assert!(e.contains("missing field `tables`"), "{e}");
}

#[test]
fn generate_ranges() {
    let g = |lines: &str| invalid(&with_source(&format!("kind = \"generate\"\n{lines}")));
    let (key, message) = g("update_pct = 70\ndelete_pct = 40");
    assert_eq!(key, "pipeline[shop].source.delete_pct");
    assert!(
        message.contains("70 + 40 = 110; expected at most 100"),
        "{message}"
    );
    let (key, message) = g("update_pct = 150\ndelete_pct = 0");
    assert_eq!(key, "pipeline[shop].source.update_pct");
    assert!(
        message.contains("found 150; expected a percentage from 0 to 100"),
        "{message}"
    );
    for key in ["tables", "keys", "tx_size", "total", "rate"] {
        assert_eq!(
            g(&format!("{key} = 0")).0,
            format!("pipeline[shop].source.{key}")
        );
    }
    assert!(parse(&with_source(
        "kind = \"generate\"\nupdate_pct = 100\ndelete_pct = 0"
    ))
    .is_ok());
}

#[test]
fn secrets_stay_out_of_debug_and_errors() {
    let cfg = parse(&format!("{SOURCE}{STDOUT}")).unwrap();
    let debug = format!("{cfg:?}");
    assert!(!debug.contains(PASSWORD), "{debug}");
    assert!(debug.contains("db.internal:5432"), "{debug}");
    assert!(
        debug.contains("postgres://logferry:***@db.internal:5432/shop"),
        "{debug}"
    );
    let pretty = format!("{cfg:#?}");
    assert!(!pretty.contains(PASSWORD), "{pretty}");

    // A value once substituted into a secret key is scrubbed from serde's
    // messages, wherever else it shows up.
    let e = error(&with_apply("ordering = \"${PGPASSWORD}\""));
    assert!(e.contains("unknown variant `***`"), "{e}");
    // Unknown secret-looking keys: named, never quoted.
    let e = error(&with_source(
        "kind = \"postgres\"\nurl = \"postgres://h\"\ntables = [\"a\"]\npassword = \"${PGPASSWORD}\"",
    ));
    assert!(e.contains("unknown field `password`"), "{e}");
}
