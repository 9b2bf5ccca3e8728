//! External keys and references the writer has seen, kept across the batches of one load.
//!
//! A load of many batches refers to the same items again and again (a Node from every Pod on
//! it, a namespace from everything in it), and each batch used to read those keys from the
//! engine anew. The writer is held for the whole load, so what it read or wrote itself stays
//! true until the load ends: each key is read from the engine at most once per load.
//!
//! A load into an empty store knows every key there is, so a key it has not seen is absent
//! without a read: the bulk of a first import is new items, each of which cost a lookup that
//! had to search every memtable and consult the bloom filter of every table file.
//!
//! Such a load also knows every reference indexed, by signature: an arriving item whose
//! signatures no source has referenced yet is waited for by nothing, without a scan. And it
//! knows which items sit under each prefix of the lookup index that rules look targets up by:
//! on fleet L with documents those scans were a third of planning's time.

use crate::codec::ExternalEntry;
use crate::keys::Signature;
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use graphd_core::ItemId;

/// What the writer knows of external keys and indexed references, for one load.
#[derive(Debug)]
pub(crate) struct KnownKeys {
    entries: HashMap<Vec<u8>, ExternalEntry>,
    /// With `complete`: the signature of every reference indexed in the store.
    referenced: HashSet<Signature>,
    /// With `complete`: by hash of a lookup-index prefix linking may scan, an item under it
    /// (most prefixes have one), and the others in `more_under`. An item renamed stays under
    /// its old prefix too: lookups check what they find.
    under: HashMap<u64, ItemId>,
    more_under: HashMap<u64, Vec<ItemId>>,
    /// Every external key of the store is in `entries`, and every indexed signature in
    /// `referenced`: what is not there does not exist.
    complete: bool,
}

/// The answer for one key.
pub(crate) enum Known {
    Entry(ExternalEntry),
    Absent,
    /// Not seen yet: the engine knows.
    Unknown,
}

impl KnownKeys {
    /// For a load into a store that holds no item yet: every key it will see, it writes.
    pub(crate) fn of_empty_store() -> Self {
        KnownKeys { complete: true, ..KnownKeys::of_stored_items() }
    }

    /// For a load into a store that may hold items.
    pub(crate) fn of_stored_items() -> Self {
        KnownKeys {
            entries: HashMap::new(),
            referenced: HashSet::new(),
            under: HashMap::new(),
            more_under: HashMap::new(),
            complete: false,
        }
    }

    pub(crate) fn get(&self, key: &[u8]) -> Known {
        match self.entries.get(key) {
            Some(entry) => Known::Entry(*entry),
            None if self.complete => Known::Absent,
            None => Known::Unknown,
        }
    }

    /// Records `key`'s entry as read from the engine or as a batch of this load wrote it.
    pub(crate) fn remember(&mut self, key: Vec<u8>, entry: ExternalEntry) {
        self.entries.insert(key, entry);
    }

    /// Whether some source may reference `signature`: `false` only when none can.
    pub(crate) fn may_be_referenced(&self, signature: Signature) -> bool {
        !self.complete || self.referenced.contains(&signature)
    }

    /// Records that a batch of this load indexed a reference under `signature`.
    pub(crate) fn referenced(&mut self, signature: Signature) {
        if self.complete {
            self.referenced.insert(signature);
        }
    }

    /// Whether this load knows every item: [`KnownKeys::under`] answers for what a batch of it
    /// wrote, and [`KnownKeys::put_under`] is worth calling.
    pub(crate) fn is_complete(&self) -> bool {
        self.complete
    }

    /// Records that a batch of this load wrote `id` under the lookup-index prefix `prefix`.
    pub(crate) fn put_under(&mut self, prefix: &[u8], id: ItemId) {
        if !self.complete {
            return;
        }
        let hash = prefix_hash(prefix);
        match self.under.get(&hash) {
            None => drop(self.under.insert(hash, id)),
            Some(&first) if first == id => {}
            Some(_) => {
                let more = self.more_under.entry(hash).or_default();
                if !more.contains(&id) {
                    more.push(id);
                }
            }
        }
    }

    /// The items this load's batches wrote under the lookup-index prefix `prefix` (with some
    /// that no longer are, or that share its hash), when the load knows every item; `None`
    /// when the engine must be scanned.
    pub(crate) fn under(&self, prefix: &[u8]) -> Option<impl Iterator<Item = ItemId> + '_> {
        if !self.complete {
            return None;
        }
        let hash = prefix_hash(prefix);
        let more = self.more_under.get(&hash).into_iter().flatten().copied();
        Some(self.under.get(&hash).copied().into_iter().chain(more))
    }
}

fn prefix_hash(prefix: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(prefix)
}

#[cfg(test)]
mod tests {
    use crate::{MemEngine, Op, Store};
    use graphd_core::{ExternalKey, ItemWrite, Kind, Timestamp};

    /// A lookup by name in a namespace, in the namespace of a source that has none (which looks
    /// at the items without one), in a cluster, anywhere; and by uid.
    const RULES: &str = r#"
version: 1
relations:
  - name: uses
    points: across
rules:
  - name: in-namespace
    from: {kind: "Test::Source"}
    relation: uses
    to: {kind: "Test::Config", match: name, values: spec.config, scope: namespace}
  - name: in-cluster
    from: {kind: "Test::Source"}
    relation: uses
    to: {kind: "Test::Node", match: name, values: spec.node, scope: cluster}
  - name: anywhere
    from: {kind: "Test::Source"}
    relation: uses
    to: {kind: "Test::Global", match: name, values: spec.global, scope: anywhere}
  - name: by-uid
    from: {kind: "Test::Source"}
    relation: uses
    to: {match: uid, values: spec.owner, scope: cluster}
"#;

    fn item(kind: &str, uid: &str, name: &str, namespace: Option<&str>, spec: serde_json::Value) -> Op {
        let mut item = ItemWrite::new(ExternalKey::kubernetes("c1", uid), Kind::new(kind).unwrap(), name);
        item.scope.cluster = Some("c1".into());
        item.namespace = namespace.map(str::to_owned);
        item.document = serde_json::json!({ "spec": spec });
        Op::Upsert(item)
    }

    /// The sources (one in namespace `a`, one without a namespace) and every target each finds:
    /// five edges.
    fn sources_and_targets() -> (Vec<Op>, Vec<Op>) {
        let spec = serde_json::json!({"config": "conf", "node": "node-1", "global": "g", "owner": "u-owner"});
        let sources = vec![
            item("Test::Source", "s1", "in-a", Some("a"), spec.clone()),
            item("Test::Source", "s2", "cluster-wide", None, serde_json::json!({"config": "conf"})),
        ];
        let targets = vec![
            item("Test::Config", "t1", "conf", Some("a"), serde_json::json!({})),
            item("Test::Config", "t2", "conf", None, serde_json::json!({})),
            // Same name, another namespace: found by neither source.
            item("Test::Config", "t3", "conf", Some("b"), serde_json::json!({})),
            item("Test::Node", "t4", "node-1", None, serde_json::json!({})),
            item("Test::Global", "t5", "g", Some("z"), serde_json::json!({})),
            item("Test::Owner", "u-owner", "owner", Some("q"), serde_json::json!({})),
        ];
        (sources, targets)
    }

    /// A load into an empty store finds the targets its earlier batches wrote from what it
    /// remembers of them, not from the engine: exactly what a load into a store that already
    /// held items (which reads the engine) finds, targets first or last.
    #[test]
    fn a_load_finds_what_its_earlier_batches_wrote_under_every_lookup() {
        let rules = || graphd_rules::load(&[("t.yaml".into(), RULES.into())]).unwrap();
        let (sources, targets) = sources_and_targets();
        for (first, second) in [(&targets, &sources), (&sources, &targets)] {
            let mut edges = Vec::new();
            for store_holds_items in [false, true] {
                let store = Store::open(MemEngine::new()).unwrap();
                store.set_rules(rules()).unwrap();
                if store_holds_items {
                    store
                        .apply(&[item("Test::Other", "o", "other", None, serde_json::json!({}))], Timestamp(1), "t")
                        .unwrap();
                }
                let mut added = 0;
                let batches = [(first.as_slice(), Timestamp(2)), (second.as_slice(), Timestamp(3))];
                store.apply_all(batches, "test", |_, outcome| added += outcome.edges_added).unwrap();
                edges.push(added);
            }
            assert_eq!(edges, [5, 5], "edges of a load into an empty store, and into one with items");
        }
    }
}
