//! Live progress and health of every cluster and resource being synced, shared by the
//! synchro tasks (writers), the status reporter and the metrics endpoint (readers).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Progress of one resource of one cluster.
#[derive(Debug)]
pub struct ResourceProgress {
    pub cluster: String,
    pub resource: String,
    pub kind: String,
    pub namespaced: bool,
    pub version: String,
    /// Objects received from the cluster (lists and watch events).
    pub received: AtomicU64,
    /// Objects written to storage or found unchanged.
    pub synced: AtomicU64,
    /// Objects the current (or last) initial list returned.
    pub listed: AtomicU64,
    /// Writes to storage (inserted, replaced or deleted objects).
    pub written: AtomicU64,
    pub initial_done: AtomicBool,
    pub started: Instant,
    last_error: Mutex<Option<String>>,
}

impl ResourceProgress {
    pub fn new(
        cluster: &str,
        resource: &str,
        kind: &str,
        version: &str,
        namespaced: bool,
    ) -> Arc<Self> {
        Arc::new(Self {
            cluster: cluster.to_owned(),
            resource: resource.to_owned(),
            kind: kind.to_owned(),
            namespaced,
            version: version.to_owned(),
            received: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            listed: AtomicU64::new(0),
            written: AtomicU64::new(0),
            initial_done: AtomicBool::new(false),
            started: Instant::now(),
            last_error: Mutex::new(None),
        })
    }

    pub fn set_error(&self, error: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = error;
    }

    pub fn error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Objects per second since the synchro started.
    pub fn rate(&self) -> f64 {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        self.synced.load(Ordering::Relaxed) as f64 / secs
    }
}

/// Health of one cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterHealth {
    pub healthy: bool,
    pub version: String,
    pub apiserver: String,
    pub message: String,
    /// The cluster's spec could be turned into a client and resource list.
    pub validated: bool,
    pub validation_message: String,
    pub unresolved: Vec<String>,
}

/// A cluster's health and the progress of each of its resources.
pub type ClusterProgress = (ClusterHealth, Vec<Arc<ResourceProgress>>);

/// Everything known about every cluster.
#[derive(Debug, Default)]
pub struct Progress {
    clusters: Mutex<BTreeMap<String, ClusterProgress>>,
}

impl Progress {
    pub fn set_health(&self, cluster: &str, health: ClusterHealth) {
        let mut map = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(cluster.to_owned()).or_default().0 = health;
    }

    pub fn update_health(&self, cluster: &str, f: impl FnOnce(&mut ClusterHealth)) {
        let mut map = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut map.entry(cluster.to_owned()).or_default().0);
    }

    pub fn set_resources(&self, cluster: &str, resources: Vec<Arc<ResourceProgress>>) {
        let mut map = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(cluster.to_owned()).or_default().1 = resources;
    }

    pub fn remove(&self, cluster: &str) {
        self.clusters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(cluster);
    }

    /// A copy of the current state.
    pub fn snapshot(&self) -> BTreeMap<String, ClusterProgress> {
        self.clusters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Prometheus text of the progress.
    pub fn render_metrics(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let snapshot = self.snapshot();
        let gauge = |out: &mut String, name: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        };
        gauge(
            &mut out,
            "pedia_synchro_cluster_healthy",
            "1 when the cluster answers health checks.",
        );
        for (cluster, (health, _)) in &snapshot {
            let _ = writeln!(
                out,
                "pedia_synchro_cluster_healthy{{cluster=\"{cluster}\"}} {}",
                u8::from(health.healthy)
            );
        }
        for (name, help, get) in [
            (
                "pedia_synchro_objects_received",
                "Objects received from the cluster.",
                (|p: &ResourceProgress| p.received.load(Ordering::Relaxed))
                    as fn(&ResourceProgress) -> u64,
            ),
            (
                "pedia_synchro_objects_synced",
                "Objects stored or found unchanged.",
                |p| p.synced.load(Ordering::Relaxed),
            ),
            (
                "pedia_synchro_objects_listed",
                "Objects returned by the last initial list.",
                |p| p.listed.load(Ordering::Relaxed),
            ),
            (
                "pedia_synchro_storage_writes",
                "Objects written to or deleted from storage.",
                |p| p.written.load(Ordering::Relaxed),
            ),
            (
                "pedia_synchro_initial_sync_done",
                "1 once the initial list of the resource is stored.",
                |p| u64::from(p.initial_done.load(Ordering::Relaxed)),
            ),
        ] {
            gauge(&mut out, name, help);
            for (_, resources) in snapshot.values() {
                for p in resources {
                    let _ = writeln!(
                        out,
                        "{name}{{cluster=\"{}\",resource=\"{}\"}} {}",
                        p.cluster,
                        p.resource,
                        get(p)
                    );
                }
            }
        }
        out
    }
}
