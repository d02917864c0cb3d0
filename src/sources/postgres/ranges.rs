//! Splitting big tables into primary-key ranges for the initial snapshot,
//! so several readers copy one table at the same time.
//!
//! A table is split when the snapshot has more than one reader, the table
//! has a primary key (not a rule's row key, which may repeat), it was not
//! partly copied unsplit by an earlier attempt, and the catalog estimates
//! at least two ranges of [`RANGE_ROWS`] rows. It gets one range per
//! `RANGE_ROWS` estimated rows, at most [`RANGES_PER_READER`] per reader.
//!
//! The bounds are keys sampled from the table (`TABLESAMPLE SYSTEM`, about
//! [`SAMPLE_PER_RANGE`] rows per range, sorted by the key) and taken at even
//! quantiles. They need not be exact: the ranges cover the whole key space
//! whatever the bounds are (the first range has no lower bound, the last no
//! upper one), so a skewed sample only makes ranges uneven, never loses a
//! row. The plan is kept in the snapshot progress (`KeyRange`), so a
//! resumed copy reads the same ranges, each after its own last key.

use super::catalog::Table;
use super::{sql_error, SourceResult};
use tokio_postgres::{Client, SimpleQueryMessage};

/// Rows per range (estimated): smaller tables are read whole.
pub const RANGE_ROWS: u64 = 50_000;
/// At most this many ranges per reader, so readers that finish early take
/// over the rest of a big table.
pub const RANGES_PER_READER: u64 = 4;
/// Sampled keys per range.
const SAMPLE_PER_RANGE: u64 = 100;

/// How many ranges a table of `estimate` rows is split into by `readers`
/// readers (1: not split).
pub fn range_count(estimate: Option<u64>, readers: usize) -> u64 {
    if readers < 2 {
        return 1;
    }
    (estimate.unwrap_or(0) / RANGE_ROWS).clamp(1, RANGES_PER_READER * readers as u64)
}

/// Bytes per row assumed for a table the catalog has no row estimate for
/// (never analysed): only the number of ranges depends on it.
const GUESS_ROW_BYTES: i64 = 100;

/// The rows of `t` as the catalog estimates them (`reltuples`), or its size
/// over [`GUESS_ROW_BYTES`] when it was never analysed.
pub async fn rough_rows(client: &Client, source: &str, t: &Table) -> SourceResult<u64> {
    let what = format!("estimating the rows of {}", t.qualified());
    let row = client
        .query_one(
            "SELECT CASE WHEN reltuples >= 1 THEN reltuples::int8 ELSE pg_relation_size(oid) / $2 END FROM pg_class WHERE oid = $1",
            &[&t.oid, &GUESS_ROW_BYTES],
        )
        .await
        .map_err(|e| sql_error(source, &what, &e))?;
    Ok(row.get::<_, i64>(0).max(0) as u64)
}

/// The upper bounds of `ranges` ranges of `t` (the last `None`), from a
/// sample of its keys; fewer when the sample has fewer distinct keys; one
/// range (`[None]`) when it has none.
pub async fn bounds(client: &Client, source: &str, t: &Table, estimate: u64, ranges: u64) -> SourceResult<Vec<Option<Vec<String>>>> {
    let keys = t.key.iter().map(|k| super::catalog::quote_ident(k)).collect::<Vec<_>>().join(", ");
    let percent = (100.0 * (SAMPLE_PER_RANGE * ranges) as f64 / estimate.max(1) as f64).clamp(0.001, 100.0);
    // The percentage is a number formatted here; the names are quoted.
    let sql = format!("SELECT {keys} FROM {} TABLESAMPLE SYSTEM ({percent:.6}) ORDER BY {keys}", t.quoted());
    let what = format!("sampling the keys of {} to split its copy", t.qualified());
    let msgs = client.simple_query(&sql).await.map_err(|e| sql_error(source, &what, &e))?;
    let sample: Vec<Vec<String>> = msgs
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((0..t.key.len()).map(|i| r.get(i).unwrap_or_default().to_string()).collect()),
            _ => None,
        })
        .collect();
    Ok(quantiles(sample, ranges))
}

/// Upper bounds at even quantiles of the sorted `sample` for `ranges`
/// ranges, without repeats, then `None` for the last range.
pub fn quantiles(sample: Vec<Vec<String>>, ranges: u64) -> Vec<Option<Vec<String>>> {
    let mut uppers: Vec<Option<Vec<String>>> = Vec::new();
    let m = sample.len() as u64;
    for i in 1..ranges {
        let at = (i * m / ranges) as usize;
        let Some(b) = sample.get(at) else { break };
        if uppers.last().is_some_and(|u| u.as_ref() == Some(b)) {
            continue;
        }
        uppers.push(Some(b.clone()));
    }
    uppers.push(None);
    uppers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &[&str]) -> Vec<Vec<String>> {
        v.iter().map(|k| vec![k.to_string()]).collect()
    }

    #[test]
    fn big_tables_get_a_range_per_fifty_thousand_rows_up_to_four_per_reader() {
        assert_eq!(range_count(Some(3_000_000), 1), 1, "one reader reads whole tables");
        assert_eq!(range_count(Some(99_999), 4), 1);
        assert_eq!(range_count(Some(100_000), 4), 2);
        assert_eq!(range_count(Some(3_000_000), 2), 8);
        assert_eq!(range_count(None, 4), 1, "no estimate, no split");
    }

    #[test]
    fn bounds_are_even_quantiles_of_the_sample_without_repeats() {
        let sample = keys(&["1", "2", "3", "4", "5", "6", "7", "8"]);
        assert_eq!(quantiles(sample, 4), vec![Some(vec!["3".into()]), Some(vec!["5".into()]), Some(vec!["7".into()]), None]);
        let skewed = keys(&["1", "1", "1", "1", "1", "1", "9", "9"]);
        assert_eq!(quantiles(skewed, 4), vec![Some(vec!["1".into()]), Some(vec!["9".into()]), None]);
        assert_eq!(quantiles(Vec::new(), 4), vec![None], "an empty sample leaves one range");
    }
}
