//! Computes the build fingerprint compiled into the host and every plugin, from the build
//! that produces the artifact: the compiler (release and commit), the target, and every
//! package in this crate's dependency closure as that build resolved it (name, version,
//! and the registry checksum, or a hash of the sources for path and git packages). Crates
//! outside the closure are the plugin's own business, as packages a Go plugin adds are.
//!
//! The build is named by `PEDIA_BUILD_WORKSPACE` (the workspace root whose `Cargo.lock`
//! resolves this build), which the workspace's `.cargo/config.toml` sets:
//! `[env] PEDIA_BUILD_WORKSPACE = { value = ".", relative = true }`. Nothing here falls
//! back to a placeholder: an input that cannot be determined stops the build.

use std::collections::{BTreeMap, BTreeSet};
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("error: pedia-plugin-api fingerprint: {message}");
    std::process::exit(1);
}

fn var(name: &str) -> String {
    env::var(name).unwrap_or_else(|_| fail(format!("cargo did not set {name}")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `release` and `commit-hash` of `rustc -vV`.
fn rustc_identity() -> (String, String) {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .unwrap_or_else(|e| fail(format!("cannot run `{rustc} -vV`: {e}")));
    if !out.status.success() {
        fail(format!("`{rustc} -vV` failed"));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            .filter(|v| !v.is_empty() && v != "unknown")
            .unwrap_or_else(|| fail(format!("`{rustc} -vV` prints no {name}")))
    };
    (field("release:"), field("commit-hash:"))
}

/// `checksum` of every registry package in a `Cargo.lock`, by (name, version, source).
fn lock_checksums(lock: &str) -> BTreeMap<(String, String, String), String> {
    let mut out = BTreeMap::new();
    for block in lock.split("[[package]]").skip(1) {
        let mut fields = BTreeMap::new();
        for line in block.lines() {
            if let Some((k, v)) = line.split_once(" = ")
                && let Some(v) = v.trim().strip_prefix('"').and_then(|v| v.strip_suffix('"'))
            {
                fields.insert(k.trim(), v.to_owned());
            }
        }
        if let (Some(n), Some(v), Some(s), Some(c)) = (
            fields.get("name"),
            fields.get("version"),
            fields.get("source"),
            fields.get("checksum"),
        ) {
            out.insert((n.clone(), v.clone(), s.clone()), c.clone());
        }
    }
    out
}

/// Files whose content is a path or git package's identity: its sources and build script.
/// (Not `Cargo.toml`: vendoring rewrites it; the version and the resolved dependencies
/// are covered by the other lines.)
fn source_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root.join("src"), &mut files);
    if root.join("build.rs").is_file() {
        files.push(root.join("build.rs"));
    }
    files.sort();
    files
}

fn content_hash(root: &Path) -> String {
    let mut hasher = Sha256::new();
    for file in source_files(root) {
        let rel = file.strip_prefix(root).unwrap_or(&file);
        let bytes = fs::read(&file)
            .unwrap_or_else(|e| fail(format!("cannot read {}: {e}", file.display())));
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    hex(&hasher.finalize()[..16])
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
    println!("cargo:rerun-if-env-changed=PEDIA_BUILD_WORKSPACE");
    let workspace = env::var_os("PEDIA_BUILD_WORKSPACE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            fail(
                "PEDIA_BUILD_WORKSPACE is not set. The fingerprint is computed from the Cargo.lock \
             of the workspace being built: add to its .cargo/config.toml\n\
             [env]\nPEDIA_BUILD_WORKSPACE = { value = \".\", relative = true }\n\
             and run cargo from that workspace (`pedia plugin new` writes this file)",
            )
        });
    let lock_path = workspace.join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock_path.display());
    let lock = fs::read_to_string(&lock_path).unwrap_or_else(|e| {
        fail(format!(
            "cannot read {} (PEDIA_BUILD_WORKSPACE): {e}",
            lock_path.display()
        ))
    });
    let (release, commit) = rustc_identity();
    let target = var("TARGET");
    let own_manifest = PathBuf::from(var("CARGO_MANIFEST_DIR")).join("Cargo.toml");

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // The resolve of the whole workspace for this target: the fingerprint must not depend
    // on which packages the current command happens to build. A build of one package
    // downloads only what that package needs, so the first try is offline (no network,
    // the common case and the Nix sandbox's, where every locked crate is vendored) and the
    // second lets cargo fetch the manifests still missing, as on a fresh machine.
    let metadata = |offline: bool| {
        let mut cmd = Command::new(&cargo);
        cmd.arg("metadata")
            .args(["--format-version", "1", "--locked"])
            .args(["--filter-platform", &target])
            .arg("--manifest-path")
            .arg(workspace.join("Cargo.toml"))
            .env_remove("CARGO_TARGET_DIR");
        if offline {
            cmd.arg("--offline");
        }
        cmd.output()
            .unwrap_or_else(|e| fail(format!("cannot run `{cargo} metadata`: {e}")))
    };
    let mut out = metadata(true);
    if !out.status.success() {
        out = metadata(false);
    }
    if !out.status.success() {
        fail(format!(
            "`cargo metadata` of {} failed: {}",
            workspace.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| fail(format!("cargo metadata printed no JSON: {e}")));
    let packages: BTreeMap<&str, &serde_json::Value> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let nodes: BTreeMap<&str, &serde_json::Value> = meta["resolve"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let same_file = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    let root = packages
        .iter()
        .find(|(_, p)| {
            p["manifest_path"]
                .as_str()
                .is_some_and(|m| same_file(Path::new(m), &own_manifest))
        })
        .map(|(id, _)| *id)
        .unwrap_or_else(|| {
            fail(format!(
                "the workspace {} (PEDIA_BUILD_WORKSPACE) does not build this pedia-plugin-api ({})",
                workspace.display(),
                own_manifest.display()
            ))
        });

    // The closure over normal and build dependencies; dev-dependencies never reach an artifact.
    let mut closure = BTreeSet::new();
    let mut todo = vec![root];
    while let Some(id) = todo.pop() {
        if !closure.insert(id) {
            continue;
        }
        let node = nodes
            .get(id)
            .unwrap_or_else(|| fail(format!("cargo metadata has no resolve node for {id}")));
        for dep in node["deps"].as_array().into_iter().flatten() {
            let linked = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null() || k["kind"] == "build");
            if linked && let Some(pkg) = dep["pkg"].as_str() {
                todo.push(pkg);
            }
        }
    }

    let checksums = lock_checksums(&lock);
    let mut crates = BTreeSet::new();
    let mut api_line = String::new();
    for id in &closure {
        let p = packages
            .get(id)
            .unwrap_or_else(|| fail(format!("cargo metadata has no package {id}")));
        let name = p["name"]
            .as_str()
            .unwrap_or_else(|| fail("a package without a name"));
        let version = p["version"]
            .as_str()
            .unwrap_or_else(|| fail("a package without a version"));
        let identity = match p["source"].as_str() {
            Some(source) if source.starts_with("registry+") || source.starts_with("sparse+") => {
                let checksum = checksums
                    .get(&(name.to_owned(), version.to_owned(), source.to_owned()))
                    .unwrap_or_else(|| {
                        fail(format!(
                            "{} has no checksum for {name} {version}",
                            lock_path.display()
                        ))
                    });
                format!("registry {checksum}")
            }
            // Path and git packages: the same commit is the same code whichever way it came.
            _ => {
                let manifest = p["manifest_path"]
                    .as_str()
                    .unwrap_or_else(|| fail(format!("{name} has no manifest path")));
                let dir = Path::new(manifest)
                    .parent()
                    .unwrap_or_else(|| Path::new("."));
                println!("cargo:rerun-if-changed={}", dir.join("src").display());
                if dir.join("build.rs").is_file() {
                    println!("cargo:rerun-if-changed={}", dir.join("build.rs").display());
                }
                format!("source {}", content_hash(dir))
            }
        };
        if *id == root {
            api_line = format!("interface pedia-plugin-api {version} {identity}");
        }
        crates.insert(format!("crate {name} {version} {identity}"));
    }

    let mut document =
        format!("pedia-fp/2\nrustc {release} {commit}\ntarget {target}\n{api_line}\n");
    for line in &crates {
        document.push_str(line);
        document.push('\n');
    }
    let closure_hash = hex(&Sha256::digest(document.as_bytes())[..16]);
    let short = format!(
        "pedia-fp/2;rustc={release};rustc-commit={commit};target={target};api={};closure={closure_hash}",
        var("CARGO_PKG_VERSION")
    );
    let out_dir = PathBuf::from(var("OUT_DIR"));
    fs::write(out_dir.join("fingerprint.txt"), &document)
        .unwrap_or_else(|e| fail(format!("cannot write the fingerprint: {e}")));
    println!("cargo:rustc-env=PEDIA_BUILD_FINGERPRINT={short}");
}
