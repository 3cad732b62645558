//! Watches over the in-memory event history: each watcher pulls the events after its
//! position and sleeps on the revision notification in between.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::StreamExt;
use pedia_core::GroupVersionResource;
use pedia_core::ListOptions;
use pedia_storage::filter::ObjectFilter;
use pedia_storage::{Revision, StorageError, WatchEvent, WatchStream};
use tokio::sync::watch;

use crate::Shared;

/// Events read per lock acquisition, so a watcher far behind does not hold the lock long.
const BATCH: usize = 512;

struct Watcher {
    shared: Arc<Shared>,
    gvr: GroupVersionResource,
    opts: ListOptions,
    position: Revision,
    buffer: VecDeque<WatchEvent>,
    wake: watch::Receiver<Revision>,
    done: bool,
}

impl Watcher {
    /// Moves matching events after `position` into the buffer; returns whether it caught
    /// up with the history. Errs when the history no longer reaches back to `position`.
    fn fill(&mut self) -> Result<bool, StorageError> {
        let state = self.shared.read();
        if self.position < state.compacted {
            return Err(StorageError::expired(format!(
                "too old resource version: {} (the oldest available is {})",
                self.position,
                state.compacted + 1
            )));
        }
        let filter = ObjectFilter::new(&self.opts);
        let start = state
            .history
            .partition_point(|e| e.revision <= self.position);
        let end = state.history.len().min(start + BATCH);
        for event in state.history.range(start..end) {
            self.position = event.revision;
            if *event.gvr == self.gvr
                && filter.matches(&event.cluster, &event.obj.meta, &event.obj.raw)
            {
                self.buffer.push_back(WatchEvent {
                    event_type: event.event_type,
                    revision: event.revision,
                    object: event.obj.raw.clone(),
                });
            }
        }
        Ok(end == state.history.len())
    }
}

/// A stream of the events of `gvr` after `from` that match `opts`.
pub(crate) fn stream(
    shared: Arc<Shared>,
    gvr: GroupVersionResource,
    opts: ListOptions,
    from: Revision,
) -> WatchStream {
    let wake = shared.notify.subscribe();
    let watcher = Watcher {
        shared,
        gvr,
        opts,
        position: from,
        buffer: VecDeque::new(),
        wake,
        done: false,
    };
    futures::stream::unfold(watcher, |mut w| async move {
        loop {
            if let Some(event) = w.buffer.pop_front() {
                return Some((Ok(event), w));
            }
            if w.done {
                return None;
            }
            // Mark the current revision seen before reading, so a write landing between
            // the read and the wait still wakes us.
            w.wake.borrow_and_update();
            let caught_up = match w.fill() {
                Ok(caught_up) => caught_up,
                Err(err) => {
                    w.done = true;
                    return Some((Err(err), w));
                }
            };
            if w.buffer.is_empty() && caught_up && w.wake.changed().await.is_err() {
                // The layer shut down.
                return None;
            }
        }
    })
    .boxed()
}
