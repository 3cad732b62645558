//! Helpers for the packaging tests (`tests/`): the workspace root, the external tools they
//! drive (helm, kubernetes-validate, nix-instantiate, umoci, podman, runc), and Helm
//! rendering into JSON values.
//!
//! A missing tool fails the test with a message naming the tool and `.ci/tools.sh`, which
//! installs them; nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("this crate lives in crates/packaging-tests")
        .to_owned()
}

/// `name` on `PATH` (or at `fallback`, for tools Debian installs outside a user's PATH),
/// or a panic that says how to get it.
pub fn tool_or(name: &str, fallback: &[&str]) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    on_path
        .or_else(|| fallback.iter().map(PathBuf::from).find(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed or not on PATH. Install it with \
                 `export PATH=\"$(bash .ci/tools.sh):$PATH\"` from the repository root (it \
                 installs helm, kubernetes-validate, nix-instantiate, umoci, podman, runc and \
                 busybox-static, and prints the directory of helm and kubernetes-validate)"
            )
        })
}

/// `name` on `PATH`, or a panic that says how to get it.
pub fn tool(name: &str) -> PathBuf {
    tool_or(name, &[])
}

/// Runs `cmd`, returning its output; panics if it cannot start.
pub fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs `cmd` and panics with its output unless it succeeds; returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = output(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The chart directory `charts/<name>`.
pub fn chart(name: &str) -> PathBuf {
    root().join("charts").join(name)
}

/// `helm template <release> charts/<chart> -n <namespace> <args>`: the rendered objects,
/// or helm's error text.
pub fn helm_template(chart_name: &str, release: &str, args: &[&str]) -> Result<Vec<Value>, String> {
    let out = output(
        Command::new(tool("helm"))
            .args(["template", release])
            .arg(chart(chart_name))
            .args(["--namespace", "clusterpedia-system"])
            .args(args),
    );
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut docs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let value: Value = serde::Deserialize::deserialize(doc)
            .map_err(|e| format!("helm printed invalid YAML: {e}\n{text}"))?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// Like [`helm_template`], panicking on failure.
pub fn render(chart_name: &str, release: &str, args: &[&str]) -> Vec<Value> {
    helm_template(chart_name, release, args)
        .unwrap_or_else(|e| panic!("helm template {chart_name} failed:\n{e}"))
}

/// The object of `kind` named `name`, or a panic listing what was rendered.
pub fn object<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| {
            let have: Vec<String> = docs
                .iter()
                .map(|d| format!("{}/{}", d["kind"], d["metadata"]["name"]))
                .collect();
            panic!("no {kind} {name} among {have:?}")
        })
}

/// Every object of `kind`.
pub fn objects<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// The element of a Kubernetes list (containers, env, volumes, ...) with this `name`.
pub fn named<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|v| v["name"] == name)
}

/// The string arguments of a container's `command` and `args`.
pub fn argv(container: &Value) -> Vec<String> {
    ["command", "args"]
        .iter()
        .flat_map(|k| container[*k].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}
