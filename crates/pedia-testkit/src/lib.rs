//! `pedia-testkit`: what integration tests across the workspace share. Real components only:
//! [`kubectl`] finds the installed kubectl releases, [`databases`] hands out isolated
//! PostgreSQL schemas and MySQL databases (`pedia-testdb`, re-exported),
//! [`workspace`] builds plugin crates with the tests' own toolchain and lockfile,
//! [`converge`] compares what storage holds with what a simulated cluster holds,
//! [`proxy`] cuts and restores the connection to a real server, [`https`] talks to a
//! running apiserver.

pub mod converge;
pub mod databases;
pub mod https;
pub mod kubectl;
pub mod lines;
pub mod proxy;
pub mod workspace;
