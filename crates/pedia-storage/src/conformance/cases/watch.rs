//! Cases for watch: history from a revision (ordered, no gaps, no duplicates), live
//! changes, filtering, the initial-state start of `watch_request`, re-created objects
//! (DELETED then ADDED) and cleaning (a DELETED per object).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use crate::conformance::Fixture;
use crate::conformance::fixtures::*;
use crate::{ResourceStorage, Revision, WatchEvent, WatchEventType, WatchStream, WriteOp};

const TIMEOUT: Duration = Duration::from_secs(20);

/// Reads events until one reaches revision `until` (panics after a timeout).
async fn collect_until(stream: &mut WatchStream, until: Revision) -> Vec<WatchEvent> {
    let mut events = Vec::new();
    if until == 0 {
        return events;
    }
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no event reached revision {until}; got {events:?}"));
        let event = next.expect("stream ended early").expect("watch error");
        let rev = event.revision;
        events.push(event);
        if rev >= until {
            return events;
        }
    }
}

/// Reads `n` events (panics after a timeout).
async fn collect_n(stream: &mut WatchStream, n: usize) -> Vec<WatchEvent> {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while events.len() < n {
        let next = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("fewer than {n} events arrived: {events:?}"));
        events.push(next.expect("stream ended early").expect("watch error"));
    }
    events
}

/// Asserts no further event arrives within a short grace period.
async fn assert_quiet(stream: &mut WatchStream) {
    if let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(1500), stream.next()).await
    {
        panic!("unexpected event {event:?}");
    }
}

fn summary(events: &[WatchEvent]) -> Vec<(String, &'static str)> {
    events
        .iter()
        .map(|e| (item_id(&e.object), e.event_type.as_str()))
        .collect()
}

fn assert_increasing(events: &[WatchEvent]) {
    for pair in events.windows(2) {
        assert!(
            pair[0].revision < pair[1].revision,
            "revisions must strictly increase: {} then {}",
            pair[0].revision,
            pair[1].revision
        );
    }
}

pub async fn watch_from_revision_is_ordered_without_gaps(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    put(&pods, "c1", &[pod("ns", "before").rv(1)]).await;
    let start = fx.factory.current_revision().await.expect("revision");

    // A history with creates, updates and deletes, across batches and clusters.
    put(&pods, "c1", &[pod("ns", "a").rv(2), pod("ns", "b").rv(2)]).await;
    put(&pods, "c2", &[pod("ns", "a").rv(5)]).await;
    pods.apply_batch(
        "c1",
        crate::Fence::Unfenced,
        vec![
            WriteOp::Upsert(pod("ns", "a").rv(3).label("step", "two").build("c1")),
            delete("ns", "b"),
            delete("ns", "before"),
        ],
    )
    .await
    .expect("batch");
    let end = put(&pods, "c1", &[pod("ns", "c").rv(6)]).await.revision;
    assert_eq!(end, start + 7, "seven changes, seven revisions");

    let mut stream = pods.watch(&query(""), start).await.expect("watch");
    let events = collect_until(&mut stream, end).await;
    assert_increasing(&events);
    assert!(
        events
            .iter()
            .all(|e| e.revision > start && e.revision <= end)
    );

    // Every object's last event is its final state; deleted objects end deleted.
    let mut last: BTreeMap<String, &WatchEvent> = BTreeMap::new();
    for e in &events {
        last.insert(item_id(&e.object), e);
    }
    assert_eq!(
        last.keys().cloned().collect::<Vec<_>>(),
        sorted(&["c1/ns/a", "c1/ns/b", "c1/ns/before", "c1/ns/c", "c2/ns/a"])
    );
    for id in ["c1/ns/b", "c1/ns/before"] {
        assert_eq!(last[id].event_type, WatchEventType::Deleted, "{id}");
    }
    for (cluster, name) in [("c1", "a"), ("c1", "c"), ("c2", "a")] {
        let e = last[&format!("{cluster}/ns/{name}")];
        assert_ne!(e.event_type, WatchEventType::Deleted);
        assert_eq!(
            e.object,
            pods.get(cluster, "ns", name).await.expect("get"),
            "{cluster}/{name}"
        );
    }
    // Objects created after `start` are never reported as MODIFIED-only without a prior
    // state: c1/ns/c is new.
    assert_eq!(last["c1/ns/c"].event_type, WatchEventType::Added);
    // No object is reported twice at the same revision, and nothing from before `start`.
    assert!(!summary(&events).contains(&("c1/ns/before".to_owned(), "ADDED")));
    assert_quiet(&mut stream).await;

    // Watching from the end yields nothing until the next change.
    let mut tail = pods.watch(&query(""), end).await.expect("watch");
    let next = put(&pods, "c2", &[pod("ns", "z").rv(7)]).await.revision;
    let events = collect_until(&mut tail, next).await;
    assert_eq!(summary(&events), vec![("c2/ns/z".to_owned(), "ADDED")]);
}

pub async fn watch_delivers_live_changes(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    let start = fx.factory.current_revision().await.expect("revision");
    let mut stream = pods.watch(&query(""), start).await.expect("watch");

    let writer = {
        let pods: Arc<dyn ResourceStorage> = Arc::clone(&pods);
        tokio::spawn(async move {
            let mut last = 0;
            for i in 0..20u64 {
                last = put(&pods, "c1", &[pod("ns", &format!("p{}", i % 5)).rv(10 + i)])
                    .await
                    .revision;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            last
        })
    };
    let last = writer.await.expect("writer");
    let events = collect_until(&mut stream, last).await;
    assert_increasing(&events);
    // The first event of each object is ADDED, its final state is the stored one.
    let mut first_seen = BTreeMap::new();
    for e in &events {
        first_seen.entry(item_id(&e.object)).or_insert(e.event_type);
    }
    assert_eq!(first_seen.len(), 5);
    assert!(
        first_seen.values().all(|t| *t == WatchEventType::Added),
        "{first_seen:?}"
    );
    let final_p4 = events
        .iter()
        .rev()
        .find(|e| item_id(&e.object) == "c1/ns/p4")
        .expect("p4");
    assert_eq!(
        final_p4.object,
        pods.get("c1", "ns", "p4").await.expect("get")
    );
    // Watchers of other resources see nothing.
    let mut cms = storage(&fx.factory, res::configmaps())
        .await
        .watch(&query(""), start)
        .await
        .expect("watch");
    assert_quiet(&mut cms).await;
}

pub async fn watch_filters_cluster_namespace_labels(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    let start = fx.factory.current_revision().await.expect("revision");
    let opts = query("clusters=c1&namespaces=ns1&labelSelector=app=web");
    let mut stream = pods.watch(&opts, start).await.expect("watch");

    put(
        &pods,
        "c2",
        &[pod("ns1", "other-cluster").label("app", "web")],
    )
    .await;
    put(&pods, "c1", &[pod("ns2", "other-ns").label("app", "web")]).await;
    put(&pods, "c1", &[pod("ns1", "other-label").label("app", "db")]).await;
    put(
        &pods,
        "c1",
        &[pod("ns1", "match").label("app", "web").rv(1)],
    )
    .await;
    let del = pods
        .apply_batch(
            "c1",
            crate::Fence::Unfenced,
            vec![delete("ns1", "match"), delete("ns1", "other-label")],
        )
        .await
        .expect("delete")
        .revision;

    // Only `match` is seen. A layer may coalesce its creation away (it was deleted before
    // the watcher read it) but never its deletion.
    let events = collect_until(&mut stream, del - 1).await;
    let seen = summary(&events);
    assert!(seen.iter().all(|(id, _)| id == "c1/ns1/match"), "{seen:?}");
    assert_eq!(seen.last().map(|(_, t)| *t), Some("DELETED"), "{seen:?}");
    assert!(
        seen.len() <= 2 && (seen.len() == 1 || seen[0].1 == "ADDED"),
        "{seen:?}"
    );
    assert_quiet(&mut stream).await;

    // Field selectors and names filter watches too.
    let mut by_name = pods
        .watch(&query("fieldSelector=metadata.name=x"), del)
        .await
        .expect("watch");
    put(&pods, "c1", &[pod("ns1", "y")]).await;
    let rev = put(&pods, "c1", &[pod("ns1", "x")]).await.revision;
    assert_eq!(
        summary(&collect_until(&mut by_name, rev).await),
        vec![("c1/ns1/x".to_owned(), "ADDED")]
    );
}

pub async fn watch_request_sends_initial_state(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    put(
        &pods,
        "c1",
        &[pod("ns", "a").label("app", "web"), pod("ns", "b")],
    )
    .await;
    let opts = query("labelSelector=app=web");
    let mut stream = crate::watch_request(pods.as_ref(), &opts)
        .await
        .expect("watch");
    let first = tokio::time::timeout(TIMEOUT, stream.next())
        .await
        .expect("initial event")
        .expect("stream")
        .expect("event");
    assert_eq!(
        (item_id(&first.object), first.event_type),
        ("c1/ns/a".to_owned(), WatchEventType::Added)
    );
    let rev = put(&pods, "c1", &[pod("ns", "c").label("app", "web")])
        .await
        .revision;
    assert_eq!(
        summary(&collect_until(&mut stream, rev).await),
        vec![("c1/ns/c".to_owned(), "ADDED")]
    );

    // An explicit resourceVersion starts after it; a bad one is a bad request.
    let mut after = crate::watch_request(pods.as_ref(), &query(&format!("resourceVersion={rev}")))
        .await
        .expect("watch");
    let rev2 = put(&pods, "c1", &[pod("ns", "d")]).await.revision;
    assert_eq!(
        summary(&collect_until(&mut after, rev2).await),
        vec![("c1/ns/d".to_owned(), "ADDED")]
    );
    let err = crate::watch_request(pods.as_ref(), &query("resourceVersion=abc"))
        .await
        .err()
        .expect("bad resourceVersion");
    assert_eq!(err.kind(), crate::ErrorKind::BadRequest);
}

fn uid_of(raw: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(raw).expect("json");
    v["metadata"]["uid"].as_str().unwrap_or_default().to_owned()
}

fn typed_uids(events: &[WatchEvent]) -> Vec<(&'static str, String)> {
    events
        .iter()
        .map(|e| (e.event_type.as_str(), uid_of(&e.object)))
        .collect()
}

pub async fn recreated_object_is_deleted_then_added(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    put(
        &pods,
        "c1",
        &[pod("ns", "p").uid("old").rv(40).label("app", "web")],
    )
    .await;
    let start = fx.factory.current_revision().await.expect("revision");
    let mut stream = pods.watch(&query(""), start).await.expect("watch");
    let mut labelled = pods
        .watch(&query("labelSelector=app=web"), start)
        .await
        .expect("watch");

    // Another object under the same name, with a lower version: not a modification.
    let out = put(
        &pods,
        "c1",
        &[pod("ns", "p").uid("new").rv(2).label("app", "web")],
    )
    .await;
    assert_eq!(out.revision, start + 2, "a delete and an add");
    let events = collect_until(&mut stream, out.revision).await;
    assert_eq!(
        typed_uids(&events),
        vec![("DELETED", "old".to_owned()), ("ADDED", "new".to_owned())]
    );
    assert_eq!(
        events.iter().map(|e| e.revision).collect::<Vec<_>>(),
        vec![start + 1, start + 2]
    );
    assert_eq!(
        typed_uids(&collect_until(&mut labelled, out.revision).await),
        vec![("DELETED", "old".to_owned()), ("ADDED", "new".to_owned())]
    );

    // The new object changes like any object.
    let next = put(
        &pods,
        "c1",
        &[pod("ns", "p").uid("new").rv(3).label("app", "web")],
    )
    .await
    .revision;
    assert_eq!(
        typed_uids(&collect_until(&mut stream, next).await),
        vec![("MODIFIED", "new".to_owned())]
    );
    assert_quiet(&mut stream).await;
}

/// Pods a, b, c and configmap cm in clusters c1 and c2, each batch in name order (so the
/// creation order is the name order in every layer).
async fn seed_for_cleaning(fx: &Fixture) -> Revision {
    let pods = storage(&fx.factory, res::pods()).await;
    let cms = storage(&fx.factory, res::configmaps()).await;
    for c in ["c1", "c2"] {
        put(
            &pods,
            c,
            &[pod("ns", "a"), pod("ns", "b"), pod("other", "c")],
        )
        .await;
        put(&cms, c, &[configmap("ns", "cm")]).await;
    }
    fx.factory.current_revision().await.expect("revision")
}

fn deleted(ids: &[&str]) -> Vec<(String, &'static str)> {
    ids.iter().map(|id| ((*id).to_owned(), "DELETED")).collect()
}

pub async fn clean_cluster_emits_a_deleted_per_object(fx: &Fixture) {
    let start = seed_for_cleaning(fx).await;
    let pods = storage(&fx.factory, res::pods()).await;
    let cms = storage(&fx.factory, res::configmaps()).await;
    let mut pod_events = pods.watch(&query(""), start).await.expect("watch");
    let mut cm_events = cms.watch(&query(""), start).await.expect("watch");
    let mut c2_events = pods
        .watch(&query("clusters=c2"), start)
        .await
        .expect("watch");
    let stored = list(&pods, "clusters=c1").await.items;

    fx.factory
        .clean_cluster("c1", crate::Fence::Unfenced)
        .await
        .expect("clean");
    let end = fx.factory.current_revision().await.expect("revision");
    assert_eq!(end, start + 4, "one revision per removed object");

    let events = collect_n(&mut pod_events, 3).await;
    assert_eq!(
        summary(&events),
        deleted(&["c1/ns/a", "c1/ns/b", "c1/other/c"])
    );
    assert_increasing(&events);
    assert_eq!(
        events.iter().map(|e| e.object.clone()).collect::<Vec<_>>(),
        stored,
        "each DELETED carries the last stored bytes"
    );
    let cm = collect_n(&mut cm_events, 1).await;
    assert_eq!(summary(&cm), deleted(&["c1/ns/cm"]));
    assert!(
        events
            .iter()
            .chain(&cm)
            .all(|e| e.revision > start && e.revision <= end)
    );
    assert_quiet(&mut pod_events).await;
    assert_quiet(&mut c2_events).await;
}

pub async fn clean_cluster_resource_emits_a_deleted_per_object(fx: &Fixture) {
    let start = seed_for_cleaning(fx).await;
    let pods = storage(&fx.factory, res::pods()).await;
    let cms = storage(&fx.factory, res::configmaps()).await;
    let mut pod_events = pods.watch(&query(""), start).await.expect("watch");
    let mut cm_events = cms.watch(&query(""), start).await.expect("watch");

    fx.factory
        .clean_cluster_resource("c1", &res::pods().gvr, crate::Fence::Unfenced)
        .await
        .expect("clean");
    let end = fx.factory.current_revision().await.expect("revision");
    assert_eq!(end, start + 3, "one revision per removed pod");
    let events = collect_n(&mut pod_events, 3).await;
    assert_eq!(
        summary(&events),
        deleted(&["c1/ns/a", "c1/ns/b", "c1/other/c"])
    );
    assert_increasing(&events);
    assert_eq!(
        ids(&list(&pods, "").await),
        strings(&["c2/ns/a", "c2/ns/b", "c2/other/c"])
    );
    assert_quiet(&mut pod_events).await;
    assert_quiet(&mut cm_events).await;
}
