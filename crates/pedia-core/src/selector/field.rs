//! Clusterpedia's enhanced field selectors: JSON paths with quoted keys and list indexes.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

use super::label::validate_label_key;
use super::{Operator, grammar};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PathSegment {
    /// An object key: `metadata`, or `a.b` from `['a.b']`.
    Key(String),
    /// A list index: `[0]`.
    Index(usize),
    /// Any element of a list: `[]`.
    AnyIndex,
}

/// A parsed field path such as `metadata.annotations['a.b']`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FieldPath {
    pub segments: Vec<PathSegment>,
}

impl FieldPath {
    /// The value at this path, if every step exists. `None` for paths with `[]`.
    pub fn lookup<'a>(&self, object: &'a Value) -> Option<&'a Value> {
        self.segments
            .iter()
            .try_fold(object, |value, segment| step(value, segment))
    }

    /// Parses a field-selector key such as `.metadata.annotations['a.b']`.
    fn parse(key: &str) -> Result<Self, String> {
        PathParser {
            key,
            pos: 0,
            segments: Vec::new(),
        }
        .parse()
    }

    /// Every value the path reaches, fanning out at `[]`. `None` entries are list
    /// elements that lack the rest of the path; a path that is missing before its first
    /// `[]` has no candidates at all, because the list itself is absent.
    fn candidates<'a>(&self, object: &'a Value) -> Vec<Option<&'a Value>> {
        let mut out = Vec::new();
        collect(Some(object), &self.segments, false, &mut out);
        out
    }

    /// Whether the path contains `[]`.
    pub fn has_any_index(&self) -> bool {
        self.segments.contains(&PathSegment::AnyIndex)
    }

    /// `Some("name")` / `Some("namespace")` for `metadata.name` / `metadata.namespace`,
    /// which storage layers can serve from indexed columns.
    pub fn metadata_column(&self) -> Option<&'static str> {
        match self.segments.as_slice() {
            [PathSegment::Key(m), PathSegment::Key(f)] if m == "metadata" => match f.as_str() {
                "name" => Some("name"),
                "namespace" => Some("namespace"),
                _ => None,
            },
            _ => None,
        }
    }
}

/// One requirement such as `status.phase!=Running`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FieldRequirement {
    /// The key as the user wrote it, for messages and display.
    pub key: String,
    pub path: FieldPath,
    pub operator: Operator,
    /// Sorted and deduplicated.
    pub values: Vec<String>,
}

impl FieldRequirement {
    /// Matches the object's JSON. Scalars compare by their text (`true`, `3`, `Running`);
    /// `null` counts as absent; objects and lists are present but equal to no value.
    /// A path with `[]` matches if any element satisfies a positive operator, and
    /// if no element violates a negative one.
    pub fn matches(&self, object: &Value) -> bool {
        if !self.path.has_any_index() {
            return self.matches_one(self.path.lookup(object));
        }
        let candidates = self.path.candidates(object);
        if self.operator.matches_absent() {
            candidates.into_iter().all(|c| self.matches_one(c))
        } else {
            candidates.into_iter().any(|c| self.matches_one(c))
        }
    }

    fn matches_one(&self, value: Option<&Value>) -> bool {
        match value {
            None | Some(Value::Null) => self.operator.matches(None, &self.values),
            Some(Value::Object(_) | Value::Array(_)) => {
                // Present, yet equal to no value: only operators asking for presence or
                // for inequality hold.
                matches!(
                    self.operator,
                    Operator::Exists | Operator::NotEquals | Operator::NotIn
                )
            }
            Some(scalar) => {
                let text: Cow<'_, str> = match scalar {
                    Value::String(s) => Cow::Borrowed(s),
                    Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
                    other => Cow::Owned(other.to_string()),
                };
                self.operator.matches(Some(&text), &self.values)
            }
        }
    }
}

/// A conjunction of field requirements. Empty matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct FieldSelector {
    pub requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses the requirement syntax of label selectors with enhanced field-path keys.
    /// Values are taken as written: field values are not label values.
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for raw in grammar::parse(input)? {
            let path = FieldPath::parse(raw.key)
                .map_err(|e| format!("invalid field selector key {:?}: {e}", raw.key))?;
            grammar::check_values(raw.key, raw.operator, &raw.values)?;
            requirements.push(FieldRequirement {
                key: raw.key.to_owned(),
                path,
                operator: raw.operator,
                values: raw.values,
            });
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.requirements.iter().all(|r| r.matches(object))
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        grammar::write_all(
            f,
            self.requirements
                .iter()
                .map(|r| (r.key.as_str(), r.operator, r.values.as_slice())),
        )
    }
}

fn step<'a>(value: &'a Value, segment: &PathSegment) -> Option<&'a Value> {
    match segment {
        PathSegment::Key(key) => value.as_object()?.get(key),
        PathSegment::Index(i) => value.as_array()?.get(*i),
        PathSegment::AnyIndex => None,
    }
}

fn collect<'a>(
    value: Option<&'a Value>,
    segments: &[PathSegment],
    fanned_out: bool,
    out: &mut Vec<Option<&'a Value>>,
) {
    let Some((first, rest)) = segments.split_first() else {
        out.push(value);
        return;
    };
    match first {
        PathSegment::AnyIndex => {
            if let Some(Value::Array(items)) = value {
                for item in items {
                    collect(Some(item), rest, true, out);
                }
            }
        }
        segment => {
            let next = value.and_then(|v| step(v, segment));
            if next.is_some() || fanned_out {
                collect(next, rest, fanned_out, out);
            }
        }
    }
}

/// Reads a key one segment at a time. Grammar: an optional leading `.`, then a first
/// segment (`name`, `'quoted'`, or `['quoted']`), then any of `.name`, `.'quoted'`,
/// `['quoted']`, `[N]`, `[]`.
struct PathParser<'a> {
    key: &'a str,
    pos: usize,
    segments: Vec<PathSegment>,
}

impl PathParser<'_> {
    fn rest(&self) -> &str {
        &self.key[self.pos..]
    }

    fn parse(mut self) -> Result<FieldPath, String> {
        if self.rest().starts_with('.') {
            self.pos += 1;
        }
        if self.rest().is_empty() {
            return Err("empty field path".to_owned());
        }
        if self.rest().starts_with('[') {
            self.bracket()?;
        } else {
            self.name()?;
        }
        while let Some(c) = self.rest().chars().next() {
            match c {
                '.' => {
                    self.pos += 1;
                    self.name()?;
                }
                '[' => self.bracket()?,
                other => {
                    return Err(format!(
                        "unexpected {other:?} at byte {}; expected '.', '[' or the end",
                        self.pos
                    ));
                }
            }
        }
        match self.segments.last() {
            Some(PathSegment::Key(_)) => Ok(FieldPath {
                segments: self.segments,
            }),
            _ => Err("a field path may not end with a list index ('[]' or '[N]')".to_owned()),
        }
    }

    /// A segment after `.` (or at the start): bare name or quoted key.
    fn name(&mut self) -> Result<(), String> {
        let rest = self.rest();
        if rest.starts_with(['\'', '"']) {
            let key = self.quoted()?;
            self.segments.push(PathSegment::Key(key));
            return Ok(());
        }
        let len = rest.find(['.', '[']).unwrap_or(rest.len());
        let name = &rest[..len];
        if name.is_empty() {
            return Err(format!("empty field name at byte {}", self.pos));
        }
        validate_label_key(name).map_err(|e| {
            format!("field {name:?} is not a qualified name ({e}); quote it as ['{name}'] if it is a key")
        })?;
        self.segments.push(PathSegment::Key(name.to_owned()));
        self.pos += len;
        Ok(())
    }

    /// `'text'` or `"text"` at the current position; returns the text.
    fn quoted(&mut self) -> Result<String, String> {
        let rest = self.rest();
        let Some(quote) = rest.chars().next() else {
            return Err("expected a quoted key".to_owned());
        };
        let body = &rest[1..];
        let Some(end) = body.find(quote) else {
            return Err(format!("unterminated {quote} quote"));
        };
        if end == 0 {
            return Err(format!("empty quoted key {quote}{quote}"));
        }
        let text = body[..end].to_owned();
        self.pos += end + 2;
        Ok(text)
    }

    /// `[]`, `[N]` or `['key']`.
    fn bracket(&mut self) -> Result<(), String> {
        self.pos += 1;
        let rest = self.rest();
        if rest.starts_with(['\'', '"']) {
            let key = self.quoted()?;
            if !self.rest().starts_with(']') {
                return Err(format!("missing ']' after quoted key {key:?}"));
            }
            self.pos += 1;
            self.segments.push(PathSegment::Key(key));
            return Ok(());
        }
        let Some(end) = rest.find(']') else {
            return Err("missing ']'".to_owned());
        };
        let inside = &rest[..end];
        if self.segments.is_empty() {
            return Err(format!("[{inside}] needs a list field before it"));
        }
        let segment = if inside.is_empty() {
            PathSegment::AnyIndex
        } else if inside.bytes().all(|b| b.is_ascii_digit()) {
            let index = inside
                .parse()
                .map_err(|_| format!("list index {inside} is too large"))?;
            PathSegment::Index(index)
        } else {
            return Err(format!(
                "list index {inside:?} is not a number; quote it as ['{inside}'] if it is a key"
            ));
        };
        self.segments.push(segment);
        self.pos += end + 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POD: &str = include_str!("../../tests/fixtures/pod.json");

    fn pod() -> Value {
        serde_json::from_str(POD).unwrap_or_default()
    }

    fn parse(input: &str) -> FieldSelector {
        FieldSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"))
    }

    fn err(input: &str) -> String {
        match FieldSelector::parse(input) {
            Ok(s) => panic!("{input:?} parsed as {s:?}"),
            Err(e) => e,
        }
    }

    fn path(key: &str) -> Vec<PathSegment> {
        FieldPath::parse(key)
            .unwrap_or_else(|e| panic!("{key:?}: {e}"))
            .segments
    }

    fn k(s: &str) -> PathSegment {
        PathSegment::Key(s.to_owned())
    }

    #[test]
    fn fixture_is_valid_json() {
        assert!(pod().is_object());
    }

    #[test]
    fn paths() {
        assert_eq!(path("metadata.name"), [k("metadata"), k("name")]);
        assert_eq!(path(".metadata.name"), [k("metadata"), k("name")]);
        assert_eq!(
            path("metadata.annotations['a.b']"),
            [k("metadata"), k("annotations"), k("a.b")]
        );
        assert_eq!(
            path(r#"metadata.annotations["example.com/x"]"#),
            [k("metadata"), k("annotations"), k("example.com/x")]
        );
        assert_eq!(
            path("metadata.annotations.'a.b'"),
            [k("metadata"), k("annotations"), k("a.b")]
        );
        assert_eq!(path("'a.b'.c"), [k("a.b"), k("c")]);
        assert_eq!(path("['a.b'].c"), [k("a.b"), k("c")]);
        assert_eq!(path(".['a']"), [k("a")]);
        assert_eq!(
            path("spec.containers[0].image"),
            [
                k("spec"),
                k("containers"),
                PathSegment::Index(0),
                k("image")
            ]
        );
        assert_eq!(
            path("spec.containers[].image"),
            [
                k("spec"),
                k("containers"),
                PathSegment::AnyIndex,
                k("image")
            ]
        );
        assert_eq!(
            path("a[1][].b"),
            [k("a"), PathSegment::Index(1), PathSegment::AnyIndex, k("b")]
        );
        assert_eq!(path("a[007].b"), [k("a"), PathSegment::Index(7), k("b")]);
        assert_eq!(path("a['x]y'].b"), [k("a"), k("x]y"), k("b")]);
        assert_eq!(path(r#"a["it's"]"#), [k("a"), k("it's")]);
        assert_eq!(
            path("a['b'][0].c"),
            [k("a"), k("b"), PathSegment::Index(0), k("c")]
        );
        assert_eq!(path("data.x/y"), [k("data"), k("x/y")]);
        assert_eq!(path("Status.PHASE"), [k("Status"), k("PHASE")]);
    }

    #[test]
    fn bad_paths() {
        let cases = [
            (".", "empty field path"),
            ("a.", "empty field name"),
            ("a..b", "empty field name"),
            ("..a", "empty field name"),
            ("[]", "needs a list field"),
            ("[0].a", "needs a list field"),
            (".[1]", "needs a list field"),
            ("a[]", "may not end with a list index"),
            ("a[0]", "may not end with a list index"),
            ("a.b[].c[]", "may not end with a list index"),
            ("a[", "missing ']'"),
            ("a[0", "missing ']'"),
            ("a['b", "unterminated ' quote"),
            ("a[\"b", "unterminated \" quote"),
            ("a['b'", "missing ']' after quoted key"),
            ("a['b'x]", "missing ']' after quoted key"),
            ("'a", "unterminated ' quote"),
            ("a.''", "empty quoted key"),
            ("a[\"\"]", "empty quoted key"),
            ("a[x].b", "is not a number"),
            ("a[-1].b", "is not a number"),
            ("a[+1].b", "is not a number"),
            ("a[99999999999999999999999].b", "too large"),
            ("a[0]b", "unexpected 'b'"),
            ("a['b']c", "unexpected 'c'"),
            ("'a'b", "unexpected 'b'"),
            ("a.-b", "not a qualified name"),
            ("a.b_", "not a qualified name"),
            ("a.x/y/z", "not a qualified name"),
            ("a.b]", "not a qualified name"),
            ("a.b'c", "not a qualified name"),
            ("a.ключ", "not a qualified name"),
        ];
        for (key, want) in cases {
            let e = err(&format!("{key}=v"));
            assert!(
                e.starts_with(&format!("invalid field selector key {key:?}: ")) && e.contains(want),
                "{key:?}: {e}"
            );
        }
    }

    #[test]
    fn grammar_errors_and_value_rules() {
        assert_eq!(
            err("=a"),
            "found '=', expected: '!', identifier, or end of string"
        );
        assert!(err("status.restartCount>x").contains("must be an integer"));
        assert!(err("a.b in c").contains("expected: '('"));
    }

    #[test]
    fn values_are_not_label_validated() {
        let s = parse("spec.containers[].image=registry.example.com/sidecar:v2,a.b=-x_");
        assert_eq!(s.requirements[0].values, ["-x_"]);
        assert_eq!(
            s.requirements[1].values,
            ["registry.example.com/sidecar:v2"]
        );
        let s = parse("metadata.name=ünïcödé");
        assert_eq!(s.requirements[0].values, ["ünïcödé"]);
    }

    #[test]
    fn requirements_sorted_by_key() {
        let s = parse("status.phase=Running,metadata.name=x,metadata.name!=y");
        let keys: Vec<_> = s.requirements.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["metadata.name", "metadata.name", "status.phase"]);
        assert_eq!(s.requirements[0].operator, Operator::Equals);
        assert_eq!(s.requirements[1].operator, Operator::NotEquals);
    }

    #[test]
    fn display_round_trips() {
        for input in [
            "",
            "metadata.name=x",
            "metadata.annotations['a.b']==y,.metadata.namespace!=",
            "spec.containers[].image in (b,a,b)",
            "status.phase notin (Failed,Succeeded)",
            "metadata.labels['app']",
            "!metadata.labels[\"app\"]",
            "status.containerStatuses[0].restartCount>2,status.containerStatuses[1].restartCount<5",
            "a.b in (in,notin,)",
            "a.b in ()",
        ] {
            let parsed = parse(input);
            let shown = parsed.to_string();
            assert_eq!(parse(&shown), parsed, "{input:?} displayed as {shown:?}");
        }
        assert_eq!(
            parse("spec.x in (b,a) , metadata.name = y").to_string(),
            "metadata.name=y,spec.x in (a,b)"
        );
    }

    #[test]
    fn lookup() {
        let pod = pod();
        let at = |key: &str| {
            FieldPath::parse(key)
                .ok()
                .and_then(|p| p.lookup(&pod).cloned())
        };
        assert_eq!(
            at("metadata.name"),
            Some(Value::from("web-7d4b9c8f6d-x2x9q"))
        );
        assert_eq!(
            at("metadata.annotations['prometheus.io/scrape']"),
            Some(Value::from("true"))
        );
        assert_eq!(at("spec.containers[1].name"), Some(Value::from("sidecar")));
        assert_eq!(
            at("spec.containers[0].ports[1].containerPort"),
            Some(Value::from(443))
        );
        assert_eq!(at("spec.containers[5].name"), None);
        assert_eq!(at("spec.containers.name"), None);
        assert_eq!(at("metadata.name.x"), None);
        assert_eq!(at("metadata[0].x"), None);
        assert_eq!(at("spec.containers[].name"), None);
        assert_eq!(at("status.nominatedNodeName"), Some(Value::Null));
    }

    #[test]
    fn metadata_columns() {
        let col = |key: &str| FieldPath::parse(key).ok().and_then(|p| p.metadata_column());
        assert_eq!(col("metadata.name"), Some("name"));
        assert_eq!(col(".metadata.namespace"), Some("namespace"));
        assert_eq!(col("metadata['name']"), Some("name"));
        assert_eq!(col("metadata.uid"), None);
        assert_eq!(col("spec.name"), None);
    }

    #[test]
    fn matching_scalars() {
        let pod = pod();
        let yes = [
            "",
            "metadata.name=web-7d4b9c8f6d-x2x9q",
            "metadata.namespace==default",
            "status.phase!=Pending",
            "status.phase in (Pending,Running)",
            "status.phase notin (Failed)",
            "metadata.annotations['prometheus.io/scrape']=true",
            "spec.enableServiceLinks=true",
            "spec.containers[0].securityContext.privileged=false",
            "spec.priority=0",
            "spec.terminationGracePeriodSeconds>29",
            "spec.terminationGracePeriodSeconds<31",
            "status.containerStatuses[1].restartCount>2",
            "spec.nodeName",
            "!spec.missing",
            "spec.missing!=x",
            "spec.missing notin (x)",
            "!status.nominatedNodeName",
            "status.nominatedNodeName!=x",
            // Objects and lists are present but equal to nothing.
            "spec.containers",
            "spec.containers!=x",
            "spec.containers notin (x)",
            "metadata.labels!=web",
        ];
        let no = [
            "metadata.name=other",
            "status.phase!=Running",
            "status.phase in (Failed)",
            "status.phase notin (Running)",
            "spec.enableServiceLinks=True",
            "spec.terminationGracePeriodSeconds>30",
            "spec.nodeName>1",
            "spec.missing",
            "!spec.nodeName",
            "spec.missing=x",
            "spec.missing>1",
            "status.nominatedNodeName",
            "status.nominatedNodeName=",
            "spec.containers=x",
            "spec.containers in (x)",
            "!spec.containers",
            "spec.containers>0",
            "metadata.name=web-7d4b9c8f6d-x2x9q,status.phase=Failed",
        ];
        for s in yes {
            assert!(parse(s).matches(&pod), "{s:?} should match");
        }
        for s in no {
            assert!(!parse(s).matches(&pod), "{s:?} should not match");
        }
    }

    #[test]
    fn matching_any_index() {
        let pod = pod();
        let yes = [
            "spec.containers[].name=sidecar",
            "spec.containers[].name in (x,nginx)",
            "spec.containers[].image!=busybox",
            "spec.containers[].name notin (a,b)",
            "spec.containers[].image",
            "spec.containers[].args",
            "spec.containers[].ports[].containerPort=443",
            "spec.containers[].ports[].containerPort>442",
            "spec.containers[].ports[].containerPort<81",
            "status.containerStatuses[].restartCount>2",
            "!spec.containers[].nope",
            // No element violates a negative operator when there are no elements.
            "spec.missing[].x!=y",
            "spec.missing[].x notin (y)",
            "!spec.missing[].x",
            "spec.nodeName[].x!=y",
        ];
        let no = [
            "spec.containers[].name=busybox",
            "spec.containers[].name!=nginx",
            "spec.containers[].name notin (sidecar)",
            "!spec.containers[].args",
            "!spec.containers[].name",
            "spec.containers[].nope",
            "spec.containers[].ports[].containerPort=8080",
            "status.containerStatuses[].restartCount>3",
            "spec.missing[].x=y",
            "spec.missing[].x",
            "spec.nodeName[].x",
            "spec.containers[].resources=x",
        ];
        for s in yes {
            assert!(parse(s).matches(&pod), "{s:?} should match");
        }
        for s in no {
            assert!(!parse(s).matches(&pod), "{s:?} should not match");
        }
    }

    #[test]
    fn number_text_is_serde_json_text() {
        let obj = serde_json::json!({"a": {"f": 1.5, "n": -3, "big": 18446744073709551615u64}});
        assert!(parse("a.f=1.5").matches(&obj));
        assert!(parse("a.n=-3").matches(&obj));
        assert!(parse("a.n<0").matches(&obj));
        assert!(parse("a.big=18446744073709551615").matches(&obj));
        // Too big for `>`: not an i64, so it compares as nothing.
        assert!(!parse("a.big>0").matches(&obj));
        assert!(!parse("a.f>1").matches(&obj));
    }

    #[test]
    fn non_object_documents() {
        assert!(!parse("a=1").matches(&Value::from(1)));
        assert!(parse("!a").matches(&Value::Null));
        assert!(parse("a!=1").matches(&serde_json::json!([1])));
    }
}
