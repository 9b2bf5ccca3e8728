//! Linking by the built-in rules over the real objects in `../shared/fixtures/k8s`.

use graphd::import::{import, parse_objects};
use graphd_core::{ItemId, Provenance};
use graphd_rocks::{RocksEngine, RocksOptions};
use graphd_store::codec::EdgeValue;
use graphd_store::engine::{Engine, Snapshot};
use graphd_store::query::{Direction, NameQuery, RelatedQuery};
use graphd_store::{Cf, Store};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub fn fixture(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/k8s").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    parse_objects(&text).unwrap()
}

/// A store on disk in `dir`, linking by the built-in rules.
fn linking_store(dir: &std::path::Path) -> Store<RocksEngine> {
    let store = Store::open(RocksEngine::open(dir, &RocksOptions::default()).unwrap()).unwrap();
    store.set_rules(graphd_rules::builtin::rules().unwrap()).unwrap();
    store
}

/// `object` as an item of cluster c1.
fn item(object: Value) -> graphd_core::ItemWrite {
    graphd::import::to_item("c1", &object).unwrap()
}

fn imported(name: &str, dir: &std::path::Path) -> Store<RocksEngine> {
    let store = linking_store(dir);
    let report = import(&store, "c1", &fixture(name), |_, _| {}).unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    store
}

/// Live edges per rule that made them.
pub fn edges_by_rule<E: Engine>(store: &Store<E>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let names = store.names();
    store
        .engine()
        .snapshot()
        .scan_prefix(Cf::EdgesOut, &[], &mut |_, value| {
            let value = EdgeValue::decode(value).unwrap();
            if let (Some(Provenance::Rule(rule)), None) = (names.provenance(value.provenance), value.deleted_at) {
                *out.entry(rule.clone()).or_default() += 1;
            }
            true
        })
        .unwrap();
    out
}

fn check(found: &BTreeMap<String, usize>, expected: &[(&str, usize)]) {
    for (rule, count) in expected {
        assert_eq!(found.get(*rule).copied().unwrap_or(0), *count, "{rule}: {found:#?}");
    }
}

fn id_by_name<E: Engine>(store: &Store<E>, kind: &str, namespace: Option<&str>, name: &str) -> ItemId {
    let query = NameQuery {
        kind: graphd_core::Kind::new(kind).unwrap(),
        name: name.into(),
        namespace: namespace.map(str::to_owned),
        cluster: None,
    };
    let found = store.read().find_by_name(&query, false).unwrap();
    assert_eq!(found.len(), 1, "{kind} {name}");
    found[0].id
}

#[test]
fn k3s_snapshot_links_as_expected_links_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = imported("k3s-troubleshoot-real-snapshot.json", dir.path());
    // The resolved side of EXPECTED_LINKS.txt, per rule. Where graphd differs, the reason is
    // next to the line.
    check(
        &edges_by_rule(&store),
        &[
            ("k8s-pod-node", 11),
            ("k8s-pod-service-account", 13),
            ("k8s-pod-priority-class", 5),
            ("k8s-pod-configmap-projected", 12),
            ("k8s-pod-configmap-volume", 4),
            ("k8s-pod-secret-projected", 0),
            // 7 endpoint entries, two of them on one Node in one slice: one edge.
            ("k8s-endpointslice-node", 6),
            ("k8s-endpointslice-pod", 7),
            ("k8s-endpointslice-service", 7),
            ("k8s-endpoints-service", 7),
            ("k8s-service-pods", 9),
            ("k8s-namespace", 335),
            ("k8s-owner-reference", 33),
            ("k8s-rolebinding-role", 9),
            ("k8s-clusterrolebinding-clusterrole", 59),
            // Subjects that are ServiceAccounts present in the snapshot (the rest wait).
            ("k8s-rolebinding-service-account", 2),
            ("k8s-clusterrolebinding-service-account", 39),
            // Resolved by uid: 52+1+11+4+4+3+71+10+4 of EXPECTED_LINKS' Event lines.
            ("k8s-event-object", 160),
            // EXPECTED_LINKS resolves 3 of 20 Node events (by uid); the kubelet's other 17
            // carry the node's name as uid, and graphd links them by name.
            ("k8s-event-node", 17),
        ],
    );
}

#[test]
fn k3s_walk_up_and_blast_radius() {
    let dir = tempfile::tempdir().unwrap();
    let store = imported("k3s-troubleshoot-real-snapshot.json", dir.path());
    let pod = id_by_name(&store, "Kubernetes::Pod", Some("default"), "backend-api-75fb46b7bd-xtkrh");
    let reader = store.read();
    let up = reader.walk_up(pod, false).unwrap();
    let kinds: Vec<String> = up.nodes.iter().map(|n| reader.names().kind(n.kind).unwrap().to_string()).collect();
    for kind in [
        "Kubernetes::ReplicaSet",
        "Kubernetes::Deployment",
        "Kubernetes::Namespace",
        "Kubernetes::Cluster",
        "Kubernetes::Node",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "walk-up reaches {kind}: {kinds:?}");
    }
    let config = id_by_name(&store, "Kubernetes::ConfigMap", Some("default"), "kube-root-ca.crt");
    let mut query = RelatedQuery::new(Direction::Incoming, 1);
    query.kinds = vec![graphd_core::Kind::new("Kubernetes::Pod").unwrap()];
    let mounting = reader.related(config, &query).unwrap().hits;
    assert_eq!(mounting.len(), 6, "every Pod of default mounts its root CA");
}

#[test]
fn openshift_snapshot_links_storage_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let store = imported("openshift-vsphere-mustgather-monitoring-pv.json", dir.path());
    check(
        &edges_by_rule(&store),
        &[
            ("k8s-pv-claim", 2),
            ("k8s-pvc-pv", 2),
            ("k8s-pv-storage-class", 2),
            ("k8s-pvc-storage-class", 2),
            ("k8s-pod-pvc", 2),
            ("k8s-pod-node", 21),
            ("k8s-pod-secret-volume", 63),
            ("k8s-pod-image-pull-secret", 14),
            // Two PDBs, each selecting the two Pods of its Deployment.
            ("k8s-pdb-pods", 4),
            // prometheus-k8s (2 replicas, template prometheus-data) and its claims, found by
            // name (they carry no ownerReference): EXPECTED_LINKS counts the set once, graphd
            // links each of its two claims.
            ("k8s-statefulset-pvc", 2),
            ("k8s-service-pods", 28),
            ("k8s-namespace", 207),
        ],
    );
    let claim = id_by_name(
        &store,
        "Kubernetes::PersistentVolumeClaim",
        Some("openshift-monitoring"),
        "prometheus-data-prometheus-k8s-1",
    );
    let reader = store.read();
    let up = reader.walk_up(claim, false).unwrap();
    let kinds: Vec<String> = up.nodes.iter().map(|n| reader.names().kind(n.kind).unwrap().to_string()).collect();
    assert!(
        kinds.iter().any(|k| k == "Kubernetes::StatefulSet"),
        "walk-up from a claim reaches its StatefulSet: {kinds:?}"
    );
}

#[test]
fn an_empty_service_selector_selects_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = imported("k3s-troubleshoot-real-snapshot.json", dir.path());
    let kubernetes = id_by_name(&store, "Kubernetes::Service", Some("default"), "kubernetes");
    let reader = store.read();
    let mut query = RelatedQuery::new(Direction::Outgoing, 1);
    query.relations = vec!["selects".into()];
    assert!(reader.related(kubernetes, &query).unwrap().hits.is_empty());
}

/// Sources of `rule` with at least one live edge.
fn sources_linked<E: Engine>(store: &Store<E>, rule: &str) -> usize {
    let mut sources = std::collections::BTreeSet::new();
    let names = store.names();
    store
        .engine()
        .snapshot()
        .scan_prefix(Cf::EdgesOut, &[], &mut |key, value| {
            let value = EdgeValue::decode(value).unwrap();
            if value.deleted_at.is_none() && names.provenance(value.provenance) == Some(&Provenance::Rule(rule.into()))
            {
                sources.insert(key[..8].to_vec());
            }
            true
        })
        .unwrap();
    sources.len()
}

#[test]
fn popeye_name_references_link_and_dangling_ones_wait() {
    let dir = tempfile::tempdir().unwrap();
    let store = imported("popeye-lint-crossrefs.json", dir.path());
    let found = edges_by_rule(&store);
    let sum = |rules: &[&str]| rules.iter().map(|r| found.get(*r).copied().unwrap_or(0)).sum::<usize>();
    check(
        &found,
        &[
            ("k8s-endpoints-service", 3),
            ("k8s-gateway-class", 1),
            ("k8s-httproute-gateway", 1),
            ("k8s-httproute-service", 3),
            ("k8s-ingress-class", 0),
            ("k8s-ingress-service", 4),
            ("k8s-pv-claim", 1),
            ("k8s-pv-storage-class", 0),
            ("k8s-pvc-pv", 0),
            ("k8s-pvc-storage-class", 0),
            ("k8s-pod-configmap-projected", 1),
            ("k8s-pod-configmap-volume", 3),
            ("k8s-pod-pvc", 3),
            ("k8s-pod-secret-projected", 1),
            ("k8s-pod-secret-volume", 3),
            ("k8s-pod-service-account", 9),
            ("k8s-service-pods", 3),
            ("k8s-namespace", 103),
            ("k8s-rolebinding-role", 1),
            ("k8s-rolebinding-clusterrole", 0),
            ("k8s-clusterrolebinding-clusterrole", 1),
            ("k8s-rolebinding-service-account", 0),
            ("k8s-clusterrolebinding-service-account", 1),
            // These objects have no uids: every ownerReference dangles and waits.
            ("k8s-owner-reference", 0),
        ],
    );
    assert_eq!(sum(&["k8s-pod-configmap-env", "k8s-pod-configmap-env-from"]), 3, "Pod->ConfigMap (env)");
    assert_eq!(sum(&["k8s-pod-secret-env", "k8s-pod-secret-env-from"]), 3, "Pod->Secret (env)");
    assert_eq!(sum(&["k8s-hpa-deployment", "k8s-hpa-statefulset", "k8s-hpa-replicaset"]), 3, "HPA->scaleTargetRef");
    assert_eq!(sources_linked(&store, "k8s-network-policy-pods"), 12, "NetworkPolicies selecting >= 1 Pod");
    assert_eq!(sources_linked(&store, "k8s-pdb-pods"), 4, "PDBs selecting >= 1 Pod");
    assert_eq!(sources_linked(&store, "k8s-service-pods"), 1, "Services selecting >= 1 Pod");
}

#[test]
fn a_missing_target_waits_and_links_when_it_arrives_and_again_when_recreated() {
    use graphd_core::{ExternalKey, Timestamp};
    use graphd_store::Op;
    let dir = tempfile::tempdir().unwrap();
    let store = linking_store(dir.path());
    let deploy = item(
        serde_json::json!({"kind": "Deployment", "metadata": {"name": "web", "namespace": "apps", "uid": "d1",
        "labels": {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}}}),
    );
    let kustomization = item(
        serde_json::json!({"kind": "Kustomization", "metadata": {"name": "apps", "namespace": "flux-system", "uid": "k1"}}),
    );
    store.apply(&[Op::Upsert(deploy.clone())], Timestamp(1), "test").unwrap();
    let manages = |store: &Store<RocksEngine>| edges_by_rule(store).get("flux-kustomization").copied().unwrap_or(0);
    assert_eq!(manages(&store), 0, "the Kustomization is not there yet");
    store.apply(&[Op::Upsert(kustomization.clone())], Timestamp(2), "test").unwrap();
    assert_eq!(manages(&store), 1, "it arrived: the waiting reference became an edge");
    let deploy_id = store.read().get_by_key(&deploy.key, false).unwrap().unwrap().id;
    let up = store.read().walk_up(deploy_id, false).unwrap();
    let kinds: Vec<String> = up.nodes.iter().map(|n| store.names().kind(n.kind).unwrap().to_string()).collect();
    assert!(
        kinds.contains(&"Kubernetes::Kustomization".to_string()),
        "walk-up from a Deployment reaches its Kustomization: {kinds:?}"
    );
    store.apply(&[Op::Delete(kustomization.key.clone())], Timestamp(3), "test").unwrap();
    assert_eq!(manages(&store), 0, "deleted: the edge is a tombstone and the reference waits again");
    let mut recreated = kustomization.clone();
    recreated.key = ExternalKey::kubernetes("c1", "k2");
    store.apply(&[Op::Upsert(recreated)], Timestamp(4), "test").unwrap();
    assert_eq!(manages(&store), 1, "recreated with a new uid: linked again");
    let mut relabelled = deploy.clone();
    relabelled.labels.clear();
    relabelled.document["metadata"]["labels"] = serde_json::json!({});
    store.apply(&[Op::Upsert(relabelled)], Timestamp(5), "test").unwrap();
    assert_eq!(manages(&store), 0, "the source changed: only the difference is written");
}

/// Namespace containment is answered from the scope index: a Namespace that arrives after its
/// items, or comes back with a new uid, contains them, and no reference to it is indexed.
#[test]
fn a_namespace_contains_its_items_whatever_came_first_and_again_when_recreated() {
    use graphd_core::{ExternalKey, Timestamp};
    use graphd_store::Op;
    let dir = tempfile::tempdir().unwrap();
    let store = linking_store(dir.path());
    let object = |kind: &str, namespace: &str, uid: &str| serde_json::json!({"kind": kind, "metadata": {"name": uid, "namespace": namespace, "uid": uid}});
    let in_apps = [item(object("Pod", "apps", "p1")), item(object("ConfigMap", "apps", "cm1"))];
    let elsewhere = [
        item(object("Pod", "other", "p2")),
        graphd::import::to_item("c2", &object("Pod", "apps", "p3")).unwrap(),
        item(serde_json::json!({"kind": "Node", "metadata": {"name": "node-a", "uid": "n1"}})),
    ];
    let namespace = item(serde_json::json!({"kind": "Namespace", "metadata": {"name": "apps", "uid": "ns1"}}));
    let upserts: Vec<Op> = in_apps.iter().chain(&elsewhere).cloned().map(Op::Upsert).collect();
    store.apply(&upserts, Timestamp(1), "test").unwrap();
    let contains = |store: &Store<RocksEngine>| edges_by_rule(store).get("k8s-namespace").copied().unwrap_or(0);
    assert_eq!(contains(&store), 0, "the Namespace is not there yet");

    store.apply(&[Op::Upsert(namespace.clone())], Timestamp(2), "test").unwrap();
    assert_eq!(contains(&store), 2, "it arrived: it contains the Pod and the ConfigMap of apps in c1");
    let namespace_id = store.read().get_by_key(&namespace.key, false).unwrap().unwrap().id;
    let pod_id = store.read().get_by_key(&in_apps[0].key, false).unwrap().unwrap().id;
    let up = store.read().walk_up(pod_id, false).unwrap();
    assert!(up.nodes.iter().any(|n| n.id == namespace_id), "walk-up from the Pod reaches its Namespace");

    store.apply(&[Op::Delete(namespace.key.clone())], Timestamp(3), "test").unwrap();
    assert_eq!(contains(&store), 0, "deleted: its edges are tombstones");
    let mut recreated = namespace.clone();
    recreated.key = ExternalKey::kubernetes("c1", "ns2");
    store.apply(&[Op::Upsert(recreated)], Timestamp(4), "test").unwrap();
    assert_eq!(contains(&store), 2, "recreated with a new uid: it contains them again");

    let mut indexed = 0;
    store
        .engine()
        .snapshot()
        .scan_prefix(Cf::Pending, b"r", &mut |_, _| {
            indexed += 1;
            true
        })
        .unwrap();
    assert_eq!(indexed, 0, "these items reference nothing but their namespace, which is not indexed");
}

/// A target changed without a change to what finds it leaves the edges to it as they are; one
/// deleted and reported again within one batch is linked again, as a new item would be.
#[test]
fn a_target_deleted_and_restored_in_one_batch_is_linked_again() {
    use graphd_core::Timestamp;
    use graphd_store::Op;
    let store = Store::open(graphd_store::MemEngine::new()).unwrap();
    store.set_rules(graphd_rules::builtin::rules().unwrap()).unwrap();
    let pod = item(serde_json::json!({"kind": "Pod", "metadata": {"name": "web-1", "namespace": "apps", "uid": "p1"},
        "spec": {"nodeName": "node-a"}}));
    let node = item(serde_json::json!({"kind": "Node", "metadata": {"name": "node-a", "uid": "n1"}}));
    let runs_on =
        |store: &Store<graphd_store::MemEngine>| edges_by_rule(store).get("k8s-pod-node").copied().unwrap_or(0);
    store.apply(&[Op::Upsert(pod), Op::Upsert(node.clone())], Timestamp(1), "test").unwrap();
    assert_eq!(runs_on(&store), 1, "the Pod runs on its Node");

    let mut cordoned = node.clone();
    cordoned.document["spec"] = serde_json::json!({"unschedulable": true});
    store.apply(&[Op::Upsert(cordoned.clone())], Timestamp(2), "test").unwrap();
    assert_eq!(runs_on(&store), 1, "the Node changed, not its name: the edge stays");

    let back = [Op::Delete(node.key.clone()), Op::Upsert(cordoned)];
    let outcome = store.apply(&back, Timestamp(3), "test").unwrap();
    assert_eq!(outcome.deleted, 1);
    assert_eq!(runs_on(&store), 1, "deleted and back in one batch: the Pod links to it again");
}

/// The built-in rules and `custom`, a rule file's text.
fn builtin_with(custom: &str) -> graphd_rules::RuleSet {
    let mut set = graphd_rules::builtin::rules().unwrap();
    set.rules.extend(graphd_rules::load(&[("custom.yaml".into(), custom.into())]).unwrap().rules);
    set
}

/// A rule of one's own, besides the built-in `k8s-pod-node`.
const CUSTOM_POD_NODE: &str = r#"
version: 1
rules:
  - name: custom-pod-node
    from: {kind: "Kubernetes::Pod"}
    relation: uses
    to: {kind: "Kubernetes::Node", match: name, values: spec.nodeName, scope: cluster}
"#;

/// Live edges made by `rule`.
fn edges_of_rule<E: Engine>(store: &Store<E>, rule: &str) -> usize {
    edges_by_rule(store).get(rule).copied().unwrap_or(0)
}

/// A source changed is derived again unless its rules plan from it what they planned before;
/// a rule reads an item's labels as well as its document.
#[test]
fn a_source_whose_labels_alone_change_is_linked_by_what_they_say_now() {
    use graphd_core::Timestamp;
    use graphd_store::Op;
    let store = Store::open(graphd_store::MemEngine::new()).unwrap();
    store
        .set_rules(builtin_with(
            r#"
version: 1
rules:
  - name: database-host-node
    from: {kind: "Kubernetes::Pod", labels: {tier: db}}
    relation: uses
    to: {kind: "Kubernetes::Node", match: name, values: spec.nodeName, scope: cluster}
"#,
        ))
        .unwrap();
    let node = item(serde_json::json!({"kind": "Node", "metadata": {"name": "node-a", "uid": "n1"}}));
    // Labels given beside the document, as an API caller may send them.
    let mut pod =
        item(serde_json::json!({"kind": "Pod", "metadata": {"name": "db-1", "namespace": "apps", "uid": "p1"},
        "spec": {"nodeName": "node-a"}}));
    pod.labels.insert("tier".into(), "db".into());
    store.apply(&[Op::Upsert(node), Op::Upsert(pod.clone())], Timestamp(1), "test").unwrap();
    assert_eq!(edges_of_rule(&store, "database-host-node"), 1, "a database Pod uses its Node");

    pod.document["status"] = serde_json::json!({"phase": "Running"});
    store.apply(&[Op::Upsert(pod.clone())], Timestamp(2), "test").unwrap();
    assert_eq!(edges_of_rule(&store, "database-host-node"), 1, "its status changed, not what its rules find");

    pod.labels.insert("tier".into(), "web".into());
    store.apply(&[Op::Upsert(pod.clone())], Timestamp(3), "test").unwrap();
    assert_eq!(edges_of_rule(&store, "database-host-node"), 0, "relabelled, its document as it was: no longer one");
    assert_eq!(edges_of_rule(&store, "k8s-pod-node"), 1, "the built-in rule still links it");

    pod.labels.insert("tier".into(), "db".into());
    store.apply(&[Op::Upsert(pod)], Timestamp(4), "test").unwrap();
    assert_eq!(edges_of_rule(&store, "database-host-node"), 1, "labelled back");
}

/// A rule-made edge a caller unlinks in the batch that updates its source is made again: the
/// rules derive such a source, whatever they plan from it.
#[test]
fn a_rule_made_edge_unlinked_beside_an_update_of_its_source_is_made_again() {
    use graphd_core::{EdgeWrite, Provenance, Timestamp};
    use graphd_store::Op;
    let store = Store::open(graphd_store::MemEngine::new()).unwrap();
    store.set_rules(graphd_rules::builtin::rules().unwrap()).unwrap();
    let node = item(serde_json::json!({"kind": "Node", "metadata": {"name": "node-a", "uid": "n1"}}));
    let mut pod =
        item(serde_json::json!({"kind": "Pod", "metadata": {"name": "web-1", "namespace": "apps", "uid": "p1"},
        "spec": {"nodeName": "node-a"}}));
    store.apply(&[Op::Upsert(node.clone()), Op::Upsert(pod.clone())], Timestamp(1), "test").unwrap();
    assert_eq!(edges_of_rule(&store, "k8s-pod-node"), 1);

    let unlink = EdgeWrite {
        from: pod.key.clone(),
        relation: "runs-on".into(),
        to: node.key.clone(),
        provenance: Provenance::Api("test".into()),
    };
    pod.document["status"] = serde_json::json!({"phase": "Running"});
    store.apply(&[Op::Unlink(unlink), Op::Upsert(pod)], Timestamp(2), "test").unwrap();
    assert_eq!(edges_of_rule(&store, "k8s-pod-node"), 1, "the rule made it again");
}

/// What a rule could not read is counted once per source a batch plans, however many reasons
/// the batch has to look at it.
#[test]
fn a_field_a_rule_cannot_read_is_counted_once_per_batch() {
    use graphd_core::Timestamp;
    use graphd_store::Op;
    let store = Store::open(graphd_store::MemEngine::new()).unwrap();
    // Adding a string to a number fails on every Service that has a port.
    let unreadable = r#"
version: 1
rules:
  - name: service-port-config
    from: {kind: "Kubernetes::Service"}
    relation: uses
    to: {kind: "Kubernetes::ConfigMap", match: name, cel: 'object.spec.port + "-config"', scope: namespace}
"#;
    store.set_rules(builtin_with(unreadable)).unwrap();
    let mut service =
        item(serde_json::json!({"kind": "Service", "metadata": {"name": "web", "namespace": "apps", "uid": "s1"},
        "spec": {"selector": {"app": "web"}, "port": 80}}));
    let mut pod =
        item(serde_json::json!({"kind": "Pod", "metadata": {"name": "web-1", "namespace": "apps", "uid": "p1",
        "labels": {"app": "other"}}}));
    let outcome = store.apply(&[Op::Upsert(service.clone()), Op::Upsert(pod.clone())], Timestamp(1), "test").unwrap();
    assert_eq!(outcome.rule_problems, 1, "the Service's port");

    // The Service changes in a way its rules do not read, and the Pod comes into its selector.
    service.document["status"] = serde_json::json!({"loadBalancer": {}});
    pod.labels.insert("app".into(), "web".into());
    pod.document["metadata"]["labels"]["app"] = "web".into();
    let outcome = store.apply(&[Op::Upsert(service), Op::Upsert(pod)], Timestamp(2), "test").unwrap();
    assert_eq!(outcome.rule_problems, 1, "one Service, one field it cannot read");
    assert_eq!(edges_of_rule(&store, "k8s-service-pods"), 1, "it selects the Pod");
}

/// Rules changed, and the store closed before its relink: whichever rules it is opened with
/// next, it is not taken for linked by them.
#[test]
fn a_store_closed_before_its_relink_is_relinked_whatever_its_rules() {
    use graphd_core::Timestamp;
    use graphd_store::Op;
    let dir = tempfile::tempdir().unwrap();
    let open = || Store::open(RocksEngine::open(dir.path(), &RocksOptions::default()).unwrap()).unwrap();
    let pod = item(serde_json::json!({"kind": "Pod", "metadata": {"name": "web-1", "namespace": "apps", "uid": "p1"},
        "spec": {"nodeName": "node-a"}}));
    {
        let store = linking_store(dir.path());
        let node = item(serde_json::json!({"kind": "Node", "metadata": {"name": "node-a", "uid": "n1"}}));
        store.apply(&[Op::Upsert(node), Op::Upsert(pod.clone())], Timestamp(1), "test").unwrap();
    }
    {
        let store = open();
        store.set_rules(builtin_with(CUSTOM_POD_NODE)).unwrap();
        let mut running = pod.clone();
        running.document["status"] = serde_json::json!({"phase": "Running"});
        store.apply(&[Op::Upsert(running)], Timestamp(2), "test").unwrap();
        assert_eq!(edges_of_rule(&store, "custom-pod-node"), 1, "linked by the new rules");
    }
    let store = open();
    store.set_rules(graphd_rules::builtin::rules().unwrap()).unwrap();
    assert!(!store.linked_by_current_rules().unwrap(), "linked by two sets of rules: relinked at the next start");
    store.relink(Timestamp(3), |_, _| {}).unwrap();
    assert_eq!(edges_of_rule(&store, "custom-pod-node"), 0, "the rules of the second start made no edge that stays");
}

/// Until a relink has linked every stored item by new rules, an item changed is linked by
/// them, even when the new rules plan from it what they planned before the change.
#[test]
fn an_item_changed_before_a_relink_is_linked_by_the_rules_set_now() {
    use graphd_core::Timestamp;
    use graphd_store::Op;
    let dir = tempfile::tempdir().unwrap();
    let store = linking_store(dir.path());
    let node = item(serde_json::json!({"kind": "Node", "metadata": {"name": "node-a", "uid": "n1"}}));
    let pods: Vec<_> = ["web-1", "web-2"]
        .iter()
        .map(|name| {
            item(serde_json::json!({"kind": "Pod", "metadata": {"name": name, "namespace": "apps", "uid": name},
                "spec": {"nodeName": "node-a"}}))
        })
        .collect();
    let ops: Vec<Op> = pods.iter().cloned().chain([node]).map(Op::Upsert).collect();
    store.apply(&ops, Timestamp(1), "test").unwrap();

    store.set_rules(builtin_with(CUSTOM_POD_NODE)).unwrap();
    assert!(!store.linked_by_current_rules().unwrap());
    let mut running = pods[0].clone();
    running.document["status"] = serde_json::json!({"phase": "Running"});
    store.apply(&[Op::Upsert(running.clone())], Timestamp(2), "test").unwrap();
    assert_eq!(edges_of_rule(&store, "custom-pod-node"), 1, "the Pod changed is linked by the new rule");

    store.relink(Timestamp(3), |_, _| {}).unwrap();
    assert_eq!(edges_of_rule(&store, "custom-pod-node"), 2, "the relink linked the other");
    running.document["status"] = serde_json::json!({"phase": "Succeeded"});
    store.apply(&[Op::Upsert(running)], Timestamp(4), "test").unwrap();
    assert_eq!(
        edges_of_rule(&store, "custom-pod-node"),
        2,
        "after the relink, a change its rules ignore keeps its edges"
    );
}

#[test]
fn a_pod_walks_up_through_its_node_to_the_ec2_estate_whatever_came_first() {
    use graphd_core::{ExternalKey, ItemWrite, Kind, Scope, Timestamp};
    use graphd_store::Op;
    let aws = |id: &str, kind: &str, document: Value| {
        let mut aws = ItemWrite::new(ExternalKey::aws("111", "us-east-1", id), Kind::new(kind).unwrap(), id);
        aws.scope = Scope { account: Some("111".into()), region: Some("us-east-1".into()), cluster: None };
        aws.document = document;
        aws
    };
    let items = [
        item(
            serde_json::json!({"kind": "Pod", "metadata": {"name": "web", "namespace": "apps", "uid": "p1"}, "spec": {"nodeName": "ip-10-0-1-5"}}),
        ),
        item(
            serde_json::json!({"kind": "Node", "metadata": {"name": "ip-10-0-1-5", "uid": "n1"}, "spec": {"providerID": "aws:///us-east-1a/i-0abc"}}),
        ),
        aws("i-0abc", "AWS::EC2::Instance", serde_json::json!({"SubnetId": "subnet-1"})),
        aws("subnet-1", "AWS::EC2::Subnet", serde_json::json!({"VpcId": "vpc-1"})),
        aws("vpc-1", "AWS::EC2::VPC", serde_json::json!({})),
    ];
    for order in [vec![0, 1, 2, 3, 4], vec![4, 3, 2, 1, 0], vec![2, 0, 4, 1, 3]] {
        let store = Store::open(graphd_store::MemEngine::new()).unwrap();
        store.set_rules(graphd_rules::builtin::rules().unwrap()).unwrap();
        for (t, i) in order.iter().enumerate() {
            store.apply(&[Op::Upsert(items[*i].clone())], Timestamp(t as u64 + 1), "test").unwrap();
        }
        let reader = store.read();
        let pod = reader.get_by_key(&items[0].key, false).unwrap().unwrap().id;
        let up = reader.walk_up(pod, false).unwrap();
        let names: Vec<String> = up.nodes.iter().map(|n| reader.get(n.id, false).unwrap().unwrap().name).collect();
        assert_eq!(names, ["ip-10-0-1-5", "i-0abc", "subnet-1", "vpc-1"], "order {order:?}");
    }
}

#[test]
fn relinking_after_a_rule_change_gives_the_graph_a_fresh_import_would() {
    let files = |drop: &[&str], extra: Option<&str>| {
        let mut set = extra.map_or_else(|| graphd_rules::builtin::rules().unwrap(), builtin_with);
        set.rules.retain(|rule| !drop.contains(&rule.name.as_str()));
        set
    };
    let subjects = ["k8s-rolebinding-service-account", "k8s-clusterrolebinding-service-account"];
    let dir = tempfile::tempdir().unwrap();
    let old_rules = files(&subjects, Some(CUSTOM_POD_NODE));
    {
        let store = Store::open(RocksEngine::open(dir.path(), &RocksOptions::default()).unwrap()).unwrap();
        store.set_rules(old_rules.clone()).unwrap();
        assert!(store.linked_by_current_rules().unwrap(), "an empty store is linked by whatever rules it gets");
        import(&store, "c1", &fixture("k3s-troubleshoot-real-snapshot.json"), |_, _| {}).unwrap();
        assert_eq!(edges_by_rule(&store)["custom-pod-node"], 11);
        store.set_rules(old_rules.clone()).unwrap();
        assert!(store.linked_by_current_rules().unwrap(), "the same rules again");
    }
    let store = Store::open(RocksEngine::open(dir.path(), &RocksOptions::default()).unwrap()).unwrap();
    store.set_rules(files(&[], None)).unwrap();
    assert!(!store.linked_by_current_rules().unwrap(), "two rules added and one dropped since the import");
    let mut seen = Vec::new();
    let outcome = store.relink(graphd_core::Timestamp::now(), |done, total| seen.push((done, total))).unwrap();
    assert_eq!(
        (outcome.edges_added, outcome.edges_removed),
        (2 + 39, 11),
        "the subjects linked, the dropped rule's edges gone"
    );
    assert_eq!(seen.last().map(|(done, total)| done == total), Some(true), "progress ends at the total: {seen:?}");
    assert!(store.linked_by_current_rules().unwrap());

    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = imported("k3s-troubleshoot-real-snapshot.json", fresh_dir.path());
    assert_eq!(edges_by_rule(&store), edges_by_rule(&fresh), "relinked = imported under the new rules");
    let again = store.relink(graphd_core::Timestamp::now(), |_, _| {}).unwrap();
    assert_eq!((again.edges_added, again.edges_removed), (0, 0), "a second relink changes nothing");
}
