//! The built-in rules over the real objects in `../shared/fixtures/k8s`: how many references
//! each rule plans, against the reference totals of `EXPECTED_LINKS.txt` (the "total" side of
//! `resolved/total`: whether a reference resolves is the store's job, not the rules').

use graphd_core::Kind;
use graphd_rules::{builtin, Lookup, RuleSet, Source};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/k8s").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    let list: Value = serde_json::from_str(&text).unwrap();
    list["items"].as_array().unwrap().clone()
}

fn labels(object: &Value) -> BTreeMap<String, String> {
    object["metadata"]["labels"]
        .as_object()
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default()
}

/// Planned references per rule over every object of a fixture.
fn planned_per_rule(rules: &RuleSet, objects: &[Value]) -> HashMap<String, Vec<Lookup>> {
    let mut out: HashMap<String, Vec<Lookup>> = HashMap::new();
    for object in objects {
        let kind = Kind::new(format!("Kubernetes::{}", object["kind"].as_str().unwrap())).unwrap();
        let labels = labels(object);
        let source = Source {
            kind: &kind,
            namespace: object["metadata"]["namespace"].as_str(),
            labels: &labels,
            document: object,
        };
        let (planned, problems) = rules.plan(&source);
        assert!(problems.is_empty(), "{problems:?}");
        for p in planned {
            out.entry(p.rule.name.clone()).or_default().push(p.lookup);
        }
    }
    out
}

fn count(planned: &HashMap<String, Vec<Lookup>>, rule: &str) -> usize {
    planned.get(rule).map_or(0, Vec::len)
}

#[test]
fn k3s_snapshot_plans_the_reference_totals() {
    let rules = builtin::rules().expect("built-in rules are valid");
    let planned = planned_per_rule(&rules, &fixture("k3s-troubleshoot-real-snapshot.json"));
    let expected = [
        ("k8s-pod-node", 11),
        ("k8s-pod-service-account", 13),
        ("k8s-pod-priority-class", 5),
        ("k8s-pod-configmap-projected", 12),
        ("k8s-pod-configmap-volume", 5),
        ("k8s-pod-secret-projected", 2),
        ("k8s-endpointslice-service", 7),
        ("k8s-endpointslice-pod", 7),
        // EXPECTED_LINKS counts 7 endpoint entries; memory-test-service's slice has two
        // endpoints on the same Node, and one edge joins a slice to a Node however many of its
        // endpoints run there.
        ("k8s-endpointslice-node", 6),
        ("k8s-endpoints-service", 7),
        ("k8s-namespace", 335),
        // Every ownerRef line of EXPECTED_LINKS together: 2+6+2+1+1+2+10+7+2.
        ("k8s-owner-reference", 33),
        // Every Event line together: 52+1+11+4+4+20+86+14+4.
        ("k8s-event-object", 196),
        // Six Services with a selector; the selector-less default/kubernetes plans nothing.
        ("k8s-service-pods", 6),
    ];
    for (rule, total) in expected {
        assert_eq!(count(&planned, rule), total, "{rule}");
    }
}

#[test]
fn openshift_snapshot_plans_storage_links_with_the_claims_own_namespace() {
    let rules = builtin::rules().unwrap();
    let planned = planned_per_rule(&rules, &fixture("openshift-vsphere-mustgather-monitoring-pv.json"));
    for (rule, total) in [
        ("k8s-pv-claim", 2),
        ("k8s-pvc-pv", 2),
        ("k8s-pv-storage-class", 2),
        ("k8s-pvc-storage-class", 2),
        ("k8s-pod-pvc", 2),
        ("k8s-pod-image-pull-secret", 14),
        ("k8s-pod-secret-volume", 63),
        ("k8s-pod-configmap-volume", 38),
        ("k8s-pod-configmap-projected", 42),
        ("k8s-pod-node", 21),
        ("k8s-pdb-pods", 2),
        ("k8s-namespace", 207),
    ] {
        assert_eq!(count(&planned, rule), total, "{rule}");
    }
    // A PV is cluster-scoped: the claim's namespace comes from claimRef, not from the source.
    for lookup in &planned["k8s-pv-claim"] {
        let Lookup::Field { namespace, .. } = lookup else { panic!("{lookup:?}") };
        assert_eq!(namespace.as_deref(), Some("openshift-monitoring"));
    }
}

#[test]
fn lowercase_owner_kinds_and_dangling_owners_still_plan_by_uid() {
    // ownerReferences are matched by uid, so the spelling of their kind cannot break them, and
    // an owner absent from the snapshot is a reference that waits, not an error.
    let rules = builtin::rules().unwrap();
    let pod = serde_json::json!({
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "ownerReferences": [
            {"kind": "replicaset", "name": "rs", "uid": "u-1"},
            {"kind": "Job", "name": "gone", "uid": "u-absent"}
        ]}
    });
    let planned = planned_per_rule(&rules, &[pod]);
    let uids: Vec<String> = planned["k8s-owner-reference"]
        .iter()
        .map(|l| match l {
            Lookup::Field { value, kind: None, .. } => value.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(uids, ["u-1", "u-absent"]);
}

#[test]
fn empty_selectors_follow_their_resource() {
    let rules = builtin::rules().unwrap();
    let objects = vec![
        serde_json::json!({"kind": "Service", "metadata": {"name": "s", "namespace": "ns"}, "spec": {"selector": {}}}),
        serde_json::json!({"kind": "Service", "metadata": {"name": "t", "namespace": "ns"}, "spec": {}}),
        serde_json::json!({"kind": "NetworkPolicy", "metadata": {"name": "deny", "namespace": "ns"}, "spec": {"podSelector": {}}}),
    ];
    let planned = planned_per_rule(&rules, &objects);
    assert_eq!(count(&planned, "k8s-service-pods"), 0, "an empty or absent Service selector selects nothing");
    let Lookup::Selector { selector, namespace, .. } = &planned["k8s-network-policy-pods"][0] else { panic!() };
    assert!(selector.is_empty(), "an empty podSelector selects every Pod…");
    assert_eq!(namespace.as_deref(), Some("ns"), "…of its own namespace");
}

fn planned_for(kind: &str, document: Value) -> Vec<(String, Lookup)> {
    let rules = builtin::rules().unwrap();
    let kind = Kind::new(kind).unwrap();
    let labels = BTreeMap::new();
    let source = Source { kind: &kind, namespace: None, labels: &labels, document: &document };
    rules.plan(&source).0.into_iter().map(|p| (p.rule.name.clone(), p.lookup)).collect()
}

fn values_of(planned: &[(String, Lookup)], rule: &str) -> Vec<String> {
    planned
        .iter()
        .filter(|(r, _)| r == rule)
        .map(|(_, l)| match l {
            Lookup::Field { value, .. } => value.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn nodes_and_volumes_reach_their_ec2_resources() {
    let node =
        planned_for("Kubernetes::Node", serde_json::json!({"spec": {"providerID": "aws:///us-east-1a/i-0abc123def"}}));
    assert_eq!(values_of(&node, "node-ec2-instance"), ["i-0abc123def"]);
    let vsphere = planned_for("Kubernetes::Node", serde_json::json!({"spec": {"providerID": "vsphere://4230a8c2"}}));
    assert!(values_of(&vsphere, "node-ec2-instance").is_empty(), "other clouds' ids plan nothing");
    let csi = planned_for(
        "Kubernetes::PersistentVolume",
        serde_json::json!({"spec": {"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-0123"}}}),
    );
    assert_eq!(values_of(&csi, "pv-ebs-volume-csi"), ["vol-0123"]);
    let other_csi = planned_for(
        "Kubernetes::PersistentVolume",
        serde_json::json!({"spec": {"csi": {"driver": "csi.vsphere.vmware.com", "volumeHandle": "vol-0123"}}}),
    );
    assert!(values_of(&other_csi, "pv-ebs-volume-csi").is_empty(), "only the EBS driver's handles are EBS volume ids");
    let in_tree = planned_for(
        "Kubernetes::PersistentVolume",
        serde_json::json!({"spec": {"awsElasticBlockStore": {"volumeID": "aws://us-east-1a/vol-0feed"}}}),
    );
    assert_eq!(values_of(&in_tree, "pv-ebs-volume-in-tree"), ["vol-0feed"]);
}

#[test]
fn instances_reach_network_storage_and_their_cluster() {
    let instance = planned_for(
        "AWS::EC2::Instance",
        serde_json::json!({
            "SubnetId": "subnet-1", "ImageId": "ami-1",
            "SecurityGroups": [{"GroupId": "sg-1"}, {"GroupId": "sg-2"}],
            "BlockDeviceMappings": [{"Ebs": {"VolumeId": "vol-1"}}],
            "Tags": [{"Key": "eks:cluster-name", "Value": "prod"}, {"Key": "kubernetes.io/cluster/prod", "Value": "owned"}]
        }),
    );
    assert_eq!(values_of(&instance, "aws-instance-subnet"), ["subnet-1"]);
    assert_eq!(values_of(&instance, "aws-instance-security-group"), ["sg-1", "sg-2"]);
    assert_eq!(values_of(&instance, "aws-instance-volume"), ["vol-1"]);
    assert_eq!(values_of(&instance, "ec2-instance-eks-cluster"), ["prod"]);
    assert_eq!(values_of(&instance, "ec2-instance-cluster-tag"), ["prod"]);
}

#[test]
fn a_target_a_source_names_twice_is_planned_once() {
    let env = |name: &str| serde_json::json!({"name": name, "valueFrom": {"configMapKeyRef": {"name": "settings"}}});
    let pod = planned_for(
        "Kubernetes::Pod",
        serde_json::json!({"spec": {"containers": [
            {"name": "app", "env": [env("A"), env("B")]},
            {"name": "sidecar", "env": [env("C"), {"name": "D", "valueFrom": {"configMapKeyRef": {"name": "other"}}}]},
        ]}}),
    );
    assert_eq!(values_of(&pod, "k8s-pod-configmap-env"), ["settings", "other"]);
}

#[test]
fn an_item_in_no_namespace_references_none() {
    let rules = builtin::rules().unwrap();
    let kind = Kind::new("Kubernetes::ConfigMap").unwrap();
    let labels = BTreeMap::new();
    let document = serde_json::json!({"metadata": {"name": "settings", "namespace": ""}});
    let namespaces_planned = |namespace: Option<&str>| -> Vec<Lookup> {
        let source = Source { kind: &kind, namespace, labels: &labels, document: &document };
        rules.plan(&source).0.into_iter().filter(|p| p.rule.name == "k8s-namespace").map(|p| p.lookup).collect()
    };
    assert_eq!(namespaces_planned(None), [], "cluster-scoped");
    assert_eq!(namespaces_planned(Some("")), [], "an empty namespace names none, as an empty field does");
    let planned = namespaces_planned(Some("apps"));
    assert!(
        matches!(&planned[..], [Lookup::Field { value, .. }] if value == "apps"),
        "its own namespace, not the document's: {planned:?}"
    );
}
