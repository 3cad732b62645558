//! Rows of the remaining core objects: Nodes, Namespaces, ConfigMaps, Secrets,
//! PersistentVolumeClaims and Events (`printNode` ... `printEvent`).

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::fields::{
    age, at, boolean, deleting, int, list, map_len, name, object, opt_string, since, string, time,
};

/// Label prefix marking node roles, `node-role.kubernetes.io/<role>`.
const NODE_ROLE_PREFIX: &str = "node-role.kubernetes.io/";
/// Older role label, `kubernetes.io/role=<role>`.
const NODE_ROLE_LABEL: &str = "kubernetes.io/role";

/// The first address of the given type, `<none>` without one.
fn node_address<'a>(node: &'a Value, kind: &str) -> &'a str {
    list(node, &["status", "addresses"])
        .iter()
        .find(|address| string(address, &["type"]) == kind)
        .map_or("<none>", |address| string(address, &["address"]))
}

/// NAME STATUS ROLES AGE VERSION
/// | INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME.
pub(super) fn node(node: &Value, now: Timestamp) -> Vec<Value> {
    // Only the Ready condition is reported; the last one listed wins, as in kube's map.
    let ready = list(node, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| string(c, &["type"]) == "Ready");
    let mut status = vec![match ready {
        Some(c) if string(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if boolean(node, &["spec", "unschedulable"]) {
        status.push("SchedulingDisabled");
    }

    let mut roles = BTreeSet::new();
    for (key, value) in object(node, &["metadata", "labels"]).into_iter().flatten() {
        if let Some(role) = key.strip_prefix(NODE_ROLE_PREFIX) {
            if !role.is_empty() {
                roles.insert(role);
            }
        } else if key == NODE_ROLE_LABEL
            && let Some(role) = value.as_str().filter(|r| !r.is_empty())
        {
            roles.insert(role);
        }
    }
    let roles = if roles.is_empty() {
        "<none>".to_owned()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    };

    let info = |field: &str| match string(node, &["status", "nodeInfo", field]) {
        "" => "<unknown>",
        v => v,
    };
    vec![
        json!(name(node)),
        json!(status.join(",")),
        json!(roles),
        json!(age(node, now)),
        json!(string(node, &["status", "nodeInfo", "kubeletVersion"])),
        json!(node_address(node, "InternalIP")),
        json!(node_address(node, "ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

/// NAME STATUS AGE.
pub(super) fn namespace(ns: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(ns)),
        json!(string(ns, &["status", "phase"])),
        json!(age(ns, now)),
    ]
}

/// NAME DATA AGE, where DATA counts `data` and `binaryData` keys.
pub(super) fn config_map(cm: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(cm)),
        json!(map_len(cm, &["data"]) + map_len(cm, &["binaryData"])),
        json!(age(cm, now)),
    ]
}

/// NAME TYPE DATA AGE.
pub(super) fn secret(secret: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        json!(name(secret)),
        json!(string(secret, &["type"])),
        json!(map_len(secret, &["data"])),
        json!(age(secret, now)),
    ]
}

/// `GetAccessModesAsString`: deduplicated, always in the order RWO,ROX,RWX,RWOP.
fn access_modes(modes: &[Value]) -> String {
    let has = |mode: &str| modes.iter().any(|m| m.as_str() == Some(mode));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .into_iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| short)
    .collect::<Vec<_>>()
    .join(",")
}

/// NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE
/// | VOLUMEMODE.
pub(super) fn persistent_volume_claim(pvc: &Value, now: Timestamp) -> Vec<Value> {
    let phase = if deleting(pvc) {
        "Terminating"
    } else {
        string(pvc, &["status", "phase"])
    };
    let volume = string(pvc, &["spec", "volumeName"]);
    // Capacity and access modes only mean something once the claim is bound to a volume;
    // an absent capacity is the zero Quantity, printed `0`.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            at(pvc, &["status", "capacity", "storage"]).map_or_else(|| "0".to_owned(), quantity),
            access_modes(list(pvc, &["status", "accessModes"])),
        )
    };
    // The beta annotation still takes precedence over spec.storageClassName.
    let class = opt_string(
        pvc,
        &[
            "metadata",
            "annotations",
            "volume.beta.kubernetes.io/storage-class",
        ],
    )
    .or_else(|| opt_string(pvc, &["spec", "storageClassName"]))
    .unwrap_or("");
    vec![
        json!(name(pvc)),
        json!(phase),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(class),
        json!(opt_string(pvc, &["spec", "volumeAttributesClassName"]).unwrap_or("<unset>")),
        json!(age(pvc, now)),
        json!(opt_string(pvc, &["spec", "volumeMode"]).unwrap_or("<unset>")),
    ]
}

/// A serialized `resource.Quantity`. The server already wrote it in canonical form, which
/// `Quantity.String()` would reproduce, so it is printed as stored.
fn quantity(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The fields `printEvent` reads, from either API of the one Event storage.
struct EventFields<'a> {
    first_timestamp: Option<Timestamp>,
    last_timestamp: Option<Timestamp>,
    event_time: Option<Timestamp>,
    count: i64,
    series: Option<(i64, Option<Timestamp>)>,
    component: &'a str,
    host: &'a str,
    reporting_controller: &'a str,
    reporting_instance: &'a str,
    object_kind: &'a str,
    object_name: &'a str,
    field_path: &'a str,
    message: &'a str,
}

impl<'a> EventFields<'a> {
    /// A core `v1` Event.
    fn core(ev: &'a Value) -> Self {
        Self {
            first_timestamp: time(ev, &["firstTimestamp"]),
            last_timestamp: time(ev, &["lastTimestamp"]),
            event_time: time(ev, &["eventTime"]),
            count: int(ev, &["count"]),
            series: Self::series(ev),
            component: string(ev, &["source", "component"]),
            host: string(ev, &["source", "host"]),
            reporting_controller: string(ev, &["reportingComponent"]),
            reporting_instance: string(ev, &["reportingInstance"]),
            object_kind: string(ev, &["involvedObject", "kind"]),
            object_name: string(ev, &["involvedObject", "name"]),
            field_path: string(ev, &["involvedObject", "fieldPath"]),
            message: string(ev, &["message"]),
        }
    }

    /// An `events.k8s.io/v1` Event, mapped onto the core fields the way the API server
    /// converts it before printing.
    fn events_v1(ev: &'a Value) -> Self {
        Self {
            first_timestamp: time(ev, &["deprecatedFirstTimestamp"]),
            last_timestamp: time(ev, &["deprecatedLastTimestamp"]),
            event_time: time(ev, &["eventTime"]),
            count: int(ev, &["deprecatedCount"]),
            series: Self::series(ev),
            component: string(ev, &["deprecatedSource", "component"]),
            host: string(ev, &["deprecatedSource", "host"]),
            reporting_controller: string(ev, &["reportingController"]),
            reporting_instance: string(ev, &["reportingInstance"]),
            object_kind: string(ev, &["regarding", "kind"]),
            object_name: string(ev, &["regarding", "name"]),
            field_path: string(ev, &["regarding", "fieldPath"]),
            message: string(ev, &["note"]),
        }
    }

    fn series(ev: &Value) -> Option<(i64, Option<Timestamp>)> {
        at(ev, &["series"]).map(|s| (int(s, &["count"]), time(s, &["lastObservedTime"])))
    }
}

/// LAST SEEN TYPE REASON OBJECT | SUBOBJECT SOURCE | MESSAGE | FIRST SEEN COUNT NAME.
fn event_cells(ev: &Value, fields: &EventFields<'_>, now: Timestamp) -> Vec<Value> {
    // Events written through events.k8s.io only carry eventTime.
    let first_seen = match fields.first_timestamp {
        Some(t) => since(Some(t), now),
        None => since(fields.event_time, now),
    };
    let mut last_seen = match fields.last_timestamp {
        Some(t) => since(Some(t), now),
        None => first_seen.clone(),
    };
    let mut count = fields.count;
    if let Some((series_count, last_observed)) = fields.series {
        last_seen = since(last_observed, now);
        count = series_count;
    } else if count == 0 {
        // Singleton events don't have a count set in the new API.
        count = 1;
    }
    let kind = fields.object_kind.to_lowercase();
    let object = if fields.object_name.is_empty() {
        kind
    } else {
        format!("{kind}/{}", fields.object_name)
    };
    let component = first_non_empty(fields.component, fields.reporting_controller);
    let instance = first_non_empty(fields.host, fields.reporting_instance);
    let source = if instance.is_empty() {
        component.to_owned()
    } else {
        format!("{component}, {instance}")
    };
    vec![
        json!(last_seen),
        json!(string(ev, &["type"])),
        json!(string(ev, &["reason"])),
        json!(object),
        json!(fields.field_path),
        json!(source),
        json!(fields.message.trim()),
        json!(first_seen),
        json!(count),
        json!(name(ev)),
    ]
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

/// A core `v1` Event.
pub(super) fn event(ev: &Value, now: Timestamp) -> Vec<Value> {
    event_cells(ev, &EventFields::core(ev), now)
}

/// An `events.k8s.io/v1` Event.
pub(super) fn events_v1_event(ev: &Value, now: Timestamp) -> Vec<Value> {
    event_cells(ev, &EventFields::events_v1(ev), now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::tests::{now, parse};

    #[test]
    fn nodes() {
        let node_json = parse(include_str!("../testdata/node.json"));
        assert_eq!(
            node(&node_json, now()),
            [
                "cp-1",
                "Ready,SchedulingDisabled",
                "control-plane,etcd",
                "200d",
                "v1.33.1",
                "192.168.10.11",
                "<none>",
                "Ubuntu 24.04.2 LTS",
                "6.8.0-60-generic",
                "containerd://2.0.5"
            ]
        );

        let mut bare = json!({
            "metadata": {"name": "n", "creationTimestamp": "2025-05-01T11:59:00Z"},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}
        });
        assert_eq!(
            node(&bare, now())[1..],
            [
                "NotReady",
                "<none>",
                "60s",
                "",
                "<none>",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>"
            ]
        );
        bare["status"] = json!({});
        bare["metadata"]["labels"] =
            json!({"kubernetes.io/role": "edge", "node-role.kubernetes.io/": ""});
        assert_eq!(node(&bare, now())[1..3], ["Unknown", "edge"]);
    }

    #[test]
    fn namespaces_config_maps_and_secrets() {
        let ns = json!({
            "metadata": {"name": "team-a", "creationTimestamp": "2025-03-01T12:00:00Z"},
            "status": {"phase": "Terminating"}
        });
        assert_eq!(namespace(&ns, now()), ["team-a", "Terminating", "61d"]);

        let cm = json!({
            "metadata": {"name": "settings", "creationTimestamp": "2025-05-01T09:30:00Z"},
            "data": {"a": "1", "b": "2"},
            "binaryData": {"c": "AA=="}
        });
        assert_eq!(
            config_map(&cm, now()),
            [json!("settings"), json!(3), json!("150m")]
        );

        let tls = json!({
            "metadata": {"name": "web-tls", "creationTimestamp": "2025-05-01T11:00:00Z"},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"}
        });
        assert_eq!(
            secret(&tls, now()),
            [
                json!("web-tls"),
                json!("kubernetes.io/tls"),
                json!(2),
                json!("60m")
            ]
        );
    }

    #[test]
    fn persistent_volume_claims() {
        let pvc = parse(include_str!("../testdata/pvc-bound.json"));
        assert_eq!(
            persistent_volume_claim(&pvc, now()),
            [
                "data-db-0",
                "Bound",
                "pvc-5d1b2f9a-3c3e-4a8e-9a59-5a7e0f4c1e21",
                "10Gi",
                "RWO,RWOP",
                "fast-ssd",
                "<unset>",
                "45d",
                "Filesystem"
            ]
        );

        let pending = json!({
            "metadata": {"name": "scratch", "creationTimestamp": "2025-05-01T11:58:00Z",
                         "annotations": {"volume.beta.kubernetes.io/storage-class": "legacy"}},
            "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "standard",
                     "volumeAttributesClassName": "gold",
                     "resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Pending"}
        });
        assert_eq!(
            persistent_volume_claim(&pending, now()),
            [
                "scratch", "Pending", "", "", "", "legacy", "gold", "2m", "<unset>"
            ]
        );

        let mut deleting = pvc.clone();
        deleting["metadata"]["deletionTimestamp"] = json!("2025-05-01T11:59:00Z");
        assert_eq!(persistent_volume_claim(&deleting, now())[1], "Terminating");
    }

    #[test]
    fn core_events() {
        let list = parse(include_str!("../testdata/events.json"));
        let items = list["items"].as_array().cloned().unwrap_or_default();
        assert_eq!(
            event(&items[0], now()),
            [
                json!("4m30s"),
                json!("Warning"),
                json!("BackOff"),
                json!("pod/web-7d4b9c8f6d-x2x9k"),
                json!("spec.containers{nginx}"),
                json!("kubelet, worker-1"),
                json!(
                    "Back-off restarting failed container nginx in pod web-7d4b9c8f6d-x2x9k_default(5f0c3c0e-1d4b-4c4b-9a0c-2f0d8e3c4b11)"
                ),
                json!("26h"),
                json!(212),
                json!("web-7d4b9c8f6d-x2x9k.17d2a5b0c3c1e4f2"),
            ]
        );
        // Written through events.k8s.io: eventTime and series instead of timestamps,
        // reporting controller instead of source.
        assert_eq!(
            event(&items[1], now()),
            [
                json!("30s"),
                json!("Normal"),
                json!("ScalingReplicaSet"),
                json!("deployment/web"),
                json!(""),
                json!("deployment-controller"),
                json!("Scaled up replica set web-7d4b9c8f6d from 2 to 3"),
                json!("10m"),
                json!(4),
                json!("web.17d2a5b0c3c1e4f3"),
            ]
        );
        // A singleton without count or timestamps, about a cluster-scoped object.
        assert_eq!(
            event(&items[2], now())[..9],
            [
                json!("<unknown>"),
                json!("Normal"),
                json!("RegisteredNode"),
                json!("node/worker-1"),
                json!(""),
                json!("node-controller"),
                json!("Node worker-1 event: Registered Node worker-1 in Controller"),
                json!("<unknown>"),
                json!(1),
            ]
        );
    }

    #[test]
    fn events_k8s_io_event_prints_like_core() {
        let ev = json!({
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "web.17d2a5b0c3c1e4f3", "namespace": "default"},
            "eventTime": "2025-05-01T11:50:00.000000Z",
            "series": {"count": 4, "lastObservedTime": "2025-05-01T11:59:30.000000Z"},
            "reportingController": "deployment-controller",
            "reportingInstance": "",
            "action": "ScaleUp",
            "reason": "ScalingReplicaSet",
            "regarding": {"kind": "Deployment", "namespace": "default", "name": "web"},
            "note": "Scaled up replica set web-7d4b9c8f6d from 2 to 3 ",
            "type": "Normal",
            "deprecatedSource": {"component": "deployment-controller"}
        });
        let list = parse(include_str!("../testdata/events.json"));
        assert_eq!(events_v1_event(&ev, now()), event(&list["items"][1], now()));
    }
}
