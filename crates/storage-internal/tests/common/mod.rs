//! Test databases: a fresh SQLite file, PostgreSQL schema or MySQL database per test,
//! dropped afterwards; leftovers of dead test processes are dropped on first use. An
//! unreachable server fails the test with instructions, never skips it.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use pedia_storage::conformance::Fixture;
use sqlx::{Connection, Executor, Row};
use storage_internal::{InternalStorage, InternalStorageConfig};

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";
const HOW_TO_START: &str =
    "start the test databases with `../shared/tools/services.sh` (from the repository root)";

static COUNTER: AtomicU64 = AtomicU64::new(0);
static CLEANED_PG: tokio::sync::Mutex<bool> = tokio::sync::Mutex::const_new(false);
static CLEANED_MY: tokio::sync::Mutex<bool> = tokio::sync::Mutex::const_new(false);

pub fn postgres_url() -> String {
    std::env::var("PEDIA_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

pub fn mysql_url() -> String {
    std::env::var("PEDIA_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_MYSQL_URL.to_owned())
}

/// `pedia_t_<pid>_<n>`: unique per test, and tells which process made it.
pub fn unique_name() -> String {
    format!(
        "pedia_t_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether a `pedia_t_<pid>_<n>` name belongs to a process that is gone.
fn is_stale(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("pedia_t_") else {
        return false;
    };
    let mut parts = rest.split('_');
    let (Some(pid), Some(n), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(pid), Ok(_)) = (pid.parse::<u32>(), n.parse::<u64>()) else {
        return false;
    };
    pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Identifiers we generated ourselves; checked before they are spliced into DDL.
fn safe_ident(name: &str) -> &str {
    assert!(
        name.starts_with("pedia_t_")
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "not a test identifier: {name}"
    );
    name
}

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

pub async fn pg_admin() -> sqlx::PgConnection {
    let url = postgres_url();
    sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!("PostgreSQL for the tests is unreachable ({e}); {HOW_TO_START}, or set PEDIA_TEST_POSTGRES_URL")
    })
}

pub async fn my_admin() -> sqlx::MySqlConnection {
    let url = mysql_url();
    sqlx::MySqlConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!("MySQL/MariaDB for the tests is unreachable ({e}); {HOW_TO_START}, or set PEDIA_TEST_MYSQL_URL")
    })
}

/// A fresh PostgreSQL schema and a config whose connections use it.
pub async fn postgres_config() -> (InternalStorageConfig, String) {
    let mut admin = pg_admin().await;
    {
        let mut cleaned = CLEANED_PG.lock().await;
        if !*cleaned {
            let rows = admin
                .fetch_all(
                    "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'pedia\\_t\\_%'",
                )
                .await
                .expect("list schemas");
            for row in rows {
                let name: String = row.get(0);
                if is_stale(&name) {
                    let _ = admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP SCHEMA IF EXISTS {} CASCADE",
                            safe_ident(&name)
                        )))
                        .await;
                }
            }
            *cleaned = true;
        }
    }
    let schema = unique_name();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA {}",
            safe_ident(&schema)
        )))
        .await
        .expect("create schema");
    let _ = admin.close().await;
    let cfg = InternalStorageConfig {
        db_type: "postgres".to_owned(),
        dsn: postgres_url(),
        params: BTreeMap::from([("search_path".to_owned(), schema.clone())]),
        ..InternalStorageConfig::default()
    };
    (cfg, schema)
}

pub async fn drop_postgres_schema(schema: String) {
    let mut admin = pg_admin().await;
    let _ = admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            safe_ident(&schema)
        )))
        .await;
    let _ = admin.close().await;
}

pub async fn open_postgres() -> Fixture {
    let (cfg, schema) = postgres_config().await;
    let storage = connect_storage(&cfg).await;
    Fixture::new(Arc::new(storage)).with_teardown(drop_postgres_schema(schema))
}

/// `url` with its database replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (base, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let authority = base.split('/').next().unwrap_or(base);
    match query {
        Some(q) => format!("{scheme}://{authority}/{db}?{q}"),
        None => format!("{scheme}://{authority}/{db}"),
    }
}

/// A fresh MySQL database and a config that uses it.
pub async fn mysql_config() -> (InternalStorageConfig, String) {
    let mut admin = my_admin().await;
    {
        let mut cleaned = CLEANED_MY.lock().await;
        if !*cleaned {
            let rows = admin
                .fetch_all("SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata WHERE schema_name LIKE 'pedia\\_t\\_%'")
                .await
                .expect("list databases");
            for row in rows {
                let name: String = row.get(0);
                if is_stale(&name) {
                    let _ = admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {}",
                            safe_ident(&name)
                        )))
                        .await;
                }
            }
            *cleaned = true;
        }
    }
    let db = unique_name();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {}",
            safe_ident(&db)
        )))
        .await
        .expect("create database");
    let _ = admin.close().await;
    let cfg = InternalStorageConfig {
        db_type: "mysql".to_owned(),
        dsn: with_database(&mysql_url(), &db),
        ..InternalStorageConfig::default()
    };
    (cfg, db)
}

pub async fn drop_mysql_database(db: String) {
    let mut admin = my_admin().await;
    let _ = admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {}",
            safe_ident(&db)
        )))
        .await;
    let _ = admin.close().await;
}

pub async fn open_mysql() -> Fixture {
    let (cfg, db) = mysql_config().await;
    let storage = connect_storage(&cfg).await;
    Fixture::new(Arc::new(storage)).with_teardown(drop_mysql_database(db))
}
