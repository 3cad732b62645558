//! Content negotiation: which representation a request's `Accept` header asks for, as
//! kube-apiserver understands it (`application/json;as=Table;v=v1;g=meta.k8s.io`, ...).

use axum::http::HeaderMap;
use axum::http::header::ACCEPT;

use crate::error::ApiError;

/// What the client wants back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// Plain JSON objects and lists.
    Json,
    /// `meta.k8s.io` Table (`v1` or `v1beta1`).
    Table { version: &'static str },
    /// `meta.k8s.io` PartialObjectMetadata(List).
    PartialMetadata { version: &'static str },
    /// Aggregated discovery, `apidiscovery.k8s.io` `v2` or `v2beta1`.
    AggregatedDiscovery { version: &'static str },
}

impl Representation {
    /// The `Content-Type` of a response in this representation.
    pub fn content_type(self, list: bool) -> String {
        match self {
            Representation::Json => "application/json".to_owned(),
            Representation::Table { version } => {
                format!("application/json;as=Table;v={version};g=meta.k8s.io")
            }
            Representation::PartialMetadata { version } => format!(
                "application/json;as={};v={version};g=meta.k8s.io",
                if list {
                    "PartialObjectMetadataList"
                } else {
                    "PartialObjectMetadata"
                }
            ),
            Representation::AggregatedDiscovery { version } => {
                format!(
                    "application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
                )
            }
        }
    }
}

fn version_of(v: &str, allowed: &[&'static str]) -> Option<&'static str> {
    allowed.iter().copied().find(|a| *a == v)
}

/// One entry of an Accept header, if we can produce it.
fn parse_entry(entry: &str) -> Option<Representation> {
    let mut parts = entry.split(';').map(str::trim);
    let media = parts.next()?.to_ascii_lowercase();
    if !matches!(media.as_str(), "application/json" | "*/*" | "application/*") {
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
        (Some("Table"), Some("meta.k8s.io")) => Some(Representation::Table {
            version: version_of(v?, &["v1", "v1beta1"])?,
        }),
        (Some("PartialObjectMetadata" | "PartialObjectMetadataList"), Some("meta.k8s.io")) => {
            Some(Representation::PartialMetadata {
                version: version_of(v?, &["v1", "v1beta1"])?,
            })
        }
        (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io")) => {
            Some(Representation::AggregatedDiscovery {
                version: version_of(v?, &["v2", "v2beta1"])?,
            })
        }
        _ => None,
    }
}

/// The first representation of the Accept header we can serve. No header means JSON; a
/// header with nothing we can serve is `406 Not Acceptable`.
pub fn negotiate(headers: &HeaderMap) -> Result<Representation, ApiError> {
    let Some(accept) = headers.get(ACCEPT) else {
        return Ok(Representation::Json);
    };
    let accept = accept
        .to_str()
        .map_err(|_| ApiError::not_acceptable("the Accept header is not valid text"))?;
    if accept.trim().is_empty() {
        return Ok(Representation::Json);
    }
    accept
        .split(',')
        .find_map(parse_entry)
        .ok_or_else(|| {
            ApiError::not_acceptable(format!(
                "only application/json (as JSON, Table or PartialObjectMetadata) is served, not {accept:?}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with(accept: &str) -> Result<Representation, ApiError> {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_str(accept).expect("header"));
        negotiate(&h)
    }

    #[test]
    fn kubectl_get_asks_for_a_table_first() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            with(kubectl).ok(),
            Some(Representation::Table { version: "v1" })
        );
    }

    #[test]
    fn discovery_and_metadata_forms() {
        assert_eq!(
            with("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json").ok(),
            Some(Representation::AggregatedDiscovery { version: "v2" })
        );
        assert_eq!(
            with("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList").ok(),
            Some(Representation::AggregatedDiscovery { version: "v2beta1" })
        );
        assert_eq!(
            with("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io").ok(),
            Some(Representation::PartialMetadata { version: "v1" })
        );
    }

    #[test]
    fn protobuf_falls_back_or_is_refused() {
        assert_eq!(
            with("application/vnd.kubernetes.protobuf, application/json").ok(),
            Some(Representation::Json)
        );
        let err = with("application/vnd.kubernetes.protobuf").expect_err("406");
        assert_eq!(err.code().as_u16(), 406);
        assert_eq!(with("*/*").ok(), Some(Representation::Json));
        assert_eq!(
            with("application/json;as=Table;v=v9;g=meta.k8s.io,application/json").ok(),
            Some(Representation::Json)
        );
    }
}
