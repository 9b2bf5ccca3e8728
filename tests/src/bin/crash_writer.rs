//! Writes crash-test batches into a store forever, printing each batch number once it is
//! acknowledged, until it is killed. Used by the durability tests.
//!
//! usage: crash-writer DATA_DIR FIRST_BATCH [BATCHES_PER_LOAD]
//!
//! Without BATCHES_PER_LOAD each batch is applied on its own, acknowledged when it returns.
//! With it, batches go in loads of that many (`Store::apply_all`, unlogged until the load's
//! flush), each acknowledged when its load returns; memtables are small, so that RocksDB
//! flushes many times during a load and a kill finds some of it flushed.

use graphd_core::Timestamp;
use graphd_rocks::{RocksEngine, RocksOptions};
use graphd_store::Store;
use std::io::Write;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(first)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: crash-writer DATA_DIR FIRST_BATCH [BATCHES_PER_LOAD]");
    };
    let first: u64 = first.parse()?;
    let per_load: Option<u64> = args.next().map(|n| n.parse()).transpose()?;
    let options = match per_load {
        Some(_) => RocksOptions { write_buffer_bytes: 64 << 10, ..RocksOptions::default() },
        None => RocksOptions::default(),
    };
    let store = Store::open(RocksEngine::open(&dir, &options)?)?;
    let mut stdout = std::io::stdout().lock();
    let mut acknowledge = |batches: std::ops::Range<u64>| -> std::io::Result<()> {
        for batch in batches {
            writeln!(stdout, "{batch}")?;
        }
        stdout.flush()
    };
    match per_load {
        None => {
            for batch in first.. {
                store.apply(&graphd_tests::crash_batch(batch), Timestamp::now(), "crash-writer")?;
                // Only now is the batch acknowledged.
                acknowledge(batch..batch + 1)?;
            }
        }
        Some(per_load) => {
            for start in (first..).step_by(per_load as usize) {
                let load = (start..start + per_load).map(|batch| (graphd_tests::crash_batch(batch), Timestamp::now()));
                store.apply_all(load, "crash-writer", |_, _| ())?;
                // Only now are the load's batches acknowledged.
                acknowledge(start..start + per_load)?;
            }
        }
    }
    Ok(())
}
