//! The stable external key of an item: how its source names it, forever.
//!
//! A recreated Kubernetes object gets a new uid and so a new key and a new item; an AWS
//! resource id is never reused within an account and region.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ExternalKey {
    /// A Kubernetes object: its cluster's name and `metadata.uid`.
    Kubernetes { cluster: String, uid: String },
    /// An AWS resource: account, region (empty for global resources) and resource id or ARN.
    Aws { account: String, region: String, resource_id: String },
    /// Anything else: the source's name and its own id.
    Custom { source: String, id: String },
}

impl ExternalKey {
    pub fn kubernetes(cluster: impl Into<String>, uid: impl Into<String>) -> Self {
        ExternalKey::Kubernetes { cluster: cluster.into(), uid: uid.into() }
    }

    pub fn aws(account: impl Into<String>, region: impl Into<String>, resource_id: impl Into<String>) -> Self {
        ExternalKey::Aws { account: account.into(), region: region.into(), resource_id: resource_id.into() }
    }

    pub fn custom(source: impl Into<String>, id: impl Into<String>) -> Self {
        ExternalKey::Custom { source: source.into(), id: id.into() }
    }

    /// The id a person would type to find this item without its scope: a Kubernetes uid, an
    /// AWS resource id such as `i-0abc123`, or a custom source's id.
    pub fn short_id(&self) -> &str {
        match self {
            ExternalKey::Kubernetes { uid, .. } => uid,
            ExternalKey::Aws { resource_id, .. } => resource_id,
            ExternalKey::Custom { id, .. } => id,
        }
    }

    /// Every part of the key is required: an empty uid or id would make unrelated items collide.
    pub fn validate(&self) -> Result<(), &'static str> {
        match self {
            ExternalKey::Kubernetes { cluster, uid } => {
                if cluster.is_empty() {
                    return Err("key.cluster is empty");
                }
                if uid.is_empty() {
                    return Err("key.uid is empty");
                }
            }
            ExternalKey::Aws { account, resource_id, .. } => {
                if account.is_empty() {
                    return Err("key.account is empty");
                }
                if resource_id.is_empty() {
                    return Err("key.resource_id is empty");
                }
            }
            ExternalKey::Custom { source, id } => {
                if source.is_empty() {
                    return Err("key.source is empty");
                }
                if id.is_empty() {
                    return Err("key.id is empty");
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for ExternalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExternalKey::Kubernetes { cluster, uid } => write!(f, "k8s:{cluster}/{uid}"),
            ExternalKey::Aws { account, region, resource_id } => {
                write!(f, "aws:{account}/{region}/{resource_id}")
            }
            ExternalKey::Custom { source, id } => write!(f, "custom:{source}/{id}"),
        }
    }
}
