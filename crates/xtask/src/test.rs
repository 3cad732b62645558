//! `cargo xtask test`: the README's test command. Installs what the tests need and is not
//! there yet (`.ci/tools.sh`), puts it on `PATH`, then runs `cargo test --workspace`, so a
//! fresh Debian or Ubuntu machine needs nothing else. PostgreSQL and MariaDB need not run:
//! the tests start private servers from the installed binaries (crates/pedia-testdb).

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// Skip `.ci/tools.sh` (the tools are known to be installed and on PATH).
    #[arg(long)]
    no_install: bool,
    /// Passed to `cargo test` after `--` (e.g. `-- -p apiserver`, `-- -- --list`);
    /// `--workspace` is added unless a package is named.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    cargo_args: Vec<OsString>,
}

pub(crate) fn run(args: &TestArgs, root: &Path) -> Result<()> {
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if !args.no_install {
        let tools_dir = install_tools(root)?;
        let mut dirs = vec![tools_dir.into()];
        dirs.extend(std::env::split_paths(&path));
        path = std::env::join_paths(dirs).context("joining PATH")?;
    }
    // `-p NAME` narrows the run to packages; otherwise the whole workspace.
    let names_packages = args
        .cargo_args
        .iter()
        .any(|a| a == "-p" || a == "--package" || a.to_string_lossy().starts_with("--package="));
    let mut cargo = crate::dist::cargo();
    cargo.current_dir(root).env("PATH", &path).arg("test");
    if !names_packages {
        cargo.arg("--workspace");
    }
    let status = cargo
        .args(&args.cargo_args)
        .status()
        .context("running cargo test")?;
    if !status.success() {
        bail!("cargo test --workspace failed ({status})");
    }
    Ok(())
}

/// Runs `.ci/tools.sh` and returns the directory it prints (its last line of output).
fn install_tools(root: &Path) -> Result<String> {
    let script = root.join(".ci/tools.sh");
    let output = Command::new("bash")
        .arg(&script)
        .current_dir(root)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed ({}): the messages above say which tool could not be installed",
            script.display(),
            output.status
        );
    }
    let stdout = String::from_utf8(output.stdout).context("tools.sh printed non-UTF-8")?;
    match stdout.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(dir) => Ok(dir.trim().to_owned()),
        None => bail!("{} printed no tools directory", script.display()),
    }
}
