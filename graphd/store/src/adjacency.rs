//! The in-memory adjacency: every edge of the store, both ways, indexed by dense item id, and
//! each item's [`Liveness`] as last read.
//!
//! RocksDB keeps the truth; this is a derived index so that walks cost memory reads instead of
//! one iterator seek per expanded item. It is rebuilt from the edge column families at open
//! (both directions in parallel) and kept in step by the writer.
//!
//! Readers see the adjacency as of their snapshot: every entry records the batch sequence
//! that added it and the one that tombstoned it, and a reader at sequence `s` ignores what
//! happened after `s`. Each item's list is kept in key order. The writer stages a batch's edge changes under the next sequence before
//! the batch is written, and takes them back if the write fails.

use crate::cf::Cf;
use crate::codec::EdgeValue;
use crate::engine::{Engine, EngineError, Snapshot};
use crate::keys::{self, KindId, RelId};
use crate::liveness::Liveness;
use graphd_core::ItemId;

/// One edge as seen from one end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub far: ItemId,
    /// Batch sequence that added the edge (0: before this process opened the store).
    pub added: u64,
    /// Batch sequence that tombstoned it; 0 while it is live.
    pub deleted: u64,
    pub rel: RelId,
    pub far_kind: KindId,
}

impl Entry {
    /// Whether a reader at `seq` sees the edge at all.
    pub fn exists_at(&self, seq: u64) -> bool {
        self.added <= seq
    }

    /// Whether a reader at `seq` sees it tombstoned.
    pub fn deleted_at(&self, seq: u64) -> bool {
        self.deleted != 0 && self.deleted <= seq
    }
}

/// What the writer changes in the adjacency for one edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeChange {
    pub from: ItemId,
    pub rel: RelId,
    pub to: ItemId,
    pub from_kind: KindId,
    pub to_kind: KindId,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// New, or live again after a tombstone.
    Live,
    Tombstoned,
    /// Purged for good.
    Removed,
}

/// The latest state of one edge, for the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeState {
    Absent,
    Live,
    Tombstoned,
}

#[derive(Debug)]
pub struct Adjacency {
    out: Vec<Vec<Entry>>,
    inc: Vec<Vec<Entry>>,
    /// Entries in `out` and `inc` together, kept in step: read for every scrape of the
    /// metrics, which otherwise walked every item's lists (two million on fleet L) under the
    /// store's lock.
    held: usize,
    /// Whether each item is live, for the start check of a walk; kept in step by the writer
    /// under the same lock as the edges.
    pub liveness: Liveness,
}

/// Sequence that entries loaded at open carry as tombstoned: visible as such to every reader.
const LOADED_TOMBSTONE: u64 = 1;

impl Adjacency {
    /// Rebuilds the adjacency from the edge column families, one thread per direction, for
    /// readers at `seq` or later; no item's liveness is known yet (`ids`: the next item id).
    pub fn load<E: Engine>(engine: &E, seq: u64, ids: u64) -> Result<Adjacency, EngineError> {
        let (out, inc) = std::thread::scope(|scope| {
            let out = scope.spawn(|| load_direction(engine, Cf::EdgesOut));
            let inc = load_direction(engine, Cf::EdgesIn);
            (out.join().expect("adjacency loader panicked"), inc)
        });
        let (out, inc) = (out?, inc?);
        let held = out.iter().chain(&inc).map(Vec::len).sum();
        Ok(Adjacency { out, inc, held, liveness: Liveness::new(seq, ids) })
    }

    /// Edges of `id` in one direction, every version; filter with [`Entry::exists_at`].
    pub fn edges(&self, id: ItemId, outgoing: bool) -> &[Entry] {
        let lists = if outgoing { &self.out } else { &self.inc };
        lists.get(id.0 as usize).map(Vec::as_slice).unwrap_or_default()
    }

    /// The latest state of `(from, rel, to)` over everything staged.
    pub fn state(&self, from: ItemId, rel: RelId, to: ItemId) -> EdgeState {
        let entries = self.edges(from, true);
        match entries[versions(entries, rel, to)].last() {
            None => EdgeState::Absent,
            Some(e) if e.deleted == 0 => EdgeState::Live,
            Some(_) => EdgeState::Tombstoned,
        }
    }

    /// Out-keys of the live edges touching `id`, as `(from, rel, to)`.
    pub fn live_edges_of(&self, id: ItemId) -> impl Iterator<Item = (ItemId, RelId, ItemId)> + '_ {
        let out = self.edges(id, true).iter().filter(|e| e.deleted == 0).map(move |e| (id, e.rel, e.far));
        let inc = self.edges(id, false).iter().filter(|e| e.deleted == 0).map(move |e| (e.far, e.rel, id));
        out.chain(inc)
    }

    /// Applies `changes` as sequence `seq`, invisible to readers below it.
    pub fn stage(&mut self, changes: &[EdgeChange], seq: u64) {
        for c in changes {
            match c.kind {
                ChangeKind::Live => {
                    if self.state(c.from, c.rel, c.to) == EdgeState::Live {
                        continue;
                    }
                    let entry = |far, far_kind| Entry { far, added: seq, deleted: 0, rel: c.rel, far_kind };
                    insert_sorted(list(&mut self.out, c.from), entry(c.to, c.to_kind));
                    insert_sorted(list(&mut self.inc, c.to), entry(c.from, c.from_kind));
                    self.held += 2;
                }
                ChangeKind::Tombstoned => {
                    let sides = [(&mut self.out, c.from, c.to, c.to_kind), (&mut self.inc, c.to, c.from, c.from_kind)];
                    for (lists, near, far, far_kind) in sides {
                        let entries = list(lists, near);
                        let span = versions(entries, c.rel, far);
                        match entries[span].iter_mut().rev().find(|e| e.deleted == 0) {
                            Some(e) => e.deleted = seq,
                            // Linked and unlinked within one batch: it exists, as a tombstone.
                            None => {
                                insert_sorted(entries, Entry { far, added: seq, deleted: seq, rel: c.rel, far_kind });
                                self.held += 1;
                            }
                        }
                    }
                }
                ChangeKind::Removed => {
                    for (lists, near, far) in [(&mut self.out, c.from, c.to), (&mut self.inc, c.to, c.from)] {
                        let entries = list(lists, near);
                        let span = versions(entries, c.rel, far);
                        self.held -= span.len();
                        entries.drain(span);
                    }
                }
            }
        }
    }

    /// Takes back what [`Adjacency::stage`] did for `seq` (removals cannot be taken back: the
    /// caller reloads instead).
    pub fn unstage(&mut self, changes: &[EdgeChange], seq: u64) {
        for c in changes {
            for (lists, near) in [(&mut self.out, c.from), (&mut self.inc, c.to)] {
                let entries = list(lists, near);
                self.held -= remove_where(entries, |e| e.added == seq);
                for e in entries.iter_mut().filter(|e| e.deleted == seq) {
                    e.deleted = 0;
                }
            }
        }
    }

    /// Entries held, both directions: for sizing.
    pub fn len(&self) -> usize {
        self.held
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Keeps each list in key order (relation, far end), as loading from disk leaves it, so answers
/// do not depend on whether the process restarted; versions of one edge stay in age order.
fn insert_sorted(entries: &mut Vec<Entry>, entry: Entry) {
    let at = entries.partition_point(|e| (e.rel, e.far) <= (entry.rel, entry.far));
    entries.insert(at, entry);
}

/// Where the versions of the edge `(rel, far)` are, oldest first, in a list kept by
/// [`insert_sorted`]: found by binary search, as a namespace's list holds an entry for every
/// item in it, a Node's for every Pod on it, and every edge the writer adds or tombstones asks.
fn versions(entries: &[Entry], rel: RelId, far: ItemId) -> std::ops::Range<usize> {
    let start = entries.partition_point(|e| (e.rel, e.far) < (rel, far));
    let end = start + entries[start..].partition_point(|e| (e.rel, e.far) == (rel, far));
    start..end
}

/// Removes the entries `unwanted` picks, and says how many there were.
fn remove_where(entries: &mut Vec<Entry>, unwanted: impl Fn(&Entry) -> bool) -> usize {
    let before = entries.len();
    entries.retain(|e| !unwanted(e));
    before - entries.len()
}

fn list(lists: &mut Vec<Vec<Entry>>, id: ItemId) -> &mut Vec<Entry> {
    let index = id.0 as usize;
    if lists.len() <= index {
        lists.resize_with((index + 1).max(lists.len() * 5 / 4), Vec::new);
    }
    &mut lists[index]
}

fn load_direction<E: Engine>(engine: &E, cf: Cf) -> Result<Vec<Vec<Entry>>, EngineError> {
    let snapshot = engine.snapshot();
    let mut lists: Vec<Vec<Entry>> = Vec::new();
    // Keys arrive grouped by near end: gather one item's entries, then allocate its list once.
    let mut current = ItemId(0);
    let mut pending: Vec<Entry> = Vec::new();
    let mut bad = None;
    snapshot.scan(cf, &[], None, &mut |key, value| {
        let (Ok((near, rel, far)), Some((deleted, far_kind))) = (keys::decode_edge(key), EdgeValue::peek(value)) else {
            bad = Some(key.to_vec());
            return false;
        };
        if near != current && !pending.is_empty() {
            *list(&mut lists, current) = pending.as_slice().to_vec();
            pending.clear();
        }
        current = near;
        let deleted = if deleted.is_some() { LOADED_TOMBSTONE } else { 0 };
        pending.push(Entry { far, added: 0, deleted, rel, far_kind });
        true
    })?;
    if !pending.is_empty() {
        *list(&mut lists, current) = pending;
    }
    if let Some(key) = bad {
        return Err(EngineError(format!("corrupt edge in {}: key {key:02x?}", cf.name())));
    }
    Ok(lists)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemEngine;

    fn change(from: u64, rel: RelId, to: u64, kind: ChangeKind) -> EdgeChange {
        EdgeChange { from: ItemId(from), rel, to: ItemId(to), from_kind: 1, to_kind: 2, kind }
    }

    /// An item with many edges of two relations, staged out of order, one of them linked,
    /// unlinked, linked and unlinked again: every edge's state is its latest version's, and
    /// each tombstone lands on the version it ends.
    #[test]
    fn state_and_tombstones_find_the_latest_version_among_many_edges() {
        let mut adjacency = Adjacency::load(&MemEngine::new(), 1, 100).unwrap();
        let fars: Vec<u64> = (2..60).rev().chain(60..90).collect();
        let first: Vec<_> =
            fars.iter().flat_map(|&far| [1, 2].map(|rel| change(1, rel, far, ChangeKind::Live))).collect();
        adjacency.stage(&first, 1);
        adjacency.stage(&[change(1, 1, 7, ChangeKind::Tombstoned)], 2);
        adjacency.stage(&[change(1, 1, 7, ChangeKind::Live)], 3);
        adjacency.stage(&[change(1, 1, 7, ChangeKind::Tombstoned)], 4);
        adjacency.stage(&[change(1, 2, 30, ChangeKind::Tombstoned)], 5);

        for &far in &fars {
            let (first_rel, second_rel) =
                (adjacency.state(ItemId(1), 1, ItemId(far)), adjacency.state(ItemId(1), 2, ItemId(far)));
            let expected_first = if far == 7 { EdgeState::Tombstoned } else { EdgeState::Live };
            let expected_second = if far == 30 { EdgeState::Tombstoned } else { EdgeState::Live };
            assert_eq!((first_rel, second_rel), (expected_first, expected_second), "edges to {far}");
        }
        assert_eq!(adjacency.state(ItemId(1), 3, ItemId(7)), EdgeState::Absent);
        assert_eq!(adjacency.state(ItemId(1), 1, ItemId(95)), EdgeState::Absent);
        assert_eq!(adjacency.state(ItemId(7), 1, ItemId(1)), EdgeState::Absent, "edges have a direction");

        let lifetimes = |near: u64, outgoing: bool, far: u64| -> Vec<(u64, u64)> {
            let entries = adjacency.edges(ItemId(near), outgoing);
            entries.iter().filter(|e| e.rel == 1 && e.far == ItemId(far)).map(|e| (e.added, e.deleted)).collect()
        };
        assert_eq!(lifetimes(1, true, 7), [(1, 2), (3, 4)], "the outgoing copy's versions");
        assert_eq!(lifetimes(7, false, 1), [(1, 2), (3, 4)], "the incoming copy's versions");
        assert_eq!(adjacency.len(), 2 * (2 * fars.len() + 1));
        let keys: Vec<_> = adjacency.edges(ItemId(1), true).iter().map(|e| (e.rel, e.far)).collect();
        assert!(keys.is_sorted(), "a list stays in key order");
    }
}
