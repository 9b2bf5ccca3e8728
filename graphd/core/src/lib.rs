//! graphd's data model, shared by every other crate.
//!
//! - [`time`]: timestamps (milliseconds since the Unix epoch).
//! - [`key`]: the stable external key of an item, per source.
//! - [`kind`]: `Domain::Kind` names such as `Kubernetes::Pod`.
//! - [`relation`]: typed edge words and which way they point (up, down, across).
//! - [`item`]: what exists (or existed): scope, labels, health, status, document.
//! - [`edge`]: `(from, relation, to)` with provenance and tombstone times.
//! - [`change`]: what happened to an item.
//! - [`patch`]: what an update changed in a document, as a JSON Patch.
//! - [`scrape`]: how scrapes run (once or watching) and how each is doing.
//!
//! This crate depends on serde only: it never pulls in storage, networking or async code, so
//! that rules, clients and tools can use the model cheaply.

pub mod change;
pub mod edge;
pub mod item;
pub mod key;
pub mod kind;
pub mod patch;
pub mod relation;
pub mod scrape;
pub mod time;

pub use change::{Change, ChangeType};
pub use edge::{Edge, EdgeWrite, Provenance};
pub use item::{Health, Item, ItemId, ItemWrite, Scope};
pub use key::ExternalKey;
pub use kind::{Kind, KindError};
pub use relation::{Orientation, Relation, RelationError};
pub use time::{parse_duration, Timestamp};
