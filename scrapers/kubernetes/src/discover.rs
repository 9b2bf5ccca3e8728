//! Which resources a cluster's API serves that can be listed and watched.

use crate::config::ResourceFilter;
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

/// Kinds whose objects are read metadata-only.
const METADATA_ONLY: &[(&str, &str)] = &[("", "Secret")];

/// Every listable, watchable resource at its preferred version that `filter` admits.
pub async fn discover(client: Client, filter: &ResourceFilter) -> Result<Vec<Resource>, kube::Error> {
    let discovery = Discovery::new(client).run().await?;
    let mut resources = Vec::new();
    for group in discovery.groups() {
        for (api, capabilities) in group.recommended_resources() {
            let watchable =
                capabilities.supports_operation(verbs::LIST) && capabilities.supports_operation(verbs::WATCH);
            if !watchable || !filter.admits(&api.group, &api.kind) {
                continue;
            }
            let metadata_only = METADATA_ONLY.contains(&(api.group.as_str(), api.kind.as_str()));
            resources.push(Resource { namespaced: capabilities.scope == Scope::Namespaced, metadata_only, api });
        }
    }
    Ok(resources)
}
