//! How a simulator is set up: [`SimConfig`].

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::rng::Rng;

/// Settings of one simulated cluster.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The cluster, user and context name in the kubeconfig; also names the server thread.
    pub name: String,
    /// The bearer token of the admin user (`kubernetes-admin` in `system:masters`), the one
    /// [`KubeSim::kubeconfig`](crate::KubeSim::kubeconfig) carries. `None` with no
    /// `client_ca` as well: requests without credentials are allowed, as
    /// `system:anonymous`. The default is a fresh random token.
    pub token: Option<String>,
    /// A PEM file of CA certificates; client certificates they signed authenticate (CN:
    /// user, O: groups), as do those of the simulator's own client CA
    /// ([`KubeSim::client_ca`](crate::KubeSim::client_ca)).
    pub client_ca: Option<PathBuf>,
    /// Where to listen; port 0 picks a free port. Default `127.0.0.1:0`.
    pub bind: SocketAddr,
    /// Where the self-signed serving certificate (`apiserver.crt`, the CA clients trust)
    /// and its key are written, or reused from. Default: a temporary directory removed
    /// with the simulator.
    pub cert_dir: Option<PathBuf>,
    /// How many change events are kept for watches and consistent paging; older
    /// resourceVersions get `410 Gone`. Default 10 000.
    pub history_size: usize,
    /// How often watches with `allowWatchBookmarks=true` get a `BOOKMARK`. Default 1 s
    /// (kube-apiserver: about a minute).
    pub bookmark_interval: Duration,
    /// Authorize every request with RBAC, as kube-apiserver with
    /// `--authorization-mode=RBAC` does (`403 Forbidden` otherwise). Default `false`: every
    /// authenticated request is allowed. Access reviews are decided by RBAC either way.
    pub rbac: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            name: "kube-sim".to_owned(),
            token: Some(Rng::from_entropy().hex(32)),
            client_ca: None,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            cert_dir: None,
            history_size: 10_000,
            bookmark_interval: Duration::from_secs(1),
            rbac: false,
        }
    }
}

impl SimConfig {
    /// The defaults, named `name`.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}
