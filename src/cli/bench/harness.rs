//! The harness of one backlog run: the bench's databases, tables, slots
//! and pipeline config ([`Bench`]), and the sampler of the applied-record
//! count while a pipeline runs.

use super::report::LfFigures;
use super::CliError;
use super::{
    cleanup, connect, conninfo, cpu_seconds, describe, drop_nats_stream, each_table, fail, insert_sql, nats_stream, peak_rss_kib,
    pipeline_config_with, run_logferry, table_ddl, table_names, with_db, Backlog, BenchArgs, WorkDir,
};
use crate::pipeline::PipelineStats;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_postgres::Client;

/// The bench's databases, tables, slots and pipeline config for one run.
pub(super) struct Bench {
    pub(super) admin: Client,
    pub(super) source: Client,
    /// The native subscriber's database, with its (disabled) subscription (`--compare`, `--target postgres`).
    pub(super) native: Option<Client>,
    pub(super) pg_url: String,
    pub(super) src_url: String,
    pub(super) dst_url: String,
    pub(super) prefix: String,
    pub(super) target: String,
    pub(super) tables: Vec<String>,
    pub(super) config: String,
    pub(super) work: WorkDir,
    /// `--target nats`: the server and the stream, deleted at the end.
    pub(super) nats: Option<(String, String)>,
}

impl Bench {
    /// Drops what an earlier bench left, creates the databases, the source
    /// tables and publication, target tables with `--indexes`, logferry's
    /// slot (a first `--once` run over the empty tables) and, with
    /// `--compare`, the comparison slots and the subscriber.
    pub(super) async fn prepare(args: &BenchArgs, pg_url: &str, lanes: usize, batch: usize) -> Result<Bench, CliError> {
        let p = &args.prefix;
        let (src, dst, native) = (format!("{p}_src"), format!("{p}_dst"), format!("{p}_native"));
        let admin = connect(pg_url).await?;
        let wal_level: String =
            admin.query_one("SHOW wal_level", &[]).await.map_err(|e| fail("SHOW wal_level", describe(e)))?.get(0);
        if wal_level != "logical" {
            return Err(CliError::Bench(format!(
                "the server at --pg-url has wal_level = {wal_level}; the bench needs wal_level = logical"
            )));
        }
        cleanup(&admin, pg_url, p).await?;
        for db in [&src, &dst, &native] {
            admin
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .await
                .map_err(|e| fail("creating the bench databases", describe(e)))?;
        }
        let tables = table_names(args.tables);
        let (src_url, dst_url) = (with_db(pg_url, &src), with_db(pg_url, &dst));
        let source = connect(&src_url).await?;
        let ddl: Vec<String> = tables.iter().map(|t| table_ddl(t, 0)).collect();
        source
            .batch_execute(&format!(
                "{}; CREATE PUBLICATION {p}_native FOR TABLE {}",
                ddl.join("; "),
                tables.join(", ")
            ))
            .await
            .map_err(|e| fail("creating the source tables", describe(e)))?;
        let target_ddl: Vec<String> = tables.iter().map(|t| table_ddl(t, args.indexes)).collect();
        if args.target == "postgres" && args.indexes > 0 {
            // logferry's sink creates a missing table without secondary
            // indexes, and keeps an existing one of the same shape.
            let dst_client = connect(&dst_url).await?;
            dst_client
                .batch_execute(&target_ddl.join("; "))
                .await
                .map_err(|e| fail("creating the target tables", describe(e)))?;
        }

        let work = WorkDir::new(p)?;
        let config = pipeline_config_with(args, work.path(), &src_url, &dst_url, lanes, batch);
        let nats = match (args.target.as_str(), &args.nats_url) {
            ("nats", Some(url)) => Some((url.clone(), nats_stream(args))),
            _ => None,
        };
        if let Some((url, stream)) = &nats {
            drop_nats_stream(url, stream).await?;
        }
        // logferry's slot and publication: a first run over the empty tables.
        run_logferry(&config, work.path(), Default::default()).await?;
        if args.compare {
            for slot in ["native", "recv"] {
                source
                    .batch_execute(&format!("SELECT pg_create_logical_replication_slot('{p}_{slot}', 'pgoutput')"))
                    .await
                    .map_err(|e| fail("creating the comparison slots", describe(e)))?;
            }
        }
        let native_client = if args.compare && args.target == "postgres" {
            let c = connect(&with_db(pg_url, &native)).await?;
            c.batch_execute(&target_ddl.join("; "))
                .await
                .map_err(|e| fail("creating the subscriber tables", describe(e)))?;
            let conninfo = conninfo(&src_url);
            c.batch_execute(&format!(
                "CREATE SUBSCRIPTION {p}_native CONNECTION '{conninfo}' PUBLICATION {p}_native \
                 WITH (create_slot = false, slot_name = '{p}_native', enabled = false, copy_data = false)"
            ))
            .await
            .map_err(|e| fail("creating the subscription", describe(e)))?;
            Some(c)
        } else {
            None
        };
        Ok(Bench {
            admin,
            source,
            native: native_client,
            pg_url: pg_url.to_string(),
            src_url,
            dst_url,
            prefix: p.clone(),
            target: args.target.clone(),
            tables,
            config,
            work,
            nats,
        })
    }

    /// Writes the backlog: `--rows` inserts in transactions of `--tx-rows`,
    /// then `--updates` and `--deletes` of the first rows, one transaction each.
    pub(super) async fn write_backlog(&self, args: &BenchArgs) -> Result<Backlog, CliError> {
        let err = |e| fail("writing the backlog", describe(e));
        let start_lsn: String = self
            .source
            .query_one("SELECT pg_current_wal_lsn()::text", &[])
            .await
            .map_err(|e| fail("reading the WAL position", describe(e)))?
            .get(0);
        let tx_rows = if args.tx_rows == 0 { args.rows } else { args.tx_rows };
        let mut first = 1u64;
        while first <= args.rows {
            let last = (first + tx_rows - 1).min(args.rows);
            self.source.batch_execute(&insert_sql(&self.tables, first, last, args.width)).await.map_err(err)?;
            first = last + 1;
        }
        if args.updates > 0 {
            let sql = each_table(&self.tables, |t| {
                format!(
                    "UPDATE {t} SET qty = qty + 1, updated_at = updated_at + interval '1 day' WHERE id <= {}",
                    args.updates
                )
            });
            self.source.batch_execute(&sql).await.map_err(err)?;
        }
        if args.deletes > 0 {
            let sql = each_table(&self.tables, |t| format!("DELETE FROM {t} WHERE id <= {}", args.deletes));
            self.source.batch_execute(&sql).await.map_err(err)?;
        }
        let row: tokio_postgres::Row = self
            .source
            .query_one(
                "SELECT pg_current_wal_lsn()::text, (pg_current_wal_lsn() - $1::text::pg_lsn)::bigint",
                &[&start_lsn],
            )
            .await
            .map_err(|e| fail("reading the WAL position", describe(e)))?;
        Ok(Backlog {
            end_lsn: row.get(0),
            wal_bytes: row.get(1),
            changes: args.rows + args.updates.min(args.rows) + args.deletes.min(args.rows),
            tx_rows,
        })
    }

    /// `run --once` over the backlog, timed, with its stats and samples.
    pub(super) async fn timed_logferry(&self) -> Result<LfFigures, CliError> {
        let stats = Arc::new(PipelineStats::new("bench"));
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let cpu0 = cpu_seconds();
        let sampler = Sampler::start(stats.clone());
        let t0 = Instant::now();
        let result = run_logferry(&self.config, self.work.path(), stats.clone()).await;
        let seconds = t0.elapsed().as_secs_f64();
        let samples = sampler.finish().await;
        result?;
        Ok(LfFigures::new(&stats, seconds, cpu_seconds() - cpu0, peak_rss_kib(), samples))
    }

    /// Checks every target table equal to its source table (`postgres`
    /// target; `false` for a file target, which is not checked).
    pub(super) async fn verify(&self) -> Result<bool, CliError> {
        if self.target != "postgres" {
            return Ok(false);
        }
        let dst = connect(&self.dst_url).await?;
        for t in &self.tables {
            let digest = format!(
                "SELECT count(*)::text || ':' || coalesce(sum(hashtext(id::text || qty::text || price::text || note || updated_at::text))::text, '') FROM {t}"
            );
            let want: String =
                self.source.query_one(&digest, &[]).await.map_err(|e| fail("checking the target", describe(e)))?.get(0);
            let got: String =
                dst.query_one(&digest, &[]).await.map_err(|e| fail("checking the target", describe(e)))?.get(0);
            if want != got {
                return Err(CliError::Bench(format!(
                    "target table {t} differs from the source after the run (source {want}, target {got})"
                )));
            }
        }
        Ok(true)
    }

    /// Rows in the target tables (`postgres` target).
    pub(super) async fn target_rows(&self, dst: &Client) -> Result<i64, CliError> {
        let sum: Vec<String> = self.tables.iter().map(|t| format!("(SELECT count(*) FROM {t})")).collect();
        let row = dst
            .query_one(&format!("SELECT ({})::bigint", sum.join(" + ")), &[])
            .await
            .map_err(|e| fail("counting the target rows", describe(e)))?;
        Ok(row.get(0))
    }

    /// Drops everything the bench created.
    pub(super) async fn finish(self) -> Result<(), CliError> {
        let Bench { admin, source, native, pg_url, prefix, work, nats, .. } = self;
        drop(native);
        drop(source);
        drop(work);
        if let Some((url, stream)) = &nats {
            drop_nats_stream(url, stream).await?;
        }
        cleanup(&admin, &pg_url, &prefix).await
    }
}

/// Samples the applied-record count every 100 ms while a pipeline runs:
/// `(seconds since start, applied)`.
pub(super) struct Sampler {
    pub(super) stop: watch::Sender<bool>,
    pub(super) task: tokio::task::JoinHandle<Vec<(f64, u64)>>,
}

impl Sampler {
    pub(super) fn start(stats: Arc<PipelineStats>) -> Sampler {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let t0 = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut samples = Vec::new();
            loop {
                tokio::select! {
                    _ = tick.tick() => samples.push((t0.elapsed().as_secs_f64(), stats.counts().1)),
                    _ = stopped.changed() => break,
                }
            }
            samples.push((t0.elapsed().as_secs_f64(), stats.counts().1));
            samples
        });
        Sampler { stop, task }
    }

    pub(super) async fn finish(self) -> Vec<(f64, u64)> {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}
