//! The apiserver's flags (kube-apiserver's and k8s.io/apiserver's names where they exist)
//! and turning them into the TLS configuration, the authenticator and the delegated
//! authorizer.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::ArgAction;

use crate::auth::configmap::{self, Lookup};
use crate::auth::{
    AuthConfigError, Authenticator, CaBundleEq, CertAuth, RequestHeader, TokenReviewer,
    parse_token_file,
};
use crate::host::HostCluster;
use crate::sar::{AlwaysAllowPaths, DelegatedAuthorizer};
use https_serve::tls::{self, TlsError};

/// Serving and authentication flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ServingOptions {
    /// The IP address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// The port to serve HTTPS on (0 picks a free port).
    #[arg(long, default_value_t = 6443)]
    pub secure_port: u16,
    /// PEM serving certificate; without it a self-signed one is written to --cert-dir.
    #[arg(long, requires = "tls_private_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of --tls-cert-file.
    #[arg(long, requires = "tls_cert_file")]
    pub tls_private_key_file: Option<PathBuf>,
    /// Where a generated self-signed certificate is kept.
    #[arg(long, default_value = "apiserver.local.config/certificates")]
    pub cert_dir: PathBuf,
    /// Authenticate client certificates signed by these CAs (CN = user, O = groups).
    #[arg(long)]
    pub client_ca_file: Option<PathBuf>,
    /// Static bearer tokens, kube-apiserver's CSV format: token,user,uid,"group1,group2".
    #[arg(long)]
    pub token_auth_file: Option<PathBuf>,
    /// Let requests without credentials in as system:anonymous.
    #[arg(long, default_value_t = false, action = ArgAction::Set)]
    pub anonymous_auth: bool,
    /// Trust the request-header identity of clients presenting a certificate signed by
    /// these CAs (the aggregation layer's front proxy).
    #[arg(long)]
    pub requestheader_client_ca_file: Option<PathBuf>,
    /// Common names allowed for front-proxy client certificates (empty: any).
    #[arg(long, value_delimiter = ',')]
    pub requestheader_allowed_names: Vec<String>,
    /// Headers carrying the user name.
    #[arg(long, value_delimiter = ',', default_value = "X-Remote-User")]
    pub requestheader_username_headers: Vec<String>,
    /// Headers carrying the groups.
    #[arg(long, value_delimiter = ',', default_value = "X-Remote-Group")]
    pub requestheader_group_headers: Vec<String>,
    /// Headers carrying the user's uid.
    #[arg(long, value_delimiter = ',')]
    pub requestheader_uid_headers: Vec<String>,
    /// Prefixes of headers carrying extra user information (passed on to
    /// SubjectAccessReviews).
    #[arg(long, value_delimiter = ',', default_value = "X-Remote-Extra-")]
    pub requestheader_extra_headers_prefix: Vec<String>,
    /// Kubeconfig of the host cluster (where PediaClusters and the APIService live). Also
    /// the default of --authentication-kubeconfig and --authorization-kubeconfig.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig of the cluster that reviews bearer tokens (TokenReview) and publishes
    /// the client and front-proxy CAs (configmap kube-system/extension-apiserver-
    /// authentication). Without it (and without --kubeconfig): in-cluster in a pod,
    /// otherwise only the static flags above authenticate.
    #[arg(long)]
    pub authentication_kubeconfig: Option<PathBuf>,
    /// Do not read the CAs from the extension-apiserver-authentication ConfigMap.
    #[arg(long, num_args = 0..=1, default_value_t = false, default_missing_value = "true", action = ArgAction::Set)]
    pub authentication_skip_lookup: bool,
    /// Start even if the extension-apiserver-authentication ConfigMap cannot be read.
    #[arg(long, num_args = 0..=1, default_value_t = false, default_missing_value = "true", action = ArgAction::Set)]
    pub authentication_tolerate_lookup_failure: bool,
    /// How long TokenReview answers are cached.
    #[arg(long, default_value = "10s", value_parser = pedia_core::duration::parse_flag_duration)]
    pub authentication_token_webhook_cache_ttl: std::time::Duration,
    /// Kubeconfig of the cluster that authorizes every request (SubjectAccessReview).
    /// Without it (and without --kubeconfig): in-cluster in a pod, otherwise no delegated
    /// authorization (the policy file alone decides).
    #[arg(long)]
    pub authorization_kubeconfig: Option<PathBuf>,
    /// Paths served without a SubjectAccessReview (exact, or a prefix ending in `*`).
    #[arg(long, value_delimiter = ',', default_value = "/healthz,/readyz,/livez")]
    pub authorization_always_allow_paths: Vec<String>,
    /// How long an "allowed" SubjectAccessReview answer is cached.
    #[arg(long, default_value = "10s", value_parser = pedia_core::duration::parse_flag_duration)]
    pub authorization_webhook_cache_authorized_ttl: std::time::Duration,
    /// How long a "denied" SubjectAccessReview answer is cached.
    #[arg(long, default_value = "10s", value_parser = pedia_core::duration::parse_flag_duration)]
    pub authorization_webhook_cache_unauthorized_ttl: std::time::Duration,
    /// Who may read which clusters, namespaces and resources (YAML, reloaded when it
    /// changes). Without it every authenticated user may read everything.
    #[arg(long)]
    pub authorization_policy_file: Option<PathBuf>,
    /// Serve Secrets without their `data` and `stringData`.
    #[arg(long)]
    pub redact_secrets: bool,
    /// The largest `limit` served; a larger one is lowered to it (the page then carries a
    /// continue token).
    #[arg(long, default_value_t = 10_000)]
    pub max_list_limit: u64,
    /// How long a request (other than the stream of a watch) may take before 504.
    #[arg(long, default_value = "60s", value_parser = pedia_core::duration::parse_flag_duration)]
    pub request_timeout: std::time::Duration,
    /// Requests served at once; more get 429 with Retry-After.
    #[arg(long, default_value_t = 400)]
    pub max_requests_inflight: usize,
    /// The largest request body accepted (the API is read-only).
    #[arg(long, default_value_t = 1 << 20)]
    pub max_request_body_bytes: u64,
    /// Watches one user may hold open; more get 429.
    #[arg(long, default_value_t = 100)]
    pub max_watches_per_user: usize,
}

/// A problem with the serving flags, found at start-up.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Auth(#[from] AuthConfigError),
    #[error(transparent)]
    Policy(#[from] crate::authz::PolicyError),
    #[error(transparent)]
    Host(#[from] crate::host::HostError),
    #[error(transparent)]
    Lookup(#[from] crate::auth::configmap::LookupFailed),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ServingOptions {
    /// The request limits these flags set.
    pub fn limits(&self) -> crate::limits::Limits {
        crate::limits::Limits {
            max_list_limit: self.max_list_limit.max(1),
            request_timeout: self.request_timeout,
            max_requests_inflight: self.max_requests_inflight,
            max_request_body_bytes: self.max_request_body_bytes,
            max_watches_per_user: self.max_watches_per_user,
        }
    }

    /// The authorization policy these flags name.
    pub fn authorizer(&self) -> Result<crate::authz::Authorizer, OptionsError> {
        Ok(match &self.authorization_policy_file {
            Some(path) => crate::authz::Authorizer::from_file(path)?,
            None => crate::authz::Authorizer::allow_all(),
        })
    }

    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind_address, self.secure_port)
    }

    fn ca_file(path: &Path) -> Result<CaBundleEq, OptionsError> {
        let pem = std::fs::read_to_string(path).map_err(|source| OptionsError::Read {
            path: path.to_owned(),
            source,
        })?;
        CaBundleEq::from_pem(&pem).map_err(|reason| {
            OptionsError::Auth(AuthConfigError(format!("{}: {reason}", path.display())))
        })
    }

    /// The request-header settings the flags give, if `--requestheader-client-ca-file` is set.
    fn request_header(&self) -> Result<Option<RequestHeader>, OptionsError> {
        let Some(path) = &self.requestheader_client_ca_file else {
            return Ok(None);
        };
        Ok(Some(RequestHeader {
            ca: Self::ca_file(path)?,
            allowed_names: self.requestheader_allowed_names.clone(),
            username_headers: self.requestheader_username_headers.clone(),
            uid_headers: self.requestheader_uid_headers.clone(),
            group_headers: self.requestheader_group_headers.clone(),
            extra_headers_prefix: self.requestheader_extra_headers_prefix.clone(),
        }))
    }

    /// Authentication and delegated authorization as these flags describe them, with the
    /// background tasks (ConfigMap watch) they need.
    pub async fn security(&self) -> Result<Security, OptionsError> {
        let tokens = match &self.token_auth_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| OptionsError::Read {
                    path: path.clone(),
                    source,
                })?;
                parse_token_file(&text, path)?
            }
            None => Default::default(),
        };
        let client_ca = self
            .client_ca_file
            .as_deref()
            .map(Self::ca_file)
            .transpose()?;
        let certs = Arc::new(CertAuth::new(client_ca, self.request_header()?));
        let mut tasks = Vec::new();

        let authn_host = HostCluster::resolve(
            self.authentication_kubeconfig
                .as_deref()
                .or(self.kubeconfig.as_deref()),
        );
        let authn_client = authn_host.client().await?;
        let token_review = match &authn_client {
            Some(client) => {
                let lookup = Lookup {
                    client_ca: self.client_ca_file.is_none(),
                    request_header: self.requestheader_client_ca_file.is_none(),
                };
                if !self.authentication_skip_lookup && (lookup.client_ca || lookup.request_header) {
                    tasks.push(
                        configmap::start(
                            client.clone(),
                            lookup,
                            Arc::clone(&certs),
                            self.authentication_tolerate_lookup_failure,
                        )
                        .await?,
                    );
                }
                Some(TokenReviewer::new(
                    client.clone(),
                    self.authentication_token_webhook_cache_ttl,
                ))
            }
            None => None,
        };
        let authz_host = HostCluster::resolve(
            self.authorization_kubeconfig
                .as_deref()
                .or(self.kubeconfig.as_deref()),
        );
        let delegated = authz_host.client().await?.map(|client| {
            DelegatedAuthorizer::new(
                client,
                self.authorization_webhook_cache_authorized_ttl,
                self.authorization_webhook_cache_unauthorized_ttl,
                AlwaysAllowPaths::new(&self.authorization_always_allow_paths),
            )
        });
        tracing::info!(
            authentication = ?authn_host,
            authorization = ?authz_host,
            "delegation to the host cluster"
        );
        if self.anonymous_auth {
            tracing::warn!("--anonymous-auth=true: requests without credentials are served");
        }
        Ok(Security {
            authenticator: Authenticator::new(tokens, certs, token_review, self.anonymous_auth),
            delegated,
            tasks,
        })
    }

    /// The TLS configuration: the given certificate, or a self-signed one in --cert-dir.
    /// Client certificates are requested from everyone and checked per request, against CAs
    /// that may change ([`crate::auth::certs`]).
    pub fn tls_config(&self) -> Result<Arc<rustls::ServerConfig>, OptionsError> {
        let (cert, key) = match (&self.tls_cert_file, &self.tls_private_key_file) {
            (Some(c), Some(k)) => (c.clone(), k.clone()),
            _ => {
                let extra: Vec<String> = if self.bind_address.is_unspecified() {
                    Vec::new()
                } else {
                    vec![self.bind_address.to_string()]
                };
                tls::self_signed(&self.cert_dir, &extra)?
            }
        };
        Ok(tls::server_config_requesting_client_certs(&cert, &key)?)
    }
}

/// What authenticates and authorizes requests, built from the flags.
#[derive(Debug)]
pub struct Security {
    pub authenticator: Authenticator,
    pub delegated: Option<DelegatedAuthorizer>,
    /// Background work (the ConfigMap watch); aborted when the server stops.
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}
