//! Unit tests of the bench's helpers.

use super::*;

#[derive(clap::Parser)]
struct Cmd {
    #[command(flatten)]
    args: BenchArgs,
}

#[test]
fn batch_wait_queue_bytes_and_early_apply_reach_the_pipeline_config() {
    use clap::Parser;
    let parse = |extra: &[&str]| {
        let args = Cmd::parse_from(["bench", "--pg-url", "postgres://u@h/db"].iter().chain(extra)).args;
        let text = pipeline_config_with(&args, Path::new("/tmp/x"), "postgres://u@h/s", "postgres://u@h/d", 2, 10);
        Config::parse(&text, Path::new("/tmp/x/bench.toml"), &|_| None).unwrap().pipelines[0].apply.clone()
    };
    let set = parse(&["--batch-wait", "5ms", "--queue-bytes", "8MiB", "--early-apply", "false"]);
    assert_eq!((set.batch_max_wait, set.queue_max_bytes, set.early_apply), (Duration::from_millis(5), 8 << 20, false));
    let default = parse(&[]);
    let defaults = crate::config::ApplyConfig::default();
    assert_eq!(
        (default.batch_max_wait, default.queue_max_bytes, default.early_apply),
        (defaults.batch_max_wait, defaults.queue_max_bytes, defaults.early_apply)
    );
}

#[test]
fn urls_and_conninfo() {
    assert_eq!(with_db("postgres://u:p@127.0.0.1:5432/postgres", "x"), "postgres://u:p@127.0.0.1:5432/x");
    assert_eq!(with_db("postgres://u@h:1/postgres?sslmode=disable", "x"), "postgres://u@h:1/x?sslmode=disable");
    assert_eq!(with_db("postgres://u@h:1", "x"), "postgres://u@h:1/x");
    assert_eq!(conninfo("postgres://u:pw@127.0.0.1:5432/db"), "host=127.0.0.1 port=5432 dbname=db user=u password=pw");
    assert_eq!(
        conninfo_without_password("postgres://u:pw@127.0.0.1:5432/db"),
        ("host=127.0.0.1 port=5432 dbname=db user=u".to_string(), Some("pw".to_string()))
    );
    assert_eq!(conninfo_without_password("postgres://u@h:1/db").1, None);
}

#[test]
fn tables_indexes_and_inserts() {
    assert_eq!(table_names(1), ["items"]);
    assert_eq!(table_names(3), ["items_1", "items_2", "items_3"]);
    let ddl = table_ddl("items_2", 5);
    assert!(ddl.starts_with("CREATE TABLE items_2 (id bigint PRIMARY KEY"), "{ddl}");
    for (i, col) in ["qty", "price", "updated_at", "note", "qty"].iter().enumerate() {
        assert!(ddl.contains(&format!("CREATE INDEX items_2_ix{i} ON items_2 ({col})")), "{ddl}");
    }
    let one = insert_sql(&table_names(1), 1, 10, 20);
    assert!(one.starts_with("INSERT INTO items SELECT") && one.ends_with("generate_series(1, 10) g"), "{one}");
    let three = insert_sql(&table_names(3), 11, 20, 20);
    assert!(three.starts_with("BEGIN; INSERT INTO items_1 ") && three.ends_with("; COMMIT"), "{three}");
    assert!(three.contains("items_3 SELECT") && three.contains("WHERE (g - 1) % 3 = 2"), "{three}");
}

#[test]
fn a_nats_target_reaches_the_pipeline_config() {
    use clap::Parser;
    let args = Cmd::parse_from(["bench", "--pg-url", "postgres://u@h/db", "--target", "nats", "--nats-url", "nats://127.0.0.1:14222"]).args;
    let text = pipeline_config_with(&args, Path::new("/tmp/x"), "postgres://u@h/s", "postgres://u@h/d", 2, 10);
    let cfg = Config::parse(&text, Path::new("/tmp/x/bench.toml"), &|_| None).unwrap();
    match &cfg.pipelines[0].targets[0] {
        crate::config::TargetConfig::Nats(n) => {
            assert_eq!((n.url.expose(), n.stream.as_str()), ("nats://127.0.0.1:14222", "LFBENCH"));
            assert_eq!(n.format, crate::config::RecordFormat::Protobuf);
        }
        other => panic!("not a nats target: {other:?}"),
    }
}
