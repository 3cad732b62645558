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
mod reviews;
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

use crate::auth::{Authenticator, Peer, UserInfo};
use crate::error::{SimError, StatusError};
use crate::faults::FaultState;
use crate::rbac;
use crate::store::{Store, to_bytes};
use negotiate::{Representation, negotiate};
use paths::Route;
pub(crate) use reviews::issue_service_account_token;

/// What every request handler shares.
#[derive(Debug)]
pub(crate) struct App {
    pub store: Store,
    pub auth: Authenticator,
    /// Authorize every request with RBAC (`SimConfig::rbac`); otherwise every
    /// authenticated request is allowed.
    pub enforce_rbac: bool,
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

/// What kube's `RequestInfo` makes of a request, for the authorizer.
fn attributes(method: &Method, route: &Route, query: &query::Query, path: &str) -> rbac::Request {
    match route {
        Route::Resource(p) => {
            let watch =
                p.legacy_watch || (method == Method::GET && query.flag("watch").unwrap_or(false));
            // `/api/v1/namespaces/<name>` is in the namespace it names.
            let namespace = match (&p.namespace, p.resource.as_str(), &p.name) {
                (Some(ns), _, _) => ns.clone(),
                (None, "namespaces", Some(name)) => name.clone(),
                _ => String::new(),
            };
            let verb = verb(method, p.name.is_some(), watch);
            // A list or watch of one name (`fieldSelector=metadata.name=x`, as informers
            // of a single object do) is authorized as a request for that name.
            let selected = (p.name.is_none() && matches!(verb, "list" | "watch"))
                .then(|| query.get("fieldSelector"))
                .flatten()
                .and_then(|selector| {
                    selector.split(',').find_map(|term| {
                        let term = term.trim();
                        term.strip_prefix("metadata.name==")
                            .or_else(|| term.strip_prefix("metadata.name="))
                            .map(str::to_owned)
                    })
                })
                .filter(|n| !n.is_empty() && !n.contains('/') && n != "." && n != "..");
            rbac::Request::Resource(rbac::ResourceRequest {
                verb: verb.to_owned(),
                namespace,
                group: p.group.clone(),
                version: p.version.clone(),
                resource: p.resource.clone(),
                subresource: p.subresource.clone().unwrap_or_default(),
                name: p.name.clone().or(selected).unwrap_or_default(),
            })
        }
        _ => rbac::Request::non_resource(&method.as_str().to_ascii_lowercase(), path),
    }
}

/// Authenticates the request (`401` without a valid credential) and, with RBAC enforced,
/// authorizes it (`403` as kube words it).
fn admit(
    app: &App,
    parts: &axum::http::request::Parts,
    route: &Route,
    query: &query::Query,
) -> Result<UserInfo, StatusError> {
    let peer = parts.extensions.get::<Peer>().cloned().unwrap_or_default();
    let state = app.store.read();
    let user = app
        .auth
        .authenticate(&parts.headers, &peer, &state)
        .ok_or_else(StatusError::unauthorized)?;
    let allow = |user: &UserInfo, request: &rbac::Request| -> Result<(), StatusError> {
        if !app.enforce_rbac {
            return Ok(());
        }
        let decision = rbac::authorize(&state, user, request);
        if decision.allowed {
            Ok(())
        } else {
            Err(StatusError::forbidden(
                &user.username,
                request,
                &decision.reason,
            ))
        }
    };
    let user = match impersonation(&parts.headers)? {
        None => user,
        Some((impersonated, checks)) => {
            for check in &checks {
                allow(&user, check)?;
            }
            impersonated
        }
    };
    allow(
        &user,
        &attributes(&parts.method, route, query, parts.uri.path()),
    )?;
    Ok(user)
}

/// kube's impersonation headers (`Impersonate-User`, `-Group`, `-Uid`, `-Extra-<key>`):
/// the user to act as and the `impersonate` permissions the requester needs for it.
fn impersonation(
    headers: &axum::http::HeaderMap,
) -> Result<Option<(UserInfo, Vec<rbac::Request>)>, StatusError> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
    };
    let user = values("impersonate-user").into_iter().next();
    let groups = values("impersonate-group");
    let uid = values("impersonate-uid").into_iter().next();
    let extra: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| {
            let key = k.as_str().strip_prefix("impersonate-extra-")?;
            let key = form_urlencoded::parse(format!("k={key}").as_bytes())
                .next()
                .map(|(_, k)| k.into_owned())?;
            Some((key, v.to_str().ok()?.to_owned()))
        })
        .collect();
    let Some(name) = user else {
        if groups.is_empty() && uid.is_none() && extra.is_empty() {
            return Ok(None);
        }
        return Err(StatusError::internal(
            "requested impersonation of groups, uid or extra without impersonating a user",
        ));
    };
    let impersonate = |group: &str, resource: &str, name: &str| {
        rbac::Request::resource("impersonate", group, resource).named(name)
    };
    let mut checks = Vec::new();
    let mut info = UserInfo::new(name.clone());
    match name
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
    {
        Some((ns, sa)) => {
            checks.push(impersonate("", "serviceaccounts", sa).in_namespace(ns));
            if groups.is_empty() {
                info = UserInfo::service_account(ns, sa);
            }
        }
        None => checks.push(impersonate("", "users", &name)),
    }
    for g in &groups {
        checks.push(impersonate("", "groups", g));
    }
    info = info.with_groups(groups.iter().cloned());
    if let Some(uid) = uid {
        checks.push(impersonate("authentication.k8s.io", "uids", &uid));
        info = info.with_uid(uid);
    }
    for (key, value) in extra {
        checks.push(
            rbac::Request::resource("impersonate", "authentication.k8s.io", "userextras")
                .subresource(&key)
                .named(&value),
        );
        info = info.with_extra(key, [value]);
    }
    let fixed = |g: &String| {
        g == crate::auth::SYSTEM_AUTHENTICATED || g == crate::auth::SYSTEM_UNAUTHENTICATED
    };
    if !info.groups.iter().any(fixed) {
        let implied = if info.username == crate::auth::ANONYMOUS_USER {
            crate::auth::SYSTEM_UNAUTHENTICATED
        } else {
            crate::auth::SYSTEM_AUTHENTICATED
        };
        info.groups.push(implied.to_owned());
    }
    Ok(Some((info, checks)))
}

async fn dispatch(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let route = paths::route(parts.uri.path());
    let query = query::Query::parse(parts.uri.query());
    let user = if route == Route::Health {
        UserInfo::anonymous()
    } else {
        match admit(&app, &parts, &route, &query) {
            Ok(user) => user,
            Err(e) => return e.into_response(),
        }
    };
    let result = match route {
        Route::Health => Ok(respond(StatusCode::OK, "text/plain; charset=utf-8", "ok")),
        Route::Version => Ok(ok_json(&version_info())),
        Route::OpenApi(rest) => {
            let accept = parts
                .headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            openapi::serve(&app.store.read().registry, &rest, accept)
        }
        Route::Resource(path) => {
            handlers::resource(&app, &user, parts.method, path, query, parts.headers, body).await
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
                    let identify =
                        |certs: Option<&[CertificateDer<'static>]>| Peer::identify(certs);
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
