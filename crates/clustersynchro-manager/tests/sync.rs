//! The synchro manager end to end: two simulated clusters of 5,000 objects each (pods,
//! deployments, replicasets, configmaps, a custom resource) synced into SQLite and into
//! PostgreSQL; changes made with real kubectl show up through the apiserver; a restart
//! rewrites nothing; an outage and a forced `410 Gone` converge; removing a PediaCluster
//! removes its objects. After every step a comparer checks storage against the
//! simulators, object by object. A cluster re-created under the same name (new uids,
//! lower versions) replaces its objects in persistent storage, as kubectl sees it.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clustersynchro_manager::{ManagerOptions, RunningManager};
use common::{pods_and_configmaps, write_cluster};
use kube_sim::{KubeSim, LoadSpec, SimConfig};
use pedia_core::{GroupVersionResource, ResourceType};
use pedia_storage::StorageFactory;
use pedia_testkit::converge::wait_converged;
use pedia_testkit::databases::PgSchema;
use pedia_testkit::kubectl::kubectl;
use serde_json::{Value, json};

const CONVERGE: Duration = Duration::from_secs(90);

fn rt(group: &str, version: &str, resource: &str, kind: &str) -> ResourceType {
    ResourceType::new(
        GroupVersionResource::new(group, version, resource),
        kind,
        true,
    )
}

fn synced() -> Vec<ResourceType> {
    vec![
        rt("", "v1", "pods", "Pod"),
        rt("", "v1", "configmaps", "ConfigMap"),
        rt("apps", "v1", "deployments", "Deployment"),
        rt("apps", "v1", "replicasets", "ReplicaSet"),
        rt("stable.example.com", "v1", "crontabs", "CronTab"),
    ]
}

/// A PediaCluster manifest for a simulator (apiserver + token + CA, as users write them).
fn pediacluster(sim: &KubeSim) -> String {
    sim.pediacluster(
        "  syncResourcesRefName: workloads
  syncResources:
  - group: \"\"
    resources: [pods, configmaps]
  - group: stable.example.com
    resources: [\"*\"]
",
    )
}

const SYNC_RESOURCES: &str = "apiVersion: cluster.clusterpedia.io/v1alpha2\nkind: ClusterSyncResources\nmetadata:\n  name: workloads\nspec:\n  syncResources:\n  - group: apps\n    resources: [deployments, replicasets]\n";

struct World {
    sims: Vec<KubeSim>,
    clusters_dir: tempfile::TempDir,
    storage: Arc<dyn StorageFactory>,
    manager: Option<RunningManager>,
}

impl World {
    async fn new(storage: Arc<dyn StorageFactory>) -> World {
        let mut sims = Vec::new();
        for name in ["c1", "c2"] {
            let sim = KubeSim::start(SimConfig::named(name)).expect("simulator");
            let spec = LoadSpec::parse(
                "pods=2500,deployments=350,replicasets=350,configmaps=1500,crontabs=300,seed=7",
            )
            .expect("load spec");
            let report = sim.load(&spec).expect("load");
            let total: usize = report.created.values().sum();
            assert!(total >= 5000, "{name} holds {total} objects");
            sims.push(sim);
        }
        let clusters_dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            clusters_dir.path().join("sync-resources.yaml"),
            SYNC_RESOURCES,
        )
        .expect("write");
        for sim in &sims {
            std::fs::write(
                clusters_dir.path().join(format!("{}.yaml", sim.name())),
                pediacluster(sim),
            )
            .expect("write");
        }
        let mut world = World {
            sims,
            clusters_dir,
            storage,
            manager: None,
        };
        world.start_manager().await;
        world
    }

    async fn start_manager(&mut self) {
        let mut options = ManagerOptions::standalone(self.clusters_dir.path());
        options.metrics_bind_address = "127.0.0.1:0".to_owned();
        self.manager = Some(
            clustersynchro_manager::start(&options, Arc::clone(&self.storage))
                .await
                .expect("manager"),
        );
    }

    fn stop_manager(&mut self) {
        if let Some(m) = self.manager.take() {
            m.task.abort();
        }
    }

    fn manager(&self) -> &RunningManager {
        self.manager.as_ref().expect("manager running")
    }

    /// Waits until every resource of every cluster finished its initial sync.
    async fn wait_initial_sync(&self) {
        let deadline = Instant::now() + CONVERGE;
        loop {
            let snapshot = self.manager().progress.snapshot();
            let done = snapshot.len() == self.sims.len()
                && snapshot.values().all(|(_, rs)| {
                    rs.len() == synced().len()
                        && rs.iter().all(|r| r.initial_done.load(Ordering::Relaxed))
                });
            if done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "initial sync did not finish: {snapshot:#?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn writes(&self) -> u64 {
        self.manager()
            .progress
            .snapshot()
            .values()
            .flat_map(|(_, rs)| rs.iter().map(|r| r.written.load(Ordering::Relaxed)))
            .sum()
    }

    async fn converge(&self) {
        for sim in &self.sims {
            wait_converged(&self.storage, sim.name(), sim, &synced(), CONVERGE).await;
        }
    }
}

/// The apiserver over a storage layer, and a kubeconfig for kubectl to search through it.
struct SearchApi {
    _server: apiserver::RunningServer,
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl SearchApi {
    async fn start(storage: &Arc<dyn StorageFactory>, dir: &Path) -> SearchApi {
        std::fs::write(dir.join("tokens.csv"), "t0ken,tester,1\n").expect("tokens");
        let serving = serving_options(dir);
        let server = apiserver::start(&serving, Arc::clone(storage), std::future::pending())
            .await
            .expect("apiserver");
        let kubeconfig = dir.join("search.kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: s\n  cluster:\n    server: https://127.0.0.1:{}/apis/clusterpedia.io/v1beta1/resources\n    certificate-authority: {}\nusers:\n- name: u\n  user: {{token: t0ken}}\ncontexts:\n- name: s\n  context: {{cluster: s, user: u}}\ncurrent-context: s\n",
                server.addr.port(),
                dir.join("certs/apiserver.crt").display()
            ),
        )
        .expect("kubeconfig");
        SearchApi {
            _server: server,
            kubeconfig,
            cache: dir.join("search-cache"),
        }
    }
}

fn kubectl_to(sim: &KubeSim, dir: &Path, args: &[&str]) -> String {
    let config = dir.join(format!("{}.kubeconfig", sim.name()));
    sim.write_kubeconfig(&config).expect("kubeconfig");
    let out = Command::new(kubectl(33))
        .arg("--kubeconfig")
        .arg(&config)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(args)
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Lists pods through the apiserver's search API as kubectl does.
fn search_pods(kubeconfig: &Path, cache: &Path, selector: &str) -> String {
    let out = Command::new(kubectl(33))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache)
        .args(["get", "pods", "-A", "-l", selector])
        .output()
        .expect("kubectl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn scenario(storage: Arc<dyn StorageFactory>) {
    let mut world = World::new(Arc::clone(&storage)).await;
    world.wait_initial_sync().await;
    world.converge().await;

    // The apiserver over the same storage; real kubectl against simulator and search API.
    let work = tempfile::tempdir().expect("dir");
    let search = SearchApi::start(&storage, work.path()).await;
    let (kubeconfig, cache) = (search.kubeconfig.clone(), search.cache.clone());

    // kubectl apply, label, delete on cluster c1, seen through the apiserver within seconds.
    let manifest = work.path().join("e2e-pod.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: e2e-probe\n  namespace: default\n  labels: {probe: e2e}\nspec:\n  containers: [{name: c, image: busybox}]\n",
    )
    .expect("manifest");
    let c1 = &world.sims[0];
    kubectl_to(
        c1,
        work.path(),
        &["apply", "-f", manifest.to_str().expect("utf-8")],
    );
    eventually("the applied pod is searchable", || {
        search_pods(&kubeconfig, &cache, "probe=e2e").contains("e2e-probe")
    })
    .await;
    kubectl_to(
        c1,
        work.path(),
        &["label", "pod", "-n", "default", "e2e-probe", "stage=two"],
    );
    eventually("the label change is searchable", || {
        search_pods(&kubeconfig, &cache, "stage=two").contains("e2e-probe")
    })
    .await;
    kubectl_to(
        c1,
        work.path(),
        &["delete", "pod", "-n", "default", "e2e-probe"],
    );
    eventually("the deleted pod is gone", || {
        !search_pods(&kubeconfig, &cache, "probe=e2e").contains("e2e-probe")
    })
    .await;
    world.converge().await;

    // The published cluster status.
    let out = Command::new(kubectl(33))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--cache-dir")
        .arg(&cache)
        .args(["get", "pediaclusters"])
        .output()
        .expect("kubectl");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("READY") && table.contains("APISERVER"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .filter(|l| l.starts_with("c1") || l.starts_with("c2"))
            .all(|l| l.contains("True")),
        "{table}"
    );

    // A restart rewrites nothing that did not change.
    world.stop_manager();
    world.start_manager().await;
    world.wait_initial_sync().await;
    assert_eq!(
        world.writes(),
        0,
        "a restart must not rewrite unchanged objects"
    );
    world.converge().await;

    // An outage: the cluster stops answering, changes happen, it comes back.
    let c2 = &world.sims[1];
    c2.faults().stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    mutate(c2, "outage");
    c2.faults().resume().expect("resume");
    world.converge().await;

    // A forced 410 Gone: the history the watches would resume from is compacted.
    c2.faults().stop();
    mutate(c2, "compacted");
    c2.faults().compact();
    c2.faults().resume().expect("resume");
    world.converge().await;

    // Removing a PediaCluster removes its objects.
    std::fs::remove_file(world.clusters_dir.path().join("c2.yaml")).expect("remove");
    let deadline = Instant::now() + CONVERGE;
    loop {
        let stored = storage.stored_resources().await.expect("stored");
        if stored.iter().all(|s| !s.clusters.iter().any(|c| c == "c2")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "c2's objects were not removed: {stored:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let pods = storage
        .resource_storage(&synced()[0])
        .await
        .expect("pods")
        .list(&pedia_core::ListOptions::from_query("clusters=c2").expect("query"))
        .await
        .expect("list");
    assert!(pods.items.is_empty());
    world.converge_one(0).await;

    world.stop_manager();
    drop(search);
    let _ = storage.shutdown().await;
}

impl World {
    async fn converge_one(&self, i: usize) {
        let sim = &self.sims[i];
        wait_converged(&self.storage, sim.name(), sim, &synced(), CONVERGE).await;
    }
}

/// Creates, updates and deletes objects directly in a simulator.
fn mutate(sim: &KubeSim, tag: &str) {
    let store = sim.store();
    let pods = store.list("pods", None).expect("pods");
    for (i, pod) in pods.iter().take(20).enumerate() {
        let ns = pod["metadata"]["namespace"]
            .as_str()
            .expect("ns")
            .to_owned();
        let name = pod["metadata"]["name"].as_str().expect("name").to_owned();
        if i % 2 == 0 {
            store.delete("pods", Some(&ns), &name).expect("delete");
        } else {
            let patch = serde_json::json!({"metadata": {"labels": {"changed": tag}}});
            store
                .patch("pods", Some(&ns), &name, kube_sim::PatchType::Merge, &patch)
                .expect("patch");
        }
    }
    let ns = pods[0]["metadata"]["namespace"].as_str().expect("ns");
    for i in 0..10 {
        let cm: Value = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("{tag}-{i}"), "namespace": ns},
            "data": {"tag": tag}
        });
        store.create(cm).expect("create");
    }
}

fn serving_options(dir: &Path) -> apiserver::ServingOptions {
    use clap::Parser;
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        serving: apiserver::ServingOptions,
    }
    let certs: PathBuf = dir.join("certs");
    let tokens = dir.join("tokens.csv");
    Flags::parse_from([
        "apiserver",
        "--bind-address",
        "127.0.0.1",
        "--secure-port",
        "0",
        "--cert-dir",
        certs.to_str().expect("utf-8"),
        "--token-auth-file",
        tokens.to_str().expect("utf-8"),
    ])
    .serving
}

/// `namespace/name` -> uid of every pod and configmap kubectl finds through the search
/// API in cluster `cluster`.
fn searched_uids(search: &SearchApi, cluster: &str) -> BTreeMap<String, String> {
    let out = Command::new(kubectl(33))
        .arg("--kubeconfig")
        .arg(&search.kubeconfig)
        .arg("--cache-dir")
        .arg(&search.cache)
        .args(["get", "pods,configmaps", "-A", "-o", "json"])
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "kubectl get: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).expect("kubectl prints JSON");
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|o| o["metadata"]["annotations"][pedia_core::CLUSTER_NAME_ANNOTATION] == cluster)
        .map(|o| {
            let m = &o["metadata"];
            (
                format!(
                    "{}/{}/{}",
                    o["kind"].as_str().unwrap_or_default(),
                    m["namespace"].as_str().unwrap_or_default(),
                    m["name"].as_str().unwrap_or_default()
                ),
                m["uid"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// `Kind/namespace/name` -> uid of the simulator's pods and configmaps.
fn sim_uids(sim: &KubeSim) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (resource, kind) in [("pods", "Pod"), ("configmaps", "ConfigMap")] {
        for o in sim.store().list(resource, None).expect("list") {
            let m = &o["metadata"];
            out.insert(
                format!(
                    "{kind}/{}/{}",
                    m["namespace"].as_str().unwrap_or_default(),
                    m["name"].as_str().unwrap_or_default()
                ),
                m["uid"].as_str().unwrap_or_default().to_owned(),
            );
        }
    }
    out
}

fn max_resource_version(sim: &KubeSim) -> u64 {
    ["pods", "configmaps"]
        .iter()
        .flat_map(|r| sim.store().list(r, None).expect("list"))
        .filter_map(|o| o["metadata"]["resourceVersion"].as_str()?.parse().ok())
        .max()
        .expect("objects")
}

/// A member cluster with the same name, objects and labels' keys each run (the load spec's
/// seed), as a cluster re-created from its manifests would be.
fn recreated_member(label: &str) -> (KubeSim, String) {
    let sim = KubeSim::start(SimConfig::named("recreated")).expect("simulator");
    sim.load(&LoadSpec::parse("pods=40,configmaps=20,seed=11").expect("spec"))
        .expect("load");
    let pods = sim.store().list("pods", None).expect("pods");
    // Each run labels a different pod; the first run's updates push its versions higher
    // than the second run's ever get.
    let (index, updates) = if label == "first" { (0, 5) } else { (1, 1) };
    let pod = &pods[index]["metadata"];
    let (ns, name) = (
        pod["namespace"].as_str().expect("ns").to_owned(),
        pod["name"].as_str().expect("name").to_owned(),
    );
    for step in 0..updates {
        let patch = json!({"metadata": {"labels": {"run": label, "step": step.to_string()}}});
        sim.store()
            .patch("pods", Some(&ns), &name, kube_sim::PatchType::Merge, &patch)
            .expect("label");
    }
    (sim, format!("Pod/{ns}/{name}"))
}

async fn sqlite_at(path: &Path) -> Arc<dyn StorageFactory> {
    internal(&format!("type: sqlite\ndsn: {}\n", path.display())).await
}

/// A member cluster re-created under the same name (restored, rebuilt, moved to a new
/// etcd) has new uids and resourceVersions that start again from low numbers. Synced
/// into the same persistent storage, the new objects must replace the old ones: search
/// serves the new uids and labels, and nothing of the previous cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recreated_cluster_replaces_its_stored_objects() {
    let work = tempfile::tempdir().expect("dir");
    let db = work.path().join("pedia.db");
    let clusters = work.path().join("clusters");
    std::fs::create_dir(&clusters).expect("dir");
    let options = ManagerOptions::standalone(&clusters);

    // First life of the cluster: synced, then everything stops.
    let (first, first_labelled) = recreated_member("first");
    let old = sim_uids(&first);
    let old_max_rv = max_resource_version(&first);
    write_cluster(&clusters, &first);
    let storage = sqlite_at(&db).await;
    let manager = clustersynchro_manager::start(&options, Arc::clone(&storage))
        .await
        .expect("manager");
    wait_converged(
        &storage,
        "recreated",
        &first,
        &pods_and_configmaps(),
        CONVERGE,
    )
    .await;
    manager.task.abort();
    let _ = manager.task.await;
    let _ = storage.shutdown().await;
    drop(storage);
    drop(first);

    // Second life: same names, new uids, lower versions, another pod labelled.
    let (second, second_labelled) = recreated_member("second");
    let new = sim_uids(&second);
    assert_eq!(
        old.keys().collect::<Vec<_>>(),
        new.keys().collect::<Vec<_>>(),
        "the re-created cluster has the same objects"
    );
    assert!(
        old.iter().all(|(k, uid)| new[k] != *uid),
        "every object has a new uid"
    );
    assert!(
        max_resource_version(&second) < old_max_rv,
        "the re-created cluster's versions are lower"
    );
    write_cluster(&clusters, &second);
    let storage = sqlite_at(&db).await;
    let manager = clustersynchro_manager::start(&options, Arc::clone(&storage))
        .await
        .expect("manager");
    let search = SearchApi::start(&storage, work.path()).await;

    let deadline = Instant::now() + CONVERGE;
    loop {
        let served = searched_uids(&search, "recreated");
        if served == new {
            break;
        }
        let stale: Vec<&String> = served
            .iter()
            .filter(|(k, uid)| old.get(*k) == Some(*uid))
            .map(|(k, _)| k)
            .collect();
        assert!(
            Instant::now() < deadline,
            "search does not serve the re-created cluster: {} of {} objects still have \
             the old uid (e.g. {:?}); {} served, {} expected",
            stale.len(),
            new.len(),
            stale.iter().take(5).collect::<Vec<_>>(),
            served.len(),
            new.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let old_uids: std::collections::BTreeSet<&String> = old.values().collect();
    assert!(
        searched_uids(&search, "recreated")
            .values()
            .all(|uid| !old_uids.contains(uid)),
        "no uid of the previous cluster is served"
    );
    let labelled = |selector: &str| -> Vec<String> {
        let out = Command::new(kubectl(33))
            .arg("--kubeconfig")
            .arg(&search.kubeconfig)
            .arg("--cache-dir")
            .arg(&search.cache)
            .args(["get", "pods", "-A", "-l", selector, "-o", "json"])
            .output()
            .expect("kubectl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let list: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|o| {
                format!(
                    "Pod/{}/{} {}",
                    o["metadata"]["namespace"].as_str().unwrap_or_default(),
                    o["metadata"]["name"].as_str().unwrap_or_default(),
                    o["metadata"]["uid"].as_str().unwrap_or_default()
                )
            })
            .collect()
    };
    assert_eq!(
        labelled("run=second"),
        vec![format!("{second_labelled} {}", new[&second_labelled])],
        "the label of the second run is served, on the new object"
    );
    assert_eq!(
        labelled("run=first"),
        Vec::<String>::new(),
        "the label of the first run ({first_labelled}) is gone"
    );
    wait_converged(
        &storage,
        "recreated",
        &second,
        &pods_and_configmaps(),
        CONVERGE,
    )
    .await;

    manager.task.abort();
    drop(search);
    let _ = storage.shutdown().await;
}

async fn internal(config: &str) -> Arc<dyn StorageFactory> {
    let cfg = storage_internal::InternalStorageConfig::from_yaml(config).expect("config");
    Arc::new(
        storage_internal::InternalStorage::connect(&cfg)
            .await
            .expect("connect"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn syncs_into_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let storage = internal(&format!(
        "type: sqlite\ndsn: {}\n",
        dir.path().join("pedia.db").display()
    ))
    .await;
    scenario(storage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn syncs_into_postgres() {
    let schema = PgSchema::create("pedia_sync").await;
    let storage = internal(&format!(
        "type: postgres\ndsn: {}\nparams:\n  search_path: {}\n",
        schema.url, schema.schema
    ))
    .await;
    scenario(storage).await;
    schema.drop_schema().await;
}
