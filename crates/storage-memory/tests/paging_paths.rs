//! The memory layer answers pages without sorting every match: in the default order by
//! walking its key index from the cursor, otherwise by keeping the best `limit + 1`. Both
//! paths must page exactly like a full sort would, with any selector, order and page size.

use std::sync::Arc;

use pedia_storage::conformance::fixtures::*;
use pedia_storage::{ResourceStorage, StorageFactory};
use storage_memory::MemoryStorage;

async fn seeded() -> Arc<dyn ResourceStorage> {
    let factory: Arc<dyn StorageFactory> = Arc::new(MemoryStorage::default());
    let pods = storage(&factory, res::pods()).await;
    for cluster in ["c2", "c1", "c3"] {
        let objects: Vec<_> = (0..120)
            .map(|i| {
                let mut p = pod(
                    &format!("ns-{}", i % 5),
                    &format!("p-{:03}", (i * 37) % 120),
                )
                .created(&format!("2024-01-01T00:{:02}:{:02}Z", i / 60, i % 60));
                if i % 10 == 0 {
                    p = p.label("rare", "yes");
                }
                if i % 2 == 0 {
                    p = p.label("half", "yes");
                }
                p
            })
            .collect();
        put(&pods, cluster, &objects).await;
    }
    pods
}

#[tokio::test]
async fn every_path_pages_like_a_full_sort() {
    let pods = seeded().await;
    for selector in [
        "",
        "&labelSelector=rare%3Dyes",
        "&labelSelector=half%3Dyes",
        "&labelSelector=half",
    ] {
        for order in [
            "",
            "&orderby=name",
            "&orderby=created_at%20desc",
            "&orderby=namespace%20desc",
        ] {
            let whole = ids(&list(&pods, &format!("{selector}{order}")).await);
            assert!(!whole.is_empty());
            if order.is_empty() {
                // Independent of either path: ids are `cluster/namespace/name` of equal-length
                // parts, so the default order is their string order.
                let mut expected = whole.clone();
                expected.sort();
                assert_eq!(whole, expected, "{selector}");
                assert_eq!(whole.len(), expected_count(selector), "{selector}");
            }
            for limit in [1, 7, 50, 1000] {
                let pages =
                    list_pages(&pods, &query(&format!("limit={limit}{selector}{order}"))).await;
                assert!(pages.iter().all(|p| p.len() <= limit));
                let flat: Vec<String> = pages.concat();
                assert_eq!(flat, whole, "limit={limit}{selector}{order}");
                let first = list(
                    &pods,
                    &format!("limit={limit}&withRemainingCount=true{selector}{order}"),
                )
                .await;
                assert_eq!(
                    first.remaining_count,
                    Some((whole.len() - first.items.len()) as u64),
                    "limit={limit}{selector}{order}"
                );
            }
        }
    }
}

fn expected_count(selector: &str) -> usize {
    match selector {
        "" => 360,
        "&labelSelector=rare%3Dyes" => 36,
        _ => 180,
    }
}
