//! The storage layers under test: how the driver prepares each one's database and config
//! file, and how a child process opens it through the same registry the components use.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use pedia_plugin_host::Verification;
use pedia_storage::StorageFactory;
use pedia_testkit::databases::{MyDatabase, PgSchema};
use serde::Serialize;

/// One storage layer configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Layer {
    Memory,
    Sqlite,
    Postgres,
    Mysql,
    /// `sample-storage-layer` loaded from its verified `.so` through the plugin host.
    Plugin,
    /// The same sample layer linked in (its rlib): the baseline of the plugin overhead.
    SampleBuiltin,
}

/// What `--layers` selects by default (the built-in sample comes with `plugin`).
pub(crate) const DEFAULT_LAYERS: &str = "memory,sqlite,postgres,mysql,plugin";

impl Layer {
    pub(crate) fn parse(name: &str) -> Result<Self> {
        Ok(match name.trim() {
            "memory" => Self::Memory,
            "sqlite" => Self::Sqlite,
            "postgres" | "postgresql" => Self::Postgres,
            "mysql" | "mariadb" => Self::Mysql,
            "plugin" | "sample-storage-layer" => Self::Plugin,
            "sample-builtin" => Self::SampleBuiltin,
            other => bail!(
                "unknown layer {other:?}: use memory, sqlite, postgres, mysql, plugin, sample-builtin"
            ),
        })
    }

    /// The name on the command line and in the JSON.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
            Self::Plugin => "plugin",
            Self::SampleBuiltin => "sample-builtin",
        }
    }

    /// The name in the table.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Sqlite => "internal/SQLite",
            Self::Postgres => "internal/PostgreSQL",
            Self::Mysql => "internal/MariaDB",
            Self::Plugin => "sample plugin (.so, SQLite)",
            Self::SampleBuiltin => "sample built in (SQLite)",
        }
    }

    /// `--storage-name` of the layer.
    fn storage_name(self) -> &'static str {
        match self {
            Self::Memory => storage_memory::LAYER_NAME,
            Self::Sqlite | Self::Postgres | Self::Mysql => "internal",
            Self::Plugin | Self::SampleBuiltin => sample_storage::LAYER_NAME,
        }
    }

    /// The ingest ceiling this layer's sync is compared with (the database it writes to).
    pub(crate) fn backend(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Sqlite | Self::Plugin | Self::SampleBuiltin => "sqlite",
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
        }
    }
}

/// A layer's storage as the driver set it up: the config file to pass to the child and
/// the database to drop afterwards.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) config: Option<PathBuf>,
    database: Database,
}

#[derive(Debug)]
enum Database {
    None,
    Postgres(PgSchema),
    Mysql(MyDatabase),
}

impl Prepared {
    /// A fresh database (schema, file) for `layer`, with its config written into `dir`.
    pub(crate) async fn new(layer: Layer, dir: &Path) -> Result<Self> {
        let (yaml, database) = match layer {
            Layer::Memory => (None, Database::None),
            Layer::Sqlite => (
                Some(format!(
                    "type: sqlite\ndsn: {}\n",
                    dir.join("internal.db").display()
                )),
                Database::None,
            ),
            Layer::Plugin | Layer::SampleBuiltin => (
                Some(format!(
                    "type: sqlite\ndsn: {}\n",
                    dir.join("sample.db").display()
                )),
                Database::None,
            ),
            Layer::Postgres => {
                let schema = PgSchema::create("pedia_bench").await;
                (
                    Some(format!(
                        "type: postgres\ndsn: {}\nparams:\n  search_path: {}\n",
                        schema.url, schema.schema
                    )),
                    Database::Postgres(schema),
                )
            }
            Layer::Mysql => {
                let db = MyDatabase::create("pedia_bench").await;
                (
                    Some(format!("type: mysql\ndsn: {}\n", db.url)),
                    Database::Mysql(db),
                )
            }
        };
        let config = match yaml {
            Some(yaml) => {
                let path = dir.join(format!("{}.yaml", layer.key()));
                std::fs::write(&path, yaml)?;
                Some(path)
            }
            None => None,
        };
        Ok(Self { config, database })
    }

    /// Drops the database the layer wrote to.
    pub(crate) async fn drop_database(self) {
        match self.database {
            Database::None => {}
            Database::Postgres(schema) => schema.drop_schema().await,
            Database::Mysql(db) => db.drop_database().await,
        }
    }
}

/// Opens `layer` in a child: the built-in registry as every component builds it, plus the
/// sample layer either linked in or loaded from the verified plugin directory.
pub(crate) async fn open(
    layer: Layer,
    config: Option<&Path>,
    plugin_dir: Option<&Path>,
) -> Result<Arc<dyn StorageFactory>> {
    let mut registry = storage_setup::builtin_registry();
    match layer {
        Layer::SampleBuiltin => registry
            .register(
                "built-in (benchmark)",
                Arc::new(sample_storage::SampleLayer),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        Layer::Plugin => {
            let dir = plugin_dir.context("the plugin layer needs --plugin-dir")?;
            pedia_plugin_host::register_dir(&mut registry, dir, Verification::Manifest)?;
        }
        _ => {}
    }
    registry
        .open(layer.storage_name(), config)
        .await
        .with_context(|| format!("opening the {} layer", layer.key()))
}
