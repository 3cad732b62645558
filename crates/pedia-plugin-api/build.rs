//! Computes the build fingerprint compiled into the host and every plugin: the compiler
//! (release and commit), the target, this crate's version and a hash of the workspace's
//! `Cargo.lock`. Two binaries with the same fingerprint were built by the same toolchain
//! from the same locked dependency graph, which is what makes a Rust-ABI plugin safe to load.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

fn main() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let verbose = Command::new(&rustc)
        .arg("-vV")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let field = |name: &str| {
        verbose
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| "unknown".to_owned())
    };
    let release = field("release:");
    let commit = field("commit-hash:");
    let target = env::var("TARGET").unwrap_or_else(|_| "unknown".to_owned());
    let api = env::var("CARGO_PKG_VERSION").unwrap_or_default();

    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let lock_hash = match find_lockfile(&manifest_dir) {
        Some(lock) => {
            println!("cargo:rerun-if-changed={}", lock.display());
            let bytes = fs::read(&lock).unwrap_or_default();
            let digest = Sha256::digest(&bytes);
            digest
                .iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        }
        None => "none".to_owned(),
    };

    let fingerprint = format!(
        "pedia-fp/1;rustc={release};rustc-commit={commit};target={target};api={api};lock={lock_hash}"
    );
    println!("cargo:rustc-env=PEDIA_BUILD_FINGERPRINT={fingerprint}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
}

/// The `Cargo.lock` of the workspace being built: the nearest one above this crate.
fn find_lockfile(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join("Cargo.lock"))
        .find(|p| p.is_file())
}
