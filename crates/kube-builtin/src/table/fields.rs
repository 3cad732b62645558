//! Reading object JSON the way kube's Go printers read their typed structs.
//!
//! The printers work on decoded Go structs, where an absent field is its zero value (`""`,
//! `0`, empty slice) and only pointer fields can tell "absent" from "zero". The accessors
//! here give both views: plain ones fall back to the zero value, `opt_*` ones keep absence.
//! JSON `null` counts as absent, as it decodes to the zero value (or a nil pointer) in Go.

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::human_duration;

/// The value at `path`, if present and not null.
pub(super) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = value;
    for key in path {
        cur = cur.get(key)?;
    }
    (!cur.is_null()).then_some(cur)
}

/// Whether `path` is set, as a non-nil pointer would be.
pub(super) fn present(value: &Value, path: &[&str]) -> bool {
    at(value, path).is_some()
}

/// The string at `path`, `""` when absent.
pub(super) fn string<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    opt_string(value, path).unwrap_or("")
}

/// The string at `path`, `None` when absent (a `*string` field).
pub(super) fn opt_string<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(value, path).and_then(Value::as_str)
}

/// The integer at `path`, 0 when absent.
pub(super) fn int(value: &Value, path: &[&str]) -> i64 {
    opt_int(value, path).unwrap_or(0)
}

/// The integer at `path`, `None` when absent (an `*int32` field).
pub(super) fn opt_int(value: &Value, path: &[&str]) -> Option<i64> {
    // Kubernetes integers always serialize as JSON integers; the float fallback only
    // keeps hand-written objects such as `3.0` from being read as absent.
    #[allow(clippy::cast_possible_truncation)]
    at(value, path).and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
}

/// The boolean at `path`, `None` when absent (a `*bool` field).
pub(super) fn opt_bool(value: &Value, path: &[&str]) -> Option<bool> {
    at(value, path).and_then(Value::as_bool)
}

/// The boolean at `path`, `false` when absent.
pub(super) fn boolean(value: &Value, path: &[&str]) -> bool {
    opt_bool(value, path).unwrap_or(false)
}

/// The array at `path`, empty when absent.
pub(super) fn list<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    at(value, path)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The object at `path`, if any.
pub(super) fn object<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    at(value, path).and_then(Value::as_object)
}

/// How many entries the map at `path` has (`len(obj.Data)`).
pub(super) fn map_len(value: &Value, path: &[&str]) -> usize {
    object(value, path).map_or(0, Map::len)
}

/// Unix second of Go's zero `time.Time`, 0001-01-01T00:00:00Z.
const GO_ZERO_TIME_SECOND: i64 = -62_135_596_800;

/// A timestamp that does not parse as RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BadTime;

/// An RFC 3339 `metav1.Time`/`MicroTime`; `Ok(None)` for Go's zero time, which
/// `IsZero()` reports as unset.
pub(super) fn parse_time(text: &str) -> Result<Option<Timestamp>, BadTime> {
    let parsed: Timestamp = text.parse().map_err(|_| BadTime)?;
    let zero = parsed.as_second() == GO_ZERO_TIME_SECOND && parsed.subsec_nanosecond() == 0;
    Ok((!zero).then_some(parsed))
}

/// The timestamp at `path`; `None` when absent, Go's zero time, or unparsable (which
/// would not have decoded into the typed object kube prints).
pub(super) fn time(value: &Value, path: &[&str]) -> Option<Timestamp> {
    parse_time(opt_string(value, path)?).ok().flatten()
}

/// `translateTimestampSince`: the age of `since`, or `<unknown>` without one.
pub(super) fn since(since: Option<Timestamp>, now: Timestamp) -> String {
    since.map_or_else(|| "<unknown>".to_owned(), |t| human_duration(t, now))
}

/// The object's name.
pub(super) fn name(object: &Value) -> &str {
    string(object, &["metadata", "name"])
}

/// The object's age from its creation timestamp.
pub(super) fn age(object: &Value, now: Timestamp) -> String {
    since(time(object, &["metadata", "creationTimestamp"]), now)
}

/// Whether the object is being deleted (`DeletionTimestamp != nil`).
pub(super) fn deleting(object: &Value) -> bool {
    present(object, &["metadata", "deletionTimestamp"])
}

/// The first condition of `conditions` with type `kind`.
pub(super) fn condition<'a>(conditions: &'a [Value], kind: &str) -> Option<&'a Value> {
    conditions.iter().find(|c| string(c, &["type"]) == kind)
}

/// `layoutContainerCells`: container names and images, each joined by commas.
pub(super) fn containers_and_images(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| string(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| string(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zero_values_and_absence() {
        let v =
            json!({"a": {"s": "x", "n": 3, "null": null, "b": true, "l": [1, 2], "m": {"k": 1}}});
        assert_eq!(string(&v, &["a", "s"]), "x");
        assert_eq!(string(&v, &["a", "missing"]), "");
        assert_eq!(opt_string(&v, &["a", "null"]), None);
        assert_eq!(int(&v, &["a", "n"]), 3);
        assert_eq!(opt_int(&v, &["a", "s"]), None);
        assert!(boolean(&v, &["a", "b"]));
        assert_eq!(list(&v, &["a", "l"]).len(), 2);
        assert!(list(&v, &["a", "s"]).is_empty());
        assert_eq!(map_len(&v, &["a", "m"]), 1);
        assert!(!present(&v, &["a", "null"]));
        assert!(present(&v, &["a", "l"]));
    }

    #[test]
    fn timestamps() {
        let v = json!({
            "ok": "2025-05-01T10:00:00Z",
            "micro": "2025-05-01T10:00:00.123456Z",
            "zero": "0001-01-01T00:00:00Z",
            "bad": "yesterday",
        });
        assert!(time(&v, &["ok"]).is_some());
        assert!(time(&v, &["micro"]).is_some());
        assert_eq!(time(&v, &["zero"]), None);
        assert_eq!(time(&v, &["bad"]), None);
        assert_eq!(time(&v, &["missing"]), None);
    }
}
