//! The `clustersynchro-manager` binary: flags, logging, storage, run until a signal.

use clap::Parser;
use storage_setup::StorageOptions;

#[derive(Debug, Parser)]
#[command(
    name = "clustersynchro-manager",
    version,
    about = "Clusterpedia-rs cluster synchro manager"
)]
struct Cli {
    #[command(flatten)]
    manager: clustersynchro_manager::ManagerOptions,
    #[command(flatten)]
    storage: StorageOptions,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let storage = cli.storage.open().await?;
    let running = clustersynchro_manager::start(&cli.manager, storage.clone()).await?;
    if let Some(addr) = running.metrics_addr {
        tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    }
    tokio::select! {
        result = running.task => { result??; }
        _ = tokio::signal::ctrl_c() => { tracing::info!("shutting down"); }
    }
    let _ = storage.shutdown().await;
    Ok(())
}
