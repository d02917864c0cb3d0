//! Valid files, and what is read from them: the example and demo files,
//! defaults, every option, source and target kinds, relative paths.
use super::*;

#[test]
fn example_file_parses_with_every_option() {
    let text = include_str!("../../../../config/example.toml");
    let cfg = Config::parse(text, Path::new("config/example.toml"), &env).unwrap();
    assert_eq!(cfg.path, Path::new("config/example.toml"));
    assert_eq!(cfg.state_dir, Path::new("config/.logferry"));
    assert_eq!(
        cfg.admin.as_ref().unwrap().listen,
        "127.0.0.1:9187".parse().unwrap()
    );
    assert_eq!(cfg.pipelines.len(), 1);
    let p = cfg.pipeline("shop").unwrap();
    let SourceConfig::Postgres(source) = &p.source else {
        panic!("{:?}", p.source)
    };
    assert_eq!(
        source.db.url.expose(),
        format!("postgres://logferry:{PASSWORD}@127.0.0.1:5432/shop")
    );
    assert_eq!(
        source.db.url.to_string(),
        "postgres://logferry:***@127.0.0.1:5432/shop"
    );
    assert_eq!(source.db.tables, ["public.*"]);
    assert_eq!(source.db.snapshot, SnapshotMode::Initial);
    assert_eq!((source.slot.as_str(), source.publication.as_str()), ("logferry_shop", "logferry_shop"));
    assert_eq!(source.heartbeat_interval, Duration::from_secs(10));
    assert_eq!((source.snapshot_chunk_rows, source.snapshot_parallel), (10_000, 2));
    assert_eq!(p.targets.len(), 3);
    let TargetConfig::File(file) = &p.targets[0] else {
        panic!("{:?}", p.targets)
    };
    assert_eq!(file.path, Path::new("config/out/shop.jsonl"));
    assert_eq!(file.format, RecordFormat::Json);
    let TargetConfig::Stdout(stdout) = &p.targets[1] else {
        panic!("{:?}", p.targets)
    };
    assert_eq!(stdout.format, RecordFormat::Json);
    let TargetConfig::Postgres(pg) = &p.targets[2] else {
        panic!("{:?}", p.targets)
    };
    assert_eq!(pg.url.to_string(), "postgres://logferry:***@127.0.0.1:5432/shop_replica");
    assert!(pg.create_tables && pg.schema.is_none());
    // The file shows the defaults.
    assert_eq!(
        format!("{:?}", p.apply),
        format!("{:?}", ApplyConfig::default())
    );
}

#[test]
fn example_files_commented_sources_parse() {
    let text = include_str!("../../../../config/example.toml");
    // Every commented-out `# [pipeline.source]` block is a valid source.
    let lines: Vec<&str> = text.lines().collect();
    let blocks: Vec<String> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| **l == "# [pipeline.source]")
        .map(|(i, _)| {
            lines[i..]
                .iter()
                .take_while(|l| l.starts_with('#'))
                .map(|l| format!("{}\n", l.trim_start_matches('#')))
                .collect()
        })
        .collect();
    assert_eq!(blocks.len(), 4, "the mysql, mongodb, kafka and generate examples");
    let env = |_: &str| Some("pw".to_string());
    let parse_block = |block: &str| {
        let text = format!("[[pipeline]]\nname = \"p\"\n{block}{STDOUT}");
        Config::parse(&text, Path::new("config/example.toml"), &env).unwrap()
    };
    let mysql = parse_block(&blocks[0]);
    let SourceConfig::Mysql(m) = &mysql.pipelines[0].source else { panic!() };
    assert_eq!((m.server_id, m.snapshot_chunk_rows, m.flavor), (4_000_000_001, 10_000, MysqlFlavor::Auto));
    let mongo = parse_block(&blocks[1]);
    let SourceConfig::Mongodb(m) = &mongo.pipelines[0].source else { panic!() };
    assert_eq!(m.db.tables, ["shop.orders", "shop.*"]);
    assert_eq!((m.full_document, m.on_invalidate), (FullDocument::UpdateLookup, OnInvalidate::Stop));
    assert_eq!((m.snapshot_chunk_docs, m.max_await), (10_000, Duration::from_secs(1)));
    let kafka = parse_block(&blocks[2]);
    let SourceConfig::Kafka(k) = &kafka.pipelines[0].source else { panic!() };
    assert_eq!((k.brokers.as_str(), k.topics.as_slice(), k.group.as_str()), ("127.0.0.1:9092", &["shop.public.*".to_string()][..], "shop-apply"));
    assert_eq!(k.options.len(), 1);
    let cfg = parse_block(&blocks[3]);
    let SourceConfig::Generate(g) = &cfg.pipelines[0].source else {
        panic!()
    };
    assert_eq!(g.total, Some(100_000));
    assert_eq!(g.rate, Some(5000));
    assert_eq!(
        (g.tables, g.keys, g.tx_size, g.row_bytes),
        (4, 10_000, 10, 64)
    );
    assert_eq!((g.update_pct, g.delete_pct, g.seed), (30, 10, 1));
    // And every commented-out target block is a valid target.
    let targets: Vec<String> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| **l == "# [[pipeline.target]]")
        .map(|(i, _)| lines[i..].iter().take_while(|l| l.starts_with('#')).map(|l| format!("{}\n", l.trim_start_matches('#'))).collect())
        .collect();
    assert_eq!(targets.len(), 6, "the discard, mysql, mongodb, http, nats and kafka target examples");
    let kinds: Vec<&str> = targets
        .iter()
        .map(|block| {
            let text = format!("[[pipeline]]\nname = \"p\"\n{}{block}", blocks[3]);
            let cfg = Config::parse(&text, Path::new("config/example.toml"), &env).unwrap();
            match &cfg.pipelines[0].targets[0] {
                TargetConfig::Discard => "discard",
                TargetConfig::Mysql(_) => "mysql",
                TargetConfig::Mongodb(t) => {
                    assert_eq!((t.database.as_deref(), t.transaction), (Some("shop_replica"), false));
                    "mongodb"
                }
                TargetConfig::Http(h) => {
                    assert_eq!(h.url.expose(), "http://127.0.0.1:8080/changes");
                    assert_eq!(h.headers.iter().map(|(k, v)| (k.as_str(), v.expose())).collect::<Vec<_>>(), [("Authorization", "Bearer pw")]);
                    assert_eq!((h.batch_max_rows, h.timeout, h.envelope), (500, Duration::from_secs(10), crate::config::Envelope::Logferry));
                    "http"
                }
                TargetConfig::Nats(t) => {
                    assert_eq!((t.url.expose(), t.subject.as_str(), t.stream.as_str()), ("nats://127.0.0.1:4222", "{pipeline}.{schema}.{table}", "LOGFERRY"));
                    "nats"
                }
                TargetConfig::Kafka(t) => {
                    assert_eq!((t.brokers.as_str(), t.topic.as_str(), t.options.len()), ("127.0.0.1:9092", "{pipeline}.{schema}.{table}", 1));
                    "kafka"
                }
                other => panic!("{other:?}"),
            }
        })
        .collect();
    assert_eq!(kinds, ["discard", "mysql", "mongodb", "http", "nats", "kafka"]);
}

#[test]
fn demo_generate_file_parses() {
    let text = include_str!("../../../../config/demo-generate.toml");
    let cfg = Config::parse(text, Path::new("config/demo-generate.toml"), &|_| None).unwrap();
    assert_eq!(cfg.state_dir, Path::new("config/../.tmp/demo/state"));
    let p = &cfg.pipelines[0];
    let SourceConfig::Generate(g) = &p.source else {
        panic!("{:?}", p.source)
    };
    assert_eq!(g.total, Some(20_000));
    assert_eq!((g.tables, g.keys, g.tx_size, g.seed), (3, 500, 20, 7));
    assert_eq!(
        (g.row_bytes, g.update_pct, g.delete_pct, g.rate),
        (64, 30, 10, None)
    );
    let TargetConfig::File(file) = &p.targets[0] else {
        panic!("{:?}", p.targets)
    };
    assert_eq!(file.path, Path::new("config/../.tmp/demo/changes.jsonl"));
}

#[test]
fn defaults() {
    let cfg = parse(&format!("{SOURCE}{STDOUT}")).unwrap();
    assert_eq!(cfg.state_dir, Path::new("config/.logferry"));
    assert!(cfg.admin.is_none());
    let p = &cfg.pipelines[0];
    assert_eq!(
        format!("{:?}", p.apply),
        format!("{:?}", ApplyConfig::default())
    );
    let SourceConfig::Generate(g) = &parse(&with_source("kind = \"generate\""))
        .unwrap()
        .pipelines[0]
        .source
    else {
        panic!()
    };
    assert_eq!(g.total, None);
    assert_eq!(
        (g.tables, g.keys, g.tx_size, g.row_bytes),
        (4, 10_000, 10, 64)
    );
    assert_eq!(
        (g.update_pct, g.delete_pct, g.rate, g.seed),
        (30, 10, None, 1)
    );
}

#[test]
fn max_retries_is_unlimited_by_default_or_a_count() {
    let cfg = parse(&with_apply("lanes = 1")).unwrap();
    assert_eq!(cfg.pipelines[0].apply.max_retries, None);
    let cfg = parse(&with_apply("max_retries = \"unlimited\"")).unwrap();
    assert_eq!(cfg.pipelines[0].apply.max_retries, None);
    for (text, want) in [("0", 0), ("10", 10), ("4294967295", u32::MAX)] {
        let cfg = parse(&with_apply(&format!("max_retries = {text}"))).unwrap();
        assert_eq!(cfg.pipelines[0].apply.max_retries, Some(want), "{text}");
    }
    for (text, found) in [
        ("-1", "found -1;"),
        ("4294967296", "found 4294967296;"),
        ("\"forever\"", "found \"forever\";"),
        ("\"10\"", "found \"10\";"),
    ] {
        let (key, message) = invalid(&with_apply(&format!("max_retries = {text}")));
        assert_eq!(key, "pipeline[shop].apply.max_retries");
        assert!(message.starts_with(found), "{text}: {message}");
        assert!(message.contains("expected \"unlimited\""), "{message}");
    }
    let e = error(&with_apply("max_retries = 1.5"));
    assert!(e.contains("`pipeline[shop].apply.max_retries`"), "{e}");
    assert!(e.contains("\"unlimited\" or a number of retries"), "{e}");
}

#[test]
fn every_apply_option_is_read() {
    let cfg = parse(&with_apply(
        r#"lanes = 3
batch_max_rows = 50
batch_max_wait = "1.5s"
ordering = "key"
queue_max_records = 500
queue_max_bytes = "10MB"
max_retries = 2
retry_backoff = "250us"
retry_max_backoff = "2m"
checkpoint_interval = "1h""#,
    ))
    .unwrap();
    let a = &cfg.pipelines[0].apply;
    assert_eq!(
        (a.lanes, a.batch_max_rows, a.queue_max_records),
        (3, 50, 500)
    );
    assert_eq!(a.batch_max_wait, Duration::from_millis(1500));
    assert_eq!(a.ordering, Ordering::Key);
    assert_eq!(a.queue_max_bytes, 10_000_000);
    assert_eq!(a.max_retries, Some(2));
    assert_eq!(a.retry_backoff, Duration::from_micros(250));
    assert_eq!(a.retry_max_backoff, Duration::from_secs(120));
    assert_eq!(a.checkpoint_interval, Duration::from_secs(3600));
}

#[test]
fn on_error_is_read_and_checked() {
    let example = include_str!("../../../../config/example.toml");
    let cfg = Config::parse(example, Path::new("config/example.toml"), &env).unwrap();
    assert_eq!(cfg.pipelines[0].on_error, OnError::Stop);
    let cfg = parse(&format!("{SOURCE}{STDOUT}")).unwrap();
    assert_eq!(cfg.pipelines[0].on_error, OnError::Stop, "the default");
    let with = |line: &str| SOURCE.replace("name = \"shop\"\n", &format!("name = \"shop\"\n{line}\n")) + STDOUT;
    let cfg = parse(&with("on_error = \"dead_letter\"")).unwrap();
    assert_eq!(cfg.pipelines[0].on_error, OnError::DeadLetter);
    let e = error(&with("on_error = \"skip\""));
    assert!(e.contains("`pipeline[shop].on_error`"), "{e}");
    assert!(e.contains("expected `stop` or `dead_letter`"), "{e}");
    let e = error(&with("on_error = true"));
    assert!(e.contains("`pipeline[shop].on_error`"), "{e}");
    let e = error(&with_apply("on_error = \"dead_letter\""));
    assert!(e.contains("`pipeline[shop].apply.on_error`") && e.contains("unknown field"), "a pipeline key, not an apply key: {e}");
}

#[test]
fn spool_is_off_unless_its_table_is_given_and_its_bound_is_checked() {
    let cfg = parse(&format!("{SOURCE}{STDOUT}")).unwrap();
    assert_eq!(cfg.pipelines[0].spool, None, "off by default");
    let with = |body: &str| format!("{SOURCE}{STDOUT}[pipeline.spool]\n{body}\n");
    let cfg = parse(&with("")).unwrap();
    assert_eq!(cfg.pipelines[0].spool, Some(SpoolConfig { max_bytes: 1 << 30 }));
    let cfg = parse(&with("max_bytes = \"256MiB\"")).unwrap();
    assert_eq!(cfg.pipelines[0].spool, Some(SpoolConfig { max_bytes: 256 << 20 }));
    let e = error(&with("max_bytes = 0"));
    assert!(e.contains("`pipeline[shop].spool.max_bytes`") && e.contains("more than 0"), "{e}");
    let e = error(&with("max_bytes = \"lots\""));
    assert!(e.contains("`pipeline[shop].spool.max_bytes`"), "{e}");
    let e = error(&with("dir = \"/tmp\""));
    assert!(e.contains("spool") && e.contains("unknown field"), "{e}");
}

#[test]
fn transaction_ordering_forces_one_lane() {
    let cfg = parse(&with_apply("lanes = 16\nordering = \"transaction\"")).unwrap();
    assert_eq!(cfg.pipelines[0].apply.ordering, Ordering::Transaction);
    assert_eq!(cfg.pipelines[0].apply.lanes, 1);
}

#[test]
fn other_source_kinds() {
    let cfg = parse(&with_source(
        "kind = \"mysql\"\nurl = \"mariadb://root@127.0.0.1/shop\"\ntables = [\"shop.*\"]\n\
         snapshot = \"never\"",
    ))
    .unwrap();
    let SourceConfig::Mysql(s) = &cfg.pipelines[0].source else {
        panic!()
    };
    assert_eq!(s.db.snapshot, SnapshotMode::Never);
    assert_eq!((s.flavor, s.server_id, s.snapshot_chunk_rows), (MysqlFlavor::Auto, 4_000_000_001, 10_000));
    let e = invalid(&with_source(
        "kind = \"mysql\"\nurl = \"mysql://h/shop\"\ntables = [\"shop.*\"]\nserver_id = 0",
    ));
    assert_eq!(e.0, "pipeline[shop].source.server_id");
    for (key, scheme) in [("tables", "mongodb"), ("collections", "mongodb")] {
        let cfg = parse(&with_source(&format!(
            "kind = \"mongodb\"\nurl = \"{scheme}://h/\"\n{key} = [\"shop.orders\"]"
        )))
        .unwrap();
        let SourceConfig::Mongodb(s) = &cfg.pipelines[0].source else {
            panic!()
        };
        assert_eq!(s.db.tables, ["shop.orders"]);
        assert_eq!(cfg.pipelines[0].source.kind(), "mongodb");
    }
    let (key, message) = invalid(&with_source(
        "kind = \"mongodb\"\nurl = \"mongodb://h/\"\ntables = [\"a.b\"]\ncollections = [\"a.b\"]",
    ));
    assert_eq!(key, "pipeline[shop].source.collections");
    assert!(
        message.contains("both `tables` and `collections`"),
        "{message}"
    );
    let (key, _) = invalid(&with_source("kind = \"mongodb\"\nurl = \"mongodb://h/\""));
    assert_eq!(key, "pipeline[shop].source.collections");
}

#[test]
fn protobuf_file_target() {
    let cfg = parse(&with_targets(
        "[[pipeline.target]]\nkind = \"file\"\npath = \"/abs/out.pb\"\nformat = \"protobuf\"",
    ))
    .unwrap();
    let TargetConfig::File(f) = &cfg.pipelines[0].targets[0] else {
        panic!()
    };
    assert_eq!(f.path, Path::new("/abs/out.pb"));
    assert_eq!(f.format, RecordFormat::Protobuf);
}

#[test]
fn progress_schema_of_sql_targets_is_read_and_never_empty() {
    let cfg = parse(&with_targets(
        "[[pipeline.target]]\nkind = \"postgres\"\nurl = \"postgres://u@h/d\"\nprogress_schema = \"meta\"\n\
         [[pipeline.target]]\nkind = \"mysql\"\nurl = \"mysql://u@h/d\"",
    ))
    .unwrap();
    let TargetConfig::Postgres(pg) = &cfg.pipelines[0].targets[0] else { panic!() };
    let TargetConfig::Mysql(my) = &cfg.pipelines[0].targets[1] else { panic!() };
    assert_eq!((pg.progress_schema.as_deref(), my.progress_schema.as_deref()), (Some("meta"), None));
    let (key, message) = invalid(&with_targets("[[pipeline.target]]\nkind = \"mysql\"\nurl = \"mysql://u@h/d\"\nprogress_schema = \" \""));
    assert_eq!(key, "pipeline[shop].target[0].progress_schema");
    assert!(message.contains("logferry_progress"), "{message}");
}

#[test]
fn relative_paths_resolve_against_the_config_folder() {
    let text = format!(
        "state_dir = \"state\"\n{SOURCE}[[pipeline.target]]\nkind = \"file\"\n\
         path = \"./out/../x.jsonl\"\n"
    );
    let cfg = Config::parse(&text, Path::new("/etc/logferry/main.toml"), &env).unwrap();
    assert_eq!(cfg.state_dir, Path::new("/etc/logferry/state"));
    let TargetConfig::File(f) = &cfg.pipelines[0].targets[0] else {
        panic!()
    };
    assert_eq!(f.path, Path::new("/etc/logferry/out/../x.jsonl"));
    // A file in the current folder: paths stay relative to it.
    let cfg = Config::parse(&text, Path::new("main.toml"), &env).unwrap();
    assert_eq!(cfg.state_dir, Path::new("state"));
    let cfg = Config::parse(
        &format!("state_dir = \"/var/lib/logferry\"\n{SOURCE}{STDOUT}"),
        Path::new("/etc/x.toml"),
        &env,
    )
    .unwrap();
    assert_eq!(cfg.state_dir, Path::new("/var/lib/logferry"));
}

#[test]
fn postgres_streaming_and_its_spill_folder() {
    let pg = |extra: &str| {
        let cfg = parse(&format!("{SOURCE}{extra}\n{STDOUT}")).unwrap();
        let SourceConfig::Postgres(source) = &cfg.pipelines[0].source else { panic!() };
        (source.streaming, source.spill_dir.clone())
    };
    assert_eq!(pg(""), (PgStreaming::Auto, Path::new("config/.logferry/spill/shop").to_path_buf()));
    assert_eq!(pg("streaming = \"on\"").0, PgStreaming::On);
    assert_eq!(pg("streaming = \"off\"").0, PgStreaming::Off);
    let message = error(&format!("{SOURCE}streaming = \"parallel\"\n{STDOUT}"));
    assert!(message.contains("source.streaming") && message.contains("expected `off` or `on`"), "{message}");
}
