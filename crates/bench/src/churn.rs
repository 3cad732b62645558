//! Churn: a steady rate of pod updates on the simulated clusters while a watch through the
//! apiserver reports when each becomes visible. Every update writes a sequence number
//! into an annotation (a merge patch, as `kubectl annotate` does) and remembers when it
//! was made; the lag of an update is the time from just before that write to the moment
//! its watch event arrives at the client. An object updated again before the previous
//! version was delivered may be delivered once in its latest state (SQL layers coalesce
//! between polls): such superseded updates are counted, not timed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::{Buf, BytesMut};
use http_body_util::BodyExt;
use kube_sim::{PatchType, WriteOptions};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::{Api, RESOURCES};
use crate::sims::{ObjRef, Sims};
use crate::stats::{Latency, Rng};

/// The annotation carrying the run's nonce and the update's sequence number
/// (`<nonce>.<seq>`). The nonce makes every run's values new: re-setting a value an
/// earlier run left would be a no-op write without an event.
const SEQ_ANNOTATION: &str = "bench.clusterpedia.io/seq";
/// How long to wait for the last updates after writing stops.
const DRAIN: Duration = Duration::from_secs(15);
/// After writing stopped, how long without a delivery ends the wait.
const QUIET: Duration = Duration::from_secs(3);

/// One churn run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChurnResult {
    pub(crate) target_rate: f64,
    pub(crate) achieved_rate: f64,
    pub(crate) seconds: f64,
    pub(crate) updates: u64,
    /// Updates whose own version was delivered by the watch.
    pub(crate) delivered: u64,
    /// Updates never delivered on their own (superseded by a later update of the object
    /// before delivery, or lost).
    pub(crate) superseded: u64,
    pub(crate) lag: Latency,
}

#[derive(Deserialize)]
struct Event {
    object: EventObject,
}

#[derive(Deserialize)]
struct EventObject {
    metadata: EventMeta,
}

#[derive(Deserialize)]
struct EventMeta {
    #[serde(default)]
    annotations: HashMap<String, String>,
}

/// When each update was written, as nanoseconds after `base` plus one (0: not yet).
struct Clock {
    base: Instant,
    written: Vec<AtomicU64>,
}

impl Clock {
    fn mark(&self, seq: usize) {
        let nanos = self.base.elapsed().as_nanos() as u64 + 1;
        self.written[seq].store(nanos, Ordering::Release);
    }

    fn lag(&self, seq: usize) -> Option<Duration> {
        let written = self.written.get(seq)?.load(Ordering::Acquire);
        (written > 0).then(|| {
            self.base
                .elapsed()
                .saturating_sub(Duration::from_nanos(written - 1))
        })
    }
}

/// Updates `rate` pods per second for `seconds` across the clusters of `sims`, measuring
/// the lag to the watch of `api`.
pub(crate) async fn churn(api: &Api, sims: &Sims, rate: f64, seconds: f64) -> Result<ChurnResult> {
    // Watch from the revision a list reports, so only this run's updates arrive.
    let head = api
        .get_ok(&format!("{RESOURCES}/api/v1/pods?limit=1"), None)
        .await?;
    let head: serde_json::Value = serde_json::from_slice(&head)?;
    let revision = head["metadata"]["resourceVersion"]
        .as_str()
        .context("the list has no resourceVersion")?
        .to_owned();
    let mut body = api
        .stream(&format!(
            "{RESOURCES}/api/v1/pods?watch=true&resourceVersion={revision}"
        ))
        .await?;

    let total = (rate * seconds).round().max(1.0) as usize;
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let clock = Arc::new(Clock {
        base: Instant::now(),
        written: (0..total).map(|_| AtomicU64::new(0)).collect(),
    });
    let stores: Vec<kube_sim::Store> = sims.sims.iter().map(|s| s.store().clone()).collect();
    let pods: Arc<Vec<ObjRef>> = Arc::new(sims.pods.clone());
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (clock, done) = (Arc::clone(&clock), Arc::clone(&done));
        std::thread::Builder::new()
            .name("bench-churn".into())
            .spawn(move || -> Result<f64> {
                let result = write_updates(&clock, &stores, &pods, rate, total, nonce);
                // Also on failure: the reader stops waiting once writing has stopped.
                done.store(true, Ordering::Release);
                result
            })?
    };

    let mut seen = vec![false; total];
    let mut lags = Vec::with_capacity(total);
    let mut buf = BytesMut::new();
    let mut drain_deadline: Option<Instant> = None;
    let mut last_delivery = Instant::now();
    loop {
        if drain_deadline.is_none() && done.load(Ordering::Acquire) {
            drain_deadline = Some(Instant::now() + DRAIN);
        }
        // Done when everything arrived, or writing stopped and nothing new came for a
        // while (superseded updates never arrive), or at the drain deadline.
        let quiet = last_delivery.elapsed() >= QUIET && drain_deadline.is_some();
        if lags.len() == total || quiet || drain_deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let frame = match tokio::time::timeout(Duration::from_millis(200), body.frame()).await {
            Err(_) => continue,
            Ok(None) => anyhow::bail!("the watch ended during churn"),
            Ok(Some(frame)) => frame?,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line = buf.split_to(end + 1);
            let event: Event = match serde_json::from_slice(line.chunk()) {
                Ok(e) => e,
                Err(_) => continue,
            };
            let Some(seq) = event
                .object
                .metadata
                .annotations
                .get(SEQ_ANNOTATION)
                .and_then(|v| v.split_once('.'))
                .filter(|(n, _)| n.parse::<u64>().ok() == Some(nonce))
                .and_then(|(_, s)| s.parse::<usize>().ok())
            else {
                continue;
            };
            if seq < total && !seen[seq] {
                seen[seq] = true;
                if let Some(lag) = clock.lag(seq) {
                    lags.push(lag);
                    last_delivery = Instant::now();
                }
            }
        }
    }
    let elapsed = writer
        .join()
        .map_err(|_| anyhow::anyhow!("the churn writer panicked"))??;
    let delivered = lags.len() as u64;
    Ok(ChurnResult {
        target_rate: rate,
        achieved_rate: total as f64 / elapsed,
        seconds: elapsed,
        updates: total as u64,
        delivered,
        superseded: total as u64 - delivered,
        lag: Latency::of(lags),
    })
}

/// The writer thread: `total` updates at `rate` per second; returns the seconds taken.
fn write_updates(
    clock: &Clock,
    stores: &[kube_sim::Store],
    pods: &[ObjRef],
    rate: f64,
    total: usize,
    nonce: u64,
) -> Result<f64> {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut rng = Rng::new(42);
    let opts = WriteOptions::manager("bench-churn");
    let started = Instant::now();
    for seq in 0..total {
        // Absolute deadlines: a late write does not delay the following ones.
        let due = started + interval.mul_f64(seq as f64);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let pod = &pods[rng.index(pods.len())];
        clock.mark(seq);
        stores[pod.cluster]
            .patch_with(
                "pods",
                Some(&pod.namespace),
                &pod.name,
                PatchType::Merge,
                &json!({"metadata": {"annotations": {SEQ_ANNOTATION: format!("{nonce}.{seq}")}}}),
                false,
                &opts,
            )
            .map_err(|e| anyhow::anyhow!("patching {}: {}", pod.name, e.message))?;
    }
    Ok(started.elapsed().as_secs_f64())
}
