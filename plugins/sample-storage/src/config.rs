//! The layer's `--storage-config` file: which database to use and how to reach it.
//!
//! ```yaml
//! type: postgres            # or sqlite
//! dsn: postgres://clusterpedia@db:5432/clusterpedia   # SQLite: a file path or sqlite: URL
//! maxConnections: 10        # optional
//! schema: clusterpedia      # optional, PostgreSQL only: the search_path to use
//! watchHistory: 50000       # optional: change events kept for watches
//! ```
//!
//! A PostgreSQL password can stay out of the file: sqlx reads `PGPASSWORD` (and the other
//! libpq variables) from the environment.

use std::fmt;
use std::path::Path;

use pedia_plugin_api::pedia_storage::{Result, StorageError};
use serde::Deserialize;

/// The database engine behind the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseType {
    Sqlite,
    #[serde(alias = "postgresql")]
    Postgres,
}

/// The parsed `--storage-config`. `Debug` hides the password of the DSN.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SampleConfig {
    #[serde(rename = "type")]
    pub database: DatabaseType,
    /// SQLite: a file path or a `sqlite:` URL. PostgreSQL: a `postgres://` URL.
    pub dsn: String,
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// PostgreSQL schema holding the tables (created if missing); the default search_path
    /// otherwise.
    #[serde(default)]
    pub schema: Option<String>,
    /// How many change events are kept for watches; a watch from an older revision gets
    /// `410 Expired`.
    #[serde(default)]
    pub watch_history: Option<u64>,
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
            .finish()
    }
}

impl SampleConfig {
    /// A config for a SQLite database file (created if missing).
    pub fn sqlite(path: impl AsRef<Path>) -> Self {
        Self {
            database: DatabaseType::Sqlite,
            dsn: path.as_ref().display().to_string(),
            max_connections: None,
            schema: None,
            watch_history: None,
        }
    }

    /// A config for a PostgreSQL database, optionally in its own schema.
    pub fn postgres(url: impl Into<String>, schema: Option<&str>) -> Self {
        Self {
            database: DatabaseType::Postgres,
            dsn: url.into(),
            max_connections: None,
            schema: schema.map(str::to_owned),
            watch_history: None,
        }
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

    /// Parses and validates a config from YAML text.
    pub fn from_yaml(text: &str) -> Result<Self> {
        if text.trim().is_empty() {
            return Err(StorageError::bad_request(
                "the config is empty; it needs at least `type` (sqlite or postgres) and `dsn`",
            ));
        }
        let config: SampleConfig = serde_yaml_ng::from_str(text).map_err(|e| {
            // serde may quote a value it could not parse; never echo a password.
            StorageError::bad_request(redact_urls(&e.to_string()))
        })?;
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
        match self.database {
            DatabaseType::Sqlite => {
                if self.schema.is_some() {
                    return bad("`schema` only applies to `type: postgres`".to_owned());
                }
                let dsn = self.dsn.trim();
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
                let dsn = self.dsn.trim();
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

    fn parse(text: &str) -> SampleConfig {
        SampleConfig::from_yaml(text).unwrap_or_else(|e| panic!("{text:?}: {}", e.message()))
    }

    fn error(text: &str) -> String {
        match SampleConfig::from_yaml(text) {
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
    fn debug_hides_the_password() {
        let c = parse("type: postgres\ndsn: postgres://admin:hunter2@db/pedia\n");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://admin:***@db/pedia"), "{shown}");
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let m = error("type: sqlite\ndsn: a.db\npassword: x\n");
        assert!(m.contains("unknown field `password`"), "{m}");
        // Clusterpedia's internalstorage keys are not this layer's.
        let m = error("type: sqlite\ndsn: a.db\nhost: 127.0.0.1\n");
        assert!(m.contains("`host`"), "{m}");
    }

    #[test]
    fn missing_and_wrong_values() {
        assert!(error("").contains("needs at least `type`"));
        assert!(error("  \n").contains("`dsn`"));
        assert!(error("dsn: a.db\n").contains("missing field `type`"));
        assert!(error("type: sqlite\n").contains("missing field `dsn`"));
        let m = error("type: mysql\ndsn: mysql://db\n");
        assert!(m.contains("unknown variant `mysql`"), "{m}");
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
