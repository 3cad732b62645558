//! `.../collectionresources`: the collection definitions (`any`, `workloads`,
//! `kuberesources`) and the objects of one collection across resources, its body built
//! from the stored bytes of its items.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use pedia_storage::CollectionResource;
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::listbody::{self, ListMeta};
use crate::respond::{json_ok, json_response};
use crate::scope::Read;
use crate::state::SharedState;

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

/// `GET .../collectionresources`: the definitions, which name no cluster or object.
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

/// `GET .../collectionresources/<name>?<search query>`: one page of the collection's
/// objects, with the resource types present on it in first-seen order.
pub(crate) async fn list(collection: &CollectionResource, read: &Read) -> ApiResult<Response> {
    let page = read.list_collection(collection).await?;
    let mut types: Vec<Value> = Vec::new();
    for item in &page.items {
        let gvr = &item.resource.gvr;
        let t = json!({"group": gvr.group, "version": gvr.version, "resource": gvr.resource, "kind": item.resource.kind});
        if !types.contains(&t) {
            types.push(t);
        }
    }
    let meta = ListMeta {
        resource_version: page.revision,
        continue_token: page.continue_token.clone(),
        remaining_count: page.remaining_count,
    };
    let body = listbody::collection(
        &collection.name,
        &meta,
        types,
        page.items.iter().map(|i| &i.object[..]),
    );
    Ok(json_response(StatusCode::OK, "application/json", body))
}
