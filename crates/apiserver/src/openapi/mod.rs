//! `/openapi/v3` and `/openapi/v2` under each search prefix, for the served kinds: what
//! `kubectl explain` reads, and what `kubectl apply` checks before it writes (the PATCH
//! operations announce server-side `fieldValidation`, so kubectl skips client-side
//! validation and its request reaches this read-only API's 405). Built-in kinds get their
//! real schemas (k8s-openapi's, Kubernetes 1.33); other kinds an open object schema.

use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use crate::discovery::Served;

pub mod proto;

/// `builtin_schema`: registers the schema of a built-in kind and returns its name.
macro_rules! builtin_kinds {
    ($($path:path),* $(,)?) => {
        fn builtin_schema(generator: &mut SchemaGenerator, group: &str, version: &str, kind: &str) -> Option<String> {
            use k8s_openapi::Resource as _;
            $(
                if <$path>::GROUP == group && <$path>::VERSION == version && <$path>::KIND == kind {
                    generator.subschema_for::<$path>();
                    return Some(<$path as schemars::JsonSchema>::schema_name().into_owned());
                }
            )*
            None
        }
    };
}

builtin_kinds![
    k8s_openapi::api::core::v1::Pod,
    k8s_openapi::api::core::v1::Node,
    k8s_openapi::api::core::v1::Namespace,
    k8s_openapi::api::core::v1::Service,
    k8s_openapi::api::core::v1::ConfigMap,
    k8s_openapi::api::core::v1::Secret,
    k8s_openapi::api::core::v1::Endpoints,
    k8s_openapi::api::core::v1::Event,
    k8s_openapi::api::core::v1::PersistentVolume,
    k8s_openapi::api::core::v1::PersistentVolumeClaim,
    k8s_openapi::api::core::v1::ServiceAccount,
    k8s_openapi::api::core::v1::ReplicationController,
    k8s_openapi::api::core::v1::LimitRange,
    k8s_openapi::api::core::v1::ResourceQuota,
    k8s_openapi::api::core::v1::PodTemplate,
    k8s_openapi::api::apps::v1::Deployment,
    k8s_openapi::api::apps::v1::ReplicaSet,
    k8s_openapi::api::apps::v1::StatefulSet,
    k8s_openapi::api::apps::v1::DaemonSet,
    k8s_openapi::api::apps::v1::ControllerRevision,
    k8s_openapi::api::batch::v1::Job,
    k8s_openapi::api::batch::v1::CronJob,
    k8s_openapi::api::networking::v1::Ingress,
    k8s_openapi::api::networking::v1::IngressClass,
    k8s_openapi::api::networking::v1::NetworkPolicy,
    k8s_openapi::api::rbac::v1::Role,
    k8s_openapi::api::rbac::v1::RoleBinding,
    k8s_openapi::api::rbac::v1::ClusterRole,
    k8s_openapi::api::rbac::v1::ClusterRoleBinding,
    k8s_openapi::api::storage::v1::StorageClass,
    k8s_openapi::api::storage::v1::CSIDriver,
    k8s_openapi::api::storage::v1::CSINode,
    k8s_openapi::api::storage::v1::VolumeAttachment,
    k8s_openapi::api::policy::v1::PodDisruptionBudget,
    k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler,
    k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler,
    k8s_openapi::api::discovery::v1::EndpointSlice,
    k8s_openapi::api::coordination::v1::Lease,
    k8s_openapi::api::events::v1::Event,
    k8s_openapi::api::scheduling::v1::PriorityClass,
    k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration,
    k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration,
    k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
];

/// `core/v1` style key of a group version, and its URL path (`api/v1`, `apis/apps/v1`).
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The schema name kube-openapi would give a kind we have no schema for.
fn open_schema_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// Schemas of `kinds` (one group version) and everything they reference, with the
/// `x-kubernetes-group-version-kind` kubectl looks kinds up by.
fn schemas(settings: SchemaSettings, kinds: &[(String, String, String)]) -> Map<String, Value> {
    let mut generator = settings.into_generator();
    let mut tops = Vec::new();
    for (group, version, kind) in kinds {
        let name = builtin_schema(&mut generator, group, version, kind);
        tops.push((name, group, version, kind));
    }
    let mut defs = generator.take_definitions(true);
    for (name, group, version, kind) in tops {
        let gvk = json!([{"group": group, "version": version, "kind": kind}]);
        let name = name.unwrap_or_else(|| {
            let name = open_schema_name(group, version, kind);
            defs.insert(
                name.clone(),
                json!({
                    "description": format!("{kind} ({group}/{version}): a kind this API serves without a schema."),
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true,
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    },
                }),
            );
            name
        });
        if let Some(Value::Object(schema)) = defs.get_mut(&name) {
            schema.insert("x-kubernetes-group-version-kind".into(), gvk);
        }
    }
    defs
}

fn kinds_of(served: &Served, group: &str, version: &str) -> Vec<(String, String, String)> {
    let mut kinds: Vec<(String, String, String)> = served
        .resources()
        .filter(|r| r.resource.gvr.group == group && r.resource.gvr.version == version)
        .map(|r| {
            (
                group.to_owned(),
                version.to_owned(),
                r.resource.kind.clone(),
            )
        })
        .collect();
    kinds.dedup();
    kinds
}

/// `GET <prefix>/openapi/v3`: the group versions, each with the URL of its document.
/// kubectl fetches those URLs as given (they replace its server path), so they carry the
/// search prefix; `hash` changes whenever the set of served kinds does.
pub fn v3_root(prefix: &str, served: &Served) -> Value {
    let mut paths = Map::new();
    let mut gvs: Vec<(String, String)> = served
        .resources()
        .map(|r| (r.resource.gvr.group.clone(), r.resource.gvr.version.clone()))
        .collect();
    gvs.sort();
    gvs.dedup();
    for (group, version) in gvs {
        let path = gv_path(&group, &version);
        let kinds = kinds_of(served, &group, &version);
        let hash = fnv(&format!("{}{kinds:?}", crate::respond::version_info()));
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("{prefix}/openapi/v3/{path}?hash={hash:016X}")}),
        );
    }
    json!({ "paths": paths })
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The query parameters of a collection's PATCH, as kube-apiserver lists them: kubectl
/// decides from `fieldValidation` that the server validates fields itself.
fn patch_operation(group: &str, version: &str, kind: &str) -> Value {
    let param = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
    json!({
        "description": format!("partially update the specified {kind} (refused: this search API is read-only)"),
        "operationId": format!("patch{kind}"),
        "parameters": [param("dryRun"), param("fieldManager"), param("fieldValidation"), param("force")],
        "responses": {"405": {"description": "MethodNotAllowed"}},
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
    })
}

/// A collection's GET (list), as kube-apiserver documents it: kubectl 1.27's `explain`
/// finds a resource's kind only through the list paths' GET operations.
fn list_operation(group: &str, version: &str, kind: &str) -> Value {
    json!({
        "description": format!("list or watch objects of kind {kind}"),
        "operationId": format!("list{kind}"),
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": "list",
        "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
    })
}

/// `GET <prefix>/openapi/v3/api/v1` (or `apis/<group>/<version>`): the served kinds'
/// schemas, each resource's list paths (GET) and its named path (PATCH, which kubectl
/// reads to decide how to apply; it is refused). `None` for a group version not served.
pub fn v3_group_version(served: &Served, group: &str, version: &str) -> Option<Value> {
    let kinds = kinds_of(served, group, version);
    if kinds.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    for r in served
        .resources()
        .filter(|r| r.resource.gvr.group == group && r.resource.gvr.version == version)
    {
        let base = gv_path(group, version);
        let resource = &r.resource.gvr.resource;
        let kind = &r.resource.kind;
        let scope = if r.resource.namespaced {
            format!("/{base}/namespaces/{{namespace}}/{resource}")
        } else {
            format!("/{base}/{resource}")
        };
        paths.insert(
            format!("{scope}/{{name}}"),
            json!({"patch": patch_operation(group, version, kind)}),
        );
        let list = json!({"get": list_operation(group, version, kind)});
        paths.insert(format!("/{base}/{resource}"), list.clone());
        paths.insert(scope, list);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Clusterpedia-rs search API", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": schemas(SchemaSettings::openapi3(), &kinds)},
    }))
}

/// `GET <prefix>/openapi/v2`: every served kind's schema in Swagger 2.0 form.
pub fn v2(served: &Served) -> Value {
    let mut kinds: Vec<(String, String, String)> = served
        .resources()
        .map(|r| {
            let g = &r.resource.gvr;
            (g.group.clone(), g.version.clone(), r.resource.kind.clone())
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    let mut settings = SchemaSettings::draft07();
    settings.meta_schema = None;
    let mut definitions = Value::Object(schemas(settings, &kinds));
    flatten_ref_wrappers(&mut definitions);
    json!({
        "swagger": "2.0",
        "info": {"title": "Clusterpedia-rs search API", "version": "v1.33.0"},
        "paths": {},
        "definitions": definitions,
    })
}

/// `{"allOf": [{"$ref": r}], "description": d}` -> `{"$ref": r, "description": d}`: Swagger
/// 2.0 readers (kube-openapi's, behind kubectl 1.27's explain) follow a bare `$ref` only.
fn flatten_ref_wrappers(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let single_ref = match map.get("allOf") {
                Some(Value::Array(all)) if all.len() == 1 => all[0].get("$ref").cloned(),
                _ => None,
            };
            if let Some(r) = single_ref {
                map.remove("allOf");
                map.insert("$ref".into(), r);
            }
            map.values_mut().for_each(flatten_ref_wrappers);
        }
        Value::Array(items) => items.iter_mut().for_each(flatten_ref_wrappers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use pedia_core::{GroupVersionResource, ResourceType};
    use pedia_storage::StoredResource;

    use super::*;

    fn served() -> Served {
        let stored = |g: &str, v: &str, r: &str, k: &str, ns: bool| StoredResource {
            resource: ResourceType::new(GroupVersionResource::new(g, v, r), k, ns),
            clusters: vec!["c1".into()],
        };
        Served::from_stored(
            &[
                stored("", "v1", "pods", "Pod", true),
                stored("apps", "v1", "deployments", "Deployment", true),
                stored("example.com", "v1", "widgets", "Widget", false),
            ],
            None,
        )
    }

    #[test]
    fn the_root_lists_served_group_versions_with_prefixed_urls() {
        let root = v3_root("/apis/clusterpedia.io/v1beta1/resources", &served());
        let url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .expect("url");
        assert!(
            url.starts_with(
                "/apis/clusterpedia.io/v1beta1/resources/openapi/v3/apis/apps/v1?hash="
            ),
            "{url}"
        );
        assert!(root["paths"]["api/v1"].is_object());
        assert!(
            root["paths"].get("apis/batch/v1").is_none(),
            "only served group versions"
        );
    }

    #[test]
    fn built_in_kinds_have_real_schemas_and_their_gvk() {
        let doc = v3_group_version(&served(), "", "v1").expect("served");
        let pod = &doc["components"]["schemas"]["io.k8s.api.core.v1.Pod"];
        assert_eq!(pod["x-kubernetes-group-version-kind"][0]["kind"], "Pod");
        let spec_ref = pod["properties"]["spec"]["allOf"][0]["$ref"]
            .as_str()
            .unwrap_or_default();
        assert!(
            spec_ref.starts_with("#/components/schemas/io.k8s.api.core.v1.PodSpec"),
            "{pod}"
        );
        assert!(
            doc["components"]["schemas"]["io.k8s.api.core.v1.Container"]["properties"]["image"]
                .is_object()
        );
        let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
        assert!(
            patch["parameters"]
                .as_array()
                .expect("params")
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(v3_group_version(&served(), "batch", "v1").is_none());
    }

    #[test]
    fn other_kinds_get_an_open_schema() {
        let doc = v3_group_version(&served(), "example.com", "v1").expect("served");
        let widget = &doc["components"]["schemas"]["com.example.v1.Widget"];
        assert_eq!(widget["x-kubernetes-preserve-unknown-fields"], true);
        assert_eq!(
            widget["x-kubernetes-group-version-kind"][0]["group"],
            "example.com"
        );
        let v2 = v2(&served());
        assert!(
            v2["definitions"]["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"]["$ref"]
                .as_str()
                .is_some_and(|r| r.starts_with("#/definitions/"))
        );
    }
}
