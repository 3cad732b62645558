//! Cases for object contents and cross-resource operations: large and unicode objects,
//! list revisions, collection resources, stored-resource discovery.

use serde_json::Value;

use crate::conformance::Fixture;
use crate::conformance::cases::filters::urlencode;
use crate::conformance::fixtures::*;
use crate::{CollectionResource, StoredResource, WriteOp};

pub async fn large_objects_round_trip(fx: &Fixture) {
    let cms = storage(&fx.factory, res::configmaps()).await;
    // 1.5 MB of data with varied content, so no layer can cheat by compression alone.
    let blob: String = (0..1_500_000u32)
        .map(|i| char::from(b'a' + ((i * 7 + i / 13) % 26) as u8))
        .collect();
    let big = configmap("ns", "big")
        .data("blob", &blob)
        .label("size", "large");
    let object = big.build("c1");
    assert!(object.raw.len() > 1_500_000);
    cms.apply_batch(
        "c1",
        crate::Fence::Unfenced,
        vec![WriteOp::Upsert(object.clone())],
    )
    .await
    .expect("write a 1.5 MB object");
    put(&cms, "c1", &[configmap("ns", "small")]).await;

    assert_eq!(cms.get("c1", "ns", "big").await.expect("get"), object.raw);
    let listed = list(&cms, "labelSelector=size=large").await;
    assert_eq!(listed.items, vec![object.raw.clone()]);
    let all = list(&cms, "").await;
    assert_eq!(all.items.len(), 2);

    // Several large objects in one batch.
    let ops = (0..3)
        .map(|i| {
            WriteOp::Upsert(
                configmap("ns", &format!("big-{i}"))
                    .data("blob", &blob)
                    .build("c1"),
            )
        })
        .collect();
    let out = cms
        .apply_batch("c1", crate::Fence::Unfenced, ops)
        .await
        .expect("batch of large objects");
    assert_eq!(out.written, 3);
}

pub async fn unicode_content(fx: &Fixture) {
    let cms = storage(&fx.factory, res::configmaps()).await;
    let object = configmap("ns", "intl")
        .annotation("note", "héllo-wörld")
        .annotation("emoji", "🚀✨")
        .data("poem", "静かな湖\n\t\"quoted\" \\ backslash \u{0}nul");
    let built = object.build("c1");
    cms.apply_batch(
        "c1",
        crate::Fence::Unfenced,
        vec![WriteOp::Upsert(built.clone())],
    )
    .await
    .expect("write");
    put(
        &cms,
        "c1",
        &[configmap("ns", "plain").annotation("note", "hello")],
    )
    .await;

    let got = cms.get("c1", "ns", "intl").await.expect("get");
    assert_eq!(got, built.raw, "bytes are kept exactly");
    let v: Value = serde_json::from_slice(&got).expect("json");
    assert_eq!(v["data"]["multilingual"], "こんにちは世界 — Grüße, мир, 🌍");

    let q = format!(
        "fieldSelector={}",
        urlencode("metadata.annotations['note']=héllo-wörld")
    );
    assert_eq!(sorted_ids(&list(&cms, &q).await), strings(&["c1/ns/intl"]));
    let q = format!(
        "fieldSelector={}",
        urlencode("metadata.annotations['emoji']!=🚀✨")
    );
    assert_eq!(sorted_ids(&list(&cms, &q).await), strings(&["c1/ns/plain"]));
}

pub async fn list_revision_tracks_writes(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    let empty = list(&pods, "").await;
    let first = put(&pods, "c1", &[pod("ns", "a")]).await;
    assert!(first.revision > empty.revision);
    let listed = list(&pods, "").await;
    assert_eq!(listed.revision, first.revision);
    assert_eq!(
        fx.factory.current_revision().await.expect("revision"),
        first.revision
    );
    // Writes to another resource advance the same revision.
    let cms = storage(&fx.factory, res::configmaps()).await;
    let second = put(&cms, "c1", &[configmap("ns", "cm")]).await;
    assert!(second.revision > first.revision);
    assert_eq!(list(&pods, "").await.revision, second.revision);
}

pub async fn collection_lists_across_resources(fx: &Fixture) {
    let deploys = storage(&fx.factory, res::deployments()).await;
    let sts = storage(&fx.factory, res::statefulsets()).await;
    let pods = storage(&fx.factory, res::pods()).await;
    let apps = storage(&fx.factory, res::applications()).await;
    put(
        &deploys,
        "c1",
        &[
            deployment("ns", "web").label("team", "a"),
            deployment("ns", "api"),
        ],
    )
    .await;
    put(
        &deploys,
        "c2",
        &[deployment("ns", "web").label("team", "a")],
    )
    .await;
    put(&sts, "c1", &[statefulset("ns", "db").label("team", "a")]).await;
    put(&pods, "c1", &[pod("ns", "web-x").label("team", "a")]).await;
    put(&apps, "c1", &[application("ns", "shop").label("team", "a")]).await;

    let collections = fx
        .factory
        .collection_resources()
        .await
        .expect("collections");
    let find = |name: &str| -> CollectionResource {
        collections
            .iter()
            .find(|c| c.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("collection {name}"))
    };
    let item_ids = |list: &crate::CollectionList| -> Vec<String> {
        list.items
            .iter()
            .map(|i| format!("{}:{}", i.resource.gvr.resource, item_id(&i.object)))
            .collect()
    };

    let workloads = find(CollectionResource::WORKLOADS);
    let all = fx
        .factory
        .list_collection(&workloads, &query(""))
        .await
        .expect("workloads");
    let mut got = item_ids(&all);
    got.sort();
    assert_eq!(
        got,
        sorted(&[
            "deployments:c1/ns/api",
            "deployments:c1/ns/web",
            "deployments:c2/ns/web",
            "statefulsets:c1/ns/db"
        ])
    );
    for item in &all.items {
        let v: Value = serde_json::from_slice(&item.object).expect("json");
        assert_eq!(v["kind"].as_str(), Some(item.resource.kind.as_str()));
    }

    // Filters, metadata-only and paging work across resources.
    let opts = query("labelSelector=team=a&onlyMetadata=true&limit=1&clusters=c1");
    let page = fx
        .factory
        .list_collection(&workloads, &opts)
        .await
        .expect("page");
    assert_eq!(page.items.len(), 1);
    let token = page.continue_token.clone().expect("cut short");
    let mut next = opts.clone();
    next.continue_token = Some(token);
    let rest = fx
        .factory
        .list_collection(&workloads, &next)
        .await
        .expect("page 2");
    assert!(rest.continue_token.is_none());
    let mut got = item_ids(&page);
    got.extend(item_ids(&rest));
    got.sort();
    assert_eq!(
        got,
        sorted(&["deployments:c1/ns/web", "statefulsets:c1/ns/db"])
    );
    for item in page.items.iter().chain(&rest.items) {
        let v: Value = serde_json::from_slice(&item.object).expect("json");
        assert!(v.get("spec").is_none());
    }

    let kube = fx
        .factory
        .list_collection(
            &find(CollectionResource::KUBE_RESOURCES),
            &query("labelSelector=team=a"),
        )
        .await
        .expect("kuberesources");
    assert_eq!(
        kube.items.len(),
        4,
        "the custom resource is not a kube resource"
    );
    let any = fx
        .factory
        .list_collection(
            &find(CollectionResource::ANY),
            &query("labelSelector=team=a"),
        )
        .await
        .expect("any");
    assert_eq!(any.items.len(), 5);
}

pub async fn stored_resources_lists_types_and_clusters(fx: &Fixture) {
    assert!(
        fx.factory
            .stored_resources()
            .await
            .expect("stored")
            .is_empty()
    );
    let pods = storage(&fx.factory, res::pods()).await;
    let nss = storage(&fx.factory, res::namespaces()).await;
    put(&pods, "c1", &[pod("ns", "a")]).await;
    put(&pods, "c2", &[pod("ns", "a")]).await;
    put(&nss, "c2", &[namespace("ns")]).await;

    let mut stored = fx.factory.stored_resources().await.expect("stored");
    stored.sort_by(|a, b| a.resource.gvr.cmp(&b.resource.gvr));
    assert_eq!(
        stored,
        vec![
            StoredResource {
                resource: res::namespaces(),
                clusters: vec!["c2".to_owned()]
            },
            StoredResource {
                resource: res::pods(),
                clusters: vec!["c1".to_owned(), "c2".to_owned()]
            },
        ]
    );
    fx.factory
        .clean_cluster("c2", crate::Fence::Unfenced)
        .await
        .expect("clean");
    let stored = fx.factory.stored_resources().await.expect("stored");
    assert_eq!(
        stored,
        vec![StoredResource {
            resource: res::pods(),
            clusters: vec!["c1".to_owned()]
        }]
    );
}

/// A caller may drop any call at any await point (an HTTP client that goes away, a watcher
/// that leaves): the layer stays usable, loses nothing that was committed, and shuts down
/// (the runner bounds the shutdown). Lists, gets, watches and writes are abandoned after
/// growing delays, so some are dropped while their reply is still being read.
pub async fn calls_dropped_midway_leave_the_layer_usable(fx: &Fixture) {
    use futures::StreamExt;
    use std::time::Duration;

    let cms = storage(&fx.factory, res::configmaps()).await;
    // Large enough that a list arrives in many network packets.
    let blob = "x".repeat(32 * 1024);
    let objects: Vec<_> = (0..40)
        .map(|i| configmap("ns", &format!("cm-{i:02}")).data("blob", &blob))
        .collect();
    put(&cms, "c1", &objects).await;
    let stored = list(&cms, "").await;
    let from = fx.factory.current_revision().await.expect("revision");

    for step in 0..50u64 {
        let delay = Duration::from_micros(step * 300);
        let _ = tokio::time::timeout(delay, cms.list(&query(""))).await;
        let _ = tokio::time::timeout(delay, cms.get("c1", "ns", "cm-07")).await;
        let _ = tokio::time::timeout(delay, async {
            let mut events = cms.watch(&query(""), from).await?;
            events.next().await;
            Ok::<_, crate::StorageError>(())
        })
        .await;
        let churn = configmap("ns", "churn")
            .label("step", &step.to_string())
            .build("c1");
        let _ = tokio::time::timeout(
            delay,
            cms.apply_batch("c1", crate::Fence::Unfenced, vec![WriteOp::Upsert(churn)]),
        )
        .await;
    }

    // What was committed before is intact; an abandoned write either landed whole or not.
    let after = list(&cms, "labelSelector=!step").await;
    assert_eq!(after.items, stored.items);
    let seventh = ids(&stored)
        .iter()
        .position(|id| id == "c1/ns/cm-07")
        .expect("cm-07 listed");
    assert_eq!(
        cms.get("c1", "ns", "cm-07").await.expect("get"),
        stored.items[seventh]
    );
    let churned = list(&cms, "labelSelector=step").await;
    assert!(churned.items.len() <= 1, "one churn object at most");
    // And the layer still takes writes and serves them to a new watch.
    let start = fx.factory.current_revision().await.expect("revision");
    let mut events = cms.watch(&query(""), start).await.expect("watch");
    put(&cms, "c1", &[configmap("ns", "after")]).await;
    // An abandoned write may still commit meanwhile: it is the only other event allowed.
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .expect("an event after the abandoned calls")
            .expect("stream open")
            .expect("event");
        match item_id(&event.object).as_str() {
            "c1/ns/after" => break,
            "c1/ns/churn" => {}
            other => panic!("unexpected event for {other}"),
        }
    }
}
