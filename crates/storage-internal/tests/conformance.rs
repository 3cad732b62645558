//! The storage conformance suite on each database the `internal` layer supports. The
//! PostgreSQL and MySQL cases run on the servers `pedia-testdb` picks (configured, local
//! or private).

mod common;

pub use common::{open_mysql, open_postgres, open_sqlite};

pedia_storage::conformance_suite!(sqlite, crate::open_sqlite);
pedia_storage::conformance_suite!(postgres, crate::open_postgres);
pedia_storage::conformance_suite!(mysql, crate::open_mysql);
