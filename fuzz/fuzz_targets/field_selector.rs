//! Enhanced field selectors: parsing never panics, printing round-trips, and matching an
//! arbitrary JSON document never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pedia_core::FieldSelector;

fuzz_target!(|data: &[u8]| {
    let (selector, document) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"{}"[..]),
    };
    let Ok(text) = std::str::from_utf8(selector) else { return };
    if let Ok(parsed) = FieldSelector::parse(text) {
        let printed = parsed.to_string();
        let again = FieldSelector::parse(&printed).expect("a printed selector parses");
        assert_eq!(again, parsed, "{text:?} -> {printed:?}");
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(document) {
            let _ = parsed.matches(&value);
        }
    }
});
