//! `meta.k8s.io` Tables for `kubectl get`: built-in kinds use kube's server-side printer
//! columns (from `kube_builtin::table`), APIServices the aggregator's (`SERVICE`,
//! `AVAILABLE`), custom resources their CRD's
//! `additionalPrinterColumns` (simple JSONPath) or kube's default `Name`/`Age`. Each row
//! embeds the object as `includeObject` asks (kubectl's default: metadata only).

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::registry::{PrinterColumn, ResourceDef};

/// `includeObject` of `TableOptions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub(crate) fn parse(v: Option<&str>) -> Self {
        match v {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

/// `PartialObjectMetadata` of an object.
pub(crate) fn partial_metadata(obj: &Value, version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn column(name: &str, kind: &str, format: &str, description: &str, priority: i64) -> Value {
    json!({"name": name, "type": kind, "format": format, "description": description, "priority": priority})
}

/// The columns of custom resources: `Name`, then the CRD's columns (or `Age`).
fn custom_columns(columns: &[PrinterColumn]) -> Vec<PrinterColumn> {
    if columns.is_empty() {
        return vec![PrinterColumn {
            name: "Age".into(),
            kind: "date".into(),
            format: String::new(),
            description: AGE_DESCRIPTION.into(),
            priority: 0,
            json_path: ".metadata.creationTimestamp".into(),
        }];
    }
    columns.to_vec()
}

/// One step of a simple JSONPath.
enum Step {
    Key(String),
    Index(usize),
    All,
    Filter(String, Value),
}

/// Parses the JSONPath subset CRDs use: `.a.b`, `['a.b']`, `[0]`, `[*]`,
/// `[?(@.type=="Ready")]`.
fn parse_path(path: &str) -> Option<Vec<Step>> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut steps = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end > 0 {
                steps.push(Step::Key(r[..end].to_owned()));
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = r[..end].trim();
            rest = &r[end + 1..];
            if inner == "*" {
                steps.push(Step::All);
            } else if let Ok(i) = inner.parse() {
                steps.push(Step::Index(i));
            } else if let Some(f) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (k, v) = f.split_once("==")?;
                let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                steps.push(Step::Filter(k.trim().to_owned(), json!(v)));
            } else {
                steps.push(Step::Key(
                    inner.trim_matches(|c| c == '"' || c == '\'').to_owned(),
                ));
            }
        } else {
            return None;
        }
    }
    Some(steps)
}

fn eval<'a>(obj: &'a Value, steps: &[Step]) -> Vec<&'a Value> {
    let mut current = vec![obj];
    for step in steps {
        current = current
            .into_iter()
            .flat_map(|v| -> Vec<&Value> {
                match step {
                    Step::Key(k) => v.get(k).into_iter().collect(),
                    Step::Index(i) => v.get(*i).into_iter().collect(),
                    Step::All => v.as_array().map(|a| a.iter().collect()).unwrap_or_default(),
                    Step::Filter(k, want) => v
                        .as_array()
                        .map(|a| a.iter().filter(|e| e.get(k) == Some(want)).collect())
                        .unwrap_or_default(),
                }
            })
            .collect();
    }
    current
}

fn age(text: &str, now: Timestamp) -> Value {
    match text.parse::<Timestamp>() {
        Ok(t) => json!(kube_builtin::table::human_duration(t, now)),
        Err(_) => json!("<invalid>"),
    }
}

fn custom_cell(obj: &Value, col: &PrinterColumn, now: Timestamp) -> Value {
    let Some(steps) = parse_path(&col.json_path) else {
        return Value::Null;
    };
    let Some(value) = eval(obj, &steps).into_iter().next() else {
        return Value::Null;
    };
    match col.kind.as_str() {
        "date" => value.as_str().map_or(Value::Null, |t| age(t, now)),
        "integer" | "number" | "boolean" => value.clone(),
        _ => match value {
            Value::String(s) => json!(s),
            Value::Null => Value::Null,
            other => json!(other.to_string()),
        },
    }
}

/// The kube-aggregator's APIService columns: where it is served and whether it is available.
fn api_service_columns() -> Vec<Value> {
    vec![
        column("Name", "string", "name", NAME_DESCRIPTION, 0),
        column(
            "Service",
            "string",
            "",
            "The reference to the service that hosts this API endpoint.",
            0,
        ),
        column(
            "Available",
            "string",
            "",
            "Whether this service is available.",
            0,
        ),
        column("Age", "string", "", AGE_DESCRIPTION, 0),
    ]
}

fn api_service_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let service = match obj.pointer("/spec/service").filter(|s| !s.is_null()) {
        None => "Local".to_owned(),
        Some(s) => format!(
            "{}/{}",
            s["namespace"].as_str().unwrap_or_default(),
            s["name"].as_str().unwrap_or_default()
        ),
    };
    let available = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Available"))
        .map_or_else(
            || "Unknown".to_owned(),
            |c| {
                let status = c["status"].as_str().unwrap_or("Unknown");
                match c["reason"].as_str() {
                    Some(reason) if status != "True" && !reason.is_empty() => {
                        format!("{status} ({reason})")
                    }
                    _ => status.to_owned(),
                }
            },
        );
    let created = obj
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .map_or(Value::Null, |t| age(t, now));
    vec![
        obj.pointer("/metadata/name")
            .cloned()
            .unwrap_or(Value::Null),
        json!(service),
        json!(available),
        created,
    ]
}

/// The Table of `objects` (of resource `def`, served at `version`).
pub(crate) fn table(
    def: &ResourceDef,
    version: &str,
    table_version: &str,
    objects: &[Value],
    list_meta: Map<String, Value>,
    include: IncludeObject,
) -> Value {
    let now = Timestamp::now();
    let custom = def.custom.then(|| {
        custom_columns(
            def.printer_columns
                .get(version)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        )
    });
    let api_service = def.group == "apiregistration.k8s.io" && def.kind == "APIService";
    let columns: Vec<Value> = match &custom {
        _ if api_service => api_service_columns(),
        Some(cols) => std::iter::once(column("Name", "string", "name", NAME_DESCRIPTION, 0))
            .chain(
                cols.iter()
                    .map(|c| column(&c.name, &c.kind, &c.format, &c.description, c.priority)),
            )
            .collect(),
        None => kube_builtin::table::columns(&def.group, &def.kind)
            .into_iter()
            .map(|c| {
                column(
                    c.name,
                    c.kind,
                    c.format,
                    c.description,
                    i64::from(c.priority),
                )
            })
            .collect(),
    };
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let cells: Vec<Value> = match &custom {
                _ if api_service => api_service_cells(obj, now),
                Some(cols) => std::iter::once(
                    obj.pointer("/metadata/name")
                        .cloned()
                        .unwrap_or(Value::Null),
                )
                .chain(cols.iter().map(|c| custom_cell(obj, c, now)))
                .collect(),
                None => kube_builtin::table::cells(&def.group, &def.kind, obj, now),
            };
            let mut row = Map::new();
            row.insert("cells".into(), Value::Array(cells));
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => {
                    row.insert("object".into(), partial_metadata(obj, table_version));
                }
                IncludeObject::Object => {
                    row.insert("object".into(), obj.clone());
                }
            }
            Value::Object(row)
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{table_version}"),
        "metadata": list_meta,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use crate::registry::Registry;

    use super::*;

    #[test]
    fn builtin_and_custom_tables() {
        let r = Registry::builtin();
        let pods = r.resolve("", "v1", "pods").expect("pods");
        let pod = json!({"metadata": {"name": "p", "creationTimestamp": "2020-01-01T00:00:00Z"},
                         "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Running"}});
        let t = table(
            &pods,
            "v1",
            "v1",
            &[pod],
            Map::new(),
            IncludeObject::Metadata,
        );
        assert_eq!(t["columnDefinitions"][0]["name"], "Name");
        assert_eq!(t["rows"][0]["cells"][0], "p");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");

        let mut widget = (*pods).clone();
        widget.custom = true;
        widget.printer_columns.insert(
            "v1".into(),
            vec![
                PrinterColumn {
                    name: "Size".into(),
                    kind: "integer".into(),
                    format: String::new(),
                    description: String::new(),
                    priority: 0,
                    json_path: ".spec.size".into(),
                },
                PrinterColumn {
                    name: "Ready".into(),
                    kind: "string".into(),
                    format: String::new(),
                    description: String::new(),
                    priority: 0,
                    json_path: ".status.conditions[?(@.type==\"Ready\")].status".into(),
                },
            ],
        );
        let w = json!({"metadata": {"name": "w"}, "spec": {"size": 3},
                       "status": {"conditions": [{"type": "Other", "status": "x"}, {"type": "Ready", "status": "True"}]}});
        let t = table(&widget, "v1", "v1", &[w], Map::new(), IncludeObject::None);
        assert_eq!(t["rows"][0]["cells"], json!(["w", 3, "True"]));
        assert!(t["rows"][0].get("object").is_none());
        let t = table(
            &widget,
            "v2",
            "v1",
            &[json!({"metadata": {"name": "x", "creationTimestamp": "2020-01-01T00:00:00Z"}})],
            Map::new(),
            IncludeObject::None,
        );
        assert_eq!(t["columnDefinitions"][1]["name"], "Age");
        assert!(
            t["rows"][0]["cells"][1]
                .as_str()
                .is_some_and(|a| a.ends_with('y') || a.contains('y'))
        );
    }
}
