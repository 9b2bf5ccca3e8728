//! The test server against a raw HTTP client (`protocol`) and against kube-rs itself
//! (`kube_rs`), in one test binary.

mod kube_rs;
mod protocol;
mod raw;

use serde_json::{json, Value};
use std::path::PathBuf;

/// A fixture from `shared/fixtures/k8s`, which lies beside the repository.
pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/k8s").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// A minimal Pod.
pub fn pod(namespace: &str, name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {"containers": [{"name": "main", "image": image}]},
    })
}
