//! Cases for owner queries: by uid and by name (+ group-resource), seniority 0 to 2 along
//! Application -> Deployment -> ReplicaSet -> Pod chains.

use crate::conformance::Fixture;
use crate::conformance::fixtures::*;

/// In cluster c1, namespace ns:
///   Application shop (uid app-shop)
///     Deployment web (uid d-web) -> ReplicaSets web-1, web-2 -> pods web-1-a, web-1-b, web-2-a
///     Deployment api (uid d-api) -> ReplicaSet api-1 -> pod api-1-a
///   Deployment lone (no owner) -> ReplicaSet lone-1 -> pod lone-1-a
///   pod orphan (no owner)
/// In cluster c2 the same names exist with the same uids (a copied cluster), so a query in
/// c1 must not leak c2 objects.
async fn seed(fx: &Fixture) {
    let apps = storage(&fx.factory, res::applications()).await;
    let deploys = storage(&fx.factory, res::deployments()).await;
    let rss = storage(&fx.factory, res::replicasets()).await;
    let pods = storage(&fx.factory, res::pods()).await;
    for cluster in ["c1", "c2"] {
        put(&apps, cluster, &[application("ns", "shop").uid("app-shop")]).await;
        put(
            &deploys,
            cluster,
            &[
                deployment("ns", "web").uid("d-web").owner(
                    "apps.example.com/v1alpha1",
                    "Application",
                    "shop",
                    "app-shop",
                ),
                deployment("ns", "api").uid("d-api").owner(
                    "apps.example.com/v1alpha1",
                    "Application",
                    "shop",
                    "app-shop",
                ),
                deployment("ns", "lone").uid("d-lone"),
            ],
        )
        .await;
        put(
            &rss,
            cluster,
            &[
                replicaset("ns", "web-1").uid("rs-web-1").owner(
                    "apps/v1",
                    "Deployment",
                    "web",
                    "d-web",
                ),
                replicaset("ns", "web-2").uid("rs-web-2").owner(
                    "apps/v1",
                    "Deployment",
                    "web",
                    "d-web",
                ),
                replicaset("ns", "api-1").uid("rs-api-1").owner(
                    "apps/v1",
                    "Deployment",
                    "api",
                    "d-api",
                ),
                replicaset("ns", "lone-1").uid("rs-lone-1").owner(
                    "apps/v1",
                    "Deployment",
                    "lone",
                    "d-lone",
                ),
            ],
        )
        .await;
        put(
            &pods,
            cluster,
            &[
                pod("ns", "web-1-a").uid("p-web-1-a").owner(
                    "apps/v1",
                    "ReplicaSet",
                    "web-1",
                    "rs-web-1",
                ),
                pod("ns", "web-1-b").uid("p-web-1-b").owner(
                    "apps/v1",
                    "ReplicaSet",
                    "web-1",
                    "rs-web-1",
                ),
                pod("ns", "web-2-a").uid("p-web-2-a").owner(
                    "apps/v1",
                    "ReplicaSet",
                    "web-2",
                    "rs-web-2",
                ),
                pod("ns", "api-1-a").uid("p-api-1-a").owner(
                    "apps/v1",
                    "ReplicaSet",
                    "api-1",
                    "rs-api-1",
                ),
                pod("ns", "lone-1-a").uid("p-lone-1-a").owner(
                    "apps/v1",
                    "ReplicaSet",
                    "lone-1",
                    "rs-lone-1",
                ),
                pod("ns", "orphan").uid("p-orphan"),
            ],
        )
        .await;
    }
}

pub async fn owner_uid_seniority(fx: &Fixture) {
    seed(fx).await;
    let pods = storage(&fx.factory, res::pods()).await;
    let rss = storage(&fx.factory, res::replicasets()).await;

    assert_eq!(
        sorted_ids(&list(&pods, "clusters=c1&ownerUID=rs-web-1").await),
        sorted(&["c1/ns/web-1-a", "c1/ns/web-1-b"])
    );
    assert_eq!(
        sorted_ids(&list(&pods, "clusters=c1&ownerUID=d-web&ownerSeniority=1").await),
        sorted(&["c1/ns/web-1-a", "c1/ns/web-1-b", "c1/ns/web-2-a"])
    );
    assert_eq!(
        sorted_ids(&list(&pods, "clusters=c2&ownerUID=app-shop&ownerSeniority=2").await),
        sorted(&[
            "c2/ns/api-1-a",
            "c2/ns/web-1-a",
            "c2/ns/web-1-b",
            "c2/ns/web-2-a"
        ])
    );
    assert_eq!(
        sorted_ids(&list(&rss, "clusters=c1&ownerUID=d-web").await),
        sorted(&["c1/ns/web-1", "c1/ns/web-2"])
    );
    // A deployment is not a pod's direct owner.
    assert!(
        list(&pods, "clusters=c1&ownerUID=d-web")
            .await
            .items
            .is_empty()
    );
    // Through search labels, combined with other filters and paging.
    let page = list(
        &pods,
        "labelSelector=search.clusterpedia.io/clusters=c1,search.clusterpedia.io/owner-uid=app-shop,search.clusterpedia.io/owner-seniority=2&limit=2&orderby=name",
    )
    .await;
    assert_eq!(ids(&page), strings(&["c1/ns/api-1-a", "c1/ns/web-1-a"]));
    let mut opts = query(
        "labelSelector=search.clusterpedia.io/clusters=c1,search.clusterpedia.io/owner-uid=app-shop,search.clusterpedia.io/owner-seniority=2&limit=2&orderby=name",
    );
    opts.continue_token = page.continue_token;
    let next = pods.list(&opts).await.expect("second page");
    assert_eq!(ids(&next), strings(&["c1/ns/web-1-b", "c1/ns/web-2-a"]));
    // Unknown owner: nothing.
    assert!(
        list(&pods, "clusters=c1&ownerUID=nope&ownerSeniority=1")
            .await
            .items
            .is_empty()
    );
}

pub async fn owner_name_and_group_resource(fx: &Fixture) {
    seed(fx).await;
    let pods = storage(&fx.factory, res::pods()).await;
    let rss = storage(&fx.factory, res::replicasets()).await;

    assert_eq!(
        sorted_ids(
            &list(
                &pods,
                "clusters=c1&ownerName=web&ownerGR=deployments.apps&ownerSeniority=1"
            )
            .await
        ),
        sorted(&["c1/ns/web-1-a", "c1/ns/web-1-b", "c1/ns/web-2-a"])
    );
    assert_eq!(
        sorted_ids(&list(&rss, "clusters=c1&ownerName=lone&ownerGR=deployments.apps").await),
        sorted(&["c1/ns/lone-1"])
    );
    // Without a group-resource any owner called `web-1` counts.
    assert_eq!(
        sorted_ids(&list(&pods, "clusters=c1&ownerName=web-1").await),
        sorted(&["c1/ns/web-1-a", "c1/ns/web-1-b"])
    );
    // A group-resource that does not own anything by that name: nothing.
    assert!(
        list(
            &pods,
            "clusters=c1&ownerName=web&ownerGR=statefulsets.apps&ownerSeniority=1"
        )
        .await
        .items
        .is_empty()
    );
    // The owner's namespace must be one of the listed namespaces (or cluster-scoped).
    assert!(
        list(&pods, "clusters=c1&namespaces=elsewhere&ownerName=web-1")
            .await
            .items
            .is_empty()
    );
    assert_eq!(
        sorted_ids(
            &list(
                &pods,
                "clusters=c1&ownerName=shop&ownerGR=applications.apps.example.com&ownerSeniority=2"
            )
            .await
        ),
        sorted(&[
            "c1/ns/api-1-a",
            "c1/ns/web-1-a",
            "c1/ns/web-1-b",
            "c1/ns/web-2-a"
        ])
    );

    // An owner query needs exactly one cluster; the parser refuses it before storage.
    let err = pedia_core::ListOptions::from_query("ownerName=web").expect_err("no cluster");
    assert_eq!(err.parameter, "ownerName");
    let err =
        pedia_core::ListOptions::from_query("clusters=c1,c2&ownerUID=x").expect_err("two clusters");
    assert_eq!(err.parameter, "ownerUID");
}
