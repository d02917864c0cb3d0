//! Date, time (also MySQL `TIME` as interval input), timestamp and
//! interval input text: BC years, `±infinity`, and the MySQL zero dates
//! refused with the reason.
use super::*;
use crate::record::calendar::civil_from_days;
use crate::record::{Date, Interval, Special, Time, Timestamp};
use std::fmt::Write as _;

/// `YYYY-MM-DD` and whether the year is BC (PostgreSQL writes the era last).
fn ymd(days: i64) -> (String, bool) {
    let (y, m, d) = civil_from_days(days);
    if y <= 0 {
        (format!("{:04}-{m:02}-{d:02}", 1 - y), true)
    } else {
        (format!("{y:04}-{m:02}-{d:02}"), false)
    }
}

/// `what` names the kind for messages: `date` or `timestamp`.
fn special(s: i32, what: &str) -> R<Option<&'static str>> {
    match Special::try_from(s) {
        Ok(Special::Finite) => Ok(None),
        Ok(Special::PosInfinity) => Ok(Some("infinity")),
        Ok(Special::NegInfinity) => Ok(Some("-infinity")),
        Ok(Special::Zero) => {
            let (name, zero) = if what == "date" { ("date", "'0000-00-00'") } else { ("datetime/timestamp", "'0000-00-00 00:00:00'") };
            err(format!(
                "the MySQL zero {name} {zero} cannot be stored: PostgreSQL has no such {what}, and logferry never \
                 replaces it with NULL or another value; set it to NULL or a real {what} on the source, or keep \
                 it from the target with a [[pipeline.table]] rule (exclude_columns, mask = \"null\", or a filter)"
            ))
        }
        Err(_) => err(format!("unknown special {what} value {s}")),
    }
}

/// Date input text.
pub fn date(d: &Date) -> R<String> {
    if let Some(s) = special(d.special, "date")? {
        return Ok(s.into());
    }
    let (text, bc) = ymd(i64::from(d.days));
    Ok(if bc { text + " BC" } else { text })
}

fn hms(micros_abs: u64, out: &mut String) {
    let h = micros_abs / 3_600_000_000;
    let m = micros_abs / 60_000_000 % 60;
    let s = micros_abs / 1_000_000 % 60;
    let f = micros_abs % 1_000_000;
    let _ = write!(out, "{h:02}:{m:02}:{s:02}");
    if f != 0 {
        let frac = format!("{f:06}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
}

/// Time (or timetz) input text.
pub fn time(t: &Time) -> String {
    let mut out = String::new();
    if t.micros < 0 {
        out.push('-');
    }
    hms(t.micros.unsigned_abs(), &mut out);
    if t.has_offset {
        let o = t.offset_seconds;
        let a = o.unsigned_abs();
        let _ = write!(out, "{}{:02}:{:02}", if o < 0 { '-' } else { '+' }, a / 3600, a / 60 % 60);
        if a % 60 != 0 {
            let _ = write!(out, ":{:02}", a % 60);
        }
    }
    out
}

/// Timestamp input text; `tz` adds the UTC offset `+00`.
pub fn timestamp(t: &Timestamp, tz: bool) -> R<String> {
    if let Some(s) = special(t.special, "timestamp")? {
        return Ok(s.into());
    }
    let secs = i128::from(t.seconds) + i128::from(t.nanos / 1_000_000_000);
    let nanos = t.nanos % 1_000_000_000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let days = i64::try_from(days).map_err(|_| RenderError("timestamp out of range".into()))?;
    let (date, bc) = ymd(days);
    let mut out = date;
    let _ = write!(out, " {:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60);
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    if tz {
        out.push_str("+00");
    }
    if bc {
        out.push_str(" BC");
    }
    Ok(out)
}

/// Interval input text: each field exact and independent.
pub fn interval(i: &Interval) -> String {
    format!("{} mons {} days {} microseconds", i.months, i.days, i.micros)
}
