//! criterion benches of the central queries on RocksDB next to the in-memory floor, on one
//! fleet (`GRAPHD_BENCH_FLEET`, m by default). Each iteration queries the next of 200 fixed
//! Pods, so caches see a realistic spread.
//!
//! `cargo bench -p graphd-benches --bench graph`

use criterion::{criterion_group, criterion_main, Criterion};
use graphd_benches::floor::Floor;
use graphd_benches::{bench_size, load_into, open, starts};
use graphd_store::query::{Direction, RelatedQuery};
use std::time::Duration;

fn queries(c: &mut Criterion) {
    let (size_word, size) = bench_size();
    let dir = tempfile::tempdir().unwrap();
    load_into(dir.path(), size);
    let store = open(dir.path());
    let pods = starts(&store, "Kubernetes::Pod", 200);
    let floor = Floor::build(&store);
    let reader = store.read();

    let mut group = c.benchmark_group(format!("fleet-{size_word}"));
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3)).sample_size(30);
    let mut next = 0usize;
    let mut pick = move || {
        next = (next + 1) % pods.len();
        pods[next]
    };
    group.bench_function("walk-up/graphd", |b| b.iter(|| reader.walk_up(pick(), false).unwrap().nodes.len()));
    group.bench_function("walk-up/floor", |b| b.iter(|| floor.walk_up(pick())));
    for (word, direction, floor_dir) in [
        ("out", Direction::Outgoing, Some(petgraph::Direction::Outgoing)),
        ("in", Direction::Incoming, Some(petgraph::Direction::Incoming)),
        ("both", Direction::Both, None),
    ] {
        let mut query = RelatedQuery::new(direction, 3);
        query.limit = usize::MAX;
        group.bench_function(format!("related-{word}-d3/graphd"), |b| {
            b.iter(|| reader.related(pick(), &query).unwrap().hits.len())
        });
        group.bench_function(format!("related-{word}-d3/floor"), |b| b.iter(|| floor.related(pick(), floor_dir, 3)));
    }
    group.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);
