//! Queries through the apiserver over HTTPS, each at concurrency 1 and 16 for a fixed
//! time: GET by name, a label-selected page of 500, the same ordered by creation time
//! through 5 pages with continue, an owner query, a fuzzy-name query, kubectl's first
//! Table page, and a full unpaginated list. When several servers are measured together
//! (plugin vs built in), their runs alternate in rounds so drift on a shared machine
//! affects both alike.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::client::{Api, RESOURCES};
use crate::sims::{ObjRef, Sims, cluster_name};
use crate::stats::{Latency, Rng};

/// kubectl's Accept header for `kubectl get`.
const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// The team labels of the load generator's namespaces (`team=<namespace>`): each selects
/// a tenth of the pods.
const TEAMS: &[&str] = &[
    "payments",
    "checkout",
    "catalog",
    "search",
    "identity",
    "billing",
    "shipping",
    "inventory",
    "analytics",
    "notifications",
];

/// The query scenarios, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Query {
    Get,
    LabelPage,
    Ordered5Pages,
    Owner,
    Fuzzy,
    Table,
    FullList,
}

pub(crate) const QUERIES: &[Query] = &[
    Query::Get,
    Query::LabelPage,
    Query::Ordered5Pages,
    Query::Owner,
    Query::Fuzzy,
    Query::Table,
    Query::FullList,
];

impl Query {
    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::LabelPage => "label-page",
            Self::Ordered5Pages => "ordered-5-pages",
            Self::Owner => "owner",
            Self::Fuzzy => "fuzzy",
            Self::Table => "table",
            Self::FullList => "full-list",
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Get => "GET one pod by name",
            Self::LabelPage => "label-selected page of 500 (team=X, 1/10 of all pods)",
            Self::Ordered5Pages => "same, orderby=created_at desc, 5 pages with continue",
            Self::Owner => "pods of a Deployment (ownerName, ownerSeniority=1)",
            Self::Fuzzy => "fuzzy-name search, limit 500",
            Self::Table => "kubectl get pods -A: Table, first page of 500",
            Self::FullList => "full list of every pod, no limit",
        }
    }

    /// The concurrencies measured. A full list is hundreds of megabytes built whole in
    /// the server: 16 at once would need several GB per layer on a shared machine, so it
    /// is measured at 1 and 4.
    pub(crate) fn concurrencies(self) -> &'static [usize] {
        match self {
            Self::FullList => &[1, 4],
            _ => &[1, 16],
        }
    }
}

/// One query scenario against one server.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct QueryResult {
    pub(crate) query: Query,
    pub(crate) concurrency: usize,
    pub(crate) layer: String,
    pub(crate) latency: Latency,
    pub(crate) requests_per_s: f64,
    /// Full lists: response megabytes (10^6 bytes) per second.
    pub(crate) mb_per_s: Option<f64>,
    /// Items the first response held (5 pages: all pages), to show what was measured.
    pub(crate) items: usize,
    pub(crate) error: Option<String>,
}

/// What the requests pick from.
#[derive(Debug, Clone)]
pub(crate) struct Targets {
    pods: Arc<Vec<ObjRef>>,
    deployments: Arc<Vec<ObjRef>>,
}

impl Targets {
    pub(crate) fn new(sims: &Sims) -> Self {
        Self {
            pods: Arc::new(sims.pods.clone()),
            deployments: Arc::new(sims.deployments.clone()),
        }
    }
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    items: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    rows: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    metadata: PageMeta,
}

#[derive(Deserialize, Default)]
struct PageMeta {
    #[serde(rename = "continue", default)]
    continue_token: Option<String>,
}

/// One request (or page sequence) of `query`; returns response bytes and items.
async fn request(api: &Api, query: Query, t: &Targets, rng: &mut Rng) -> Result<(u64, usize)> {
    let team = TEAMS[rng.index(TEAMS.len())];
    let page = |body: &[u8]| -> Result<Page> { Ok(serde_json::from_slice(body)?) };
    match query {
        Query::Get => {
            let p = &t.pods[rng.index(t.pods.len())];
            let body = api
                .get_ok(
                    &format!(
                        "{RESOURCES}/clusters/{}/api/v1/namespaces/{}/pods/{}",
                        cluster_name(p.cluster),
                        p.namespace,
                        p.name
                    ),
                    None,
                )
                .await?;
            Ok((body.len() as u64, 1))
        }
        Query::LabelPage => {
            let body = api
                .get_ok(
                    &format!(
                        "{RESOURCES}/api/v1/pods?labelSelector={}&limit=500",
                        enc(&format!("team={team}"))
                    ),
                    None,
                )
                .await?;
            Ok((body.len() as u64, page(&body)?.items.len()))
        }
        Query::Ordered5Pages => {
            let base = format!(
                "{RESOURCES}/api/v1/pods?labelSelector={}&orderby={}&limit=500",
                enc(&format!("team={team}")),
                enc("created_at desc")
            );
            let (mut bytes, mut items) = (0u64, 0usize);
            let mut token: Option<String> = None;
            for _ in 0..5 {
                let path = match &token {
                    Some(t) => format!("{base}&continue={}", enc(t)),
                    None => base.clone(),
                };
                let body = api.get_ok(&path, None).await?;
                let p = page(&body)?;
                bytes += body.len() as u64;
                items += p.items.len();
                token = p.metadata.continue_token;
                if token.is_none() {
                    break;
                }
            }
            Ok((bytes, items))
        }
        Query::Owner => {
            let d = &t.deployments[rng.index(t.deployments.len())];
            let body = api
                .get_ok(
                    &format!(
                        "{RESOURCES}/clusters/{}/api/v1/namespaces/{}/pods?ownerName={}&ownerGR=deployments.apps&ownerSeniority=1",
                        cluster_name(d.cluster),
                        d.namespace,
                        enc(&d.name)
                    ),
                    None,
                )
                .await?;
            Ok((body.len() as u64, page(&body)?.items.len()))
        }
        Query::Fuzzy => {
            let d = &t.deployments[rng.index(t.deployments.len())];
            let body = api
                .get_ok(
                    &format!(
                        "{RESOURCES}/api/v1/pods?labelSelector={}&limit=500",
                        enc(&format!(
                            "internalstorage.clusterpedia.io/fuzzy-name={}",
                            d.name
                        ))
                    ),
                    None,
                )
                .await?;
            Ok((body.len() as u64, page(&body)?.items.len()))
        }
        Query::Table => {
            let body = api
                .get_ok(
                    &format!("{RESOURCES}/api/v1/pods?limit=500"),
                    Some(TABLE_ACCEPT),
                )
                .await?;
            Ok((body.len() as u64, page(&body)?.rows.len()))
        }
        Query::FullList => {
            let bytes = api
                .get_counting(&format!("{RESOURCES}/api/v1/pods"))
                .await?;
            Ok((bytes, 0))
        }
    }
}

/// Samples of one (query, concurrency, server).
#[derive(Debug, Default)]
struct Samples {
    latencies: Vec<Duration>,
    bytes: u64,
    busy: Duration,
    error: Option<String>,
}

/// Runs `query` at `concurrency` against `api` for `duration`.
async fn run_for(
    api: &Api,
    query: Query,
    concurrency: usize,
    targets: &Targets,
    duration: Duration,
    seed: u64,
    into: &mut Samples,
) {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        let (api, targets) = (api.clone(), targets.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(seed.wrapping_mul(1000).wrapping_add(worker as u64));
            let mut latencies = Vec::new();
            let mut bytes = 0u64;
            // Every worker makes at least one request, so slow queries still get samples.
            loop {
                let t = Instant::now();
                match request(&api, query, &targets, &mut rng).await {
                    Ok((b, _)) => {
                        latencies.push(t.elapsed());
                        bytes += b;
                    }
                    Err(e) => return (latencies, bytes, Some(format!("{e:#}"))),
                }
                if Instant::now() >= deadline {
                    return (latencies, bytes, None);
                }
            }
        }));
    }
    for task in tasks {
        match task.await {
            Ok((latencies, bytes, error)) => {
                into.latencies.extend(latencies);
                into.bytes += bytes;
                if error.is_some() && into.error.is_none() {
                    into.error = error;
                }
            }
            Err(e) => into.error = Some(format!("a request task failed: {e}")),
        }
    }
    into.busy += started.elapsed();
}

/// Every query at every concurrency against `servers` (layer key, client), alternating
/// between servers in `rounds` rounds of `seconds / rounds` each.
pub(crate) async fn run_all(
    servers: &[(String, Api)],
    targets: &Targets,
    seconds: f64,
    rounds: usize,
) -> Vec<QueryResult> {
    let mut results = Vec::new();
    for &query in QUERIES {
        for &concurrency in query.concurrencies() {
            let mut samples: Vec<Samples> = servers.iter().map(|_| Samples::default()).collect();
            let mut items = vec![0usize; servers.len()];
            // One unmeasured request per server: warms caches and checks the answer.
            for (i, (_, api)) in servers.iter().enumerate() {
                match request(api, query, targets, &mut Rng::new(1)).await {
                    Ok((_, n)) => items[i] = n,
                    Err(e) => samples[i].error = Some(format!("{e:#}")),
                }
            }
            let slice = Duration::from_secs_f64(seconds / rounds.max(1) as f64);
            for round in 0..rounds.max(1) {
                for (i, (_, api)) in servers.iter().enumerate() {
                    if samples[i].error.is_some() {
                        continue;
                    }
                    // The same seed for every server: the same requests in the same order.
                    run_for(
                        api,
                        query,
                        concurrency,
                        targets,
                        slice,
                        round as u64 + 1,
                        &mut samples[i],
                    )
                    .await;
                }
            }
            for (i, s) in samples.into_iter().enumerate() {
                let secs = s.busy.as_secs_f64().max(1e-9);
                let n = s.latencies.len();
                results.push(QueryResult {
                    query,
                    concurrency,
                    layer: servers[i].0.clone(),
                    latency: Latency::of(s.latencies),
                    requests_per_s: n as f64 / secs,
                    mb_per_s: (query == Query::FullList).then(|| s.bytes as f64 / 1e6 / secs),
                    items: items[i],
                    error: s.error,
                });
            }
        }
    }
    results
}

/// Checks that the warm-up answers look like the scenario: the selections are not empty.
pub(crate) fn check(results: &[QueryResult]) -> Result<()> {
    for r in results {
        if let Some(e) = &r.error {
            bail!(
                "{} at concurrency {} on {}: {e}",
                r.query.key(),
                r.concurrency,
                r.layer
            );
        }
        if r.latency.count == 0 {
            bail!("{} on {} made no request", r.query.key(), r.layer);
        }
        if r.query != Query::FullList && r.items == 0 {
            bail!("{} on {} selected nothing", r.query.key(), r.layer);
        }
    }
    Ok(())
}

/// The result of `query` at `concurrency` for `layer`, if measured.
pub(crate) fn find<'a>(
    results: &'a [QueryResult],
    layer: &str,
    query: Query,
    concurrency: usize,
) -> Option<&'a QueryResult> {
    results
        .iter()
        .find(|r| r.layer == layer && r.query == query && r.concurrency == concurrency)
}
