//! The storage conformance suite through the plugin host: the sample-storage-layer plugin,
//! verified and loaded from its `.so` like a component loads it, on SQLite, PostgreSQL and
//! MySQL/MariaDB (the last configured with Clusterpedia's internalstorage keys).

mod support;

use std::sync::{Arc, OnceLock};

use pedia_plugin_host::{Verification, register_dir};
use pedia_storage::conformance::Fixture;
use pedia_storage::{Registry, StorageLayer};
use pedia_testkit::databases::{MyDatabase, PgSchema};
use support::{plugin, plugin_dir, seal};

/// The plugin layer, loaded once per test process (plugins are never unloaded).
fn sample_layer() -> Arc<dyn StorageLayer> {
    static LAYER: OnceLock<Arc<dyn StorageLayer>> = OnceLock::new();
    Arc::clone(LAYER.get_or_init(|| {
        let dir = plugin_dir(&[("libsample_storage.so", &plugin("sample_storage"))]);
        seal(dir.path());
        let mut registry = Registry::new();
        register_dir(&mut registry, dir.path(), Verification::Manifest)
            .expect("load the sample plugin");
        Arc::clone(registry.get("sample-storage-layer").expect("registered"))
    }))
}

async fn open_with(config: &str, dir: tempfile::TempDir) -> (Fixture, tempfile::TempDir) {
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config).expect("config");
    let factory = sample_layer()
        .open(Some(&path))
        .await
        .expect("open the plugin layer");
    (Fixture::new(factory), dir)
}

async fn open_plugin_sqlite() -> Fixture {
    let dir = tempfile::tempdir().expect("dir");
    let config = format!(
        "type: sqlite\ndsn: {}\n",
        dir.path().join("sample.db").display()
    );
    let (fixture, dir) = open_with(&config, dir).await;
    fixture.with_teardown(async move { drop(dir) })
}

async fn open_plugin_postgres() -> Fixture {
    let schema = PgSchema::create("pedia_plugin").await;
    let config = format!(
        "type: postgres\ndsn: {}\nschema: {}\n",
        schema.url, schema.schema
    );
    let (fixture, dir) = open_with(&config, tempfile::tempdir().expect("dir")).await;
    fixture.with_teardown(async move {
        drop(dir);
        schema.drop_schema().await;
    })
}

pedia_storage::conformance_suite!(plugin_sqlite, crate::open_plugin_sqlite);
pedia_storage::conformance_suite!(plugin_postgres, crate::open_plugin_postgres);

/// The structured form (`host`, `port` as a string, `user`, `database`), as in
/// Clusterpedia's example-config.yaml, taken apart from the harness's URL.
async fn open_plugin_mysql() -> Fixture {
    let database = MyDatabase::create("pedia_plugin").await;
    let parts = database.parts();
    let mut config = format!(
        "type: mysql\nhost: {}\nport: \"{}\"\nuser: {}\ndatabase: {}\n",
        parts.host, parts.port, parts.user, parts.database
    );
    if let Some(password) = parts.password {
        config.push_str(&format!("password: '{password}'\n"));
    }
    config.push_str("log:\n  stdout: true\n  colorful: true\n  slowThreshold: 100ms\n");
    let (fixture, dir) = open_with(&config, tempfile::tempdir().expect("dir")).await;
    fixture.with_teardown(async move {
        drop(dir);
        database.drop_database().await;
    })
}

pedia_storage::conformance_suite!(plugin_mysql, crate::open_plugin_mysql);
