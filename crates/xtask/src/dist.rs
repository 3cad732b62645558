//! `cargo xtask dist`: one `cargo build` of the whole workspace (so host and plugins share
//! the lockfile, toolchain and unified features), then the binaries into `dist/bin` and the
//! plugins into `dist/plugins` with the manifest the components verify at start-up.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct DistArgs {
    /// Cargo profile to build with.
    #[arg(long, default_value = "release")]
    profile: String,
    /// Output directory.
    #[arg(long, default_value = "dist")]
    out: PathBuf,
}

/// What `cargo metadata` says the workspace builds.
struct Artifacts {
    bins: Vec<String>,
    /// Library names (underscored) of plugin crates.
    plugins: Vec<String>,
    target_dir: PathBuf,
    root: PathBuf,
}

pub(crate) use user_cargo::command as cargo;

fn artifacts() -> Result<Artifacts> {
    let output = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let meta: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let root = PathBuf::from(meta["workspace_root"].as_str().unwrap_or("."));
    let target_dir = PathBuf::from(meta["target_directory"].as_str().unwrap_or("target"));
    let mut bins = Vec::new();
    let mut plugins = Vec::new();
    for package in meta["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default();
        // Test plugins exist to be refused by the loader's tests; they never ship.
        if name == "xtask" || name.starts_with("test-") {
            continue;
        }
        for target in package["targets"].as_array().into_iter().flatten() {
            let kinds: Vec<&str> = target["kind"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|k| k.as_str())
                .collect();
            let target_name = target["name"].as_str().unwrap_or_default();
            if kinds.contains(&"bin") {
                bins.push(target_name.to_owned());
            }
            if kinds.contains(&"cdylib") {
                plugins.push(target_name.replace('-', "_"));
            }
        }
    }
    bins.sort();
    plugins.sort();
    Ok(Artifacts {
        bins,
        plugins,
        target_dir,
        root,
    })
}

fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

pub(crate) fn run(args: &DistArgs) -> Result<()> {
    let artifacts = artifacts()?;
    let status = cargo()
        .current_dir(&artifacts.root)
        // The whole workspace, as the tests build it: one feature resolution for host and
        // plugins (test plugins are built but not copied).
        .args([
            "build",
            "--locked",
            "--workspace",
            "--profile",
            &args.profile,
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build failed");
    }
    let profile_dir = if args.profile == "dev" {
        "debug"
    } else {
        args.profile.as_str()
    };
    let built = artifacts.target_dir.join(profile_dir);
    let out = if args.out.is_absolute() {
        args.out.clone()
    } else {
        artifacts.root.join(&args.out)
    };
    let bin_dir = out.join("bin");
    let plugin_dir = out.join("plugins");
    fresh_dir(&bin_dir)?;
    fresh_dir(&plugin_dir)?;

    for bin in &artifacts.bins {
        let from = built.join(bin);
        std::fs::copy(&from, bin_dir.join(bin))
            .with_context(|| format!("copying {}", from.display()))?;
        println!("bin      {}", bin_dir.join(bin).display());
    }
    for plugin in &artifacts.plugins {
        let file = format!("lib{plugin}.so");
        let from = built.join(&file);
        std::fs::copy(&from, plugin_dir.join(&file))
            .with_context(|| format!("copying {}", from.display()))?;
    }
    let manifest = pedia_plugin_host::write_manifest(&plugin_dir)
        .with_context(|| format!("writing the manifest of {}", plugin_dir.display()))?;
    for p in &manifest.plugins {
        println!(
            "plugin   {}  {}  sha256:{}",
            plugin_dir.join(&p.file).display(),
            p.name,
            p.sha256
        );
    }
    println!(
        "manifest {}",
        plugin_dir.join(pedia_plugin_host::MANIFEST_FILE).display()
    );
    Ok(())
}
