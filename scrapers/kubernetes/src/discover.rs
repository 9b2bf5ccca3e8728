//! Which resources a cluster's API serves that can be listed and watched.

use crate::config::ResourceFilter;
use crate::GroupKind;
use kube::discovery::{verbs, ApiResource, Discovery, Scope};
use kube::Client;

/// One resource type to scrape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resource {
    pub api: ApiResource,
    pub namespaced: bool,
    /// Only metadata is requested (Secrets: their values are never fetched).
    pub metadata_only: bool,
}

impl Resource {
    pub fn group_kind(&self) -> GroupKind {
        GroupKind { group: self.api.group.clone(), kind: self.api.kind.clone() }
    }
}

/// An API group (`""` for core) and a kind.
type Named = (&'static str, &'static str);

/// Kinds whose objects are read metadata-only.
const METADATA_ONLY: &[Named] = &[("", "Secret")];

/// (group, kind) served as another view of the objects of (group, kind): the same objects,
/// same uids, in another shape. Only the second is scraped when both are served.
const SAME_OBJECTS_AS: &[(Named, Named)] = &[(("events.k8s.io", "Event"), ("", "Event"))];

/// Every listable, watchable resource that `filter` admits, each kind at the most stable
/// version its group serves it in. Not only the group's preferred version: a kind served only
/// at another (OLM's ClusterServiceVersions and Subscriptions are `v1alpha1` in a group whose
/// preferred version is `v1`) would be missed.
pub async fn discover(client: Client, filter: &ResourceFilter) -> Result<Vec<Resource>, kube::Error> {
    let discovery = Discovery::new(client).run().await?;
    let mut resources = Vec::new();
    for group in discovery.groups() {
        let mut by_kind = group.resources_by_stability();
        by_kind.sort_by(|(a, _), (b, _)| a.kind.cmp(&b.kind));
        for (api, capabilities) in by_kind {
            let watchable =
                capabilities.supports_operation(verbs::LIST) && capabilities.supports_operation(verbs::WATCH);
            if !watchable || !filter.admits(&api.group, &api.kind) {
                continue;
            }
            let metadata_only = METADATA_ONLY.contains(&(api.group.as_str(), api.kind.as_str()));
            resources.push(Resource { namespaced: capabilities.scope == Scope::Namespaced, metadata_only, api });
        }
    }
    let served: Vec<(String, String)> = resources.iter().map(|r| (r.api.group.clone(), r.api.kind.clone())).collect();
    resources.retain(|r| {
        !SAME_OBJECTS_AS.iter().any(|&(view, (group, kind))| {
            view == (r.api.group.as_str(), r.api.kind.as_str()) && served.iter().any(|(g, k)| g == group && k == kind)
        })
    });
    Ok(resources)
}
