//! The update loop: a steady stream of the changes a live cluster makes — labels and
//! annotations patched the way kubectl does, statuses rewritten the way the kubelet and
//! the controllers do — at a fixed rate on the objects of the load generator's kinds, each
//! bumping the resourceVersion. It runs on its own thread (the store is synchronous), so
//! it needs no runtime and keeps going while the server is stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::load::CUSTOM_RESOURCE;
use crate::patch::PatchType;
use crate::rng::Rng;
use crate::store::{Store, WriteOptions, now_rfc3339};

/// The kinds the loop changes.
const TARGETS: &[&str] = &[
    "pods",
    "deployments.apps",
    "replicasets.apps",
    "configmaps",
    "services",
    "secrets",
    CUSTOM_RESOURCE,
];

/// How often the loop re-reads which objects exist.
const REFRESH: Duration = Duration::from_secs(1);

/// A running update loop; stops when dropped.
#[derive(Debug)]
pub(crate) struct Updates {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

struct Target {
    resource: &'static str,
    namespace: Option<String>,
    name: String,
}

struct Worker {
    store: Store,
    rng: Rng,
    targets: Vec<Target>,
    refreshed: Option<Instant>,
    tick: u64,
}

impl Worker {
    fn refresh(&mut self) {
        self.targets.clear();
        for resource in TARGETS {
            let Ok(objects) = self.store.list(resource, None) else {
                continue;
            };
            for o in objects {
                self.targets.push(Target {
                    resource,
                    namespace: o
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    name: o
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                });
            }
        }
        self.refreshed = Some(Instant::now());
    }

    /// Makes one change; `false` when there was nothing to change.
    fn step(&mut self) -> bool {
        if self.refreshed.is_none_or(|r| r.elapsed() >= REFRESH) {
            self.refresh();
        }
        if self.targets.is_empty() {
            return false;
        }
        self.tick += 1;
        let i = self.rng.index(self.targets.len());
        let t = &self.targets[i];
        let ns = t.namespace.as_deref();
        let status_kind = matches!(t.resource, "pods" | "deployments.apps" | CUSTOM_RESOURCE);
        let result = match self.rng.below(3) {
            0 => self.store.patch_with(
                t.resource,
                ns,
                &t.name,
                PatchType::Merge,
                &json!({"metadata": {"labels": {"kube-sim.io/tick": self.tick.to_string()}}}),
                false,
                &WriteOptions::manager("kubectl-label"),
            ),
            2 if status_kind => self.status(i),
            _ => self.store.patch_with(
                t.resource,
                ns,
                &t.name,
                PatchType::Merge,
                &json!({"metadata": {"annotations": {"kube-sim.io/updated-at": now_rfc3339(), "kube-sim.io/tick": self.tick.to_string()}}}),
                false,
                &WriteOptions::manager("kubectl-annotate"),
            ),
        };
        if let Err(e) = result
            && e.code == 404
        {
            // Deleted meanwhile: look again next time.
            self.refreshed = None;
        }
        true
    }

    /// A controller-style status rewrite: read, change, write back with the
    /// resourceVersion read (a conflict with another writer just skips this one).
    fn status(&mut self, i: usize) -> Result<Value, crate::StatusError> {
        let t = &self.targets[i];
        let mut obj = self
            .store
            .get(t.resource, t.namespace.as_deref(), &t.name)?;
        let now = now_rfc3339();
        let manager = match t.resource {
            "pods" => {
                // Only running pods restart; a Pending, Succeeded or Failed pod keeps its
                // phase (the simulator runs no scheduler or kubelet to move it).
                let settled = obj
                    .pointer("/status/phase")
                    .and_then(Value::as_str)
                    .is_some_and(|p| p != "Running");
                if settled {
                    // The status is written back unchanged.
                } else if let Some(Value::Array(cs)) = obj.pointer_mut("/status/containerStatuses")
                    && let Some(c) = cs.first_mut()
                {
                    let restarts = c["restartCount"].as_i64().unwrap_or(0);
                    c["restartCount"] = json!(restarts + 1);
                    c["lastState"] = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": now, "finishedAt": now}});
                    c["state"] = json!({"running": {"startedAt": now}});
                } else {
                    obj["status"]["phase"] = json!("Running");
                }
                "kubelet"
            }
            "deployments.apps" => {
                obj["status"]["observedGeneration"] = obj["metadata"]["generation"].clone();
                if let Some(Value::Array(cs)) = obj.pointer_mut("/status/conditions") {
                    for c in cs {
                        c["lastUpdateTime"] = json!(now);
                    }
                }
                "kube-controller-manager"
            }
            _ => {
                obj["status"]["lastScheduleTime"] = json!(now);
                "crontab-controller"
            }
        };
        self.store
            .update_status_with(obj, &WriteOptions::manager(manager))
    }
}

impl Updates {
    /// Starts changing objects of `store` at `per_second` changes per second.
    pub(crate) fn start(store: Store, per_second: f64, seed: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let interval = Duration::from_secs_f64(1.0 / per_second.max(0.001));
        let mut worker = Worker {
            store,
            rng: Rng::new(seed),
            targets: Vec::new(),
            refreshed: None,
            tick: 0,
        };
        let (stop_flag, done_count) = (Arc::clone(&stop), Arc::clone(&done));
        let thread = std::thread::Builder::new()
            .name("kube-sim-updates".into())
            .spawn(move || {
                let mut next = Instant::now();
                while !stop_flag.load(Ordering::Relaxed) {
                    let now = Instant::now();
                    if now < next {
                        // Short sleeps, so stopping is prompt at low rates too.
                        std::thread::sleep((next - now).min(Duration::from_millis(50)));
                        continue;
                    }
                    if worker.step() {
                        done_count.fetch_add(1, Ordering::Relaxed);
                    }
                    next += interval;
                    // After a stall, carry on at the rate instead of bursting to catch up.
                    if now.saturating_duration_since(next) > Duration::from_secs(1) {
                        next = now;
                    }
                }
            })
            .ok();
        if thread.is_none() {
            tracing::error!("cannot start the update loop thread");
        }
        Self { stop, done, thread }
    }

    /// Updates made so far.
    pub(crate) fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Stops the loop and waits for it.
    pub(crate) fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Updates {
    fn drop(&mut self) {
        self.halt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{LoadSpec, load};

    #[test]
    fn changes_objects_at_the_rate() {
        let store = Store::new(100_000);
        load(
            &store,
            &LoadSpec::parse("pods=20,deployments=2,configmaps=2,crontabs=2").expect("spec"),
        )
        .expect("load");
        let before = store.revision();
        let updates = Updates::start(store.clone(), 200.0, 3);
        std::thread::sleep(Duration::from_millis(500));
        updates.stop();
        let made = store.revision() - before;
        assert!(
            (40..=150).contains(&made),
            "{made} updates in 0.5 s at 200/s"
        );
    }
}
