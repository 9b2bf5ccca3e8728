//! Whether each item is live or tombstoned, as last read: the start check of a walk without
//! an engine read.
//!
//! Every walk first checks that its start exists and is live. That read (≈ 1 µs on RocksDB)
//! was most of the cost of walks that return a few items. Here each item holds one word: the
//! batch sequence of its last change and, once a reader has read it since, its state.
//!
//! - The writer, staging a batch that writes an item's record, marks the item unknown as of the
//!   batch's sequence.
//! - A reader at sequence `s` trusts a known state recorded as of a sequence `≤ s`. Otherwise
//!   it reads its snapshot and, if its snapshot is at or after the last change, records what it
//!   read: with a compare-and-swap from the exact unknown word it saw, so a change staged in the
//!   meantime wins.
//!
//! Nothing here is ever wrong, only unknown: an item not read since the store opened or since its
//! last change costs a read, as before.

use graphd_core::ItemId;
use std::sync::atomic::{AtomicU64, Ordering};

const UNKNOWN: u64 = 0;
const LIVE: u64 = 1;
const TOMBSTONED: u64 = 2;
const STATE_BITS: u32 = 2;

fn word(seq: u64, state: u64) -> u64 {
    seq << STATE_BITS | state
}

/// What a reader learns from [`Liveness::get`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Known: whether the item is tombstoned.
    Known { tombstoned: bool },
    /// Read the snapshot, then give what it says to [`Liveness::remember`].
    Unknown(Ticket),
    /// Read the snapshot; it is older than the item's last change, so it is not remembered.
    Stale,
}

/// Permission to record a state read from a snapshot, if nothing changed in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    index: usize,
    seen: u64,
}

#[derive(Debug)]
pub struct Liveness {
    words: Vec<AtomicU64>,
    /// The sequence readers may record items at that no batch has written since.
    base: u64,
}

impl Liveness {
    /// Nothing known yet about ids below `ids` (the store's next item id), and readers at
    /// `base` or later may record what they read of them.
    pub fn new(base: u64, ids: u64) -> Liveness {
        let unknown = word(base, UNKNOWN);
        Liveness { words: (0..ids).map(|_| AtomicU64::new(unknown)).collect(), base }
    }

    /// What a reader at `seq` may believe about `id`.
    pub fn get(&self, id: ItemId, seq: u64) -> Seen {
        let index = id.0 as usize;
        let current = self.words.get(index).map_or(word(self.base, UNKNOWN), |w| w.load(Ordering::Acquire));
        let (changed, state) = (current >> STATE_BITS, current & ((1 << STATE_BITS) - 1));
        match state {
            _ if changed > seq => Seen::Stale,
            LIVE => Seen::Known { tombstoned: false },
            TOMBSTONED => Seen::Known { tombstoned: true },
            _ if index < self.words.len() => Seen::Unknown(Ticket { index, seen: current }),
            // Beyond the words: an id no batch has written; the read is the answer.
            _ => Seen::Stale,
        }
    }

    /// The batch that last wrote `id`'s record, or the sequence the store opened at if none
    /// did since.
    pub fn changed_in(&self, id: ItemId) -> u64 {
        self.words.get(id.0 as usize).map_or(self.base, |w| w.load(Ordering::Acquire) >> STATE_BITS)
    }

    /// Records the state a snapshot showed, unless the item changed since the ticket was given.
    pub fn remember(&self, ticket: Ticket, tombstoned: bool) {
        let state = if tombstoned { TOMBSTONED } else { LIVE };
        let known = word(ticket.seen >> STATE_BITS, state);
        // Losing the race to the writer leaves the item unknown, which is always true.
        let _ = self.words[ticket.index].compare_exchange(ticket.seen, known, Ordering::AcqRel, Ordering::Relaxed);
    }

    /// The writer: `ids` change in the batch staged as `seq`.
    pub fn changed(&mut self, ids: impl IntoIterator<Item = ItemId>, seq: u64) {
        for id in ids {
            let index = id.0 as usize;
            if self.words.len() <= index {
                let base = word(self.base, UNKNOWN);
                let len = (index + 1).max(self.words.len() * 5 / 4);
                self.words.resize_with(len, || AtomicU64::new(base));
            }
            *self.words[index].get_mut() = word(seq, UNKNOWN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_read_at_or_after_the_last_change_is_remembered() {
        let mut liveness = Liveness::new(1, 0);
        liveness.changed([ItemId(7)], 5);
        let Seen::Unknown(ticket) = liveness.get(ItemId(7), 5) else { panic!("unknown until read") };
        liveness.remember(ticket, false);
        assert_eq!(liveness.get(ItemId(7), 6), Seen::Known { tombstoned: false });
        assert_eq!(liveness.get(ItemId(7), 4), Seen::Stale, "a reader before the change reads its own snapshot");
    }

    #[test]
    fn a_change_staged_between_read_and_record_wins() {
        let mut liveness = Liveness::new(1, 0);
        liveness.changed([ItemId(3)], 2);
        let Seen::Unknown(ticket) = liveness.get(ItemId(3), 2) else { panic!("unknown until read") };
        liveness.changed([ItemId(3)], 3);
        liveness.remember(ticket, false);
        assert!(matches!(liveness.get(ItemId(3), 3), Seen::Unknown(_)));
        assert_eq!(liveness.get(ItemId(3), 2), Seen::Stale);
    }

    #[test]
    fn items_from_before_the_store_opened_are_learnt_at_the_first_read() {
        let liveness = Liveness::new(1, 10);
        let Seen::Unknown(ticket) = liveness.get(ItemId(9), 1) else { panic!("unknown until read") };
        liveness.remember(ticket, true);
        assert_eq!(liveness.get(ItemId(9), 2), Seen::Known { tombstoned: true });
        assert_eq!(liveness.get(ItemId(10), 2), Seen::Stale, "no item has that id yet");
    }
}
