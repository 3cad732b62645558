//! Real kubectl 1.27 and 1.33 against the simulator: apply (create, then a changed manifest
//! merged through a strategic merge patch), get (tables, YAML, label selectors), label,
//! delete, get --watch seeing a later change, and a CRD's resource appearing in
//! api-resources and being applied and listed.

mod common;

use std::time::Duration;

use common::{Kubectl, fixture, start, wait_with_deadline};
use serde_json::Value;

fn path(name: &str) -> String {
    fixture(name).display().to_string()
}

fn apply_get_label_delete(minor: u32) {
    let sim = start();
    let k = Kubectl::new(minor, &sim.kubeconfig());

    let out = k.run(&["apply", "-f", &path("deployment.yaml")]);
    assert_eq!(out.trim(), "deployment.apps/web created");
    let created = sim
        .store()
        .get("deployments", Some("default"), "web")
        .expect("stored");
    assert_eq!(created["metadata"]["generation"], 1);

    // Unchanged manifest: kubectl computes an empty patch.
    assert_eq!(
        k.run(&["apply", "-f", &path("deployment.yaml")]).trim(),
        "deployment.apps/web unchanged"
    );

    // A new image for one container and a new label, merged by container name.
    let out = k.run(&["apply", "-f", &path("deployment-v2.yaml")]);
    assert_eq!(out.trim(), "deployment.apps/web configured");
    let updated = sim
        .store()
        .get("deployments", Some("default"), "web")
        .expect("stored");
    let containers = &updated["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["image"], "nginx:1.26");
    assert_eq!(
        containers[0]["ports"][0]["protocol"], "TCP",
        "server defaults kept"
    );
    assert_eq!(containers[1]["image"], "envoyproxy/envoy:v1.29.2");
    assert_eq!(updated["metadata"]["labels"]["tier"], "frontend");
    assert_eq!(updated["metadata"]["generation"], 2);
    let managers: Vec<&str> = updated["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(managers, ["kubectl-client-side-apply"]);

    k.run(&["apply", "-f", &path("configmap.yaml")]);

    // kubectl scale goes through the /scale subresource.
    assert_eq!(
        k.run(&["scale", "deployment", "web", "--replicas=4"])
            .trim(),
        "deployment.apps/web scaled"
    );
    let scaled = sim.store().get("deployments", None, "web").expect("stored");
    assert_eq!(scaled["spec"]["replicas"], 4);

    // Table output from the server-side columns.
    let table = k.run(&["get", "deployments"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert!(lines.next().expect("row").starts_with("web "), "{table}");

    let wide = k.run(&["get", "deploy", "web", "-o", "wide"]);
    assert!(
        wide.contains("nginx:1.26,envoyproxy/envoy:v1.29.2"),
        "{wide}"
    );

    let yaml = k.run(&["get", "deployment", "web", "-o", "yaml"]);
    let doc: Value = serde_yaml_ng::from_str(&yaml).expect("YAML");
    assert_eq!(doc["metadata"]["uid"], updated["metadata"]["uid"]);
    assert_eq!(
        doc["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.26"
    );

    // Label selectors, and kubectl label.
    assert_eq!(
        k.run(&["get", "deploy", "-l", "tier=frontend", "-o", "name"])
            .trim(),
        "deployment.apps/web"
    );
    assert_eq!(
        k.run(&["get", "deploy", "-l", "tier!=frontend", "-o", "name"])
            .trim(),
        ""
    );
    assert_eq!(
        k.run(&["label", "configmap", "settings", "env=prod"])
            .trim(),
        "configmap/settings labeled"
    );
    let selected = k.run(&[
        "get",
        "cm,deploy",
        "-l",
        "app=web,env in (prod)",
        "-o",
        "name",
    ]);
    assert_eq!(selected.trim(), "configmap/settings");
    k.run(&["label", "configmap", "settings", "env-"]);
    let cm = sim.store().get("configmaps", None, "settings").expect("cm");
    assert!(cm["metadata"]["labels"].get("env").is_none());

    // Errors as kube words them.
    let (ok, _, stderr) = k.try_run(&["get", "deploy", "nope"]);
    assert!(!ok);
    assert!(
        stderr.contains("deployments.apps \"nope\" not found"),
        "{stderr}"
    );

    assert_eq!(
        k.run(&["delete", "-f", &path("deployment.yaml")]).trim(),
        "deployment.apps \"web\" deleted"
    );
    assert_eq!(
        sim.store()
            .get("deployments", None, "web")
            .map_err(|e| e.code),
        Err(404)
    );
    assert_eq!(k.run(&["get", "deployments", "-o", "name"]).trim(), "");
}

#[test]
fn kubectl_1_27_apply_get_label_delete() {
    apply_get_label_delete(27);
}

#[test]
fn kubectl_1_33_apply_get_label_delete() {
    apply_get_label_delete(33);
}

fn watch_prints_later_change(minor: u32) {
    let sim = start();
    let k = Kubectl::new(minor, &sim.kubeconfig());
    k.run(&["apply", "-f", &path("configmap.yaml")]);
    let child = k
        .command(&["get", "configmaps", "-w", "--request-timeout=0"])
        .spawn()
        .expect("kubectl get -w");
    // Let the watch start, then change something it must print.
    std::thread::sleep(Duration::from_millis(1500));
    // kubectl 1.33 sends this one as protobuf.
    k.run(&["create", "configmap", "later", "--from-literal=a=b"]);
    k.run(&["label", "configmap", "settings", "changed=yes"]);
    std::thread::sleep(Duration::from_millis(1500));
    // The watch never ends on its own: the deadline stops it.
    let out = wait_with_deadline(child, Duration::from_millis(500));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names.first(), Some(&"NAME"), "{stdout}");
    assert!(names.contains(&"settings"), "{stdout}");
    assert!(
        names.contains(&"later"),
        "kubectl 1.{minor} get -w missed the change:\n{stdout}"
    );
    let settings = names.iter().filter(|n| **n == "settings").count();
    assert_eq!(settings, 2, "listed, then modified:\n{stdout}");
    assert_eq!(
        names.iter().filter(|n| **n == "NAME").count(),
        1,
        "one header:\n{stdout}"
    );
}

#[test]
fn kubectl_1_27_get_watch() {
    watch_prints_later_change(27);
}

#[test]
fn kubectl_1_33_get_watch() {
    watch_prints_later_change(33);
}

fn custom_resources(minor: u32) {
    let sim = start();
    let k = Kubectl::new(minor, &sim.kubeconfig());
    let before = k.run(&["api-resources"]);
    assert!(!before.contains("widgets"), "{before}");
    // Discovery is cached on disk by now: kubectl must notice the new resource.
    k.run(&["apply", "-f", &path("crd-widget.yaml")]);
    let after = k.run(&["api-resources", "--api-group=example.com"]);
    let row: Vec<&str> = after
        .lines()
        .find(|l| l.starts_with("widgets"))
        .unwrap_or_else(|| panic!("widgets missing from api-resources:\n{after}"))
        .split_whitespace()
        .collect();
    assert_eq!(row, ["widgets", "wd", "example.com/v1", "true", "Widget"]);

    assert_eq!(
        k.run(&["apply", "-f", &path("widget.yaml")]).trim(),
        "widget.example.com/gizmo created"
    );
    let table = k.run(&["get", "widgets"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "SIZE", "AGE"]);
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .expect("row")
        .split_whitespace()
        .collect();
    assert_eq!(&row[..2], ["gizmo", "3"]);
    // Short name and the `all` category.
    assert_eq!(
        k.run(&["get", "wd", "-o", "name"]).trim(),
        "widget.example.com/gizmo"
    );
    assert!(
        k.run(&["get", "all", "-o", "name"])
            .contains("widget.example.com/gizmo")
    );

    // Re-apply a change: kubectl uses a JSON merge patch for custom resources.
    let changed = common::fixture_text("widget.yaml").replace("size: 3", "size: 5");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("widget.yaml");
    std::fs::write(&file, changed).expect("write");
    let file = file.display().to_string();
    assert_eq!(
        k.run(&["apply", "-f", &file]).trim(),
        "widget.example.com/gizmo configured"
    );
    let yaml = k.run(&["get", "widget", "gizmo", "-o", "yaml"]);
    let doc: Value = serde_yaml_ng::from_str(&yaml).expect("YAML");
    assert_eq!(doc["spec"]["size"], 5);
    assert_eq!(doc["metadata"]["generation"], 2);
    assert_eq!(
        k.run(&["get", "widgets", "-l", "color=blue", "-o", "name"])
            .trim(),
        "widget.example.com/gizmo"
    );

    // Deleting the CRD takes its objects and its discovery entry with it.
    k.run(&["delete", "-f", &path("crd-widget.yaml")]);
    assert_eq!(sim.store().count("pods").expect("pods"), 0);
    assert!(sim.store().resource("widgets").is_none());
    let gone = k.run(&["api-resources"]);
    assert!(!gone.contains("widgets"), "{gone}");
}

#[test]
fn kubectl_1_27_custom_resources() {
    custom_resources(27);
}

#[test]
fn kubectl_1_33_custom_resources() {
    custom_resources(33);
}

#[test]
fn kubectl_1_33_create_generators_send_protobuf() {
    let sim = start();
    let k = Kubectl::new(33, &sim.kubeconfig());
    assert_eq!(
        k.run(&["create", "namespace", "team"]).trim(),
        "namespace/team created"
    );
    k.run(&[
        "create",
        "secret",
        "generic",
        "creds",
        "-n",
        "team",
        "--from-literal=password=hunter2",
    ]);
    k.run(&["create", "serviceaccount", "robot", "-n", "team"]);
    k.run(&[
        "create",
        "configmap",
        "cfg",
        "-n",
        "team",
        "--from-literal=a=b",
    ]);
    let ns = sim
        .store()
        .get("namespaces", None, "team")
        .expect("namespace");
    assert_eq!(
        ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "team"
    );
    assert_eq!(ns["status"]["phase"], "Active");
    let secret = sim
        .store()
        .get("secrets", Some("team"), "creds")
        .expect("secret");
    assert_eq!(secret["data"]["password"], "aHVudGVyMg==");
    assert_eq!(secret["type"], "Opaque");
    assert!(
        sim.store()
            .get("serviceaccounts", Some("team"), "robot")
            .is_ok()
    );
    assert_eq!(
        sim.store()
            .get("configmaps", Some("team"), "cfg")
            .expect("cm")["data"]["a"],
        "b"
    );
    // Kinds without a protobuf decoder are refused clearly.
    let (ok, _, stderr) = k.try_run(&["create", "deployment", "web", "--image=nginx"]);
    assert!(
        !ok && stderr.contains("kube-sim decodes protobuf only for"),
        "{stderr}"
    );
}
