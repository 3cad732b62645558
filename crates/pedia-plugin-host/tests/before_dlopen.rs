//! A plugin built with a different fingerprint is refused before `dlopen`: its load-time
//! constructor never runs. This file is its own test process, because the constructor's
//! trace is per process.

mod support;

use pedia_plugin_host::{PluginError, Verification, load_dir};
use support::{plugin, plugin_dir, seal};

/// Where test-behaviour's constructor writes (see plugins/test-behaviour).
fn trace() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "pedia-test-behaviour-loaded-{}",
        std::process::id()
    ))
}

/// Rewrites the fingerprint section of a plugin file as if another compiler built it: the
/// one-line fingerprint and the closure's `rustc` line (same lengths, so the ELF stays valid).
fn as_built_by_another_rustc(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for (from, to) in [
        (&b"rustc=1.95.0;"[..], &b"rustc=1.93.0;"[..]),
        (b"\nrustc 1.95.0 ", b"\nrustc 1.93.0 "),
    ] {
        let at = out
            .windows(from.len())
            .position(|w| w == from)
            .expect("fingerprint section names rustc 1.95.0");
        out[at..at + from.len()].copy_from_slice(to);
    }
    out
}

#[test]
fn a_foreign_fingerprint_is_refused_without_running_plugin_code() {
    let _ = std::fs::remove_file(trace());

    // A plugin of another build: its own manifest is consistent (sha256 of the foreign
    // file), only the fingerprint differs from this binary's.
    let dir = tempfile::tempdir().expect("dir");
    let foreign =
        as_built_by_another_rustc(&std::fs::read(plugin("test_behaviour")).expect("read"));
    std::fs::write(dir.path().join("libtest_behaviour.so"), &foreign).expect("write");
    let fp = pedia_plugin_api::fingerprint::FINGERPRINT;
    std::fs::write(
        dir.path().join("manifest.json"),
        format!(
            r#"{{"version":1,"fingerprint":{fp:?},"plugins":[{{"name":"test-behaviour","file":"libtest_behaviour.so","sha256":"{}","fingerprint":{:?}}}]}}"#,
            pedia_plugin_host::manifest::sha256_hex(&foreign),
            fp.replace("rustc=1.95.0", "rustc=1.93.0"),
        ),
    )
    .expect("manifest");

    let err = load_dir(dir.path(), Verification::Manifest).expect_err("refused");
    assert!(matches!(err, PluginError::Fingerprint { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("libtest_behaviour.so"), "{msg}");
    assert!(
        msg.contains("built with rustc 1.93.0") && msg.contains("with rustc 1.95.0"),
        "{msg}"
    );
    // Also refused with --allow-unverified-plugins: the fingerprint is always checked.
    std::fs::remove_file(dir.path().join("manifest.json")).expect("rm");
    let err = load_dir(dir.path(), Verification::AllowUnverified).expect_err("refused");
    assert!(matches!(err, PluginError::Fingerprint { .. }), "{err}");
    assert!(!trace().exists(), "the refused plugin's constructor ran");

    // Control: the same plugin with the right fingerprint does run its constructor when
    // loaded, so the absence above is meaningful.
    let good = plugin_dir(&[("libtest_behaviour.so", &plugin("test_behaviour"))]);
    seal(good.path());
    let loaded = load_dir(good.path(), Verification::Manifest).expect("loads");
    assert_eq!(loaded[0].name, "test-behaviour");
    assert!(
        trace().exists(),
        "a loaded plugin's constructor leaves its trace"
    );
    let _ = std::fs::remove_file(trace());
}
