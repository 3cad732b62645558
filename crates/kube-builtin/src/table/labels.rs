//! Label maps and label selectors printed the way apimachinery's `labels` package
//! stringifies them (`labels.FormatLabels`, `metav1.FormatLabelSelector`).

use serde_json::{Map, Value};

/// `labels.FormatLabels`: `k=v` pairs joined by commas, `<none>` when empty.
pub(super) fn format_labels(map: Option<&Map<String, Value>>) -> String {
    let joined = map.map(set_string).unwrap_or_default();
    if joined.is_empty() {
        "<none>".to_owned()
    } else {
        joined
    }
}

/// `labels.Set.String()`. Go sorts the joined `key=value` strings rather than the keys,
/// which orders `a.b=1` before `a=2`; sorting the same strings keeps that order.
fn set_string(map: &Map<String, Value>) -> String {
    let mut pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort_unstable();
    pairs.join(",")
}

/// `metav1.FormatLabelSelector`: the selector string, `<none>` when it selects everything
/// or nothing, `<error>` when it is not a valid selector.
pub(super) fn format_label_selector(selector: Option<&Value>) -> String {
    match selector_string(selector) {
        Err(InvalidSelector) => "<error>".to_owned(),
        Ok(s) if s.is_empty() => "<none>".to_owned(),
        Ok(s) => s,
    }
}

/// The label selector could not be converted (`LabelSelectorAsSelector` failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct InvalidSelector;

/// `metav1.LabelSelectorAsSelector(selector).String()`: requirements sorted by key and
/// joined by commas; empty for a nil selector (selects nothing) and for an empty one
/// (selects everything).
pub(super) fn selector_string(selector: Option<&Value>) -> Result<String, InvalidSelector> {
    let Some(selector) = selector else {
        return Ok(String::new());
    };
    let mut requirements: Vec<(&str, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in labels {
            let value = value.as_str().ok_or(InvalidSelector)?;
            validate_key(key)?;
            validate_value(value)?;
            requirements.push((key, format!("{key}={value}")));
        }
    }
    let expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for expression in expressions {
        let key = expression
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let operator = expression
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut values = Vec::new();
        for value in expression
            .get("values")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
        {
            values.push(value.as_str().ok_or(InvalidSelector)?);
        }
        validate_key(key)?;
        for value in &values {
            validate_value(value)?;
        }
        // Printed values are sorted, as `Requirement.String()` does.
        values.sort_unstable();
        let text = match operator {
            "In" | "NotIn" if values.is_empty() => return Err(InvalidSelector),
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" | "DoesNotExist" if !values.is_empty() => return Err(InvalidSelector),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            _ => return Err(InvalidSelector),
        };
        requirements.push((key, text));
    }
    // A stable sort by key: Go's is unstable, but equal keys only arise from
    // contradictory selectors no API server accepts.
    requirements.sort_by(|a, b| a.0.cmp(b.0));
    let texts: Vec<String> = requirements.into_iter().map(|(_, text)| text).collect();
    Ok(texts.join(","))
}

/// `validation.IsQualifiedName`: an optional DNS-1123 subdomain prefix and `/`, then a
/// name of at most 63 characters.
fn validate_key(key: &str) -> Result<(), InvalidSelector> {
    let name = match key.split_once('/') {
        None => key,
        Some((prefix, name)) => {
            if name.contains('/') || !is_dns1123_subdomain(prefix) {
                return Err(InvalidSelector);
            }
            name
        }
    };
    if name.is_empty() || name.len() > 63 || !is_qualified_name_part(name) {
        return Err(InvalidSelector);
    }
    Ok(())
}

/// `validation.IsValidLabelValue`: empty, or a qualified-name part of at most 63 characters.
fn validate_value(value: &str) -> Result<(), InvalidSelector> {
    if value.is_empty() || (value.len() <= 63 && is_qualified_name_part(value)) {
        Ok(())
    } else {
        Err(InvalidSelector)
    }
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_qualified_name_part(s: &str) -> bool {
    let bytes = s.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// At most 253 characters of dot-separated `[a-z0-9]([-a-z0-9]*[a-z0-9])?` labels.
fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            let bytes = label.as_bytes();
            match (bytes.first(), bytes.last()) {
                (Some(first), Some(last)) => {
                    (first.is_ascii_lowercase() || first.is_ascii_digit())
                        && (last.is_ascii_lowercase() || last.is_ascii_digit())
                        && bytes
                            .iter()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
                }
                _ => false,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_maps() {
        assert_eq!(format_labels(None), "<none>");
        let map = json!({"app": "web", "a.b": "1", "a": "2"});
        assert_eq!(format_labels(map.as_object()), "a.b=1,a=2,app=web");
        assert_eq!(format_labels(json!({}).as_object()), "<none>");
    }

    #[test]
    fn selectors() {
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        let sel = json!({
            "matchLabels": {"app": "web", "tier": "front"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "canary"]},
                {"key": "zone", "operator": "NotIn", "values": ["b"]},
                {"key": "gpu", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist", "values": []},
            ],
        });
        assert_eq!(
            format_label_selector(Some(&sel)),
            "app=web,env in (canary,prod),gpu,!legacy,tier=front,zone notin (b)"
        );
        assert_eq!(
            selector_string(Some(
                &json!({"matchLabels": {"app.kubernetes.io/name": "x"}})
            )),
            Ok("app.kubernetes.io/name=x".to_owned())
        );
    }

    #[test]
    fn invalid_selectors() {
        for sel in [
            json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
            json!({"matchLabels": {"bad key": "x"}}),
            json!({"matchLabels": {"Example.com/x": "y"}}),
            json!({"matchLabels": {"a": "-x"}}),
        ] {
            assert_eq!(format_label_selector(Some(&sel)), "<error>", "{sel}");
        }
    }
}
