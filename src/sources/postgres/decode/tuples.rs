//! Row images ([`Tuple`] of [`TupleValue`]s, and [`OldTuple`], the old
//! image of an UPDATE or DELETE) and how a tuple is read from a message.
use super::*;

/// The old row image of an UPDATE or DELETE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldTuple {
    /// 'K': the replica identity key columns; the other columns are
    /// [`TupleValue::Null`].
    Key(Tuple),
    /// 'O': the whole old row (REPLICA IDENTITY FULL).
    Full(Tuple),
}

impl OldTuple {
    /// The tuple, whichever kind it is.
    pub fn tuple(&self) -> &Tuple {
        match self {
            OldTuple::Key(t) | OldTuple::Full(t) => t,
        }
    }
}

/// A row: one value per column of the relation, in relation order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tuple(pub Vec<TupleValue>);

/// One column value of a [`Tuple`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TupleValue {
    /// 'n': SQL NULL.
    Null,
    /// 'u': a TOASTed value that did not change and was not sent; the
    /// stored value must be kept.
    UnchangedToast,
    /// 't': the value in the type's text output form.
    Text(Bytes),
    /// 'b': the value in the type's binary (send) form.
    Binary(Bytes),
}

pub(super) fn tuple(r: &mut Reader<'_>) -> Result<Tuple, DecodeError> {
    // Every column takes at least its one kind byte.
    let count = usize::from(r.u16("tuple column count")?);
    let mut values = Vec::with_capacity(count.min(r.remaining()));
    for i in 0..count {
        r.column = Some(i);
        let at = r.pos;
        let value = match r.u8("tuple value kind")? {
            b'n' => TupleValue::Null,
            b'u' => TupleValue::UnchangedToast,
            b't' => {
                let len = r.length("text value length")?;
                TupleValue::Text(r.bytes(len, "text value")?)
            }
            b'b' => {
                let len = r.length("binary value length")?;
                TupleValue::Binary(r.bytes(len, "binary value")?)
            }
            other => return Err(r.invalid_at("tuple value kind", at, bad_marker(other, "'n', 'u', 't' or 'b'"))),
        };
        values.push(value);
    }
    r.column = None;
    Ok(Tuple(values))
}
