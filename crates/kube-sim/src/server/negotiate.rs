//! Content negotiation as kube-apiserver does it: the first entry of `Accept` the server
//! can produce wins — plain JSON, a `meta.k8s.io` Table (what `kubectl get` asks for),
//! `PartialObjectMetadata` (metadata-only clients), or aggregated discovery.

use axum::http::HeaderMap;
use axum::http::header::ACCEPT;

use crate::error::StatusError;

/// What a response is rendered as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Representation {
    Json,
    /// `meta.k8s.io` Table, `v1` or `v1beta1`.
    Table(&'static str),
    /// `meta.k8s.io` PartialObjectMetadata(List), `v1` or `v1beta1`.
    Metadata(&'static str),
    /// `apidiscovery.k8s.io` APIGroupDiscoveryList, `v2` or `v2beta1`.
    Discovery(&'static str),
}

impl Representation {
    /// The response `Content-Type`.
    pub(crate) fn content_type(self, list: bool) -> String {
        match self {
            Self::Json => "application/json".to_owned(),
            Self::Table(v) => format!("application/json;as=Table;v={v};g=meta.k8s.io"),
            Self::Metadata(v) => {
                let kind = if list {
                    "PartialObjectMetadataList"
                } else {
                    "PartialObjectMetadata"
                };
                format!("application/json;as={kind};v={v};g=meta.k8s.io")
            }
            Self::Discovery(v) => {
                format!("application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList")
            }
        }
    }
}

fn known(v: &str, allowed: &[&'static str]) -> Option<&'static str> {
    allowed.iter().copied().find(|a| *a == v)
}

fn entry(text: &str) -> Option<Representation> {
    let mut parts = text.split(';').map(str::trim);
    let media = parts.next()?.to_ascii_lowercase();
    if !matches!(media.as_str(), "application/json" | "application/*" | "*/*") {
        return None;
    }
    let (mut r#as, mut g, mut v) = (None, None, None);
    for p in parts {
        match p.split_once('=') {
            Some(("as", x)) => r#as = Some(x),
            Some(("g", x)) => g = Some(x),
            Some(("v", x)) => v = Some(x),
            _ => {}
        }
    }
    match (r#as, g) {
        (None, _) => Some(Representation::Json),
        (Some("Table"), Some("meta.k8s.io")) => {
            Some(Representation::Table(known(v?, &["v1", "v1beta1"])?))
        }
        (Some("PartialObjectMetadata" | "PartialObjectMetadataList"), Some("meta.k8s.io")) => {
            Some(Representation::Metadata(known(v?, &["v1", "v1beta1"])?))
        }
        (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io")) => {
            Some(Representation::Discovery(known(v?, &["v2", "v2beta1"])?))
        }
        _ => None,
    }
}

/// The representation the `Accept` header asks for; no header means JSON; nothing
/// producible (only protobuf, say) is `406`.
pub(crate) fn negotiate(headers: &HeaderMap) -> Result<Representation, StatusError> {
    let accept = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    if accept.trim().is_empty() {
        return Ok(Representation::Json);
    }
    accept.split(',').find_map(entry).ok_or_else(|| {
        StatusError::not_acceptable(format!(
            "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {accept:?}; kube-sim serves JSON only)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with(accept: &str) -> Result<Representation, StatusError> {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_str(accept).expect("header"));
        negotiate(&h)
    }

    #[test]
    fn kubectl_and_client_go_headers() {
        assert_eq!(
            with("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json").ok(),
            Some(Representation::Table("v1"))
        );
        assert_eq!(
            with("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json").ok(),
            Some(Representation::Discovery("v2"))
        );
        assert_eq!(
            with("application/vnd.kubernetes.protobuf, */*").ok(),
            Some(Representation::Json)
        );
        assert_eq!(
            with("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1").ok(),
            Some(Representation::Metadata("v1"))
        );
        assert_eq!(
            with("application/vnd.kubernetes.protobuf").map_err(|e| e.code),
            Err(406)
        );
    }
}
