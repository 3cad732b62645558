//! Reading a plugin's identity from its file bytes, without loading it: the fingerprint
//! and info sections written by `export_storage_plugin!`; and the host's own fingerprint
//! section, which every binary linking this crate carries, so `pedia plugin lock` can pin
//! a plugin against a released binary file.

use std::path::Path;

use object::{Object, ObjectSection};
use pedia_plugin_api::fingerprint::{INFO_SECTION, SECTION};

use crate::PluginError;
use crate::manifest::sha256_hex;

/// What a plugin file says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    pub name: String,
    pub interface_version: String,
    /// The one-line fingerprint (what manifests record).
    pub fingerprint: String,
    /// The whole fingerprint section: the line above, then the closure it covers.
    pub section: String,
    pub sha256: String,
}

fn section<'a>(file: &object::File<'a>, name: &str, path: &Path) -> Result<&'a [u8], PluginError> {
    let section = file
        .section_by_name(name)
        .ok_or_else(|| PluginError::NotAPlugin {
            file: path.to_owned(),
            reason: format!(
                "it has no {name} section (was it built with pedia_plugin_api::export_storage_plugin!?)"
            ),
        })?;
    section.data().map_err(|e| PluginError::NotAPlugin {
        file: path.to_owned(),
        reason: format!("its {name} section cannot be read: {e}"),
    })
}

fn text(bytes: &[u8], what: &str, path: &Path) -> Result<String, PluginError> {
    std::str::from_utf8(bytes)
        .map(|s| s.trim_end_matches('\0').to_owned())
        .map_err(|_| PluginError::NotAPlugin {
            file: path.to_owned(),
            reason: format!("its {what} is not text"),
        })
}

/// Parses `bytes` (the content of `path`) as an ELF shared library and reads its sections.
pub fn inspect_bytes(bytes: &[u8], path: &Path) -> Result<PluginInfo, PluginError> {
    let file = object::File::parse(bytes).map_err(|e| PluginError::NotAPlugin {
        file: path.to_owned(),
        reason: format!("it is not a readable shared library ({e})"),
    })?;
    if file.format() != object::BinaryFormat::Elf || file.kind() != object::ObjectKind::Dynamic {
        return Err(PluginError::NotAPlugin {
            file: path.to_owned(),
            reason: "it is not an ELF shared library".to_owned(),
        });
    }
    let fingerprint_section = text(section(&file, SECTION, path)?, "fingerprint", path)?;
    let info = text(section(&file, INFO_SECTION, path)?, "info section", path)?;
    let mut name = None;
    let mut interface_version = None;
    for part in info.split(';') {
        match part.split_once('=') {
            Some(("name", v)) => name = Some(v.to_owned()),
            Some(("interface", v)) => interface_version = Some(v.to_owned()),
            _ => {}
        }
    }
    let (Some(name), Some(interface_version)) = (name, interface_version) else {
        return Err(PluginError::NotAPlugin {
            file: path.to_owned(),
            reason: format!("its info section {info:?} is malformed"),
        });
    };
    Ok(PluginInfo {
        name,
        interface_version,
        fingerprint: pedia_plugin_api::fingerprint::id_of(&fingerprint_section).to_owned(),
        section: fingerprint_section,
        sha256: sha256_hex(bytes),
    })
}

/// The fingerprint section of every binary that links the plugin host: what a plugin must
/// have been built with. Read through [`host_section`], so the linker keeps it.
#[allow(unsafe_code)]
#[used]
#[unsafe(link_section = ".pedia_host_fingerprint")]
static HOST_SECTION: [u8; pedia_plugin_api::fingerprint::SECTION_LEN] =
    pedia_plugin_api::fingerprint::section_bytes();

/// The ELF section a host binary carries its fingerprint in.
pub const HOST_SECTION_NAME: &str = ".pedia_host_fingerprint";

/// This binary's fingerprint section text (the one plugins are compared with).
pub fn host_section() -> &'static str {
    std::str::from_utf8(std::hint::black_box(&HOST_SECTION))
        .unwrap_or(pedia_plugin_api::fingerprint::FINGERPRINT)
}

/// The fingerprint section text of any ELF file of this project: a plugin's, or a host
/// binary's (apiserver, clustersynchro-manager, binding-apiserver, pedia).
pub fn fingerprint_of_file(path: &Path) -> Result<String, PluginError> {
    let bytes = std::fs::read(path).map_err(|e| PluginError::Io {
        path: path.to_owned(),
        source: e,
    })?;
    let file = object::File::parse(&*bytes).map_err(|e| PluginError::NotAPlugin {
        file: path.to_owned(),
        reason: format!("it is not a readable ELF file ({e})"),
    })?;
    for name in [SECTION, HOST_SECTION_NAME] {
        if let Some(section) = file.section_by_name(name) {
            let data = section.data().map_err(|e| PluginError::NotAPlugin {
                file: path.to_owned(),
                reason: format!("its {name} section cannot be read: {e}"),
            })?;
            return text(data, "fingerprint", path);
        }
    }
    Err(PluginError::NotAPlugin {
        file: path.to_owned(),
        reason: format!(
            "it has neither a {SECTION} nor a {HOST_SECTION_NAME} section (not a plugin or \
             component of this project)"
        ),
    })
}

/// Reads and inspects a plugin file.
pub fn inspect_file(path: &Path) -> Result<PluginInfo, PluginError> {
    let bytes = std::fs::read(path).map_err(|e| PluginError::Io {
        path: path.to_owned(),
        source: e,
    })?;
    inspect_bytes(&bytes, path)
}
