//! The protobuf reader (src/record/proto.rs, prost's decoding of `Change`):
//! any bytes decode to records or an error, never a panic. Every record
//! decoded re-encodes to bytes that decode to the same record, and its
//! canonical JSON (which file/HTTP/broker targets write) reads back to a
//! record with the same JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logferry::record::json::{read_change, write_change};
use logferry::record::proto::decode_all;
use logferry::record::Change;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let changes = match decode_all(data) {
        Ok(c) => c,
        Err(e) => return drop(e.to_string()),
    };
    // A single message, not length-delimited, as a broker payload carries it.
    let _ = Change::decode(data);
    for change in changes {
        let bytes = change.encode_to_vec();
        let back = Change::decode(&bytes[..]).expect("an encoded record decodes");
        assert_eq!(
            back.encode_to_vec(),
            bytes,
            "protobuf -> record -> protobuf is not stable"
        );

        let mut json = Vec::new();
        write_change(&change, &mut json);
        let read = read_change(&json).unwrap_or_else(|e| {
            panic!(
                "the JSON of a decoded record does not read back: {e}\n{}",
                String::from_utf8_lossy(&json)
            )
        });
        let mut again = Vec::new();
        write_change(&read, &mut again);
        assert_eq!(
            String::from_utf8_lossy(&json),
            String::from_utf8_lossy(&again),
            "record -> JSON -> record -> JSON is not stable"
        );
    }
});
