//! The built-in health rules over the real objects in `../shared/fixtures/k8s`: what a person
//! looking at each cluster would see, object by object, checked against the data (phase,
//! container states, replica counts, conditions) by hand.

use graphd_core::{Health, Timestamp};
use graphd_rules::health::time::parse_rfc3339;
use graphd_rules::{builtin, Assessment, RuleSet};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/k8s").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    let list: Value = serde_json::from_str(&text).unwrap();
    list["items"].as_array().unwrap().clone()
}

/// `kind/namespace/name` → what the rules say, for every object some rule decides.
fn assess_all(rules: &RuleSet, objects: &[Value], now: Timestamp) -> BTreeMap<String, Assessment> {
    let mut out = BTreeMap::new();
    for object in objects {
        let kind = object["kind"].as_str().unwrap();
        let Some(assessment) = rules.assess(&format!("Kubernetes::{kind}"), object, now) else { continue };
        let metadata = &object["metadata"];
        let key =
            format!("{kind}/{}/{}", metadata["namespace"].as_str().unwrap_or(""), metadata["name"].as_str().unwrap());
        out.insert(key, assessment);
    }
    out
}

fn expect(assessed: &BTreeMap<String, Assessment>, key: &str, health: Health, status: &str, ready: bool) {
    let got = assessed.get(key).unwrap_or_else(|| panic!("no assessment for {key}"));
    assert_eq!(got, &Assessment { health, status: status.to_owned(), ready }, "{key}");
}

fn of_kind<'a>(assessed: &'a BTreeMap<String, Assessment>, kind: &str) -> Vec<(&'a str, &'a Assessment)> {
    assessed.iter().filter(|(k, _)| k.starts_with(&format!("{kind}/"))).map(|(k, a)| (k.as_str(), a)).collect()
}

/// A day after the k3s support bundle was taken (2025-09-11T15:54 in its name, objects created
/// until 20:50): far past every grace period.
fn k3s_day_after() -> Timestamp {
    parse_rfc3339("2025-09-12T21:00:00Z").unwrap()
}

#[test]
fn k3s_snapshot_pods() {
    let rules = builtin::rules().expect("built-in rules are valid");
    let assessed = assess_all(&rules, &fixture("k3s-troubleshoot-real-snapshot.json"), k3s_day_after());
    // The two replicas the single node has no CPU left for: Pending, PodScheduled=False
    // (Unschedulable), no node.
    for name in ["cpu-intensive-app-7bcfc5d944-hw2vc", "cpu-intensive-app-7bcfc5d944-n79rt"] {
        expect(&assessed, &format!("Pod/default/{name}"), Health::Warning, "Unschedulable", false);
    }
    // Its api-server container waits in CrashLoopBackOff (last exit: Error, code 1).
    expect(&assessed, "Pod/default/backend-api-75fb46b7bd-xtkrh", Health::Unhealthy, "CrashLoopBackOff", false);
    // The helm-install Job Pods ran to completion.
    for name in ["helm-install-traefik-crd-dshw8", "helm-install-traefik-vdfpr"] {
        expect(&assessed, &format!("Pod/kube-system/{name}"), Health::Healthy, "Completed", false);
    }
    // Every other Pod is Running with all its containers ready.
    let running = [
        "default/cpu-intensive-app-7bcfc5d944-9479r",
        "default/memory-hungry-app-59c695fbfb-4vnq4",
        "default/memory-hungry-app-59c695fbfb-xsvn8",
        "kube-system/coredns-64fd4b4794-p72lf",
        "kube-system/local-path-provisioner-774c6665dc-n8q8g",
        "kube-system/metrics-server-7bfffcd44-vjjg6",
        "kube-system/svclb-traefik-9ce4920b-v8m6k",
        "kube-system/traefik-c98fdf6fb-6jpj2",
    ];
    for name in running {
        expect(&assessed, &format!("Pod/{name}"), Health::Healthy, "Running", true);
    }
    assert_eq!(of_kind(&assessed, "Pod").len(), 13, "every Pod is assessed");
}

#[test]
fn k3s_pending_pods_are_only_a_warning_after_their_grace_period() {
    let rules = builtin::rules().unwrap();
    // cpu-intensive-app-7bcfc5d944-hw2vc was created at 20:50:21.
    let pods = fixture("k3s-troubleshoot-real-snapshot.json");
    let pod = pods.iter().find(|o| o["metadata"]["name"] == "cpu-intensive-app-7bcfc5d944-hw2vc").unwrap();
    let at = |time: &str| rules.assess("Kubernetes::Pod", pod, parse_rfc3339(time).unwrap()).unwrap();
    assert_eq!(
        at("2025-09-11T20:52:00Z"),
        Assessment { health: Health::Unknown, status: "Pending".into(), ready: false }
    );
    assert_eq!(at("2025-09-11T20:55:21Z").health, Health::Unknown, "exactly five minutes is still within grace");
    assert_eq!(at("2025-09-11T20:55:22Z").health, Health::Warning);
}

#[test]
fn k3s_snapshot_workloads_node_and_services() {
    let rules = builtin::rules().unwrap();
    let assessed = assess_all(&rules, &fixture("k3s-troubleshoot-real-snapshot.json"), k3s_day_after());
    for name in [
        "default/memory-hungry-app",
        "kube-system/coredns",
        "kube-system/local-path-provisioner",
        "kube-system/metrics-server",
        "kube-system/traefik",
    ] {
        expect(&assessed, &format!("Deployment/{name}"), Health::Healthy, "Available", true);
    }
    // 1 replica wanted, none available (its Pod crash-loops); 3 wanted, 1 available (two are
    // unschedulable). Both report Available=False, MinimumReplicasUnavailable.
    expect(&assessed, "Deployment/default/backend-api", Health::Unhealthy, "Unavailable", false);
    expect(&assessed, "Deployment/default/cpu-intensive-app", Health::Warning, "Degraded", false);
    // Their ReplicaSets say the same.
    expect(&assessed, "ReplicaSet/default/backend-api-75fb46b7bd", Health::Unhealthy, "Unavailable", false);
    expect(&assessed, "ReplicaSet/default/cpu-intensive-app-7bcfc5d944", Health::Warning, "Degraded", false);
    expect(&assessed, "ReplicaSet/kube-system/coredns-64fd4b4794", Health::Healthy, "Ready", true);
    expect(&assessed, "DaemonSet/kube-system/svclb-traefik-9ce4920b", Health::Healthy, "Ready", true);
    // The one node: Ready=True, no pressure.
    expect(&assessed, "Node//c9b7eea91", Health::Healthy, "Ready", true);
    // traefik is a LoadBalancer Service with an address (10.0.0.11); the rest are ClusterIP.
    expect(&assessed, "Service/kube-system/traefik", Health::Healthy, "Active", true);
    assert!(of_kind(&assessed, "Service").iter().all(|(_, a)| a.health == Health::Healthy));
    for name in ["helm-install-traefik", "helm-install-traefik-crd"] {
        expect(&assessed, &format!("Job/kube-system/{name}"), Health::Healthy, "Completed", true);
    }
    for name in ["default", "kube-node-lease", "kube-public", "kube-system"] {
        expect(&assessed, &format!("Namespace//{name}"), Health::Healthy, "Active", true);
    }
    // HelmCharts have conditions (JobCreated, Failed), but neither Ready nor Available: the
    // generic rule cannot tell.
    expect(&assessed, "HelmChart/kube-system/traefik", Health::Unknown, "Unknown", false);
    // Nothing is being deleted, and kinds without a rule or conditions get no assessment.
    assert!(assessed.values().all(|a| a.status != "Terminating"));
    assert!(of_kind(&assessed, "Event").is_empty() && of_kind(&assessed, "ConfigMap").is_empty());
}

#[test]
fn openshift_monitoring_is_healthy_throughout() {
    let rules = builtin::rules().unwrap();
    let now = parse_rfc3339("2021-09-15T00:00:00Z").unwrap();
    let assessed = assess_all(&rules, &fixture("openshift-vsphere-mustgather-monitoring-pv.json"), now);
    for (kind, count, status) in [
        ("Pod", 21, "Running"),
        ("Node", 6, "Ready"),
        ("Deployment", 8, "Available"),
        ("ReplicaSet", 8, "Ready"),
        ("StatefulSet", 2, "Ready"),
        ("DaemonSet", 1, "Ready"),
        ("PersistentVolume", 2, "Bound"),
        ("PersistentVolumeClaim", 2, "Bound"),
        ("Service", 14, "Active"),
    ] {
        let of = of_kind(&assessed, kind);
        assert_eq!(of.len(), count, "{kind}");
        for (key, a) in of {
            assert_eq!(a, &Assessment { health: Health::Healthy, status: status.into(), ready: true }, "{key}");
        }
    }
    expect(&assessed, "StatefulSet/openshift-monitoring/prometheus-k8s", Health::Healthy, "Ready", true);
    expect(&assessed, "Namespace//openshift-monitoring", Health::Healthy, "Active", true);
}

#[test]
fn popeye_lint_cases() {
    let rules = builtin::rules().unwrap();
    let assessed = assess_all(&rules, &fixture("popeye-lint-crossrefs.json"), Timestamp::now());
    // Nodes: n1 fine; n3 reports every pressure (memory first); n4 Ready=False and cordoned;
    // n5 reports no conditions at all.
    expect(&assessed, "Node//n1", Health::Healthy, "Ready", true);
    expect(&assessed, "Node//n3", Health::Warning, "MemoryPressure", true);
    expect(&assessed, "Node//n4", Health::Unhealthy, "NotReady", false);
    expect(&assessed, "Node//n5", Health::Unknown, "Unknown", false);
    // Volumes and claims by phase (these hand-written PVs carry a namespace).
    expect(&assessed, "PersistentVolume/default/pv1", Health::Healthy, "Bound", true);
    expect(&assessed, "PersistentVolume/default/pv2", Health::Unhealthy, "Failed", false);
    expect(&assessed, "PersistentVolume/default/pv3", Health::Healthy, "Available", true);
    expect(&assessed, "PersistentVolumeClaim/default/pvc2", Health::Unhealthy, "Lost", false);
    // pvc3 is Pending but has no creationTimestamp: nothing says it is past its grace.
    expect(&assessed, "PersistentVolumeClaim/default/pvc3", Health::Unknown, "Pending", false);
    // svc4 is a LoadBalancer without an address; the NodePort, ClusterIP and ExternalName ones
    // need none.
    expect(&assessed, "Service/default/svc4", Health::Warning, "Pending", false);
    expect(&assessed, "Service/default/svc1", Health::Healthy, "Active", true);
    // Only ing5 has a load-balancer address.
    expect(&assessed, "Ingress/default/ing5", Health::Healthy, "Active", true);
    expect(&assessed, "Ingress/default/ing1", Health::Warning, "Pending", false);
    // cj2 is suspended; j1 complete, j2 running, j3 suspended.
    expect(&assessed, "CronJob/default/cj2", Health::Healthy, "Suspended", false);
    expect(&assessed, "CronJob/default/cj1", Health::Healthy, "Active", true);
    expect(&assessed, "Job/default/j1", Health::Healthy, "Completed", true);
    expect(&assessed, "Job/default/j2", Health::Healthy, "Running", false);
    expect(&assessed, "Job/default/j3", Health::Healthy, "Suspended", false);
    // dp2 wants 1 replica and has 0 available; dp3 is scaled to zero; sts3 has no ready replica.
    expect(&assessed, "Deployment/default/dp1", Health::Healthy, "Available", true);
    expect(&assessed, "Deployment/default/dp2", Health::Unhealthy, "Unavailable", false);
    expect(&assessed, "Deployment/default/dp3", Health::Healthy, "ScaledToZero", true);
    expect(&assessed, "StatefulSet/default/sts3", Health::Unhealthy, "Unavailable", false);
    expect(&assessed, "ReplicaSet/default/rs1", Health::Healthy, "ScaledToZero", true);
    // p4 runs with container c1 not ready.
    expect(&assessed, "Pod/default/p4", Health::Warning, "NotReady", false);
}
