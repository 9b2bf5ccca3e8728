//! The central invariant of linking: the same items, arriving in any order, in any batches,
//! with updates and deletes in between, give the same graph.

use super::linking::fixture;
use graphd::import::to_item;
use graphd_core::{ExternalKey, ItemWrite, Timestamp};
use graphd_store::codec::EdgeValue;
use graphd_store::engine::{Engine, Snapshot};
use graphd_store::{keys, Cf, MemEngine, Op, Store};
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};

type EdgeSet = BTreeSet<(ExternalKey, String, ExternalKey)>;

fn store() -> Store<MemEngine> {
    let store = Store::open(MemEngine::new()).unwrap();
    store.set_rules(graphd_rules::builtin::rules().unwrap()).unwrap();
    store
}

/// Every live edge, by the external keys of its ends.
fn live_edges<E: Engine>(store: &Store<E>) -> EdgeSet {
    let reader = store.read();
    let names = store.names();
    let mut raw = Vec::new();
    store
        .engine()
        .snapshot()
        .scan_prefix(Cf::EdgesOut, &[], &mut |key, value| {
            if EdgeValue::decode(value).unwrap().deleted_at.is_none() {
                raw.push(keys::decode_edge(key).unwrap());
            }
            true
        })
        .unwrap();
    raw.into_iter()
        .map(|(from, rel, to)| {
            let key = |id| reader.get(id, true).unwrap().unwrap().key;
            (key(from), names.relation(rel).unwrap().name().to_owned(), key(to))
        })
        .collect()
}

fn items() -> Vec<ItemWrite> {
    fixture("k3s-troubleshoot-real-snapshot.json").iter().map(|o| to_item("c1", o).unwrap()).collect()
}

/// `item` with `labels`, in its document as in its record.
fn with_labels(item: &ItemWrite, labels: &BTreeMap<String, String>) -> ItemWrite {
    let mut item = item.clone();
    item.document["metadata"]["labels"] = serde_json::to_value(labels).unwrap();
    item.labels = labels.clone();
    item
}

/// A misleading earlier version of an item: `labels` (another item's, so that selectors choose
/// it where they should not), another node, another owner.
fn decoy(item: &ItemWrite, labels: &BTreeMap<String, String>) -> ItemWrite {
    let mut decoy = with_labels(item, labels);
    if let Some(spec) = decoy.document.get_mut("spec").and_then(|s| s.as_object_mut()) {
        spec.insert("nodeName".into(), "no-such-node".into());
    }
    decoy.document["metadata"]["ownerReferences"] = serde_json::json!([{"uid": "no-such-owner"}]);
    decoy
}

/// The label sets of the other items of `item`'s kind in its namespace: the ones its
/// namespace's selectors choose between.
fn labels_nearby<'i>(items: &'i [ItemWrite], item: &ItemWrite) -> Vec<&'i BTreeMap<String, String>> {
    let nearby = |other: &&ItemWrite| other.kind == item.kind && other.namespace == item.namespace;
    items.iter().filter(nearby).map(|other| &other.labels).filter(|labels| **labels != item.labels).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn any_arrival_order_gives_the_same_graph(seed in any::<u64>()) {
        let items = items();
        let reference = store();
        reference.apply(&upserts(&items), Timestamp(1), "test").unwrap();
        let expected = live_edges(&reference);
        prop_assert!(expected.len() > 600, "the fixture links: {} edges", expected.len());

        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut ops = Vec::new();
        // Most outdated versions are corrected at the end of the stream, after every item:
        // linked by then (a Pod chosen by the selectors its decoy's labels match), each
        // corrected item is refound by what it was and is now. The others are corrected next
        // to their decoy, often in its batch, where the item is new.
        let mut corrections = Vec::new();
        let mut order: Vec<&ItemWrite> = items.iter().collect();
        order.shuffle(&mut rng);
        for item in order {
            match rng.gen_range(0..10) {
                0 => {
                    let labels = labels_nearby(&items, item).choose(&mut rng).cloned().cloned().unwrap_or_default();
                    ops.push(Op::Upsert(decoy(item, &labels)));
                    match rng.gen_bool(1.0 / 3.0) {
                        true => ops.push(Op::Upsert(item.clone())),
                        false => corrections.push(Op::Upsert(item.clone())),
                    }
                }
                // Deleted and reported again (restored).
                1 => {
                    ops.push(Op::Upsert(item.clone()));
                    ops.push(Op::Delete(item.key.clone()));
                    ops.push(Op::Upsert(item.clone()));
                }
                _ => ops.push(Op::Upsert(item.clone())),
            }
        }
        corrections.shuffle(&mut rng);
        ops.extend(corrections);
        let mut batches = Vec::new();
        let mut rest = &ops[..];
        while !rest.is_empty() {
            let size = rng.gen_range(1..=60).min(rest.len());
            batches.push((&rest[..size], Timestamp(batches.len() as u64 + 2)));
            rest = &rest[size..];
        }
        // One batch at a time, and as a load, where each batch is built while the one before
        // it is written.
        let one_by_one = store();
        for &(batch, at) in &batches {
            one_by_one.apply(batch, at, "test").unwrap();
        }
        let loaded = store();
        loaded.apply_all(batches.iter().copied(), "test", |_, _| {}).unwrap();
        for (how, got) in [("one batch at a time", live_edges(&one_by_one)), ("loaded", live_edges(&loaded))] {
            prop_assert_eq!(differences(&expected, &got), None, "{}", how);
        }
    }
}

fn upserts<'a>(items: impl IntoIterator<Item = &'a ItemWrite>) -> Vec<Op> {
    items.into_iter().cloned().map(Op::Upsert).collect()
}

/// A few of the edges `got` lacks of `expected` and of those it has beyond them, if any.
fn differences(expected: &EdgeSet, got: &EdgeSet) -> Option<String> {
    let missing: Vec<_> = expected.difference(got).take(5).collect();
    let extra: Vec<_> = got.difference(expected).take(5).collect();
    (!missing.is_empty() || !extra.is_empty()).then(|| format!("missing {missing:?}\nextra {extra:?}"))
}

/// Pods relabelled a few at a time leave the selectors that chose them and join others, as if
/// they had come with those labels; relabelled back, the graph is as it was.
#[test]
fn relabelled_pods_are_selected_as_if_they_had_come_with_those_labels() {
    let items = items();
    let pods: Vec<usize> = (0..items.len())
        .filter(|&i| items[i].kind.as_str() == "Kubernetes::Pod" && !items[i].labels.is_empty())
        .collect();
    assert!(pods.len() > 10, "the fixture has labelled Pods: {}", pods.len());
    // Each Pod takes the labels of the next one: it leaves its own Services and joins that one's.
    let mut relabelled = items.clone();
    for (n, &pod) in pods.iter().enumerate() {
        relabelled[pod] = with_labels(&items[pod], &items[pods[(n + 1) % pods.len()]].labels);
    }
    let fresh = store();
    fresh.apply(&upserts(&relabelled), Timestamp(1), "test").unwrap();

    let store = store();
    store.apply(&upserts(&items), Timestamp(1), "test").unwrap();
    let before = live_edges(&store);
    let mut at = 1;
    for (version, label, expected) in
        [(&relabelled, "relabelled", live_edges(&fresh)), (&items, "labelled back", before.clone())]
    {
        for chunk in pods.chunks(3) {
            at += 1;
            store.apply(&upserts(chunk.iter().map(|&pod| &version[pod])), Timestamp(at), "test").unwrap();
        }
        assert_eq!(differences(&expected, &live_edges(&store)), None, "{label}");
    }
    assert_ne!(before, live_edges(&fresh), "relabelling moves Pods between selectors");
}

/// A Service whose selector changed between two relabellings in its namespace chooses the
/// second relabelled Pod by what its selector says now, not by what it said at the first.
#[test]
fn a_changed_selector_chooses_relabelled_pods_by_what_it_says_now() {
    let items = items();
    let selector = |item: &ItemWrite| -> BTreeMap<String, String> {
        serde_json::from_value(item.document["spec"]["selector"].clone()).unwrap_or_default()
    };
    let selects = |service: &ItemWrite, pod: &ItemWrite| {
        let wanted = selector(service);
        !wanted.is_empty() && wanted.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
    };
    let pods_of = |service: &ItemWrite| -> Vec<&ItemWrite> {
        items.iter().filter(|i| i.kind.as_str() == "Kubernetes::Pod" && i.namespace == service.namespace).collect()
    };
    // A Service, a Pod it selects, and a labelled Pod of its namespace it does not.
    let (service, chosen, other) = items
        .iter()
        .filter(|i| i.kind.as_str() == "Kubernetes::Service")
        .find_map(|service| {
            let pods = pods_of(service);
            let chosen = *pods.iter().find(|pod| selects(service, pod))?;
            let other = *pods.iter().find(|pod| !pod.labels.is_empty() && !selects(service, pod))?;
            Some((service, chosen, other))
        })
        .expect("the fixture has a Service selecting some Pods of its namespace but not all");
    let mut reselecting = service.clone();
    reselecting.document["spec"]["selector"] = serde_json::to_value(&other.labels).unwrap();
    let now = items.iter().map(|i| if i.key == service.key { reselecting.clone() } else { i.clone() });
    let fresh = store();
    fresh.apply(&upserts(&now.collect::<Vec<_>>()), Timestamp(1), "test").unwrap();

    let store = store();
    store.apply(&upserts(&items), Timestamp(1), "test").unwrap();
    // The chosen Pod takes the other's labels and leaves the Service; the Service then
    // selects those labels, and the chosen Pod returns to its own.
    let steps = [with_labels(chosen, &other.labels), reselecting.clone(), chosen.clone()];
    for (at, step) in steps.into_iter().enumerate() {
        store.apply(&[Op::Upsert(step)], Timestamp(at as u64 + 2), "test").unwrap();
    }
    let (got, expected) = (live_edges(&store), live_edges(&fresh));
    let edge = |from: &ItemWrite, to: &ItemWrite| (from.key.clone(), "selects".to_owned(), to.key.clone());
    assert!(expected.contains(&edge(service, other)) && !expected.contains(&edge(service, chosen)));
    assert_eq!(differences(&expected, &got), None);
}
