//! Authentication, as k8s.io/apiserver's delegating authenticator does it, in its order:
//! the front proxy's request headers (trusted only from a certificate of the request-header
//! CA with an allowed CN), client certificates of the client CA (CN is the user, O the
//! groups), bearer tokens (a static `--token-auth-file`, then a TokenReview against the
//! host cluster), and optionally anonymous requests. The CAs and request-header settings
//! come from flags or, for what no flag sets, from the host cluster's
//! `extension-apiserver-authentication` ConfigMap, watched for changes ([`configmap`]).

pub mod certs;
pub mod configmap;
mod token_file;
pub mod token_review;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

pub use certs::{CaBundleEq, CertAuth, PeerCertificates, RequestHeader};
pub use token_file::parse_token_file;
pub use token_review::TokenReviewer;

use crate::error::ApiError;

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    /// Extra attributes (front-proxy `X-Remote-Extra-*` headers, TokenReview's `extra`),
    /// passed on to SubjectAccessReviews.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    pub fn anonymous() -> Self {
        Self {
            name: "system:anonymous".to_owned(),
            groups: vec!["system:unauthenticated".to_owned()],
            ..Self::default()
        }
    }
}

/// A problem with an authentication setting, found at start-up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuthConfigError(pub String);

/// Decides who a request is from.
#[derive(Debug, Default)]
pub struct Authenticator {
    tokens: HashMap<String, UserInfo>,
    token_review: Option<TokenReviewer>,
    certs: Arc<CertAuth>,
    anonymous: bool,
}

impl Authenticator {
    pub fn new(
        tokens: HashMap<String, UserInfo>,
        certs: Arc<CertAuth>,
        token_review: Option<TokenReviewer>,
        anonymous: bool,
    ) -> Self {
        Self {
            tokens,
            token_review,
            certs,
            anonymous,
        }
    }

    /// The user of a request, or `401 Unauthorized` (`503` when the host cluster cannot
    /// review a token).
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        peer: &PeerCertificates,
    ) -> Result<UserInfo, ApiError> {
        let by_certificate = self.certs.classify(peer);
        if let Some(rh) = &by_certificate.front_proxy
            && let Some(user) = certs::front_proxy_user(rh, headers)
        {
            return Ok(user);
        }
        if let Some(user) = by_certificate.client_user {
            return Ok(user);
        }
        if let Some(value) = headers.get(AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(ApiError::unauthorized)?;
            if let Some(user) = self.tokens.get(token) {
                return Ok(user.clone());
            }
            let Some(reviewer) = &self.token_review else {
                return Err(ApiError::unauthorized());
            };
            return match reviewer.review(token).await {
                Ok(Some(user)) => Ok(user),
                Ok(None) => Err(ApiError::unauthorized()),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot review a bearer token");
                    Err(ApiError::service_unavailable(
                        "the bearer token could not be checked: the host cluster's TokenReview API did not answer",
                    ))
                }
            };
        }
        if self.anonymous {
            return Ok(UserInfo::anonymous());
        }
        Err(ApiError::unauthorized())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use axum::http::HeaderValue;

    use super::*;

    #[tokio::test]
    async fn bearer_tokens_and_anonymous() {
        let tokens = parse_token_file("good,alice,1\n", Path::new("t")).expect("tokens");
        let auth = Authenticator::new(tokens.clone(), Arc::default(), None, false);
        let mut h = HeaderMap::new();
        let peer = PeerCertificates::default();
        let code = |r: Result<UserInfo, ApiError>| r.expect_err("refused").code().as_u16();
        assert_eq!(code(auth.authenticate(&h, &peer).await), 401);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer good"));
        assert_eq!(
            auth.authenticate(&h, &peer).await.expect("ok").name,
            "alice"
        );
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer wrong"));
        assert_eq!(code(auth.authenticate(&h, &peer).await), 401);
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic Zm9vOmJhcg=="),
        );
        assert_eq!(code(auth.authenticate(&h, &peer).await), 401);

        let open = Authenticator::new(tokens, Arc::default(), None, true);
        let anon = open
            .authenticate(&HeaderMap::new(), &peer)
            .await
            .expect("anon");
        assert_eq!(anon.name, "system:anonymous");
        // A wrong token is not downgraded to anonymous.
        assert_eq!(code(open.authenticate(&h, &peer).await), 401);
    }
}
