//! Bearer tokens checked by the host cluster: one `authentication.k8s.io/v1` TokenReview
//! per token and TTL (`--authentication-token-webhook-cache-ttl`), answers cached whether
//! the token was accepted or not, as k8s.io/apiserver's delegating authenticator does.

use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use kube::api::{Api, PostParams};
use sha2::{Digest, Sha256};

use super::UserInfo;
use crate::ttl_cache::TtlCache;

/// The host cluster did not answer a review.
#[derive(Debug, thiserror::Error)]
#[error("TokenReview against the host cluster failed: {0}")]
pub struct ReviewFailed(String);

#[derive(Debug)]
pub struct TokenReviewer {
    api: Api<TokenReview>,
    /// Keyed by the token's SHA-256: raw tokens are not kept in memory longer than a request.
    cache: TtlCache<[u8; 32], Option<UserInfo>>,
    ttl: Duration,
}

impl TokenReviewer {
    pub fn new(client: kube::Client, ttl: Duration) -> Self {
        Self {
            api: Api::all(client),
            cache: TtlCache::default(),
            ttl,
        }
    }

    /// The user `token` belongs to, `None` if the host cluster does not accept it.
    pub async fn review(&self, token: &str) -> Result<Option<UserInfo>, ReviewFailed> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(answer) = self.cache.get(&key) {
            return Ok(answer);
        }
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_owned()),
                audiences: None,
            },
            ..TokenReview::default()
        };
        let answer = self
            .api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| ReviewFailed(e.to_string()))?;
        let status = answer.status.unwrap_or_default();
        let user = match (status.authenticated, status.user) {
            (Some(true), Some(user)) => Some(UserInfo {
                name: user.username.unwrap_or_default(),
                uid: user.uid.unwrap_or_default(),
                groups: user.groups.unwrap_or_default(),
                extra: user.extra.unwrap_or_default(),
            }),
            _ => None,
        }
        .filter(|u| !u.name.is_empty());
        self.cache.insert(key, user.clone(), self.ttl);
        Ok(user)
    }
}
