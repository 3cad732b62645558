//! Isolated databases on PostgreSQL and MySQL/MariaDB: the workspace's one harness,
//! `pedia-testdb` (fresh schemas and databases named `<prefix>_<pid>_<n>`, leftovers of
//! dead processes dropped on first use, a private server when none is configured or
//! running), re-exported for the crates that use the testkit.

pub use pedia_testdb::{
    MyDatabase, PgSchema, my_admin, mysql_url, pg_admin, postgres_url, with_database,
};
