//! Length-delimited protobuf framing: a varint length, then the `Change`
//! message. This is what `format = "protobuf"` files contain, one record
//! after another, readable with any protobuf library.

use super::Change;
use prost::Message;

/// Appends one length-delimited record to `out`.
pub fn encode_delimited(change: &Change, out: &mut Vec<u8>) {
    change
        .encode_length_delimited(out)
        .expect("Vec<u8> grows as needed");
}

/// Decodes every record of a length-delimited stream.
pub fn decode_all(mut buf: &[u8]) -> Result<Vec<Change>, prost::DecodeError> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        out.push(Change::decode_length_delimited(&mut buf)?);
    }
    Ok(out)
}
