//! The watchers of one factory and the primitives their poller (in `watch`) coordinates
//! on: the registry of watchers, wake-ups, the work lock shared with pruning, and the
//! delete-history retention. State only; the polling is in `watch`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pedia_core::{ListOptions, ResourceType};
use pedia_storage::{Revision, StorageError, WatchEvent};
use tokio::sync::{Notify, mpsc};

/// How often tombstones are pruned.
pub(crate) const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// How much delete history watches can replay.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retention {
    /// Tombstones kept at most.
    pub max_tombstones: u64,
    /// Tombstones older than this are pruned.
    pub max_age: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_tombstones: 100_000,
            max_age: Duration::from_secs(3600),
        }
    }
}

pub(crate) type Slot = Arc<Mutex<Option<StorageError>>>;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) struct Watcher {
    pub(crate) resource: ResourceType,
    pub(crate) opts: ListOptions,
    /// Events up to this revision were delivered (or filtered out).
    pub(crate) position: Revision,
    /// Rows created after this revision are reported as ADDED. It trails `position`
    /// until the watcher has caught up, so an object created and then changed while the
    /// watcher was catching up is still first seen as ADDED.
    pub(crate) added_floor: Revision,
    pub(crate) tx: mpsc::Sender<Result<WatchEvent, StorageError>>,
    /// The error the stream ends with after its buffered events, if any.
    pub(crate) final_error: Slot,
}

#[derive(Default)]
pub(crate) struct HubState {
    pub(crate) watchers: Vec<Watcher>,
    pub(crate) running: bool,
    pub(crate) shut_down: bool,
}

/// The watchers of one factory and their poller.
pub(crate) struct Hub {
    pub(crate) state: Mutex<HubState>,
    pub(crate) kick: Notify,
    pub(crate) shutdown: Notify,
    /// Serializes polling and pruning in this process.
    pub(crate) work: tokio::sync::Mutex<()>,
    last_prune: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = lock(&self.state);
        f.debug_struct("Hub")
            .field("watchers", &s.watchers.len())
            .field("running", &s.running)
            .finish()
    }
}

impl Hub {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::default(),
            kick: Notify::new(),
            shutdown: Notify::new(),
            work: tokio::sync::Mutex::new(()),
            // The first prune runs one interval after opening.
            last_prune: Mutex::new(Some(Instant::now())),
        }
    }

    /// Ends every watch cleanly and stops the poller.
    pub(crate) fn shutdown(&self) {
        let mut s = lock(&self.state);
        s.shut_down = true;
        s.watchers.clear();
        drop(s);
        self.shutdown.notify_waiters();
        self.shutdown.notify_one();
    }

    /// Whether a prune is due; marks it started.
    pub(crate) fn prune_due(&self) -> bool {
        let mut last = lock(&self.last_prune);
        match *last {
            Some(t) if t.elapsed() < PRUNE_INTERVAL => false,
            _ => {
                *last = Some(Instant::now());
                true
            }
        }
    }
}
