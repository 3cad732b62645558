//! The results of a run: the JSON document written under `target/bench/`, the Markdown
//! tables printed (and pasted into the README), and the targets checked against
//! the measured values.

use std::fmt::Write as _;

use serde::Serialize;

use crate::ceiling::Ceiling;
use crate::churn::ChurnResult;
use crate::layers::Layer;
use crate::machine::Machine;
use crate::memprobe::MemoryResult;
use crate::queries::{QUERIES, Query, QueryResult, find};
use crate::sims::Expected;
use crate::sync::SyncResult;

/// The run's settings.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Settings {
    pub(crate) quick: bool,
    pub(crate) profile: &'static str,
    pub(crate) clusters: usize,
    pub(crate) pods: usize,
    pub(crate) churn_rate: f64,
    pub(crate) churn_seconds: f64,
    pub(crate) query_seconds: f64,
    pub(crate) layers: Vec<String>,
}

/// One layer's sync and churn.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LayerResult {
    pub(crate) layer: String,
    pub(crate) label: String,
    pub(crate) sync: Option<SyncResult>,
    pub(crate) churn: Option<ChurnResult>,
}

/// Plugin vs built in for one query scenario.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Overhead {
    pub(crate) query: Query,
    pub(crate) concurrency: usize,
    pub(crate) builtin_p50_ms: f64,
    pub(crate) plugin_p50_ms: f64,
    /// plugin p50 / built-in p50 (1.05 = 5% slower).
    pub(crate) p50_ratio: f64,
    pub(crate) builtin_rps: f64,
    pub(crate) plugin_rps: f64,
    /// built-in req/s / plugin req/s (1.05 = the plugin serves 5% fewer).
    pub(crate) throughput_ratio: f64,
}

/// One target of the issue with the measured value.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Target {
    pub(crate) goal: String,
    pub(crate) measured: String,
    pub(crate) met: bool,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    /// The source measured: `git describe --always --dirty` of the workspace.
    pub(crate) commit: String,
    pub(crate) machine: Machine,
    pub(crate) settings: Settings,
    pub(crate) objects: Expected,
    pub(crate) load_seconds: f64,
    pub(crate) ceilings: Vec<Ceiling>,
    pub(crate) memory: Option<MemoryResult>,
    pub(crate) layers: Vec<LayerResult>,
    pub(crate) queries: Vec<QueryResult>,
    pub(crate) plugin_overhead: Vec<Overhead>,
    pub(crate) targets: Vec<Target>,
    pub(crate) errors: Vec<String>,
    pub(crate) seconds: f64,
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

impl Report {
    fn ceiling(&self, backend: &str) -> Option<&Ceiling> {
        self.ceilings.iter().find(|c| c.backend == backend)
    }

    fn layer(&self, key: &str) -> Option<&LayerResult> {
        self.layers.iter().find(|l| l.layer == key)
    }

    /// Fills in the ceiling fractions, the plugin overhead and the target checks.
    pub(crate) fn finish(&mut self) {
        let fractions: Vec<Option<f64>> = self
            .layers
            .iter()
            .map(|l| {
                let backend = Layer::parse(&l.layer).ok()?.backend();
                let ceiling = self.ceiling(backend)?;
                Some(l.sync.as_ref()?.objects_per_s / ceiling.objects_per_s)
            })
            .collect();
        for (l, f) in self.layers.iter_mut().zip(fractions) {
            if let Some(sync) = &mut l.sync {
                sync.ceiling_fraction = f;
            }
        }
        self.plugin_overhead = self.overhead();
        self.targets = self.targets();
    }

    fn overhead(&self) -> Vec<Overhead> {
        let mut out = Vec::new();
        for &query in QUERIES {
            for &c in query.concurrencies() {
                let (Some(b), Some(p)) = (
                    find(&self.queries, Layer::SampleBuiltin.key(), query, c),
                    find(&self.queries, Layer::Plugin.key(), query, c),
                ) else {
                    continue;
                };
                if b.latency.count == 0 || p.latency.count == 0 {
                    continue;
                }
                out.push(Overhead {
                    query,
                    concurrency: c,
                    builtin_p50_ms: b.latency.p50_ms,
                    plugin_p50_ms: p.latency.p50_ms,
                    p50_ratio: p.latency.p50_ms / b.latency.p50_ms.max(1e-9),
                    builtin_rps: b.requests_per_s,
                    plugin_rps: p.requests_per_s,
                    throughput_ratio: b.requests_per_s / p.requests_per_s.max(1e-9),
                });
            }
        }
        out
    }

    fn targets(&self) -> Vec<Target> {
        let mut t = Vec::new();
        for (layer, goal) in [
            (Layer::Memory, 20_000.0),
            (Layer::Sqlite, 20_000.0),
            (Layer::Postgres, 10_000.0),
        ] {
            if let Some(s) = self.layer(layer.key()).and_then(|l| l.sync.as_ref()) {
                t.push(Target {
                    goal: format!("initial sync into {} >= {goal:.0} objects/s", layer.label()),
                    measured: format!("{:.0} objects/s", s.objects_per_s),
                    met: s.objects_per_s >= goal,
                });
            }
        }
        for l in &self.layers {
            if let Some(c) = &l.churn {
                t.push(Target {
                    goal: format!(
                        "churn {:.0} updates/s, p99 lag < 1 s ({})",
                        c.target_rate, l.label
                    ),
                    measured: format!(
                        "{:.0}/s achieved, p99 {:.0} ms",
                        c.achieved_rate, c.lag.p99_ms
                    ),
                    met: c.lag.p99_ms < 1000.0 && c.achieved_rate >= 0.95 * c.target_rate,
                });
            }
        }
        for l in &self.layers {
            let memory = l.layer == Layer::Memory.key();
            if let Some(q) = find(&self.queries, &l.layer, Query::LabelPage, 1) {
                let goal = if memory { 5.0 } else { 20.0 };
                t.push(Target {
                    goal: format!(
                        "label-selected page of 500, p99 <= {goal:.0} ms ({})",
                        l.label
                    ),
                    measured: format!("p99 {:.1} ms", q.latency.p99_ms),
                    met: q.error.is_none() && q.latency.p99_ms <= goal,
                });
            }
        }
        for l in &self.layers {
            if let Some(q) = find(&self.queries, &l.layer, Query::Get, 1) {
                t.push(Target {
                    goal: format!("GET by name p99 <= 2 ms ({})", l.label),
                    measured: format!("p99 {:.2} ms", q.latency.p99_ms),
                    met: q.error.is_none() && q.latency.p99_ms <= 2.0,
                });
            }
        }
        if let Some(q) = find(&self.queries, Layer::Memory.key(), Query::FullList, 1) {
            let rate = q.mb_per_s.unwrap_or(0.0);
            t.push(Target {
                goal: "full list from memory >= 300 MB/s".to_owned(),
                measured: format!("{rate:.0} MB/s"),
                met: rate >= 300.0,
            });
        }
        if let Some(m) = &self.memory {
            t.push(Target {
                goal: "memory layer <= 1.5x the stored bytes".to_owned(),
                measured: format!("{:.2}x", m.ratio),
                met: m.ratio <= 1.5,
            });
        }
        if !self.plugin_overhead.is_empty() {
            let worst = self
                .plugin_overhead
                .iter()
                .map(|o| o.p50_ratio.max(o.throughput_ratio))
                .fold(0.0, f64::max);
            t.push(Target {
                goal: "plugin overhead <= 5% on every query scenario".to_owned(),
                measured: format!("worst {:+.1}%", (worst - 1.0) * 100.0),
                met: worst <= 1.05,
            });
        }
        t
    }

    /// The tables, as Markdown.
    pub(crate) fn markdown(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let s = &self.settings;
        let _ = writeln!(
            out,
            "Commit: `{}`. Machine: {} CPUs ({}), {:.0} GiB RAM, Linux {}. Profile: {}{}.",
            self.commit,
            m.cpus,
            m.cpu_model,
            m.memory_gib,
            m.kernel,
            s.profile,
            if s.quick {
                ", quick (smoke test sizes)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            out,
            "Data: {} clusters, {} pods + {} replicasets + {} deployments ({} objects), loaded into kube-sim in {:.1} s. Run took {:.0} s.\n",
            s.clusters,
            self.objects.pods,
            self.objects.replicasets,
            self.objects.deployments,
            self.objects.total(),
            self.load_seconds,
            self.seconds
        );

        let _ = writeln!(out, "**Initial sync and churn**\n");
        let _ = writeln!(
            out,
            "| layer | sync objects/s | sync s | of ceiling | server peak RSS | churn updates/s | lag p50 | lag p99 | lag max | delivered |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for l in &self.layers {
            let (rate, secs, frac, rss) = match &l.sync {
                Some(s) => (
                    format!("{:.0}", s.objects_per_s),
                    format!("{:.1}", s.seconds),
                    s.ceiling_fraction
                        .map_or("-".to_owned(), |f| format!("{:.0}%", f * 100.0)),
                    format!("{:.0} MB", mb(s.peak_rss)),
                ),
                None => ("failed".into(), "-".into(), "-".into(), "-".into()),
            };
            let churn = match &l.churn {
                Some(c) => format!(
                    "{:.0} | {:.0} ms | {:.0} ms | {:.0} ms | {:.1}%",
                    c.achieved_rate,
                    c.lag.p50_ms,
                    c.lag.p99_ms,
                    c.lag.max_ms,
                    c.delivered as f64 * 100.0 / c.updates.max(1) as f64
                ),
                None => "- | - | - | - | -".to_owned(),
            };
            let _ = writeln!(
                out,
                "| {} | {rate} | {secs} | {frac} | {rss} | {churn} |",
                l.label
            );
        }

        let _ = writeln!(
            out,
            "\n**Ingest ceiling** (parse + prune + bulk write, no API)\n"
        );
        let _ = writeln!(out, "| backend | objects/s | seconds |");
        let _ = writeln!(out, "|---|---:|---:|");
        for c in &self.ceilings {
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.1} |",
                c.backend, c.objects_per_s, c.seconds
            );
        }

        let layers: Vec<&str> = self.layers.iter().map(|l| l.layer.as_str()).collect();
        let _ = writeln!(
            out,
            "\n**Queries through the apiserver (HTTPS, HTTP/2)**: p50 / p99 / max ms, requests/s\n"
        );
        let mut header = "| query | c |".to_owned();
        let mut rule = "|---|---:|".to_owned();
        for l in &self.layers {
            let _ = write!(header, " {} |", l.label);
            rule.push_str("---:|");
        }
        let _ = writeln!(out, "{header}\n{rule}");
        for &q in QUERIES {
            for &c in q.concurrencies() {
                let mut row = format!("| {} | {c} |", q.key());
                for layer in &layers {
                    let cell = match find(&self.queries, layer, q, c) {
                        Some(r) if r.error.is_some() => "error".to_owned(),
                        Some(r) => {
                            let l = &r.latency;
                            let mut cell = format!(
                                "{:.1} / {:.1} / {:.1}, {:.0}/s",
                                l.p50_ms, l.p99_ms, l.max_ms, r.requests_per_s
                            );
                            if let Some(rate) = r.mb_per_s {
                                let _ = write!(cell, ", {rate:.0} MB/s");
                            }
                            cell
                        }
                        None => "-".to_owned(),
                    };
                    let _ = write!(row, " {cell} |");
                }
                let _ = writeln!(out, "{row}");
            }
        }
        let _ = writeln!(out);
        for &q in QUERIES {
            let _ = writeln!(out, "- `{}`: {}", q.key(), q.describe());
        }

        if let Some(m) = &self.memory {
            let _ = writeln!(out, "\n**Memory layer**\n");
            let _ = writeln!(
                out,
                "{} pods: {:.0} bytes served by the cluster, {:.0} bytes stored (pruned) and {:.0} bytes of RSS per object: {:.2}x the stored bytes.",
                m.objects, m.source_bytes_avg, m.stored_bytes_avg, m.rss_per_object, m.ratio
            );
        }

        if !self.plugin_overhead.is_empty() {
            let _ = writeln!(
                out,
                "\n**Plugin overhead** (sample-storage-layer on SQLite, built in vs loaded as a plugin, alternating rounds)\n"
            );
            let _ = writeln!(
                out,
                "| query | c | built in p50 ms | plugin p50 ms | p50 ratio | built in req/s | plugin req/s | throughput ratio |"
            );
            let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
            for o in &self.plugin_overhead {
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.2} | {:.2} | {:.3} | {:.1} | {:.1} | {:.3} |",
                    o.query.key(),
                    o.concurrency,
                    o.builtin_p50_ms,
                    o.plugin_p50_ms,
                    o.p50_ratio,
                    o.builtin_rps,
                    o.plugin_rps,
                    o.throughput_ratio
                );
            }
        }

        let _ = writeln!(out, "\n**Targets**\n");
        let _ = writeln!(out, "| target | measured | met |");
        let _ = writeln!(out, "|---|---|---|");
        for t in &self.targets {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                t.goal,
                t.measured,
                if t.met { "yes" } else { "**no**" }
            );
        }
        if !self.errors.is_empty() {
            let _ = writeln!(out, "\n**Errors**\n");
            for e in &self.errors {
                let _ = writeln!(out, "- {}", e.replace('\n', " "));
            }
        }
        out
    }
}
