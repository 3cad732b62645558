//! JSON patch (RFC 6902) over JSON pointers (RFC 6901): `add`, `remove`, `replace`,
//! `move`, `copy`, `test`, applied in order, all or nothing.

use serde_json::Value;

/// Why a JSON patch was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// The patch document itself is not a valid JSON patch (400 in kube).
    Malformed(String),
    /// An operation does not apply to the object (422 in kube).
    Failed(String),
}

fn malformed(m: impl Into<String>) -> PatchError {
    PatchError::Malformed(m.into())
}

fn failed(m: impl Into<String>) -> PatchError {
    PatchError::Failed(m.into())
}

/// The reference tokens of a JSON pointer; `""` is the whole document.
fn tokens(pointer: &str) -> Result<Vec<String>, PatchError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(malformed(format!("invalid JSON pointer {pointer:?}")));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn index(token: &str, len: usize, allow_end: bool) -> Option<usize> {
    if token == "-" {
        return allow_end.then_some(len);
    }
    if token.len() > 1 && token.starts_with('0') {
        return None;
    }
    let i: usize = token.parse().ok()?;
    let max = if allow_end {
        len
    } else {
        len.saturating_sub(1)
    };
    (i <= max && (allow_end || len > 0)).then_some(i)
}

/// The parent container of `path` and the last token.
fn parent<'a>(
    doc: &'a mut Value,
    path: &[String],
    full: &str,
) -> Result<(&'a mut Value, String), PatchError> {
    let Some((last, init)) = path.split_last() else {
        return Err(failed(format!(
            "cannot address the whole document at {full:?}"
        )));
    };
    let mut cur = doc;
    for t in init {
        cur = match cur {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => {
                let len = a.len();
                index(t, len, false).and_then(|i| a.get_mut(i))
            }
            _ => None,
        }
        .ok_or_else(|| failed(format!("doc is missing path: {full:?}")))?;
    }
    Ok((cur, last.clone()))
}

fn get<'a>(doc: &'a Value, path: &[String], full: &str) -> Result<&'a Value, PatchError> {
    path.iter()
        .try_fold(doc, |cur, t| match cur {
            Value::Object(m) => m.get(t),
            Value::Array(a) => index(t, a.len(), false).and_then(|i| a.get(i)),
            _ => None,
        })
        .ok_or_else(|| failed(format!("doc is missing path: {full:?}")))
}

fn add(doc: &mut Value, path: &[String], full: &str, value: Value) -> Result<(), PatchError> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (container, last) = parent(doc, path, full)?;
    match container {
        Value::Object(m) => {
            m.insert(last, value);
            Ok(())
        }
        Value::Array(a) => {
            let i = index(&last, a.len(), true).ok_or_else(|| {
                failed(format!(
                    "add operation does not apply: index out of range at {full:?}"
                ))
            })?;
            a.insert(i, value);
            Ok(())
        }
        _ => Err(failed(format!(
            "add operation does not apply: doc is missing path: {full:?}"
        ))),
    }
}

fn remove(doc: &mut Value, path: &[String], full: &str) -> Result<Value, PatchError> {
    let (container, last) = parent(doc, path, full)?;
    match container {
        Value::Object(m) => m.remove(&last).ok_or_else(|| {
            failed(format!(
                "remove operation does not apply: doc is missing path: {full:?}"
            ))
        }),
        Value::Array(a) => {
            let i = index(&last, a.len(), false).ok_or_else(|| {
                failed(format!(
                    "remove operation does not apply: index out of range at {full:?}"
                ))
            })?;
            Ok(a.remove(i))
        }
        _ => Err(failed(format!(
            "remove operation does not apply: doc is missing path: {full:?}"
        ))),
    }
}

fn field<'a>(op: &'a Value, name: &str, i: usize) -> Result<&'a Value, PatchError> {
    op.get(name)
        .ok_or_else(|| malformed(format!("operation {i} has no {name:?}")))
}

fn pointer_field(op: &Value, name: &str, i: usize) -> Result<(String, Vec<String>), PatchError> {
    let text = field(op, name, i)?
        .as_str()
        .ok_or_else(|| malformed(format!("operation {i}: {name:?} is not a string")))?
        .to_owned();
    let toks = tokens(&text)?;
    Ok((text, toks))
}

/// Applies the operations of `patch` (a JSON array) to a copy of `target`.
pub fn apply(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| malformed("a JSON patch must be an array of operations"))?;
    let mut doc = target.clone();
    for (i, op) in ops.iter().enumerate() {
        let name = field(op, "op", i)?
            .as_str()
            .ok_or_else(|| malformed(format!("operation {i}: \"op\" is not a string")))?;
        let (path_text, path) = pointer_field(op, "path", i)?;
        match name {
            "add" => add(&mut doc, &path, &path_text, field(op, "value", i)?.clone())?,
            "remove" => {
                remove(&mut doc, &path, &path_text)?;
            }
            "replace" => {
                get(&doc, &path, &path_text).map_err(|_| {
                    failed(format!(
                        "replace operation does not apply: doc is missing key: {path_text}"
                    ))
                })?;
                if path.is_empty() {
                    doc = field(op, "value", i)?.clone();
                } else {
                    remove(&mut doc, &path, &path_text)?;
                    add(&mut doc, &path, &path_text, field(op, "value", i)?.clone())?;
                }
            }
            "move" => {
                let (from_text, from) = pointer_field(op, "from", i)?;
                if path.starts_with(&from) && path.len() > from.len() {
                    return Err(failed(format!(
                        "cannot move {from_text:?} into its own child"
                    )));
                }
                let value = remove(&mut doc, &from, &from_text)?;
                add(&mut doc, &path, &path_text, value)?;
            }
            "copy" => {
                let (from_text, from) = pointer_field(op, "from", i)?;
                let value = get(&doc, &from, &from_text)?.clone();
                add(&mut doc, &path, &path_text, value)?;
            }
            "test" => {
                let want = field(op, "value", i)?;
                let have = get(&doc, &path, &path_text)?;
                if have != want {
                    return Err(failed(format!(
                        "testing value {path_text} failed: test failed"
                    )));
                }
            }
            other => return Err(malformed(format!("unexpected operation {other:?}"))),
        }
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn operations() {
        let doc = json!({"metadata": {"labels": {"a": "1"}}, "list": [1, 2, 3]});
        let patch = json!([
            {"op": "add", "path": "/metadata/labels/b~1c", "value": "2"},
            {"op": "replace", "path": "/metadata/labels/a", "value": "x"},
            {"op": "remove", "path": "/list/0"},
            {"op": "add", "path": "/list/-", "value": 4},
            {"op": "copy", "from": "/list/0", "path": "/first"},
            {"op": "move", "from": "/first", "path": "/moved"},
            {"op": "test", "path": "/moved", "value": 2},
        ]);
        assert_eq!(
            apply(&doc, &patch).expect("applies"),
            json!({"metadata": {"labels": {"a": "x", "b/c": "2"}}, "list": [2, 3, 4], "moved": 2})
        );
    }

    #[test]
    fn failures() {
        let doc = json!({"a": 1});
        assert!(matches!(
            apply(&doc, &json!([{"op": "test", "path": "/a", "value": 2}])),
            Err(PatchError::Failed(_))
        ));
        assert!(matches!(
            apply(&doc, &json!([{"op": "remove", "path": "/b"}])),
            Err(PatchError::Failed(_))
        ));
        assert!(matches!(
            apply(&doc, &json!([{"op": "replace", "path": "/b", "value": 1}])),
            Err(PatchError::Failed(_))
        ));
        assert!(matches!(
            apply(&doc, &json!({"op": "add"})),
            Err(PatchError::Malformed(_))
        ));
        assert!(matches!(
            apply(&doc, &json!([{"op": "frob", "path": "/a"}])),
            Err(PatchError::Malformed(_))
        ));
    }
}
