//! Items: one thing that exists or existed.

use crate::{ExternalKey, Kind, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The dense internal id of an item, assigned by the store; used in every edge and index key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ItemId(pub u64);

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Health as people read it on a dashboard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Health {
    #[default]
    Unknown,
    Healthy,
    Warning,
    Unhealthy,
}

impl Health {
    pub const ALL: [Health; 4] = [Health::Unknown, Health::Healthy, Health::Warning, Health::Unhealthy];

    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "Unknown",
            Health::Healthy => "Healthy",
            Health::Warning => "Warning",
            Health::Unhealthy => "Unhealthy",
        }
    }

    pub fn parse(word: &str) -> Option<Health> {
        Health::ALL.into_iter().find(|h| h.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an item lives. Every part is optional: a VPC has no cluster, a Pod no account
/// (until rules link its cluster to one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// What a source says about an item: the input of an upsert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemWrite {
    pub key: ExternalKey,
    pub kind: Kind,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub health: Health,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub ready: bool,
    /// The source document, Secret values already removed by the scraper.
    #[serde(default)]
    pub document: serde_json::Value,
    /// When the source says the thing was created; the store's clock if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
}

impl ItemWrite {
    /// A minimal write: key, kind and name; everything else default.
    pub fn new(key: ExternalKey, kind: Kind, name: impl Into<String>) -> Self {
        ItemWrite {
            key,
            kind,
            name: name.into(),
            namespace: None,
            scope: Scope::default(),
            labels: BTreeMap::new(),
            health: Health::Unknown,
            status: String::new(),
            ready: false,
            document: serde_json::Value::Null,
            created_at: None,
        }
    }

    /// A hash of everything an upsert can change, so an unchanged re-list writes nothing.
    pub fn content_hash(&self) -> u64 {
        self.content_hash_with(&self.document_json())
    }

    /// The document as stored: compact JSON. serde_json::Value keeps object keys sorted (no
    /// preserve_order), so equal documents serialise identically.
    pub fn document_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.document).expect("JSON values always serialise")
    }

    /// [`ItemWrite::content_hash`] given the document's JSON, for callers that also store it.
    pub fn content_hash_with(&self, document_json: &[u8]) -> u64 {
        use xxhash_rust::xxh3::Xxh3;
        let mut hasher = Xxh3::new();
        let mut field = |bytes: &[u8]| {
            hasher.update(&(bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        };
        field(self.kind.as_str().as_bytes());
        field(self.name.as_bytes());
        field(self.namespace.as_deref().unwrap_or_default().as_bytes());
        for part in [&self.scope.cluster, &self.scope.account, &self.scope.region] {
            field(part.as_deref().unwrap_or_default().as_bytes());
        }
        for (k, v) in &self.labels {
            field(k.as_bytes());
            field(v.as_bytes());
        }
        field(self.health.as_str().as_bytes());
        field(self.status.as_bytes());
        field(&[self.ready as u8]);
        field(document_json);
        hasher.digest()
    }
}

/// An item as the store keeps and returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    pub key: ExternalKey,
    pub kind: Kind,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub scope: Scope,
    pub labels: BTreeMap<String, String>,
    pub health: Health,
    pub status: String,
    pub ready: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    pub content_hash: u64,
}

impl Item {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}
