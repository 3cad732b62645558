//! `pedia plugin manifest|verify|inspect` as an operator runs them.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The test-behaviour plugin, built with this workspace's toolchain and lockfile.
fn test_plugin() -> PathBuf {
    pedia_testkit::workspace::plugin("test_behaviour")
}

fn pedia(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pedia"))
        .args(args)
        .output()
        .expect("run pedia")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn manifest_then_verify_then_tamper() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("libtest_behaviour.so");
    std::fs::copy(test_plugin(), &file).expect("copy");
    let d = dir.path().to_str().expect("utf-8 path");

    let out = pedia(&["plugin", "verify", d]);
    assert!(!out.status.success(), "no manifest yet: {}", text(&out));
    assert!(
        text(&out).contains("has no manifest.json"),
        "{}",
        text(&out)
    );

    let out = pedia(&["plugin", "manifest", d]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir.path().join("manifest.json").is_file());

    let out = pedia(&["plugin", "verify", d]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("ok  libtest_behaviour.so  test-behaviour"),
        "{}",
        text(&out)
    );

    let out = pedia(&["plugin", "inspect", file.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains("name:              test-behaviour"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "interface version: {}",
            pedia_plugin_api::INTERFACE_VERSION
        )),
        "{shown}"
    );
    assert!(
        shown.contains(pedia_plugin_api::fingerprint::FINGERPRINT),
        "{shown}"
    );
    assert!(shown.contains("matches this pedia: yes"), "{shown}");
    assert!(shown.contains("(sha256 matches)"), "{shown}");

    // Any changed byte fails verification, naming the file.
    let mut bytes = std::fs::read(&file).expect("read");
    let last = bytes.len() - 1;
    bytes[last] = bytes[last].wrapping_add(1);
    std::fs::write(&file, bytes).expect("write");
    let out = pedia(&["plugin", "verify", d]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("libtest_behaviour.so") && text(&out).contains("sha256"),
        "{}",
        text(&out)
    );
    // And inspect, whose fingerprint still matches, says the manifest no longer does.
    let out = pedia(&["plugin", "inspect", file.to_str().expect("utf-8")]);
    let shown = text(&out);
    assert!(
        shown.contains("matches this pedia: no: the file was changed after"),
        "{shown}"
    );
    assert!(!shown.contains("matches this pedia: yes"), "{shown}");
}

#[test]
fn inspect_refuses_what_is_not_a_plugin() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("readme.txt");
    std::fs::write(&file, "hello").expect("write");
    let out = pedia(&["plugin", "inspect", file.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("is not a storage plugin"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_component_refuses_a_manifest_other_than_the_pinned_one() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::copy(test_plugin(), dir.path().join("libtest_behaviour.so")).expect("copy");
    let out = pedia(&["plugin", "manifest", dir.path().to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out));
    let apiserver = pedia_testkit::workspace::build_workspace().join("apiserver");
    let pin = "0".repeat(64);
    let out = Command::new(&apiserver)
        .env("STORAGE_PLUGINS", dir.path())
        .env("PEDIA_PLUGIN_MANIFEST_SHA256", &pin)
        .args(["--storage-name", "memory", "--bind-address", "127.0.0.1"])
        .args(["--secure-port", "0"])
        .output()
        .expect("run the apiserver");
    assert!(!out.status.success(), "served with a wrong pin");
    let shown = text(&out);
    assert!(
        shown.contains(&format!("--plugin-manifest-sha256 pins {pin}")),
        "{shown}"
    );
}
