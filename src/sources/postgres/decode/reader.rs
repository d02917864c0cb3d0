//! `Reader`, the bounds-checked cursor over one message: every read names
//! its field, so an error can say what was being read and where.
use super::*;

/// A bounds-checked cursor over one message.
pub(super) struct Reader<'a> {
    pub(super) data: &'a Bytes,
    pub(super) pos: usize,
    pub(super) message: &'static str,
    /// The tuple or relation column being read, for error locations.
    pub(super) column: Option<usize>,
}

impl Reader<'_> {
    pub(super) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn location(&self, field: &'static str, offset: usize) -> Location {
        Location { message: self.message, field, column: self.column, offset }
    }

    pub(super) fn invalid_at(&self, field: &'static str, offset: usize, problem: impl Into<String>) -> DecodeError {
        DecodeError::Invalid { at: self.location(field, offset), problem: problem.into() }
    }

    /// Advances over `n` bytes and returns where they start.
    fn take(&mut self, n: usize, field: &'static str) -> Result<usize, DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated {
                at: self.location(field, self.pos),
                needed: n,
                remaining: self.remaining(),
            });
        }
        let start = self.pos;
        self.pos += n;
        Ok(start)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let start = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&self.data[start..start + N]);
        Ok(out)
    }

    pub(super) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(super) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub(super) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub(super) fn i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(field)?))
    }

    pub(super) fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    pub(super) fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }

    /// An Int32 byte length, which must not be negative.
    pub(super) fn length(&mut self, field: &'static str) -> Result<usize, DecodeError> {
        let at = self.pos;
        let len = self.i32(field)?;
        usize::try_from(len).map_err(|_| self.invalid_at(field, at, format!("negative length {len}")))
    }

    /// `n` bytes as a slice of the input (no copy).
    pub(super) fn bytes(&mut self, n: usize, field: &'static str) -> Result<Bytes, DecodeError> {
        let start = self.take(n, field)?;
        Ok(self.data.slice(start..start + n))
    }

    /// A NUL-terminated UTF-8 string.
    pub(super) fn string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let start = self.pos;
        let rest = &self.data[start..];
        let Some(len) = rest.iter().position(|&b| b == 0) else {
            return Err(self.invalid_at(field, start, "string without a NUL terminator"));
        };
        let s = std::str::from_utf8(&rest[..len])
            .map_err(|e| self.invalid_at(field, start, format!("string is not UTF-8: {e}")))?
            .to_owned();
        self.pos += len + 1;
        Ok(s)
    }

    /// The 'N' that introduces a new tuple.
    pub(super) fn expect_new_marker(&mut self) -> Result<(), DecodeError> {
        let at = self.pos;
        match self.u8("tuple marker")? {
            b'N' => Ok(()),
            other => Err(self.invalid_at("tuple marker", at, bad_marker(other, "'N'"))),
        }
    }

    pub(super) fn finish(&self) -> Result<(), DecodeError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes { message: self.message, offset: self.pos, extra: self.remaining() })
        }
    }
}
