//! `/openapi/v2` and `/openapi/v3`, minimal but valid: documents that describe no schema.
//!
//! kubectl needs them to exist: `apply` fails without `/openapi/v2` (1.27) and client-side
//! validation fails when neither can be downloaded (1.33). The v3 root lists every served
//! group version, as kube-apiserver's does: kubectl 1.27.1's `apply` looks its object's
//! group version up there (and, for a custom resource not listed, `api/v1`'s) and fails on
//! a group version that is missing; each group version's document has no paths, from which
//! kubectl concludes that the server has no server-side field validation. With empty documents kubectl
//! concludes that the server has no server-side field validation, validates against no
//! schema (every manifest passes) and computes strategic merge patches from its compiled-in
//! Go types — what it does against any server without OpenAPI. The v2 document is served
//! as protobuf (an empty `openapi_v2.Document` is zero bytes) or JSON, as asked.

use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde_json::json;

use super::respond;
use crate::error::StatusError;
use crate::registry::Registry;
use crate::store::to_bytes;

/// What kube-apiserver answers (Go cannot parse the `@v1.0` form clients send in Accept).
const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

pub(crate) fn serve(
    registry: &Registry,
    rest: &str,
    accept: &str,
) -> Result<Response, StatusError> {
    match rest {
        "v2" => {
            if accept.contains("protobuf") {
                Ok(respond(StatusCode::OK, V2_PROTOBUF, Bytes::new()))
            } else {
                let doc = json!({
                    "swagger": "2.0",
                    "info": {"title": "Kubernetes", "version": "v1.33.1"},
                    "paths": {},
                    "definitions": {},
                });
                Ok(respond(StatusCode::OK, "application/json", to_bytes(&doc)))
            }
        }
        "v3" => Ok(respond(
            StatusCode::OK,
            "application/json",
            to_bytes(&v3_root(registry)),
        )),
        _ => match rest.strip_prefix("v3/") {
            Some(path) if group_versions(registry).any(|gv| gv == path) => {
                let doc = json!({
                    "openapi": "3.0.0",
                    "info": {"title": "Kubernetes", "version": "v1.33.1"},
                    "paths": {},
                    "components": {"schemas": {}},
                });
                Ok(respond(StatusCode::OK, "application/json", to_bytes(&doc)))
            }
            _ => Err(StatusError::no_route()),
        },
    }
}

/// `api/v1` and `apis/<group>/<version>` for every served group version.
fn group_versions(registry: &Registry) -> impl Iterator<Item = String> {
    registry
        .groups()
        .into_iter()
        .flat_map(|(group, versions)| {
            versions.into_iter().map(move |v| {
                if group.is_empty() {
                    format!("api/{v}")
                } else {
                    format!("apis/{group}/{v}")
                }
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
}

/// The root: each group version's document by its server-relative URL. kube-apiserver adds
/// `?hash=` (clients cache by it); the documents here never change for a group version.
fn v3_root(registry: &Registry) -> serde_json::Value {
    let paths: serde_json::Map<String, serde_json::Value> = group_versions(registry)
        .map(|gv| {
            let url = format!("/openapi/v3/{gv}?hash=0");
            (gv, json!({"serverRelativeURL": url}))
        })
        .collect();
    json!({"paths": paths})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents() {
        let registry = Registry::builtin();
        assert!(
            serve(
                &registry,
                "v2",
                "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
            )
            .is_ok()
        );
        assert!(serve(&registry, "v3", "application/json").is_ok());
        let root = v3_root(&registry);
        assert_eq!(
            root["paths"]["api/v1"]["serverRelativeURL"],
            "/openapi/v3/api/v1?hash=0"
        );
        assert!(root["paths"]["apis/apps/v1"].is_object(), "{root}");
        assert!(serve(&registry, "v3/apis/apps/v1", "").is_ok());
        assert_eq!(
            serve(&registry, "v3/apis/nope.example/v1", "")
                .map(|_| ())
                .map_err(|e| e.code),
            Err(404)
        );
    }
}
