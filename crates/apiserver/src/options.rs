//! The apiserver's flags (kube-apiserver's names where they exist) and turning them into
//! the TLS configuration and the authenticator.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use clap::ArgAction;

use crate::auth::{AuthConfigError, Authenticator, RequestHeaderConfig, parse_token_file};
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
    /// Prefix of headers carrying extra user information (accepted, not used).
    #[arg(long, default_value = "X-Remote-Extra-")]
    pub requestheader_extra_headers_prefix: String,
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

    /// The authenticator these flags describe.
    pub fn authenticator(&self) -> Result<Authenticator, OptionsError> {
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
            .map(tls::client_verifier)
            .transpose()?;
        let request_header = match &self.requestheader_client_ca_file {
            Some(path) => Some(RequestHeaderConfig {
                verifier: tls::client_verifier(path)?,
                allowed_names: self.requestheader_allowed_names.clone(),
                username_headers: self.requestheader_username_headers.clone(),
                group_headers: self.requestheader_group_headers.clone(),
            }),
            None => None,
        };
        if self.anonymous_auth {
            tracing::warn!("--anonymous-auth=true: requests without credentials are served");
        }
        Ok(Authenticator::new(
            tokens,
            client_ca,
            request_header,
            self.anonymous_auth,
        ))
    }

    /// The TLS configuration: the given certificate, or a self-signed one in --cert-dir.
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
        let mut cas = Vec::new();
        if let Some(ca) = &self.client_ca_file {
            cas.push(ca.as_path());
        }
        if let Some(ca) = &self.requestheader_client_ca_file {
            cas.push(ca.as_path());
        }
        Ok(tls::server_config(&cert, &key, &cas)?)
    }
}
