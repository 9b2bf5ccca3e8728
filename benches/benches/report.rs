//! The figures criterion does not give: bulk-load rate, bytes on disk per edge, peak RSS,
//! reopen-to-first-answer time, and p50/p99 latency and cost per returned item of every query
//! class, next to the in-memory floor measured in the same run, which must return as many
//! items from every start.
//!
//! `GRAPHD_BENCH_FLEET=l cargo bench -p graphd-benches --bench report`
//!
//! The load runs in a child process so that the generator's memory does not count against
//! the store's peak RSS.

use graphd_benches::floor::Floor;
use graphd_benches::stats::{measure, micros, Latency};
use graphd_benches::{bench_size, current_rss, dir_size, load_into, open, peak_rss, starts};
use graphd_core::ItemId;
use graphd_store::query::{Direction, ListQuery, RelatedQuery, ScopeFilter};
use std::process::Command;
use std::time::Instant;

const PHASE_VAR: &str = "GRAPHD_REPORT_LOAD_INTO";

fn main() {
    if let Ok(dir) = std::env::var(PHASE_VAR) {
        let (elapsed, items, edges) = load_into(dir.as_ref(), bench_size().1);
        println!("{} {items} {edges} {}", elapsed.as_secs_f64(), peak_rss());
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench` asks every bench binary to list its benches
    }
    let (size_word, _) = bench_size();
    let dir = tempfile::tempdir().expect("temp dir");
    let out =
        Command::new(std::env::current_exe().unwrap()).env(PHASE_VAR, dir.path()).output().expect("run the load phase");
    assert!(out.status.success(), "load phase failed: {}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8(out.stdout).unwrap();
    let fields: Vec<f64> = line.split_whitespace().map(|f| f.parse().unwrap()).collect();
    let (load_secs, items, edges, load_rss) = (fields[0], fields[1], fields[2], fields[3]);
    let disk = dir_size(dir.path());

    let rss_before_open = current_rss();
    let started = Instant::now();
    let store = open(dir.path());
    let one_pod =
        ListQuery { kind: Some(graphd_core::Kind::new("Kubernetes::Pod").unwrap()), limit: 1, ..ListQuery::default() };
    let first_pod = store.read().list(&one_pod).unwrap().items[0].id;
    let first_answer = store.read().walk_up(first_pod, false).unwrap();
    let reopen = started.elapsed();
    assert!(!first_answer.nodes.is_empty());

    let pods = starts(&store, "Kubernetes::Pod", 200);
    let nodes = starts(&store, "Kubernetes::Node", 50);
    let namespaces = starts(&store, "Kubernetes::Namespace", 50);
    let vpcs = starts(&store, "AWS::EC2::VPC", 20);

    println!("# graphd report, fleet {size_word}: {items:.0} items, {edges:.0} edges\n");
    println!("| figure | value |\n| --- | --- |");
    println!("| bulk load | {load_secs:.1} s: {:.0} items/s, {:.0} edges/s |", items / load_secs, edges / load_secs);
    println!("| on disk | {:.0} MB, {:.1} bytes per edge |", disk as f64 / 1e6, disk as f64 / edges);
    println!("| peak RSS while loading (generator included) | {:.0} MiB |", load_rss / 1048576.0);
    println!("| reopen + first walk-up | {:.0} ms |", reopen.as_secs_f64() * 1e3);

    // The store's own memory: taken before the floor is built beside it.
    let rss_store = peak_rss();
    let mut rows: Vec<(String, Latency, Option<Latency>)> = Vec::new();
    let floor_started = Instant::now();
    let floor = Floor::build(&store);
    let floor_build = floor_started.elapsed();

    let reader = store.read();
    let graphd_up = |id| reader.walk_up(id, false).unwrap().nodes.len();
    let floor_up = |id| floor.walk_up(id);
    assert_same_counts("walk-up from Pods", &pods, graphd_up, floor_up);
    rows.push(("walk-up from Pods".into(), measure(&pods, 5, graphd_up), Some(measure(&pods, 5, floor_up))));
    let classes = [("Pods", &pods), ("Nodes", &nodes), ("Namespaces", &namespaces), ("VPCs", &vpcs)];
    for (label, group) in classes {
        for depth in [1, 3, 5] {
            for (dir_word, direction, floor_dir) in [
                ("out", Direction::Outgoing, Some(petgraph::Direction::Outgoing)),
                ("in", Direction::Incoming, Some(petgraph::Direction::Incoming)),
                ("both", Direction::Both, None),
            ] {
                let mut query = RelatedQuery::new(direction, depth);
                query.limit = usize::MAX;
                let rounds = if depth == 5 { 2 } else { 5 };
                let name = format!("related {dir_word} d{depth} from {label}");
                let graphd_related = |id| reader.related(id, &query).unwrap().hits.len();
                let floor_related = |id| floor.related(id, floor_dir, depth);
                assert_same_counts(&name, group, graphd_related, floor_related);
                let graphd = measure(group, rounds, graphd_related);
                rows.push((name, graphd, Some(measure(group, rounds, floor_related))));
            }
        }
    }
    // The Pods of each of the fixed Namespaces, which all exist (as named scopes might not).
    let scopes: Vec<ScopeFilter> = namespaces
        .iter()
        .map(|&id| {
            let namespace = reader.get(id, false).unwrap().expect("a live Namespace");
            ScopeFilter { cluster: namespace.scope.cluster, namespace: Some(namespace.name), ..ScopeFilter::default() }
        })
        .collect();
    let list_kind = graphd_core::Kind::new("Kubernetes::Pod").unwrap();
    let scope_refs: Vec<&ScopeFilter> = scopes.iter().collect();
    rows.push((
        "list Pods of a namespace (page 100)".into(),
        measure(&scope_refs, 5, |scope| {
            let query =
                ListQuery { scope: scope.clone(), kind: Some(list_kind.clone()), limit: 100, ..ListQuery::default() };
            reader.list(&query).unwrap().items.len()
        }),
        None,
    ));
    let cluster_scope = ScopeFilter { cluster: Some("cluster-0001".into()), ..ScopeFilter::default() };
    rows.push((
        "health counts of a cluster".into(),
        measure(&[&cluster_scope], 20, |s| reader.health_counts(s, None).unwrap().total() as usize),
        None,
    ));

    println!(
        "| store RSS after reopen, before the floor and queries | {:.0} MiB |",
        (rss_store.saturating_sub(rss_before_open)) as f64 / 1048576.0
    );
    println!(
        "| floor (petgraph) build from the store | {:.0} ms, {} live edges |",
        floor_build.as_secs_f64() * 1e3,
        floor.edge_count()
    );
    println!("| peak RSS of this process (store + floor + queries) | {:.0} MiB |\n", peak_rss() as f64 / 1048576.0);
    println!("| query | graphd p50 µs | graphd p99 µs | returned (mean) | µs per item | floor p50 µs | floor p99 µs | p50 ratio | p99 ratio |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (name, g, f) in rows {
        let (fp50, fp99, r50, r99) = match f {
            Some(f) => (
                micros(f.p50),
                micros(f.p99),
                format!("{:.1}x", g.p50.as_secs_f64() / f.p50.as_secs_f64().max(1e-9)),
                format!("{:.1}x", g.p99.as_secs_f64() / f.p99.as_secs_f64().max(1e-9)),
            ),
            None => ("".into(), "".into(), "".into(), "".into()),
        };
        println!(
            "| {name} | {} | {} | {:.1} | {:.3} | {fp50} | {fp99} | {r50} | {r99} |",
            micros(g.p50),
            micros(g.p99),
            g.mean_returned,
            g.per_item().as_secs_f64() * 1e6
        );
    }
}

/// graphd and the floor answer each query with as many items from every start: a bench that
/// compared two different answers would compare nothing.
fn assert_same_counts(
    query: &str,
    starts: &[ItemId],
    graphd: impl Fn(ItemId) -> usize,
    floor: impl Fn(ItemId) -> usize,
) {
    for &id in starts {
        let (ours, floors) = (graphd(id), floor(id));
        assert_eq!(ours, floors, "{query} from item {}: graphd returned {ours} items, the floor {floors}", id.0);
    }
}
