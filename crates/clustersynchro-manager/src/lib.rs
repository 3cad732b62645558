//! `clustersynchro-manager`: keeps the storage layer in sync with every registered member
//! cluster. Clusters come from PediaCluster objects in a host cluster or from YAML files
//! ([`source`]); each runs a [`synchro::cluster`] task (credentials, health, discovery) with
//! one [`synchro::resource`] task per resource (list + watch into batched writes through
//! `synchro-writer`). [`manager`] reconciles clusters and publishes [`status`];
//! [`progress`] feeds logs and `/metrics`; [`leader`] elects one active manager in host
//! mode.

pub mod credentials;
pub mod leader;
pub mod manager;
pub mod progress;
pub mod resolve;
pub mod source;
pub mod status;
pub mod synchro;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use pedia_storage::{Fence, StorageFactory};
use synchro_writer::Pruning;

use crate::leader::{LeaderElection, LeaseConfig};
use crate::manager::{Manager, ManagerConfig};
use crate::progress::Progress;
use crate::source::{ClusterSource, DirectorySource, HostSource};

/// The manager's flags (Clusterpedia's names where they exist).
#[derive(Debug, Clone, clap::Args)]
pub struct ManagerOptions {
    /// Kubeconfig of the host cluster holding PediaCluster objects (host mode). Without it
    /// and without --clusters-dir, the in-cluster configuration is used.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Standalone mode: a directory of PediaCluster (and ClusterSyncResources, Secret)
    /// manifests, re-read every few seconds.
    #[arg(long, conflicts_with = "kubeconfig")]
    pub clusters_dir: Option<PathBuf>,
    /// Sync only PediaClusters whose spec.shardingName equals this.
    #[arg(long, default_value = "")]
    pub sharding_name: String,
    /// Elect one active manager with a Lease in the host cluster (host mode only).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    #[arg(long, default_value = "clusterpedia-system")]
    pub leader_elect_resource_namespace: String,
    #[arg(long, default_value = "clusterpedia-clustersynchro-manager")]
    pub leader_elect_resource_name: String,
    /// How long a lease is valid without renewal (Go duration: `15s`, `500ms`, `1m`).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub leader_elect_lease_duration: std::time::Duration,
    /// How often the leader renews its lease.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub leader_elect_renew_interval: std::time::Duration,
    /// How often a candidate retries to take the lease.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub leader_elect_retry_period: std::time::Duration,
    /// Namespace of the Secrets named by `authenticationFrom` (host mode).
    #[arg(long, default_value = "clusterpedia-system")]
    pub secret_namespace: String,
    /// Feature gates, e.g. `PruneManagedFields=true,PruneLastAppliedConfiguration=false`.
    #[arg(long, default_value = "")]
    pub feature_gates: String,
    /// How often each member cluster's health is checked (unhealthy ones back off up to a
    /// minute).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub cluster_health_interval: std::time::Duration,
    /// Where to serve /metrics, /healthz and /readyz (plain HTTP); empty disables.
    #[arg(long, default_value = "0.0.0.0:8081")]
    pub metrics_bind_address: String,
}

/// A problem with the flags.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("--feature-gates: {0}")]
    FeatureGates(String),
    #[error("--metrics-bind-address {0:?} is not an address")]
    MetricsAddress(String),
}

impl ManagerOptions {
    /// The options of these flags (the defaults where a flag is absent).
    pub fn from_flags<I, T>(flags: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::Parser;
        #[derive(Parser)]
        struct Flags {
            #[command(flatten)]
            options: ManagerOptions,
        }
        let args = std::iter::once(std::ffi::OsString::from("clustersynchro-manager"))
            .chain(flags.into_iter().map(Into::into));
        Flags::try_parse_from(args).map(|f| f.options)
    }

    /// Standalone mode over the manifests in `dir`, without a metrics port.
    pub fn standalone(dir: &std::path::Path) -> Self {
        let mut options = Self::from_flags(["--metrics-bind-address", ""])
            .unwrap_or_else(|e| unreachable!("default flags parse: {e}"));
        options.clusters_dir = Some(dir.to_owned());
        options
    }

    /// The pruning feature gates (both on by default, as in Clusterpedia).
    pub fn pruning(&self) -> Result<Pruning, OptionsError> {
        let mut pruning = Pruning::default();
        for gate in self
            .feature_gates
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
        {
            let (name, value) = gate
                .split_once('=')
                .ok_or_else(|| OptionsError::FeatureGates(format!("{gate:?} is not name=bool")))?;
            let on = match value.trim() {
                "true" => true,
                "false" => false,
                v => {
                    return Err(OptionsError::FeatureGates(format!(
                        "{name}: {v:?} is not true or false"
                    )));
                }
            };
            match name.trim() {
                "PruneManagedFields" => pruning.managed_fields = on,
                "PruneLastAppliedConfiguration" => pruning.last_applied_configuration = on,
                other => {
                    return Err(OptionsError::FeatureGates(format!(
                        "unknown feature gate {other:?}"
                    )));
                }
            }
        }
        Ok(pruning)
    }
}

/// A started manager.
#[derive(Debug)]
pub struct RunningManager {
    pub progress: Arc<Progress>,
    pub metrics_addr: Option<SocketAddr>,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(
    State((storage, _)): State<(Arc<dyn StorageFactory>, Arc<Progress>)>,
) -> impl IntoResponse {
    match storage.current_revision().await {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable"),
    }
}

async fn metrics(
    State((_, progress)): State<(Arc<dyn StorageFactory>, Arc<Progress>)>,
) -> impl IntoResponse {
    progress.render_metrics()
}

async fn serve_metrics(
    addr: &str,
    storage: Arc<dyn StorageFactory>,
    progress: Arc<Progress>,
) -> anyhow::Result<Option<SocketAddr>> {
    if addr.is_empty() {
        return Ok(None);
    }
    let addr: SocketAddr = addr
        .parse()
        .map_err(|_| OptionsError::MetricsAddress(addr.to_owned()))?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state((storage, progress));
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(error = %err, "metrics server stopped");
        }
    });
    Ok(Some(bound))
}

/// Starts the manager over `storage` (in the background).
pub async fn start(
    opts: &ManagerOptions,
    storage: Arc<dyn StorageFactory>,
) -> anyhow::Result<RunningManager> {
    let pruning = opts.pruning()?;
    let progress = Arc::new(Progress::default());
    let metrics_addr = serve_metrics(
        &opts.metrics_bind_address,
        Arc::clone(&storage),
        Arc::clone(&progress),
    )
    .await?;
    let mut config = ManagerConfig {
        sharding_name: opts.sharding_name.clone(),
        pruning,
        health_interval: opts.cluster_health_interval,
        fence: Fence::Unfenced,
    };
    let (source, election): (Arc<dyn ClusterSource>, Option<LeaderElection>) = match &opts
        .clusters_dir
    {
        Some(dir) => (Arc::new(DirectorySource::new(dir.clone())), None),
        None => {
            let client_config = match &opts.kubeconfig {
                Some(path) => {
                    let kubeconfig = kube::config::Kubeconfig::read_from(path)?;
                    kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?
                }
                None => kube::Config::infer().await?,
            };
            let client = kube::Client::try_from(client_config)?;
            let election = opts.leader_elect.then(|| {
                LeaderElection::new(
                    client.clone(),
                    LeaseConfig {
                        namespace: opts.leader_elect_resource_namespace.clone(),
                        name: format!(
                            "{}{}",
                            opts.leader_elect_resource_name,
                            if opts.sharding_name.is_empty() {
                                String::new()
                            } else {
                                format!("-{}", opts.sharding_name)
                            }
                        ),
                        identity: identity(),
                        lease_duration: opts.leader_elect_lease_duration,
                        renew_interval: opts.leader_elect_renew_interval,
                        retry_interval: opts.leader_elect_retry_period,
                    },
                )
            });
            (
                Arc::new(HostSource::new(client, opts.secret_namespace.clone())),
                election,
            )
        }
    };
    let task_progress = Arc::clone(&progress);
    let task = tokio::spawn(async move {
        match election {
            None => {
                Manager::new(storage, source, task_progress, config)
                    .run()
                    .await;
                Ok(())
            }
            Some(election) => {
                // Writes carry the leader's epoch, so a successor fences this manager out
                // even before it notices the lost lease.
                config.fence = Fence::Epoch(election.acquire().await);
                let manager = Manager::new(storage, source, task_progress, config);
                let work = tokio::spawn(manager.run());
                election.hold().await;
                work.abort();
                anyhow::bail!("lost the leader lease; stopping")
            }
        }
    });
    Ok(RunningManager {
        progress,
        metrics_addr,
        task,
    })
}

pub use pedia_core::duration::parse_flag_duration as parse_duration;

/// This manager's identity in the lease: host, process and a random part (two managers may
/// share a process in tests and in binding deployments).
fn identity() -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!(
        "{}_{}_{:08x}",
        hostname(),
        std::process::id(),
        random as u32
    )
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "clustersynchro-manager".to_owned())
}
