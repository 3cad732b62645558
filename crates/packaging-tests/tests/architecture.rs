//! The crate boundaries ARCHITECTURE.md's "Architecture Invariant" lines state, checked
//! against the resolved dependency graph (`cargo metadata`) and the sources: a change that
//! crosses a boundary fails here, naming the line it breaks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use pedia_testkit::workspace::root;
use serde_json::Value;

struct Graph {
    /// Package name -> (normal dependency names, manifest dir). Names are unique here.
    packages: BTreeMap<String, (BTreeSet<String>, PathBuf)>,
    members: BTreeSet<String>,
}

fn graph() -> Graph {
    let out = pedia_testkit::workspace::cargo()
        .current_dir(root())
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", "x86_64-unknown-linux-gnu"])
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("json");
    let names: BTreeMap<&str, (&str, PathBuf)> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let dir = Path::new(p["manifest_path"].as_str().expect("manifest"))
                .parent()
                .expect("dir")
                .to_owned();
            (
                p["id"].as_str().expect("id"),
                (p["name"].as_str().expect("name"), dir),
            )
        })
        .collect();
    let mut packages = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().expect("nodes") {
        let (name, dir) = &names[node["id"].as_str().expect("id")];
        let deps = node["deps"]
            .as_array()
            .expect("deps")
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k["kind"].is_null()))
            })
            .map(|d| names[d["pkg"].as_str().expect("pkg")].0.to_owned())
            .collect();
        packages.insert((*name).to_owned(), (deps, dir.clone()));
    }
    let members = meta["workspace_members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|id| names[id.as_str().expect("id")].0.to_owned())
        .collect();
    Graph { packages, members }
}

impl Graph {
    /// Every package `name` links (normal dependencies, transitively).
    fn closure(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![name.to_owned()];
        while let Some(n) = todo.pop() {
            if let Some((deps, _)) = self.packages.get(&n) {
                for d in deps {
                    if seen.insert(d.clone()) {
                        todo.push(d.clone());
                    }
                }
            }
        }
        seen
    }

    fn direct(&self, name: &str) -> &BTreeSet<String> {
        &self.packages[name].0
    }

    fn dir(&self, name: &str) -> &Path {
        &self.packages[name].1
    }
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read");
                out.push((path, text));
            }
        }
    }
    out
}

#[test]
fn pedia_core_does_no_io_and_links_no_runtime() {
    let g = graph();
    let closure = g.closure("pedia-core");
    for runtime in ["tokio", "sqlx", "axum", "hyper", "mio", "kube"] {
        assert!(!closure.contains(runtime), "pedia-core links {runtime}");
    }
    for (path, text) in sources(&g.dir("pedia-core").join("src")) {
        for io in ["std::fs", "std::net", "std::process", "std::env::var"] {
            assert!(!text.contains(io), "{} uses {io}", path.display());
        }
    }
}

#[test]
fn storage_knows_no_http_and_the_apiserver_no_concrete_layer() {
    let g = graph();
    for layer in [
        "pedia-storage",
        "storage-memory",
        "storage-internal",
        "sample-storage",
    ] {
        let closure = g.closure(layer);
        for http in ["axum", "hyper", "apiserver", "https-serve"] {
            assert!(!closure.contains(http), "{layer} links {http}");
        }
    }
    // The apiserver library names layers only through storage-setup's registry.
    for (path, text) in sources(&g.dir("apiserver").join("src")) {
        for layer in ["storage_memory", "storage_internal", "sample_storage"] {
            assert!(!text.contains(layer), "{} names {layer}", path.display());
        }
    }
    // The manager writes member-cluster objects through synchro-writer; it writes storage
    // itself only to publish PediaClusters (status.rs) and to clean removed clusters.
    for (path, text) in sources(&g.dir("clustersynchro-manager").join("src")) {
        if text.contains(".apply_batch(") {
            assert!(
                path.ends_with("status.rs"),
                "{} writes objects itself",
                path.display()
            );
        }
    }
}

#[test]
fn a_plugin_crate_depends_on_the_plugin_api_only() {
    let g = graph();
    let plugins: Vec<&String> = g
        .members
        .iter()
        .filter(|m| g.dir(m).starts_with(root().join("plugins")))
        .collect();
    assert!(
        plugins.iter().any(|p| *p == "sample-storage"),
        "{plugins:?}"
    );
    for plugin in plugins {
        let workspace_deps: Vec<&String> = g
            .direct(plugin)
            .iter()
            .filter(|d| g.members.contains(*d))
            .collect();
        assert_eq!(workspace_deps, ["pedia-plugin-api"], "{plugin}");
    }
}

#[test]
fn every_layer_runs_the_conformance_suite() {
    let g = graph();
    let runs = |krate: &str| -> Vec<String> {
        let text = std::fs::read_to_string(g.dir(krate).join("tests/conformance.rs"))
            .unwrap_or_else(|e| panic!("{krate}/tests/conformance.rs: {e}"));
        text.split("conformance_suite!(")
            .skip(1)
            .filter_map(|rest| rest.split(',').next())
            .map(|layer| layer.trim().to_owned())
            .collect()
    };
    assert_eq!(runs("storage-memory"), ["memory"]);
    let internal = runs("storage-internal");
    for layer in ["sqlite", "postgres", "mysql"] {
        assert!(internal.iter().any(|l| l == layer), "{internal:?}");
    }
    // The sample plugin in-crate, and the same plugin loaded through the plugin host.
    let sample = runs("sample-storage");
    let hosted = runs("pedia-plugin-host");
    for (runs, layer) in [
        (&sample, "sample_sqlite"),
        (&sample, "sample_postgres"),
        (&sample, "sample_mysql"),
        (&hosted, "plugin_sqlite"),
        (&hosted, "plugin_postgres"),
        (&hosted, "plugin_mysql"),
    ] {
        assert!(
            runs.iter().any(|l| l == layer),
            "{layer} missing from {runs:?}"
        );
    }
}

#[test]
fn abi_stable_stays_in_the_plugin_boundary() {
    let g = graph();
    let allowed: Vec<PathBuf> = [
        ("pedia-plugin-api", "src/ffi.rs"),
        ("pedia-plugin-api", "src/wire.rs"),
        ("pedia-plugin-api", "src/guest.rs"),
        ("pedia-plugin-api", "src/lib.rs"),
        ("pedia-plugin-host", "src/load.rs"),
        ("pedia-plugin-host", "src/adapter.rs"),
        // A plugin that forges a root module of another interface version, to be refused.
        ("test-skew", "src/lib.rs"),
    ]
    .iter()
    .map(|(krate, file)| g.dir(krate).join(file))
    .collect();
    let mut checked = 0;
    for member in &g.members {
        for (path, text) in sources(&g.dir(member).join("src")) {
            checked += 1;
            let names_it = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .any(|l| l.contains("abi_stable::") || l.contains("use abi_stable"));
            assert!(
                !names_it || allowed.contains(&path),
                "{} names abi_stable outside the plugin boundary",
                path.display()
            );
        }
        assert!(
            !g.direct(member).contains("abi_stable")
                || ["pedia-plugin-api", "pedia-plugin-host", "test-skew"]
                    .contains(&member.as_str()),
            "{member} depends on abi_stable"
        );
    }
    assert!(checked > 100, "only {checked} source files seen");
}

/// A clean clone is all a user (and CI) has: no tracked file may reach outside the
/// repository for its scripts, as `.ci/run` once did for the database set-up.
#[test]
fn the_repository_needs_nothing_outside_itself() {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root())
        .args(["ls-files", "-z"])
        .output()
        .expect("git ls-files");
    assert!(out.status.success(), "git ls-files failed");
    // Built from parts so this file does not match itself.
    let needle = ["..", "/shared/"].concat();
    let mut offenders = Vec::new();
    for file in String::from_utf8_lossy(&out.stdout).split('\0') {
        if file.is_empty() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root().join(file)) else {
            continue; // binary fixtures
        };
        if text.contains(&needle) {
            offenders.push(file.to_owned());
        }
    }
    assert!(
        offenders.is_empty(),
        "these files use a path outside the repository ({needle}): {offenders:?}"
    );
}
