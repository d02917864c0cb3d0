//! BSON ↔ canonical values: how MongoDB documents become rows and back.
//! (Being written; see the MongoDB issue.)

/// Name of the column that carries a partial update's description (an
/// update event without the full document): a `Document` with
/// `updatedFields` (dotted path → value), `removedFields` (array of text),
/// `truncatedArrays` (array of `{field, newSize}`) and `fullDocumentMissing`
/// (bool: `update_lookup` found no document because it was deleted since; a
/// delete of the same key follows in the stream).
pub const UPDATE_DESCRIPTION: &str = "$updateDescription";
