//! Change records on a fleet (`GRAPHD_BENCH_FLEET`, m by default): 10% of the live items updated
//! per round for 20 rounds, each update recording an `Updated` change. Per round, in the same
//! run, the same items are first written again unchanged: the baseline, the write path with
//! nothing to record. Then disk growth per change, and the latency of `changes --recursive
//! --depth 3` from namespaces (related both ways to depth 3, then the newest 100 changes of all
//! those items).
//!
//! `GRAPHD_BENCH_FLEET=m cargo bench -p graphd-benches --bench history`

use graphd_benches::stats::{measure, median, micros};
use graphd_benches::{bench_size, dir_size, open, starts};
use graphd_core::{ItemId, Timestamp};
use graphd_fleet::{generate, load};
use graphd_store::query::{ChangeFilter, Direction, RelatedQuery};
use graphd_store::Op;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::time::Instant;

const ROUNDS: usize = 20;
const BATCH: usize = 5_000;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let (size_name, size) = bench_size();
    let fleet = generate(size, 1);
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for batch in load::batches(&fleet, BATCH) {
        store.apply(&batch, Timestamp::now(), "bench").unwrap();
    }
    store.flush().unwrap();
    let disk_before = dir_size(dir.path());
    let mut live: Vec<usize> = (0..fleet.items.len()).filter(|&i| !fleet.items[i].deleted).collect();
    let per_round = live.len() / 10;
    println!("# fleet {size_name}: {} items, {per_round} updated per round, {ROUNDS} rounds\n", fleet.items.len());
    println!("| round | unchanged writes/s | updates/s | update/unchanged time |");
    println!("| ---: | ---: | ---: | ---: |");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let (mut unchanged_rates, mut update_rates) = (Vec::new(), Vec::new());
    let mut changes = 0;
    // The round that last updated each item (0: none yet), to write it again as it is.
    let mut last_round = vec![0; fleet.items.len()];
    let version = |i: usize, round: usize| {
        let mut item = fleet.items[i].write.clone();
        if round > 0 {
            item.document = serde_json::json!({"spec": {"round": round}});
        }
        Op::Upsert(item)
    };
    for round in 1..=ROUNDS {
        live.shuffle(&mut rng);
        let chosen = &live[..per_round];
        let write = |ops: &[Op]| {
            let started = Instant::now();
            let mut outcome = graphd_store::Outcome::default();
            for batch in ops.chunks(BATCH) {
                outcome.add_counts(&store.apply(batch, Timestamp::now(), "bench").unwrap());
            }
            (started.elapsed().as_secs_f64(), outcome)
        };
        let same: Vec<Op> = chosen.iter().map(|&i| version(i, last_round[i])).collect();
        let (same_secs, outcome) = write(&same);
        assert_eq!(outcome.unchanged, per_round, "written again unchanged");
        let updates: Vec<Op> = chosen.iter().map(|&i| version(i, round)).collect();
        for &i in chosen {
            last_round[i] = round;
        }
        let (update_secs, outcome) = write(&updates);
        assert_eq!(outcome.updated, per_round, "every write is an update");
        changes += per_round;
        let n = per_round as f64;
        unchanged_rates.push(n / same_secs);
        update_rates.push(n / update_secs);
        println!("| {round} | {:.0} | {:.0} | {:.2} |", n / same_secs, n / update_secs, update_secs / same_secs);
    }
    store.flush().unwrap();
    let growth = dir_size(dir.path()).saturating_sub(disk_before);
    let (unchanged, updates) = (median(&mut unchanged_rates), median(&mut update_rates));
    println!(
        "\nmedian: {updates:.0} updates/s, {unchanged:.0} unchanged writes/s (update/unchanged time {:.2}); \
         disk {:.1} MB more after {changes} updates: {:.0} bytes per update (document and change record)",
        unchanged / updates,
        growth as f64 / 1e6,
        growth as f64 / changes as f64
    );

    let namespaces = starts(&store, "Kubernetes::Namespace", 50);
    let related = RelatedQuery {
        direction: Direction::Both,
        depth: 3,
        relations: Vec::new(),
        kinds: Vec::new(),
        include_deleted: false,
        limit: 100_000,
    };
    let latency = measure(&namespaces, 5, |ns| {
        let reader = store.read();
        let mut ids: Vec<ItemId> = reader.related(ns, &related).unwrap().hits.iter().map(|h| h.id).collect();
        ids.push(ns);
        reader.changes(&ids, &ChangeFilter::newest(100)).unwrap().len()
    });
    println!(
        "changes --recursive --depth 3 from {} namespaces: p50 {} µs, p99 {} µs, {:.0} changes returned",
        namespaces.len(),
        micros(latency.p50),
        micros(latency.p99),
        latency.mean_returned
    );
}
