//! Reading Kubernetes objects from manifest files: YAML (multi-document) or JSON, with
//! `List` kinds flattened into their items.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// A file that cannot be read as Kubernetes objects.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: document {document}: {reason}")]
    Parse {
        path: PathBuf,
        document: usize,
        reason: String,
    },
}

fn flatten(
    value: Value,
    path: &Path,
    document: usize,
    out: &mut Vec<Value>,
) -> Result<(), FileError> {
    let err = |reason: String| FileError::Parse {
        path: path.to_owned(),
        document,
        reason,
    };
    match value {
        Value::Null => Ok(()),
        Value::Object(map) => {
            let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
            if let Some(items) = map.get("items").filter(|_| kind.ends_with("List")) {
                let items = items
                    .as_array()
                    .ok_or_else(|| err(format!("{kind} items is not a list")))?;
                for item in items {
                    flatten(item.clone(), path, document, out)?;
                }
                return Ok(());
            }
            if kind.is_empty() || map.get("apiVersion").and_then(Value::as_str).is_none() {
                return Err(err(
                    "not a Kubernetes object (apiVersion and kind are required)".to_owned(),
                ));
            }
            out.push(Value::Object(map));
            Ok(())
        }
        _ => Err(err(
            "not a Kubernetes object (expected a mapping)".to_owned()
        )),
    }
}

/// The objects in `text`, read from `path` (used for messages and to tell JSON from YAML).
pub fn parse_objects(text: &str, path: &Path) -> Result<Vec<Value>, FileError> {
    let mut out = Vec::new();
    let looks_json = path.extension().and_then(|e| e.to_str()) == Some("json")
        || text.trim_start().starts_with('{');
    if looks_json {
        let stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        for (i, doc) in stream.enumerate() {
            let doc = doc.map_err(|e| FileError::Parse {
                path: path.to_owned(),
                document: i + 1,
                reason: e.to_string(),
            })?;
            flatten(doc, path, i + 1, &mut out)?;
        }
    } else {
        for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            let value = Value::deserialize(doc).map_err(|e| FileError::Parse {
                path: path.to_owned(),
                document: i + 1,
                reason: e.to_string(),
            })?;
            flatten(value, path, i + 1, &mut out)?;
        }
    }
    Ok(out)
}

/// Reads every object of the files at `paths`.
pub fn read_objects(paths: &[PathBuf]) -> Result<Vec<Value>, FileError> {
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|source| FileError::Read {
            path: path.clone(),
            source,
        })?;
        out.extend(parse_objects(&text, path)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_documents_and_lists() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: c}\n";
        let objects = parse_objects(text, Path::new("x.yaml")).expect("parses");
        let names: Vec<&str> = objects
            .iter()
            .filter_map(|o| o["metadata"]["name"].as_str())
            .collect();
        assert_eq!(names, vec!["a", "b", "c"]);
    }

    #[test]
    fn json_streams_and_typed_lists() {
        let text = r#"{"apiVersion":"v1","kind":"PodList","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}]}
{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"}}"#;
        let objects = parse_objects(text, Path::new("x.json")).expect("parses");
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[1]["kind"], "Service");
    }

    #[test]
    fn bad_documents_are_named() {
        let err = parse_objects(
            "apiVersion: v1\nkind: Pod\n---\n- just\n- a list\n",
            Path::new("bad.yaml"),
        )
        .expect_err("refused");
        assert!(err.to_string().contains("bad.yaml: document 2"), "{err}");
        let err = parse_objects("{\"kind\": \"Pod\"", Path::new("x.json")).expect_err("truncated");
        assert!(err.to_string().contains("document 1"), "{err}");
        let err = parse_objects("metadata: {name: x}\n", Path::new("x.yaml")).expect_err("no kind");
        assert!(err.to_string().contains("apiVersion and kind"), "{err}");
    }
}
