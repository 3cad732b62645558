//! Watch streams over the factory's lifetime: they end cleanly (no error) at shutdown,
//! and a dropped stream does not disturb the others.

use std::time::Duration;

use futures::StreamExt;
use pedia_core::{GroupVersionResource, ListOptions, Object, ResourceType};
use pedia_storage::{Fence, StorageFactory, WriteOp};
use storage_internal::{InternalStorage, InternalStorageConfig};

fn object(name: &str) -> Object {
    Object::from_json(bytes::Bytes::from(format!(
        r#"{{"metadata":{{"name":"{name}","namespace":"ns","uid":"u-{name}"}}}}"#
    )))
    .expect("object")
}

#[test]
fn shutdown_ends_streams_cleanly() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = InternalStorageConfig::sqlite(dir.path().join("w.db").to_string_lossy());
        let storage = InternalStorage::connect(&cfg).await.expect("open");
        let rt = ResourceType::new(GroupVersionResource::new("", "v1", "pods"), "Pod", true);
        let pods = storage.resource_storage(&rt).await.expect("pods");

        let mut kept = pods.watch(&ListOptions::default(), 0).await.expect("watch");
        let dropped = pods.watch(&ListOptions::default(), 0).await.expect("watch");
        drop(dropped);
        let rev = pods
            .apply_batch("c1", Fence::Unfenced, vec![WriteOp::Upsert(object("a"))])
            .await
            .expect("write")
            .revision;
        let event = tokio::time::timeout(Duration::from_secs(10), kept.next())
            .await
            .expect("an event")
            .expect("open")
            .expect("ok");
        assert_eq!(event.revision, rev);

        storage.shutdown().await.expect("shutdown");
        let end = tokio::time::timeout(Duration::from_secs(10), kept.next())
            .await
            .expect("the stream ends promptly");
        assert!(end.is_none(), "clean end, not {end:?}");
        // After shutdown new watches are refused.
        assert!(pods.watch(&ListOptions::default(), 0).await.is_err());
    });
}
