//! The `CustomResourceDefinition`s of the cluster API types (`PediaCluster`,
//! `ClusterSyncResources`), built from the Rust types in [`crate::cluster`].
//!
//! The schema is written next to the types with a tiny builder rather than derived by a
//! schema crate: Kubernetes wants a *structural* schema (a `type` on every node, no `$ref`,
//! no `anyOf` for optional fields), which generic JSON-schema generators do not emit, and
//! the types are few. Drift is caught by tests: a value with every field set is serialised
//! with serde and must match the schema exactly (no field missing from it, none extra), and
//! a struct literal lists every field, so adding a field to a type breaks the build of that
//! test until the schema says what the field is. `cargo xtask crds` writes the result into
//! the Helm charts; a packaging test fails when the committed files are stale.

use serde_json::{Map, Value, json};

use crate::cluster::{CLUSTER_API_GROUP, CLUSTER_API_VERSION, condition};

fn string(description: &str) -> Value {
    described(json!({"type": "string"}), description)
}

/// Go's `[]byte`: base64 in JSON.
fn bytes(description: &str) -> Value {
    described(json!({"type": "string", "format": "byte"}), description)
}

fn date_time(description: &str) -> Value {
    described(
        json!({"type": "string", "format": "date-time"}),
        description,
    )
}

fn boolean(description: &str) -> Value {
    described(json!({"type": "boolean"}), description)
}

fn int64(description: &str) -> Value {
    described(json!({"type": "integer", "format": "int64"}), description)
}

fn array(items: Value, description: &str) -> Value {
    described(json!({"type": "array", "items": items}), description)
}

fn described(mut schema: Value, description: &str) -> Value {
    if !description.is_empty() {
        schema["description"] = Value::String(description.to_owned());
    }
    schema
}

/// An object with exactly these properties; `required` lists the fields serde needs.
fn object(description: &str, properties: Vec<(&str, Value)>, required: &[&str]) -> Value {
    let mut props = Map::new();
    for (name, schema) in properties {
        props.insert(name.to_owned(), schema);
    }
    let mut schema = json!({"type": "object", "properties": props});
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    described(schema, description)
}

fn secret_key_selector(description: &str) -> Value {
    object(
        description,
        vec![
            (
                "name",
                string("Name of a Secret in the synchro manager's secret namespace."),
            ),
            ("key", string("Key inside the Secret's data.")),
        ],
        &["name", "key"],
    )
}

fn group_resources() -> Value {
    object(
        "Resources of one API group to sync.",
        vec![
            (
                "group",
                string("API group; empty for the core group, `*` for all."),
            ),
            (
                "versions",
                array(
                    string(""),
                    "Versions to sync; empty picks the preferred version.",
                ),
            ),
            (
                "resources",
                array(string(""), "Resource names (plural); `*` for all."),
            ),
            (
                "eventsInvolvedResources",
                array(string(""), "Resources whose Events are synced too."),
            ),
        ],
        &["group", "resources"],
    )
}

fn object_root(spec: Value, status: Option<Value>) -> Value {
    let mut properties = vec![
        (
            "apiVersion",
            string("APIVersion defines the versioned schema of this representation of an object."),
        ),
        (
            "kind",
            string("Kind is a string value representing the REST resource this object represents."),
        ),
        ("metadata", json!({"type": "object"})),
        ("spec", spec),
    ];
    if let Some(status) = status {
        properties.push(("status", status));
    }
    object("", properties, &[])
}

/// The schema of `PediaCluster` (`crate::cluster::PediaCluster`).
pub fn pedia_cluster_schema() -> Value {
    let spec = object(
        "How to reach the member cluster and what to sync from it.",
        vec![
            ("kubeconfig", bytes("A whole kubeconfig for the cluster.")),
            ("apiserver", string("URL of the cluster's API server.")),
            ("tokenData", bytes("A bearer token.")),
            ("caData", bytes("PEM CA bundle of the API server.")),
            ("certData", bytes("PEM client certificate.")),
            ("keyData", bytes("PEM client key.")),
            (
                "authenticationFrom",
                object(
                    "Credentials read from Secrets instead of the spec.",
                    vec![
                        ("kubeconfig", secret_key_selector("A kubeconfig.")),
                        ("ca", secret_key_selector("A PEM CA bundle.")),
                        ("key", secret_key_selector("A PEM client key.")),
                        ("cert", secret_key_selector("A PEM client certificate.")),
                        ("token", secret_key_selector("A bearer token.")),
                    ],
                    &[],
                ),
            ),
            (
                "syncResources",
                array(group_resources(), "The resources to sync."),
            ),
            (
                "syncAllCustomResources",
                boolean("Sync every custom resource (feature gate AllowSyncAllCustomResources)."),
            ),
            (
                "syncResourcesRefName",
                string("Name of a ClusterSyncResources whose list is synced as well."),
            ),
            (
                "shardingName",
                string(
                    "Only the synchro manager started with this --sharding-name syncs the cluster.",
                ),
            ),
        ],
        &[],
    );
    let condition = object(
        "A metav1.Condition.",
        vec![
            (
                "type",
                string("Validated, SynchroRunning, ClusterHealthy or Ready."),
            ),
            ("status", string("True, False or Unknown.")),
            ("observedGeneration", int64("")),
            ("lastTransitionTime", date_time("")),
            ("reason", string("")),
            ("message", string("")),
        ],
        &["type", "status", "lastTransitionTime", "reason"],
    );
    let sync_condition = object(
        "The sync state of one version of a resource.",
        vec![
            ("version", string("")),
            ("syncVersion", string("")),
            ("storageVersion", string("")),
            (
                "status",
                string("Pending, Syncing, Stop, Unknown or Error."),
            ),
            ("reason", string("")),
            ("message", string("")),
            ("initialListPhase", boolean("")),
            ("lastTransitionTime", date_time("")),
        ],
        &["version", "status", "lastTransitionTime"],
    );
    let resource_status = object(
        "",
        vec![
            ("name", string("")),
            ("kind", string("")),
            ("namespaced", boolean("")),
            ("syncConditions", array(sync_condition, "")),
        ],
        &["name", "kind", "namespaced", "syncConditions"],
    );
    let status = object(
        "What the synchro manager reports about the cluster.",
        vec![
            ("apiserver", string("")),
            (
                "version",
                string("Kubernetes version of the member cluster."),
            ),
            ("conditions", array(condition, "")),
            (
                "syncResources",
                array(
                    object(
                        "",
                        vec![
                            ("group", string("")),
                            ("resources", array(resource_status, "")),
                        ],
                        &["group", "resources"],
                    ),
                    "",
                ),
            ),
            ("shardingName", string("")),
        ],
        &[],
    );
    object_root(spec, Some(status))
}

/// The schema of `ClusterSyncResources` (`crate::cluster::ClusterSyncResources`).
pub fn cluster_sync_resources_schema() -> Value {
    let spec = object(
        "A reusable list of resources to sync.",
        vec![(
            "syncResources",
            array(group_resources(), "The resources to sync."),
        )],
        &[],
    );
    object_root(spec, None)
}

fn column(name: &str, json_path: &str, priority: u32) -> Value {
    let mut c = json!({"name": name, "type": "string", "jsonPath": json_path});
    if priority > 0 {
        c["priority"] = json!(priority);
    }
    c
}

fn condition_column(type_: &str, field: &str, priority: u32) -> Value {
    let name = if field == "status" { "Ready" } else { type_ };
    column(
        name,
        &format!(".status.conditions[?(@.type == '{type_}')].{field}"),
        priority,
    )
}

struct Names<'a> {
    kind: &'a str,
    plural: &'a str,
    singular: &'a str,
}

fn crd(names: &Names<'_>, schema: Value, status: bool, columns: Vec<Value>) -> Value {
    let mut version = json!({
        "name": CLUSTER_API_VERSION,
        "served": true,
        "storage": true,
        "schema": {"openAPIV3Schema": schema},
    });
    if status {
        version["subresources"] = json!({"status": {}});
    }
    if !columns.is_empty() {
        version["additionalPrinterColumns"] = Value::Array(columns);
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{}.{CLUSTER_API_GROUP}", names.plural)},
        "spec": {
            "group": CLUSTER_API_GROUP,
            "names": {
                "kind": names.kind,
                "listKind": format!("{}List", names.kind),
                "plural": names.plural,
                "singular": names.singular,
            },
            "scope": "Cluster",
            "versions": [version],
        }
    })
}

/// The CRDs a host cluster needs, each with the file name Clusterpedia gives it.
pub fn custom_resource_definitions() -> Vec<(String, Value)> {
    let pedia_clusters = crd(
        &Names {
            kind: "PediaCluster",
            plural: "pediaclusters",
            singular: "pediacluster",
        },
        pedia_cluster_schema(),
        true,
        // Clusterpedia's printer columns, so `kubectl get pediaclusters` looks the same.
        vec![
            condition_column(condition::READY, "status", 0),
            column("Version", ".status.version", 0),
            column("APIServer", ".status.apiserver", 0),
            condition_column(condition::VALIDATED, "reason", 10),
            condition_column(condition::SYNCHRO_RUNNING, "reason", 10),
            condition_column(condition::CLUSTER_HEALTHY, "reason", 10),
            column("ShardingName", ".status.shardingName", 10),
        ],
    );
    let sync_resources = crd(
        &Names {
            kind: "ClusterSyncResources",
            plural: "clustersyncresources",
            singular: "clustersyncresources",
        },
        cluster_sync_resources_schema(),
        false,
        vec![],
    );
    [pedia_clusters, sync_resources]
        .into_iter()
        .map(|crd| {
            let file = format!(
                "{CLUSTER_API_GROUP}_{}.yaml",
                crd["spec"]["names"]["plural"].as_str().unwrap_or_default()
            );
            (file, crd)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::*;

    /// Checks `value` against `schema` as the API server would for these schemas: types,
    /// required fields, and no field the schema does not name (it would be pruned).
    fn validate(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
        let ty = schema["type"].as_str().unwrap_or_default();
        let ok = match ty {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            _ => false,
        };
        if !ok {
            errors.push(format!("{path}: expected {ty}, got {value}"));
            return;
        }
        if let (Some(props), Some(obj)) = (schema["properties"].as_object(), value.as_object()) {
            for (k, v) in obj {
                match props.get(k) {
                    Some(s) => validate(s, v, &format!("{path}.{k}"), errors),
                    None => errors.push(format!("{path}.{k}: not in the schema")),
                }
            }
            for r in schema["required"].as_array().into_iter().flatten() {
                let r = r.as_str().unwrap_or_default();
                if !obj.contains_key(r) {
                    errors.push(format!("{path}.{r}: required but absent"));
                }
            }
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
            for (i, v) in arr.iter().enumerate() {
                validate(items, v, &format!("{path}[{i}]"), errors);
            }
        }
    }

    /// Every property path the schema names, for the coverage check.
    fn schema_paths(schema: &Value, path: &str, out: &mut Vec<String>) {
        if let Some(props) = schema["properties"].as_object() {
            for (k, s) in props {
                let p = format!("{path}.{k}");
                out.push(p.clone());
                schema_paths(s, &p, out);
            }
        }
        if let Some(items) = schema.get("items") {
            schema_paths(items, &format!("{path}[]"), out);
        }
    }

    fn value_paths(value: &Value, path: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(obj) => {
                for (k, v) in obj {
                    let p = format!("{path}.{k}");
                    out.push(p.clone());
                    // `metadata` is `type: object` without properties, as in every CRD.
                    if p != ".metadata" {
                        value_paths(v, &p, out);
                    }
                }
            }
            Value::Array(arr) => {
                for v in arr {
                    value_paths(v, &format!("{path}[]"), out);
                }
            }
            _ => {}
        }
    }

    fn selector(name: &str) -> Option<SecretKeySelector> {
        Some(SecretKeySelector {
            name: name.to_owned(),
            key: "k".to_owned(),
        })
    }

    fn full_group_resources() -> ClusterGroupResources {
        ClusterGroupResources {
            group: "apps".to_owned(),
            versions: vec!["v1".to_owned()],
            resources: vec!["deployments".to_owned()],
            events_involved_resources: vec!["pods".to_owned()],
        }
    }

    /// A PediaCluster with every field set. Struct literals, not `..Default::default()`:
    /// a new field in a type stops this from compiling until it is set here, and then the
    /// schema checks below fail until the schema describes it.
    fn full_pedia_cluster() -> PediaCluster {
        let time = "2024-01-02T03:04:05Z".to_owned();
        PediaCluster {
            api_version: PediaCluster::api_version(),
            kind: PediaCluster::kind(),
            metadata: Metadata {
                name: "c1".to_owned(),
                resource_version: "1".to_owned(),
                uid: "u".to_owned(),
                creation_timestamp: Some(time.clone()),
                labels: [("a".to_owned(), "b".to_owned())].into(),
                annotations: [("a".to_owned(), "b".to_owned())].into(),
            },
            spec: ClusterSpec {
                kubeconfig: Some("a2M=".to_owned()),
                apiserver: "https://c1".to_owned(),
                token_data: Some("dA==".to_owned()),
                ca_data: Some("Y2E=".to_owned()),
                cert_data: Some("Yw==".to_owned()),
                key_data: Some("aw==".to_owned()),
                authentication_from: Some(ClusterAuthentication {
                    kube_config: selector("kc"),
                    ca: selector("ca"),
                    key: selector("key"),
                    cert: selector("cert"),
                    token: selector("token"),
                }),
                sync_resources: vec![full_group_resources()],
                sync_all_custom_resources: true,
                sync_resources_ref_name: "ref".to_owned(),
                sharding_name: "s".to_owned(),
            },
            status: ClusterStatus {
                apiserver: "https://c1".to_owned(),
                version: "v1.33.0".to_owned(),
                conditions: vec![Condition {
                    type_: condition::READY.to_owned(),
                    status: "True".to_owned(),
                    observed_generation: 1,
                    last_transition_time: time.clone(),
                    reason: "Healthy".to_owned(),
                    message: "m".to_owned(),
                }],
                sync_resources: vec![ClusterGroupResourcesStatus {
                    group: "apps".to_owned(),
                    resources: vec![ClusterResourceStatus {
                        name: "deployments".to_owned(),
                        kind: "Deployment".to_owned(),
                        namespaced: true,
                        sync_conditions: vec![ClusterResourceSyncCondition {
                            version: "v1".to_owned(),
                            sync_version: "v1".to_owned(),
                            storage_version: "v1".to_owned(),
                            status: sync_status::SYNCING.to_owned(),
                            reason: "r".to_owned(),
                            message: "m".to_owned(),
                            initial_list_phase: true,
                            last_transition_time: time,
                        }],
                    }],
                }],
                sharding_name: Some("s".to_owned()),
            },
        }
    }

    fn full_cluster_sync_resources() -> ClusterSyncResources {
        ClusterSyncResources {
            api_version: PediaCluster::api_version(),
            kind: "ClusterSyncResources".to_owned(),
            metadata: Metadata {
                name: "r".to_owned(),
                ..Metadata::default()
            },
            spec: ClusterSyncResourcesSpec {
                sync_resources: vec![full_group_resources()],
            },
        }
    }

    fn check_exact(schema: &Value, value: &Value) {
        let mut errors = Vec::new();
        validate(schema, value, "", &mut errors);
        assert!(
            errors.is_empty(),
            "schema rejects the type's JSON: {errors:#?}"
        );
        let mut in_schema = Vec::new();
        schema_paths(schema, "", &mut in_schema);
        let mut in_value = Vec::new();
        value_paths(value, "", &mut in_value);
        let missing: Vec<_> = in_schema.iter().filter(|p| !in_value.contains(p)).collect();
        assert!(
            missing.is_empty(),
            "schema fields the Rust type does not serialise: {missing:?}"
        );
    }

    #[test]
    fn pedia_cluster_schema_matches_the_type_exactly() {
        let value = serde_json::to_value(full_pedia_cluster()).expect("serialise");
        check_exact(&pedia_cluster_schema(), &value);
    }

    #[test]
    fn cluster_sync_resources_schema_matches_the_type_exactly() {
        let value = serde_json::to_value(full_cluster_sync_resources()).expect("serialise");
        check_exact(&cluster_sync_resources_schema(), &value);
    }

    #[test]
    fn schema_rejects_a_wrong_type_and_an_unknown_field() {
        let mut value = serde_json::to_value(full_pedia_cluster()).expect("serialise");
        value["spec"]["syncAllCustomResources"] = json!("yes");
        value["spec"]["bogus"] = json!(1);
        let mut errors = Vec::new();
        validate(&pedia_cluster_schema(), &value, "", &mut errors);
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    /// Kubernetes' structural-schema rules that matter here: every node has a `type`, an
    /// object has `properties` (or is `metadata`), and nothing uses `$ref`/`anyOf`/`oneOf`.
    fn structural(schema: &Value, path: &str, errors: &mut Vec<String>) {
        let Some(obj) = schema.as_object() else {
            errors.push(format!("{path}: not an object"));
            return;
        };
        if !obj.contains_key("type") {
            errors.push(format!("{path}: no type"));
        }
        for banned in ["$ref", "anyOf", "oneOf", "allOf", "nullable"] {
            if obj.contains_key(banned) {
                errors.push(format!("{path}: uses {banned}"));
            }
        }
        if obj.get("type") == Some(&json!("object"))
            && !obj.contains_key("properties")
            && path != ".metadata"
        {
            errors.push(format!("{path}: object without properties"));
        }
        if obj.get("type") == Some(&json!("array")) && !obj.contains_key("items") {
            errors.push(format!("{path}: array without items"));
        }
        for (k, s) in obj
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            structural(s, &format!("{path}.{k}"), errors);
        }
        if let Some(items) = obj.get("items") {
            structural(items, &format!("{path}[]"), errors);
        }
    }

    #[test]
    fn crds_are_structural_with_clusterpedias_names_and_columns() {
        let crds = custom_resource_definitions();
        let files: Vec<_> = crds.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            files,
            [
                "cluster.clusterpedia.io_pediaclusters.yaml",
                "cluster.clusterpedia.io_clustersyncresources.yaml"
            ]
        );
        for (file, crd) in &crds {
            let version = &crd["spec"]["versions"][0];
            let mut errors = Vec::new();
            structural(&version["schema"]["openAPIV3Schema"], "", &mut errors);
            assert!(errors.is_empty(), "{file}: {errors:#?}");
            assert_eq!(version["name"], "v1alpha2");
            assert_eq!(crd["spec"]["scope"], "Cluster");
        }
        let pc = &crds[0].1;
        assert_eq!(
            pc["metadata"]["name"],
            "pediaclusters.cluster.clusterpedia.io"
        );
        assert_eq!(
            pc["spec"]["versions"][0]["subresources"],
            json!({"status": {}})
        );
        let columns: Vec<_> = pc["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| c["name"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            columns,
            [
                "Ready",
                "Version",
                "APIServer",
                "Validated",
                "SynchroRunning",
                "ClusterHealthy",
                "ShardingName"
            ]
        );
        assert_eq!(
            pc["spec"]["versions"][0]["additionalPrinterColumns"][0]["jsonPath"],
            ".status.conditions[?(@.type == 'Ready')].status"
        );
    }
}
