//! `--redact-secrets` in every form a Secret can leave the server (list, get, watch, Table,
//! PartialObjectMetadata, the `any` and `kuberesources` collections): with the flag, no
//! response carries the Secret's values, not even in kubectl's last-applied annotation;
//! without it, they arrive exactly as stored. Other objects are never re-serialised: their
//! stored bytes come back byte for byte in lists and collections.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::{fixture, put_raw, resource, serve};
use pedia_storage::StorageFactory;
use pedia_testkit::https::{Api, RESOURCES};
use serde_json::Value;

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";
const METADATA: &str = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io";
const METADATA_LIST: &str = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io";
const COLLECTIONS: &str = "/apis/clusterpedia.io/v1beta1/collectionresources";

/// The Secret's values as stored, base64 and plain.
const PASSWORD: &str = "aHVudGVyMg==";
const STRING_DATA: &str = "admin-pl41n";

async fn seeded() -> Arc<dyn StorageFactory> {
    let storage: Arc<dyn StorageFactory> = Arc::new(storage_memory::MemoryStorage::default());
    let secrets = resource("", "v1", "secrets", "Secret", true);
    let configmaps = resource("", "v1", "configmaps", "ConfigMap", true);
    put_raw(&storage, &secrets, "c1", fixture("secret.json")).await;
    put_raw(
        &storage,
        &configmaps,
        "c1",
        fixture("configmap-unusual.json"),
    )
    .await;
    storage
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn get(api: &Api, path: &str, accept: Option<&str>) -> Bytes {
    api.get_ok(path, accept)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// Every response a Secret can appear in, by name.
async fn responses(api: &Api) -> Vec<(&'static str, Bytes)> {
    let list = format!("{RESOURCES}/api/v1/secrets");
    let one = format!("{RESOURCES}/clusters/c1/api/v1/namespaces/ns-a/secrets/db-password");
    let watch = format!("{list}?watch=true&resourceVersion=0&timeoutSeconds=1");
    vec![
        ("list", get(api, &list, None).await),
        ("get", get(api, &one, None).await),
        ("watch", get(api, &watch, None).await),
        ("table list", get(api, &list, Some(TABLE)).await),
        ("table get", get(api, &one, Some(TABLE)).await),
        ("table watch", get(api, &watch, Some(TABLE)).await),
        ("metadata list", get(api, &list, Some(METADATA_LIST)).await),
        ("metadata get", get(api, &one, Some(METADATA)).await),
        ("metadata watch", get(api, &watch, Some(METADATA)).await),
        ("any", get(api, &format!("{COLLECTIONS}/any"), None).await),
        (
            "kuberesources",
            get(api, &format!("{COLLECTIONS}/kuberesources"), None).await,
        ),
    ]
}

/// The full Secret objects of a response, wherever the form puts them.
fn secrets_in(form: &str, body: &[u8]) -> Vec<Value> {
    let objects: Vec<Value> = if form.contains("watch") {
        body.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| json(l)["object"].clone())
            .collect()
    } else {
        let v = json(body);
        match v["items"].as_array() {
            Some(items) => items.clone(),
            None => vec![v],
        }
    };
    objects
        .into_iter()
        .filter(|o| o["kind"] == "Secret")
        .collect()
}

/// The last-applied annotation of the Secret's metadata in a Table or metadata form.
fn last_applied_in(form: &str, body: &[u8]) -> Vec<String> {
    let key = "kubectl.kubernetes.io/last-applied-configuration";
    let metas: Vec<Value> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .flat_map(|line| {
            let v = json(line);
            let v = if form.contains("watch") {
                v["object"].clone()
            } else {
                v
            };
            let mut out = Vec::new();
            for row in v["rows"].as_array().into_iter().flatten() {
                out.push(row["object"]["metadata"].clone());
            }
            for item in v["items"].as_array().into_iter().flatten() {
                out.push(item["metadata"].clone());
            }
            if v["kind"] == "PartialObjectMetadata" {
                out.push(v["metadata"].clone());
            }
            out
        })
        .collect();
    assert_eq!(metas.len(), 1, "{form}: one Secret");
    metas
        .iter()
        .filter_map(|m| m["annotations"][key].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redacted_secrets_carry_no_values_in_any_form() {
    let server = serve(seeded().await, None, &["--redact-secrets"]).await;
    let api = server.api("root-token");
    for (form, body) in responses(&api).await {
        for value in [PASSWORD, STRING_DATA] {
            assert!(
                !contains(&body, value.as_bytes()),
                "{form} leaks {value}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        if form.starts_with("table") || form.starts_with("metadata") {
            assert!(last_applied_in(form, &body).is_empty(), "{form}");
        } else {
            let secrets = secrets_in(form, &body);
            assert_eq!(
                secrets.len(),
                1,
                "{form}: {}",
                String::from_utf8_lossy(&body)
            );
            let secret = &secrets[0];
            assert!(secret.get("data").is_none(), "{form}: {secret}");
            assert!(secret.get("stringData").is_none(), "{form}: {secret}");
            assert_eq!(secret["metadata"]["name"], "db-password", "{form}");
            assert_eq!(secret["type"], "Opaque", "{form}: the rest is kept");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unredacted_secrets_arrive_exactly_as_stored() {
    let server = serve(seeded().await, None, &[]).await;
    let api = server.api("root-token");
    let stored = fixture("secret.json");
    let stored_json = json(&stored);
    for (form, body) in responses(&api).await {
        if form.starts_with("table") || form.starts_with("metadata") {
            assert_eq!(
                last_applied_in(form, &body),
                vec![
                    stored_json["metadata"]["annotations"]
                        ["kubectl.kubernetes.io/last-applied-configuration"]
                        .as_str()
                        .expect("fixture annotation")
                        .to_owned()
                ],
                "{form}"
            );
            continue;
        }
        let secrets = secrets_in(form, &body);
        assert_eq!(secrets.len(), 1, "{form}");
        assert_eq!(secrets[0]["data"]["password"], PASSWORD, "{form}");
        assert_eq!(secrets[0]["stringData"]["user"], STRING_DATA, "{form}");
        if !form.contains("watch") {
            // Watch events carry the event's revision as resourceVersion; the rest are
            // the stored bytes.
            assert!(contains(&body, &stored), "{form}: stored bytes verbatim");
        }
    }
    let one = get(
        &api,
        &format!("{RESOURCES}/clusters/c1/api/v1/namespaces/ns-a/secrets/db-password"),
        None,
    )
    .await;
    assert_eq!(one, stored, "a get is the stored object, byte for byte");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_objects_come_back_byte_for_byte_in_lists_and_collections() {
    let stored = fixture("configmap-unusual.json");
    // The fixture is valid JSON whose formatting no serialiser reproduces: escapes,
    // spacing, key order.
    assert_ne!(
        serde_json::to_vec(&json(&stored)).expect("serialise"),
        stored.to_vec()
    );
    for flags in [&["--redact-secrets"][..], &[]] {
        let server = serve(seeded().await, None, flags).await;
        let api = server.api("root-token");
        for path in [
            format!("{RESOURCES}/api/v1/configmaps"),
            format!("{RESOURCES}/clusters/c1/api/v1/namespaces/ns-a/configmaps"),
            format!("{COLLECTIONS}/any"),
            format!("{COLLECTIONS}/kuberesources"),
            format!("{COLLECTIONS}/any?namespaces=ns-a&limit=1&withRemainingCount=true"),
        ] {
            let body = get(&api, &path, None).await;
            assert!(
                contains(&body, &stored),
                "{flags:?} {path}: {}",
                String::from_utf8_lossy(&body)
            );
            let v = json(&body);
            if path.contains("collectionresources") {
                assert_eq!(v["kind"], "CollectionResource", "{path}");
                let items = v["items"].as_array().expect("items");
                let kinds: Vec<&str> = items.iter().filter_map(|i| i["kind"].as_str()).collect();
                // Both in ns-a of c1, so by name: "cafe" before "db-password".
                if !path.contains("limit=1") {
                    assert_eq!(kinds, vec!["ConfigMap", "Secret"], "{path}");
                } else {
                    assert_eq!(kinds, vec!["ConfigMap"], "{path}");
                    assert_eq!(v["remainingItemCount"], 1, "{path}");
                    assert!(v["continue"].is_string(), "{path}");
                }
            }
        }
    }
}
