//! One cluster's scraper configuration, as written under `scrapers.kubernetes` in graphd.yaml.

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// A cluster to scrape.
///
/// ```yaml
/// - name: prod-eu            # the cluster's name in graphd: the scope of its items
///   kubeconfig: ~/.kube/config   # default: $KUBECONFIG, then ~/.kube/config
///   context: prod-eu-admin   # default: the kubeconfig's current context
///   exclude: [coordination.k8s.io/Lease, events.k8s.io/*]
/// - name: here
///   in_cluster: true         # the service account graphd runs as
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSource {
    pub name: String,
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    #[serde(default)]
    pub context: Option<String>,
    #[serde(default)]
    pub in_cluster: bool,
    /// Which resources to scrape (see [`ResourceFilter`]).
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// How often the API's resources are discovered again (new CRDs), in seconds.
    #[serde(default = "default_rediscover_secs")]
    pub rediscover_secs: u64,
    /// Objects per page of a listing.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

fn default_rediscover_secs() -> u64 {
    300
}

fn default_page_size() -> u32 {
    500
}

impl KubernetesSource {
    /// A source with every default, for cluster `name` and the kubeconfig `context`.
    pub fn new(name: impl Into<String>) -> Self {
        KubernetesSource {
            name: name.into(),
            kubeconfig: None,
            context: None,
            in_cluster: false,
            include: Vec::new(),
            exclude: Vec::new(),
            rediscover_secs: default_rediscover_secs(),
            page_size: default_page_size(),
        }
    }

    pub fn filter(&self) -> ResourceFilter {
        ResourceFilter { include: self.include.clone(), exclude: self.exclude.clone() }
    }

    pub fn rediscover_every(&self) -> Duration {
        Duration::from_secs(self.rediscover_secs.max(1))
    }
}

/// Which resources to scrape: `Kind`, `group/Kind` or `group/*` (the core group is `core`).
/// Empty `include` means every resource; `exclude` wins over `include`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceFilter {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl ResourceFilter {
    pub fn admits(&self, group: &str, kind: &str) -> bool {
        let group = if group.is_empty() { "core" } else { group };
        let matches = |pattern: &String| match pattern.split_once('/') {
            Some((g, k)) => g == group && (k == "*" || k == kind),
            None => pattern == kind,
        };
        (self.include.is_empty() || self.include.iter().any(matches)) && !self.exclude.iter().any(matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_kind_group_and_wildcard() {
        let filter = ResourceFilter {
            include: vec!["Pod".into(), "apps/*".into(), "core/Node".into()],
            exclude: vec!["apps/ControllerRevision".into()],
        };
        assert!(filter.admits("", "Pod"));
        assert!(filter.admits("", "Node"));
        assert!(filter.admits("apps", "Deployment"));
        assert!(!filter.admits("apps", "ControllerRevision"));
        assert!(!filter.admits("batch", "Job"));
        assert!(ResourceFilter::default().admits("helm.cattle.io", "HelmChart"));
    }

    #[test]
    fn reads_a_cluster_entry() {
        let text = "name: prod\ncontext: admin@prod\nexclude: [coordination.k8s.io/Lease]\n";
        let source: KubernetesSource = serde_yaml::from_str(text).unwrap();
        assert_eq!(source.name, "prod");
        assert_eq!(source.context.as_deref(), Some("admin@prod"));
        assert!(!source.filter().admits("coordination.k8s.io", "Lease"));
        assert_eq!(source.page_size, 500);
    }
}
