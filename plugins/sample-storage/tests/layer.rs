//! Behaviour of this layer beyond the shared conformance suite, on SQLite and PostgreSQL:
//! watch history expiry, streams ending at shutdown, watches seeing writes of another
//! process, concurrent starts and concurrent writers.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestDb, postgres_unusable};
use futures::StreamExt;
use pedia_plugin_api::bytes::Bytes;
use pedia_plugin_api::pedia_core::{GroupVersionResource, ListOptions, Object, ResourceType};
use pedia_plugin_api::pedia_storage::{
    ErrorKind, Fence, ResourceStorage, Revision, StorageFactory, WatchEventType, WatchStream,
    WriteOp,
};
use sample_storage::{DatabaseType, SampleConfig, SampleStorage};

const TIMEOUT: Duration = Duration::from_secs(10);

fn pods() -> ResourceType {
    ResourceType::new(GroupVersionResource::new("", "v1", "pods"), "Pod", true)
}

fn pod(cluster: &str, name: &str, rv: u64) -> Object {
    let raw = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": format!("uid-{name}"),
            "resourceVersion": rv.to_string(),
            "annotations": {"shadow.clusterpedia.io/cluster-name": cluster},
        },
    });
    Object::from_json(Bytes::from(raw.to_string())).expect("valid pod")
}

async fn connect(config: SampleConfig) -> SampleStorage {
    let postgres = config.database == DatabaseType::Postgres;
    match SampleStorage::connect(config).await {
        Ok(storage) => storage,
        Err(e) if postgres => panic!("{}", postgres_unusable(&e.detail())),
        Err(e) => panic!("open SQLite: {}", e.detail()),
    }
}

async fn put(storage: &Arc<dyn ResourceStorage>, name: &str, rv: u64) -> Revision {
    storage
        .apply_batch(
            "c1",
            Fence::Unfenced,
            vec![WriteOp::Upsert(pod("c1", name, rv))],
        )
        .await
        .expect("write")
        .revision
}

async fn revisions_until(stream: &mut WatchStream, until: Revision) -> Vec<Revision> {
    let mut seen = Vec::new();
    while seen.last().is_none_or(|r| *r < until) {
        let event = tokio::time::timeout(TIMEOUT, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no event reached revision {until}; saw {seen:?}"))
            .expect("stream open")
            .expect("event");
        seen.push(event.revision);
    }
    seen
}

async fn watch_from_pruned_history_is_expired(db: &TestDb) {
    let mut config = db.config();
    config.watch_history = Some(3);
    let layer = connect(config).await;
    let pods = layer.resource_storage(&pods()).await.expect("storage");
    let all = ListOptions::default();
    for i in 1..=5 {
        put(&pods, &format!("p{i}"), 1).await;
    }
    // Revisions 1..=5 written, the last 3 kept: 1 is gone, 2 is the oldest start.
    let err = pods.watch(&all, 1).await.err().expect("expired start");
    assert_eq!(err.kind(), ErrorKind::Expired, "{}", err.message());
    let mut stream = pods.watch(&all, 2).await.expect("oldest start");
    assert_eq!(revisions_until(&mut stream, 5).await, vec![3, 4, 5]);

    // A watcher that falls behind the history gets `Expired`, then its stream ends.
    let mut behind = pods.watch(&all, 5).await.expect("watch");
    for i in 6..=10 {
        put(&pods, &format!("p{i}"), 1).await;
    }
    let err = tokio::time::timeout(TIMEOUT, behind.next())
        .await
        .expect("an answer")
        .expect("an item")
        .expect_err("fell behind");
    assert_eq!(err.kind(), ErrorKind::Expired);
    assert!(behind.next().await.is_none());
    layer.shutdown().await.expect("shutdown");
}

async fn watch_ends_on_shutdown(db: &TestDb) {
    let layer = connect(db.config()).await;
    let pods = layer.resource_storage(&pods()).await.expect("storage");
    let mut stream = pods.watch(&ListOptions::default(), 0).await.expect("watch");
    let rev = put(&pods, "a", 1).await;
    assert_eq!(revisions_until(&mut stream, rev).await, vec![rev]);
    layer.shutdown().await.expect("shutdown");
    let end = tokio::time::timeout(TIMEOUT, stream.next())
        .await
        .expect("the stream ends promptly");
    assert!(end.is_none(), "{end:?}");
}

async fn watch_sees_writes_of_another_process(db: &TestDb) {
    // Two layers on one database stand in for two processes (a synchro manager and an
    // apiserver): the writer cannot wake the watcher, so polling must find the change.
    let writer = connect(db.config()).await;
    let reader = connect(db.config()).await;
    let mut stream = reader
        .resource_storage(&pods())
        .await
        .expect("storage")
        .watch(&ListOptions::default(), 0)
        .await
        .expect("watch");
    let writes = writer.resource_storage(&pods()).await.expect("storage");
    let rev = put(&writes, "a", 1).await;
    let event = tokio::time::timeout(TIMEOUT, stream.next())
        .await
        .expect("seen by polling")
        .expect("stream open")
        .expect("event");
    assert_eq!(
        (event.revision, event.event_type),
        (rev, WatchEventType::Added)
    );
    writer.shutdown().await.expect("shutdown");
    reader.shutdown().await.expect("shutdown");
}

async fn concurrent_starts_and_writers(db: &TestDb) {
    // Several processes starting at once all create (or find) the schema.
    let layers = futures::future::join_all((0..4).map(|_| connect(db.config()))).await;

    // Writers in all of them: every applied change gets its own revision, in commit order.
    let tasks = layers.iter().enumerate().map(|(i, layer)| {
        let layer = layer.clone();
        tokio::spawn(async move {
            let pods = layer.resource_storage(&pods()).await.expect("storage");
            for round in 0..10 {
                let ops = (0..3)
                    .map(|k| WriteOp::Upsert(pod("c1", &format!("w{i}-{round}-{k}"), 1)))
                    .collect();
                let out = pods
                    .apply_batch("c1", Fence::Unfenced, ops)
                    .await
                    .expect("write");
                assert_eq!(out.written, 3);
            }
        })
    });
    for task in futures::future::join_all(tasks).await {
        task.expect("writer");
    }
    let total = 4 * 10 * 3;
    assert_eq!(layers[0].current_revision().await.expect("revision"), total);
    let pods = layers[1].resource_storage(&pods()).await.expect("storage");
    assert_eq!(
        pods.list(&ListOptions::default())
            .await
            .expect("list")
            .items
            .len() as u64,
        total
    );
    // Every change is in the log, once, in order.
    let mut stream = pods.watch(&ListOptions::default(), 0).await.expect("watch");
    let seen = revisions_until(&mut stream, total).await;
    assert_eq!(seen, (1..=total).collect::<Vec<_>>());
    for layer in &layers {
        layer.shutdown().await.expect("shutdown");
    }
}

async fn owner_queries_cannot_be_watched(db: &TestDb) {
    let layer = connect(db.config()).await;
    let pods = layer.resource_storage(&pods()).await.expect("storage");
    let opts = ListOptions::from_query("clusters=c1&ownerUID=x").expect("query");
    let err = pods.watch(&opts, 0).await.err().expect("unsupported");
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    layer.shutdown().await.expect("shutdown");
}

/// One `#[tokio::test]` per case and dialect.
macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = crate::TestDb::sqlite();
                    crate::$case(&db).await;
                    db.remove().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = crate::TestDb::postgres().await;
                    crate::$case(&db).await;
                    db.remove().await;
                }
            )*
        }
    };
}

cases!(
    watch_from_pruned_history_is_expired,
    watch_ends_on_shutdown,
    watch_sees_writes_of_another_process,
    concurrent_starts_and_writers,
    owner_queries_cannot_be_watched,
);
