//! New rows in `COPY … FROM STDIN (FORMAT binary)`'s format.
//!
//! The data is the signature, flags and header extension length, then per
//! row an `int16` field count and per field an `int32` length (-1 for NULL)
//! followed by the value in its type's binary form — the same form the
//! binary array parameters use ([`super::binary`]'s element encoders) —
//! and last an `int16` -1. [`CopyRows`] hands it out in chunks, so a large
//! group is never held twice in memory. When the target uses `COPY` is
//! `apply.rs`'s business.

use super::binary::{element, BinType, PgCell};
use super::sql::quote_ident;
use bytes::{BufMut, Bytes, BytesMut};

/// Signature (`PGCOPY\n\377\r\n\0`), flags (no OIDs) and header extension length.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// A value the COPY data cannot hold (an internal error: the group was
/// checked to have a binary form for every value).
#[derive(Debug, thiserror::Error)]
#[error("internal: COPY data for row {row}, column {column}: {reason}")]
pub struct CopyError {
    /// Row index in the group.
    pub row: usize,
    /// Position in the group's columns.
    pub column: usize,
    /// Why.
    pub reason: String,
}

/// `COPY <table> (<columns>) FROM STDIN (FORMAT binary)`; `table` is
/// already quoted, `columns` are not.
pub fn statement<'c>(table: &str, columns: impl IntoIterator<Item = &'c str>) -> String {
    let cols: Vec<String> = columns.into_iter().map(quote_ident).collect();
    format!("COPY {table} ({}) FROM STDIN (FORMAT binary)", cols.join(", "))
}

/// The COPY data of a group: one column-major array of cells per column,
/// each column in its binary type.
pub struct CopyRows<'a> {
    types: Vec<BinType>,
    arrays: &'a [Vec<PgCell>],
    rows: usize,
    /// The next row to write; `None` before the header.
    next: Option<usize>,
    done: bool,
}

impl<'a> CopyRows<'a> {
    /// The data of `arrays` (column `i` in `types[i]`'s binary form). Every
    /// value must have that form ([`super::binary::ColumnParam::binary`]).
    pub fn new(types: Vec<BinType>, arrays: &'a [Vec<PgCell>]) -> Result<Self, CopyError> {
        let rows = arrays.first().map_or(0, Vec::len);
        let bad = |column: usize, reason: String| CopyError { row: 0, column, reason };
        if types.len() != arrays.len() || i16::try_from(types.len()).is_err() {
            return Err(bad(0, format!("{} types for {} columns", types.len(), arrays.len())));
        }
        if let Some(c) = arrays.iter().position(|a| a.len() != rows) {
            return Err(bad(c, format!("{} values where the first column has {rows}", arrays[c].len())));
        }
        Ok(CopyRows { types, arrays, rows, next: None, done: false })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The next chunk of data: whole rows, at least one, until the chunk
    /// holds `size` bytes (the header comes first, the trailer last);
    /// `None` once everything was given.
    pub fn next_chunk(&mut self, size: usize) -> Result<Option<Bytes>, CopyError> {
        if self.done {
            return Ok(None);
        }
        let mut out = BytesMut::with_capacity(size.max(64));
        let mut r = match self.next {
            Some(r) => r,
            None => {
                out.put_slice(HEADER);
                0
            }
        };
        while r < self.rows && out.len() < size {
            self.row(r, &mut out)?;
            r += 1;
        }
        self.next = Some(r);
        if r == self.rows {
            out.put_i16(-1);
            self.done = true;
        }
        Ok(Some(out.freeze()))
    }

    fn row(&self, r: usize, out: &mut BytesMut) -> Result<(), CopyError> {
        out.put_i16(self.types.len() as i16); // checked in new
        for (c, (&bt, cells)) in self.types.iter().zip(self.arrays).enumerate() {
            let Some(v) = &cells[r] else {
                out.put_i32(-1);
                continue;
            };
            let at = out.len();
            out.put_i32(0);
            element(bt, v, out).map_err(|e| CopyError { row: r, column: c, reason: e.to_string() })?;
            let len = i32::try_from(out.len() - at - 4)
                .map_err(|_| CopyError { row: r, column: c, reason: "a value of 2 GiB or more".into() })?;
            out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::postgres::binary::PgValue;

    fn all(mut rows: CopyRows<'_>, size: usize) -> (Vec<u8>, usize) {
        let (mut data, mut chunks) = (Vec::new(), 0);
        while let Some(c) = rows.next_chunk(size).unwrap() {
            data.extend_from_slice(&c);
            chunks += 1;
        }
        (data, chunks)
    }

    #[test]
    fn rows_are_framed_with_counts_lengths_nulls_and_the_trailer() {
        let arrays = vec![vec![Some(PgValue::Int(1)), Some(PgValue::Int(-2))], vec![Some(PgValue::Text("ab".into())), None]];
        let rows = CopyRows::new(vec![BinType::Int4, BinType::Text], &arrays).unwrap();
        assert_eq!(rows.rows(), 2);
        let (data, chunks) = all(rows, 1 << 16);
        assert_eq!(chunks, 1);
        let mut want = HEADER.to_vec();
        want.extend_from_slice(&[0, 2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2, b'a', b'b']);
        want.extend_from_slice(&[0, 2, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff]);
        want.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(data, want);
        assert_eq!(&HEADER[..11], b"PGCOPY\n\xff\r\n\0");
        assert_eq!(HEADER.len(), 19);
    }

    #[test]
    fn chunks_hold_whole_rows_and_join_to_the_same_data() {
        let arrays = vec![(0..100).map(|i| Some(PgValue::Int(i))).collect::<Vec<_>>()];
        let one = all(CopyRows::new(vec![BinType::Int8], &arrays).unwrap(), 1 << 20);
        let small = all(CopyRows::new(vec![BinType::Int8], &arrays).unwrap(), 100);
        assert_eq!(one.0, small.0);
        assert_eq!(one.0.len(), 19 + 100 * (2 + 4 + 8) + 2);
        assert!(small.1 > 10, "{} chunks", small.1);
        // No rows: header and trailer.
        let none: Vec<Vec<PgCell>> = vec![Vec::new()];
        assert_eq!(all(CopyRows::new(vec![BinType::Int8], &none).unwrap(), 10).0.len(), 21);
    }

    #[test]
    fn mismatched_input_is_an_internal_error() {
        let arrays = vec![vec![Some(PgValue::Int(1))], vec![]];
        assert!(CopyRows::new(vec![BinType::Int8, BinType::Int8], &arrays).is_err());
        assert!(CopyRows::new(vec![BinType::Int8], &arrays).is_err());
        let text = vec![vec![Some(PgValue::Text("x".into()))]];
        let e = all_err(CopyRows::new(vec![BinType::Int8], &text).unwrap());
        assert!(e.to_string().contains("row 0, column 0"), "{e}");
        assert_eq!(statement("\"s\".\"t\"", ["id", "Odd\"name"]), "COPY \"s\".\"t\" (\"id\", \"Odd\"\"name\") FROM STDIN (FORMAT binary)");
    }

    fn all_err(mut rows: CopyRows<'_>) -> CopyError {
        loop {
            match rows.next_chunk(1024) {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("no error"),
                Err(e) => return e,
            }
        }
    }
}
