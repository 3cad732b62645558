//! Test databases shared by the integration tests: a temporary SQLite file, or a fresh
//! PostgreSQL schema from the workspace's one harness (`pedia-testdb`: the configured,
//! local or a private server; names carry the process id and leftovers of dead processes
//! are dropped on first use), or a fresh MySQL/MariaDB database from the same harness,
//! dropped after the test.

#![allow(dead_code, unreachable_pub)]

use pedia_testdb::{MyDatabase, PgSchema};
use sample_storage::SampleConfig;

/// The message a test fails with when PostgreSQL cannot be used: these tests never skip.
pub fn postgres_unusable(detail: &str) -> String {
    format!(
        "PostgreSQL for the sample-storage tests is not usable ({detail}); start it, point \
         {} at one, or unset it to let the tests start a private server",
        pedia_testdb::POSTGRES_URL_ENV
    )
}

/// A database for one test. Dropping the value does not clean up PostgreSQL: call
/// [`TestDb::remove`].
#[derive(Debug)]
pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres(PgSchema),
    MySql(MyDatabase),
}

impl TestDb {
    pub fn sqlite() -> Self {
        TestDb::Sqlite(tempfile::tempdir().expect("temporary directory"))
    }

    pub async fn postgres() -> Self {
        TestDb::Postgres(PgSchema::create("sample_test").await)
    }

    pub async fn mysql() -> Self {
        TestDb::MySql(MyDatabase::create("sample_test").await)
    }

    pub fn config(&self) -> SampleConfig {
        match self {
            TestDb::Sqlite(dir) => SampleConfig::sqlite(dir.path().join("sample.db")),
            TestDb::Postgres(schema) => {
                SampleConfig::postgres(schema.url.clone(), Some(&schema.schema))
            }
            TestDb::MySql(database) => SampleConfig::mysql(database.url.clone()),
        }
    }

    /// Removes the database (the PostgreSQL schema, or the SQLite file's directory).
    pub async fn remove(self) {
        match self {
            TestDb::Sqlite(dir) => drop(dir),
            TestDb::Postgres(schema) => schema.drop_schema().await,
            TestDb::MySql(database) => database.drop_database().await,
        }
    }
}
