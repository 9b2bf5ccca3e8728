//! What tombstoning one edge costs the in-memory adjacency when the edge's far end has many:
//! deleting a Pod tombstones its edge into its namespace, whose incoming list holds an entry
//! for every item in it.
//!
//! `cargo run --release -p graphd-benches --example tombstone_in_a_large_list -- 30000`

use graphd_core::ItemId;
use graphd_store::adjacency::{Adjacency, ChangeKind, EdgeChange};
use std::time::Instant;

fn main() {
    let members: u64 = std::env::args().nth(1).map_or(30_000, |a| a.parse().expect("a number of members"));
    let member_of =
        |item: u64, kind| EdgeChange { from: ItemId(item), rel: 3, to: ItemId(1), from_kind: 1, to_kind: 2, kind };
    let mut adjacency = Adjacency::load(&graphd_store::MemEngine::new(), 1, members + 2).expect("an empty adjacency");
    let joined: Vec<_> = (2..members + 2).map(|item| member_of(item, ChangeKind::Live)).collect();
    adjacency.stage(&joined, 1);
    let tombstones = 2_000.min(members);
    let started = Instant::now();
    for i in 0..tombstones {
        // Members spread over the list, each tombstoned once.
        let item = 2 + (i * 7919) % members;
        adjacency.stage(&[member_of(item, ChangeKind::Tombstoned)], 2 + i);
    }
    let per_tombstone = started.elapsed().as_secs_f64() * 1e6 / tombstones as f64;
    println!("{members} members: {per_tombstone:.2} µs per tombstone");
}
