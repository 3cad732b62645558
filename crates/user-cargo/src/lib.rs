//! `user-cargo`: a `cargo` command as the user's shell would run it, for the builds that
//! `cargo xtask`, `pedia` and the tests start themselves.
//!
//! Such a build must reuse the artifacts of the user's own `cargo build` (and the other way
//! round). Two things would make each rebuild the other's ring, rustls, sqlx and every
//! binary: `$CARGO` is the toolchain binary's resolved path, not the rustup proxy on
//! `PATH`; and `cargo run` / `cargo test` hand the program they start the running
//! package's variables (`CARGO_PKG_NAME=xtask`, `CARGO_MANIFEST_DIR`, ...), which build
//! scripts such as ring's declare with `rerun-if-env-changed`.

use std::ffi::OsStr;
use std::process::Command;

/// `cargo` through the rustup proxy on `PATH`, without the variables cargo set for us.
pub fn command() -> Command {
    let mut command = Command::new("cargo");
    for (name, _) in std::env::vars_os() {
        if set_by_cargo_for_its_child(&name) {
            command.env_remove(&name);
        }
    }
    command
}

/// Variables `cargo run` / `cargo test` set for the program they start (not user
/// configuration such as `CARGO_HOME`, `CARGO_TARGET_DIR` or `CARGO_BUILD_*`).
fn set_by_cargo_for_its_child(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    matches!(
        name,
        "CARGO"
            | "CARGO_CRATE_NAME"
            | "CARGO_BIN_NAME"
            | "CARGO_PRIMARY_PACKAGE"
            | "CARGO_TARGET_TMPDIR"
            | "OUT_DIR"
            | "RUSTUP_TOOLCHAIN"
            | "RUSTUP_TOOLCHAIN_SOURCE"
    ) || ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_BIN_EXE_"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_variables_go_and_user_configuration_stays() {
        for gone in [
            "CARGO",
            "CARGO_PKG_NAME",
            "CARGO_MANIFEST_DIR",
            "CARGO_BIN_EXE_pedia",
        ] {
            assert!(set_by_cargo_for_its_child(OsStr::new(gone)), "{gone}");
        }
        for kept in [
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_BUILD_DIR",
            "PATH",
        ] {
            assert!(!set_by_cargo_for_its_child(OsStr::new(kept)), "{kept}");
        }
    }
}
