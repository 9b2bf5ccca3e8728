//! Kubernetes documents for a fleet, written from its edges the way the built-in rules read
//! them: owner references, namespaces, a Pod's node, volumes, ServiceAccount and
//! PriorityClass, Service, PodDisruptionBudget and NetworkPolicy selectors (with the Pods'
//! labels they select), EndpointSlice targets, Ingress backends, a claim's volume.
//!
//! An import with the rules then finds in the documents the references its Kubernetes edges
//! come from, as it would in a real cluster's objects: what rule linking costs when rules
//! have something to follow. The fleet's edges stay as they are (an edge a rule made is not
//! made twice).

use crate::{Fleet, FleetEdge};
use graphd_core::ExternalKey;
use serde_json::{json, Map, Value};

/// The edges between Kubernetes items that the documents carry, as (source kind, relation,
/// target kind); `*` is any kind.
pub const DOCUMENTED: &[(&str, &str, &str)] = &[
    ("*", "owns", "*"),
    ("Pod", "runs-on", "Node"),
    ("Pod", "mounts", "ConfigMap"),
    ("Pod", "mounts", "Secret"),
    ("Pod", "mounts", "PersistentVolumeClaim"),
    ("Pod", "uses", "ServiceAccount"),
    ("Pod", "uses", "PriorityClass"),
    ("Service", "selects", "Pod"),
    ("PodDisruptionBudget", "selects", "Pod"),
    ("NetworkPolicy", "selects", "Pod"),
    ("EndpointSlice", "routes-to", "Pod"),
    ("Ingress", "routes-to", "Service"),
    ("PersistentVolumeClaim", "binds", "PersistentVolume"),
];

/// Whether `edge` is one the documents carry.
pub fn is_documented(fleet: &Fleet, edge: &FleetEdge) -> bool {
    let (from, to) = (&fleet.items[edge.from].write, &fleet.items[edge.to].write);
    if uid(&from.key).is_none() || uid(&to.key).is_none() {
        return false;
    }
    let (from_kind, to_kind) = (short_kind(from.kind.as_str()), short_kind(to.kind.as_str()));
    DOCUMENTED.iter().any(|&(source, relation, target)| {
        relation == edge.relation && (source == "*" || source == from_kind) && (target == "*" || target == to_kind)
    })
}

/// Gives every Kubernetes item of `fleet` a document (replacing any it had, a Node's keeps its
/// `spec.providerID`).
pub fn attach(fleet: &mut Fleet) {
    let mut documents: Vec<Value> = fleet.items.iter().map(|item| base(&item.write)).collect();
    // The labels the selectors match are the items' labels, as the scrapers record them.
    let mut app_labels = Vec::new();
    for edge in &fleet.edges {
        let (from, to) = (&fleet.items[edge.from].write, &fleet.items[edge.to].write);
        let (Some(from_uid), Some(to_uid)) = (uid(&from.key), uid(&to.key)) else { continue };
        let (from_kind, to_kind) = (short_kind(from.kind.as_str()), short_kind(to.kind.as_str()));
        let to_name = to.name.as_str();
        match (from_kind, edge.relation, to_kind) {
            (_, "owns", _) => {
                let owner = json!({"kind": from_kind, "name": from.name, "uid": from_uid});
                push(&mut documents[edge.to], &["metadata", "ownerReferences"], owner);
            }
            ("Pod", "runs-on", "Node") => set(&mut documents[edge.from], &["spec", "nodeName"], json!(to_name)),
            ("Pod", "mounts", "ConfigMap") => {
                push(&mut documents[edge.from], &["spec", "volumes"], json!({"configMap": {"name": to_name}}))
            }
            ("Pod", "mounts", "Secret") => {
                push(&mut documents[edge.from], &["spec", "volumes"], json!({"secret": {"secretName": to_name}}))
            }
            ("Pod", "mounts", "PersistentVolumeClaim") => {
                let volume = json!({"persistentVolumeClaim": {"claimName": to_name}});
                push(&mut documents[edge.from], &["spec", "volumes"], volume)
            }
            ("Pod", "uses", "ServiceAccount") => {
                set(&mut documents[edge.from], &["spec", "serviceAccountName"], json!(to_name))
            }
            ("Pod", "uses", "PriorityClass") => {
                set(&mut documents[edge.from], &["spec", "priorityClassName"], json!(to_name))
            }
            // A Service and a PodDisruptionBudget select their Deployment's Pods by its name.
            ("Service", "selects", "Pod") => {
                set(&mut documents[edge.from], &["spec", "selector"], json!({"app": from.name}));
                set(&mut documents[edge.to], &["metadata", "labels", "app"], json!(from.name));
                app_labels.push((edge.to, from.name.clone()));
            }
            ("PodDisruptionBudget", "selects", "Pod") => {
                set(&mut documents[edge.from], &["spec", "selector"], json!({"matchLabels": {"app": from.name}}))
            }
            // An empty selector: every Pod of its namespace.
            ("NetworkPolicy", "selects", "Pod") => set(&mut documents[edge.from], &["spec", "podSelector"], json!({})),
            ("EndpointSlice", "routes-to", "Pod") => {
                push(&mut documents[edge.from], &["endpoints"], json!({"targetRef": {"kind": "Pod", "uid": to_uid}}))
            }
            ("Ingress", "routes-to", "Service") => {
                let path = json!({"http": {"paths": [{"backend": {"service": {"name": to_name}}}]}});
                push(&mut documents[edge.from], &["spec", "rules"], path)
            }
            ("PersistentVolumeClaim", "binds", "PersistentVolume") => {
                set(&mut documents[edge.from], &["spec", "volumeName"], json!(to_name))
            }
            _ => {}
        }
    }
    for (item, document) in fleet.items.iter_mut().zip(documents) {
        if !document.is_null() {
            item.write.document = document;
        }
    }
    for (pod, app) in app_labels {
        fleet.items[pod].write.labels.insert("app".into(), app);
    }
}

/// An item's own fields: `null` for an item outside Kubernetes.
fn base(write: &graphd_core::ItemWrite) -> Value {
    if uid(&write.key).is_none() {
        return Value::Null;
    }
    let mut document = if write.document.is_object() { write.document.clone() } else { json!({}) };
    set(&mut document, &["metadata", "name"], json!(write.name));
    if let Some(namespace) = &write.namespace {
        set(&mut document, &["metadata", "namespace"], json!(namespace));
    }
    document
}

fn uid(key: &ExternalKey) -> Option<&str> {
    match key {
        ExternalKey::Kubernetes { uid, .. } => Some(uid),
        _ => None,
    }
}

fn short_kind(kind: &str) -> &str {
    kind.rsplit("::").next().unwrap_or(kind)
}

/// The object at `path` in `document`, made (as an empty object) where missing.
fn object_at<'d>(document: &'d mut Value, path: &[&str]) -> &'d mut Map<String, Value> {
    let mut here = document;
    for step in path {
        here = here.as_object_mut().expect("documents are objects").entry(*step).or_insert_with(|| json!({}));
    }
    here.as_object_mut().expect("documents are objects")
}

fn set(document: &mut Value, path: &[&str], value: Value) {
    let (last, parents) = path.split_last().expect("a path");
    object_at(document, parents).insert((*last).to_owned(), value);
}

fn push(document: &mut Value, path: &[&str], value: Value) {
    let (last, parents) = path.split_last().expect("a path");
    let list = object_at(document, parents).entry(*last).or_insert_with(|| json!([]));
    list.as_array_mut().expect("a list").push(value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FleetSize;
    use graphd_core::Timestamp;
    use graphd_store::{MemEngine, Op, Store};

    /// Imported with the built-in rules and without the fleet's edges, a documented fleet has
    /// every edge the documents carry, made by the rules.
    #[test]
    fn the_rules_derive_the_documented_edges() {
        let mut fleet = crate::generate(FleetSize::S, 7);
        attach(&mut fleet);
        let store = Store::open(MemEngine::new()).unwrap();
        store.set_rules(graphd_rules::builtin::rules().unwrap()).unwrap();
        let items: Vec<Op> = fleet.items.iter().map(|item| Op::Upsert(item.write.clone())).collect();
        store.apply(&items, Timestamp(1), "test").unwrap();
        let reader = store.read();
        let id = |index: usize| reader.get_by_key(&fleet.items[index].write.key, false).unwrap().unwrap().id;
        let (mut derived, mut missing) = (0, Vec::new());
        for edge in fleet.edges.iter().filter(|edge| is_documented(&fleet, edge)) {
            let (from, to) = (id(edge.from), id(edge.to));
            match reader.edges(from, true, false).unwrap().iter().any(|e| e.to == to && e.relation == edge.relation) {
                true => derived += 1,
                false => missing.push(edge),
            }
        }
        assert!(missing.is_empty(), "{} documented edges not derived, first: {:?}", missing.len(), missing.first());
        assert!(derived > fleet.edges.len() / 2, "most of the fleet's edges are documented: {derived}");
    }
}
