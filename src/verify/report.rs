//! What `verify` found, per table pair, as text for a terminal or JSON.

use super::compare::{key_text, Differences, Key};
use std::time::Duration;

/// The result of one source table against one target table.
#[derive(Debug, Clone)]
pub struct TableReport {
    /// The pipeline.
    pub pipeline: String,
    /// The source table, `schema.name`.
    pub source: String,
    /// The target and its table, e.g. `postgres:127.0.0.1:5432/shop public.items`.
    pub target: String,
    /// What was found.
    pub status: Status,
    /// Things the reader should know (re-checks, a pipeline behind, repairs).
    pub notes: Vec<String>,
}

/// What was found for one pair.
#[derive(Debug, Clone)]
pub enum Status {
    /// The target cannot be read back (file, brokers, http), or the pair
    /// cannot be paired by key; not a failure.
    NotVerifiable(String),
    /// Both sides were read.
    Compared(Compared),
    /// Reading failed.
    Failed(String),
}

/// The figures of a comparison.
#[derive(Debug, Clone, Default)]
pub struct Compared {
    /// Ranges were compared by in-database digests (else row by row).
    pub by_digests: bool,
    /// Source rows looked at.
    pub rows: u64,
    /// The keys that differ (all of them).
    pub differences: Differences,
    /// Key column names in the source (missing, different) and the target (extra).
    pub source_key: Vec<String>,
    /// See `source_key`.
    pub target_key: Vec<String>,
    /// Wall time of the comparison.
    pub elapsed: Duration,
}

impl TableReport {
    /// True when the pair differs or could not be read.
    pub fn is_failure(&self) -> bool {
        match &self.status {
            Status::NotVerifiable(_) => false,
            Status::Compared(c) => !c.differences.is_empty(),
            Status::Failed(_) => true,
        }
    }

    /// The differing keys, if the pair was compared.
    pub fn differences(&self) -> Option<&Differences> {
        match &self.status {
            Status::Compared(c) => Some(&c.differences),
            _ => None,
        }
    }

    /// The comparison, if the pair was compared.
    pub fn compared_mut(&mut self) -> Option<&mut Compared> {
        match &mut self.status {
            Status::Compared(c) => Some(c),
            _ => None,
        }
    }
}

fn keys_text(names: &[String], keys: &[Key], limit: usize) -> String {
    let mut shown: Vec<String> = keys.iter().take(limit).map(|k| key_text(names, k)).collect();
    if keys.len() > limit {
        shown.push(format!("… {} more", keys.len() - limit));
    }
    shown.join(" ")
}

/// The report as lines for a terminal; `limit` keys of each kind listed.
pub fn text(reports: &[TableReport], notes: &[String], limit: usize) -> String {
    let mut out = String::new();
    for r in reports {
        let head = format!("{}: {} → {}", r.pipeline, r.source, r.target);
        match &r.status {
            Status::NotVerifiable(why) => out.push_str(&format!("{head}: not verifiable ({why})\n")),
            Status::Failed(why) => out.push_str(&format!("{head}: FAILED: {why}\n")),
            Status::Compared(c) => {
                let how = if c.by_digests { "in-database digests" } else { "row by row" };
                let figures = format!("{} rows, {how}, {:.1}s", c.rows, c.elapsed.as_secs_f64());
                let d = &c.differences;
                if d.is_empty() {
                    out.push_str(&format!("{head}: equal ({figures})\n"));
                } else {
                    out.push_str(&format!(
                        "{head}: DIFFERENT: {} missing, {} extra, {} different ({figures})\n",
                        d.missing.len(),
                        d.extra.len(),
                        d.different.len()
                    ));
                    for (what, names, keys) in [
                        ("missing in the target", &c.source_key, &d.missing),
                        ("extra in the target", &c.target_key, &d.extra),
                        ("different", &c.source_key, &d.different),
                    ] {
                        if !keys.is_empty() {
                            out.push_str(&format!("  {what} ({}): {}\n", keys.len(), keys_text(names, keys, limit)));
                        }
                    }
                }
            }
        }
        for n in &r.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
    }
    for n in notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

fn keys_json(names: &[String], keys: &[Key], limit: usize) -> serde_json::Value {
    serde_json::json!({
        "count": keys.len(),
        "keys": keys
            .iter()
            .take(limit)
            .map(|k| serde_json::from_str::<serde_json::Value>(&key_text(names, k)).unwrap_or(serde_json::Value::Null))
            .collect::<Vec<_>>(),
    })
}

/// The report as one JSON document.
pub fn json(reports: &[TableReport], notes: &[String], limit: usize) -> serde_json::Value {
    let tables: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            let mut o = serde_json::json!({
                "pipeline": r.pipeline,
                "source": r.source,
                "target": r.target,
                "notes": r.notes,
            });
            let extra = match &r.status {
                Status::NotVerifiable(why) => serde_json::json!({"status": "not_verifiable", "reason": why}),
                Status::Failed(why) => serde_json::json!({"status": "failed", "error": why}),
                Status::Compared(c) => serde_json::json!({
                    "status": if c.differences.is_empty() { "equal" } else { "different" },
                    "compared_by": if c.by_digests { "digests" } else { "rows" },
                    "rows": c.rows,
                    "seconds": c.elapsed.as_secs_f64(),
                    "missing": keys_json(&c.source_key, &c.differences.missing, limit),
                    "extra": keys_json(&c.target_key, &c.differences.extra, limit),
                    "different": keys_json(&c.source_key, &c.differences.different, limit),
                }),
            };
            if let (Some(o), serde_json::Value::Object(e)) = (o.as_object_mut(), extra) {
                o.extend(e);
            }
            o
        })
        .collect();
    serde_json::json!({
        "equal": !reports.iter().any(TableReport::is_failure),
        "tables": tables,
        "notes": notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Value;

    #[test]
    fn differences_list_at_most_limit_keys_and_count_all() {
        let keys: Vec<Key> = (1..=12).map(|i| vec![Value::int64(i)]).collect();
        let r = TableReport {
            pipeline: "p".into(),
            source: "public.t".into(),
            target: "postgres:h:1/db public.t".into(),
            status: Status::Compared(Compared {
                rows: 100,
                differences: Differences { missing: keys.clone(), extra: vec![vec![Value::int64(99)]], different: Vec::new() },
                source_key: vec!["id".into()],
                target_key: vec!["id".into()],
                ..Default::default()
            }),
            notes: vec!["a note".into()],
        };
        let t = text(std::slice::from_ref(&r), &[], 10);
        assert!(t.contains("DIFFERENT: 12 missing, 1 extra, 0 different"), "{t}");
        assert!(t.contains(r#"missing in the target (12): {"id":1} {"id":2}"#), "{t}");
        assert!(t.contains("… 2 more"), "{t}");
        assert!(t.contains(r#"extra in the target (1): {"id":99}"#), "{t}");
        let j = json(&[r], &[], 10);
        assert_eq!(j["equal"], false);
        assert_eq!(j["tables"][0]["status"], "different");
        assert_eq!(j["tables"][0]["missing"]["count"], 12);
        assert_eq!(j["tables"][0]["missing"]["keys"].as_array().unwrap().len(), 10);
        assert_eq!(j["tables"][0]["missing"]["keys"][0], serde_json::json!({"id": 1}));
    }
}
