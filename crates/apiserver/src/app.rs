//! The router: which paths exist, authentication and metrics around every request, the
//! health probes and the static documents. Handlers live in their own modules.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Extension, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::auth::{PeerCertificates, UserInfo};
use crate::authz::forbidden;
use crate::error::{ApiError, ApiResult};
use crate::paths::{COLLECTION_ROUTE, GROUP_PREFIX, RESOURCES_ROUTE};
use crate::request_attributes::RequestAttributes;
use crate::respond::{json_ok, json_response, version_info};
use crate::sar::Verdict;
use crate::state::SharedState;
use crate::{collections, read};

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

/// The server's traffic as a whole: only for users who may read everything.
async fn metrics(
    State(state): State<SharedState>,
    Extension(user): Extension<UserInfo>,
) -> ApiResult<Response> {
    if !state.authz.allows_everything(&user) {
        return Err(forbidden(&user, "/metrics"));
    }
    Ok(json_response(
        StatusCode::OK,
        "text/plain; version=0.0.4",
        state.metrics.render(),
    ))
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
        .route(RESOURCES_ROUTE, get(read::handle))
        .route(
            &format!("{GROUP_PREFIX}/collectionresources"),
            get(collections::list_definitions),
        )
        .route(COLLECTION_ROUTE, get(read::handle))
        .fallback(fallback)
        // Limits run after authentication and authorization (as in kube-apiserver: 401 and 403
        // come first for anonymous or unauthorized floods).
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state.limiter),
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
