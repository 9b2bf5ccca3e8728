//! Point lookups: by id, by external key, by natural name, by short id.

use super::Reader;
use crate::cf::Cf;
use crate::codec::{ChangeRecord, EdgeValue, ExternalEntry};
use crate::engine::{Engine, Snapshot};
use crate::error::{Result, StoreError};
use crate::keys::{self, LookupField, ANY_KIND};
use graphd_core::{Change, ChangeType, Edge, ExternalKey, Item, ItemId, Kind, Timestamp};

/// A natural key as a person gives it: kind and name, narrowed by namespace and cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameQuery {
    pub kind: Kind,
    pub name: String,
    /// `None` matches any namespace; `Some("")` only cluster-scoped items.
    pub namespace: Option<String>,
    pub cluster: Option<String>,
}

/// Which changes to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeFilter {
    /// Only at or after this time.
    pub since: Timestamp,
    /// Only these types (all when empty).
    pub types: Vec<ChangeType>,
    /// At most this many.
    pub limit: usize,
}

impl ChangeFilter {
    /// The newest `limit` changes of any type.
    pub fn newest(limit: usize) -> Self {
        ChangeFilter { since: Timestamp::ZERO, types: Vec::new(), limit }
    }
}

impl<'a, E: Engine> Reader<'a, E> {
    /// The item with `id`; a tombstoned one only with `include_deleted`.
    pub fn get(&self, id: ItemId, include_deleted: bool) -> Result<Option<Item>> {
        match self.record(id)? {
            Some(record) if self.item_visible(&record, include_deleted) => Ok(Some(self.to_item(id, record)?)),
            _ => Ok(None),
        }
    }

    pub fn get_by_key(&self, key: &ExternalKey, include_deleted: bool) -> Result<Option<Item>> {
        match self.snapshot.get(Cf::ExternalKeys, &keys::external(key))? {
            None => Ok(None),
            Some(bytes) => self.get(ExternalEntry::decode(&bytes)?.id, include_deleted),
        }
    }

    /// Items whose natural key matches; several when the query leaves namespace or cluster open,
    /// or when a deleted object was recreated under the same name.
    pub fn find_by_name(&self, query: &NameQuery, include_deleted: bool) -> Result<Vec<Item>> {
        let Some(kind) = self.kind_id(&query.kind) else {
            return Ok(Vec::new());
        };
        let mut values = vec![query.name.as_str()];
        if let Some(cluster) = &query.cluster {
            values.push(cluster);
            values.extend(query.namespace.as_deref());
        }
        let prefix = keys::lookup_prefix(kind, LookupField::NaturalName, &values);
        let ids = self.lookup_ids(&prefix)?;
        let mut items = self.items(&ids, include_deleted)?;
        if let (Some(ns), None) = (&query.namespace, &query.cluster) {
            items.retain(|item| item.namespace.as_deref().unwrap_or_default() == ns);
        }
        Ok(items)
    }

    /// Items whose external key ends in `short_id`: an EC2 instance id, a Kubernetes uid.
    pub fn find_by_short_id(&self, short_id: &str, include_deleted: bool) -> Result<Vec<Item>> {
        let prefix = keys::lookup_prefix(ANY_KIND, LookupField::ShortId, &[short_id]);
        let ids = self.lookup_ids(&prefix)?;
        self.items(&ids, include_deleted)
    }

    /// The items of `ids` that exist (and are alive, unless `include_deleted`), in order.
    pub fn items(&self, ids: &[ItemId], include_deleted: bool) -> Result<Vec<Item>> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            out.extend(self.get(id, include_deleted)?);
        }
        Ok(out)
    }

    /// The stored source document of an item.
    pub fn document(&self, id: ItemId) -> Result<Option<serde_json::Value>> {
        match self.snapshot.get(Cf::Documents, &keys::item(id))? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("document of item {id}: {e}"))),
        }
    }

    /// The edges leaving `id` (`outgoing`) or arriving at it, in key order (as of a past time:
    /// those alive then).
    pub fn edges(&self, id: ItemId, outgoing: bool, include_deleted: bool) -> Result<Vec<Edge>> {
        let cf = if outgoing { Cf::EdgesOut } else { Cf::EdgesIn };
        let mut raw = Vec::new();
        self.snapshot.scan_prefix(cf, &keys::edge_prefix(id), &mut |key, value| {
            raw.push((key.to_vec(), value.to_vec()));
            true
        })?;
        let mut edges = Vec::with_capacity(raw.len());
        for (key, value) in raw {
            let (near, rel, far) = keys::decode_edge(&key)?;
            let value = EdgeValue::decode(&value)?;
            let visible = match self.as_of {
                None => include_deleted || value.deleted_at.is_none(),
                Some(at) => value.alive_at(at),
            };
            if !visible {
                continue;
            }
            let relation = self
                .names
                .relation(rel)
                .ok_or_else(|| StoreError::Corrupt(format!("relation id {rel} has no name")))?;
            let (from, to) = if outgoing { (near, far) } else { (far, near) };
            edges.push(Edge {
                from,
                relation: relation.name().to_owned(),
                to,
                provenance: self
                    .names
                    .provenance(value.provenance)
                    .ok_or_else(|| StoreError::Corrupt(format!("provenance id {} has no name", value.provenance)))?
                    .clone(),
                created_at: value.created_at,
                deleted_at: value.deleted_at,
            });
        }
        Ok(edges)
    }

    /// Changes of the items `ids` that pass `filter`, newest first across all of them.
    pub fn changes(&self, ids: &[ItemId], filter: &ChangeFilter) -> Result<Vec<Change>> {
        let mut out = Vec::new();
        for &id in ids {
            // Each item's own newest `limit` are all that can make the merged newest `limit`.
            self.changes_of(id, filter, &mut out)?;
        }
        out.sort_by_key(|c| std::cmp::Reverse(c.at));
        out.truncate(filter.limit);
        Ok(out)
    }

    fn changes_of(&self, id: ItemId, filter: &ChangeFilter, out: &mut Vec<Change>) -> Result<()> {
        let mut taken = 0;
        let mut failure = None;
        self.snapshot.scan_prefix(Cf::Changes, &keys::change_prefix(id), &mut |key, value| {
            let decoded = keys::decode_change(key)
                .map_err(StoreError::from)
                .and_then(|(item, at, _seq)| Ok((item, at, ChangeRecord::decode(value)?)));
            match decoded {
                Err(e) => {
                    failure = Some(e);
                    false
                }
                // Newest first: everything after this is older still.
                Ok((_, at, _)) if at < filter.since => false,
                Ok((item, at, record)) => {
                    let change_type = record.change_type();
                    if filter.types.is_empty() || filter.types.contains(&change_type) {
                        let patch = record.patch();
                        out.push(Change {
                            item,
                            at,
                            change_type,
                            summary: record.summary,
                            source: record.source,
                            patch,
                        });
                        taken += 1;
                    }
                    taken < filter.limit
                }
            }
        })?;
        failure.map_or(Ok(()), Err)
    }

    fn lookup_ids(&self, prefix: &[u8]) -> Result<Vec<ItemId>> {
        let mut ids = Vec::new();
        let mut bad = None;
        self.snapshot.scan_prefix(Cf::Lookup, prefix, &mut |key, _| {
            match keys::lookup_id(key) {
                Ok(id) => ids.push(id),
                Err(e) => bad = Some(e),
            }
            true
        })?;
        match bad {
            Some(e) => Err(e.into()),
            None => Ok(ids),
        }
    }
}
