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
//! signatures no source has referenced yet is waited for by nothing, without a scan.

use crate::codec::ExternalEntry;
use crate::keys::Signature;
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

/// What the writer knows of external keys and indexed references, for one load.
#[derive(Debug)]
pub(crate) struct KnownKeys {
    entries: HashMap<Vec<u8>, ExternalEntry>,
    /// With `complete`: the signature of every reference indexed in the store.
    referenced: HashSet<Signature>,
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
        KnownKeys { entries: HashMap::new(), referenced: HashSet::new(), complete: true }
    }

    /// For a load into a store that may hold items.
    pub(crate) fn of_stored_items() -> Self {
        KnownKeys { entries: HashMap::new(), referenced: HashSet::new(), complete: false }
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
}
