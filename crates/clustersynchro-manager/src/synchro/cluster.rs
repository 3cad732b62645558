//! Syncing one cluster: connect with its credentials, check its health periodically with
//! backoff, resolve what to sync by discovery, and run one resource synchro per resource.
//! Resources dropped from the spec are cleaned from storage. When storage refuses a write
//! because a later leader writes the cluster (the fence), the whole cluster stops.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use pedia_core::GroupVersionResource;
use pedia_core::cluster::{ClusterGroupResources, ClusterSpec};
use pedia_storage::{Fence, StorageFactory, StoredVersion};
use synchro_writer::{BatchWriter, Pruning};
use tokio::task::JoinHandle;

use crate::credentials::{SecretSource, client_config};
use crate::progress::{Progress, ResourceProgress};
use crate::resolve::{Served, SyncTarget, is_builtin_group};
use crate::synchro::resource::{BATCH_SIZE, ResourceSynchro};

/// The longest wait between checks of an unhealthy cluster.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What a cluster synchro needs from the manager.
#[derive(Clone)]
pub struct SynchroContext {
    pub storage: Arc<dyn StorageFactory>,
    pub progress: Arc<Progress>,
    pub pruning: Pruning,
    pub secrets: Arc<dyn SecretSource>,
    /// How often a healthy cluster is checked.
    pub health_interval: Duration,
    /// The writer fence of this manager's storage writes.
    pub fence: Fence,
}

impl std::fmt::Debug for SynchroContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SynchroContext")
            .field("pruning", &self.pruning)
            .field("fence", &self.fence)
            .finish()
    }
}

/// A running cluster synchro; it stops when dropped (or [`ClusterSynchro::stop`]ped), so
/// a manager that stops, or loses its lease, leaves no cluster syncing.
#[derive(Debug)]
pub struct ClusterSynchro {
    pub name: String,
    task: JoinHandle<()>,
}

impl Drop for ClusterSynchro {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ClusterSynchro {
    /// Starts syncing `name` with `spec` (its `syncResources` already merged with the
    /// referenced ClusterSyncResources).
    pub fn start(
        ctx: SynchroContext,
        name: String,
        spec: ClusterSpec,
        sync: Vec<ClusterGroupResources>,
    ) -> Self {
        let task = tokio::spawn(run(ctx, name.clone(), spec, sync));
        Self { name, task }
    }

    /// Stops every task of this cluster.
    pub fn stop(self) {
        drop(self);
    }
}

/// Aborts the resource tasks when the cluster task ends or is aborted.
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

fn fail_validation(ctx: &SynchroContext, name: &str, message: String) {
    tracing::warn!(cluster = name, error = %message, "cluster configuration is invalid");
    ctx.progress.update_health(name, |h| {
        h.validated = false;
        h.validation_message = message;
        h.healthy = false;
    });
}

async fn run(
    ctx: SynchroContext,
    name: String,
    spec: ClusterSpec,
    sync: Vec<ClusterGroupResources>,
) {
    let config = match client_config(&spec, ctx.secrets.as_ref()).await {
        Ok(c) => c,
        Err(err) => return fail_validation(&ctx, &name, err.to_string()),
    };
    let apiserver = config.cluster_url.to_string();
    let client = match kube::Client::try_from(config) {
        Ok(c) => c,
        Err(err) => return fail_validation(&ctx, &name, err.to_string()),
    };
    ctx.progress.update_health(&name, |h| {
        h.apiserver = apiserver.trim_end_matches('/').to_owned();
        h.validated = true;
        h.validation_message.clear();
    });

    // Wait for the cluster to answer, then resolve what to sync.
    let mut backoff = Duration::from_secs(1);
    let served = loop {
        if check_health(&ctx, &name, &client).await {
            match Served::discover(client.clone()).await {
                Ok(s) => break s,
                Err(err) => {
                    ctx.progress
                        .update_health(&name, |h| h.message = format!("discovery failed: {err}"));
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    };
    let (targets, unresolved) = served.resolve(&sync, spec.sync_all_custom_resources, |g| {
        !is_builtin_group(g)
    });
    let unresolved: Vec<String> = unresolved
        .iter()
        .map(|u| {
            format!(
                "{}: {}",
                if u.group.is_empty() {
                    u.resource.clone()
                } else {
                    format!("{}.{}", u.resource, u.group)
                },
                u.reason
            )
        })
        .collect();
    for u in &unresolved {
        tracing::warn!(cluster = %name, unresolved = %u, "a resource to sync is not served by the cluster");
    }
    ctx.progress
        .update_health(&name, |h| h.unresolved = unresolved);

    let (fenced_tx, mut fenced) = tokio::sync::watch::channel(None);
    let tasks = match start_resources(&ctx, &name, &client, &targets, fenced_tx).await {
        Ok(t) => t,
        Err(err) => {
            tracing::error!(cluster = %name, error = %err.detail(), "cannot prepare the cluster's storage");
            ctx.progress
                .update_health(&name, |h| h.message = format!("storage: {}", err.message()));
            return;
        }
    };
    let _tasks = Tasks(tasks);

    // Health checks for as long as the cluster is synced, unless a later leader took it.
    let health = async {
        let mut wait = ctx.health_interval;
        loop {
            tokio::time::sleep(wait).await;
            wait = if check_health(&ctx, &name, &client).await {
                ctx.health_interval
            } else {
                (wait * 2).min(MAX_BACKOFF)
            };
        }
    };
    let fenced_out = async {
        fenced
            .wait_for(Option::is_some)
            .await
            .map(|m| m.clone().unwrap_or_default())
    };
    tokio::select! {
        () = health => {}
        // Ends with an error (ignored) if every resource task is gone.
        Ok(message) = fenced_out => {
            tracing::error!(cluster = %name, error = %message, "fenced out by a later leader: stopped syncing the cluster");
            ctx.progress
                .update_health(&name, |h| h.message = format!("storage: {message}"));
        }
    }
}

async fn start_resources(
    ctx: &SynchroContext,
    name: &str,
    client: &kube::Client,
    targets: &[SyncTarget],
    fenced: tokio::sync::watch::Sender<Option<String>>,
) -> pedia_storage::Result<Vec<JoinHandle<()>>> {
    ctx.storage.prepare_cluster(name).await?;
    let mut stored = ctx.storage.resource_versions(name).await?;
    // Resources stored for this cluster that are no longer synced are cleaned.
    let wanted: BTreeSet<GroupVersionResource> =
        targets.iter().map(|t| t.resource_type().gvr).collect();
    for gvr in stored
        .keys()
        .filter(|g| !wanted.contains(*g))
        .cloned()
        .collect::<Vec<_>>()
    {
        tracing::info!(cluster = name, resource = %gvr, "no longer synced: removing its objects");
        ctx.storage
            .clean_cluster_resource(name, &gvr, ctx.fence)
            .await?;
    }
    let writer = BatchWriter::new(Arc::clone(&ctx.storage), name, BATCH_SIZE).with_fence(ctx.fence);
    let fenced = Arc::new(fenced);
    let mut progresses = Vec::new();
    let mut tasks = Vec::new();
    for target in targets {
        let gvr = target.resource_type().gvr;
        let known: HashMap<String, StoredVersion> = stored.remove(&gvr).unwrap_or_default();
        let progress = ResourceProgress::new(
            name,
            &target.label(),
            &target.api.kind,
            &target.api.version,
            target.namespaced,
        );
        progresses.push(Arc::clone(&progress));
        let synchro = ResourceSynchro {
            client: client.clone(),
            target: target.clone(),
            writer: writer.clone(),
            pruning: ctx.pruning,
            progress,
            known,
            fenced: Arc::clone(&fenced),
        };
        tasks.push(tokio::spawn(synchro.run()));
    }
    ctx.progress.set_resources(name, progresses);
    tracing::info!(cluster = name, resources = targets.len(), "syncing");
    Ok(tasks)
}

/// Asks the cluster for its version; records health.
async fn check_health(ctx: &SynchroContext, name: &str, client: &kube::Client) -> bool {
    match tokio::time::timeout(Duration::from_secs(10), client.apiserver_version()).await {
        Ok(Ok(info)) => {
            let was = ctx
                .progress
                .snapshot()
                .get(name)
                .is_some_and(|(h, _)| h.healthy);
            if !was {
                tracing::info!(cluster = name, version = %info.git_version, "cluster is healthy");
            }
            ctx.progress.update_health(name, |h| {
                h.healthy = true;
                h.version = info.git_version.clone();
                h.message.clear();
            });
            true
        }
        Ok(Err(err)) => {
            unhealthy(ctx, name, err.to_string());
            false
        }
        Err(_) => {
            unhealthy(ctx, name, "health check timed out".to_owned());
            false
        }
    }
}

fn unhealthy(ctx: &SynchroContext, name: &str, message: String) {
    let was = ctx
        .progress
        .snapshot()
        .get(name)
        .is_none_or(|(h, _)| h.healthy);
    if was {
        tracing::warn!(cluster = name, error = %message, "cluster is not reachable");
    }
    ctx.progress.update_health(name, |h| {
        h.healthy = false;
        h.message = message;
    });
}
