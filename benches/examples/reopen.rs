//! The report bench's "reopen + first walk-up" alone, five times over one store: opening
//! RocksDB, rebuilding the adjacency, and answering a walk-up from the first Pod.
//!
//! `GRAPHD_BENCH_STORE=DIR GRAPHD_BENCH_FLEET=l cargo run --release -p graphd-benches --example reopen`
//!
//! A `DIR` without a store is loaded first with the fleet, in a process of its own (as the
//! report bench does), so that the reopens do not find the load's memory still held.

use graphd_benches::{bench_size, load_into, open};
use graphd_store::query::ListQuery;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const STORE_VAR: &str = "GRAPHD_BENCH_STORE";
const LOAD_ONLY_VAR: &str = "GRAPHD_BENCH_LOAD_ONLY";
const ROUNDS: usize = 5;

fn main() {
    let dir = std::env::var(STORE_VAR).unwrap_or_else(|_| panic!("{STORE_VAR}: the store's directory"));
    let dir = Path::new(&dir);
    if std::env::var_os(LOAD_ONLY_VAR).is_some() {
        let (took, items, edges) = load_into(dir, bench_size().1);
        println!("loaded {items} items and {edges} edges in {:.1} s", took.as_secs_f64());
        return;
    }
    if !dir.join("CURRENT").exists() {
        let status = Command::new(std::env::current_exe().expect("this program's path"))
            .env(LOAD_ONLY_VAR, "1")
            .status()
            .expect("run the load");
        assert!(status.success(), "the load failed");
    }
    let one_pod =
        ListQuery { kind: Some(graphd_core::Kind::new("Kubernetes::Pod").unwrap()), limit: 1, ..ListQuery::default() };
    let mut took = Vec::new();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let store = open(dir);
        let first_pod = store.read().list(&one_pod).expect("list").items[0].id;
        let answer = store.read().walk_up(first_pod, false).expect("walk-up");
        took.push(started.elapsed().as_secs_f64() * 1e3);
        assert!(!answer.nodes.is_empty());
    }
    let shown: Vec<String> = took.iter().map(|ms| format!("{ms:.0}")).collect();
    took.sort_by(f64::total_cmp);
    println!("reopen + first walk-up, ms: {} (median {:.0})", shown.join(", "), took[ROUNDS / 2]);
}
