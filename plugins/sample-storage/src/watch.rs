//! Watches: each watcher polls the event log for its resource after its position, in
//! revision order, delivering every matching event. It wakes when a write in this process
//! commits, and every [`POLL_INTERVAL`] for writes from other processes sharing the
//! database.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use pedia_plugin_api::bytes::Bytes;
use pedia_plugin_api::pedia_core::{GroupVersionResource, ListOptions, Object};
use pedia_plugin_api::pedia_storage::filter::{ObjectFilter, reject_unknown_extra_labels};
use pedia_plugin_api::pedia_storage::{Result, Revision, StorageError, WatchEvent, WatchStream};
use tokio::sync::watch;

use crate::db::{detached, parse_event_type};
use crate::{LAYER_NAME, Shared};

/// How often a watcher looks for changes written by other processes.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Events read per poll, so a watcher far behind holds no long transaction and bounded
/// memory.
const BATCH: i64 = 256;

fn expired(position: Revision, compacted: Revision) -> StorageError {
    StorageError::expired(format!(
        "too old resource version: {position} (the oldest available is {})",
        compacted + 1
    ))
}

/// Checks a watch request and opens its stream.
pub(crate) async fn open(
    shared: Arc<Shared>,
    gvr: GroupVersionResource,
    opts: &ListOptions,
    from: Revision,
) -> Result<WatchStream> {
    if opts.owner.is_some() {
        return Err(StorageError::unsupported(
            "the sample-storage-layer storage layer cannot watch with an owner query",
        ));
    }
    reject_unknown_extra_labels(opts, LAYER_NAME, &[])?;
    // Refuse an expired start right away rather than as the stream's first item.
    let (_, compacted) = shared.db.pooled().await?.conn().meta(false).await?;
    if from < compacted {
        return Err(expired(from, compacted));
    }
    let watcher = Watcher {
        wake: shared.notify.subscribe(),
        closed: shared.closed.subscribe(),
        shared,
        gvr,
        opts: opts.clone(),
        position: from,
        buffer: VecDeque::new(),
        done: false,
    };
    Ok(futures::stream::unfold(watcher, Watcher::next).boxed())
}

struct Watcher {
    shared: Arc<Shared>,
    gvr: GroupVersionResource,
    opts: ListOptions,
    /// The revision of the last event read (matching or not).
    position: Revision,
    buffer: VecDeque<WatchEvent>,
    wake: watch::Receiver<Revision>,
    closed: watch::Receiver<bool>,
    done: bool,
}

impl Watcher {
    /// The stream's step: the next buffered event, else poll, else wait for a change.
    async fn next(mut self) -> Option<(Result<WatchEvent>, Self)> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Some((Ok(event), self));
            }
            if self.done || *self.closed.borrow() {
                return None;
            }
            // Mark the latest notification seen before reading, so a commit landing
            // between the read and the wait still wakes us.
            self.wake.borrow_and_update();
            let caught_up = match self.poll().await {
                Ok(caught_up) => caught_up,
                Err(err) => {
                    self.done = true;
                    // After shutdown the pool is closed: end quietly instead.
                    if *self.closed.borrow() {
                        return None;
                    }
                    return Some((Err(err), self));
                }
            };
            if self.buffer.is_empty() && caught_up {
                tokio::select! {
                    _ = self.wake.changed() => {}
                    _ = self.closed.changed() => {}
                    () = tokio::time::sleep(POLL_INTERVAL) => {}
                }
            }
        }
    }

    /// Reads the next events after `position` on one snapshot, buffering those that match.
    /// Returns whether it read everything there was.
    async fn poll(&mut self) -> Result<bool> {
        let (shared, gvr, position) = (Arc::clone(&self.shared), self.gvr.clone(), self.position);
        // Detached: a watcher is dropped whenever its client leaves, often mid-read.
        let rows = detached(async move {
            let mut tx = shared.db.read_tx().await?;
            let mut conn = tx.conn();
            // Read on the same snapshot as the events: if nothing after `position` was
            // pruned in this snapshot, the events read are complete.
            let (_, compacted) = conn.meta(false).await?;
            if position < compacted {
                return Err(expired(position, compacted));
            }
            let rows = conn.events_after(&gvr, position, BATCH).await?;
            tx.commit().await?;
            Ok(rows)
        })
        .await?;

        let caught_up = (rows.len() as i64) < BATCH;
        let filter = ObjectFilter::new(&self.opts);
        for row in rows {
            let revision = crate::db::from_db(row.revision);
            self.position = revision;
            let event_type = parse_event_type(&row.event_type).ok_or_else(|| {
                StorageError::internal(
                    "reading the event log",
                    std::io::Error::other(format!("unknown event type {:?}", row.event_type)),
                )
            })?;
            let object = Object::from_json(Bytes::from(row.object))
                .map_err(|e| StorageError::internal("decoding a recorded object", e))?;
            if filter.matches(&row.cluster, &object.meta, &object.raw) {
                self.buffer.push_back(WatchEvent {
                    event_type,
                    revision,
                    object: object.raw,
                });
            }
        }
        Ok(caught_up)
    }
}
