//! Edges: `(from, relation, to)` with who made them and when.

use crate::{ExternalKey, ItemId, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Who asserted an edge. A rule re-deriving its edges must only touch its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "by", content = "name", rename_all = "lowercase")]
pub enum Provenance {
    Rule(String),
    Scraper(String),
    Api(String),
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provenance::Rule(name) => write!(f, "rule:{name}"),
            Provenance::Scraper(name) => write!(f, "scraper:{name}"),
            Provenance::Api(name) => write!(f, "api:{name}"),
        }
    }
}

/// An edge as a source asserts it, naming both ends by external key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EdgeWrite {
    pub from: ExternalKey,
    pub relation: String,
    pub to: ExternalKey,
    pub provenance: Provenance,
}

/// An edge as the store keeps and returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    pub from: ItemId,
    pub relation: String,
    pub to: ItemId,
    pub provenance: Provenance,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
}
