//! The in-memory floor: the same graph in a petgraph adjacency, walked the same way (breadth-
//! first, a visited set over items, one direction per walk). What graphd is compared against.

use crate::BenchStore;
use graphd_core::{ItemId, Orientation};
use graphd_store::codec::EdgeValue;
use graphd_store::engine::{Engine, Snapshot};
use graphd_store::{keys, Cf};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use std::collections::HashSet;

/// Live edges only; node index = item id, edge weight = relation id.
#[derive(Debug)]
pub struct Floor {
    graph: DiGraph<(), u16, u32>,
    orientation: Vec<Orientation>,
}

impl Floor {
    /// Builds the floor from the store's out-edges.
    pub fn build(store: &BenchStore) -> Floor {
        let snapshot = store.engine().snapshot();
        let mut edges = Vec::new();
        let mut max_id = 0u64;
        snapshot
            .scan_prefix(Cf::EdgesOut, &[], &mut |key, value| {
                let (from, rel, to) = keys::decode_edge(key).expect("edge key");
                if EdgeValue::peek(value).is_some_and(|(deleted, _)| deleted.is_none()) {
                    max_id = max_id.max(from.0).max(to.0);
                    edges.push((from.0 as u32, to.0 as u32, rel));
                }
                true
            })
            .expect("scan edges");
        let mut graph = DiGraph::with_capacity(max_id as usize + 1, edges.len());
        for _ in 0..=max_id {
            graph.add_node(());
        }
        for (from, to, rel) in edges {
            graph.add_edge(NodeIndex::new(from as usize), NodeIndex::new(to as usize), rel);
        }
        Floor { graph, orientation: store.names().orientations() }
    }

    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Items reached from `start` within `depth` hops in `direction`; the count.
    pub fn related(&self, start: ItemId, direction: Option<Direction>, depth: u32) -> usize {
        match direction {
            Some(d) => self.walk(start, d, depth).len(),
            None => {
                let mut out = self.walk(start, Direction::Outgoing, depth);
                out.extend(self.walk(start, Direction::Incoming, depth));
                out.len()
            }
        }
    }

    fn walk(&self, start: ItemId, direction: Direction, depth: u32) -> HashSet<u32> {
        let start = start.0 as u32;
        let mut seen = HashSet::from([start]);
        let mut frontier = vec![start];
        for _ in 0..depth {
            let mut next = Vec::new();
            for &n in &frontier {
                for far in self.graph.neighbors_directed(NodeIndex::new(n as usize), direction) {
                    let far = far.index() as u32;
                    if seen.insert(far) {
                        next.push(far);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        seen.remove(&start);
        seen
    }

    /// Ancestors of `start` through up-relations; the count.
    pub fn walk_up(&self, start: ItemId) -> usize {
        let start = NodeIndex::new(start.0 as usize);
        let mut seen = HashSet::from([start]);
        let mut frontier = vec![start];
        while !frontier.is_empty() {
            let mut next = Vec::new();
            for &n in &frontier {
                let ups = self
                    .graph
                    .edges_directed(n, Direction::Outgoing)
                    .filter(|e| self.orientation[*e.weight() as usize] == Orientation::Up)
                    .map(|e| petgraph::visit::EdgeRef::target(&e));
                let downs = self
                    .graph
                    .edges_directed(n, Direction::Incoming)
                    .filter(|e| self.orientation[*e.weight() as usize] == Orientation::Down)
                    .map(|e| petgraph::visit::EdgeRef::source(&e));
                for parent in ups.chain(downs).collect::<Vec<_>>() {
                    if seen.insert(parent) {
                        next.push(parent);
                    }
                }
            }
            frontier = next;
        }
        seen.len() - 1
    }
}
