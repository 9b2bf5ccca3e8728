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
