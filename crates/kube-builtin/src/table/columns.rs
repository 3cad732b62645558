//! The column definitions kube-apiserver 1.33 declares for each printed kind.
//!
//! Names, types, formats and priorities follow `pkg/printers/internalversion/printers.go`;
//! descriptions are the API field documentation (`SwaggerDoc()`) those definitions point at,
//! taken from `k8s.io/api` and `k8s.io/apimachinery` v0.33.0 so the Table is byte-for-byte
//! what a real 1.33 server sends. Note kube declares some columns `string` while printing
//! integers in them (Deployment `Up-to-date`, Event `Count`, ...) and CronJob `Suspend`
//! `boolean` while printing `"True"`/`"False"`; both quirks are kept.

use super::Column;

const fn col(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind,
        format: "",
        description,
        priority: 0,
    }
}

/// A column kubectl only shows with `-o wide`.
const fn wide(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        priority: 1,
        ..col(name, kind, description)
    }
}

const NAME_COLUMN: Column = Column {
    format: "name",
    ..col("Name", "string", NAME)
};
const AGE_COLUMN: Column = col("Age", "string", CREATION_TIMESTAMP);
const CONTAINERS_COLUMN: Column = wide(
    "Containers",
    "string",
    "Names of each container in the template.",
);
const IMAGES_COLUMN: Column = wide(
    "Images",
    "string",
    "Images referenced by each container in the template.",
);

/// The column Clusterpedia puts before every kind's own columns.
pub(super) const CLUSTER: Column = col(
    "Cluster",
    "string",
    "The name of the cluster the object belongs to.",
);

/// What a custom resource without `additionalPrinterColumns` gets: kube's
/// apiextensions server defaults to `Age` typed `date`, still printed as a duration.
pub(super) static GENERIC: &[Column] = &[NAME_COLUMN, col("Age", "date", CREATION_TIMESTAMP)];

pub(super) static POD: &[Column] = &[
    NAME_COLUMN,
    col(
        "Ready",
        "string",
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    col(
        "Status",
        "string",
        "The aggregate status of the containers in this pod.",
    ),
    col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE_COLUMN,
    wide("IP", "string", POD_IP),
    wide("Node", "string", POD_NODE_NAME),
    wide("Nominated Node", "string", POD_NOMINATED_NODE_NAME),
    wide("Readiness Gates", "string", POD_READINESS_GATES),
];

pub(super) static DEPLOYMENT: &[Column] = &[
    NAME_COLUMN,
    col("Ready", "string", "Number of the pod with ready state"),
    col("Up-to-date", "string", DEPLOYMENT_UPDATED_REPLICAS),
    col("Available", "string", DEPLOYMENT_AVAILABLE_REPLICAS),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide("Selector", "string", DEPLOYMENT_SELECTOR),
];

pub(super) static REPLICA_SET: &[Column] = &[
    NAME_COLUMN,
    col("Desired", "integer", REPLICASET_SPEC_REPLICAS),
    col("Current", "integer", REPLICASET_STATUS_REPLICAS),
    col("Ready", "integer", REPLICASET_READY_REPLICAS),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide("Selector", "string", REPLICASET_SELECTOR),
];

pub(super) static STATEFUL_SET: &[Column] = &[
    NAME_COLUMN,
    col("Ready", "string", "Number of the pod with ready state"),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
];

pub(super) static DAEMON_SET: &[Column] = &[
    NAME_COLUMN,
    col("Desired", "integer", DAEMONSET_DESIRED),
    col("Current", "integer", DAEMONSET_CURRENT),
    col("Ready", "integer", DAEMONSET_READY),
    col("Up-to-date", "integer", DAEMONSET_UPDATED),
    col("Available", "integer", DAEMONSET_AVAILABLE),
    col("Node Selector", "string", POD_NODE_SELECTOR),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide("Selector", "string", DAEMONSET_SELECTOR),
];

pub(super) static JOB: &[Column] = &[
    NAME_COLUMN,
    col("Status", "string", "Status of the job."),
    col("Completions", "string", JOB_SUCCEEDED),
    col("Duration", "string", "Time required to complete the job."),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide("Selector", "string", JOB_SELECTOR),
];

pub(super) static CRON_JOB: &[Column] = &[
    NAME_COLUMN,
    col("Schedule", "string", CRONJOB_SCHEDULE),
    col("Timezone", "string", CRONJOB_TIME_ZONE),
    col("Suspend", "boolean", CRONJOB_SUSPEND),
    col("Active", "integer", CRONJOB_ACTIVE),
    col("Last Schedule", "string", CRONJOB_LAST_SCHEDULE_TIME),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide("Selector", "string", JOB_SELECTOR),
];

pub(super) static SERVICE: &[Column] = &[
    NAME_COLUMN,
    col("Type", "string", SERVICE_TYPE),
    col("Cluster-IP", "string", SERVICE_CLUSTER_IP),
    col("External-IP", "string", SERVICE_EXTERNAL_IPS),
    col("Port(s)", "string", SERVICE_PORTS),
    AGE_COLUMN,
    wide("Selector", "string", SERVICE_SELECTOR),
];

pub(super) static INGRESS: &[Column] = &[
    NAME_COLUMN,
    col(
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    col(
        "Hosts",
        "string",
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    col(
        "Address",
        "string",
        "Address is a list containing ingress points for the load-balancer",
    ),
    col("Ports", "string", "Ports of TLS configurations that open"),
    AGE_COLUMN,
];

pub(super) static NODE: &[Column] = &[
    NAME_COLUMN,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE_COLUMN,
    col("Version", "string", NODE_KUBELET_VERSION),
    wide("Internal-IP", "string", NODE_ADDRESSES),
    wide("External-IP", "string", NODE_ADDRESSES),
    wide("OS-Image", "string", NODE_OS_IMAGE),
    wide("Kernel-Version", "string", NODE_KERNEL_VERSION),
    wide(
        "Container-Runtime",
        "string",
        NODE_CONTAINER_RUNTIME_VERSION,
    ),
];

/// Core `Event`s; `events.k8s.io` Events share the storage and so the printer.
pub(super) static EVENT: &[Column] = &[
    col("Last Seen", "string", EVENT_LAST_TIMESTAMP),
    col("Type", "string", EVENT_TYPE),
    col("Reason", "string", EVENT_REASON),
    col("Object", "string", EVENT_INVOLVED_OBJECT),
    wide("Subobject", "string", OBJECT_REFERENCE_FIELD_PATH),
    wide("Source", "string", EVENT_SOURCE),
    col("Message", "string", EVENT_MESSAGE),
    wide("First Seen", "string", EVENT_FIRST_TIMESTAMP),
    wide("Count", "string", EVENT_COUNT),
    Column {
        priority: 1,
        ..NAME_COLUMN
    },
];

pub(super) static NAMESPACE: &[Column] = &[
    NAME_COLUMN,
    col("Status", "string", "The status of the namespace"),
    AGE_COLUMN,
];

pub(super) static SECRET: &[Column] = &[
    NAME_COLUMN,
    col("Type", "string", SECRET_TYPE),
    col("Data", "string", SECRET_DATA),
    AGE_COLUMN,
];

pub(super) static CONFIG_MAP: &[Column] = &[
    NAME_COLUMN,
    col("Data", "string", CONFIGMAP_DATA),
    AGE_COLUMN,
];

pub(super) static PERSISTENT_VOLUME_CLAIM: &[Column] = &[
    NAME_COLUMN,
    col("Status", "string", PVC_PHASE),
    col("Volume", "string", PVC_VOLUME_NAME),
    col("Capacity", "string", PVC_CAPACITY),
    col("Access Modes", "string", PVC_ACCESS_MODES),
    col("StorageClass", "string", "StorageClass of the pvc"),
    col(
        "VolumeAttributesClass",
        "string",
        "VolumeAttributesClass of the pvc",
    ),
    AGE_COLUMN,
    wide("VolumeMode", "string", PVC_VOLUME_MODE),
];

// API field documentation, k8s.io/api and k8s.io/apimachinery v0.33.0 (`SwaggerDoc()`).
// The workload descriptions come from the extensions/v1beta1 and batch/v1beta1 types
// because that is what printers.go references.
const NAME: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const CREATION_TIMESTAMP: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const POD_IP: &str = "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.";
const POD_NODE_NAME: &str = "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename";
const POD_NOMINATED_NODE_NAME: &str = "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.";
const POD_READINESS_GATES: &str = "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates";
const POD_NODE_SELECTOR: &str = "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/";
const SERVICE_TYPE: &str = "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types";
const SERVICE_CLUSTER_IP: &str = "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
const SERVICE_EXTERNAL_IPS: &str = "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.";
const SERVICE_PORTS: &str = "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
const SERVICE_SELECTOR: &str = "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/";
const NODE_KUBELET_VERSION: &str = "Kubelet Version reported by the node.";
const NODE_ADDRESSES: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";
const NODE_OS_IMAGE: &str =
    "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).";
const NODE_KERNEL_VERSION: &str =
    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).";
const NODE_CONTAINER_RUNTIME_VERSION: &str = "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).";
const CONFIGMAP_DATA: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";
const SECRET_TYPE: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
const SECRET_DATA: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";
const EVENT_LAST_TIMESTAMP: &str =
    "The time at which the most recent occurrence of this event was recorded.";
const EVENT_TYPE: &str =
    "Type of this event (Normal, Warning), new types could be added in the future";
const EVENT_REASON: &str = "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.";
const EVENT_INVOLVED_OBJECT: &str = "The object that this event is about.";
const OBJECT_REFERENCE_FIELD_PATH: &str = "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.";
const EVENT_SOURCE: &str =
    "The component reporting this event. Should be a short machine understandable string.";
const EVENT_MESSAGE: &str = "A human-readable description of the status of this operation.";
const EVENT_FIRST_TIMESTAMP: &str =
    "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)";
const EVENT_COUNT: &str = "The number of times this event has occurred.";
const PVC_PHASE: &str = "phase represents the current phase of PersistentVolumeClaim.";
const PVC_VOLUME_NAME: &str =
    "volumeName is the binding reference to the PersistentVolume backing this claim.";
const PVC_CAPACITY: &str = "capacity represents the actual resources of the underlying volume.";
const PVC_ACCESS_MODES: &str = "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1";
const PVC_VOLUME_MODE: &str = "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.";
const DEPLOYMENT_UPDATED_REPLICAS: &str = "Total number of non-terminating pods targeted by this deployment that have the desired template spec.";
const DEPLOYMENT_AVAILABLE_REPLICAS: &str = "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.";
const DEPLOYMENT_SELECTOR: &str = "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.";
const REPLICASET_SPEC_REPLICAS: &str = "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset";
const REPLICASET_STATUS_REPLICAS: &str = "Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset";
const REPLICASET_READY_REPLICAS: &str =
    "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.";
const REPLICASET_SELECTOR: &str = "Selector is a label query over pods that should match the replica count. If the selector is empty, it is defaulted to the labels present on the pod template. Label keys and values that must match in order to be controlled by this replica set. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const DAEMONSET_DESIRED: &str = "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
const DAEMONSET_CURRENT: &str = "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
const DAEMONSET_READY: &str = "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.";
const DAEMONSET_UPDATED: &str = "The total number of nodes that are running updated daemon pod";
const DAEMONSET_AVAILABLE: &str = "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)";
const DAEMONSET_SELECTOR: &str = "A label query over pods that are managed by the daemon set. Must match in order to be controlled. If empty, defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const JOB_SUCCEEDED: &str = "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.";
const JOB_SELECTOR: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const CRONJOB_SCHEDULE: &str =
    "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.";
const CRONJOB_TIME_ZONE: &str = "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones";
const CRONJOB_SUSPEND: &str = "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.";
const CRONJOB_ACTIVE: &str = "A list of pointers to currently running jobs.";
const CRONJOB_LAST_SCHEDULE_TIME: &str =
    "Information when was the last time the job was successfully scheduled.";
