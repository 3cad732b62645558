//! Shared by the plugin host's integration tests: builds the test plugins with the same
//! toolchain and lockfile as the tests themselves (so fingerprints match), and assembles
//! plugin directories in temporary folders.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The built file of plugin crate `crate_name` (e.g. `test_behaviour`).
pub(crate) fn plugin(crate_name: &str) -> PathBuf {
    pedia_testkit::workspace::plugin(crate_name)
}

/// A temporary plugin directory with `files` copied in as (file name, source path).
pub(crate) fn plugin_dir(files: &[(&str, &Path)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, source) in files {
        std::fs::copy(source, dir.path().join(name)).expect("copy plugin");
    }
    dir
}

/// Writes `manifest.json` for the directory as the build would.
pub(crate) fn seal(dir: &Path) {
    pedia_plugin_host::write_manifest(dir).expect("write manifest");
}
