//! The simulated member clusters every layer syncs from: kube-sim servers in the driver,
//! loaded once per run with realistic pods (Deployments owning ReplicaSets owning Pods,
//! 4-8 KB each with managedFields), and the PediaCluster manifests pointing at them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use kube_sim::{KubeSim, LoadSpec, SimConfig};
use serde::Serialize;
use serde_json::Value;

/// An object of a simulated cluster.
#[derive(Debug, Clone)]
pub(crate) struct ObjRef {
    pub(crate) cluster: usize,
    pub(crate) namespace: String,
    pub(crate) name: String,
}

/// How many objects of each synced resource the clusters hold together.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Expected {
    pub(crate) pods: usize,
    pub(crate) replicasets: usize,
    pub(crate) deployments: usize,
}

impl Expected {
    pub(crate) fn total(&self) -> usize {
        self.pods + self.replicasets + self.deployments
    }
}

/// The running clusters and what they hold.
#[derive(Debug)]
pub(crate) struct Sims {
    pub(crate) sims: Vec<KubeSim>,
    pub(crate) pods: Vec<ObjRef>,
    pub(crate) deployments: Vec<ObjRef>,
    pub(crate) expected: Expected,
    pub(crate) load_seconds: f64,
    pub(crate) clusters_dir: PathBuf,
}

/// `c01`, `c02`, ...: sorts like the clusters' order.
pub(crate) fn cluster_name(i: usize) -> String {
    format!("c{:02}", i + 1)
}

/// Pods per Deployment (one ReplicaSet each), as in a typical cluster.
const PODS_PER_DEPLOYMENT: usize = 100;

impl Sims {
    /// Starts `clusters` simulators holding `pods` pods between them, and writes their
    /// PediaCluster manifests (pods, deployments and replicasets synced) under `dir`.
    pub(crate) fn start(clusters: usize, pods: usize, dir: &Path) -> Result<Self> {
        let clusters = clusters.max(1);
        let per_cluster = pods.div_ceil(clusters);
        let deployments = per_cluster.div_ceil(PODS_PER_DEPLOYMENT).max(1);
        let started = Instant::now();
        let mut sims = Vec::with_capacity(clusters);
        for i in 0..clusters {
            sims.push(KubeSim::start(SimConfig::named(cluster_name(i)))?);
        }
        // The load generator is synchronous and single-threaded per store: one thread per
        // core loads the clusters.
        let workers = std::thread::available_parallelism().map_or(1, usize::from);
        for chunk in sims.chunks(workers) {
            std::thread::scope(|s| -> Result<()> {
                let handles: Vec<_> = chunk
                    .iter()
                    .enumerate()
                    .map(|(j, sim)| {
                        let seed = sim
                            .name()
                            .trim_start_matches('c')
                            .parse::<u64>()
                            .unwrap_or(j as u64);
                        s.spawn(move || {
                            let spec = LoadSpec::parse(&format!(
                                "pods={per_cluster},deployments={deployments},seed={seed}"
                            ))?;
                            sim.load(&spec).map_err(anyhow::Error::from)
                        })
                    })
                    .collect();
                for h in handles {
                    h.join()
                        .map_err(|_| anyhow::anyhow!("a load thread panicked"))??;
                }
                Ok(())
            })?;
        }
        let load_seconds = started.elapsed().as_secs_f64();

        let mut all_pods = Vec::new();
        let mut all_deployments = Vec::new();
        let mut expected = Expected::default();
        for (i, sim) in sims.iter().enumerate() {
            let store = sim.store();
            all_pods.extend(refs(i, &store.list("pods", None).map_err(load_error)?));
            all_deployments.extend(refs(
                i,
                &store.list("deployments", None).map_err(load_error)?,
            ));
            expected.replicasets += store.count("replicasets").map_err(load_error)?;
        }
        expected.pods = all_pods.len();
        expected.deployments = all_deployments.len();

        let clusters_dir = dir.join("clusters");
        std::fs::create_dir_all(&clusters_dir)?;
        for sim in &sims {
            std::fs::write(
                clusters_dir.join(format!("{}.yaml", sim.name())),
                pediacluster(sim)?,
            )?;
        }
        Ok(Self {
            sims,
            pods: all_pods,
            deployments: all_deployments,
            expected,
            load_seconds,
            clusters_dir,
        })
    }

    /// The pods of cluster `i` as kube-sim serves them (compact JSON, managedFields and
    /// all), for the scenarios that write objects without the API.
    pub(crate) fn raw_pods(&self, i: usize) -> Result<Vec<Vec<u8>>> {
        self.sims[i]
            .store()
            .list("pods", None)
            .map_err(load_error)?
            .iter()
            .map(|v| serde_json::to_vec(v).context("serializing a pod"))
            .collect()
    }
}

fn load_error(e: kube_sim::StatusError) -> anyhow::Error {
    anyhow::anyhow!("reading the simulator: {}", e.message)
}

fn refs(cluster: usize, objects: &[Value]) -> Vec<ObjRef> {
    objects
        .iter()
        .map(|o| ObjRef {
            cluster,
            namespace: o["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            name: o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
        .collect()
}

/// A PediaCluster manifest for a simulator, syncing pods, deployments and replicasets.
fn pediacluster(sim: &KubeSim) -> Result<String> {
    sim.token().context("the simulator has a token")?;
    Ok(sim.pediacluster(
        "  syncResources:
  - group: \"\"
    resources: [pods]
  - group: apps
    resources: [deployments, replicasets]
",
    ))
}
