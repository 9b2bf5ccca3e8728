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

/// The field of a document that carries an edge between Kubernetes items.
enum Reference {
    // In the target: an owner reference to the source.
    Owner,
    // In a Pod: its node, a volume, its ServiceAccount or PriorityClass.
    Node,
    ConfigMapVolume,
    SecretVolume,
    ClaimVolume,
    ServiceAccount,
    PriorityClass,
    // A Service's or PodDisruptionBudget's selector (and the label of the Pods it selects); a
    // NetworkPolicy's empty one, every Pod of its namespace.
    ServiceSelector,
    BudgetSelector,
    PolicySelector,
    // In the source: an EndpointSlice's target, an Ingress's backend, a claim's volume.
    SliceTarget,
    IngressBackend,
    ClaimedVolume,
}

/// The field that carries `edge`, if the documents carry it.
fn reference(fleet: &Fleet, edge: &FleetEdge) -> Option<Reference> {
    let (from, to) = (&fleet.items[edge.from].write, &fleet.items[edge.to].write);
    uid(&from.key)?;
    uid(&to.key)?;
    let kinds = (short_kind(from.kind.as_str()), edge.relation, short_kind(to.kind.as_str()));
    Some(match kinds {
        (_, "owns", _) => Reference::Owner,
        ("Pod", "runs-on", "Node") => Reference::Node,
        ("Pod", "mounts", "ConfigMap") => Reference::ConfigMapVolume,
        ("Pod", "mounts", "Secret") => Reference::SecretVolume,
        ("Pod", "mounts", "PersistentVolumeClaim") => Reference::ClaimVolume,
        ("Pod", "uses", "ServiceAccount") => Reference::ServiceAccount,
        ("Pod", "uses", "PriorityClass") => Reference::PriorityClass,
        ("Service", "selects", "Pod") => Reference::ServiceSelector,
        ("PodDisruptionBudget", "selects", "Pod") => Reference::BudgetSelector,
        ("NetworkPolicy", "selects", "Pod") => Reference::PolicySelector,
        ("EndpointSlice", "routes-to", "Pod") => Reference::SliceTarget,
        ("Ingress", "routes-to", "Service") => Reference::IngressBackend,
        ("PersistentVolumeClaim", "binds", "PersistentVolume") => Reference::ClaimedVolume,
        _ => return None,
    })
}

/// Whether `edge` is one the documents carry.
pub fn is_documented(fleet: &Fleet, edge: &FleetEdge) -> bool {
    reference(fleet, edge).is_some()
}

/// Gives every Kubernetes item of `fleet` a document (replacing any it had, a Node's keeps its
/// `spec.providerID`).
pub fn attach(fleet: &mut Fleet) {
    let mut documents: Vec<Value> = fleet.items.iter().map(|item| base(&item.write)).collect();
    // The labels the selectors match are the items' labels, as the scrapers record them.
    let mut app_labels = Vec::new();
    for edge in &fleet.edges {
        let Some(reference) = reference(fleet, edge) else { continue };
        let (from, to) = (&fleet.items[edge.from].write, &fleet.items[edge.to].write);
        let (source, target) = (&mut documents[edge.from], json!(to.name));
        match reference {
            Reference::Owner => {
                let kind = short_kind(from.kind.as_str());
                let owner = json!({"kind": kind, "name": from.name, "uid": uid(&from.key)});
                push(&mut documents[edge.to], &["metadata", "ownerReferences"], owner);
            }
            Reference::Node => set(source, &["spec", "nodeName"], target),
            Reference::ConfigMapVolume => push(source, &["spec", "volumes"], json!({"configMap": {"name": target}})),
            Reference::SecretVolume => push(source, &["spec", "volumes"], json!({"secret": {"secretName": target}})),
            Reference::ClaimVolume => {
                push(source, &["spec", "volumes"], json!({"persistentVolumeClaim": {"claimName": target}}))
            }
            Reference::ServiceAccount => set(source, &["spec", "serviceAccountName"], target),
            Reference::PriorityClass => set(source, &["spec", "priorityClassName"], target),
            // A Service and a PodDisruptionBudget select their Deployment's Pods by its name.
            Reference::ServiceSelector => {
                set(source, &["spec", "selector"], json!({"app": from.name}));
                set(&mut documents[edge.to], &["metadata", "labels", "app"], json!(from.name));
                app_labels.push((edge.to, from.name.clone()));
            }
            Reference::BudgetSelector => set(source, &["spec", "selector"], json!({"matchLabels": {"app": from.name}})),
            Reference::PolicySelector => set(source, &["spec", "podSelector"], json!({})),
            Reference::SliceTarget => {
                push(source, &["endpoints"], json!({"targetRef": {"kind": "Pod", "uid": uid(&to.key)}}))
            }
            Reference::IngressBackend => {
                let path = json!({"http": {"paths": [{"backend": {"service": {"name": target}}}]}});
                push(source, &["spec", "rules"], path)
            }
            Reference::ClaimedVolume => set(source, &["spec", "volumeName"], target),
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
    use std::collections::BTreeSet;

    /// A store with the built-in rules.
    fn linked_store() -> Store<MemEngine> {
        let store = Store::open(MemEngine::new()).unwrap();
        store.set_rules(graphd_rules::builtin::rules().unwrap()).unwrap();
        store
    }

    /// Every live edge of `store`, by the external keys of its ends.
    fn edges_by_key(store: &Store<MemEngine>, fleet: &crate::Fleet) -> BTreeSet<(String, String, String)> {
        let reader = store.read();
        let mut edges = BTreeSet::new();
        for item in &fleet.items {
            let Some(from) = reader.get_by_key(&item.write.key, false).unwrap() else { continue };
            for edge in reader.edges(from.id, true, false).unwrap() {
                let to = reader.get(edge.to, false).unwrap().unwrap();
                edges.insert((format!("{:?}", item.write.key), edge.relation.clone(), format!("{:?}", to.key)));
            }
        }
        edges
    }

    /// Imported with the built-in rules and without the fleet's edges, a documented fleet has
    /// every edge the documents carry, made by the rules.
    #[test]
    fn the_rules_derive_the_documented_edges() {
        let mut fleet = crate::generate(FleetSize::S, 7);
        attach(&mut fleet);
        let store = linked_store();
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

    /// Sent as a scraper sends it, with links only for the edges no rule reads from the
    /// documents (and its deletions), a documented fleet gets the edges it gets with a link
    /// for every edge.
    #[test]
    fn links_only_where_no_rule_links_give_the_same_graph() {
        let mut fleet = crate::generate(FleetSize::S, 5);
        attach(&mut fleet);
        let loaded = |batches: Vec<Vec<Op>>| {
            let store = linked_store();
            store.apply_all(batches.iter().map(|batch| (batch, Timestamp(1))), "test", |_, _| ()).unwrap();
            edges_by_key(&store, &fleet)
        };
        let every_link = loaded(crate::load::batches(&fleet, 1_000).collect());
        let undocumented = crate::load::batches_linking(&fleet, 1_000, |edge| !is_documented(&fleet, edge));
        let scraped = loaded(undocumented.collect());
        assert!(every_link.len() > fleet.items.len(), "the fleet is linked: {} edges", every_link.len());
        let missing: Vec<_> = every_link.difference(&scraped).take(3).collect();
        let extra: Vec<_> = scraped.difference(&every_link).take(3).collect();
        assert!(missing.is_empty() && extra.is_empty(), "missing {missing:?}, extra {extra:?}");
    }

    /// Loaded in many batches, latest items first (so most references wait for a later batch),
    /// a documented fleet gets the edges it gets in one batch.
    #[test]
    fn a_load_in_batches_of_any_order_links_as_one_batch_does() {
        let mut fleet = crate::generate(FleetSize::S, 3);
        attach(&mut fleet);
        let items: Vec<Op> = fleet.items.iter().map(|item| Op::Upsert(item.write.clone())).collect();
        let at_once = linked_store();
        at_once.apply(&items, Timestamp(1), "test").unwrap();

        let in_batches = linked_store();
        let reversed: Vec<Op> = items.into_iter().rev().collect();
        let batches = reversed.chunks(250).map(|batch| (batch, Timestamp(1)));
        let mut landed = 0;
        in_batches.apply_all(batches, "test", |_, _| landed += 1).unwrap();
        assert!(landed > 10, "many batches: {landed}");
        let (expected, found) = (edges_by_key(&at_once, &fleet), edges_by_key(&in_batches, &fleet));
        assert!(expected.len() > fleet.items.len(), "the rules linked the fleet: {} edges", expected.len());
        let missing: Vec<_> = expected.difference(&found).take(3).collect();
        let extra: Vec<_> = found.difference(&expected).take(3).collect();
        assert!(missing.is_empty() && extra.is_empty(), "missing {missing:?}, extra {extra:?}");
    }
}
