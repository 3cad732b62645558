//! The plugin side of the interface: the plugin's own tokio runtime, turning a plugin
//! author's ordinary `StorageFactory` into the FFI factory object, and containing panics.
//!
//! Every call runs as a task on the plugin's runtime (a tokio inside a cdylib is a separate
//! copy that cannot see the host's runtime). The host only polls a join handle, so a call
//! that blocks occupies a plugin worker, never a host thread, and a panic becomes an error.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RString};
use async_ffi::{FfiFuture, FutureExt as _};
use bytes::Bytes;
use futures::StreamExt;
use pedia_core::{Object, ResourceType};
use pedia_storage::{ResourceStorage, Result, StorageError, StorageFactory, WriteOp};
use tokio::sync::mpsc;

use abi_stable::std_types::RVec;

use crate::ffi::{
    FfiChunk, FfiError, FfiFactory, FfiFactory_TO, FfiFactoryBox, FfiItems, FfiItems_TO,
    FfiItemsBox, FfiListStream, FfiRequest, FfiResponse, FfiWatch, FfiWatch_TO, FfiWatchBox,
    FfiWatchEvent,
};
use crate::wire::{self, ListMeta, Request, WireOp};

/// Worker threads of a plugin's runtime (env `PEDIA_PLUGIN_WORKER_THREADS`, default 4).
fn worker_threads() -> usize {
    std::env::var("PEDIA_PLUGIN_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(4)
}

/// The plugin's runtime, started on first use and never stopped (plugins are never
/// unloaded).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        // Panics in plugin code become errors for the caller; one line on stderr says where,
        // without the backtrace the default hook would print for every failed call.
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            eprintln!("storage plugin panicked{location}: {message}");
        }));
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads())
            .thread_name("pedia-plugin")
            .enable_all()
            .build()
            .unwrap_or_else(|e| {
                // Nothing can run without a runtime; this happens only when the OS refuses
                // threads, and the host would not be healthy either.
                panic!("storage plugin cannot start its runtime: {e}")
            })
    })
}

/// Aborts the task when the host drops the call's future (the request was cancelled).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_message(err: tokio::task::JoinError) -> StorageError {
    if err.is_panic() {
        let payload = err.into_panic();
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        StorageError::new(
            pedia_storage::ErrorKind::Internal,
            "storage plugin call panicked",
        )
        .with_source(std::io::Error::other(text))
    } else {
        StorageError::unavailable("storage plugin call was cancelled")
    }
}

/// Runs `fut` on the plugin runtime and hands the host an FFI future of its result.
pub fn spawn<T, F>(fut: F) -> FfiFuture<RResult<T, FfiError>>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    let handle = runtime().spawn(fut);
    let guard = AbortOnDrop(handle.abort_handle());
    async move {
        let result = match handle.await {
            Ok(result) => result,
            Err(err) => Err(panic_message(err)),
        };
        drop(guard);
        match result {
            Ok(value) => RResult::ROk(value),
            Err(err) => RResult::RErr(FfiError::from(&err)),
        }
    }
    .into_ffi()
}

/// A plugin author's factory behind the FFI factory object.
struct Guest {
    factory: Arc<dyn StorageFactory>,
    storages: Mutex<HashMap<ResourceType, Arc<dyn ResourceStorage>>>,
}

impl Guest {
    async fn storage(&self, resource: &ResourceType) -> Result<Arc<dyn ResourceStorage>> {
        let cached = self
            .storages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(resource)
            .cloned();
        if let Some(storage) = cached {
            return Ok(storage);
        }
        let storage = self.factory.resource_storage(resource).await?;
        self.storages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(resource.clone(), Arc::clone(&storage));
        Ok(storage)
    }

    async fn dispatch(&self, request: Request, blobs: Vec<Bytes>) -> Result<FfiResponse> {
        let f = &self.factory;
        match request {
            Request::PrepareCluster { cluster } => {
                wire::response(&f.prepare_cluster(&cluster).await?, vec![])
            }
            Request::Get {
                resource,
                cluster,
                namespace,
                name,
            } => {
                let object = self
                    .storage(&resource)
                    .await?
                    .get(&cluster, &namespace, &name)
                    .await?;
                wire::response(&(), vec![object])
            }
            Request::List { resource, options } => {
                let page = self.storage(&resource).await?.list(&options).await?;
                let meta = ListMeta {
                    continue_token: page.continue_token,
                    remaining_count: page.remaining_count,
                    revision: page.revision,
                    resources: Vec::new(),
                };
                wire::response(&meta, page.items)
            }
            Request::ApplyBatch {
                resource,
                cluster,
                fence,
                ops,
            } => {
                let mut blobs: Vec<Option<Bytes>> = blobs.into_iter().map(Some).collect();
                let mut writes = Vec::with_capacity(ops.len());
                for op in ops {
                    writes.push(match op {
                        WireOp::Upsert { blob } => {
                            let raw =
                                blobs.get_mut(blob).and_then(Option::take).ok_or_else(|| {
                                    wire::protocol_error("batch", "missing object blob")
                                })?;
                            WriteOp::Upsert(Object::from_json(raw)?)
                        }
                        WireOp::Delete {
                            namespace,
                            name,
                            uid,
                        } => WriteOp::Delete {
                            namespace,
                            name,
                            uid,
                        },
                    });
                }
                let outcome = self
                    .storage(&resource)
                    .await?
                    .apply_batch(&cluster, fence, writes)
                    .await?;
                wire::response(&outcome, vec![])
            }
            Request::StoredResources => wire::response(&f.stored_resources().await?, vec![]),
            Request::ResourceVersions { cluster } => {
                // JSON object keys must be strings: the map travels as a list of entries.
                let entries: Vec<_> = f.resource_versions(&cluster).await?.into_iter().collect();
                wire::response(&entries, vec![])
            }
            Request::CollectionResources => {
                wire::response(&f.collection_resources().await?, vec![])
            }
            Request::ListCollection {
                collection,
                options,
            } => {
                let page = f.list_collection(&collection, &options).await?;
                let (resources, items) = page
                    .items
                    .into_iter()
                    .map(|item| (item.resource, item.object))
                    .unzip();
                let meta = ListMeta {
                    continue_token: page.continue_token,
                    remaining_count: page.remaining_count,
                    revision: page.revision,
                    resources,
                };
                wire::response(&meta, items)
            }
            Request::CleanCluster { cluster, fence } => {
                wire::response(&f.clean_cluster(&cluster, fence).await?, vec![])
            }
            Request::CleanClusterResource {
                cluster,
                gvr,
                fence,
            } => wire::response(
                &f.clean_cluster_resource(&cluster, &gvr, fence).await?,
                vec![],
            ),
            Request::CurrentRevision => wire::response(&f.current_revision().await?, vec![]),
            Request::Shutdown => wire::response(&f.shutdown().await?, vec![]),
            Request::Watch { .. } => Err(wire::protocol_error(
                "call",
                "watch must use the watch entry point",
            )),
        }
    }
}

fn decode_request(request: FfiRequest) -> Result<(Request, Vec<Bytes>)> {
    let parsed: Request = wire::decode(request.json.as_str())?;
    let blobs = request.blobs.into_iter().map(wire::blob_bytes).collect();
    Ok((parsed, blobs))
}

impl FfiFactory for Arc<Guest> {
    fn call(&self, request: FfiRequest) -> FfiFuture<RResult<FfiResponse, FfiError>> {
        let guest = Arc::clone(self);
        spawn(async move {
            let (request, blobs) = decode_request(request)?;
            guest.dispatch(request, blobs).await
        })
    }

    fn watch(&self, request: FfiRequest) -> FfiFuture<RResult<FfiWatchBox, FfiError>> {
        let guest = Arc::clone(self);
        spawn(async move {
            let (request, _) = decode_request(request)?;
            let Request::Watch {
                resource,
                options,
                from,
            } = request
            else {
                return Err(wire::protocol_error("watch", "not a watch request"));
            };
            let stream = guest
                .storage(&resource)
                .await?
                .watch(&options, from)
                .await?;
            Ok(GuestWatch::start(stream))
        })
    }

    fn list_stream(&self, request: FfiRequest) -> FfiFuture<RResult<FfiListStream, FfiError>> {
        let guest = Arc::clone(self);
        spawn(async move {
            let (request, _) = decode_request(request)?;
            let Request::List { resource, options } = request else {
                return Err(wire::protocol_error("list stream", "not a list request"));
            };
            let list = guest
                .storage(&resource)
                .await?
                .list_stream(&options)
                .await?;
            let meta = ListMeta {
                continue_token: list.continue_token,
                remaining_count: list.remaining_count,
                revision: list.revision,
                resources: Vec::new(),
            };
            Ok(FfiListStream {
                json: wire::encode(&meta)?,
                items: GuestItems::start(list.items),
            })
        })
    }
}

/// Items per chunk of a streamed list, and the bytes a chunk stops growing at: the host
/// holds at most a chunk or two of a streamed list at a time.
const CHUNK_ITEMS: usize = 256;
const CHUNK_BYTES: usize = 4 << 20;

/// A streamed list's items, gathered into chunks by a task on the plugin runtime.
struct GuestItems {
    chunks: Arc<tokio::sync::Mutex<mpsc::Receiver<Result<FfiChunk>>>>,
    _pump: AbortOnDrop,
}

impl GuestItems {
    fn start(mut items: futures::stream::BoxStream<'static, Result<Bytes>>) -> FfiItemsBox {
        // One chunk waits for the host while the next is gathered.
        let (tx, rx) = mpsc::channel(1);
        let pump = runtime().spawn(async move {
            let mut chunk: Vec<RVec<u8>> = Vec::new();
            let mut bytes = 0;
            loop {
                let next = items.next().await;
                let end = !matches!(next, Some(Ok(_)));
                match next {
                    Some(Ok(item)) => {
                        bytes += item.len();
                        chunk.push(RVec::from(item.to_vec()));
                    }
                    Some(Err(err)) => {
                        if !chunk.is_empty() {
                            let full = RVec::from(std::mem::take(&mut chunk));
                            if tx.send(Ok(full)).await.is_err() {
                                return;
                            }
                        }
                        let _ = tx.send(Err(err)).await;
                        return;
                    }
                    None => {}
                }
                if (end && !chunk.is_empty()) || chunk.len() >= CHUNK_ITEMS || bytes >= CHUNK_BYTES
                {
                    bytes = 0;
                    let full = RVec::from(std::mem::take(&mut chunk));
                    if tx.send(Ok(full)).await.is_err() {
                        return;
                    }
                }
                if end {
                    return;
                }
            }
        });
        let items = GuestItems {
            chunks: Arc::new(tokio::sync::Mutex::new(rx)),
            _pump: AbortOnDrop(pump.abort_handle()),
        };
        FfiItems_TO::from_value(items, TD_Opaque)
    }
}

impl FfiItems for GuestItems {
    fn next(&self) -> FfiFuture<ROption<RResult<FfiChunk, FfiError>>> {
        let chunks = Arc::clone(&self.chunks);
        let next = spawn(async move { Ok(chunks.lock().await.recv().await) });
        async move {
            match next.await {
                RResult::ROk(Some(Ok(chunk))) => ROption::RSome(RResult::ROk(chunk)),
                RResult::ROk(Some(Err(err))) => ROption::RSome(RResult::RErr(FfiError::from(&err))),
                RResult::ROk(None) => ROption::RNone,
                RResult::RErr(err) => ROption::RSome(RResult::RErr(err)),
            }
        }
        .into_ffi()
    }
}

/// Events buffered between the plugin's pump task and the host's `next` calls.
const WATCH_BUFFER: usize = 256;

/// A watch stream pumped by a task on the plugin runtime.
struct GuestWatch {
    events: Arc<tokio::sync::Mutex<mpsc::Receiver<Result<FfiWatchEvent>>>>,
    _pump: AbortOnDrop,
}

impl GuestWatch {
    fn start(mut stream: pedia_storage::WatchStream) -> FfiWatchBox {
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let pump = runtime().spawn(async move {
            while let Some(item) = stream.next().await {
                let item = item.map(|e| FfiWatchEvent {
                    event_type: wire::event_code(e.event_type),
                    revision: e.revision,
                    object: e.object.to_vec().into(),
                });
                let end = item.is_err();
                if tx.send(item).await.is_err() || end {
                    return;
                }
            }
        });
        let watch = GuestWatch {
            events: Arc::new(tokio::sync::Mutex::new(rx)),
            _pump: AbortOnDrop(pump.abort_handle()),
        };
        FfiWatch_TO::from_value(watch, TD_Opaque)
    }
}

impl FfiWatch for GuestWatch {
    fn next(&self) -> FfiFuture<ROption<RResult<FfiWatchEvent, FfiError>>> {
        let events = Arc::clone(&self.events);
        let next = spawn(async move { Ok(events.lock().await.recv().await) });
        async move {
            match next.await {
                RResult::ROk(Some(Ok(event))) => ROption::RSome(RResult::ROk(event)),
                RResult::ROk(Some(Err(err))) => ROption::RSome(RResult::RErr(FfiError::from(&err))),
                RResult::ROk(None) => ROption::RNone,
                RResult::RErr(err) => ROption::RSome(RResult::RErr(err)),
            }
        }
        .into_ffi()
    }
}

/// The body of a plugin's exported `open`: runs the author's async `open` on the plugin
/// runtime and wraps the factory. Used by [`crate::export_storage_plugin!`].
pub fn open<F, Fut>(
    config: ROption<RString>,
    open: F,
) -> FfiFuture<RResult<FfiFactoryBox, FfiError>>
where
    F: FnOnce(Option<PathBuf>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Arc<dyn StorageFactory>>> + Send + 'static,
{
    let config = config.into_option().map(|p| PathBuf::from(p.into_string()));
    spawn(async move {
        let factory = open(config).await?;
        let guest = Arc::new(Guest {
            factory,
            storages: Mutex::new(HashMap::new()),
        });
        Ok(FfiFactory_TO::from_value(guest, TD_Opaque))
    })
}
