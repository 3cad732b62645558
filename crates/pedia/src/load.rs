//! `pedia load`: import Kubernetes objects from manifest files into a storage layer as if
//! synced from a cluster, through the synchro manager's write path.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use storage_setup::StorageOptions;
use synchro_writer::{Pruning, load_objects, read_objects};

#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// The cluster the objects are stored as coming from.
    #[arg(long)]
    cluster: String,
    /// Keep managedFields (pruned by default, as the synchro manager does).
    #[arg(long)]
    keep_managed_fields: bool,
    /// Keep the kubectl last-applied-configuration annotation (pruned by default).
    #[arg(long)]
    keep_last_applied: bool,
    #[command(flatten)]
    storage: StorageOptions,
    /// YAML or JSON manifests (multi-document; `List` kinds are flattened).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub(crate) async fn run(args: LoadArgs) -> Result<()> {
    let objects = read_objects(&args.files)?;
    let storage = args.storage.open().await?;
    let pruning = Pruning {
        managed_fields: !args.keep_managed_fields,
        last_applied_configuration: !args.keep_last_applied,
    };
    let summary = load_objects(storage.clone(), &args.cluster, objects, pruning)
        .await
        .map_err(|e| anyhow::anyhow!(e.message().to_owned()).context(e.detail()))
        .with_context(|| format!("loading into storage layer {:?}", args.storage.storage_name))?;
    for (resource, out) in &summary.resources {
        println!(
            "{:<40} written {:>6}  unchanged {:>6}  recreated {:>6}",
            format!("{}.{}", resource.gvr.resource, resource.gvr.group).trim_end_matches('.'),
            out.written,
            out.unchanged,
            out.recreated
        );
    }
    println!(
        "cluster {}: {} objects loaded",
        args.cluster,
        summary.objects()
    );
    let _ = storage.shutdown().await;
    Ok(())
}
