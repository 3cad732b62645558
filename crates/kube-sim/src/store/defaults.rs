//! The defaults kube-apiserver fills into objects it stores (its `SetDefaults_*`
//! functions and create strategies), for the kinds people create with kubectl: pods and
//! pod templates, deployments, services, namespaces. Real clusters return objects with
//! these fields set, and kubectl's apply patches are computed against them.

use serde_json::{Map, Value, json};

use crate::rng::Rng;

fn obj(v: &mut Value) -> Option<&mut Map<String, Value>> {
    v.as_object_mut()
}

fn default(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_owned(), value);
    }
}

fn container(c: &mut Value) {
    let Some(c) = obj(c) else { return };
    let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
    // An image without a tag (or `:latest`) is pulled every time.
    let last = image.rsplit('/').next().unwrap_or_default();
    let pull = if image.contains('@') || (last.contains(':') && !last.ends_with(":latest")) {
        "IfNotPresent"
    } else {
        "Always"
    };
    default(c, "imagePullPolicy", json!(pull));
    default(c, "terminationMessagePath", json!("/dev/termination-log"));
    default(c, "terminationMessagePolicy", json!("File"));
    default(c, "resources", json!({}));
    if let Some(Value::Array(ports)) = c.get_mut("ports") {
        for p in ports.iter_mut().filter_map(obj) {
            default(p, "protocol", json!("TCP"));
        }
    }
}

fn pod_spec(spec: &mut Value) {
    let Some(s) = obj(spec) else { return };
    for key in ["containers", "initContainers"] {
        if let Some(Value::Array(cs)) = s.get_mut(key) {
            cs.iter_mut().for_each(container);
        }
    }
    default(s, "restartPolicy", json!("Always"));
    default(s, "terminationGracePeriodSeconds", json!(30));
    default(s, "dnsPolicy", json!("ClusterFirst"));
    default(s, "securityContext", json!({}));
    default(s, "schedulerName", json!("default-scheduler"));
}

/// `BestEffort`, `Burstable` or `Guaranteed`, from the containers' requests and limits.
fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| spec.get(*k).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in containers {
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        if requests.is_some_and(|r| !r.is_empty()) || limits.is_some_and(|l| !l.is_empty()) {
            any = true;
        }
        for res in ["cpu", "memory"] {
            let limit = limits.and_then(|l| l.get(res));
            let request = requests.and_then(|r| r.get(res)).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// The status kube gives a pod it creates: pending, with its QoS class.
pub(crate) fn new_pod_status(pod: &Value) -> Value {
    json!({"phase": "Pending", "qosClass": qos_class(&pod["spec"])})
}

fn pod_template(template: Option<&mut Value>) {
    if let Some(spec) = template.and_then(|t| t.get_mut("spec")) {
        pod_spec(spec);
    }
}

fn deployment(o: &mut Value) {
    let Some(spec) = o.get_mut("spec").and_then(obj) else {
        return;
    };
    default(spec, "replicas", json!(1));
    default(spec, "revisionHistoryLimit", json!(10));
    default(spec, "progressDeadlineSeconds", json!(600));
    default(
        spec,
        "strategy",
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
    );
    pod_template(spec.get_mut("template"));
}

fn service(o: &mut Value, rng: &mut Rng) {
    let Some(spec) = o.get_mut("spec").and_then(obj) else {
        return;
    };
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    let external_name = spec.get("type").and_then(Value::as_str) == Some("ExternalName");
    if !external_name {
        let ip = match spec.get("clusterIP").and_then(Value::as_str) {
            Some(ip) if !ip.is_empty() => ip.to_owned(),
            _ => format!("10.96.{}.{}", rng.below(256), 1 + rng.below(254)),
        };
        spec.insert("clusterIP".into(), json!(ip));
        default(spec, "clusterIPs", json!([ip]));
        default(spec, "ipFamilies", json!(["IPv4"]));
        default(spec, "ipFamilyPolicy", json!("SingleStack"));
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for p in ports.iter_mut().filter_map(obj) {
            default(p, "protocol", json!("TCP"));
            if let Some(port) = p.get("port").cloned() {
                default(p, "targetPort", port);
            }
        }
    }
}

/// Fills kube's defaults into `o`, an object of `group`/`kind`, as kube does on every
/// write. `rng` allocates cluster IPs.
pub(crate) fn apply(group: &str, kind: &str, o: &mut Value, rng: &mut Rng) {
    match (group, kind) {
        ("", "Pod") => {
            if let Some(spec) = o.get_mut("spec") {
                pod_spec(spec);
            }
        }
        ("", "PodTemplate") => pod_template(o.get_mut("template")),
        ("", "ReplicationController")
        | ("apps", "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch", "Job") => {
            pod_template(o.get_mut("spec").and_then(|s| s.get_mut("template")));
        }
        ("batch", "CronJob") => pod_template(o.pointer_mut("/spec/jobTemplate/spec/template")),
        ("apps", "Deployment") => deployment(o),
        ("", "Service") => service(o, rng),
        ("", "Secret") => {
            if let Some(o) = obj(o)
                && o.get("type")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            {
                o.insert("type".into(), json!("Opaque"));
            }
        }
        ("", "Namespace") => {
            let name = o.pointer("/metadata/name").cloned().unwrap_or_default();
            if let Some(meta) = o.get_mut("metadata").and_then(obj) {
                let labels = meta.entry("labels").or_insert_with(|| json!({}));
                if let Some(labels) = obj(labels) {
                    labels.insert("kubernetes.io/metadata.name".into(), name);
                }
            }
            if let Some(o) = obj(o) {
                default(o, "spec", json!({"finalizers": ["kubernetes"]}));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_defaults() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "nginx:1.25", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "busybox"},
        ]}}}});
        apply("apps", "Deployment", &mut d, &mut Rng::new(1));
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
        let cs = &d["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs[0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(cs[1]["imagePullPolicy"], "Always");
        assert_eq!(cs[0]["ports"][0]["protocol"], "TCP");
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
    }

    #[test]
    fn service_gets_an_ip() {
        let mut s = json!({"spec": {"ports": [{"port": 80}]}});
        apply("", "Service", &mut s, &mut Rng::new(1));
        assert!(
            s["spec"]["clusterIP"]
                .as_str()
                .is_some_and(|ip| ip.starts_with("10.96."))
        );
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
        let mut headless = json!({"spec": {"clusterIP": "None"}});
        apply("", "Service", &mut headless, &mut Rng::new(1));
        assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
    }

    #[test]
    fn qos() {
        assert_eq!(
            new_pod_status(&json!({"spec": {"containers": [{}]}}))["qosClass"],
            "BestEffort"
        );
        let guaranteed = json!({"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert_eq!(new_pod_status(&guaranteed)["qosClass"], "Guaranteed");
        let burstable =
            json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}});
        assert_eq!(new_pod_status(&burstable)["qosClass"], "Burstable");
    }
}
