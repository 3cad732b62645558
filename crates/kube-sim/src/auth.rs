//! Authentication as kube-apiserver does it for a simulated cluster. Identities come from,
//! in kube's order: a client certificate signed by a trusted CA (verified by the TLS layer;
//! CN is the user, O the groups), then a bearer token — the configured admin token, tokens
//! added at run time ([`KubeSim::add_token`](crate::KubeSim::add_token)), or service-account
//! tokens — issued through TokenRequest (`kubectl create token`; they die with their
//! ServiceAccount and at their expiry) or held by Secrets of type
//! `kubernetes.io/service-account-token` (they die with the Secret or the account). An unknown token is `401`; a request without
//! credentials is anonymous only when the simulator has no credentials configured at all.
//! Every authenticated user gets the group `system:authenticated`, as kube's authenticator
//! adds it. The health endpoints never need credentials.
//!
//! The same token check answers TokenReviews, with kube's audience rules: static tokens are
//! audience-agnostic (valid for the API audience only), TokenRequest tokens carry theirs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use rustls::pki_types::CertificateDer;
use serde_json::{Value, json};

use crate::store::{GroupResource, ObjKey, State};

/// The group kube-apiserver authorizes for everything.
pub const SYSTEM_MASTERS: &str = "system:masters";
/// Added to every authenticated user's groups.
pub const SYSTEM_AUTHENTICATED: &str = "system:authenticated";
/// The group of anonymous requests.
pub const SYSTEM_UNAUTHENTICATED: &str = "system:unauthenticated";
/// The user of anonymous requests.
pub const ANONYMOUS_USER: &str = "system:anonymous";
/// The user of the configured token ([`SimConfig::token`](crate::SimConfig::token)), in
/// `system:masters` like kubeadm's admin credentials.
pub const ADMIN_USER: &str = "kubernetes-admin";
/// The API audience (kubeadm's service-account issuer, the default of `--api-audiences`):
/// what a TokenReview without `spec.audiences` checks against.
pub const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";

/// Who a request is from: kube's `user.Info` (TokenReview's `status.user`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserInfo {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    pub fn new(username: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            ..Self::default()
        }
    }

    /// Adds groups.
    #[must_use]
    pub fn with_groups<S: Into<String>>(mut self, groups: impl IntoIterator<Item = S>) -> Self {
        self.groups.extend(groups.into_iter().map(Into::into));
        self
    }

    #[must_use]
    pub fn with_uid(mut self, uid: impl Into<String>) -> Self {
        self.uid = uid.into();
        self
    }

    /// Adds an `extra` entry.
    #[must_use]
    pub fn with_extra<S: Into<String>>(
        mut self,
        key: impl Into<String>,
        values: impl IntoIterator<Item = S>,
    ) -> Self {
        self.extra
            .entry(key.into())
            .or_default()
            .extend(values.into_iter().map(Into::into));
        self
    }

    /// The identity of ServiceAccount `namespace/name`: `system:serviceaccount:<ns>:<name>`
    /// in `system:serviceaccounts` and `system:serviceaccounts:<ns>`.
    pub fn service_account(namespace: &str, name: &str) -> Self {
        Self::new(format!("system:serviceaccount:{namespace}:{name}")).with_groups([
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{namespace}"),
        ])
    }

    /// The anonymous user.
    pub fn anonymous() -> Self {
        Self::new(ANONYMOUS_USER).with_groups([SYSTEM_UNAUTHENTICATED])
    }

    /// With `system:authenticated`, as kube's authenticator returns every user but the
    /// anonymous one.
    #[must_use]
    pub(crate) fn authenticated(mut self) -> Self {
        if self.username != ANONYMOUS_USER && !self.groups.iter().any(|g| g == SYSTEM_AUTHENTICATED)
        {
            self.groups.push(SYSTEM_AUTHENTICATED.to_owned());
        }
        self
    }

    /// The `UserInfo` JSON of TokenReview and SelfSubjectReview.
    pub fn to_json(&self) -> Value {
        let mut user = serde_json::Map::new();
        user.insert("username".into(), json!(self.username));
        if !self.uid.is_empty() {
            user.insert("uid".into(), json!(self.uid));
        }
        if !self.groups.is_empty() {
            user.insert("groups".into(), json!(self.groups));
        }
        if !self.extra.is_empty() {
            user.insert("extra".into(), json!(self.extra));
        }
        Value::Object(user)
    }
}

/// What the TLS handshake established about a connection, attached to its requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Peer {
    /// The user of the client certificate a trusted CA signed.
    pub client: Option<Arc<UserInfo>>,
}

impl Peer {
    /// The identity in a verified client certificate chain: CN and O of the leaf.
    pub(crate) fn identify(certs: Option<&[CertificateDer<'static>]>) -> Self {
        let client = certs
            .and_then(<[_]>::first)
            .and_then(|leaf| {
                let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
                let subject = parsed.subject();
                let name = subject.iter_common_name().next()?.as_str().ok()?.to_owned();
                let groups: Vec<String> = subject
                    .iter_organization()
                    .filter_map(|o| o.as_str().ok().map(str::to_owned))
                    .collect();
                Some(UserInfo::new(name).with_groups(groups))
            })
            .map(Arc::new);
        Self { client }
    }
}

/// A token issued for a ServiceAccount: valid while that ServiceAccount (same uid) exists.
#[derive(Debug, Clone)]
struct BoundAccount {
    namespace: String,
    name: String,
    uid: String,
}

#[derive(Debug, Clone)]
struct Token {
    user: UserInfo,
    /// `None`: audience-agnostic (static tokens), valid for [`API_AUDIENCE`].
    audiences: Option<Vec<String>>,
    expires: Option<jiff::Timestamp>,
    account: Option<BoundAccount>,
}

/// A successful token review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reviewed {
    /// Without `system:authenticated`; [`UserInfo::authenticated`] adds it.
    pub user: UserInfo,
    pub audiences: Vec<String>,
}

/// Why a token does not authenticate: `None` for an unknown token (kube reports no
/// error then), else the message TokenReview puts in `status.error`.
pub(crate) type Rejected = Option<String>;

/// The bearer tokens the simulator accepts; shared by the server and the [`KubeSim`]
/// handle, so tests add and revoke tokens at run time.
///
/// [`KubeSim`]: crate::KubeSim
#[derive(Debug, Clone, Default)]
pub(crate) struct Tokens {
    inner: Arc<RwLock<HashMap<String, Token>>>,
}

impl Tokens {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Token>> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Accepts `token` for `user` (replacing what it meant before).
    pub(crate) fn add(&self, token: &str, user: UserInfo) {
        self.write().insert(
            token.to_owned(),
            Token {
                user,
                audiences: None,
                expires: None,
                account: None,
            },
        );
    }

    /// Accepts `token` for ServiceAccount `namespace/name` (uid `uid`) until `expires`.
    pub(crate) fn add_service_account(
        &self,
        token: &str,
        (namespace, name, uid): (&str, &str, &str),
        audiences: Vec<String>,
        expires: jiff::Timestamp,
        credential_id: &str,
    ) {
        let user = UserInfo::service_account(namespace, name)
            .with_uid(uid)
            .with_extra(
                "authentication.kubernetes.io/credential-id",
                [format!("JTI={credential_id}")],
            );
        self.write().insert(
            token.to_owned(),
            Token {
                user,
                audiences: Some(audiences),
                expires: Some(expires),
                account: Some(BoundAccount {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    uid: uid.to_owned(),
                }),
            },
        );
    }

    /// Stops accepting `token`; whether it was accepted.
    pub(crate) fn revoke(&self, token: &str) -> bool {
        self.write().remove(token).is_some()
    }

    /// Checks `token` for `audiences` (empty: the API audience), as TokenReview does.
    pub(crate) fn review(
        &self,
        token: &str,
        audiences: &[String],
        state: &State,
    ) -> Result<Reviewed, Rejected> {
        let wanted: Vec<String> = if audiences.is_empty() {
            vec![API_AUDIENCE.to_owned()]
        } else {
            audiences.to_vec()
        };
        let found = self
            .inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .cloned();
        let found = found.or_else(|| {
            let (namespace, name, uid) = state.secret_token_account(token)?;
            Some(Token {
                user: UserInfo::service_account(&namespace, &name).with_uid(&uid),
                audiences: None,
                expires: None,
                account: Some(BoundAccount {
                    namespace,
                    name,
                    uid,
                }),
            })
        });
        let Some(found) = found else {
            return Err(None);
        };
        let has = found
            .audiences
            .clone()
            .unwrap_or_else(|| vec![API_AUDIENCE.to_owned()]);
        let common: Vec<String> = wanted.into_iter().filter(|a| has.contains(a)).collect();
        if common.is_empty() {
            return Err(found.audiences.as_ref().map(|a| {
                format!(
                    "[invalid bearer token, token audiences {a:?} is invalid for the target audiences {:?}]",
                    if audiences.is_empty() {
                        vec![API_AUDIENCE.to_owned()]
                    } else {
                        audiences.to_vec()
                    }
                )
            }));
        }
        if found.expires.is_some_and(|e| e <= jiff::Timestamp::now()) {
            return Err(Some(
                "[invalid bearer token, service account token has expired]".to_owned(),
            ));
        }
        if let Some(account) = &found.account {
            let gr = GroupResource {
                group: String::new(),
                resource: "serviceaccounts".to_owned(),
            };
            let live_uid = state
                .object(&gr, &ObjKey::new(&account.namespace, &account.name))
                .and_then(|raw| serde_json::from_slice::<Value>(raw).ok())
                .and_then(|sa| {
                    sa.pointer("/metadata/uid")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
            match live_uid {
                None => {
                    return Err(Some(format!(
                        "[invalid bearer token, service account {}/{} has been deleted]",
                        account.namespace, account.name
                    )));
                }
                Some(uid) if uid != account.uid => {
                    return Err(Some(format!(
                        "[invalid bearer token, service account UID ({}) does not match claim ({})]",
                        uid, account.uid
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(Reviewed {
            user: found.user,
            audiences: common,
        })
    }
}

/// Decides who a request is from.
#[derive(Debug, Clone)]
pub(crate) struct Authenticator {
    pub tokens: Tokens,
    /// No credentials are configured: requests without any are anonymous, not `401`.
    anonymous: bool,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

impl Authenticator {
    pub(crate) fn new(tokens: Tokens, anonymous: bool) -> Self {
        Self { tokens, anonymous }
    }

    /// The user of a request, or `None` (`401`).
    pub(crate) fn authenticate(
        &self,
        headers: &HeaderMap,
        peer: &Peer,
        state: &State,
    ) -> Option<UserInfo> {
        if let Some(user) = &peer.client {
            return Some(UserInfo::clone(user).authenticated());
        }
        match bearer(headers) {
            Some(token) => self
                .tokens
                .review(token, &[], state)
                .ok()
                .map(|r| r.user.authenticated()),
            None => self.anonymous.then(UserInfo::anonymous),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;
    use crate::store::Store;

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(AUTHORIZATION, HeaderValue::from_str(a).expect("header"));
        }
        h
    }

    #[test]
    fn tokens_certificates_and_anonymous() {
        let store = Store::new(100);
        let state = store.read();
        let tokens = Tokens::default();
        tokens.add(
            "s3cret",
            UserInfo::new(ADMIN_USER).with_groups([SYSTEM_MASTERS]),
        );
        let auth = Authenticator::new(tokens.clone(), false);
        let admin = auth
            .authenticate(&headers(Some("Bearer s3cret")), &Peer::default(), &state)
            .expect("admin");
        assert_eq!(admin.groups, [SYSTEM_MASTERS, SYSTEM_AUTHENTICATED]);
        assert!(
            auth.authenticate(&headers(Some("Bearer wrong")), &Peer::default(), &state)
                .is_none()
        );
        assert!(
            auth.authenticate(&headers(None), &Peer::default(), &state)
                .is_none()
        );
        let peer = Peer {
            client: Some(Arc::new(UserInfo::new("alice").with_groups(["devs"]))),
        };
        let alice = auth
            .authenticate(&headers(None), &peer, &state)
            .expect("alice");
        assert_eq!(alice.groups, ["devs", SYSTEM_AUTHENTICATED]);
        assert!(tokens.revoke("s3cret"));
        assert!(
            auth.authenticate(&headers(Some("Bearer s3cret")), &Peer::default(), &state)
                .is_none()
        );
        let open = Authenticator::new(Tokens::default(), true);
        let anon = open
            .authenticate(&headers(None), &Peer::default(), &state)
            .expect("anonymous");
        assert_eq!(anon, UserInfo::anonymous());
    }

    #[test]
    fn audiences() {
        let store = Store::new(100);
        let state = store.read();
        let tokens = Tokens::default();
        tokens.add("static", UserInfo::new("bob"));
        let ok = tokens.review("static", &[], &state).expect("valid");
        assert_eq!(ok.audiences, [API_AUDIENCE]);
        // Audience-agnostic tokens are only good for the API audience, without an error.
        assert_eq!(
            tokens.review("static", &["other".to_owned()], &state),
            Err(None)
        );
        assert_eq!(tokens.review("nope", &[], &state), Err(None));
    }
}
