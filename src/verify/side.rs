//! One side of a comparison: a source table or a target table, read with
//! the reader of its engine (`postgres`, `mysql`, `mongodb`).
//!
//! A side reads rows as canonical values ([`SideRow`]), by key range, in
//! key order chunk after chunk ([`Side::scan`]) or by key
//! ([`Side::by_keys`]); an SQL side also computes a range's digest inside
//! its database ([`Side::digest`]). Ranges are bounded by [`Point`]s: key
//! values in the engine's own text, which the same engine on the other
//! side reads back exactly (ranges are only used between two sides of
//! one engine; see `ranges`).

use super::compare::Key;
use super::VerifyError;
use crate::record::Row;
use crate::BoxFuture;

/// A key in the engine's own text form, one entry per key column (the
/// text PostgreSQL prints; the bytes MySQL's text protocol returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point(pub Vec<Option<Vec<u8>>>);

/// One end of a key range `(lower, upper]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    /// Before every key.
    Min,
    /// At this key (excluded as a lower end, included as an upper end).
    At(Point),
    /// After every key.
    Max,
}

/// ` WHERE (keys) > (lo) AND (keys) <= (hi)` for SQL engines, or nothing
/// for the whole key space; `point` writes a key as the engine's literals.
pub fn range_where(keys: &str, lo: &Bound, hi: &Bound, point: impl Fn(&Point) -> String) -> String {
    let mut conds = Vec::new();
    if let Bound::At(p) = lo {
        conds.push(format!("({keys}) > ({})", point(p)));
    }
    if let Bound::At(p) = hi {
        conds.push(format!("({keys}) <= ({})", point(p)));
    }
    if matches!(lo, Bound::Max) || matches!(hi, Bound::Min) {
        conds.push("FALSE".into());
    }
    match conds.is_empty() {
        true => String::new(),
        false => format!(" WHERE {}", conds.join(" AND ")),
    }
}

/// What the database says about a range: its rows and a sum of their
/// hashes. Equal digests mean equal rows (up to a 64-bit hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// Rows in the range.
    pub count: u64,
    /// The sum of the rows' 64-bit hashes, as the database prints it.
    pub sum: String,
}

/// A row as a side read it.
#[derive(Debug, Clone, PartialEq)]
pub struct SideRow {
    /// The key's values.
    pub key: Key,
    /// The key in the engine's text, to continue after it.
    pub point: Point,
    /// Every column.
    pub row: Row,
}

/// A table of one engine, ready to read (see the module docs).
pub trait Side: Send {
    /// `postgres:host:port/db schema.table`, for messages and the report.
    fn describe(&self) -> String;

    /// The key columns, in key order.
    fn key_columns(&self) -> &[String];

    /// Columns of fixed-width text (`char(n)`), compared without trailing spaces.
    fn padded_columns(&self) -> Vec<String> {
        Vec::new()
    }

    /// The database's estimate of the table's rows (for progress).
    fn estimate(&mut self) -> BoxFuture<'_, Result<Option<u64>, VerifyError>>;

    /// Up to `n` rows after the last one returned (from the start on the
    /// first call), in key order; empty at the end.
    fn scan(&mut self, n: usize) -> BoxFuture<'_, Result<Vec<SideRow>, VerifyError>>;

    /// The rows with these keys (those that exist), in any order.
    fn by_keys<'a>(&'a mut self, keys: &'a [Key]) -> BoxFuture<'a, Result<Vec<SideRow>, VerifyError>>;

    /// Keys that cut `(lo, hi]` into pieces of `step` rows (the last piece
    /// may be shorter), in key order, `hi` not included.
    fn split_points<'a>(&'a mut self, _lo: &'a Bound, _hi: &'a Bound, _step: u64) -> BoxFuture<'a, Result<Vec<Point>, VerifyError>> {
        Box::pin(async move { Err(self.no_ranges()) })
    }

    /// The digest of the rows in `(lo, hi]`, over the digest columns.
    fn digest<'a>(&'a mut self, _lo: &'a Bound, _hi: &'a Bound) -> BoxFuture<'a, Result<Digest, VerifyError>> {
        Box::pin(async move { Err(self.no_ranges()) })
    }

    /// Up to `limit` rows of `(lo, hi]` in key order.
    fn rows<'a>(&'a mut self, _lo: &'a Bound, _hi: &'a Bound, _limit: usize) -> BoxFuture<'a, Result<Vec<SideRow>, VerifyError>> {
        Box::pin(async move { Err(self.no_ranges()) })
    }

    /// The error of a side that has no ranges (a bug if ever seen).
    fn no_ranges(&self) -> VerifyError {
        VerifyError::Internal(format!("{} cannot compare by key ranges", self.describe()))
    }
}
