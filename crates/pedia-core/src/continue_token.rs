//! Opaque keyset continue tokens: the sort-key values of the last item of a page.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::QueryError;

/// The format version written into every token.
const VERSION: u32 = 1;
/// Bytes of sha256 appended to the payload. The checksum catches corruption and casual
/// edits; it is not a secret MAC, and need not be: a cursor only says where a listing
/// resumes, which a user could already choose with filters.
const CHECKSUM_LEN: usize = 8;
/// Tokens longer than this are refused before any decoding work.
const MAX_TOKEN_LEN: usize = 16 * 1024;
/// How much of a bad token an error message echoes back.
const MAX_ECHO_CHARS: usize = 64;

const NOT_OURS: &str = "not a continue token issued by this server";
const OTHER_QUERY: &str =
    "continue token was issued for a different query; restart the listing without continue";
const OTHER_VERSION: &str = "unsupported continue token version";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    v: u32,
    f: String,
    r: u64,
    k: Vec<Key>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
enum Key {
    #[serde(rename = "s")]
    Str(String),
    #[serde(rename = "i")]
    Int(i64),
}

fn checksum(payload: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::digest(payload);
    let mut out = [0; CHECKSUM_LEN];
    out.copy_from_slice(&digest[..CHECKSUM_LEN]);
    out
}

fn fingerprint_hex(fingerprint: u64) -> String {
    format!("{fingerprint:016x}")
}

fn error(token: &str, reason: &str) -> QueryError {
    let echoed: String = token.chars().take(MAX_ECHO_CHARS).collect();
    QueryError::new("continue", echoed, reason)
}

/// One value of a sort key in a cursor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CursorValue {
    Str(String),
    Int(i64),
}

/// Where the next page starts: strictly after the item whose sort keys are `values`
/// (in the order of [`crate::ListOptions::sort_keys`]), plus the revision of the list
/// the first page reported, so every page of one listing reports the same one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub values: Vec<CursorValue>,
    pub revision: u64,
}

impl Cursor {
    /// Encodes the cursor for a query whose [`crate::ListOptions::fingerprint`] is
    /// `fingerprint`. The token is URL-safe base64 and carries a checksum.
    pub fn encode(&self, fingerprint: u64) -> String {
        let payload = Payload {
            v: VERSION,
            f: fingerprint_hex(fingerprint),
            r: self.revision,
            k: self
                .values
                .iter()
                .map(|v| match v {
                    CursorValue::Str(s) => Key::Str(s.clone()),
                    CursorValue::Int(i) => Key::Int(*i),
                })
                .collect(),
        };
        // Serializing plain strings and integers into a Vec cannot fail.
        let mut bytes = serde_json::to_vec(&payload).unwrap_or_default();
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a token. Errors (parameter `continue`) for malformed or tampered tokens,
    /// tokens of another format version, and tokens issued for a different query.
    pub fn decode(token: &str, fingerprint: u64) -> Result<Self, QueryError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(error(token, "continue token is too long"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| error(token, NOT_OURS))?;
        let Some(split) = bytes.len().checked_sub(CHECKSUM_LEN) else {
            return Err(error(token, NOT_OURS));
        };
        let (payload, sum) = bytes.split_at(split);
        if checksum(payload) != sum {
            return Err(error(token, NOT_OURS));
        }
        let payload: Payload =
            serde_json::from_slice(payload).map_err(|_| error(token, NOT_OURS))?;
        if payload.v != VERSION {
            return Err(error(token, OTHER_VERSION));
        }
        if payload.f != fingerprint_hex(fingerprint) {
            return Err(error(token, OTHER_QUERY));
        }
        Ok(Cursor {
            values: payload
                .k
                .into_iter()
                .map(|k| match k {
                    Key::Str(s) => CursorValue::Str(s),
                    Key::Int(i) => CursorValue::Int(i),
                })
                .collect(),
            revision: payload.r,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> Cursor {
        Cursor {
            values: vec![
                CursorValue::Int(1_704_164_645_000),
                CursorValue::Str("cluster-1".into()),
                CursorValue::Str("default".into()),
                CursorValue::Str("web-\"quoted\"-ü".into()),
                CursorValue::Int(-5),
            ],
            revision: 42,
        }
    }

    /// Builds a token from any payload bytes with a correct checksum, as a forger would.
    fn forge(payload: &[u8]) -> String {
        let mut bytes = payload.to_vec();
        bytes.extend_from_slice(&checksum(payload));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn reason(token: &str, fingerprint: u64) -> String {
        match Cursor::decode(token, fingerprint) {
            Ok(c) => panic!("{token:?} decoded to {c:?}"),
            Err(e) => {
                assert_eq!(e.parameter, "continue");
                e.reason
            }
        }
    }

    #[test]
    fn round_trip() {
        let token = cursor().encode(0xdead_beef);
        assert_eq!(Cursor::decode(&token, 0xdead_beef), Ok(cursor()));
        let empty = Cursor {
            values: vec![],
            revision: u64::MAX,
        };
        assert_eq!(Cursor::decode(&empty.encode(0), 0), Ok(empty));
        let extremes = Cursor {
            values: vec![
                CursorValue::Int(i64::MIN),
                CursorValue::Int(i64::MAX),
                CursorValue::Str(String::new()),
            ],
            revision: 0,
        };
        assert_eq!(
            Cursor::decode(&extremes.encode(u64::MAX), u64::MAX),
            Ok(extremes)
        );
    }

    #[test]
    fn token_is_url_safe_and_stable() {
        let token = cursor().encode(7);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{token}"
        );
        assert_eq!(token, cursor().encode(7));
        let bytes = URL_SAFE_NO_PAD.decode(&token).unwrap_or_default();
        let payload = &bytes[..bytes.len() - CHECKSUM_LEN];
        assert_eq!(
            std::str::from_utf8(payload).unwrap_or_default(),
            r#"{"v":1,"f":"0000000000000007","r":42,"k":[{"i":1704164645000},{"s":"cluster-1"},{"s":"default"},{"s":"web-\"quoted\"-ü"},{"i":-5}]}"#
        );
    }

    #[test]
    fn token_from_another_query() {
        let token = cursor().encode(1);
        assert_eq!(reason(&token, 2), OTHER_QUERY);
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let token = cursor().encode(1);
        let bytes = URL_SAFE_NO_PAD.decode(&token).unwrap_or_default();
        for i in 0..bytes.len() {
            for bit in [0x01, 0x80] {
                let mut tampered = bytes.clone();
                tampered[i] ^= bit;
                let tampered = URL_SAFE_NO_PAD.encode(tampered);
                assert_eq!(reason(&tampered, 1), NOT_OURS, "byte {i}");
            }
        }
    }

    #[test]
    fn truncated_and_garbage_tokens() {
        let token = cursor().encode(1);
        for cut in [0, 1, 5, 10, token.len() / 2, token.len() - 1] {
            assert_eq!(reason(&token[..cut], 1), NOT_OURS, "cut at {cut}");
        }
        for bad in [
            "",
            "=",
            "abc",
            "not a token",
            "eyJ2IjoxfQ",
            "../../etc/passwd",
            "' OR 1=1 --",
            "🦀🦀🦀",
            &format!("{token}="),
            &format!("{token}A"),
            &token.replace('_', "/").replace('-', "+"),
        ] {
            if bad != token {
                assert_eq!(reason(bad, 1), NOT_OURS, "{bad:?}");
            }
        }
    }

    #[test]
    fn forged_payloads() {
        let fp = fingerprint_hex(1);
        // Valid checksums around payloads this server never writes.
        for payload in [
            "not json".to_owned(),
            "{}".to_owned(),
            "[]".to_owned(),
            format!(r#"{{"v":1,"f":"{fp}","r":1}}"#),
            format!(r#"{{"v":1,"f":"{fp}","r":-1,"k":[]}}"#),
            format!(r#"{{"v":1,"f":"{fp}","r":1,"k":[{{"x":1}}]}}"#),
            format!(r#"{{"v":1,"f":"{fp}","r":1,"k":[{{"i":"1"}}]}}"#),
            format!(r#"{{"v":1,"f":"{fp}","r":1,"k":[{{"i":1.5}}]}}"#),
            format!(r#"{{"v":1,"f":"{fp}","r":1,"k":[{{"i":99999999999999999999}}]}}"#),
            format!(r#"{{"v":1,"f":"{fp}","r":1,"k":[{{"s":"a","i":1}}]}}"#),
            format!(r#"{{"v":1,"f":"{fp}","r":1,"k":[],"extra":true}}"#),
        ] {
            assert_eq!(reason(&forge(payload.as_bytes()), 1), NOT_OURS, "{payload}");
        }
        let v2 = format!(r#"{{"v":2,"f":"{fp}","r":1,"k":[]}}"#);
        assert_eq!(reason(&forge(v2.as_bytes()), 1), OTHER_VERSION);
        let ok = format!(r#"{{"v":1,"f":"{fp}","r":9,"k":[{{"s":"x"}}]}}"#);
        assert_eq!(
            Cursor::decode(&forge(ok.as_bytes()), 1),
            Ok(Cursor {
                values: vec![CursorValue::Str("x".into())],
                revision: 9
            })
        );
    }

    #[test]
    fn huge_tokens_are_refused_early_and_echo_is_truncated() {
        let huge = "A".repeat(MAX_TOKEN_LEN + 1);
        let err = Cursor::decode(&huge, 1).expect_err("must be rejected");
        assert_eq!(err.reason, "continue token is too long");
        assert_eq!(err.value.len(), MAX_ECHO_CHARS);
        let long_unicode = "ü".repeat(100);
        let err = Cursor::decode(&long_unicode, 1).expect_err("must be rejected");
        assert_eq!(err.value.chars().count(), MAX_ECHO_CHARS);
        let short = Cursor::decode("abc", 1).expect_err("must be rejected");
        assert_eq!(short.value, "abc");
    }

    #[test]
    fn long_but_legal_cursor_fits() {
        let c = Cursor {
            values: vec![CursorValue::Str("n".repeat(253)); 8],
            revision: 1,
        };
        let token = c.encode(3);
        assert!(token.len() < MAX_TOKEN_LEN);
        assert_eq!(Cursor::decode(&token, 3), Ok(c));
    }
}
