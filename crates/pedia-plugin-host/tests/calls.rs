//! Calls into loaded plugins: panics become errors, a blocking plugin does not stall the
//! host runtime, errors keep their kind, what was verified is what runs, and two different
//! plugins work side by side.

mod support;

use std::sync::Arc;

use pedia_core::{GroupVersionResource, ListOptions, ResourceType};
use pedia_plugin_host::{Verification, register_dir, verify_dir};
use pedia_storage::{ErrorKind, Registry, StorageFactory};
use support::{plugin, plugin_dir, seal};

fn pod_type() -> ResourceType {
    ResourceType::new(GroupVersionResource::new("", "v1", "pods"), "Pod", true)
}

/// Loads test-behaviour (and optionally the sample plugin) and opens test-behaviour.
async fn open_behaviour(registry: &mut Registry) -> Arc<dyn StorageFactory> {
    let dir = plugin_dir(&[("libtest_behaviour.so", &plugin("test_behaviour"))]);
    seal(dir.path());
    let names = register_dir(registry, dir.path(), Verification::Manifest).expect("register");
    assert_eq!(names, vec!["test-behaviour".to_owned()]);
    registry.open("test-behaviour", None).await.expect("open")
}

fn in_namespace(ns: &str) -> ListOptions {
    ListOptions::from_query(&format!("namespaces={ns}")).expect("query")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_call_is_an_error_and_the_process_lives() {
    let mut registry = Registry::new();
    let factory = open_behaviour(&mut registry).await;
    let pods = factory
        .resource_storage(&pod_type())
        .await
        .expect("storage");

    let err = pods
        .list(&in_namespace("panic"))
        .await
        .expect_err("panicked");
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert_eq!(err.message(), "storage plugin call panicked");
    assert!(
        err.detail().contains("deliberate panic in test-behaviour"),
        "{}",
        err.detail()
    );

    // The plugin keeps serving.
    let ok = pods
        .list(&in_namespace("fine"))
        .await
        .expect("after a panic");
    assert_eq!(ok.revision, 4242);
    for _ in 0..3 {
        assert!(pods.list(&in_namespace("panic")).await.is_err());
    }
    assert!(pods.list(&in_namespace("fine")).await.is_ok());
}

#[tokio::test(flavor = "current_thread")]
async fn a_blocking_call_does_not_stall_the_host_runtime() {
    let mut registry = Registry::new();
    let factory = open_behaviour(&mut registry).await;
    let pods = factory
        .resource_storage(&pod_type())
        .await
        .expect("storage");

    // The host runtime has a single thread: if the plugin's blocking call ran on it,
    // nothing else could make progress until it returned.
    let blocking = {
        let pods = Arc::clone(&pods);
        tokio::spawn(async move { pods.list(&in_namespace("block")).await })
    };
    tokio::task::yield_now().await;
    let mut ticks = 0;
    for _ in 0..5 {
        let quick = pods.list(&in_namespace("fine")).await.expect("quick call");
        assert_eq!(quick.revision, 4242);
        tokio::task::yield_now().await;
        ticks += 1;
    }
    assert_eq!(ticks, 5);
    assert!(
        !blocking.is_finished(),
        "five quick calls completed while the blocking call was still running"
    );
    let blocked = blocking
        .await
        .expect("join")
        .expect("the blocking call completes");
    assert_eq!(blocked.revision, 4242);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_errors_keep_their_kind() {
    let mut registry = Registry::new();
    let factory = open_behaviour(&mut registry).await;
    let pods = factory
        .resource_storage(&pod_type())
        .await
        .expect("storage");
    let err = pods.list(&in_namespace("error")).await.expect_err("outage");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.message(), "simulated outage");
    let err = pods.get("c", "ns", "x").await.expect_err("absent");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = factory
        .resource_storage(&pod_type())
        .await
        .expect("storage")
        .watch(&ListOptions::default(), 0)
        .await
        .err()
        .expect("no watch");
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_verified_is_what_runs() {
    let dir = plugin_dir(&[("libtest_behaviour.so", &plugin("test_behaviour"))]);
    seal(dir.path());
    let verified = verify_dir(dir.path(), Verification::Manifest).expect("verify");
    // Swap the file on disk after verification.
    std::fs::copy(plugin("test_skew"), dir.path().join("libtest_behaviour.so")).expect("swap");
    let loaded = pedia_plugin_host::load::load(verified.into_iter().next().expect("one"))
        .expect("the verified bytes load");
    assert_eq!(loaded.name, "test-behaviour");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_different_plugins_side_by_side() {
    let dir = plugin_dir(&[
        ("libtest_behaviour.so", &plugin("test_behaviour")),
        ("libsample_storage.so", &plugin("sample_storage")),
    ]);
    seal(dir.path());
    let mut registry = Registry::new();
    let mut names =
        register_dir(&mut registry, dir.path(), Verification::Manifest).expect("register");
    names.sort();
    assert_eq!(
        names,
        vec![
            "sample-storage-layer".to_owned(),
            "test-behaviour".to_owned()
        ]
    );

    let db = tempfile::tempdir().expect("dir");
    let config = db.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "type: sqlite\ndsn: {}\n",
            db.path().join("sample.db").display()
        ),
    )
    .expect("config");
    let sample = registry
        .open("sample-storage-layer", Some(&config))
        .await
        .expect("open sample");
    let behaviour = registry
        .open("test-behaviour", None)
        .await
        .expect("open behaviour");

    let object = pedia_core::Object::from_json(bytes::Bytes::from_static(
        br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns","resourceVersion":"1"}}"#,
    ))
    .expect("object");
    let pods_sample = sample.resource_storage(&pod_type()).await.expect("storage");
    let out = pods_sample
        .apply_batch(
            "c1",
            pedia_storage::Fence::Unfenced,
            vec![pedia_storage::WriteOp::Upsert(object)],
        )
        .await
        .expect("write");
    assert_eq!(out.written, 1);
    assert_eq!(
        pods_sample
            .list(&ListOptions::default())
            .await
            .expect("list")
            .items
            .len(),
        1
    );
    let from_behaviour = behaviour
        .resource_storage(&pod_type())
        .await
        .expect("storage")
        .list(&ListOptions::default())
        .await
        .expect("list");
    assert_eq!(from_behaviour.revision, 4242);
    assert_eq!(sample.layer_name(), "sample-storage-layer");
    assert_eq!(behaviour.layer_name(), "test-behaviour");
}
