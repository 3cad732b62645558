//! The host cluster the apiserver delegates to (TokenReview, SubjectAccessReview, the
//! `extension-apiserver-authentication` ConfigMap): a kubeconfig named by a flag, the
//! in-cluster service account when running in a pod, or none (standalone: static flags
//! only), as k8s.io/apiserver's delegating options resolve it.

use std::path::{Path, PathBuf};

/// Where the Kubernetes client of a delegating component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostCluster {
    Kubeconfig(PathBuf),
    InCluster,
    Standalone,
}

/// Why the host cluster's client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot read the kubeconfig {path}: {reason}")]
    Kubeconfig { path: PathBuf, reason: String },
    #[error("cannot use the in-cluster service account: {0}")]
    InCluster(String),
    #[error("cannot build a client for the host cluster: {0}")]
    Client(String),
}

const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Whether this process runs in a Kubernetes pod with a service account.
fn in_pod() -> bool {
    std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
        && Path::new(SERVICE_ACCOUNT_TOKEN).is_file()
}

impl HostCluster {
    /// `flag` (e.g. `--authentication-kubeconfig`), else in-cluster in a pod, else none.
    pub fn resolve(flag: Option<&Path>) -> Self {
        match flag {
            Some(path) => HostCluster::Kubeconfig(path.to_owned()),
            None if in_pod() => HostCluster::InCluster,
            None => HostCluster::Standalone,
        }
    }

    /// A client for the host cluster, or `None` when standalone.
    pub async fn client(&self) -> Result<Option<kube::Client>, HostError> {
        let config = match self {
            HostCluster::Standalone => return Ok(None),
            HostCluster::InCluster => {
                kube::Config::incluster().map_err(|e| HostError::InCluster(e.to_string()))?
            }
            HostCluster::Kubeconfig(path) => {
                let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                    HostError::Kubeconfig {
                        path: path.clone(),
                        reason: e.to_string(),
                    }
                })?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                    .await
                    .map_err(|e| HostError::Kubeconfig {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?
            }
        };
        kube::Client::try_from(config)
            .map(Some)
            .map_err(|e| HostError::Client(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_wins_and_a_missing_kubeconfig_is_an_error() {
        let path = Path::new("/nonexistent/kubeconfig");
        assert_eq!(
            HostCluster::resolve(Some(path)),
            HostCluster::Kubeconfig(path.to_owned())
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let Err(err) = runtime.block_on(HostCluster::resolve(Some(path)).client()) else {
            panic!("a missing kubeconfig must be an error");
        };
        assert!(err.to_string().contains("/nonexistent/kubeconfig"), "{err}");
        assert!(
            runtime
                .block_on(HostCluster::Standalone.client())
                .expect("standalone")
                .is_none()
        );
    }
}
