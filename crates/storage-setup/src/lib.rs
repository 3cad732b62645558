//! `storage-setup`: how every component (apiserver, synchro manager, `pedia load`) opens
//! its storage layer, with Clusterpedia's flags: `--storage-name`, `--storage-config`, and
//! the `STORAGE_PLUGINS` directory of verified plugins.

use std::path::PathBuf;
use std::sync::Arc;

use pedia_plugin_host::{PluginError, STORAGE_PLUGINS_ENV, Verification};
use pedia_storage::{Registry, StorageError, StorageFactory};

/// The storage flags, shared by every component.
#[derive(Debug, Clone, clap::Args)]
pub struct StorageOptions {
    /// The storage layer to use: `internal`, `memory`, or a plugin's name.
    #[arg(long, default_value = "internal")]
    pub storage_name: String,
    /// The storage layer's configuration file (YAML).
    #[arg(long)]
    pub storage_config: Option<PathBuf>,
    /// Directory of storage plugins (with manifest.json).
    #[arg(long, env = STORAGE_PLUGINS_ENV)]
    pub storage_plugins: Option<PathBuf>,
    /// Load plugins from a directory without manifest.json (plugin development only).
    #[arg(long)]
    pub allow_unverified_plugins: bool,
    /// The sha256 (hex) the plugin directory's manifest.json must have: pins one exact set
    /// of plugins, e.g. the one a release published.
    #[arg(long, env = "PEDIA_PLUGIN_MANIFEST_SHA256")]
    pub plugin_manifest_sha256: Option<String>,
}

/// Why the storage layer could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("storage layer {name:?}: {source}")]
    Open {
        name: String,
        #[source]
        source: StorageError,
    },
}

/// The registry of built-in layers (`internal`, `memory`).
pub fn builtin_registry() -> Registry {
    let mut registry = Registry::new();
    // Two distinct names: registering cannot fail.
    let _ = registry.register("built-in", Arc::new(storage_internal::InternalLayer));
    let _ = registry.register("built-in", Arc::new(storage_memory::MemoryLayer));
    registry
}

impl StorageOptions {
    /// The registry of built-in layers plus the plugins of `STORAGE_PLUGINS`, verified.
    pub fn registry(&self) -> Result<Registry, SetupError> {
        let mut registry = builtin_registry();
        if let Some(dir) = &self.storage_plugins {
            let mode = if self.allow_unverified_plugins {
                Verification::AllowUnverified
            } else {
                Verification::Manifest
            };
            let names = pedia_plugin_host::register_dir_pinned(
                &mut registry,
                dir,
                mode,
                self.plugin_manifest_sha256.as_deref(),
            )?;
            tracing::info!(dir = %dir.display(), plugins = ?names, "storage plugins registered");
        }
        Ok(registry)
    }

    /// Opens the layer named by `--storage-name` with `--storage-config`.
    pub async fn open(&self) -> Result<Arc<dyn StorageFactory>, SetupError> {
        let registry = self.registry()?;
        registry
            .open(&self.storage_name, self.storage_config.as_deref())
            .await
            .map_err(|source| SetupError::Open {
                name: self.storage_name.clone(),
                source,
            })
    }
}
