//! Building one atomic batch from a list of operations.
//!
//! The builder reads the state before the batch from a snapshot and keeps what the batch has
//! changed so far in an overlay, so that later operations of the same batch see earlier ones
//! (an item created at op 3 can be linked at op 7).

use crate::adjacency::{Adjacency, ChangeKind, EdgeChange, EdgeState};
use crate::cf::Cf;
use crate::codec::{health_to_u8, ChangeRecord, EdgeValue, ExternalEntry, ItemRecord};
use crate::engine::{Snapshot, WriteBatch};
use crate::error::{Result, StoreError};
use crate::keys::{self, KindId, LookupField, ProvenanceId, RelId, ScopeTag, Tomb, ANY_KIND};
use crate::store::WriterState;
use foldhash::{HashMap, HashMapExt, HashSet};
use graphd_core::{Change, ChangeType, EdgeWrite, ExternalKey, Health, ItemId, ItemWrite, Timestamp};
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::BTreeSet;

/// One operation of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Create or update an item; a tombstoned item reported again is restored.
    Upsert(ItemWrite),
    /// Tombstone an item and every edge touching it.
    Delete(ExternalKey),
    /// Assert an edge; both ends must exist and be alive.
    Link(EdgeWrite),
    /// Tombstone an edge (if it is there).
    Unlink(EdgeWrite),
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub restored: usize,
    pub deleted: usize,
    pub edges_added: usize,
    pub edges_removed: usize,
    /// Source items a rule could not read (a malformed selector): counted, and skipped.
    pub rule_problems: usize,
    /// The id of each `Upsert`, in order.
    pub upserted: Vec<ItemId>,
}

impl Outcome {
    /// Adds the counts of `batch` to these: a total over many batches (which keeps no ids).
    pub fn add_counts(&mut self, batch: &Outcome) {
        self.created += batch.created;
        self.updated += batch.updated;
        self.unchanged += batch.unchanged;
        self.restored += batch.restored;
        self.deleted += batch.deleted;
        self.edges_added += batch.edges_added;
        self.edges_removed += batch.edges_removed;
        self.rule_problems += batch.rule_problems;
    }
}

mod events;
mod known;
mod link;
mod plans;

use known::Known;
pub(crate) use known::KnownKeys;

pub(crate) use link::LinkRules;

type EdgeKey = [u8; keys::EDGE_KEY_LEN];

/// Below this many documents a batch serialises them on its own thread: waking the pool costs
/// more than a few (an incremental update has one).
const SERIALISE_IN_PARALLEL_FROM: usize = 16;

/// An upsert's document as stored, and the item's content hash (see
/// [`BatchWriter::prepare_documents`]).
struct PreparedDocument {
    json: Vec<u8>,
    hash: u64,
}

pub(crate) struct BatchWriter<'a, S> {
    snapshot: &'a S,
    /// Every committed edge: existence checks without reading the engine.
    adjacency: &'a Adjacency,
    writer: &'a mut WriterState,
    at: Timestamp,
    source: &'a str,
    batch: WriteBatch,
    /// External keys read or written by this load's earlier batches (entries in the batch's
    /// own `ext` take precedence), and the references they indexed.
    known: &'a mut KnownKeys,
    /// What the batch changed and read so far.
    scratch: Scratch,
    /// With rules: the documents this batch wrote.
    documents: HashMap<ItemId, &'a serde_json::Value>,
    /// With rules: the stored documents of the items this batch updated, as they were before
    /// (parsed for their change records), to plan from: kept while the batch is built, as the
    /// caller keeps the new ones.
    documents_before: HashMap<ItemId, serde_json::Value>,
    outcome: Outcome,
    /// The changes this batch records, for the store's change listener (empty without one).
    feed: Vec<Change>,
}

/// A built batch: what to write, how the adjacency changes, what it did, and its changes.
pub(crate) struct Built {
    pub batch: WriteBatch,
    pub edge_changes: Vec<EdgeChange>,
    pub outcome: Outcome,
    pub feed: Vec<Change>,
    /// The builder's maps, emptied, for the next batch of the same load.
    pub scratch: Scratch,
}

/// The maps a [`BatchWriter`] fills while it builds a batch, handed empty to the builder of
/// the next batch of a load: a load's batches are alike, and maps grown afresh for each one
/// rehashed their way up and took fresh memory from the system each time, which the builder
/// then paged in (page faults were a sixth to a quarter of its samples on fleet L).
#[derive(Default)]
pub(crate) struct Scratch {
    /// Items changed by this batch, written out at the end.
    items: HashMap<ItemId, ItemRecord>,
    /// External keys this batch created, deleted or restored.
    ext: HashMap<Vec<u8>, ExternalEntry>,
    /// Items created by this batch: none of their edges can exist on disk yet.
    fresh: HashSet<ItemId>,
    /// Edges changed by this batch, by out-key, written both ways at the end.
    edges: HashMap<EdgeKey, EdgeValue>,
    /// The keys of `edges`, by each of their ends.
    edges_by_item: HashMap<ItemId, Vec<EdgeKey>>,
    /// Stored values of the edges of items this batch deletes, read ahead of tombstoning them.
    read_edges: HashMap<EdgeKey, EdgeValue>,
    /// Kinds of the ends of changed edges: each copy of an edge stores its far end's kind.
    kinds: HashMap<ItemId, KindId>,
    /// With rules: every item this batch upserted or deleted, with the record its edges were
    /// linked by: as stored before the batch, none once the batch deleted it (or if it is new).
    touched: HashMap<ItemId, Option<ItemRecord>>,
    /// With rules: the targets linking found, by reference (see `link::Lookups`).
    found_targets: HashMap<Vec<u8>, link::Targets>,
    /// The operations and bytes of the last batch built with these maps: the next one reserves
    /// as much at once. Grown by doubling, a load's batch of many megabytes was copied at
    /// each step and paged in fresh memory each time.
    last_batch: (usize, usize),
    /// An emptied batch whose buffers the next one fills (see [`WriteBatch::clear`]).
    spare_batch: WriteBatch,
}

impl Scratch {
    fn cleared(mut self) -> Self {
        self.items.clear();
        self.ext.clear();
        self.fresh.clear();
        self.edges.clear();
        self.edges_by_item.clear();
        self.read_edges.clear();
        self.kinds.clear();
        self.touched.clear();
        self.found_targets.clear();
        self
    }

    /// Keeps `batch`, written, for the buffers of the next batch built with these maps.
    pub(crate) fn recycle(&mut self, mut batch: WriteBatch) {
        batch.clear();
        self.spare_batch = batch;
    }
}

impl<'a, S: Snapshot> BatchWriter<'a, S> {
    pub(crate) fn new(
        snapshot: &'a S,
        adjacency: &'a Adjacency,
        writer: &'a mut WriterState,
        known: &'a mut KnownKeys,
        mut scratch: Scratch,
        at: Timestamp,
        source: &'a str,
    ) -> Self {
        let mut batch = std::mem::take(&mut scratch.spare_batch);
        // The slack takes what is added after the operations counted, such as the counters a
        // batch ends with, without a copy of the whole buffer to grow it.
        let (ops, bytes) = scratch.last_batch;
        batch.reserve(ops + ops / 8, bytes + bytes / 8);
        BatchWriter {
            snapshot,
            adjacency,
            writer,
            at,
            source,
            batch,
            known,
            scratch,
            documents: HashMap::new(),
            documents_before: HashMap::new(),
            outcome: Outcome::default(),
            feed: Vec::new(),
        }
    }

    pub(crate) fn run(mut self, ops: &'a [Op]) -> Result<Built> {
        let mut prepared = self.prepare_documents(ops)?.into_iter();
        for (index, op) in ops.iter().enumerate() {
            let result = match op {
                Op::Upsert(item) => self.upsert(item, prepared.next().expect("one for each upsert")),
                Op::Delete(key) => self.delete(key),
                Op::Link(edge) => self.link(edge),
                Op::Unlink(edge) => self.unlink(edge),
            };
            result.map_err(|e| e.at(index))?;
        }
        if let Some(rules) = self.writer.rules.clone() {
            self.link_by_rules(&rules)?;
            self.record_events(&rules)?;
        }
        Ok(self.finish())
    }

    fn finish(mut self) -> Built {
        if let (Some(link), true) = (&self.writer.rules, self.known.is_complete()) {
            for (&id, record) in &self.scratch.items {
                link::remember_lookups(self.known, &self.writer.names, link, id, record);
            }
        }
        let ops = self.scratch.items.len() + self.scratch.ext.len() + 2 * self.scratch.edges.len();
        // An estimate of the bytes: items' records and keys, and edges' (with a rule's name).
        self.batch.reserve(
            ops,
            200 * self.scratch.items.len() + 120 * self.scratch.ext.len() + 2 * 60 * self.scratch.edges.len(),
        );
        for (id, record) in self.scratch.items.drain() {
            self.batch.put_with(Cf::Items, &keys::item(id), |out| record.encode_into(out));
        }
        for (key, entry) in self.scratch.ext.drain() {
            self.batch.put_with(Cf::ExternalKeys, &key, |out| entry.encode_into(out));
            self.known.remember(key, entry);
        }
        let mut changes = Vec::with_capacity(self.scratch.edges.len());
        for (out_key, value) in self.scratch.edges.drain() {
            let (from, rel, to) = keys::decode_edge(&out_key).expect("built by keys::edge");
            let from_kind = self.scratch.kinds[&from];
            let kind = if value.deleted_at.is_none() { ChangeKind::Live } else { ChangeKind::Tombstoned };
            changes.push(EdgeChange { from, rel, to, from_kind, to_kind: value.far_kind, kind });
            self.batch.put_with(Cf::EdgesOut, &out_key, |out| value.encode_into(out));
            let in_value = EdgeValue { far_kind: from_kind, ..value };
            self.batch.put_with(Cf::EdgesIn, &keys::edge(to, rel, from), |out| in_value.encode_into(out));
        }
        self.scratch.last_batch = (self.batch.len(), self.batch.data_len());
        Built {
            batch: self.batch,
            edge_changes: changes,
            outcome: self.outcome,
            feed: self.feed,
            scratch: self.scratch.cleared(),
        }
    }

    // ---- items ------------------------------------------------------------------------------

    fn upsert(&mut self, write: &'a ItemWrite, prepared: PreparedDocument) -> Result<()> {
        write.key.validate().map_err(|reason| StoreError::InvalidKey { key: write.key.clone(), reason })?;
        let kind = self.writer.names.intern_kind(&write.kind, &mut self.batch);
        let ext_key = keys::external(&write.key);
        let PreparedDocument { json: document, hash } = prepared;
        let Some(entry) = self.find(&ext_key)? else {
            let id = ItemId(self.writer.next_id);
            self.writer.next_id += 1;
            let mut record = record_from(write, ext_key.clone(), kind, hash, self.at);
            self.assess(write, &mut record);
            for (cf, key) in index_keys(id, &record) {
                self.batch.put(cf, &key, &[]);
            }
            if !write.document.is_null() {
                self.put_document(id, write, document);
            }
            self.record_change(id, ChangeType::Created, format!("created {} {}", write.kind, write.name));
            self.scratch.ext.insert(ext_key, ExternalEntry { id, kind, deleted: false });
            self.remember(id, None, write);
            self.scratch.fresh.insert(id);
            self.scratch.items.insert(id, record);
            self.outcome.created += 1;
            self.outcome.upserted.push(id);
            return Ok(());
        };
        let id = entry.id;
        let old = self.item_record(id)?.into_owned();
        if old.kind != kind {
            let names = &self.writer.names;
            return Err(StoreError::KindChanged {
                key: write.key.clone(),
                existing: names.kind(old.kind).cloned().ok_or_else(|| corrupt_kind(old.kind))?,
                requested: write.kind.clone(),
            });
        }
        self.outcome.upserted.push(id);
        if old.content_hash == hash && !old.is_deleted() {
            self.outcome.unchanged += 1;
            return Ok(());
        }
        let mut record = record_from(write, ext_key.clone(), kind, hash, self.at);
        self.assess(write, &mut record);
        record.created_at = old.created_at;
        self.remember(id, Some(&old), write);
        let (old_index, new_index) = (index_keys(id, &old), index_keys(id, &record));
        for (cf, key) in old_index.iter().filter(|entry| !new_index.contains(entry)) {
            self.batch.delete(*cf, key);
        }
        for (cf, key) in new_index.iter().filter(|entry| !old_index.contains(entry)) {
            self.batch.put(*cf, key, &[]);
        }
        self.put_document(id, write, document);
        if let Some(deleted_at) = old.deleted_at {
            self.batch.delete(Cf::Meta, &keys::tomb(Timestamp(deleted_at), Tomb::Item(id)));
            self.scratch.ext.insert(ext_key, ExternalEntry { id, kind, deleted: false });
            self.record_change(id, ChangeType::Restored, format!("restored {} {}", write.kind, write.name));
            self.outcome.restored += 1;
        } else {
            let before = self.stored_document(id)?;
            let patch = serde_json::Value::Array(graphd_core::patch::diff(&before, &write.document));
            let summary = format!("updated {} {}", write.kind, write.name);
            self.record_change_with(id, ChangeType::Updated, summary, Some(patch));
            if old.health != record.health {
                let summary = format!("health {} → {}", old.health(), record.health());
                self.record_change(id, ChangeType::HealthChanged, summary);
            }
            for (change_type, summary) in self.kind_changes(write, &before) {
                self.record_change(id, change_type, summary);
            }
            if self.writer.rules.is_some() {
                self.documents_before.entry(id).or_insert(before);
            }
            self.outcome.updated += 1;
        }
        self.scratch.items.insert(id, record);
        Ok(())
    }

    fn delete(&mut self, key: &ExternalKey) -> Result<()> {
        let ext_key = keys::external(key);
        let entry = self.find(&ext_key)?.ok_or_else(|| StoreError::UnknownKey(key.clone()))?;
        if entry.deleted {
            return Ok(());
        }
        let id = entry.id;
        let mut record = self.item_record(id)?.into_owned();
        if self.writer.rules.is_some() {
            // Its edges go with it: if the batch brings it back, it is linked as a new item.
            self.scratch.touched.insert(id, None);
        }
        self.scratch.ext.insert(ext_key, ExternalEntry { deleted: true, ..entry });
        record.deleted_at = Some(self.at.0);
        self.batch.put(Cf::Meta, &keys::tomb(self.at, Tomb::Item(id)), &[]);
        // Why it went, where the item says so (a resync says so in the change's source).
        let summary = match record.status.as_str() {
            "Evicted" => format!("deleted {} (evicted)", record.name),
            _ => format!("deleted {}", record.name),
        };
        let kind = record.kind;
        self.scratch.items.insert(id, record);
        self.record_change(id, ChangeType::Deleted, summary);
        let edges = self.edges_of(id)?;
        if !edges.is_empty() {
            self.read_edges_of(id, kind)?;
        }
        for out_key in edges {
            self.tombstone_edge(out_key)?;
        }
        self.outcome.deleted += 1;
        Ok(())
    }

    /// The changes the rules' change rules see between the document `before` (as stored before
    /// the batch) and the one `write` brings.
    fn kind_changes(&self, write: &ItemWrite, before: &serde_json::Value) -> Vec<(ChangeType, String)> {
        match &self.writer.rules {
            Some(rules) => rules.changes_between(write.kind.as_str(), before, &write.document),
            None => Vec::new(),
        }
    }

    /// An item written without health or status gets them, and its readiness, from the health
    /// rules of the rule set, if one applies to its kind.
    fn assess(&self, write: &ItemWrite, record: &mut ItemRecord) {
        if write.health != Health::Unknown || !write.status.is_empty() {
            return;
        }
        let Some(rules) = &self.writer.rules else { return };
        if let Some(assessment) = rules.assess(write.kind.as_str(), &write.document, self.at) {
            record.health = health_to_u8(assessment.health);
            record.status = assessment.status;
            record.ready = assessment.ready;
        }
    }

    /// With rules, notes what linking after the batch needs: the record before the batch (the
    /// first time the item is touched) and the new document.
    fn remember(&mut self, id: ItemId, before: Option<&ItemRecord>, write: &'a ItemWrite) {
        if self.writer.rules.is_some() {
            self.scratch.touched.entry(id).or_insert_with(|| before.cloned());
            self.documents.insert(id, &write.document);
        }
    }

    /// What each upsert of `ops` stores of its document, worked out ahead of the operations:
    /// on rayon's pool when many carry one. Serialising the documents of a batch of Kubernetes
    /// objects, twice where they have volatile fields, was a fifth of building it.
    fn prepare_documents(&self, ops: &[Op]) -> Result<Vec<PreparedDocument>> {
        let writes: Vec<&ItemWrite> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Upsert(write) => Some(write),
                _ => None,
            })
            .collect();
        let documented = writes.iter().filter(|write| !write.document.is_null()).count();
        in_order(&writes, documented >= SERIALISE_IN_PARALLEL_FROM, |write| Ok(self.prepare_document(write)))
    }

    /// The document's JSON, and the item's content hash: of the document without its volatile
    /// fields where it has some, so that a heartbeat alone is no change.
    fn prepare_document(&self, write: &ItemWrite) -> PreparedDocument {
        let Some(rules) = &self.writer.rules else {
            let json = write.document_json();
            return PreparedDocument { hash: write.content_hash_with(&json), json };
        };
        let mut stable = Vec::new();
        let left_out = rules.stable_json(write.kind.as_str(), &write.document, &mut stable);
        let hash = write.content_hash_with(&stable);
        // With nothing left out, the stable copy is the whole document.
        let json = if left_out { write.document_json() } else { stable };
        PreparedDocument { json, hash }
    }

    /// Stores the document's JSON (`json`, already serialised for the content hash).
    fn put_document(&mut self, id: ItemId, write: &ItemWrite, json: Vec<u8>) {
        if write.document.is_null() {
            self.batch.delete(Cf::Documents, &keys::item(id));
        } else {
            self.batch.put(Cf::Documents, &keys::item(id), &json);
        }
    }

    fn record_change(&mut self, id: ItemId, change_type: ChangeType, summary: String) {
        self.record_change_with(id, change_type, summary, None);
    }

    /// [`Self::record_change`] with the JSON Patch an update made.
    fn record_change_with(
        &mut self,
        id: ItemId,
        change_type: ChangeType,
        summary: String,
        patch: Option<serde_json::Value>,
    ) {
        let seq = self.writer.next_seq;
        self.writer.next_seq += 1;
        self.put_change(id, self.at, seq, change_type, summary, patch);
    }

    /// Writes a change of `id` at `at`; `seq` orders changes of one time (and an existing
    /// change with the same three is replaced).
    fn put_change(
        &mut self,
        id: ItemId,
        at: Timestamp,
        seq: u64,
        change_type: ChangeType,
        summary: String,
        patch: Option<serde_json::Value>,
    ) {
        let record = ChangeRecord {
            patch: patch.as_ref().map(ToString::to_string),
            ..ChangeRecord::new(change_type, summary, self.source.to_owned())
        };
        self.batch.put_with(Cf::Changes, &keys::change(id, at, seq), |out| record.encode_into(out));
        if self.writer.listener.is_some() {
            self.feed.push(Change { item: id, at, change_type, summary: record.summary, source: record.source, patch });
        }
    }

    fn find(&mut self, ext_key: &[u8]) -> Result<Option<ExternalEntry>> {
        if let Some(entry) = self.scratch.ext.get(ext_key) {
            return Ok(Some(*entry));
        }
        match self.known.get(ext_key) {
            Known::Entry(entry) => return Ok(Some(entry)),
            Known::Absent => return Ok(None),
            Known::Unknown => {}
        }
        match self.snapshot.get(Cf::ExternalKeys, ext_key)? {
            None => Ok(None),
            Some(bytes) => {
                let entry = ExternalEntry::decode(&bytes)?;
                self.known.remember(ext_key.to_vec(), entry);
                Ok(Some(entry))
            }
        }
    }

    /// The record of `id` as this batch left it, or as stored: borrowed where the batch
    /// changed it (target lookups read many records they only compare).
    fn item_record(&self, id: ItemId) -> Result<Cow<'_, ItemRecord>> {
        if let Some(record) = self.scratch.items.get(&id) {
            return Ok(Cow::Borrowed(record));
        }
        let bytes = self.snapshot.get(Cf::Items, &keys::item(id))?.ok_or(StoreError::UnknownId(id))?;
        Ok(Cow::Owned(ItemRecord::decode(&bytes)?))
    }

    // ---- edges ------------------------------------------------------------------------------

    fn link(&mut self, edge: &EdgeWrite) -> Result<()> {
        let (from, rel, to) = self.resolve_edge(edge)?;
        for (entry, key) in [(&from, &edge.from), (&to, &edge.to)] {
            if entry.deleted {
                return Err(StoreError::ItemDeleted(key.clone()));
            }
        }
        let provenance = self.writer.names.intern_provenance(&edge.provenance, &mut self.batch);
        self.add_edge((from.id, from.kind), rel, (to.id, to.kind), provenance)
    }

    /// Adds (or revives) the edge `from → to`; a live edge is left as it is.
    fn add_edge(
        &mut self,
        from: (ItemId, KindId),
        rel: RelId,
        to: (ItemId, KindId),
        provenance: ProvenanceId,
    ) -> Result<()> {
        let ((from, from_kind), (to, to_kind)) = (from, to);
        let out_key = keys::edge(from, rel, to);
        match self.edge_state(&out_key)? {
            EdgeState::Live => return Ok(()),
            EdgeState::Tombstoned => {
                let existing = self.edge_value(&out_key)?.ok_or_else(|| corrupt_edge(&out_key))?;
                let deleted_at = existing.deleted_at.ok_or_else(|| corrupt_edge(&out_key))?;
                self.batch.delete(Cf::Meta, &keys::tomb(deleted_at, Tomb::Edge(from, rel, to)));
            }
            EdgeState::Absent => {}
        }
        let value = EdgeValue { deleted_at: None, far_kind: to_kind, created_at: self.at, provenance };
        self.scratch.kinds.insert(from, from_kind);
        self.scratch.kinds.insert(to, to_kind);
        self.put_edge(out_key, value);
        self.outcome.edges_added += 1;
        Ok(())
    }

    fn unlink(&mut self, edge: &EdgeWrite) -> Result<()> {
        let (from, rel, to) = self.resolve_edge(edge)?;
        self.tombstone_edge(keys::edge(from.id, rel, to.id))
    }

    fn resolve_edge(&mut self, edge: &EdgeWrite) -> Result<(ExternalEntry, RelId, ExternalEntry)> {
        let rel = self
            .writer
            .names
            .relation_id(&edge.relation)
            .ok_or_else(|| graphd_core::RelationError::Unknown(edge.relation.clone()))?;
        let from = self.find_key(&edge.from)?;
        Ok((from, rel, self.find_key(&edge.to)?))
    }

    /// The entry of an external key that must exist.
    fn find_key(&mut self, key: &ExternalKey) -> Result<ExternalEntry> {
        self.find(&keys::external(key))?.ok_or_else(|| StoreError::UnknownKey(key.clone()))
    }

    fn tombstone_edge(&mut self, out_key: EdgeKey) -> Result<()> {
        let (from, rel, to) = keys::decode_edge(&out_key)?;
        if self.edge_state(&out_key)? != EdgeState::Live {
            return Ok(());
        }
        let mut value = self.edge_value(&out_key)?.ok_or_else(|| corrupt_edge(&out_key))?;
        value.deleted_at = Some(self.at);
        self.batch.put(Cf::Meta, &keys::tomb(self.at, Tomb::Edge(from, rel, to)), &[]);
        if !self.scratch.kinds.contains_key(&from) {
            let kind = self.item_record(from)?.kind;
            self.scratch.kinds.insert(from, kind);
        }
        self.scratch.kinds.insert(to, value.far_kind);
        self.put_edge(out_key, value);
        self.outcome.edges_removed += 1;
        Ok(())
    }

    fn put_edge(&mut self, out_key: EdgeKey, value: EdgeValue) {
        if self.scratch.edges.insert(out_key, value).is_none() {
            let (from, _, to) = keys::decode_edge(&out_key).expect("built by keys::edge");
            self.scratch.edges_by_item.entry(from).or_default().push(out_key);
            self.scratch.edges_by_item.entry(to).or_default().push(out_key);
        }
    }

    /// Whether an edge exists, from this batch's changes or the adjacency: no engine read.
    fn edge_state(&self, out_key: &EdgeKey) -> Result<EdgeState> {
        if let Some(value) = self.scratch.edges.get(out_key) {
            return Ok(if value.deleted_at.is_none() { EdgeState::Live } else { EdgeState::Tombstoned });
        }
        let (from, rel, to) = keys::decode_edge(out_key)?;
        if self.scratch.fresh.contains(&from) || self.scratch.fresh.contains(&to) {
            return Ok(EdgeState::Absent);
        }
        Ok(self.adjacency.state(from, rel, to))
    }

    /// The stored value of an edge the batch knows exists.
    fn edge_value(&self, out_key: &EdgeKey) -> Result<Option<EdgeValue>> {
        if let Some(value) = self.scratch.edges.get(out_key).or_else(|| self.scratch.read_edges.get(out_key)) {
            return Ok(Some(*value));
        }
        match self.snapshot.get(Cf::EdgesOut, out_key)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(EdgeValue::decode(&bytes)?)),
        }
    }

    /// Reads the stored value of every edge of `id` (an item of `kind`), with one scan per
    /// direction, and the kinds of its neighbours from the incoming copies: the values a delete
    /// needs to tombstone them, for which one lookup per edge (and one more per neighbour for
    /// its kind) cost several times as much.
    fn read_edges_of(&mut self, id: ItemId, kind: KindId) -> Result<()> {
        self.scratch.kinds.insert(id, kind);
        for StoredEdge { outgoing, far, out_key, mut value } in self.stored_edges_of(id)? {
            if !outgoing {
                // The incoming copy keeps the kind of the edge's source; the outgoing one, of `id`.
                self.scratch.kinds.insert(far, value.far_kind);
                value.far_kind = kind;
            }
            self.scratch.read_edges.insert(out_key, value);
        }
        Ok(())
    }

    /// Every edge of `id` stored before this batch, both ways, by out-key, each with the copy
    /// read from `id`'s side: one scan per direction.
    fn stored_edges_of(&self, id: ItemId) -> Result<Vec<StoredEdge>> {
        let mut stored = Vec::new();
        for (cf, outgoing) in [(Cf::EdgesOut, true), (Cf::EdgesIn, false)] {
            let mut read = Vec::new();
            self.snapshot.scan_prefix(cf, &keys::edge_prefix(id), &mut |key, value| {
                read.push((keys::decode_edge(key), EdgeValue::decode(value)));
                true
            })?;
            for (key, value) in read {
                let ((near, rel, far), value) = (key?, value?);
                let out_key = if outgoing { keys::edge(near, rel, far) } else { keys::edge(far, rel, near) };
                stored.push(StoredEdge { outgoing, far, out_key, value });
            }
        }
        Ok(stored)
    }

    /// Out-keys of every live edge touching `id`, committed or in this batch, each once.
    fn edges_of(&self, id: ItemId) -> Result<BTreeSet<EdgeKey>> {
        self.edges_of_to(id, |_| true)
    }

    /// [`Self::edges_of`] `id` whose far end `wanted` chooses: only those are encoded.
    fn edges_of_to(&self, id: ItemId, wanted: impl Fn(ItemId) -> bool) -> Result<BTreeSet<EdgeKey>> {
        let far = |from: ItemId, to: ItemId| if from == id { to } else { from };
        let committed = self.adjacency.live_edges_of(id).filter(|&(from, _, to)| wanted(far(from, to)));
        let mut found: BTreeSet<EdgeKey> = committed.map(|(from, rel, to)| keys::edge(from, rel, to)).collect();
        for key in self.scratch.edges_by_item.get(&id).into_iter().flatten() {
            let (from, _, to) = keys::decode_edge(key)?;
            if wanted(far(from, to)) {
                found.insert(*key);
            }
        }
        Ok(found)
    }
}

/// An edge as stored, read from one of its ends.
struct StoredEdge {
    /// Read from the edge's source (its outgoing copy), else from its target.
    outgoing: bool,
    /// The end it was not read from.
    far: ItemId,
    out_key: EdgeKey,
    /// The copy read: its `far_kind` is the kind of the other end.
    value: EdgeValue,
}

fn corrupt_edge(out_key: &EdgeKey) -> StoreError {
    StoreError::Corrupt(format!("edge {out_key:02x?} is in the adjacency but not on disk"))
}

fn corrupt_kind(id: KindId) -> StoreError {
    StoreError::Corrupt(format!("kind id {id} has no name"))
}

/// `work` done on each of `items`, its results in their order: on rayon's pool `in_parallel`,
/// else on this thread (waking the pool costs more than a little work). An error stops it.
fn in_order<T: Sync, R: Send>(
    items: &[T],
    in_parallel: bool,
    work: impl Fn(&T) -> Result<R> + Sync + Send,
) -> Result<Vec<R>> {
    match in_parallel {
        true => items.par_iter().map(work).collect(),
        false => items.iter().map(work).collect(),
    }
}

fn record_from(write: &ItemWrite, key: Vec<u8>, kind: KindId, hash: u64, at: Timestamp) -> ItemRecord {
    ItemRecord {
        key,
        kind,
        name: write.name.clone(),
        namespace: write.namespace.clone(),
        cluster: write.scope.cluster.clone(),
        account: write.scope.account.clone(),
        region: write.scope.region.clone(),
        labels: write.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        health: health_to_u8(write.health),
        status: write.status.clone(),
        ready: write.ready,
        created_at: write.created_at.unwrap_or(at).0,
        updated_at: at.0,
        deleted_at: None,
        content_hash: hash,
    }
}

/// Every scope and lookup entry of an item, each once (they differ in their scope tag or
/// lookup field). Tombstoned items keep theirs, so that `include_deleted` lists and lookups
/// find them.
pub(crate) fn index_keys(id: ItemId, record: &ItemRecord) -> Vec<(Cf, Vec<u8>)> {
    let kind = record.kind;
    let cluster = record.cluster.as_deref().unwrap_or_default();
    let namespace = record.namespace.as_deref().unwrap_or_default();
    let mut out = Vec::with_capacity(7);
    out.push((Cf::Scope, keys::scope(ScopeTag::All, &[], kind, id)));
    let tags = [
        (ScopeTag::Cluster, &record.cluster),
        (ScopeTag::Account, &record.account),
        (ScopeTag::Region, &record.region),
    ];
    for (tag, value) in tags {
        if let Some(value) = value {
            out.push((Cf::Scope, keys::scope(tag, &[value], kind, id)));
        }
    }
    if record.namespace.is_some() {
        out.push((Cf::Scope, keys::scope(ScopeTag::Namespace, &[cluster, namespace], kind, id)));
    }
    let natural = [record.name.as_str(), cluster, namespace];
    out.push((Cf::Lookup, keys::lookup(kind, LookupField::NaturalName, &natural, id)));
    if let Ok(short_id) = keys::external_short_id(&record.key) {
        out.push((Cf::Lookup, keys::lookup(ANY_KIND, LookupField::ShortId, &[&short_id], id)));
    }
    out
}
