//! Rendering objects as the `meta.k8s.io/v1` Table that kube-apiserver returns to
//! `kubectl get`, with a `CLUSTER` column first.
//!
//! The columns and cells follow kube-apiserver 1.33's server-side printers
//! (`pkg/printers/internalversion/printers.go`) for the kinds people list most: Pods,
//! Services, Nodes, Namespaces, ConfigMaps, Secrets, PersistentVolumeClaims, Events (core
//! and `events.k8s.io`), Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs,
//! CronJobs and Ingresses. Every other kind gets the `Name`/`Age` pair kube gives a custom
//! resource without printer columns.
//!
//! The server always prints the wide form and leaves hiding `priority: 1` columns to
//! kubectl, so [`cells`] always returns every column and nothing is clipped for narrow
//! output. Cells are computed from the object JSON as stored by the member cluster, i.e.
//! already defaulted by its API server.

mod columns;
mod core_v1;
mod fields;
mod labels;
mod network;
mod pod;
mod workloads;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// A column of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    /// JSON schema type: `"string"`, `"integer"`, `"number"`, `"boolean"` or `"date"`.
    pub kind: &'static str,
    /// `"name"` for the column holding the object name, else `""`.
    pub format: &'static str,
    pub description: &'static str,
    /// 0: always shown; 1: only with `-o wide`.
    pub priority: i32,
}

impl Column {
    /// The `TableColumnDefinition` JSON (every field is always present, as in kube).
    fn to_json(self) -> Value {
        json!({
            "name": self.name,
            "type": self.kind,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// Which of kube's printers renders a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Printer {
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    Service,
    Ingress,
    Node,
    Namespace,
    ConfigMap,
    Secret,
    PersistentVolumeClaim,
    Event,
    /// `events.k8s.io` Events: same storage and printer as core Events, other field names.
    EventsV1Event,
    Generic,
}

impl Printer {
    fn of(group: &str, kind: &str) -> Self {
        match (group, kind) {
            ("", "Pod") => Self::Pod,
            ("", "Service") => Self::Service,
            ("", "Node") => Self::Node,
            ("", "Namespace") => Self::Namespace,
            ("", "ConfigMap") => Self::ConfigMap,
            ("", "Secret") => Self::Secret,
            ("", "PersistentVolumeClaim") => Self::PersistentVolumeClaim,
            ("", "Event") => Self::Event,
            ("events.k8s.io", "Event") => Self::EventsV1Event,
            ("apps", "Deployment") => Self::Deployment,
            ("apps", "ReplicaSet") => Self::ReplicaSet,
            ("apps", "StatefulSet") => Self::StatefulSet,
            ("apps", "DaemonSet") => Self::DaemonSet,
            ("batch", "Job") => Self::Job,
            ("batch", "CronJob") => Self::CronJob,
            ("networking.k8s.io", "Ingress") => Self::Ingress,
            _ => Self::Generic,
        }
    }

    fn columns(self) -> &'static [Column] {
        match self {
            Self::Pod => columns::POD,
            Self::Deployment => columns::DEPLOYMENT,
            Self::ReplicaSet => columns::REPLICA_SET,
            Self::StatefulSet => columns::STATEFUL_SET,
            Self::DaemonSet => columns::DAEMON_SET,
            Self::Job => columns::JOB,
            Self::CronJob => columns::CRON_JOB,
            Self::Service => columns::SERVICE,
            Self::Ingress => columns::INGRESS,
            Self::Node => columns::NODE,
            Self::Namespace => columns::NAMESPACE,
            Self::ConfigMap => columns::CONFIG_MAP,
            Self::Secret => columns::SECRET,
            Self::PersistentVolumeClaim => columns::PERSISTENT_VOLUME_CLAIM,
            Self::Event | Self::EventsV1Event => columns::EVENT,
            Self::Generic => columns::GENERIC,
        }
    }

    fn cells(self, object: &Value, now: Timestamp) -> Vec<Value> {
        match self {
            Self::Pod => pod::cells(object, now),
            Self::Deployment => workloads::deployment(object, now),
            Self::ReplicaSet => workloads::replica_set(object, now),
            Self::StatefulSet => workloads::stateful_set(object, now),
            Self::DaemonSet => workloads::daemon_set(object, now),
            Self::Job => workloads::job(object, now),
            Self::CronJob => workloads::cron_job(object, now),
            Self::Service => network::service(object, now),
            Self::Ingress => network::ingress(object, now),
            Self::Node => core_v1::node(object, now),
            Self::Namespace => core_v1::namespace(object, now),
            Self::ConfigMap => core_v1::config_map(object, now),
            Self::Secret => core_v1::secret(object, now),
            Self::PersistentVolumeClaim => core_v1::persistent_volume_claim(object, now),
            Self::Event => core_v1::event(object, now),
            Self::EventsV1Event => core_v1::events_v1_event(object, now),
            Self::Generic => generic_cells(object, now),
        }
    }

    /// `TableRow.conditions`; kube only sets them for finished pods.
    fn row_conditions(self, object: &Value) -> Option<Value> {
        match self {
            Self::Pod => pod::row_conditions(object),
            _ => None,
        }
    }
}

/// The apiextensions server's default for custom resources: the name, and the creation
/// timestamp as a duration. An absent timestamp matches no JSONPath result (`null`), an
/// unparsable one prints `<invalid>`.
fn generic_cells(object: &Value, now: Timestamp) -> Vec<Value> {
    let age = match fields::at(object, &["metadata", "creationTimestamp"]).map(Value::as_str) {
        None | Some(None) => Value::Null,
        Some(Some(text)) => match fields::parse_time(text) {
            Ok(Some(t)) => json!(human_duration(t, now)),
            Ok(None) => json!("<unknown>"),
            Err(fields::BadTime) => json!("<invalid>"),
        },
    };
    vec![json!(fields::name(object)), age]
}

/// The columns for objects of `group`/`kind`, WITHOUT the CLUSTER column: kube's columns
/// for the kinds listed in the [module docs](self), `Name` + `Age` for every other kind.
pub fn columns(group: &str, kind: &str) -> Vec<Column> {
    Printer::of(group, kind).columns().to_vec()
}

/// One row's cells, aligned with [`columns`]`(group, kind)`; `now` is used for AGE-like
/// durations.
pub fn cells(group: &str, kind: &str, object: &Value, now: Timestamp) -> Vec<Value> {
    Printer::of(group, kind).cells(object, now)
}

/// Kubernetes' human-readable duration from `since` to `now` (`duration.HumanDuration`, as
/// `translateTimestampSince` uses it): about two significant figures, e.g. `45s`, `119s`,
/// `9m59s`, `42m`, `3h20m`, `30h`, `2d3h`, `45d`, `2y30d`, `12y`. A `since` up to two
/// seconds in the future (clock skew) reads `0s`, further ahead `<invalid>`. Callers print
/// `<unknown>` themselves for a missing timestamp, as kube does.
pub fn human_duration(since: Timestamp, now: Timestamp) -> String {
    // Go's time.Sub saturates at the int64 nanosecond range (about 292 years).
    let nanos = now.duration_since(since).as_nanos();
    let nanos = i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX });
    human_duration_nanos(nanos)
}

/// `duration.HumanDuration` on a Go `time.Duration`; integer division truncates toward
/// zero exactly like Go's conversions.
fn human_duration_nanos(d: i64) -> String {
    const SECOND: i64 = 1_000_000_000;
    const MINUTE: i64 = 60 * SECOND;
    const HOUR: i64 = 60 * MINUTE;

    let seconds = d / SECOND;
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = d / MINUTE;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = d / HOUR;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// `ListMeta` keeps only what it would serialize: every field is `omitempty`.
fn list_metadata(list_meta: Value) -> Value {
    match list_meta {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null() && v.as_str() != Some(""))
                .collect(),
        ),
        _ => Value::Object(Map::new()),
    }
}

/// The whole `meta.k8s.io/v1` Table for `rows` = (cluster name, object JSON, object to
/// embed): the CLUSTER column, then [`columns`]`(group, kind)`; each row holds
/// `[cluster, ...cells]` and the embedded object as given (kube's `includeObject` choice
/// is the caller's). Finished pods carry kube's `Completed` row condition.
pub fn table(
    group: &str,
    kind: &str,
    rows: &[(String, Value, Value)],
    list_meta: Value,
    now: Timestamp,
) -> Value {
    let printer = Printer::of(group, kind);
    let column_definitions: Vec<Value> = std::iter::once(columns::CLUSTER)
        .chain(printer.columns().iter().copied())
        .map(Column::to_json)
        .collect();
    let rows: Vec<Value> = rows
        .iter()
        .map(|(cluster, object, embedded)| {
            let mut cells = Vec::with_capacity(1 + printer.columns().len());
            cells.push(json!(cluster));
            cells.extend(printer.cells(object, now));
            let mut row = Map::new();
            row.insert("cells".to_owned(), Value::Array(cells));
            if let Some(conditions) = printer.row_conditions(object) {
                row.insert("conditions".to_owned(), conditions);
            }
            row.insert("object".to_owned(), embedded.clone());
            Value::Object(row)
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata(list_meta),
        "columnDefinitions": column_definitions,
        "rows": rows,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The instant every fixture's ages are measured from.
    pub(crate) fn now() -> Timestamp {
        "2025-05-01T12:00:00Z".parse().unwrap()
    }

    #[track_caller]
    pub(crate) fn parse(fixture: &str) -> Value {
        serde_json::from_str(fixture).unwrap()
    }

    fn ago(seconds: i64) -> String {
        let since = now() - jiff::SignedDuration::from_secs(seconds);
        human_duration(since, now())
    }

    #[test]
    fn human_duration_boundaries() {
        const M: i64 = 60;
        const H: i64 = 60 * M;
        const D: i64 = 24 * H;
        const Y: i64 = 365 * D;
        let cases = [
            (0, "0s"),
            (1, "1s"),
            (45, "45s"),
            (119, "119s"),
            (2 * M, "2m"),
            (2 * M + 3, "2m3s"),
            (9 * M + 59, "9m59s"),
            (10 * M, "10m"),
            (10 * M + 30, "10m"),
            (179 * M + 59, "179m"),
            (3 * H, "3h"),
            (3 * H + 20 * M + 10, "3h20m"),
            (7 * H + 59 * M, "7h59m"),
            (8 * H, "8h"),
            (47 * H + 59 * M, "47h"),
            (2 * D, "2d"),
            (2 * D + 3 * H, "2d3h"),
            (7 * D + 23 * H, "7d23h"),
            (8 * D, "8d"),
            (729 * D, "729d"),
            (2 * Y, "2y"),
            (2 * Y + 30 * D, "2y30d"),
            (7 * Y + 364 * D, "7y364d"),
            (8 * Y, "8y"),
            (12 * Y + 200 * D, "12y"),
            // Clock skew: up to two seconds ahead is "now", more is invalid.
            (-1, "0s"),
            (-2, "<invalid>"),
            (-3600, "<invalid>"),
        ];
        for (seconds, want) in cases {
            assert_eq!(ago(seconds), want, "{seconds}s");
        }
        // Sub-second parts truncate like Go's integer conversions.
        let since = now() - jiff::SignedDuration::new(1, 999_999_999);
        assert_eq!(human_duration(since, now()), "1s");
        let since = now() + jiff::SignedDuration::new(1, 999_999_999);
        assert_eq!(human_duration(since, now()), "0s");
        assert_eq!(human_duration_nanos(i64::MAX), "292y");
    }

    fn names(columns: &[Column]) -> Vec<(&str, i32)> {
        columns.iter().map(|c| (c.name, c.priority)).collect()
    }

    #[test]
    fn columns_of_each_kind() {
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, i32)]);
        let cases: &[Case<'_>] = &[
            (
                "",
                "Pod",
                &[
                    ("Name", 0),
                    ("Ready", 0),
                    ("Status", 0),
                    ("Restarts", 0),
                    ("Age", 0),
                    ("IP", 1),
                    ("Node", 1),
                    ("Nominated Node", 1),
                    ("Readiness Gates", 1),
                ],
            ),
            (
                "apps",
                "Deployment",
                &[
                    ("Name", 0),
                    ("Ready", 0),
                    ("Up-to-date", 0),
                    ("Available", 0),
                    ("Age", 0),
                    ("Containers", 1),
                    ("Images", 1),
                    ("Selector", 1),
                ],
            ),
            (
                "apps",
                "ReplicaSet",
                &[
                    ("Name", 0),
                    ("Desired", 0),
                    ("Current", 0),
                    ("Ready", 0),
                    ("Age", 0),
                    ("Containers", 1),
                    ("Images", 1),
                    ("Selector", 1),
                ],
            ),
            (
                "apps",
                "StatefulSet",
                &[
                    ("Name", 0),
                    ("Ready", 0),
                    ("Age", 0),
                    ("Containers", 1),
                    ("Images", 1),
                ],
            ),
            (
                "apps",
                "DaemonSet",
                &[
                    ("Name", 0),
                    ("Desired", 0),
                    ("Current", 0),
                    ("Ready", 0),
                    ("Up-to-date", 0),
                    ("Available", 0),
                    ("Node Selector", 0),
                    ("Age", 0),
                    ("Containers", 1),
                    ("Images", 1),
                    ("Selector", 1),
                ],
            ),
            (
                "",
                "Service",
                &[
                    ("Name", 0),
                    ("Type", 0),
                    ("Cluster-IP", 0),
                    ("External-IP", 0),
                    ("Port(s)", 0),
                    ("Age", 0),
                    ("Selector", 1),
                ],
            ),
            (
                "",
                "Node",
                &[
                    ("Name", 0),
                    ("Status", 0),
                    ("Roles", 0),
                    ("Age", 0),
                    ("Version", 0),
                    ("Internal-IP", 1),
                    ("External-IP", 1),
                    ("OS-Image", 1),
                    ("Kernel-Version", 1),
                    ("Container-Runtime", 1),
                ],
            ),
            ("", "Namespace", &[("Name", 0), ("Status", 0), ("Age", 0)]),
            ("", "ConfigMap", &[("Name", 0), ("Data", 0), ("Age", 0)]),
            (
                "",
                "Secret",
                &[("Name", 0), ("Type", 0), ("Data", 0), ("Age", 0)],
            ),
            (
                "",
                "Event",
                &[
                    ("Last Seen", 0),
                    ("Type", 0),
                    ("Reason", 0),
                    ("Object", 0),
                    ("Subobject", 1),
                    ("Source", 1),
                    ("Message", 0),
                    ("First Seen", 1),
                    ("Count", 1),
                    ("Name", 1),
                ],
            ),
            (
                "batch",
                "Job",
                &[
                    ("Name", 0),
                    ("Status", 0),
                    ("Completions", 0),
                    ("Duration", 0),
                    ("Age", 0),
                    ("Containers", 1),
                    ("Images", 1),
                    ("Selector", 1),
                ],
            ),
            (
                "batch",
                "CronJob",
                &[
                    ("Name", 0),
                    ("Schedule", 0),
                    ("Timezone", 0),
                    ("Suspend", 0),
                    ("Active", 0),
                    ("Last Schedule", 0),
                    ("Age", 0),
                    ("Containers", 1),
                    ("Images", 1),
                    ("Selector", 1),
                ],
            ),
            (
                "networking.k8s.io",
                "Ingress",
                &[
                    ("Name", 0),
                    ("Class", 0),
                    ("Hosts", 0),
                    ("Address", 0),
                    ("Ports", 0),
                    ("Age", 0),
                ],
            ),
            (
                "",
                "PersistentVolumeClaim",
                &[
                    ("Name", 0),
                    ("Status", 0),
                    ("Volume", 0),
                    ("Capacity", 0),
                    ("Access Modes", 0),
                    ("StorageClass", 0),
                    ("VolumeAttributesClass", 0),
                    ("Age", 0),
                    ("VolumeMode", 1),
                ],
            ),
        ];
        for (group, kind, want) in cases {
            let got = columns(group, kind);
            assert_eq!(names(&got), *want, "{group}/{kind}");
            // Exactly one column is the object name.
            let name_columns: Vec<_> = got.iter().filter(|c| c.format == "name").collect();
            assert_eq!(name_columns.len(), 1, "{group}/{kind}");
            assert_eq!(name_columns[0].name, "Name");
            for c in &got {
                assert!(!c.description.is_empty(), "{group}/{kind} {}", c.name);
                assert!(
                    ["string", "integer", "number", "boolean", "date"].contains(&c.kind),
                    "{group}/{kind} {}",
                    c.name
                );
            }
        }
        assert_eq!(columns("events.k8s.io", "Event"), columns("", "Event"));
    }

    #[test]
    fn column_types_follow_kube() {
        let kind_of = |group: &str, kind: &str, name: &str| {
            columns(group, kind)
                .into_iter()
                .find(|c| c.name == name)
                .map(|c| c.kind)
        };
        assert_eq!(kind_of("", "Pod", "Restarts"), Some("string"));
        assert_eq!(kind_of("apps", "ReplicaSet", "Desired"), Some("integer"));
        assert_eq!(kind_of("apps", "Deployment", "Up-to-date"), Some("string"));
        assert_eq!(kind_of("batch", "CronJob", "Suspend"), Some("boolean"));
        assert_eq!(kind_of("batch", "CronJob", "Active"), Some("integer"));
        assert_eq!(kind_of("", "Pod", "Age"), Some("string"));
        let age = columns("", "Pod")[4];
        assert!(
            age.description
                .starts_with("CreationTimestamp is a timestamp")
        );
    }

    #[test]
    fn cells_align_with_columns() {
        let fixtures: &[(&str, &str, &str)] = &[
            ("", "Pod", include_str!("testdata/pod-running.json")),
            ("", "Pod", include_str!("testdata/pod-init-crashloop.json")),
            (
                "apps",
                "Deployment",
                include_str!("testdata/deployment.json"),
            ),
            (
                "apps",
                "ReplicaSet",
                include_str!("testdata/replicaset.json"),
            ),
            (
                "apps",
                "StatefulSet",
                include_str!("testdata/statefulset.json"),
            ),
            ("apps", "DaemonSet", include_str!("testdata/daemonset.json")),
            ("batch", "Job", include_str!("testdata/job-complete.json")),
            ("batch", "CronJob", include_str!("testdata/cronjob.json")),
            ("", "Node", include_str!("testdata/node.json")),
            (
                "",
                "PersistentVolumeClaim",
                include_str!("testdata/pvc-bound.json"),
            ),
            (
                "networking.k8s.io",
                "Ingress",
                include_str!("testdata/ingress.json"),
            ),
            (
                "example.com",
                "Widget",
                include_str!("testdata/widget.json"),
            ),
        ];
        for (group, kind, fixture) in fixtures {
            let object = parse(fixture);
            assert_eq!(
                cells(group, kind, &object, now()).len(),
                columns(group, kind).len(),
                "{group}/{kind}"
            );
        }
        for item in parse(include_str!("testdata/services.json"))["items"]
            .as_array()
            .unwrap()
        {
            assert_eq!(cells("", "Service", item, now()).len(), 7);
        }
        // Garbage in, a row of zero values out: never a panic.
        for (group, kind) in [
            ("", "Pod"),
            ("apps", "Deployment"),
            ("", "Event"),
            ("x", "Y"),
        ] {
            for object in [Value::Null, json!("str"), json!({"metadata": 3})] {
                assert_eq!(
                    cells(group, kind, &object, now()).len(),
                    columns(group, kind).len()
                );
            }
        }
    }

    #[test]
    fn generic_fallback() {
        let want = [("Name", 0), ("Age", 0)];
        assert_eq!(names(&columns("example.com", "Widget")), want);
        assert_eq!(names(&columns("", "ServiceAccount")), want);
        // The core printers are keyed by group too.
        assert_eq!(names(&columns("example.com", "Pod")), want);
        let widget_columns = columns("example.com", "Widget");
        assert_eq!(
            (widget_columns[0].format, widget_columns[1].kind),
            ("name", "date")
        );

        let widget = parse(include_str!("testdata/widget.json"));
        assert_eq!(
            cells("example.com", "Widget", &widget, now()),
            [json!("blue-widget"), json!("7d2h")]
        );
        let mut odd = widget.clone();
        odd["metadata"]["creationTimestamp"] = json!("not a time");
        assert_eq!(cells("example.com", "Widget", &odd, now())[1], "<invalid>");
        odd["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("creationTimestamp");
        assert_eq!(cells("example.com", "Widget", &odd, now())[1], Value::Null);
    }

    #[test]
    fn table_document_shape() {
        let running = parse(include_str!("testdata/pod-running.json"));
        let completed = parse(include_str!("testdata/pod-completed.json"));
        let partial = json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {"name": "web-7d4b9c8f6d-x2x9k", "namespace": "default"}
        });
        let rows = [
            ("member-1".to_owned(), running.clone(), partial.clone()),
            ("member-2".to_owned(), completed.clone(), completed.clone()),
        ];
        let list_meta =
            json!({"resourceVersion": "12345", "continue": "", "remainingItemCount": null});
        let doc = table("", "Pod", &rows, list_meta, now());

        assert_eq!(doc["kind"], "Table");
        assert_eq!(doc["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(doc["metadata"], json!({"resourceVersion": "12345"}));

        let defs = doc["columnDefinitions"].as_array().unwrap();
        assert_eq!(defs.len(), 1 + columns("", "Pod").len());
        assert_eq!(
            defs[0],
            json!({
                "name": "Cluster",
                "type": "string",
                "format": "",
                "description": "The name of the cluster the object belongs to.",
                "priority": 0
            })
        );
        assert_eq!(defs[1]["name"], "Name");
        assert_eq!(defs[1]["format"], "name");
        assert_eq!(defs[6]["name"], "IP");
        assert_eq!(defs[6]["priority"], 1);
        for def in defs {
            let keys: Vec<&String> = def.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["description", "format", "name", "priority", "type"]);
        }

        let rows = doc["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            json!({
                "cells": ["member-1", "web-7d4b9c8f6d-x2x9k", "1/1", "Running", "0", "3d4h",
                          "10.244.1.17", "worker-1", "<none>", "<none>"],
                "object": partial,
            })
        );
        assert_eq!(rows[1]["cells"][0], "member-2");
        assert_eq!(rows[1]["cells"][3], "Completed");
        assert_eq!(rows[1]["conditions"][0]["type"], "Completed");
        assert_eq!(rows[1]["object"], completed);

        let empty = table("apps", "Deployment", &[], Value::Null, now());
        assert_eq!(empty["rows"], json!([]));
        assert_eq!(empty["metadata"], json!({}));
        assert_eq!(
            empty["columnDefinitions"].as_array().map(Vec::len),
            Some(1 + columns("apps", "Deployment").len())
        );
        let counted = table("", "Secret", &[], json!({"remainingItemCount": 0}), now());
        assert_eq!(counted["metadata"], json!({"remainingItemCount": 0}));
    }
}
