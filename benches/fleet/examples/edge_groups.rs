//! How many keys a load's edges would take if each batch wrote one key per item and direction
//! instead of one per edge and direction: the count behind "one key per item for its edges"
//! in benches/README.md.
//!
//! `GRAPHD_BENCH_FLEET=l cargo run --release -p graphd-fleet --example edge_groups`

use graphd_fleet::{generate, load, FleetSize};
use graphd_store::Op;
use std::collections::HashSet;

fn main() {
    let word = std::env::var("GRAPHD_BENCH_FLEET").unwrap_or_else(|_| "m".into());
    let size = FleetSize::parse(&word)
        .unwrap_or_else(|| panic!("GRAPHD_BENCH_FLEET={word:?}: expected s, m, l or a number of clusters"));
    let fleet = generate(size, 1);
    // Batches as the benches load them; a link names its ends by external key.
    let (mut edges, mut grouped_out, mut grouped_in) = (0, 0, 0);
    for batch in load::batches(&fleet, 5_000) {
        let links: Vec<_> =
            batch.iter().filter_map(|op| if let Op::Link(link) = op { Some(link) } else { None }).collect();
        edges += links.len();
        grouped_out += links.iter().map(|link| &link.from).collect::<HashSet<_>>().len();
        grouped_in += links.iter().map(|link| &link.to).collect::<HashSet<_>>().len();
    }
    println!(
        "{} items, {edges} edges: {} keys as one per edge and direction; one per item and direction \
         in each batch of 5,000 operations: {grouped_out} outgoing + {grouped_in} incoming = {}",
        fleet.items.len(),
        2 * edges,
        grouped_out + grouped_in
    );
}
