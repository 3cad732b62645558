//! Host mode: PediaCluster objects live in a (simulated) host cluster. Two managers elect a
//! leader with a Lease; only the leader syncs, and when it dies the other takes over.
//! Credentials come from Secrets (`authenticationFrom`) and from an embedded kubeconfig;
//! status is written back to the host; another shard's cluster is left alone; deleting a
//! PediaCluster removes its objects.

mod common;

use common::pods_and_configmaps;
use pedia_testkit::converge::wait_converged;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use clustersynchro_manager::{ManagerOptions, RunningManager};
use kube_sim::{KubeSim, LoadSpec, SimConfig};
use pedia_storage::StorageFactory;
use serde_json::{Value, json};

const NS: &str = "clusterpedia-system";
const LEASE: &str = "clusterpedia-clustersynchro-manager";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn sync_resources() -> Value {
    json!([{"group": "", "resources": ["pods", "configmaps"]}])
}

fn create_all(sim: &KubeSim, yaml: &str) {
    for doc in
        synchro_writer::files::parse_objects(yaml, Path::new("fixture.yaml")).expect("fixture")
    {
        sim.store().create(doc).expect("create");
    }
}

fn member(name: &str) -> KubeSim {
    let sim = KubeSim::start(SimConfig::named(name)).expect("simulator");
    sim.load(&LoadSpec::parse("pods=60,configmaps=25,seed=3").expect("spec"))
        .expect("load");
    sim
}

fn manager_options(host_kubeconfig: &Path) -> ManagerOptions {
    ManagerOptions::from_flags([
        "--kubeconfig",
        host_kubeconfig.to_str().expect("utf-8"),
        "--metrics-bind-address",
        "",
        "--leader-elect-lease-duration",
        "2s",
        "--leader-elect-renew-interval",
        "300ms",
        "--leader-elect-retry-period",
        "200ms",
    ])
    .expect("flags")
}

fn syncing(m: &RunningManager) -> bool {
    !m.progress.snapshot().is_empty()
}

async fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn lease_holder(host: &KubeSim) -> Option<String> {
    host.store()
        .get("leases.coordination.k8s.io", Some(NS), LEASE)
        .ok()
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_syncs_host_clusters_and_fails_over() {
    let work = tempfile::tempdir().expect("dir");
    let host = KubeSim::start(SimConfig::named("host")).expect("host");
    // The CRDs the Helm charts install, generated from the Rust types (`cargo xtask crds`).
    create_all(
        &host,
        include_str!(
            "../../../charts/clusterpedia-core/crds/cluster.clusterpedia.io_pediaclusters.yaml"
        ),
    );
    create_all(
        &host,
        include_str!(
            "../../../charts/clusterpedia-core/crds/cluster.clusterpedia.io_clustersyncresources.yaml"
        ),
    );
    host.store()
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
        .expect("namespace");
    let host_kubeconfig = work.path().join("host.kubeconfig");
    host.write_kubeconfig(&host_kubeconfig).expect("kubeconfig");

    let m1 = member("m1");
    let m2 = member("m2");
    // m1's credentials come from a Secret, m2's from an embedded kubeconfig.
    host.store()
        .create(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "m1-credentials", "namespace": NS},
            "data": {"token": b64(m1.token().expect("token")), "ca": b64(m1.ca_pem())}
        }))
        .expect("secret");
    let pediacluster = |name: &str, spec: Value| json!({"apiVersion": "cluster.clusterpedia.io/v1alpha2", "kind": "PediaCluster", "metadata": {"name": name}, "spec": spec});
    host.store()
        .create(pediacluster(
            "m1",
            json!({
                "apiserver": m1.url(),
                "authenticationFrom": {"token": {"name": "m1-credentials", "key": "token"}, "ca": {"name": "m1-credentials", "key": "ca"}},
                "syncResources": sync_resources()
            }),
        ))
        .expect("m1");
    host.store()
        .create(pediacluster(
            "m2",
            json!({"kubeconfig": b64(&m2.kubeconfig()), "syncResources": sync_resources()}),
        ))
        .expect("m2");
    host.store()
        .create(pediacluster(
            "m3",
            json!({"apiserver": m1.url(), "tokenData": b64(m1.token().expect("token")), "shardingName": "another-shard", "syncResources": sync_resources()}),
        ))
        .expect("m3");

    let storage: Arc<dyn StorageFactory> = {
        let cfg = storage_internal::InternalStorageConfig::from_yaml(&format!(
            "type: sqlite\ndsn: {}\n",
            work.path().join("pedia.db").display()
        ))
        .expect("config");
        Arc::new(
            storage_internal::InternalStorage::connect(&cfg)
                .await
                .expect("storage"),
        )
    };
    let a = clustersynchro_manager::start(&manager_options(&host_kubeconfig), Arc::clone(&storage))
        .await
        .expect("a");
    let b = clustersynchro_manager::start(&manager_options(&host_kubeconfig), Arc::clone(&storage))
        .await
        .expect("b");

    // Exactly one leads and syncs.
    eventually("a leader syncs", Duration::from_secs(30), || {
        syncing(&a) || syncing(&b)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(syncing(&a) != syncing(&b), "exactly one manager syncs");
    let first_holder = lease_holder(&host).expect("the lease has a holder");
    for (m, sim) in [("m1", &m1), ("m2", &m2)] {
        wait_converged(
            &storage,
            m,
            sim,
            &pods_and_configmaps(),
            Duration::from_secs(60),
        )
        .await;
    }
    let stored = storage.stored_resources().await.expect("stored");
    assert!(
        stored.iter().all(|s| !s.clusters.iter().any(|c| c == "m3")),
        "another shard's cluster is not synced"
    );

    // Status written back to the host cluster.
    eventually(
        "m1's status is written back",
        Duration::from_secs(30),
        || {
            host.store()
                .get("pediaclusters.cluster.clusterpedia.io", None, "m1")
                .ok()
                .and_then(|c| {
                    c["status"]["conditions"]
                        .as_array()?
                        .iter()
                        .find(|c| c["type"] == "Ready")
                        .map(|c| c["status"] == "True")
                })
                .unwrap_or(false)
        },
    )
    .await;

    // The leader dies; the other takes over and keeps syncing.
    let (leader, follower) = if syncing(&a) { (a, b) } else { (b, a) };
    leader.task.abort();
    eventually("the follower takes over", Duration::from_secs(30), || {
        syncing(&follower)
    })
    .await;
    assert_ne!(
        lease_holder(&host).as_deref(),
        Some(first_holder.as_str()),
        "the lease changed hands"
    );
    m1.store()
        .create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after-failover", "namespace": "default"}, "data": {"k": "v"}}))
        .expect("create");
    wait_converged(
        &storage,
        "m1",
        &m1,
        &pods_and_configmaps(),
        Duration::from_secs(60),
    )
    .await;

    // Deleting a PediaCluster removes its objects.
    host.store()
        .delete("pediaclusters.cluster.clusterpedia.io", None, "m2")
        .expect("delete m2");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stored = storage.stored_resources().await.expect("stored");
        if stored.iter().all(|s| !s.clusters.iter().any(|c| c == "m2")) {
            break;
        }
        assert!(Instant::now() < deadline, "m2's objects remain: {stored:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    follower.task.abort();
    let _ = storage.shutdown().await;
}
