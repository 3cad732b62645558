//! Verifying a plugin directory before any plugin code runs: the manifest, every file's
//! sha256, fingerprint and name, unlisted files, duplicate names. The verified bytes are
//! kept, so what was hashed is exactly what gets loaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pedia_plugin_api::fingerprint::{FINGERPRINT, explain_mismatch};

use crate::PluginError;
use crate::inspect::{PluginInfo, inspect_bytes};
use crate::manifest::{MANIFEST_FILE, Manifest, sha256_hex};

/// How strictly to treat a plugin directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verification {
    /// A manifest is required and every file must match it (the default).
    #[default]
    Manifest,
    /// `--allow-unverified-plugins`: without a manifest, every `*.so` in the directory is
    /// loaded after its fingerprint check. For plugin development only.
    AllowUnverified,
}

/// A plugin file that passed verification, with the bytes that were checked.
#[derive(Debug, Clone)]
pub struct VerifiedPlugin {
    pub path: PathBuf,
    pub info: PluginInfo,
    pub bytes: Vec<u8>,
}

impl VerifiedPlugin {
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PluginError + '_ {
    move |source| PluginError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The entries of `dir`, sorted by name, without the manifest.
fn entries(dir: &Path) -> Result<Vec<PathBuf>, PluginError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        if entry.file_name() != MANIFEST_FILE {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

fn check_fingerprint(path: &Path, info: &PluginInfo) -> Result<(), PluginError> {
    match explain_mismatch(&info.section, crate::inspect::host_section()) {
        None => Ok(()),
        Some(explanation) => Err(PluginError::Fingerprint {
            file: path.to_owned(),
            explanation,
        }),
    }
}

fn check_unique_names(plugins: &[VerifiedPlugin]) -> Result<(), PluginError> {
    let mut by_name: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for p in plugins {
        by_name.entry(&p.info.name).or_default().push(p.file_name());
    }
    match by_name.into_iter().find(|(_, files)| files.len() > 1) {
        Some((name, mut files)) => {
            files.sort();
            Err(PluginError::DuplicateName {
                name: name.to_owned(),
                files,
            })
        }
        None => Ok(()),
    }
}

/// Verifies every plugin of `dir`. Nothing is loaded; on success the returned plugins are
/// safe to hand to [`crate::load::load`].
pub fn verify_dir(dir: &Path, mode: Verification) -> Result<Vec<VerifiedPlugin>, PluginError> {
    verify_dir_pinned(dir, mode, None)
}

/// [`verify_dir`], and with `manifest_sha256` the manifest must have that sha256 (checked
/// on the bytes that are then parsed, so what was pinned is what is used). A pin needs a
/// manifest whatever `mode` says.
pub fn verify_dir_pinned(
    dir: &Path,
    mode: Verification,
    manifest_sha256: Option<&str>,
) -> Result<Vec<VerifiedPlugin>, PluginError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let plugins = match std::fs::read_to_string(&manifest_path) {
        Ok(text) => {
            if let Some(pinned) = manifest_sha256 {
                let actual = sha256_hex(text.as_bytes());
                if !actual.eq_ignore_ascii_case(pinned.trim()) {
                    return Err(PluginError::ManifestPin {
                        path: manifest_path,
                        actual,
                        pinned: pinned.to_owned(),
                    });
                }
            }
            verify_with_manifest(dir, &Manifest::parse(&text, &manifest_path)?)?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match mode {
            _ if manifest_sha256.is_some() => {
                return Err(PluginError::MissingManifest {
                    dir: dir.to_owned(),
                });
            }
            Verification::Manifest => {
                return Err(PluginError::MissingManifest {
                    dir: dir.to_owned(),
                });
            }
            Verification::AllowUnverified => verify_without_manifest(dir)?,
        },
        Err(e) => return Err(io(&manifest_path)(e)),
    };
    check_unique_names(&plugins)?;
    Ok(plugins)
}

fn verify_with_manifest(
    dir: &Path,
    manifest: &Manifest,
) -> Result<Vec<VerifiedPlugin>, PluginError> {
    let listed: BTreeMap<&str, _> = manifest
        .plugins
        .iter()
        .map(|e| (e.file.as_str(), e))
        .collect();
    if let Some(unlisted) = entries(dir)?.into_iter().find(|p| {
        p.file_name()
            .and_then(|f| f.to_str())
            .is_none_or(|f| !listed.contains_key(f))
    }) {
        return Err(PluginError::Unlisted { file: unlisted });
    }

    let mut out = Vec::new();
    for entry in &manifest.plugins {
        let path = dir.join(&entry.file);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let actual = sha256_hex(&bytes);
        if actual != entry.sha256.to_ascii_lowercase() {
            return Err(PluginError::Hash {
                file: path,
                expected: entry.sha256.clone(),
                actual,
            });
        }
        let info = inspect_bytes(&bytes, &path)?;
        check_fingerprint(&path, &info)?;
        if entry.fingerprint != info.fingerprint {
            return Err(PluginError::Fingerprint {
                file: dir.join(MANIFEST_FILE),
                explanation: format!(
                    "lists {} with fingerprint {:?}, but the file has {:?}: the manifest was \
                     not made for this file (rebuild the plugin directory)",
                    entry.file, entry.fingerprint, info.fingerprint
                ),
            });
        }
        if info.name != entry.name {
            return Err(PluginError::NameMismatch {
                file: path,
                manifest: entry.name.clone(),
                plugin: info.name,
            });
        }
        out.push(VerifiedPlugin { path, info, bytes });
    }
    // After the files, whose checks name what differs: a manifest of another build whose
    // files happen to match is still someone else's manifest.
    if manifest.fingerprint != FINGERPRINT {
        return Err(PluginError::Fingerprint {
            file: dir.join(MANIFEST_FILE),
            explanation: format!(
                "was made for fingerprint {:?}, this binary has {FINGERPRINT:?}: rebuild the \
                 plugin directory with the same build as this binary",
                manifest.fingerprint
            ),
        });
    }
    Ok(out)
}

fn verify_without_manifest(dir: &Path) -> Result<Vec<VerifiedPlugin>, PluginError> {
    tracing::warn!(
        dir = %dir.display(),
        "LOADING UNVERIFIED STORAGE PLUGINS: {} has no {MANIFEST_FILE} and --allow-unverified-plugins is set; \
         plugin files are not checked against a build manifest. Use this only while developing a plugin.",
        dir.display()
    );
    let mut out = Vec::new();
    for path in entries(dir)? {
        if path.extension().and_then(|e| e.to_str()) != Some("so") {
            return Err(PluginError::NotAPlugin {
                file: path,
                reason: "only *.so files may be in a plugin directory".to_owned(),
            });
        }
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let info = inspect_bytes(&bytes, &path)?;
        check_fingerprint(&path, &info)?;
        out.push(VerifiedPlugin { path, info, bytes });
    }
    Ok(out)
}

/// Writes `manifest.json` for the `*.so` files of `dir` (what the build does). Every file
/// must be a plugin of this build's fingerprint.
pub fn write_manifest(dir: &Path) -> Result<Manifest, PluginError> {
    let mut plugins = Vec::new();
    for path in entries(dir)? {
        if path.extension().and_then(|e| e.to_str()) != Some("so") {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let info = inspect_bytes(&bytes, &path)?;
        check_fingerprint(&path, &info)?;
        plugins.push(VerifiedPlugin { path, info, bytes });
    }
    check_unique_names(&plugins)?;
    let manifest = Manifest {
        version: crate::manifest::MANIFEST_VERSION,
        fingerprint: FINGERPRINT.to_owned(),
        plugins: plugins
            .iter()
            .map(|p| crate::manifest::ManifestEntry {
                name: p.info.name.clone(),
                file: p.file_name(),
                sha256: p.info.sha256.clone(),
                fingerprint: p.info.fingerprint.clone(),
            })
            .collect(),
    };
    let path = dir.join(MANIFEST_FILE);
    std::fs::write(&path, manifest.to_json()).map_err(io(&path))?;
    Ok(manifest)
}
