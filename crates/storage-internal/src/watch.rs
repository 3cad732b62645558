//! Watch: a coalescing change feed read from the tables. One poller task per factory
//! reads each watcher's new rows of `pedia_resources` and `pedia_tombstones` in revision
//! order, in bounded batches inside one snapshot, and sends them to the watcher's bounded
//! channel. It reads when woken (a write in this process, a PostgreSQL `NOTIFY`, see
//! `feed`) and otherwise polls: [`FAST_POLL`] after the feed moved, doubling to the
//! configured interval (`watchPollInterval`, 250 ms) while idle, so writers in other
//! processes are seen quickly during churn at little cost when idle. PostgreSQL, woken by
//! every commit, polls only at the interval. A watcher behind the compacted revision gets
//! `Expired`. The poller also prunes old tombstones.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use pedia_core::{ListOptions, Object, ResourceType};
use pedia_storage::filter::ObjectFilter;
use pedia_storage::{Revision, StorageError, WatchEvent, WatchEventType, WatchStream};
use tokio::sync::mpsc;

use crate::db::Ty;
use crate::filter_sql::{push_filters, push_in};
use crate::hub::{Retention, Slot, Watcher, lock};
use crate::sql::{Sql, SqlBuilder};
use crate::state::Inner;

/// The poll wait right after the feed moved (SQLite and MySQL: writers in other
/// processes do not wake this one).
const FAST_POLL: Duration = Duration::from_millis(20);
/// Rows read per query.
const ROWS_PER_QUERY: usize = 500;
/// Events buffered per watcher; a slower reader makes the poller wait, not buffer more.
const CHANNEL_CAPACITY: usize = 256;

/// Opens a watch of `resource` after revision `from`.
pub(crate) async fn watch(
    inner: &Arc<Inner>,
    resource: &ResourceType,
    opts: &ListOptions,
    from: Revision,
) -> Result<WatchStream, StorageError> {
    if opts.owner.is_some() {
        return Err(StorageError::unsupported(
            "the internal storage layer does not support owner queries in watches",
        ));
    }
    pedia_storage::filter::reject_unknown_extra_labels(
        opts,
        crate::read::LAYER,
        &[pedia_core::search_label::FUZZY_NAME],
    )?;
    // Build the filter once so unsupported selectors fail now, not in the poller.
    push_filters(&mut SqlBuilder::new(inner.dialect), opts)?;

    let (_, compacted) = read_meta(inner).await?;
    if from < compacted {
        return Err(expired(from, compacted));
    }
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let final_error: Slot = Arc::default();
    {
        let mut s = lock(&inner.hub.state);
        if s.shut_down {
            return Err(StorageError::unavailable(
                "the internal storage is shutting down",
            ));
        }
        s.watchers.push(Watcher {
            resource: resource.clone(),
            opts: opts.clone(),
            position: from,
            added_floor: from,
            tx,
            final_error: Arc::clone(&final_error),
        });
        if !s.running {
            s.running = true;
            let poller_inner = Arc::clone(inner);
            tokio::spawn(async move { poll_loop(poller_inner).await });
        }
    }
    inner.hub.kick.notify_one();

    let stream = futures::stream::unfold(Some((rx, final_error)), |state| async move {
        let (mut rx, slot) = state?;
        match rx.recv().await {
            Some(event) => Some((event, Some((rx, slot)))),
            None => {
                let err = lock(&slot).take();
                err.map(|e| (Err(e), None))
            }
        }
    });
    Ok(stream.boxed())
}

fn expired(from: Revision, compacted: Revision) -> StorageError {
    StorageError::expired(format!(
        "too old resource version: {from} ({compacted}); list again to get a current one"
    ))
}

async fn read_meta(inner: &Inner) -> Result<(Revision, Revision), StorageError> {
    let ctx = "reading the watch position";
    let mut conn = inner
        .pool
        .conn()
        .await
        .map_err(|e| inner.errors.map(ctx, e))?;
    let rows = conn
        .fetch(
            &Sql::raw("SELECT revision, compacted_revision FROM pedia_meta WHERE id = 1"),
            &[Ty::I64, Ty::I64],
        )
        .await
        .map_err(|e| inner.errors.map(ctx, e))?;
    meta_of(rows.first())
}

fn meta_of(row: Option<&crate::db::Row>) -> Result<(Revision, Revision), StorageError> {
    match row {
        Some(r) => Ok((
            u64::try_from(r.i64(0)?).unwrap_or(0),
            u64::try_from(r.i64(1)?).unwrap_or(0),
        )),
        None => Ok((0, 0)),
    }
}

/// Stops the `LISTEN` task with the poller.
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

async fn poll_loop(inner: Arc<Inner>) {
    let mut revisions = inner.subscribe();
    let _listener = AbortOnDrop(crate::feed::spawn_listener(&inner));
    let notified = inner.channel.is_some();
    let mut wait = inner.watch_poll;
    let mut seen_latest: Option<Revision> = None;
    loop {
        tokio::select! {
            _ = revisions.changed() => {}
            _ = inner.hub.kick.notified() => {}
            _ = inner.hub.shutdown.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
        let mut watchers = {
            let mut s = lock(&inner.hub.state);
            if s.shut_down {
                s.running = false;
                s.watchers.clear();
                return;
            }
            std::mem::take(&mut s.watchers)
        };
        watchers.retain(|w| !w.tx.is_closed());
        if !watchers.is_empty() {
            let _work = inner.hub.work.lock().await;
            match read_meta(&inner).await {
                Ok((latest, _)) => {
                    let moved = seen_latest.is_some_and(|seen| latest > seen);
                    seen_latest = Some(latest);
                    wait = if moved && !notified {
                        FAST_POLL
                    } else {
                        (wait * 2).min(inner.watch_poll)
                    };
                    for w in &mut watchers {
                        if w.position < latest
                            && let Err(err) = poll_watcher(&inner, w).await
                        {
                            // The watch ends with the error; clients watch again.
                            *lock(&w.final_error) = Some(err);
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err.detail(), "internal storage: watch poll failed");
                }
            }
            watchers.retain(|w| lock(&w.final_error).is_none() && !w.tx.is_closed());
        }
        {
            let mut s = lock(&inner.hub.state);
            s.watchers.extend(watchers);
            if s.shut_down || s.watchers.is_empty() {
                s.running = false;
                s.watchers.clear();
                return;
            }
        }
        if inner.hub.prune_due() {
            let _work = inner.hub.work.lock().await;
            if let Err(err) = prune(&inner, inner.retention).await {
                tracing::warn!(error = %err.detail(), "internal storage: pruning tombstones failed");
            }
        }
    }
}

/// A change read for a watcher.
struct Change {
    revision: Revision,
    event_type: WatchEventType,
    object: bytes::Bytes,
}

/// Delivers a watcher's events up to the latest revision, or until its channel is full.
async fn poll_watcher(inner: &Inner, w: &mut Watcher) -> Result<(), StorageError> {
    let ctx = "reading changes for a watch";
    let map = |e| inner.errors.map(ctx, e);
    loop {
        let room = w.tx.capacity();
        if room == 0 {
            return Ok(());
        }
        let batch = ROWS_PER_QUERY.min(room).max(1);
        let limit = i64::try_from(batch).unwrap_or(i64::MAX);
        let position = i64::try_from(w.position).unwrap_or(i64::MAX);
        let gvr = &w.resource.gvr;

        let mut tx = inner.pool.read_tx().await.map_err(map)?;
        let meta = tx
            .fetch(
                &Sql::raw("SELECT revision, compacted_revision FROM pedia_meta WHERE id = 1"),
                &[Ty::I64, Ty::I64],
            )
            .await
            .map_err(map)?;
        let (latest, compacted) = meta_of(meta.first())?;
        if w.position < compacted {
            return Err(expired(w.position, compacted));
        }
        if w.position >= latest {
            tx.commit().await.map_err(map)?;
            w.added_floor = w.position;
            return Ok(());
        }
        let latest_i = i64::try_from(latest).unwrap_or(i64::MAX);

        let mut b = SqlBuilder::new(inner.dialect);
        b.push("SELECT r.id, r.revision, r.object FROM pedia_resources r WHERE r.grp = ")
            .bind_text(&gvr.group)
            .push(" AND r.version = ")
            .bind_text(&gvr.version)
            .push(" AND r.resource = ")
            .bind_text(&gvr.resource)
            .push(" AND r.revision > ")
            .bind_i64(position)
            .push(" AND r.revision <= ")
            .bind_i64(latest_i);
        push_filters(&mut b, &w.opts)?;
        b.push(" ORDER BY r.revision LIMIT ").bind_i64(limit);
        let rows = tx
            .fetch(&b.finish(), &[Ty::I64, Ty::I64, Ty::Bytes])
            .await
            .map_err(map)?;

        let mut b = SqlBuilder::new(inner.dialect);
        b.push("SELECT t.revision, t.cluster, t.object FROM pedia_tombstones t WHERE t.grp = ")
            .bind_text(&gvr.group)
            .push(" AND t.version = ")
            .bind_text(&gvr.version)
            .push(" AND t.resource = ")
            .bind_text(&gvr.resource)
            .push(" AND t.revision > ")
            .bind_i64(position)
            .push(" AND t.revision <= ")
            .bind_i64(latest_i);
        for (column, values) in [
            ("t.cluster", &w.opts.clusters),
            ("t.namespace", &w.opts.namespaces),
            ("t.name", &w.opts.names),
        ] {
            if !values.is_empty() {
                b.push(" AND ");
                push_in(&mut b, column, values);
            }
        }
        b.push(" ORDER BY t.revision LIMIT ").bind_i64(limit);
        let tombs = tx
            .fetch(&b.finish(), &[Ty::I64, Ty::Text, Ty::Bytes])
            .await
            .map_err(map)?;
        tx.commit().await.map_err(map)?;

        // Everything up to `bound` was read; a full batch stops at its last revision.
        let mut bound = latest;
        for (len, last) in [
            (rows.len(), rows.last().map(|r| r.i64(1)).transpose()?),
            (tombs.len(), tombs.last().map(|r| r.i64(0)).transpose()?),
        ] {
            if len >= batch
                && let Some(last) = last
            {
                bound = bound.min(u64::try_from(last).unwrap_or(0));
            }
        }

        let mut changes = Vec::with_capacity(rows.len() + tombs.len());
        for mut row in rows {
            let revision = u64::try_from(row.i64(1)?).unwrap_or(0);
            if revision > bound {
                continue;
            }
            let created = u64::try_from(row.i64(0)?).unwrap_or(0);
            changes.push(Change {
                revision,
                event_type: if created > w.added_floor {
                    WatchEventType::Added
                } else {
                    WatchEventType::Modified
                },
                object: row.take_bytes(2)?,
            });
        }
        let filter = ObjectFilter::new(&w.opts);
        for mut row in tombs {
            let revision = u64::try_from(row.i64(0)?).unwrap_or(0);
            if revision > bound {
                continue;
            }
            let object = row.take_bytes(2)?;
            // Deleted objects have no label rows: filter their stored bytes in Rust.
            let keep = match Object::from_json(object.clone()) {
                Ok(o) => filter.matches(row.text(1)?, &o.meta, &o.raw),
                Err(_) => false,
            };
            if keep {
                changes.push(Change {
                    revision,
                    event_type: WatchEventType::Deleted,
                    object,
                });
            }
        }
        changes.sort_by_key(|c| c.revision);

        for c in changes {
            let revision = c.revision;
            let event = WatchEvent {
                event_type: c.event_type,
                revision,
                object: c.object,
            };
            match w.tx.try_send(Ok(event)) {
                Ok(()) => w.position = revision,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    // Resume after the last delivered event next time.
                    return Ok(());
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return Ok(()),
            }
        }
        w.position = bound;
        if bound >= latest {
            w.added_floor = bound;
            return Ok(());
        }
    }
}

/// Prunes tombstones in the background when due.
pub(crate) fn maybe_prune(inner: &Arc<Inner>) {
    if inner.closed.load(Ordering::Relaxed) || !inner.hub.prune_due() {
        return;
    }
    let inner = Arc::clone(inner);
    tokio::spawn(async move {
        let _work = inner.hub.work.lock().await;
        if let Err(err) = prune(&inner, inner.retention).await {
            tracing::warn!(error = %err.detail(), "internal storage: pruning tombstones failed");
        }
    });
}

/// Prunes tombstones beyond the retention and advances the compacted revision.
pub(crate) async fn prune(inner: &Inner, retention: Retention) -> Result<(), StorageError> {
    let ctx = "pruning deleted objects";
    let map = |e| inner.errors.map(ctx, e);
    let mut conn = inner.pool.conn().await.map_err(map)?;
    let mut b = SqlBuilder::new(inner.dialect);
    b.push("SELECT revision FROM pedia_tombstones ORDER BY revision DESC LIMIT 1 OFFSET ")
        .bind_i64(i64::try_from(retention.max_tombstones).unwrap_or(i64::MAX));
    let by_count = conn.fetch(&b.finish(), &[Ty::I64]).await.map_err(map)?;
    let age_ms = i64::try_from(retention.max_age.as_millis()).unwrap_or(i64::MAX);
    let mut b = SqlBuilder::new(inner.dialect);
    b.push("SELECT MAX(revision) FROM pedia_tombstones WHERE deleted_at < ")
        .bind_i64(crate::now_millis().saturating_sub(age_ms));
    let by_age = conn.fetch(&b.finish(), &[Ty::I64]).await.map_err(map)?;
    drop(conn);
    let cutoff = [
        by_count
            .first()
            .map(|r| r.opt_i64(0))
            .transpose()?
            .flatten(),
        by_age.first().map(|r| r.opt_i64(0)).transpose()?.flatten(),
    ]
    .into_iter()
    .flatten()
    .max();
    let Some(cutoff) = cutoff else {
        return Ok(());
    };

    let _guard = inner.write_lock.lock().await;
    let mut tx = inner.pool.write_tx().await.map_err(map)?;
    let lock_sql = match inner.dialect {
        crate::db::Dialect::Sqlite => "SELECT revision FROM pedia_meta WHERE id = 1",
        _ => "SELECT revision FROM pedia_meta WHERE id = 1 FOR UPDATE",
    };
    tx.fetch(&Sql::raw(lock_sql), &[Ty::I64])
        .await
        .map_err(map)?;
    let mut b = SqlBuilder::new(inner.dialect);
    b.push("DELETE FROM pedia_tombstones WHERE revision <= ")
        .bind_i64(cutoff);
    let pruned = tx.execute(&b.finish()).await.map_err(map)?;
    let mut b = SqlBuilder::new(inner.dialect);
    b.push("UPDATE pedia_meta SET compacted_revision = ")
        .bind_i64(cutoff)
        .push(" WHERE id = 1 AND compacted_revision < ")
        .bind_i64(cutoff);
    tx.execute(&b.finish()).await.map_err(map)?;
    tx.commit().await.map_err(map)?;
    tracing::debug!(
        pruned,
        compacted = cutoff,
        "internal storage: pruned tombstones"
    );
    Ok(())
}
