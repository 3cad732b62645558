//! The router and its shared state: which paths exist, authentication and metrics around
//! every request, and the health endpoints.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pedia_storage::StorageFactory;
use serde_json::json;

use crate::auth::{Authenticator, PeerCertificates, UserInfo};
use crate::authz::Authorizer;
use crate::error::ApiError;
use crate::limits::{Limits, Usage};
use crate::metrics::Metrics;
use crate::request_attributes::RequestAttributes;
use crate::sar::{DelegatedAuthorizer, Verdict};
use crate::{collections, resources};

/// The prefix of Clusterpedia's API group.
pub const GROUP_PREFIX: &str = "/apis/clusterpedia.io/v1beta1";

/// Everything handlers share.
#[derive(Debug)]
pub struct AppState {
    pub storage: Arc<dyn StorageFactory>,
    pub auth: Arc<Authenticator>,
    /// SubjectAccessReviews against the host cluster, when one is configured.
    pub delegated: Option<Arc<DelegatedAuthorizer>>,
    pub authz: Arc<Authorizer>,
    pub limits: Limits,
    pub usage: Usage,
    pub redact_secrets: bool,
    pub metrics: Metrics,
}

pub type SharedState = Arc<AppState>;

/// A JSON response with a content type.
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

pub fn json_ok(value: &serde_json::Value) -> Response {
    json_response(StatusCode::OK, "application/json", value.to_string())
}

/// The version kubectl sees on `/version`.
pub fn version_info() -> serde_json::Value {
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

fn verb_of(req: &Request) -> &'static str {
    let query = req.uri().query().unwrap_or("");
    if query
        .split('&')
        .any(|p| p == "watch=true" || p == "watch=1")
    {
        "watch"
    } else {
        "get"
    }
}

/// Authenticates every request except the health probes, and counts it.
async fn authenticate(State(state): State<SharedState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let verb = verb_of(&req);
    let peer = req
        .extensions()
        .get::<PeerCertificates>()
        .cloned()
        .unwrap_or_default();
    let response = match state.auth.authenticate(req.headers(), &peer).await {
        Ok(user) => {
            req.extensions_mut().insert(user);
            next.run(req).await
        }
        Err(err) => {
            // A client problem, not a server error: not logged above debug.
            tracing::debug!(path = %req.uri().path(), "unauthenticated request");
            err.into_response()
        }
    };
    state.metrics.record(
        verb,
        response.status().as_u16(),
        u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    );
    response
}

/// Asks the host cluster whether the authenticated user may make this request (a
/// SubjectAccessReview with Clusterpedia's request attributes); without a host cluster
/// every authenticated request passes to the policy file.
async fn authorize(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let Some(delegated) = &state.delegated else {
        return next.run(req).await;
    };
    let Some(user) = req.extensions().get::<UserInfo>() else {
        return ApiError::unauthorized().into_response();
    };
    let attributes = RequestAttributes::of(
        req.method(),
        req.uri().path(),
        req.uri().query().unwrap_or(""),
    );
    match delegated.authorize(user, &attributes).await {
        Ok(Verdict::Allowed) => next.run(req).await,
        Ok(Verdict::Denied { reason }) => {
            tracing::debug!(user = %user.name, ?attributes, "denied by the host cluster");
            ApiError::new(
                StatusCode::FORBIDDEN,
                "Forbidden",
                attributes.forbidden_message(&user.name, &reason),
            )
            .into_response()
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot authorize a request");
            ApiError::service_unavailable(
                "the request could not be authorized: the host cluster's SubjectAccessReview API did not answer",
            )
            .into_response()
        }
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<SharedState>) -> Response {
    match state.storage.current_revision().await {
        Ok(_) => "ok".into_response(),
        Err(err) => {
            tracing::warn!(error = %err.detail(), "readiness: storage unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable").into_response()
        }
    }
}

async fn metrics(State(state): State<SharedState>) -> Response {
    json_response(
        StatusCode::OK,
        "text/plain; version=0.0.4",
        state.metrics.render(),
    )
}

async fn version() -> Response {
    json_ok(&version_info())
}

async fn api_groups() -> Response {
    json_ok(&json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [clusterpedia_group()],
    }))
}

fn clusterpedia_group() -> serde_json::Value {
    let v = json!({"groupVersion": "clusterpedia.io/v1beta1", "version": "v1beta1"});
    json!({"name": "clusterpedia.io", "versions": [v.clone()], "preferredVersion": v})
}

async fn api_group() -> Response {
    let mut g = clusterpedia_group();
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    json_ok(&g)
}

async fn api_group_version() -> Response {
    json_ok(&json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "clusterpedia.io/v1beta1",
        "resources": [
            {"name": "resources", "singularName": "", "namespaced": false, "kind": "Resources", "verbs": ["get"]},
            {"name": "collectionresources", "singularName": "collectionresource", "namespaced": false,
             "kind": "CollectionResource", "verbs": ["get", "list"]},
        ],
    }))
}

async fn fallback(req: Request) -> ApiError {
    ApiError::not_found(format!(
        "the server could not find the requested resource ({})",
        req.uri().path()
    ))
}

/// The full router over `state`.
pub fn router(state: SharedState) -> Router {
    let authenticated = Router::new()
        .route("/version", get(version))
        .route("/metrics", get(metrics))
        .route("/apis", get(api_groups))
        .route("/apis/clusterpedia.io", get(api_group))
        .route(GROUP_PREFIX, get(api_group_version))
        .route(
            &format!("{GROUP_PREFIX}/resources/{{*rest}}"),
            get(resources::handle),
        )
        .route(
            &format!("{GROUP_PREFIX}/collectionresources"),
            get(collections::list_definitions),
        )
        .route(
            &format!("{GROUP_PREFIX}/collectionresources/{{name}}"),
            get(collections::get),
        )
        .fallback(fallback)
        // Limits run after authentication and authorization (as in kube-apiserver: 401 and 403
        // come first for anonymous or unauthorized floods).
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            crate::limits::enforce,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            authorize,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            authenticate,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(healthz))
        .route("/readyz", get(readyz))
        .merge(authenticated)
        .with_state(state)
}
