//! `apiserver`: Clusterpedia's Kubernetes-compatible search API over a storage layer.
//! `kubectl` points at `https://<host>/apis/clusterpedia.io/v1beta1/resources` (or
//! `.../resources/clusters/<name>`) and sees the synced resources of every cluster as if
//! they were one cluster's, with a `CLUSTER` column in tables.
//!
//! Codemap: [`app`] (the router, auth and metrics middleware, health), [`scope`] (the
//! one read scope: path resolution, cluster visibility, policy decision, options, limit,
//! Secret redaction), [`read`] (the read handler), [`resources`] (discovery, list, get,
//! watch responses), [`collections`], [`discovery`], [`render`] (Table and metadata
//! forms), [`openapi`] (schemas for kubectl explain and apply), [`listbody`] (bodies assembled from stored bytes), [`negotiate`] (Accept
//! header), [`paths`], [`auth`] (authentication, delegated to the host cluster where one
//! is configured), [`sar`] (delegated authorization by SubjectAccessReview, with
//! [`request_attributes`]), [`authz`] (the policy file), [`host`] (the host cluster),
//! [`synced`] (types the clusters sync, for discovery), [`limits`], [`options`] (flags); the leaves [`state`] (shared state), [`respond`] (response
//! helpers) and [`error`]. TLS serving is `https-serve`.

pub mod app;
pub mod auth;
pub mod authz;
pub mod collections;
pub mod discovery;
pub mod error;
pub mod host;
pub mod limits;
pub mod listbody;
pub mod metrics;
pub mod negotiate;
pub mod openapi;
pub mod options;
pub mod paths;
pub mod read;
pub mod render;
pub mod request_attributes;
pub mod resources;
pub mod respond;
pub mod sar;
pub mod scope;
pub mod state;
pub mod synced;
mod ttl_cache;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use pedia_storage::StorageFactory;
use tokio::net::TcpListener;

pub use app::router;
pub use options::{OptionsError, ServingOptions};
pub use state::AppState;

/// A started server: its address and the task serving it.
#[derive(Debug)]
pub struct RunningServer {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<()>,
}

/// Binds the secure port and serves `storage` until `shutdown` completes.
pub async fn start(
    serving: &ServingOptions,
    storage: Arc<dyn StorageFactory>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<RunningServer> {
    let security = serving.security().await?;
    let auth = Arc::new(security.authenticator);
    let authz = Arc::new(serving.authorizer()?);
    let policy_reloader = authz.watch(std::time::Duration::from_secs(2));
    let limits = serving.limits();
    let tls = serving.tls_config()?;
    let listener = TcpListener::bind(serving.socket_addr()).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(AppState {
        storage,
        auth,
        delegated: security.delegated.map(Arc::new),
        authz,
        limiter: Arc::new(limits::Limiter::new(limits)),
        redact_secrets: serving.redact_secrets,
        metrics: metrics::Metrics::default(),
        synced: synced::SyncedTypes::default(),
    });
    let app = router(state);
    let mut background = security.tasks;
    background.extend(policy_reloader);
    let task = tokio::spawn(async move {
        https_serve::serve_tls(listener, tls, auth::PeerCertificates::new, app, shutdown).await;
        for task in background {
            task.abort();
        }
    });
    tracing::info!(%addr, "serving the search API");
    Ok(RunningServer { addr, task })
}
