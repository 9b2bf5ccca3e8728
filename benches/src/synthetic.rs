//! A large synthetic cluster made of real objects: the k3s snapshot's namespaced objects
//! copied into many renamed namespaces, beside one copy of its cluster-wide objects (Nodes,
//! ClusterRoles, CRDs, …), so that every reference the rules follow still resolves the way it
//! does in the snapshot.

use serde_json::Value;
use std::path::PathBuf;

/// The k3s snapshot of `../shared/fixtures/k8s`, as the tests read it.
pub fn k3s_snapshot() -> Vec<Value> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/k8s/k3s-troubleshoot-real-snapshot.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let list: Value = serde_json::from_str(&text).expect("the k3s snapshot is JSON");
    list["items"].as_array().expect("a List").clone()
}

/// At least `target` objects: the cluster-wide objects of `snapshot` once, then copies
/// `1, 2, …` of its namespaced objects and Namespaces, with `-N` appended to every namespace,
/// Namespace name and uid (owner references, Event subjects and endpoint targets included).
pub fn cluster_of(snapshot: &[Value], target: usize) -> Vec<Value> {
    let (namespaced, cluster_wide): (Vec<&Value>, Vec<&Value>) =
        snapshot.iter().partition(|o| o.pointer("/metadata/namespace").is_some() || o["kind"] == "Namespace");
    assert!(!namespaced.is_empty(), "the snapshot has namespaced objects");
    let mut objects: Vec<Value> = cluster_wide.into_iter().cloned().collect();
    let mut copy = 0;
    while objects.len() < target {
        copy += 1;
        objects.extend(namespaced.iter().map(|o| renamed(o, copy)));
    }
    objects
}

fn renamed(object: &Value, copy: usize) -> Value {
    let mut object = with_uids_suffixed(object, &copy.to_string());
    let suffix = |value: &mut Value| {
        if let Some(text) = value.as_str() {
            *value = format!("{text}-{copy}").into();
        }
    };
    suffix(&mut object["metadata"]["namespace"]);
    if object["kind"] == "Namespace" {
        suffix(&mut object["metadata"]["name"]);
    }
    if let Some(subject) = object.get_mut("involvedObject") {
        suffix(&mut subject["namespace"]);
    }
    object
}

/// `object` with `-suffix` appended to every `uid` in it: its own, its owners', its Event
/// subject's, its endpoints' targets'. Copies of one object made this way are different
/// objects to the API server, as in a real fleet, where no two objects share a uid.
pub fn with_uids_suffixed(object: &Value, suffix: &str) -> Value {
    match object {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| match (name.as_str(), value) {
                    ("uid", Value::String(uid)) => (name.clone(), Value::String(format!("{uid}-{suffix}"))),
                    _ => (name.clone(), with_uids_suffixed(value, suffix)),
                })
                .collect(),
        ),
        Value::Array(values) => Value::Array(values.iter().map(|v| with_uids_suffixed(v, suffix)).collect()),
        other => other.clone(),
    }
}
