//! Request metrics in the Prometheus text format, kept in atomics (no registry crate).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Counters the apiserver exposes on `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (verb, code) -> count
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    request_micros: AtomicU64,
    request_count: AtomicU64,
    watches: AtomicI64,
}

impl Metrics {
    pub fn record(&self, verb: &str, code: u16, micros: u64) {
        let mut map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((verb.to_owned(), code)).or_default() += 1;
        self.request_micros.fetch_add(micros, Ordering::Relaxed);
        self.request_count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn watch_started(&self) {
        self.watches.fetch_add(1, Ordering::Relaxed);
    }

    pub fn watch_ended(&self) {
        self.watches.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP pedia_apiserver_requests_total Requests by verb and HTTP code.\n");
        out.push_str("# TYPE pedia_apiserver_requests_total counter\n");
        let map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        for ((verb, code), n) in map.iter() {
            let _ = writeln!(
                out,
                "pedia_apiserver_requests_total{{verb=\"{verb}\",code=\"{code}\"}} {n}"
            );
        }
        drop(map);
        out.push_str(
            "# HELP pedia_apiserver_request_duration_seconds Time spent answering requests.\n",
        );
        out.push_str("# TYPE pedia_apiserver_request_duration_seconds summary\n");
        let secs = self.request_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "pedia_apiserver_request_duration_seconds_sum {secs}");
        let _ = writeln!(
            out,
            "pedia_apiserver_request_duration_seconds_count {}",
            self.request_count.load(Ordering::Relaxed)
        );
        out.push_str("# HELP pedia_apiserver_watches Open watch streams.\n");
        out.push_str("# TYPE pedia_apiserver_watches gauge\n");
        let _ = writeln!(
            out,
            "pedia_apiserver_watches {}",
            self.watches.load(Ordering::Relaxed)
        );
        out
    }
}
