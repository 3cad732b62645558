//! Request limits, so one client cannot starve the others: read-only methods, a maximum
//! request body, a maximum `limit`, a request timeout, a cap on requests in flight (429
//! beyond it) and on open watches per user (429 beyond it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The limits in force (from the serving flags).
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest `limit` served; larger ones are lowered to it (the page then carries a
    /// continue token, as a server is allowed to return fewer items than asked).
    pub max_list_limit: u64,
    pub request_timeout: Duration,
    pub max_requests_inflight: usize,
    pub max_request_body_bytes: u64,
    pub max_watches_per_user: usize,
}

/// The limits in force and their use: requests being served and watches open per user.
#[derive(Debug)]
pub struct Limiter {
    limits: Limits,
    inflight: Arc<tokio::sync::Semaphore>,
    watches: Arc<Mutex<HashMap<String, usize>>>,
}

impl Limiter {
    pub fn new(limits: Limits) -> Self {
        Self {
            inflight: Arc::new(tokio::sync::Semaphore::new(
                limits.max_requests_inflight.max(1),
            )),
            watches: Arc::new(Mutex::new(HashMap::new())),
            limits,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// `limit` lowered to `--max-list-limit`.
    pub fn clamp_limit(&self, limit: Option<u64>) -> Option<u64> {
        limit.map(|l| l.min(self.limits.max_list_limit))
    }

    /// Counts a new watch of `user`, or refuses it when the user has
    /// `--max-watches-per-user` open.
    pub fn start_watch(&self, user: &str) -> Result<WatchSlot, ApiError> {
        let max = self.limits.max_watches_per_user;
        let mut map = self.watches.lock().unwrap_or_else(|e| e.into_inner());
        let open = map.entry(user.to_owned()).or_default();
        if *open >= max {
            return Err(too_many(format!(
                "too many open watches for user {user:?} (at most {max}); close some and retry"
            )));
        }
        *open += 1;
        Ok(WatchSlot {
            user: user.to_owned(),
            watches: Arc::clone(&self.watches),
        })
    }
}

/// One open watch; dropping it frees the slot.
#[derive(Debug)]
pub struct WatchSlot {
    user: String,
    watches: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        let mut map = self.watches.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.user);
            }
        }
    }
}

fn too_many(message: String) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", message)
}

/// Applies the method, body, in-flight and timeout limits to every request.
pub async fn enforce(State(limiter): State<Arc<Limiter>>, req: Request, next: Next) -> Response {
    let limits = &limiter.limits;
    // Bodies are read (up to the limit) before answering, so HTTP/2 clients get the answer
    // instead of a reset stream.
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(
        body,
        usize::try_from(limits.max_request_body_bytes).unwrap_or(usize::MAX),
    )
    .await
    {
        Ok(bytes) => bytes,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                format!(
                    "request body larger than {} bytes",
                    limits.max_request_body_bytes
                ),
            )
            .into_response();
        }
    };
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return ApiError::method_not_allowed(format!(
            "{} is not allowed: the search API is read-only",
            parts.method
        ))
        .into_response();
    }
    let req = Request::from_parts(parts, axum::body::Body::from(body));
    // Watches hold their permit only until the streaming response starts.
    let Ok(_permit) = Arc::clone(&limiter.inflight).try_acquire_owned() else {
        let mut response = too_many(format!(
            "too many requests in flight (at most {}); retry shortly",
            limits.max_requests_inflight
        ))
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    match tokio::time::timeout(limits.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "Timeout",
            format!(
                "the request did not complete within {:?}",
                limits.request_timeout
            ),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    fn state(limits: Limits) -> Arc<Limiter> {
        Arc::new(Limiter::new(limits))
    }

    fn limits(inflight: usize, timeout: Duration) -> Limits {
        Limits {
            max_list_limit: 10,
            request_timeout: timeout,
            max_requests_inflight: inflight,
            max_request_body_bytes: 1024,
            max_watches_per_user: 1,
        }
    }

    /// A route that reports when it is entered and waits to be released.
    fn app(
        state: Arc<Limiter>,
        entered: Arc<tokio::sync::Notify>,
        release: Arc<tokio::sync::Notify>,
    ) -> Router {
        Router::new()
            .route(
                "/slow",
                get(move || {
                    let (entered, release) = (Arc::clone(&entered), Arc::clone(&release));
                    async move {
                        entered.notify_one();
                        release.notified().await;
                        "done"
                    }
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&state),
                enforce,
            ))
            .with_state(state)
    }

    fn get_slow() -> Request {
        Request::builder()
            .uri("/slow")
            .body(Body::empty())
            .expect("request")
    }

    #[tokio::test]
    async fn requests_beyond_the_inflight_limit_get_429() {
        let (entered, release) = (
            Arc::new(tokio::sync::Notify::new()),
            Arc::new(tokio::sync::Notify::new()),
        );
        let app = app(
            state(limits(1, Duration::from_secs(30))),
            Arc::clone(&entered),
            Arc::clone(&release),
        );
        let first = tokio::spawn(app.clone().oneshot(get_slow()));
        entered.notified().await;
        let second = app.clone().oneshot(get_slow()).await.expect("response");
        assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            second
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        release.notify_one();
        let first = first.await.expect("join").expect("response");
        assert_eq!(first.status(), StatusCode::OK);
        // The permit is back.
        let third = tokio::spawn(app.oneshot(get_slow()));
        entered.notified().await;
        release.notify_one();
        assert_eq!(
            third.await.expect("join").expect("response").status(),
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn slow_requests_time_out_with_504() {
        // Never released: the handler would wait forever.
        let app = app(
            state(limits(10, Duration::from_millis(50))),
            Arc::new(tokio::sync::Notify::new()),
            Arc::new(tokio::sync::Notify::new()),
        );
        let response = app.oneshot(get_slow()).await.expect("response");
        assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    }

    #[test]
    fn watch_slots_are_per_user_and_freed_on_drop() {
        let limiter = Limiter::new(limits(1, Duration::from_secs(1)));
        let a = limiter.start_watch("alice").expect("first");
        assert_eq!(
            limiter.start_watch("alice").expect_err("second").code(),
            StatusCode::TOO_MANY_REQUESTS
        );
        let _b = limiter.start_watch("bob").expect("another user");
        drop(a);
        assert!(
            limiter.start_watch("alice").is_ok(),
            "freed when the watch ends"
        );
    }
}
