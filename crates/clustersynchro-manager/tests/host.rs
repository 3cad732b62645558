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
use pedia_storage::{Fence, StorageFactory, WriteOp};
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

/// A host cluster with the PediaCluster CRDs and the manager's namespace, and its
/// kubeconfig in `dir`.
fn host_cluster(dir: &Path) -> (KubeSim, std::path::PathBuf) {
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
    let host_kubeconfig = dir.join("host.kubeconfig");
    host.write_kubeconfig(&host_kubeconfig).expect("kubeconfig");
    (host, host_kubeconfig)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_syncs_host_clusters_and_fails_over() {
    let work = tempfile::tempdir().expect("dir");
    let (host, host_kubeconfig) = host_cluster(work.path());

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

/// The error of a cluster's configmaps synchro, if it has one.
fn configmaps_error(m: &RunningManager, cluster: &str) -> Option<String> {
    m.progress
        .snapshot()
        .get(cluster)?
        .1
        .iter()
        .find(|r| r.resource == "configmaps")?
        .error()
}

/// Storage fences writers by the leader's epoch: while another manager's epoch is the
/// highest that wrote a cluster, a leader with a lower one is refused and stops syncing
/// that cluster instead of overwriting its successor's writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_fenced_out_by_a_later_epoch_stops_syncing_the_cluster() {
    let work = tempfile::tempdir().expect("dir");
    let (host, host_kubeconfig) = host_cluster(work.path());
    let m1 = member("m1");
    host.store()
        .create(json!({"apiVersion": "cluster.clusterpedia.io/v1alpha2", "kind": "PediaCluster", "metadata": {"name": "m1"}, "spec": {"kubeconfig": b64(&m1.kubeconfig()), "syncResources": sync_resources()}}))
        .expect("m1");
    let storage: Arc<dyn StorageFactory> = Arc::new(storage_memory::MemoryStorage::default());
    let manager =
        clustersynchro_manager::start(&manager_options(&host_kubeconfig), Arc::clone(&storage))
            .await
            .expect("manager");
    wait_converged(
        &storage,
        "m1",
        &m1,
        &pods_and_configmaps(),
        Duration::from_secs(60),
    )
    .await;

    // The manager writes with the epoch of the lease it holds.
    let lease: k8s_openapi::api::coordination::v1::Lease = serde_json::from_value(
        host.store()
            .get("leases.coordination.k8s.io", Some(NS), LEASE)
            .expect("lease"),
    )
    .expect("a Lease");
    let epoch = clustersynchro_manager::leader::lease_epoch(&lease);
    let configmaps = storage
        .resource_storage(&pods_and_configmaps()[1])
        .await
        .expect("configmaps");
    // A batch that changes nothing but records its writer's epoch.
    let mark = |epoch: u64| {
        let configmaps = Arc::clone(&configmaps);
        async move {
            configmaps
                .apply_batch(
                    "m1",
                    Fence::Epoch(epoch),
                    vec![WriteOp::delete("none", "none")],
                )
                .await
                .expect("a later writer's batch")
        }
    };
    mark(epoch).await;
    let create = |name: &str| {
        m1.store()
            .create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"k": "v"}}))
            .expect("create");
    };
    create("same-epoch");
    wait_converged(
        &storage,
        "m1",
        &m1,
        &pods_and_configmaps(),
        Duration::from_secs(60),
    )
    .await;

    // A successor wrote the cluster: this manager's next write is refused.
    mark(epoch + 1).await;
    create("after-the-successor");
    eventually(
        "the manager reports it is fenced out",
        Duration::from_secs(30),
        || configmaps_error(&manager, "m1").is_some(),
    )
    .await;
    let error = configmaps_error(&manager, "m1").expect("error");
    assert_eq!(
        error,
        format!(
            "storage: another manager (epoch {}) now writes cluster \"m1\"; this writer's epoch {epoch} is older",
            epoch + 1
        )
    );
    eventually(
        "the cluster's health names the cause",
        Duration::from_secs(30),
        || {
            manager
                .progress
                .snapshot()
                .get("m1")
                .is_some_and(|(h, _)| h.message == error)
        },
    )
    .await;
    let stored = configmaps
        .get("m1", "default", "after-the-successor")
        .await
        .expect_err("the refused write stored nothing");
    assert_eq!(stored.kind(), pedia_storage::ErrorKind::NotFound);
    manager.task.abort();
}
