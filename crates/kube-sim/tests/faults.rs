//! Fault injection as other crates' tests use it: a cluster that stops answering and comes
//! back on the same port with the same state (open watches end, clients reconnect), slow
//! and garbage responses for a while, request counters; and the load generator with the
//! update loop feeding a kube-rs watch.

mod common;

use std::time::{Duration, Instant};

use common::{client, eventually, start};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube_sim::LoadSpec;
use serde_json::json;

#[tokio::test]
async fn stop_and_resume_on_the_same_port() {
    let sim = start();
    let addr = sim.addr();
    sim.store()
        .create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept"}}))
        .expect("created");
    let api: Api<ConfigMap> = Api::namespaced(client(&sim).await, "default");
    let rv = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut watch = api
        .watch(&WatchParams::default().timeout(30), &rv)
        .await
        .expect("watch")
        .boxed();

    sim.faults().stop();
    assert!(!sim.faults().is_serving());
    // The open watch ends (its connection is gone) and new requests fail.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match watch.try_next().await {
                Ok(Some(WatchEvent::Bookmark(_))) => {}
                Ok(None) | Err(_) => return,
                Ok(Some(other)) => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the watch did not end");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the listener is closed"
    );
    assert!(api.get("kept").await.is_err());

    // Writes while down are there after the restart, with a newer version.
    sim.store()
        .create(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "while-down"}}),
        )
        .expect("created");
    sim.faults().resume().expect("resumed");
    assert_eq!(sim.addr(), addr);
    let api: Api<ConfigMap> = Api::namespaced(client(&sim).await, "default");
    assert!(api.get("kept").await.is_ok());
    let mut watch = api
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .expect("watch")
        .boxed();
    match watch.try_next().await {
        Ok(Some(WatchEvent::Added(cm))) => {
            assert_eq!(cm.metadata.name.as_deref(), Some("while-down"))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn slow_and_garbage_responses_and_counters() {
    let sim = start();
    let api: Api<ConfigMap> = Api::namespaced(client(&sim).await, "default");
    api.list(&ListParams::default()).await.expect("list");
    sim.faults().reset_requests();

    sim.faults()
        .delay_for(Duration::from_millis(400), Duration::from_secs(2));
    let started = Instant::now();
    api.list(&ListParams::default()).await.expect("slow list");
    assert!(started.elapsed() >= Duration::from_millis(400));

    sim.faults().set_garbage(true);
    match api.list(&ListParams::default()).await {
        Err(kube::Error::SerdeError(_)) => {}
        other => panic!("expected a decoding error: {other:?}"),
    }
    sim.faults().clear();
    let started = Instant::now();
    api.list(&ListParams::default())
        .await
        .expect("normal again");
    assert!(started.elapsed() < Duration::from_millis(400));

    sim.faults().garbage_for(Duration::from_millis(300));
    assert!(api.get("x").await.is_err());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        api.get("x")
            .await
            .map_err(|e| matches!(e, kube::Error::Api(s) if s.code == 404))
            .err(),
        Some(true)
    );

    assert_eq!(sim.faults().request_count("list", "configmaps"), 3);
    assert_eq!(sim.faults().request_count("get", "configmaps"), 2);
    assert_eq!(sim.faults().requests(), 5);
}

#[tokio::test]
async fn loaded_cluster_with_updates() {
    let sim = start();
    let report = sim
        .load(
            &LoadSpec::parse(
                "pods=60,deployments=6,configmaps=6,services=6,secrets=6,crontabs=3,namespaces=3",
            )
            .expect("spec"),
        )
        .expect("loaded");
    assert_eq!(report.created["pods"], 60);
    let api: Api<Pod> = Api::all(client(&sim).await);
    let list = api
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=kubectl"))
        .await
        .expect("list");
    assert_eq!(list.items.len(), 60);
    let rv = list.metadata.resource_version.expect("rv");
    sim.run_updates(100.0);
    let mut watch = api
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .expect("watch")
        .boxed();
    let modified = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(Some(WatchEvent::Modified(p))) = watch.try_next().await {
                return p;
            }
        }
    })
    .await
    .expect("an update within 10 s");
    assert!(
        modified
            .metadata
            .resource_version
            .is_some_and(|v| v.parse::<u64>().unwrap_or(0) > rv.parse().unwrap_or(0))
    );
    // The loop counts a change after making it, so a watcher may see it first.
    assert!(eventually(Duration::from_secs(10), || sim.updates_done() > 0).await);
    sim.run_updates(0.0);
}
