//! The broker and web targets and the Kafka source: the documented syntax
//! parses, secrets in headers and options stay secret, mistakes name their key.
use super::*;

const BROKERS: &str = r#"
[[pipeline]]
name = "shop"
[pipeline.source]
kind = "kafka"
brokers = "127.0.0.1:9092"
topics = ["shop.public.customers", "shop.public.orders"]   # names, or globs
group = "shop-apply"                       # consumer group
format = "json"                            # json | protobuf
envelope = "logferry"                      # logferry | debezium (reads Debezium's JSON, with or without schemas)
options = { "session.timeout.ms" = "6000" }  # passed to the client as-is (optional)

[[pipeline.target]]
kind = "kafka"
brokers = "127.0.0.1:9092"                 # bootstrap list, comma-separated
topic = "{pipeline}.{schema}.{table}"      # template (default); also {database} for MySQL
format = "json"                            # json | protobuf
envelope = "logferry"                      # logferry | debezium (json only)
options = { "compression.type" = "zstd" }  # passed to the client as-is (optional)

[[pipeline.target]]
kind = "nats"
url = "nats://127.0.0.1:4222"
subject = "{pipeline}.{schema}.{table}"
stream = "LOGFERRY"                        # JetStream stream, created if missing for "<pipeline>.>"
format = "json"

[[pipeline.target]]
kind = "http"
url = "http://127.0.0.1:8080/changes"
headers = { Authorization = "Bearer ${PGPASSWORD}" }
batch_max_rows = 500                       # records per POST
timeout = "10s"
envelope = "logferry"                      # logferry | debezium
"#;

#[test]
fn the_documented_broker_syntax_parses() {
    let cfg = parse(BROKERS).unwrap();
    let p = &cfg.pipelines[0];
    let SourceConfig::Kafka(k) = &p.source else { panic!("{:?}", p.source) };
    assert_eq!((k.brokers.as_str(), k.group.as_str()), ("127.0.0.1:9092", "shop-apply"));
    assert_eq!(k.topics, ["shop.public.customers", "shop.public.orders"]);
    assert_eq!(k.options[0].0, "session.timeout.ms");
    let [TargetConfig::Kafka(kt), TargetConfig::Nats(n), TargetConfig::Http(h)] = &p.targets[..] else { panic!("{:?}", p.targets) };
    assert_eq!((kt.topic.as_str(), kt.format, kt.envelope), ("{pipeline}.{schema}.{table}", RecordFormat::Json, Envelope::Logferry));
    assert_eq!(kt.options[0].1.expose(), "zstd");
    assert_eq!((n.subject.as_str(), n.stream.as_str()), ("{pipeline}.{schema}.{table}", "LOGFERRY"));
    assert_eq!((h.batch_max_rows, h.timeout), (500, Duration::from_secs(10)));
    assert_eq!(h.headers[0].1.expose(), format!("Bearer {PASSWORD}"));
    assert!(!format!("{p:?}").contains(PASSWORD), "header values are secrets");
    // Defaults.
    let minimal = parse(&format!("{SOURCE}[[pipeline.target]]\nkind = \"kafka\"\nbrokers = \"h:1\"\n[[pipeline.target]]\nkind = \"http\"\nurl = \"https://h/x\"\n")).unwrap();
    let [TargetConfig::Kafka(kt), TargetConfig::Http(h)] = &minimal.pipelines[0].targets[..] else { panic!() };
    assert_eq!(kt.topic, KafkaTargetConfig::DEFAULT_TOPIC);
    assert_eq!((h.batch_max_rows, h.envelope), (500, Envelope::Logferry));
    let group = parse(&BROKERS.replace("group = \"shop-apply\"", "")).unwrap();
    let SourceConfig::Kafka(k) = &group.pipelines[0].source else { panic!() };
    assert_eq!(k.group, "logferry-shop");
}

#[test]
fn broker_mistakes_name_their_key() {
    let cases = [
        ("brokers = \"127.0.0.1:9092\"                 #", "brokers = \"localhost\"                 #", "pipeline[shop].target[0].brokers"),
        ("topic = \"{pipeline}.{schema}.{table}\"", "topic = \"{pipeline}.{tabel}\"", "pipeline[shop].target[0].topic"),
        ("format = \"json\"                            # json | protobuf\nenvelope = \"logferry\"                      # logferry | debezium (json only)", "format = \"protobuf\"\nenvelope = \"debezium\"", "pipeline[shop].target[0].envelope"),
        ("stream = \"LOGFERRY\"", "stream = \"a.b\"", "pipeline[shop].target[1].stream"),
        ("batch_max_rows = 500", "batch_max_rows = 0", "pipeline[shop].target[2].batch_max_rows"),
        ("url = \"nats://127.0.0.1:4222\"", "url = \"http://127.0.0.1:4222\"", "pipeline[shop].target[1].url"),
        ("topics = [\"shop.public.customers\", \"shop.public.orders\"]", "topics = []", "pipeline[shop].source.topics"),
    ];
    for (from, to, key) in cases {
        assert!(BROKERS.contains(from), "{from}");
        let (k, message) = invalid(&BROKERS.replacen(from, to, 1));
        assert_eq!(k, key, "{message}");
    }
}
