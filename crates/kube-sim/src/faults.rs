//! Fault injection for tests of the components that talk to member clusters: stop
//! answering (listener and connections closed) and come back on the same port with the
//! same state, compact the history (forcing `410 Gone` on the next watch or continue),
//! slow or garbage responses for a while, and request counters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::error::SimError;
use crate::server::ServerControl;
use crate::store::Store;

/// A fault that lasts until cleared or until a deadline.
#[derive(Debug, Clone, Copy)]
struct Timed<T> {
    value: T,
    until: Option<Instant>,
}

impl<T: Copy> Timed<T> {
    fn current(slot: &Mutex<Option<Self>>) -> Option<T> {
        let mut guard = lock(slot);
        match *guard {
            Some(t) if t.until.is_none_or(|u| Instant::now() < u) => Some(t.value),
            Some(_) => {
                *guard = None;
                None
            }
            None => None,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The fault settings and counters the request path reads.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    delay: Mutex<Option<Timed<Duration>>>,
    garbage: Mutex<Option<Timed<()>>>,
    total: AtomicU64,
    by_verb: Mutex<BTreeMap<(String, String), u64>>,
}

impl FaultState {
    pub(crate) fn count(&self) {
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request by kube verb and resource (`list`, `pods`) or by method and path
    /// for non-resource requests (`get`, `/apis`).
    pub(crate) fn record(&self, verb: &str, resource: &str) {
        *lock(&self.by_verb)
            .entry((verb.to_owned(), resource.to_owned()))
            .or_default() += 1;
    }

    pub(crate) fn delay(&self) -> Option<Duration> {
        Timed::current(&self.delay)
    }

    pub(crate) fn garbage(&self) -> bool {
        Timed::current(&self.garbage).is_some()
    }
}

/// The fault-injection handle of a simulator (`KubeSim::faults`).
#[derive(Debug, Clone)]
pub struct Faults {
    state: Arc<FaultState>,
    server: Arc<ServerControl>,
    store: Store,
}

impl Faults {
    pub(crate) fn new(state: Arc<FaultState>, server: Arc<ServerControl>, store: Store) -> Self {
        Self {
            state,
            server,
            store,
        }
    }

    /// Stops answering: closes the listener and every open connection (watches end
    /// abruptly, new connections are refused). Blocks until the server is down.
    pub fn stop(&self) {
        self.server.stop();
    }

    /// Answers again, on the same address, with the same objects and revisions.
    pub fn resume(&self) -> Result<(), SimError> {
        self.server.resume()
    }

    pub fn is_serving(&self) -> bool {
        self.server.is_serving()
    }

    /// Compacts the history: every resourceVersion older than now is too old, so the next
    /// watch or `continue` from one gets `410 Gone`, and open watches receive an `ERROR`
    /// event with a `410` Status.
    pub fn compact(&self) {
        self.store.compact();
    }

    /// Delays every response by `delay` until cleared.
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.state.delay) = Some(Timed {
            value: delay,
            until: None,
        });
    }

    /// Delays every response by `delay` for the next `period`.
    pub fn delay_for(&self, delay: Duration, period: Duration) {
        *lock(&self.state.delay) = Some(Timed {
            value: delay,
            until: Some(Instant::now() + period),
        });
    }

    /// Answers every request with `200` and a body that is not valid JSON, until cleared.
    pub fn set_garbage(&self, on: bool) {
        *lock(&self.state.garbage) = on.then_some(Timed {
            value: (),
            until: None,
        });
    }

    /// Answers garbage for the next `period`.
    pub fn garbage_for(&self, period: Duration) {
        *lock(&self.state.garbage) = Some(Timed {
            value: (),
            until: Some(Instant::now() + period),
        });
    }

    /// No more delays or garbage.
    pub fn clear(&self) {
        *lock(&self.state.delay) = None;
        *lock(&self.state.garbage) = None;
    }

    /// Every request received (health checks included).
    pub fn requests(&self) -> u64 {
        self.state.total.load(Ordering::Relaxed)
    }

    /// Requests of kube verb `verb` (`get`, `list`, `watch`, `create`, `update`, `patch`,
    /// `delete`, `deletecollection`) on `resource` (`pods`, `deployments.apps`,
    /// `widgets.example.com`); discovery and other non-resource requests count as `get` on
    /// their path (`/api`, `/apis/apps/v1`, `/version`, `/openapi`).
    pub fn request_count(&self, verb: &str, resource: &str) -> u64 {
        lock(&self.state.by_verb)
            .get(&(verb.to_owned(), resource.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// All counts, by (verb, resource).
    pub fn request_counts(&self) -> BTreeMap<(String, String), u64> {
        lock(&self.state.by_verb).clone()
    }

    /// Sets every counter back to zero.
    pub fn reset_requests(&self) {
        self.state.total.store(0, Ordering::Relaxed);
        lock(&self.state.by_verb).clear();
    }
}
