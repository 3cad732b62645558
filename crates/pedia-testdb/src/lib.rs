//! `pedia-testdb`: the one way the workspace's tests get PostgreSQL and MySQL/MariaDB
//! databases. Each test gets a fresh schema (PostgreSQL) or database (MySQL) named
//! `<prefix>_<pid>_<n>`, so leftovers of a crashed run are recognisable: the first use of
//! a prefix in a process drops those whose process is gone.
//!
//! Which server: `PEDIA_TEST_POSTGRES_URL` / `PEDIA_TEST_MYSQL_URL` when set (unreachable
//! is a test failure with instructions, never a skip); otherwise the local server on the
//! default port (`127.0.0.1:5432`, `127.0.0.1:3306`) when something answers there;
//! otherwise a private server this process starts from the installed binaries in a
//! temporary directory on an ephemeral port, shared by the process's tests and stopped
//! when the process exits. `PEDIA_TEST_PRIVATE_SERVERS=1` forces private servers.
//!
//! The crate depends on sqlx, tempfile and tokio only, so every crate (the storage layers
//! included) can use it from its tests.

mod names;
mod server;

use std::sync::OnceLock;
use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, Executor, MySqlConnection, PgConnection, Row};

pub use names::{is_leftover, unique_name};
pub use server::{Kind, PrivateServer};

/// The PostgreSQL server URL variable.
pub const POSTGRES_URL_ENV: &str = "PEDIA_TEST_POSTGRES_URL";
/// The MySQL/MariaDB server URL variable.
pub const MYSQL_URL_ENV: &str = "PEDIA_TEST_MYSQL_URL";
/// Set to `1` to start private servers even when a local one answers.
pub const PRIVATE_SERVERS_ENV: &str = "PEDIA_TEST_PRIVATE_SERVERS";

/// The local servers the tests use when no URL is set.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// Where a server URL came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The URL variable.
    Env,
    /// The local server on the default port.
    Local,
    /// A server this process started.
    Private,
}

/// A resolved server: its URL (with database `test`) and where it came from.
#[derive(Debug, Clone)]
pub struct Server {
    pub url: String,
    pub source: Source,
}

fn private_forced() -> bool {
    std::env::var(PRIVATE_SERVERS_ENV).is_ok_and(|v| v == "1" || v == "true")
}

/// Whether anything accepts TCP connections on `port` of 127.0.0.1.
fn answers(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    )
    .is_ok()
}

fn resolve(kind: Kind) -> Result<Server, String> {
    let (env, default, port) = match kind {
        Kind::Postgres => (POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL, 5432),
        Kind::MySql => (MYSQL_URL_ENV, DEFAULT_MYSQL_URL, 3306),
    };
    if let Ok(url) = std::env::var(env)
        && !url.is_empty()
    {
        return Ok(Server {
            url,
            source: Source::Env,
        });
    }
    if !private_forced() && answers(port) {
        return Ok(Server {
            url: default.to_owned(),
            source: Source::Local,
        });
    }
    let private = PrivateServer::shared(kind)?;
    Ok(Server {
        url: private.url().to_owned(),
        source: Source::Private,
    })
}

fn cached(kind: Kind) -> &'static Result<Server, String> {
    static POSTGRES: OnceLock<Result<Server, String>> = OnceLock::new();
    static MYSQL: OnceLock<Result<Server, String>> = OnceLock::new();
    let cell = match kind {
        Kind::Postgres => &POSTGRES,
        Kind::MySql => &MYSQL,
    };
    cell.get_or_init(|| resolve(kind))
}

/// The PostgreSQL server of this process's tests (see the crate docs). Panics with
/// instructions when none can be had.
pub fn postgres() -> Server {
    cached(Kind::Postgres)
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The MySQL/MariaDB server of this process's tests (see the crate docs).
pub fn mysql() -> Server {
    cached(Kind::MySql)
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The URL of [`postgres`].
pub fn postgres_url() -> String {
    postgres().url
}

/// The URL of [`mysql`].
pub fn mysql_url() -> String {
    mysql().url
}

/// The failure message for a server that was chosen but cannot be used.
fn unusable(kind: Kind, server: &Server, err: &dyn std::fmt::Display) -> String {
    let (what, env, port) = match kind {
        Kind::Postgres => ("PostgreSQL", POSTGRES_URL_ENV, 5432),
        Kind::MySql => ("MySQL/MariaDB", MYSQL_URL_ENV, 3306),
    };
    let hint = match server.source {
        Source::Env => format!(
            "start the server {env} names, correct {env}, or unset it to use the local server \
             on 127.0.0.1:{port} (or a private one started from the installed binaries)"
        ),
        Source::Local => format!(
            "the server on 127.0.0.1:{port} must accept {} without a password and have a \
             database `test`; or point {env} at another server, or set \
             {PRIVATE_SERVERS_ENV}=1 to start a private one from the installed binaries",
            match kind {
                Kind::Postgres => "user postgres",
                Kind::MySql => "user root",
            }
        ),
        Source::Private => "the private server this test process started is not answering \
             (see its log in the temporary directory named above)"
            .to_owned(),
    };
    format!(
        "{what} for the tests at {} is not usable ({err}): {hint}. These tests never skip.",
        redact(&server.url)
    )
}

/// `url` without a password.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

/// An administrative connection to the tests' PostgreSQL server.
pub async fn pg_admin() -> PgConnection {
    let server = postgres();
    PgConnection::connect(&server.url)
        .await
        .unwrap_or_else(|e| panic!("{}", unusable(Kind::Postgres, &server, &e)))
}

/// An administrative connection to the tests' MySQL/MariaDB server.
pub async fn my_admin() -> MySqlConnection {
    let server = mysql();
    MySqlConnection::connect(&server.url)
        .await
        .unwrap_or_else(|e| panic!("{}", unusable(Kind::MySql, &server, &e)))
}

/// `url` with its database (path) replaced by `db`, the query kept.
pub fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
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

/// Prefixes whose leftovers this process already dropped, per server kind.
fn first_use(kind: Kind, prefix: &str) -> bool {
    static SEEN: std::sync::Mutex<Vec<(Kind, String)>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let key = (kind, prefix.to_owned());
    if seen.contains(&key) {
        false
    } else {
        seen.push(key);
        true
    }
}

/// A fresh PostgreSQL schema in the tests' database, for one test.
#[derive(Debug)]
pub struct PgSchema {
    /// The server URL (database `test`); connections select the schema themselves
    /// (`search_path`).
    pub url: String,
    pub schema: String,
}

impl PgSchema {
    /// Creates `<prefix>_<pid>_<n>`; the first call for `prefix` in this process drops
    /// that prefix's schemas left by processes that are gone.
    pub async fn create(prefix: &str) -> Self {
        let mut conn = pg_admin().await;
        if first_use(Kind::Postgres, prefix) {
            let rows = conn
                .fetch_all(sqlx::query("SELECT nspname::text FROM pg_namespace"))
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
        }
        let schema = unique_name(prefix);
        conn.execute(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .await
            .unwrap_or_else(|e| panic!("creating schema {schema}: {e}"));
        let _ = conn.close().await;
        Self {
            url: postgres_url(),
            schema,
        }
    }

    /// Drops the schema and everything in it.
    pub async fn drop_schema(self) {
        drop_pg_schema(&self.schema).await;
    }
}

/// Drops a schema made by [`PgSchema::create`] (by name).
/// A server that went away meanwhile is not an error here: the next run drops the
/// leftover.
pub async fn drop_pg_schema(schema: &str) {
    names::check(schema);
    if let Ok(mut conn) = PgConnection::connect(&postgres_url()).await {
        let _ = conn
            .execute(AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
            )))
            .await;
        let _ = conn.close().await;
    }
}

/// A fresh MySQL/MariaDB database on the tests' server, for one test.
#[derive(Debug)]
pub struct MyDatabase {
    /// The server URL with this database as its path.
    pub url: String,
    pub database: String,
}

impl MyDatabase {
    /// Creates `<prefix>_<pid>_<n>`; the first call for `prefix` in this process drops
    /// that prefix's databases left by processes that are gone.
    pub async fn create(prefix: &str) -> Self {
        let mut conn = my_admin().await;
        if first_use(Kind::MySql, prefix) {
            let rows = conn
                .fetch_all(sqlx::query(
                    "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata",
                ))
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
        }
        let database = unique_name(prefix);
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE `{database}`")))
            .await
            .unwrap_or_else(|e| panic!("creating database {database}: {e}"));
        let _ = conn.close().await;
        Self {
            url: with_database(&mysql_url(), &database),
            database,
        }
    }

    /// Drops the database.
    pub async fn drop_database(self) {
        drop_my_database(&self.database).await;
    }

    /// The URL taken apart, for configurations in Clusterpedia's structured form
    /// (`host`, `port`, `user`, `password`, `database`).
    pub fn parts(&self) -> MyParts {
        let rest = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, r)| r);
        let authority = rest.split(['/', '?']).next().unwrap_or(rest);
        let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("root", authority));
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(percent_decode(p))),
            None => (userinfo, None),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse().unwrap_or_else(|_| panic!("port of {hostport}")),
            ),
            None => (hostport, 3306),
        };
        MyParts {
            user: percent_decode(user),
            password,
            host: host.to_owned(),
            port,
            database: self.database.clone(),
        }
    }
}

/// A MySQL/MariaDB server address and credentials, as separate values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyParts {
    pub user: String,
    pub password: Option<String>,
    pub host: String,
    pub port: u16,
    pub database: String,
}

/// Decodes `%XX` escapes (URL userinfo).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Drops a database made by [`MyDatabase::create`] (by name).
/// A server that went away meanwhile is not an error here: the next run drops the
/// leftover.
pub async fn drop_my_database(database: &str) {
    names::check(database);
    if let Ok(mut conn) = MySqlConnection::connect(&mysql_url()).await {
        let _ = conn
            .execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS `{database}`"
            )))
            .await;
        let _ = conn.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_parts() {
        let db = MyDatabase {
            url: "mysql://me:p%40ss@db.example:3307/x_1?ssl-mode=disabled".to_owned(),
            database: "x_1".to_owned(),
        };
        assert_eq!(
            db.parts(),
            MyParts {
                user: "me".to_owned(),
                password: Some("p@ss".to_owned()),
                host: "db.example".to_owned(),
                port: 3307,
                database: "x_1".to_owned(),
            }
        );
        let local = MyDatabase {
            url: "mysql://root@127.0.0.1/y".to_owned(),
            database: "y".to_owned(),
        };
        let parts = local.parts();
        assert_eq!(
            (parts.user.as_str(), parts.password, parts.port),
            ("root", None, 3306)
        );
    }

    #[test]
    fn urls() {
        assert_eq!(
            with_database("mysql://root@h:1/test?ssl-mode=disabled", "x"),
            "mysql://root@h:1/x?ssl-mode=disabled"
        );
        assert_eq!(with_database("mysql://root@h:1", "x"), "mysql://root@h:1/x");
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn messages_say_what_to_do_without_repository_paths() {
        let server = Server {
            url: "postgres://u:pw@h:1/test".to_owned(),
            source: Source::Env,
        };
        let text = unusable(Kind::Postgres, &server, &"connection refused");
        assert!(text.contains(POSTGRES_URL_ENV), "{text}");
        assert!(!text.contains("pw@"), "{text}");
        assert!(!text.contains("shared"), "{text}");
        let local = Server {
            url: DEFAULT_MYSQL_URL.to_owned(),
            source: Source::Local,
        };
        let text = unusable(Kind::MySql, &local, &"access denied");
        assert!(text.contains(PRIVATE_SERVERS_ENV), "{text}");
    }
}
