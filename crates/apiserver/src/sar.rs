//! Delegated authorization: every request is checked with an `authorization.k8s.io/v1`
//! SubjectAccessReview against the host cluster (its RBAC decides), answers cached for
//! `--authorization-webhook-cache-authorized-ttl` / `-unauthorized-ttl`, as
//! k8s.io/apiserver's delegating authorizer does. Members of `system:masters` are allowed
//! without a review, and so are non-resource requests to `--authorization-always-allow-paths`.
//! This is the first of two layers: the policy file (`authz`) then narrows what an allowed
//! request reads.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use crate::auth::UserInfo;
use crate::request_attributes::RequestAttributes;
use crate::ttl_cache::TtlCache;

/// The group whose members are allowed everything without asking (k8s.io/apiserver's
/// `AlwaysAllowGroups` default): the aggregator's availability check uses it.
pub const PRIVILEGED_GROUP: &str = "system:masters";

/// What the host cluster decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Denied { reason: String },
}

/// The host cluster did not answer a review.
#[derive(Debug, thiserror::Error)]
#[error("SubjectAccessReview against the host cluster failed: {0}")]
pub struct ReviewFailed(String);

/// `--authorization-always-allow-paths` entries: an exact path, or a prefix ending in `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlwaysAllowPaths(Vec<String>);

impl AlwaysAllowPaths {
    pub fn new(paths: &[String]) -> Self {
        Self(paths.iter().filter(|p| !p.is_empty()).cloned().collect())
    }

    pub fn matches(&self, path: &str) -> bool {
        self.0.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == p,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    user: String,
    uid: String,
    groups: Vec<String>,
    extra: BTreeMap<String, Vec<String>>,
    attributes: RequestAttributes,
}

#[derive(Debug)]
pub struct DelegatedAuthorizer {
    api: Api<SubjectAccessReview>,
    cache: TtlCache<CacheKey, Verdict>,
    allowed_ttl: Duration,
    denied_ttl: Duration,
    always_allow: AlwaysAllowPaths,
}

fn spec(user: &UserInfo, attributes: &RequestAttributes) -> SubjectAccessReviewSpec {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let (resource_attributes, non_resource_attributes) = match attributes {
        RequestAttributes::Resource(a) => (
            Some(ResourceAttributes {
                verb: opt(&a.verb),
                group: Some(a.group.clone()),
                version: opt(&a.version),
                resource: opt(&a.resource),
                subresource: opt(&a.subresource),
                name: opt(&a.name),
                namespace: opt(&a.namespace),
                ..ResourceAttributes::default()
            }),
            None,
        ),
        RequestAttributes::NonResource { verb, path } => (
            None,
            Some(NonResourceAttributes {
                verb: Some(verb.clone()),
                path: Some(path.clone()),
            }),
        ),
    };
    SubjectAccessReviewSpec {
        user: Some(user.name.clone()),
        uid: opt(&user.uid),
        groups: (!user.groups.is_empty()).then(|| user.groups.clone()),
        extra: (!user.extra.is_empty()).then(|| user.extra.clone()),
        resource_attributes,
        non_resource_attributes,
    }
}

impl DelegatedAuthorizer {
    pub fn new(
        client: kube::Client,
        allowed_ttl: Duration,
        denied_ttl: Duration,
        always_allow: AlwaysAllowPaths,
    ) -> Self {
        Self {
            api: Api::all(client),
            cache: TtlCache::default(),
            allowed_ttl,
            denied_ttl,
            always_allow,
        }
    }

    pub async fn authorize(
        &self,
        user: &UserInfo,
        attributes: &RequestAttributes,
    ) -> Result<Verdict, ReviewFailed> {
        if user.groups.iter().any(|g| g == PRIVILEGED_GROUP) {
            return Ok(Verdict::Allowed);
        }
        if let RequestAttributes::NonResource { path, .. } = attributes
            && self.always_allow.matches(path)
        {
            return Ok(Verdict::Allowed);
        }
        let key = CacheKey {
            user: user.name.clone(),
            uid: user.uid.clone(),
            groups: user.groups.clone(),
            extra: user.extra.clone(),
            attributes: attributes.clone(),
        };
        if let Some(verdict) = self.cache.get(&key) {
            return Ok(verdict);
        }
        let review = SubjectAccessReview {
            spec: spec(user, attributes),
            ..SubjectAccessReview::default()
        };
        let answer = self
            .api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| ReviewFailed(e.to_string()))?;
        let status = answer.status.unwrap_or_default();
        let (verdict, ttl) = if status.allowed && status.denied != Some(true) {
            (Verdict::Allowed, self.allowed_ttl)
        } else {
            let reason = status
                .reason
                .or(status.evaluation_error)
                .unwrap_or_default();
            (Verdict::Denied { reason }, self.denied_ttl)
        };
        self.cache.insert(key, verdict.clone(), ttl);
        Ok(verdict)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::*;

    #[test]
    fn always_allow_paths_are_exact_or_prefixes() {
        let paths = AlwaysAllowPaths::new(&["/healthz".into(), "/debug/*".into(), String::new()]);
        assert!(paths.matches("/healthz"));
        assert!(!paths.matches("/healthz/extra"));
        assert!(paths.matches("/debug/pprof"));
        assert!(!paths.matches("/apis"));
    }

    #[test]
    fn reviews_carry_the_user_and_the_attributes() {
        let user = UserInfo {
            name: "bob".into(),
            uid: "u1".into(),
            groups: vec!["devs".into()],
            extra: [("scopes".to_owned(), vec!["view".to_owned()])].into(),
        };
        let attrs = RequestAttributes::of(
            &Method::GET,
            "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/pods",
            "",
        );
        let spec = spec(&user, &attrs);
        let ra = spec.resource_attributes.expect("resource");
        assert_eq!(ra.group.as_deref(), Some("clusterpedia.io"));
        assert_eq!(ra.resource.as_deref(), Some("resources"));
        assert_eq!(ra.name.as_deref(), Some("clusters"));
        assert_eq!(ra.subresource.as_deref(), Some("c1"));
        assert_eq!(ra.verb.as_deref(), Some("get"));
        assert_eq!(ra.namespace, None);
        assert_eq!(spec.user.as_deref(), Some("bob"));
        assert_eq!(spec.extra.expect("extra")["scopes"], vec!["view"]);
        let core = spec_group(&RequestAttributes::of(&Method::GET, "/api/v1/pods", ""));
        assert_eq!(
            core.as_deref(),
            Some(""),
            "the core group is sent as an empty string"
        );
    }

    fn spec_group(attrs: &RequestAttributes) -> Option<String> {
        spec(&UserInfo::default(), attrs)
            .resource_attributes
            .and_then(|r| r.group)
    }
}
