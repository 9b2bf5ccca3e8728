//! A snapshot with a sorted batch not yet written laid over it: what the engine will hold once
//! the batch lands. A batch is built on this view while the one before it is still being
//! written (see [`crate::Store::apply_all`]).

use crate::cf::Cf;
use crate::engine::{scan_start, within, EngineError, Ops, Snapshot, WriteBatch, WriteOp};
use std::sync::{Mutex, OnceLock, PoisonError};

/// A batch on its way to the engine, put in key order (see [`WriteBatch::sort`]) by the first
/// thread that needs it so: the thread writing it, or the builder of the next batch when it
/// first reads through it. A load's builder thus goes on with the next batch's operations while
/// the writing thread sorts, instead of sorting on the builder's own time.
pub(crate) struct Unwritten {
    /// The batch as built, until a thread sorts it.
    unsorted: Mutex<Option<WriteBatch>>,
    sorted: OnceLock<WriteBatch>,
}

impl Unwritten {
    pub(crate) fn new(batch: WriteBatch) -> Self {
        Unwritten { unsorted: Mutex::new(Some(batch)), sorted: OnceLock::new() }
    }

    /// The batch in key order: sorted now if no thread has sorted it yet, else once that
    /// thread is done.
    pub(crate) fn sorted(&self) -> &WriteBatch {
        self.sorted.get_or_init(|| {
            let unsorted = self.unsorted.lock().unwrap_or_else(PoisonError::into_inner).take();
            let mut batch = unsorted.expect("only the first thread to need the batch sorted takes it");
            batch.sort();
            batch
        })
    }

    /// The batch, sorted or not: its buffers, once it is written, for the next batch to fill.
    pub(crate) fn into_batch(self) -> WriteBatch {
        match self.sorted.into_inner() {
            Some(batch) => batch,
            None => self.unsorted.into_inner().unwrap_or_else(PoisonError::into_inner).unwrap_or_default(),
        }
    }
}

/// `below` as `above` will leave it.
pub(crate) struct Overlaid<'a, S> {
    below: &'a S,
    above: Option<&'a Unwritten>,
    /// The batch's operations by column family, each in key order: found on the first read.
    by_cf: OnceLock<[Ops<'a>; Cf::ALL.len()]>,
}

impl<'a, S: Snapshot> Overlaid<'a, S> {
    pub(crate) fn new(below: &'a S, above: Option<&'a Unwritten>) -> Self {
        Overlaid { below, above, by_cf: OnceLock::new() }
    }

    /// The batch's operations of `cf` on keys starting with `prefix`, from `from` on.
    fn above(&self, cf: Cf, prefix: &[u8], from: &[u8]) -> Ops<'a> {
        let by_cf = self.by_cf.get_or_init(|| {
            let batch = self.above.map(Unwritten::sorted);
            Cf::ALL.map(|cf| batch.map(|batch| batch.of_cf(cf)).unwrap_or_default())
        });
        let ops = by_cf[cf.index()];
        let ops = ops.slice(ops.partition_point(|op| op.key < from), ops.len());
        ops.slice(0, ops.partition_point(|op| within(op.key, prefix)))
    }
}

/// The last operation on the key `ops` starts with (the one that counts), and the rest after
/// every operation on that key.
fn last_of_first_key(ops: Ops<'_>) -> (WriteOp<'_>, Ops<'_>) {
    let key = ops.get(0).key;
    let same = ops.partition_point(|op| op.key == key);
    (ops.get(same - 1), ops.slice(same, ops.len()))
}

/// Keys and values read from the engine, in key order.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Visits, in key order, the entries `below` (in key order) as the operations `above` (sorted)
/// leave them, until `visit` returns `false`; whether it never did.
fn merge(below: &[(Vec<u8>, Vec<u8>)], mut above: Ops<'_>, visit: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> bool {
    let mut below = below.iter().peekable();
    loop {
        let next_below = below.peek().copied().map(|(key, _)| key.as_slice());
        if above.first().is_some_and(|op| next_below.is_none_or(|key| op.key <= key)) {
            // The batch writes the next key: its value, or nothing if it deletes it.
            let (last, rest) = last_of_first_key(above);
            above = rest;
            if next_below == Some(last.key) {
                below.next();
            }
            if last.value.is_some_and(|value| !visit(last.key, value)) {
                return false;
            }
        } else {
            match below.next() {
                None => return true,
                Some((key, value)) if !visit(key, value) => return false,
                Some(_) => {}
            }
        }
    }
}

/// Every entry `scan` visits, copied: the writer's scans are narrow (one item's edges, one
/// namespace's items of a kind), and a copy merges simply with the batch above.
fn collect(
    scan: impl FnOnce(&mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<(), EngineError>,
) -> Result<Entries, EngineError> {
    let mut entries = Vec::new();
    scan(&mut |key, value| {
        entries.push((key.to_vec(), value.to_vec()));
        true
    })?;
    Ok(entries)
}

impl<S: Snapshot> Snapshot for Overlaid<'_, S> {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        let above = self.above(cf, key, key);
        match above.partition_point(|op| op.key == key) {
            0 => self.below.get(cf, key),
            same => Ok(above.get(same - 1).value.map(<[u8]>::to_vec)),
        }
    }

    fn scan(
        &self,
        cf: Cf,
        prefix: &[u8],
        start: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError> {
        let from = scan_start(prefix, start);
        let above = self.above(cf, prefix, from);
        if above.is_empty() {
            return self.below.scan(cf, prefix, start, visit);
        }
        let below = collect(|visit| self.below.scan(cf, prefix, start, visit))?;
        merge(&below, above, visit);
        Ok(())
    }

    fn scan_prefixes(
        &self,
        cf: Cf,
        prefixes: &mut dyn Iterator<Item = &[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError> {
        let prefixes: Vec<&[u8]> = prefixes.collect();
        let below = collect(|visit| self.below.scan_prefixes(cf, &mut prefixes.iter().copied(), visit))?;
        // Below, each prefix's entries follow the previous prefix's.
        let mut below = below.as_slice();
        for prefix in prefixes {
            let (mine, rest) = below.split_at(below.partition_point(|(key, _)| within(key, prefix)));
            below = rest;
            if !merge(mine, self.above(cf, prefix, prefix), visit) {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;
    use crate::mem::MemEngine;
    use proptest::prelude::*;

    /// Short keys over a small alphabet, so that batches and engines share keys and prefixes.
    fn key() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(b'a'..b'd', 1..4)
    }

    fn op() -> impl Strategy<Value = (bool, Vec<u8>, Vec<u8>)> {
        (any::<bool>(), key(), proptest::collection::vec(any::<u8>(), 0..3))
    }

    fn batch_of(ops: &[(bool, Vec<u8>, Vec<u8>)]) -> WriteBatch {
        let mut batch = WriteBatch::new();
        for (put, key, value) in ops {
            match put {
                true => batch.put(Cf::Scope, key, value),
                false => batch.delete(Cf::Scope, key),
            }
        }
        batch
    }

    fn scanned(snapshot: &impl Snapshot, prefix: &[u8], start: Option<&[u8]>, stop_after: usize) -> Vec<Vec<u8>> {
        let mut seen = Vec::new();
        snapshot
            .scan(Cf::Scope, prefix, start, &mut |key, value| {
                seen.push([key, b"=", value].concat());
                seen.len() < stop_after
            })
            .unwrap();
        seen
    }

    proptest! {
        /// Sorting keeps every operation, orders them by column family and key, and keeps the
        /// order of two on one key. Keys share prefixes of every length, shorter and longer
        /// than the part sorting compares first, and hold zero bytes.
        #[test]
        fn sort_is_stable_by_column_family_and_key(
            ops in proptest::collection::vec((0..Cf::ALL.len(), any::<bool>(), 0..30usize, proptest::collection::vec(0u8..3, 0..4), any::<u8>()), 0..40),
        ) {
            let mut batch = WriteBatch::new();
            for (cf, put, shared, tail, value) in &ops {
                let key = [vec![b'a'; *shared], tail.clone()].concat();
                match put {
                    true => batch.put(Cf::ALL[*cf], &key, &[*value]),
                    false => batch.delete(Cf::ALL[*cf], &key),
                }
            }
            let copied = |batch: &WriteBatch| -> Vec<(Cf, Vec<u8>, Option<Vec<u8>>)> {
                batch.ops().iter().map(|op| (op.cf, op.key.to_vec(), op.value.map(<[u8]>::to_vec))).collect()
            };
            let mut expected = copied(&batch);
            expected.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
            batch.sort();
            prop_assert_eq!(copied(&batch), expected);
        }

        /// The view reads exactly what the engine holds once the batch is written.
        #[test]
        fn a_batch_over_a_snapshot_reads_as_written(
            below in proptest::collection::vec(op(), 0..12),
            above in proptest::collection::vec(op(), 0..12),
            prefix in proptest::collection::vec(b'a'..b'd', 0..2),
            start in proptest::option::of(key()),
            stop_after in 1usize..6,
            probes in proptest::collection::vec(key(), 1..6),
        ) {
            let engine = MemEngine::new();
            engine.write(&batch_of(&below)).unwrap();
            let batch = Unwritten::new(batch_of(&above));
            let before = engine.snapshot();
            let view = Overlaid::new(&before, Some(&batch));
            let after = MemEngine::new();
            after.write(&batch_of(&below)).unwrap();
            after.write(batch.sorted()).unwrap();
            let after = after.snapshot();
            for probe in &probes {
                prop_assert_eq!(view.get(Cf::Scope, probe).unwrap(), after.get(Cf::Scope, probe).unwrap());
            }
            for stop in [stop_after, usize::MAX] {
                prop_assert_eq!(
                    scanned(&view, &prefix, start.as_deref(), stop),
                    scanned(&after, &prefix, start.as_deref(), stop)
                );
            }
            // Prefixes that do not prefix each other, in a shuffled order.
            let mut prefixes: Vec<Vec<u8>> = probes.iter().map(|p| vec![p[0], b'a']).collect();
            prefixes.sort();
            prefixes.dedup();
            prefixes.reverse();
            let many = |snapshot: &dyn Snapshot| {
                let mut seen = Vec::new();
                snapshot
                    .scan_prefixes(Cf::Scope, &mut prefixes.iter().map(Vec::as_slice), &mut |key, value| {
                        seen.push([key, b"=", value].concat());
                        seen.len() < stop_after
                    })
                    .unwrap();
                seen
            };
            prop_assert_eq!(many(&view), many(&after));
        }
    }
}
