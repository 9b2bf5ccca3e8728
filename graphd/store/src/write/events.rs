//! Items that report about other items (Kubernetes Events, by the rules' `events:`) become
//! changes of the items they are about: one change per event item and item it is about, placed
//! at the event's first time and rewritten in place when the event is reported again (its
//! count grows), so a repeated event is counted, not duplicated. The change stays when the
//! event item is deleted or purged.

use super::link::LinkRules;
use super::BatchWriter;
use crate::adjacency::EdgeState;
use crate::engine::Snapshot;
use crate::error::Result;
use crate::keys::{self, RelId};
use graphd_core::{ChangeType, ItemId, Timestamp};
use std::collections::{BTreeSet, HashSet};

/// Event changes are keyed by the event item's id in the sequence's place, with this bit set
/// so they never meet a sequence number: reporting an event again rewrites its change.
const EVENT_SEQ: u64 = 1 << 63;

impl<S: Snapshot> BatchWriter<'_, S> {
    /// Records the changes of the event items this batch wrote or linked.
    pub(super) fn record_events(&mut self, rules: &LinkRules) -> Result<()> {
        let about: HashSet<RelId> = rules.event_relations().filter_map(|r| self.writer.names.relation_id(r)).collect();
        if about.is_empty() {
            return Ok(());
        }
        let is_event = |writer: &Self, id: ItemId| {
            let kind = writer.scratch.items.get(&id).and_then(|record| writer.writer.names.kind(record.kind));
            kind.is_some_and(|kind| rules.event_rule(kind.as_str()).is_some())
        };
        let mut events: BTreeSet<ItemId> = self.documents.keys().copied().filter(|&id| is_event(self, id)).collect();
        // Events written earlier whose item arrived in this batch: their edge is new.
        for (out_key, value) in &self.scratch.edges {
            let (from, rel, _) = keys::decode_edge(out_key)?;
            if value.deleted_at.is_none() && about.contains(&rel) {
                events.insert(from);
            }
        }
        for event in events {
            self.record_event(rules, event)?;
        }
        Ok(())
    }

    fn record_event(&mut self, rules: &LinkRules, event: ItemId) -> Result<()> {
        let record = self.item_record(event)?;
        let Some(kind) = self.writer.names.kind(record.kind) else { return Ok(()) };
        let Some(rule) = rules.event_rule(kind.as_str()) else { return Ok(()) };
        let Some(about) = self.writer.names.relation_id(&rule.about) else { return Ok(()) };
        if record.is_deleted() {
            return Ok(());
        }
        let document = self.document(event)?;
        let note = rule.note(&document);
        let at = note.first_seen.unwrap_or(Timestamp(record.created_at));
        for out_key in self.edges_of(event)? {
            let (from, rel, to) = keys::decode_edge(&out_key)?;
            if from == event && rel == about && self.edge_state(&out_key)? == EdgeState::Live {
                self.put_change(to, at, EVENT_SEQ | event.0, ChangeType::Event, note.summary.clone(), None);
            }
        }
        Ok(())
    }
}
