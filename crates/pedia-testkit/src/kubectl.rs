//! Finding real kubectl binaries of given minor versions (`kubectl.1.27`, ...), on `PATH`
//! or next to the `kubectl` on `PATH`, or from `PEDIA_TEST_KUBECTL_DIR`.

use std::path::{Path, PathBuf};

fn candidates_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("PEDIA_TEST_KUBECTL_DIR") {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let kubectl = dir.join("kubectl");
            // Distributions ship versioned binaries beside a dispatcher symlink.
            if let Ok(real) = std::fs::canonicalize(&kubectl)
                && let Some(parent) = real.parent()
            {
                dirs.push(parent.to_owned());
            }
            dirs.push(dir);
        }
    }
    dirs
}

fn runs(path: &Path) -> bool {
    std::process::Command::new(path)
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The kubectl binary of release `1.<minor>`. Panics with instructions when missing:
/// these tests prove compatibility with real kubectl and must not pass without it.
pub fn kubectl(minor: u32) -> PathBuf {
    let name = format!("kubectl.1.{minor}");
    candidates_dirs()
        .into_iter()
        .map(|d| d.join(&name))
        .find(|p| p.is_file() && runs(p))
        .unwrap_or_else(|| {
            panic!(
                "{name} not found on PATH, next to kubectl or in PEDIA_TEST_KUBECTL_DIR: \
                 `bash .ci/install-kubectl.sh` installs it into ~/.local/bin (put that on \
                 PATH), and `cargo xtask test` does both"
            )
        })
}
