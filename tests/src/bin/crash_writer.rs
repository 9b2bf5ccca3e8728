//! Writes crash-test batches into a store forever, printing each batch number once it is
//! acknowledged, until it is killed. Used by the durability test.
//!
//! usage: crash-writer DATA_DIR FIRST_BATCH

use graphd_core::Timestamp;
use graphd_rocks::{RocksEngine, RocksOptions};
use graphd_store::Store;
use std::io::Write;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(first)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: crash-writer DATA_DIR FIRST_BATCH");
    };
    let first: u64 = first.parse()?;
    let store = Store::open(RocksEngine::open(&dir, &RocksOptions::default())?)?;
    let mut stdout = std::io::stdout().lock();
    for batch in first.. {
        store.apply(&graphd_tests::crash_batch(batch), Timestamp::now(), "crash-writer")?;
        // Only now is the batch acknowledged.
        writeln!(stdout, "{batch}")?;
        stdout.flush()?;
    }
    Ok(())
}
