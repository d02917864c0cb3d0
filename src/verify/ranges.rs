//! Walking a table pair: by key ranges with digests computed inside the
//! databases, or row by row.
//!
//! **By digests** ([`by_digests`], two sides of one SQL engine whose rules
//! change no value): the source is cut into ranges of `range` keys
//! (`(lo, hi]`, every `range`-th key of the source read in one pass over
//! its key index; the first
//! range starts before every key and the last ends after every key, so a
//! target row before the first or after the last source key falls in a
//! range too). Each side computes the range's digest (row count and a sum
//! of row hashes) in its database, both at once; only the digests cross
//! the network. A range whose digests differ is cut into `split` pieces at
//! source keys, and those compared the same way, until a piece holds at
//! most `leaf` source rows: its rows are then read from both sides and
//! paired by key.
//!
//! **By rows** ([`by_rows`], anything else: two engines, filters, masks,
//! MongoDB): both sides are read in key order, chunk by chunk, and every
//! source row — shaped by the rules as the targets get it — is paired
//! with the target row of its key (see `compare::Matcher`).

use super::compare::{Differences, Key, Matcher, RowRules};
use super::side::{Bound, Side, SideRow};
use super::VerifyError;
use crate::record::Row;

/// How a walk cuts the table.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Source rows per top-level range.
    pub range: u64,
    /// Pieces a differing range is cut into.
    pub split: u64,
    /// A differing range of at most this many source rows is compared row by row.
    pub leaf: u64,
    /// Rows read per query when reading rows.
    pub fetch: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        // 10 000 → 1 000 → 100: three levels of digests find a differing
        // row in a range; one digest of 10 000 rows costs a few
        // milliseconds in either engine.
        Sizes { range: 10_000, split: 10, leaf: 100, fetch: 2_000 }
    }
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The differing keys.
    pub differences: Differences,
    /// Source rows looked at (in equal ranges, or read one by one).
    pub compared: u64,
    /// Digest queries run on each side.
    pub digests: u64,
}

/// Shapes a source row (and its key) as the target should hold it: the
/// key in the target's form, and the row (`None`: the rules keep it from
/// the target).
pub type Expect<'a> = &'a (dyn Fn(&Row, Key) -> (Key, Option<Row>) + Sync);

/// Compares by ranges and digests (see the module docs). `progress` is
/// told the source rows compared as they are.
pub async fn by_digests(
    src: &mut dyn Side,
    tgt: &mut dyn Side,
    sizes: Sizes,
    expect: Expect<'_>,
    rules: RowRules,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<Outcome, VerifyError> {
    let mut matcher = Matcher::new(rules);
    let mut out = Outcome::default();
    // Every range's upper key at once: one pass over the source's key index.
    let mut cuts = vec![Bound::Min];
    cuts.extend(src.split_points(&Bound::Min, &Bound::Max, sizes.range).await?.into_iter().map(Bound::At));
    cuts.push(Bound::Max);
    for w in cuts.windows(2) {
        let (lo, hi) = (&w[0], &w[1]);
        // Ranges still to look at, the deepest first.
        let mut todo = vec![(lo.clone(), hi.clone())];
        while let Some((a, b)) = todo.pop() {
            let (ds, dt) = tokio::join!(src.digest(&a, &b), tgt.digest(&a, &b));
            let (ds, dt) = (ds?, dt?);
            out.digests += 1;
            if ds == dt {
                out.compared += ds.count;
                progress(ds.count);
                continue;
            }
            if ds.count <= sizes.leaf {
                let n = compare_rows(src, tgt, &a, &b, sizes.fetch, expect, &mut matcher).await?;
                out.compared += n;
                progress(n);
                continue;
            }
            let step = ds.count.div_ceil(sizes.split).max(sizes.leaf);
            let points = src.split_points(&a, &b, step).await?;
            let mut cuts: Vec<Bound> = Vec::with_capacity(points.len() + 2);
            cuts.push(a);
            cuts.extend(points.into_iter().map(Bound::At).filter(|p| *p != b));
            cuts.push(b);
            // Pushed in reverse so the pieces are looked at in key order.
            for w in cuts.windows(2).rev() {
                todo.push((w[0].clone(), w[1].clone()));
            }
        }
    }
    out.differences = matcher.finish();
    Ok(out)
}

/// Reads `(lo, hi]` from both sides, page by page, into `matcher`;
/// returns the source rows read.
async fn compare_rows(
    src: &mut dyn Side,
    tgt: &mut dyn Side,
    lo: &Bound,
    hi: &Bound,
    fetch: usize,
    expect: Expect<'_>,
    matcher: &mut Matcher,
) -> Result<u64, VerifyError> {
    let (a, b) = tokio::join!(all_rows(src, lo, hi, fetch), all_rows(tgt, lo, hi, fetch));
    let a = a?;
    let n = a.len() as u64;
    for r in a {
        let (key, e) = expect(&r.row, r.key);
        matcher.source(key, e);
    }
    for r in b? {
        matcher.target(r.key, r.row);
    }
    Ok(n)
}

/// Every row of `(lo, hi]`, read `fetch` at a time.
async fn all_rows(side: &mut dyn Side, lo: &Bound, hi: &Bound, fetch: usize) -> Result<Vec<SideRow>, VerifyError> {
    let mut out = Vec::new();
    let mut from = lo.clone();
    loop {
        let page = side.rows(&from, hi, fetch).await?;
        let n = page.len();
        if let Some(last) = page.last() {
            from = Bound::At(last.point.clone());
        }
        out.extend(page);
        if n < fetch {
            return Ok(out);
        }
    }
}

/// Compares row by row (see the module docs).
pub async fn by_rows(
    src: &mut dyn Side,
    tgt: &mut dyn Side,
    fetch: usize,
    expect: Expect<'_>,
    rules: RowRules,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<Outcome, VerifyError> {
    let mut matcher = Matcher::new(rules);
    let (mut src_done, mut tgt_done) = (false, false);
    let mut out = Outcome::default();
    while !(src_done && tgt_done) {
        let (a, b) = tokio::join!(
            async {
                match src_done {
                    true => Ok(Vec::new()),
                    false => src.scan(fetch).await,
                }
            },
            async {
                match tgt_done {
                    true => Ok(Vec::new()),
                    false => tgt.scan(fetch).await,
                }
            }
        );
        let (a, b) = (a?, b?);
        src_done |= a.is_empty();
        tgt_done |= b.is_empty();
        let n = a.len() as u64;
        for r in a {
            let (key, e) = expect(&r.row, r.key);
            matcher.source(key, e);
        }
        for r in b {
            matcher.target(r.key, r.row);
        }
        out.compared += n;
        progress(n);
    }
    out.differences = matcher.finish();
    Ok(out)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::record::Value;
    use crate::verify::compare::key_of;
    use crate::verify::side::{Digest, Point};
    use crate::BoxFuture;
    use std::collections::BTreeMap;

    /// A table in memory, keyed by an integer `id`; digests are computed
    /// here the way a database would, and every call is counted.
    pub struct Mem {
        pub rows: BTreeMap<i64, String>,
        pub digests: u64,
        pub rows_read: u64,
        scanned: Option<i64>,
    }

    impl Mem {
        pub fn new(rows: impl IntoIterator<Item = (i64, String)>) -> Self {
            Mem { rows: rows.into_iter().collect(), digests: 0, rows_read: 0, scanned: None }
        }

        fn range(&self, lo: &Bound, hi: &Bound) -> impl Iterator<Item = (&i64, &String)> {
            let (lo, hi) = (bound(lo, i64::MIN), bound(hi, i64::MAX));
            self.rows.iter().filter(move |(k, _)| (lo.is_none() || **k > lo.unwrap()) && (hi.is_none() || **k <= hi.unwrap()))
        }

        fn side_row(k: i64, v: &str) -> SideRow {
            let row = Row::from_pairs([("id", Value::int64(k)), ("v", Value::text(v))]);
            SideRow { key: key_of(&row, &["id".into()]), point: Point(vec![Some(k.to_string().into_bytes())]), row }
        }
    }

    fn bound(b: &Bound, _: i64) -> Option<i64> {
        match b {
            Bound::At(p) => Some(String::from_utf8(p.0[0].clone().unwrap()).unwrap().parse().unwrap()),
            _ => None,
        }
    }

    fn hash(k: i64, v: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (k, v).hash(&mut h);
        h.finish() >> 4
    }

    impl Side for Mem {
        fn describe(&self) -> String {
            "memory".into()
        }
        fn key_columns(&self) -> &[String] {
            static KEY: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
            KEY.get_or_init(|| vec!["id".into()])
        }
        fn estimate(&mut self) -> BoxFuture<'_, Result<Option<u64>, VerifyError>> {
            Box::pin(async move { Ok(Some(self.rows.len() as u64)) })
        }
        fn scan(&mut self, n: usize) -> BoxFuture<'_, Result<Vec<SideRow>, VerifyError>> {
            Box::pin(async move {
                let from = self.scanned;
                let page: Vec<SideRow> = self
                    .rows
                    .iter()
                    .filter(|(k, _)| from.is_none_or(|f| **k > f))
                    .take(n)
                    .map(|(k, v)| Mem::side_row(*k, v))
                    .collect();
                if let Some(last) = page.last() {
                    self.scanned = last.row.get("id").and_then(|v| match v.kind {
                        Some(crate::record::value::Kind::Int64(i)) => Some(i),
                        _ => None,
                    });
                }
                self.rows_read += page.len() as u64;
                Ok(page)
            })
        }
        fn by_keys<'a>(&'a mut self, keys: &'a [Key]) -> BoxFuture<'a, Result<Vec<SideRow>, VerifyError>> {
            Box::pin(async move {
                Ok(keys
                    .iter()
                    .filter_map(|k| match k[0].kind {
                        Some(crate::record::value::Kind::Int64(i)) => self.rows.get(&i).map(|v| Mem::side_row(i, v)),
                        _ => None,
                    })
                    .collect())
            })
        }
        fn split_points<'a>(&'a mut self, lo: &'a Bound, hi: &'a Bound, step: u64) -> BoxFuture<'a, Result<Vec<Point>, VerifyError>> {
            Box::pin(async move {
                Ok(self
                    .range(lo, hi)
                    .enumerate()
                    .filter(|(i, _)| (*i as u64 + 1) % step == 0)
                    .map(|(_, (k, _))| Point(vec![Some(k.to_string().into_bytes())]))
                    .collect())
            })
        }
        fn digest<'a>(&'a mut self, lo: &'a Bound, hi: &'a Bound) -> BoxFuture<'a, Result<Digest, VerifyError>> {
            Box::pin(async move {
                self.digests += 1;
                let (mut count, mut sum) = (0u64, 0u128);
                for (k, v) in self.range(lo, hi) {
                    count += 1;
                    sum += u128::from(hash(*k, v));
                }
                Ok(Digest { count, sum: sum.to_string() })
            })
        }
        fn rows<'a>(&'a mut self, lo: &'a Bound, hi: &'a Bound, limit: usize) -> BoxFuture<'a, Result<Vec<SideRow>, VerifyError>> {
            Box::pin(async move {
                let page: Vec<SideRow> = self.range(lo, hi).take(limit).map(|(k, v)| Mem::side_row(*k, v)).collect();
                self.rows_read += page.len() as u64;
                Ok(page)
            })
        }
    }

    fn table(n: i64) -> Mem {
        Mem::new((1..=n).map(|k| (k * 2, format!("v{k}"))))
    }

    fn ids(keys: &[Key]) -> Vec<i64> {
        keys.iter()
            .map(|k| match k[0].kind {
                Some(crate::record::value::Kind::Int64(i)) => i,
                _ => panic!("{k:?}"),
            })
            .collect()
    }

    fn same(row: &Row, key: Key) -> (Key, Option<Row>) {
        (key, Some(row.clone()))
    }

    #[tokio::test]
    async fn equal_tables_cost_one_digest_per_range_and_read_no_rows() {
        let (mut a, mut b) = (table(100_000), table(100_000));
        let mut seen = 0;
        let out = by_digests(&mut a, &mut b, Sizes::default(), &same, RowRules::default(), &mut |n| seen += n).await.unwrap();
        assert!(out.differences.is_empty());
        assert_eq!((out.compared, seen), (100_000, 100_000));
        // 10 ranges of 10 000, plus the empty range after the last key.
        assert_eq!(out.digests, 11);
        assert_eq!(a.rows_read + b.rows_read, 0, "no row crosses the network");
    }

    #[tokio::test]
    async fn differing_ranges_are_split_down_to_the_differing_keys() {
        let (mut a, mut b) = (table(100_000), table(100_000));
        b.rows.insert(5_000, "changed".into()); // different
        b.rows.remove(&123_456); // missing
        b.rows.insert(77_777, "new".into()); // extra, between source keys
        b.rows.insert(-5, "before".into()); // extra, before the first source key
        b.rows.insert(1_000_001, "after".into()); // extra, after the last source key
        let out = by_digests(&mut a, &mut b, Sizes::default(), &same, RowRules::default(), &mut |_| {}).await.unwrap();
        let d = &out.differences;
        assert_eq!(ids(&d.different), [5_000]);
        assert_eq!(ids(&d.missing), [123_456]);
        assert_eq!(ids(&d.extra), [-5, 77_777, 1_000_001]);
        assert_eq!(out.compared, 100_000, "every source row is accounted for");
        // Four differing leaves (-5 and 5 000 fall in two pieces of the
        // first range), each found by splitting 10 000 → 1 000 → 100:
        // far fewer digests than rows, and only the leaves' rows were read.
        assert!(out.digests < 100, "{} digests", out.digests);
        assert_eq!(a.rows_read, 4 * 100, "source rows read");
    }

    #[tokio::test]
    async fn a_target_missing_everything_is_reported_key_by_key() {
        let (mut a, mut b) = (table(1_234), Mem::new([]));
        let out = by_digests(&mut a, &mut b, Sizes::default(), &same, RowRules::default(), &mut |_| {}).await.unwrap();
        assert_eq!(out.differences.missing.len(), 1_234);
        assert!(out.differences.extra.is_empty() && out.differences.different.is_empty());
        // An empty source against a full target: all extra.
        let (mut a, mut b) = (Mem::new([]), table(345));
        let out = by_digests(&mut a, &mut b, Sizes::default(), &same, RowRules::default(), &mut |_| {}).await.unwrap();
        assert_eq!(out.differences.extra.len(), 345);
    }

    #[tokio::test]
    async fn row_by_row_finds_the_same_differences() {
        let (mut a, mut b) = (table(10_000), table(10_000));
        b.rows.insert(50, "changed".into());
        b.rows.remove(&60);
        b.rows.insert(61, "new".into());
        let out = by_rows(&mut a, &mut b, 777, &same, RowRules::default(), &mut |_| {}).await.unwrap();
        assert_eq!(ids(&out.differences.different), [50]);
        assert_eq!(ids(&out.differences.missing), [60]);
        assert_eq!(ids(&out.differences.extra), [61]);
        assert_eq!(out.compared, 10_000);
    }
}
