//! Cases for streamed lists: a streamed list is the unpaged list item for item, with the
//! same metadata, also when it spans many of a layer's chunks, and it reflects the
//! revision it reports even when objects are written while it is being read.

use std::sync::Arc;

use futures::StreamExt;

use crate::conformance::Fixture;
use crate::conformance::fixtures::*;
use crate::{Fence, ListResult, ResourceStorage, WriteOp};

/// Enough pods for several chunks of every layer's stream (the internal layer reads 1,000
/// rows per query, the plugin boundary carries 256 items per chunk).
const PODS: usize = 2_500;

async fn seed(fx: &Fixture) -> Arc<dyn ResourceStorage> {
    let pods = storage(&fx.factory, res::pods()).await;
    for (cluster, range) in [("c1", 0..PODS / 2), ("c2", PODS / 2..PODS)] {
        let objects: Vec<ObjectBuilder> = range
            .map(|i| {
                pod(&format!("ns-{}", i % 7), &format!("pod-{i:04}"))
                    // Few distinct creation times: ordering by them leans on the
                    // tie-breakers across chunk boundaries.
                    .created(&format!("2024-01-{:02}T00:00:00Z", 1 + i % 5))
                    .rv(1 + i as u64)
                    .label("app", if i % 3 == 0 { "a" } else { "b" })
                    .phase(Some(if i % 10 == 0 { "Pending" } else { "Running" }))
            })
            .collect();
        for chunk in objects.chunks(500) {
            put(&pods, cluster, chunk).await;
        }
    }
    pods
}

async fn streamed(pods: &Arc<dyn ResourceStorage>, q: &str) -> ListResult {
    pods.list_stream(&query(q))
        .await
        .unwrap_or_else(|e| panic!("list_stream {q:?}: {}", e.detail()))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("reading the stream of {q:?}: {}", e.detail()))
}

pub async fn list_stream_equals_unpaged_list(fx: &Fixture) {
    let pods = seed(fx).await;
    for q in [
        "",
        "orderby=created_at%20desc",
        "orderby=name",
        "labelSelector=app%3Da",
        "fieldSelector=status.phase%21%3DRunning",
        "onlyMetadata=true",
        "withRemainingCount=true",
        "limit=7&withRemainingCount=true",
        "labelSelector=app%3Dnone",
    ] {
        let unpaged = list(&pods, q).await;
        let stream = streamed(&pods, q).await;
        assert_eq!(stream.items.len(), unpaged.items.len(), "{q:?}: item count");
        assert!(
            stream.items == unpaged.items,
            "{q:?}: the streamed items differ from the listed ones (first difference at {:?})",
            stream
                .items
                .iter()
                .zip(&unpaged.items)
                .position(|(a, b)| a != b)
        );
        assert_eq!(stream.revision, unpaged.revision, "{q:?}: revision");
        assert_eq!(
            stream.continue_token, unpaged.continue_token,
            "{q:?}: continue"
        );
        assert_eq!(
            stream.remaining_count, unpaged.remaining_count,
            "{q:?}: remaining count"
        );
    }
    assert_eq!(streamed(&pods, "").await.items.len(), PODS);
}

pub async fn list_stream_reflects_its_revision(fx: &Fixture) {
    let pods = seed(fx).await;
    let before = list(&pods, "").await;
    let mut stream = pods.list_stream(&query("")).await.expect("list_stream");
    assert_eq!(stream.revision, before.revision);
    let first = stream
        .items
        .next()
        .await
        .expect("an item")
        .expect("no error");

    // Writes while the stream is open: new pods at both ends of the order, deletions
    // and updates of pods not read yet.
    let mut added = vec![pod("ns-0", "a-first"), pod("zz", "z-last")];
    added.extend((PODS - 5..PODS).map(|i| {
        pod(&format!("ns-{}", i % 7), &format!("pod-{i:04}"))
            .rv(10_000 + i as u64)
            .label("changed", "yes")
    }));
    put(&pods, "c2", &added).await;
    let deleted = (PODS - 20..PODS - 10)
        .map(|i| delete(&format!("ns-{}", i % 7), &format!("pod-{i:04}")))
        .collect::<Vec<WriteOp>>();
    pods.apply_batch("c2", Fence::Unfenced, deleted)
        .await
        .expect("deletes");

    let mut items = vec![first];
    while let Some(item) = stream.items.next().await {
        items.push(item.expect("no error"));
    }
    assert_eq!(items.len(), before.items.len());
    assert!(
        items == before.items,
        "the stream does not show the objects as of its revision"
    );
    let after = list(&pods, "").await;
    assert_ne!(after.revision, before.revision);
    assert_eq!(after.items.len(), PODS + 2 - 10);
}
