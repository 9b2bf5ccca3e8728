//! Walk-up: from one item to the roots through up-relations, as a tree.
//!
//! A parent is the far end of an outgoing edge whose relation points up (`Pod runs-on Node`)
//! or of an incoming edge whose relation points down (`ReplicaSet owns Pod`). From a Pod that
//! reaches ReplicaSet → Deployment → Namespace → cluster *and* Node → EC2 instance → subnet →
//! VPC → region → account in one answer.

use super::Reader;
use crate::engine::Engine;
use crate::error::{Result, StoreError};
use crate::keys::{KindId, RelId};
use foldhash::HashMap;
use graphd_core::{ItemId, Orientation};
use std::collections::hash_map::Entry;

/// A walk-up never goes deeper than this, whatever the data says.
pub const MAX_WALK_UP_DEPTH: u32 = 64;

/// One ancestor, listed once, at the shallowest depth it was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpNode {
    pub id: ItemId,
    pub kind: KindId,
    pub depth: u32,
}

/// `child` sits under `parent` through `relation` (an edge `child → parent` for an up-relation,
/// `parent → child` for a down-relation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpLink {
    pub child: ItemId,
    pub relation: RelId,
    pub parent: ItemId,
}

/// Ancestors and every child → parent link between them: a tree when each item has one parent,
/// a DAG where chains meet (a Pod's Namespace and Node both lead to the cluster).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkUp {
    pub start: Option<ItemId>,
    pub nodes: Vec<UpNode>,
    pub links: Vec<UpLink>,
}

impl WalkUp {
    /// The parents of `child`, in the order they were found.
    pub fn parents(&self, child: ItemId) -> impl Iterator<Item = &UpLink> {
        self.links.iter().filter(move |l| l.child == child)
    }
}

impl<'a, E: Engine> Reader<'a, E> {
    pub fn walk_up(&self, start: ItemId, include_deleted: bool) -> Result<WalkUp> {
        if !self.exists(start, include_deleted)? {
            return Err(StoreError::UnknownId(start));
        }
        let orientation = self.names.orientations();
        let points = |rel: RelId| orientation.get(usize::from(rel)).copied().unwrap_or(Orientation::Across);
        let mut out = WalkUp { start: Some(start), ..WalkUp::default() };
        let mut depth_of: HashMap<ItemId, u32> = HashMap::from_iter([(start, 0)]);
        let adjacency = self.adjacency();
        let mut frontier = vec![start];
        for depth in 1..=MAX_WALK_UP_DEPTH {
            let mut next = Vec::new();
            for &child in &frontier {
                for (outgoing, wanted) in [(true, Orientation::Up), (false, Orientation::Down)] {
                    for edge in adjacency.edges(child, outgoing) {
                        if points(edge.rel) != wanted || !self.edge_visible(child, edge, outgoing, include_deleted)? {
                            continue;
                        }
                        let parent = edge.far;
                        out.links.push(UpLink { child, relation: edge.rel, parent });
                        if let Entry::Vacant(slot) = depth_of.entry(parent) {
                            slot.insert(depth);
                            out.nodes.push(UpNode { id: parent, kind: edge.far_kind, depth });
                            next.push(parent);
                        }
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        Ok(out)
    }
}
