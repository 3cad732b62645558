//! The storage-layer objects: [`InternalStorage`] (the factory), the per-resource storage,
//! the `internal` [`InternalLayer`] for the registry, and the state they share.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use pedia_core::{GroupVersionResource, ListOptions, ResourceType};
use pedia_storage::{
    BatchOutcome, CollectionItem, CollectionList, CollectionResource, ListResult, ListStream,
    ResourceStorage, ResourceVersions, Revision, StorageError, StorageFactory, StorageLayer,
    StoredResource, WatchStream, WriteOp,
};
use tokio::sync::watch as revision_watch;

use crate::config::InternalStorageConfig;
use crate::db::{Dialect, ErrorMap, Pool, Ty};
use crate::read::{self, Scope};
use crate::sql::Sql;
use crate::watch::{Hub, Retention};
use crate::write;

/// State shared by the factory, its resource storages and the watch poller.
pub(crate) struct Inner {
    pub(crate) pool: Pool,
    pub(crate) dialect: Dialect,
    pub(crate) errors: ErrorMap,
    pub(crate) max_statement_bytes: usize,
    /// Serializes this process's writers before they queue on the database lock.
    pub(crate) write_lock: tokio::sync::Mutex<()>,
    /// The latest revision this process committed; wakes the watch poller.
    revisions: revision_watch::Sender<Revision>,
    /// (cluster, resource) pairs known to be in `pedia_cluster_resources`.
    known_pairs: Mutex<HashSet<(String, GroupVersionResource)>>,
    pub(crate) hub: Hub,
    pub(crate) retention: Retention,
    closed: AtomicBool,
    /// PostgreSQL statistics upkeep: (rows inserted since the last ANALYZE, rows then).
    analyze: Mutex<(u64, u64)>,
    analyzing: AtomicBool,
}

/// Rows inserted before the first ANALYZE of a fresh table.
const ANALYZE_FIRST_ROWS: u64 = 1_000;

impl Inner {
    pub(crate) fn known_pairs(&self) -> MutexGuard<'_, HashSet<(String, GroupVersionResource)>> {
        self.known_pairs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the watch poller that `revision` was committed.
    pub(crate) fn notify(&self, revision: Revision) {
        self.revisions.send_if_modified(|r| {
            if revision > *r {
                *r = revision;
                true
            } else {
                false
            }
        });
    }

    pub(crate) fn subscribe(&self) -> revision_watch::Receiver<Revision> {
        self.revisions.subscribe()
    }

    /// Refreshes PostgreSQL's statistics in the background after a table grew by a
    /// quarter (at least `ANALYZE_FIRST_ROWS`). Without column statistics the planner
    /// estimates every equality at 0.5% and, during a first sync, picks plans that filter
    /// whole resources instead of probing the key index. MySQL recalculates statistics by
    /// itself; SQLite's planner does not depend on them for these queries.
    fn note_inserted(self: &Arc<Self>, rows: u64) {
        if self.dialect != Dialect::Postgres || rows == 0 {
            return;
        }
        {
            let mut a = self.analyze.lock().unwrap_or_else(PoisonError::into_inner);
            a.0 += rows;
            if a.0 < ANALYZE_FIRST_ROWS.max(a.1 / 4) {
                return;
            }
            if self.analyzing.swap(true, Ordering::AcqRel) {
                return;
            }
            a.1 += a.0;
            a.0 = 0;
        }
        let inner = Arc::clone(self);
        tokio::spawn(async move {
            let ctx = "refreshing table statistics";
            let result = async {
                let mut conn = inner.pool.conn().await?;
                conn.execute(&Sql::raw("ANALYZE pedia_resources")).await?;
                conn.execute(&Sql::raw("ANALYZE pedia_labels")).await?;
                conn.execute(&Sql::raw("ANALYZE pedia_fields")).await?;
                Ok::<_, sqlx::Error>(())
            }
            .await;
            if let Err(err) = result {
                let err = inner.errors.map(ctx, err);
                tracing::warn!(error = %err.detail(), "internal storage: ANALYZE failed");
            }
            inner.analyzing.store(false, Ordering::Release);
        });
    }

    /// Prunes tombstones in the background when due.
    fn maybe_prune(self: &Arc<Self>) {
        if self.closed.load(Ordering::Relaxed) || !self.hub.prune_due() {
            return;
        }
        let inner = Arc::clone(self);
        tokio::spawn(async move {
            let _work = inner.hub.work.lock().await;
            if let Err(err) = crate::watch::prune(&inner, inner.retention).await {
                tracing::warn!(error = %err.detail(), "internal storage: pruning tombstones failed");
            }
        });
    }
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
        let inner = Inner {
            dialect: pool.dialect(),
            pool,
            errors,
            max_statement_bytes: resolved.max_statement_bytes,
            write_lock: tokio::sync::Mutex::new(()),
            revisions: revision_watch::Sender::new(0),
            known_pairs: Mutex::default(),
            hub: Hub::new(),
            retention: Retention::default(),
            closed: AtomicBool::new(false),
            analyze: Mutex::new((0, 0)),
            analyzing: AtomicBool::new(false),
        };
        if inner.dialect == Dialect::Postgres {
            // Start from the table's size as PostgreSQL last measured it, so a restart
            // does not re-analyze a big table at once.
            let sql = Sql::raw(
                "SELECT CAST(GREATEST(reltuples, 0) AS BIGINT) FROM pg_class WHERE oid = to_regclass('pedia_resources')",
            );
            if let Ok(mut conn) = inner.pool.conn().await
                && let Ok(rows) = conn.fetch(&sql, &[Ty::I64]).await
                && let Some(Ok(n)) = rows.first().map(|r| r.i64(0))
            {
                inner
                    .analyze
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .1 = u64::try_from(n).unwrap_or(0);
            }
        }
        Ok(Self {
            inner: Arc::new(inner),
        })
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
        read::stored_resources(&self.inner).await
    }

    async fn resource_versions(&self, cluster: &str) -> Result<ResourceVersions, StorageError> {
        read::resource_versions(&self.inner, cluster).await
    }

    async fn list_collection(
        &self,
        collection: &CollectionResource,
        opts: &ListOptions,
    ) -> Result<CollectionList, StorageError> {
        let page = read::list(&self.inner, Scope::Collection(collection), opts).await?;
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

    async fn clean_cluster(&self, cluster: &str) -> Result<(), StorageError> {
        write::clean(&self.inner, cluster, None).await
    }

    async fn clean_cluster_resource(
        &self,
        cluster: &str,
        gvr: &GroupVersionResource,
    ) -> Result<(), StorageError> {
        write::clean(&self.inner, cluster, Some(gvr)).await
    }

    async fn current_revision(&self) -> Result<Revision, StorageError> {
        read::current_revision(&self.inner).await
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
        read::get(&self.inner, &self.resource, cluster, namespace, name).await
    }

    async fn list(&self, opts: &ListOptions) -> Result<ListResult, StorageError> {
        let page = read::list(&self.inner, Scope::Resource(&self.resource.gvr), opts).await?;
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
        read::stream(
            Arc::clone(&self.inner),
            self.resource.gvr.clone(),
            opts.clone(),
        )
        .await
    }

    async fn watch(&self, opts: &ListOptions, from: Revision) -> Result<WatchStream, StorageError> {
        crate::watch::watch(&self.inner, &self.resource, opts, from).await
    }

    async fn apply_batch(
        &self,
        cluster: &str,
        ops: Vec<WriteOp>,
    ) -> Result<BatchOutcome, StorageError> {
        let applied = write::apply_batch(&self.inner, &self.resource, cluster, ops).await?;
        self.inner.note_inserted(applied.inserted);
        self.inner.maybe_prune();
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
