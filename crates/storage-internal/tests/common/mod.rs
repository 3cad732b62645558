//! Test databases: a fresh SQLite file, PostgreSQL schema or MySQL database per test,
//! dropped afterwards, from the workspace's one harness (`pedia-testdb`: names carry the
//! process id, leftovers of dead processes are dropped on first use, a private server
//! is started when no server is configured or running). An unreachable server fails the
//! test with instructions, never skips it.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::collections::BTreeMap;
use std::sync::Arc;

use pedia_storage::conformance::Fixture;
use pedia_testdb::{MyDatabase, PgSchema};
use storage_internal::{InternalStorage, InternalStorageConfig};

pub use pedia_testdb::{my_admin, mysql_url, pg_admin, postgres_url, with_database};

/// The name prefix of this crate's test schemas and databases.
const PREFIX: &str = "pedia_t";

async fn connect_storage(cfg: &InternalStorageConfig) -> InternalStorage {
    InternalStorage::connect(cfg)
        .await
        .unwrap_or_else(|e| panic!("opening the internal storage: {}", e.detail()))
}

pub async fn open_sqlite() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("pedia.db");
    let storage = connect_storage(&InternalStorageConfig::sqlite(path.to_string_lossy())).await;
    Fixture::new(Arc::new(storage)).with_teardown(async move {
        drop(dir);
    })
}

/// A fresh PostgreSQL schema and a config whose connections use it.
pub async fn postgres_config() -> (InternalStorageConfig, String) {
    let schema = PgSchema::create(PREFIX).await;
    let cfg = InternalStorageConfig {
        db_type: "postgres".to_owned(),
        dsn: schema.url.clone(),
        params: BTreeMap::from([("search_path".to_owned(), schema.schema.clone())]),
        ..InternalStorageConfig::default()
    };
    (cfg, schema.schema)
}

pub async fn drop_postgres_schema(schema: String) {
    pedia_testdb::drop_pg_schema(&schema).await;
}

pub async fn open_postgres() -> Fixture {
    let (cfg, schema) = postgres_config().await;
    let storage = connect_storage(&cfg).await;
    Fixture::new(Arc::new(storage)).with_teardown(drop_postgres_schema(schema))
}

/// A fresh MySQL database and a config that uses it.
pub async fn mysql_config() -> (InternalStorageConfig, String) {
    let db = MyDatabase::create(PREFIX).await;
    let cfg = InternalStorageConfig {
        db_type: "mysql".to_owned(),
        dsn: db.url.clone(),
        ..InternalStorageConfig::default()
    };
    (cfg, db.database)
}

pub async fn drop_mysql_database(db: String) {
    pedia_testdb::drop_my_database(&db).await;
}

pub async fn open_mysql() -> Fixture {
    let (cfg, db) = mysql_config().await;
    let storage = connect_storage(&cfg).await;
    Fixture::new(Arc::new(storage)).with_teardown(drop_mysql_database(db))
}
