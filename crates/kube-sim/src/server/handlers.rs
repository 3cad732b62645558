//! The verbs on resource paths: get, list and watch (GET), create (POST), update (PUT),
//! patch (PATCH), delete and deletecollection (DELETE), on the main resource and the
//! `/status` subresource, with kube's request options (`dryRun`, `fieldManager`,
//! `DeleteOptions.preconditions`, list options) and response codes (201 on create, 202
//! when a deletion waits for finalizers).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode, header};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::negotiate::{Representation, negotiate};
use super::paths::ResourcePath;
use super::query::Query;
use super::table::{self, IncludeObject};
use super::{App, respond, reviews, watch};
use crate::auth::UserInfo;
use crate::error::{FieldError, StatusError};
use crate::patch::PatchType;
use crate::registry::ResourceDef;
use crate::store::read::{ListRequest, ReadAt};
use crate::store::write::Preconditions;
use crate::store::{GroupResource, ObjKey, Selector, WriteOptions, parse, present, to_bytes};

/// kube-apiserver's request body limit.
const MAX_BODY: usize = 3 * 1024 * 1024;

/// One request on a resource path, resolved.
struct Call<'a> {
    app: &'a App,
    def: Arc<ResourceDef>,
    path: ResourcePath,
    query: Query,
    headers: HeaderMap,
    repr: Representation,
    status: bool,
}

/// Serves a request on a resource path, for `user`.
pub(crate) async fn resource(
    app: &App,
    user: &UserInfo,
    method: Method,
    path: ResourcePath,
    query: Query,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::response::Response, StatusError> {
    let def = app
        .store
        .read()
        .registry
        .resolve(&path.group, &path.version, &path.resource)
        .ok_or_else(StatusError::no_route)?;
    if !def.namespaced && path.namespace.is_some() {
        return Err(StatusError::no_route());
    }
    if def.namespaced && path.namespace.is_none() && path.name.is_some() {
        return Err(StatusError::no_route());
    }
    let (status, scale, token) = match path.subresource.as_deref() {
        None => (false, false, false),
        Some("status") if def.status_subresource => (true, false, false),
        Some("scale") if def.scale_subresource => (false, true, false),
        Some("token") if def.token_subresource => (false, false, true),
        Some(_) => return Err(StatusError::no_route()),
    };
    let watch = path.legacy_watch || (method == Method::GET && query.flag("watch")?);
    let repr = match negotiate(&headers)? {
        Representation::Discovery(_) => Representation::Json,
        other => other,
    };
    let call = Call {
        app,
        def,
        path,
        query,
        headers,
        repr,
        status,
    };
    if scale {
        return call.scale(method, body).await;
    }
    if token || call.def.create_only {
        return call.review(method, user, body).await;
    }
    match (method, call.path.name.is_some()) {
        (Method::GET, _) if watch => call.watch(),
        (Method::GET, true) => call.get(),
        (Method::GET, false) => call.list(),
        (Method::POST, false) if !call.def.namespaced || call.path.namespace.is_some() => {
            call.create(body).await
        }
        (Method::PUT, true) => call.update(body).await,
        (Method::PATCH, true) => call.patch(body).await,
        (Method::DELETE, true) => call.delete(body).await,
        (Method::DELETE, false) if !call.def.namespaced || call.path.namespace.is_some() => {
            call.delete_collection()
        }
        (m, _) => Err(StatusError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({m})"
        ))),
    }
}

fn list_meta(
    revision: u64,
    continue_token: Option<&str>,
    remaining: Option<u64>,
) -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert("resourceVersion".into(), json!(revision.to_string()));
    if let Some(c) = continue_token {
        meta.insert("continue".into(), json!(c));
    }
    if let Some(r) = remaining {
        meta.insert("remainingItemCount".into(), json!(r));
    }
    meta
}

impl Call<'_> {
    fn version(&self) -> &str {
        &self.path.version
    }

    fn namespace(&self) -> Option<&str> {
        self.path.namespace.as_deref()
    }

    fn name(&self) -> &str {
        self.path.name.as_deref().unwrap_or_default()
    }

    fn include(&self) -> IncludeObject {
        IncludeObject::parse(self.query.get("includeObject"))
    }

    fn selector(&self) -> Result<Selector, StatusError> {
        let mut selector = Selector::parse(
            &self.def,
            self.query.get("labelSelector"),
            self.query.get("fieldSelector"),
        )?;
        if let Some(name) = &self.path.name {
            // GET .../pods/x?watch=true watches one object.
            let by_name = Selector::parse(&self.def, None, Some(&format!("metadata.name={name}")))?;
            selector = selector.and(by_name);
        }
        Ok(selector)
    }

    /// Renders one object as the client asked.
    fn object(&self, code: StatusCode, obj: &Value) -> axum::response::Response {
        match self.repr {
            Representation::Table(v) => {
                let mut meta = Map::new();
                if let Some(rv) = obj.pointer("/metadata/resourceVersion") {
                    meta.insert("resourceVersion".into(), rv.clone());
                }
                let t = table::table(
                    &self.def,
                    self.version(),
                    v,
                    std::slice::from_ref(obj),
                    meta,
                    self.include(),
                );
                respond(code, &self.repr.content_type(false), to_bytes(&t))
            }
            Representation::Metadata(v) => respond(
                code,
                &self.repr.content_type(false),
                to_bytes(&table::partial_metadata(obj, v)),
            ),
            _ => respond(code, "application/json", to_bytes(obj)),
        }
    }

    fn get(&self) -> Result<axum::response::Response, StatusError> {
        let gr = GroupResource::of(&self.def);
        let key = ObjKey::new(self.namespace().unwrap_or_default(), self.name());
        let raw = self
            .app
            .store
            .read()
            .object(&gr, &key)
            .cloned()
            .ok_or_else(|| StatusError::not_found(self.def.subject(), self.name()))?;
        let raw = present(&self.def, self.version(), &raw);
        match self.repr {
            Representation::Json | Representation::Discovery(_) => {
                Ok(respond(StatusCode::OK, "application/json", raw))
            }
            _ => Ok(self.object(StatusCode::OK, &parse(&raw)?)),
        }
    }

    /// kube's `ValidateListOptions` and `resourceVersion` parsing for a list.
    fn read_at(&self) -> Result<ReadAt, StatusError> {
        let rv = self.query.get("resourceVersion").unwrap_or_default();
        let matching = self.query.get("resourceVersionMatch").unwrap_or_default();
        let has_continue = self.query.get("continue").is_some_and(|c| !c.is_empty());
        let mut errors = Vec::new();
        if !matching.is_empty() {
            if rv.is_empty() {
                errors.push(FieldError::forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                ));
            }
            if has_continue {
                errors.push(FieldError::forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
            if matching != "Exact" && matching != "NotOlderThan" {
                errors.push(FieldError::not_supported(
                    "resourceVersionMatch",
                    matching,
                    &["Exact", "NotOlderThan", ""],
                ));
            }
            if matching == "Exact" && rv == "0" {
                errors.push(FieldError::forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
        }
        if self.query.get("sendInitialEvents").is_some() {
            errors.push(FieldError::forbidden(
                "sendInitialEvents",
                "sendInitialEvents is forbidden for list",
            ));
        }
        if !errors.is_empty() {
            return Err(StatusError::invalid(
                "meta.k8s.io",
                "ListOptions",
                "",
                &errors,
            ));
        }
        if has_continue && !rv.is_empty() && rv != "0" {
            return Err(StatusError::bad_request(
                "specifying resource version is not allowed when using continue",
            ));
        }
        if rv.is_empty() {
            return Ok(ReadAt::Latest);
        }
        let n: u64 = rv
            .parse()
            .map_err(|_| StatusError::bad_request(format!("invalid resource version: {rv:?}")))?;
        Ok(match matching {
            "Exact" => ReadAt::Exact(n),
            _ => ReadAt::NotOlderThan(n),
        })
    }

    fn list(&self) -> Result<axum::response::Response, StatusError> {
        let read_at = self.read_at()?;
        let limit = match self.query.get("limit") {
            None | Some("") => None,
            Some(l) => Some(
                l.parse::<usize>()
                    .map_err(|_| StatusError::bad_request(format!("limit: invalid value {l:?}")))?,
            ),
        };
        let selector = self.selector()?;
        let page = self.app.store.read().list(
            &self.def,
            &ListRequest {
                namespace: self.namespace(),
                selector: &selector,
                limit,
                continue_token: self.query.get("continue"),
                read_at,
            },
        )?;
        let meta = list_meta(
            page.revision,
            page.continue_token.as_deref(),
            page.remaining,
        );
        let items = page
            .items
            .iter()
            .map(|raw| present(&self.def, self.version(), raw));
        match self.repr {
            Representation::Table(v) => {
                let objects = items
                    .map(|raw| parse(&raw))
                    .collect::<Result<Vec<_>, _>>()?;
                let t = table::table(&self.def, self.version(), v, &objects, meta, self.include());
                Ok(respond(
                    StatusCode::OK,
                    &self.repr.content_type(true),
                    to_bytes(&t),
                ))
            }
            Representation::Metadata(v) => {
                let objects = items
                    .map(|raw| parse(&raw).map(|o| table::partial_metadata(&o, v)))
                    .collect::<Result<Vec<_>, _>>()?;
                let list = json!({
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": format!("meta.k8s.io/{v}"),
                    "metadata": meta,
                    "items": objects,
                });
                Ok(respond(
                    StatusCode::OK,
                    &self.repr.content_type(true),
                    to_bytes(&list),
                ))
            }
            _ => {
                // Stored bytes are concatenated into the list body: no re-encoding.
                let head = json!({
                    "kind": self.def.list_kind,
                    "apiVersion": self.def.api_version(self.version()),
                    "metadata": meta,
                })
                .to_string();
                let mut body = Vec::with_capacity(
                    head.len()
                        + page.items.iter().map(Bytes::len).sum::<usize>()
                        + page.items.len()
                        + 16,
                );
                body.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
                body.extend_from_slice(b",\"items\":[");
                for (i, raw) in items.enumerate() {
                    if i > 0 {
                        body.push(b',');
                    }
                    body.extend_from_slice(&raw);
                }
                body.extend_from_slice(b"]}");
                Ok(respond(
                    StatusCode::OK,
                    "application/json",
                    Bytes::from(body),
                ))
            }
        }
    }

    fn watch(&self) -> Result<axum::response::Response, StatusError> {
        let req = watch::WatchRequest {
            def: Arc::clone(&self.def),
            version: self.version().to_owned(),
            namespace: self.path.namespace.clone(),
            selector: self.selector()?,
            repr: self.repr,
            include: self.include(),
            bookmarks: self.query.flag("allowWatchBookmarks")?,
            timeout: watch::timeout(&self.query)?,
        };
        watch::start(
            &self.app.store,
            self.app.bookmark_interval,
            req,
            &self.query,
        )
    }

    /// The field manager: `fieldManager`, else the User-Agent up to its first `/`.
    fn manager(&self) -> String {
        if let Some(m) = self.query.get("fieldManager").filter(|m| !m.is_empty()) {
            return m.to_owned();
        }
        let agent = self
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown");
        agent
            .split('/')
            .next()
            .unwrap_or(agent)
            .chars()
            .take(128)
            .collect()
    }

    fn dry_run(&self) -> Result<bool, StatusError> {
        match self.query.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(StatusError::bad_request(format!(
                "dryRun: Unsupported value: {other:?}: supported values: \"All\""
            ))),
        }
    }

    fn options(&self) -> Result<WriteOptions, StatusError> {
        Ok(WriteOptions::api(self.manager(), self.dry_run()?))
    }

    async fn body(&self, body: Body) -> Result<Bytes, StatusError> {
        axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
            StatusError::new(
                413,
                "RequestEntityTooLarge",
                format!("the request body could not be read: {e}"),
            )
        })
    }

    /// The request body as an object (JSON, or YAML when the Content-Type says so).
    async fn object_body(&self, body: Body) -> Result<Value, StatusError> {
        let raw = self.body(body).await?;
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json");
        let value: Value = if content_type.contains("protobuf") {
            super::protobuf::decode(&raw)?
        } else if content_type.contains("yaml") {
            serde_yaml_ng::from_slice(&raw)
                .map_err(|e| StatusError::bad_request(format!("error decoding YAML: {e}")))?
        } else if content_type.contains("json") || content_type.is_empty() {
            serde_json::from_slice(&raw)
                .map_err(|e| StatusError::bad_request(format!("error decoding JSON: {e}")))?
        } else {
            return Err(StatusError::unsupported_media_type(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {content_type})"
            )));
        };
        Ok(value)
    }

    /// A create on a review resource or on `serviceaccounts/<name>/token`: answered, not
    /// stored (201, as kube answers these creates).
    async fn review(
        &self,
        method: Method,
        user: &UserInfo,
        body: Body,
    ) -> Result<axum::response::Response, StatusError> {
        let named = self.path.name.is_some();
        let token = self.path.subresource.is_some();
        if method != Method::POST || named != token {
            return Err(StatusError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({method})"
            )));
        }
        if self.def.namespaced && self.path.namespace.is_none() {
            return Err(StatusError::no_route());
        }
        let obj = self.object_body(body).await?;
        let answer = if token {
            reviews::token_request(
                self.app,
                self.namespace().unwrap_or_default(),
                self.name(),
                obj,
            )?
        } else {
            reviews::review(self.app, &self.def, self.namespace(), user, obj)?
        };
        Ok(respond(
            StatusCode::CREATED,
            "application/json",
            to_bytes(&answer),
        ))
    }

    async fn create(&self, body: Body) -> Result<axum::response::Response, StatusError> {
        let obj = self.object_body(body).await?;
        let opts = self.options()?;
        let (def, version, ns) = (&self.def, self.version(), self.namespace());
        let created = self
            .app
            .store
            .write(|s| s.create(def, version, ns, obj, &opts))?;
        Ok(self.object(StatusCode::CREATED, &created))
    }

    async fn update(&self, body: Body) -> Result<axum::response::Response, StatusError> {
        let obj = self.object_body(body).await?;
        let opts = self.options()?;
        let (def, version, ns, name, status) = (
            &self.def,
            self.version(),
            self.namespace(),
            self.name(),
            self.status,
        );
        let (updated, created) = self
            .app
            .store
            .write(|s| s.update(def, version, ns, name, obj, status, &opts))?;
        let code = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(self.object(code, &updated))
    }

    async fn patch(&self, body: Body) -> Result<axum::response::Response, StatusError> {
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let patch_type = PatchType::from_content_type(&content_type)
            .ok_or_else(|| crate::patch::unsupported(self.def.custom))?;
        if patch_type == PatchType::Apply {
            // Refused before looking the object up: apply would create it.
            return Err(crate::patch::server_side_apply());
        }
        let raw = self.body(body).await?;
        let opts = self.options()?;
        let (def, version, ns, name, status) = (
            &self.def,
            self.version(),
            self.namespace(),
            self.name(),
            self.status,
        );
        let patched = self
            .app
            .store
            .write(|s| s.patch(def, version, ns, name, patch_type, &raw, status, &opts))?;
        Ok(self.object(StatusCode::OK, &patched))
    }

    async fn delete(&self, body: Body) -> Result<axum::response::Response, StatusError> {
        let raw = self.body(body).await?;
        let options: Value = if raw.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&raw).map_err(|e| {
                StatusError::bad_request(format!("error decoding DeleteOptions: {e}"))
            })?
        };
        let preconditions = Preconditions {
            uid: options
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_owned),
            resource_version: options
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
        let mut opts = self.options()?;
        if options
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|x| x == "All"))
        {
            opts.dry_run = true;
        }
        if self.status {
            return Err(StatusError::method_not_allowed(
                "the server does not allow this method on the requested resource (delete on status)",
            ));
        }
        let (def, version, ns, name) = (&self.def, self.version(), self.namespace(), self.name());
        let deleted = self
            .app
            .store
            .write(|s| s.delete(def, version, ns, name, &preconditions, &opts))?;
        // Still there, waiting for finalizers: 202 Accepted, as kube answers.
        let pending = deleted
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        let code = if pending {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        };
        Ok(self.object(code, &deleted))
    }

    /// `/scale`: get, update or patch the replicas through a `Scale`.
    async fn scale(
        &self,
        method: Method,
        body: Body,
    ) -> Result<axum::response::Response, StatusError> {
        let (def, version, ns, name) = (&self.def, self.version(), self.namespace(), self.name());
        let scale = match method {
            Method::GET => self.app.store.read().get_scale(def, ns, name)?,
            Method::PUT => {
                let wanted = self.object_body(body).await?;
                let opts = self.options()?;
                self.app
                    .store
                    .write(|s| s.write_scale(def, version, ns, name, |_| Ok(wanted), &opts))?
            }
            Method::PATCH => {
                let content_type = self
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let patch_type = PatchType::from_content_type(&content_type)
                    .ok_or_else(|| crate::patch::unsupported(false))?;
                let raw = self.body(body).await?;
                let opts = self.options()?;
                self.app.store.write(|s| {
                    s.write_scale(
                        def,
                        version,
                        ns,
                        name,
                        |current| crate::patch::apply("Scale", false, &current, patch_type, &raw),
                        &opts,
                    )
                })?
            }
            m => {
                return Err(StatusError::method_not_allowed(format!(
                    "the server does not allow this method on the requested resource ({m})"
                )));
            }
        };
        Ok(respond(
            StatusCode::OK,
            "application/json",
            to_bytes(&scale),
        ))
    }

    fn delete_collection(&self) -> Result<axum::response::Response, StatusError> {
        let selector = self.selector()?;
        let opts = self.options()?;
        let (def, version, ns) = (&self.def, self.version(), self.namespace());
        let deleted = self
            .app
            .store
            .write(|s| s.delete_collection(def, version, ns, &selector, &opts))?;
        let list = json!({
            "kind": self.def.list_kind,
            "apiVersion": self.def.api_version(version),
            "metadata": {"resourceVersion": self.app.store.revision().to_string()},
            "items": deleted,
        });
        Ok(respond(StatusCode::OK, "application/json", to_bytes(&list)))
    }
}
