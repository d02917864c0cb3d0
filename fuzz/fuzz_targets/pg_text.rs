//! PostgreSQL text values (src/sources/postgres/types/): any type (oid,
//! enum, domain, array with any delimiter) and any text convert to a value
//! or a `TypeError`, never a panic. Input: see `logferry_fuzz::pg_text`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logferry::sources::postgres::types::{text_to_value, type_name};
use logferry_fuzz::pg_text;

fuzz_target!(|data: &[u8]| {
    let Some((ty, text)) = pg_text::read(data) else {
        return;
    };
    let _ = type_name(&ty);
    if let Err(e) = text_to_value(&ty, text) {
        drop(e.to_string());
    }
});
