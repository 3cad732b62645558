//! `binding-apiserver`: the search API and the synchro manager in one process over one
//! storage layer, so even the in-process `memory` layer serves what the manager syncs.

use clap::Parser;
use storage_setup::StorageOptions;

#[derive(Debug, Parser)]
#[command(
    name = "binding-apiserver",
    version,
    about = "Clusterpedia-rs apiserver and synchro manager in one process"
)]
struct Cli {
    #[command(flatten)]
    serving: apiserver::ServingOptions,
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
    let manager = clustersynchro_manager::start(&cli.manager, storage.clone()).await?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = apiserver::start(&cli.serving, storage.clone(), async {
        let _ = stop_rx.await;
    })
    .await?;
    eprintln!(
        "serving https://{}/apis/clusterpedia.io/v1beta1/resources",
        server.addr
    );
    tokio::select! {
        result = manager.task => { result??; }
        result = server.task => { result?; }
        _ = tokio::signal::ctrl_c() => { tracing::info!("shutting down"); }
    }
    let _ = stop_tx.send(());
    let _ = storage.shutdown().await;
    Ok(())
}
