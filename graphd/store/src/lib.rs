//! graphd's storage layer, over any engine.
//!
//! - [`cf`]: the column families, listed once.
//! - [`keys`]: one function per key shape, with checked decoders.
//! - [`codec`]: item records, edge values, change records.
//! - [`engine`]: the engine trait (snapshots, atomic batches) and [`mem`], an in-memory engine.
//! - [`names`]: interned kinds and relations.
//! - [`store`] and [`write`]: the graph store; one writer applies atomic batches of upserts,
//!   deletes (tombstones), links and unlinks, and with rules (`graphd-rules`) links the items
//!   a batch changes inside the same batch.
//! - [`adjacency`]: every edge in memory, both ways, versioned by batch, for walks; and
//!   [`liveness`], each item's state as last read, for the start check of a walk.
//! - [`query`]: get, lookups, related, walk-up, list, health counts, changes.
//! - [`resync`]: tombstoning what a source no longer reports for its scope.
//! - [`retention`]: purging old tombstones in the background.
//! - [`relink`](mod@relink): deriving every item again after the link rules changed.
//! - `conformance` (feature `conformance`): the suite every engine must pass.
//!
//! This crate never depends on RocksDB: `graphd-rocks` plugs it in.

pub mod adjacency;
pub mod cf;
pub mod codec;
pub mod engine;
pub mod error;
pub mod keys;
pub mod liveness;
pub mod mem;
pub mod names;
mod overlay;
pub mod query;
mod reassess;
pub mod relink;
pub mod resync;
pub mod retention;
pub mod store;
pub mod write;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use cf::Cf;
pub use engine::{Engine, EngineError, Snapshot, WriteBatch};
pub use error::{Result, StoreError};
pub use mem::MemEngine;
pub use resync::{KeyScope, Resync};
pub use retention::{ChangeRetention, PurgeStats, RetentionTask};
pub use store::{ChangeListener, Store};
pub use write::{Op, Outcome};
