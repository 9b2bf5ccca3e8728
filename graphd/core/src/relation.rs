//! Typed relations and the way they point.
//!
//! An edge `(from, relation, to)` is read "from *relation* to": `Pod runs-on Node`,
//! `Namespace contains Pod`. Walk-up needs to know, per relation, which end is the parent.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which end of an edge is the parent, for walk-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Orientation {
    /// `to` is the parent of `from` (`Pod runs-on Node`): walk-up follows the edge forwards.
    Up,
    /// `from` is the parent of `to` (`Namespace contains Pod`): walk-up follows it backwards.
    Down,
    /// Neither is the other's parent (`Service selects Pod`): walk-up ignores it.
    Across,
}

/// A relation word with its orientation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Relation {
    name: String,
    orientation: Orientation,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelationError {
    #[error("relation {0:?} must be a lowercase word of letters, digits and '-', starting with a letter")]
    BadName(String),
    #[error("relation {name:?} is already declared as {existing:?}, not {requested:?}")]
    Conflict { name: String, existing: Orientation, requested: Orientation },
    #[error("relation {0:?} is not declared")]
    Unknown(String),
}

impl Relation {
    pub fn new(name: impl Into<String>, orientation: Orientation) -> Result<Self, RelationError> {
        let name = name.into();
        let mut chars = name.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        if !starts_with_letter || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Err(RelationError::BadName(name));
        }
        Ok(Relation { name, orientation })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn orientation(&self) -> Orientation {
        self.orientation
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// The relations every graphd store knows from the start. Rule sets may declare more.
pub const BUILTIN: &[(&str, Orientation)] = &[
    // Parent → child.
    ("contains", Orientation::Down),
    ("owns", Orientation::Down),
    ("manages", Orientation::Down),
    // Child → parent.
    ("runs-on", Orientation::Up),
    ("member-of", Orientation::Up),
    ("is", Orientation::Up),
    // Neither.
    ("mounts", Orientation::Across),
    ("selects", Orientation::Across),
    ("routes-to", Orientation::Across),
    ("uses", Orientation::Across),
    ("binds", Orientation::Across),
    ("backed-by", Orientation::Across),
    ("attached-to", Orientation::Across),
];

/// The built-in relations as values.
pub fn builtin() -> impl Iterator<Item = Relation> {
    BUILTIN.iter().map(|(name, orientation)| Relation { name: (*name).to_owned(), orientation: *orientation })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_are_valid() {
        for relation in builtin() {
            Relation::new(relation.name(), relation.orientation()).unwrap();
        }
    }

    #[test]
    fn rejects_bad_names() {
        for bad in ["", "Runs-on", "runs on", "-x", "1x"] {
            assert!(matches!(Relation::new(bad, Orientation::Up), Err(RelationError::BadName(_))));
        }
    }
}
