//! Cases for reading and filtering: get, cluster/namespace/name filters, label and field
//! selectors, extra labels, fuzzy names, creation-time windows, metadata-only listing.

use serde_json::Value;

use crate::conformance::Fixture;
use crate::conformance::fixtures::*;
use crate::error::ErrorKind;

pub async fn get_returns_stored_bytes(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    let object = pod("ns1", "web-0").label("app", "web").build("c1");
    pods.apply_batch(
        "c1",
        crate::Fence::Unfenced,
        vec![crate::WriteOp::Upsert(object.clone())],
    )
    .await
    .expect("write");

    let got = pods.get("c1", "ns1", "web-0").await.expect("get");
    assert_eq!(
        got, object.raw,
        "get must return the stored bytes unchanged"
    );

    for (cluster, ns, name) in [
        ("c2", "ns1", "web-0"),
        ("c1", "ns2", "web-0"),
        ("c1", "ns1", "web-1"),
    ] {
        let err = pods
            .get(cluster, ns, name)
            .await
            .expect_err("absent object");
        assert_eq!(err.kind(), ErrorKind::NotFound, "{cluster}/{ns}/{name}");
    }
}

async fn seed_grid(fx: &Fixture) -> std::sync::Arc<dyn crate::ResourceStorage> {
    let pods = storage(&fx.factory, res::pods()).await;
    for cluster in ["c1", "c2"] {
        put(
            &pods,
            cluster,
            &[
                pod("a", "p1"),
                pod("a", "p2"),
                pod("b", "p1"),
                pod("b", "p3"),
            ],
        )
        .await;
    }
    pods
}

pub async fn list_filters_clusters_namespaces_names(fx: &Fixture) {
    let pods = seed_grid(fx).await;
    let all = list(&pods, "").await;
    assert_eq!(all.items.len(), 8);

    assert_eq!(
        sorted_ids(&list(&pods, "clusters=c2").await),
        sorted(&["c2/a/p1", "c2/a/p2", "c2/b/p1", "c2/b/p3"])
    );
    assert_eq!(
        sorted_ids(&list(&pods, "namespaces=b").await),
        sorted(&["c1/b/p1", "c1/b/p3", "c2/b/p1", "c2/b/p3"])
    );
    assert_eq!(
        sorted_ids(&list(&pods, "names=p1,p3").await),
        sorted(&[
            "c1/a/p1", "c1/b/p1", "c1/b/p3", "c2/a/p1", "c2/b/p1", "c2/b/p3"
        ])
    );
    assert_eq!(
        sorted_ids(&list(&pods, "clusters=c1&namespaces=a,b&names=p1").await),
        sorted(&["c1/a/p1", "c1/b/p1"])
    );
    assert_eq!(
        sorted_ids(&list(
            &pods,
            "labelSelector=search.clusterpedia.io/clusters%20in%20(c1),search.clusterpedia.io/namespaces=a"
        )
        .await),
        sorted(&["c1/a/p1", "c1/a/p2"])
    );
    assert!(list(&pods, "clusters=c9").await.items.is_empty());
    assert!(list(&pods, "names=nope").await.items.is_empty());
}

pub async fn same_name_in_two_clusters(fx: &Fixture) {
    let cms = storage(&fx.factory, res::configmaps()).await;
    put(
        &cms,
        "c1",
        &[configmap("ns", "settings").data("who", "one")],
    )
    .await;
    put(
        &cms,
        "c2",
        &[configmap("ns", "settings").data("who", "two")],
    )
    .await;

    let who = |raw: &[u8]| -> String {
        let v: Value = serde_json::from_slice(raw).expect("json");
        v["data"]["who"].as_str().expect("who").to_owned()
    };
    assert_eq!(
        who(&cms.get("c1", "ns", "settings").await.expect("c1")),
        "one"
    );
    assert_eq!(
        who(&cms.get("c2", "ns", "settings").await.expect("c2")),
        "two"
    );
    assert_eq!(list(&cms, "").await.items.len(), 2);

    cms.apply_batch("c1", crate::Fence::Unfenced, vec![delete("ns", "settings")])
        .await
        .expect("delete");
    assert_eq!(
        sorted_ids(&list(&cms, "").await),
        strings(&["c2/ns/settings"])
    );
}

pub async fn cluster_scoped_resources(fx: &Fixture) {
    let nss = storage(&fx.factory, res::namespaces()).await;
    put(
        &nss,
        "c1",
        &[
            namespace("kube-system"),
            namespace("default").label("tier", "base"),
        ],
    )
    .await;
    put(&nss, "c2", &[namespace("default")]).await;

    assert!(nss.get("c1", "", "kube-system").await.is_ok());
    assert_eq!(
        sorted_ids(&list(&nss, "").await),
        sorted(&["c1//default", "c1//kube-system", "c2//default"])
    );
    assert_eq!(
        sorted_ids(&list(&nss, "labelSelector=tier=base").await),
        strings(&["c1//default"])
    );
}

async fn seed_labelled(fx: &Fixture) -> std::sync::Arc<dyn crate::ResourceStorage> {
    let pods = storage(&fx.factory, res::pods()).await;
    put(
        &pods,
        "c1",
        &[
            pod("ns", "web-1")
                .label("app", "web")
                .label("tier", "front")
                .label("weight", "10"),
            pod("ns", "web-2")
                .label("app", "web")
                .label("tier", "back")
                .label("weight", "20"),
            pod("ns", "db-1")
                .label("app", "db")
                .label("tier", "back")
                .label("weight", "30"),
            pod("ns", "bare"),
        ],
    )
    .await;
    pods
}

fn names(ids: Vec<String>) -> Vec<String> {
    let mut v: Vec<String> = ids
        .into_iter()
        .map(|id| id.rsplit('/').next().unwrap_or_default().to_owned())
        .collect();
    v.sort();
    v
}

pub async fn label_selector_equality(fx: &Fixture) {
    let pods = seed_labelled(fx).await;
    let q = |s: &str| format!("labelSelector={}", urlencode(s));
    assert_eq!(
        names(ids(&list(&pods, &q("app=web")).await)),
        sorted(&["web-1", "web-2"])
    );
    assert_eq!(
        names(ids(&list(&pods, &q("app==db")).await)),
        sorted(&["db-1"])
    );
    // `!=` also matches objects without the label, as in Kubernetes.
    assert_eq!(
        names(ids(&list(&pods, &q("app!=web")).await)),
        sorted(&["bare", "db-1"])
    );
    assert_eq!(
        names(ids(&list(&pods, &q("app=web,tier=back")).await)),
        sorted(&["web-2"])
    );
    assert!(list(&pods, &q("app=none")).await.items.is_empty());
}

pub async fn label_selector_sets(fx: &Fixture) {
    let pods = seed_labelled(fx).await;
    let q = |s: &str| format!("labelSelector={}", urlencode(s));
    assert_eq!(
        names(ids(&list(&pods, &q("tier in (front,back)")).await)),
        sorted(&["db-1", "web-1", "web-2"])
    );
    assert_eq!(
        names(ids(&list(&pods, &q("tier notin (front)")).await)),
        sorted(&["bare", "db-1", "web-2"])
    );
    assert_eq!(
        names(ids(&list(&pods, &q("app")).await)),
        sorted(&["db-1", "web-1", "web-2"])
    );
    assert_eq!(
        names(ids(&list(&pods, &q("!app")).await)),
        sorted(&["bare"])
    );
    assert_eq!(
        names(ids(&list(
            &pods,
            &q("app in (web,db),tier!=front,!missing")
        )
        .await)),
        sorted(&["db-1", "web-2"])
    );
}

pub async fn label_selector_numeric(fx: &Fixture) {
    let pods = seed_labelled(fx).await;
    let q = |s: &str| format!("labelSelector={}", urlencode(s));
    assert_eq!(
        names(ids(&list(&pods, &q("weight>15")).await)),
        sorted(&["db-1", "web-2"])
    );
    assert_eq!(
        names(ids(&list(&pods, &q("weight<15")).await)),
        sorted(&["web-1"])
    );
    assert_eq!(
        names(ids(&list(&pods, &q("weight>15,weight<25")).await)),
        sorted(&["web-2"])
    );
}

pub async fn field_selector_metadata_columns(fx: &Fixture) {
    let pods = seed_labelled(fx).await;
    put(&pods, "c1", &[pod("other", "web-1")]).await;
    let q = |s: &str| format!("fieldSelector={}", urlencode(s));
    assert_eq!(
        sorted_ids(&list(&pods, &q("metadata.name=web-1")).await),
        sorted(&["c1/ns/web-1", "c1/other/web-1"])
    );
    assert_eq!(
        sorted_ids(&list(&pods, &q("metadata.namespace=other")).await),
        strings(&["c1/other/web-1"])
    );
    assert_eq!(
        sorted_ids(&list(&pods, &q("metadata.namespace!=ns")).await),
        strings(&["c1/other/web-1"])
    );
    assert_eq!(
        names(ids(&list(&pods, &q("metadata.name in (db-1,bare)")).await)),
        sorted(&["bare", "db-1"])
    );
}

pub async fn field_selector_status_and_annotations(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    put(
        &pods,
        "c1",
        &[
            pod("ns", "running")
                .phase(Some("Running"))
                .annotation("team.example.com/owner", "alice"),
            pod("ns", "pending")
                .phase(Some("Pending"))
                .annotation("team.example.com/owner", "bob"),
            pod("ns", "unknown").phase(None),
        ],
    )
    .await;
    let q = |s: &str| format!("fieldSelector={}", urlencode(s));
    assert_eq!(
        names(ids(&list(&pods, &q("status.phase=Pending")).await)),
        sorted(&["pending"])
    );
    assert_eq!(
        names(ids(&list(&pods, &q("status.phase!=Running")).await)),
        sorted(&["pending", "unknown"]),
        "!= matches objects without the field"
    );
    assert_eq!(
        names(ids(&list(
            &pods,
            &q("status.phase notin (Running,Pending)")
        )
        .await)),
        sorted(&["unknown"])
    );
    assert_eq!(
        names(ids(&list(
            &pods,
            &q("metadata.annotations['team.example.com/owner']=alice")
        )
        .await)),
        sorted(&["running"])
    );
    assert_eq!(
        names(ids(&list(
            &pods,
            &q("!metadata.annotations['team.example.com/owner']")
        )
        .await)),
        sorted(&["unknown"])
    );
    assert_eq!(
        names(ids(
            &list(&pods, &q("status.phase,spec.nodeName=node-1")).await
        )),
        sorted(&["pending", "running"])
    );
    // Field selector and label selector together.
    assert!(
        list(
            &pods,
            &format!("{}&labelSelector=app", q("status.phase=Pending"))
        )
        .await
        .items
        .is_empty()
    );
}

pub async fn field_selector_list_paths(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    put(
        &pods,
        "c1",
        &[
            pod("ns", "old").image(0, "registry.example/app:1.0"),
            pod("ns", "new").image(0, "registry.example/app:2.0"),
        ],
    )
    .await;
    let q = |s: &str| format!("fieldSelector={}", urlencode(s));
    assert_eq!(
        names(ids(&list(
            &pods,
            &q("spec.containers[0].image=registry.example/app:2.0")
        )
        .await)),
        sorted(&["new"])
    );
    assert_eq!(
        names(ids(&list(
            &pods,
            &q("spec.containers[1].image=registry.example/proxy:2.3")
        )
        .await)),
        sorted(&["new", "old"])
    );
    // `[]` (any element) is optional for a layer, but then it must say so.
    match pods
        .list(&query(&q(
            "spec.containers[].image=registry.example/app:1.0",
        )))
        .await
    {
        Ok(result) => assert_eq!(names(ids(&result)), sorted(&["old"])),
        Err(err) => assert_eq!(err.kind(), ErrorKind::Unsupported, "{}", err.message()),
    }
}

pub async fn extra_labels_unknown_are_rejected(fx: &Fixture) {
    let pods = seed_labelled(fx).await;
    let err = pods
        .list(&query(&format!(
            "labelSelector={}",
            urlencode("app=web,made-up.clusterpedia.io/flavour=spicy")
        )))
        .await
        .expect_err("an extra label the layer does not know must be refused");
    assert!(
        matches!(err.kind(), ErrorKind::Unsupported | ErrorKind::BadRequest),
        "{:?}",
        err.kind()
    );
    assert!(
        err.message().contains("made-up.clusterpedia.io/flavour"),
        "{}",
        err.message()
    );
}

pub async fn fuzzy_name(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    put(
        &pods,
        "c1",
        &[
            pod("ns", "payments-api-1"),
            pod("ns", "payments-worker"),
            pod("ns", "orders-api"),
            pod("ns", "a_b%c"),
        ],
    )
    .await;
    let q = |s: &str| format!("labelSelector={}", urlencode(s));
    let fuzzy = "internalstorage.clusterpedia.io/fuzzy-name";
    assert_eq!(
        names(ids(&list(&pods, &q(&format!("{fuzzy}=payments"))).await)),
        sorted(&["payments-api-1", "payments-worker"])
    );
    assert_eq!(
        names(ids(&list(
            &pods,
            &q(&format!("{fuzzy} in (worker,orders)"))
        )
        .await)),
        sorted(&["orders-api", "payments-worker"])
    );
    assert_eq!(
        names(ids(&list(&pods, &q(&format!("{fuzzy}!=api"))).await)),
        sorted(&["a_b%c", "payments-worker"])
    );
    // SQL wildcards in the search text are literal characters.
    assert!(
        list(&pods, &q(&format!("{fuzzy}=s_a")))
            .await
            .items
            .is_empty()
    );
    assert_eq!(
        names(ids(&list(&pods, &q(&format!("{fuzzy}=a_b"))).await)),
        sorted(&["a_b%c"])
    );
    assert_eq!(
        names(ids(&list(&pods, &q(&format!("{fuzzy}=api-1"))).await)),
        sorted(&["payments-api-1"])
    );
}

pub async fn since_and_before(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    put(
        &pods,
        "c1",
        &[
            pod("ns", "y2022").created("2022-06-01T00:00:00Z"),
            pod("ns", "y2023").created("2023-06-01T12:30:00Z"),
            pod("ns", "y2024").created("2024-01-01T00:00:00Z"),
            pod("ns", "y2025").created("2025-03-01T00:00:00+02:00"),
        ],
    )
    .await;
    assert_eq!(
        names(ids(&list(&pods, "since=2023-01-01").await)),
        sorted(&["y2023", "y2024", "y2025"])
    );
    // `before` is exclusive, `since` inclusive.
    assert_eq!(
        names(ids(&list(
            &pods,
            "since=2023-06-01%2012:30:00&before=2024-01-01T00:00:00Z"
        )
        .await)),
        sorted(&["y2023"])
    );
    assert_eq!(
        names(ids(&list(&pods, "before=1672531200").await)),
        sorted(&["y2022"])
    );
    assert_eq!(
        names(ids(&list(&pods, "since=1704067200000").await)),
        sorted(&["y2024", "y2025"])
    );
    assert_eq!(
        names(ids(&list(
            &pods,
            "labelSelector=search.clusterpedia.io/since=2024-01-02"
        )
        .await)),
        sorted(&["y2025"])
    );
}

pub async fn only_metadata(fx: &Fixture) {
    let pods = seed_labelled(fx).await;
    let result = list(&pods, "onlyMetadata=true&labelSelector=app=web").await;
    assert_eq!(result.items.len(), 2);
    for item in &result.items {
        let v: Value = serde_json::from_slice(item).expect("json");
        assert_eq!(v["kind"], "Pod");
        assert_eq!(v["apiVersion"], "v1");
        assert_eq!(v["metadata"]["labels"]["app"], "web");
        assert!(v["metadata"]["annotations"][pedia_core::CLUSTER_NAME_ANNOTATION].is_string());
        assert!(v.get("spec").is_none() && v.get("status").is_none(), "{v}");
    }
}

/// Percent-encodes a query value.
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub async fn authorization_grants_limit_what_is_read(fx: &Fixture) {
    use pedia_core::Grant;
    let pods = storage(&fx.factory, res::pods()).await;
    for cluster in ["c1", "c2"] {
        put(
            &pods,
            cluster,
            &[pod("ns-a", "p1"), pod("ns-b", "p2").label("app", "web")],
        )
        .await;
    }
    let grant = |cluster: Option<&str>, namespaces: Option<&[&str]>| Grant {
        cluster: cluster.map(str::to_owned),
        namespaces: namespaces.map(|ns| ns.iter().map(|n| (*n).to_owned()).collect()),
    };
    let with = |q: &str, grants: Vec<Grant>| {
        let mut opts = query(q);
        opts.authorized = Some(grants);
        opts
    };
    let listed = |opts: pedia_core::ListOptions| {
        let pods = std::sync::Arc::clone(&pods);
        async move {
            let mut v = ids(&pods.list(&opts).await.expect("list"));
            v.sort();
            v
        }
    };
    let grants = vec![grant(Some("c1"), Some(&["ns-a"])), grant(Some("c2"), None)];
    assert_eq!(
        listed(with("", grants.clone())).await,
        sorted(&["c1/ns-a/p1", "c2/ns-a/p1", "c2/ns-b/p2"])
    );
    assert_eq!(
        listed(with("labelSelector=app=web", grants.clone())).await,
        strings(&["c2/ns-b/p2"])
    );
    assert_eq!(
        listed(with("clusters=c1", grants.clone())).await,
        strings(&["c1/ns-a/p1"])
    );
    assert!(
        listed(with("", Vec::new())).await.is_empty(),
        "no grant, nothing visible"
    );
    assert_eq!(
        listed(with("", vec![grant(None, Some(&["ns-b"]))])).await,
        sorted(&["c1/ns-b/p2", "c2/ns-b/p2"])
    );
    // Paging keeps to the grants.
    let pages = list_pages(&pods, &with("limit=1", grants.clone())).await;
    assert_eq!(pages.concat().len(), 3);

    // Watches too.
    let start = fx.factory.current_revision().await.expect("revision");
    let mut stream = pods
        .watch(&with("", vec![grant(Some("c1"), Some(&["ns-a"]))]), start)
        .await
        .expect("watch");
    put(&pods, "c1", &[pod("ns-b", "hidden")]).await;
    put(&pods, "c2", &[pod("ns-a", "hidden")]).await;
    let rev = put(&pods, "c1", &[pod("ns-a", "visible")]).await.revision;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut seen = Vec::new();
    while seen.last().map(|(r, _)| *r) != Some(rev) {
        use futures::StreamExt;
        let event = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("an event")
            .expect("stream")
            .expect("event");
        seen.push((event.revision, item_id(&event.object)));
    }
    assert_eq!(
        seen.iter().map(|(_, id)| id.as_str()).collect::<Vec<_>>(),
        vec!["c1/ns-a/visible"]
    );
}
