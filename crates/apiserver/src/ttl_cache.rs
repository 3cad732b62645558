//! A small bounded cache whose entries expire: the answers of TokenReviews and
//! SubjectAccessReviews, so the host cluster sees one review per credential or decision
//! per TTL rather than one per request.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries beyond this are dropped (expired ones first, then everything): a flood of
/// distinct tokens must not grow memory without bound.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug)]
pub(crate) struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> Default for TtlCache<K, V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// The value stored for `key`, unless it expired.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(expires, _)| *expires > Instant::now())
            .map(|(_, v)| v.clone())
    }

    /// Stores `value` for `ttl` (a zero TTL stores nothing).
    pub(crate) fn insert(&self, key: K, value: V, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (expires, _)| *expires > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (now + ttl, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_zero_ttl_stores_nothing() {
        let cache = TtlCache::default();
        cache.insert("a", 1, Duration::from_secs(60));
        cache.insert("b", 2, Duration::from_millis(1));
        cache.insert("c", 3, Duration::ZERO);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(cache.get(&"a"), Some(1));
        assert_eq!(cache.get(&"b"), None);
        assert_eq!(cache.get(&"c"), None);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = TtlCache::default();
        for i in 0..(MAX_ENTRIES + 10) {
            cache.insert(i, i, Duration::from_secs(60));
        }
        let len = cache.entries.lock().expect("lock").len();
        assert!(len <= MAX_ENTRIES, "{len}");
        assert_eq!(cache.get(&(MAX_ENTRIES + 9)), Some(MAX_ENTRIES + 9));
    }
}
