//! The Nix side, with Debian's `nix-instantiate` (nixpkgs cannot be fetched here, so the
//! flake is not built): every `.nix` file parses, the unit tests of the pure functions in
//! `nix/lib` (and the stubbed evaluation of the flake) evaluate to true, and the Nix
//! functions agree with the Rust code — the fingerprint inputs with the fingerprint this
//! build compiled in, and a manifest assembled in Nix is one the plugin host accepts.

use std::path::{Path, PathBuf};
use std::process::Command;

use packaging_tests::{output, root, tool};
use pedia_plugin_api::fingerprint::{FINGERPRINT, field};
use pedia_plugin_host::{MANIFEST_FILE, Verification, inspect_file, verify_dir};

fn nix_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            nix_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "nix") {
            out.push(path);
        }
    }
}

fn nix_eval(args: &[&str]) -> std::process::Output {
    output(
        Command::new(tool("nix-instantiate"))
            .current_dir(root())
            .args(["--eval", "--strict"])
            .args(args),
    )
}

fn nix_system() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "aarch64-linux",
        _ => "x86_64-linux",
    }
}

#[test]
fn every_nix_file_parses() {
    let mut files = vec![root().join("flake.nix")];
    nix_files(&root().join("nix"), &mut files);
    assert!(files.len() > 10, "{files:?}");
    for file in &files {
        let out = output(
            Command::new(tool("nix-instantiate"))
                .arg("--parse")
                .arg(file),
        );
        assert!(
            out.status.success(),
            "{} does not parse:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn nix_unit_tests_evaluate_to_true() {
    let mut suites: Vec<PathBuf> = std::fs::read_dir(root().join("nix/tests"))
        .expect("nix/tests")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "nix"))
        .filter(|p| !p.ends_with("harness.nix"))
        .collect();
    suites.sort();
    let names: Vec<_> = suites
        .iter()
        .filter_map(|p| p.file_stem()?.to_str().map(str::to_owned))
        .collect();
    assert_eq!(
        names,
        [
            "fingerprint",
            "flake",
            "images",
            "manifest",
            "plugins",
            "workspace"
        ]
    );
    for suite in &suites {
        let out = nix_eval(&[suite.to_str().expect("utf-8")]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.trim() == "true",
            "{}:\n{stdout}\n{}",
            suite.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn nix_fingerprint_inputs_match_the_fingerprint_this_build_compiled_in() {
    let expr = format!(
        "(import ./nix/lib).fingerprint.expected {{
            rustToolchainToml = builtins.readFile ./rust-toolchain.toml;
            workspaceCargoToml = builtins.readFile ./Cargo.toml;
            system = \"{}\";
        }}",
        nix_system()
    );
    let out = nix_eval(&["--json", "-E", &expr]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    for key in ["rustc", "target", "api"] {
        assert_eq!(
            expected[key].as_str(),
            field(FINGERPRINT, key),
            "{key}: Nix computes {} from the source, build.rs compiled {FINGERPRINT}",
            expected[key]
        );
    }
}

#[test]
fn a_manifest_assembled_in_nix_is_accepted_by_the_plugin_host() {
    let built = pedia_testkit::workspace::plugin("sample_storage");
    let dir = tempfile::tempdir().expect("dir");
    let file = "libsample_storage.so";
    std::fs::copy(&built, dir.path().join(file)).expect("copy");
    let info = inspect_file(&dir.path().join(file)).expect("inspect");

    let assemble = |sha256: &str| {
        nix_eval(&[
            "--json",
            "-E",
            "{ name, file, sha256, fp }: let m = (import ./nix/lib).manifest; in
             m.toJSON (m.mk { fingerprint = fp; plugins = [ { inherit name file sha256; fingerprint = fp; } ]; })",
            "--argstr",
            "name",
            &info.name,
            "--argstr",
            "file",
            file,
            "--argstr",
            "sha256",
            sha256,
            "--argstr",
            "fp",
            &info.fingerprint,
        ])
    };
    let out = assemble(&info.sha256);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `--json` prints the JSON text as a JSON string.
    let text: String = serde_json::from_slice(&out.stdout).expect("a JSON string");
    std::fs::write(dir.path().join(MANIFEST_FILE), &text).expect("write");
    let verified = verify_dir(dir.path(), Verification::Manifest)
        .unwrap_or_else(|e| panic!("the plugin host refuses the Nix manifest: {e}\n{text}"));
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].info.name, "sample-storage-layer");

    // A wrong hash is caught by Nix already, and by the host if written anyway.
    let bad = assemble("not-a-sha256");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("64 lower-case hex"));
    let other = "0".repeat(64);
    let out = assemble(&other);
    let text: String = serde_json::from_slice(&out.stdout).expect("a JSON string");
    std::fs::write(dir.path().join(MANIFEST_FILE), &text).expect("write");
    let Err(err) = verify_dir(dir.path(), Verification::Manifest) else {
        panic!("a changed hash is refused");
    };
    assert!(err.to_string().contains(file), "{err}");

    assert_eq!(
        info.fingerprint, FINGERPRINT,
        "the plugin and this test are one build"
    );
}
