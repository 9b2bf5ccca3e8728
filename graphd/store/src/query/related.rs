//! Related items: breadth-first, one direction per walk, a visited set over items.
//!
//! A walk never switches direction: an incoming walk follows only incoming edges, so from a Pod
//! it reaches the Service that selects it but not that Service's other Pods. `Both` is the
//! union of a pure outgoing and a pure incoming walk. Relation and kind filters prune the walk
//! as it goes, so a narrow query costs what it returns, not what the unfiltered one would.
//! Walks read the store's in-memory adjacency as of the reader's snapshot.

use super::Reader;
use crate::engine::Engine;
use crate::error::{Result, StoreError};
use crate::keys::{KindId, RelId};
use foldhash::HashSet;
use graphd_core::{ItemId, Kind};

/// The deepest walk a query may ask for.
pub const MAX_DEPTH: u32 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Outgoing,
    Incoming,
    Both,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedQuery {
    pub direction: Direction,
    /// 1..=[`MAX_DEPTH`].
    pub depth: u32,
    /// Follow only these relations (all when empty).
    pub relations: Vec<String>,
    /// Enter only items of these kinds (all when empty). The start item is always the root.
    pub kinds: Vec<Kind>,
    pub include_deleted: bool,
    /// Stop after this many results and say so.
    pub limit: usize,
}

impl RelatedQuery {
    pub fn new(direction: Direction, depth: u32) -> Self {
        RelatedQuery {
            direction,
            depth,
            relations: Vec::new(),
            kinds: Vec::new(),
            include_deleted: false,
            limit: 10_000,
        }
    }
}

/// The edge a result was first reached by, in its stored direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Via {
    pub from: ItemId,
    pub relation: RelId,
    pub to: ItemId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub id: ItemId,
    pub kind: KindId,
    pub depth: u32,
    pub via: Via,
    /// Whether the outgoing (`true`) or the incoming walk found it.
    pub outgoing: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelatedResult {
    pub hits: Vec<Hit>,
    /// The limit cut the walk short.
    pub truncated: bool,
}

/// What prunes a walk, resolved to ids once.
struct Filter {
    relations: Option<Vec<RelId>>,
    kinds: Option<HashSet<KindId>>,
    include_deleted: bool,
}

impl<'a, E: Engine> Reader<'a, E> {
    pub fn related(&self, start: ItemId, query: &RelatedQuery) -> Result<RelatedResult> {
        if !(1..=MAX_DEPTH).contains(&query.depth) {
            return Err(StoreError::query("depth", format!("must be 1..={MAX_DEPTH}, got {}", query.depth)));
        }
        if query.limit == 0 {
            return Err(StoreError::query("limit", "must be at least 1"));
        }
        if !self.exists(start, query.include_deleted)? {
            return Err(StoreError::UnknownId(start));
        }
        let filter = self.filter(query)?;
        let mut result = RelatedResult::default();
        let mut seen = HashSet::from_iter([start]);
        if matches!(query.direction, Direction::Outgoing | Direction::Both) {
            self.walk(start, true, query, &filter, &mut seen, &mut result)?;
        }
        if matches!(query.direction, Direction::Incoming | Direction::Both) && !result.truncated {
            // The incoming walk has its own visited set: an item the outgoing walk reached may
            // still lead further inwards. Items already returned are not returned twice.
            let mut inward_seen = HashSet::from_iter([start]);
            let returned = seen;
            let mut inward = RelatedResult::default();
            self.walk(
                start,
                false,
                &RelatedQuery { limit: query.limit - result.hits.len(), ..query.clone() },
                &filter,
                &mut inward_seen,
                &mut inward,
            )?;
            result.hits.extend(inward.hits.into_iter().filter(|h| !returned.contains(&h.id)));
            result.truncated = inward.truncated;
        }
        Ok(result)
    }

    fn filter(&self, query: &RelatedQuery) -> Result<Filter> {
        let relations = self.relation_ids(&query.relations)?;
        // A kind no item ever had matches nothing, which is an answer, not an error.
        let kinds = (!query.kinds.is_empty()).then(|| query.kinds.iter().filter_map(|k| self.kind_id(k)).collect());
        Ok(Filter { relations, kinds, include_deleted: query.include_deleted })
    }

    fn walk(
        &self,
        start: ItemId,
        outgoing: bool,
        query: &RelatedQuery,
        filter: &Filter,
        seen: &mut HashSet<ItemId>,
        result: &mut RelatedResult,
    ) -> Result<()> {
        let adjacency = self.adjacency();
        let mut frontier = vec![start];
        for depth in 1..=query.depth {
            let mut next = Vec::new();
            for &near in &frontier {
                for edge in adjacency.edges(near, outgoing) {
                    if !self.edge_visible(near, edge, outgoing, filter.include_deleted)? {
                        continue;
                    }
                    if filter.relations.as_ref().is_some_and(|r| !r.contains(&edge.rel))
                        || filter.kinds.as_ref().is_some_and(|k| !k.contains(&edge.far_kind))
                    {
                        continue;
                    }
                    if !seen.insert(edge.far) {
                        continue;
                    }
                    if result.hits.len() >= query.limit {
                        result.truncated = true;
                        return Ok(());
                    }
                    let via = if outgoing {
                        Via { from: near, relation: edge.rel, to: edge.far }
                    } else {
                        Via { from: edge.far, relation: edge.rel, to: near }
                    };
                    result.hits.push(Hit { id: edge.far, kind: edge.far_kind, depth, via, outgoing });
                    next.push(edge.far);
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        Ok(())
    }
}
