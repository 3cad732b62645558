//! Two factories on one database, as two processes would be: opening at once (the
//! migration lock), interleaved writers (one revision sequence), and watches that see the
//! other writer's changes through polling.

mod common;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use pedia_core::{GroupVersionResource, ListOptions, Object, ResourceType};
use pedia_storage::{Fence, StorageFactory, WatchEventType, WriteOp};
use storage_internal::{InternalStorage, InternalStorageConfig};

fn pods() -> ResourceType {
    ResourceType::new(GroupVersionResource::new("", "v1", "pods"), "Pod", true)
}

fn object(name: &str, rv: u64) -> Object {
    Object::from_json(bytes::Bytes::from(format!(
        r#"{{"metadata":{{"name":"{name}","namespace":"ns","uid":"u-{name}","resourceVersion":"{rv}"}}}}"#
    )))
    .expect("object")
}

async fn exercise(cfg: InternalStorageConfig) {
    // Both open (and migrate) at the same time.
    let (a, b) = tokio::join!(
        InternalStorage::connect(&cfg),
        InternalStorage::connect(&cfg)
    );
    let a = Arc::new(a.unwrap_or_else(|e| panic!("first open: {}", e.detail())));
    let b = Arc::new(b.unwrap_or_else(|e| panic!("second open: {}", e.detail())));
    let pods_a = a.resource_storage(&pods()).await.expect("pods");
    let pods_b = b.resource_storage(&pods()).await.expect("pods");

    let start = a.current_revision().await.expect("revision");
    let mut watch = pods_a
        .watch(&ListOptions::default(), start)
        .await
        .expect("watch");

    let writer = |pods: Arc<dyn pedia_storage::ResourceStorage>, prefix: &'static str| async move {
        let mut revisions = Vec::new();
        for i in 0..20u64 {
            let out = pods
                .apply_batch(
                    "c1",
                    Fence::Unfenced,
                    vec![WriteOp::Upsert(object(&format!("{prefix}-{i}"), i + 1))],
                )
                .await
                .expect("write");
            revisions.push(out.revision);
        }
        revisions
    };
    let (ra, rb) = tokio::join!(writer(pods_a.clone(), "a"), writer(pods_b.clone(), "b"));
    let mut all: Vec<u64> = ra.into_iter().chain(rb).collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 40, "every batch got its own revision");
    assert_eq!(all.first().copied(), Some(start + 1));
    assert_eq!(all.last().copied(), Some(start + 40));

    // A deletion by the other factory reaches this one's watcher.
    let del = pods_b
        .apply_batch("c1", Fence::Unfenced, vec![WriteOp::delete("ns", "a-3")])
        .await
        .expect("delete")
        .revision;
    let mut seen = Vec::new();
    while seen.last().is_none_or(|(rev, _, _)| *rev < del) {
        let event = tokio::time::timeout(Duration::from_secs(20), watch.next())
            .await
            .expect("events arrive")
            .expect("stream open")
            .expect("event");
        let name = Object::from_json(event.object.clone())
            .expect("object")
            .meta
            .name;
        seen.push((event.revision, event.event_type, name));
    }
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "revision order");
    assert_eq!(
        seen.last().map(|(_, t, n)| (*t, n.as_str())),
        Some((WatchEventType::Deleted, "a-3"))
    );
    assert_eq!(
        pods_a
            .list(&ListOptions::default())
            .await
            .expect("list")
            .items
            .len(),
        39
    );
    a.shutdown().await.expect("shutdown");
    b.shutdown().await.expect("shutdown");
}

fn run(f: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f);
}

#[test]
fn sqlite_shared_file() {
    run(async {
        let dir = tempfile::tempdir().expect("temp dir");
        exercise(InternalStorageConfig::sqlite(
            dir.path().join("shared.db").to_string_lossy(),
        ))
        .await;
    });
}

#[test]
fn postgres_shared_schema() {
    run(async {
        let (cfg, schema) = common::postgres_config().await;
        exercise(cfg).await;
        common::drop_postgres_schema(schema).await;
    });
}

#[test]
fn mysql_shared_database() {
    run(async {
        let (cfg, db) = common::mysql_config().await;
        exercise(cfg).await;
        common::drop_mysql_database(db).await;
    });
}
