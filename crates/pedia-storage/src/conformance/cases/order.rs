//! Cases for ordering: every allow-listed field in both directions, several fields, and
//! numeric resourceVersion order.

use std::sync::Arc;

use crate::ResourceStorage;
use crate::conformance::Fixture;
use crate::conformance::fixtures::*;

/// Objects whose fields are pairwise distinct in a known order, across two clusters.
async fn seed(fx: &Fixture) -> Arc<dyn ResourceStorage> {
    let pods = storage(&fx.factory, res::pods()).await;
    put(
        &pods,
        "c1",
        &[
            pod("ns-b", "p-a").created("2024-03-01T00:00:00Z").rv(30),
            pod("ns-a", "p-c").created("2024-01-01T00:00:00Z").rv(200),
        ],
    )
    .await;
    put(
        &pods,
        "c2",
        &[
            pod("ns-c", "p-b").created("2024-02-01T00:00:00Z").rv(1000),
            pod("ns-a", "p-d").created("2024-04-01T00:00:00Z").rv(4),
        ],
    )
    .await;
    pods
}

async fn order(pods: &Arc<dyn ResourceStorage>, q: &str) -> Vec<String> {
    ids(&list(pods, q).await)
}

pub async fn order_by_each_field(fx: &Fixture) {
    let pods = seed(fx).await;
    let (a, c, b, d) = ("c1/ns-b/p-a", "c1/ns-a/p-c", "c2/ns-c/p-b", "c2/ns-a/p-d");
    // Ties (same namespace or cluster) break by cluster, namespace, name ascending, so
    // descending order is not simply the reverse there.
    let cases: [(&str, [&str; 4], [&str; 4]); 5] = [
        ("name", [a, b, c, d], [d, c, b, a]),
        ("namespace", [c, d, a, b], [b, a, c, d]),
        ("cluster", [c, a, d, b], [d, b, c, a]),
        ("created_at", [c, b, a, d], [d, a, b, c]),
        ("resource_version", [d, a, c, b], [b, c, a, d]),
    ];
    for (field, asc, desc) in cases {
        assert_eq!(
            order(&pods, &format!("orderby={field}")).await,
            strings(&asc),
            "orderby={field}"
        );
        assert_eq!(
            order(&pods, &format!("orderby={field}%20desc")).await,
            strings(&desc),
            "orderby={field} desc"
        );
        // The same through the search label.
        assert_eq!(
            order(
                &pods,
                &format!("labelSelector=search.clusterpedia.io/orderby={field}_desc")
            )
            .await,
            strings(&desc),
            "search label orderby={field}_desc"
        );
    }
    // Without orderby the order is cluster, namespace, name.
    assert_eq!(order(&pods, "").await, strings(&[c, a, d, b]));
}

pub async fn order_by_several_fields(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    put(
        &pods,
        "c1",
        &[
            pod("ns-a", "x").created("2024-01-01T00:00:00Z"),
            pod("ns-a", "y").created("2024-01-03T00:00:00Z"),
            pod("ns-b", "x").created("2024-01-02T00:00:00Z"),
            pod("ns-b", "z").created("2024-01-02T00:00:00Z"),
        ],
    )
    .await;
    assert_eq!(
        order(&pods, "orderby=namespace%20desc,created_at").await,
        strings(&["c1/ns-b/x", "c1/ns-b/z", "c1/ns-a/x", "c1/ns-a/y"])
    );
    assert_eq!(
        order(&pods, "orderby=created_at%20desc,name%20desc").await,
        strings(&["c1/ns-a/y", "c1/ns-b/z", "c1/ns-b/x", "c1/ns-a/x"])
    );
    assert_eq!(
        order(&pods, "orderby=name,namespace%20desc").await,
        strings(&["c1/ns-b/x", "c1/ns-a/x", "c1/ns-a/y", "c1/ns-b/z"])
    );
    // Repeated `orderby` parameters concatenate.
    assert_eq!(
        order(&pods, "orderby=name&orderby=namespace%20desc").await,
        strings(&["c1/ns-b/x", "c1/ns-a/x", "c1/ns-a/y", "c1/ns-b/z"])
    );
}

pub async fn order_by_resource_version_is_numeric(fx: &Fixture) {
    let pods = storage(&fx.factory, res::pods()).await;
    put(
        &pods,
        "c1",
        &[
            pod("ns", "v9").rv(9),
            pod("ns", "v10").rv(10),
            pod("ns", "v100").rv(100),
        ],
    )
    .await;
    assert_eq!(
        order(&pods, "orderby=resource_version").await,
        strings(&["c1/ns/v9", "c1/ns/v10", "c1/ns/v100"])
    );
}
