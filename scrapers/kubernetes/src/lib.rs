//! The Kubernetes scraper: every listable resource of many clusters, listed and then watched,
//! as a stream of [`Event`]s.
//!
//! Each configured cluster runs on its own ([`run_cluster`]): it discovers the API's resources
//! (built-in kinds and CRDs, again every `rediscover_every`, so new CRDs are picked up), and
//! runs one kube-rs watcher per resource. A watcher lists (paged), then watches from the
//! list's resourceVersion, resumes from bookmarks, and lists again after `410 Gone`; each
//! listing is framed by [`Event::ListBegin`] and [`Event::ListEnd`], so the consumer can
//! tombstone what a listing no longer reported (each discovery is announced first by
//! [`Event::Discovered`]). Nothing here keeps the objects: they go
//! to the channel as they arrive, and memory stays bounded by the channel.
//!
//! Secrets are watched metadata-only: their values are never fetched. A cluster that fails
//! (unreachable, unauthorised) retries with back-off and shows its error in its
//! [`ScrapeStatus`](graphd_core::scrape::ScrapeStatus); it never holds up another cluster.

mod cluster;
pub mod config;
mod discover;
mod watch;

pub use cluster::run_cluster;
pub use config::{KubernetesSource, ResourceFilter};
pub use discover::Resource;
use graphd_core::scrape::Mode;

use serde_json::Value;
use std::sync::Arc;

/// What a scrape tells its consumer, in order per resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The resources a discovery of `cluster` found, before any of them is listed: a kind
    /// served by two API groups (two CRDs named alike) is one kind of item, complete only
    /// when the listings of both are.
    Discovered { cluster: Arc<str>, resources: Vec<GroupKind> },
    /// A full listing of a resource in `cluster` starts: the first sync, or a re-list after
    /// an expired resourceVersion or a reconnect.
    ListBegin { cluster: Arc<str>, resource: GroupKind },
    /// An object as it is now (listed, added or modified), with `apiVersion` and `kind` set.
    Object { cluster: Arc<str>, object: Value },
    /// An object was deleted; its last state.
    Deleted { cluster: Arc<str>, object: Value },
    /// The listing that began last is complete: any object of it that it did not report is gone.
    ListEnd { cluster: Arc<str>, resource: GroupKind },
}

/// A resource by API group (`""` for the core group) and kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKind {
    pub group: String,
    pub kind: String,
}

impl GroupKind {
    /// The group and kind of an object, from its `apiVersion` (`apps/v1`, or `v1` for core)
    /// and `kind`.
    pub fn of(object: &Value) -> Option<GroupKind> {
        let api_version = object.get("apiVersion")?.as_str()?;
        let group = api_version.rsplit_once('/').map_or("", |(group, _version)| group);
        Some(GroupKind { group: group.to_owned(), kind: object.get("kind")?.as_str()?.to_owned() })
    }
}
