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
}
