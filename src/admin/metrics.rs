//! `/metrics`: every pipeline's figures in the Prometheus text format
//! (version 0.0.4). Every family has its `# HELP` and `# TYPE` lines,
//! also when it has no series yet; label values are escaped as the format
//! says (`\\`, `\"`, `\n`), so hostile table names cannot break a line.
//!
//! Families whose HELP says "absent …" have series only when there is
//! something to report (a spool, a source that says how far behind it is,
//! a table copy); the others have one series per pipeline from the start.

use super::Registry;
use crate::pipeline::{HistogramSnapshot, PipelineStats, StatsSnapshot};
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// A label value in double quotes, escaped for the text format.
pub fn label_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A float as the format writes it (`+Inf`, `-Inf`, `NaN`, else Rust's
/// shortest round-trip form).
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// The text format being written.
struct Out {
    text: String,
}

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: &str) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                self.text.push_str(k);
                self.text.push('=');
                self.text.push_str(&label_value(v));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    fn histogram(&mut self, name: &str, pipeline: &str, h: &HistogramSnapshot) {
        let bucket = format!("{name}_bucket");
        for (le, n) in &h.buckets {
            self.sample(&bucket, &[("pipeline", pipeline), ("le", &number(*le))], &n.to_string());
        }
        self.sample(&format!("{name}_sum"), &[("pipeline", pipeline)], &number(h.sum));
        self.sample(&format!("{name}_count"), &[("pipeline", pipeline)], &h.count.to_string());
    }
}

/// One pipeline's figures read once for the whole scrape.
struct Read<'a> {
    p: &'a PipelineStats,
    s: StatsSnapshot,
}

impl Registry {
    /// `/metrics` in the Prometheus text format.
    pub fn metrics(&self) -> String {
        let now = SystemTime::now();
        let all: Vec<Read> = self.pipelines.iter().map(|p| Read { p, s: p.snapshot() }).collect();
        let mut out = Out { text: String::new() };
        let per_pipeline = |out: &mut Out, name: &str, kind: &str, help: &str, value: &dyn Fn(&Read) -> Option<String>| {
            out.family(name, kind, help);
            for r in &all {
                if let Some(v) = value(r) {
                    out.sample(name, &[("pipeline", &r.p.name)], &v);
                }
            }
        };
        let secs = |d: f64| format!("{d:.6}");
        let o = &mut out;
        per_pipeline(o, "logferry_up", "gauge", "1 while the pipeline runs, 0 once it stopped.", &|r| {
            Some(if r.s.stopped.is_some() { "0" } else { "1" }.into())
        });
        per_pipeline(o, "logferry_records_received_total", "counter", "Records received from the source (heartbeats included).", &|r| Some(r.s.records.to_string()));
        per_pipeline(o, "logferry_records_applied_total", "counter", "Records every target durably applied.", &|r| Some(r.s.applied.to_string()));
        per_pipeline(o, "logferry_dead_letters_total", "counter", "Records set aside in the dead-letter store by this process.", &|r| Some(r.s.dead_lettered.to_string()));
        per_pipeline(o, "logferry_records_filtered_total", "counter", "Records a [[pipeline.table]] filter kept from the targets.", &|r| Some(r.s.filtered.to_string()));
        per_pipeline(o, "logferry_records_invalid_total", "counter", "Records that failed a [[pipeline.table]] validate rule (dead-lettered, stopped on or skipped).", &|r| Some(r.s.invalid.to_string()));
        per_pipeline(o, "logferry_records_skipped_total", "counter", "Records that failed a validate rule with on_invalid = \"skip\" and were dropped.", &|r| Some(r.s.skipped.to_string()));
        per_pipeline(o, "logferry_checkpoint_seq", "gauge", "Sequence number of the last checkpoint (written by this process, or resumed from).", &|r| Some(r.s.checkpoint_seq.to_string()));
        per_pipeline(o, "logferry_checkpoint_age_seconds", "gauge", "Seconds since the last checkpoint was written (absent before the first).", &|r| {
            r.s.checkpoint_at.map(|at| format!("{:.3}", now.duration_since(at).unwrap_or_default().as_millis() as f64 / 1000.0))
        });
        per_pipeline(o, "logferry_lag_seconds", "gauge", "Now minus the commit time of the oldest record received but not yet applied; 0 when nothing is in flight.", &|r| {
            Some(format!("{:.3}", r.s.lag(now).as_secs_f64()))
        });
        per_pipeline(o, "logferry_applied_through_timestamp_seconds", "gauge", "Unix time up to which every change is applied (commit time of the last applied transaction, or when idle the time the last record was received; absent before the first).", &|r| {
            r.s.applied_through.map(|t| format!("{:.3}", t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64()))
        });
        per_pipeline(o, "logferry_source_behind_bytes", "gauge", "Bytes the source is behind the end of its log (absent when the source does not say).", &|r| {
            r.p.source.behind_bytes().map(|b| b.to_string())
        });
        per_pipeline(o, "logferry_source_restarts_total", "counter", "Source restarts after transient failures.", &|r| Some(r.s.source_restarts.to_string()));
        per_pipeline(o, "logferry_target_failing_lanes", "gauge", "Lanes retrying an unavailable target now.", &|r| Some(r.s.failing_lanes.to_string()));
        per_pipeline(o, "logferry_target_retries_total", "counter", "Retries of a batch on a target after a transient failure.", &|r| Some(r.s.target_retries.to_string()));
        per_pipeline(o, "logferry_spool_bytes", "gauge", "Bytes held in the durable spool (absent without a spool).", &|r| r.s.spool_bytes.map(|b| b.to_string()));
        per_pipeline(o, "logferry_copy_tables_pending", "gauge", "Table copies started by this process and not finished yet.", &|r| {
            Some(r.p.source.copies().iter().filter(|c| !c.done).count().to_string())
        });
        per_pipeline(o, "logferry_source_blocked_seconds_total", "counter", "Seconds the source waited for room in the pipeline (the rest was slower).", &|r| Some(secs(r.p.stages().source_blocked_s)));
        per_pipeline(o, "logferry_route_seconds_total", "counter", "Seconds spent numbering and routing records to lanes.", &|r| Some(secs(r.p.stages().route_s)));
        per_pipeline(o, "logferry_apply_seconds_total", "counter", "Seconds lanes spent in target applies, summed over lanes.", &|r| Some(secs(r.p.stages().apply_s)));

        out.family("logferry_copy_rows_total", "counter", "Rows of a table copy emitted by this process (absent without a copy).");
        for r in &all {
            for c in r.p.source.copies() {
                out.sample("logferry_copy_rows_total", &[("pipeline", &r.p.name), ("table", &c.table)], &c.rows.to_string());
            }
        }
        out.family("logferry_copy_rows_estimate", "gauge", "The source's estimate of a copied table's rows (absent when it has none).");
        for r in &all {
            for c in r.p.source.copies() {
                if let Some(e) = c.estimate {
                    out.sample("logferry_copy_rows_estimate", &[("pipeline", &r.p.name), ("table", &c.table)], &e.to_string());
                }
            }
        }
        out.family("logferry_table_records_applied_total", "counter", "Records of batches every target acknowledged, per source table and operation (dead-lettered and filtered records of such batches included).");
        for r in &all {
            for (table, ops) in r.p.table_ops() {
                for (op, n) in ops {
                    out.sample("logferry_table_records_applied_total", &[("pipeline", &r.p.name), ("table", &table), ("op", &op)], &n.to_string());
                }
            }
        }
        out.family("logferry_apply_batch_seconds", "histogram", "Seconds from a batch's first apply attempt to every target's acknowledgement (retries included).");
        for r in &all {
            out.histogram("logferry_apply_batch_seconds", &r.p.name, &r.p.apply_batch_seconds());
        }
        out.family("logferry_batch_rows", "histogram", "Records per batch acknowledged by every target.");
        for r in &all {
            out.histogram("logferry_batch_rows", &r.p.name, &r.p.batch_rows());
        }
        let name = "logferry_commit_latency_seconds";
        out.family(name, "summary", "Source commit to applied by every target, per source transaction (quantiles are bucket upper bounds).");
        for r in &all {
            let l = r.p.latency();
            for (q, v) in [("0.5", l.p50_ms), ("0.95", l.p95_ms), ("0.99", l.p99_ms)] {
                out.sample(name, &[("pipeline", &r.p.name), ("quantile", q)], &format!("{:.6}", v / 1000.0));
            }
            out.sample(&format!("{name}_sum"), &[("pipeline", &r.p.name)], &format!("{:.6}", l.mean_ms * l.count as f64 / 1000.0));
            out.sample(&format!("{name}_count"), &[("pipeline", &r.p.name)], &l.count.to_string());
        }
        out.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Change, Op, TableRef};
    use std::sync::Arc;
    use std::time::Duration;

    fn registry(stats: &[&Arc<PipelineStats>]) -> Registry {
        Registry::new(stats.iter().map(|s| (*s).clone()).collect(), None)
    }

    #[test]
    fn label_values_escape_backslash_quote_and_newline_only() {
        assert_eq!(label_value("plain.table"), "\"plain.table\"");
        assert_eq!(label_value("a\\b\"c\nd\té"), "\"a\\\\b\\\"c\\nd\té\"");
    }

    #[test]
    fn metrics_are_prometheus_text_per_pipeline() {
        let a = Arc::new(PipelineStats::new("shop"));
        let reg = registry(&[&a]);
        for _ in 0..5 {
            a.received();
        }
        a.applied(4, 1);
        a.checkpointed(4, "0/16B3748");
        let text = reg.metrics();
        for want in [
            "# TYPE logferry_records_received_total counter",
            "logferry_records_received_total{pipeline=\"shop\"} 5",
            "logferry_records_applied_total{pipeline=\"shop\"} 3",
            "logferry_dead_letters_total{pipeline=\"shop\"} 1",
            "logferry_checkpoint_seq{pipeline=\"shop\"} 4",
            "logferry_checkpoint_age_seconds{pipeline=\"shop\"} 0.",
            "logferry_target_failing_lanes{pipeline=\"shop\"} 0",
            "logferry_up{pipeline=\"shop\"} 1",
            "logferry_lag_seconds{pipeline=\"shop\"} 0.000",
            "logferry_copy_tables_pending{pipeline=\"shop\"} 0",
            "# TYPE logferry_copy_rows_total counter",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("logferry_spool_bytes{"), "no spool, no series");
        assert!(!text.contains("logferry_source_behind_bytes{"), "the source did not say");
        a.spool_bytes(1234);
        a.source.set_behind_bytes(0);
        a.stopped(None);
        let text = reg.metrics();
        assert!(text.contains("logferry_spool_bytes{pipeline=\"shop\"} 1234") && text.contains("logferry_up{pipeline=\"shop\"} 0"), "{text}");
        assert!(text.contains("logferry_source_behind_bytes{pipeline=\"shop\"} 0"), "{text}");
    }

    #[test]
    fn per_table_counts_batch_histograms_retries_and_copies_are_exported() {
        let a = Arc::new(PipelineStats::new("shop"));
        let reg = registry(&[&a]);
        let rec = |schema: &str, name: &str, op: Op| Change {
            op: op as i32,
            table: Some(TableRef { schema: schema.into(), name: name.into() }),
            ..Default::default()
        };
        let batch = [rec("public", "orders", Op::Insert), rec("public", "orders", Op::Insert), rec("we\"ird", "t\nx", Op::Delete)];
        a.batch_applied(&batch, Duration::from_millis(3));
        a.batch_applied(&batch[..1], Duration::from_secs(120));
        a.target_retried();
        a.source.copy_started("public.orders", Some(1000));
        a.source.copy_chunk("public.orders", 250, false);
        a.source.copy_started("public.items", None);
        let text = reg.metrics();
        for want in [
            "logferry_table_records_applied_total{pipeline=\"shop\",table=\"public.orders\",op=\"insert\"} 3",
            "logferry_table_records_applied_total{pipeline=\"shop\",table=\"we\\\"ird.t\\nx\",op=\"delete\"} 1",
            "logferry_apply_batch_seconds_bucket{pipeline=\"shop\",le=\"0.001\"} 0",
            "logferry_apply_batch_seconds_bucket{pipeline=\"shop\",le=\"0.005\"} 1",
            "logferry_apply_batch_seconds_bucket{pipeline=\"shop\",le=\"60\"} 1",
            "logferry_apply_batch_seconds_bucket{pipeline=\"shop\",le=\"+Inf\"} 2",
            "logferry_apply_batch_seconds_count{pipeline=\"shop\"} 2",
            "logferry_apply_batch_seconds_sum{pipeline=\"shop\"} 120.003",
            "logferry_batch_rows_bucket{pipeline=\"shop\",le=\"1\"} 1",
            "logferry_batch_rows_bucket{pipeline=\"shop\",le=\"5\"} 2",
            "logferry_batch_rows_sum{pipeline=\"shop\"} 4",
            "logferry_target_retries_total{pipeline=\"shop\"} 1",
            "logferry_copy_rows_total{pipeline=\"shop\",table=\"public.orders\"} 250",
            "logferry_copy_rows_total{pipeline=\"shop\",table=\"public.items\"} 0",
            "logferry_copy_rows_estimate{pipeline=\"shop\",table=\"public.orders\"} 1000",
            "logferry_copy_tables_pending{pipeline=\"shop\"} 2",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("logferry_copy_rows_estimate{pipeline=\"shop\",table=\"public.items\""), "no estimate, no series");
    }

    #[test]
    fn the_rules_counters_reach_the_metrics() {
        use crate::config::OnInvalid;
        let a = Arc::new(PipelineStats::new("shop"));
        let reg = registry(&[&a]);
        let t = Arc::new(crate::transform::TransformStats::default());
        a.set_transform(t.clone());
        t.count_invalid(OnInvalid::Skip);
        t.count_invalid(OnInvalid::Skip);
        t.count_invalid(OnInvalid::DeadLetter);
        let text = reg.metrics();
        for want in [
            "logferry_records_invalid_total{pipeline=\"shop\"} 3",
            "logferry_records_skipped_total{pipeline=\"shop\"} 2",
            "logferry_records_filtered_total{pipeline=\"shop\"} 0",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }

    #[test]
    fn commit_latency_is_a_prometheus_summary() {
        let stats = Arc::new(PipelineStats::new("shop"));
        stats.transaction_applied(SystemTime::now() - Duration::from_millis(40));
        stats.transaction_applied(SystemTime::now() + Duration::from_secs(5));
        let l = stats.latency();
        assert_eq!(l.count, 2);
        // At least the 40 ms it was behind; the upper bound only leaves room
        // for the scheduler between the two clock reads (no timing asserted).
        assert!((40.0..1000.0).contains(&l.max_ms), "{l:?}");
        assert_eq!(l.p50_ms, 0.1, "a commit time ahead of this clock counts as 0: {l:?}");
        let text = registry(&[&stats]).metrics();
        assert!(text.contains("logferry_commit_latency_seconds_count{pipeline=\"shop\"} 2"), "{text}");
        let p99 = format!("logferry_commit_latency_seconds{{pipeline=\"shop\",quantile=\"0.99\"}} {:.6}", l.p99_ms / 1000.0);
        assert!(l.p99_ms >= 40.0 && text.contains(&p99), "{text}");
    }
}
