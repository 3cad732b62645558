//! The registry of storage layers by name (`--storage-name`), filled at start-up with the
//! built-in layers and the verified plugins.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use crate::contract::StorageFactory;
use crate::error::{Result, StorageError};

/// Something that can open a storage layer from its `--storage-config` file.
#[async_trait]
pub trait StorageLayer: Send + Sync {
    /// The `--storage-name` this layer answers to.
    fn name(&self) -> &str;

    /// Opens the layer. `config` is the `--storage-config` path, if one was given.
    async fn open(&self, config: Option<&Path>) -> Result<Arc<dyn StorageFactory>>;
}

/// A name was registered twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage layer {name:?} is registered twice ({first} and {second})")]
pub struct DuplicateLayer {
    pub name: String,
    /// Where each registration came from (e.g. `built-in`, a plugin file).
    pub first: String,
    pub second: String,
}

/// Storage layers by name.
#[derive(Default)]
pub struct Registry {
    layers: BTreeMap<String, (String, Arc<dyn StorageLayer>)>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.layers.iter().map(|(name, (origin, _))| (name, origin)))
            .finish()
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `layer`; `origin` says where it came from, for error messages.
    pub fn register(
        &mut self,
        origin: impl Into<String>,
        layer: Arc<dyn StorageLayer>,
    ) -> Result<(), DuplicateLayer> {
        let origin = origin.into();
        let name = layer.name().to_owned();
        if let Some((first, _)) = self.layers.get(&name) {
            return Err(DuplicateLayer {
                name,
                first: first.clone(),
                second: origin,
            });
        }
        self.layers.insert(name, (origin, layer));
        Ok(())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.layers.keys().map(String::as_str)
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn StorageLayer>> {
        self.layers.get(name).map(|(_, layer)| layer)
    }

    /// Opens the layer called `name`; an unknown name is an error listing the known ones.
    pub async fn open(&self, name: &str, config: Option<&Path>) -> Result<Arc<dyn StorageFactory>> {
        let Some(layer) = self.get(name) else {
            let known: Vec<&str> = self.names().collect();
            return Err(StorageError::bad_request(format!(
                "unknown storage layer {name:?}; registered layers: {}",
                known.join(", ")
            )));
        };
        layer.open(config).await
    }
}
