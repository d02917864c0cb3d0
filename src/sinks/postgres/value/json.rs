//! JSON text of a value, for json/jsonb columns and documents: the shared
//! writer of `sinks::json_text` with PostgreSQL's forms (no NUL in text,
//! ISO `T` timestamps).
use super::scalars::uuid;
use super::*;
use crate::record::{Date, Interval, Special, Time, Timestamp};
use crate::sinks::json_text::{self, JsonStyle};

/// JSON of a value: plain JSON for the SQL kinds, relaxed MongoDB Extended
/// JSON for the BSON-only ones.
pub fn json(v: &Value, out: &mut String) -> R<()> {
    json_text::write(v, out, &PostgresJson)
}

/// PostgreSQL's forms inside JSON: text without NUL, ISO `T` timestamps.
struct PostgresJson;

impl From<String> for RenderError {
    fn from(message: String) -> Self {
        RenderError(message)
    }
}

impl JsonStyle for PostgresJson {
    type Error = RenderError;
    fn check_text(&self, s: &str) -> R<()> {
        no_nul(s).map(drop)
    }
    fn uuid(&self, b: &[u8]) -> R<String> {
        uuid(b)
    }
    fn date(&self, d: &Date) -> R<String> {
        date(d)
    }
    fn time(&self, t: &Time) -> R<String> {
        Ok(time(t))
    }
    fn timestamp(&self, t: &Timestamp, tz: bool) -> R<String> {
        let s = timestamp(t, tz)?;
        Ok(if !tz {
            s.replacen(' ', "T", 1)
        } else if t.special == Special::Finite as i32 {
            s.replacen(' ', "T", 1).replacen("+00", "+00:00", 1)
        } else {
            s
        })
    }
    fn interval(&self, i: &Interval) -> String {
        interval(i)
    }
}
