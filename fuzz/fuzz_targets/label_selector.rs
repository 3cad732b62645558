//! Label selectors: parsing never panics, and what parses prints back to an equal selector.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pedia_core::LabelSelector;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(selector) = LabelSelector::parse(text) {
        let printed = selector.to_string();
        let again = LabelSelector::parse(&printed).expect("a printed selector parses");
        assert_eq!(again, selector, "{text:?} -> {printed:?}");
        // Every key present with the value "v": matching must not panic.
        let _ = selector.matches(|_| Some("v"));
    }
});
