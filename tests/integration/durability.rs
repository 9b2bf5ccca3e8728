//! A writer process killed with SIGKILL at random points, again and again: after each reopen
//! every acknowledged batch is there and no batch is half there.

use graphd_rocks::{RocksEngine, RocksOptions};
use graphd_store::Store;
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

#[test]
fn killed_writer_loses_no_acknowledged_batch_and_leaves_no_half_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed);
    let mut next_batch = 0u64;
    let mut total_acked = 0;
    for round in 0..8 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-writer"))
            .arg(dir.path())
            .arg(next_batch.to_string())
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
        for batch in 0..=last_acked {
            assert_eq!(
                presence(&store, batch),
                (ITEMS_PER_BATCH, ITEMS_PER_BATCH - 1),
                "round {round}: acknowledged batch {batch}"
            );
        }
        let in_flight = presence(&store, last_acked + 1);
        assert!(
            in_flight == (0, 0) || in_flight == (ITEMS_PER_BATCH, ITEMS_PER_BATCH - 1),
            "round {round}: batch {} is half there: {in_flight:?}",
            last_acked + 1
        );
        assert_eq!(presence(&store, last_acked + 2), (0, 0), "nothing beyond the batch in flight");
        next_batch = if in_flight.0 > 0 { last_acked + 2 } else { last_acked + 1 };
    }
    assert!(total_acked >= 8, "the writer made progress: {total_acked} batches");
}
