//! Cases for collection listings under authorization grants: exactly the granted items in
//! the collection order, paging that visits each granted item once, and remaining counts
//! that count granted items only.

use pedia_core::{Grant, ListOptions};

use crate::conformance::Fixture;
use crate::conformance::fixtures::*;
use crate::{CollectionList, CollectionResource};

/// Objects of five resources (one cluster-scoped, one custom) over three clusters.
async fn seed(fx: &Fixture) {
    let deploys = storage(&fx.factory, res::deployments()).await;
    let sts = storage(&fx.factory, res::statefulsets()).await;
    let pods = storage(&fx.factory, res::pods()).await;
    let nss = storage(&fx.factory, res::namespaces()).await;
    let apps = storage(&fx.factory, res::applications()).await;
    put(
        &deploys,
        "c1",
        &[deployment("ns-a", "web"), deployment("ns-b", "api")],
    )
    .await;
    put(&deploys, "c2", &[deployment("ns-a", "web")]).await;
    put(&deploys, "c3", &[deployment("ns-a", "web")]).await;
    put(&sts, "c1", &[statefulset("ns-a", "db")]).await;
    put(&sts, "c2", &[statefulset("ns-b", "db")]).await;
    // Same name as the Deployment: the resource breaks the tie.
    put(&pods, "c1", &[pod("ns-a", "web"), pod("ns-c", "x")]).await;
    put(&pods, "c2", &[pod("ns-b", "x")]).await;
    put(&pods, "c3", &[pod("ns-b", "x")]).await;
    put(&nss, "c1", &[namespace("ns-a")]).await;
    put(&nss, "c2", &[namespace("ns-b")]).await;
    put(&apps, "c2", &[application("ns-a", "shop")]).await;
}

fn grant(cluster: Option<&str>, namespaces: Option<&[&str]>) -> Grant {
    Grant {
        cluster: cluster.map(str::to_owned),
        namespaces: namespaces.map(|ns| ns.iter().map(|n| (*n).to_owned()).collect()),
    }
}

/// Namespace `ns-a` of `c1`, and all of `c2`.
fn cluster_and_namespace_grants() -> Vec<Grant> {
    vec![grant(Some("c1"), Some(&["ns-a"])), grant(Some("c2"), None)]
}

fn with(q: &str, grants: Vec<Grant>) -> ListOptions {
    let mut opts = query(q);
    opts.authorized = Some(grants);
    opts
}

async fn find(fx: &Fixture, name: &str) -> CollectionResource {
    fx.factory
        .collection_resources()
        .await
        .expect("collections")
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("collection {name}"))
}

/// `resource:cluster/namespace/name` of each item, in listing order.
fn item_ids(list: &CollectionList) -> Vec<String> {
    list.items
        .iter()
        .map(|i| format!("{}:{}", i.resource.gvr.resource, item_id(&i.object)))
        .collect()
}

async fn collection(fx: &Fixture, c: &CollectionResource, opts: &ListOptions) -> CollectionList {
    fx.factory
        .list_collection(c, opts)
        .await
        .unwrap_or_else(|e| panic!("list collection {}: {}", c.name, e.detail()))
}

/// Every page from `opts` on, following continue tokens.
async fn pages(fx: &Fixture, c: &CollectionResource, opts: &ListOptions) -> Vec<CollectionList> {
    let mut out = Vec::new();
    let mut opts = opts.clone();
    loop {
        let page = collection(fx, c, &opts).await;
        let token = page.continue_token.clone();
        out.push(page);
        match token {
            Some(t) => opts.continue_token = Some(t),
            None => return out,
        }
        assert!(out.len() < 1000, "collection paging does not terminate");
    }
}

/// The granted items of `any`, in order: cluster, namespace, name, then group, version,
/// resource.
const ANY_GRANTED: [&str; 8] = [
    "statefulsets:c1/ns-a/db",
    "pods:c1/ns-a/web",
    "deployments:c1/ns-a/web",
    "namespaces:c2//ns-b",
    "applications:c2/ns-a/shop",
    "deployments:c2/ns-a/web",
    "statefulsets:c2/ns-b/db",
    "pods:c2/ns-b/x",
];

pub async fn collection_lists_exactly_the_granted_items(fx: &Fixture) {
    seed(fx).await;
    let any = find(fx, CollectionResource::ANY).await;
    let grants = cluster_and_namespace_grants();
    assert_eq!(
        item_ids(&collection(fx, &any, &with("", grants.clone())).await),
        strings(&ANY_GRANTED)
    );
    let kube = find(fx, CollectionResource::KUBE_RESOURCES).await;
    let kube_granted: Vec<String> = ANY_GRANTED
        .iter()
        .filter(|id| !id.starts_with("applications:"))
        .map(|id| (*id).to_owned())
        .collect();
    assert_eq!(
        item_ids(&collection(fx, &kube, &with("", grants.clone())).await),
        kube_granted
    );
    let workloads = find(fx, CollectionResource::WORKLOADS).await;
    assert_eq!(
        item_ids(&collection(fx, &workloads, &with("", grants.clone())).await),
        strings(&[
            "statefulsets:c1/ns-a/db",
            "deployments:c1/ns-a/web",
            "deployments:c2/ns-a/web",
            "statefulsets:c2/ns-b/db",
        ])
    );
    // Query filters narrow within the grants, never widen them.
    assert_eq!(
        item_ids(&collection(fx, &any, &with("clusters=c1,c3", grants.clone())).await),
        strings(&[
            "statefulsets:c1/ns-a/db",
            "pods:c1/ns-a/web",
            "deployments:c1/ns-a/web",
        ])
    );
    assert_eq!(
        item_ids(&collection(fx, &any, &with("namespaces=ns-b", grants.clone())).await),
        strings(&["statefulsets:c2/ns-b/db", "pods:c2/ns-b/x"])
    );
    // A namespace granted in every cluster.
    assert_eq!(
        item_ids(&collection(fx, &any, &with("", vec![grant(None, Some(&["ns-b"]))])).await),
        strings(&[
            "deployments:c1/ns-b/api",
            "statefulsets:c2/ns-b/db",
            "pods:c2/ns-b/x",
            "pods:c3/ns-b/x",
        ])
    );
    assert!(
        collection(fx, &any, &with("", Vec::new()))
            .await
            .items
            .is_empty(),
        "no grant, nothing visible"
    );
}

pub async fn collection_paging_under_grants_visits_granted_items_once(fx: &Fixture) {
    seed(fx).await;
    let any = find(fx, CollectionResource::ANY).await;
    for limit in [1, 2, 3, 7, 8, 50] {
        let pages = pages(
            fx,
            &any,
            &with(&format!("limit={limit}"), cluster_and_namespace_grants()),
        )
        .await;
        let seen: Vec<String> = pages.iter().flat_map(item_ids).collect();
        assert_eq!(seen, strings(&ANY_GRANTED), "limit={limit}");
        assert_eq!(
            pages.len(),
            ANY_GRANTED.len().div_ceil(limit),
            "limit={limit}"
        );
        for page in &pages[..pages.len() - 1] {
            assert_eq!(page.items.len(), limit, "only the last page is short");
        }
    }
}

pub async fn collection_remaining_count_counts_granted_items(fx: &Fixture) {
    seed(fx).await;
    let any = find(fx, CollectionResource::ANY).await;
    let grants = cluster_and_namespace_grants();
    let mut opts = with("limit=3&withRemainingCount=true", grants.clone());
    let total = ANY_GRANTED.len() as u64;
    let mut seen = 0u64;
    loop {
        let page = collection(fx, &any, &opts).await;
        seen += page.items.len() as u64;
        assert_eq!(page.remaining_count, Some(total - seen), "after {seen}");
        match page.continue_token {
            Some(token) => opts.continue_token = Some(token),
            None => break,
        }
    }
    assert_eq!(seen, total);
    let workloads = find(fx, CollectionResource::WORKLOADS).await;
    let page = collection(
        fx,
        &workloads,
        &with(
            "limit=1&withRemainingCount=true",
            vec![grant(None, Some(&["ns-a"]))],
        ),
    )
    .await;
    // c1/ns-a/db, c1/ns-a/web, c2/ns-a/web, c3/ns-a/web: one on the page, three after it.
    assert_eq!(item_ids(&page), strings(&["statefulsets:c1/ns-a/db"]));
    assert_eq!(page.remaining_count, Some(3));
}
