//! Objects from member clusters and files: metadata extraction never panics, and accepted
//! objects have a name and sorted labels.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pedia_core::{Object, metadata_only};

fuzz_target!(|data: &[u8]| {
    if let Ok(object) = Object::from_json(bytes::Bytes::copy_from_slice(data)) {
        assert!(!object.meta.name.is_empty());
        assert!(object.meta.labels.windows(2).all(|w| w[0].0 <= w[1].0));
        let _ = metadata_only(&object.raw);
    }
});
