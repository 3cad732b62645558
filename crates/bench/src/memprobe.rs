//! Memory per object of the memory layer, measured in a process that holds nothing else:
//! the driver pipes the pods (as kube-sim serves them) to `pedia-bench memprobe`, which
//! prepares them exactly as the synchro manager does (`synchro_writer::prepare`) and
//! writes them in batches; the growth of its RSS per object is set against the stored
//! (pruned) bytes per object.

use std::io::BufRead;
use std::process::Stdio;

use anyhow::{Context, Result};
use pedia_core::{GroupVersionResource, ResourceType};
use pedia_storage::{Fence, StorageFactory, WriteOp};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::machine::rss;
use crate::sims::{Sims, cluster_name};

/// What the probe reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MemoryResult {
    pub(crate) objects: u64,
    /// Average bytes of an object as served by the member cluster (managedFields included).
    pub(crate) source_bytes_avg: f64,
    /// Average bytes of an object as stored (pruned, annotated).
    pub(crate) stored_bytes_avg: f64,
    pub(crate) rss_before: u64,
    pub(crate) rss_after: u64,
    /// RSS growth per object.
    pub(crate) rss_per_object: f64,
    /// `rss_per_object / stored_bytes_avg` (target: <= 1.5).
    pub(crate) ratio: f64,
}

fn pods() -> ResourceType {
    ResourceType::new(GroupVersionResource::new("", "v1", "pods"), "Pod", true)
}

/// The child: reads `cluster\tjson` lines until EOF, prints a [`MemoryResult`].
pub(crate) fn child_main() -> Result<()> {
    // One thread: a multi-threaded runtime would spread allocations over several malloc
    // arenas, measuring the allocator rather than the layer.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let factory = storage_memory::MemoryStorage::default();
        let storage = factory.resource_storage(&pods()).await?;
        let before = rss(None).current;
        let stdin = std::io::stdin().lock();
        let mut objects = 0u64;
        let mut source_bytes = 0u64;
        let mut stored_bytes = 0u64;
        let mut batch: Vec<WriteOp> = Vec::new();
        let mut batch_cluster = String::new();
        for line in stdin.lines() {
            let line = line?;
            let Some((cluster, json)) = line.split_once('\t') else {
                continue;
            };
            if cluster != batch_cluster || batch.len() >= 500 {
                if !batch.is_empty() {
                    storage
                        .apply_batch(&batch_cluster, Fence::Unfenced, std::mem::take(&mut batch))
                        .await?;
                }
                batch_cluster = cluster.to_owned();
            }
            let value: serde_json::Value = serde_json::from_str(json)?;
            let object =
                synchro_writer::prepare(value, cluster, synchro_writer::Pruning::default())?;
            objects += 1;
            source_bytes += json.len() as u64;
            stored_bytes += object.raw.len() as u64;
            batch.push(WriteOp::Upsert(object));
        }
        if !batch.is_empty() {
            storage
                .apply_batch(&batch_cluster, Fence::Unfenced, batch)
                .await?;
        }
        let after = rss(None).current;
        let n = objects.max(1) as f64;
        let per_object = after.saturating_sub(before) as f64 / n;
        let stored_avg = stored_bytes as f64 / n;
        let result = MemoryResult {
            objects,
            source_bytes_avg: source_bytes as f64 / n,
            stored_bytes_avg: stored_avg,
            rss_before: before,
            rss_after: after,
            rss_per_object: per_object,
            ratio: per_object / stored_avg.max(1.0),
        };
        println!("{}", serde_json::to_string(&result)?);
        // Keep the storage alive until the measurement is taken.
        drop(factory);
        anyhow::Ok(())
    })
}

/// The driver side: pipes every pod of `sims` to a probe child and returns its report.
pub(crate) async fn measure(sims: &Sims) -> Result<MemoryResult> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("memprobe")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting the memory probe")?;
    let mut stdin = child.stdin.take().context("probe stdin")?;
    for i in 0..sims.sims.len() {
        let name = cluster_name(i);
        let mut chunk = Vec::new();
        for raw in sims.raw_pods(i)? {
            chunk.extend_from_slice(name.as_bytes());
            chunk.push(b'\t');
            chunk.extend_from_slice(&raw);
            chunk.push(b'\n');
        }
        stdin.write_all(&chunk).await?;
    }
    drop(stdin);
    let out = child.wait_with_output().await?;
    anyhow::ensure!(out.status.success(), "the memory probe failed");
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).context("the memory probe's report")
}
