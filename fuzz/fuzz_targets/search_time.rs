//! `since`/`before` times: parsing never panics, and a parsed time prints as RFC 3339 that
//! parses back to the same instant.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pedia_core::Timestamp;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(t) = Timestamp::parse_search(text) {
        let printed = t.to_string();
        if let Ok(again) = Timestamp::parse_rfc3339(&printed) {
            assert_eq!(again, t, "{text:?} -> {printed:?}");
        }
    }
});
