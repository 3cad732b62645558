//! Parsing the three DSN forms Clusterpedia accepts into one neutral [`ServerSpec`]: URLs
//! (`postgres://`, `mysql://`), libpq `key=value` strings, and the Go MySQL driver's
//! `user:pass@tcp(host:port)/db?params`. Error messages never echo the DSN, which may
//! hold a password.

use super::Secret;

/// Where and how to reach a database server, before dialect-specific interpretation of
/// `params` (libpq keywords and runtime parameters, Go MySQL driver parameters).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ServerSpec {
    pub host: Option<String>,
    pub port: Option<u16>,
    /// A Unix socket path (or directory, for PostgreSQL).
    pub socket: Option<String>,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub database: Option<String>,
    /// Remaining parameters in the order given.
    pub params: Vec<(String, String)>,
}

/// Splits `scheme://user:pass@host:port/db?k=v` into a spec. `what` names the scheme family
/// for messages.
pub(crate) fn parse_url(dsn: &str) -> Result<ServerSpec, String> {
    let Some((_, rest)) = dsn.split_once("://") else {
        return Err(
            "a URL must look like scheme://[user[:password]@]host[:port][/database][?param=value]"
                .to_owned(),
        );
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => (&before_query[..i], &before_query[i + 1..]),
        None => (before_query, ""),
    };
    let mut spec = ServerSpec::default();
    // The password may contain '@'; the host never does.
    let host_port = match authority.rfind('@') {
        Some(i) => {
            let userinfo = &authority[..i];
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                spec.user = Some(percent_decode(user).map_err(|e| format!("user name: {e}"))?);
            }
            if let Some(p) = password {
                // The decoded password never appears in the message.
                let p = percent_decode(p)
                    .map_err(|_| "the password is not valid percent-encoded UTF-8".to_owned())?;
                spec.password = Some(Secret::new(p));
            }
            &authority[i + 1..]
        }
        None => authority,
    };
    let (host, port) = split_host_port(host_port)?;
    if !host.is_empty() {
        let host = percent_decode(host).map_err(|e| format!("host: {e}"))?;
        if host.starts_with('/') {
            spec.socket = Some(host);
        } else {
            spec.host = Some(host);
        }
    }
    spec.port = port;
    if !path.is_empty() {
        spec.database = Some(percent_decode(path).map_err(|e| format!("database: {e}"))?);
    }
    if let Some(query) = query {
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            spec.params.push((k.into_owned(), v.into_owned()));
        }
    }
    Ok(spec)
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(s: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return Err("unterminated '[' in the host".to_owned());
        };
        let host = &rest[..end];
        match &rest[end + 1..] {
            "" => (host, None),
            p => match p.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None => return Err("unexpected text after ']' in the host".to_owned()),
            },
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(parse_port(p)?),
    };
    Ok((host, port))
}

/// A TCP port: 1-65535.
pub(crate) fn parse_port(p: &str) -> Result<u16, String> {
    match p.trim().parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("port {p:?} is not a number between 1 and 65535")),
        Ok(n) => Ok(n),
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "bad percent-encoding".to_owned())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "not valid UTF-8 after percent-decoding".to_owned())
}

/// libpq's `key=value key2='quoted value'` connection strings.
pub(crate) fn parse_libpq(dsn: &str) -> Result<ServerSpec, String> {
    let mut pairs = Vec::new();
    let mut chars = dsn.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!("expected '=' after {key:?}"));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '\'' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(format!("unterminated quoted value for {key:?}"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        if key.is_empty() {
            return Err("empty keyword".to_owned());
        }
        pairs.push((key, value));
    }
    let mut spec = ServerSpec::default();
    for (key, value) in pairs {
        match key.as_str() {
            "host" | "hostaddr" => {
                if value.starts_with('/') {
                    spec.socket = Some(value);
                } else {
                    spec.host = Some(value);
                }
            }
            "port" => spec.port = Some(parse_port(&value)?),
            "user" => spec.user = Some(value),
            "password" => spec.password = Some(Secret::new(value)),
            "dbname" => spec.database = Some(value),
            _ => spec.params.push((key, value)),
        }
    }
    Ok(spec)
}

/// The Go MySQL driver's DSN: `[user[:password]@][net[(addr)]]/dbname[?param=value&...]`.
pub(crate) fn parse_go_mysql(dsn: &str) -> Result<ServerSpec, String> {
    // The database name follows the last '/', unless that '/' is inside the address
    // (a socket path in `unix(/path)`).
    let (before_query, query) = match dsn.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (dsn, None),
    };
    let close = before_query.rfind(')').unwrap_or(0);
    let Some(slash) = before_query[close..].rfind('/').map(|i| i + close) else {
        return Err("a MySQL DSN must look like user:password@tcp(host:port)/database".to_owned());
    };
    let (head, database) = (&before_query[..slash], &before_query[slash + 1..]);
    let mut spec = ServerSpec::default();
    if !database.is_empty() {
        spec.database = Some(database.to_owned());
    }
    // The password may contain '@': split at the last '@' before the address.
    let address = match head.rfind('@') {
        Some(i) => {
            let userinfo = &head[..i];
            match userinfo.split_once(':') {
                Some((u, p)) => {
                    spec.user = Some(u.to_owned());
                    spec.password = Some(Secret::new(p.to_owned()));
                }
                None => spec.user = Some(userinfo.to_owned()),
            }
            &head[i + 1..]
        }
        None => head,
    };
    if !address.is_empty() {
        let (net, addr) = match address.split_once('(') {
            Some((net, rest)) => match rest.strip_suffix(')') {
                Some(addr) => (net, addr),
                None => return Err("unterminated '(' in the address".to_owned()),
            },
            None => (address, ""),
        };
        match net {
            "tcp" | "tcp4" | "tcp6" => {
                if !addr.is_empty() {
                    let (host, port) = split_host_port(addr)?;
                    if !host.is_empty() {
                        spec.host = Some(host.to_owned());
                    }
                    spec.port = port;
                }
            }
            "unix" => {
                if !addr.is_empty() {
                    spec.socket = Some(addr.to_owned());
                }
            }
            other => {
                return Err(format!(
                    "unknown network {other:?} in the address (use tcp or unix)"
                ));
            }
        }
    }
    if let Some(query) = query {
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            spec.params.push((k.into_owned(), v.into_owned()));
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(spec: &ServerSpec) -> Option<&str> {
        spec.password.as_ref().map(Secret::expose)
    }

    #[test]
    fn urls() {
        let s = parse_url(
            "postgres://alice:p%40ss@db.example:5433/pedia?sslmode=require&search_path=x",
        )
        .unwrap_or_default();
        assert_eq!(s.user.as_deref(), Some("alice"));
        assert_eq!(pw(&s), Some("p@ss"));
        assert_eq!(s.host.as_deref(), Some("db.example"));
        assert_eq!(s.port, Some(5433));
        assert_eq!(s.database.as_deref(), Some("pedia"));
        assert_eq!(
            s.params,
            vec![
                ("sslmode".to_owned(), "require".to_owned()),
                ("search_path".to_owned(), "x".to_owned())
            ]
        );
        let s = parse_url("mysql://root@[::1]:3306/test").unwrap_or_default();
        assert_eq!(s.host.as_deref(), Some("::1"));
        assert_eq!(s.port, Some(3306));
        assert_eq!(s.password, None);
        let s = parse_url("postgres://u:a@b@h/db").unwrap_or_default();
        assert_eq!(pw(&s), Some("a@b"));
        assert_eq!(s.host.as_deref(), Some("h"));
        let s = parse_url("postgresql://%2Fvar%2Frun%2Fpostgresql/db").unwrap_or_default();
        assert_eq!(s.socket.as_deref(), Some("/var/run/postgresql"));
    }

    #[test]
    fn bad_urls_do_not_echo_the_password() {
        let err = parse_url("postgres://u:secret@h:99999/db").expect_err("bad port");
        assert!(err.contains("99999") && !err.contains("secret"), "{err}");
        let err = parse_url("postgres://u:%ZZsecret@h/db").expect_err("bad escape");
        assert!(!err.contains("secret"), "{err}");
        assert!(parse_url("no-scheme").is_err());
    }

    #[test]
    fn libpq() {
        let s = parse_libpq(
            "host=localhost port=5432 user=postgres password='it''s \\' x' dbname=test sslmode=disable search_path = 'a b'",
        );
        // `''` is not an escape in libpq; a quote ends the value.
        assert!(s.is_err());
        let s = parse_libpq(
            "host=localhost port=5432 user=postgres password='a \\'b' dbname=test sslmode=disable search_path = 'a b'",
        )
        .unwrap_or_default();
        assert_eq!(s.host.as_deref(), Some("localhost"));
        assert_eq!(s.port, Some(5432));
        assert_eq!(pw(&s), Some("a 'b"));
        assert_eq!(s.database.as_deref(), Some("test"));
        assert_eq!(
            s.params,
            vec![
                ("sslmode".to_owned(), "disable".to_owned()),
                ("search_path".to_owned(), "a b".to_owned())
            ]
        );
        assert!(parse_libpq("host").is_err());
        assert!(parse_libpq("port=abc").is_err());
        assert!(parse_libpq("password='open").is_err());
    }

    #[test]
    fn go_mysql() {
        let s =
            parse_go_mysql("root:p@ss:w@tcp(127.0.0.1:3306)/pedia?charset=utf8mb4&parseTime=true")
                .unwrap_or_default();
        assert_eq!(s.user.as_deref(), Some("root"));
        assert_eq!(pw(&s), Some("p@ss:w"));
        assert_eq!(s.host.as_deref(), Some("127.0.0.1"));
        assert_eq!(s.port, Some(3306));
        assert_eq!(s.database.as_deref(), Some("pedia"));
        assert_eq!(s.params.len(), 2);
        let s = parse_go_mysql("u@unix(/run/mysqld/mysqld.sock)/db").unwrap_or_default();
        assert_eq!(s.socket.as_deref(), Some("/run/mysqld/mysqld.sock"));
        assert_eq!(s.database.as_deref(), Some("db"));
        let s = parse_go_mysql("/db").unwrap_or_default();
        assert_eq!(s.database.as_deref(), Some("db"));
        assert!(parse_go_mysql("u:secret@tcp(h:1)").is_err());
        let err = parse_go_mysql("u:secret@udp(h:1)/db").expect_err("udp");
        assert!(!err.contains("secret"));
        assert!(parse_go_mysql("u@tcp(h:x)/db").is_err());
    }
}
