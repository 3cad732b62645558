//! Runs the storage conformance suite against the layer linked in-process (the rlib), on
//! SQLite (a temporary file per case) and PostgreSQL (a fresh schema per case from
//! `pedia-testdb`, dropped afterwards) and MySQL/MariaDB (a fresh database per case, from
//! the same harness). A database being unreachable fails the cases; it never skips them.

mod common;

use std::sync::Arc;

use common::{TestDb, postgres_unusable};
use pedia_storage::conformance::Fixture;
use sample_storage::SampleStorage;

async fn open(db: TestDb) -> Fixture {
    let storage = match SampleStorage::connect(db.config()).await {
        Ok(storage) => storage,
        Err(e) if matches!(db, TestDb::Postgres(_)) => {
            panic!("{}", postgres_unusable(&e.detail()))
        }
        Err(e) if matches!(db, TestDb::MySql(_)) => {
            panic!(
                "MySQL/MariaDB for the sample-storage tests is not usable: {}",
                e.detail()
            )
        }
        Err(e) => panic!("open SQLite: {}", e.detail()),
    };
    Fixture::new(Arc::new(storage)).with_teardown(db.remove())
}

async fn open_sqlite() -> Fixture {
    open(TestDb::sqlite()).await
}

async fn open_postgres() -> Fixture {
    open(TestDb::postgres().await).await
}

pedia_storage::conformance_suite!(sample_sqlite, crate::open_sqlite);
pedia_storage::conformance_suite!(sample_postgres, crate::open_postgres);

async fn open_mysql() -> Fixture {
    open(TestDb::mysql().await).await
}

pedia_storage::conformance_suite!(sample_mysql, crate::open_mysql);
