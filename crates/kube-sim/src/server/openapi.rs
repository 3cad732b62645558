//! `/openapi/v2` and `/openapi/v3`, minimal but valid: documents that describe no schema.
//!
//! kubectl needs them to exist: `apply` fails without `/openapi/v2` (1.27) and client-side
//! validation fails when neither can be downloaded (1.33). With empty documents kubectl
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
use crate::store::to_bytes;

/// What kube-apiserver answers (Go cannot parse the `@v1.0` form clients send in Accept).
const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

pub(crate) fn serve(rest: &str, accept: &str) -> Result<Response, StatusError> {
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
            to_bytes(&json!({"paths": {}})),
        )),
        _ => Err(StatusError::no_route()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents() {
        assert!(
            serve(
                "v2",
                "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
            )
            .is_ok()
        );
        assert!(serve("v3", "application/json").is_ok());
        assert_eq!(
            serve("v3/apis/apps/v1", "").map(|_| ()).map_err(|e| e.code),
            Err(404)
        );
    }
}
