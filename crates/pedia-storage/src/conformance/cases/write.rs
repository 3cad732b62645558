//! Cases for the write side: idempotent upserts, replacement, resourceVersions that are
//! never ordered, uids that tell objects apart, deletes of one incarnation, mixed batches,
//! stored versions, cleaning, and the writer fence.

use serde_json::Value;

use crate::conformance::Fixture;
use crate::conformance::fixtures::*;
use crate::error::ErrorKind;
use crate::{BatchOutcome, Fence, StoredVersion, WriteOp, object_key};

fn label_of(raw: &[u8], key: &str) -> Option<String> {
    let v: Value = serde_json::from_slice(raw).expect("json");
    v["metadata"]["labels"][key].as_str().map(str::to_owned)
}

fn uid_of(raw: &[u8]) -> String {
    let v: Value = serde_json::from_slice(raw).expect("json");
    v["metadata"]["uid"].as_str().unwrap_or_default().to_owned()
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

pub async fn unchanged_needs_same_uid_version_and_bytes(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    let stored = pod("ns", "p").uid("u1").rv(7).label("app", "x");
    let first = put(&pods, "c1", std::slice::from_ref(&stored)).await;
    let same = put(&pods, "c1", std::slice::from_ref(&stored)).await;
    assert_eq!((same.unchanged, same.written), (1, 0));
    assert_eq!(same.revision, first.revision);

    // The same version with other bytes, or another version, is written.
    let out = put(&pods, "c1", &[stored.clone().label("app", "y")]).await;
    assert_eq!((out.unchanged, out.written, out.recreated), (0, 1, 0));
    let out = put(&pods, "c1", &[stored.clone().rv(8)]).await;
    assert_eq!((out.unchanged, out.written, out.recreated), (0, 1, 0));
    // The same version from another object (uid) is another object.
    let out = put(&pods, "c1", &[stored.clone().rv(8).uid("u2")]).await;
    assert_eq!((out.unchanged, out.written, out.recreated), (0, 1, 1));
    assert_eq!(
        out.revision,
        first.revision + 4,
        "three writes, one of them a delete and an add"
    );
    assert_eq!(uid_of(&pods.get("c1", "ns", "p").await.expect("get")), "u2");
}

pub async fn lower_resource_version_after_recreate_is_applied(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    put(
        &pods,
        "c1",
        &[
            pod("ns", "a").uid("old-a").rv(900).label("run", "one"),
            pod("ns", "b").uid("old-b").rv(901).label("run", "one"),
        ],
    )
    .await;
    // The cluster is re-created: new uids, versions from low numbers again.
    let out = put(
        &pods,
        "c1",
        &[
            pod("ns", "a").uid("new-a").rv(3).label("run", "two"),
            pod("ns", "b").uid("new-b").rv(4).label("run", "two"),
        ],
    )
    .await;
    assert_eq!((out.written, out.recreated, out.unchanged), (2, 2, 0));
    for (name, uid) in [("a", "new-a"), ("b", "new-b")] {
        let got = pods.get("c1", "ns", name).await.expect("get");
        assert_eq!(uid_of(&got), uid);
        assert_eq!(label_of(&got, "run").as_deref(), Some("two"));
    }
    assert_eq!(
        ids(&list(&pods, "labelSelector=run=two").await),
        strings(&["c1/ns/a", "c1/ns/b"])
    );
    assert!(ids(&list(&pods, "labelSelector=run=one").await).is_empty());
    let versions = fx.factory.resource_versions("c1").await.expect("versions");
    assert_eq!(
        versions[&res::pods().gvr][&object_key("ns", "a")],
        StoredVersion {
            uid: "new-a".into(),
            resource_version: "3".into()
        }
    );

    // The same object going back to a lower version is a change like any other.
    let out = put(
        &pods,
        "c1",
        &[pod("ns", "a").uid("new-a").rv(2).label("run", "three")],
    )
    .await;
    assert_eq!((out.written, out.recreated), (1, 0));
    let got = pods.get("c1", "ns", "a").await.expect("get");
    assert_eq!(label_of(&got, "run").as_deref(), Some("three"));
}

pub async fn later_write_in_a_batch_wins_whatever_its_version(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    // Numeric order would pick "10" (and text order "9"); the stream's order picks the last.
    let out = pods
        .apply_batch(
            "c1",
            Fence::Unfenced,
            vec![
                WriteOp::Upsert(pod("ns", "q").rv(9).label("v", "nine").build("c1")),
                WriteOp::Upsert(pod("ns", "q").rv(10).label("v", "ten").build("c1")),
                WriteOp::Upsert(pod("ns", "q").rv(2).label("v", "two").build("c1")),
            ],
        )
        .await
        .expect("batch");
    assert_eq!((out.written, out.unchanged, out.recreated), (3, 0, 0));
    let got = pods.get("c1", "ns", "q").await.expect("get");
    assert_eq!(label_of(&got, "v").as_deref(), Some("two"));
    assert_eq!(
        ids(&list(&pods, "labelSelector=v in (nine,ten,two)").await),
        strings(&["c1/ns/q"])
    );
    assert!(ids(&list(&pods, "labelSelector=v in (nine,ten)").await).is_empty());
}

pub async fn different_uid_replaces_the_object(fx: &Fixture) {
    let rss = storage(&fx.factory, res::replicasets()).await;
    let pods = storage(&fx.factory, res::pods()).await;
    put(
        &rss,
        "c1",
        &[replicaset("ns", "web-1")
            .uid("rs-old")
            .owner("apps/v1", "Deployment", "web", "d-web")],
    )
    .await;
    put(
        &pods,
        "c1",
        &[
            pod("ns", "a")
                .uid("pod-a")
                .owner("apps/v1", "ReplicaSet", "web-1", "rs-old"),
            pod("ns", "b")
                .uid("pod-b")
                .owner("apps/v1", "ReplicaSet", "web-1", "rs-new"),
            pod("ns", "p")
                .uid("p-old")
                .rv(50)
                .label("app", "old")
                .label("gone", "yes")
                .owner("apps/v1", "ReplicaSet", "web-1", "rs-old"),
        ],
    )
    .await;
    let grandchildren = "clusters=c1&ownerUID=d-web&ownerSeniority=1";
    assert_eq!(
        ids(&list(&pods, grandchildren).await),
        strings(&["c1/ns/a", "c1/ns/p"])
    );

    // The ReplicaSet and the pod are re-created under their names with new uids.
    let out = put(
        &rss,
        "c1",
        &[replicaset("ns", "web-1")
            .uid("rs-new")
            .owner("apps/v1", "Deployment", "web", "d-web")],
    )
    .await;
    assert_eq!((out.written, out.recreated), (1, 1));
    let out = put(
        &pods,
        "c1",
        &[pod("ns", "p").uid("p-new").rv(5).label("app", "new").owner(
            "apps/v1",
            "ReplicaSet",
            "web-1",
            "rs-new",
        )],
    )
    .await;
    assert_eq!((out.written, out.recreated, out.deleted), (1, 1, 0));

    assert_eq!(
        uid_of(&pods.get("c1", "ns", "p").await.expect("get")),
        "p-new"
    );
    assert_eq!(
        ids(&list(&pods, "labelSelector=app=new").await),
        strings(&["c1/ns/p"])
    );
    assert!(ids(&list(&pods, "labelSelector=app=old").await).is_empty());
    assert!(ids(&list(&pods, "labelSelector=gone").await).is_empty());
    // The old object's owner links are gone (pod a still names the old ReplicaSet), the
    // new one's are in place.
    assert_eq!(
        ids(&list(&pods, "clusters=c1&ownerUID=rs-old").await),
        strings(&["c1/ns/a"])
    );
    assert_eq!(
        ids(&list(&pods, "clusters=c1&ownerUID=rs-new").await),
        strings(&["c1/ns/b", "c1/ns/p"])
    );
    assert_eq!(
        ids(&list(&pods, grandchildren).await),
        strings(&["c1/ns/b", "c1/ns/p"]),
        "the owner chain runs through the new ReplicaSet only"
    );
    assert_eq!(
        ids(&list(&pods, "").await),
        strings(&["c1/ns/a", "c1/ns/b", "c1/ns/p"])
    );
}

pub async fn delete_and_missing_delete(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    put(
        &pods,
        "c1",
        &[pod("ns", "a").rv(5), pod("ns", "b").uid("b1").rv(50)],
    )
    .await;

    let out = pods
        .apply_batch("c1", Fence::Unfenced, vec![delete("ns", "a")])
        .await
        .expect("delete");
    assert_eq!((out.deleted, out.missing, out.superseded), (1, 0, 0));
    assert_eq!(
        pods.get("c1", "ns", "a").await.expect_err("gone").kind(),
        ErrorKind::NotFound
    );

    let out = pods
        .apply_batch("c1", Fence::Unfenced, vec![delete("ns", "a")])
        .await
        .expect("delete again");
    assert_eq!((out.deleted, out.missing), (0, 1));

    // A delete naming the stored uid applies.
    let out = pods
        .apply_batch("c1", Fence::Unfenced, vec![delete_uid("ns", "b", "b1")])
        .await
        .expect("delete");
    assert_eq!((out.deleted, out.superseded), (1, 0));
    assert!(list(&pods, "").await.items.is_empty());
}

pub async fn delete_of_another_uid_keeps_the_stored_object(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    // Re-created since the deleted incarnation was seen: the delete is late.
    let stored = put(&pods, "c1", &[pod("ns", "p").uid("second").rv(1)]).await;
    let out = pods
        .apply_batch("c1", Fence::Unfenced, vec![delete_uid("ns", "p", "first")])
        .await
        .expect("delete");
    assert_eq!(
        out,
        BatchOutcome {
            superseded: 1,
            revision: stored.revision,
            ..BatchOutcome::default()
        }
    );
    assert_eq!(
        uid_of(&pods.get("c1", "ns", "p").await.expect("kept")),
        "second"
    );

    // In one batch: the object re-created, then a late delete of the first incarnation.
    let out = pods
        .apply_batch(
            "c1",
            Fence::Unfenced,
            vec![
                WriteOp::Upsert(pod("ns", "q").uid("q2").rv(1).build("c1")),
                delete_uid("ns", "q", "q1"),
                delete_uid("ns", "p", "second"),
            ],
        )
        .await
        .expect("batch");
    assert_eq!((out.written, out.superseded, out.deleted), (1, 1, 1));
    assert_eq!(ids(&list(&pods, "").await), strings(&["c1/ns/q"]));
    assert_eq!(
        uid_of(&pods.get("c1", "ns", "q").await.expect("kept")),
        "q2"
    );
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
            Fence::Unfenced,
            vec![
                WriteOp::Upsert(pod("ns", "a").rv(10).label("v", "1").build("c1")),
                WriteOp::Upsert(pod("ns", "b").rv(10).build("c1")),
                delete("ns", "a"),
                delete("ns", "gone"),
                WriteOp::Upsert(pod("ns", "a").rv(12).label("v", "2").build("c1")),
                WriteOp::Upsert(pod("ns", "keep").rv(1).build("c1")),
                delete("ns", "never"),
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
        ids(&list(&pods, "").await),
        strings(&["c1/ns/a", "c1/ns/b", "c1/ns/keep"])
    );
    let a = pods.get("c1", "ns", "a").await.expect("a");
    assert_eq!(label_of(&a, "v").as_deref(), Some("2"));

    // An empty batch is fine and changes nothing.
    let out = pods
        .apply_batch("c1", Fence::Unfenced, Vec::new())
        .await
        .expect("empty batch");
    assert_eq!(out.applied(), 0);
    assert_eq!(out.revision, before + 5);
}

pub async fn resource_versions_by_cluster(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    let nss = storage(&fx.factory, res::namespaces()).await;
    put(
        &pods,
        "c1",
        &[
            pod("a", "p1").uid("u-a").rv(11),
            pod("b", "p1").uid("u-b").rv(12),
        ],
    )
    .await;
    put(&pods, "c2", &[pod("a", "p1").uid("u-c2").rv(99)]).await;
    put(&nss, "c1", &[namespace("a").uid("u-ns").rv(3)]).await;
    let version = |uid: &str, rv: &str| StoredVersion {
        uid: uid.into(),
        resource_version: rv.into(),
    };

    let versions = fx.factory.resource_versions("c1").await.expect("versions");
    let mut resources = vec![res::pods().gvr, res::namespaces().gvr];
    resources.sort();
    assert_eq!(versions.keys().cloned().collect::<Vec<_>>(), resources);
    let p = &versions[&res::pods().gvr];
    assert_eq!(p.len(), 2);
    assert_eq!(p[&object_key("a", "p1")], version("u-a", "11"));
    assert_eq!(p[&object_key("b", "p1")], version("u-b", "12"));
    assert_eq!(versions[&res::namespaces().gvr]["a"], version("u-ns", "3"));

    let c2 = fx.factory.resource_versions("c2").await.expect("versions");
    assert_eq!(c2.len(), 1);
    assert_eq!(c2[&res::pods().gvr]["a/p1"], version("u-c2", "99"));
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
    fx.factory
        .clean_cluster("c1", Fence::Unfenced)
        .await
        .expect("clean");
    assert!(fx.factory.current_revision().await.expect("revision") > before);
    assert_eq!(ids(&list(&pods, "").await), strings(&["c2/ns/p"]));
    assert_eq!(ids(&list(&cms, "").await), strings(&["c2/ns/cm"]));
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
    fx.factory
        .clean_cluster("c1", Fence::Unfenced)
        .await
        .expect("clean again");
    fx.factory
        .clean_cluster("nope", Fence::Unfenced)
        .await
        .expect("clean unknown");
    // The cluster can sync again afterwards.
    put(&pods, "c1", &[pod("ns", "p")]).await;
    assert_eq!(
        ids(&list(&pods, "").await),
        strings(&["c1/ns/p", "c2/ns/p"])
    );
}

pub async fn clean_cluster_resource(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    let cms = storage(&fx.factory, res::configmaps()).await;
    for c in ["c1", "c2"] {
        put(&pods, c, &[pod("ns", "p")]).await;
        put(&cms, c, &[configmap("ns", "cm")]).await;
    }
    fx.factory
        .clean_cluster_resource("c1", &res::pods().gvr, Fence::Unfenced)
        .await
        .expect("clean");
    assert_eq!(ids(&list(&pods, "").await), strings(&["c2/ns/p"]));
    assert_eq!(
        ids(&list(&cms, "").await),
        strings(&["c1/ns/cm", "c2/ns/cm"])
    );
    let versions = fx.factory.resource_versions("c1").await.expect("versions");
    assert!(!versions.contains_key(&res::pods().gvr));
    assert!(versions.contains_key(&res::configmaps().gvr));
}

pub async fn fencing_refuses_older_epochs(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    let batch = |name: &str, label: &str| {
        vec![WriteOp::Upsert(
            pod("ns", name).label("by", label).build("c1"),
        )]
    };
    let write = |fence: Fence, ops: Vec<WriteOp>| {
        let pods = std::sync::Arc::clone(&pods);
        async move { pods.apply_batch("c1", fence, ops).await }
    };
    write(Fence::Epoch(4), batch("a", "four"))
        .await
        .expect("first epoch");
    let newer = write(Fence::Epoch(5), batch("a", "five"))
        .await
        .expect("a newer epoch takes over");

    // The deposed writer is refused and writes nothing.
    let err = write(Fence::Epoch(4), batch("a", "four-late"))
        .await
        .expect_err("an older epoch");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(
        err.message().contains("epoch 5") && err.message().contains("\"c1\""),
        "the error names the epoch and the cluster: {}",
        err.message()
    );
    let err = write(
        Fence::Epoch(4),
        vec![
            WriteOp::Upsert(pod("ns", "b").build("c1")),
            delete("ns", "a"),
        ],
    )
    .await
    .expect_err("an older epoch");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(
        fx.factory.current_revision().await.expect("revision"),
        newer.revision
    );
    assert_eq!(ids(&list(&pods, "").await), strings(&["c1/ns/a"]));
    let got = pods.get("c1", "ns", "a").await.expect("get");
    assert_eq!(label_of(&got, "by").as_deref(), Some("five"));

    // The same epoch keeps writing; an empty batch writes nothing and is not refused.
    write(Fence::Epoch(5), batch("b", "five"))
        .await
        .expect("same epoch");
    write(Fence::Epoch(1), Vec::new())
        .await
        .expect("empty batch");
    // Unfenced writers (no leader election) are never refused.
    write(Fence::Unfenced, batch("c", "unfenced"))
        .await
        .expect("unfenced");
    // Epochs are per cluster.
    pods.apply_batch(
        "c2",
        Fence::Epoch(1),
        vec![WriteOp::Upsert(pod("ns", "a").build("c2"))],
    )
    .await
    .expect("another cluster's epochs are its own");
    assert_eq!(
        ids(&list(&pods, "").await),
        strings(&["c1/ns/a", "c1/ns/b", "c1/ns/c", "c2/ns/a"])
    );
    // Epochs are per cluster, not per resource.
    let cms = storage(&fx.factory, res::configmaps()).await;
    let err = cms
        .apply_batch(
            "c1",
            Fence::Epoch(4),
            vec![WriteOp::Upsert(configmap("ns", "cm").build("c1"))],
        )
        .await
        .expect_err("an older epoch, in another resource");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(list(&cms, "").await.items.is_empty());
}

pub async fn fencing_covers_cleaning(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    pods.apply_batch(
        "c1",
        Fence::Epoch(7),
        vec![WriteOp::Upsert(pod("ns", "a").build("c1"))],
    )
    .await
    .expect("write");
    let err = fx
        .factory
        .clean_cluster("c1", Fence::Epoch(6))
        .await
        .expect_err("an older epoch cleans nothing");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let err = fx
        .factory
        .clean_cluster_resource("c1", &res::pods().gvr, Fence::Epoch(6))
        .await
        .expect_err("an older epoch cleans nothing");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(ids(&list(&pods, "").await), strings(&["c1/ns/a"]));

    // A newer epoch cleans, and the cluster remembers it after being cleaned.
    fx.factory
        .clean_cluster("c1", Fence::Epoch(8))
        .await
        .expect("clean");
    assert!(list(&pods, "").await.items.is_empty());
    let err = pods
        .apply_batch(
            "c1",
            Fence::Epoch(7),
            vec![WriteOp::Upsert(pod("ns", "a").build("c1"))],
        )
        .await
        .expect_err("the epoch outlives the cluster's objects");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(list(&pods, "").await.items.is_empty());
    fx.factory
        .clean_cluster("c1", Fence::Unfenced)
        .await
        .expect("unfenced cleaning is never refused");
}
