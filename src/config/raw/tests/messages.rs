//! What parse errors say: unknown keys and values, wrong types, syntax
//! errors, and `${NAME}` interpolation and its errors.
use super::*;

#[test]
fn unknown_key_names_it_and_the_allowed_ones() {
    let e = error(&with_apply("lanez = 8"));
    assert!(e.contains("`pipeline[shop].apply.lanez`"), "{e}");
    assert!(e.contains("unknown field `lanez`"), "{e}");
    assert!(e.contains("`lanes`"), "{e}");
    assert!(e.contains("line "), "{e}");

    let e = error(&format!("stat_dir = \"x\"\n{SOURCE}{STDOUT}"));
    assert!(e.contains("`stat_dir`") && e.contains("`state_dir`"), "{e}");

    // Each kind lists its own keys.
    let e = error(&with_source("kind = \"generate\"\nurl = \"postgres://h\""));
    assert!(e.contains("`pipeline[shop].source.url`"), "{e}");
    assert!(
        e.contains("unknown field `url`") && e.contains("`tx_size`"),
        "{e}"
    );
    let e = error(&with_source("kind = \"generate\"\nsnapshot = \"never\""));
    assert!(e.contains("unknown field `snapshot`"), "{e}");
    let e = error(&with_source(
        "kind = \"postgres\"\nurl = \"postgres://h\"\ntables = [\"a\"]\ntotal = 5",
    ));
    assert!(
        e.contains("unknown field `total`") && e.contains("`tables`"),
        "{e}"
    );
    let e = error(&with_targets(
        "[[pipeline.target]]\nkind = \"stdout\"\npath = \"x\"",
    ));
    assert!(e.contains("`pipeline[shop].target[0].path`"), "{e}");
    assert!(
        e.contains("unknown field `path`, expected one of `kind`, `tables`, `format`"),
        "{e}"
    );
}

#[test]
fn wrong_types_name_the_key_and_what_is_expected() {
    let e = error(&with_source("kind = \"generate\"\ntables = [\"public.*\"]"));
    assert!(e.contains("`pipeline[shop].source.tables`"), "{e}");
    assert!(e.contains("expected a non-negative integer"), "{e}");
    let e = error(&with_apply("lanes = \"8\""));
    assert!(e.contains("`pipeline[shop].apply.lanes`"), "{e}");
    assert!(
        e.contains("invalid type: string \"8\", expected an integer"),
        "{e}"
    );
    let e = error(&with_source("kind = \"generate\"\nupdate_pct = 300"));
    assert!(e.contains("`pipeline[shop].source.update_pct`"), "{e}");
    let e = error("state_dir = 3\n");
    assert!(
        e.contains("`state_dir`") && e.contains("expected a string"),
        "{e}"
    );
}

#[test]
fn syntax_error_has_line_and_column() {
    let e = error("state_dir = \"x\n");
    assert!(e.contains("line 1, column"), "{e}");
}

#[test]
fn unknown_enum_values_name_the_allowed_ones() {
    let e = error(&with_source("kind = \"oracle\""));
    assert!(e.contains("`pipeline[shop].source.kind`"), "{e}");
    assert!(
        e.contains("`postgres`, `mysql`, `mongodb`, `generate`"),
        "{e}"
    );
    let e = error(&with_source("url = \"postgres://h\""));
    assert!(e.contains("missing field `kind`"), "{e}");
    let e = error(&format!("{SOURCE}[[pipeline.target]]\nkind = \"rabbitmq\""));
    assert!(e.contains("`pipeline[shop].target[0].kind`"), "{e}");
    assert!(e.contains("expected one of `file`, `stdout`, `discard`, `postgres`, `mysql`, `mongodb`, `kafka`, `nats`, `http`"), "{e}");
    let e = error(&with_source(
        "kind = \"postgres\"\nurl = \"postgres://h\"\ntables = [\"a\"]\nsnapshot = \"always\"",
    ));
    assert!(e.contains("`pipeline[shop].source.snapshot`"), "{e}");
    assert!(e.contains("expected `initial` or `never`"), "{e}");
    let e = error(&with_apply("ordering = \"row\""));
    assert!(e.contains("`pipeline[shop].apply.ordering`"), "{e}");
    assert!(e.contains("expected `key` or `transaction`"), "{e}");
    let e = error(&with_targets(
        "[[pipeline.target]]\nkind = \"stdout\"\nformat = \"xml\"",
    ));
    assert!(e.contains("`pipeline[shop].target[0].format`"), "{e}");
    assert!(e.contains("expected `json` or `protobuf`"), "{e}");
}

#[test]
fn missing_env_var_names_key_and_variable() {
    let text = SOURCE.replace("${PGPASSWORD}", "${PGPASSWORD_SHOP}");
    let e = error(&format!("{text}{STDOUT}"));
    assert_eq!(
        e,
        "config/shop.toml: `pipeline[shop].source.url`: environment variable \
         PGPASSWORD_SHOP is not set (referenced as ${PGPASSWORD_SHOP}); export it or put \
         the value in the file"
    );
    let (key, message) = invalid(
        &format!("{SOURCE}{STDOUT}[pipeline.apply]\nlanes = 1\n").replace(
            "tables = [\"public.*\"]",
            "tables = [\"public.a\", \"${TABLE}\"]",
        ),
    );
    assert_eq!(key, "pipeline[shop].source.tables[1]");
    assert!(message.contains("TABLE is not set"), "{message}");
    let (key, _) = invalid(&format!(
        "[admin]\nlisten = \"${{LISTEN}}\"\n{SOURCE}{STDOUT}"
    ));
    assert_eq!(key, "admin.listen");
}

#[test]
fn interpolation() {
    let text = format!(
        "state_dir = \"/x/$${{HOME}}/$$/a$b/${{EMPTY}}/${{SHOP}}\"\n{}{STDOUT}",
        SOURCE.replace("name = \"shop\"", "name = \"${SHOP}\"")
    );
    let cfg = parse(&text).unwrap();
    assert_eq!(cfg.state_dir, Path::new("/x/${HOME}/$$/a$b//shop"));
    assert_eq!(cfg.pipelines[0].name, "shop");
    // Keys use the substituted name.
    let text = with_apply("lanes = 0").replace("name = \"shop\"", "name = \"${SHOP}\"");
    assert_eq!(invalid(&text).0, "pipeline[shop].apply.lanes");
    // A substituted value is not scanned again.
    let cfg = Config::parse(
        &format!("state_dir = \"/${{A}}\"\n{SOURCE}{STDOUT}"),
        Path::new(PATH),
        &|n| match n {
            "A" => Some("${B}".to_owned()),
            "PGPASSWORD" => Some("pw".to_owned()),
            _ => None,
        },
    )
    .unwrap();
    assert_eq!(cfg.state_dir, Path::new("/${B}"));
}

#[test]
fn bad_references() {
    let (key, message) = invalid(&format!("state_dir = \"/a/${{HOME\"\n{SOURCE}{STDOUT}"));
    assert_eq!(key, "state_dir");
    assert!(
        message.contains("unterminated `${`") && message.contains("$${"),
        "{message}"
    );
    let (_, message) = invalid(&format!("state_dir = \"${{}}\"\n{SOURCE}{STDOUT}"));
    assert!(message.contains("not a valid reference"), "{message}");
    let (_, message) = invalid(&format!("state_dir = \"${{A-B}}\"\n{SOURCE}{STDOUT}"));
    assert!(message.contains("not a valid reference"), "{message}");
}
