//! The load generator: a realistic cluster's worth of objects, deterministic for a seed.
//! Deployments own ReplicaSets which own Pods (controller owner references, pod-template
//! hashes, matching selectors), with Services, ConfigMaps, Secrets, Nodes and a custom
//! resource (`crontabs.stable.example.com`, the Kubernetes docs' example CRD) beside them.
//! Objects look like a real cluster's: kubectl's `last-applied-configuration` on what
//! users apply, `managedFields` of the managers that really write them (kubectl, the
//! controller manager, the kubelet), realistic specs and statuses — 4 to 8 KB each.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::error::SimError;
use crate::rng::Rng;
use crate::store::{Store, WriteOptions, managed};

pub mod demo;

/// The custom resource the load generator creates objects of.
pub const CUSTOM_RESOURCE: &str = "crontabs.stable.example.com";

/// How many objects of each kind to create, across how many namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadSpec {
    pub pods: usize,
    pub deployments: usize,
    /// `None`: one per deployment.
    pub replicasets: Option<usize>,
    pub configmaps: usize,
    pub services: usize,
    pub secrets: usize,
    pub nodes: usize,
    /// Objects of [`CUSTOM_RESOURCE`] (its CRD is created when needed).
    pub custom: usize,
    /// Namespaces the objects spread over (created when missing).
    pub namespaces: usize,
    pub seed: u64,
    /// The clock the creation timestamps count back from; default: now.
    pub now: Option<Timestamp>,
}

impl Default for LoadSpec {
    fn default() -> Self {
        Self {
            pods: 0,
            deployments: 0,
            replicasets: None,
            configmaps: 0,
            services: 0,
            secrets: 0,
            nodes: 0,
            custom: 0,
            namespaces: 10,
            seed: 1,
            now: None,
        }
    }
}

impl LoadSpec {
    /// Parses `pods=1000,deployments=100,...`; keys are `pods`, `deployments`,
    /// `replicasets`, `configmaps`, `services`, `secrets`, `nodes`, `crontabs` (or
    /// `custom`), `namespaces`, `seed` (kubectl short names work too: `po`, `deploy`, ...).
    pub fn parse(text: &str) -> Result<Self, SimError> {
        let mut spec = Self::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| SimError::LoadSpec(format!("{part:?} is not kind=count")))?;
            let n: u64 = value
                .trim()
                .parse()
                .map_err(|_| SimError::LoadSpec(format!("{part:?}: {value:?} is not a number")))?;
            let count = usize::try_from(n)
                .map_err(|_| SimError::LoadSpec(format!("{part:?} is too large")))?;
            match key.trim() {
                "pods" | "pod" | "po" => spec.pods = count,
                "deployments" | "deployment" | "deploy" => spec.deployments = count,
                "replicasets" | "replicaset" | "rs" => spec.replicasets = Some(count),
                "configmaps" | "configmap" | "cm" => spec.configmaps = count,
                "services" | "service" | "svc" => spec.services = count,
                "secrets" | "secret" => spec.secrets = count,
                "nodes" | "node" | "no" => spec.nodes = count,
                "crontabs" | "crontab" | "ct" | "custom" => spec.custom = count,
                "namespaces" | "ns" => spec.namespaces = count.max(1),
                "seed" => spec.seed = n,
                other => return Err(SimError::LoadSpec(format!("unknown kind {other:?}"))),
            }
        }
        Ok(spec)
    }

    fn replicasets(&self) -> usize {
        self.replicasets.unwrap_or(self.deployments)
    }
}

/// What a load created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Objects created, by resource (`pods`, `deployments.apps`, ...).
    pub created: BTreeMap<String, usize>,
    /// The revision after the load.
    pub revision: u64,
}

const TEAMS: &[&str] = &[
    "payments",
    "checkout",
    "catalog",
    "search",
    "identity",
    "billing",
    "shipping",
    "inventory",
    "analytics",
    "notifications",
    "platform",
    "data",
    "ml-serving",
    "frontend",
    "gateway",
    "observability",
    "messaging",
    "reporting",
    "fraud",
    "support",
];
const APPS: &[&str] = &[
    "api",
    "web",
    "worker",
    "gateway",
    "cache",
    "scheduler",
    "indexer",
    "auth",
    "ledger",
    "router",
    "sync",
    "exporter",
    "consumer",
    "producer",
    "renderer",
    "proxy",
];
const IMAGES: &[(&str, &str)] = &[
    ("nginx:1.25.4", "docker.io/library/nginx"),
    ("redis:7.2.4", "docker.io/library/redis"),
    ("ghcr.io/acme/api:v2.14.1", "ghcr.io/acme/api"),
    ("ghcr.io/acme/worker:v2.14.1", "ghcr.io/acme/worker"),
    (
        "quay.io/prometheus/node-exporter:v1.7.0",
        "quay.io/prometheus/node-exporter",
    ),
    ("envoyproxy/envoy:v1.29.2", "docker.io/envoyproxy/envoy"),
    (
        "registry.k8s.io/ingress-nginx/controller:v1.10.0",
        "registry.k8s.io/ingress-nginx/controller",
    ),
    ("postgres:16.2", "docker.io/library/postgres"),
];

fn namespace_name(i: usize) -> String {
    let team = TEAMS[i % TEAMS.len()];
    match i / TEAMS.len() {
        0 => team.to_owned(),
        n => format!("{team}-{}", n + 1),
    }
}

fn ts(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Everything the generator invents comes from here.
struct Gen {
    rng: Rng,
    now: Timestamp,
}

impl Gen {
    /// A creation time within the last 30 days.
    fn created(&mut self) -> Timestamp {
        let back = i64::try_from(self.rng.below(30 * 24 * 3600)).unwrap_or(0);
        let t = self.now - SignedDuration::from_secs(back + 60);
        Timestamp::from_second(t.as_second()).unwrap_or(t)
    }

    fn ip(&mut self, prefix: &str) -> String {
        format!(
            "{prefix}.{}.{}",
            self.rng.below(250),
            2 + self.rng.below(250)
        )
    }

    fn labels(&mut self, app: &str, team: &str) -> Value {
        json!({
            "app": app,
            "app.kubernetes.io/name": app,
            "app.kubernetes.io/version": format!("2.{}.{}", self.rng.below(20), self.rng.below(10)),
            "app.kubernetes.io/managed-by": "kubectl",
            "team": team,
            "env": *self.rng.pick(&["prod", "prod", "staging"]),
        })
    }
}

fn container(app: &str, image: &str, secret: &str, token_volume: &str) -> Value {
    json!({
        "name": app,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [
            {"name": "http", "containerPort": 8080, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
        ],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
            {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": secret, "key": "database-url"}}},
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "initialDelaySeconds": 10,
                          "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/app", "readOnly": true},
            {"name": token_volume, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true},
        ],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    })
}

fn template_spec(containers: Vec<Value>, config: &str) -> Value {
    json!({
        "containers": containers,
        "volumes": [{"name": "config", "configMap": {"name": config, "defaultMode": 420}}],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "securityContext": {},
        "schedulerName": "default-scheduler",
    })
}

fn token_volume(name: &str) -> Value {
    json!({"name": name, "projected": {"sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ], "defaultMode": 420}})
}

/// kubectl's annotation: the applied manifest, compact JSON plus a newline.
fn last_applied(manifest: &Value) -> String {
    format!("{manifest}\n")
}

fn condition(ty: &str, status: &str, at: &str) -> Value {
    json!({"type": ty, "status": status, "lastProbeTime": null, "lastTransitionTime": at})
}

struct Loader<'a> {
    store: &'a Store,
    report: LoadReport,
}

impl Loader<'_> {
    fn create(&mut self, resource: &str, obj: Value, manager: &str) -> Result<Value, SimError> {
        let created = self
            .store
            .create_with(obj, &WriteOptions::manager(manager))
            .map_err(SimError::Load)?;
        *self.report.created.entry(resource.to_owned()).or_default() += 1;
        Ok(created)
    }

    /// Creates an object as written by `manager` and then its status by `status_manager`
    /// (two managedFields entries), in one write: the history keeps no superseded copy.
    fn create_with_status(
        &mut self,
        resource: &str,
        mut obj: Value,
        manager: &str,
        status: Value,
        status_manager: &str,
        status_time: &str,
    ) -> Result<Value, SimError> {
        let def = self.store.resource(resource).ok_or_else(|| {
            SimError::LoadSpec(format!("the simulator has no resource {resource:?}"))
        })?;
        let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_owned();
        let created = obj
            .pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str)
            .unwrap_or(status_time)
            .to_owned();
        let owner = |manager, subresource, time| managed::Owner {
            manager,
            subresource,
            api_version: &api_version,
            time,
            kind: &def.kind,
            custom: def.custom,
        };
        managed::on_create(&mut obj, &owner(manager, None, &created));
        let before = obj.clone();
        obj["status"] = status;
        managed::on_update(
            &before,
            &mut obj,
            &owner(status_manager, Some("status"), status_time),
        );
        let opts = WriteOptions {
            keep_managed_fields: true,
            ..WriteOptions::manager(manager)
        };
        let created = self.store.create_with(obj, &opts).map_err(SimError::Load)?;
        *self.report.created.entry(resource.to_owned()).or_default() += 1;
        Ok(created)
    }
}

struct Deployment {
    namespace: String,
    name: String,
    uid: String,
    labels: Value,
    image: String,
    config: String,
    secret: String,
}

struct ReplicaSet {
    namespace: String,
    name: String,
    uid: String,
    hash: String,
    deployment: usize,
}

fn crontab_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CUSTOM_RESOURCE},
        "spec": {
            "group": "stable.example.com",
            "scope": "Namespaced",
            "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab", "shortNames": ["ct"]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "cronSpec": {"type": "string"}, "image": {"type": "string"}, "replicas": {"type": "integer"}}},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
            }],
        },
    })
}

/// Creates the objects of `spec` in `store`.
pub(crate) fn load(store: &Store, spec: &LoadSpec) -> Result<LoadReport, SimError> {
    let mut g = Gen {
        rng: Rng::new(spec.seed),
        now: spec.now.unwrap_or_else(Timestamp::now),
    };
    let mut l = Loader {
        store,
        report: LoadReport::default(),
    };
    let namespaces: Vec<String> = (0..spec.namespaces.max(1)).map(namespace_name).collect();
    for ns in &namespaces {
        if store.get("namespaces", None, ns).is_err() {
            l.create(
                "namespaces",
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                "kubectl-create",
            )?;
        }
    }
    let node_names: Vec<String> = (0..spec.nodes.max(3))
        .map(|i| format!("node-{i:03}"))
        .collect();
    for (i, node) in node_names.iter().take(spec.nodes).enumerate() {
        load_node(&mut l, &mut g, node, i)?;
    }

    let mut deployments = Vec::with_capacity(spec.deployments);
    for i in 0..spec.deployments {
        let ns = &namespaces[i % namespaces.len()];
        let app = format!("{}-{i}", APPS[i % APPS.len()]);
        let labels = g.labels(&app, ns);
        let image = g.rng.pick(IMAGES).0.to_owned();
        deployments.push(Deployment {
            namespace: ns.clone(),
            config: format!("{app}-config"),
            secret: format!("{app}-credentials"),
            name: app,
            uid: String::new(),
            labels,
            image,
        });
    }
    let rs_count = if spec.deployments == 0 {
        spec.replicasets.unwrap_or(0)
    } else {
        spec.replicasets()
    };
    let mut replicasets: Vec<ReplicaSet> = Vec::with_capacity(rs_count);
    // Pods per ReplicaSet, to set replica counts before creating the owners.
    let mut pods_of_rs = vec![0usize; rs_count];
    if rs_count > 0 {
        for p in 0..spec.pods {
            pods_of_rs[p % rs_count] += 1;
        }
    }
    for (i, d) in deployments.iter_mut().enumerate() {
        let replicas: usize = (0..rs_count)
            .filter(|r| r % spec.deployments.max(1) == i)
            .map(|r| pods_of_rs[r])
            .max()
            .unwrap_or(0);
        d.uid = load_deployment(&mut l, &mut g, d, replicas)?;
    }
    for r in 0..rs_count {
        let hash = g.rng.name_suffix(10);
        let (namespace, name, owner) = match deployments.get(r % spec.deployments.max(1)) {
            Some(d) if !deployments.is_empty() => (
                d.namespace.clone(),
                format!("{}-{hash}", d.name),
                Some(r % deployments.len()),
            ),
            _ => (
                namespaces[r % namespaces.len()].clone(),
                format!("standalone-{r}-{hash}"),
                None,
            ),
        };
        let mut rs = ReplicaSet {
            namespace,
            name,
            uid: String::new(),
            hash,
            deployment: owner.unwrap_or(usize::MAX),
        };
        rs.uid = load_replicaset(
            &mut l,
            &mut g,
            &rs,
            deployments.get(rs.deployment),
            pods_of_rs[r],
        )?;
        replicasets.push(rs);
    }
    for p in 0..spec.pods {
        let owner = (!replicasets.is_empty()).then(|| &replicasets[p % replicasets.len()]);
        load_pod(
            &mut l,
            &mut g,
            p,
            owner,
            &deployments,
            &namespaces,
            &node_names,
        )?;
    }
    for i in 0..spec.services {
        load_service(&mut l, &mut g, i, deployments.get(i), &namespaces)?;
    }
    for i in 0..spec.configmaps {
        load_configmap(&mut l, &mut g, i, deployments.get(i), &namespaces)?;
    }
    for i in 0..spec.secrets {
        load_secret(&mut l, &mut g, i, deployments.get(i), &namespaces)?;
    }
    if spec.custom > 0 {
        if store
            .get("customresourcedefinitions", None, CUSTOM_RESOURCE)
            .is_err()
        {
            l.create(
                "customresourcedefinitions.apiextensions.k8s.io",
                crontab_crd(),
                "kubectl-client-side-apply",
            )?;
        }
        for i in 0..spec.custom {
            load_crontab(&mut l, &mut g, i, &namespaces)?;
        }
    }
    l.report.revision = store.revision();
    Ok(l.report)
}

fn load_node(l: &mut Loader<'_>, g: &mut Gen, name: &str, i: usize) -> Result<(), SimError> {
    let created = ts(g.created());
    let node = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "creationTimestamp": created, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": *g.rng.pick(&["m6i.2xlarge", "m6i.4xlarge", "c6i.4xlarge"]),
            "topology.kubernetes.io/zone": format!("eu-west-1{}", ["a", "b", "c"][i % 3]),
        }, "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"podCIDR": format!("10.244.{i}.0/24"), "podCIDRs": [format!("10.244.{i}.0/24")], "providerID": format!("aws:///eu-west-1a/i-{}", g.rng.hex(17))},
    });
    let at = ts(g.now);
    let status = json!({
        "capacity": {"cpu": "16", "memory": "65023440Ki", "pods": "110", "ephemeral-storage": "104845292Ki"},
        "allocatable": {"cpu": "15890m", "memory": "63999440Ki", "pods": "110", "ephemeral-storage": "96625420948"},
        "conditions": [
            {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": at, "lastTransitionTime": created, "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available"},
            {"type": "DiskPressure", "status": "False", "lastHeartbeatTime": at, "lastTransitionTime": created, "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure"},
            {"type": "PIDPressure", "status": "False", "lastHeartbeatTime": at, "lastTransitionTime": created, "reason": "KubeletHasSufficientPID", "message": "kubelet has sufficient PID available"},
            {"type": "Ready", "status": "True", "lastHeartbeatTime": at, "lastTransitionTime": created, "reason": "KubeletReady", "message": "kubelet is posting ready status"},
        ],
        "addresses": [{"type": "InternalIP", "address": g.ip("10.0")}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {"machineID": g.rng.hex(32), "systemUUID": g.rng.uuid(), "bootID": g.rng.uuid(), "kernelVersion": "6.1.0-18-cloud-amd64",
                     "osImage": "Debian GNU/Linux 12 (bookworm)", "containerRuntimeVersion": "containerd://1.7.13", "kubeletVersion": "v1.33.1",
                     "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"},
        "images": IMAGES.iter().map(|(image, repo)| json!({"names": [format!("{repo}@sha256:{}", "ab".repeat(32)), image], "sizeBytes": 50_000_000})).collect::<Vec<_>>(),
    });
    l.create_with_status("nodes", node, "kubelet", status, "kubelet", &at)
        .map(|_| ())
}

fn load_deployment(
    l: &mut Loader<'_>,
    g: &mut Gen,
    d: &Deployment,
    replicas: usize,
) -> Result<String, SimError> {
    let created = g.created();
    let mut container = container(&d.name, &d.image, &d.secret, "unused");
    if let Some(mounts) = container
        .get_mut("volumeMounts")
        .and_then(Value::as_array_mut)
    {
        mounts.truncate(1);
    }
    let manifest = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": d.name, "namespace": d.namespace, "labels": d.labels,
                     "annotations": {}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": d.name}},
            "template": {"metadata": {"labels": d.labels}, "spec": template_spec(vec![container.clone()], &d.config)},
        },
    });
    let mut obj = manifest.clone();
    obj["metadata"]["creationTimestamp"] = json!(ts(created));
    obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
        json!(last_applied(&manifest));
    obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!("1");
    obj["spec"]["revisionHistoryLimit"] = json!(10);
    obj["spec"]["progressDeadlineSeconds"] = json!(600);
    obj["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}});
    let at = ts(created + SignedDuration::from_secs(30));
    let status = json!({
        "observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "True", "lastUpdateTime": at, "lastTransitionTime": at, "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
            {"type": "Progressing", "status": "True", "lastUpdateTime": at, "lastTransitionTime": ts(created),
             "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{}\" has successfully progressed.", d.name)},
        ],
    });
    let created_obj = l.create_with_status(
        "deployments.apps",
        obj,
        "kubectl-client-side-apply",
        status,
        "kube-controller-manager",
        &at,
    )?;
    Ok(created_obj["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

fn load_replicaset(
    l: &mut Loader<'_>,
    g: &mut Gen,
    rs: &ReplicaSet,
    d: Option<&Deployment>,
    replicas: usize,
) -> Result<String, SimError> {
    let created = g.created();
    let (labels, image, config, secret, app) = match d {
        Some(d) => (
            d.labels.clone(),
            d.image.clone(),
            d.config.clone(),
            d.secret.clone(),
            d.name.clone(),
        ),
        None => {
            let app = rs.name.clone();
            (
                g.labels(&app, &rs.namespace),
                g.rng.pick(IMAGES).0.to_owned(),
                format!("{app}-config"),
                format!("{app}-credentials"),
                app,
            )
        }
    };
    let mut labels = labels;
    labels["pod-template-hash"] = json!(rs.hash);
    let mut c = container(&app, &image, &secret, "unused");
    if let Some(mounts) = c.get_mut("volumeMounts").and_then(Value::as_array_mut) {
        mounts.truncate(1);
    }
    let mut metadata = json!({
        "name": rs.name, "namespace": rs.namespace, "labels": labels, "creationTimestamp": ts(created),
        "annotations": {"deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                        "deployment.kubernetes.io/max-replicas": (replicas + replicas.div_ceil(4)).to_string(),
                        "deployment.kubernetes.io/revision": "1"},
    });
    if let Some(d) = d {
        metadata["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": d.name, "uid": d.uid,
                                             "controller": true, "blockOwnerDeletion": true}]);
    }
    let obj = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": metadata,
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app, "pod-template-hash": rs.hash}},
                 "template": {"metadata": {"labels": labels}, "spec": template_spec(vec![c], &config)}},
    });
    let status = json!({"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": replicas,
                        "availableReplicas": replicas, "observedGeneration": 1});
    let created_obj = l.create_with_status(
        "replicasets.apps",
        obj,
        "kube-controller-manager",
        status,
        "kube-controller-manager",
        &ts(created + SignedDuration::from_secs(20)),
    )?;
    Ok(created_obj["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

fn load_pod(
    l: &mut Loader<'_>,
    g: &mut Gen,
    p: usize,
    owner: Option<&ReplicaSet>,
    deployments: &[Deployment],
    namespaces: &[String],
    nodes: &[String],
) -> Result<(), SimError> {
    let created = g.created();
    let suffix = g.rng.name_suffix(5);
    let (namespace, mut name, mut labels, image, app) = match owner {
        Some(rs) => {
            let d = deployments.get(rs.deployment);
            let labels = d
                .map(|d| d.labels.clone())
                .unwrap_or_else(|| g.labels(&rs.name, &rs.namespace));
            let image = d
                .map(|d| d.image.clone())
                .unwrap_or_else(|| g.rng.pick(IMAGES).0.to_owned());
            let app = d.map(|d| d.name.clone()).unwrap_or_else(|| rs.name.clone());
            (
                rs.namespace.clone(),
                format!("{}-{suffix}", rs.name),
                labels,
                image,
                app,
            )
        }
        None => {
            let ns = namespaces[p % namespaces.len()].clone();
            let app = format!("{}-{p}", APPS[p % APPS.len()]);
            let labels = g.labels(&app, &ns);
            (
                ns,
                format!("{app}-{suffix}"),
                labels,
                g.rng.pick(IMAGES).0.to_owned(),
                app,
            )
        }
    };
    // Five random characters collide now and then in a load of 100,000 pods; like the
    // ReplicaSet controller after an AlreadyExists, draw another suffix.
    while l.store.get("pods", Some(&namespace), &name).is_ok() {
        let prefix = name.rsplit_once('-').map_or(name.as_str(), |(p, _)| p);
        name = format!("{prefix}-{}", g.rng.name_suffix(5));
    }
    if let Some(rs) = owner {
        labels["pod-template-hash"] = json!(rs.hash);
    }
    let token = format!("kube-api-access-{}", g.rng.name_suffix(5));
    let config = format!("{app}-config");
    let mut spec = template_spec(
        vec![container(
            &app,
            &image,
            &format!("{app}-credentials"),
            &token,
        )],
        &config,
    );
    if let Some(volumes) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        volumes.push(token_volume(&token));
    }
    let node = g.rng.pick(nodes).clone();
    let extra = json!({
        "serviceAccountName": "default", "serviceAccount": "default", "nodeName": node,
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        ],
        "priority": 0, "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority",
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    let mut metadata = json!({"name": name, "namespace": namespace, "labels": labels, "creationTimestamp": ts(created)});
    if let Some(rs) = owner {
        metadata["generateName"] = json!(format!("{}-", rs.name));
        metadata["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs.name, "uid": rs.uid,
                                             "controller": true, "blockOwnerDeletion": true}]);
    }
    let obj = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec});
    let started = ts(created + SignedDuration::from_secs(3));
    let ready = ts(created + SignedDuration::from_secs(12));
    let image_repo = IMAGES
        .iter()
        .find(|(i, _)| *i == image)
        .map_or("docker.io/library/nginx", |(_, r)| r);
    let restarts = if g.rng.chance(10) { g.rng.below(5) } else { 0 };
    let pod_ip = g.ip("10.244");
    let host_ip = g.ip("10.0");
    let status = json!({
        "phase": "Running",
        "conditions": [
            condition("PodReadyToStartContainers", "True", &started),
            condition("Initialized", "True", &ts(created)),
            condition("Ready", "True", &ready),
            condition("ContainersReady", "True", &ready),
            condition("PodScheduled", "True", &ts(created)),
        ],
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
        "startTime": ts(created),
        "containerStatuses": [{
            "name": app, "state": {"running": {"startedAt": started}}, "lastState": {}, "ready": true,
            "restartCount": restarts, "image": image, "imageID": format!("{image_repo}@sha256:{}", g.rng.hex(64)),
            "containerID": format!("containerd://{}", g.rng.hex(64)), "started": true,
        }],
        "qosClass": "Burstable",
    });
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

fn placement<'a>(
    i: usize,
    d: Option<&'a Deployment>,
    namespaces: &'a [String],
) -> (&'a str, String, Option<&'a Deployment>) {
    match d {
        Some(d) => (&d.namespace, d.name.clone(), Some(d)),
        None => (
            &namespaces[i % namespaces.len()],
            format!("{}-{i}", APPS[i % APPS.len()]),
            None,
        ),
    }
}

/// Filler text of about `bytes` bytes that looks like configuration.
fn config_text(g: &mut Gen, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 64);
    let mut n = 0;
    while out.len() < bytes {
        let key = *g.rng.pick(&[
            "timeout",
            "retries",
            "endpoint",
            "pool_size",
            "feature",
            "threshold",
            "region",
            "bucket",
        ]);
        out.push_str(&format!("{key}_{n}: \"{}\"\n", g.rng.hex(16)));
        n += 1;
    }
    out
}

fn load_service(
    l: &mut Loader<'_>,
    g: &mut Gen,
    i: usize,
    d: Option<&Deployment>,
    namespaces: &[String],
) -> Result<(), SimError> {
    let (ns, app, d) = placement(i, d, namespaces);
    let labels = d
        .map(|d| d.labels.clone())
        .unwrap_or_else(|| g.labels(&app, ns));
    let manifest = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": app, "namespace": ns, "labels": labels, "annotations": {
            "prometheus.io/scrape": "true", "prometheus.io/port": "9090", "prometheus.io/path": "/metrics",
            "service.kubernetes.io/topology-mode": "Auto",
            "external-dns.alpha.kubernetes.io/hostname": format!("{app}.{ns}.internal.example.com"),
        }},
        "spec": {"selector": {"app": app}, "ports": [
            {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
            {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"},
            {"name": "grpc", "port": 9000, "targetPort": 9000, "protocol": "TCP"},
        ]},
    });
    let mut obj = manifest.clone();
    obj["metadata"]["creationTimestamp"] = json!(ts(g.created()));
    obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
        json!(last_applied(&manifest));
    obj["metadata"]["annotations"]["kube-sim.io/notes"] = json!(config_text(g, 1200));
    l.create("services", obj, "kubectl-client-side-apply")?;
    Ok(())
}

fn load_configmap(
    l: &mut Loader<'_>,
    g: &mut Gen,
    i: usize,
    d: Option<&Deployment>,
    namespaces: &[String],
) -> Result<(), SimError> {
    let (ns, app, d) = placement(i, d, namespaces);
    let labels = d
        .map(|d| d.labels.clone())
        .unwrap_or_else(|| g.labels(&app, ns));
    let size = 1500 + usize::try_from(g.rng.below(1000)).unwrap_or(0);
    let manifest = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("{app}-config"), "namespace": ns, "labels": labels},
        "data": {"config.yaml": config_text(g, size), "LOG_LEVEL": "info", "FEATURE_FLAGS": "search-v2,fast-checkout"},
    });
    let mut obj = manifest.clone();
    obj["metadata"]["creationTimestamp"] = json!(ts(g.created()));
    obj["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/last-applied-configuration": last_applied(&manifest)});
    l.create("configmaps", obj, "kubectl-client-side-apply")?;
    Ok(())
}

fn load_secret(
    l: &mut Loader<'_>,
    g: &mut Gen,
    i: usize,
    d: Option<&Deployment>,
    namespaces: &[String],
) -> Result<(), SimError> {
    let (ns, app, d) = placement(i, d, namespaces);
    let labels = d
        .map(|d| d.labels.clone())
        .unwrap_or_else(|| g.labels(&app, ns));
    let size = 1000 + usize::try_from(g.rng.below(700)).unwrap_or(0);
    let url = format!("postgres://{app}:{}@db.{ns}.svc:5432/{app}", g.rng.hex(24));
    let manifest = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": format!("{app}-credentials"), "namespace": ns, "labels": labels},
        "data": {
            "database-url": STANDARD.encode(url),
            "api-key": STANDARD.encode(g.rng.hex(40)),
            "tls.key": STANDARD.encode(config_text(g, size)),
        },
    });
    let mut obj = manifest.clone();
    obj["metadata"]["creationTimestamp"] = json!(ts(g.created()));
    obj["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/last-applied-configuration": last_applied(&manifest)});
    l.create("secrets", obj, "kubectl-client-side-apply")?;
    Ok(())
}

fn load_crontab(
    l: &mut Loader<'_>,
    g: &mut Gen,
    i: usize,
    namespaces: &[String],
) -> Result<(), SimError> {
    let ns = &namespaces[i % namespaces.len()];
    let name = format!("{}-cron-{i}", APPS[i % APPS.len()]);
    let labels = g.labels(&name, ns);
    let manifest = json!({
        "apiVersion": "stable.example.com/v1", "kind": "CronTab",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"cronSpec": format!("*/{} * * * *", 1 + g.rng.below(30)), "image": g.rng.pick(IMAGES).0,
                 "replicas": 1 + g.rng.below(3), "args": ["--once", "--report"],
                 "script": config_text(g, 1200)},
    });
    let mut obj = manifest.clone();
    obj["metadata"]["creationTimestamp"] = json!(ts(g.created()));
    obj["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/last-applied-configuration": last_applied(&manifest)});
    let status = json!({"lastScheduleTime": ts(g.now), "active": [], "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": ts(g.now), "reason": "Scheduled", "message": "the next run is scheduled"}]});
    l.create_with_status(
        CUSTOM_RESOURCE,
        obj,
        "kubectl-client-side-apply",
        status,
        "crontab-controller",
        &ts(g.now),
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parsing() {
        let spec = LoadSpec::parse("pods=1000, deploy=100,rs=0,cm=3,seed=9").expect("parses");
        assert_eq!(
            (
                spec.pods,
                spec.deployments,
                spec.replicasets,
                spec.configmaps,
                spec.seed
            ),
            (1000, 100, Some(0), 3, 9)
        );
        assert!(LoadSpec::parse("frobs=1").is_err());
        assert!(LoadSpec::parse("pods").is_err());
        assert!(LoadSpec::parse("pods=x").is_err());
    }

    fn sizes(store: &Store, resource: &str) -> Vec<usize> {
        store
            .list(resource, None)
            .expect("list")
            .iter()
            .map(|o| serde_json::to_vec(o).map(|b| b.len()).unwrap_or(0))
            .collect()
    }

    #[test]
    fn realistic_cluster() {
        let store = Store::new(100_000);
        let spec = LoadSpec::parse("pods=40,deployments=4,configmaps=4,services=4,secrets=4,nodes=3,crontabs=4,namespaces=3").expect("spec");
        let report = load(&store, &spec).expect("loads");
        assert_eq!(report.created["pods"], 40);
        assert_eq!(report.created["replicasets.apps"], 4);
        for resource in [
            "pods",
            "deployments.apps",
            "replicasets.apps",
            "configmaps",
            "services",
            "secrets",
            CUSTOM_RESOURCE,
        ] {
            for size in sizes(&store, resource) {
                assert!((4096..=8192).contains(&size), "{resource}: {size} bytes");
            }
        }
        // Pods -> ReplicaSets -> Deployments.
        let pod = &store.list("pods", None).expect("pods")[0];
        let owner = &pod["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "ReplicaSet");
        let rs = store
            .get(
                "replicasets.apps",
                pod["metadata"]["namespace"].as_str(),
                owner["name"].as_str().unwrap_or_default(),
            )
            .expect("owner exists");
        assert_eq!(rs["metadata"]["uid"], owner["uid"]);
        assert_eq!(rs["metadata"]["ownerReferences"][0]["kind"], "Deployment");
        assert_eq!(pod["status"]["phase"], "Running");
        let managers: Vec<&str> = pod["metadata"]["managedFields"]
            .as_array()
            .expect("managed")
            .iter()
            .filter_map(|m| m["manager"].as_str())
            .collect();
        assert_eq!(managers, ["kube-controller-manager", "kubelet"]);
        let deploy = &store.list("deployments", None).expect("deployments")[0];
        assert!(
            deploy["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                .is_string()
        );
        assert_eq!(deploy["status"]["replicas"], 10);
    }

    #[test]
    fn deterministic() {
        let names = |seed| {
            let store = Store::new(10_000);
            let mut spec = LoadSpec::parse("pods=10,deployments=2").expect("spec");
            spec.seed = seed;
            spec.now = "2025-01-01T00:00:00Z".parse().ok();
            load(&store, &spec).expect("loads");
            store
                .list("pods", None)
                .expect("pods")
                .iter()
                .map(|p| {
                    (
                        p["metadata"]["name"].clone(),
                        p["spec"]["nodeName"].clone(),
                        p["metadata"]["creationTimestamp"].clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(names(5), names(5));
        assert_ne!(names(5), names(6));
    }
}
