//! `cargo xtask bench`: builds the benchmark (`crates/bench`) and the sample plugin in one
//! cargo invocation — one feature resolution, so the plugin's fingerprint matches the
//! binary that loads it — then runs `pedia-bench run`. Full runs use the release profile;
//! `--quick` uses the dev profile and builds what `cargo test --workspace` already built,
//! so the CI smoke test compiles nothing new.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::dist::cargo;

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Smoke-test sizes in the dev profile: finishes in under two minutes once built.
    #[arg(long)]
    quick: bool,
    /// Storage layers, comma-separated (memory, sqlite, postgres, mysql, plugin).
    #[arg(long)]
    layers: Option<String>,
    /// Where the JSON and Markdown results go (relative to the workspace root).
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Cargo profile to build with (default: release; dev with --quick).
    #[arg(long)]
    profile: Option<String>,
    /// More `pedia-bench run` flags (sizes, rates, durations), after `--`.
    #[arg(last = true)]
    extra: Vec<String>,
}

fn target_dir(root: &Path) -> Result<PathBuf> {
    let output = cargo()
        .current_dir(root)
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
    Ok(PathBuf::from(
        meta["target_directory"]
            .as_str()
            .context("cargo metadata has no target_directory")?,
    ))
}

pub(crate) fn run(args: &BenchArgs, root: &Path) -> Result<()> {
    let profile = args
        .profile
        .clone()
        .unwrap_or_else(|| if args.quick { "dev" } else { "release" }.to_owned());
    let mut build = cargo();
    build
        .current_dir(root)
        .args(["build", "--locked", "--profile", &profile]);
    if args.quick {
        // Exactly the build the tests make (pedia-testkit builds the workspace).
        build.arg("--workspace");
    } else {
        build.args(["-p", "pedia-bench", "-p", "sample-storage"]);
    }
    let status = build.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build of the benchmark failed");
    }
    let dir = target_dir(root)?.join(if profile == "dev" { "debug" } else { &profile });
    let out = root.join(&args.out);
    let mut bench = Command::new(dir.join("pedia-bench"));
    bench
        .current_dir(root)
        .arg("run")
        .arg("--out")
        .arg(&out)
        .arg("--plugin")
        .arg(dir.join("libsample_storage.so"));
    if args.quick {
        bench.arg("--quick");
    }
    if let Some(layers) = &args.layers {
        bench.args(["--layers", layers]);
    }
    bench.args(&args.extra);
    let status = bench.status().context("running pedia-bench")?;
    if !status.success() {
        bail!("the benchmark failed (see above)");
    }
    let kind = if args.quick { "quick" } else { "full" };
    let json = out.join(format!("{kind}-latest.json"));
    if !json.is_file() {
        bail!("the benchmark wrote no {}", json.display());
    }
    Ok(())
}
