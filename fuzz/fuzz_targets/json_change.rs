//! The canonical JSON reader (src/record/json/): any text reads as a
//! record or a `JsonError`, never a panic; and a record it accepts is
//! written back in a form that reads to the same record (writing is a
//! fixed point after one read).
#![no_main]

use libfuzzer_sys::fuzz_target;
use logferry::record::json::{read_change, write_change};

fuzz_target!(|data: &[u8]| {
    let change = match read_change(data) {
        Ok(c) => c,
        Err(e) => return drop(e.to_string()),
    };
    let mut once = Vec::new();
    write_change(&change, &mut once);
    let again = read_change(&once).unwrap_or_else(|e| {
        panic!(
            "written JSON does not read back: {e}\n{}",
            String::from_utf8_lossy(&once)
        )
    });
    let mut twice = Vec::new();
    write_change(&again, &mut twice);
    assert_eq!(
        String::from_utf8_lossy(&once),
        String::from_utf8_lossy(&twice),
        "JSON -> record -> JSON is not stable"
    );
});
