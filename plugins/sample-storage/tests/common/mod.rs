//! Test databases shared by the integration tests: a temporary SQLite file, or a fresh
//! PostgreSQL schema in the database of `PEDIA_TEST_POSTGRES_URL` that is dropped after.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU64, Ordering};

use sample_storage::SampleConfig;
use sqlx::Connection;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn postgres_url() -> String {
    std::env::var("PEDIA_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// The message a test fails with when PostgreSQL cannot be used: these tests never skip.
pub fn postgres_unusable(detail: &str) -> String {
    format!(
        "PostgreSQL for the sample-storage tests is not usable ({detail}); start it or point \
         PEDIA_TEST_POSTGRES_URL at one (default {DEFAULT_POSTGRES_URL})"
    )
}

/// A database for one test. Dropping the value does not clean up PostgreSQL: call
/// [`TestDb::remove`].
#[derive(Debug)]
pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres { url: String, schema: String },
}

impl TestDb {
    pub fn sqlite() -> Self {
        TestDb::Sqlite(tempfile::tempdir().expect("temporary directory"))
    }

    pub fn postgres() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        TestDb::Postgres {
            url: postgres_url(),
            schema: format!(
                "sample_test_{}_{}_{nanos}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    pub fn config(&self) -> SampleConfig {
        match self {
            TestDb::Sqlite(dir) => SampleConfig::sqlite(dir.path().join("sample.db")),
            TestDb::Postgres { url, schema } => SampleConfig::postgres(url.clone(), Some(schema)),
        }
    }

    /// Removes the database (the PostgreSQL schema, or the SQLite file's directory).
    pub async fn remove(self) {
        match self {
            TestDb::Sqlite(dir) => drop(dir),
            TestDb::Postgres { url, schema } => {
                let mut conn = sqlx::PgConnection::connect(&url)
                    .await
                    .unwrap_or_else(|e| panic!("reconnect to drop schema {schema}: {e}"));
                // The schema name is generated above from letters, digits and underscores.
                let drop = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                sqlx::query(sqlx::AssertSqlSafe(drop))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("drop schema {schema}: {e}"));
                let _ = conn.close().await;
            }
        }
    }
}
