//! Watches are woken by writes, not found by the fallback poll: every test configures the
//! poll to an hour, so an event can only arrive within the bounded wait through a wake-up.
//! PostgreSQL: `NOTIFY` from a second storage handle (as the manager and the apiserver are
//! separate processes), also after the `LISTEN` connection was killed (it reconnects).
//! SQLite and MySQL: a write through another handle of the same process.

mod common;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use pedia_core::{GroupVersionResource, ListOptions, Object, ResourceType};
use pedia_storage::{Fence, ResourceStorage, StorageFactory, WatchStream, WriteOp};
use storage_internal::{InternalStorage, InternalStorageConfig};

/// Far beyond the test's bounded waits.
const FALLBACK: &str = "1h";
const BOUND: Duration = Duration::from_secs(20);

fn pods() -> ResourceType {
    ResourceType::new(GroupVersionResource::new("", "v1", "pods"), "Pod", true)
}

fn object(name: &str) -> Object {
    Object::from_json(bytes::Bytes::from(format!(
        r#"{{"metadata":{{"name":"{name}","namespace":"ns","uid":"u-{name}","resourceVersion":"1"}}}}"#
    )))
    .expect("object")
}

fn run(f: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f);
}

async fn open(cfg: &InternalStorageConfig) -> Arc<InternalStorage> {
    let mut cfg = cfg.clone();
    cfg.watch_poll_interval = Some(FALLBACK.to_owned());
    Arc::new(
        InternalStorage::connect(&cfg)
            .await
            .unwrap_or_else(|e| panic!("open: {}", e.detail())),
    )
}

/// A handle that shares no in-process wake-ups, as one in another process.
async fn open_apart(cfg: &InternalStorageConfig) -> Arc<InternalStorage> {
    let mut cfg = cfg.clone();
    cfg.watch_poll_interval = Some(FALLBACK.to_owned());
    Arc::new(
        InternalStorage::connect_as_another_process(&cfg)
            .await
            .unwrap_or_else(|e| panic!("open: {}", e.detail())),
    )
}

async fn write(pods: &Arc<dyn ResourceStorage>, name: &str) -> u64 {
    pods.apply_batch("c1", Fence::Unfenced, vec![WriteOp::Upsert(object(name))])
        .await
        .unwrap_or_else(|e| panic!("write: {}", e.detail()))
        .revision
}

/// Waits (bounded) for the event of `revision`.
async fn expect_event(watch: &mut WatchStream, revision: u64) {
    loop {
        let event = tokio::time::timeout(BOUND, watch.next())
            .await
            .unwrap_or_else(|_| panic!("event {revision} arrives without the fallback poll"))
            .expect("stream open")
            .unwrap_or_else(|e| panic!("event: {}", e.detail()));
        if event.revision >= revision {
            assert_eq!(event.revision, revision);
            return;
        }
    }
}

/// A watch on one handle sees writes through another handle on the same database
/// (`apart`: one that shares no in-process wake-ups).
async fn second_handle_wakes(
    cfg: &InternalStorageConfig,
    apart: bool,
) -> (Arc<InternalStorage>, Arc<InternalStorage>, WatchStream) {
    let watcher = open(cfg).await;
    let writer = if apart {
        open_apart(cfg).await
    } else {
        open(cfg).await
    };
    let pods_w = watcher.resource_storage(&pods()).await.expect("pods");
    let pods_x = writer.resource_storage(&pods()).await.expect("pods");
    let start = watcher.current_revision().await.expect("revision");
    let mut watch = pods_w
        .watch(&ListOptions::default(), start)
        .await
        .expect("watch");
    for i in 0..3 {
        let rev = write(&pods_x, &format!("p{i}")).await;
        expect_event(&mut watch, rev).await;
    }
    (watcher, writer, watch)
}

#[test]
fn sqlite_in_process_wakeup_across_handles() {
    run(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = InternalStorageConfig::sqlite(dir.path().join("w.db").to_string_lossy());
        let (a, b, _watch) = second_handle_wakes(&cfg, false).await;
        a.shutdown().await.expect("shutdown");
        b.shutdown().await.expect("shutdown");
    });
}

#[test]
fn mysql_in_process_wakeup_across_handles() {
    run(async {
        let (cfg, db) = common::mysql_config().await;
        let (a, b, _watch) = second_handle_wakes(&cfg, false).await;
        a.shutdown().await.expect("shutdown");
        b.shutdown().await.expect("shutdown");
        common::drop_mysql_database(db).await;
    });
}

/// The backend pids of the `LISTEN` connections on `channel`, waiting (bounded) for one.
async fn listener_pids(channel: &str, except: &[i32]) -> Vec<i32> {
    let mut admin = common::pg_admin().await;
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let pids: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE starts_with(query, $1) AND pid <> pg_backend_pid()",
        )
        .bind(format!("LISTEN \"{channel}\""))
        .fetch_all(&mut admin)
        .await
        .expect("pg_stat_activity");
        let fresh: Vec<i32> = pids.into_iter().filter(|p| !except.contains(p)).collect();
        if !fresh.is_empty() {
            return fresh;
        }
        if tokio::time::Instant::now() >= deadline {
            let all: Vec<(i32, Option<String>)> =
                sqlx::query_as("SELECT pid, query FROM pg_stat_activity")
                    .fetch_all(&mut admin)
                    .await
                    .expect("pg_stat_activity");
            panic!("no LISTEN connection on {channel}: {all:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn postgres_notify_wakes_a_watch_of_another_handle_and_survives_a_killed_listener() {
    run(async {
        let (cfg, schema) = common::postgres_config().await;
        let (watcher, writer, mut watch) = second_handle_wakes(&cfg, true).await;
        let pods_x = writer.resource_storage(&pods()).await.expect("pods");
        let channel = watcher.change_channel().expect("a channel").to_owned();
        assert_eq!(writer.change_channel(), Some(channel.as_str()));

        let old = listener_pids(&channel, &[]).await;
        let mut admin = common::pg_admin().await;
        for pid in &old {
            let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
                .bind(pid)
                .fetch_one(&mut admin)
                .await
                .expect("terminate");
            assert!(killed, "listener {pid} terminated");
        }
        // Written while the listener may be down: the reconnect reads the feed.
        let rev = write(&pods_x, "after-kill").await;
        expect_event(&mut watch, rev).await;
        // And the new LISTEN connection delivers notifications again.
        listener_pids(&channel, &old).await;
        let rev = write(&pods_x, "after-reconnect").await;
        expect_event(&mut watch, rev).await;

        watcher.shutdown().await.expect("shutdown");
        writer.shutdown().await.expect("shutdown");
        common::drop_postgres_schema(schema).await;
    });
}

#[test]
fn postgres_deployments_in_other_schemas_use_other_channels() {
    run(async {
        let (one, s1) = common::postgres_config().await;
        let (two, s2) = common::postgres_config().await;
        let (a, b) = (open(&one).await, open(&two).await);
        assert!(a.change_channel().is_some());
        assert_ne!(a.change_channel(), b.change_channel());
        a.shutdown().await.expect("shutdown");
        b.shutdown().await.expect("shutdown");
        common::drop_postgres_schema(s1).await;
        common::drop_postgres_schema(s2).await;
    });
}

/// Shutting down closes the pool under the `LISTEN` connection: it returns promptly and
/// ends the watch cleanly.
#[test]
fn postgres_shutdown_with_a_listener_ends_watches_cleanly() {
    run(async {
        let (cfg, schema) = common::postgres_config().await;
        let storage = open(&cfg).await;
        let pods = storage.resource_storage(&pods()).await.expect("pods");
        let mut watch = pods.watch(&ListOptions::default(), 0).await.expect("watch");
        let channel = storage.change_channel().expect("a channel").to_owned();
        listener_pids(&channel, &[]).await;
        tokio::time::timeout(BOUND, storage.shutdown())
            .await
            .expect("shutdown returns")
            .expect("shutdown");
        let end = tokio::time::timeout(BOUND, watch.next())
            .await
            .expect("the stream ends");
        assert!(end.is_none(), "clean end, not {end:?}");
        common::drop_postgres_schema(schema).await;
    });
}
