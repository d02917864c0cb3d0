//! MySQL geometry bytes (4-byte SRID, then WKB) as PostgreSQL `point` and
//! `polygon` text; what cannot be stored without loss (an SRID other than
//! 0, a polygon with holes) is refused with the reason.
use super::*;
use crate::sinks::json_text::float64;
use std::fmt::Write as _;

/// Reader of MySQL's geometry format: a 4-byte little-endian SRID, then
/// standard WKB (each geometry starts with its byte order: 0 big-, 1
/// little-endian; then a u32 type).
struct Wkb<'a> {
    b: &'a [u8],
    pos: usize,
    little: bool,
}

const WKB_POINT: u32 = 1;
const WKB_POLYGON: u32 = 3;

impl<'a> Wkb<'a> {
    /// Checks the SRID (only 0 fits PostgreSQL's geometric types) and
    /// reads the header of the geometry, expecting `kind` (`WKB_POINT` …).
    fn open(b: &'a [u8], kind: u32, target: &str) -> R<Self> {
        if b.len() < 9 {
            return err(format!("{} bytes are not a MySQL geometry (4-byte SRID, then WKB)", b.len()));
        }
        let srid = u32::from_le_bytes(b[..4].try_into().expect("4 bytes"));
        if srid != 0 {
            return err(format!(
                "the MySQL geometry has SRID {srid}, which a PostgreSQL {target} cannot hold (it has no SRID); \
                 storing it would lose the SRID"
            ));
        }
        let mut w = Wkb { b, pos: 4, little: true };
        let ty = w.header()?;
        if ty != kind {
            return err(format!("a MySQL geometry of WKB type {ty} cannot be stored in a PostgreSQL {target}"));
        }
        Ok(w)
    }

    fn header(&mut self) -> R<u32> {
        self.little = match self.take(1)?[0] {
            0 => false,
            1 => true,
            o => return err(format!("bad WKB byte order {o}")),
        };
        self.u32()
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        let Some(end) = end else { return err("the geometry bytes end early (truncated WKB)") };
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> R<u32> {
        let a: [u8; 4] = self.take(4)?.try_into().expect("4 bytes");
        Ok(if self.little { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) })
    }

    fn f64(&mut self) -> R<f64> {
        let a: [u8; 8] = self.take(8)?.try_into().expect("8 bytes");
        Ok(if self.little { f64::from_le_bytes(a) } else { f64::from_be_bytes(a) })
    }

    /// `(x,y)` of the next coordinate pair.
    fn xy(&mut self, out: &mut String) -> R<()> {
        let (x, y) = (self.f64()?, self.f64()?);
        let _ = write!(out, "({},{})", float64(x), float64(y));
        Ok(())
    }

    fn end(&self) -> R<()> {
        if self.pos != self.b.len() {
            return err("unexpected bytes after the geometry");
        }
        Ok(())
    }
}

/// PostgreSQL `point` text of a MySQL POINT (SRID 0).
pub(super) fn point(b: &[u8]) -> R<String> {
    let mut w = Wkb::open(b, WKB_POINT, "point")?;
    let mut out = String::new();
    w.xy(&mut out)?;
    w.end()?;
    Ok(out)
}

/// PostgreSQL `polygon` text of a MySQL POLYGON (SRID 0, one ring; the
/// points as stored, closing point included).
pub(super) fn polygon(b: &[u8]) -> R<String> {
    let mut w = Wkb::open(b, WKB_POLYGON, "polygon")?;
    let rings = w.u32()?;
    if rings != 1 {
        return err(format!(
            "the MySQL polygon has {rings} rings; a PostgreSQL polygon holds exactly one (no holes), so it cannot be stored without loss"
        ));
    }
    let n = w.u32()?;
    let mut out = String::from("(");
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        w.xy(&mut out)?;
    }
    out.push(')');
    w.end()?;
    Ok(out)
}
