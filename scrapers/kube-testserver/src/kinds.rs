//! What the server knows about kinds before it sees an object: the built-in resources a
//! fresh cluster serves, a few well-known custom kinds, and the rules that name the rest.
//!
//! A real cluster learns plural names and scopes from its type registry and from CRDs. The
//! test server has neither, so a kind is looked up here first and otherwise named the way
//! kubectl guesses (`Policy` → `policies`, `Ingress` → `ingresses`), with its scope taken
//! from whether the first object of that kind carried a namespace.

use std::cmp::Reverse;

/// Every verb a built-in resource offers; discovery lists these.
pub(crate) const ALL_VERBS: &[&str] =
    &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// What the metrics API offers: it can be listed but never watched.
const READ_ONLY: &[&str] = &["get", "list"];

/// One entry of the table below.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KnownKind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    pub verbs: &'static [&'static str],
    /// Served from the start, as a real cluster serves every built-in resource even when
    /// it holds no object of it. Custom kinds appear once an object or
    /// `add_resource` brings them.
    pub builtin: bool,
}

const fn builtin(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    ns: bool,
) -> KnownKind {
    KnownKind { group, version, kind, plural, namespaced: ns, verbs: ALL_VERBS, builtin: true }
}

/// A well-known kind that a real cluster gets from a CRD (k3s's HelmChart, …).
const fn custom(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    ns: bool,
) -> KnownKind {
    KnownKind { builtin: false, ..builtin(group, version, kind, plural, ns) }
}

const NS: bool = true;
const CLUSTER: bool = false;

/// Built-in kinds at their preferred version (Kubernetes 1.34), then custom kinds met in
/// the fixtures and in common clusters. `events.k8s.io` is left out: a real server serves
/// the same Events there as under `v1`, which this server cannot mirror.
pub(crate) const KNOWN_KINDS: &[KnownKind] = &[
    builtin("", "v1", "ConfigMap", "configmaps", NS),
    builtin("", "v1", "Endpoints", "endpoints", NS),
    builtin("", "v1", "Event", "events", NS),
    builtin("", "v1", "LimitRange", "limitranges", NS),
    builtin("", "v1", "Namespace", "namespaces", CLUSTER),
    builtin("", "v1", "Node", "nodes", CLUSTER),
    builtin("", "v1", "PersistentVolume", "persistentvolumes", CLUSTER),
    builtin("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", NS),
    builtin("", "v1", "Pod", "pods", NS),
    builtin("", "v1", "PodTemplate", "podtemplates", NS),
    builtin("", "v1", "ReplicationController", "replicationcontrollers", NS),
    builtin("", "v1", "ResourceQuota", "resourcequotas", NS),
    builtin("", "v1", "Secret", "secrets", NS),
    builtin("", "v1", "Service", "services", NS),
    builtin("", "v1", "ServiceAccount", "serviceaccounts", NS),
    builtin(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        CLUSTER,
    ),
    builtin("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", CLUSTER),
    builtin(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        CLUSTER,
    ),
    builtin(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        CLUSTER,
    ),
    builtin("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", CLUSTER),
    builtin("apiregistration.k8s.io", "v1", "APIService", "apiservices", CLUSTER),
    builtin("apps", "v1", "ControllerRevision", "controllerrevisions", NS),
    builtin("apps", "v1", "DaemonSet", "daemonsets", NS),
    builtin("apps", "v1", "Deployment", "deployments", NS),
    builtin("apps", "v1", "ReplicaSet", "replicasets", NS),
    builtin("apps", "v1", "StatefulSet", "statefulsets", NS),
    builtin("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", NS),
    builtin("batch", "v1", "CronJob", "cronjobs", NS),
    builtin("batch", "v1", "Job", "jobs", NS),
    builtin("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", CLUSTER),
    builtin("coordination.k8s.io", "v1", "Lease", "leases", NS),
    builtin("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", NS),
    builtin("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema", "flowschemas", CLUSTER),
    builtin("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", "prioritylevelconfigurations", CLUSTER),
    builtin("networking.k8s.io", "v1", "Ingress", "ingresses", NS),
    builtin("networking.k8s.io", "v1", "IngressClass", "ingressclasses", CLUSTER),
    builtin("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", NS),
    builtin("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", CLUSTER),
    builtin("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", NS),
    builtin("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", CLUSTER),
    builtin("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", CLUSTER),
    builtin("rbac.authorization.k8s.io", "v1", "Role", "roles", NS),
    builtin("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", NS),
    builtin("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", CLUSTER),
    builtin("storage.k8s.io", "v1", "CSIDriver", "csidrivers", CLUSTER),
    builtin("storage.k8s.io", "v1", "CSINode", "csinodes", CLUSTER),
    builtin("storage.k8s.io", "v1", "CSIStorageCapacity", "csistoragecapacities", NS),
    builtin("storage.k8s.io", "v1", "StorageClass", "storageclasses", CLUSTER),
    builtin("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", CLUSTER),
    custom("gateway.networking.k8s.io", "v1", "Gateway", "gateways", NS),
    custom("gateway.networking.k8s.io", "v1", "GatewayClass", "gatewayclasses", CLUSTER),
    custom("gateway.networking.k8s.io", "v1", "GRPCRoute", "grpcroutes", NS),
    custom("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", NS),
    custom("gateway.networking.k8s.io", "v1beta1", "ReferenceGrant", "referencegrants", NS),
    custom("helm.cattle.io", "v1", "HelmChart", "helmcharts", NS),
    custom("helm.cattle.io", "v1", "HelmChartConfig", "helmchartconfigs", NS),
    custom("k3s.cattle.io", "v1", "Addon", "addons", NS),
    // The metrics API names its resources after what they measure, and cannot be watched.
    KnownKind { verbs: READ_ONLY, ..custom("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", CLUSTER) },
    KnownKind { verbs: READ_ONLY, ..custom("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", NS) },
    custom("monitoring.coreos.com", "v1", "Alertmanager", "alertmanagers", NS),
    custom("monitoring.coreos.com", "v1", "PodMonitor", "podmonitors", NS),
    custom("monitoring.coreos.com", "v1", "Prometheus", "prometheuses", NS),
    custom("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules", NS),
    custom("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", NS),
    custom("operators.coreos.com", "v1", "OperatorGroup", "operatorgroups", NS),
    custom("operators.coreos.com", "v1alpha1", "ClusterServiceVersion", "clusterserviceversions", NS),
    custom("route.openshift.io", "v1", "Route", "routes", NS),
];

/// The table's entry for `kind` in `group` (any version), if any.
pub(crate) fn known_in_group(group: &str, kind: &str) -> Option<&'static KnownKind> {
    KNOWN_KINDS.iter().find(|k| k.group == group && k.kind == kind)
}

/// The table's entry for a bare `kind`, for objects that came without `apiVersion`. Built-in
/// kinds win over custom ones of the same name.
pub(crate) fn known_by_kind(kind: &str) -> Option<&'static KnownKind> {
    let mut matches = KNOWN_KINDS.iter().filter(|k| k.kind == kind);
    let first = matches.next()?;
    Some(if first.builtin { first } else { matches.find(|k| k.builtin).unwrap_or(first) })
}

/// kubectl's guess at a plural: `Policy` → `policies`, `Ingress` → `ingresses`.
pub(crate) fn pluralize(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.ends_with("endpoints") {
        return lower;
    }
    if let Some(stem) = lower.strip_suffix('y') {
        if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) {
            return format!("{stem}ies");
        }
    }
    if lower.ends_with(['s', 'x', 'z']) || lower.ends_with("ch") || lower.ends_with("sh") {
        return format!("{lower}es");
    }
    format!("{lower}s")
}

/// Splits `apps/v1` into `("apps", "v1")` and `v1` into `("", "v1")`.
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// Joins a group and version back into an `apiVersion`.
pub(crate) fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// Orders versions the way Kubernetes does: GA before beta before alpha, higher numbers
/// first, names that follow no pattern last and alphabetically. Sort by this key ascending.
pub(crate) fn version_order(version: &str) -> (u8, Reverse<u32>, Reverse<u32>, String) {
    let parsed = version.strip_prefix('v').and_then(|rest| {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let major: u32 = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        if tail.is_empty() {
            return Some((0, major, 0));
        }
        let (stage, minor) = if let Some(n) = tail.strip_prefix("beta") {
            (1, n)
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (2, n)
        } else {
            return None;
        };
        Some((stage, major, minor.parse().ok()?))
    });
    match parsed {
        Some((stage, major, minor)) => (stage, Reverse(major), Reverse(minor), String::new()),
        None => (3, Reverse(0), Reverse(0), version.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_follow_kubectl() {
        for (kind, plural) in [
            ("Pod", "pods"),
            ("Endpoints", "endpoints"),
            ("Ingress", "ingresses"),
            ("NetworkPolicy", "networkpolicies"),
            ("Gateway", "gateways"),
            ("Prometheus", "prometheuses"),
            ("HelmChart", "helmcharts"),
            ("Mesh", "meshes"),
        ] {
            assert_eq!(pluralize(kind), plural, "{kind}");
        }
    }

    #[test]
    fn table_agrees_with_the_guess_where_kubectl_would() {
        for known in KNOWN_KINDS.iter().filter(|k| k.group != "metrics.k8s.io") {
            assert_eq!(pluralize(known.kind), known.plural, "{}", known.kind);
        }
    }

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut versions = vec!["v1alpha1", "v1beta1", "v2", "v1", "foo", "v2beta2", "v1beta2", "v10"];
        versions.sort_by_key(|v| version_order(v));
        assert_eq!(versions, ["v10", "v2", "v1", "v2beta2", "v1beta2", "v1beta1", "v1alpha1", "foo"]);
    }

    #[test]
    fn bare_kinds_prefer_built_ins() {
        assert_eq!(known_by_kind("Pod").map(|k| k.group), Some(""));
        assert_eq!(known_by_kind("HelmChart").map(|k| k.group), Some("helm.cattle.io"));
        assert!(known_by_kind("Unheard").is_none());
    }
}
