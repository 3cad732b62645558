//! Search requests: any query string, with or without a path scope, either parses or is a
//! named bad request; parsed options always have a fingerprint and total sort keys.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pedia_core::{ListOptions, RequestScope};

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    for scope in [
        RequestScope::default(),
        RequestScope { cluster: Some("c1"), namespace: Some("ns") },
    ] {
        match ListOptions::parse(query, scope) {
            Ok(opts) => {
                let _ = opts.fingerprint("v1/pods");
                let keys = opts.sort_keys(true);
                assert!(keys.len() >= 6);
            }
            Err(err) => assert!(!err.parameter.is_empty(), "errors name a parameter"),
        }
    }
});
