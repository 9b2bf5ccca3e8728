//! A fleet-S graph on RocksDB, checked against walks computed directly over the generator's
//! edge list: an oracle that shares no code with the store.

use graphd_core::{relation, ExternalKey, Orientation};
use graphd_fleet::{generate, Fleet, FleetSize};
use graphd_rocks::{RocksEngine, RocksOptions};
use graphd_store::query::{Direction, RelatedQuery, ScopeFilter};
use graphd_store::Store;
use std::collections::{BTreeSet, HashMap, VecDeque};

fn orientation(name: &str) -> Orientation {
    relation::BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, o)| *o).expect("built-in relation")
}

/// Live adjacency of the fleet: index → [(neighbour, relation)] in one direction.
fn adjacency(fleet: &Fleet, outgoing: bool) -> HashMap<usize, Vec<(usize, &'static str)>> {
    let mut adj: HashMap<usize, Vec<(usize, &'static str)>> = HashMap::new();
    for edge in fleet.edges.iter().filter(|e| !fleet.edge_deleted(e)) {
        let (near, far) = if outgoing { (edge.from, edge.to) } else { (edge.to, edge.from) };
        adj.entry(near).or_default().push((far, edge.relation));
    }
    adj
}

fn bfs(start: usize, depth: u32, step: impl Fn(usize) -> Vec<usize>) -> BTreeSet<usize> {
    let mut seen = BTreeSet::from([start]);
    let mut queue = VecDeque::from([(start, 0)]);
    while let Some((at, d)) = queue.pop_front() {
        if d == depth {
            continue;
        }
        for next in step(at) {
            if seen.insert(next) {
                queue.push_back((next, d + 1));
            }
        }
    }
    seen.remove(&start);
    seen
}

fn load_fleet(fleet: &Fleet, dir: &std::path::Path) -> Store<RocksEngine> {
    let store = Store::open(RocksEngine::open(dir, &RocksOptions::default()).unwrap()).unwrap();
    graphd::sample::load_fleet(&store, fleet, |_, _| {}).unwrap();
    store
}

#[test]
fn fleet_walks_match_an_independent_oracle_before_and_after_reopen() {
    let fleet = generate(FleetSize::S, 42);
    let dir = tempfile::tempdir().unwrap();
    let mut store = load_fleet(&fleet, dir.path());
    let index_of: HashMap<ExternalKey, usize> =
        fleet.items.iter().enumerate().map(|(i, item)| (item.write.key.clone(), i)).collect();
    let out = adjacency(&fleet, true);
    let inc = adjacency(&fleet, false);
    let mut starts = fleet.sample_live("Kubernetes::Pod", 12);
    starts.extend(fleet.sample_live("Kubernetes::Node", 4));
    starts.extend(fleet.sample_live("Kubernetes::Namespace", 4));
    starts.extend(fleet.sample_live("AWS::EC2::VPC", 3));

    for round in ["fresh", "reopened"] {
        let reader = store.read();
        let live = fleet.items.iter().filter(|i| !i.deleted).count() as u64;
        assert_eq!(reader.health_counts(&ScopeFilter::default(), None).unwrap().total(), live, "{round}");
        for &start in &starts {
            let id = reader.get_by_key(&fleet.items[start].write.key, false).unwrap().expect("live start").id;
            let to_indices = |ids: Vec<graphd_core::ItemId>| -> BTreeSet<usize> {
                ids.into_iter().map(|id| index_of[&reader.get(id, true).unwrap().unwrap().key]).collect()
            };
            for depth in [1, 3] {
                for (direction, adj) in [(Direction::Outgoing, &out), (Direction::Incoming, &inc)] {
                    let expected = bfs(start, depth, |i| {
                        adj.get(&i).map(|v| v.iter().map(|(n, _)| *n).collect()).unwrap_or_default()
                    });
                    let mut query = RelatedQuery::new(direction, depth);
                    query.limit = 100_000;
                    let hits = reader.related(id, &query).unwrap().hits;
                    let got = to_indices(hits.iter().map(|h| h.id).collect());
                    assert_eq!(got.len(), hits.len(), "each item once");
                    assert_eq!(
                        got, expected,
                        "{round}: {direction:?} depth {depth} from {}",
                        fleet.items[start].write.name
                    );
                }
            }
            let parents = |i: usize| -> Vec<usize> {
                let ups = out.get(&i).into_iter().flatten().filter(|(_, r)| orientation(r) == Orientation::Up);
                let downs = inc.get(&i).into_iter().flatten().filter(|(_, r)| orientation(r) == Orientation::Down);
                ups.chain(downs).map(|(n, _)| *n).collect()
            };
            let expected = bfs(start, 64, parents);
            let got = to_indices(reader.walk_up(id, false).unwrap().nodes.iter().map(|n| n.id).collect());
            assert_eq!(got, expected, "{round}: walk-up from {}", fleet.items[start].write.name);
            if fleet.items[start].write.kind.as_str() == "Kubernetes::Pod" {
                let kinds: BTreeSet<&str> = got.iter().map(|&i| fleet.items[i].write.kind.as_str()).collect();
                for kind in [
                    "Kubernetes::Node",
                    "AWS::EC2::Instance",
                    "AWS::EC2::Subnet",
                    "AWS::EC2::VPC",
                    "AWS::Region",
                    "AWS::Account",
                    "Kubernetes::Namespace",
                    "Kubernetes::Cluster",
                ] {
                    assert!(kinds.contains(kind), "walk-up from a Pod reaches {kind}: {kinds:?}");
                }
            }
        }
        drop(reader);
        store.flush().unwrap();
        let path = dir.path().to_path_buf();
        drop(store);
        store = Store::open(RocksEngine::open(&path, &RocksOptions::default()).unwrap()).unwrap();
    }
}
