//! Faults the synchro manager must survive without losing stored objects, converging to the
//! clusters' state once the fault clears: the database restarting during a sync, the
//! database unreachable at start-up, a storage plugin whose calls fail, a member cluster
//! that stops answering, answers slowly or returns garbage, and a full disk under SQLite. Each case checks that the fault is
//! visible (status, readiness, errors) and that the comparer finds storage equal to the
//! simulator afterwards.

mod common;

use common::{pods_and_configmaps, write_cluster};

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clustersynchro_manager::status::pediacluster_resource_type;
use clustersynchro_manager::{ManagerOptions, RunningManager};
use kube_sim::{KubeSim, LoadSpec, SimConfig};
use pedia_core::ListOptions;
use pedia_core::cluster::CONTROL_CLUSTER;
use pedia_storage::StorageFactory;
use pedia_testkit::converge::wait_converged;
use pedia_testkit::databases::PgSchema;
use pedia_testkit::proxy::TcpProxy;
use serde_json::{Value, json};

const CONVERGE: Duration = Duration::from_secs(120);

fn sim(name: &str, load: &str) -> KubeSim {
    let sim = KubeSim::start(SimConfig::named(name)).expect("simulator");
    sim.load(&LoadSpec::parse(load).expect("spec"))
        .expect("load");
    sim
}

fn options(dir: &Path) -> ManagerOptions {
    let mut o = ManagerOptions::standalone(dir);
    o.metrics_bind_address = "127.0.0.1:0".to_owned();
    o.cluster_health_interval = Duration::from_millis(500);
    o
}

async fn internal(config: &str) -> Result<Arc<dyn StorageFactory>, pedia_storage::StorageError> {
    let cfg = storage_internal::InternalStorageConfig::from_yaml(config).expect("config");
    Ok(Arc::new(
        storage_internal::InternalStorage::connect(&cfg).await?,
    ))
}

async fn eventually(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `GET /readyz` of the manager's metrics server, as a probe would.
fn ready(m: &RunningManager) -> bool {
    let addr = m.metrics_addr.expect("metrics served");
    Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
        ])
        .arg(format!("http://{addr}/readyz"))
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout) == "200")
        .unwrap_or(false)
}

fn synced_objects(m: &RunningManager) -> u64 {
    m.progress
        .snapshot()
        .values()
        .flat_map(|(_, rs)| rs.iter().map(|r| r.synced.load(Ordering::Relaxed)))
        .sum()
}

fn storage_error_reported(m: &RunningManager) -> bool {
    m.progress
        .snapshot()
        .values()
        .flat_map(|(_, rs)| rs.iter().filter_map(|r| r.error()))
        .any(|e| e.starts_with("storage"))
}

/// Changes a member cluster: deletes, updates and creates objects.
fn mutate(sim: &KubeSim, tag: &str) {
    let store = sim.store();
    let pods = store.list("pods", None).expect("pods");
    for (i, pod) in pods.iter().take(30).enumerate() {
        let ns = pod["metadata"]["namespace"]
            .as_str()
            .expect("ns")
            .to_owned();
        let name = pod["metadata"]["name"].as_str().expect("name").to_owned();
        if i % 3 == 0 {
            store.delete("pods", Some(&ns), &name).expect("delete");
        } else {
            store
                .patch(
                    "pods",
                    Some(&ns),
                    &name,
                    kube_sim::PatchType::Merge,
                    &json!({"metadata": {"labels": {"fault": tag}}}),
                )
                .expect("patch");
        }
    }
    for i in 0..15 {
        store
            .create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("{tag}-{i}"), "namespace": "default"}}))
            .expect("create");
    }
}

async fn stored_count(storage: &Arc<dyn StorageFactory>, cluster: &str) -> usize {
    let mut n = 0;
    for rt in pods_and_configmaps() {
        let opts = ListOptions::from_query(&format!("clusters={cluster}")).expect("query");
        n += storage
            .resource_storage(&rt)
            .await
            .expect("storage")
            .list(&opts)
            .await
            .map(|p| p.items.len())
            .unwrap_or(0);
    }
    n
}

/// The published status of `cluster` in storage.
async fn published_condition(
    storage: &Arc<dyn StorageFactory>,
    cluster: &str,
    condition: &str,
) -> Option<(String, String)> {
    let raw = storage
        .resource_storage(&pediacluster_resource_type())
        .await
        .ok()?
        .get(CONTROL_CLUSTER, "", cluster)
        .await
        .ok()?;
    let value: Value = serde_json::from_slice(&raw).ok()?;
    let c = value["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == condition)?;
    Some((
        c["status"].as_str()?.to_owned(),
        c["reason"].as_str()?.to_owned(),
    ))
}

/// A PostgreSQL schema reached through a proxy that can cut the connection, and its URL
/// through the proxy.
async fn proxied_schema() -> (PgSchema, TcpProxy, String) {
    let schema = PgSchema::create("pedia_faults").await;
    let upstream: std::net::SocketAddr = "127.0.0.1:5432".parse().expect("addr");
    let proxy = TcpProxy::start(upstream).await;
    let url = schema
        .url
        .replacen("127.0.0.1:5432", &proxy.addr().to_string(), 1);
    assert_ne!(url, schema.url, "the database URL goes through the proxy");
    (schema, proxy, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_restarts_during_sync() {
    let (schema, proxy, url) = proxied_schema().await;
    let storage = internal(&format!(
        "type: postgres\ndsn: {url}\nparams:\n  search_path: {}\n",
        schema.schema
    ))
    .await
    .expect("storage");
    outage_during_sync(storage, &proxy).await;
    schema.drop_schema().await;
}

/// The storage plugin's calls fail (its database behind the proxy goes away) while the
/// manager syncs through the plugin host: the errors cross the FFI boundary as storage
/// errors, are reported, and the sync converges once the plugin works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plugin_returns_errors_during_sync() {
    let (schema, proxy, url) = proxied_schema().await;
    let plugins = tempfile::tempdir().expect("dir");
    std::fs::copy(
        pedia_testkit::workspace::plugin("sample_storage"),
        plugins.path().join("libsample_storage.so"),
    )
    .expect("copy plugin");
    pedia_plugin_host::write_manifest(plugins.path()).expect("manifest");
    let mut registry = pedia_storage::Registry::new();
    pedia_plugin_host::register_dir(
        &mut registry,
        plugins.path(),
        pedia_plugin_host::Verification::Manifest,
    )
    .expect("load the sample plugin");
    let config = plugins.path().join("sample.yaml");
    std::fs::write(
        &config,
        format!("type: postgres\ndsn: {url}\nschema: {}\n", schema.schema),
    )
    .expect("config");
    let storage = registry
        .get("sample-storage-layer")
        .expect("registered")
        .open(Some(&config))
        .await
        .expect("open the plugin layer");
    outage_during_sync(storage, &proxy).await;
    schema.drop_schema().await;
}

/// Syncs a cluster into `storage`, cuts the database under it mid-sync, changes the
/// cluster, restores the database, and restarts it once more; after each fault storage must
/// converge to the cluster.
async fn outage_during_sync(storage: Arc<dyn StorageFactory>, proxy: &TcpProxy) {
    let c1 = sim("c1", "pods=3000,configmaps=800,seed=11");
    let dir = tempfile::tempdir().expect("dir");
    write_cluster(dir.path(), &c1);
    let manager = clustersynchro_manager::start(&options(dir.path()), Arc::clone(&storage))
        .await
        .expect("manager");
    eventually(
        "the sync has started",
        Duration::from_secs(60),
        async || synced_objects(&manager) > 200,
    )
    .await;

    // The database goes away mid-sync: readiness and the sync status say so.
    proxy.cut();
    let before = synced_objects(&manager);
    eventually(
        "readiness reports the outage",
        Duration::from_secs(30),
        async || !ready(&manager),
    )
    .await;
    mutate(&c1, "db-outage");
    eventually(
        "the storage error is reported",
        Duration::from_secs(30),
        async || storage_error_reported(&manager),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.restore().await;
    eventually("ready again", Duration::from_secs(30), async || {
        ready(&manager)
    })
    .await;
    wait_converged(&storage, "c1", &c1, &pods_and_configmaps(), CONVERGE).await;
    assert!(synced_objects(&manager) >= before);

    // A restart (every connection dropped at once) is survived too.
    mutate(&c1, "db-restart");
    proxy.restart().await;
    wait_converged(&storage, "c1", &c1, &pods_and_configmaps(), CONVERGE).await;
    manager.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_unreachable_at_startup() {
    let schema = PgSchema::create("pedia_faults").await;
    let proxy = TcpProxy::start("127.0.0.1:5432".parse().expect("addr")).await;
    proxy.cut();
    let url = schema
        .url
        .replacen("127.0.0.1:5432", &proxy.addr().to_string(), 1);
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("storage.yaml");
    std::fs::write(
        &config,
        format!(
            "type: postgres\ndsn: {}\npassword: not-a-real-secret\nparams:\n  search_path: {}\n",
            url, schema.schema
        ),
    )
    .expect("config");
    let clusters = dir.path().join("clusters");
    std::fs::create_dir(&clusters).expect("dir");
    let c1 = sim("c1", "pods=300,configmaps=50,seed=12");
    write_cluster(&clusters, &c1);

    // The component stops with a clear error (its supervisor restarts it).
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_clustersynchro-manager"))
        .args([
            "--clusters-dir",
            clusters.to_str().expect("utf-8"),
            "--metrics-bind-address",
            "",
            "--storage-name",
            "internal",
            "--storage-config",
        ])
        .arg(&config)
        .output()
        .expect("run the manager");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert!(
        !stderr.contains("not-a-real-secret"),
        "the password must not be printed: {stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(60), "it fails fast");

    // Once the database is back, a restarted manager syncs everything.
    proxy.restore().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_clustersynchro-manager"))
        .args([
            "--clusters-dir",
            clusters.to_str().expect("utf-8"),
            "--metrics-bind-address",
            "",
            "--storage-name",
            "internal",
            "--storage-config",
        ])
        .arg(&config)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run the manager");
    let storage = internal(&format!(
        "type: postgres\ndsn: {}\nparams:\n  search_path: {}\n",
        schema.url, schema.schema
    ))
    .await
    .expect("storage");
    wait_converged(&storage, "c1", &c1, &pods_and_configmaps(), CONVERGE).await;
    let _ = child.kill();
    let _ = child.wait();
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn member_cluster_stops_slows_and_returns_garbage() {
    let dir = tempfile::tempdir().expect("dir");
    let storage = internal(&format!(
        "type: sqlite\ndsn: {}\n",
        dir.path().join("pedia.db").display()
    ))
    .await
    .expect("storage");
    let c1 = sim("c1", "pods=800,configmaps=200,seed=13");
    let clusters = dir.path().join("clusters");
    std::fs::create_dir(&clusters).expect("dir");
    write_cluster(&clusters, &c1);
    let manager = clustersynchro_manager::start(&options(&clusters), Arc::clone(&storage))
        .await
        .expect("manager");
    wait_converged(&storage, "c1", &c1, &pods_and_configmaps(), CONVERGE).await;
    let stored = stored_count(&storage, "c1").await;

    // Stops answering: the status says NotReachable, nothing stored is lost.
    c1.faults().stop();
    eventually(
        "the cluster is reported unreachable",
        Duration::from_secs(30),
        async || {
            published_condition(&storage, "c1", "ClusterHealthy").await
                == Some(("False".into(), "NotReachable".into()))
        },
    )
    .await;
    assert_eq!(
        published_condition(&storage, "c1", "Ready")
            .await
            .map(|c| c.0),
        Some("False".into())
    );
    assert_eq!(
        stored_count(&storage, "c1").await,
        stored,
        "an unreachable cluster's objects stay"
    );
    mutate(&c1, "stopped");
    c1.faults().resume().expect("resume");
    wait_converged(&storage, "c1", &c1, &pods_and_configmaps(), CONVERGE).await;
    eventually("healthy again", Duration::from_secs(90), async || {
        published_condition(&storage, "c1", "Ready").await == Some(("True".into(), "Ready".into()))
    })
    .await;

    // Answers slowly.
    c1.faults()
        .delay_for(Duration::from_millis(700), Duration::from_secs(8));
    mutate(&c1, "slow");
    wait_converged(&storage, "c1", &c1, &pods_and_configmaps(), CONVERGE).await;

    // Returns garbage for a while (then recovers).
    let stored = stored_count(&storage, "c1").await;
    c1.faults().garbage_for(Duration::from_secs(6));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        stored_count(&storage, "c1").await >= stored,
        "garbage deletes nothing"
    );
    mutate(&c1, "garbage");
    wait_converged(&storage, "c1", &c1, &pods_and_configmaps(), CONVERGE).await;
    manager.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disk_full_under_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).expect("dir");
    // A real, small filesystem: SQLite sees ENOSPC ("database or disk is full").
    let mount = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
        .arg(&disk)
        .status()
        .expect("run mount");
    assert!(
        mount.success(),
        "this test needs to mount a small tmpfs (run as root)"
    );
    let unmount = scopeguard(&disk);

    let storage = internal(&format!(
        "type: sqlite\ndsn: {}\n",
        disk.join("pedia.db").display()
    ))
    .await
    .expect("storage");
    let c1 = sim("c1", "pods=3000,configmaps=500,seed=14");
    let clusters = dir.path().join("clusters");
    std::fs::create_dir(&clusters).expect("dir");
    write_cluster(&clusters, &c1);
    let manager = clustersynchro_manager::start(&options(&clusters), Arc::clone(&storage))
        .await
        .expect("manager");
    eventually("the disk fills up", Duration::from_secs(90), async || {
        storage_error_reported(&manager)
    })
    .await;
    let stored = stored_count(&storage, "c1").await;
    assert!(
        stored > 0,
        "some objects were stored before the disk filled"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        stored_count(&storage, "c1").await >= stored,
        "nothing stored is lost while the disk is full"
    );

    // More space: the sync completes.
    let grow = Command::new("mount")
        .args(["-o", "remount,size=256m"])
        .arg(&disk)
        .status()
        .expect("remount");
    assert!(grow.success());
    wait_converged(&storage, "c1", &c1, &pods_and_configmaps(), CONVERGE).await;
    manager.task.abort();
    let _ = storage.shutdown().await;
    drop(unmount);
}

/// Unmounts the tmpfs when the test ends, however it ends.
fn scopeguard(path: &Path) -> impl Drop {
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    Unmount(path.to_owned())
}
