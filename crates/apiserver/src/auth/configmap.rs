//! The host cluster's `kube-system/extension-apiserver-authentication` ConfigMap, where
//! kube-apiserver publishes its client CA and the front proxy's request-header settings:
//! read at start-up and watched, so a rotated CA is used without a restart. Settings given
//! by flags win over the ConfigMap (k8s.io/apiserver's rule), so only the parts without a
//! flag are taken from it.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};

use super::certs::{CaBundleEq, CertAuth, RequestHeader};

pub const NAMESPACE: &str = "kube-system";
pub const NAME: &str = "extension-apiserver-authentication";

/// Which settings come from the ConfigMap (those no flag set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup {
    pub client_ca: bool,
    pub request_header: bool,
}

/// The ConfigMap could not be read at start-up.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot read configmap {NAMESPACE}/{NAME} from the host cluster: {0} (grant the apiserver \
     the role {NAMESPACE}/extension-apiserver-authentication-reader, or pass \
     --authentication-tolerate-lookup-failure / --authentication-skip-lookup)"
)]
pub struct LookupFailed(String);

/// The settings a ConfigMap's data holds.
#[derive(Debug, Default, PartialEq)]
pub struct Published {
    pub client_ca: Option<CaBundleEq>,
    pub request_header: Option<RequestHeader>,
}

/// A JSON list of strings (`["X-Remote-User"]`), as kube-apiserver writes them.
fn string_list(data: &BTreeMap<String, String>, key: &str) -> Result<Vec<String>, String> {
    match data.get(key).map(|v| v.trim()) {
        None | Some("") => Ok(Vec::new()),
        Some(text) => serde_json::from_str(text).map_err(|e| format!("{key}: {e}")),
    }
}

/// Parses the ConfigMap's data; a malformed value is an error naming the key.
pub fn parse(data: &BTreeMap<String, String>) -> Result<Published, String> {
    let client_ca = match data.get("client-ca-file").filter(|v| !v.trim().is_empty()) {
        Some(pem) => Some(CaBundleEq::from_pem(pem).map_err(|e| format!("client-ca-file: {e}"))?),
        None => None,
    };
    let request_header = match data
        .get("requestheader-client-ca-file")
        .filter(|v| !v.trim().is_empty())
    {
        Some(pem) => Some(RequestHeader {
            ca: CaBundleEq::from_pem(pem)
                .map_err(|e| format!("requestheader-client-ca-file: {e}"))?,
            allowed_names: string_list(data, "requestheader-allowed-names")?,
            username_headers: string_list(data, "requestheader-username-headers")?,
            uid_headers: string_list(data, "requestheader-uid-headers")?,
            group_headers: string_list(data, "requestheader-group-headers")?,
            extra_headers_prefix: string_list(data, "requestheader-extra-headers-prefix")?,
        }),
        None => None,
    };
    Ok(Published {
        client_ca,
        request_header,
    })
}

fn apply(config_map: &ConfigMap, lookup: Lookup, certs: &CertAuth) {
    let data = config_map.data.clone().unwrap_or_default();
    match parse(&data) {
        Ok(published) => {
            if lookup.client_ca {
                certs.set_client_ca(published.client_ca);
            }
            if lookup.request_header {
                certs.set_request_header(published.request_header);
            }
            tracing::debug!("applied configmap {NAMESPACE}/{NAME}");
        }
        // A broken edit keeps the last good settings rather than locking everyone out.
        Err(e) => tracing::warn!(error = %e, "ignoring an invalid configmap {NAMESPACE}/{NAME}"),
    }
}

/// Reads the ConfigMap once (an error unless `tolerate_failure`), then keeps `certs`
/// up to date from a watch until the returned task is aborted.
pub async fn start(
    client: kube::Client,
    lookup: Lookup,
    certs: Arc<CertAuth>,
    tolerate_failure: bool,
) -> Result<tokio::task::JoinHandle<()>, LookupFailed> {
    let api: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
    match api.get_opt(NAME).await {
        Ok(Some(cm)) => apply(&cm, lookup, &certs),
        Ok(None) if tolerate_failure => {
            tracing::warn!("configmap {NAMESPACE}/{NAME} does not exist; waiting for it");
        }
        Ok(None) => return Err(LookupFailed("it does not exist".to_owned())),
        Err(e) if tolerate_failure => {
            tracing::warn!(error = %e, "cannot read configmap {NAMESPACE}/{NAME}; continuing without it");
        }
        Err(e) => return Err(LookupFailed(e.to_string())),
    }
    let config = watcher::Config::default().fields(&format!("metadata.name={NAME}"));
    Ok(tokio::spawn(async move {
        let mut events = watcher(api, config).default_backoff().boxed();
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)) => {
                    apply(&cm, lookup, &certs);
                }
                // A deleted ConfigMap keeps the last settings: kube-apiserver re-creates it.
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "watching configmap {NAMESPACE}/{NAME}"),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).expect("cert").pem()
    }

    #[test]
    fn kube_apiserver_s_keys_are_understood() {
        let pem = ca_pem();
        let data: BTreeMap<String, String> = [
            ("client-ca-file", pem.as_str()),
            ("requestheader-client-ca-file", pem.as_str()),
            ("requestheader-allowed-names", r#"["front-proxy-client"]"#),
            ("requestheader-username-headers", r#"["X-Remote-User"]"#),
            ("requestheader-group-headers", r#"["X-Remote-Group"]"#),
            (
                "requestheader-extra-headers-prefix",
                r#"["X-Remote-Extra-"]"#,
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let published = parse(&data).expect("parses");
        assert!(published.client_ca.is_some());
        let rh = published.request_header.expect("request header");
        assert_eq!(rh.allowed_names, vec!["front-proxy-client"]);
        assert_eq!(rh.username_headers, vec!["X-Remote-User"]);
        assert!(rh.uid_headers.is_empty());

        assert_eq!(
            parse(&BTreeMap::new()).expect("empty"),
            Published::default()
        );
        let mut bad = data.clone();
        bad.insert(
            "requestheader-allowed-names".into(),
            "front-proxy-client".into(),
        );
        let err = parse(&bad).expect_err("not JSON");
        assert!(err.contains("requestheader-allowed-names"), "{err}");
        bad = data.clone();
        bad.insert("client-ca-file".into(), "garbage".into());
        assert!(parse(&bad).expect_err("bad CA").contains("client-ca-file"));

        // A broken edit keeps the last good settings; only looked-up parts are taken.
        let certs = CertAuth::default();
        let cm = |data: BTreeMap<String, String>| ConfigMap {
            data: Some(data),
            ..ConfigMap::default()
        };
        let both = Lookup {
            client_ca: true,
            request_header: true,
        };
        apply(&cm(data.clone()), both, &certs);
        let before = certs.request_header().expect("applied");
        apply(&cm(bad), both, &certs);
        assert_eq!(certs.request_header().as_deref(), Some(&*before));
        let flags_win = CertAuth::default();
        apply(
            &cm(data),
            Lookup {
                client_ca: true,
                request_header: false,
            },
            &flags_win,
        );
        assert!(flags_win.request_header().is_none());
    }
}
