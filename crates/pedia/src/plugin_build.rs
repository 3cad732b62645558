//! `pedia plugin lock` and `pedia plugin build`: an out-of-tree plugin project pinned to the
//! shared crates of a release, and built into a plugin directory the release's components
//! accept. Only the crates of the plugin interface's dependency closure must agree (they
//! are what the fingerprint covers); the project's own dependencies are its business.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

/// The cargo that runs `pedia` (inside `cargo run`/tests), else the one on `PATH`.
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Crate name -> versions, as a fingerprint section lists them (`crate <name> <version> ...`).
fn section_crates(section: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut crates: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in section.lines() {
        let mut words = line.split(' ');
        if let (Some("crate"), Some(name), Some(version)) =
            (words.next(), words.next(), words.next())
        {
            crates
                .entry(name.to_owned())
                .or_default()
                .insert(version.to_owned());
        }
    }
    crates
}

/// The fingerprint section to pin against: from a binary or plugin file, or from the
/// plugins listed in a `manifest.json` (which must agree).
fn target_section(against: &Path) -> Result<String> {
    let is_manifest = against
        .file_name()
        .is_some_and(|f| f == pedia_plugin_host::MANIFEST_FILE);
    if !is_manifest {
        return pedia_plugin_host::fingerprint_of_file(against)
            .with_context(|| format!("reading the fingerprint of {}", against.display()));
    }
    let text = std::fs::read_to_string(against)
        .with_context(|| format!("reading {}", against.display()))?;
    let manifest = pedia_plugin_host::Manifest::parse(&text, against)?;
    let dir = against.parent().unwrap_or(Path::new("."));
    let mut section: Option<(String, String)> = None;
    for entry in &manifest.plugins {
        let file = dir.join(&entry.file);
        let this = pedia_plugin_host::fingerprint_of_file(&file)
            .with_context(|| format!("reading the fingerprint of {}", file.display()))?;
        match &section {
            Some((first, text)) if *text != this => bail!(
                "{} and {} in {} were built differently; pin against one of them",
                first,
                entry.file,
                against.display()
            ),
            Some(_) => {}
            None => section = Some((entry.file.clone(), this)),
        }
    }
    section
        .map(|(_, text)| text)
        .with_context(|| format!("{} lists no plugins", against.display()))
}

/// `cargo metadata` of the project: resolved package versions by name, and the document.
fn metadata(project: &Path, no_deps: bool) -> Result<Value> {
    let mut cmd = cargo();
    cmd.args(["metadata", "--format-version", "1"])
        .current_dir(project);
    if no_deps {
        cmd.arg("--no-deps");
    }
    let out = cmd
        .output()
        .context("running cargo metadata (is cargo installed?)")?;
    ensure!(
        out.status.success(),
        "cargo metadata in {} failed:\n{}",
        project.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).context("reading cargo metadata's output")
}

fn resolved(project: &Path) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let doc = metadata(project, false)?;
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in doc["packages"].as_array().into_iter().flatten() {
        if let (Some(name), Some(version)) = (p["name"].as_str(), p["version"].as_str()) {
            out.entry(name.to_owned())
                .or_default()
                .insert(version.to_owned());
        }
    }
    Ok(out)
}

/// The semver-compatible part of a version: `1` of `1.0.140`, `0.4` of `0.4.2`.
fn compatible(version: &str) -> String {
    let mut parts = version.split('.');
    match (parts.next(), parts.next()) {
        (Some("0"), Some(minor)) => format!("0.{minor}"),
        (Some(major), _) => major.to_owned(),
        _ => version.to_owned(),
    }
}

/// One `cargo update --precise` per shared crate whose version differs.
fn pin_steps(
    want: &BTreeMap<String, BTreeSet<String>>,
    have: &BTreeMap<String, BTreeSet<String>>,
) -> (Vec<(String, String, String)>, Vec<String>) {
    let mut steps = Vec::new();
    let mut problems = Vec::new();
    for (name, wanted) in want {
        let Some(current) = have.get(name) else {
            problems.push(format!(
                "{name} {} is not in the project's dependency graph (do its features differ?)",
                wanted.iter().cloned().collect::<Vec<_>>().join(" and ")
            ));
            continue;
        };
        for version in current.difference(wanted) {
            // Another semver series of a shared crate's name is the project's own
            // dependency (e.g. syn 2 for its macros while the interface uses syn 1).
            let series = compatible(version);
            if let Some(target) = wanted
                .iter()
                .find(|w| compatible(w) == series && !current.contains(*w))
            {
                steps.push((name.clone(), version.clone(), target.clone()));
            }
        }
    }
    (steps, problems)
}

/// `pedia plugin lock --against FILE`: changes the project's Cargo.lock so every crate the
/// plugin interface shares with the host has the host's version.
pub(crate) fn lock(project: &Path, against: &Path) -> Result<()> {
    let want = section_crates(&target_section(against)?);
    ensure!(
        !want.is_empty(),
        "{} lists no shared crates (an older fingerprint format?)",
        against.display()
    );
    let have = resolved(project)?;
    let (steps, problems) = pin_steps(&want, &have);
    for (name, from, to) in &steps {
        let status = cargo()
            .args([
                "update",
                "--package",
                &format!("{name}@{from}"),
                "--precise",
                to,
            ])
            .current_dir(project)
            .status()
            .context("running cargo update")?;
        ensure!(
            status.success(),
            "cargo update --package {name}@{from} --precise {to} failed in {}",
            project.display()
        );
        println!("pinned {name} {from} -> {to}");
    }
    let (left, mut problems_after) = pin_steps(&want, &resolved(project)?);
    for (name, from, to) in left {
        problems_after.push(format!("{name} is still {from}, the release has {to}"));
    }
    if !problems.is_empty() || !problems_after.is_empty() {
        let mut all = problems;
        all.extend(problems_after);
        all.dedup();
        bail!(
            "the project's shared crates cannot all match {}:\n  {}",
            against.display(),
            all.join("\n  ")
        );
    }
    println!(
        "{} shared crates match {} ({} changed)",
        want.len(),
        against.display(),
        steps.len()
    );
    Ok(())
}

/// `pedia plugin build`: `cargo build --locked` with `profile`, then every cdylib of the
/// project copied into `out` with a manifest.json.
pub(crate) fn build(project: &Path, out: &Path, profile: &str) -> Result<()> {
    let status = cargo()
        .args(["build", "--locked", "--lib", "--profile", profile])
        .current_dir(project)
        .status()
        .context("running cargo build")?;
    ensure!(
        status.success(),
        "cargo build failed in {}",
        project.display()
    );
    let doc = metadata(project, true)?;
    let target_dir = PathBuf::from(
        doc["target_directory"]
            .as_str()
            .context("cargo metadata gave no target_directory")?,
    );
    // Cargo's output directory of the dev profile is `debug`.
    let dir = target_dir.join(if profile == "dev" { "debug" } else { profile });
    let mut libraries = Vec::new();
    for package in doc["packages"].as_array().into_iter().flatten() {
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_cdylib = target["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"));
            if let (true, Some(name)) = (is_cdylib, target["name"].as_str()) {
                libraries.push(format!("lib{}.so", name.replace('-', "_")));
            }
        }
    }
    ensure!(
        !libraries.is_empty(),
        "{} has no cdylib target: a plugin crate needs `crate-type = [\"cdylib\"]`",
        project.display()
    );
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for library in &libraries {
        std::fs::copy(dir.join(library), out.join(library))
            .with_context(|| format!("copying {}", dir.join(library).display()))?;
    }
    let manifest = pedia_plugin_host::write_manifest(out)
        .with_context(|| format!("writing the manifest of {}", out.display()))?;
    for p in &manifest.plugins {
        println!("{}  {}  {}", p.sha256, p.file, p.name);
    }
    println!(
        "built {} into {} with {}",
        libraries.join(", "),
        out.display(),
        pedia_plugin_host::MANIFEST_FILE
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn crates_are_read_from_a_section() {
        let section = "pedia-fp/2;x\npedia-fp/2\nrustc 1.95.0 abc\ncrate itoa 1.0.15 registry aa\ncrate syn 1.0.109 registry bb\ncrate syn 2.0.100 registry cc\n";
        let crates = section_crates(section);
        assert_eq!(crates["itoa"], set(&["1.0.15"]));
        assert_eq!(crates["syn"], set(&["1.0.109", "2.0.100"]));
        assert_eq!(crates.len(), 2);
    }

    #[test]
    fn steps_pair_versions_of_one_series() {
        let want = BTreeMap::from([
            ("itoa".to_owned(), set(&["1.0.15"])),
            ("syn".to_owned(), set(&["1.0.109", "2.0.100"])),
            ("zerocopy".to_owned(), set(&["0.8.1"])),
        ]);
        let have = BTreeMap::from([
            ("itoa".to_owned(), set(&["1.0.14"])),
            ("syn".to_owned(), set(&["1.0.109", "2.0.101"])),
            ("zerocopy".to_owned(), set(&["0.7.9"])),
        ]);
        let (steps, problems) = pin_steps(&want, &have);
        assert_eq!(
            steps,
            vec![
                ("itoa".to_owned(), "1.0.14".to_owned(), "1.0.15".to_owned()),
                ("syn".to_owned(), "2.0.101".to_owned(), "2.0.100".to_owned()),
            ],
            "zerocopy 0.7 is another series: the project's own"
        );
        assert!(problems.is_empty(), "{problems:?}");

        let missing = BTreeMap::from([("ryu".to_owned(), set(&["1.0.20"]))]);
        let (steps, problems) = pin_steps(&missing, &have);
        assert!(steps.is_empty());
        assert!(problems[0].contains("ryu 1.0.20 is not in"), "{problems:?}");
    }
}
