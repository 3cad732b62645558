//! Initial sync: from starting the manager to every object of every cluster being
//! searchable. The driver polls the manager's progress (cheap, over the child's stdin)
//! and, once every resource reports its initial list stored, confirms through the
//! apiserver that the counts are complete; the clock stops at that confirmation.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::child::Server;
use crate::client::{Api, RESOURCES};
use crate::sims::Expected;

/// One layer's initial sync.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SyncResult {
    pub(crate) objects: usize,
    pub(crate) seconds: f64,
    pub(crate) objects_per_s: f64,
    /// The server process before the manager started (storage open, apiserver serving).
    pub(crate) idle_rss: u64,
    /// The most the server process held until the sync completed (`VmHWM`).
    pub(crate) peak_rss: u64,
    pub(crate) rss_after: u64,
    /// Sync throughput over the backend's ingest ceiling.
    pub(crate) ceiling_fraction: Option<f64>,
}

#[derive(Deserialize)]
struct CountList {
    items: Vec<serde::de::IgnoredAny>,
    metadata: CountMeta,
}

#[derive(Deserialize)]
struct CountMeta {
    #[serde(rename = "remainingItemCount", default)]
    remaining: Option<u64>,
}

/// How many objects the apiserver lists at `path` (`api/v1/pods`); a resource not served
/// yet counts 0.
pub(crate) async fn count(api: &Api, path: &str) -> Result<usize> {
    let (status, body) = api
        .get(
            &format!("{RESOURCES}/{path}?limit=1&withRemainingCount=true"),
            None,
        )
        .await?;
    if status == hyper::StatusCode::NOT_FOUND {
        return Ok(0);
    }
    if status != hyper::StatusCode::OK {
        bail!(
            "counting {path}: {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let list: CountList = serde_json::from_slice(&body)?;
    Ok(list.items.len() + list.metadata.remaining.unwrap_or(0) as usize)
}

/// The counts of the synced resources as the apiserver sees them.
pub(crate) async fn counts(api: &Api) -> Result<Expected> {
    Ok(Expected {
        pods: count(api, "api/v1/pods").await?,
        replicasets: count(api, "apis/apps/v1/replicasets").await?,
        deployments: count(api, "apis/apps/v1/deployments").await?,
    })
}

/// Starts the manager of `server` and waits until `expected` is searchable.
pub(crate) async fn initial_sync(
    server: &mut Server,
    expected: Expected,
    resources: usize,
    timeout: Duration,
) -> Result<SyncResult> {
    let idle = server.rss();
    let started = Instant::now();
    server.start_sync().await?;
    loop {
        let p = server.progress().await?;
        if p.resources >= resources
            && p.initial_done >= resources
            && p.synced >= expected.total() as u64
        {
            let seen = counts(&server.api).await?;
            if seen.pods >= expected.pods
                && seen.replicasets >= expected.replicasets
                && seen.deployments >= expected.deployments
            {
                break;
            }
        }
        if started.elapsed() > timeout {
            bail!(
                "the {} sync did not finish in {timeout:?}: {p:?}\n{}",
                server.layer.key(),
                server.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let rss = server.rss();
    Ok(SyncResult {
        objects: expected.total(),
        seconds,
        objects_per_s: expected.total() as f64 / seconds,
        idle_rss: idle.current,
        peak_rss: rss.peak,
        rss_after: rss.current,
        ceiling_fraction: None,
    })
}
