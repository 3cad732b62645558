//! Authentication, as kube-apiserver does it: bearer tokens from a static token file, client
//! certificates signed by `--client-ca-file` (CN is the user, O the groups), the front-proxy
//! headers of an aggregated API server (trusted only from a client certificate signed by
//! `--requestheader-client-ca-file`), and optionally anonymous requests.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;

use crate::error::ApiError;

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
}

impl UserInfo {
    pub fn anonymous() -> Self {
        Self {
            name: "system:anonymous".to_owned(),
            uid: String::new(),
            groups: vec!["system:unauthenticated".to_owned()],
        }
    }
}

/// What the TLS handshake established about the client, attached to every request of the
/// connection.
#[derive(Debug, Clone, Default)]
pub struct PeerIdentity {
    /// The user of a client certificate signed by `--client-ca-file`.
    pub certificate_user: Option<UserInfo>,
    /// The client presented a certificate of the front proxy (`--requestheader-client-ca-file`
    /// and, if set, one of `--requestheader-allowed-names`).
    pub front_proxy: bool,
}

/// The front-proxy (request header) settings.
#[derive(Debug, Clone)]
pub struct RequestHeaderConfig {
    pub verifier: Arc<dyn ClientCertVerifier>,
    pub allowed_names: Vec<String>,
    pub username_headers: Vec<String>,
    pub group_headers: Vec<String>,
}

/// Decides who a request is from.
#[derive(Debug, Default)]
pub struct Authenticator {
    tokens: HashMap<String, UserInfo>,
    client_ca: Option<Arc<dyn ClientCertVerifier>>,
    request_header: Option<RequestHeaderConfig>,
    anonymous: bool,
}

/// A problem with an authentication setting, found at start-up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuthConfigError(pub String);

/// Splits one CSV line, honouring double quotes (the token file's group column is quoted).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                if let Some(f) = fields.last_mut() {
                    f.push('"');
                }
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields.into_iter().map(|f| f.trim().to_owned()).collect()
}

/// Parses kube-apiserver's `--token-auth-file`: `token,user,uid[,"group1,group2"]` per line.
pub fn parse_token_file(
    text: &str,
    path: &Path,
) -> Result<HashMap<String, UserInfo>, AuthConfigError> {
    let mut tokens = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f = csv_fields(line);
        if f.len() < 3 || f[0].is_empty() || f[1].is_empty() {
            return Err(AuthConfigError(format!(
                "{}:{}: a token line needs at least token,user,uid",
                path.display(),
                i + 1
            )));
        }
        let groups = f
            .get(3)
            .map(|g| {
                g.split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let user = UserInfo {
            name: f[1].clone(),
            uid: f[2].clone(),
            groups,
        };
        if tokens.insert(f[0].clone(), user).is_some() {
            return Err(AuthConfigError(format!(
                "{}:{}: the same token appears twice",
                path.display(),
                i + 1
            )));
        }
    }
    Ok(tokens)
}

/// CN and O of a certificate's subject.
fn subject_user(cert: &CertificateDer<'_>) -> Option<UserInfo> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let subject = parsed.subject();
    let name = subject.iter_common_name().next()?.as_str().ok()?.to_owned();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_owned))
        .collect();
    Some(UserInfo {
        name,
        uid: String::new(),
        groups,
    })
}

fn verifies(verifier: &dyn ClientCertVerifier, chain: &[CertificateDer<'static>]) -> bool {
    match chain.split_first() {
        Some((leaf, intermediates)) => verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
            .is_ok(),
        None => false,
    }
}

impl Authenticator {
    pub fn new(
        tokens: HashMap<String, UserInfo>,
        client_ca: Option<Arc<dyn ClientCertVerifier>>,
        request_header: Option<RequestHeaderConfig>,
        anonymous: bool,
    ) -> Self {
        Self {
            tokens,
            client_ca,
            request_header,
            anonymous,
        }
    }

    /// Whether the TLS layer should ask clients for certificates.
    pub fn wants_client_certificates(&self) -> bool {
        self.client_ca.is_some() || self.request_header.is_some()
    }

    /// Classifies the client certificate chain of a new connection.
    pub fn identify_peer(&self, chain: Option<&[CertificateDer<'static>]>) -> PeerIdentity {
        let Some(chain) = chain.filter(|c| !c.is_empty()) else {
            return PeerIdentity::default();
        };
        if let Some(rh) = &self.request_header
            && verifies(rh.verifier.as_ref(), chain)
        {
            let cn = subject_user(&chain[0]).map(|u| u.name).unwrap_or_default();
            if rh.allowed_names.is_empty() || rh.allowed_names.contains(&cn) {
                return PeerIdentity {
                    certificate_user: None,
                    front_proxy: true,
                };
            }
        }
        if let Some(ca) = &self.client_ca
            && verifies(ca.as_ref(), chain)
        {
            return PeerIdentity {
                certificate_user: subject_user(&chain[0]),
                front_proxy: false,
            };
        }
        PeerIdentity::default()
    }

    /// The user of a request, or `401 Unauthorized`.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        peer: &PeerIdentity,
    ) -> Result<UserInfo, ApiError> {
        if let Some(value) = headers.get(AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim)
                .ok_or_else(ApiError::unauthorized)?;
            return self
                .tokens
                .get(token)
                .cloned()
                .ok_or_else(ApiError::unauthorized);
        }
        if peer.front_proxy
            && let Some(rh) = &self.request_header
        {
            let user = rh
                .username_headers
                .iter()
                .find_map(|h| headers.get(h.as_str()).and_then(|v| v.to_str().ok()))
                .filter(|u| !u.is_empty())
                .ok_or_else(ApiError::unauthorized)?;
            let groups = rh
                .group_headers
                .iter()
                .flat_map(|h| headers.get_all(h.as_str()).iter())
                .filter_map(|v| v.to_str().ok())
                .map(str::to_owned)
                .collect();
            return Ok(UserInfo {
                name: user.to_owned(),
                uid: String::new(),
                groups,
            });
        }
        if let Some(user) = &peer.certificate_user {
            return Ok(user.clone());
        }
        if self.anonymous {
            return Ok(UserInfo::anonymous());
        }
        Err(ApiError::unauthorized())
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn token_file_in_kube_apiserver_format() {
        let text = "# comment\nsecret1,alice,uid-1,\"dev,ops\"\nsecret2,bob,uid-2\n\n";
        let tokens = parse_token_file(text, Path::new("tokens.csv")).expect("parses");
        assert_eq!(tokens["secret1"].groups, vec!["dev", "ops"]);
        assert_eq!(tokens["secret2"].name, "bob");
        assert!(tokens["secret2"].groups.is_empty());

        let err = parse_token_file("lonely\n", Path::new("t.csv")).expect_err("short line");
        assert!(err.to_string().contains("t.csv:1"), "{err}");
        let err = parse_token_file("a,b,c\na,d,e\n", Path::new("t.csv")).expect_err("dup");
        assert!(err.to_string().contains("twice"), "{err}");
    }

    #[test]
    fn bearer_tokens_and_anonymous() {
        let tokens = parse_token_file("good,alice,1\n", Path::new("t")).expect("tokens");
        let auth = Authenticator::new(tokens.clone(), None, None, false);
        let mut h = HeaderMap::new();
        let peer = PeerIdentity::default();
        assert_eq!(
            auth.authenticate(&h, &peer)
                .expect_err("anonymous")
                .code()
                .as_u16(),
            401
        );
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer good"));
        assert_eq!(auth.authenticate(&h, &peer).expect("ok").name, "alice");
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer wrong"));
        assert_eq!(
            auth.authenticate(&h, &peer)
                .expect_err("bad")
                .code()
                .as_u16(),
            401
        );
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic Zm9vOmJhcg=="),
        );
        assert_eq!(
            auth.authenticate(&h, &peer)
                .expect_err("basic")
                .code()
                .as_u16(),
            401
        );

        let open = Authenticator::new(tokens, None, None, true);
        assert_eq!(
            open.authenticate(&HeaderMap::new(), &peer)
                .expect("anon")
                .name,
            "system:anonymous"
        );
    }
}
