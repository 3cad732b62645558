//! Refused inputs and unusable databases: each fails with a clear error of the right
//! kind, never with a password in it.

mod common;

use std::sync::Arc;

use pedia_core::{GroupVersionResource, ListOptions, ResourceType};
use pedia_storage::{ErrorKind, Fence, StorageFactory, StorageLayer, WriteOp};
use storage_internal::{InternalLayer, InternalStorage, InternalStorageConfig};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn pods() -> ResourceType {
    ResourceType::new(GroupVersionResource::new("", "v1", "pods"), "Pod", true)
}

async fn open_error(cfg: &InternalStorageConfig) -> pedia_storage::StorageError {
    match InternalStorage::connect(cfg).await {
        Ok(s) => panic!("{cfg:?} opened: {s:?}"),
        Err(e) => e,
    }
}

async fn open_yaml(yaml: &str) -> pedia_storage::StorageError {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("storage.yaml");
    std::fs::write(&path, yaml).expect("write config");
    match InternalLayer.open(Some(&path)).await {
        Ok(f) => panic!("{yaml} opened: {f:?}"),
        Err(e) => e,
    }
}

#[test]
fn unreachable_servers_are_unavailable_without_the_password() {
    runtime().block_on(async {
        // Port 1 on the loopback: nothing listens there.
        for (db_type, dsn) in [
            ("postgres", "postgres://pedia:topsecret@127.0.0.1:1/db"),
            ("mysql", "mysql://pedia:topsecret@127.0.0.1:1/db"),
            ("mysql", "pedia:topsecret@tcp(127.0.0.1:1)/db"),
        ] {
            let cfg = InternalStorageConfig {
                db_type: db_type.to_owned(),
                dsn: dsn.to_owned(),
                ..InternalStorageConfig::default()
            };
            let err = open_error(&cfg).await;
            assert_eq!(
                err.kind(),
                ErrorKind::Unavailable,
                "{dsn}: {}",
                err.message()
            );
            assert!(err.message().contains("unreachable"), "{}", err.message());
            assert!(err.message().contains("127.0.0.1:1"), "{}", err.message());
            assert!(!err.detail().contains("topsecret"), "{}", err.detail());
            assert!(!format!("{err:?}").contains("topsecret"));
        }
    });
}

#[test]
fn wrong_password_is_a_clear_error_without_the_password() {
    runtime().block_on(async {
        let cfg = InternalStorageConfig {
            db_type: "mysql".to_owned(),
            dsn: common::with_database(&common::mysql_url(), "test")
                .replacen("://", "://nosuchuser:wrongpw@", 1)
                .replacen("root@", "", 1),
            ..InternalStorageConfig::default()
        };
        let err = open_error(&cfg).await;
        assert!(
            err.message().contains("cannot open the mysql database"),
            "{}",
            err.message()
        );
        assert!(!err.detail().contains("wrongpw"), "{}", err.detail());
    });
}

#[test]
fn config_errors_name_the_field() {
    runtime().block_on(async {
        let err = open_yaml("type: sqlite\ndsn: x.db\nhostname: db\n").await;
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(err.message().contains("hostname"), "{}", err.message());

        let err = open_yaml("type: postgres\nhost: 127.0.0.1\nport: fivefourthreetwo\ndatabase: d\npassword: topsecret\n").await;
        assert!(err.message().contains("`port`"), "{}", err.message());
        assert!(!err.message().contains("topsecret"));

        let err = open_yaml("type: postgres\nhost: 127.0.0.1\nport: 5432\ndatabase: d\nsslMode: sometimes\n").await;
        assert!(err.message().contains("sslMode"), "{}", err.message());

        let err = InternalLayer.open(None).await.expect_err("no config");
        assert!(err.message().contains("--storage-config"), "{}", err.message());

        let missing = std::path::Path::new("does-not-exist/storage.yaml");
        let err = InternalLayer.open(Some(missing)).await.expect_err("no file");
        assert!(err.message().contains("does-not-exist/storage.yaml"), "{}", err.message());
    });
}

#[test]
fn corrupt_sqlite_file_is_a_clear_error() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("broken.db");
        std::fs::write(&path, vec![0x5a_u8; 64 * 1024]).expect("write garbage");
        let err = open_error(&InternalStorageConfig::sqlite(path.to_string_lossy())).await;
        assert!(err.message().contains("sqlite"), "{}", err.message());
        assert!(err.message().contains("broken.db"), "{}", err.message());
        assert!(
            err.message().contains("not a database"),
            "{}",
            err.message()
        );
    });
}

#[test]
fn unsupported_queries_say_so() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = InternalStorageConfig::sqlite(dir.path().join("p.db").to_string_lossy());
        let storage = InternalStorage::connect(&cfg).await.expect("open");
        let pods = storage.resource_storage(&pods()).await.expect("pods");

        let any = ListOptions::from_query("fieldSelector=spec.containers%5B%5D.image%3Dx")
            .expect("query");
        let err = pods.list(&any).await.expect_err("[] is unsupported");
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(err.message().contains("[]"), "{}", err.message());
        let err = pods
            .watch(&any, 0)
            .await
            .err()
            .expect("[] is unsupported in watches");
        assert_eq!(err.kind(), ErrorKind::Unsupported);

        let owner = ListOptions::from_query("clusters=c1&ownerUID=x").expect("query");
        let err = pods
            .watch(&owner, 0)
            .await
            .err()
            .expect("owner watches are unsupported");
        assert_eq!(err.kind(), ErrorKind::Unsupported);

        // Keys this layer cannot store are refused with the field named.
        let bad = pedia_core::Object::from_json(bytes::Bytes::from_static(
            br#"{"metadata":{"name":"p","namespace":"ns","uid":"\u00fc"}}"#,
        ))
        .expect("object");
        let err = pods
            .apply_batch("c1", Fence::Unfenced, vec![WriteOp::Upsert(bad)])
            .await
            .expect_err("bad uid");
        assert_eq!(err.kind(), ErrorKind::BadRequest);
        assert!(err.message().contains("metadata.uid"), "{}", err.message());
        let err = pods
            .apply_batch("", Fence::Unfenced, vec![])
            .await
            .expect_err("empty cluster");
        assert_eq!(err.kind(), ErrorKind::BadRequest);

        // Non-ASCII query values simply match nothing.
        let odd = ListOptions::from_query("names=%C3%BC&clusters=%C3%BC").expect("query");
        assert!(pods.list(&odd).await.expect("list").items.is_empty());
        assert_eq!(
            pods.get("ü", "ns", "p").await.expect_err("absent").kind(),
            ErrorKind::NotFound
        );
        storage.shutdown().await.expect("shutdown");
    });
}

#[test]
fn watching_compacted_history_is_expired() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = InternalStorageConfig::sqlite(dir.path().join("p.db").to_string_lossy());
        let storage = Arc::new(InternalStorage::connect(&cfg).await.expect("open"));
        let pods = storage.resource_storage(&pods()).await.expect("pods");
        let object = |name: &str| {
            pedia_core::Object::from_json(bytes::Bytes::from(format!(
                r#"{{"metadata":{{"name":"{name}","namespace":"ns","uid":"u-{name}"}}}}"#
            )))
            .expect("object")
        };
        pods.apply_batch(
            "c1",
            Fence::Unfenced,
            vec![WriteOp::Upsert(object("a")), WriteOp::Upsert(object("b"))],
        )
        .await
        .expect("write");
        let delete = |name: &str| WriteOp::delete("ns", name);
        pods.apply_batch("c1", Fence::Unfenced, vec![delete("a"), delete("b")])
            .await
            .expect("delete");
        storage.compact_history(0).await.expect("compact");

        let err = pods
            .watch(&ListOptions::default(), 1)
            .await
            .err()
            .expect("expired");
        assert_eq!(err.kind(), ErrorKind::Expired, "{}", err.message());
        // From the current revision a watch works.
        let now = storage.current_revision().await.expect("revision");
        assert!(pods.watch(&ListOptions::default(), now).await.is_ok());
        storage.shutdown().await.expect("shutdown");
    });
}
