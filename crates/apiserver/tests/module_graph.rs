//! The apiserver's modules form no cycle and nothing depends on the router (`app`): shared
//! state and helpers live in leaf modules (`state`, `respond`, `error`), so handlers can be
//! read and changed without the router. Read from the sources' `crate::` paths.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Module name -> the crate modules its source names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("src") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_owned();
        if path.extension().is_none_or(|e| e != "rs") || name == "lib" || name == "main" {
            continue;
        }
        modules.insert(name, std::fs::read_to_string(&path).expect("read"));
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(name, text)| {
            let mut deps = BTreeSet::new();
            for (i, _) in text.match_indices("crate::") {
                let rest = &text[i + "crate::".len()..];
                // `crate::a` or `crate::{a, b::c}`.
                let list = match rest.strip_prefix('{') {
                    Some(inner) => &inner[..inner.find('}').unwrap_or(inner.len())],
                    None => rest,
                };
                for item in list.split(',') {
                    let module: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if names.contains(&module) && module != *name {
                        deps.insert(module);
                    }
                    if rest.starts_with('{') {
                        continue;
                    }
                    break;
                }
            }
            (name.clone(), deps)
        })
        .collect()
}

#[test]
fn modules_form_no_cycle_and_only_the_crate_root_uses_app() {
    let graph = graph();
    assert!(
        graph.contains_key("scope") && graph.contains_key("app"),
        "{graph:?}"
    );
    for (module, deps) in &graph {
        assert!(
            !deps.contains("app"),
            "{module} depends on the router: {deps:?}"
        );
    }
    for leaf in ["state", "respond", "error"] {
        let deps = &graph[leaf];
        for handler in ["resources", "collections", "scope", "read"] {
            assert!(!deps.contains(handler), "{leaf} depends on {handler}");
        }
    }
    // Depth-first search for a back edge.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if done.contains(node) {
            return;
        }
        assert!(!path.contains(&node), "module cycle: {path:?} -> {node}");
        path.push(node);
        for dep in &graph[node] {
            visit(dep, graph, path, done);
        }
        path.pop();
        done.insert(node);
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        visit(module, &graph, &mut Vec::new(), &mut done);
    }
}
