//! Turning stored objects into kubectl's server-side representations: `Table` (with a
//! `CLUSTER` column first) and `PartialObjectMetadata`.

use pedia_core::{CLUSTER_NAME_ANNOTATION, ResourceType};
use serde_json::{Value, json};

use crate::listbody::ListMeta;

/// The cluster an object was synced from (its shadow annotation).
pub fn cluster_of(object: &Value) -> String {
    object["metadata"]["annotations"][CLUSTER_NAME_ANNOTATION]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `PartialObjectMetadata` of an object.
pub fn partial_metadata(object: &Value, version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// Whether `rt` is the PediaCluster resource the synchro manager publishes.
pub fn is_pediacluster(rt: &ResourceType) -> bool {
    rt.gvr.group == pedia_core::cluster::CLUSTER_API_GROUP && rt.gvr.resource == "pediaclusters"
}

/// The condition of `type_` of a PediaCluster: its status or reason.
fn condition(object: &Value, type_: &str, field: &str) -> Value {
    object["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .map(|c| c[field].clone())
        .unwrap_or(Value::Null)
}

/// PediaClusters print as Clusterpedia's CRD printer columns say, without a CLUSTER column
/// (they describe clusters, they do not come from one).
fn pediacluster_table(version: &str, rows: &[(String, Value)], meta: &ListMeta) -> Value {
    let col = |name: &str, priority: i32, description: &str| json!({"name": name, "type": "string", "format": if name == "Name" { "name" } else { "" }, "description": description, "priority": priority});
    let columns = vec![
        col("Name", 0, "Name of the cluster."),
        col("Ready", 0, "Whether the cluster is ready."),
        col("Version", 0, "Kubernetes version of the cluster."),
        col("APIServer", 0, "Address of the cluster's API server."),
        col("Validated", 10, "Reason of the Validated condition."),
        col(
            "SynchroRunning",
            10,
            "Reason of the SynchroRunning condition.",
        ),
        col(
            "ClusterHealthy",
            10,
            "Reason of the ClusterHealthy condition.",
        ),
        col(
            "ShardingName",
            10,
            "Sharding of the manager syncing the cluster.",
        ),
    ];
    let rows: Vec<Value> = rows
        .iter()
        .map(|(_, o)| {
            json!({
                "cells": [
                    o["metadata"]["name"], condition(o, "Ready", "status"), o["status"]["version"], o["status"]["apiserver"],
                    condition(o, "Validated", "reason"), condition(o, "SynchroRunning", "reason"),
                    condition(o, "ClusterHealthy", "reason"), o["status"]["shardingName"],
                ],
                "object": partial_metadata(o, version),
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": meta.to_json(),
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// A `Table` of `rows` (cluster, object), each row embedding the object's metadata as
/// kube-apiserver does by default (`includeObject=Metadata`).
pub fn table(rt: &ResourceType, version: &str, rows: &[(String, Value)], meta: &ListMeta) -> Value {
    if is_pediacluster(rt) {
        return pediacluster_table(version, rows, meta);
    }
    let rows: Vec<(String, Value, Value)> = rows
        .iter()
        .map(|(cluster, object)| {
            (
                cluster.clone(),
                object.clone(),
                partial_metadata(object, version),
            )
        })
        .collect();
    let mut table = kube_builtin::table::table(
        &rt.gvr.group,
        &rt.kind,
        &rows,
        meta.to_json(),
        jiff::Timestamp::now(),
    );
    table["apiVersion"] = json!(format!("meta.k8s.io/{version}"));
    table
}
