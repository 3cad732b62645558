//! `cargo xtask dist` produces a plugin directory that `pedia plugin verify` accepts, and
//! any changed byte of a plugin makes it refuse the directory; run right after a plain
//! `cargo build --workspace` of the same profile, it compiles nothing.

use std::path::PathBuf;
use std::process::Command;

use pedia_testkit::workspace::root;

#[test]
fn dist_then_verify_then_tamper() {
    let out = tempfile::tempdir().expect("dir");
    // `cargo build --workspace`, as a user runs it. The dev profile keeps this test to an
    // incremental build; `cargo xtask dist` defaults to release for real distributions.
    pedia_testkit::workspace::build_workspace();
    let output = pedia_testkit::workspace::cargo()
        .current_dir(root())
        .args([
            "run",
            "--quiet",
            "--locked",
            "-p",
            "xtask",
            "--",
            "dist",
            "--profile",
            "dev",
            "--out",
        ])
        .arg(out.path())
        .output()
        .expect("run cargo xtask dist");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    // The nested build inherits nothing from `cargo run` that would dirty a fingerprint.
    assert!(
        !log.contains("Compiling "),
        "cargo xtask dist rebuilt what cargo build had built:\n{log}"
    );

    let bin = out.path().join("bin");
    for b in [
        "apiserver",
        "clustersynchro-manager",
        "binding-apiserver",
        "pedia",
    ] {
        assert!(bin.join(b).is_file(), "dist/bin/{b}");
    }
    let plugins = out.path().join("plugins");
    let sample = plugins.join("libsample_storage.so");
    assert!(sample.is_file(), "the sample plugin is distributed");
    assert!(
        !plugins.join("libtest_behaviour.so").exists(),
        "test plugins are not distributed"
    );

    let pedia: PathBuf = bin.join("pedia");
    let verify = || {
        Command::new(&pedia)
            .args(["plugin", "verify"])
            .arg(&plugins)
            .output()
            .expect("pedia plugin verify")
    };
    let ok = verify();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("sample-storage-layer"));

    let mut bytes = std::fs::read(&sample).expect("read");
    bytes[4096] ^= 0x40;
    std::fs::write(&sample, bytes).expect("write");
    let bad = verify();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("libsample_storage.so") && err.contains("sha256"),
        "{err}"
    );
}
