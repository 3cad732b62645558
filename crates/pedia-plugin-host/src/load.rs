//! Loading a verified plugin: its checked bytes go into a sealed memfd that is loaded
//! through `/proc/self/fd/N` (so a file swapped on disk after verification cannot be what
//! runs), then abi_stable checks the interface version and type layouts. Plugins are never
//! unloaded.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use abi_stable::library::{RootModule, lib_header_from_path};
use memfd::{FileSeal, MemfdOptions};
use pedia_plugin_api::ffi::PluginModuleRef;
use pedia_plugin_api::fingerprint::explain_mismatch;

use crate::PluginError;
use crate::verify::VerifiedPlugin;

/// A plugin whose code is loaded and whose interface matched.
pub struct LoadedPlugin {
    pub name: String,
    pub file: PathBuf,
    pub module: PluginModuleRef,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.name)
            .field("file", &self.file)
            .finish()
    }
}

/// abi_stable's messages span lines; logs and CLI output want one.
fn one_line(err: &impl std::fmt::Display) -> String {
    err.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn load_error(file: &Path, reason: impl Into<String>) -> PluginError {
    PluginError::Load {
        file: file.to_owned(),
        reason: reason.into(),
    }
}

/// Copies the verified bytes into a sealed memfd, loads it and checks it.
pub fn load(plugin: VerifiedPlugin) -> Result<LoadedPlugin, PluginError> {
    let file = plugin.path.clone();
    let memfd = MemfdOptions::default()
        .allow_sealing(true)
        .close_on_exec(true)
        .create(plugin.info.name.as_str())
        .map_err(|e| load_error(&file, format!("cannot create a memfd: {e}")))?;
    memfd
        .as_file()
        .write_all(&plugin.bytes)
        .map_err(|e| load_error(&file, format!("cannot write the memfd: {e}")))?;
    memfd
        .add_seals(&[
            FileSeal::SealShrink,
            FileSeal::SealGrow,
            FileSeal::SealWrite,
            FileSeal::SealSeal,
        ])
        .map_err(|e| load_error(&file, format!("cannot seal the memfd: {e}")))?;
    let fd_path = PathBuf::from(format!("/proc/self/fd/{}", memfd.as_file().as_raw_fd()));

    let header = lib_header_from_path(&fd_path).map_err(|e| load_error(&file, one_line(&e)))?;
    let module = header.init_root_module::<PluginModuleRef>().map_err(|e| {
        load_error(
            &file,
            format!(
                "incompatible plugin interface (this binary uses pedia-plugin-api {}): {}",
                pedia_plugin_api::INTERFACE_VERSION,
                one_line(&e)
            ),
        )
    })?;
    // The descriptor stays open for the life of the process (plugins are never unloaded):
    // the dynamic loader recognises libraries by path, and a closed descriptor's number,
    // hence its /proc/self/fd path, would be reused by the next plugin, which would then be
    // mistaken for this one.
    std::mem::forget(memfd);

    let name = module.name()().as_str().to_owned();
    if name != plugin.info.name {
        return Err(PluginError::NameMismatch {
            file,
            manifest: plugin.info.name,
            plugin: name,
        });
    }
    let fingerprint = module.fingerprint()();
    if let Some(explanation) =
        explain_mismatch(fingerprint.as_str(), crate::inspect::host_section())
    {
        return Err(PluginError::Fingerprint { file, explanation });
    }
    tracing::info!(
        plugin = %name,
        file = %file.display(),
        interface = %PluginModuleRef::VERSION_STRINGS.version,
        "loaded storage plugin"
    );
    Ok(LoadedPlugin { name, file, module })
}
