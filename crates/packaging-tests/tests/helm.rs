//! The Helm charts, checked with the real `helm`: every chart lints, and the rendered
//! manifests wire what a deployment depends on — the plugin init container, its volume and
//! `STORAGE_PLUGINS`, the storage config mount, a user's own ConfigMap, the override hooks
//! the advanced charts fill in, RBAC and the APIService — and the values schemas reject
//! values of the wrong type.

use std::process::Command;

use packaging_tests::{
    argv, chart, helm_template, named, object, objects, output, render, root, tool,
};
use serde_json::{Value, json};

const PLUGIN_DIR: &str = "/var/lib/clusterpedia/plugins";
const CONFIG_FLAG: &str = "--storage-config=/etc/clusterpedia/storage/config.yaml";

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
        let out = output(
            Command::new(tool("helm"))
                .args(["lint", "--strict"])
                .arg(dir),
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
    let docs = render("clusterpedia-mysql", "cpm", &[]);
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
    let docs = render(
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
        let docs = render(
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
    for chart_name in [
        "clusterpedia-core",
        "clusterpedia",
        "clusterpedia-mysql",
        "clusterpedia-postgresql",
    ] {
        let docs = render(chart_name, "cp", &["--include-crds"]);
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
