//! `manifest.json`: the list of plugin files a build produced, with their hashes and
//! fingerprints. Written by the build (`pedia plugin manifest`, `cargo xtask dist`, the Nix
//! derivation), never by hand, and checked before any plugin code runs.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::PluginError;

/// The file name of the manifest inside a plugin directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The only manifest format version.
pub const MANIFEST_VERSION: u32 = 1;

/// The manifest of a plugin directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    /// The fingerprint of the build that produced the plugins.
    pub fingerprint: String,
    pub plugins: Vec<ManifestEntry>,
}

/// One plugin file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// The storage layer name the plugin registers.
    pub name: String,
    /// A file name inside the plugin directory (no directories).
    pub file: String,
    /// Lower-case hex sha256 of the file.
    pub sha256: String,
    pub fingerprint: String,
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Manifest {
    /// Parses and validates a manifest: known version, plain file names, no file or name
    /// listed twice.
    pub fn parse(text: &str, path: &Path) -> Result<Self, PluginError> {
        let invalid = |reason: String| PluginError::Manifest {
            path: path.to_owned(),
            reason,
        };
        let manifest: Manifest = serde_json::from_str(text)
            .map_err(|e| invalid(format!("not a valid manifest: {e}")))?;
        if manifest.version != MANIFEST_VERSION {
            return Err(invalid(format!(
                "manifest version {} is not supported (expected {MANIFEST_VERSION})",
                manifest.version
            )));
        }
        let mut files = BTreeMap::new();
        for entry in &manifest.plugins {
            if entry.file.is_empty()
                || entry.file.contains('/')
                || entry.file.contains('\\')
                || entry.file == "."
                || entry.file == ".."
                || entry.file == MANIFEST_FILE
            {
                return Err(invalid(format!(
                    "plugin file {:?} must be a plain file name inside the plugin directory",
                    entry.file
                )));
            }
            if entry.sha256.len() != 64 || !entry.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid(format!(
                    "plugin file {:?} has an invalid sha256",
                    entry.file
                )));
            }
            if files.insert(entry.file.clone(), ()).is_some() {
                return Err(invalid(format!(
                    "plugin file {:?} is listed twice",
                    entry.file
                )));
            }
        }
        let mut names: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for entry in &manifest.plugins {
            names.entry(&entry.name).or_default().push(&entry.file);
        }
        if let Some((name, files)) = names.into_iter().find(|(_, files)| files.len() > 1) {
            let mut files = files;
            files.sort_unstable();
            return Err(PluginError::DuplicateName {
                name: name.to_owned(),
                files: files.into_iter().map(str::to_owned).collect(),
            });
        }
        Ok(manifest)
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}
