//! The graphd daemon and its command line.
//!
//! - [`config`]: `graphd.yaml`, the settings of `graphd serve`.
//! - [`open`]: the store on RocksDB in a data dir ([`GraphStore`]).
//! - [`sample`]: loading a generated fleet, with progress.
//! - [`import`]: `kubectl get -o json|yaml` output into the store, linked by the rules.
//! - [`scrape`]: the scrapers of a configuration, writing into the store.
//! - [`render`]: tree, table and JSON output of the API's answers.
//! - [`server`]: the gRPC service (queries, ingest, health, reflection).
//! - [`agent`]: scrapers near what they scrape, streaming to a central graphd.
//! - [`stream`]: replication through NATS JetStream: agents publish, replicas consume.
//! - [`cli`]: the subcommands.
//!
//! Storage and query logic live in `graphd-store`; this crate wires it to RocksDB and people.

pub mod agent;
pub mod cli;
pub mod config;
pub mod import;
pub mod open;
pub mod render;
pub mod sample;
pub mod scrape;
pub mod server;
pub mod stream;

pub use open::{open_store, GraphStore};

/// mimalloc for every program built on this crate (the daemon, its tests and benches): with
/// many threads allocating small buffers at once it spends a fraction of glibc's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
