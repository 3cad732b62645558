//! `sample-storage-layer`: the example storage plugin. A relational layer on sqlx
//! (SQLite, PostgreSQL or MySQL/MariaDB) with its own small schema, kept simple on purpose
//! so plugin authors can copy it:
//!
//! - `sample_objects` holds each object's raw JSON plus the columns SQL narrows lists by;
//!   labels, field selectors, owners, ordering and paging are evaluated in Rust with the
//!   reference semantics of `pedia_storage::filter`.
//! - `sample_events` is the change log watches poll (pruned to the configured history),
//!   `sample_meta` the revision counter, `sample_registrations` which cluster synced
//!   which resource.
//!
//! Built as a `cdylib`, it is loaded by the host through [`export_storage_plugin!`]
//! (`pedia_plugin_api`); as an `rlib`, [`SampleStorage::connect`] opens it in-process.
//!
//! [`export_storage_plugin!`]: pedia_plugin_api::export_storage_plugin

mod config;
mod db;
mod read;
mod watch;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pedia_plugin_api::async_trait;
use pedia_plugin_api::bytes::Bytes;
use pedia_plugin_api::pedia_core::{GroupVersionResource, ListOptions, ResourceType};
use pedia_plugin_api::pedia_storage::{
    BatchOutcome, CollectionItem, CollectionList, CollectionResource, Fence, ListResult,
    ResourceStorage, ResourceVersions, Result, Revision, StorageError, StorageFactory,
    StorageLayer, StoredResource, WatchStream, WriteOp,
};

pub use crate::config::{DatabaseType, PASSWORD_ENV, SampleConfig};
use crate::db::{Db, detached};
use crate::read::Target;

/// The `--storage-name` this layer registers under.
pub const LAYER_NAME: &str = "sample-storage-layer";

pedia_plugin_api::export_storage_plugin!(name: crate::LAYER_NAME, open: crate::open);

/// The plugin's entry point: opens the layer from its `--storage-config` file.
pub async fn open(config: Option<PathBuf>) -> Result<Arc<dyn StorageFactory>> {
    let Some(path) = config else {
        return Err(StorageError::bad_request(
            "the sample-storage-layer storage layer needs a config: pass --storage-config \
             with a YAML file giving `type` (sqlite, postgres or mysql) and `dsn` or \
             `host`/`port`/`user`/`password`/`database`",
        ));
    };
    let config = SampleConfig::load(&path)?;
    Ok(Arc::new(SampleStorage::connect(config).await?))
}

/// State shared by the factory, its resource storages and their watches.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) db: Db,
    /// The latest committed revision, to wake this process's watchers.
    pub(crate) notify: tokio::sync::watch::Sender<Revision>,
    /// Set by `shutdown`: watch streams end.
    pub(crate) closed: tokio::sync::watch::Sender<bool>,
    /// Events kept for watches.
    pub(crate) history: u64,
}

/// The layer's factory.
#[derive(Debug, Clone)]
pub struct SampleStorage {
    shared: Arc<Shared>,
}

impl SampleStorage {
    /// Connects to the configured database and creates the schema if it is missing.
    /// `Unavailable` when the database cannot be reached.
    pub async fn connect(config: SampleConfig) -> Result<Self> {
        let db = Db::connect(&config).await?;
        Ok(Self {
            shared: Arc::new(Shared {
                db,
                notify: tokio::sync::watch::channel(0).0,
                closed: tokio::sync::watch::channel(false).0,
                history: config.watch_history(),
            }),
        })
    }
}

/// Registers the layer built-in (for benchmarks, or a host that links it directly).
#[derive(Debug, Default, Clone, Copy)]
pub struct SampleLayer;

#[async_trait]
impl StorageLayer for SampleLayer {
    fn name(&self) -> &str {
        LAYER_NAME
    }

    async fn open(&self, config: Option<&Path>) -> Result<Arc<dyn StorageFactory>> {
        open(config.map(Path::to_path_buf)).await
    }
}

/// Storage of one resource.
#[derive(Debug)]
struct SampleResourceStorage {
    shared: Arc<Shared>,
    resource: ResourceType,
}

#[async_trait]
impl ResourceStorage for SampleResourceStorage {
    fn resource_type(&self) -> &ResourceType {
        &self.resource
    }

    async fn get(&self, cluster: &str, namespace: &str, name: &str) -> Result<Bytes> {
        let (shared, resource) = (Arc::clone(&self.shared), self.resource.clone());
        let key = [cluster, namespace, name].map(str::to_owned);
        detached(async move {
            let [cluster, namespace, name] = &key;
            read::get(&shared, &resource, cluster, namespace, name).await
        })
        .await
    }

    async fn list(&self, opts: &ListOptions) -> Result<ListResult> {
        let (shared, resource, opts) = (
            Arc::clone(&self.shared),
            self.resource.clone(),
            opts.clone(),
        );
        let page =
            detached(async move { read::list(&shared, Target::Resource(&resource), &opts).await })
                .await?;
        Ok(ListResult {
            items: page.items.into_iter().map(|(_, raw)| raw).collect(),
            continue_token: page.continue_token,
            remaining_count: page.remaining_count,
            revision: page.revision,
        })
    }

    async fn watch(&self, opts: &ListOptions, from: Revision) -> Result<WatchStream> {
        let (shared, gvr, opts) = (
            Arc::clone(&self.shared),
            self.resource.gvr.clone(),
            opts.clone(),
        );
        detached(async move { watch::open(shared, gvr, &opts, from).await }).await
    }

    async fn apply_batch(
        &self,
        cluster: &str,
        fence: Fence,
        ops: Vec<WriteOp>,
    ) -> Result<BatchOutcome> {
        let (shared, resource, cluster) = (
            Arc::clone(&self.shared),
            self.resource.clone(),
            cluster.to_owned(),
        );
        detached(async move { write::apply_batch(&shared, &resource, &cluster, fence, ops).await })
            .await
    }
}

#[async_trait]
impl StorageFactory for SampleStorage {
    fn layer_name(&self) -> &str {
        LAYER_NAME
    }

    async fn prepare_cluster(&self, _cluster: &str) -> Result<()> {
        // Nothing per cluster: rows carry their cluster.
        Ok(())
    }

    async fn resource_storage(&self, resource: &ResourceType) -> Result<Arc<dyn ResourceStorage>> {
        Ok(Arc::new(SampleResourceStorage {
            shared: Arc::clone(&self.shared),
            resource: resource.clone(),
        }))
    }

    async fn stored_resources(&self) -> Result<Vec<StoredResource>> {
        let shared = Arc::clone(&self.shared);
        detached(async move { read::stored_resources(&shared).await }).await
    }

    async fn resource_versions(&self, cluster: &str) -> Result<ResourceVersions> {
        let (shared, cluster) = (Arc::clone(&self.shared), cluster.to_owned());
        detached(async move { read::resource_versions(&shared, &cluster).await }).await
    }

    async fn list_collection(
        &self,
        collection: &CollectionResource,
        opts: &ListOptions,
    ) -> Result<CollectionList> {
        let (shared, collection, opts) =
            (Arc::clone(&self.shared), collection.clone(), opts.clone());
        let page =
            detached(
                async move { read::list(&shared, Target::Collection(&collection), &opts).await },
            )
            .await?;
        Ok(CollectionList {
            items: page
                .items
                .into_iter()
                .map(|(resource, object)| CollectionItem { resource, object })
                .collect(),
            continue_token: page.continue_token,
            remaining_count: page.remaining_count,
            revision: page.revision,
        })
    }

    async fn clean_cluster(&self, cluster: &str, fence: Fence) -> Result<()> {
        let (shared, cluster) = (Arc::clone(&self.shared), cluster.to_owned());
        detached(async move { write::clean(&shared, &cluster, None, fence).await }).await
    }

    async fn clean_cluster_resource(
        &self,
        cluster: &str,
        gvr: &GroupVersionResource,
        fence: Fence,
    ) -> Result<()> {
        let (shared, cluster, gvr) = (Arc::clone(&self.shared), cluster.to_owned(), gvr.clone());
        detached(async move { write::clean(&shared, &cluster, Some(&gvr), fence).await }).await
    }

    async fn current_revision(&self) -> Result<Revision> {
        let shared = Arc::clone(&self.shared);
        detached(async move { read::current_revision(&shared).await }).await
    }

    async fn shutdown(&self) -> Result<()> {
        self.shared.closed.send_replace(true);
        self.shared.db.close().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use pedia_plugin_api::pedia_storage::ErrorKind;

    use super::*;

    #[tokio::test]
    async fn open_without_a_config_says_one_is_required() {
        let err = open(None).await.expect_err("no config");
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(
            err.message().contains("--storage-config"),
            "{}",
            err.message()
        );
    }

    #[tokio::test]
    async fn unreachable_postgres_is_unavailable_without_the_password() {
        // Port 1 on localhost refuses connections immediately.
        let config = SampleConfig::postgres("postgres://me:s3cret@127.0.0.1:1/db", None);
        let err = SampleStorage::connect(config)
            .await
            .expect_err("unreachable");
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{}", err.detail());
        assert!(!err.message().contains("s3cret"), "{}", err.message());
        assert!(!err.detail().contains("s3cret"), "{}", err.detail());
    }

    #[tokio::test]
    async fn postgres_without_the_database_is_a_config_error() {
        // The test server trusts local connections, so a missing database is what it
        // can reject; other servers' password failures take the same path (class 28).
        let url = std::env::var("PEDIA_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let Some((server, _)) = url.rsplit_once('/') else {
            panic!("PEDIA_TEST_POSTGRES_URL {url:?} names no database");
        };
        let config = SampleConfig::postgres(format!("{server}/no_such_database_here"), None);
        let err = SampleStorage::connect(config)
            .await
            .expect_err("no database");
        assert_eq!(err.kind(), ErrorKind::BadRequest, "{}", err.detail());
        assert!(
            err.message().contains("does not exist"),
            "{}",
            err.message()
        );
    }

    #[tokio::test]
    async fn sqlite_in_a_missing_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("dir");
        let config = SampleConfig::sqlite(dir.path().join("no/such/dir/sample.db"));
        let err = SampleStorage::connect(config)
            .await
            .expect_err("cannot open");
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{}", err.detail());
        assert!(err.message().contains("SQLite"), "{}", err.message());
    }

    #[tokio::test]
    async fn open_reads_the_config_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("config.yaml");
        std::fs::write(
            &path,
            format!("type: sqlite\ndsn: {}\n", dir.path().join("s.db").display()),
        )
        .expect("write");
        let factory = open(Some(path)).await.expect("open");
        assert_eq!(factory.layer_name(), LAYER_NAME);
        assert_eq!(factory.current_revision().await.expect("revision"), 0);
        factory.shutdown().await.expect("shutdown");
    }
}
