//! The CRDs in the charts are what the Rust cluster types generate (`cargo xtask crds`):
//! the committed files must be fresh, and the check must catch a stale file.

use packaging_tests::{output, root};

fn xtask_crds(args: &[&str]) -> std::process::Output {
    output(
        pedia_testkit::workspace::cargo()
            .current_dir(root())
            .args(["run", "--quiet", "--locked", "-p", "xtask", "--", "crds"])
            .args(args),
    )
}

#[test]
fn committed_crds_match_the_rust_types() {
    let out = xtask_crds(&["--check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_check_catches_a_stale_or_missing_file_and_the_writer_fixes_it() {
    let tree = tempfile::tempdir().expect("dir");
    let crds = tree.path().join("charts/clusterpedia-core/crds");
    std::fs::create_dir_all(&crds).expect("mkdir");
    let from = root().join("charts/clusterpedia-core/crds");
    for entry in std::fs::read_dir(&from).expect("crds") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), crds.join(entry.file_name())).expect("copy");
    }
    let root_arg = tree.path().to_str().expect("utf-8");
    assert!(
        xtask_crds(&["--check", "--root", root_arg])
            .status
            .success()
    );

    let stale = crds.join("cluster.clusterpedia.io_pediaclusters.yaml");
    let text = std::fs::read_to_string(&stale).expect("read");
    std::fs::write(&stale, text.replace("shardingName", "shardName")).expect("write");
    std::fs::remove_file(crds.join("cluster.clusterpedia.io_clustersyncresources.yaml"))
        .expect("remove");
    let out = xtask_crds(&["--check", "--root", root_arg]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("cluster.clusterpedia.io_pediaclusters.yaml")
            && err.contains("cluster.clusterpedia.io_clustersyncresources.yaml")
            && err.contains("cargo xtask crds"),
        "{err}"
    );

    assert!(xtask_crds(&["--root", root_arg]).status.success());
    assert!(
        xtask_crds(&["--check", "--root", root_arg])
            .status
            .success()
    );
}
