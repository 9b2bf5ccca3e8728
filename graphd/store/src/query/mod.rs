//! Queries over one consistent snapshot.
//!
//! - [`get`]: items by id, external key, natural name or short id; documents; edges; changes.
//! - [`related`]: breadth-first walks in one direction, filters applied inside the walk.
//! - [`walk_up`]: ancestors through up-relations, as a tree.
//! - [`path`]: the shortest path between two items, edges followed either way.
//! - [`list`]: items by scope, kind, labels and health, paged; counts by health.

mod get;
mod list;
mod path;
mod related;
mod walk_up;

pub use get::{ChangeFilter, NameQuery};
pub use list::{HealthCounts, ListQuery, Page, ScopeFilter};
pub use path::{Path, PathQuery};
pub use related::{Direction, Hit, RelatedQuery, RelatedResult, Via, MAX_DEPTH};
pub use walk_up::{UpLink, UpNode, WalkUp};

use crate::codec::ItemRecord;
use crate::engine::Engine;
use crate::error::{Result, StoreError};
use crate::keys::{self, KindId};
use crate::names::Names;
use crate::store::Store;
use graphd_core::{Item, ItemId, Kind, Scope, Timestamp};
use std::sync::Arc;

/// A snapshot of the store plus the names it needs to answer in words. Walks read the
/// store's adjacency as of the same moment (`seq`).
///
/// A reader made [`as_of`](Reader::as_of) a past time answers every query but `path` from the
/// graph of that time: the items and edges created by then and not yet deleted, whatever
/// `include_deleted` says. Tombstones are what make it possible, so it reaches back as far as
/// retention keeps them; items are shown as they are now (their name, labels, health), and an
/// item or edge that was deleted and came back counts from its last coming back.
pub struct Reader<'a, E: Engine + 'a> {
    store: &'a Store<E>,
    snapshot: E::Snapshot<'a>,
    names: Arc<Names>,
    seq: u64,
    as_of: Option<Timestamp>,
}

impl<'a, E: Engine> std::fmt::Debug for Reader<'a, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}

impl<'a, E: Engine> Reader<'a, E> {
    pub(crate) fn new(store: &'a Store<E>, snapshot: E::Snapshot<'a>, names: Arc<Names>, seq: u64) -> Self {
        Reader { store, snapshot, names, seq, as_of: None }
    }

    /// This reader, answering from the graph as it was at `at`.
    pub fn as_of(self, at: Timestamp) -> Self {
        Reader { as_of: Some(at), ..self }
    }

    /// Whether a query sees `record`: alive (or any, with `include_deleted`), or, as of a past
    /// time, alive then.
    pub(crate) fn item_visible(&self, record: &ItemRecord, include_deleted: bool) -> bool {
        match self.as_of {
            None => include_deleted || !record.is_deleted(),
            Some(at) => record.alive_at(at),
        }
    }

    /// Whether a walk at `near` sees the adjacency entry `edge` (outgoing or not), and the item
    /// at its far end: as [`Reader::item_visible`], for edges. As of a past time this reads
    /// the edge's times and the far item.
    pub(crate) fn edge_visible(
        &self,
        near: ItemId,
        edge: &crate::adjacency::Entry,
        outgoing: bool,
        include_deleted: bool,
    ) -> Result<bool> {
        use crate::engine::Snapshot;
        if !edge.exists_at(self.seq) {
            return Ok(false);
        }
        let Some(at) = self.as_of else {
            return Ok(include_deleted || !edge.deleted_at(self.seq));
        };
        let key = if outgoing { keys::edge(near, edge.rel, edge.far) } else { keys::edge(edge.far, edge.rel, near) };
        let Some(bytes) = self.snapshot.get(crate::cf::Cf::EdgesOut, &key)? else { return Ok(false) };
        let alive = crate::codec::EdgeValue::decode(&bytes)?.alive_at(at);
        Ok(alive && self.record(edge.far)?.is_some_and(|far| far.alive_at(at)))
    }

    /// The adjacency, for one walk. Held briefly: the writer waits for it to stage a batch.
    pub(crate) fn adjacency(&self) -> std::sync::RwLockReadGuard<'_, crate::adjacency::Adjacency> {
        self.store.adjacency()
    }

    pub fn names(&self) -> &Names {
        &self.names
    }

    pub(crate) fn kind_name(&self, id: KindId) -> Result<&Kind> {
        self.names.kind(id).ok_or_else(|| StoreError::Corrupt(format!("kind id {id} has no name")))
    }

    /// The kind id of `kind`, or `None` if no item of that kind was ever stored.
    pub(crate) fn kind_id(&self, kind: &Kind) -> Option<KindId> {
        self.names.kind_id(kind.as_str())
    }

    pub(crate) fn record(&self, id: ItemId) -> Result<Option<ItemRecord>> {
        use crate::engine::Snapshot;
        match self.snapshot.get(crate::cf::Cf::Items, &keys::item(id))? {
            None => Ok(None),
            Some(bytes) => Ok(Some(ItemRecord::decode(&bytes)?)),
        }
    }

    /// Whether `id` exists (and is alive, unless `include_deleted`): the start check of every
    /// walk. From the adjacency's [`Liveness`](crate::liveness::Liveness) where it knows, else
    /// from the snapshot without decoding the record, teaching the adjacency what it read.
    pub(crate) fn exists(&self, id: ItemId, include_deleted: bool) -> Result<bool> {
        use crate::engine::Snapshot;
        use crate::liveness::Seen;
        let read = || self.snapshot.get(crate::cf::Cf::Items, &keys::item(id));
        if self.as_of.is_some() {
            return match read()? {
                None => Ok(false),
                Some(bytes) => Ok(self.item_visible(&ItemRecord::decode(&bytes)?, include_deleted)),
            };
        }
        let adjacency = self.adjacency();
        let seen = adjacency.liveness.get(id, self.seq);
        let tombstoned = match seen {
            Seen::Known { tombstoned } => tombstoned,
            Seen::Unknown(_) | Seen::Stale => match read()? {
                None => return Ok(false),
                Some(bytes) => ItemRecord::peek_deleted(&bytes)?,
            },
        };
        if let Seen::Unknown(ticket) = seen {
            adjacency.liveness.remember(ticket, tombstoned);
        }
        Ok(include_deleted || !tombstoned)
    }

    pub(crate) fn to_item(&self, id: ItemId, record: ItemRecord) -> Result<Item> {
        Ok(Item {
            id,
            key: keys::decode_external(&record.key)?,
            kind: self.kind_name(record.kind)?.clone(),
            health: record.health(),
            name: record.name,
            namespace: record.namespace,
            scope: Scope { cluster: record.cluster, account: record.account, region: record.region },
            labels: record.labels.into_iter().collect(),
            status: record.status,
            ready: record.ready,
            created_at: Timestamp(record.created_at),
            updated_at: Timestamp(record.updated_at),
            deleted_at: record.deleted_at.map(Timestamp),
            content_hash: record.content_hash,
        })
    }
}
