//! The conformance suite: what every engine under [`Store`] must get right.
//!
//! An engine crate runs it with [`conformance_tests!`](crate::conformance_tests), giving a
//! [`Harness`] that makes fresh engines and reopens them. Each check is its own test.

use crate::engine::{Engine, Snapshot, WriteBatch};
use crate::keys;
use crate::query::{ChangeFilter, Direction, ListQuery, NameQuery, RelatedQuery, ScopeFilter};
use crate::{Cf, Op, Store, StoreError};
use graphd_core::{EdgeWrite, ExternalKey, Health, ItemId, ItemWrite, Kind, Provenance, Scope, Timestamp};
use std::collections::BTreeSet;

/// Makes engines for the suite.
pub trait Harness {
    type E: Engine;
    /// An empty engine.
    fn fresh(&mut self) -> Self::E;
    /// Closes `engine` and opens the same data again.
    fn reopen(&mut self, engine: Self::E) -> Self::E;
}

/// Expands to one `#[test]` per check, each calling `$harness` for a fresh [`Harness`].
#[macro_export]
macro_rules! conformance_tests {
    ($harness:expr) => {
        $crate::conformance_tests!(@each $harness;
            engine_reads_what_it_wrote, engine_scans_stay_in_their_prefix, engine_scans_many_prefixes,
            engine_snapshots_are_isolated, engine_edge_families_read_one_key_per_copy,
            items_are_found_by_id_key_name_and_short_id,
            unchanged_upserts_write_nothing, edges_are_stored_both_ways,
            related_never_switches_direction, related_filters_prune_the_walk,
            walk_up_crosses_kubernetes_and_cloud, walks_terminate_on_cycles,
            deletes_tombstone_items_and_edges, recreated_object_is_a_new_item,
            restored_item_keeps_its_id, failed_batch_changes_nothing,
            links_need_live_known_ends, list_pages_with_a_stable_cursor,
            health_counts_by_scope, reopen_keeps_everything, purge_removes_only_old_tombstones,
            relations_keep_their_orientation, walks_answer_as_of_their_snapshot,
            an_edge_linked_and_unlinked_in_one_batch_is_a_tombstone,
            an_item_deleted_by_the_batch_that_linked_it_takes_its_edges_along, path_is_shortest_either_way,
            resync_tombstones_only_what_its_scope_did_not_report, change_listener_hears_each_commit,
            batches_applied_together_land_as_one_by_one,
            batches_applied_together_to_a_stored_estate_land_as_one_by_one,
            batches_applied_together_stop_at_the_first_failure,
            walk_starts_are_checked_as_of_each_snapshot, a_store_in_another_format_is_refused);
    };
    (@each $harness:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let mut harness = $harness;
                $crate::conformance::$check(&mut harness);
            }
        )*
    };
}

// ---- a small estate -------------------------------------------------------------------------

const T0: Timestamp = Timestamp(1_000_000);

fn kind(name: &str) -> Kind {
    Kind::new(name).expect("valid kind")
}

fn k8s(uid: &str, kind_name: &str, name: &str, namespace: Option<&str>) -> ItemWrite {
    let mut item = ItemWrite::new(ExternalKey::kubernetes("c1", uid), kind(&format!("Kubernetes::{kind_name}")), name);
    item.namespace = namespace.map(str::to_owned);
    item.scope = Scope { cluster: Some("c1".into()), ..Scope::default() };
    item.health = Health::Healthy;
    item
}

fn aws(id: &str, kind_name: &str) -> ItemWrite {
    let mut item = ItemWrite::new(ExternalKey::aws("111", "us-east-1", id), kind(&format!("AWS::{kind_name}")), id);
    item.scope = Scope { account: Some("111".into()), region: Some("us-east-1".into()), ..Scope::default() };
    item
}

fn key(item: &ItemWrite) -> ExternalKey {
    item.key.clone()
}

fn edge(from: &ItemWrite, relation: &str, to: &ItemWrite) -> EdgeWrite {
    EdgeWrite { from: key(from), relation: relation.into(), to: key(to), provenance: Provenance::Rule("test".into()) }
}

fn link(from: &ItemWrite, relation: &str, to: &ItemWrite) -> Op {
    Op::Link(edge(from, relation, to))
}

fn unlink(from: &ItemWrite, relation: &str, to: &ItemWrite) -> Op {
    Op::Unlink(edge(from, relation, to))
}

/// The items of the estate, by name.
struct Estate {
    pod_a: ItemWrite,
    pod_b: ItemWrite,
    rs: ItemWrite,
    deploy: ItemWrite,
    ns: ItemWrite,
    cluster: ItemWrite,
    node: ItemWrite,
    svc: ItemWrite,
    cm: ItemWrite,
    instance: ItemWrite,
    subnet: ItemWrite,
    vpc: ItemWrite,
    region: ItemWrite,
    account: ItemWrite,
}

fn estate() -> Estate {
    let mut pod_a = k8s("pod-a", "Pod", "web-1-a", Some("ns-a"));
    pod_a.labels.insert("app".into(), "web".into());
    let mut pod_b = k8s("pod-b", "Pod", "web-1-b", Some("ns-a"));
    pod_b.labels.insert("app".into(), "web".into());
    pod_b.health = Health::Unhealthy;
    let mut account = aws("111", "Account");
    account.scope.region = None;
    Estate {
        pod_a,
        pod_b,
        rs: k8s("rs", "ReplicaSet", "web-1", Some("ns-a")),
        deploy: k8s("deploy", "Deployment", "web", Some("ns-a")),
        ns: k8s("ns", "Namespace", "ns-a", None),
        cluster: k8s("cluster", "Cluster", "c1", None),
        node: k8s("node", "Node", "ip-10-0-1-5", None),
        svc: k8s("svc", "Service", "web", Some("ns-a")),
        cm: k8s("cm", "ConfigMap", "web-config", Some("ns-a")),
        instance: aws("i-0abc", "EC2::Instance"),
        subnet: aws("subnet-1", "EC2::Subnet"),
        vpc: aws("vpc-1", "EC2::VPC"),
        region: aws("us-east-1", "Region"),
        account,
    }
}

fn estate_ops(e: &Estate) -> Vec<Op> {
    let items = [
        &e.pod_a,
        &e.pod_b,
        &e.rs,
        &e.deploy,
        &e.ns,
        &e.cluster,
        &e.node,
        &e.svc,
        &e.cm,
        &e.instance,
        &e.subnet,
        &e.vpc,
        &e.region,
        &e.account,
    ];
    let mut ops: Vec<Op> = items.iter().map(|i| Op::Upsert((*i).clone())).collect();
    ops.extend([
        link(&e.cluster, "contains", &e.ns),
        link(&e.cluster, "contains", &e.node),
        link(&e.ns, "contains", &e.deploy),
        link(&e.ns, "contains", &e.rs),
        link(&e.ns, "contains", &e.pod_a),
        link(&e.ns, "contains", &e.pod_b),
        link(&e.ns, "contains", &e.svc),
        link(&e.ns, "contains", &e.cm),
        link(&e.deploy, "owns", &e.rs),
        link(&e.rs, "owns", &e.pod_a),
        link(&e.rs, "owns", &e.pod_b),
        link(&e.pod_a, "runs-on", &e.node),
        link(&e.pod_b, "runs-on", &e.node),
        link(&e.node, "runs-on", &e.instance),
        link(&e.instance, "member-of", &e.subnet),
        link(&e.subnet, "member-of", &e.vpc),
        link(&e.vpc, "member-of", &e.region),
        link(&e.region, "member-of", &e.account),
        link(&e.svc, "selects", &e.pod_a),
        link(&e.svc, "selects", &e.pod_b),
        link(&e.pod_a, "mounts", &e.cm),
    ]);
    ops
}

fn loaded<H: Harness>(h: &mut H) -> (Store<H::E>, Estate) {
    let store = Store::open(h.fresh()).expect("open");
    let e = estate();
    store.apply(&estate_ops(&e), T0, "test").expect("load estate");
    (store, e)
}

fn id_of<E: Engine>(store: &Store<E>, item: &ItemWrite) -> ItemId {
    store.read().get_by_key(&item.key, true).expect("read").expect("item exists").id
}

fn names_of<E: Engine>(store: &Store<E>, ids: impl IntoIterator<Item = ItemId>) -> BTreeSet<String> {
    let reader = store.read();
    ids.into_iter().map(|id| reader.get(id, true).unwrap().unwrap().name).collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

// ---- engine ---------------------------------------------------------------------------------

pub fn engine_reads_what_it_wrote<H: Harness>(h: &mut H) {
    let engine = h.fresh();
    let mut batch = WriteBatch::new();
    batch.put(Cf::Items, b"a", b"1");
    batch.put(Cf::Documents, b"a", b"2");
    batch.put(Cf::Items, b"b", b"3");
    batch.delete(Cf::Items, b"b");
    engine.write(&batch).unwrap();
    let snap = engine.snapshot();
    assert_eq!(snap.get(Cf::Items, b"a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(snap.get(Cf::Documents, b"a").unwrap().as_deref(), Some(&b"2"[..]), "column families are separate");
    assert_eq!(snap.get(Cf::Items, b"b").unwrap(), None, "a delete after a put in one batch wins");
}

pub fn engine_scans_stay_in_their_prefix<H: Harness>(h: &mut H) {
    let engine = h.fresh();
    let mut batch = WriteBatch::new();
    for key in ["ns-a/1", "ns-a/2", "ns-a/3", "ns-ab/1", "ns-", "ns-b/1"] {
        batch.put(Cf::Scope, key.as_bytes(), &[]);
    }
    engine.write(&batch).unwrap();
    let snap = engine.snapshot();
    let mut seen = Vec::new();
    snap.scan_prefix(Cf::Scope, b"ns-a/", &mut |k, _| {
        seen.push(String::from_utf8(k.to_vec()).unwrap());
        true
    })
    .unwrap();
    assert_eq!(seen, ["ns-a/1", "ns-a/2", "ns-a/3"]);
    seen.clear();
    snap.scan(Cf::Scope, b"ns-a/", Some(b"ns-a/2"), &mut |k, _| {
        seen.push(String::from_utf8(k.to_vec()).unwrap());
        true
    })
    .unwrap();
    assert_eq!(seen, ["ns-a/2", "ns-a/3"], "scan starts at `start`");
    seen.clear();
    snap.scan_prefix(Cf::Scope, b"ns-a/", &mut |k, _| {
        seen.push(String::from_utf8(k.to_vec()).unwrap());
        false
    })
    .unwrap();
    assert_eq!(seen, ["ns-a/1"], "scan stops when the visitor says so");
}

pub fn engine_scans_many_prefixes<H: Harness>(h: &mut H) {
    let engine = h.fresh();
    let mut batch = WriteBatch::new();
    for key in ["a/1", "a/2", "ab/1", "b/1", "c/1", "c/2", "d/1"] {
        batch.put(Cf::Pending, key.as_bytes(), &[]);
    }
    engine.write(&batch).unwrap();
    let snap = engine.snapshot();
    let scan = |prefixes: &[&str], stop_after: usize| {
        let mut seen = Vec::new();
        snap.scan_prefixes(Cf::Pending, &mut prefixes.iter().map(|p| p.as_bytes()), &mut |k, _| {
            seen.push(String::from_utf8(k.to_vec()).unwrap());
            seen.len() < stop_after
        })
        .unwrap();
        seen
    };
    assert_eq!(
        scan(&["a/", "bb/", "c/", "e/"], usize::MAX),
        ["a/1", "a/2", "c/1", "c/2"],
        "each prefix's keys, none beside"
    );
    assert_eq!(scan(&["c/", "a/"], usize::MAX), ["c/1", "c/2", "a/1", "a/2"], "prefixes in the order given");
    assert_eq!(scan(&["a/", "c/"], 3), ["a/1", "a/2", "c/1"], "the scan stops when the visitor says so");
    assert!(scan(&[], usize::MAX).is_empty());
}

pub fn engine_snapshots_are_isolated<H: Harness>(h: &mut H) {
    let engine = h.fresh();
    let mut batch = WriteBatch::new();
    batch.put(Cf::Meta, b"k", b"old");
    engine.write(&batch).unwrap();
    let before = engine.snapshot();
    let mut batch = WriteBatch::new();
    batch.put(Cf::Meta, b"k", b"new");
    batch.put(Cf::Meta, b"k2", b"x");
    engine.write(&batch).unwrap();
    assert_eq!(before.get(Cf::Meta, b"k").unwrap().as_deref(), Some(&b"old"[..]));
    assert_eq!(before.get(Cf::Meta, b"k2").unwrap(), None);
    let mut count = 0;
    before
        .scan_prefix(Cf::Meta, b"k", &mut |_, _| {
            count += 1;
            true
        })
        .unwrap();
    assert_eq!(count, 1, "a scan on an old snapshot does not see later keys");
    assert_eq!(engine.snapshot().get(Cf::Meta, b"k").unwrap().as_deref(), Some(&b"new"[..]));
}

/// The edge families read as one key per edge copy, however an engine keeps them (RocksDB's
/// groups an item's copies under one key): point reads, scans of prefixes shorter than an
/// item, of one item and of one relation, starts inside an item, overwrites, deletes (of
/// absent keys too), an item written by several batches, old snapshots and a reopen.
pub fn engine_edge_families_read_one_key_per_copy<H: Harness>(h: &mut H) {
    let engine = h.fresh();
    let edge = |near: u64, rel: u16, far: u64| keys::edge(ItemId(near), rel, ItemId(far));
    let mut first = WriteBatch::new();
    for (near, rel, far, value) in [(1, 1, 5, "a"), (1, 1, 7, "b"), (1, 2, 3, "c"), (2, 1, 1, "d"), (256, 1, 1, "e")] {
        first.put(Cf::EdgesOut, &edge(near, rel, far), value.as_bytes());
    }
    first.put(Cf::EdgesIn, &edge(1, 1, 5), b"incoming");
    engine.write(&first).unwrap();
    // Unsorted, with two writes of one key.
    let mut second = WriteBatch::new();
    second.delete(Cf::EdgesOut, &edge(1, 1, 7));
    second.put(Cf::EdgesOut, &edge(1, 2, 3), b"c2");
    second.delete(Cf::EdgesOut, &edge(2, 1, 1));
    second.put(Cf::EdgesOut, &edge(1, 1, 6), b"f");
    second.put(Cf::EdgesOut, &edge(2, 1, 1), b"d2");
    second.delete(Cf::EdgesOut, &edge(9, 9, 9));
    engine.write(&second).unwrap();
    let before_third = engine.snapshot();
    let mut third = WriteBatch::new();
    third.delete(Cf::EdgesOut, &edge(256, 1, 1));
    engine.write(&third).unwrap();

    let scan = |snap: &dyn Snapshot, prefix: &[u8], start: Option<&[u8]>| {
        let mut seen = Vec::new();
        snap.scan(Cf::EdgesOut, prefix, start, &mut |key, value| {
            let (near, rel, far) = keys::decode_edge(key).unwrap();
            seen.push(format!("{}-{rel}-{}={}", near.0, far.0, String::from_utf8_lossy(value)));
            true
        })
        .unwrap();
        seen
    };
    let check = |engine: &H::E| {
        let snap = engine.snapshot();
        assert_eq!(snap.get(Cf::EdgesOut, &edge(1, 2, 3)).unwrap().as_deref(), Some(&b"c2"[..]), "overwritten");
        assert_eq!(snap.get(Cf::EdgesOut, &edge(1, 1, 7)).unwrap(), None, "deleted");
        assert_eq!(snap.get(Cf::EdgesOut, &edge(1, 1, 8)).unwrap(), None, "never written");
        assert_eq!(snap.get(Cf::EdgesIn, &edge(1, 1, 5)).unwrap().as_deref(), Some(&b"incoming"[..]));
        assert_eq!(scan(&snap, &[], None), ["1-1-5=a", "1-1-6=f", "1-2-3=c2", "2-1-1=d2"]);
        assert_eq!(
            scan(&snap, &[0; 7], None),
            ["1-1-5=a", "1-1-6=f", "1-2-3=c2", "2-1-1=d2"],
            "items 1 and 2, not 256"
        );
        assert_eq!(scan(&snap, &keys::edge_prefix(ItemId(1)), None), ["1-1-5=a", "1-1-6=f", "1-2-3=c2"]);
        assert_eq!(scan(&snap, &keys::edge_rel_prefix(ItemId(1), 1), None), ["1-1-5=a", "1-1-6=f"]);
        assert_eq!(
            scan(&snap, &[], Some(&edge(1, 1, 6))),
            ["1-1-6=f", "1-2-3=c2", "2-1-1=d2"],
            "from a start inside an item"
        );
        assert_eq!(scan(&snap, &keys::edge_prefix(ItemId(1)), Some(&edge(1, 2, 0))), ["1-2-3=c2"]);
        assert!(scan(&snap, &keys::edge_prefix(ItemId(256)), None).is_empty(), "deleted by a later batch");
        let mut firsts = Vec::new();
        let prefixes = [keys::edge_prefix(ItemId(2)), keys::edge_prefix(ItemId(3)), keys::edge_prefix(ItemId(1))];
        snap.scan_prefixes(Cf::EdgesOut, &mut prefixes.iter().map(|p| &p[..]), &mut |key, _| {
            firsts.push(keys::decode_edge(key).unwrap().2 .0);
            firsts.len() < 3
        })
        .unwrap();
        assert_eq!(firsts, [1, 5, 6], "prefixes in the order given, until the visitor stops");
    };
    check(&engine);
    assert_eq!(scan(&before_third, &keys::edge_prefix(ItemId(256)), None), ["256-1-1=e"], "an old snapshot");
    drop(before_third);
    let engine = h.reopen(engine);
    check(&engine);
}

// ---- items ----------------------------------------------------------------------------------

pub fn items_are_found_by_id_key_name_and_short_id<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    let reader = store.read();
    let pod = reader.get_by_key(&e.pod_a.key, false).unwrap().expect("by key");
    assert_eq!(pod.name, "web-1-a");
    assert_eq!(pod.kind.as_str(), "Kubernetes::Pod");
    assert_eq!(pod.scope.cluster.as_deref(), Some("c1"));
    assert_eq!(pod.labels.get("app").map(String::as_str), Some("web"));
    assert_eq!(pod.content_hash, e.pod_a.content_hash());
    assert_eq!(reader.get(pod.id, false).unwrap().unwrap(), pod);

    let query = |ns: Option<&str>, cluster: Option<&str>| NameQuery {
        kind: kind("Kubernetes::Pod"),
        name: "web-1-a".into(),
        namespace: ns.map(str::to_owned),
        cluster: cluster.map(str::to_owned),
    };
    for (ns, cluster) in [(Some("ns-a"), Some("c1")), (Some("ns-a"), None), (None, Some("c1")), (None, None)] {
        let found = reader.find_by_name(&query(ns, cluster), false).unwrap();
        assert_eq!(found.iter().map(|i| i.id).collect::<Vec<_>>(), [pod.id], "ns {ns:?} cluster {cluster:?}");
    }
    assert!(reader.find_by_name(&query(Some("ns-ab"), None), false).unwrap().is_empty());
    assert!(reader.find_by_name(&query(Some("ns-a"), Some("c2")), false).unwrap().is_empty());
    assert!(reader.find_by_name(&query(None, Some("c2")), false).unwrap().is_empty());

    let by_short = reader.find_by_short_id("i-0abc", false).unwrap();
    assert_eq!(by_short.len(), 1);
    assert_eq!(by_short[0].kind.as_str(), "AWS::EC2::Instance");
    assert!(reader.find_by_short_id("i-0ab", false).unwrap().is_empty(), "short ids match whole");
}

pub fn unchanged_upserts_write_nothing<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    let id = id_of(&store, &e.pod_a);
    let again = store.apply(&[Op::Upsert(e.pod_a.clone())], Timestamp(T0.0 + 10), "test").unwrap();
    assert_eq!((again.unchanged, again.updated, again.created), (1, 0, 0));
    assert_eq!(store.read().changes(&[id], &ChangeFilter::newest(100)).unwrap().len(), 1, "only Created");

    let mut sick = e.pod_a.clone();
    sick.health = Health::Unhealthy;
    sick.status = "CrashLoopBackOff".into();
    sick.document = serde_json::json!({"status": {"phase": "Running"}});
    let outcome = store.apply(&[Op::Upsert(sick)], Timestamp(T0.0 + 20), "test").unwrap();
    assert_eq!(outcome.updated, 1);
    let reader = store.read();
    let item = reader.get(id, false).unwrap().unwrap();
    assert_eq!((item.health, item.status.as_str()), (Health::Unhealthy, "CrashLoopBackOff"));
    assert_eq!(item.created_at, T0, "an update keeps the creation time");
    assert_eq!(item.updated_at, Timestamp(T0.0 + 20));
    assert_eq!(reader.document(id).unwrap(), Some(serde_json::json!({"status": {"phase": "Running"}})));
    let types: Vec<_> =
        reader.changes(&[id], &ChangeFilter::newest(100)).unwrap().into_iter().map(|c| c.change_type).collect();
    use graphd_core::ChangeType::*;
    assert_eq!(types, [HealthChanged, Updated, Created], "newest first");
    assert_eq!(
        reader.changes(&[id], &ChangeFilter { since: Timestamp(T0.0 + 1), ..ChangeFilter::newest(100) }).unwrap().len(),
        2,
        "since filters"
    );
    let health_only = ChangeFilter { types: vec![HealthChanged], ..ChangeFilter::newest(100) };
    assert_eq!(reader.changes(&[id], &health_only).unwrap().len(), 1, "types filter");
    let merged = reader.changes(&[id, id_of(&store, &e.pod_b)], &ChangeFilter::newest(100)).unwrap();
    assert_eq!(merged.len(), 4, "three of one pod, Created of the other");
    assert!(merged.windows(2).all(|w| w[0].at >= w[1].at), "newest first across items");
    assert_eq!(reader.changes(&[id, id_of(&store, &e.pod_b)], &ChangeFilter::newest(2)).unwrap().len(), 2);
}

// ---- edges and walks ------------------------------------------------------------------------

pub fn edges_are_stored_both_ways<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    let (pod, node, rs) = (id_of(&store, &e.pod_a), id_of(&store, &e.node), id_of(&store, &e.rs));
    let reader = store.read();
    let out = reader.edges(pod, true, false).unwrap();
    assert!(out.iter().any(|edge| edge.to == node && edge.relation == "runs-on"));
    let into_node = reader.edges(node, false, false).unwrap();
    let runs_on: Vec<_> = into_node.iter().filter(|e| e.to == node && e.relation == "runs-on").collect();
    assert_eq!(runs_on.len(), 2, "both pods, seen from the node");
    assert!(runs_on.iter().any(|edge| edge.from == pod));
    assert_eq!(runs_on[0].provenance, Provenance::Rule("test".into()));
    assert!(reader.edges(rs, true, false).unwrap().iter().any(|e| e.to == pod && e.relation == "owns"));
    let twice = store.apply(&[link(&e.pod_a, "runs-on", &e.node)], Timestamp(T0.0 + 1), "test").unwrap();
    assert_eq!(twice.edges_added, 0, "linking an existing edge again is a no-op");
}

pub fn related_never_switches_direction<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    let pod = id_of(&store, &e.pod_a);
    let reader = store.read();
    let out = reader.related(pod, &RelatedQuery::new(Direction::Outgoing, 6)).unwrap();
    let out_names = names_of(&store, out.hits.iter().map(|h| h.id));
    assert_eq!(out_names, set(&["ip-10-0-1-5", "web-config", "i-0abc", "subnet-1", "vpc-1", "us-east-1", "111"]));
    let depth_of =
        |name: &str| out.hits.iter().find(|h| reader.get(h.id, false).unwrap().unwrap().name == name).unwrap().depth;
    assert_eq!((depth_of("ip-10-0-1-5"), depth_of("i-0abc"), depth_of("111")), (1, 2, 6));

    let inc = reader.related(pod, &RelatedQuery::new(Direction::Incoming, 5)).unwrap();
    assert_eq!(names_of(&store, inc.hits.iter().map(|h| h.id)), set(&["web-1", "web", "ns-a", "c1"]));
    let via = inc
        .hits
        .iter()
        .find(|h| h.depth == 1 && reader.get(h.id, false).unwrap().unwrap().name == "web-1")
        .unwrap()
        .via;
    assert_eq!(via.to, pod, "an incoming hit's edge points at what it was reached from");

    let both = reader.related(pod, &RelatedQuery::new(Direction::Both, 6)).unwrap();
    let both_names = names_of(&store, both.hits.iter().map(|h| h.id));
    assert!(!both_names.contains("web-1-b"), "a sibling is never returned: {both_names:?}");
    assert_eq!(both.hits.len(), out.hits.len() + inc.hits.len());
    let ids: BTreeSet<_> = both.hits.iter().map(|h| h.id).collect();
    assert_eq!(ids.len(), both.hits.len(), "each item once");
}

pub fn related_filters_prune_the_walk<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    let (pod, deploy) = (id_of(&store, &e.pod_a), id_of(&store, &e.deploy));
    let reader = store.read();
    let mut query = RelatedQuery::new(Direction::Outgoing, 5);
    query.relations = vec!["runs-on".into()];
    let hits = reader.related(pod, &query).unwrap().hits;
    assert_eq!(names_of(&store, hits.iter().map(|h| h.id)), set(&["ip-10-0-1-5", "i-0abc"]));

    let mut query = RelatedQuery::new(Direction::Outgoing, 3);
    query.kinds = vec![kind("Kubernetes::ReplicaSet"), kind("Kubernetes::Pod")];
    let hits = reader.related(deploy, &query).unwrap().hits;
    assert_eq!(names_of(&store, hits.iter().map(|h| h.id)), set(&["web-1", "web-1-a", "web-1-b"]));
    query.kinds = vec![kind("Kubernetes::Pod")];
    assert!(reader.related(deploy, &query).unwrap().hits.is_empty(), "kinds prune: pods sit behind the ReplicaSet");

    let mut query = RelatedQuery::new(Direction::Both, 5);
    query.limit = 3;
    let limited = reader.related(pod, &query).unwrap();
    assert_eq!(limited.hits.len(), 3);
    assert!(limited.truncated);

    for depth in [0, 17, 1000] {
        let err = reader.related(pod, &RelatedQuery::new(Direction::Outgoing, depth)).unwrap_err();
        assert!(matches!(err, StoreError::InvalidQuery { field: "depth", .. }), "{err}");
    }
    let mut query = RelatedQuery::new(Direction::Outgoing, 1);
    query.relations = vec!["no-such".into()];
    assert!(matches!(reader.related(pod, &query), Err(StoreError::InvalidQuery { field: "relations", .. })));
    assert!(matches!(
        reader.related(ItemId(999_999), &RelatedQuery::new(Direction::Outgoing, 1)),
        Err(StoreError::UnknownId(_))
    ));
}

pub fn walk_up_crosses_kubernetes_and_cloud<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    let pod = id_of(&store, &e.pod_a);
    let reader = store.read();
    let up = reader.walk_up(pod, false).unwrap();
    let by_name =
        |name: &str| up.nodes.iter().find(|n| reader.get(n.id, false).unwrap().unwrap().name == name).copied();
    let expected = [
        ("web-1", 1),
        ("ns-a", 1),
        ("ip-10-0-1-5", 1),
        ("web", 2),
        ("c1", 2),
        ("i-0abc", 2),
        ("subnet-1", 3),
        ("vpc-1", 4),
        ("us-east-1", 5),
        ("111", 6),
    ];
    for (name, depth) in expected {
        let node = by_name(name).unwrap_or_else(|| panic!("{name} missing from walk-up"));
        assert_eq!(node.depth, depth, "{name}");
    }
    assert_eq!(up.nodes.len(), expected.len(), "no Service, ConfigMap or sibling Pod");
    let deploy = id_of(&store, &e.deploy);
    let cluster = id_of(&store, &e.cluster);
    let rs = id_of(&store, &e.rs);
    assert!(up.parents(rs).any(|l| l.parent == deploy));
    assert_eq!(
        up.links.iter().filter(|l| l.parent == cluster).count(),
        2,
        "the cluster over the namespace and over the node"
    );
}

pub fn walks_terminate_on_cycles<H: Harness>(h: &mut H) {
    let store = Store::open(h.fresh()).unwrap();
    let nodes: Vec<ItemWrite> = (0..6).map(|i| k8s(&format!("u{i}"), "Thing", &format!("t{i}"), None)).collect();
    let mut ops: Vec<Op> = nodes.iter().cloned().map(Op::Upsert).collect();
    for i in 0..6 {
        ops.push(link(&nodes[i], "member-of", &nodes[(i + 1) % 6]));
        ops.push(link(&nodes[i], "uses", &nodes[(i + 3) % 6]));
        ops.push(link(&nodes[i], "member-of", &nodes[i])); // a self-loop
    }
    store.apply(&ops, T0, "test").unwrap();
    let start = id_of(&store, &nodes[0]);
    let reader = store.read();
    for direction in [Direction::Outgoing, Direction::Incoming, Direction::Both] {
        let hits = reader.related(start, &RelatedQuery::new(direction, 16)).unwrap().hits;
        let ids: BTreeSet<_> = hits.iter().map(|h| h.id).collect();
        assert_eq!(ids.len(), hits.len(), "{direction:?}: each item once");
        assert_eq!(ids.len(), 5, "{direction:?}: every other item, never the start");
    }
    let up = reader.walk_up(start, false).unwrap();
    assert_eq!(up.nodes.len(), 5);
}

// ---- tombstones -----------------------------------------------------------------------------

pub fn deletes_tombstone_items_and_edges<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    let (pod, node) = (id_of(&store, &e.pod_a), id_of(&store, &e.node));
    let t1 = Timestamp(T0.0 + 100);
    let outcome = store.apply(&[Op::Delete(key(&e.pod_a))], t1, "test").unwrap();
    assert_eq!((outcome.deleted, outcome.edges_removed), (1, 5));
    let reader = store.read();
    assert!(reader.get(pod, false).unwrap().is_none(), "hidden by default");
    assert_eq!(reader.get(pod, true).unwrap().unwrap().deleted_at, Some(t1));
    assert!(reader.get_by_key(&e.pod_a.key, false).unwrap().is_none());
    assert!(reader.edges(pod, true, false).unwrap().is_empty());
    let kept = reader.edges(pod, true, true).unwrap();
    assert_eq!(kept.len(), 2, "runs-on and mounts kept as tombstones");
    assert!(kept.iter().all(|e| e.deleted_at == Some(t1)));
    let node_in = reader.related(node, &RelatedQuery::new(Direction::Incoming, 1)).unwrap();
    assert!(!node_in.hits.iter().any(|h| h.id == pod), "the node no longer sees the pod");
    let mut query = RelatedQuery::new(Direction::Incoming, 1);
    query.include_deleted = true;
    assert!(reader.related(node, &query).unwrap().hits.iter().any(|h| h.id == pod), "unless asked");
    assert!(reader.walk_up(pod, false).is_err(), "a deleted start is not found by default");
    assert_eq!(reader.walk_up(pod, true).unwrap().nodes.len(), 10, "as it was, when asked");
    assert_eq!(
        reader.changes(&[pod], &ChangeFilter::newest(10)).unwrap()[0].change_type,
        graphd_core::ChangeType::Deleted
    );
    let again = store.apply(&[Op::Delete(key(&e.pod_a))], Timestamp(t1.0 + 1), "test").unwrap();
    assert_eq!(again.deleted, 0, "deleting twice changes nothing");
    assert_edge_copies_agree(&store);
}

/// Every edge is stored both ways with one value (times and provenance), except that each copy
/// keeps the kind of its own far end.
fn assert_edge_copies_agree<E: Engine>(store: &Store<E>) {
    use crate::codec::{EdgeValue, ItemRecord};
    let snapshot = store.engine().snapshot();
    let kind_of = |id: ItemId| {
        let bytes = snapshot.get(Cf::Items, &crate::keys::item(id)).unwrap().expect("both ends are stored");
        ItemRecord::decode(&bytes).unwrap().kind
    };
    let all = contents(store);
    let copies = |cf: Cf| all.iter().filter(move |(c, ..)| *c == cf);
    let incoming: std::collections::HashMap<&[u8], EdgeValue> =
        copies(Cf::EdgesIn).map(|(_, key, value)| (key.as_slice(), EdgeValue::decode(value).unwrap())).collect();
    assert_eq!(copies(Cf::EdgesOut).count(), incoming.len(), "as many copies each way");
    for (_, key, value) in copies(Cf::EdgesOut) {
        let (from, rel, to) = crate::keys::decode_edge(key).unwrap();
        let out = EdgeValue::decode(value).unwrap();
        let inc = &incoming[crate::keys::edge(to, rel, from).as_slice()];
        assert_eq!(out.far_kind, kind_of(to), "the outgoing copy of {from:?} → {to:?} keeps the target's kind");
        assert_eq!(inc.far_kind, kind_of(from), "the incoming copy of {from:?} → {to:?} keeps the source's kind");
        assert_eq!(EdgeValue { far_kind: out.far_kind, ..*inc }, out, "one value both ways");
    }
}

pub fn recreated_object_is_a_new_item<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    let old = id_of(&store, &e.pod_a);
    store.apply(&[Op::Delete(key(&e.pod_a))], Timestamp(T0.0 + 1), "test").unwrap();
    let mut again = e.pod_a.clone();
    again.key = ExternalKey::kubernetes("c1", "pod-a-second-uid");
    let new = store
        .apply(
            &[Op::Upsert(again), link(&e.pod_a_replacement_parent(), "owns", &e.pod_a_recreated())],
            Timestamp(T0.0 + 2),
            "test",
        )
        .unwrap()
        .upserted[0];
    assert_ne!(old, new);
    let reader = store.read();
    let query = NameQuery {
        kind: kind("Kubernetes::Pod"),
        name: "web-1-a".into(),
        namespace: Some("ns-a".into()),
        cluster: Some("c1".into()),
    };
    let live: Vec<_> = reader.find_by_name(&query, false).unwrap().into_iter().map(|i| i.id).collect();
    assert_eq!(live, [new]);
    let all: BTreeSet<_> = reader.find_by_name(&query, true).unwrap().into_iter().map(|i| i.id).collect();
    assert_eq!(all, BTreeSet::from([old, new]), "the old one is still there as a tombstone");
    let rs = id_of(&store, &e.rs);
    let owned: Vec<_> = reader.edges(rs, true, false).unwrap().into_iter().map(|e| e.to).collect();
    assert!(owned.contains(&new) && !owned.contains(&old));
}

impl Estate {
    fn pod_a_replacement_parent(&self) -> ItemWrite {
        self.rs.clone()
    }

    fn pod_a_recreated(&self) -> ItemWrite {
        let mut pod = self.pod_a.clone();
        pod.key = ExternalKey::kubernetes("c1", "pod-a-second-uid");
        pod
    }
}

pub fn restored_item_keeps_its_id<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    let node = id_of(&store, &e.node);
    store.apply(&[Op::Delete(key(&e.node))], Timestamp(T0.0 + 1), "test").unwrap();
    let outcome = store.apply(&[Op::Upsert(e.node.clone())], Timestamp(T0.0 + 2), "test").unwrap();
    assert_eq!((outcome.restored, outcome.upserted[0]), (1, node));
    let reader = store.read();
    assert!(reader.get(node, false).unwrap().unwrap().deleted_at.is_none());
    assert!(reader.edges(node, false, false).unwrap().is_empty(), "edges come back only when re-asserted");
    drop(reader);
    store.apply(&[link(&e.pod_a, "runs-on", &e.node)], Timestamp(T0.0 + 3), "test").unwrap();
    assert_eq!(store.read().edges(node, false, false).unwrap().len(), 1);
    // The old tombstones no longer count: a purge past them keeps the restored node and edge.
    store.purge_tombstones(Timestamp(T0.0 + 10), 1000).unwrap();
    let reader = store.read();
    assert!(reader.get(node, false).unwrap().is_some());
    assert_eq!(reader.edges(node, false, false).unwrap().len(), 1);
}

pub fn failed_batch_changes_nothing<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    let before = store.read().list(&ListQuery { limit: 1000, include_deleted: true, ..ListQuery::default() }).unwrap();
    let newcomer = k8s("new", "Pod", "newcomer", Some("ns-a"));
    let ops = vec![
        Op::Upsert(newcomer.clone()),
        Op::Upsert(k8s("new2", "NewKind", "n2", Some("ns-a"))),
        link(&newcomer, "runs-on", &e.node),
        Op::Delete(key(&e.pod_b)),
        Op::Link(EdgeWrite {
            from: key(&newcomer),
            relation: "runs-on".into(),
            to: ExternalKey::kubernetes("c1", "absent"),
            provenance: Provenance::Api("t".into()),
        }),
    ];
    let err = store.apply(&ops, Timestamp(T0.0 + 1), "test").unwrap_err();
    assert!(
        matches!(&err, StoreError::InBatch { index: 4, source } if matches!(**source, StoreError::UnknownKey(_))),
        "{err}"
    );
    let reader = store.read();
    let after = reader.list(&ListQuery { limit: 1000, include_deleted: true, ..ListQuery::default() }).unwrap();
    assert_eq!(before, after, "no item landed, none was deleted");
    assert!(reader.get_by_key(&newcomer.key, true).unwrap().is_none());
    assert_eq!(reader.edges(id_of(&store, &e.node), false, false).unwrap().len(), 3, "two pods and the cluster");
    drop(reader);
    // Ids were not burnt: the next item gets the id the failed batch would have used.
    let next = store.apply(&[Op::Upsert(newcomer)], Timestamp(T0.0 + 2), "test").unwrap().upserted[0];
    assert_eq!(next, ItemId(15));
}

pub fn links_need_live_known_ends<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    store.apply(&[Op::Delete(key(&e.cm))], Timestamp(T0.0 + 1), "test").unwrap();
    let err = store.apply(&[link(&e.pod_b, "mounts", &e.cm)], Timestamp(T0.0 + 2), "test").unwrap_err();
    assert!(err.to_string().contains("is deleted"), "{err}");
    // Within one batch, an end is as the batch's earlier operations left it.
    let restored_then_linked =
        [unlink(&e.pod_b, "mounts", &e.cm), Op::Upsert(e.cm.clone()), link(&e.pod_b, "mounts", &e.cm)];
    let outcome = store.apply(&restored_then_linked, Timestamp(T0.0 + 2), "test").unwrap();
    assert_eq!((outcome.restored, outcome.edges_added), (1, 1));
    let linked_then_deleted =
        [link(&e.pod_b, "runs-on", &e.node), Op::Delete(key(&e.node)), link(&e.pod_b, "runs-on", &e.node)];
    let err = store.apply(&linked_then_deleted, Timestamp(T0.0 + 3), "test").unwrap_err();
    assert!(err.to_string().contains("is deleted"), "{err}");
    let err = store.apply(&[link(&e.pod_b, "no-such-relation", &e.node)], Timestamp(T0.0 + 2), "test").unwrap_err();
    assert!(err.to_string().contains("no-such-relation"), "{err}");
    let mut bad = e.pod_b.clone();
    bad.key = ExternalKey::kubernetes("c1", "");
    let err = store.apply(&[Op::Upsert(bad)], Timestamp(T0.0 + 2), "test").unwrap_err();
    assert!(err.to_string().contains("key.uid is empty"), "{err}");
    let mut other_kind = e.pod_b.clone();
    other_kind.kind = kind("Kubernetes::Node");
    let err = store.apply(&[Op::Upsert(other_kind)], Timestamp(T0.0 + 2), "test").unwrap_err();
    assert!(err.to_string().contains("cannot become"), "{err}");
}

// ---- lists ----------------------------------------------------------------------------------

pub fn list_pages_with_a_stable_cursor<H: Harness>(h: &mut H) {
    let (store, _) = loaded(h);
    let mut ops = Vec::new();
    for i in 0..25 {
        let mut pod = k8s(
            &format!("extra-{i}"),
            "Pod",
            &format!("extra-{i:02}"),
            Some(if i % 2 == 0 { "ns-a" } else { "ns-ab" }),
        );
        pod.labels.insert("tier".into(), if i % 3 == 0 { "db" } else { "web" }.into());
        ops.push(Op::Upsert(pod));
    }
    store.apply(&ops, Timestamp(T0.0 + 1), "test").unwrap();
    let reader = store.read();
    let mut query = ListQuery {
        scope: ScopeFilter { cluster: Some("c1".into()), namespace: Some("ns-a".into()), ..ScopeFilter::default() },
        kind: Some(kind("Kubernetes::Pod")),
        limit: 4,
        ..ListQuery::default()
    };
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let page = reader.list(&query).unwrap();
        pages += 1;
        assert!(page.items.len() <= 4);
        names.extend(page.items.into_iter().map(|i| i.name));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(names.len(), 13 + 2, "13 extras in ns-a plus web-1-a and web-1-b, none from ns-ab");
    assert_eq!(pages, 4);
    assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), names.len(), "no item twice across pages");

    let labelled = ListQuery {
        scope: ScopeFilter { cluster: Some("c1".into()), ..ScopeFilter::default() },
        labels: [("tier".to_string(), "db".to_string())].into(),
        limit: 100,
        ..ListQuery::default()
    };
    assert_eq!(reader.list(&labelled).unwrap().items.len(), 9);
    let unhealthy = ListQuery { health: Some(Health::Unhealthy), limit: 100, ..ListQuery::default() };
    assert_eq!(reader.list(&unhealthy).unwrap().items.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["web-1-b"]);
    let by_account = ListQuery {
        scope: ScopeFilter { account: Some("111".into()), ..ScopeFilter::default() },
        limit: 100,
        ..ListQuery::default()
    };
    assert_eq!(reader.list(&by_account).unwrap().items.len(), 5);
    let unknown_kind = ListQuery { kind: Some(kind("Kubernetes::Nothing")), limit: 10, ..ListQuery::default() };
    assert!(reader.list(&unknown_kind).unwrap().items.is_empty());
    let bad_cursor = ListQuery { cursor: Some("zz".into()), limit: 10, ..ListQuery::default() };
    assert!(matches!(reader.list(&bad_cursor), Err(StoreError::InvalidQuery { field: "cursor", .. })));
}

pub fn health_counts_by_scope<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    store.apply(&[Op::Delete(key(&e.cm))], Timestamp(T0.0 + 1), "test").unwrap();
    let reader = store.read();
    let ns = ScopeFilter { cluster: Some("c1".into()), namespace: Some("ns-a".into()), ..ScopeFilter::default() };
    let counts = reader.health_counts(&ns, None).unwrap();
    assert_eq!((counts.healthy, counts.unhealthy, counts.total()), (4, 1, 5), "deleted ConfigMap not counted");
    let pods = reader.health_counts(&ns, Some(&kind("Kubernetes::Pod"))).unwrap();
    assert_eq!((pods.healthy, pods.unhealthy), (1, 1));
    let region = ScopeFilter { region: Some("us-east-1".into()), ..ScopeFilter::default() };
    assert_eq!(reader.health_counts(&region, None).unwrap().unknown, 4);
}

// ---- durability and retention ---------------------------------------------------------------

pub fn reopen_keeps_everything<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    let pod = id_of(&store, &e.pod_a);
    let up_before = store.read().walk_up(pod, false).unwrap();
    let edges_before = store.read().edges(pod, true, true).unwrap();
    store.apply(&[Op::Delete(key(&e.pod_b))], Timestamp(T0.0 + 1), "test").unwrap();
    assert_eq!(store.edge_count(), 21);
    store.flush().unwrap();
    let engine = store.into_engine();
    let store = Store::open(h.reopen(engine)).unwrap();
    assert_eq!(store.edge_count(), 21, "live and tombstoned edges, counted again");
    let reader = store.read();
    assert_eq!(reader.walk_up(pod, false).unwrap(), up_before);
    assert_eq!(reader.edges(pod, true, true).unwrap(), edges_before, "provenances are named again after a reopen");
    assert_eq!(reader.get_by_key(&e.pod_a.key, false).unwrap().unwrap().id, pod);
    drop(reader);
    let fresh =
        store.apply(&[Op::Upsert(k8s("after", "Pod", "after", Some("ns-a")))], Timestamp(T0.0 + 1), "test").unwrap();
    assert_eq!(fresh.upserted[0], ItemId(15), "ids continue after a reopen");
}

/// A store written in another format is refused at open with both formats named, not misread.
pub fn a_store_in_another_format_is_refused<H: Harness>(h: &mut H) {
    let (store, _) = loaded(h);
    let engine = store.into_engine();
    let mut older = WriteBatch::new();
    older.delete(Cf::Meta, keys::META_FORMAT);
    engine.write(&older).unwrap();
    let Err(failure) = Store::open(h.reopen(engine)) else { panic!("a store without a format opened") };
    assert!(matches!(failure, StoreError::Format { expected: crate::store::FORMAT, .. }), "{failure}");
    assert!(failure.to_string().contains("format 1 (no format recorded)"), "{failure}");
    let engine = h.fresh();
    let store = Store::open(engine).unwrap();
    let engine = store.into_engine();
    let mut newer = WriteBatch::new();
    newer.put(Cf::Meta, keys::META_FORMAT, &(crate::store::FORMAT + 1).to_be_bytes());
    engine.write(&newer).unwrap();
    assert!(
        matches!(Store::open(h.reopen(engine)), Err(StoreError::Format { .. })),
        "an empty store in a newer format too"
    );
}

pub fn purge_removes_only_old_tombstones<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    let (pod_a, pod_b, node) = (id_of(&store, &e.pod_a), id_of(&store, &e.pod_b), id_of(&store, &e.node));
    store.apply(&[Op::Delete(key(&e.pod_a))], Timestamp(T0.0 + 100), "test").unwrap();
    store.apply(&[unlink(&e.svc, "selects", &e.pod_b)], Timestamp(T0.0 + 150), "test").unwrap();
    store.apply(&[Op::Delete(key(&e.pod_b))], Timestamp(T0.0 + 200), "test").unwrap();
    assert_eq!(store.edge_count(), 21, "tombstoned edges are counted");
    let stats = store.purge_tombstones(Timestamp(T0.0 + 160), 1000).unwrap();
    assert_eq!((stats.items, stats.more), (1, false));
    assert_eq!(stats.edges, 5 + 1, "pod a's five edges and the unlinked selects edge");
    assert_eq!(store.edge_count(), 21 - 6, "purged edges are not");
    let reader = store.read();
    assert!(reader.get(pod_a, true).unwrap().is_none(), "pod a is gone for good");
    assert!(reader.get_by_key(&e.pod_a.key, true).unwrap().is_none());
    assert!(reader.changes(&[pod_a], &ChangeFilter::newest(10)).unwrap().is_empty());
    assert!(reader.find_by_short_id("pod-a", true).unwrap().is_empty());
    assert!(!reader.edges(node, false, true).unwrap().iter().any(|e| e.from == pod_a), "no dangling mirror edge");
    assert!(reader.get(pod_b, true).unwrap().is_some(), "pod b was deleted after the bound");
    let from_b: Vec<_> = reader.edges(node, false, true).unwrap().into_iter().filter(|e| e.from == pod_b).collect();
    assert_eq!(from_b.len(), 1, "pod b's tombstoned edge stays");
    assert!(from_b[0].deleted_at.is_some());
    drop(reader);
    let later = store.purge_tombstones(Timestamp(T0.0 + 1000), 1).unwrap();
    assert!(later.more, "a bounded purge says more is waiting");
}

pub fn relations_keep_their_orientation<H: Harness>(h: &mut H) {
    let store = Store::open(h.fresh()).unwrap();
    let custom = graphd_core::Relation::new("scheduled-by", graphd_core::Orientation::Up).unwrap();
    let id = store.declare_relation(&custom).unwrap();
    assert_eq!(store.declare_relation(&custom).unwrap(), id);
    let flipped = graphd_core::Relation::new("scheduled-by", graphd_core::Orientation::Across).unwrap();
    assert!(store.declare_relation(&flipped).is_err());
    let engine = h.reopen(store.into_engine());
    let store = Store::open(engine).unwrap();
    let names = store.names();
    assert_eq!(names.relation(id).unwrap(), &custom, "declared relations survive a reopen");
    assert_eq!(
        names.relation(names.relation_id("contains").unwrap()).unwrap().orientation(),
        graphd_core::Orientation::Down
    );
}

pub fn walks_answer_as_of_their_snapshot<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    let (pod_a, node) = (id_of(&store, &e.pod_a), id_of(&store, &e.node));
    let before = store.read();
    let extra = k8s("pod-c", "Pod", "web-1-c", Some("ns-a"));
    let ops = [Op::Upsert(extra.clone()), link(&extra, "runs-on", &e.node), Op::Delete(key(&e.pod_a))];
    store.apply(&ops, Timestamp(T0.0 + 5), "test").unwrap();
    let after = store.read();
    let on_node = |reader: &crate::query::Reader<'_, H::E>| -> BTreeSet<String> {
        let mut query = RelatedQuery::new(Direction::Incoming, 1);
        query.relations = vec!["runs-on".into()];
        names_of(&store, reader.related(node, &query).unwrap().hits.into_iter().map(|h| h.id))
    };
    assert_eq!(on_node(&before), set(&["web-1-a", "web-1-b"]), "the old snapshot sees the old graph");
    assert_eq!(on_node(&after), set(&["web-1-b", "web-1-c"]), "a new snapshot sees the batch");
    assert_eq!(before.walk_up(pod_a, false).unwrap().nodes.len(), 10, "walk-up on the old snapshot");
    assert!(after.walk_up(pod_a, false).is_err());
}

/// Walks remember whether their start is live (see [`crate::liveness`]); what they remember
/// must follow every delete, restore and purge, and never leak into an older snapshot.
pub fn walk_starts_are_checked_as_of_each_snapshot<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    let node = id_of(&store, &e.node);
    let up = |reader: &crate::query::Reader<'_, H::E>, include_deleted| reader.walk_up(node, include_deleted).is_ok();
    assert!(up(&store.read(), false), "a live start, read and remembered");
    assert!(up(&store.read(), false), "a live start, as remembered");
    let before = store.read();
    store.apply(&[Op::Delete(key(&e.node))], Timestamp(T0.0 + 1), "test").unwrap();
    for _ in 0..2 {
        assert!(!up(&store.read(), false), "a deleted start is not found");
        assert!(up(&store.read(), true), "unless asked");
        assert!(up(&before, false), "an older snapshot still sees it live");
    }
    store.apply(&[Op::Upsert(e.node.clone())], Timestamp(T0.0 + 2), "test").unwrap();
    assert!(up(&store.read(), false), "restored");
    store.apply(&[Op::Delete(key(&e.node))], Timestamp(T0.0 + 3), "test").unwrap();
    assert!(up(&store.read(), true));
    store.purge_tombstones(Timestamp(T0.0 + 10), 1000).unwrap();
    assert!(!up(&store.read(), true), "purged: gone even when deleted items are asked for");
    let mut query = RelatedQuery::new(Direction::Both, 1);
    query.include_deleted = true;
    assert!(matches!(store.read().related(node, &query), Err(StoreError::UnknownId(_))));
}

pub fn an_edge_linked_and_unlinked_in_one_batch_is_a_tombstone<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    let (svc, cm) = (id_of(&store, &e.svc), id_of(&store, &e.cm));
    store.apply(&[link(&e.svc, "uses", &e.cm), unlink(&e.svc, "uses", &e.cm)], Timestamp(T0.0 + 5), "test").unwrap();
    assert_eq!(store.edge_count(), 22, "the tombstone is an edge");
    let reader = store.read();
    let mut query = RelatedQuery::new(Direction::Outgoing, 1);
    query.relations = vec!["uses".into()];
    assert!(reader.related(svc, &query).unwrap().hits.is_empty());
    query.include_deleted = true;
    let hits = reader.related(svc, &query).unwrap().hits;
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), [cm], "kept as a tombstone");
    assert_eq!(reader.edges(svc, true, true).unwrap().iter().filter(|e| e.relation == "uses").count(), 1);
}

/// The batch's own edges of an item it deletes are tombstoned with it, however many there
/// are and whichever way they point.
pub fn an_item_deleted_by_the_batch_that_linked_it_takes_its_edges_along<H: Harness>(h: &mut H) {
    let (store, e) = loaded(h);
    let pod = k8s("pod-c", "Pod", "web-1-c", Some("ns-a"));
    let ops = [
        Op::Upsert(pod.clone()),
        link(&e.ns, "contains", &pod),
        link(&pod, "runs-on", &e.node),
        link(&e.rs, "owns", &pod),
        link(&pod, "mounts", &e.cm),
        link(&e.svc, "selects", &pod),
        Op::Delete(key(&pod)),
    ];
    let outcome = store.apply(&ops, Timestamp(T0.0 + 5), "test").unwrap();
    assert_eq!((outcome.created, outcome.deleted, outcome.edges_added, outcome.edges_removed), (1, 1, 5, 5));
    let id = id_of(&store, &pod);
    let reader = store.read();
    for outgoing in [true, false] {
        assert!(reader.edges(id, outgoing, false).unwrap().is_empty(), "no live edge (outgoing: {outgoing})");
    }
    let kept = [reader.edges(id, true, true).unwrap(), reader.edges(id, false, true).unwrap()].concat();
    assert_eq!(kept.len(), 5, "every edge kept as a tombstone");
    assert!(kept.iter().all(|edge| edge.deleted_at == Some(Timestamp(T0.0 + 5))));
    let node_in = reader.related(id_of(&store, &e.node), &RelatedQuery::new(Direction::Incoming, 1)).unwrap();
    assert!(!node_in.hits.iter().any(|hit| hit.id == id), "the node does not see the deleted pod");
    assert_edge_copies_agree(&store);
}

// ---- paths, resync, change feed -------------------------------------------------------------

pub fn path_is_shortest_either_way<H: Harness>(h: &mut H) {
    use crate::query::PathQuery;
    let (store, e) = loaded(h);
    let (svc, subnet) = (id_of(&store, &e.svc), id_of(&store, &e.subnet));
    let reader = store.read();
    let path = reader.path(svc, subnet, &PathQuery::default()).unwrap().expect("connected");
    // Service selects Pod, Pod runs on Node, Node runs on instance, instance in subnet.
    assert_eq!(path.items.len(), 5, "{path:?}");
    assert_eq!((path.items[0], path.items[4]), (svc, subnet));
    for (pair, via) in path.items.windows(2).zip(&path.edges) {
        let ends = [via.from, via.to];
        assert!(ends.contains(&pair[0]) && ends.contains(&pair[1]), "each edge joins its neighbours");
    }
    let names = names_of(&store, path.items.iter().copied());
    assert!(names.contains("ip-10-0-1-5") && names.contains("i-0abc"));

    let no_selects =
        PathQuery { relations: vec!["contains".into(), "runs-on".into(), "member-of".into()], ..PathQuery::default() };
    let around = reader.path(svc, subnet, &no_selects).unwrap().expect("through the namespace");
    assert_eq!(around.edges.len(), 5, "one step longer without `selects`: {around:?}");
    assert!(reader.path(svc, subnet, &PathQuery { max_depth: 3, ..PathQuery::default() }).unwrap().is_none());
    let only_mounts = PathQuery { relations: vec!["mounts".into()], ..PathQuery::default() };
    assert!(reader.path(svc, subnet, &only_mounts).unwrap().is_none());
    assert_eq!(reader.path(svc, svc, &PathQuery::default()).unwrap().unwrap().items, vec![svc]);
    let unknown = PathQuery { relations: vec!["likes".into()], ..PathQuery::default() };
    assert!(matches!(reader.path(svc, subnet, &unknown), Err(StoreError::InvalidQuery { field: "relations", .. })));
    assert!(matches!(reader.path(svc, ItemId(999_999), &PathQuery::default()), Err(StoreError::UnknownId(_))));
}

pub fn resync_tombstones_only_what_its_scope_did_not_report<H: Harness>(h: &mut H) {
    use crate::{KeyScope, Resync};
    use std::collections::HashSet;
    let (store, e) = loaded(h);
    let mut other_cluster = k8s("pod-x", "Pod", "web-1-x", Some("ns-a"));
    other_cluster.key = ExternalKey::kubernetes("c2", "pod-x");
    store.apply(&[Op::Upsert(other_cluster.clone())], T0, "test").unwrap();
    let at = Timestamp(T0.0 + 10);
    let pods = Resync { scope: KeyScope::Kubernetes { cluster: "c1".into() }, kinds: vec![kind("Kubernetes::Pod")] };
    let reported: HashSet<ExternalKey> = HashSet::from([key(&e.pod_a)]);
    let outcome = store.resync(&pods, &reported, at, "k8s").unwrap();
    assert_eq!(outcome.deleted, 1, "pod-b only: other kinds and clusters are not this resync's");
    let reader = store.read();
    assert!(reader.get_by_key(&e.pod_b.key, false).unwrap().is_none());
    for kept in [&e.pod_a, &e.rs, &e.node, &other_cluster] {
        assert!(reader.get_by_key(&kept.key, false).unwrap().is_some(), "{} kept", kept.name);
    }
    let change = &reader.changes(&[id_of(&store, &e.pod_b)], &ChangeFilter::newest(1)).unwrap()[0];
    assert!(change.source.contains("resync"), "the change says why: {change:?}");
    drop(reader);

    let everything =
        Resync { scope: KeyScope::Aws { account: "111".into(), region: "us-east-1".into() }, kinds: vec![] };
    let all_aws: HashSet<ExternalKey> =
        [&e.instance, &e.subnet, &e.vpc, &e.region, &e.account].into_iter().map(key).collect();
    assert_eq!(store.resync(&everything, &all_aws, at, "aws").unwrap().deleted, 0, "all reported");
    let gone = store.resync(&everything, &HashSet::new(), at, "aws").unwrap();
    assert_eq!(gone.deleted, 5);
    assert!(store.read().get_by_key(&e.node.key, false).unwrap().is_some(), "Kubernetes is not AWS's to resync");
    let never_seen =
        Resync { scope: KeyScope::Kubernetes { cluster: "c1".into() }, kinds: vec![kind("Kubernetes::Job")] };
    assert_eq!(store.resync(&never_seen, &HashSet::new(), at, "k8s").unwrap().deleted, 0);
}

pub fn change_listener_hears_each_commit<H: Harness>(h: &mut H) {
    use crate::ChangeListener;
    use std::sync::{Arc, Mutex};
    let store = Store::open(h.fresh()).unwrap();
    let heard: Arc<Mutex<Vec<Vec<graphd_core::Change>>>> = Arc::default();
    let sink = Arc::clone(&heard);
    store.set_change_listener(ChangeListener::new(move |changes| sink.lock().unwrap().push(changes.to_vec())));
    let e = estate();
    store.apply(&estate_ops(&e), T0, "test").unwrap();
    store.apply(&[Op::Upsert(e.pod_a.clone())], T0, "test").unwrap();
    let mut failing = e.pod_b.clone();
    failing.kind = kind("Kubernetes::Node");
    assert!(store.apply(&[Op::Delete(key(&e.cm)), Op::Upsert(failing)], T0, "test").is_err());
    store.apply(&[Op::Delete(key(&e.cm))], Timestamp(T0.0 + 1), "test").unwrap();
    let heard = heard.lock().unwrap();
    assert_eq!(heard.len(), 2, "an unchanged upsert and a failed batch say nothing");
    assert_eq!(heard[0].len(), 14, "one Created per item");
    let cm = id_of(&store, &e.cm);
    assert_eq!((heard[1][0].item, heard[1][0].change_type), (cm, graphd_core::ChangeType::Deleted));
}

// ---- many batches at once -------------------------------------------------------------------

/// Every entry of every column family.
pub(crate) fn contents<E: Engine>(store: &Store<E>) -> Vec<(Cf, Vec<u8>, Vec<u8>)> {
    let snapshot = store.engine().snapshot();
    let mut out = Vec::new();
    for cf in Cf::ALL {
        snapshot
            .scan_prefix(cf, b"", &mut |key, value| {
                out.push((cf, key.to_vec(), value.to_vec()));
                true
            })
            .unwrap();
    }
    out
}

/// The estate a few operations at a time (links and rule references crossing batches), with
/// documents the built-in rules link by, then changes to what the first batches wrote.
fn estate_in_batches() -> Vec<Vec<Op>> {
    let e = estate();
    let mut ops = estate_ops(&e);
    for op in &mut ops {
        if let Op::Upsert(item) = op {
            if item.key == e.pod_a.key || item.key == e.pod_b.key {
                item.document = serde_json::json!({
                    "metadata": {"ownerReferences": [{"kind": "ReplicaSet", "name": "web-1", "uid": "rs"}]},
                    "spec": {"nodeName": "ip-10-0-1-5", "volumes": [{"configMap": {"name": "web-config"}}]},
                });
            }
        }
    }
    // The targets of the Pods' references come after the Pods, in later batches.
    ops[..14].reverse();
    let mut batches: Vec<Vec<Op>> = ops.chunks(4).map(<[Op]>::to_vec).collect();
    let mut relabelled = e.pod_a.clone();
    relabelled.labels.insert("app".into(), "api".into());
    batches.push(vec![Op::Upsert(relabelled), Op::Delete(key(&e.pod_b))]);
    batches.push(vec![Op::Delete(key(&e.rs)), Op::Upsert(e.rs.clone())]);
    batches
}

pub fn batches_applied_together_land_as_one_by_one<H: Harness>(h: &mut H) {
    applied_together_and_one_by_one(h, 0);
}

/// The same into a store that already holds the first batches: the load must read what it
/// does not know from the store, where into an empty one it reads nothing.
pub fn batches_applied_together_to_a_stored_estate_land_as_one_by_one<H: Harness>(h: &mut H) {
    applied_together_and_one_by_one(h, 2);
}

/// Applies the estate's batches to two stores, the first `stored` of them one by one to both,
/// then the rest one by one to one store and all together to the other.
fn applied_together_and_one_by_one<H: Harness>(h: &mut H, stored: usize) {
    let batches = estate_in_batches();
    let one_by_one = Store::open(h.fresh()).unwrap();
    let together = Store::open(h.fresh()).unwrap();
    let at = |n: usize| Timestamp(T0.0 + n as u64);
    for store in [&one_by_one, &together] {
        store.set_rules(graphd_rules::builtin::rules().unwrap()).unwrap();
        for (n, batch) in batches[..stored].iter().enumerate() {
            store.apply(batch, at(n), "test").unwrap();
        }
    }
    let mut outcomes = Vec::new();
    for (n, batch) in batches.iter().enumerate().skip(stored) {
        outcomes.push((n - stored, one_by_one.apply(batch, at(n), "test").unwrap()));
    }
    let mut landed = Vec::new();
    let timed = batches.iter().enumerate().skip(stored).map(|(n, batch)| (batch, at(n)));
    together.apply_all(timed, "test", |index, outcome| landed.push((index, outcome))).unwrap();
    assert_eq!(landed, outcomes, "each batch reported once, in order");
    assert!(contents(&together) == contents(&one_by_one), "the same entries in every column family");
    let names = together.names();
    let by_builtin_rules = contents(&together)
        .iter()
        .filter(|(cf, _, value)| {
            *cf == Cf::EdgesOut
                && matches!(names.provenance(crate::codec::EdgeValue::decode(value).unwrap().provenance),
                    Some(Provenance::Rule(rule)) if rule.starts_with("k8s-"))
        })
        .count();
    assert!(by_builtin_rules >= 2, "the rules linked the Pods to what came in later batches");
}

pub fn batches_applied_together_stop_at_the_first_failure<H: Harness>(h: &mut H) {
    let e = estate();
    let ops = estate_ops(&e);
    let (items, links) = ops.split_at(14);
    let unknown = k8s("nowhere", "Pod", "nowhere", Some("ns-a"));
    let batches =
        [items.to_vec(), links.to_vec(), vec![link(&e.pod_a, "mounts", &unknown)], vec![Op::Delete(key(&e.cm))]];
    let expected = Store::open(h.fresh()).unwrap();
    for batch in &batches[..2] {
        expected.apply(batch, T0, "test").unwrap();
    }
    let store = Store::open(h.fresh()).unwrap();
    let mut landed = Vec::new();
    let failed = store.apply_all(batches.iter().map(|b| (b, T0)), "test", |index, _| landed.push(index));
    assert!(
        format!("{failed:?}").contains("UnknownKey(Kubernetes { cluster: \"c1\", uid: \"nowhere\" })"),
        "{failed:?}"
    );
    assert_eq!(landed, [0, 1], "the batches before the failure landed, and only they");
    assert!(contents(&store) == contents(&expected), "nothing of the failed batch or after it");
    store.apply(&[Op::Delete(key(&e.cm))], T0, "test").expect("the store takes batches after a failed load");
}
