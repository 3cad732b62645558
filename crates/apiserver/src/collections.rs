//! `.../collectionresources`: the collection definitions (`any`, `workloads`,
//! `kuberesources`) and listing a collection's objects across resources.

use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use pedia_core::ListOptions;
use pedia_storage::CollectionResource;
use serde_json::{Value, json};

use crate::app::{SharedState, json_ok, json_response};
use crate::auth::UserInfo;
use crate::authz::{Decision, forbidden};
use crate::error::{ApiError, ApiResult};
use crate::listbody::ListMeta;

fn resource_types_json(c: &CollectionResource) -> Vec<Value> {
    c.resource_types
        .iter()
        .map(|t| json!({"group": t.group, "version": t.version, "resource": t.resource, "kind": t.kind}))
        .collect()
}

fn definition(c: &CollectionResource) -> Value {
    json!({
        "kind": "CollectionResource",
        "apiVersion": "clusterpedia.io/v1beta1",
        "metadata": {"name": c.name},
        "resourceTypes": resource_types_json(c),
    })
}

/// `GET .../collectionresources`
pub(crate) async fn list_definitions(State(state): State<SharedState>) -> ApiResult<Response> {
    let collections = state.storage.collection_resources().await?;
    let items: Vec<Value> = collections.iter().map(definition).collect();
    Ok(json_ok(&json!({
        "kind": "CollectionResourceList",
        "apiVersion": "clusterpedia.io/v1beta1",
        "metadata": {},
        "items": items,
    })))
}

/// `GET .../collectionresources/<name>?<search query>`: the objects of the collection.
pub(crate) async fn get(
    State(state): State<SharedState>,
    Extension(user): Extension<UserInfo>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let collections = state.storage.collection_resources().await?;
    let collection = collections
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "collectionresources.clusterpedia.io {name:?} not found"
            ))
        })?;
    let mut opts = ListOptions::from_query(&query.unwrap_or_default())?;
    if opts.watch {
        return Err(ApiError::method_not_allowed(
            "collection resources cannot be watched",
        ));
    }
    // A collection spans resources: only rules for every resource (`*`) cover it.
    let decision = state.authz.decide(&user, None);
    if decision == Decision::Deny {
        return Err(forbidden(&user, &format!("collectionresources {name:?}")));
    }
    opts.authorized = decision.grants();
    opts.limit = opts.limit.map(|l| l.min(state.limits.max_list_limit));
    let page = state.storage.list_collection(&collection, &opts).await?;

    // The resource types actually present, in first-seen order.
    let mut types: Vec<Value> = Vec::new();
    let mut items = Vec::with_capacity(page.items.len());
    for item in &page.items {
        let gvr = &item.resource.gvr;
        let t = json!({"group": gvr.group, "version": gvr.version, "resource": gvr.resource, "kind": item.resource.kind});
        if !types.contains(&t) {
            types.push(t);
        }
        items.push(crate::resources::parse_object(&item.object)?);
    }
    let meta = ListMeta {
        resource_version: page.revision,
        continue_token: page.continue_token.clone(),
        remaining_count: page.remaining_count,
    };
    let mut doc = json!({
        "kind": "CollectionResource",
        "apiVersion": "clusterpedia.io/v1beta1",
        "metadata": {"name": collection.name, "resourceVersion": meta.resource_version.to_string()},
        "resourceTypes": types,
        "items": items,
    });
    if let Some(c) = &meta.continue_token {
        doc["continue"] = json!(c);
    }
    if let Some(n) = meta.remaining_count {
        doc["remainingItemCount"] = json!(n);
    }
    Ok(json_response(
        StatusCode::OK,
        "application/json",
        doc.to_string(),
    ))
}
