//! [`KubeSim`]: one simulated cluster — its store, its HTTPS server, its credentials and
//! kubeconfig, and the handles of the load generator, update loop and fault injection.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::auth::Authenticator;
use crate::config::SimConfig;
use crate::error::SimError;
use crate::faults::{FaultState, Faults};
use crate::load::{LoadReport, LoadSpec};
use crate::server::{App, ServerControl};
use crate::store::Store;
use crate::updates::Updates;

/// A running simulated cluster. Dropping it stops the server and the update loop.
#[derive(Debug)]
pub struct KubeSim {
    name: String,
    store: Store,
    server: Arc<ServerControl>,
    faults: Faults,
    token: Option<String>,
    ca_path: PathBuf,
    ca_pem: String,
    updates: Mutex<Option<Updates>>,
    /// Holds the default certificate directory until the simulator is gone.
    _cert_dir: Option<tempfile::TempDir>,
}

impl KubeSim {
    /// Starts a simulator: an empty cluster (namespaces `default`, `kube-system`,
    /// `kube-public`, `kube-node-lease`) served over HTTPS on `config.bind`. The server
    /// runs on its own threads, so this works inside and outside a tokio runtime.
    pub fn start(config: SimConfig) -> Result<Self, SimError> {
        let (cert_dir, temp) = match &config.cert_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("kube-sim-")
                    .tempdir()
                    .map_err(SimError::CertDir)?;
                (temp.path().to_owned(), Some(temp))
            }
        };
        let (cert, key) = https_serve::tls::self_signed(&cert_dir, &[])?;
        let client_cas: Vec<&Path> = config.client_ca.iter().map(PathBuf::as_path).collect();
        let tls = https_serve::tls::server_config(&cert, &key, &client_cas)?;
        let ca_pem = std::fs::read_to_string(&cert).map_err(|source| SimError::Write {
            path: cert.clone(),
            source,
        })?;
        let store = Store::new(config.history_size);
        let faults = Arc::new(FaultState::default());
        let auth = Authenticator::new(config.token.clone(), config.client_ca.is_some());
        let server = Arc::new(ServerControl::start(
            &config.name,
            config.bind,
            tls,
            |addr| App {
                store: store.clone(),
                auth,
                faults: Arc::clone(&faults),
                bookmark_interval: config.bookmark_interval,
                addr,
            },
        )?);
        tracing::info!(name = %config.name, addr = %server.addr(), "kube-sim serving");
        Ok(Self {
            name: config.name,
            faults: Faults::new(faults, Arc::clone(&server), store.clone()),
            store,
            server,
            token: config.token.filter(|t| !t.is_empty()),
            ca_path: cert,
            ca_pem,
            updates: Mutex::new(None),
            _cert_dir: temp,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address it serves on (stays the same across `faults().stop()`/`resume()`).
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr())
    }

    /// The bearer token, if one is required.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The serving certificate (self-signed: the CA clients must trust), PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Where the serving certificate is written.
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    fn kubeconfig_with(&self, user: serde_json::Value) -> String {
        let name = &self.name;
        let doc = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {
                "server": self.url(),
                "certificate-authority-data": STANDARD.encode(&self.ca_pem),
            }}],
            "users": [{"name": name, "user": user}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}}],
            "current-context": name,
            "preferences": {},
        });
        serde_yaml_ng::to_string(&doc).unwrap_or_default()
    }

    /// A kubeconfig (YAML) for this cluster: server URL, CA data and the token (no user
    /// credentials when no token is configured).
    pub fn kubeconfig(&self) -> String {
        let user = match &self.token {
            Some(t) => json!({"token": t}),
            None => json!({}),
        };
        self.kubeconfig_with(user)
    }

    /// A `PediaCluster` manifest (YAML) that syncs this cluster: server URL, CA and token
    /// data, then `spec_tail` — more spec lines indented by two spaces, such as
    /// `"  syncResources:\n  - group: \"\"\n    resources: [pods]\n"`.
    pub fn pediacluster(&self, spec_tail: &str) -> String {
        let token = self
            .token
            .as_deref()
            .map(|t| format!("  tokenData: {}\n", STANDARD.encode(t)))
            .unwrap_or_default();
        format!(
            "apiVersion: cluster.clusterpedia.io/v1alpha2\nkind: PediaCluster\nmetadata:\n  name: {}\nspec:\n  apiserver: {}\n  caData: {}\n{token}{spec_tail}",
            self.name,
            self.url(),
            STANDARD.encode(&self.ca_pem),
        )
    }

    /// A kubeconfig that authenticates with a client certificate (PEM cert and key).
    pub fn kubeconfig_with_client_cert(&self, cert_pem: &str, key_pem: &str) -> String {
        self.kubeconfig_with(json!({
            "client-certificate-data": STANDARD.encode(cert_pem),
            "client-key-data": STANDARD.encode(key_pem),
        }))
    }

    /// Writes [`kubeconfig`](Self::kubeconfig) to `path` (readable by the owner only).
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), SimError> {
        let write = || -> std::io::Result<()> {
            std::fs::write(path, self.kubeconfig())?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            }
            Ok(())
        };
        write().map_err(|source| SimError::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// The objects, for direct manipulation in-process.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Creates the objects of `spec` (see [`LoadSpec`]).
    pub fn load(&self, spec: &LoadSpec) -> Result<LoadReport, SimError> {
        crate::load::load(&self.store, spec)
    }

    /// Starts (or restarts at a new rate) the update loop: `per_second` label,
    /// annotation and status changes per second on the loaded objects. `0` stops it.
    pub fn run_updates(&self, per_second: f64) {
        self.run_updates_seeded(per_second, 1);
    }

    /// [`run_updates`](Self::run_updates) with the seed of its choices.
    pub fn run_updates_seeded(&self, per_second: f64, seed: u64) {
        let mut slot = self.updates.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = slot.take() {
            old.stop();
        }
        if per_second > 0.0 {
            *slot = Some(Updates::start(self.store.clone(), per_second, seed));
        }
    }

    /// How many updates the update loop has made.
    pub fn updates_done(&self) -> u64 {
        self.updates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, Updates::done)
    }

    /// Fault injection and request counters.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Stops the update loop and the server, waiting for both.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for KubeSim {
    fn drop(&mut self) {
        if let Some(u) = self
            .updates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            u.stop();
        }
        self.server.stop();
    }
}
