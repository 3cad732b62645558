//! The HTTPS front of the simulator: routing of every path kube-apiserver serves that the
//! simulator implements (health, `/version`, discovery, OpenAPI, resources), the
//! authentication and fault-injection layer in front of it, and the server's lifecycle —
//! it runs on its own thread and tokio runtime so that stopping it really closes the
//! listener and every open connection, and it can start again on the same port.

mod discovery;
mod handlers;
mod negotiate;
mod openapi;
mod paths;
mod protobuf;
mod query;
mod table;
mod watch;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use rustls::pki_types::CertificateDer;
use serde_json::json;

use crate::auth::{Authenticator, Peer};
use crate::error::{SimError, StatusError};
use crate::faults::FaultState;
use crate::store::{Store, to_bytes};
use negotiate::{Representation, negotiate};
use paths::Route;

/// What every request handler shares.
#[derive(Debug)]
pub(crate) struct App {
    pub store: Store,
    pub auth: Authenticator,
    pub faults: Arc<FaultState>,
    pub bookmark_interval: Duration,
    pub addr: SocketAddr,
}

/// A response with a body and a content type.
pub(crate) fn respond(code: StatusCode, content_type: &str, body: impl Into<Body>) -> Response {
    let mut response = (code, body.into()).into_response();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

impl IntoResponse for StatusError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        respond(code, "application/json", to_bytes(&self.to_json()))
    }
}

/// `/version`: a 1.33 server.
fn version_info() -> serde_json::Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": "v1.33.1",
        "gitCommit": "8adc0f041b8e7ad1d30e29cc59c6ae7a15e19828",
        "gitTreeState": "clean",
        "buildDate": "2025-05-15T08:19:08Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": format!("linux/{}", if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" }),
    })
}

fn ok_json(value: &serde_json::Value) -> Response {
    respond(StatusCode::OK, "application/json", to_bytes(value))
}

/// The kube verb of a request on a resource path.
fn verb(method: &Method, named: bool, watch: bool) -> &'static str {
    match (method.as_str(), named, watch) {
        ("GET", _, true) => "watch",
        ("GET", true, false) => "get",
        ("GET", false, false) => "list",
        ("POST", _, _) => "create",
        ("PUT", _, _) => "update",
        ("PATCH", _, _) => "patch",
        ("DELETE", true, _) => "delete",
        ("DELETE", false, _) => "deletecollection",
        _ => "unknown",
    }
}

/// What a request is counted as: kube verb and resource (`list`, `deployments.apps`;
/// subresources as `pods/status`), or method and path for everything else.
fn classify(method: &Method, uri: &axum::http::Uri) -> (String, String) {
    match paths::route(uri.path()) {
        Route::Resource(p) => {
            let watch = p.legacy_watch
                || (method == Method::GET
                    && query::Query::parse(uri.query())
                        .flag("watch")
                        .unwrap_or(false));
            let mut target = if p.group.is_empty() {
                p.resource.clone()
            } else {
                format!("{}.{}", p.resource, p.group)
            };
            if let Some(sub) = &p.subresource {
                target = format!("{target}/{sub}");
            }
            (verb(method, p.name.is_some(), watch).to_owned(), target)
        }
        Route::OpenApi(_) => ("get".to_owned(), "/openapi".to_owned()),
        _ => (method.as_str().to_ascii_lowercase(), uri.path().to_owned()),
    }
}

/// Counts requests and applies the injected delays and garbage before anything else.
async fn front(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    app.faults.count();
    let (verb, target) = classify(req.method(), req.uri());
    app.faults.record(&verb, &target);
    if let Some(delay) = app.faults.delay() {
        tokio::time::sleep(delay).await;
    }
    if app.faults.garbage() {
        // Valid HTTP, invalid JSON: a truncated object.
        return respond(
            StatusCode::OK,
            "application/json",
            Bytes::from_static(b"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{\"garb"),
        );
    }
    next.run(req).await
}

async fn dispatch(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let route = paths::route(parts.uri.path());
    if route != Route::Health {
        let peer = parts.extensions.get::<Peer>().copied().unwrap_or_default();
        if !app.auth.allows(&parts.headers, peer) {
            return StatusError::unauthorized().into_response();
        }
    }
    let query = query::Query::parse(parts.uri.query());
    let result = match route {
        Route::Health => Ok(respond(StatusCode::OK, "text/plain; charset=utf-8", "ok")),
        Route::Version => Ok(ok_json(&version_info())),
        Route::OpenApi(rest) => {
            let accept = parts
                .headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            openapi::serve(&rest, accept)
        }
        Route::Resource(path) => {
            handlers::resource(&app, parts.method, path, query, parts.headers, body).await
        }
        Route::Unknown => Err(StatusError::no_route()),
        discovery_route => {
            if parts.method != Method::GET {
                Err(StatusError::method_not_allowed(
                    "discovery documents are read-only",
                ))
            } else {
                discovery(&app, &discovery_route, &parts.headers)
            }
        }
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

fn discovery(
    app: &App,
    route: &Route,
    headers: &axum::http::HeaderMap,
) -> Result<Response, StatusError> {
    let repr = negotiate(headers)?;
    let state = app.store.read();
    let registry = &state.registry;
    let aggregated = |core: bool| match repr {
        Representation::Discovery(v) => Some(respond(
            StatusCode::OK,
            &repr.content_type(false),
            to_bytes(&discovery::aggregated(registry, core, v)),
        )),
        _ => None,
    };
    match route {
        Route::CoreGroups => {
            Ok(aggregated(true).unwrap_or_else(|| ok_json(&discovery::api_versions(app.addr))))
        }
        Route::Groups => {
            Ok(aggregated(false).unwrap_or_else(|| ok_json(&discovery::api_group_list(registry))))
        }
        Route::Group(g) => discovery::api_group(registry, g)
            .map(|d| ok_json(&d))
            .ok_or_else(StatusError::no_route),
        Route::GroupVersion { group, version } => {
            discovery::api_resource_list(registry, group, version)
                .map(|d| ok_json(&d))
                .ok_or_else(StatusError::no_route)
        }
        _ => Err(StatusError::no_route()),
    }
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .fallback(dispatch)
        .layer(middleware::from_fn_with_state(Arc::clone(&app), front))
        .with_state(app)
}

/// A running server: its thread, and how to stop it.
#[derive(Debug)]
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

/// Starts, stops and restarts the HTTPS server on one address.
#[derive(Debug)]
pub(crate) struct ServerControl {
    name: String,
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    app: Arc<App>,
    running: Mutex<Option<Running>>,
}

impl ServerControl {
    /// Binds `bind` (port 0: an ephemeral port) and starts serving.
    pub(crate) fn start(
        name: &str,
        bind: SocketAddr,
        tls: Arc<rustls::ServerConfig>,
        make_app: impl FnOnce(SocketAddr) -> App,
    ) -> Result<Self, SimError> {
        let listener = std::net::TcpListener::bind(bind)
            .map_err(|source| SimError::Bind { addr: bind, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SimError::Bind { addr: bind, source })?;
        let control = Self {
            name: name.to_owned(),
            addr,
            tls,
            app: Arc::new(make_app(addr)),
            running: Mutex::new(None),
        };
        control.serve(listener)?;
        Ok(control)
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn serve(&self, listener: std::net::TcpListener) -> Result<(), SimError> {
        let mut running = self.lock();
        if running.is_some() {
            return Err(SimError::AlreadyServing);
        }
        listener
            .set_nonblocking(true)
            .map_err(|source| SimError::Bind {
                addr: self.addr,
                source,
            })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("{}-worker", self.name))
            .enable_all()
            .build()
            .map_err(SimError::Thread)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let tls = Arc::clone(&self.tls);
        let app = router(Arc::clone(&self.app));
        let addr = self.addr;
        let thread = std::thread::Builder::new()
            .name(self.name.clone())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(err) => {
                            tracing::error!(%addr, error = %err, "cannot serve");
                            return;
                        }
                    };
                    let identify = |certs: Option<&[CertificateDer<'static>]>| Peer {
                        client_cert: certs.is_some_and(|c| !c.is_empty()),
                    };
                    https_serve::serve_tls(listener, tls, identify, app, async {
                        let _ = stopped.await;
                    })
                    .await;
                });
                // Dropping the runtime drops every connection task: their sockets close.
                runtime.shutdown_timeout(Duration::from_secs(2));
            })
            .map_err(SimError::Thread)?;
        *running = Some(Running { stop, thread });
        Ok(())
    }

    /// Stops serving: the listener and all connections close. Blocks until they have.
    pub(crate) fn stop(&self) {
        let running = self.lock().take();
        if let Some(r) = running {
            let _ = r.stop.send(());
            if r.thread.join().is_err() {
                tracing::warn!(name = %self.name, "the server thread panicked");
            }
        }
    }

    /// Serves again on the same address, with the same state.
    pub(crate) fn resume(&self) -> Result<(), SimError> {
        if self.is_serving() {
            return Ok(());
        }
        let listener = std::net::TcpListener::bind(self.addr).map_err(|source| SimError::Bind {
            addr: self.addr,
            source,
        })?;
        self.serve(listener)
    }

    pub(crate) fn is_serving(&self) -> bool {
        self.lock().is_some()
    }
}

impl Drop for ServerControl {
    fn drop(&mut self) {
        self.stop();
    }
}
