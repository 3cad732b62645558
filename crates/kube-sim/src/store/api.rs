//! The in-process client: kubectl-like methods on [`Store`] for tests and tools that
//! manipulate the simulated cluster directly. Objects are JSON values; resources are named
//! as kubectl names them (`pods`, `deploy`, `deployments.apps`, `widgets.example.com`).
//! Every write gets the same bookkeeping, validation, events and resourceVersions as a
//! write through HTTP, with field manager `kube-sim`; the difference is that `create`
//! stores `status` as given (kube's create strategies reset it for HTTP clients).

use std::sync::Arc;

use serde_json::Value;

use super::read::{ListRequest, ReadAt, Selector};
use super::write::Preconditions;
use super::{Store, WriteOptions, parse};
use crate::error::StatusError;
use crate::patch::PatchType;
use crate::registry::ResourceDef;

/// The field manager of in-process writes.
pub const MANAGER: &str = "kube-sim";

fn unknown(what: &str) -> StatusError {
    StatusError::new(
        404,
        "NotFound",
        format!("the server doesn't have a resource type \"{what}\""),
    )
}

impl Store {
    /// The resource kubectl would resolve `name` to.
    pub fn resource(&self, name: &str) -> Option<ResourceDef> {
        self.read().registry.by_name(name).map(|d| (*d).clone())
    }

    fn def(&self, name: &str) -> Result<Arc<ResourceDef>, StatusError> {
        self.read()
            .registry
            .by_name(name)
            .ok_or_else(|| unknown(name))
    }

    /// The resource of an object, from its `apiVersion` and `kind`, and the version.
    fn def_of(&self, object: &Value) -> Result<(Arc<ResourceDef>, String), StatusError> {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let def = self
            .read()
            .registry
            .by_kind(api_version, kind)
            .ok_or_else(|| unknown(&format!("{kind} in {api_version}")))?;
        let version = api_version
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        Ok((def, version))
    }

    fn namespace_of(def: &ResourceDef, object: &Value) -> Option<String> {
        def.namespaced.then(|| {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or("default")
                .to_owned()
        })
    }

    fn opts() -> WriteOptions {
        WriteOptions::manager(MANAGER)
    }

    /// Creates an object (its resource from `apiVersion` and `kind`; namespaced objects
    /// without a namespace go to `default`). Returns it as stored.
    pub fn create(&self, object: Value) -> Result<Value, StatusError> {
        self.create_with(object, &Self::opts())
    }

    /// [`create`](Self::create) with explicit write options (field manager, dry run).
    pub fn create_with(&self, object: Value, opts: &WriteOptions) -> Result<Value, StatusError> {
        let (def, version) = self.def_of(&object)?;
        let ns = Self::namespace_of(&def, &object);
        self.write(|s| s.create(&def, &version, ns.as_deref(), object, opts))
    }

    /// The object `name` of `resource` (in `namespace`).
    pub fn get(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, StatusError> {
        let def = self.def(resource)?;
        let key = super::ObjKey::new(
            if def.namespaced {
                namespace.unwrap_or("default")
            } else {
                ""
            },
            name,
        );
        let state = self.read();
        let raw = state
            .object(&super::GroupResource::of(&def), &key)
            .ok_or_else(|| StatusError::not_found(def.subject(), name))?;
        parse(raw)
    }

    /// Every object of `resource` (in `namespace`, or all namespaces), in key order.
    pub fn list(&self, resource: &str, namespace: Option<&str>) -> Result<Vec<Value>, StatusError> {
        self.list_selected(resource, namespace, "")
    }

    /// The objects of `resource` matching a label selector (`app=web,tier!=db`).
    pub fn list_selected(
        &self,
        resource: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<Value>, StatusError> {
        let def = self.def(resource)?;
        let selector = Selector::parse(&def, Some(label_selector), None)?;
        let page = self.read().list(
            &def,
            &ListRequest {
                namespace,
                selector: &selector,
                limit: None,
                continue_token: None,
                read_at: ReadAt::Latest,
            },
        )?;
        page.items.iter().map(|raw| parse(raw)).collect()
    }

    /// How many objects `resource` has (all namespaces).
    pub fn count(&self, resource: &str) -> Result<usize, StatusError> {
        let def = self.def(resource)?;
        Ok(self.read().len(&super::GroupResource::of(&def)))
    }

    /// Replaces an object (PUT semantics: a stale `metadata.resourceVersion` is a 409;
    /// status changes are ignored for resources with a status subresource).
    pub fn update(&self, object: Value) -> Result<Value, StatusError> {
        self.replace(object, false, &Self::opts())
    }

    /// Replaces an object's status (PUT on `/status`).
    pub fn update_status(&self, object: Value) -> Result<Value, StatusError> {
        self.replace(object, true, &Self::opts())
    }

    /// [`update`](Self::update) with explicit write options.
    pub fn update_with(&self, object: Value, opts: &WriteOptions) -> Result<Value, StatusError> {
        self.replace(object, false, opts)
    }

    /// [`update_status`](Self::update_status) with explicit write options.
    pub fn update_status_with(
        &self,
        object: Value,
        opts: &WriteOptions,
    ) -> Result<Value, StatusError> {
        self.replace(object, true, opts)
    }

    fn replace(
        &self,
        object: Value,
        status: bool,
        opts: &WriteOptions,
    ) -> Result<Value, StatusError> {
        let (def, version) = self.def_of(&object)?;
        let ns = Self::namespace_of(&def, &object);
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.write(|s| s.update(&def, &version, ns.as_deref(), &name, object, status, opts))
            .map(|(v, _)| v)
    }

    /// Patches an object.
    pub fn patch(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        patch_type: PatchType,
        patch: &Value,
    ) -> Result<Value, StatusError> {
        self.patch_with(
            resource,
            namespace,
            name,
            patch_type,
            patch,
            false,
            &Self::opts(),
        )
    }

    /// Patches an object's status.
    pub fn patch_status(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        patch_type: PatchType,
        patch: &Value,
    ) -> Result<Value, StatusError> {
        self.patch_with(
            resource,
            namespace,
            name,
            patch_type,
            patch,
            true,
            &Self::opts(),
        )
    }

    /// [`patch`](Self::patch) with explicit write options; `status` patches `/status`.
    #[allow(clippy::too_many_arguments)]
    pub fn patch_with(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        patch_type: PatchType,
        patch: &Value,
        status: bool,
        opts: &WriteOptions,
    ) -> Result<Value, StatusError> {
        let def = self.def(resource)?;
        let version = def.storage_version.clone();
        let body =
            serde_json::to_vec(patch).map_err(|e| StatusError::bad_request(e.to_string()))?;
        let ns = def.namespaced.then(|| namespace.unwrap_or("default"));
        self.write(|s| s.patch(&def, &version, ns, name, patch_type, &body, status, opts))
    }

    /// Deletes an object (objects with finalizers only get a `deletionTimestamp`).
    pub fn delete(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, StatusError> {
        let def = self.def(resource)?;
        let version = def.storage_version.clone();
        let ns = def.namespaced.then(|| namespace.unwrap_or("default"));
        self.write(|s| {
            s.delete(
                &def,
                &version,
                ns,
                name,
                &Preconditions::default(),
                &Self::opts(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kubectl_like_round_trip() {
        let store = Store::new(100);
        let created = store
            .create(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"k": "v"}}))
            .expect("created");
        assert_eq!(created["metadata"]["namespace"], "default");
        assert_eq!(store.get("cm", None, "a").expect("get")["data"]["k"], "v");
        assert_eq!(
            store
                .list_selected("configmaps", None, "x=1")
                .expect("list")
                .len(),
            1
        );
        assert_eq!(
            store
                .list_selected("configmaps", None, "x=2")
                .expect("list")
                .len(),
            0
        );
        let patched = store
            .patch(
                "configmaps",
                Some("default"),
                "a",
                PatchType::Merge,
                &json!({"data": {"k": "w"}}),
            )
            .expect("patched");
        assert_eq!(patched["data"]["k"], "w");
        let mut stale = created.clone();
        stale["data"]["k"] = json!("z");
        assert_eq!(store.update(stale).expect_err("stale").code, 409);
        store.delete("configmaps", None, "a").expect("deleted");
        assert_eq!(
            store.get("configmaps", None, "a").expect_err("gone").code,
            404
        );
        assert_eq!(store.count("ns").expect("count"), 4);
        assert_eq!(
            store.get("nosuch", None, "a").expect_err("unknown").code,
            404
        );
    }
}
