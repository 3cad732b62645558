//! `.../resources/...` responses: discovery documents, lists, gets and watches of synced
//! resources in JSON, Table or metadata form. What to read, and whether the user may, is
//! already decided by the [`ReadScope`](crate::scope::ReadScope) these functions get.

use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use pedia_core::ResourceType;
use pedia_storage::WatchEvent;
use serde_json::json;

use crate::discovery::Served;
use crate::error::{ApiError, ApiResult};
use crate::listbody::{self, ListMeta};
use crate::negotiate::Representation;
use crate::openapi;
use crate::render;
use crate::respond::{json_ok, json_response, parse_stored};
use crate::scope::{DiscoveryDoc, Read, resource_not_found};

/// The longest a watch stays open without `timeoutSeconds` (kube-apiserver picks 30-60
/// minutes; clients reconnect).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

/// A discovery document over what the user may read.
pub(crate) fn discovery(
    served: &Served,
    doc: &DiscoveryDoc,
    repr: Representation,
) -> ApiResult<Response> {
    match doc {
        DiscoveryDoc::CoreVersions | DiscoveryDoc::Groups => {
            let core = *doc == DiscoveryDoc::CoreVersions;
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
        DiscoveryDoc::Group(group) => {
            served
                .api_group(group)
                .map(|doc| json_ok(&doc))
                .ok_or_else(|| {
                    ApiError::not_found(format!(
                        "the server could not find the requested resource: group {group:?}"
                    ))
                })
        }
        DiscoveryDoc::GroupVersion { group, version } => served
            .api_resource_list(group, version)
            .map(|doc| json_ok(&doc))
            .ok_or_else(|| resource_not_found(group, version, "list")),
        DiscoveryDoc::OpenApiV2 { protobuf: false } => Ok(json_ok(&openapi::v2(served))),
        DiscoveryDoc::OpenApiV2 { protobuf: true } => Ok(json_response(
            StatusCode::OK,
            openapi::proto::CONTENT_TYPE,
            openapi::proto::encode(&openapi::v2(served)),
        )),
        DiscoveryDoc::OpenApiV3Root { prefix } => Ok(json_ok(&openapi::v3_root(prefix, served))),
        DiscoveryDoc::OpenApiV3 { group, version } => {
            openapi::v3_group_version(served, group, version)
                .map(|doc| json_ok(&doc))
                .ok_or_else(|| resource_not_found(group, version, "openapi"))
        }
    }
}

/// One object in the requested representation.
pub(crate) async fn get(
    rt: &ResourceType,
    cluster: &str,
    namespace: &str,
    name: &str,
    read: &Read,
    repr: Representation,
) -> ApiResult<Response> {
    let object = read.get(rt, cluster, namespace, name).await?;
    match repr {
        Representation::Json | Representation::AggregatedDiscovery { .. } => {
            Ok(json_response(StatusCode::OK, "application/json", object))
        }
        Representation::Table { version } => {
            let value = parse_stored(&object)?;
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
            let value = parse_stored(&object)?;
            let partial = render::partial_metadata(&value, version);
            Ok(json_response(
                StatusCode::OK,
                &repr.content_type(false),
                partial.to_string(),
            ))
        }
    }
}

/// A list of `rt`: the one list path, whatever the representation. JSON lists embed the
/// stored bytes unparsed.
pub(crate) async fn list(
    rt: &ResourceType,
    read: &Read,
    repr: Representation,
) -> ApiResult<Response> {
    // A whole list in JSON is streamed as the storage reads it; pages, Tables and
    // metadata lists are built in memory (a page is bounded by `limit`).
    if read.lists_everything()
        && matches!(
            repr,
            Representation::Json | Representation::AggregatedDiscovery { .. }
        )
    {
        let (stream, redact) = read.list_stream(rt).await?;
        return Ok(listbody::streamed_response(rt, stream, redact));
    }
    let only_metadata = matches!(repr, Representation::PartialMetadata { .. });
    let page = read.list(rt, only_metadata).await?;
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
                    let value = parse_stored(raw)?;
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
                .map(|raw| parse_stored(raw).map(|v| render::partial_metadata(&v, version)))
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
fn event_line(rt: &ResourceType, event: &WatchEvent, repr: Representation) -> ApiResult<Bytes> {
    let mut value = parse_stored(&event.object)?;
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

/// A watch of `rt`, streamed as `WatchEvent` lines until `timeoutSeconds`.
pub(crate) async fn watch(
    rt: &ResourceType,
    read: &Read,
    repr: Representation,
) -> ApiResult<Response> {
    let (stream, hold) = read.watch(rt).await?;
    let timeout = read
        .options()
        .timeout_seconds
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_WATCH_TIMEOUT)
        .min(DEFAULT_WATCH_TIMEOUT * 2);
    let deadline = tokio::time::Instant::now() + timeout;
    let rt = rt.clone();
    let lines = stream
        .take_until(tokio::time::sleep_until(deadline))
        .map(move |item| {
            let _keep = &hold;
            let line = item
                .and_then(|event| event_line(&rt, &event, repr))
                .unwrap_or_else(error_line);
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
