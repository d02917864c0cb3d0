//! BSON documents (src/record/bson.rs): any bytes that the `bson` crate
//! reads as a document map to a row, and that row maps back to the very
//! same document (same types, same bits), as the module promises. The only
//! documented exceptions are Decimal128 NaN payloads and non-canonical
//! encodings, which come back as the canonical value they stand for.
#![no_main]

use bson::{Bson, Decimal128, Document};
use libfuzzer_sys::fuzz_target;
use logferry::record::bson::{document_to_row, row_to_document};

/// 10^34 - 1: the largest canonical Decimal128 coefficient.
const MAX_COEFFICIENT: u128 = 9_999_999_999_999_999_999_999_999_999_999_999;

/// True when `d` is stored exactly as the value it stands for: not a NaN or
/// infinity with payload bits, not a coefficient the specification reads as 0.
fn canonical_decimal(d: &Decimal128) -> bool {
    let bits = u128::from_le_bytes(d.bytes());
    let combination_11 = (bits >> 125) & 0b11 == 0b11;
    !combination_11 && bits & ((1u128 << 113) - 1) <= MAX_COEFFICIENT
}

fn nan_flags(d: &Decimal128) -> Option<(bool, bool)> {
    let high = d.bytes()[15];
    (high & 0x7C == 0x7C).then_some((high & 0x80 != 0, high & 0x02 != 0))
}

/// Compares what came back with the original, bit for bit, allowing only
/// the documented Decimal128 exceptions.
fn same(path: &str, original: &Bson, back: &Bson) {
    match (original, back) {
        (Bson::Document(a), Bson::Document(b)) => same_document(path, a, b),
        (Bson::Array(a), Bson::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}: array length");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                same(&format!("{path}[{i}]"), x, y);
            }
        }
        (Bson::Double(a), Bson::Double(b)) => {
            assert_eq!(a.to_bits(), b.to_bits(), "{path}: double bits")
        }
        (Bson::Decimal128(a), Bson::Decimal128(b)) if !canonical_decimal(a) => {
            // A NaN keeps its sign and signalling bit.
            assert_eq!(
                nan_flags(a),
                nan_flags(b),
                "{path}: decimal128 {a} came back as {b}"
            );
        }
        (Bson::Decimal128(a), Bson::Decimal128(b)) => {
            assert_eq!(
                a.bytes(),
                b.bytes(),
                "{path}: decimal128 {a} came back as {b}"
            )
        }
        _ => {
            // Everything else compares exactly through its bytes (NaN
            // doubles inside JavaScript scopes too).
            let bytes =
                |v: &Bson| bson::to_vec(&bson::doc! { "v": v.clone() }).expect("serializes");
            assert_eq!(
                bytes(original),
                bytes(back),
                "{path}: {original:?} came back as {back:?}"
            );
        }
    }
}

fn same_document(path: &str, a: &Document, b: &Document) {
    let ka: Vec<&String> = a.keys().collect();
    let kb: Vec<&String> = b.keys().collect();
    assert_eq!(ka, kb, "{path}: field names or order");
    for (k, v) in a {
        same(&format!("{path}.{k}"), v, &b[k]);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = Document::from_reader(data) else {
        return;
    };
    let row = document_to_row(&doc);
    let back = row_to_document(&row)
        .unwrap_or_else(|e| panic!("a document's row does not map back: {e}\n{doc:?}"));
    same_document("$", &doc, &back);
});
