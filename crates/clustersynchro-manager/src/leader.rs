//! Leader election on a `coordination.k8s.io/v1` Lease in the host cluster, as Kubernetes
//! components do: acquire the lease when it is free or expired, renew it while leading,
//! and report when it is lost (the caller stops syncing). Optimistic concurrency (the
//! lease's resourceVersion) decides races between candidates.

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

    /// One attempt to take or keep the lease. `Ok(true)` when we hold it afterwards.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
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
                    Ok(_) => Ok(true),
                    Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                    Err(e) => Err(e),
                }
            }
            Some(mut lease) => {
                let spec = lease.spec.get_or_insert_with(Default::default);
                let mine = spec.holder_identity.as_deref() == Some(me.as_str());
                if !mine && !self.expired(spec) {
                    return Ok(false);
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
                    Ok(_) => Ok(true),
                    // Someone else updated it first.
                    Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Waits until this candidate leads.
    pub async fn acquire(&self) {
        let mut logged = false;
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(lease = %self.config.name, identity = %self.config.identity, "became the leader");
                    return;
                }
                Ok(false) => {
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
                Ok(true) => last_renewed = tokio::time::Instant::now(),
                Ok(false) => {
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
