//! Relinking: after the link rules changed, every live item is derived again under the rules
//! set now, so that the graph is the one those rules make from the same items — edges of
//! dropped or changed rules tombstoned, new ones added, waiting references re-indexed.
//!
//! A batch links only the items it changes (and those waiting for them), so without a relink
//! a rule change reaches an old item only when it or its targets next change. The store keeps
//! the fingerprint of the rules its items were last linked by, to tell.
//!
//! Also here, read-only: which references of some items find no target now, by rule.

use crate::cf::Cf;
use crate::codec::ItemRecord;
use crate::engine::{Engine, Snapshot, WriteBatch};
use crate::error::{Result, StoreError};
use crate::keys;
use crate::store::Store;
use crate::write::{BatchWriter, KnownKeys, Outcome, Scratch};
use graphd_core::{ItemId, Timestamp};
use std::collections::BTreeMap;

/// Items derived per batch: the writer is released between batches, so ingest goes on.
pub const RELINK_BATCH: usize = 2_000;

impl<E: Engine> Store<E> {
    /// Whether the stored items were linked by the rules set now. `false` after the rules
    /// changed (or for a store linked before fingerprints were kept) until [`Store::relink`]
    /// has run; `true` without rules.
    pub fn linked_by_current_rules(&self) -> Result<bool> {
        let Some(link) = self.lock_writer().rules.clone() else { return Ok(true) };
        self.holds_fingerprint(link.fingerprint)
    }

    /// Whether the store says its items were last linked by the rules of `fingerprint`.
    pub(crate) fn holds_fingerprint(&self, fingerprint: u64) -> Result<bool> {
        let stored = self.engine().snapshot().get(Cf::Meta, keys::META_RULES_FINGERPRINT)?;
        Ok(stored.as_deref() == Some(fingerprint.to_be_bytes().as_slice()))
    }

    /// Derives every live item again under the rules set now, [`RELINK_BATCH`] items per
    /// atomic batch, telling `progress` (items done, items in all) after each, and then
    /// records that the items are linked by these rules. Without rules it does nothing.
    pub fn relink(&self, at: Timestamp, mut progress: impl FnMut(usize, usize)) -> Result<Outcome> {
        let mut total = Outcome::default();
        let Some(link) = self.lock_writer().rules.clone() else { return Ok(total) };
        let live = self.live_items()?;
        let mut scratch = Scratch::default();
        for (done, chunk) in live.chunks(RELINK_BATCH).enumerate() {
            let mut writer = self.lock_writer();
            let snapshot = self.engine().snapshot();
            let adjacency = self.adjacency();
            let mut known = KnownKeys::of_stored_items();
            let scratch_in = std::mem::take(&mut scratch);
            let built = BatchWriter::new(&snapshot, &adjacency, &mut writer, &mut known, scratch_in, at, "relink")
                .relink(chunk);
            drop(adjacency);
            drop(snapshot);
            let mut built = match built {
                Ok(built) => built,
                Err(err) => {
                    self.rollback(&mut writer)?;
                    return Err(err);
                }
            };
            scratch = std::mem::take(&mut built.scratch);
            self.commit(&mut writer, built.batch, &built.edge_changes)?;
            drop(writer);
            total.add_counts(&built.outcome);
            progress((done * RELINK_BATCH + chunk.len()).min(live.len()), live.len());
        }
        self.record_fingerprint(link.fingerprint)?;
        Ok(total)
    }

    /// By rule, how many references of `sources` find no target now (they wait for an item
    /// that has not arrived, or never will: a ServiceAccount that was never created).
    pub fn waiting_references(&self, sources: &[ItemId]) -> Result<BTreeMap<String, usize>> {
        let mut writer = self.lock_writer();
        let snapshot = self.engine().snapshot();
        let adjacency = self.adjacency();
        BatchWriter::new(
            &snapshot,
            &adjacency,
            &mut writer,
            &mut KnownKeys::of_stored_items(),
            Scratch::default(),
            Timestamp::now(),
            "waiting",
        )
        .waiting(sources)
    }

    /// Notes that the stored items are linked by the rules of `fingerprint`.
    pub(crate) fn record_fingerprint(&self, fingerprint: u64) -> Result<()> {
        let mut writer = self.lock_writer();
        let mut batch = WriteBatch::new();
        batch.put(Cf::Meta, keys::META_RULES_FINGERPRINT, &fingerprint.to_be_bytes());
        self.commit(&mut writer, batch, &[])?;
        if let Some(link) = writer.rules.as_ref().filter(|link| link.fingerprint == fingerprint) {
            link.mark_items_linked();
        }
        Ok(())
    }

    fn live_items(&self) -> Result<Vec<ItemId>> {
        let mut live = Vec::new();
        let mut failure = None;
        self.engine().snapshot().scan_prefix(Cf::Items, &[], &mut |key, value| {
            match (keys::decode_item(key), ItemRecord::peek_deleted(value)) {
                (Ok(id), Ok(false)) => live.push(id),
                (Ok(_), Ok(true)) => {}
                (Err(e), _) => failure = Some(StoreError::from(e)),
                (_, Err(e)) => failure = Some(StoreError::from(e)),
            }
            true
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(live),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemEngine, Op};
    use graphd_core::{ExternalKey, ItemWrite, Kind};

    fn pending_keys(store: &Store<MemEngine>) -> Vec<Vec<u8>> {
        let all = crate::conformance::contents(store).into_iter();
        all.filter(|(cf, ..)| *cf == Cf::Pending).map(|(_, key, _)| key).collect()
    }

    fn kubernetes(kind: &str, uid: &str, name: &str, document: serde_json::Value) -> Op {
        let mut item = ItemWrite::new(ExternalKey::kubernetes("c1", uid), Kind::new(kind).unwrap(), name);
        item.scope.cluster = Some("c1".into());
        item.document = document;
        Op::Upsert(item)
    }

    /// Stores that indexed references with one key per signature (whole, or hashed): a relink
    /// replaces them with the list per source, and a reference that waited still links when
    /// its target arrives.
    #[test]
    fn a_relink_reindexes_references_kept_one_key_per_signature() {
        let rules = r#"
version: 1
rules:
  - name: pod-node
    from: {kind: "Kubernetes::Pod"}
    relation: runs-on
    to: {kind: "Kubernetes::Node", match: name, values: spec.nodeName, scope: cluster}
"#;
        let whole = b"n\x00Kubernetes::Node\x00\x00node-1\x00\x00c1\x00\x00cluster\x00\x00".to_vec();
        for kept in [Some(whole), None] {
            let store = Store::open(MemEngine::new()).unwrap();
            store.set_rules(graphd_rules::load(&[("t.yaml".into(), rules.into())]).unwrap()).unwrap();
            let spec = serde_json::json!({"spec": {"nodeName": "node-1"}});
            store.apply(&[kubernetes("Kubernetes::Pod", "p1", "pod-a", spec)], Timestamp(1), "test").unwrap();
            let indexed = pending_keys(&store);
            assert_eq!(indexed.len(), 2, "the waiting reference, and the source's list: {indexed:02x?}");

            // `r · signature · source` sorts before `s · source`.
            let (signature, source) = (&indexed[0][1..9], &indexed[0][9..]);
            let kept = kept.unwrap_or_else(|| signature.to_vec());
            let mut batch = WriteBatch::new();
            for key in &indexed {
                batch.delete(Cf::Pending, key);
            }
            batch.put(Cf::Pending, &[b"s".as_slice(), source, &kept].concat(), &[]);
            batch.put(Cf::Pending, &[b"r".as_slice(), &kept, source].concat(), &[]);
            store.engine().write(&batch).unwrap();

            store.relink(Timestamp(2), |_, _| {}).unwrap();
            assert_eq!(pending_keys(&store), indexed, "the keys per signature replaced by the list");
            let node = kubernetes("Kubernetes::Node", "n1", "node-1", serde_json::json!({}));
            let outcome = store.apply(&[node], Timestamp(3), "test").unwrap();
            assert_eq!(outcome.edges_added, 1, "the Pod waiting for its Node is linked when it arrives");
        }
    }
}
