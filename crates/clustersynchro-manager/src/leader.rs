//! Leader election on a `coordination.k8s.io/v1` Lease in the host cluster, as Kubernetes
//! components do: acquire the lease when it is free or expired, renew it while leading,
//! and report when it is lost (the caller stops syncing). Optimistic concurrency (the
//! lease's resourceVersion) decides races between candidates.
//!
//! Each acquisition yields a writer epoch, the fencing token storage checks (see
//! [`lease_epoch`]): a manager that lost the lease but has not noticed yet writes with an
//! older epoch than its successor and is refused.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};

/// Lease timing.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_interval: Duration,
    pub retry_interval: Duration,
}

/// A leader election candidate.
#[derive(Clone)]
pub struct LeaderElection {
    api: Api<Lease>,
    config: LeaseConfig,
}

impl std::fmt::Debug for LeaderElection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElection")
            .field("config", &self.config)
            .finish()
    }
}

fn now() -> MicroTime {
    MicroTime(jiff::Timestamp::now())
}

/// Bits of the epoch that count the lease's transitions.
const TRANSITION_BITS: u32 = 24;

/// The writer epoch of a lease its holder wrote: `leaseTransitions` (incremented on every
/// acquisition by another candidate), above it the lease's creation time in seconds. The
/// creation time keeps epochs growing when the Lease is deleted and created again (a
/// reinstall with the same database), where `leaseTransitions` restarts at 0. Past 2^24
/// transitions of one Lease the count saturates: epochs then stop growing, which disables
/// the fence rather than refusing the rightful leader.
pub fn lease_epoch(lease: &Lease) -> u64 {
    let created = lease
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(0, |t| u64::try_from(t.0.as_second()).unwrap_or(0));
    let transitions = lease
        .spec
        .as_ref()
        .and_then(|s| s.lease_transitions)
        .map_or(0, |t| u64::try_from(t).unwrap_or(0));
    (created << TRANSITION_BITS) | transitions.min((1 << TRANSITION_BITS) - 1)
}

impl LeaderElection {
    pub fn new(client: kube::Client, config: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
        }
    }

    fn expired(&self, spec: &LeaseSpec) -> bool {
        let duration = spec
            .lease_duration_seconds
            .map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0)))
            .unwrap_or(self.config.lease_duration);
        match &spec.renew_time {
            Some(MicroTime(t)) => {
                // A renew time in the future (clock skew) counts as fresh.
                let age = jiff::Timestamp::now().duration_since(*t);
                age.as_secs() >= i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
            }
            None => true,
        }
    }

    /// One attempt to take or keep the lease. `Ok(Some(epoch))` when we hold it afterwards.
    pub async fn try_acquire_or_renew(&self) -> Result<Option<u64>, kube::Error> {
        let me = &self.config.identity;
        let duration = i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(15);
        match self.api.get_opt(&self.config.name).await? {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..Default::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(me.clone()),
                        lease_duration_seconds: Some(duration),
                        acquire_time: Some(now()),
                        renew_time: Some(now()),
                        lease_transitions: Some(0),
                        ..Default::default()
                    }),
                };
                match self.api.create(&PostParams::default(), &lease).await {
                    Ok(written) => Ok(Some(lease_epoch(&written))),
                    Err(kube::Error::Api(e)) if e.code == 409 => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Some(mut lease) => {
                let spec = lease.spec.get_or_insert_with(Default::default);
                let mine = spec.holder_identity.as_deref() == Some(me.as_str());
                if !mine && !self.expired(spec) {
                    return Ok(None);
                }
                if !mine {
                    spec.holder_identity = Some(me.clone());
                    spec.acquire_time = Some(now());
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                }
                spec.renew_time = Some(now());
                spec.lease_duration_seconds = Some(duration);
                match self
                    .api
                    .replace(&self.config.name, &PostParams::default(), &lease)
                    .await
                {
                    Ok(written) => Ok(Some(lease_epoch(&written))),
                    // Someone else updated it first.
                    Err(kube::Error::Api(e)) if e.code == 409 => Ok(None),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Waits until this candidate leads; returns its writer epoch.
    pub async fn acquire(&self) -> u64 {
        let mut logged = false;
        loop {
            match self.try_acquire_or_renew().await {
                Ok(Some(epoch)) => {
                    tracing::info!(lease = %self.config.name, identity = %self.config.identity, epoch, "became the leader");
                    return epoch;
                }
                Ok(None) => {
                    if !logged {
                        tracing::info!(lease = %self.config.name, "another manager leads; waiting");
                        logged = true;
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "leader election: cannot read or write the lease")
                }
            }
            tokio::time::sleep(self.config.retry_interval).await;
        }
    }

    /// Renews the lease until it is lost; returns then.
    pub async fn hold(&self) {
        let mut last_renewed = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.config.renew_interval).await;
            match self.try_acquire_or_renew().await {
                Ok(Some(_)) => last_renewed = tokio::time::Instant::now(),
                Ok(None) => {
                    tracing::error!(lease = %self.config.name, "leader lease taken by another manager");
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot renew the leader lease");
                    if last_renewed.elapsed() >= self.config.lease_duration {
                        tracing::error!(lease = %self.config.name, "leader lease expired");
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn lease(created: i64, transitions: Option<i32>) -> Lease {
        Lease {
            metadata: ObjectMeta {
                creation_timestamp: Some(Time(
                    jiff::Timestamp::from_second(created).expect("time"),
                )),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                lease_transitions: transitions,
                ..Default::default()
            }),
        }
    }

    #[test]
    fn epochs_grow_with_transitions_and_with_a_recreated_lease() {
        let first = lease_epoch(&lease(1_700_000_000, Some(0)));
        let handed_over = lease_epoch(&lease(1_700_000_000, Some(1)));
        let many = lease_epoch(&lease(1_700_000_000, Some(5_000)));
        // Deleted and created again a second later: transitions restart at 0.
        let recreated = lease_epoch(&lease(1_700_000_001, Some(0)));
        assert!(first < handed_over && handed_over < many && many < recreated);
        assert_eq!(lease_epoch(&lease(1_700_000_000, None)), first);
        // Stored as a signed 64-bit number by the SQL layers, for millennia.
        assert!(lease_epoch(&lease(32_503_680_000, Some(i32::MAX))) < i64::MAX as u64);
    }
}
