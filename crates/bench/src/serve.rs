//! `pedia-bench serve`: the child process of one storage layer. It opens the layer, serves
//! the search API over TLS at once, and starts the synchro manager when the driver writes
//! `sync` on stdin (so the driver can read the idle process's memory and start its clock
//! first). Closing stdin stops it. Protocol lines on stdout are JSON.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::{Context, Result};
use clap::Parser;
use clustersynchro_manager::{ManagerOptions, RunningManager};
use tokio::io::AsyncBufReadExt;

use crate::layers::{self, Layer};

/// The bearer token the driver authenticates with (written to the child's token file).
pub(crate) const TOKEN: &str = "bench-token";

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServeArgs {
    #[arg(long)]
    layer: String,
    #[arg(long)]
    storage_config: Option<PathBuf>,
    /// Directory holding the verified sample plugin and its manifest.
    #[arg(long)]
    plugin_dir: Option<PathBuf>,
    /// PediaCluster manifests of the simulated clusters.
    #[arg(long)]
    clusters_dir: PathBuf,
    /// The child's own directory: certificates and token file.
    #[arg(long)]
    work: PathBuf,
}

/// The `ServingOptions` of a local apiserver on a free port with the token file.
fn serving_options(work: &Path) -> Result<apiserver::ServingOptions> {
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        serving: apiserver::ServingOptions,
    }
    let tokens = work.join("tokens.csv");
    std::fs::write(&tokens, format!("{TOKEN},bench,1\n"))?;
    let certs = work.join("certs");
    let flags = Flags::try_parse_from([
        "apiserver".as_ref(),
        "--bind-address".as_ref(),
        "127.0.0.1".as_ref(),
        "--secure-port".as_ref(),
        "0".as_ref(),
        "--cert-dir".as_ref(),
        certs.as_os_str(),
        "--token-auth-file".as_ref(),
        tokens.as_os_str(),
    ])?;
    Ok(flags.serving)
}

/// The manager's progress as the driver polls it: objects stored (or found unchanged)
/// and how many resource synchros finished their initial list.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct SyncProgress {
    pub(crate) synced: u64,
    pub(crate) resources: usize,
    pub(crate) initial_done: usize,
}

fn progress(manager: Option<&RunningManager>) -> SyncProgress {
    let mut out = SyncProgress::default();
    let Some(m) = manager else {
        return out;
    };
    for (_, resources) in m.progress.snapshot().values() {
        for r in resources {
            out.resources += 1;
            out.synced += r.synced.load(Ordering::Relaxed);
            out.initial_done += usize::from(r.initial_done.load(Ordering::Relaxed));
        }
    }
    out
}

/// Where a child with work directory `work` writes the certificate clients must trust.
pub(crate) fn ca_path(work: &Path) -> PathBuf {
    work.join("certs").join("apiserver.crt")
}

pub(crate) fn main(args: ServeArgs) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<()> {
    let layer = Layer::parse(&args.layer)?;
    let storage = layers::open(
        layer,
        args.storage_config.as_deref(),
        args.plugin_dir.as_deref(),
    )
    .await?;
    let serving = serving_options(&args.work)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = apiserver::start(&serving, storage.clone(), async {
        let _ = stopped.await;
    })
    .await
    .context("starting the apiserver")?;
    println!(
        "{}",
        serde_json::json!({"ready": true, "addr": server.addr})
    );

    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut manager = None;
    while let Some(line) = lines.next_line().await? {
        match line.trim() {
            "sync" if manager.is_none() => {
                let options = ManagerOptions::standalone(&args.clusters_dir);
                manager = Some(clustersynchro_manager::start(&options, storage.clone()).await?);
                println!("{}", serde_json::json!({"syncing": true}));
            }
            "progress" => println!("{}", serde_json::to_string(&progress(manager.as_ref()))?),
            _ => {}
        }
    }
    // stdin closed: the driver is done with this layer (or gone).
    if let Some(m) = manager {
        m.task.abort();
    }
    let _ = stop.send(());
    let _ = server.task.await;
    let _ = storage.shutdown().await;
    Ok(())
}
