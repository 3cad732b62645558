//! The storage-layer objects: [`InternalStorage`] (the factory), the per-resource storage,
//! and the `internal` [`InternalLayer`] for the registry.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use bytes::Bytes;
use pedia_core::{GroupVersionResource, ListOptions, ResourceType};
use pedia_storage::{
    BatchOutcome, CollectionItem, CollectionList, CollectionResource, Fence, ListResult,
    ListStream, ResourceStorage, ResourceVersions, Revision, StorageError, StorageFactory,
    StorageLayer, StoredResource, WatchStream, WriteOp,
};

use crate::config::InternalStorageConfig;
use crate::db::{Dialect, ErrorMap, Ty};
use crate::hub::Retention;
use crate::read::{self, Scope};
use crate::sql::Sql;
use crate::state::Inner;
use crate::write;

/// Runs one database operation to its end on its own task, even if its caller is dropped
/// midway (an HTTP client that goes away drops its handler's future). sqlx's MySQL driver
/// cannot recover a connection whose query was abandoned midway (transact-rs/sqlx#563):
/// the pool's release ping then waits for a reply that never comes, the connection is
/// never returned and `close` never finishes. Every entry point that queries goes
/// through here (the watch poller and the list streamer already run on their own tasks).
async fn detached<T, F>(operation: F) -> Result<T, StorageError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, StorageError>> + Send + 'static,
{
    tokio::spawn(operation)
        .await
        .map_err(|e| StorageError::internal("a database operation", e))?
}

/// The `internal` storage layer on SQLite, PostgreSQL or MySQL/MariaDB.
#[derive(Clone)]
pub struct InternalStorage {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for InternalStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InternalStorage")
            .field("dialect", &self.inner.dialect)
            .finish_non_exhaustive()
    }
}

impl InternalStorage {
    /// Connects, migrates the schema, and returns the layer.
    pub async fn connect(config: &InternalStorageConfig) -> Result<Self, StorageError> {
        Self::open(config, false).await
    }

    /// [`Self::connect`], for a handle that shares no in-process wake-ups with the other
    /// handles of this process, as one in another process (tests of cross-process
    /// notification).
    #[doc(hidden)]
    pub async fn connect_as_another_process(
        config: &InternalStorageConfig,
    ) -> Result<Self, StorageError> {
        Self::open(config, true).await
    }

    async fn open(config: &InternalStorageConfig, apart: bool) -> Result<Self, StorageError> {
        let resolved = config
            .resolve()
            .map_err(|e| StorageError::bad_request(e.to_string()))?;
        let pool = crate::connect::open_pool(&resolved).await?;
        let errors = ErrorMap {
            dialect: resolved.dialect,
            recoverable: resolved.recoverable_codes.clone(),
        };
        if let Err(err) = crate::schema::migrate(&pool, &errors).await {
            pool.close().await;
            return Err(err);
        }
        let mut identity = crate::feed::identity(&pool).await;
        if apart && let Some((key, _)) = &mut identity {
            *key = crate::feed::apart(key);
        }
        let inner = Inner::new(
            pool,
            errors,
            resolved.max_statement_bytes,
            identity,
            resolved.watch_poll,
        );
        inner.seed_statistics().await;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The PostgreSQL `NOTIFY` channel of this handle's schema (tests find its `LISTEN`
    /// connection by it).
    #[doc(hidden)]
    pub fn change_channel(&self) -> Option<&str> {
        self.inner.channel.as_deref()
    }

    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    /// Prunes delete history down to the newest `keep_tombstones` deletions now (the
    /// background pruning keeps 100k or one hour). Watches from before the pruned
    /// revisions then get `Expired`.
    #[doc(hidden)]
    pub async fn compact_history(&self, keep_tombstones: u64) -> Result<(), StorageError> {
        let _work = self.inner.hub.work.lock().await;
        crate::watch::prune(
            &self.inner,
            Retention {
                max_tombstones: keep_tombstones,
                ..self.inner.retention
            },
        )
        .await
    }

    /// The database's query plan for the list query of `opts` on `resource` (tests check
    /// that indexes are used).
    #[doc(hidden)]
    pub async fn explain_list(
        &self,
        resource: &GroupVersionResource,
        opts: &ListOptions,
    ) -> Result<String, StorageError> {
        let sql = read::list_sql(self.inner.dialect, resource, opts)?;
        let (prefix, column) = match self.inner.dialect {
            Dialect::Postgres => ("EXPLAIN ", 0),
            Dialect::MySql => ("EXPLAIN FORMAT=JSON ", 0),
            Dialect::Sqlite => ("EXPLAIN QUERY PLAN ", 3),
        };
        let explain = Sql {
            text: format!("{prefix}{}", sql.text),
            args: sql.args,
        };
        let tys: Vec<Ty> = match self.inner.dialect {
            Dialect::Sqlite => vec![Ty::I64, Ty::I64, Ty::I64, Ty::Text],
            _ => vec![Ty::Text],
        };
        let ctx = "explaining a list query";
        let mut conn = self
            .inner
            .pool
            .conn()
            .await
            .map_err(|e| self.inner.errors.map(ctx, e))?;
        let rows = conn
            .fetch(&explain, &tys)
            .await
            .map_err(|e| self.inner.errors.map(ctx, e))?;
        let lines: Result<Vec<String>, StorageError> = rows
            .iter()
            .map(|r| r.text(column).map(str::to_owned))
            .collect();
        Ok(lines?.join("\n"))
    }
}

/// The SQL text of the list query for `opts` on `resource` (placeholders unfilled).
#[doc(hidden)]
pub fn explain_list_sql(
    dialect: Dialect,
    resource: &GroupVersionResource,
    opts: &ListOptions,
) -> Result<String, StorageError> {
    Ok(read::list_sql(dialect, resource, opts)?.text)
}

#[async_trait]
impl StorageFactory for InternalStorage {
    fn layer_name(&self) -> &str {
        read::LAYER
    }

    async fn prepare_cluster(&self, _cluster: &str) -> Result<(), StorageError> {
        Ok(())
    }

    async fn resource_storage(
        &self,
        resource: &ResourceType,
    ) -> Result<Arc<dyn ResourceStorage>, StorageError> {
        write::check_resource_type(resource)?;
        Ok(Arc::new(InternalResourceStorage {
            inner: Arc::clone(&self.inner),
            resource: resource.clone(),
        }))
    }

    async fn stored_resources(&self) -> Result<Vec<StoredResource>, StorageError> {
        let inner = Arc::clone(&self.inner);
        detached(async move { read::stored_resources(&inner).await }).await
    }

    async fn resource_versions(&self, cluster: &str) -> Result<ResourceVersions, StorageError> {
        let (inner, cluster) = (Arc::clone(&self.inner), cluster.to_owned());
        detached(async move { read::resource_versions(&inner, &cluster).await }).await
    }

    async fn list_collection(
        &self,
        collection: &CollectionResource,
        opts: &ListOptions,
    ) -> Result<CollectionList, StorageError> {
        let (inner, collection, opts) = (Arc::clone(&self.inner), collection.clone(), opts.clone());
        let page =
            detached(
                async move { read::list(&inner, Scope::Collection(&collection), &opts).await },
            )
            .await?;
        Ok(CollectionList {
            items: page
                .items
                .into_iter()
                .map(|i| CollectionItem {
                    resource: i.resource,
                    object: i.object,
                })
                .collect(),
            continue_token: page.continue_token,
            remaining_count: page.remaining_count,
            revision: page.revision,
        })
    }

    async fn clean_cluster(&self, cluster: &str, fence: Fence) -> Result<(), StorageError> {
        let (inner, cluster) = (Arc::clone(&self.inner), cluster.to_owned());
        detached(async move { write::clean(&inner, &cluster, None, fence).await }).await
    }

    async fn clean_cluster_resource(
        &self,
        cluster: &str,
        gvr: &GroupVersionResource,
        fence: Fence,
    ) -> Result<(), StorageError> {
        let (inner, cluster, gvr) = (Arc::clone(&self.inner), cluster.to_owned(), gvr.clone());
        detached(async move { write::clean(&inner, &cluster, Some(&gvr), fence).await }).await
    }

    async fn current_revision(&self) -> Result<Revision, StorageError> {
        let inner = Arc::clone(&self.inner);
        detached(async move { read::current_revision(&inner).await }).await
    }

    async fn shutdown(&self) -> Result<(), StorageError> {
        self.inner.closed.store(true, Ordering::Relaxed);
        self.inner.hub.shutdown();
        self.inner.pool.close().await;
        Ok(())
    }
}

/// The storage of one resource type.
struct InternalResourceStorage {
    inner: Arc<Inner>,
    resource: ResourceType,
}

impl std::fmt::Debug for InternalResourceStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InternalResourceStorage")
            .field("resource", &self.resource.gvr)
            .field("dialect", &self.inner.dialect)
            .finish()
    }
}

#[async_trait]
impl ResourceStorage for InternalResourceStorage {
    fn resource_type(&self) -> &ResourceType {
        &self.resource
    }

    async fn get(&self, cluster: &str, namespace: &str, name: &str) -> Result<Bytes, StorageError> {
        let (inner, resource) = (Arc::clone(&self.inner), self.resource.clone());
        let key = [cluster, namespace, name].map(str::to_owned);
        detached(async move {
            let [cluster, namespace, name] = &key;
            read::get(&inner, &resource, cluster, namespace, name).await
        })
        .await
    }

    async fn list(&self, opts: &ListOptions) -> Result<ListResult, StorageError> {
        let (inner, gvr, opts) = (
            Arc::clone(&self.inner),
            self.resource.gvr.clone(),
            opts.clone(),
        );
        let page =
            detached(async move { read::list(&inner, Scope::Resource(&gvr), &opts).await }).await?;
        Ok(ListResult {
            items: page.items.into_iter().map(|i| i.object).collect(),
            continue_token: page.continue_token,
            remaining_count: page.remaining_count,
            revision: page.revision,
        })
    }

    /// A whole list is read in keyset batches from one snapshot (see `read::Batches`);
    /// a page with a `limit` is already bounded and is listed as usual.
    async fn list_stream(&self, opts: &ListOptions) -> Result<ListStream, StorageError> {
        if opts.limit.is_some_and(|l| l > 0) {
            return Ok(ListStream::from_page(self.list(opts).await?));
        }
        detached(read::stream(
            Arc::clone(&self.inner),
            self.resource.gvr.clone(),
            opts.clone(),
        ))
        .await
    }

    async fn watch(&self, opts: &ListOptions, from: Revision) -> Result<WatchStream, StorageError> {
        let (inner, resource, opts) =
            (Arc::clone(&self.inner), self.resource.clone(), opts.clone());
        detached(async move { crate::watch::watch(&inner, &resource, &opts, from).await }).await
    }

    async fn apply_batch(
        &self,
        cluster: &str,
        fence: Fence,
        ops: Vec<WriteOp>,
    ) -> Result<BatchOutcome, StorageError> {
        let (inner, resource, cluster) = (
            Arc::clone(&self.inner),
            self.resource.clone(),
            cluster.to_owned(),
        );
        let applied =
            detached(
                async move { write::apply_batch(&inner, &resource, &cluster, fence, ops).await },
            )
            .await?;
        self.inner.note_inserted(applied.inserted);
        crate::watch::maybe_prune(&self.inner);
        Ok(applied.outcome)
    }
}

/// The `internal` layer for the registry (`--storage-name internal`).
#[derive(Debug, Clone, Copy, Default)]
pub struct InternalLayer;

#[async_trait]
impl StorageLayer for InternalLayer {
    fn name(&self) -> &str {
        read::LAYER
    }

    async fn open(&self, config: Option<&Path>) -> Result<Arc<dyn StorageFactory>, StorageError> {
        let Some(path) = config else {
            return Err(StorageError::bad_request(
                "the internal storage layer needs --storage-config: a YAML file with at least `type` (sqlite, postgres or mysql) and `dsn`",
            ));
        };
        let config = InternalStorageConfig::from_file(path)
            .map_err(|e| StorageError::bad_request(e.to_string()))?;
        Ok(Arc::new(InternalStorage::connect(&config).await?))
    }
}
