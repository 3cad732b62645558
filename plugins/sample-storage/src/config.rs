//! The layer's `--storage-config` file: which database to use and how to reach it.
//!
//! Two forms are accepted. A connection URL:
//!
//! ```yaml
//! type: postgres            # sqlite, postgres or mysql
//! dsn: postgres://clusterpedia@db:5432/clusterpedia   # SQLite: a file path or sqlite: URL
//! maxConnections: 10        # optional
//! schema: clusterpedia      # optional, PostgreSQL only: the search_path to use
//! watchHistory: 50000       # optional: change events kept for watches
//! ```
//!
//! Or Clusterpedia's internalstorage keys, so its `example-config.yaml` works unchanged:
//!
//! ```yaml
//! type: mysql
//! host: 127.0.0.1
//! port: "3306"              # a string or a number
//! user: root
//! password: dangerous0      # optional: DB_PASSWORD from the environment otherwise
//! database: clusterpedia    # SQLite: the database file
//! sslMode: disable          # optional, passed on as the driver's ssl mode
//! params: {charset: utf8mb4}  # optional, extra URL query parameters
//! connPool: {maxIdleConns: 10, maxOpenConns: 100, connMaxLifetime: 1h}
//! log: {stdout: true, colorful: true, slowThreshold: 100ms}
//! ```
//!
//! The structured form is turned into a URL at load, so the rest of the layer sees one
//! form. A PostgreSQL password can also stay out of a `dsn`: sqlx reads `PGPASSWORD`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use pedia_plugin_api::pedia_storage::{Result, StorageError};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// The environment variable read for the password when the structured form gives none,
/// as Clusterpedia's internalstorage does with its Secret.
pub const PASSWORD_ENV: &str = "DB_PASSWORD";

/// The database engine behind the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseType {
    Sqlite,
    #[serde(alias = "postgresql")]
    Postgres,
    #[serde(alias = "mariadb")]
    Mysql,
}

/// The parsed `--storage-config`. `Debug` hides the password of the DSN.
#[derive(Clone, PartialEq, Eq)]
pub struct SampleConfig {
    pub database: DatabaseType,
    /// SQLite: a file path or a `sqlite:` URL. PostgreSQL: a `postgres://` URL. MySQL: a
    /// `mysql://` URL.
    pub dsn: String,
    pub max_connections: Option<u32>,
    /// PostgreSQL schema holding the tables (created if missing); the default search_path
    /// otherwise.
    pub schema: Option<String>,
    /// How many change events are kept for watches; a watch from an older revision gets
    /// `410 Expired`.
    pub watch_history: Option<u64>,
    /// `connPool.connMaxLifetime`: connections older than this are closed by the pool.
    pub conn_max_lifetime: Option<Duration>,
    /// `log.slowThreshold`: statements slower than this are logged as warnings.
    pub slow_threshold: Option<Duration>,
}

/// The file as written; [`SampleConfig::from_yaml`] resolves it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawConfig {
    #[serde(rename = "type")]
    kind: DatabaseType,
    #[serde(default)]
    dsn: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    port: Option<Port>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    database: Option<String>,
    #[serde(default)]
    ssl_mode: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, String>,
    #[serde(default)]
    conn_pool: Option<ConnPool>,
    #[serde(default)]
    log: Option<LogConfig>,
    #[serde(default)]
    max_connections: Option<u32>,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    watch_history: Option<u64>,
}

/// Clusterpedia's `connPool` block (Go's `database/sql` pool settings).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConnPool {
    /// Accepted for compatibility: sqlx closes idle connections by age, not by count.
    #[serde(default)]
    max_idle_conns: Option<u32>,
    #[serde(default)]
    max_open_conns: Option<u32>,
    #[serde(default)]
    conn_max_lifetime: Option<String>,
}

/// Clusterpedia's `log` block. The layer logs through the host's subscriber, so only
/// `slowThreshold` changes anything; the others are accepted so its files load unchanged.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LogConfig {
    #[serde(default)]
    #[allow(dead_code)]
    stdout: Option<bool>,
    #[serde(default)]
    #[allow(dead_code)]
    level: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    colorful: Option<bool>,
    #[serde(default)]
    slow_threshold: Option<String>,
    /// Clusterpedia's log file rotation; the host's logging decides where logs go.
    #[serde(default)]
    #[allow(dead_code)]
    logger: Option<serde_yaml_ng::Mapping>,
}

/// A port written as a number (`3306`) or a string (`"3306"`), as Clusterpedia allows.
struct Port(u16);

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Port;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port number from 1 to 65535, as a number or a string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Port, E> {
                match u16::try_from(v) {
                    Ok(p) if p > 0 => Ok(Port(p)),
                    _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Port, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Port, E> {
                match v.trim().parse::<u64>() {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Connections per pool when the config does not say.
const DEFAULT_MAX_CONNECTIONS: u32 = 10;
/// Events kept for watches when the config does not say.
const DEFAULT_WATCH_HISTORY: u64 = 50_000;
/// PostgreSQL truncates identifiers longer than this.
const MAX_IDENTIFIER_BYTES: usize = 63;

impl fmt::Debug for SampleConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SampleConfig")
            .field("database", &self.database)
            .field("dsn", &redact_urls(&self.dsn))
            .field("max_connections", &self.max_connections)
            .field("schema", &self.schema)
            .field("watch_history", &self.watch_history)
            .field("conn_max_lifetime", &self.conn_max_lifetime)
            .field("slow_threshold", &self.slow_threshold)
            .finish()
    }
}

impl SampleConfig {
    fn with_dsn(database: DatabaseType, dsn: String) -> Self {
        Self {
            database,
            dsn,
            max_connections: None,
            schema: None,
            watch_history: None,
            conn_max_lifetime: None,
            slow_threshold: None,
        }
    }

    /// A config for a SQLite database file (created if missing).
    pub fn sqlite(path: impl AsRef<Path>) -> Self {
        Self::with_dsn(DatabaseType::Sqlite, path.as_ref().display().to_string())
    }

    /// A config for a PostgreSQL database, optionally in its own schema.
    pub fn postgres(url: impl Into<String>, schema: Option<&str>) -> Self {
        Self {
            schema: schema.map(str::to_owned),
            ..Self::with_dsn(DatabaseType::Postgres, url.into())
        }
    }

    /// A config for a MySQL or MariaDB database given by a `mysql://` URL.
    pub fn mysql(url: impl Into<String>) -> Self {
        Self::with_dsn(DatabaseType::Mysql, url.into())
    }

    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            StorageError::bad_request(format!(
                "cannot read the sample-storage-layer config {}: {e}",
                path.display()
            ))
        })?;
        Self::from_yaml(&text).map_err(|e| {
            StorageError::bad_request(format!(
                "invalid sample-storage-layer config {}: {}",
                path.display(),
                e.message()
            ))
        })
    }

    /// Parses and validates a config from YAML text, reading `DB_PASSWORD` from the
    /// process environment when the structured form gives no password.
    pub fn from_yaml(text: &str) -> Result<Self> {
        Self::from_yaml_with_env(text, |name| std::env::var(name).ok())
    }

    /// [`from_yaml`](Self::from_yaml) with the environment given as a lookup, so tests
    /// need not change the process environment.
    pub fn from_yaml_with_env(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        if text.trim().is_empty() {
            return Err(StorageError::bad_request(
                "the config is empty; it needs at least `type` (sqlite, postgres or mysql) \
                 and `dsn` or `host`/`database`",
            ));
        }
        let raw: RawConfig = serde_yaml_ng::from_str(text).map_err(|e| {
            // serde may quote a value it could not parse; never echo a password.
            StorageError::bad_request(scrub(&e.to_string(), text))
        })?;
        let config = raw
            .resolve(env)
            .map_err(|m| StorageError::bad_request(scrub(&m, text)))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: values in range and options that fit the database.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(StorageError::bad_request(m));
        if self.dsn.trim().is_empty() {
            return bad("`dsn` is empty".to_owned());
        }
        if self.max_connections == Some(0) {
            return bad("`maxConnections` must be at least 1".to_owned());
        }
        if self.watch_history == Some(0) {
            return bad("`watchHistory` must be at least 1".to_owned());
        }
        if self.schema.is_some() && self.database != DatabaseType::Postgres {
            return bad("`schema` only applies to `type: postgres`".to_owned());
        }
        let dsn = self.dsn.trim();
        match self.database {
            DatabaseType::Sqlite => {
                if dsn.contains(":memory:") || dsn.contains("mode=memory") {
                    // It would vanish whenever the pool closes its last idle connection.
                    return bad(
                        "an in-memory SQLite database is not supported: give a file \
                                path as `dsn` (or use the `memory` storage layer)"
                            .to_owned(),
                    );
                }
            }
            DatabaseType::Postgres => {
                if !(dsn.starts_with("postgres://") || dsn.starts_with("postgresql://")) {
                    return bad(
                        "`dsn` of a postgres database must be a postgres:// or postgresql:// URL"
                            .to_owned(),
                    );
                }
                if let Some(schema) = &self.schema {
                    check_schema_name(schema).or_else(|reason| {
                        bad(format!("`schema` {schema:?} is not usable: {reason}"))
                    })?;
                }
            }
            DatabaseType::Mysql => {
                if !(dsn.starts_with("mysql://") || dsn.starts_with("mariadb://")) {
                    return bad(
                        "`dsn` of a mysql database must be a mysql:// or mariadb:// URL".to_owned(),
                    );
                }
            }
        }
        Ok(())
    }

    pub fn max_connections(&self) -> u32 {
        self.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS)
    }

    pub fn watch_history(&self) -> u64 {
        self.watch_history.unwrap_or(DEFAULT_WATCH_HISTORY)
    }
}

impl RawConfig {
    /// Turns either form into one config with a `dsn`; messages may contain the password
    /// only where the caller scrubs them.
    fn resolve(
        self,
        env: impl Fn(&str) -> Option<String>,
    ) -> std::result::Result<SampleConfig, String> {
        let structured = [
            ("host", self.host.is_some()),
            ("port", self.port.is_some()),
            ("user", self.user.is_some()),
            ("password", self.password.is_some()),
            ("database", self.database.is_some()),
            ("sslMode", self.ssl_mode.is_some()),
            ("params", !self.params.is_empty()),
        ];
        let dsn = match self.dsn {
            Some(dsn) => {
                if let Some((key, _)) = structured.iter().find(|(_, set)| *set) {
                    return Err(format!(
                        "`dsn` and `{key}` both given: use either a `dsn` or \
                         `host`/`port`/`user`/`password`/`database`"
                    ));
                }
                dsn
            }
            None => self.build_dsn(&env)?,
        };
        let pool = self.conn_pool.unwrap_or(ConnPool {
            max_idle_conns: None,
            max_open_conns: None,
            conn_max_lifetime: None,
        });
        let max_connections = match (self.max_connections, pool.max_open_conns) {
            (Some(_), Some(_)) => {
                return Err(
                    "`maxConnections` and `connPool.maxOpenConns` both given: use one".to_owned(),
                );
            }
            (Some(n), None) | (None, Some(n)) => Some(n),
            (None, None) => None,
        };
        if max_connections == Some(0) {
            return Err("`connPool.maxOpenConns` must be at least 1".to_owned());
        }
        if let (Some(idle), Some(open)) = (pool.max_idle_conns, max_connections)
            && idle > open
        {
            return Err(format!(
                "`connPool.maxIdleConns` ({idle}) is more than the open connections allowed ({open})"
            ));
        }
        let conn_max_lifetime = pool
            .conn_max_lifetime
            .as_deref()
            .map(|s| parse_duration(s).map_err(|r| format!("`connPool.connMaxLifetime`: {r}")))
            .transpose()?
            .filter(|d| !d.is_zero()); // 0 means "forever" in Go's database/sql.
        let slow_threshold = self
            .log
            .and_then(|l| l.slow_threshold)
            .map(|s| parse_duration(&s).map_err(|r| format!("`log.slowThreshold`: {r}")))
            .transpose()?;
        Ok(SampleConfig {
            database: self.kind,
            dsn,
            max_connections,
            schema: self.schema,
            watch_history: self.watch_history,
            conn_max_lifetime,
            slow_threshold,
        })
    }

    /// Builds the URL of the structured form.
    fn build_dsn(
        &self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> std::result::Result<String, String> {
        let Some(database) = self.database.as_deref().filter(|d| !d.trim().is_empty()) else {
            return Err(
                "missing `dsn`, or `database` (with `host`, `port`, `user`, `password`)".to_owned(),
            );
        };
        if self.kind == DatabaseType::Sqlite {
            for (key, set) in [
                ("host", self.host.is_some()),
                ("port", self.port.is_some()),
                ("user", self.user.is_some()),
                ("password", self.password.is_some()),
                ("sslMode", self.ssl_mode.is_some()),
                ("params", !self.params.is_empty()),
            ] {
                if set {
                    return Err(format!(
                        "`{key}` does not apply to `type: sqlite`: `database` is the file"
                    ));
                }
            }
            return Ok(database.to_owned());
        }
        let (scheme, default_port, ssl_key) = match self.kind {
            DatabaseType::Postgres => ("postgres", 5432, "sslmode"),
            _ => ("mysql", 3306, "ssl-mode"),
        };
        let host = self.host.as_deref().unwrap_or("127.0.0.1");
        if host.is_empty() || host.contains(['/', '@', '?', '#', ' ']) {
            return Err(format!("`host` {host:?} is not a host name or address"));
        }
        let port = self.port.as_ref().map_or(default_port, |p| p.0);
        let password = self.password.clone().or_else(|| env(PASSWORD_ENV));
        let mut url = format!("{scheme}://");
        if let Some(user) = &self.user {
            url.push_str(&percent_encode(user));
            if let Some(password) = &password {
                url.push(':');
                url.push_str(&percent_encode(password));
            }
            url.push('@');
        } else if password.is_some() {
            return Err("`password` needs a `user`".to_owned());
        }
        // An IPv6 literal needs brackets in a URL.
        if host.contains(':') && !host.starts_with('[') {
            url.push_str(&format!("[{host}]:{port}/"));
        } else {
            url.push_str(&format!("{host}:{port}/"));
        }
        url.push_str(&percent_encode(database));
        let mut query: Vec<(String, String)> = Vec::new();
        if let Some(mode) = &self.ssl_mode {
            query.push((ssl_key.to_owned(), mode.clone()));
        }
        query.extend(self.params.iter().map(|(k, v)| (k.clone(), v.clone())));
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&percent_encode(k));
            url.push('=');
            url.push_str(&percent_encode(v));
        }
        Ok(url)
    }
}

/// Replaces the password given in the YAML `text` (if any) and every URL password in
/// `message`, so no error built while loading shows it.
fn scrub(message: &str, text: &str) -> String {
    let mut out = redact_urls(message);
    if let Ok(value) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text)
        && let Some(password) = value.get("password").and_then(|p| p.as_str())
        && !password.is_empty()
    {
        out = out.replace(password, "***");
        out = out.replace(&percent_encode(password), "***");
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so a user, password
/// or database name cannot change the URL's structure.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parses a Go duration (`100ms`, `1h30m`, `1.5s`), the form Clusterpedia's config uses.
fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let text = s.trim();
    let bad = || format!("{s:?} is not a duration such as 100ms, 30s or 1h");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * seconds;
        rest = &rest[u..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// Schema names end up in SQL (`CREATE SCHEMA`) and in the connection's search_path, so
/// only plain identifiers are accepted: no quoting rules to get wrong.
fn check_schema_name(schema: &str) -> std::result::Result<(), &'static str> {
    let mut chars = schema.chars();
    match chars.next() {
        None => return Err("it is empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return Err("it must start with a letter or underscore");
        }
        Some(_) => {}
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err("only letters, digits and underscores are allowed");
    }
    if schema.len() > MAX_IDENTIFIER_BYTES {
        return Err("it is longer than 63 bytes");
    }
    Ok(())
}

/// Replaces the password of every `scheme://user:password@host` in `text` with `***`, so
/// messages built from a DSN or from a parser's echo of one never show it.
pub(crate) fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends at the first '/', '?', '#' or whitespace; its userinfo at the
        // last '@' before that.
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon]);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use pedia_plugin_api::pedia_storage::ErrorKind;

    use super::*;

    /// The seed's `example-config.yaml` (Clusterpedia's sample-storage), verbatim.
    const SEED_EXAMPLE: &str = include_str!("../tests/fixtures/example-config.yaml");

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(text: &str) -> SampleConfig {
        SampleConfig::from_yaml_with_env(text, no_env)
            .unwrap_or_else(|e| panic!("{text:?}: {}", e.message()))
    }

    fn error(text: &str) -> String {
        match SampleConfig::from_yaml_with_env(text, no_env) {
            Ok(c) => panic!("{text:?} parsed as {c:?}"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::BadRequest, "{}", e.message());
                e.message().to_owned()
            }
        }
    }

    #[test]
    fn sqlite_minimal() {
        let c = parse("type: sqlite\ndsn: /var/lib/pedia/sample.db\n");
        assert_eq!(c, SampleConfig::sqlite("/var/lib/pedia/sample.db"));
        assert_eq!(c.max_connections(), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(c.watch_history(), DEFAULT_WATCH_HISTORY);
    }

    #[test]
    fn postgres_full() {
        let c = parse(
            "type: postgres\ndsn: postgres://u:pw@db:5432/pedia\nmaxConnections: 4\nschema: team_a\nwatchHistory: 10\n",
        );
        assert_eq!(c.database, DatabaseType::Postgres);
        assert_eq!(c.max_connections(), 4);
        assert_eq!(c.schema.as_deref(), Some("team_a"));
        assert_eq!(c.watch_history(), 10);
        assert_eq!(
            parse("type: postgresql\ndsn: postgresql://db/pedia").database,
            DatabaseType::Postgres
        );
    }

    #[test]
    fn the_seeds_example_config_loads_verbatim() {
        let c = parse(SEED_EXAMPLE);
        assert_eq!(c.database, DatabaseType::Mysql);
        assert_eq!(c.dsn, "mysql://root:dangerous0@127.0.0.1:3306/clusterpedia");
        assert_eq!(c.slow_threshold, Some(Duration::from_millis(100)));
        let shown = format!("{c:?}");
        assert!(!shown.contains("dangerous0"), "{shown}");
        // The same file through `load`, as the plugin reads it.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/example-config.yaml");
        assert_eq!(
            SampleConfig::load(&path).expect("load").database,
            DatabaseType::Mysql
        );
    }

    #[test]
    fn structured_form_builds_the_url() {
        let c = parse(
            "type: postgres\nhost: db.local\nport: 6432\nuser: me\npassword: 'p@ss/w:rd'\n\
             database: pedia\nsslMode: require\nparams: {application_name: x}\n\
             connPool: {maxIdleConns: 5, maxOpenConns: 20, connMaxLifetime: 1h30m}\n\
             log: {stdout: false, level: info, colorful: false, slowThreshold: 1.5s, \
             logger: {filename: /var/log/x.log, maxbackups: 3}}\n",
        );
        assert_eq!(
            c.dsn,
            "postgres://me:p%40ss%2Fw%3Ard@db.local:6432/pedia?sslmode=require&application_name=x"
        );
        assert_eq!(c.max_connections(), 20);
        assert_eq!(c.conn_max_lifetime, Some(Duration::from_secs(5400)));
        assert_eq!(c.slow_threshold, Some(Duration::from_millis(1500)));
        let c = parse("type: mysql\nuser: u\ndatabase: d\nsslMode: DISABLED\n");
        assert_eq!(c.dsn, "mysql://u@127.0.0.1:3306/d?ssl-mode=DISABLED");
        let c = parse("type: mariadb\nhost: '::1'\ndatabase: d\nconnPool: {connMaxLifetime: 0}\n");
        assert_eq!(c.dsn, "mysql://[::1]:3306/d");
        assert_eq!(c.conn_max_lifetime, None, "0 is forever, as in Go");
        let c = parse("type: sqlite\ndatabase: /var/lib/pedia/s.db\n");
        assert_eq!(c, SampleConfig::sqlite("/var/lib/pedia/s.db"));
    }

    #[test]
    fn password_from_db_password_when_absent() {
        let env = |name: &str| (name == PASSWORD_ENV).then(|| "from-env".to_owned());
        let text = "type: mysql\nuser: root\ndatabase: d\n";
        let c = SampleConfig::from_yaml_with_env(text, env).expect("parse");
        assert_eq!(c.dsn, "mysql://root:from-env@127.0.0.1:3306/d");
        assert!(!format!("{c:?}").contains("from-env"));
        let c = SampleConfig::from_yaml_with_env(&format!("{text}password: file\n"), env)
            .expect("parse");
        assert_eq!(c.dsn, "mysql://root:file@127.0.0.1:3306/d", "the file wins");
    }

    #[test]
    fn debug_hides_the_password() {
        let c = parse("type: postgres\ndsn: postgres://admin:hunter2@db/pedia\n");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://admin:***@db/pedia"), "{shown}");
        let c = parse("type: mysql\nuser: u\npassword: 'a b@c'\ndatabase: d\n");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("a%20b%40c") && !shown.contains("a b@c"),
            "{shown}"
        );
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let m = error("type: sqlite\ndsn: a.db\nbogus: x\n");
        assert!(m.contains("unknown field `bogus`"), "{m}");
        let m = error("type: mysql\ndatabase: d\nconnPool: {maxConns: 3}\n");
        assert!(m.contains("unknown field `maxConns`"), "{m}");
        let m = error("type: mysql\ndatabase: d\nlog: {file: x}\n");
        assert!(m.contains("unknown field `file`"), "{m}");
    }

    #[test]
    fn the_two_forms_do_not_mix() {
        let m = error("type: postgres\ndsn: postgres://db/x\nhost: 127.0.0.1\n");
        assert!(m.contains("`dsn` and `host`"), "{m}");
        let m = error("type: mysql\ndsn: mysql://db/x\npassword: s3cret\n");
        assert!(m.contains("`password`") && !m.contains("s3cret"), "{m}");
        let m = error("type: sqlite\ndatabase: a.db\nhost: h\n");
        assert!(m.contains("does not apply to `type: sqlite`"), "{m}");
        let m = error("type: mysql\nhost: h\n");
        assert!(m.contains("missing `dsn`"), "{m}");
        let m = error("type: mysql\ndatabase: d\npassword: s3cret\n");
        assert!(m.contains("needs a `user`") && !m.contains("s3cret"), "{m}");
        let m = error("type: mysql\ndatabase: d\nmaxConnections: 3\nconnPool: {maxOpenConns: 3}\n");
        assert!(m.contains("both given"), "{m}");
        let m = error("type: mysql\ndatabase: d\nconnPool: {maxOpenConns: 2, maxIdleConns: 3}\n");
        assert!(m.contains("maxIdleConns"), "{m}");
    }

    #[test]
    fn ports_and_durations() {
        for port in ["3307", "'3307'", "\" 3307\""] {
            let c = parse(&format!("type: mysql\ndatabase: d\nport: {port}\n"));
            assert_eq!(c.dsn, "mysql://127.0.0.1:3307/d", "{port}");
        }
        for port in ["0", "65536", "-1", "abc", "'33a'", "[1]"] {
            let m = error(&format!("type: mysql\ndatabase: d\nport: {port}\n"));
            assert!(m.contains("port number"), "{port}: {m}");
        }
        for d in ["100", "1x", "ms", "", "1h-2m"] {
            let m = error(&format!(
                "type: mysql\ndatabase: d\nlog: {{slowThreshold: '{d}'}}\n"
            ));
            assert!(m.contains("slowThreshold"), "{d:?}: {m}");
        }
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("2m3s"), Ok(Duration::from_secs(123)));
    }

    #[test]
    fn missing_and_wrong_values() {
        assert!(error("").contains("needs at least `type`"));
        assert!(error("  \n").contains("`dsn`"));
        assert!(error("dsn: a.db\n").contains("missing field `type`"));
        assert!(error("type: sqlite\n").contains("missing `dsn`"));
        let m = error("type: oracle\ndsn: oracle://db\n");
        assert!(m.contains("unknown variant `oracle`"), "{m}");
        let m = error("type: mysql\ndsn: postgres://db\n");
        assert!(m.contains("mysql://"), "{m}");
        assert!(error("type: sqlite\ndsn: ''\n").contains("`dsn` is empty"));
        assert!(error("type: sqlite\ndsn: a.db\nmaxConnections: 0\n").contains("at least 1"));
        assert!(error("type: sqlite\ndsn: a.db\nmaxConnections: -3\n").contains("maxConnections"));
        assert!(error("type: sqlite\ndsn: a.db\nwatchHistory: 0\n").contains("watchHistory"));
        assert!(error("- type: sqlite\n").contains("invalid type"));
    }

    #[test]
    fn option_must_fit_the_database() {
        let m = error("type: sqlite\ndsn: a.db\nschema: s\n");
        assert!(m.contains("only applies to `type: postgres`"), "{m}");
        let m = error("type: mysql\ndatabase: d\nschema: s\n");
        assert!(m.contains("only applies to `type: postgres`"), "{m}");
        for dsn in [
            "':memory:'",
            "'sqlite::memory:'",
            "'sqlite://x?mode=memory'",
        ] {
            let m = error(&format!("type: sqlite\ndsn: {dsn}\n"));
            assert!(m.contains("in-memory"), "{dsn}: {m}");
        }
        let m = error("type: postgres\ndsn: /tmp/a.db\n");
        assert!(m.contains("postgres:// or postgresql://"), "{m}");
        for bad in [
            "1abc",
            "a-b",
            "a;drop table x",
            "\"q\"",
            "",
            &"s".repeat(64),
        ] {
            let m = error(&format!(
                "type: postgres\ndsn: postgres://db/x\nschema: '{bad}'\n"
            ));
            assert!(m.contains("`schema`"), "{bad:?}: {m}");
        }
        parse("type: postgres\ndsn: postgres://db/x\nschema: _Tenant_01\n");
    }

    #[test]
    fn errors_never_echo_a_password() {
        // A DSN where a number was expected: serde quotes the value it rejected.
        let m = error(
            "type: postgres\ndsn: postgres://db/x\nmaxConnections: postgres://me:s3cret@db/x\n",
        );
        assert!(!m.contains("s3cret"), "{m}");
        // The password itself echoed by a later error.
        let m = error("type: mysql\nuser: u\npassword: s3cret\ndatabase: d\nport: s3cret\n");
        assert!(!m.contains("s3cret"), "{m}");
        let m = error("type: mysql\nuser: u\npassword: s3cret\ndatabase: d\nhost: 'a/s3cret'\n");
        assert!(!m.contains("s3cret"), "{m}");
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("config.yaml");
        let err = SampleConfig::load(&path).expect_err("missing file");
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(err.message().contains("config.yaml"), "{}", err.message());
        std::fs::write(&path, "type: sqlite\ndsn: x.db\nbogus: 1\n").expect("write");
        let err = SampleConfig::load(&path).expect_err("bad key");
        assert!(err.message().contains("config.yaml"), "{}", err.message());
        assert!(err.message().contains("bogus"), "{}", err.message());
        std::fs::write(&path, "type: sqlite\ndsn: x.db\n").expect("write");
        assert_eq!(
            SampleConfig::load(&path).expect("valid"),
            SampleConfig::sqlite("x.db")
        );
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact_urls("postgres://u:p@h:5/db?x=1 and postgres://h/db"),
            "postgres://u:***@h:5/db?x=1 and postgres://h/db"
        );
        assert_eq!(
            redact_urls("postgres://u@h/db"),
            "postgres://u@h/db",
            "no password, nothing hidden"
        );
        assert_eq!(
            redact_urls("x postgres://u:p@ss@h/db"),
            "x postgres://u:***@h/db"
        );
        assert_eq!(redact_urls("no url here"), "no url here");
    }
}
