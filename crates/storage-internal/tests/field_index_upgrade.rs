//! Upgrading a database written before field values were indexed: the migration that adds
//! `pedia_fields` fills it from the stored objects (in several batches), so indexed field
//! selectors answer the same after the upgrade as before it.

mod common;

use pedia_core::{GroupVersionResource, ListOptions, Object, ResourceType};
use pedia_storage::{Fence, StorageFactory, WriteOp};
use sqlx::{AssertSqlSafe, Connection, Executor};
use storage_internal::{InternalStorage, InternalStorageConfig};

/// More than one backfill batch (500 objects).
const PODS: usize = 1_200;

fn pods() -> ResourceType {
    ResourceType::new(GroupVersionResource::new("", "v1", "pods"), "Pod", true)
}

fn pod(i: usize) -> Object {
    let status = match i % 100 {
        0 => serde_json::json!({"phase": "Pending"}),
        1 => serde_json::json!({}),
        _ => serde_json::json!({"phase": "Running"}),
    };
    let v = serde_json::json!({
        "metadata": {"name": format!("pod-{i}"), "namespace": "ns", "resourceVersion": "1"},
        "spec": {"nodeName": format!("node-{}", i % 3)},
        "status": status,
    });
    Object::from_json(bytes::Bytes::from(v.to_string())).expect("object")
}

async fn open(cfg: &InternalStorageConfig) -> InternalStorage {
    InternalStorage::connect(cfg)
        .await
        .unwrap_or_else(|e| panic!("open: {}", e.detail()))
}

async fn count(storage: &InternalStorage, selector: &str) -> usize {
    let pods = storage.resource_storage(&pods()).await.expect("pods");
    let query = format!(
        "fieldSelector={}",
        selector.replace('=', "%3D").replace('!', "%21")
    );
    let opts = ListOptions::from_query(&query).expect("query");
    pods.list(&opts)
        .await
        .unwrap_or_else(|e| panic!("{selector}: {}", e.detail()))
        .items
        .len()
}

const EXPECTED: &[(&str, usize)] = &[
    ("status.phase=Pending", PODS / 100),
    ("status.phase!=Running", 2 * PODS / 100),
    ("!status.phase", PODS / 100),
    ("spec.nodeName=node-1", PODS / 3),
];

/// Writes the pods, turns the database back into one from before the migration (the
/// table and its migration record removed), reopens it and checks the selectors.
async fn exercise(cfg: InternalStorageConfig) {
    let storage = open(&cfg).await;
    let resource = storage.resource_storage(&pods()).await.expect("pods");
    resource
        .apply_batch(
            "c1",
            Fence::Unfenced,
            (0..PODS).map(|i| WriteOp::Upsert(pod(i))).collect(),
        )
        .await
        .expect("write");
    for (selector, n) in EXPECTED {
        assert_eq!(count(&storage, selector).await, *n, "before: {selector}");
    }
    storage.shutdown().await.expect("shutdown");

    run_admin(
        &cfg,
        &[
            "DROP TABLE pedia_fields",
            "DELETE FROM pedia_schema_migrations WHERE description = 'indexed field values'",
        ],
    )
    .await;

    let storage = open(&cfg).await;
    for (selector, n) in EXPECTED {
        assert_eq!(count(&storage, selector).await, *n, "after: {selector}");
    }
    // Writes after the upgrade keep the index current.
    let resource = storage.resource_storage(&pods()).await.expect("pods");
    let moved = String::from_utf8(pod(0).raw.to_vec())
        .expect("utf-8")
        .replace("Pending", "Running")
        .replace("\"resourceVersion\":\"1\"", "\"resourceVersion\":\"2\"");
    resource
        .apply_batch(
            "c1",
            Fence::Unfenced,
            vec![WriteOp::Upsert(
                Object::from_json(bytes::Bytes::from(moved)).expect("object"),
            )],
        )
        .await
        .expect("write");
    assert_eq!(
        count(&storage, "status.phase=Pending").await,
        PODS / 100 - 1
    );
    storage.shutdown().await.expect("shutdown");
}

async fn run_admin(cfg: &InternalStorageConfig, statements: &[&str]) {
    match cfg.db_type.as_str() {
        "sqlite" => {
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", cfg.dsn))
                .await
                .expect("sqlite");
            for s in statements {
                conn.execute(AssertSqlSafe(*s)).await.expect(s);
            }
            let _ = conn.close().await;
        }
        "postgres" => {
            let mut conn = common::pg_admin().await;
            let schema = &cfg.params["search_path"];
            conn.execute(AssertSqlSafe(format!("SET search_path TO {schema}")))
                .await
                .expect("search path");
            for s in statements {
                conn.execute(AssertSqlSafe(*s)).await.expect(s);
            }
            let _ = conn.close().await;
        }
        _ => {
            let mut conn = sqlx::MySqlConnection::connect(&cfg.dsn)
                .await
                .expect("mysql");
            for s in statements {
                conn.execute(AssertSqlSafe(*s)).await.expect(s);
            }
            let _ = conn.close().await;
        }
    }
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
fn sqlite_upgrade_indexes_stored_fields() {
    run(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("pedia.db");
        exercise(InternalStorageConfig::sqlite(path.to_string_lossy())).await;
    });
}

#[test]
fn postgres_upgrade_indexes_stored_fields() {
    run(async {
        let (cfg, schema) = common::postgres_config().await;
        exercise(cfg).await;
        common::drop_postgres_schema(schema).await;
    });
}

#[test]
fn mysql_upgrade_indexes_stored_fields() {
    run(async {
        let (cfg, db) = common::mysql_config().await;
        exercise(cfg).await;
        common::drop_mysql_database(db).await;
    });
}
