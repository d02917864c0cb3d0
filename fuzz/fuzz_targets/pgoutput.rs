//! pgoutput messages (src/sources/postgres/decode/): any bytes parse to a
//! message or an error, never a panic.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use logferry::sources::postgres::decode::parse;

fuzz_target!(|data: &[u8]| {
    let data = Bytes::copy_from_slice(data);
    match parse(&data) {
        Ok(message) => {
            let _ = message.kind_name();
        }
        // Error messages are logged: formatting them must not panic either.
        Err(e) => drop(e.to_string()),
    }
});
