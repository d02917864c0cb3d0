//! logferry's integration tests: one binary, shared support code.
//! Each test gets its own scratch folder (and, for database tests, its own
//! database), so tests run in parallel.

mod support;

mod bench;
mod bench_mariadb;
mod bench_mongodb;
mod bidirectional;
mod big_inputs;
mod check;
mod cli;
mod hostile_names;
mod http_target;
mod kafka;
mod kafka_debezium;
mod keyless_tables;
mod dead_letters;
mod exactly_once;
mod deploy;
mod row_data;
mod secrets;
mod admin_abuse;
mod mongodb_timeouts;
mod mongodb_sink;
mod mongodb_source;
mod mongodb_sql;
mod mysql_e2e;
mod mysql_online_snapshot;
mod online_snapshot;
mod parallel_copy;
mod mysql_sink;
mod mysql_source;
mod nats_target;
mod operate;
mod operate_page;
mod pg_early_apply;
mod pg_streaming;
mod pipeline_core;
mod readme_claims;
mod reliability_source;
mod postgres_binary;
mod postgres_copy;
mod postgres_e2e;
mod postgres_sink;
mod postgres_sink_mysql_types;
mod postgres_source;
mod pgbench;
mod progress;
mod reliability_outage;
mod reliability_targets;
mod source_blind_targets;
mod spool;
mod sql_targets;
mod tls;
mod transform;
mod verify;
