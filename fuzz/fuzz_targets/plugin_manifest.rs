//! Plugin manifests: any text is either a valid manifest (plain file names, hex hashes, no
//! duplicates) or refused with an error; never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pedia_plugin_host::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(manifest) = Manifest::parse(text, Path::new("manifest.json")) {
        for p in &manifest.plugins {
            assert!(!p.file.contains('/') && p.sha256.len() == 64);
        }
        let again = Manifest::parse(&manifest.to_json(), Path::new("manifest.json")).expect("round trip");
        assert_eq!(again, manifest);
    }
});
