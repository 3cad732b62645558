//! Writes with kube-apiserver's semantics: create (generateName, namespace checks, uid,
//! creationTimestamp, generation, defaults, status reset), update with optimistic
//! concurrency (stale resourceVersion → 409) and create-on-update, the `/status`
//! subresource, patches (applied to the current object, then written as an update),
//! deletion (finalizers hold an object with a `deletionTimestamp`; namespaces and CRDs
//! take their contents with them) and no-op detection (an unchanged object keeps its
//! resourceVersion and emits no event).

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{
    GroupResource, ObjKey, State, defaults, managed, now_rfc3339, parse, present, validate,
};
use crate::error::{FieldError, StatusError};
use crate::patch::{self, PatchType};
use crate::registry::{self, ResourceDef};
use crate::store::read::Selector;

/// Who writes and how.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// The field manager recorded in `managedFields`.
    pub manager: String,
    /// Validate and compute the result without storing it (`dryRun=All`).
    pub dry_run: bool,
    /// Through the HTTP API: kube's create strategies reset status there. In-process
    /// writes store status as given, like a controller writing both.
    pub(crate) api: bool,
    /// Updates without `metadata.resourceVersion` are allowed even for custom resources
    /// (patches are never conditional unless they carry one).
    pub(crate) unconditional: bool,
    /// Create with the `managedFields` given (the load generator computes them for the
    /// several managers a real object has been written by).
    pub(crate) keep_managed_fields: bool,
}

impl WriteOptions {
    /// In-process writes by `manager`.
    pub fn manager(manager: impl Into<String>) -> Self {
        Self {
            manager: manager.into(),
            dry_run: false,
            api: false,
            unconditional: false,
            keep_managed_fields: false,
        }
    }

    pub(crate) fn api(manager: impl Into<String>, dry_run: bool) -> Self {
        Self {
            manager: manager.into(),
            dry_run,
            api: true,
            unconditional: false,
            keep_managed_fields: false,
        }
    }

    pub(crate) fn system() -> Self {
        Self::manager("kube-apiserver")
    }
}

/// `DeleteOptions.preconditions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

fn meta_str<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn metadata(v: &mut Value) -> &mut Map<String, Value> {
    if !v.get("metadata").is_some_and(Value::is_object) {
        v["metadata"] = json!({});
    }
    match v.get_mut("metadata") {
        Some(Value::Object(m)) => m,
        // Just made an object.
        _ => unreachable!("metadata is an object"),
    }
}

/// Fields the server owns, kept from the stored object on every update.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
];

/// Whether anything but metadata and status differs (kube bumps `generation` then).
fn spec_changed(old: &Value, new: &Value) -> bool {
    let skip = |k: &str| matches!(k, "metadata" | "status" | "apiVersion" | "kind");
    let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else {
        return old != new;
    };
    o.iter()
        .filter(|(k, _)| !skip(k))
        .any(|(k, v)| n.get(k) != Some(v))
        || n.iter()
            .filter(|(k, _)| !skip(k))
            .any(|(k, _)| !o.contains_key(k))
}

/// Equal apart from resourceVersion and managedFields: such an update is a no-op.
fn same_object(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let meta_eq = |x: Option<&Value>, y: Option<&Value>| {
        let empty = Map::new();
        let x = x.and_then(Value::as_object).unwrap_or(&empty);
        let y = y.and_then(Value::as_object).unwrap_or(&empty);
        let relevant = |(k, _): &(&String, &Value)| {
            k.as_str() != "managedFields" && k.as_str() != "resourceVersion"
        };
        x.iter().filter(relevant).count() == y.iter().filter(relevant).count()
            && x.iter().filter(relevant).all(|(k, v)| y.get(k) == Some(v))
    };
    meta_eq(a.get("metadata"), b.get("metadata"))
        && a.iter().filter(|(k, _)| k.as_str() != "metadata").count()
            == b.iter().filter(|(k, _)| k.as_str() != "metadata").count()
        && a.iter()
            .filter(|(k, _)| k.as_str() != "metadata")
            .all(|(k, v)| b.get(k) == Some(v))
}

fn invalid(def: &ResourceDef, name: &str, errors: &[FieldError]) -> StatusError {
    StatusError::invalid(&def.group, &def.kind, name, errors)
}

fn crd_invalid(name: &str, errors: &[FieldError]) -> StatusError {
    StatusError::invalid(
        registry::CRD_GROUP,
        "CustomResourceDefinition",
        name,
        errors,
    )
}

impl State {
    /// Checks `kind`/`apiVersion` of a request body against the resource (setting them
    /// when absent) and normalizes apiVersion to the storage version.
    pub(crate) fn check_type(
        &self,
        def: &ResourceDef,
        version: &str,
        mut obj: Value,
    ) -> Result<Value, StatusError> {
        let Some(map) = obj.as_object_mut() else {
            return Err(StatusError::bad_request(
                "the body of the request is not a JSON object",
            ));
        };
        let expected = def.api_version(version);
        match map.get("apiVersion").and_then(Value::as_str) {
            None | Some("") => {}
            Some(av) => {
                let (group, v) = av.rsplit_once('/').unwrap_or(("", av));
                if group != def.group || !def.serves(v) {
                    return Err(StatusError::bad_request(format!(
                        "the API version in the data ({av}) does not match the expected API version ({expected})"
                    )));
                }
            }
        }
        match map.get("kind").and_then(Value::as_str) {
            None | Some("") => {}
            Some(kind) if kind == def.kind => {}
            Some(kind) => {
                return Err(StatusError::bad_request(format!(
                    "{} in version \"{version}\" cannot be handled as a {kind}: the kind of the object in the body does not match the resource",
                    def.kind
                )));
            }
        }
        map.insert("apiVersion".into(), json!(def.storage_api_version()));
        map.insert("kind".into(), json!(def.kind));
        Ok(obj)
    }

    /// kube's `EnsureObjectNamespaceMatchesRequestNamespace`: a namespace in the body must
    /// match the request's; cluster-scoped objects lose theirs. Returns the namespace.
    fn settle_namespace(
        def: &ResourceDef,
        request: Option<&str>,
        obj: &mut Value,
    ) -> Result<String, StatusError> {
        let meta = metadata(obj);
        if !def.namespaced {
            meta.remove("namespace");
            return Ok(String::new());
        }
        let in_body = meta
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let request = request.unwrap_or_default();
        let ns = match (in_body.as_str(), request) {
            (b, r) if b == r => b.to_owned(),
            ("", r) => r.to_owned(),
            (b, "") => b.to_owned(),
            _ => {
                return Err(StatusError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        };
        if ns.is_empty() {
            return Err(StatusError::bad_request(
                "the namespace of the provided object is empty",
            ));
        }
        meta.insert("namespace".into(), json!(ns));
        Ok(ns)
    }

    fn owner<'a>(
        def: &'a ResourceDef,
        api_version: &'a str,
        opts: &'a WriteOptions,
        time: &'a str,
        status: bool,
    ) -> managed::Owner<'a> {
        managed::Owner {
            manager: &opts.manager,
            subresource: status.then_some("status"),
            api_version,
            time,
            kind: &def.kind,
            custom: def.custom,
        }
    }

    /// The object as the client asked for it (custom resources in the requested version).
    fn answer(def: &ResourceDef, version: &str, mut obj: Value) -> Value {
        if version != def.storage_version {
            obj["apiVersion"] = json!(def.api_version(version));
        }
        obj
    }

    /// Creates an object (POST). `namespace` is the request's.
    pub(crate) fn create(
        &mut self,
        def: &Arc<ResourceDef>,
        version: &str,
        namespace: Option<&str>,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, StatusError> {
        let mut obj = self.check_type(def, version, obj)?;
        let ns = Self::settle_namespace(def, namespace, &mut obj)?;
        if def.namespaced && !self.namespace_exists(&ns) {
            return Err(StatusError::not_found(
                crate::error::Subject {
                    group: "",
                    resource: "namespaces",
                },
                &ns,
            ));
        }
        let gr = GroupResource::of(def);
        let now = now_rfc3339();
        {
            let rng = &mut self.rng;
            let meta = metadata(&mut obj);
            let mut name = meta
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let prefix = meta
                .get("generateName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if name.is_empty() && !prefix.is_empty() {
                // kube keeps the prefix short enough for the 5-character suffix.
                let prefix: String = prefix.chars().take(58).collect();
                loop {
                    name = format!("{prefix}{}", rng.name_suffix(5));
                    let exists = self
                        .tables
                        .get(&gr)
                        .is_some_and(|t| t.objects.contains_key(&ObjKey::new(&ns, &name)));
                    if !exists {
                        break;
                    }
                }
                meta.insert("name".into(), json!(name));
            }
            if meta
                .get("resourceVersion")
                .and_then(Value::as_str)
                .is_some_and(|rv| !rv.is_empty())
                && opts.api
            {
                return Err(StatusError::internal(
                    "resourceVersion should not be set on objects to be created",
                ));
            }
            for k in [
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
            ] {
                meta.remove(k);
            }
            if !opts.keep_managed_fields {
                meta.remove("managedFields");
            }
            meta.insert("uid".into(), json!(rng.uuid()));
            // In-process writers (the load generator) may backdate objects.
            let given = meta.get("creationTimestamp").is_some_and(Value::is_string);
            if opts.api || !given {
                meta.insert("creationTimestamp".into(), json!(now));
            }
        }
        defaults::apply(&def.group, &def.kind, &mut obj, &mut self.rng);
        let name = meta_str(&obj, "name").to_owned();
        let mut errors = validate::object_meta(&obj, def.name_rule);
        errors.extend(validate::kind_specific(&def.group, &def.kind, &obj));
        if !errors.is_empty() {
            return Err(invalid(def, &name, &errors));
        }
        let key = ObjKey::new(&ns, &name);
        if self.object(&gr, &key).is_some() {
            return Err(StatusError::already_exists(def.subject(), &name));
        }
        if opts.api && def.status_subresource {
            let fresh = match (def.group.as_str(), def.kind.as_str()) {
                ("", "Pod") => Some(defaults::new_pod_status(&obj)),
                _ => None,
            };
            if let Some(map) = obj.as_object_mut() {
                match fresh {
                    Some(s) => {
                        map.insert("status".into(), s);
                    }
                    None => {
                        map.remove("status");
                    }
                }
            }
        }
        if def.is_namespace() && obj.pointer("/status/phase").is_none() {
            obj["status"] = json!({"phase": "Active"});
        }
        if def.custom || obj.get("spec").is_some() {
            metadata(&mut obj).insert("generation".into(), json!(1));
        } else {
            metadata(&mut obj).remove("generation");
        }
        let crd = if def.is_crd() {
            let d = registry::crd_definition(&obj, &self.registry)
                .map_err(|e| crd_invalid(&name, &e))?;
            obj["status"] = registry::crd_status(&d, &now, None);
            Some(d)
        } else {
            None
        };
        let api_version = def.api_version(version);
        if !(opts.keep_managed_fields && obj.pointer("/metadata/managedFields").is_some()) {
            managed::on_create(&mut obj, &Self::owner(def, &api_version, opts, &now, false));
        }
        if opts.dry_run {
            return Ok(Self::answer(def, version, obj));
        }
        self.put(&gr, key, &mut obj);
        if let Some(d) = crd {
            self.registry.install(d);
            self.dirty.registry = true;
        }
        Ok(Self::answer(def, version, obj))
    }

    /// Replaces an object (PUT), or its status (`status`). Returns the object and whether
    /// it was created (create-on-update).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn update(
        &mut self,
        def: &Arc<ResourceDef>,
        version: &str,
        namespace: Option<&str>,
        name: &str,
        obj: Value,
        status: bool,
        opts: &WriteOptions,
    ) -> Result<(Value, bool), StatusError> {
        let mut obj = self.check_type(def, version, obj)?;
        let ns = Self::settle_namespace(def, namespace, &mut obj)?;
        let body_name = meta_str(&obj, "name");
        if body_name != name {
            return Err(StatusError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let gr = GroupResource::of(def);
        let key = ObjKey::new(&ns, name);
        let body_rv = meta_str(&obj, "resourceVersion").to_owned();
        let Some(current) = self.object(&gr, &key).cloned() else {
            if def.create_on_update && !status {
                if !body_rv.is_empty() {
                    return Err(StatusError::conflict(
                        def.subject(),
                        name,
                        StatusError::MODIFIED,
                    ));
                }
                return self
                    .create(def, version, Some(&ns), obj, opts)
                    .map(|v| (v, true));
            }
            return Err(StatusError::not_found(def.subject(), name));
        };
        let current = parse(&current)?;
        if body_rv.is_empty() {
            if !def.unconditional_update && !opts.unconditional {
                return Err(invalid(
                    def,
                    name,
                    &[FieldError::invalid_raw(
                        "metadata.resourceVersion",
                        "0x0",
                        "must be specified for an update",
                    )],
                ));
            }
        } else if Some(body_rv.as_str())
            != current
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
        {
            return Err(StatusError::conflict(
                def.subject(),
                name,
                StatusError::MODIFIED,
            ));
        }
        let body_uid = meta_str(&obj, "uid");
        let current_uid = meta_str(&current, "uid");
        if !body_uid.is_empty() && body_uid != current_uid {
            return Err(StatusError::conflict(
                def.subject(),
                name,
                &format!(
                    "Precondition failed: UID in precondition: {body_uid}, UID in object meta: {current_uid}"
                ),
            ));
        }
        let new = if status {
            let mut new = current.clone();
            match obj.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            new
        } else {
            let mut new = obj;
            let meta = metadata(&mut new);
            for k in SERVER_METADATA {
                match current.get("metadata").and_then(|m| m.get(*k)) {
                    Some(v) => meta.insert((*k).to_owned(), v.clone()),
                    None => meta.remove(*k),
                };
            }
            if def.status_subresource
                && let Some(m) = new.as_object_mut()
            {
                match current.get("status") {
                    Some(s) => m.insert("status".into(), s.clone()),
                    None => m.remove("status"),
                };
            }
            new
        };
        self.finish_update(def, version, &gr, key, current, new, status, opts)
            .map(|v| (v, false))
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_update(
        &mut self,
        def: &Arc<ResourceDef>,
        version: &str,
        gr: &GroupResource,
        key: ObjKey,
        current: Value,
        mut new: Value,
        status: bool,
        opts: &WriteOptions,
    ) -> Result<Value, StatusError> {
        let now = now_rfc3339();
        defaults::apply(&def.group, &def.kind, &mut new, &mut self.rng);
        let mut errors = validate::object_meta(&new, def.name_rule);
        errors.extend(validate::kind_specific(&def.group, &def.kind, &new));
        if !errors.is_empty() {
            return Err(invalid(def, &key.name, &errors));
        }
        if spec_changed(&current, &new)
            && let Some(g) = current
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
        {
            metadata(&mut new).insert("generation".into(), json!(g + 1));
        }
        let crd = if def.is_crd() {
            let d = registry::crd_definition(&new, &self.registry)
                .map_err(|e| crd_invalid(&key.name, &e))?;
            new["status"] = registry::crd_status(&d, &now, current.get("status"));
            Some(d)
        } else {
            None
        };
        if same_object(&current, &new) {
            return Ok(Self::answer(def, version, current));
        }
        let api_version = def.api_version(version);
        managed::on_update(
            &current,
            &mut new,
            &Self::owner(def, &api_version, opts, &now, status),
        );
        if opts.dry_run {
            return Ok(Self::answer(def, version, new));
        }
        let finalizers_done = new.pointer("/metadata/deletionTimestamp").is_some()
            && new
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
        if finalizers_done {
            // The last finalizer is gone from an object being deleted: kube does not store
            // the update but deletes the object (watchers see only `DELETED`).
            let last = self.remove(gr, &key).unwrap_or(new);
            self.cascade(def, &last);
            return Ok(Self::answer(def, version, last));
        }
        self.put(gr, key, &mut new);
        if let Some(d) = crd {
            self.registry.install(d);
            self.dirty.registry = true;
        }
        Ok(Self::answer(def, version, new))
    }

    /// Patches an object (or its status) and writes the result as an update.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn patch(
        &mut self,
        def: &Arc<ResourceDef>,
        version: &str,
        namespace: Option<&str>,
        name: &str,
        patch_type: PatchType,
        body: &[u8],
        status: bool,
        opts: &WriteOptions,
    ) -> Result<Value, StatusError> {
        let gr = GroupResource::of(def);
        let key = ObjKey::new(
            if def.namespaced {
                namespace.unwrap_or_default()
            } else {
                ""
            },
            name,
        );
        let Some(raw) = self.object(&gr, &key) else {
            return Err(StatusError::not_found(def.subject(), name));
        };
        let current = parse(&present(def, version, raw))?;
        let patched = patch::apply(&def.kind, def.custom, &current, patch_type, body)?;
        let opts = WriteOptions {
            unconditional: true,
            ..opts.clone()
        };
        self.update(def, version, namespace, name, patched, status, &opts)
            .map(|(v, _)| v)
    }

    /// Deletes an object. With finalizers it only gets a `deletionTimestamp`; it goes
    /// when the last finalizer is removed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn delete(
        &mut self,
        def: &Arc<ResourceDef>,
        version: &str,
        namespace: Option<&str>,
        name: &str,
        preconditions: &Preconditions,
        opts: &WriteOptions,
    ) -> Result<Value, StatusError> {
        let gr = GroupResource::of(def);
        let key = ObjKey::new(
            if def.namespaced {
                namespace.unwrap_or_default()
            } else {
                ""
            },
            name,
        );
        let Some(raw) = self.object(&gr, &key) else {
            return Err(StatusError::not_found(def.subject(), name));
        };
        let current = parse(raw)?;
        if let Some(uid) = &preconditions.uid
            && uid != meta_str(&current, "uid")
        {
            return Err(StatusError::conflict(
                def.subject(),
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta_str(&current, "uid")
                ),
            ));
        }
        if let Some(rv) = &preconditions.resource_version
            && rv != meta_str(&current, "resourceVersion")
        {
            return Err(StatusError::conflict(
                def.subject(),
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    meta_str(&current, "resourceVersion")
                ),
            ));
        }
        let has_finalizers = current
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if has_finalizers {
            if current.pointer("/metadata/deletionTimestamp").is_some() {
                return Ok(Self::answer(def, version, current));
            }
            let mut new = current.clone();
            let meta = metadata(&mut new);
            meta.insert("deletionTimestamp".into(), json!(now_rfc3339()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            if let Some(g) = meta.get("generation").and_then(Value::as_i64) {
                meta.insert("generation".into(), json!(g + 1));
            }
            if !opts.dry_run {
                self.put(&gr, key, &mut new);
            }
            return Ok(Self::answer(def, version, new));
        }
        if opts.dry_run {
            return Ok(Self::answer(def, version, current));
        }
        let last = self.remove(&gr, &key).unwrap_or(current);
        self.cascade(def, &last);
        Ok(Self::answer(def, version, last))
    }

    /// What goes with a deleted object: a namespace's contents, a CRD's custom resources
    /// (immediately; kube's namespace and CRD finalizers take a moment).
    fn cascade(&mut self, def: &ResourceDef, deleted: &Value) {
        if def.is_namespace() {
            let ns = meta_str(deleted, "name").to_owned();
            for gr in self.namespaced_tables() {
                for key in self.keys(&gr, Some(&ns)) {
                    self.remove(&gr, &key);
                }
            }
        } else if def.is_crd() {
            let group = deleted
                .pointer("/spec/group")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let plural = deleted
                .pointer("/spec/names/plural")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let gr = GroupResource {
                group,
                resource: plural,
            };
            for key in self.keys(&gr, None) {
                self.remove(&gr, &key);
            }
            self.drop_table(&gr);
            self.registry.uninstall(&gr.group, &gr.resource);
            self.dirty.registry = true;
        }
    }

    /// Deletes every object of `def` (in `namespace`) the selector matches.
    pub(crate) fn delete_collection(
        &mut self,
        def: &Arc<ResourceDef>,
        version: &str,
        namespace: Option<&str>,
        selector: &Selector,
        opts: &WriteOptions,
    ) -> Result<Vec<Value>, StatusError> {
        let gr = GroupResource::of(def);
        let keys: Vec<ObjKey> = self
            .keys(&gr, namespace)
            .into_iter()
            .filter(|k| {
                self.object(&gr, k)
                    .is_some_and(|raw| selector.matches(k, raw))
            })
            .collect();
        let mut deleted = Vec::with_capacity(keys.len());
        for key in keys {
            let ns = (!key.namespace.is_empty()).then_some(key.namespace.as_str());
            deleted.push(self.delete(
                def,
                version,
                ns,
                &key.name,
                &Preconditions::default(),
                opts,
            )?);
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn pods(store: &Store) -> Arc<ResourceDef> {
        store
            .read()
            .registry
            .resolve("", "v1", "pods")
            .expect("pods")
    }

    fn pod(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "a"}},
               "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}})
    }

    #[test]
    fn create_fills_bookkeeping() {
        let store = Store::new(100);
        let def = pods(&store);
        let before = store.revision();
        let created = store
            .write(|s| {
                s.create(
                    &def,
                    "v1",
                    Some("default"),
                    pod("a"),
                    &WriteOptions::api("kubectl", false),
                )
            })
            .expect("created");
        assert_eq!(
            created["metadata"]["resourceVersion"],
            (before + 1).to_string()
        );
        assert_eq!(created["metadata"]["namespace"], "default");
        assert_eq!(created["metadata"]["uid"].as_str().map(str::len), Some(36));
        assert_eq!(created["metadata"]["generation"], 1);
        assert_eq!(created["status"]["phase"], "Pending");
        assert_eq!(
            created["metadata"]["managedFields"][0]["manager"],
            "kubectl"
        );
        assert_eq!(created["spec"]["restartPolicy"], "Always");

        let again = store.write(|s| {
            s.create(
                &def,
                "v1",
                Some("default"),
                pod("a"),
                &WriteOptions::api("kubectl", false),
            )
        });
        assert_eq!(again.expect_err("exists").reason, "AlreadyExists");
        let missing_ns = store.write(|s| {
            s.create(
                &def,
                "v1",
                Some("nope"),
                pod("b"),
                &WriteOptions::api("k", false),
            )
        });
        assert_eq!(
            missing_ns.expect_err("404").message,
            "namespaces \"nope\" not found"
        );
        let bad = store.write(|s| {
            s.create(
                &def,
                "v1",
                Some("default"),
                pod("Bad_Name"),
                &WriteOptions::api("k", false),
            )
        });
        assert_eq!(bad.expect_err("422").code, 422);
        let mut mismatched = pod("c");
        mismatched["metadata"]["namespace"] = json!("kube-system");
        let err = store
            .write(|s| {
                s.create(
                    &def,
                    "v1",
                    Some("default"),
                    mismatched,
                    &WriteOptions::api("k", false),
                )
            })
            .expect_err("400");
        assert_eq!(err.code, 400);
    }

    #[test]
    fn generate_name() {
        let store = Store::new(100);
        let def = pods(&store);
        let mut p = pod("");
        p["metadata"]["generateName"] = json!("web-");
        let created = store
            .write(|s| s.create(&def, "v1", Some("default"), p, &WriteOptions::system()))
            .expect("created");
        let name = created["metadata"]["name"].as_str().expect("name");
        assert!(name.starts_with("web-") && name.len() == 9, "{name}");
    }

    #[test]
    fn update_is_optimistic() {
        let store = Store::new(100);
        let def = pods(&store);
        let opts = WriteOptions::api("kubectl", false);
        let created = store
            .write(|s| s.create(&def, "v1", Some("default"), pod("a"), &opts))
            .expect("created");
        let mut changed = created.clone();
        changed["spec"]["containers"][0]["image"] = json!("nginx:2");
        let (updated, created_now) = store
            .write(|s| {
                s.update(
                    &def,
                    "v1",
                    Some("default"),
                    "a",
                    changed.clone(),
                    false,
                    &opts,
                )
            })
            .expect("updated");
        assert!(!created_now);
        assert_eq!(updated["metadata"]["generation"], 2);
        assert_ne!(
            updated["metadata"]["resourceVersion"],
            created["metadata"]["resourceVersion"]
        );
        // The same body again carries a stale resourceVersion.
        let stale =
            store.write(|s| s.update(&def, "v1", Some("default"), "a", changed, false, &opts));
        let err = stale.expect_err("conflict");
        assert_eq!(err.code, 409);
        assert_eq!(
            err.message,
            "Operation cannot be fulfilled on pods \"a\": the object has been modified; please apply your changes to the latest version and try again"
        );
        // A no-op update keeps the resourceVersion.
        let rv = store.revision();
        let (same, _) = store
            .write(|s| {
                s.update(
                    &def,
                    "v1",
                    Some("default"),
                    "a",
                    updated.clone(),
                    false,
                    &opts,
                )
            })
            .expect("no-op");
        assert_eq!(
            same["metadata"]["resourceVersion"],
            updated["metadata"]["resourceVersion"]
        );
        assert_eq!(store.revision(), rv);
    }

    #[test]
    fn status_subresource_separates_spec_and_status() {
        let store = Store::new(100);
        let def = pods(&store);
        let opts = WriteOptions::api("kubelet", false);
        let created = store
            .write(|s| s.create(&def, "v1", Some("default"), pod("a"), &opts))
            .expect("created");
        let mut body = created.clone();
        body["status"] = json!({"phase": "Running"});
        body["spec"]["containers"][0]["image"] = json!("ignored:1");
        let (updated, _) = store
            .write(|s| s.update(&def, "v1", Some("default"), "a", body.clone(), true, &opts))
            .expect("status");
        assert_eq!(updated["status"]["phase"], "Running");
        assert_eq!(updated["spec"]["containers"][0]["image"], "nginx:1");
        assert_eq!(
            updated["metadata"]["managedFields"][1]["subresource"],
            "status"
        );
        // Through the main resource, status changes are ignored.
        let mut main = updated.clone();
        main["status"] = json!({"phase": "Failed"});
        main["metadata"]["labels"]["x"] = json!("y");
        let (after, _) = store
            .write(|s| s.update(&def, "v1", Some("default"), "a", main, false, &opts))
            .expect("update");
        assert_eq!(after["status"]["phase"], "Running");
        assert_eq!(after["metadata"]["labels"]["x"], "y");
    }

    #[test]
    fn finalizers_hold_deletion() {
        let store = Store::new(100);
        let def = store
            .read()
            .registry
            .resolve("", "v1", "configmaps")
            .expect("cm");
        let opts = WriteOptions::api("k", false);
        let cm = json!({"metadata": {"name": "c", "finalizers": ["example.com/hold"]}, "data": {"a": "b"}});
        store
            .write(|s| s.create(&def, "v1", Some("default"), cm, &opts))
            .expect("created");
        let deleting = store
            .write(|s| {
                s.delete(
                    &def,
                    "v1",
                    Some("default"),
                    "c",
                    &Preconditions::default(),
                    &opts,
                )
            })
            .expect("marked");
        assert!(deleting["metadata"]["deletionTimestamp"].is_string());
        let patch = br#"{"metadata":{"finalizers":null}}"#;
        store
            .write(|s| {
                s.patch(
                    &def,
                    "v1",
                    Some("default"),
                    "c",
                    PatchType::Merge,
                    patch,
                    false,
                    &opts,
                )
            })
            .expect("patched");
        let gone = store
            .read()
            .object(&GroupResource::of(&def), &ObjKey::new("default", "c"))
            .is_none();
        assert!(gone);
    }

    #[test]
    fn deleting_a_namespace_deletes_its_objects() {
        let store = Store::new(100);
        let def = pods(&store);
        let ns = store
            .read()
            .registry
            .resolve("", "v1", "namespaces")
            .expect("ns");
        let opts = WriteOptions::api("k", false);
        store
            .write(|s| {
                s.create(
                    &ns,
                    "v1",
                    None,
                    json!({"metadata": {"name": "team"}}),
                    &opts,
                )
            })
            .expect("ns");
        store
            .write(|s| s.create(&def, "v1", Some("team"), pod("a"), &opts))
            .expect("pod");
        store
            .write(|s| s.delete(&ns, "v1", None, "team", &Preconditions::default(), &opts))
            .expect("deleted");
        assert_eq!(
            store
                .read()
                .keys(&GroupResource::of(&def), Some("team"))
                .len(),
            0
        );
    }
}
