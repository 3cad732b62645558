//! The Nix side, with Debian's `nix-instantiate` (nixpkgs cannot be fetched here, so the
//! flake is not built): every `.nix` file parses, the unit tests of the pure functions in
//! `nix/lib` (and the evaluation of the flake over the strict stand-ins of `nix/tests/stubs`)
//! evaluate to true, every flake output evaluates down to a derivation, the stand-ins refuse
//! an argument name the real function does not take, and the Nix functions agree with the
//! Rust code — the fingerprint inputs with the fingerprint this build compiled in, and a
//! manifest assembled in Nix is one the plugin host accepts.

use std::collections::BTreeSet;
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
            "external",
            "fingerprint",
            "flake",
            "images",
            "manifest",
            "plugins"
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
            apiCargoToml = builtins.readFile ./crates/pedia-plugin-api/Cargo.toml;
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
    // What the flake itself computes (nix/packages.nix, over the stand-ins) and checks every
    // installed plugin against.
    let flake = nix_eval(&[
        "--json",
        "-E",
        &format!(
            "(import ./nix/tests/stubs {{ }}).legacyPackages.{}.clusterpedia.expectedFingerprint",
            nix_system()
        ),
    ]);
    assert!(
        flake.status.success(),
        "{}",
        String::from_utf8_lossy(&flake.stderr)
    );
    let flake: serde_json::Value = serde_json::from_slice(&flake.stdout).expect("json");
    assert_eq!(flake, expected, "the flake computes what nix/lib computes");
    for key in ["rustc", "target", "api"] {
        assert_eq!(
            expected[key].as_str(),
            field(FINGERPRINT, key),
            "{key}: Nix computes {} from the source, build.rs compiled {FINGERPRINT}",
            expected[key]
        );
    }
    assert_eq!(expected.as_object().map(|o| o.len()), Some(3), "{expected}");
}

/// A copy of the repository's Nix sources (`flake.nix`, `nix/` without its tests) in a
/// temporary directory, with links to everything else the flake reads, so one file can be
/// changed and evaluated through the same stand-ins.
fn nix_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let nix = dir.path().join("nix");
    std::fs::create_dir_all(nix.join("lib")).expect("mkdir");
    for entry in std::fs::read_dir(root().join("nix/lib"))
        .expect("nix/lib")
        .flatten()
    {
        std::fs::copy(entry.path(), nix.join("lib").join(entry.file_name())).expect("copy");
    }
    for file in ["packages.nix", "images.nix"] {
        std::fs::copy(root().join("nix").join(file), nix.join(file)).expect("copy");
    }
    for linked in [
        "Cargo.toml",
        "Cargo.lock",
        "rust-toolchain.toml",
        ".cargo",
        "crates",
        "plugins",
        "charts",
    ] {
        std::os::unix::fs::symlink(root().join(linked), dir.path().join(linked)).expect("link");
    }
    dir
}

/// Replaces `from` (which must occur exactly `times` times) by `to` in `file`.
fn edit(file: &Path, from: &str, to: &str, times: usize) {
    let text = std::fs::read_to_string(file).expect("read");
    assert_eq!(
        text.matches(from).count(),
        times,
        "{} should contain {from:?} {times} time(s)",
        file.display()
    );
    std::fs::write(file, text.replace(from, to)).expect("write");
}

/// Evaluates `attr` of the package set of `copy`'s nix/packages.nix, built from `copy`'s
/// sources over the stand-ins.
fn eval_copy(copy: &Path, attr: &str) -> std::process::Output {
    let stubs = root().join("nix/tests/stubs/package-set.nix");
    let expr = format!(
        "let pkgs = import {} {{ packages = {}/nix/packages.nix; src = {}; }}; in pkgs.{attr}",
        stubs.display(),
        copy.display(),
        copy.display()
    );
    nix_eval(&["-E", &expr])
}

#[test]
fn every_flake_output_evaluates_to_a_derivation_with_the_strict_stand_ins() {
    let out = nix_eval(&["--json", "nix/tests/stubs/outputs.nix"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outputs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(keys(&outputs), ["aarch64-linux", "x86_64-linux"]);
    let mut every = Vec::new();
    fn collect(v: &serde_json::Value, path: String, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(o) => {
                for (k, v) in o {
                    collect(v, format!("{path}.{k}"), out);
                }
            }
            serde_json::Value::String(s) => out.push((path, s.clone())),
            _ => {}
        }
    }
    collect(&outputs, String::new(), &mut every);
    for (path, drv) in &every {
        assert!(
            drv.starts_with("/nix/store/") && drv.ends_with(".drv"),
            "{path} is {drv}, not a derivation"
        );
    }
    for system in ["aarch64-linux", "x86_64-linux"] {
        let o = &outputs[system];
        assert_eq!(
            keys(&o["packages"]),
            [
                "apiserver",
                "apiserver-image",
                "apiserver-with-plugins",
                "binding-apiserver",
                "binding-apiserver-image",
                "clustersynchro-manager",
                "clustersynchro-manager-image",
                "clustersynchro-manager-with-plugins",
                "default",
                "pedia",
                "plugins",
                "sample-storage-layer",
                "sample-storage-layer-image",
                "workspace"
            ],
            "{system}"
        );
        assert_eq!(
            keys(&o["checks"]),
            ["clippy", "fmt", "nix-lib", "plugins", "tests"]
        );
        assert_eq!(keys(&o["devShells"]), ["default"]);
        assert_eq!(
            o["overlay"]["rust"], true,
            "rust-overlay is in overlays.default"
        );
        assert_eq!(
            keys(&o["overlay"]["images"]),
            [
                "apiserver",
                "binding-apiserver",
                "clustersynchro-manager",
                "sample-storage-layer"
            ]
        );
        let plugin_flake = &o["pluginFlake"];
        assert_eq!(
            keys(&plugin_flake["plugins"]),
            [
                "alpha-storage-layer",
                "beta-storage-layer",
                "sample-storage-layer"
            ]
        );
        assert_eq!(
            keys(&plugin_flake["images"]),
            [
                "alpha-storage-layer",
                "apiserver",
                "beta-storage-layer",
                "binding-apiserver",
                "clustersynchro-manager",
                "sample-storage-layer"
            ]
        );
        // The plugins' closure is in the component images, so they differ from the plain
        // flake's; the shipped plugin's own image does not.
        assert_ne!(
            plugin_flake["images"]["apiserver"],
            o["packages"]["apiserver-image"]
        );
        assert_eq!(
            plugin_flake["images"]["sample-storage-layer"],
            o["packages"]["sample-storage-layer-image"]
        );
        assert_ne!(plugin_flake["allPlugins"], o["packages"]["plugins"]);
    }
    let distinct: BTreeSet<&str> = every.iter().map(|(_, d)| d.as_str()).collect();
    assert!(
        distinct.len() > 50,
        "{} distinct derivations: {every:?}",
        distinct.len()
    );
}

#[test]
fn a_misspelled_argument_fails_evaluation_naming_it() {
    let copy = nix_copy();
    let packages = copy.path().join("nix/packages.nix");
    let ok = eval_copy(copy.path(), "workspace.drvPath");
    assert!(
        ok.status.success(),
        "the unchanged copy evaluates: {}",
        String::from_utf8_lossy(&ok.stderr)
    );

    edit(
        &packages,
        "cargoExtraArgs = \"--locked --workspace\";",
        "cargoExtraArg = \"--locked --workspace\";",
        1,
    );
    let out = eval_copy(copy.path(), "workspace.drvPath");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "cargoExtraArg was accepted");
    // buildPackage or buildDepsOnly, whichever the evaluation reaches first.
    assert!(
        err.contains("(stand-in): unexpected argument cargoExtraArg;")
            && err.contains("error: craneLib.build"),
        "{err}"
    );

    // The same for nixpkgs' functions: dockerTools.streamLayeredImage takes extraCommands.
    let copy = nix_copy();
    edit(
        &copy.path().join("nix/images.nix"),
        "extraCommands = ''",
        "extraCommand = ''",
        2,
    );
    let out = eval_copy(copy.path(), "images.apiserver.drvPath");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "extraCommand was accepted");
    assert!(err.contains("unexpected argument 'extraCommand'"), "{err}");
}

#[test]
fn a_toolchain_channel_that_is_not_a_full_release_stops_evaluation_with_the_reason() {
    let copy = nix_copy();
    let toolchain = copy.path().join("rust-toolchain.toml");
    std::fs::remove_file(&toolchain).expect("unlink");
    let text = std::fs::read_to_string(root().join("rust-toolchain.toml")).expect("read");
    let channel = (field_of_toml(&text, "channel")).expect("a channel");
    let minor = channel.rsplit_once('.').map(|(m, _)| m).expect("x.y.z");
    std::fs::write(
        &toolchain,
        text.replace(&format!("\"{channel}\""), &format!("\"{minor}\"")),
    )
    .expect("write");
    let out = eval_copy(copy.path(), "workspace.drvPath");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "channel {minor} was accepted");
    assert!(
        err.contains(&format!(
            "rust-toolchain.toml's channel is \"{minor}\"; it must be a full release"
        )) && err.contains("rustc's exact release"),
        "{err}"
    );
}

/// The string value of `key = "..."` in a TOML text.
fn field_of_toml(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
    })
}

#[test]
fn mk_storage_plugin_mistakes_name_the_plugin_and_the_fix() {
    let cases = [
        (
            "{ name = \"old\"; src = ./nix/tests/fixtures/plugins/old-toolchain; }",
            "mkStoragePlugin (\"old\"): its rust-toolchain.toml names channel \"1.80.0\"",
        ),
        (
            "{ name = \"alpha\"; src = ./nix/tests/fixtures/plugins/alpha; libname = \"x\"; }",
            "mkStoragePlugin (\"alpha\"): unknown attribute libname;",
        ),
        (
            "{ name = \"sample-storage-layer\"; src = ./nix/tests/fixtures/plugins/alpha; }",
            "storage layer name \"sample-storage-layer\" is registered by more than one plugin (libsample_storage.so, libalpha_storage.so)",
        ),
    ];
    for (spec, message) in cases {
        let expr = format!(
            "let o = import ./nix/tests/stubs {{ }}; in \
             builtins.attrNames (o.lib.eachSystem (o.lib.mkStoragePlugin {spec}) (c: c.plugins)).x86_64-linux"
        );
        let out = nix_eval(&["-E", &expr]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{spec} was accepted");
        assert!(err.contains(message), "{spec}:\n{err}");
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
