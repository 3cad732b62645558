//! The Swagger 2.0 document in the protobuf form Go clients ask `/openapi/v2` for
//! (`application/com.github.proto-openapi.spec.v2.v1.0+protobuf`, gnostic's
//! `openapi_v2.Document`; kubectl 1.27's `explain` accepts nothing else). Encoded by hand
//! from the JSON document: only the fields the document uses, with gnostic's field numbers.

use serde_json::Value;

/// The media types client-go requests `/openapi/v2` in (the `@` form is the deprecated one
/// it still sends).
pub const ACCEPTED: [&str; 2] = [
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
];

/// The `Content-Type` of the answer: kube-apiserver's, which Go's `mime` package parses (the
/// `@` form does not).
pub const CONTENT_TYPE: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }

    fn bytes(&mut self, field: u32, data: &[u8]) {
        self.varint((u64::from(field) << 3) | 2);
        self.varint(data.len() as u64);
        self.0.extend_from_slice(data);
    }

    fn string(&mut self, field: u32, text: &str) {
        if !text.is_empty() {
            self.bytes(field, text.as_bytes());
        }
    }

    fn message(&mut self, field: u32, m: Message) {
        self.bytes(field, &m.0);
    }

    fn boolean(&mut self, field: u32, b: bool) {
        if b {
            self.varint(u64::from(field) << 3);
            self.varint(1);
        }
    }
}

/// gnostic `Any { yaml = 2 }`: JSON is YAML.
fn any(value: &Value) -> Message {
    let mut m = Message::default();
    m.string(2, &value.to_string());
    m
}

/// gnostic `NamedAny { name = 1; value = 2 }`.
fn named_any(name: &str, value: &Value) -> Message {
    let mut m = Message::default();
    m.string(1, name);
    m.message(2, any(value));
    m
}

/// gnostic `NamedSchema { name = 1; value = 2 }`.
fn named_schema(name: &str, schema: &Value) -> Message {
    let mut m = Message::default();
    m.string(1, name);
    m.message(2, schema_message(schema));
    m
}

/// gnostic `Schema`, from a JSON schema object.
fn schema_message(schema: &Value) -> Message {
    let mut m = Message::default();
    let Some(obj) = schema.as_object() else {
        return m;
    };
    let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("");
    m.string(1, text("$ref"));
    m.string(2, text("format"));
    m.string(3, text("title"));
    m.string(4, text("description"));
    for r in obj
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.string(19, r.as_str().unwrap_or(""));
    }
    for e in obj
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(20, any(e));
    }
    match obj.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            let mut item = Message::default();
            item.boolean(2, *b);
            m.message(21, item);
        }
        Some(s @ Value::Object(_)) => {
            let mut item = Message::default();
            item.message(1, schema_message(s));
            m.message(21, item);
        }
        _ => {}
    }
    let types: Vec<&str> = match obj.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() {
        let mut item = Message::default();
        for t in types {
            item.string(1, t);
        }
        m.message(22, item);
    }
    if let Some(items) = obj.get("items").filter(|i| i.is_object()) {
        let mut item = Message::default();
        item.message(1, schema_message(items));
        m.message(23, item);
    }
    for s in obj
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(24, schema_message(s));
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        let mut item = Message::default();
        for (name, s) in props {
            item.message(1, named_schema(name, s));
        }
        m.message(25, item);
    }
    for (k, v) in obj.iter().filter(|(k, _)| k.starts_with("x-")) {
        m.message(31, named_any(k, v));
    }
    m
}

/// gnostic `Document` of a Swagger 2.0 JSON document: swagger, info, (empty) paths,
/// definitions.
pub fn encode(doc: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.string(1, doc["swagger"].as_str().unwrap_or("2.0"));
    let mut info = Message::default();
    info.string(1, doc["info"]["title"].as_str().unwrap_or(""));
    info.string(2, doc["info"]["version"].as_str().unwrap_or(""));
    m.message(2, info);
    m.message(8, Message::default());
    let mut defs = Message::default();
    for (name, schema) in doc["definitions"].as_object().into_iter().flatten() {
        defs.message(1, named_schema(name, schema));
    }
    m.message(9, defs);
    m.0
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_carry_gnostic_s_numbers() {
        let bytes = encode(&json!({
            "swagger": "2.0",
            "info": {"title": "t", "version": "v"},
            "definitions": {"X": {"type": "object", "description": "d", "x-k": [1]}},
        }));
        // swagger = 1 ("2.0"), info = 2 (title = 1 "t", version = 2 "v"), paths = 8 (empty).
        assert_eq!(&bytes[..5], b"\x0a\x032.0");
        assert_eq!(&bytes[5..13], b"\x12\x06\x0a\x01t\x12\x01v");
        assert_eq!(&bytes[13..15], b"\x42\x00");
        // definitions = 9 { NamedSchema = 1 { name = 1 "X", value = 2 { description = 4,
        // type = 22 { "object" }, vendor_extension = 31 { name "x-k", Any { yaml = 2 } } } } }
        assert_eq!(bytes[15], 0x4a);
        let rest = &bytes[17..];
        assert!(rest.windows(3).any(|w| w == b"\x22\x01d"), "{rest:?}");
        assert!(rest.windows(8).any(|w| w == b"\x0a\x06object"), "{rest:?}");
        assert!(rest.windows(5).any(|w| w == b"\x0a\x03x-k"), "{rest:?}");
        assert!(rest.windows(5).any(|w| w == b"\x12\x03[1]"), "{rest:?}");
    }
}
