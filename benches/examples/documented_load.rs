//! The linking bench's documented load alone, for timing and profiling it without the bench's
//! other loads: a generated fleet (`GRAPHD_BENCH_FLEET`, m by default) with the Kubernetes
//! documents the rules follow, loaded with every built-in rule in batches of 5,000
//! operations; every edge sent as a link too, or with `GRAPHD_BENCH_AS_SCRAPER=1` only those
//! no rule reads from the documents.
//!
//! `GRAPHD_BENCH_FLEET=l cargo run --release -p graphd-benches --example documented_load`

use graphd_benches::{bench_size, cpu_seconds, load_batches, open};
use graphd_fleet::{documents, load};
use graphd_store::Op;

fn main() {
    let (word, size) = bench_size();
    let mut fleet = graphd_fleet::generate(size, 1);
    documents::attach(&mut fleet);
    let as_scraper = std::env::var("GRAPHD_BENCH_AS_SCRAPER").is_ok_and(|v| v == "1");
    let fleet = &fleet;
    let batches: Vec<Vec<Op>> = match as_scraper {
        true => load::batches_linking(fleet, 5_000, move |edge| !documents::is_documented(fleet, edge)).collect(),
        false => load::batches(fleet, 5_000).collect(),
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = open(dir.path());
    store.set_rules(graphd_rules::builtin::rules().expect("the built-in rules")).expect("rules set");
    let cpu_before = cpu_seconds();
    let (took, outcome) = load_batches(&store, &batches);
    let secs = took.as_secs_f64();
    println!(
        "fleet {word}{}: {secs:.2} s, {:.2} CPU-s, {:.0} items/s, {} edges added",
        if as_scraper { ", as a scraper sends it" } else { "" },
        cpu_seconds() - cpu_before,
        fleet.items.len() as f64 / secs,
        outcome.edges_added
    );
}
