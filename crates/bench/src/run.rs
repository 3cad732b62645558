//! `pedia-bench run`: the whole benchmark in one process tree, so every number is taken
//! on the same data, machine and moment. Order: load the clusters; the ingest ceilings;
//! memory per object; then per layer a fresh database and server child: initial sync,
//! queries (the sample plugin alternating with its built-in twin), churn.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;

use crate::child::Server;
use crate::client::Api;
use crate::layers::{DEFAULT_LAYERS, Layer, Prepared};
use crate::machine::Machine;
use crate::queries::{QueryResult, Targets};
use crate::report::{LayerResult, Report, Settings};
use crate::sims::{Sims, cluster_name};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RunArgs {
    /// Smoke-test sizes (2 clusters, 2,000 pods, short phases): finishes in about a minute.
    #[arg(long)]
    quick: bool,
    /// Storage layers, comma-separated: memory, sqlite, postgres, mysql, plugin (the
    /// sample-storage-layer through the plugin host, measured against its built-in twin).
    #[arg(long, default_value = DEFAULT_LAYERS)]
    layers: String,
    /// Where the JSON and Markdown results go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Simulated clusters (default 10; quick 2).
    #[arg(long)]
    clusters: Option<usize>,
    /// Pods over all clusters (default 100,000; quick 2,000).
    #[arg(long)]
    pods: Option<usize>,
    /// Churn updates per second over all clusters (default 2,000; quick 200).
    #[arg(long)]
    churn_rate: Option<f64>,
    /// Churn duration in seconds (default 20; quick 2).
    #[arg(long)]
    churn_seconds: Option<f64>,
    /// Seconds per query scenario, concurrency and layer (default 3; quick 0.2).
    #[arg(long)]
    query_seconds: Option<f64>,
    /// The built sample plugin (default: libsample_storage.so next to this binary).
    #[arg(long)]
    plugin: Option<PathBuf>,
}

impl RunArgs {
    fn settings(&self) -> Result<(Settings, Vec<Layer>)> {
        let layers = self
            .layers
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Layer::parse)
            .collect::<Result<Vec<_>>>()?;
        let q = self.quick;
        Ok((
            Settings {
                quick: q,
                profile: if cfg!(debug_assertions) {
                    "dev"
                } else {
                    "release"
                },
                clusters: self.clusters.unwrap_or(if q { 2 } else { 10 }),
                pods: self.pods.unwrap_or(if q { 2_000 } else { 100_000 }),
                churn_rate: self.churn_rate.unwrap_or(if q { 200.0 } else { 2_000.0 }),
                churn_seconds: self.churn_seconds.unwrap_or(if q { 2.0 } else { 20.0 }),
                query_seconds: self.query_seconds.unwrap_or(if q { 0.2 } else { 3.0 }),
                layers: layers.iter().map(|l| l.key().to_owned()).collect(),
            },
            layers,
        ))
    }
}

/// Progress lines on stderr (stdout gets the tables).
fn note(started: Instant, text: impl AsRef<str>) {
    eprintln!(
        "[{:>6.1}s] {}",
        started.elapsed().as_secs_f64(),
        text.as_ref()
    );
}

pub(crate) fn main(args: RunArgs) -> Result<()> {
    let (settings, layers) = args.settings()?;
    let started = Instant::now();
    let work = tempfile::Builder::new().prefix("pedia-bench-").tempdir()?;
    note(
        started,
        format!(
            "loading {} pods into {} simulated clusters",
            settings.pods, settings.clusters
        ),
    );
    // The simulators serve from their own threads; they start outside the runtime.
    let sims = Sims::start(settings.clusters, settings.pods, work.path())?;
    note(
        started,
        format!(
            "loaded {} objects in {:.1} s",
            sims.expected.total(),
            sims.load_seconds
        ),
    );
    let report = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(&args, settings, &layers, &sims, work.path(), started))?;

    std::fs::create_dir_all(&args.out)?;
    let json = serde_json::to_string_pretty(&report)?;
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let kind = if report.settings.quick {
        "quick"
    } else {
        "full"
    };
    std::fs::write(args.out.join(format!("{kind}-{stamp}.json")), &json)?;
    std::fs::write(args.out.join(format!("{kind}-latest.json")), &json)?;
    let markdown = report.markdown();
    std::fs::write(args.out.join(format!("{kind}-latest.md")), &markdown)?;
    println!("{markdown}");
    note(
        started,
        format!(
            "results in {}",
            args.out.join(format!("{kind}-latest.json")).display()
        ),
    );
    if !report.errors.is_empty() {
        anyhow::bail!(
            "{} scenario(s) failed: {}",
            report.errors.len(),
            report.errors.join("; ")
        );
    }
    Ok(())
}

/// The sample plugin in a directory with the manifest a build writes, as components load it.
fn plugin_dir(plugin: Option<&Path>, work: &Path) -> Result<PathBuf> {
    let so = match plugin {
        Some(p) => p.to_owned(),
        None => std::env::current_exe()?
            .parent()
            .context("the binary's directory")?
            .join("libsample_storage.so"),
    };
    let dir = work.join("plugins");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(&so, dir.join("libsample_storage.so")).with_context(|| {
        format!(
            "copying the sample plugin {} (build it with the benchmark: cargo xtask bench does)",
            so.display()
        )
    })?;
    pedia_plugin_host::write_manifest(&dir)?;
    Ok(dir)
}

async fn run(
    args: &RunArgs,
    settings: Settings,
    layers: &[Layer],
    sims: &Sims,
    work: &Path,
    started: Instant,
) -> Result<Report> {
    let mut report = Report {
        commit: crate::machine::commit(),
        machine: Machine::detect(),
        settings: settings.clone(),
        objects: sims.expected,
        load_seconds: sims.load_seconds,
        ceilings: Vec::new(),
        memory: None,
        layers: Vec::new(),
        queries: Vec::new(),
        plugin_overhead: Vec::new(),
        targets: Vec::new(),
        errors: Vec::new(),
        seconds: 0.0,
    };

    // Ingest ceilings of the backends the selected layers write to.
    let mut backends: Vec<&str> = layers.iter().map(|l| l.backend()).collect();
    backends.dedup();
    backends.sort_unstable();
    backends.dedup();
    if !backends.is_empty() {
        let inputs: Vec<(String, Vec<Bytes>)> = (0..sims.sims.len())
            .map(|i| {
                Ok((
                    cluster_name(i),
                    sims.raw_pods(i)?.into_iter().map(Bytes::from).collect(),
                ))
            })
            .collect::<Result<_>>()?;
        for backend in backends {
            match crate::ceiling::measure(backend, &inputs, work).await {
                Ok(c) => {
                    note(
                        started,
                        format!("ceiling {backend}: {:.0} objects/s", c.objects_per_s),
                    );
                    report.ceilings.push(c);
                }
                Err(e) => report.errors.push(format!("ceiling {backend}: {e:#}")),
            }
        }
    }

    if layers.contains(&Layer::Memory) {
        match crate::memprobe::measure(sims).await {
            Ok(m) => {
                note(
                    started,
                    format!(
                        "memory layer: {:.0} bytes RSS per object, {:.2}x stored",
                        m.rss_per_object, m.ratio
                    ),
                );
                report.memory = Some(m);
            }
            Err(e) => report.errors.push(format!("memory probe: {e:#}")),
        }
    }

    let plugin = if layers.contains(&Layer::Plugin) {
        match plugin_dir(args.plugin.as_deref(), work) {
            Ok(d) => Some(d),
            Err(e) => {
                report.errors.push(format!("plugin: {e:#}"));
                None
            }
        }
    } else {
        None
    };
    let targets = Targets::new(sims);
    for &layer in layers {
        if layer == Layer::Plugin && plugin.is_none() {
            continue;
        }
        let mut results = LayerBench {
            settings: &settings,
            sims,
            work,
            plugin: plugin.as_deref(),
            targets: &targets,
            started,
            report: &mut report,
        };
        results.run(layer).await;
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.finish();
    Ok(report)
}

struct LayerBench<'a> {
    settings: &'a Settings,
    sims: &'a Sims,
    work: &'a Path,
    plugin: Option<&'a Path>,
    targets: &'a Targets,
    started: Instant,
    report: &'a mut Report,
}

impl LayerBench<'_> {
    fn sync_timeout(&self) -> Duration {
        Duration::from_secs(if self.settings.quick { 180 } else { 1800 })
    }

    /// A fresh database and a synced server for `layer`.
    async fn synced_server(&mut self, layer: Layer) -> Result<(Server, Prepared)> {
        let dir = self.work.join(layer.key());
        std::fs::create_dir_all(&dir)?;
        let prepared = Prepared::new(layer, &dir).await?;
        let mut server = Server::spawn(
            layer,
            &prepared,
            self.plugin,
            &self.sims.clusters_dir,
            &dir.join("server"),
        )
        .await?;
        let resources = 3 * self.sims.sims.len();
        let sync = crate::sync::initial_sync(
            &mut server,
            self.sims.expected,
            resources,
            self.sync_timeout(),
        )
        .await?;
        note(
            self.started,
            format!(
                "{}: synced {} objects in {:.1} s ({:.0}/s), peak RSS {:.0} MB",
                layer.key(),
                sync.objects,
                sync.seconds,
                sync.objects_per_s,
                sync.peak_rss as f64 / 1048576.0
            ),
        );
        self.report.layers.push(LayerResult {
            layer: layer.key().to_owned(),
            label: layer.label().to_owned(),
            sync: Some(sync),
            churn: None,
        });
        Ok((server, prepared))
    }

    async fn run(&mut self, layer: Layer) {
        if let Err(e) = self.try_run(layer).await {
            note(self.started, format!("{}: failed: {e:#}", layer.key()));
            self.report.errors.push(format!("{}: {e:#}", layer.key()));
            if !self.report.layers.iter().any(|l| l.layer == layer.key()) {
                self.report.layers.push(LayerResult {
                    layer: layer.key().to_owned(),
                    label: layer.label().to_owned(),
                    sync: None,
                    churn: None,
                });
            }
        }
    }

    async fn try_run(&mut self, layer: Layer) -> Result<()> {
        let (server, prepared) = self.synced_server(layer).await?;
        let mut servers: Vec<(String, Api)> = vec![(layer.key().to_owned(), server.api.clone())];
        // The plugin is measured against the same layer linked in, queried in alternation.
        let twin = if layer == Layer::Plugin {
            let twin = self.synced_server(Layer::SampleBuiltin).await;
            match twin {
                Ok((s, p)) => {
                    servers.push((Layer::SampleBuiltin.key().to_owned(), s.api.clone()));
                    Some((s, p))
                }
                Err(e) => {
                    self.report
                        .errors
                        .push(format!("{}: {e:#}", Layer::SampleBuiltin.key()));
                    None
                }
            }
        } else {
            None
        };
        // Alternating rounds cancel drift between the two servers; smoke tests need no
        // such precision, only numbers.
        let rounds = if servers.len() > 1 && !self.settings.quick {
            3
        } else {
            1
        };
        let results: Vec<QueryResult> =
            crate::queries::run_all(&servers, self.targets, self.settings.query_seconds, rounds)
                .await;
        let checked = crate::queries::check(&results);
        for r in &results {
            if r.concurrency == 1 {
                note(
                    self.started,
                    format!(
                        "{}: {} p50 {:.2} ms p99 {:.2} ms",
                        r.layer,
                        r.query.key(),
                        r.latency.p50_ms,
                        r.latency.p99_ms
                    ),
                );
            }
        }
        self.report.queries.extend(results);
        if let Some((s, p)) = twin {
            s.stop().await;
            p.drop_database().await;
        }
        if let Err(e) = checked {
            self.report.errors.push(format!("queries: {e:#}"));
        }

        let churn = crate::churn::churn(
            &server.api,
            self.sims,
            self.settings.churn_rate,
            self.settings.churn_seconds,
        )
        .await;
        server.stop().await;
        prepared.drop_database().await;
        let churn = churn?;
        note(
            self.started,
            format!(
                "{}: churn {:.0}/s, lag p50 {:.0} ms p99 {:.0} ms, {} of {} delivered",
                layer.key(),
                churn.achieved_rate,
                churn.lag.p50_ms,
                churn.lag.p99_ms,
                churn.delivered,
                churn.updates
            ),
        );
        if let Some(l) = self
            .report
            .layers
            .iter_mut()
            .find(|l| l.layer == layer.key())
        {
            l.churn = Some(churn);
        }
        Ok(())
    }
}
