//! Authentication as kube-apiserver configures it for a simulated cluster: a static bearer
//! token and/or client certificates signed by a configured CA (verified by the TLS layer
//! during the handshake); anything else is `401 Unauthorized`. Without either credential
//! configured, every request is allowed (anonymous). The health endpoints never need
//! credentials, as kube grants them to `system:unauthenticated`.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

/// What the TLS handshake established about a connection, attached to its requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Peer {
    /// The client presented a certificate that the configured client CA signed.
    pub client_cert: bool,
}

/// Decides whether a request is authenticated.
#[derive(Debug, Clone)]
pub(crate) struct Authenticator {
    token: Option<String>,
    client_certs: bool,
}

/// Compares without an early exit, so the time taken says nothing about the token.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Authenticator {
    pub(crate) fn new(token: Option<String>, client_certs: bool) -> Self {
        Self {
            token: token.filter(|t| !t.is_empty()),
            client_certs,
        }
    }

    pub(crate) fn allows(&self, headers: &HeaderMap, peer: Peer) -> bool {
        if peer.client_cert {
            return true;
        }
        let bearer = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        match (&self.token, bearer) {
            (Some(token), Some(given)) => same(token.as_bytes(), given.as_bytes()),
            (None, _) => !self.client_certs,
            (Some(_), None) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(AUTHORIZATION, HeaderValue::from_str(a).expect("header"));
        }
        h
    }

    #[test]
    fn tokens_and_certificates() {
        let auth = Authenticator::new(Some("s3cret".into()), true);
        assert!(auth.allows(&headers(Some("Bearer s3cret")), Peer::default()));
        assert!(!auth.allows(&headers(Some("Bearer wrong")), Peer::default()));
        assert!(!auth.allows(&headers(None), Peer::default()));
        assert!(auth.allows(&headers(None), Peer { client_cert: true }));
        let certs_only = Authenticator::new(None, true);
        assert!(!certs_only.allows(&headers(Some("Bearer s3cret")), Peer::default()));
        let open = Authenticator::new(None, false);
        assert!(open.allows(&headers(None), Peer::default()));
    }
}
