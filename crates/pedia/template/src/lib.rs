//! `@LAYER@`: a Clusterpedia-rs storage plugin.
//!
//! Built as a `cdylib`, the components load it from `STORAGE_PLUGINS` and open it with
//! `--storage-name=@LAYER@ --storage-config=<file>`. This skeleton serves everything from
//! the in-memory layer (`storage-memory`); replace [`open`] with your own
//! `StorageFactory` and keep `cargo test` (the conformance suite) green.

use std::path::PathBuf;
use std::sync::Arc;

use pedia_plugin_api::pedia_storage::{Result, StorageFactory};

/// The `--storage-name` this plugin registers.
pub const LAYER_NAME: &str = "@LAYER@";

pedia_plugin_api::export_storage_plugin!(name: crate::LAYER_NAME, open: crate::open);

/// The plugin's entry point, called with the `--storage-config` path (if any).
pub async fn open(_config: Option<PathBuf>) -> Result<Arc<dyn StorageFactory>> {
    Ok(Arc::new(storage_memory::MemoryStorage::default()))
}
