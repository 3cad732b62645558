//! [`KubeSim`]: one simulated cluster — its store, its HTTPS server, its credentials and
//! kubeconfig, and the handles of the load generator, update loop and fault injection.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::auth::{ADMIN_USER, Authenticator, SYSTEM_MASTERS, Tokens, UserInfo};
use crate::bootstrap;
use crate::certs::ClientCa;
use crate::config::SimConfig;
use crate::error::{SimError, StatusError};
use crate::faults::{FaultState, Faults};
use crate::load::{LoadReport, LoadSpec};
use crate::rbac::{Decision, Request};
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
    tokens: Tokens,
    /// The cluster's client CA (trusted beside `SimConfig::client_ca`).
    client_ca: ClientCa,
    /// The client CA bundle published in the authentication ConfigMap.
    client_ca_bundle: String,
    /// The current front-proxy CA and the older ones still published.
    front_proxy: Mutex<FrontProxy>,
    updates: Mutex<Option<Updates>>,
    /// Holds the default certificate directory until the simulator is gone.
    _cert_dir: Option<tempfile::TempDir>,
    /// Holds the cluster client CA file the TLS layer read.
    _ca_dir: tempfile::TempDir,
}

/// The front-proxy CA: the one signing new front-proxy client certificates, and what the
/// authentication ConfigMap publishes as `requestheader-client-ca-file`.
#[derive(Debug)]
struct FrontProxy {
    current: ClientCa,
    /// Earlier CAs still in the bundle (rotation that keeps them).
    kept: Vec<String>,
    generation: u32,
}

impl FrontProxy {
    fn bundle(&self) -> String {
        let mut pem = self.current.cert_pem().to_owned();
        for old in &self.kept {
            pem.push_str(old);
        }
        pem
    }
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
        let ca_dir = tempfile::Builder::new()
            .prefix("kube-sim-ca-")
            .tempdir()
            .map_err(SimError::CertDir)?;
        let client_ca = ClientCa::generate(&format!("{}-client-ca", config.name))?;
        let client_ca_file = ca_dir.path().join("client-ca.crt");
        client_ca.write(&client_ca_file)?;
        let mut client_ca_bundle = client_ca.cert_pem().to_owned();
        if let Some(extra) = &config.client_ca {
            let pem = std::fs::read_to_string(extra).map_err(|source| SimError::Write {
                path: extra.clone(),
                source,
            })?;
            client_ca_bundle.push_str(&pem);
        }
        let client_cas: Vec<&Path> = std::iter::once(client_ca_file.as_path())
            .chain(config.client_ca.iter().map(PathBuf::as_path))
            .collect();
        let tls = https_serve::tls::server_config(&cert, &key, &client_cas)?;
        let ca_pem = std::fs::read_to_string(&cert).map_err(|source| SimError::Write {
            path: cert.clone(),
            source,
        })?;
        let front_proxy = FrontProxy {
            current: ClientCa::generate(&format!("{}-front-proxy-ca", config.name))?,
            kept: Vec::new(),
            generation: 1,
        };
        let store = Store::new(config.history_size);
        store.write(|s| s.cluster_ca.clone_from(&ca_pem));
        bootstrap::install(&store)?;
        bootstrap::publish_authentication(
            &store,
            bootstrap::authentication_data(&client_ca_bundle, &front_proxy.bundle()),
        )?;
        let faults = Arc::new(FaultState::default());
        let tokens = Tokens::default();
        let token = config.token.clone().filter(|t| !t.is_empty());
        if let Some(t) = &token {
            tokens.add(t, UserInfo::new(ADMIN_USER).with_groups([SYSTEM_MASTERS]));
        }
        let anonymous = token.is_none() && config.client_ca.is_none();
        let auth = Authenticator::new(tokens.clone(), anonymous);
        let server = Arc::new(ServerControl::start(
            &config.name,
            config.bind,
            tls,
            |addr| App {
                store: store.clone(),
                auth,
                enforce_rbac: config.rbac,
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
            token,
            ca_path: cert,
            ca_pem,
            tokens,
            client_ca,
            client_ca_bundle,
            front_proxy: Mutex::new(front_proxy),
            updates: Mutex::new(None),
            _cert_dir: temp,
            _ca_dir: ca_dir,
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

    /// The admin token (`kubernetes-admin` in `system:masters`), if one is configured.
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

    /// A kubeconfig that authenticates with `token` (one added with
    /// [`add_token`](Self::add_token), issued by [`issue_token`](Self::issue_token) or
    /// [`service_account_token`](Self::service_account_token)).
    pub fn kubeconfig_with_token(&self, token: &str) -> String {
        self.kubeconfig_with(json!({"token": token}))
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

    /// Accepts the bearer token `token` for `user` from now on (in requests and
    /// TokenReviews; `system:authenticated` is added to the groups), replacing what the
    /// token meant before.
    pub fn add_token(&self, token: &str, user: UserInfo) {
        self.tokens.add(token, user);
    }

    /// A new random bearer token for `user` (see [`add_token`](Self::add_token)).
    pub fn issue_token(&self, user: UserInfo) -> String {
        let token = self.store.write(|s| s.rng.hex(48));
        self.tokens.add(&token, user);
        token
    }

    /// Stops accepting `token` (any kind, service-account tokens included): requests with
    /// it get `401`, TokenReviews `authenticated: false`. Whether it was accepted before.
    pub fn revoke_token(&self, token: &str) -> bool {
        self.tokens.revoke(token)
    }

    /// A token for ServiceAccount `namespace/name`, as a TokenRequest
    /// (`kubectl create token`) issues it: for `audiences` (empty: the API audience
    /// [`API_AUDIENCE`](crate::auth::API_AUDIENCE)), valid for `expiration_seconds`
    /// (at least 600) and while the ServiceAccount exists. The user is
    /// `system:serviceaccount:<ns>:<name>` in `system:serviceaccounts` and
    /// `system:serviceaccounts:<ns>`.
    pub fn service_account_token(
        &self,
        namespace: &str,
        name: &str,
        audiences: &[&str],
        expiration_seconds: i64,
    ) -> Result<String, StatusError> {
        let audiences: Vec<String> = audiences.iter().map(|a| (*a).to_owned()).collect();
        crate::server::issue_service_account_token(
            &self.store,
            &self.tokens,
            namespace,
            name,
            audiences,
            expiration_seconds,
        )
        .map(|issued| issued.token)
    }

    /// What the simulator's authorizer decides for `user` doing `request` (what a
    /// SubjectAccessReview would answer).
    pub fn authorize(&self, user: &UserInfo, request: &Request) -> Decision {
        crate::rbac::authorize(&self.store.read(), user, request)
    }

    /// The cluster's own client CA: certificates it issues authenticate (CN: user, O:
    /// groups). Its certificate is in `client-ca-file` of the authentication ConfigMap.
    pub fn client_ca(&self) -> &ClientCa {
        &self.client_ca
    }

    /// A client certificate and key (PEM) for `user` in `groups`, from
    /// [`client_ca`](Self::client_ca).
    pub fn client_cert(&self, user: &str, groups: &[&str]) -> Result<(String, String), SimError> {
        self.client_ca.issue(user, groups)
    }

    /// The client CA bundle (PEM) published as `client-ca-file`: the cluster's client CA,
    /// then the CAs of `SimConfig::client_ca`.
    pub fn client_ca_bundle(&self) -> &str {
        &self.client_ca_bundle
    }

    fn front_proxy(&self) -> std::sync::MutexGuard<'_, FrontProxy> {
        self.front_proxy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The front-proxy CA bundle (PEM) published as `requestheader-client-ca-file`.
    pub fn front_proxy_ca_pem(&self) -> String {
        self.front_proxy().bundle()
    }

    /// A front-proxy client certificate and key (PEM) with common name `cn`, signed by
    /// the current front-proxy CA: what kube-apiserver presents (CN `front-proxy-client`,
    /// the one allowed name) when it proxies to an aggregated API server.
    pub fn front_proxy_client_cert(&self, cn: &str) -> Result<(String, String), SimError> {
        self.front_proxy().current.issue(cn, &[])
    }

    /// Replaces the front-proxy CA with a new one and publishes it: the authentication
    /// ConfigMap is updated (watchers see `MODIFIED`). With `keep_old` the old CA stays in
    /// the bundle (as kube-apiserver's trust controller unions them until the old one
    /// expires), so certificates it signed remain valid; without, they stop being trusted.
    /// Returns the new bundle (PEM).
    pub fn rotate_front_proxy_ca(&self, keep_old: bool) -> Result<String, SimError> {
        let mut fp = self.front_proxy();
        fp.generation += 1;
        let next = ClientCa::generate(&format!("{}-front-proxy-ca-{}", self.name, fp.generation))?;
        let old = std::mem::replace(&mut fp.current, next);
        if keep_old {
            fp.kept.insert(0, old.cert_pem().to_owned());
        } else {
            fp.kept.clear();
        }
        let bundle = fp.bundle();
        bootstrap::publish_authentication(
            &self.store,
            bootstrap::authentication_data(&self.client_ca_bundle, &bundle),
        )?;
        Ok(bundle)
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
