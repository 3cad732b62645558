//! Client-certificate authentication with CAs that change at run time: the client CA
//! (CN is the user, O the groups) and the front proxy's request-header settings, each
//! from a flag or from the host cluster's `extension-apiserver-authentication` ConfigMap.
//!
//! The TLS handshake only requests certificates ([`https_serve::client_cert`]); a
//! connection's chain is checked against the CAs current at its first request and again
//! whenever they change, so a rotated CA takes effect without a restart.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use axum::http::HeaderMap;
use https_serve::client_cert::CaBundle;
use rustls::pki_types::CertificateDer;

use super::UserInfo;

/// The front proxy's settings (kube-apiserver's `--requestheader-*` flags).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestHeader {
    pub ca: CaBundleEq,
    /// Common names a front-proxy certificate may have (empty: any signed by `ca`).
    pub allowed_names: Vec<String>,
    pub username_headers: Vec<String>,
    pub uid_headers: Vec<String>,
    pub group_headers: Vec<String>,
    pub extra_headers_prefix: Vec<String>,
}

/// A CA bundle compared by its PEM text, so an unchanged ConfigMap is not a change.
#[derive(Debug, Clone, Default)]
pub struct CaBundleEq {
    pub bundle: CaBundle,
    pub pem: String,
}

impl PartialEq for CaBundleEq {
    fn eq(&self, other: &Self) -> bool {
        self.pem == other.pem
    }
}

impl CaBundleEq {
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        Ok(Self {
            bundle: CaBundle::from_pem(pem.as_bytes())?,
            pem: pem.to_owned(),
        })
    }
}

#[derive(Debug, Default)]
struct CertConfig {
    client_ca: Option<CaBundleEq>,
    request_header: Option<Arc<RequestHeader>>,
}

/// The current client CA and request-header settings.
#[derive(Debug, Default)]
pub struct CertAuth {
    config: RwLock<Arc<CertConfig>>,
    /// Bumped on every change; connections re-check their chain when it moves.
    generation: AtomicU64,
}

/// What a connection's certificate chain proves under one configuration.
#[derive(Debug, Clone, Default)]
pub struct Classification {
    /// The chain is the front proxy's: these settings say which headers carry the user.
    pub front_proxy: Option<Arc<RequestHeader>>,
    /// The chain is a client certificate of the client CA.
    pub client_user: Option<UserInfo>,
}

/// The certificate chain a client presented, attached to every request of its connection,
/// with its classification cached per configuration generation.
#[derive(Debug, Clone, Default)]
pub struct PeerCertificates {
    chain: Option<Arc<[CertificateDer<'static>]>>,
    cache: Arc<Mutex<Option<(u64, Classification)>>>,
}

impl PeerCertificates {
    pub fn new(chain: Option<&[CertificateDer<'static>]>) -> Self {
        Self {
            chain: chain.filter(|c| !c.is_empty()).map(Arc::from),
            cache: Arc::default(),
        }
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

impl CertAuth {
    pub fn new(client_ca: Option<CaBundleEq>, request_header: Option<RequestHeader>) -> Self {
        Self {
            config: RwLock::new(Arc::new(CertConfig {
                client_ca,
                request_header: request_header.map(Arc::new),
            })),
            generation: AtomicU64::new(0),
        }
    }

    fn update(&self, change: impl FnOnce(&CertConfig) -> Option<CertConfig>) {
        let mut config = self.config.write().unwrap_or_else(|e| e.into_inner());
        if let Some(new) = change(&config) {
            *config = Arc::new(new);
            self.generation.fetch_add(1, Ordering::Release);
        }
    }

    /// Replaces the client CA (a ConfigMap update); unchanged bundles change nothing.
    pub fn set_client_ca(&self, client_ca: Option<CaBundleEq>) {
        self.update(|old| {
            (old.client_ca != client_ca).then(|| CertConfig {
                client_ca,
                request_header: old.request_header.clone(),
            })
        });
    }

    /// Replaces the request-header settings (a ConfigMap update).
    pub fn set_request_header(&self, request_header: Option<RequestHeader>) {
        self.update(|old| {
            (old.request_header.as_deref() != request_header.as_ref()).then(|| CertConfig {
                client_ca: old.client_ca.clone(),
                request_header: request_header.map(Arc::new),
            })
        });
    }

    /// The current request-header settings, if any.
    pub fn request_header(&self) -> Option<Arc<RequestHeader>> {
        read(&self.config).request_header.clone()
    }

    /// What `peer`'s chain proves now (cached until the configuration changes).
    pub fn classify(&self, peer: &PeerCertificates) -> Classification {
        let Some(chain) = &peer.chain else {
            return Classification::default();
        };
        let generation = self.generation.load(Ordering::Acquire);
        let mut cache = peer.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((g, c)) = &*cache
            && *g == generation
        {
            return c.clone();
        }
        let config = Arc::clone(&read(&self.config));
        let classification = classify(&config, chain);
        *cache = Some((generation, classification.clone()));
        classification
    }
}

fn classify(config: &CertConfig, chain: &[CertificateDer<'static>]) -> Classification {
    let now = SystemTime::now();
    let mut refusals = Vec::new();
    if let Some(rh) = &config.request_header {
        match rh.ca.bundle.verify(chain, now) {
            Ok(subject)
                if rh.allowed_names.is_empty()
                    || rh.allowed_names.contains(&subject.common_name) =>
            {
                return Classification {
                    front_proxy: Some(Arc::clone(rh)),
                    client_user: None,
                };
            }
            Ok(subject) => refusals.push(format!(
                "front-proxy certificate CN {:?} is not in the allowed names {:?}",
                subject.common_name, rh.allowed_names
            )),
            Err(e) => refusals.push(format!("not a front-proxy certificate: {e}")),
        }
    }
    if let Some(ca) = &config.client_ca {
        match ca.bundle.verify(chain, now) {
            Ok(subject) => {
                return Classification {
                    front_proxy: None,
                    client_user: Some(UserInfo {
                        name: subject.common_name,
                        uid: String::new(),
                        groups: subject.organizations,
                        extra: Default::default(),
                    }),
                };
            }
            Err(e) => refusals.push(format!("client CA: {e}")),
        }
    }
    if refusals.is_empty() {
        refusals.push("no client CA is configured".to_owned());
    }
    // Once per connection (and CA change): the client learns only "401".
    tracing::info!(reasons = %refusals.join("; "), "client certificate does not authenticate");
    Classification::default()
}

/// The user the front proxy names in `headers`, or `None` without a user header
/// (k8s.io/apiserver then tries the next authenticator).
pub fn front_proxy_user(rh: &RequestHeader, headers: &HeaderMap) -> Option<UserInfo> {
    let first = |names: &[String]| {
        names
            .iter()
            .find_map(|h| headers.get(h.as_str()).and_then(|v| v.to_str().ok()))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let name = first(&rh.username_headers)?;
    let groups = rh
        .group_headers
        .iter()
        .flat_map(|h| headers.get_all(h.as_str()).iter())
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    let mut extra = std::collections::BTreeMap::<String, Vec<String>>::new();
    for (header, value) in headers {
        let header = header.as_str();
        let Some(key) = rh.extra_headers_prefix.iter().find_map(|p| {
            let p = p.to_ascii_lowercase();
            header.strip_prefix(p.as_str()).map(str::to_owned)
        }) else {
            continue;
        };
        // Keys are percent-encoded by the proxy (k8s.io/apiserver unescapes them).
        let key = percent_decode(&key).to_ascii_lowercase();
        if let Ok(v) = value.to_str() {
            extra.entry(key).or_default().push(v.to_owned());
        }
    }
    Some(UserInfo {
        name,
        uid: first(&rh.uid_headers).unwrap_or_default(),
        groups,
        extra,
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn settings() -> RequestHeader {
        RequestHeader {
            username_headers: vec!["X-Remote-User".into()],
            uid_headers: vec!["X-Remote-Uid".into()],
            group_headers: vec!["X-Remote-Group".into()],
            extra_headers_prefix: vec!["X-Remote-Extra-".into()],
            ..RequestHeader::default()
        }
    }

    #[test]
    fn the_front_proxy_names_user_groups_and_extra() {
        let mut h = HeaderMap::new();
        assert!(front_proxy_user(&settings(), &h).is_none());
        h.insert("x-remote-user", HeaderValue::from_static("carol"));
        h.insert("x-remote-uid", HeaderValue::from_static("u-1"));
        h.append("x-remote-group", HeaderValue::from_static("a"));
        h.append("x-remote-group", HeaderValue::from_static("b"));
        h.append("x-remote-extra-scopes", HeaderValue::from_static("view"));
        h.append(
            "x-remote-extra-acme.com%2fproject",
            HeaderValue::from_static("p1"),
        );
        let user = front_proxy_user(&settings(), &h).expect("user");
        assert_eq!(user.name, "carol");
        assert_eq!(user.uid, "u-1");
        assert_eq!(user.groups, vec!["a", "b"]);
        assert_eq!(user.extra["scopes"], vec!["view"]);
        assert_eq!(user.extra["acme.com/project"], vec!["p1"]);
    }

    #[test]
    fn a_change_bumps_the_generation_only_when_something_changed() {
        let auth = CertAuth::default();
        auth.set_request_header(None);
        assert_eq!(auth.generation.load(Ordering::Acquire), 0);
        auth.set_request_header(Some(settings()));
        assert_eq!(auth.generation.load(Ordering::Acquire), 1);
        auth.set_request_header(Some(settings()));
        assert_eq!(auth.generation.load(Ordering::Acquire), 1);
        assert!(auth.request_header().is_some());
    }
}
