//! Cases for the write side: idempotent upserts, replacement, stale versions, deletes,
//! mixed batches, stored resource versions and cleaning.

use serde_json::Value;

use crate::conformance::Fixture;
use crate::conformance::fixtures::*;
use crate::error::ErrorKind;
use crate::{BatchOutcome, WriteOp, object_key};

fn label_of(raw: &[u8], key: &str) -> Option<String> {
    let v: Value = serde_json::from_slice(raw).expect("json");
    v["metadata"]["labels"][key].as_str().map(str::to_owned)
}

pub async fn upsert_is_idempotent(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    let object = pod("ns", "p").rv(7).label("app", "x");
    let first = put(&pods, "c1", std::slice::from_ref(&object)).await;
    assert_eq!((first.written, first.unchanged), (1, 0));
    let second = put(&pods, "c1", std::slice::from_ref(&object)).await;
    assert_eq!(
        second,
        BatchOutcome {
            unchanged: 1,
            revision: first.revision,
            ..BatchOutcome::default()
        },
        "writing the same version again changes nothing, not even the revision"
    );
    assert_eq!(
        fx.factory.current_revision().await.expect("revision"),
        first.revision
    );
    assert_eq!(list(&pods, "").await.items.len(), 1);

    // Same version, different bytes (e.g. pruning changed): replaced.
    let third = put(
        &pods,
        "c1",
        &[object.clone().annotation("note", "re-pruned")],
    )
    .await;
    assert_eq!(third.written, 1);
    assert!(third.revision > first.revision);
}

pub async fn upsert_replaces_older_version_and_labels(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    put(
        &pods,
        "c1",
        &[pod("ns", "p")
            .rv(5)
            .label("app", "old")
            .label("keep", "yes")],
    )
    .await;
    let out = put(&pods, "c1", &[pod("ns", "p").rv(6).label("app", "new")]).await;
    assert_eq!(out.written, 1);

    let got = pods.get("c1", "ns", "p").await.expect("get");
    assert_eq!(label_of(&got, "app").as_deref(), Some("new"));
    assert!(
        list(&pods, "labelSelector=app=old").await.items.is_empty(),
        "old labels are gone"
    );
    assert!(
        list(&pods, "labelSelector=keep").await.items.is_empty(),
        "removed labels are gone"
    );
    assert_eq!(list(&pods, "labelSelector=app=new").await.items.len(), 1);
}

pub async fn stale_resource_version_is_not_written(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    let newer = put(&pods, "c1", &[pod("ns", "p").rv(10).label("v", "ten")]).await;
    let stale = put(&pods, "c1", &[pod("ns", "p").rv(9).label("v", "nine")]).await;
    assert_eq!((stale.stale, stale.written), (1, 0));
    assert_eq!(stale.revision, newer.revision);
    let got = pods.get("c1", "ns", "p").await.expect("get");
    assert_eq!(label_of(&got, "v").as_deref(), Some("ten"));
    // Numeric comparison: "9" < "10" even though it sorts after as text.
    let out = put(&pods, "c1", &[pod("ns", "p").rv(100).label("v", "hundred")]).await;
    assert_eq!(out.written, 1);

    // In one batch, the later, older version loses too.
    let out = pods
        .apply_batch(
            "c1",
            vec![
                WriteOp::Upsert(pod("ns", "q").rv(3).label("v", "three").build("c1")),
                WriteOp::Upsert(pod("ns", "q").rv(2).label("v", "two").build("c1")),
            ],
        )
        .await
        .expect("batch");
    assert_eq!((out.written, out.stale), (1, 1));
    let got = pods.get("c1", "ns", "q").await.expect("get");
    assert_eq!(label_of(&got, "v").as_deref(), Some("three"));
}

pub async fn delete_and_missing_delete(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    put(&pods, "c1", &[pod("ns", "a").rv(5), pod("ns", "b").rv(50)]).await;

    let out = pods
        .apply_batch("c1", vec![delete("ns", "a", 6)])
        .await
        .expect("delete");
    assert_eq!(out.deleted, 1);
    assert_eq!(
        pods.get("c1", "ns", "a").await.expect_err("gone").kind(),
        ErrorKind::NotFound
    );

    let out = pods
        .apply_batch("c1", vec![delete("ns", "a", 7)])
        .await
        .expect("delete again");
    assert_eq!((out.deleted, out.missing), (0, 1));

    // A delete older than the stored object (it was re-created since) is stale.
    let out = pods
        .apply_batch("c1", vec![delete("ns", "b", 40)])
        .await
        .expect("stale delete");
    assert_eq!((out.deleted, out.stale), (0, 1));
    assert!(pods.get("c1", "ns", "b").await.is_ok());

    // A delete without a known version always applies.
    let out = pods
        .apply_batch(
            "c1",
            vec![WriteOp::Delete {
                namespace: "ns".into(),
                name: "b".into(),
                resource_version: String::new(),
            }],
        )
        .await
        .expect("delete");
    assert_eq!(out.deleted, 1);
    assert!(list(&pods, "").await.items.is_empty());
}

pub async fn mixed_batch_applies_in_order(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    put(
        &pods,
        "c1",
        &[pod("ns", "keep").rv(1), pod("ns", "gone").rv(1)],
    )
    .await;
    let before = fx.factory.current_revision().await.expect("revision");
    let out = pods
        .apply_batch(
            "c1",
            vec![
                WriteOp::Upsert(pod("ns", "a").rv(10).label("v", "1").build("c1")),
                WriteOp::Upsert(pod("ns", "b").rv(10).build("c1")),
                delete("ns", "a", 11),
                delete("ns", "gone", 2),
                WriteOp::Upsert(pod("ns", "a").rv(12).label("v", "2").build("c1")),
                WriteOp::Upsert(pod("ns", "keep").rv(1).build("c1")),
                delete("ns", "never", 1),
            ],
        )
        .await
        .expect("batch");
    assert_eq!(out.written, 3);
    assert_eq!(out.deleted, 2);
    assert_eq!(out.unchanged, 1);
    assert_eq!(out.missing, 1);
    assert_eq!(
        out.revision,
        before + out.applied(),
        "one revision per applied change"
    );
    assert_eq!(
        sorted_ids(&list(&pods, "").await),
        sorted(&["c1/ns/a", "c1/ns/b", "c1/ns/keep"])
    );
    let a = pods.get("c1", "ns", "a").await.expect("a");
    assert_eq!(label_of(&a, "v").as_deref(), Some("2"));

    // An empty batch is fine and changes nothing.
    let out = pods
        .apply_batch("c1", Vec::new())
        .await
        .expect("empty batch");
    assert_eq!(out.applied(), 0);
    assert_eq!(out.revision, before + 5);
}

pub async fn resource_versions_by_cluster(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    let nss = storage(&fx.factory, res::namespaces()).await;
    put(&pods, "c1", &[pod("a", "p1").rv(11), pod("b", "p1").rv(12)]).await;
    put(&pods, "c2", &[pod("a", "p1").rv(99)]).await;
    put(&nss, "c1", &[namespace("a").rv(3)]).await;

    let versions = fx.factory.resource_versions("c1").await.expect("versions");
    assert_eq!(versions.len(), 2);
    let p = &versions[&res::pods().gvr];
    assert_eq!(p.len(), 2);
    assert_eq!(p[&object_key("a", "p1")], "11");
    assert_eq!(p[&object_key("b", "p1")], "12");
    assert_eq!(versions[&res::namespaces().gvr]["a"], "3");

    let c2 = fx.factory.resource_versions("c2").await.expect("versions");
    assert_eq!(c2[&res::pods().gvr]["a/p1"], "99");
    assert!(
        fx.factory
            .resource_versions("c3")
            .await
            .expect("versions")
            .is_empty()
    );
}

pub async fn clean_cluster(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    let cms = storage(&fx.factory, res::configmaps()).await;
    for c in ["c1", "c2"] {
        put(&pods, c, &[pod("ns", "p").label("app", "x")]).await;
        put(&cms, c, &[configmap("ns", "cm")]).await;
    }
    let before = fx.factory.current_revision().await.expect("revision");
    fx.factory.clean_cluster("c1").await.expect("clean");
    assert!(fx.factory.current_revision().await.expect("revision") > before);
    assert_eq!(sorted_ids(&list(&pods, "").await), strings(&["c2/ns/p"]));
    assert_eq!(sorted_ids(&list(&cms, "").await), strings(&["c2/ns/cm"]));
    assert!(
        list(&pods, "labelSelector=app=x&clusters=c1")
            .await
            .items
            .is_empty()
    );
    assert!(
        fx.factory
            .resource_versions("c1")
            .await
            .expect("versions")
            .is_empty()
    );
    // Cleaning an unknown or already clean cluster is fine.
    fx.factory.clean_cluster("c1").await.expect("clean again");
    fx.factory
        .clean_cluster("nope")
        .await
        .expect("clean unknown");
    // The cluster can sync again afterwards.
    put(&pods, "c1", &[pod("ns", "p")]).await;
    assert_eq!(list(&pods, "").await.items.len(), 2);
}

pub async fn clean_cluster_resource(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    let cms = storage(&fx.factory, res::configmaps()).await;
    for c in ["c1", "c2"] {
        put(&pods, c, &[pod("ns", "p")]).await;
        put(&cms, c, &[configmap("ns", "cm")]).await;
    }
    fx.factory
        .clean_cluster_resource("c1", &res::pods().gvr)
        .await
        .expect("clean");
    assert_eq!(sorted_ids(&list(&pods, "").await), strings(&["c2/ns/p"]));
    assert_eq!(
        sorted_ids(&list(&cms, "").await),
        sorted(&["c1/ns/cm", "c2/ns/cm"])
    );
    let versions = fx.factory.resource_versions("c1").await.expect("versions");
    assert!(!versions.contains_key(&res::pods().gvr));
    assert!(versions.contains_key(&res::configmaps().gvr));
}
