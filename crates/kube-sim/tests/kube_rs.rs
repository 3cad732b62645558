//! kube-rs against the simulator, as the synchro manager uses it: paginated lists, watches
//! from a resourceVersion, `kube::runtime::watcher` recovering from a compaction by
//! relisting, optimistic concurrency (409 on stale writes), status patches of custom
//! resources, and Leases for leader election.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{client, fixture_text, start};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use kube::runtime::watcher;
use serde_json::json;

fn config_map(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default", "labels": {"app": "kube-rs"}}, "data": {"n": name}})
}

#[tokio::test]
async fn list_with_pagination() {
    let sim = start();
    for i in 0..7 {
        sim.store()
            .create(config_map(&format!("cm-{i}")))
            .expect("created");
    }
    let api: Api<ConfigMap> = Api::namespaced(client(&sim).await, "default");
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    let mut revisions = BTreeSet::new();
    loop {
        let mut lp = ListParams::default().limit(2);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await.expect("page");
        pages += 1;
        revisions.insert(page.metadata.resource_version.clone());
        if pages == 1 {
            assert_eq!(page.metadata.remaining_item_count, Some(5));
            // Writes between pages do not show up: pages read the first page's snapshot.
            sim.store()
                .create(config_map("cm-9-late"))
                .expect("created");
        }
        names.extend(page.items.into_iter().filter_map(|c| c.metadata.name));
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(names, (0..7).map(|i| format!("cm-{i}")).collect::<Vec<_>>());
    assert_eq!(
        revisions.len(),
        1,
        "every page reports the snapshot's version"
    );

    // A continue token whose snapshot was compacted is 410 Gone.
    let first = api
        .list(&ListParams::default().limit(2))
        .await
        .expect("page");
    sim.faults().compact();
    let token = first.metadata.continue_.expect("more pages");
    let err = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .expect_err("expired");
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 410);
            assert_eq!(s.reason, "Expired");
            assert!(
                s.message
                    .starts_with("The provided continue parameter is too old"),
                "{}",
                s.message
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn watch_from_a_resource_version() {
    let sim = start();
    let api: Api<ConfigMap> = Api::namespaced(client(&sim).await, "default");
    sim.store().create(config_map("before")).expect("created");
    let list = api.list(&ListParams::default()).await.expect("list");
    let rv = list.metadata.resource_version.expect("rv");
    sim.store().create(config_map("after")).expect("created");
    api.patch(
        "before",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"n": "changed"}})),
    )
    .await
    .expect("patched");
    api.delete("after", &Default::default())
        .await
        .expect("deleted");

    let wp = WatchParams::default().timeout(5).labels("app=kube-rs");
    let mut stream = api.watch(&wp, &rv).await.expect("watch").boxed();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let event = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
            .await
            .expect("in time")
            .expect("no error")
            .expect("an event");
        match event {
            WatchEvent::Added(c) => {
                seen.push(format!("ADDED {}", c.metadata.name.unwrap_or_default()))
            }
            WatchEvent::Modified(c) => {
                seen.push(format!("MODIFIED {}", c.metadata.name.unwrap_or_default()))
            }
            WatchEvent::Deleted(c) => {
                seen.push(format!("DELETED {}", c.metadata.name.unwrap_or_default()))
            }
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(seen, ["ADDED after", "MODIFIED before", "DELETED after"]);

    // Bookmarks carry the current version.
    let mut stream = api
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .expect("watch")
        .boxed();
    let bookmark = loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await {
            Ok(Ok(Some(WatchEvent::Bookmark(b)))) => break b,
            Ok(Ok(Some(_))) => {}
            other => panic!("no bookmark: {other:?}"),
        }
    };
    assert_eq!(
        bookmark.metadata.resource_version,
        sim.store().revision().to_string()
    );

    // timeoutSeconds ends the stream.
    let started = std::time::Instant::now();
    let mut short = api
        .watch(
            &WatchParams::default().timeout(1),
            &sim.store().revision().to_string(),
        )
        .await
        .expect("watch")
        .boxed();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = short.try_next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the watch outlived its timeout");
    assert!(started.elapsed() >= Duration::from_millis(900));

    // A version older than the history: an ERROR event with 410 in the stream.
    sim.faults().compact();
    let mut stream = api
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .expect("watch")
        .boxed();
    match stream.try_next().await {
        Ok(Some(WatchEvent::Error(e))) => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
            assert!(
                e.message.starts_with("too old resource version"),
                "{}",
                e.message
            );
        }
        other => panic!("expected 410: {other:?}"),
    }
}

#[tokio::test]
async fn watcher_relists_after_compaction() {
    let sim = start();
    for i in 0..3 {
        sim.store()
            .create(config_map(&format!("cm-{i}")))
            .expect("created");
    }
    let api: Api<ConfigMap> = Api::namespaced(client(&sim).await, "default");
    let mut events = watcher(api, watcher::Config::default().page_size(2)).boxed();
    let mut inits = 0;
    let mut names = BTreeSet::new();
    let mut phase = 0;
    let outcome = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Init) => {
                    inits += 1;
                    names.clear();
                }
                Ok(watcher::Event::InitApply(c) | watcher::Event::Apply(c)) => {
                    names.insert(c.metadata.name.unwrap_or_default());
                }
                Ok(watcher::Event::Delete(c)) => {
                    names.remove(&c.metadata.name.unwrap_or_default());
                }
                Ok(watcher::Event::InitDone) => {
                    if phase == 0 {
                        // Watching now; compact, then change things while it relists.
                        phase = 1;
                        sim.faults().compact();
                        sim.store().create(config_map("cm-new")).expect("created");
                        sim.store()
                            .delete("configmaps", Some("default"), "cm-0")
                            .expect("deleted");
                    }
                }
                Err(_) => {}
            }
            let want: BTreeSet<String> = ["cm-1", "cm-2", "cm-new"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            if phase == 1 && inits >= 2 && names == want {
                return;
            }
        }
    })
    .await;
    assert!(
        outcome.is_ok(),
        "did not converge: inits={inits}, names={names:?}"
    );
    assert!(inits >= 2, "the watcher relisted");
    assert!(
        sim.faults().request_count("list", "configmaps") >= 4,
        "two paginated lists"
    );
}

#[tokio::test]
async fn stale_writes_conflict() {
    let sim = start();
    let api: Api<ConfigMap> = Api::namespaced(client(&sim).await, "default");
    let cm: ConfigMap = serde_json::from_value(config_map("shared")).expect("typed");
    let created = api
        .create(&PostParams::default(), &cm)
        .await
        .expect("created");
    let err = api
        .create(&PostParams::default(), &cm)
        .await
        .expect_err("exists");
    match err {
        kube::Error::Api(s) => assert_eq!(
            (s.code, s.reason.as_str(), s.message.as_str()),
            (409, "AlreadyExists", "configmaps \"shared\" already exists")
        ),
        other => panic!("{other:?}"),
    }
    let mut first = created.clone();
    first.data = Some([("n".to_owned(), "first".to_owned())].into());
    api.replace("shared", &PostParams::default(), &first)
        .await
        .expect("replaced");
    let mut second = created;
    second.data = Some([("n".to_owned(), "second".to_owned())].into());
    match api
        .replace("shared", &PostParams::default(), &second)
        .await
        .expect_err("stale")
    {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
            assert!(
                s.message.contains("the object has been modified"),
                "{}",
                s.message
            );
        }
        other => panic!("{other:?}"),
    }
    let current = api.get("shared").await.expect("get");
    assert_eq!(
        current.data.and_then(|d| d.get("n").cloned()).as_deref(),
        Some("first")
    );
}

#[tokio::test]
async fn patch_status_of_a_custom_resource() {
    let sim = start();
    let crd: serde_json::Value =
        serde_yaml_ng::from_str(&fixture_text("crd-widget.yaml")).expect("crd");
    sim.store().create(crd).expect("crd created");
    let widget: serde_json::Value =
        serde_yaml_ng::from_str(&fixture_text("widget.yaml")).expect("widget");
    let created = sim.store().create(widget).expect("widget created");
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client(&sim).await, "default", &resource);
    let status = json!({"status": {"phase": "Ready", "observedGeneration": 1}});
    let patched = api
        .patch_status("gizmo", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status patched");
    assert_eq!(patched.data["status"]["phase"], "Ready");
    assert_eq!(
        patched.metadata.generation,
        Some(1),
        "status changes keep the generation"
    );
    assert_ne!(
        patched.metadata.resource_version,
        created["metadata"]["resourceVersion"]
            .as_str()
            .map(str::to_owned)
    );
    // The main resource ignores status; the status subresource ignores everything else.
    let spec_and_status = json!({"spec": {"size": 9}, "status": {"phase": "Ignored"}});
    let main = api
        .patch(
            "gizmo",
            &PatchParams::default(),
            &Patch::Merge(&spec_and_status),
        )
        .await
        .expect("patched");
    assert_eq!(
        (
            main.data["spec"]["size"].as_i64(),
            main.data["status"]["phase"].as_str()
        ),
        (Some(9), Some("Ready"))
    );
    assert_eq!(main.metadata.generation, Some(2));
    let status_only = api.get_status("gizmo").await.expect("status");
    assert_eq!(status_only.data["status"]["phase"], "Ready");
    // Custom resources take no strategic merge patch.
    match api
        .patch(
            "gizmo",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"size": 1}})),
        )
        .await
    {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 415),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn leases_for_leader_election() {
    let sim = start();
    let api: Api<Lease> = Api::namespaced(client(&sim).await, "kube-system");
    let lease: Lease = serde_yaml_ng::from_str(&fixture_text("lease.yaml")).expect("lease");
    let created = api
        .create(&PostParams::default(), &lease)
        .await
        .expect("created");
    // Two candidates read the same version; only the first renewal wins.
    let mut a = created.clone();
    a.spec.as_mut().expect("spec").holder_identity = Some("replica-a".into());
    a.spec.as_mut().expect("spec").lease_transitions = Some(1);
    let mut b = created;
    b.spec.as_mut().expect("spec").holder_identity = Some("replica-b".into());
    let renewed = api
        .replace("leader", &PostParams::default(), &a)
        .await
        .expect("a renews");
    match api.replace("leader", &PostParams::default(), &b).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 409),
        other => panic!("b must lose: {other:?}"),
    }
    let mut b = renewed;
    b.spec.as_mut().expect("spec").holder_identity = Some("replica-b".into());
    let taken = api
        .replace("leader", &PostParams::default(), &b)
        .await
        .expect("b takes over");
    assert_eq!(
        taken.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("replica-b")
    );
    // Leases may be created through PUT, as kube allows for them.
    let mut other: Lease = serde_yaml_ng::from_str(&fixture_text("lease.yaml")).expect("lease");
    other.metadata.name = Some("other".into());
    api.replace("other", &PostParams::default(), &other)
        .await
        .expect("created by PUT");
    assert!(api.get("other").await.is_ok());
}

#[tokio::test]
async fn watcher_with_streaming_lists() {
    let sim = start();
    for i in 0..3 {
        sim.store()
            .create(config_map(&format!("cm-{i}")))
            .expect("created");
    }
    let api: Api<ConfigMap> = Api::namespaced(client(&sim).await, "default");
    // sendInitialEvents=true: ADDED events, then the initial-events-end bookmark.
    let mut events = watcher(api, watcher::Config::default().streaming_lists()).boxed();
    let mut initial = BTreeSet::new();
    let converged = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = events.next().await {
            match event.expect("no errors") {
                watcher::Event::InitApply(c) => {
                    initial.insert(c.metadata.name.unwrap_or_default());
                }
                watcher::Event::InitDone => {
                    sim.store().create(config_map("cm-late")).expect("created");
                }
                watcher::Event::Apply(c) => return c.metadata.name,
                _ => {}
            }
        }
        None
    })
    .await
    .expect("in time");
    assert_eq!(initial.len(), 3);
    assert_eq!(converged.as_deref(), Some("cm-late"));
    assert_eq!(
        sim.faults().request_count("list", "configmaps"),
        0,
        "no list at all"
    );
}
