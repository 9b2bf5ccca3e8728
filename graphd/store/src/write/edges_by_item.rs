//! The edges a batch changed, listed by each of their ends.

use super::EdgeKey;
use foldhash::HashMap;
use graphd_core::ItemId;

/// Marks the first entry of an item's chain.
const NONE: u32 = u32::MAX;

/// Out-keys listed under items, as one chain per item through one flat list.
///
/// A load's batch lists tens of thousands of items; a vector per item took an allocation
/// each, grown by copying, and a fresh one again for every batch, which the builder paged in
/// (a tenth of a bulk load's CPU). The flat list keeps its capacity from batch to batch.
#[derive(Default)]
pub(crate) struct EdgesByItem {
    /// Each item's last entry in `entries`.
    last: HashMap<ItemId, u32>,
    /// An out-key, and the entry listed before it under the same item ([`NONE`] for the first).
    entries: Vec<(EdgeKey, u32)>,
}

impl EdgesByItem {
    /// Lists `key` under `item`.
    pub(crate) fn push(&mut self, item: ItemId, key: EdgeKey) {
        let index = u32::try_from(self.entries.len()).expect("fewer than 2^32 edge ends in one batch");
        let before = self.last.insert(item, index).unwrap_or(NONE);
        self.entries.push((key, before));
    }

    /// The keys listed under `item`, latest first.
    pub(crate) fn of(&self, item: ItemId) -> impl Iterator<Item = &EdgeKey> + '_ {
        let mut next = self.last.get(&item).copied().unwrap_or(NONE);
        std::iter::from_fn(move || {
            let (key, before) = self.entries.get(usize::try_from(next).ok()?)?;
            next = *before;
            Some(key)
        })
    }

    /// Whether any key is listed under `item`.
    pub(crate) fn contains(&self, item: ItemId) -> bool {
        self.last.contains_key(&item)
    }

    /// Empties the lists, keeping their memory.
    pub(crate) fn clear(&mut self) {
        self.last.clear();
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> EdgeKey {
        [n; crate::keys::EDGE_KEY_LEN]
    }

    #[test]
    fn each_item_lists_its_own_keys_latest_first() {
        let mut lists = EdgesByItem::default();
        lists.push(ItemId(1), key(10));
        lists.push(ItemId(2), key(10));
        lists.push(ItemId(1), key(11));
        lists.push(ItemId(3), key(12));
        lists.push(ItemId(1), key(13));
        assert_eq!(lists.of(ItemId(1)).copied().collect::<Vec<_>>(), vec![key(13), key(11), key(10)]);
        assert_eq!(lists.of(ItemId(2)).copied().collect::<Vec<_>>(), vec![key(10)]);
        assert_eq!(lists.of(ItemId(4)).count(), 0);
        assert!(lists.contains(ItemId(3)) && !lists.contains(ItemId(4)));
    }

    #[test]
    fn cleared_lists_hold_nothing() {
        let mut lists = EdgesByItem::default();
        lists.push(ItemId(1), key(10));
        lists.clear();
        assert_eq!(lists.of(ItemId(1)).count(), 0);
        assert!(!lists.contains(ItemId(1)));
        lists.push(ItemId(2), key(11));
        assert_eq!(lists.of(ItemId(2)).copied().collect::<Vec<_>>(), vec![key(11)]);
    }
}
