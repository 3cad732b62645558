//! URL query parameters of a request (the first occurrence of a name wins, as with Go's
//! `url.Values.Get`).

use std::collections::HashMap;

use crate::error::StatusError;

#[derive(Debug, Default)]
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    pub(crate) fn parse(query: Option<&str>) -> Self {
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
        Self(map)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A boolean parameter: absent is `false`; `true`/`1` and `false`/`0` as Go parses them.
    pub(crate) fn flag(&self, name: &str) -> Result<bool, StatusError> {
        match self.get(name) {
            None | Some("" | "false" | "0" | "False" | "FALSE" | "f" | "F") => Ok(false),
            Some("true" | "1" | "True" | "TRUE" | "t" | "T") => Ok(true),
            Some(other) => Err(StatusError::bad_request(format!(
                "{name}: invalid boolean value {other:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let q = Query::parse(Some(
            "labelSelector=app%3Dweb%2Ctier+in+(a)&watch=1&limit=5",
        ));
        assert_eq!(q.get("labelSelector"), Some("app=web,tier in (a)"));
        assert_eq!(q.flag("watch").ok(), Some(true));
        assert_eq!(q.flag("allowWatchBookmarks").ok(), Some(false));
        assert!(Query::parse(Some("watch=yes")).flag("watch").is_err());
    }
}
