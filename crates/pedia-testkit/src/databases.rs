//! Isolated databases on the real PostgreSQL and MySQL/MariaDB servers: a fresh schema or
//! database per test, named `<prefix>_<pid>_<n>` so leftovers of crashed runs (whose pid
//! is gone) are dropped by the next run. An unreachable server fails the test with
//! instructions; it never skips it.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{AssertSqlSafe, Connection, Executor, MySqlConnection, PgConnection, Row};

/// `PEDIA_TEST_POSTGRES_URL`, or the local server.
pub fn postgres_url() -> String {
    std::env::var("PEDIA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `PEDIA_TEST_MYSQL_URL`, or the local server.
pub fn mysql_url() -> String {
    std::env::var("PEDIA_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn fresh_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether `name` (`<prefix>_<pid>_<n>`) belongs to a process that no longer runs.
fn is_leftover(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .and_then(|rest| rest.split('_').next())
        .and_then(|pid| pid.parse::<u32>().ok())
        .is_some_and(|pid| pid != std::process::id() && !pid_alive(pid))
}

fn unreachable(what: &str, url: &str, err: impl std::fmt::Display) -> ! {
    panic!(
        "{what} at {url} is unreachable ({err}). Start it (../shared/tools/services.sh) or set \
         the URL variable; these tests do not skip."
    )
}

/// A fresh PostgreSQL schema in the database of [`postgres_url`].
#[derive(Debug)]
pub struct PgSchema {
    pub url: String,
    pub schema: String,
}

impl PgSchema {
    pub async fn create(prefix: &str) -> Self {
        let url = postgres_url();
        let mut conn = PgConnection::connect(&url)
            .await
            .unwrap_or_else(|e| unreachable("PostgreSQL", &url, e));
        let rows = conn
            .fetch_all(sqlx::query("SELECT nspname FROM pg_namespace"))
            .await
            .expect("list schemas");
        for row in rows {
            let name: String = row.get(0);
            if is_leftover(&name, prefix) {
                let _ = conn
                    .execute(AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
                    )))
                    .await;
            }
        }
        let schema = fresh_name(prefix);
        conn.execute(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .await
            .expect("create schema");
        Self { url, schema }
    }

    pub async fn drop_schema(self) {
        if let Ok(mut conn) = PgConnection::connect(&self.url).await {
            let _ = conn
                .execute(AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                    self.schema
                )))
                .await;
        }
    }
}

/// A fresh MySQL database on the server of [`mysql_url`].
#[derive(Debug)]
pub struct MyDatabase {
    /// The server URL with this database as its path.
    pub url: String,
    pub database: String,
    server: String,
}

impl MyDatabase {
    pub async fn create(prefix: &str) -> Self {
        let server = mysql_url();
        let mut conn = MySqlConnection::connect(&server)
            .await
            .unwrap_or_else(|e| unreachable("MySQL", &server, e));
        let rows = conn
            .fetch_all(sqlx::query("SHOW DATABASES"))
            .await
            .expect("list databases");
        for row in rows {
            let name: String = row.get(0);
            if is_leftover(&name, prefix) {
                let _ = conn
                    .execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
                    .await;
            }
        }
        let database = fresh_name(prefix);
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE `{database}`")))
            .await
            .expect("create database");
        let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
        Self {
            url: format!("{base}/{database}"),
            database,
            server,
        }
    }

    pub async fn drop_database(self) {
        if let Ok(mut conn) = MySqlConnection::connect(&self.server).await {
            let _ = conn
                .execute(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS `{}`",
                    self.database
                )))
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_recognised_by_dead_pid() {
        assert!(!is_leftover(&format!("t_{}_1", std::process::id()), "t"));
        assert!(is_leftover("t_4000000000_1", "t") || pid_alive(4_000_000_000));
        assert!(!is_leftover("other_1_1", "t"));
        assert!(!is_leftover("t_notapid_1", "t"));
    }
}
