//! Discovery documents: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/{group}` and
//! `/apis/{group}/{version}`, in the legacy format kube-rs's `Discovery::run` reads, and the
//! aggregated `APIGroupDiscoveryList` (`Discovery::run_aggregated`) when the `Accept`
//! header asks for it, as a real 1.30+ server would.

use crate::kinds;
use crate::store::{ResourceType, Store};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The Content-Type of an aggregated discovery answer.
pub(crate) const AGGREGATED_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
pub(crate) const AGGREGATED_V2BETA1: &str = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

/// Which aggregated version an `Accept` header asks for first, if any: the real server
/// takes the first media type of the list that it can serve.
pub(crate) fn aggregated_version(accept: &str) -> Option<&'static str> {
    for media in accept.split(',') {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        if params.first().is_some_and(|t| *t == "application/json" || *t == "*/*") {
            if !params.contains(&"as=APIGroupDiscoveryList") {
                return None;
            }
            if !params.contains(&"g=apidiscovery.k8s.io") {
                continue;
            }
            if params.contains(&"v=v2") {
                return Some("v2");
            }
            if params.contains(&"v=v2beta1") {
                return Some("v2beta1");
            }
        }
    }
    None
}

/// `/version`.
pub(crate) fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "34",
        "emulationMajor": "1",
        "emulationMinor": "34",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "33",
        "gitVersion": "v1.34.1",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-09-09T00:00:00Z",
        "goVersion": "go1.24.6",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `/api`.
pub(crate) fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

/// Non-core groups → their versions, preferred first.
fn groups(store: &Store) -> BTreeMap<&str, Vec<&str>> {
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for rt in store.resources().filter(|r| !r.gvr.group.is_empty()) {
        let versions = groups.entry(&rt.gvr.group).or_default();
        if !versions.contains(&rt.gvr.version.as_str()) {
            versions.push(&rt.gvr.version);
        }
    }
    for versions in groups.values_mut() {
        versions.sort_by_key(|v| kinds::version_order(v));
    }
    groups
}

fn group_doc(name: &str, versions: &[&str]) -> Value {
    let gv = |v: &str| json!({"groupVersion": kinds::api_version(name, v), "version": v});
    json!({
        "name": name,
        "versions": versions.iter().map(|v| gv(v)).collect::<Vec<_>>(),
        "preferredVersion": gv(versions[0]),
    })
}

/// `/apis`.
pub(crate) fn group_list(store: &Store) -> Value {
    let groups: Vec<Value> = groups(store).iter().map(|(name, versions)| group_doc(name, versions)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`.
pub(crate) fn group(store: &Store, name: &str) -> Option<Value> {
    let groups = groups(store);
    let mut doc = group_doc(name, groups.get(name)?);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

fn in_version<'a>(store: &'a Store, group: &'a str, version: &'a str) -> impl Iterator<Item = &'a ResourceType> {
    store.resources().filter(move |r| r.gvr.group == group && r.gvr.version == version)
}

/// `/api/v1` or `/apis/{group}/{version}`.
pub(crate) fn resource_list(store: &Store, group: &str, version: &str) -> Option<Value> {
    let resources: Vec<Value> = in_version(store, group, version)
        .map(|rt| {
            json!({
                "name": rt.gvr.plural,
                "singularName": rt.kind.to_ascii_lowercase(),
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": rt.verbs,
            })
        })
        .collect();
    if resources.is_empty() {
        return None;
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": kinds::api_version(group, version),
        "resources": resources,
    }))
}

fn aggregated_group(store: &Store, name: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|version| {
            let resources: Vec<Value> = in_version(store, name, version)
                .map(|rt| {
                    json!({
                        "resource": rt.gvr.plural,
                        "responseKind": {"group": name, "version": version, "kind": rt.kind},
                        "scope": if rt.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": rt.kind.to_ascii_lowercase(),
                        "verbs": rt.verbs,
                    })
                })
                .collect();
            json!({"version": version, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": name, "creationTimestamp": null}, "versions": versions})
}

/// `/api` (`core`) or `/apis` as an aggregated `APIGroupDiscoveryList` of `version`.
pub(crate) fn aggregated(store: &Store, core: bool, version: &str) -> Value {
    let items: Vec<Value> = if core {
        vec![aggregated_group(store, "", &["v1"])]
    } else {
        groups(store).iter().map(|(name, versions)| aggregated_group(store, name, versions)).collect()
    };
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_rs_accept_header_gets_v2() {
        let kube = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_version(kube), Some("v2"));
        assert_eq!(
            aggregated_version("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"),
            Some("v2beta1")
        );
        assert_eq!(aggregated_version("application/json"), None);
        assert_eq!(aggregated_version(""), None);
    }

    #[test]
    fn groups_prefer_their_newest_stable_version() {
        let mut store = Store::new(true);
        store.apply(json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h", "namespace": "a"}}));
        let doc = group(&store, "autoscaling").unwrap();
        assert_eq!(doc["preferredVersion"]["version"], "v2");
        assert_eq!(doc["versions"][1]["groupVersion"], "autoscaling/v1");
        let v1 = resource_list(&store, "autoscaling", "v1").unwrap();
        assert_eq!(v1["resources"][0]["name"], "horizontalpodautoscalers");
        assert!(group(&store, "nope").is_none());
    }
}
