//! The state shared by the factory, its resource storages, the writers and the watch
//! poller: the pool, the dialect's error mapping, the in-process write lock, the revision
//! notifier (shared per database, see `feed`), the watch hub, and PostgreSQL statistics upkeep. A leaf: it depends on no
//! module that uses it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use pedia_core::GroupVersionResource;
use pedia_storage::Revision;
use tokio::sync::watch as revision_watch;

use crate::db::{Dialect, ErrorMap, Pool, Ty};
use crate::hub::{Hub, Retention};
use crate::sql::Sql;

/// State shared by the factory, its resource storages and the watch poller.
pub(crate) struct Inner {
    pub(crate) pool: Pool,
    pub(crate) dialect: Dialect,
    pub(crate) errors: ErrorMap,
    pub(crate) max_statement_bytes: usize,
    /// Serializes this process's writers before they queue on the database lock.
    pub(crate) write_lock: tokio::sync::Mutex<()>,
    /// The latest revision this process committed on this database, shared by the
    /// process's handles on it; wakes their watch pollers.
    revisions: Arc<crate::feed::Feed>,
    /// PostgreSQL: the `NOTIFY` channel of this database and schema.
    pub(crate) channel: Option<String>,
    /// The longest the watch poller waits without a wake-up.
    pub(crate) watch_poll: Duration,
    /// (cluster, resource) pairs known to be in `pedia_cluster_resources`.
    known_pairs: Mutex<HashSet<(String, GroupVersionResource)>>,
    pub(crate) hub: Hub,
    pub(crate) retention: Retention,
    pub(crate) closed: AtomicBool,
    /// PostgreSQL statistics upkeep: (rows inserted since the last ANALYZE, rows then).
    analyze: Mutex<(u64, u64)>,
    analyzing: AtomicBool,
}

/// Rows inserted before the first ANALYZE of a fresh table.
const ANALYZE_FIRST_ROWS: u64 = 1_000;

impl Inner {
    pub(crate) fn new(
        pool: Pool,
        errors: ErrorMap,
        max_statement_bytes: usize,
        identity: Option<(String, Option<String>)>,
        watch_poll: Duration,
    ) -> Self {
        let (revisions, channel) = match identity {
            Some((key, channel)) => (crate::feed::shared(&key), channel),
            None => (Arc::new(revision_watch::Sender::new(0)), None),
        };
        Self {
            dialect: pool.dialect(),
            pool,
            errors,
            max_statement_bytes,
            write_lock: tokio::sync::Mutex::new(()),
            revisions,
            channel,
            watch_poll,
            known_pairs: Mutex::default(),
            hub: Hub::new(),
            retention: Retention::default(),
            closed: AtomicBool::new(false),
            analyze: Mutex::new((0, 0)),
            analyzing: AtomicBool::new(false),
        }
    }

    /// Starts statistics upkeep from the table's size as PostgreSQL last measured it, so
    /// a restart does not re-analyze a big table at once.
    pub(crate) async fn seed_statistics(&self) {
        if self.dialect != Dialect::Postgres {
            return;
        }
        let sql = Sql::raw(
            "SELECT CAST(GREATEST(reltuples, 0) AS BIGINT) FROM pg_class WHERE oid = to_regclass('pedia_resources')",
        );
        if let Ok(mut conn) = self.pool.conn().await
            && let Ok(rows) = conn.fetch(&sql, &[Ty::I64]).await
            && let Some(Ok(n)) = rows.first().map(|r| r.i64(0))
        {
            self.analyze
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .1 = u64::try_from(n).unwrap_or(0);
        }
    }

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
    pub(crate) fn note_inserted(self: &Arc<Self>, rows: u64) {
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
}
