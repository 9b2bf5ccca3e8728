//! Opening the store in a data dir.

use anyhow::Context;
use graphd_rocks::{RocksEngine, RocksOptions};
use graphd_store::Store;
use std::path::Path;

/// The product: the graph store on RocksDB.
pub type GraphStore = Store<RocksEngine>;

/// Opens (creating if needed) the store in `data_dir`.
pub fn open_store(data_dir: &Path) -> anyhow::Result<GraphStore> {
    let engine = RocksEngine::open(data_dir, &RocksOptions::default())?;
    Store::open(engine).with_context(|| format!("reading the store in {}", data_dir.display()))
}

/// Opens the store in `data_dir` for reading only, as it is now; works while a server holds it.
pub fn open_store_read_only(data_dir: &Path) -> anyhow::Result<GraphStore> {
    let engine = RocksEngine::open_read_only(data_dir, &RocksOptions::default())?;
    Store::open(engine).with_context(|| format!("reading the store in {}", data_dir.display()))
}
