//! A writer process killed with SIGKILL at random points, again and again: after each reopen
//! every acknowledged batch is there and no batch is half there. The writer applies batches one
//! by one (logged), or in loads (unlogged, flushed at each load's end).

use graphd_rocks::{RocksEngine, RocksOptions};
use graphd_store::{Cf, Engine, Snapshot, Store};
use graphd_tests::{crash_key, ITEMS_PER_BATCH};
use rand::{Rng, SeedableRng};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How much of batch `batch` is in the store: (items, edges).
fn presence(store: &Store<RocksEngine>, batch: u64) -> (usize, usize) {
    let reader = store.read();
    let mut items = 0;
    let mut edges = 0;
    for j in 0..ITEMS_PER_BATCH {
        if let Some(item) = reader.get_by_key(&crash_key(batch, j), false).unwrap() {
            items += 1;
            edges += reader.edges(item.id, true, false).unwrap().len();
            assert_eq!(
                reader.document(item.id).unwrap().unwrap()["item"],
                j,
                "batch {batch} item {j} has its own document"
            );
        }
    }
    (items, edges)
}

/// Entries in the column families every crash batch writes to: items, documents, and edges in
/// both directions. A batch whose item records are gone must have taken its documents and
/// edges with it, though reads through the store would not show them.
fn entries(store: &Store<RocksEngine>) -> [usize; 4] {
    let snapshot = store.engine().snapshot();
    [Cf::Items, Cf::Documents, Cf::EdgesOut, Cf::EdgesIn].map(|cf| {
        let mut count = 0;
        snapshot
            .scan(cf, b"", None, &mut |_, _| {
                count += 1;
                true
            })
            .unwrap();
        count
    })
}

/// Starts the crash writer (with `extra` arguments) `rounds` times, each time killing it a random
/// while after its first acknowledgement. After each reopen: every acknowledged batch is whole;
/// after them, at most `unacknowledged` more are, and then none, not even in part. Returns how
/// many rounds found unacknowledged batches whole.
fn kill_and_check(extra: &[&str], rounds: usize, unacknowledged: u64) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed);
    let mut next_batch = 0u64;
    let mut total_acked = 0;
    let mut rounds_with_unacknowledged = 0;
    for round in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-writer"))
            .arg(dir.path())
            .arg(next_batch.to_string())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start crash-writer");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line.parse::<u64>().expect("batch number")).is_err() {
                    break;
                }
            }
        });
        // Wait for the first acknowledgement (the store is open and writing), then a random
        // while longer, then kill without warning.
        let first = rx.recv_timeout(Duration::from_secs(60)).expect("the writer acknowledges a batch");
        std::thread::sleep(Duration::from_millis(rng.gen_range(5..300)));
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        reader.join().unwrap();
        let acked: Vec<u64> = std::iter::once(first).chain(rx.try_iter()).collect();
        let last_acked = *acked.last().unwrap();
        assert_eq!(acked, (next_batch..=last_acked).collect::<Vec<_>>(), "acknowledged in order");
        total_acked += acked.len();

        let store = Store::open(RocksEngine::open(dir.path(), &RocksOptions::default()).expect("reopen after SIGKILL"))
            .unwrap();
        let whole = (ITEMS_PER_BATCH, ITEMS_PER_BATCH - 1);
        for batch in 0..=last_acked {
            assert_eq!(presence(&store, batch), whole, "round {round}: acknowledged batch {batch}");
        }
        let mut end = last_acked + 1;
        while presence(&store, end) == whole {
            end += 1;
        }
        assert_eq!(presence(&store, end), (0, 0), "round {round}: batch {end} is half there");
        let beyond = end - last_acked - 1;
        assert!(
            beyond <= unacknowledged,
            "round {round}: {beyond} unacknowledged batches are there, more than were written"
        );
        let batches = end as usize;
        let per_batch = [ITEMS_PER_BATCH, ITEMS_PER_BATCH, ITEMS_PER_BATCH - 1, ITEMS_PER_BATCH - 1];
        assert_eq!(
            entries(&store),
            per_batch.map(|n| n * batches),
            "round {round}: items, documents, edges out and in of {batches} whole batches and nothing more"
        );
        if beyond > 0 {
            rounds_with_unacknowledged += 1;
        }
        next_batch = end;
    }
    assert!(total_acked >= rounds, "the writer made progress: {total_acked} batches");
    rounds_with_unacknowledged
}

#[test]
fn killed_writer_loses_no_acknowledged_batch_and_leaves_no_half_batch() {
    kill_and_check(&[], 8, 1);
}

#[test]
fn killed_load_loses_no_acknowledged_load_and_leaves_no_half_batch() {
    const PER_LOAD: u64 = 40;
    let rounds = kill_and_check(&[&PER_LOAD.to_string()], 8, PER_LOAD);
    // The writer's memtables flush every few batches: a kill during a load finds the batches
    // flushed before it, though the load never finished.
    assert!(rounds > 0, "no kill found part of an unfinished load flushed");
}
