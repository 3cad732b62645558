//! Shared by the apiserver's integration tests: an in-process apiserver over a given storage
//! on an ephemeral 127.0.0.1 port (bearer tokens, optional policy, extra flags), a client of
//! it, and stored objects from fixture files, written byte for byte.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use pedia_core::{GroupVersionResource, Object, ResourceType};
use pedia_storage::{Fence, StorageFactory, WriteOp};
use pedia_testkit::https::Api;

/// `token,user,uid,"groups"`: alice is in `pay`, root in `system:masters`.
const TOKENS: &str = "alice-token,alice,1,\"pay\"\nbob-token,bob,2\nroot-token,root,3,\"system:masters\"\neve-token,eve,4\n";

pub(crate) struct Server {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    /// The apiserver's self-signed certificate.
    pub(crate) fn ca(&self) -> PathBuf {
        self.dir.path().join("certs/apiserver.crt")
    }

    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// A client authenticating with `token`.
    pub(crate) fn api(&self, token: &str) -> Api {
        Api::new(self.addr, &self.ca(), token).expect("client")
    }
}

/// Serves `storage` until the returned server is dropped.
pub(crate) async fn serve(
    storage: Arc<dyn StorageFactory>,
    policy: Option<&str>,
    extra: &[&str],
) -> Server {
    use clap::Parser;
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        serving: apiserver::ServingOptions,
    }
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("tokens.csv"), TOKENS).expect("tokens");
    let mut args: Vec<String> = vec![
        "apiserver".into(),
        "--bind-address".into(),
        "127.0.0.1".into(),
        "--secure-port".into(),
        "0".into(),
        "--cert-dir".into(),
        dir.path().join("certs").display().to_string(),
        "--token-auth-file".into(),
        dir.path().join("tokens.csv").display().to_string(),
    ];
    if let Some(policy) = policy {
        std::fs::write(dir.path().join("policy.yaml"), policy).expect("policy");
        args.push("--authorization-policy-file".into());
        args.push(dir.path().join("policy.yaml").display().to_string());
    }
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let serving = Flags::parse_from(args).serving;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = apiserver::start(&serving, storage, async {
        let _ = rx.await;
    })
    .await
    .expect("apiserver");
    Server {
        dir,
        addr: server.addr,
        _stop: tx,
    }
}

/// The bytes of `tests/fixtures/<name>`, without the file's trailing newline.
pub(crate) fn fixture(name: &str) -> Bytes {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let end = text
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    Bytes::from(text[..end].to_vec())
}

pub(crate) fn resource(
    group: &str,
    version: &str,
    resource: &str,
    kind: &str,
    namespaced: bool,
) -> ResourceType {
    ResourceType::new(
        GroupVersionResource::new(group, version, resource),
        kind,
        namespaced,
    )
}

/// Stores `raw` as an object of `rt` from `cluster`, exactly these bytes.
pub(crate) async fn put_raw(
    storage: &Arc<dyn StorageFactory>,
    rt: &ResourceType,
    cluster: &str,
    raw: Bytes,
) {
    let object = Object::from_json(raw).expect("fixture is an object");
    storage
        .resource_storage(rt)
        .await
        .expect("resource storage")
        .apply_batch(cluster, Fence::Unfenced, vec![WriteOp::Upsert(object)])
        .await
        .expect("write");
}
