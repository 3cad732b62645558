//! The demo's named workloads: the objects a README's examples talk about, beside the load
//! generator's bulk. In `default`: Deployment `web` (pods `app=web`, Deployment ->
//! ReplicaSet -> Pod), Deployment `api` with one pod Pending (unschedulable), StatefulSet
//! `db` (pods `db-0`, `db-1`), a Job that succeeded, one that failed and a CronJob with the
//! Job it started; in `kube-system` a DaemonSet with a pod per node. Pods end in every
//! phase (Running, Pending, Succeeded, Failed), so phase field selectors have rows.

use jiff::SignedDuration;
use serde_json::{Value, json};

use super::{
    Gen, IMAGES, LoadReport, Loader, condition, container, template_spec, token_volume, ts,
};
use crate::error::SimError;
use crate::rng::Rng;
use crate::store::Store;

/// The namespace of the named workloads.
pub const NAMESPACE: &str = "default";

/// How a pod ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Pending,
    Succeeded,
    Failed,
}

struct Owner<'a> {
    api_version: &'a str,
    kind: &'a str,
    name: &'a str,
    uid: String,
}

fn owner_refs(o: &Owner<'_>) -> Value {
    json!([{"apiVersion": o.api_version, "kind": o.kind, "name": o.name, "uid": o.uid,
            "controller": true, "blockOwnerDeletion": true}])
}

fn uid(obj: &Value) -> String {
    obj["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// When the owners were created: a month ago, before any pod (those are at most 30 days old).
fn owned_since(g: &Gen) -> String {
    ts(g.now - SignedDuration::from_hours(31 * 24))
}

fn labels(app: &str) -> Value {
    json!({"app": app, "app.kubernetes.io/name": app, "app.kubernetes.io/managed-by": "kubectl", "env": "prod"})
}

fn with(mut labels: Value, key: &str, value: &str) -> Value {
    labels[key] = json!(value);
    labels
}

#[allow(clippy::too_many_arguments)]
fn pod(
    l: &mut Loader<'_>,
    g: &mut Gen,
    name: &str,
    namespace: &str,
    labels: Value,
    owner: &Owner<'_>,
    node: Option<&str>,
    image: &str,
    phase: Phase,
) -> Result<(), SimError> {
    let created = g.created();
    let app = labels["app"].as_str().unwrap_or("app").to_owned();
    let token = format!("kube-api-access-{}", g.rng.name_suffix(5));
    let mut spec = template_spec(
        vec![container(
            &app,
            image,
            &format!("{app}-credentials"),
            &token,
        )],
        &format!("{app}-config"),
    );
    if let Some(volumes) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        volumes.push(token_volume(&token));
    }
    spec["serviceAccountName"] = json!("default");
    if let Some(node) = node {
        spec["nodeName"] = json!(node);
    }
    if matches!(phase, Phase::Succeeded | Phase::Failed) {
        spec["restartPolicy"] = json!("Never");
    }
    let obj = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": namespace, "labels": labels, "creationTimestamp": ts(created),
        "ownerReferences": owner_refs(owner)}, "spec": spec});
    let started = ts(created + SignedDuration::from_secs(3));
    let ready = ts(created + SignedDuration::from_secs(12));
    let image_id = format!("{image}@sha256:{}", g.rng.hex(64));
    let container_id = format!("containerd://{}", g.rng.hex(64));
    let pod_ip = g.ip("10.244");
    let host_ip = g.ip("10.0");
    let ips = json!({"hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "podIP": pod_ip, "podIPs": [{"ip": pod_ip}]});
    let terminated = |code: i64, reason: &str| {
        json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": ready,
                              "containerID": container_id}})
    };
    let (state, is_ready) = match phase {
        Phase::Running => (json!({"running": {"startedAt": started}}), true),
        Phase::Succeeded => (terminated(0, "Completed"), false),
        Phase::Failed => (terminated(1, "Error"), false),
        Phase::Pending => (Value::Null, false),
    };
    let mut status = match phase {
        Phase::Pending => json!({
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "lastProbeTime": null, "lastTransitionTime": ts(created),
                            "reason": "Unschedulable",
                            "message": "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."}],
            "qosClass": "Burstable",
        }),
        _ => {
            let flag = if is_ready { "True" } else { "False" };
            let mut ready_condition = condition("Ready", flag, &ready);
            if !is_ready {
                ready_condition["reason"] = json!("PodCompleted");
            }
            json!({
                "phase": format!("{phase:?}"),
                "conditions": [
                    condition("PodReadyToStartContainers", flag, &started),
                    condition("Initialized", "True", &ts(created)),
                    ready_condition,
                    condition("ContainersReady", flag, &ready),
                    condition("PodScheduled", "True", &ts(created)),
                ],
                "startTime": ts(created),
                "containerStatuses": [{"name": app, "state": state, "lastState": {}, "ready": is_ready, "restartCount": 0,
                                       "image": image, "imageID": image_id, "containerID": container_id, "started": is_ready}],
                "qosClass": "Burstable",
            })
        }
    };
    if phase != Phase::Pending
        && let (Some(s), Some(extra)) = (status.as_object_mut(), ips.as_object())
    {
        s.extend(extra.clone());
    }
    l.create_with_status(
        "pods",
        obj,
        "kube-controller-manager",
        status,
        "kubelet",
        &ready,
    )
    .map(|_| ())
}

/// A Deployment with its ReplicaSet and pods (`phases`: one per pod).
fn deployment(
    l: &mut Loader<'_>,
    g: &mut Gen,
    name: &str,
    image: &str,
    nodes: &[String],
    phases: &[Phase],
) -> Result<(), SimError> {
    let ns = NAMESPACE;
    let replicas = phases.len();
    let ready = phases.iter().filter(|p| **p == Phase::Running).count();
    let hash = g.rng.name_suffix(10);
    let l0 = labels(name);
    let template = json!({"metadata": {"labels": l0}, "spec": template_spec(vec![container(name, image, &format!("{name}-credentials"), "unused")], &format!("{name}-config"))});
    let at = ts(g.now);
    let d = l.create_with_status(
        "deployments.apps",
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": name, "namespace": ns, "labels": l0, "creationTimestamp": owned_since(g), "annotations": {"deployment.kubernetes.io/revision": "1"}},
               "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template,
                        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}}}),
        "kubectl-client-side-apply",
        json!({"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": ready,
               "availableReplicas": ready, "unavailableReplicas": replicas - ready}),
        "kube-controller-manager",
        &at,
    )?;
    let rs_name = format!("{name}-{hash}");
    let rs_labels = with(l0.clone(), "pod-template-hash", &hash);
    let mut rs_template = template.clone();
    rs_template["metadata"]["labels"] = rs_labels.clone();
    let deploy = Owner {
        api_version: "apps/v1",
        kind: "Deployment",
        name,
        uid: uid(&d),
    };
    let rs = l.create_with_status(
        "replicasets.apps",
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
               "metadata": {"name": rs_name, "namespace": ns, "labels": rs_labels, "ownerReferences": owner_refs(&deploy), "creationTimestamp": owned_since(g),
                            "annotations": {"deployment.kubernetes.io/desired-replicas": replicas.to_string(), "deployment.kubernetes.io/revision": "1"}},
               "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name, "pod-template-hash": hash}}, "template": rs_template}}),
        "kube-controller-manager",
        json!({"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": ready, "availableReplicas": ready, "observedGeneration": 1}),
        "kube-controller-manager",
        &at,
    )?;
    let owner = Owner {
        api_version: "apps/v1",
        kind: "ReplicaSet",
        name: &rs_name,
        uid: uid(&rs),
    };
    for (i, phase) in phases.iter().enumerate() {
        let pod_name = format!("{rs_name}-{}", g.rng.name_suffix(5));
        let node = (*phase != Phase::Pending).then(|| nodes[i % nodes.len()].as_str());
        pod(
            l,
            g,
            &pod_name,
            ns,
            rs_labels.clone(),
            &owner,
            node,
            image,
            *phase,
        )?;
    }
    Ok(())
}

fn statefulset(
    l: &mut Loader<'_>,
    g: &mut Gen,
    name: &str,
    image: &str,
    nodes: &[String],
    replicas: usize,
) -> Result<(), SimError> {
    let ns = NAMESPACE;
    let l0 = labels(name);
    let revision = format!("{name}-{}", g.rng.name_suffix(10));
    let template = json!({"metadata": {"labels": l0}, "spec": template_spec(vec![container(name, image, &format!("{name}-credentials"), "unused")], &format!("{name}-config"))});
    let sts = l.create_with_status(
        "statefulsets.apps",
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
               "metadata": {"name": name, "namespace": ns, "labels": l0, "creationTimestamp": owned_since(g)},
               "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}}, "template": template,
                        "podManagementPolicy": "OrderedReady", "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}}}),
        "kubectl-client-side-apply",
        json!({"observedGeneration": 1, "replicas": replicas, "readyReplicas": replicas, "currentReplicas": replicas,
               "updatedReplicas": replicas, "availableReplicas": replicas, "currentRevision": revision, "updateRevision": revision,
               "collisionCount": 0}),
        "kube-controller-manager",
        &ts(g.now),
    )?;
    let owner = Owner {
        api_version: "apps/v1",
        kind: "StatefulSet",
        name,
        uid: uid(&sts),
    };
    for i in 0..replicas {
        let pod_name = format!("{name}-{i}");
        let pod_labels = with(
            with(l0.clone(), "controller-revision-hash", &revision),
            "statefulset.kubernetes.io/pod-name",
            &pod_name,
        );
        pod(
            l,
            g,
            &pod_name,
            ns,
            pod_labels,
            &owner,
            Some(&nodes[i % nodes.len()]),
            image,
            Phase::Running,
        )?;
    }
    Ok(())
}

/// A Job (owned by `parent`, a CronJob, when given) with one pod that ended in `phase`.
fn job(
    l: &mut Loader<'_>,
    g: &mut Gen,
    name: &str,
    image: &str,
    node: &str,
    phase: Phase,
    parent: Option<&Owner<'_>>,
) -> Result<(), SimError> {
    let ns = NAMESPACE;
    let controller_uid = g.rng.uuid();
    let job_labels = json!({"batch.kubernetes.io/controller-uid": controller_uid, "batch.kubernetes.io/job-name": name,
                            "controller-uid": controller_uid, "job-name": name});
    let mut spec = template_spec(
        vec![container(
            name,
            image,
            &format!("{name}-credentials"),
            "unused",
        )],
        &format!("{name}-config"),
    );
    spec["restartPolicy"] = json!("Never");
    let mut metadata = json!({"name": name, "namespace": ns, "labels": job_labels, "creationTimestamp": owned_since(g)});
    if let Some(parent) = parent {
        metadata["ownerReferences"] = owner_refs(parent);
    }
    let at = ts(g.now);
    let status = match phase {
        Phase::Succeeded => {
            json!({"succeeded": 1, "startTime": at, "completionTime": at, "ready": 0, "conditions": [
            {"type": "Complete", "status": "True", "lastProbeTime": at, "lastTransitionTime": at}]})
        }
        _ => json!({"failed": 1, "startTime": at, "ready": 0, "conditions": [
            {"type": "Failed", "status": "True", "lastProbeTime": at, "lastTransitionTime": at,
             "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}),
    };
    let job = l.create_with_status(
        "jobs.batch",
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata,
               "spec": {"backoffLimit": 0, "completions": 1, "parallelism": 1, "completionMode": "NonIndexed",
                        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": controller_uid}},
                        "template": {"metadata": {"labels": job_labels}, "spec": spec}}}),
        "kubectl-client-side-apply",
        status,
        "kube-controller-manager",
        &at,
    )?;
    let owner = Owner {
        api_version: "batch/v1",
        kind: "Job",
        name,
        uid: uid(&job),
    };
    let mut pod_labels = job_labels;
    pod_labels["app"] = json!(name);
    let pod_name = format!("{name}-{}", g.rng.name_suffix(5));
    pod(
        l,
        g,
        &pod_name,
        ns,
        pod_labels,
        &owner,
        Some(node),
        image,
        phase,
    )
}

fn daemonset(
    l: &mut Loader<'_>,
    g: &mut Gen,
    name: &str,
    image: &str,
    nodes: &[String],
) -> Result<(), SimError> {
    let ns = "kube-system";
    let l0 = labels(name);
    let hash = g.rng.name_suffix(10);
    let n = nodes.len();
    let template = json!({"metadata": {"labels": l0}, "spec": template_spec(vec![container(name, image, &format!("{name}-credentials"), "unused")], &format!("{name}-config"))});
    let ds = l.create_with_status(
        "daemonsets.apps",
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": ns, "labels": l0, "creationTimestamp": owned_since(g)},
               "spec": {"selector": {"matchLabels": {"app": name}}, "template": template,
                        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}}}),
        "kubectl-client-side-apply",
        json!({"currentNumberScheduled": n, "desiredNumberScheduled": n, "numberAvailable": n, "numberMisscheduled": 0,
               "numberReady": n, "observedGeneration": 1, "updatedNumberScheduled": n}),
        "kube-controller-manager",
        &ts(g.now),
    )?;
    let owner = Owner {
        api_version: "apps/v1",
        kind: "DaemonSet",
        name,
        uid: uid(&ds),
    };
    for node in nodes {
        let pod_labels = with(l0.clone(), "controller-revision-hash", &hash);
        let pod_name = format!("{name}-{}", g.rng.name_suffix(5));
        pod(
            l,
            g,
            &pod_name,
            ns,
            pod_labels,
            &owner,
            Some(node),
            image,
            Phase::Running,
        )?;
    }
    Ok(())
}

fn service(l: &mut Loader<'_>, name: &str, port: u16) -> Result<(), SimError> {
    l.create(
        "services",
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels(name)},
               "spec": {"selector": {"app": name}, "ports": [{"name": "main", "port": port, "targetPort": port, "protocol": "TCP"}]}}),
        "kubectl-client-side-apply",
    )
    .map(|_| ())
}

/// Creates the named workloads in `store`, placing pods on its nodes (three `node-NNN`
/// are assumed when it has none).
pub fn load(store: &Store, seed: u64) -> Result<LoadReport, SimError> {
    let mut g = Gen {
        rng: Rng::new(seed),
        now: jiff::Timestamp::now(),
    };
    let mut l = Loader {
        store,
        report: LoadReport::default(),
    };
    for ns in [NAMESPACE, "kube-system"] {
        if store.get("namespaces", None, ns).is_err() {
            l.create(
                "namespaces",
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                "kube-apiserver",
            )?;
        }
    }
    let mut nodes: Vec<String> = store
        .list("nodes", None)
        .map_err(SimError::Load)?
        .iter()
        .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_owned))
        .collect();
    if nodes.is_empty() {
        nodes = (0..3).map(|i| format!("node-{i:03}")).collect();
    }
    let nginx = IMAGES[0].0;
    let api = IMAGES[2].0;
    let worker = IMAGES[3].0;
    let postgres = IMAGES[7].0;
    use Phase::*;
    deployment(&mut l, &mut g, "web", nginx, &nodes, &[Running; 3])?;
    deployment(
        &mut l,
        &mut g,
        "api",
        api,
        &nodes,
        &[Running, Running, Pending],
    )?;
    statefulset(&mut l, &mut g, "db", postgres, &nodes, 2)?;
    for (name, port) in [("web", 80), ("api", 8080), ("db", 5432)] {
        service(&mut l, name, port)?;
    }
    job(
        &mut l,
        &mut g,
        "db-migrate",
        postgres,
        &nodes[0],
        Succeeded,
        None,
    )?;
    job(
        &mut l,
        &mut g,
        "report-export",
        worker,
        &nodes[1 % nodes.len()],
        Failed,
        None,
    )?;
    let cron = l.create(
        "cronjobs.batch",
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly-backup", "namespace": NAMESPACE, "creationTimestamp": owned_since(&g)},
               "spec": {"schedule": "0 2 * * *", "concurrencyPolicy": "Forbid", "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                        "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never",
                            "containers": [{"name": "backup", "image": postgres, "args": ["pg_dumpall"]}]}}}}}}),
        "kubectl-client-side-apply",
    )?;
    let cron_owner = Owner {
        api_version: "batch/v1",
        kind: "CronJob",
        name: "nightly-backup",
        uid: uid(&cron),
    };
    job(
        &mut l,
        &mut g,
        "nightly-backup-29412480",
        postgres,
        &nodes[2 % nodes.len()],
        Succeeded,
        Some(&cron_owner),
    )?;
    daemonset(&mut l, &mut g, "node-exporter", IMAGES[4].0, &nodes)?;
    l.report.revision = store.revision();
    Ok(l.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_workloads_with_owner_chains_and_every_phase() {
        let store = Store::new(100_000);
        super::super::load(
            &store,
            &super::super::LoadSpec::parse("pods=10,deployments=2,nodes=3,namespaces=2")
                .expect("spec"),
        )
        .expect("bulk");
        load(&store, 7).expect("demo workloads");
        let pods = store.list("pods", Some(NAMESPACE)).expect("pods");
        let web: Vec<&Value> = pods
            .iter()
            .filter(|p| p["metadata"]["labels"]["app"] == "web")
            .collect();
        assert_eq!(web.len(), 3);
        let rs_name = web[0]["metadata"]["ownerReferences"][0]["name"]
            .as_str()
            .expect("owner");
        let rs = store
            .get("replicasets.apps", Some(NAMESPACE), rs_name)
            .expect("replicaset");
        assert_eq!(rs["metadata"]["ownerReferences"][0]["name"], "web");
        // Owners are older than their pods (RFC 3339 UTC strings sort by time).
        for pod in &web {
            assert!(
                rs["metadata"]["creationTimestamp"].as_str()
                    < pod["metadata"]["creationTimestamp"].as_str()
            );
        }
        let db0 = store.get("pods", Some(NAMESPACE), "db-0").expect("db-0");
        assert_eq!(db0["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");
        let mut phases: Vec<&str> = pods
            .iter()
            .filter_map(|p| p["status"]["phase"].as_str())
            .collect();
        phases.sort_unstable();
        phases.dedup();
        assert_eq!(phases, ["Failed", "Pending", "Running", "Succeeded"]);
        assert_eq!(store.list("jobs.batch", None).expect("jobs").len(), 3);
        assert_eq!(
            store.list("pods", Some("kube-system")).expect("pods").len(),
            3
        );
    }

    /// The README's claim: the simulator runs no controllers, so scaling a Deployment
    /// moves no pods, and its update loop leaves a settled pod's phase alone.
    #[test]
    fn no_controllers_scale_moves_nothing_and_phases_stay() {
        let store = Store::new(100_000);
        load(&store, 3).expect("demo workloads");
        let phases = |store: &Store| {
            let mut v: Vec<(String, String)> = store
                .list("pods", None)
                .expect("pods")
                .iter()
                .map(|p| {
                    (
                        p["metadata"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        p["status"]["phase"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            v.sort();
            v
        };
        let before = phases(&store);
        store
            .patch(
                "deployments.apps",
                Some(NAMESPACE),
                "web",
                crate::PatchType::Merge,
                &json!({"spec": {"replicas": 6}}),
            )
            .expect("scale");
        let updates = crate::updates::Updates::start(store.clone(), 1000.0, 5);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while updates.done() < 300 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(
            updates.done() >= 300,
            "the update loop made {} changes",
            updates.done()
        );
        updates.stop();
        assert_eq!(phases(&store), before);
    }
}
