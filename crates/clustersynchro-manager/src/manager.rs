//! The manager loop: reconcile the running cluster synchros with what the source declares
//! (start new clusters, restart changed ones, stop and clean removed ones), and publish
//! every cluster's status.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use pedia_core::cluster::{CONTROL_CLUSTER, PediaCluster};
use pedia_storage::{Fence, StorageFactory};
use synchro_writer::Pruning;

use crate::progress::Progress;
use crate::source::{ClusterSource, DesiredCluster};
use crate::status;
use crate::synchro::cluster::{ClusterSynchro, SynchroContext};

/// How often the source is read and statuses are published.
pub const RECONCILE_INTERVAL: Duration = Duration::from_secs(2);

/// Manager settings.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// Sync only clusters whose `spec.shardingName` equals this.
    pub sharding_name: String,
    pub pruning: Pruning,
    /// How often a healthy cluster is checked.
    pub health_interval: Duration,
    /// The writer fence of every storage write: the leader's epoch, or unfenced without
    /// leader election.
    pub fence: Fence,
}

struct Running {
    desired: DesiredCluster,
    synchro: ClusterSynchro,
}

/// Reconciles clusters and publishes status until cancelled.
pub struct Manager {
    storage: Arc<dyn StorageFactory>,
    source: Arc<dyn ClusterSource>,
    progress: Arc<Progress>,
    config: ManagerConfig,
    running: BTreeMap<String, Running>,
    published: BTreeMap<String, PediaCluster>,
    cleaned_orphans: bool,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("source", &self.source.describe())
            .field("clusters", &self.running.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Manager {
    pub fn new(
        storage: Arc<dyn StorageFactory>,
        source: Arc<dyn ClusterSource>,
        progress: Arc<Progress>,
        config: ManagerConfig,
    ) -> Self {
        Self {
            storage,
            source,
            progress,
            config,
            running: BTreeMap::new(),
            published: BTreeMap::new(),
            cleaned_orphans: false,
        }
    }

    fn context(&self) -> SynchroContext {
        SynchroContext {
            storage: Arc::clone(&self.storage),
            progress: Arc::clone(&self.progress),
            pruning: self.config.pruning,
            secrets: self.source.secrets(),
            health_interval: self.config.health_interval,
            fence: self.config.fence,
        }
    }

    /// Runs forever (until the task is aborted).
    pub async fn run(mut self) {
        tracing::info!(source = %self.source.describe(), sharding = %self.config.sharding_name, "clustersynchro manager started");
        loop {
            self.reconcile_once().await;
            tokio::time::sleep(RECONCILE_INTERVAL).await;
        }
    }

    /// One reconciliation: read the source, adjust synchros, publish statuses.
    pub async fn reconcile_once(&mut self) {
        let desired = match self.source.desired().await {
            Ok(d) => d,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the cluster source; keeping the current clusters");
                return;
            }
        };
        if !self.cleaned_orphans {
            self.clean_orphans(&desired.clusters.keys().cloned().collect())
                .await;
        }
        let mine: BTreeMap<String, DesiredCluster> = desired
            .clusters
            .into_iter()
            .filter(|(_, d)| d.object.spec.sharding_name == self.config.sharding_name)
            .collect();

        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|n| !mine.contains_key(*n))
            .cloned()
            .collect();
        for name in &gone {
            if let Some(r) = self.running.remove(name) {
                r.synchro.stop();
            }
            self.progress.remove(name);
            tracing::info!(cluster = %name, "cluster removed: deleting its objects");
            if let Err(err) = self.storage.clean_cluster(name, self.config.fence).await {
                tracing::error!(cluster = %name, error = %err.detail(), "cleaning a removed cluster failed");
            }
        }
        for (name, want) in mine {
            let changed = self.running.get(&name).is_none_or(|r| {
                r.desired.object.spec != want.object.spec || r.desired.sync != want.sync
            });
            if changed {
                if let Some(r) = self.running.remove(&name) {
                    tracing::info!(cluster = %name, "cluster spec changed: restarting its synchro");
                    r.synchro.stop();
                } else {
                    tracing::info!(cluster = %name, "cluster added");
                }
                let synchro = ClusterSynchro::start(
                    self.context(),
                    name.clone(),
                    want.object.spec.clone(),
                    want.sync.clone(),
                );
                self.running.insert(
                    name,
                    Running {
                        desired: want,
                        synchro,
                    },
                );
            } else if let Some(r) = self.running.get_mut(&name) {
                r.desired = want;
            }
        }
        self.publish(&gone).await;
    }

    /// Removes stored clusters that no source object declares any more (deleted while the
    /// manager was down). Clusters of other shards are declared, so they are kept.
    async fn clean_orphans(&mut self, declared: &BTreeSet<String>) {
        match self.storage.stored_resources().await {
            Ok(stored) => {
                let clusters: BTreeSet<String> =
                    stored.into_iter().flat_map(|s| s.clusters).collect();
                for orphan in clusters
                    .iter()
                    .filter(|c| *c != CONTROL_CLUSTER && !declared.contains(*c))
                {
                    tracing::info!(cluster = %orphan, "stored cluster no longer declared: deleting its objects");
                    if let Err(err) = self.storage.clean_cluster(orphan, self.config.fence).await {
                        tracing::error!(cluster = %orphan, error = %err.detail(), "cleaning an orphaned cluster failed");
                        return;
                    }
                }
                let gone: Vec<String> = self
                    .published
                    .keys()
                    .filter(|c| !declared.contains(*c))
                    .cloned()
                    .collect();
                let _ = status::store(&self.storage, self.config.fence, &[], &gone).await;
                self.cleaned_orphans = true;
            }
            Err(err) => tracing::warn!(error = %err.detail(), "cannot list stored clusters yet"),
        }
    }

    async fn publish(&mut self, removed: &[String]) {
        let snapshot = self.progress.snapshot();
        let mut changed = Vec::new();
        for (name, running) in &self.running {
            let (health, resources) = snapshot.get(name).cloned().unwrap_or_default();
            let previous = self
                .published
                .get(name)
                .map(|p| p.status.clone())
                .unwrap_or_default();
            let new_status =
                status::compute(&previous, &health, &resources, &self.config.sharding_name);
            let object = status::published(&running.desired.object, new_status);
            if self.published.get(name) != Some(&object) {
                changed.push(object);
            }
        }
        if changed.is_empty() && removed.is_empty() {
            return;
        }
        match status::store(&self.storage, self.config.fence, &changed, removed).await {
            Ok(()) => {
                for name in removed {
                    self.published.remove(name);
                }
                for object in changed {
                    if let Err(err) = self.source.write_status(&object).await {
                        tracing::warn!(error = %err, "cannot write cluster status back");
                    }
                    self.published.insert(object.metadata.name.clone(), object);
                }
            }
            Err(err) => tracing::warn!(error = %err.detail(), "cannot publish cluster status"),
        }
    }
}
