//! Plugin directories the host must refuse before running any plugin code, each with an
//! error naming the file and what differs.

mod support;

use std::path::Path;

use pedia_plugin_host::{PluginError, Verification, load_dir, verify_dir, verify_dir_pinned};
use support::{plugin, plugin_dir, seal};

fn refused(dir: &Path, mode: Verification) -> PluginError {
    match verify_dir(dir, mode) {
        Ok(plugins) => panic!("expected a refusal, verified {} plugins", plugins.len()),
        Err(err) => err,
    }
}

#[test]
fn a_good_directory_verifies() {
    let dir = plugin_dir(&[("libtest_behaviour.so", &plugin("test_behaviour"))]);
    seal(dir.path());
    let plugins = verify_dir(dir.path(), Verification::Manifest).expect("verifies");
    assert_eq!(plugins.len(), 1);
    assert_eq!(plugins[0].info.name, "test-behaviour");
}

#[test]
fn one_flipped_byte_is_a_hash_mismatch() {
    let dir = plugin_dir(&[("libtest_behaviour.so", &plugin("test_behaviour"))]);
    seal(dir.path());
    let file = dir.path().join("libtest_behaviour.so");
    let mut bytes = std::fs::read(&file).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&file, bytes).expect("write");

    let err = refused(dir.path(), Verification::Manifest);
    assert!(matches!(err, PluginError::Hash { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("libtest_behaviour.so") && msg.contains("sha256"),
        "{msg}"
    );
}

#[test]
fn a_truncated_plugin_is_refused() {
    let dir = plugin_dir(&[("libtest_behaviour.so", &plugin("test_behaviour"))]);
    seal(dir.path());
    let file = dir.path().join("libtest_behaviour.so");
    let bytes = std::fs::read(&file).expect("read");
    std::fs::write(&file, &bytes[..bytes.len() / 3]).expect("truncate");
    let err = refused(dir.path(), Verification::Manifest);
    assert!(matches!(err, PluginError::Hash { .. }), "{err}");

    // Without a manifest to compare with, the truncated file is not a readable library.
    std::fs::remove_file(dir.path().join("manifest.json")).expect("rm manifest");
    let err = refused(dir.path(), Verification::AllowUnverified);
    assert!(matches!(err, PluginError::NotAPlugin { .. }), "{err}");
    assert!(err.to_string().contains("libtest_behaviour.so"), "{err}");
}

#[test]
fn text_and_non_elf_files_are_refused() {
    for (name, content) in [
        ("notes.txt", b"just some notes\n".as_slice()),
        (
            "fake.so",
            b"\x7fELF but not really an ELF file at all".as_slice(),
        ),
        ("image.so", b"\x89PNG\r\n\x1a\n".as_slice()),
    ] {
        // Unlisted: refused as such.
        let dir = plugin_dir(&[("libtest_behaviour.so", &plugin("test_behaviour"))]);
        seal(dir.path());
        std::fs::write(dir.path().join(name), content).expect("write");
        let err = refused(dir.path(), Verification::Manifest);
        assert!(matches!(err, PluginError::Unlisted { .. }), "{name}: {err}");
        assert!(err.to_string().contains(name), "{err}");

        // Listed in a hand-made manifest with the right hash: still not a plugin.
        let manifest = format!(
            r#"{{"version":1,"fingerprint":{fp:?},"plugins":[{{"name":"x","file":"{name}","sha256":"{sha}","fingerprint":{fp:?}}}]}}"#,
            fp = pedia_plugin_api::fingerprint::FINGERPRINT,
            sha = pedia_plugin_host::manifest::sha256_hex(content),
        );
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join(name), content).expect("write");
        std::fs::write(dir.path().join("manifest.json"), manifest).expect("manifest");
        let err = refused(dir.path(), Verification::Manifest);
        assert!(
            matches!(err, PluginError::NotAPlugin { .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(name), "{err}");

        // And in unverified mode.
        std::fs::remove_file(dir.path().join("manifest.json")).expect("rm");
        let err = refused(dir.path(), Verification::AllowUnverified);
        assert!(
            matches!(err, PluginError::NotAPlugin { .. }),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_file_the_manifest_does_not_list_is_refused() {
    let dir = plugin_dir(&[("libtest_behaviour.so", &plugin("test_behaviour"))]);
    seal(dir.path());
    std::fs::copy(plugin("test_skew"), dir.path().join("libextra.so")).expect("copy");
    let err = refused(dir.path(), Verification::Manifest);
    assert!(matches!(err, PluginError::Unlisted { .. }), "{err}");
    assert!(err.to_string().contains("libextra.so"), "{err}");
}

#[test]
fn a_directory_without_manifest_is_refused_unless_allowed() {
    let dir = plugin_dir(&[("libtest_behaviour.so", &plugin("test_behaviour"))]);
    let err = refused(dir.path(), Verification::Manifest);
    assert!(matches!(err, PluginError::MissingManifest { .. }), "{err}");
    assert!(
        err.to_string().contains("--allow-unverified-plugins"),
        "{err}"
    );

    let plugins = verify_dir(dir.path(), Verification::AllowUnverified).expect("allowed");
    assert_eq!(plugins[0].info.name, "test-behaviour");
}

#[test]
fn a_manifest_for_missing_files_or_with_bad_entries_is_refused() {
    let dir = plugin_dir(&[("libtest_behaviour.so", &plugin("test_behaviour"))]);
    seal(dir.path());
    std::fs::remove_file(dir.path().join("libtest_behaviour.so")).expect("rm");
    let err = refused(dir.path(), Verification::Manifest);
    assert!(matches!(err, PluginError::Io { .. }), "{err}");

    let fp = pedia_plugin_api::fingerprint::FINGERPRINT;
    for (manifest, needle) in [
        ("{not json".to_owned(), "not a valid manifest"),
        (
            format!(r#"{{"version":2,"fingerprint":{fp:?},"plugins":[]}}"#),
            "version 2",
        ),
        (
            format!(
                r#"{{"version":1,"fingerprint":{fp:?},"plugins":[{{"name":"x","file":"../evil.so","sha256":"{z}","fingerprint":{fp:?}}}]}}"#,
                z = "0".repeat(64)
            ),
            "plain file name",
        ),
        (
            format!(
                r#"{{"version":1,"fingerprint":{fp:?},"plugins":[{{"name":"x","file":"a.so","sha256":"xyz","fingerprint":{fp:?}}}]}}"#
            ),
            "invalid sha256",
        ),
        (
            format!(r#"{{"version":1,"fingerprint":{fp:?},"plugins":[],"extra":1}}"#),
            "unknown field",
        ),
    ] {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("manifest.json"), &manifest).expect("write");
        let err = refused(dir.path(), Verification::Manifest);
        assert!(err.to_string().contains(needle), "{manifest}: {err}");
    }
}

#[test]
fn a_manifest_from_another_build_is_refused() {
    let dir = plugin_dir(&[("libtest_behaviour.so", &plugin("test_behaviour"))]);
    seal(dir.path());
    let path = dir.path().join("manifest.json");
    let text = std::fs::read_to_string(&path).expect("read");
    let other = text.replacen("rustc=1.", "rustc=0.", 1);
    std::fs::write(&path, other).expect("write");
    let err = refused(dir.path(), Verification::Manifest);
    assert!(matches!(err, PluginError::Fingerprint { .. }), "{err}");
    assert!(
        err.to_string().contains("manifest.json")
            && err.to_string().contains("rebuild the plugin directory"),
        "{err}"
    );
}

#[test]
fn an_abi_stable_interface_version_mismatch_is_refused_at_load() {
    let dir = plugin_dir(&[("libtest_skew.so", &plugin("test_skew"))]);
    seal(dir.path());
    // It has the right fingerprint and sections, so it verifies...
    verify_dir(dir.path(), Verification::Manifest).expect("verifies");
    // ...but abi_stable refuses its root module.
    let err = load_dir(dir.path(), Verification::Manifest).expect_err("refused");
    assert!(matches!(err, PluginError::Load { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("libtest_skew.so"), "{msg}");
    assert!(msg.contains("99.0.0") && msg.contains("0.1.0"), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg:?}");
}

#[test]
fn duplicate_names_are_refused_whatever_the_directory_order() {
    let mut messages = Vec::new();
    for order in [["a-first.so", "z-second.so"], ["z-second.so", "a-first.so"]] {
        let dir = tempfile::tempdir().expect("dir");
        for name in order {
            std::fs::copy(plugin("test_behaviour"), dir.path().join(name)).expect("copy");
        }
        let err = pedia_plugin_host::write_manifest(dir.path()).expect_err("duplicate");
        assert!(matches!(err, PluginError::DuplicateName { .. }), "{err}");
        let unverified = refused(dir.path(), Verification::AllowUnverified);
        assert_eq!(unverified.to_string(), err.to_string());
        messages.push(err.to_string());
    }
    assert_eq!(messages[0], messages[1]);
    assert!(
        messages[0].contains("\"test-behaviour\""),
        "{}",
        messages[0]
    );
    assert!(
        messages[0].contains("a-first.so, z-second.so"),
        "{}",
        messages[0]
    );

    // A manifest listing both is refused when parsed, before any file is read.
    let dir = tempfile::tempdir().expect("dir");
    let fp = pedia_plugin_api::fingerprint::FINGERPRINT;
    let sha = "0".repeat(64);
    std::fs::write(
        dir.path().join("manifest.json"),
        format!(
            r#"{{"version":1,"fingerprint":{fp:?},"plugins":[
                {{"name":"dup","file":"z.so","sha256":"{sha}","fingerprint":{fp:?}}},
                {{"name":"dup","file":"a.so","sha256":"{sha}","fingerprint":{fp:?}}}]}}"#
        ),
    )
    .expect("write");
    let err = refused(dir.path(), Verification::Manifest);
    assert_eq!(
        err.to_string(),
        "storage layer name \"dup\" is registered by more than one plugin: a.so, z.so"
    );
}

#[test]
fn a_plugin_name_taken_by_a_built_in_layer_is_refused() {
    struct Fake;
    #[pedia_plugin_api::async_trait]
    impl pedia_storage::StorageLayer for Fake {
        fn name(&self) -> &str {
            "test-behaviour"
        }
        async fn open(
            &self,
            _: Option<&Path>,
        ) -> pedia_storage::Result<std::sync::Arc<dyn pedia_storage::StorageFactory>> {
            Err(pedia_storage::StorageError::unsupported("fake"))
        }
    }
    let mut registry = pedia_storage::Registry::new();
    registry
        .register("built-in", std::sync::Arc::new(Fake))
        .expect("register");
    let dir = plugin_dir(&[("libtest_behaviour.so", &plugin("test_behaviour"))]);
    seal(dir.path());
    let err = pedia_plugin_host::register_dir(&mut registry, dir.path(), Verification::Manifest)
        .expect_err("taken");
    assert!(matches!(err, PluginError::NameTaken { .. }), "{err}");
}

#[test]
fn a_pinned_manifest_must_have_the_pinned_sha256() {
    let dir = plugin_dir(&[("libtest_behaviour.so", &plugin("test_behaviour"))]);
    seal(dir.path());
    let manifest = std::fs::read(dir.path().join("manifest.json")).expect("manifest");
    let sha = pedia_plugin_host::manifest::sha256_hex(&manifest);
    let plugins = verify_dir_pinned(
        dir.path(),
        Verification::Manifest,
        Some(&sha.to_uppercase()),
    )
    .expect("the pinned manifest verifies");
    assert_eq!(plugins.len(), 1);

    let other = "0".repeat(64);
    match verify_dir_pinned(dir.path(), Verification::Manifest, Some(&other)) {
        Err(PluginError::ManifestPin { actual, pinned, .. }) => {
            assert_eq!(actual, sha);
            assert_eq!(pinned, other);
        }
        other => panic!("expected a pin refusal, got {other:?}"),
    }
    // A pin needs a manifest, even where unverified directories are allowed.
    std::fs::remove_file(dir.path().join("manifest.json")).expect("remove");
    assert!(matches!(
        verify_dir_pinned(dir.path(), Verification::AllowUnverified, Some(&sha)),
        Err(PluginError::MissingManifest { .. })
    ));
}
