//! The comparer: does storage hold exactly a simulated cluster's objects, object by object,
//! as the synchro manager would have written them (pruned, with the cluster annotation)?

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube_sim::KubeSim;
use pedia_core::{ListOptions, ResourceType};
use pedia_storage::{StorageFactory, object_key};
use serde_json::{Value, json};
use synchro_writer::{Pruning, prepare};

fn key(v: &Value) -> String {
    object_key(
        v["metadata"]["namespace"].as_str().unwrap_or(""),
        v["metadata"]["name"].as_str().unwrap_or(""),
    )
}

/// The simulator's name of a resource: `pods`, `deployments.apps`.
fn sim_name(rt: &ResourceType) -> String {
    if rt.gvr.group.is_empty() {
        rt.gvr.resource.clone()
    } else {
        format!("{}.{}", rt.gvr.resource, rt.gvr.group)
    }
}

/// Every difference between `cluster`'s stored objects of `resources` and the simulator's:
/// missing, unexpected, or different objects. Empty when they agree.
pub async fn differences(
    storage: &Arc<dyn StorageFactory>,
    cluster: &str,
    sim: &KubeSim,
    resources: &[ResourceType],
) -> Vec<String> {
    let mut out = Vec::new();
    for rt in resources {
        let expected: BTreeMap<String, Value> = match sim.store().list(&sim_name(rt), None) {
            Ok(items) => items
                .into_iter()
                .filter_map(|mut v| {
                    v["apiVersion"] = json!(rt.gvr.api_version());
                    v["kind"] = json!(rt.kind);
                    let object = prepare(v, cluster, Pruning::default()).ok()?;
                    let value: Value = serde_json::from_slice(&object.raw).ok()?;
                    Some((key(&value), value))
                })
                .collect(),
            Err(err) => {
                out.push(format!("{}: the simulator cannot list it: {err:?}", rt.gvr));
                continue;
            }
        };
        let opts = ListOptions {
            clusters: vec![cluster.to_owned()],
            ..ListOptions::default()
        };
        let stored: BTreeMap<String, Value> = match storage.resource_storage(rt).await {
            Ok(s) => match s.list(&opts).await {
                Ok(page) => page
                    .items
                    .iter()
                    .filter_map(|raw| serde_json::from_slice::<Value>(raw).ok())
                    .map(|v| (key(&v), v))
                    .collect(),
                Err(err) => {
                    out.push(format!(
                        "{}: storage cannot list it: {}",
                        rt.gvr,
                        err.detail()
                    ));
                    continue;
                }
            },
            Err(err) => {
                out.push(format!("{}: {}", rt.gvr, err.detail()));
                continue;
            }
        };
        for (k, v) in &expected {
            match stored.get(k) {
                None => out.push(format!(
                    "{cluster} {}: {k} is missing from storage",
                    rt.gvr.resource
                )),
                Some(s) if s != v => out.push(format!(
                    "{cluster} {}: {k} differs (stored resourceVersion {}, cluster {})",
                    rt.gvr.resource,
                    s["metadata"]["resourceVersion"],
                    v["metadata"]["resourceVersion"]
                )),
                Some(_) => {}
            }
        }
        for k in stored.keys().filter(|k| !expected.contains_key(*k)) {
            out.push(format!(
                "{cluster} {}: {k} is stored but not in the cluster",
                rt.gvr.resource
            ));
        }
    }
    out
}

/// Waits until [`differences`] is empty; panics with the remaining differences after
/// `timeout`.
pub async fn wait_converged(
    storage: &Arc<dyn StorageFactory>,
    cluster: &str,
    sim: &KubeSim,
    resources: &[ResourceType],
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    loop {
        let diffs = differences(storage, cluster, sim, resources).await;
        if diffs.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            let shown: Vec<&String> = diffs.iter().take(10).collect();
            panic!(
                "{cluster} did not converge in {timeout:?}: {} differences, e.g. {shown:#?}",
                diffs.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
