//! `.../resources/...`: discovery, list, get and watch of synced resources, across all
//! clusters or one (`resources/clusters/<name>/...`), in JSON, Table or metadata form.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use pedia_core::{ListOptions, RequestScope, ResourceType};
use pedia_storage::{ResourceStorage, WatchEvent, watch_request};
use serde_json::{Value, json};

use crate::app::{SharedState, json_ok, json_response, version_info};
use crate::auth::UserInfo;
use crate::authz::{Decision, forbidden};
use crate::discovery::Served;
use crate::error::{ApiError, ApiResult};
use crate::limits::WatchSlot;
use crate::listbody::{self, ListMeta};
use crate::negotiate::{Representation, negotiate};
use crate::paths::{Target, parse};
use crate::render;

/// The longest a watch stays open without `timeoutSeconds` (kube-apiserver picks 30-60
/// minutes; clients reconnect).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

pub(crate) async fn served(state: &SharedState, cluster: Option<&str>) -> ApiResult<Served> {
    let stored = state.storage.stored_resources().await?;
    Ok(Served::from_stored(&stored, cluster))
}

fn resource_not_found(group: &str, version: &str, resource: &str) -> ApiError {
    let gv = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    ApiError::not_found(format!(
        "the server could not find the requested resource {resource} in {gv}"
    ))
}

/// Entry point for every `GET .../resources/<rest>`.
pub(crate) async fn handle(
    State(state): State<SharedState>,
    Extension(user): Extension<UserInfo>,
    Path(rest): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let scoped = parse(&rest)?;
    let cluster = scoped.cluster.as_deref();
    let repr = negotiate(&headers)?;
    let query = query.unwrap_or_default();
    match scoped.target {
        Target::Version => Ok(json_ok(&version_info())),
        Target::CoreVersions => discovery_root(&state, cluster, repr, true).await,
        Target::Groups => discovery_root(&state, cluster, repr, false).await,
        Target::Group { group } => {
            let served = served(&state, cluster).await?;
            served
                .api_group(&group)
                .map(|doc| json_ok(&doc))
                .ok_or_else(|| {
                    ApiError::not_found(format!(
                        "the server could not find the requested resource: group {group:?}"
                    ))
                })
        }
        Target::GroupVersion { group, version } => {
            let served = served(&state, cluster).await?;
            served
                .api_resource_list(&group, &version)
                .map(|doc| json_ok(&doc))
                .ok_or_else(|| resource_not_found(&group, &version, "list"))
        }
        Target::Collection {
            group,
            version,
            resource,
            namespace,
        } => {
            let served = served(&state, cluster).await?;
            let served_resource = served
                .find(&group, &version, &resource)
                .ok_or_else(|| resource_not_found(&group, &version, &resource))?;
            let rt = served_resource.resource.clone();
            let opts = ListOptions::parse(
                &query,
                RequestScope {
                    cluster,
                    namespace: namespace.as_deref(),
                },
            )?;
            let mut opts = opts;
            let decision = state.authz.decide(&user, Some(&rt.gvr.group_resource()));
            if decision == Decision::Deny {
                return Err(forbidden(&user, &rt.gvr.group_resource().to_string()));
            }
            opts.authorized = decision.grants();
            opts.limit = opts.limit.map(|l| l.min(state.limits.max_list_limit));
            let redact = state.redact_secrets && is_secret(&rt);
            let storage = state.storage.resource_storage(&rt).await?;
            if opts.watch {
                let slot = state
                    .usage
                    .start_watch(&user.name, state.limits.max_watches_per_user)?;
                watch(&state, storage, &rt, &opts, repr, redact, slot).await
            } else {
                list(storage, &rt, &opts, repr, redact).await
            }
        }
        Target::Object {
            group,
            version,
            resource,
            namespace,
            name,
        } => {
            let served = served(&state, cluster).await?;
            let rt = served
                .find(&group, &version, &resource)
                .ok_or_else(|| resource_not_found(&group, &version, &resource))?
                .resource
                .clone();
            // The published PediaClusters live in the control plane's own "cluster".
            let cluster = cluster.or_else(|| {
                render::is_pediacluster(&rt).then_some(pedia_core::cluster::CONTROL_CLUSTER)
            });
            let Some(cluster) = cluster else {
                return Err(ApiError::bad_request(format!(
                    "getting one {resource} object by name needs a cluster: use .../resources/clusters/<cluster>/{}",
                    rest.trim_start_matches('/')
                )));
            };
            let ns = namespace.as_deref().unwrap_or("");
            if !state
                .authz
                .decide(&user, Some(&rt.gvr.group_resource()))
                .allows(cluster, ns)
            {
                return Err(forbidden(
                    &user,
                    &format!("{} {name:?}", rt.gvr.group_resource()),
                ));
            }
            let storage = state.storage.resource_storage(&rt).await?;
            let mut object = storage.get(cluster, ns, &name).await?;
            if state.redact_secrets && is_secret(&rt) {
                object = redact(&object)?;
            }
            get_response(&rt, cluster, object, repr)
        }
    }
}

async fn discovery_root(
    state: &SharedState,
    cluster: Option<&str>,
    repr: Representation,
    core: bool,
) -> ApiResult<Response> {
    let served = served(state, cluster).await?;
    Ok(match repr {
        Representation::AggregatedDiscovery { version } => json_response(
            StatusCode::OK,
            &repr.content_type(true),
            served.aggregated(core, version).to_string(),
        ),
        _ if core => json_ok(&served.api_versions()),
        _ => json_ok(&served.api_group_list()),
    })
}

fn get_response(
    rt: &ResourceType,
    cluster: &str,
    object: Bytes,
    repr: Representation,
) -> ApiResult<Response> {
    match repr {
        Representation::Json | Representation::AggregatedDiscovery { .. } => {
            Ok(json_response(StatusCode::OK, "application/json", object))
        }
        Representation::Table { version } => {
            let value = parse_object(&object)?;
            let table = render::table(
                rt,
                version,
                &[(cluster.to_owned(), value)],
                &ListMeta::default(),
            );
            Ok(json_response(
                StatusCode::OK,
                &repr.content_type(false),
                table.to_string(),
            ))
        }
        Representation::PartialMetadata { version } => {
            let value = parse_object(&object)?;
            let partial = render::partial_metadata(&value, version);
            Ok(json_response(
                StatusCode::OK,
                &repr.content_type(false),
                partial.to_string(),
            ))
        }
    }
}

pub(crate) fn parse_object(raw: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(raw).map_err(|e| {
        tracing::error!(error = %e, "a stored object is not valid JSON");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "Internal error occurred: stored object is not valid JSON",
        )
    })
}

/// Whether `rt` is the core Secret resource.
fn is_secret(rt: &ResourceType) -> bool {
    rt.gvr.group.is_empty() && rt.gvr.resource == "secrets"
}

/// A Secret without its `data` and `stringData` (`--redact-secrets`).
fn redact(raw: &[u8]) -> ApiResult<Bytes> {
    let mut value = parse_object(raw)?;
    if let Some(map) = value.as_object_mut() {
        map.remove("data");
        map.remove("stringData");
    }
    Ok(Bytes::from(value.to_string()))
}

async fn list(
    storage: Arc<dyn ResourceStorage>,
    rt: &ResourceType,
    opts: &ListOptions,
    repr: Representation,
    redact_items: bool,
) -> ApiResult<Response> {
    let mut opts = opts.clone();
    if matches!(repr, Representation::PartialMetadata { .. }) {
        opts.only_metadata = true;
    }
    // A whole list in JSON is streamed as the storage reads it; pages, Tables and
    // metadata lists are built in memory (a page is bounded by `limit`).
    if opts.limit.is_none_or(|l| l == 0)
        && matches!(
            repr,
            Representation::Json | Representation::AggregatedDiscovery { .. }
        )
    {
        let stream = storage.list_stream(&opts).await?;
        return Ok(listbody::streamed_response(rt, stream, move |item| {
            if redact_items {
                redact(&item)
            } else {
                Ok(item)
            }
        }));
    }
    let mut page = storage.list(&opts).await?;
    if redact_items {
        page.items = page
            .items
            .iter()
            .map(|i| redact(i))
            .collect::<ApiResult<_>>()?;
    }
    let meta = ListMeta {
        resource_version: page.revision,
        continue_token: page.continue_token,
        remaining_count: page.remaining_count,
    };
    match repr {
        Representation::Json | Representation::AggregatedDiscovery { .. } => {
            let body = listbody::list(
                &format!("{}List", rt.kind),
                &rt.gvr.api_version(),
                &meta,
                &page.items,
            );
            Ok(json_response(StatusCode::OK, "application/json", body))
        }
        Representation::Table { version } => {
            let rows = page
                .items
                .iter()
                .map(|raw| {
                    let value = parse_object(raw)?;
                    Ok((render::cluster_of(&value), value))
                })
                .collect::<ApiResult<Vec<_>>>()?;
            let table = render::table(rt, version, &rows, &meta);
            Ok(json_response(
                StatusCode::OK,
                &repr.content_type(true),
                table.to_string(),
            ))
        }
        Representation::PartialMetadata { version } => {
            let items = page
                .items
                .iter()
                .map(|raw| parse_object(raw).map(|v| render::partial_metadata(&v, version)))
                .collect::<ApiResult<Vec<_>>>()?;
            let doc = json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": format!("meta.k8s.io/{version}"),
                "metadata": meta.to_json(),
                "items": items,
            });
            Ok(json_response(
                StatusCode::OK,
                &repr.content_type(true),
                doc.to_string(),
            ))
        }
    }
}

/// One watch event in the requested representation. The object's `resourceVersion` is
/// replaced by the event's revision, so a client resuming from it resumes in this API's
/// revision space (list items keep their member-cluster versions).
fn event_line(
    rt: &ResourceType,
    event: &WatchEvent,
    repr: Representation,
    redact_items: bool,
) -> ApiResult<Bytes> {
    let mut value = parse_object(&event.object)?;
    if redact_items && let Some(map) = value.as_object_mut() {
        map.remove("data");
        map.remove("stringData");
    }
    value["metadata"]["resourceVersion"] = json!(event.revision.to_string());
    let object = match repr {
        Representation::Table { version } => {
            let cluster = render::cluster_of(&value);
            let meta = ListMeta {
                resource_version: event.revision,
                ..ListMeta::default()
            };
            render::table(rt, version, &[(cluster, value)], &meta)
        }
        Representation::PartialMetadata { version } => render::partial_metadata(&value, version),
        _ => value,
    };
    Ok(listbody::watch_event(
        event.event_type.as_str(),
        object.to_string().as_bytes(),
    ))
}

fn error_line(err: ApiError) -> Bytes {
    listbody::watch_event("ERROR", err.status_json().to_string().as_bytes())
}

async fn watch(
    state: &SharedState,
    storage: Arc<dyn ResourceStorage>,
    rt: &ResourceType,
    opts: &ListOptions,
    repr: Representation,
    redact_items: bool,
    slot: WatchSlot,
) -> ApiResult<Response> {
    let stream = watch_request(storage.as_ref(), opts).await?;
    let timeout = opts
        .timeout_seconds
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_WATCH_TIMEOUT)
        .min(DEFAULT_WATCH_TIMEOUT * 2);
    let deadline = tokio::time::Instant::now() + timeout;
    let rt = rt.clone();
    // Both live as long as the stream: the metrics gauge and the per-user watch slot.
    let guard = (WatchGuard(Arc::clone(state)), slot);
    state.metrics.watch_started();
    let lines = stream
        .take_until(tokio::time::sleep_until(deadline))
        .map(move |item| {
            let _keep = &guard;
            let line = match item {
                Ok(event) => event_line(&rt, &event, repr, redact_items).unwrap_or_else(error_line),
                Err(err) => error_line(ApiError::from(err)),
            };
            Ok::<_, std::io::Error>(line)
        });
    let content_type = match repr {
        Representation::Table { .. } | Representation::PartialMetadata { .. } => {
            repr.content_type(false)
        }
        _ => "application/json".to_owned(),
    };
    Ok(json_response(
        StatusCode::OK,
        &content_type,
        Body::from_stream(lines),
    ))
}

/// Counts an open watch for as long as its stream lives.
struct WatchGuard(SharedState);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.metrics.watch_ended();
    }
}
