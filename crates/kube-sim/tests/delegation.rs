//! The simulator as the host cluster of an aggregated API server: TokenReviews of every
//! kind of token (added, revoked, service-account tokens dying with their account),
//! SubjectAccessReviews decided by RBAC over stored roles and bindings (aggregated
//! ClusterRoles included), the `extension-apiserver-authentication` ConfigMap and its
//! front-proxy CA rotation seen by a watch, the `Local` APIServices following the CRDs,
//! RBAC enforcement of the simulator's own requests, and real kubectl 1.27 and 1.33
//! (`create clusterrolebinding`, `auth can-i`, `create token`, `get apiservices`).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Kubectl, client, client_from, fixture, fixture_text};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use kube_sim::auth::{API_AUDIENCE, SYSTEM_AUTHENTICATED};
use kube_sim::rbac::Request;
use kube_sim::{KubeSim, SimConfig, UserInfo};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, UnixTime};
use serde_json::json;

fn sim() -> KubeSim {
    common::start()
}

fn yaml(name: &str) -> serde_json::Value {
    serde_yaml_ng::from_str(&fixture_text(name)).expect("fixture parses")
}

async fn review(sim: &KubeSim, token: &str, audiences: Option<Vec<String>>) -> TokenReview {
    let api: Api<TokenReview> = Api::all(client(sim).await);
    let tr = TokenReview {
        spec: TokenReviewSpec {
            token: Some(token.to_owned()),
            audiences,
        },
        ..TokenReview::default()
    };
    api.create(&PostParams::default(), &tr)
        .await
        .expect("token review")
}

fn authenticated(tr: &TokenReview) -> bool {
    tr.status
        .as_ref()
        .and_then(|s| s.authenticated)
        .unwrap_or(false)
}

async fn list_namespaces(kubeconfig: &str) -> Result<usize, u16> {
    let api: Api<Namespace> = Api::all(client_from(kubeconfig).await);
    match api.list(&ListParams::default()).await {
        Ok(l) => Ok(l.items.len()),
        Err(kube::Error::Api(s)) => Err(s.code),
        Err(other) => panic!("unexpected error: {other:?}"),
    }
}

#[tokio::test]
async fn token_reviews_added_revoked_and_service_account_tokens() {
    let sim = sim();
    let alice = UserInfo::new("alice")
        .with_uid("u-1")
        .with_groups(["devs"])
        .with_extra("scopes", ["read"]);
    sim.add_token("alice-token", alice);
    let tr = review(&sim, "alice-token", None).await;
    let status = tr.status.expect("status");
    assert_eq!(status.authenticated, Some(true));
    let user = status.user.expect("user");
    assert_eq!(user.username.as_deref(), Some("alice"));
    assert_eq!(user.uid.as_deref(), Some("u-1"));
    assert_eq!(
        user.groups,
        Some(vec!["devs".to_owned(), SYSTEM_AUTHENTICATED.to_owned()])
    );
    assert_eq!(
        user.extra.expect("extra")["scopes"],
        vec!["read".to_owned()]
    );
    assert_eq!(status.audiences, Some(vec![API_AUDIENCE.to_owned()]));
    // The token works for requests, until it is revoked.
    let kubeconfig = sim.kubeconfig_with_token("alice-token");
    assert_eq!(list_namespaces(&kubeconfig).await, Ok(4));
    assert!(sim.revoke_token("alice-token"));
    assert!(!authenticated(&review(&sim, "alice-token", None).await));
    assert_eq!(list_namespaces(&kubeconfig).await, Err(401));
    // Unknown tokens are not errors; nor is asking for an audience a static token lacks.
    let unknown = review(&sim, "nobody", None).await.status.expect("status");
    assert_eq!((unknown.authenticated, unknown.error), (None, None));
    let issued = sim.issue_token(UserInfo::new("bob"));
    assert!(!authenticated(
        &review(&sim, &issued, Some(vec!["other".to_owned()])).await
    ));

    // Service-account tokens: bound to audiences, dead with their ServiceAccount.
    sim.store()
        .create(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "agg", "namespace": "kube-system"}}))
        .expect("service account");
    let token = sim
        .service_account_token("kube-system", "agg", &["clusterpedia"], 3600)
        .expect("token");
    let tr = review(&sim, &token, Some(vec!["clusterpedia".to_owned()])).await;
    let status = tr.status.expect("status");
    assert_eq!(status.authenticated, Some(true));
    assert_eq!(status.audiences, Some(vec!["clusterpedia".to_owned()]));
    let user = status.user.expect("user");
    assert_eq!(
        user.username.as_deref(),
        Some("system:serviceaccount:kube-system:agg")
    );
    assert_eq!(
        user.groups.expect("groups"),
        [
            "system:serviceaccounts",
            "system:serviceaccounts:kube-system",
            SYSTEM_AUTHENTICATED
        ]
    );
    assert!(
        !authenticated(&review(&sim, &token, None).await),
        "wrong audience"
    );
    sim.store()
        .delete("serviceaccounts", Some("kube-system"), "agg")
        .expect("deleted");
    let gone = review(&sim, &token, Some(vec!["clusterpedia".to_owned()]))
        .await
        .status
        .expect("status");
    assert_eq!(gone.authenticated, None);
    assert!(
        gone.error.as_deref().is_some_and(|e| e.contains("deleted")),
        "{gone:?}"
    );
    assert!(
        sim.service_account_token("kube-system", "agg", &[], 3600)
            .is_err()
    );

    // A Secret of type service-account-token gets its token from the token controller;
    // deleting the Secret revokes it.
    sim.store()
        .create(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "legacy", "namespace": "default"}}))
        .expect("service account");
    sim.store()
        .create(yaml("secret-sa-token.yaml"))
        .expect("secret");
    let secret = sim
        .store()
        .get("secrets", Some("default"), "legacy-token")
        .expect("secret");
    let token = secret["data"]["token"].as_str().expect("filled");
    let token = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, token).expect("base64"),
    )
    .expect("utf-8");
    assert_eq!(
        secret["data"]["ca.crt"]
            .as_str()
            .map(
                |c| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, c)
                    .expect("base64")
            ),
        Some(sim.ca_pem().as_bytes().to_vec())
    );
    let tr = review(&sim, &token, None).await;
    assert_eq!(
        tr.status
            .and_then(|s| s.user)
            .and_then(|u| u.username)
            .as_deref(),
        Some("system:serviceaccount:default:legacy")
    );
    assert_eq!(
        list_namespaces(&sim.kubeconfig_with_token(&token)).await,
        Ok(4)
    );
    sim.store()
        .delete("secrets", Some("default"), "legacy-token")
        .expect("deleted");
    assert!(!authenticated(&review(&sim, &token, None).await));
}

async fn sar(
    sim: &KubeSim,
    user: &str,
    groups: &[&str],
    attrs: ResourceAttributes,
) -> (bool, String) {
    let api: Api<SubjectAccessReview> = Api::all(client(sim).await);
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.to_owned()),
            groups: Some(groups.iter().map(|g| (*g).to_owned()).collect()),
            resource_attributes: Some(attrs),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    let status = api
        .create(&PostParams::default(), &review)
        .await
        .expect("subject access review")
        .status
        .expect("status");
    (status.allowed, status.reason.unwrap_or_default())
}

fn attrs(verb: &str, group: &str, resource: &str, namespace: &str) -> ResourceAttributes {
    ResourceAttributes {
        verb: Some(verb.to_owned()),
        group: Some(group.to_owned()),
        resource: Some(resource.to_owned()),
        namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
        ..ResourceAttributes::default()
    }
}

#[tokio::test]
async fn subject_access_reviews_follow_stored_rbac() {
    let sim = sim();
    let pods = || attrs("list", "", "pods", "default");
    assert_eq!(
        sar(&sim, "alice", &[], pods()).await,
        (false, String::new())
    );
    // The aggregated `view` role, bound cluster-wide.
    sim.store()
        .create(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "alice-view"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "alice"}],
        }))
        .expect("binding");
    assert_eq!(
        sar(&sim, "alice", &[], pods()).await,
        (
            true,
            "RBAC: allowed by ClusterRoleBinding \"alice-view\" of ClusterRole \"view\" to User \"alice\"".to_owned()
        )
    );
    let log = ResourceAttributes {
        subresource: Some("log".to_owned()),
        name: Some("web".to_owned()),
        ..attrs("get", "", "pods", "default")
    };
    assert!(sar(&sim, "alice", &[], log).await.0, "pods/log is in view");
    assert!(
        !sar(&sim, "alice", &[], attrs("get", "", "secrets", "default"))
            .await
            .0
    );
    // A CRD's resource is not in `view` until a role aggregated into it names it; then
    // `edit` and `admin` (which aggregate `view`) have it too.
    sim.store().create(yaml("crd-widget.yaml")).expect("crd");
    let widgets = || attrs("list", "example.com", "widgets", "default");
    assert!(!sar(&sim, "alice", &[], widgets()).await.0);
    sim.store()
        .create(yaml("clusterrole-widgets-view.yaml"))
        .expect("aggregated role");
    assert!(sar(&sim, "alice", &[], widgets()).await.0);
    for role in ["view", "edit", "admin"] {
        let rules = sim.store().get("clusterroles", None, role).expect("role")["rules"].to_string();
        assert!(rules.contains("widgets"), "{role}: {rules}");
    }
    // A RoleBinding of a ClusterRole grants in its namespace only.
    sim.store()
        .create(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "devs-edit", "namespace": "kube-public"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [{"kind": "Group", "name": "devs"}],
        }))
        .expect("role binding");
    assert_eq!(
        sar(&sim, "bob", &["devs"], attrs("create", "apps", "deployments", "kube-public")).await,
        (
            true,
            "RBAC: allowed by RoleBinding \"devs-edit/kube-public\" of ClusterRole \"edit\" to Group \"devs\"".to_owned()
        )
    );
    assert!(
        !sar(
            &sim,
            "bob",
            &["devs"],
            attrs("create", "apps", "deployments", "default")
        )
        .await
        .0
    );
    // The delegated authorizer's own permissions, and system:masters.
    assert!(
        !sar(
            &sim,
            "system:serviceaccount:kube-system:agg",
            &[],
            attrs("create", "authorization.k8s.io", "subjectaccessreviews", "")
        )
        .await
        .0
    );
    sim.store()
        .create(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "agg:system:auth-delegator"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"},
            "subjects": [{"kind": "ServiceAccount", "name": "agg", "namespace": "kube-system"}],
        }))
        .expect("binding");
    for resource in [
        ("authorization.k8s.io", "subjectaccessreviews"),
        ("authentication.k8s.io", "tokenreviews"),
    ] {
        assert!(
            sar(
                &sim,
                "system:serviceaccount:kube-system:agg",
                &[],
                attrs("create", resource.0, resource.1, "")
            )
            .await
            .0
        );
    }
    let reader = ResourceAttributes {
        name: Some("extension-apiserver-authentication".to_owned()),
        ..attrs("watch", "", "configmaps", "kube-system")
    };
    assert!(
        !sar(
            &sim,
            "system:serviceaccount:kube-system:agg",
            &[],
            reader.clone()
        )
        .await
        .0
    );
    sim.store()
        .create(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "agg-auth-reader", "namespace": "kube-system"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "extension-apiserver-authentication-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "agg", "namespace": "kube-system"}],
        }))
        .expect("binding");
    assert!(
        sar(&sim, "system:serviceaccount:kube-system:agg", &[], reader)
            .await
            .0
    );
    assert_eq!(
        sar(
            &sim,
            "root",
            &["system:masters"],
            attrs("delete", "", "nodes", "")
        )
        .await,
        (true, String::new())
    );
    // The in-process decision is the same one.
    let decision = sim.authorize(
        &UserInfo::new("alice"),
        &Request::resource("list", "", "pods").in_namespace("default"),
    );
    assert!(decision.allowed && !decision.denied);
    // A SubjectAccessReview without user or groups is invalid.
    let api: Api<SubjectAccessReview> = Api::all(client(&sim).await);
    let empty = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            resource_attributes: Some(attrs("get", "", "pods", "")),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    match api.create(&PostParams::default(), &empty).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"), "{s:?}")
        }
        other => panic!("expected 422, got {other:?}"),
    }
}

/// Whether `cert_pem` is a client certificate that a verifier trusting `bundle_pem`
/// accepts, as an aggregated API server's front-proxy authenticator checks it.
fn trusted_by(bundle_pem: &str, cert_pem: &str) -> bool {
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(bundle_pem.as_bytes()) {
        roots.add(ca.expect("CA parses")).expect("CA added");
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .expect("verifier");
    let cert = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .next()
        .expect("a certificate")
        .expect("parses");
    verifier
        .verify_client_cert(&cert, &[], UnixTime::now())
        .is_ok()
}

#[tokio::test]
async fn authentication_config_map_and_front_proxy_rotation() {
    let sim = sim();
    let api: Api<ConfigMap> = Api::namespaced(client(&sim).await, "kube-system");
    let cm = api
        .get("extension-apiserver-authentication")
        .await
        .expect("published");
    let data = cm.data.clone().expect("data");
    assert_eq!(
        data["requestheader-allowed-names"],
        r#"["front-proxy-client"]"#
    );
    assert_eq!(
        data["requestheader-username-headers"],
        r#"["X-Remote-User"]"#
    );
    assert_eq!(data["requestheader-group-headers"], r#"["X-Remote-Group"]"#);
    assert_eq!(
        data["requestheader-extra-headers-prefix"],
        r#"["X-Remote-Extra-"]"#
    );
    assert_eq!(
        data["requestheader-client-ca-file"],
        sim.front_proxy_ca_pem()
    );
    assert_eq!(data["client-ca-file"], sim.client_ca_bundle());
    // Client certificates of the published client CA authenticate against the cluster.
    let (cert, key) = sim
        .client_cert("carol", &["system:masters"])
        .expect("issued");
    assert!(trusted_by(&data["client-ca-file"], &cert));
    assert_eq!(
        list_namespaces(&sim.kubeconfig_with_client_cert(&cert, &key)).await,
        Ok(4)
    );

    let (old_cert, _) = sim
        .front_proxy_client_cert("front-proxy-client")
        .expect("issued");
    assert!(trusted_by(&data["requestheader-client-ca-file"], &old_cert));
    assert!(!trusted_by(&data["client-ca-file"], &old_cert));

    let rv = cm.metadata.resource_version.clone().expect("rv");
    let params = WatchParams::default().fields("metadata.name=extension-apiserver-authentication");
    let mut events = api.watch(&params, &rv).await.expect("watch").boxed();

    // Rotation that keeps the old CA: both certificates are trusted.
    let kept = sim.rotate_front_proxy_ca(true).expect("rotated");
    let (new_cert, _) = sim
        .front_proxy_client_cert("front-proxy-client")
        .expect("issued");
    let modified = tokio::time::timeout(Duration::from_secs(10), events.try_next())
        .await
        .expect("in time")
        .expect("event")
        .expect("not closed");
    let WatchEvent::Modified(cm) = modified else {
        panic!("expected MODIFIED, got {modified:?}");
    };
    let bundle = cm.data.expect("data")["requestheader-client-ca-file"].clone();
    assert_eq!(bundle, kept);
    assert!(trusted_by(&bundle, &new_cert) && trusted_by(&bundle, &old_cert));
    // Rotation that drops it: only certificates of the newest CA are.
    let replaced = sim.rotate_front_proxy_ca(false).expect("rotated");
    let (newest_cert, _) = sim
        .front_proxy_client_cert("front-proxy-client")
        .expect("issued");
    let modified = tokio::time::timeout(Duration::from_secs(10), events.try_next())
        .await
        .expect("in time")
        .expect("event")
        .expect("not closed");
    let WatchEvent::Modified(cm) = modified else {
        panic!("expected MODIFIED, got {modified:?}");
    };
    let bundle = cm.data.expect("data")["requestheader-client-ca-file"].clone();
    assert_eq!(bundle, replaced);
    assert!(trusted_by(&bundle, &newest_cert));
    assert!(!trusted_by(&bundle, &new_cert) && !trusted_by(&bundle, &old_cert));
}

fn api_services(client: kube::Client) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apiregistration.k8s.io", "v1", "APIService"),
        "apiservices",
    );
    Api::all_with(client, &ar)
}

#[tokio::test]
async fn local_api_services_follow_what_is_served() {
    let sim = sim();
    let client = client(&sim).await;
    let api = api_services(client.clone());
    let list = api.list(&ListParams::default()).await.expect("list");
    let names: Vec<String> = list
        .items
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    // One per served group version, as discovery lists them.
    let groups: serde_json::Value = client
        .request(
            axum::http::Request::get("/apis")
                .body(Vec::new())
                .expect("request"),
        )
        .await
        .expect("discovery");
    let mut expected: Vec<String> = vec!["v1.".to_owned()];
    for g in groups["groups"].as_array().expect("groups") {
        for v in g["versions"].as_array().expect("versions") {
            expected.push(format!(
                "{}.{}",
                v["version"].as_str().expect("version"),
                g["name"].as_str().expect("name")
            ));
        }
    }
    expected.sort();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, expected);
    for name in [
        "v1.",
        "v1.authentication.k8s.io",
        "v1.authorization.k8s.io",
        "v1.autoscaling",
        "v2.autoscaling",
    ] {
        assert!(names.contains(&name.to_owned()), "{name}: {names:?}");
    }
    let core = list
        .items
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("v1."))
        .expect("v1.");
    assert_eq!(core.data["spec"]["group"], "");
    assert!(
        core.data["spec"]
            .get("service")
            .is_none_or(serde_json::Value::is_null)
    );
    assert_eq!(core.data["status"]["conditions"][0]["type"], "Available");
    assert_eq!(core.data["status"]["conditions"][0]["status"], "True");
    assert_eq!(core.data["status"]["conditions"][0]["reason"], "Local");

    // A CRD's group version gets its APIService, and loses it with the CRD.
    let rv = list.metadata.resource_version.clone().expect("rv");
    let mut events = api
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    sim.store().create(yaml("crd-widget.yaml")).expect("crd");
    let added = tokio::time::timeout(Duration::from_secs(10), events.try_next())
        .await
        .expect("in time")
        .expect("event")
        .expect("not closed");
    let WatchEvent::Added(service) = added else {
        panic!("expected ADDED, got {added:?}");
    };
    assert_eq!(service.metadata.name.as_deref(), Some("v1.example.com"));
    assert_eq!(
        service.metadata.labels.expect("labels")["kube-aggregator.kubernetes.io/automanaged"],
        "true"
    );
    sim.store()
        .delete("customresourcedefinitions", None, "widgets.example.com")
        .expect("deleted");
    let deleted = tokio::time::timeout(Duration::from_secs(10), events.try_next())
        .await
        .expect("in time")
        .expect("event")
        .expect("not closed");
    assert!(
        matches!(&deleted, WatchEvent::Deleted(s) if s.metadata.name.as_deref() == Some("v1.example.com")),
        "{deleted:?}"
    );

    // Names are `<version>.<group>`; one served by a Service is registered but not
    // available (nothing is proxied), until the Service exists it says why.
    let mut bad = yaml("apiservice-external.yaml");
    bad["metadata"]["name"] = json!("v1.clusterpedia.io");
    let bad: DynamicObject = serde_json::from_value(bad).expect("object");
    match api.create(&PostParams::default(), &bad).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 422);
            assert!(
                s.message
                    .contains("must be `spec.version+\".\"+spec.group`"),
                "{}",
                s.message
            );
        }
        other => panic!("expected 422, got {other:?}"),
    }
    let external: DynamicObject =
        serde_json::from_value(yaml("apiservice-external.yaml")).expect("object");
    api.create(&PostParams::default(), &external)
        .await
        .expect("created");
    let got = api.get("v1beta1.clusterpedia.io").await.expect("get");
    assert_eq!(got.data["status"]["conditions"][0]["status"], "False");
    assert_eq!(
        got.data["status"]["conditions"][0]["reason"],
        "ServiceNotFound"
    );
    api.delete("v1beta1.clusterpedia.io", &DeleteParams::default())
        .await
        .expect("deleted");
}

#[tokio::test]
async fn rbac_enforced_on_the_simulators_own_requests() {
    let mut config = SimConfig::named("rbac");
    config.rbac = true;
    let sim = KubeSim::start(config).expect("started");
    let token = sim.issue_token(UserInfo::new("alice"));
    let alice = sim.kubeconfig_with_token(&token);
    // Discovery and self-reviews are open to every authenticated user; namespaces are not.
    let kubectl = Kubectl::new(33, &alice);
    assert!(
        kubectl
            .run(&["get", "--raw", "/api"])
            .contains("APIVersions")
    );
    let (ok, _, stderr) = kubectl.try_run(&["get", "namespaces"]);
    assert!(!ok);
    assert!(
        stderr.contains(
            "namespaces is forbidden: User \"alice\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
        ),
        "{stderr}"
    );
    let (allowed, answer, _) = kubectl.try_run(&["auth", "can-i", "list", "namespaces"]);
    assert_eq!((allowed, answer.trim()), (false, "no"));
    Kubectl::new(33, &sim.kubeconfig()).run(&[
        "create",
        "clusterrolebinding",
        "alice-view",
        "--clusterrole=view",
        "--user=alice",
    ]);
    assert_eq!(list_namespaces(&alice).await, Ok(4));
    let (ok, _, stderr) = kubectl.try_run(&["delete", "namespace", "kube-public"]);
    assert!(!ok);
    assert!(
        stderr.contains("namespaces \"kube-public\" is forbidden: User \"alice\" cannot delete resource \"namespaces\""),
        "{stderr}"
    );
    // Impersonation needs the `impersonate` verb: alice may not, the admin may.
    let (ok, _, stderr) = kubectl.try_run(&["get", "pods", "--as", "bob"]);
    assert!(
        !ok && stderr.contains("cannot impersonate resource \"users\""),
        "{stderr}"
    );

    // What an aggregated API server's identity needs: the reader Role for the one
    // ConfigMap (a get, or a list/watch selecting its name), system:auth-delegator for
    // the reviews.
    sim.store()
        .create(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "agg", "namespace": "kube-system"}}))
        .expect("service account");
    let token = sim
        .service_account_token("kube-system", "agg", &[], 3600)
        .expect("token");
    let agg = client_from(&sim.kubeconfig_with_token(&token)).await;
    let cms: Api<ConfigMap> = Api::namespaced(agg.clone(), "kube-system");
    let reviews: Api<TokenReview> = Api::all(agg);
    let by_name = ListParams::default().fields("metadata.name=extension-apiserver-authentication");
    let code = |r: Result<(), kube::Error>| match r {
        Ok(()) => 200,
        Err(kube::Error::Api(s)) => s.code,
        Err(other) => panic!("unexpected error: {other:?}"),
    };
    let probe = TokenReview {
        spec: TokenReviewSpec {
            token: Some(token.clone()),
            audiences: None,
        },
        ..TokenReview::default()
    };
    assert_eq!(
        code(
            cms.get("extension-apiserver-authentication")
                .await
                .map(|_| ())
        ),
        403
    );
    assert_eq!(
        code(
            reviews
                .create(&PostParams::default(), &probe)
                .await
                .map(|_| ())
        ),
        403
    );
    for (kind, name, role, namespace) in [
        (
            "RoleBinding",
            "agg-auth-reader",
            ("Role", "extension-apiserver-authentication-reader"),
            Some("kube-system"),
        ),
        (
            "ClusterRoleBinding",
            "agg:system:auth-delegator",
            ("ClusterRole", "system:auth-delegator"),
            None,
        ),
    ] {
        let mut binding = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role.0, "name": role.1},
            "subjects": [{"kind": "ServiceAccount", "name": "agg", "namespace": "kube-system"}],
        });
        if let Some(ns) = namespace {
            binding["metadata"]["namespace"] = json!(ns);
        }
        sim.store().create(binding).expect("binding");
    }
    assert_eq!(
        code(
            cms.get("extension-apiserver-authentication")
                .await
                .map(|_| ())
        ),
        200
    );
    assert_eq!(code(cms.list(&by_name).await.map(|_| ())), 200);
    let watch = WatchParams::default().fields("metadata.name=extension-apiserver-authentication");
    assert_eq!(code(cms.watch(&watch, "0").await.map(|_| ())), 200);
    assert_eq!(
        code(cms.list(&ListParams::default()).await.map(|_| ())),
        403
    );
    let answer = reviews
        .create(&PostParams::default(), &probe)
        .await
        .expect("token review");
    assert!(authenticated(&answer));
}

fn kubectl_rbac(minor: u32) {
    let sim = sim();
    let admin = Kubectl::new(minor, &sim.kubeconfig());
    let can = |args: &[&str]| -> String {
        let mut all = vec!["auth", "can-i"];
        all.extend_from_slice(args);
        // `can-i` exits 1 for "no".
        let (_, stdout, stderr) = admin.try_run(&all);
        assert!(stderr.is_empty() || stderr.contains("Warning"), "{stderr}");
        stdout.trim().to_owned()
    };
    assert_eq!(can(&["delete", "nodes", "--all-namespaces"]), "yes");
    assert_eq!(can(&["list", "pods", "--as", "alice"]), "no");
    admin.run(&[
        "create",
        "clusterrolebinding",
        "alice-view",
        "--clusterrole=view",
        "--user=alice",
    ]);
    assert_eq!(can(&["list", "pods", "--as", "alice"]), "yes");
    assert_eq!(can(&["get", "pods/log", "--as", "alice"]), "yes");
    assert_eq!(can(&["delete", "pods", "--as", "alice"]), "no");
    admin.run(&["create", "namespace", "team"]);
    admin.run(&[
        "create",
        "role",
        "one-config",
        "--verb=get",
        "--resource=configmaps",
        "--resource-name=settings",
        "-n",
        "team",
    ]);
    admin.run(&[
        "create",
        "rolebinding",
        "devs-config",
        "--role=one-config",
        "--group=devs",
        "-n",
        "team",
    ]);
    assert_eq!(
        can(&[
            "get",
            "configmaps/settings",
            "-n",
            "team",
            "--as",
            "bob",
            "--as-group",
            "devs"
        ]),
        "yes"
    );
    assert_eq!(
        can(&[
            "get",
            "configmaps/other",
            "-n",
            "team",
            "--as",
            "bob",
            "--as-group",
            "devs"
        ]),
        "no"
    );
    assert_eq!(
        can(&[
            "get",
            "configmaps/settings",
            "-n",
            "default",
            "--as",
            "bob",
            "--as-group",
            "devs"
        ]),
        "no"
    );
    admin.run(&["create", "serviceaccount", "ci", "-n", "team"]);
    admin.run(&[
        "create",
        "rolebinding",
        "ci-edit",
        "--clusterrole=edit",
        "--serviceaccount=team:ci",
        "-n",
        "team",
    ]);
    assert_eq!(
        can(&[
            "create",
            "deployments.apps",
            "-n",
            "team",
            "--as",
            "system:serviceaccount:team:ci"
        ]),
        "yes"
    );
    assert_eq!(
        can(&[
            "create",
            "deployments.apps",
            "-n",
            "default",
            "--as",
            "system:serviceaccount:team:ci"
        ]),
        "no"
    );

    // The service account's own token (TokenRequest), used directly: SelfSubjectAccessReview
    // and SelfSubjectRulesReview as that account.
    let token = admin.run(&["create", "token", "ci", "-n", "team"]);
    let ci = Kubectl::new(minor, &sim.kubeconfig_with_token(token.trim()));
    let (_, yes, _) = ci.try_run(&["auth", "can-i", "create", "deployments.apps", "-n", "team"]);
    assert_eq!(yes.trim(), "yes");
    let (_, no, _) = ci.try_run(&["auth", "can-i", "list", "nodes"]);
    assert_eq!(no.trim(), "no");
    let list = ci.run(&["auth", "can-i", "--list", "-n", "team"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with("deployments.apps ") && l.contains("create")),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.starts_with("selfsubjectaccessreviews.authorization.k8s.io")),
        "{list}"
    );
    if minor >= 28 {
        let whoami = ci.run(&["auth", "whoami", "-o", "json"]);
        let whoami: serde_json::Value = serde_json::from_str(&whoami).expect("json");
        assert_eq!(
            whoami["status"]["userInfo"]["username"],
            "system:serviceaccount:team:ci"
        );
    }
    // Deleting the account revokes its token.
    admin.run(&["delete", "serviceaccount", "ci", "-n", "team"]);
    let (ok, _, stderr) = ci.try_run(&["get", "--raw", "/api"]);
    assert!(!ok && stderr.contains("Unauthorized"), "{stderr}");
}

#[test]
fn kubectl_1_27_rbac_and_tokens() {
    kubectl_rbac(27);
}

#[test]
fn kubectl_1_33_rbac_and_tokens() {
    kubectl_rbac(33);
}

fn kubectl_discovery(minor: u32) {
    let sim = sim();
    let k = Kubectl::new(minor, &sim.kubeconfig());
    let names = k.run(&["api-resources", "-o", "name"]);
    for name in [
        "tokenreviews.authentication.k8s.io",
        "selfsubjectreviews.authentication.k8s.io",
        "subjectaccessreviews.authorization.k8s.io",
        "selfsubjectaccessreviews.authorization.k8s.io",
        "selfsubjectrulesreviews.authorization.k8s.io",
        "localsubjectaccessreviews.authorization.k8s.io",
        "apiservices.apiregistration.k8s.io",
    ] {
        assert!(names.lines().any(|l| l == name), "{name} missing:\n{names}");
    }
    let wide = k.run(&[
        "api-resources",
        "--api-group=authorization.k8s.io",
        "-o",
        "wide",
    ]);
    assert!(
        wide.lines()
            .skip(1)
            .all(|l| l.split_whitespace().any(|w| w == "create") && !l.contains("list")),
        "{wide}"
    );
    let versions = k.run(&["api-versions"]);
    for gv in [
        "authentication.k8s.io/v1",
        "authorization.k8s.io/v1",
        "autoscaling/v1",
        "autoscaling/v2",
    ] {
        assert!(
            versions.lines().any(|l| l == gv),
            "{gv} missing:\n{versions}"
        );
    }
    let sa = k.run(&["get", "--raw", "/api/v1"]);
    assert!(sa.contains("\"serviceaccounts/token\""), "{sa}");
    let table = k.run(&["get", "apiservices"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "SERVICE", "AVAILABLE", "AGE"]);
    let core: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("v1. "))
        .expect("v1.")
        .split_whitespace()
        .collect();
    assert_eq!(&core[..3], ["v1.", "Local", "True"]);
    k.run(&[
        "apply",
        "-f",
        &fixture("apiservice-external.yaml").display().to_string(),
    ]);
    let external = k.run(&["get", "apiservice", "v1beta1.clusterpedia.io"]);
    assert!(
        external.contains("clusterpedia-system/clusterpedia-apiserver   False (ServiceNotFound)"),
        "{external}"
    );
}

#[test]
fn kubectl_1_27_discovery_of_reviews_and_apiservices() {
    kubectl_discovery(27);
}

#[test]
fn kubectl_1_33_discovery_of_reviews_and_apiservices() {
    kubectl_discovery(33);
}
