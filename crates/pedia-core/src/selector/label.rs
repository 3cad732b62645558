//! Kubernetes label selectors: parsing with key/value validation, matching, display.

use std::fmt;

use super::Operator;
use super::grammar;

/// One requirement such as `app in (a,b)`. `values` is sorted and deduplicated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct LabelRequirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

impl LabelRequirement {
    /// Whether a label value (`None` when the object lacks the key) satisfies this.
    pub fn matches(&self, value: Option<&str>) -> bool {
        self.operator.matches(value, &self.values)
    }
}

/// A conjunction of label requirements, sorted by key. Empty matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct LabelSelector {
    pub requirements: Vec<LabelRequirement>,
}

impl LabelSelector {
    /// Parses Kubernetes label-selector syntax. Errors name the offending token.
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for raw in grammar::parse(input)? {
            validate_label_key(raw.key)
                .map_err(|e| format!("invalid label key {:?}: {e}", raw.key))?;
            for value in &raw.values {
                validate_label_value(value).map_err(|e| {
                    format!("invalid label value {value:?} for key {:?}: {e}", raw.key)
                })?;
            }
            grammar::check_values(raw.key, raw.operator, &raw.values)?;
            requirements.push(LabelRequirement {
                key: raw.key.to_owned(),
                operator: raw.operator,
                values: raw.values,
            });
        }
        // Stable, so two requirements on one key keep the order the user wrote.
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Matches a label set given as a lookup function.
    pub fn matches<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|r| r.matches(lookup(&r.key)))
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        grammar::write_all(
            f,
            self.requirements
                .iter()
                .map(|r| (r.key.as_str(), r.operator, r.values.as_slice())),
        )
    }
}

/// Validates a label key (`[prefix/]name`) as Kubernetes does.
pub fn validate_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((_, rest)) if rest.contains('/') => {
            return Err(format!(
                "a qualified name must {NAME_RULE}, with an optional DNS subdomain prefix and '/' \
                 (e.g. 'example.com/MyName')"
            ));
        }
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Err("prefix part must be non-empty".to_owned());
        }
        validate_dns_subdomain(prefix).map_err(|e| format!("prefix part {e}"))?;
    }
    if name.is_empty() {
        return Err("name part must be non-empty".to_owned());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "name part must be no more than {MAX_NAME_LEN} characters"
        ));
    }
    if !is_qualified_name_part(name) {
        return Err(format!("name part must {NAME_RULE}"));
    }
    Ok(())
}

/// Validates a label value as Kubernetes does (at most 63 characters, alphanumerics,
/// `-`, `_`, `.`, starting and ending alphanumeric; empty allowed).
pub fn validate_label_value(value: &str) -> Result<(), String> {
    if value.len() > MAX_NAME_LEN {
        return Err(format!("must be no more than {MAX_NAME_LEN} characters"));
    }
    if !value.is_empty() && !is_qualified_name_part(value) {
        return Err(format!("a label value must be empty or {NAME_RULE}"));
    }
    Ok(())
}

/// Kubernetes' limit for a label value and for the name part of a key.
const MAX_NAME_LEN: usize = 63;
/// Kubernetes' limit for a DNS subdomain, the optional prefix of a key.
const MAX_PREFIX_LEN: usize = 253;

const NAME_RULE: &str = "consist of alphanumeric characters, '-', '_' or '.', and start \
                         and end with an alphanumeric character";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, the shape of label names and values.
fn is_qualified_name_part(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// RFC 1123 subdomain as Kubernetes checks it: lowercase labels joined by dots, each
/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 253 characters in all.
fn validate_dns_subdomain(s: &str) -> Result<(), String> {
    if s.len() > MAX_PREFIX_LEN {
        return Err(format!("must be no more than {MAX_PREFIX_LEN} characters"));
    }
    let label_ok = |label: &str| {
        let bytes = label.as_bytes();
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) => {
                alnum(first) && alnum(last) && bytes.iter().all(|b| alnum(b) || *b == b'-')
            }
            _ => false,
        }
    };
    if s.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
             characters, '-' or '.', and must start and end with an alphanumeric character"
                .to_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> LabelSelector {
        LabelSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"))
    }

    fn err(input: &str) -> String {
        match LabelSelector::parse(input) {
            Ok(s) => panic!("{input:?} parsed as {s:?}"),
            Err(e) => e,
        }
    }

    fn req(key: &str, operator: Operator, values: &[&str]) -> LabelRequirement {
        LabelRequirement {
            key: key.to_owned(),
            operator,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn empty_string_is_the_empty_selector() {
        assert!(parse("").is_empty());
        assert!(parse("  ").is_empty());
        assert!(parse("").matches(|_| None));
        assert_eq!(parse("").to_string(), "");
    }

    #[test]
    fn every_operator() {
        let s = parse("a=1,b==2,c!=3,d in (x,y),e notin (z),f,!g,h>4,i<5,example.com/j=ok,k=");
        assert_eq!(
            s.requirements,
            vec![
                req("a", Operator::Equals, &["1"]),
                req("b", Operator::DoubleEquals, &["2"]),
                req("c", Operator::NotEquals, &["3"]),
                req("d", Operator::In, &["x", "y"]),
                req("e", Operator::NotIn, &["z"]),
                req("example.com/j", Operator::Equals, &["ok"]),
                req("f", Operator::Exists, &[]),
                req("g", Operator::DoesNotExist, &[]),
                req("h", Operator::GreaterThan, &["4"]),
                req("i", Operator::LessThan, &["5"]),
                req("k", Operator::Equals, &[""]),
            ]
        );
    }

    #[test]
    fn values_sorted_and_deduplicated_requirements_sorted_stably() {
        let s = parse("b in (z,a,z,m),a=1,b!=q");
        assert_eq!(
            s.requirements,
            vec![
                req("a", Operator::Equals, &["1"]),
                req("b", Operator::In, &["a", "m", "z"]),
                req("b", Operator::NotEquals, &["q"]),
            ]
        );
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        let inputs = [
            "",
            "a=1",
            "a==1",
            "a!=1",
            "a in (b, a, b)",
            "a notin (x)",
            "a",
            "!a",
            "a>10",
            "a<10",
            "a=",
            "a in ()",
            "a in (,b)",
            "in=notin,notin in (in)",
            "z=1 , example.com/y notin (q,r), !x, w",
            "app.kubernetes.io/name=web,tier in (frontend,backend),!canary",
        ];
        for input in inputs {
            let parsed = parse(input);
            let shown = parsed.to_string();
            assert_eq!(parse(&shown), parsed, "{input:?} displayed as {shown:?}");
        }
        assert_eq!(
            parse("z=1 , example.com/y notin (r,q), !x, w, a in (b,a)").to_string(),
            "a in (a,b),example.com/y notin (q,r),w,!x,z=1"
        );
        assert_eq!(parse("a==1,b>2,c<3,d=").to_string(), "a==1,b>2,c<3,d=");
    }

    #[test]
    fn matching_follows_kubernetes() {
        let labels = [("app", "web"), ("tier", "frontend"), ("replicas", "3")];
        let lookup = |k: &str| labels.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        let yes = [
            "",
            "app=web",
            "app==web",
            "app!=api",
            "missing!=x",
            "app in (api,web)",
            "app notin (api)",
            "missing notin (api)",
            "app",
            "!missing",
            "replicas>2",
            "replicas<4",
            "app=web,tier=frontend",
        ];
        let no = [
            "app=api",
            "app!=web",
            "missing=x",
            "app in (api)",
            "app notin (web)",
            "missing",
            "!app",
            "replicas>3",
            "replicas<3",
            "app>1",
            "missing>1",
            "app=web,tier=backend",
        ];
        for s in yes {
            assert!(parse(s).matches(lookup), "{s:?} should match");
        }
        for s in no {
            assert!(!parse(s).matches(lookup), "{s:?} should not match");
        }
    }

    #[test]
    fn syntax_errors_name_the_token() {
        assert_eq!(
            err("(a=b)"),
            "found '(', expected: '!', identifier, or end of string"
        );
        assert_eq!(
            err("a=b,"),
            "found end of string, expected: identifier after ','"
        );
        assert_eq!(
            err("!=a"),
            "found '!=', expected: '!', identifier, or end of string"
        );
        assert_eq!(err("a in b"), "found 'b', expected: '('");
    }

    #[test]
    fn invalid_keys_are_named() {
        for (input, key) in [
            ("Bad$Key=1", "Bad$Key"),
            ("-a=1", "-a"),
            ("a-=1", "a-"),
            ("a/b/c=1", "a/b/c"),
            ("/a=1", "/a"),
            ("a/=1", "a/"),
            ("Example.com/a=1", "Example.com/a"),
            ("ex_ample.com/a=1", "ex_ample.com/a"),
            ("ключ=1", "ключ"),
            ("!'a'", "'a'"),
            ("a.b..c/x", "a.b..c/x"),
        ] {
            let e = err(input);
            assert!(
                e.starts_with(&format!("invalid label key {key:?}: ")),
                "{input:?}: {e}"
            );
        }
        let long_name = "a".repeat(64);
        assert!(err(&format!("{long_name}=1")).contains("no more than 63"));
        assert!(LabelSelector::parse(&format!("{}=1", "a".repeat(63))).is_ok());
        let long_prefix = format!("{}/a", "a".repeat(254));
        assert!(err(&long_prefix).contains("prefix part must be no more than 253"));
    }

    #[test]
    fn invalid_values_are_named() {
        assert!(err("a=-b").starts_with("invalid label value \"-b\" for key \"a\": "));
        assert!(err("a in (ok,b_)").starts_with("invalid label value \"b_\" for key \"a\""));
        assert!(err("a>-1").contains("invalid label value \"-1\""));
        assert!(err("a=é").contains("invalid label value"));
        assert!(err(&format!("a={}", "v".repeat(64))).contains("no more than 63"));
        assert!(err("a=x/y").contains("invalid label value"));
        assert!(err("a=2024-01-02T03:04:05Z").contains("invalid label value"));
    }

    #[test]
    fn operator_value_rules() {
        assert!(err("a>b").contains("must be an integer"));
        assert!(err("a<").contains("must be an integer"));
        assert!(err("a>99999999999999999999").contains("must be an integer"));
        assert!(err("a>1.5").contains("must be an integer"));
    }

    #[test]
    fn key_validation_accepts_kubernetes_keys() {
        for key in [
            "a",
            "A",
            "9",
            "app.kubernetes.io/name",
            "kubernetes.io/os",
            "a-b_c.d",
            "x/Y",
            "search.clusterpedia.io/clusters",
        ] {
            assert_eq!(validate_label_key(key), Ok(()), "{key}");
        }
        for key in [
            "",
            "a/",
            "/a",
            "a b",
            "a/b/c",
            "_a",
            "a.",
            "UPPER.com/a",
            "-x.com/a",
        ] {
            assert!(validate_label_key(key).is_err(), "{key}");
        }
        assert!(validate_label_key("a.-b.com/x").is_err());
        assert!(validate_label_key(&format!("{}/x", "a".repeat(253))).is_ok());
    }

    #[test]
    fn value_validation_accepts_kubernetes_values() {
        for value in ["", "a", "1", "a.b-c_d", "Z9", &"v".repeat(63)] {
            assert_eq!(validate_label_value(value), Ok(()), "{value}");
        }
        for value in ["-", ".a", "a_", "a b", "a/b", "a:b", "ü", &"v".repeat(64)] {
            assert!(validate_label_value(value).is_err(), "{value}");
        }
    }
}
