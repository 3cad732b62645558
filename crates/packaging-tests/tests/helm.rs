//! The Helm charts, checked with the real `helm`: every chart lints, and the rendered
//! manifests wire what a deployment depends on — the plugin init container, its volume and
//! `STORAGE_PLUGINS`, the storage config mount, a user's own ConfigMap, the override hooks
//! the advanced charts fill in, RBAC and the APIService the aggregator can authenticate to,
//! pods that pass Pod Security `restricted` — the values schemas reject values of the wrong
//! type, and every rendered manifest matches Kubernetes' own schemas (`kubernetes-validate`).
//! `helm install` and `helm upgrade` run against the Kubernetes simulator, for what only a
//! cluster shows: `lookup` of the generated password and of a user's ConfigMap.

use std::process::Command;

use packaging_tests::{
    argv, chart, helm_template, named, object, objects, output, render, root, run_ok, tool,
};
use serde_json::{Value, json};

const PLUGIN_DIR: &str = "/var/lib/clusterpedia/plugins";
/// The application charts (the library chart renders nothing).
const APP_CHARTS: [&str; 4] = [
    "clusterpedia-core",
    "clusterpedia",
    "clusterpedia-mysql",
    "clusterpedia-postgresql",
];
/// The charts that bundle a database (and so need its password when rendering offline).
const DB_CHARTS: [&str; 3] = [
    "clusterpedia",
    "clusterpedia-mysql",
    "clusterpedia-postgresql",
];
const CONFIG_FLAG: &str = "--storage-config=/etc/clusterpedia/storage/config.yaml";

/// A values file under `tests/fixtures/helm`.
fn fixture(name: &str) -> String {
    let path = root()
        .join("crates/packaging-tests/tests/fixtures/helm")
        .join(name);
    assert!(path.is_file(), "missing fixture {}", path.display());
    path.display().to_string()
}

/// `helm template` with the placeholder password the bundled database needs offline (where
/// `lookup` cannot see a cluster) for the charts that have one, plus `args`.
fn render_offline(chart_name: &str, release: &str, args: &[&str]) -> Vec<Value> {
    let args = offline_args(chart_name, args);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    helm_template(chart_name, release, &args)
        .unwrap_or_else(|e| panic!("helm template {chart_name} {args:?} failed:\n{e}"))
}

fn offline_args(chart_name: &str, args: &[&str]) -> Vec<String> {
    let mut all = Vec::new();
    if DB_CHARTS.contains(&chart_name) {
        all.push("-f".to_owned());
        all.push(fixture("offline-password.yaml"));
    }
    all.extend(args.iter().map(|a| (*a).to_owned()));
    all
}

/// Both component Deployments of a release whose base name is `base`.
fn deployments<'a>(docs: &'a [Value], base: &str) -> [&'a Value; 2] {
    [
        object(docs, "Deployment", &format!("{base}-apiserver")),
        object(
            docs,
            "Deployment",
            &format!("{base}-clustersynchro-manager"),
        ),
    ]
}

fn pod(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]
}

/// The component's main container (the first one).
fn main_container(deployment: &Value) -> &Value {
    &pod(deployment)["containers"][0]
}

fn init_names(deployment: &Value) -> Vec<String> {
    pod(deployment)["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect()
}

fn env<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    named(&container["env"], name)
}

fn mount<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    named(&container["volumeMounts"], name)
}

/// `config.yaml` of a rendered ConfigMap, parsed.
fn config_yaml(configmap: &Value) -> Value {
    let text = configmap["data"]["config.yaml"]
        .as_str()
        .expect("a config.yaml key");
    serde_yaml_ng::from_str(text).expect("config.yaml is YAML")
}

fn secret_ref(env_var: &Value) -> (&str, &str) {
    let r = &env_var["valueFrom"]["secretKeyRef"];
    (
        r["name"].as_str().unwrap_or_default(),
        r["key"].as_str().unwrap_or_default(),
    )
}

#[test]
fn every_chart_lints() {
    let mut charts: Vec<_> = std::fs::read_dir(root().join("charts"))
        .expect("charts/")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("Chart.yaml").is_file())
        .collect();
    charts.sort();
    let names: Vec<_> = charts
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
        .collect();
    assert_eq!(
        names,
        [
            "clusterpedia",
            "clusterpedia-core",
            "clusterpedia-database",
            "clusterpedia-mysql",
            "clusterpedia-postgresql"
        ]
    );
    for dir in &charts {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let out = output(
            Command::new(tool("helm"))
                .args(["lint", "--strict"])
                .arg(dir)
                .args(offline_args(name, &[])),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("0 chart(s) failed"),
            "helm lint {}:\n{stdout}\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn core_with_a_plugin_image_copies_the_plugin_and_points_the_components_at_it() {
    let docs = render(
        "clusterpedia-core",
        "cp",
        &[
            "--set",
            "storage.name=sample-storage-layer",
            "--set",
            "storage.image.registry=registry.example",
            "--set",
            "storage.image.repository=team/sample-storage-layer",
            "--set",
            "storage.image.tag=0.1.0",
            "--set-json",
            r#"storage.config={"type":"sqlite","dsn":"/tmp/clusterpedia.db"}"#,
        ],
    );
    for deployment in deployments(&docs, "cp-clusterpedia") {
        let who = deployment["metadata"]["name"].to_string();
        let init = named(&pod(deployment)["initContainers"], "copy-storage-plugin")
            .unwrap_or_else(|| panic!("{who}: no plugin init container"));
        assert_eq!(
            init["image"], "registry.example/team/sample-storage-layer:0.1.0",
            "{who}"
        );
        assert_eq!(
            argv(init),
            ["/bin/sh", "-ec", &format!("cp /plugins/* {PLUGIN_DIR}/")],
            "{who}"
        );
        assert_eq!(
            mount(init, "storage-plugins").map(|m| &m["mountPath"]),
            Some(&json!(PLUGIN_DIR)),
            "{who}: the init container writes the plugin directory"
        );
        assert_eq!(
            named(&pod(deployment)["volumes"], "storage-plugins").map(|v| &v["emptyDir"]),
            Some(&json!({})),
            "{who}: the plugin directory is an emptyDir"
        );

        let c = main_container(deployment);
        assert_eq!(
            env(c, "STORAGE_PLUGINS").map(|e| &e["value"]),
            Some(&json!(PLUGIN_DIR)),
            "{who}"
        );
        let plugins = mount(c, "storage-plugins").expect("plugin mount");
        assert_eq!(plugins["mountPath"], PLUGIN_DIR, "{who}");
        assert_eq!(
            plugins["readOnly"], true,
            "{who}: components cannot alter plugins"
        );
        let args = argv(c);
        assert!(
            args.contains(&"--storage-name=sample-storage-layer".to_owned()),
            "{who}: {args:?}"
        );
        assert!(args.contains(&CONFIG_FLAG.to_owned()), "{who}: {args:?}");
        let config = mount(c, "storage-config").expect("config mount");
        assert_eq!(config["mountPath"], "/etc/clusterpedia/storage", "{who}");
        assert_eq!(
            named(&pod(deployment)["volumes"], "storage-config").map(|v| &v["configMap"]["name"]),
            Some(&json!("cp-clusterpedia-storage-config")),
            "{who}"
        );
    }
    let configmap = object(&docs, "ConfigMap", "cp-clusterpedia-storage-config");
    assert_eq!(
        config_yaml(configmap),
        json!({"type": "sqlite", "dsn": "/tmp/clusterpedia.db"})
    );
    for deployment in deployments(&docs, "cp-clusterpedia") {
        assert!(
            env(main_container(deployment), "PEDIA_PLUGIN_MANIFEST_SHA256").is_none(),
            "no pin unless asked for"
        );
    }
}

#[test]
fn core_pins_the_plugin_manifest_when_asked() {
    let pin = "AB".repeat(32);
    let docs = render(
        "clusterpedia-core",
        "cp",
        &[
            "--set",
            "storage.name=sample-storage-layer",
            "--set",
            "storage.image.repository=team/sample-storage-layer",
            "--set",
            &format!("storage.image.manifestSha256={pin}"),
        ],
    );
    for deployment in deployments(&docs, "cp-clusterpedia") {
        assert_eq!(
            env(main_container(deployment), "PEDIA_PLUGIN_MANIFEST_SHA256").map(|e| &e["value"]),
            Some(&json!(pin.to_lowercase())),
            "{}",
            deployment["metadata"]["name"]
        );
    }
}

#[test]
fn core_without_a_plugin_image_has_no_plugin_plumbing() {
    let docs = render(
        "clusterpedia-core",
        "cp",
        &[
            "--set",
            "storage.name=internal",
            "--set",
            "storage.config.type=sqlite",
        ],
    );
    for deployment in deployments(&docs, "cp-clusterpedia") {
        assert!(init_names(deployment).is_empty(), "{deployment}");
        let c = main_container(deployment);
        assert!(env(c, "STORAGE_PLUGINS").is_none());
        assert!(mount(c, "storage-plugins").is_none());
        assert!(argv(c).contains(&"--storage-name=internal".to_owned()));
    }
}

#[test]
fn core_honours_a_users_configmap_and_component_env() {
    let docs = render(
        "clusterpedia-core",
        "cp",
        &[
            "--set",
            "storage.name=sample-storage-layer",
            "--set",
            "storage.image.repository=team/sample-storage-layer",
            "--set",
            "storage.configMap=sample-storage-config",
            // Also a `config`: the user's ConfigMap must win and no other be created.
            "--set",
            "storage.config.type=sqlite",
            "--set-json",
            r#"storage.componentEnv=[{"name":"DB_PASSWORD","valueFrom":{"secretKeyRef":{"name":"sample-storage-password","key":"password"}}}]"#,
        ],
    );
    assert!(
        objects(&docs, "ConfigMap").is_empty(),
        "the chart must not render a storage ConfigMap when storage.configMap is set"
    );
    for deployment in deployments(&docs, "cp-clusterpedia") {
        assert_eq!(
            named(&pod(deployment)["volumes"], "storage-config").map(|v| &v["configMap"]["name"]),
            Some(&json!("sample-storage-config"))
        );
        let c = main_container(deployment);
        assert!(argv(c).contains(&CONFIG_FLAG.to_owned()));
        let password = env(c, "DB_PASSWORD").expect("componentEnv");
        assert_eq!(
            secret_ref(password),
            ("sample-storage-password", "password")
        );
        assert!(env(c, "STORAGE_PLUGINS").is_some());
    }
}

#[test]
fn core_registers_the_aggregated_api_with_rbac_and_a_reachable_service() {
    let docs = render("clusterpedia-core", "clusterpedia", &[]);
    let service = object(&docs, "Service", "clusterpedia-apiserver");
    assert_eq!(service["spec"]["ports"][0]["port"], 443);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "https");
    let api = object(&docs, "APIService", "v1beta1.clusterpedia.io");
    assert_eq!(api["spec"]["group"], "clusterpedia.io");
    assert_eq!(api["spec"]["service"]["name"], "clusterpedia-apiserver");
    assert_eq!(api["spec"]["service"]["namespace"], "clusterpedia-system");
    let [apiserver, manager] = deployments(&docs, "clusterpedia");
    let port = &main_container(apiserver)["ports"][0];
    assert_eq!(port["name"], "https");
    assert!(
        argv(main_container(apiserver))
            .contains(&format!("--secure-port={}", port["containerPort"]))
    );
    // Labels the Service selects are on the apiserver's pods.
    for (k, v) in service["spec"]["selector"].as_object().expect("selector") {
        assert_eq!(&apiserver["spec"]["template"]["metadata"]["labels"][k], v);
    }

    let role = object(&docs, "ClusterRole", "clusterpedia-clustersynchro-manager");
    let rules = role["rules"].to_string();
    assert!(rules.contains("pediaclusters/status") && rules.contains("clustersyncresources"));
    let binding = object(
        &docs,
        "ClusterRoleBinding",
        "clusterpedia-clustersynchro-manager",
    );
    assert_eq!(
        binding["subjects"][0]["name"],
        pod(manager)["serviceAccountName"]
    );
    let ns_role = object(&docs, "Role", "clusterpedia-clustersynchro-manager");
    assert!(ns_role["rules"].to_string().contains("leases"));
    let args = argv(main_container(manager));
    assert!(args.contains(&"--leader-elect-resource-namespace=clusterpedia-system".to_owned()));
    assert!(args.contains(&"--secret-namespace=clusterpedia-system".to_owned()));

    // The request-header CA, when given, reaches the apiserver.
    let docs = render(
        "clusterpedia-core",
        "clusterpedia",
        &[
            "--set",
            "apiserver.requestHeader.clientCAConfigMap=front-proxy-ca",
        ],
    );
    let [apiserver, _] = deployments(&docs, "clusterpedia");
    assert!(argv(main_container(apiserver)).iter().any(|a| a
        == "--requestheader-client-ca-file=/etc/clusterpedia/requestheader/requestheader-client-ca-file"));
    assert_eq!(
        named(&pod(apiserver)["volumes"], "requestheader").map(|v| &v["configMap"]["name"]),
        Some(&json!("front-proxy-ca"))
    );
}

#[test]
fn mysql_chart_fills_the_override_hooks() {
    let docs = render_offline("clusterpedia-mysql", "cpm", &[]);
    let secret = object(&docs, "Secret", "cpm-database");
    assert!(
        secret["data"]["password"]
            .as_str()
            .is_some_and(|p| !p.is_empty())
    );
    object(&docs, "StatefulSet", "cpm-database");
    object(&docs, "Service", "cpm-database");
    let config = config_yaml(object(&docs, "ConfigMap", "cpm-storage-config"));
    assert_eq!(
        config,
        json!({"type": "mysql", "host": "cpm-database", "port": 3306,
               "user": "clusterpedia", "database": "clusterpedia"})
    );
    for deployment in deployments(&docs, "cpm-clusterpedia") {
        // initContainers hook: wait for the database; no plugin with the internal layer.
        assert_eq!(init_names(deployment), ["wait-for-database"]);
        let wait = &pod(deployment)["initContainers"][0];
        assert!(argv(wait).join(" ").contains("mysqladmin ping"));
        assert_eq!(
            secret_ref(env(wait, "DB_PASSWORD").expect("password")),
            ("cpm-database", "password")
        );
        // configmap.name hook: the parent's ConfigMap is mounted.
        assert_eq!(
            named(&pod(deployment)["volumes"], "storage-config").map(|v| &v["configMap"]["name"]),
            Some(&json!("cpm-storage-config"))
        );
        // componentEnv hook: the password from the Secret, as the internal layer reads it.
        let c = main_container(deployment);
        assert_eq!(
            secret_ref(env(c, "DB_PASSWORD").expect("DB_PASSWORD")),
            ("cpm-database", "password")
        );
        assert!(env(c, "STORAGE_PLUGINS").is_none());
        let args = argv(c);
        assert!(
            args.contains(&"--storage-name=internal".to_owned()),
            "{args:?}"
        );
        assert!(args.contains(&CONFIG_FLAG.to_owned()));
    }
}

#[test]
fn postgresql_chart_hides_a_verified_plugin_behind_the_override_hooks() {
    let docs = render_offline(
        "clusterpedia-postgresql",
        "cpp",
        // The hooks win over the subchart's own storage settings.
        &["--set", "clusterpedia-core.storage.configMap=ignored"],
    );
    let config = config_yaml(object(&docs, "ConfigMap", "cpp-storage-config"));
    assert_eq!(
        config,
        json!({"type": "postgres", "dsn": "postgres://clusterpedia@cpp-database:5432/clusterpedia"})
    );
    for deployment in deployments(&docs, "cpp-clusterpedia") {
        assert_eq!(
            init_names(deployment),
            ["wait-for-database", "copy-storage-plugin"],
            "the database wait comes from the hook, then the plugin copy"
        );
        assert!(
            argv(&pod(deployment)["initContainers"][0])
                .join(" ")
                .contains("pg_isready")
        );
        assert_eq!(
            pod(deployment)["initContainers"][1]["image"],
            "ghcr.io/clusterpedia-rs/sample-storage-layer:0.1.0"
        );
        assert_eq!(
            named(&pod(deployment)["volumes"], "storage-config").map(|v| &v["configMap"]["name"]),
            Some(&json!("cpp-storage-config"))
        );
        let c = main_container(deployment);
        assert_eq!(
            secret_ref(env(c, "PGPASSWORD").expect("PGPASSWORD")),
            ("cpp-database", "password")
        );
        assert_eq!(
            env(c, "STORAGE_PLUGINS").map(|e| &e["value"]),
            Some(&json!(PLUGIN_DIR))
        );
        assert!(argv(c).contains(&"--storage-name=sample-storage-layer".to_owned()));
    }
}

#[test]
fn advanced_chart_with_an_external_database_and_existing_secret() {
    let docs = render(
        "clusterpedia-postgresql",
        "cpp",
        &[
            "--set",
            "global.database.external=true",
            "--set",
            "global.database.host=db.example.internal",
            "--set",
            "global.database.existingSecret=pg-credentials",
            "--set",
            "global.database.sslMode=require",
        ],
    );
    assert!(
        objects(&docs, "StatefulSet").is_empty(),
        "no bundled database"
    );
    assert!(
        objects(&docs, "Secret").is_empty(),
        "the user's Secret is used"
    );
    let config = config_yaml(object(&docs, "ConfigMap", "cpp-storage-config"));
    assert_eq!(
        config["dsn"],
        "postgres://clusterpedia@db.example.internal:5432/clusterpedia?sslmode=require"
    );
    for deployment in deployments(&docs, "cpp-clusterpedia") {
        let c = main_container(deployment);
        assert_eq!(
            secret_ref(env(c, "PGPASSWORD").expect("PGPASSWORD")),
            ("pg-credentials", "password")
        );
    }
    // External without any password source is refused at render time.
    let err = helm_template(
        "clusterpedia-postgresql",
        "cpp",
        &[
            "--set",
            "global.database.external=true",
            "--set",
            "global.database.host=db",
        ],
    )
    .expect_err("no password");
    assert!(err.contains("global.database.password"), "{err}");
}

#[test]
fn clusterpedia_chart_serves_internal_storage_on_either_database() {
    for (ty, port, image, probe) in [
        (
            "postgres",
            5432,
            "docker.io/library/postgres:16",
            "pg_isready",
        ),
        (
            "mysql",
            3306,
            "docker.io/library/mysql:8.4",
            "mysqladmin ping",
        ),
    ] {
        let docs = render_offline(
            "clusterpedia",
            "clusterpedia",
            &["--set", &format!("global.database.type={ty}")],
        );
        let config = config_yaml(object(&docs, "ConfigMap", "clusterpedia-storage-config"));
        assert_eq!(config["type"], ty);
        assert_eq!(config["port"], port);
        let db = object(&docs, "StatefulSet", "clusterpedia-database");
        assert_eq!(
            db["spec"]["template"]["spec"]["containers"][0]["image"],
            image
        );
        for deployment in deployments(&docs, "clusterpedia") {
            let wait = &pod(deployment)["initContainers"][0];
            assert_eq!(wait["image"], image);
            assert!(argv(wait).join(" ").contains(probe));
            assert!(
                argv(main_container(deployment)).contains(&"--storage-name=internal".to_owned())
            );
        }
    }
}

#[test]
fn schemas_reject_values_of_the_wrong_type() {
    for (chart_name, args, field) in [
        (
            "clusterpedia-core",
            vec!["--set", "apiserver.replicaCount=two"],
            "replicaCount",
        ),
        (
            "clusterpedia-core",
            vec!["--set-json", r#"storage.componentEnv="DB_PASSWORD""#],
            "componentEnv",
        ),
        (
            "clusterpedia-core",
            vec!["--set", "storage.image.pullPolicy=Sometimes"],
            "pullPolicy",
        ),
        (
            "clusterpedia-mysql",
            vec!["--set", "global.database.port=abc"],
            "port",
        ),
        (
            "clusterpedia",
            vec!["--set", "global.database.type=oracle"],
            "type",
        ),
        (
            "clusterpedia-postgresql",
            vec!["--set", "clusterpedia-core.apiserver.replicaCount=many"],
            "replicaCount",
        ),
    ] {
        let err = helm_template(chart_name, "cp", &args)
            .err()
            .unwrap_or_else(|| panic!("{chart_name} {args:?} rendered"));
        assert!(
            err.contains(field) && (err.contains("want") || err.contains("must be")),
            "{chart_name} {args:?}: {err}"
        );
    }
}

#[test]
fn generated_crds_ship_with_every_application_chart() {
    for chart_name in APP_CHARTS {
        let docs = render_offline(chart_name, "cp", &["--include-crds"]);
        let crds: Vec<_> = objects(&docs, "CustomResourceDefinition")
            .iter()
            .map(|c| {
                c["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            crds,
            [
                "clustersyncresources.cluster.clusterpedia.io",
                "pediaclusters.cluster.clusterpedia.io"
            ],
            "{chart_name}"
        );
    }
    assert!(chart("clusterpedia-core").join("crds").is_dir());
}

// ---------------------------------------------------------------------------------------
// Delegated authentication: the APIService works on a default install.

const REQUESTHEADER_CA_FLAG: &str =
    "--requestheader-client-ca-file=/etc/clusterpedia/requestheader/requestheader-client-ca-file";

fn binding_to<'a>(docs: &'a [Value], kind: &str, role: &str) -> Option<&'a Value> {
    objects(docs, kind)
        .into_iter()
        .find(|b| b["roleRef"]["name"] == role)
}

#[test]
fn a_default_install_delegates_to_the_host_cluster_so_the_aggregator_is_trusted() {
    for chart_name in APP_CHARTS {
        let docs = render_offline(chart_name, "cp", &[]);
        object(&docs, "APIService", "v1beta1.clusterpedia.io");
        let [apiserver, _] = deployments(&docs, "cp-clusterpedia");
        let sa = "cp-clusterpedia-apiserver";
        assert_eq!(pod(apiserver)["serviceAccountName"], sa, "{chart_name}");
        assert_eq!(
            pod(apiserver)["automountServiceAccountToken"],
            true,
            "{chart_name}: the apiserver delegates with its in-cluster service account"
        );
        let subjects =
            json!([{"kind": "ServiceAccount", "name": sa, "namespace": "clusterpedia-system"}]);

        let delegator = binding_to(&docs, "ClusterRoleBinding", "system:auth-delegator")
            .unwrap_or_else(|| panic!("{chart_name}: no binding to system:auth-delegator"));
        assert_eq!(delegator["roleRef"]["kind"], "ClusterRole", "{chart_name}");
        assert_eq!(delegator["subjects"], subjects, "{chart_name}");

        let reader = binding_to(
            &docs,
            "RoleBinding",
            "extension-apiserver-authentication-reader",
        )
        .unwrap_or_else(|| panic!("{chart_name}: no binding to the authentication reader"));
        assert_eq!(
            reader["metadata"]["namespace"], "kube-system",
            "{chart_name}"
        );
        assert_eq!(reader["roleRef"]["kind"], "Role", "{chart_name}");
        assert_eq!(reader["subjects"], subjects, "{chart_name}");

        // Nothing pasted in and nothing kubeadm-specific: the CAs and the allowed names come
        // from kube-system/extension-apiserver-authentication.
        let args = argv(main_container(apiserver));
        for flag in [
            "--requestheader-client-ca-file",
            "--requestheader-allowed-names",
            "--client-ca-file",
            "--authentication-skip-lookup",
            "--anonymous-auth",
            "--kubeconfig",
            "--authentication-kubeconfig",
            "--authorization-kubeconfig",
        ] {
            assert!(
                !args.iter().any(|a| a.starts_with(flag)),
                "{chart_name}: {flag} in {args:?}"
            );
        }
        assert!(
            objects(&docs, "ConfigMap")
                .iter()
                .all(|c| c["data"].get("requestheader-client-ca-file").is_none()),
            "{chart_name}: no front-proxy CA copied into the release"
        );
    }
}

#[test]
fn request_header_allowed_names_are_the_configmaps_unless_a_value_sets_them() {
    // A CA of the user's own and no names: the flag is absent, so any name that CA signed
    // passes (not only kubeadm's front-proxy-client).
    let docs = render(
        "clusterpedia-core",
        "cp",
        &[
            "--set",
            "apiserver.requestHeader.clientCAConfigMap=front-proxy-ca",
        ],
    );
    let [apiserver, _] = deployments(&docs, "cp-clusterpedia");
    let args = argv(main_container(apiserver));
    assert!(args.contains(&REQUESTHEADER_CA_FLAG.to_owned()), "{args:?}");
    assert!(
        !args
            .iter()
            .any(|a| a.starts_with("--requestheader-allowed-names")),
        "{args:?}"
    );

    let docs = render(
        "clusterpedia-core",
        "cp",
        &[
            "--set",
            "apiserver.requestHeader.clientCAConfigMap=front-proxy-ca",
            "--set-json",
            r#"apiserver.requestHeader.allowedNames=["front-proxy-client","aggregator"]"#,
        ],
    );
    let [apiserver, _] = deployments(&docs, "cp-clusterpedia");
    assert!(
        argv(main_container(apiserver))
            .contains(&"--requestheader-allowed-names=front-proxy-client,aggregator".to_owned())
    );

    // Names without a CA of their own would be ignored (the ConfigMap's names go with the
    // ConfigMap's CA), so they are refused.
    let err = helm_template(
        "clusterpedia-core",
        "cp",
        &[
            "--set-json",
            r#"apiserver.requestHeader.allowedNames=["aggregator"]"#,
        ],
    )
    .expect_err("allowed names without a CA");
    assert!(
        err.contains("apiserver.requestHeader.allowedNames")
            && err.contains("apiserver.requestHeader.clientCA"),
        "{err}"
    );
}

#[test]
fn an_apiservice_the_aggregator_cannot_authenticate_to_is_refused() {
    let err = helm_template(
        "clusterpedia-core",
        "cp",
        &["--set", "apiserver.delegation.enabled=false"],
    )
    .expect_err("no delegation and no front-proxy CA");
    assert!(
        err.contains("v1beta1.clusterpedia.io")
            && err.contains("apiserver.delegation.enabled")
            && err.contains("apiserver.requestHeader.clientCA")
            && err.contains("apiserver.apiService.enabled=false"),
        "{err}"
    );
    // Delegation on, but the ConfigMap lookup switched off: no front-proxy CA either.
    let err = helm_template(
        "clusterpedia-core",
        "cp",
        &[
            "--set-json",
            r#"apiserver.extraArgs=["--authentication-skip-lookup"]"#,
        ],
    )
    .expect_err("lookup skipped and no front-proxy CA");
    assert!(err.contains("--authentication-skip-lookup"), "{err}");
    // The same refusal reaches users of the advanced charts.
    let err = helm_template(
        "clusterpedia-mysql",
        "cp",
        &offline_args(
            "clusterpedia-mysql",
            &[
                "--set",
                "clusterpedia-core.apiserver.delegation.enabled=false",
            ],
        )
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    )
    .expect_err("advanced chart without delegation");
    assert!(err.contains("apiserver.delegation.enabled"), "{err}");

    // A CA of its own: renders, and without delegation the apiserver gets no token and no
    // delegation RBAC.
    let docs = render(
        "clusterpedia-core",
        "cp",
        &["-f", &fixture("core-no-delegation.yaml")],
    );
    object(&docs, "APIService", "v1beta1.clusterpedia.io");
    let [apiserver, _] = deployments(&docs, "cp-clusterpedia");
    assert_eq!(pod(apiserver)["automountServiceAccountToken"], false);
    assert!(argv(main_container(apiserver)).contains(&REQUESTHEADER_CA_FLAG.to_owned()));
    assert!(binding_to(&docs, "ClusterRoleBinding", "system:auth-delegator").is_none());
    assert!(
        binding_to(
            &docs,
            "RoleBinding",
            "extension-apiserver-authentication-reader"
        )
        .is_none()
    );
    // Or no APIService at all.
    let docs = render(
        "clusterpedia-core",
        "cp",
        &[
            "--set",
            "apiserver.delegation.enabled=false",
            "--set",
            "apiserver.apiService.enabled=false",
        ],
    );
    assert!(objects(&docs, "APIService").is_empty());
}

// ---------------------------------------------------------------------------------------
// The storage config checksum restarts pods when the mounted config changes.

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(text.as_bytes()))
}

/// The `checksum/storage-config` both components carry (they must agree), and the name of
/// the ConfigMap they mount.
fn storage_checksum(docs: &[Value], base: &str) -> (String, String) {
    let [apiserver, manager] = deployments(docs, base);
    let sum = |d: &Value| {
        d["spec"]["template"]["metadata"]["annotations"]["checksum/storage-config"]
            .as_str()
            .unwrap_or_else(|| panic!("no checksum/storage-config on {}", d["metadata"]["name"]))
            .to_owned()
    };
    let mounted = |d: &Value| {
        named(&pod(d)["volumes"], "storage-config").map(|v| v["configMap"]["name"].clone())
    };
    assert_eq!(sum(apiserver), sum(manager));
    assert_eq!(mounted(apiserver), mounted(manager));
    let name = mounted(apiserver)
        .and_then(|n| n.as_str().map(str::to_owned))
        .expect("a mounted storage ConfigMap");
    (sum(apiserver), name)
}

#[test]
fn the_storage_config_checksum_is_the_mounted_configmaps() {
    // The advanced charts' own ConfigMap (the configmap.name override hook): the checksum is
    // that ConfigMap's config.yaml, so changing the database or the extra settings rolls
    // the pods.
    for (chart_name, tuning) in [
        (
            "clusterpedia",
            "global.storageConfig.connPool.maxOpenConns=20",
        ),
        (
            "clusterpedia-mysql",
            "global.storageConfig.connPool.maxOpenConns=20",
        ),
        (
            "clusterpedia-postgresql",
            "global.storageConfig.maxConnections=20",
        ),
    ] {
        let mut seen = Vec::new();
        for args in [
            vec![],
            vec!["--set", tuning],
            vec!["--set", "global.database.name=other"],
        ] {
            let docs = render_offline(chart_name, "cp", &args);
            let (sum, name) = storage_checksum(&docs, "cp-clusterpedia");
            assert_eq!(name, "cp-storage-config", "{chart_name}");
            let data = object(&docs, "ConfigMap", &name)["data"]["config.yaml"]
                .as_str()
                .expect("config.yaml")
                .to_owned();
            assert_eq!(sum, sha256_hex(&data), "{chart_name} {args:?}:\n{data}");
            seen.push((sum, data));
        }
        assert!(
            seen[1].1.contains("20"),
            "{chart_name}: {tuning} reached the config:\n{}",
            seen[1].1
        );
        assert!(
            seen[0].0 != seen[1].0 && seen[0].0 != seen[2].0 && seen[1].0 != seen[2].0,
            "{chart_name}: {seen:#?}"
        );
        // Rendering again changes nothing.
        let again = render_offline(chart_name, "cp", &[]);
        assert_eq!(storage_checksum(&again, "cp-clusterpedia").0, seen[0].0);
    }

    // clusterpedia-core's own ConfigMap from storage.config.
    let docs = render(
        "clusterpedia-core",
        "cp",
        &["--set", "storage.config.type=sqlite"],
    );
    let (sum, name) = storage_checksum(&docs, "cp-clusterpedia");
    let data = object(&docs, "ConfigMap", &name)["data"]["config.yaml"]
        .as_str()
        .expect("config.yaml")
        .to_owned();
    assert_eq!(sum, sha256_hex(&data));

    // A user's ConfigMap (storage.configMap), which `helm template` cannot read: the
    // checksum still follows which ConfigMap is mounted, not the ignored storage.config.
    let with_map = |map: &str| {
        let docs = render(
            "clusterpedia-core",
            "cp",
            &[
                "--set",
                &format!("storage.configMap={map}"),
                "--set",
                "storage.config.type=sqlite",
            ],
        );
        storage_checksum(&docs, "cp-clusterpedia")
    };
    let (a, a_name) = with_map("config-a");
    let (b, b_name) = with_map("config-b");
    assert_eq!((a_name.as_str(), b_name.as_str()), ("config-a", "config-b"));
    assert_ne!(a, b);
    assert_ne!(a, sum, "the ignored storage.config is not what is hashed");
}

// ---------------------------------------------------------------------------------------
// The bundled database's password.

#[test]
fn the_database_password_is_required_where_lookup_cannot_see_the_cluster() {
    use base64::Engine;
    for chart_name in DB_CHARTS {
        // `helm template` (and GitOps tools rendering offline) cannot look up the Secret an
        // earlier install created: a password generated here would change on every render
        // and lock the components out of a database initialised with the first one.
        let err = helm_template(chart_name, "cp", &[]).expect_err("no password offline");
        assert!(
            err.contains("global.database.password")
                && err.contains("global.database.existingSecret")
                && err.contains("lookup"),
            "{chart_name}: {err}"
        );
        // A given password is what the Secret holds, render after render.
        let args = ["--set", "global.database.password=placeholder-for-test"];
        let first = render(chart_name, "cp", &args);
        let secret = object(&first, "Secret", "cp-database")["data"]["password"].clone();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(secret.as_str().expect("a password"))
            .expect("base64");
        assert_eq!(decoded, b"placeholder-for-test", "{chart_name}");
        let second = render(chart_name, "cp", &args);
        assert_eq!(first, second, "{chart_name}: renders differ");
        // An existing Secret needs no password and gets none rendered.
        let docs = render(
            chart_name,
            "cp",
            &["--set", "global.database.existingSecret=db-credentials"],
        );
        assert!(objects(&docs, "Secret").is_empty(), "{chart_name}");
    }
}

// ---------------------------------------------------------------------------------------
// Leader election per release.

#[test]
fn two_releases_in_one_namespace_elect_leaders_with_their_own_leases() {
    let lease = |release: &str| {
        let docs = render(
            "clusterpedia-core",
            release,
            &[
                "--set",
                &format!("clustersynchroManager.shardingName={release}"),
            ],
        );
        let [_, manager] = deployments(&docs, &format!("{release}-clusterpedia"));
        let args = argv(main_container(manager));
        assert!(args.contains(&"--leader-elect-resource-namespace=clusterpedia-system".to_owned()));
        args.iter()
            .find_map(|a| a.strip_prefix("--leader-elect-resource-name="))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{release}: no --leader-elect-resource-name in {args:?}"))
    };
    let a = lease("shard-a");
    let b = lease("shard-b");
    assert_eq!(a, "shard-a-clusterpedia-clustersynchro-manager");
    assert_eq!(b, "shard-b-clusterpedia-clustersynchro-manager");
}

// ---------------------------------------------------------------------------------------
// Secrets stay out of ConfigMaps.

#[test]
fn password_like_keys_in_a_storage_config_are_refused() {
    for (chart_name, set) in [
        ("clusterpedia-core", "storage.config.password=hunter2"),
        ("clusterpedia-core", "storage.config.auth.DBPasswd=hunter2"),
        ("clusterpedia-core", "storage.config.apiToken=hunter2"),
        ("clusterpedia-core", "storage.config.client_secret=hunter2"),
        (
            "clusterpedia-core",
            "storage.config.dsn=postgres://svc:hunter2@db:5432/pedia",
        ),
        (
            "clusterpedia-core",
            "storage.config.dsn=svc:hunter2@tcp(db:3306)/pedia",
        ),
        (
            "clusterpedia-mysql",
            "global.storageConfig.password=hunter2",
        ),
        (
            "clusterpedia-postgresql",
            "global.storageConfig.dsn=postgres://svc:hunter2@db/pedia",
        ),
    ] {
        let args = offline_args(chart_name, &["--set", set]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = helm_template(chart_name, "cp", &args)
            .err()
            .unwrap_or_else(|| panic!("{chart_name} --set {set} rendered"));
        assert!(
            err.contains("componentEnv") && err.contains("DB_PASSWORD") && err.contains("Secret"),
            "{chart_name} --set {set}: {err}"
        );
        assert!(
            !err.contains("hunter2"),
            "{chart_name} --set {set}: the message repeats the secret: {err}"
        );
    }
    // Paths to files holding secrets, and URLs without a password, are fine.
    let docs = render(
        "clusterpedia-core",
        "cp",
        &[
            "--set",
            "storage.config.type=postgres",
            "--set",
            "storage.config.dsn=postgres://svc@db:5432/pedia",
            "--set",
            "storage.config.sslKeyFile=/etc/tls/tls.key",
            "--set",
            "storage.config.passwordFile=/etc/db/password",
        ],
    );
    let config = config_yaml(object(&docs, "ConfigMap", "cp-clusterpedia-storage-config"));
    assert_eq!(config["passwordFile"], "/etc/db/password");
}

// ---------------------------------------------------------------------------------------
// DSNs, image references.

#[test]
fn user_and_database_names_are_escaped_in_the_dsn() {
    let user = "ops+search team@corp/eu";
    let docs = render_offline(
        "clusterpedia-postgresql",
        "cpp",
        &[
            "--set-string",
            &format!("global.database.user={user}"),
            "--set-string",
            "global.database.name=search db?",
            "--set-string",
            "global.database.sslMode=verify-full",
        ],
    );
    let config = config_yaml(object(&docs, "ConfigMap", "cpp-storage-config"));
    assert_eq!(
        config["dsn"],
        "postgres://ops%2Bsearch%20team%40corp%2Feu@cpp-database:5432/search%20db%3F?sslmode=verify-full"
    );
    // The database itself and the wait container get the name unescaped.
    let db = object(&docs, "StatefulSet", "cpp-database");
    let db_container = &db["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        env(db_container, "POSTGRES_USER").map(|e| &e["value"]),
        Some(&json!(user))
    );
    let [apiserver, _] = deployments(&docs, "cpp-clusterpedia");
    let wait = &pod(apiserver)["initContainers"][0];
    assert_eq!(
        env(wait, "DB_USER").map(|e| &e["value"]),
        Some(&json!(user))
    );
}

#[test]
fn a_plugin_image_without_a_registry_uses_the_runtimes_default() {
    let image = |extra: &[&str]| {
        let mut args = vec![
            "--set",
            "storage.image.repository=team/sample-storage-layer",
        ];
        args.extend_from_slice(extra);
        let docs = render("clusterpedia-core", "cp", &args);
        let [apiserver, _] = deployments(&docs, "cp-clusterpedia");
        named(&pod(apiserver)["initContainers"], "copy-storage-plugin")
            .map(|c| c["image"].clone())
            .expect("plugin init container")
    };
    assert_eq!(image(&[]), "team/sample-storage-layer:0.1.0");
    assert_eq!(
        image(&["--set", "storage.image.registry=registry.example"]),
        "registry.example/team/sample-storage-layer:0.1.0"
    );
    assert_eq!(
        image(&["--set", "global.imageRegistry=mirror.example"]),
        "mirror.example/team/sample-storage-layer:0.1.0"
    );
}

// ---------------------------------------------------------------------------------------
// User RBAC.

// `*`: every search is a subresource of `resources` (`resources/v1`, `resources/<cluster>`),
// and RBAC matches those only by `*`, the exact pair or `*/<sub>`; clusterpedia.io has no
// other resources than `resources` and `collectionresources`.
const READER_RULES: &str = r#"[{"apiGroups": ["clusterpedia.io"],
    "resources": ["*"], "verbs": ["get", "list", "watch"]}]"#;

#[test]
fn the_reader_cluster_role_grants_the_search_api_and_nothing_else() {
    let rules: Value = serde_json::from_str(READER_RULES).expect("rules");
    let docs = render("clusterpedia-core", "cp", &[]);
    let role = object(&docs, "ClusterRole", "cp-clusterpedia-reader");
    // Not cluster.clusterpedia.io: PediaClusters hold member-cluster credentials; the search
    // API serves them without.
    assert_eq!(role["rules"], rules);

    let docs = render(
        "clusterpedia-core",
        "cp",
        &["--set", "rbac.createReaderClusterRole=false"],
    );
    assert!(
        objects(&docs, "ClusterRole")
            .iter()
            .all(|r| r["metadata"]["name"] != "cp-clusterpedia-reader")
    );

    // README's example is the same role.
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let example = readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .find(|block| block.contains("kind: ClusterRole"))
        .expect("README shows a ClusterRole");
    let example: Value = serde_yaml_ng::from_str(example).expect("README's ClusterRole is YAML");
    assert_eq!(example["rules"], rules, "README's ClusterRole");
}

// ---------------------------------------------------------------------------------------
// Every rendered manifest: Pod Security `restricted` and Kubernetes' schemas.

/// Value combinations a user may install, per chart: each chart's defaults and the
/// fixtures under `tests/fixtures/helm`.
fn variants() -> Vec<(&'static str, Vec<String>)> {
    let f = |name: &str| vec!["-f".to_owned(), fixture(name)];
    let offline = |chart_name: &str, files: &[&str]| {
        let mut args = offline_args(chart_name, &[]);
        for file in files {
            args.extend(f(file));
        }
        args
    };
    vec![
        ("clusterpedia-core", vec![]),
        ("clusterpedia-core", f("core-plugin.yaml")),
        ("clusterpedia-core", f("core-no-delegation.yaml")),
        ("clusterpedia", offline("clusterpedia", &[])),
        (
            "clusterpedia",
            offline("clusterpedia", &["bundled-mysql-ephemeral.yaml"]),
        ),
        ("clusterpedia", f("external-database.yaml")),
        ("clusterpedia-mysql", offline("clusterpedia-mysql", &[])),
        (
            "clusterpedia-mysql",
            offline("clusterpedia-mysql", &["bundled-mysql-ephemeral.yaml"]),
        ),
        ("clusterpedia-mysql", f("external-database.yaml")),
        (
            "clusterpedia-postgresql",
            offline("clusterpedia-postgresql", &[]),
        ),
        ("clusterpedia-postgresql", f("external-database.yaml")),
    ]
}

/// The rules of Pod Security `restricted` (which includes `baseline`) a pod template
/// breaks, as the Kubernetes documentation of the Pod Security Standards states them.
fn restricted_violations(pod: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["hostNetwork", "hostPID", "hostIPC"] {
        if pod[key] == true {
            out.push(format!("{key}: true"));
        }
    }
    const VOLUME_TYPES: [&str; 8] = [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ];
    for volume in pod["volumes"].as_array().into_iter().flatten() {
        for key in volume.as_object().into_iter().flatten().map(|(k, _)| k) {
            if key != "name" && !VOLUME_TYPES.contains(&key.as_str()) {
                out.push(format!("volume {}: {key}", volume["name"]));
            }
        }
    }
    let pod_sc = &pod["securityContext"];
    let seccomp_ok = |t: &Value| t == "RuntimeDefault" || t == "Localhost";
    if !pod_sc["seccompProfile"]["type"].is_null() && !seccomp_ok(&pod_sc["seccompProfile"]["type"])
    {
        out.push(format!("pod seccompProfile {}", pod_sc["seccompProfile"]));
    }
    if pod_sc["runAsUser"] == 0 {
        out.push("pod runAsUser: 0".to_owned());
    }
    let containers = ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|k| pod[*k].as_array().cloned().unwrap_or_default());
    for c in containers {
        let who = format!("container {}", c["name"]);
        let sc = &c["securityContext"];
        if sc["privileged"] == true {
            out.push(format!("{who}: privileged"));
        }
        if sc["allowPrivilegeEscalation"] != false {
            out.push(format!("{who}: allowPrivilegeEscalation is not false"));
        }
        let non_root = if sc["runAsNonRoot"].is_null() {
            &pod_sc["runAsNonRoot"]
        } else {
            &sc["runAsNonRoot"]
        };
        if non_root != true {
            out.push(format!("{who}: runAsNonRoot is not true"));
        }
        if sc["runAsUser"] == 0 {
            out.push(format!("{who}: runAsUser: 0"));
        }
        let seccomp = if sc["seccompProfile"]["type"].is_null() {
            &pod_sc["seccompProfile"]["type"]
        } else {
            &sc["seccompProfile"]["type"]
        };
        if !seccomp_ok(seccomp) {
            out.push(format!("{who}: seccompProfile {seccomp}"));
        }
        let caps = &sc["capabilities"];
        if !caps["drop"]
            .as_array()
            .is_some_and(|d| d.iter().any(|c| c == "ALL"))
        {
            out.push(format!("{who}: capabilities do not drop ALL"));
        }
        for added in caps["add"].as_array().into_iter().flatten() {
            if added != "NET_BIND_SERVICE" {
                out.push(format!("{who}: adds capability {added}"));
            }
        }
        for port in c["ports"].as_array().into_iter().flatten() {
            if port["hostPort"].as_u64().is_some_and(|p| p != 0) {
                out.push(format!("{who}: hostPort {}", port["hostPort"]));
            }
        }
    }
    out
}

#[test]
fn every_pod_passes_pod_security_restricted() {
    let mut violations = Vec::new();
    let mut seen = Vec::new();
    for (chart_name, args) in variants() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let docs = render(chart_name, "cp", &args);
        for workload in docs.iter().filter(|d| {
            ["Deployment", "StatefulSet", "DaemonSet", "Job"]
                .contains(&d["kind"].as_str().unwrap_or(""))
        }) {
            let spec = &workload["spec"]["template"]["spec"];
            let name = format!(
                "{chart_name} {args:?} {}/{}",
                workload["kind"], workload["metadata"]["name"]
            );
            for c in ["initContainers", "containers"]
                .iter()
                .flat_map(|k| spec[*k].as_array().cloned().unwrap_or_default())
            {
                seen.push(c["name"].as_str().unwrap_or_default().to_owned());
            }
            violations.extend(
                restricted_violations(spec)
                    .into_iter()
                    .map(|v| format!("{name}: {v}")),
            );
        }
    }
    // The check saw every kind of container the charts have.
    for name in [
        "apiserver",
        "clustersynchro-manager",
        "copy-storage-plugin",
        "wait-for-database",
        "postgres",
        "mysql",
    ] {
        assert!(
            seen.iter().any(|s| s == name),
            "no container {name} rendered"
        );
    }
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn every_rendered_manifest_matches_the_kubernetes_schemas() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    let mut expected = 0;
    for (i, (chart_name, args)) in variants().into_iter().enumerate() {
        let text = run_ok(
            Command::new(tool("helm"))
                .args(["template", "cp"])
                .arg(chart(chart_name))
                .args(["--namespace", "clusterpedia-system", "--include-crds"])
                .args(&args),
        );
        expected += serde_yaml_ng::Deserializer::from_str(&text)
            .map(|doc| <Value as serde::Deserialize>::deserialize(doc).expect("helm's YAML"))
            .filter(|v| !v.is_null())
            .count();
        let file = dir.path().join(format!("{i:02}-{chart_name}.yaml"));
        std::fs::write(&file, text).expect("write the rendered manifests");
        files.push(file);
    }
    // The Kubernetes release the components report and the built-in knowledge targets.
    let out = output(
        Command::new(tool("kubernetes-validate"))
            .args(["--strict", "--kubernetes-version", "1.33.0"])
            .args(&files),
    );
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let problems: Vec<&str> = report
        .lines()
        .filter(|l| !(l.starts_with("INFO ") && l.contains(" passed for resource ")))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let passed = report
        .lines()
        .filter(|l| l.starts_with("INFO ") && l.contains(" passed for resource "))
        .count();
    assert!(
        out.status.success() && problems.is_empty() && passed == expected,
        "kubernetes-validate: {} of {expected} objects passed, status {}:\n{}",
        passed,
        out.status,
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// helm install / upgrade against a (simulated) cluster, where `lookup` sees objects.

/// `helm <args>` against the cluster of `kubeconfig`, with Helm's own state under `home`.
fn helm_in_cluster(home: &std::path::Path, kubeconfig: &std::path::Path, args: &[&str]) -> String {
    run_ok(
        Command::new(tool("helm"))
            .args(args)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_DATA_HOME", home.join("data")),
    )
}

#[test]
fn install_and_upgrade_keep_the_generated_password_and_follow_a_users_configmap() {
    use base64::Engine;
    let sim = kube_sim::KubeSim::start(kube_sim::SimConfig::named("host")).expect("kube-sim");
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let install = |release: &str, chart_name: &str, namespace: &str, extra: &[&str]| {
        let chart_dir = chart(chart_name).display().to_string();
        let mut args = vec![
            "upgrade",
            "--install",
            release,
            &chart_dir,
            "--namespace",
            namespace,
            "--create-namespace",
            // Helm 4 applies server-side by default, which the simulator does not serve.
            "--server-side=false",
        ];
        args.extend_from_slice(extra);
        helm_in_cluster(dir.path(), &kubeconfig, &args);
    };
    let get = |resource: &str, namespace: Option<&str>, name: &str| {
        sim.store()
            .get(resource, namespace, name)
            .unwrap_or_else(|e| panic!("{resource} {namespace:?}/{name}: {e:?}"))
    };
    let checksum = |namespace: &str, name: &str| {
        get("deployments", Some(namespace), name)["spec"]["template"]["metadata"]["annotations"]
            ["checksum/storage-config"]
            .as_str()
            .expect("checksum/storage-config")
            .to_owned()
    };
    let ns = "clusterpedia-system";

    // The first install generates the password; an upgrade reads it back and keeps it.
    install("cpm", "clusterpedia-mysql", ns, &[]);
    let password = || {
        get("secrets", Some(ns), "cpm-database")["data"]["password"]
            .as_str()
            .expect("a password")
            .to_owned()
    };
    let generated = password();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&generated)
        .expect("base64");
    assert!(
        decoded.len() == 32 && decoded.iter().all(u8::is_ascii_alphanumeric),
        "{decoded:?}"
    );
    let before = checksum(ns, "cpm-clusterpedia-apiserver");
    install(
        "cpm",
        "clusterpedia-mysql",
        ns,
        &["--set", "global.storageConfig.connPool.maxOpenConns=9"],
    );
    assert_eq!(password(), generated, "the upgrade changed the password");
    assert_ne!(
        checksum(ns, "cpm-clusterpedia-apiserver"),
        before,
        "a config change rolls the pods"
    );
    // The delegation objects were accepted where they belong.
    get(
        "rolebindings",
        Some("kube-system"),
        "cpm-clusterpedia-apiserver-auth-reader",
    );
    get(
        "clusterrolebindings",
        None,
        "cpm-clusterpedia-apiserver-auth-delegator",
    );
    get("apiservices", None, "v1beta1.clusterpedia.io");

    // A user's ConfigMap is read at each upgrade: editing it rolls the pods at the next.
    let user_ns = "search";
    sim.store()
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": user_ns}}))
        .expect("namespace");
    sim.store()
        .create(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "user-config", "namespace": user_ns},
            "data": {"config.yaml": "type: sqlite\ndsn: /tmp/a.db\n"}
        }))
        .expect("configmap");
    let core = [
        "--set",
        "storage.configMap=user-config",
        // The APIService is cluster-wide and belongs to the first release.
        "--set",
        "apiserver.apiService.enabled=false",
    ];
    install("cc", "clusterpedia-core", user_ns, &core);
    let first = checksum(user_ns, "cc-clusterpedia-apiserver");
    install("cc", "clusterpedia-core", user_ns, &core);
    assert_eq!(checksum(user_ns, "cc-clusterpedia-apiserver"), first);
    let mut configmap = get("configmaps", Some(user_ns), "user-config");
    configmap["data"]["config.yaml"] = json!("type: sqlite\ndsn: /tmp/b.db\n");
    sim.store().update(configmap).expect("edit the ConfigMap");
    install("cc", "clusterpedia-core", user_ns, &core);
    assert_ne!(checksum(user_ns, "cc-clusterpedia-apiserver"), first);
    sim.shutdown();
}
