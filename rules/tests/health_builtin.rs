//! The built-in health rules on hand-made objects, one situation each: what a person would
//! expect to read on a dashboard for it.

use graphd_core::{Health, Timestamp};
use graphd_rules::health::time::parse_rfc3339;
use graphd_rules::{builtin, Assessment, RuleSet};
use serde_json::{json, Value};
use std::sync::OnceLock;

/// Creation time of every hand-made object.
const CREATED: &str = "2025-01-01T12:00:00Z";

fn at(time: &str) -> Timestamp {
    parse_rfc3339(time).unwrap()
}

/// An hour after [`CREATED`]: past every grace period.
fn later() -> Timestamp {
    at("2025-01-01T13:00:00Z")
}

fn assess_at(kind: &str, document: Value, now: Timestamp) -> Option<Assessment> {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| builtin::rules().expect("built-in rules are valid")).assess(kind, &document, now)
}

fn assess(kind: &str, document: Value) -> Assessment {
    assess_at(kind, document, later()).unwrap_or_else(|| panic!("no rule decides this {kind}"))
}

fn is(health: Health, status: &str, ready: bool) -> Assessment {
    Assessment { health, status: status.to_owned(), ready }
}

fn pod(status: Value) -> Value {
    json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "ns", "creationTimestamp": CREATED}, "status": status})
}

fn container_waiting(reason: &str) -> Value {
    json!({"name": "app", "ready": false, "restartCount": 4, "state": {"waiting": {"reason": reason}}})
}

fn running_container(ready: bool) -> Value {
    json!({"name": "app", "ready": ready, "state": {"running": {"startedAt": CREATED}}})
}

#[test]
fn pods_whose_containers_cannot_run_are_unhealthy_and_say_why() {
    for reason in ["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError"] {
        let p =
            pod(json!({"phase": "Running", "containerStatuses": [running_container(true), container_waiting(reason)]}));
        assert_eq!(assess("Kubernetes::Pod", p), is(Health::Unhealthy, reason, false), "{reason}");
    }
    // An image that cannot be pulled keeps a new Pod Pending: still Unhealthy, even within
    // the grace period of a Pending Pod.
    let pulling = pod(json!({"phase": "Pending", "containerStatuses": [container_waiting("ImagePullBackOff")]}));
    let soon = at("2025-01-01T12:01:00Z");
    assert_eq!(assess_at("Kubernetes::Pod", pulling, soon).unwrap(), is(Health::Unhealthy, "ImagePullBackOff", false));
    // Another container waiting for something harmless does not hide the crash loop.
    let mixed = pod(json!({"phase": "Running", "containerStatuses": [
        container_waiting("ContainerCreating"), container_waiting("CrashLoopBackOff")
    ]}));
    assert_eq!(assess("Kubernetes::Pod", mixed).status, "CrashLoopBackOff");
    let init = pod(json!({"phase": "Pending", "initContainerStatuses": [container_waiting("CrashLoopBackOff")],
        "containerStatuses": [container_waiting("PodInitializing")]}));
    assert_eq!(assess("Kubernetes::Pod", init), is(Health::Unhealthy, "CrashLoopBackOff", false));
}

#[test]
fn an_oom_killed_container_makes_its_pod_unhealthy_while_readiness_follows_the_pod() {
    let restarted = json!({"name": "app", "ready": true, "state": {"running": {"startedAt": CREATED}},
        "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}});
    let serving = pod(json!({"phase": "Running", "containerStatuses": [restarted],
        "conditions": [{"type": "Ready", "status": "True"}]}));
    assert_eq!(assess("Kubernetes::Pod", serving), is(Health::Unhealthy, "OOMKilled", true));
    let dead = json!({"name": "app", "ready": false, "state": {"terminated": {"reason": "OOMKilled"}}});
    let down = pod(json!({"phase": "Running", "containerStatuses": [dead],
        "conditions": [{"type": "Ready", "status": "False"}]}));
    assert_eq!(assess("Kubernetes::Pod", down), is(Health::Unhealthy, "OOMKilled", false));
}

#[test]
fn pending_pods_get_five_minutes_before_they_are_a_warning() {
    let unscheduled = || {
        pod(json!({"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
        ]}))
    };
    let within = assess_at("Kubernetes::Pod", unscheduled(), at("2025-01-01T12:04:59Z")).unwrap();
    assert_eq!(within, is(Health::Unknown, "Pending", false));
    let past = assess_at("Kubernetes::Pod", unscheduled(), at("2025-01-01T12:05:01Z")).unwrap();
    assert_eq!(past, is(Health::Warning, "Unschedulable", false));
    // Scheduled but stuck creating its containers.
    let creating = pod(json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}],
        "containerStatuses": [container_waiting("ContainerCreating")]}));
    assert_eq!(assess("Kubernetes::Pod", creating), is(Health::Warning, "ContainerCreating", false));
}

#[test]
fn pods_by_phase() {
    let ready =
        pod(json!({"phase": "Running", "containerStatuses": [running_container(true), running_container(true)]}));
    assert_eq!(assess("Kubernetes::Pod", ready), is(Health::Healthy, "Running", true));
    let one_not_ready =
        pod(json!({"phase": "Running", "containerStatuses": [running_container(true), running_container(false)]}));
    assert_eq!(assess("Kubernetes::Pod", one_not_ready), is(Health::Warning, "NotReady", false));
    assert_eq!(assess("Kubernetes::Pod", pod(json!({"phase": "Succeeded"}))), is(Health::Healthy, "Completed", false));
    assert_eq!(assess("Kubernetes::Pod", pod(json!({"phase": "Failed"}))), is(Health::Unhealthy, "Failed", false));
    let deadline = pod(json!({"phase": "Failed", "reason": "DeadlineExceeded"}));
    assert_eq!(assess("Kubernetes::Pod", deadline), is(Health::Unhealthy, "DeadlineExceeded", false));
    let evicted =
        pod(json!({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."}));
    assert_eq!(assess("Kubernetes::Pod", evicted), is(Health::Warning, "Evicted", false));
    assert_eq!(assess("Kubernetes::Pod", pod(json!({"phase": "Unknown"}))), is(Health::Unknown, "Unknown", false));
}

#[test]
fn anything_being_deleted_is_terminating() {
    let mut running = pod(json!({"phase": "Running", "containerStatuses": [running_container(true)]}));
    running["metadata"]["deletionTimestamp"] = json!("2025-01-01T12:30:00Z");
    assert_eq!(assess("Kubernetes::Pod", running), is(Health::Warning, "Terminating", false));
    let namespace = json!({"metadata": {"name": "old", "deletionTimestamp": "2025-01-01T12:30:00Z"},
        "status": {"phase": "Terminating"}});
    assert_eq!(assess("Kubernetes::Namespace", namespace), is(Health::Warning, "Terminating", false));
    // Even kinds no other rule speaks about.
    let config_map = json!({"metadata": {"name": "cfg", "deletionTimestamp": "2025-01-01T12:30:00Z",
        "finalizers": ["example.com/keep"]}});
    assert_eq!(assess("Kubernetes::ConfigMap", config_map), is(Health::Warning, "Terminating", false));
    assert_eq!(assess_at("Kubernetes::ConfigMap", json!({"metadata": {"name": "cfg"}}), later()), None);
}

fn deployment(generation: u64, replicas: u64, status: Value) -> Value {
    json!({"metadata": {"name": "web", "generation": generation}, "spec": {"replicas": replicas}, "status": status})
}

#[test]
fn deployments_by_available_replicas_and_rollouts() {
    let settled = json!({"observedGeneration": 3, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
        "availableReplicas": 3});
    assert_eq!(assess("Kubernetes::Deployment", deployment(3, 3, settled)), is(Health::Healthy, "Available", true));
    // A new template: the controller has not caught up yet.
    let unobserved = json!({"observedGeneration": 3, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3});
    assert_eq!(
        assess("Kubernetes::Deployment", deployment(4, 3, unobserved)),
        is(Health::Warning, "RollingOut", false)
    );
    // Two of three replicas run the new template, an old one is still there.
    let halfway = json!({"observedGeneration": 4, "replicas": 4, "updatedReplicas": 2, "availableReplicas": 3});
    assert_eq!(assess("Kubernetes::Deployment", deployment(4, 3, halfway)), is(Health::Warning, "RollingOut", false));
    let degraded = json!({"observedGeneration": 4, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2});
    assert_eq!(assess("Kubernetes::Deployment", deployment(4, 3, degraded)), is(Health::Warning, "Degraded", false));
    // Kubernetes leaves availableReplicas out when it is 0.
    let none = json!({"observedGeneration": 4, "replicas": 3, "updatedReplicas": 3, "unavailableReplicas": 3});
    assert_eq!(assess("Kubernetes::Deployment", deployment(4, 3, none)), is(Health::Unhealthy, "Unavailable", false));
    let stuck = json!({"observedGeneration": 5, "replicas": 4, "updatedReplicas": 1, "availableReplicas": 3,
        "conditions": [{"type": "Available", "status": "True"},
                       {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]});
    let assessed = assess("Kubernetes::Deployment", deployment(5, 3, stuck));
    assert_eq!(assessed, is(Health::Unhealthy, "ProgressDeadlineExceeded", false));
    let scaled_down = json!({"observedGeneration": 6, "replicas": 0});
    assert_eq!(
        assess("Kubernetes::Deployment", deployment(6, 0, scaled_down)),
        is(Health::Healthy, "ScaledToZero", true)
    );
}

#[test]
fn statefulsets_daemonsets_and_replicasets_count_their_ready_pods() {
    let sts = |ready: u64, updated: u64| {
        json!({"metadata": {"generation": 2}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 2, "replicas": 3, "readyReplicas": ready, "updatedReplicas": updated}})
    };
    assert_eq!(assess("Kubernetes::StatefulSet", sts(3, 3)), is(Health::Healthy, "Ready", true));
    assert_eq!(assess("Kubernetes::StatefulSet", sts(2, 3)), is(Health::Warning, "Degraded", false));
    assert_eq!(assess("Kubernetes::StatefulSet", sts(3, 1)), is(Health::Warning, "RollingOut", false));
    assert_eq!(assess("Kubernetes::StatefulSet", sts(0, 3)), is(Health::Unhealthy, "Unavailable", false));
    let mut on_delete = sts(3, 1);
    on_delete["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
    assert_eq!(assess("Kubernetes::StatefulSet", on_delete), is(Health::Healthy, "Ready", true));

    let ds = |desired: u64, ready: u64| {
        json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "desiredNumberScheduled": desired,
            "numberReady": ready, "updatedNumberScheduled": desired, "numberMisscheduled": 0}})
    };
    assert_eq!(assess("Kubernetes::DaemonSet", ds(6, 6)), is(Health::Healthy, "Ready", true));
    assert_eq!(assess("Kubernetes::DaemonSet", ds(6, 4)), is(Health::Warning, "Degraded", false));
    assert_eq!(assess("Kubernetes::DaemonSet", ds(6, 0)), is(Health::Unhealthy, "Unavailable", false));
    assert_eq!(assess("Kubernetes::DaemonSet", ds(0, 0)), is(Health::Healthy, "NoNodes", true));

    let rs = json!({"spec": {"replicas": 2}, "status": {"replicas": 0, "conditions": [
        {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate"}]}});
    assert_eq!(assess("Kubernetes::ReplicaSet", rs), is(Health::Unhealthy, "FailedCreate", false));
}

#[test]
fn workloads_without_a_status_are_not_judged() {
    // Just created, or read from a manifest: no counts yet, which must not read as zero.
    for kind in ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"] {
        let manifest = json!({"metadata": {"name": "web"}, "spec": {"replicas": 3}});
        let kind = format!("Kubernetes::{kind}");
        assert_eq!(assess(&kind, manifest), is(Health::Unknown, "Pending", false), "{kind}");
    }
}

#[test]
fn jobs_and_cronjobs() {
    let failed = json!({"status": {"failed": 7, "conditions": [
        {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}});
    assert_eq!(assess("Kubernetes::Job", failed), is(Health::Unhealthy, "BackoffLimitExceeded", false));
    let retrying = json!({"status": {"active": 1, "failed": 2}});
    assert_eq!(assess("Kubernetes::Job", retrying), is(Health::Warning, "Retrying", false));
    let running = json!({"status": {"active": 1, "startTime": CREATED}});
    assert_eq!(assess("Kubernetes::Job", running), is(Health::Healthy, "Running", false));
    let done = json!({"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}});
    assert_eq!(assess("Kubernetes::Job", done), is(Health::Healthy, "Completed", true));

    let suspended = json!({"spec": {"schedule": "*/5 * * * *", "suspend": true}, "status": {}});
    assert_eq!(assess("Kubernetes::CronJob", suspended), is(Health::Healthy, "Suspended", false));
    let scheduled = json!({"spec": {"schedule": "*/5 * * * *", "suspend": false}, "status": {"active": []}});
    assert_eq!(assess("Kubernetes::CronJob", scheduled), is(Health::Healthy, "Scheduled", true));
}

fn node(conditions: Value, unschedulable: bool) -> Value {
    json!({"metadata": {"name": "n"}, "spec": {"unschedulable": unschedulable}, "status": {"conditions": conditions}})
}

fn conditions(pairs: &[(&str, &str)]) -> Value {
    pairs.iter().map(|(t, s)| json!({"type": t, "status": s})).collect()
}

#[test]
fn nodes_by_conditions_and_cordon() {
    let calm = [("MemoryPressure", "False"), ("DiskPressure", "False"), ("PIDPressure", "False")];
    let with = |extra: &[(&str, &str)]| {
        let mut all: Vec<(&str, &str)> = calm.to_vec();
        all.retain(|(t, _)| !extra.iter().any(|(e, _)| e == t));
        all.extend_from_slice(extra);
        conditions(&all)
    };
    assert_eq!(assess("Kubernetes::Node", node(with(&[("Ready", "True")]), false)), is(Health::Healthy, "Ready", true));
    for pressure in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        let n = node(with(&[("Ready", "True"), (pressure, "True")]), false);
        assert_eq!(assess("Kubernetes::Node", n), is(Health::Warning, pressure, true), "{pressure}");
    }
    for ready in ["False", "Unknown"] {
        let n = node(with(&[("Ready", ready), ("DiskPressure", "True")]), false);
        assert_eq!(assess("Kubernetes::Node", n), is(Health::Unhealthy, "NotReady", false), "Ready={ready}");
    }
    let cordoned = node(with(&[("Ready", "True")]), true);
    assert_eq!(assess("Kubernetes::Node", cordoned), is(Health::Warning, "SchedulingDisabled", true));
}

#[test]
fn volumes_and_claims_by_phase() {
    let claim = |phase: &str| json!({"metadata": {"creationTimestamp": CREATED}, "status": {"phase": phase}});
    assert_eq!(assess("Kubernetes::PersistentVolumeClaim", claim("Bound")), is(Health::Healthy, "Bound", true));
    assert_eq!(assess("Kubernetes::PersistentVolumeClaim", claim("Lost")), is(Health::Unhealthy, "Lost", false));
    assert_eq!(assess("Kubernetes::PersistentVolumeClaim", claim("Pending")), is(Health::Warning, "Pending", false));
    let young = assess_at("Kubernetes::PersistentVolumeClaim", claim("Pending"), at("2025-01-01T12:01:00Z")).unwrap();
    assert_eq!(young, is(Health::Unknown, "Pending", false), "a claim waiting for its first consumer");
    let volume = |phase: &str| json!({"status": {"phase": phase}});
    assert_eq!(assess("Kubernetes::PersistentVolume", volume("Available")), is(Health::Healthy, "Available", true));
    assert_eq!(assess("Kubernetes::PersistentVolume", volume("Bound")), is(Health::Healthy, "Bound", true));
    assert_eq!(assess("Kubernetes::PersistentVolume", volume("Released")), is(Health::Warning, "Released", false));
    assert_eq!(assess("Kubernetes::PersistentVolume", volume("Failed")), is(Health::Unhealthy, "Failed", false));
}

#[test]
fn load_balancers_need_an_address() {
    let lb = |status: Value| json!({"spec": {"type": "LoadBalancer"}, "status": status});
    let waiting = lb(json!({"loadBalancer": {}}));
    assert_eq!(assess("Kubernetes::Service", waiting), is(Health::Warning, "Pending", false));
    let addressed = lb(json!({"loadBalancer": {"ingress": [{"hostname": "a1b2.elb.amazonaws.com"}]}}));
    assert_eq!(assess("Kubernetes::Service", addressed), is(Health::Healthy, "Active", true));
    let cluster_ip = json!({"spec": {"type": "ClusterIP"}, "status": {"loadBalancer": {}}});
    assert_eq!(assess("Kubernetes::Service", cluster_ip), is(Health::Healthy, "Active", true));
    let ingress = json!({"spec": {"rules": []}, "status": {"loadBalancer": {"ingress": []}}});
    assert_eq!(
        assess("Kubernetes::Ingress", ingress),
        is(Health::Warning, "Pending", false),
        "an empty list is no address"
    );
    let routed = json!({"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}});
    assert_eq!(assess("Kubernetes::Ingress", routed), is(Health::Healthy, "Active", true));
}

#[test]
fn autoscalers_and_namespaces() {
    let hpa = |pairs: &[(&str, &str, &str)]| {
        let conditions: Vec<Value> =
            pairs.iter().map(|(t, s, r)| json!({"type": t, "status": s, "reason": r})).collect();
        json!({"status": {"currentReplicas": 2, "desiredReplicas": 2, "conditions": conditions}})
    };
    let fine = hpa(&[("AbleToScale", "True", "ReadyForNewScale"), ("ScalingActive", "True", "ValidMetricFound")]);
    assert_eq!(assess("Kubernetes::HorizontalPodAutoscaler", fine), is(Health::Healthy, "Active", true));
    let no_metrics =
        hpa(&[("AbleToScale", "True", "SucceededGetScale"), ("ScalingActive", "False", "FailedGetResourceMetric")]);
    let assessed = assess("Kubernetes::HorizontalPodAutoscaler", no_metrics);
    assert_eq!(assessed, is(Health::Warning, "FailedGetResourceMetric", false));
    let no_target = hpa(&[("AbleToScale", "False", "FailedGetScale"), ("ScalingActive", "False", "FailedGetScale")]);
    let assessed = assess("Kubernetes::HorizontalPodAutoscaler", no_target);
    assert_eq!(assessed, is(Health::Unhealthy, "FailedGetScale", false));

    let active = json!({"metadata": {"name": "default"}, "status": {"phase": "Active"}});
    assert_eq!(assess("Kubernetes::Namespace", active), is(Health::Healthy, "Active", true));
}

#[test]
fn other_kinds_are_judged_by_their_ready_or_available_condition() {
    let custom = |pairs: &[(&str, &str)]| json!({"status": {"conditions": conditions(pairs)}});
    let certificate = custom(&[("Ready", "True")]);
    assert_eq!(assess("Kubernetes::Certificate", certificate), is(Health::Healthy, "Ready", true));
    let mut broken = custom(&[("Ready", "False")]);
    broken["status"]["conditions"][0]["reason"] = json!("DoesNotExist");
    assert_eq!(assess("Kubernetes::Certificate", broken), is(Health::Unhealthy, "DoesNotExist", false));
    assert_eq!(
        assess("Kubernetes::APIService", custom(&[("Available", "True")])),
        is(Health::Healthy, "Available", true)
    );
    let unavailable = custom(&[("Available", "False")]);
    assert_eq!(assess("Kubernetes::APIService", unavailable), is(Health::Unhealthy, "Unavailable", false));
    // Any domain, not only Kubernetes.
    assert_eq!(assess("Crossplane::Bucket", custom(&[("Ready", "True")])), is(Health::Healthy, "Ready", true));
    // Conditions that say neither.
    assert_eq!(
        assess("Kubernetes::HelmChart", custom(&[("JobCreated", "True")])),
        is(Health::Unknown, "Unknown", false)
    );
    // No conditions, no rule for the kind: nothing to say.
    assert_eq!(assess_at("Kubernetes::Widget", json!({"status": {"phase": "Ready"}}), later()), None);
    assert_eq!(assess_at("AWS::EC2::NatGateway", json!({"State": "available"}), later()), None);
    // The kind's own rule wins over the conditions: a Pod that is Ready=True but crash-looping.
    let p = pod(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [container_waiting("CrashLoopBackOff")]}));
    assert_eq!(assess("Kubernetes::Pod", p).status, "CrashLoopBackOff");
}

#[test]
fn pods_and_claims_are_the_kinds_whose_health_changes_with_age_alone() {
    let rules = builtin::rules().unwrap();
    let kinds: Vec<String> = rules.kinds_assessed_by_age().iter().map(|k| k.to_string()).collect();
    assert_eq!(kinds, ["Kubernetes::Pod", "Kubernetes::PersistentVolumeClaim"], "their Pending grace periods");
}

fn instance(state: &str, checks: Value) -> Value {
    let mut document = json!({"InstanceId": "i-0abc", "State": {"Name": state}});
    document.as_object_mut().unwrap().extend(checks.as_object().unwrap().clone());
    document
}

#[test]
fn instances_are_judged_by_their_state_and_their_status_checks() {
    let kind = "AWS::EC2::Instance";
    assert_eq!(assess(kind, instance("running", json!({}))), is(Health::Healthy, "running", true));
    let passing = json!({"InstanceStatus": {"Status": "ok"}, "SystemStatus": {"Status": "ok"}});
    assert_eq!(assess(kind, instance("running", passing)), is(Health::Healthy, "running", true));
    // A stopped instance was stopped (by someone, or by AWS): not broken, not serving either.
    assert_eq!(assess(kind, instance("stopped", json!({}))), is(Health::Healthy, "stopped", true));
    for moving in ["pending", "stopping", "shutting-down"] {
        assert_eq!(assess(kind, instance(moving, json!({}))), is(Health::Unknown, moving, false), "{moving}");
    }
    let host_failing = json!({"InstanceStatus": {"Status": "ok"}, "SystemStatus": {"Status": "impaired"}});
    assert_eq!(assess(kind, instance("running", host_failing)), is(Health::Unhealthy, "impaired", true));
    let os_failing = json!({"InstanceStatus": {"Status": "impaired"}});
    assert_eq!(assess(kind, instance("running", os_failing)), is(Health::Unhealthy, "impaired", true));
}

#[test]
fn ec2_volumes_images_and_networks_report_their_state() {
    let volume = |state: &str| json!({"VolumeId": "vol-1", "State": state});
    assert_eq!(assess("AWS::EC2::Volume", volume("error")), is(Health::Unhealthy, "error", false));
    assert_eq!(assess("AWS::EC2::Volume", volume("in-use")), is(Health::Healthy, "in-use", true));
    assert_eq!(assess("AWS::EC2::Volume", volume("creating")), is(Health::Unknown, "creating", false));
    let image = |state: &str| json!({"ImageId": "ami-1", "State": state});
    assert_eq!(assess("AWS::EC2::Image", image("failed")), is(Health::Unhealthy, "failed", false));
    assert_eq!(assess("AWS::EC2::Image", image("deregistered")), is(Health::Warning, "deregistered", true));
    let available = json!({"State": "available"});
    for kind in ["AWS::EC2::VPC", "AWS::EC2::Subnet"] {
        assert_eq!(assess(kind, available.clone()), is(Health::Healthy, "available", true), "{kind}");
    }
    assert_eq!(assess("AWS::EC2::SecurityGroup", json!({"GroupId": "sg-1"})), is(Health::Healthy, "Active", true));
}
