//! `test-behaviour`: a storage plugin that misbehaves on request, for the plugin host's
//! tests. Its list call panics, blocks its thread for three seconds, or fails, depending on
//! the first requested namespace; and a load-time constructor records that the library was
//! loaded (in [`trace_path`] for the loading process), so tests can prove a refused plugin
//! never ran any code.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pedia_plugin_api::async_trait;
use pedia_plugin_api::bytes::Bytes;
use pedia_plugin_api::pedia_core::{GroupVersionResource, ListOptions, ResourceType};
use pedia_plugin_api::pedia_storage::{
    BatchOutcome, CollectionList, CollectionResource, Fence, ListResult, ResourceStorage,
    ResourceVersions, Result, Revision, StorageError, StorageFactory, StoredResource, WatchStream,
    WriteOp,
};

pedia_plugin_api::export_storage_plugin!(name: "test-behaviour", open: crate::open);

/// Where the constructor leaves its trace for process `pid`.
pub fn trace_path(pid: u32) -> PathBuf {
    std::env::temp_dir().join(format!("pedia-test-behaviour-loaded-{pid}"))
}

/// Runs when the library is loaded, before any plugin function is called.
extern "C" fn record_load() {
    let _ = std::fs::write(
        trace_path(std::process::id()),
        b"test-behaviour constructor ran\n",
    );
}

// A load-time constructor, as a malicious or broken plugin could have one.
#[allow(unsafe_code)]
#[used]
#[unsafe(link_section = ".init_array")]
static CONSTRUCTOR: extern "C" fn() = record_load;

/// The revision every answer reports, so tests can tell this plugin's answers apart.
pub const REVISION: Revision = 4242;

pub async fn open(_config: Option<PathBuf>) -> Result<Arc<dyn StorageFactory>> {
    Ok(Arc::new(Behaviour))
}

#[derive(Debug)]
struct Behaviour;

#[derive(Debug)]
struct BehaviourStorage(ResourceType);

#[async_trait]
impl ResourceStorage for BehaviourStorage {
    fn resource_type(&self) -> &ResourceType {
        &self.0
    }

    async fn get(&self, cluster: &str, namespace: &str, name: &str) -> Result<Bytes> {
        Err(StorageError::not_found(format!(
            "{cluster}/{namespace}/{name} not found"
        )))
    }

    async fn list(&self, opts: &ListOptions) -> Result<ListResult> {
        match opts.namespaces.first().map(String::as_str) {
            Some("panic") => panic!("deliberate panic in test-behaviour"),
            Some("block") => {
                // Blocks the plugin worker thread, as a careless plugin doing synchronous
                // I/O would.
                std::thread::sleep(Duration::from_secs(3));
            }
            Some("error") => return Err(StorageError::unavailable("simulated outage")),
            _ => {}
        }
        Ok(ListResult {
            items: vec![Bytes::from_static(
                br#"{"kind":"Pod","metadata":{"name":"from-test-behaviour"}}"#,
            )],
            continue_token: None,
            remaining_count: None,
            revision: REVISION,
        })
    }

    async fn watch(&self, _opts: &ListOptions, _from: Revision) -> Result<WatchStream> {
        Err(StorageError::unsupported("test-behaviour does not watch"))
    }

    async fn apply_batch(
        &self,
        _cluster: &str,
        _fence: Fence,
        ops: Vec<WriteOp>,
    ) -> Result<BatchOutcome> {
        Ok(BatchOutcome {
            written: ops.len() as u64,
            revision: REVISION,
            ..BatchOutcome::default()
        })
    }
}

#[async_trait]
impl StorageFactory for Behaviour {
    fn layer_name(&self) -> &str {
        "test-behaviour"
    }

    async fn prepare_cluster(&self, _cluster: &str) -> Result<()> {
        Ok(())
    }

    async fn resource_storage(&self, resource: &ResourceType) -> Result<Arc<dyn ResourceStorage>> {
        Ok(Arc::new(BehaviourStorage(resource.clone())))
    }

    async fn stored_resources(&self) -> Result<Vec<StoredResource>> {
        Ok(Vec::new())
    }

    async fn resource_versions(&self, _cluster: &str) -> Result<ResourceVersions> {
        Ok(ResourceVersions::new())
    }

    async fn list_collection(
        &self,
        _c: &CollectionResource,
        _o: &ListOptions,
    ) -> Result<CollectionList> {
        Err(StorageError::unsupported(
            "test-behaviour has no collections",
        ))
    }

    async fn clean_cluster(&self, _cluster: &str, _fence: Fence) -> Result<()> {
        Ok(())
    }

    async fn clean_cluster_resource(
        &self,
        _cluster: &str,
        _gvr: &GroupVersionResource,
        _fence: Fence,
    ) -> Result<()> {
        Ok(())
    }

    async fn current_revision(&self) -> Result<Revision> {
        Ok(REVISION)
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }
}
