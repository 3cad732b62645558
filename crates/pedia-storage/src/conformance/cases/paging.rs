//! Cases for paging: limit and continue through every page (with and without writes
//! between pages), remaining counts, and continue-token validation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::conformance::Fixture;
use crate::conformance::fixtures::*;
use crate::error::ErrorKind;
use crate::{ResourceStorage, WriteOp};

const ORDERS: [&str; 5] = [
    "",
    "orderby=name",
    "orderby=created_at%20desc",
    "orderby=namespace%20desc,name",
    "orderby=resource_version",
];

/// 23 pods over two clusters and three namespaces, with colliding creation times.
async fn seed(fx: &Fixture) -> (Arc<dyn ResourceStorage>, BTreeSet<String>) {
    let pods = storage(&fx.factory, res::pods()).await;
    let mut all = BTreeSet::new();
    for (cluster, count) in [("c1", 12), ("c2", 11)] {
        let objects: Vec<ObjectBuilder> = (0..count)
            .map(|i| {
                let ns = format!("ns-{}", i % 3);
                let name = format!("pod-{i:02}");
                all.insert(format!("{cluster}/{ns}/{name}"));
                pod(&ns, &name)
                    .created(&format!("2024-01-{:02}T00:00:00Z", 1 + i % 4))
                    .rv(100 + i)
                    .label("app", if i % 2 == 0 { "even" } else { "odd" })
            })
            .collect();
        put(&pods, cluster, &objects).await;
    }
    (pods, all)
}

fn flatten(pages: &[Vec<String>]) -> Vec<String> {
    pages.iter().flatten().cloned().collect()
}

pub async fn pagination_visits_every_item_once(fx: &Fixture) {
    let (pods, all) = seed(fx).await;
    for order in ORDERS {
        let unpaged = ids(&list(&pods, order).await);
        assert_eq!(unpaged.len(), all.len(), "{order}");
        for limit in [1, 5, 7, 23, 50] {
            let opts = query(&format!("{order}&limit={limit}"));
            let pages = list_pages(&pods, &opts).await;
            assert_eq!(
                flatten(&pages),
                unpaged,
                "paging with limit={limit} and {order:?} must yield the unpaged order"
            );
            for (i, page) in pages.iter().enumerate() {
                let last = i + 1 == pages.len();
                assert!(page.len() <= limit, "page {i} too long");
                if !last {
                    assert_eq!(page.len(), limit, "only the last page may be short");
                }
            }
            // A page that ends exactly at the end may or may not carry a token, but the
            // next page then must be empty and final.
            assert!(pages.len() <= all.len().div_ceil(limit) + 1);
        }
    }

    // With a label selector the pages cover exactly the selected items.
    let pages = list_pages(
        &pods,
        &query("labelSelector=app=odd&limit=4&orderby=name%20desc"),
    )
    .await;
    let got = flatten(&pages);
    assert_eq!(got.len(), 11);
    assert_eq!(got.iter().collect::<BTreeSet<_>>().len(), 11, "no repeats");
}

pub async fn pagination_survives_writes_between_pages(fx: &Fixture) {
    for order in [
        "orderby=name",
        "",
        "orderby=created_at%20desc",
        "orderby=namespace%20desc,name",
    ] {
        let (pods, all) = seed(fx).await;
        let mut opts = query(&format!("{order}&limit=4"));
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut deleted = BTreeSet::new();
        let mut created = BTreeSet::new();
        let mut round = 0u64;
        loop {
            let page = pods.list(&opts).await.expect("page");
            for id in ids(&page) {
                *seen.entry(id).or_default() += 1;
            }
            let Some(token) = page.continue_token else {
                break;
            };
            opts.continue_token = Some(token);

            // Between pages: create a new object, update an existing one (new version and
            // labels, same name), and delete one that exists from the start.
            round += 1;
            let new_name = format!("new-{round:02}");
            put(
                &pods,
                "c1",
                &[pod("ns-1", &new_name).created("2024-01-02T00:00:00Z")],
            )
            .await;
            created.insert(format!("c1/ns-1/{new_name}"));
            let victim = all
                .iter()
                .nth((round as usize * 5) % all.len())
                .cloned()
                .expect("victim");
            let updated = all
                .iter()
                .nth((round as usize * 3 + 1) % all.len())
                .cloned()
                .expect("updated");
            if updated != victim && !deleted.contains(&updated) {
                let parts: Vec<&str> = updated.split('/').collect();
                let i: u64 = parts[2].trim_start_matches("pod-").parse().expect("index");
                put(
                    &pods,
                    parts[0],
                    &[pod(parts[1], parts[2])
                        .created(&format!("2024-01-{:02}T00:00:00Z", 1 + i % 4))
                        .rv(10_000 + round)
                        .label("app", "changed")],
                )
                .await;
            }
            if deleted.insert(victim.clone()) {
                let parts: Vec<&str> = victim.split('/').collect();
                pods.apply_batch(
                    parts[0],
                    crate::Fence::Unfenced,
                    vec![delete(parts[1], parts[2])],
                )
                .await
                .expect("delete");
            }
            assert!(round < 100, "pagination does not terminate");
        }

        for id in &all {
            let count = seen.get(id).copied().unwrap_or(0);
            if deleted.contains(id) {
                assert!(
                    count <= 1,
                    "{id} deleted during paging was returned {count} times ({order})"
                );
            } else {
                assert_eq!(
                    count, 1,
                    "{id} existed throughout but was returned {count} times ({order})"
                );
            }
        }
        for (id, count) in &seen {
            assert!(*count == 1, "{id} returned {count} times ({order})");
            assert!(
                all.contains(id) || created.contains(id),
                "{id} never existed"
            );
        }
        fx.factory
            .clean_cluster("c1", crate::Fence::Unfenced)
            .await
            .expect("clean");
        fx.factory
            .clean_cluster("c2", crate::Fence::Unfenced)
            .await
            .expect("clean");
    }
}

pub async fn remaining_count(fx: &Fixture) {
    let (pods, all) = seed(fx).await;
    let total = all.len() as u64;
    let mut opts = query("limit=5&withRemainingCount=true&orderby=name");
    let mut returned = 0u64;
    loop {
        let page = pods.list(&opts).await.expect("page");
        returned += page.items.len() as u64;
        assert_eq!(
            page.remaining_count,
            Some(total - returned),
            "after {returned} items"
        );
        match page.continue_token {
            Some(t) => opts.continue_token = Some(t),
            None => break,
        }
    }
    assert_eq!(returned, total);

    let odd = list(
        &pods,
        "labelSelector=app=odd&limit=3&withRemainingCount=true",
    )
    .await;
    assert_eq!(odd.remaining_count, Some(11 - 3));
    // Through the search label too.
    let odd = list(
        &pods,
        "labelSelector=app=odd,search.clusterpedia.io/with-remaining-count=true,search.clusterpedia.io/limit=2",
    )
    .await;
    assert_eq!(odd.items.len(), 2);
    assert_eq!(odd.remaining_count, Some(9));
    // Not asked, not given.
    assert_eq!(list(&pods, "limit=3").await.remaining_count, None);
}

pub async fn with_continue_false_suppresses_token(fx: &Fixture) {
    let (pods, _) = seed(fx).await;
    let page = list(&pods, "limit=5").await;
    assert!(
        page.continue_token.is_some(),
        "a page cut short by limit carries a continue token"
    );
    let page = list(&pods, "limit=5&withContinue=false").await;
    assert_eq!(page.items.len(), 5);
    assert!(page.continue_token.is_none());
    let page = list(&pods, "limit=500").await;
    assert!(
        page.continue_token.is_none(),
        "the whole list fits: no token"
    );
}

pub async fn continue_token_from_other_query_is_rejected(fx: &Fixture) {
    let (pods, _) = seed(fx).await;
    let first = list(&pods, "limit=3&labelSelector=app=odd").await;
    let token = first.continue_token.expect("token");

    // The same query with the token continues.
    let second = pods
        .list(&query(&format!(
            "limit=3&labelSelector=app=odd&continue={token}"
        )))
        .await
        .expect("same query continues");
    assert_eq!(second.items.len(), 3);
    assert_eq!(
        second.revision, first.revision,
        "pages report the first page's revision"
    );

    for other in [
        "limit=3&labelSelector=app=even",
        "limit=3&labelSelector=app=odd&orderby=name",
        "limit=3",
    ] {
        let err = pods
            .list(&query(&format!("{other}&continue={token}")))
            .await
            .expect_err("a token from another query is refused");
        assert_eq!(err.kind(), ErrorKind::BadRequest, "{other}");
        assert!(err.message().contains("continue"), "{}", err.message());
    }

    // A token of the same query but for another resource is refused as well.
    let cms = storage(&fx.factory, res::configmaps()).await;
    let err = cms
        .list(&query(&format!(
            "limit=3&labelSelector=app=odd&continue={token}"
        )))
        .await
        .expect_err("a token from another resource is refused");
    assert_eq!(err.kind(), ErrorKind::BadRequest);

    for forged in [
        "garbage",
        "eyJ2IjoxfQ",
        &token[..token.len() / 2],
        &format!("{token}AA"),
    ] {
        let err = pods
            .list(&query(&format!(
                "limit=3&labelSelector=app=odd&continue={forged}"
            )))
            .await
            .expect_err("a forged token is refused");
        assert_eq!(err.kind(), ErrorKind::BadRequest, "{forged}");
    }

    // Writes do not invalidate a token.
    put(&pods, "c1", &[pod("ns-0", "late")]).await;
    pods.apply_batch(
        "c1",
        crate::Fence::Unfenced,
        vec![WriteOp::Upsert(pod("ns-0", "later").build("c1"))],
    )
    .await
    .expect("write");
    assert!(
        pods.list(&query(&format!(
            "limit=3&labelSelector=app=odd&continue={token}"
        )))
        .await
        .is_ok()
    );
}
