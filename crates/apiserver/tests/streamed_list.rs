//! A whole list (no `limit`) is streamed through the real HTTPS API: the client receives
//! the list's first bytes while the storage is still being read, the streamed document
//! is the complete list, and a storage error mid-list breaks the response off instead of
//! ending it like a complete list. The memory layer is wrapped in a gate that releases
//! items only when the test allows (and counts them), so nothing depends on timing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use pedia_core::{GroupVersionResource, ListOptions, ResourceType};
use pedia_storage::{
    BatchOutcome, CollectionList, CollectionResource, Fence, ListResult, ListStream,
    ResourceStorage, ResourceVersions, Result, Revision, StorageError, StorageFactory,
    StoredResource, WatchStream, WriteOp,
};
use pedia_testkit::https::{Api, next_data};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

const PODS: &str = "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods";
const COUNT: usize = 3_000;
/// Items the gate lets through before the test opens it.
const FIRST: usize = 100;

/// How the gate treats a streamed list's items.
#[derive(Debug)]
struct Gate {
    /// One permit per item allowed out.
    permits: Semaphore,
    /// Items taken from the storage's stream so far.
    pulled: AtomicUsize,
    /// The item at this index fails instead (a storage error mid-list).
    fail_at: Option<usize>,
}

/// A storage factory that passes everything to `inner`, but gates streamed list items.
#[derive(Debug)]
struct Gated {
    inner: Arc<dyn StorageFactory>,
    gate: Arc<Gate>,
}

#[derive(Debug)]
struct GatedResource {
    inner: Arc<dyn ResourceStorage>,
    gate: Arc<Gate>,
}

#[async_trait]
impl ResourceStorage for GatedResource {
    fn resource_type(&self) -> &ResourceType {
        self.inner.resource_type()
    }

    async fn get(&self, cluster: &str, namespace: &str, name: &str) -> Result<Bytes> {
        self.inner.get(cluster, namespace, name).await
    }

    async fn list(&self, opts: &ListOptions) -> Result<ListResult> {
        self.inner.list(opts).await
    }

    async fn list_stream(&self, opts: &ListOptions) -> Result<ListStream> {
        let mut list = self.inner.list_stream(opts).await?;
        let gate = Arc::clone(&self.gate);
        list.items = list
            .items
            .then(move |item| {
                let gate = Arc::clone(&gate);
                async move {
                    gate.permits.acquire().await.expect("gate open").forget();
                    let index = gate.pulled.fetch_add(1, Ordering::SeqCst);
                    if gate.fail_at == Some(index) {
                        return Err(StorageError::unavailable("the storage went away"));
                    }
                    item
                }
            })
            .boxed();
        Ok(list)
    }

    async fn watch(&self, opts: &ListOptions, from: Revision) -> Result<WatchStream> {
        self.inner.watch(opts, from).await
    }

    async fn apply_batch(
        &self,
        cluster: &str,
        fence: Fence,
        ops: Vec<WriteOp>,
    ) -> Result<BatchOutcome> {
        self.inner.apply_batch(cluster, fence, ops).await
    }
}

#[async_trait]
impl StorageFactory for Gated {
    fn layer_name(&self) -> &str {
        self.inner.layer_name()
    }

    async fn prepare_cluster(&self, cluster: &str) -> Result<()> {
        self.inner.prepare_cluster(cluster).await
    }

    async fn resource_storage(&self, resource: &ResourceType) -> Result<Arc<dyn ResourceStorage>> {
        Ok(Arc::new(GatedResource {
            inner: self.inner.resource_storage(resource).await?,
            gate: Arc::clone(&self.gate),
        }))
    }

    async fn stored_resources(&self) -> Result<Vec<StoredResource>> {
        self.inner.stored_resources().await
    }

    async fn resource_versions(&self, cluster: &str) -> Result<ResourceVersions> {
        self.inner.resource_versions(cluster).await
    }

    async fn list_collection(
        &self,
        collection: &CollectionResource,
        opts: &ListOptions,
    ) -> Result<CollectionList> {
        self.inner.list_collection(collection, opts).await
    }

    async fn clean_cluster(&self, cluster: &str, fence: Fence) -> Result<()> {
        self.inner.clean_cluster(cluster, fence).await
    }

    async fn clean_cluster_resource(
        &self,
        cluster: &str,
        gvr: &GroupVersionResource,
        fence: Fence,
    ) -> Result<()> {
        self.inner.clean_cluster_resource(cluster, gvr, fence).await
    }

    async fn current_revision(&self) -> Result<Revision> {
        self.inner.current_revision().await
    }

    async fn shutdown(&self) -> Result<()> {
        self.inner.shutdown().await
    }
}

async fn seeded() -> Arc<dyn StorageFactory> {
    let storage: Arc<dyn StorageFactory> = Arc::new(storage_memory::MemoryStorage::default());
    let pods = (0..COUNT)
        .map(|i| {
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": format!("pod-{i:04}"), "namespace": format!("ns-{}", i % 5), "resourceVersion": "1"},
                   "spec": {"nodeName": "node-1", "args": "x".repeat(500)}})
        })
        .collect();
    synchro_writer::load_objects(Arc::clone(&storage), "c1", pods, Default::default())
        .await
        .expect("load");
    storage
}

struct Server {
    api: Api,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn serve(storage: Arc<dyn StorageFactory>) -> Server {
    use clap::Parser;
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        serving: apiserver::ServingOptions,
    }
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("tokens.csv"),
        "root-token,root,1,\"system:masters\"\n",
    )
    .expect("tokens");
    let args = [
        "apiserver".to_owned(),
        "--bind-address".into(),
        "127.0.0.1".into(),
        "--secure-port".into(),
        "0".into(),
        "--cert-dir".into(),
        dir.path().join("certs").display().to_string(),
        "--token-auth-file".into(),
        dir.path().join("tokens.csv").display().to_string(),
    ];
    let serving = Flags::parse_from(args).serving;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = apiserver::start(&serving, storage, async {
        let _ = rx.await;
    })
    .await
    .expect("apiserver");
    let api = Api::new(
        server.addr,
        &dir.path().join("certs/apiserver.crt"),
        "root-token",
    )
    .expect("client");
    Server {
        api,
        _dir: dir,
        _stop: tx,
    }
}

fn gated(inner: Arc<dyn StorageFactory>, fail_at: Option<usize>) -> (Arc<Gated>, Arc<Gate>) {
    let gate = Arc::new(Gate {
        permits: Semaphore::new(FIRST),
        pulled: AtomicUsize::new(0),
        fail_at,
    });
    let factory = Arc::new(Gated {
        inner,
        gate: Arc::clone(&gate),
    });
    (factory, gate)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_list_arrives_while_the_storage_is_read() {
    let memory = seeded().await;
    let (factory, gate) = gated(Arc::clone(&memory), None);
    let server = serve(factory).await;

    let mut body = server.api.stream(PODS).await.expect("list");
    let first = next_data(&mut body)
        .await
        .expect("a first chunk")
        .expect("no error");
    // Only the gate's first items can have left the storage, yet the client has the
    // list's beginning: the server did not wait for the whole list.
    let pulled = gate.pulled.load(Ordering::SeqCst);
    assert!(pulled <= FIRST, "{pulled} items left the gate");
    assert!(
        first.starts_with(br#"{"apiVersion":"v1","kind":"PodList","metadata":{"resourceVersion":"#),
        "{}",
        String::from_utf8_lossy(&first[..first.len().min(200)])
    );

    gate.permits.add_permits(COUNT);
    let mut whole = first.to_vec();
    while let Some(chunk) = next_data(&mut body).await {
        whole.extend_from_slice(&chunk.expect("no error"));
    }
    assert_eq!(gate.pulled.load(Ordering::SeqCst), COUNT);
    let list: Value = serde_json::from_slice(&whole).expect("the streamed list is JSON");
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["metadata"]["name"].as_str().expect("name"))
        .collect();
    // The same items in the same order as the storage lists them.
    let pods = memory
        .resource_storage(&ResourceType::new(
            GroupVersionResource::new("", "v1", "pods"),
            "Pod",
            true,
        ))
        .await
        .expect("pods");
    let unstreamed = pods.list(&ListOptions::default()).await.expect("list");
    let expected: Vec<String> = unstreamed
        .items
        .iter()
        .map(|raw| {
            let v: Value = serde_json::from_slice(raw).expect("json");
            v["metadata"]["name"].as_str().expect("name").to_owned()
        })
        .collect();
    assert_eq!(names.len(), COUNT);
    assert_eq!(names, expected);
    assert_eq!(
        list["metadata"]["resourceVersion"],
        json!(unstreamed.revision.to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_error_mid_list_breaks_the_response_off() {
    let (factory, gate) = gated(seeded().await, Some(COUNT / 2));
    gate.permits.add_permits(COUNT);
    let server = serve(factory).await;

    let mut body = server.api.stream(PODS).await.expect("list");
    let mut received = Vec::new();
    let mut broken = false;
    while let Some(chunk) = next_data(&mut body).await {
        match chunk {
            Ok(data) => received.extend_from_slice(&data),
            Err(_) => {
                broken = true;
                break;
            }
        }
    }
    assert!(broken, "the body ended as if the list were complete");
    assert!(
        serde_json::from_slice::<Value>(&received).is_err(),
        "what arrived must not parse as a list"
    );
}
