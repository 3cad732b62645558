//! kube-apiserver's static token file (`--token-auth-file`): `token,user,uid[,"groups"]`.

use std::collections::HashMap;
use std::path::Path;

use super::{AuthConfigError, UserInfo};

/// Splits one CSV line, honouring double quotes (the token file's group column is quoted).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                if let Some(f) = fields.last_mut() {
                    f.push('"');
                }
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields.into_iter().map(|f| f.trim().to_owned()).collect()
}

/// Parses kube-apiserver's `--token-auth-file`: `token,user,uid[,"group1,group2"]` per line.
pub fn parse_token_file(
    text: &str,
    path: &Path,
) -> Result<HashMap<String, UserInfo>, AuthConfigError> {
    let mut tokens = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f = csv_fields(line);
        if f.len() < 3 || f[0].is_empty() || f[1].is_empty() {
            return Err(AuthConfigError(format!(
                "{}:{}: a token line needs at least token,user,uid",
                path.display(),
                i + 1
            )));
        }
        let groups = f
            .get(3)
            .map(|g| {
                g.split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let user = UserInfo {
            name: f[1].clone(),
            uid: f[2].clone(),
            groups,
            extra: Default::default(),
        };
        if tokens.insert(f[0].clone(), user).is_some() {
            return Err(AuthConfigError(format!(
                "{}:{}: the same token appears twice",
                path.display(),
                i + 1
            )));
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_in_kube_apiserver_format() {
        let text = "# comment\nsecret1,alice,uid-1,\"dev,ops\"\nsecret2,bob,uid-2\n\n";
        let tokens = parse_token_file(text, Path::new("tokens.csv")).expect("parses");
        assert_eq!(tokens["secret1"].groups, vec!["dev", "ops"]);
        assert_eq!(tokens["secret2"].name, "bob");
        assert!(tokens["secret2"].groups.is_empty());

        let err = parse_token_file("lonely\n", Path::new("t.csv")).expect_err("short line");
        assert!(err.to_string().contains("t.csv:1"), "{err}");
        let err = parse_token_file("a,b,c\na,d,e\n", Path::new("t.csv")).expect_err("dup");
        assert!(err.to_string().contains("twice"), "{err}");
    }
}
