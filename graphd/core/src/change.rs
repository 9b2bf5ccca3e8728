//! Change records: what happened to an item, newest first in storage.

use crate::{ItemId, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChangeType {
    Created,
    Updated,
    Deleted,
    /// A tombstoned item reported again by its source.
    Restored,
    HealthChanged,
    /// What a tag such as `:latest` points at changed (a kind's change rules say where).
    ImageDigestChanged,
    /// A wanted count went up or down (a kind's change rules say which).
    ScaledUp,
    ScaledDown,
    /// A state its source reports moved (an EC2 instance stopped; a kind's change rules say which).
    StateChanged,
    /// Something reported about the item (a Kubernetes Event), counted, not repeated.
    Event,
}

impl ChangeType {
    pub const ALL: [ChangeType; 10] = [
        ChangeType::Created,
        ChangeType::Updated,
        ChangeType::Deleted,
        ChangeType::Restored,
        ChangeType::HealthChanged,
        ChangeType::ImageDigestChanged,
        ChangeType::ScaledUp,
        ChangeType::ScaledDown,
        ChangeType::StateChanged,
        ChangeType::Event,
    ];

    /// The name people and clients use: `Created`, `HealthChanged`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Created => "Created",
            ChangeType::Updated => "Updated",
            ChangeType::Deleted => "Deleted",
            ChangeType::Restored => "Restored",
            ChangeType::HealthChanged => "HealthChanged",
            ChangeType::ImageDigestChanged => "ImageDigestChanged",
            ChangeType::ScaledUp => "ScaledUp",
            ChangeType::ScaledDown => "ScaledDown",
            ChangeType::StateChanged => "StateChanged",
            ChangeType::Event => "Event",
        }
    }

    /// The type named `name`, as [`ChangeType::as_str`] writes it.
    pub fn from_name(name: &str) -> Option<ChangeType> {
        ChangeType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl std::fmt::Display for ChangeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub item: ItemId,
    pub at: Timestamp,
    pub change_type: ChangeType,
    /// One line a person can read in a list.
    pub summary: String,
    /// Who reported it: a scraper, a rule, an API caller.
    pub source: String,
    /// Of an update: the RFC 6902 JSON Patch from the document before to the one after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<serde_json::Value>,
}
