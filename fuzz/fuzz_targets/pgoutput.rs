//! pgoutput messages (src/sources/postgres/decode/): any bytes parse to a
//! message or an error, never a panic, outside and inside streamed blocks.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use logferry::sources::postgres::decode::{parse, parse_in_block};

fuzz_target!(|data: &[u8]| {
    let data = Bytes::copy_from_slice(data);
    match parse(&data) {
        Ok(message) => {
            let _ = message.kind_name();
        }
        // Error messages are logged: formatting them must not panic either.
        Err(e) => drop(e.to_string()),
    }
    // The same bytes as a message inside a streamed block (xid first).
    match parse_in_block(&data) {
        Ok((_, message)) => {
            let _ = message.kind_name();
        }
        Err(e) => drop(e.to_string()),
    }
});
