//! Opening a database written by an older version: the missing migrations (the writer
//! epochs table) are applied on open, stored objects stay, and the new behaviour works.

use bytes::Bytes;
use pedia_core::{GroupVersionResource, ListOptions, Object, ResourceType};
use pedia_storage::{ErrorKind, Fence, StorageFactory, WriteOp};
use sqlx::Row;
use storage_internal::{InternalStorage, InternalStorageConfig};

fn pods() -> ResourceType {
    ResourceType::new(GroupVersionResource::new("", "v1", "pods"), "Pod", true)
}

fn pod(name: &str, uid: &str) -> WriteOp {
    let raw = format!(
        r#"{{"metadata":{{"name":"{name}","namespace":"ns","uid":"{uid}","resourceVersion":"7"}}}}"#
    );
    WriteOp::Upsert(Object::from_json(Bytes::from(raw)).expect("object"))
}

async fn migrations(path: &std::path::Path) -> Vec<i64> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open the file");
    let versions = sqlx::query("SELECT version FROM pedia_schema_migrations ORDER BY version")
        .fetch_all(&pool)
        .await
        .expect("versions")
        .iter()
        .map(|r| r.get::<i64, _>(0))
        .collect();
    pool.close().await;
    versions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_without_writer_epochs_is_migrated() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("pedia.db");
    let config = InternalStorageConfig::sqlite(path.to_string_lossy());
    let storage = InternalStorage::connect(&config).await.expect("open");
    let rs = storage.resource_storage(&pods()).await.expect("pods");
    rs.apply_batch("c1", Fence::Unfenced, vec![pod("a", "u-a")])
        .await
        .expect("write");
    storage.shutdown().await.expect("shutdown");

    // Back to the schema before migration 2 (and the later ones).
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open the file");
    for sql in [
        "DROP TABLE pedia_writers",
        "DROP TABLE pedia_fields",
        "DELETE FROM pedia_schema_migrations WHERE version >= 2",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    pool.close().await;
    assert_eq!(migrations(&path).await, [1]);

    let storage = InternalStorage::connect(&config).await.expect("reopen");
    assert_eq!(migrations(&path).await, [1, 2, 3]);
    let rs = storage.resource_storage(&pods()).await.expect("pods");
    let listed = rs.list(&ListOptions::default()).await.expect("list");
    assert_eq!(
        listed.items.len(),
        1,
        "stored objects survive the migration"
    );
    rs.apply_batch("c1", Fence::Epoch(2), vec![pod("b", "u-b")])
        .await
        .expect("fenced write");
    let err = rs
        .apply_batch("c1", Fence::Epoch(1), vec![pod("c", "u-c")])
        .await
        .expect_err("an older epoch");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    storage.shutdown().await.expect("shutdown");
}
