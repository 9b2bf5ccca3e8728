//! The shortest path between two items, following edges either way.
//!
//! "How is this Pod connected to that security group?" has no single direction: the answer
//! may go up to a Node and across to an instance. The walk is breadth-first from both ends at
//! once (each side expands its smaller frontier), so a path of length d costs about two walks
//! of depth d/2 instead of one of depth d.

use super::related::MAX_DEPTH;
use super::{Reader, Via};
use crate::engine::Engine;
use crate::error::{Result, StoreError};
use crate::keys::RelId;
use foldhash::HashMap;
use graphd_core::ItemId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathQuery {
    /// 1..=[`MAX_DEPTH`] edges at most.
    pub max_depth: u32,
    /// Follow only these relations (all when empty).
    pub relations: Vec<String>,
    pub include_deleted: bool,
}

impl Default for PathQuery {
    fn default() -> Self {
        PathQuery { max_depth: MAX_DEPTH, relations: Vec::new(), include_deleted: false }
    }
}

/// Items from the start to the end, and the edge between each pair, in its stored direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path {
    pub items: Vec<ItemId>,
    pub edges: Vec<Via>,
}

/// How one side reached an item: at which depth, from which item, by which edge (`None` for
/// the side's own start).
#[derive(Debug, Clone, Copy)]
struct Step {
    depth: u32,
    from: Option<(ItemId, Via)>,
}

type Parents = HashMap<ItemId, Step>;

impl<'a, E: Engine> Reader<'a, E> {
    /// The shortest path from `from` to `to`, or `None` if there is none within `max_depth`.
    pub fn path(&self, from: ItemId, to: ItemId, query: &PathQuery) -> Result<Option<Path>> {
        if !(1..=MAX_DEPTH).contains(&query.max_depth) {
            return Err(StoreError::query("max_depth", format!("must be 1..={MAX_DEPTH}, got {}", query.max_depth)));
        }
        for id in [from, to] {
            if !self.exists(id, query.include_deleted)? {
                return Err(StoreError::UnknownId(id));
            }
        }
        if from == to {
            return Ok(Some(Path { items: vec![from], edges: Vec::new() }));
        }
        let relations = self.relation_ids(&query.relations)?;
        let mut forward = Side::new(from);
        let mut backward = Side::new(to);
        for _ in 0..query.max_depth {
            // Expanding the smaller frontier keeps both walks shallow.
            let (side, other) = if forward.frontier.len() <= backward.frontier.len() {
                (&mut forward, &backward)
            } else {
                (&mut backward, &forward)
            };
            self.expand(side, relations.as_deref(), query.include_deleted);
            if let Some(meeting) = side.closest_meeting(other) {
                return Ok(Some(join(&forward.parents, &backward.parents, meeting)));
            }
            if side.frontier.is_empty() {
                break;
            }
        }
        Ok(None)
    }

    /// Ids of the named relations, or `None` for all; an unknown name is an error.
    pub(crate) fn relation_ids(&self, names: &[String]) -> Result<Option<Vec<RelId>>> {
        if names.is_empty() {
            return Ok(None);
        }
        names
            .iter()
            .map(|name| {
                self.names
                    .relation_id(name)
                    .ok_or_else(|| StoreError::query("relations", format!("unknown relation {name:?}")))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// Moves `side` one step out, over edges either way.
    fn expand(&self, side: &mut Side, relations: Option<&[RelId]>, include_deleted: bool) {
        let adjacency = self.adjacency();
        let mut next = Vec::new();
        for &near in &side.frontier {
            for outgoing in [true, false] {
                for edge in adjacency.edges(near, outgoing) {
                    if !edge.exists_at(self.seq) || (edge.deleted_at(self.seq) && !include_deleted) {
                        continue;
                    }
                    if relations.is_some_and(|r| !r.contains(&edge.rel)) || side.parents.contains_key(&edge.far) {
                        continue;
                    }
                    let via = if outgoing {
                        Via { from: near, relation: edge.rel, to: edge.far }
                    } else {
                        Via { from: edge.far, relation: edge.rel, to: near }
                    };
                    side.parents.insert(edge.far, Step { depth: side.depth + 1, from: Some((near, via)) });
                    next.push(edge.far);
                }
            }
        }
        side.frontier = next;
        side.depth += 1;
    }
}

/// One end's breadth-first walk: everything reached so far and the last level.
struct Side {
    parents: Parents,
    frontier: Vec<ItemId>,
    depth: u32,
}

impl Side {
    fn new(start: ItemId) -> Self {
        Side { parents: HashMap::from_iter([(start, Step { depth: 0, from: None })]), frontier: vec![start], depth: 0 }
    }

    /// Of this side's newest level, the item the other side reached soonest. Every item of the
    /// level is at the same depth here, so that one gives the shortest path through the level.
    fn closest_meeting(&self, other: &Side) -> Option<ItemId> {
        self.frontier
            .iter()
            .filter_map(|id| other.parents.get(id).map(|step| (step.depth, *id)))
            .min()
            .map(|(_, id)| id)
    }
}

/// The path through `meeting`: the forward side's chain reversed, then the backward side's.
fn join(forward: &Parents, backward: &Parents, meeting: ItemId) -> Path {
    let mut path = Path::default();
    let mut at = meeting;
    while let Some(Step { from: Some((previous, via)), .. }) = forward.get(&at) {
        path.items.push(at);
        path.edges.push(*via);
        at = *previous;
    }
    path.items.push(at);
    path.items.reverse();
    path.edges.reverse();
    let mut at = meeting;
    while let Some(Step { from: Some((next, via)), .. }) = backward.get(&at) {
        path.items.push(*next);
        path.edges.push(*via);
        at = *next;
    }
    path
}
