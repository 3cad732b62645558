//! `storage-internal`: the `internal` storage layer on sqlx, with SQLite (the embedded
//! default), PostgreSQL and MySQL/MariaDB chosen at run time from a Clusterpedia-compatible
//! YAML config. Objects are stored as their exact JSON bytes with indexed metadata and
//! labels; writes are batched per transaction under one revision counter; lists page by
//! keyset; watches read a coalescing change feed from the tables, woken by in-process
//! writers and PostgreSQL `NOTIFY`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pedia_storage::StorageError> {
//! use storage_internal::{InternalStorage, InternalStorageConfig};
//! let storage = InternalStorage::connect(&InternalStorageConfig::sqlite("pedia.db")).await?;
//! # let _ = storage; Ok(()) }
//! ```

mod config;
mod connect;
mod db;
mod feed;
mod fields;
mod filter_sql;
mod hub;
mod read;
mod schema;
mod sql;
mod state;
mod storage;
mod watch;
mod write;

pub use config::{
    ConfigError, ConnPoolConfig, InternalStorageConfig, LogConfig, PASSWORD_ENV, Secret,
};
pub use db::Dialect;
pub use storage::{InternalLayer, InternalStorage, explain_list_sql};

/// Milliseconds since the Unix epoch, for `synced_at` and tombstone ages.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
