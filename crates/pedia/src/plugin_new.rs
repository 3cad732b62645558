//! `pedia plugin new`: scaffolds an out-of-tree storage plugin project from the files in
//! `crates/pedia/template`, wired to the Clusterpedia-rs checkout this `pedia` was built
//! from (or a git URL), with a Cargo.lock seeded from that checkout's so the plugin's
//! fingerprint matches the components built there.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The checkout `pedia` was built from: the template's dependencies point here.
const CHECKOUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The checkout's lock: pedia-plugin-api's closure must resolve exactly as the
/// components' does, and cargo keeps a lock's versions for the packages still used.
const HOST_LOCK: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"));

/// (path in the project, template text)
const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../template/Cargo.toml.in")),
    (
        ".cargo/config.toml",
        include_str!("../template/cargo-config.toml"),
    ),
    (".gitignore", include_str!("../template/gitignore")),
    ("src/lib.rs", include_str!("../template/src/lib.rs")),
    (
        "tests/conformance.rs",
        include_str!("../template/tests/conformance.rs"),
    ),
    ("flake.nix", include_str!("../template/flake.nix")),
    ("Containerfile", include_str!("../template/Containerfile")),
    (
        "charts/@LAYER@/Chart.yaml",
        include_str!("../template/charts/Chart.yaml"),
    ),
    (
        "charts/@LAYER@/values.yaml",
        include_str!("../template/charts/values.yaml"),
    ),
    (
        "charts/@LAYER@/templates/_storage_override.tpl",
        include_str!("../template/charts/templates/_storage_override.tpl"),
    ),
];

/// Where the Clusterpedia-rs crates come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// The checkout at this path.
    Path(PathBuf),
    /// A git repository (optionally `URL#rev`).
    Git(String),
}

impl Source {
    pub(crate) fn from_args(api_git: Option<String>) -> Result<Self> {
        Ok(match api_git {
            Some(url) => Source::Git(url),
            None => Source::Path(
                Path::new(CHECKOUT)
                    .canonicalize()
                    .context("the checkout pedia was built from is gone: pass --api-git")?,
            ),
        })
    }

    fn dep(&self, name: &str, features: &str) -> String {
        let features = if features.is_empty() {
            String::new()
        } else {
            format!(", features = [{features}]")
        };
        match self {
            Source::Path(root) => {
                let krate = root.join("crates").join(name);
                format!(
                    "{name} = {{ path = {:?}{features} }}",
                    krate.display().to_string()
                )
            }
            Source::Git(url) => match url.split_once('#') {
                Some((url, rev)) => {
                    format!("{name} = {{ git = {url:?}, rev = {rev:?}{features} }}")
                }
                None => format!("{name} = {{ git = {url:?}{features} }}"),
            },
        }
    }
}

/// A crate name cargo accepts for a new package (and a Rust identifier once `-` is `_`).
pub(crate) fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        bail!("the plugin name is empty");
    };
    if !first.is_ascii_alphabetic() {
        bail!("invalid plugin name {name:?}: it must start with an ASCII letter");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        bail!("invalid plugin name {name:?}: {c:?} is not allowed (use letters, digits, - and _)");
    }
    if name.len() > 64 {
        bail!("invalid plugin name {name:?}: longer than 64 characters");
    }
    Ok(())
}

/// Writes the project for plugin `name` into `dir` (which must not exist or be empty).
pub(crate) fn scaffold(name: &str, dir: &Path, source: &Source) -> Result<()> {
    check_name(name)?;
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)
            .with_context(|| format!("{} exists and is not a readable directory", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} already exists and is not empty: choose another --path",
                dir.display()
            );
        }
    }
    let crate_ident = name.replace('-', "_");
    let charts = match source {
        Source::Path(root) => root.join("charts").display().to_string(),
        Source::Git(_) => "<your Clusterpedia-rs checkout>/charts".to_owned(),
    };
    let flake_url = match source {
        Source::Path(root) => format!("path:{}", root.display()),
        Source::Git(url) => format!("git+{url}"),
    };
    let subst = |text: &str| {
        text.replace("@API_DEP@", &source.dep("pedia-plugin-api", ""))
            .replace("@MEMORY_DEP@", &source.dep("storage-memory", ""))
            .replace(
                "@STORAGE_DEP@",
                &source.dep("pedia-storage", "\"conformance\""),
            )
            .replace("@CRATE_IDENT@", &crate_ident)
            .replace("@CRATE@", name)
            .replace("@LAYER@", name)
            .replace("@CHARTS@", &charts)
            .replace("@FLAKE_URL@", &flake_url)
    };
    for (path, text) in FILES {
        let target = dir.join(subst(path));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&target, subst(text))
            .with_context(|| format!("writing {}", target.display()))?;
    }
    if matches!(source, Source::Path(_)) {
        std::fs::write(dir.join("Cargo.lock"), HOST_LOCK).context("writing Cargo.lock")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_names_are_refused() {
        for bad in ["", "1abc", "my plugin", "a/b", "ünï", "-x"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["my-storage", "my_storage2", "x"] {
            check_name(good).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let err = scaffold("1bad", &dir.path().join("p"), &Source::Git("u".into())).unwrap_err();
        assert!(err.to_string().contains("invalid plugin name"), "{err}");
    }

    #[test]
    fn a_non_empty_target_is_refused_and_an_empty_one_filled() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
        let err = scaffold("my-layer", dir.path(), &Source::Git("u".into())).unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(),
            "mine"
        );

        let empty = tempfile::tempdir().unwrap();
        scaffold(
            "my-layer",
            empty.path(),
            &Source::Git("https://example.invalid/r#abc".into()),
        )
        .unwrap();
        let toml = std::fs::read_to_string(empty.path().join("Cargo.toml")).unwrap();
        assert!(!toml.contains(".workspace"), "{toml}");
        assert!(
            toml.contains(r#"git = "https://example.invalid/r", rev = "abc""#),
            "{toml}"
        );
        let lib = std::fs::read_to_string(empty.path().join("src/lib.rs")).unwrap();
        assert!(lib.contains(r#""my-layer""#), "{lib}");
        assert!(empty.path().join("charts/my-layer/Chart.yaml").is_file());
        assert!(
            std::fs::read_to_string(empty.path().join(".cargo/config.toml"))
                .unwrap()
                .contains("PEDIA_BUILD_WORKSPACE = { value = \".\", relative = true }")
        );
    }
}
