//! `pedia-plugin-host`: turns the `STORAGE_PLUGINS` directory into registered storage
//! layers, safely. Order of operations for a directory:
//!
//! 1. [`verify::verify_dir`]: manifest, then for each listed file (bytes read once) sha256,
//!    the fingerprint and info sections read from the bytes, unlisted files, duplicate
//!    names. No plugin code has run yet.
//! 2. [`load::load`]: verified bytes into a sealed memfd, `dlopen` of `/proc/self/fd/N`,
//!    abi_stable's version and layout checks.
//! 3. [`adapter::PluginLayer`]: registered in the [`pedia_storage::Registry`].
//!
//! Every error names the file and what differs.

pub mod adapter;
pub mod inspect;
pub mod load;
pub mod manifest;
pub mod verify;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pedia_storage::Registry;

pub use adapter::PluginLayer;
pub use inspect::{PluginInfo, fingerprint_of_file, host_section, inspect_file};
pub use load::LoadedPlugin;
pub use manifest::{MANIFEST_FILE, Manifest};
pub use verify::{Verification, VerifiedPlugin, verify_dir, verify_dir_pinned, write_manifest};

/// The environment variable naming the plugin directory (as in Clusterpedia).
pub const STORAGE_PLUGINS_ENV: &str = "STORAGE_PLUGINS";

/// Why a plugin directory or file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "plugin directory {dir} has no manifest.json: refusing to load unverified plugins \
         (build the directory with `cargo xtask dist` or `pedia plugin manifest`, or pass \
         --allow-unverified-plugins while developing a plugin)"
    )]
    MissingManifest { dir: PathBuf },
    #[error("invalid plugin manifest {path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error(
        "plugin manifest {path} has sha256 {actual}, but --plugin-manifest-sha256 pins \
         {pinned}: refusing the whole directory (a different set of plugins than the one \
         pinned)"
    )]
    ManifestPin {
        path: PathBuf,
        actual: String,
        pinned: String,
    },
    #[error("plugin file {file} is not listed in manifest.json: refusing to load it")]
    Unlisted { file: PathBuf },
    #[error(
        "plugin {file} does not match manifest.json: sha256 is {actual}, the manifest says \
         {expected} (the file was changed or corrupted after the build)"
    )]
    Hash {
        file: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("{file} is not a storage plugin: {reason}")]
    NotAPlugin { file: PathBuf, reason: String },
    #[error("plugin {file} {explanation}")]
    Fingerprint { file: PathBuf, explanation: String },
    #[error("plugin {file} registers {plugin:?} but the manifest says {manifest:?}")]
    NameMismatch {
        file: PathBuf,
        manifest: String,
        plugin: String,
    },
    #[error("storage layer name {name:?} is registered by more than one plugin: {}", files.join(", "))]
    DuplicateName { name: String, files: Vec<String> },
    #[error(
        "storage layer name {name:?} of plugin {file} is already taken by the {taken_by} layer"
    )]
    NameTaken {
        name: String,
        file: PathBuf,
        taken_by: String,
    },
    #[error("cannot load plugin {file}: {reason}")]
    Load { file: PathBuf, reason: String },
}

/// Verifies every plugin of `dir`, then loads them all. Nothing is loaded unless the whole
/// directory verifies.
pub fn load_dir(dir: &Path, mode: Verification) -> Result<Vec<LoadedPlugin>, PluginError> {
    let verified = verify_dir(dir, mode)?;
    verified.into_iter().map(load::load).collect()
}

/// Loads the plugins of `dir` and registers each as a storage layer. Returns their names.
pub fn register_dir(
    registry: &mut Registry,
    dir: &Path,
    mode: Verification,
) -> Result<Vec<String>, PluginError> {
    register_dir_pinned(registry, dir, mode, None)
}

/// [`register_dir`], refusing the directory unless its manifest.json has the sha256
/// `manifest_sha256` (when given): the operator's pin of one exact set of plugins.
pub fn register_dir_pinned(
    registry: &mut Registry,
    dir: &Path,
    mode: Verification,
    manifest_sha256: Option<&str>,
) -> Result<Vec<String>, PluginError> {
    let verified = verify::verify_dir_pinned(dir, mode, manifest_sha256)?;
    // Refuse names already taken (e.g. by a built-in layer) before loading anything.
    for plugin in &verified {
        if registry.get(&plugin.info.name).is_some() {
            return Err(PluginError::NameTaken {
                name: plugin.info.name.clone(),
                file: plugin.path.clone(),
                taken_by: "built-in".to_owned(),
            });
        }
    }
    let mut names = Vec::new();
    for plugin in verified {
        let loaded = load::load(plugin)?;
        let origin = format!("plugin {}", loaded.file.display());
        registry
            .register(
                origin,
                Arc::new(PluginLayer::new(loaded.name.clone(), loaded.module)),
            )
            .map_err(|dup| PluginError::NameTaken {
                name: dup.name,
                file: loaded.file.clone(),
                taken_by: dup.first,
            })?;
        names.push(loaded.name);
    }
    Ok(names)
}
