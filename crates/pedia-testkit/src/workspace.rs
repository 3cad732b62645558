//! The workspace these tests belong to, and building its plugin crates with the same
//! toolchain and lockfile as the tests (so plugin fingerprints match the test binaries).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the testkit lives in crates/pedia-testkit")
        .to_owned()
}

/// The dev profile's output directory.
pub fn target_debug() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("debug")
}

/// A `cargo` command as a user runs it (see `user-cargo`): nested builds share the
/// user's artifacts instead of rebuilding them.
pub fn cargo() -> Command {
    user_cargo::command()
}

/// Builds every package of the workspace (dev profile; plugins included) and returns the
/// output directory. Every test builds the same selection, so feature resolution is the
/// same and only the first build compiles anything. Cargo releases its build lock while
/// tests run, so this is safe from inside `cargo test`.
pub fn build_workspace() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let output = cargo()
                .current_dir(root())
                .args(["build", "--locked", "--workspace"])
                .output()
                .expect("run cargo build");
            assert!(
                output.status.success(),
                "cargo build --workspace failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            target_debug()
        })
        .clone()
}

/// The built file of plugin crate `crate_name` (e.g. `sample_storage`).
pub fn plugin(crate_name: &str) -> PathBuf {
    build_workspace().join(format!("lib{crate_name}.so"))
}
