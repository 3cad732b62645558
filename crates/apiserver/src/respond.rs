//! Response helpers every handler uses: JSON bodies with a content type, the version
//! document, and reading a stored object as JSON (a corrupt one is a 500 that names no
//! internals).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};

/// A response with `body` and a content type.
pub fn json_response(
    status: StatusCode,
    content_type: &str,
    body: impl Into<axum::body::Body>,
) -> Response {
    let mut response = (status, body.into()).into_response();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// `200 OK` with `value` as `application/json`.
pub fn json_ok(value: &Value) -> Response {
    json_response(StatusCode::OK, "application/json", value.to_string())
}

/// The version kubectl sees on `/version`.
pub fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": format!("v1.33.0+clusterpedia-rs-{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}

/// A stored object parsed, for the representations that need its fields.
pub fn parse_stored(raw: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(raw).map_err(|e| {
        tracing::error!(error = %e, "a stored object is not valid JSON");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "Internal error occurred: stored object is not valid JSON",
        )
    })
}
