//! `pedia-bench`: the benchmark behind `cargo xtask bench`. One run measures every storage
//! layer side by side on the same simulated clusters, so results compare as ratios:
//! initial sync throughput, churn lag, query latency through the apiserver over HTTPS,
//! memory per object, plugin overhead, and the ingest ceiling the sync is a fraction of.
//!
//! Process layout: this process (the driver) runs the kube-sim clusters, the load
//! generators and the HTTPS clients. Each storage layer under test runs in a child
//! process (`pedia-bench serve`, the same binary) holding the synchro manager and the
//! apiserver over one storage layer, as `binding-apiserver` does; the child's peak RSS is
//! the manager's (plus the apiserver's, idle while syncing). Memory per object is measured
//! in another child (`pedia-bench memprobe`) that holds nothing but the memory layer.

mod ceiling;
mod child;
mod churn;
/// The HTTPS client of the apiserver, shared with the load tests.
use pedia_testkit::https as client;
mod layers;
mod machine;
mod memprobe;
mod queries;
mod report;
mod run;
mod serve;
mod sims;
mod stats;
mod sync;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "pedia-bench",
    about = "Benchmarks Clusterpedia-rs per storage layer (run it with `cargo xtask bench`)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the benchmark and writes the table and JSON.
    Run(run::RunArgs),
    /// (internal) A child process: synchro manager and apiserver over one storage layer.
    #[command(hide = true)]
    Serve(serve::ServeArgs),
    /// (internal) A child process: objects from stdin into the memory layer, RSS reported.
    #[command(hide = true)]
    Memprobe,
}

fn main() -> anyhow::Result<()> {
    // Logs go to stderr, warnings only unless RUST_LOG says otherwise: stdout carries the
    // table (driver) or the protocol lines (children).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match Cli::parse().command {
        Command::Run(args) => run::main(args),
        Command::Serve(args) => serve::main(args),
        Command::Memprobe => memprobe::child_main(),
    }
}
