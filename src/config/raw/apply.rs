//! `[pipeline.apply]`: lanes, batches, queue bounds, retries and
//! checkpoint interval, with the ranges each may take.
use super::*;

/// Upper bound on `lanes`: each lane is a task with its own queue and sink
/// connection; more than this is a typo, not a tuning choice.
const MAX_LANES: i64 = 1024;
/// `max_retries` without a limit (the default).
const UNLIMITED: &str = "unlimited";

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawOrdering {
    Key,
    Transaction,
}

/// Counts are read as `i64` so that `0` and `-1` get our own message
/// (with the allowed range) rather than serde's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApply {
    lanes: Option<i64>,
    batch_max_rows: Option<i64>,
    batch_max_wait: Option<Quantity>,
    ordering: Option<RawOrdering>,
    queue_max_records: Option<i64>,
    queue_max_bytes: Option<Quantity>,
    max_retries: Option<RawRetries>,
    retry_backoff: Option<Quantity>,
    retry_max_backoff: Option<Quantity>,
    checkpoint_interval: Option<Quantity>,
    early_apply: Option<bool>,
}

/// `max_retries` as written: a count, or the word `"unlimited"` (checked
/// in validation, so that every wrong value gets the same message).
#[derive(Debug, Clone)]
enum RawRetries {
    Count(i64),
    Word(String),
}

impl<'de> Deserialize<'de> for RawRetries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RawRetries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("\"unlimited\" or a number of retries like 10")
            }
            fn visit_i64<E>(self, v: i64) -> Result<RawRetries, E> {
                Ok(RawRetries::Count(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<RawRetries, E> {
                Ok(RawRetries::Count(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E>(self, v: &str) -> Result<RawRetries, E> {
                Ok(RawRetries::Word(v.to_owned()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl RawApply {
    pub(super) fn validate(self, key: &str) -> Result<ApplyConfig, Invalid> {
        let d = ApplyConfig::default();
        let k = |leaf: &str| format!("{key}.{leaf}");

        let mut lanes = d.lanes;
        if let Some(v) = self.lanes {
            if !(1..=MAX_LANES).contains(&v) {
                return Err(invalid(
                    k("lanes"),
                    format!("found {v}; expected 1 to {MAX_LANES} (default {})", d.lanes),
                ));
            }
            lanes = v as usize;
        }
        let mut batch_max_rows = d.batch_max_rows;
        if let Some(v) = self.batch_max_rows {
            batch_max_rows = usize::try_from(v).ok().filter(|&v| v >= 1).ok_or_else(|| {
                invalid(
                    k("batch_max_rows"),
                    format!(
                        "found {v}; expected at least 1 (default {})",
                        d.batch_max_rows
                    ),
                )
            })?;
        }
        let mut queue_max_records = d.queue_max_records;
        if let Some(v) = self.queue_max_records {
            queue_max_records = usize::try_from(v).unwrap_or(0);
        }
        if queue_max_records < batch_max_rows {
            let found = self.queue_max_records.unwrap_or(queue_max_records as i64);
            return Err(invalid(
                k("queue_max_records"),
                format!(
                    "found {found}, less than batch_max_rows ({batch_max_rows}); expected at \
                     least batch_max_rows so that a full batch fits in the queue \
                     (default {})",
                    d.queue_max_records
                ),
            ));
        }
        let queue_max_bytes = match self.queue_max_bytes {
            None => d.queue_max_bytes,
            Some(q) => match parse_size(&q) {
                Ok(0) => {
                    return Err(invalid(
                        k("queue_max_bytes"),
                        format!("found 0; expected more than 0 bytes, as {SIZE_FORM}"),
                    ))
                }
                Ok(v) => v,
                Err(m) => return Err(invalid(k("queue_max_bytes"), m)),
            },
        };
        let duration = |leaf: &str, q: Option<Quantity>, default: Duration, allow_zero: bool| {
            let Some(q) = q else { return Ok(default) };
            match parse_duration(&q) {
                Ok(v) if v.is_zero() && !allow_zero => Err(invalid(
                    k(leaf),
                    format!("found 0; expected more than 0, as {DURATION_FORM}"),
                )),
                Ok(v) => Ok(v),
                Err(m) => Err(invalid(k(leaf), m)),
            }
        };
        let batch_max_wait = duration(
            "batch_max_wait",
            self.batch_max_wait,
            d.batch_max_wait,
            true,
        )?;
        let retry_backoff = duration("retry_backoff", self.retry_backoff, d.retry_backoff, false)?;
        let retry_max_backoff = duration(
            "retry_max_backoff",
            self.retry_max_backoff,
            d.retry_max_backoff,
            false,
        )?;
        let checkpoint_interval = duration(
            "checkpoint_interval",
            self.checkpoint_interval,
            d.checkpoint_interval,
            false,
        )?;
        if retry_max_backoff < retry_backoff {
            return Err(invalid(
                k("retry_max_backoff"),
                format!(
                    "found {retry_max_backoff:?}, less than retry_backoff ({retry_backoff:?}); \
                     expected at least retry_backoff"
                ),
            ));
        }

        let max_retries = match self.max_retries {
            None => d.max_retries,
            Some(RawRetries::Word(w)) if w == UNLIMITED => None,
            Some(RawRetries::Count(v)) if u32::try_from(v).is_ok() => Some(v as u32),
            Some(found) => {
                let found = match found {
                    RawRetries::Count(v) => v.to_string(),
                    RawRetries::Word(w) => format!("{w:?}"),
                };
                return Err(invalid(
                    k("max_retries"),
                    format!(
                        "found {found}; expected \"{UNLIMITED}\" (the default: retry until the \
                         target is back) or a number of retries from 0 to {}",
                        u32::MAX
                    ),
                ));
            }
        };

        let ordering = match self.ordering {
            None | Some(RawOrdering::Key) => Ordering::Key,
            Some(RawOrdering::Transaction) => Ordering::Transaction,
        };
        if ordering == Ordering::Transaction {
            // Whole transactions in commit order: one lane by definition.
            lanes = 1;
        }
        Ok(ApplyConfig {
            lanes,
            batch_max_rows,
            batch_max_wait,
            ordering,
            queue_max_records,
            queue_max_bytes,
            max_retries,
            retry_backoff,
            retry_max_backoff,
            checkpoint_interval,
            early_apply: self.early_apply.unwrap_or(d.early_apply),
        })
    }
}
