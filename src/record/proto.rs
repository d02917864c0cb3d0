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

#[cfg(test)]
mod tests {
    use super::super::json::fixtures::{arb_change, assert_same, sample_changes};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn samples_round_trip_as_one_stream() {
        let changes = sample_changes();
        let mut buf = Vec::new();
        for c in &changes {
            encode_delimited(c, &mut buf);
        }
        let back = decode_all(&buf).unwrap();
        assert_eq!(back.len(), changes.len());
        for (a, b) in changes.iter().zip(&back) {
            assert_same(a, b);
        }
    }

    #[test]
    fn nan_payloads_survive_protobuf() {
        // Unlike JSON, the binary form keeps every float bit.
        for c in sample_changes() {
            let mut buf = Vec::new();
            encode_delimited(&c, &mut buf);
            let back = decode_all(&buf).unwrap();
            assert_eq!(back[0].encode_to_vec(), c.encode_to_vec());
        }
    }

    #[test]
    fn truncated_stream_is_an_error() {
        let mut buf = Vec::new();
        encode_delimited(&sample_changes()[0], &mut buf);
        assert!(decode_all(&buf[..buf.len() - 1]).is_err());
        assert!(decode_all(&[]).unwrap().is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn proto_round_trips(changes in proptest::collection::vec(arb_change(), 1..4)) {
            let mut buf = Vec::new();
            for c in &changes {
                encode_delimited(c, &mut buf);
            }
            let back = decode_all(&buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back.len(), changes.len());
            for (a, b) in changes.iter().zip(&back) {
                prop_assert_eq!(b.encode_to_vec(), a.encode_to_vec());
                assert_same(a, b);
            }
        }
    }
}
